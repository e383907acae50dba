//! The portal's bulk work as a browser without JavaScript does it: uploading a CSV (checked,
//! then applied), downloading exports, a bulk action as a job, the audit trail's field-by-field
//! changes and filters, and the admins' review with its chart.

use crate::common::{self, app_without_bundle, Browser, TestDb};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use numbat::auth::users::PortalRole;
use numbat::domain::{
    Account, AccountName, AccountServices, CustomSipHeader, Number, NumberService, NumberServices,
    Service, TelephoneNumber, TenantId,
};
use numbat::provisioning::{Actor, Door, Precondition, Provisioning, Role};
use std::time::Duration;

fn admin() -> Actor {
    Actor::new("setup", &[Role::Admin], Door::Api)
}

fn name(raw: &str) -> AccountName {
    AccountName::parse(raw).unwrap()
}

/// contoso with Direct Routing and Teams Phone Mobile; fabrikam with Direct Routing.
async fn accounts(core: &Provisioning) {
    let contoso = Account {
        teams_tenant_id: Some(TenantId::parse("a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a").unwrap()),
        services: AccountServices::default()
            .with(Service::TeamsDirectRouting, true, false)
            .with(Service::TeamsPhoneMobile, true, false),
        ..Account::named(name("contoso"))
    };
    let fabrikam = Account {
        services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
        ..Account::named(name("fabrikam"))
    };
    for account in [contoso, fabrikam] {
        core.put_account(&admin(), account, Precondition::NONE)
            .await
            .unwrap();
    }
}

fn dr(number: &str, account: &str) -> Number {
    Number {
        telephone_number: TelephoneNumber::parse(number).unwrap(),
        account_name: name(account),
        services: NumberServices::only(Service::TeamsDirectRouting, None),
        custom_sip_header: None,
    }
}

/// Posts `file` as the upload form does (multipart), with the form's other fields.
async fn upload(browser: &mut Browser, file: &str, fields: &[(&str, &str)]) -> String {
    let boundary = "----numbat-test-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"numbers.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    let request = Request::post("/imports")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("host", "portal.test")
        .header("origin", "http://portal.test")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(body))
        .unwrap();
    let (response, _) = browser.send(request).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Reloads a job's page (as its refresh does) until it no longer says it is running.
