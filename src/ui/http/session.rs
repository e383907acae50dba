//! Who is signed in to the portal: the session cookie, sign-in and sign-out, first-sign-in
//! password changes, and the checks every portal request passes (signed in, not cross-site).
//!
//! Sign-in, sign-out and the password change are plain form posts answered with a redirect,
//! so they behave the same with JavaScript on or off.

use crate::auth::users::{self, PortalRole, UserError};
use crate::domain::portal::Abilities;
use crate::provisioning::SessionStore as DatabaseSessionStore;
use crate::state::{AppState, SessionPolicy};
use axum::extract::{Form, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// The session key holding who signed in.
const USER_KEY: &str = "user";

/// How someone signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignInMethod {
    Password,
    SingleSignOn,
}

/// What the session remembers about the person signed in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionUser {
    pub name: String,
    pub method: SignInMethod,
    /// Roles from the identity provider's token (single sign-on); local roles apply otherwise.
    pub sso_roles: Vec<PortalRole>,
    /// Unix seconds.
    pub signed_in_at: i64,
    /// Unix seconds of the last request that refreshed the idle timer.
    pub seen_at: i64,
}

/// The person behind a portal request, put in the request's extensions by `identify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub name: String,
    pub roles: Vec<PortalRole>,
    pub must_change_password: bool,
    pub method: SignInMethod,
}

impl SignedIn {
    pub fn abilities(&self) -> Abilities {
        Abilities::of(&self.roles)
    }

    /// The provisioning core's view of this person.
    pub fn actor(&self) -> crate::provisioning::Actor {
        users::actor(&self.name, &self.roles)
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The session layer: cookie `numbat_session`, HttpOnly, SameSite=Lax, Secure behind TLS.
pub fn layer(
    core: &crate::provisioning::Provisioning,
    policy: &SessionPolicy,
) -> SessionManagerLayer<DatabaseSessionStore> {
    let idle = time::Duration::try_from(policy.idle).unwrap_or(time::Duration::HOUR);
    SessionManagerLayer::new(core.session_store())
        .with_name("numbat_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(policy.secure_cookie)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
}

/// Paths anyone may load without signing in.
fn is_public(path: &str) -> bool {
    const PUBLIC: [&str; 10] = [
        "/sign-in",
        "/healthz",
        "/readyz",
        "/metrics",
        "/theme",
        "/favicon.svg",
        "/openapi.json",
        "/api-docs",
        "/sso/",
        "/style/",
    ];
    PUBLIC
        .iter()
        .any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)))
        || path.starts_with("/pkg/")
        || path.starts_with(crate::state::API_MOUNT)
}

/// What a person who must still change their one-time password may reach: the password page
/// and its form, sign-out, what anyone may load, and who they are.
fn allowed_before_password_change(path: &str) -> bool {
    matches!(
        path,
        "/password" | "/sign-out" | "/api/me" | "/api/sign-in-options"
    ) || is_public(path)
}

/// Works out who is signed in and keeps them to what they may see: pages need a sign-in
/// (else a redirect to `/sign-in`), a one-time password must be changed before anything else,
/// and sessions past their absolute lifetime end.
pub async fn identify(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    // Files, health checks and the API need no portal session: no database lookup for them.
    let sessionless = [
        "/pkg/",
        "/style/",
        "/favicon.svg",
        "/healthz",
        "/readyz",
        crate::state::API_MOUNT,
    ];
    if sessionless.iter().any(|prefix| path.starts_with(prefix)) {
        return next.run(request).await;
    }
    let session = request.extensions().get::<Session>().cloned();
    let signed_in = match &session {
        Some(session) => match current_user(&state, session).await {
            Ok(user) => user,
            Err(error) => {
                tracing::error!(%error, "could not read the portal session");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The session store is not answering; try again shortly.",
                )
                    .into_response();
            }
        },
        None => None,
    };
    let is_page =
        request.method() == Method::GET && !is_public(&path) && !path.starts_with("/api/");
    match &signed_in {
        None if is_page => {
            let wanted = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".to_owned());
            return super::redirect::see_other(&format!("/sign-in?next={}", encode(&wanted)));
        }
        Some(user) if user.must_change_password && !allowed_before_password_change(&path) => {
            if is_page {
                return super::redirect::see_other("/password");
            }
            // Server functions, uploads, bulk actions, downloads: nothing works on a one-time
            // password.
            return (
                StatusCode::FORBIDDEN,
                "Change your one-time password first: open /password.",
            )
                .into_response();
        }
        _ => {}
    }
    if let Some(user) = signed_in {
        request.extensions_mut().insert(user);
    }
    next.run(request).await
}

