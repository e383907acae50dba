//! Service verification numbers: numbers the operator marks as test numbers of a service, for
//! Microsoft's verification of a launch (ACG asks six per service in production, three in a
//! lab). Marking needs the number in an account with that service on; a mark is kept whatever
//! later happens to the number, and the status says, per service, how many marked numbers
//! still have the service and how many of those are synced. Depends on `domain` and `store`.

use super::inventory::ActionReport;
use super::{audit_event, now, Actor, Change, Permission, Provisioning, ProvisioningError};
use crate::domain::{Code, ProvisioningStatus, Service, TelephoneNumber, Violation};
use crate::store::{audit, numbers, verification as stored};
use serde::Serialize;
use std::collections::HashSet;

/// Test numbers ACG asks for per service in production.
pub const PRODUCTION_COUNT: usize = 6;
/// Test numbers ACG asks for per service in a lab deployment.
pub const LAB_COUNT: usize = 3;
/// The most numbers one service may have marked (a bound, well above what is asked).
pub const MAX_PER_SERVICE: usize = 20;

/// One marked number as it stands now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkedNumber {
    pub telephone_number: TelephoneNumber,
    /// The account it is in; none once it left every account.
    pub account_name: Option<String>,
    /// Whether it is in an account with the service on (a test number that counts).
    pub service_enabled: bool,
    /// Its sync status, when it is in an account.
    pub provisioning_status: Option<ProvisioningStatus>,
}

/// One service's test numbers and how far they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceVerification {
    pub service: Service,
    pub numbers: Vec<MarkedNumber>,
    /// Marked numbers that have the service on.
    pub ready: usize,
    /// Of those, the ones synced with Operator Connect (for a service that does not sync
    /// there: every one).
    pub synced: usize,
    pub production_count: usize,
    pub lab_count: usize,
}

impl Provisioning {
    /// Marks (`mark`) or unmarks each of `numbers` as a test number of `service`, in one
    /// transaction, with a result per number.
    pub async fn mark_verification(
        &self,
        actor: &Actor,
        service: Service,
        mark: bool,
        numbers: &[TelephoneNumber],
    ) -> Result<ActionReport, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        if numbers.is_empty() || numbers.len() > MAX_PER_SERVICE {
            return Err(ProvisioningError::Invalid(
                Violation::new(
                    "telephoneNumbers",
                    Code::BatchSize,
                    format!(
                        "must hold 1–{MAX_PER_SERVICE} numbers; this one holds {}",
                        numbers.len()
                    ),
                )
                .into(),
            ));
        }
        let mut tx = self.begin(&permit).await?;
        stored::lock_service(&mut tx, service).await?;
        let mut keys: Vec<&TelephoneNumber> = numbers.iter().collect();
        keys.sort();
        keys.dedup();
        let found = numbers::fetch_for_update(&mut tx, &keys).await?;
        let mut marked: HashSet<String> = stored::of_service_for_update(&mut tx, service)
            .await?
            .into_iter()
            .collect();
        let at = now();
        let action = if mark {
            "markVerification"
        } else {
            "unmarkVerification"
        };
        let mut report = ActionReport::default();
        let mut seen = HashSet::new();
        let mut events = Vec::new();
        for number in numbers {
            let key = number.as_str();
            let record = found.iter().find(|r| r.number.telephone_number == *number);
            let step: Result<bool, Violation> = if !seen.insert(key) {
                Err(Violation::new(
                    "telephoneNumber",
                    Code::Duplicate,
                    "appears more than once in this change",
                ))
            } else if !mark {
                Ok(marked.remove(key))
            } else if marked.contains(key) {
                Ok(false)
            } else {
                match record {
                    None => Err(Violation::new(
                        "telephoneNumber",
                        Code::NumberNotFound,
                        format!("{number} is in no account: a test number is assigned, with the service on"),
                    )),
                    Some(r) if !r.number.services.is_enabled(service) => Err(Violation::new(
                        "telephoneNumber",
                        Code::ServiceNotOnNumber,
                        format!("{number} does not have {} on: turn it on first", service.label()),
                    )),
                    Some(_) if marked.len() >= MAX_PER_SERVICE => Err(Violation::new(
                        "telephoneNumber",
                        Code::OutOfRange,
                        format!(
                            "{} already has {MAX_PER_SERVICE} test numbers, the most it may have",
                            service.label()
                        ),
                    )),
                    Some(_) => Ok(marked.insert(key.to_owned())),
                }
            };
            if let Ok(true) = step {
                if mark {
                    stored::add(&mut tx, service, number, &at).await?;
                } else {
                    stored::remove(&mut tx, service, number).await?;
                }
                let what = serde_json::json!({ "verificationNumberOf": service.wire_name() });
                let (before, after) = if mark {
                    (None, Some(what.to_string()))
                } else {
                    (Some(what.to_string()), None)
                };
                events.push(audit_event(
                    &permit,
                    &at,
                    Change {
                        action,
                        resource_type: "number",
                        key,
                        version: None,
                        before,
                        after,
                        account: record.map(|r| r.number.account_name.as_str()),
                    },
                ));
            }
            report.record(number, step);
        }
        audit::record(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Every service's test numbers, as they stand now.
    pub async fn verification_status(
        &self,
        actor: &Actor,
    ) -> Result<Vec<ServiceVerification>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let marks = stored::all(&self.db).await?;
        let mut out = Vec::with_capacity(Service::COUNT);
        for service in Service::ALL {
            let mut line = ServiceVerification {
                service,
                numbers: Vec::new(),
                ready: 0,
                synced: 0,
                production_count: PRODUCTION_COUNT,
                lab_count: LAB_COUNT,
            };
            for (_, number) in marks.iter().filter(|(s, _)| *s == service) {
                let record = numbers::get(&self.db, number).await?;
                let service_enabled = record
                    .as_ref()
                    .is_some_and(|r| r.number.services.is_enabled(service));
                let status = record.as_ref().map(|r| r.provisioning_status);
                if service_enabled {
                    line.ready += 1;
                    // Only the Teams services sync to Operator Connect.
                    let syncs = service.traits().teams_tenant;
                    if !syncs || status == Some(ProvisioningStatus::Synced) {
                        line.synced += 1;
                    }
                }
                line.numbers.push(MarkedNumber {
                    telephone_number: number.clone(),
                    account_name: record.map(|r| r.number.account_name.to_string()),
                    service_enabled,
                    provisioning_status: status,
                });
            }
            out.push(line);
        }
        Ok(out)
    }
}

