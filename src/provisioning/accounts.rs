//! Commands and queries on accounts.

use super::{
    audit_event, now, to_json, Actor, Change, Current, Outcome, Permission, Precondition,
    Provisioning, ProvisioningError, Written,
};
use crate::domain::rules::{self, ServiceUsage};
use crate::domain::Code;
use crate::domain::{
    Account, AccountName, ProvisioningStatus, Service, SubdomainStatus, Violation,
};
use crate::store::accounts::{self as stored, AccountFilter, AccountRecord};
use crate::store::{audit, numbers, outbox};

const RESOURCE: &str = "account";

impl Provisioning {
    /// Creates or replaces an account (ACG's PUT /accounts/{name}).
    pub async fn put_account(
        &self,
        actor: &Actor,
        account: Account,
        precondition: Precondition,
    ) -> Result<Written<AccountRecord>, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let settings = self.settings_unchecked().await?;
        let mut tx = self.begin(&permit).await?;
        let current = stored::fetch_for_update(&mut tx, &account.name).await?;
        let key = account.name.to_string();
        let key = key.as_str();
        precondition.check(RESOURCE, key, state_of(current.as_ref()))?;

        let violations = rules::check_account(
            &account,
            current.as_ref().map(|c| (&c.account, c.usage())),
            settings.base_domain.as_ref(),
        );
        if !violations.is_empty() {
            return Err(ProvisioningError::from_violations(
                RESOURCE, key, violations,
            ));
        }
        if let Some(current) = current.as_ref().filter(|c| c.account == account) {
            return Ok(Written {
                record: current.clone(),
                outcome: Outcome::Unchanged,
            });
        }
        // By the portal, a live service's numbers stay as they are upstream: no switching the
        // service or its sync off, or moving the account to another tenant, while it has them.
        if let Some(current) = &current {
            let live = self.live_for(actor).await?;
            let tenant_changed = current.account.teams_tenant_id != account.teams_tenant_id;
            for service in live {
                let held = current.usage().of(service);
                let touched = tenant_changed
                    || current.account.has_enabled(service) != account.has_enabled(service)
                    || current.account.syncs(service) != account.syncs(service);
                if held > 0 && touched {
                    return Err(ProvisioningError::Conflict(
                        Violation::new(
                            format!("serviceDetails.{}", service.wire_name()),
                            Code::ServiceLaunched,
                            format!(
                                "{} is live and account {key} has {held} of its numbers: its service, sync and tenant change through the Provisioning API, not the portal",
                                service.label()
                            ),
                        )
                        .into(),
                    ));
                }
            }
        }

