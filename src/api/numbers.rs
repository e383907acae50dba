//! Numbers: per account, across accounts, one at a time and in batches (the `:action` POSTs).

use super::error::ApiError;
use super::extract::{self, ApiQuery, Body, Caller, ListQuery};
use super::paging;
use crate::domain::Code;
use crate::domain::{AccountName, TelephoneNumber, Violation, Violations};
use crate::provisioning::{Actor, NumberFilter, NumberOrder, Outcome, ProvisioningError};
use crate::state::AppState;
use crate::wire::{BatchDeleteIn, BatchIn, BatchOut, NumberIn, NumberOut};
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// ACG's batch size limit.
pub const MAX_BATCH: usize = 100;

pub async fn list_for_account(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(account): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = extract::account_name(&account)?;
    state.core.get_account(&actor, &name).await?;
    let filter = NumberFilter {
        account: Some(name),
        ..Default::default()
    };
    list(&state, &actor, filter, query, &uri, &headers).await
}

pub async fn list_all(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    list(
        &state,
        &actor,
        NumberFilter::default(),
        query,
        &uri,
        &headers,
    )
    .await
}

async fn list(
    state: &AppState,
    actor: &Actor,
    mut filter: NumberFilter,
    query: ListQuery,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let core = &state.core;
    filter.expr = query
        .filter
        .as_deref()
        .map(|f| super::filter::parse(f, super::filter::Resource::Numbers))
        .transpose()?;
    let order = NumberOrder::Ascending;
    let after = query
        .after
        .as_deref()
        .map(extract::telephone_number)
        .transpose()?;
    let (records, more) = paging::page_of(
        &query,
        after,
        |r: &crate::provisioning::NumberRecord| r.number.telephone_number.clone(),
        |after: Option<TelephoneNumber>, limit| {
            let (core, filter) = (core, &filter);
            async move {
                Ok(core
                    .list_numbers(actor, filter, order, after.as_ref(), limit)
                    .await?)
            }
        },
    )
    .await?;
    let count = match query.count_records {
        Some(true) => Some(core.count_numbers(actor, &filter).await?),
        _ => None,
    };
    let last = records
        .last()
        .map(|r| r.number.telephone_number.to_string());
    let value: Vec<NumberOut> = records.iter().map(NumberOut::from).collect();
    Ok(paging::answer(
        value,
        last.as_deref(),
        more,
        &query,
        uri,
        headers,
        count,
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((account, number)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = extract::account_name(&account)?;
    let number = extract::telephone_number(&number)?;
    let record = state.core.get_number(&actor, Some(&name), &number).await?;
    extract::read_answer(
        &headers,
        record.version,
        &record.updated_at,
        NumberOut::from(&record),
    )
}

pub async fn put(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((account, number)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body<NumberIn>,
) -> Result<Response, ApiError> {
    let name = extract::account_name(&account)?;
    let key = extract::telephone_number(&number)?;
    let precondition = extract::precondition(&headers)?;
    let number = body.into_domain().map_err(ProvisioningError::Invalid)?;
    let mut mismatches = Violations::new();
    if number.telephone_number != key {
        mismatches.push(Violation::new(
            "telephoneNumber",
            Code::KeyMismatch,
            format!("must be {key}, the number in the path"),
        ));
    }
    if number.account_name != name {
        mismatches.push(Violation::new(
            "accountName",
            Code::KeyMismatch,
            format!("must be {name}, the account in the path"),
        ));
    }
    if !mismatches.is_empty() {
        return Err(ProvisioningError::Invalid(mismatches).into());
    }
    let written = state.core.put_number(&actor, number, precondition).await?;
    let status = if written.outcome == Outcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [("etag", extract::etag(written.record.version))],
        Json(NumberOut::from(&written.record)),
    )
        .into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((account, number)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = extract::account_name(&account)?;
    let number = extract::telephone_number(&number)?;
    let precondition = extract::precondition(&headers)?;
    state
        .core
        .delete_number(&actor, &name, &number, precondition)
        .await?;
    Ok(super::no_content())
}

/// `POST /accounts/{name}:{action}`: the account name cannot hold `:`, so the split is exact.
pub async fn account_action(
    State(state): State<AppState>,
    caller: Caller,
    Path(segment): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let Some((account, action)) = segment.split_once(':') else {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "POST needs an action, e.g. /accounts/{name}:createOrUpdateNumbers",
        )
        .with_header("allow", "GET, PUT, DELETE"));
    };
    let name = extract::account_name(account)?;
    match action {
        "createOrUpdateNumbers" => {
            let Body(batch) = <Body<BatchIn> as axum::extract::FromRequest<AppState>>::from_request(request, &state).await?;
            create_or_update(&state, &caller.0, &name, batch).await
        }
        "deleteNumbers" => {
            let Body(batch) = <Body<BatchDeleteIn> as axum::extract::FromRequest<AppState>>::from_request(request, &state).await?;
            delete_batch(&state, &caller.0, &name, batch).await
        }
        "getTeamsCapabilityPlans" => super::consents::capability_plans(&state, &caller.0, &name).await,
        "getTeamsAvailableCapabilities" => {
            let Body(numbers) = <Body<super::consents::NumberIdentifiers> as axum::extract::FromRequest<AppState>>::from_request(request, &state).await?;
            super::consents::available_capabilities(&state, &caller.0, &name, numbers).await
        }
        "retrySync" => {
            let Body(numbers) = <Body<super::consents::NumberIdentifiers> as axum::extract::FromRequest<AppState>>::from_request(request, &state).await?;
            super::consents::retry_sync(&state, &caller.0, &name, numbers).await
        }
        other => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "UnknownAction",
            format!("{other} is not an action; use createOrUpdateNumbers, deleteNumbers, getTeamsCapabilityPlans, getTeamsAvailableCapabilities or retrySync"),
        )),
    }
}

