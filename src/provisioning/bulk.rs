//! Bulk actions on many numbers (a selection, or everything a filter matches): delete, enable
//! or disable a service, set or clear the custom header value, move to another account.
//!
//! Each is one job, run like an import (`import`): in chunks of 1,000 numbers, each chunk one
//! transaction with its audit events and the job's progress; numbers a rule refuses are left
//! as they are and listed in the job's result.

use super::import::{Import, ImportMode, ImportRow, ImportStart, Operation};
use super::{Actor, NumberFilter, NumberOrder, Permission, Provisioning, ProvisioningError};
use crate::domain::{AccountName, CustomSipHeader, Number, Service, TelephoneNumber, Violation};
use crate::store::jobs::Tally;
use crate::store::numbers as stored;

/// Numbers read per page of a filter's matches.
const PAGE: i64 = 1000;

/// What to do to each number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BulkAction {
    Delete,
    EnableService(Service),
    DisableService(Service),
    SetHeader(CustomSipHeader),
    ClearHeader,
    MoveTo(AccountName),
}

/// Which numbers.
#[derive(Clone, Debug)]
pub enum Selection {
    Numbers(Vec<TelephoneNumber>),
    Matching(NumberFilter),
}

impl BulkAction {
    /// A stable name for the job list: `delete`, `enableService`, …
    pub fn name(&self) -> &'static str {
        match self {
            Self::Delete => "delete",
            Self::EnableService(_) => "enableService",
            Self::DisableService(_) => "disableService",
            Self::SetHeader(_) => "setHeader",
            Self::ClearHeader => "clearHeader",
            Self::MoveTo(_) => "move",
        }
    }

    /// What it does, in words.
    pub fn describe(&self) -> String {
        match self {
            Self::Delete => "Delete".to_owned(),
            Self::EnableService(s) => format!("Enable {}", s.label()),
            Self::DisableService(s) => format!("Disable {}", s.label()),
            Self::SetHeader(h) => format!("Set the custom header value to {h}"),
            Self::ClearHeader => "Clear the custom header value".to_owned(),
            Self::MoveTo(a) => format!("Move to account {a}"),
        }
    }

    fn permissions(&self) -> &'static [Permission] {
        match self {
            Self::Delete => &[Permission::Delete],
            Self::MoveTo(_) => &[Permission::Delete, Permission::Write],
            _ => &[Permission::Write],
        }
    }

    fn operation(&self) -> Operation {
        match self {
            Self::Delete => Operation::Delete,
            Self::MoveTo(account) => Operation::MoveTo(account.clone()),
            _ => Operation::Upsert,
        }
    }

    /// The number as the action leaves it (before the rules have their say).
    fn apply(&self, number: &Number) -> Number {
        let mut number = number.clone();
        let services = &mut number.services;
        match self {
            Self::Delete | Self::MoveTo(_) => {}
            Self::SetHeader(header) => number.custom_sip_header = Some(header.clone()),
            Self::ClearHeader => number.custom_sip_header = None,
            Self::EnableService(service) => services.set_enabled(*service, true),
            Self::DisableService(service) => services.set_enabled(*service, false),
        }
        number
    }
}

impl Provisioning {
    /// Starts a bulk action as a job; `selection_text` says which numbers, for its record.
    pub async fn start_bulk(
        &self,
        actor: Actor,
        action: &BulkAction,
        selection_text: &str,
        total: Option<i64>,
    ) -> Result<Import, ProvisioningError> {
        let (first, rest) = action
            .permissions()
            .split_first()
            .expect("every action needs a permission");
        for permission in rest {
            actor.permit(*permission)?;
        }
        let start = ImportStart {
            source: format!("{} — {selection_text}", action.describe()),
            mode: ImportMode::Apply,
            total_lines: total,
            upload: None,
            settings: None,
        };
        let run = self
            .start_job(actor, *first, "bulk", action.name(), start)
            .await?;
        Ok(run.doing(action.operation()))
    }

    /// Does `action` to every selected number, then finishes the job (or marks it failed).
    pub async fn run_bulk(
        &self,
        mut run: Import,
        action: &BulkAction,
        selection: Selection,
    ) -> Result<Tally, ProvisioningError> {
        match self.push_selection(&mut run, action, selection).await {
            Ok(()) => Ok(run.finish().await?.1),
            Err(error) => {
                let _ = run.fail(&error.to_string()).await;
                Err(error)
            }
        }
    }

    async fn push_selection(
        &self,
        run: &mut Import,
        action: &BulkAction,
        selection: Selection,
    ) -> Result<(), ProvisioningError> {
        let mut line = 0i64;
        match selection {
            Selection::Numbers(numbers) => {
                for number in numbers {
                    line += 1;
                    let current = stored::get(&self.db, &number).await?;
                    let read_at_version = current.as_ref().map(|r| r.version);
                    let number = match current {
                        Some(record) => Ok(action.apply(&record.number)),
                        None => Err(Violation::new(
                            "telephoneNumber",
                            "NumberNotFound",
                            format!("{number} does not exist (deleted meanwhile?)"),
                        )
                        .into()),
                    };
                    run.push(ImportRow {
                        line,
                        number,
                        read_at_version,
                    })
                    .await?;
                }
            }
            Selection::Matching(filter) => {
                let mut after: Option<TelephoneNumber> = None;
                loop {
                    let page = stored::list(
                        &self.db,
                        &filter,
                        NumberOrder::Ascending,
                        after.as_ref(),
                        PAGE,
                    )
                    .await?;
                    for record in &page {
                        line += 1;
                        run.push(ImportRow {
                            line,
                            number: Ok(action.apply(&record.number)),
                            read_at_version: Some(record.version),
                        })
                        .await?;
                    }
                    if (page.len() as i64) < PAGE {
                        break;
                    }
                    after = page.last().map(|r| r.number.telephone_number.clone());
                }
            }
        }
        Ok(())
    }
}
