//! Webhook subscriptions and their delivery log, as stored.
//!
//! A subscription reads the change feed from its own place (`cursor_xid`, `cursor_id`) and
//! delivers one event at a time, so its events arrive in commit order. A process delivering it
//! holds a lease (`lease_owner` until `lease_until`); every write of its progress is fenced on
//! that lease, so two nodes never deliver one subscription at once. Depends on the database.

use super::feed::Position;
use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Subscription {
    pub id: i64,
    pub url: String,
    /// Event types or resource types, comma-separated; empty for every event.
    pub types: String,
    pub account_name: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<String>,
    /// `active` or `paused`.
    pub state: String,
    pub paused_reason: Option<String>,
    pub cursor_xid: i64,
    pub cursor_id: i64,
    /// Failed attempts at the event it is on.
    pub failures: i32,
    pub failing_since: Option<String>,
    pub next_attempt_at: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// Attempts recorded, by outcome (delivered, failed to be tried again, parked).
    pub delivered: i64,
    pub failed: i64,
    pub parked: i64,
}

impl Subscription {
    pub fn position(&self) -> Position {
        Position {
            xid: self.cursor_xid,
            id: self.cursor_id,
        }
    }
}

/// One attempt at delivering one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: i64,
    #[serde(skip)]
    pub subscription_id: i64,
    pub event_id: String,
    pub event_type: String,
    /// `delivered`, `failed` (to be tried again) or `parked` (given up on).
    pub outcome: String,
    pub attempt: i32,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i32>,
    /// The start of its answer, or why there was none.
    pub answer: Option<String>,
    pub at: String,
    /// Who asked for this delivery of one event out of turn (a redelivery); none for the
    /// deliverer's own attempts.
    pub requested_by: Option<String>,
}

const COLUMNS: &str = "id, url, types, account_name, secret, previous_secret, previous_until, \
    state, paused_reason, cursor_xid, cursor_id, failures, failing_since, next_attempt_at, \
    lease_owner, lease_until, created_at, updated_at, version, delivered, failed, parked";

pub struct NewSubscription<'a> {
    pub url: &'a str,
    pub types: &'a str,
    pub account_name: Option<&'a str>,
    pub secret: &'a str,
    pub start: Position,
    pub at: &'a str,
}

pub async fn insert(tx: &mut Tx, new: &NewSubscription<'_>) -> Result<i64, StoreError> {
    const SQL: &str = "INSERT INTO webhook_subscriptions (url, types, account_name, secret, \
        cursor_xid, cursor_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
        RETURNING id";
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar(SQL)
            .bind(new.url)
            .bind(new.types)
            .bind(new.account_name)
            .bind(new.secret)
            .bind(new.start.xid)
            .bind(new.start.id)
            .bind(new.at)
            .fetch_one(&mut *conn)
            .await?
    }))
}

pub async fn list(db: &Database) -> Result<Vec<Subscription>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_subscriptions ORDER BY id");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await?))
}

pub async fn get(db: &Database, id: i64) -> Result<Option<Subscription>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_subscriptions WHERE id = $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?))
}

pub async fn get_in(tx: &mut Tx, id: i64) -> Result<Option<Subscription>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_subscriptions WHERE id = $1");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *conn).await?))
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<bool, StoreError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query("DELETE FROM webhook_deliveries WHERE subscription_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM webhook_subscriptions WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            == 1
    }))
}

/// Sets a subscription's state (`active` again clears its failures and reason), its place in
/// the feed (a replay), or both.
pub async fn update(
    tx: &mut Tx,
    id: i64,
    state: Option<(&str, Option<&str>)>,
    rewind_to: Option<Position>,
    at: &str,
) -> Result<(), StoreError> {
    const STATE: &str = "UPDATE webhook_subscriptions SET state = $2, paused_reason = $3, \
        failures = 0, failing_since = NULL, next_attempt_at = NULL, updated_at = $4, \
        version = version + 1 WHERE id = $1";
    const REWIND: &str = "UPDATE webhook_subscriptions SET cursor_xid = $2, cursor_id = $3, \
        failures = 0, failing_since = NULL, next_attempt_at = NULL, updated_at = $4, \
        version = version + 1 WHERE id = $1";
    on_tx!(tx, conn => {
        if let Some((state, reason)) = state {
            sqlx::query(STATE).bind(id).bind(state).bind(reason).bind(at).execute(&mut *conn).await?;
        }
        if let Some(position) = rewind_to {
            sqlx::query(REWIND)
                .bind(id)
                .bind(position.xid)
                .bind(position.id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
        }
    });
    Ok(())
}

/// Takes the lease of every active subscription that is due (its next attempt's time has come),
/// behind `end` (the feed's last event: it has events to go through) and not held by another
/// live process, for `owner` until `until`; the subscriptions taken.
pub async fn claim_due(
    db: &Database,
    owner: &str,
    now: &str,
    until: &str,
    end: Position,
) -> Result<Vec<Subscription>, StoreError> {
    let sql = format!(
        "UPDATE webhook_subscriptions SET lease_owner = $1, lease_until = $3 \
         WHERE state = 'active' AND (next_attempt_at IS NULL OR next_attempt_at <= $2) \
           AND (cursor_xid, cursor_id) < ($4, $5) \
           AND (lease_until IS NULL OR lease_until < $2 OR lease_owner = $1) \
         RETURNING {COLUMNS}"
    );
    Ok(on_pool!(db, pool => {
        sqlx::query_as(&sql)
            .bind(owner)
            .bind(now)
            .bind(until)
            .bind(end.xid)
            .bind(end.id)
            .fetch_all(pool)
            .await?
    }))
}

/// What one attempt did to a subscription.
pub struct Progress<'a> {
    /// Where it now is in the feed.
    pub position: Position,
    pub failures: i32,
    pub failing_since: Option<&'a str>,
    pub next_attempt_at: Option<&'a str>,
    /// Paused, with the reason.
    pub paused: Option<&'a str>,
}

