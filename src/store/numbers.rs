//! Numbers as stored: rows, conversion, keyset-paged lists with filters, bulk writes.

use super::accounts::ProvisioningIssue;
pub use super::filter::NumberOrder;
use super::service_columns::{column, read};
use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use crate::domain::telephone::NumberFacts;
use crate::domain::{
    AccountName, CustomSipHeader, LineType, Number, NumberService, NumberServices,
    ProvisioningStatus, Service, TelephoneNumber,
};
use serde::Serialize;

/// A number with what the server keeps beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberRecord {
    pub number: Number,
    /// ISO region and line type from the numbering plan.
    pub country: Option<String>,
    pub line_type: LineType,
    pub provisioning_status: ProvisioningStatus,
    pub provisioning_errors: Vec<ProvisioningIssue>,
    /// Bumped by every change; the ETag.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl NumberRecord {
    pub fn facts(&self) -> NumberFacts {
        NumberFacts {
            country: self.country.clone(),
            calling_code: None,
            line_type: self.line_type,
        }
    }
}

/// The columns of a service, from the table's prefix: whether it is on (null when not
/// mentioned) and, for a Teams service, its assignment and configuration as JSON.
fn service_columns(service: Service) -> impl Iterator<Item = &'static str> {
    let detail = service
        .traits()
        .teams_tenant
        .then(|| column(service, "detail"));
    std::iter::once(column(service, "enabled")).chain(detail)
}

/// Every column of `numbers`, in the order rows are written: the services' come from the
/// service table.
fn columns() -> &'static str {
    static COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let services: Vec<&str> = Service::ALL.into_iter().flat_map(service_columns).collect();
        format!(
            "telephone_number, account_name, {}, custom_sip_header, country, line_type, \
             provisioning_status, provisioning_errors, version, created_at, updated_at",
            services.join(", ")
        )
    });
    &COLUMNS
}

/// What an upsert replaces: every column but the key and the creation time.
fn replaced_columns() -> &'static str {
    static SET: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        columns()
            .split(", ")
            .filter(|c| !matches!(*c, "telephone_number" | "created_at"))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    &SET
}

/// Rows per INSERT: 17 parameters each stays well under SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 1000;

/// The service columns of one row, read by the table's prefixes.
struct ServiceColumns {
    enabled: [Option<bool>; Service::COUNT],
    detail: [Option<String>; Service::COUNT],
}

impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for ServiceColumns
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            enabled: read(row, "enabled", |_| true)?,
            detail: read(row, "detail", |s| s.traits().teams_tenant)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct NumberRow {
    telephone_number: String,
    account_name: String,
    #[sqlx(flatten)]
    services: ServiceColumns,
    custom_sip_header: Option<String>,
    country: Option<String>,
    line_type: String,
    provisioning_status: String,
    provisioning_errors: String,
    version: i64,
    created_at: String,
    updated_at: String,
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

/// The assignment and configuration of a Teams service, as kept in `<prefix>_detail`.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeamsDetail {
    assignment_status: Option<crate::domain::AssignmentStatus>,
    configuration: Option<crate::domain::TeamsNumberConfig>,
}

fn service_block(
    enabled: Option<bool>,
    detail: Option<&str>,
) -> Result<Option<NumberService>, StoreError> {
    let Some(enabled) = enabled else {
        return Ok(None);
    };
    let detail: TeamsDetail = match detail {
        Some(json) => serde_json::from_str(json).map_err(|e| corrupt("teams detail", e))?,
        None => TeamsDetail {
            assignment_status: None,
            configuration: None,
        },
    };
    Ok(Some(NumberService {
        enabled,
        assignment_status: detail.assignment_status,
        configuration: detail.configuration,
    }))
}

fn teams_detail(service: Option<&NumberService>) -> Option<String> {
    service.map(|s| {
        serde_json::to_string(&TeamsDetail {
            assignment_status: s.assignment_status,
            configuration: s.configuration.clone(),
        })
        .expect("detail serialises")
    })
}

