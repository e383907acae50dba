//! Direct Routing onboarding, for one account: its two customer domains with the TXT records
//! Numbat's DNS responder serves for them and their status, and the steps its customer's
//! Microsoft 365 admin takes, written for that account (the PowerShell lines ready to paste).
//! A read: it depends on the account and the deployment settings, and changes nothing.

use super::{Actor, Provisioning, ProvisioningError};
use crate::domain::{AccountName, Code, CustomerDomain, Service, SubdomainStatus, Violation};
use serde::Serialize;

/// What an account's customer needs to set up Direct Routing, and how far it has got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Onboarding {
    pub account_name: String,
    /// The customer's Microsoft 365 tenant, when the account names it.
    pub teams_tenant_id: Option<String>,
    /// Whether Numbat's DNS responder answers both records with the account's tokens.
    pub subdomain_status: SubdomainStatus,
    /// One domain per region, in region order.
    pub domains: Vec<OnboardingDomain>,
    pub steps: Vec<OnboardingStep>,
}

/// A customer domain and the TXT record that proves it is the customer's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingDomain {
    pub region: u8,
    /// `<label>.1r<region>.<base>`: the name the customer adds in Microsoft 365, and the TXT
    /// record's name.
    pub domain: String,
    /// The TXT record's value: the token Microsoft 365 gave the customer for this domain.
    pub txt_value: String,
}

/// One step, in order. `done` is what Numbat can see (`None`: it happens in the customer's
/// tenant, out of Numbat's sight).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingStep {
    pub title: String,
    pub detail: String,
    pub done: Option<bool>,
    /// PowerShell (MicrosoftTeams module) to run as written, when the step has any.
    pub powershell: Option<String>,
}

impl Provisioning {
    /// The onboarding of `name`'s Direct Routing customer. A 404 when there is no such account;
    /// a conflict, naming the rule, when the account has no Direct Routing or the deployment has
    /// no base domain yet (without one the domains have no names).
    pub async fn direct_routing_onboarding(
        &self,
        actor: &Actor,
        name: &AccountName,
    ) -> Result<Onboarding, ProvisioningError> {
        let record = self.get_account(actor, name).await?;
        let enabled = record
            .account
            .services
            .get(Service::TeamsDirectRouting)
            .is_some_and(|s| s.enabled);
        if !enabled {
            return Err(ProvisioningError::Conflict(
                Violation::new(
                    "serviceDetails.teamsDirectRouting",
                    Code::ServiceNotEnabledOnAccount,
                    format!(
                        "account {} has no Direct Routing: there is nothing to onboard",
                        name.as_str()
                    ),
                )
                .into(),
            ));
        }
        let Some(dr) = record.account.direct_routing.as_ref() else {
            return Err(ProvisioningError::Conflict(
                Violation::new(
                    "serviceDetails.teamsDirectRouting.configuration.subdomain",
                    Code::Required,
                    format!(
                        "account {} has no Direct Routing subdomain yet: give it a label and the customer's two TXT tokens first",
                        name.as_str()
                    ),
                )
                .into(),
            ));
        };
        let settings = self.settings_unchecked().await?;
        let Some(base) = settings.base_domain else {
            return Err(ProvisioningError::Conflict(
                Violation::new(
                    "baseDomain",
                    Code::Required,
                    "the deployment's base domain is not set (deployment settings): the customer domains have no names until it is",
                )
                .into(),
            ));
        };
        let label = dr.subdomain.as_str();
        let domains: Vec<OnboardingDomain> = [
            (1, dr.region1_token.as_str()),
            (2, dr.region2_token.as_str()),
        ]
        .into_iter()
        .map(|(region, token)| OnboardingDomain {
            region,
            domain: CustomerDomain {
                label,
                region,
                base: base.as_str(),
            }
            .to_string(),
            txt_value: token.to_owned(),
        })
        .collect();
        let steps = steps(label, &domains, record.subdomain_status);
        Ok(Onboarding {
            account_name: name.as_str().to_owned(),
            teams_tenant_id: record.account.teams_tenant_id.map(|t| t.to_string()),
            subdomain_status: record.subdomain_status,
            domains,
            steps,
        })
    }
}

/// The steps of Microsoft's sequence for a carrier's derived trunks, for this account.
fn steps(
    label: &str,
    domains: &[OnboardingDomain],
    status: SubdomainStatus,
) -> Vec<OnboardingStep> {
    let [first, second] = [&domains[0].domain, &domains[1].domain];
    let route = format!("Numbat-{label}");
    let provisioned = status == SubdomainStatus::Provisioned;
    vec![
        OnboardingStep {
            title: "Add both domains in Microsoft 365".into(),
            detail: format!(
                "In the Microsoft 365 admin center (Settings, Domains, Add domain), a Global Administrator adds {first} and {second}. For each, choose to verify with a TXT record, and do not finish the verification yet."
            ),
            done: None,
            powershell: None,
        },
        OnboardingStep {
            title: "Give the operator the two TXT values".into(),
            detail: format!(
                "They are recorded on this account: {first} has {}, and {second} has {}. If Microsoft 365 shows other values, send those, and the account is updated.",
                domains[0].txt_value, domains[1].txt_value
            ),
            done: Some(true),
            powershell: None,
        },
        OnboardingStep {
            title: "Wait until the TXT records answer".into(),
            detail: if provisioned {
                "Numbat's DNS answers both records with these values.".into()
            } else if status == SubdomainStatus::Inconsistent {
                "Numbat's DNS answers something else for these names (another account may hold the label): the operator must sort it out before verification can succeed.".into()
            } else {
                "Numbat's DNS does not answer both records yet: wait for this step before verifying.".into()
            },
            done: Some(provisioned),
            powershell: None,
        },
        OnboardingStep {
            title: "Finish verifying both domains".into(),
            detail: format!("In the Microsoft 365 admin center, verify {first} and {second}."),
            done: None,
            powershell: None,
        },
        OnboardingStep {
            title: "Activate both domains".into(),
            detail: format!(
                "Create at least one user or resource account with a Teams licence in each domain, for example one ending @{first} and one ending @{second}. A domain with no such account carries no calls."
            ),
            done: None,
            powershell: None,
        },
        OnboardingStep {
            title: "Route calls over both domains".into(),
            detail: format!(
                "A PSTN usage, a voice route whose gateways are both domains, and a voice routing policy, all named {route}. The Teams admin center cannot add these gateways: use PowerShell."
            ),
            done: None,
            powershell: Some(format!(
                "Set-CsOnlinePstnUsage -Identity Global -Usage @{{Add=\"{route}\"}}\n\
                 New-CsOnlineVoiceRoute -Identity \"{route}\" -NumberPattern \".*\" -OnlinePstnGatewayList {first}, {second} -Priority 1 -OnlinePstnUsages \"{route}\"\n\
                 New-CsOnlineVoiceRoutingPolicy -Identity \"{route}\" -OnlinePstnUsages \"{route}\""
            )),
        },
        OnboardingStep {
            title: "Give users their numbers".into(),
            detail: format!(
                "Once the operator has provisioned the numbers on this account, assign each user a number and the {route} policy (replace the user and the number)."
            ),
            done: None,
            powershell: Some(format!(
                "Set-CsPhoneNumberAssignment -Identity user@example.com -PhoneNumber +15550100000 -PhoneNumberType DirectRouting\n\
                 Grant-CsOnlineVoiceRoutingPolicy -Identity user@example.com -PolicyName \"{route}\""
            )),
        },
    ]
}
