//! ACG's JSON shapes (2024-02-29-preview) and their translation to and from the domain.
//! Translation only: every rule lives in the core. The API and the CSV columns both speak it.
//! Depends on `domain` and `provisioning`'s records; never on a door.

mod capabilities;

pub use capabilities::{default_capability_plans, CapabilityPlan};

use crate::domain::account::AccountService;
use crate::domain::number::{Capability, TeamsNumberConfig, Usage};
use crate::domain::Code;
use crate::domain::{
    Account, AccountName, AccountServices, AssignmentStatus, CustomSipHeader, DirectRoutingConfig,
    Number, NumberServices, Service, SubdomainLabel, SubdomainToken, TeamsNumberService,
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

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountServicesIn {
    pub teams_tenant_id: Option<String>,
    pub teams_operator_connect: Option<SwitchIn>,
    pub teams_direct_routing: Option<DirectRoutingIn>,
    pub teams_phone_mobile: Option<SwitchIn>,
    pub zoom_phone_cloud_peering: Option<SwitchIn>,
    pub azure_operator_call_protection: Option<SwitchIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwitchIn {
    pub enabled: bool,
    #[serde(default)]
    pub sync_enabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectRoutingIn {
    pub enabled: bool,
    #[serde(default)]
    pub sync_enabled: bool,
    pub configuration: Option<DirectRoutingConfigIn>,
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
        let switch = |s: &Option<SwitchIn>| {
            s.as_ref().map(|s| AccountService {
                enabled: s.enabled,
                sync_enabled: s.sync_enabled,
            })
        };
        let mut services = AccountServices::default();
        services.set(
            Service::TeamsOperatorConnect,
            switch(&details.teams_operator_connect),
        );
        services.set(
            Service::TeamsPhoneMobile,
            switch(&details.teams_phone_mobile),
        );
        services.set(
            Service::ZoomPhoneCloudPeering,
            switch(&details.zoom_phone_cloud_peering),
        );
        services.set(
            Service::AzureOperatorCallProtection,
            details
                .azure_operator_call_protection
                .as_ref()
                .map(|s| AccountService {
                    enabled: s.enabled,
                    sync_enabled: false,
                }),
        );
        let mut direct_routing = None;
        if let Some(dr) = &details.teams_direct_routing {
            services.set(
                Service::TeamsDirectRouting,
                Some(AccountService {
                    enabled: dr.enabled,
                    sync_enabled: dr.sync_enabled,
                }),
            );
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

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberServicesIn {
    pub teams_operator_connect: Option<TeamsIn>,
    pub teams_direct_routing: Option<EnabledIn>,
    pub teams_phone_mobile: Option<TeamsIn>,
    pub zoom_phone_cloud_peering: Option<EnabledIn>,
    pub azure_operator_call_protection: Option<EnabledIn>,
}

#[derive(Debug, Deserialize)]
pub struct EnabledIn {
    pub enabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsIn {
    pub enabled: bool,
    pub assignment_status: Option<String>,
    pub configuration: Option<TeamsConfigIn>,
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

fn teams_in(v: &mut Violations, at: &str, teams: Option<TeamsIn>) -> Option<TeamsNumberService> {
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
    Some(TeamsNumberService {
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
        let services = NumberServices {
            teams_operator_connect: teams_in(
                &mut v,
                "serviceDetails.teamsOperatorConnect",
                details.teams_operator_connect,
            ),
            teams_phone_mobile: teams_in(
                &mut v,
                "serviceDetails.teamsPhoneMobile",
                details.teams_phone_mobile,
            ),
            teams_direct_routing: details.teams_direct_routing.map(|s| s.enabled),
            zoom_phone_cloud_peering: details.zoom_phone_cloud_peering.map(|s| s.enabled),
            azure_operator_call_protection: details
                .azure_operator_call_protection
                .map(|s| s.enabled),
        };
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

fn teams_out(teams: &TeamsNumberService) -> serde_json::Value {
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
        let s = &number.services;
        let mut details = serde_json::Map::new();
        if let Some(t) = &s.teams_operator_connect {
            details.insert("teamsOperatorConnect".into(), teams_out(t));
        }
        if let Some(enabled) = s.teams_direct_routing {
            details.insert("teamsDirectRouting".into(), json!({ "enabled": enabled }));
        }
        if let Some(t) = &s.teams_phone_mobile {
            details.insert("teamsPhoneMobile".into(), teams_out(t));
        }
        if let Some(enabled) = s.zoom_phone_cloud_peering {
            details.insert(
                "zoomPhoneCloudPeering".into(),
                json!({ "enabled": enabled }),
            );
        }
        if let Some(enabled) = s.azure_operator_call_protection {
            details.insert(
                "azureOperatorCallProtection".into(),
                json!({ "enabled": enabled }),
            );
        }
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
