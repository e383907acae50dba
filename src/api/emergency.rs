//! Emergency locations (a Numbat addition, beside ACG's operations): read and change the civic
//! address and location of an Operator Connect or Teams Phone Mobile number.
//!
//! Translates JSON to the core's emergency-location command; holds no rule. Depends on the core.

use super::error::ApiError;
use super::extract::{self, Body, Caller};
use crate::provisioning::emergency::{EmergencyLocation, EmergencyLocationView};
use crate::provisioning::ProvisioningError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// `PUT /emergencyLocations/{number}`: the whole location (an absent address or location:
/// none; an absent `allowTenantAddressUpdate`: false, as in ACG's number).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EmergencyLocationIn {
    #[serde(default)]
    pub civic_address_id: Option<String>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub allow_tenant_address_update: bool,
}

fn answer(view: EmergencyLocationView) -> Response {
    let etag = extract::etag(view.version);
    ([("etag", etag)], Json(view)).into_response()
}

pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let number = extract::telephone_number(&raw)?;
    Ok(answer(
        state.core.emergency_location(&actor, &number).await?,
    ))
}

pub async fn put(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(body): Body<EmergencyLocationIn>,
) -> Result<Response, ApiError> {
    let number = extract::telephone_number(&raw)?;
    let condition = extract::precondition(&headers)?;
    let change = EmergencyLocation::parse(
        body.civic_address_id.as_deref(),
        body.location_id.as_deref(),
        body.allow_tenant_address_update,
    )
    .map_err(ProvisioningError::Invalid)?;
    let (_, view) = state
        .core
        .set_emergency_location(&actor, &number, change, condition)
        .await?;
    Ok(answer(view))
}
