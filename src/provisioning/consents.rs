//! Requests for Information (consents) and Teams civic addresses: sync records them, an
//! operator updates a consent's customer relationship, everyone with Read sees them.

use super::{
    audit_event, now, to_json, Actor, Change, Current, Outcome, Permission, Precondition,
    Provisioning, ProvisioningError, Written,
};
use crate::domain::consent::{
    CustomerRelationship, RelationshipChange, RequestForInformation, TeamsCivicAddress,
};
use crate::domain::Code;
use crate::domain::{AccountName, ProvisioningStatus, TenantId};
use crate::store::consents::{self as stored, CivicAddressRecord, RfiRecord};
use crate::store::{accounts, audit, outbox};

const RFI: &str = "requestForInformation";
const CIVIC_ADDRESS: &str = "teamsCivicAddress";

impl Provisioning {
    /// Records a consent as Microsoft reports it (sync's door). The customer relationship the
    /// operator set is kept.
    pub async fn record_rfi(
        &self,
        actor: &Actor,
        mut rfi: RequestForInformation,
    ) -> Result<Written<RfiRecord>, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        let current = stored::fetch_rfi_for_update(&mut tx, &rfi.tenant_id).await?;
        if let Some(current) = &current {
            rfi.customer_relationship = current.rfi.customer_relationship.clone();
            if current.rfi == rfi {
                return Ok(Written {
                    record: current.clone(),
                    outcome: Outcome::Unchanged,
                });
            }
        }
        let at = now();
        let record = RfiRecord {
            provisioning_status: current
                .as_ref()
                .map_or(ProvisioningStatus::Synced, |c| c.provisioning_status),
            provisioning_errors: current
                .as_ref()
                .map(|c| c.provisioning_errors.clone())
                .unwrap_or_default(),
            version: current.as_ref().map_or(1, |c| c.version + 1),
            updated_at: at.clone(),
            rfi,
        };
        stored::upsert_rfi(&mut tx, &record).await?;
        let key = record.rfi.tenant_id.to_string();
        let change = Change {
            action: if current.is_some() {
                "replace"
            } else {
                "create"
            },
            resource_type: RFI,
            key: &key,
            version: Some(record.version),
            before: current.as_ref().map(|c| to_json(&c.rfi)),
            after: Some(to_json(&record.rfi)),
            account: None,
        };
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        let outcome = if current.is_some() {
            Outcome::Replaced
        } else {
            Outcome::Created
        };
        Ok(Written { record, outcome })
    }

    /// Updates the customer relationship of a consent (ACG's PATCH, a merge patch); the change
    /// is queued for Operator Connect.
    pub async fn update_relationship(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        change: RelationshipChange,
        precondition: Precondition,
    ) -> Result<RfiRecord, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        let mut tx = self.begin(&permit).await?;
        let key = tenant.to_string();
        let current = stored::fetch_rfi_for_update(&mut tx, tenant).await?;
        precondition.check(
            RFI,
            &key,
            current
                .as_ref()
                .map(|c| Current::new(c.version, &c.updated_at)),
        )?;
        let Some(current) = current else {
            return Err(ProvisioningError::not_found(RFI, key));
        };
        change
            .check(current.rfi.customer_relationship.as_ref())
            .map_err(ProvisioningError::invalid)?;
        let at = now();
        let old = current.rfi.customer_relationship.clone();
        let relationship = CustomerRelationship {
            status: change
                .status
                .or_else(|| old.as_ref().and_then(|o| o.status.clone())),
            comment: change
                .comment
                .or_else(|| old.as_ref().and_then(|o| o.comment.clone())),
            last_modified_on: Some(at.clone()),
        };
        let mut rfi = current.rfi.clone();
        rfi.customer_relationship = Some(relationship);
        let record = RfiRecord {
            rfi,
            provisioning_status: ProvisioningStatus::Pending,
            provisioning_errors: Vec::new(),
            version: current.version + 1,
            updated_at: at.clone(),
        };
        stored::upsert_rfi(&mut tx, &record).await?;
        let audit_change = Change {
            action: "update",
            resource_type: RFI,
            key: &key,
            version: Some(record.version),
            before: Some(to_json(&current.rfi)),
            after: Some(to_json(&record.rfi)),
            account: None,
        };
        audit::record(&mut tx, &[audit_event(&permit, &at, audit_change)]).await?;
        let body = serde_json::json!({ "customerRelationship": record.rfi.customer_relationship });
        let job = super::sync::job_for_relationship(&key, record.version, body);
        outbox::enqueue(&mut tx, &at, &[job]).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn get_rfi(
        &self,
        actor: &Actor,
        tenant: &TenantId,
    ) -> Result<RfiRecord, ProvisioningError> {
        actor.permit(Permission::Read)?;
        stored::get_rfi(&self.db, tenant)
            .await?
            .ok_or_else(|| ProvisioningError::not_found(RFI, tenant.as_str()))
    }

    pub async fn list_rfis(
        &self,
        actor: &Actor,
        after: Option<&TenantId>,
        limit: i64,
    ) -> Result<Vec<RfiRecord>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::list_rfis(&self.db, after, limit).await?)
    }

    pub async fn count_rfis(&self, actor: &Actor) -> Result<i64, ProvisioningError> {
        actor.permit(Permission::Read)?;
        Ok(stored::count_rfis(&self.db).await?)
    }

    /// Records a civic address of a tenant as Teams reports it (sync's door).
    pub async fn record_civic_address(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        address: TeamsCivicAddress,
    ) -> Result<CivicAddressRecord, ProvisioningError> {
        let permit = actor.permit(Permission::Write)?;
        // Sync reports every address on each pull; one that has not changed writes nothing.
        if let Some(known) = stored::get_civic_address(&self.db, tenant, &address.id).await? {
            if known.address == address {
                return Ok(known);
            }
        }
        let mut tx = self.begin(&permit).await?;
        let current = stored::fetch_civic_address_version(&mut tx, tenant, &address.id).await?;
        let at = now();
        let record = CivicAddressRecord {
            address,
            version: current.map_or(1, |v| v + 1),
            updated_at: at.clone(),
        };
        stored::upsert_civic_address(&mut tx, tenant, &record).await?;
        let key = format!("{tenant}/{}", record.address.id);
        let change = Change {
            action: if current.is_some() {
                "replace"
            } else {
                "create"
            },
            resource_type: CIVIC_ADDRESS,
            key: &key,
            version: Some(record.version),
            before: None,
            after: Some(to_json(&record.address)),
            account: None,
        };
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// The civic addresses of an account's Teams tenant.
    pub async fn list_civic_addresses(
        &self,
        actor: &Actor,
        account: &AccountName,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CivicAddressRecord>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let Some(tenant) = self.tenant_of(account).await? else {
            return Ok(Vec::new());
        };
        Ok(stored::list_civic_addresses(&self.db, &tenant, after, limit).await?)
    }

    pub async fn get_civic_address(
        &self,
        actor: &Actor,
        account: &AccountName,
        id: &str,
    ) -> Result<CivicAddressRecord, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let missing = || ProvisioningError::not_found(CIVIC_ADDRESS, id);
        let tenant = self.tenant_of(account).await?.ok_or_else(missing)?;
        stored::get_civic_address(&self.db, &tenant, id)
            .await?
            .ok_or_else(missing)
    }

    async fn tenant_of(
        &self,
        account: &AccountName,
    ) -> Result<Option<TenantId>, ProvisioningError> {
        let record = accounts::get(&self.db, account)
            .await?
            .ok_or_else(|| ProvisioningError::not_found("account", account.as_str()))?;
        Ok(record.account.teams_tenant_id)
    }
}

impl Provisioning {
    /// The Teams tenant of an account, for operations that ask Operator Connect about it.
    pub async fn teams_tenant(
        &self,
        actor: &Actor,
        account: &AccountName,
    ) -> Result<TenantId, ProvisioningError> {
        actor.permit(Permission::Read)?;
        self.tenant_of(account).await?.ok_or_else(|| {
            ProvisioningError::invalid(crate::domain::Violation::new(
                "serviceDetails.teamsTenantId",
                Code::TenantIdRequired,
                format!("account {account} has no Teams tenant ID, so Operator Connect cannot be asked about it"),
            ))
        })
    }
}
