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
