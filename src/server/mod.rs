//! The HTTP server: the router that joins the portal, health checks and static files, and the
//! process around it (start-up migrations, graceful shutdown).

mod assets;
pub mod files;
pub mod headers;
mod health;
pub mod portal_session;
pub mod redirect;

use crate::cli::ServeArgs;
use crate::store::Database;
use crate::ui::{shell, App};
use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::path::{Path, PathBuf};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

/// Everything a request handler may need.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Database,
    /// The provisioning core every door writes through.
    pub core: crate::provisioning::Provisioning,
    /// Whether the browser bundle was found at start-up; without it pages are served as plain HTML.
    pub with_bundle: bool,
    /// Verifies JWTs from the configured OIDC issuer, when there is one.
    pub oidc: Option<std::sync::Arc<crate::auth::oidc::OidcVerifier>>,
    /// The API's source allowlist and rate limit.
    pub api_limits: std::sync::Arc<crate::api::ApiLimits>,
    /// Operator Connect's capability plans, from configuration until sync fetches them.
    pub capability_plans: std::sync::Arc<Vec<crate::api::CapabilityPlan>>,
    /// Portal sessions: cookie security, idle and absolute lifetimes.
    pub sessions: portal_session::SessionPolicy,
    /// Single sign-on to the portal, when an identity provider is configured.
    pub sso: Option<std::sync::Arc<crate::auth::sso::SingleSignOn>>,
    /// Operator Connect, when sync is on: capability questions go to it.
    pub upstream: Option<std::sync::Arc<crate::sync::OcClient>>,
    /// Failed portal sign-ins per name and per source address.
    pub sign_in_throttle: std::sync::Arc<crate::auth::throttle::SignInThrottle>,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxies`).
    pub trusted_proxies: std::sync::Arc<Vec<ipnet::IpNet>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// State for a server whose browser bundle, if any, lives under `site_root/pkg`.
    pub fn new(db: Database, site_root: &Path) -> Self {
        let leptos_options = LeptosOptions::builder()
            .output_name("numbat")
            .site_root(site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .build();
        let with_bundle = bundle_files(site_root).iter().all(|file| file.is_file());
        Self {
            leptos_options,
            core: crate::provisioning::Provisioning::new(db.clone()),
            db,
            with_bundle,
            capability_plans: std::sync::Arc::new(crate::api::default_capability_plans()),
            api_limits: std::sync::Arc::default(),
            oidc: None,
            sessions: portal_session::SessionPolicy::default(),
            sso: None,
            upstream: None,
            sign_in_throttle: std::sync::Arc::default(),
            trusted_proxies: std::sync::Arc::default(),
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
    pub fn with_session_policy(mut self, policy: portal_session::SessionPolicy) -> Self {
        self.sessions = policy;
        self
    }

    /// The same state accepting JWTs that `verifier` accepts.
    pub fn with_oidc(mut self, verifier: crate::auth::oidc::OidcVerifier) -> Self {
        self.oidc = Some(std::sync::Arc::new(verifier));
        self
    }

    /// The same state with the API's allowlist and rate limit.
    pub fn with_api_limits(mut self, limits: crate::api::ApiLimits) -> Self {
        self.api_limits = std::sync::Arc::new(limits);
        self
    }

    /// The same state answering capability questions with `plans`.
    pub fn with_capability_plans(mut self, plans: Vec<crate::api::CapabilityPlan>) -> Self {
        self.capability_plans = std::sync::Arc::new(plans);
        self
    }
}

/// The two files the hydration script loads.
pub fn bundle_files(site_root: &Path) -> [PathBuf; 2] {
    let pkg = site_root.join("pkg");
    [pkg.join("numbat.js"), pkg.join("numbat_bg.wasm")]
}

/// The whole application as one `Router`; tests drive it directly.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let with_bundle = state.with_bundle;
    let https = state.sessions.secure_cookie;
    let page_shell = {
        let options = state.leptos_options.clone();
        move || shell(options.clone(), with_bundle)
    };
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/theme", get(assets::set_theme))
        .route("/style/numbat.css", get(assets::stylesheet))
        .route("/favicon.svg", get(assets::favicon))
        .route("/openapi.json", get(crate::api::docs::openapi_json))
        .route("/api-docs", get(crate::api::docs::page))
        .route(
            "/sign-in",
            axum::routing::post(portal_session::sign_in).layer(
                axum::extract::DefaultBodyLimit::max(portal_session::MAX_FORM_BYTES),
            ),
        )
        .route("/sign-out", axum::routing::post(portal_session::sign_out))
        .route("/sso/login", get(portal_session::sso_login))
        .route("/sso/callback", get(portal_session::sso_callback))
        .route(
            "/password",
            axum::routing::post(portal_session::change_password).layer(
                axum::extract::DefaultBodyLimit::max(portal_session::MAX_FORM_BYTES),
            ),
        )
        .route(
            "/imports",
            axum::routing::post(files::upload).layer(axum::extract::DefaultBodyLimit::max(
                files::MAX_UPLOAD_BYTES,
            )),
        )
        .route("/imports/{id}/apply", axum::routing::post(files::apply))
        .route("/jobs/{id}/resume", axum::routing::post(files::resume))
        .route("/imports/{id}/report.csv", get(files::report))
        .route("/numbers/export.csv", get(files::export_numbers))
        .route("/numbers/bulk", axum::routing::post(files::bulk))
        .route("/audit/export.csv", get(files::export_audit))
        .route("/accounts/export.csv", get(files::export_accounts))
        .nest(crate::api::MOUNT, crate::api::router(state.clone()))
        .leptos_routes(&state, routes, page_shell)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            move |options| shell(options, with_bundle),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            portal_session::identify,
        ))
        .layer(portal_session::layer(&state.db, &state.sessions))
        .layer(axum::middleware::from_fn(portal_session::refuse_cross_site))
        .layer(axum::middleware::from_fn(server_function_statuses))
        .layer(axum::middleware::from_fn(log_server_errors))
        .layer(axum::middleware::from_fn(move |request, next| {
            headers::secure(https, request, next)
        }))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Server functions (under `/api/`) answer every error with 500. The error names its real status
/// (`ERROR_STATUS_HEADER`: 401, 403, 503, …); one that names none is a request that could not be
/// done as sent, 400. A no-JavaScript form post's redirect is left as it is.
async fn server_function_statuses(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use crate::ui::access::server::ERROR_STATUS_HEADER;
    let server_function = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    if !server_function {
        return response;
    }
    let named = response
        .headers_mut()
        .remove(ERROR_STATUS_HEADER)
        .and_then(|v| v.to_str().ok()?.parse::<u16>().ok())
        .and_then(|code| axum::http::StatusCode::from_u16(code).ok());
    if response.status() == axum::http::StatusCode::INTERNAL_SERVER_ERROR {
        *response.status_mut() = named.unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    }
    response
}

/// Every 5xx answer is logged at error level with its request, so a test run can fail on one.
async fn log_server_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    let status = response.status();
    if status.is_server_error() {
        tracing::error!(%method, %path, status = status.as_u16(), "answered a server error");
    }
    response
}

/// `numbat serve`: open and migrate the database, then answer until SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let db = Database::connect(&args.database.database_url).await?;
    let schema_version = db.migrate().await?;
    tracing::info!(database = db.kind(), schema_version, "database ready");

    if crate::auth::users::count(&db).await? == 0 {
        tracing::warn!(
            "no portal users yet: create the first admin with `numbat user add NAME --role AdminUser` \
             (it prints a one-time password to change at first sign-in)"
        );
    }
    let mut state = AppState::new(db.clone(), &args.site_root).with_session_policy(
        portal_session::SessionPolicy {
            secure_cookie: args
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
            idle: std::time::Duration::from_secs(args.session_idle_minutes * 60),
            absolute: std::time::Duration::from_secs(args.session_max_hours * 3600),
        },
    );
    tokio::spawn(forget_expired_sessions(db.clone()));
    if let Some(path) = &args.capability_plans {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--capability-plans {}: {e}", path.display()))?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Plans {
            capability_plans: Vec<crate::api::CapabilityPlan>,
        }
        let plans: Plans = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "--capability-plans {}: not ACG's TeamsCapabilityPlans shape: {e}",
                path.display()
            )
        })?;
        state = state.with_capability_plans(plans.capability_plans);
    }
    if !state.with_bundle {
        tracing::warn!(
            site_root = %args.site_root.display(),
            "browser bundle not found: serving pages without it (they work, without live controls)"
        );
    }
    state.trusted_proxies = std::sync::Arc::new(args.trusted_proxies.clone());
    state = state.with_api_limits(crate::api::ApiLimits::new(
        args.api_allow.clone(),
        args.api_rate_limit,
    ));
    match (&args.oidc_issuer, &args.oidc_audience) {
        (Some(issuer), Some(audience)) => {
            let verifier = crate::auth::oidc::OidcVerifier::discover(issuer, audience).await?;
            tracing::info!(%issuer, %audience, "accepting JWTs from the OIDC issuer");
            state = state.with_oidc(verifier);
        }
        (None, None) => {}
        _ => anyhow::bail!("--oidc-issuer and --oidc-audience go together: give both or neither"),
    }
    match (&args.sso_issuer, &args.sso_client_id, &args.public_url) {
        (Some(issuer), Some(client_id), Some(public_url)) => {
            let secret = crate::cli::secret(
                "NUMBAT_SSO_CLIENT_SECRET",
                args.sso_client_secret_file.as_deref(),
            )?
            .unwrap_or_default();
            let callback = format!("{}/sso/callback", public_url.trim_end_matches('/'));
            let sso =
                crate::auth::sso::SingleSignOn::discover(issuer, client_id, &secret, &callback)
                    .await?;
            tracing::info!(%issuer, %callback, "portal single sign-on on");
            state = state.with_single_sign_on(sso);
        }
        (None, None, _) => {}
        (_, _, None) if args.sso_issuer.is_some() => {
            anyhow::bail!(
                "--sso-issuer needs --public-url (the callback address browsers return to)"
            )
        }
        _ => anyhow::bail!("--sso-issuer and --sso-client-id go together: give both or neither"),
    }
    if let Some(folder) = &args.upload_dir {
        tracing::warn!(
            folder = %folder.display(),
            "--upload-dir (NUMBAT_UPLOAD_DIR) is no longer used: uploads wait in the database, so any node can apply them"
        );
    }
    state = state.with_job_lease(std::time::Duration::from_secs(args.job_lease_secs));
    tokio::spawn(files::look_after_jobs(state.core.clone()));
    tokio::spawn(forget_old_repeatable_answers(db.clone()));
    state.upstream = crate::sync::start(&db, &args.sync)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Deletes portal sessions past their expiry, every ten minutes.
async fn forget_expired_sessions(db: Database) {
    use tower_sessions::session_store::ExpiredDeletion;
    let store = crate::store::sessions::DatabaseSessionStore::new(db);
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        if let Err(error) = store.delete_expired().await {
            tracing::warn!(%error, "could not delete expired portal sessions");
        }
    }
}

/// Drops stored answers to repeatable requests once they are past the replay window.
async fn forget_old_repeatable_answers(db: Database) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        let before = crate::provisioning::timestamp_ago(crate::api::REPEAT_WINDOW);
        if let Err(error) = crate::store::repeatability::forget_before(&db, &before).await {
            tracing::warn!(%error, "could not forget old repeatable answers");
        }
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received: finishing requests in flight"),
        () = terminate => tracing::info!("SIGTERM received: finishing requests in flight"),
    }
}
