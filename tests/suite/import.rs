//! `numbat import` and `numbat export` as an operator runs them, on SQLite and PostgreSQL: a
//! dry run that names every bad row and writes nothing, an apply that writes exactly the valid
//! rows, a run killed part-way that leaves whole chunks and finishes when run again, and an
//! export that imports back unchanged.

use crate::common::TestDb;
use numbat::domain::{
    Account, AccountName, AccountServices, Number, NumberServices, Service, TelephoneNumber,
    TenantId,
};
use numbat::provisioning::{Actor, Door, NumberFilter, Precondition, Provisioning, Role};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const TENANT: &str = "a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a";

fn admin() -> Actor {
    Actor::new("tester", &[Role::Admin], Door::Api)
}

fn numbat(db: &TestDb) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_numbat"));
    command.env("DATABASE_URL", &db.url).env("RUST_LOG", "warn");
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("numbat runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn name(raw: &str) -> AccountName {
    AccountName::parse(raw).unwrap()
}

/// contoso: Direct Routing, Operator Connect (tenant), Call Protection; fabrikam: Zoom.
async fn accounts(core: &Provisioning) {
    let contoso = Account {
        teams_tenant_id: Some(TenantId::parse(TENANT).unwrap()),
        services: AccountServices::default()
            .with(Service::TeamsDirectRouting, true, false)
            .with(Service::TeamsOperatorConnect, true, false)
            .with(Service::TeamsPhoneMobile, true, false)
            .with(Service::AzureOperatorCallProtection, true, false),
        ..Account::named(name("contoso"))
    };
    let fabrikam = Account {
        services: AccountServices::default().with(Service::ZoomPhoneCloudPeering, true, false),
        ..Account::named(name("fabrikam"))
    };
    for account in [contoso, fabrikam] {
        core.put_account(&admin(), account, Precondition::NONE)
            .await
            .unwrap();
    }
}

fn dr_number(number: &str, account: &str, header: Option<&str>) -> Number {
    Number {
        telephone_number: TelephoneNumber::parse(number).unwrap(),
        account_name: name(account),
        services: NumberServices::only(Service::TeamsDirectRouting, None),
        custom_sip_header: header.map(|h| numbat::domain::CustomSipHeader::parse(h).unwrap()),
    }
}

async fn number_count(core: &Provisioning) -> i64 {
    core.count_numbers(&admin(), &NumberFilter::default())
        .await
        .unwrap()
}

async fn audit_count(db: &TestDb) -> i64 {
    match &db.db {
        numbat::store::Database::Sqlite(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE resource_type = 'number'")
                .fetch_one(pool)
                .await
                .unwrap()
        }
        numbat::store::Database::Postgres(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE resource_type = 'number'")
                .fetch_one(pool)
                .await
                .unwrap()
        }
    }
}

const BAD_FILE: &str = "\
telephoneNumber,accountName,serviceDetails_teamsDirectRouting_enabled,serviceDetails_teamsOperatorConnect_enabled,serviceDetails_zoomPhoneCloudPeering_enabled,serviceDetails_azureOperatorCallProtection_enabled,configuration_customSipHeader
+441632960001,contoso,true,,,,new-one
0161 496 0000,contoso,true,,,,
+441632960003,nobody,true,,,,
+441632960004,contoso,,,true,,
+441632960001,contoso,true,,,,again
+441632960006,contoso,yes,,,,
+441632960007,contoso,,,,true,not-allowed
+441632960008,contoso,,true,,,
+441632960099,contoso,true,,,,
+441632960010,contoso,true,,,,,surplus
+441632960090,contoso,true,,,,same
+441632960091,contoso,true,,,,after
";

