//! Emergency locations: the civic address and location of an Operator Connect or Teams Phone
//! Mobile number, changed after upload. The address must be one of the number's tenant's civic
//! addresses (as the consent pull recorded them) and the location one of that address's; the
//! change is then written as any change of the number is (its rules, audit event, version and
//! the outbox job that sends it to Operator Connect). Depends on `domain` and `store`.

use super::{Actor, Permission, Precondition, Provisioning, ProvisioningError, Written};
use crate::domain::consent::TeamsCivicAddress;
use crate::domain::{Code, Service, TelephoneNumber, Violation, Violations};
use crate::store::numbers::{self as stored, NumberRecord};
use crate::store::{accounts, consents};
use serde::{Deserialize, Serialize};

/// The most characters an address or location ID may have (Teams' are GUIDs; a bound on
/// whatever a caller sends).
pub const MAX_ID_CHARS: usize = 100;

/// Where a number's emergency calls say the caller is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyLocation {
    pub civic_address_id: Option<String>,
    pub location_id: Option<String>,
    /// Whether the enterprise may change the address itself in Teams.
    pub allow_tenant_address_update: bool,
}

impl EmergencyLocation {
    /// Checks what a door read: IDs of 1 to [`MAX_ID_CHARS`] characters without control
    /// characters (a form's blank field is the door's to read as none), a location only with
    /// its address.
    pub fn parse(
        civic_address_id: Option<&str>,
        location_id: Option<&str>,
        allow_tenant_address_update: bool,
    ) -> Result<Self, Violations> {
        let mut broken = Violations::new();
        let mut id = |field: &str, raw: Option<&str>| {
            let raw = raw?;
            if raw.is_empty()
                || raw.chars().count() > MAX_ID_CHARS
                || raw.chars().any(char::is_control)
            {
                broken.push(Violation::new(
                    field,
                    Code::InvalidFormat,
                    format!("must be 1 to {MAX_ID_CHARS} characters without control characters"),
                ));
                return None;
            }
            Some(raw.to_owned())
        };
        let location = Self {
            civic_address_id: id("civicAddressId", civic_address_id),
            location_id: id("locationId", location_id),
            allow_tenant_address_update,
        };
        if location.location_id.is_some() && location.civic_address_id.is_none() {
            broken.push(Violation::new(
                "locationId",
                Code::Required,
                "needs civicAddressId: a location belongs to a civic address",
            ));
        }
        if broken.is_empty() {
            Ok(location)
        } else {
            Err(broken)
        }
    }
}

/// A number's emergency location as it stands, with the address it names.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyLocationView {
    pub telephone_number: TelephoneNumber,
    pub account_name: String,
    /// The Teams service whose settings hold the location.
    pub service: Service,
    #[serde(flatten)]
    pub location: EmergencyLocation,
    /// The civic address named, as the tenant keeps it; none when no address is set or Numbat
    /// has not seen that address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub civic_address: Option<TeamsCivicAddress>,
    /// The number's version (its ETag): a change must name it.
    pub version: i64,
}

