//! Reads for the routing index: every number's routing columns, accounts' Direct Routing
//! set-up, and the audit trail read as a feed of what changed.

use super::service_columns::{self, Enabled};
use super::tx::on_pool;
use super::{Database, StoreError};
use crate::domain::{InventoryState, LineType};
use futures_util::StreamExt;

/// A number's routing facts as loaded from the store: what the routing index holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberFacts {
    pub number: String,
    pub account: String,
    pub services: u8,
    pub line_type: LineType,
    pub custom_sip_header: Option<String>,
}

/// An account as the gateway needs it at call time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRoute {
    pub name: Box<str>,
    /// Direct Routing's customer subdomain label, call screening and TXT tokens, when set.
    pub direct_routing: Option<DirectRoutingRoute>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectRoutingRoute {
    /// Lower case.
    pub label: Box<str>,
    pub call_screening: bool,
    pub tokens: [Box<str>; 2],
}

/// The channel PostgreSQL notifies on when a transaction recorded audit events.
pub const CHANGES_CHANNEL: &str = "numbat_changes";

#[derive(sqlx::FromRow)]
struct NumberRow {
    telephone_number: String,
    account_name: String,
    #[sqlx(flatten)]
    enabled: Enabled,
    custom_sip_header: Option<String>,
    line_type: String,
}

impl From<NumberRow> for NumberFacts {
    fn from(row: NumberRow) -> Self {
        NumberFacts {
            number: row.telephone_number,
            account: row.account_name,
            services: row.enabled.bits(),
            line_type: LineType::ALL
                .into_iter()
                .find(|l| l.as_str() == row.line_type)
                .unwrap_or_default(),
            custom_sip_header: row.custom_sip_header,
        }
    }
}

/// A number's routing columns: the services' from the table.
fn number_columns() -> &'static str {
    static COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let enabled: Vec<&str> = service_columns::columns("enabled").collect();
        format!(
            "telephone_number, account_name, {}, custom_sip_header, line_type",
            enabled.join(", ")
        )
    });
    &COLUMNS
}

/// Every number, streamed to `each` without holding them all as rows.
pub async fn each_number(
    db: &Database,
    mut each: impl FnMut(NumberFacts),
) -> Result<(), StoreError> {
    let sql = format!("SELECT {} FROM numbers", number_columns());
    on_pool!(db, pool => {
        let mut rows = sqlx::query_as::<_, NumberRow>(&sql).fetch(pool);
        while let Some(row) = rows.next().await {
            each(row?.into());
        }
    });
    Ok(())
}

/// How many numbers there are, to size a load.
pub async fn count_numbers(db: &Database) -> Result<usize, StoreError> {
    on_pool!(db, pool => {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM numbers").fetch_one(pool).await?;
        Ok(count.max(0) as usize)
    })
}

/// The numbers among `keys` that exist.
pub async fn numbers(db: &Database, keys: &[String]) -> Result<Vec<NumberFacts>, StoreError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {} FROM numbers WHERE telephone_number IN ({})",
            number_columns(),
            marks.join(", ")
        );
        on_pool!(db, pool => {
            let mut query = sqlx::query_as::<_, NumberRow>(&sql);
            for key in chunk {
                query = query.bind(key);
            }
            found.extend(query.fetch_all(pool).await?.into_iter().map(NumberFacts::from));
        });
    }
    Ok(found)
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    name: String,
    dr_call_screening: Option<bool>,
    dr_subdomain: Option<String>,
    dr_region1_token: Option<String>,
    dr_region2_token: Option<String>,
}

impl From<AccountRow> for AccountRoute {
    fn from(row: AccountRow) -> Self {
        let direct_routing = match (row.dr_subdomain, row.dr_region1_token, row.dr_region2_token) {
            (Some(label), Some(t1), Some(t2)) => Some(DirectRoutingRoute {
                label: label.to_ascii_lowercase().into(),
                call_screening: row.dr_call_screening.unwrap_or(true),
                tokens: [t1.into(), t2.into()],
            }),
            _ => None,
        };
        AccountRoute {
            name: row.name.into(),
            direct_routing,
        }
    }
}

