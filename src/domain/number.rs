//! A telephone number assigned to an account: its services and its custom header value.

use super::names::{AccountName, CustomSipHeader};
use super::service::{read_service_map, Service, ServiceMap, ServiceMapVisitor};
use super::telephone::TelephoneNumber;
use super::violation::Violation;
use super::Code;
use serde::{Deserialize, Serialize};

/// What a caller says a number should be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Number {
    pub telephone_number: TelephoneNumber,
    pub account_name: AccountName,
    pub services: NumberServices,
    pub custom_sip_header: Option<CustomSipHeader>,
}

impl Number {
    /// The number in its one normal form (see [`NumberServices::normalized`]), so the same
    /// intent is the same stored value whichever door it came in by.
    pub fn normalized(mut self) -> Self {
        self.services = self.services.normalized();
        self
    }

    pub fn enabled_services(&self) -> impl Iterator<Item = Service> + '_ {
        Service::ALL
            .into_iter()
            .filter(|s| self.services.is_enabled(*s))
    }
}

/// Per service, in the table's index order: `None` when not mentioned, else whether it is
/// enabled and, for a Teams service (the table's `teams_tenant`), its assignment and
/// configuration. Nothing here names a service: the table says which have settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NumberServices([Option<NumberService>; Service::COUNT]);

impl NumberServices {
    /// These services as a form that shows the settings of one Teams service meant them. The
    /// form shows `shown`'s, or else those of the first Teams service on in `stored` (`shown`
    /// naming no Teams service counts as not given). Another Teams service that stays on keeps
    /// its stored settings (the form did not show them); a Teams service left out keeps its
    /// stored settings when it is off there (leaving out what could not be seen is no request
    /// to drop it).
    pub fn keeping_hidden_teams_settings(
        mut self,
        stored: &NumberServices,
        shown: Option<Service>,
    ) -> Self {
        let shown = shown
            .filter(|s| s.traits().teams_tenant)
            .or_else(|| Service::teams().find(|s| stored.teams(*s).is_some_and(|b| b.enabled)));
        for service in Service::teams() {
            let Some(old) = stored.teams(service) else {
                continue;
            };
            let new = &mut self.0[service.index()];
            match new {
                None if !old.enabled => *new = Some(old.clone()),
                Some(block)
                    if block.enabled && old.enabled && shown.is_some_and(|s| s != service) =>
                {
                    block.assignment_status = old.assignment_status;
                    block.configuration = old.configuration.clone();
                }
                _ => {}
            }
        }
        self
    }

    /// Absent means off: a service switched off that carries nothing else (no Teams assignment
    /// or configuration) is dropped, so a form that writes `false` for every unticked service
    /// and an API client that leaves them out store the same thing.
    pub fn normalized(mut self) -> Self {
        for slot in &mut self.0 {
            if slot.as_ref().is_some_and(|b| {
                !b.enabled && b.assignment_status.is_none() && b.configuration.is_none()
            }) {
                *slot = None;
            }
        }
        self
    }

    /// The service's block, when the number mentions it.
    pub fn get(&self, service: Service) -> Option<&NumberService> {
        self.0[service.index()].as_ref()
    }

    /// Sets the service's block; a service without Teams settings keeps only `enabled`.
    pub fn set(&mut self, service: Service, block: Option<NumberService>) {
        self.0[service.index()] = block.map(|b| {
            if service.traits().teams_tenant {
                b
            } else {
                NumberService::switch(b.enabled)
            }
        });
    }

    /// The services the number mentions, in the API's order, with their blocks.
    pub fn mentioned(&self) -> impl Iterator<Item = (Service, &NumberService)> + '_ {
        Service::ALL
            .into_iter()
            .filter_map(|s| self.get(s).map(|block| (s, block)))
    }

    pub fn is_enabled(&self, service: Service) -> bool {
        self.get(service).is_some_and(|s| s.enabled)
    }

    /// Switches `service` on or off, keeping its Teams settings; switching off a service the
    /// number never mentioned leaves it unmentioned.
    pub fn set_enabled(&mut self, service: Service, on: bool) {
        let slot = &mut self.0[service.index()];
        match slot {
            Some(block) => block.enabled = on,
            None if on => *slot = Some(NumberService::switch(true)),
            None => {}
        }
    }

    /// Sets the Teams block of `service`, a service that has one (others are left alone).
    pub fn set_teams(&mut self, service: Service, block: Option<NumberService>) {
        if service.traits().teams_tenant {
            self.set(service, block);
        }
    }

    /// The Teams block (assignment and configuration) of a service that has one.
    pub fn teams(&self, service: Service) -> Option<&NumberService> {
        self.get(service).filter(|_| service.traits().teams_tenant)
    }

    /// Only `service` enabled: a Teams service gets `teams` (none leaves it unmentioned), any
    /// other is switched on.
    pub fn only(service: Service, teams: Option<NumberService>) -> Self {
        let mut services = Self::default();
        if service.traits().teams_tenant {
            services.set(service, teams);
        } else {
            services.set_enabled(service, true);
        }
        services
    }
}

