//! Bulk import: numbers applied in chunks of `CHUNK_ROWS`, each chunk one transaction that
//! also records the run's progress; a dry run takes exactly the same path and rolls back.
//!
//! Invalid rows are skipped and reported (line, field, rule); every valid row of a chunk is
//! written or none is. A run killed part-way leaves whole chunks applied and its job row
//! saying how far it got; running the same file again finishes the work, the rows already
//! applied counting as unchanged.
//!
//! A run holds its job under a lease, renewed by a heartbeat and checked by every chunk's
//! transaction (which records the progress, the chunk's invalid rows and the lease together).
//! A job whose lease ran out is interrupted; resuming it takes the lease over and goes on from
//! the last committed line, so no row is applied twice and the tallies stay exact: the rows
//! before are read again only to know which numbers the file already had.

use super::inventory::Release;
use super::{
    audit_event, now, Actor, Change, Outcome, Permission, Precondition, Provisioning,
    ProvisioningError,
};
use crate::domain::Code;
use crate::domain::{AccountName, Number, Violation, Violations};
use crate::store::audit;
use crate::store::jobs::Lease;
use crate::store::jobs::{self, Job, NewJob, RowError, Tally};
use crate::store::Tx;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// Rows per chunk (one transaction each).
pub const CHUNK_ROWS: usize = 1000;

/// How long a bulk job stays its worker's without a heartbeat, unless configured; the worker
/// renews it every third of that.
pub const DEFAULT_JOB_LEASE: Duration = Duration::from_secs(30);

/// Whether a run writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Checks every row against every rule and what is stored, counts what would happen,
    /// and changes no number (it records only its own job, its invalid rows and the audit event
    /// of its start).
    DryRun,
    Apply,
}

impl ImportMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DryRun => "dryRun",
            Self::Apply => "apply",
        }
    }
}

/// One row as a door read it: its line in the file and the number, or why it is not one.
pub struct ImportRow {
    pub line: i64,
    pub number: Result<Number, Violations>,
    /// The version the number had when it was read (a bulk action's rows): a row whose number
    /// has changed or gone since is left alone, not overwritten with what was read.
    pub read_at_version: Option<i64>,
    /// The number's whole set of tags, when the file gives them (its `tags` column).
    pub tags: Option<crate::domain::Tags>,
}

/// What a run is, for its job row.
#[derive(Clone, Debug)]
pub struct ImportStart {
    /// The file's name as given.
    pub source: String,
    pub mode: ImportMode,
    /// Lines in the file, when the door counted them (for a progress bar).
    pub total_lines: Option<i64>,
    /// The kept upload a portal run reads.
    pub upload: Option<String>,
    /// How the door reads the file, as JSON, so a checked file can be applied alike.
    pub settings: Option<String>,
}

/// What a run does with each row's number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Creates or replaces it (an import, or a bulk change of its settings).
    Upsert,
    /// Deletes it from its account.
    Delete,
    /// Moves it to this account: deleted from its own, created in this one.
    MoveTo(AccountName),
    /// Adds and takes away tags (its number otherwise left as it is).
    Tag(super::labels::TagChange),
}

/// A run under way (an import, or a bulk action: see `bulk`). Feed it rows with `push`, then
/// `finish` it.
pub struct Import {
    core: Provisioning,
    actor: Actor,
    mode: ImportMode,
    operation: Operation,
    job_id: i64,
    pending: Vec<ImportRow>,
    /// Each number seen so far (its digits) and the line it was first on.
    seen: HashMap<u64, i64>,
    tally: Tally,
    kept_errors: i64,
    /// Rows up to this line were done before the run was resumed: they are only noted.
    done_through: i64,
    /// The last number the committed chunks did (a bulk action on a filter's matches).
    last_key: Option<String>,
    lease: Held,
}

