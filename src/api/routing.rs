//! The routing lookup: what the SIP edge does with a call to or from a number, for other SBCs
//! and scripts (a Numbat addition to ACG's API).

use super::error::ApiError;
use super::extract::{self, ApiQuery, Caller};
use crate::domain::Code;
use crate::domain::Violation;
use crate::routing::Direction;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct RoutingQuery {
    direction: Option<String>,
    subdomain: Option<String>,
    region: Option<u8>,
}

pub async fn decision(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(number): Path<String>,
    ApiQuery(query): ApiQuery<RoutingQuery>,
) -> Result<Json<crate::routing::Decision>, ApiError> {
    let number = extract::telephone_number(&number)?;
    let direction = match query.direction.as_deref() {
        Some(raw) => Direction::parse(raw).ok_or_else(|| {
            ApiError::invalid(Violation::new(
                "direction",
                Code::InvalidValue,
                "must be fromOperator (a call from the operator's network: the called number) or toOperator (a call toward it: the calling number)",
            ))
        })?,
        None => {
            return Err(ApiError::invalid(Violation::new(
                "direction",
                Code::Required,
                "is required: fromOperator or toOperator",
            )))
        }
    };
    let region = query.region.unwrap_or(1);
    if !(1..=2).contains(&region) {
        return Err(ApiError::invalid(Violation::new(
            "region",
            Code::InvalidValue,
            "must be 1 or 2",
        )));
    }
    let decision = state
        .core
        .routing_decision(
            &actor,
            &number,
            direction,
            query.subdomain.as_deref(),
            region,
        )
        .await?;
    Ok(Json(decision))
}
