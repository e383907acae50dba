//! API tokens as stored: a name, the SHA-256 of the secret, roles, and when it was last used.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRow {
    pub name: String,
    pub roles: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

pub async fn insert(
    tx: &mut Tx,
    name: &str,
    hash: &str,
    roles: &str,
    at: &str,
) -> Result<bool, StoreError> {
    const SQL: &str =
        "INSERT INTO api_tokens (name, token_hash, roles, created_at) VALUES ($1, $2, $3, $4) \
                       ON CONFLICT (name) DO NOTHING";
    let inserted = on_tx!(tx, conn => {
        sqlx::query(SQL).bind(name).bind(hash).bind(roles).bind(at).execute(conn).await?.rows_affected()
    });
    Ok(inserted == 1)
}

pub async fn delete(tx: &mut Tx, name: &str) -> Result<bool, StoreError> {
    let deleted = on_tx!(tx, conn => {
        sqlx::query("DELETE FROM api_tokens WHERE name = $1").bind(name).execute(conn).await?.rows_affected()
    });
    Ok(deleted == 1)
}

pub async fn list(db: &Database) -> Result<Vec<TokenRow>, StoreError> {
    const SQL: &str = "SELECT name, roles, created_at, last_used_at FROM api_tokens ORDER BY name";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?))
}

/// The token whose secret hashes to `hash`, if any: a read only, so unknown secrets cost no write.
pub async fn by_hash(db: &Database, hash: &str) -> Result<Option<TokenRow>, StoreError> {
    const SQL: &str =
        "SELECT name, roles, created_at, last_used_at FROM api_tokens WHERE token_hash = $1";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).bind(hash).fetch_optional(pool).await?))
}

/// Records that the token whose secret hashes to `hash` was used at `at`.
pub async fn mark_used(db: &Database, hash: &str, at: &str) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2";
    on_pool!(db, pool => sqlx::query(SQL).bind(at).bind(hash).execute(pool).await?.rows_affected());
    Ok(())
}
