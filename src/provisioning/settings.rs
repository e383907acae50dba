//! Deployment settings: the custom SIP header's name, the base domain and the quarantine of
//! released numbers.

use super::{
    audit_event, now, to_json, Actor, Change, Permission, Provisioning, ProvisioningError,
};
use crate::domain::rules::MAX_CUSTOMER_FQDN;
use crate::domain::Code;
use crate::domain::{BaseDomain, QuarantineDays, Service, SipHeaderName, Violation, Violations};
use crate::store::accounts::{self, AccountFilter};
use crate::store::{audit, settings};
use serde::Serialize;

const SIP_HEADER_NAME: &str = "sipHeaderName";
const BASE_DOMAIN: &str = "baseDomain";
const QUARANTINE_DAYS: &str = "quarantineDays";
const LAUNCHED: &str = "launchedServices";

/// What holds for the whole deployment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSettings {
    /// The name of the header that carries each number's custom value (one per deployment).
    pub sip_header_name: Option<SipHeaderName>,
    /// Direct Routing uses `1r1.<base>` and `1r2.<base>` under it.
    pub base_domain: Option<BaseDomain>,
    /// How long a number an account released is held back from every other account.
    pub quarantine_days: QuarantineDays,
    /// Services marked launched (live): the portal shows their numbers read-only
    /// ([`super::live`]). Only Operator Connect and Teams Phone Mobile can be.
    pub launched: Vec<Service>,
}

impl DeploymentSettings {
    /// The per-region Direct Routing domains, when the base domain is set.
    pub fn direct_routing_domains(&self) -> Option<[String; 2]> {
        self.base_domain
            .as_ref()
            .map(|b| [b.region_domain(1), b.region_domain(2)])
    }
}

/// The deployment's quarantine, read in the transaction of the release it applies to.
pub(super) async fn quarantine_days_in(
    tx: &mut crate::store::Tx,
) -> Result<QuarantineDays, ProvisioningError> {
    match settings::value_in(tx, QUARANTINE_DAYS).await? {
        None => Ok(QuarantineDays::DEFAULT),
        Some(value) => QuarantineDays::parse(&value).map_err(|v| {
            crate::store::StoreError::Corrupt(format!("setting {QUARANTINE_DAYS}: {v}")).into()
        }),
    }
}

impl Provisioning {
    pub async fn settings(&self, actor: &Actor) -> Result<DeploymentSettings, ProvisioningError> {
        actor.permit(Permission::Read)?;
        self.settings_unchecked().await
    }

    /// The settings, for rules inside the core (the caller's role was checked by the command).
    pub(super) async fn settings_unchecked(&self) -> Result<DeploymentSettings, ProvisioningError> {
        let mut found = DeploymentSettings::default();
        for (key, value) in settings::all(&self.db).await? {
            let corrupt =
                |v: Violation| crate::store::StoreError::Corrupt(format!("setting {key}: {v}"));
            match key.as_str() {
                SIP_HEADER_NAME => {
                    found.sip_header_name = Some(SipHeaderName::parse(&value).map_err(corrupt)?)
                }
                BASE_DOMAIN => {
                    found.base_domain = Some(BaseDomain::parse(&value).map_err(corrupt)?)
                }
                QUARANTINE_DAYS => {
                    found.quarantine_days = QuarantineDays::parse(&value).map_err(corrupt)?
                }
                LAUNCHED => {
                    found.launched =
                        super::live::parse_launched(value.split(',').filter(|n| !n.is_empty()))
                            .map_err(|v| {
                                crate::store::StoreError::Corrupt(format!("setting {key}: {v}"))
                            })?
                }
                _ => {}
            }
        }
        Ok(found)
    }

    /// Replaces the settings (Admin only). A base domain that would make an existing Direct
    /// Routing customer's domain too long is refused, naming the accounts.
    pub async fn put_settings(
        &self,
        actor: &Actor,
        new: DeploymentSettings,
    ) -> Result<DeploymentSettings, ProvisioningError> {
        let permit = actor.permit(Permission::Administer)?;
        if let Some(service) = new.launched.iter().find(|s| !super::live::can_launch(**s)) {
            return Err(ProvisioningError::invalid(Violation::new(
                "launchedServices",
                Code::InvalidValue,
                format!(
                    "{} cannot be launched: only Operator Connect and Teams Phone Mobile can",
                    service.label()
                ),
            )));
        }
        let mut new = new;
        new.launched.sort_by_key(|s| s.index());
        new.launched.dedup();
        let current = self.settings_unchecked().await?;
        if let Some(base) = new
            .base_domain
            .as_ref()
            .filter(|b| Some(*b) != current.base_domain.as_ref())
        {
            let mut violations = Violations::new();
            let filter = AccountFilter::default();
            let mut after = None;
            loop {
                let page = accounts::list(&self.db, &filter, after.as_ref(), 500).await?;
                for record in &page {
                    if let Some(config) = &record.account.direct_routing {
                        let fqdn = format!("{}.{}", config.subdomain, base.region_domain(1));
                        if fqdn.len() > MAX_CUSTOMER_FQDN {
                            violations.push(Violation::new(
                                "baseDomain",
                                Code::DomainTooLong,
                                format!(
                                    "would make account {}'s domain {fqdn} longer than {MAX_CUSTOMER_FQDN} characters",
                                    record.account.name
                                ),
                            ));
                        }
                    }
                }
                match page.last() {
                    Some(last) if page.len() == 500 => after = Some(last.account.name.clone()),
                    _ => break,
                }
            }
            if !violations.is_empty() {
                return Err(ProvisioningError::Invalid(violations));
            }
        }
        if new == current {
            return Ok(current);
        }
        let at = now();
        let mut tx = self.begin(&permit).await?;
        settings::put(
            &mut tx,
            SIP_HEADER_NAME,
            new.sip_header_name.as_ref().map(|n| n.as_str()),
            &at,
        )
        .await?;
        settings::put(
            &mut tx,
            BASE_DOMAIN,
            new.base_domain.as_ref().map(|b| b.as_str()),
            &at,
        )
        .await?;
        let days = new.quarantine_days.get().to_string();
        settings::put(&mut tx, QUARANTINE_DAYS, Some(&days), &at).await?;
        let launched: Vec<&str> = new.launched.iter().map(|s| s.wire_name()).collect();
        settings::put(&mut tx, LAUNCHED, Some(&launched.join(",")), &at).await?;
        let change = Change {
            action: "replace",
            resource_type: "settings",
            key: "deployment",
            version: None,
            before: Some(to_json(&current)),
            after: Some(to_json(&new)),
            account: None,
        };
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        Ok(new)
    }
}
