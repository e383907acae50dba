//! Commands and queries on numbers; batches are all or nothing.

use super::accounts::usage_delta;
use super::inventory::Release;
use super::{
    audit_event, now, to_json, Actor, Change, Current, Outcome, Permission, Permit, Precondition,
    Provisioning, ProvisioningError, Written,
};
use crate::domain::rules;
use crate::domain::{
    Account, AccountName, Number, ProvisioningStatus, TelephoneNumber, Violation, Violations,
};
use crate::domain::{Code, Service};
use crate::store::numbers::{self as stored, NumberFilter, NumberOrder, NumberRecord};
use crate::store::{accounts, audit, outbox, Tx};
use std::collections::{HashMap, HashSet};

const RESOURCE: &str = "number";

impl Provisioning {
    /// Creates or replaces numbers of one account, all or nothing: if any item breaks a rule,
    /// nothing is written and every broken rule is returned, named by item index and field.
    pub async fn upsert_numbers(
        &self,
        actor: &Actor,
        account_name: &AccountName,
        batch: Vec<Number>,
    ) -> Result<Vec<Written<NumberRecord>>, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        let written = self
            .write_numbers(&permit, &mut tx, account_name, batch, Precondition::NONE)
            .await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Creates numbers of one account that do not exist yet, all or nothing: a number that
    /// exists (in any account) is refused by item, never replaced (the portal's "Add numbers").
    pub async fn create_numbers(
        &self,
        actor: &Actor,
        account_name: &AccountName,
        batch: Vec<Number>,
    ) -> Result<Vec<Written<NumberRecord>>, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        // Locks in the order every writer takes them: the account, then its numbers.
        accounts::fetch_many_for_update(&mut tx, &[account_name]).await?;
        let keys: Vec<&TelephoneNumber> = batch.iter().map(|n| &n.telephone_number).collect();
        let existing: HashMap<TelephoneNumber, AccountName> =
            stored::fetch_for_update(&mut tx, &keys)
                .await?
                .into_iter()
                .map(|r| (r.number.telephone_number, r.number.account_name))
                .collect();
        let mut violations = Violations::new();
        for (index, number) in batch.iter().enumerate() {
            if let Some(owner) = existing.get(&number.telephone_number) {
                violations.push(
                    Violation::new(
                        "telephoneNumber",
                        Code::NumberExists,
                        format!(
                            "{} already exists (in account {owner}); edit it instead",
                            number.telephone_number
                        ),
                    )
                    .in_item(index),
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
        let written = self
            .write_numbers(&permit, &mut tx, account_name, batch, Precondition::NONE)
            .await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Creates or replaces one number (ACG's PUT /accounts/{name}/numbers/{number}).
    pub async fn put_number(
        &self,
        actor: &Actor,
        number: Number,
        precondition: Precondition,
    ) -> Result<Written<NumberRecord>, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        let written = self
            .write_one(&permit, &mut tx, number, precondition)
            .await?;
        tx.commit().await?;
        Ok(written)
    }

    /// `put_number` for a form that shows the settings of one Teams service (`shown`) and none
    /// of a service switched off: what it did not show keeps the stored number's settings
    /// ([`crate::domain::NumberServices::keeping_hidden_teams_settings`]), read in the same
    /// transaction.
    pub async fn edit_number(
        &self,
        actor: &Actor,
        mut number: Number,
        shown: Option<Service>,
        precondition: Precondition,
    ) -> Result<Written<NumberRecord>, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        // Locks in the order every writer takes them: the account, then its numbers.
        accounts::fetch_many_for_update(&mut tx, &[&number.account_name]).await?;
        if let Some(stored) = stored::fetch_for_update(&mut tx, &[&number.telephone_number])
            .await?
            .into_iter()
            .next()
        {
            number.services = number
                .services
                .keeping_hidden_teams_settings(&stored.number.services, shown);
        }
        let written = self
            .write_one(&permit, &mut tx, number, precondition)
            .await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Writes one number in `tx`, its violations named without the item of a batch.
    pub(super) async fn write_one(
        &self,
        permit: &Permit<'_>,
        tx: &mut Tx,
        number: Number,
        precondition: Precondition,
    ) -> Result<Written<NumberRecord>, ProvisioningError> {
        let account = number.account_name.clone();
        let mut written = self
            .write_numbers(permit, tx, &account, vec![number], precondition)
            .await
            .map_err(single_item_errors)?;
        Ok(written.remove(0))
    }

    pub(super) async fn write_numbers(
        &self,
        permit: &Permit<'_>,
        tx: &mut Tx,
        account_name: &AccountName,
        batch: Vec<Number>,
        precondition: Precondition,
    ) -> Result<Vec<Written<NumberRecord>>, ProvisioningError> {
        self.write_many(permit, tx, batch, precondition, Some(account_name))
            .await
    }

    /// Creates or replaces numbers, each in the account it names, or all in `only_account`
    /// (a number naming another is refused). Violations name their item by position in `batch`; nothing is written unless every number passes.
    pub(super) async fn write_many(
        &self,
        permit: &Permit<'_>,
        tx: &mut Tx,
        batch: Vec<Number>,
        precondition: Precondition,
        only_account: Option<&AccountName>,
    ) -> Result<Vec<Written<NumberRecord>>, ProvisioningError> {
        let batch: Vec<Number> = batch.into_iter().map(Number::normalized).collect();
        let live = self.live_for(permit.actor()).await?;
        let names: Vec<&AccountName> = match only_account {
            Some(name) => vec![name],
            None => {
                let distinct: std::collections::BTreeSet<&AccountName> =
                    batch.iter().map(|n| &n.account_name).collect();
                distinct.into_iter().collect()
            }
        };
        let accounts_found: HashMap<AccountName, Account> =
            accounts::fetch_many_for_update(tx, &names)
                .await?
                .into_iter()
                .map(|r| (r.account.name.clone(), r.account))
                .collect();
        if let Some(name) = only_account.filter(|n| !accounts_found.contains_key(*n)) {
            return Err(ProvisioningError::not_found("account", name.as_str()));
        }
        let account_of =
            |number: &Number| accounts_found.get(only_account.unwrap_or(&number.account_name));
        let keys: Vec<&TelephoneNumber> = batch.iter().map(|n| &n.telephone_number).collect();
        let existing: HashMap<TelephoneNumber, NumberRecord> = stored::fetch_for_update(tx, &keys)
            .await?
            .into_iter()
            .map(|r| (r.number.telephone_number.clone(), r))
            .collect();

        // A number new to every account may be held in the inventory: for this account (it
        // takes it) or for or from another (refused by name).
        let at = now();
        let fresh: Vec<(&TelephoneNumber, &AccountName)> = batch
            .iter()
            .filter(|n| !existing.contains_key(&n.telephone_number))
            .map(|n| (&n.telephone_number, only_account.unwrap_or(&n.account_name)))
            .collect();
        let (held_back, taken) = Self::holds_for_assignment(tx, &fresh, &at).await?;

        let mut violations = Violations::new();
        let mut seen = HashSet::with_capacity(batch.len());
        let mut facts = Vec::with_capacity(batch.len());
        for (index, number) in batch.iter().enumerate() {
            let current = existing.get(&number.telephone_number);
            precondition.check(
                RESOURCE,
                number.telephone_number.as_str(),
                current.map(|c| Current::new(c.version, &c.updated_at)),
            )?;
            if !seen.insert(&number.telephone_number) {
                violations.push(
                    Violation::new(
                        "telephoneNumber",
                        Code::Duplicate,
                        "appears more than once in this batch",
                    )
                    .in_item(index),
                );
            }
            let target = only_account.unwrap_or(&number.account_name);
            if let Some(owner) = current
                .map(|c| &c.number.account_name)
                .filter(|o| *o != target)
            {
                violations.push(
                    Violation::new(
                        "telephoneNumber",
                        Code::NumberInAnotherAccount,
                        format!(
                            "{} already belongs to account {owner}",
                            number.telephone_number
                        ),
                    )
                    .in_item(index),
                );
            }
            if let Some(violation) = held_back.get(&number.telephone_number) {
                violations.push(violation.clone().in_item(index));
            }
            // A live service's number, as it is or as it would be, is not the portal's to change.
            if let Some(violation) = super::live::refusal(&live, &number.services)
                .or_else(|| current.and_then(|c| super::live::refusal(&live, &c.number.services)))
            {
                violations.push(violation.in_item(index));
            }
            let number_facts = number.telephone_number.classify();
            match account_of(number) {
                Some(account) => {
                    for violation in rules::check_number(number, account, &number_facts).0 {
                        violations.push(violation.in_item(index));
                    }
                }
                None => violations.push(
                    Violation::new(
                        "accountName",
                        Code::AccountNotFound,
                        format!("account {} does not exist", number.account_name),
                    )
                    .in_item(index),
                ),
            }
            facts.push(number_facts);
        }
        if !violations.is_empty() {
            let key = only_account.map_or("", |a| a.as_str());
            return Err(ProvisioningError::from_violations(
                "account", key, violations,
            ));
        }

        let mut results = Vec::with_capacity(batch.len());
        let mut changed = Vec::new();
        let mut events = Vec::new();
        let mut jobs = Vec::new();
        for (number, facts) in batch.into_iter().zip(facts) {
            let current = existing.get(&number.telephone_number);
            // Stored before the normal form existed, a number may still hold `false` flags.
            if let Some(current) = current.filter(|c| c.number.clone().normalized() == number) {
                results.push(Written {
                    record: current.clone(),
                    outcome: Outcome::Unchanged,
                });
                continue;
            }
            let account = account_of(&number).expect("checked above");
            let version = current.map_or(1, |c| c.version + 1);
            let job = super::sync::job_for_number(
                current.map(|c| (account, &c.number)),
                Some((account, &number, version)),
            );
            let pushes = job.is_some();
            jobs.extend(job);
            let record = NumberRecord {
                country: facts.country,
                line_type: facts.line_type,
                provisioning_status: if pushes {
                    ProvisioningStatus::Pending
                } else {
                    ProvisioningStatus::Synced
                },
                provisioning_errors: Vec::new(),
                version,
                created_at: current.map_or_else(|| at.clone(), |c| c.created_at.clone()),
                updated_at: at.clone(),
                number,
            };
            let key = record.number.telephone_number.as_str();
            events.push(audit_event(
                permit,
                &at,
                Change {
                    action: if current.is_some() {
                        "replace"
                    } else {
                        "create"
                    },
                    resource_type: RESOURCE,
                    key,
                    version: Some(record.version),
                    before: current.map(|c| to_json(&c.number)),
                    after: Some(to_json(&record.number)),
                    account: Some(record.number.account_name.as_str()),
                },
            ));
            let outcome = if current.is_some() {
                Outcome::Replaced
            } else {
                Outcome::Created
            };
            changed.push(record.clone());
            results.push(Written { record, outcome });
        }
        if changed.is_empty() {
            return Ok(results);
        }

        // A number new when read is only inserted: if another transaction created it
        // meanwhile (PostgreSQL lets both read "absent"), this write is refused rather than
        // moving that number out of its account unseen.
        let (created, replaced): (Vec<NumberRecord>, Vec<NumberRecord>) = changed
            .into_iter()
            .partition(|r| !existing.contains_key(&r.number.telephone_number));
        let inserted = stored::insert_new(tx, &created).await?;
        if inserted.len() < created.len() {
            // `results` holds one entry per item of the batch, in its order.
            let mut raced = Violations::new();
            for (index, written) in results.iter().enumerate() {
                let number = &written.record.number.telephone_number;
                if written.outcome == Outcome::Created && !inserted.contains(number.as_str()) {
                    raced.push(
                        Violation::new(
                            "telephoneNumber",
                            Code::NumberExists,
                            format!(
                                "{number} was created by another request at the same moment; nothing was written, look at it again"
                            ),
                        )
                        .in_item(index),
                    );
                }
            }
            return Err(ProvisioningError::Conflict(raced));
        }
        stored::upsert(tx, &replaced).await?;
        Self::take_from_inventory(tx, &taken).await?;
        let mut deltas: std::collections::BTreeMap<&AccountName, Vec<&Number>> =
            std::collections::BTreeMap::new();
        for record in created.iter().chain(&replaced) {
            deltas
                .entry(&record.number.account_name)
                .or_default()
                .push(&record.number);
        }
        for (account_name, after) in deltas {
            let before = after
                .iter()
                .filter_map(|n| existing.get(&n.telephone_number))
                .map(|c| &c.number);
            let delta = usage_delta(before, after.iter().copied());
            accounts::add_number_counts(tx, account_name, delta).await?;
        }
        audit::record(tx, &events).await?;
        outbox::enqueue(tx, &at, &jobs).await?;
        Ok(results)
    }

    /// Deletes numbers of one account, all or nothing: every number must belong to it.
    pub async fn delete_numbers(
        &self,
        actor: &Actor,
        account_name: &AccountName,
        batch: &[TelephoneNumber],
    ) -> Result<(), ProvisioningError> {
        let permit = actor.permit(Permission::Delete)?;
        let mut tx = self.begin(&permit).await?;
        self.delete_numbers_in(
            &permit,
            &mut tx,
            account_name,
            batch,
            Precondition::NONE,
            Release::Quarantine,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes one number (ACG's DELETE /accounts/{name}/numbers/{number}).
    pub async fn delete_number(
        &self,
        actor: &Actor,
        account_name: &AccountName,
        number: &TelephoneNumber,
        precondition: Precondition,
    ) -> Result<(), ProvisioningError> {
        let permit = actor.permit(Permission::Delete)?;
        let mut tx = self.begin(&permit).await?;
        self.delete_numbers_in(
            &permit,
            &mut tx,
            account_name,
            std::slice::from_ref(number),
            precondition,
            Release::Quarantine,
        )
        .await
        .map_err(|error| match error {
            ProvisioningError::NotFound { items, .. } if !items.is_empty() => {
                ProvisioningError::not_found(RESOURCE, number.as_str())
            }
            other => single_item_errors(other),
        })?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn delete_numbers_in(
        &self,
        permit: &Permit<'_>,
        tx: &mut Tx,
        account_name: &AccountName,
        batch: &[TelephoneNumber],
        precondition: Precondition,
        release: Release,
    ) -> Result<(), ProvisioningError> {
        let account = accounts::fetch_for_update(tx, account_name)
            .await?
            .ok_or_else(|| ProvisioningError::not_found("account", account_name.as_str()))?
            .account;
        let keys: Vec<&TelephoneNumber> = batch.iter().collect();
        let existing: HashMap<TelephoneNumber, NumberRecord> = stored::fetch_for_update(tx, &keys)
            .await?
            .into_iter()
            .filter(|r| &r.number.account_name == account_name)
            .map(|r| (r.number.telephone_number.clone(), r))
            .collect();
        let live = self.live_for(permit.actor()).await?;
        let mut violations = Violations::new();
        let mut seen = HashSet::new();
        let mut doomed = Vec::with_capacity(batch.len());
        for (index, number) in batch.iter().enumerate() {
            let current = existing.get(number);
            precondition.check(
                RESOURCE,
                number.as_str(),
                current.map(|c| Current::new(c.version, &c.updated_at)),
            )?;
            match current {
                None => violations.push(
                    Violation::new(
                        "telephoneNumber",
                        Code::NumberNotFound,
                        format!("{number} is not a number of account {account_name}"),
                    )
                    .in_item(index),
                ),
                Some(record) => {
                    if let Some(refusal) = super::live::refusal(&live, &record.number.services) {
                        violations.push(refusal.in_item(index));
                    } else if seen.insert(number) {
                        doomed.push(record.clone());
                    }
                }
            }
        }
        if !violations.is_empty() {
            return Err(ProvisioningError::from_violations(
                "account",
                account_name.as_str(),
                violations,
            ));
        }
        self.remove_numbers(permit, tx, &account, &doomed, &now(), release)
            .await
    }

    /// Deletes stored numbers of `account`, with their audit events, counts and outbox job;
    /// released numbers go into quarantine, moved ones straight on to their new account.
    pub(super) async fn remove_numbers(
        &self,
        permit: &Permit<'_>,
        tx: &mut Tx,
        account: &Account,
        doomed: &[NumberRecord],
        at: &str,
        release: Release,
    ) -> Result<(), ProvisioningError> {
        if doomed.is_empty() {
            return Ok(());
        }
        let keys: Vec<&TelephoneNumber> =
            doomed.iter().map(|r| &r.number.telephone_number).collect();
        stored::delete(tx, &keys).await?;
        let delta = usage_delta(doomed.iter().map(|r| &r.number), std::iter::empty());
        accounts::add_number_counts(tx, &account.name, delta).await?;
        let events: Vec<_> = doomed
            .iter()
            .map(|r| {
                audit_event(
                    permit,
                    at,
                    Change {
                        action: "delete",
                        resource_type: RESOURCE,
                        key: r.number.telephone_number.as_str(),
                        version: None,
                        before: Some(to_json(&r.number)),
                        after: None,
                        account: Some(account.name.as_str()),
                    },
                )
            })
            .collect();
        audit::record(tx, &events).await?;
        let releases: Vec<_> = doomed
            .iter()
            .filter_map(|r| super::sync::job_for_number(Some((account, &r.number)), None))
            .collect();
        outbox::enqueue(tx, at, &releases).await?;
        if release == Release::Quarantine {
            let days = super::settings::quarantine_days_in(tx).await?;
            let released: Vec<(&TelephoneNumber, i64)> = doomed
                .iter()
                .map(|r| (&r.number.telephone_number, r.version))
                .collect();
            Self::quarantine_released(permit, tx, &account.name, &released, days, at).await?;
        }
        Ok(())
    }

    /// One number, wherever it is; with `account`, only if it belongs to that account.
    pub async fn get_number(
        &self,
        actor: &Actor,
        account: Option<&AccountName>,
        number: &TelephoneNumber,
    ) -> Result<NumberRecord, ProvisioningError> {
        actor.permit(Permission::Read)?;
        stored::get(&self.db, number)
            .await?
            .filter(|r| account.is_none_or(|a| &r.number.account_name == a))
            .ok_or_else(|| ProvisioningError::not_found(RESOURCE, number.as_str()))
    }

    /// A page of numbers: those matching `filter`, in `order`, after `after`, at most `limit`.
    pub async fn list_numbers(
        &self,
        actor: &Actor,
        filter: &NumberFilter,
        order: NumberOrder,
        after: Option<&TelephoneNumber>,
        limit: i64,
    ) -> Result<Vec<NumberRecord>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::list(&self.db, filter, order, after, limit).await?)
    }

    pub async fn count_numbers(
        &self,
        actor: &Actor,
        filter: &NumberFilter,
    ) -> Result<i64, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::count(&self.db, filter).await?)
    }

    /// How many numbers match, up to `cap + 1` (a result above `cap` means "more than cap").
    pub async fn count_numbers_capped(
        &self,
        actor: &Actor,
        filter: &NumberFilter,
        cap: i64,
    ) -> Result<i64, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::count_capped(&self.db, filter, cap).await?)
    }
}

/// A single-number write reports its fields without the item of a batch.
fn single_item_errors(error: ProvisioningError) -> ProvisioningError {
    let strip = |violations: Violations| {
        Violations(
            violations
                .0
                .into_iter()
                .map(|mut v| {
                    v.item = None;
                    v
                })
                .collect(),
        )
    };
    match error {
        ProvisioningError::Invalid(v) => ProvisioningError::Invalid(strip(v)),
        ProvisioningError::Conflict(v) => ProvisioningError::Conflict(strip(v)),
        ProvisioningError::NotFound {
            resource,
            key,
            items,
        } => ProvisioningError::NotFound {
            resource,
            key,
            items: strip(items),
        },
        other => other,
    }
}
