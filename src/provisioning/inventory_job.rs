//! Inventory actions as jobs: each action (up to 10,000 numbers, by list or by range) is
//! recorded as a bulk job and done in chunks of 1,000 numbers, each chunk one transaction with
//! its audit events and the job's progress, so a job whose process died is resumed by any
//! process after its last committed chunk, and nothing is done twice. Its numbers and what to
//! do are stored with it, as the request a door would make. Depends on `inventory` (the rules
//! of each move) and `import` (the job's lease and progress).

use super::import::{Import, ImportMode, ImportStart, CHUNK_ROWS};
use super::inventory::{
    reservation_end, ActionReport, ActionRequest, InventoryAction, MAX_NUMBERS,
};
use super::{Actor, Provisioning, ProvisioningError};
use crate::domain::{Code, TelephoneNumber, Violation};
use crate::store::jobs::{Job, RowError, Tally};
use std::collections::HashSet;
use time::OffsetDateTime;

/// The job kind inventory actions are listed under.
pub const KIND: &str = "inventory";

/// An inventory job ready to run (new, or taken over to be resumed).
pub struct InventoryRun {
    run: Import,
    action: InventoryAction,
    numbers: Vec<TelephoneNumber>,
    /// When the job started: a reservation's or quarantine's period runs from then, whenever a
    /// chunk is done.
    clock: OffsetDateTime,
}

impl InventoryRun {
    pub fn job_id(&self) -> i64 {
        self.run.job_id()
    }

    pub fn action(&self) -> &InventoryAction {
        &self.action
    }
}

/// Which numbers, in words: the first and last of a list of many.
fn selection_text(numbers: &[TelephoneNumber]) -> String {
    match numbers {
        [] => "no numbers".to_owned(),
        [one] => one.to_string(),
        [first, .., last] => format!("{} numbers, {first} to {last}", numbers.len()),
    }
}

/// A refused number's result as a kept row of its job (its place in the action's list).
fn refusal_row(line: i64, number: &TelephoneNumber, violation: &Violation) -> RowError {
    RowError {
        line,
        key: Some(number.to_string()),
        field: violation.field.clone(),
        code: violation.code.as_str().to_owned(),
        message: violation.message.clone(),
    }
}

impl Provisioning {
    /// Does `action` to each of `numbers` (1–[`MAX_NUMBERS`]) as one job, with a result per
    /// number: a number a rule refuses is left as it is and named with the rule (also kept
    /// with the job); the others change, each with its audit event. A job that fails part-way
    /// (its account deleted meanwhile, the database gone) keeps the chunks it committed.
    pub async fn inventory_action(
        &self,
        actor: &Actor,
        action: &InventoryAction,
        numbers: &[TelephoneNumber],
    ) -> Result<ActionReport, ProvisioningError> {
        let run = self
            .start_inventory(actor.clone(), action, numbers.to_vec())
            .await?;
        // On a task of its own: a caller that goes away (a dropped HTTP request) does not leave
        // the job half done and waiting for a resume.
        let core = self.clone();
        tokio::spawn(async move { core.run_inventory(run).await })
            .await
            .unwrap_or_else(|stopped| std::panic::resume_unwind(stopped.into_panic()))
    }