impl NumberRow {
    fn into_record(self) -> Result<NumberRecord, StoreError> {
        Ok(NumberRecord {
            number: Number {
                telephone_number: TelephoneNumber::parse(&self.telephone_number)
                    .map_err(|e| corrupt("telephone number", e))?,
                account_name: AccountName::parse(&self.account_name)
                    .map_err(|e| corrupt("account", e))?,
                services: {
                    let mut services = NumberServices::default();
                    for service in Service::ALL {
                        let i = service.index();
                        let block = service_block(
                            self.services.enabled[i],
                            self.services.detail[i].as_deref(),
                        )?;
                        services.set(service, block);
                    }
                    services
                },
                custom_sip_header: self
                    .custom_sip_header
                    .as_deref()
                    .map(CustomSipHeader::parse)
                    .transpose()
                    .map_err(|e| corrupt("custom header", e))?,
            },
            country: self.country,
            line_type: LineType::parse(&self.line_type).map_err(|e| corrupt("line type", e))?,
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

/// Which numbers a list shows. Every field narrows the list; `None` means any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NumberFilter {
    pub account: Option<AccountName>,
    /// Only numbers with this service enabled.
    pub service: Option<Service>,
    pub status: Option<ProvisioningStatus>,
    pub line_type: Option<LineType>,
    /// Only numbers starting with these characters, e.g. `+44`.
    pub prefix: Option<String>,
    /// Only numbers containing these characters anywhere (a scan: slower than a prefix).
    pub contains: Option<String>,
    pub has_custom_header: Option<bool>,
    /// Only numbers with no service enabled.
    pub no_service: bool,
    /// Only numbers carrying this tag.
    pub tag: Option<crate::domain::Tag>,
    /// Any further condition, e.g. from an API `filter` expression.
    pub expr: Option<super::filter::Expr>,
}

/// Appends the rows a list reads and its WHERE clause, and evaluates to the column the list is
/// ordered and paged by. With a tag but no account, the tag's index rows lead, joined to their
/// numbers, so the list follows that index in number order: a rare tag reads only its own rows,
/// a common one stops at the end of the page (a prefix bounds the index rows too). With an
/// account as well, the account's numbers lead and each is looked up in the tag's index: an
/// account's numbers sit together in number order, and a common tag's rows read in order would
/// pass every number before them first. `numbers` and `label_tags` share no column name, so
/// `filter`'s conditions read the same either way.
macro_rules! push_source {
    ($query:expr, $filter:expr) => {{
        let filter: &NumberFilter = $filter;
        match (&filter.tag, &filter.account) {
            (Some(tag), None) => {
                $query
                    .push(
                        " FROM label_tags JOIN numbers ON telephone_number = resource_key \
                         WHERE resource_type = 'number' AND tag = ",
                    )
                    .push_bind(tag.as_str().to_owned());
                if let Some(prefix) = &filter.prefix {
                    $query
                        .push(" AND resource_key >= ")
                        .push_bind(prefix.clone())
                        .push(" AND resource_key < ")
                        .push_bind(format!("{prefix}~"));
                }
                "resource_key"
            }
            (Some(tag), Some(_)) => {
                $query
                    .push(
                        " FROM numbers WHERE EXISTS (SELECT 1 FROM label_tags \
                         WHERE resource_type = 'number' AND tag = ",
                    )
                    .push_bind(tag.as_str().to_owned())
                    .push(" AND resource_key = numbers.telephone_number)");
                "telephone_number"
            }
            (None, _) => {
                $query.push(" FROM numbers WHERE TRUE");
                "telephone_number"
            }
        }
    }};
}

/// Appends `filter`'s conditions to a query that already has a WHERE clause.
macro_rules! push_filter {
    ($query:expr, $filter:expr) => {{
        let filter: &NumberFilter = $filter;
        if let Some(account) = &filter.account {
            $query
                .push(" AND account_name = ")
                .push_bind(account.as_str().to_owned());
        }
        if let Some(service) = filter.service {
            $query.push(format!(
                " AND {} = TRUE",
                super::service_columns::column(service, "enabled")
            ));
        }
        if let Some(status) = filter.status {
            $query
                .push(" AND provisioning_status = ")
                .push_bind(status.as_str());
        }
        if let Some(line_type) = filter.line_type {
            $query
                .push(" AND line_type = ")
                .push_bind(line_type.as_str());
        }
        if let Some(prefix) = &filter.prefix {
            // A range, not LIKE, so both databases use the primary key's order.
            $query
                .push(" AND telephone_number >= ")
                .push_bind(prefix.clone());
            $query
                .push(" AND telephone_number < ")
                .push_bind(format!("{prefix}~"));
        }
        if let Some(part) = &filter.contains {
            let escaped = part
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            $query
                .push(" AND telephone_number LIKE ")
                .push_bind(format!("%{escaped}%"))
                .push(" ESCAPE '\\'");
        }
        match filter.has_custom_header {
            Some(true) => {
                $query.push(" AND custom_sip_header IS NOT NULL");
            }
            Some(false) => {
                $query.push(" AND custom_sip_header IS NULL");
            }
            None => {}
        }
        if filter.no_service {
            for service in crate::domain::Service::ALL {
                $query.push(format!(
                    " AND {} IS NOT TRUE",
                    super::service_columns::column(service, "enabled")
                ));
            }
        }
        if let Some(expr) = &filter.expr {
            $query.push(" AND ");
            super::filter::push_expr(&mut $query, expr, super::filter::Table::Numbers);
        }
    }};
}

/// A tag and an account together on PostgreSQL: whichever is smaller leads, through its index,
/// and each row is probed in the other's. Left to itself the planner chose a parallel hash join
/// that read every row of a common tag for one account's capped count (45 ms at a million
/// numbers, 3.5 ms without hash joins; a rare tag led in 0.4 ms either way, EXPLAIN ANALYZE
/// on the render benchmark's database). A page or a capped count never needs a whole side.
async fn index_driven_joins(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
) -> Result<(), StoreError> {
    sqlx::query("SET LOCAL enable_hashjoin = off")
        .execute(&mut **tx)
        .await?;
    sqlx::query("SET LOCAL max_parallel_workers_per_gather = 0")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Numbers matching `filter` in the given order, starting after `after`, at most `limit`.
pub async fn list(
    db: &Database,
    filter: &NumberFilter,
    order: NumberOrder,
    after: Option<&TelephoneNumber>,
    limit: i64,
) -> Result<Vec<NumberRecord>, StoreError> {
    let (comparison, direction) = match order {
        NumberOrder::Ascending => (">", "ASC"),
        NumberOrder::Descending => ("<", "DESC"),
    };
    if let (Database::Postgres(pool), Some(_), Some(_)) = (db, &filter.tag, &filter.account) {
        let mut tx = pool.begin().await?;
        index_driven_joins(&mut tx).await?;
        let mut query = sqlx::QueryBuilder::new(format!("SELECT {}", columns()));
        let key = push_source!(query, filter);
        push_filter!(query, filter);
        if let Some(after) = after {
            query
                .push(format!(" AND {key} {comparison} "))
                .push_bind(after.as_str().to_owned());
        }
        query
            .push(format!(" ORDER BY {key} {direction} LIMIT "))
            .push_bind(limit);
        let rows: Vec<NumberRow> = query.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        return rows.into_iter().map(NumberRow::into_record).collect();
    }
    let rows: Vec<NumberRow> = on_pool!(db, pool => {
        let mut query = sqlx::QueryBuilder::new(format!("SELECT {}", columns()));
        let key = push_source!(query, filter);
        push_filter!(query, filter);
        if let Some(after) = after {
            query.push(format!(" AND {key} {comparison} ")).push_bind(after.as_str().to_owned());
            if key != "telephone_number" {
                // PostgreSQL carries an equality across a join but not a bound: without this
                // one, a merge join read the numbers' key from its first row to the cursor
                // (96 ms for a page half-way through a million numbers, 0.3 ms with it).
                query
                    .push(format!(" AND telephone_number {comparison} "))
                    .push_bind(after.as_str().to_owned());
            }
        }
        query.push(format!(" ORDER BY {key} {direction} LIMIT ")).push_bind(limit);
        query.build_query_as().fetch_all(pool).await?
    });
    rows.into_iter().map(NumberRow::into_record).collect()
}

pub async fn count(db: &Database, filter: &NumberFilter) -> Result<i64, StoreError> {
    Ok(on_pool!(db, pool => {
        let mut query = sqlx::QueryBuilder::new("SELECT COUNT(*)");
        push_source!(query, filter);
        push_filter!(query, filter);
        query.build_query_scalar().fetch_one(pool).await?
    }))
}

/// How many numbers match, counting no further than `cap + 1` (so a page can say "more than
/// 10,000" without counting a million rows).
pub async fn count_capped(
    db: &Database,
    filter: &NumberFilter,
    cap: i64,
) -> Result<i64, StoreError> {
    if let (Database::Postgres(pool), Some(_), Some(_)) = (db, &filter.tag, &filter.account) {
        let mut tx = pool.begin().await?;
        index_driven_joins(&mut tx).await?;
        let mut query = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1");
        push_source!(query, filter);
        push_filter!(query, filter);
        query
            .push(" LIMIT ")
            .push_bind(cap + 1)
            .push(") AS matching");
        let counted: i64 = query.build_query_scalar().fetch_one(&mut *tx).await?;
        tx.commit().await?;
        return Ok(counted);
    }
    Ok(on_pool!(db, pool => {
        let mut query = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1");
        push_source!(query, filter);
        push_filter!(query, filter);
        query.push(" LIMIT ").push_bind(cap + 1).push(") AS matching");
        query.build_query_scalar().fetch_one(pool).await?
    }))
}

pub async fn get(
    db: &Database,
    number: &TelephoneNumber,
) -> Result<Option<NumberRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM numbers WHERE telephone_number = $1",
        columns()
    );
    let row: Option<NumberRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(number.as_str()).fetch_optional(pool).await?
    });
    row.map(NumberRow::into_record).transpose()
}

