//! The outbox: changes to push to upstream platforms, written in the same transaction as the
//! change itself so none is lost or sent for a change that was rolled back.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxJob {
    pub id: Option<i64>,
    pub created_at: String,
    /// What to do upstream, e.g. `account.upsert`, `numbers.upsert`, `numbers.release`.
    pub kind: String,
    pub resource_type: String,
    pub resource_key: String,
    /// JSON the worker needs to do it.
    pub payload: String,
    pub state: String,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    created_at: String,
    kind: String,
    resource_type: String,
    resource_key: String,
    payload: String,
    state: String,
}

pub async fn enqueue(tx: &mut Tx, job: &OutboxJob) -> Result<(), StoreError> {
    const SQL: &str =
        "INSERT INTO outbox_jobs (created_at, kind, resource_type, resource_key, payload, state) \
                       VALUES ($1, $2, $3, $4, $5, 'pending')";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(&job.created_at)
            .bind(&job.kind)
            .bind(&job.resource_type)
            .bind(&job.resource_key)
            .bind(&job.payload)
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// Pending jobs, oldest first.
pub async fn pending(db: &Database, limit: i64) -> Result<Vec<OutboxJob>, StoreError> {
    const SQL: &str = "SELECT id, created_at, kind, resource_type, resource_key, payload, state \
                       FROM outbox_jobs WHERE state = 'pending' ORDER BY id LIMIT $1";
    let rows: Vec<JobRow> =
        on_pool!(db, pool => sqlx::query_as(SQL).bind(limit).fetch_all(pool).await?);
    Ok(rows
        .into_iter()
        .map(|r| OutboxJob {
            id: Some(r.id),
            created_at: r.created_at,
            kind: r.kind,
            resource_type: r.resource_type,
            resource_key: r.resource_key,
            payload: r.payload,
            state: r.state,
        })
        .collect())
}
