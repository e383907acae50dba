//! Bulk jobs survive their process: `numbat serve` is SIGKILLed in the middle of applying an
//! import, and the job is resumed (by another node on PostgreSQL, through the portal's Resume
//! button as a browser without JavaScript posts it; by a new process on SQLite, from the command
//! line). Every number ends up stored once, with one create event, and the job's counts are
//! those of one clean run. A check uploaded to one node is applied through another.

use crate::common::{self, TestDb};
use numbat::auth::users::PortalRole;
use numbat::domain::{Account, AccountName, AccountServices, Service};
use numbat::provisioning::{Actor, Door, Precondition, Provisioning, Role};
use numbat::store::jobs::Job;
use numbat::store::Database;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Rows in the file: enough that applying it takes a few seconds.
pub(crate) const ROWS: i64 = 60_000;

fn admin() -> Actor {
    Actor::new("setup", &[Role::Admin], Door::Api)
}

pub(crate) async fn contoso(db: &Database) {
    let account = Account {
        services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
        ..Account::named(AccountName::parse("contoso").unwrap())
    };
    Provisioning::new(db.clone())
        .put_account(&admin(), account, Precondition::NONE)
        .await
        .unwrap();
}

/// One number per line, under a `Numbers` heading.
pub(crate) fn plain_file(rows: i64) -> String {
    let mut file = String::from("Numbers\n");
    for i in 0..rows {
        file.push_str(&format!("+44207{i:07}\n"));
    }
    file
}

