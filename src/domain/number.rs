//! A telephone number assigned to an account: its services and its custom header value.

use super::names::{AccountName, CustomSipHeader};
use super::service::Service;
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

/// Per service: `None` when not mentioned, else whether it is enabled, and for the Teams
/// services their assignment and configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberServices {
    pub teams_operator_connect: Option<TeamsNumberService>,
    pub teams_phone_mobile: Option<TeamsNumberService>,
    pub teams_direct_routing: Option<bool>,
    pub zoom_phone_cloud_peering: Option<bool>,
    pub azure_operator_call_protection: Option<bool>,
}

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
            let new = match service {
                Service::TeamsOperatorConnect => &mut self.teams_operator_connect,
                _ => &mut self.teams_phone_mobile,
            };
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
        for flag in [
            &mut self.teams_direct_routing,
            &mut self.zoom_phone_cloud_peering,
            &mut self.azure_operator_call_protection,
        ] {
            if *flag == Some(false) {
                *flag = None;
            }
        }
        for block in [
            &mut self.teams_operator_connect,
            &mut self.teams_phone_mobile,
        ] {
            if block.as_ref().is_some_and(|b| {
                !b.enabled && b.assignment_status.is_none() && b.configuration.is_none()
            }) {
                *block = None;
            }
        }
        self
    }

    pub fn is_enabled(&self, service: Service) -> bool {
        match service {
            Service::TeamsOperatorConnect => self
                .teams_operator_connect
                .as_ref()
                .is_some_and(|s| s.enabled),
            Service::TeamsPhoneMobile => {
                self.teams_phone_mobile.as_ref().is_some_and(|s| s.enabled)
            }
            Service::TeamsDirectRouting => self.teams_direct_routing == Some(true),
            Service::ZoomPhoneCloudPeering => self.zoom_phone_cloud_peering == Some(true),
            Service::AzureOperatorCallProtection => {
                self.azure_operator_call_protection == Some(true)
            }
        }
    }

    /// Switches `service` on or off, keeping its Teams settings; switching off a service the
    /// number never mentioned leaves it unmentioned.
    pub fn set_enabled(&mut self, service: Service, on: bool) {
        let flag = match service {
            Service::TeamsOperatorConnect | Service::TeamsPhoneMobile => {
                let block = match service {
                    Service::TeamsOperatorConnect => &mut self.teams_operator_connect,
                    _ => &mut self.teams_phone_mobile,
                };
                match block {
                    Some(block) => block.enabled = on,
                    None if on => {
                        *block = Some(TeamsNumberService {
                            enabled: true,
                            assignment_status: None,
                            configuration: None,
                        })
                    }
                    None => {}
                }
                return;
            }
            Service::TeamsDirectRouting => &mut self.teams_direct_routing,
            Service::ZoomPhoneCloudPeering => &mut self.zoom_phone_cloud_peering,
            Service::AzureOperatorCallProtection => &mut self.azure_operator_call_protection,
        };
        if on || flag.is_some() {
            *flag = Some(on);
        }
    }

    /// Sets the Teams block of `service`, a service that has one (others are left alone).
    pub fn set_teams(&mut self, service: Service, block: Option<TeamsNumberService>) {
        match service {
            Service::TeamsOperatorConnect => self.teams_operator_connect = block,
            Service::TeamsPhoneMobile => self.teams_phone_mobile = block,
            _ => {}
        }
    }

    /// The Teams block (assignment and configuration) of a service that has one.
    pub fn teams(&self, service: Service) -> Option<&TeamsNumberService> {
        match service {
            Service::TeamsOperatorConnect => self.teams_operator_connect.as_ref(),
            Service::TeamsPhoneMobile => self.teams_phone_mobile.as_ref(),
            _ => None,
        }
    }

    /// Only `service` enabled (a Teams service gets an empty block to be filled in).
    pub fn only(service: Service, teams: Option<TeamsNumberService>) -> Self {
        let mut services = Self::default();
        match service {
            Service::TeamsOperatorConnect => services.teams_operator_connect = teams,
            Service::TeamsPhoneMobile => services.teams_phone_mobile = teams,
            Service::TeamsDirectRouting => services.teams_direct_routing = Some(true),
            Service::ZoomPhoneCloudPeering => services.zoom_phone_cloud_peering = Some(true),
            Service::AzureOperatorCallProtection => {
                services.azure_operator_call_protection = Some(true)
            }
        }
        services
    }
}

/// Operator Connect or Teams Phone Mobile on one number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsNumberService {
    pub enabled: bool,
    pub assignment_status: Option<AssignmentStatus>,
    pub configuration: Option<TeamsNumberConfig>,
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
        assert_eq!(services.teams_direct_routing, Some(true));
        services.set_enabled(Service::TeamsDirectRouting, false);
        assert_eq!(services.teams_direct_routing, Some(false));
        assert_eq!(
            services.clone().normalized().teams_direct_routing,
            None,
            "switched off and never mentioned are one stored value"
        );

        services.teams_phone_mobile = Some(TeamsNumberService {
            enabled: true,
            assignment_status: Some(AssignmentStatus::Assigned),
            configuration: None,
        });
        services.set_enabled(Service::TeamsPhoneMobile, false);
        let block = services.teams_phone_mobile.as_ref().unwrap();
        assert!(!block.enabled);
        assert_eq!(block.assignment_status, Some(AssignmentStatus::Assigned));
        services.set_enabled(Service::TeamsOperatorConnect, true);
        assert!(services.is_enabled(Service::TeamsOperatorConnect));
    }
}

#[cfg(test)]
mod hidden_teams_settings_tests {
    use super::*;

    fn block(enabled: bool, location: &str) -> Option<TeamsNumberService> {
        Some(TeamsNumberService {
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

    fn services(oc: Option<TeamsNumberService>, tpm: Option<TeamsNumberService>) -> NumberServices {
        NumberServices {
            teams_operator_connect: oc,
            teams_phone_mobile: tpm,
            ..NumberServices::default()
        }
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
