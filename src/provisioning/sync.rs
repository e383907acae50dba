//! The core's side of flow-through sync: which upstream job a change needs (written with the
//! change), what a finished job means for its resource (status, errors, audit event), and the
//! operator's retry of a number that did not sync.

use super::{
    audit_event, now, Actor, Change, Permission, Provisioning, ProvisioningError, ProvisioningIssue,
};
use crate::domain::number::{AssignmentStatus, TeamsNumberConfig};
use crate::domain::{
    Account, AccountName, Number, ProvisioningStatus, Service, TelephoneNumber, Violation,
    Violations,
};
use crate::store::audit;
use crate::store::numbers as stored_numbers;
use crate::store::outbox::{self, Batch, JobEnd, NewJob};
use serde::{Deserialize, Serialize};

/// Uploads a number to Operator Connect (for Operator Connect or Teams Phone Mobile).
pub const NUMBER_UPLOAD: &str = "number.upload";
/// Releases a number from Operator Connect.
pub const NUMBER_RELEASE: &str = "number.release";
/// A number whose only flow-through service has no upstream Numbat talks to (Azure Operator
/// Call Protection is provisioned by the gateway itself): synced as soon as a worker sees it.
pub const NUMBER_LOCAL: &str = "number.local";
/// Checks that the account's tenant has consented to the operator.
pub const ACCOUNT_CHECK: &str = "account.check";
/// Pushes a consent's customer relationship up.
pub const CONSENT_RELATIONSHIP: &str = "consent.relationship";

/// What a number job carries: the number as it was when the change was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberJob {
    pub account_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The number's version after the change; none when the number was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// `teamsOperatorConnect` or `teamsPhoneMobile`, for an upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_status: Option<AssignmentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<TeamsNumberConfig>,
}

/// What an account or consent job carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionedJob {
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// The Teams service through which `number` is uploaded to Operator Connect under `account`.
fn operator_connect_service(account: &Account, number: &Number) -> Option<Service> {
    [Service::TeamsOperatorConnect, Service::TeamsPhoneMobile]
        .into_iter()
        .find(|s| number.services.is_enabled(*s) && account.syncs(*s))
}

fn tenant(account: &Account) -> Option<String> {
    account
        .teams_tenant_id
        .as_ref()
        .map(|t| t.as_str().to_owned())
}

fn number_job(kind: &str, group: String, key: &TelephoneNumber, job: &NumberJob) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        resource_type: "number".to_owned(),
        resource_key: key.as_str().to_owned(),
        batch_group: group,
        payload: serde_json::to_string(job).expect("jobs serialise"),
    }
}

/// The job a number's change needs, if any: `before` is the number as stored (in `account`),
/// `after` the number written (with its new version) or none for a deletion.
pub(crate) fn job_for_number(
    account: &Account,
    before: Option<&Number>,
    after: Option<(&Number, i64)>,
) -> Option<NewJob> {
    let key = &after.map(|(n, _)| n).or(before)?.telephone_number;
    let mut job = NumberJob {
        account_name: account.name.as_str().to_owned(),
        tenant_id: tenant(account),
        version: after.map(|(_, v)| v),
        service: None,
        assignment_status: None,
        configuration: None,
    };
    let tenant_group = |verb: &str| format!("{verb}:{}", job.tenant_id.clone().unwrap_or_default());
    if let Some((number, _)) = after {
        if let Some(service) = operator_connect_service(account, number) {
            let teams = number.services.teams(service);
            job.service = Some(service.wire_name().to_owned());
            job.assignment_status = teams.and_then(|t| t.assignment_status);
            job.configuration = teams.and_then(|t| t.configuration.clone());
            return Some(number_job(NUMBER_UPLOAD, tenant_group("upload"), key, &job));
        }
    }
    if before.is_some_and(|n| operator_connect_service(account, n).is_some()) {
        return Some(number_job(
            NUMBER_RELEASE,
            tenant_group("release"),
            key,
            &job,
        ));
    }
    let (number, _) = after?;
    let synced_otherwise = number.enabled_services().any(|s| account.syncs(s));
    synced_otherwise.then(|| number_job(NUMBER_LOCAL, "local".to_owned(), key, &job))
}

/// The job an account's change needs: a check of its tenant's consent when it syncs anything.
pub(crate) fn job_for_account(account: &Account, version: i64) -> Option<NewJob> {
    account.syncs_anything().then(|| NewJob {
        kind: ACCOUNT_CHECK.to_owned(),
        resource_type: "account".to_owned(),
        resource_key: account.name.as_str().to_owned(),
        batch_group: "accounts".to_owned(),
        payload: serde_json::to_string(&VersionedJob {
            version,
            tenant_id: tenant(account),
            body: None,
        })
        .expect("jobs serialise"),
    })
}

