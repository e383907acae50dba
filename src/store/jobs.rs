//! Bulk jobs as stored (imports, and bulk actions on many numbers): their progress, tallies
//! and the rows they could not take, and the lease a running job is held under.
//!
//! A job's worker holds a lease (`lease_owner` until `lease_until`) and renews it while it works;
//! every write of progress is fenced on the lease, so once another process has taken a job over
//! the old worker can commit nothing more. A job whose lease ran out is `interrupted`: its worker
//! died, and any process may resume it.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use serde::Serialize;

/// How many invalid rows of one job are kept; the tally counts every one.
pub const KEPT_ROW_ERRORS: i64 = 10_000;

/// One job: an import run or a bulk action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: i64,
    /// `import`, `bulk` or `inventory`.
    pub kind: String,
    /// An import's `dryRun` or `apply`; a bulk or inventory action's name, e.g. `delete`.
    pub action: String,
    /// The file's name as given, or what a bulk action was asked to do.
    pub source: String,
    /// `running`, `finished`, `failed`, or `interrupted` (its worker died; it can be resumed).
    pub state: String,
    pub actor: String,
    pub door: String,
    pub started_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    /// Lines in the file (an import) or numbers selected (a bulk action), when known.
    pub total_lines: Option<i64>,
    pub rows_read: i64,
    pub created: i64,
    pub changed: i64,
    pub unchanged: i64,
    pub invalid: i64,
    /// The last line of the file (or item of the selection) whose chunk is done.
    pub last_line: i64,
    pub failure: Option<String>,
    /// The uploaded file a portal import reads, while it is kept.
    pub upload: Option<String>,
    /// How the file is read (account, service, …), or what a bulk action does to which
    /// numbers, as JSON.
    pub settings: Option<String>,
    /// The process holding the job while it runs, and until when.
    pub lease_owner: Option<String>,
    pub lease_until: Option<String>,
    /// A bulk action on a filter's matches: the last number its committed chunks did.
    pub last_key: Option<String>,
}

/// One invalid row: its line in the file, the field (a JSON path) and the broken rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct RowError {
    pub line: i64,
    /// The number concerned, when the row named one.
    pub key: Option<String>,
    pub field: String,
    pub code: String,
    pub message: String,
}

/// What a run has counted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub rows_read: i64,
    pub created: i64,
    pub changed: i64,
    pub unchanged: i64,
    pub invalid: i64,
    pub last_line: i64,
}

const JOB_COLUMNS: &str = "id, kind, action, source, state, actor, door, started_at, \
    updated_at, finished_at, total_lines, rows_read, created, changed, unchanged, invalid, \
    last_line, failure, upload, settings, lease_owner, lease_until, last_key";

/// Who holds a job, and until when (a stored time).
#[derive(Clone, Copy, Debug)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub until: &'a str,
}

pub struct NewJob<'a> {
    pub kind: &'a str,
    pub action: &'a str,
    pub source: &'a str,
    pub actor: &'a str,
    pub door: &'a str,
    pub at: &'a str,
    pub total_lines: Option<i64>,
    pub upload: Option<&'a str>,
    pub settings: Option<&'a str>,
    pub lease: Lease<'a>,
}

pub async fn start(tx: &mut Tx, job: &NewJob<'_>) -> Result<i64, StoreError> {
    const SQL: &str = "INSERT INTO bulk_jobs (kind, action, source, state, actor, door, \
        started_at, updated_at, total_lines, upload, settings, lease_owner, lease_until) \
        VALUES ($1, $2, $3, 'running', $4, $5, $6, $6, $7, $8, $9, $10, $11) RETURNING id";
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar(SQL)
            .bind(job.kind)
            .bind(job.action)
            .bind(job.source)
            .bind(job.actor)
            .bind(job.door)
            .bind(job.at)
            .bind(job.total_lines)
            .bind(job.upload)
            .bind(job.settings)
            .bind(job.lease.owner)
            .bind(job.lease.until)
            .fetch_one(&mut *conn)
            .await?
    }))
}

