//! `numbat edge`: the SIP edge that applies provisioning to every call, and the DNS responder
//! that publishes each Direct Routing customer's TXT tokens.
//!
//! The edge proxies between the operator's network and the communications services over UDP
//! and TCP (see [`proxy`] for what it does to each message). Its routing index is loaded from
//! the store at start and follows every change ([`crate::routing::feed`]). With a DNS address
//! it also answers for `1r1.<base>` and `1r2.<base>`, checks what it serves and records each
//! account's `subdomainStatus`. Depends on `routing`, `dns`, the core (subdomain status),
//! `store` (the database handle it loads from) and `process`; never on an HTTP door.

pub mod addressing;
mod args;
pub mod flood;
pub mod hops;
pub mod metrics;
pub mod proxy;
pub mod seal;
pub mod sip;
pub mod tcp;
pub mod tls;
pub mod transport;

pub use args::{EdgeArgs, TlsClientAuth};

use crate::dns::{self, SharedZone, Zone};
use crate::domain::{AccountName, CustomerDomain, SubdomainStatus};
use crate::provisioning::{Actor, Door, Provisioning, Role};
use crate::routing::feed::{Feed, Overrides, SharedIndex};
use crate::routing::RoutingIndex;
use crate::store::Database;
use proxy::{EdgeConfig, Proxy};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What a running edge offers to those who started it (tests, `main`).
pub struct RunningEdge {
    pub index: SharedIndex,
    pub sockets: Arc<transport::Sockets>,
    pub dns: Option<SocketAddr>,
    pub metrics: Option<SocketAddr>,
}

impl RunningEdge {
    /// Stops taking new calls (they and OPTIONS are answered 503, so peers turn to another
    /// edge) while responses and in-dialog requests still go through; then waits `grace` for
    /// the transactions in flight, which a stateless proxy cannot count, to finish. A second
    /// SIGTERM or SIGINT ends the wait at once.
    pub async fn drain(&self, grace: Duration) {
        let again = crate::process::Shutdown::listen();
        self.sockets.proxy.start_draining();
        tracing::info!(
            grace_secs = grace.as_secs(),
            "draining: new calls are answered 503 while calls in flight finish (signal again to stop now)"
        );
        tokio::select! {
            () = tokio::time::sleep(grace) => {}
            () = again.wait() => {}
        }
    }
}

/// How the edge is run.
#[derive(Clone, Debug)]
pub struct EdgeOptions {
    pub proxy: EdgeConfig,
    pub overrides: Overrides,
    pub poll: Duration,
    pub dns: Option<SocketAddr>,
    /// Threads reading the UDP sockets.
    pub udp_threads: usize,
    /// The most datagrams a UDP thread takes from a socket at once.
    pub udp_batch: usize,
    pub tcp: tcp::TcpLimits,
    /// Where `/metrics` is served, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// The certificate, key and trust anchors for SIP over TLS, if it is on.
    pub tls: Option<tls::TlsFiles>,
    /// How often each next hop is sent an OPTIONS, if at all.
    pub keepalive: Option<Duration>,
}

