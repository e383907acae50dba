//! Administration (AdminUser only): portal users, Provisioning API tokens, and the deployment's
//! settings (the custom header's name, the Direct Routing base domain). A new password or
//! token secret is shown once, on the page the form returns to.

use super::access::error_text;
use super::widgets::*;
use crate::domain::portal::PortalRole;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// The session key holding a secret to show once.
#[cfg(feature = "ssr")]
const SHOW_ONCE: &str = "show_once";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Secret {
    pub what: String,
    pub value: String,
}

#[cfg(feature = "ssr")]
pub(super) mod server {
    use super::*;
    use crate::provisioning::Permission;

    /// The state and the caller, if they may administer; else the core's refusal.
    pub fn admin() -> Result<(crate::state::AppState, crate::provisioning::Actor), ServerFnError> {
        use super::super::access::server::{actor, refused, state};
        let actor = actor()?;
        actor.permit(Permission::Administer).map_err(refused)?;
        Ok((state()?, actor))
    }

    pub async fn session() -> Result<tower_sessions::Session, ServerFnError> {
        leptos_axum::extract::<tower_sessions::Session>()
            .await
            .map_err(|e| ServerFnError::new(format!("no session: {e}")))
    }

    pub async fn show_once(what: String, value: String) -> Result<(), ServerFnError> {
        session()
            .await?
            .insert(SHOW_ONCE, Secret { what, value })
            .await
            .map_err(|e| ServerFnError::new(e.to_string()))
    }

    pub async fn take_shown_once() -> Result<Option<Secret>, ServerFnError> {
        session()
            .await?
            .remove::<Secret>(SHOW_ONCE)
            .await
            .map_err(|e| ServerFnError::new(e.to_string()))
    }

    /// A user or token change's error: the rule it broke (400), or, when the server itself
    /// failed, a 503 that is logged and says nothing of the database's own words.
    pub fn failed<E: std::fmt::Display + 'static>(error: E) -> ServerFnError {
        use crate::auth::users::UserError;
        use crate::provisioning::tokens::TokenError;
        let any = &error as &dyn std::any::Any;
        let server_failed =
            matches!(
                any.downcast_ref::<UserError>(),
                Some(UserError::Store(_) | UserError::Hash(_) | UserError::Busy)
            ) || matches!(any.downcast_ref::<TokenError>(), Some(TokenError::Store(_)));
        if server_failed {
            tracing::error!(%error, "an administration request failed");
            super::super::access::server::answer_status(503);
            return ServerFnError::new(
                "The server could not complete this; nothing was changed. Try again shortly.",
            );
        }
        ServerFnError::new(error.to_string())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub name: String,
    pub roles: Vec<PortalRole>,
    pub must_change_password: bool,
    pub last_sign_in_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsersData {
    pub users: Vec<UserRow>,
    pub secret: Option<Secret>,
    /// The single sign-on issuer, when single sign-on is on (identities may be linked then).
    pub sso_issuer: Option<String>,
}

#[server(endpoint = "admin/users")]
pub async fn load_users() -> Result<UsersData, ServerFnError> {
    let (state, by) = server::admin()?;
    let users = state
        .core
        .users(&by)
        .await
        .map_err(server::failed)?
        .into_iter()
        .map(|u| UserRow {
            name: u.name,
            roles: u.roles,
            must_change_password: u.must_change_password,
            last_sign_in_at: u.last_sign_in_at,
        })
        .collect();
    Ok(UsersData {
        users,
        secret: server::take_shown_once().await?,
        sso_issuer: state.sso.as_ref().map(|sso| sso.issuer().to_owned()),
    })
}

/// The four role boxes of a user or token form (read, write, delete, admin), as posted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoleBoxes {
    pub read: Option<String>,
    pub write: Option<String>,
    pub delete: Option<String>,
    pub admin: Option<String>,
}

#[cfg(feature = "ssr")]
impl RoleBoxes {
    /// The roles ticked, from the four a form offers in read, write, delete, admin order.
    fn ticked<R: Copy>(&self, offered: [R; 4]) -> Vec<R> {
        [&self.read, &self.write, &self.delete, &self.admin]
            .into_iter()
            .zip(offered)
            .filter(|(ticked, _)| ticked.is_some())
            .map(|(_, role)| role)
            .collect()
    }

