//! Webhooks end to end in the core and its delivering processes, on SQLite and PostgreSQL: a
//! local receiver that fails on purpose (5xx, dropped connections, slow answers) still gets
//! every event, signed, in order per resource, duplicates only under the same `webhook-id`,
//! exactly the events the change feed carries; a receiver that never answers has its event
//! parked and its subscription paused; a replay delivers the same events again.

use crate::common::{cli_admin, TestDb};
use hmac::{Hmac, Mac};
use numbat::domain::TelephoneNumber;
use numbat::domain::{Account, AccountName, AccountServices, Number, NumberServices, Service};
use numbat::provisioning::feed::Cursor;
use numbat::provisioning::webhooks::{RetryPolicy, SubscriptionRequest};
use numbat::provisioning::{Precondition, Provisioning};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the receiver got it.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) id: String,
    pub(crate) timestamp: String,
    pub(crate) signature: String,
    pub(crate) body: String,
}

/// A receiver on a loopback port answering each request by `answer(n)` (the n-th request):
/// `Some(status)` after an optional delay, `None` to drop the connection unanswered, or
/// `Some(0)` to take the event (as a receiver that crashed before answering would have) and
/// drop the connection: the sender sees a failure and sends it again.
pub(crate) async fn receiver(
    answer: impl Fn(usize) -> (Option<u16>, Duration) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let answer = Arc::new(answer);
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let kept = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (got, answer, count) = (kept.clone(), answer.clone(), count.clone());
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 8192];
                let (head, body_start) = loop {
                    let n = match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    data.extend_from_slice(&buf[..n]);
                    if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        break (String::from_utf8_lossy(&data[..end]).into_owned(), end + 4);
                    }
                };
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                        .unwrap_or_default()
                };
                let length: usize = header("content-length").parse().unwrap_or(0);
                while data.len() < body_start + length {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                }
                let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (status, delay) = answer(n);
                tokio::time::sleep(delay).await;
                let Some(status) = status else {
                    return; // dropped, unanswered
                };
                if status == 0 || (200..300).contains(&status) {
                    got.lock().unwrap().push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body: String::from_utf8_lossy(&data[body_start..body_start + length])
                            .into_owned(),
                    });
                }
                if status == 0 {
                    return;
                }
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno"
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, got)
}

/// Whether `received` carries a valid signature under `secret`, checked as a receiver would:
/// HMAC-SHA256 of `id.timestamp.body` with the key after `whsec_`, base64, against each `v1,`.
fn verifies(secret: &str, received: &Received) -> bool {
    let key = numbat::provisioning::webhooks::base64_decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", received.id, received.timestamp, received.body).as_bytes());
    let expected = numbat::provisioning::webhooks::base64(&mac.finalize().into_bytes());
    received
        .signature
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

async fn contoso(core: &Provisioning) {
    let account = Account {
        services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
        ..Account::named(AccountName::parse("contoso").unwrap())
    };
    core.put_account(&cli_admin(), account, Precondition::NONE)
        .await
        .unwrap();
}

fn number(n: usize, header: Option<&str>) -> Number {
    Number {
        telephone_number: TelephoneNumber::parse(&format!("+4420794{n:05}")).unwrap(),
        account_name: AccountName::parse("contoso").unwrap(),
        services: NumberServices::only(Service::TeamsDirectRouting, None),
        custom_sip_header: header.map(|h| numbat::domain::CustomSipHeader::parse(h).unwrap()),
    }
}

/// Two delivering processes (owners) side by side until `done` holds or a minute passes.
async fn deliver_until(core: &Provisioning, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not delivered in time"
        );
        let (a, b) = tokio::join!(
            numbat::hooks::deliver_due(core, "node-a"),
            numbat::hooks::deliver_due(core, "node-b")
        );
        a.unwrap();
        b.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The events that arrived first (their ids, in arrival order) are exactly the feed's
/// (`(id, resource)` in commit order), none missing and none made up, and each resource's
/// arrived in the feed's order. Events of different resources may arrive side by side.
fn assert_in_order_per_resource(arrived: &[&str], feed: &[(&str, &str)], url: &str) {
    let resource_of: HashMap<&str, &str> = feed.iter().copied().collect();
    let mut arrived_sorted = arrived.to_vec();
    arrived_sorted.sort_unstable();
    let mut feed_sorted: Vec<&str> = feed.iter().map(|(id, _)| *id).collect();
    feed_sorted.sort_unstable();
    assert_eq!(
        arrived_sorted, feed_sorted,
        "exactly the feed's events arrived ({url})"
    );
    fn per_resource<'a>(
        ids: impl Iterator<Item = &'a str>,
        resource_of: &HashMap<&'a str, &'a str>,
    ) -> HashMap<&'a str, Vec<&'a str>> {
        let mut by: HashMap<&str, Vec<&str>> = HashMap::new();
        for id in ids {
            by.entry(resource_of[id]).or_default().push(id);
        }
        by
    }
    let got = per_resource(arrived.iter().copied(), &resource_of);
    let want = per_resource(feed.iter().map(|(id, _)| *id), &resource_of);
    for (resource, events) in &want {
        assert_eq!(
            &got[resource], events,
            "{resource}'s events in commit order ({url})"
        );
    }
}

