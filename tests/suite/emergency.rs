//! Emergency locations in the core, on SQLite and PostgreSQL alike: chosen from the number's
//! tenant's civic addresses, refused by named rule otherwise (and then nothing changes), and
//! written as a change of the number: its version, its history and a job for Operator Connect.

use crate::common::TestDb;
use numbat::domain::consent::{TeamsCivicAddress, TeamsLocation, ValidationStatus};
use numbat::domain::number::{Capability, TeamsNumberConfig, Usage};
use numbat::domain::{
    Account, AccountName, AccountServices, Number, NumberService, NumberServices, Service,
    TelephoneNumber, TenantId,
};
use numbat::provisioning::emergency::EmergencyLocation;
use numbat::provisioning::{
    Actor, AuditFilter, Door, Outcome, Precondition, Provisioning, ProvisioningError, Role,
};

const TENANT: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
const OTHER_TENANT: &str = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
const HQ: &str = "hq-address";
const LAB: &str = "lab-address";

fn admin() -> Actor {
    Actor::new("admin@example.net", &[Role::Admin], Door::Api)
}

fn tn(raw: &str) -> TelephoneNumber {
    TelephoneNumber::parse(raw).unwrap()
}

fn name(raw: &str) -> AccountName {
    AccountName::parse(raw).unwrap()
}

fn address(id: &str, locations: &[&str]) -> TeamsCivicAddress {
    let mut details = serde_json::Map::new();
    details.insert("country".into(), "GB".into());
    details.insert("city".into(), "London".into());
    TeamsCivicAddress {
        id: id.into(),
        tenant_id: None,
        default_location_id: locations[0].into(),
        validation_status: Some(ValidationStatus::Validated),
        details,
        locations: locations
            .iter()
            .map(|l| TeamsLocation {
                id: (*l).into(),
                civic_address_id: id.into(),
                description: Some(format!("floor {l}")),
                additional_info: None,
                is_default: None,
                elin: None,
            })
            .collect(),
    }
}

fn teams_number(raw: &str, account: &str, service: Service) -> Number {
    let block = NumberService {
        enabled: true,
        assignment_status: None,
        configuration: Some(TeamsNumberConfig {
            usage: Usage::CallingUserAssignment,
            choosable_capabilities: vec![Capability::parse("InboundCalling").unwrap()],
            additional_usages: vec![],
            civic_address_id: Some(HQ.into()),
            location_id: Some("hq-1".into()),
            allow_tenant_address_update: false,
            displayed_country_code: None,
        }),
    };
    Number {
        telephone_number: tn(raw),
        account_name: name(account),
        services: NumberServices::only(service, Some(block)),
        custom_sip_header: None,
    }
}

/// An account with `service` synced to Operator Connect, in tenant `TENANT`, whose addresses
/// are HQ (two locations) and LAB (one); another tenant has an address of its own.
async fn setup(core: &Provisioning, account: &str, service: Service) {
    let sync = Actor::new("sync", &[Role::Admin], Door::Sync);
    let tenant = TenantId::parse(TENANT).unwrap();
    for a in [address(HQ, &["hq-1", "hq-2"]), address(LAB, &["lab-1"])] {
        core.record_civic_address(&sync, &tenant, a).await.unwrap();
    }
    let other = TenantId::parse(OTHER_TENANT).unwrap();
    core.record_civic_address(&sync, &other, address("theirs", &["theirs-1"]))
        .await
        .unwrap();
    let account = Account {
        teams_tenant_id: Some(tenant),
        services: AccountServices::default().with(service, true, true),
        ..Account::named(name(account))
    };
    core.put_account(&admin(), account, Precondition::NONE)
        .await
        .unwrap();
}

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

fn location(address: Option<&str>, location: Option<&str>, tenant: bool) -> EmergencyLocation {
    EmergencyLocation::parse(address, location, tenant).unwrap()
}

fn code_and_field(error: &ProvisioningError) -> (String, String) {
    let v = error
        .violations()
        .expect("a named rule")
        .iter()
        .next()
        .unwrap();
    (v.code.to_string(), v.field.clone())
}