/// Records attempts (`deliveries`) and the subscription's progress together, only while
/// `owner` holds its lease (not run out) and nobody changed the subscription since it was
/// taken at `version` (a replay, a pause, a new secret); false (nothing recorded) otherwise.
pub async fn record(
    db: &Database,
    id: i64,
    owner: &str,
    version: i64,
    deliveries: &[Delivery],
    progress: &Progress<'_>,
    at: &str,
) -> Result<bool, StoreError> {
    const PROGRESS: &str = "UPDATE webhook_subscriptions SET cursor_xid = $3, cursor_id = $4, \
        failures = $5, failing_since = $6, next_attempt_at = $7, \
        state = CASE WHEN $8 IS NULL THEN state ELSE 'paused' END, \
        paused_reason = COALESCE($8, paused_reason), updated_at = $9, \
        delivered = delivered + $11, failed = failed + $12, parked = parked + $13 \
        WHERE id = $1 AND lease_owner = $2 AND state = 'active' AND lease_until > $9 \
          AND version = $10";
    const DELIVERY: &str = "INSERT INTO webhook_deliveries (subscription_id, event_id, \
        event_type, outcome, attempt, status, answer, at) ";
    let count = |outcome: &str| deliveries.iter().filter(|d| d.outcome == outcome).count() as i64;
    let (delivered, failed, parked) = (count("delivered"), count("failed"), count("parked"));
    let mut tx = db.begin().await?;
    let held = on_tx!(&mut tx, conn => {
        let held = sqlx::query(PROGRESS)
            .bind(id)
            .bind(owner)
            .bind(progress.position.xid)
            .bind(progress.position.id)
            .bind(progress.failures)
            .bind(progress.failing_since)
            .bind(progress.next_attempt_at)
            .bind(progress.paused)
            .bind(at)
            .bind(version)
            .bind(delivered)
            .bind(failed)
            .bind(parked)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            == 1;
        // One statement for the batch (a round records at most a hundred or so at once).
        if held && !deliveries.is_empty() {
            let mut query = sqlx::QueryBuilder::new(DELIVERY);
            query.push_values(deliveries, |mut row, d| {
                row.push_bind(id)
                    .push_bind(d.event_id.clone())
                    .push_bind(d.event_type.clone())
                    .push_bind(d.outcome.clone())
                    .push_bind(d.attempt)
                    .push_bind(d.status)
                    .push_bind(d.answer.clone())
                    .push_bind(d.at.clone());
            });
            query.build().execute(&mut *conn).await?;
        }
        held
    });
    if held {
        tx.commit().await?;
    }
    Ok(held)
}

/// Records a delivery of one event out of turn (a redelivery an administrator asked for) in
/// the caller's transaction, counting it with the subscription's attempts; the subscription's
/// place in the feed is left as it is. The attempt's id, or none (nothing recorded) when the
/// subscription is gone.
pub async fn log_redelivery(tx: &mut Tx, id: i64, d: &Delivery) -> Result<Option<i64>, StoreError> {
    const COUNT: &str = "UPDATE webhook_subscriptions SET \
        delivered = delivered + CASE WHEN $2 = 'delivered' THEN 1 ELSE 0 END, \
        failed = failed + CASE WHEN $2 = 'failed' THEN 1 ELSE 0 END WHERE id = $1";
    const DELIVERY: &str = "INSERT INTO webhook_deliveries (subscription_id, event_id, \
        event_type, outcome, attempt, status, answer, at, requested_by) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
    Ok(on_tx!(tx, conn => {
        // First, so a subscription deleted meanwhile is seen (and, on PostgreSQL, locked).
        let counted = sqlx::query(COUNT)
            .bind(id)
            .bind(&d.outcome)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if counted == 0 {
            None
        } else {
            Some(
                sqlx::query_scalar(DELIVERY)
                    .bind(id)
                    .bind(&d.event_id)
                    .bind(&d.event_type)
                    .bind(&d.outcome)
                    .bind(d.attempt)
                    .bind(d.status)
                    .bind(&d.answer)
                    .bind(&d.at)
                    .bind(&d.requested_by)
                    .fetch_one(&mut *conn)
                    .await?,
            )
        }
    }))
}

/// Forgets delivery attempts recorded before `before` (a stored time); how many. The counts
/// on each subscription stay.
pub async fn forget_before(db: &Database, before: &str) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM webhook_deliveries WHERE at < $1";
    Ok(on_pool!(db, pool => sqlx::query(SQL).bind(before).execute(pool).await?.rows_affected()))
}

/// The newest attempts of a subscription first.
pub async fn deliveries(db: &Database, id: i64, limit: i64) -> Result<Vec<Delivery>, StoreError> {
    const SQL: &str = "SELECT id, subscription_id, event_id, event_type, outcome, attempt, \
        status, answer, at, requested_by FROM webhook_deliveries WHERE subscription_id = $1 \
        ORDER BY id DESC LIMIT $2";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).bind(id).bind(limit).fetch_all(pool).await?))
}

/// Gives a subscription a new secret, keeping the one it had valid until `previous_until`.
pub async fn rotate(
    tx: &mut Tx,
    id: i64,
    secret: &str,
    previous_until: &str,
    at: &str,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE webhook_subscriptions SET previous_secret = secret, \
        previous_until = $3, secret = $2, updated_at = $4, version = version + 1 WHERE id = $1";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(id)
            .bind(secret)
            .bind(previous_until)
            .bind(at)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}
