//! Direct Routing onboarding for one account: its customer domains, their TXT records and
//! status, and the customer's steps (a Numbat addition to ACG's API).

use super::error::ApiError;
use super::extract::{self, Caller};
use crate::provisioning::onboarding::Onboarding;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;

pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(account): Path<String>,
) -> Result<Json<Onboarding>, ApiError> {
    let name = extract::account_name(&account)?;
    Ok(Json(
        state.core.direct_routing_onboarding(&actor, &name).await?,
    ))
}