/// One mark or unmark as a door receives it (the API's JSON, the command line, the portal's
/// form): the service by its wire name, `mark` or `unmark`, and the numbers.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerificationRequest {
    pub service: String,
    pub action: String,
    pub telephone_numbers: Vec<String>,
}

impl VerificationRequest {
    /// The service, whether to mark, and the numbers; or every field that is wrong.
    pub fn parse(self) -> Result<(Service, bool, Vec<TelephoneNumber>), ProvisioningError> {
        let mut violations = crate::domain::Violations::new();
        let service = Service::from_wire_name(&self.service);
        if service.is_none() {
            violations.push(Violation::new(
                "service",
                Code::InvalidValue,
                "must be a service's name (teamsOperatorConnect, teamsDirectRouting, teamsPhoneMobile, zoomPhoneCloudPeering, azureOperatorCallProtection)",
            ));
        }
        let mark = match self.action.as_str() {
            "mark" => true,
            "unmark" => false,
            _ => {
                violations.push(Violation::new(
                    "action",
                    Code::InvalidValue,
                    "must be mark or unmark",
                ));
                false
            }
        };
        if self.telephone_numbers.is_empty() || self.telephone_numbers.len() > MAX_PER_SERVICE {
            violations.push(Violation::new(
                "telephoneNumbers",
                Code::BatchSize,
                format!(
                    "must hold 1–{MAX_PER_SERVICE} numbers; this one holds {}",
                    self.telephone_numbers.len()
                ),
            ));
        }
        let numbers: Vec<TelephoneNumber> = self
            .telephone_numbers
            .iter()
            .take(MAX_PER_SERVICE)
            .enumerate()
            .filter_map(|(i, raw)| {
                violations.parse(
                    &format!("telephoneNumbers[{i}]"),
                    raw,
                    TelephoneNumber::parse,
                )
            })
            .collect();
        match service {
            Some(service) if violations.is_empty() => Ok((service, mark, numbers)),
            _ => Err(ProvisioningError::Invalid(violations)),
        }
    }
}
