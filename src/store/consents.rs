//! Requests for Information and Teams civic addresses, stored as the JSON resources they are.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use crate::domain::consent::{RequestForInformation, TeamsCivicAddress};
use crate::domain::{ProvisioningStatus, TenantId};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RfiRecord {
    pub rfi: RequestForInformation,
    pub provisioning_status: ProvisioningStatus,
    /// Why Operator Connect refused the last relationship update, when it did.
    pub provisioning_errors: Vec<super::accounts::ProvisioningIssue>,
    pub version: i64,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CivicAddressRecord {
    pub address: TeamsCivicAddress,
    pub version: i64,
    pub updated_at: String,
}

#[derive(sqlx::FromRow)]
struct RfiRow {
    resource: String,
    provisioning_status: String,
    provisioning_errors: String,
    version: i64,
    updated_at: String,
}

impl RfiRow {
    fn into_record(self) -> Result<RfiRecord, StoreError> {
        Ok(RfiRecord {
            rfi: serde_json::from_str(&self.resource)
                .map_err(|e| StoreError::Corrupt(format!("request for information: {e}")))?,
            provisioning_status: ProvisioningStatus::parse(&self.provisioning_status).ok_or_else(
                || StoreError::Corrupt(format!("status {}", self.provisioning_status)),
            )?,
            provisioning_errors: serde_json::from_str(&self.provisioning_errors)
                .map_err(|e| StoreError::Corrupt(format!("provisioning errors: {e}")))?,
            version: self.version,
            updated_at: self.updated_at,
        })
    }
}

const RFI_COLUMNS: &str = "resource, provisioning_status, provisioning_errors, version, updated_at";

pub async fn get_rfi(db: &Database, tenant: &TenantId) -> Result<Option<RfiRecord>, StoreError> {
    let sql = format!("SELECT {RFI_COLUMNS} FROM requests_for_information WHERE tenant_id = $1");
    let row: Option<RfiRow> = on_pool!(db, pool => sqlx::query_as(&sql).bind(tenant.as_str()).fetch_optional(pool).await?);
    row.map(RfiRow::into_record).transpose()
}

pub async fn fetch_rfi_for_update(
    tx: &mut Tx,
    tenant: &TenantId,
) -> Result<Option<RfiRecord>, StoreError> {
    let sql = format!(
        "SELECT {RFI_COLUMNS} FROM requests_for_information WHERE tenant_id = $1{}",
        tx.lock_clause()
    );
    let row: Option<RfiRow> =
        on_tx!(tx, conn => sqlx::query_as(&sql).bind(tenant.as_str()).fetch_optional(conn).await?);
    row.map(RfiRow::into_record).transpose()
}

/// Requests in tenant order after `after`, at most `limit`.
pub async fn list_rfis(
    db: &Database,
    after: Option<&TenantId>,
    limit: i64,
) -> Result<Vec<RfiRecord>, StoreError> {
    let rows: Vec<RfiRow> = on_pool!(db, pool => {
        let mut query = sqlx::QueryBuilder::new(format!("SELECT {RFI_COLUMNS} FROM requests_for_information WHERE TRUE"));
        if let Some(after) = after {
            query.push(" AND tenant_id > ").push_bind(after.as_str().to_owned());
        }
        query.push(" ORDER BY tenant_id LIMIT ").push_bind(limit);
        query.build_query_as().fetch_all(pool).await?
    });
    rows.into_iter().map(RfiRow::into_record).collect()
}

pub async fn count_rfis(db: &Database) -> Result<i64, StoreError> {
    Ok(
        on_pool!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM requests_for_information").fetch_one(pool).await?),
    )
}

pub async fn upsert_rfi(tx: &mut Tx, record: &RfiRecord) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO requests_for_information \
        (tenant_id, resource, account_name, status, provisioning_status, version, updated_at, provisioning_errors) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id) DO UPDATE SET \
        resource = excluded.resource, account_name = excluded.account_name, status = excluded.status, \
        provisioning_status = excluded.provisioning_status, version = excluded.version, \
        provisioning_errors = excluded.provisioning_errors, \
        updated_at = excluded.updated_at";
    let resource = serde_json::to_string(&record.rfi).expect("request serialises");
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(record.rfi.tenant_id.as_str())
            .bind(&resource)
            .bind(record.rfi.account_name.as_ref().map(|a| a.as_str()))
            .bind(record.rfi.status.as_str())
            .bind(record.provisioning_status.as_str())
            .bind(record.version)
            .bind(&record.updated_at)
            .bind(serde_json::to_string(&record.provisioning_errors).expect("issues serialise"))
            .execute(conn)
            .await?;
    });
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AddressRow {
    resource: String,
    version: i64,
    updated_at: String,
}

impl AddressRow {
    fn into_record(self) -> Result<CivicAddressRecord, StoreError> {
        Ok(CivicAddressRecord {
            address: serde_json::from_str(&self.resource)
                .map_err(|e| StoreError::Corrupt(format!("civic address: {e}")))?,
            version: self.version,
            updated_at: self.updated_at,
        })
    }
}

pub async fn get_civic_address(
    db: &Database,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<CivicAddressRecord>, StoreError> {
    const SQL: &str = "SELECT resource, version, updated_at FROM teams_civic_addresses WHERE tenant_id = $1 AND id = $2";
    let row: Option<AddressRow> = on_pool!(db, pool => {
        sqlx::query_as(SQL).bind(tenant.as_str()).bind(id).fetch_optional(pool).await?
    });
    row.map(AddressRow::into_record).transpose()
}

pub async fn list_civic_addresses(
    db: &Database,
    tenant: &TenantId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<CivicAddressRecord>, StoreError> {
    let rows: Vec<AddressRow> = on_pool!(db, pool => {
        let mut query = sqlx::QueryBuilder::new("SELECT resource, version, updated_at FROM teams_civic_addresses WHERE tenant_id = ");
        query.push_bind(tenant.as_str().to_owned());
        if let Some(after) = after {
            query.push(" AND id > ").push_bind(after.to_owned());
        }
        query.push(" ORDER BY id LIMIT ").push_bind(limit);
        query.build_query_as().fetch_all(pool).await?
    });
    rows.into_iter().map(AddressRow::into_record).collect()
}

pub async fn fetch_civic_address_version(
    tx: &mut Tx,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<i64>, StoreError> {
    const SQL: &str = "SELECT version FROM teams_civic_addresses WHERE tenant_id = $1 AND id = $2";
    Ok(
        on_tx!(tx, conn => sqlx::query_scalar(SQL).bind(tenant.as_str()).bind(id).fetch_optional(conn).await?),
    )
}

pub async fn upsert_civic_address(
    tx: &mut Tx,
    tenant: &TenantId,
    record: &CivicAddressRecord,
) -> Result<(), StoreError> {
    const SQL: &str =
        "INSERT INTO teams_civic_addresses (tenant_id, id, resource, version, updated_at) \
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, id) DO UPDATE SET \
        resource = excluded.resource, version = excluded.version, updated_at = excluded.updated_at";
    let resource = serde_json::to_string(&record.address).expect("address serialises");
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(tenant.as_str())
            .bind(&record.address.id)
            .bind(&resource)
            .bind(record.version)
            .bind(&record.updated_at)
            .execute(conn)
            .await?;
    });
    Ok(())
}
