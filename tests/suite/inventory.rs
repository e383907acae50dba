//! The inventory's lifecycle in the core, on SQLite and PostgreSQL alike: every move allowed
//! and refused by a named rule, ACG's writes obeying holds, quarantine on release, and expiry
//! driven by a clock the test controls, run by two nodes at once.

use crate::common::TestDb;
use numbat::domain::{
    Account, AccountName, AccountServices, InventoryState, Number, NumberRange, NumberServices,
    Quarantine, QuarantineDays, Service, TelephoneNumber,
};
use numbat::provisioning::inventory::{ActionOutcome, ActionReport, InventoryAction};
use numbat::provisioning::{
    Actor, AuditFilter, DeploymentSettings, Door, InventoryFilter, NumberFilter, NumberOrder,
    Precondition, Provisioning, ProvisioningError, Role,
};
use time::{Duration, OffsetDateTime};

fn admin() -> Actor {
    Actor::new("admin@example.net", &[Role::Admin], Door::Api)
}

fn name(raw: &str) -> AccountName {
    AccountName::parse(raw).unwrap()
}

fn tn(raw: &str) -> TelephoneNumber {
    TelephoneNumber::parse(raw).unwrap()
}

fn dr_number(number: &str, account: &str) -> Number {
    Number {
        telephone_number: tn(number),
        account_name: name(account),
        services: NumberServices::only(Service::TeamsDirectRouting, None),
        custom_sip_header: None,
    }
}

async fn with_accounts(core: &Provisioning, names: &[&str]) {
    for raw in names {
        let account = Account {
            services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
            ..Account::named(name(raw))
        };
        core.put_account(&admin(), account, Precondition::NONE)
            .await
            .unwrap();
    }
}

async fn act(core: &Provisioning, action: InventoryAction, numbers: &[&str]) -> ActionReport {
    let numbers: Vec<TelephoneNumber> = numbers.iter().map(|n| tn(n)).collect();
    core.inventory_action(&admin(), &action, &numbers)
        .await
        .unwrap()
}

/// The one number's outcome and, when refused, its rule.
fn only(report: &ActionReport) -> (ActionOutcome, Option<String>) {
    assert_eq!(report.results.len(), 1, "{report:?}");
    let result = &report.results[0];
    (
        result.outcome,
        result
            .violation
            .as_ref()
            .map(|v| v.code.as_str().to_owned()),
    )
}

fn refused_by(report: &ActionReport, rule: &str) {
    assert_eq!(
        only(report),
        (ActionOutcome::Refused, Some(rule.to_owned())),
        "{report:?}"
    );
}

fn codes(error: &ProvisioningError) -> Vec<String> {
    error
        .violations()
        .map(|v| v.iter().map(|v| v.code.as_str().to_owned()).collect())
        .unwrap_or_default()
}

async fn state_of(core: &Provisioning, number: &str) -> (InventoryState, Option<String>) {
    let standing = core.standing(&admin(), &tn(number)).await.unwrap();
    (
        standing.state,
        standing.account_name.map(|a| a.as_str().to_owned()),
    )
}

fn reserve(account: &str) -> InventoryAction {
    InventoryAction::Reserve {
        account: name(account),
        until: None,
    }
}

async fn put(core: &Provisioning, number: &str, account: &str) -> Result<(), ProvisioningError> {
    core.put_number(&admin(), dr_number(number, account), Precondition::NONE)
        .await
        .map(|_| ())
}

async fn release(core: &Provisioning, number: &str, account: &str) {
    core.delete_number(&admin(), &name(account), &tn(number), Precondition::NONE)
        .await
        .unwrap();
}

/// Runs `check` on a fresh, migrated database of every backend.
async fn on_every_backend<F, Fut>(check: F)
where
    F: Fn(Provisioning, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        check(Provisioning::new(test.db.clone()), test.url.clone()).await;
        test.remove().await;
    }
}

const N1: &str = "+442071110001";
const N2: &str = "+442071110002";
const N3: &str = "+442071110003";

