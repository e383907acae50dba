//! Webhook subscriptions (a Numbat addition, beside ACG's operations; Admin role): make, list,
//! read and delete them, read their delivery log, resume a paused one, deliver again
//! everything since an event or a time, or one event now.
//!
//! Translates paths and bodies to the core's calls; holds no rule. Depends on the core.

use super::error::ApiError;
use super::extract::{Body, Caller};
use crate::provisioning::webhooks::{SubscriptionRequest, SubscriptionView};
use crate::state::AppState;
use crate::store::webhooks::Delivery;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

fn id_of(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no webhook {}", raw.chars().take(20).collect::<String>()),
        )
    })
}

#[derive(Serialize)]
pub struct Subscriptions {
    value: Vec<SubscriptionView>,
}

pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Subscriptions>, ApiError> {
    Ok(Json(Subscriptions {
        value: state.core.webhooks(&actor).await?,
    }))
}

pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Body(body): Body<SubscriptionRequest>,
) -> Result<Response, ApiError> {
    let made = state.core.create_webhook(&actor, body).await?;
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    Ok(Json(state.core.webhook(&actor, id_of(&id)?).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.core.delete_webhook(&actor, id_of(&id)?).await?;
    Ok(super::no_content())
}

#[derive(Serialize)]
pub struct Deliveries {
    value: Vec<Delivery>,
}

pub async fn deliveries(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Deliveries>, ApiError> {
    Ok(Json(Deliveries {
        value: state
            .core
            .webhook_deliveries(&actor, id_of(&id)?, 200)
            .await?,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Replay {
    /// An event's id, or an RFC 3339 time.
    pub since: String,
}

pub async fn replay(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(body): Body<Replay>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let id = id_of(&id)?;
    Ok(Json(
        state
            .core
            .change_webhook(&actor, id, false, Some(&body.since))
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Redeliver {
    /// The event's id.
    pub event: String,
}

/// Delivers one event again now, out of turn; answers with the attempt.
pub async fn redeliver(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    Body(body): Body<Redeliver>,
) -> Result<Json<Delivery>, ApiError> {
    let id = id_of(&id)?;
    Ok(Json(
        crate::hooks::redeliver(&state.core, &actor, id, &body.event).await?,
    ))
}

pub async fn resume(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let id = id_of(&id)?;
    Ok(Json(
        state.core.change_webhook(&actor, id, true, None).await?,
    ))
}

pub async fn rotate(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let id = id_of(&id)?;
    Ok(Json(state.core.rotate_webhook_secret(&actor, id).await?))
}