/// The job that pushes a consent's customer relationship up.
pub(crate) fn job_for_relationship(tenant: &str, version: i64, body: serde_json::Value) -> NewJob {
    NewJob {
        kind: CONSENT_RELATIONSHIP.to_owned(),
        resource_type: "requestForInformation".to_owned(),
        resource_key: tenant.to_owned(),
        batch_group: "consents".to_owned(),
        payload: serde_json::to_string(&VersionedJob {
            version,
            tenant_id: Some(tenant.to_owned()),
            body: Some(body),
        })
        .expect("jobs serialise"),
    }
}

/// How the upstream took one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    Synced,
    /// Refused for good, with the upstream's reasons.
    Failed(Vec<ProvisioningIssue>),
}

impl Provisioning {
    /// Records how the upstream took a batch's jobs: each resource still at the job's version
    /// becomes synced or failed with the upstream's reasons (an audit event each), and the
    /// batch ends. False, with nothing changed, when the batch is no longer `owner`'s.
    pub async fn settle_batch(
        &self,
        actor: &Actor,
        batch: &Batch,
        owner: &str,
        outcomes: &[(i64, SyncOutcome)],
    ) -> Result<bool, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        let at = now();
        let mut events = Vec::new();
        let mut ends = Vec::with_capacity(outcomes.len());
        for (job_id, outcome) in outcomes {
            let Some(job) = batch.jobs.iter().find(|j| j.id == *job_id) else {
                continue;
            };
            let (status, issues) = match outcome {
                SyncOutcome::Synced => (ProvisioningStatus::Synced, Vec::new()),
                SyncOutcome::Failed(issues) => (ProvisioningStatus::Failed, issues.clone()),
            };
            ends.push((
                job.id,
                match outcome {
                    SyncOutcome::Synced => JobEnd::Done,
                    SyncOutcome::Failed(issues) => JobEnd::Failed(describe(issues)),
                },
            ));
            let (version, account) = job_version(job);
            let table = match job.resource_type.as_str() {
                "number" => outbox::Settled::Number,
                "account" => outbox::Settled::Account,
                _ => outbox::Settled::Consent,
            };
            let updated = match version {
                Some(version) => {
                    outbox::settle(&mut tx, table, &job.resource_key, version, status, &issues)
                        .await?
                }
                None => false,
            };
            if updated || status == ProvisioningStatus::Failed {
                let after = serde_json::json!({
                    "serviceProvisioningStatus": status.as_str(),
                    "serviceProvisioningErrors": issues,
                    "upstreamJob": job.kind,
                });
                events.push(audit_event(
                    &permit,
                    &at,
                    Change {
                        action: if status == ProvisioningStatus::Synced {
                            "sync"
                        } else {
                            "sync failed"
                        },
                        resource_type: &job.resource_type,
                        key: &job.resource_key,
                        version,
                        before: Some(r#"{"serviceProvisioningStatus":"pending"}"#.to_owned()),
                        after: Some(after.to_string()),
                        account: account.as_deref(),
                    },
                ));
            }
        }
        if !outbox::finish(&mut tx, batch.id, owner, &at, &ends).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        audit::record(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sends numbers of `account` that are not synced (failed, or pending with nothing on the
    /// way) upstream again: all of them, or only `numbers`. Each becomes pending with a new job
    /// and an audit event; its version stays. Returns how many were queued.
    pub async fn retry_sync(
        &self,
        actor: &Actor,
        account_name: &AccountName,
        numbers: Option<&[TelephoneNumber]>,
    ) -> Result<usize, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        let account = crate::store::accounts::fetch_for_update(&mut tx, account_name)
            .await?
            .ok_or_else(|| ProvisioningError::not_found("account", account_name.as_str()))?
            .account;
        let candidates = match numbers {
            Some(list) => {
                let keys: Vec<&TelephoneNumber> = list.iter().collect();
                let found: std::collections::HashMap<TelephoneNumber, _> =
                    stored_numbers::fetch_for_update(&mut tx, &keys)
                        .await?
                        .into_iter()
                        .map(|r| (r.number.telephone_number.clone(), r))
                        .collect();
                let mut violations = Violations::new();
                for (index, number) in list.iter().enumerate() {
                    let problem = match found.get(number) {
                        None => Some(("NumberNotFound", format!("{number} is not a number of account {account_name}"))),
                        Some(r) if r.number.account_name != *account_name => Some(("NumberNotFound", format!("{number} is not a number of account {account_name}"))),
                        Some(r) if r.provisioning_status == ProvisioningStatus::Synced => Some(("NumberAlreadySynced", format!("{number} is synced; only numbers that failed or are pending are sent again"))),
                        Some(_) => None,
                    };
                    if let Some((code, message)) = problem {
                        violations.push(
                            Violation::new("telephoneNumber", code, message)
                                .in_item("numbers", index),
                        );
                    }
                }
                if !violations.is_empty() {
                    return Err(ProvisioningError::from_violations(
                        "account",
                        account_name.as_str(),
                        violations,
                    ));
                }
                list.iter()
                    .filter_map(|n| found.get(n).cloned())
                    .collect::<Vec<_>>()
            }
            None => stored_numbers::fetch_account_numbers_for_update(&mut tx, account_name)
                .await?
                .into_iter()
                .filter(|r| r.provisioning_status != ProvisioningStatus::Synced)
                .collect(),
        };
        let at = now();
        let mut jobs = Vec::new();
        let mut events = Vec::new();
        let mut under_way = Violations::new();
        for (index, record) in candidates.iter().enumerate() {
            let number = &record.number;
            let waiting =
                outbox::unfinished_for(&mut tx, "number", number.telephone_number.as_str()).await?;
            if waiting {
                // Asked for by name, say so; when retrying everything, it is simply not due.
                if numbers.is_some() {
                    let message = format!(
                        "{} is on its way to Operator Connect already",
                        number.telephone_number
                    );
                    under_way.push(
                        Violation::new("telephoneNumber", "SyncUnderWay", message)
                            .in_item("numbers", index),
                    );
                }
                continue;
            }
            let job = job_for_number(&account, Some(number), Some((number, record.version)))
                .or_else(|| {
                    job_for_number(&account, Some(number), None).map(|mut j| {
                        // The number stays but no longer syncs: release it, then mark it synced.
                        let mut payload: NumberJob =
                            serde_json::from_str(&j.payload).expect("own payload");
                        payload.version = Some(record.version);
                        j.payload = serde_json::to_string(&payload).expect("jobs serialise");
                        j
                    })
                });
            let key = number.telephone_number.as_str();
            match job {
                Some(job) => {
                    outbox::settle(
                        &mut tx,
                        outbox::Settled::Number,
                        key,
                        record.version,
                        ProvisioningStatus::Pending,
                        &[],
                    )
                    .await?;
                    jobs.push(job);
                }
                None => {
                    outbox::settle(
                        &mut tx,
                        outbox::Settled::Number,
                        key,
                        record.version,
                        ProvisioningStatus::Synced,
                        &[],
                    )
                    .await?;
                }
            }
            events.push(audit_event(
                &permit,
                &at,
                Change {
                    action: "retry sync",
                    resource_type: "number",
                    key,
                    version: Some(record.version),
                    before: Some(serde_json::json!({ "serviceProvisioningStatus": record.provisioning_status.as_str() }).to_string()),
                    after: Some(r#"{"serviceProvisioningStatus":"pending"}"#.to_owned()),
                    account: Some(account_name.as_str()),
                },
            ));
        }
        if !under_way.is_empty() {
            return Err(ProvisioningError::from_violations(
                "account",
                account_name.as_str(),
                under_way,
            ));
        }
        outbox::enqueue(&mut tx, &at, &jobs).await?;
        audit::record(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(events.len())
    }

    /// The outbox's queue depth, oldest waiting job and failures.
    pub async fn outbox_figures(&self) -> Result<outbox::OutboxFigures, ProvisioningError> {
        Ok(outbox::figures(&self.db).await?)
    }
}

/// The version a job is for, and the account it concerns.
fn job_version(job: &outbox::OutboxJob) -> (Option<i64>, Option<String>) {
    if job.resource_type == "number" {
        let payload: Option<NumberJob> = serde_json::from_str(&job.payload).ok();
        (
            payload.as_ref().and_then(|p| p.version),
            payload.map(|p| p.account_name),
        )
    } else {
        let payload: Option<VersionedJob> = serde_json::from_str(&job.payload).ok();
        let account = (job.resource_type == "account").then(|| job.resource_key.clone());
        (payload.map(|p| p.version), account)
    }
}

/// The upstream's reasons as one line.
pub fn describe(issues: &[ProvisioningIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{}: {}", i.code, i.message))
        .collect::<Vec<_>>()
        .join("; ")
}