/// Records progress inside a chunk's own transaction, so it commits (or not) with the chunk,
/// and renews the lease. False (and nothing recorded) when the job is no longer `lease`'s
/// owner's: another process took it over, and the caller must roll the chunk back. A worker
/// whose job was marked interrupted while it was slow, but not taken over, takes it back.
pub async fn progress_in(
    tx: &mut Tx,
    id: i64,
    tally: &Tally,
    last_key: Option<&str>,
    at: &str,
    lease: Lease<'_>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE bulk_jobs SET rows_read = $2, created = $3, changed = $4, \
        unchanged = $5, invalid = $6, last_line = $7, updated_at = $8, \
        last_key = COALESCE($9, last_key), lease_until = $10, state = 'running' \
        WHERE id = $1 AND lease_owner = $11 AND state IN ('running', 'interrupted')";
    Ok(on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(id)
            .bind(tally.rows_read)
            .bind(tally.created)
            .bind(tally.changed)
            .bind(tally.unchanged)
            .bind(tally.invalid)
            .bind(tally.last_line)
            .bind(at)
            .bind(last_key)
            .bind(lease.until)
            .bind(lease.owner)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            == 1
    }))
}

/// Ends a job `lease`'s owner holds, in the caller's transaction (which records its audit event
/// alongside): `finished`, or `failed` with the reason; the lease is let go. Returns the job as
/// it ended, or none (and nothing changed) when the job is no longer theirs.
pub async fn finish_in(
    tx: &mut Tx,
    id: i64,
    tally: &Tally,
    failure: Option<&str>,
    at: &str,
    lease: Lease<'_>,
) -> Result<Option<Job>, StoreError> {
    if !progress_in(tx, id, tally, None, at, lease).await? {
        return Ok(None);
    }
    let sql = format!(
        "UPDATE bulk_jobs SET state = $2, failure = $3, finished_at = $4, lease_until = NULL \
         WHERE id = $1 RETURNING {JOB_COLUMNS}"
    );
    let state = if failure.is_some() {
        "failed"
    } else {
        "finished"
    };
    Ok(on_tx!(tx, conn => {
        sqlx::query_as(&sql)
            .bind(id)
            .bind(state)
            .bind(failure)
            .bind(at)
            .fetch_optional(&mut *conn)
            .await?
    }))
}

/// Renews `lease` (the worker's heartbeat); false when the job is no longer its owner's.
pub async fn renew(db: &Database, id: i64, lease: Lease<'_>) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE bulk_jobs SET lease_until = $2, state = 'running' \
        WHERE id = $1 AND lease_owner = $3 AND state IN ('running', 'interrupted')";
    Ok(on_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(id)
            .bind(lease.until)
            .bind(lease.owner)
            .execute(pool)
            .await?
            .rows_affected()
            == 1
    }))
}

/// Marks running jobs whose lease ran out before `now` as `interrupted`; how many.
/// (A job started by a version without leases has none, and is left alone.)
pub async fn mark_interrupted(db: &Database, now: &str) -> Result<u64, StoreError> {
    const SQL: &str = "UPDATE bulk_jobs SET state = 'interrupted' \
        WHERE state = 'running' AND lease_until IS NOT NULL AND lease_until <= $1";
    Ok(on_pool!(db, pool => sqlx::query(SQL).bind(now).execute(pool).await?.rows_affected()))
}

/// Hands back the running jobs whose lease owner starts with `owner_prefix` (one process's):
/// they become `interrupted` with no owner, so any process may resume them at once, and the
/// old worker's fenced writes fail from then on. How many.
pub async fn let_go(db: &Database, owner_prefix: &str, now: &str) -> Result<u64, StoreError> {
    const SQL: &str = "UPDATE bulk_jobs SET state = 'interrupted', lease_owner = NULL, \
        lease_until = NULL, updated_at = $2 \
        WHERE state = 'running' \
        AND substr(lease_owner, 1, length(CAST($1 AS TEXT))) = CAST($1 AS TEXT)";
    Ok(on_pool!(db, pool => sqlx::query(SQL)
        .bind(owner_prefix)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected()))
}