/// Written as a map keyed by each service's wire name, every service present: a Teams block
/// (or null) for a Teams service, `true`/`false`/null for the others. These are the keys and
/// values the audit trail has always recorded (its readers parse it, so key order is free).
impl Serialize for NumberServices {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(Service::COUNT))?;
        for service in Service::ALL {
            let block = self.get(service);
            if service.traits().teams_tenant {
                map.serialize_entry(service.wire_name(), &block)?;
            } else {
                map.serialize_entry(service.wire_name(), &block.map(|b| b.enabled))?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for NumberServices {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ServiceMapVisitor::<Self>::new())
    }
}

impl ServiceMap for NumberServices {
    fn read<'de, A: serde::de::MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        let slots = read_service_map(
            map,
            |service, map| {
                Ok(if service.traits().teams_tenant {
                    map.next_value::<Option<NumberService>>()?
                } else {
                    map.next_value::<Option<bool>>()?.map(NumberService::switch)
                })
            },
            |_, map| map.next_value::<serde::de::IgnoredAny>().map(drop),
        )?;
        Ok(NumberServices(slots))
    }
}

/// One service on one number: whether it is on and, for a Teams service (Operator Connect,
/// Teams Phone Mobile), its assignment and configuration (always none for the others).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberService {
    pub enabled: bool,
    pub assignment_status: Option<AssignmentStatus>,
    pub configuration: Option<TeamsNumberConfig>,
}

impl NumberService {
    /// On or off, with no Teams settings.
    pub fn switch(enabled: bool) -> Self {
        Self {
            enabled,
            assignment_status: None,
            configuration: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AssignmentStatus {
    Assigned,
    Unassigned,
}

impl AssignmentStatus {
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        match raw {
            "assigned" => Ok(Self::Assigned),
            "unassigned" => Ok(Self::Unassigned),
            _ => Err(Violation::new(
                "",
                Code::InvalidValue,
                "must be assigned or unassigned",
            )),
        }
    }
}

/// How a Teams number is used and what it can do (ACG's `TeamsCommonNumberConfig`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsNumberConfig {
    pub usage: Usage,
    pub choosable_capabilities: Vec<Capability>,
    pub additional_usages: Vec<Usage>,
    pub civic_address_id: Option<String>,
    pub location_id: Option<String>,
    pub allow_tenant_address_update: bool,
    pub displayed_country_code: Option<String>,
}

/// What a Teams number is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Usage {
    CallingUserAssignment,
    FirstPartyAppAssignment,
    ConferenceAssignment,
}

