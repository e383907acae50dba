//! Billable users per day, service and account: a day is taken once (its row in
//! `billing_days`), its counts written with it and never changed afterwards. The counting
//! condition of each service is the core's to give. Depends on `domain` only.

use super::service_columns::column;
use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use crate::domain::Service;

/// Rows per INSERT: four values each, well inside SQLite's limit on bound values.
const ROWS_PER_STATEMENT: usize = 1000;

/// Which of a service's numbers count: those with it on, or only those also synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    pub service: Service,
    pub only_synced: bool,
}

/// Marks `day` taken by `node`; false when another transaction already took it (nothing
/// written then).
pub async fn take_day(tx: &mut Tx, day: &str, at: &str, node: &str) -> Result<bool, StoreError> {
    const SQL: &str = "INSERT INTO billing_days (day, taken_at, node) VALUES ($1, $2, $3) \
                       ON CONFLICT (day) DO NOTHING";
    let done = on_tx!(tx, conn => {
        sqlx::query(SQL).bind(day).bind(at).bind(node).execute(&mut *conn).await?.rows_affected()
    });
    Ok(done == 1)
}

/// Per account, how many numbers each of `counted` bills for now (in `counted`'s order).
pub async fn count_now(
    db: &Database,
    counted: &[Counted],
) -> Result<Vec<(String, Vec<i64>)>, StoreError> {
    let sums: Vec<String> = counted
        .iter()
        .map(|c| {
            let synced = if c.only_synced {
                " AND provisioning_status = 'synced'"
            } else {
                ""
            };
            format!(
                "SUM(CASE WHEN {} = TRUE{synced} THEN 1 ELSE 0 END)",
                column(c.service, "enabled")
            )
        })
        .collect();
    let sql = format!(
        "SELECT account_name, {} FROM numbers GROUP BY account_name ORDER BY account_name",
        sums.join(", ")
    );
    let rows = on_pool!(db, pool => {
        let rows = sqlx::query(&sql).fetch_all(pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            use sqlx::Row;
            let account: String = row.try_get(0)?;
            let mut users = Vec::with_capacity(counted.len());
            for i in 0..counted.len() {
                let n: Option<i64> = row.try_get(i + 1)?;
                users.push(n.unwrap_or(0));
            }
            out.push((account, users));
        }
        out
    });
    Ok(rows)
}

/// Writes a day's counts: (service, account, users).
pub async fn insert(
    tx: &mut Tx,
    day: &str,
    rows: &[(Service, String, i64)],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        on_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO billing_snapshots (day, service, account_name, users) ",
            );
            query.push_values(chunk, |mut row, (service, account, users)| {
                row.push_bind(day.to_owned())
                    .push_bind(service.wire_name())
                    .push_bind(account.clone())
                    .push_bind(*users);
            });
            query.build().execute(&mut *conn).await?;
        });
    }
    Ok(())
}

/// Whether `day` was taken.
pub async fn day_taken(db: &Database, day: &str) -> Result<bool, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM billing_days WHERE day = $1";
    let n: i64 = on_pool!(db, pool => sqlx::query_scalar(SQL).bind(day).fetch_one(pool).await?);
    Ok(n > 0)
}

/// The days taken from `first` to `last` (inclusive, `YYYY-MM-DD`), oldest first.
pub async fn days(db: &Database, first: &str, last: &str) -> Result<Vec<String>, StoreError> {
    const SQL: &str = "SELECT day FROM billing_days WHERE day >= $1 AND day <= $2 ORDER BY day";
    Ok(on_pool!(db, pool => sqlx::query_scalar(SQL).bind(first).bind(last).fetch_all(pool).await?))
}

/// Per day and service, the users of every account together, from `first` to `last`.
pub async fn daily_totals(
    db: &Database,
    first: &str,
    last: &str,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    const SQL: &str = "SELECT day, service, CAST(SUM(users) AS BIGINT) FROM billing_snapshots \
                       WHERE day >= $1 AND day <= $2 GROUP BY day, service ORDER BY day, service";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).bind(first).bind(last).fetch_all(pool).await?))
}

/// Per service and account, the most users on any day from `first` to `last`, and the users
/// on `latest` (0 when the account had none that day).
pub async fn per_account(
    db: &Database,
    first: &str,
    last: &str,
    latest: &str,
) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
    const SQL: &str = "SELECT service, account_name, MAX(users), \
                       CAST(SUM(CASE WHEN day = $3 THEN users ELSE 0 END) AS BIGINT) \
                       FROM billing_snapshots WHERE day >= $1 AND day <= $2 \
                       GROUP BY service, account_name ORDER BY service, account_name";
    Ok(
        on_pool!(db, pool => sqlx::query_as(SQL).bind(first).bind(last).bind(latest).fetch_all(pool).await?),
    )
}
