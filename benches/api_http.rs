//! The Provisioning API over loopback HTTP: 4 clients sending batches of 100 numbers, then
//! single-number PUTs paced at 500 requests a second. Prints numbers/s and latencies for SQLite,
//! and for PostgreSQL when `NUMBAT_BENCH_POSTGRES_URL` (default the local server) answers.
//!
//! `cargo bench --bench api_http` (`-- --batches N` per client, default 500: 200,000 numbers).

use numbat::provisioning::Role;
use numbat::server::router;
use numbat::state::AppState;
use numbat::store::Database;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::summary;

mod support;

const CLIENTS: usize = 4;
const BATCH: usize = 100;
const V: &str = "api-version=2024-02-29-preview";

fn number(serial: usize, account: &str) -> Value {
    json!({
        "telephoneNumber": format!("+4420{serial:08}"),
        "accountName": account,
        "serviceDetails": { "teamsDirectRouting": { "enabled": true } },
        "configuration": { "customSipHeader": format!("cc-{}", serial % 97) }
    })
}

async fn run(label: &str, db: Database, batches: usize) {
    let admin = numbat::provisioning::Actor::new(
        "cli:bench",
        &[Role::Admin],
        numbat::provisioning::Door::Cli,
    );
    let token = numbat::provisioning::Provisioning::new(db.clone())
        .create_token(&admin, "bench", &[Role::Admin])
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/provisioning", listener.local_addr().unwrap());
    let app = router(AppState::new(db.clone(), std::path::Path::new("/none")));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()
        .unwrap();
    let auth = format!("Bearer {token}");

    for client in 0..CLIENTS {
        let account = json!({ "name": format!("client-{client}"), "serviceDetails": { "teamsDirectRouting": { "enabled": true, "syncEnabled": false } } });
        let response = http
            .put(format!("{base}/accounts/client-{client}?{V}"))
            .header("authorization", &auth)
            .json(&account)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    let started = Instant::now();
    let mut workers = Vec::new();
    for client in 0..CLIENTS {
        let (http, base, auth) = (http.clone(), base.clone(), auth.clone());
        workers.push(tokio::spawn(async move {
            let account = format!("client-{client}");
            let mut times = Vec::with_capacity(batches);
            for b in 0..batches {
                let first = (client * batches + b) * BATCH;
                let numbers: Vec<Value> = (first..first + BATCH)
                    .map(|s| number(s, &account))
                    .collect();
                let t = Instant::now();
                let response = http
                    .post(format!(
                        "{base}/accounts/{account}:createOrUpdateNumbers?{V}"
                    ))
                    .header("authorization", &auth)
                    .json(&json!({ "numbers": numbers }))
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                response.bytes().await.unwrap();
                assert!(status.is_success(), "{status}");
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut batch_times = Vec::new();
    for worker in workers {
        batch_times.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed();
    let total = CLIENTS * batches * BATCH;
    println!(
        "{label}: batches over HTTP: {total} numbers by {CLIENTS} clients in {:.1} s: {:.0} numbers/s; batch {}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        summary(batch_times)
    );

    // Single PUTs paced at 500 a second (2 ms apart) across 4 clients, 10 seconds.
    let rate = 500.0;
    let count = 5000;
    let started = Instant::now();
    let mut workers = Vec::new();
    for client in 0..CLIENTS {
        let (http, base, auth) = (http.clone(), base.clone(), auth.clone());
        workers.push(tokio::spawn(async move {
            let account = format!("client-{client}");
            let mut times = Vec::new();
            for i in (client..count).step_by(CLIENTS) {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let serial = 50_000_000 + i;
                let path = format!("{base}/accounts/{account}/numbers/%2B4420{serial:08}?{V}");
                let t = Instant::now();
                let response = http
                    .put(path)
                    .header("authorization", &auth)
                    .json(&number(serial, &account))
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                response.bytes().await.unwrap();
                assert!(status.is_success(), "{status}");
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut put_times = Vec::new();
    for worker in workers {
        put_times.extend(worker.await.unwrap());
    }
    let achieved = count as f64 / started.elapsed().as_secs_f64();
    println!(
        "{label}: single PUTs paced at {rate:.0}/s (achieved {achieved:.0}/s): {}",
        summary(put_times)
    );
}

#[tokio::main]
async fn main() {
    let batches = support::arg("--batches", 500);
    support::on_each_database(|label, db| async move { run(label, db, batches).await }).await;
}