async fn finished_page(browser: &mut Browser, path: &str) -> String {
    for _ in 0..500 {
        let (response, html) = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        if !html.contains("Refresh to see how far it is") {
            return html;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} still running");
}

const FILE: &str = "\
telephoneNumber,accountName,serviceDetails_teamsDirectRouting_enabled,configuration_customSipHeader
+441632960501,contoso,true,first
+441632960502,contoso,true,
+441632960503,nobody,true,
+441632960504,contoso,maybe,
";

#[tokio::test]
async fn an_upload_is_checked_first_then_applied_and_its_report_lists_the_bad_rows() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    accounts(&core).await;
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "writer", &[PortalRole::WriteUser]).await;

    let check = upload(&mut browser, FILE, &[]).await;
    assert!(check.starts_with("/imports/"), "{check}");
    let html = finished_page(&mut browser, &check).await;
    assert!(
        html.contains("4 rows: 2 would be created, 0 changed, 0 unchanged; 2 invalid."),
        "{html}"
    );
    assert!(html.contains("No number was changed."), "{html}");
    assert!(html.contains("AccountNotFound") && html.contains("account nobody does not exist"));
    assert!(
        html.contains("serviceDetails_teamsDirectRouting_enabled") && html.contains("InvalidValue")
    );
    assert_eq!(
        core.count_numbers(&admin(), &Default::default())
            .await
            .unwrap(),
        0
    );

    let id = check.trim_start_matches("/imports/");
    let (response, csv) = browser.get(&format!("/imports/{id}/report.csv")).await;
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        csv,
        "line,column,code,reason\n4,accountName,AccountNotFound,account nobody does not exist\n5,serviceDetails_teamsDirectRouting_enabled,InvalidValue,must be true or false\n"
    );

    assert!(
        html.contains(&format!(r#"action="/imports/{id}/apply""#)),
        "{html}"
    );
    let (response, _) = browser.post(&format!("/imports/{id}/apply"), "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let applied = response.headers()["location"].to_str().unwrap().to_owned();
    assert_ne!(applied, check, "applying is a run of its own");
    let html = finished_page(&mut browser, &applied).await;
    assert!(
        html.contains("4 rows: 2 created, 0 changed, 0 unchanged; 2 invalid rows skipped."),
        "{html}"
    );
    let first = core
        .get_number(
            &admin(),
            None,
            &TelephoneNumber::parse("+441632960501").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(first.number.custom_sip_header.unwrap().as_str(), "first");

    let (_, list) = browser.get("/imports").await;
    assert!(
        list.contains(&check) && list.contains(&applied),
        "both runs are listed: {list}"
    );
}

#[tokio::test]
async fn a_read_user_cannot_upload_and_a_plain_file_needs_its_service() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    accounts(&core).await;
    let app = app_without_bundle(&test.db);

    let mut reader = Browser::signed_in(&app, &test.db, "reader", &[PortalRole::ReadUser]).await;
    let back = upload(&mut reader, FILE, &[]).await;
    assert!(back.starts_with("/imports?error="), "{back}");
    let (_, html) = reader.get(&back).await;
    assert!(html.contains("Your role does not allow this"), "{html}");

    let mut writer = Browser::signed_in(&app, &test.db, "writer", &[PortalRole::WriteUser]).await;
    let plain = "Numbers\n+441632960601\n+441632960602\n";
    let stopped = upload(&mut writer, plain, &[("account", "fabrikam")]).await;
    let html = finished_page(&mut writer, &stopped).await;
    assert!(
        html.contains("It stopped: line 1: a file with one number per line needs the service"),
        "{html}"
    );
    let check = upload(
        &mut writer,
        plain,
        &[("account", "fabrikam"), ("service", "teamsDirectRouting")],
    )
    .await;
    let html = finished_page(&mut writer, &check).await;
    assert!(html.contains("2 would be created"), "{html}");
    assert_eq!(
        core.count_numbers(&admin(), &Default::default())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn the_numbers_list_exports_what_its_filter_shows() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    accounts(&core).await;
    for (number, account) in [("+441632960701", "contoso"), ("+441632960702", "fabrikam")] {
        core.put_number(&admin(), dr(number, account), Precondition::NONE)
            .await
            .unwrap();
    }
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "reader", &[PortalRole::ReadUser]).await;
    let (_, page) = browser.get("/numbers?account=fabrikam").await;
    assert!(
        page.contains(r#"href="/numbers/export.csv?account=fabrikam""#),
        "{page}"
    );
    let (response, csv) = browser.get("/numbers/export.csv?account=fabrikam").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("numbers.csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("telephoneNumber,accountName,"),
        "{csv}"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].starts_with("+441632960702,fabrikam,"), "{csv}");

    let (_, accounts_page) = browser.get("/accounts?service=teamsPhoneMobile").await;
    assert!(
        accounts_page.contains(r#"href="/accounts/export.csv?service=teamsPhoneMobile""#),
        "{accounts_page}"
    );
    let (response, csv) = browser
        .get("/accounts/export.csv?service=teamsPhoneMobile")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("name,correlationId,serviceDetails_teamsTenantId,"),
        "{csv}"
    );
    assert_eq!(lines.len(), 2, "only contoso has Teams Phone Mobile: {csv}");
    let heading: Vec<&str> = lines[0].split(',').collect();
    let cells: Vec<&str> = lines[1].split(',').collect();
    let cell = |name: &str| cells[heading.iter().position(|h| *h == name).unwrap()];
    assert_eq!(cell("name"), "contoso");
    assert_eq!(cell("serviceDetails_teamsDirectRouting_numberCount"), "1");
    assert_eq!(cell("serviceDetails_teamsPhoneMobile_enabled"), "true");

    let mut signed_out = Browser::new(&app);
    let (response, _) = signed_out.get("/numbers/export.csv").await;
    assert!(
        response.status().is_redirection(),
        "an export needs a session"
    );
}

#[tokio::test]
async fn a_bulk_action_runs_as_a_job_respects_every_rule_and_shows_in_the_audit_trail() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    accounts(&core).await;
    core.put_number(&admin(), dr("+441632960801", "contoso"), Precondition::NONE)
        .await
        .unwrap();
    let mobile = Number {
        services: NumberServices::only(
            Service::TeamsPhoneMobile,
            Some(NumberService {
                enabled: true,
                assignment_status: None,
                configuration: Some(numbat::domain::TeamsNumberConfig {
                    usage: numbat::domain::number::Usage::CallingUserAssignment,
                    choosable_capabilities: vec![numbat::domain::number::Capability::parse(
                        "Mobile",
                    )
                    .unwrap()],
                    additional_usages: vec![],
                    civic_address_id: None,
                    location_id: None,
                    allow_tenant_address_update: true,
                    displayed_country_code: None,
                }),
            }),
        ),
        ..dr("+447700900802", "contoso")
    };
    core.put_number(&admin(), mobile, Precondition::NONE)
        .await
        .unwrap();
    let app = app_without_bundle(&test.db);

    let mut reader = Browser::signed_in(&app, &test.db, "reader", &[PortalRole::ReadUser]).await;
    let (response, _) = reader
        .post("/numbers/bulk", "action=clearHeader&scope=matching&filter=")
        .await;
    let back = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.contains("bulk_error="),
        "a read user is refused: {back}"
    );

    let mut writer = Browser::signed_in(&app, &test.db, "writer", &[PortalRole::WriteUser]).await;
    let (page_response, page) = writer.get("/numbers?account=contoso").await;
    assert_eq!(page_response.status(), StatusCode::OK);
    assert!(page.contains(r#"form="bulk-form""#) && page.contains(r#"action="/numbers/bulk""#));
    let (response, _) = writer
        .post(
            "/numbers/bulk",
            "action=setHeader&header=billing-7&scope=matching&filter=account%3Dcontoso",
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let job = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(job.starts_with("/jobs/"), "{job}");
    let html = finished_page(&mut writer, &job).await;
    assert!(
        html.contains("2 numbers: 1 changed, 0 unchanged; 1 refused (left as they were)."),
        "{html}"
    );
    assert!(
        html.contains("+447700900802") && html.contains("CustomHeaderNotSupported"),
        "{html}"
    );
    let changed = core
        .get_number(
            &admin(),
            None,
            &TelephoneNumber::parse("+441632960801").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        changed.number.custom_sip_header,
        Some(CustomSipHeader::parse("billing-7").unwrap())
    );

    let mut deleter =
        Browser::signed_in(&app, &test.db, "deleter", &[PortalRole::DeleteUser]).await;
    let (response, _) = deleter
        .post(
            "/numbers/bulk",
            "action=delete&scope=selected&selected=%2B441632960801",
        )
        .await;
    let back = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.contains("bulk_error=Delete"),
        "deleting needs the confirmation: {back}"
    );
    assert!(core
        .get_number(
            &admin(),
            None,
            &TelephoneNumber::parse("+441632960801").unwrap()
        )
        .await
        .is_ok());

    let (_, audit) = writer.get("/audit?key=%2B441632960801").await;
    assert!(
        audit.contains("<ins>billing-7</ins>"),
        "the change shows its new value: {audit}"
    );
    assert!(audit.contains("customSipHeader"), "{audit}");
    let (_, jobs) = writer.get("/audit?kind=job").await;
    let job_id = job.trim_start_matches("/jobs/");
    assert!(
        jobs.contains(&format!(r#"<a href="/jobs/{job_id}">{job_id}</a>"#))
            && jobs.contains("start job")
            && jobs.contains("setHeader"),
        "the bulk action's start is in the audit trail: {jobs}"
    );
    let (_, by_actor) = writer.get("/audit?actor=writer").await;
    assert!(
        by_actor.contains("+441632960801") && !by_actor.contains(">setup<"),
        "{by_actor}"
    );
    let (_, history) = writer.get("/numbers/%2B441632960801").await;
    assert!(
        history.contains("History") && history.contains("<ins>billing-7</ins>"),
        "{history}"
    );
    let (_, csv) = writer.get("/audit/export.csv?account=contoso").await;
    assert!(csv.starts_with("id,at,actor,role,door,action,kind,key,account,field,before,after\n"));
    assert!(
        csv.contains(",writer,") && csv.contains(",customSipHeader,,billing-7"),
        "{csv}"
    );
}

#[tokio::test]
async fn the_review_draws_its_figures_and_links_each_to_its_list() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    accounts(&core).await;
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "reader", &[PortalRole::ReadUser]).await;
    // A new deployment: each chart says why it has nothing to draw, and where numbers come from.
    let (_, html) = browser.get("/review").await;
    assert!(!html.contains("<svg"), "{html}");
    assert!(html.contains("No account has numbers yet"), "{html}");
    assert!(
        html.contains("No numbers yet, so no sync status to count."),
        "{html}"
    );
    assert!(
        html.contains("<strong>0</strong> numbers with no service"),
        "{html}"
    );
    for number in ["+441632960901", "+441632960902"] {
        core.put_number(&admin(), dr(number, "contoso"), Precondition::NONE)
            .await
            .unwrap();
    }
    let bare = Number {
        services: NumberServices::default(),
        ..dr("+441632960903", "fabrikam")
    };
    core.put_number(&admin(), bare, Precondition::NONE)
        .await
        .unwrap();
    let (response, html) = browser.get("/review").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(html.contains("<svg"), "{html}");
    assert!(
        html.contains(r#"<a href="/numbers?service=teamsDirectRouting" tabindex="-1">"#),
        "{html}"
    );
    assert!(
        html.contains(
            r#"<a href="/numbers?account=contoso">contoso</a></th><td class="number">2</td>"#
        ),
        "{html}"
    );
    assert!(
        html.contains("<strong>1</strong> number with no service"),
        "{html}"
    );
    let (_, none) = browser.get("/numbers?service=none").await;
    assert!(
        none.contains("+441632960903") && !none.contains("+441632960901"),
        "{none}"
    );
}

#[tokio::test]
async fn moving_and_deleting_in_bulk_keep_counts_and_refuse_what_a_rule_forbids() {
    use numbat::provisioning::bulk::{BulkAction, Selection};
    use numbat::provisioning::NumberFilter;
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let core = Provisioning::new(test.db.clone());
        accounts(&core).await;
        let zoom_only = Account {
            services: AccountServices::default().with(Service::ZoomPhoneCloudPeering, true, false),
            ..Account::named(name("zoomonly"))
        };
        core.put_account(&admin(), zoom_only, Precondition::NONE)
            .await
            .unwrap();
        for number in ["+441632961001", "+441632961002", "+441632961003"] {
            core.put_number(&admin(), dr(number, "contoso"), Precondition::NONE)
                .await
                .unwrap();
        }
        let contoso = NumberFilter {
            account: Some(name("contoso")),
            ..NumberFilter::default()
        };
        let count = |account: &'static str| {
            let core = core.clone();
            async move {
                let record = core.get_account(&admin(), &name(account)).await.unwrap();
                record.number_counts.0[Service::TeamsDirectRouting.index()]
            }
        };

        // Direct Routing is not enabled on zoomonly: every number stays where it is.
        let refused = BulkAction::MoveTo(name("zoomonly"));
        let run = core
            .start_bulk(admin(), &refused, "contoso's numbers", Some(3))
            .await
            .unwrap();
        let job = run.job_id();
        let tally = core
            .run_bulk(run, &refused, Selection::Matching(contoso.clone()))
            .await
            .unwrap();
        assert_eq!((tally.changed, tally.invalid), (0, 3));
        let errors = core.job_errors(&admin(), job).await.unwrap();
        assert!(
            errors
                .iter()
                .all(|e| e.code == "ServiceNotEnabledOnAccount"),
            "{errors:?}"
        );
        assert_eq!(count("contoso").await, 3);

        let to_fabrikam = BulkAction::MoveTo(name("fabrikam"));
        let two = vec![
            TelephoneNumber::parse("+441632961001").unwrap(),
            TelephoneNumber::parse("+441632961002").unwrap(),
        ];
        let run = core
            .start_bulk(admin(), &to_fabrikam, "two numbers", Some(2))
            .await
            .unwrap();
        let tally = core
            .run_bulk(run, &to_fabrikam, Selection::Numbers(two))
            .await
            .unwrap();
        assert_eq!((tally.changed, tally.invalid), (2, 0));
        assert_eq!((count("contoso").await, count("fabrikam").await), (1, 2));
        let moved = core
            .get_number(
                &admin(),
                None,
                &TelephoneNumber::parse("+441632961001").unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(moved.number.account_name.as_str(), "fabrikam");

        // A number changed after the job read it is left as it now is, and listed.
        let clear = BulkAction::ClearHeader;
        let key = TelephoneNumber::parse("+441632961003").unwrap();
        let read = core.get_number(&admin(), None, &key).await.unwrap();
        let mut edited = read.number.clone();
        edited.custom_sip_header = Some(CustomSipHeader::parse("edited-meanwhile").unwrap());
        core.put_number(&admin(), edited, Precondition::NONE)
            .await
            .unwrap();
        let mut run = core
            .start_bulk(admin(), &clear, "one", Some(1))
            .await
            .unwrap();
        let job = run.job_id();
        run.push(numbat::provisioning::import::ImportRow {
            line: 1,
            number: Ok(read.number.clone()),
            read_at_version: Some(read.version),
            tags: None,
        })
        .await
        .unwrap();
        let (_, tally) = run.finish().await.unwrap();
        assert_eq!((tally.changed, tally.invalid), (0, 1));
        let errors = core.job_errors(&admin(), job).await.unwrap();
        assert_eq!(errors[0].code, "ChangedMeanwhile");
        let now = core.get_number(&admin(), None, &key).await.unwrap();
        assert_eq!(
            now.number.custom_sip_header.unwrap().as_str(),
            "edited-meanwhile"
        );

        let writer = Actor::new("writer", &[Role::Write], Door::Portal);
        assert!(
            core.start_bulk(writer, &BulkAction::Delete, "all", None)
                .await
                .is_err(),
            "deleting needs the Delete role"
        );
        let run = core
            .start_bulk(admin(), &BulkAction::Delete, "every number", None)
            .await
            .unwrap();
        let tally = core
            .run_bulk(
                run,
                &BulkAction::Delete,
                Selection::Matching(NumberFilter::default()),
            )
            .await
            .unwrap();
        assert_eq!(tally.changed, 3);
        assert_eq!(
            core.count_numbers(&admin(), &NumberFilter::default())
                .await
                .unwrap(),
            0
        );
        assert_eq!((count("contoso").await, count("fabrikam").await), (0, 0));
        test.remove().await;
    }
}
