//! `/healthz` and `/readyz`, on SQLite and PostgreSQL.

use crate::common;

use crate::common::{app_without_bundle, get, TestDb};
use axum::http::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn healthz_answers_with_the_version() {
    let test = TestDb::sqlite().await;
    let (response, body) = get(&app_without_bundle(&test.db), "/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, json!({ "status": "ok", "version": numbat::VERSION }));
}

#[tokio::test]
async fn readyz_reports_the_database_and_its_schema_version() {
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let (response, body) = get(&app_without_bundle(&test.db), "/readyz").await;
        assert_eq!(response.status(), StatusCode::OK, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["database"], test.db.kind());
        assert_eq!(body["schemaVersion"], common::latest_migration());
        test.remove().await;
    }
}

#[tokio::test]
async fn readyz_is_503_when_the_database_does_not_answer() {
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let app = app_without_bundle(&test.db);
        test.db.close().await;
        let (response, body) = get(&app, "/readyz").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["database"], test.db.kind());
        assert!(
            body.get("error").is_none(),
            "anyone may ask: no database error text in the answer: {body}"
        );
        // Health is about the process, not the database.
        let (response, _) = get(&app, "/healthz").await;
        assert_eq!(response.status(), StatusCode::OK);
        test.remove().await;
    }
}

/// The value of the sample named exactly `series` in a `/metrics` answer.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn every_answer_names_a_fresh_request_id_and_metrics_count_requests_by_route_not_by_path() {
    for test in TestDb::every_backend().await {
        requests_and_jobs_are_counted(test.migrated().await).await;
    }
}

async fn requests_and_jobs_are_counted(test: TestDb) {
    use axum::body::Body;
    use axum::http::Request;
    let app = app_without_bundle(&test.db);
    let token = common::api_token(&test.db, "bss", &[numbat::provisioning::Role::Admin]).await;
    let api = |method: &str, path: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(format!(
                "/provisioning{path}?api-version=2024-02-29-preview"
            ))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            // A client cannot choose the id its request is logged under.
            .header("x-ms-request-id", "forged-by-the-client")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let mut ids = std::collections::HashSet::new();
    for (method, path, body, status) in [
        ("GET", "/accounts/nobody", "", 404),
        (
            "PUT",
            "/accounts/contoso",
            r#"{"name":"contoso","serviceDetails":{"teamsDirectRouting":{"enabled":true}}}"#,
            201,
        ),
        ("GET", "/accounts/contoso", "", 200),
        ("GET", "/accounts/contoso", "", 200),
    ] {
        let (response, text) = common::send(&app, api(method, path, body)).await;
        assert_eq!(
            response.status().as_u16(),
            status,
            "{method} {path}: {text}"
        );
        let id = response.headers()["x-ms-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(id.len(), 36, "a UUID, not the client's: {id}");
        assert!(ids.insert(id), "each request has its own id");
    }
    // Paths a stranger makes up are counted under one series, not one each.
    for n in 0..20 {
        let (response, _) = get(&app, &format!("/no/such/page/{n}")).await;
        // Signed out: sent to sign in, as for any page.
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(response.headers().contains_key("x-ms-request-id"));
    }
    let (response, _) = get(&app, "/healthz").await;
    assert!(response.headers().contains_key("x-ms-request-id"));

    // An import of two numbers: a finished job that read two rows.
    let core = common::cli_core(&test.db);
    let options = numbat::bulk::ImportOptions {
        account: Some("contoso".into()),
        service: Some("teamsDirectRouting".into()),
        ..numbat::bulk::ImportOptions::default()
    };
    numbat::bulk::import_file(
        &core,
        &common::cli_admin(),
        "two.csv",
        std::io::Cursor::new(b"Numbers\n+442071230001\n+442071230002\n".to_vec()),
        options.file_settings().unwrap(),
        numbat::provisioning::import::ImportMode::Apply,
        |_, _| {},
    )
    .await
    .unwrap();

    let (response, text) = get(&app, "/metrics").await;
    assert_eq!(response.status(), StatusCode::OK, "{text}");
    assert!(text.contains("\nnumbat_database_up 1\n"), "{text}");
    assert_eq!(
        sample(
            &text,
            "numbat_bulk_jobs{kind=\"import\",state=\"finished\"}"
        ),
        Some(1.0),
        "{}: {text}",
        test.db.kind()
    );
    assert_eq!(
        sample(
            &text,
            "numbat_bulk_job_rows_read{kind=\"import\",state=\"finished\"}"
        ),
        Some(2.0),
        "{text}"
    );
    let account = "door=\"api\",method=\"GET\",route=\"/provisioning/accounts/{account}\"";
    assert_eq!(
        sample(
            &text,
            &format!("numbat_http_requests_total{{{account},status=\"200\"}}")
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("numbat_http_requests_total{{{account},status=\"404\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "numbat_http_requests_total{door=\"api\",method=\"PUT\",route=\"/provisioning/accounts/{account}\",status=\"201\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("numbat_http_request_duration_seconds_count{{{account}}}")
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "numbat_http_requests_total{door=\"other\",method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("/no/such"), "{text}");
    let strangers: f64 = text
        .lines()
        .filter(|l| {
            l.starts_with(
                "numbat_http_requests_total{door=\"portal\",method=\"GET\",route=\"unmatched\"",
            )
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(strangers, 20.0, "{text}");
    assert!(text.contains("# TYPE numbat_bulk_jobs gauge"), "{text}");
    test.remove().await;
}
