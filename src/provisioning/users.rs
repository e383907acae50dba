//! Portal users and their writes: adding, roles, one-time passwords, removal and single
//! sign-on links (each permitted for Admin only, the last AdminUser checked inside the
//! transaction, audited with the real person and door), a user's own password change (any
//! signed-in user, their own only), and the lock after repeated wrong passwords (audited with
//! the source address, as nobody is signed in). And the reads signing in needs:
//! a password checked, a single sign-on identity's user. Depends on `domain` and `store`.

use super::{audit_event, Actor, Change, Permission, Permit, Provisioning, ProvisioningError};
use crate::domain::portal::{PortalRole, MAX_PASSWORD_BYTES, MIN_PASSWORD_LEN};
use crate::store::users::{self, UserRow};
use crate::store::{audit, StoreError};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user named {0} already exists")]
    NameTaken(String),
    #[error("no user is named {0}")]
    NoSuchUser(String),
    #[error("user name must be 1–100 characters of letters, digits, and . _ @ + - (an email address works)")]
    BadName,
    #[error("give at least one role (ReadUser, WriteUser, DeleteUser, AdminUser)")]
    NoRole,
    #[error("the new password must be at least {MIN_PASSWORD_LEN} characters")]
    PasswordTooShort,
    #[error("the new password must differ from the current one")]
    PasswordUnchanged,
    #[error("the current password is not correct")]
    WrongPassword,
    #[error("a single sign-on subject is 1–255 visible characters (the ID token's oid for Entra ID, else sub)")]
    BadSubject,
    #[error("the last AdminUser cannot be removed or lose AdminUser: add another admin first")]
    LastAdmin,
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error("the server is busy checking other passwords; try again in a few seconds")]
    Busy,
    #[error("a password is at most {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    #[error("{principal} may not manage users: it needs the Admin role")]
    Forbidden { principal: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ProvisioningError> for UserError {
    fn from(error: ProvisioningError) -> Self {
        match error {
            ProvisioningError::Forbidden { principal, .. } => Self::Forbidden { principal },
            ProvisioningError::Store(error) => Self::Store(error),
            other => Self::Store(StoreError::Corrupt(other.to_string())),
        }
    }
}

impl From<sqlx::Error> for UserError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

/// A user as listed: never the password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub roles: Vec<PortalRole>,
    pub must_change_password: bool,
    pub has_password: bool,
    pub created_at: String,
    pub last_sign_in_at: Option<String>,
}

impl From<UserRow> for UserInfo {
    fn from(row: UserRow) -> Self {
        Self {
            roles: PortalRole::parse_list(&row.roles),
            name: row.name,
            must_change_password: row.must_change_password,
            has_password: row.password_hash.is_some(),
            created_at: row.created_at,
            last_sign_in_at: row.last_sign_in_at,
        }
    }
}

/// Whether a user could be named `name` at all (so a sign-in for it is worth a hash).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c))
}

/// Passwords hashed at once. Each argon2 hash takes 19 MiB and a core for a moment, so a flood
/// of sign-ins waits here instead of exhausting memory or every blocking thread.
fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        tokio::sync::Semaphore::new(cores.clamp(1, 8))
    })
}

/// How long a sign-in waits for a turn to hash before it is told the server is busy.
const HASH_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `work` (a hash or a check) on the blocking pool once a hashing permit is free.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, UserError> {
    let _permit = tokio::time::timeout(HASH_QUEUE_WAIT, hashing_permits().acquire())
        .await
        .map_err(|_| UserError::Busy)?
        .map_err(|_| UserError::Busy)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| UserError::Hash(e.to_string()))
}

