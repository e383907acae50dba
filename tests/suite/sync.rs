//! Flow-through sync against the Operator Connect emulator (run as its own process): numbers
//! reach synced or failed with the upstream's reason, thousands survive injected faults with
//! nothing lost or sent twice, a worker killed mid-batch is taken over, and two workers on one
//! PostgreSQL database never run one job twice.

use crate::common::{self, TestDb};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use numbat::domain::number::{Capability, NumberService, TeamsNumberConfig, Usage};
use numbat::domain::{
    Account, AccountName, AccountServices, Number, NumberServices, ProvisioningStatus, Service,
    TelephoneNumber, TenantId,
};
use numbat::provisioning::{Actor, Door, Precondition, Provisioning, Role};
use numbat::store::Database;
use numbat::sync::{OcClient, OcConfig, Worker, WorkerConfig};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demonstration consents the emulator starts with (GB and IE numbers).
pub(crate) const FABRIKAM: &str = "3f2b8c1a-5d4e-4f6a-9b7c-0e1d2c3b4a59";
const CONTOSO: &str = "7a9c0e2d-1b3f-4c5d-8e6f-a0b1c2d3e4f5";
const NORTHWIND: &str = "c4d5e6f7-0a1b-4c2d-9e3f-5a6b7c8d9e0f";

/// `numbat oc-emulator` on a free port, stopped when dropped.
pub(crate) struct Emulator {
    pub(crate) url: String,
    child: Child,
}

impl Emulator {
    pub(crate) async fn start(flags: &[&str]) -> Self {
        // Below the ephemeral range, like every port a test hands to a process it starts.
        let port = crate::edge::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_numbat"))
            .args(["oc-emulator", "--listen", &format!("127.0.0.1:{port}")])
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start the emulator");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{url}/emulator/health"))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the emulator did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Emulator { url, child }
    }

    fn client(&self) -> Arc<OcClient> {
        let config = OcConfig::at(&self.url, "operator", "numbat", "numbat-emulator-secret");
        Arc::new(OcClient::new(config).unwrap())
    }

    pub(crate) async fn admin(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The numbers the emulator holds: number → (tenant, uploads).
    pub(crate) async fn held(&self) -> std::collections::BTreeMap<String, (String, u64)> {
        let held = self.admin("/emulator/numbers").await;
        held["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["telephoneNumber"].as_str().unwrap().to_owned(),
                    (
                        n["tenantId"].as_str().unwrap().to_owned(),
                        n["uploads"].as_u64().unwrap(),
                    ),
                )
            })
            .collect()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A worker that paces itself for tests: short polls, short backoff, short leases.
fn quick_worker(db: &Database, client: Arc<OcClient>) -> Worker {
    Worker::new(
        db.clone(),
        client,
        WorkerConfig {
            batch_size: 250,
            lease: Duration::from_secs(10),
            poll_interval: Duration::from_millis(50),
            idle_wait: Duration::from_millis(50),
            backoff_base: Duration::from_millis(50),
            backoff_cap: Duration::from_secs(2),
            max_attempts: 1_000,
        },
    )
}

fn admin() -> Actor {
    Actor::new("tester", &[Role::Admin], Door::Cli)
}

pub(crate) fn synced_account(name: &str, tenant: &str) -> Account {
    Account {
        teams_tenant_id: Some(TenantId::parse(tenant).unwrap()),
        services: AccountServices::default().with(Service::TeamsOperatorConnect, true, true),
        ..Account::named(AccountName::parse(name).unwrap())
    }
}

fn oc_number(number: &str, account: &str) -> Number {
    Number {
        telephone_number: TelephoneNumber::parse(number).unwrap(),
        account_name: AccountName::parse(account).unwrap(),
        services: NumberServices::only(
            Service::TeamsOperatorConnect,
            Some(NumberService {
                enabled: true,
                assignment_status: None,
                configuration: Some(TeamsNumberConfig {
                    usage: Usage::CallingUserAssignment,
                    choosable_capabilities: vec![
                        Capability::parse("InboundCalling").unwrap(),
                        Capability::parse("OutboundCalling").unwrap(),
                    ],
                    additional_usages: vec![],
                    civic_address_id: None,
                    location_id: None,
                    allow_tenant_address_update: true,
                    displayed_country_code: None,
                }),
            }),
        ),
        custom_sip_header: None,
    }
}

