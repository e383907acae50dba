//! The provisioning core's contract, run against SQLite and PostgreSQL alike: every rule that
//! needs the database, atomic batches, versions, audit events and the outbox.

use crate::common::TestDb;
use numbat::domain::number::{Capability, TeamsNumberConfig, Usage};
use numbat::domain::{
    Account, AccountName, AccountServices, BaseDomain, CustomSipHeader, DirectRoutingConfig,
    LineType, Number, NumberService, NumberServices, ProvisioningStatus, Service, SubdomainLabel,
    SubdomainToken, TelephoneNumber, TenantId,
};
use numbat::provisioning::{
    Actor, DeploymentSettings, Door, NumberFilter, NumberOrder, Outcome, Precondition,
    Provisioning, ProvisioningError, Role,
};

const TENANT: &str = "a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a";

fn admin() -> Actor {
    Actor::new("admin@example.net", &[Role::Admin], Door::Api)
}

fn name(raw: &str) -> AccountName {
    AccountName::parse(raw).unwrap()
}

fn tn(raw: &str) -> TelephoneNumber {
    TelephoneNumber::parse(raw).unwrap()
}

fn account(raw: &str, services: AccountServices, tenant: bool) -> Account {
    Account {
        teams_tenant_id: tenant.then(|| TenantId::parse(TENANT).unwrap()),
        services,
        ..Account::named(name(raw))
    }
}

fn dr_account(raw: &str) -> Account {
    account(
        raw,
        AccountServices::default().with(Service::TeamsDirectRouting, true, false),
        false,
    )
}

fn dr_number(number: &str, account: &str) -> Number {
    Number {
        telephone_number: tn(number),
        account_name: name(account),
        services: NumberServices::only(Service::TeamsDirectRouting, None),
        custom_sip_header: None,
    }
}

fn oc_config() -> TeamsNumberConfig {
    TeamsNumberConfig {
        usage: Usage::CallingUserAssignment,
        choosable_capabilities: vec![Capability::parse("InboundCalling").unwrap()],
        additional_usages: vec![],
        civic_address_id: Some("ebfee340-a791-11ed-9bfa-ed8bb5c41be4".into()),
        location_id: None,
        allow_tenant_address_update: false,
        displayed_country_code: None,
    }
}

fn oc_number(number: &str, account: &str) -> Number {
    let teams = NumberService {
        enabled: true,
        assignment_status: None,
        configuration: Some(oc_config()),
    };
    Number {
        telephone_number: tn(number),
        account_name: name(account),
        services: NumberServices::only(Service::TeamsOperatorConnect, Some(teams)),
        custom_sip_header: None,
    }
}

fn oc_account(raw: &str, sync: bool) -> Account {
    account(
        raw,
        AccountServices::default().with(Service::TeamsOperatorConnect, true, sync),
        true,
    )
}

/// Runs `check` on a fresh, migrated database of every backend.
async fn on_every_backend<F, Fut>(check: F)
where
    F: Fn(Provisioning) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        check(Provisioning::new(test.db.clone())).await;
        test.remove().await;
    }
}

fn fields(error: &ProvisioningError) -> Vec<String> {
    error
        .violations()
        .map(|v| v.iter().map(|v| v.path()).collect())
        .unwrap_or_default()
}

