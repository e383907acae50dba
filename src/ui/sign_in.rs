//! Signing in (password or single sign-on) and changing one's password. Both forms post to
//! plain handlers (`crate::ui::http::session`), which answer with a redirect; errors come
//! back as a code in the query string, shown here in words.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// What the sign-in page offers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignInOptions {
    pub single_sign_on: bool,
    /// The subject of this browser's last single sign-on, refused for want of a role: shown
    /// once, so the person can pass it to an admin. Kept in the session, never in the address.
    pub refused_subject: Option<String>,
}

#[server(endpoint = "sign-in-options")]
pub async fn load_sign_in_options() -> Result<SignInOptions, ServerFnError> {
    let state = super::access::server::state()?;
    let refused_subject = match leptos_axum::extract::<tower_sessions::Session>().await {
        Ok(session) => session
            .remove::<String>(crate::ui::http::session::REFUSED_SUBJECT_KEY)
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    Ok(SignInOptions {
        single_sign_on: state.sso.is_some(),
        refused_subject,
    })
}

fn sign_in_error(code: &str) -> &'static str {
    match code {
        "credentials" => "That name and password do not match a portal user. Check both and try again.",
        "sso" => "Single sign-on did not complete. Try again, or ask your administrator to check the identity provider's settings.",
        "sso-roles" => "You signed in with single sign-on, but you have no portal role: the identity provider gave none, and no portal user is linked to your identity. Ask your administrator for ProvisioningAPI.ReadUser (or more), or to link the subject below to your portal user.",
        "busy" => "The server is busy checking other sign-ins. Try again in a few seconds.",
        _ => "Signing in is not possible right now. Try again shortly.",
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let options = Resource::new(|| (), |_| load_sign_in_options());
    let q = query.get_untracked();
    let next = q.get("next").unwrap_or_else(|| "/".to_owned());
    let sso_href = format!("/sso/login?next={}", super::widgets::encode(&next));
    view! {
        <Title text="Sign in"/>
        <div class="narrow">
            <h1>"Sign in"</h1>
            {q.get("signed_out").map(|_| view! { <super::widgets::Notice>"You are signed out."</super::widgets::Notice> })}
            {q.get("error").map(|code| view! { <div class="notice error" role="alert">{sign_in_error(&code)}</div> })}
            <form method="post" action="/sign-in" class="form">
                <input type="hidden" name="next" value=next/>
                <div class="field">
                    <label for="name">"User name"</label>
                    <input id="name" name="name" autocomplete="username" required=true autofocus=true/>
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete="current-password" required=true/>
                </div>
                <button type="submit">"Sign in"</button>
            </form>
            <Suspense fallback=|| ()>
                {move || {
                    let sso_href = sso_href.clone();
                    Suspend::new(async move {
                        options.await.ok().filter(|o| o.single_sign_on).map(|o| view! {
                            {o.refused_subject.map(|subject| view! {
                                <p class="hint">"Your single sign-on subject: " <code>{subject}</code></p>
                            })}
                            <p class="or">"or"</p>
                            <a class="button secondary" href=sso_href>"Sign in with single sign-on"</a>
                        })
                    })
                }}
            </Suspense>
            <p class="hint">"No account? An administrator adds people with " <code>"numbat user add NAME --role ReadUser"</code> " or on the Users page."</p>
        </div>
    }
}

fn password_error(code: &str) -> String {
    match code {
        "mismatch" => "The new password and its confirmation differ.".to_owned(),
        "short" => format!(
            "The new password is too short: use at least {} characters.",
            crate::domain::portal::MIN_PASSWORD_LEN
        ),
        "unchanged" => "The new password must differ from the current one.".to_owned(),
        "current" => "The current password is not correct.".to_owned(),
        "long" => format!(
            "The new password is too long: use at most {} bytes.",
            crate::domain::portal::MAX_PASSWORD_BYTES
        ),
        "sso" => {
            "You signed in with single sign-on: change your password with your identity provider."
                .to_owned()
        }
        _ => "The password could not be changed right now. Try again shortly.".to_owned(),
    }
}

#[component]
pub fn PasswordPage() -> impl IntoView {
    let query = use_query_map();
    let me = use_context::<super::MeResource>().expect("the app provides the signed-in person");
    let error = query.get_untracked().get("error");
    view! {
        <Title text="Change password"/>
        <div class="narrow">
            <h1>"Change your password"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    me.await.ok().flatten().map(|me| view! {
                        <p>{format!("Signed in as {}. ", me.name)}
                           "If you were given a one-time password, choose your own now: the portal opens once you have."</p>
                    })
                })}
            </Suspense>
            {error.map(|code| view! { <div class="notice error" role="alert">{password_error(&code)}</div> })}
            <form method="post" action="/password" class="form">
                <div class="field">
                    <label for="current">"Current password"</label>
                    <input id="current" name="current" type="password" autocomplete="current-password" required=true/>
                </div>
                <div class="field">
                    <label for="new">"New password"</label>
                    <input id="new" name="new" type="password" autocomplete="new-password" required=true
                        minlength=crate::domain::portal::MIN_PASSWORD_LEN.to_string() aria-describedby="new-hint"/>
                    <small id="new-hint" class="hint">{format!("At least {} characters.", crate::domain::portal::MIN_PASSWORD_LEN)}</small>
                </div>
                <div class="field">
                    <label for="confirm">"New password again"</label>
                    <input id="confirm" name="confirm" type="password" autocomplete="new-password" required=true/>
                </div>
                <button type="submit">"Change password"</button>
            </form>
        </div>
    }
}