const ACCOUNT_COLUMNS: &str =
    "name, dr_call_screening, dr_subdomain, dr_region1_token, dr_region2_token";

/// Every account.
pub async fn all_accounts(db: &Database) -> Result<Vec<AccountRoute>, StoreError> {
    // Oldest first: when two accounts ask for one subdomain label, the older keeps it.
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, name");
    on_pool!(db, pool => {
        let rows = sqlx::query_as::<_, AccountRow>(&sql).fetch_all(pool).await?;
        Ok(rows.into_iter().map(AccountRoute::from).collect())
    })
}

/// The accounts whose Direct Routing subdomain label is `label` (any case), oldest first (the
/// oldest holds a label two accounts ask for), through the label's index.
pub async fn accounts_by_label(
    db: &Database,
    label: &str,
) -> Result<Vec<AccountRoute>, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE LOWER(dr_subdomain) = $1 ORDER BY created_at, name"
    );
    on_pool!(db, pool => {
        let rows = sqlx::query_as::<_, AccountRow>(&sql)
            .bind(label.to_ascii_lowercase())
            .fetch_all(pool)
            .await?;
        Ok(rows.into_iter().map(AccountRoute::from).collect())
    })
}

/// The accounts among `names` that exist.
pub async fn accounts(db: &Database, names: &[String]) -> Result<Vec<AccountRoute>, StoreError> {
    let mut found = Vec::new();
    for chunk in names.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name IN ({})",
            marks.join(", ")
        );
        on_pool!(db, pool => {
            let mut query = sqlx::query_as::<_, AccountRow>(&sql);
            for name in chunk {
                query = query.bind(name);
            }
            found.extend(query.fetch_all(pool).await?.into_iter().map(AccountRoute::from));
        });
    }
    Ok(found)
}

/// One audit event, as the feed needs it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Change {
    pub id: i64,
    pub resource_type: String,
    pub resource_key: String,
}

/// Audit events after `after`, oldest first, at most `limit`.
pub async fn changes_after(
    db: &Database,
    after: i64,
    limit: i64,
) -> Result<Vec<Change>, StoreError> {
    let sql = "SELECT id, resource_type, resource_key FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2";
    on_pool!(db, pool => {
        Ok(sqlx::query_as::<_, Change>(sql).bind(after).bind(limit).fetch_all(pool).await?)
    })
}

/// The newest audit event's id (0 when there is none).
pub async fn last_change(db: &Database) -> Result<i64, StoreError> {
    let sql = "SELECT COALESCE(MAX(id), 0) FROM audit_events";
    on_pool!(db, pool => {
        let (id,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await?;
        Ok(id)
    })
}

/// Every number held back from calls (reserved or quarantined), streamed to `each`.
pub async fn each_hold(
    db: &Database,
    mut each: impl FnMut(&str, InventoryState),
) -> Result<(), StoreError> {
    const SQL: &str = "SELECT telephone_number, state FROM number_inventory \
                       WHERE state IN ('reserved', 'quarantined')";
    on_pool!(db, pool => {
        let mut rows = sqlx::query_as::<_, (String, String)>(SQL).fetch(pool);
        while let Some(row) = rows.next().await {
            let (number, state) = row?;
            if let Some(state) = InventoryState::parse(&state) {
                each(&number, state);
            }
        }
    });
    Ok(())
}

/// The inventory state of each of `keys` that is in the inventory (not in an account).
pub async fn holds(
    db: &Database,
    keys: &[String],
) -> Result<Vec<(String, InventoryState)>, StoreError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT telephone_number, state FROM number_inventory WHERE telephone_number IN ({})",
            marks.join(", ")
        );
        on_pool!(db, pool => {
            let mut query = sqlx::query_as::<_, (String, String)>(&sql);
            for key in chunk {
                query = query.bind(key);
            }
            for (number, state) in query.fetch_all(pool).await? {
                if let Some(state) = InventoryState::parse(&state) {
                    found.push((number, state));
                }
            }
        });
    }
    Ok(found)
}