impl Provisioning {
    /// The emergency location of an Operator Connect or Teams Phone Mobile number.
    pub async fn emergency_location(
        &self,
        actor: &Actor,
        number: &TelephoneNumber,
    ) -> Result<EmergencyLocationView, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let record = stored::get(&self.db, number)
            .await?
            .ok_or_else(|| ProvisioningError::not_found("number", number.as_str()))?;
        let (service, location) = located(&record)?;
        let civic_address = match (&location.civic_address_id, self.tenant(&record).await?) {
            (Some(id), Some(tenant)) => consents::get_civic_address(&self.db, &tenant, id)
                .await?
                .map(|r| r.address),
            _ => None,
        };
        Ok(EmergencyLocationView {
            telephone_number: record.number.telephone_number.clone(),
            account_name: record.number.account_name.to_string(),
            service,
            location,
            civic_address,
            version: record.version,
        })
    }

    /// Changes the emergency location of an Operator Connect or Teams Phone Mobile number, if it
    /// is still at the version `precondition` names. Refused by name: a number without either
    /// service (`ServiceNotOnNumber`), an account without a Teams tenant (`TenantIdRequired`),
    /// an address that is not one of the tenant's or a location not at that address
    /// (`CivicAddressNotFound`, `LocationNotFound`), and the number's own rules (a calling
    /// user's number needs an address unless the enterprise may set it).
    pub async fn set_emergency_location(
        &self,
        actor: &Actor,
        number: &TelephoneNumber,
        change: EmergencyLocation,
        precondition: Precondition,
    ) -> Result<(Written<NumberRecord>, EmergencyLocationView), ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        // Locks in the order every writer takes them, the account and then its number; the
        // change is made to the number as it stands locked, so nothing else in it is lost.
        let account = stored::get(&self.db, number)
            .await?
            .ok_or_else(|| ProvisioningError::not_found("number", number.as_str()))?
            .number
            .account_name;
        accounts::fetch_many_for_update(&mut tx, &[&account]).await?;
        let record = stored::fetch_for_update(&mut tx, &[number])
            .await?
            .into_iter()
            .next()
            .filter(|r| r.number.account_name == account)
            .ok_or_else(|| ProvisioningError::not_found("number", number.as_str()))?;
        located(&record)?;
        let mut civic_address = None;
        if let Some(id) = &change.civic_address_id {
            let tenant = self.tenant(&record).await?.ok_or_else(|| {
                ProvisioningError::invalid(Violation::new(
                    "civicAddressId",
                    Code::TenantIdRequired,
                    format!(
                        "account {} has no Teams tenant ID, so it has no civic addresses",
                        record.number.account_name
                    ),
                ))
            })?;
            let address = consents::get_civic_address(&self.db, &tenant, id)
                .await?
                .ok_or_else(|| {
                    ProvisioningError::invalid(Violation::new(
                        "civicAddressId",
                        Code::CivicAddressNotFound,
                        format!(
                            "{id} is not one of tenant {tenant}'s civic addresses (Numbat knows those the consent pull recorded)"
                        ),
                    ))
                })?;
            if let Some(location) = &change.location_id {
                if !address.address.locations.iter().any(|l| &l.id == location) {
                    return Err(ProvisioningError::invalid(Violation::new(
                        "locationId",
                        Code::LocationNotFound,
                        format!("{location} is not a location of civic address {id}"),
                    )));
                }
            }
            civic_address = Some(address.address);
        }
        let mut new = record.number.clone();
        for service in Service::teams() {
            let Some(block) = new.services.teams(service).filter(|b| b.enabled) else {
                continue;
            };
            let mut block = block.clone();
            if let Some(config) = block.configuration.as_mut() {
                config.civic_address_id = change.civic_address_id.clone();
                config.location_id = change.location_id.clone();
                config.allow_tenant_address_update = change.allow_tenant_address_update;
            }
            new.services.set_teams(service, Some(block));
        }
        let written = self
            .write_one(&permit, &mut tx, new, precondition)
            .await
            .map_err(without_service_path)?;
        tx.commit().await?;
        let (service, location) = located(&written.record)?;
        let view = EmergencyLocationView {
            telephone_number: written.record.number.telephone_number.clone(),
            account_name: written.record.number.account_name.to_string(),
            service,
            location,
            civic_address,
            version: written.record.version,
        };
        Ok((written, view))
    }

    async fn tenant(
        &self,
        record: &NumberRecord,
    ) -> Result<Option<crate::domain::TenantId>, ProvisioningError> {
        Ok(accounts::get(&self.db, &record.number.account_name)
            .await?
            .and_then(|a| a.account.teams_tenant_id))
    }
}

/// The Teams service on `record` whose settings hold its location, and that location.
fn located(record: &NumberRecord) -> Result<(Service, EmergencyLocation), ProvisioningError> {
    Service::teams()
        .find_map(|service| {
            let block = record.number.services.teams(service).filter(|b| b.enabled)?;
            let config = block.configuration.as_ref()?;
            Some((
                service,
                EmergencyLocation {
                    civic_address_id: config.civic_address_id.clone(),
                    location_id: config.location_id.clone(),
                    allow_tenant_address_update: config.allow_tenant_address_update,
                },
            ))
        })
        .ok_or_else(|| {
            ProvisioningError::Conflict(
                Violation::new(
                    "telephoneNumber",
                    Code::ServiceNotOnNumber,
                    format!(
                        "{} has neither Operator Connect nor Teams Phone Mobile on, so it has no emergency location",
                        record.number.telephone_number
                    ),
                )
                .into(),
            )
        })
}

/// The number's rules name fields by their place in ACG's number; this door's body has them at
/// its top level.
fn without_service_path(error: ProvisioningError) -> ProvisioningError {
    let strip = |violations: Violations| -> Violations {
        let mut stripped = Violations::new();
        for violation in violations.iter() {
            let mut violation = violation.clone();
            if let Some((_, field)) = violation.field.rsplit_once(".configuration.") {
                violation.field = field.to_owned();
            }
            stripped.push(violation);
        }
        stripped
    };
    match error {
        ProvisioningError::Invalid(v) => ProvisioningError::Invalid(strip(v)),
        ProvisioningError::Conflict(v) => ProvisioningError::Conflict(strip(v)),
        other => other,
    }
}
