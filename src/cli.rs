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
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The CSV file: ACG's columns under a heading row (telephoneNumber, accountName,
    /// serviceDetails_<service>_enabled, …), or one number per line.
    pub file: PathBuf,
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

    /// Where files uploaded to the portal for import wait until applied (created private to
    /// this user; checks never applied are removed after a day).
    #[arg(long, env = "NUMBAT_UPLOAD_DIR", default_value = "data/uploads")]
    pub upload_dir: PathBuf,

    /// The portal's client secret at that issuer (prefer the environment variable).
    #[arg(long, env = "NUMBAT_SSO_CLIENT_SECRET", hide_env_values = true)]
    pub sso_client_secret: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
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
    fn an_unknown_log_format_is_refused_by_name() {
        let err = Cli::try_parse_from(["numbat", "--log-format", "xml", "migrate"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("--log-format"), "{text}");
        assert!(text.contains("text") && text.contains("json"), "{text}");
    }
}
