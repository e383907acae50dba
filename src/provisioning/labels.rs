//! Tags and notes on numbers and accounts: read them, replace one resource's, add and take away
//! tags on many numbers at once (with a result per number), and list what carries a tag.
//!
//! A number has labels in every state of the inventory (available, reserved, assigned,
//! quarantined) and loses them only when it leaves the inventory; an account loses its own when
//! it is deleted. Labels have their own version: writing them leaves the number's or account's
//! version (ACG's ETag) alone, since ACG's resources do not carry them. Each change is an audit
//! event (`label`) in the resource's history. Depends on `domain` and `store`.

use super::inventory::{ActionReport, MAX_NUMBERS};
use super::{audit_event, now, Actor, Change, Permission, Permit, Provisioning};
use super::{Current, Precondition, ProvisioningError};
use crate::domain::{AccountName, Code, Labels, Tags, TelephoneNumber, Violation, Violations};
use crate::store::labels::{self as stored, Kind, LabelRecord};
use crate::store::{accounts, audit, inventory, numbers, Tx};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

pub use crate::store::labels::{Kind as LabelledKind, LabelRecord as StoredLabels};

/// What a label belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Labelled {
    Number(TelephoneNumber),
    Account(AccountName),
}

impl Labelled {
    fn kind(&self) -> Kind {
        match self {
            Labelled::Number(_) => Kind::Number,
            Labelled::Account(_) => Kind::Account,
        }
    }

    fn key(&self) -> &str {
        match self {
            Labelled::Number(n) => n.as_str(),
            Labelled::Account(a) => a.as_str(),
        }
    }
}

/// Tags to add to and take away from each number of a bulk change (taking away wins).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagChange {
    pub add: Tags,
    pub remove: Tags,
}

impl TagChange {
    /// What it does, in words: "Tag vip, billing; untag old".
    pub fn describe(&self) -> String {
        let list = |tags: &Tags| {
            tags.iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (self.add.is_empty(), self.remove.is_empty()) {
            (false, true) => format!("Tag {}", list(&self.add)),
            (true, false) => format!("Untag {}", list(&self.remove)),
            _ => format!("Tag {}; untag {}", list(&self.add), list(&self.remove)),
        }
    }

    /// Bad when it names no tag at all.
    pub fn check(&self) -> Result<(), ProvisioningError> {
        if self.add.is_empty() && self.remove.is_empty() {
            return Err(ProvisioningError::Invalid(
                Violation::new(
                    "tags",
                    Code::Required,
                    "name at least one tag to add or remove",
                )
                .into(),
            ));
        }
        Ok(())
    }
}

/// One tag change as a door receives it (the API's JSON, the command line's flags): tags to
/// add and to take away, on numbers by list or by range.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagRequest {
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub remove_tags: Vec<String>,
    #[serde(default)]
    pub telephone_numbers: Option<Vec<String>>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

impl TagRequest {
    pub fn parse(self) -> Result<(TagChange, Vec<TelephoneNumber>), ProvisioningError> {
        let mut violations = Violations::new();
        let mut tags = |field: &str, raw: &[String]| match Tags::parse_list(field, raw) {
            Ok(tags) => tags,
            Err(bad) => {
                violations.extend(bad);
                Tags::default()
            }
        };
        let change = TagChange {
            add: tags("addTags", &self.add_tags),
            remove: tags("removeTags", &self.remove_tags),
        };
        let numbers = super::inventory::numbers_listed_or_ranged(
            self.telephone_numbers.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            &mut violations,
        );
        if !violations.is_empty() {
            return Err(ProvisioningError::Invalid(violations));
        }
        change.check()?;
        Ok((change, numbers))
    }
}

/// The labels as the audit trail records them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LabelsJson<'a> {
    tags: &'a Tags,
    note: Option<&'a str>,
    labels_version: i64,
}

fn labels_json(record: &LabelRecord) -> String {
    super::to_json(&LabelsJson {
        tags: &record.labels.tags,
        note: record.labels.note.as_ref().map(|n| n.as_str()),
        labels_version: record.version,
    })
}

/// The account each of `numbers` is in, reserved for or released by (`None`: held for no
/// account), for those that exist at all; locked in the writers' order (numbers, inventory).
async fn lock_numbers(
    tx: &mut Tx,
    numbers: &[&TelephoneNumber],
) -> Result<HashMap<String, Option<String>>, ProvisioningError> {
    let mut keys = numbers.to_vec();
    keys.sort();
    keys.dedup();
    let mut found: HashMap<String, Option<String>> = HashMap::with_capacity(keys.len());
    let assigned = numbers::fetch_for_update(tx, &keys).await?;
    for record in inventory::fetch_for_update(tx, &keys).await? {
        let account = record.account_name.map(|a| a.to_string());
        found.insert(record.telephone_number.to_string(), account);
    }
    // An assigned number's account wins over a row the inventory left behind.
    for record in assigned {
        let number = record.number;
        found.insert(
            number.telephone_number.to_string(),
            Some(number.account_name.to_string()),
        );
    }
    Ok(found)
}

