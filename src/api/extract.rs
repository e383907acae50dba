//! What handlers take from a request: the caller, JSON bodies with field-named errors, path
//! keys that parse, conditional headers, and list parameters.

use super::error::ApiError;
use crate::domain::Code;
use crate::domain::{AccountName, TelephoneNumber, Violation};
use crate::provisioning::{Actor, EtagList, Precondition};
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

/// The authenticated caller, as the core's `Actor`.
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    /// The actor the `authenticate` middleware established for this request.
    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))
    }
}

/// Middleware: checks the source address, the bearer credential and the caller's rate before
/// anything else looks at the request, and leaves the `Actor` for the handler.
pub async fn authenticate(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let source = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let authorization = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match identify(source, authorization, &state).await {
        Ok(actor) => {
            request.extensions_mut().insert(actor);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

async fn identify(
    source: Option<std::net::IpAddr>,
    authorization: Option<String>,
    state: &AppState,
) -> Result<Actor, ApiError> {
    state.api_limits.check_source(source)?;
    let header = authorization
        .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
    let secret = header
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be Bearer <token>"))?
        .trim()
        .to_owned();
    let actor = if secret.starts_with(crate::provisioning::tokens::PREFIX) {
        state
            .core
            .authenticate_token(&secret)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the bearer token is not known or was revoked"))?
    } else if let Some(oidc) = &state.oidc {
        oidc.verify(&secret).await.map_err(|e| match e {
            crate::auth::oidc::OidcError::Invalid(_) => ApiError::unauthorized(&e.to_string()),
            unreachable => {
                tracing::error!(error = %unreachable, "OIDC issuer unreachable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "IssuerUnavailable",
                    "the identity provider could not be asked about this token; try again shortly",
                )
            }
        })?
    } else {
        return Err(ApiError::unauthorized(
            "the bearer token is not an API token, and no OIDC issuer is configured",
        ));
    };
    state.api_limits.take(&actor.principal)?;
    Ok(actor)
}

/// A JSON body; a body that does not fit ACG's shape is a 400 naming the field.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "InvalidRequest", e.to_string()))?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut deserializer)
            .map(Body)
            .map_err(|error| {
                let path = error.path().to_string();
                let path = if path == "." { String::new() } else { path };
                let message = error.into_inner().to_string();
                // serde names a missing field in its message; make it the target.
                let missing = message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next())
                    .map(|name| {
                        if path.is_empty() {
                            name.to_owned()
                        } else {
                            format!("{path}.{name}")
                        }
                    });
                match missing {
                    Some(field) => {
                        ApiError::invalid(Violation::new(field, Code::Required, "is required"))
                    }
                    None if bytes.is_empty() => ApiError::invalid(Violation::new(
                        "",
                        Code::InvalidJson,
                        "the request needs a JSON body",
                    )),
                    None => ApiError::invalid(Violation::new(path, Code::InvalidJson, message)),
                }
            })
    }
}

pub fn account_name(raw: &str) -> Result<AccountName, ApiError> {
    AccountName::parse(raw).map_err(|mut v| {
        v.field = "accountName".into();
        ApiError::invalid(v)
    })
}

pub fn telephone_number(raw: &str) -> Result<TelephoneNumber, ApiError> {
    TelephoneNumber::parse(raw).map_err(|mut v| {
        v.field = "telephoneNumber".into();
        ApiError::invalid(v)
    })
}

/// A write's conditions as the core's precondition: `If-Match` (`*`, or ETags; one this server
/// never gave out matches nothing, so a list of only those is 412), `If-Unmodified-Since`
/// (weighed only without `If-Match`, as RFC 9110 orders them) and `If-None-Match` (`*`: create
/// only; ETags: not at those versions). Every line of a repeated header counts, and any ETag
/// of a list may match. `If-Modified-Since` applies to reads only and is ignored on writes, as
/// RFC 9110 says; a value that is no date is a 400 all the same.
pub fn precondition(headers: &HeaderMap) -> Result<Precondition, ApiError> {
    header_date(headers, "If-Modified-Since")?;
    Ok(Precondition {
        if_match: etag_list(headers, "If-Match")?,
        if_unmodified_since: header_date(headers, "If-Unmodified-Since")?,
        if_none_match: etag_list(headers, "If-None-Match")?,
    })
}

