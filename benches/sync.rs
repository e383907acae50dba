//! Sync throughput: numbers written with sync on, pushed to the Operator Connect emulator by the
//! outbox workers until every one is synced; numbers a second, with no faults and with about
//! 30% of requests failing (5xx, dropped connections, bursts of 429) plus up to 20 ms of added
//! latency. SQLite always; PostgreSQL when `NUMBAT_BENCH_POSTGRES_URL` (default the local
//! server) answers. The emulator runs in the same process (on its own port), so it shares the
//! machine's two cores with the workers and the database.
//!
//! `cargo bench --bench sync` syncs 20,000 numbers with 2 workers, 500 numbers an order, orders
//! that take 200 ms; `-- --numbers N --workers W --batch B --order-delay-ms D` changes that.
//! Prints figures; asserts only that everything ended synced.

use numbat::domain::number::{Capability, NumberService, TeamsNumberConfig, Usage};
use numbat::domain::{
    Account, AccountName, AccountServices, Number, NumberServices, Service, TelephoneNumber,
    TenantId,
};
use numbat::provisioning::{Actor, Door, Precondition, Provisioning, Role};
use numbat::store::Database;
use numbat::sync::emulator::EmulatorConfig;
use numbat::sync::{OcClient, OcConfig, Worker, WorkerConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[allow(dead_code)]
mod support;

struct Settings {
    numbers: usize,
    workers: usize,
    batch: usize,
    order_delay: Duration,
}

fn number(serial: usize, account: &AccountName) -> Number {
    let config = TeamsNumberConfig {
        usage: Usage::FirstPartyAppAssignment,
        choosable_capabilities: vec![Capability::parse("InboundCalling").unwrap()],
        additional_usages: vec![],
        civic_address_id: None,
        location_id: None,
        allow_tenant_address_update: false,
        displayed_country_code: None,
    };
    Number {
        telephone_number: TelephoneNumber::parse(&format!("+44203{serial:07}")).unwrap(),
        account_name: account.clone(),
        services: NumberServices::only(
            Service::TeamsOperatorConnect,
            Some(NumberService {
                enabled: true,
                assignment_status: None,
                configuration: Some(config),
            }),
        ),
        custom_sip_header: None,
    }
}

async fn pending(db: &Database) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM numbers WHERE provisioning_status <> 'synced'";
    match db {
        Database::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
        Database::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
    }
}

async fn run(label: &str, db: Database, faulty: bool, settings: &Settings) {
    let mut config = EmulatorConfig {
        order_delay: settings.order_delay,
        ..EmulatorConfig::default()
    };
    if faulty {
        config.latency = Duration::from_millis(20);
        config.error_rate = 0.2;
        config.drop_rate = 0.05;
        config.throttle_rate = 0.05;
        config.throttle_burst = 3;
        config.retry_after = 1;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let emulator = tokio::spawn(numbat::sync::emulator::serve(listener, config));

    let core = Provisioning::new(db.clone());
    let actor = Actor::new("bench", &[Role::Admin], Door::Cli);
    let tenants: Vec<String> = numbat::demo::consents()
        .into_iter()
        .map(|c| c.tenant_id.as_str().to_owned())
        .collect();
    let load_started = Instant::now();
    for (i, tenant) in tenants.iter().enumerate() {
        let name = AccountName::parse(&format!("tenant-{i}")).unwrap();
        let account = Account {
            teams_tenant_id: Some(TenantId::parse(tenant).unwrap()),
            services: AccountServices::default().with(Service::TeamsOperatorConnect, true, true),
            ..Account::named(name.clone())
        };
        core.put_account(&actor, account, Precondition::NONE)
            .await
            .unwrap();
        let mine: Vec<Number> = (i..settings.numbers)
            .step_by(tenants.len())
            .map(|serial| number(serial, &name))
            .collect();
        for chunk in mine.chunks(1_000) {
            core.upsert_numbers(&actor, &name, chunk.to_vec())
                .await
                .unwrap();
        }
    }
    let loaded = load_started.elapsed();

    let client = Arc::new(
        OcClient::new(OcConfig::at(
            &url,
            "operator",
            "numbat",
            "numbat-emulator-secret",
        ))
        .unwrap(),
    );
    let worker_config = WorkerConfig {
        batch_size: settings.batch as i64,
        poll_interval: Duration::from_millis(50),
        idle_wait: Duration::from_millis(50),
        backoff_base: Duration::from_millis(100),
        backoff_cap: Duration::from_secs(5),
        ..WorkerConfig::default()
    };
    let started = Instant::now();
    let workers: Vec<_> = (0..settings.workers)
        .map(|_| tokio::spawn(Worker::new(db.clone(), client.clone(), worker_config.clone()).run()))
        .collect();
    while pending(&db).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(1_800),
            "sync did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    for worker in workers {
        worker.abort();
    }
    let stats: serde_json::Value = reqwest::get(format!("{url}/emulator/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    emulator.abort();
    let figures = core.outbox_figures().await.unwrap();
    println!(
        "{label:<8} {:<11} {:>7} numbers synced in {:>7.2} s: {:>7.0} numbers/s  (loaded in {:.1} s; \
         {} requests, {} 5xx, {} drops, {} 429s; {} orders, {} asked again; {} batch resends)",
        if faulty { "30% faults" } else { "no faults" },
        settings.numbers,
        took.as_secs_f64(),
        settings.numbers as f64 / took.as_secs_f64(),
        loaded.as_secs_f64(),
        stats["requests"],
        stats["injectedErrors"],
        stats["injectedDrops"],
        stats["injectedThrottles"],
        stats["ordersCreated"],
        stats["ordersRepeated"],
        figures.resent,
    );
}

#[tokio::main]
async fn main() {
    let settings = Settings {
        numbers: support::arg("--numbers", 20_000),
        workers: support::arg("--workers", 2),
        batch: support::arg("--batch", 500),
        order_delay: Duration::from_millis(support::arg("--order-delay-ms", 200) as u64),
    };
    println!(
        "sync throughput: {} workers, {} numbers an order, orders take {} ms, polled every 50 ms",
        settings.workers,
        settings.batch,
        settings.order_delay.as_millis()
    );
    for faulty in [false, true] {
        support::on_each_database(|label, db| {
            let settings = &settings;
            async move { run(label, db, faulty, settings).await }
        })
        .await;
    }
}
