//! Server render time of the portal's numbers page with a million numbers, in SQLite and then
//! in PostgreSQL (when it answers): the first page, and filtered searches (prefix, anywhere in
//! the number, account + custom header, service + status, a rare and a common tag). Requests go
//! through the whole router (session lookup, server functions, rendering) without a network.
//! Also times tagging a third of the numbers through the core. Prints figures; asserts only
//! that each page shows rows.
//!
//! `cargo bench --bench portal_render` (`-- --accounts N --per-account M --runs R`, default
//! 1,000 × 1,000 numbers, 200 runs per page).

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use numbat::auth::users::PortalRole;
use numbat::domain::{
    Account, AccountName, AccountServices, CustomSipHeader, Number, NumberServices, Service,
    TelephoneNumber,
};
use numbat::provisioning::{Actor, Door, Precondition, Provisioning, Role};
use numbat::server::router;
use numbat::state::AppState;
use numbat::store::Database;
use std::time::Instant;
use support::summary;
use tower::ServiceExt;

mod support;

fn account_name(i: usize) -> AccountName {
    AccountName::parse(&format!("customer-{i:04}")).unwrap()
}

async fn load(db: &Database, accounts: usize, per_account: usize) {
    let core = Provisioning::new(db.clone());
    let actor = Actor::new("bench", &[Role::Admin], Door::Cli);
    let started = Instant::now();
    for i in 0..accounts {
        let account = Account {
            services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
            ..Account::named(account_name(i))
        };
        core.put_account(&actor, account, Precondition::NONE)
            .await
            .unwrap();
        let batch: Vec<Number> = (0..per_account)
            .map(|j| Number {
                telephone_number: TelephoneNumber::parse(&format!(
                    "+4420{:08}",
                    i * per_account + j
                ))
                .unwrap(),
                account_name: account_name(i),
                services: NumberServices::only(Service::TeamsDirectRouting, None),
                custom_sip_header: j
                    .is_multiple_of(3)
                    .then(|| CustomSipHeader::parse(&format!("cost-centre-{}", j % 50)).unwrap()),
            })
            .collect();
        core.upsert_numbers(&actor, &account_name(i), batch)
            .await
            .unwrap();
        if (i + 1).is_multiple_of(100) {
            eprintln!("loaded {} numbers", (i + 1) * per_account);
        }
    }
    eprintln!(
        "loaded {} numbers in {:.1} s",
        accounts * per_account,
        started.elapsed().as_secs_f64()
    );
}

