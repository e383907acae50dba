//! Consent sync: pulls Operator Connect's consents into Requests for Information, and each
//! consenting tenant's civic addresses, on a schedule. Recording goes through the core (the
//! sync door), so an unchanged consent writes nothing and a changed one is audited.

use super::client::{OcClient, UpstreamError};
use crate::domain::TenantId;
use crate::provisioning::{Actor, Door, Provisioning, ProvisioningError, Role};
use std::time::Duration;

/// What one pull found and wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullReport {
    pub consents: usize,
    pub addresses: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("Operator Connect: {0}")]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Core(#[from] ProvisioningError),
}

/// Pulls every consent and the civic addresses of tenants whose consent is active.
pub async fn pull(core: &Provisioning, client: &OcClient) -> Result<PullReport, PullError> {
    let actor = Actor::new("sync", &[Role::Admin], Door::Sync);
    let mut report = PullReport::default();
    for consent in client.consents().await? {
        let tenant: TenantId = consent.tenant_id.clone();
        let active = consent.status.as_str() == "active";
        core.record_rfi(&actor, consent).await?;
        report.consents += 1;
        if !active {
            continue;
        }
        for address in client.civic_addresses(tenant.as_str()).await? {
            core.record_civic_address(&actor, &tenant, address).await?;
            report.addresses += 1;
        }
    }
    Ok(report)
}

/// Pulls every `every`, logging what failed; runs until the process ends.
pub async fn pull_every(core: Provisioning, client: std::sync::Arc<OcClient>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let (ok, detail) = match pull(&core, &client).await {
            Ok(report) => {
                tracing::debug!(?report, "consents pulled from Operator Connect");
                let detail = format!(
                    "{} consents, {} civic addresses",
                    report.consents, report.addresses
                );
                (true, detail)
            }
            Err(error) => {
                tracing::warn!(%error, "pulling consents from Operator Connect failed");
                (false, error.to_string())
            }
        };
        // What the launch checklist shows; a report that cannot be written is only logged.
        let actor = Actor::new("sync", &[Role::Admin], Door::Sync);
        let node = crate::provisioning::launch::node_name();
        let component = crate::provisioning::launch::OPERATOR_CONNECT;
        if let Err(error) = core
            .report_component(&actor, component, &node, ok, &detail)
            .await
        {
            tracing::warn!(%error, "recording the consent pull's outcome failed");
        }
    }
}
