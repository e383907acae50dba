//! Billable users, on SQLite and PostgreSQL alike: each day counted once (two nodes at once
//! included) by ACG's rules per service, the month's report reading the most users on any day,
//! and past days kept as they were whatever changes later (a deleted account included).

use crate::common::TestDb;
use numbat::domain::number::{Capability, TeamsNumberConfig, Usage};
use numbat::domain::{
    Account, AccountName, AccountServices, Number, NumberService, NumberServices, Service,
    TelephoneNumber, TenantId,
};
use numbat::provisioning::billing::Month;
use numbat::provisioning::{Actor, Door, Precondition, Provisioning, Role};
use time::macros::datetime;

fn admin() -> Actor {
    Actor::new("admin@example.net", &[Role::Admin], Door::Api)
}

fn name(raw: &str) -> AccountName {
    AccountName::parse(raw).unwrap()
}

async fn account(core: &Provisioning, raw: &str, service: Service, sync: bool) {
    let account = Account {
        teams_tenant_id: service
            .traits()
            .teams_tenant
            .then(|| TenantId::parse("2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901").unwrap()),
        services: AccountServices::default().with(service, true, sync),
        ..Account::named(name(raw))
    };
    core.put_account(&admin(), account, Precondition::NONE)
        .await
        .unwrap();
}

async fn numbers(core: &Provisioning, account: &str, service: Service, first: u32, count: u32) {
    let teams = service.traits().teams_tenant.then(|| NumberService {
        enabled: true,
        assignment_status: None,
        configuration: Some(TeamsNumberConfig {
            usage: Usage::FirstPartyAppAssignment,
            choosable_capabilities: vec![Capability::parse("InboundCalling").unwrap()],
            additional_usages: vec![],
            civic_address_id: None,
            location_id: None,
            allow_tenant_address_update: false,
            displayed_country_code: None,
        }),
    });
    let batch: Vec<Number> = (first..first + count)
        .map(|i| Number {
            telephone_number: TelephoneNumber::parse(&format!("+4420712{i:05}")).unwrap(),
            account_name: name(account),
            services: NumberServices::only(service, teams.clone()),
            custom_sip_header: None,
        })
        .collect();
    core.create_numbers(&admin(), &name(account), batch)
        .await
        .unwrap();
}

#[tokio::test]
async fn each_day_is_counted_once_by_acgs_rules_and_kept_whatever_changes_later() {
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let core = Provisioning::new(test.db.clone());
        account(&core, "direct", Service::TeamsDirectRouting, false).await;
        account(&core, "zoom", Service::ZoomPhoneCloudPeering, false).await;
        account(
            &core,
            "protect",
            Service::AzureOperatorCallProtection,
            false,
        )
        .await;
        // Operator Connect: one account's numbers are in Operator Connect (not synced by
        // Numbat, so there as uploaded), the other's still waiting to sync: only the first count.
        account(&core, "oc-manual", Service::TeamsOperatorConnect, false).await;
        account(&core, "oc-pending", Service::TeamsOperatorConnect, true).await;
        numbers(&core, "direct", Service::TeamsDirectRouting, 0, 5).await;
        numbers(&core, "zoom", Service::ZoomPhoneCloudPeering, 100, 2).await;
        numbers(
            &core,
            "protect",
            Service::AzureOperatorCallProtection,
            200,
            1,
        )
        .await;
        numbers(&core, "oc-manual", Service::TeamsOperatorConnect, 300, 3).await;
        numbers(&core, "oc-pending", Service::TeamsOperatorConnect, 400, 4).await;

        // Two nodes at the same moment: the day is counted once.
        let day1 = datetime!(2026-11-03 00:04 UTC);
        let (a, b) = tokio::join!(
            core.take_billing_snapshot(day1, "node-a"),
            core.take_billing_snapshot(day1, "node-b")
        );
        assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|t| **t).count(), 1);
        assert!(!core
            .take_billing_snapshot(day1 + time::Duration::hours(5), "node-a")
            .await
            .unwrap());

        // The next day: Direct Routing grows to 8, then the account is deleted altogether.
        numbers(&core, "direct", Service::TeamsDirectRouting, 5, 3).await;
        assert!(core
            .take_billing_snapshot(datetime!(2026-11-04 00:01 UTC), "node-b")
            .await
            .unwrap());
        core.delete_account(&admin(), &name("direct"), true, Precondition::NONE)
            .await
            .unwrap();
        assert!(core
            .take_billing_snapshot(datetime!(2026-11-05 00:01 UTC), "node-a")
            .await
            .unwrap());

        let report = core
            .billable_users(&admin(), Month::parse("2026-11").unwrap())
            .await
            .unwrap();
        assert_eq!(report.days_counted, 3);
        let of = |service: Service| {
            report
                .services
                .iter()
                .find(|s| s.service == service)
                .unwrap()
        };
        let dr = of(Service::TeamsDirectRouting);
        assert_eq!(
            (dr.peak, dr.peak_day.as_deref(), dr.latest),
            (8, Some("2026-11-04"), 0)
        );
        assert_eq!(dr.accounts.len(), 1);
        assert_eq!(
            (
                dr.accounts[0].account_name.as_str(),
                dr.accounts[0].peak,
                dr.accounts[0].latest
            ),
            ("direct", 8, 0)
        );
        assert_eq!(of(Service::ZoomPhoneCloudPeering).peak, 2);
        assert_eq!(of(Service::AzureOperatorCallProtection).peak, 1);
        let oc = of(Service::TeamsOperatorConnect);
        assert_eq!(oc.peak, 3, "only the numbers in Operator Connect count");
        assert_eq!(
            oc.accounts
                .iter()
                .map(|a| a.account_name.as_str())
                .collect::<Vec<_>>(),
            ["oc-manual"]
        );
        assert_eq!(of(Service::TeamsPhoneMobile).peak, 0);
        // The deployment's most on a day is the day's total, not the sum of each service's most.
        assert_eq!(
            (report.peak, report.peak_day.as_deref()),
            (8 + 2 + 1 + 3, Some("2026-11-04"))
        );
        assert_eq!(report.billed, 0, "within the 999 the service fee includes");
        assert_eq!(
            report.days.iter().map(|d| d.total).collect::<Vec<_>>(),
            [11, 14, 6]
        );

        // Another month has nothing counted, and says so by its figures.
        let empty = core
            .billable_users(&admin(), Month::parse("2026-10").unwrap())
            .await
            .unwrap();
        assert_eq!(
            (empty.days_counted, empty.peak, empty.peak_day),
            (0, 0, None)
        );
        test.remove().await;
    }
}

