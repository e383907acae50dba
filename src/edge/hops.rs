//! The edge's next hops: each service's list in order of preference, what each resolves to,
//! and whether each is taking calls. A hop is marked down when a connection to it fails and is
//! tried again once its down time has passed; a service's calls go to the first of its hops
//! that is up. Names are resolved by a background task (never on a thread that handles
//! messages) and refreshed as their TTL runs out; a name not yet resolved counts as down.
//! Depends on [`super::addressing`] only.

use super::addressing::{Hop, HopSpec};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The longest a name's address is kept without asking again.
pub const REFRESH: Duration = Duration::from_secs(300);
/// How often when the system resolver, which gives no TTL, is used.
const SYSTEM_REFRESH: Duration = Duration::from_secs(30);
/// The shortest: a TTL of 0 does not make the edge ask in a loop.
pub const MIN_REFRESH: Duration = Duration::from_secs(5);
/// The list of the calls toward the operator's network, after the services'.
pub const OPERATOR: usize = crate::domain::Service::COUNT;

struct State {
    spec: HopSpec,
    /// What the spec resolves to now.
    addr: RwLock<Option<SocketAddr>>,
    /// Milliseconds after `Health::epoch` until which the hop is down; 0 when up.
    down_until: AtomicU64,
    /// Keep-alives: whether the last OPTIONS was answered, and how many in a row were not.
    answered: AtomicBool,
    misses: AtomicU32,
}

