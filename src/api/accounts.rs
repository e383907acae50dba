//! `/accounts` and `/accounts/{name}`.

use super::error::ApiError;
use super::extract::{self, ApiQuery, Body, Caller, ListQuery};
use super::paging;
use crate::domain::AccountName;
use crate::provisioning::{AccountFilter, Outcome};
use crate::state::AppState;
use crate::wire::{AccountIn, AccountOut};
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let core = &state.core;
    let filter = AccountFilter {
        expr: query
            .filter
            .as_deref()
            .map(|f| super::filter::parse(f, super::filter::Resource::Accounts))
            .transpose()?,
        ..Default::default()
    };
    let after = query
        .after
        .as_deref()
        .map(extract::account_name)
        .transpose()?;
    let (records, more) = paging::page_of(
        &query,
        after,
        |r: &crate::provisioning::AccountRecord| r.account.name.clone(),
        |after: Option<AccountName>, limit| {
            let (core, actor, filter) = (&core, &actor, &filter);
            async move {
                Ok(core
                    .list_accounts(actor, filter, after.as_ref(), limit)
                    .await?)
            }
        },
    )
    .await?;
    let count = match query.count_records {
        Some(true) => Some(core.count_accounts(&actor, &filter).await?),
        _ => None,
    };
    let last = records.last().map(|r| r.account.name.to_string());
    let value: Vec<AccountOut> = records.iter().map(AccountOut::from).collect();
    Ok(paging::answer(
        value,
        last.as_deref(),
        more,
        &query,
        &uri,
        &headers,
        count,
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = extract::account_name(&account)?;
    let record = state.core.get_account(&actor, &name).await?;
    extract::read_answer(
        &headers,
        record.version,
        &record.updated_at,
        AccountOut::from(&record),
    )
}

pub async fn put(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(account): Path<String>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let name = extract::account_name(&account)?;
    let precondition = extract::precondition(&headers)?;
    let Body(body) =
        <Body<AccountIn> as axum::extract::FromRequest<AppState>>::from_request(request, &state)
            .await?;
    let account = body
        .into_domain(&name)
        .map_err(crate::provisioning::ProvisioningError::Invalid)?;
    let written = state
        .core
        .put_account(&actor, account, precondition)
        .await?;
    let status = if written.outcome == Outcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [("etag", extract::etag(written.record.version))],
        Json(AccountOut::from(&written.record)),
    )
        .into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteQuery {
    pub delete_numbers: Option<bool>,
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(account): Path<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = extract::account_name(&account)?;
    let precondition = extract::precondition(&headers)?;
    state
        .core
        .delete_account(
            &actor,
            &name,
            query.delete_numbers.unwrap_or(false),
            precondition,
        )
        .await?;
    Ok(super::no_content())
}
