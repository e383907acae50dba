//! The provisioning rules that need only the values at hand and facts the core looked up.
//!
//! Each function returns every rule broken, each naming its field, so a person can fix them
//! all in one go. Service-specific behaviour comes from the service table, never from
//! comparisons with a particular service.

use super::account::Account;
use super::names::BaseDomain;
use super::number::{Number, Usage};
use super::service::{FlowThrough, Service};
use super::telephone::NumberFacts;
use super::violation::{Violation, Violations};
use super::Code;

/// Microsoft Entra ID refuses domain names longer than this.
pub const MAX_CUSTOMER_FQDN: usize = 48;

/// How many of an account's numbers use each service, indexed by `Service::index`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceUsage(pub [i64; Service::COUNT]);

impl ServiceUsage {
    pub fn of(&self, service: Service) -> i64 {
        self.0[service.index()]
    }
}

fn service_field(service: Service, rest: &str) -> String {
    format!("serviceDetails.{}.{rest}", service.wire_name())
}

/// Rules for creating or replacing `new`. `current` is the account as stored (with how many
/// numbers use each service), `None` when it is being created.
pub fn check_account(
    new: &Account,
    current: Option<(&Account, ServiceUsage)>,
    base_domain: Option<&BaseDomain>,
) -> Violations {
    let mut broken = Violations::new();

    if new
        .correlation_id
        .as_ref()
        .is_some_and(|c| c.chars().count() > Account::CORRELATION_ID_MAX_LEN)
    {
        broken.push(Violation::new(
            "correlationId",
            Code::InvalidFormat,
            format!(
                "must be at most {} characters",
                Account::CORRELATION_ID_MAX_LEN
            ),
        ));
    }

    for service in Service::ALL {
        let Some(block) = new.services.get(service) else {
            continue;
        };
        if block.sync_enabled && service.traits().flow_through == FlowThrough::NotSupported {
            broken.push(Violation::new(
                service_field(service, "syncEnabled"),
                Code::FlowThroughNotSupported,
                format!(
                    "must be false: {} has no flow-through provisioning",
                    service.label()
                ),
            ));
        }
        if block.enabled && service.traits().teams_tenant && new.teams_tenant_id.is_none() {
            broken.push(Violation::new(
                "serviceDetails.teamsTenantId",
                Code::Required,
                format!("is required when {} is enabled", service.label()),
            ));
        }
    }

    if let Some((stored, usage)) = current {
        let teams_numbers: i64 = Service::ALL
            .into_iter()
            .filter(|s| s.traits().teams_tenant)
            .map(|s| usage.of(s))
            .sum();
        if stored.teams_tenant_id != new.teams_tenant_id && teams_numbers > 0 {
            broken.push(Violation::new(
                "serviceDetails.teamsTenantId",
                Code::TenantIdLocked,
                format!(
                    "can change only while the account has no Operator Connect or Teams Phone Mobile numbers; it has {teams_numbers}"
                ),
            ));
        }
        for service in Service::ALL {
            let in_use = usage.of(service);
            if in_use > 0 && !new.has_enabled(service) {
                broken.push(Violation::new(
                    service_field(service, "enabled"),
                    Code::ServiceInUse,
                    format!(
                        "cannot turn off {} while {in_use} numbers use it",
                        service.label()
                    ),
                ));
            }
        }
    }

    if let (Some(config), Some(base)) = (&new.direct_routing, base_domain) {
        let longest = [1u8, 2]
            .into_iter()
            .map(|region| {
                super::CustomerDomain {
                    label: config.subdomain.as_str(),
                    region,
                    base: base.as_str(),
                }
                .to_string()
            })
            .max_by_key(String::len)
            .unwrap_or_default();
        if longest.len() > MAX_CUSTOMER_FQDN {
            broken.push(Violation::new(
                service_field(Service::TeamsDirectRouting, "configuration.subdomain"),
                Code::DomainTooLong,
                format!(
                    "makes the customer domain {longest} ({} characters); it must be at most {MAX_CUSTOMER_FQDN}",
                    longest.len()
                ),
            ));
        }
    }

    broken
}