    fn roles(&self) -> Vec<PortalRole> {
        self.ticked(PortalRole::ALL)
    }
}

#[server(endpoint = "admin/users/add")]
pub async fn add_user(
    name: String,
    #[server(default)] roles: RoleBoxes,
) -> Result<(), ServerFnError> {
    let (state, by) = server::admin()?;
    let name = name.trim().to_owned();
    let password = state
        .core
        .add_user(&by, &name, &roles.roles())
        .await
        .map_err(server::failed)?;
    server::show_once(
        format!("One-time password for {name} (they choose their own at first sign-in)"),
        password,
    )
    .await?;
    leptos_axum::redirect("/admin/users");
    Ok(())
}

#[server(endpoint = "admin/users/roles")]
pub async fn set_user_roles(
    name: String,
    #[server(default)] roles: RoleBoxes,
) -> Result<(), ServerFnError> {
    let (state, by) = server::admin()?;
    state
        .core
        .set_user_roles(&by, &name, &roles.roles())
        .await
        .map_err(server::failed)?;
    leptos_axum::redirect("/admin/users");
    Ok(())
}

#[server(endpoint = "admin/users/reset")]
pub async fn reset_user_password(name: String) -> Result<(), ServerFnError> {
    let (state, by) = server::admin()?;
    let password = state
        .core
        .reset_user_password(&by, &name)
        .await
        .map_err(server::failed)?;
    server::show_once(format!("New one-time password for {name}"), password).await?;
    leptos_axum::redirect("/admin/users");
    Ok(())
}

#[server(endpoint = "admin/users/remove")]
pub async fn remove_user(name: String, confirm: Option<String>) -> Result<(), ServerFnError> {
    let (state, by) = server::admin()?;
    if confirm.is_none() {
        return Err(ServerFnError::new(
            "Tick the confirmation to remove the user.",
        ));
    }
    state
        .core
        .remove_user(&by, &name)
        .await
        .map_err(server::failed)?;
    leptos_axum::redirect("/admin/users");
    Ok(())
}

#[server(endpoint = "admin/users/link-sso")]
pub async fn link_user_sso(name: String, subject: String) -> Result<(), ServerFnError> {
    let (state, by) = server::admin()?;
    let Some(sso) = state.sso.clone() else {
        return Err(ServerFnError::new(
            "Single sign-on is not configured on this portal.",
        ));
    };
    state
        .core
        .link_user_sso(&by, name.trim(), sso.issuer(), &subject)
        .await
        .map_err(server::failed)?;
    leptos_axum::redirect("/admin/users");
    Ok(())
}

#[component]
fn RoleChecks(roles: Vec<PortalRole>) -> impl IntoView {
    let has = |r| roles.contains(&r);
    view! {
        <Checkbox name="roles[read]" label="ReadUser" checked=has(PortalRole::ReadUser)/>
        <Checkbox name="roles[write]" label="WriteUser" checked=has(PortalRole::WriteUser)/>
        <Checkbox name="roles[delete]" label="DeleteUser" checked=has(PortalRole::DeleteUser)/>
        <Checkbox name="roles[admin]" label="AdminUser" checked=has(PortalRole::AdminUser)/>
    }
}