/// The stored numbers among `numbers`, locked for the transaction where the database can.
pub async fn fetch_for_update(
    tx: &mut Tx,
    numbers: &[&TelephoneNumber],
) -> Result<Vec<NumberRecord>, StoreError> {
    let lock = tx.lock_clause();
    let mut found = Vec::with_capacity(numbers.len());
    for chunk in numbers.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<NumberRow> = on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(format!("SELECT {} FROM numbers WHERE telephone_number IN (", columns()));
            let mut list = query.separated(", ");
            for number in chunk {
                list.push_bind(number.as_str().to_owned());
            }
            query.push(format!(") ORDER BY telephone_number{lock}"));
            query.build_query_as().fetch_all(&mut *conn).await?
        });
        for row in rows {
            found.push(row.into_record()?);
        }
    }
    Ok(found)
}

/// The account's numbers, locked for the transaction where the database can.
pub async fn fetch_account_numbers_for_update(
    tx: &mut Tx,
    account: &AccountName,
) -> Result<Vec<NumberRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM numbers WHERE account_name = $1{}",
        columns(),
        tx.lock_clause()
    );
    let rows: Vec<NumberRow> = on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(account.as_str()).fetch_all(conn).await?
    });
    rows.into_iter().map(NumberRow::into_record).collect()
}