/// The lease a run holds on its job, and the heartbeat renewing it while the run lives.
struct Held {
    owner: String,
    length: Duration,
    heartbeat: tokio::task::AbortHandle,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// A new lease holder's name: this process's prefix and a random part, so each run's is its
/// own and a lease names the process holding it.
fn lease_owner() -> String {
    format!("{}{:08x}", process_lease_prefix(), rand::random::<u32>())
}

/// `host:process:instance:`, the start of every lease this process holds, made once. The
/// random instance tells apart processes that share a host name and a process id (containers
/// on the host's network are all process 1).
fn process_lease_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "numbat".to_owned());
        format!(
            "{host}:{}:{:08x}:",
            std::process::id(),
            rand::random::<u32>()
        )
    })
}

/// Set as the process stops: runs write nothing more (their next chunk ends the run, and a
/// failure is not recorded), so their jobs can be handed back untouched.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn stopping() -> bool {
    STOPPING.load(std::sync::atomic::Ordering::SeqCst)
}

/// The error a run gets when its process stops under it.
fn handed_back(job_id: i64) -> ProvisioningError {
    ProvisioningError::Conflict(
        Violation::new(
            "job",
            Code::JobTakenOver,
            format!("this process is stopping: job {job_id} is handed back for any node to resume"),
        )
        .into(),
    )
}

fn lease_end(length: Duration) -> String {
    super::timestamp_of(time::OffsetDateTime::now_utc() + length)
}

impl Held {
    /// Starts renewing `owner`'s lease on job `job_id` every third of `length`.
    fn start(db: &crate::store::Database, job_id: i64, owner: String, length: Duration) -> Self {
        let (db, beat_owner) = (db.clone(), owner.clone());
        let heartbeat = tokio::spawn(async move {
            let mut every = tokio::time::interval(length / 3);
            every.tick().await;
            loop {
                every.tick().await;
                let until = lease_end(length);
                let lease = Lease {
                    owner: &beat_owner,
                    until: &until,
                };
                match jobs::renew(&db, job_id, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(
                            job = job_id,
                            "another process took this bulk job over; this run stops at its next chunk"
                        );
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(%error, job = job_id, "could not renew a bulk job's lease")
                    }
                }
            }
        })
        .abort_handle();
        Held {
            owner,
            length,
            heartbeat,
        }
    }
}

/// The error a run gets when its job was taken over by another process.
fn taken_over(job_id: i64) -> ProvisioningError {
    ProvisioningError::Conflict(
        Violation::new(
            "job",
            Code::JobTakenOver,
            format!("job {job_id} was taken over by another process, so this one stopped"),
        )
        .into(),
    )
}

impl Provisioning {
    /// Starts an import run, recorded as a job.
    pub async fn start_import(
        &self,
        actor: Actor,
        start: ImportStart,
    ) -> Result<Import, ProvisioningError> {
        let action = start.mode.as_str();
        self.start_job(actor, Permission::Write, "import", action, start)
            .await
    }

    /// Records a new job of `kind` (and its start in the audit trail: who ran what, through
    /// which door) and returns its run, if `actor` has `permission`.
    pub(super) async fn start_job(
        &self,
        actor: Actor,
        permission: Permission,
        kind: &str,
        action: &str,
        start: ImportStart,
    ) -> Result<Import, ProvisioningError> {
        let owner = lease_owner();
        let job_id = {
            let permit = actor.permit(permission)?;
            let at = now();
            let until = lease_end(self.job_lease);
            let mut tx = self.begin(&permit).await?;
            let job_id = jobs::start(
                &mut tx,
                &NewJob {
                    kind,
                    action,
                    source: &start.source,
                    actor: &actor.principal,
                    door: actor.door.as_str(),
                    at: &at,
                    total_lines: start.total_lines,
                    upload: start.upload.as_deref(),
                    settings: start.settings.as_deref(),
                    lease: Lease {
                        owner: &owner,
                        until: &until,
                    },
                },
            )
            .await?;
            let key = job_id.to_string();
            let what =
                serde_json::json!({ "kind": kind, "action": action, "source": start.source });
            let change = job_change("start", &key, &what);
            audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
            tx.commit().await?;
            job_id
        };
        Ok(Import {
            core: self.clone(),
            actor,
            mode: start.mode,
            operation: Operation::Upsert,
            job_id,
            pending: Vec::with_capacity(CHUNK_ROWS),
            seen: HashMap::new(),
            tally: Tally::default(),
            kept_errors: 0,
            done_through: 0,
            last_key: None,
            lease: Held::start(&self.db, job_id, owner, self.job_lease),
        })
    }

