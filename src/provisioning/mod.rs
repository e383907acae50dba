//! The provisioning core: the one door every write goes through, whichever door it came by.
//!
//! Each command checks the caller's role, applies every rule, then writes the change, its audit
//! event, any outbox job for upstream platforms and the new version (the ETag) in one database
//! transaction. Reads go through here too, so doors never touch the store. Depends on `domain`
//! and `store`.

pub mod access;
mod accounts;
pub mod billing;
pub mod bulk;
mod consents;
pub mod emergency;
pub mod error;
pub mod feed;
pub mod history;
pub mod import;
pub mod inventory;
pub mod inventory_job;
pub mod labels;
pub mod launch;
pub mod live;
mod numbers;
pub mod onboarding;
pub mod review;
mod routing;
mod settings;
mod subdomains;
pub mod sync;
pub mod tokens;
pub mod uploads;
pub mod users;
pub mod verification;
pub mod webhooks;

pub use access::{Actor, Door, Permission, Permit, Role};
pub use error::ProvisioningError;
pub use settings::DeploymentSettings;

pub use crate::store::accounts::{AccountFilter, AccountRecord, ProvisioningIssue};
pub use crate::store::audit::{AuditEvent, AuditFilter};
pub use crate::store::consents::{CivicAddressRecord, RfiRecord};
pub use crate::store::filter;
pub use crate::store::inventory::{HeldRecord, InventoryFilter};
pub use crate::store::jobs::{Job, RowError, Tally};
pub use crate::store::numbers::{NumberFilter, NumberOrder, NumberRecord};
pub use crate::store::outbox::{OutboxFigures, OutboxJob};
pub use crate::store::repeatability::StoredAnswer;
pub use crate::store::sessions::DatabaseSessionStore as SessionStore;

use crate::store::{audit, outbox, Database, Tx};
use serde::Serialize;

/// The core, over one database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Provisioning {
    db: Database,
    /// How long a bulk job stays its worker's without a heartbeat (see `import`).
    job_lease: std::time::Duration,
    /// Whether webhook subscriptions may name loopback and private addresses (labs, tests).
    webhooks_allow_private: bool,
    /// How webhook deliveries are retried.
    webhook_retry: webhooks::RetryPolicy,
}

/// The ETags an `If-Match` or `If-None-Match` names: `*` (any existing version) or up to
/// [`EtagList::MAX`] versions. ETags this server never gave out are left out, so a list of
/// only those matches nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EtagList {
    any: bool,
    versions: [i64; EtagList::MAX],
    len: u8,
}

impl EtagList {
    /// The most ETags one header may list.
    pub const MAX: usize = 8;

    /// `*`: any version, as long as the resource exists.
    pub const ANY: Self = Self {
        any: true,
        versions: [0; Self::MAX],
        len: 0,
    };

    /// The versions listed; `None` when there are more than [`EtagList::MAX`].
    pub fn of(versions: &[i64]) -> Option<Self> {
        if versions.len() > Self::MAX {
            return None;
        }
        let mut list = Self::default();
        list.versions[..versions.len()].copy_from_slice(versions);
        list.len = versions.len() as u8;
        Some(list)
    }

    /// Whether a resource at `current` (absent: `None`) is one the list names.
    fn matches(&self, current: Option<i64>) -> bool {
        current.is_some_and(|v| self.any || self.versions[..usize::from(self.len)].contains(&v))
    }
}

/// The conditions a write carries, evaluated as RFC 9110 13.2.2 orders them: `If-Match`, or
/// else `If-Unmodified-Since`; then `If-None-Match`. Every one given must hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Precondition {
    pub if_match: Option<EtagList>,
    /// Seconds since 1970: the resource must not have changed after it.
    pub if_unmodified_since: Option<i64>,
    pub if_none_match: Option<EtagList>,
}

impl Precondition {
    /// No condition.
    pub const NONE: Self = Self {
        if_match: None,
        if_unmodified_since: None,
        if_none_match: None,
    };
    /// The resource must exist, at any version (`If-Match: *`).
    pub const IF_EXISTS: Self = Self {
        if_match: Some(EtagList::ANY),
        ..Self::NONE
    };
    /// The resource must not exist yet (`If-None-Match: *`).
    pub const IF_ABSENT: Self = Self {
        if_none_match: Some(EtagList::ANY),
        ..Self::NONE
    };

    /// The resource must exist at exactly this version.
    pub fn if_match(version: i64) -> Self {
        Self {
            if_match: EtagList::of(&[version]),
            ..Self::NONE
        }
    }
}

/// A resource as a precondition sees it: its version and when it last changed (RFC 3339).
#[derive(Clone, Copy, Debug)]
pub struct Current<'a> {
    pub version: i64,
    pub updated_at: &'a str,
}

impl<'a> Current<'a> {
    pub fn new(version: i64, updated_at: &'a str) -> Self {
        Self {
            version,
            updated_at,
        }
    }
}