#[tokio::test]
async fn a_location_is_chosen_from_the_tenants_addresses_and_is_a_change_of_the_number() {
    on_every_backend(|core| async move {
        setup(&core, "contoso", Service::TeamsOperatorConnect).await;
        const N: &str = "+442071230001";
        core.put_number(
            &admin(),
            teams_number(N, "contoso", Service::TeamsOperatorConnect),
            Precondition::NONE,
        )
        .await
        .unwrap();
        let before = core.emergency_location(&admin(), &tn(N)).await.unwrap();
        assert_eq!(before.service, Service::TeamsOperatorConnect);
        assert_eq!(before.location.civic_address_id.as_deref(), Some(HQ));
        assert_eq!(
            before.civic_address.as_ref().map(|a| a.id.as_str()),
            Some(HQ)
        );
        let jobs_before = core.pending_outbox(&admin(), 100).await.unwrap().len();

        // Refused by name; the number stays as it was.
        let refusals = [
            (
                location(Some("nowhere"), None, false),
                "CivicAddressNotFound",
                "civicAddressId",
            ),
            (
                location(Some("theirs"), None, false),
                "CivicAddressNotFound",
                "civicAddressId",
            ),
            (
                location(Some(LAB), Some("hq-2"), false),
                "LocationNotFound",
                "locationId",
            ),
            (location(None, None, false), "Required", "civicAddressId"),
        ];
        for (change, code, field) in refusals {
            let error = core
                .set_emergency_location(&admin(), &tn(N), change.clone(), Precondition::NONE)
                .await
                .unwrap_err();
            assert_eq!(
                code_and_field(&error),
                (code.to_owned(), field.to_owned()),
                "{change:?}"
            );
        }
        let stale = core
            .set_emergency_location(
                &admin(),
                &tn(N),
                location(Some(LAB), None, false),
                Precondition::if_match(before.version + 7),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(stale, ProvisioningError::PreconditionFailed { .. }),
            "{stale}"
        );
        assert_eq!(
            core.emergency_location(&admin(), &tn(N)).await.unwrap(),
            before
        );

        let (written, view) = core
            .set_emergency_location(
                &admin(),
                &tn(N),
                location(Some(LAB), Some("lab-1"), false),
                Precondition::if_match(before.version),
            )
            .await
            .unwrap();
        assert_eq!(written.outcome, Outcome::Replaced);
        assert_eq!(written.record.version, before.version + 1);
        let after = core.emergency_location(&admin(), &tn(N)).await.unwrap();
        assert_eq!(view, after, "the change answers with what it wrote");
        assert_eq!(after.location, location(Some(LAB), Some("lab-1"), false));
        // Everything else about the number is as it was.
        let stored = core.get_number(&admin(), None, &tn(N)).await.unwrap();
        let config = stored
            .number
            .services
            .teams(Service::TeamsOperatorConnect)
            .unwrap()
            .configuration
            .clone()
            .unwrap();
        assert_eq!(config.usage, Usage::CallingUserAssignment);
        assert_eq!(config.choosable_capabilities.len(), 1);

        // In the number's history, and on its way to Operator Connect.
        let filter = AuditFilter {
            resource_type: Some("number".into()),
            key: Some(N.into()),
            ..AuditFilter::default()
        };
        let events = core
            .recent_audit_events(&admin(), &filter, None, 10)
            .await
            .unwrap();
        let last = &events[0];
        assert_eq!(last.actor, "admin@example.net");
        assert!(last.before.as_deref().unwrap().contains(HQ));
        assert!(last.after.as_deref().unwrap().contains(LAB));
        let jobs = core.pending_outbox(&admin(), 100).await.unwrap();
        assert_eq!(jobs.len(), jobs_before + 1, "one job sends the change");
        assert!(jobs.last().unwrap().payload.contains("lab-1"));

        // The same location again writes nothing.
        let (again, _) = core
            .set_emergency_location(
                &admin(),
                &tn(N),
                location(Some(LAB), Some("lab-1"), false),
                Precondition::NONE,
            )
            .await
            .unwrap();
        assert_eq!(again.outcome, Outcome::Unchanged);
        assert_eq!(
            core.pending_outbox(&admin(), 100).await.unwrap().len(),
            jobs.len()
        );

        // The enterprise may be left to set it: then no address is needed.
        core.set_emergency_location(
            &admin(),
            &tn(N),
            location(None, None, true),
            Precondition::NONE,
        )
        .await
        .unwrap();
        let cleared = core.emergency_location(&admin(), &tn(N)).await.unwrap();
        assert_eq!(cleared.location, location(None, None, true));
        assert!(cleared.civic_address.is_none());
    })
    .await;
}

