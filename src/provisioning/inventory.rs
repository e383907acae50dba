//! The inventory and its lifecycle: a number is `available`, `reserved` for an account until a
//! date, `assigned` (in an account: ACG's numbers) or `quarantined` after its account released
//! it, then available again.
//!
//! Every move is here: the inventory's own actions (by number or by range, with a result per
//! number), the rules ACG's writes obey (an assignment takes a number out of the inventory, or
//! is refused when the number is held for or from another account; a release quarantines), and
//! the expiry of holds that ran out, which any number of nodes may run at once. Depends on
//! `domain` and `store`.

use super::{
    audit_event, now, timestamp_of, to_json, Actor, Change, Door, Permission, Permit, Provisioning,
    ProvisioningError, Role,
};
use crate::domain::{
    AccountName, Code, CustomSipHeader, InventoryState, Number, NumberRange, NumberServices,
    Quarantine, QuarantineDays, Service, TelephoneNumber, Violation, Violations,
};
use crate::store::inventory::{self as stored, HeldRecord, InventoryFilter};
use crate::store::numbers as assigned;
use crate::store::{accounts, audit, Tx};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;

const RESOURCE: &str = "number";

/// The most numbers one inventory action takes (a range of 10,000, or a list).
pub const MAX_NUMBERS: usize = crate::domain::NumberRange::MAX as usize;

/// The longest a reservation may run, from now.
pub const MAX_RESERVATION_DAYS: i64 = 365;

/// How long a reservation runs when the caller names no date.
pub const DEFAULT_RESERVATION_DAYS: i64 = 30;

/// What becomes of a number taken out of its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// Released (ACG's DELETE): quarantined for the deployment's period.
    Quarantine,
    /// Moving to another account in the same transaction: no quarantine.
    Move,
}

/// What to do to each number of an inventory action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InventoryAction {
    /// New numbers into the inventory, available.
    Add,
    /// Available numbers out of the inventory altogether.
    Remove,
    /// Available numbers (or ones this account released) held for `account` until `until`
    /// (RFC 3339, or a date: held through that day, UTC).
    Reserve {
        account: AccountName,
        until: Option<String>,
    },
    /// Reserved numbers back to available.
    CancelReservation,
    /// A quarantined number held for this long from now instead.
    SetQuarantine(Quarantine),
    /// Quarantined numbers available now.
    EndQuarantine,
    /// Numbers of the inventory into `account` (ACG's assignment, each under every rule a PUT
    /// obeys): available ones, or ones held for or released by that account.
    Assign {
        account: AccountName,
        /// Boxed: a service table is large beside the other actions.
        services: Box<NumberServices>,
        custom_sip_header: Option<CustomSipHeader>,
    },
    /// Numbers of `account` released, into quarantine (ACG's DELETE).
    Release { account: AccountName },
}

impl InventoryAction {
    /// The action's name on the wire and in the audit trail.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Reserve { .. } => "reserve",
            Self::CancelReservation => "cancelReservation",
            Self::SetQuarantine(_) => "setQuarantine",
            Self::EndQuarantine => "endQuarantine",
            Self::Assign { .. } => "assign",
            Self::Release { .. } => "release",
        }
    }

    pub(super) fn permission(&self) -> Permission {
        match self {
            Self::Remove | Self::Release { .. } => Permission::Delete,
            _ => Permission::Write,
        }
    }

    /// What it does, in words, for the job list.
    pub fn describe(&self) -> String {
        match self {
            Self::Add => "Add to the inventory".to_owned(),
            Self::Remove => "Remove from the inventory".to_owned(),
            Self::Reserve { account, .. } => format!("Reserve for account {account}"),
            Self::CancelReservation => "Cancel the reservation".to_owned(),
            Self::SetQuarantine(Quarantine::Days(days)) => format!("Quarantine for {days} days"),
            Self::SetQuarantine(Quarantine::Indefinitely) => "Quarantine indefinitely".to_owned(),
            Self::EndQuarantine => "End the quarantine".to_owned(),
            Self::Assign { account, .. } => format!("Assign to account {account}"),
            Self::Release { account } => format!("Release from account {account}"),
        }
    }

    /// The action as a door would ask for it, on `numbers`: what an inventory job stores to
    /// be resumed, read back by [`ActionRequest::parse`].
    pub(super) fn request(&self, numbers: &[TelephoneNumber]) -> ActionRequest {
        let mut request = ActionRequest {
            action: self.name().to_owned(),
            ..ActionRequest::default()
        };
        // A range is kept as its two ends (a tenth of the space); any other list as it is.
        let range = match numbers {
            [first, .., last] => NumberRange::parse(first.as_str(), last.as_str())
                .ok()
                .filter(|r| r.len() == numbers.len() && r.numbers().eq(numbers.iter().cloned())),
            _ => None,
        };
        match range {
            Some(_) => {
                request.from = numbers.first().map(|n| n.to_string());
                request.to = numbers.last().map(|n| n.to_string());
            }
            None => {
                request.telephone_numbers = Some(numbers.iter().map(|n| n.to_string()).collect())
            }
        }
        match self {
            Self::Add | Self::Remove | Self::CancelReservation | Self::EndQuarantine => {}
            Self::Reserve { account, until } => {
                request.account_name = Some(account.to_string());
                request.until = until.clone();
            }
            Self::SetQuarantine(period) => request.quarantine = Some(period.to_string()),
            Self::Assign {
                account,
                services,
                custom_sip_header,
            } => {
                request.account_name = Some(account.to_string());
                request.services = Some(
                    Service::ALL
                        .into_iter()
                        .filter(|s| services.is_enabled(*s))
                        .map(|s| s.wire_name().to_owned())
                        .collect(),
                );
                request.custom_sip_header = custom_sip_header.as_ref().map(|h| h.to_string());
            }
            Self::Release { account } => request.account_name = Some(account.to_string()),
        }
        request
    }
}