fn codes(error: &ProvisioningError) -> Vec<String> {
    error
        .violations()
        .map(|v| v.iter().map(|v| v.code.as_str().to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_account_is_created_replaced_and_versioned_with_an_audit_trail() {
    on_every_backend(|core| async move {
        let written = core
            .put_account(&admin(), dr_account("contoso"), Precondition::NONE)
            .await
            .unwrap();
        assert_eq!(written.outcome, Outcome::Created);
        assert_eq!(written.record.version, 1);
        assert_eq!(
            written.record.provisioning_status,
            ProvisioningStatus::Synced,
            "DR has nothing to sync"
        );

        let mut changed = dr_account("contoso");
        changed.correlation_id = Some("crm-42".into());
        let written = core
            .put_account(&admin(), changed.clone(), Precondition::if_match(1))
            .await
            .unwrap();
        assert_eq!(
            (written.outcome, written.record.version),
            (Outcome::Replaced, 2)
        );

        let again = core
            .put_account(&admin(), changed, Precondition::NONE)
            .await
            .unwrap();
        assert_eq!(
            (again.outcome, again.record.version),
            (Outcome::Unchanged, 2),
            "no change, no new version"
        );

        let stored = core.get_account(&admin(), &name("contoso")).await.unwrap();
        assert_eq!(stored.account.correlation_id.as_deref(), Some("crm-42"));

        let events = core
            .audit_events(&admin(), Some("account"), Some("contoso"), None, 10)
            .await
            .unwrap();
        let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["create", "replace"]);
        assert_eq!(events[1].actor, "admin@example.net");
        assert_eq!(events[1].door, "api");
        assert!(events[1]
            .before
            .as_deref()
            .unwrap()
            .contains("\"correlationId\":null"));
        assert!(events[1].after.as_deref().unwrap().contains("crm-42"));
    })
    .await;
}

#[tokio::test]
async fn a_stale_version_changes_nothing() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), dr_account("contoso"), Precondition::NONE)
            .await
            .unwrap();
        let mut changed = dr_account("contoso");
        changed.correlation_id = Some("late".into());
        let error = core
            .put_account(&admin(), changed, Precondition::if_match(7))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ProvisioningError::PreconditionFailed {
                    current: Some(1),
                    ..
                }
            ),
            "{error}"
        );
        let error = core
            .put_account(&admin(), dr_account("contoso"), Precondition::IF_ABSENT)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProvisioningError::PreconditionFailed { .. }),
            "create-only on an existing account"
        );
        let stored = core.get_account(&admin(), &name("contoso")).await.unwrap();
        assert_eq!((stored.version, stored.account.correlation_id), (1, None));

        core.upsert_numbers(
            &admin(),
            &name("contoso"),
            vec![dr_number("+441632960001", "contoso")],
        )
        .await
        .unwrap();
        let mut header = dr_number("+441632960001", "contoso");
        header.custom_sip_header = Some(CustomSipHeader::parse("late").unwrap());
        let error = core
            .put_number(&admin(), header, Precondition::if_match(2))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ProvisioningError::PreconditionFailed {
                    current: Some(1),
                    ..
                }
            ),
            "{error}"
        );
        let error = core
            .delete_number(
                &admin(),
                &name("contoso"),
                &tn("+441632960001"),
                Precondition::if_match(5),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProvisioningError::PreconditionFailed { .. }),
            "{error}"
        );
        let number = core
            .get_number(&admin(), None, &tn("+441632960001"))
            .await
            .unwrap();
        assert_eq!((number.version, number.number.custom_sip_header), (1, None));
    })
    .await;
}

#[tokio::test]
async fn a_number_belongs_to_at_most_one_account() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), dr_account("first"), Precondition::NONE)
            .await
            .unwrap();
        core.put_account(&admin(), dr_account("second"), Precondition::NONE)
            .await
            .unwrap();
        core.upsert_numbers(
            &admin(),
            &name("first"),
            vec![dr_number("+441632960001", "first")],
        )
        .await
        .unwrap();
        let error = core
            .upsert_numbers(
                &admin(),
                &name("second"),
                vec![dr_number("+441632960001", "second")],
            )
            .await
            .unwrap_err();
        assert!(matches!(error, ProvisioningError::Conflict(_)), "{error}");
        assert_eq!(codes(&error), ["NumberInAnotherAccount"]);
        assert!(
            error
                .to_string()
                .contains("already belongs to account first"),
            "{error}"
        );
        let stored = core
            .get_number(&admin(), None, &tn("+441632960001"))
            .await
            .unwrap();
        assert_eq!(stored.number.account_name, name("first"));
    })
    .await;
}

#[tokio::test]
async fn a_batch_with_one_bad_item_writes_nothing_and_names_every_bad_item() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), dr_account("contoso"), Precondition::NONE)
            .await
            .unwrap();
        let mut zoom = dr_number("+441632960002", "contoso");
        zoom.services = NumberServices::only(Service::ZoomPhoneCloudPeering, None);
        let batch = vec![
            dr_number("+441632960001", "contoso"),
            zoom,
            dr_number("+441632960003", "contoso"),
            dr_number("+441632960001", "contoso"),
        ];
        let error = core
            .upsert_numbers(&admin(), &name("contoso"), batch)
            .await
            .unwrap_err();
        assert!(matches!(error, ProvisioningError::Invalid(_)), "{error}");
        assert_eq!(
            fields(&error),
            [
                "numbers[1].serviceDetails.zoomPhoneCloudPeering.enabled",
                "numbers[3].telephoneNumber"
            ]
        );
        assert_eq!(codes(&error), ["ServiceNotEnabledOnAccount", "Duplicate"]);
        let count = core
            .count_numbers(&admin(), &NumberFilter::default())
            .await
            .unwrap();
        assert_eq!(count, 0, "all or nothing");
        let events = core
            .audit_events(&admin(), Some("number"), None, None, 10)
            .await
            .unwrap();
        assert!(events.is_empty());
    })
    .await;
}