fn hash_password(password: &str) -> Result<String, UserError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A random password of 20 characters from an alphabet without look-alikes.
fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn roles_text(roles: &[PortalRole]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A change to the user `name`, as the audit trail records it.
fn user_change<'a>(action: &'a str, name: &'a str, after: Option<serde_json::Value>) -> Change<'a> {
    Change {
        action,
        resource_type: "portalUser",
        key: name,
        version: None,
        before: None,
        after: after.map(|a| a.to_string()),
        account: None,
    }
}

/// Records `change`, made under `permit`, in `tx`.
async fn audited(
    tx: &mut crate::store::Tx,
    permit: &Permit<'_>,
    change: Change<'_>,
) -> Result<(), UserError> {
    let at = super::now();
    audit::record(tx, &[audit_event(permit, &at, change)]).await?;
    Ok(())
}

/// Refuses a change that would leave no AdminUser, checked inside the change's transaction
/// with every user row locked, so two admins removing each other at once leave one.
async fn refuse_losing_last_admin(tx: &mut crate::store::Tx, name: &str) -> Result<(), UserError> {
    let admins: Vec<String> = users::all_for_update(tx)
        .await?
        .into_iter()
        .filter(|(_, roles)| PortalRole::parse_list(roles).contains(&PortalRole::AdminUser))
        .map(|(name, _)| name)
        .collect();
    if admins.len() == 1 && admins[0] == name {
        return Err(UserError::LastAdmin);
    }
    Ok(())
}

/// Sign-in reads: nobody is signed in yet, so they take no actor. They never write but the
/// time of a successful sign-in.
impl Provisioning {
    /// The user named `name`, if any (a session names its user; signing in looks them up).
    pub async fn user(&self, name: &str) -> Result<Option<UserInfo>, UserError> {
        Ok(users::get(&self.db, name).await?.map(UserInfo::from))
    }

    /// How many portal users there are (none: the first admin is still to be made).
    pub async fn user_count(&self) -> Result<i64, UserError> {
        Ok(users::count(&self.db).await?)
    }

    /// The user if `password` is theirs, recording the sign-in. Takes the same time whether or
    /// not the user exists.
    pub async fn verify_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<UserInfo>, UserError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(UserError::PasswordTooLong);
        }
        let row = users::get(&self.db, name).await?;
        let stored = row.as_ref().and_then(|r| r.password_hash.clone());
        let password = password.to_owned();
        let matches = hashing(move || match stored {
            Some(stored) => password_matches(&password, &stored),
            None => {
                // Spend the same effort on unknown users so timing does not reveal who exists.
                let _ = hash_password(&password);
                false
            }
        })
        .await?;
        if !matches {
            return Ok(None);
        }
        users::mark_signed_in(&self.db, name, &super::timestamp()).await?;
        Ok(row.map(UserInfo::from))
    }

    /// The local user linked to the identity `subject` at `issuer`, if any.
    pub async fn user_linked_to(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<UserInfo>, UserError> {
        match users::linked_user(&self.db, issuer, subject).await? {
            Some(name) => self.user(&name).await,
            None => Ok(None),
        }
    }

    /// The store that keeps portal sessions (they live in the database, so on every node).
    pub fn session_store(&self) -> super::SessionStore {
        crate::store::sessions::DatabaseSessionStore::new(self.db.clone())
    }
}

impl Provisioning {
    /// Every portal user (Admin only): never a password hash.
    pub async fn users(&self, actor: &Actor) -> Result<Vec<UserInfo>, UserError> {
        actor.permit(Permission::Administer)?;
        Ok(users::list(&self.db)
            .await?
            .into_iter()
            .map(UserInfo::from)
            .collect())
    }

    /// Adds a user with a one-time password, which is returned and not kept.
    pub async fn add_user(
        &self,
        actor: &Actor,
        name: &str,
        roles: &[PortalRole],
    ) -> Result<String, UserError> {
        let permit = actor.permit(Permission::Administer)?;
        if !valid_name(name) {
            return Err(UserError::BadName);
        }
        if roles.is_empty() {
            return Err(UserError::NoRole);
        }
        let password = one_time_password();
        let row = UserRow {
            name: name.to_owned(),
            password_hash: Some(hash_password(&password)?),
            must_change_password: true,
            roles: roles_text(roles),
            created_at: super::timestamp(),
            last_sign_in_at: None,
        };
        let mut tx = self.begin(&permit).await?;
        if !users::insert(&mut tx, &row).await? {
            return Err(UserError::NameTaken(name.to_owned()));
        }
        let after = serde_json::json!({ "name": name, "roles": row.roles });
        audited(&mut tx, &permit, user_change("create", name, Some(after))).await?;
        tx.commit().await?;
        Ok(password)
    }

