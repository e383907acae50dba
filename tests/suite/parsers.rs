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