/// 400 changes (the real-server test below sends 10,000) to a receiver failing on purpose: every event delivered, signed, in order per
/// resource, duplicates only under the same id, and exactly what the feed carries.
#[tokio::test]
async fn every_change_reaches_a_flaky_receiver_signed_once_per_id_in_order_per_resource() {
    const NUMBERS: usize = 200;
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let core = Provisioning::new(test.db.clone())
            .with_private_webhooks(true)
            .with_webhook_retry(RetryPolicy {
                first_wait: Duration::from_millis(5),
                give_up_after: Duration::from_secs(3600),
            });
        contoso(&core).await;
        // Every 5th request a 503, every 7th dropped unanswered, every 9th slow but fine, and
        // every 11th taken but unanswered (so sent again: a duplicate).
        let (url, got) = receiver(|n| match n {
            n if n % 5 == 4 => (Some(503), Duration::ZERO),
            n if n % 7 == 6 => (None, Duration::ZERO),
            n if n % 9 == 8 => (Some(200), Duration::from_millis(30)),
            n if n % 11 == 10 => (Some(0), Duration::ZERO),
            _ => (Some(204), Duration::ZERO),
        })
        .await;
        let made = core
            .create_webhook(
                &cli_admin(),
                SubscriptionRequest {
                    url,
                    types: vec!["number".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let secret = made.secret.clone().unwrap();
        let start = Cursor::parse(&made.cursor).unwrap();
        // Each number created, then changed: 400 changes, two per resource.
        for n in 0..NUMBERS {
            core.put_number(&cli_admin(), number(n, None), Precondition::NONE)
                .await
                .unwrap();
        }
        for n in 0..NUMBERS {
            core.put_number(&cli_admin(), number(n, Some("gold")), Precondition::NONE)
                .await
                .unwrap();
        }
        // On PostgreSQL the feed holds back events while any older transaction of the server
        // runs (other tests' too): read until all have come, or a minute.
        let mut feed = Vec::new();
        let mut cursor = start;
        let started = std::time::Instant::now();
        while feed.len() < 2 * NUMBERS && started.elapsed() < Duration::from_secs(60) {
            let page = core
                .events_after(&cli_admin(), cursor, 1000, Duration::from_secs(1))
                .await
                .unwrap();
            cursor = Cursor::parse(&page.cursor).unwrap();
            feed.extend(
                page.value
                    .into_iter()
                    .filter(|e| e.resource_type == "number"),
            );
        }
        assert_eq!(feed.len(), 2 * NUMBERS, "{}", test.url);

        deliver_until(&core, || {
            let got = got.lock().unwrap();
            got.iter().map(|r| &r.id).collect::<HashSet<_>>().len() >= feed.len()
        })
        .await;

        let got = got.lock().unwrap().clone();
        assert!(
            got.iter().all(|r| verifies(&secret, r)),
            "every signature verifies"
        );
        assert!(got.len() > feed.len(), "some were sent twice, as intended");
        let mut bodies: HashMap<&str, &str> = HashMap::new();
        let mut first_seen = Vec::new();
        for r in &got {
            match bodies.insert(&r.id, &r.body) {
                None => first_seen.push(r.id.clone()),
                Some(before) => assert_eq!(before, r.body, "a duplicate is the same event"),
            }
        }
        let carried: Vec<(&str, &str)> = feed
            .iter()
            .map(|e| (e.id.as_str(), e.resource_key.as_str()))
            .collect();
        let first_ids: Vec<&str> = first_seen.iter().map(String::as_str).collect();
        assert_in_order_per_resource(&first_ids, &carried, &test.url);
        for event in &feed {
            let body: serde_json::Value = serde_json::from_str(bodies[event.id.as_str()]).unwrap();
            assert_eq!(body, serde_json::to_value(event).unwrap());
        }
        let log = core
            .webhook_deliveries(&cli_admin(), made.id, 1000)
            .await
            .unwrap();
        assert!(
            log.iter()
                .any(|d| d.outcome == "failed" && d.status == Some(503)),
            "failed attempts are in the log with the receiver's status"
        );
        test.remove().await;
    }
}

/// A receiver that never answers: the event is parked once its give-up time has passed and the
/// subscription paused with the reason; resumed and replayed, the same events come again under
/// their own ids.
#[tokio::test]
async fn a_receiver_down_for_good_parks_the_event_and_pauses_and_a_replay_delivers_again() {
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone())
        .with_private_webhooks(true)
        .with_webhook_retry(RetryPolicy {
            first_wait: Duration::from_millis(5),
            give_up_after: Duration::from_millis(200),
        });
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let switch = up.clone();
    let (url, got) = receiver(move |_| {
        if switch.load(std::sync::atomic::Ordering::SeqCst) {
            (Some(200), Duration::ZERO)
        } else {
            (Some(500), Duration::ZERO)
        }
    })
    .await;
    let made = core
        .create_webhook(
            &cli_admin(),
            SubscriptionRequest {
                url,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    contoso(&core).await;
    let started = std::time::Instant::now();
    loop {
        numbat::hooks::deliver_due(&core, "node-a").await.unwrap();
        let view = core.webhook(&cli_admin(), made.id).await.unwrap();
        if view.state == "paused" {
            assert!(
                view.paused_reason.unwrap().contains("parked"),
                "the notice says why"
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never paused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = core
        .webhook_deliveries(&cli_admin(), made.id, 100)
        .await
        .unwrap();
    assert_eq!(log[0].outcome, "parked");
    assert!(log.len() >= 2, "tried again before giving up: {log:?}");
    // The metrics show it: paused, its attempts by outcome, the parked event still waiting.
    let app = numbat::server::router(numbat::state::AppState::new(
        test.db.clone(),
        std::path::Path::new("/none"),
    ));
    let metric = |text: &str, name: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let of = |name: &str| format!("{name}{{subscription=\"{}\"", made.id);
    let (_, text) = crate::common::get(&app, "/metrics").await;
    assert_eq!(metric(&text, &of("numbat_webhook_paused")), 1.0, "{text}");
    let parked = format!(
        "{},outcome=\"parked\"}}",
        of("numbat_webhook_deliveries_total")
    );
    assert_eq!(metric(&text, &parked), 1.0, "{text}");
    let failed = format!(
        "{},outcome=\"failed\"}}",
        of("numbat_webhook_deliveries_total")
    );
    assert_eq!(metric(&text, &failed), (log.len() - 1) as f64, "{text}");
    assert_eq!(
        metric(&text, &of("numbat_webhook_queue_depth")),
        1.0,
        "{text}"
    );
    assert!(metric(&text, &of("numbat_webhook_oldest_undelivered_age_seconds")) > 0.0);
    // Paused: nothing more is tried.
    let tried = log.len();
    numbat::hooks::deliver_due(&core, "node-a").await.unwrap();
    assert_eq!(
        core.webhook_deliveries(&cli_admin(), made.id, 100)
            .await
            .unwrap()
            .len(),
        tried
    );

    // The receiver is back: resumed, the parked event comes first.
    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let parked_id = log[0].event_id.clone();
    core.change_webhook(&cli_admin(), made.id, true, None)
        .await
        .unwrap();
    deliver_until(&core, || {
        got.lock().unwrap().iter().any(|r| r.id == parked_id)
    })
    .await;
    assert_eq!(
        got.lock().unwrap()[0].id,
        parked_id,
        "the parked event first"
    );
    let (_, text) = crate::common::get(&app, "/metrics").await;
    assert_eq!(metric(&text, &of("numbat_webhook_paused")), 0.0, "{text}");
    assert_eq!(
        metric(&text, &of("numbat_webhook_queue_depth")),
        0.0,
        "{text}"
    );
    let delivered = format!(
        "{},outcome=\"delivered\"}}",
        of("numbat_webhook_deliveries_total")
    );
    assert_eq!(metric(&text, &delivered), 1.0, "{text}");
    assert_eq!(
        metric(&text, &of("numbat_webhook_oldest_undelivered_age_seconds")),
        0.0
    );
    // Replayed from the start: the same events again, under their own ids.
    core.change_webhook(&cli_admin(), made.id, false, Some("0.0"))
        .await
        .unwrap();
    deliver_until(&core, || {
        got.lock()
            .unwrap()
            .iter()
            .filter(|r| r.id == parked_id)
            .count()
            >= 2
    })
    .await;
    // One event again, out of turn: the receiver gets it under its own id, the log says who
    // asked, and the subscription's place is left as it was.
    let before = core.webhook(&cli_admin(), made.id).await.unwrap();
    let copies = |id: &str| got.lock().unwrap().iter().filter(|r| r.id == id).count();
    let had = copies(&parked_id);
    let again = numbat::hooks::redeliver(&core, &cli_admin(), made.id, &parked_id)
        .await
        .unwrap();
    assert_eq!(again.outcome, "delivered", "{again:?}");
    assert!(again.id > 0, "the attempt as the log keeps it: {again:?}");
    assert_eq!(
        again.requested_by.as_deref(),
        Some(cli_admin().principal.as_str())
    );
    assert_eq!(copies(&parked_id), had + 1);
    let log = core
        .webhook_deliveries(&cli_admin(), made.id, 1)
        .await
        .unwrap();
    assert_eq!(log[0].event_id, parked_id);
    assert_eq!(log[0].id, again.id);
    assert!(log[0].requested_by.is_some());
    assert_eq!(
        core.webhook(&cli_admin(), made.id).await.unwrap().cursor,
        before.cursor
    );
    let refused = numbat::hooks::redeliver(&core, &cli_admin(), made.id, "0.999999")
        .await
        .unwrap_err();
    assert_eq!(refused.violations().unwrap().0[0].field, "event");
    // A new secret: for a while each delivery is signed under both, so either verifies.
    let old_secret = made.secret.clone().unwrap();
    let rotated = core
        .rotate_webhook_secret(&cli_admin(), made.id)
        .await
        .unwrap();
    let new_secret = rotated.secret.unwrap();
    let account = Account::named(AccountName::parse("after-rotation").unwrap());
    core.put_account(&cli_admin(), account, Precondition::NONE)
        .await
        .unwrap();
    deliver_until(&core, || {
        got.lock()
            .unwrap()
            .iter()
            .any(|r| r.body.contains("after-rotation"))
    })
    .await;
    let last = got.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.signature.split(' ').count(), 2, "{}", last.signature);
    assert!(verifies(&old_secret, &last) && verifies(&new_secret, &last));

    let refused = core
        .change_webhook(&cli_admin(), made.id, false, Some("yesterday"))
        .await
        .unwrap_err();
    assert_eq!(refused.violations().unwrap().0[0].field, "since");

    // The log keeps a month: older attempts are forgotten, the counts stay.
    assert_eq!(core.forget_old_webhook_attempts().await.unwrap(), 0);
    let kept = core
        .webhook_deliveries(&cli_admin(), made.id, 1000)
        .await
        .unwrap()
        .len();
    let attempts = core.webhook(&cli_admin(), made.id).await.unwrap().attempts;
    let numbat::store::Database::Sqlite(pool) = &test.db else {
        unreachable!()
    };
    sqlx::query("UPDATE webhook_deliveries SET at = '2026-01-01T00:00:00.000Z'")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        core.forget_old_webhook_attempts().await.unwrap(),
        kept as u64
    );
    assert!(core
        .webhook_deliveries(&cli_admin(), made.id, 1000)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        core.webhook(&cli_admin(), made.id).await.unwrap().attempts,
        attempts
    );
    test.remove().await;
}

/// 10,000 changes written through the API of real `numbat serve` processes to a receiver that
/// fails on purpose (503s, dropped connections, slow answers, events taken and the connection
/// dropped), with the delivering process SIGKILLed mid-delivery: on SQLite the one server, then
/// started again; on PostgreSQL one of two, the other taking the subscription over. Every event
/// arrives, signed; the first arrivals are exactly the change feed's events, each number's in
/// commit order; a duplicate only ever comes under the same id with the same body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_changes_through_real_servers_all_arrive_across_a_sigkill_mid_delivery() {
    use crate::bulk_resume::Node;
    use serde_json::{json, Value};
    const NUMBERS: usize = 5_000;
    const BATCH: usize = 100;
    const V: &str = "api-version=2024-02-29-preview";
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let postgres = test.url.starts_with("postgres");
        let core = Provisioning::new(test.db.clone());
        contoso(&core).await;
        let token =
            crate::common::api_token(&test.db, "bss", &[numbat::provisioning::Role::Admin]).await;
        let (url, got) = receiver(|n| match n {
            n if n % 10 == 3 => (Some(503), Duration::ZERO),
            n if n % 23 == 5 => (None, Duration::ZERO),
            n if n % 31 == 7 => (Some(200), Duration::from_millis(30)),
            n if n % 37 == 11 => (Some(0), Duration::ZERO),
            _ => (Some(204), Duration::ZERO),
        })
        .await;
        let flags = [
            "--webhooks-allow-private",
            "--webhooks-first-retry-ms",
            "20",
        ];
        let mut nodes = vec![Node::start_with(&test.url, 30, &flags)];
        if postgres {
            nodes.push(Node::start_with(&test.url, 30, &flags));
        }
        let http = reqwest::Client::new();
        let made: Value = http
            .post(nodes[0].url(&format!("/provisioning/webhooks?{V}")))
            .bearer_auth(&token)
            .json(&json!({ "url": url, "types": ["number"] }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = made["secret"].as_str().unwrap().to_owned();

        // 5,000 numbers made, then each changed: 10,000 changes, a batch of 100 at a time.
        let mut killed_at = None;
        for round in 0..2 {
            for batch in 0..NUMBERS / BATCH {
                if killed_at.is_none() && got.lock().unwrap().len() >= 2_000 {
                    killed_at = Some(got.lock().unwrap().len());
                    nodes[0].kill();
                    if postgres {
                        nodes.remove(0);
                    } else {
                        nodes[0] = Node::start_with(&test.url, 30, &flags);
                    }
                }
                let numbers: Vec<Value> = (batch * BATCH..(batch + 1) * BATCH)
                    .map(|i| {
                        let mut n = json!({ "telephoneNumber": format!("+4420794{i:05}"),
                            "accountName": "contoso",
                            "serviceDetails": { "teamsDirectRouting": { "enabled": true } } });
                        if round == 1 {
                            n["configuration"] =
                                json!({ "customSipHeader": format!("changed-{i}") });
                        }
                        n
                    })
                    .collect();
                let node = &nodes[batch % nodes.len()];
                let answer = http
                    .post(node.url(&format!(
                        "/provisioning/accounts/contoso:createOrUpdateNumbers?{V}"
                    )))
                    .bearer_auth(&token)
                    .json(&json!({ "numbers": numbers }))
                    .send()
                    .await
                    .unwrap();
                assert!(answer.status().is_success(), "{}", answer.status());
            }
        }
        if killed_at.is_none() {
            let started = std::time::Instant::now();
            while got.lock().unwrap().len() < 2_000 {
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "no deliveries"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            killed_at = Some(got.lock().unwrap().len());
            nodes[0].kill();
            if postgres {
                nodes.remove(0);
            } else {
                nodes[0] = Node::start_with(&test.url, 30, &flags);
            }
        }

        // Everything arrives: after the dead process's lease, another takes over.
        let started = std::time::Instant::now();
        loop {
            let ids: HashSet<String> = got.lock().unwrap().iter().map(|r| r.id.clone()).collect();
            if ids.len() >= 2 * NUMBERS {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "{} of {} events arrived ({})",
                ids.len(),
                2 * NUMBERS,
                test.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // The feed, read through the surviving server, holds exactly those events.
        let mut feed: Vec<Value> = Vec::new();
        let mut cursor = "0.0".to_owned();
        loop {
            let page: Value = http
                .get(nodes[0].url(&format!(
                    "/provisioning/events?{V}&after={cursor}&maxpagesize=1000"
                )))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let read = page["value"].as_array().unwrap().clone();
            if read.is_empty() {
                break;
            }
            cursor = page["cursor"].as_str().unwrap().to_owned();
            feed.extend(read);
        }
        let feed: Vec<Value> = feed
            .into_iter()
            .filter(|e| e["resourceType"] == "number")
            .collect();
        assert_eq!(feed.len(), 2 * NUMBERS, "{}", test.url);
        let got = got.lock().unwrap().clone();
        let mut first: Vec<&Received> = Vec::new();
        let mut bodies: HashMap<&str, &str> = HashMap::new();
        for r in &got {
            assert!(verifies(&secret, r), "signature of {}", r.id);
            match bodies.get(r.id.as_str()) {
                Some(body) => assert_eq!(*body, r.body, "a duplicate of {} differs", r.id),
                None => {
                    bodies.insert(&r.id, &r.body);
                    first.push(r);
                }
            }
        }
        let arrived: Vec<&str> = first.iter().map(|r| r.id.as_str()).collect();
        let carried: Vec<(&str, &str)> = feed
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().unwrap(),
                    e["resourceKey"].as_str().unwrap(),
                )
            })
            .collect();
        assert_in_order_per_resource(&arrived, &carried, &test.url);
        for e in &feed {
            let body: Value = serde_json::from_str(bodies[e["id"].as_str().unwrap()]).unwrap();
            assert_eq!(&body, e, "the delivery is the feed's event");
        }
        println!(
            "{}: {} requests for {} events, killed after {}",
            test.url,
            got.len(),
            first.len(),
            killed_at.unwrap()
        );
        for node in &mut nodes {
            node.stop();
        }
        test.remove().await;
    }
}

/// The delivering loop as a server runs it: a receiver that takes seconds to answer holds up
/// only its own subscription; another subscription's receiver gets the same change at once.
#[tokio::test]
async fn a_slow_receiver_holds_up_only_its_own_subscription() {
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone()).with_private_webhooks(true);
    let (slow_url, slow) = receiver(|_| (Some(204), Duration::from_secs(6))).await;
    let (fast_url, fast) = receiver(|_| (Some(204), Duration::ZERO)).await;
    for url in [slow_url, fast_url] {
        core.create_webhook(
            &cli_admin(),
            SubscriptionRequest {
                url,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let delivering = numbat::hooks::start(core.clone());
    contoso(&core).await;
    let started = std::time::Instant::now();
    while fast.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the fast receiver waited for the slow one"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        slow.lock().unwrap().is_empty(),
        "the slow one is still answering"
    );
    // A second change reaches the fast receiver while the slow one still holds its first.
    core.put_account(
        &cli_admin(),
        Account::named(AccountName::parse("second").unwrap()),
        Precondition::NONE,
    )
    .await
    .unwrap();
    while fast.lock().unwrap().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the second change waited"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    while slow.lock().unwrap().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the slow one never caught up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    delivering.abort();
    test.remove().await;
}

/// A subscription to a plain-http receiver, made where private receivers were allowed (a lab,
/// the command line's --allow-private), is not sent in the clear by a server that allows only
/// https: the attempt fails, saying why, and the receiver hears nothing.
#[tokio::test]
async fn a_plain_http_subscription_is_not_sent_by_a_server_that_allows_only_https() {
    let test = TestDb::sqlite().await.migrated().await;
    let lab = Provisioning::new(test.db.clone()).with_private_webhooks(true);
    let (url, got) = receiver(|_| (Some(204), Duration::ZERO)).await;
    let made = lab
        .create_webhook(
            &cli_admin(),
            SubscriptionRequest {
                url,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Its retry far off, so the round ends at the first failure.
    let strict = Provisioning::new(test.db.clone()).with_webhook_retry(RetryPolicy {
        first_wait: Duration::from_secs(60),
        ..Default::default()
    });
    contoso(&strict).await;
    numbat::hooks::deliver_due(&strict, "strict").await.unwrap();
    let log = strict
        .webhook_deliveries(&cli_admin(), made.id, 10)
        .await
        .unwrap();
    assert_eq!(log[0].outcome, "failed", "{log:?}");
    assert!(
        log[0]
            .answer
            .as_deref()
            .unwrap_or_default()
            .contains("not https"),
        "{log:?}"
    );
    assert!(got.lock().unwrap().is_empty());
    test.remove().await;
}
