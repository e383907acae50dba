//! ACG's error body (`{"error": {code, message, target, details}}` with `x-ms-error-code`) and
//! how each of the core's errors maps onto it.

use crate::domain::{Violation, Violations};
use crate::provisioning::ProvisioningError;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// Every `error.code` (and `x-ms-error-code`) the API answers with, and what it means. Codes
/// are stable: clients may branch on them.
pub const ERROR_CODES: [(&str, u16, &str); 14] = [
    ("InvalidRequest", 400, "The request breaks a rule; `details` names each field, with a code such as InvalidFormat, Required, ServiceNotEnabledOnAccount, CustomHeaderNotSupported, ServicesCannotCombine, TenantIdLocked, BatchSize, UnsupportedFilter or RepeatabilityRejected."),
    ("MissingApiVersion", 400, "The api-version query parameter is missing."),
    ("UnsupportedApiVersion", 400, "The api-version is not one this server speaks."),
    ("InvalidQuery", 400, "A query parameter has the wrong type."),
    ("Unauthorized", 401, "No bearer credential, or one that is not known, revoked or expired."),
    ("Forbidden", 403, "The caller's roles do not allow the operation."),
    ("SourceNotAllowed", 403, "The caller's address is outside the configured allowlist."),
    ("NotFound", 404, "The resource does not exist (for a batch, `details` lists the items)."),
    ("UnknownAction", 404, "The `:action` after an account name is not one the API has."),
    ("MethodNotAllowed", 405, "The path does not take this method; `Allow` lists those it takes."),
    ("Conflict", 409, "Clashes with what is stored: a number in another account, an account that still has numbers."),
    ("PreconditionFailed", 412, "If-Match or If-None-Match does not hold; nothing changed."),
    ("TooManyRequests", 429, "Over the configured rate; `Retry-After` says when to come back."),
    ("InternalError", 500, "The database could not complete the request; nothing was changed by it."),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorBody>,
}

/// An error answer: status, body, and any extra headers (`Retry-After`, `WWW-Authenticate`).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Box<ErrorBody>,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: Box::new(ErrorBody {
                code: code.to_owned(),
                message: message.into(),
                target: None,
                details: Vec::new(),
            }),
            headers: Vec::new(),
        }
    }

    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.body.target = Some(target.into());
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// A 400 for one broken rule.
    pub fn invalid(violation: Violation) -> Self {
        Self::from_violations(StatusCode::BAD_REQUEST, "InvalidRequest", &violation.into())
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
            .with_header("www-authenticate", "Bearer")
    }

    fn from_violations(status: StatusCode, code: &str, violations: &Violations) -> Self {
        let details: Vec<ErrorBody> = violations
            .iter()
            .map(|v| ErrorBody {
                code: v.code.as_str().to_owned(),
                message: v.to_string(),
                target: Some(v.path()),
                details: Vec::new(),
            })
            .collect();
        let (message, target) = match details.as_slice() {
            [only] => (only.message.clone(), only.target.clone()),
            _ => (
                format!("{} rules were broken: {violations}", details.len()),
                None,
            ),
        };
        Self {
            status,
            body: Box::new(ErrorBody {
                code: code.to_owned(),
                message,
                target,
                details,
            }),
            headers: Vec::new(),
        }
    }
}

impl From<ProvisioningError> for ApiError {
    fn from(error: ProvisioningError) -> Self {
        match error {
            ProvisioningError::Forbidden { .. } => {
                Self::new(StatusCode::FORBIDDEN, "Forbidden", error.to_string())
            }
            ProvisioningError::Invalid(v) => {
                Self::from_violations(StatusCode::BAD_REQUEST, "InvalidRequest", &v)
            }
            ProvisioningError::Conflict(v) => {
                Self::from_violations(StatusCode::CONFLICT, "Conflict", &v)
            }
            ProvisioningError::NotFound { ref items, .. } if !items.is_empty() => {
                Self::from_violations(StatusCode::NOT_FOUND, "NotFound", items)
            }
            ProvisioningError::NotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "NotFound", error.to_string())
            }
            ProvisioningError::PreconditionFailed { .. } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                error.to_string(),
            ),
            ProvisioningError::Store(store) => {
                tracing::error!(error = %store, "provisioning store failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "the database could not complete the request",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Envelope {
            error: ErrorBody,
        }
        let code =
            HeaderValue::from_str(&self.body.code).unwrap_or(HeaderValue::from_static("Error"));
        let mut response = (self.status, Json(Envelope { error: *self.body })).into_response();
        response.headers_mut().insert("x-ms-error-code", code);
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

impl From<crate::auth::limits::LimitRefusal> for ApiError {
    fn from(refusal: crate::auth::limits::LimitRefusal) -> Self {
        use crate::auth::limits::LimitRefusal as R;
        let message = refusal.to_string();
        match refusal {
            R::SourceNotAllowed { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "SourceNotAllowed", message)
            }
            R::TooManyRequests {
                retry_after_secs, ..
            } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message)
                .with_header("retry-after", retry_after_secs.to_string()),
        }
    }
}
