//! `/healthz` (the process answers) and `/readyz` (the database answers too), as JSON.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": crate::VERSION }))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = state.db.kind();
    let checked = async {
        state.db.ping().await?;
        state.db.schema_version().await
    };
    match checked.await {
        Ok(schema_version) => (
            StatusCode::OK,
            Json(
                json!({ "status": "ready", "database": database, "schemaVersion": schema_version }),
            ),
        ),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({ "status": "unavailable", "database": database, "error": error.to_string() }),
                ),
            )
        }
    }
}
