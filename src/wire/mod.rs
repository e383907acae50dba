//! ACG's JSON shapes (2024-02-29-preview) and their translation to and from the domain.
//! Translation only: every rule lives in the core. The API and the CSV columns both speak it.
//! Depends on `domain` and `provisioning`'s records; never on a door.

mod capabilities;

pub use capabilities::{default_capability_plans, CapabilityPlan};

use crate::domain::account::AccountService;
use crate::domain::number::{Capability, TeamsNumberConfig, Usage};
use crate::domain::service::{read_service_map, ServiceMap, ServiceMapVisitor};
use crate::domain::Code;
use crate::domain::{
    Account, AccountName, AccountServices, AssignmentStatus, CustomSipHeader, DirectRoutingConfig,
    Number, NumberService, NumberServices, Service, SubdomainLabel, SubdomainToken,
    TelephoneNumber, TenantId, Violation, Violations,
};
use crate::provisioning::{AccountRecord, NumberRecord, ProvisioningIssue};
use serde::{Deserialize, Serialize};

// ---- accounts, in ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountIn {
    pub name: String,
    pub correlation_id: Option<String>,
    pub service_details: Option<AccountServicesIn>,
}

/// An account's `serviceDetails`: the Teams tenant and one block per service, keyed by the
/// service table's wire names (a key that names no service is ignored, as ACG does).
#[derive(Debug, Default)]
pub struct AccountServicesIn {
    pub teams_tenant_id: Option<String>,
    services: [Option<AccountServiceIn>; Service::COUNT],
}

impl AccountServicesIn {
    /// The block given for `service`, if any.
    pub fn get(&self, service: Service) -> Option<&AccountServiceIn> {
        self.services[service.index()].as_ref()
    }
}

/// One service of an account. Only Direct Routing's block carries a configuration (its
/// subdomain); any other service's `configuration` is ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountServiceIn {
    pub enabled: bool,
    #[serde(default)]
    pub sync_enabled: bool,
    #[serde(default)]
    pub configuration: Option<DirectRoutingConfigIn>,
}

/// A service's block without a configuration.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SwitchIn {
    enabled: bool,
    #[serde(default)]
    sync_enabled: bool,
}

impl<'de> Deserialize<'de> for AccountServicesIn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ServiceMapVisitor::<Self>::new())
    }
}