#[tokio::test]
async fn deleting_an_account_with_numbers_needs_them_to_go_too() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), dr_account("contoso"), Precondition::NONE)
            .await
            .unwrap();
        let batch = vec![
            dr_number("+441632960001", "contoso"),
            dr_number("+441632960002", "contoso"),
        ];
        core.upsert_numbers(&admin(), &name("contoso"), batch)
            .await
            .unwrap();

        let error = core
            .delete_account(&admin(), &name("contoso"), false, Precondition::NONE)
            .await
            .unwrap_err();
        assert!(matches!(error, ProvisioningError::Conflict(_)), "{error}");
        assert!(error.to_string().contains("has 2 numbers"), "{error}");
        assert_eq!(
            core.count_numbers(&admin(), &NumberFilter::default())
                .await
                .unwrap(),
            2
        );

        core.delete_account(&admin(), &name("contoso"), true, Precondition::NONE)
            .await
            .unwrap();
        assert_eq!(
            core.count_numbers(&admin(), &NumberFilter::default())
                .await
                .unwrap(),
            0
        );
        let error = core
            .get_account(&admin(), &name("contoso"))
            .await
            .unwrap_err();
        assert!(matches!(error, ProvisioningError::NotFound { .. }));
        let deletes = core
            .audit_events(&admin(), Some("number"), None, None, 10)
            .await
            .unwrap();
        assert_eq!(
            deletes.iter().filter(|e| e.action == "delete").count(),
            2,
            "each number's removal is audited"
        );
    })
    .await;
}

#[tokio::test]
async fn deleting_numbers_is_all_or_nothing_too() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), dr_account("contoso"), Precondition::NONE)
            .await
            .unwrap();
        core.put_account(&admin(), dr_account("other"), Precondition::NONE)
            .await
            .unwrap();
        core.upsert_numbers(
            &admin(),
            &name("contoso"),
            vec![dr_number("+441632960001", "contoso")],
        )
        .await
        .unwrap();
        core.upsert_numbers(
            &admin(),
            &name("other"),
            vec![dr_number("+441632960009", "other")],
        )
        .await
        .unwrap();
        let error = core
            .delete_numbers(
                &admin(),
                &name("contoso"),
                &[tn("+441632960001"), tn("+441632960009")],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProvisioningError::NotFound { .. }),
            "{error}"
        );
        assert_eq!(fields(&error), ["numbers[1].telephoneNumber"]);
        assert_eq!(
            core.count_numbers(&admin(), &NumberFilter::default())
                .await
                .unwrap(),
            2
        );
        core.delete_numbers(&admin(), &name("contoso"), &[tn("+441632960001")])
            .await
            .unwrap();
        assert_eq!(
            core.count_numbers(&admin(), &NumberFilter::default())
                .await
                .unwrap(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn the_teams_tenant_is_locked_while_teams_numbers_exist() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), oc_account("contoso", false), Precondition::NONE)
            .await
            .unwrap();
        let mut moved = oc_account("contoso", false);
        moved.teams_tenant_id =
            Some(TenantId::parse("00000000-0000-4000-8000-000000000001").unwrap());
        core.put_account(&admin(), moved, Precondition::NONE)
            .await
            .expect("no numbers yet: may change");
        core.put_account(&admin(), oc_account("contoso", false), Precondition::NONE)
            .await
            .unwrap();

        core.upsert_numbers(
            &admin(),
            &name("contoso"),
            vec![oc_number("+441632960001", "contoso")],
        )
        .await
        .unwrap();
        let mut moved = oc_account("contoso", false);
        moved.teams_tenant_id =
            Some(TenantId::parse("00000000-0000-4000-8000-000000000001").unwrap());
        let error = core
            .put_account(&admin(), moved, Precondition::NONE)
            .await
            .unwrap_err();
        assert_eq!(fields(&error), ["serviceDetails.teamsTenantId"]);
        assert_eq!(codes(&error), ["TenantIdLocked"]);
    })
    .await;
}

#[tokio::test]
async fn a_service_in_use_cannot_be_turned_off_on_the_account() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), dr_account("contoso"), Precondition::NONE)
            .await
            .unwrap();
        core.upsert_numbers(
            &admin(),
            &name("contoso"),
            vec![dr_number("+441632960001", "contoso")],
        )
        .await
        .unwrap();
        let off = account(
            "contoso",
            AccountServices::default().with(Service::TeamsDirectRouting, false, false),
            false,
        );
        let error = core
            .put_account(&admin(), off, Precondition::NONE)
            .await
            .unwrap_err();
        assert_eq!(codes(&error), ["ServiceInUse"]);
        assert!(error.to_string().contains("1 numbers"), "{error}");
    })
    .await;
}

