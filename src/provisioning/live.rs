//! Services that are live: once a deployment marks Operator Connect or Teams Phone Mobile
//! launched, Microsoft's programmes require their numbers to be provisioned through the API, so
//! the portal's door may read those numbers but not change them. The rule is here, in the core,
//! so that every portal path (a number's form, a bulk action, a CSV upload, an emergency
//! location) is held to it alike. Depends on `domain`.

use super::{Actor, Door, Provisioning, ProvisioningError};
use crate::domain::{Code, NumberServices, Service, Violation, Violations};

/// Whether `service` can be marked launched (only the programmes that require the API).
pub fn can_launch(service: Service) -> bool {
    service.traits().teams_tenant
}

/// Parses the services a deployment marks launched, from their wire names.
pub fn parse_launched<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Service>, Violations> {
    let mut launched = Vec::new();
    let mut broken = Violations::new();
    for name in names {
        match Service::from_wire_name(name.trim()).filter(|s| can_launch(*s)) {
            Some(service) if !launched.contains(&service) => launched.push(service),
            Some(_) => {}
            None => broken.push(Violation::new(
                "launchedServices",
                Code::InvalidValue,
                format!(
                    "{name:?} cannot be launched: only {} can",
                    Service::phrase(Service::ALL.into_iter().filter(|s| can_launch(*s)), "and")
                ),
            )),
        }
    }
    launched.sort_by_key(|s| s.index());
    broken.into_result(launched)
}

/// Why the portal may not change a number with `services`, when one of them is live.
pub fn refusal(live: &[Service], services: &NumberServices) -> Option<Violation> {
    let service = live.iter().find(|s| services.is_enabled(**s))?;
    Some(Violation::new(
        format!("serviceDetails.{}", service.wire_name()),
        Code::ServiceLaunched,
        format!(
            "{} is live: its numbers change through the Provisioning API, not the portal (the programme requires API-based provisioning once a service is launched)",
            service.label()
        ),
    ))
}

impl Provisioning {
    /// The live services whose numbers `actor` may not change: none unless it came by the
    /// portal.
    pub(super) async fn live_for(&self, actor: &Actor) -> Result<Vec<Service>, ProvisioningError> {
        if actor.door != Door::Portal {
            return Ok(Vec::new());
        }
        Ok(self.settings_unchecked().await?.launched)
    }
}
