//! The core's side of flow-through sync: which upstream job a change needs (written with the
//! change), what the upstream's answer means for its resource (status, errors, audit event), and
//! the operator's retry of what did not sync.

use super::{
    audit_event, now, Actor, Change, Permission, Provisioning, ProvisioningError, ProvisioningIssue,
};
use crate::domain::number::{AssignmentStatus, TeamsNumberConfig};
use crate::domain::Code;
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
    Service::teams().find(|s| number.services.is_enabled(*s) && account.syncs(*s))
}

fn tenant(account: &Account) -> Option<String> {
    account
        .teams_tenant_id
        .as_ref()
        .map(|t| t.as_str().to_owned())
}

fn number_job(kind: &str, verb: &str, key: &TelephoneNumber, job: &NumberJob) -> NewJob {
    let group = match kind {
        NUMBER_LOCAL => "local".to_owned(),
        _ => format!("{verb}:{}", job.tenant_id.clone().unwrap_or_default()),
    };
    NewJob {
        kind: kind.to_owned(),
        resource_type: "number".to_owned(),
        resource_key: key.as_str().to_owned(),
        batch_group: group,
        payload: serde_json::to_string(job).expect("jobs serialise"),
    }
}

/// The job a number's change needs, if any: `before` is the number as stored with its account,
/// `after` the number written with its account and new version, none for a deletion. An upload
/// when it syncs now; a release (from the tenant it was under) when it synced and no longer
/// does; a local job when only a service without an upstream syncs.
pub(crate) fn job_for_number(
    before: Option<(&Account, &Number)>,
    after: Option<(&Account, &Number, i64)>,
) -> Option<NewJob> {
    let key = &after
        .map(|(_, n, _)| n)
        .or(before.map(|(_, n)| n))?
        .telephone_number;
    let job_for = |account: &Account, version: Option<i64>| NumberJob {
        account_name: account.name.as_str().to_owned(),
        tenant_id: tenant(account),
        version,
        service: None,
        assignment_status: None,
        configuration: None,
    };
    if let Some((account, number, version)) = after {
        if let Some(service) = operator_connect_service(account, number) {
            let teams = number.services.teams(service);
            let job = NumberJob {
                service: Some(service.wire_name().to_owned()),
                assignment_status: teams.and_then(|t| t.assignment_status),
                configuration: teams.and_then(|t| t.configuration.clone()),
                ..job_for(account, Some(version))
            };
            return Some(number_job(NUMBER_UPLOAD, "upload", key, &job));
        }
    }
    if let Some((account, number)) = before {
        if operator_connect_service(account, number).is_some() {
            let job = job_for(account, after.map(|(_, _, v)| v));
            return Some(number_job(NUMBER_RELEASE, "release", key, &job));
        }
    }
    let (account, number, version) = after?;
    let synced_otherwise = number.enabled_services().any(|s| account.syncs(s));
    synced_otherwise
        .then(|| number_job(NUMBER_LOCAL, "local", key, &job_for(account, Some(version))))
}