/// Every ETag an `If-Match` / `If-None-Match` lists, over all its lines: `*`, or the versions
/// this server could have given. `If-Match` compares strongly (RFC 9110 13.1.1), so a weak
/// `W/"7"` there names nothing; `If-None-Match` compares weakly.
fn etag_list(headers: &HeaderMap, name: &str) -> Result<Option<EtagList>, ApiError> {
    let mut lines = headers.get_all(name).iter().peekable();
    if lines.peek().is_none() {
        return Ok(None);
    }
    let mut versions = Vec::new();
    for line in lines {
        let text = line.to_str().unwrap_or_default();
        for tag in text.split(',').map(str::trim) {
            if tag == "*" {
                return Ok(Some(EtagList::ANY));
            }
            let weak = tag.starts_with("W/");
            if weak && name == "If-Match" {
                continue;
            }
            versions.extend(parse_etag(tag));
        }
    }
    EtagList::of(&versions).map(Some).ok_or_else(|| {
        ApiError::invalid(Violation::new(
            name,
            Code::InvalidHeader,
            format!("names more than {} ETags", EtagList::MAX),
        ))
    })
}

/// On a read: whether the `If-Match` / `If-None-Match` header names `version` (`*` names any),
/// over every line and however many ETags it lists (a cache may send many); `None` when the
/// request has no such header. `If-Match` compares strongly, `If-None-Match` weakly.
fn names_version(headers: &HeaderMap, name: &str, version: i64) -> Option<bool> {
    let mut lines = headers.get_all(name).iter().peekable();
    lines.peek()?;
    Some(lines.any(|line| {
        line.to_str()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|tag| !(name == "If-Match" && tag.starts_with("W/")))
            .any(|tag| tag == "*" || parse_etag(tag) == Some(version))
    }))
}

fn parse_etag(value: &str) -> Option<i64> {
    value
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .ok()
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// `top`, `skip`, `maxpagesize`, `countRecords`, and our `after` cursor (what `nextLink` carries).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub top: Option<i32>,
    pub skip: Option<i32>,
    pub maxpagesize: Option<i32>,
    pub count_records: Option<bool>,
    pub filter: Option<String>,
    pub after: Option<String>,
}

pub const DEFAULT_PAGE: i64 = 200;
pub const MAX_PAGE: i64 = 500;
/// The most items `skip` may pass over: beyond it, paging follows `nextLink`, whose cursor
/// costs one indexed query however deep the page.
pub const MAX_SKIP: i64 = 10_000;

impl ListQuery {
    /// How many items this page holds at most.
    pub fn page_size(&self) -> Result<i64, ApiError> {
        // Larger pages are cut to MAX_PAGE rather than refused, as ACG's clients expect.
        let size = self
            .maxpagesize
            .map_or(DEFAULT_PAGE, i64::from)
            .min(MAX_PAGE);
        if size < 1 {
            return Err(ApiError::invalid(Violation::new(
                "maxpagesize",
                Code::OutOfRange,
                format!("must be at least 1 (default {DEFAULT_PAGE}, at most {MAX_PAGE})"),
            )));
        }
        if self.top.is_some_and(|t| t < 0) || self.skip.is_some_and(|s| s < 0) {
            return Err(ApiError::invalid(Violation::new(
                "top",
                Code::OutOfRange,
                "top and skip must not be negative",
            )));
        }
        if self.skip() > MAX_SKIP {
            return Err(ApiError::invalid(Violation::new(
                "skip",
                Code::OutOfRange,
                format!(
                    "must be at most {MAX_SKIP}; to go further, follow nextLink (or filter the list)"
                ),
            )));
        }
        Ok(self.top().map_or(size, |top| top.min(size)))
    }

    /// How many items to skip first.
    pub fn skip(&self) -> i64 {
        self.skip.map_or(0, i64::from)
    }

