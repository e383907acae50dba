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

/// The audit event of a token change made from this machine's command line.
fn token_event(
    action: &str,
    name: &str,
    roles: Option<&str>,
    at: &str,
) -> crate::store::audit::AuditEvent {
    let operator = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    crate::store::audit::AuditEvent {
        id: None,
        at: at.to_owned(),
        actor: format!("cli:{operator}"),
        role: "Admin".to_owned(),
        door: "cli".to_owned(),
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
pub async fn create(db: &Database, name: &str, roles: &[Role]) -> Result<String, TokenError> {
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
    let event = token_event("create", name, Some(&roles_text(roles)), &at);
    crate::store::audit::record(&mut tx, &[event]).await?;
    tx.commit().await?;
    Ok(secret)
}

pub async fn revoke(db: &Database, name: &str) -> Result<(), TokenError> {
    let mut tx = db.begin().await?;
    if !tokens::delete(&mut tx, name).await? {
        return Err(TokenError::NoSuchToken(name.to_owned()));
    }
    crate::store::audit::record(&mut tx, &[token_event("delete", name, None, &now())]).await?;
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

/// The actor a bearer secret stands for, or `None` if no token has that secret.
pub async fn authenticate(db: &Database, secret: &str) -> Result<Option<Actor>, StoreError> {
    if !secret.starts_with(PREFIX) {
        return Ok(None);
    }
    let row = tokens::use_by_hash(db, &hash(secret), &now()).await?;
    Ok(row.map(|row| {
        Actor::new(
            format!("token:{}", row.name),
            &parse_roles(&row.roles),
            Door::Api,
        )
    }))
}