    /// Takes interrupted job `id` over for `actor` (who needs `permissions`) and returns its
    /// run, to be fed the same rows again from the start: those up to the last committed line
    /// are only noted. Its resumption is in the audit trail. Refused for a job that is not
    /// interrupted (finished, failed, or still held by a live worker).
    pub(super) async fn take_over_job(
        &self,
        actor: Actor,
        id: i64,
        permissions: &[Permission],
    ) -> Result<(Import, Job), ProvisioningError> {
        for permission in permissions {
            actor.permit(*permission)?;
        }
        let owner = lease_owner();
        let job = {
            let permit = actor.permit(permissions[0])?;
            let at = now();
            let until = lease_end(self.job_lease);
            let lease = Lease {
                owner: &owner,
                until: &until,
            };
            let mut tx = self.begin(&permit).await?;
            let Some(job) = jobs::take_over(&mut tx, id, &at, lease).await? else {
                tx.rollback().await?;
                let job = jobs::get(&self.db, id)
                    .await?
                    .ok_or_else(|| ProvisioningError::not_found("job", id.to_string()))?;
                let why = if job.state == "running" {
                    format!("job {id} is still running (its worker is alive)")
                } else {
                    format!(
                        "job {id} is {}: only an interrupted job can be resumed",
                        job.state
                    )
                };
                return Err(ProvisioningError::Conflict(
                    Violation::new("state", Code::JobNotInterrupted, why).into(),
                ));
            };
            let key = id.to_string();
            let what = serde_json::json!({
                "kind": job.kind, "action": job.action, "source": job.source,
                "fromLine": job.last_line,
            });
            let change = job_change("resume", &key, &what);
            audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
            tx.commit().await?;
            job
        };
        let kept_errors = jobs::error_count(&self.db, id)
            .await?
            .min(jobs::KEPT_ROW_ERRORS);
        let mode = if job.action == ImportMode::DryRun.as_str() {
            ImportMode::DryRun
        } else {
            ImportMode::Apply
        };
        let run = Import {
            core: self.clone(),
            actor,
            mode,
            operation: Operation::Upsert,
            job_id: id,
            pending: Vec::with_capacity(CHUNK_ROWS),
            seen: HashMap::new(),
            tally: Tally {
                rows_read: job.rows_read,
                created: job.created,
                changed: job.changed,
                unchanged: job.unchanged,
                invalid: job.invalid,
                last_line: job.last_line,
            },
            kept_errors,
            done_through: job.last_line,
            last_key: job.last_key.clone(),
            lease: Held::start(&self.db, id, owner, self.job_lease),
        };
        Ok((run, job))
    }

    /// Marks running jobs whose worker stopped renewing their lease as interrupted (they can
    /// then be resumed); how many. Every serving process does this now and then.
    pub async fn mark_interrupted_jobs(&self) -> Result<u64, ProvisioningError> {
        Ok(jobs::mark_interrupted(&self.db, &now()).await?)
    }

    /// Hands back every job this process is running, as it stops (SIGTERM): each becomes
    /// `interrupted` at once, for any node to resume, instead of when its lease would run out.
    /// The chunk under way either committed already or is refused. How many.
    pub async fn let_go_of_own_jobs(&self) -> Result<u64, ProvisioningError> {
        STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
        // A chunk may hold SQLite's write lock for a while: try again before giving up.
        let mut attempt = 0;
        loop {
            match jobs::let_go(&self.db, process_lease_prefix(), &now()).await {
                Ok(jobs) => return Ok(jobs),
                Err(error) if attempt >= 3 => return Err(error.into()),
                Err(_) => attempt += 1,
            }
        }
    }

