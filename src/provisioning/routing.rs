//! The routing decision for one number, read from the store: what the SIP edge would do.

use super::{Actor, Permission, Provisioning, ProvisioningError};
use crate::domain::TelephoneNumber;
use crate::routing::{Decision, Direction, RoutingIndex, RoutingSettings};
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
        // Only what this decision reads: the number, its account, and the accounts that ask
        // for the label the call came in on (found by the label's index, not a scan).
        let facts = stored::numbers(&self.db, &[number.as_str().to_owned()]).await?;
        let wanted: Vec<String> = facts.iter().map(|f| f.account.clone()).collect();
        let mut accounts = match subdomain {
            Some(label) => stored::accounts_by_label(&self.db, label).await?,
            None => Vec::new(),
        };
        accounts.extend(stored::accounts(&self.db, &wanted).await?);
        for account in accounts {
            index.put_account(account);
        }
        index.load_numbers(facts);
        let held = stored::holds(&self.db, &[number.as_str().to_owned()]).await?;
        let state = held.first().map(|(_, state)| *state);
        index.put_hold(number.as_str(), state);
        let mut decision = index.decide(number.as_str(), direction, subdomain, region);
        // The edge keeps only the holds that refuse calls; the lookup also says "available".
        if decision.inventory_state.is_none() {
            decision.inventory_state = state;
        }
        Ok(decision)
    }
}
