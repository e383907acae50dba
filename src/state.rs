//! What the HTTP doors share: the application state every handler receives, and the settings
//! and per-request values the doors read from it (session lifetimes, the page's script nonce).
//! Below the doors (`api`, `ui`, `server`) and never importing them; it may depend on the core,
//! `auth`, `sync`, `wire` and `store`.

use crate::store::Database;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the Provisioning API is mounted; an ACG client's endpoint is
/// `https://<host>/provisioning`. The portal's session checks leave this path to the API.
pub const API_MOUNT: &str = "/provisioning";

/// Everything a request handler may need.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The provisioning core every door writes through.
    pub core: crate::provisioning::Provisioning,
    /// Whether the browser bundle was found at start-up; without it pages are served as plain HTML.
    pub with_bundle: bool,
    /// Verifies JWTs from the configured OIDC issuer, when there is one.
    pub oidc: Option<std::sync::Arc<crate::auth::oidc::OidcVerifier>>,
    /// The API's source allowlist and rate limit.
    pub api_limits: std::sync::Arc<crate::auth::limits::ApiLimits>,
    /// Operator Connect's capability plans, from configuration until sync fetches them.
    pub capability_plans: std::sync::Arc<Vec<crate::wire::CapabilityPlan>>,
    /// Portal sessions: cookie security, idle and absolute lifetimes.
    pub sessions: SessionPolicy,
    /// Single sign-on to the portal, when an identity provider is configured.
    pub sso: Option<std::sync::Arc<crate::auth::sso::SingleSignOn>>,
    /// Operator Connect, when sync is on: capability questions go to it.
    pub upstream: Option<std::sync::Arc<crate::sync::OcClient>>,
    /// Failed portal sign-ins per name and per source address.
    pub sign_in_throttle: std::sync::Arc<crate::auth::throttle::SignInThrottle>,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxies`).
    pub trusted_proxies: std::sync::Arc<Vec<ipnet::IpNet>>,
    /// Requests answered and how long they took, for `/metrics`.
    pub http_metrics: std::sync::Arc<crate::telemetry::http::HttpMetrics>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// State for a server whose browser bundle, if any, lives under `site_root/pkg`.
    pub fn new(db: Database, site_root: &Path) -> Self {
        let bundle = bundle_name(site_root);
        let leptos_options = LeptosOptions::builder()
            .output_name(bundle.clone().unwrap_or_else(|| "numbat".to_owned()))
            .site_root(site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .build();
        let with_bundle = bundle.is_some();
        Self {
            leptos_options,
            core: crate::provisioning::Provisioning::new(db),
            with_bundle,
            capability_plans: std::sync::Arc::new(crate::wire::default_capability_plans()),
            api_limits: std::sync::Arc::default(),
            oidc: None,
            sessions: SessionPolicy::default(),
            sso: None,
            upstream: None,
            sign_in_throttle: std::sync::Arc::default(),
            trusted_proxies: std::sync::Arc::default(),
            http_metrics: std::sync::Arc::default(),
        }
    }

    /// The same state holding bulk jobs under leases of `lease` (see `provisioning::import`).
    pub fn with_job_lease(mut self, lease: std::time::Duration) -> Self {
        self.core = self.core.with_job_lease(lease);
        self
    }

    /// The same state offering single sign-on through `sso`.
    pub fn with_single_sign_on(mut self, sso: crate::auth::sso::SingleSignOn) -> Self {
        self.sso = Some(std::sync::Arc::new(sso));
        self
    }

    /// The same state with these session lifetimes and cookie security.
    pub fn with_session_policy(mut self, policy: SessionPolicy) -> Self {
        self.sessions = policy;
        self
    }

    /// The same state accepting JWTs that `verifier` accepts.
    pub fn with_oidc(mut self, verifier: crate::auth::oidc::OidcVerifier) -> Self {
        self.oidc = Some(std::sync::Arc::new(verifier));
        self
    }

    /// The same state with the API's allowlist and rate limit.
    pub fn with_api_limits(mut self, limits: crate::auth::limits::ApiLimits) -> Self {
        self.api_limits = std::sync::Arc::new(limits);
        self
    }

    /// The capability plans Operator Connect offers `tenant`: asked of Operator Connect when
    /// sync is on, else those configured (`--capability-plans`, or the built-in default).
    pub async fn capability_plans_of(
        &self,
        tenant: &str,
    ) -> Result<Vec<crate::wire::CapabilityPlan>, crate::sync::UpstreamError> {
        match &self.upstream {
            Some(upstream) => upstream.capability_plans(tenant).await,
            None => Ok(self.capability_plans.as_ref().clone()),
        }
    }

    /// The same state answering capability questions with `plans`.
    pub fn with_capability_plans(mut self, plans: Vec<crate::wire::CapabilityPlan>) -> Self {
        self.capability_plans = std::sync::Arc::new(plans);
        self
    }
}

/// The browser bundle's name under `site_root/pkg`, when both its files are there: the one
/// `pkg/bundle` names (`numbat-<hash>`, as `scripts/build-bundle.sh` writes it, so a new build
/// never meets an old file in a browser's cache), else plain `numbat`.
pub fn bundle_name(site_root: &Path) -> Option<String> {
    let pkg = site_root.join("pkg");
    let named = std::fs::read_to_string(pkg.join("bundle"))
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| is_bundle_name(name));
    let name = named.unwrap_or_else(|| "numbat".to_owned());
    let [js, wasm] = bundle_files(site_root, &name);
    (js.is_file() && wasm.is_file()).then_some(name)
}

/// Whether `name` is one the build writes: `numbat`, then `-` and hex digits. Anything else
/// in `pkg/bundle` is ignored rather than put into pages.
fn is_bundle_name(name: &str) -> bool {
    name.strip_prefix("numbat-").is_some_and(|hash| {
        (8..=64).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The two files of bundle `name` the hydration script loads.
pub fn bundle_files(site_root: &Path, name: &str) -> [PathBuf; 2] {
    let pkg = site_root.join("pkg");
    [
        pkg.join(format!("{name}.js")),
        pkg.join(format!("{name}_bg.wasm")),
    ]
}

/// How long portal sessions last.
#[derive(Clone, Debug)]
pub struct SessionPolicy {
    /// Sent only over HTTPS: on whenever the portal's public URL is https.
    pub secure_cookie: bool,
    /// Signed out after this long without a request.
    pub idle: Duration,
    /// Signed out this long after signing in, however active.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            secure_cookie: false,
            idle: Duration::from_secs(60 * 60),
            absolute: Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// This request's script nonce, put in the request's extensions for the page shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nonce(pub String);

impl Nonce {
    /// A fresh random nonce.
    pub fn random() -> Self {
        Self(
            rand::random::<[u8; 16]>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }
}

/// On each route (a `route_layer`): hands the route template the router matched out on the
/// response, where the server's outermost layer reads it for `/metrics`. The innermost router's template is kept, so a request
/// to the nested API is counted under its own operation's template.
pub async fn mark_route(
    matched: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        if response
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .is_none()
        {
            response.extensions_mut().insert(matched);
        }
    }
    response
}
