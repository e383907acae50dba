//! The five communications services and the seed's table of how each is provisioned, as data.
//!
//! Rules read this table; nothing else in the code asks "is this service X?".

use super::telephone::LineType;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Service {
    TeamsOperatorConnect,
    TeamsDirectRouting,
    TeamsPhoneMobile,
    ZoomPhoneCloudPeering,
    AzureOperatorCallProtection,
}

/// How the service reaches its upstream platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowThrough {
    /// Numbat never provisions the upstream; `syncEnabled` must stay false.
    NotSupported,
    /// Provisioned upstream when the account's `syncEnabled` is on.
    WhenSyncEnabled,
    /// Always provisioned upstream; there is no `syncEnabled` switch.
    Automatic,
}

/// One row of the seed's table, plus what follows from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceTraits {
    pub service: Service,
    /// The property name in ACG's JSON.
    pub wire_name: &'static str,
    /// The name people read.
    pub label: &'static str,
    /// The field the portal's forms post for it (`form[<name>]`).
    pub form_name: &'static str,
    /// The prefix of the service's columns in the database (`<prefix>_enabled`, …).
    pub column_prefix: &'static str,
    /// The name `numbat edge --next-hop <name>=…` gives it.
    pub edge_name: &'static str,
    /// Numbers must be associated with the service explicitly (no default by line type).
    pub explicit_association: bool,
    pub flow_through: FlowThrough,
    /// A number with this service enabled may carry a custom SIP header value.
    pub custom_header: bool,
    /// The `numberType` Operator Connect's API gives the service's numbers, for a service whose
    /// numbers Numbat uploads there.
    pub upstream_number_type: Option<&'static str>,
    /// The account needs its Teams tenant ID before a number may use this service, and the
    /// number carries an assignment status and a Teams configuration.
    pub teams_tenant: bool,
    /// Services that may not be enabled on the same number as this one (stated once, on one
    /// side; `combines_with` reads it both ways).
    pub excludes: &'static [Service],
    /// For services without explicit association: the kinds of line the gateway gives this
    /// service when a number is not provisioned at all.
    pub default_for: &'static [LineType],
}

/// The table, in routing preference: a call from the operator's network to a number with
/// several services reaches the first of them here.
const TABLE: [ServiceTraits; Service::COUNT] = [
    ServiceTraits {
        service: Service::TeamsDirectRouting,
        wire_name: "teamsDirectRouting",
        label: "Microsoft Teams Direct Routing",
        form_name: "direct_routing",
        column_prefix: "dr",
        edge_name: "teams-direct-routing",
        explicit_association: true,
        flow_through: FlowThrough::NotSupported,
        upstream_number_type: None,
        custom_header: true,
        teams_tenant: false,
        excludes: &[],
        default_for: &[],
    },
    ServiceTraits {
        service: Service::TeamsOperatorConnect,
        wire_name: "teamsOperatorConnect",
        label: "Operator Connect",
        form_name: "operator_connect",
        column_prefix: "oc",
        edge_name: "operator-connect",
        explicit_association: false,
        flow_through: FlowThrough::WhenSyncEnabled,
        upstream_number_type: Some("OperatorConnect"),
        custom_header: true,
        teams_tenant: true,
        excludes: &[],
        default_for: &[
            LineType::FixedLine,
            LineType::FixedLineOrMobile,
            LineType::TollFree,
            LineType::PremiumRate,
            LineType::SharedCost,
            LineType::Voip,
            LineType::Uan,
            LineType::PersonalNumber,
        ],
    },
    ServiceTraits {
        service: Service::TeamsPhoneMobile,
        wire_name: "teamsPhoneMobile",
        label: "Teams Phone Mobile",
        form_name: "phone_mobile",
        column_prefix: "tpm",
        edge_name: "teams-phone-mobile",
        explicit_association: false,
        flow_through: FlowThrough::WhenSyncEnabled,
        upstream_number_type: Some("TeamsPhoneMobile"),
        custom_header: false,
        teams_tenant: true,
        excludes: &[],
        default_for: &[LineType::Mobile],
    },
    ServiceTraits {
        service: Service::ZoomPhoneCloudPeering,
        wire_name: "zoomPhoneCloudPeering",
        label: "Zoom Phone Cloud Peering",
        form_name: "zoom",
        column_prefix: "zoom",
        edge_name: "zoom",
        explicit_association: true,
        flow_through: FlowThrough::NotSupported,
        upstream_number_type: None,
        custom_header: true,
        teams_tenant: false,
        excludes: &[],
        default_for: &[],
    },
    ServiceTraits {
        service: Service::AzureOperatorCallProtection,
        wire_name: "azureOperatorCallProtection",
        label: "Azure Operator Call Protection",
        form_name: "call_protection",
        column_prefix: "aocp",
        edge_name: "call-protection",
        explicit_association: true,
        flow_through: FlowThrough::Automatic,
        upstream_number_type: None,
        custom_header: false,
        teams_tenant: false,
        excludes: &[
            Service::TeamsOperatorConnect,
            Service::TeamsPhoneMobile,
            Service::ZoomPhoneCloudPeering,
        ],
        default_for: &[],
    },
];

