//! The outbox: changes to push to upstream platforms, written in the same transaction as the
//! change itself so none is lost or sent for a change that was rolled back; and the leased
//! batches sync workers take them in.
//!
//! A job concerns one resource. A job waits while an earlier job for the same resource is
//! unfinished, so one resource's changes go upstream in order. A worker claims jobs of one
//! `batch_group` (one kind, one tenant) together as a batch with its own idempotency key and a
//! lease; a batch whose lease ran out (its worker died, or it was put off after a transient
//! failure) is claimed again as it is, so a resend carries the same key.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use serde::Serialize;

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxJob {
    pub id: i64,
    pub created_at: String,
    /// What to do upstream: `number.upload`, `number.release`, `number.local`, `account.check`,
    /// `consent.relationship`.
    pub kind: String,
    pub resource_type: String,
    pub resource_key: String,
    pub batch_group: String,
    /// JSON the worker needs to do it.
    pub payload: String,
    /// `pending`, `running`, `done` or `failed`.
    pub state: String,
    /// How many times a worker took it (more than once only after a crash or a retry).
    pub claims: i64,
    pub last_error: Option<String>,
}

/// A job to write, in the transaction of the change it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    pub kind: String,
    pub resource_type: String,
    pub resource_key: String,
    /// Jobs with the same group may travel upstream together (same kind, same tenant).
    pub batch_group: String,
    pub payload: String,
}

const JOB_COLUMNS: &str =
    "id, created_at, kind, resource_type, resource_key, batch_group, payload, state, claims, last_error";

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    created_at: String,
    kind: String,
    resource_type: String,
    resource_key: String,
    batch_group: String,
    payload: String,
    state: String,
    claims: i32,
    last_error: Option<String>,
}

impl From<JobRow> for OutboxJob {
    fn from(r: JobRow) -> Self {
        OutboxJob {
            id: r.id,
            created_at: r.created_at,
            kind: r.kind,
            resource_type: r.resource_type,
            resource_key: r.resource_key,
            batch_group: r.batch_group,
            payload: r.payload,
            state: r.state,
            claims: i64::from(r.claims),
            last_error: r.last_error,
        }
    }
}

/// Rows per INSERT statement (well under both databases' bind limits).
const ROWS_PER_STATEMENT: usize = 1_000;

/// Writes `jobs`, pending, in the caller's transaction.
pub async fn enqueue(tx: &mut Tx, at: &str, jobs: &[NewJob]) -> Result<(), StoreError> {
    for chunk in jobs.chunks(ROWS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO outbox_jobs (created_at, kind, resource_type, resource_key, batch_group, payload, state) ",
            );
            query.push_values(chunk, |mut row, job| {
                row.push_bind(at.to_owned())
                    .push_bind(job.kind.clone())
                    .push_bind(job.resource_type.clone())
                    .push_bind(job.resource_key.clone())
                    .push_bind(job.batch_group.clone())
                    .push_bind(job.payload.clone())
                    .push_bind("pending");
            });
            query.build().execute(&mut *conn).await?;
        });
    }
    Ok(())
}

/// Unfinished jobs, oldest first.
pub async fn pending(db: &Database, limit: i64) -> Result<Vec<OutboxJob>, StoreError> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE state IN ('pending', 'running') ORDER BY id LIMIT $1"
    );
    let rows: Vec<JobRow> =
        on_pool!(db, pool => sqlx::query_as(&sql).bind(limit).fetch_all(pool).await?);
    Ok(rows.into_iter().map(OutboxJob::from).collect())
}

/// Every job about one resource, oldest first.
pub async fn jobs_for(
    db: &Database,
    resource_type: &str,
    resource_key: &str,
) -> Result<Vec<OutboxJob>, StoreError> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE resource_type = $1 AND resource_key = $2 ORDER BY id"
    );
    let rows: Vec<JobRow> = on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(resource_type)
        .bind(resource_key)
        .fetch_all(pool)
        .await?);
    Ok(rows.into_iter().map(OutboxJob::from).collect())
}

/// A batch a worker holds: its jobs travel upstream together under `idempotency_key`.
#[derive(Clone, Debug)]
pub struct Batch {
    pub id: i64,
    pub kind: String,
    pub idempotency_key: String,
    /// The upstream's order id, once the upstream accepted the batch.
    pub upstream_order: Option<String>,
    /// How many times a worker has taken this batch, this time included.
    pub attempts: i64,
    pub jobs: Vec<OutboxJob>,
}

#[derive(sqlx::FromRow)]
struct BatchRow {
    id: i64,
    kind: String,
    idempotency_key: String,
    upstream_order: Option<String>,
    attempts: i32,
}