        let at = now();
        let subdomain_status = match &current {
            Some(c) if c.account.direct_routing == account.direct_routing => c.subdomain_status,
            _ => SubdomainStatus::NotProvisioned,
        };
        // Only an account that syncs has anything to check upstream (its tenant's consent).
        let syncs = account.syncs_anything();
        let record = AccountRecord {
            number_counts: current
                .as_ref()
                .map(|c| c.number_counts)
                .unwrap_or_default(),
            subdomain_status,
            provisioning_status: if syncs {
                ProvisioningStatus::Pending
            } else {
                ProvisioningStatus::Synced
            },
            provisioning_errors: Vec::new(),
            version: current.as_ref().map_or(1, |c| c.version + 1),
            created_at: current
                .as_ref()
                .map_or_else(|| at.clone(), |c| c.created_at.clone()),
            updated_at: at.clone(),
            account,
        };
        stored::upsert(&mut tx, &record).await?;
        let outcome = if current.is_some() {
            Outcome::Replaced
        } else {
            Outcome::Created
        };
        let change = Change {
            action: if current.is_some() {
                "replace"
            } else {
                "create"
            },
            resource_type: RESOURCE,
            key,
            version: Some(record.version),
            before: current.as_ref().map(|c| to_json(&c.account)),
            after: Some(to_json(&record.account)),
            account: Some(key),
        };
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        let mut jobs: Vec<_> = super::sync::job_for_account(&record.account, record.version)
            .into_iter()
            .collect();
        if let Some(current) = &current {
            // Sync switched on or off: the numbers it concerns are uploaded or released.
            if Service::ALL
                .into_iter()
                .any(|s| current.account.syncs(s) != record.account.syncs(s))
            {
                let owned =
                    numbers::fetch_account_numbers_for_update(&mut tx, &record.account.name)
                        .await?;
                let moved =
                    super::sync::jobs_for_account_change(&current.account, &record.account, &owned);
                for job in &moved {
                    outbox::set_status(
                        &mut tx,
                        outbox::Settled::Number,
                        &job.resource_key,
                        ProvisioningStatus::Pending,
                        &[],
                    )
                    .await?;
                }
                jobs.extend(moved);
            }
        }
        outbox::enqueue(&mut tx, &at, &jobs).await?;
        tx.commit().await?;
        Ok(Written { record, outcome })
    }

    /// Deletes an account. With numbers it fails unless `with_numbers`, which deletes them too.
    pub async fn delete_account(
        &self,
        actor: &Actor,
        name: &AccountName,
        with_numbers: bool,
        precondition: Precondition,
    ) -> Result<(), ProvisioningError> {
        let permit = actor.permit(Permission::Delete)?;
        let mut tx = self.begin(&permit).await?;
        let key = name.as_str();
        let current = stored::fetch_for_update(&mut tx, name).await?;
        precondition.check(RESOURCE, key, state_of(current.as_ref()))?;
        let Some(current) = current else {
            return Err(ProvisioningError::not_found(RESOURCE, key));
        };
        let owned = numbers::fetch_account_numbers_for_update(&mut tx, name).await?;
        let live = self.live_for(actor).await?;
        if let Some(refusal) = owned
            .iter()
            .find_map(|n| super::live::refusal(&live, &n.number.services))
        {
            return Err(ProvisioningError::Conflict(refusal.into()));
        }
        if !owned.is_empty() && !with_numbers {
            return Err(ProvisioningError::Conflict(
                Violation::new(
                    "deleteNumbers",
                    Code::AccountHasNumbers,
                    format!(
                        "account {key} has {} {}: delete them first, or ask for them to be deleted with it (deleteNumbers=true)",
                        owned.len(),
                        if owned.len() == 1 { "number" } else { "numbers" }
                    ),
                )
                .into(),
            ));
        }
        let at = now();
        self.remove_numbers(
            &permit,
            &mut tx,
            &current.account,
            &owned,
            &at,
            super::inventory::Release::Quarantine,
        )
        .await?;
        Self::cancel_reservations_of(&permit, &mut tx, name, &at).await?;
        stored::delete(&mut tx, name).await?;
        let labels = crate::store::labels::Kind::Account;
        Self::forget_labels(&permit, &mut tx, labels, &[key], Some(key)).await?;
        let change = Change {
            action: "delete",
            resource_type: RESOURCE,
            key,
            version: None,
            before: Some(to_json(&current.account)),
            after: None,
            account: Some(key),
        };
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_account(
        &self,
        actor: &Actor,
        name: &AccountName,
    ) -> Result<AccountRecord, ProvisioningError> {
        actor.permit(Permission::Read)?;
        stored::get(&self.db, name)
            .await?
            .ok_or_else(|| ProvisioningError::not_found(RESOURCE, name.as_str()))
    }

    /// Accounts in name order after `after`, at most `limit`.
    pub async fn list_accounts(
        &self,
        actor: &Actor,
        filter: &AccountFilter,
        after: Option<&AccountName>,
        limit: i64,
    ) -> Result<Vec<AccountRecord>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::list(&self.db, filter, after, limit).await?)
    }

    /// Accounts in name order, either way (the portal's sortable list).
    pub async fn list_accounts_in_order(
        &self,
        actor: &Actor,
        filter: &AccountFilter,
        order: crate::store::numbers::NumberOrder,
        after: Option<&AccountName>,
        limit: i64,
    ) -> Result<Vec<AccountRecord>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::list_in_order(&self.db, filter, order, after, limit).await?)
    }

    pub async fn count_accounts(
        &self,
        actor: &Actor,
        filter: &AccountFilter,
    ) -> Result<i64, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::count(&self.db, filter).await?)
    }
}

/// How the per-service counts change when numbers go from `before` to `after` enabled sets.
pub(super) fn usage_delta<'a>(
    before: impl Iterator<Item = &'a crate::domain::Number>,
    after: impl Iterator<Item = &'a crate::domain::Number>,
) -> ServiceUsage {
    let mut delta = [0i64; Service::COUNT];
    for number in before {
        for service in number.enabled_services() {
            delta[service.index()] -= 1;
        }
    }
    for number in after {
        for service in number.enabled_services() {
            delta[service.index()] += 1;
        }
    }
    ServiceUsage(delta)
}

/// A stored account as a write's precondition sees it.
fn state_of(record: Option<&AccountRecord>) -> Option<Current<'_>> {
    record.map(|c| Current::new(c.version, &c.updated_at))
}
