//! The routing index: every provisioned number's routing facts in a compact in-memory table.
//!
//! Numbers are keyed by their E.164 digits as a `u64`. The bulk of them sit in one array
//! sorted by key (20 bytes a number, found through a small table of every 64th key and then a
//! binary search of one block); changes land in a small hash map
//! laid over it, which is merged into the array once it grows. Header values live in one text
//! arena. A million numbers with 50-character values take about 70 MB.

use super::{
    number_key, AccountRoute, Arrival, Decision, Direction, NumberFacts, NumberRoute,
    RoutingSettings,
};
use crate::domain::{InventoryState, LineType};
use std::collections::HashMap;

/// One number's facts; the key is kept beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Slot {
    account: u32,
    header_at: u32,
    header_len: u8,
    services: u8,
    line_type: u8,
}

const NO_HEADER: u8 = 0;

/// The index; readers share it behind a lock, the feed writes it.
#[derive(Debug, Default)]
pub struct RoutingIndex {
    /// Sorted; `sorted_slots[i]` belongs to `sorted_keys[i]`.
    sorted_keys: Vec<u64>,
    sorted_slots: Vec<Slot>,
    /// Every `FENCE_EVERY`th sorted key. A lookup searches this small table (a million
    /// numbers give 125 KB, which stays in cache) and then one block of `FENCE_EVERY` keys,
    /// instead of hopping across the whole array.
    fences: Vec<u64>,
    /// Changes since the last merge: `None` deletes the number.
    overlay: HashMap<u64, Option<Slot>>,
    /// Every header value, end to end (text, so a value is read back without checking it).
    headers: String,
    /// Bytes of `headers` no slot points at any more.
    header_garbage: usize,
    accounts: Vec<Option<AccountRoute>>,
    account_ids: HashMap<Box<str>, u32>,
    /// Direct Routing labels (lower case) to account ids.
    labels: HashMap<Box<str>, u32>,
    /// Numbers in no account that calls must not reach: reserved or quarantined ones.
    holds: HashMap<u64, InventoryState>,
    pub settings: RoutingSettings,
    /// Bumped by every change, so readers can tell the index moved on.
    pub generation: u64,
}

/// Sorted keys between two fences.
const FENCE_EVERY: usize = 64;

/// A key as a loading entry holds it: `[u32; 2]` keeps an entry at 20 bytes, not 24.
fn split(key: u64) -> [u32; 2] {
    [(key >> 32) as u32, key as u32]
}

fn join(key: [u32; 2]) -> u64 {
    (u64::from(key[0]) << 32) | u64::from(key[1])
}

/// Overlay entries that trigger a merge into the sorted array.
const MERGE_AT: usize = 65_536;