/// A job is ready when it is pending and no earlier job for its resource is unfinished.
const READY: &str = "j.state = 'pending' AND NOT EXISTS (SELECT 1 FROM outbox_jobs e \
     WHERE e.resource_type = j.resource_type AND e.resource_key = j.resource_key \
     AND e.id < j.id AND e.state IN ('pending', 'running'))";

/// Takes a batch for `owner` until `lease_until`: first a batch whose lease ran out, else up to
/// `max_jobs` ready jobs of the oldest ready job's group as a new batch. `None` when there is
/// nothing to do. Claims are serialised (SQLite's write lock; an advisory lock on PostgreSQL),
/// so two workers never hold one job.
pub async fn claim(
    db: &Database,
    owner: &str,
    now: &str,
    lease_until: &str,
    max_jobs: i64,
) -> Result<Option<Batch>, StoreError> {
    let mut tx = db.begin().await?;
    if let Tx::Postgres(transaction) = &mut tx {
        sqlx::query("SELECT pg_advisory_xact_lock(7244187)")
            .execute(&mut **transaction)
            .await?;
    }
    const EXPIRED: &str =
        "SELECT id, kind, idempotency_key, upstream_order, attempts FROM sync_batches \
         WHERE state = 'running' AND lease_until <= $1 ORDER BY lease_until, id LIMIT 1";
    let expired: Option<BatchRow> = on_tx!(&mut tx, conn => {
        sqlx::query_as(EXPIRED).bind(now).fetch_optional(&mut *conn).await?
    });
    let batch_id = if let Some(row) = expired {
        row.id
    } else {
        let first =
            format!("SELECT j.batch_group FROM outbox_jobs j WHERE {READY} ORDER BY j.id LIMIT 1");
        let group: Option<String> = on_tx!(&mut tx, conn => {
            sqlx::query_scalar(&first).fetch_optional(&mut *conn).await?
        });
        let Some(group) = group else {
            tx.rollback().await?;
            return Ok(None);
        };
        let take = format!(
            "SELECT j.id, j.kind FROM outbox_jobs j WHERE {READY} AND j.batch_group = $1 ORDER BY j.id LIMIT $2"
        );
        let ids: Vec<(i64, String)> = on_tx!(&mut tx, conn => {
            sqlx::query_as(&take).bind(&group).bind(max_jobs).fetch_all(&mut *conn).await?
        });
        let kind = ids.first().map(|(_, k)| k.clone()).unwrap_or_default();
        let key = format!("numbat-{}", random_key());
        const INSERT: &str = "INSERT INTO sync_batches (kind, batch_group, idempotency_key, state, lease_until, created_at) \
                              VALUES ($1, $2, $3, 'running', $4, $5) RETURNING id";
        let batch_id: i64 = on_tx!(&mut tx, conn => {
            sqlx::query_scalar(INSERT)
                .bind(&kind)
                .bind(&group)
                .bind(&key)
                .bind(now)
                .bind(now)
                .fetch_one(&mut *conn)
                .await?
        });
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            on_tx!(&mut tx, conn => {
                let mut query = sqlx::QueryBuilder::new("UPDATE outbox_jobs SET state = 'running', batch_id = ");
                query.push_bind(batch_id);
                query.push(" WHERE id IN (");
                let mut list = query.separated(", ");
                for (id, _) in chunk {
                    list.push_bind(*id);
                }
                query.push(")");
                query.build().execute(&mut *conn).await?;
            });
        }
        batch_id
    };
    // Only a batch still running: on PostgreSQL its old owner may have finished it meanwhile.
    const LEASE: &str =
        "UPDATE sync_batches SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
         WHERE id = $3 AND state = 'running'";
    const COUNT_CLAIM: &str = "UPDATE outbox_jobs SET claims = claims + 1 WHERE batch_id = $1";
    const BATCH: &str = "SELECT id, kind, idempotency_key, upstream_order, attempts FROM sync_batches WHERE id = $1";
    let jobs_sql = format!("SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE batch_id = $1 ORDER BY id");
    let leased: u64 = on_tx!(&mut tx, conn => {
        sqlx::query(LEASE).bind(owner).bind(lease_until).bind(batch_id).execute(&mut *conn).await?.rows_affected()
    });
    if leased != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    let (row, jobs): (BatchRow, Vec<JobRow>) = on_tx!(&mut tx, conn => {
        sqlx::query(COUNT_CLAIM).bind(batch_id).execute(&mut *conn).await?;
        let row = sqlx::query_as(BATCH).bind(batch_id).fetch_one(&mut *conn).await?;
        let jobs = sqlx::query_as(&jobs_sql).bind(batch_id).fetch_all(&mut *conn).await?;
        (row, jobs)
    });
    tx.commit().await?;
    Ok(Some(Batch {
        id: row.id,
        kind: row.kind,
        idempotency_key: row.idempotency_key,
        upstream_order: row.upstream_order,
        attempts: i64::from(row.attempts),
        jobs: jobs.into_iter().map(OutboxJob::from).collect(),
    }))
}