/// What an action did to one number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionOutcome {
    Done,
    /// It already stood as asked.
    Unchanged,
    /// A rule refused it; `violation` says which.
    Refused,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    pub telephone_number: TelephoneNumber,
    pub outcome: ActionOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violation: Option<Violation>,
}

/// An action's result per number, in the order the numbers were given, with the totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionReport {
    /// The job the action ran as (an inventory action's), listed with the other bulk jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
    pub done: usize,
    pub unchanged: usize,
    pub refused: usize,
    pub results: Vec<ActionResult>,
}

impl ActionReport {
    /// Adds a later chunk's results.
    pub(super) fn extend(&mut self, chunk: ActionReport) {
        self.done += chunk.done;
        self.unchanged += chunk.unchanged;
        self.refused += chunk.refused;
        self.results.extend(chunk.results);
    }

    fn push(&mut self, number: &TelephoneNumber, step: Step) {
        let outcome = match step {
            Step::Write(_) | Step::Delete => Ok(true),
            Step::Unchanged => Ok(false),
            Step::Refuse(v) => Err(v),
        };
        self.record(number, outcome);
    }

    /// Adds one number's result: changed (`Ok(true)`), left as it stood (`Ok(false)`) or
    /// refused by a rule; every action with a result per number reports through here.
    pub(crate) fn record(&mut self, number: &TelephoneNumber, step: Result<bool, Violation>) {
        let (outcome, violation) = match step {
            Ok(true) => (ActionOutcome::Done, None),
            Ok(false) => (ActionOutcome::Unchanged, None),
            Err(v) => (ActionOutcome::Refused, Some(v)),
        };
        match outcome {
            ActionOutcome::Done => self.done += 1,
            ActionOutcome::Unchanged => self.unchanged += 1,
            ActionOutcome::Refused => self.refused += 1,
        }
        self.results.push(ActionResult {
            telephone_number: number.clone(),
            outcome,
            violation,
        });
    }
}

/// One inventory action as a door receives it (the API's JSON, the command line's flags, the
/// portal's form): the action's name, its numbers by list or by range, and its arguments.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionRequest {
    pub action: String,
    #[serde(default)]
    pub telephone_numbers: Option<Vec<String>>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub account_name: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub quarantine: Option<String>,
    /// assign: the services each number gets, by their wire names (those without Teams
    /// settings: Direct Routing, Zoom, Call Protection; a Teams number is put one by one).
    #[serde(default)]
    pub services: Option<Vec<String>>,
    /// assign: the custom header value each number carries.
    #[serde(default)]
    pub custom_sip_header: Option<String>,
}

/// The action and its numbers, or every field that is wrong.
impl ActionRequest {
    pub fn parse(self) -> Result<(InventoryAction, Vec<TelephoneNumber>), ProvisioningError> {
        let body = self;
        let mut violations = Violations::new();
        let mut required = |field: &str, value: &Option<String>| {
            if value.is_none() {
                violations.push(Violation::new(
                    field,
                    Code::Required,
                    "is required for this action",
                ));
            }
        };
        let action = match body.action.as_str() {
            "add" => Some(InventoryAction::Add),
            "remove" => Some(InventoryAction::Remove),
            "cancelReservation" => Some(InventoryAction::CancelReservation),
            "endQuarantine" => Some(InventoryAction::EndQuarantine),
            "reserve" => {
                required("accountName", &body.account_name);
                None
            }
            "setQuarantine" => {
                required("quarantine", &body.quarantine);
                None
            }
            "assign" | "release" => {
                required("accountName", &body.account_name);
                None
            }
            _ => {
                violations.push(Violation::new(
                "action",
                Code::InvalidValue,
                "must be add, remove, reserve, cancelReservation, setQuarantine, endQuarantine, assign or release",
            ));
                None
            }
        };
        let action = match (action, body.action.as_str()) {
            (Some(action), _) => Some(action),
            (None, "reserve") => body
                .account_name
                .as_deref()
                .and_then(|raw| violations.parse("accountName", raw, AccountName::parse))
                .map(|account| InventoryAction::Reserve {
                    account,
                    until: body.until.clone(),
                }),
            (None, "setQuarantine") => body
                .quarantine
                .as_deref()
                .and_then(|raw| violations.parse("quarantine", raw, Quarantine::parse))
                .map(InventoryAction::SetQuarantine),
            (None, "release") => body
                .account_name
                .as_deref()
                .and_then(|raw| violations.parse("accountName", raw, AccountName::parse))
                .map(|account| InventoryAction::Release { account }),
            (None, "assign") => {
                let account = body
                    .account_name
                    .as_deref()
                    .and_then(|raw| violations.parse("accountName", raw, AccountName::parse));
                let mut services = NumberServices::default();
                for (i, raw) in body.services.iter().flatten().enumerate() {
                    match Service::from_wire_name(raw) {
                        Some(service) if service.traits().teams_tenant => {
                            violations.push(Violation::new(
                                format!("services[{i}]"),
                                Code::InvalidValue,
                                format!("{} numbers need their own settings (usage, address): put each one through ACG's PUT", service.label()),
                            ))
                        }
                        Some(service) => services.set_enabled(service, true),
                        None => violations.push(Violation::new(
                            format!("services[{i}]"),
                            Code::InvalidValue,
                            "must be a service's name (teamsDirectRouting, zoomPhoneCloudPeering, azureOperatorCallProtection, …)",
                        )),
                    }
                }
                let custom_sip_header = body.custom_sip_header.as_deref().and_then(|raw| {
                    violations.parse("customSipHeader", raw, CustomSipHeader::parse)
                });
                account.map(|account| InventoryAction::Assign {
                    account,
                    services: Box::new(services),
                    custom_sip_header,
                })
            }
            _ => None,
        };
        let numbers = numbers_listed_or_ranged(
            body.telephone_numbers.as_deref(),
            body.from.as_deref(),
            body.to.as_deref(),
            &mut violations,
        );
        match action {
            Some(action) if violations.is_empty() => Ok((action, numbers)),
            _ => Err(ProvisioningError::Invalid(violations)),
        }
    }
}