impl ServiceMap for AccountServicesIn {
    fn read<'de, A: serde::de::MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        let mut teams_tenant_id = None;
        let services = read_service_map(
            map,
            |service, map| {
                // Only Direct Routing's block carries a configuration.
                if service == Service::TeamsDirectRouting {
                    return map.next_value();
                }
                Ok(map
                    .next_value::<Option<SwitchIn>>()?
                    .map(|s| AccountServiceIn {
                        enabled: s.enabled,
                        sync_enabled: s.sync_enabled,
                        configuration: None,
                    }))
            },
            |key, map| {
                if key != "teamsTenantId" {
                    return map.next_value::<serde::de::IgnoredAny>().map(drop);
                }
                if teams_tenant_id.is_some() {
                    return Err(serde::de::Error::duplicate_field("teamsTenantId"));
                }
                teams_tenant_id = Some(map.next_value::<Option<String>>()?);
                Ok(())
            },
        )?;
        Ok(AccountServicesIn {
            teams_tenant_id: teams_tenant_id.flatten(),
            services,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectRoutingConfigIn {
    pub call_screening: Option<bool>,
    pub subdomain: String,
    pub subdomain_tokens: SubdomainTokensIn,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubdomainTokensIn {
    pub region1_token: String,
    pub region2_token: String,
}

fn parse_field<T>(
    violations: &mut Violations,
    field: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, Violation>,
) -> Option<T> {
    violations.parse(field, raw, parse)
}

impl AccountIn {
    /// The domain account, or every field that does not parse. `path_name` is the name in the URL.
    pub fn into_domain(self, path_name: &AccountName) -> Result<Account, Violations> {
        let mut v = Violations::new();
        if self.name != path_name.as_str() {
            v.push(Violation::new(
                "name",
                Code::NameMismatch,
                format!("must be {path_name}, the account name in the path"),
            ));
        }
        let details = self.service_details.unwrap_or_default();
        let tenant = details.teams_tenant_id.as_deref().and_then(|raw| {
            parse_field(&mut v, "serviceDetails.teamsTenantId", raw, TenantId::parse)
        });
        let mut services = AccountServices::default();
        for service in Service::ALL {
            // A service without a sync switch (always provisioned upstream) ignores one given.
            services.set(
                service,
                details.get(service).map(|s| AccountService {
                    enabled: s.enabled,
                    sync_enabled: s.sync_enabled && service.has_sync_switch(),
                }),
            );
        }
        let mut direct_routing = None;
        if let Some(dr) = details.get(Service::TeamsDirectRouting) {
            if let Some(config) = &dr.configuration {
                const AT: &str = "serviceDetails.teamsDirectRouting.configuration";
                let subdomain = parse_field(
                    &mut v,
                    &format!("{AT}.subdomain"),
                    &config.subdomain,
                    SubdomainLabel::parse,
                );
                let region1 = parse_field(
                    &mut v,
                    &format!("{AT}.subdomainTokens.region1Token"),
                    &config.subdomain_tokens.region1_token,
                    SubdomainToken::parse,
                );
                let region2 = parse_field(
                    &mut v,
                    &format!("{AT}.subdomainTokens.region2Token"),
                    &config.subdomain_tokens.region2_token,
                    SubdomainToken::parse,
                );
                if let (Some(subdomain), Some(region1_token), Some(region2_token)) =
                    (subdomain, region1, region2)
                {
                    direct_routing = Some(DirectRoutingConfig {
                        call_screening: config.call_screening.unwrap_or(true),
                        subdomain,
                        region1_token,
                        region2_token,
                    });
                }
            }
        }
        v.into_result(Account {
            name: path_name.clone(),
            correlation_id: self.correlation_id,
            teams_tenant_id: tenant,
            services,
            direct_routing,
        })
    }
}

// ---- accounts, out ----

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub service_details: serde_json::Map<String, serde_json::Value>,
    pub service_provisioning_status: &'static str,
    pub service_provisioning_errors: Vec<IssueOut>,
}

#[derive(Debug, Serialize)]
pub struct IssueOut {
    pub code: String,
    pub message: String,
}

fn issues(found: &[ProvisioningIssue]) -> Vec<IssueOut> {
    found
        .iter()
        .map(|i| IssueOut {
            code: i.code.clone(),
            message: i.message.clone(),
        })
        .collect()
}

impl From<&AccountRecord> for AccountOut {
    fn from(record: &AccountRecord) -> Self {
        use serde_json::{json, Value};
        let account = &record.account;
        let mut details = serde_json::Map::new();
        if let Some(tenant) = &account.teams_tenant_id {
            details.insert("teamsTenantId".into(), Value::String(tenant.to_string()));
        }
        for service in Service::ALL {
            let Some(block) = account.services.get(service) else {
                continue;
            };
            let mut out =
                json!({ "enabled": block.enabled, "numberCount": record.usage().of(service) });
            if service.has_sync_switch() {
                out["syncEnabled"] = Value::Bool(block.sync_enabled);
            }
            if service == Service::TeamsDirectRouting {
                if let Some(config) = &account.direct_routing {
                    out["configuration"] = json!({
                        "callScreening": config.call_screening,
                        "subdomain": config.subdomain.as_str(),
                        "subdomainTokens": {
                            "region1Token": config.region1_token.as_str(),
                            "region2Token": config.region2_token.as_str(),
                        },
                    });
                }
                out["subdomainStatus"] = Value::String(record.subdomain_status.as_str().into());
            }
            details.insert(service.wire_name().into(), out);
        }
        Self {
            name: account.name.to_string(),
            correlation_id: account.correlation_id.clone(),
            service_details: details,
            service_provisioning_status: record.provisioning_status.as_str(),
            service_provisioning_errors: issues(&record.provisioning_errors),
        }
    }
}

// ---- numbers, in ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberIn {
    pub telephone_number: String,
    pub account_name: String,
    pub service_details: NumberServicesIn,
    pub configuration: Option<NumberConfigurationIn>,
}

/// A number's `serviceDetails`: one block per service, keyed by the service table's wire
/// names. A Teams service's block may carry an assignment and a configuration; any other's
/// is read for `enabled` only. A key that names no service is ignored.
#[derive(Debug, Default)]
pub struct NumberServicesIn([Option<NumberServiceIn>; Service::COUNT]);

impl NumberServicesIn {
    pub fn set(&mut self, service: Service, block: Option<NumberServiceIn>) {
        self.0[service.index()] = block;
    }
}

#[derive(Debug, Deserialize)]
struct EnabledIn {
    enabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberServiceIn {
    pub enabled: bool,
    pub assignment_status: Option<String>,
    pub configuration: Option<TeamsConfigIn>,
}

impl<'de> Deserialize<'de> for NumberServicesIn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ServiceMapVisitor::<Self>::new())
    }
}

