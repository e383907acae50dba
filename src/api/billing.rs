//! Billable users (a Numbat addition, beside ACG's operations): a month's users per service and
//! account as ACG bills them, from the daily counts.
//!
//! Translates the query to the core's report; holds no rule. Depends on the core.

use super::error::ApiError;
use super::extract::{ApiQuery, Caller};
use crate::provisioning::billing::{BillableUsers, Month};
use crate::provisioning::ProvisioningError;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct MonthQuery {
    pub month: Option<String>,
}

/// `GET /billableUsers?month=YYYY-MM` (none: this month, UTC).
pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(query): ApiQuery<MonthQuery>,
) -> Result<Json<BillableUsers>, ApiError> {
    let month = match query.month.as_deref() {
        None => Month::of(time::OffsetDateTime::now_utc().date()),
        Some(raw) => Month::parse(raw).map_err(ProvisioningError::invalid)?,
    };
    Ok(Json(state.core.billable_users(&actor, month).await?))
}
