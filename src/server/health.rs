//! `/healthz` (the process answers) and `/readyz` (the database answers too), as JSON; and
//! `/metrics` in Prometheus' text format: HTTP requests by door, route and status with their
//! latency, bulk jobs by state, the outbox's figures (sync) and each webhook subscription's.
//! Anyone may ask, so a failure says only that the database is unavailable; its details go to
//! the log.

use super::AppState;
use crate::provisioning::webhooks::SubscriptionFigures;
use crate::telemetry::http::escape;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": crate::VERSION }))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = state.core.database_kind();
    match state.core.database_ready().await {
        Ok(schema_version) => (
            StatusCode::OK,
            Json(
                json!({ "status": "ready", "database": database, "schemaVersion": schema_version }),
            ),
        ),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": database })),
            )
        }
    }
}

/// Requests answered by this node; bulk jobs by kind and state; the outbox's queue depth, the
/// age of its oldest waiting job, failed jobs and resent batches (the last two from the
/// database, so the same on every node).
pub async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let from_database = async {
        let outbox = state.core.outbox_figures().await?;
        let jobs = state.core.job_figures().await?;
        let hooks = state.core.webhook_figures().await?;
        Ok::<_, crate::provisioning::ProvisioningError>((outbox, jobs, hooks))
    };
    // This node's request figures are in memory: they are given even when the database does
    // not answer, which is when they matter most.
    let mut text = String::new();
    let (figures, jobs, hooks) = match from_database.await {
        Ok(figures) => {
            text.push_str("# HELP numbat_database_up Whether the database answered this scrape.\n# TYPE numbat_database_up gauge\nnumbat_database_up 1\n");
            figures
        }
        Err(error) => {
            tracing::warn!(%error, "metrics: the database did not answer");
            text.push_str("# HELP numbat_database_up Whether the database answered this scrape.\n# TYPE numbat_database_up gauge\nnumbat_database_up 0\n");
            state.http_metrics.render(&mut text);
            return (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                text,
            )
                .into_response();
        }
    };
    let oldest_age = figures
        .oldest_created_at
        .as_deref()
        .and_then(|at| {
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()
        })
        .map_or(0.0, |at| {
            (time::OffsetDateTime::now_utc() - at)
                .as_seconds_f64()
                .max(0.0)
        });
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    metric(
        "numbat_outbox_queue_depth",
        "gauge",
        "Jobs for upstream platforms not yet finished.",
        figures.queue_depth.to_string(),
    );
    metric(
        "numbat_outbox_oldest_job_age_seconds",
        "gauge",
        "Age of the oldest unfinished job (0 when none waits).",
        format!("{oldest_age:.3}"),
    );
    metric(
        "numbat_outbox_failed_jobs",
        "gauge",
        "Jobs the upstream refused for good (or gave up on).",
        figures.failed.to_string(),
    );
    metric(
        "numbat_sync_batches_resent_total",
        "counter",
        "Times a batch was sent again after a transient failure or a worker's death.",
        figures.resent.to_string(),
    );
    // Two families over the same rows: how many jobs, and how many rows they read.
    // (name, help, whether it gives rows read rather than jobs)
    let families = [
        (
            "numbat_bulk_jobs",
            "Bulk jobs (imports and bulk actions) by kind and state.",
            false,
        ),
        (
            "numbat_bulk_job_rows_read",
            "Rows read by bulk jobs, by kind and state.",
            true,
        ),
    ];
    for (name, help, rows_read) in families {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for job in &jobs {
            text.push_str(&format!(
                "{name}{{kind=\"{}\",state=\"{}\"}} {}\n",
                escape(&job.0),
                escape(&job.1),
                if rows_read { job.3 } else { job.2 }
            ));
        }
    }
    render_webhooks(&mut text, &hooks);
    state.http_metrics.render(&mut text);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Each webhook subscription's attempts by outcome, whether it is paused, the events it has
/// still to go through and the age of the oldest (labelled by the subscription's id only: its
/// address may carry the receiver's key).
fn render_webhooks(text: &mut String, hooks: &[SubscriptionFigures]) {
    let now = time::OffsetDateTime::now_utc();
    let age = |at: &Option<String>| {
        at.as_deref()
            .and_then(|at| {
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()
            })
            .map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0))
    };
    text.push_str(
        "# HELP numbat_webhook_deliveries_total Delivery attempts by subscription and outcome (delivered; failed, tried again unless it was a redelivery an administrator asked for; parked, given up on).\n\
         # TYPE numbat_webhook_deliveries_total counter\n",
    );
    for hook in hooks {
        let a = hook.attempts;
        for (outcome, count) in [
            ("delivered", a.delivered),
            ("failed", a.failed),
            ("parked", a.parked),
        ] {
            text.push_str(&format!(
                "numbat_webhook_deliveries_total{{subscription=\"{}\",outcome=\"{outcome}\"}} {count}\n",
                hook.id
            ));
        }
    }
    // (name, help, each subscription's value)
    let gauges: [(&str, &str, Vec<String>); 3] = [
        (
            "numbat_webhook_paused",
            "Whether the subscription is paused (1) after an event kept failing.",
            hooks
                .iter()
                .map(|h| u8::from(h.state == "paused").to_string())
                .collect(),
        ),
        (
            "numbat_webhook_queue_depth",
            "Events of the feed the subscription has still to go through (counted up to 10000).",
            hooks.iter().map(|h| h.backlog.to_string()).collect(),
        ),
        (
            "numbat_webhook_oldest_undelivered_age_seconds",
            "Age of the oldest event the subscription has still to go through (0 when none).",
            hooks
                .iter()
                .map(|h| format!("{:.3}", age(&h.oldest_waiting_at)))
                .collect(),
        ),
    ];
    for (name, help, values) in gauges {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (hook, value) in hooks.iter().zip(values) {
            text.push_str(&format!("{name}{{subscription=\"{}\"}} {value}\n", hook.id));
        }
    }
}
