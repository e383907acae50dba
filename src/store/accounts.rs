//! Accounts as stored: rows, their conversion to domain values, reads and writes.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use crate::domain::account::AccountService;
use crate::domain::rules::ServiceUsage;
use crate::domain::{
    Account, AccountName, AccountServices, DirectRoutingConfig, ProvisioningStatus, Service,
    SubdomainLabel, SubdomainStatus, SubdomainToken, TenantId,
};
use serde::{Deserialize, Serialize};

/// A problem a platform reported while provisioning a resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningIssue {
    pub code: String,
    pub message: String,
}

/// An account with what the server keeps beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRecord {
    pub account: Account,
    pub number_counts: ServiceUsageView,
    pub subdomain_status: SubdomainStatus,
    pub provisioning_status: ProvisioningStatus,
    pub provisioning_errors: Vec<ProvisioningIssue>,
    /// Bumped by every change; the ETag.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// Numbers per service, serialisable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceUsageView(pub [i64; 5]);

impl From<ServiceUsageView> for ServiceUsage {
    fn from(view: ServiceUsageView) -> Self {
        ServiceUsage(view.0)
    }
}

impl AccountRecord {
    pub fn usage(&self) -> ServiceUsage {
        self.number_counts.into()
    }
}

pub(crate) const COLUMNS: &str = "name, correlation_id, teams_tenant_id, \
    oc_enabled, oc_sync, oc_numbers, dr_enabled, dr_sync, dr_numbers, \
    tpm_enabled, tpm_sync, tpm_numbers, zoom_enabled, zoom_sync, zoom_numbers, \
    aocp_enabled, aocp_sync, aocp_numbers, \
    dr_call_screening, dr_subdomain, dr_region1_token, dr_region2_token, dr_subdomain_status, \
    provisioning_status, provisioning_errors, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    name: String,
    correlation_id: Option<String>,
    teams_tenant_id: Option<String>,
    oc_enabled: Option<bool>,
    oc_sync: bool,
    oc_numbers: i64,
    dr_enabled: Option<bool>,
    dr_sync: bool,
    dr_numbers: i64,
    tpm_enabled: Option<bool>,
    tpm_sync: bool,
    tpm_numbers: i64,
    zoom_enabled: Option<bool>,
    zoom_sync: bool,
    zoom_numbers: i64,
    aocp_enabled: Option<bool>,
    aocp_sync: bool,
    aocp_numbers: i64,
    dr_call_screening: Option<bool>,
    dr_subdomain: Option<String>,
    dr_region1_token: Option<String>,
    dr_region2_token: Option<String>,
    dr_subdomain_status: String,
    provisioning_status: String,
    provisioning_errors: String,
    version: i64,
    created_at: String,
    updated_at: String,
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

impl AccountRow {
    pub(crate) fn into_record(self) -> Result<AccountRecord, StoreError> {
        let name = AccountName::parse(&self.name).map_err(|e| corrupt("account name", e))?;
        let teams_tenant_id = self
            .teams_tenant_id
            .as_deref()
            .map(TenantId::parse)
            .transpose()
            .map_err(|e| corrupt("teams tenant", e))?;
        let switch = |enabled: Option<bool>, sync: bool| {
            enabled.map(|enabled| AccountService {
                enabled,
                sync_enabled: sync,
            })
        };
        let services = AccountServices([
            switch(self.oc_enabled, self.oc_sync),
            switch(self.dr_enabled, self.dr_sync),
            switch(self.tpm_enabled, self.tpm_sync),
            switch(self.zoom_enabled, self.zoom_sync),
            switch(self.aocp_enabled, self.aocp_sync),
        ]);
        let direct_routing = match (
            self.dr_subdomain,
            self.dr_region1_token,
            self.dr_region2_token,
        ) {
            (Some(subdomain), Some(region1), Some(region2)) => Some(DirectRoutingConfig {
                call_screening: self.dr_call_screening.unwrap_or(true),
                subdomain: SubdomainLabel::parse(&subdomain)
                    .map_err(|e| corrupt("subdomain", e))?,
                region1_token: SubdomainToken::parse(&region1).map_err(|e| corrupt("token", e))?,
                region2_token: SubdomainToken::parse(&region2).map_err(|e| corrupt("token", e))?,
            }),
            _ => None,
        };
        Ok(AccountRecord {
            account: Account {
                name,
                correlation_id: self.correlation_id,
                teams_tenant_id,
                services,
                direct_routing,
            },
            number_counts: ServiceUsageView([
                self.oc_numbers,
                self.dr_numbers,
                self.tpm_numbers,
                self.zoom_numbers,
                self.aocp_numbers,
            ]),
            subdomain_status: SubdomainStatus::parse(&self.dr_subdomain_status)
                .ok_or_else(|| corrupt("subdomain status", &self.dr_subdomain_status))?,
            provisioning_status: ProvisioningStatus::parse(&self.provisioning_status)
                .ok_or_else(|| corrupt("provisioning status", &self.provisioning_status))?,
            provisioning_errors: serde_json::from_str(&self.provisioning_errors)
                .map_err(|e| corrupt("provisioning errors", e))?,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Filters for listing accounts.
#[derive(Clone, Debug, Default)]
pub struct AccountFilter {
    /// Only accounts with this service enabled.
    pub service: Option<Service>,
    /// Only names starting with this text.
    pub name_prefix: Option<String>,
    /// Any further condition, e.g. from an API `filter` expression.
    pub expr: Option<super::filter::Expr>,
}

/// Reads one account inside a write transaction, locking it where the database can.
pub async fn fetch_for_update(
    tx: &mut Tx,
    name: &AccountName,
) -> Result<Option<AccountRecord>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM accounts WHERE name = $1{}",
        tx.lock_clause()
    );
    let row: Option<AccountRow> = on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(name.as_str()).fetch_optional(conn).await?
    });
    row.map(AccountRow::into_record).transpose()
}

