//! Bulk import: numbers applied in chunks of `CHUNK_ROWS`, each chunk one transaction that
//! also records the run's progress; a dry run takes exactly the same path and rolls back.
//!
//! Invalid rows are skipped and reported (line, field, rule); every valid row of a chunk is
//! written or none is. A run killed part-way leaves whole chunks applied and its job row
//! saying how far it got; running the same file again finishes the work, the rows already
//! applied counting as unchanged.

use super::{now, Actor, Outcome, Permission, Provisioning, ProvisioningError};
use crate::domain::{AccountName, Number, Violation, Violations};
use crate::store::imports::{self, ImportJob, NewJob, RowError, Tally};
use crate::store::Tx;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Rows per chunk (one transaction each).
pub const CHUNK_ROWS: usize = 1000;

/// Whether a run writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Checks every row against every rule and what is stored, counts what would happen,
    /// and writes nothing (but its own job row).
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
}

/// A run under way. Feed it rows with `push`, then `finish` it.
pub struct Import<'a> {
    core: &'a Provisioning,
    actor: &'a Actor,
    mode: ImportMode,
    job_id: i64,
    pending: Vec<ImportRow>,
    /// Each number seen so far (its digits) and the line it was first on.
    seen: HashMap<u64, i64>,
    tally: Tally,
    kept_errors: i64,
}

