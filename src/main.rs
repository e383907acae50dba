//! The `numbat` binary: parses the command line and hands over to the library.

use anyhow::Context;
use clap::Parser;
use numbat::auth::users::PortalRole;
use numbat::cli::{Cli, Command, TokenCommand, UserCommand, WebhookCommand};
use numbat::provisioning::{Actor, Door, Provisioning, Role};
use numbat::store::{Database, SchemaState};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    numbat::telemetry::init(cli.log_format);
    match cli.command {
        Command::Serve(args) => numbat::server::serve(*args).await,
        Command::Migrate(args) => {
            if args.check {
                // Reads only: a database that is not there is an error, not created.
                let db = Database::connect_existing(&args.database.database_url).await?;
                let state = db.schema_state().await?;
                db.close().await;
                println!("{} database: {state}", db.kind());
                // Not 1 (an error) or 2 (clap's usage error), so a script can tell them apart.
                std::process::exit(match state {
                    SchemaState::Current { .. } => 0,
                    SchemaState::Behind { .. } => 3,
                    SchemaState::Ahead { .. }
                    | SchemaState::Changed { .. }
                    | SchemaState::Failed { .. } => 4,
                });
            }
            let db = Database::connect(&args.database.database_url).await?;
            let applied = db.migrate().await?;
            tracing::info!(database = db.kind(), applied, "migrations up to date");
            db.close().await;
            Ok(())
        }
        Command::Backup(args) => {
            // As it is: a backup migrates nothing and never creates the database it copies.
            let db = Database::connect_existing(&args.database.database_url).await?;
            let done = db.backup_to(&args.to).await;
            db.close().await;
            done?;
            println!("backed up to {}", args.to.display());
            Ok(())
        }
        Command::Token(command) => token(command).await,
        Command::User(command) => user(command).await,
        Command::Webhook(command) => webhook(command).await,
        Command::DemoData(args) => {
            let db = open(&args.database_url).await?;
            let core = numbat::provisioning::Provisioning::new(db.clone());
            for line in numbat::demo::load(&core, &cli_operator()).await? {
                println!("recorded {line}");
            }
            db.close().await;
            Ok(())
        }
        Command::Import(args) => {
            let db = open(&args.database.database_url).await?;
            let invalid = numbat::bulk::commands::import(&db, *args, &cli_operator()).await;
            db.close().await;
            if invalid? > 0 {
                std::process::exit(2);
            }
            Ok(())
        }
        Command::SyncWorker(args) => {
            let db = open(&args.database.database_url).await?;
            numbat::sync::run_worker(db.clone(), &args.sync).await?;
            db.close().await;
            Ok(())
        }
        Command::OcEmulator(args) => numbat::sync::run_emulator(*args).await,
        Command::Edge(args) => {
            // From the start: a stop while the edge starts is a clean one too.
            let shutdown = numbat::process::Shutdown::listen();
            let db = open(&args.database.database_url).await?;
            let options = numbat::edge::options(&args)?;
            let edge = numbat::edge::start(db.clone(), options).await?;
            tracing::info!(
                operator = %args.operator_listen,
                service = %args.service_listen,
                dns = ?edge.dns,
                "edge ready"
            );
            // For the launch checklist: this edge, what it serves, every 30 seconds.
            let serves = format!(
                "SIP toward the operator on {}, toward the services on {}",
                args.operator_listen, args.service_listen
            );
            let dns = edge.dns.map(|addr| format!("DNS on {addr}"));
            tokio::spawn(numbat::provisioning::launch::report_edge_every(
                core(&db),
                serves,
                dns,
                std::time::Duration::from_secs(30),
            ));
            shutdown.wait().await;
            edge.drain(std::time::Duration::from_secs(args.drain_secs))
                .await;
            db.close().await;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Inventory(args) => inventory(*args).await,
        Command::Tag(args) => tag(*args).await,
        Command::Verification(args) => verification(*args).await,
        Command::EmergencyLocation(args) => emergency_location(*args).await,
        Command::Billing(args) => billing(*args).await,
        Command::Export(args) => {
            let db = open(&args.database.database_url).await?;
            let exported = numbat::bulk::commands::export(&db, args, &cli_operator()).await;
            db.close().await;
            exported
        }
    }
}

async fn open(url: &str) -> anyhow::Result<Database> {
    let db = Database::connect(url).await?;
    db.migrate().await?;
    Ok(db)
}