/// Rules for one number of `account`, whose numbering-plan facts are `facts`.
pub fn check_number(number: &Number, account: &Account, facts: &NumberFacts) -> Violations {
    let mut broken = Violations::new();
    let enabled: Vec<Service> = number.enabled_services().collect();

    if number.account_name != account.name {
        broken.push(Violation::new(
            "accountName",
            Code::AccountMismatch,
            format!(
                "must be {}, the account the number is written to",
                account.name
            ),
        ));
    }

    for &service in &enabled {
        if !account.has_enabled(service) {
            broken.push(Violation::new(
                service_field(service, "enabled"),
                Code::ServiceNotEnabledOnAccount,
                format!(
                    "{} is not enabled on account {}",
                    service.label(),
                    account.name
                ),
            ));
        }
        if service.traits().teams_tenant && account.teams_tenant_id.is_none() {
            broken.push(Violation::new(
                service_field(service, "enabled"),
                Code::TenantIdRequired,
                format!(
                    "{} needs account {} to have a Teams tenant ID",
                    service.label(),
                    account.name
                ),
            ));
        }
    }

    if number.custom_sip_header.is_some() {
        for &service in enabled.iter().filter(|s| !s.traits().custom_header) {
            broken.push(Violation::new(
                "configuration.customSipHeader",
                Code::CustomHeaderNotSupported,
                format!(
                    "is not allowed on a number with {} enabled",
                    service.label()
                ),
            ));
        }
    }

    for (i, &first) in enabled.iter().enumerate() {
        for &second in &enabled[i + 1..] {
            if !first.combines_with(second) {
                broken.push(Violation::new(
                    service_field(second, "enabled"),
                    Code::ServicesCannotCombine,
                    format!(
                        "{} cannot be combined with {} on one number",
                        second.label(),
                        first.label()
                    ),
                ));
            }
        }
    }

    for &service in enabled.iter().filter(|s| s.traits().teams_tenant) {
        let Some(config) = number
            .services
            .teams(service)
            .and_then(|t| t.configuration.as_ref())
        else {
            broken.push(Violation::new(
                service_field(service, "configuration"),
                Code::Required,
                format!(
                    "is required when {} is enabled (usage and choosableCapabilities)",
                    service.label()
                ),
            ));
            continue;
        };
        if config.choosable_capabilities.is_empty() {
            broken.push(Violation::new(
                service_field(service, "configuration.choosableCapabilities"),
                Code::Required,
                "must name at least one capability, e.g. InboundCalling",
            ));
        }
        if config.usage == Usage::CallingUserAssignment
            && config.civic_address_id.is_none()
            && !config.allow_tenant_address_update
        {
            broken.push(Violation::new(
                service_field(service, "configuration.civicAddressId"),
                Code::Required,
                "is required for a calling user's number unless allowTenantAddressUpdate is true",
            ));
        }
        if config.location_id.is_some() && config.civic_address_id.is_none() {
            broken.push(Violation::new(
                service_field(service, "configuration.locationId"),
                Code::Required,
                "needs civicAddressId: a location belongs to a civic address",
            ));
        }
        if facts.is_north_american_toll_free() && config.displayed_country_code.is_none() {
            broken.push(Violation::new(
                service_field(service, "configuration.displayedCountryCode"),
                Code::Required,
                "is required for a North American toll-free number",
            ));
        }
    }

    broken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::number::{Capability, TeamsNumberConfig};
    use crate::domain::telephone::LineType;
    use crate::domain::{
        AccountName, AccountServices, CustomSipHeader, DirectRoutingConfig, NumberService,
        NumberServices, SubdomainLabel, SubdomainToken, TelephoneNumber, TenantId,
    };

    fn account(services: &[Service]) -> Account {
        let mut all = AccountServices::default();
        for service in services {
            all = all.with(*service, true, false);
        }
        Account {
            teams_tenant_id: Some(TenantId::parse("a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a").unwrap()),
            services: all,
            ..Account::named(AccountName::parse("contoso").unwrap())
        }
    }

    fn config() -> TeamsNumberConfig {
        TeamsNumberConfig {
            usage: Usage::CallingUserAssignment,
            choosable_capabilities: vec![Capability::parse("InboundCalling").unwrap()],
            additional_usages: vec![],
            civic_address_id: Some("addr-1".into()),
            location_id: None,
            allow_tenant_address_update: false,
            displayed_country_code: None,
        }
    }

    fn teams(config: Option<TeamsNumberConfig>) -> Option<NumberService> {
        Some(NumberService {
            enabled: true,
            assignment_status: None,
            configuration: config,
        })
    }

    fn number(services: &[Service]) -> Number {
        let mut all = NumberServices::default();
        for service in services {
            all.set(*service, teams(Some(config())));
        }
        Number {
            telephone_number: TelephoneNumber::parse("+441632960001").unwrap(),
            account_name: AccountName::parse("contoso").unwrap(),
            services: all,
            custom_sip_header: None,
        }
    }

    fn fixed_line() -> NumberFacts {
        NumberFacts {
            country: Some("GB".into()),
            calling_code: Some(44),
            line_type: LineType::FixedLine,
        }
    }

    fn codes(violations: &Violations) -> Vec<&str> {
        violations.iter().map(|v| v.code.as_str()).collect()
    }

    #[test]
    fn a_valid_number_of_every_service_passes() {
        let every = Service::ALL;
        for service in every {
            let found = check_number(&number(&[service]), &account(&every), &fixed_line());
            assert!(found.is_empty(), "{service}: {found}");
        }
    }

    #[test]
    fn a_number_uses_only_services_its_account_has() {
        let found = check_number(
            &number(&[Service::ZoomPhoneCloudPeering]),
            &account(&[Service::TeamsDirectRouting]),
            &fixed_line(),
        );
        assert_eq!(codes(&found), ["ServiceNotEnabledOnAccount"]);
        assert_eq!(
            found.0[0].field,
            "serviceDetails.zoomPhoneCloudPeering.enabled"
        );
    }

    #[test]
    fn a_number_belongs_to_the_account_it_is_written_to() {
        let mut n = number(&[Service::TeamsDirectRouting]);
        n.account_name = AccountName::parse("other").unwrap();
        let found = check_number(&n, &account(&[Service::TeamsDirectRouting]), &fixed_line());
        assert_eq!(codes(&found), ["AccountMismatch"]);
    }

    #[test]
    fn a_custom_header_is_refused_with_teams_phone_mobile_or_call_protection() {
        for service in [
            Service::TeamsPhoneMobile,
            Service::AzureOperatorCallProtection,
        ] {
            let mut n = number(&[service]);
            n.custom_sip_header = Some(CustomSipHeader::parse("billing").unwrap());
            let found = check_number(&n, &account(&Service::ALL), &fixed_line());
            assert_eq!(codes(&found), ["CustomHeaderNotSupported"], "{service}");
            assert_eq!(found.0[0].field, "configuration.customSipHeader");
        }
        for service in [
            Service::TeamsDirectRouting,
            Service::TeamsOperatorConnect,
            Service::ZoomPhoneCloudPeering,
        ] {
            let mut n = number(&[service]);
            n.custom_sip_header = Some(CustomSipHeader::parse("billing").unwrap());
            assert!(
                check_number(&n, &account(&Service::ALL), &fixed_line()).is_empty(),
                "{service}"
            );
        }
    }

    #[test]
    fn call_protection_is_never_combined_with_oc_tpm_or_zoom() {
        for other in [
            Service::TeamsOperatorConnect,
            Service::TeamsPhoneMobile,
            Service::ZoomPhoneCloudPeering,
        ] {
            let n = number(&[other, Service::AzureOperatorCallProtection]);
            let found = check_number(&n, &account(&Service::ALL), &fixed_line());
            assert_eq!(codes(&found), ["ServicesCannotCombine"], "{other}");
        }
        let n = number(&[
            Service::TeamsDirectRouting,
            Service::AzureOperatorCallProtection,
        ]);
        assert!(check_number(&n, &account(&Service::ALL), &fixed_line()).is_empty());
    }

    #[test]
    fn teams_numbers_need_the_accounts_tenant() {
        let mut owner = account(&[Service::TeamsOperatorConnect]);
        owner.teams_tenant_id = None;
        let found = check_number(
            &number(&[Service::TeamsOperatorConnect]),
            &owner,
            &fixed_line(),
        );
        assert_eq!(codes(&found), ["TenantIdRequired"]);
    }

    #[test]
    fn teams_numbers_need_usage_and_capabilities() {
        let owner = account(&[Service::TeamsOperatorConnect]);
        let mut n = number(&[Service::TeamsOperatorConnect]);
        n.services.set(Service::TeamsOperatorConnect, teams(None));
        let found = check_number(&n, &owner, &fixed_line());
        assert_eq!(
            found.0[0].field,
            "serviceDetails.teamsOperatorConnect.configuration"
        );

        let mut empty = config();
        empty.choosable_capabilities.clear();
        n.services
            .set(Service::TeamsOperatorConnect, teams(Some(empty)));
        let found = check_number(&n, &owner, &fixed_line());
        assert_eq!(
            found.0[0].field,
            "serviceDetails.teamsOperatorConnect.configuration.choosableCapabilities"
        );
    }

    #[test]
    fn a_calling_user_needs_a_civic_address_unless_the_tenant_may_set_it() {
        let owner = account(&[Service::TeamsPhoneMobile]);
        let mut n = number(&[Service::TeamsPhoneMobile]);
        let mut no_address = config();
        no_address.civic_address_id = None;
        n.services
            .set(Service::TeamsPhoneMobile, teams(Some(no_address.clone())));
        let found = check_number(&n, &owner, &fixed_line());
        assert_eq!(
            found.0[0].field,
            "serviceDetails.teamsPhoneMobile.configuration.civicAddressId"
        );

        no_address.allow_tenant_address_update = true;
        n.services
            .set(Service::TeamsPhoneMobile, teams(Some(no_address.clone())));
        assert!(check_number(&n, &owner, &fixed_line()).is_empty());

        no_address.allow_tenant_address_update = false;
        no_address.usage = Usage::ConferenceAssignment;
        n.services
            .set(Service::TeamsPhoneMobile, teams(Some(no_address)));
        assert!(
            check_number(&n, &owner, &fixed_line()).is_empty(),
            "only calling users need one"
        );
    }

    #[test]
    fn a_location_needs_its_civic_address() {
        let mut located = config();
        located.civic_address_id = None;
        located.allow_tenant_address_update = true;
        located.location_id = Some("loc-1".into());
        let mut n = number(&[Service::TeamsOperatorConnect]);
        n.services
            .set(Service::TeamsOperatorConnect, teams(Some(located)));
        let found = check_number(
            &n,
            &account(&[Service::TeamsOperatorConnect]),
            &fixed_line(),
        );
        assert_eq!(
            found.0[0].field,
            "serviceDetails.teamsOperatorConnect.configuration.locationId"
        );
    }

    #[test]
    fn a_north_american_toll_free_number_needs_a_displayed_country_code() {
        let toll_free = NumberFacts {
            country: Some("US".into()),
            calling_code: Some(1),
            line_type: LineType::TollFree,
        };
        let owner = account(&[Service::TeamsOperatorConnect]);
        let found = check_number(
            &number(&[Service::TeamsOperatorConnect]),
            &owner,
            &toll_free,
        );
        assert_eq!(
            found.0[0].field,
            "serviceDetails.teamsOperatorConnect.configuration.displayedCountryCode"
        );

        let mut with_code = config();
        with_code.displayed_country_code = Some("US".into());
        let mut n = number(&[Service::TeamsOperatorConnect]);
        n.services
            .set(Service::TeamsOperatorConnect, teams(Some(with_code)));
        assert!(check_number(&n, &owner, &toll_free).is_empty());
        let uk_toll_free = NumberFacts {
            calling_code: Some(44),
            ..toll_free
        };
        assert!(check_number(
            &number(&[Service::TeamsOperatorConnect]),
            &owner,
            &uk_toll_free
        )
        .is_empty());
    }

    #[test]
    fn oc_and_tpm_accounts_need_a_tenant() {
        for service in [Service::TeamsOperatorConnect, Service::TeamsPhoneMobile] {
            let mut a = account(&[service]);
            a.teams_tenant_id = None;
            let found = check_account(&a, None, None);
            assert_eq!(
                found.0[0].field, "serviceDetails.teamsTenantId",
                "{service}"
            );
        }
        let mut dr = account(&[Service::TeamsDirectRouting]);
        dr.teams_tenant_id = None;
        assert!(check_account(&dr, None, None).is_empty());
    }

    #[test]
    fn sync_is_refused_where_the_service_has_no_flow_through() {
        for service in [Service::TeamsDirectRouting, Service::ZoomPhoneCloudPeering] {
            let mut a = account(&[]);
            a.services = AccountServices::default().with(service, true, true);
            let found = check_account(&a, None, None);
            assert_eq!(codes(&found), ["FlowThroughNotSupported"], "{service}");
        }
        let mut oc = account(&[]);
        oc.services = AccountServices::default().with(Service::TeamsOperatorConnect, true, true);
        assert!(check_account(&oc, None, None).is_empty());
    }

    #[test]
    fn the_tenant_is_locked_while_teams_numbers_exist() {
        let stored = account(&[Service::TeamsOperatorConnect]);
        let mut moved = stored.clone();
        moved.teams_tenant_id =
            Some(TenantId::parse("00000000-0000-4000-8000-000000000001").unwrap());
        let mut usage = ServiceUsage::default();
        assert!(check_account(&moved, Some((&stored, usage)), None).is_empty());
        usage.0[Service::TeamsPhoneMobile.index()] = 3;
        let mut both = moved.clone();
        both.services = both.services.with(Service::TeamsPhoneMobile, true, false);
        let mut stored_both = stored.clone();
        stored_both.services = stored_both
            .services
            .with(Service::TeamsPhoneMobile, true, false);
        let found = check_account(&both, Some((&stored_both, usage)), None);
        assert_eq!(codes(&found), ["TenantIdLocked"]);
    }

    #[test]
    fn a_service_with_numbers_stays_on() {
        let stored = account(&[Service::ZoomPhoneCloudPeering]);
        let off = account(&[]);
        let mut usage = ServiceUsage::default();
        usage.0[Service::ZoomPhoneCloudPeering.index()] = 2;
        let found = check_account(&off, Some((&stored, usage)), None);
        assert_eq!(codes(&found), ["ServiceInUse"]);
    }

    #[test]
    fn the_customer_domain_fits_entra_ids_48_characters() {
        let mut dr = account(&[Service::TeamsDirectRouting]);
        dr.direct_routing = Some(DirectRoutingConfig {
            call_screening: true,
            subdomain: SubdomainLabel::parse("abcdefghij").unwrap(),
            region1_token: SubdomainToken::parse("t1").unwrap(),
            region2_token: SubdomainToken::parse("t2").unwrap(),
        });
        // "abcdefghij.1r1." is 15 characters: a 33-character base fits exactly, 34 does not.
        let fits = BaseDomain::parse(&format!("{}.example", "a".repeat(25))).unwrap();
        assert_eq!(fits.as_str().len(), 33);
        assert!(check_account(&dr, None, Some(&fits)).is_empty());
        let too_long = BaseDomain::parse(&format!("{}.example", "a".repeat(26))).unwrap();
        let found = check_account(&dr, None, Some(&too_long));
        assert_eq!(codes(&found), ["DomainTooLong"]);
    }

    #[test]
    fn a_long_correlation_id_is_refused() {
        let mut a = account(&[]);
        a.correlation_id = Some("x".repeat(257));
        assert_eq!(check_account(&a, None, None).0[0].field, "correlationId");
        a.correlation_id = Some("x".repeat(256));
        assert!(check_account(&a, None, None).is_empty());
    }
}
