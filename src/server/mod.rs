//! The HTTP server: the router that joins the portal, health checks and static files, and the
//! process around it (start-up migrations, graceful shutdown). The top of the HTTP side: it
//! mounts the doors (`api`, `ui`) and may depend on anything below; nothing imports it but
//! `cli`.

mod args;
mod assets;
pub mod headers;
mod health;
pub mod observe;

pub use args::ServeArgs;

use crate::state::AppState;
use crate::store::Database;
use crate::ui::http::{files, session};
use crate::ui::{shell, App};
use axum::routing::get;
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

/// The whole application as one `Router`; tests drive it directly.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let with_bundle = state.with_bundle;
    let https = state.sessions.secure_cookie;
    let metrics = state.http_metrics.clone();
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
            axum::routing::post(session::sign_in).layer(axum::extract::DefaultBodyLimit::max(
                session::MAX_FORM_BYTES,
            )),
        )
        .route("/sign-out", axum::routing::post(session::sign_out))
        .route("/sso/login", get(session::sso_login))
        .route("/sso/callback", get(session::sso_callback))
        .route(
            "/password",
            axum::routing::post(session::change_password).layer(
                axum::extract::DefaultBodyLimit::max(session::MAX_FORM_BYTES),
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
        .route("/billing/export.csv", get(files::export_billing))
        .nest(crate::api::MOUNT, crate::api::router(state.clone()))
        // The browser bundle, sent as compressed at build time (brotli, gzip) when the browser
        // takes it and the file is there.
        .nest_service(
            "/pkg",
            tower_http::services::ServeDir::new(
                std::path::Path::new(state.leptos_options.site_root.as_ref()).join("pkg"),
            )
            .precompressed_br()
            .precompressed_gzip(),
        )
        .leptos_routes(&state, routes, page_shell)
        .route_layer(axum::middleware::from_fn(crate::state::mark_route))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            move |options| shell(options, with_bundle),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::identify,
        ))
        .layer(session::layer(&state.core, &state.sessions))
        .layer(axum::middleware::from_fn(session::refuse_cross_site))
        .layer(axum::middleware::from_fn(server_function_statuses))
        .layer(axum::middleware::from_fn(limit_server_function_bodies))
        .layer(axum::middleware::from_fn(log_server_errors))
        .layer(axum::middleware::from_fn(move |request, next| {
            headers::secure(https, request, next)
        }))
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(observe::span)
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        )
        .layer(axum::middleware::from_fn(move |request, next| {
            observe::observe(metrics.clone(), request, next)
        }))
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

/// The most a server function's request body may hold. The largest form (1,000 pasted numbers
/// and a Teams block) is about 20 KiB; uploads go to `/imports`, not here.
pub const MAX_SERVER_FUNCTION_BYTES: usize = 256 * 1024;

/// Server functions (under `/api/`) read their whole body before they look at it, so the body is
/// bounded here: a larger one is a 413 and is never read past the limit.
async fn limit_server_function_bodies(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let too_large = || {
        (
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "A form may hold at most {MAX_SERVER_FUNCTION_BYTES} bytes; nothing was changed."
            ),
        )
            .into_response()
    };
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_SERVER_FUNCTION_BYTES) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_SERVER_FUNCTION_BYTES).await {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(bytes),
            ))
            .await
        }
        Err(_) => too_large(),
    }
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
    // From the start: a stop while the server starts is a clean one too.
    let shutdown = crate::process::Shutdown::listen();
    let db = Database::connect(&args.database.database_url).await?;
    let schema_version = db.migrate().await?;
    tracing::info!(database = db.kind(), schema_version, "database ready");

    if crate::provisioning::Provisioning::new(db.clone())
        .user_count()
        .await?
        == 0
    {
        tracing::warn!(
            "no portal users yet: create the first admin with `numbat user add NAME --role AdminUser` \
             (it prints a one-time password to change at first sign-in)"
        );
    }
    let mut state = AppState::new(db.clone(), &args.site_root).with_session_policy(
        crate::state::SessionPolicy {
            secure_cookie: args
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
            idle: std::time::Duration::from_secs(args.session_idle_minutes * 60),
            absolute: std::time::Duration::from_secs(args.session_max_hours * 3600),
        },
    );
    tokio::spawn(forget_expired_sessions(db.clone()));
    tokio::spawn(count_billable_users(
        crate::provisioning::Provisioning::new(db.clone()),
    ));
    if let Some(path) = &args.capability_plans {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--capability-plans {}: {e}", path.display()))?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Plans {
            capability_plans: Vec<crate::wire::CapabilityPlan>,
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
    state = state.with_api_limits(crate::auth::limits::ApiLimits::new(
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
            let secret = crate::process::secret(
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
    state.core = state
        .core
        .clone()
        .with_private_webhooks(args.webhooks_allow_private)
        .with_webhook_retry(crate::provisioning::webhooks::RetryPolicy {
            first_wait: std::time::Duration::from_millis(args.webhooks_first_retry_ms),
            ..Default::default()
        });
    if args.webhooks_deliver {
        crate::hooks::start(state.core.clone());
    }
    tokio::spawn(files::look_after_jobs(state.core.clone()));
    tokio::spawn(forget_old_repeatable_answers(db.clone()));
    tokio::spawn(end_holds_that_ran_out(state.core.clone()));
    state.upstream = crate::sync::start(&db, &args.sync)?;
    let core = state.core.clone();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "listening on http://{}", listener.local_addr()?);
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let serving = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.wait().await;
        let _ = signalled.send(());
    });
    // Requests in flight get DRAIN_GRACE to finish; a slow client does not hold the stop up
    // until the service manager's SIGKILL, which would leave the jobs below unhanded.
    tokio::select! {
        served = serving => served?,
        () = async {
            let _ = on_signal.await;
            tokio::time::sleep(DRAIN_GRACE).await;
        } => tracing::warn!(
            grace_secs = DRAIN_GRACE.as_secs(),
            "requests still in flight after the grace: stopping without them"
        ),
    }
    match core.let_go_of_own_jobs().await {
        Ok(0) => {}
        Ok(jobs) => tracing::info!(jobs, "bulk jobs handed back: any node can resume them now"),
        Err(error) => {
            tracing::warn!(%error, "could not hand back running bulk jobs: they become resumable when their leases run out")
        }
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// How long `numbat serve` waits for requests in flight after SIGTERM (below the packaged
/// unit's `TimeoutStopSec=60`, and podman's and Kubernetes' defaults once raised as the
/// operations guide says).
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

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

/// Counts the day's billable users at start-up and then at the first check (every ten minutes)
/// of each UTC day. Every node runs it; each day is counted by one of them.
async fn count_billable_users(core: crate::provisioning::Provisioning) {
    let node = crate::provisioning::launch::node_name();
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        if let Err(error) = core
            .take_billing_snapshot(time::OffsetDateTime::now_utc(), &node)
            .await
        {
            tracing::warn!(%error, "could not count the day's billable users");
        }
    }
}

/// Makes reserved and quarantined numbers whose time ran out available, every minute. Every
/// node runs it; each hold is ended by one of them (see `Provisioning::end_due_holds`).
async fn end_holds_that_ran_out(core: crate::provisioning::Provisioning) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        match core.end_due_holds(time::OffsetDateTime::now_utc()).await {
            Ok(0) => {}
            Ok(ended) => tracing::info!(ended, "reservations and quarantines that ran out ended"),
            Err(error) => {
                tracing::warn!(%error, "could not end reservations and quarantines that ran out")
            }
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
