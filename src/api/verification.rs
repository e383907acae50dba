//! Service verification numbers (a Numbat addition, beside ACG's operations): every service's
//! test numbers and how far they are, and marking or unmarking numbers as test numbers.
//!
//! Translates JSON to the core's commands; holds no rule. Depends on the core.

use super::error::ApiError;
use super::extract::{Body, Caller};
use crate::provisioning::inventory::ActionReport;
use crate::provisioning::verification::{ServiceVerification, VerificationRequest};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;

#[derive(Serialize)]
pub struct VerificationList {
    pub value: Vec<ServiceVerification>,
}

/// `GET /verificationNumbers`
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<VerificationList>, ApiError> {
    let value = state.core.verification_status(&actor).await?;
    Ok(Json(VerificationList { value }))
}

/// `POST /verificationNumbers`: mark or unmark, with a result per number.
pub async fn act(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Body(body): Body<VerificationRequest>,
) -> Result<Json<ActionReport>, ApiError> {
    let (service, mark, numbers) = body.parse()?;
    Ok(Json(
        state
            .core
            .mark_verification(&actor, service, mark, &numbers)
            .await?,
    ))
}