#[tokio::test]
async fn number_counts_follow_every_change() {
    on_every_backend(|core| async move {
        let both = account(
            "contoso",
            AccountServices::default()
                .with(Service::TeamsDirectRouting, true, false)
                .with(Service::ZoomPhoneCloudPeering, true, false),
            false,
        );
        core.put_account(&admin(), both, Precondition::NONE)
            .await
            .unwrap();
        let batch = vec![
            dr_number("+441632960001", "contoso"),
            dr_number("+441632960002", "contoso"),
        ];
        core.upsert_numbers(&admin(), &name("contoso"), batch)
            .await
            .unwrap();
        let mut zoom = dr_number("+441632960002", "contoso");
        zoom.services = NumberServices::only(Service::ZoomPhoneCloudPeering, None);
        core.put_number(&admin(), zoom, Precondition::NONE)
            .await
            .unwrap();
        let usage = core
            .get_account(&admin(), &name("contoso"))
            .await
            .unwrap()
            .usage();
        assert_eq!(usage.of(Service::TeamsDirectRouting), 1);
        assert_eq!(usage.of(Service::ZoomPhoneCloudPeering), 1);
        core.delete_numbers(&admin(), &name("contoso"), &[tn("+441632960001")])
            .await
            .unwrap();
        let usage = core
            .get_account(&admin(), &name("contoso"))
            .await
            .unwrap()
            .usage();
        assert_eq!(usage.of(Service::TeamsDirectRouting), 0);
    })
    .await;
}

