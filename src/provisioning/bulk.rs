//! Bulk actions on many numbers (a selection, or everything a filter matches): delete, enable
//! or disable a service, set or clear the custom header value, move to another account.
//!
//! Each is one job, run like an import (`import`): in chunks of 1,000 numbers, each chunk one
//! transaction with its audit events and the job's progress; numbers a rule refuses are left
//! as they are and listed in the job's result.
//!
//! What a job does to which numbers is stored with it (`settings`), so an interrupted one can
//! be resumed by any process: a list of numbers goes on after the last item done, a filter's
//! matches (read in ascending order) after the last number done.

use super::import::{Import, ImportMode, ImportRow, ImportStart, Operation};
use super::labels::TagChange;
use super::{Actor, NumberFilter, NumberOrder, Permission, Provisioning, ProvisioningError};
use crate::domain::Code;
use crate::domain::{AccountName, CustomSipHeader, Number, Service, TelephoneNumber, Violation};
use crate::domain::{LineType, ProvisioningStatus, Tag, Tags};
use crate::store::jobs::{Job, Tally};
use crate::store::numbers as stored;
use serde::{Deserialize, Serialize};

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
    /// Add and take away tags.
    Tag(TagChange),
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
            Self::Tag(_) => "tag",
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
            Self::Tag(change) => change.describe(),
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
            Self::Tag(change) => Operation::Tag(change.clone()),
            _ => Operation::Upsert,
        }
    }

    /// The number as the action leaves it (before the rules have their say).
    fn apply(&self, number: &Number) -> Number {
        let mut number = number.clone();
        let services = &mut number.services;
        match self {
            Self::Delete | Self::MoveTo(_) | Self::Tag(_) => {}
            Self::SetHeader(header) => number.custom_sip_header = Some(header.clone()),
            Self::ClearHeader => number.custom_sip_header = None,
            Self::EnableService(service) => services.set_enabled(*service, true),
            Self::DisableService(service) => services.set_enabled(*service, false),
        }
        number
    }
}

/// A bulk job as stored, to resume it: the action and the selection, as text.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Plan {
    action: String,
    /// The service, header value or account the action names.
    argument: Option<String>,
    numbers: Option<Vec<String>>,
    filter: Option<StoredFilter>,
    /// A tag change's tags.
    add_tags: Option<Vec<String>>,
    remove_tags: Option<Vec<String>>,
}

/// A number filter's fields, as text.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct StoredFilter {
    account: Option<String>,
    service: Option<String>,
    status: Option<String>,
    line_type: Option<String>,
    prefix: Option<String>,
    contains: Option<String>,
    has_custom_header: Option<bool>,
    no_service: bool,
    tag: Option<String>,
}

impl Plan {
    /// `None` when the selection cannot be stored (a filter with a free expression).
    fn of(action: &BulkAction, selection: &Selection) -> Option<Plan> {
        let argument = match action {
            BulkAction::EnableService(s) | BulkAction::DisableService(s) => {
                Some(s.wire_name().to_owned())
            }
            BulkAction::SetHeader(h) => Some(h.to_string()),
            BulkAction::MoveTo(a) => Some(a.to_string()),
            BulkAction::Delete | BulkAction::ClearHeader | BulkAction::Tag(_) => None,
        };
        let tags = |tags: &crate::domain::Tags| Some(tags.iter().map(|t| t.to_string()).collect());
        let (add_tags, remove_tags) = match action {
            BulkAction::Tag(change) => (tags(&change.add), tags(&change.remove)),
            _ => (None, None),
        };
        let (numbers, filter) = match selection {
            Selection::Numbers(numbers) => {
                (Some(numbers.iter().map(|n| n.to_string()).collect()), None)
            }
            Selection::Matching(f) if f.expr.is_some() => return None,
            Selection::Matching(f) => (
                None,
                Some(StoredFilter {
                    account: f.account.as_ref().map(|a| a.to_string()),
                    service: f.service.map(|s| s.wire_name().to_owned()),
                    status: f.status.map(|s| s.as_str().to_owned()),
                    line_type: f.line_type.map(|l| l.as_str().to_owned()),
                    prefix: f.prefix.clone(),
                    contains: f.contains.clone(),
                    has_custom_header: f.has_custom_header,
                    no_service: f.no_service,
                    tag: f.tag.as_ref().map(|t| t.to_string()),
                }),
            ),
        };
        Some(Plan {
            action: action.name().to_owned(),
            argument,
            numbers,
            filter,
            add_tags,
            remove_tags,
        })
    }

