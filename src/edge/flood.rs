//! How many new INVITEs one source may send a second (`--invite-rate`) before the edge answers
//! 503 with `Retry-After`. A fixed table of counters indexed by a keyed hash of the source
//! address: its memory does not grow with the number of sources an attacker forges, and two
//! sources that share a slot share a budget (a slot per 4,096). Depends on nothing else in the
//! crate.

use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const SLOTS: usize = 4096;

pub struct InviteLimit {
    per_second: u32,
    epoch: Instant,
    hasher: std::collections::hash_map::RandomState,
    /// Per slot: the second (high 32 bits) and the INVITEs counted in it (low 32 bits).
    slots: Box<[AtomicU64]>,
}

impl InviteLimit {
    /// `per_second` 0 allows any rate.
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            epoch: Instant::now(),
            hasher: Default::default(),
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts one INVITE from `source`; whether it is within the rate.
    pub fn allow(&self, source: IpAddr) -> bool {
        if self.per_second == 0 {
            return true;
        }
        // IPv6 sources count by their /64, as a host holds a whole one.
        let key = match source {
            IpAddr::V4(ip) => u128::from(u32::from(ip)),
            IpAddr::V6(ip) => u128::from(ip) >> 64 | 1 << 127,
        };
        let mut hasher = self.hasher.build_hasher();
        key.hash(&mut hasher);
        let slot = &self.slots[(std::hash::Hasher::finish(&hasher) as usize) % SLOTS];
        let second = self.epoch.elapsed().as_secs() + 1;
        let mut seen = slot.load(Ordering::Relaxed);
        loop {
            let (at, count) = (seen >> 32, seen & 0xffff_ffff);
            let next = if at == second {
                if count >= u64::from(self.per_second) {
                    return false;
                }
                seen + 1
            } else {
                second << 32 | 1
            };
            match slot.compare_exchange_weak(seen, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => seen = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_past_its_rate_is_refused_while_another_is_not() {
        let limit = InviteLimit::new(100);
        let flooder: IpAddr = "192.0.2.1".parse().unwrap();
        let allowed = (0..1000).filter(|_| limit.allow(flooder)).count();
        // The second may turn over during the loop on a slow machine: at most twice the rate.
        assert!((100..=200).contains(&allowed), "{allowed}");
        let other: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(limit.allow(other), "another source has its own budget");
        let unlimited = InviteLimit::new(0);
        assert!((0..10_000).all(|_| unlimited.allow(flooder)));
    }
}
