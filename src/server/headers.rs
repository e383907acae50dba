//! Security headers on every answer: a Content-Security-Policy whose per-request nonce lets
//! only the page's own hydration scripts run, framing refused, no MIME sniffing, a referrer
//! policy, `no-store` on everything that is not a static file, and a year's caching for the
//! browser bundle's files, whose names carry their hash. Depends on axum only; the
//! page shell reads the nonce from the request (see `Nonce`).

use crate::state::Nonce;
use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, VARY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The policy for a response whose scripts carry `nonce`. `wasm-unsafe-eval` lets the browser
/// bundle compile its WebAssembly; nothing is loaded from another origin, and no form posts
/// elsewhere.
pub fn content_security_policy(nonce: &Nonce) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
        nonce.0
    )
}

/// Whether `path` is a static file that may be cached (revalidated) rather than `no-store`.
fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/style/")
        || path == "/favicon.svg"
        || path == "/openapi.json"
}

/// Whether `path` is a file of a browser bundle named by its hash (`/pkg/numbat-<hash>…`),
/// which never changes and may be kept for a year.
fn is_hashed(path: &str) -> bool {
    path.strip_prefix("/pkg/numbat-").is_some_and(|rest| {
        let hash = rest.split(['.', '_']).next().unwrap_or_default();
        hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The middleware. `https` adds `Strict-Transport-Security` (the portal's public URL is https).
pub async fn secure(https: bool, mut request: Request, next: Next) -> Response {
    let nonce = Nonce::random();
    let policy = content_security_policy(&nonce);
    let cacheable = is_static(request.uri().path());
    let immutable = is_hashed(request.uri().path());
    request.extensions_mut().insert(nonce);
    let mut response = next.run(request).await;
    let status = response.status();
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if https {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if immutable {
        // Sent as built, compressed or not, by what the browser takes.
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
    let found = status.is_success() || status == axum::http::StatusCode::NOT_MODIFIED;
    if immutable && found {
        // Named by its content's hash: a new build has a new name. Only a file found: a 404
        // (a node not yet upgraded asked for a new name) is asked again next time.
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    } else if cacheable {
        headers
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-cache"));
    } else {
        // Pages and downloads hold customers' data, one-time passwords and token secrets.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
