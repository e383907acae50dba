//! Sign-in throttling: failed password attempts counted per user name and per source address,
//! each with a lock that grows with every failure past a free allowance. A locked name or
//! address is refused before any password is hashed, so a flood of guesses costs the server
//! almost nothing and guesses nothing. Names are counted exactly as typed (user names are
//! case-sensitive); IPv6 sources by their /64, which one host or network holds. Kept in memory,
//! per node; depends on nothing else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts a name may have in a window before it is locked.
pub const FREE_FAILURES_PER_NAME: u32 = 5;
/// Failed attempts a source address may have in a window before it is locked.
pub const FREE_FAILURES_PER_SOURCE: u32 = 20;
/// Failures are forgotten this long after the last one, or after the lock it earned ended:
/// longer than the longest lock, so sitting a lock out does not earn fresh guesses.
pub const WINDOW: Duration = Duration::from_secs(60 * 60);
/// The longest lock.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Names and addresses remembered at most; past it, the oldest are forgotten first.
const MAX_ENTRIES: usize = 50_000;

#[derive(Clone, Copy, Debug)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// What is locked, and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Locked {
    Name(Duration),
    Source(Duration),
}

impl Locked {
    /// Seconds to wait, rounded up (for `Retry-After`).
    pub fn retry_after_secs(&self) -> u64 {
        let wait = match self {
            Locked::Name(wait) | Locked::Source(wait) => *wait,
        };
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    }
}

/// The locks an attempt started, which stand if its password was wrong (worth an audit event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub name_locked_for: Option<Duration>,
    pub source_locked_for: Option<Duration>,
}

/// An attempt let through, to be reported as right (`succeeded`) or left as a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    name: Option<String>,
    source: Option<IpAddr>,
    pub if_wrong: Failure,
}

#[derive(Debug, Default)]
pub struct SignInThrottle {
    names: Mutex<HashMap<String, Record>>,
    sources: Mutex<HashMap<IpAddr, Record>>,
}

/// The lock a record with `failures` failures earns: none within the allowance, then one
/// second doubling with each failure, up to `MAX_LOCK`.
fn lock_for(failures: u32, free: u32) -> Option<Duration> {
    let past = failures.checked_sub(free)?.checked_sub(1)?;
    Some(Duration::from_secs(1u64 << past.min(20)).min(MAX_LOCK))
}

/// Whether a record's failures are old enough to forget: `WINDOW` after the later of its last
/// failure and the end of its lock.
fn forgotten(record: &Record, now: Instant) -> bool {
    let since = record
        .locked_until
        .map_or(record.last_failure, |until| until.max(record.last_failure));
    now.checked_duration_since(since)
        .is_some_and(|quiet| quiet >= WINDOW)
}

/// The address a source is counted by: IPv4 as it is (an IPv4-mapped IPv6 address as its
/// IPv4), IPv6 by its /64.
fn source_key(source: IpAddr) -> IpAddr {
    match source {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
        v4 => v4,
    }
}

/// Takes one attempt for `key`: refused while it is locked; otherwise counted as a failure at
/// once (a right password gives it back), so concurrent guesses cannot all slip in before the
/// first one is found wrong. Returns the lock counting it started, if any.
fn take<K: std::hash::Hash + Eq + Clone>(
    map: &Mutex<HashMap<K, Record>>,
    key: &K,
    free: u32,
) -> Result<Option<Duration>, Duration> {
    let now = Instant::now();
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(wait) = map
        .get(key)
        .and_then(|r| r.locked_until)
        .and_then(|until| until.checked_duration_since(now))
        .filter(|d| !d.is_zero())
    {
        return Err(wait);
    }
    if map.len() >= MAX_ENTRIES && !map.contains_key(key) {
        map.retain(|_, r| !forgotten(r, now));
        if map.len() >= MAX_ENTRIES {
            // The oldest record that holds no lock goes first, so a flood of new keys cannot
            // push a locked name out and free it.
            let oldest = map
                .iter()
                .min_by_key(|(_, r)| (r.locked_until.is_some_and(|u| u > now), r.last_failure))
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                map.remove(&oldest);
            }
        }
    }
    let record = map.entry(key.clone()).or_insert(Record {
        failures: 0,
        last_failure: now,
        locked_until: None,
    });
    if forgotten(record, now) {
        record.failures = 0;
    }
    record.failures = record.failures.saturating_add(1);
    record.last_failure = now;
    let lock = lock_for(record.failures, free);
    if let Some(lock) = lock {
        record.locked_until = Some(now + lock);
    }
    Ok(lock)
}

/// Gives back one attempt that turned out right (or was never made).
fn give_back<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Record>>, key: &K, free: u32) {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(record) = map.get_mut(key) {
        record.failures = record.failures.saturating_sub(1);
        if lock_for(record.failures, free).is_none() {
            record.locked_until = None;
        }
    }
}

