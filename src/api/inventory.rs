//! The inventory (a Numbat addition, beside ACG's operations): list it, read where one number
//! stands, and act on numbers by list or by range with a result per number.
//!
//! Translates JSON to the core's inventory commands; holds no rule. Depends on the core.

use super::error::ApiError;
use super::extract::{self, ApiQuery, Body, Caller, ListQuery};
use super::paging;
use crate::domain::TelephoneNumber;
use crate::provisioning::inventory::{ActionReport, ActionRequest, Standing};
use crate::provisioning::InventoryFilter;
use crate::state::AppState;
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;

/// `GET /inventory`: the list's own filters beside ACG's paging parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryQuery {
    pub state: Option<String>,
    pub account_name: Option<String>,
    pub prefix: Option<String>,
    pub tag: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
    ApiQuery(own): ApiQuery<InventoryQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let filter = filter_of(own)?;
    let after = query
        .after
        .as_deref()
        .map(extract::telephone_number)
        .transpose()?;
    let core = &state.core;
    let (records, more) = paging::page_of(
        &query,
        after,
        |r: &Standing| r.telephone_number.clone(),
        |after: Option<TelephoneNumber>, limit| {
            let (core, actor, filter) = (core, &actor, &filter);
            async move {
                Ok(core
                    .list_inventory(actor, filter, after.as_ref(), limit)
                    .await?)
            }
        },
    )
    .await?;
    let last = records.last().map(|r| r.telephone_number.to_string());
    Ok(paging::answer(
        records,
        last.as_deref(),
        more,
        &query,
        &uri,
        &headers,
        None,
    ))
}

fn filter_of(own: InventoryQuery) -> Result<InventoryFilter, ApiError> {
    Ok(crate::provisioning::inventory::inventory_filter(
        own.state.as_deref(),
        own.account_name.as_deref(),
        own.prefix.as_deref(),
        own.tag.as_deref(),
    )?)
}

pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(number): Path<String>,
) -> Result<Json<Standing>, ApiError> {
    let number = extract::telephone_number(&number)?;
    Ok(Json(state.core.standing(&actor, &number).await?))
}

pub async fn act(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Body(body): Body<ActionRequest>,
) -> Result<Json<ActionReport>, ApiError> {
    let (action, numbers) = body.parse()?;
    Ok(Json(
        state
            .core
            .inventory_action(&actor, &action, &numbers)
            .await?,
    ))
}
