//! Webhook deliveries to a local receiver, on SQLite and on PostgreSQL (when it answers), with
//! the server's own delivering loop (`hooks::start`):
//!
//! - at a steady rate of changes (default 1,000 a second for 10 seconds, each a number assigned
//!   in its own transaction, spread over 20 accounts as an operator's customers would be), the
//!   time from each change's commit to its delivery: p50, p95, p99;
//! - a backlog (a subscription made afterwards, from the feed's start): events delivered a
//!   second.
//!
//! Prints figures; asserts only that every event arrived.
//! `cargo bench --bench webhooks` (`-- --rate N --seconds S --accounts A --batch B`): with
//! `--batch B`, each transaction assigns B numbers of one account (the API's batch PUT), at
//! rate/B transactions a second; every number in it counts from that transaction's commit.
//! Without `--batch`, it runs one number to a transaction and then ten, each on a new database.

use numbat::domain::{
    Account, AccountName, AccountServices, Number, NumberServices, Service, TelephoneNumber,
};
use numbat::provisioning::webhooks::SubscriptionRequest;
use numbat::provisioning::{Actor, Door, Precondition, Provisioning, Role};
use numbat::store::Database;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

/// When each number's event reached the receiver, by subscription path.
type Arrivals = Arc<Mutex<HashMap<(String, String), Instant>>>;

/// A receiver on a loopback port answering 204 to each request (keeping connections open),
/// noting when each number's event first came, per path.
async fn receiver() -> (String, Arrivals) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let arrivals: Arrivals = Arc::default();
    let kept = arrivals.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 16384];
                loop {
                    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&data[..end]).into_owned();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while data.len() < end + 4 + length {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&buf[..n]),
                        }
                    }
                    let now = Instant::now();
                    let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                    let body: serde_json::Value =
                        serde_json::from_slice(&data[end + 4..end + 4 + length])
                            .unwrap_or_default();
                    if let Some(key) = body["resourceKey"].as_str() {
                        kept.lock()
                            .unwrap()
                            .entry((path, key.to_owned()))
                            .or_insert(now);
                    }
                    data.drain(..end + 4 + length);
                    if socket
                        .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (base, arrivals)
}

fn account(a: usize) -> AccountName {
    AccountName::parse(&format!("hooked{a}")).unwrap()
}

fn number(i: usize, a: usize) -> Number {
    Number {
        telephone_number: TelephoneNumber::parse(&format!("+44207{i:07}")).unwrap(),
        account_name: account(a),
        services: NumberServices::only(Service::TeamsDirectRouting, None),
        custom_sip_header: None,
    }
}

async fn subscribe(core: &Provisioning, actor: &Actor, url: String, from_start: bool) {
    core.create_webhook(
        actor,
        SubscriptionRequest {
            url,
            types: vec!["number".to_owned()],
            from_start,
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

async fn wait_for(arrivals: &Arrivals, path: &str, count: usize, limit: Duration) -> bool {
    let started = Instant::now();
    loop {
        let got = arrivals
            .lock()
            .unwrap()
            .keys()
            .filter(|(p, _)| p == path)
            .count();
        if got >= count {
            return true;
        }
        if started.elapsed() > limit {
            println!("  only {got} of {count} events arrived at {path}");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How the changes are written.
#[derive(Clone, Copy)]
struct Load {
    rate: usize,
    seconds: usize,
    accounts: usize,
    batch: usize,
}

async fn run(label: &'static str, db: Database, load: Load) {
    let Load {
        rate,
        seconds,
        accounts,
        batch,
    } = load;
    let core = Provisioning::new(db).with_private_webhooks(true);
    let actor = Actor::new("bench", &[Role::Admin], Door::Cli);
    for a in 0..accounts {
        core.put_account(
            &actor,
            Account {
                services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
                ..Account::named(account(a))
            },
            Precondition::NONE,
        )
        .await
        .unwrap();
    }
    let (base, arrivals) = receiver().await;
    subscribe(&core, &actor, format!("{base}/steady"), false).await;
    let delivering = numbat::hooks::start(core.clone());

    // Changes at `rate` a second, `batch` to a transaction; when each committed.
    let transactions = (rate * seconds).div_ceil(batch);
    let total = transactions * batch;
    let committed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let writers = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tick = tokio::time::interval(Duration::from_secs(1) * batch as u32 / rate as u32);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..transactions {
        tick.tick().await;
        let permit = writers.clone().acquire_owned().await.unwrap();
        let (core, actor, committed) = (core.clone(), actor.clone(), committed.clone());
        tasks.spawn(async move {
            let a = t % accounts;
            let numbers: Vec<Number> = (t * batch..(t + 1) * batch).map(|i| number(i, a)).collect();
            let keys: Vec<String> = numbers
                .iter()
                .map(|n| n.telephone_number.as_str().to_owned())
                .collect();
            if batch == 1 {
                let n = numbers.into_iter().next().unwrap();
                core.put_number(&actor, n, Precondition::NONE)
                    .await
                    .unwrap();
            } else {
                core.upsert_numbers(&actor, &account(a), numbers)
                    .await
                    .unwrap();
            }
            let now = Instant::now();
            let mut committed = committed.lock().unwrap();
            for key in keys {
                committed.insert(key, now);
            }
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    let writing = started.elapsed();
    let all = wait_for(&arrivals, "/steady", total, Duration::from_secs(120)).await;
    let arrived = arrivals.lock().unwrap().clone();
    let committed = committed.lock().unwrap().clone();
    let latencies: Vec<Duration> = committed
        .iter()
        .filter_map(|(key, at)| {
            arrived
                .get(&("/steady".to_owned(), key.clone()))
                .map(|got| got.saturating_duration_since(*at))
        })
        .collect();
    println!(
        "{label:<8} {total} changes at {:.0}/s (asked {rate}/s; {batch} to a transaction, {accounts} accounts): commit to delivery {}{}",
        total as f64 / writing.as_secs_f64(),
        support::summary(latencies),
        if all { "" } else { "  (NOT ALL ARRIVED)" }
    );

    // A backlog: a new subscription from the feed's start delivers every event so far.
    let started = Instant::now();
    subscribe(&core, &actor, format!("{base}/backlog"), true).await;
    let all = wait_for(&arrivals, "/backlog", total, Duration::from_secs(300)).await;
    let took = started.elapsed();
    println!(
        "{label:<8} backlog of {total} events: {:.0} events/s ({:.1} s){}",
        total as f64 / took.as_secs_f64(),
        took.as_secs_f64(),
        if all { "" } else { "  (NOT ALL ARRIVED)" }
    );
    delivering.abort();
}

#[tokio::main]
async fn main() {
    let batches = match support::arg("--batch", 0) {
        0 => vec![1, 10],
        batch => vec![batch],
    };
    for batch in batches {
        let load = Load {
            rate: support::arg("--rate", 1_000).max(1),
            seconds: support::arg("--seconds", 10).max(1),
            accounts: support::arg("--accounts", 20).max(1),
            batch,
        };
        support::on_each_database(|label, db| run(label, db, load)).await;
    }
}