// A set of services is one byte (`Service::bit`).
const _: () = assert!(Service::COUNT <= 8);

impl Service {
    /// How many services there are (per-service arrays are this long).
    pub const COUNT: usize = 5;

    /// Every service, in the order the API documents them.
    pub const ALL: [Service; Self::COUNT] = [
        Service::TeamsOperatorConnect,
        Service::TeamsDirectRouting,
        Service::TeamsPhoneMobile,
        Service::ZoomPhoneCloudPeering,
        Service::AzureOperatorCallProtection,
    ];

    /// Every service in routing preference (the table's order): a call from the operator's
    /// network to a number with several services reaches the first it has.
    pub const BY_PREFERENCE: [Service; Self::COUNT] = {
        let mut order = [Service::TeamsDirectRouting; Self::COUNT];
        let mut i = 0;
        while i < TABLE.len() {
            order[i] = TABLE[i].service;
            i += 1;
        }
        order
    };

    /// The Teams services (the table's `teams_tenant`): a number's Teams assignment and
    /// configuration, and Operator Connect's upload, are theirs.
    pub fn teams() -> impl Iterator<Item = Service> {
        Self::ALL.into_iter().filter(|s| s.traits().teams_tenant)
    }

    /// The Teams services' labels as a phrase ("Operator Connect and Teams Phone Mobile"), for
    /// pages that name what Teams settings apply to.
    pub fn teams_labels() -> String {
        Self::phrase(Self::teams(), "and")
    }

    /// Services' labels as a phrase: "A", "A and B", "A, B or C" with `joiner` "or".
    pub fn phrase(services: impl Iterator<Item = Service>, joiner: &str) -> String {
        let labels: Vec<&str> = services.map(Self::label).collect();
        match labels.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} {joiner} {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    pub fn traits(self) -> &'static ServiceTraits {
        // Each service's row in the table, found once when compiling: rules and the store ask
        // for traits per number, a million times in a load.
        const ROW: [usize; Service::COUNT] = {
            let mut row = [usize::MAX; Service::COUNT];
            let mut i = 0;
            while i < TABLE.len() {
                row[TABLE[i].service as usize] = i;
                i += 1;
            }
            let mut j = 0;
            while j < Service::COUNT {
                assert!(row[j] != usize::MAX, "every service has a row in the table");
                j += 1;
            }
            row
        };
        &TABLE[ROW[self as usize]]
    }

    pub fn wire_name(self) -> &'static str {
        self.traits().wire_name
    }

    pub fn label(self) -> &'static str {
        self.traits().label
    }

    /// This service's bit in a set of services held as one byte (bit `index()`), as the routing
    /// index keeps a number's services: the table may have at most 8 rows (checked when
    /// compiling).
    pub fn bit(self) -> u8 {
        1 << self.index()
    }

    /// A stable position 0..COUNT, for per-service arrays: the service's place in `ALL` (the
    /// enum is declared in that order; a test holds the two together).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The service `numbat edge --next-hop` names so.
    pub fn from_edge_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.traits().edge_name == name)
    }

    pub fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.wire_name() == name)
    }

    /// Whether this service and `other` may be enabled on the same number.
    pub fn combines_with(self, other: Service) -> bool {
        !self.traits().excludes.contains(&other) && !other.traits().excludes.contains(&self)
    }

    /// The service the gateway assumes for a number nobody provisioned, by its kind of line:
    /// Operator Connect for fixed lines, Teams Phone Mobile for mobiles, none otherwise.
    pub fn default_for(line_type: LineType) -> Option<Service> {
        Self::ALL.into_iter().find(|s| {
            let row = s.traits();
            !row.explicit_association && row.default_for.contains(&line_type)
        })
    }

    pub fn has_sync_switch(self) -> bool {
        self.traits().flow_through != FlowThrough::Automatic
    }
}