/// The options `numbat edge`'s arguments give, checked.
pub fn options(args: &EdgeArgs) -> anyhow::Result<EdgeOptions> {
    use crate::domain::Service;
    let mut next_hops: [Vec<proxy::HopSpec>; Service::COUNT] = Default::default();
    for raw in &args.next_hops {
        let (name, hop) = raw.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("--next-hop {raw}: must be <service>=[udp:|tcp:|tls:]<host>[:<port>]")
        })?;
        let Some(service) = Service::from_edge_name(name) else {
            let known: Vec<_> = Service::BY_PREFERENCE
                .iter()
                .map(|s| s.traits().edge_name)
                .collect();
            anyhow::bail!(
                "--next-hop {raw}: unknown service `{name}` ({})",
                known.join(", ")
            );
        };
        next_hops[service.index()].push(
            hop.parse()
                .map_err(|e| anyhow::anyhow!("--next-hop {raw}: {e}"))?,
        );
    }
    let operator_next_hop = args
        .operator_next_hop
        .parse()
        .map_err(|e| anyhow::anyhow!("--operator-next-hop: {e}"))?;
    if let Some(name) = &args.header_name {
        crate::domain::SipHeaderName::parse(name)
            .map_err(|v| anyhow::anyhow!("--header-name {name}: {v}"))?;
    }
    if let Some(base) = &args.base_domain {
        crate::domain::BaseDomain::parse(base)
            .map_err(|v| anyhow::anyhow!("--base-domain {base}: {v}"))?;
    }
    let advertised = |listen: SocketAddr, advertise: Option<SocketAddr>, flag: &str| {
        let addr = advertise.unwrap_or(listen);
        if addr.ip().is_unspecified() {
            anyhow::bail!(
                "--{flag}-listen {listen} listens on every address: give --{flag}-advertise, the address peers reach it at (it goes in Via and Record-Route)"
            );
        }
        Ok(addr)
    };
    let current = crate::process::secret("NUMBAT_EDGE_KEY", args.edge_key_file.as_deref())?;
    let previous = crate::process::secret(
        "NUMBAT_EDGE_PREVIOUS_KEY",
        args.edge_previous_key_file.as_deref(),
    )?;
    let keys = match current {
        Some(key) => seal::Keys::new(key.as_bytes(), previous.as_deref().map(str::as_bytes))
            .map_err(|e| anyhow::anyhow!("--edge-key-file / NUMBAT_EDGE_KEY: {e}"))?,
        None => {
            anyhow::ensure!(
                previous.is_none(),
                "a previous edge key is given without a current one (--edge-key-file or NUMBAT_EDGE_KEY)"
            );
            tracing::warn!("no edge key is given (--edge-key-file or NUMBAT_EDGE_KEY): this process signs with a random key, so its calls do not survive a restart and no other edge can carry them");
            seal::Keys::random()
        }
    };
    let tls_advertised = |listen: Option<SocketAddr>, advertise: Option<SocketAddr>, flag| {
        listen.map(|l| advertised(l, advertise, flag)).transpose()
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            ca: args.tls_ca.clone(),
            client_auth: [
                args.tls_client_auth.contains(&TlsClientAuth::Operator),
                args.tls_client_auth.contains(&TlsClientAuth::Service),
            ],
        }),
        (None, None) => None,
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let uses_tls = args.operator_tls_listen.is_some()
        || args.service_tls_listen.is_some()
        || std::iter::once(&operator_next_hop)
            .chain(next_hops.iter().flatten())
            .any(|h: &proxy::HopSpec| h.transport == proxy::Transport::Tls);
    anyhow::ensure!(
        !uses_tls || tls.is_some(),
        "TLS listeners and tls: next hops need --tls-cert and --tls-key (the edge presents its certificate on both sides)"
    );
    let config = EdgeConfig {
        operator_listen: args.operator_listen,
        service_listen: args.service_listen,
        operator_addr: advertised(args.operator_listen, args.operator_advertise, "operator")?,
        service_addr: advertised(args.service_listen, args.service_advertise, "service")?,
        operator_tls_listen: args.operator_tls_listen,
        service_tls_listen: args.service_tls_listen,
        operator_tls_addr: tls_advertised(
            args.operator_tls_listen,
            args.operator_tls_advertise,
            "operator-tls",
        )?,
        service_tls_addr: tls_advertised(
            args.service_tls_listen,
            args.service_tls_advertise,
            "service-tls",
        )?,
        operator_next_hop,
        next_hops,
        region: args.region,
        operator_peers: args.operator_peers.clone(),
        service_peers: args.service_peers.clone(),
        allow_any_peer: args.allow_any_peer,
        keys,
        invite_rate: args.invite_rate,
    };
    if let Some(refusal) = config.refusal() {
        anyhow::bail!("{refusal}");
    }
    Ok(EdgeOptions {
        proxy: config,
        overrides: Overrides {
            header_name: args.header_name.clone(),
            base_domain: args.base_domain.clone(),
        },
        poll: Duration::from_millis(args.poll_ms.max(10)),
        dns: args.dns_listen,
        udp_threads: usize::from(args.udp_threads),
        udp_batch: usize::from(args.udp_batch),
        tcp: tcp::TcpLimits {
            total: args.tcp_max_connections.max(1),
            per_source: args.tcp_max_per_source.max(1),
            idle: Duration::from_secs(args.tcp_idle_secs.max(1)),
            message: Duration::from_secs(args.tcp_message_secs.max(1)),
            ..tcp::TcpLimits::default()
        },
        metrics: args.metrics_listen,
        tls,
        keepalive: (args.keepalive_secs > 0).then(|| Duration::from_secs(args.keepalive_secs)),
    })
}

/// Loads the index, starts the feed, the sockets and the DNS responder; returns once all
/// listen.
pub async fn start(db: Database, options: EdgeOptions) -> anyhow::Result<RunningEdge> {
    if let Some(refusal) = options.proxy.refusal() {
        anyhow::bail!("{refusal}");
    }
    let feed = Feed::load(db.clone(), options.overrides.clone()).await?;
    let index = feed.index();
    {
        let index = index.read().expect("index lock");
        tracing::info!(
            numbers = index.len(),
            accounts = index.account_count(),
            table_bytes = index.heap_bytes(),
            header = index
                .settings
                .header_name
                .as_deref()
                .unwrap_or("(none: no header is added)"),
            base_domain = index.settings.base_domain.as_deref().unwrap_or("(none)"),
            "routing index ready"
        );
    }
    let dns = match options.dns {
        Some(addr) => Some(start_dns(db.clone(), addr, index.clone()).await?),
        None => None,
    };
    let zone_keeper = dns.clone();
    tokio::spawn(feed.follow(options.poll, move |index, refreshed| {
        if refreshed.touches_accounts() {
            if let Some(dns) = &zone_keeper {
                dns.rebuild(&index.read().expect("index lock"));
                dns.check_soon();
            }
        }
    }));
    let tls = match options.tls.clone() {
        Some(files) => {
            let tls = tls::Tls::load(files)?;
            tls.watch();
            Some(tls)
        }
        None => None,
    };
    let proxy = Proxy::new(options.proxy.clone(), index.clone());
    proxy.health.resolve_names();
    let sockets = transport::Sockets::start(
        proxy,
        options.udp_threads,
        options.udp_batch,
        options.tcp,
        tls,
    )?;
    if let Some(every) = options.keepalive {
        sockets.keep_alive(every);
    }
    let metrics = match options.metrics {
        Some(addr) => Some(
            metrics::serve(
                addr,
                sockets.proxy.metrics.clone(),
                sockets.proxy.health.clone(),
            )
            .await?,
        ),
        None => None,
    };
    Ok(RunningEdge {
        index,
        sockets,
        dns: dns.map(|d| d.addr),
        metrics,
    })
}