#[tokio::test]
async fn available_reserved_assigned_quarantined_and_available_again_each_move_by_its_rule() {
    on_every_backend(|core, _| async move {
        with_accounts(&core, &["alpha", "bravo"]).await;

        // Into the inventory.
        let added = act(&core, InventoryAction::Add, &[N1, N2, N3]).await;
        assert_eq!((added.done, added.unchanged, added.refused), (3, 0, 0));
        assert_eq!(
            only(&act(&core, InventoryAction::Add, &[N1]).await).0,
            ActionOutcome::Unchanged
        );
        assert_eq!(state_of(&core, N1).await, (InventoryState::Available, None));
        refused_by(
            &act(&core, reserve("alpha"), &["+442071119999"]).await,
            "NotInInventory",
        );
        let twice = act(&core, InventoryAction::Remove, &[N3, N3]).await;
        assert_eq!(twice.results[0].outcome, ActionOutcome::Done);
        assert_eq!(
            twice.results[1].violation.as_ref().map(|v| v.code.as_str()),
            Some("Duplicate")
        );
        assert!(matches!(
            core.standing(&admin(), &tn(N3)).await,
            Err(ProvisioningError::NotFound { .. })
        ));

        // Reserved for alpha: bravo can neither reserve it nor take it through ACG's PUT.
        assert_eq!(
            only(&act(&core, reserve("alpha"), &[N1]).await).0,
            ActionOutcome::Done
        );
        assert_eq!(
            state_of(&core, N1).await,
            (InventoryState::Reserved, Some("alpha".into()))
        );
        refused_by(
            &act(&core, reserve("bravo"), &[N1]).await,
            "NumberReservedForAnotherAccount",
        );
        let error = put(&core, N1, "bravo").await.unwrap_err();
        assert_eq!(codes(&error), ["NumberReservedForAnotherAccount"]);
        assert!(matches!(error, ProvisioningError::Conflict(_)), "{error:?}");
        refused_by(
            &act(&core, InventoryAction::Remove, &[N1]).await,
            "WrongInventoryState",
        );
        refused_by(
            &act(&core, InventoryAction::EndQuarantine, &[N1]).await,
            "WrongInventoryState",
        );
        let gone = core
            .inventory_action(&admin(), &reserve("nobody"), &[tn(N2)])
            .await
            .unwrap_err();
        assert!(
            matches!(gone, ProvisioningError::NotFound { .. }),
            "{gone:?}"
        );

        // Assigned: ACG's PUT takes it out of the inventory; ACG's lists show it, and only it.
        put(&core, N1, "alpha").await.unwrap();
        assert_eq!(
            state_of(&core, N1).await,
            (InventoryState::Assigned, Some("alpha".into()))
        );
        let listed = core
            .list_numbers(
                &admin(),
                &NumberFilter::default(),
                NumberOrder::Ascending,
                None,
                10,
            )
            .await
            .unwrap();
        let listed: Vec<&str> = listed
            .iter()
            .map(|r| r.number.telephone_number.as_str())
            .collect();
        assert_eq!(listed, [N1]);
        let inventory = core
            .list_inventory(&admin(), &InventoryFilter::default(), None, 10)
            .await
            .unwrap();
        let inventory: Vec<&str> = inventory
            .iter()
            .map(|s| s.telephone_number.as_str())
            .collect();
        assert_eq!(inventory, [N2]);
        refused_by(
            &act(&core, InventoryAction::Add, &[N1]).await,
            "WrongInventoryState",
        );
        refused_by(
            &act(&core, reserve("alpha"), &[N1]).await,
            "WrongInventoryState",
        );

        // Released: quarantined for the deployment's 30 days; only alpha may take it back.
        release(&core, N1, "alpha").await;
        let standing = core.standing(&admin(), &tn(N1)).await.unwrap();
        assert_eq!(standing.state, InventoryState::Quarantined);
        assert_eq!(
            standing.account_name.as_ref().map(|a| a.as_str()),
            Some("alpha")
        );
        let until = OffsetDateTime::parse(
            standing.until.as_deref().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let days = (until - OffsetDateTime::now_utc()).whole_hours();
        assert!(
            (29 * 24..=30 * 24).contains(&days),
            "quarantined for {days} hours"
        );
        let error = put(&core, N1, "bravo").await.unwrap_err();
        assert_eq!(codes(&error), ["NumberQuarantinedFromAnotherAccount"]);
        refused_by(
            &act(&core, reserve("bravo"), &[N1]).await,
            "NumberQuarantinedFromAnotherAccount",
        );
        refused_by(
            &act(&core, InventoryAction::CancelReservation, &[N1]).await,
            "WrongInventoryState",
        );
        put(&core, N1, "alpha").await.unwrap();
        release(&core, N1, "alpha").await;

        // Held for good: no clock ends it; held for a day: the clock after it does.
        let forever = InventoryAction::SetQuarantine(Quarantine::Indefinitely);
        assert_eq!(
            only(&act(&core, forever, &[N1]).await).0,
            ActionOutcome::Done
        );
        assert_eq!(core.standing(&admin(), &tn(N1)).await.unwrap().until, None);
        let far = OffsetDateTime::now_utc() + Duration::days(400);
        assert_eq!(core.end_due_holds(far).await.unwrap(), 0);
        assert_eq!(state_of(&core, N1).await.0, InventoryState::Quarantined);
        act(
            &core,
            InventoryAction::SetQuarantine(Quarantine::Days(1)),
            &[N1],
        )
        .await;
        act(&core, reserve("bravo"), &[N2]).await;
        let soon = OffsetDateTime::now_utc() + Duration::hours(2);
        assert_eq!(
            core.end_due_holds(soon).await.unwrap(),
            0,
            "nothing ends before its time"
        );
        let later = OffsetDateTime::now_utc() + Duration::days(2);
        assert_eq!(
            core.end_due_holds(later).await.unwrap(),
            1,
            "the quarantine of a day"
        );
        assert_eq!(state_of(&core, N1).await, (InventoryState::Available, None));
        assert_eq!(
            core.end_due_holds(far).await.unwrap(),
            1,
            "the reservation of 30 days"
        );
        assert_eq!(state_of(&core, N2).await, (InventoryState::Available, None));

        // Available again: now bravo may have it.
        put(&core, N1, "bravo").await.unwrap();
        assert_eq!(
            state_of(&core, N1).await,
            (InventoryState::Assigned, Some("bravo".into()))
        );

        // The number's history tells the whole story, from the inventory's moves to ACG's.
        let filter = AuditFilter {
            resource_type: Some("number".into()),
            key: Some(N1.into()),
            ..Default::default()
        };
        let mut events = core
            .recent_audit_events(&admin(), &filter, None, 100)
            .await
            .unwrap();
        events.reverse();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "add",
                "reserve",
                "create",
                "delete",
                "release",
                "create",
                "delete",
                "release",
                "setQuarantine",
                "setQuarantine",
                "quarantineEnded",
                "create"
            ]
        );
        let ended = events
            .iter()
            .find(|e| e.action == "quarantineEnded")
            .unwrap();
        assert_eq!(
            (ended.actor.as_str(), ended.door.as_str()),
            ("expiry", "system")
        );
    })
    .await;
}