impl Usage {
    pub const ALL: [Usage; 3] = [
        Self::CallingUserAssignment,
        Self::FirstPartyAppAssignment,
        Self::ConferenceAssignment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallingUserAssignment => "CallingUserAssignment",
            Self::FirstPartyAppAssignment => "FirstPartyAppAssignment",
            Self::ConferenceAssignment => "ConferenceAssignment",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Violation> {
        Self::ALL
            .into_iter()
            .find(|u| u.as_str() == raw)
            .ok_or_else(|| {
                Violation::new(
                "",
                Code::InvalidValue,
                "must be CallingUserAssignment, FirstPartyAppAssignment or ConferenceAssignment",
            )
            })
    }
}

/// A Teams capability name such as `InboundCalling`, `OutboundCalling` or `Mobile`: the set
/// comes from the operator's capability plans, so any name of 1–64 letters and digits is kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Capability(String);

impl Capability {
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        if raw.is_empty() || raw.len() > 64 || !raw.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Violation::new(
                "",
                Code::InvalidFormat,
                "must be a capability name of 1–64 letters and digits, e.g. InboundCalling",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Capability {
    type Error = Violation;
    fn try_from(raw: String) -> Result<Self, Violation> {
        Self::parse(&raw)
    }
}

impl From<Capability> for String {
    fn from(value: Capability) -> String {
        value.0
    }
}

#[cfg(test)]
mod set_enabled_tests {
    use super::*;

    #[test]
    fn switching_a_service_keeps_teams_settings_and_leaves_unmentioned_ones_alone() {
        let mut services = NumberServices::default();
        services.set_enabled(Service::ZoomPhoneCloudPeering, false);
        assert_eq!(services, NumberServices::default(), "off stays unmentioned");
        services.set_enabled(Service::TeamsDirectRouting, true);
        assert_eq!(
            services.get(Service::TeamsDirectRouting).map(|b| b.enabled),
            Some(true)
        );
        services.set_enabled(Service::TeamsDirectRouting, false);
        assert_eq!(
            services.get(Service::TeamsDirectRouting).map(|b| b.enabled),
            Some(false)
        );
        assert_eq!(
            services
                .clone()
                .normalized()
                .get(Service::TeamsDirectRouting),
            None,
            "switched off and never mentioned are one stored value"
        );

        services.set(
            Service::TeamsPhoneMobile,
            Some(NumberService {
                enabled: true,
                assignment_status: Some(AssignmentStatus::Assigned),
                configuration: None,
            }),
        );
        services.set_enabled(Service::TeamsPhoneMobile, false);
        let block = services.get(Service::TeamsPhoneMobile).unwrap();
        assert!(!block.enabled);
        assert_eq!(block.assignment_status, Some(AssignmentStatus::Assigned));
        services.set_enabled(Service::TeamsOperatorConnect, true);
        assert!(services.is_enabled(Service::TeamsOperatorConnect));
    }

    #[test]
    fn a_service_without_teams_settings_keeps_only_its_switch() {
        let mut services = NumberServices::default();
        let mut block = NumberService::switch(true);
        block.assignment_status = Some(AssignmentStatus::Assigned);
        services.set(Service::ZoomPhoneCloudPeering, Some(block.clone()));
        assert_eq!(
            services.get(Service::ZoomPhoneCloudPeering),
            Some(&NumberService::switch(true))
        );
        services.set(Service::TeamsOperatorConnect, Some(block.clone()));
        assert_eq!(services.get(Service::TeamsOperatorConnect), Some(&block));
    }

    #[test]
    fn the_audit_form_names_every_service_and_reads_back_equal() {
        let mut services = NumberServices::only(Service::TeamsDirectRouting, None);
        services.set(
            Service::ZoomPhoneCloudPeering,
            Some(NumberService::switch(false)),
        );
        services.set(
            Service::TeamsPhoneMobile,
            Some(NumberService {
                enabled: true,
                assignment_status: Some(AssignmentStatus::Unassigned),
                configuration: None,
            }),
        );
        let json = serde_json::to_value(&services).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "teamsOperatorConnect": null,
                "teamsDirectRouting": true,
                "teamsPhoneMobile": {"enabled": true, "assignmentStatus": "unassigned", "configuration": null},
                "zoomPhoneCloudPeering": false,
                "azureOperatorCallProtection": null,
            })
        );
        let back: NumberServices = serde_json::from_value(json).unwrap();
        assert_eq!(back, services);
        let twice = r#"{"teamsDirectRouting": true, "teamsDirectRouting": false}"#;
        assert!(serde_json::from_str::<NumberServices>(twice).is_err());
    }
}

#[cfg(test)]
mod hidden_teams_settings_tests {
    use super::*;

    fn block(enabled: bool, location: &str) -> Option<NumberService> {
        Some(NumberService {
            enabled,
            assignment_status: None,
            configuration: Some(TeamsNumberConfig {
                usage: Usage::CallingUserAssignment,
                choosable_capabilities: Vec::new(),
                additional_usages: Vec::new(),
                civic_address_id: None,
                location_id: Some(location.to_owned()),
                allow_tenant_address_update: true,
                displayed_country_code: None,
            }),
        })
    }

    fn services(oc: Option<NumberService>, tpm: Option<NumberService>) -> NumberServices {
        let mut services = NumberServices::default();
        services.set(Service::TeamsOperatorConnect, oc);
        services.set(Service::TeamsPhoneMobile, tpm);
        services
    }

    #[test]
    fn the_teams_service_the_form_did_not_show_keeps_its_settings_while_it_stays_on() {
        let stored = services(block(true, "oc-stored"), block(true, "tpm-stored"));
        let posted = services(block(true, "form"), block(true, "form"));
        let kept = posted
            .clone()
            .keeping_hidden_teams_settings(&stored, Some(Service::TeamsOperatorConnect));
        assert_eq!(
            kept,
            services(block(true, "form"), block(true, "tpm-stored"))
        );
        // A shown service that is no Teams service (a forged field) counts as not given: the
        // form showed the first Teams service on, as the page does.
        for forged in [None, Some(Service::TeamsDirectRouting)] {
            let kept = posted
                .clone()
                .keeping_hidden_teams_settings(&stored, forged);
            assert_eq!(
                kept,
                services(block(true, "form"), block(true, "tpm-stored"))
            );
        }
    }

    #[test]
    fn a_teams_service_switched_on_takes_the_forms_settings_and_one_left_out_keeps_its_own() {
        // Teams Phone Mobile was off with old settings; the person switches it on.
        let stored = services(block(true, "oc-stored"), block(false, "tpm-old"));
        let posted = services(block(true, "form"), block(true, "form"));
        let kept =
            posted.keeping_hidden_teams_settings(&stored, Some(Service::TeamsOperatorConnect));
        assert_eq!(kept, services(block(true, "form"), block(true, "form")));
        // Left out while off (the form cannot show it): kept, switched off.
        let posted = services(block(true, "form"), None);
        let kept =
            posted.keeping_hidden_teams_settings(&stored, Some(Service::TeamsOperatorConnect));
        assert_eq!(kept, services(block(true, "form"), block(false, "tpm-old")));
    }
}