/// The numbers a request names, by list (`telephoneNumbers`, 1–[`MAX_NUMBERS`]) or by range
/// (`from`, `to`), never both; every problem goes into `violations` (then the list is empty or
/// partial). Shared by every action that takes numbers this way.
pub fn numbers_listed_or_ranged(
    list: Option<&[String]>,
    from: Option<&str>,
    to: Option<&str>,
    violations: &mut Violations,
) -> Vec<TelephoneNumber> {
    match (list, from, to) {
        (Some(list), None, None) if list.is_empty() || list.len() > MAX_NUMBERS => {
            violations.push(Violation::new(
                "telephoneNumbers",
                Code::BatchSize,
                format!(
                    "must hold 1–{MAX_NUMBERS} numbers; this one holds {}",
                    list.len()
                ),
            ));
            Vec::new()
        }
        (Some(list), None, None) => list
            .iter()
            .enumerate()
            .filter_map(|(i, raw)| {
                violations.parse(
                    &format!("telephoneNumbers[{i}]"),
                    raw,
                    TelephoneNumber::parse,
                )
            })
            .collect(),
        (None, Some(from), Some(to)) => match NumberRange::parse(from, to) {
            Ok(range) => range.numbers().collect(),
            Err(violation) => {
                violations.push(violation);
                Vec::new()
            }
        },
        _ => {
            violations.push(Violation::new(
                "telephoneNumbers",
                Code::Required,
                "give either telephoneNumbers or a range (from and to), not both",
            ));
            Vec::new()
        }
    }
}

/// The inventory list's filter from a door's text: a state other than assigned, an account, a
/// prefix of `+` and up to 15 digits, a tag; or every field that is wrong.
pub fn inventory_filter(
    state: Option<&str>,
    account: Option<&str>,
    prefix: Option<&str>,
    tag: Option<&str>,
) -> Result<InventoryFilter, ProvisioningError> {
    let mut violations = Violations::new();
    let state = state.and_then(|raw| {
        match InventoryState::parse(raw).filter(|s| *s != InventoryState::Assigned) {
            Some(state) => Some(state),
            None => {
                violations.push(Violation::new(
                    "state",
                    Code::InvalidValue,
                    "must be available, reserved or quarantined (assigned numbers are listed under /numbers)",
                ));
                None
            }
        }
    });
    let account = account.and_then(|raw| violations.parse("accountName", raw, AccountName::parse));
    let prefix = prefix.map(str::to_owned).filter(|p| {
        let digits = p.strip_prefix('+').unwrap_or(p);
        let fine = p.starts_with('+')
            && digits.len() < TelephoneNumber::MAX_LEN
            && digits.bytes().all(|b| b.is_ascii_digit());
        if !fine {
            violations.push(Violation::new(
                "prefix",
                Code::InvalidFormat,
                "must be + and up to 15 digits (e.g. +4420)",
            ));
        }
        fine
    });
    let tag = tag.and_then(|raw| violations.parse("tag", raw, crate::domain::Tag::parse));
    if !violations.is_empty() {
        return Err(ProvisioningError::Invalid(violations));
    }
    Ok(InventoryFilter {
        tag,
        state,
        account,
        prefix,
    })
}

/// Where one number stands, whichever table holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Standing {
    pub telephone_number: TelephoneNumber,
    pub state: InventoryState,
    /// The account it is in, reserved for, or was released by.
    pub account_name: Option<AccountName>,
    /// When its reservation or quarantine ends; none for an indefinite quarantine.
    pub until: Option<String>,
    pub version: i64,
    pub updated_at: String,
}

impl From<HeldRecord> for Standing {
    fn from(held: HeldRecord) -> Self {
        Self {
            telephone_number: held.telephone_number,
            state: held.state,
            account_name: held.account_name,
            until: held.until,
            version: held.version,
            updated_at: held.updated_at,
        }
    }
}

/// What one number's move comes to.
enum Step {
    Write(HeldRecord),
    Delete,
    Unchanged,
    Refuse(Violation),
}