impl ServiceMap for NumberServicesIn {
    fn read<'de, A: serde::de::MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        let slots = read_service_map(
            map,
            |service, map| {
                if service.traits().teams_tenant {
                    return map.next_value();
                }
                Ok(map
                    .next_value::<Option<EnabledIn>>()?
                    .map(|s| NumberServiceIn {
                        enabled: s.enabled,
                        assignment_status: None,
                        configuration: None,
                    }))
            },
            |_, map| map.next_value::<serde::de::IgnoredAny>().map(drop),
        )?;
        Ok(NumberServicesIn(slots))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsConfigIn {
    pub usage: String,
    pub choosable_capabilities: Vec<String>,
    #[serde(default)]
    pub additional_usages: Vec<String>,
    pub civic_address_id: Option<String>,
    pub location_id: Option<String>,
    #[serde(default)]
    pub allow_tenant_address_update: bool,
    pub displayed_country_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberConfigurationIn {
    pub custom_sip_header: Option<String>,
}

fn service_in(
    v: &mut Violations,
    at: &str,
    teams: Option<NumberServiceIn>,
) -> Option<NumberService> {
    let teams = teams?;
    let assignment_status = teams.assignment_status.as_deref().and_then(|raw| {
        v.parse(
            &format!("{at}.assignmentStatus"),
            raw,
            AssignmentStatus::parse,
        )
    });
    let configuration = teams.configuration.and_then(|c| {
        let usage = v.parse(&format!("{at}.configuration.usage"), &c.usage, Usage::parse)?;
        let capabilities: Vec<Capability> = c
            .choosable_capabilities
            .iter()
            .enumerate()
            .filter_map(|(i, raw)| {
                v.parse(
                    &format!("{at}.configuration.choosableCapabilities[{i}]"),
                    raw,
                    Capability::parse,
                )
            })
            .collect();
        let additional: Vec<Usage> = c
            .additional_usages
            .iter()
            .enumerate()
            .filter_map(|(i, raw)| {
                v.parse(
                    &format!("{at}.configuration.additionalUsages[{i}]"),
                    raw,
                    Usage::parse,
                )
            })
            .collect();
        Some(TeamsNumberConfig {
            usage,
            choosable_capabilities: capabilities,
            additional_usages: additional,
            civic_address_id: c.civic_address_id,
            location_id: c.location_id,
            allow_tenant_address_update: c.allow_tenant_address_update,
            displayed_country_code: c.displayed_country_code,
        })
    });
    Some(NumberService {
        enabled: teams.enabled,
        assignment_status,
        configuration,
    })
}

impl NumberIn {
    /// The domain number, or every field that does not parse.
    pub fn into_domain(self) -> Result<Number, Violations> {
        let mut v = Violations::new();
        let telephone_number = v.parse(
            "telephoneNumber",
            &self.telephone_number,
            TelephoneNumber::parse,
        );
        let account_name = v.parse("accountName", &self.account_name, AccountName::parse);
        let details = self.service_details;
        let mut services = NumberServices::default();
        for (service, block) in Service::ALL.into_iter().zip(details.0) {
            let at = format!("serviceDetails.{}", service.wire_name());
            services.set(service, service_in(&mut v, &at, block));
        }
        let custom_sip_header = self
            .configuration
            .and_then(|c| c.custom_sip_header)
            .and_then(|raw| {
                v.parse(
                    "configuration.customSipHeader",
                    &raw,
                    CustomSipHeader::parse,
                )
            });
        match (telephone_number, account_name) {
            (Some(telephone_number), Some(account_name)) if v.is_empty() => Ok(Number {
                telephone_number,
                account_name,
                services,
                custom_sip_header,
            }),
            _ => Err(v),
        }
    }
}

// ---- numbers, out ----

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberOut {
    pub telephone_number: String,
    pub account_name: String,
    pub service_details: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<serde_json::Value>,
    pub service_provisioning_status: &'static str,
    pub service_provisioning_errors: Vec<IssueOut>,
}

/// A service's block: `enabled`, and a Teams service's assignment and configuration.
fn service_out(teams: &NumberService) -> serde_json::Value {
    use serde_json::json;
    let mut out = json!({ "enabled": teams.enabled });
    if let Some(status) = teams.assignment_status {
        out["assignmentStatus"] = json!(status);
    }
    if let Some(c) = &teams.configuration {
        let mut config = json!({
            "usage": c.usage.as_str(),
            "choosableCapabilities": c.choosable_capabilities.iter().map(Capability::as_str).collect::<Vec<_>>(),
            "allowTenantAddressUpdate": c.allow_tenant_address_update,
        });
        if !c.additional_usages.is_empty() {
            config["additionalUsages"] = json!(c
                .additional_usages
                .iter()
                .map(|u| u.as_str())
                .collect::<Vec<_>>());
        }
        for (key, value) in [
            ("civicAddressId", &c.civic_address_id),
            ("locationId", &c.location_id),
            ("displayedCountryCode", &c.displayed_country_code),
        ] {
            if let Some(value) = value {
                config[key] = json!(value);
            }
        }
        out["configuration"] = config;
    }
    out
}

impl From<&NumberRecord> for NumberOut {
    fn from(record: &NumberRecord) -> Self {
        use serde_json::json;
        let number = &record.number;
        let details = number
            .services
            .mentioned()
            .map(|(service, block)| (service.wire_name().to_owned(), service_out(block)))
            .collect();
        Self {
            telephone_number: number.telephone_number.to_string(),
            account_name: number.account_name.to_string(),
            service_details: details,
            configuration: number
                .custom_sip_header
                .as_ref()
                .map(|h| json!({ "customSipHeader": h.as_str() })),
            service_provisioning_status: record.provisioning_status.as_str(),
            service_provisioning_errors: issues(&record.provisioning_errors),
        }
    }
}

// ---- batches ----

#[derive(Debug, Deserialize)]
pub struct BatchIn {
    pub numbers: Vec<NumberIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberIdentifierIn {
    pub telephone_number: String,
}

#[derive(Debug, Deserialize)]
pub struct BatchDeleteIn {
    pub numbers: Vec<NumberIdentifierIn>,
}

#[derive(Debug, Serialize)]
pub struct BatchOut {
    pub numbers: Vec<NumberOut>,
}

/// A page of a list, with the link to the next one when there is more.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub value: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}
