//! `/openapi.json` and `/api-docs`, the reference page people read: plain HTML rendered on
//! the server from the same document, with the portal's stylesheet and nothing fetched elsewhere.

use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse};
use axum::Json;
use serde_json::Value;
use std::fmt::Write;

pub async fn openapi_json() -> impl IntoResponse {
    Json(super::openapi::document())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .trim_start_matches("#/")
            .split('/')
            .fold(document, |node, key| &node[key]),
        None => value,
    }
}

fn schema_name(value: &Value) -> String {
    value["content"]
        .as_object()
        .and_then(|content| content.values().next())
        .and_then(|media| media["schema"]["$ref"].as_str())
        .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
        .unwrap_or_default()
}

pub async fn page() -> impl IntoResponse {
    let document = super::openapi::document();
    let mut body = String::new();
    let mount = document["servers"][0]["url"].as_str().unwrap_or_default();
    let _ = write!(
        body,
        "<h1>{}</h1><p class=\"lead\">{}</p><p>Base path <code>{mount}</code>; every operation needs \
         <code>api-version={}</code> and <code>Authorization: Bearer &lt;token&gt;</code>. \
         Machine-readable: <a href=\"/openapi.json\">/openapi.json</a>.</p>",
        escape(document["info"]["title"].as_str().unwrap_or_default()),
        escape(document["info"]["description"].as_str().unwrap_or_default()),
        escape(document["info"]["version"].as_str().unwrap_or_default()),
    );
    body.push_str("<section class=\"operation\"><h2>Error codes</h2><p>Errors answer <code>{\"error\": {code, message, target, details}}</code> with the code in <code>x-ms-error-code</code>.</p><table><thead><tr><th>code</th><th>status</th><th>meaning</th></tr></thead><tbody>");
    for (code, status, meaning) in super::error::ERROR_CODES {
        let _ = write!(
            body,
            "<tr><td><code>{code}</code></td><td>{status}</td><td>{}</td></tr>",
            escape(meaning)
        );
    }
    body.push_str("</tbody></table></section>");
    for (path, methods) in document["paths"].as_object().into_iter().flatten() {
        for (method, op) in methods.as_object().into_iter().flatten() {
            let _ = write!(
                body,
                "<section class=\"operation\"><h2><span class=\"method\">{}</span> <code>{}</code></h2><p>{} — {}</p>",
                method.to_uppercase(),
                escape(path),
                escape(op["summary"].as_str().unwrap_or_default()),
                escape(op["description"].as_str().unwrap_or_default()),
            );
            body.push_str("<table><thead><tr><th>parameter</th><th>in</th><th>required</th><th>meaning</th></tr></thead><tbody>");
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                let p = resolve(&document, parameter);
                let _ = write!(
                    body,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(p["name"].as_str().unwrap_or_default()),
                    escape(p["in"].as_str().unwrap_or_default()),
                    if p["required"] == Value::Bool(true) {
                        "yes"
                    } else {
                        "no"
                    },
                    escape(p["description"].as_str().unwrap_or_default()),
                );
            }
            body.push_str("</tbody></table>");
            if let Some(request) = op.get("requestBody") {
                let _ = write!(
                    body,
                    "<p>Body: <code>{}</code></p>",
                    escape(&schema_name(request))
                );
            }
            body.push_str("<p>Answers: ");
            let answers: Vec<String> = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(code, response)| {
                    let response = resolve(&document, response);
                    let schema = schema_name(response);
                    if schema.is_empty() {
                        code.clone()
                    } else {
                        format!("{code} <code>{}</code>", escape(&schema))
                    }
                })
                .collect();
            body.push_str(&answers.join(", "));
            body.push_str("</p></section>");
        }
    }
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>Provisioning API · Numbat</title>\
         <link rel=\"stylesheet\" href=\"/style/numbat.css\"><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"></head>\
         <body><header class=\"site-header\"><a class=\"brand\" href=\"/\"><img src=\"/favicon.svg\" alt=\"\" width=\"28\" height=\"28\"><span>Numbat</span></a></header>\
         <main id=\"main\" class=\"api-docs\">{body}</main></body></html>"
    );
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], Html(html))
}