#[component]
pub(super) fn ShownOnce(secret: Option<Secret>) -> impl IntoView {
    secret.map(|s| {
        view! {
            <div class="notice info secret" role="status">
                <p>{s.what} ". It is shown only now:"</p>
                <p><code data-testid="secret">{s.value}</code></p>
            </div>
        }
    })
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let roles = ServerAction::<SetUserRoles>::new();
    let reset = ServerAction::<ResetUserPassword>::new();
    let remove = ServerAction::<RemoveUser>::new();
    let link = ServerAction::<LinkUserSso>::new();
    // Each change returns to this page: the versions make it load the list (and secret) again.
    let data = Resource::new(
        move || {
            (
                add.version().get(),
                roles.version().get(),
                reset.version().get(),
                remove.version().get(),
                link.version().get(),
            )
        },
        |_| load_users(),
    );
    view! {
        <Title text="Users"/>
        <h1>"Portal users"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(data) => view! {
                        <ShownOnce secret=data.secret/>
                        {action_error(roles)}{action_error(reset)}{action_error(remove)}
                        <table class="list">
                            <caption class="visually-hidden">"Users"</caption>
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Roles"</th><th scope="col">"Last signed in"</th><th scope="col">"Actions"</th></tr></thead>
                            <tbody>{data.users.into_iter().map(|u| { let (n1, n2, n3) = (u.name.clone(), u.name.clone(), u.name.clone()); view! { <tr>
                                <td>{u.name.clone()}{u.must_change_password.then_some(" (one-time password)")}</td>
                                <td>
                                    <ActionForm action=roles attr:class="inline">
                                        <input type="hidden" name="name" value=n1/>
                                        <RoleChecks roles=u.roles.clone()/>
                                        <button type="submit" class="secondary">"Set roles"</button>
                                    </ActionForm>
                                </td>
                                <td>{u.last_sign_in_at.clone().unwrap_or_else(|| "never".to_owned())}</td>
                                <td>
                                    <ActionForm action=reset attr:class="inline">
                                        <input type="hidden" name="name" value=n2/>
                                        <button type="submit" class="secondary">"New one-time password"</button>
                                    </ActionForm>
                                    <ActionForm action=remove attr:class="inline">
                                        <input type="hidden" name="name" value=n3/>
                                        <label class="check"><input type="checkbox" name="confirm" required=true/>{format!(" remove {}", u.name)}</label>
                                        <button type="submit" class="danger">"Remove"</button>
                                    </ActionForm>
                                </td>
                            </tr> }}).collect_view()}</tbody>
                        </table>
                        {data.sso_issuer.map(|issuer| view! {
                            <h2>"Link a single sign-on identity"</h2>
                            <p class="hint">"When the identity provider's ID token carries no roles, a person signs in as the portal user their identity is linked to, with that user's roles. Identities are linked by the issuer (" <code>{issuer}</code> ") and the subject: the " <code>"oid"</code> " claim for Entra ID, else " <code>"sub"</code> ", never by a name or email the person could change."</p>
                            {action_error(link)}
                            <ActionForm action=link attr:class="form">
                                <div class="field">
                                    <label for="link-user">"Portal user"</label>
                                    <input id="link-user" name="name" required=true autocomplete="off"/>
                                </div>
                                <div class="field">
                                    <label for="link-subject">"Subject (oid or sub)"</label>
                                    <input id="link-subject" name="subject" required=true autocomplete="off"/>
                                </div>
                                <button type="submit">"Link identity"</button>
                            </ActionForm>
                        })}
                    }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Add a user"</h2>
        {action_error(add)}
        <ActionForm action=add attr:class="form">
            <div class="field">
                <label for="new-user">"User name"</label>
                <input id="new-user" name="name" required=true autocomplete="off"/>
            </div>
            <fieldset><legend>"Roles"</legend><RoleChecks roles=vec![PortalRole::ReadUser]/></fieldset>
            <button type="submit">"Add user"</button>
        </ActionForm>
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenRow {
    pub name: String,
    pub roles: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokensData {
    pub tokens: Vec<TokenRow>,
    pub secret: Option<Secret>,
}

#[server(endpoint = "admin/tokens")]
pub async fn load_tokens() -> Result<TokensData, ServerFnError> {
    let (state, by) = server::admin()?;
    let tokens = state
        .core
        .tokens(&by)
        .await
        .map_err(server::failed)?
        .into_iter()
        .map(|t| TokenRow {
            roles: t
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        })
        .collect();
    Ok(TokensData {
        tokens,
        secret: server::take_shown_once().await?,
    })
}

#[server(endpoint = "admin/tokens/create")]
pub async fn create_token(
    name: String,
    #[server(default)] roles: RoleBoxes,
) -> Result<(), ServerFnError> {
    use crate::provisioning::Role;
    let (state, by) = server::admin()?;
    let chosen = roles.ticked([Role::Read, Role::Write, Role::Delete, Role::Admin]);
    let name = name.trim().to_owned();
    let secret = state
        .core
        .create_token(&by, &name, &chosen)
        .await
        .map_err(server::failed)?;
    server::show_once(
        format!("Secret of token {name}: give it to the API client"),
        secret,
    )
    .await?;
    leptos_axum::redirect("/admin/tokens");
    Ok(())
}

#[server(endpoint = "admin/tokens/revoke")]
pub async fn revoke_token(name: String, confirm: Option<String>) -> Result<(), ServerFnError> {
    let (state, by) = server::admin()?;
    if confirm.is_none() {
        return Err(ServerFnError::new(
            "Tick the confirmation to revoke the token.",
        ));
    }
    state
        .core
        .revoke_token(&by, &name)
        .await
        .map_err(server::failed)?;
    leptos_axum::redirect("/admin/tokens");
    Ok(())
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let data = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| load_tokens(),
    );
    view! {
        <Title text="API tokens"/>
        <h1>"Provisioning API tokens"</h1>
        <p class="lead">"Bearer tokens for systems that call the Provisioning API at " <code>"/provisioning"</code> " (see " <a href="/api-docs">"the API's documentation"</a> ")."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(data) => view! {
                        <ShownOnce secret=data.secret/>
                        {action_error(revoke)}
                        {if data.tokens.is_empty() {
                            view! { <p class="empty">"No tokens yet. Create one for each system that provisions through the API."</p> }.into_any()
                        } else {
                            view! {
                                <table class="list">
                                    <caption class="visually-hidden">"Tokens"</caption>
                                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Roles"</th><th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col">"Revoke"</th></tr></thead>
                                    <tbody>{data.tokens.into_iter().map(|t| view! { <tr>
                                        <td>{t.name.clone()}</td><td>{t.roles.clone()}</td><td>{t.created_at.clone()}</td>
                                        <td>{t.last_used_at.clone().unwrap_or_else(|| "never".to_owned())}</td>
                                        <td><ActionForm action=revoke attr:class="inline">
                                            <input type="hidden" name="name" value=t.name.clone()/>
                                            <label class="check"><input type="checkbox" name="confirm" required=true/>{format!(" revoke {}", t.name)}</label>
                                            <button type="submit" class="danger">"Revoke"</button>
                                        </ActionForm></td>
                                    </tr> }).collect_view()}</tbody>
                                </table>
                            }.into_any()
                        }}
                    }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Create a token"</h2>
        {action_error(create)}
        <ActionForm action=create attr:class="form">
            <div class="field">
                <label for="token-name">"Name (the client it is for)"</label>
                <input id="token-name" name="name" required=true autocomplete="off"/>
            </div>
            <fieldset><legend>"Roles"</legend>
                <Checkbox name="roles[read]" label="Read" checked=true/>
                <Checkbox name="roles[write]" label="Write" checked=false/>
                <Checkbox name="roles[delete]" label="Delete" checked=false/>
                <Checkbox name="roles[admin]" label="Admin" checked=false/>
            </fieldset>
            <button type="submit">"Create token"</button>
        </ActionForm>
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub sip_header_name: Option<String>,
    pub base_domain: Option<String>,
    pub region_domains: Option<[String; 2]>,
    pub quarantine_days: u16,
    pub oc_live: bool,
    pub tpm_live: bool,
}

#[server(endpoint = "admin/settings")]
pub async fn load_settings() -> Result<SettingsView, ServerFnError> {
    use super::access::server::refused;
    use crate::domain::Service;
    let (state, _) = server::admin()?;
    let actor = super::access::server::actor()?;
    let settings = state.core.settings(&actor).await.map_err(refused)?;
    Ok(SettingsView {
        region_domains: settings.direct_routing_domains(),
        sip_header_name: settings.sip_header_name.map(|h| h.as_str().to_owned()),
        base_domain: settings.base_domain.map(|b| b.as_str().to_owned()),
        quarantine_days: settings.quarantine_days.get(),
        oc_live: settings.launched.contains(&Service::TeamsOperatorConnect),
        tpm_live: settings.launched.contains(&Service::TeamsPhoneMobile),
    })
}

#[server(endpoint = "admin/settings/save")]
pub async fn save_settings(
    sip_header_name: Option<String>,
    base_domain: Option<String>,
    #[server(default)] quarantine_days: Option<String>,
    #[server(default)] launch_shown: Option<String>,
    #[server(default)] oc_live: Option<String>,
    #[server(default)] tpm_live: Option<String>,
) -> Result<(), ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::{BaseDomain, QuarantineDays, Service, SipHeaderName};
    use crate::provisioning::DeploymentSettings;
    let (state, actor) = (state()?, actor()?);
    let mut problems = Vec::new();
    let current = state.core.settings(&actor).await.map_err(refused)?;
    // A form without the field keeps the deployment's current quarantine.
    let quarantine_days = match non_empty(quarantine_days) {
        Some(days) => QuarantineDays::parse(&days)
            .map_err(|v| problems.push(format!("Quarantine: {}", v.message)))
            .unwrap_or_default(),
        None => current.quarantine_days,
    };
    // Unticked boxes send nothing: the marker says the form showed them.
    let launched = if launch_shown.is_some() {
        [
            (oc_live, Service::TeamsOperatorConnect),
            (tpm_live, Service::TeamsPhoneMobile),
        ]
        .into_iter()
        .filter_map(|(ticked, service)| ticked.map(|_| service))
        .collect()
    } else {
        current.launched
    };
    let sip_header_name = non_empty(sip_header_name).and_then(|h| {
        SipHeaderName::parse(&h)
            .map_err(|v| problems.push(format!("Custom header name: {}", v.message)))
            .ok()
    });
    let base_domain = non_empty(base_domain).and_then(|d| {
        BaseDomain::parse(&d)
            .map_err(|v| problems.push(format!("Base domain: {}", v.message)))
            .ok()
    });
    if !problems.is_empty() {
        return Err(ServerFnError::new(problems.join("\n")));
    }
    state
        .core
        .put_settings(
            &actor,
            DeploymentSettings {
                sip_header_name,
                base_domain,
                quarantine_days,
                launched,
            },
        )
        .await
        .map_err(refused)?;
    leptos_axum::redirect("/admin/settings?saved=1");
    Ok(())
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let save = ServerAction::<SaveSettings>::new();
    let data = Resource::new(move || save.version().get(), |_| load_settings());
    let query = leptos_router::hooks::use_query_map();
    view! {
        <Title text="Settings"/>
        <h1>"Deployment settings"</h1>
        {move || query.get().get("saved").map(|_| view! { <Notice>"Saved."</Notice> })}
        {action_error(save)}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(s) => view! {
                        <ActionForm action=save attr:class="form">
                            <div class="field">
                                <label for="sip-header-name">"Custom SIP header name"</label>
                                <input id="sip-header-name" name="sip_header_name" value=s.sip_header_name.clone().unwrap_or_default() aria-describedby="sip-header-hint"/>
                                <small id="sip-header-hint" class="hint">"The header that carries each number's custom value on calls, e.g. X-Customer-Id. One name for the whole deployment."</small>
                            </div>
                            <div class="field">
                                <label for="base-domain">"Direct Routing base domain"</label>
                                <input id="base-domain" name="base_domain" value=s.base_domain.clone().unwrap_or_default() aria-describedby="base-domain-hint"/>
                                <small id="base-domain-hint" class="hint">{match &s.region_domains {
                                    Some([one, two]) => format!("Customers' domains are <subdomain>.{one} and <subdomain>.{two}."),
                                    None => "Customers' Direct Routing domains are <subdomain>.1r1.<base> and <subdomain>.1r2.<base>.".to_owned(),
                                }}</small>
                            </div>
                            <div class="field">
                                <label for="quarantine-days">"Quarantine of released numbers (days)"</label>
                                <input id="quarantine-days" name="quarantine_days" type="number" min="0" max="365" required=true value=s.quarantine_days.to_string() aria-describedby="quarantine-hint"/>
                                <small id="quarantine-hint" class="hint">"A number an account releases is held back from every other account for this long (0 to 365; 0 makes it available at once)."</small>
                            </div>
                            <fieldset class="field">
                                <legend>"Live services"</legend>
                                <input type="hidden" name="launch_shown" value="1"/>
                                <p class="hint" id="live-hint">"Once a service is launched, Microsoft's programme requires its numbers to be provisioned through the API: the portal then shows those numbers read-only."</p>
                                <label class="check"><input type="checkbox" name="oc_live" checked=s.oc_live aria-describedby="live-hint"/>" Operator Connect is live"</label>
                                <label class="check"><input type="checkbox" name="tpm_live" checked=s.tpm_live aria-describedby="live-hint"/>" Teams Phone Mobile is live"</label>
                            </fieldset>
                            <button type="submit">"Save settings"</button>
                        </ActionForm>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