#[tokio::test]
async fn reserved_and_quarantined_numbers_end_with_their_dates_and_cancel_early() {
    on_every_backend(|core, _| async move {
        with_accounts(&core, &["alpha"]).await;
        act(&core, InventoryAction::Add, &[N1, N2]).await;
        let tomorrow = (OffsetDateTime::now_utc() + Duration::days(1)).date();
        let dated = InventoryAction::Reserve {
            account: name("alpha"),
            until: Some(tomorrow.to_string()),
        };
        act(&core, dated, &[N1]).await;
        let until = core
            .standing(&admin(), &tn(N1))
            .await
            .unwrap()
            .until
            .unwrap();
        assert_eq!(
            until,
            format!("{}T00:00:00.000Z", tomorrow.next_day().unwrap())
        );
        for bad in ["2020-01-01", "tomorrow", "2099-01-01"] {
            let action = InventoryAction::Reserve {
                account: name("alpha"),
                until: Some(bad.into()),
            };
            let error = core
                .inventory_action(&admin(), &action, &[tn(N2)])
                .await
                .unwrap_err();
            assert_eq!(error.violations().unwrap().0[0].path(), "until", "{bad}");
        }
        assert_eq!(
            state_of(&core, N2).await.0,
            InventoryState::Available,
            "refused changes nothing"
        );
        assert_eq!(
            only(&act(&core, InventoryAction::CancelReservation, &[N1]).await).0,
            ActionOutcome::Done
        );
        assert_eq!(state_of(&core, N1).await, (InventoryState::Available, None));

        // An account deleted with its numbers: its reservations end, its released numbers
        // are quarantined.
        with_accounts(&core, &["charlie"]).await;
        act(&core, reserve("charlie"), &[N2]).await;
        put(&core, N3, "charlie").await.unwrap();
        core.delete_account(&admin(), &name("charlie"), true, Precondition::NONE)
            .await
            .unwrap();
        assert_eq!(state_of(&core, N2).await, (InventoryState::Available, None));
        assert_eq!(
            state_of(&core, N3).await,
            (InventoryState::Quarantined, Some("charlie".into()))
        );

        // A deployment without quarantine: a released number is available at once.
        let settings = DeploymentSettings {
            quarantine_days: QuarantineDays::new(0).unwrap(),
            ..Default::default()
        };
        core.put_settings(&admin(), settings).await.unwrap();
        put(&core, N1, "alpha").await.unwrap();
        release(&core, N1, "alpha").await;
        assert_eq!(state_of(&core, N1).await, (InventoryState::Available, None));

        // A reader sees the inventory but cannot change it.
        let reader = Actor::new("reader", &[Role::Read], Door::Api);
        let refused = core
            .inventory_action(&reader, &InventoryAction::Remove, &[tn(N1)])
            .await
            .unwrap_err();
        assert!(
            matches!(refused, ProvisioningError::Forbidden { .. }),
            "{refused:?}"
        );
        assert_eq!(state_of(&core, N1).await.0, InventoryState::Available);
    })
    .await;
}