/// Every configured next hop's state; shared by the proxy (which chooses) and the transport
/// (which learns).
pub struct Health {
    epoch: Instant,
    hops: Vec<State>,
    /// Per service (`Service::index()`), then [`OPERATOR`]: indexes into `hops`.
    lists: [Vec<usize>; OPERATOR + 1],
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
    pub fn new(
        operator: &HopSpec,
        services: &[Vec<HopSpec>; crate::domain::Service::COUNT],
    ) -> Self {
        let mut hops: Vec<State> = Vec::new();
        let mut lists: [Vec<usize>; OPERATOR + 1] = Default::default();
        let all = services
            .iter()
            .enumerate()
            .flat_map(|(at, list)| list.iter().map(move |spec| (at, spec)))
            .chain(std::iter::once((OPERATOR, operator)));
        for (list, spec) in all {
            let at = match hops.iter().position(|s| s.spec == *spec) {
                Some(at) => at,
                None => {
                    let addr = spec.ip().map(|ip| SocketAddr::new(ip, spec.port));
                    hops.push(State {
                        spec: spec.clone(),
                        addr: RwLock::new(addr),
                        down_until: AtomicU64::new(0),
                        answered: AtomicBool::new(false),
                        misses: AtomicU32::new(0),
                    });
                    hops.len() - 1
                }
            };
            lists[list].push(at);
        }
        Self {
            epoch: Instant::now(),
            hops,
            lists,
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Where `state` is now, or seconds until it may be tried again.
    fn state_now(&self, state: &State, now: u64) -> Result<Hop, u64> {
        let until = state.down_until.load(Ordering::Relaxed);
        if until > now {
            return Err((until - now).div_ceil(1000).max(1));
        }
        match *state.addr.read().expect("hop lock") {
            Some(addr) => Ok(Hop {
                transport: state.spec.transport,
                addr,
            }),
            // Not resolved yet: the resolver tries again within a second.
            None => Err(1),
        }
    }

    /// The first hop of list `list` (a `Service::index()`, or [`OPERATOR`]) that is up.
    pub fn choose(&self, list: usize) -> Choice {
        let now = self.now();
        let mut soonest = u64::MAX;
        for at in &self.lists[list] {
            match self.state_now(&self.hops[*at], now) {
                Ok(hop) => return Choice::Send(hop),
                Err(seconds) => soonest = soonest.min(seconds),
            }
        }
        if self.lists[list].is_empty() {
            Choice::NoneConfigured
        } else {
            Choice::AllDown(soonest)
        }
    }

    fn at_addr(&self, addr: SocketAddr) -> impl Iterator<Item = &State> {
        self.hops
            .iter()
            .filter(move |s| *s.addr.read().expect("hop lock") == Some(addr))
    }

    /// Whether `addr` is where a next hop is now.
    pub fn is_next_hop(&self, addr: SocketAddr) -> bool {
        self.at_addr(addr).next().is_some()
    }

    /// No call goes to `addr` for `period`.
    pub fn mark_down(&self, addr: SocketAddr, period: Duration) {
        let until = self.now() + period.as_millis() as u64;
        for state in self.at_addr(addr) {
            if state.down_until.swap(until, Ordering::Relaxed) == 0 {
                tracing::warn!(hop = %state.spec, %addr, seconds = period.as_secs(), "next hop down");
            }
        }
    }

    /// Calls go to `addr` again.
    pub fn mark_up(&self, addr: SocketAddr) {
        for state in self.at_addr(addr) {
            if state.down_until.swap(0, Ordering::Relaxed) != 0 {
                tracing::info!(hop = %state.spec, %addr, "next hop up");
            }
        }
    }

    /// The name a TLS connection to `addr` must find in the peer's certificate: the host of
    /// the next hop there, else the address itself.
    pub fn server_name(&self, addr: SocketAddr) -> String {
        self.at_addr(addr)
            .next()
            .map_or_else(|| addr.ip().to_string(), |s| s.spec.host.clone())
    }

    /// How many distinct next hops there are (keep-alives name them by position).
    pub fn len(&self) -> usize {
        self.hops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }

    /// Hop `at` as configured, where it is now (if resolved), and the side it is on.
    pub fn hop(&self, at: usize) -> Option<(&HopSpec, Option<Hop>, bool)> {
        let state = self.hops.get(at)?;
        let addr = *state.addr.read().expect("hop lock");
        let toward_operator = self.lists[OPERATOR].contains(&at);
        Some((
            &state.spec,
            addr.map(|addr| Hop {
                transport: state.spec.transport,
                addr,
            }),
            toward_operator,
        ))
    }

    /// Hop `at` answered a keep-alive: it is up.
    pub fn answered(&self, at: usize) {
        let Some(state) = self.hops.get(at) else {
            return;
        };
        state.answered.store(true, Ordering::Relaxed);
        state.misses.store(0, Ordering::Relaxed);
        if state.down_until.swap(0, Ordering::Relaxed) != 0 {
            tracing::info!(hop = %state.spec, "next hop answers OPTIONS again: up");
        }
    }

    /// Before the next keep-alive to hop `at`: counts the last one if it went unanswered, and
    /// takes the hop down for `period` after `allowed` misses in a row.
    pub fn probe_due(&self, at: usize, allowed: u32, period: Duration) {
        let Some(state) = self.hops.get(at) else {
            return;
        };
        if state.answered.swap(false, Ordering::Relaxed) {
            return;
        }
        let misses = state.misses.fetch_add(1, Ordering::Relaxed) + 1;
        if misses > allowed {
            let until = self.now() + period.as_millis() as u64;
            if state.down_until.swap(until, Ordering::Relaxed) == 0 {
                tracing::warn!(hop = %state.spec, misses, "next hop does not answer OPTIONS: down");
            }
        }
    }

    /// Each hop as configured and whether it is up now.
    pub fn figures(&self) -> Vec<(String, bool)> {
        let now = self.now();
        self.hops
            .iter()
            .map(|s| (s.spec.to_string(), self.state_now(s, now).is_ok()))
            .collect()
    }

    /// Resolves the hops given by name on a task of its own: at start, then again when each
    /// answer's TTL runs out (between [`MIN_REFRESH`] and [`REFRESH`]), and every second while a
    /// name has no address. Through hickory's resolver (the system's name servers and hosts
    /// file); the system resolver when hickory cannot read the system's configuration. A
    /// failed lookup keeps the last address.
    pub fn resolve_names(self: &Arc<Self>) {
        let named: Vec<usize> = (0..self.hops.len())
            .filter(|at| self.hops[*at].spec.ip().is_none())
            .collect();
        if named.is_empty() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let resolver = match hickory_resolver::Resolver::builder_tokio() {
                Ok(builder) => builder.build().ok(),
                Err(error) => {
                    tracing::warn!(%error, "hickory cannot read the system's DNS configuration: next hops are resolved by the system resolver, every 30 s");
                    None
                }
            };
            let mut due = vec![Instant::now(); named.len()];
            loop {
                let now = Instant::now();
                for (n, at) in named.iter().enumerate() {
                    if due[n] > now {
                        continue;
                    }
                    let state = &me.hops[*at];
                    let looked = tokio::time::timeout(
                        Duration::from_secs(5),
                        lookup(resolver.as_ref(), &state.spec.host, state.spec.port),
                    )
                    .await
                    .unwrap_or_else(|_| Err("no answer within 5 s".to_owned()));
                    let mut addr = state.addr.write().expect("hop lock");
                    match looked {
                        Ok((found, ttl)) => {
                            if *addr != Some(found) {
                                tracing::info!(hop = %state.spec, addr = %found, ttl = ttl.as_secs(), "next hop resolved");
                            }
                            *addr = Some(found);
                            due[n] = now + ttl.clamp(MIN_REFRESH, REFRESH);
                        }
                        Err(error) => {
                            tracing::warn!(hop = %state.spec, %error, "cannot resolve a next hop");
                            due[n] = now
                                + if addr.is_none() {
                                    Duration::from_secs(1)
                                } else {
                                    MIN_REFRESH
                                };
                        }
                    }
                }
                let next = due.iter().min().copied().unwrap_or(now + REFRESH);
                tokio::time::sleep_until(next.into()).await;
            }
        });
    }
}

