//! A customer account: which services it has, its Teams tenant and Direct Routing set-up.

use super::names::{AccountName, SubdomainLabel, SubdomainToken, TenantId};
use super::service::Service;
use serde::{Deserialize, Serialize};

/// What a caller says an account should be. Read-only facts (counts, statuses, version) live
/// beside it in the store's record, never here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub name: AccountName,
    pub correlation_id: Option<String>,
    pub teams_tenant_id: Option<TenantId>,
    pub services: AccountServices,
    pub direct_routing: Option<DirectRoutingConfig>,
}

impl Account {
    pub const CORRELATION_ID_MAX_LEN: usize = 256;

    /// An account with no services and no tenant.
    pub fn named(name: AccountName) -> Self {
        Self {
            name,
            correlation_id: None,
            teams_tenant_id: None,
            services: AccountServices::default(),
            direct_routing: None,
        }
    }

    pub fn has_enabled(&self, service: Service) -> bool {
        self.services.get(service).is_some_and(|s| s.enabled)
    }

    /// Whether changes to numbers using `service` are pushed to the service's platform.
    pub fn syncs(&self, service: Service) -> bool {
        use super::service::FlowThrough;
        match service.traits().flow_through {
            FlowThrough::NotSupported => false,
            FlowThrough::Automatic => self.has_enabled(service),
            FlowThrough::WhenSyncEnabled => self
                .services
                .get(service)
                .is_some_and(|s| s.enabled && s.sync_enabled),
        }
    }

    /// Whether any service of this account is provisioned upstream.
    pub fn syncs_anything(&self) -> bool {
        Service::ALL.into_iter().any(|s| self.syncs(s))
    }
}

/// One switch block per service; `None` when the caller did not mention the service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountServices(pub [Option<AccountService>; Service::COUNT]);

/// Written as ACG names them (`{"teamsDirectRouting": {"enabled": true, …}}`), mentioned ones only.
impl Serialize for AccountServices {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mentioned: Vec<_> = Service::ALL
            .into_iter()
            .filter_map(|s| self.get(s).map(|block| (s.wire_name(), block)))
            .collect();
        let mut map = serializer.serialize_map(Some(mentioned.len()))?;
        for (name, block) in mentioned {
            map.serialize_entry(name, &block)?;
        }
        map.end()
    }
}

impl AccountServices {
    pub fn get(&self, service: Service) -> Option<AccountService> {
        self.0[service.index()]
    }

    pub fn set(&mut self, service: Service, value: Option<AccountService>) {
        self.0[service.index()] = value;
    }

    pub fn with(mut self, service: Service, enabled: bool, sync_enabled: bool) -> Self {
        self.set(
            service,
            Some(AccountService {
                enabled,
                sync_enabled,
            }),
        );
        self
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountService {
    pub enabled: bool,
    /// Flow-through to the service's platform; always false where the service has no switch.
    pub sync_enabled: bool,
}

/// The account's Direct Routing settings: its subdomain label and the TXT tokens that prove it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectRoutingConfig {
    /// Caller ID screening; on unless turned off.
    pub call_screening: bool,
    pub subdomain: SubdomainLabel,
    pub region1_token: SubdomainToken,
    pub region2_token: SubdomainToken,
}

/// Where a resource stands with the platforms it is provisioned on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProvisioningStatus {
    #[default]
    Pending,
    Synced,
    Failed,
}

impl ProvisioningStatus {
    pub const ALL: [Self; 3] = [Self::Pending, Self::Synced, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Synced => "synced",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Whether the DNS records for a Direct Routing subdomain are in place.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SubdomainStatus {
    Provisioned,
    #[default]
    NotProvisioned,
    Inconsistent,
}

impl SubdomainStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioned => "provisioned",
            Self::NotProvisioned => "notProvisioned",
            Self::Inconsistent => "inconsistent",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Provisioned, Self::NotProvisioned, Self::Inconsistent]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}
