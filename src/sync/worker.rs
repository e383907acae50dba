//! The outbox worker: takes a batch of jobs, does it upstream, and has the core record each
//! job's outcome. Delivery is at least once: a batch goes up under its own idempotency key, so
//! sending it again (after a timeout, or after another worker took over a dead one's batch)
//! gives back the same upstream order instead of a second one. Transient failures put the batch
//! off with exponential backoff and jitter (at least what `Retry-After` asked for); refusals end
//! its jobs failed with the upstream's reason.

use super::client::{OcClient, UpstreamError};
use super::wire::{self, NumberResult, OrderType};
use crate::provisioning::sync::{
    account_outcome, NumberJob, SyncOutcome, VersionedJob, ACCOUNT_CHECK, CONSENT_RELATIONSHIP,
    NUMBER_LOCAL, NUMBER_RELEASE, NUMBER_UPLOAD,
};
use crate::provisioning::{
    timestamp, timestamp_of, Actor, Door, Provisioning, ProvisioningIssue, Role,
};
use crate::store::outbox::{self, Batch};
use crate::store::Database;
use std::sync::Arc;
use std::time::Duration;

/// How a worker paces itself.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Most jobs in one batch (one upstream order).
    pub batch_size: i64,
    /// How long a batch stays a worker's without it renewing the lease.
    pub lease: Duration,
    /// Between polls of an upstream order.
    pub poll_interval: Duration,
    /// How long to wait when there is nothing to do.
    pub idle_wait: Duration,
    /// First retry delay; doubles with each attempt up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// After this many attempts a batch's jobs fail with the last transient reason.
    pub max_attempts: i64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            batch_size: 500,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            idle_wait: Duration::from_secs(1),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            max_attempts: 50,
        }
    }
}

pub struct Worker {
    core: Provisioning,
    db: Database,
    client: Arc<OcClient>,
    config: WorkerConfig,
    /// This worker's name on the leases it holds.
    owner: String,
    actor: Actor,
}

/// Why a batch's attempt stopped before every job had an outcome.
enum Stop {
    Upstream(UpstreamError),
    /// Another worker holds the batch now.
    LeaseLost,
    Store(String),
}

impl From<UpstreamError> for Stop {
    fn from(e: UpstreamError) -> Self {
        Stop::Upstream(e)
    }
}

impl From<crate::store::StoreError> for Stop {
    fn from(e: crate::store::StoreError) -> Self {
        Stop::Store(e.to_string())
    }
}

impl Worker {
    pub fn new(db: Database, client: Arc<OcClient>, config: WorkerConfig) -> Self {
        // host:process:worker, so a lease names the process that holds it.
        let owner = format!(
            "{}:{}:{:08x}",
            hostname(),
            std::process::id(),
            rand::random::<u32>()
        );
        Worker {
            core: Provisioning::new(db.clone()),
            db,
            client,
            config,
            owner,
            actor: Actor::new("sync", &[Role::Admin], Door::Sync),
        }
    }

