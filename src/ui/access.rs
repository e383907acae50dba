//! Who is looking at the page, for the pages to show the right controls, and the server-side
//! helpers every server function starts with. Showing a control is a courtesy; the check is
//! the core's, on every call.

use crate::domain::portal::{Abilities, PortalRole};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in person, as the pages see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub roles: Vec<PortalRole>,
    pub abilities: Abilities,
    /// Signed in with a local password (so they can change it here).
    pub local: bool,
}

impl Me {
    pub fn roles_text(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The person signed in, if anyone.
#[server(endpoint = "me")]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    use crate::ui::http::session::SignInMethod;
    Ok(server::signed_in_opt().map(|user| Me {
        abilities: user.abilities(),
        local: user.method == SignInMethod::Password,
        roles: user.roles,
        name: user.name,
    }))
}

/// Marks a line of a refusal as about one field of the form: `<key>` FIELD_MARK `<text>`, the
/// key being the field's name in the form (`usage` for `form[usage]`). The page shows every
/// line above the form and each keyed one again beside its field.
pub const FIELD_MARK: char = '\u{1f}';

/// `text`, as a line about the form field `key`.
pub fn keyed(key: &str, text: impl std::fmt::Display) -> String {
    format!("{key}{FIELD_MARK}{text}")
}

/// The raw message of a server function's error, without the framework's prefix.
fn raw_error(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// The text of a server function's error, as people read it (no field keys).
pub fn error_text(error: &ServerFnError) -> String {
    raw_error(error)
        .lines()
        .map(|line| line.split_once(FIELD_MARK).map_or(line, |(_, text)| text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines of a server function's error about the form field `key`.
pub fn field_errors(error: &ServerFnError, key: &str) -> Vec<String> {
    raw_error(error)
        .lines()
        .filter_map(|line| line.split_once(FIELD_MARK))
        .filter(|(k, _)| *k == key)
        .map(|(_, text)| text.to_owned())
        .collect()
}

#[cfg(feature = "ssr")]
pub mod server {
    //! Server-side helpers for server functions: the application state, the caller, and the
    //! core's refusals as messages a person can act on.

    use crate::provisioning::{Actor, ProvisioningError};
    use crate::state::AppState;
    use crate::ui::http::session::SignedIn;
    use axum::http::request::Parts;
    use leptos::prelude::*;

    pub fn state() -> Result<AppState, ServerFnError> {
        use_context::<AppState>().ok_or_else(|| ServerFnError::new("the server state is missing"))
    }

    pub fn signed_in_opt() -> Option<SignedIn> {
        use_context::<Parts>().and_then(|parts| parts.extensions.get::<SignedIn>().cloned())
    }

    /// The caller, or an error asking them to sign in.
    pub fn signed_in() -> Result<SignedIn, ServerFnError> {
        signed_in_opt().ok_or_else(|| {
            answer_status(401);
            ServerFnError::new(
                "You are signed out. Sign in again to continue (your session may have expired).",
            )
        })
    }

    /// The header through which a server function's error names its HTTP status. Server
    /// functions answer every error with 500; `crate::server` turns that into this status, or
    /// into 400 when none is named (the request could not be done as sent), so a 500 means the
    /// server itself failed.
    pub const ERROR_STATUS_HEADER: &str = "x-numbat-error-status";

    /// Names the HTTP status of this server function's error answer.
    pub fn answer_status(status: u16) {
        if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
            options.insert_header(
                axum::http::HeaderName::from_static(ERROR_STATUS_HEADER),
                axum::http::HeaderValue::from(status),
            );
        }
    }

    /// The caller as the provisioning core sees them.
    pub fn actor() -> Result<Actor, ServerFnError> {
        Ok(signed_in()?.actor())
    }

    /// The core's refusal, in words for the portal.
    pub fn refused(error: ProvisioningError) -> ServerFnError {
        refused_naming(error, |_| None, |_| None)
    }

    /// The core's refusal, with each violation about an item of a batch named by what
    /// `item_name` calls that item (the number as the person typed it) instead of its position.
    /// With `field_key`, each violation that concerns a field of the form is keyed to it (see
    /// `keyed`), so the page shows it beside that field too.
    pub fn refused_naming(
        error: ProvisioningError,
        item_name: impl Fn(usize) -> Option<String>,
        field_key: impl Fn(&crate::domain::Violation) -> Option<String>,
    ) -> ServerFnError {
        let message = match &error {
            ProvisioningError::Forbidden { needed, .. } => {
                answer_status(403);
                format!(
                    "Your role does not allow this: it needs {}.",
                    portal_role_for(*needed)
                )
            }
            ProvisioningError::Store(_) => {
                answer_status(503);
                tracing::error!(%error, "portal request failed in the store");
                "The database did not answer; nothing was changed. Try again shortly.".to_owned()
            }
            _ => match error.violations() {
                Some(violations) => violations
                    .0
                    .iter()
                    .map(|v| {
                        let text = match v.item.and_then(&item_name) {
                            Some(item) if v.field.is_empty() => format!("{item}: {}", v.message),
                            Some(item) => format!("{item}.{}: {}", v.field, v.message),
                            None => v.to_string(),
                        };
                        match field_key(v) {
                            Some(key) => super::keyed(&key, text),
                            None => text,
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                None => error.to_string(),
            },
        };
        ServerFnError::new(message)
    }

    /// The portal role that carries a core permission, named as the portal names it.
    fn portal_role_for(needed: crate::provisioning::Permission) -> &'static str {
        use crate::provisioning::Permission;
        match needed {
            Permission::Read => "the ReadUser role",
            Permission::Write => "the WriteUser or AdminUser role",
            Permission::Delete => "the DeleteUser or AdminUser role",
            Permission::Administer => "the AdminUser role",
        }
    }
}
