//! The change feed (a Numbat addition, beside ACG's operations): `GET /events?after=<cursor>`
//! pages through changes in commit order, and with `Prefer: wait=<seconds>` waits for new ones
//! when there are none yet (a long poll).
//!
//! Translates the query and the header to the core's read; holds no rule. Depends on the core.

use super::error::ApiError;
use super::extract::{ApiQuery, Caller};
use crate::provisioning::feed::{Cursor, FeedPage, DEFAULT_PAGE, MAX_WAIT};
use crate::provisioning::ProvisioningError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
pub struct FeedQuery {
    pub after: Option<String>,
    pub maxpagesize: Option<i64>,
}

/// The seconds a `Prefer: wait=N` header (RFC 7240) asks for, at most [`MAX_WAIT`]; none when
/// there is no such preference or it does not read as one (a preference not understood is
/// ignored, as the RFC says).
fn preferred_wait(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|preference| {
            let (name, seconds) = preference.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("wait") {
                return None;
            }
            let seconds = seconds.trim();
            if seconds.is_empty()
                || seconds.len() > 6
                || !seconds.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            Some(Duration::from_secs(seconds.parse().ok()?).min(MAX_WAIT))
        })
}

/// `GET /events`.
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<FeedQuery>,
) -> Result<Response, ApiError> {
    let after = match query.after.as_deref() {
        None => Cursor::START,
        Some(raw) => Cursor::parse(raw).map_err(ProvisioningError::invalid)?,
    };
    let wait = preferred_wait(&headers);
    let page: FeedPage = state
        .core
        .events_after(
            &actor,
            after,
            query.maxpagesize.unwrap_or(DEFAULT_PAGE),
            wait.unwrap_or_default(),
        )
        .await?;
    let mut response = Json(page).into_response();
    if let Some(wait) = wait {
        let applied = format!("wait={}", wait.as_secs());
        if let Ok(value) = HeaderValue::from_str(&applied) {
            response.headers_mut().insert("preference-applied", value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_of(values: &[&str]) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("prefer", HeaderValue::from_str(value).unwrap());
        }
        preferred_wait(&headers)
    }

    #[test]
    fn a_wait_preference_is_read_bounded_and_anything_else_ignored() {
        assert_eq!(wait_of(&["wait=5"]), Some(Duration::from_secs(5)));
        assert_eq!(
            wait_of(&["respond-async, Wait = 7"]),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            wait_of(&["return=minimal", "wait=2"]),
            Some(Duration::from_secs(2))
        );
        assert_eq!(wait_of(&["wait=3600"]), Some(MAX_WAIT), "at most 30 s");
        for ignored in [
            "wait=",
            "wait=-1",
            "wait=1.5",
            "wait=99999999999",
            "wait=٣",
            "handling=lenient",
        ] {
            assert_eq!(wait_of(&[ignored]), None, "{ignored}");
        }
        assert_eq!(wait_of(&[]), None);
    }
}
