//! The Provisioning API: ACG's `2024-02-29-preview` on the wire, under `/provisioning`.
//!
//! Handlers translate between ACG's JSON and headers and the core's commands; they hold no
//! provisioning rule. Depends on the core (`crate::provisioning`), `auth`, `wire`, `state`,
//! `routing` (the lookup's decision) and `sync` (capability questions upstream); never on
//! `store`, `ui` or `server`.

mod accounts;
mod billing;
mod consents;
pub mod docs;
mod emergency;
mod error;
mod events;
mod extract;
mod filter;
mod inventory;
mod labels;
mod numbers;
mod onboarding;
pub mod openapi;
mod paging;
mod repeat;
mod routing;
mod verification;
mod webhooks;

pub use error::{ApiError, ErrorBody};
pub use repeat::WINDOW as REPEAT_WINDOW;

use crate::domain::Code;
use crate::state::AppState;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// The only api-version served.
pub const API_VERSION: &str = "2024-02-29-preview";

pub use crate::state::API_MOUNT as MOUNT;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/accounts", get(accounts::list))
        .route(
            "/accounts/{account}",
            get(accounts::get)
                .put(accounts::put)
                .delete(accounts::delete)
                .post(numbers::account_action),
        )
        .route(
            "/accounts/{account}/numbers",
            get(numbers::list_for_account),
        )
        .route(
            "/accounts/{account}/numbers/{number}",
            get(numbers::get).put(numbers::put).delete(numbers::delete),
        )
        .route(
            "/accounts/{account}/directRoutingOnboarding",
            get(onboarding::get),
        )
        .route(
            "/accounts/{account}/teamsCivicAddresses",
            get(consents::list_civic_addresses),
        )
        .route(
            "/accounts/{account}/teamsCivicAddresses/{id}",
            get(consents::get_civic_address),
        )
        .route("/numbers", get(numbers::list_all))
        .route("/inventory", get(inventory::list).post(inventory::act))
        .route("/inventory/{number}", get(inventory::get))
        .route(
            "/labels/numbers",
            get(labels::list_numbers).post(labels::change_tags),
        )
        .route(
            "/labels/numbers/{number}",
            get(labels::get_number).put(labels::put_number),
        )
        .route("/labels/accounts", get(labels::list_accounts))
        .route(
            "/labels/accounts/{account}",
            get(labels::get_account).put(labels::put_account),
        )
        .route("/billableUsers", get(billing::get))
        .route("/events", get(events::list))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route(
            "/webhooks/{id}",
            get(webhooks::get).delete(webhooks::delete),
        )
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/webhooks/{id}/replay", post(webhooks::replay))
        .route("/webhooks/{id}/resume", post(webhooks::resume))
        .route("/webhooks/{id}/redeliver", post(webhooks::redeliver))
        .route("/webhooks/{id}/rotateSecret", post(webhooks::rotate))
        .route(
            "/emergencyLocations/{number}",
            get(emergency::get).put(emergency::put),
        )
        .route("/routing/{number}", get(routing::decision))
        .route(
            "/verificationNumbers",
            get(verification::list).post(verification::act),
        )
        .route("/teamsRequestsForInformation", get(consents::list_rfis))
        .route(
            "/teamsRequestsForInformation/{tenant}",
            get(consents::get_rfi).patch(consents::patch_rfi),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            repeat::repeatable,
        ))
        .route_layer(middleware::from_fn_with_state(state, extract::authenticate))
        .route_layer(middleware::from_fn(crate::state::mark_route))
        .layer(middleware::from_fn(action_methods))
        .layer(middleware::from_fn(require_api_version))
        .layer(middleware::from_fn(echo_client_request_id))
        .layer(middleware::from_fn(errors_in_acgs_shape))
}

/// An error answered by axum itself (a path segment that is not UTF-8, a body over the size
/// limit, a wrong content type) in ACG's error body, like every other error of this API, so a
/// generated client can read it.
async fn errors_in_acgs_shape(request: Request, next: Next) -> Response {
    use axum::http::{header::CONTENT_TYPE, StatusCode};
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::BAD_REQUEST => "InvalidRequest",
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLarge",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UnsupportedMediaType",
        _ if status.is_server_error() => "InternalError",
        _ => "Error",
    };
    let message = if text.is_empty() || status.is_server_error() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_owned()
    } else {
        text
    };
    let mut reshaped = ApiError::new(status, code, message).into_response();
    // What the first answer said beside its text (Allow, Retry-After, the client's request id)
    // still holds.
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            reshaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    reshaped
}

