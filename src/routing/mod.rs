//! Call-time routing: what provisioning says should happen to a call to or from one number.
//!
//! The decision is a pure function of a number's provisioning, its account's and the
//! deployment's settings. The SIP edge asks it from an in-memory index ([`RoutingIndex`]) kept
//! current by a change feed ([`feed`]); the API's lookup endpoint asks it from the store, so
//! both doors answer the same question the same way. Depends on `domain` and `store`.

pub mod feed;
pub mod index;

pub use crate::store::routing::{AccountRoute, DirectRoutingRoute, NumberFacts};
pub use index::RoutingIndex;

use crate::domain::{InventoryState, LineType, Service};
use serde::Serialize;

/// Which way a call goes, seen from the operator's network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// From the operator's network toward a communications service: the called number decides.
    FromOperator,
    /// From a communications service toward the operator's network: the calling number decides.
    ToOperator,
}

impl Direction {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "fromOperator" => Some(Self::FromOperator),
            "toOperator" => Some(Self::ToOperator),
            _ => None,
        }
    }
}

/// A provisioned number as the gateway needs it at call time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberRoute<'a> {
    pub account: &'a AccountRoute,
    /// Bit `Service::index()` set for each enabled service.
    pub services: u8,
    pub line_type: LineType,
    pub custom_sip_header: Option<&'a str>,
}

impl<'a> NumberRoute<'a> {
    pub fn has(&self, service: Service) -> bool {
        self.services & service.bit() != 0
    }

    /// The service a call from the operator's network reaches this number on: the first
    /// enabled one in [`SERVICE_PREFERENCE`].
    pub fn service(&self) -> Option<Service> {
        SERVICE_PREFERENCE.into_iter().find(|s| self.has(*s))
    }

    /// The custom header value, when every service the number has carries one (the service
    /// table's `custom_header`: not Teams Phone Mobile, not Call Protection).
    pub fn header_value(&self) -> Option<&'a str> {
        let mut enabled = Service::ALL.into_iter().filter(|s| self.has(*s)).peekable();
        let carries = enabled.peek().is_some() && enabled.all(|s| s.traits().custom_header);
        self.custom_sip_header.filter(|_| carries)
    }
}

/// When a number has several services, calls from the operator reach the first of these:
/// the service table's order.
pub const SERVICE_PREFERENCE: [Service; Service::COUNT] = Service::BY_PREFERENCE;

/// Deployment settings that shape decisions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutingSettings {
    pub header_name: Option<String>,
    pub base_domain: Option<String>,
}

/// Why a call is refused, as a SIP status and a sentence for its Warning header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    pub status: u16,
    pub reason: String,
}

/// What the gateway does with a call to or from one number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub telephone_number: String,
    pub direction: Direction,
    pub provisioned: bool,
    pub account_name: Option<String>,
    /// The service the call is on; for an unprovisioned number, the default rule's.
    pub service: Option<Service>,
    /// Whether `service` came from the default rule (fixed line → Operator Connect, mobile →
    /// Teams Phone Mobile) rather than the number's provisioning.
    pub by_default_rule: bool,
    pub line_type: LineType,
    /// Where the number stands in the inventory: `assigned` when provisioned, `reserved` or
    /// `quarantined` when held back (refused), none when the gateway knows nothing of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_state: Option<InventoryState>,
    /// The header added to messages toward the operator's network, when there is one.
    pub custom_sip_header: Option<HeaderField>,
    /// Toward Microsoft Phone System (Direct Routing), the Contact host becomes this.
    pub contact_host: Option<String>,
    pub rejection: Option<Rejection>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeaderField {
    pub name: String,
    pub value: String,
}

/// What a call on the service side says about the Direct Routing customer it came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Arrival<'a> {
    /// The customer subdomain label from the Request-URI host (`<label>.1rN.<base>`), for a
    /// call from Microsoft Phone System; `None` for any other service.
    pub direct_routing_label: Option<&'a str>,
    /// The account that label belongs to, when one does.
    pub direct_routing_account: Option<&'a AccountRoute>,
}