    /// The action and selection back, or `None` when they do not read back.
    fn read(&self) -> Option<(BulkAction, Selection)> {
        let argument = || self.argument.as_deref();
        let service = || argument().and_then(Service::from_wire_name);
        let action = match self.action.as_str() {
            "delete" => BulkAction::Delete,
            "enableService" => BulkAction::EnableService(service()?),
            "disableService" => BulkAction::DisableService(service()?),
            "setHeader" => BulkAction::SetHeader(CustomSipHeader::parse(argument()?).ok()?),
            "clearHeader" => BulkAction::ClearHeader,
            "move" => BulkAction::MoveTo(AccountName::parse(argument()?).ok()?),
            "tag" => {
                let tags = |list: &Option<Vec<String>>| {
                    Tags::parse_list("tags", list.as_deref().unwrap_or_default()).ok()
                };
                BulkAction::Tag(TagChange {
                    add: tags(&self.add_tags)?,
                    remove: tags(&self.remove_tags)?,
                })
            }
            _ => return None,
        };
        let selection = match (&self.numbers, &self.filter) {
            (Some(numbers), None) => Selection::Numbers(
                numbers
                    .iter()
                    .map(|n| TelephoneNumber::parse(n).ok())
                    .collect::<Option<_>>()?,
            ),
            (None, Some(f)) => Selection::Matching(NumberFilter {
                account: match &f.account {
                    Some(a) => Some(AccountName::parse(a).ok()?),
                    None => None,
                },
                service: match &f.service {
                    Some(s) => Some(Service::from_wire_name(s)?),
                    None => None,
                },
                status: match &f.status {
                    Some(s) => Some(ProvisioningStatus::parse(s)?),
                    None => None,
                },
                line_type: match &f.line_type {
                    Some(l) => Some(LineType::ALL.into_iter().find(|t| t.as_str() == l)?),
                    None => None,
                },
                prefix: f.prefix.clone(),
                contains: f.contains.clone(),
                has_custom_header: f.has_custom_header,
                no_service: f.no_service,
                tag: match &f.tag {
                    Some(t) => Some(Tag::parse(t).ok()?),
                    None => None,
                },
                expr: None,
            }),
            _ => return None,
        };
        Some((action, selection))
    }
}

/// An interrupted job taken over, ready to go on.
pub enum Resumed {
    /// An import: feed its run the same file again, from the start (see `Import::push`).
    Import { run: Import, job: Job },
    /// A bulk action: give it to `run_bulk` with its action and selection.
    Bulk {
        run: Import,
        job: Job,
        action: BulkAction,
        selection: Selection,
    },
    /// An inventory action: give it to `run_inventory`.
    Inventory {
        run: super::inventory_job::InventoryRun,
        job: Job,
    },
}

