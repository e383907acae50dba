//! API tokens: creating one (a random secret shown once, kept only as its SHA-256, with roles)
//! and revoking it, permitted (Admin) and audited like every other write; and the actor a
//! bearer secret stands for. Depends on `store`.

use super::{audit_event, Actor, Change, Door, Permission, Provisioning, ProvisioningError, Role};
use crate::store::{audit, tokens, StoreError};
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
    #[error("{principal} may not manage API tokens: it needs the Admin role")]
    Forbidden { principal: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ProvisioningError> for TokenError {
    fn from(error: ProvisioningError) -> Self {
        match error {
            ProvisioningError::Forbidden { principal, .. } => Self::Forbidden { principal },
            ProvisioningError::Store(error) => Self::Store(error),
            other => Self::Store(StoreError::Corrupt(other.to_string())),
        }
    }
}

impl From<sqlx::Error> for TokenError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

/// A token as listed: never its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub name: String,
    pub roles: Vec<Role>,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A secret as stored: its SHA-256 in hex.
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

/// A change to the token `name`, as the audit trail records it.
fn token_change<'a>(action: &'a str, name: &'a str, roles: Option<&str>) -> Change<'a> {
    Change {
        action,
        resource_type: "apiToken",
        key: name,
        version: None,
        before: None,
        after: roles.map(|r| serde_json::json!({ "name": name, "roles": r }).to_string()),
        account: None,
    }
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

impl Provisioning {
    /// The actor a bearer secret stands for, or `None` if no token has that secret. A malformed or
    /// unknown secret reads at most one row and writes nothing.
    pub async fn authenticate_token(
        &self,
        secret: &str,
    ) -> Result<Option<Actor>, ProvisioningError> {
        if !well_formed(secret) {
            return Ok(None);
        }
        let hash = hash(secret);
        let Some(row) = tokens::by_hash(&self.db, &hash).await? else {
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
            // Best effort: a busy database must not refuse a valid token over a timestamp.
            if let Err(error) = tokens::mark_used(&self.db, &hash, &super::timestamp()).await {
                tracing::warn!(%error, token = %row.name, "could not record an API token's last use");
            }
        }
        Ok(Some(Actor::new(
            format!("token:{}", row.name),
            &parse_roles(&row.roles),
            Door::Api,
        )))
    }

    /// Every API token (Admin only): never a secret.
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<TokenInfo>, TokenError> {
        actor.permit(Permission::Administer)?;
        Ok(tokens::list(&self.db)
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

    /// Creates a token and returns its secret, which is not stored and cannot be shown again.
    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        roles: &[Role],
    ) -> Result<String, TokenError> {
        let permit = actor.permit(Permission::Administer)?;
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
        let at = super::now();
        let mut tx = self.begin(&permit).await?;
        if !tokens::insert(&mut tx, name, &hash(&secret), &roles_text(roles), &at).await? {
            return Err(TokenError::NameTaken(name.to_owned()));
        }
        let change = token_change("create", name, Some(&roles_text(roles)));
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Revokes a token: requests carrying it are refused from now on.
    pub async fn revoke_token(&self, actor: &Actor, name: &str) -> Result<(), TokenError> {
        let permit = actor.permit(Permission::Administer)?;
        let at = super::now();
        let mut tx = self.begin(&permit).await?;
        if !tokens::delete(&mut tx, name).await? {
            return Err(TokenError::NoSuchToken(name.to_owned()));
        }
        let change = token_change("delete", name, None);
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        Ok(())
    }
}