    /// How many items in all, if limited.
    pub fn top(&self) -> Option<i64> {
        self.top.map(i64::from)
    }
}

/// Query parameters; ones that do not parse are a 400 in ACG's error shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "InvalidQuery", e.body_text()))
    }
}

/// Where the next page is: this request's URL with `after` (and what is left of `top`) set.
pub fn next_link(
    parts_uri: &axum::http::Uri,
    headers: &HeaderMap,
    after: &str,
    top_left: Option<i64>,
) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    let kept: Vec<String> = parts_uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            !matches!(key, "after" | "skip" | "top")
        })
        .map(str::to_owned)
        .collect();
    let mut query = kept;
    query.push(format!("after={}", encode(after)));
    if let Some(top) = top_left {
        query.push(format!("top={top}"));
    }
    format!("{scheme}://{host}{}?{}", parts_uri.path(), query.join("&"))
}

/// Percent-encodes what a query value cannot carry as is (`+` above all).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A conditional GET, in RFC 9110's order: `If-Match` not naming the current ETag (compared
/// strongly), or else `If-Unmodified-Since` before the last change, is 412; then `If-None-Match`
/// naming it (compared weakly), or else `If-Modified-Since` not before the last change, is 304.
/// `Ok(None)` means answer normally.
pub fn not_modified(
    headers: &HeaderMap,
    version: i64,
    updated_at: &str,
) -> Result<Option<axum::response::Response>, ApiError> {
    use axum::response::IntoResponse;
    let changed = crate::provisioning::changed_at_second(updated_at);
    let modified_since = header_date(headers, "If-Modified-Since")?;
    let unmodified_since = header_date(headers, "If-Unmodified-Since")?;
    let failed = || {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            format!("the resource is at ETag {}", etag(version)),
        )
        .into_response()
    };
    // As on writes: If-Match compares strongly and, when given, If-Unmodified-Since is not
    // weighed; If-None-Match compares weakly and, when given, If-Modified-Since is not.
    let refused = match names_version(headers, "If-Match", version) {
        Some(named) => !named,
        None => unmodified_since.is_some_and(|at| changed > at),
    };
    if refused {
        return Ok(Some(failed()));
    }
    let not_modified = match names_version(headers, "If-None-Match", version) {
        Some(named) => named,
        None => modified_since.is_some_and(|at| changed <= at),
    };
    if not_modified {
        return Ok(Some(
            (StatusCode::NOT_MODIFIED, [("etag", etag(version))]).into_response(),
        ));
    }
    Ok(None)
}

/// A date condition as seconds since 1970, in the HTTP form (RFC 9110: `Tue, 15 Nov 1994
/// 08:12:31 GMT`) or ISO 8601 (`1994-11-15T08:12:31Z`, which the swagger's `date-time`
/// makes generated clients send); a 400 naming the header when it is neither.
pub fn header_date(headers: &HeaderMap, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(str::trim)
        .and_then(http_or_iso_date)
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(Violation::new(
                name,
                Code::InvalidHeader,
                "must be an HTTP date (Tue, 15 Nov 1994 08:12:31 GMT) or an ISO 8601 date-time \
                 (1994-11-15T08:12:31Z)",
            ))
        })
}

fn http_or_iso_date(text: &str) -> Option<i64> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    if text.len() > 64 {
        return None;
    }
    if let Ok(at) = httpdate::parse_http_date(text) {
        return at
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs() as i64);
    }
    time::OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(text, &Iso8601::DEFAULT))
        .ok()
        .map(|at| at.unix_timestamp())
}

/// A single resource as a read answers it: 304/412 where its conditions say so, else the body
/// with its `ETag`.
pub fn read_answer<T: serde::Serialize>(
    headers: &HeaderMap,
    version: i64,
    updated_at: &str,
    body: T,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    if let Some(answer) = not_modified(headers, version, updated_at)? {
        return Ok(answer);
    }
    Ok(([("etag", etag(version))], axum::Json(body)).into_response())
}
