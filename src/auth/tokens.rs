//! API tokens: a random secret shown once, kept only as its SHA-256, with roles.

use crate::provisioning::{Actor, Door, Role};
use crate::store::{tokens, Database, StoreError};
use sha2::{Digest, Sha256};

/// Every token starts with this, so a leaked one is easy to recognise in logs and scanners.
pub const PREFIX: &str = "nbt_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token named {0} already exists: revoke it first or pick another name")]
    NameTaken(String),
    #[error("no token is named {0}")]
    NoSuchToken(String),
    #[error("--name must be 1–100 characters of A–Z, a–z, 0–9, _, - and .")]
    BadName,
    #[error("give at least one --role (Read, Write, Delete, Admin)")]
    NoRole,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token as listed: never its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub name: String,
    pub roles: Vec<Role>,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_roles(text: &str) -> Vec<Role> {
    text.split(',').filter_map(Role::parse).collect()
}

fn now() -> String {
    crate::provisioning::timestamp()
}

/// The audit event of a token change made by `by` through `door`.
fn token_event(
    by: &str,
    door: Door,
    action: &str,
    name: &str,
    roles: Option<&str>,
    at: &str,
) -> crate::store::audit::AuditEvent {
    crate::store::audit::AuditEvent {
        id: None,
        at: at.to_owned(),
        actor: by.to_owned(),
        role: "Admin".to_owned(),
        door: door.as_str().to_owned(),
        action: action.to_owned(),
        resource_type: "apiToken".to_owned(),
        resource_key: name.to_owned(),
        version: None,
        before: None,
        after: roles.map(|r| serde_json::json!({ "name": name, "roles": r }).to_string()),
        account: None,
    }
}

/// Creates a token and returns its secret, which is not stored and cannot be shown again.
pub async fn create(
    db: &Database,
    by: &str,
    door: Door,
    name: &str,
    roles: &[Role],
) -> Result<String, TokenError> {
    let valid_name = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !valid_name {
        return Err(TokenError::BadName);
    }
    if roles.is_empty() {
        return Err(TokenError::NoRole);
    }
    let bytes: [u8; 32] = rand::random();
    let secret = format!(
        "{PREFIX}{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let mut tx = db.begin().await?;
    let at = now();
    if !tokens::insert(&mut tx, name, &hash(&secret), &roles_text(roles), &at).await? {
        return Err(TokenError::NameTaken(name.to_owned()));
    }
    let event = token_event(by, door, "create", name, Some(&roles_text(roles)), &at);
    crate::store::audit::record(&mut tx, &[event]).await?;
    tx.commit().await?;
    Ok(secret)
}

pub async fn revoke(db: &Database, by: &str, door: Door, name: &str) -> Result<(), TokenError> {
    let mut tx = db.begin().await?;
    if !tokens::delete(&mut tx, name).await? {
        return Err(TokenError::NoSuchToken(name.to_owned()));
    }
    crate::store::audit::record(
        &mut tx,
        &[token_event(by, door, "delete", name, None, &now())],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list(db: &Database) -> Result<Vec<TokenInfo>, TokenError> {
    Ok(tokens::list(db)
        .await?
        .into_iter()
        .map(|row| TokenInfo {
            roles: parse_roles(&row.roles),
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
        .collect())
}

/// Whether `secret` has the shape of a token this module makes: the prefix and 64 hex digits.
fn well_formed(secret: &str) -> bool {
    secret
        .strip_prefix(PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How stale `last_used_at` may get before a use writes it again: one write a minute per token,
/// not one per request.
const LAST_USED_GRAIN_SECS: i64 = 60;

/// The actor a bearer secret stands for, or `None` if no token has that secret. A malformed or
/// unknown secret reads at most one row and writes nothing.
pub async fn authenticate(db: &Database, secret: &str) -> Result<Option<Actor>, StoreError> {
    if !well_formed(secret) {
        return Ok(None);
    }
    let hash = hash(secret);
    let Some(row) = tokens::by_hash(db, &hash).await? else {
        return Ok(None);
    };
    let now = time::OffsetDateTime::now_utc();
    let stale = row.last_used_at.as_deref().is_none_or(|at| {
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .map_or(true, |at| {
                (now - at).whole_seconds() >= LAST_USED_GRAIN_SECS
            })
    });
    if stale {
        tokens::mark_used(db, &hash, &crate::provisioning::timestamp()).await?;
    }
    Ok(Some(Actor::new(
        format!("token:{}", row.name),
        &parse_roles(&row.roles),
        Door::Api,
    )))
}