async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            name,
            roles,
            database,
        } => {
            let roles = roles
                .iter()
                .map(|r| {
                    Role::parse(r.trim()).with_context(|| {
                        format!("--role {r}: must be Read, Write, Delete or Admin")
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let db = open(&database.database_url).await?;
            let secret = core(&db).create_token(&cli_admin(), &name, &roles).await?;
            db.close().await;
            println!("Created token {name}. Keep it now: it is not shown again.");
            println!("{secret}");
        }
        TokenCommand::List { database } => {
            let db = open(&database.database_url).await?;
            let tokens = core(&db).tokens(&cli_admin()).await?;
            db.close().await;
            println!("{:<32} {:<24} {:<26} last used", "name", "roles", "created");
            for token in tokens {
                let roles: Vec<_> = token.roles.iter().map(|r| r.as_str()).collect();
                println!(
                    "{:<32} {:<24} {:<26} {}",
                    token.name,
                    roles.join(","),
                    token.created_at,
                    token.last_used_at.as_deref().unwrap_or("never")
                );
            }
        }
        TokenCommand::Revoke { name, database } => {
            let db = open(&database.database_url).await?;
            core(&db).revoke_token(&cli_admin(), &name).await?;
            db.close().await;
            println!("Revoked token {name}.");
        }
    }
    Ok(())
}

async fn webhook(command: WebhookCommand) -> anyhow::Result<()> {
    use numbat::provisioning::webhooks::{SubscriptionRequest, SubscriptionView};
    let show = |s: &SubscriptionView| {
        let types = if s.types.is_empty() {
            "every event".to_owned()
        } else {
            s.types.join(",")
        };
        let account = s.account_name.as_deref().unwrap_or("every account");
        println!(
            "{:<6} {:<7} delivered {:<7} failed {:<6} parked {:<4} at {:<14} {} ({types}; {account})",
            s.id, s.state, s.attempts.delivered, s.attempts.failed, s.attempts.parked, s.cursor, s.url
        );
        if let Some(reason) = &s.paused_reason {
            println!("       paused: {reason}");
        }
    };
    match command {
        WebhookCommand::Create {
            url,
            types,
            account,
            from_start,
            allow_private,
            database,
        } => {
            let db = open(&database.database_url).await?;
            let made = core(&db)
                .with_private_webhooks(allow_private)
                .create_webhook(
                    &cli_admin(),
                    SubscriptionRequest {
                        url,
                        types,
                        account_name: account,
                        from_start,
                    },
                )
                .await;
            db.close().await;
            let made = made?;
            show(&made);
            println!(
                "Created webhook {}. Keep its secret now: it is not shown again.",
                made.id
            );
            println!("{}", made.secret.unwrap_or_default());
        }
        WebhookCommand::List { database } => {
            let db = open(&database.database_url).await?;
            let all = core(&db).webhooks(&cli_admin()).await;
            db.close().await;
            for s in all? {
                show(&s);
            }
        }
        WebhookCommand::Deliveries {
            id,
            limit,
            database,
        } => {
            let db = open(&database.database_url).await?;
            let log = core(&db)
                .webhook_deliveries(&cli_admin(), id, limit.clamp(1, 200))
                .await;
            db.close().await;
            for d in log? {
                println!(
                    "{} {:<10} {:<24} {:<9} attempt {:<3} {} {}{}",
                    d.at,
                    d.event_id,
                    d.event_type,
                    d.outcome,
                    d.attempt,
                    d.status.map_or("-".to_owned(), |s| s.to_string()),
                    d.answer.unwrap_or_default(),
                    d.requested_by
                        .map(|by| format!(" (asked by {by})"))
                        .unwrap_or_default()
                );
            }
        }
        WebhookCommand::Replay {
            id,
            since,
            database,
        } => {
            let db = open(&database.database_url).await?;
            let view = core(&db)
                .change_webhook(&cli_admin(), id, false, Some(&since))
                .await;
            db.close().await;
            let view = view?;
            println!(
                "Webhook {id} delivers again every event after {}.",
                view.cursor
            );
        }
        WebhookCommand::Redeliver {
            id,
            event,
            allow_private,
            database,
        } => {
            let db = open(&database.database_url).await?;
            let core = core(&db).with_private_webhooks(allow_private);
            let attempt = numbat::hooks::redeliver(&core, &cli_admin(), id, &event).await;
            db.close().await;
            let attempt = attempt?;
            let status = attempt
                .status
                .map_or("no answer".to_owned(), |s| s.to_string());
            println!(
                "Event {event} to webhook {id}: {} ({status}){}",
                attempt.outcome,
                attempt.answer.map(|a| format!(": {a}")).unwrap_or_default()
            );
            if attempt.outcome != "delivered" {
                std::process::exit(2);
            }
        }
        WebhookCommand::Resume { id, database } => {
            let db = open(&database.database_url).await?;
            let view = core(&db).change_webhook(&cli_admin(), id, true, None).await;
            db.close().await;
            show(&view?);
        }
        WebhookCommand::RotateSecret { id, database } => {
            let db = open(&database.database_url).await?;
            let view = core(&db).rotate_webhook_secret(&cli_admin(), id).await;
            db.close().await;
            let view = view?;
            println!("Webhook {id} has a new secret; the old one signs beside it for a day. Keep it now: it is not shown again.");
            println!("{}", view.secret.unwrap_or_default());
        }
        WebhookCommand::Delete { id, database } => {
            let db = open(&database.database_url).await?;
            let deleted = core(&db).delete_webhook(&cli_admin(), id).await;
            db.close().await;
            deleted?;
            println!("Deleted webhook {id} and its delivery log.");
        }
    }
    Ok(())
}

async fn inventory(args: numbat::cli::InventoryArgs) -> anyhow::Result<()> {
    use numbat::provisioning::inventory::ActionRequest;
    let request = ActionRequest {
        action: args.action,
        telephone_numbers: (!args.numbers.is_empty()).then_some(args.numbers),
        from: args.from,
        to: args.to,
        account_name: args.account,
        until: args.until,
        quarantine: args.quarantine,
        ..Default::default()
    };
    let (action, numbers) = request.parse()?;
    let db = open(&args.database.database_url).await?;
    let report = core(&db)
        .inventory_action(&cli_admin(), &action, &numbers)
        .await;
    db.close().await;
    report_and_exit(action.name(), report?)
}

async fn tag(args: numbat::cli::TagArgs) -> anyhow::Result<()> {
    use numbat::provisioning::labels::TagRequest;
    let request = TagRequest {
        add_tags: args.add,
        remove_tags: args.remove,
        telephone_numbers: (!args.numbers.is_empty()).then_some(args.numbers),
        from: args.from,
        to: args.to,
    };
    let (change, numbers) = request.parse()?;
    let db = open(&args.database.database_url).await?;
    let report = core(&db).change_tags(&cli_admin(), &change, &numbers).await;
    db.close().await;
    report_and_exit("tag", report?)
}

async fn verification(args: numbat::cli::VerificationArgs) -> anyhow::Result<()> {
    use numbat::provisioning::verification::VerificationRequest;
    if args.action == "list" {
        let db = open(&args.database.database_url).await?;
        let status = core(&db).verification_status(&cli_admin()).await;
        db.close().await;
        for line in status? {
            println!(
                "{}: {} ready of {} asked in production ({} in a lab), {} synced",
                line.service.wire_name(),
                line.ready,
                line.production_count,
                line.lab_count,
                line.synced
            );
            for n in line.numbers {
                let standing = if n.service_enabled {
                    "ready"
                } else {
                    "does not count"
                };
                println!("  {} {standing}", n.telephone_number);
            }
        }
        return Ok(());
    }
    let request = VerificationRequest {
        service: args.service.unwrap_or_default(),
        action: args.action.clone(),
        telephone_numbers: args.numbers,
    };
    let (service, mark, numbers) = request.parse()?;
    let db = open(&args.database.database_url).await?;
    let report = core(&db)
        .mark_verification(&cli_admin(), service, mark, &numbers)
        .await;
    db.close().await;
    report_and_exit(&args.action, report?)
}

async fn billing(args: numbat::cli::BillingArgs) -> anyhow::Result<()> {
    use numbat::provisioning::billing::Month;
    let month = match args.month.as_deref() {
        None => Month::of(time::OffsetDateTime::now_utc().date()),
        Some(raw) => Month::parse(raw).map_err(|v| anyhow::anyhow!("--month: {}", v.message))?,
    };
    let db = open(&args.database.database_url).await?;
    let core = core(&db);
    let result = async {
        if args.count_today {
            let node = numbat::provisioning::launch::node_name();
            core.take_billing_snapshot(time::OffsetDateTime::now_utc(), &node)
                .await?;
        }
        core.billable_users(&cli_admin(), month).await
    }
    .await;
    db.close().await;
    let report = result?;
    println!(
        "{}: {} days counted; most users on a day {}{}, {} included, {} billed",
        report.month,
        report.days_counted,
        report.peak,
        report
            .peak_day
            .map(|d| format!(" ({d})"))
            .unwrap_or_default(),
        report.included,
        report.billed
    );
    for service in report.services.iter().filter(|s| s.peak > 0) {
        println!(
            "{}: most {}, last day {} ({})",
            service.service.wire_name(),
            service.peak,
            service.latest,
            service.rule
        );
        for account in &service.accounts {
            println!(
                "  {}: most {}, last day {}",
                account.account_name, account.peak, account.latest
            );
        }
    }
    Ok(())
}

async fn emergency_location(args: numbat::cli::EmergencyLocationArgs) -> anyhow::Result<()> {
    if args.tenant_may_update && !(args.set || args.address.is_some() || args.location.is_some()) {
        anyhow::bail!("--tenant-may-update changes the whole location: give --address (and --location), or --set to leave no address");
    }
    use numbat::provisioning::emergency::EmergencyLocation;
    use numbat::provisioning::Precondition;
    let number = numbat::domain::TelephoneNumber::parse(&args.number)
        .map_err(|v| anyhow::anyhow!("number: {}", v.message))?;
    let change = (args.set || args.address.is_some() || args.location.is_some())
        .then(|| {
            EmergencyLocation::parse(
                args.address.as_deref(),
                args.location.as_deref(),
                args.tenant_may_update,
            )
        })
        .transpose()?;
    let db = open(&args.database.database_url).await?;
    let core = core(&db);
    let result = async {
        if let Some(change) = change {
            core.set_emergency_location(&cli_admin(), &number, change, Precondition::NONE)
                .await?;
        }
        core.emergency_location(&cli_admin(), &number).await
    }
    .await;
    db.close().await;
    let view = result?;
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
    println!(
        "{} ({}, account {}): civic address {}, location {}, enterprise may update: {}",
        view.telephone_number,
        view.service.wire_name(),
        view.account_name,
        or_none(&view.location.civic_address_id),
        or_none(&view.location.location_id),
        if view.location.allow_tenant_address_update {
            "yes"
        } else {
            "no"
        }
    );
    Ok(())
}

/// Prints the refused numbers and the totals of an action with a result per number; exits
/// with 2 when some were refused.
fn report_and_exit(
    action: &str,
    report: numbat::provisioning::inventory::ActionReport,
) -> anyhow::Result<()> {
    use numbat::provisioning::inventory::ActionOutcome;
    for result in &report.results {
        if let (ActionOutcome::Refused, Some(violation)) = (result.outcome, &result.violation) {
            println!(
                "{}: refused ({}): {}",
                result.telephone_number, violation.code, violation.message
            );
        }
    }
    let job = report
        .job_id
        .map(|id| format!(" (job {id})"))
        .unwrap_or_default();
    println!(
        "{action}{job}: {} done, {} unchanged, {} refused",
        report.done, report.unchanged, report.refused
    );
    if report.refused > 0 {
        std::process::exit(2);
    }
    Ok(())
}

/// Who is acting from this machine's command line, for the audit trail.
fn cli_operator() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
    )
}