/// What the numbering plan says a number is (`+` optional), for the default rule on numbers
/// nobody provisioned.
pub fn line_type_of(number: &str) -> LineType {
    let with_plus;
    let text = if number.starts_with('+') {
        number
    } else {
        with_plus = format!("+{number}");
        &with_plus
    };
    crate::domain::TelephoneNumber::parse(text)
        .map(|n| n.classify().line_type)
        .unwrap_or_default()
}

/// The Direct Routing customer domain of `account` in `region`, when it and the base domain
/// are known.
pub fn customer_domain(account: &AccountRoute, base: Option<&str>, region: u8) -> Option<String> {
    let dr = account.direct_routing.as_ref()?;
    let domain = crate::domain::CustomerDomain {
        label: &dr.label,
        region,
        base: base?,
    };
    Some(domain.to_string())
}

/// Decides what happens to a call whose operator-side party is elsewhere and whose
/// service-side party is `number`: the called number of a call from the operator's network,
/// the calling number of a call toward it.
// Each argument is one independent fact the decision reads, given by both of its callers.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    number: &str,
    direction: Direction,
    provisioned: Option<NumberRoute<'_>>,
    held: Option<InventoryState>,
    line_type: LineType,
    arrival: Arrival<'_>,
    settings: &RoutingSettings,
    region: u8,
) -> Decision {
    let mut decision = Decision {
        telephone_number: number.to_owned(),
        direction,
        provisioned: provisioned.is_some(),
        account_name: provisioned.map(|p| p.account.name.to_string()),
        service: None,
        by_default_rule: false,
        line_type: provisioned.map_or(line_type, |p| p.line_type),
        inventory_state: match provisioned {
            Some(_) => Some(InventoryState::Assigned),
            None => held,
        },
        custom_sip_header: None,
        contact_host: None,
        rejection: None,
    };
    if provisioned.is_none() {
        let why = match held {
            Some(InventoryState::Reserved) => Some("is reserved for an account but not assigned"),
            Some(InventoryState::Quarantined) => {
                Some("was released and is quarantined, held back from reassignment")
            }
            _ => None,
        };
        if let Some(why) = why {
            decision.rejection = Some(Rejection {
                status: 404,
                reason: format!("{number} {why}: not routed"),
            });
            return decision;
        }
    }
    match direction {
        Direction::FromOperator => match provisioned {
            Some(route) => match route.service() {
                Some(service) => {
                    decision.service = Some(service);
                    if service == Service::TeamsDirectRouting {
                        decision.contact_host =
                            customer_domain(route.account, settings.base_domain.as_deref(), region);
                    }
                }
                None => {
                    decision.rejection = Some(Rejection {
                        status: 404,
                        reason: format!(
                            "{number} is provisioned in account {} but has no service enabled",
                            route.account.name
                        ),
                    })
                }
            },
            None => match default_service(decision.line_type) {
                Some(service) => {
                    decision.service = Some(service);
                    decision.by_default_rule = true;
                }
                None => {
                    decision.rejection = Some(Rejection {
                        status: 404,
                        reason: format!(
                            "{number} is not provisioned, and no service takes {} lines by default",
                            decision.line_type.as_str()
                        ),
                    })
                }
            },
        },
        Direction::ToOperator => {
            if let Some(label) = arrival.direct_routing_label {
                decision.service = Some(Service::TeamsDirectRouting);
                if let Some(rejection) = screen(number, provisioned, label, arrival) {
                    decision.rejection = Some(rejection);
                }
            } else {
                decision.service = provisioned.and_then(|p| p.service());
            }
        }
    }
    if direction == Direction::ToOperator || decision.rejection.is_none() {
        decision.custom_sip_header = provisioned
            .and_then(|p| p.header_value())
            .zip(settings.header_name.as_deref())
            .map(|(value, name)| HeaderField {
                name: name.to_owned(),
                value: value.to_owned(),
            });
    }
    if decision.rejection.is_some() {
        decision.custom_sip_header = None;
    }
    decision
}

