//! Direct Routing subdomains as the DNS responder finds them: each account's `subdomainStatus`.

use super::{audit_event, now, Actor, Change, Permission, Provisioning, ProvisioningError};
use crate::domain::{AccountName, SubdomainStatus};
use crate::store::{accounts, audit};

impl Provisioning {
    /// Records what the DNS responder serves for `name`'s subdomain `label` with `tokens`:
    /// `provisioned` when both regions answer the account's tokens, `inconsistent` when they
    /// answer something else. Nothing changes when the account's Direct Routing set-up is no
    /// longer what was checked (a newer check follows), or when the status is already that.
    /// Returns whether the status changed.
    pub async fn record_subdomain_status(
        &self,
        actor: &Actor,
        name: &AccountName,
        label: &str,
        tokens: [&str; 2],
        status: SubdomainStatus,
    ) -> Result<bool, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        let Some(current) = accounts::fetch_for_update(&mut tx, name).await? else {
            tx.rollback().await?;
            return Ok(false);
        };
        let still_checked = current.account.direct_routing.as_ref().is_some_and(|dr| {
            dr.subdomain.as_str().eq_ignore_ascii_case(label)
                && dr.region1_token.as_str() == tokens[0]
                && dr.region2_token.as_str() == tokens[1]
        });
        if !still_checked || current.subdomain_status == status {
            tx.rollback().await?;
            return Ok(false);
        }
        accounts::set_subdomain_status(&mut tx, name, status).await?;
        let event = audit_event(
            &permit,
            &now(),
            Change {
                action: "dns",
                resource_type: "account",
                key: name.as_str(),
                version: Some(current.version),
                before: Some(
                    serde_json::json!({ "subdomainStatus": current.subdomain_status.as_str() })
                        .to_string(),
                ),
                after: Some(serde_json::json!({ "subdomainStatus": status.as_str() }).to_string()),
                account: Some(name.as_str()),
            },
        );
        audit::record(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(true)
    }
}
