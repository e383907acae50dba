//! Who is acting, through which door, and what they may do.
//!
//! A write needs a `Permit`, and only `Actor::permit` makes one: the core cannot open a write
//! transaction without having checked the caller's role first.

use super::error::ProvisioningError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A role, as ACG names them (`ProvisioningAPI.Read`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Read,
    Write,
    Delete,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "Read",
            Self::Write => "Write",
            Self::Delete => "Delete",
            Self::Admin => "Admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Read, Self::Write, Self::Delete, Self::Admin]
            .into_iter()
            .find(|r| r.as_str() == raw)
    }
}

/// What an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    Read,
    Write,
    Delete,
    /// Deployment settings: Admin only.
    Administer,
}

impl Permission {
    fn granted_by(self, role: Role) -> bool {
        matches!(
            (self, role),
            (_, Role::Admin)
                | (Permission::Read, Role::Read)
                | (Permission::Write, Role::Write)
                | (Permission::Delete, Role::Delete)
        )
    }

    pub fn role_needed(self) -> &'static str {
        match self {
            Permission::Read => "Read or Admin",
            Permission::Write => "Write or Admin",
            Permission::Delete => "Delete or Admin",
            Permission::Administer => "Admin",
        }
    }
}

/// The way a change came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Door {
    Api,
    Portal,
    Import,
    Cli,
    Sync,
    /// The server itself, on a clock (holds that ran out).
    System,
}

impl Door {
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Api => "api",
            Door::Portal => "portal",
            Door::Import => "import",
            Door::Cli => "cli",
            Door::Sync => "sync",
            Door::System => "system",
        }
    }
}

/// A person or system acting on provisioning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// Who: a user's email, a token's name, `sync`.
    pub principal: String,
    pub roles: Vec<Role>,
    pub door: Door,
}

impl Actor {
    pub fn new(principal: impl Into<String>, roles: &[Role], door: Door) -> Self {
        Self {
            principal: principal.into(),
            roles: roles.to_vec(),
            door,
        }
    }

    /// A permit for `permission`, or `Forbidden` naming the role that is missing.
    pub fn permit(&self, permission: Permission) -> Result<Permit<'_>, ProvisioningError> {
        if self.roles.iter().any(|role| permission.granted_by(*role)) {
            Ok(Permit {
                actor: self,
                permission,
            })
        } else {
            Err(ProvisioningError::Forbidden {
                principal: self.principal.clone(),
                needed: permission,
            })
        }
    }

    pub fn roles_text(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} via {}", self.principal, self.door.as_str())
    }
}

/// Proof that the actor's role allows an operation.
#[derive(Debug)]
pub struct Permit<'a> {
    actor: &'a Actor,
    permission: Permission,
}

impl<'a> Permit<'a> {
    pub fn actor(&self) -> &'a Actor {
        self.actor
    }

    pub fn permission(&self) -> Permission {
        self.permission
    }
}