    /// Checks an inventory action as a whole (who may, how many numbers, the account and the
    /// reservation's end) and records it as a job; nothing is done to a number yet.
    pub async fn start_inventory(
        &self,
        actor: Actor,
        action: &InventoryAction,
        numbers: Vec<TelephoneNumber>,
    ) -> Result<InventoryRun, ProvisioningError> {
        let permit = actor.permit(action.permission())?;
        if numbers.is_empty() || numbers.len() > MAX_NUMBERS {
            return Err(ProvisioningError::Invalid(
                Violation::new(
                    "numbers",
                    Code::BatchSize,
                    format!(
                        "must name 1–{MAX_NUMBERS} numbers; this action names {}",
                        numbers.len()
                    ),
                )
                .into(),
            ));
        }
        let clock = OffsetDateTime::now_utc();
        if let InventoryAction::Reserve { until, .. } = action {
            reservation_end(until.as_deref(), clock)
                .map_err(|v| ProvisioningError::Invalid(v.into()))?;
        }
        if let InventoryAction::Reserve { account, .. }
        | InventoryAction::Assign { account, .. }
        | InventoryAction::Release { account } = action
        {
            let mut tx = self.begin(&permit).await?;
            let found = crate::store::accounts::fetch_for_update(&mut tx, account).await?;
            tx.rollback().await?;
            if found.is_none() {
                return Err(ProvisioningError::not_found("account", account.as_str()));
            }
        }
        let request = action.request(&numbers);
        let start = ImportStart {
            source: format!("{} — {}", action.describe(), selection_text(&numbers)),
            mode: ImportMode::Apply,
            total_lines: Some(numbers.len() as i64),
            upload: None,
            settings: Some(serde_json::to_string(&request).expect("a request serialises")),
        };
        let run = self
            .start_job(actor, action.permission(), KIND, action.name(), start)
            .await?;
        // The job's own start, which a resume reads back too.
        let started = crate::store::jobs::get(&self.db, run.job_id())
            .await?
            .and_then(|job| start_of(&job.started_at));
        Ok(InventoryRun {
            run,
            action: action.clone(),
            numbers,
            clock: started.unwrap_or(clock),
        })
    }

    /// Takes interrupted inventory job `job` (already read) over for `actor`: its action and
    /// numbers read back from what it stored. Called by `resume_job`.
    pub(super) async fn resume_inventory(
        &self,
        actor: Actor,
        job: &Job,
    ) -> Result<(InventoryRun, Job), ProvisioningError> {
        let plan = job
            .settings
            .as_deref()
            .and_then(|json| serde_json::from_str::<ActionRequest>(json).ok())
            .and_then(|request| request.parse().ok());
        let Some((action, numbers)) = plan else {
            return Err(ProvisioningError::Conflict(
                Violation::new(
                    "settings",
                    Code::NotResumable,
                    format!(
                        "job {} cannot be resumed: what it was to do does not read back; run the action again",
                        job.id
                    ),
                )
                .into(),
            ));
        };
        let clock = start_of(&job.started_at).unwrap_or_else(OffsetDateTime::now_utc);
        let (run, job) = self
            .take_over_job(actor, job.id, &[action.permission()])
            .await?;
        Ok((
            InventoryRun {
                run,
                action,
                numbers,
                clock,
            },
            job,
        ))
    }

    /// Does the job's action to its numbers after the last chunk already done, a chunk at a
    /// time, then finishes the job (or marks it failed with the reason). The report holds the
    /// numbers this run did.
    pub async fn run_inventory(
        &self,
        inventory: InventoryRun,
    ) -> Result<ActionReport, ProvisioningError> {
        let InventoryRun {
            mut run,
            action,
            numbers,
            clock,
        } = inventory;
        let mut report = ActionReport {
            job_id: Some(run.job_id()),
            ..ActionReport::default()
        };
        match self
            .run_chunks(&mut run, &action, &numbers, clock, &mut report)
            .await
        {
            Ok(()) => {
                run.finish().await?;
                Ok(report)
            }
            Err(error) => {
                let _ = run.fail(&error.to_string()).await;
                Err(error)
            }
        }
    }

    async fn run_chunks(
        &self,
        run: &mut Import,
        action: &InventoryAction,
        numbers: &[TelephoneNumber],
        clock: OffsetDateTime,
        report: &mut ActionReport,
    ) -> Result<(), ProvisioningError> {
        let done = usize::try_from(run.resumes_after().0)
            .unwrap_or(0)
            .min(numbers.len());
        // Numbers of the chunks done before a resume still count as seen: named again later,
        // they are duplicates.
        let mut seen: HashSet<TelephoneNumber> = numbers[..done].iter().cloned().collect();
        let mut line = done as i64;
        for chunk in numbers[done..].chunks(CHUNK_ROWS) {
            let actor = run.actor().clone();
            let permit = actor.permit(action.permission())?;
            let mut tx = self.begin(&permit).await?;
            let part = self
                .inventory_chunk(&permit, &mut tx, action, chunk, &mut seen, clock)
                .await?;
            let mut errors = Vec::new();
            for (i, result) in part.results.iter().enumerate() {
                if let Some(violation) = &result.violation {
                    let at = line + i as i64 + 1;
                    errors.push(refusal_row(at, &result.telephone_number, violation));
                }
            }
            line += chunk.len() as i64;
            let tally = Tally {
                rows_read: chunk.len() as i64,
                created: 0,
                changed: part.done as i64,
                unchanged: part.unchanged as i64,
                invalid: part.refused as i64,
                last_line: line,
            };
            run.commit_chunk(tx, &tally, &errors).await?;
            report.extend(part);
        }
        Ok(())
    }
}

