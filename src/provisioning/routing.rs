//! The routing decision for one number, read from the store: what the SIP edge would do.

use super::{Actor, Permission, Provisioning, ProvisioningError};
use crate::domain::TelephoneNumber;
use crate::routing::{self, Arrival, Decision, Direction, RoutingIndex, RoutingSettings};
use crate::store::routing as stored;

impl Provisioning {
    /// What the gateway does with a call to (`FromOperator`) or from (`ToOperator`) `number`,
    /// decided by the same rules the edge applies; `subdomain` is the Direct Routing customer
    /// label a call from Teams arrived on, `region` the Direct Routing region (1 or 2).
    pub async fn routing_decision(
        &self,
        actor: &Actor,
        number: &TelephoneNumber,
        direction: Direction,
        subdomain: Option<&str>,
        region: u8,
    ) -> Result<Decision, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let settings = self.settings_unchecked().await?;
        let mut index = RoutingIndex::new();
        index.settings = RoutingSettings {
            header_name: settings.sip_header_name.map(|n| n.as_str().to_owned()),
            base_domain: settings.base_domain.map(|b| b.as_str().to_owned()),
        };
        // Only what this decision reads: the number, its account, and the account whose
        // label the call came in on.
        let facts = stored::numbers(&self.db, &[number.as_str().to_owned()]).await?;
        let mut wanted: Vec<String> = facts.iter().map(|f| f.account.clone()).collect();
        if subdomain.is_some() {
            wanted.extend(
                stored::all_accounts(&self.db)
                    .await?
                    .into_iter()
                    .filter(|a| {
                        a.direct_routing
                            .as_ref()
                            .zip(subdomain)
                            .is_some_and(|(dr, label)| dr.label.eq_ignore_ascii_case(label))
                    })
                    .map(|a| a.name.to_string()),
            );
        }
        for account in stored::accounts(&self.db, &wanted).await? {
            index.put_account(account);
        }
        index.load_numbers(facts);
        let provisioned = index.number(number.as_str());
        let line_type = if provisioned.is_some() {
            crate::domain::LineType::Unknown
        } else {
            number.classify().line_type
        };
        let arrival = Arrival {
            direct_routing_label: subdomain,
            direct_routing_account: subdomain.and_then(|l| index.account_by_label(l)),
        };
        Ok(routing::decide(
            number.as_str(),
            direction,
            provisioned,
            line_type,
            arrival,
            &index.settings,
            region,
        ))
    }
}
