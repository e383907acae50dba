//! How a provisioning command fails: every case names what went wrong so a door can say it.

use crate::domain::{Code, Violation, Violations};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error("{principal} may not do this: it needs the {} role", needed.role_needed())]
    Forbidden {
        principal: String,
        /// The permission the refused action needs; each door names the role that grants it.
        needed: super::Permission,
    },
    /// The request breaks rules; nothing was changed.
    #[error("{0}")]
    Invalid(Violations),
    /// The request clashes with what is stored; nothing was changed.
    #[error("{0}")]
    Conflict(Violations),
    #[error("{resource} {key} does not exist")]
    NotFound {
        resource: &'static str,
        key: String,
        /// For a batch: which items were missing.
        items: Violations,
    },
    /// A conditional write whose condition does not hold; nothing was changed.
    #[error("{resource} {key} {}, which the request's condition does not allow", state_of(*current))]
    PreconditionFailed {
        resource: &'static str,
        key: String,
        current: Option<i64>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A resource's state as a refused condition saw it.
fn state_of(current: Option<i64>) -> String {
    match current {
        Some(version) => format!("is at ETag \"{version}\""),
        None => "does not exist".to_owned(),
    }
}

impl ProvisioningError {
    /// Sorts broken rules into the error a caller should see: not-found when every item is
    /// missing, conflict when every rule broken is a clash, invalid otherwise.
    pub fn from_violations(resource: &'static str, key: &str, violations: Violations) -> Self {
        let all = |kind: fn(Code) -> bool| violations.iter().all(|v| kind(v.code));
        if all(Code::is_not_found) {
            Self::NotFound {
                resource,
                key: key.to_owned(),
                items: violations,
            }
        } else if all(Code::is_conflict) {
            Self::Conflict(violations)
        } else {
            Self::Invalid(violations)
        }
    }

    pub fn invalid(violation: Violation) -> Self {
        Self::Invalid(violation.into())
    }

    pub fn not_found(resource: &'static str, key: impl Into<String>) -> Self {
        Self::NotFound {
            resource,
            key: key.into(),
            items: Violations::new(),
        }
    }

    /// The violations carried, if any.
    pub fn violations(&self) -> Option<&Violations> {
        match self {
            Self::Invalid(v) | Self::Conflict(v) => Some(v),
            Self::NotFound { items, .. } if !items.is_empty() => Some(items),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for ProvisioningError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}