/// The state a hold has at `at`: a reservation or quarantine whose time ran out is available,
/// whether or not expiry has got to it yet.
fn effective(held: &HeldRecord, at: &str) -> InventoryState {
    match (&held.state, &held.until) {
        (InventoryState::Reserved | InventoryState::Quarantined, Some(until))
            if until.as_str() <= at =>
        {
            InventoryState::Available
        }
        (state, _) => *state,
    }
}

/// The hold's JSON in the audit trail: its state, account and end.
fn hold_json(held: &HeldRecord) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Hold<'a> {
        state: InventoryState,
        #[serde(skip_serializing_if = "Option::is_none")]
        account_name: Option<&'a AccountName>,
        #[serde(skip_serializing_if = "Option::is_none")]
        until: Option<&'a str>,
    }
    to_json(&Hold {
        state: held.state,
        account_name: held.account_name.as_ref(),
        until: held.until.as_deref(),
    })
}

/// `held` made available at `at` by `action` (a hold that ran out or was cancelled), with
/// its audit event.
fn made_available(
    permit: &Permit<'_>,
    held: &HeldRecord,
    at: &str,
    action: &str,
) -> (HeldRecord, crate::store::audit::AuditEvent) {
    let record = HeldRecord {
        state: InventoryState::Available,
        account_name: None,
        until: None,
        version: held.version + 1,
        updated_at: at.to_owned(),
        ..held.clone()
    };
    let event = audit_event(
        permit,
        at,
        Change {
            action,
            resource_type: RESOURCE,
            key: held.telephone_number.as_str(),
            version: Some(record.version),
            before: Some(hold_json(held)),
            after: Some(hold_json(&record)),
            account: held.account_name.as_ref().map(|a| a.as_str()),
        },
    );
    (record, event)
}

/// Why an assignment of `number` to `account` is refused by its hold, if it is.
pub(super) fn assignment_refusal(
    held: &HeldRecord,
    account: &AccountName,
    at: &str,
) -> Option<Violation> {
    let other = held.account_name.as_ref().filter(|a| *a != account);
    match (effective(held, at), other) {
        (InventoryState::Reserved, Some(owner)) => Some(Violation::new(
            "telephoneNumber",
            Code::NumberReservedForAnotherAccount,
            format!(
                "{} is reserved for account {owner} until {}",
                held.telephone_number,
                held.until.as_deref().unwrap_or("further notice")
            ),
        )),
        (InventoryState::Quarantined, Some(_)) => Some(Violation::new(
            "telephoneNumber",
            Code::NumberQuarantinedFromAnotherAccount,
            format!(
                "{} was released by another account and is quarantined {}; only that account may take it back",
                held.telephone_number,
                held.until
                    .as_deref()
                    .map_or("indefinitely".to_owned(), |u| format!("until {u}"))
            ),
        )),
        _ => None,
    }
}

fn duplicate() -> Violation {
    Violation::new(
        "telephoneNumber",
        Code::Duplicate,
        "appears more than once in this action",
    )
}

/// The numbers' rows in accounts and in the inventory, locked in the order every writer takes
/// them (numbers, then the inventory), each in number order, so two overlapping actions or an
/// action and an ACG write never wait on each other in a circle.
async fn lock_standings(
    tx: &mut Tx,
    numbers: &[TelephoneNumber],
) -> Result<
    (
        HashMap<TelephoneNumber, Number>,
        HashMap<TelephoneNumber, HeldRecord>,
    ),
    ProvisioningError,
> {
    let mut keys: Vec<&TelephoneNumber> = numbers.iter().collect();
    keys.sort();
    keys.dedup();
    let in_accounts = assigned::fetch_for_update(tx, &keys)
        .await?
        .into_iter()
        .map(|r| (r.number.telephone_number.clone(), r.number))
        .collect();
    let held = stored::fetch_for_update(tx, &keys)
        .await?
        .into_iter()
        .map(|r| (r.telephone_number.clone(), r))
        .collect();
    Ok((in_accounts, held))
}

fn wrong_state(number: &TelephoneNumber, state: InventoryState, wanted: &str) -> Violation {
    Violation::new(
        "telephoneNumber",
        Code::WrongInventoryState,
        format!("{number} is {state}; {wanted}"),
    )
}

fn not_in_inventory(number: &TelephoneNumber) -> Violation {
    Violation::new(
        "telephoneNumber",
        Code::NotInInventory,
        format!("{number} is not in the inventory; add it first"),
    )
}

/// `raw` as the end of a reservation: an RFC 3339 time, or a date (held through that day,
/// UTC); after `now` and at most [`MAX_RESERVATION_DAYS`] ahead.
pub(super) fn reservation_end(raw: Option<&str>, now: OffsetDateTime) -> Result<String, Violation> {
    use time::format_description::well_known::Rfc3339;
    let Some(raw) = raw else {
        return Ok(timestamp_of(
            now + time::Duration::days(DEFAULT_RESERVATION_DAYS),
        ));
    };
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    let end = OffsetDateTime::parse(raw, &Rfc3339)
        .ok()
        .or_else(|| {
            time::Date::parse(raw, &date_format)
                .ok()
                .and_then(|d| d.next_day())
                .map(|d| d.midnight().assume_utc())
        })
        .ok_or_else(|| {
            Violation::new(
                "until",
                Code::InvalidFormat,
                "must be a date (2027-01-31) or an RFC 3339 time (2027-01-31T18:00:00Z)",
            )
        })?;
    if end <= now || end > now + time::Duration::days(MAX_RESERVATION_DAYS) {
        return Err(Violation::new(
            "until",
            Code::OutOfRange,
            format!("must be after now and at most {MAX_RESERVATION_DAYS} days ahead"),
        ));
    }
    Ok(timestamp_of(end))
}