/// The command line's actor: whoever may open the database administers the deployment.
fn cli_admin() -> Actor {
    Actor::new(cli_operator(), &[Role::Admin], Door::Cli)
}

/// The provisioning core over `db`: every write the command line makes goes through it.
fn core(db: &numbat::store::Database) -> Provisioning {
    Provisioning::new(db.clone())
}

async fn user(command: UserCommand) -> anyhow::Result<()> {
    let by = cli_admin();
    match command {
        UserCommand::Add {
            name,
            roles,
            database,
        } => {
            let roles = roles
                .iter()
                .map(|r| {
                    PortalRole::parse(r).with_context(|| {
                        format!("--role {r}: must be ReadUser, WriteUser, DeleteUser or AdminUser")
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let db = open(&database.database_url).await?;
            let password = core(&db).add_user(&by, &name, &roles).await?;
            db.close().await;
            println!("Added user {name}. Their one-time password, to be changed at first sign-in:");
            println!("{password}");
        }
        UserCommand::List { database } => {
            let db = open(&database.database_url).await?;
            let users = core(&db).users(&by).await?;
            db.close().await;
            println!(
                "{:<32} {:<40} {:<26} last signed in",
                "name", "roles", "created"
            );
            for user in users {
                let roles: Vec<_> = user.roles.iter().map(|r| r.as_str()).collect();
                println!(
                    "{:<32} {:<40} {:<26} {}",
                    user.name,
                    roles.join(","),
                    user.created_at,
                    user.last_sign_in_at.as_deref().unwrap_or("never")
                );
            }
        }
        UserCommand::ResetPassword { name, database } => {
            let db = open(&database.database_url).await?;
            let password = core(&db).reset_user_password(&by, &name).await?;
            db.close().await;
            println!("New one-time password for {name}, to be changed at next sign-in:");
            println!("{password}");
        }
        UserCommand::Remove { name, database } => {
            let db = open(&database.database_url).await?;
            core(&db).remove_user(&by, &name).await?;
            db.close().await;
            println!("Removed user {name}.");
        }
        UserCommand::LinkSso {
            name,
            subject,
            issuer,
            database,
        } => {
            let db = open(&database.database_url).await?;
            let issuer = issuer.trim_end_matches('/');
            core(&db)
                .link_user_sso(&by, &name, issuer, &subject)
                .await?;
            db.close().await;
            println!("Linked single sign-on subject {subject} at {issuer} to user {name}.");
        }
    }
    Ok(())
}