/// Takes an interrupted job (or a running one whose lease ran out before `now`) over for
/// `lease`'s owner, in the caller's transaction: the job as it now stands, or `None` when it
/// is not one to resume (finished, failed, or held by a live worker). Claims are serialised
/// by the row's lock, and the old worker's fenced writes fail from then on.
pub async fn take_over(
    tx: &mut Tx,
    id: i64,
    now: &str,
    lease: Lease<'_>,
) -> Result<Option<Job>, StoreError> {
    const SQL: &str = "UPDATE bulk_jobs SET state = 'running', lease_owner = $2, \
        lease_until = $3, updated_at = $4 \
        WHERE id = $1 AND (state = 'interrupted' \
        OR (state = 'running' AND lease_until IS NOT NULL AND lease_until <= $4))";
    let select = format!("SELECT {JOB_COLUMNS} FROM bulk_jobs WHERE id = $1");
    Ok(on_tx!(tx, conn => {
        let taken = sqlx::query(SQL)
            .bind(id)
            .bind(lease.owner)
            .bind(lease.until)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if taken == 1 {
            sqlx::query_as(&select).bind(id).fetch_optional(&mut *conn).await?
        } else {
            None
        }
    }))
}

/// How many invalid rows of a job are kept.
pub async fn error_count(db: &Database, id: i64) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM bulk_job_errors WHERE job_id = $1";
    Ok(on_pool!(db, pool => sqlx::query_scalar(SQL).bind(id).fetch_one(pool).await?))
}

/// Keeps invalid rows, up to `KEPT_ROW_ERRORS` per run (`already` are kept before these), in
/// the transaction that records the progress counting them.
pub async fn keep_errors_in(
    tx: &mut Tx,
    id: i64,
    already: i64,
    errors: &[RowError],
) -> Result<(), StoreError> {
    let room = usize::try_from(KEPT_ROW_ERRORS - already).unwrap_or(0);
    for chunk in errors[..errors.len().min(room)].chunks(1000) {
        on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO bulk_job_errors (job_id, line, key, field, code, message) ",
            );
            query.push_values(chunk, |mut row, error| {
                row.push_bind(id)
                    .push_bind(error.line)
                    .push_bind(error.key.clone())
                    .push_bind(error.field.clone())
                    .push_bind(error.code.clone())
                    .push_bind(error.message.clone());
            });
            query.build().execute(&mut *conn).await?;
        });
    }
    Ok(())
}

pub async fn get(db: &Database, id: i64) -> Result<Option<Job>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM bulk_jobs WHERE id = $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?))
}

/// The newest jobs first, without their settings; only those of `kind` when given.
pub async fn recent(db: &Database, kind: Option<&str>, limit: i64) -> Result<Vec<Job>, StoreError> {
    // Without each job's settings (an inventory job's list of numbers): `get` reads them.
    let columns = JOB_COLUMNS.replace("settings,", "CAST(NULL AS TEXT) AS settings,");
    let sql = format!(
        "SELECT {columns} FROM bulk_jobs WHERE ($1 IS NULL OR kind = $1) ORDER BY id DESC LIMIT $2"
    );
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(kind).bind(limit).fetch_all(pool).await?))
}

/// How many jobs there are of each kind and state, and the rows they have read, for `/metrics`.
pub async fn figures(db: &Database) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
    // PostgreSQL sums a BIGINT as NUMERIC: cast back, as the other counts do.
    const SQL: &str = "SELECT kind, state, COUNT(*), CAST(COALESCE(SUM(rows_read), 0) AS BIGINT) \
                       FROM bulk_jobs GROUP BY kind, state ORDER BY kind, state";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?))
}

/// A job's kept invalid rows, by line.
pub async fn errors(db: &Database, id: i64) -> Result<Vec<RowError>, StoreError> {
    const SQL: &str = "SELECT line, key, field, code, message FROM bulk_job_errors \
                       WHERE job_id = $1 ORDER BY line, field";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).bind(id).fetch_all(pool).await?))
}

/// Hands a finished check's kept upload over to the apply about to read it: true only for the
/// first caller, so a check is applied once.
pub async fn take_upload(db: &Database, id: i64, upload: &str) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE bulk_jobs SET upload = NULL \
        WHERE id = $1 AND upload = $2 AND action = 'dryRun' AND state = 'finished'";
    Ok(on_pool!(db, pool => {
        sqlx::query(SQL).bind(id).bind(upload).execute(pool).await?.rows_affected() == 1
    }))
}

/// Records what a job does (a bulk action's plan), so it can be resumed.
pub async fn set_settings(db: &Database, id: i64, settings: &str) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE bulk_jobs SET settings = $2 WHERE id = $1";
    on_pool!(db, pool => {
        sqlx::query(SQL).bind(id).bind(settings).execute(pool).await?;
    });
    Ok(())
}