fn not_known(number: &str) -> Violation {
    Violation::new(
        "telephoneNumber",
        Code::NotInInventory,
        format!("{number} is in no account and not in the inventory; add it first"),
    )
}

impl Provisioning {
    /// The labels of a number (in any state) or an account; version 0 when it has none yet.
    pub async fn labels(
        &self,
        actor: &Actor,
        target: &Labelled,
    ) -> Result<LabelRecord, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let exists = match target {
            Labelled::Number(number) => {
                numbers::get(&self.db, number).await?.is_some()
                    || inventory::get(&self.db, number).await?.is_some()
            }
            Labelled::Account(account) => accounts::get(&self.db, account).await?.is_some(),
        };
        if !exists {
            return Err(missing(target));
        }
        let key = target.key();
        let found = stored::of_many(&self.db, target.kind(), &[key]).await?;
        Ok(found
            .get(key)
            .cloned()
            .unwrap_or_else(|| LabelRecord::none(key)))
    }

    /// The stored labels of many numbers or accounts at once (a list page's rows); those
    /// without labels are absent.
    pub async fn labels_of(
        &self,
        actor: &Actor,
        kind: Kind,
        keys: &[&str],
    ) -> Result<HashMap<String, LabelRecord>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::of_many(&self.db, kind, keys).await?)
    }

    /// A page of the numbers or accounts carrying `tag`, in key order after `after`.
    pub async fn tagged(
        &self,
        actor: &Actor,
        kind: Kind,
        tag: &crate::domain::Tag,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<LabelRecord>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::tagged(&self.db, kind, tag.as_str(), after, limit).await?)
    }

    /// Replaces the tags and note of a number (in any state) or an account. `condition` may
    /// name the labels' version the caller read (`If-Match`). An unchanged save changes
    /// nothing: no new version, no audit event.
    pub async fn set_labels(
        &self,
        actor: &Actor,
        target: &Labelled,
        labels: Labels,
        condition: Precondition,
    ) -> Result<LabelRecord, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        let key = target.key();
        let at = now();
        let account = match target {
            Labelled::Number(number) => match lock_numbers(&mut tx, &[number]).await?.remove(key) {
                Some(account) => account,
                None => return Err(missing(target)),
            },
            Labelled::Account(account) => {
                if accounts::fetch_for_update(&mut tx, account)
                    .await?
                    .is_none()
                {
                    return Err(missing(target));
                }
                Some(account.to_string())
            }
        };
        let kind = target.kind();
        let mut locked = stored::fetch_for_update(&mut tx, kind, &[key], &at).await?;
        let before = locked.remove(key).unwrap_or_else(|| LabelRecord::none(key));
        // The labels exist whenever their resource does: version 0 until first written.
        let updated_at = before.updated_at.clone().unwrap_or_default();
        let current = Current::new(before.version, &updated_at);
        condition.check("labels", key, Some(current))?;
        if before.labels == labels {
            stored::write(&mut tx, kind, &[key], &[]).await?;
            tx.commit().await?;
            return Ok(before);
        }
        let after = LabelRecord {
            key: key.to_owned(),
            labels,
            version: before.version + 1,
            updated_at: Some(at.clone()),
        };
        stored::write(&mut tx, kind, &[key], std::slice::from_ref(&after)).await?;
        let event = label_event(&permit, &at, kind, &before, &after, account.as_deref());
        audit::record(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Adds and takes away tags on each of `numbers` (at most [`MAX_NUMBERS`], in any state) in
    /// one transaction, with a result per number.
    pub async fn change_tags(
        &self,
        actor: &Actor,
        change: &TagChange,
        numbers: &[TelephoneNumber],
    ) -> Result<ActionReport, ProvisioningError> {
        change.check()?;
        let permit = actor.permit(Permission::Write)?;
        if numbers.is_empty() || numbers.len() > MAX_NUMBERS {
            return Err(ProvisioningError::Invalid(
                Violation::new(
                    "telephoneNumbers",
                    Code::BatchSize,
                    format!(
                        "must name 1–{MAX_NUMBERS} numbers; this change names {}",
                        numbers.len()
                    ),
                )
                .into(),
            ));
        }
        let mut tx = self.begin(&permit).await?;
        let steps = self
            .change_tags_in(&permit, &mut tx, change, numbers)
            .await?;
        tx.commit().await?;
        let mut report = ActionReport::default();
        for (number, step) in numbers.iter().zip(steps) {
            report.record(number, step);
        }
        Ok(report)
    }

    /// [`Provisioning::change_tags`] inside `tx` (a bulk job's chunk): per number, whether it
    /// changed, or the rule that refused it (the others are written regardless).
    pub(super) async fn change_tags_in(
        &self,
        permit: &Permit<'_>,
        tx: &mut Tx,
        change: &TagChange,
        numbers: &[TelephoneNumber],
    ) -> Result<Vec<Result<bool, Violation>>, ProvisioningError> {
        retag_in(permit, tx, numbers, |_, tags| {
            tags.changed(&change.add, &change.remove)
        })
        .await
    }

    /// Gives each number its whole set of tags (an import's `tags` column) inside `tx`: per
    /// number, whether it changed, or the rule that refused it.
    pub(super) async fn set_tags_in(
        &self,
        permit: &Permit<'_>,
        tx: &mut Tx,
        numbers: &[TelephoneNumber],
        tags: &[Tags],
    ) -> Result<Vec<Result<bool, Violation>>, ProvisioningError> {
        retag_in(permit, tx, numbers, |i, _| Ok(tags[i].clone())).await
    }

    /// Removes the labels of numbers that left the inventory, or of a deleted account, each
    /// removal an audit event (`label`, the labels before and none after).
    pub(super) async fn forget_labels(
        permit: &Permit<'_>,
        tx: &mut Tx,
        kind: Kind,
        keys: &[&str],
        account: Option<&str>,
    ) -> Result<(), ProvisioningError> {
        let at = now();
        let gone = stored::of_many_in(tx, kind, keys).await?;
        let events: Vec<_> = gone
            .iter()
            .map(|before| {
                audit_event(
                    permit,
                    &at,
                    Change {
                        action: "label",
                        resource_type: kind.as_str(),
                        key: &before.key,
                        version: None,
                        before: Some(labels_json(before)),
                        after: None,
                        account,
                    },
                )
            })
            .collect();
        stored::delete(tx, kind, keys).await?;
        audit::record(tx, &events).await?;
        Ok(())
    }
}