/// A `numbat serve` process on `database_url`, on a port the OS picked.
pub(crate) struct Node {
    pub child: Child,
    pub address: String,
    /// Requests the process answered with a 500, read from its log: a test fails on any.
    server_errors: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Node {
    pub(crate) fn start(database_url: &str, lease_secs: u32) -> Node {
        Node::start_with(database_url, lease_secs, &[])
    }

    /// The same, with more flags for `numbat serve`.
    pub(crate) fn start_with(database_url: &str, lease_secs: u32, flags: &[&str]) -> Node {
        Node::start_binary(
            std::path::Path::new(env!("CARGO_BIN_EXE_numbat")),
            database_url,
            lease_secs,
            flags,
        )
    }

    /// `numbat serve` from another build of Numbat (an older release, for upgrades).
    pub(crate) fn start_binary(
        binary: &std::path::Path,
        database_url: &str,
        lease_secs: u32,
        flags: &[&str],
    ) -> Node {
        let mut child = Command::new(binary)
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .args(["--job-lease-secs", &lease_secs.to_string()])
            .args(flags)
            .env("DATABASE_URL", database_url)
            .env("NUMBAT_SITE_ROOT", "/nonexistent-site-root")
            .env_remove("NUMBAT_SYNC_ENABLED")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("numbat serve starts");
        let mut logs = BufReader::new(child.stderr.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let address = loop {
            assert!(Instant::now() < deadline, "no 'listening' log line");
            let line = logs.next().expect("numbat serve exited early").unwrap();
            let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(address) = event["address"].as_str() {
                break address.to_owned();
            }
        };
        // Keep reading its log, so a full pipe never stops it, and note every 500.
        let server_errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let noted = server_errors.clone();
        std::thread::spawn(move || {
            for line in logs.map_while(Result::ok) {
                let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if event["message"] == "answered a server error" && event["status"] == 500 {
                    noted.lock().unwrap().push(line);
                }
            }
        });
        Node {
            child,
            address,
            server_errors,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// SIGKILL: the process dies at once, in the middle of whatever it was doing.
    pub(crate) fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    /// SIGTERM, as a service manager stops it: it finishes the requests in flight, then exits.
    /// A process that has not exited a minute later fails the test (and is killed).
    pub(crate) fn stop(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "numbat serve did not stop within a minute of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let errors = self.server_errors.lock().unwrap();
        if !std::thread::panicking() && !errors.is_empty() {
            panic!("numbat serve answered a 500: {errors:?}");
        }
    }
}

/// A browser without JavaScript, over real HTTP: keeps the session cookie, follows no redirect.
pub(crate) struct Browser {
    http: reqwest::Client,
    cookie: Option<String>,
}

impl Browser {
    /// Signed in on `node` as a new writer (sessions live in the database, so on every node).
    pub(crate) async fn signed_in(node: &Node, db: &Database, name: &str) -> Browser {
        let one_time = common::add_user(db, name, &[PortalRole::WriteUser]).await;
        let mut browser = Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            cookie: None,
        };
        let (_, location) = browser
            .post(
                node,
                "/sign-in",
                "application/x-www-form-urlencoded",
                format!("name={name}&password={one_time}&next=/"),
            )
            .await;
        assert_eq!(location, "/password");
        let (_, location) = browser
            .post(
                node,
                "/password",
                "application/x-www-form-urlencoded",
                format!(
                    "current={one_time}&new=a-long-enough-password&confirm=a-long-enough-password"
                ),
            )
            .await;
        assert_eq!(location, "/?password_changed=1");
        browser
    }

    fn remember(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            if let Some(pair) = text
                .split(';')
                .next()
                .filter(|p| p.starts_with("numbat_session="))
            {
                self.cookie = Some(pair.to_owned());
            }
        }
    }

    /// Posts as a form on the portal's own page would; the status and where it redirects.
    pub(crate) async fn post(
        &mut self,
        node: &Node,
        path: &str,
        content_type: &str,
        body: String,
    ) -> (u16, String) {
        let mut request = self
            .http
            .post(node.url(path))
            .header("content-type", content_type)
            .header("accept", "text/html")
            .header("origin", node.url(""))
            .header("sec-fetch-site", "same-origin")
            .body(body);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.expect("the node answers");
        self.remember(&response);
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (response.status().as_u16(), location)
    }

    pub(crate) async fn page(&mut self, node: &Node, path: &str) -> String {
        let mut request = self.http.get(node.url(path));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.expect("the node answers");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response.text().await.unwrap()
    }

    /// Checks the file of `ROWS` contoso numbers on `check_on` and applies it through
    /// `apply_on`, as a user does: the apply's page and its job's id. The check must find every
    /// row new and store nothing.
    pub(crate) async fn check_then_apply(
        &mut self,
        db: &Database,
        check_on: &Node,
        apply_on: &Node,
    ) -> (String, i64) {
        let check = self
            .upload(
                check_on,
                &plain_file(ROWS),
                &[("account", "contoso"), ("service", "teamsDirectRouting")],
            )
            .await;
        let check = job_id(&check);
        let checked = until_state(db, check, "finished", Duration::from_secs(180)).await;
        assert_eq!(checked.created, ROWS, "{checked:?}");
        assert_eq!(
            scalar(
                db,
                "SELECT COUNT(*) FROM numbers WHERE account_name = 'contoso'"
            )
            .await,
            0,
            "a check stores nothing"
        );
        let (status, applied) = self
            .post(
                apply_on,
                &format!("/imports/{check}/apply"),
                "application/x-www-form-urlencoded",
                String::new(),
            )
            .await;
        assert_eq!(status, 303, "{applied}");
        assert!(applied.starts_with("/imports/"), "{applied}");
        let id = job_id(&applied);
        (applied, id)
    }

    /// Presses job `id`'s Resume button on `node`, as a browser without JavaScript posts it:
    /// the status and where it redirects.
    pub(crate) async fn resume(&mut self, node: &Node, id: i64) -> (u16, String) {
        self.post(
            node,
            &format!("/jobs/{id}/resume"),
            "application/x-www-form-urlencoded",
            String::new(),
        )
        .await
    }

    /// Uploads `file` for a check with the upload form's fields; the check's page.
    pub(crate) async fn upload(
        &mut self,
        node: &Node,
        file: &str,
        fields: &[(&str, &str)],
    ) -> String {
        let boundary = "----numbat-resume-boundary";
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"many.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
        ));
        let (status, location) = self
            .post(
                node,
                "/imports",
                &format!("multipart/form-data; boundary={boundary}"),
                body,
            )
            .await;
        assert_eq!(status, 303, "{location}");
        assert!(location.starts_with("/imports/"), "{location}");
        location
    }
}

pub(crate) fn job_id(page: &str) -> i64 {
    page.rsplit('/').next().unwrap().parse().unwrap()
}

pub(crate) async fn job(db: &Database, id: i64) -> Job {
    numbat::store::jobs::get(db, id).await.unwrap().unwrap()
}