/// Seconds since 1970 of a stored RFC 3339 time; a time that does not parse counts as now
/// and later, so a date condition fails safe.
pub fn changed_at_second(stored: &str) -> i64 {
    time::OffsetDateTime::parse(stored, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .unwrap_or(i64::MAX)
}

impl Precondition {
    fn holds(self, current: Option<Current<'_>>) -> bool {
        let version = current.map(|c| c.version);
        let first = match (self.if_match, self.if_unmodified_since) {
            (Some(list), _) => list.matches(version),
            // Only a resource that exists has a time to compare (RFC 9110 13.1.4).
            (None, Some(at)) => current.is_none_or(|c| changed_at_second(c.updated_at) <= at),
            (None, None) => true,
        };
        first && self.if_none_match.is_none_or(|list| !list.matches(version))
    }

    fn check(
        self,
        resource: &'static str,
        key: &str,
        current: Option<Current<'_>>,
    ) -> Result<(), ProvisioningError> {
        if self.holds(current) {
            Ok(())
        } else {
            Err(ProvisioningError::PreconditionFailed {
                resource,
                key: key.to_owned(),
                current: current.map(|c| c.version),
            })
        }
    }
}

/// What a write did: the resource as it now stands and whether it was created, changed or
/// left as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written<T> {
    pub record: T,
    pub outcome: Outcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Replaced,
    /// The request asked for what was already stored: nothing was written.
    Unchanged,
}

impl Provisioning {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            job_lease: import::DEFAULT_JOB_LEASE,
            webhooks_allow_private: false,
            webhook_retry: webhooks::RetryPolicy::default(),
        }
    }

    /// The same core letting webhook subscriptions name loopback and private addresses, and
    /// plain http (for labs and tests; never on a deployment others can reach).
    pub fn with_private_webhooks(mut self, allow: bool) -> Self {
        self.webhooks_allow_private = allow;
        self
    }

    pub fn webhooks_allow_private(&self) -> bool {
        self.webhooks_allow_private
    }

    /// The same core retrying webhook deliveries under `policy`.
    pub fn with_webhook_retry(mut self, policy: webhooks::RetryPolicy) -> Self {
        self.webhook_retry = policy;
        self
    }

    /// The same core holding bulk jobs under leases of `lease`: a job whose worker has not
    /// renewed its lease for that long is taken to be interrupted.
    pub fn with_job_lease(mut self, lease: std::time::Duration) -> Self {
        self.job_lease = lease.max(std::time::Duration::from_secs(1));
        self
    }

    pub fn job_lease(&self) -> std::time::Duration {
        self.job_lease
    }

    /// The database's kind (`sqlite`, `postgres`), for health answers.
    pub fn database_kind(&self) -> &'static str {
        self.db.kind()
    }

    /// Whether the database answers, and its schema version if so.
    pub async fn database_ready(&self) -> Result<i64, ProvisioningError> {
        self.db.ping().await?;
        Ok(self.db.schema_version().await?)
    }

    /// The answer first given to the repeatable request `request_id`, if one was kept.
    pub async fn repeated_answer(
        &self,
        request_id: &str,
    ) -> Result<Option<StoredAnswer>, ProvisioningError> {
        Ok(crate::store::repeatability::get(&self.db, request_id).await?)
    }

    /// Keeps `answer` for replays of its request; a duplicate that finished second is not kept.
    pub async fn keep_answer(&self, answer: &StoredAnswer) -> Result<(), ProvisioningError> {
        Ok(crate::store::repeatability::put(&self.db, answer).await?)
    }

    /// Begins the transaction of a write; needs a permit, so no write skips the role check.
    async fn begin(&self, _permit: &Permit<'_>) -> Result<Tx, ProvisioningError> {
        Ok(self.db.begin().await?)
    }

    /// The audit trail of one resource, or of every resource of a type, oldest first.
    pub async fn audit_events(
        &self,
        actor: &Actor,
        resource_type: Option<&str>,
        key: Option<&str>,
        after_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(audit::list(&self.db, resource_type, key, after_id, limit).await?)
    }

    /// The newest events `filter` selects first, before `before_id` (the portal's audit page).
    pub async fn recent_audit_events(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let page = audit::AuditPage::NewestBefore(before_id);
        Ok(audit::list_page(&self.db, filter, page, limit).await?)
    }

    /// Jobs waiting to be pushed upstream, oldest first.
    pub async fn pending_outbox(
        &self,
        actor: &Actor,
        limit: i64,
    ) -> Result<Vec<OutboxJob>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(outbox::pending(&self.db, limit).await?)
    }
}

/// Now, as RFC 3339 UTC with milliseconds (sorts as text).
pub(crate) fn now() -> String {
    timestamp()
}

/// Now, as RFC 3339 UTC with milliseconds; what every stored time looks like.
pub fn timestamp() -> String {
    timestamp_ago(std::time::Duration::ZERO)
}

/// The time `ago` before now, in the same form as `timestamp`.
pub fn timestamp_ago(ago: std::time::Duration) -> String {
    timestamp_of(time::OffsetDateTime::now_utc() - ago)
}

/// `at` in the form every stored time has (UTC, milliseconds), so times compare as text.
pub fn timestamp_of(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .expect("a UTC time formats")
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("domain values serialise")
}

/// One change to one resource, as the audit trail records it.
pub(crate) struct Change<'a> {
    pub action: &'a str,
    pub resource_type: &'a str,
    pub key: &'a str,
    /// The version after the change; none after a delete.
    pub version: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The account concerned (an account's change, or one of its numbers').
    pub account: Option<&'a str>,
}

/// The audit event of `change` made by `permit`'s actor at `at`.
pub(crate) fn audit_event(permit: &Permit<'_>, at: &str, change: Change<'_>) -> AuditEvent {
    let actor = permit.actor();
    AuditEvent {
        id: None,
        at: at.to_owned(),
        actor: actor.principal.clone(),
        role: actor.roles_text(),
        door: actor.door.as_str().to_owned(),
        action: change.action.to_owned(),
        resource_type: change.resource_type.to_owned(),
        resource_key: change.key.to_owned(),
        version: change.version,
        before: change.before,
        after: change.after,
        account: change.account.map(str::to_owned),
    }
}