/// London numbers +44 20 3xxx xxxx, `count` of them from `first`.
fn london(first: usize, count: usize) -> Vec<String> {
    (first..first + count)
        .map(|i| format!("+44203{i:07}"))
        .collect()
}

/// Loads `numbers` into accounts a0, a1, a2 (one per demonstration tenant), in turn.
async fn load(
    core: &Provisioning,
    numbers: &[String],
) -> std::collections::BTreeMap<String, String> {
    let tenants = [FABRIKAM, CONTOSO, NORTHWIND];
    for (i, tenant) in tenants.iter().enumerate() {
        core.put_account(
            &admin(),
            synced_account(&format!("a{i}"), tenant),
            Precondition::NONE,
        )
        .await
        .unwrap();
    }
    let mut expected = std::collections::BTreeMap::new();
    for (i, tenant) in tenants.iter().enumerate() {
        let account = format!("a{i}");
        let mine: Vec<Number> = numbers
            .iter()
            .skip(i)
            .step_by(tenants.len())
            .map(|n| {
                expected.insert(n.clone(), (*tenant).to_owned());
                oc_number(n, &account)
            })
            .collect();
        for chunk in mine.chunks(1_000) {
            core.upsert_numbers(
                &admin(),
                &AccountName::parse(&account).unwrap(),
                chunk.to_vec(),
            )
            .await
            .unwrap();
        }
    }
    expected
}

