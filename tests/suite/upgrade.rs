//! A rolling upgrade on PostgreSQL: a node of the previous release serves API writes and reads
//! while a node of this release starts on the same database and applies this release's
//! migrations; the client then uses both, the old node is taken out of rotation and stopped
//! with SIGTERM, and the client goes on with the new one. No request fails, and every write
//! reads back through the new node.
//!
//! The previous release's binary is built by `scripts/previous-release.sh` (which
//! `scripts/test.sh` runs) from the commit `tests/upgrade/previous-release` names, and found
//! through `NUMBAT_PREVIOUS_BINARY`.

use crate::bulk_resume::Node;
use crate::common::TestDb;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The previous release's `numbat`, or `None` (with the reason printed) when it was not built.
fn previous_binary() -> Option<PathBuf> {
    let why = match std::env::var_os("NUMBAT_PREVIOUS_BINARY") {
        Some(path) if PathBuf::from(&path).is_file() => return Some(PathBuf::from(path)),
        Some(path) => format!(
            "NUMBAT_PREVIOUS_BINARY={} is not a file",
            path.to_string_lossy()
        ),
        None => "NUMBAT_PREVIOUS_BINARY is not set".to_owned(),
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}, and CI=true requires the rolling-upgrade test: scripts/test.sh builds it");
    }
    eprintln!("rolling-upgrade test skipped: {why} (scripts/previous-release.sh builds it)");
    None
}

/// The client: one request at a time, each to the next node in rotation, alternating a PUT of
/// a new number and a GET of the last one. Every answer that is not a success is noted.
struct Client {
    rotation: Arc<Mutex<Vec<String>>>,
    going: Arc<AtomicBool>,
    failures: Arc<Mutex<Vec<String>>>,
    written: Arc<Mutex<Vec<String>>>,
    answered_by: Arc<Mutex<std::collections::BTreeMap<String, usize>>>,
}

impl Client {
    fn start(token: String, first: String) -> (Client, tokio::task::JoinHandle<()>) {
        let client = Client {
            rotation: Arc::new(Mutex::new(vec![first])),
            going: Arc::new(AtomicBool::new(true)),
            failures: Arc::default(),
            written: Arc::default(),
            answered_by: Arc::default(),
        };
        let (rotation, going, failures, written, answered_by) = (
            client.rotation.clone(),
            client.going.clone(),
            client.failures.clone(),
            client.written.clone(),
            client.answered_by.clone(),
        );
        let task = tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let mut i = 0usize;
            while going.load(Ordering::SeqCst) {
                let node = {
                    let rotation = rotation.lock().unwrap();
                    rotation[i % rotation.len()].clone()
                };
                let number = format!("+44207{:07}", i / 2);
                let url = format!(
                    "http://{node}/provisioning/accounts/contoso/numbers/{number}?api-version=2024-02-29-preview"
                );
                let request = if i.is_multiple_of(2) {
                    http.put(&url).json(
                        &json!({ "telephoneNumber": number, "accountName": "contoso",
                        "serviceDetails": { "teamsDirectRouting": { "enabled": true } },
                        "configuration": { "customSipHeader": format!("v{i}") } }),
                    )
                } else {
                    http.get(&url)
                };
                match request.bearer_auth(&token).send().await {
                    Ok(answer) if answer.status().is_success() => {
                        if i.is_multiple_of(2) {
                            written.lock().unwrap().push(number);
                        }
                        *answered_by.lock().unwrap().entry(node).or_default() += 1;
                    }
                    Ok(answer) => {
                        let status = answer.status();
                        let text = answer.text().await.unwrap_or_default();
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{node} {number}: {status} {text}"));
                    }
                    Err(error) => failures
                        .lock()
                        .unwrap()
                        .push(format!("{node} {number}: {error}")),
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        (client, task)
    }

    fn set_rotation(&self, nodes: &[&str]) {
        *self.rotation.lock().unwrap() = nodes.iter().map(|n| (*n).to_owned()).collect();
    }

    /// Waits until `node` has answered `more` further requests.
    async fn until_answered(&self, node: &str, more: usize) {
        let count = || {
            self.answered_by
                .lock()
                .unwrap()
                .get(node)
                .copied()
                .unwrap_or(0)
        };
        let (from, started) = (count(), Instant::now());
        while count() < from + more {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{node} answered {} requests in a minute",
                count() - from
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_upgrade_on_postgres_fails_no_request() {
    let Some(previous) = previous_binary() else {
        return;
    };
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let migrate = |binary: &std::path::Path, check: bool| {
        let mut command = std::process::Command::new(binary);
        command.args(["migrate", "--database-url", &test.url]);
        if check {
            command.arg("--check");
        }
        command.output().unwrap()
    };
    // The database as the previous release left it.
    let done = migrate(&previous, false);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let this_release = std::path::Path::new(env!("CARGO_BIN_EXE_numbat"));
    let behind = migrate(this_release, true);
    assert_eq!(
        behind.status.code(),
        Some(3),
        "this release has migrations to apply: {}",
        String::from_utf8_lossy(&behind.stdout)
    );
    let token = crate::common::api_token(
        &test.db,
        "bss",
        &[
            numbat::provisioning::Role::Read,
            numbat::provisioning::Role::Write,
        ],
    )
    .await;
    let mut old = Node::start_binary(&previous, &test.url, 30, &[]);
    let put_account = reqwest::Client::new()
        .put(old.url("/provisioning/accounts/contoso?api-version=2024-02-29-preview"))
        .bearer_auth(&token)
        .json(&json!({ "name": "contoso", "serviceDetails": { "teamsDirectRouting": { "enabled": true } } }))
        .send()
        .await
        .unwrap();
    assert!(
        put_account.status().is_success(),
        "{}",
        put_account.status()
    );

    let (client, task) = Client::start(token.clone(), old.address.clone());
    client.until_answered(&old.address, 100).await;

    // The new node starts beside it and migrates the database while the old one serves.
    let new = Node::start(&test.url, 30);
    let current = migrate(this_release, true);
    assert_eq!(
        current.status.code(),
        Some(0),
        "the new node applied its migrations: {}",
        String::from_utf8_lossy(&current.stdout)
    );
    client.set_rotation(&[&old.address, &new.address]);
    client.until_answered(&old.address, 100).await;
    client.until_answered(&new.address, 100).await;

    // The load balancer takes the old node out; once the client's request in hand is
    // answered, nothing more goes to the old node, and its service manager stops it.
    client.set_rotation(&[&new.address]);
    client.until_answered(&new.address, 2).await;
    let stopped = old.stop();
    assert!(
        stopped.success(),
        "the old node drained and exited: {stopped:?}"
    );
    client.until_answered(&new.address, 100).await;
    client.going.store(false, Ordering::SeqCst);
    task.await.unwrap();

    let failures = client.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "requests failed: {failures:?}");
    let written = client.written.lock().unwrap().clone();
    let stored = crate::bulk_resume::scalar(
        &test.db,
        "SELECT COUNT(*) FROM numbers WHERE account_name = 'contoso'",
    )
    .await;
    assert_eq!(stored as usize, written.len(), "every write is stored");
    let answered = client.answered_by.lock().unwrap().clone();
    println!(
        "rolling upgrade: {} writes; answers per node {answered:?}",
        written.len()
    );
    drop((old, new));
    test.remove().await;
}
