//! ACG's list parameters over the core's keyset pages: `skip`, `top`, `maxpagesize` and the
//! `after` cursor in, `value`, `nextLink` and `x-ms-record-count` out. One place for every list.

use super::error::ApiError;
use super::extract::{next_link, ListQuery};
use crate::wire::Page;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::future::Future;

/// Fetches the page the query asks for, starting after `after`: `fetch(after, limit)` returns up
/// to `limit` records in key order, `key` names a record's key. Also says whether more remain.
pub async fn page_of<R, K, F, Fut>(
    query: &ListQuery,
    after: Option<K>,
    key: impl Fn(&R) -> K,
    fetch: F,
) -> Result<(Vec<R>, bool), ApiError>
where
    K: Clone,
    F: Fn(Option<K>, i64) -> Fut,
    Fut: Future<Output = Result<Vec<R>, ApiError>>,
{
    let size = query.page_size()?;
    let mut after = after;
    let mut to_skip = query.skip();
    while to_skip > 0 {
        let chunk = fetch(after.clone(), to_skip.min(500)).await?;
        to_skip -= chunk.len() as i64;
        match chunk.last() {
            Some(last) => after = Some(key(last)),
            None => break,
        }
    }
    let mut records = fetch(after, size + 1).await?;
    let more = records.len() as i64 > size;
    records.truncate(size as usize);
    Ok((records, more))
}

/// The answer for a page: its items, a `nextLink` after `last_key` when more remain and `top`
/// allows, and `x-ms-record-count` when a count is given.
pub fn answer<T: Serialize>(
    value: Vec<T>,
    last_key: Option<&str>,
    more: bool,
    query: &ListQuery,
    uri: &Uri,
    headers: &HeaderMap,
    count: Option<i64>,
) -> Response {
    let top_left = query.top().map(|t| t - value.len() as i64);
    let next = match last_key {
        Some(last) if more && top_left.is_none_or(|t| t > 0) => {
            Some(next_link(uri, headers, last, top_left))
        }
        _ => None,
    };
    let mut response = Json(Page {
        value,
        next_link: next,
    })
    .into_response();
    if let Some(count) = count {
        response
            .headers_mut()
            .insert("x-ms-record-count", count.into());
    }
    response
}
