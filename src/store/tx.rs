//! One write transaction on either database, and a macro that runs the same sqlx code on both.

use super::{Database, StoreError};
use sqlx::{Postgres, Sqlite, Transaction};

/// A transaction on SQLite (begun IMMEDIATE, so concurrent writers queue instead of failing)
/// or PostgreSQL.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$conn` bound to the connection under either kind of transaction. The
/// body is written once and compiled for each database.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(transaction) => {
                let $conn = &mut **transaction;
                $body
            }
            $crate::store::Tx::Postgres(transaction) => {
                let $conn = &mut **transaction;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

/// Runs `$body` with `$pool` bound to either kind of pool.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Database::Sqlite($pool) => $body,
            $crate::store::Database::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

impl Database {
    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Database::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Database::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        commits().send_modify(|count| *count += 1);
        Ok(())
    }

    /// Undoes everything done in the transaction.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    /// `FOR UPDATE` where the database has row locks; SQLite's IMMEDIATE transaction already
    /// holds the only write lock.
    pub fn lock_clause(&self) -> &'static str {
        match self {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => " FOR UPDATE",
        }
    }
}

/// Counts this process's commits, so readers in the process (the routing index) can look for
/// changes at once instead of at their next poll.
pub fn commits() -> &'static tokio::sync::watch::Sender<u64> {
    static COMMITS: std::sync::OnceLock<tokio::sync::watch::Sender<u64>> =
        std::sync::OnceLock::new();
    COMMITS.get_or_init(|| tokio::sync::watch::Sender::new(0))
}