/// The person the session stands for, refreshing the idle timer at most once a minute.
async fn current_user(state: &AppState, session: &Session) -> Result<Option<SignedIn>, String> {
    let Some(mut stored) = session
        .get::<SessionUser>(USER_KEY)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let now = now();
    if now - stored.signed_in_at > state.sessions.absolute.as_secs() as i64 {
        session.flush().await.map_err(|e| e.to_string())?;
        return Ok(None);
    }
    let local = state
        .core
        .user(&stored.name)
        .await
        .map_err(|e| e.to_string())?;
    let signed_in = match (stored.method, local) {
        (SignInMethod::Password, Some(user)) => SignedIn {
            name: user.name,
            roles: user.roles,
            must_change_password: user.must_change_password,
            method: SignInMethod::Password,
        },
        // A local user removed since signing in is signed out.
        (SignInMethod::Password, None) => {
            session.flush().await.map_err(|e| e.to_string())?;
            return Ok(None);
        }
        // A linked local user removed since signing in is signed out.
        (SignInMethod::SingleSignOn, None) if stored.sso_roles.is_empty() => {
            session.flush().await.map_err(|e| e.to_string())?;
            return Ok(None);
        }
        (SignInMethod::SingleSignOn, local) => SignedIn {
            roles: if stored.sso_roles.is_empty() {
                local.map(|u| u.roles).unwrap_or_default()
            } else {
                stored.sso_roles.clone()
            },
            name: stored.name.clone(),
            must_change_password: false,
            method: SignInMethod::SingleSignOn,
        },
    };
    if now - stored.seen_at >= 60 {
        stored.seen_at = now;
        session
            .insert(USER_KEY, &stored)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(Some(signed_in))
}

/// Starts a session for `user`: a fresh session id (no fixation), then who they are.
pub async fn start_session(
    session: &Session,
    name: &str,
    method: SignInMethod,
    sso_roles: Vec<PortalRole>,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    let now = now();
    session
        .insert(
            USER_KEY,
            SessionUser {
                name: name.to_owned(),
                method,
                sso_roles,
                signed_in_at: now,
                seen_at: now,
            },
        )
        .await
}

/// Refuses state-changing requests that a browser says came from another site: the
/// `Sec-Fetch-Site` header when sent, else `Origin` against `Host`. The Provisioning API is
/// exempt (it takes bearer tokens, not cookies).
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe
        || request.uri().path().starts_with(crate::state::API_MOUNT)
        || same_site(request.headers())
    {
        return next.run(request).await;
    }
    (
        StatusCode::FORBIDDEN,
        "Refused: this form was sent from another site. Open the portal and submit it from there.",
    )
        .into_response()
}

fn same_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host),
        (Some(_), None) => false,
        // Neither header: not a browser form from another site (curl, scripts, tests).
        (None, _) => true,
    }
}

/// Percent-encodes a value for a query string.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only local paths are followed after sign-in, so the form cannot send people elsewhere.
fn local_path(next: Option<&str>) -> String {
    super::redirect::local_target(next.unwrap_or("/"))
}

#[derive(Deserialize)]
pub struct SignInForm {
    name: String,
    password: String,
    next: Option<String>,
}

/// The largest sign-in or password form accepted, in bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The answer to a throttled sign-in: 429 with `Retry-After` and a page that says why.
fn throttled(locked: &crate::auth::throttle::Locked) -> Response {
    use crate::auth::throttle::Locked;
    let wait = locked.retry_after_secs();
    let what = match locked {
        Locked::Name(_) => "for this user name",
        Locked::Source(_) => "from your address",
    };
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Too many attempts · Numbat</title>\
         <link rel=\"stylesheet\" href=\"/style/numbat.css\"></head><body><main id=\"main\">\
         <h1>Too many sign-in attempts</h1><p class=\"notice error\" role=\"alert\">Too many wrong passwords {what}: \
         sign-in is paused for {wait} seconds. Try again after that, or ask an admin to reset the password.</p>\
         <p><a href=\"/sign-in\">Back to sign-in</a></p></main></body></html>"
    );
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::RETRY_AFTER, wait.to_string()),
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
        ],
        page,
    )
        .into_response()
}

