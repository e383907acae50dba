//! Live services, on SQLite and PostgreSQL alike: once Operator Connect is marked launched, a
//! change to one of its numbers that comes by the portal (a form, a bulk job, an upload, an
//! emergency location) is refused by name and changes nothing, while the API, the command line
//! and sync go on; the number's page says why it is read-only, and the checklist says what is
//! live.

use crate::common::{app_without_bundle, Browser, TestDb};
use numbat::auth::users::PortalRole;
use numbat::domain::number::{Capability, TeamsNumberConfig, Usage};
use numbat::domain::{
    Account, AccountName, AccountServices, CustomSipHeader, Labels, Number, NumberService,
    NumberServices, Service, Tags, TelephoneNumber, TenantId,
};
use numbat::provisioning::emergency::EmergencyLocation;
use numbat::provisioning::labels::Labelled;
use numbat::provisioning::{
    Actor, DeploymentSettings, Door, Precondition, Provisioning, ProvisioningError, Role,
};

const TENANT: &str = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c";
const OC: &str = "+442071240001";
const DR: &str = "+442071240002";

fn api() -> Actor {
    Actor::new("bss", &[Role::Admin], Door::Api)
}

fn portal() -> Actor {
    Actor::new("alice", &[Role::Admin], Door::Portal)
}

fn tn(raw: &str) -> TelephoneNumber {
    TelephoneNumber::parse(raw).unwrap()
}

fn oc_number(header: Option<&str>) -> Number {
    let block = NumberService {
        enabled: true,
        assignment_status: None,
        configuration: Some(TeamsNumberConfig {
            usage: Usage::CallingUserAssignment,
            choosable_capabilities: vec![Capability::parse("InboundCalling").unwrap()],
            additional_usages: vec![],
            civic_address_id: None,
            location_id: None,
            allow_tenant_address_update: true,
            displayed_country_code: None,
        }),
    };
    Number {
        telephone_number: tn(OC),
        account_name: AccountName::parse("contoso").unwrap(),
        services: NumberServices::only(Service::TeamsOperatorConnect, Some(block)),
        custom_sip_header: header.map(|h| CustomSipHeader::parse(h).unwrap()),
    }
}

fn dr_number(header: Option<&str>) -> Number {
    Number {
        telephone_number: tn(DR),
        account_name: AccountName::parse("contoso").unwrap(),
        services: NumberServices::only(Service::TeamsDirectRouting, None),
        custom_sip_header: header.map(|h| CustomSipHeader::parse(h).unwrap()),
    }
}

async fn setup(core: &Provisioning) {
    let account = Account {
        teams_tenant_id: Some(TenantId::parse(TENANT).unwrap()),
        services: AccountServices::default()
            .with(Service::TeamsOperatorConnect, true, false)
            .with(Service::TeamsDirectRouting, true, false),
        ..Account::named(AccountName::parse("contoso").unwrap())
    };
    core.put_account(&api(), account, Precondition::NONE)
        .await
        .unwrap();
    core.put_number(&api(), oc_number(None), Precondition::NONE)
        .await
        .unwrap();
    core.put_number(&api(), dr_number(None), Precondition::NONE)
        .await
        .unwrap();
}

async fn launch(
    core: &Provisioning,
    services: Vec<Service>,
) -> Result<DeploymentSettings, ProvisioningError> {
    let settings = DeploymentSettings {
        launched: services,
        ..Default::default()
    };
    core.put_settings(&api(), settings).await
}

fn refused_as_launched(error: &ProvisioningError) -> bool {
    matches!(error, ProvisioningError::Conflict(_))
        && error
            .violations()
            .is_some_and(|v| v.iter().all(|v| v.code.as_str() == "ServiceLaunched"))
}

