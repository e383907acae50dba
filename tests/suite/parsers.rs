//! Property tests of the parsers: each accepts exactly what its rule says, and what it accepts
//! survives a JSON round trip unchanged.

use numbat::domain::{
    AccountName, BaseDomain, CustomSipHeader, SipHeaderName, SubdomainLabel, SubdomainToken,
    TelephoneNumber, TenantId,
};
use proptest::prelude::*;

/// The rule for telephone numbers, written independently of the parser: `^\+[1-9]\d+$`, ≤ 16.
fn is_e164(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 16
        && chars.next() == Some('+')
        && chars.next().is_some_and(|c| ('1'..='9').contains(&c))
        && s.len() >= 3
        && s[2..].chars().all(|c| c.is_ascii_digit())
}

fn word(s: &str, min: usize, max: usize, extra: &str) -> bool {
    let n = s.chars().count();
    n >= min
        && n <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c) || extra.contains(c))
}

proptest! {
    #[test]
    fn telephone_numbers_follow_e164(s in "\\+?[0-9]{0,18}|[+0-9a-z ]{0,20}|\\PC{0,20}") {
        prop_assert_eq!(TelephoneNumber::parse(&s).is_ok(), is_e164(&s), "{:?}", s);
    }

    #[test]
    fn valid_telephone_numbers_round_trip(s in "\\+[1-9][0-9]{1,14}") {
        let number = TelephoneNumber::parse(&s).unwrap();
        prop_assert_eq!(number.as_str(), s.as_str());
        let json = serde_json::to_string(&number).unwrap();
        prop_assert_eq!(serde_json::from_str::<TelephoneNumber>(&json).unwrap(), number);
    }

    #[test]
    fn account_names_and_header_values_are_1_to_100_word_characters(s in "[A-Za-z0-9_-]{0,110}|\\PC{0,12}") {
        prop_assert_eq!(AccountName::parse(&s).is_ok(), word(&s, 1, 100, ""), "{:?}", s);
        prop_assert_eq!(CustomSipHeader::parse(&s).is_ok(), word(&s, 1, 100, ""), "{:?}", s);
        if let Ok(name) = AccountName::parse(&s) {
            let json = serde_json::to_string(&name).unwrap();
            prop_assert_eq!(serde_json::from_str::<AccountName>(&json).unwrap(), name);
        }
    }

    #[test]
    fn subdomain_labels_are_at_most_10_and_tokens_allow_equals(s in "[A-Za-z0-9_=-]{0,12}|[A-Za-z0-9_=-]{95,105}") {
        prop_assert_eq!(SubdomainLabel::parse(&s).is_ok(), word(&s, 1, 10, ""), "{:?}", s);
        prop_assert_eq!(SubdomainToken::parse(&s).is_ok(), word(&s, 1, 100, "="), "{:?}", s);
    }

    #[test]
    fn tenant_ids_are_guids_kept_in_lower_case(s in "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}") {
        let tenant = TenantId::parse(&s).unwrap();
        prop_assert_eq!(tenant.as_str(), s.to_ascii_lowercase());
        prop_assert_eq!(TenantId::parse(&s.to_ascii_uppercase()).unwrap(), tenant);
    }

    #[test]
    fn anything_else_is_not_a_tenant_id(s in "\\PC{0,40}") {
        let guid_shaped = s.split('-').map(str::len).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
            && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
        prop_assert_eq!(TenantId::parse(&s).is_ok(), guid_shaped, "{:?}", s);
    }

    #[test]
    fn sip_header_names_are_short_tokens(s in "[A-Za-z0-9.!%*_+`'~-]{0,40}|\\PC{0,10}") {
        let token = !s.is_empty() && s.len() <= 32
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c));
        let reserved = ["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq", "contact", "m",
            "max-forwards", "content-length", "l", "content-type", "c", "route", "record-route",
            "authorization", "proxy-authorization"].contains(&s.to_ascii_lowercase().as_str());
        prop_assert_eq!(SipHeaderName::parse(&s).is_ok(), token && !reserved, "{:?}", s);
    }

    #[test]
    fn base_domains_are_dns_names_in_lower_case(labels in proptest::collection::vec("[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", 2..5)) {
        let name = labels.join(".");
        let domain = BaseDomain::parse(&name).unwrap();
        prop_assert_eq!(domain.as_str(), name.to_ascii_lowercase());
        prop_assert_eq!(domain.region_domain(2), format!("1r2.{}", name.to_ascii_lowercase()));
    }
}