async fn count(db: &Database, sql: &str) -> i64 {
    match db {
        Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

/// Runs `worker` until the outbox is empty (waiting out put-off batches), or panics after a
/// minute.
async fn drain(worker: &Worker, db: &Database) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if worker.run_once().await.unwrap() {
            continue;
        }
        let unfinished = count(
            db,
            "SELECT COUNT(*) FROM outbox_jobs WHERE state IN ('pending', 'running')",
        )
        .await;
        if unfinished == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{unfinished} jobs never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no number is pending, or panics after `limit`.
pub(crate) async fn until_settled(db: &Database, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let pending = count(
            db,
            "SELECT COUNT(*) FROM numbers WHERE provisioning_status = 'pending'",
        )
        .await;
        if pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} numbers still pending after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Numbat's synced numbers equal the emulator's, each uploaded exactly once.
async fn assert_same_state(
    db: &Database,
    emulator: &Emulator,
    expected: &std::collections::BTreeMap<String, String>,
) {
    let synced = count(
        db,
        "SELECT COUNT(*) FROM numbers WHERE provisioning_status = 'synced'",
    )
    .await;
    let failed = count(
        db,
        "SELECT COUNT(*) FROM numbers WHERE provisioning_status = 'failed'",
    )
    .await;
    assert_eq!((synced, failed), (expected.len() as i64, 0));
    let held = emulator.held().await;
    assert_eq!(
        held.len(),
        expected.len(),
        "the emulator holds a different set"
    );
    for (number, tenant) in expected {
        let (held_tenant, uploads) = held.get(number).unwrap_or_else(|| panic!("{number} lost"));
        assert_eq!(held_tenant, tenant, "{number} went to the wrong tenant");
        assert_eq!(*uploads, 1, "{number} was uploaded {uploads} times");
    }
}

fn api_request(method: &str, path: &str, token: &str, body: Option<Value>) -> Request<Body> {
    let separator = if path.contains('?') { '&' } else { '?' };
    Request::builder()
        .method(method)
        .uri(format!(
            "/provisioning{path}{separator}api-version=2024-02-29-preview"
        ))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap()
}

/// The change feed read through the API from its start until `enough` holds of what was read
/// (PostgreSQL holds events back while any older transaction of the server runs), or ten
/// seconds have passed.
async fn feed_until(
    app: &axum::Router,
    token: &str,
    enough: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut events: Vec<Value> = Vec::new();
    let mut cursor = "0.0".to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !enough(&events) && Instant::now() < deadline {
        let path = format!("/events?after={cursor}&maxpagesize=1000");
        let (answer, body) = common::send(app, api_request("GET", &path, token, None)).await;
        assert_eq!(answer.status(), StatusCode::OK, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        cursor = page["cursor"].as_str().unwrap().to_owned();
        let read = page["value"].as_array().unwrap();
        if read.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        events.extend(read.iter().cloned());
    }
    events
}

#[tokio::test]
async fn a_number_reaches_synced_and_a_bad_one_failed_with_the_upstreams_reason() {
    let emulator = Emulator::start(&["--order-delay-ms", "100"]).await;
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let client = emulator.client();
        let mut state =
            numbat::state::AppState::new(test.db.clone(), std::path::Path::new("/none"));
        state.upstream = Some(client.clone());
        let app = numbat::server::router(state);
        let token = crate::common::api_token(&test.db, "bss", &[Role::Admin]).await;
        let account = serde_json::json!({ "name": "fabrikam", "serviceDetails": {
            "teamsTenantId": FABRIKAM,
            "teamsOperatorConnect": { "enabled": true, "syncEnabled": true } } });
        let (answer, body) = common::send(
            &app,
            api_request("PUT", "/accounts/fabrikam", &token, Some(account)),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::CREATED, "{body}");
        let teams = serde_json::json!({ "enabled": true, "configuration": {
            "usage": "CallingUserAssignment", "choosableCapabilities": ["InboundCalling", "OutboundCalling"],
            "civicAddressId": "civic-fabrikam-hq" } });
        let batch = serde_json::json!({ "numbers": [
            { "telephoneNumber": "+442030000001", "accountName": "fabrikam", "serviceDetails": { "teamsOperatorConnect": teams } },
            // A US number: the tenant consented to GB and IE only.
            { "telephoneNumber": "+12025550123", "accountName": "fabrikam", "serviceDetails": { "teamsOperatorConnect": teams } },
        ]});
        let (answer, body) = common::send(
            &app,
            api_request(
                "POST",
                "/accounts/fabrikam:createOrUpdateNumbers",
                &token,
                Some(batch),
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::OK, "{body}");
        assert!(
            body.contains(r#""serviceProvisioningStatus":"pending""#),
            "{body}"
        );

        let worker = quick_worker(&test.db, client.clone());
        drain(&worker, &test.db).await;

        let number = |n: &'static str| {
            let app = app.clone();
            let token = token.clone();
            async move {
                let (_, body) = common::send(
                    &app,
                    api_request(
                        "GET",
                        &format!("/accounts/fabrikam/numbers/{n}"),
                        &token,
                        None,
                    ),
                )
                .await;
                serde_json::from_str::<Value>(&body).unwrap()
            }
        };
        let good = number("+442030000001").await;
        assert_eq!(good["serviceProvisioningStatus"], "synced", "{good}");
        let bad = number("+12025550123").await;
        assert_eq!(bad["serviceProvisioningStatus"], "failed", "{bad}");
        assert_eq!(
            bad["serviceProvisioningErrors"][0]["code"], "CountryNotConsented",
            "{bad}"
        );
        assert!(
            bad["serviceProvisioningErrors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("consented to GB, IE"),
            "{bad}"
        );
        let (_, body) =
            common::send(&app, api_request("GET", "/accounts/fabrikam", &token, None)).await;
        assert!(
            body.contains(r#""serviceProvisioningStatus":"synced""#),
            "the tenant's consent was checked: {body}"
        );

        // The feed tells other systems how the upstream took each, with its code and message.
        let events = feed_until(&app, &token, |events| {
            events.iter().any(|e| e["type"] == "number.syncFailed")
                && events.iter().any(|e| e["type"] == "number.sync")
        })
        .await;
        let of = |kind: &str, key: &str| {
            events
                .iter()
                .find(|e| e["type"] == kind && e["resourceKey"] == key)
                .cloned()
                .unwrap_or_else(|| panic!("no {kind} of {key} in {events:?}"))
        };
        let failed = of("number.syncFailed", "+12025550123");
        assert_eq!(failed["door"], "sync", "{failed}");
        assert_eq!(failed["accountName"], "fabrikam", "{failed}");
        assert_eq!(
            failed["data"]["serviceProvisioningErrors"][0]["code"], "CountryNotConsented",
            "{failed}"
        );
        assert!(
            failed["data"]["serviceProvisioningErrors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("consented to GB, IE")),
            "{failed}"
        );
        let synced = of("number.sync", "+442030000001");
        assert_eq!(synced["data"]["serviceProvisioningStatus"], "synced");
        of("account.sync", "fabrikam");

        // The metrics count the failure and an empty queue.
        let (answer, metrics) = common::get(&app, "/metrics").await;
        assert!(
            metrics.contains("numbat_outbox_queue_depth 0"),
            "{:?} {metrics}",
            answer.status()
        );
        assert!(metrics.contains("numbat_outbox_failed_jobs 1"), "{metrics}");

        // Capability questions go to Operator Connect.
        let (answer, body) = common::send(
            &app,
            api_request(
                "POST",
                "/accounts/fabrikam:getTeamsAvailableCapabilities",
                &token,
                Some(serde_json::json!({ "numbers": [{ "telephoneNumber": "+447911123456" }] })),
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::OK, "{body}");
        assert!(
            body.contains("Mobile"),
            "a mobile number may have Mobile: {body}"
        );

        // The tenant adds the US; the operator retries what failed, and it syncs.
        let mut consent = serde_json::to_value(numbat::demo::consents().remove(0)).unwrap();
        consent["consentedCountries"] = serde_json::json!(["GB", "IE", "US"]);
        reqwest::Client::new()
            .post(format!("{}/emulator/consents", emulator.url))
            .json(&consent)
            .send()
            .await
            .unwrap();
        let (answer, body) = common::send(
            &app,
            api_request(
                "POST",
                "/accounts/fabrikam:retrySync",
                &token,
                Some(serde_json::json!({ "numbers": [] })),
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::OK, "{body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["retried"], 1);
        assert_eq!(
            number("+12025550123").await["serviceProvisioningStatus"],
            "pending"
        );
        drain(&worker, &test.db).await;
        let fixed = number("+12025550123").await;
        assert_eq!(fixed["serviceProvisioningStatus"], "synced", "{fixed}");
        assert_eq!(fixed["serviceProvisioningErrors"], serde_json::json!([]));
        // A synced number is not sent again.
        let (answer, body) = common::send(
            &app,
            api_request(
                "POST",
                "/accounts/fabrikam:retrySync",
                &token,
                Some(serde_json::json!({ "numbers": [{ "telephoneNumber": "+442030000001" }] })),
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("NumberAlreadySynced"), "{body}");

        // Deleting releases upstream.
        let (answer, _) = common::send(
            &app,
            api_request(
                "DELETE",
                "/accounts/fabrikam/numbers/+442030000001",
                &token,
                None,
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        drain(&worker, &test.db).await;
        let held = emulator.held().await;
        assert!(!held.contains_key("+442030000001"), "released: {held:?}");
        assert_eq!(
            held.get("+12025550123").map(|h| h.0.as_str()),
            Some(FABRIKAM)
        );

        // Clean up the emulator for the next backend.
        let (answer, _) = common::send(
            &app,
            api_request(
                "DELETE",
                "/accounts/fabrikam/numbers/+12025550123",
                &token,
                None,
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        drain(&worker, &test.db).await;
        assert!(emulator.held().await.is_empty());
        let original = numbat::demo::consents().remove(0);
        reqwest::Client::new()
            .post(format!("{}/emulator/consents", emulator.url))
            .json(&original)
            .send()
            .await
            .unwrap();
        test.remove().await;
    }
}

#[tokio::test]
async fn consents_are_pulled_and_a_relationship_update_is_pushed_up() {
    let emulator = Emulator::start(&["--order-delay-ms", "50", "--token-lifetime-secs", "1"]).await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    let client = emulator.client();
    let report = numbat::sync::consents::pull(&core, &client).await.unwrap();
    assert_eq!(report.consents, 3);
    assert_eq!(report.addresses, 1, "Fabrikam's civic address");
    let tenant = TenantId::parse(CONTOSO).unwrap();
    let rfi = core.get_rfi(&admin(), &tenant).await.unwrap();
    assert_eq!(
        rfi.rfi.contacts[0].company_name.as_deref(),
        Some("Contoso Pharmaceuticals")
    );
    // Pulling again changes nothing (no new audit event).
    let events = count(&test.db, "SELECT COUNT(*) FROM audit_events").await;
    numbat::sync::consents::pull(&core, &client).await.unwrap();
    assert_eq!(
        count(&test.db, "SELECT COUNT(*) FROM audit_events").await,
        events
    );

    let change = numbat::domain::consent::RelationshipChange {
        status: Some("AgreementSigned".to_owned()),
        comment: Some("contract 42".to_owned()),
    };
    // The first token has expired by the time the update goes up: the client asks for another.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let updated = core
        .update_relationship(&admin(), &tenant, change, Precondition::NONE)
        .await
        .unwrap();
    assert_eq!(updated.provisioning_status, ProvisioningStatus::Pending);
    let worker = quick_worker(&test.db, client.clone());
    drain(&worker, &test.db).await;
    let upstream = client.consent(CONTOSO).await.unwrap();
    let relationship = upstream.customer_relationship.unwrap();
    assert_eq!(relationship.status.as_deref(), Some("AgreementSigned"));
    assert_eq!(relationship.comment.as_deref(), Some("contract 42"));
    let rfi = core.get_rfi(&admin(), &tenant).await.unwrap();
    assert_eq!(rfi.provisioning_status, ProvisioningStatus::Synced);
    let stats = emulator.admin("/emulator/stats").await;
    assert!(
        stats["tokensIssued"].as_u64().unwrap() >= 2,
        "a new token after the first expired: {stats}"
    );

    // A consent the upstream does not have: the update fails with its reason.
    let gone = TenantId::parse("0f0e0d0c-0b0a-4909-8807-060504030201").unwrap();
    let mut stray = numbat::demo::consents().remove(2);
    stray.tenant_id = gone.clone();
    core.record_rfi(&admin(), stray).await.unwrap();
    let change = numbat::domain::consent::RelationshipChange {
        status: Some("ConsentAcknowledged".to_owned()),
        comment: None,
    };
    core.update_relationship(&admin(), &gone, change, Precondition::NONE)
        .await
        .unwrap();
    drain(&worker, &test.db).await;
    let rfi = core.get_rfi(&admin(), &gone).await.unwrap();
    assert_eq!(rfi.provisioning_status, ProvisioningStatus::Failed);
    assert_eq!(rfi.provisioning_errors[0].code, "NoConsent", "{rfi:?}");
    test.remove().await;
}

#[tokio::test]
async fn ten_thousand_numbers_sync_through_thirty_percent_faults_with_nothing_lost_or_doubled() {
    // About 30% of requests fail: 20% 5xx (half after taking effect), 5% dropped after taking
    // effect, 5% starting a burst of three 429s; and every request is slowed by up to 20 ms.
    let emulator = Emulator::start(&[
        "--order-delay-ms",
        "200",
        "--latency-ms",
        "20",
        "--error-rate",
        "0.2",
        "--drop-rate",
        "0.05",
        "--throttle-rate",
        "0.05",
        "--throttle-burst",
        "3",
        "--retry-after",
        "1",
    ])
    .await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    let expected = load(&core, &london(0, 10_000)).await;
    let started = Instant::now();
    let client = emulator.client();
    let workers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(quick_worker(&test.db, client.clone()).run()))
        .collect();
    until_settled(&test.db, Duration::from_secs(600)).await;
    for worker in workers {
        worker.abort();
    }
    let stats = emulator.admin("/emulator/stats").await;
    eprintln!(
        "10,000 numbers synced through faults in {:?}; emulator: {stats}",
        started.elapsed()
    );
    assert_same_state(&test.db, &emulator, &expected).await;
    let injected = stats["injectedErrors"].as_u64().unwrap()
        + stats["injectedDrops"].as_u64().unwrap()
        + stats["injectedThrottles"].as_u64().unwrap();
    let share = injected as f64 / stats["requests"].as_u64().unwrap() as f64;
    assert!(share > 0.2, "faults were injected: {stats}");
    // A token comes again only when a fault cut the answer that carried it.
    let tokens = stats["tokensIssued"].as_u64().unwrap();
    assert!(
        tokens * 10 < stats["requests"].as_u64().unwrap(),
        "tokens are cached while they last: {stats}"
    );
    let resent = count(
        &test.db,
        "SELECT COALESCE(SUM(attempts - 1), 0) FROM sync_batches",
    )
    .await;
    assert!(resent > 0, "some batches were sent again");
    test.remove().await;
}

fn sync_worker(db_url: &str, emulator: &Emulator, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_numbat"))
        .args([
            "sync-worker",
            "--database-url",
            db_url,
            "--oc-url",
            &emulator.url,
        ])
        .args([
            "--consent-poll-secs",
            "0",
            "--sync-poll-ms",
            "50",
            "--sync-backoff-ms",
            "50",
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start a sync worker")
}

#[tokio::test]
async fn a_worker_killed_mid_batch_is_taken_over_and_sync_converges() {
    let emulator = Emulator::start(&["--order-delay-ms", "1500"]).await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    let expected = load(&core, &london(50_000, 3_000)).await;
    let lease = [
        "--sync-lease-secs",
        "2",
        "--sync-batch-size",
        "200",
        "--sync-workers",
        "2",
    ];
    let mut worker = sync_worker(&test.url, &emulator, &lease);
    // Kill it once a batch has been placed upstream and is being polled.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let placed = count(&test.db, "SELECT COUNT(*) FROM sync_batches WHERE state = 'running' AND upstream_order IS NOT NULL").await;
        let done = count(
            &test.db,
            "SELECT COUNT(*) FROM sync_batches WHERE state = 'done'",
        )
        .await;
        if placed > 0 && done > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the worker never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.kill().expect("SIGKILL");
    worker.wait().unwrap();
    let pending = count(
        &test.db,
        "SELECT COUNT(*) FROM numbers WHERE provisioning_status = 'pending'",
    )
    .await;
    assert!(pending > 0, "the kill came too late to test anything");
    let orphaned = count(
        &test.db,
        "SELECT COUNT(*) FROM sync_batches WHERE state = 'running'",
    )
    .await;
    assert!(orphaned > 0, "a batch was under way when the worker died");

    let mut restarted = sync_worker(&test.url, &emulator, &lease);
    until_settled(&test.db, Duration::from_secs(180)).await;
    restarted.kill().unwrap();
    restarted.wait().unwrap();
    assert_same_state(&test.db, &emulator, &expected).await;
    let taken_over = count(
        &test.db,
        "SELECT COUNT(*) FROM outbox_jobs WHERE claims > 1",
    )
    .await;
    assert!(taken_over > 0, "the dead worker's batch was taken over");
    let stats = emulator.admin("/emulator/stats").await;
    let batches = count(
        &test.db,
        "SELECT COUNT(*) FROM sync_batches WHERE kind = 'number.upload'",
    )
    .await;
    assert_eq!(
        stats["ordersCreated"].as_i64().unwrap(),
        batches,
        "one order per batch: {stats}"
    );
    test.remove().await;
}

#[tokio::test]
async fn two_workers_on_postgres_run_each_job_once() {
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let test = test.migrated().await;
    let emulator = Emulator::start(&["--order-delay-ms", "300"]).await;
    let core = Provisioning::new(test.db.clone());
    let expected = load(&core, &london(100_000, 3_000)).await;
    let options = ["--sync-batch-size", "100", "--sync-workers", "2"];
    let mut first = sync_worker(&test.url, &emulator, &options);
    let mut second = sync_worker(&test.url, &emulator, &options);
    until_settled(&test.db, Duration::from_secs(180)).await;
    for worker in [&mut first, &mut second] {
        worker.kill().unwrap();
        worker.wait().unwrap();
    }
    assert_same_state(&test.db, &emulator, &expected).await;
    let jobs = count(
        &test.db,
        "SELECT COUNT(*) FROM outbox_jobs WHERE kind = 'number.upload'",
    )
    .await;
    let once = count(&test.db, "SELECT COUNT(*) FROM outbox_jobs WHERE kind = 'number.upload' AND claims = 1 AND state = 'done'").await;
    assert_eq!(
        (jobs, once),
        (3_000, 3_000),
        "every job was taken exactly once"
    );
    let owners = count(
        &test.db,
        "SELECT COUNT(DISTINCT split_part(lease_owner, ':', 2)) FROM sync_batches",
    )
    .await;
    assert_eq!(owners, 2, "both processes took batches");
    let stats = emulator.admin("/emulator/stats").await;
    let batches = count(
        &test.db,
        "SELECT COUNT(*) FROM sync_batches WHERE kind = 'number.upload'",
    )
    .await;
    assert_eq!(stats["ordersCreated"].as_i64().unwrap(), batches, "{stats}");
    assert_eq!(stats["ordersRepeated"].as_i64().unwrap(), 0, "{stats}");
    test.remove().await;
}

#[tokio::test]
async fn the_portal_shows_why_a_number_failed_and_sends_it_again() {
    let _renderer = common::one_renderer_at_a_time().await;
    let emulator = Emulator::start(&["--order-delay-ms", "50"]).await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    core.put_account(
        &admin(),
        synced_account("fabrikam", FABRIKAM),
        Precondition::NONE,
    )
    .await
    .unwrap();
    let us = "+12025550123";
    core.upsert_numbers(
        &admin(),
        &AccountName::parse("fabrikam").unwrap(),
        vec![oc_number(us, "fabrikam")],
    )
    .await
    .unwrap();
    let worker = quick_worker(&test.db, emulator.client());
    drain(&worker, &test.db).await;

    let app = common::app_without_bundle(&test.db);
    let mut browser = common::Browser::signed_in(
        &app,
        &test.db,
        "olga",
        &[numbat::auth::users::PortalRole::WriteUser],
    )
    .await;
    let page = format!("/numbers/{}", us.replace('+', "%2B"));
    let (_, html) = browser.get(&page).await;
    assert!(html.contains("failed"), "{html}");
    assert!(
        html.contains("CountryNotConsented: +12025550123 is a US number; tenant"),
        "the upstream's reason: {html}"
    );
    assert!(html.contains("Send to Operator Connect again"), "{html}");
    let form = format!("number={}&account=fabrikam", us.replace('+', "%2B"));
    assert_eq!(
        browser.post_error("/api/numbers/retry-sync", &form).await,
        None
    );
    let (_, html) = browser.get(&page).await;
    assert!(html.contains("pending"), "{html}");
    let refused = browser.post_error("/api/numbers/retry-sync", &form).await;
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("on its way to Operator Connect already")),
        "{refused:?}"
    );
    // Still not consented: the second answer is the same refusal, audited twice.
    drain(&worker, &test.db).await;
    let events = count(
        &test.db,
        "SELECT COUNT(*) FROM audit_events WHERE action = 'sync failed'",
    )
    .await;
    assert_eq!(events, 2);
    test.remove().await;
}

#[tokio::test]
async fn one_numbers_changes_reach_the_upstream_in_the_order_they_were_made() {
    let emulator = Emulator::start(&["--order-delay-ms", "50"]).await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    let fabrikam = AccountName::parse("fabrikam").unwrap();
    core.put_account(
        &admin(),
        synced_account("fabrikam", FABRIKAM),
        Precondition::NONE,
    )
    .await
    .unwrap();
    // Created, changed, deleted, created again: four jobs queued before any worker runs.
    let number = "+442030000099";
    let with_usage = |usage: Usage| {
        let mut n = oc_number(number, "fabrikam");
        if let Some(mut teams) = n.services.get(Service::TeamsOperatorConnect).cloned() {
            teams.configuration.as_mut().unwrap().usage = usage;
            n.services.set(Service::TeamsOperatorConnect, Some(teams));
        }
        n
    };
    core.upsert_numbers(
        &admin(),
        &fabrikam,
        vec![with_usage(Usage::CallingUserAssignment)],
    )
    .await
    .unwrap();
    core.upsert_numbers(
        &admin(),
        &fabrikam,
        vec![with_usage(Usage::FirstPartyAppAssignment)],
    )
    .await
    .unwrap();
    core.delete_numbers(
        &admin(),
        &fabrikam,
        &[TelephoneNumber::parse(number).unwrap()],
    )
    .await
    .unwrap();
    core.upsert_numbers(
        &admin(),
        &fabrikam,
        vec![with_usage(Usage::CallingUserAssignment)],
    )
    .await
    .unwrap();

    let worker = quick_worker(&test.db, emulator.client());
    drain(&worker, &test.db).await;
    let jobs = numbat::store::outbox::jobs_for(&test.db, "number", number)
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = jobs
        .iter()
        .map(|j| (j.kind.as_str(), j.state.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("number.upload", "done"),
            ("number.upload", "done"),
            ("number.release", "done"),
            ("number.upload", "done")
        ]
    );
    let Database::Sqlite(pool) = &test.db else {
        unreachable!()
    };
    let batches: Vec<i64> =
        sqlx::query_scalar("SELECT batch_id FROM outbox_jobs WHERE resource_key = $1 ORDER BY id")
            .bind(number)
            .fetch_all(pool)
            .await
            .unwrap();
    assert!(
        batches.windows(2).all(|w| w[0] < w[1]),
        "each in its own batch, in order: {batches:?}"
    );
    let held = emulator.admin("/emulator/numbers").await;
    assert_eq!(
        held["value"][0]["usage"], "CallingUserAssignment",
        "the last change won: {held}"
    );
    assert_eq!(
        held["value"][0]["uploads"], 1,
        "released, then uploaded afresh: {held}"
    );
    let stored = core
        .get_number(&admin(), None, &TelephoneNumber::parse(number).unwrap())
        .await
        .unwrap();
    assert_eq!(stored.provisioning_status, ProvisioningStatus::Synced);
    test.remove().await;
}

#[tokio::test]
async fn switching_an_accounts_sync_on_uploads_its_numbers_and_off_releases_them() {
    let emulator = Emulator::start(&["--order-delay-ms", "50"]).await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    let fabrikam = AccountName::parse("fabrikam").unwrap();
    let mut account = synced_account("fabrikam", FABRIKAM);
    account.services = AccountServices::default().with(Service::TeamsOperatorConnect, true, false);
    core.put_account(&admin(), account.clone(), Precondition::NONE)
        .await
        .unwrap();
    let numbers = london(7_000, 3);
    core.upsert_numbers(
        &admin(),
        &fabrikam,
        numbers.iter().map(|n| oc_number(n, "fabrikam")).collect(),
    )
    .await
    .unwrap();
    let worker = quick_worker(&test.db, emulator.client());
    drain(&worker, &test.db).await;
    assert!(
        emulator.held().await.is_empty(),
        "sync is off: nothing goes up"
    );

    account.services = AccountServices::default().with(Service::TeamsOperatorConnect, true, true);
    core.put_account(&admin(), account.clone(), Precondition::NONE)
        .await
        .unwrap();
    let pending = count(
        &test.db,
        "SELECT COUNT(*) FROM numbers WHERE provisioning_status = 'pending'",
    )
    .await;
    assert_eq!(pending, 3, "switching sync on makes the numbers pending");
    drain(&worker, &test.db).await;
    let held = emulator.held().await;
    assert_eq!(held.keys().cloned().collect::<Vec<_>>(), numbers);
    assert_eq!(
        count(
            &test.db,
            "SELECT COUNT(*) FROM numbers WHERE provisioning_status = 'synced'"
        )
        .await,
        3
    );

    account.services = AccountServices::default().with(Service::TeamsOperatorConnect, true, false);
    core.put_account(&admin(), account, Precondition::NONE)
        .await
        .unwrap();
    drain(&worker, &test.db).await;
    assert!(
        emulator.held().await.is_empty(),
        "switching sync off releases them"
    );
    assert_eq!(
        count(
            &test.db,
            "SELECT COUNT(*) FROM numbers WHERE provisioning_status = 'synced'"
        )
        .await,
        3
    );
    test.remove().await;
}