impl SignInThrottle {
    /// Takes an attempt for `name` from `source` before any password is hashed: refused while
    /// the address or the name is locked. `None` for a name no user can have: only the
    /// address counts it.
    pub fn attempt(&self, name: Option<&str>, source: Option<IpAddr>) -> Result<Attempt, Locked> {
        let source = source.map(source_key);
        let source_locked_for = match source {
            Some(s) => take(&self.sources, &s, FREE_FAILURES_PER_SOURCE).map_err(Locked::Source)?,
            None => None,
        };
        let Some(name) = name else {
            return Ok(Attempt {
                name: None,
                source,
                if_wrong: Failure {
                    name_locked_for: None,
                    source_locked_for,
                },
            });
        };
        let name = name.to_owned();
        let name_locked_for = match take(&self.names, &name, FREE_FAILURES_PER_NAME) {
            Ok(lock) => lock,
            Err(wait) => {
                if let Some(s) = source {
                    give_back(&self.sources, &s, FREE_FAILURES_PER_SOURCE);
                }
                return Err(Locked::Name(wait));
            }
        };
        Ok(Attempt {
            name: Some(name),
            source,
            if_wrong: Failure {
                name_locked_for,
                source_locked_for,
            },
        })
    }

    /// The attempt could not be checked (the server was busy or failed): it does not count.
    pub fn withdraw(&self, attempt: Attempt) {
        if let Some(name) = &attempt.name {
            give_back(&self.names, name, FREE_FAILURES_PER_NAME);
        }
        if let Some(source) = attempt.source {
            give_back(&self.sources, &source, FREE_FAILURES_PER_SOURCE);
        }
    }

    /// The password was right: the name's failures are forgotten, and the address gets this
    /// attempt back (not its others, so one known password does not clear a guessing source).
    pub fn succeeded(&self, attempt: Attempt) {
        if let Some(name) = &attempt.name {
            self.names
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(name);
        }
        if let Some(source) = attempt.source {
            give_back(&self.sources, &source, FREE_FAILURES_PER_SOURCE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_locked_after_its_free_failures_for_longer_each_time() {
        let throttle = SignInThrottle::default();
        let source: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..FREE_FAILURES_PER_NAME {
            let attempt = throttle.attempt(Some("alice"), Some(source)).unwrap();
            assert_eq!(attempt.if_wrong.name_locked_for, None);
        }
        let sixth = throttle.attempt(Some("alice"), Some(source)).unwrap();
        let first_lock = sixth.if_wrong.name_locked_for.unwrap();
        assert!(matches!(
            throttle.attempt(Some("alice"), None),
            Err(Locked::Name(_))
        ));
        // Another name from another address is not held up.
        assert!(throttle
            .attempt(Some("bob"), Some("192.0.2.8".parse().unwrap()))
            .is_ok());
        let next_lock = lock_for(FREE_FAILURES_PER_NAME + 2, FREE_FAILURES_PER_NAME).unwrap();
        assert!(next_lock > first_lock, "{next_lock:?} after {first_lock:?}");
        // The right password, on an attempt let through, clears the name.
        throttle.succeeded(sixth);
        assert!(throttle.attempt(Some("alice"), None).is_ok());
        // Names are counted as typed: user names are case-sensitive.
        assert!(throttle.attempt(Some("Alice"), None).is_ok());
    }

    #[test]
    fn a_source_guessing_many_names_is_locked_and_locks_are_capped() {
        let throttle = SignInThrottle::default();
        for n in 0..=FREE_FAILURES_PER_SOURCE {
            // Each guess from another address in the same /64, some with names no user has.
            let source: IpAddr = format!("2001:db8::{n:x}").parse().unwrap();
            let name = format!("user{n}");
            throttle
                .attempt((n % 2 == 0).then_some(name.as_str()), Some(source))
                .unwrap();
        }
        let elsewhere_in_the_64: IpAddr = "2001:db8::ffff:1".parse().unwrap();
        let error = throttle
            .attempt(Some("someone-else"), Some(elsewhere_in_the_64))
            .unwrap_err();
        assert!(matches!(error, Locked::Source(_)));
        assert!(error.retry_after_secs() >= 1);
        assert_eq!(lock_for(1_000, 5), Some(MAX_LOCK));
        assert_eq!(lock_for(5, 5), None);
        assert_eq!(lock_for(6, 5), Some(Duration::from_secs(1)));
    }

    #[test]
    fn sitting_the_longest_lock_out_does_not_earn_fresh_guesses() {
        let start = Instant::now();
        let record = Record {
            failures: 30,
            last_failure: start,
            locked_until: Some(start + MAX_LOCK),
        };
        assert!(!forgotten(
            &record,
            start + MAX_LOCK + Duration::from_secs(1)
        ));
        assert!(!forgotten(&record, start + WINDOW));
        assert!(forgotten(&record, start + MAX_LOCK + WINDOW));
    }
}