/// (line, column, code) each bad row of `BAD_FILE` must be named with.
const EXPECTED_ERRORS: [(u32, &str, &str); 9] = [
    (3, "telephoneNumber", "InvalidFormat"),
    (4, "accountName", "AccountNotFound"),
    (
        5,
        "serviceDetails_zoomPhoneCloudPeering_enabled",
        "ServiceNotEnabledOnAccount",
    ),
    (6, "telephoneNumber", "Duplicate"),
    (
        7,
        "serviceDetails_teamsDirectRouting_enabled",
        "InvalidValue",
    ),
    (
        8,
        "configuration_customSipHeader",
        "CustomHeaderNotSupported",
    ),
    (
        9,
        "serviceDetails_teamsOperatorConnect_configuration",
        "Required",
    ),
    (10, "telephoneNumber", "NumberInAnotherAccount"),
    (11, "", "TooManyCells"),
];

async fn with_bad_file_state(core: &Provisioning) {
    accounts(core).await;
    let fabrikams = Number {
        services: NumberServices::only(Service::ZoomPhoneCloudPeering, None),
        ..dr_number("+441632960099", "fabrikam", None)
    };
    core.put_number(&admin(), fabrikams, Precondition::NONE)
        .await
        .unwrap();
    for (number, header) in [("+441632960090", "same"), ("+441632960091", "before")] {
        core.put_number(
            &admin(),
            dr_number(number, "contoso", Some(header)),
            Precondition::NONE,
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_dry_run_names_every_bad_row_and_writes_nothing_then_apply_writes_exactly_the_valid_rows()
{
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let core = Provisioning::new(test.db.clone());
        with_bad_file_state(&core).await;
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("numbers.csv");
        std::fs::write(&file, BAD_FILE).unwrap();
        let (numbers_before, audit_before) = (number_count(&core).await, audit_count(&test).await);

        let (code, stdout, stderr) = run(numbat(&test).arg("import").arg(&file));
        assert_eq!(
            code, 2,
            "invalid rows make the exit code 2\n{stdout}\n{stderr}"
        );
        for (line, column, code) in EXPECTED_ERRORS {
            let named = stdout.lines().any(|l| {
                l.starts_with(&format!("line {line}"))
                    && l.contains(column)
                    && l.contains(&format!("({code})"))
            });
            assert!(
                named,
                "line {line} should be named with {column} and {code}:\n{stdout}"
            );
        }
        assert!(
            stdout.contains("12 rows: 1 would be created, 1 changed, 1 unchanged; 9 invalid"),
            "{stdout}"
        );
        assert_eq!(
            number_count(&core).await,
            numbers_before,
            "a dry run writes no number"
        );
        assert_eq!(
            audit_count(&test).await,
            audit_before,
            "a dry run records no change"
        );

        let report = folder.path().join("report.csv");
        let (code, stdout, _) = run(numbat(&test)
            .args(["import", "--apply", "--report"])
            .arg(&report)
            .arg(&file));
        assert_eq!(code, 2, "{stdout}");
        assert!(
            stdout.contains("12 rows: 1 created, 1 changed, 1 unchanged; 9 invalid rows skipped"),
            "{stdout}"
        );
        let get = |n: &str| {
            let core = core.clone();
            let n = TelephoneNumber::parse(n).unwrap();
            async move { core.get_number(&admin(), None, &n).await }
        };
        let created = get("+441632960001").await.unwrap();
        assert_eq!(
            created.number,
            dr_number("+441632960001", "contoso", Some("new-one"))
        );
        let changed = get("+441632960091").await.unwrap();
        assert_eq!(changed.number.custom_sip_header.unwrap().as_str(), "after");
        assert_eq!(
            get("+441632960090").await.unwrap().version,
            1,
            "unchanged stays at version 1"
        );
        for bad in [
            "+441632960004",
            "+441632960006",
            "+441632960007",
            "+441632960008",
            "+441632960010",
        ] {
            assert!(
                get(bad).await.is_err(),
                "{bad} was invalid and must not be written"
            );
        }
        assert_eq!(
            get("+441632960099")
                .await
                .unwrap()
                .number
                .account_name
                .as_str(),
            "fabrikam"
        );
        assert_eq!(number_count(&core).await, numbers_before + 1);
        assert_eq!(
            audit_count(&test).await,
            audit_before + 2,
            "one event per change"
        );

        let report = std::fs::read_to_string(&report).unwrap();
        let mut lines = report.lines();
        assert_eq!(lines.next(), Some("line,column,code,reason"));
        let reported: Vec<u32> = lines
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(reported, [3, 4, 5, 6, 7, 8, 9, 10, 11], "{report}");

        let (_, stdout, _) = run(numbat(&test).args(["import", "--apply"]).arg(&file));
        assert!(
            stdout.contains("0 created, 0 changed, 3 unchanged; 9 invalid"),
            "applying the same file again changes nothing: {stdout}"
        );
        test.remove().await;
    }
}

#[tokio::test]
async fn a_plain_file_puts_each_number_in_the_account_with_the_service() {
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    accounts(&core).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("numbers.csv");
    std::fs::write(
        &file,
        "Numbers\n+441632960201\n+441632960202\n\nnot-a-number\n",
    )
    .unwrap();

    let (code, stdout, _) = run(numbat(&test).args(["import", "--apply"]).arg(&file));
    assert_eq!(
        code, 1,
        "without --account and --service the file cannot be read: {stdout}"
    );

    let (code, stdout, stderr) = run(numbat(&test)
        .args([
            "import",
            "--apply",
            "--account",
            "fabrikam",
            "--service",
            "zoomPhoneCloudPeering",
        ])
        .arg(&file));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains("line 5, column telephoneNumber"),
        "{stdout}"
    );
    assert!(stdout.contains("2 created"), "{stdout}");
    let zoom = NumberFilter {
        service: Some(Service::ZoomPhoneCloudPeering),
        account: Some(name("fabrikam")),
        ..NumberFilter::default()
    };
    assert_eq!(core.count_numbers(&admin(), &zoom).await.unwrap(), 2);
}

#[tokio::test]
async fn an_import_killed_part_way_leaves_whole_chunks_and_a_rerun_finishes_it() {
    const ROWS: usize = 60_000;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    accounts(&core).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("many.csv");
    write_plain_file(&file, ROWS);

    let mut child = numbat(&test)
        .args([
            "import",
            "--apply",
            "--account",
            "contoso",
            "--service",
            "teamsDirectRouting",
        ])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let done_before_kill = loop {
        let done = last_line(&test).await;
        if done > 0 {
            break done;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the import never wrote a chunk"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before a chunk was seen"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let job = job(&test).await;
    assert_eq!(
        job.state, "running",
        "killed, the run never finished: {job:?}"
    );
    assert!(job.last_line >= done_before_kill);
    assert!(
        (job.created as usize) < ROWS,
        "the kill came too late to test anything: {job:?}"
    );
    let stored = number_count(&core).await;
    assert_eq!(stored, job.created, "the job row commits with its chunk");
    assert_eq!(stored % 1000, 0, "only whole chunks of 1,000 are applied");
    assert_eq!(
        audit_count(&test).await,
        stored,
        "each applied number has its audit event"
    );
    let account = core.get_account(&admin(), &name("contoso")).await.unwrap();
    assert_eq!(
        account.number_counts.0[Service::TeamsDirectRouting.index()],
        stored,
        "the account's number count matches its numbers"
    );

    let (code, stdout, stderr) = run(numbat(&test)
        .args([
            "import",
            "--apply",
            "--account",
            "contoso",
            "--service",
            "teamsDirectRouting",
        ])
        .arg(&file));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "{ROWS} rows: {} created, 0 changed, {stored} unchanged; 0 invalid",
            ROWS as i64 - stored
        )),
        "{stdout}"
    );
    assert_eq!(number_count(&core).await, ROWS as i64);
    assert_eq!(audit_count(&test).await, ROWS as i64);
}

