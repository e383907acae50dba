//! The inventory as stored: numbers that are available, reserved or quarantined (an assigned
//! number is a row of `numbers` instead), with keyset-paged lists and the holds that ran out.
//!
//! Holds no rule: which move is allowed is the core's. Depends on `domain`.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use crate::domain::{AccountName, InventoryState, TelephoneNumber};
use serde::Serialize;

/// A number in the inventory but in no account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldRecord {
    pub telephone_number: TelephoneNumber,
    /// Never `Assigned`.
    pub state: InventoryState,
    /// Reserved for, or released by (quarantined), this account.
    pub account_name: Option<AccountName>,
    /// When a reservation or quarantine ends (RFC 3339, UTC); none for an indefinite
    /// quarantine and for an available number.
    pub until: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// Which inventory numbers a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InventoryFilter {
    pub state: Option<InventoryState>,
    pub account: Option<AccountName>,
    /// Numbers starting with these characters (`+4420…`).
    pub prefix: Option<String>,
    /// Numbers carrying this tag.
    pub tag: Option<crate::domain::Tag>,
}

#[derive(sqlx::FromRow)]
struct HeldRow {
    telephone_number: String,
    state: String,
    account_name: Option<String>,
    until: Option<String>,
    version: i64,
    created_at: String,
    updated_at: String,
}

const COLUMNS: &str =
    "telephone_number, state, account_name, until, version, created_at, updated_at";

/// Rows per statement: 7 parameters each.
const ROWS_PER_STATEMENT: usize = 1000;

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("inventory {what}: {detail}"))
}

impl HeldRow {
    fn into_record(self) -> Result<HeldRecord, StoreError> {
        let state = InventoryState::parse(&self.state)
            .filter(|s| *s != InventoryState::Assigned)
            .ok_or_else(|| corrupt("state", &self.state))?;
        Ok(HeldRecord {
            telephone_number: TelephoneNumber::parse(&self.telephone_number)
                .map_err(|e| corrupt("number", e))?,
            state,
            account_name: self
                .account_name
                .as_deref()
                .map(AccountName::parse)
                .transpose()
                .map_err(|e| corrupt("account", e))?,
            until: self.until,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn records(rows: Vec<HeldRow>) -> Result<Vec<HeldRecord>, StoreError> {
    rows.into_iter().map(HeldRow::into_record).collect()
}

/// The inventory rows of `numbers`, locked for the transaction where the database can.
pub async fn fetch_for_update(
    tx: &mut Tx,
    numbers: &[&TelephoneNumber],
) -> Result<Vec<HeldRecord>, StoreError> {
    let lock = tx.lock_clause();
    let mut found = Vec::new();
    for chunk in numbers.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<HeldRow> = on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {COLUMNS} FROM number_inventory WHERE telephone_number IN ("
            ));
            let mut list = query.separated(", ");
            for number in chunk {
                list.push_bind(number.as_str().to_owned());
            }
            query.push(format!(") ORDER BY telephone_number{lock}"));
            query.build_query_as().fetch_all(&mut *conn).await?
        });
        found.extend(records(rows)?);
    }
    Ok(found)
}

/// One number's inventory row.
pub async fn get(
    db: &Database,
    number: &TelephoneNumber,
) -> Result<Option<HeldRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM number_inventory WHERE telephone_number = $1");
    let row: Option<HeldRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(number.as_str()).fetch_optional(pool).await?
    });
    row.map(HeldRow::into_record).transpose()
}

/// Inserts or replaces each record (creation time kept on replace).
pub async fn upsert(tx: &mut Tx, records: &[HeldRecord]) -> Result<(), StoreError> {
    insert(
        tx,
        records,
        "DO UPDATE SET state = excluded.state, account_name = excluded.account_name, \
         until = excluded.until, version = excluded.version, updated_at = excluded.updated_at",
    )
    .await
    .map(|_| ())
}

/// Inserts the records whose numbers have no row yet; returns the numbers inserted (a row
/// another transaction wrote first is left as it is).
pub async fn insert_new(
    tx: &mut Tx,
    records: &[HeldRecord],
) -> Result<std::collections::HashSet<String>, StoreError> {
    insert(tx, records, "DO NOTHING").await
}

