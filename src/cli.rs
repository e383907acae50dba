//! The command line: every flag can also be given as an environment variable.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The SQLite file used when no database URL is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/numbat.db";

#[derive(Debug, Parser)]
#[command(name = "numbat", version, about = "Provisioning for a voice gateway")]
pub struct Cli {
    /// How log lines are written to standard error.
    #[arg(long, env = "NUMBAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web portal and APIs (applies pending migrations first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage the bearer tokens of the Provisioning API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the people who sign in to the portal.
    #[command(subcommand)]
    User(UserCommand),
    /// Record demonstration data (Operator Connect consents, a linked account, civic
    /// addresses) so every portal page has something to show before sync runs.
    DemoData(DatabaseArgs),
    /// Import numbers from a CSV file. Without --apply it is a dry run: every row is checked
    /// and counted, nothing is written. Exits with 2 when some rows are invalid.
    Import(Box<ImportArgs>),
    /// Export numbers as CSV, in the columns an import reads (an export imports back unchanged);
    /// with --accounts, the accounts instead, in the API's account fields.
    Export(ExportArgs),
    /// Run sync workers (the outbox to Operator Connect) and the consent pull without the web
    /// server; as many processes as you like may share one PostgreSQL database.
    SyncWorker(Box<SyncWorkerArgs>),
    /// Serve a stand-in for Operator Connect's APIs, with state and faults on request.
    OcEmulator(Box<EmulatorArgs>),
    /// Run the SIP edge: a proxy between the operator's network and the communications
    /// services that adds each number's custom header, routes by provisioning, rewrites
    /// Direct Routing Contacts and screens callers; with --dns-listen, also the DNS responder
    /// for the Direct Routing domains.
    Edge(Box<EdgeArgs>),
}

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

