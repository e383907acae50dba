//! The command line: the commands, each with the flags of the subsystem it runs (which own
//! them); every flag can also be given as an environment variable. The top of the library:
//! only `main` depends on it.

use crate::bulk::{ExportArgs, ImportArgs};
use crate::edge::EdgeArgs;
use crate::process::DatabaseArgs;
use crate::server::ServeArgs;
use crate::sync::{EmulatorArgs, SyncWorkerArgs};
use crate::telemetry::LogFormat;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "numbat", version, about = "Provisioning for a voice gateway")]
pub struct Cli {
    /// How log lines are written to standard error.
    #[arg(long, env = "NUMBAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// `numbat migrate`'s flags.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Change nothing: compare the database's migrations with this binary's.
    #[arg(long)]
    pub check: bool,
}

/// `numbat backup`'s flags.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The new file the copy is written to (never overwritten).
    #[arg(long)]
    pub to: std::path::PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web portal and APIs (applies pending migrations first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit; with --check, only say where the schema
    /// stands (exit 0 up to date, 3 migrations to apply, 4 a schema this binary does not know).
    Migrate(MigrateArgs),
    /// Copy a SQLite database, consistently, while the server keeps writing (PostgreSQL: use
    /// pg_dump). Restore by putting the copy in place of the database with the server stopped.
    Backup(BackupArgs),
    /// Manage the bearer tokens of the Provisioning API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the people who sign in to the portal.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage webhook subscriptions: signed deliveries of the change feed's events to an
    /// operator's own systems (the same as the API's `/provisioning/webhooks`).
    #[command(subcommand)]
    Webhook(WebhookCommand),
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
    /// Act on the number inventory: add, remove, reserve, cancelReservation, setQuarantine or
    /// endQuarantine, for numbers listed or a range (--from, --to; at most 10,000). Prints a
    /// line per number that was refused and the totals; exits with 2 when some were refused.
    Inventory(Box<InventoryArgs>),
    /// Add tags to and take tags from numbers listed or a range (--from, --to; at most
    /// 10,000), in any state of the inventory. Prints a line per number that was refused and
    /// the totals; exits with 2 when some were refused.
    Tag(Box<TagArgs>),
    /// Mark or unmark numbers as test numbers of a service for Microsoft's verification
    /// (`mark`, `unmark`), or list every service's (`list`).
    Verification(Box<VerificationArgs>),
    /// Show an Operator Connect or Teams Phone Mobile number's emergency location, or change
    /// it with --address (one of the tenant's civic addresses), --location and
    /// --tenant-may-update; a change is written as a change of the number (its history, its
    /// ETag, sent to Operator Connect).
    EmergencyLocation(Box<EmergencyLocationArgs>),
    /// Print a month's billable users per service and account (the most on any day, as ACG
    /// bills), from the daily counts the server takes; with --count-today, count today first
    /// (if no node has yet).
    Billing(Box<BillingArgs>),
}

#[derive(Debug, clap::Args)]
pub struct BillingArgs {
    /// The month, YYYY-MM (default: this month, UTC).
    #[arg(long)]
    pub month: Option<String>,
    /// Count today's billable users now, unless a node already has.
    #[arg(long)]
    pub count_today: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, clap::Args)]
pub struct EmergencyLocationArgs {
    /// The number (E.164).
    pub number: String,
    /// Change the location to this civic address of the tenant (its ID).
    #[arg(long)]
    pub address: Option<String>,
    /// A location of that civic address (its ID).
    #[arg(long)]
    pub location: Option<String>,
    /// Let the enterprise change the address itself in Teams (then --address may be left out).
    #[arg(long)]
    pub tenant_may_update: bool,
    /// Change the location even without --address (clears it; needs --tenant-may-update for a
    /// calling user's number).
    #[arg(long)]
    pub set: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, clap::Args)]
pub struct VerificationArgs {
    /// mark, unmark or list.
    pub action: String,
    /// The numbers (E.164), up to 20.
    pub numbers: Vec<String>,
    /// The service, by its API name (teamsOperatorConnect, teamsDirectRouting, …).
    #[arg(long)]
    pub service: Option<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// The numbers (E.164), unless --from and --to give a range.
    pub numbers: Vec<String>,
    /// A tag each number gets; repeat for more.
    #[arg(long = "add")]
    pub add: Vec<String>,
    /// A tag each number loses; repeat for more.
    #[arg(long = "remove")]
    pub remove: Vec<String>,
    /// The first number of a range.
    #[arg(long)]
    pub from: Option<String>,
    /// The last number of a range.
    #[arg(long)]
    pub to: Option<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    /// add, remove, reserve, cancelReservation, setQuarantine or endQuarantine.
    pub action: String,
    /// The numbers (E.164), unless --from and --to give a range.
    pub numbers: Vec<String>,
    /// The first number of a range.
    #[arg(long)]
    pub from: Option<String>,
    /// The last number of a range.
    #[arg(long)]
    pub to: Option<String>,
    /// reserve: the account the numbers are held for.
    #[arg(long)]
    pub account: Option<String>,
    /// reserve: until this date (held through it, UTC) or RFC 3339 time; default 30 days.
    #[arg(long)]
    pub until: Option<String>,
    /// setQuarantine: 1 to 365 days from now, or indefinitely.
    #[arg(long)]
    pub quarantine: Option<String>,
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
pub enum WebhookCommand {
    /// Make a subscription; its secret is printed once, alone on the last line.
    Create {
        /// The receiver: https, outside loopback and private ranges unless allowed.
        #[arg(long)]
        url: String,
        /// An event type (number.create) or resource type (number) it takes; repeat or
        /// separate with commas for several; none for every event.
        #[arg(long = "type", value_delimiter = ',')]
        types: Vec<String>,
        /// Only this account's events.
        #[arg(long)]
        account: Option<String>,
        /// Deliver the feed from its start instead of from now.
        #[arg(long)]
        from_start: bool,
        /// Allow plain http and private, loopback and link-local receivers (labs and tests),
        /// as `numbat serve --webhooks-allow-private` does.
        #[arg(long, env = "NUMBAT_WEBHOOKS_ALLOW_PRIVATE")]
        allow_private: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List subscriptions: id, state, attempts by outcome, place in the feed, receiver.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// A subscription's newest delivery attempts.
    Deliveries {
        id: i64,
        /// How many (1–200).
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Deliver again every event after an event's id, or from an RFC 3339 time on.
    Replay {
        id: i64,
        #[arg(long)]
        since: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Deliver one event again now, out of turn (the subscription's place is unchanged).
    Redeliver {
        id: i64,
        /// The event's id (0.42).
        #[arg(long)]
        event: String,
        #[arg(long, env = "NUMBAT_WEBHOOKS_ALLOW_PRIVATE")]
        allow_private: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Make a paused subscription active again, starting with the event it is on.
    Resume {
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Give a subscription a new secret, printed once on the last line; the old one still
    /// signs for a day.
    RotateSecret {
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Delete a subscription and its delivery log.
    Delete {
        id: i64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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
    }

    #[test]
    fn an_unknown_log_format_is_refused_by_name() {
        let err = Cli::try_parse_from(["numbat", "--log-format", "xml", "migrate"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("--log-format"), "{text}");
        assert!(text.contains("text") && text.contains("json"), "{text}");
    }
}