/// Inserts `records`, doing `on_conflict` where a number has a row; returns the numbers
/// written.
async fn insert(
    tx: &mut Tx,
    records: &[HeldRecord],
    on_conflict: &str,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut written = std::collections::HashSet::with_capacity(records.len());
    for chunk in records.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<(String,)> = on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO number_inventory ({COLUMNS}) "));
            query.push_values(chunk, |mut row, record| {
                row.push_bind(record.telephone_number.as_str().to_owned())
                    .push_bind(record.state.as_str())
                    .push_bind(record.account_name.as_ref().map(|a| a.as_str().to_owned()))
                    .push_bind(record.until.clone())
                    .push_bind(record.version)
                    .push_bind(record.created_at.clone())
                    .push_bind(record.updated_at.clone());
            });
            query.push(format!(
                " ON CONFLICT (telephone_number) {on_conflict} RETURNING telephone_number"
            ));
            query.build_query_as().fetch_all(&mut *conn).await?
        });
        written.extend(rows.into_iter().map(|(n,)| n));
    }
    Ok(written)
}

/// The reservations held for `account`, locked.
pub async fn reserved_for_update(
    tx: &mut Tx,
    account: &AccountName,
) -> Result<Vec<HeldRecord>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM number_inventory WHERE account_name = $1 AND state = 'reserved' \
         ORDER BY telephone_number{}",
        tx.lock_clause()
    );
    let rows: Vec<HeldRow> = on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(account.as_str()).fetch_all(&mut *conn).await?
    });
    records(rows)
}

pub async fn delete(tx: &mut Tx, numbers: &[&TelephoneNumber]) -> Result<(), StoreError> {
    for chunk in numbers.chunks(ROWS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new("DELETE FROM number_inventory WHERE telephone_number IN (");
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

/// Reservations and quarantines that end at or before `at`, locked, at most `limit`. On
/// PostgreSQL rows another transaction holds are skipped (that node is ending them), so
/// nodes running expiry at once never wait on each other nor end a hold twice.
pub async fn due(tx: &mut Tx, at: &str, limit: i64) -> Result<Vec<HeldRecord>, StoreError> {
    let lock = match tx {
        Tx::Sqlite(_) => "",
        Tx::Postgres(_) => " FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM number_inventory \
         WHERE state IN ('reserved', 'quarantined') AND until IS NOT NULL AND until <= $1 \
         ORDER BY state, until LIMIT $2{lock}"
    );
    let rows: Vec<HeldRow> = on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(at).bind(limit).fetch_all(&mut *conn).await?
    });
    records(rows)
}

/// A page of inventory numbers matching `filter`, in number order after `after`. A number
/// that is in an account is never listed here, even if a row of it was left behind.
pub async fn list(
    db: &Database,
    filter: &InventoryFilter,
    after: Option<&TelephoneNumber>,
    limit: i64,
) -> Result<Vec<HeldRecord>, StoreError> {
    let rows: Vec<HeldRow> = on_pool!(db, pool => {
        // With a tag, the tag's index rows lead (see `numbers::push_source`).
        let (source, key) = match filter.tag {
            Some(_) => (
                "label_tags JOIN number_inventory i ON i.telephone_number = resource_key",
                "resource_key",
            ),
            None => ("number_inventory i", "i.telephone_number"),
        };
        let mut query = sqlx::QueryBuilder::new(format!(
            "SELECT i.telephone_number, state, account_name, until, version, created_at, \
             updated_at FROM {source} WHERE NOT EXISTS \
             (SELECT 1 FROM numbers n WHERE n.telephone_number = i.telephone_number)"
        ));
        if let Some(tag) = &filter.tag {
            query.push(" AND resource_type = 'number' AND tag = ").push_bind(tag.as_str().to_owned());
        }
        if let Some(state) = filter.state {
            query.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(account) = &filter.account {
            query.push(" AND account_name = ").push_bind(account.as_str().to_owned());
        }
        if let Some(prefix) = &filter.prefix {
            // A prefix of digits only (the door parsed it), so no LIKE wildcard can hide in it.
            query.push(" AND i.telephone_number LIKE ").push_bind(format!("{prefix}%"));
        }
        if let Some(after) = after {
            query.push(format!(" AND {key} > ")).push_bind(after.as_str().to_owned());
        }
        query.push(format!(" ORDER BY {key} LIMIT ")).push_bind(limit);
        query.build_query_as().fetch_all(pool).await?
    });
    records(rows)
}

/// How many inventory numbers are in each state (assigned ones are counted in `numbers`).
pub async fn count_by_state(db: &Database) -> Result<Vec<(String, i64)>, StoreError> {
    const SQL: &str = "SELECT state, COUNT(*) FROM number_inventory i WHERE NOT EXISTS \
                       (SELECT 1 FROM numbers n WHERE n.telephone_number = i.telephone_number) \
                       GROUP BY state ORDER BY state";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?))
}