    /// Takes a finished check's uploaded file for an apply; false when it was already taken
    /// (applied) or the job is not a finished check.
    pub async fn take_checked_upload(
        &self,
        actor: &Actor,
        id: i64,
        upload: &str,
    ) -> Result<bool, ProvisioningError> {
        actor.permit(Permission::Write)?;
        let taken = jobs::take_upload(&self.db, id, upload).await?;
        if taken {
            crate::store::uploads::keep_from(&self.db, upload, &now()).await?;
        }
        Ok(taken)
    }

    /// One bulk job (an import run or a bulk action).
    pub async fn job(&self, actor: &Actor, id: i64) -> Result<Job, ProvisioningError> {
        actor.permit(Permission::Read)?;
        jobs::get(&self.db, id)
            .await?
            .ok_or_else(|| ProvisioningError::not_found("job", id.to_string()))
    }

    /// The newest jobs first, only those of `kind` (`import`, `bulk`, `inventory`) when given.
    pub async fn jobs(
        &self,
        actor: &Actor,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Job>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(jobs::recent(&self.db, kind, limit).await?)
    }

    /// The rows a job could not take (the first `KEPT_ROW_ERRORS`), by line.
    pub async fn job_errors(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<Vec<RowError>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(jobs::errors(&self.db, id).await?)
    }
}

/// What one chunk did.
#[derive(Debug, Default)]
pub struct ChunkReport {
    /// Whether a chunk was processed (rows are held until a chunk is full).
    pub chunk_done: bool,
    /// The invalid rows of the chunk, by line.
    pub errors: Vec<RowError>,
}

impl Import {
    pub fn job_id(&self) -> i64 {
        self.job_id
    }

    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// The same run doing `operation` with each row (a bulk action's).
    pub(super) fn doing(mut self, operation: Operation) -> Self {
        self.operation = operation;
        self
    }

    /// Where a resumed run goes on: the last line (or item) done, and the last number done.
    pub fn resumes_after(&self) -> (i64, Option<&str>) {
        (self.done_through, self.last_key.as_deref())
    }

    /// Adds a row; when a chunk is full it is checked and (for an apply) written, and its
    /// invalid rows returned. A resumed run only notes the rows it had already done.
    pub async fn push(&mut self, row: ImportRow) -> Result<ChunkReport, ProvisioningError> {
        if row.line <= self.done_through {
            if let Ok(number) = &row.number {
                self.first_seen(number, row.line);
            }
            return Ok(ChunkReport::default());
        }
        self.pending.push(row);
        if self.pending.len() >= CHUNK_ROWS {
            self.flush().await
        } else {
            Ok(ChunkReport::default())
        }
    }

    /// Processes what is left and marks the run finished; returns the last chunk's report.
    pub async fn finish(mut self) -> Result<(ChunkReport, Tally), ProvisioningError> {
        let report = self.flush().await?;
        if !self.end(None).await? {
            return Err(taken_over(self.job_id));
        }
        Ok((report, self.tally))
    }

    /// Marks the run failed with `reason` (an unreadable file, a lost database), unless another
    /// process has taken the job over.
    pub async fn fail(self, reason: &str) -> Result<Tally, ProvisioningError> {
        if stopping() {
            // Stopped, not failed: the job is handed back as it was.
            return Ok(self.tally);
        }
        self.end(Some(reason)).await?;
        Ok(self.tally)
    }