/// The end of a quarantine of `period` starting at `at`.
fn quarantine_end(period: Quarantine, at: OffsetDateTime) -> Option<String> {
    match period {
        Quarantine::Days(days) => Some(timestamp_of(at + time::Duration::days(days.into()))),
        Quarantine::Indefinitely => None,
    }
}

/// Reads the RFC 3339 time every stored time is written in.
fn parse_time(stored: &str) -> OffsetDateTime {
    OffsetDateTime::parse(stored, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
}

impl Provisioning {
    /// Does `action` to one chunk of an inventory job's numbers in `tx`, which the caller
    /// commits with the job's progress: a result per number, a number a rule refuses left as it
    /// is and named with the rule, the others changed, each with its audit event. `seen` holds
    /// the numbers of the job's earlier chunks: a number named twice is refused the second
    /// time. `clock` is the job's start, from which a reservation or quarantine runs.
    pub(super) async fn inventory_chunk(
        &self,
        permit: &Permit<'_>,
        tx: &mut Tx,
        action: &InventoryAction,
        numbers: &[TelephoneNumber],
        seen: &mut HashSet<TelephoneNumber>,
        clock: OffsetDateTime,
    ) -> Result<ActionReport, ProvisioningError> {
        if let InventoryAction::Assign { .. } | InventoryAction::Release { .. } = action {
            return self
                .assign_or_release(permit, tx, action, numbers, seen)
                .await;
        }
        let at = now();
        let until = match action {
            InventoryAction::Reserve { until, .. } => {
                let end = reservation_end(until.as_deref(), clock)
                    .map_err(|v| ProvisioningError::Invalid(v.into()))?;
                // A job resumed after the end its action asked for holds nothing.
                if end <= at {
                    return Err(ProvisioningError::Invalid(
                        Violation::new(
                            "until",
                            Code::OutOfRange,
                            format!("the reservation was to end at {end}, which has passed; reserve the rest again"),
                        )
                        .into(),
                    ));
                }
                Some(end)
            }
            _ => None,
        };
        if let InventoryAction::Reserve { account, .. } = action {
            if accounts::fetch_for_update(tx, account).await?.is_none() {
                return Err(ProvisioningError::not_found("account", account.as_str()));
            }
        }
        let (in_accounts, held) = lock_standings(tx, numbers).await?;

        let mut report = ActionReport::default();
        let mut writes = Vec::new();
        let mut deletes = Vec::new();
        let mut events = Vec::new();
        for number in numbers {
            let step = if !seen.insert(number.clone()) {
                Step::Refuse(duplicate())
            } else if let Some(owner) = in_accounts.get(number).map(|n| &n.account_name) {
                Step::Refuse(Violation::new(
                    "telephoneNumber",
                    Code::WrongInventoryState,
                    format!("{number} is assigned to account {owner}; release it first"),
                ))
            } else {
                decide(
                    action,
                    number,
                    held.get(number),
                    &at,
                    until.as_deref(),
                    clock,
                )
            };
            let before = held.get(number);
            // A write's new row, or `None` for a removal; nothing for the rest.
            let moved = match &step {
                Step::Write(record) => Some(Some(record)),
                Step::Delete => Some(None),
                Step::Unchanged | Step::Refuse(_) => None,
            };
            if let Some(after) = moved {
                events.push(audit_event(
                    permit,
                    &at,
                    Change {
                        action: action.name(),
                        resource_type: RESOURCE,
                        key: number.as_str(),
                        version: after.map(|r| r.version),
                        before: before.map(hold_json),
                        after: after.map(hold_json),
                        account: after
                            .and_then(|r| r.account_name.as_ref())
                            .or(before.and_then(|b| b.account_name.as_ref()))
                            .map(|a| a.as_str()),
                    },
                ));
                match after {
                    Some(record) => writes.push(record.clone()),
                    None => deletes.push(number),
                }
            }
            report.push(number, step);
        }
        // A number new to the inventory is inserted only if no other transaction put it there
        // meanwhile (a release's quarantine, say): that row is never overwritten.
        let (new, changed): (Vec<HeldRecord>, Vec<HeldRecord>) = writes
            .into_iter()
            .partition(|r| !held.contains_key(&r.telephone_number));
        let inserted = stored::insert_new(tx, &new).await?;
        let raced: HashSet<&TelephoneNumber> = new
            .iter()
            .map(|r| &r.telephone_number)
            .filter(|n| !inserted.contains(n.as_str()))
            .collect();
        if !raced.is_empty() {
            events.retain(|e| !raced.iter().any(|n| n.as_str() == e.resource_key));
            for result in report
                .results
                .iter_mut()
                // Only the number's own result: a later mention of it is refused as a duplicate.
                .filter(|r| r.outcome == ActionOutcome::Done && raced.contains(&r.telephone_number))
            {
                result.outcome = ActionOutcome::Refused;
                result.violation = Some(Violation::new(
                    "telephoneNumber",
                    Code::WrongInventoryState,
                    format!(
                        "{} changed while this action ran; look at it again",
                        result.telephone_number
                    ),
                ));
                report.done -= 1;
                report.refused += 1;
            }
        }
        stored::upsert(tx, &changed).await?;
        stored::delete(tx, &deletes).await?;
        // A number out of the inventory altogether takes its tags and note with it.
        let gone: Vec<&str> = deletes.iter().map(|n| n.as_str()).collect();
        let kind = crate::store::labels::Kind::Number;
        Self::forget_labels(permit, tx, kind, &gone, None).await?;
        audit::record(tx, &events).await?;
        Ok(report)
    }

    /// Assigns numbers of the inventory to an account, or releases an account's numbers, with a
    /// result per number: each number is judged first (its state, and for an assignment every
    /// rule a PUT obeys), then those that pass are written together through the same writes as
    /// ACG's PUT and DELETE, in `tx`.
    async fn assign_or_release(
        &self,
        permit: &Permit<'_>,
        tx: &mut Tx,
        action: &InventoryAction,
        numbers: &[TelephoneNumber],
        seen: &mut HashSet<TelephoneNumber>,
    ) -> Result<ActionReport, ProvisioningError> {
        let at = now();
        let account_name = match action {
            InventoryAction::Assign { account, .. } | InventoryAction::Release { account } => {
                account
            }
            _ => unreachable!("only assign and release come here"),
        };
        let account = accounts::fetch_for_update(tx, account_name)
            .await?
            .ok_or_else(|| ProvisioningError::not_found("account", account_name.as_str()))?
            .account;
        let (in_accounts, held) = lock_standings(tx, numbers).await?;
        // By the portal, a live service's numbers are refused one by one, not the whole action.
        let live = self.live_for(permit.actor()).await?;
        let mut report = ActionReport::default();
        let mut passing = Vec::new();
        let mut assignments = Vec::new();
        for number in numbers {
            let stored_number = in_accounts.get(number);
            let owner = stored_number.map(|n| &n.account_name);
            let step = if !seen.insert(number.clone()) {
                Step::Refuse(duplicate())
            } else {
                match action {
                    InventoryAction::Assign {
                        services,
                        custom_sip_header,
                        ..
                    } => match (owner, held.get(number)) {
                        (Some(owner), _) if owner == account_name => {
                            let asked = Number {
                                telephone_number: number.clone(),
                                account_name: account_name.clone(),
                                services: NumberServices::clone(services),
                                custom_sip_header: custom_sip_header.clone(),
                            }
                            .normalized();
                            if stored_number.is_some_and(|n| n.clone().normalized() == asked) {
                                Step::Unchanged
                            } else {
                                Step::Refuse(Violation::new(
                                    "telephoneNumber",
                                    Code::WrongInventoryState,
                                    format!(
                                        "{number} is already in account {owner} with other settings; change it on its own (PUT)"
                                    ),
                                ))
                            }
                        }
                        (Some(owner), _) => Step::Refuse(Violation::new(
                            "telephoneNumber",
                            Code::NumberInAnotherAccount,
                            format!("{number} already belongs to account {owner}"),
                        )),
                        (None, None) => Step::Refuse(not_in_inventory(number)),
                        (None, Some(hold)) => match assignment_refusal(hold, account_name, &at) {
                            Some(violation) => Step::Refuse(violation),
                            None => {
                                let candidate = Number {
                                    telephone_number: number.clone(),
                                    account_name: account_name.clone(),
                                    services: NumberServices::clone(services),
                                    custom_sip_header: custom_sip_header.clone(),
                                }
                                .normalized();
                                let facts = number.classify();
                                let broken = crate::domain::rules::check_number(
                                    &candidate, &account, &facts,
                                );
                                let live_refusal = super::live::refusal(&live, &candidate.services);
                                match broken.0.into_iter().next().or(live_refusal) {
                                    Some(violation) => Step::Refuse(violation),
                                    None => {
                                        assignments.push(candidate);
                                        Step::Delete
                                    }
                                }
                            }
                        },
                    },
                    _ => match owner {
                        Some(owner) if owner == account_name => {
                            match stored_number
                                .and_then(|n| super::live::refusal(&live, &n.services))
                            {
                                Some(violation) => Step::Refuse(violation),
                                None => {
                                    passing.push(number.clone());
                                    Step::Delete
                                }
                            }
                        }
                        _ => Step::Refuse(Violation::new(
                            "telephoneNumber",
                            Code::NumberNotFound,
                            format!("{number} is not a number of account {account_name}"),
                        )),
                    },
                }
            };
            report.push(number, step);
        }
        if !assignments.is_empty() {
            self.write_numbers(
                permit,
                tx,
                account_name,
                assignments,
                super::Precondition::NONE,
            )
            .await?;
        }
        if !passing.is_empty() {
            self.delete_numbers_in(
                permit,
                tx,
                account_name,
                &passing,
                super::Precondition::NONE,
                Release::Quarantine,
            )
            .await?;
        }
        Ok(report)
    }

    /// Ends the reservations and quarantines whose time ran out by `at`: each number becomes
    /// available, with an audit event. Safe to run on every node at once: a hold is ended by
    /// one of them. Returns how many ended.
    pub async fn end_due_holds(&self, at: OffsetDateTime) -> Result<usize, ProvisioningError> {
        const CHUNK: i64 = 1000;
        let actor = Actor::new("expiry", &[Role::Admin], Door::System);
        let permit = actor.permit(Permission::Write)?;
        let stamp = timestamp_of(at);
        let mut ended = 0;
        loop {
            let mut tx = self.begin(&permit).await?;
            let due = stored::due(&mut tx, &stamp, CHUNK).await?;
            if due.is_empty() {
                tx.rollback().await?;
                return Ok(ended);
            }
            let mut writes = Vec::with_capacity(due.len());
            let mut events = Vec::with_capacity(due.len());
            for held in &due {
                let action = match held.state {
                    InventoryState::Reserved => "reservationEnded",
                    _ => "quarantineEnded",
                };
                let (record, event) = made_available(&permit, held, &stamp, action);
                events.push(event);
                writes.push(record);
            }
            stored::upsert(&mut tx, &writes).await?;
            audit::record(&mut tx, &events).await?;
            tx.commit().await?;
            ended += due.len();
            if (due.len() as i64) < CHUNK {
                return Ok(ended);
            }
        }
    }

    /// Where `number` stands: in an account, or in the inventory.
    pub async fn standing(
        &self,
        actor: &Actor,
        number: &TelephoneNumber,
    ) -> Result<Standing, ProvisioningError> {
        actor.permit(Permission::Read)?;
        if let Some(record) = assigned::get(&self.db, number).await? {
            return Ok(Standing {
                telephone_number: record.number.telephone_number,
                state: InventoryState::Assigned,
                account_name: Some(record.number.account_name),
                until: None,
                version: record.version,
                updated_at: record.updated_at,
            });
        }
        let held = stored::get(&self.db, number)
            .await?
            .ok_or_else(|| ProvisioningError::not_found("number", number.as_str()))?;
        let at = now();
        let state = effective(&held, &at);
        let mut standing = Standing::from(held);
        if state != standing.state {
            // Ran out, and expiry has not got to it yet: it is available already.
            standing.state = state;
            standing.account_name = None;
            standing.until = None;
        }
        Ok(standing)
    }

    /// A page of the inventory's numbers (not those in accounts) matching `filter`.
    pub async fn list_inventory(
        &self,
        actor: &Actor,
        filter: &InventoryFilter,
        after: Option<&TelephoneNumber>,
        limit: i64,
    ) -> Result<Vec<Standing>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::list(&self.db, filter, after, limit)
            .await?
            .into_iter()
            .map(Standing::from)
            .collect())
    }

    /// How many numbers are in each state, assigned ones included.
    pub async fn inventory_counts(
        &self,
        actor: &Actor,
    ) -> Result<Vec<(InventoryState, i64)>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let held = stored::count_by_state(&self.db).await?;
        let in_accounts = assigned::count(&self.db, &Default::default()).await?;
        Ok(InventoryState::ALL
            .into_iter()
            .map(|state| {
                let n = if state == InventoryState::Assigned {
                    in_accounts
                } else {
                    held.iter()
                        .find(|(s, _)| s == state.as_str())
                        .map_or(0, |(_, n)| *n)
                };
                (state, n)
            })
            .collect())
    }

    /// The holds that a write of `numbers` into `account` meets, and the rule each breaks:
    /// `(refusals by number, held numbers to take out of the inventory)`.
    pub(super) async fn holds_for_assignment(
        tx: &mut Tx,
        numbers: &[(&TelephoneNumber, &AccountName)],
        at: &str,
    ) -> Result<(HashMap<TelephoneNumber, Violation>, Vec<TelephoneNumber>), ProvisioningError>
    {
        if numbers.is_empty() {
            return Ok((HashMap::new(), Vec::new()));
        }
        let mut keys: Vec<&TelephoneNumber> = numbers.iter().map(|(n, _)| *n).collect();
        keys.sort();
        let held: HashMap<TelephoneNumber, HeldRecord> = stored::fetch_for_update(tx, &keys)
            .await?
            .into_iter()
            .map(|r| (r.telephone_number.clone(), r))
            .collect();
        let mut refused = HashMap::new();
        let mut taken = Vec::new();
        for (number, account) in numbers {
            if let Some(hold) = held.get(*number) {
                match assignment_refusal(hold, account, at) {
                    Some(violation) => {
                        refused.insert((*number).clone(), violation);
                    }
                    None => taken.push((*number).clone()),
                }
            }
        }
        Ok((refused, taken))
    }

    /// Makes the numbers reserved for `account` (being deleted) available, each with its audit
    /// event: a later account of the same name does not inherit them.
    pub(super) async fn cancel_reservations_of(
        permit: &Permit<'_>,
        tx: &mut Tx,
        account: &AccountName,
        at: &str,
    ) -> Result<(), ProvisioningError> {
        let reserved = stored::reserved_for_update(tx, account).await?;
        let mut writes = Vec::with_capacity(reserved.len());
        let mut events = Vec::with_capacity(reserved.len());
        for held in &reserved {
            let (record, event) = made_available(permit, held, at, "cancelReservation");
            events.push(event);
            writes.push(record);
        }
        stored::upsert(tx, &writes).await?;
        audit::record(tx, &events).await?;
        Ok(())
    }

    /// Takes `numbers` (now written into accounts) out of the inventory.
    pub(super) async fn take_from_inventory(
        tx: &mut Tx,
        numbers: &[TelephoneNumber],
    ) -> Result<(), ProvisioningError> {
        let keys: Vec<&TelephoneNumber> = numbers.iter().collect();
        Ok(stored::delete(tx, &keys).await?)
    }

    /// Puts numbers released by `account` into quarantine for the deployment's period (or
    /// makes them available at once when it is 0 days), each with its audit event.
    pub(super) async fn quarantine_released(
        permit: &Permit<'_>,
        tx: &mut Tx,
        account: &AccountName,
        released: &[(&TelephoneNumber, i64)],
        days: QuarantineDays,
        at: &str,
    ) -> Result<(), ProvisioningError> {
        let clock = parse_time(at);
        let mut writes = Vec::with_capacity(released.len());
        let mut events = Vec::with_capacity(released.len());
        for (number, version) in released {
            let record = if days.get() == 0 {
                HeldRecord {
                    telephone_number: (*number).clone(),
                    state: InventoryState::Available,
                    account_name: None,
                    until: None,
                    version: version + 1,
                    created_at: at.to_owned(),
                    updated_at: at.to_owned(),
                }
            } else {
                HeldRecord {
                    telephone_number: (*number).clone(),
                    state: InventoryState::Quarantined,
                    account_name: Some(account.clone()),
                    until: quarantine_end(Quarantine::Days(days.get()), clock),
                    version: version + 1,
                    created_at: at.to_owned(),
                    updated_at: at.to_owned(),
                }
            };
            events.push(audit_event(
                permit,
                at,
                Change {
                    action: "release",
                    resource_type: RESOURCE,
                    key: number.as_str(),
                    version: Some(record.version),
                    before: None,
                    after: Some(hold_json(&record)),
                    account: Some(account.as_str()),
                },
            ));
            writes.push(record);
        }
        stored::upsert(tx, &writes).await?;
        audit::record(tx, &events).await?;
        Ok(())
    }
}

