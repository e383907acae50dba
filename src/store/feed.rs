//! The change feed as stored: audit events of the resources other systems follow, read in the
//! order their transactions committed, from a position that survives restarts.
//!
//! SQLite has one writing transaction at a time, so events' ids are committed in order and a
//! position is the last id read. PostgreSQL hands out ids before commit, so a later id can commit
//! first: each event keeps its transaction's id (`xid`, migration 0017), and only events of
//! transactions older than every transaction still running are read, in (`xid`, id) order. A
//! transaction that commits later has a larger `xid` than every event read before it, so nothing
//! is skipped. Depends on the database alone.

use super::{Database, StoreError};

/// Where a reader is in the feed: after the event of transaction `xid` (0 on SQLite, and for
/// events written before the feed existed) with id `id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub xid: i64,
    pub id: i64,
}

/// One event of the feed, as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedRow {
    pub xid: i64,
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub door: String,
    pub action: String,
    pub resource_type: String,
    pub resource_key: String,
    pub version: Option<i64>,
    pub after: Option<String>,
    pub account_name: Option<String>,
}

/// The resource types the feed carries; the others (users, API tokens, sign-in locks) stay in
/// the audit trail only.
pub const RESOURCE_TYPES: [&str; 6] = [
    "account",
    "number",
    "requestForInformation",
    "teamsCivicAddress",
    "settings",
    "job",
];

const COLUMNS: &str = "id, at, actor, door, action, resource_type, resource_key, version, after, \
    account_name";

