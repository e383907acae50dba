//! What the responder serves, decided here rather than by the DNS library: the apex SOA and NS of
//! the base domain, TXT records at or under it, and the empty non-terminals between them.

use std::collections::{BTreeMap, BTreeSet};

use hickory_proto::rr::RecordType;

const MAX_NAME_LEN: usize = 255;
const MAX_LABEL_LEN: usize = 63;
/// The longest string inside TXT RDATA; longer values are split into several.
pub(super) const MAX_CHARACTER_STRING: usize = 255;

pub(super) const SOA_REFRESH: i32 = 3600;
pub(super) const SOA_RETRY: i32 = 600;
pub(super) const SOA_EXPIRE: i32 = 86_400;
/// The name server's label under the base domain (`ns1.<base>`), in the SOA and NS records.
pub(super) const NS_LABEL: &str = "ns1";
/// The SOA mailbox's label under the base domain (`hostmaster.<base>`).
pub(super) const HOSTMASTER_LABEL: &str = "hostmaster";

/// A domain name as lowercase labels, most specific first, without the root label.
pub(super) type Labels = Vec<Vec<u8>>;

/// What is served: the apex SOA and NS of the base domain plus TXT records at or under it.
///
/// Immutable once built and shared behind a [`SharedZone`](super::SharedZone); the default zone
/// serves nothing.
#[derive(Clone, Debug)]
pub struct Zone {
    base: String,
    /// `None` when the base is empty or not a usable name: every query is then refused.
    base_labels: Option<Labels>,
    ttl: u32,
    serial: u32,
    txt: BTreeMap<Labels, Vec<String>>,
    /// Every name below the apex that exists: TXT owners and their ancestors (empty non-terminals).
    names: BTreeSet<Labels>,
}

impl Default for Zone {
    fn default() -> Self {
        Self::new("", 0)
    }
}

impl Zone {
    /// `base` is the base domain (no trailing dot, any case). `ttl` seconds for answers.
    ///
    /// An empty or invalid base gives a zone that refuses every query.
    pub fn new(base: &str, ttl: u32) -> Self {
        Self {
            base: base.strip_suffix('.').unwrap_or(base).to_ascii_lowercase(),
            base_labels: parse_text_name(base).filter(|labels| is_usable_base(labels)),
            ttl,
            serial: 1,
            txt: BTreeMap::new(),
            names: BTreeSet::new(),
        }
    }

    /// Sets the SOA serial (default 1).
    pub fn with_serial(mut self, serial: u32) -> Self {
        self.serial = serial;
        self
    }

    /// Adds one TXT value at `fqdn` (must be at or under base; case-insensitive; trailing dot
    /// allowed). Several values at one name are allowed (all returned).
    ///
    /// Names outside the base, malformed names, values too long for one record and exact
    /// duplicates are ignored: they could never be served.
    pub fn add_txt(&mut self, fqdn: &str, value: &str) {
        let Some(base) = &self.base_labels else {
            return;
        };
        let Some(name) = parse_text_name(fqdn) else {
            return;
        };
        if !is_at_or_under(&name, base) || txt_rdata_len(value) > usize::from(u16::MAX) {
            return;
        }
        for skip in 0..name.len() - base.len() {
            self.names.insert(name[skip..].to_vec());
        }
        let values = self.txt.entry(name).or_default();
        if !values.iter().any(|existing| existing == value) {
            values.push(value.to_owned());
        }
    }

    /// The TXT values served at `fqdn`, if any (case-insensitive).
    pub fn txt(&self, fqdn: &str) -> Option<&[String]> {
        let name = parse_text_name(fqdn)?;
        self.txt.get(&name).map(Vec::as_slice)
    }

    /// The base domain, lowercase and without a trailing dot.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Finds what is served at `name` (lowercase labels).
    pub(super) fn lookup(&self, name: &[Vec<u8>]) -> Lookup<'_> {
        let Some(base) = self.base_labels.as_deref() else {
            return Lookup::Outside;
        };
        if !is_at_or_under(name, base) {
            return Lookup::Outside;
        }
        let mut records = Vec::new();
        if name.len() == base.len() {
            records.push(self.soa());
            records.push(Rdata::Ns);
        } else if !self.names.contains(name) {
            return Lookup::NxDomain;
        }
        let values = self.txt.get(name).map(Vec::as_slice).unwrap_or_default();
        records.extend(values.iter().map(|value| Rdata::Txt(value)));
        Lookup::Exists(records)
    }

    pub(super) fn soa(&self) -> Rdata<'_> {
        Rdata::Soa {
            serial: self.serial,
            minimum: self.soa_minimum(),
        }
    }

    /// TTL of the records in answers.
    pub(super) fn ttl(&self) -> u32 {
        self.ttl
    }

    /// The SOA minimum field (the negative-caching TTL) is the answer TTL.
    fn soa_minimum(&self) -> u32 {
        self.ttl
    }

    /// TTL of the SOA in negative answers: min(ttl, SOA minimum).
    pub(super) fn negative_ttl(&self) -> u32 {
        self.ttl.min(self.soa_minimum())
    }

    /// How many labels the base domain has (0 for a zone that serves nothing).
    pub(super) fn base_depth(&self) -> usize {
        self.base_labels.as_ref().map_or(0, Vec::len)
    }
}

/// What the zone holds at one name.
pub(super) enum Lookup<'z> {
    /// Not at or under the base: not authoritative.
    Outside,
    /// Under the base but no such name.
    NxDomain,
    /// The name exists; these are all its records (none for an empty non-terminal).
    Exists(Vec<Rdata<'z>>),
}

/// One record's data, before it is put in wire form; SOA and NS name `ns1.<base>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rdata<'z> {
    Soa { serial: u32, minimum: u32 },
    Ns,
    Txt(&'z str),
}

impl Rdata<'_> {
    pub(super) fn record_type(&self) -> RecordType {
        match self {
            Rdata::Soa { .. } => RecordType::SOA,
            Rdata::Ns => RecordType::NS,
            Rdata::Txt(_) => RecordType::TXT,
        }
    }
}

/// Parses a presentation-format name (`a.b.c`, trailing dot optional) into lowercase labels.
pub(super) fn parse_text_name(text: &str) -> Option<Labels> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    if trimmed.is_empty() {
        return Some(Vec::new());
    }
    let labels: Labels = trimmed
        .split('.')
        .map(|label| label.as_bytes().to_ascii_lowercase())
        .collect();
    let labels_ok = labels
        .iter()
        .all(|label| !label.is_empty() && label.len() <= MAX_LABEL_LEN);
    (labels_ok && wire_len(&labels) <= MAX_NAME_LEN).then_some(labels)
}

/// A base must be a real name short enough that `hostmaster.<base>` still fits.
fn is_usable_base(labels: &[Vec<u8>]) -> bool {
    let hostmaster_label_len = HOSTMASTER_LABEL.len() + 1;
    !labels.is_empty() && wire_len(labels) + hostmaster_label_len <= MAX_NAME_LEN
}

fn wire_len(labels: &[Vec<u8>]) -> usize {
    labels.iter().map(|label| label.len() + 1).sum::<usize>() + 1
}

/// Whether `name` equals `ancestor` or lies below it (both lowercase).
fn is_at_or_under(name: &[Vec<u8>], ancestor: &[Vec<u8>]) -> bool {
    name.ends_with(ancestor)
}

/// The RDATA length of a TXT value split into character-strings (one empty string for "").
fn txt_rdata_len(value: &str) -> usize {
    let len = value.len();
    len + len.div_ceil(MAX_CHARACTER_STRING).max(1)
}