fn write_plain_file(path: &Path, rows: usize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "Numbers").unwrap();
    for i in 0..rows {
        writeln!(out, "+44207{i:07}").unwrap();
    }
}

async fn last_line(test: &TestDb) -> i64 {
    let numbat::store::Database::Sqlite(pool) = &test.db else {
        unreachable!("the kill test runs on SQLite")
    };
    sqlx::query_scalar("SELECT COALESCE(MAX(last_line), 0) FROM bulk_jobs")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn job(test: &TestDb) -> numbat::store::jobs::Job {
    numbat::store::jobs::recent(&test.db, Some("import"), 1)
        .await
        .unwrap()
        .remove(0)
}

#[tokio::test]
async fn an_export_imports_back_unchanged() {
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let core = Provisioning::new(test.db.clone());
        accounts(&core).await;
        let folder = tempfile::tempdir().unwrap();
        let source = folder.path().join("source.csv");
        std::fs::write(&source, ROUND_TRIP_FILE).unwrap();
        let (code, stdout, stderr) = run(numbat(&test).args(["import", "--apply"]).arg(&source));
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("5 created"), "{stdout}");

        let first = folder.path().join("first.csv");
        let (code, _, stderr) = run(numbat(&test).args(["export", "-o"]).arg(&first));
        assert_eq!(code, 0, "{stderr}");
        let exported = std::fs::read_to_string(&first).unwrap();
        assert_eq!(
            exported.lines().count(),
            6,
            "a heading and five numbers:\n{exported}"
        );
        assert!(
            exported.contains("InboundCalling;OutboundCalling"),
            "{exported}"
        );

        let (code, stdout, _) = run(numbat(&test).args(["import", "--apply"]).arg(&first));
        assert_eq!(code, 0);
        assert!(
            stdout.contains("5 rows: 0 created, 0 changed, 5 unchanged"),
            "{stdout}"
        );

        let second = folder.path().join("second.csv");
        run(numbat(&test).args(["export", "--output"]).arg(&second));
        assert_eq!(std::fs::read_to_string(&second).unwrap(), exported);

        let (_, only_zoom, _) =
            run(numbat(&test).args(["export", "--service", "zoomPhoneCloudPeering"]));
        assert_eq!(only_zoom.lines().count(), 2, "{only_zoom}");
        let (code, accounts, _) = run(numbat(&test).args(["export", "--accounts"]));
        assert_eq!(code, 0);
        let rows: Vec<&str> = accounts.lines().collect();
        assert!(rows[0].starts_with("name,correlationId,"), "{accounts}");
        assert!(
            rows[1].starts_with("contoso,") && rows[2].starts_with("fabrikam,"),
            "{accounts}"
        );
        assert_eq!(rows.len(), 3);
        test.remove().await;
    }
}

const ROUND_TRIP_FILE: &str = "\
telephoneNumber,accountName,serviceDetails_teamsOperatorConnect_enabled,serviceDetails_teamsOperatorConnect_assignmentStatus,serviceDetails_teamsOperatorConnect_configuration_usage,serviceDetails_teamsOperatorConnect_configuration_choosableCapabilities,serviceDetails_teamsOperatorConnect_configuration_allowTenantAddressUpdate,serviceDetails_teamsOperatorConnect_configuration_civicAddressId,serviceDetails_teamsDirectRouting_enabled,serviceDetails_zoomPhoneCloudPeering_enabled,serviceDetails_azureOperatorCallProtection_enabled,configuration_customSipHeader
+441632960301,contoso,true,assigned,CallingUserAssignment,\"InboundCalling;OutboundCalling\",true,ebfee340-a791-11ed-9bfa-ed8bb5c41be4,,,,
+441632960302,contoso,,,,,,,true,,,\"quoted-value_1\"
+441632960303,contoso,,,,,,,true,,,
+441632960304,fabrikam,,,,,,,,true,,zoom-header
+441632960305,contoso,,,,,,,,,true,
";