/// Waits (at most `limit`) until job `id` is in `state`.
pub(crate) async fn until_state(db: &Database, id: i64, state: &str, limit: Duration) -> Job {
    let started = Instant::now();
    loop {
        let job = job(db, id).await;
        if job.state == state {
            return job;
        }
        assert!(
            started.elapsed() < limit,
            "job {id} not {state} within {limit:?}: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until job `id` has committed a chunk, then SIGKILLs `node`; the job as the kill left it.
async fn kill_mid_job(db: &Database, id: i64, node: &mut Node) -> Job {
    let started = Instant::now();
    loop {
        let job = job(db, id).await;
        assert_eq!(
            job.state, "running",
            "the apply ended before the kill: {job:?}"
        );
        if job.last_line > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the apply never committed a chunk: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.kill();
    let job = job(db, id).await;
    assert!(
        job.created < ROWS,
        "the kill came too late to test anything: {job:?}"
    );
    job
}

pub(crate) async fn scalar(db: &Database, sql: &str) -> i64 {
    match db {
        Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

/// What a user would check after the resumed apply: every number once, one create event each,
/// a job that says it created them all, and the applied file no longer kept.
async fn assert_applied_once(db: &Database, id: i64) {
    let job = job(db, id).await;
    assert_eq!(job.state, "finished", "{job:?}");
    assert_eq!(
        (
            job.rows_read,
            job.created,
            job.changed,
            job.unchanged,
            job.invalid
        ),
        (ROWS, ROWS, 0, 0, 0),
        "the counts are those of one clean run: {job:?}"
    );
    assert_eq!(job.last_line, ROWS + 1, "the heading is line 1");
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM numbers").await,
        ROWS,
        "every number is stored"
    );
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM audit_events WHERE resource_type = 'number' AND action = 'create'"
        )
        .await,
        ROWS,
        "one create event per number: nothing was applied twice"
    );
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(DISTINCT resource_key) FROM audit_events WHERE resource_type = 'number'"
        )
        .await,
        ROWS
    );
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM audit_events WHERE resource_type = 'number' AND action <> 'create'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            db,
            &format!("SELECT COUNT(*) FROM audit_events WHERE resource_type = 'job' AND resource_key = '{id}' AND action = 'resume'")
        )
        .await,
        1,
        "the resumption is in the audit trail"
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM bulk_uploads").await,
        0,
        "the applied file is no longer kept"
    );
}

