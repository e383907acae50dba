//! Accounts as stored: rows, their conversion to domain values, reads and writes.

use super::service_columns::{self, column, read};
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
pub struct ServiceUsageView(pub [i64; Service::COUNT]);

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

/// The account's own columns before and after the services' (`<prefix>_enabled`,
/// `<prefix>_sync`, `<prefix>_numbers`, from the service table), in the order rows are read.
const OWN_BEFORE: &str = "name, correlation_id, teams_tenant_id";
const OWN_AFTER: &str = "dr_call_screening, dr_subdomain, dr_region1_token, \
    dr_region2_token, dr_subdomain_status, provisioning_status, provisioning_errors, version, \
    created_at, updated_at";

/// What a service's columns hold on an account.
const SERVICE_FIELDS: [&str; 3] = ["enabled", "sync", "numbers"];

fn columns() -> &'static str {
    static COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let services: Vec<&str> = Service::ALL
            .into_iter()
            .flat_map(|s| SERVICE_FIELDS.map(|what| column(s, what)))
            .collect();
        format!("{OWN_BEFORE}, {}, {OWN_AFTER}", services.join(", "))
    });
    &COLUMNS
}

/// The service columns of one account row.
struct ServiceColumns {
    enabled: [Option<bool>; Service::COUNT],
    sync: [bool; Service::COUNT],
    numbers: [i64; Service::COUNT],
}

impl<'r, R> sqlx::FromRow<'r, R> for ServiceColumns
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            enabled: read(row, "enabled", |_| true)?,
            sync: read(row, "sync", |_| true)?,
            numbers: read(row, "numbers", |_| true)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    name: String,
    correlation_id: Option<String>,
    teams_tenant_id: Option<String>,
    #[sqlx(flatten)]
    services: ServiceColumns,
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
        let columns = &self.services;
        let services = AccountServices(std::array::from_fn(|i| {
            columns.enabled[i].map(|enabled| AccountService {
                enabled,
                sync_enabled: columns.sync[i],
            })
        }));
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
            number_counts: ServiceUsageView(self.services.numbers),
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
    /// Only accounts carrying this tag.
    pub tag: Option<crate::domain::Tag>,
    /// Any further condition, e.g. from an API `filter` expression.
    pub expr: Option<super::filter::Expr>,
}

/// Reads one account inside a write transaction, locking it where the database can.
pub async fn fetch_for_update(
    tx: &mut Tx,
    name: &AccountName,
) -> Result<Option<AccountRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM accounts WHERE name = $1{}",
        columns(),
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
        let mut query = sqlx::QueryBuilder::new(format!("SELECT {} FROM accounts WHERE name IN (", columns()));
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
    let sql = format!("SELECT {} FROM accounts WHERE name = $1", columns());
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
        let mut query = sqlx::QueryBuilder::new(format!("SELECT {} FROM accounts WHERE TRUE", columns()));
        if let Some(service) = filter.service {
            query.push(format!(" AND {} = TRUE", column(service, "enabled")));
        }
        if let Some(prefix) = &filter.name_prefix {
            query.push(" AND name >= ").push_bind(prefix.clone());
            query.push(" AND name < ").push_bind(format!("{prefix}\u{10FFFF}"));
        }
        if let Some(tag) = &filter.tag {
            let condition = super::labels::tagged_condition(super::labels::Kind::Account, "name");
            query.push(format!(" AND {condition}")).push_bind(tag.as_str().to_owned()).push(")");
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
            query.push(format!(" AND {} = TRUE", column(service, "enabled")));
        }
        if let Some(prefix) = &filter.name_prefix {
            query.push(" AND name >= ").push_bind(prefix.clone());
            query.push(" AND name < ").push_bind(format!("{prefix}\u{10FFFF}"));
        }
        if let Some(tag) = &filter.tag {
            let condition = super::labels::tagged_condition(super::labels::Kind::Account, "name");
            query.push(format!(" AND {condition}")).push_bind(tag.as_str().to_owned()).push(")");
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
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        // Every column but the number counts, which only `add_number_counts` changes.
        let written: Vec<String> = columns()
            .split(", ")
            .filter(|c| !c.ends_with("_numbers"))
            .map(str::to_owned)
            .collect();
        let marks: Vec<String> = (1..=written.len()).map(|i| format!("${i}")).collect();
        let replaced: Vec<String> = written
            .iter()
            .filter(|c| !matches!(c.as_str(), "name" | "created_at"))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        format!(
            "INSERT INTO accounts ({}) VALUES ({}) ON CONFLICT (name) DO UPDATE SET {}",
            written.join(", "),
            marks.join(", "),
            replaced.join(", ")
        )
    });
    let account = &record.account;
    let dr = account.direct_routing.as_ref();
    let errors = serde_json::to_string(&record.provisioning_errors).expect("issues serialise");
    on_tx!(tx, conn => {
        let mut query = sqlx::query(&SQL)
            .bind(account.name.as_str())
            .bind(account.correlation_id.as_deref())
            .bind(account.teams_tenant_id.as_ref().map(TenantId::as_str));
        for service in Service::ALL {
            let block = account.services.get(service);
            query = query
                .bind(block.map(|b| b.enabled))
                .bind(block.is_some_and(|b| b.sync_enabled));
        }
        query
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
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let counts: Vec<String> = service_columns::columns("numbers")
            .enumerate()
            .map(|(i, c)| format!("{c} = {c} + ${}", i + 1))
            .collect();
        format!(
            "UPDATE accounts SET {} WHERE name = ${}",
            counts.join(", "),
            Service::COUNT + 1
        )
    });
    on_tx!(tx, conn => {
        let mut query = sqlx::query(&SQL);
        for d in delta.0 {
            query = query.bind(d);
        }
        query.bind(name.as_str()).execute(conn).await?;
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
pub async fn numbers_per_service(db: &Database) -> Result<[i64; Service::COUNT], StoreError> {
    // PostgreSQL sums BIGINTs as NUMERIC: cast back. Each sum is named as the column it sums.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let sums: Vec<String> = service_columns::columns("numbers")
            .map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT) AS {c}"))
            .collect();
        format!("SELECT {} FROM accounts", sums.join(", "))
    });
    on_pool!(db, pool => {
        let row = sqlx::query(&SQL).fetch_one(pool).await?;
        Ok(read(&row, "numbers", |_| true)?)
    })
}

/// How many accounts failed to sync.
pub async fn count_failed(db: &Database) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM accounts WHERE provisioning_status = 'failed'";
    Ok(on_pool!(db, pool => sqlx::query_scalar(SQL).fetch_one(pool).await?))
}