/// The default rule for numbers that were never provisioned: the service whose row in the
/// service table lists the line type (fixed lines to Operator Connect, mobiles to Teams Phone
/// Mobile).
pub fn default_service(line_type: LineType) -> Option<Service> {
    Service::ALL
        .into_iter()
        .find(|s| s.traits().default_for.contains(&line_type))
}

/// Direct Routing caller ID screening: a call from a customer's Teams whose calling number is
/// not provisioned for that customer is refused, unless the customer's account turned it off.
fn screen(
    number: &str,
    provisioned: Option<NumberRoute<'_>>,
    label: &str,
    arrival: Arrival<'_>,
) -> Option<Rejection> {
    let belongs = provisioned.is_some_and(|p| {
        p.has(Service::TeamsDirectRouting)
            && p.account
                .direct_routing
                .as_ref()
                .is_some_and(|dr| dr.label.eq_ignore_ascii_case(label))
    });
    let screens = arrival
        .direct_routing_account
        .and_then(|a| a.direct_routing.as_ref())
        .is_none_or(|dr| dr.call_screening);
    (!belongs && screens).then(|| Rejection {
        status: 403,
        reason: match arrival.direct_routing_account {
            Some(account) => format!(
                "calling number {number} is not provisioned for Direct Routing in account {}, which screens calls",
                account.name
            ),
            None => format!(
                "calling number {number} came from Direct Routing subdomain {label}, which no account has"
            ),
        },
    })
}