/// Inserts or replaces each record (creation time kept on replace).
pub async fn upsert(tx: &mut Tx, records: &[NumberRecord]) -> Result<(), StoreError> {
    let replace = format!("DO UPDATE SET {}", replaced_columns());
    insert(tx, records, &replace).await.map(|_| ())
}

/// Inserts the records whose numbers have no row yet; returns the numbers inserted. A number
/// another transaction created meanwhile is left as that transaction wrote it.
pub async fn insert_new(
    tx: &mut Tx,
    records: &[NumberRecord],
) -> Result<std::collections::HashSet<String>, StoreError> {
    insert(tx, records, "DO NOTHING").await
}

/// Inserts `records`, doing `on_conflict` where a number has a row; returns the numbers written.
async fn insert(
    tx: &mut Tx,
    records: &[NumberRecord],
    on_conflict: &str,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut written = std::collections::HashSet::with_capacity(records.len());
    for chunk in records.chunks(ROWS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO numbers ({}) ", columns()));
            query.push_values(chunk, |mut row, record| {
                let number = &record.number;
                let services = &number.services;
                row.push_bind(number.telephone_number.as_str().to_owned())
                    .push_bind(number.account_name.as_str().to_owned());
                // In `service_columns` order: enabled, then a Teams service's detail.
                for service in Service::ALL {
                    let block = services.get(service);
                    row.push_bind(block.map(|b| b.enabled));
                    if service.traits().teams_tenant {
                        row.push_bind(teams_detail(block));
                    }
                }
                row.push_bind(number.custom_sip_header.as_ref().map(|h| h.as_str().to_owned()))
                    .push_bind(record.country.clone())
                    .push_bind(record.line_type.as_str())
                    .push_bind(record.provisioning_status.as_str())
                    .push_bind(serde_json::to_string(&record.provisioning_errors).expect("issues serialise"))
                    .push_bind(record.version)
                    .push_bind(record.created_at.clone())
                    .push_bind(record.updated_at.clone());
            });
            query.push(format!(
                " ON CONFLICT (telephone_number) {on_conflict} RETURNING telephone_number"
            ));
            let rows: Vec<(String,)> = query.build_query_as().fetch_all(&mut *conn).await?;
            written.extend(rows.into_iter().map(|(n,)| n));
        });
    }
    Ok(written)
}

pub async fn delete(tx: &mut Tx, numbers: &[&TelephoneNumber]) -> Result<(), StoreError> {
    for chunk in numbers.chunks(ROWS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new("DELETE FROM numbers WHERE telephone_number IN (");
            let mut list = query.separated(", ");
            for number in chunk {
                list.push_bind(number.as_str().to_owned());
            }
            query.push(")");
            query.build().execute(&mut *conn).await?;
        });
    }
    Ok(())
}

/// How many numbers are in each provisioning status.
pub async fn count_by_status(db: &Database) -> Result<Vec<(String, i64)>, StoreError> {
    const SQL: &str = "SELECT provisioning_status, COUNT(*) FROM numbers \
                       GROUP BY provisioning_status ORDER BY provisioning_status";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?))
}

/// The accounts with the most numbers, most first, at most `limit`.
pub async fn count_by_account(db: &Database, limit: i64) -> Result<Vec<(String, i64)>, StoreError> {
    const SQL: &str = "SELECT account_name, COUNT(*) AS n FROM numbers \
                       GROUP BY account_name ORDER BY n DESC, account_name LIMIT $1";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).bind(limit).fetch_all(pool).await?))
}
