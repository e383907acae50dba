//! The audit trail: who changed what, when, through which door, with before and after.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use serde::Serialize;

/// One change to one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: Option<i64>,
    pub at: String,
    pub actor: String,
    pub role: String,
    pub door: String,
    /// `create`, `replace`, `delete`, `update`.
    pub action: String,
    /// `account`, `number`, `requestForInformation`, `settings`, …
    pub resource_type: String,
    pub resource_key: String,
    /// The resource's version after the change (none after a delete).
    pub version: Option<i64>,
    /// JSON of the resource before and after; none where it did not exist.
    pub before: Option<String>,
    pub after: Option<String>,
    /// The account concerned: an account's own change, or one of its numbers'.
    pub account: Option<String>,
}

/// Which events to read; every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub resource_type: Option<String>,
    pub key: Option<String>,
    pub account: Option<String>,
    pub actor: Option<String>,
    /// From this time on (RFC 3339, or a date: compared as text).
    pub since: Option<String>,
    /// Before this time.
    pub until: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: String,
    actor: String,
    role: String,
    door: String,
    action: String,
    resource_type: String,
    resource_key: String,
    version: Option<i64>,
    before: Option<String>,
    after: Option<String>,
    account_name: Option<String>,
}

const ROWS_PER_STATEMENT: usize = 1000;

pub async fn record(tx: &mut Tx, events: &[AuditEvent]) -> Result<(), StoreError> {
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO audit_events (at, actor, role, door, action, resource_type, resource_key, version, before, after, account_name) ",
            );
            query.push_values(chunk, |mut row, event| {
                row.push_bind(event.at.clone())
                    .push_bind(event.actor.clone())
                    .push_bind(event.role.clone())
                    .push_bind(event.door.clone())
                    .push_bind(event.action.clone())
                    .push_bind(event.resource_type.clone())
                    .push_bind(event.resource_key.clone())
                    .push_bind(event.version)
                    .push_bind(event.before.clone())
                    .push_bind(event.after.clone())
                    .push_bind(event.account.clone());
            });
            query.build().execute(&mut *conn).await?;
        });
    }
    // Other nodes' routing indexes listen for this; PostgreSQL delivers it on commit.
    if let (Tx::Postgres(transaction), false) = (&mut *tx, events.is_empty()) {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(super::routing::CHANGES_CHANNEL)
            .execute(&mut **transaction)
            .await?;
    }
    Ok(())
}

/// Events about one resource (or every resource of a type when `key` is `None`), oldest first.
pub async fn list(
    db: &Database,
    resource_type: Option<&str>,
    key: Option<&str>,
    after_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEvent>, StoreError> {
    let filter = AuditFilter {
        resource_type: resource_type.map(str::to_owned),
        key: key.map(str::to_owned),
        ..AuditFilter::default()
    };
    list_page(db, &filter, AuditPage::OldestAfter(after_id), limit).await
}

/// Which end of the trail a page starts from.
#[derive(Clone, Copy, Debug)]
pub enum AuditPage {
    /// Oldest first, after this event id.
    OldestAfter(Option<i64>),
    /// Newest first, before this event id.
    NewestBefore(Option<i64>),
}

/// One page of events in either direction.
pub async fn list_page(
    db: &Database,
    filter: &AuditFilter,
    page: AuditPage,
    limit: i64,
) -> Result<Vec<AuditEvent>, StoreError> {
    let rows: Vec<AuditRow> = on_pool!(db, pool => {
        let mut query = sqlx::QueryBuilder::new(
            "SELECT id, at, actor, role, door, action, resource_type, resource_key, version, before, after, account_name \
             FROM audit_events WHERE TRUE",
        );
        for (column, value) in [
            (" AND resource_type = ", &filter.resource_type),
            (" AND resource_key = ", &filter.key),
            (" AND account_name = ", &filter.account),
            (" AND actor = ", &filter.actor),
            (" AND at >= ", &filter.since),
            (" AND at < ", &filter.until),
        ] {
            if let Some(value) = value {
                query.push(column).push_bind(value.clone());
            }
        }
        match page {
            AuditPage::OldestAfter(Some(id)) => { query.push(" AND id > ").push_bind(id); }
            AuditPage::NewestBefore(Some(id)) => { query.push(" AND id < ").push_bind(id); }
            _ => {}
        }
        query.push(match page {
            AuditPage::OldestAfter(_) => " ORDER BY id ASC LIMIT ",
            AuditPage::NewestBefore(_) => " ORDER BY id DESC LIMIT ",
        }).push_bind(limit);
        query.build_query_as().fetch_all(pool).await?
    });
    Ok(rows
        .into_iter()
        .map(|r| AuditEvent {
            id: Some(r.id),
            at: r.at,
            actor: r.actor,
            role: r.role,
            door: r.door,
            action: r.action,
            resource_type: r.resource_type,
            resource_key: r.resource_key,
            version: r.version,
            before: r.before,
            after: r.after,
            account: r.account_name,
        })
        .collect())
}