#[test]
fn known_sip_headers_and_malformed_domains_are_refused_with_the_rule() {
    let error = SipHeaderName::parse("Contact").unwrap_err();
    assert!(error.message.contains("SIP itself relies on"), "{error}");
    assert!(SipHeaderName::parse("X-MS-Operator-Content").is_ok());
    for bad in ["localhost", "-a.example", "a..example", "a_b.example"] {
        assert!(BaseDomain::parse(bad).is_err(), "{bad}");
    }
    let error = TelephoneNumber::parse("+0441632960000").unwrap_err();
    assert!(error.message.contains("E.164"), "{error}");
}

/// One intent for a number: which services are on, its header value, and the Teams settings
/// the Operator Connect and Teams Phone Mobile blocks carry.
#[derive(Clone, Debug)]
struct Intent {
    on: Vec<numbat::domain::Service>,
    /// Write a switched-off service as `false` (the portal always does) instead of leaving it out.
    spell_off: bool,
    header: Option<String>,
    usage: &'static str,
    capabilities: Vec<&'static str>,
    additional_usages: Vec<&'static str>,
    assigned: Option<bool>,
    allow_update: bool,
}

fn intents() -> impl Strategy<Value = Intent> {
    use numbat::domain::Service;
    (
        proptest::collection::vec(any::<bool>(), Service::ALL.len()),
        any::<bool>(),
        proptest::option::of("[a-z0-9][a-z0-9-]{0,20}"),
        proptest::sample::select(vec![
            "CallingUserAssignment",
            "FirstPartyAppAssignment",
            "ConferenceAssignment",
        ]),
        proptest::sample::subsequence(vec!["InboundCalling", "OutboundCalling", "Mobile"], 0..=3),
        proptest::sample::subsequence(
            vec!["FirstPartyAppAssignment", "ConferenceAssignment"],
            0..=2,
        ),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(
            |(
                mask,
                spell_off,
                header,
                usage,
                capabilities,
                additional_usages,
                assigned,
                allow_update,
            )| Intent {
                on: Service::ALL
                    .into_iter()
                    .zip(mask)
                    .filter_map(|(s, on)| on.then_some(s))
                    .collect(),
                spell_off,
                header,
                usage,
                capabilities,
                additional_usages,
                assigned,
                allow_update,
            },
        )
}

const NUMBER: &str = "+442079460001";
const ACCOUNT: &str = "contoso";

/// The intent as the Provisioning API's JSON.
fn through_api(intent: &Intent) -> numbat::domain::Number {
    use numbat::domain::Service;
    let mut details = serde_json::Map::new();
    for service in Service::ALL {
        let on = intent.on.contains(&service);
        if !on && !intent.spell_off {
            continue;
        }
        let mut block = serde_json::json!({ "enabled": on });
        if on && service.traits().teams_tenant {
            if let Some(assigned) = intent.assigned {
                block["assignmentStatus"] =
                    (if assigned { "assigned" } else { "unassigned" }).into();
            }
            block["configuration"] = serde_json::json!({
                "usage": intent.usage,
                "choosableCapabilities": intent.capabilities,
                "additionalUsages": intent.additional_usages,
                "allowTenantAddressUpdate": intent.allow_update,
            });
        }
        details.insert(service.wire_name().to_owned(), block);
    }
    let mut body = serde_json::json!({
        "telephoneNumber": NUMBER, "accountName": ACCOUNT, "serviceDetails": details,
    });
    if let Some(header) = &intent.header {
        body["configuration"] = serde_json::json!({ "customSipHeader": header });
    }
    serde_json::from_value::<numbat::wire::NumberIn>(body)
        .expect("the body has the API's shape")
        .into_domain()
        .expect("the API reads it")
}

/// The intent as a row of an import file, in the export's columns.
fn through_csv(intent: &Intent) -> numbat::domain::Number {
    use numbat::domain::Service;
    let columns = numbat::bulk::number_columns();
    let mut cells = Vec::new();
    for column in &columns {
        let cell = |name: &str| -> String {
            for service in Service::ALL {
                let prefix = format!("serviceDetails_{}_", service.wire_name());
                let Some(field) = name.strip_prefix(&prefix) else {
                    continue;
                };
                let on = intent.on.contains(&service);
                let teams = on && service.traits().teams_tenant;
                return match field {
                    "enabled" if on => "true".into(),
                    "enabled" if intent.spell_off => "false".into(),
                    "assignmentStatus" if teams => intent
                        .assigned
                        .map(|a| if a { "assigned" } else { "unassigned" })
                        .unwrap_or_default()
                        .into(),
                    "configuration_usage" if teams => intent.usage.into(),
                    "configuration_choosableCapabilities" if teams => intent.capabilities.join(";"),
                    "configuration_additionalUsages" if teams => intent.additional_usages.join(";"),
                    "configuration_allowTenantAddressUpdate" if teams => {
                        intent.allow_update.to_string()
                    }
                    _ => String::new(),
                };
            }
            match name {
                "telephoneNumber" => NUMBER.into(),
                "accountName" => ACCOUNT.into(),
                "configuration_customSipHeader" => intent.header.clone().unwrap_or_default(),
                _ => String::new(),
            }
        };
        cells.push(cell(column));
    }
    let heading = numbat::bulk::columns::Heading::parse(columns.iter().map(String::as_str))
        .expect("the export's own heading");
    heading
        .number(
            &csv::StringRecord::from(cells),
            &numbat::bulk::RowDefaults::default(),
        )
        .expect("the row reads")
}

/// The intent as the portal's number form posts it (a box per service, one Teams block).
fn through_portal(intent: &Intent) -> numbat::domain::Number {
    let teams = intent.on.iter().any(|s| s.traits().teams_tenant);
    let form = numbat::ui::NumberForm {
        account: ACCOUNT.into(),
        numbers: NUMBER.into(),
        services: intent
            .on
            .iter()
            .map(|s| (s.traits().form_name.to_owned(), "on".to_owned()))
            .collect(),
        custom_header: intent.header.clone(),
        assignment_status: intent
            .assigned
            .filter(|_| teams)
            .map(|a| if a { "assigned" } else { "unassigned" }.to_owned()),
        usage: teams.then(|| intent.usage.to_owned()),
        capabilities: Some(intent.capabilities.join(", ")),
        additional_usages: Some(intent.additional_usages.join(", ")),
        allow_tenant_address_update: (teams && intent.allow_update).then(|| "on".to_owned()),
        ..Default::default()
    };
    numbat::ui::numbers_from_form(&form)
        .expect("the form reads")
        .remove(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The same intent through the three doors is one domain value once the core has put it in
    /// its normal form, so a number made through one door and saved unchanged through another
    /// is unchanged.
    #[test]
    fn the_three_doors_turn_one_intent_into_one_number(intent in intents()) {
        let api = through_api(&intent).normalized();
        let csv = through_csv(&intent).normalized();
        let portal = through_portal(&intent).normalized();
        prop_assert_eq!(&api, &csv, "API and CSV differ for {:?}", intent);
        prop_assert_eq!(&api, &portal, "API and portal differ for {:?}", intent);
    }
}

/// The portal's boxes are named by the service table's `form_name`, and the form's struct must
/// read each under that name: a box posted for one service switches on that service and no
/// other (a rename on one side only would silently untick it on every save).
#[test]
fn each_service_box_the_page_renders_is_read_back_as_that_service() {
    use numbat::domain::Service;
    for service in Service::ALL {
        let mut posted = serde_json::json!({
            "account": "contoso",
            "numbers": "+442079460000",
        });
        posted[service.traits().form_name] = serde_json::json!("on");
        if service.traits().teams_tenant {
            posted["usage"] = serde_json::json!("CallingUserAssignment");
            posted["capabilities"] = serde_json::json!("InboundCalling");
            posted["allow_tenant_address_update"] = serde_json::json!("on");
        }
        let form: numbat::ui::NumberForm = serde_json::from_value(posted).unwrap();
        let numbers = numbat::ui::numbers_from_form(&form).expect("the form reads");
        let on: Vec<Service> = numbers[0].enabled_services().collect();
        assert_eq!(on, [service], "{}", service.traits().form_name);
    }
}

/// The account form's boxes too: each service's, and its sync box where the service table
/// lets it sync on request, are read back under the table's names.
#[test]
fn each_account_service_box_is_read_back_as_that_service() {
    use numbat::domain::service::FlowThrough;
    use numbat::domain::Service;
    for service in Service::ALL {
        let name = service.traits().form_name;
        let mut posted = serde_json::json!({ "name": "contoso" });
        posted[name] = serde_json::json!("on");
        posted[format!("{name}_sync")] = serde_json::json!("on");
        let form: numbat::ui::AccountForm = serde_json::from_value(posted).unwrap();
        for other in Service::ALL {
            assert_eq!(form.ticks(other), other == service, "{name}: {other}");
        }
        assert_eq!(
            form.syncs(service),
            service.traits().flow_through == FlowThrough::WhenSyncEnabled,
            "{name}"
        );
    }
}
