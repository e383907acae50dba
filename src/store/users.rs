//! Portal users as stored: name, argon2 password hash, roles, and whether the password is a
//! one-time one that must be changed.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    pub name: String,
    pub password_hash: Option<String>,
    pub must_change_password: bool,
    pub roles: String,
    pub created_at: String,
    pub last_sign_in_at: Option<String>,
}

const COLUMNS: &str =
    "name, password_hash, must_change_password, roles, created_at, last_sign_in_at";

/// Adds a user; false when the name is taken.
pub async fn insert(tx: &mut Tx, row: &UserRow) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO portal_users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (name) DO NOTHING"
    );
    let inserted = on_tx!(tx, conn => {
        sqlx::query(&sql)
            .bind(&row.name)
            .bind(&row.password_hash)
            .bind(row.must_change_password)
            .bind(&row.roles)
            .bind(&row.created_at)
            .bind(&row.last_sign_in_at)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(inserted == 1)
}

pub async fn get(db: &Database, name: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM portal_users WHERE name = $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(name).fetch_optional(pool).await?))
}

pub async fn list(db: &Database) -> Result<Vec<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM portal_users ORDER BY name");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await?))
}

/// Every user's name and roles, locked for the rest of the transaction where the database
/// has row locks (SQLite's IMMEDIATE transaction already holds the only write lock), in name
/// order so two such transactions never wait on each other crosswise. Two changes that each
/// leave "one other" AdminUser cannot both commit: the second reads what the first left.
pub async fn all_for_update(tx: &mut Tx) -> Result<Vec<(String, String)>, StoreError> {
    let sql = format!(
        "SELECT name, roles FROM portal_users ORDER BY name{}",
        tx.lock_clause()
    );
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).fetch_all(conn).await?))
}

pub async fn count(db: &Database) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM portal_users";
    Ok(on_pool!(db, pool => sqlx::query_scalar(SQL).fetch_one(pool).await?))
}

/// Sets the password hash and whether it must be changed; false when there is no such user.
pub async fn set_password(
    tx: &mut Tx,
    name: &str,
    hash: &str,
    must_change: bool,
) -> Result<bool, StoreError> {
    const SQL: &str =
        "UPDATE portal_users SET password_hash = $1, must_change_password = $2 WHERE name = $3";
    let updated = on_tx!(tx, conn => {
        sqlx::query(SQL).bind(hash).bind(must_change).bind(name).execute(conn).await?.rows_affected()
    });
    Ok(updated == 1)
}

pub async fn set_roles(tx: &mut Tx, name: &str, roles: &str) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE portal_users SET roles = $1 WHERE name = $2";
    let updated = on_tx!(tx, conn => {
        sqlx::query(SQL).bind(roles).bind(name).execute(conn).await?.rows_affected()
    });
    Ok(updated == 1)
}

pub async fn mark_signed_in(db: &Database, name: &str, at: &str) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE portal_users SET last_sign_in_at = $1 WHERE name = $2";
    on_pool!(db, pool => sqlx::query(SQL).bind(at).bind(name).execute(pool).await?.rows_affected());
    Ok(())
}

pub async fn delete(tx: &mut Tx, name: &str) -> Result<bool, StoreError> {
    let deleted = on_tx!(tx, conn => {
        sqlx::query("DELETE FROM portal_users WHERE name = $1").bind(name).execute(conn).await?.rows_affected()
    });
    Ok(deleted == 1)
}

/// Links the identity `subject` at `issuer` to the user `name`, replacing any earlier link of
/// that identity.
pub async fn link_sso(
    tx: &mut Tx,
    issuer: &str,
    subject: &str,
    name: &str,
    at: &str,
) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO portal_sso_links (issuer, subject, user_name, linked_at) \
                       VALUES ($1, $2, $3, $4) ON CONFLICT (issuer, subject) \
                       DO UPDATE SET user_name = excluded.user_name, linked_at = excluded.linked_at";
    on_tx!(tx, conn => {
        sqlx::query(SQL).bind(issuer).bind(subject).bind(name).bind(at).execute(conn).await?.rows_affected()
    });
    Ok(())
}

/// Removes every single sign-on link of the user `name`; how many there were.
pub async fn unlink_sso(tx: &mut Tx, name: &str) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query("DELETE FROM portal_sso_links WHERE user_name = $1").bind(name).execute(conn).await?.rows_affected()
    }))
}

/// The local user the identity `subject` at `issuer` is linked to, if any.
pub async fn linked_user(
    db: &Database,
    issuer: &str,
    subject: &str,
) -> Result<Option<String>, StoreError> {
    const SQL: &str = "SELECT user_name FROM portal_sso_links WHERE issuer = $1 AND subject = $2";
    Ok(
        on_pool!(db, pool => sqlx::query_scalar(SQL).bind(issuer).bind(subject).fetch_optional(pool).await?),
    )
}