#[tokio::test]
async fn only_teams_numbers_have_one_and_teams_phone_mobile_numbers_do_too() {
    on_every_backend(|core| async move {
        setup(&core, "mobile", Service::TeamsPhoneMobile).await;
        core.put_number(
            &admin(),
            teams_number("+447700900001", "mobile", Service::TeamsPhoneMobile),
            Precondition::NONE,
        )
        .await
        .unwrap();
        core.set_emergency_location(
            &admin(),
            &tn("+447700900001"),
            location(Some(HQ), Some("hq-2"), false),
            Precondition::NONE,
        )
        .await
        .unwrap();
        let view = core
            .emergency_location(&admin(), &tn("+447700900001"))
            .await
            .unwrap();
        assert_eq!(view.service, Service::TeamsPhoneMobile);
        assert_eq!(view.location.location_id.as_deref(), Some("hq-2"));

        let dr = Account {
            services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
            ..Account::named(name("direct"))
        };
        core.put_account(&admin(), dr, Precondition::NONE)
            .await
            .unwrap();
        let number = Number {
            telephone_number: tn("+442071230099"),
            account_name: name("direct"),
            services: NumberServices::only(Service::TeamsDirectRouting, None),
            custom_sip_header: None,
        };
        core.put_number(&admin(), number, Precondition::NONE)
            .await
            .unwrap();
        let error = core
            .set_emergency_location(
                &admin(),
                &tn("+442071230099"),
                location(Some(HQ), None, false),
                Precondition::NONE,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, ProvisioningError::Conflict(_)), "{error}");
        assert_eq!(code_and_field(&error).0, "ServiceNotOnNumber");
        let missing = core
            .emergency_location(&admin(), &tn("+442071230098"))
            .await
            .unwrap_err();
        assert!(
            matches!(missing, ProvisioningError::NotFound { .. }),
            "{missing}"
        );

        // A reader may look but not change.
        let reader = Actor::new("reader", &[Role::Read], Door::Api);
        assert!(core
            .emergency_location(&reader, &tn("+447700900001"))
            .await
            .is_ok());
        let refused = core
            .set_emergency_location(
                &reader,
                &tn("+447700900001"),
                location(Some(LAB), None, false),
                Precondition::NONE,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(refused, ProvisioningError::Forbidden { .. }),
            "{refused}"
        );
    })
    .await;
}

#[test]
fn hostile_ids_are_refused_before_anything_is_read() {
    for (address, location, field) in [
        (Some(""), None, "civicAddressId"),
        (Some("a\r\nb"), None, "civicAddressId"),
        (Some("a\u{0}"), None, "civicAddressId"),
        (Some(&*"x".repeat(101)), None, "civicAddressId"),
        (Some("ok"), Some("\u{85}"), "locationId"),
        (None, Some("orphan"), "locationId"),
    ] {
        let broken = EmergencyLocation::parse(address, location, false).unwrap_err();
        assert!(
            broken.iter().any(|v| v.field == field),
            "{address:?} {location:?}: {broken}"
        );
    }
    let longest = "é".repeat(100);
    assert!(
        EmergencyLocation::parse(Some(&longest), None, false).is_ok(),
        "100 characters, not bytes"
    );
}