    /// Ends the job, finished or failed with `failure`, with its audit event (`job.finish` or
    /// `job.fail`, carrying its counts) in the same transaction. False, with nothing changed,
    /// when another process has taken the job over.
    async fn end(&self, failure: Option<&str>) -> Result<bool, ProvisioningError> {
        let until = lease_end(self.lease.length);
        let lease = self.held(&until);
        let permit = self.actor.permit(Permission::Read)?;
        let at = now();
        let mut tx = self.core.begin(&permit).await?;
        let Some(job) =
            jobs::finish_in(&mut tx, self.job_id, &self.tally, failure, &at, lease).await?
        else {
            tx.rollback().await?;
            return Ok(false);
        };
        let key = job.id.to_string();
        let what = serde_json::json!({
            "kind": job.kind,
            "action": job.action,
            "source": job.source,
            "state": job.state,
            "startedAt": job.started_at,
            "finishedAt": job.finished_at,
            "totalLines": job.total_lines,
            "rowsRead": job.rows_read,
            "created": job.created,
            "changed": job.changed,
            "unchanged": job.unchanged,
            "invalid": job.invalid,
            "failure": job.failure,
        });
        let action = if failure.is_some() { "fail" } else { "finish" };
        let change = job_change(action, &key, &what);
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    fn held<'a>(&'a self, until: &'a str) -> Lease<'a> {
        Lease {
            owner: &self.lease.owner,
            until,
        }
    }

    async fn flush(&mut self) -> Result<ChunkReport, ProvisioningError> {
        if stopping() {
            return Err(handed_back(self.job_id));
        }
        if self.pending.is_empty() {
            return Ok(ChunkReport::default());
        }
        let rows = std::mem::take(&mut self.pending);
        let last_line = rows.last().map_or(self.tally.last_line, |r| r.line);
        let last_key = rows
            .iter()
            .rev()
            .find_map(|r| r.number.as_ref().ok())
            .map(|n| n.telephone_number.to_string());
        let mut errors = Vec::new();
        let mut valid: Vec<(i64, Number)> = Vec::with_capacity(rows.len());
        let read_at: HashMap<i64, i64> = rows
            .iter()
            .filter_map(|r| r.read_at_version.map(|v| (r.line, v)))
            .collect();
        let mut tags_of: HashMap<i64, crate::domain::Tags> = HashMap::new();
        for row in rows {
            if let Some(tags) = row.tags {
                tags_of.insert(row.line, tags);
            }
            match row.number {
                Err(violations) => errors.extend(row_errors(row.line, violations)),
                Ok(number) => match self.first_seen(&number, row.line) {
                    Some(first) => errors.push(RowError {
                        line: row.line,
                        key: Some(number.telephone_number.to_string()),
                        field: "telephoneNumber".into(),
                        code: "Duplicate".into(),
                        message: format!(
                            "{} is also on line {first}; a number may appear once per import",
                            number.telephone_number
                        ),
                    }),
                    None => valid.push((row.line, number)),
                },
            }
        }
        let mut chunk = Tally {
            last_line,
            ..Tally::default()
        };

        // Write the chunk; rows the core refuses are reported and the rest written again, so
        // the chunk is all of its valid rows or nothing.
        loop {
            let mut tx = self.core.db.begin().await?;
            let stale = changed_since_read(&mut tx, &valid, &read_at).await?;
            let (mut outcomes, mut refused) = if stale.is_empty() {
                self.write(&mut tx, &valid).await?
            } else {
                (Vec::new(), stale)
            };
            if refused.is_empty() && !tags_of.is_empty() {
                refused = self.retag(&mut tx, &valid, &tags_of, &mut outcomes).await?;
            }
            if refused.is_empty() {
                for outcome in outcomes {
                    match outcome {
                        Outcome::Created => chunk.created += 1,
                        Outcome::Replaced => chunk.changed += 1,
                        Outcome::Unchanged => chunk.unchanged += 1,
                    }
                }
                let lines: HashSet<i64> = errors.iter().map(|e| e.line).collect();
                chunk.invalid = lines.len() as i64;
                chunk.rows_read = chunk.created + chunk.changed + chunk.unchanged + chunk.invalid;
                let tally = self.tally.plus(&chunk);
                // The chunk, its progress and its invalid rows commit together, and only while
                // the run still holds its job; a check's chunk is rolled back first.
                if self.mode == ImportMode::DryRun {
                    tx.rollback().await?;
                    tx = self.core.db.begin().await?;
                }
                errors.sort_by_key(|e| e.line);
                self.keep_progress(&mut tx, &tally, last_key.as_deref(), &errors)
                    .await?;
                tx.commit().await?;
                self.tally = tally;
                if last_key.is_some() {
                    self.last_key = last_key;
                }
                break;
            }
            tx.rollback().await?;
            let refused_lines: HashSet<i64> = refused.iter().map(|e| e.line).collect();
            valid.retain(|(line, _)| !refused_lines.contains(line));
            errors.extend(refused);
        }
        self.kept_errors = (self.kept_errors + errors.len() as i64).min(jobs::KEPT_ROW_ERRORS);
        Ok(ChunkReport {
            chunk_done: true,
            errors,
        })
    }

    /// Records `tally` (the run's counts with a chunk's) and the chunk's refused rows in the
    /// chunk's own transaction, renewing the lease: the chunk commits with its progress, and
    /// only while the run still holds its job (otherwise `tx` must be dropped, rolling back).
    async fn keep_progress(
        &self,
        tx: &mut Tx,
        tally: &Tally,
        last_key: Option<&str>,
        errors: &[RowError],
    ) -> Result<(), ProvisioningError> {
        let until = lease_end(self.lease.length);
        let lease = self.held(&until);
        if !jobs::progress_in(tx, self.job_id, tally, last_key, &now(), lease).await? {
            return Err(taken_over(self.job_id));
        }
        jobs::keep_errors_in(tx, self.job_id, self.kept_errors, errors).await?;
        Ok(())
    }

    /// Commits a chunk a caller wrote itself in `tx` (an inventory action's: see
    /// `inventory_job`), with `chunk`'s counts and its refused rows as the job's progress.
    /// Refused (and `tx` rolled back) when the process is stopping or the job was taken over.
    pub(super) async fn commit_chunk(
        &mut self,
        mut tx: Tx,
        chunk: &Tally,
        errors: &[RowError],
    ) -> Result<(), ProvisioningError> {
        if stopping() {
            return Err(handed_back(self.job_id));
        }
        let tally = self.tally.plus(chunk);
        self.keep_progress(&mut tx, &tally, None, errors).await?;
        tx.commit().await?;
        self.tally = tally;
        self.kept_errors = (self.kept_errors + errors.len() as i64).min(jobs::KEPT_ROW_ERRORS);
        Ok(())
    }

    /// Who the run acts for.
    pub(super) fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The line `number` was first seen on, if it was; otherwise remembers this line.
    fn first_seen(&mut self, number: &Number, line: i64) -> Option<i64> {
        let digits: u64 = number.telephone_number.as_str()[1..]
            .parse()
            .expect("a telephone number is + and at most 15 digits");
        match self.seen.entry(digits) {
            std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(line);
                None
            }
        }
    }