impl RoutingIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Numbers in the index.
    pub fn len(&self) -> usize {
        let overlaid_new = self
            .overlay
            .iter()
            .filter(|(k, v)| v.is_some() && self.sorted_position(**k).is_err())
            .count();
        let overlaid_gone = self
            .overlay
            .iter()
            .filter(|(k, v)| v.is_none() && self.sorted_position(**k).is_ok())
            .count();
        self.sorted_keys.len() + overlaid_new - overlaid_gone
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Accounts in the index.
    pub fn account_count(&self) -> usize {
        self.account_ids.len()
    }

    /// Bytes held by the tables (not counting allocator overhead).
    pub fn heap_bytes(&self) -> usize {
        self.sorted_keys.capacity() * 8
            + self.fences.capacity() * 8
            + self.sorted_slots.capacity() * std::mem::size_of::<Slot>()
            + self.overlay.capacity() * (8 + std::mem::size_of::<Option<Slot>>() + 1)
            + self.headers.capacity()
            + self.holds.capacity() * (8 + std::mem::size_of::<InventoryState>() + 1)
    }

    fn sorted_position(&self, key: u64) -> Result<usize, usize> {
        // The block that starts at the last fence not above the key holds it, if anything does.
        let block = self.fences.partition_point(|fence| *fence <= key);
        let Some(block) = block.checked_sub(1) else {
            return Err(0);
        };
        let start = block * FENCE_EVERY;
        let end = (start + FENCE_EVERY).min(self.sorted_keys.len());
        match self.sorted_keys[start..end].binary_search(&key) {
            Ok(at) => Ok(start + at),
            Err(at) => Err(start + at),
        }
    }

    fn set_fences(&mut self) {
        self.fences = self
            .sorted_keys
            .iter()
            .step_by(FENCE_EVERY)
            .copied()
            .collect();
    }

    fn slot(&self, key: u64) -> Option<Slot> {
        if !self.overlay.is_empty() {
            if let Some(found) = self.overlay.get(&key) {
                return *found;
            }
        }
        self.sorted_position(key)
            .ok()
            .map(|at| self.sorted_slots[at])
    }

    /// What happens to a call whose service-side party is `number` (see [`super::decide`]),
    /// with the facts this index holds: the one decision the edge makes for every call and the
    /// lookup endpoint answers. `label` is the Direct Routing customer label the call arrived
    /// on (a call from Teams), `region` the edge's Direct Routing region.
    pub fn decide(
        &self,
        number: &str,
        direction: Direction,
        label: Option<&str>,
        region: u8,
    ) -> Decision {
        let provisioned = self.number(number);
        let held = number_key(number).and_then(|key| self.holds.get(&key).copied());
        let line_type = if provisioned.is_some() {
            LineType::Unknown
        } else {
            super::line_type_of(number)
        };
        let arrival = Arrival {
            direct_routing_label: label,
            direct_routing_account: label.and_then(|l| self.account_by_label(l)),
        };
        super::decide(
            number,
            direction,
            provisioned,
            held,
            line_type,
            arrival,
            &self.settings,
            region,
        )
    }

    /// A number's routing facts, by its text (`+<digits>`).
    pub fn number(&self, raw: &str) -> Option<NumberRoute<'_>> {
        let slot = self.slot(number_key(raw)?)?;
        let account = self.accounts.get(slot.account as usize)?.as_ref()?;
        let custom_sip_header = (slot.header_len != NO_HEADER).then(|| {
            let at = slot.header_at as usize;
            self.headers
                .get(at..at + slot.header_len as usize)
                .unwrap_or_default()
        });
        Some(NumberRoute {
            account,
            services: slot.services,
            line_type: LineType::ALL
                .get(slot.line_type as usize)
                .copied()
                .unwrap_or_default(),
            custom_sip_header,
        })
    }

    pub fn account(&self, name: &str) -> Option<&AccountRoute> {
        let id = *self.account_ids.get(name)?;
        self.accounts[id as usize].as_ref()
    }

    /// The account whose Direct Routing subdomain label is `label` (any case).
    pub fn account_by_label(&self, label: &str) -> Option<&AccountRoute> {
        let id = *self.labels.get(label.to_ascii_lowercase().as_str())?;
        self.accounts[id as usize].as_ref()
    }

    /// Every account with Direct Routing set up.
    pub fn direct_routing_accounts(&self) -> impl Iterator<Item = &AccountRoute> {
        self.accounts
            .iter()
            .flatten()
            .filter(|a| a.direct_routing.is_some())
    }

    /// Adds or replaces an account.
    pub fn put_account(&mut self, account: AccountRoute) {
        let id = match self.account_ids.get(&account.name) {
            Some(id) => *id,
            None => {
                let id = self.accounts.len() as u32;
                self.accounts.push(None);
                self.account_ids.insert(account.name.clone(), id);
                id
            }
        };
        let owned_a_label = self.labels.values().any(|owner| *owner == id);
        let asks_for_one = account.direct_routing.is_some();
        self.accounts[id as usize] = Some(account);
        if owned_a_label || asks_for_one {
            self.assign_labels();
        }
        self.generation += 1;
    }

    /// Gives each Direct Routing label to the first account (oldest loaded) that asks for it;
    /// the DNS check reports any other as inconsistent.
    fn assign_labels(&mut self) {
        self.labels.clear();
        for (id, account) in self.accounts.iter().enumerate() {
            if let Some(dr) = account.as_ref().and_then(|a| a.direct_routing.as_ref()) {
                self.labels.entry(dr.label.clone()).or_insert(id as u32);
            }
        }
    }

    /// Forgets an account; its numbers are gone with it (the store refuses deleting an
    /// account that still has numbers).
    pub fn remove_account(&mut self, name: &str) {
        if let Some(id) = self.account_ids.remove(name) {
            self.accounts[id as usize] = None;
            self.assign_labels();
            self.generation += 1;
        }
    }

    fn account_id(&mut self, name: &str) -> u32 {
        match self.account_ids.get(name) {
            Some(id) => *id,
            None => {
                // A number may arrive before its account in a partial refresh; it gets a
                // placeholder the account's own refresh fills in.
                self.put_account(AccountRoute {
                    name: name.into(),
                    direct_routing: None,
                });
                self.account_ids[name]
            }
        }
    }

    fn new_slot(&mut self, facts: &NumberFacts) -> Slot {
        let account = self.account_id(&facts.account);
        let (header_at, header_len) = match facts.custom_sip_header.as_deref() {
            Some(value) if !value.is_empty() && value.len() <= u8::MAX as usize => {
                let at = self.headers.len() as u32;
                self.headers.push_str(value);
                (at, value.len() as u8)
            }
            _ => (0, NO_HEADER),
        };
        Slot {
            account,
            header_at,
            header_len,
            services: facts.services,
            line_type: LineType::ALL
                .iter()
                .position(|l| *l == facts.line_type)
                .unwrap_or(LineType::ALL.len() - 1) as u8,
        }
    }

    /// Replaces every number at once (start-up and full resync).
    pub fn load_numbers(&mut self, numbers: impl IntoIterator<Item = NumberFacts>) {
        let mut loader = self.loader(0);
        for facts in numbers {
            loader.push(&facts);
        }
        loader.finish();
    }

    /// Replaces every number with those pushed into the loader, one at a time, so a load
    /// never holds all the rows it reads; `expected` sizes the table up front.
    pub fn loader(&mut self, expected: usize) -> Loader<'_> {
        self.overlay.clear();
        self.headers.clear();
        self.header_garbage = 0;
        Loader {
            entries: Vec::with_capacity(expected),
            index: self,
        }
    }

    /// Adds or replaces one number.
    pub fn put_number(&mut self, facts: &NumberFacts) {
        let Some(key) = number_key(&facts.number) else {
            return;
        };
        self.forget_header(key);
        let slot = self.new_slot(facts);
        self.overlay.insert(key, Some(slot));
        self.generation += 1;
        self.merge_if_large();
    }

    /// Records that `raw` is held back from calls (reserved or quarantined), or, with any
    /// other state or none, that it is not.
    pub fn put_hold(&mut self, raw: &str, state: Option<InventoryState>) {
        let Some(key) = number_key(raw) else {
            return;
        };
        let changed = match state {
            Some(s @ (InventoryState::Reserved | InventoryState::Quarantined)) => {
                self.holds.insert(key, s) != Some(s)
            }
            _ => self.holds.remove(&key).is_some(),
        };
        if changed {
            self.generation += 1;
        }
    }

    /// How many numbers are held back from calls.
    pub fn hold_count(&self) -> usize {
        self.holds.len()
    }

    /// Removes one number.
    pub fn remove_number(&mut self, raw: &str) {
        let Some(key) = number_key(raw) else {
            return;
        };
        self.forget_header(key);
        self.overlay.insert(key, None);
        self.generation += 1;
        self.merge_if_large();
    }

    fn forget_header(&mut self, key: u64) {
        if let Some(old) = self.slot(key) {
            self.header_garbage += old.header_len as usize;
        }
    }

    fn merge_if_large(&mut self) {
        if self.overlay.len() >= MERGE_AT.max(self.sorted_keys.len() / 16) {
            self.merge();
        }
    }

    /// Folds the overlay into the sorted array, and drops unused header bytes when they are
    /// a quarter of the arena.
    pub fn merge(&mut self) {
        let mut changes: Vec<(u64, Option<Slot>)> = self.overlay.drain().collect();
        changes.sort_unstable_by_key(|(k, _)| *k);
        let old_keys = std::mem::take(&mut self.sorted_keys);
        let old_slots = std::mem::take(&mut self.sorted_slots);
        let mut keys = Vec::with_capacity(old_keys.len() + changes.len());
        let mut slots = Vec::with_capacity(old_keys.len() + changes.len());
        let mut old = old_keys.into_iter().zip(old_slots).peekable();
        let mut new = changes.into_iter().peekable();
        loop {
            let take_new = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((ok, _)), Some((nk, _))) => nk <= ok,
            };
            if take_new {
                let (key, slot) = new.next().expect("peeked");
                if old.peek().is_some_and(|(ok, _)| *ok == key) {
                    old.next();
                }
                if let Some(slot) = slot {
                    keys.push(key);
                    slots.push(slot);
                }
            } else {
                let (key, slot) = old.next().expect("peeked");
                keys.push(key);
                slots.push(slot);
            }
        }
        self.sorted_keys = keys;
        self.sorted_slots = slots;
        self.set_fences();
        if self.header_garbage * 4 > self.headers.len() {
            self.compact_headers();
        }
    }

    fn compact_headers(&mut self) {
        let mut arena = String::with_capacity(self.headers.len() - self.header_garbage);
        for slot in &mut self.sorted_slots {
            if slot.header_len != NO_HEADER {
                let at = slot.header_at as usize;
                let value = &self.headers[at..at + slot.header_len as usize];
                slot.header_at = arena.len() as u32;
                arena.push_str(value);
            }
        }
        self.headers = arena;
        self.header_garbage = 0;
    }
}

