//! Safe retries: a write that carries `Repeatability-Request-ID` is done once; a retry with the
//! same ID gets the first answer again, marked `Repeatability-Result: accepted`, and changes
//! nothing. IDs are remembered for `WINDOW`.

use super::error::ApiError;
use crate::domain::Code;
use crate::domain::Violation;
use crate::provisioning::StoredAnswer;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::{Duration, SystemTime};

/// How long an answer is kept for replay, and how old `Repeatability-First-Sent` may be.
pub const WINDOW: Duration = Duration::from_secs(60 * 60);

const REQUEST_ID: &str = "repeatability-request-id";
const FIRST_SENT: &str = "repeatability-first-sent";
const RESULT: &str = "repeatability-result";

fn rejected(field: &str, message: &str) -> Response {
    let mut response =
        ApiError::invalid(Violation::new(field, Code::RepeatabilityRejected, message))
            .into_response();
    response
        .headers_mut()
        .insert(RESULT, HeaderValue::from_static("rejected"));
    response
}

pub async fn repeatable(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let repeatable_method =
        [Method::PUT, Method::PATCH, Method::POST, Method::DELETE].contains(request.method());
    if !repeatable_method {
        return next.run(request).await;
    }
    let (request_id, first_sent) = {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (header(REQUEST_ID), header(FIRST_SENT))
    };
    // An empty ID asks for nothing, as if the header were not there.
    let Some(request_id) = request_id.filter(|id| !id.trim().is_empty()) else {
        return next.run(request).await;
    };
    if request_id.len() > 128 {
        return rejected(
            "Repeatability-Request-ID",
            "must be at most 128 characters (a GUID is usual)",
        );
    }
    let first_sent = match first_sent {
        None => SystemTime::now(),
        Some(raw) => match httpdate::parse_http_date(&raw) {
            Ok(at) => at,
            Err(_) => {
                return rejected(
                    "Repeatability-First-Sent",
                    "must be an HTTP date, e.g. Tue, 15 Nov 1994 08:12:31 GMT",
                )
            }
        },
    };
    let age = SystemTime::now()
        .duration_since(first_sent)
        .unwrap_or_default();
    if age > WINDOW {
        return rejected(
            "Repeatability-First-Sent",
            "is older than the hour for which requests are remembered",
        );
    }
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    // IDs are the caller's own: another caller's ID never replays someone else's answer.
    let principal = request
        .extensions()
        .get::<crate::provisioning::Actor>()
        .map(|a| a.principal.clone());
    let request_id = format!("{}\u{1f}{request_id}", principal.unwrap_or_default());

    match state.core.repeated_answer(&request_id).await {
        Ok(Some(answer)) if answer.method == method && answer.path == path => {
            return replay(answer)
        }
        Ok(Some(_)) => {
            return rejected(
                "Repeatability-Request-ID",
                "was already used for a different request",
            );
        }
        Ok(None) => {}
        Err(error) => return ApiError::from(error).into_response(),
    }

    let response = next.run(request).await;
    if response.status().is_server_error() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let answer = StoredAnswer {
        request_id,
        method,
        path,
        first_sent: httpdate::fmt_http_date(first_sent),
        status: i32::from(parts.status.as_u16()),
        etag: parts
            .headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        created_at: crate::provisioning::timestamp(),
    };
    if let Err(error) = state.core.keep_answer(&answer).await {
        tracing::warn!(%error, "could not remember a repeatable request's answer");
    }
    parts
        .headers
        .insert(RESULT, HeaderValue::from_static("accepted"));
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status as u16).unwrap_or(StatusCode::OK);
    let has_body = !answer.body.is_empty();
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    headers.insert(RESULT, HeaderValue::from_static("accepted"));
    if has_body {
        headers.insert("content-type", HeaderValue::from_static("application/json"));
    }
    if let Some(etag) = answer.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        headers.insert("etag", etag);
    }
    response
}
