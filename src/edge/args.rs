//! The edge's flags: where it listens, where it sends calls, its TLS and DNS set-up.
//! Depends on `process` (the database flag) and clap.

use crate::process::DatabaseArgs;
use clap::Args;
use std::net::SocketAddr;

/// How the SIP edge listens and where it sends calls.
#[derive(Debug, Clone, Args)]
pub struct EdgeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The operator-facing address (UDP and TCP): the operator's network sends here.
    #[arg(
        long,
        env = "NUMBAT_EDGE_OPERATOR_LISTEN",
        default_value = "127.0.0.1:5060"
    )]
    pub operator_listen: SocketAddr,
    /// The service-facing address (UDP and TCP): Teams, Zoom and Call Protection send here.
    #[arg(
        long,
        env = "NUMBAT_EDGE_SERVICE_LISTEN",
        default_value = "127.0.0.1:5062"
    )]
    pub service_listen: SocketAddr,
    /// The operator-facing address as peers reach it (Via, Record-Route), when it is not the
    /// listening address (which must then be a specific one, not 0.0.0.0).
    #[arg(long, env = "NUMBAT_EDGE_OPERATOR_ADVERTISE")]
    pub operator_advertise: Option<SocketAddr>,
    /// The service-facing address as peers reach it.
    #[arg(long, env = "NUMBAT_EDGE_SERVICE_ADVERTISE")]
    pub service_advertise: Option<SocketAddr>,
    /// Where calls toward the operator's network go: [udp:|tcp:|tls:]<host>[:<port>] (a
    /// name is resolved in the background, and again as its TTL runs out).
    #[arg(long, env = "NUMBAT_EDGE_OPERATOR_NEXT_HOP")]
    pub operator_next_hop: String,
    /// A service's next hop, as <service>=[udp:|tcp:|tls:]<host>[:<port>] (e.g.
    /// teams-direct-routing=tls:sip.pstnhub.microsoft.com:5061); repeat per service, and
    /// repeat a service to fail over: its calls go to the first of its hops that is up.
    /// Services: teams-direct-routing, operator-connect, teams-phone-mobile, zoom,
    /// call-protection.
    #[arg(long = "next-hop", value_name = "SERVICE=HOP")]
    pub next_hops: Vec<String>,
    /// The Direct Routing region this edge serves: Contacts toward Teams use `1r<region>`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub region: u8,
    /// The custom header's name, instead of the deployment's setting.
    #[arg(long)]
    pub header_name: Option<String>,
    /// The base domain, instead of the deployment's setting.
    #[arg(long)]
    pub base_domain: Option<String>,
    /// Only these addresses or networks (`10.0.0.1`, `52.112.0.0/14`) may send on the operator
    /// side (repeat). Required unless --allow-any-peer.
    #[arg(long = "operator-peer", value_parser = peer)]
    pub operator_peers: Vec<ipnet::IpNet>,
    /// Only these addresses or networks may send on the service side (repeat); Microsoft
    /// publishes its SIP proxies' ranges. Required unless --allow-any-peer.
    #[arg(long = "service-peer", value_parser = peer)]
    pub service_peers: Vec<ipnet::IpNet>,
    /// Let anyone send on a side that has no peers (a lab); without it the edge refuses to
    /// start, since an open side lets strangers place calls through it.
    #[arg(long)]
    pub allow_any_peer: bool,
    /// A file holding the key that signs the addresses in the edge's Via and Record-Route
    /// (32 characters or more; `openssl rand -hex 32`); else NUMBAT_EDGE_KEY; else a random key of
    /// this process (calls do not survive a restart, and edges do not share calls).
    #[arg(long, env = "NUMBAT_EDGE_KEY_FILE")]
    pub edge_key_file: Option<std::path::PathBuf>,
    /// The key being replaced, still accepted so calls in progress survive a rotation; else
    /// NUMBAT_EDGE_PREVIOUS_KEY.
    #[arg(long, env = "NUMBAT_EDGE_PREVIOUS_KEY_FILE")]
    pub edge_previous_key_file: Option<std::path::PathBuf>,
    /// Requests outside a dialog (new calls; ACK and CANCEL aside) one source (an IPv4
    /// address, an IPv6 /64) may send a second; past it they are answered 503 with
    /// Retry-After. 0 for no limit.
    #[arg(long, default_value_t = 2000)]
    pub invite_rate: u32,
    /// TCP connections peers may hold open at once (both sides).
    #[arg(long, default_value_t = 10_000)]
    pub tcp_max_connections: usize,
    /// TCP connections one address may hold open at once.
    #[arg(long, default_value_t = 1_000)]
    pub tcp_max_per_source: usize,
    /// Seconds a TCP connection may carry nothing before it is closed.
    #[arg(long, default_value_t = 300)]
    pub tcp_idle_secs: u64,
    /// Seconds within which a TCP connection's first message must arrive, and each message
    /// must arrive whole.
    #[arg(long, default_value_t = 10)]
    pub tcp_message_secs: u64,
    /// The operator-facing TLS address (e.g. 0.0.0.0:5061); needs --tls-cert and --tls-key.
    #[arg(long, env = "NUMBAT_EDGE_OPERATOR_TLS_LISTEN")]
    pub operator_tls_listen: Option<SocketAddr>,
    /// The service-facing TLS address: Microsoft's SIP proxies connect here.
    #[arg(long, env = "NUMBAT_EDGE_SERVICE_TLS_LISTEN")]
    pub service_tls_listen: Option<SocketAddr>,
    /// The operator-facing TLS address as peers reach it, when it is not the listening one.
    #[arg(long)]
    pub operator_tls_advertise: Option<SocketAddr>,
    /// The service-facing TLS address as peers reach it (its name must be in the certificate).
    #[arg(long)]
    pub service_tls_advertise: Option<SocketAddr>,
    /// The edge's certificate chain (PEM), presented on both sides, as server and as client;
    /// reloaded on SIGHUP and when the file changes.
    #[arg(long, env = "NUMBAT_EDGE_TLS_CERT")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM); reloaded with it.
    #[arg(long, env = "NUMBAT_EDGE_TLS_KEY")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Certificate authorities (PEM) that vouch for peers' certificates; without it, the
    /// Mozilla root programme's, built in.
    #[arg(long, env = "NUMBAT_EDGE_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// The sides whose TLS peers must present a certificate the authorities vouch for (mutual
    /// TLS, as Microsoft's SIP proxies expect on the service side): operator, service, or none.
    #[arg(long, value_enum, default_values_t = [TlsClientAuth::Service])]
    pub tls_client_auth: Vec<TlsClientAuth>,
    /// Seconds between the OPTIONS the edge sends each next hop; a hop that leaves two in a
    /// row unanswered takes no calls until it answers again. 0 sends none.
    #[arg(long, default_value_t = 30)]
    pub keepalive_secs: u64,
    /// Serve the edge's figures (Prometheus text) at http://<addr>/metrics.
    #[arg(long, env = "NUMBAT_EDGE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve DNS (UDP and TCP) for the Direct Routing domains here, and record each account's
    /// subdomainStatus from what it serves.
    #[arg(long, env = "NUMBAT_EDGE_DNS_LISTEN")]
    pub dns_listen: Option<SocketAddr>,
    /// Seconds to keep relaying responses and in-dialog requests after SIGTERM, while new
    /// calls are answered 503 (32 s is a SIP transaction's longest timer, 64 × T1).
    #[arg(long, env = "NUMBAT_EDGE_DRAIN_SECS", default_value_t = 32)]
    pub drain_secs: u64,
    /// How often to look for changes other processes made (PostgreSQL also notifies at once).
    #[arg(long, default_value_t = 250)]
    pub poll_ms: u64,
    /// Threads reading the UDP sockets (both sides'). The first reads whenever datagrams wait;
    /// the others help with a backlog, so a burst is drained on another core while the first
    /// still waits for one, and then rest for 250 µs.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub udp_threads: u16,
    /// The most datagrams a UDP thread takes from a socket with one system call; their
    /// forwards leave together, with one more.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub udp_batch: u16,
}

/// A peer of the edge: an address (a network of one) or a network.
fn peer(raw: &str) -> Result<ipnet::IpNet, String> {
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{raw}` is neither an IP address nor a network (10.0.0.0/8)"))
}

/// A side of the edge whose TLS peers must present a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsClientAuth {
    Operator,
    Service,
    None,
}
