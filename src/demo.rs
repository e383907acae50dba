//! `numbat demo-data`: a few Operator Connect consents, a customer account linked to one of
//! them and that customer's civic addresses, so a new deployment (or a browser test) has
//! something on every page before sync runs. Written through the provisioning core, audited as
//! a command-line change; running it again changes nothing that is already there.

use crate::domain::consent::{
    ConsentStatus, Contact, RequestForInformation, TeamsCivicAddress, TeamsLocation,
    ValidationStatus,
};
use crate::domain::{Account, AccountName, AccountServices, Service, TenantId};
use crate::provisioning::{Actor, Door, Precondition, Provisioning, ProvisioningError, Role};
use serde_json::json;

/// The consents recorded: (tenant, company, contact, linked account).
const CONSENTS: [(&str, &str, &str, Option<&str>); 3] = [
    (
        "3f2b8c1a-5d4e-4f6a-9b7c-0e1d2c3b4a59",
        "Fabrikam Ltd",
        "Ravi Patel",
        Some("fabrikam"),
    ),
    (
        "7a9c0e2d-1b3f-4c5d-8e6f-a0b1c2d3e4f5",
        "Contoso Pharmaceuticals",
        "Mia Chen",
        None,
    ),
    (
        "c4d5e6f7-0a1b-4c2d-9e3f-5a6b7c8d9e0f",
        "Northwind Traders",
        "Sam Okafor",
        None,
    ),
];

/// Records the demonstration data; returns what it wrote.
pub async fn load(core: &Provisioning, operator: &str) -> Result<Vec<String>, ProvisioningError> {
    let actor = Actor::new(operator, &[Role::Admin], Door::Cli);
    let mut wrote = Vec::new();
    for (tenant, company, contact, account) in CONSENTS {
        let tenant_id = TenantId::parse(tenant).expect("demo tenant IDs are valid");
        if let Some(account) = account {
            let name = AccountName::parse(account).expect("demo account names are valid");
            let linked = Account {
                teams_tenant_id: Some(tenant_id.clone()),
                services: AccountServices::default().with(
                    Service::TeamsOperatorConnect,
                    true,
                    false,
                ),
                ..Account::named(name)
            };
            match core
                .put_account(&actor, linked, Precondition::IF_ABSENT)
                .await
            {
                Ok(_) => wrote.push(format!("account {account}")),
                Err(ProvisioningError::PreconditionFailed { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        core.record_rfi(&actor, consent(tenant, company, contact, account))
            .await?;
        wrote.push(format!("request for information from {company}"));
    }
    let (tenant_id, address) = civic_address();
    core.record_civic_address(&actor, &tenant_id, address)
        .await?;
    wrote.push("civic address of Fabrikam Ltd with 2 locations".to_owned());
    Ok(wrote)
}

/// The demonstration consents, as Operator Connect would report them (the emulator's default).
pub fn consents() -> Vec<RequestForInformation> {
    CONSENTS
        .iter()
        .map(|(tenant, company, contact, account)| consent(tenant, company, contact, *account))
        .collect()
}

/// The consent of one of the demonstration tenants.
fn consent(
    tenant: &str,
    company: &str,
    contact: &str,
    account: Option<&str>,
) -> RequestForInformation {
    let tenant_id = TenantId::parse(tenant).expect("demo tenant IDs are valid");
    let email = format!(
        "{}@{}.example",
        contact.split(' ').next().unwrap_or("admin").to_lowercase(),
        company
            .split(' ')
            .next()
            .unwrap_or("company")
            .to_lowercase()
    );
    RequestForInformation {
        id: format!("rfi-{}", &tenant[..8]),
        tenant_id: tenant_id.clone(),
        account_name: account.map(|a| AccountName::parse(a).expect("valid")),
        product_context: "teams".to_owned(),
        operator_id: None,
        status: ConsentStatus::Active,
        consented_on: Some("2026-11-02T09:30:00Z".to_owned()),
        last_modified_on: Some("2026-11-02T09:30:00Z".to_owned()),
        consented_countries: vec!["GB".to_owned(), "IE".to_owned()],
        contacts: vec![Contact {
            full_name: contact.to_owned(),
            email,
            telephone_number: Some("+442079460999".to_owned()),
            company_name: Some(company.to_owned()),
            company_size: Some("250-1000".to_owned()),
        }],
        customer_relationship: None,
    }
}

/// Fabrikam's civic address with two locations.
pub fn civic_address() -> (TenantId, TeamsCivicAddress) {
    let (tenant, ..) = CONSENTS[0];
    let tenant_id = TenantId::parse(tenant).expect("valid");
    let details = json!({
        "houseNumber": "1", "streetName": "Harbour Exchange Square", "city": "London",
        "postalCode": "E14 9GE", "country": "GB", "companyName": "Fabrikam Ltd",
        "description": "Head office"
    });
    let address = TeamsCivicAddress {
        id: "civic-fabrikam-hq".to_owned(),
        tenant_id: Some(tenant_id.clone()),
        default_location_id: "loc-fabrikam-hq-1".to_owned(),
        validation_status: Some(ValidationStatus::Validated),
        details: details.as_object().cloned().expect("an object"),
        locations: vec![
            TeamsLocation {
                id: "loc-fabrikam-hq-1".to_owned(),
                civic_address_id: "civic-fabrikam-hq".to_owned(),
                description: Some("Floor 1, reception".to_owned()),
                additional_info: None,
                is_default: Some(true),
                elin: Some("FAB-HQ-1".to_owned()),
            },
            TeamsLocation {
                id: "loc-fabrikam-hq-4".to_owned(),
                civic_address_id: "civic-fabrikam-hq".to_owned(),
                description: Some("Floor 4, trading".to_owned()),
                additional_info: Some("East wing".to_owned()),
                is_default: Some(false),
                elin: Some("FAB-HQ-4".to_owned()),
            },
        ],
    };
    (tenant_id, address)
}