/// Sets what the DNS responder found for an account's Direct Routing subdomain.
pub async fn set_subdomain_status(
    tx: &mut Tx,
    name: &AccountName,
    status: SubdomainStatus,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE accounts SET dr_subdomain_status = $1 WHERE name = $2")
            .bind(status.as_str())
            .bind(name.as_str())
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// Several accounts, locked for the transaction where the database can; missing ones are
/// left out.
pub async fn fetch_many_for_update(
    tx: &mut Tx,
    names: &[&AccountName],
) -> Result<Vec<AccountRecord>, StoreError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let lock = tx.lock_clause();
    let rows: Vec<AccountRow> = on_tx!(tx, conn => {
        let mut query = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM accounts WHERE name IN ("));
        let mut list = query.separated(", ");
        for name in names {
            list.push_bind(name.as_str().to_owned());
        }
        query.push(format!(") ORDER BY name{lock}"));
        query.build_query_as().fetch_all(&mut *conn).await?
    });
    rows.into_iter().map(AccountRow::into_record).collect()
}

pub async fn get(db: &Database, name: &AccountName) -> Result<Option<AccountRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE name = $1");
    let row: Option<AccountRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(name.as_str()).fetch_optional(pool).await?
    });
    row.map(AccountRow::into_record).transpose()
}

/// Accounts in name order after `after`, at most `limit`.
pub async fn list(
    db: &Database,
    filter: &AccountFilter,
    after: Option<&AccountName>,
    limit: i64,
) -> Result<Vec<AccountRecord>, StoreError> {
    list_in_order(
        db,
        filter,
        super::filter::NumberOrder::Ascending,
        after,
        limit,
    )
    .await
}

/// Accounts in name order (either way) after `after`, at most `limit`.
pub async fn list_in_order(
    db: &Database,
    filter: &AccountFilter,
    order: super::filter::NumberOrder,
    after: Option<&AccountName>,
    limit: i64,
) -> Result<Vec<AccountRecord>, StoreError> {
    let (comparison, direction) = match order {
        super::filter::NumberOrder::Ascending => (">", "ASC"),
        super::filter::NumberOrder::Descending => ("<", "DESC"),
    };
    let rows: Vec<AccountRow> = on_pool!(db, pool => {
        let mut query = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM accounts WHERE TRUE"));
        if let Some(service) = filter.service {
            query.push(format!(" AND {}_enabled = TRUE", service.traits().column_prefix));
        }
        if let Some(prefix) = &filter.name_prefix {
            query.push(" AND name >= ").push_bind(prefix.clone());
            query.push(" AND name < ").push_bind(format!("{prefix}\u{10FFFF}"));
        }
        if let Some(expr) = &filter.expr {
            query.push(" AND ");
            super::filter::push_expr(&mut query, expr, super::filter::Table::Accounts);
        }
        if let Some(after) = after {
            query.push(format!(" AND name {comparison} ")).push_bind(after.as_str().to_owned());
        }
        query.push(format!(" ORDER BY name {direction} LIMIT ")).push_bind(limit);
        query.build_query_as().fetch_all(pool).await?
    });
    rows.into_iter().map(AccountRow::into_record).collect()
}

pub async fn count(db: &Database, filter: &AccountFilter) -> Result<i64, StoreError> {
    Ok(on_pool!(db, pool => {
        let mut query = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM accounts WHERE TRUE");
        if let Some(service) = filter.service {
            query.push(format!(" AND {}_enabled = TRUE", service.traits().column_prefix));
        }
        if let Some(prefix) = &filter.name_prefix {
            query.push(" AND name >= ").push_bind(prefix.clone());
            query.push(" AND name < ").push_bind(format!("{prefix}\u{10FFFF}"));
        }
        if let Some(expr) = &filter.expr {
            query.push(" AND ");
            super::filter::push_expr(&mut query, expr, super::filter::Table::Accounts);
        }
        query.build_query_scalar().fetch_one(pool).await?
    }))
}

