//! The portal's roles, as ACG names them on its enterprise application.

use serde::{Deserialize, Serialize};

/// Shortest password a portal user may choose.
pub const MIN_PASSWORD_LEN: usize = 12;
/// The longest password accepted, in bytes; longer ones are refused before any hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// What a person signed in to the portal may do. `WriteUser` and `DeleteUser` include viewing:
/// ACG asks for `ReadUser` beside them, and a portal that cannot show what it changes is no use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PortalRole {
    ReadUser,
    WriteUser,
    DeleteUser,
    AdminUser,
}

impl PortalRole {
    pub const ALL: [Self; 4] = [
        Self::ReadUser,
        Self::WriteUser,
        Self::DeleteUser,
        Self::AdminUser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadUser => "ReadUser",
            Self::WriteUser => "WriteUser",
            Self::DeleteUser => "DeleteUser",
            Self::AdminUser => "AdminUser",
        }
    }

    /// `ReadUser` or, as in a token's `roles` claim, `ProvisioningAPI.ReadUser`.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let raw = raw.strip_prefix("ProvisioningAPI.").unwrap_or(raw);
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// Roles from comma-separated text; unknown names are skipped.
    pub fn parse_list(text: &str) -> Vec<Self> {
        text.split(',').filter_map(Self::parse).collect()
    }
}

/// What the signed-in person may do, worked out once from their roles for the pages to show
/// only the controls that would work. The server checks again on every change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Abilities {
    pub view: bool,
    pub change: bool,
    pub remove: bool,
    pub administer: bool,
}

impl Abilities {
    pub fn of(roles: &[PortalRole]) -> Self {
        let has = |role| roles.contains(&role) || roles.contains(&PortalRole::AdminUser);
        Self {
            view: !roles.is_empty(),
            change: has(PortalRole::WriteUser),
            remove: has(PortalRole::DeleteUser),
            administer: roles.contains(&PortalRole::AdminUser),
        }
    }
}
