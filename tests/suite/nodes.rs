//! Several nodes on one PostgreSQL database, as an operator runs them behind a load balancer:
//! two `numbat serve` processes (each with its sync workers) and one `numbat edge`. A client
//! writes through the API alternating between the nodes, a check made on one is applied on the
//! other, and one node is SIGKILLed while it applies an import, holds a sync batch and takes
//! API writes. The survivor finishes everything: no acknowledged write is lost, no number is
//! created twice, the import is resumed and done once, sync uploads each number once, and the
//! edge follows changes made through either node within a second.

use crate::bulk_resume::{self, Browser, Node, ROWS};
use crate::common::TestDb;
use crate::edge::{local, probe, teams_config, EdgeProcess, Ports, HEADER};
use crate::sync::{synced_account, until_settled, Emulator, FABRIKAM};
use numbat::domain::SipHeaderName;
use numbat::provisioning::{Actor, DeploymentSettings, Door, Precondition, Provisioning, Role};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Operator Connect numbers the client writes through the API at least, one request each.
const API_WRITES: usize = 600;

fn number(i: usize) -> String {
    format!("+44203{:07}", 900_000 + i)
}

/// The client of both nodes: a PUT of one number through `nodes[i % 2]`, and when that node
/// does not answer (or answers 5xx), the same PUT through the other, as a load balancer would.
/// Returns the header value the acknowledged write stored, or `None` when neither node took it.
async fn put_number(
    http: &reqwest::Client,
    nodes: &[String; 2],
    token: &str,
    i: usize,
    header: &str,
) -> Option<String> {
    let n = number(i);
    let body = json!({ "telephoneNumber": n, "accountName": "oc",
        "serviceDetails": { "teamsOperatorConnect": { "enabled": true, "configuration": teams_config() } },
        "configuration": { "customSipHeader": header } });
    for node in [&nodes[i % 2], &nodes[(i + 1) % 2]] {
        let sent = http
            .put(format!(
                "http://{node}/provisioning/accounts/oc/numbers/{n}?api-version=2024-02-29-preview"
            ))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => return Some(header.to_owned()),
            Ok(answer) if answer.status().is_server_error() => continue,
            Ok(answer) => panic!(
                "{n} through {node}: {} {}",
                answer.status(),
                answer.text().await.unwrap_or_default()
            ),
            Err(_) => continue,
        }
    }
    None
}