/// The jobs an account's change needs for its numbers: when whether its Teams services sync
/// changes, numbers that now sync are uploaded and numbers that no longer do are released.
pub(crate) fn jobs_for_account_change(
    before: &Account,
    after: &Account,
    numbers: &[stored_numbers::NumberRecord],
) -> Vec<NewJob> {
    numbers
        .iter()
        .filter(|r| {
            operator_connect_service(before, &r.number)
                != operator_connect_service(after, &r.number)
        })
        .filter_map(|r| {
            job_for_number(
                Some((before, &r.number)),
                Some((after, &r.number, r.version)),
            )
        })
        .collect()
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

impl SyncOutcome {
    fn failed(code: &str, message: String) -> Self {
        SyncOutcome::Failed(vec![ProvisioningIssue {
            code: code.to_owned(),
            message,
        }])
    }
}

/// The rule for an account that syncs Teams numbers: its tenant must have consented to the
/// operator, and the consent be active. `consent_status` is what the upstream reports, none when
/// it has no consent from the tenant.
pub fn account_outcome(tenant: &str, consent_status: Option<&str>) -> SyncOutcome {
    match consent_status {
        Some("active") => SyncOutcome::Synced,
        Some(status) => SyncOutcome::failed(
            "ConsentNotActive",
            format!("tenant {tenant}'s consent to the operator is {status}"),
        ),
        None => SyncOutcome::failed(
            "NoConsent",
            format!("tenant {tenant} has not chosen this operator in Teams admin center"),
        ),
    }
}

impl Provisioning {
    /// Records how the upstream took a batch's jobs: each resource with no later change on its
    /// way becomes synced or failed with the upstream's reasons (an audit event each), and the
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
            let (status, issues, end) = match outcome {
                SyncOutcome::Synced => (ProvisioningStatus::Synced, Vec::new(), JobEnd::Done),
                SyncOutcome::Failed(issues) => (
                    ProvisioningStatus::Failed,
                    issues.clone(),
                    JobEnd::Failed(describe(issues)),
                ),
            };
            ends.push((job.id, end));
            let resource = match job.resource_type.as_str() {
                "number" => outbox::Settled::Number,
                "account" => outbox::Settled::Account,
                _ => outbox::Settled::Consent,
            };
            let updated = outbox::settle(
                &mut tx,
                resource,
                &job.resource_key,
                job.id,
                status,
                &issues,
            )
            .await?;
            if updated || status == ProvisioningStatus::Failed {
                let (version, account) = job_version(job);
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

    /// Sends what of `account` did not sync upstream again: numbers that failed or sit pending
    /// with nothing on the way (all of them, or only `numbers`), and the account's own consent
    /// check when that failed. A failed job is sent again as it was (a failed release is released
    /// again); a number with no job is uploaded as it stands. Each becomes pending with an audit
    /// event; versions stay. Returns how many numbers were queued.
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
            .ok_or_else(|| ProvisioningError::not_found("account", account_name.as_str()))?;
        let candidates = match numbers {
            Some(list) => {
                let mut keys: Vec<&TelephoneNumber> = list.iter().collect();
                keys.sort();
                keys.dedup();
                let found: std::collections::HashMap<TelephoneNumber, _> =
                    stored_numbers::fetch_for_update(&mut tx, &keys)
                        .await?
                        .into_iter()
                        .map(|r| (r.number.telephone_number.clone(), r))
                        .collect();
                let mut violations = Violations::new();
                for (index, number) in list.iter().enumerate() {
                    let not_ours = || {
                        let message = format!("{number} is not a number of account {account_name}");
                        Some((Code::NumberNotFound, message))
                    };
                    let problem = match found.get(number) {
                        None => not_ours(),
                        Some(r) if r.number.account_name != *account_name => not_ours(),
                        Some(r) if r.provisioning_status == ProvisioningStatus::Synced => Some((
                            Code::NumberAlreadySynced,
                            format!("{number} is synced; only numbers that failed or are pending are sent again"),
                        )),
                        Some(_) => None,
                    };
                    if let Some((code, message)) = problem {
                        violations
                            .push(Violation::new("telephoneNumber", code, message).in_item(index));
                    }
                }
                if !violations.is_empty() {
                    return Err(ProvisioningError::from_violations(
                        "account",
                        account_name.as_str(),
                        violations,
                    ));
                }
                keys.iter()
                    .filter_map(|n| found.get(*n).cloned())
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
            let key = number.telephone_number.as_str();
            let last = outbox::last_job_for(&mut tx, "number", key).await?;
            let job = match &last {
                Some(job) if job.state == "pending" || job.state == "running" => {
                    // Asked for by name, say so; when retrying everything, it is simply not due.
                    if numbers.is_some() {
                        let message = format!("{key} is on its way to Operator Connect already");
                        under_way.push(
                            Violation::new("telephoneNumber", Code::SyncUnderWay, message)
                                .in_item(index),
                        );
                    }
                    continue;
                }
                Some(job) if job.state == "failed" => Some(NewJob {
                    kind: job.kind.clone(),
                    resource_type: job.resource_type.clone(),
                    resource_key: job.resource_key.clone(),
                    batch_group: job.batch_group.clone(),
                    payload: job.payload.clone(),
                }),
                _ => job_for_number(None, Some((&account.account, number, record.version))),
            };
            // Nothing to send (the number no longer syncs and nothing failed): it is as it should be.
            let status = if job.is_some() {
                ProvisioningStatus::Pending
            } else {
                ProvisioningStatus::Synced
            };
            outbox::set_status(&mut tx, outbox::Settled::Number, key, status, &[]).await?;
            jobs.extend(job);
            events.push(retry_event(
                &permit,
                &at,
                "number",
                key,
                record.version,
                record.provisioning_status,
                status,
                account_name,
            ));
        }
        if !under_way.is_empty() {
            return Err(ProvisioningError::from_violations(
                "account",
                account_name.as_str(),
                under_way,
            ));
        }
        let queued_numbers = jobs.len();
        let key = account_name.as_str();
        // Retrying everything of the account includes its own consent check, when that is not synced.
        if numbers.is_none()
            && account.provisioning_status != ProvisioningStatus::Synced
            && !outbox::unfinished_for(&mut tx, "account", key).await?
        {
            if let Some(job) = job_for_account(&account.account, account.version) {
                outbox::set_status(
                    &mut tx,
                    outbox::Settled::Account,
                    key,
                    ProvisioningStatus::Pending,
                    &[],
                )
                .await?;
                jobs.push(job);
                events.push(retry_event(
                    &permit,
                    &at,
                    "account",
                    key,
                    account.version,
                    account.provisioning_status,
                    ProvisioningStatus::Pending,
                    account_name,
                ));
            }
        }
        outbox::enqueue(&mut tx, &at, &jobs).await?;
        audit::record(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(queued_numbers)
    }

    /// The outbox's queue depth, oldest waiting job and failures (no actor: figures only, for
    /// `/metrics`).
    pub async fn outbox_figures(&self) -> Result<outbox::OutboxFigures, ProvisioningError> {
        Ok(outbox::figures(&self.db).await?)
    }

    /// Bulk jobs by kind and state, with the rows they read (figures only, for `/metrics`).
    pub async fn job_figures(&self) -> Result<Vec<(String, String, i64, i64)>, ProvisioningError> {
        Ok(crate::store::jobs::figures(&self.db).await?)
    }
}

/// The audit event of an operator's retry.
#[allow(clippy::too_many_arguments)]
fn retry_event(
    permit: &super::Permit<'_>,
    at: &str,
    resource_type: &str,
    key: &str,
    version: i64,
    before: ProvisioningStatus,
    after: ProvisioningStatus,
    account: &AccountName,
) -> crate::store::audit::AuditEvent {
    let status = |s: ProvisioningStatus| {
        serde_json::json!({ "serviceProvisioningStatus": s.as_str() }).to_string()
    };
    audit_event(
        permit,
        at,
        Change {
            action: "retry sync",
            resource_type,
            key,
            version: Some(version),
            before: Some(status(before)),
            after: Some(status(after)),
            account: Some(account.as_str()),
        },
    )
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