#[tokio::test]
async fn flow_through_changes_queue_outbox_jobs_and_go_pending() {
    on_every_backend(|core| async move {
        let written = core
            .put_account(&admin(), oc_account("synced", true), Precondition::NONE)
            .await
            .unwrap();
        assert_eq!(
            written.record.provisioning_status,
            ProvisioningStatus::Pending
        );
        core.put_account(&admin(), oc_account("manual", false), Precondition::NONE)
            .await
            .unwrap();

        let synced = core
            .upsert_numbers(
                &admin(),
                &name("synced"),
                vec![oc_number("+441632960001", "synced")],
            )
            .await
            .unwrap();
        assert_eq!(
            synced[0].record.provisioning_status,
            ProvisioningStatus::Pending
        );
        let manual = core
            .upsert_numbers(
                &admin(),
                &name("manual"),
                vec![oc_number("+441632960002", "manual")],
            )
            .await
            .unwrap();
        assert_eq!(
            manual[0].record.provisioning_status,
            ProvisioningStatus::Synced
        );

        core.delete_numbers(&admin(), &name("synced"), &[tn("+441632960001")])
            .await
            .unwrap();
        let jobs = core.pending_outbox(&admin(), 10).await.unwrap();
        let kinds: Vec<_> = jobs
            .iter()
            .map(|j| (j.kind.as_str(), j.resource_key.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("account.check", "synced"),
                ("number.upload", "+441632960001"),
                ("number.release", "+441632960001")
            ]
        );
        assert!(jobs[1]
            .payload
            .contains(r#""usage":"CallingUserAssignment""#));
        assert!(jobs[2].payload.contains(TENANT));
    })
    .await;
}

#[tokio::test]
async fn a_reader_cannot_write_and_nothing_changes() {
    on_every_backend(|core| async move {
        let reader = Actor::new("viewer", &[Role::Read], Door::Portal);
        let error = core
            .put_account(&reader, dr_account("contoso"), Precondition::NONE)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProvisioningError::Forbidden { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("Write or Admin"), "{error}");
        assert_eq!(
            core.count_accounts(&reader, &Default::default())
                .await
                .unwrap(),
            0
        );

        let writer = Actor::new("bss", &[Role::Write], Door::Api);
        core.put_account(&writer, dr_account("contoso"), Precondition::NONE)
            .await
            .unwrap();
        let error = core
            .delete_account(&writer, &name("contoso"), false, Precondition::NONE)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("Delete or Admin"), "{error}");
        let error = core
            .put_settings(&writer, DeploymentSettings::default())
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("needs the Admin role"),
            "{error}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_direct_routing_domain_must_fit_in_48_characters() {
    on_every_backend(|core| async move {
        let base = BaseDomain::parse("a-rather-long-deployment.commsgw.example.net").unwrap();
        let settings = DeploymentSettings {
            base_domain: Some(base),
            sip_header_name: None,
            ..Default::default()
        };
        core.put_settings(&admin(), settings).await.unwrap();
        let mut account = dr_account("contoso");
        account.direct_routing = Some(DirectRoutingConfig {
            call_screening: true,
            subdomain: SubdomainLabel::parse("contoso").unwrap(),
            region1_token: SubdomainToken::parse("token1").unwrap(),
            region2_token: SubdomainToken::parse("token2").unwrap(),
        });
        let error = core
            .put_account(&admin(), account, Precondition::NONE)
            .await
            .unwrap_err();
        assert_eq!(
            fields(&error),
            ["serviceDetails.teamsDirectRouting.configuration.subdomain"]
        );
        assert!(
            error.to_string().contains(
                "contoso.1r2.a-rather-long-deployment.commsgw.example.net (56 characters)"
            ),
            "{error}"
        );
    })
    .await;
}

#[tokio::test]
async fn lists_filter_and_page_by_keyset_without_gaps_or_repeats() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), dr_account("uk"), Precondition::NONE)
            .await
            .unwrap();
        core.put_account(&admin(), dr_account("us"), Precondition::NONE)
            .await
            .unwrap();
        let uk: Vec<_> = (0..25)
            .map(|i| dr_number(&format!("+4420794600{i:02}"), "uk"))
            .collect();
        let mut us: Vec<_> = (0..10)
            .map(|i| dr_number(&format!("+1202555010{i}"), "us"))
            .collect();
        us[0].custom_sip_header = Some(CustomSipHeader::parse("billing-7").unwrap());
        core.upsert_numbers(&admin(), &name("uk"), uk)
            .await
            .unwrap();
        core.upsert_numbers(&admin(), &name("us"), us)
            .await
            .unwrap();

        let all = NumberFilter::default();
        let mut seen = Vec::new();
        let mut after: Option<TelephoneNumber> = None;
        loop {
            let page = core
                .list_numbers(&admin(), &all, NumberOrder::Ascending, after.as_ref(), 7)
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            after = Some(page.last().unwrap().number.telephone_number.clone());
            seen.extend(
                page.into_iter()
                    .map(|r| r.number.telephone_number.to_string()),
            );
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(seen, sorted, "pages come in order with no repeats");
        assert_eq!(seen.len(), 35);

        let descending = core
            .list_numbers(&admin(), &all, NumberOrder::Descending, None, 3)
            .await
            .unwrap();
        assert_eq!(
            descending[0].number.telephone_number.as_str(),
            "+442079460024"
        );

        let by_prefix = NumberFilter {
            prefix: Some("+1".into()),
            ..Default::default()
        };
        assert_eq!(core.count_numbers(&admin(), &by_prefix).await.unwrap(), 10);
        let by_account = NumberFilter {
            account: Some(name("uk")),
            ..Default::default()
        };
        assert_eq!(core.count_numbers(&admin(), &by_account).await.unwrap(), 25);
        let with_header = NumberFilter {
            has_custom_header: Some(true),
            ..Default::default()
        };
        let found = core
            .list_numbers(&admin(), &with_header, NumberOrder::Ascending, None, 10)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].number.telephone_number.as_str(), "+12025550100");
        let zoom = NumberFilter {
            service: Some(Service::ZoomPhoneCloudPeering),
            ..Default::default()
        };
        assert_eq!(core.count_numbers(&admin(), &zoom).await.unwrap(), 0);
        let dr = NumberFilter {
            service: Some(Service::TeamsDirectRouting),
            ..Default::default()
        };
        assert_eq!(core.count_numbers(&admin(), &dr).await.unwrap(), 35);
        let fixed = NumberFilter {
            line_type: Some(LineType::FixedLine),
            ..Default::default()
        };
        assert_eq!(
            core.count_numbers(&admin(), &fixed).await.unwrap(),
            25,
            "London 020 numbers are fixed lines"
        );
        let stored = core
            .get_number(&admin(), Some(&name("uk")), &tn("+442079460000"))
            .await
            .unwrap();
        assert_eq!(stored.country.as_deref(), Some("GB"));
        let error = core
            .get_number(&admin(), Some(&name("us")), &tn("+442079460000"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProvisioningError::NotFound { .. }),
            "a number is found only under its own account"
        );
    })
    .await;
}