fn batch_size_ok(count: usize) -> Result<(), ApiError> {
    if count == 0 || count > MAX_BATCH {
        return Err(ApiError::invalid(Violation::new(
            "numbers",
            Code::BatchSize,
            format!("must hold 1–{MAX_BATCH} numbers; this one holds {count}"),
        )));
    }
    Ok(())
}

async fn create_or_update(
    state: &AppState,
    actor: &Actor,
    name: &AccountName,
    batch: BatchIn,
) -> Result<Response, ApiError> {
    batch_size_ok(batch.numbers.len())?;
    let mut violations = Violations::new();
    let mut numbers = Vec::with_capacity(batch.numbers.len());
    for (index, item) in batch.numbers.into_iter().enumerate() {
        match item.into_domain() {
            Ok(number) => numbers.push(number),
            Err(found) => found
                .0
                .into_iter()
                .for_each(|v| violations.push(v.in_item(index))),
        }
    }
    if !violations.is_empty() {
        return Err(ProvisioningError::Invalid(violations).into());
    }
    let written = state.core.upsert_numbers(actor, name, numbers).await?;
    let numbers = written.iter().map(|w| NumberOut::from(&w.record)).collect();
    Ok(Json(BatchOut { numbers }).into_response())
}

async fn delete_batch(
    state: &AppState,
    actor: &Actor,
    name: &AccountName,
    batch: BatchDeleteIn,
) -> Result<Response, ApiError> {
    batch_size_ok(batch.numbers.len())?;
    let mut violations = Violations::new();
    let mut numbers = Vec::with_capacity(batch.numbers.len());
    for (index, item) in batch.numbers.iter().enumerate() {
        if let Some(number) = violations.parse_item(
            index,
            "telephoneNumber",
            &item.telephone_number,
            TelephoneNumber::parse,
        ) {
            numbers.push(number);
        }
    }
    if !violations.is_empty() {
        return Err(ProvisioningError::Invalid(violations).into());
    }
    state.core.delete_numbers(actor, name, &numbers).await?;
    Ok(super::no_content())
}
