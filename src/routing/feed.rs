//! Keeps a routing index current: loads it whole from the store, then follows the audit trail.
//!
//! Every write through the provisioning core records audit events. The feed reads the events
//! after the last one it applied and reloads the numbers, accounts and settings they name.
//! It looks when this process commits, when PostgreSQL notifies (`LISTEN numbat_changes`,
//! sent by every transaction that records events), and at a poll interval for writers it
//! cannot hear (other processes on one SQLite file). A lost notification connection, or more
//! changes than one read takes, brings a full reload.

use super::index::RoutingIndex;
use super::RoutingSettings;
use crate::domain::InventoryState;
use crate::store::{routing as store, Database, StoreError};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The index, shared between the feed (writer) and call handling (readers).
pub type SharedIndex = Arc<RwLock<RoutingIndex>>;

/// Events one read takes; more than this waiting means a full reload is cheaper.
const BATCH: i64 = 20_000;

/// How long a hole in the audit ids may stay open before the feed reads past it: on
/// PostgreSQL a transaction that took an id may commit after a later one, or never.
const GAP_GRACE: Duration = Duration::from_secs(30);

/// Events before a full reload's snapshot that are read again after it.
const REREAD_AFTER_RELOAD: i64 = 1_000;

/// Settings the operator pinned on the command line, which the deployment's settings do not
/// override.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub header_name: Option<String>,
    pub base_domain: Option<String>,
}

/// What a refresh changed, for those who keep things derived from accounts (the DNS zone).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub numbers: usize,
    pub accounts: usize,
    pub settings: bool,
    pub full: bool,
}

impl Refreshed {
    pub fn touches_accounts(&self) -> bool {
        self.accounts > 0 || self.settings || self.full
    }
}

/// Follows the audit trail into an index.
pub struct Feed {
    db: Database,
    index: SharedIndex,
    overrides: Overrides,
    /// Every id up to here is applied.
    applied: i64,
    /// Ids above `applied` already applied, with holes below them.
    ahead: BTreeSet<i64>,
    gap_since: Option<Instant>,
}

impl Feed {
    /// Loads the whole index from `db`.
    pub async fn load(db: Database, overrides: Overrides) -> Result<Self, StoreError> {
        let mut feed = Self {
            db,
            index: SharedIndex::default(),
            overrides,
            applied: 0,
            ahead: BTreeSet::new(),
            gap_since: None,
        };
        feed.reload().await?;
        Ok(feed)
    }

    pub fn index(&self) -> SharedIndex {
        self.index.clone()
    }

    async fn settings(&self) -> Result<RoutingSettings, StoreError> {
        let mut settings = RoutingSettings::default();
        for (key, value) in crate::store::settings::all(&self.db).await? {
            match key.as_str() {
                "sipHeaderName" => settings.header_name = Some(value),
                "baseDomain" => settings.base_domain = Some(value.to_ascii_lowercase()),
                _ => {}
            }
        }
        if let Some(name) = &self.overrides.header_name {
            settings.header_name = Some(name.clone());
        }
        if let Some(base) = &self.overrides.base_domain {
            settings.base_domain = Some(base.to_ascii_lowercase());
        }
        Ok(settings)
    }

    /// Reads everything again, off to the side, then swaps it in.
    pub async fn reload(&mut self) -> Result<Refreshed, StoreError> {
        let started = Instant::now();
        // Events from here on are replayed over the load: a change is never lost, only
        // applied twice, which is harmless.
        let from = store::last_change(&self.db).await?;
        let mut fresh = RoutingIndex::new();
        fresh.settings = self.settings().await?;
        for account in store::all_accounts(&self.db).await? {
            fresh.put_account(account);
        }
        let expected = store::count_numbers(&self.db).await?;
        let mut loader = fresh.loader(expected);
        store::each_number(&self.db, |facts| loader.push(&facts)).await?;
        loader.finish();
        store::each_hold(&self.db, |number, state| {
            fresh.put_hold(number, Some(state))
        })
        .await?;
        let count = fresh.len();
        {
            let mut index = self.index.write().expect("index lock");
            fresh.generation = index.generation + 1;
            *index = fresh;
        }
        // Events just before the snapshot may belong to transactions that had not committed
        // when it was read: they are read again (reloading what they name is harmless).
        self.applied = (from - REREAD_AFTER_RELOAD).max(0);
        self.ahead.clear();
        self.gap_since = None;
        tracing::info!(
            numbers = count,
            took_ms = started.elapsed().as_millis() as u64,
            "routing index loaded"
        );
        Ok(Refreshed {
            numbers: count,
            full: true,
            ..Default::default()
        })
    }