/// A stored time read back (a job's start).
fn start_of(stored: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(stored, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountName, CustomSipHeader, NumberServices, Quarantine, Service};

    #[test]
    fn every_action_stored_with_a_job_reads_back_as_itself() {
        let account = AccountName::parse("contoso").unwrap();
        let mut services = NumberServices::default();
        services.set_enabled(Service::TeamsDirectRouting, true);
        services.set_enabled(Service::AzureOperatorCallProtection, true);
        let numbers: Vec<TelephoneNumber> = ["+442071110000", "+442071110001"]
            .iter()
            .map(|n| TelephoneNumber::parse(n).unwrap())
            .collect();
        let actions = [
            InventoryAction::Add,
            InventoryAction::Remove,
            InventoryAction::Reserve {
                account: account.clone(),
                until: Some("2027-01-31".into()),
            },
            InventoryAction::Reserve {
                account: account.clone(),
                until: None,
            },
            InventoryAction::CancelReservation,
            InventoryAction::SetQuarantine(Quarantine::Days(90)),
            InventoryAction::SetQuarantine(Quarantine::Indefinitely),
            InventoryAction::EndQuarantine,
            InventoryAction::Assign {
                account: account.clone(),
                services: Box::new(services),
                custom_sip_header: Some(CustomSipHeader::parse("gold").unwrap()),
            },
            InventoryAction::Assign {
                account: account.clone(),
                services: Box::default(),
                custom_sip_header: None,
            },
            InventoryAction::Release { account },
        ];
        for action in actions {
            let json = serde_json::to_string(&action.request(&numbers)).unwrap();
            let request: ActionRequest = serde_json::from_str(&json).unwrap();
            let (read, read_numbers) = request.parse().expect(&json);
            assert_eq!(read, action, "{json}");
            assert_eq!(read_numbers, numbers);
        }
    }

    #[test]
    fn a_range_is_stored_as_its_two_ends_and_any_other_list_as_it_is() {
        let n = |s: &str| TelephoneNumber::parse(s).unwrap();
        let range: Vec<_> = crate::domain::NumberRange::parse("+442071110000", "+442071119999")
            .unwrap()
            .numbers()
            .collect();
        let stored = InventoryAction::Add.request(&range);
        assert_eq!(
            (
                stored.from.as_deref(),
                stored.to.as_deref(),
                &stored.telephone_numbers
            ),
            (Some("+442071110000"), Some("+442071119999"), &None)
        );
        let json = serde_json::to_string(&stored).unwrap();
        assert!(json.len() < 300, "{json}");
        assert_eq!(stored.parse().unwrap().1, range);
        for list in [
            vec![n("+442071110001"), n("+442071110000")],
            vec![n("+442071110000"), n("+442071110002")],
            vec![n("+442071110000"), n("+442071110000")],
            vec![n("+442071110000")],
        ] {
            let stored = InventoryAction::Add.request(&list);
            assert_eq!((&stored.from, &stored.to), (&None, &None), "{list:?}");
            assert_eq!(stored.parse().unwrap().1, list, "read back in its order");
        }
    }

    #[test]
    fn a_job_names_its_numbers_by_the_first_and_last() {
        let n = |s: &str| TelephoneNumber::parse(s).unwrap();
        assert_eq!(selection_text(&[n("+442071110000")]), "+442071110000");
        assert_eq!(
            selection_text(&[n("+442071110000"), n("+442071110001"), n("+442071110009")]),
            "3 numbers, +442071110000 to +442071110009"
        );
    }
}