    /// Gives the user a new one-time password (returned, not kept) and ends their sessions.
    pub async fn reset_user_password(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<String, UserError> {
        let permit = actor.permit(Permission::Administer)?;
        let password = one_time_password();
        let hash = hash_password(&password)?;
        let mut tx = self.begin(&permit).await?;
        if !users::set_password(&mut tx, name, &hash, true).await? {
            return Err(UserError::NoSuchUser(name.to_owned()));
        }
        audited(&mut tx, &permit, user_change("resetPassword", name, None)).await?;
        tx.commit().await?;
        // The new password is set: it must reach the admin even if the old sessions linger.
        if let Err(error) = self.forget_sessions_of(name).await {
            tracing::error!(%error, user = name, "could not end the sessions of a user whose password was reset");
        }
        Ok(password)
    }

    /// Replaces the user's roles, keeping at least one AdminUser in the deployment.
    pub async fn set_user_roles(
        &self,
        actor: &Actor,
        name: &str,
        roles: &[PortalRole],
    ) -> Result<(), UserError> {
        let permit = actor.permit(Permission::Administer)?;
        if roles.is_empty() {
            return Err(UserError::NoRole);
        }
        let mut tx = self.begin(&permit).await?;
        if !roles.contains(&PortalRole::AdminUser) {
            refuse_losing_last_admin(&mut tx, name).await?;
        }
        if !users::set_roles(&mut tx, name, &roles_text(roles)).await? {
            return Err(UserError::NoSuchUser(name.to_owned()));
        }
        let after = serde_json::json!({ "name": name, "roles": roles_text(roles) });
        audited(&mut tx, &permit, user_change("update", name, Some(after))).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes the user and ends their sessions, keeping at least one AdminUser.
    pub async fn remove_user(&self, actor: &Actor, name: &str) -> Result<(), UserError> {
        let permit = actor.permit(Permission::Administer)?;
        let mut tx = self.begin(&permit).await?;
        refuse_losing_last_admin(&mut tx, name).await?;
        if !users::delete(&mut tx, name).await? {
            return Err(UserError::NoSuchUser(name.to_owned()));
        }
        users::unlink_sso(&mut tx, name).await?;
        audited(&mut tx, &permit, user_change("delete", name, None)).await?;
        tx.commit().await?;
        self.forget_sessions_of(name).await?;
        Ok(())
    }

    /// Links the single sign-on identity `subject` at `issuer` to the local user `name`, so that
    /// person signs in as `name` with `name`'s roles whatever their username or email at the
    /// identity provider says (Admin only).
    pub async fn link_user_sso(
        &self,
        actor: &Actor,
        name: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<(), UserError> {
        let permit = actor.permit(Permission::Administer)?;
        let subject = subject.trim();
        if subject.is_empty()
            || subject.len() > 255
            || subject.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(UserError::BadSubject);
        }
        let mut tx = self.begin(&permit).await?;
        if users::get(&self.db, name).await?.is_none() {
            return Err(UserError::NoSuchUser(name.to_owned()));
        }
        users::link_sso(&mut tx, issuer, subject, name, &super::timestamp()).await?;
        let after = serde_json::json!({ "name": name, "ssoIssuer": issuer, "ssoSubject": subject });
        audited(
            &mut tx,
            &permit,
            user_change("linkSingleSignOn", name, Some(after)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the actor's own password after checking the current one. Every portal user may
    /// (each portal role reads), and only their own.
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
    ) -> Result<(), UserError> {
        let permit = actor.permit(Permission::Read)?;
        let name = actor.principal.as_str();
        if new.chars().count() < MIN_PASSWORD_LEN {
            return Err(UserError::PasswordTooShort);
        }
        if new.len() > MAX_PASSWORD_BYTES || current.len() > MAX_PASSWORD_BYTES {
            return Err(UserError::PasswordTooLong);
        }
        if new == current {
            return Err(UserError::PasswordUnchanged);
        }
        let stored = users::get(&self.db, name)
            .await?
            .and_then(|row| row.password_hash);
        let current = current.to_owned();
        let matches =
            hashing(move || stored.is_some_and(|stored| password_matches(&current, &stored)))
                .await?;
        if !matches {
            return Err(UserError::WrongPassword);
        }
        let new = new.to_owned();
        let hash = hashing(move || hash_password(&new)).await??;
        let mut tx = self.begin(&permit).await?;
        if !users::set_password(&mut tx, name, &hash, false).await? {
            return Err(UserError::NoSuchUser(name.to_owned()));
        }
        audited(&mut tx, &permit, user_change("changePassword", name, None)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that sign-in for `name`, or from `source`, was locked after repeated wrong
    /// passwords. Nobody signed in did it, so no permit: the actor is the source address.
    pub async fn record_sign_in_lock(
        &self,
        name: Option<&str>,
        source: Option<std::net::IpAddr>,
        locked_for: std::time::Duration,
    ) -> Result<(), UserError> {
        let source_text = source.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
        let (resource_type, key) = match name {
            Some(name) => ("portalUser", name.to_owned()),
            None => ("signInSource", source_text.clone()),
        };
        let event = audit::AuditEvent {
            id: None,
            at: super::timestamp(),
            actor: format!("anonymous@{source_text}"),
            role: "none".to_owned(),
            door: super::Door::Portal.as_str().to_owned(),
            action: "signInLocked".to_owned(),
            resource_type: resource_type.to_owned(),
            resource_key: key,
            version: None,
            before: None,
            after: Some(
                serde_json::json!({ "lockedForSeconds": locked_for.as_secs().max(1), "source": source_text })
                    .to_string(),
            ),
            account: None,
        };
        let mut tx = self.db.begin().await?;
        audit::record(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every portal session of `name`.
    async fn forget_sessions_of(&self, name: &str) -> Result<(), UserError> {
        crate::store::sessions::DatabaseSessionStore::new(self.db.clone())
            .forget_user(name)
            .await?;
        Ok(())
    }
}