    /// Applies the changes recorded since the last look.
    pub async fn refresh(&mut self) -> Result<Refreshed, StoreError> {
        let changes = store::changes_after(&self.db, self.applied, BATCH).await?;
        if changes.len() as i64 >= BATCH {
            return self.reload().await;
        }
        let fresh: Vec<_> = changes
            .into_iter()
            .filter(|c| !self.ahead.contains(&c.id))
            .collect();
        let mut numbers = HashSet::new();
        let mut accounts = HashSet::new();
        let mut settings = false;
        for change in &fresh {
            match change.resource_type.as_str() {
                "number" => {
                    numbers.insert(change.resource_key.clone());
                }
                "account" => {
                    accounts.insert(change.resource_key.clone());
                }
                "settings" => settings = true,
                _ => {}
            }
        }
        let refreshed = Refreshed {
            numbers: numbers.len(),
            accounts: accounts.len(),
            settings,
            full: false,
        };
        if !numbers.is_empty() || !accounts.is_empty() || settings {
            self.apply(numbers, accounts, settings).await?;
        }
        self.ahead.extend(fresh.iter().map(|c| c.id));
        self.advance();
        Ok(refreshed)
    }

    async fn apply(
        &mut self,
        numbers: HashSet<String>,
        accounts: HashSet<String>,
        settings: bool,
    ) -> Result<(), StoreError> {
        let account_names: Vec<String> = accounts.into_iter().collect();
        let found_accounts = store::accounts(&self.db, &account_names).await?;
        let number_keys: Vec<String> = numbers.into_iter().collect();
        let found_numbers = store::numbers(&self.db, &number_keys).await?;
        let found_holds: HashMap<String, InventoryState> = store::holds(&self.db, &number_keys)
            .await?
            .into_iter()
            .collect();
        let new_settings = if settings {
            Some(self.settings().await?)
        } else {
            None
        };
        let mut index = self.index.write().expect("index lock");
        let present: HashSet<&str> = found_accounts.iter().map(|a| &*a.name).collect();
        for gone in account_names
            .iter()
            .filter(|n| !present.contains(n.as_str()))
        {
            index.remove_account(gone);
        }
        for account in found_accounts {
            index.put_account(account);
        }
        let present: HashSet<&str> = found_numbers.iter().map(|n| n.number.as_str()).collect();
        for gone in number_keys.iter().filter(|n| !present.contains(n.as_str())) {
            index.remove_number(gone);
        }
        for number in &found_numbers {
            index.put_number(number);
        }
        for key in &number_keys {
            index.put_hold(key, found_holds.get(key).copied());
        }
        if let Some(settings) = new_settings {
            index.settings = settings;
            index.generation += 1;
        }
        Ok(())
    }

    /// Moves `applied` over every id now known, and past holes older than the grace time.
    fn advance(&mut self) {
        loop {
            while self.ahead.first() == Some(&(self.applied + 1)) {
                self.applied += 1;
                self.ahead.pop_first();
                // A hole that filled: the next one gets its own grace time.
                self.gap_since = None;
            }
            let Some(&next) = self.ahead.first() else {
                self.gap_since = None;
                return;
            };
            let since = *self.gap_since.get_or_insert_with(Instant::now);
            if since.elapsed() < GAP_GRACE {
                return;
            }
            self.applied = next - 1;
            self.gap_since = None;
        }
    }

    /// Follows changes for ever: looks on this process's commits, on PostgreSQL's
    /// notifications and every `poll`; calls `changed` after each refresh that changed
    /// something. Store errors are logged and retried with a full reload.
    pub async fn follow(mut self, poll: Duration, changed: impl Fn(&SharedIndex, Refreshed)) {
        let mut commits = crate::store::commits().subscribe();
        let mut listener = None;
        let mut failed = false;
        let mut listened_before = false;
        loop {
            if let (Database::Postgres(pool), None) = (&self.db, &listener) {
                match sqlx::postgres::PgListener::connect_with(pool).await {
                    Ok(mut l) => match l.listen(store::CHANGES_CHANNEL).await {
                        Ok(()) => {
                            listener = Some(l);
                            // What was missed while nobody listened.
                            failed |= listened_before;
                            listened_before = true;
                        }
                        Err(error) => tracing::warn!(%error, "cannot LISTEN for changes"),
                    },
                    Err(error) => tracing::warn!(%error, "cannot connect to LISTEN for changes"),
                }
            }
            let outcome = if failed {
                self.reload().await
            } else {
                self.refresh().await
            };
            match outcome {
                Ok(refreshed) => {
                    failed = false;
                    if refreshed.numbers > 0 || refreshed.touches_accounts() {
                        changed(&self.index, refreshed);
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %crate::telemetry::error_chain(&error), "routing index refresh failed; reloading");
                    failed = true;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
            let wait = if self.gap_since.is_some() {
                poll.min(Duration::from_millis(500))
            } else {
                poll
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = commits.changed() => {}
                notified = async {
                    match listener.as_mut() {
                        Some(l) => l.try_recv().await,
                        None => std::future::pending().await,
                    }
                } => match notified {
                    Ok(Some(_)) => {}
                    // sqlx reconnected: whatever was sent meanwhile is lost.
                    Ok(None) => {
                        tracing::warn!("the change notifications' connection was lost; reloading");
                        failed = true;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "lost the change notifications; reconnecting");
                        listener = None;
                        failed = true;
                    }
                }
            }
        }
    }
}
