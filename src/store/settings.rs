//! Deployment settings: a few named values that hold for the whole deployment.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};

pub async fn all(db: &Database) -> Result<Vec<(String, String)>, StoreError> {
    const SQL: &str = "SELECT key, value FROM deployment_settings ORDER BY key";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?))
}

pub async fn put(tx: &mut Tx, key: &str, value: Option<&str>, at: &str) -> Result<(), StoreError> {
    match value {
        Some(value) => {
            const SQL: &str = "INSERT INTO deployment_settings (key, value, updated_at) VALUES ($1, $2, $3) \
                               ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
            on_tx!(tx, conn => {
                sqlx::query(SQL).bind(key).bind(value).bind(at).execute(conn).await?;
            });
        }
        None => {
            on_tx!(tx, conn => {
                sqlx::query("DELETE FROM deployment_settings WHERE key = $1").bind(key).execute(conn).await?;
            });
        }
    }
    Ok(())
}

/// One setting, read inside a write transaction.
pub async fn value_in(tx: &mut Tx, key: &str) -> Result<Option<String>, StoreError> {
    const SQL: &str = "SELECT value FROM deployment_settings WHERE key = $1";
    let found: Option<(String,)> = on_tx!(tx, conn => {
        sqlx::query_as(SQL).bind(key).fetch_optional(&mut *conn).await?
    });
    Ok(found.map(|(v,)| v))
}