    /// Works until the process ends.
    pub async fn run(self) {
        tracing::info!(owner = %self.owner, "sync worker started");
        loop {
            match self.run_once().await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(self.config.idle_wait).await,
                Err(error) => {
                    tracing::warn!(%error, "sync worker: database unavailable");
                    tokio::time::sleep(self.config.idle_wait).await;
                }
            }
        }
    }

    /// Takes one batch and works it to an outcome or a put-off; false when there was none.
    pub async fn run_once(&self) -> Result<bool, String> {
        let now = timestamp();
        let until = self.lease_end();
        let Some(batch) =
            outbox::claim(&self.db, &self.owner, &now, &until, self.config.batch_size)
                .await
                .map_err(|e| e.to_string())?
        else {
            return Ok(false);
        };
        let attempt = self.attempt(&batch).await;
        match attempt {
            Ok(outcomes) => {
                self.core
                    .settle_batch(&self.actor, &batch, &self.owner, &outcomes)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Err(Stop::Upstream(UpstreamError::Transient {
                reason,
                retry_after,
            })) => {
                if batch.attempts >= self.config.max_attempts {
                    let issue = ProvisioningIssue {
                        code: "UpstreamUnavailable".to_owned(),
                        message: format!(
                            "gave up after {} attempts; last: {reason}",
                            batch.attempts
                        ),
                    };
                    self.fail_all(&batch, issue).await?;
                } else {
                    let wait = self
                        .backoff(batch.attempts)
                        .max(retry_after.unwrap_or_default());
                    tracing::debug!(batch = batch.id, attempt = batch.attempts, ?wait, %reason, "upstream failed; will try again");
                    let due = timestamp_of(time::OffsetDateTime::now_utc() + wait);
                    outbox::put_off(&self.db, batch.id, &self.owner, &due, &reason)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Err(Stop::Upstream(UpstreamError::Refused { code, message })) => {
                self.fail_all(&batch, ProvisioningIssue { code, message })
                    .await?;
            }
            Err(Stop::Upstream(UpstreamError::NotFound(reason))) => {
                let issue = ProvisioningIssue {
                    code: "UpstreamNotFound".to_owned(),
                    message: reason,
                };
                self.fail_all(&batch, issue).await?;
            }
            Err(Stop::LeaseLost) => {
                tracing::warn!(batch = batch.id, "lease lost; another worker has the batch");
            }
            Err(Stop::Store(error)) => return Err(error),
        }
        Ok(true)
    }

    async fn fail_all(&self, batch: &Batch, issue: ProvisioningIssue) -> Result<(), String> {
        let outcomes: Vec<_> = batch
            .jobs
            .iter()
            .map(|j| (j.id, SyncOutcome::Failed(vec![issue.clone()])))
            .collect();
        self.core
            .settle_batch(&self.actor, batch, &self.owner, &outcomes)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn lease_end(&self) -> String {
        timestamp_of(time::OffsetDateTime::now_utc() + self.config.lease)
    }

    /// Exponential from `backoff_base`, capped, with jitter: between half and all of it.
    fn backoff(&self, attempts: i64) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        let full = self
            .config
            .backoff_base
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.config.backoff_cap);
        full.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }

    async fn attempt(&self, batch: &Batch) -> Result<Vec<(i64, SyncOutcome)>, Stop> {
        match batch.kind.as_str() {
            NUMBER_LOCAL => Ok(batch
                .jobs
                .iter()
                .map(|j| (j.id, SyncOutcome::Synced))
                .collect()),
            NUMBER_UPLOAD => self.order(batch, OrderType::Upload).await,
            NUMBER_RELEASE => self.order(batch, OrderType::Release).await,
            ACCOUNT_CHECK => self.check_accounts(batch).await,
            CONSENT_RELATIONSHIP => self.push_relationships(batch).await,
            other => Ok(batch
                .jobs
                .iter()
                .map(|j| {
                    let issue = ProvisioningIssue {
                        code: "UnknownJob".to_owned(),
                        message: format!(
                            "this version of Numbat does not know jobs of kind {other}"
                        ),
                    };
                    (j.id, SyncOutcome::Failed(vec![issue]))
                })
                .collect()),
        }
    }

    /// Places the batch's order (or finds it again) and polls it to the end.
    async fn order(
        &self,
        batch: &Batch,
        order_type: OrderType,
    ) -> Result<Vec<(i64, SyncOutcome)>, Stop> {
        let mut unreadable_jobs = Vec::new();
        let mut jobs: Vec<(i64, &str, NumberJob)> = Vec::with_capacity(batch.jobs.len());
        for job in &batch.jobs {
            match serde_json::from_str(&job.payload) {
                Ok(payload) => jobs.push((job.id, job.resource_key.as_str(), payload)),
                Err(error) => unreadable_jobs.push((job.id, unreadable(&error))),
            }
        }
        if jobs.is_empty() {
            return Ok(unreadable_jobs);
        }
        let tenant = jobs
            .iter()
            .find_map(|(_, _, p)| p.tenant_id.clone())
            .unwrap_or_default();
        let numbers = jobs
            .iter()
            .map(|(_, key, p)| wire::OrderNumber {
                telephone_number: (*key).to_owned(),
                number_type: p
                    .service
                    .as_deref()
                    .and_then(wire::number_type)
                    .map(str::to_owned),
                assignment_status: p.assignment_status,
                configuration: p.configuration.clone(),
            })
            .collect();
        let new_order = wire::NewOrder {
            order_type,
            tenant_id: tenant,
            numbers,
        };
        let mut order = match &batch.upstream_order {
            Some(id) => self.client.order(id).await?,
            None => {
                let order = self
                    .client
                    .place_order(&new_order, &batch.idempotency_key)
                    .await?;
                outbox::set_upstream_order(&self.db, batch.id, &order.id).await?;
                order
            }
        };
        while !order.status.is_final() {
            tokio::time::sleep(self.config.poll_interval).await;
            self.keep_lease(batch).await?;
            order = self.client.order(&order.id).await?;
        }
        let results: std::collections::HashMap<&str, &NumberResult> = order
            .numbers
            .iter()
            .map(|r| (r.telephone_number.as_str(), r))
            .collect();
        Ok(unreadable_jobs
            .into_iter()
            .chain(jobs.iter().map(|(id, key, _)| {
                let outcome = match results.get(key) {
                    Some(r) if r.status == "succeeded" => SyncOutcome::Synced,
                    Some(r) => SyncOutcome::Failed(vec![ProvisioningIssue {
                        code: r
                            .error_code
                            .clone()
                            .unwrap_or_else(|| "UpstreamFailed".to_owned()),
                        message: r
                            .error_message
                            .clone()
                            .unwrap_or_else(|| format!("Operator Connect did not take {key}")),
                    }]),
                    None => SyncOutcome::Failed(vec![ProvisioningIssue {
                        code: "UpstreamNoResult".to_owned(),
                        message: format!("order {} has no result for {key}", order.id),
                    }]),
                };
                (*id, outcome)
            }))
            .collect())
    }

    /// Renews the batch's lease; stops the attempt when another worker has taken it.
    async fn keep_lease(&self, batch: &Batch) -> Result<(), Stop> {
        if outbox::renew(&self.db, batch.id, &self.owner, &self.lease_end()).await? {
            Ok(())
        } else {
            Err(Stop::LeaseLost)
        }
    }

    /// An account that syncs Teams numbers needs its tenant's active consent.
    async fn check_accounts(&self, batch: &Batch) -> Result<Vec<(i64, SyncOutcome)>, Stop> {
        let mut outcomes = Vec::with_capacity(batch.jobs.len());
        for job in &batch.jobs {
            let payload: Option<VersionedJob> = serde_json::from_str(&job.payload).ok();
            let Some(tenant) = payload.and_then(|p| p.tenant_id) else {
                outcomes.push((job.id, SyncOutcome::Synced));
                continue;
            };
            self.keep_lease(batch).await?;
            let outcome = match self.client.consent(&tenant).await {
                Ok(consent) => account_outcome(&tenant, Some(consent.status.as_str())),
                Err(UpstreamError::NotFound(_)) => account_outcome(&tenant, None),
                Err(other) => return Err(other.into()),
            };
            outcomes.push((job.id, outcome));
        }
        Ok(outcomes)
    }

    async fn push_relationships(&self, batch: &Batch) -> Result<Vec<(i64, SyncOutcome)>, Stop> {
        let mut outcomes = Vec::with_capacity(batch.jobs.len());
        for job in &batch.jobs {
            let payload: VersionedJob = match serde_json::from_str(&job.payload) {
                Ok(p) => p,
                Err(e) => {
                    outcomes.push((job.id, unreadable(&e)));
                    continue;
                }
            };
            self.keep_lease(batch).await?;
            let relationship = payload
                .body
                .and_then(|b| b.get("customerRelationship").cloned())
                .unwrap_or_default();
            let key = format!("{}-{}", batch.idempotency_key, job.id);
            let outcome = match self
                .client
                .update_relationship(&job.resource_key, relationship, &key)
                .await
            {
                Ok(_) => SyncOutcome::Synced,
                Err(UpstreamError::Refused { code, message }) => {
                    SyncOutcome::Failed(vec![ProvisioningIssue { code, message }])
                }
                Err(UpstreamError::NotFound(message)) => {
                    SyncOutcome::Failed(vec![ProvisioningIssue {
                        code: "NoConsent".to_owned(),
                        message,
                    }])
                }
                Err(other) => return Err(other.into()),
            };
            outcomes.push((job.id, outcome));
        }
        Ok(outcomes)
    }
}

fn unreadable(error: &serde_json::Error) -> SyncOutcome {
    SyncOutcome::Failed(vec![ProvisioningIssue {
        code: "UnreadableJob".to_owned(),
        message: format!("the job's payload cannot be read: {error}"),
    }])
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "numbat".to_owned())
}