/// `POST /sign-in`. Throttled per name and per source address before any password is hashed.
pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = local_path(form.next.as_deref());
    let source = peer.map(|p| client_address(p.0 .0.ip(), &headers, &state.trusted_proxies));
    let name = form.name.trim();
    // A name no user can have is counted against the address only, and never stored.
    let plausible = users::valid_name(name);
    let refused = || {
        super::redirect::see_other(&format!(
            "/sign-in?error=credentials&next={}",
            encode(&next)
        ))
    };
    let attempt = match state
        .sign_in_throttle
        .attempt(plausible.then_some(name), source)
    {
        Ok(attempt) => attempt,
        Err(locked) => {
            tracing::info!(user = %name.chars().take(100).collect::<String>().escape_debug(), ?source, "portal sign-in throttled");
            return throttled(&locked);
        }
    };
    let failed = |failure: crate::auth::throttle::Failure| {
        let state = state.clone();
        let name = name.to_owned();
        async move {
            record_lock(&state, Some(&name), None, failure.name_locked_for).await;
            record_lock(&state, None, source, failure.source_locked_for).await;
        }
    };
    if !plausible {
        // No such user can exist: refused at once, without a hash.
        failed(attempt.if_wrong).await;
        return refused();
    }
    match state.core.verify_password(name, &form.password).await {
        Ok(Some(user)) => {
            state.sign_in_throttle.succeeded(attempt);
            if let Err(error) =
                start_session(&session, &user.name, SignInMethod::Password, Vec::new()).await
            {
                tracing::error!(%error, "could not start a portal session");
                return super::redirect::see_other("/sign-in?error=unavailable");
            }
            tracing::info!(user = %user.name, "signed in to the portal");
            if user.must_change_password {
                super::redirect::see_other("/password")
            } else {
                super::redirect::see_other(&next)
            }
        }
        Ok(None) | Err(UserError::PasswordTooLong) => {
            tracing::info!(user = %name, ?source, "portal sign-in refused: wrong name or password");
            failed(attempt.if_wrong).await;
            refused()
        }
        Err(UserError::Busy) => {
            state.sign_in_throttle.withdraw(attempt);
            tracing::warn!("portal sign-in: every password hashing slot stayed busy");
            super::redirect::see_other("/sign-in?error=busy")
        }
        Err(error) => {
            state.sign_in_throttle.withdraw(attempt);
            tracing::error!(%error, "portal sign-in failed");
            super::redirect::see_other("/sign-in?error=unavailable")
        }
    }
}

/// The address a request came from: the connection's peer, or, when the peer is a trusted proxy,
/// the last address in `X-Forwarded-For` that is not one (proxies append the address they saw,
/// so the entries before it are the client's own word and not trusted).
pub fn client_address(
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .take(64)
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

/// Audits a lock that a failure started, when it started one.
async fn record_lock(
    state: &AppState,
    name: Option<&str>,
    source: Option<std::net::IpAddr>,
    locked_for: Option<Duration>,
) {
    let Some(locked_for) = locked_for else {
        return;
    };
    tracing::warn!(user = ?name, ?source, seconds = locked_for.as_secs(), "portal sign-in locked after repeated wrong passwords");
    if let Err(error) = state
        .core
        .record_sign_in_lock(name, source, locked_for)
        .await
    {
        tracing::error!(%error, "could not audit a sign-in lock");
    }
}

/// `POST /sign-out`.
pub async fn sign_out(session: Session) -> Response {
    if let Err(error) = session.flush().await {
        tracing::error!(%error, "could not end a portal session");
    }
    super::redirect::see_other("/sign-in?signed_out=1")
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// `POST /password`: a signed-in local user changes their password.
pub async fn change_password(
    State(state): State<AppState>,
    session: Session,
    user: Option<axum::Extension<SignedIn>>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let Some(axum::Extension(user)) = user else {
        return super::redirect::see_other("/sign-in?next=/password");
    };
    if user.method != SignInMethod::Password {
        return super::redirect::see_other("/password?error=sso");
    }
    if form.new != form.confirm {
        return super::redirect::see_other("/password?error=mismatch");
    }
    match state
        .core
        .change_own_password(&user.actor(), &form.current, &form.new)
        .await
    {
        Ok(()) => {
            // Other sessions of this user end; this one continues under a new id.
            let store = state.core.session_store();
            if let Err(error) = store.forget_user(&user.name).await {
                tracing::error!(%error, "could not end the user's other sessions");
            }
            if let Err(error) =
                start_session(&session, &user.name, SignInMethod::Password, Vec::new()).await
            {
                tracing::error!(%error, "could not renew the portal session");
            }
            super::redirect::see_other("/?password_changed=1")
        }
        Err(error) => {
            let code = match error {
                UserError::PasswordTooShort => "short",
                UserError::PasswordUnchanged => "unchanged",
                UserError::WrongPassword => "current",
                UserError::PasswordTooLong => "long",
                other => {
                    tracing::error!(error = %other, "password change failed");
                    "unavailable"
                }
            };
            super::redirect::see_other(&format!("/password?error={code}"))
        }
    }
}

/// The session key holding the subject of a single sign-on refused for want of a role.
pub const REFUSED_SUBJECT_KEY: &str = "sso_refused_subject";

/// An identity provider's name for someone, as the portal and the audit trail show it: at most
/// 100 characters, no control characters.
fn shown_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// The session key holding a single sign-on in progress.
const PENDING_SSO_KEY: &str = "sso_pending";

#[derive(Deserialize)]
pub struct SsoLoginQuery {
    next: Option<String>,
}

/// `GET /sso/login`: sends the browser to the identity provider.
pub async fn sso_login(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Query(query): axum::extract::Query<SsoLoginQuery>,
) -> Response {
    let Some(sso) = state.sso.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "Single sign-on is not configured on this portal.",
        )
            .into_response();
    };
    let (url, pending) = sso.begin(local_path(query.next.as_deref()));
    if let Err(error) = session.insert(PENDING_SSO_KEY, &pending).await {
        tracing::error!(%error, "could not remember a single sign-on in progress");
        return super::redirect::see_other("/sign-in?error=unavailable");
    }
    super::redirect::see_other(&url)
}

