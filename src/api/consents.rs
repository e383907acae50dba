//! Requests for Information (consents), Teams civic addresses and capability plans.

use super::error::ApiError;
use super::extract::{self, ApiQuery, Body, Caller, ListQuery};
use super::paging;
use crate::domain::consent::{RelationshipChange, RequestForInformation, TeamsCivicAddress};
use crate::domain::{TenantId, Violation};
use crate::provisioning::{ProvisioningError, RfiRecord};
use crate::server::AppState;
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
    if query.filter.is_some() {
        return Err(super::accounts::unsupported_filter());
    }
    let after = query.after.as_deref().map(tenant).transpose()?;
    let (records, more) = paging::page_of(
        &query,
        after,
        |r: &RfiRecord| r.rfi.tenant_id.clone(),
        |after: Option<TenantId>, limit| {
            let (core, actor) = (&state.core, &actor);
            async move { Ok(core.list_rfis(actor, after.as_ref(), limit).await?) }
        },
    )
    .await?;
    let count = match query.count_records {
        Some(true) => Some(state.core.count_rfis(&actor).await?),
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
            "Required",
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
    if query.filter.is_some() {
        return Err(super::accounts::unsupported_filter());
    }
    let (records, more) = paging::page_of(
        &query,
        query.after.clone(),
        |r: &crate::provisioning::CivicAddressRecord| r.address.id.clone(),
        |after: Option<String>, limit| {
            let (core, actor, name) = (&state.core, &actor, &name);
            async move {
                Ok(core
                    .list_civic_addresses(actor, name, after.as_deref(), limit)
                    .await?)
            }
        },
    )
    .await?;
    let count = match query.count_records {
        Some(true) => Some(
            state
                .core
                .list_civic_addresses(&actor, &name, None, i64::MAX)
                .await?
                .len() as i64,
        ),
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
    let plans = match &state.upstream {
        Some(upstream) => upstream
            .capability_plans(tenant.as_str())
            .await
            .map_err(upstream_error)?,
        None => state.capability_plans.as_ref().clone(),
    };
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
    pub numbers: Vec<super::wire::NumberIdentifierIn>,
}

impl NumberIdentifiers {
    /// The numbers, each parsed; every bad one named by its index.
    fn parse(&self) -> Result<Vec<crate::domain::TelephoneNumber>, ApiError> {
        let mut v = crate::domain::Violations::new();
        let mut listed = Vec::with_capacity(self.numbers.len());
        for (i, n) in self.numbers.iter().enumerate() {
            listed.extend(v.parse(
                &format!("numbers[{i}].telephoneNumber"),
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

/// One of Operator Connect's capability plans, in ACG's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityPlan {
    pub name: String,
    #[serde(default)]
    pub offer_types: Vec<String>,
    pub usage: String,
    #[serde(default)]
    pub mandatory_capabilities: Vec<String>,
    #[serde(default)]
    pub choosable_capabilities: Vec<String>,
    pub supports_toll_free: bool,
}

/// The plans served when none are configured.
pub fn default_capability_plans() -> Vec<CapabilityPlan> {
    let plan = |name: &str, usage: &str, choosable: &[&str], toll_free: bool| CapabilityPlan {
        name: name.to_owned(),
        offer_types: vec!["Calling".to_owned()],
        usage: usage.to_owned(),
        mandatory_capabilities: vec![],
        choosable_capabilities: choosable.iter().map(|c| (*c).to_owned()).collect(),
        supports_toll_free: toll_free,
    };
    vec![
        plan(
            "calling-user",
            "CallingUserAssignment",
            &["InboundCalling", "OutboundCalling"],
            false,
        ),
        plan(
            "first-party-app",
            "FirstPartyAppAssignment",
            &["InboundCalling", "OutboundCalling"],
            true,
        ),
        plan(
            "conference",
            "ConferenceAssignment",
            &["InboundCalling"],
            true,
        ),
    ]
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