/// Gives each of `numbers` the tags `new(index, current tags)` says, in `tx`, each change with
/// its audit event: per number, whether it changed, or the rule that refused it.
async fn retag_in(
    permit: &Permit<'_>,
    tx: &mut Tx,
    numbers: &[TelephoneNumber],
    new: impl Fn(usize, &Tags) -> Result<Tags, Violation>,
) -> Result<Vec<Result<bool, Violation>>, ProvisioningError> {
    {
        let keys: Vec<&TelephoneNumber> = numbers.iter().collect();
        let accounts = lock_numbers(tx, &keys).await?;
        let at = now();
        let known: Vec<&str> = numbers
            .iter()
            .map(|n| n.as_str())
            .filter(|n| accounts.contains_key(*n))
            .collect();
        let locked = stored::fetch_for_update(tx, Kind::Number, &known, &at).await?;
        let mut seen = HashSet::with_capacity(numbers.len());
        let mut steps = Vec::with_capacity(numbers.len());
        let mut writes = Vec::new();
        let mut events = Vec::new();
        for (index, number) in numbers.iter().enumerate() {
            let key = number.as_str();
            let step = match (seen.insert(key), accounts.get(key), locked.get(key)) {
                (false, _, _) => Err(Violation::new(
                    "telephoneNumber",
                    Code::Duplicate,
                    "appears more than once in this change",
                )),
                (true, None, _) | (true, _, None) => Err(not_known(key)),
                (true, Some(account), Some(before)) => match new(index, &before.labels.tags) {
                    Err(violation) => Err(violation),
                    Ok(tags) if tags == before.labels.tags => Ok(false),
                    Ok(tags) => {
                        let after = LabelRecord {
                            key: key.to_owned(),
                            labels: Labels {
                                tags,
                                note: before.labels.note.clone(),
                            },
                            version: before.version + 1,
                            updated_at: Some(at.clone()),
                        };
                        events.push(label_event(
                            permit,
                            &at,
                            Kind::Number,
                            before,
                            &after,
                            account.as_deref(),
                        ));
                        writes.push(after);
                        Ok(true)
                    }
                },
            };
            steps.push(step);
        }
        stored::write(tx, Kind::Number, &known, &writes).await?;
        audit::record(tx, &events).await?;
        Ok(steps)
    }
}

fn missing(target: &Labelled) -> ProvisioningError {
    match target {
        Labelled::Number(number) => ProvisioningError::NotFound {
            resource: "number",
            key: number.to_string(),
            items: not_known(number.as_str()).into(),
        },
        Labelled::Account(account) => ProvisioningError::not_found("account", account.as_str()),
    }
}

fn label_event(
    permit: &Permit<'_>,
    at: &str,
    kind: Kind,
    before: &LabelRecord,
    after: &LabelRecord,
    account: Option<&str>,
) -> crate::store::audit::AuditEvent {
    audit_event(
        permit,
        at,
        Change {
            action: "label",
            resource_type: kind.as_str(),
            key: &after.key,
            version: None,
            before: Some(labels_json(before)),
            after: Some(labels_json(after)),
            account,
        },
    )
}