/// One number's move under `action`, from its inventory row (none: not in the inventory).
fn decide(
    action: &InventoryAction,
    number: &TelephoneNumber,
    held: Option<&HeldRecord>,
    at: &str,
    reserve_until: Option<&str>,
    clock: OffsetDateTime,
) -> Step {
    let next = |state: InventoryState, account: Option<AccountName>, until: Option<String>| {
        let base = held.cloned().unwrap_or_else(|| HeldRecord {
            telephone_number: number.clone(),
            state,
            account_name: None,
            until: None,
            version: 0,
            created_at: at.to_owned(),
            updated_at: at.to_owned(),
        });
        if held.is_some_and(|h| h.state == state && h.account_name == account && h.until == until) {
            return Step::Unchanged;
        }
        Step::Write(HeldRecord {
            state,
            account_name: account,
            until,
            version: base.version + 1,
            updated_at: at.to_owned(),
            ..base
        })
    };
    let Some(hold) = held else {
        return match action {
            InventoryAction::Add => next(InventoryState::Available, None, None),
            _ => Step::Refuse(not_in_inventory(number)),
        };
    };
    let state = effective(hold, at);
    let same_account = |account: &AccountName| hold.account_name.as_ref() == Some(account);
    match (action, state) {
        (InventoryAction::Add, InventoryState::Available) => next(state, None, None),
        (InventoryAction::Add, _) => Step::Refuse(wrong_state(
            number,
            state,
            "it is in the inventory already",
        )),
        (InventoryAction::Remove, InventoryState::Available) => Step::Delete,
        (InventoryAction::Remove, _) => Step::Refuse(wrong_state(
            number,
            state,
            "only an available number leaves the inventory (cancel its reservation or end its quarantine first)",
        )),
        (InventoryAction::Reserve { account, .. }, InventoryState::Available) => next(
            InventoryState::Reserved,
            Some(account.clone()),
            reserve_until.map(str::to_owned),
        ),
        (InventoryAction::Reserve { account, .. }, InventoryState::Reserved | InventoryState::Quarantined)
            if same_account(account) =>
        {
            next(
                InventoryState::Reserved,
                Some(account.clone()),
                reserve_until.map(str::to_owned),
            )
        }
        (InventoryAction::Reserve { account, .. }, _) => Step::Refuse(
            assignment_refusal(hold, account, at).unwrap_or_else(|| {
                wrong_state(number, state, "only an available number can be reserved")
            }),
        ),
        (InventoryAction::CancelReservation, InventoryState::Reserved) => {
            next(InventoryState::Available, None, None)
        }
        (InventoryAction::CancelReservation | InventoryAction::EndQuarantine, InventoryState::Available) => {
            next(InventoryState::Available, None, None)
        }
        (InventoryAction::CancelReservation, _) => Step::Refuse(wrong_state(
            number,
            state,
            "only a reserved number's reservation can be cancelled",
        )),
        (InventoryAction::SetQuarantine(period), InventoryState::Quarantined) => next(
            InventoryState::Quarantined,
            hold.account_name.clone(),
            quarantine_end(*period, clock),
        ),
        (InventoryAction::SetQuarantine(_), _) => Step::Refuse(wrong_state(
            number,
            state,
            "only a quarantined number's quarantine can be changed",
        )),
        (InventoryAction::EndQuarantine, InventoryState::Quarantined) => {
            next(InventoryState::Available, None, None)
        }
        (InventoryAction::EndQuarantine, _) => Step::Refuse(wrong_state(
            number,
            state,
            "only a quarantined number's quarantine can be ended",
        )),
        (InventoryAction::Assign { .. } | InventoryAction::Release { .. }, _) => {
            unreachable!("assign and release are not moves of a hold: see assign_or_release")
        }
    }
}