/// The first address `host` resolves to, and for how long the answer holds.
async fn lookup(
    resolver: Option<&hickory_resolver::TokioResolver>,
    host: &str,
    port: u16,
) -> Result<(SocketAddr, Duration), String> {
    match resolver {
        Some(resolver) => {
            let found = resolver.lookup_ip(host).await.map_err(|e| e.to_string())?;
            let ttl = found
                .valid_until()
                .saturating_duration_since(Instant::now());
            let ip = found.iter().next().ok_or("no address")?;
            Ok((SocketAddr::new(ip, port), ttl))
        }
        None => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| e.to_string())?
            .next()
            .map(|addr| (addr, SYSTEM_REFRESH))
            .ok_or_else(|| "no address".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(raw: &str) -> HopSpec {
        raw.parse().unwrap()
    }

    #[test]
    fn calls_fail_over_to_the_next_hop_that_is_up_and_come_back() {
        let a = spec("udp:127.0.0.1:5080");
        let b = spec("tcp:127.0.0.1:5081");
        let mut services: [Vec<HopSpec>; crate::domain::Service::COUNT] = Default::default();
        services[0] = vec![a.clone(), b.clone()];
        services[1] = vec![spec("tls:nowhere.invalid:5061")];
        let health = Health::new(&a, &services);
        let (a_addr, b_addr): (SocketAddr, SocketAddr) = (
            "127.0.0.1:5080".parse().unwrap(),
            "127.0.0.1:5081".parse().unwrap(),
        );
        assert!(matches!(health.choose(0), Choice::Send(h) if h.addr == a_addr));
        health.mark_down(a_addr, Duration::from_secs(30));
        assert!(matches!(health.choose(0), Choice::Send(h) if h.addr == b_addr));
        health.mark_down(b_addr, Duration::from_millis(1500));
        assert_eq!(health.choose(0), Choice::AllDown(2));
        assert_eq!(
            health.choose(OPERATOR),
            Choice::AllDown(30),
            "the operator's hop is the same"
        );
        assert_eq!(health.choose(2), Choice::NoneConfigured);
        assert_eq!(
            health.choose(1),
            Choice::AllDown(1),
            "a name not resolved yet"
        );
        health.mark_up(a_addr);
        assert!(matches!(health.choose(0), Choice::Send(h) if h.addr == a_addr));
        assert_eq!(
            health.figures(),
            [
                ("udp:127.0.0.1:5080".to_owned(), true),
                ("tcp:127.0.0.1:5081".to_owned(), false),
                ("tls:nowhere.invalid:5061".to_owned(), false)
            ]
        );
        health.mark_down(b_addr, Duration::ZERO);
        health.mark_down(a_addr, Duration::from_secs(30));
        assert!(
            matches!(health.choose(0), Choice::Send(h) if h.addr == b_addr),
            "tried again once its time is up"
        );
    }

    #[tokio::test]
    async fn names_are_resolved_in_the_background() {
        let mut services: [Vec<HopSpec>; crate::domain::Service::COUNT] = Default::default();
        services[0] = vec![spec("tls:localhost:5061")];
        let health = Arc::new(Health::new(&spec("udp:127.0.0.1:5080"), &services));
        assert_eq!(health.choose(0), Choice::AllDown(1));
        health.resolve_names();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Choice::Send(hop) = health.choose(0) {
                assert!(
                    hop.addr.ip().is_loopback() && hop.addr.port() == 5061,
                    "{hop}"
                );
                assert_eq!(health.server_name(hop.addr), "localhost");
                break;
            }
            assert!(Instant::now() < deadline, "localhost was not resolved");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