    /// Does the run's operation on `valid` account by account in `tx`; the outcomes in order,
    /// or the rows the core refused (then `tx` holds a partial write and must be rolled back).
    async fn write(
        &self,
        tx: &mut Tx,
        valid: &[(i64, Number)],
    ) -> Result<(Vec<Outcome>, Vec<RowError>), ProvisioningError> {
        if self.operation == Operation::Upsert {
            // Every account's numbers in one go: a handful of statements per chunk.
            let permit = self.actor.permit(Permission::Write)?;
            let batch: Vec<Number> = valid.iter().map(|(_, n)| n.clone()).collect();
            let written = self
                .core
                .write_many(&permit, tx, batch, Precondition::NONE, None)
                .await;
            return match written {
                Ok(written) => Ok((written.into_iter().map(|w| w.outcome).collect(), Vec::new())),
                Err(error) => {
                    let all: Vec<usize> = (0..valid.len()).collect();
                    Ok((Vec::new(), refused_rows(error, &all, valid)?))
                }
            };
        }
        if let Operation::Tag(change) = &self.operation {
            let permit = self.actor.permit(Permission::Write)?;
            let keys: Vec<_> = valid
                .iter()
                .map(|(_, n)| n.telephone_number.clone())
                .collect();
            let steps = self.core.change_tags_in(&permit, tx, change, &keys).await?;
            let mut outcomes = Vec::with_capacity(steps.len());
            let mut refused = Violations::new();
            for (i, step) in steps.into_iter().enumerate() {
                match step {
                    Ok(true) => outcomes.push(Outcome::Replaced),
                    Ok(false) => outcomes.push(Outcome::Unchanged),
                    Err(violation) => refused.push(violation.in_item(i)),
                }
            }
            if refused.is_empty() {
                return Ok((outcomes, Vec::new()));
            }
            let all: Vec<usize> = (0..valid.len()).collect();
            let error = ProvisioningError::Invalid(refused);
            return Ok((Vec::new(), refused_rows(error, &all, valid)?));
        }
        let mut by_account: BTreeMap<&AccountName, Vec<usize>> = BTreeMap::new();
        for (index, (_, number)) in valid.iter().enumerate() {
            by_account
                .entry(&number.account_name)
                .or_default()
                .push(index);
        }
        let mut outcomes = vec![Outcome::Unchanged; valid.len()];
        let mut refused = Vec::new();
        for (account, indexes) in by_account {
            let batch: Vec<Number> = indexes.iter().map(|&i| valid[i].1.clone()).collect();
            let written = match &self.operation {
                Operation::Upsert | Operation::Tag(_) => unreachable!("written above in one go"),
                Operation::Delete => self.delete(tx, account, &batch, Release::Quarantine).await,
                Operation::MoveTo(target) if target == account => {
                    Ok(vec![Outcome::Unchanged; batch.len()])
                }
                Operation::MoveTo(target) => {
                    let moved = batch
                        .iter()
                        .map(|n| Number {
                            account_name: target.clone(),
                            ..n.clone()
                        })
                        .collect();
                    match self.delete(tx, account, &batch, Release::Move).await {
                        Err(error) => Err(error),
                        Ok(_) => {
                            let permit = self.actor.permit(Permission::Write)?;
                            self.core
                                .write_numbers(&permit, tx, target, moved, Precondition::NONE)
                                .await
                                .map(|w| vec![Outcome::Replaced; w.len()])
                        }
                    }
                }
            };
            match written {
                Ok(written) => {
                    for (&i, outcome) in indexes.iter().zip(written) {
                        outcomes[i] = outcome;
                    }
                }
                Err(error) => refused.extend(refused_rows(error, &indexes, valid)?),
            }
        }
        Ok((outcomes, refused))
    }

