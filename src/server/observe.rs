//! Following requests: every answer carries `x-ms-request-id`, a fresh id every log line of the
//! request also carries (with the client's own `x-ms-client-request-id`, when it is a UUID), and
//! is counted for `/metrics` by door, method, route template (handed out by
//! `state::mark_route`) and status. Depends on
//! `telemetry::http` and axum.

use crate::telemetry::http::{HttpDoor, HttpMetrics, RequestId};
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// The header an answer names its request id in, as ACG's does.
pub const REQUEST_ID_HEADER: &str = "x-ms-request-id";

/// Which door a path belongs to.
fn door(path: &str) -> HttpDoor {
    const OTHER: [&str; 5] = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/api-docs",
    ];
    if path == crate::api::MOUNT || path.starts_with(&format!("{}/", crate::api::MOUNT)) {
        HttpDoor::Api
    } else if OTHER.contains(&path)
        || path.starts_with("/pkg/")
        || path.starts_with("/style/")
        || path == "/favicon.svg"
    {
        HttpDoor::Other
    } else {
        HttpDoor::Portal
    }
}

/// The outermost layer: gives the request its id, answers with it, and counts the answer.
pub async fn observe(metrics: Arc<HttpMetrics>, mut request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let id = RequestId::random();
    let door = door(request.uri().path());
    let method = request.method().clone();
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    let route = response.extensions().get::<MatchedPath>().cloned();
    metrics.record(
        door,
        method.as_str(),
        route.as_ref().map(MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed(),
    );
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// The span every log line of a request is written in: its id, method and path, and the
/// client's request id when it sent a well-formed one.
pub fn span(request: &Request) -> tracing::Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .map_or("", |id| id.0.as_str());
    let client = request
        .headers()
        .get("x-ms-client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| crate::domain::TenantId::parse(v).is_ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        request_id = %id,
        client_request_id = %client,
        method = %request.method(),
        path = %request.uri().path(),
    )
}