impl Provisioning {
    /// Resumes interrupted job `id` (an import, a bulk or an inventory action) for `actor`, who needs the
    /// permissions its start needed: takes its lease over and returns the run, which goes on
    /// after what its committed chunks did.
    pub async fn resume_job(&self, actor: Actor, id: i64) -> Result<Resumed, ProvisioningError> {
        let job = self.job(&actor, id).await?;
        if job.kind == "import" {
            let (run, job) = self.take_over_job(actor, id, &[Permission::Write]).await?;
            return Ok(Resumed::Import { run, job });
        }
        if job.kind == super::inventory_job::KIND {
            let (run, job) = self.resume_inventory(actor, &job).await?;
            return Ok(Resumed::Inventory { run, job });
        }
        let plan = job
            .settings
            .as_deref()
            .and_then(|json| serde_json::from_str::<Plan>(json).ok())
            .and_then(|plan| plan.read());
        let Some((action, selection)) = plan else {
            return Err(ProvisioningError::Conflict(
                Violation::new(
                    "settings",
                    Code::NotResumable,
                    format!("job {id} cannot be resumed: what it was to do was not recorded; run the action again"),
                )
                .into(),
            ));
        };
        let (run, job) = self.take_over_job(actor, id, action.permissions()).await?;
        let run = run.doing(action.operation());
        Ok(Resumed::Bulk {
            run,
            job,
            action,
            selection,
        })
    }

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
        if run.resumes_after() == (0, None) {
            if let Some(plan) = Plan::of(action, &selection) {
                let json = serde_json::to_string(&plan).expect("a plan serialises");
                crate::store::jobs::set_settings(&self.db, run.job_id(), &json).await?;
            }
        }
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
        // A resumed run goes on after the last item (and number) its chunks did.
        let (done, last_key) = run.resumes_after();
        let mut line = done;
        let resume_after = last_key.and_then(|key| TelephoneNumber::parse(key).ok());
        match selection {
            Selection::Numbers(numbers) => {
                for number in numbers.into_iter().skip(usize::try_from(done).unwrap_or(0)) {
                    line += 1;
                    let current = stored::get(&self.db, &number).await?;
                    // A tag change is not about the number's settings: it needs no version.
                    let read_at_version = current
                        .as_ref()
                        .filter(|_| !matches!(action, BulkAction::Tag(_)))
                        .map(|r| r.version);
                    let number = match current {
                        Some(record) => Ok(action.apply(&record.number)),
                        None => Err(Violation::new(
                            "telephoneNumber",
                            Code::NumberNotFound,
                            format!("{number} does not exist (deleted meanwhile?)"),
                        )
                        .into()),
                    };
                    run.push(ImportRow {
                        line,
                        number,
                        read_at_version,
                        tags: None,
                    })
                    .await?;
                }
            }
            Selection::Matching(filter) => {
                let mut after: Option<TelephoneNumber> = resume_after;
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
                            read_at_version: (!matches!(action, BulkAction::Tag(_)))
                                .then_some(record.version),
                            tags: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_plan_reads_back_as_the_same_action_and_selection() {
        let filter = NumberFilter {
            account: Some(AccountName::parse("contoso").unwrap()),
            service: Some(Service::TeamsDirectRouting),
            status: Some(ProvisioningStatus::Failed),
            line_type: Some(LineType::Mobile),
            prefix: Some("+4420".into()),
            contains: Some("555".into()),
            has_custom_header: Some(true),
            no_service: false,
            tag: Some(Tag::parse("vip").unwrap()),
            expr: None,
        };
        let numbers = vec![TelephoneNumber::parse("+441632960501").unwrap()];
        let actions = [
            BulkAction::Delete,
            BulkAction::EnableService(Service::TeamsPhoneMobile),
            BulkAction::DisableService(Service::ZoomPhoneCloudPeering),
            BulkAction::SetHeader(CustomSipHeader::parse("abc-1").unwrap()),
            BulkAction::ClearHeader,
            BulkAction::MoveTo(AccountName::parse("fabrikam").unwrap()),
            BulkAction::Tag(TagChange {
                add: Tags::parse_text("add", "vip;site: Leeds").unwrap(),
                remove: Tags::parse_text("remove", "old").unwrap(),
            }),
        ];
        for action in actions {
            for selection in [
                Selection::Matching(filter.clone()),
                Selection::Numbers(numbers.clone()),
            ] {
                let json = serde_json::to_string(&Plan::of(&action, &selection).unwrap()).unwrap();
                let plan: Plan = serde_json::from_str(&json).unwrap();
                let (read_action, read_selection) = plan.read().expect("reads back");
                assert_eq!(read_action, action);
                match (read_selection, &selection) {
                    (Selection::Matching(read), Selection::Matching(given)) => {
                        assert_eq!(&read, given)
                    }
                    (Selection::Numbers(read), Selection::Numbers(given)) => {
                        assert_eq!(&read, given)
                    }
                    (read, _) => panic!("{json} read back as {read:?}"),
                }
            }
        }
    }

    #[test]
    fn a_broken_or_unknown_plan_does_not_read_back() {
        let broken: Plan =
            serde_json::from_str(r#"{"action":"move","argument":"Not An Account!","numbers":[]}"#)
                .unwrap();
        assert!(broken.read().is_none());
        let unknown: Plan = serde_json::from_str(r#"{"action":"explode","numbers":[]}"#).unwrap();
        assert!(unknown.read().is_none());
    }
}