/// Reads an object keyed by services' wire names into one slot per service: `value` reads the
/// value of each service named (at most once, as serde's derive refuses a field given twice),
/// `other` whatever key names no service (it must consume that key's value).
pub fn read_service_map<'de, A, T>(
    map: &mut A,
    mut value: impl FnMut(Service, &mut A) -> Result<Option<T>, A::Error>,
    mut other: impl FnMut(String, &mut A) -> Result<(), A::Error>,
) -> Result<[Option<T>; Service::COUNT], A::Error>
where
    A: serde::de::MapAccess<'de>,
{
    let mut slots: [Option<T>; Service::COUNT] = Default::default();
    let mut seen = [false; Service::COUNT];
    while let Some(key) = map.next_key::<String>()? {
        let Some(service) = Service::from_wire_name(&key) else {
            other(key, map)?;
            continue;
        };
        if std::mem::replace(&mut seen[service.index()], true) {
            return Err(serde::de::Error::duplicate_field(service.wire_name()));
        }
        slots[service.index()] = value(service, map)?;
    }
    Ok(slots)
}

/// A value read from an object keyed by services' wire names (with [`read_service_map`]);
/// its `Deserialize` is `deserializer.deserialize_map(ServiceMapVisitor::<Self>::new())`.
pub trait ServiceMap: Sized {
    fn read<'de, A: serde::de::MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error>;
}

/// The serde visitor of a [`ServiceMap`].
pub struct ServiceMapVisitor<T>(std::marker::PhantomData<T>);

impl<T> ServiceMapVisitor<T> {
    pub fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<T> Default for ServiceMapVisitor<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'de, T: ServiceMap> serde::de::Visitor<'de> for ServiceMapVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of services keyed by their names")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        T::read(&mut map)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_seed() {
        use Service::*;
        let explicit: Vec<_> = Service::ALL
            .into_iter()
            .filter(|s| s.traits().explicit_association)
            .collect();
        assert_eq!(
            explicit,
            [
                TeamsDirectRouting,
                ZoomPhoneCloudPeering,
                AzureOperatorCallProtection
            ]
        );
        let flow: Vec<_> = Service::ALL
            .into_iter()
            .filter(|s| s.traits().flow_through != FlowThrough::NotSupported)
            .collect();
        assert_eq!(
            flow,
            [
                TeamsOperatorConnect,
                TeamsPhoneMobile,
                AzureOperatorCallProtection
            ]
        );
        let header: Vec<_> = Service::ALL
            .into_iter()
            .filter(|s| s.traits().custom_header)
            .collect();
        assert_eq!(
            header,
            [
                TeamsOperatorConnect,
                TeamsDirectRouting,
                ZoomPhoneCloudPeering
            ]
        );
    }

    #[test]
    fn call_protection_combines_only_with_direct_routing() {
        use Service::*;
        let partners: Vec<_> = Service::ALL
            .into_iter()
            .filter(|s| {
                *s != AzureOperatorCallProtection && AzureOperatorCallProtection.combines_with(*s)
            })
            .collect();
        assert_eq!(partners, [TeamsDirectRouting]);
        assert!(TeamsOperatorConnect.combines_with(TeamsDirectRouting));
    }

    #[test]
    fn unprovisioned_numbers_default_by_line_type_and_never_to_explicit_services() {
        assert_eq!(
            Service::default_for(LineType::FixedLine),
            Some(Service::TeamsOperatorConnect)
        );
        assert_eq!(
            Service::default_for(LineType::Mobile),
            Some(Service::TeamsPhoneMobile)
        );
        assert_eq!(Service::default_for(LineType::Unknown), None);
        for line_type in LineType::ALL {
            let default = Service::default_for(line_type);
            assert!(
                default.is_none_or(|s| !s.traits().explicit_association),
                "{line_type:?}"
            );
        }
    }

    #[test]
    fn the_teams_services_are_named_from_the_table() {
        assert_eq!(
            Service::teams_labels(),
            "Operator Connect and Teams Phone Mobile"
        );
        let apart = Service::ALL.into_iter().filter(|s| {
            *s != Service::AzureOperatorCallProtection
                && !Service::AzureOperatorCallProtection.combines_with(*s)
        });
        assert_eq!(
            Service::phrase(apart, "or"),
            "Operator Connect, Teams Phone Mobile or Zoom Phone Cloud Peering"
        );
    }

    #[test]
    fn wire_names_round_trip() {
        for service in Service::ALL {
            assert_eq!(Service::from_wire_name(service.wire_name()), Some(service));
            assert_eq!(
                Service::from_edge_name(service.traits().edge_name),
                Some(service)
            );
            assert_eq!(Service::ALL[service.index()], service);
            assert_eq!(service.traits().service, service, "its own row");
        }
    }
}