    /// Gives the rows' numbers the tags their file gave (`tags_of`, by line), in `tx` after
    /// the numbers themselves were written; a number whose tags changed counts as changed. The
    /// rows the core refused, if any (then `tx` must be rolled back).
    async fn retag(
        &self,
        tx: &mut Tx,
        valid: &[(i64, Number)],
        tags_of: &HashMap<i64, crate::domain::Tags>,
        outcomes: &mut [Outcome],
    ) -> Result<Vec<RowError>, ProvisioningError> {
        let given: Vec<usize> = (0..valid.len())
            .filter(|&i| tags_of.contains_key(&valid[i].0))
            .collect();
        if given.is_empty() {
            return Ok(Vec::new());
        }
        let permit = self.actor.permit(Permission::Write)?;
        let numbers: Vec<_> = given
            .iter()
            .map(|&i| valid[i].1.telephone_number.clone())
            .collect();
        let tags: Vec<_> = given
            .iter()
            .map(|&i| tags_of[&valid[i].0].clone())
            .collect();
        let steps = self.core.set_tags_in(&permit, tx, &numbers, &tags).await?;
        let mut refused = Violations::new();
        for (item, (&i, step)) in given.iter().zip(steps).enumerate() {
            match step {
                Ok(true) if outcomes[i] == Outcome::Unchanged => outcomes[i] = Outcome::Replaced,
                Ok(_) => {}
                Err(violation) => refused.push(violation.in_item(item)),
            }
        }
        if refused.is_empty() {
            return Ok(Vec::new());
        }
        refused_rows(ProvisioningError::Invalid(refused), &given, valid)
    }