/// The digits of a number written `+<digits>` (or bare digits), as the index's key.
pub fn number_key(raw: &str) -> Option<u64> {
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    if digits.is_empty()
        || digits.len() > 15
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(label: Option<&str>, screening: bool) -> AccountRoute {
        AccountRoute {
            name: "contoso".into(),
            direct_routing: label.map(|l| DirectRoutingRoute {
                label: l.into(),
                call_screening: screening,
                tokens: ["t1".into(), "t2".into()],
            }),
        }
    }

    fn settings() -> RoutingSettings {
        RoutingSettings {
            header_name: Some("X-MS-Operator-Content".into()),
            base_domain: Some("dep1.example".into()),
        }
    }

    fn route<'a>(
        account: &'a AccountRoute,
        services: &[Service],
        header: Option<&'a str>,
    ) -> NumberRoute<'a> {
        NumberRoute {
            account,
            services: services.iter().map(|s| s.bit()).sum(),
            line_type: LineType::FixedLine,
            custom_sip_header: header,
        }
    }

    #[test]
    fn a_direct_routing_number_gets_its_header_and_its_customer_domain() {
        let acct = account(Some("contoso"), true);
        let d = decide(
            "+441632960001",
            Direction::FromOperator,
            Some(route(&acct, &[Service::TeamsDirectRouting], Some("gold-7"))),
            None,
            LineType::Unknown,
            Arrival::default(),
            &settings(),
            2,
        );
        assert_eq!(d.service, Some(Service::TeamsDirectRouting));
        assert_eq!(d.contact_host.as_deref(), Some("contoso.1r2.dep1.example"));
        assert_eq!(d.custom_sip_header.unwrap().value, "gold-7");
    }

    #[test]
    fn unprovisioned_numbers_route_by_line_type_or_are_refused() {
        let d = |line| {
            decide(
                "+447700900001",
                Direction::FromOperator,
                None,
                None,
                line,
                Arrival::default(),
                &settings(),
                1,
            )
        };
        assert_eq!(
            d(LineType::FixedLine).service,
            Some(Service::TeamsOperatorConnect)
        );
        assert_eq!(d(LineType::Mobile).service, Some(Service::TeamsPhoneMobile));
        assert_eq!(
            d(LineType::TollFree).service,
            Some(Service::TeamsOperatorConnect)
        );
        let refused = d(LineType::Pager);
        assert_eq!(refused.rejection.unwrap().status, 404);
        assert!(refused.custom_sip_header.is_none());
    }

    #[test]
    fn reserved_and_quarantined_numbers_are_refused_with_why_in_both_directions() {
        for (held, words) in [
            (InventoryState::Reserved, "is reserved"),
            (InventoryState::Quarantined, "quarantined"),
        ] {
            for direction in [Direction::FromOperator, Direction::ToOperator] {
                let d = decide(
                    "+441632960001",
                    direction,
                    None,
                    Some(held),
                    LineType::FixedLine,
                    Arrival::default(),
                    &settings(),
                    1,
                );
                let rejection = d.rejection.expect("a held number is refused");
                assert_eq!(rejection.status, 404);
                assert!(rejection.reason.contains(words), "{}", rejection.reason);
                assert_eq!((d.service, d.inventory_state), (None, Some(held)));
            }
        }
        // An available number is not held: the default rule applies as to any stranger.
        let free = decide(
            "+441632960001",
            Direction::FromOperator,
            None,
            Some(InventoryState::Available),
            LineType::FixedLine,
            Arrival::default(),
            &settings(),
            1,
        );
        assert_eq!(free.service, Some(Service::TeamsOperatorConnect));
        assert!(free.rejection.is_none());
        // A provisioned number routes as before, whatever a stale hold says.
        let acct = account(Some("contoso"), true);
        let routed = decide(
            "+441632960001",
            Direction::FromOperator,
            Some(route(&acct, &[Service::TeamsDirectRouting], None)),
            Some(InventoryState::Quarantined),
            LineType::Unknown,
            Arrival::default(),
            &settings(),
            1,
        );
        assert_eq!(routed.service, Some(Service::TeamsDirectRouting));
        assert_eq!(routed.inventory_state, Some(InventoryState::Assigned));
    }

    #[test]
    fn teams_phone_mobile_numbers_carry_no_header() {
        let acct = account(None, true);
        let d = decide(
            "+447700900001",
            Direction::ToOperator,
            Some(route(&acct, &[Service::TeamsPhoneMobile], Some("x"))),
            None,
            LineType::Mobile,
            Arrival::default(),
            &settings(),
            1,
        );
        assert!(d.custom_sip_header.is_none());
    }

    #[test]
    fn screening_refuses_a_stranger_unless_the_account_turned_it_off() {
        let screens = account(Some("contoso"), true);
        let open = account(Some("contoso"), false);
        for (acct, refused) in [(&screens, true), (&open, false)] {
            let d = decide(
                "+441632960099",
                Direction::ToOperator,
                None,
                None,
                LineType::FixedLine,
                Arrival {
                    direct_routing_label: Some("contoso"),
                    direct_routing_account: Some(acct),
                },
                &settings(),
                1,
            );
            assert_eq!(d.rejection.map(|r| r.status), refused.then_some(403));
        }
        let member = decide(
            "+441632960001",
            Direction::ToOperator,
            Some(route(&screens, &[Service::TeamsDirectRouting], Some("v"))),
            None,
            LineType::FixedLine,
            Arrival {
                direct_routing_label: Some("CONTOSO"),
                direct_routing_account: Some(&screens),
            },
            &settings(),
            1,
        );
        assert!(member.rejection.is_none());
        assert_eq!(member.custom_sip_header.unwrap().value, "v");
    }

    #[test]
    fn number_keys_are_e164_digits() {
        assert_eq!(number_key("+441632960001"), Some(441632960001));
        assert_eq!(number_key("441632960001"), Some(441632960001));
        assert_eq!(number_key("+0441"), None);
        assert_eq!(number_key("+44a"), None);
        assert_eq!(number_key("+1234567890123456"), None);
    }
}
