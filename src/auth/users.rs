//! A portal user as the core sees them: their portal roles turned into the core's roles.
//! Users themselves, their passwords and sign-in reads are the core's
//! (`crate::provisioning::users`). Depends on the core.

use crate::provisioning::{Actor, Door, Role};

pub use crate::domain::portal::PortalRole;
pub use crate::domain::portal::{MAX_PASSWORD_BYTES, MIN_PASSWORD_LEN};
pub use crate::provisioning::users::{valid_name, UserError, UserInfo};

/// The core's view of a portal user: their roles turned into provisioning roles.
pub fn actor(name: &str, roles: &[PortalRole]) -> Actor {
    let mut core_roles: Vec<Role> = Vec::new();
    for role in roles {
        for granted in core_roles_of(*role) {
            if !core_roles.contains(granted) {
                core_roles.push(*granted);
            }
        }
    }
    Actor::new(name, &core_roles, Door::Portal)
}

/// The provisioning roles a portal role carries.
fn core_roles_of(role: PortalRole) -> &'static [Role] {
    match role {
        PortalRole::ReadUser => &[Role::Read],
        PortalRole::WriteUser => &[Role::Read, Role::Write],
        PortalRole::DeleteUser => &[Role::Read, Role::Delete],
        PortalRole::AdminUser => &[Role::Admin],
    }
}