#[tokio::test]
async fn on_postgres_a_check_made_on_one_node_is_applied_on_another_and_finished_on_the_first_when_that_one_dies(
) {
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let test = test.migrated().await;
    contoso(&test.db).await;
    let mut node_a = Node::start(&test.url, 3);
    let node_b = Node::start(&test.url, 3);
    let mut browser = Browser::signed_in(&node_a, &test.db, "writer").await;

    // The check is made on B (the file waits in the database, not on B's disk), and applied
    // through A.
    let (applied, id) = browser.check_then_apply(&test.db, &node_b, &node_a).await;

    let killed = kill_mid_job(&test.db, id, &mut node_a).await;

    // B sees that A's lease ran out: the job is interrupted, and B's page offers to resume it.
    let waiting = until_state(&test.db, id, "interrupted", Duration::from_secs(60)).await;
    assert_eq!(
        waiting.created, killed.created,
        "nothing ran after the kill"
    );
    let page = browser.page(&node_b, &applied).await;
    assert!(page.contains("It was interrupted"), "{page}");
    assert!(
        page.contains(&format!(r#"action="/jobs/{id}/resume""#)),
        "B offers to resume: {page}"
    );

    let (status, back) = browser.resume(&node_b, id).await;
    assert_eq!((status, back.as_str()), (303, applied.as_str()));
    until_state(&test.db, id, "finished", Duration::from_secs(300)).await;
    assert_applied_once(&test.db, id).await;
    let page = browser.page(&node_b, &applied).await;
    assert!(
        page.contains(&format!(
            "{ROWS} rows: {ROWS} created, 0 changed, 0 unchanged; 0 invalid rows skipped."
        )),
        "{page}"
    );

    // A second resume of a finished job is refused, and changes nothing.
    let (status, back) = browser.resume(&node_b, id).await;
    assert_eq!(status, 303);
    let refusal = browser.page(&node_b, &back).await;
    assert!(
        refusal.contains("only an interrupted job can be resumed"),
        "{refusal}"
    );
    assert_eq!(scalar(&test.db, "SELECT COUNT(*) FROM numbers").await, ROWS);

    drop((node_a, node_b));
    test.remove().await;
}

#[tokio::test]
async fn on_sqlite_an_apply_killed_with_its_server_is_resumed_by_a_new_process() {
    let test = TestDb::sqlite().await.migrated().await;
    contoso(&test.db).await;
    let mut node = Node::start(&test.url, 6);
    let mut browser = Browser::signed_in(&node, &test.db, "writer").await;
    let (_, id) = browser.check_then_apply(&test.db, &node, &node).await;
    let killed = kill_mid_job(&test.db, id, &mut node).await;
    assert_eq!(
        scalar(&test.db, "SELECT COUNT(*) FROM numbers").await,
        killed.created,
        "the job's progress commits with its chunk"
    );

    let resume = || {
        let output = Command::new(env!("CARGO_BIN_EXE_numbat"))
            .args(["import", "--resume", &id.to_string()])
            .env("DATABASE_URL", &test.url)
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    // While the dead server's lease lasts, the job may still be running somewhere: refused.
    let (code, said) = resume();
    assert_ne!(code, 0, "{said}");
    assert!(said.contains("still running"), "{said}");

    let started = Instant::now();
    let said = loop {
        let (code, said) = resume();
        if code == 0 {
            break said;
        }
        assert!(said.contains("still running"), "{said}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never resumable: {said}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        said.contains(&format!(
            "{ROWS} rows: {ROWS} created, 0 changed, 0 unchanged; 0 invalid rows skipped."
        )),
        "{said}"
    );
    assert_applied_once(&test.db, id).await;
    test.remove().await;
}

/// A node stopped the way a service manager stops it (SIGTERM) hands the job it was applying
/// back as it exits: interrupted at once, not when its lease (30 s here) would run out, and a
/// new node resumes it through the portal to one clean run.
#[tokio::test]
async fn a_node_stopped_with_sigterm_hands_its_job_back_at_once() {
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        contoso(&test.db).await;
        let mut node = Node::start(&test.url, 30);
        let mut browser = Browser::signed_in(&node, &test.db, "writer").await;
        let (applied, id) = browser.check_then_apply(&test.db, &node, &node).await;
        let started = Instant::now();
        while job(&test.db, id).await.last_line == 0 {
            assert!(started.elapsed() < Duration::from_secs(120), "no chunk");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stopped = node.stop();
        assert!(stopped.success(), "{}: {stopped:?}", test.db.kind());
        let handed_back = job(&test.db, id).await;
        assert_eq!(
            handed_back.state,
            "interrupted",
            "{}: at once, not after the lease: {handed_back:?}",
            test.db.kind()
        );
        assert!(handed_back.created < ROWS, "{handed_back:?}");
        assert_eq!(
            scalar(&test.db, "SELECT COUNT(*) FROM numbers").await,
            handed_back.created,
            "what the job says it did is what is stored"
        );

        let next = Node::start(&test.url, 30);
        let (status, back) = browser.resume(&next, id).await;
        assert_eq!((status, back.as_str()), (303, applied.as_str()));
        until_state(&test.db, id, "finished", Duration::from_secs(300)).await;
        assert_applied_once(&test.db, id).await;
        drop(next);
        test.remove().await;
    }
}

#[tokio::test]
async fn a_bulk_action_whose_worker_died_is_resumed_after_the_last_number_it_did() {
    use numbat::bulk::{import_file, ImportOptions};
    use numbat::provisioning::bulk::{BulkAction, Resumed, Selection};
    use numbat::provisioning::import::ImportMode;
    use numbat::provisioning::NumberFilter;
    const N: i64 = 10_000;
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        contoso(&test.db).await;
        let core = Provisioning::new(test.db.clone()).with_job_lease(Duration::from_secs(1));
        let options = ImportOptions {
            account: Some("contoso".into()),
            service: Some("teamsDirectRouting".into()),
            ..ImportOptions::default()
        };
        let file = std::io::Cursor::new(plain_file(N).into_bytes());
        let settings = options.file_settings().unwrap();
        import_file(
            &core,
            &admin(),
            "load",
            file,
            settings,
            ImportMode::Apply,
            |_, _| {},
        )
        .await
        .unwrap();
        let contoso_numbers = NumberFilter {
            account: Some(AccountName::parse("contoso").unwrap()),
            ..NumberFilter::default()
        };

        // A delete of every contoso number, whose worker dies (its task is dropped, as a killed
        // process would: the open transaction rolls back, the heartbeat stops) after a chunk.
        let action = BulkAction::Delete;
        let run = core
            .start_bulk(admin(), &action, "contoso's numbers", Some(N))
            .await
            .unwrap();
        let id = run.job_id();
        let worker = tokio::spawn({
            let (core, action) = (core.clone(), action.clone());
            let selection = Selection::Matching(contoso_numbers.clone());
            async move { core.run_bulk(run, &action, selection).await }
        });
        let started = Instant::now();
        while job(&test.db, id).await.last_line == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no chunk was committed"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        worker.abort();
        assert!(
            worker.await.is_err(),
            "the worker was stopped, not finished"
        );
        let stopped = job(&test.db, id).await;
        assert!(stopped.changed < N, "stopped too late: {stopped:?}");
        assert_eq!(
            scalar(&test.db, "SELECT COUNT(*) FROM numbers").await,
            N - stopped.changed,
            "the job's progress commits with its chunk"
        );

        // Once the lease has run out, the job is interrupted and can be resumed.
        let started = Instant::now();
        while job(&test.db, id).await.state != "interrupted" {
            core.mark_interrupted_jobs().await.unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "never interrupted"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let Resumed::Bulk {
            run,
            action,
            selection,
            ..
        } = core.resume_job(admin(), id).await.unwrap()
        else {
            panic!("a bulk job resumes as one");
        };
        let tally = core.run_bulk(run, &action, selection).await.unwrap();
        assert_eq!(
            (
                tally.rows_read,
                tally.changed,
                tally.unchanged,
                tally.invalid
            ),
            (N, N, 0, 0),
            "the counts are those of one clean run"
        );
        assert_eq!(job(&test.db, id).await.state, "finished");
        assert_eq!(scalar(&test.db, "SELECT COUNT(*) FROM numbers").await, 0);
        assert_eq!(
            scalar(
                &test.db,
                "SELECT COUNT(*) FROM audit_events WHERE resource_type = 'number' AND action = 'delete'"
            )
            .await,
            N,
            "one delete event per number"
        );
        test.remove().await;
    }
}

#[tokio::test]
async fn an_interrupted_bulk_action_is_resumed_from_its_page_without_javascript() {
    use crate::common::Browser as PortalBrowser;
    use numbat::bulk::{import_file, ImportOptions};
    use numbat::provisioning::bulk::{BulkAction, Selection};
    use numbat::provisioning::import::ImportMode;
    use numbat::provisioning::NumberFilter;
    const N: i64 = 10_000;
    let _renderer = crate::common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    contoso(&test.db).await;
    let lease = Duration::from_secs(1);
    let core = Provisioning::new(test.db.clone()).with_job_lease(lease);
    let options = ImportOptions {
        account: Some("contoso".into()),
        service: Some("teamsDirectRouting".into()),
        ..ImportOptions::default()
    };
    let file = std::io::Cursor::new(plain_file(N).into_bytes());
    let settings = options.file_settings().unwrap();
    import_file(
        &core,
        &admin(),
        "load",
        file,
        settings,
        ImportMode::Apply,
        |_, _| {},
    )
    .await
    .unwrap();

    // Setting a header on every contoso number; its worker dies after a chunk.
    let action = BulkAction::SetHeader(numbat::domain::CustomSipHeader::parse("resumed").unwrap());
    let run = core
        .start_bulk(admin(), &action, "contoso's numbers", Some(N))
        .await
        .unwrap();
    let id = run.job_id();
    let worker = tokio::spawn({
        let (core, action) = (core.clone(), action.clone());
        let selection = Selection::Matching(NumberFilter {
            account: Some(AccountName::parse("contoso").unwrap()),
            ..NumberFilter::default()
        });
        async move { core.run_bulk(run, &action, selection).await }
    });
    let started = Instant::now();
    while job(&test.db, id).await.last_line == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "no chunk");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    worker.abort();
    let _ = worker.await;
    let stopped = job(&test.db, id).await;
    assert!(stopped.changed < N, "stopped too late: {stopped:?}");

    let app = numbat::server::router(
        numbat::state::AppState::new(test.db.clone(), std::path::Path::new("/nonexistent"))
            .with_job_lease(lease),
    );
    let mut browser =
        PortalBrowser::signed_in(&app, &test.db, "writer", &[PortalRole::WriteUser]).await;
    let path = format!("/jobs/{id}");
    let started = Instant::now();
    let html = loop {
        let (_, html) = browser.get(&path).await;
        if html.contains(&format!(r#"action="/jobs/{id}/resume""#)) {
            break html;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no Resume button: {html}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(html.contains("It was interrupted"), "{html}");

    let (response, _) = browser.post(&format!("/jobs/{id}/resume"), "").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], path.as_str());
    let finished = until_state(&test.db, id, "finished", Duration::from_secs(120)).await;
    assert_eq!(
        (
            finished.rows_read,
            finished.changed,
            finished.unchanged,
            finished.invalid
        ),
        (N, N, 0, 0),
        "the counts are those of one clean run: {finished:?}"
    );
    let (_, html) = browser.get(&path).await;
    assert!(
        html.contains(&format!("{N} numbers: {N} changed, 0 unchanged; 0 refused")),
        "{html}"
    );
    assert_eq!(
        scalar(
            &test.db,
            "SELECT COUNT(*) FROM numbers WHERE custom_sip_header = 'resumed'"
        )
        .await,
        N
    );
    assert_eq!(
        scalar(
            &test.db,
            "SELECT COUNT(*) FROM audit_events WHERE resource_type = 'number' AND action = 'replace'"
        )
        .await,
        N,
        "one change event per number: nothing was changed twice"
    );
    test.remove().await;
}
