//! The change feed in the core, on SQLite and PostgreSQL alike: every change once, in commit
//! order, the same after a restart; what stays out of it; and on PostgreSQL a transaction that
//! commits after a later one is neither skipped nor handed out before it ends.

use crate::common::{cli_admin, TestDb};
use numbat::domain::TelephoneNumber;
use numbat::domain::{Account, AccountName, AccountServices, Number, NumberServices, Service};
use numbat::provisioning::feed::{Cursor, FeedEvent};
use numbat::provisioning::{Precondition, Provisioning};
use std::time::Duration;

/// The events after `after`, read two at a time until `expected` have come (on PostgreSQL the
/// feed holds back events while any older transaction of the server runs, other tests' too) or
/// half a minute has passed, and then until a read finds nothing more.
async fn all_after(core: &Provisioning, after: Cursor, expected: usize) -> Vec<FeedEvent> {
    let mut events = Vec::new();
    let mut cursor = after;
    let started = std::time::Instant::now();
    loop {
        let wait = if events.len() < expected && started.elapsed() < Duration::from_secs(30) {
            Duration::from_secs(1)
        } else {
            Duration::ZERO
        };
        let page = core
            .events_after(&cli_admin(), cursor, 2, wait)
            .await
            .unwrap();
        if page.value.is_empty() && wait.is_zero() {
            return events;
        }
        cursor = Cursor::parse(&page.cursor).unwrap();
        events.extend(page.value);
    }
}

fn kinds(events: &[FeedEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (e.kind.clone(), e.resource_key.clone()))
        .collect()
}

#[tokio::test]
async fn every_change_is_in_the_feed_once_in_commit_order_and_reads_the_same_after_a_restart() {
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let core = Provisioning::new(test.db.clone());
        let name = AccountName::parse("contoso").unwrap();
        let account = Account {
            services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
            ..Account::named(name.clone())
        };
        core.put_account(&cli_admin(), account, Precondition::NONE)
            .await
            .unwrap();
        for n in ["+442079460001", "+442079460002"] {
            let number = Number {
                telephone_number: TelephoneNumber::parse(n).unwrap(),
                account_name: name.clone(),
                services: NumberServices::only(Service::TeamsDirectRouting, None),
                custom_sip_header: None,
            };
            core.put_number(&cli_admin(), number, Precondition::NONE)
                .await
                .unwrap();
        }
        // An API token is a change too, but not one the feed carries.
        crate::common::api_token(&test.db, "bss", &[numbat::provisioning::Role::Read]).await;
        let events = all_after(&core, Cursor::START, 3).await;
        assert_eq!(
            kinds(&events),
            [
                ("account.create".to_owned(), "contoso".to_owned()),
                ("number.create".to_owned(), "+442079460001".to_owned()),
                ("number.create".to_owned(), "+442079460002".to_owned()),
            ],
            "{}",
            test.url
        );
        // Read again from the middle by a new process on the same database: the same events.
        let again = Provisioning::new(test.db.clone());
        let middle = Cursor::parse(&events[0].id).unwrap();
        assert_eq!(all_after(&again, middle, 2).await, events[1..].to_vec());
        assert!(all_after(&again, Cursor::parse(&events[2].id).unwrap(), 0)
            .await
            .is_empty());
        test.remove().await;
    }
}

/// On PostgreSQL an event's id is handed out before its transaction commits, so a transaction
/// that began writing first can commit last. The feed hands out nothing of a transaction still
/// running, nor anything after it; once it commits, both come, in transaction order.
#[tokio::test]
async fn on_postgres_an_earlier_transaction_committing_last_is_not_skipped() {
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let test = test.migrated().await;
    let numbat::store::Database::Postgres(pool) = &test.db else {
        unreachable!("a PostgreSQL database")
    };
    let core = Provisioning::new(test.db.clone());
    let insert = "INSERT INTO audit_events (at, actor, role, door, action, resource_type, resource_key) \
                  VALUES ('2026-12-07T00:00:00.000Z', 'test', 'Admin', 'cli', 'create', 'account', $1)";
    let mut first = pool.begin().await.unwrap();
    sqlx::query(insert)
        .bind("first")
        .execute(&mut *first)
        .await
        .unwrap();
    let mut second = pool.begin().await.unwrap();
    sqlx::query(insert)
        .bind("second")
        .execute(&mut *second)
        .await
        .unwrap();
    second.commit().await.unwrap();
    assert!(
        all_after(&core, Cursor::START, 0).await.is_empty(),
        "nothing after a transaction still running"
    );
    first.commit().await.unwrap();
    let events = all_after(&core, Cursor::START, 2).await;
    let keys: Vec<&str> = events.iter().map(|e| e.resource_key.as_str()).collect();
    assert_eq!(keys, ["first", "second"]);
    test.remove().await;
}

/// A read waiting at the end of the feed is answered by the next change, made by this process
/// or by another process on the same database (which it looks for every half second).
#[tokio::test]
async fn a_waiting_read_is_answered_by_the_next_change_of_any_process() {
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let reader = Provisioning::new(test.db.clone());
        let url = test.url.clone();
        let waiting = tokio::spawn({
            let reader = reader.clone();
            async move {
                reader
                    .events_after(&cli_admin(), Cursor::START, 10, Duration::from_secs(20))
                    .await
                    .unwrap()
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Another process: its own pool on the same database.
        let other = numbat::store::Database::connect(&url).await.unwrap();
        let writer = Provisioning::new(other.clone());
        let account = Account::named(AccountName::parse("late").unwrap());
        writer
            .put_account(&cli_admin(), account, Precondition::NONE)
            .await
            .unwrap();
        let page = tokio::time::timeout(Duration::from_secs(15), waiting)
            .await
            .expect("answered before its wait ran out")
            .unwrap();
        assert_eq!(
            kinds(&page.value),
            [("account.create".to_owned(), "late".to_owned())]
        );
        other.close().await;
        test.remove().await;
    }
}

#[tokio::test]
async fn a_jobs_end_is_in_the_feed_with_its_counts_after_the_events_of_what_it_did() {
    use numbat::provisioning::inventory::InventoryAction;
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let core = Provisioning::new(test.db.clone());
        let numbers: Vec<TelephoneNumber> = ["+442079460101", "+442079460102", "+442079460101"]
            .iter()
            .map(|n| TelephoneNumber::parse(n).unwrap())
            .collect();
        let report = core
            .inventory_action(&cli_admin(), &InventoryAction::Add, &numbers)
            .await
            .unwrap();
        let job = report.job_id.unwrap().to_string();
        let events = all_after(&core, Cursor::START, 4).await;
        assert_eq!(
            kinds(&events),
            [
                ("job.start".to_owned(), job.clone()),
                ("number.add".to_owned(), "+442079460101".to_owned()),
                ("number.add".to_owned(), "+442079460102".to_owned()),
                ("job.finish".to_owned(), job.clone()),
            ],
            "{}",
            test.url
        );
        let end = events[3].data.clone().unwrap();
        assert_eq!(end["kind"], "inventory", "{end}");
        assert_eq!(end["action"], "add", "{end}");
        assert_eq!(end["state"], "finished", "{end}");
        assert_eq!(end["rowsRead"], 3, "{end}");
        assert_eq!(end["changed"], 2, "the two numbers added: {end}");
        assert_eq!(end["invalid"], 1, "the number named twice: {end}");
        assert!(end["finishedAt"].is_string(), "{end}");
        assert!(end.get("leaseOwner").is_none() && end.get("upload").is_none());
        test.remove().await;
    }
}