/// The DNS responder and what keeps its zone and the accounts' statuses current.
#[derive(Clone)]
struct DnsKeeper {
    addr: SocketAddr,
    zone: SharedZone,
    check: Arc<tokio::sync::Notify>,
}

async fn start_dns(
    db: Database,
    addr: SocketAddr,
    index: SharedIndex,
) -> anyhow::Result<DnsKeeper> {
    let udp = tokio::net::UdpSocket::bind(addr).await?;
    let addr = udp.local_addr()?;
    let tcp = tokio::net::TcpListener::bind(addr).await?;
    let keeper = DnsKeeper {
        addr,
        zone: SharedZone::default(),
        check: Arc::new(tokio::sync::Notify::new()),
    };
    keeper.rebuild(&index.read().expect("index lock"));
    tokio::spawn(dns::serve_udp(udp, keeper.zone.clone()));
    tokio::spawn(dns::serve_tcp(tcp, keeper.zone.clone()));
    let checker = keeper.clone();
    tokio::spawn(async move {
        let core = Provisioning::new(db);
        loop {
            if let Err(error) = checker.record_statuses(&core, &index).await {
                tracing::warn!(error = %crate::telemetry::error_chain(error.as_ref()), "checking the DNS records failed");
            }
            // Again on every account change, and every minute in case a write was lost.
            let _ = tokio::time::timeout(Duration::from_secs(60), checker.check.notified()).await;
        }
    });
    tracing::info!(%addr, "DNS responder listening");
    Ok(keeper)
}

impl DnsKeeper {
    fn rebuild(&self, index: &RoutingIndex) {
        let Some(base) = index.settings.base_domain.as_deref() else {
            *self.zone.write().expect("zone lock") = Arc::new(Zone::default());
            return;
        };
        let mut zone = Zone::new(base, 300);
        for account in index.direct_routing_accounts() {
            // Only the account that holds the label publishes under it.
            let dr = account.direct_routing.as_ref().expect("filtered");
            if index.account_by_label(&dr.label).map(|a| &a.name) != Some(&account.name) {
                continue;
            }
            for (region, token) in [(1, &dr.tokens[0]), (2, &dr.tokens[1])] {
                let name = CustomerDomain {
                    label: &dr.label,
                    region,
                    base,
                };
                zone.add_txt(&name.to_string(), token);
            }
        }
        *self.zone.write().expect("zone lock") = Arc::new(zone);
    }

    fn check_soon(&self) {
        self.check.notify_one();
    }

    /// Asks the responder for each Direct Routing account's records, as Microsoft 365 would,
    /// and records `provisioned` when both regions answer exactly the account's token,
    /// `inconsistent` when they answer something else.
    async fn record_statuses(
        &self,
        core: &Provisioning,
        index: &SharedIndex,
    ) -> anyhow::Result<()> {
        let (base, accounts) = {
            let index = index.read().expect("index lock");
            let Some(base) = index.settings.base_domain.clone() else {
                return Ok(());
            };
            let accounts: Vec<_> = index.direct_routing_accounts().cloned().collect();
            (base, accounts)
        };
        let ask = if self.addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), self.addr.port())
        } else {
            self.addr
        };
        for account in accounts {
            let dr = account.direct_routing.as_ref().expect("filtered");
            let mut matches = true;
            for (region, token) in [(1, &dr.tokens[0]), (2, &dr.tokens[1])] {
                let name = CustomerDomain {
                    label: &dr.label,
                    region,
                    base: &base,
                };
                let served = dns::query_txt(ask, &name.to_string()).await?;
                matches &= served.len() == 1 && *served[0] == **token;
            }
            let status = if matches {
                SubdomainStatus::Provisioned
            } else {
                SubdomainStatus::Inconsistent
            };
            let name = AccountName::parse(&account.name)
                .map_err(|v| anyhow::anyhow!("account name {}: {v}", account.name))?;
            let actor = Actor::new("dns", &[Role::Admin], Door::Sync);
            core.record_subdomain_status(
                &actor,
                &name,
                &dr.label,
                [&dr.tokens[0], &dr.tokens[1]],
                status,
            )
            .await?;
        }
        Ok(())
    }
}