/// Signs a new reader in through the real forms; returns the session cookie.
async fn sign_in(app: &axum::Router, db: &Database) -> String {
    let admin = Actor::new("cli:bench", &[Role::Admin], Door::Cli);
    let password = Provisioning::new(db.clone())
        .add_user(&admin, "bench-reader", &[PortalRole::ReadUser])
        .await
        .unwrap();
    let post = |uri: &str, body: String, cookie: Option<String>| {
        let mut request =
            Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.body(Body::from(body)).unwrap()
    };
    let cookie_of = |response: &axum::response::Response| {
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let response = app
        .clone()
        .oneshot(post(
            "/sign-in",
            format!("name=bench-reader&password={password}"),
            None,
        ))
        .await
        .unwrap();
    let cookie = cookie_of(&response);
    let form = format!("current={password}&new=bench-password-long&confirm=bench-password-long");
    let response = app
        .clone()
        .oneshot(post("/password", form, Some(cookie)))
        .await
        .unwrap();
    cookie_of(&response)
}

/// Tags numbers through the core, 10,000 at a time: `rare` on one number in 10,000 and `common`
/// on every third; prints how fast the bulk tag change went.
async fn tag(db: &Database, total: usize) {
    use numbat::domain::Tags;
    use numbat::provisioning::labels::TagChange;
    let core = Provisioning::new(db.clone());
    let actor = Actor::new("bench", &[Role::Admin], Door::Cli);
    let started = Instant::now();
    let mut tagged = 0;
    for (tag, every, offset) in [("rare", 10_000, 7), ("common", 3, 0)] {
        let change = TagChange {
            add: Tags::parse_text("tags", tag).unwrap(),
            remove: Tags::default(),
        };
        let numbers: Vec<TelephoneNumber> = (offset..total)
            .step_by(every)
            .map(|i| TelephoneNumber::parse(&format!("+4420{i:08}")).unwrap())
            .collect();
        for batch in numbers.chunks(10_000) {
            let report = core.change_tags(&actor, &change, batch).await.unwrap();
            assert_eq!(report.done, batch.len());
        }
        tagged += numbers.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "  tagged {tagged} numbers through the core in {seconds:.1} s ({:.0} numbers/s, 10,000 a change)",
        tagged as f64 / seconds
    );
}

async fn measure(
    label: &'static str,
    db: Database,
    accounts: usize,
    per_account: usize,
    runs: usize,
) {
    load(&db, accounts, per_account).await;
    let total = accounts * per_account;
    println!("{label}: {total} numbers");
    tag(&db, total).await;
    // A running PostgreSQL deployment has its statistics refreshed by autovacuum; measured right
    // after a bulk load, the planner would still see the tables as empty (an estimate of one
    // tagged row made it walk a third of a million tag rows for one account's page).
    if let Database::Postgres(pool) = &db {
        sqlx::query("ANALYZE").execute(pool).await.unwrap();
    }
    let app = router(AppState::new(db.clone(), std::path::Path::new("/none")));
    let cookie = sign_in(&app, &db).await;

    let middle = accounts / 2;
    let pages = [
        ("first page, no filter".to_owned(), "/numbers".to_owned()),
        (
            "prefix search +4420005…".to_owned(),
            format!("/numbers?q=%2B4420{:05}", middle * per_account / 1000),
        ),
        (
            "digits anywhere (…5123…)".to_owned(),
            "/numbers?q=5123".to_owned(),
        ),
        (
            "account + has custom header".to_owned(),
            format!("/numbers?account=customer-{middle:04}&header=yes"),
        ),
        (
            "service + sync status synced, sorted highest first".to_owned(),
            "/numbers?service=teamsDirectRouting&status=synced&sort=desc".to_owned(),
        ),
        (
            "page 100 of a prefix search (after a cursor)".to_owned(),
            format!("/numbers?q=%2B4420&after=%2B4420{:08}", 50 * 100),
        ),
        (
            "tag on 1 number in 10,000".to_owned(),
            "/numbers?tag=rare".to_owned(),
        ),
        (
            "tag on 1 number in 3".to_owned(),
            "/numbers?tag=common".to_owned(),
        ),
        (
            "tag on 1 in 3 + account".to_owned(),
            format!("/numbers?tag=common&account=customer-{middle:04}"),
        ),
        (
            "tag on 1 in 3, a page deep in (after a cursor)".to_owned(),
            format!("/numbers?tag=common&after=%2B4420{:08}", total / 2),
        ),
    ];
    println!("  numbers page, server render ({runs} runs each):");
    for (label, uri) in pages {
        let mut samples = Vec::with_capacity(runs);
        let mut size = 0;
        for _ in 0..runs {
            let request = Request::get(&uri)
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap();
            let started = Instant::now();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200, "{uri}");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            samples.push(started.elapsed());
            size = body.len();
            assert!(
                body.windows(9).any(|w| w == b"<td class"),
                "{uri} shows rows"
            );
        }
        println!("  {label:<52} {}  {size} bytes", summary(samples));
    }
}

#[tokio::main]
async fn main() {
    let accounts = support::arg("--accounts", 1000);
    let per_account = support::arg("--per-account", 1000);
    let runs = support::arg("--runs", 200);
    support::on_each_database(|label, db| async move {
        measure(label, db, accounts, per_account, runs).await
    })
    .await;
}