/// Inserts or replaces the account's own fields; number counts and creation time are kept.
pub async fn upsert(tx: &mut Tx, record: &AccountRecord) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO accounts (name, correlation_id, teams_tenant_id, \
        oc_enabled, oc_sync, dr_enabled, dr_sync, tpm_enabled, tpm_sync, zoom_enabled, zoom_sync, \
        aocp_enabled, aocp_sync, dr_call_screening, dr_subdomain, dr_region1_token, dr_region2_token, \
        dr_subdomain_status, provisioning_status, provisioning_errors, version, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
        ON CONFLICT (name) DO UPDATE SET correlation_id = excluded.correlation_id, \
        teams_tenant_id = excluded.teams_tenant_id, oc_enabled = excluded.oc_enabled, oc_sync = excluded.oc_sync, \
        dr_enabled = excluded.dr_enabled, dr_sync = excluded.dr_sync, tpm_enabled = excluded.tpm_enabled, \
        tpm_sync = excluded.tpm_sync, zoom_enabled = excluded.zoom_enabled, zoom_sync = excluded.zoom_sync, \
        aocp_enabled = excluded.aocp_enabled, aocp_sync = excluded.aocp_sync, \
        dr_call_screening = excluded.dr_call_screening, dr_subdomain = excluded.dr_subdomain, \
        dr_region1_token = excluded.dr_region1_token, dr_region2_token = excluded.dr_region2_token, \
        dr_subdomain_status = excluded.dr_subdomain_status, provisioning_status = excluded.provisioning_status, \
        provisioning_errors = excluded.provisioning_errors, version = excluded.version, updated_at = excluded.updated_at";
    let account = &record.account;
    let enabled = |s: Service| account.services.get(s).map(|b| b.enabled);
    let sync = |s: Service| account.services.get(s).is_some_and(|b| b.sync_enabled);
    let dr = account.direct_routing.as_ref();
    let errors = serde_json::to_string(&record.provisioning_errors).expect("issues serialise");
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(account.name.as_str())
            .bind(account.correlation_id.as_deref())
            .bind(account.teams_tenant_id.as_ref().map(TenantId::as_str))
            .bind(enabled(Service::TeamsOperatorConnect))
            .bind(sync(Service::TeamsOperatorConnect))
            .bind(enabled(Service::TeamsDirectRouting))
            .bind(sync(Service::TeamsDirectRouting))
            .bind(enabled(Service::TeamsPhoneMobile))
            .bind(sync(Service::TeamsPhoneMobile))
            .bind(enabled(Service::ZoomPhoneCloudPeering))
            .bind(sync(Service::ZoomPhoneCloudPeering))
            .bind(enabled(Service::AzureOperatorCallProtection))
            .bind(sync(Service::AzureOperatorCallProtection))
            .bind(dr.map(|c| c.call_screening))
            .bind(dr.map(|c| c.subdomain.as_str()))
            .bind(dr.map(|c| c.region1_token.as_str()))
            .bind(dr.map(|c| c.region2_token.as_str()))
            .bind(record.subdomain_status.as_str())
            .bind(record.provisioning_status.as_str())
            .bind(&errors)
            .bind(record.version)
            .bind(&record.created_at)
            .bind(&record.updated_at)
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// Adds `delta` to the account's per-service number counts.
pub async fn add_number_counts(
    tx: &mut Tx,
    name: &AccountName,
    delta: ServiceUsage,
) -> Result<(), StoreError> {
    if delta.0.iter().all(|d| *d == 0) {
        return Ok(());
    }
    const SQL: &str = "UPDATE accounts SET oc_numbers = oc_numbers + $1, dr_numbers = dr_numbers + $2, \
        tpm_numbers = tpm_numbers + $3, zoom_numbers = zoom_numbers + $4, aocp_numbers = aocp_numbers + $5 \
        WHERE name = $6";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(delta.0[0])
            .bind(delta.0[1])
            .bind(delta.0[2])
            .bind(delta.0[3])
            .bind(delta.0[4])
            .bind(name.as_str())
            .execute(conn)
            .await?;
    });
    Ok(())
}

pub async fn delete(tx: &mut Tx, name: &AccountName) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM accounts WHERE name = $1").bind(name.as_str()).execute(conn).await?;
    });
    Ok(())
}

/// Numbers per service across every account (from the accounts' counters), in `Service::ALL`
/// order.
pub async fn numbers_per_service(db: &Database) -> Result<[i64; 5], StoreError> {
    // PostgreSQL sums BIGINTs as NUMERIC: cast back.
    const SQL: &str = "SELECT CAST(COALESCE(SUM(oc_numbers), 0) AS BIGINT), \
        CAST(COALESCE(SUM(dr_numbers), 0) AS BIGINT), CAST(COALESCE(SUM(tpm_numbers), 0) AS BIGINT), \
        CAST(COALESCE(SUM(zoom_numbers), 0) AS BIGINT), CAST(COALESCE(SUM(aocp_numbers), 0) AS BIGINT) \
        FROM accounts";
    let row: (i64, i64, i64, i64, i64) =
        on_pool!(db, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
    Ok([row.0, row.1, row.2, row.3, row.4])
}

/// How many accounts failed to sync.
pub async fn count_failed(db: &Database) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM accounts WHERE provisioning_status = 'failed'";
    Ok(on_pool!(db, pool => sqlx::query_scalar(SQL).fetch_one(pool).await?))
}
