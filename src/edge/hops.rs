//! The edge's next hops and whether each is taking calls. A hop is marked down when a
//! connection to it fails (or, with keep-alives, when it stops answering OPTIONS) and is tried
//! again once its down time has passed; a service's calls go to the first of its hops that is
//! up. Depends on [`super::proxy`]'s `Hop` only.

use super::proxy::Hop;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct State {
    hop: Hop,
    /// Milliseconds after `Health::epoch` until which the hop is down; 0 when up.
    down_until: AtomicU64,
}

/// Every configured next hop's state; shared by the proxy (which chooses) and the transport
/// and keep-alives (which learn).
pub struct Health {
    epoch: Instant,
    hops: Vec<State>,
}

/// What the proxy may do with a call whose service has these hops.
#[derive(Debug, PartialEq, Eq)]
pub enum Choice {
    Send(Hop),
    /// All are down; the first comes back in this many seconds (at least 1).
    AllDown(u64),
    NoneConfigured,
}

impl Health {
    pub fn new(hops: impl IntoIterator<Item = Hop>) -> Self {
        let mut states: Vec<State> = Vec::new();
        for hop in hops {
            if !states.iter().any(|s| s.hop == hop) {
                states.push(State {
                    hop,
                    down_until: AtomicU64::new(0),
                });
            }
        }
        Self {
            epoch: Instant::now(),
            hops: states,
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn state(&self, addr: SocketAddr) -> impl Iterator<Item = &State> {
        self.hops.iter().filter(move |s| s.hop.addr == addr)
    }

    /// Seconds until `hop` is tried again, or `None` when it is up (an unknown hop is up).
    fn down_for(&self, hop: &Hop, now: u64) -> Option<u64> {
        let state = self.hops.iter().find(|s| s.hop == *hop)?;
        let until = state.down_until.load(Ordering::Relaxed);
        (until > now).then(|| (until - now).div_ceil(1000).max(1))
    }

    /// The first hop of `hops` that is up.
    pub fn choose(&self, hops: &[Hop]) -> Choice {
        let now = self.now();
        let mut soonest = u64::MAX;
        for hop in hops {
            match self.down_for(hop, now) {
                None => return Choice::Send(*hop),
                Some(seconds) => soonest = soonest.min(seconds),
            }
        }
        if hops.is_empty() {
            Choice::NoneConfigured
        } else {
            Choice::AllDown(soonest)
        }
    }

    /// No call goes to `addr` for `period`.
    pub fn mark_down(&self, addr: SocketAddr, period: Duration) {
        let until = self.now() + period.as_millis() as u64;
        for state in self.state(addr) {
            if state.down_until.swap(until, Ordering::Relaxed) == 0 {
                tracing::warn!(hop = %addr, seconds = period.as_secs(), "next hop down");
            }
        }
    }

    /// Calls go to `addr` again.
    pub fn mark_up(&self, addr: SocketAddr) {
        for state in self.state(addr) {
            if state.down_until.swap(0, Ordering::Relaxed) != 0 {
                tracing::info!(hop = %addr, "next hop up");
            }
        }
    }

    /// Each hop (`udp:127.0.0.1:5080`) and whether it is up now.
    pub fn figures(&self) -> Vec<(String, bool)> {
        let now = self.now();
        self.hops
            .iter()
            .map(|s| (s.hop.to_string(), self.down_for(&s.hop, now).is_none()))
            .collect()
    }

    pub fn hops(&self) -> impl Iterator<Item = Hop> + '_ {
        self.hops.iter().map(|s| s.hop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_fail_over_to_the_next_hop_that_is_up_and_come_back() {
        let a: Hop = "udp:127.0.0.1:5080".parse().unwrap();
        let b: Hop = "tcp:127.0.0.1:5081".parse().unwrap();
        let health = Health::new([a, b, a]);
        assert_eq!(health.choose(&[a, b]), Choice::Send(a));
        health.mark_down(a.addr, Duration::from_secs(30));
        assert_eq!(health.choose(&[a, b]), Choice::Send(b));
        health.mark_down(b.addr, Duration::from_millis(1500));
        assert_eq!(health.choose(&[a, b]), Choice::AllDown(2));
        assert_eq!(health.choose(&[]), Choice::NoneConfigured);
        health.mark_up(a.addr);
        assert_eq!(health.choose(&[a, b]), Choice::Send(a));
        assert_eq!(
            health.figures(),
            [
                ("udp:127.0.0.1:5080".to_owned(), true),
                ("tcp:127.0.0.1:5081".to_owned(), false)
            ]
        );
        health.mark_down(b.addr, Duration::ZERO);
        assert_eq!(
            health.choose(&[b]),
            Choice::Send(b),
            "tried again once its time is up"
        );
    }
}