#[tokio::test]
async fn the_billing_page_its_csv_and_the_api_show_the_same_month() {
    use crate::common::{api_token, app_without_bundle, Browser};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use numbat::auth::users::PortalRole;
    let _renderer = crate::common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    account(&core, "north", Service::TeamsDirectRouting, false).await;
    account(&core, "south", Service::ZoomPhoneCloudPeering, false).await;
    numbers(&core, "north", Service::TeamsDirectRouting, 0, 3).await;
    numbers(&core, "south", Service::ZoomPhoneCloudPeering, 10, 1).await;
    assert!(core
        .take_billing_snapshot(datetime!(2026-11-10 00:02 UTC), "n")
        .await
        .unwrap());
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "reader", &[PortalRole::ReadUser]).await;

    let (response, html) = browser.get("/billing?month=2026-11").await;
    assert_eq!(response.status(), StatusCode::OK);
    for text in [
        "<h2>Month 2026-11</h2>",
        "4 users (on 2026-11-10)",
        "999 users",
        "every number with Microsoft Teams Direct Routing on",
        r#"<a href="/accounts/north">north</a>: 3 users"#,
        r#"href="/billing/export.csv?month=2026-11""#,
        r#"href="/billing?month=2026-10""#,
        "2026-11-10: 4 users",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
    let (_, empty) = browser.get("/billing?month=2026-09").await;
    assert!(
        empty.contains("No day of this month has been counted"),
        "{empty}"
    );
    let (_, refused) = browser.get("/billing?month=2026-13").await;
    assert!(
        refused.contains("Month: must be a month as YYYY-MM"),
        "{refused}"
    );

    let (response, csv) = browser.get("/billing/export.csv?month=2026-11").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        csv.starts_with("month,service,account,peak,latest,days_counted\n"),
        "{csv}"
    );
    assert!(
        csv.contains("2026-11,teamsDirectRouting,north,3,3,1\n"),
        "{csv}"
    );
    assert!(
        csv.contains("2026-11,zoomPhoneCloudPeering,(all accounts),1,1,1\n"),
        "{csv}"
    );
    let (response, _) = browser.get("/billing/export.csv?month=%0D%0Abad").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let token = api_token(&test.db, "bss", &[Role::Read]).await;
    let call = |uri: &str| {
        Request::get(format!(
            "/provisioning/billableUsers?api-version=2024-02-29-preview{uri}"
        ))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
    };
    let (response, body) = crate::common::send(&app, call("&month=2026-11")).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["peak"], 4);
    assert_eq!(report["daysCounted"], 1);
    let dr = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "teamsDirectRouting")
        .unwrap();
    assert_eq!(dr["peak"], 3);
    assert_eq!(dr["accounts"][0]["accountName"], "north");
    let (response, body) = crate::common::send(&app, call("&month=2026-1")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("month") && body.contains("InvalidFormat"),
        "{body}"
    );
    test.remove().await;
}
