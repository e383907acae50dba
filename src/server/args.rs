//! The flags of `numbat serve`: where it listens, the API's and the portal's settings, and
//! sync's. Depends on `process`, `sync`'s flags and clap.

use crate::process::DatabaseArgs;
use crate::sync::SyncArgs;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "NUMBAT_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Folder holding the browser bundle (`pkg/bundle` naming `pkg/numbat-<hash>.js` and its
    /// `_bg.wasm`, as `scripts/build-bundle.sh` makes them).
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

    /// Lets webhook subscriptions name loopback and private addresses and plain http: for labs
    /// and tests only, since it lets whoever manages subscriptions reach the operator's own
    /// network from this server.
    #[arg(long, env = "NUMBAT_WEBHOOKS_ALLOW_PRIVATE", default_value_t = false)]
    pub webhooks_allow_private: bool,

    /// Whether this process delivers webhooks (every serving process does by default; each
    /// subscription is delivered by one process at a time).
    #[arg(long, env = "NUMBAT_WEBHOOKS_DELIVER", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhooks_deliver: bool,

    /// The wait before a failed webhook delivery is tried again, in milliseconds; it doubles
    /// with each failure of the same event (with jitter) up to an hour, and the event is parked
    /// after a day of failing.
    #[arg(long, env = "NUMBAT_WEBHOOKS_FIRST_RETRY_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub webhooks_first_retry_ms: u64,

    #[command(flatten)]
    pub sync: SyncArgs,

    /// A file holding the portal's client secret at that issuer (its first line). Without it
    /// the secret comes from `NUMBAT_SSO_CLIENT_SECRET`; never a command-line value, which `ps`
    /// would show to every user of the machine.
    #[arg(long, env = "NUMBAT_SSO_CLIENT_SECRET_FILE")]
    pub sso_client_secret_file: Option<std::path::PathBuf>,
}