#[tokio::test]
async fn two_nodes_ending_the_same_holds_end_each_once() {
    on_every_backend(|core, url| async move {
        with_accounts(&core, &["alpha"]).await;
        let range = NumberRange::parse("+442071110000", "+442071112499").unwrap();
        let numbers: Vec<TelephoneNumber> = range.numbers().collect();
        let added = core
            .inventory_action(&admin(), &InventoryAction::Add, &numbers)
            .await
            .unwrap();
        assert_eq!(added.done, 2_500);
        let reserved = core
            .inventory_action(&admin(), &reserve("alpha"), &numbers)
            .await
            .unwrap();
        assert_eq!(reserved.done, 2_500);

        // A second node: its own pool on the same database.
        let other = Provisioning::new(numbat::store::Database::connect(&url).await.unwrap());
        let at = OffsetDateTime::now_utc() + Duration::days(31);
        let (a, b) = tokio::join!(core.end_due_holds(at), other.end_due_holds(at));
        assert_eq!(a.unwrap() + b.unwrap(), 2_500);
        let filter = AuditFilter {
            resource_type: Some("number".into()),
            ..Default::default()
        };
        let mut ended = 0;
        let mut before = None;
        loop {
            let page = core
                .recent_audit_events(&admin(), &filter, before, 1000)
                .await
                .unwrap();
            ended += page
                .iter()
                .filter(|e| e.action == "reservationEnded")
                .count();
            match page.last() {
                Some(last) if page.len() == 1000 => before = last.id,
                _ => break,
            }
        }
        assert_eq!(ended, 2_500, "each hold ended once, with one event");
        let counts = core.inventory_counts(&admin()).await.unwrap();
        assert!(
            counts.contains(&(InventoryState::Available, 2_500)),
            "{counts:?}"
        );
        assert!(
            counts.contains(&(InventoryState::Reserved, 0)),
            "{counts:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_range_is_assigned_and_released_with_a_result_per_number_under_every_put_rule() {
    on_every_backend(|core, _| async move {
        with_accounts(&core, &["alpha", "bravo"]).await;
        let range = NumberRange::parse("+442071110000", "+442071110099").unwrap();
        let numbers: Vec<TelephoneNumber> = range.numbers().collect();
        core.inventory_action(&admin(), &InventoryAction::Add, &numbers)
            .await
            .unwrap();
        act(&core, reserve("bravo"), &["+442071110005"]).await;
        let assign = |services: NumberServices| InventoryAction::Assign {
            account: name("alpha"),
            services: Box::new(services),
            custom_sip_header: Some(numbat::domain::CustomSipHeader::parse("gold").unwrap()),
        };
        let dr = NumberServices::only(Service::TeamsDirectRouting, None);
        let mut with_stranger = numbers.clone();
        with_stranger.push(tn("+442071119999"));
        let report = core
            .inventory_action(&admin(), &assign(dr.clone()), &with_stranger)
            .await
            .unwrap();
        assert_eq!((report.done, report.unchanged, report.refused), (99, 0, 2));
        let rule = |n: &str| {
            report
                .results
                .iter()
                .find(|r| r.telephone_number.as_str() == n)
                .and_then(|r| r.violation.as_ref())
                .map(|v| v.code.as_str().to_owned())
        };
        assert_eq!(
            rule("+442071110005").as_deref(),
            Some("NumberReservedForAnotherAccount")
        );
        assert_eq!(rule("+442071119999").as_deref(), Some("NotInInventory"));
        let filter = NumberFilter {
            account: Some(name("alpha")),
            ..Default::default()
        };
        assert_eq!(core.count_numbers(&admin(), &filter).await.unwrap(), 99);
        let one = core
            .get_number(&admin(), None, &tn("+442071110042"))
            .await
            .unwrap();
        assert_eq!(one.number.custom_sip_header.unwrap().as_str(), "gold");
        assert_eq!(
            state_of(&core, "+442071110042").await,
            (InventoryState::Assigned, Some("alpha".into()))
        );

        // Asked for other settings than it has: refused, left as it is (PUT changes a number).
        let other = core
            .inventory_action(
                &admin(),
                &assign(NumberServices::only(Service::TeamsDirectRouting, None)).clone(),
                &[tn("+442071110042")],
            )
            .await
            .unwrap();
        assert_eq!(
            only(&other).0,
            ActionOutcome::Unchanged,
            "the same settings"
        );
        let no_header = InventoryAction::Assign {
            account: name("alpha"),
            services: Box::new(NumberServices::only(Service::TeamsDirectRouting, None)),
            custom_sip_header: None,
        };
        let refused = core
            .inventory_action(&admin(), &no_header, &[tn("+442071110042")])
            .await
            .unwrap();
        assert_eq!(
            only(&refused),
            (ActionOutcome::Refused, Some("WrongInventoryState".into()))
        );
        let one = core
            .get_number(&admin(), None, &tn("+442071110042"))
            .await
            .unwrap();
        assert_eq!(
            one.number.custom_sip_header.unwrap().as_str(),
            "gold",
            "left as it was"
        );
        let teams = numbat::provisioning::inventory::ActionRequest {
            action: "assign".into(),
            account_name: Some("alpha".into()),
            services: Some(vec!["teamsOperatorConnect".into()]),
            telephone_numbers: Some(vec!["+442071110042".into()]),
            ..Default::default()
        };
        let error = teams.parse().unwrap_err();
        assert_eq!(error.violations().unwrap().0[0].path(), "services[0]");

        // The same again: unchanged. A service alpha does not have: refused by the PUT's rule.
        let again = core
            .inventory_action(&admin(), &assign(dr), &numbers)
            .await
            .unwrap();
        assert_eq!((again.done, again.unchanged, again.refused), (0, 99, 1));
        act(
            &core,
            InventoryAction::CancelReservation,
            &["+442071110005"],
        )
        .await;
        let zoom = NumberServices::only(Service::ZoomPhoneCloudPeering, None);
        let refused = core
            .inventory_action(&admin(), &assign(zoom), &[tn("+442071110005")])
            .await
            .unwrap();
        assert_eq!(
            only(&refused),
            (
                ActionOutcome::Refused,
                Some("ServiceNotEnabledOnAccount".into())
            )
        );
        assert_eq!(
            state_of(&core, "+442071110005").await.0,
            InventoryState::Available,
            "refused changes nothing"
        );

        // Released by range: alpha's go into quarantine; bravo has none to release.
        let first_ten: Vec<TelephoneNumber> = numbers[..10].to_vec();
        let release = |account: &str| InventoryAction::Release {
            account: name(account),
        };
        let none = core
            .inventory_action(&admin(), &release("bravo"), &first_ten)
            .await
            .unwrap();
        assert_eq!((none.done, none.refused), (0, 10));
        let released = core
            .inventory_action(&admin(), &release("alpha"), &first_ten)
            .await
            .unwrap();
        assert_eq!((released.done, released.refused), (9, 1), "{released:?}");
        assert_eq!(
            state_of(&core, "+442071110000").await,
            (InventoryState::Quarantined, Some("alpha".into()))
        );
        assert_eq!(core.count_numbers(&admin(), &filter).await.unwrap(), 90);
    })
    .await;
}

/// A range action of 10,000 numbers is one job: its result per number comes back and its
/// refusals are kept with the job; a job whose worker died after a chunk is resumed after that
/// chunk by another run, doing each number once, with a reservation ending when the original
/// action said.
#[tokio::test]
async fn a_range_job_whose_worker_died_is_resumed_after_its_last_chunk_doing_each_number_once() {
    use numbat::provisioning::bulk::Resumed;
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let core =
            Provisioning::new(test.db.clone()).with_job_lease(std::time::Duration::from_secs(1));
        with_accounts(&core, &["alpha", "bravo"]).await;
        let range = NumberRange::parse("+442071110000", "+442071119999").unwrap();
        let numbers: Vec<TelephoneNumber> = range.numbers().collect();
        let added = core
            .inventory_action(&admin(), &InventoryAction::Add, &numbers)
            .await
            .unwrap();
        assert_eq!((added.done, added.results.len()), (10_000, 10_000));
        let add_job = core.job(&admin(), added.job_id.unwrap()).await.unwrap();
        assert_eq!(
            (
                add_job.kind.as_str(),
                add_job.state.as_str(),
                add_job.changed
            ),
            ("inventory", "finished", 10_000)
        );
        assert_eq!(
            add_job.source,
            "Add to the inventory — 10000 numbers, +442071110000 to +442071119999"
        );

        // One number is held for bravo; the last of the list names the first again.
        act(&core, reserve("bravo"), &["+442071117777"]).await;
        let mut asked = numbers[..9_999].to_vec();
        asked.push(numbers[0].clone());
        let last_day = (OffsetDateTime::now_utc() + Duration::days(40)).date();
        let (until, day_after) = (last_day.to_string(), last_day.next_day().unwrap());
        let action = InventoryAction::Reserve {
            account: name("alpha"),
            until: Some(until.clone()),
        };
        let run = core
            .start_inventory(admin(), &action, asked.clone())
            .await
            .unwrap();
        let id = run.job_id();
        let worker = tokio::spawn({
            let core = core.clone();
            async move { core.run_inventory(run).await }
        });
        let started = std::time::Instant::now();
        while core.job(&admin(), id).await.unwrap().last_line == 0 {
            assert!(started.elapsed().as_secs() < 60, "no chunk was committed");
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        worker.abort();
        assert!(
            worker.await.is_err(),
            "the worker was stopped, not finished"
        );
        let stopped = core.job(&admin(), id).await.unwrap();
        assert!(stopped.last_line < 10_000, "stopped too late: {stopped:?}");
        assert_eq!(stopped.last_line % 1_000, 0, "whole chunks: {stopped:?}");
        let reserved = InventoryFilter {
            state: Some(InventoryState::Reserved),
            account: Some(name("alpha")),
            ..Default::default()
        };
        let held = |core: Provisioning| {
            let reserved = reserved.clone();
            async move {
                core.list_inventory(&admin(), &reserved, None, 10_001)
                    .await
                    .unwrap()
                    .len() as i64
            }
        };
        assert_eq!(
            held(core.clone()).await,
            stopped.changed,
            "the job's progress commits with its chunk"
        );

        let started = std::time::Instant::now();
        while core.job(&admin(), id).await.unwrap().state != "interrupted" {
            core.mark_interrupted_jobs().await.unwrap();
            assert!(started.elapsed().as_secs() < 20, "never interrupted");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let Resumed::Inventory { run, job } = core.resume_job(admin(), id).await.unwrap() else {
            panic!("an inventory job resumes as one");
        };
        assert_eq!(job.last_line, stopped.last_line);
        let rest = core.run_inventory(run).await.unwrap();
        assert_eq!(
            rest.results.len() as i64,
            10_000 - stopped.last_line,
            "only the numbers after the last chunk are done again"
        );
        let done = core.job(&admin(), id).await.unwrap();
        assert_eq!(
            (
                done.state.as_str(),
                done.rows_read,
                done.changed,
                done.invalid
            ),
            ("finished", 10_000, 9_998, 2),
            "the counts of one clean run: {done:?}"
        );
        assert_eq!(held(core.clone()).await, 9_998);
        let kept = core.job_errors(&admin(), id).await.unwrap();
        let kept: Vec<(i64, &str, &str)> = kept
            .iter()
            .map(|e| (e.line, e.key.as_deref().unwrap_or(""), e.code.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                (7_778, "+442071117777", "NumberReservedForAnotherAccount"),
                (10_000, "+442071110000", "Duplicate")
            ]
        );
        let one = core.standing(&admin(), &tn("+442071119998")).await.unwrap();
        assert_eq!(
            one.until.as_deref(),
            Some(format!("{}T00:00:00.000Z", day_after).as_str()),
            "held through the day the action named, after the resume too"
        );
        let events = core
            .audit_events(&admin(), Some("number"), Some("+442071110001"), None, 100)
            .await
            .unwrap();
        assert_eq!(
            events.iter().filter(|e| e.action == "reserve").count(),
            1,
            "reserved once"
        );
        test.remove().await;
    }
}