impl Provisioning {
    /// Starts an import run; `source` names the file for the job list and report.
    pub async fn start_import<'a>(
        &'a self,
        actor: &'a Actor,
        source: &str,
        mode: ImportMode,
    ) -> Result<Import<'a>, ProvisioningError> {
        actor.permit(Permission::Write)?;
        let job_id = imports::start(
            &self.db,
            &NewJob {
                source,
                mode: mode.as_str(),
                actor: &actor.principal,
                door: actor.door.as_str(),
                at: &now(),
            },
        )
        .await?;
        Ok(Import {
            core: self,
            actor,
            mode,
            job_id,
            pending: Vec::with_capacity(CHUNK_ROWS),
            seen: HashMap::new(),
            tally: Tally::default(),
            kept_errors: 0,
        })
    }

    pub async fn import_job(&self, actor: &Actor, id: i64) -> Result<ImportJob, ProvisioningError> {
        actor.permit(Permission::Read)?;
        imports::get(&self.db, id)
            .await?
            .ok_or_else(|| ProvisioningError::not_found("import", id.to_string()))
    }

    /// The newest import runs first.
    pub async fn import_jobs(
        &self,
        actor: &Actor,
        limit: i64,
    ) -> Result<Vec<ImportJob>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(imports::recent(&self.db, limit).await?)
    }

    /// The invalid rows kept for a run (the first `KEPT_ROW_ERRORS`), by line.
    pub async fn import_errors(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<Vec<RowError>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(imports::errors(&self.db, id).await?)
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

impl Import<'_> {
    pub fn job_id(&self) -> i64 {
        self.job_id
    }

    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Adds a row; when a chunk is full it is checked and (for an apply) written, and its
    /// invalid rows returned.
    pub async fn push(&mut self, row: ImportRow) -> Result<ChunkReport, ProvisioningError> {
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
        imports::finish(&self.core.db, self.job_id, &self.tally, None, &now()).await?;
        Ok((report, self.tally))
    }

    /// Marks the run failed with `reason` (an unreadable file, a lost database).
    pub async fn fail(self, reason: &str) -> Result<Tally, ProvisioningError> {
        imports::finish(
            &self.core.db,
            self.job_id,
            &self.tally,
            Some(reason),
            &now(),
        )
        .await?;
        Ok(self.tally)
    }

    async fn flush(&mut self) -> Result<ChunkReport, ProvisioningError> {
        if self.pending.is_empty() {
            return Ok(ChunkReport::default());
        }
        let rows = std::mem::take(&mut self.pending);
        let last_line = rows.last().map_or(self.tally.last_line, |r| r.line);
        let mut errors = Vec::new();
        let mut valid: Vec<(i64, Number)> = Vec::with_capacity(rows.len());
        for row in rows {
            match row.number {
                Err(violations) => errors.extend(row_errors(row.line, violations)),
                Ok(number) => match self.first_seen(&number, row.line) {
                    Some(first) => errors.push(RowError {
                        line: row.line,
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
        let invalid_lines: HashSet<i64> = errors.iter().map(|e| e.line).collect();
        let mut chunk = Tally {
            last_line,
            ..Tally::default()
        };

        // Write the chunk; rows the core refuses are reported and the rest written again, so
        // the chunk is all of its valid rows or nothing.
        loop {
            let mut tx = self.core.db.begin().await?;
            let (outcomes, refused) = self.write(&mut tx, &valid).await?;
            if refused.is_empty() {
                for outcome in outcomes {
                    match outcome {
                        Outcome::Created => chunk.created += 1,
                        Outcome::Replaced => chunk.changed += 1,
                        Outcome::Unchanged => chunk.unchanged += 1,
                    }
                }
                let mut lines: HashSet<i64> = invalid_lines.clone();
                lines.extend(errors.iter().map(|e| e.line));
                chunk.invalid = lines.len() as i64;
                chunk.rows_read = chunk.created + chunk.changed + chunk.unchanged + chunk.invalid;
                let tally = self.tally.plus(&chunk);
                match self.mode {
                    ImportMode::Apply => {
                        imports::progress_in(&mut tx, self.job_id, &tally, &now()).await?;
                        tx.commit().await?;
                    }
                    ImportMode::DryRun => {
                        tx.rollback().await?;
                        imports::progress(&self.core.db, self.job_id, &tally, &now()).await?;
                    }
                }
                self.tally = tally;
                break;
            }
            tx.rollback().await?;
            let refused_lines: HashSet<i64> = refused.iter().map(|e| e.line).collect();
            valid.retain(|(line, _)| !refused_lines.contains(line));
            errors.extend(refused);
        }
        errors.sort_by_key(|e| e.line);
        imports::keep_errors(&self.core.db, self.job_id, self.kept_errors, &errors).await?;
        self.kept_errors = (self.kept_errors + errors.len() as i64).min(imports::KEPT_ROW_ERRORS);
        Ok(ChunkReport {
            chunk_done: true,
            errors,
        })
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

    /// Writes `valid` account by account in `tx`; the outcomes in order, or the rows the core
    /// refused (then `tx` holds a partial write and must be rolled back).
    async fn write(
        &self,
        tx: &mut Tx,
        valid: &[(i64, Number)],
    ) -> Result<(Vec<Outcome>, Vec<RowError>), ProvisioningError> {
        let permit = self.actor.permit(Permission::Write)?;
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
            let line_of = |item: usize| valid[indexes[item]].0;
            match self
                .core
                .write_numbers(&permit, tx, account, batch, super::Precondition::None)
                .await
            {
                Ok(written) => {
                    for (&i, w) in indexes.iter().zip(written) {
                        outcomes[i] = w.outcome;
                    }
                }
                Err(ProvisioningError::NotFound {
                    resource: "account",
                    items,
                    ..
                }) if items.is_empty() => {
                    refused.extend(indexes.iter().map(|&i| RowError {
                        line: valid[i].0,
                        field: "accountName".into(),
                        code: "AccountNotFound".into(),
                        message: format!("account {account} does not exist"),
                    }));
                }
                Err(error) => {
                    let Some(violations) = error.violations() else {
                        return Err(error);
                    };
                    let rows: Option<Vec<RowError>> = violations
                        .iter()
                        .map(|violation| {
                            let (item, field) = split_item(&violation.field);
                            let item = item.filter(|&i| i < indexes.len())?;
                            Some(RowError {
                                line: line_of(item),
                                field: field.to_owned(),
                                code: violation.code.clone(),
                                message: violation.message.clone(),
                            })
                        })
                        .collect();
                    // A violation about no one row means the chunk cannot be written at all.
                    let Some(rows) = rows else {
                        return Err(error);
                    };
                    refused.extend(rows);
                }
            }
        }
        Ok((outcomes, refused))
    }
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

/// `numbers[3].serviceDetails…` → (Some(3), `serviceDetails…`).
fn split_item(field: &str) -> (Option<usize>, &str) {
    let Some(rest) = field.strip_prefix("numbers[") else {
        return (None, field);
    };
    let Some((index, rest)) = rest.split_once(']') else {
        return (None, field);
    };
    (index.parse().ok(), rest.trim_start_matches('.'))
}

fn row_errors(line: i64, violations: Violations) -> impl Iterator<Item = RowError> {
    violations.0.into_iter().map(move |v: Violation| RowError {
        line,
        field: v.field,
        code: v.code,
        message: v.message,
    })
}

#[cfg(test)]
mod tests {
    use super::split_item;

    #[test]
    fn an_item_path_splits_into_index_and_field() {
        assert_eq!(
            split_item("numbers[12].configuration.customSipHeader"),
            (Some(12), "configuration.customSipHeader")
        );
        assert_eq!(split_item("numbers[0]"), (Some(0), ""));
        assert_eq!(split_item("accountName"), (None, "accountName"));
    }
}