/// Where Operator Connect is, and how sync paces itself.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Base URL of Operator Connect's APIs (both, and the token endpoint at
    /// <URL>/<tenant>/oauth2/v2.0/token unless --oc-token-url says otherwise). Without it sync is
    /// off: changes wait in the outbox, pending.
    #[arg(long, env = "NUMBAT_OC_URL")]
    pub oc_url: Option<String>,
    /// Base URL of the Operator Management API (consents), when not at --oc-url.
    #[arg(long, env = "NUMBAT_OC_MANAGEMENT_URL")]
    pub oc_management_url: Option<String>,
    /// Base URL of the Telephone Number Management API, when not at --oc-url.
    #[arg(long, env = "NUMBAT_OC_NUMBERS_URL")]
    pub oc_numbers_url: Option<String>,
    /// The OAuth2 token endpoint (e.g. https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token).
    #[arg(long, env = "NUMBAT_OC_TOKEN_URL")]
    pub oc_token_url: Option<String>,
    /// The operator's Entra ID tenant, in the default token endpoint.
    #[arg(long, env = "NUMBAT_OC_TENANT", default_value = "common")]
    pub oc_tenant: String,
    #[arg(long, env = "NUMBAT_OC_CLIENT_ID", default_value = "numbat")]
    pub oc_client_id: String,
    /// A file holding the client secret (its first line). Without it the secret comes from
    /// `NUMBAT_OC_CLIENT_SECRET`, else it is the emulator's. Never a command-line value, which
    /// `ps` would show to every user of the machine.
    #[arg(long, env = "NUMBAT_OC_CLIENT_SECRET_FILE")]
    pub oc_client_secret_file: Option<std::path::PathBuf>,
    /// The scope tokens are asked for.
    #[arg(long, env = "NUMBAT_OC_SCOPE", default_value = crate::sync::client::DEFAULT_SCOPE)]
    pub oc_scope: String,
    /// Seconds one upstream request may take.
    #[arg(long, env = "NUMBAT_OC_TIMEOUT_SECS", default_value_t = 10)]
    pub oc_timeout_secs: u64,
    /// Workers in this process (0: none here).
    #[arg(long, env = "NUMBAT_SYNC_WORKERS", default_value_t = 1)]
    pub sync_workers: usize,
    /// Most numbers in one upstream order.
    #[arg(long, env = "NUMBAT_SYNC_BATCH_SIZE", default_value_t = 500)]
    pub sync_batch_size: i64,
    /// Milliseconds between polls of an upstream order.
    #[arg(long, env = "NUMBAT_SYNC_POLL_MS", default_value_t = 500)]
    pub sync_poll_ms: u64,
    /// Seconds a worker holds a batch without renewing; another worker takes it over after.
    #[arg(long, env = "NUMBAT_SYNC_LEASE_SECS", default_value_t = 60)]
    pub sync_lease_secs: u64,
    /// First retry delay in milliseconds after a transient failure; doubles up to 5 minutes.
    #[arg(long, env = "NUMBAT_SYNC_BACKOFF_MS", default_value_t = 1000)]
    pub sync_backoff_ms: u64,
    /// Attempts before a batch's jobs fail for an unavailable upstream.
    #[arg(long, env = "NUMBAT_SYNC_MAX_ATTEMPTS", default_value_t = 50)]
    pub sync_max_attempts: i64,
    /// Seconds between pulls of consents and civic addresses (0: never).
    #[arg(long, env = "NUMBAT_CONSENT_POLL_SECS", default_value_t = 60)]
    pub consent_poll_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct SyncWorkerArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    #[arg(
        long,
        env = "NUMBAT_OC_EMULATOR_LISTEN",
        default_value = "127.0.0.1:3001"
    )]
    pub listen: SocketAddr,
    #[arg(long, default_value = "numbat")]
    pub client_id: String,
    #[arg(long, default_value = "numbat-emulator-secret")]
    pub client_secret: String,
    /// JSON with any of `consents`, `civicAddresses`, `capabilityPlans` (the upstream's
    /// shapes); what it leaves out is the demonstration data's.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Milliseconds an order takes to complete.
    #[arg(long, default_value_t = 500)]
    pub order_delay_ms: u64,
    /// Milliseconds added to each request (half to all of it, at random).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests answered 5xx (0 to 1): half before, half after taking effect.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share of requests whose connection is dropped after taking effect.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Share of requests that start a burst of 429s.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Requests in a row a burst of 429s refuses.
    #[arg(long, default_value_t = 3)]
    pub throttle_burst: u32,
    /// Seconds a 429 asks the client to wait (Retry-After).
    #[arg(long, default_value_t = 1)]
    pub retry_after: u64,
    /// Seconds a token lasts.
    #[arg(long, default_value_t = 3600)]
    pub token_lifetime_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The CSV file: ACG's columns under a heading row (telephoneNumber, accountName,
    /// serviceDetails_<service>_enabled, …), or one number per line. With --resume, the same
    /// file the interrupted import read (not needed for one uploaded to the portal).
    #[arg(required_unless_present = "resume")]
    pub file: Option<PathBuf>,
    /// Resume interrupted job ID (an import, or a portal bulk action) after what its committed
    /// chunks did; its own settings apply, so the other flags are not needed.
    #[arg(long, value_name = "ID")]
    pub resume: Option<i64>,
    /// Write the valid rows, a chunk of 1,000 per transaction; invalid rows are skipped.
    #[arg(long)]
    pub apply: bool,
    /// The account of rows that leave accountName empty, and of a one-number-per-line file;
    /// rows naming another account are refused.
    #[arg(long)]
    pub account: Option<String>,
    /// For a one-number-per-line file: the service its numbers get (teamsOperatorConnect,
    /// teamsDirectRouting, teamsPhoneMobile, zoomPhoneCloudPeering, azureOperatorCallProtection).
    #[arg(long)]
    pub service: Option<String>,
    /// For a one-number-per-line file of Operator Connect or Teams Phone Mobile numbers: their
    /// usage (CallingUserAssignment, FirstPartyAppAssignment, ConferenceAssignment).
    #[arg(long)]
    pub usage: Option<String>,
    /// … and their capabilities, comma-separated (e.g. InboundCalling,OutboundCalling).
    #[arg(long, value_delimiter = ',')]
    pub capabilities: Vec<String>,
    /// Write every invalid row (line, column, code, reason) to this CSV file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Export accounts (their settings and number counts) instead of numbers.
    #[arg(long)]
    pub accounts: bool,
    /// Only this account's numbers.
    #[arg(long)]
    pub account: Option<String>,
    /// Only numbers with this service enabled (its API name, e.g. teamsDirectRouting).
    #[arg(long)]
    pub service: Option<String>,
    /// Only numbers in this sync state: pending, synced or failed.
    #[arg(long)]
    pub status: Option<String>,
    /// Only numbers starting with this, e.g. +4420.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; a one-time password is printed once, alone on the last line, and must be
    /// changed at first sign-in.
    Add {
        /// The name they sign in with (an email address works).
        name: String,
        /// ReadUser, WriteUser, DeleteUser or AdminUser; repeat or separate with commas.
        #[arg(long = "role", required = true, value_delimiter = ',')]
        roles: Vec<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List users: name, roles, when created and last signed in (never a password).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Give a user a new one-time password (printed on the last line) and sign them out.
    ResetPassword {
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Remove a user and end their sessions.
    Remove {
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Link a single sign-on identity to a user: whoever the identity provider signs in with
    /// this issuer and subject (Entra ID's object ID `oid`, else `sub`) becomes this user, with
    /// their roles, when the ID token carries no roles of its own.
    LinkSso {
        name: String,
        /// The identity's subject: the `oid` claim for Entra ID, else `sub`.
        #[arg(long)]
        subject: String,
        /// The issuer, exactly as given to `serve --sso-issuer`.
        #[arg(long, env = "NUMBAT_SSO_ISSUER")]
        issuer: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once, alone on the last line.
    Create {
        /// A name to know the token by (the client it is for).
        #[arg(long)]
        name: String,
        /// Read, Write, Delete or Admin; repeat or separate with commas for several.
        #[arg(long = "role", required = true, value_delimiter = ',')]
        roles: Vec<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List tokens: name, roles, when created and last used (never the secret).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token: requests carrying it are refused from now on.
    Revoke {
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (the file and its folder are created when missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "NUMBAT_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Folder holding the browser bundle (`pkg/numbat.js`, `pkg/numbat_bg.wasm`).
    #[arg(long, env = "NUMBAT_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// A JSON file in ACG's TeamsCapabilityPlans shape that `:getTeamsCapabilityPlans` answers
    /// with (until sync asks Operator Connect); without it, a built-in set.
    #[arg(long, env = "NUMBAT_CAPABILITY_PLANS")]
    pub capability_plans: Option<PathBuf>,

    /// Source address ranges allowed to call the Provisioning API, comma-separated CIDRs
    /// (e.g. 10.0.0.0/8,192.0.2.7/32); none means any.
    #[arg(long, env = "NUMBAT_API_ALLOW", value_delimiter = ',')]
    pub api_allow: Vec<ipnet::IpNet>,

    /// Reverse proxies in front of the portal, comma-separated CIDRs: for a request from one
    /// of them, the sign-in throttle counts the client named in `X-Forwarded-For` instead.
    /// None by default (the header is then ignored: anyone could write it).
    #[arg(long, env = "NUMBAT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// An OpenID Connect issuer whose JWTs the API accepts (e.g.
    /// https://login.microsoftonline.com/<tenant>/v2.0); needs --oidc-audience.
    #[arg(long, env = "NUMBAT_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// The audience (`aud`) those JWTs must carry: the API's app ID URI or client ID.
    #[arg(long, env = "NUMBAT_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,

    /// Requests per minute each API client may make (a batch is one); none means no limit.
    #[arg(long, env = "NUMBAT_API_RATE_LIMIT")]
    pub api_rate_limit: Option<u32>,

    /// The portal's address as people's browsers see it, e.g. https://numbat.example.net. When
    /// it is https, session cookies are marked Secure; single sign-on builds its callback from it.
    #[arg(long, env = "NUMBAT_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Portal sessions end after this many minutes without a request.
    #[arg(long, env = "NUMBAT_SESSION_IDLE_MINUTES", default_value_t = 60)]
    pub session_idle_minutes: u64,

    /// Portal sessions end this many hours after signing in, however active.
    #[arg(long, env = "NUMBAT_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u64,

    /// An OpenID Connect issuer people sign in to the portal with (single sign-on), e.g.
    /// https://login.microsoftonline.com/<tenant>/v2.0; needs --sso-client-id and --public-url.
    #[arg(long, env = "NUMBAT_SSO_ISSUER")]
    pub sso_issuer: Option<String>,

    /// The portal's client (application) ID at that issuer.
    #[arg(long, env = "NUMBAT_SSO_CLIENT_ID")]
    pub sso_client_id: Option<String>,

    /// No longer used: files uploaded for import wait in the database. Accepted (with a
    /// warning) so existing configurations still start.
    #[arg(long, env = "NUMBAT_UPLOAD_DIR", hide = true)]
    pub upload_dir: Option<PathBuf>,

    /// Seconds a bulk job (an import, a bulk action) stays its process's without a heartbeat;
    /// past that its process is taken to have died and the job is shown interrupted, to be
    /// resumed on any node. The heartbeat comes every third of it.
    #[arg(long, env = "NUMBAT_JOB_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub job_lease_secs: u64,

    #[command(flatten)]
    pub sync: SyncArgs,

    /// A file holding the portal's client secret at that issuer (its first line). Without it
    /// the secret comes from `NUMBAT_SSO_CLIENT_SECRET`; never a command-line value, which `ps`
    /// would show to every user of the machine.
    #[arg(long, env = "NUMBAT_SSO_CLIENT_SECRET_FILE")]
    pub sso_client_secret_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A secret from `file` (its first line) when given, else from the environment variable `var`.
/// Secrets are never command-line values: `ps` shows those to everyone on the machine.
pub fn secret(var: &str, file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read the secret file {}: {e}", file.display()))?;
        let secret = text.lines().next().unwrap_or_default().trim().to_owned();
        anyhow::ensure!(
            !secret.is_empty(),
            "the secret file {} is empty",
            file.display()
        );
        return Ok(Some(secret));
    }
    Ok(std::env::var(var).ok().filter(|s| !s.is_empty()))
}

impl SyncArgs {
    /// Operator Connect's client secret: `--oc-client-secret-file`, else
    /// `NUMBAT_OC_CLIENT_SECRET`, else the emulator's.
    pub fn oc_client_secret(&self) -> anyhow::Result<String> {
        Ok(secret(
            "NUMBAT_OC_CLIENT_SECRET",
            self.oc_client_secret_file.as_deref(),
        )?
        .unwrap_or_else(|| "numbat-emulator-secret".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_defaults_match_the_readme() {
        let cli = Cli::try_parse_from(["numbat", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(args.database.database_url, "sqlite://data/numbat.db");
        assert_eq!(args.site_root, PathBuf::from("target/site"));
        assert_eq!(cli.log_format, LogFormat::Text);
    }

    #[test]
    fn secrets_are_never_command_line_values() {
        for flag in ["--sso-client-secret", "--oc-client-secret"] {
            let refused = Cli::try_parse_from(["numbat", "serve", flag, "hunter2"]);
            assert!(refused.is_err(), "{flag} must not exist: ps would show it");
        }
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("secret");
        std::fs::write(&file, "s3cret-from-file\nsecond line ignored\n").unwrap();
        assert_eq!(
            secret("NUMBAT_TEST_UNSET_SECRET_VARIABLE", Some(&file)).unwrap(),
            Some("s3cret-from-file".to_owned())
        );
        assert_eq!(
            secret("NUMBAT_TEST_UNSET_SECRET_VARIABLE", None).unwrap(),
            None
        );
        std::fs::write(&file, "\n").unwrap();
        let empty = secret("NUMBAT_TEST_UNSET_SECRET_VARIABLE", Some(&file)).unwrap_err();
        assert!(empty.to_string().contains("is empty"), "{empty}");
        let missing = secret("X", Some(&folder.path().join("nope"))).unwrap_err();
        assert!(
            missing.to_string().contains("cannot read the secret file"),
            "{missing}"
        );
    }

    #[test]
    fn an_unknown_log_format_is_refused_by_name() {
        let err = Cli::try_parse_from(["numbat", "--log-format", "xml", "migrate"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("--log-format"), "{text}");
        assert!(text.contains("text") && text.contains("json"), "{text}");
    }
}