/// Fills an index with numbers as they are read.
pub struct Loader<'a> {
    index: &'a mut RoutingIndex,
    entries: Vec<([u32; 2], Slot)>,
}

impl Loader<'_> {
    pub fn push(&mut self, facts: &NumberFacts) {
        if let Some(key) = number_key(&facts.number) {
            let slot = self.index.new_slot(facts);
            self.entries.push((split(key), slot));
        }
    }

    pub fn finish(self) {
        let Self { index, mut entries } = self;
        entries.sort_unstable_by_key(|(k, _)| *k);
        entries.dedup_by_key(|(k, _)| *k);
        index.sorted_keys = entries.iter().map(|(k, _)| join(*k)).collect();
        index.sorted_slots = entries.iter().map(|(_, s)| *s).collect();
        index.set_fences();
        drop(entries);
        index.headers.shrink_to_fit();
        index.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Service;

    fn facts(number: &str, header: Option<&str>) -> NumberFacts {
        NumberFacts {
            number: number.into(),
            account: "contoso".into(),
            services: Service::TeamsOperatorConnect.bit(),
            line_type: LineType::FixedLine,
            custom_sip_header: header.map(Into::into),
        }
    }

    #[test]
    fn finds_loaded_changed_and_removed_numbers_across_merges() {
        let mut index = RoutingIndex::new();
        index.load_numbers((0..1000).map(|i| facts(&format!("+4416329{i:05}"), Some("base"))));
        assert_eq!(index.len(), 1000);
        assert_eq!(
            index.number("+441632900007").unwrap().custom_sip_header,
            Some("base")
        );
        index.put_number(&facts("+441632900007", Some("changed")));
        index.put_number(&facts("+441632999999", None));
        index.remove_number("+441632900008");
        let check = |index: &RoutingIndex| {
            assert_eq!(
                index.number("+441632900007").unwrap().custom_sip_header,
                Some("changed")
            );
            assert_eq!(
                index.number("+441632999999").unwrap().custom_sip_header,
                None
            );
            assert!(index.number("+441632900008").is_none());
            assert_eq!(index.len(), 1000);
        };
        check(&index);
        index.merge();
        assert!(index.overlay.is_empty());
        check(&index);
        for i in 0..1000 {
            index.put_number(&facts(&format!("+4416329{i:05}"), Some("again")));
        }
        index.merge();
        assert!(index.header_garbage == 0, "the arena was compacted");
        assert_eq!(
            index.number("+441632900500").unwrap().custom_sip_header,
            Some("again")
        );
    }

    #[test]
    fn an_entry_costs_twenty_bytes_in_the_sorted_array() {
        assert_eq!(std::mem::size_of::<Slot>() + std::mem::size_of::<u64>(), 20);
        assert_eq!(
            std::mem::size_of::<([u32; 2], Slot)>(),
            20,
            "while loading too"
        );
    }

    #[test]
    fn finds_exactly_the_numbers_it_holds_on_either_side_of_every_fence() {
        let held = |n: u64| n % 3 == 1;
        let first = 441_632_000_000u64;
        let numbers: Vec<u64> = (first..first + 3 * 1000).filter(|n| held(*n)).collect();
        let mut index = RoutingIndex::new();
        index.load_numbers(numbers.iter().map(|n| facts(&format!("+{n}"), None)));
        assert_eq!(index.fences.len(), numbers.len().div_ceil(FENCE_EVERY));
        for n in first - 5..first + 3 * 1000 + 5 {
            assert_eq!(
                index.number(&format!("+{n}")).is_some(),
                numbers.contains(&n),
                "+{n}"
            );
        }
    }
}