/// The methods each path shape takes, with the `Allow` text. `/accounts/{name}` and
/// `/accounts/{name}:{action}` share one axum route (a segment cannot hold a parameter and a
/// literal), so the shape decides here; answering 405 before anything else also keeps header
/// checks from answering for a method that is not served at all.
fn allowed_methods(path: &str) -> Option<(&'static [axum::http::Method], &'static str)> {
    use axum::http::Method;
    const GET: (&[Method], &str) = (&[Method::GET, Method::HEAD], "GET");
    const RESOURCE: (&[Method], &str) = (
        &[Method::GET, Method::HEAD, Method::PUT, Method::DELETE],
        "GET, PUT, DELETE",
    );
    const ACTION: (&[Method], &str) = (&[Method::POST], "POST");
    const CONSENT: (&[Method], &str) = (&[Method::GET, Method::HEAD, Method::PATCH], "GET, PATCH");
    const LIST_AND_ACT: (&[Method], &str) =
        (&[Method::GET, Method::HEAD, Method::POST], "GET, POST");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match segments.as_slice() {
        ["accounts"] | ["numbers"] | ["teamsRequestsForInformation"] | ["routing", _] => GET,
        ["accounts", account] if account.contains(':') => ACTION,
        ["accounts", _] => RESOURCE,
        ["accounts", _, "numbers"]
        | ["accounts", _, "teamsCivicAddresses"]
        | ["accounts", _, "teamsCivicAddresses", _] => GET,
        ["accounts", _, "numbers", _] => RESOURCE,
        ["teamsRequestsForInformation", _] => CONSENT,
        ["inventory"] => LIST_AND_ACT,
        ["inventory", _] => GET,
        _ => return None,
    })
}

async fn action_methods(request: Request, next: Next) -> Response {
    let Some((allowed, allow)) = allowed_methods(request.uri().path()) else {
        return next.run(request).await;
    };
    let method = request.method();
    if allowed.contains(method) {
        return next.run(request).await;
    }
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{method} is not served here; use {allow}"),
    )
    .with_header("allow", allow)
    .into_response()
}

/// 204, with the JSON content type ACG's specification gives every answer.
fn no_content() -> Response {
    (
        axum::http::StatusCode::NO_CONTENT,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
    )
        .into_response()
}

/// Every operation needs `?api-version=2024-02-29-preview`.
async fn require_api_version(request: Request, next: Next) -> Response {
    let version = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "api-version")
        .map(|(_, value)| value.to_owned());
    match version.as_deref() {
        Some(API_VERSION) => next.run(request).await,
        Some(other) => ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "UnsupportedApiVersion",
            format!("api-version {other} is not served; the versions served are: {API_VERSION}"),
        )
        .with_target("api-version")
        .into_response(),
        None => ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "MissingApiVersion",
            format!("the api-version query parameter is required; the versions served are: {API_VERSION}"),
        )
        .with_target("api-version")
        .into_response(),
    }
}

/// `x-ms-client-request-id` is a UUID (Azure Core's rule) and comes back as it was sent.
async fn echo_client_request_id(request: Request, next: Next) -> Response {
    let id: Option<HeaderValue> = request.headers().get("x-ms-client-request-id").cloned();
    if let Some(id) = &id {
        let text = id.to_str().unwrap_or_default();
        if crate::domain::TenantId::parse(text).is_err() {
            return ApiError::invalid(crate::domain::Violation::new(
                "x-ms-client-request-id",
                Code::InvalidHeader,
                "must be a UUID such as 7b1f6b8e-0000-4000-8000-000000000001",
            ))
            .into_response();
        }
    }
    let mut response = next.run(request).await;
    if let Some(id) = id {
        response.headers_mut().insert("x-ms-client-request-id", id);
    }
    response
}