#[derive(Deserialize)]
pub struct SsoCallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /sso/callback`: the identity provider sends the browser back here with a code.
pub async fn sso_callback(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Query(query): axum::extract::Query<SsoCallbackQuery>,
) -> Response {
    let Some(sso) = state.sso.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "Single sign-on is not configured on this portal.",
        )
            .into_response();
    };
    let pending: Option<crate::auth::sso::PendingSignIn> =
        session.remove(PENDING_SSO_KEY).await.ok().flatten();
    let (Some(pending), Some(code), Some(returned_state)) = (pending, query.code, query.state)
    else {
        tracing::warn!(
            error = query
                .error
                .as_deref()
                .unwrap_or("no code, state or pending sign-in"),
            description = query.error_description.as_deref().unwrap_or(""),
            "single sign-on did not complete"
        );
        return super::redirect::see_other("/sign-in?error=sso");
    };
    let identity = match sso.finish(&pending, &code, &returned_state).await {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(%error, "single sign-on refused");
            return super::redirect::see_other("/sign-in?error=sso");
        }
    };
    // Roles from the token stand on their own; without them, only the local user an admin
    // linked to this issuer and subject counts, never a user whose name matches a claim the
    // person could change.
    let (name, sso_roles) = if identity.roles.is_empty() {
        match state
            .core
            .user_linked_to(&identity.issuer, &identity.subject)
            .await
        {
            Ok(Some(local)) => (local.name, Vec::new()),
            Ok(None) => {
                tracing::info!(user = %identity.display_name.escape_debug(), subject = %identity.subject.escape_debug(), "single sign-on user has no portal role and no linked local user");
                // The sign-in page shows the subject from the session, never from its address,
                // so nobody can send an admin a link that shows a subject of their choosing.
                if let Err(error) = session.insert(REFUSED_SUBJECT_KEY, &identity.subject).await {
                    tracing::error!(%error, "could not remember a refused single sign-on");
                }
                return super::redirect::see_other("/sign-in?error=sso-roles");
            }
            Err(error) => {
                tracing::error!(%error, "could not look up the linked local user");
                return super::redirect::see_other("/sign-in?error=unavailable");
            }
        }
    } else {
        (
            format!("sso:{}", shown_name(&identity.display_name)),
            identity.roles.clone(),
        )
    };
    if let Err(error) = start_session(&session, &name, SignInMethod::SingleSignOn, sso_roles).await
    {
        tracing::error!(%error, "could not start a portal session");
        return super::redirect::see_other("/sign-in?error=unavailable");
    }
    tracing::info!(user = %name, subject = %identity.subject, "signed in to the portal with single sign-on");
    super::redirect::see_other(&pending.next)
}

#[cfg(test)]
mod tests {
    use super::client_address;
    use axum::http::HeaderMap;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: std::net::IpAddr = "10.0.0.5".parse().unwrap();
        let mut headers = HeaderMap::new();
        // The client wrote the first entry itself; the proxy appended the one it saw.
        headers.insert("x-forwarded-for", "6.6.6.6, 198.51.100.7".parse().unwrap());
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_address(proxy, &headers, &trusted),
            "198.51.100.7".parse::<std::net::IpAddr>().unwrap()
        );
        // Without a trusted proxy the header is anyone's word, and ignored.
        assert_eq!(client_address(proxy, &headers, &[]), proxy);
        let stranger: std::net::IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_address(stranger, &headers, &trusted), stranger);
        // Junk in the header leaves the proxy's own address.
        headers.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(client_address(proxy, &headers, &trusted), proxy);
    }
}
