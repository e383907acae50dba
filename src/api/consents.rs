//! Requests for Information (consents), Teams civic addresses and capability plans.

use super::error::ApiError;
use super::extract::{self, ApiQuery, Body, Caller, ListQuery};
use super::filter::{self, Resource};
use super::paging;
use crate::domain::consent::{RelationshipChange, RequestForInformation, TeamsCivicAddress};
use crate::domain::Code;
use crate::domain::{TenantId, Violation};
use crate::provisioning::filter::Expr;
use crate::provisioning::{Actor, CivicAddressRecord, Provisioning, ProvisioningError, RfiRecord};
use crate::state::AppState;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RfiOut<'a> {
    #[serde(flatten)]
    rfi: &'a RequestForInformation,
    service_provisioning_status: &'static str,
    service_provisioning_errors: &'a [crate::provisioning::ProvisioningIssue],
}

impl<'a> From<&'a RfiRecord> for RfiOut<'a> {
    fn from(record: &'a RfiRecord) -> Self {
        Self {
            rfi: &record.rfi,
            service_provisioning_status: record.provisioning_status.as_str(),
            service_provisioning_errors: &record.provisioning_errors,
        }
    }
}

fn tenant(raw: &str) -> Result<TenantId, ApiError> {
    TenantId::parse(raw).map_err(|mut v| {
        v.field = "tenantId".into();
        ApiError::invalid(v)
    })
}