fn random_key() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Extends `owner`'s lease on a batch; false when the batch is no longer `owner`'s (its lease
/// ran out and another worker took it), so the caller must stop working on it.
pub async fn renew(
    db: &Database,
    batch_id: i64,
    owner: &str,
    lease_until: &str,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE sync_batches SET lease_until = $1 \
                       WHERE id = $2 AND lease_owner = $3 AND state = 'running'";
    let done = on_pool!(db, pool => sqlx::query(SQL)
        .bind(lease_until)
        .bind(batch_id)
        .bind(owner)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(done == 1)
}

/// Remembers the upstream's order for a batch, so a worker that takes it over polls that order.
pub async fn set_upstream_order(
    db: &Database,
    batch_id: i64,
    order: &str,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE sync_batches SET upstream_order = $1 WHERE id = $2";
    on_pool!(db, pool => {
        sqlx::query(SQL).bind(order).bind(batch_id).execute(pool).await?;
    });
    Ok(())
}

/// Puts a batch off until `due` after a transient failure: any worker may take it then.
pub async fn put_off(
    db: &Database,
    batch_id: i64,
    owner: &str,
    due: &str,
    error: &str,
) -> Result<(), StoreError> {
    const SQL: &str =
        "UPDATE sync_batches SET lease_owner = NULL, lease_until = $1, last_error = $2 \
                       WHERE id = $3 AND lease_owner = $4 AND state = 'running'";
    on_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(due)
            .bind(error)
            .bind(batch_id)
            .bind(owner)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// How one job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEnd {
    Done,
    Failed(String),
}

/// Ends a batch and its jobs in the caller's transaction. False (and nothing changed) when the
/// batch is no longer `owner`'s.
pub async fn finish(
    tx: &mut Tx,
    batch_id: i64,
    owner: &str,
    at: &str,
    ends: &[(i64, JobEnd)],
) -> Result<bool, StoreError> {
    const BATCH: &str = "UPDATE sync_batches SET state = 'done', finished_at = $1 \
                         WHERE id = $2 AND lease_owner = $3 AND state = 'running'";
    const JOB: &str = "UPDATE outbox_jobs SET state = $1, last_error = $2, finished_at = $3 \
                       WHERE id = $4 AND batch_id = $5";
    const LEFTOVER: &str = "UPDATE outbox_jobs SET state = 'failed', \
        last_error = 'the worker reported no outcome for this job', finished_at = $1 \
        WHERE batch_id = $2 AND state = 'running'";
    on_tx!(tx, conn => {
        let owned = sqlx::query(BATCH)
            .bind(at)
            .bind(batch_id)
            .bind(owner)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if owned != 1 {
            return Ok(false);
        }
        for (job, end) in ends {
            let (state, error) = match end {
                JobEnd::Done => ("done", None),
                JobEnd::Failed(reason) => ("failed", Some(reason.as_str())),
            };
            sqlx::query(JOB)
                .bind(state)
                .bind(error)
                .bind(at)
                .bind(job)
                .bind(batch_id)
                .execute(&mut *conn)
                .await?;
        }
        // A job the worker gave no outcome for must not stay running (it would hold up every
        // later job for its resource).
        sqlx::query(LEFTOVER).bind(at).bind(batch_id).execute(&mut *conn).await?;
    });
    Ok(true)
}

/// The outbox's health: what is waiting, for how long, and what failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxFigures {
    /// Jobs not yet finished (pending or in a batch).
    pub queue_depth: i64,
    /// When the oldest unfinished job was written.
    pub oldest_created_at: Option<String>,
    /// Jobs that ended failed.
    pub failed: i64,
    /// Batches sent again after a transient failure or a worker's death (sum of extra attempts).
    pub resent: i64,
}

pub async fn figures(db: &Database) -> Result<OutboxFigures, StoreError> {
    const WAITING: &str =
        "SELECT COUNT(*), MIN(created_at) FROM outbox_jobs WHERE state IN ('pending', 'running')";
    const FAILED: &str = "SELECT COUNT(*) FROM outbox_jobs WHERE state = 'failed'";
    const RESENT: &str =
        "SELECT COALESCE(SUM(attempts - 1), 0) FROM sync_batches WHERE attempts > 1";
    let (queue_depth, oldest_created_at, failed, resent): (i64, Option<String>, i64, i64) = on_pool!(db, pool => {
        let (depth, oldest): (i64, Option<String>) = sqlx::query_as(WAITING).fetch_one(pool).await?;
        let failed: i64 = sqlx::query_scalar(FAILED).fetch_one(pool).await?;
        let resent: i64 = sqlx::query_scalar(RESENT).fetch_one(pool).await?;
        (depth, oldest, failed, resent)
    });
    Ok(OutboxFigures {
        queue_depth,
        oldest_created_at,
        failed,
        resent,
    })
}

/// A resource whose sync status a finished job sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    Number,
    Account,
    Consent,
}