/// Changes number 0's header through `node` and returns how long the edge took to put the new
/// value on calls.
async fn edge_follows(
    http: &reqwest::Client,
    node: &str,
    token: &str,
    edge_service: std::net::SocketAddr,
    hop: &UdpSocket,
    value: &str,
    probes: &mut u32,
) -> Duration {
    let nodes = [node.to_owned(), node.to_owned()];
    assert_eq!(
        put_number(http, &nodes, token, 0, value).await.as_deref(),
        Some(value)
    );
    let changed = Instant::now();
    loop {
        *probes += 1;
        if probe(edge_service, hop, &number(0), *probes).as_deref() == Some(value) {
            return changed.elapsed();
        }
        assert!(
            changed.elapsed() < Duration::from_secs(5),
            "the edge never saw {value} written through {node}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_postgres_lose_nothing_acknowledged_when_one_is_killed_mid_writes_import_and_sync(
) {
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let test = test.migrated().await;
    let db = test.db.clone();
    let core = Provisioning::new(db.clone());
    let setup = Actor::new("setup", &[Role::Admin], Door::Cli);
    core.put_settings(
        &setup,
        DeploymentSettings {
            sip_header_name: Some(SipHeaderName::parse(HEADER).unwrap()),
            base_domain: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    bulk_resume::contoso(&db).await;
    core.put_account(&setup, synced_account("oc", FABRIKAM), Precondition::NONE)
        .await
        .unwrap();
    let token = core
        .create_token(&setup, "bss", &[Role::Admin])
        .await
        .unwrap();

    // Orders take 2 s upstream, so a node always has a batch in hand while writes go on.
    let emulator = Emulator::start(&["--order-delay-ms", "2000"]).await;
    let sync = [
        "--oc-url",
        &emulator.url,
        "--consent-poll-secs",
        "0",
        "--sync-poll-ms",
        "50",
        "--sync-backoff-ms",
        "50",
        "--sync-lease-secs",
        "3",
        "--sync-batch-size",
        "20",
        "--sync-workers",
        "2",
    ];
    let mut node_a = Node::start_with(&test.url, 3, &sync);
    let node_b = Node::start_with(&test.url, 3, &sync);
    let nodes = [node_a.address.clone(), node_b.address.clone()];

    let ports = Ports::new();
    let hop = UdpSocket::bind(local(ports.operator_hop)).unwrap();
    hop.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // Polling alone would not follow a change within a second: the database's notification must.
    let edge = EdgeProcess::start(
        &test.url,
        &ports,
        &format!("udp:{}", local(ports.dr)),
        &["--poll-ms", "5000"],
    );

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut probes = 0;
    let mut took = Vec::new();
    for (node, value) in [(&nodes[0], "through-a"), (&nodes[1], "through-b")] {
        took.push(
            edge_follows(
                &http,
                node,
                &token,
                local(ports.service),
                &hop,
                value,
                &mut probes,
            )
            .await,
        );
    }

    // The client writes on through both nodes, recording each write a node acknowledged.
    let acknowledged = Arc::new(Mutex::new(BTreeMap::from([(
        number(0),
        "through-b".to_owned(),
    )])));
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (http, nodes, token) = (http.clone(), nodes.clone(), token.clone());
        let (acknowledged, writing) = (acknowledged.clone(), writing.clone());
        tokio::spawn(async move {
            // At least API_WRITES, and on until the test says stop (after the kill).
            let mut i = 1;
            while i < API_WRITES || writing.load(Ordering::SeqCst) {
                if let Some(value) = put_number(&http, &nodes, &token, i, &format!("h{i}")).await {
                    acknowledged.lock().unwrap().insert(number(i), value);
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            i
        })
    };

    // A check made on B, applied through A.
    let mut browser = Browser::signed_in(&node_b, &db, "writer").await;
    let (_, import) = browser.check_then_apply(&db, &node_b, &node_a).await;

    // SIGKILL A once it has committed part of the import and holds a sync batch upstream,
    // while the client's writes are still going.
    let holds_a_batch = format!(
        "SELECT COUNT(*) FROM sync_batches WHERE state = 'running' AND lease_owner LIKE '%:{}:%'",
        node_a.child.id()
    );
    let started = Instant::now();
    loop {
        let job = bulk_resume::job(&db, import).await;
        assert_eq!(
            job.state, "running",
            "the apply ended before the kill: {job:?}"
        );
        if job.last_line > 0 && bulk_resume::scalar(&db, &holds_a_batch).await > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "A never held a batch while applying: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node_a.kill();
    let killed = bulk_resume::job(&db, import).await;
    assert!(killed.created < ROWS, "{killed:?}");
    let orphaned = bulk_resume::scalar(&db, &holds_a_batch).await;
    assert!(orphaned > 0, "A died holding a sync batch");

    // B takes it from here: the import is resumed on B once A's lease has run out.
    bulk_resume::until_state(&db, import, "interrupted", Duration::from_secs(60)).await;
    let (status, _) = browser.resume(&node_b, import).await;
    assert_eq!(status, 303);
    writing.store(false, Ordering::SeqCst);
    let attempted = writer.await.unwrap() - 1;
    took.push(
        edge_follows(
            &http,
            &nodes[1],
            &token,
            local(ports.service),
            &hop,
            "after-the-kill",
            &mut probes,
        )
        .await,
    );
    acknowledged
        .lock()
        .unwrap()
        .insert(number(0), "after-the-kill".to_owned());
    let finished =
        bulk_resume::until_state(&db, import, "finished", Duration::from_secs(300)).await;
    until_settled(&db, Duration::from_secs(300)).await;

    // Every acknowledged write is there, as acknowledged, read back through the survivor.
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= attempted - 1,
        "at most the write in flight at the kill goes unacknowledged: {} of {attempted}",
        acknowledged.len()
    );
    for (n, value) in &acknowledged {
        let answer: serde_json::Value = http
            .get(format!(
                "http://{}/provisioning/accounts/oc/numbers/{n}?api-version=2024-02-29-preview",
                nodes[1]
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer["configuration"]["customSipHeader"],
            value.as_str(),
            "{n}: {answer}"
        );
    }
    let created_twice = bulk_resume::scalar(
        &db,
        "SELECT COUNT(*) FROM (SELECT resource_key FROM audit_events WHERE resource_type = 'number' \
         AND action = 'create' GROUP BY resource_key HAVING COUNT(*) > 1) AS twice",
    )
    .await;
    assert_eq!(created_twice, 0, "no number was created twice");

    // The import was done once, by A and then B.
    assert_eq!(
        (finished.rows_read, finished.created, finished.changed),
        (ROWS, ROWS, 0),
        "{finished:?}"
    );
    assert_eq!(
        bulk_resume::scalar(
            &db,
            "SELECT COUNT(*) FROM numbers WHERE account_name = 'contoso'"
        )
        .await,
        ROWS
    );

    // Sync: every Operator Connect number synced and uploaded once, A's batch taken over.
    let oc_numbers = bulk_resume::scalar(
        &db,
        "SELECT COUNT(*) FROM numbers WHERE account_name = 'oc'",
    )
    .await;
    let synced = bulk_resume::scalar(
        &db,
        "SELECT COUNT(*) FROM numbers WHERE account_name = 'oc' AND provisioning_status = 'synced'",
    )
    .await;
    assert_eq!(synced, oc_numbers, "every number reached synced");
    let held = emulator.held().await;
    for n in acknowledged.keys() {
        let (tenant, uploads) = held
            .get(n)
            .unwrap_or_else(|| panic!("{n} never reached upstream"));
        assert_eq!(tenant, FABRIKAM);
        // Number 0 was changed three times (the edge checks), each change sent once.
        let changes = if *n == number(0) { 3 } else { 1 };
        assert_eq!(*uploads, changes, "{n} was uploaded {uploads} times");
    }
    assert_eq!(
        bulk_resume::scalar(
            &db,
            "SELECT COUNT(*) FROM outbox_jobs WHERE state <> 'done'"
        )
        .await,
        0,
        "every outbox job is done"
    );

    for (when, took) in ["through A", "through B", "through B after the kill"]
        .iter()
        .zip(&took)
    {
        assert!(
            *took < Duration::from_secs(1),
            "the edge took {took:?} to follow a change {when}"
        );
    }
    println!(
        "edge followed changes in {took:?}; {} of {attempted} writes acknowledged; \
         A died after {} of {ROWS} import rows",
        acknowledged.len(),
        killed.created
    );
    drop((edge, node_a, node_b));
    test.remove().await;
}