#[tokio::test]
async fn a_live_services_numbers_change_through_the_api_only() {
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let core = Provisioning::new(test.db.clone());
        setup(&core).await;

        // Before launch the portal may change an Operator Connect number.
        core.put_number(&portal(), oc_number(Some("before")), Precondition::NONE)
            .await
            .unwrap();
        let error = launch(&core, vec![Service::TeamsDirectRouting])
            .await
            .unwrap_err();
        assert!(error.to_string().contains("cannot be launched"), "{error}");
        launch(&core, vec![Service::TeamsOperatorConnect])
            .await
            .unwrap();
        let version = core
            .get_number(&api(), None, &tn(OC))
            .await
            .unwrap()
            .version;

        // By the portal: a change, a move of a Direct Routing number onto Operator Connect, a
        // delete, an emergency location: each refused by name, nothing changed.
        let error = core
            .put_number(&portal(), oc_number(Some("after")), Precondition::NONE)
            .await
            .unwrap_err();
        assert!(refused_as_launched(&error), "{error}");
        assert!(
            error.to_string().contains("Operator Connect is live"),
            "{error}"
        );
        let mut moved = oc_number(None);
        moved.telephone_number = tn(DR);
        let error = core
            .put_number(&portal(), moved, Precondition::NONE)
            .await
            .unwrap_err();
        assert!(refused_as_launched(&error), "{error}");
        let error = core
            .delete_number(
                &portal(),
                &AccountName::parse("contoso").unwrap(),
                &tn(OC),
                Precondition::NONE,
            )
            .await
            .unwrap_err();
        assert!(refused_as_launched(&error), "{error}");
        let location = EmergencyLocation::parse(None, None, true).unwrap();
        let error = core
            .set_emergency_location(&portal(), &tn(OC), location.clone(), Precondition::NONE)
            .await
            .unwrap_err();
        assert!(refused_as_launched(&error), "{error}");
        let stored = core.get_number(&api(), None, &tn(OC)).await.unwrap();
        assert_eq!(
            stored.version, version,
            "nothing refused changed the number"
        );
        assert_eq!(
            stored
                .number
                .custom_sip_header
                .map(|h| h.to_string())
                .as_deref(),
            Some("before")
        );

        // The portal still changes what is not live, and the operator's own tags.
        core.put_number(&portal(), dr_number(Some("dr")), Precondition::NONE)
            .await
            .unwrap();
        let labels = Labels {
            tags: Tags::parse_text("tags", "vip").unwrap(),
            note: None,
        };
        core.set_labels(
            &portal(),
            &Labelled::Number(tn(OC)),
            labels,
            Precondition::NONE,
        )
        .await
        .unwrap();

        // Nor may the portal take the numbers away with their account, or switch the live
        // service or its sync on or off on it.
        let error = core
            .delete_account(
                &portal(),
                &AccountName::parse("contoso").unwrap(),
                true,
                Precondition::NONE,
            )
            .await
            .unwrap_err();
        assert!(refused_as_launched(&error), "{error}");
        let current = core
            .get_account(&api(), &AccountName::parse("contoso").unwrap())
            .await
            .unwrap()
            .account;
        let mut sync_on = current.clone();
        sync_on.services = AccountServices::default()
            .with(Service::TeamsOperatorConnect, true, true)
            .with(Service::TeamsDirectRouting, true, false);
        // (A move to another tenant is refused by its own rule, TenantIdLocked, whatever the door.)
        let error = core
            .put_account(&portal(), sync_on.clone(), Precondition::NONE)
            .await
            .unwrap_err();
        assert!(refused_as_launched(&error), "{error}");
        let mut without_oc = current.clone();
        without_oc.services =
            AccountServices::default().with(Service::TeamsDirectRouting, true, false);
        let error = core
            .put_account(&portal(), without_oc, Precondition::NONE)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("live") || matches!(error, ProvisioningError::Invalid(_)),
            "{error}"
        );
        assert_eq!(
            core.get_account(&api(), &AccountName::parse("contoso").unwrap())
                .await
                .unwrap()
                .account,
            current,
            "nothing refused changed the account"
        );

        // The API (and every other door) goes on.
        let written = core
            .put_number(&api(), oc_number(Some("after")), Precondition::NONE)
            .await
            .unwrap();
        assert_eq!(written.record.version, version + 1);
        let cli = Actor::new("cli:ops", &[Role::Admin], Door::Cli);
        core.set_emergency_location(&cli, &tn(OC), location, Precondition::NONE)
            .await
            .unwrap();

        // The checklist says what is live.
        let lines = core.launch_checklist(&api()).await.unwrap();
        let live = lines
            .iter()
            .find(|l| l.item == "Live services")
            .expect("a line");
        assert!(
            live.detail
                .starts_with("Operator Connect: the portal shows their numbers read-only"),
            "{}",
            live.detail
        );

        // An inventory release by the portal refuses the live number alone, by name.
        let release = numbat::provisioning::inventory::InventoryAction::Release {
            account: AccountName::parse("contoso").unwrap(),
        };
        let report = core
            .inventory_action(&portal(), &release, &[tn(OC), tn(DR)])
            .await
            .unwrap();
        assert_eq!((report.done, report.refused), (1, 1), "{report:?}");
        let refused = report
            .results
            .iter()
            .find(|r| r.telephone_number.as_str() == OC)
            .unwrap();
        assert_eq!(
            refused.violation.as_ref().unwrap().code.as_str(),
            "ServiceLaunched"
        );
        assert!(
            core.get_number(&api(), None, &tn(OC)).await.is_ok(),
            "still assigned"
        );

        // Unlaunched again, the portal may change it.
        launch(&core, vec![]).await.unwrap();
        core.put_number(&portal(), oc_number(Some("again")), Precondition::NONE)
            .await
            .unwrap();
        test.remove().await;
    }
}

#[tokio::test]
async fn the_number_page_says_why_a_live_number_is_read_only() {
    let _renderer = crate::common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    setup(&core).await;
    launch(&core, vec![Service::TeamsOperatorConnect])
        .await
        .unwrap();
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "writer", &[PortalRole::AdminUser]).await;

    let (_, html) = browser
        .get(&format!("/numbers/{}", OC.replace('+', "%2B")))
        .await;
    assert!(
        html.contains("Operator Connect is live: this number is read-only here"),
        "{html}"
    );
    assert!(
        html.contains(r#"<fieldset disabled class="plain">"#),
        "the form's fields are disabled: {html}"
    );
    assert!(!html.contains("Save changes"), "no save button");
    assert!(!html.contains("Delete number"), "no delete");
    assert!(
        html.contains("Save tags and note"),
        "tags stay the operator's own"
    );

    let (_, html) = browser
        .get(&format!("/numbers/{}", DR.replace('+', "%2B")))
        .await;
    assert!(
        !html.contains("is live"),
        "a Direct Routing number is not read-only: {html}"
    );
    assert!(html.contains("Save changes"));

    // The settings page shows the launch and keeps it through a save of the other fields.
    let (_, html) = browser.get("/admin/settings").await;
    assert!(html.contains("Operator Connect is live"), "{html}");
    let settings = core.settings(&api()).await.unwrap();
    assert_eq!(settings.launched, vec![Service::TeamsOperatorConnect]);
    test.remove().await;
}