pub async fn list_rfis(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let filter = parsed_filter(&query, Resource::Rfis)?;
    let after = query.after.as_deref().map(tenant).transpose()?;
    let (records, more) = paging::page_of(
        &query,
        after,
        |r: &RfiRecord| r.rfi.tenant_id.clone(),
        |after: Option<TenantId>, limit| {
            let (core, actor, filter) = (&state.core, &actor, filter.as_ref());
            async move { rfis_matching(core, actor, filter, after, limit).await }
        },
    )
    .await?;
    let count = match (query.count_records, &filter) {
        (Some(true), None) => Some(state.core.count_rfis(&actor).await?),
        (Some(true), Some(filter)) => Some(count_rfis_matching(&state.core, &actor, filter).await?),
        _ => None,
    };
    let last = records.last().map(|r| r.rfi.tenant_id.to_string());
    let value: Vec<RfiOut> = records.iter().map(RfiOut::from).collect();
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

pub async fn get_rfi(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = state.core.get_rfi(&actor, &tenant(&tenant_id)?).await?;
    extract::read_answer(
        &headers,
        record.version,
        &record.updated_at,
        RfiOut::from(&record),
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RfiPatch {
    customer_relationship: Option<RelationshipPatch>,
}

#[derive(Debug, Deserialize)]
pub struct RelationshipPatch {
    status: Option<String>,
    comment: Option<String>,
}

/// A merge patch of the customer relationship (`application/merge-patch+json`).
pub async fn patch_rfi(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    Body(patch): Body<RfiPatch>,
) -> Result<Response, ApiError> {
    let tenant = tenant(&tenant_id)?;
    let precondition = extract::precondition(&headers)?;
    let Some(relationship) = patch.customer_relationship else {
        return Err(ApiError::invalid(Violation::new(
            "customerRelationship",
            Code::Required,
            "is the only writable part of a request for information and must be given",
        )));
    };
    let change = RelationshipChange {
        status: relationship.status,
        comment: relationship.comment,
    };
    let record = state
        .core
        .update_relationship(&actor, &tenant, change, precondition)
        .await?;
    Ok((
        [("etag", extract::etag(record.version))],
        Json(RfiOut::from(&record)),
    )
        .into_response())
}

#[derive(Serialize)]
struct AddressOut<'a>(&'a TeamsCivicAddress);

pub async fn list_civic_addresses(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(account): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = extract::account_name(&account)?;
    let filter = parsed_filter(&query, Resource::CivicAddresses)?;
    let (records, more) = paging::page_of(
        &query,
        query.after.clone(),
        |r: &CivicAddressRecord| r.address.id.clone(),
        |after: Option<String>, limit| {
            let (core, actor, name, filter) = (&state.core, &actor, &name, filter.as_ref());
            async move {
                let records = core
                    .list_civic_addresses(actor, name, after.as_deref(), limit_for(filter, limit))
                    .await?;
                Ok(keep_matching(records, filter, limit, |r| {
                    serde_json::to_value(&r.address)
                }))
            }
        },
    )
    .await?;
    let count = match query.count_records {
        Some(true) => {
            let all = state
                .core
                .list_civic_addresses(&actor, &name, None, i64::MAX)
                .await?;
            Some(
                keep_matching(all, filter.as_ref(), i64::MAX, |r| {
                    serde_json::to_value(&r.address)
                })
                .len() as i64,
            )
        }
        _ => None,
    };
    let last = records.last().map(|r| r.address.id.clone());
    let value: Vec<AddressOut> = records.iter().map(|r| AddressOut(&r.address)).collect();
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

pub async fn get_civic_address(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((account, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = extract::account_name(&account)?;
    let record = state.core.get_civic_address(&actor, &name, &id).await?;
    extract::read_answer(
        &headers,
        record.version,
        &record.updated_at,
        AddressOut(&record.address),
    )
}

/// The capability plans Operator Connect offers the account's tenant: asked of Operator
/// Connect when sync is on, else from configuration (`--capability-plans`, or the built-in
/// default).
pub async fn capability_plans(
    state: &AppState,
    actor: &crate::provisioning::Actor,
    account: &crate::domain::AccountName,
) -> Result<Response, ApiError> {
    let tenant = state.core.teams_tenant(actor, account).await?;
    let plans = state
        .capability_plans_of(tenant.as_str())
        .await
        .map_err(upstream_error)?;
    Ok(Json(serde_json::json!({ "capabilityPlans": plans })).into_response())
}

/// An answer Operator Connect could not give, as the API's error.
fn upstream_error(error: crate::sync::UpstreamError) -> ApiError {
    use crate::sync::UpstreamError as E;
    match error {
        E::Transient { reason, .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UpstreamUnavailable",
            format!("Operator Connect did not answer: {reason}; try again"),
        ),
        E::Refused { code, message } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "UpstreamRefused",
            format!("Operator Connect refused: {code}: {message}"),
        ),
        E::NotFound(reason) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "UpstreamNotFound",
            format!("Operator Connect: {reason}"),
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct NumberIdentifiers {
    pub numbers: Vec<crate::wire::NumberIdentifierIn>,
}

impl NumberIdentifiers {
    /// The numbers, each parsed; every bad one named by its index.
    fn parse(&self) -> Result<Vec<crate::domain::TelephoneNumber>, ApiError> {
        let mut v = crate::domain::Violations::new();
        let mut listed = Vec::with_capacity(self.numbers.len());
        for (i, n) in self.numbers.iter().enumerate() {
            listed.extend(v.parse_item(
                i,
                "telephoneNumber",
                &n.telephone_number,
                crate::domain::TelephoneNumber::parse,
            ));
        }
        if v.is_empty() {
            Ok(listed)
        } else {
            Err(ProvisioningError::Invalid(v).into())
        }
    }
}

/// The capabilities numbers may choose: every choosable capability of the configured plans.
pub async fn available_capabilities(
    state: &AppState,
    actor: &crate::provisioning::Actor,
    account: &crate::domain::AccountName,
    numbers: NumberIdentifiers,
) -> Result<Response, ApiError> {
    let listed = numbers.parse()?;
    let tenant = state.core.teams_tenant(actor, account).await?;
    if let Some(upstream) = &state.upstream {
        let asked = listed.iter().map(|n| n.as_str().to_owned()).collect();
        let capabilities = upstream
            .available_capabilities(tenant.as_str(), asked)
            .await
            .map_err(upstream_error)?;
        return Ok(
            Json(serde_json::json!({ "availableCapabilities": capabilities })).into_response(),
        );
    }
    let mut capabilities: Vec<String> = Vec::new();
    for plan in state.capability_plans.iter() {
        for capability in plan
            .choosable_capabilities
            .iter()
            .chain(&plan.mandatory_capabilities)
        {
            if !capabilities.contains(capability) {
                capabilities.push(capability.clone());
            }
        }
    }
    Ok(Json(serde_json::json!({ "availableCapabilities": capabilities })).into_response())
}

/// `POST /accounts/{name}:retrySync` (Numbat's own action): sends the listed numbers that did not
/// sync (failed, or pending with nothing on the way) to the upstream again; an empty list means
/// every such number of the account.
pub async fn retry_sync(
    state: &AppState,
    actor: &crate::provisioning::Actor,
    account: &crate::domain::AccountName,
    numbers: NumberIdentifiers,
) -> Result<Response, ApiError> {
    let listed = numbers.parse()?;
    let only = (!listed.is_empty()).then_some(listed.as_slice());
    let retried = state.core.retry_sync(actor, account, only).await?;
    Ok(Json(serde_json::json!({ "retried": retried })).into_response())
}

/// The list's `filter`, parsed for `resource`, if it has one.
fn parsed_filter(query: &ListQuery, resource: Resource) -> Result<Option<Expr>, ApiError> {
    query
        .filter
        .as_deref()
        .map(|f| filter::parse(f, resource))
        .transpose()
}

/// A civic address list is one tenant's few: with a filter, all of them are read and tested.
fn limit_for(filter: Option<&Expr>, limit: i64) -> i64 {
    if filter.is_some() {
        i64::MAX
    } else {
        limit
    }
}

/// The first `limit` of `records` whose wire form passes `filter` (all of them without one).
fn keep_matching<R, E>(
    records: Vec<R>,
    filter: Option<&Expr>,
    limit: i64,
    wire: impl Fn(&R) -> Result<serde_json::Value, E>,
) -> Vec<R> {
    let Some(filter) = filter else {
        return records;
    };
    records
        .into_iter()
        .filter(|r| wire(r).is_ok_and(|w| filter.matches(&w)))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect()
}

/// How many consents pass `filter`: read from the core a chunk at a time and counted, so the
/// memory a count takes is one chunk's, however many consents there are (one per Teams
/// tenant that consented).
async fn count_rfis_matching(
    core: &Provisioning,
    actor: &Actor,
    filter: &Expr,
) -> Result<i64, ApiError> {
    const CHUNK: i64 = 500;
    let mut count = 0;
    let mut cursor: Option<TenantId> = None;
    loop {
        let chunk = core.list_rfis(actor, cursor.as_ref(), CHUNK).await?;
        let ended = (chunk.len() as i64) < CHUNK;
        cursor = chunk.last().map(|r| r.rfi.tenant_id.clone());
        count += keep_matching(chunk, Some(filter), CHUNK, |r| {
            serde_json::to_value(RfiOut::from(r))
        })
        .len() as i64;
        if ended {
            return Ok(count);
        }
    }
}

/// Up to `limit` consents after `after` whose wire form passes `filter`, read from the core a
/// chunk at a time until enough pass or the list ends.
async fn rfis_matching(
    core: &Provisioning,
    actor: &Actor,
    filter: Option<&Expr>,
    after: Option<TenantId>,
    limit: i64,
) -> Result<Vec<RfiRecord>, ApiError> {
    const CHUNK: i64 = 500;
    let Some(filter) = filter else {
        return Ok(core.list_rfis(actor, after.as_ref(), limit).await?);
    };
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let chunk = core.list_rfis(actor, cursor.as_ref(), CHUNK).await?;
        let ended = (chunk.len() as i64) < CHUNK;
        cursor = chunk.last().map(|r| r.rfi.tenant_id.clone());
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX) - out.len();
        out.extend(keep_matching(chunk, Some(filter), wanted as i64, |r| {
            serde_json::to_value(RfiOut::from(r))
        }));
        if ended || out.len() as i64 >= limit {
            return Ok(out);
        }
    }
}