/// Up to `limit` events after `after`, in commit order.
pub async fn after(db: &Database, after: Position, limit: i64) -> Result<Vec<FeedRow>, StoreError> {
    let types = RESOURCE_TYPES.map(|t| format!("'{t}'")).join(", ");
    Ok(match db {
        Database::Sqlite(pool) => {
            let sql = format!(
                "SELECT 0 AS xid, {COLUMNS} FROM audit_events \
                 WHERE id > $1 AND resource_type IN ({types}) ORDER BY id LIMIT $2"
            );
            sqlx::query_as(&sql)
                .bind(after.id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        Database::Postgres(pool) => {
            // Only transactions that ended: every one below the snapshot's xmin has.
            let sql = format!(
                "SELECT (COALESCE(xid, '0'::xid8))::text::bigint AS xid, {COLUMNS} FROM audit_events \
                 WHERE (COALESCE(xid, '0'::xid8), id) > ($1::bigint::text::xid8, $2) \
                   AND (xid IS NULL OR xid < pg_snapshot_xmin(pg_current_snapshot())) \
                   AND resource_type IN ({types}) \
                 ORDER BY COALESCE(xid, '0'::xid8), id LIMIT $3"
            );
            sqlx::query_as(&sql)
                .bind(after.xid)
                .bind(after.id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
    })
}

/// The event at `at`, when the feed carries it (on PostgreSQL, once its transaction ended).
pub async fn one(db: &Database, at: Position) -> Result<Option<FeedRow>, StoreError> {
    let types = RESOURCE_TYPES.map(|t| format!("'{t}'")).join(", ");
    Ok(match db {
        Database::Sqlite(pool) => {
            let sql = format!(
                "SELECT 0 AS xid, {COLUMNS} FROM audit_events \
                 WHERE id = $1 AND $2 = 0 AND resource_type IN ({types})"
            );
            sqlx::query_as(&sql)
                .bind(at.id)
                .bind(at.xid)
                .fetch_optional(pool)
                .await?
        }
        Database::Postgres(pool) => {
            let sql = format!(
                "SELECT (COALESCE(xid, '0'::xid8))::text::bigint AS xid, {COLUMNS} FROM audit_events \
                 WHERE id = $2 AND COALESCE(xid, '0'::xid8) = $1::bigint::text::xid8 \
                   AND (xid IS NULL OR xid < pg_snapshot_xmin(pg_current_snapshot())) \
                   AND resource_type IN ({types})"
            );
            sqlx::query_as(&sql)
                .bind(at.xid)
                .bind(at.id)
                .fetch_optional(pool)
                .await?
        }
    })
}

/// The position of the last event readable now: where a reader starting "from now" begins.
pub async fn last(db: &Database) -> Result<Position, StoreError> {
    let types = RESOURCE_TYPES.map(|t| format!("'{t}'")).join(", ");
    Ok(match db {
        Database::Sqlite(pool) => {
            let sql = format!(
                "SELECT id FROM audit_events WHERE resource_type IN ({types}) \
                 ORDER BY id DESC LIMIT 1"
            );
            let id: Option<i64> = sqlx::query_scalar(&sql).fetch_optional(pool).await?;
            Position {
                xid: 0,
                id: id.unwrap_or(0),
            }
        }
        Database::Postgres(pool) => {
            let sql = format!(
                "SELECT (COALESCE(xid, '0'::xid8))::text::bigint, id FROM audit_events \
                 WHERE (xid IS NULL OR xid < pg_snapshot_xmin(pg_current_snapshot())) \
                   AND resource_type IN ({types}) \
                 ORDER BY COALESCE(xid, '0'::xid8) DESC, id DESC LIMIT 1"
            );
            let row: Option<(i64, i64)> = sqlx::query_as(&sql).fetch_optional(pool).await?;
            row.map_or(Position::default(), |(xid, id)| Position { xid, id })
        }
    })
}

/// The position just before the first event (in feed order) written at or after `at` (an
/// RFC 3339 time, compared as stored text), or the end when there is none.
pub async fn before_time(db: &Database, at: &str) -> Result<Position, StoreError> {
    let first: Option<(i64, i64)> = match db {
        Database::Sqlite(pool) => {
            sqlx::query_as("SELECT 0, id FROM audit_events WHERE at >= $1 ORDER BY id LIMIT 1")
                .bind(at)
                .fetch_optional(pool)
                .await?
        }
        Database::Postgres(pool) => {
            sqlx::query_as(
                "SELECT (COALESCE(xid, '0'::xid8))::text::bigint, id FROM audit_events \
                 WHERE at >= $1 ORDER BY COALESCE(xid, '0'::xid8), id LIMIT 1",
            )
            .bind(at)
            .fetch_optional(pool)
            .await?
        }
    };
    match first {
        Some((xid, id)) => Ok(Position { xid, id: id - 1 }),
        None => last(db).await,
    }
}

/// How many events come after `after` (counting at most `cap`), and the time of the first: a
/// subscription's backlog, for `/metrics`.
pub async fn backlog(
    db: &Database,
    after: Position,
    cap: i64,
) -> Result<(i64, Option<String>), StoreError> {
    let types = RESOURCE_TYPES.map(|t| format!("'{t}'")).join(", ");
    Ok(match db {
        Database::Sqlite(pool) => {
            let sql = format!(
                "SELECT COUNT(*), MIN(at) FROM (SELECT at FROM audit_events \
                 WHERE id > $1 AND resource_type IN ({types}) ORDER BY id LIMIT $2)"
            );
            sqlx::query_as(&sql)
                .bind(after.id)
                .bind(cap)
                .fetch_one(pool)
                .await?
        }
        Database::Postgres(pool) => {
            // The events a reader will be handed, in the same order: those of transactions
            // that ended.
            let sql = format!(
                "SELECT COUNT(*), MIN(at) FROM (SELECT at FROM audit_events \
                 WHERE (COALESCE(xid, '0'::xid8), id) > ($1::bigint::text::xid8, $2) \
                   AND (xid IS NULL OR xid < pg_snapshot_xmin(pg_current_snapshot())) \
                   AND resource_type IN ({types}) \
                 ORDER BY COALESCE(xid, '0'::xid8), id LIMIT $3) AS waiting"
            );
            sqlx::query_as(&sql)
                .bind(after.xid)
                .bind(after.id)
                .bind(cap)
                .fetch_one(pool)
                .await?
        }
    })
}
