//! The `numbat` binary as an operator runs it: flags, environment variables, start-up and
//! graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `numbat ARGS` run to its end on the database at `url`.
fn run_on(url: &str, args: &[&str]) -> std::process::Output {
    numbat()
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .unwrap()
}

fn numbat() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_numbat"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("NUMBAT_LISTEN")
        .env("RUST_LOG", "info");
    command
}

#[test]
fn migrate_creates_the_sqlite_file_named_by_the_environment() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("fresh/numbat.db");
    let output = numbat()
        .arg("migrate")
        .env("DATABASE_URL", format!("sqlite://{}", file.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        file.is_file(),
        "the database file and its folder are created"
    );
}

#[test]
fn migrate_without_a_url_uses_data_numbat_db_in_the_working_folder() {
    let root = tempfile::tempdir().unwrap();
    let output = numbat()
        .arg("migrate")
        .current_dir(root.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(root.path().join("data/numbat.db").is_file());
}

#[test]
fn a_bad_database_url_stops_with_a_message_naming_the_schemes() {
    let output = numbat()
        .args(["migrate", "--database-url", "mysql://x"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sqlite://") && stderr.contains("postgres://"),
        "{stderr}"
    );
}

#[test]
fn serve_answers_then_stops_cleanly_on_sigterm() {
    let root = tempfile::tempdir().unwrap();
    let mut child = numbat()
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/numbat.db", root.path().display()),
        )
        .env("NUMBAT_SITE_ROOT", root.path().join("no-bundle"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut logs = BufReader::new(child.stderr.take().unwrap()).lines();

    // The JSON log line that announces the address carries the port the OS picked.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut start_up = Vec::new();
    let address = loop {
        assert!(Instant::now() < deadline, "no 'listening' log line");
        let line = logs.next().expect("server exited early").unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
        if let Some(address) = event["address"].as_str() {
            break address.to_owned();
        }
        start_up.push(line);
    };
    assert!(
        start_up
            .iter()
            .any(|l| l.contains("numbat user add NAME --role AdminUser")),
        "a start with no portal users says how to create the first admin: {start_up:?}"
    );

    let health = http_get(&address, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""status":"ok""#), "{health}");
    // The answer names its request id, and the log line for that request carries the same id.
    let request_id = health
        .lines()
        .find_map(|l| l.strip_prefix("x-ms-request-id: "))
        .expect("an x-ms-request-id header")
        .trim()
        .to_owned();

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = logs.map_while(Result::ok).collect();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit {exit:?}; logs: {rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("SIGTERM received")),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.contains(r#""message":"stopped""#)),
        "{rest:?}"
    );
    let logged = rest
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|event| event["span"]["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no log line names request {request_id}: {rest:?}"));
    assert_eq!(logged["span"]["path"], "/healthz", "{logged}");
    assert_eq!(logged["status"], 200, "{logged}");
}

/// `numbat migrate --check` says where the schema stands and changes nothing; a database
/// migrated by a newer release is refused by `migrate` and `serve` with what to do, untouched.
#[test]
fn migrate_check_says_behind_current_or_unknown_and_an_unknown_schema_stops_the_server() {
    let root = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/numbat.db", root.path().display());
    let run = |args: &[&str]| {
        let output = run_on(&url, args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), text)
    };
    let latest = crate::common::latest_migration();

    // A check never creates the database it was pointed at.
    let (code, text) = run(&["migrate", "--check"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("there is no database at"), "{text}");
    assert!(!root.path().join("numbat.db").exists());
    let (code, text) = run(&["backup", "--to", "/tmp/never-written.db"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(!root.path().join("numbat.db").exists(), "nor does a backup");

    // An empty database: everything to apply, and nothing to back up.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        numbat::store::Database::connect(&url)
            .await
            .unwrap()
            .close()
            .await;
    });
    let (code, text) = run(&["migrate", "--check"]);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("run `numbat migrate`"), "{text}");
    let (code, text) = run(&["migrate", "--check"]);
    assert_eq!(code, Some(3), "a check applies nothing: {text}");
    let copy = root.path().join("empty-copy.db");
    let (code, text) = run(&["backup", "--to", copy.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("nothing to back up"), "{text}");
    assert!(!copy.exists());

    let (code, text) = run(&["migrate"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&["migrate", "--check"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("up to date (migration {latest})")),
        "{text}"
    );

    // A newer release applied a migration this binary does not have.
    let future = latest + 1;
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = numbat::store::Database::connect(&url).await.unwrap();
        let numbat::store::Database::Sqlite(pool) = &db else {
            unreachable!()
        };
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, 'from a newer release', TRUE, X'00', 0)",
        )
        .bind(future)
        .execute(pool)
        .await
        .unwrap();
        db.close().await;
    });
    let (code, text) = run(&["migrate", "--check"]);
    assert_eq!(code, Some(4), "{text}");
    assert!(
        text.contains(&format!("does not know ({future})"))
            && text.contains(&format!("knows up to migration {latest}")),
        "{text}"
    );
    let (code, text) = run(&["migrate"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("restore a backup"), "{text}");

    let mut child = numbat()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .env("NUMBAT_SITE_ROOT", root.path().join("no-bundle"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("serve kept running on a schema it does not know");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!exit.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("does not know ({future})")),
        "{stderr}"
    );
    let (code, text) = run(&["migrate", "--check"]);
    assert_eq!(code, Some(4), "nothing was changed: {text}");
}

/// How a database is backed up while it is written to, and the copy restored: SQLite with
/// `numbat backup` (the copy is the restored database), PostgreSQL with `pg_dump` and
/// `pg_restore` into an empty database, as `docs/operations.md` says.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BackupPath {
    NumbatBackup,
    PgDump,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_writes_restores_a_consistent_database() {
    let test = crate::common::TestDb::sqlite().await.migrated().await;
    backup_during_writes_and_restore(test, BackupPath::NumbatBackup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_dump_taken_during_writes_restores_into_an_empty_database() {
    let Some(test) = crate::common::TestDb::postgres().await else {
        return;
    };
    backup_during_writes_and_restore(test.migrated().await, BackupPath::PgDump).await;
}

/// A backup taken while numbers are written: the copy is one consistent moment (whole batches,
/// each with its audit events), it holds every account, user and token, and a server opened on
/// it answers as the original did. `numbat backup` never overwrites a file.
async fn backup_during_writes_and_restore(test: crate::common::TestDb, path: BackupPath) {
    use crate::bulk_resume::scalar;
    use axum::body::Body;
    use axum::http::Request;
    use numbat::domain::{
        Account, AccountName, AccountServices, Number, NumberServices, Service, TelephoneNumber,
    };
    use numbat::provisioning::Provisioning;
    use numbat::store::Database;
    const BATCH: i64 = 50;
    const BATCHES: i64 = 400;
    let root = tempfile::tempdir().unwrap();
    let (db, url) = (test.db.clone(), test.url.clone());
    let core = Provisioning::new(db.clone());
    let admin = crate::common::cli_admin();
    let password =
        crate::common::add_user(&db, "ana", &[numbat::auth::users::PortalRole::AdminUser]).await;
    let token = crate::common::api_token(
        &db,
        "bss",
        &[
            numbat::provisioning::Role::Read,
            numbat::provisioning::Role::Write,
        ],
    )
    .await;
    let account = AccountName::parse("contoso").unwrap();
    core.put_account(
        &admin,
        Account {
            services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
            ..Account::named(account.clone())
        },
        numbat::provisioning::Precondition::NONE,
    )
    .await
    .unwrap();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn({
        let (core, admin, account) = (core.clone(), admin.clone(), account.clone());
        let stop = stop.clone();
        async move {
            for batch in 0..BATCHES {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let numbers = (0..BATCH)
                    .map(|i| Number {
                        telephone_number: TelephoneNumber::parse(&format!(
                            "+4420{:08}",
                            batch * BATCH + i
                        ))
                        .unwrap(),
                        account_name: account.clone(),
                        services: NumberServices::only(Service::TeamsDirectRouting, None),
                        custom_sip_header: None,
                    })
                    .collect();
                core.upsert_numbers(&admin, &account, numbers)
                    .await
                    .unwrap();
            }
        }
    });
    while scalar(&db, "SELECT COUNT(*) FROM numbers").await < BATCH * 5 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let copy = root.path().join(match path {
        BackupPath::NumbatBackup => "copy.db",
        BackupPath::PgDump => "numbat.dump",
    });
    // The tools, as an operator runs them, beside the writer.
    let run = |mut command: Command| async move {
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    let backup = |to: &std::path::Path| {
        let mut command = numbat();
        command
            .args(["backup", "--to"])
            .arg(to)
            .env("DATABASE_URL", &url);
        command
    };
    match path {
        BackupPath::NumbatBackup => run(backup(&copy)).await,
        BackupPath::PgDump => {
            let mut pg_dump = Command::new("pg_dump");
            pg_dump
                .args(["--format=custom", "--file"])
                .arg(&copy)
                .arg(&url);
            run(pg_dump).await
        }
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    let written = scalar(&db, "SELECT COUNT(*) FROM numbers").await;

    let (restored, empty) = match path {
        BackupPath::NumbatBackup => {
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&copy).unwrap().permissions(),
            );
            assert_eq!(mode & 0o077, 0, "the copy is its owner's only: {mode:o}");
            let leftovers: Vec<_> = std::fs::read_dir(root.path())
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.contains("partial"))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
            let restored = Database::connect(&format!("sqlite://{}", copy.display()))
                .await
                .unwrap();
            (restored, None)
        }
        BackupPath::PgDump => {
            let empty = crate::common::TestDb::postgres().await.unwrap();
            let mut pg_restore = Command::new("pg_restore");
            pg_restore
                .args(["--no-owner", "--dbname", &empty.url])
                .arg(&copy);
            run(pg_restore).await;
            (empty.db.clone(), Some(empty))
        }
    };
    let numbers = scalar(&restored, "SELECT COUNT(*) FROM numbers").await;
    assert!(
        numbers >= BATCH * 5 && numbers <= written,
        "taken while writing: {numbers} of {written}"
    );
    assert_eq!(numbers % BATCH, 0, "whole batches only: {numbers}");
    let number_events = "SELECT COUNT(*) FROM audit_events WHERE resource_type = 'number'";
    assert_eq!(
        scalar(&restored, number_events).await,
        numbers,
        "each number with its audit event"
    );
    for sql in [
        "SELECT COUNT(*) FROM accounts",
        "SELECT COUNT(*) FROM portal_users",
        "SELECT COUNT(*) FROM api_tokens",
        "SELECT COUNT(*) FROM audit_events WHERE resource_type <> 'number'",
    ] {
        assert_eq!(
            scalar(&restored, sql).await,
            scalar(&db, sql).await,
            "{sql}"
        );
    }
    // Opened as a server opens it, the copy answers as the original: its schema is current,
    // and the API gives the same answers with the same token.
    assert_eq!(
        restored.migrate().await.unwrap(),
        crate::common::latest_migration()
    );
    let (original_app, restored_app) = (
        crate::common::app_without_bundle(&db),
        crate::common::app_without_bundle(&restored),
    );
    for n in [0, numbers / 2, numbers - 1] {
        let get = || {
            Request::get(format!(
                "/provisioning/accounts/contoso/numbers/+4420{n:08}?api-version=2024-02-29-preview"
            ))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
        };
        let (status, original) = crate::common::send(&original_app, get()).await;
        let (restored_status, answer) = crate::common::send(&restored_app, get()).await;
        assert_eq!(
            (status.status().as_u16(), restored_status.status().as_u16()),
            (200, 200),
            "{answer}"
        );
        assert_eq!(answer, original, "number {n} reads the same from the copy");
    }
    let restored_core = Provisioning::new(restored.clone());
    assert!(
        restored_core
            .verify_password("ana", &password)
            .await
            .unwrap()
            .is_some(),
        "the user signs in to the restored copy"
    );
    assert!(
        restored_core
            .authenticate_token(&token)
            .await
            .unwrap()
            .is_some(),
        "the token works on the restored copy"
    );

    if path == BackupPath::NumbatBackup {
        // A second backup to the same file is refused, and the file is kept.
        let before = std::fs::metadata(&copy).unwrap().len();
        let output = backup(&copy).output().unwrap();
        assert!(!output.status.success());
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("never overwrites"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(std::fs::metadata(&copy).unwrap().len(), before);
    }
    restored.close().await;
    if let Some(empty) = empty {
        empty.remove().await;
    }
    test.remove().await;
}

/// A minimal HTTP/1.1 GET, enough to talk to our own server.
fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn tokens_are_created_listed_used_and_revoked_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/numbat.db", root.path().display());
    let run = |args: &[&str]| {
        let output = run_on(&url, args);
        let stdout = String::from_utf8(output.stdout).unwrap();
        (
            output.status.success(),
            stdout,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    let (ok, stdout, stderr) = run(&[
        "token", "create", "--name", "bss-prod", "--role", "Read", "--role", "Write",
    ]);
    assert!(ok, "{stderr}");
    let secret = stdout.lines().last().unwrap().to_owned();
    assert!(
        secret.starts_with("nbt_") && !secret.contains(' '),
        "the token alone on the last line: {stdout}"
    );
    assert_eq!(stdout.matches(&secret).count(), 1, "shown once");

    let (ok, _, stderr) = run(&["token", "create", "--name", "bss-prod", "--role", "Admin"]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let (ok, _, stderr) = run(&["token", "create", "--name", "x", "--role", "Root"]);
    assert!(!ok && stderr.contains("--role Root"), "{stderr}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = numbat::store::Database::connect(&url).await.unwrap();
        let numbat::store::Database::Sqlite(pool) = &db else {
            unreachable!()
        };
        let stored: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM api_tokens")
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0].0, secret, "only a hash is kept");
        assert!(!stored[0].0.contains(&secret[4..]));
        let audited: Vec<(String, String)> = sqlx::query_as(
            "SELECT action, resource_key FROM audit_events WHERE resource_type = 'apiToken'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(
            audited,
            [("create".to_owned(), "bss-prod".to_owned())],
            "token changes are audited"
        );
        let actor = numbat::provisioning::Provisioning::new(db.clone())
            .authenticate_token(&secret)
            .await
            .unwrap()
            .expect("the token works");
        assert_eq!(actor.principal, "token:bss-prod");
        db.close().await;
    });

    let (_, listed, _) = run(&["token", "list"]);
    let line = listed.lines().find(|l| l.starts_with("bss-prod")).unwrap();
    assert!(line.contains("Read,Write"), "{line}");
    assert!(!line.ends_with("never"), "last use is recorded: {line}");
    assert!(!listed.contains(&secret), "list never shows the secret");

    let (ok, _, _) = run(&["token", "revoke", "bss-prod"]);
    assert!(ok);
    rt.block_on(async {
        let db = numbat::store::Database::connect(&url).await.unwrap();
        assert!(
            numbat::provisioning::Provisioning::new(db.clone())
                .authenticate_token(&secret)
                .await
                .unwrap()
                .is_none(),
            "revoked"
        );
        db.close().await;
    });
    let (ok, _, stderr) = run(&["token", "revoke", "bss-prod"]);
    assert!(
        !ok && stderr.contains("no token is named bss-prod"),
        "{stderr}"
    );
}

#[test]
fn portal_users_are_added_listed_reset_and_removed_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/numbat.db", root.path().display());
    let run = |args: &[&str]| {
        let output = run_on(&url, args);
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let last_line = |text: &str| {
        text.trim_end()
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned()
    };

    let (ok, stdout, stderr) = run(&["user", "add", "ana@operator.example", "--role", "AdminUser"]);
    assert!(ok, "{stderr}");
    let first = last_line(&stdout);
    assert_eq!(
        first.len(),
        20,
        "a one-time password alone on the last line: {stdout}"
    );
    assert!(stdout.contains("changed at first sign-in"), "{stdout}");

    let (ok, _, stderr) = run(&["user", "add", "ana@operator.example", "--role", "ReadUser"]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let (ok, _, stderr) = run(&["user", "add", "bo", "--role", "Root"]);
    assert!(!ok && stderr.contains("--role Root"), "{stderr}");

    let (ok, stdout, _) = run(&["user", "add", "bo", "--role", "ReadUser,WriteUser"]);
    assert!(ok);
    let (_, listing, _) = run(&["user", "list"]);
    assert!(
        listing.contains("ana@operator.example") && listing.contains("AdminUser"),
        "{listing}"
    );
    assert!(listing.contains("ReadUser,WriteUser"), "{listing}");
    assert!(
        !listing.contains(&first) && !listing.contains(&last_line(&stdout)),
        "never a password"
    );

    let (ok, stdout, _) = run(&["user", "reset-password", "ana@operator.example"]);
    assert!(ok);
    assert_ne!(last_line(&stdout), first, "a new one-time password");

    let (ok, _, stderr) = run(&["user", "remove", "ana@operator.example"]);
    assert!(!ok && stderr.contains("last AdminUser"), "{stderr}");
    let (ok, _, stderr) = run(&["user", "remove", "bo"]);
    assert!(ok, "{stderr}");
    let (_, listing, _) = run(&["user", "list"]);
    assert!(!listing.contains("bo "), "{listing}");
}

/// The inventory from the command line: a range added, some reserved, refusals named per
/// number with exit status 2, bad arguments named by field with nothing changed.
#[test]
fn the_inventory_is_acted_on_from_the_command_line_with_refusals_named_per_number() {
    let root = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/numbat.db", root.path().display());
    let run = |args: &[&str]| {
        let output = run_on(&url, args);
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&[
        "inventory",
        "add",
        "--from",
        "+442071110000",
        "--to",
        "+442071110099",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout.trim(),
        "add (job 1): 100 done, 0 unchanged, 0 refused"
    );

    // No such account: the whole action is refused and nothing changes.
    let (code, _, stderr) = run(&[
        "inventory",
        "reserve",
        "+442071110001",
        "--account",
        "nobody",
    ]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("nobody"), "{stderr}");
    let (code, _, stderr) = run(&["inventory", "reserve", "+442071110001"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("accountName"), "{stderr}");
    let (code, _, stderr) = run(&["inventory", "add", "+4420\r\n711"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("telephoneNumbers[0]"), "{stderr}");

    // A number added twice and one never added: refused by name, exit 2, the rest done.
    let (code, stdout, stderr) = run(&["inventory", "remove", "+442071110001", "+442071119999"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stdout.contains("+442071119999: refused (NotInInventory)"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("remove (job 2): 1 done, 0 unchanged, 1 refused\n"),
        "{stdout}"
    );
    let (code, stdout, _) = run(&["inventory", "add", "+442071110002"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("0 done, 1 unchanged"), "{stdout}");

    // An action whose process died before doing a number is resumed from the command line.
    let id = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = numbat::store::Database::connect(&url).await.unwrap();
        let id =
            crate::common::interrupted_inventory_add(&db, "+442071120000", "+442071120099").await;
        db.close().await;
        id
    });
    let (code, stdout, stderr) = run(&["import", "--resume", &id.to_string()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("Inventory action {id} (Add to the inventory — 100 numbers, +442071120000 to +442071120099): 100 numbers: 100 done, 0 unchanged; 0 refused (left as they were).")
    );
    let (code, stdout, _) = run(&["inventory", "add", "+442071120099"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("0 done, 1 unchanged"),
        "done once: {stdout}"
    );
}

/// Tags from the command line: a range tagged, refusals named per number with exit status 2,
/// bad tags named by field with nothing changed, and the tags then seen through the core.
#[test]
fn numbers_are_tagged_and_untagged_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/numbat.db", root.path().display());
    let run = |args: &[&str]| {
        let output = run_on(&url, args);
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let range = ["--from", "+442071110000", "--to", "+442071110009"];
    let (code, _, stderr) = run(&[&["inventory", "add"], &range[..]].concat());
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) = run(&[
        &["tag", "--add", "porting", "--add", "site: Leeds"],
        &range[..],
    ]
    .concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "tag: 10 done, 0 unchanged, 0 refused");
    let (code, stdout, _) = run(&[
        "tag",
        "--remove",
        "porting",
        "+442071110001",
        "+442071119999",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stdout.contains("+442071119999: refused (NotInInventory)"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("tag: 1 done, 0 unchanged, 1 refused\n"),
        "{stdout}"
    );
    for bad in [
        &["tag", "+442071110001"][..],
        &["tag", "--add", "a;b", "+442071110001"][..],
    ] {
        let (code, _, stderr) = run(bad);
        assert_ne!(code, Some(0), "{bad:?}");
        assert!(stderr.to_lowercase().contains("tags"), "{bad:?}: {stderr}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tags = rt.block_on(async {
        let db = numbat::store::Database::connect(&url).await.unwrap();
        let core = numbat::provisioning::Provisioning::new(db);
        let admin = crate::common::cli_admin();
        let mut seen = Vec::new();
        for n in ["+442071110001", "+442071110002"] {
            let target = numbat::provisioning::labels::Labelled::Number(
                numbat::domain::TelephoneNumber::parse(n).unwrap(),
            );
            seen.push(
                core.labels(&admin, &target)
                    .await
                    .unwrap()
                    .labels
                    .tags
                    .to_text(),
            );
        }
        seen
    });
    assert_eq!(tags, ["site: Leeds", "porting;site: Leeds"]);
}

/// Test numbers from the command line: a number without the service refused by its rule with
/// exit status 2, the list showing what counts.
#[test]
fn test_numbers_are_marked_and_listed_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/numbat.db", root.path().display());
    let run = |args: &[&str]| {
        let output = run_on(&url, args);
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use numbat::domain::{
            Account, AccountName, AccountServices, Number, NumberServices, Service,
        };
        use numbat::provisioning::Precondition;
        let db = numbat::store::Database::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let core = numbat::provisioning::Provisioning::new(db.clone());
        let admin = crate::common::cli_admin();
        let account = Account {
            services: AccountServices::default().with(Service::ZoomPhoneCloudPeering, true, false),
            ..Account::named(AccountName::parse("zoom-co").unwrap())
        };
        core.put_account(&admin, account, Precondition::NONE)
            .await
            .unwrap();
        let number = Number {
            telephone_number: numbat::domain::TelephoneNumber::parse("+14155550101").unwrap(),
            account_name: AccountName::parse("zoom-co").unwrap(),
            services: NumberServices::only(Service::ZoomPhoneCloudPeering, None),
            custom_sip_header: None,
        };
        core.put_number(&admin, number, Precondition::NONE)
            .await
            .unwrap();
        db.close().await;
    });
    let (code, stdout, stderr) = run(&[
        "verification",
        "mark",
        "--service",
        "zoomPhoneCloudPeering",
        "+14155550101",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "mark: 1 done, 0 unchanged, 0 refused");
    let (code, stdout, _) = run(&[
        "verification",
        "mark",
        "--service",
        "teamsDirectRouting",
        "+14155550101",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stdout.contains("+14155550101: refused (ServiceNotOnNumber)"),
        "{stdout}"
    );
    let (code, _, stderr) = run(&["verification", "mark", "--service", "fax", "+14155550101"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("service"), "{stderr}");
    let (code, stdout, _) = run(&["verification", "list"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains(
            "zoomPhoneCloudPeering: 1 ready of 6 asked in production (3 in a lab), 1 synced"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("  +14155550101 ready"), "{stdout}");
}

/// An emergency location from the command line: shown, changed to a location of the tenant's
/// address, and an address the tenant does not have refused by its rule.
#[test]
fn an_emergency_location_is_shown_and_changed_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/numbat.db", root.path().display());
    let run = |args: &[&str]| {
        let output = run_on(&url, args);
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = run(&["demo-data"]);
    assert_eq!(code, Some(0), "{stderr}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use numbat::domain::number::{Capability, TeamsNumberConfig, Usage};
        use numbat::domain::{AccountName, Number, NumberService, NumberServices, Service};
        use numbat::provisioning::Precondition;
        let db = numbat::store::Database::connect(&url).await.unwrap();
        let core = numbat::provisioning::Provisioning::new(db.clone());
        let block = NumberService {
            enabled: true,
            assignment_status: None,
            configuration: Some(TeamsNumberConfig {
                usage: Usage::CallingUserAssignment,
                choosable_capabilities: vec![Capability::parse("InboundCalling").unwrap()],
                additional_usages: vec![],
                civic_address_id: Some("civic-fabrikam-hq".into()),
                location_id: None,
                allow_tenant_address_update: false,
                displayed_country_code: None,
            }),
        };
        let number = Number {
            telephone_number: numbat::domain::TelephoneNumber::parse("+442079460001").unwrap(),
            account_name: AccountName::parse("fabrikam").unwrap(),
            services: NumberServices::only(Service::TeamsOperatorConnect, Some(block)),
            custom_sip_header: None,
        };
        core.put_number(&crate::common::cli_admin(), number, Precondition::NONE)
            .await
            .unwrap();
        db.close().await;
    });
    let (code, stdout, stderr) = run(&["emergency-location", "+442079460001"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout.trim(),
        "+442079460001 (teamsOperatorConnect, account fabrikam): civic address civic-fabrikam-hq, location none, enterprise may update: no"
    );
    let (code, stdout, stderr) = run(&[
        "emergency-location",
        "+442079460001",
        "--address",
        "civic-fabrikam-hq",
        "--location",
        "loc-fabrikam-hq-4",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("location loc-fabrikam-hq-4"), "{stdout}");
    let (code, _, stderr) = run(&[
        "emergency-location",
        "+442079460001",
        "--address",
        "somewhere-else",
    ]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("somewhere-else is not one of tenant"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["emergency-location", "+442079460001", "--tenant-may-update"]);
    assert_ne!(code, Some(0), "alone it would clear the address");
    assert!(
        stderr.contains("--tenant-may-update changes the whole location"),
        "{stderr}"
    );
    let (_, stdout, _) = run(&["emergency-location", "+442079460001"]);
    assert!(
        stdout.contains("location loc-fabrikam-hq-4"),
        "unchanged by the refusal: {stdout}"
    );
}

/// A receiver on a loopback port answering every request 204; the `webhook-id` of each.
fn receiving_ids() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = ids.clone();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            while !data.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => data.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&data).into_owned();
            if let Some(id) = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("webhook-id")
                    .then(|| v.trim().to_owned())
            }) {
                kept.lock().unwrap().push(id);
            }
            let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    (url, ids)
}

/// Webhook subscriptions from the command line: made (the secret once, on the last line),
/// refused by field for a private receiver unless allowed, listed with their attempts, one
/// event delivered again, its attempt in the log, a new secret, deleted.
#[test]
fn webhooks_are_made_listed_redelivered_and_deleted_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/numbat.db", root.path().display());
    let run = |args: &[&str]| {
        let output = numbat()
            .args(args)
            .env("DATABASE_URL", &url)
            .env_remove("NUMBAT_WEBHOOKS_ALLOW_PRIVATE")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (receiver, ids) = receiving_ids();
    // Events to deliver: the job's start (0.1), then each number added (0.2, 0.3).
    let (code, _, stderr) = run(&["inventory", "add", "+442071110001", "+442071110002"]);
    assert_eq!(code, Some(0), "{stderr}");

    let (code, _, stderr) = run(&["webhook", "create", "--url", &receiver, "--type", "number"]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("url"),
        "a loopback receiver is refused: {stderr}"
    );
    let (code, _, stderr) = run(&[
        "webhook",
        "create",
        "--url",
        "https://hooks.example.com/",
        "--type",
        "number.\r\nx",
    ]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("types[0]"), "{stderr}");
    let (code, stdout, stderr) = run(&[
        "webhook",
        "create",
        "--url",
        &receiver,
        "--type",
        "number",
        "--allow-private",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let secret = stdout.lines().last().unwrap();
    assert!(secret.starts_with("whsec_"), "{stdout}");
    assert!(stdout.contains("Created webhook 1."), "{stdout}");

    let (code, stdout, _) = run(&["webhook", "list"]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("1 "), "{stdout}");
    assert!(
        stdout.contains("active") && stdout.contains("(number; every account)"),
        "{stdout}"
    );
    assert!(!stdout.contains(secret), "never shown again: {stdout}");

    // The job's start is not a number event: refused by name, nothing sent.
    let (code, _, stderr) = run(&[
        "webhook",
        "redeliver",
        "1",
        "--event",
        "0.1",
        "--allow-private",
    ]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("does not take job.start"), "{stderr}");
    let (code, stdout, stderr) = run(&[
        "webhook",
        "redeliver",
        "1",
        "--event",
        "0.2",
        "--allow-private",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("Event 0.2 to webhook 1: delivered (204)"),
        "{stdout}"
    );
    assert_eq!(*ids.lock().unwrap(), ["0.2"]);
    let (_, stdout, _) = run(&["webhook", "deliveries", "1"]);
    assert!(
        stdout.contains("0.2") && stdout.contains("number.add"),
        "{stdout}"
    );
    assert!(stdout.contains("asked by"), "{stdout}");
    let (_, stdout, _) = run(&["webhook", "list"]);
    assert!(stdout.contains("delivered 1 "), "{stdout}");

    let (code, stdout, _) = run(&["webhook", "rotate-secret", "1"]);
    assert_eq!(code, Some(0));
    let rotated = stdout.lines().last().unwrap();
    assert!(
        rotated.starts_with("whsec_") && rotated != secret,
        "{stdout}"
    );
    let (code, stdout, _) = run(&["webhook", "delete", "1"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("Deleted webhook 1"), "{stdout}");
    let (code, _, stderr) = run(&["webhook", "deliveries", "1"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains('1'), "{stderr}");
}