    /// Deletes `batch` from `account`; each counts as a change.
    async fn delete(
        &self,
        tx: &mut Tx,
        account: &AccountName,
        batch: &[Number],
        release: Release,
    ) -> Result<Vec<Outcome>, ProvisioningError> {
        let permit = self.actor.permit(Permission::Delete)?;
        let keys: Vec<_> = batch.iter().map(|n| n.telephone_number.clone()).collect();
        self.core
            .delete_numbers_in(&permit, tx, account, &keys, Precondition::NONE, release)
            .await?;
        Ok(vec![Outcome::Replaced; batch.len()])
    }
}

/// The rows whose number is no longer at the version it was read at (changed or deleted since),
/// with the lock on them held for the rest of `tx`.
async fn changed_since_read(
    tx: &mut Tx,
    valid: &[(i64, Number)],
    read_at: &HashMap<i64, i64>,
) -> Result<Vec<RowError>, ProvisioningError> {
    if read_at.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&crate::domain::TelephoneNumber> = valid
        .iter()
        .filter(|(line, _)| read_at.contains_key(line))
        .map(|(_, n)| &n.telephone_number)
        .collect();
    let now: HashMap<String, i64> = crate::store::numbers::fetch_for_update(tx, &keys)
        .await?
        .into_iter()
        .map(|r| (r.number.telephone_number.to_string(), r.version))
        .collect();
    Ok(valid
        .iter()
        .filter_map(|(line, number)| {
            let expected = read_at.get(line)?;
            let key = number.telephone_number.to_string();
            (now.get(&key) != Some(expected)).then(|| RowError {
                line: *line,
                field: "telephoneNumber".into(),
                code: "ChangedMeanwhile".into(),
                message: format!(
                    "{key} changed or was deleted after this job read it, so it was left as it is; run the action again to include it"
                ),
                key: Some(key),
            })
        })
        .collect())
}

/// The rows of one account's batch (`indexes` into `valid`) that `error` refuses, or the
/// error itself when it is not about particular rows.
fn refused_rows(
    error: ProvisioningError,
    indexes: &[usize],
    valid: &[(i64, Number)],
) -> Result<Vec<RowError>, ProvisioningError> {
    let row = |item: usize| &valid[indexes[item]];
    if let ProvisioningError::NotFound {
        resource: "account",
        key,
        items,
    } = &error
    {
        if items.is_empty() {
            return Ok(indexes
                .iter()
                .map(|&i| RowError {
                    line: valid[i].0,
                    key: Some(valid[i].1.telephone_number.to_string()),
                    field: "accountName".into(),
                    code: "AccountNotFound".into(),
                    message: format!("account {key} does not exist"),
                })
                .collect());
        }
    }
    let Some(violations) = error.violations() else {
        return Err(error);
    };
    let rows: Option<Vec<RowError>> = violations
        .iter()
        .map(|violation| {
            let (line, number) = row(violation.item.filter(|&i| i < indexes.len())?);
            Some(RowError {
                line: *line,
                key: Some(number.telephone_number.to_string()),
                field: violation.field.clone(),
                code: violation.code.as_str().to_owned(),
                message: violation.message.clone(),
            })
        })
        .collect();
    // A violation about no one row means the chunk cannot be written at all.
    rows.ok_or(error)
}

impl Tally {
    fn plus(&self, chunk: &Tally) -> Tally {
        Tally {
            rows_read: self.rows_read + chunk.rows_read,
            created: self.created + chunk.created,
            changed: self.changed + chunk.changed,
            unchanged: self.unchanged + chunk.unchanged,
            invalid: self.invalid + chunk.invalid,
            last_line: chunk.last_line.max(self.last_line),
        }
    }
}

fn row_errors(line: i64, violations: Violations) -> impl Iterator<Item = RowError> {
    violations.0.into_iter().map(move |v: Violation| RowError {
        line,
        key: None,
        field: v.field,
        code: v.code.as_str().to_owned(),
        message: v.message,
    })
}

/// The audit trail's record of a job's `action` (its start, a resume, its end): `what` it is
/// about.
fn job_change<'a>(action: &'a str, key: &'a str, what: &serde_json::Value) -> Change<'a> {
    Change {
        action,
        resource_type: "job",
        key,
        version: None,
        before: None,
        after: Some(what.to_string()),
        account: None,
    }
}