impl Settled {
    /// The resource type its jobs carry.
    pub fn resource_type(self) -> &'static str {
        match self {
            Settled::Number => "number",
            Settled::Account => "account",
            Settled::Consent => "requestForInformation",
        }
    }

    fn table_and_key(self) -> (&'static str, &'static str) {
        match self {
            Settled::Number => ("numbers", "telephone_number"),
            Settled::Account => ("accounts", "name"),
            Settled::Consent => ("requests_for_information", "tenant_id"),
        }
    }
}

/// Sets a resource's sync status and errors from job `job_id`'s outcome, unless a later job for
/// the same resource is unfinished (that change has its own outcome to come) or the resource is
/// no longer pending (a change meanwhile left nothing to sync). The resource's row is locked
/// first, so a change committed meanwhile, with its job, is seen. True when updated.
pub async fn settle(
    tx: &mut Tx,
    resource: Settled,
    key: &str,
    job_id: i64,
    status: crate::domain::ProvisioningStatus,
    issues: &[super::accounts::ProvisioningIssue],
) -> Result<bool, StoreError> {
    let (table, column) = resource.table_and_key();
    let lock = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {column} = $1 \
         AND provisioning_status = 'pending'{}) AS found",
        tx.lock_clause()
    );
    const LATER: &str = "SELECT COUNT(*) FROM outbox_jobs WHERE resource_type = $1 \
                         AND resource_key = $2 AND id > $3 AND state IN ('pending', 'running')";
    let (found, later): (i64, i64) = on_tx!(tx, conn => {
        let found: i64 = sqlx::query_scalar(&lock).bind(key).fetch_one(&mut *conn).await?;
        let later: i64 = sqlx::query_scalar(LATER)
            .bind(resource.resource_type())
            .bind(key)
            .bind(job_id)
            .fetch_one(&mut *conn)
            .await?;
        (found, later)
    });
    if found == 0 || later > 0 {
        return Ok(false);
    }
    set_status(tx, resource, key, status, issues).await?;
    Ok(true)
}

/// Sets a resource's sync status and errors.
pub async fn set_status(
    tx: &mut Tx,
    resource: Settled,
    key: &str,
    status: crate::domain::ProvisioningStatus,
    issues: &[super::accounts::ProvisioningIssue],
) -> Result<(), StoreError> {
    let (table, column) = resource.table_and_key();
    let sql = format!(
        "UPDATE {table} SET provisioning_status = $1, provisioning_errors = $2 WHERE {column} = $3"
    );
    let errors = serde_json::to_string(issues).expect("issues serialise");
    on_tx!(tx, conn => {
        sqlx::query(&sql)
            .bind(status.as_str())
            .bind(errors)
            .bind(key)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

/// The newest job for a resource.
pub async fn last_job_for(
    tx: &mut Tx,
    resource_type: &str,
    resource_key: &str,
) -> Result<Option<OutboxJob>, StoreError> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE resource_type = $1 AND resource_key = $2 \
         ORDER BY id DESC LIMIT 1"
    );
    let row: Option<JobRow> = on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(resource_type).bind(resource_key).fetch_optional(&mut *conn).await?
    });
    Ok(row.map(OutboxJob::from))
}

/// Whether a job for this resource is still waiting or under way.
pub async fn unfinished_for(
    tx: &mut Tx,
    resource_type: &str,
    resource_key: &str,
) -> Result<bool, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM outbox_jobs WHERE resource_type = $1 \
                       AND resource_key = $2 AND state IN ('pending', 'running')";
    let waiting: i64 = on_tx!(tx, conn => {
        sqlx::query_scalar(SQL)
            .bind(resource_type)
            .bind(resource_key)
            .fetch_one(&mut *conn)
            .await?
    });
    Ok(waiting > 0)
}