#[tokio::test]
async fn the_numbering_plan_decides_which_teams_numbers_need_a_displayed_country() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), oc_account("contoso", false), Precondition::NONE)
            .await
            .unwrap();
        let error = core
            .upsert_numbers(
                &admin(),
                &name("contoso"),
                vec![oc_number("+18005550100", "contoso")],
            )
            .await
            .unwrap_err();
        assert_eq!(
            fields(&error),
            ["numbers[0].serviceDetails.teamsOperatorConnect.configuration.displayedCountryCode"]
        );
        let written = core
            .upsert_numbers(
                &admin(),
                &name("contoso"),
                vec![oc_number("+12025550100", "contoso")],
            )
            .await
            .unwrap();
        assert_eq!(written[0].record.line_type, LineType::FixedLineOrMobile);
        assert_eq!(written[0].record.country.as_deref(), Some("US"));
    })
    .await;
}

#[tokio::test]
async fn a_customer_relationship_update_is_kept_and_checked() {
    use numbat::domain::consent::{ConsentStatus, RelationshipChange, RequestForInformation};
    on_every_backend(|core| async move {
        let sync = Actor::new("sync", &[Role::Admin], Door::Sync);
        let tenant = TenantId::parse(TENANT).unwrap();
        let rfi = RequestForInformation {
            id: "214b3a0e-fb7c-481f-9f38-fcb7eab5fad3".into(),
            tenant_id: tenant.clone(),
            account_name: None,
            product_context: "teams".into(),
            operator_id: None,
            status: ConsentStatus::Active,
            consented_on: None,
            last_modified_on: None,
            consented_countries: vec!["GB".into()],
            contacts: vec![],
            customer_relationship: None,
        };
        core.record_rfi(&sync, rfi.clone()).await.unwrap();

        let declined = RelationshipChange {
            status: Some("ConsentDeclined".into()),
            comment: None,
        };
        let error = core
            .update_relationship(&admin(), &tenant, declined, Precondition::NONE)
            .await
            .unwrap_err();
        assert_eq!(fields(&error), ["customerRelationship.comment"]);

        let signed = RelationshipChange {
            status: Some("AgreementSigned".into()),
            comment: Some("ticket 7".into()),
        };
        let record = core
            .update_relationship(&admin(), &tenant, signed, Precondition::if_match(1))
            .await
            .unwrap();
        assert_eq!(record.version, 2);
        // Sync reporting the consent again keeps what the operator wrote.
        core.record_rfi(
            &sync,
            RequestForInformation {
                status: ConsentStatus::Suspended,
                ..rfi
            },
        )
        .await
        .unwrap();
        let stored = core.get_rfi(&admin(), &tenant).await.unwrap();
        let relationship = stored.rfi.customer_relationship.unwrap();
        assert_eq!(relationship.status.as_deref(), Some("AgreementSigned"));
        assert_eq!(stored.rfi.status, ConsentStatus::Suspended);
        let jobs = core.pending_outbox(&admin(), 10).await.unwrap();
        assert_eq!(
            jobs.iter()
                .filter(|j| j.kind == "consent.relationship")
                .count(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn civic_addresses_are_read_through_the_accounts_tenant() {
    use numbat::domain::consent::{TeamsCivicAddress, TeamsLocation};
    on_every_backend(|core| async move {
        let sync = Actor::new("sync", &[Role::Admin], Door::Sync);
        let tenant = TenantId::parse(TENANT).unwrap();
        let mut details = serde_json::Map::new();
        details.insert("country".into(), "US".into());
        details.insert("cityOrTown".into(), "Reston".into());
        let address = TeamsCivicAddress {
            id: "ebfee340-a791-11ed-9bfa-ed8bb5c41be4".into(),
            tenant_id: Some(tenant.clone()),
            default_location_id: "653c9fed".into(),
            validation_status: Some(numbat::domain::consent::ValidationStatus::Validated),
            details,
            locations: vec![TeamsLocation {
                id: "653c9fed".into(),
                civic_address_id: "ebfee340-a791-11ed-9bfa-ed8bb5c41be4".into(),
                description: Some("911".into()),
                additional_info: None,
                is_default: Some(true),
                elin: None,
            }],
        };
        core.record_civic_address(&sync, &tenant, address.clone())
            .await
            .unwrap();
        core.put_account(&admin(), oc_account("contoso", false), Precondition::NONE)
            .await
            .unwrap();
        let listed = core
            .list_civic_addresses(&admin(), &name("contoso"), None, 10)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].address, address);
        let one = core
            .get_civic_address(
                &admin(),
                &name("contoso"),
                "ebfee340-a791-11ed-9bfa-ed8bb5c41be4",
            )
            .await
            .unwrap();
        assert_eq!(one.address.details["cityOrTown"], "Reston");
        core.put_account(&admin(), dr_account("no-tenant"), Precondition::NONE)
            .await
            .unwrap();
        let none = core
            .list_civic_addresses(&admin(), &name("no-tenant"), None, 10)
            .await
            .unwrap();
        assert!(
            none.is_empty(),
            "an account without a tenant sees no addresses"
        );
    })
    .await;
}

#[tokio::test]
async fn deployment_settings_round_trip_with_the_direct_routing_domains() {
    use numbat::domain::SipHeaderName;
    on_every_backend(|core| async move {
        let settings = DeploymentSettings {
            sip_header_name: Some(SipHeaderName::parse("X-MS-Operator-Content").unwrap()),
            base_domain: Some(BaseDomain::parse("Gw.Example.NET").unwrap()),
            quarantine_days: numbat::domain::QuarantineDays::new(7).unwrap(),
            launched: vec![Service::TeamsOperatorConnect],
        };
        core.put_settings(&admin(), settings.clone()).await.unwrap();
        let stored = core.settings(&admin()).await.unwrap();
        assert_eq!(stored, settings);
        assert_eq!(
            stored.direct_routing_domains().unwrap(),
            ["1r1.gw.example.net", "1r2.gw.example.net"]
        );
        let events = core
            .audit_events(&admin(), Some("settings"), None, None, 10)
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn lists_filter_by_provisioning_status() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), oc_account("synced", true), Precondition::NONE)
            .await
            .unwrap();
        core.put_account(&admin(), dr_account("plain"), Precondition::NONE)
            .await
            .unwrap();
        core.upsert_numbers(
            &admin(),
            &name("synced"),
            vec![oc_number("+442079460001", "synced")],
        )
        .await
        .unwrap();
        core.upsert_numbers(
            &admin(),
            &name("plain"),
            vec![dr_number("+442079460002", "plain")],
        )
        .await
        .unwrap();
        let pending = NumberFilter {
            status: Some(ProvisioningStatus::Pending),
            ..Default::default()
        };
        let found = core
            .list_numbers(&admin(), &pending, NumberOrder::Ascending, None, 10)
            .await
            .unwrap();
        let numbers: Vec<_> = found
            .iter()
            .map(|r| r.number.telephone_number.as_str())
            .collect();
        assert_eq!(numbers, ["+442079460001"]);
    })
    .await;
}

#[tokio::test]
async fn filter_expressions_mean_the_same_on_both_databases() {
    use numbat::store::filter::{Expr, Field, Value};
    on_every_backend(|core| async move {
        core.put_account(&admin(), dr_account("uk"), Precondition::NONE)
            .await
            .unwrap();
        core.put_account(&admin(), dr_account("us"), Precondition::NONE)
            .await
            .unwrap();
        let mut tagged = dr_number("+442079460001", "uk");
        tagged.custom_sip_header = Some(CustomSipHeader::parse("o-brien").unwrap());
        core.upsert_numbers(
            &admin(),
            &name("uk"),
            vec![tagged, dr_number("+442079460002", "uk")],
        )
        .await
        .unwrap();
        core.upsert_numbers(&admin(), &name("us"), vec![dr_number("+12025550100", "us")])
            .await
            .unwrap();

        let found = |expr: Expr| {
            let core = core.clone();
            async move {
                let filter = NumberFilter {
                    expr: Some(expr),
                    ..Default::default()
                };
                let page = core
                    .list_numbers(&admin(), &filter, NumberOrder::Ascending, None, 10)
                    .await
                    .unwrap();
                page.into_iter()
                    .map(|r| r.number.telephone_number.to_string())
                    .collect::<Vec<_>>()
            }
        };
        let header = || Field::CustomSipHeader;
        assert_eq!(
            found(Expr::Ne(header(), Value::Null)).await,
            ["+442079460001"]
        );
        assert_eq!(
            found(Expr::Ne(header(), Value::Text("o-brien".into()))).await,
            ["+12025550100", "+442079460002"],
            "ne keeps nulls"
        );
        let uk_or_tagged = Expr::Or(
            Box::new(Expr::StartsWith(Field::TelephoneNumber, "+1".into())),
            Box::new(Expr::Eq(header(), Value::Text("o-brien".into()))),
        );
        assert_eq!(found(uk_or_tagged).await, ["+12025550100", "+442079460001"]);
        let not_dr = Expr::Eq(
            Field::ServiceEnabled(Service::TeamsDirectRouting),
            Value::Bool(false),
        );
        assert!(found(not_dr).await.is_empty());
        let zoom_off = Expr::Eq(
            Field::ServiceEnabled(Service::ZoomPhoneCloudPeering),
            Value::Bool(false),
        );
        assert_eq!(
            found(zoom_off).await.len(),
            3,
            "a service never mentioned is off"
        );
        let not_uk = Expr::Not(Box::new(Expr::Eq(
            Field::AccountName,
            Value::Text("uk".into()),
        )));
        assert_eq!(found(not_uk).await, ["+12025550100"]);
    })
    .await;
}

#[tokio::test]
async fn creating_numbers_refuses_existing_ones_by_item_and_writes_nothing() {
    on_every_backend(|core| async move {
        core.put_account(&admin(), dr_account("first"), Precondition::NONE)
            .await
            .unwrap();
        core.create_numbers(
            &admin(),
            &name("first"),
            vec![dr_number("+441632960011", "first")],
        )
        .await
        .unwrap();
        let mut changed = dr_number("+441632960011", "first");
        changed.custom_sip_header = Some(CustomSipHeader::parse("replaced").unwrap());
        let error = core
            .create_numbers(
                &admin(),
                &name("first"),
                vec![dr_number("+441632960012", "first"), changed],
            )
            .await
            .unwrap_err();
        assert!(matches!(error, ProvisioningError::Conflict(_)), "{error}");
        assert_eq!(fields(&error), ["numbers[1].telephoneNumber"]);
        assert_eq!(codes(&error), ["NumberExists"]);
        assert!(error
            .to_string()
            .contains("+441632960011 already exists (in account first)"));
        let kept = core
            .get_number(&admin(), None, &tn("+441632960011"))
            .await
            .unwrap();
        assert_eq!(kept.number.custom_sip_header, None, "not replaced");
        assert!(
            core.get_number(&admin(), None, &tn("+441632960012"))
                .await
                .is_err(),
            "nothing of a refused batch is written"
        );
    })
    .await;
}

#[tokio::test]
async fn users_and_tokens_change_only_under_the_cores_permit_and_audit_who_and_which_door() {
    use numbat::domain::portal::PortalRole;
    use numbat::provisioning::tokens::TokenError;
    use numbat::provisioning::users::UserError;
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let core = Provisioning::new(test.db.clone());
        // A writer holds no Admin: every user and token change is refused, and nothing is
        // written, not even an audit event.
        let writer = Actor::new(
            "wendy@example.net",
            &[Role::Read, Role::Write],
            Door::Portal,
        );
        let refused = core
            .add_user(&writer, "mallory", &[PortalRole::AdminUser])
            .await;
        assert!(
            matches!(&refused, Err(UserError::Forbidden { principal }) if principal == "wendy@example.net"),
            "{refused:?}"
        );
        let refused = core.create_token(&writer, "backdoor", &[Role::Admin]).await;
        assert!(
            matches!(refused, Err(TokenError::Forbidden { .. })),
            "{refused:?}"
        );
        assert!(matches!(
            core.users(&writer).await,
            Err(UserError::Forbidden { .. })
        ));
        assert!(core.user("mallory").await.unwrap().is_none());
        assert!(core.tokens(&admin()).await.unwrap().is_empty());
        let audited = |resource: &'static str| {
            let core = core.clone();
            async move {
                core.audit_events(&admin(), Some(resource), None, None, 10)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| (e.actor, e.door, e.action, e.resource_key))
                    .collect::<Vec<_>>()
            }
        };
        assert!(audited("portalUser").await.is_empty());
        assert!(audited("apiToken").await.is_empty());

        // An admin in the portal: each change is recorded with that person and the portal.
        let ana = Actor::new("ana@example.net", &[Role::Admin], Door::Portal);
        core.add_user(&ana, "bob", &[PortalRole::ReadUser])
            .await
            .unwrap();
        core.set_user_roles(&ana, "bob", &[PortalRole::WriteUser])
            .await
            .unwrap();
        let secret = core.create_token(&ana, "bss", &[Role::Read]).await.unwrap();
        let caller = core.authenticate_token(&secret).await.unwrap().unwrap();
        assert_eq!(
            (caller.principal.as_str(), caller.roles.as_slice()),
            ("token:bss", &[Role::Read][..])
        );
        core.revoke_token(&ana, "bss").await.unwrap();
        assert!(core.authenticate_token(&secret).await.unwrap().is_none());
        let who = |action: &str, key: &str| {
            (
                "ana@example.net".to_owned(),
                "portal".to_owned(),
                action.to_owned(),
                key.to_owned(),
            )
        };
        assert_eq!(
            audited("portalUser").await,
            [who("create", "bob"), who("update", "bob")]
        );
        assert_eq!(
            audited("apiToken").await,
            [who("create", "bss"), who("delete", "bss")]
        );
        test.remove().await;
    }
}
