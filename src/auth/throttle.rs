//! Sign-in throttling: failed password attempts counted per user name and per source address,
//! each with a lock that grows with every failure past a free allowance. A locked name or
//! address is refused before any password is hashed, so a flood of guesses costs the server
//! almost nothing and guesses nothing. Kept in memory, per node; depends on nothing else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts a name may have in a window before it is locked.
pub const FREE_FAILURES_PER_NAME: u32 = 5;
/// Failed attempts a source address may have in a window before it is locked.
pub const FREE_FAILURES_PER_SOURCE: u32 = 20;
/// Failures are forgotten this long after the last one.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
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
    name: String,
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
        map.retain(|_, r| now.duration_since(r.last_failure) < WINDOW);
        if map.len() >= MAX_ENTRIES {
            let oldest = map
                .iter()
                .min_by_key(|(_, r)| r.last_failure)
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
    if now.duration_since(record.last_failure) >= WINDOW {
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
    /// the address or the name is locked.
    pub fn attempt(&self, name: &str, source: Option<IpAddr>) -> Result<Attempt, Locked> {
        let name = name.to_lowercase();
        let source_locked_for = match source {
            Some(s) => take(&self.sources, &s, FREE_FAILURES_PER_SOURCE).map_err(Locked::Source)?,
            None => None,
        };
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
            name,
            source,
            if_wrong: Failure {
                name_locked_for,
                source_locked_for,
            },
        })
    }

    /// The attempt could not be checked (the server was busy or failed): it does not count.
    pub fn withdraw(&self, attempt: Attempt) {
        give_back(&self.names, &attempt.name, FREE_FAILURES_PER_NAME);
        if let Some(source) = attempt.source {
            give_back(&self.sources, &source, FREE_FAILURES_PER_SOURCE);
        }
    }

    /// The password was right: the name's failures are forgotten, and the address gets this
    /// attempt back (not its others, so one known password does not clear a guessing source).
    pub fn succeeded(&self, attempt: Attempt) {
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&attempt.name);
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
            let attempt = throttle.attempt("alice", Some(source)).unwrap();
            assert_eq!(attempt.if_wrong.name_locked_for, None);
        }
        let sixth = throttle.attempt("Alice", Some(source)).unwrap();
        let first_lock = sixth.if_wrong.name_locked_for.unwrap();
        assert!(matches!(
            throttle.attempt("ALICE", None),
            Err(Locked::Name(_))
        ));
        // Another name from another address is not held up.
        assert!(throttle
            .attempt("bob", Some("192.0.2.8".parse().unwrap()))
            .is_ok());
        let next_lock = lock_for(FREE_FAILURES_PER_NAME + 2, FREE_FAILURES_PER_NAME).unwrap();
        assert!(next_lock > first_lock, "{next_lock:?} after {first_lock:?}");
        // The right password, on an attempt let through, clears the name.
        throttle.succeeded(sixth);
        assert!(throttle.attempt("alice", None).is_ok());
    }

    #[test]
    fn a_source_guessing_many_names_is_locked_and_locks_are_capped() {
        let throttle = SignInThrottle::default();
        let source: IpAddr = "2001:db8::1".parse().unwrap();
        for n in 0..=FREE_FAILURES_PER_SOURCE {
            throttle.attempt(&format!("user{n}"), Some(source)).unwrap();
        }
        let error = throttle.attempt("someone-else", Some(source)).unwrap_err();
        assert!(matches!(error, Locked::Source(_)));
        assert!(error.retry_after_secs() >= 1);
        assert_eq!(lock_for(1_000, 5), Some(MAX_LOCK));
        assert_eq!(lock_for(5, 5), None);
        assert_eq!(lock_for(6, 5), Some(Duration::from_secs(1)));
    }
}
