//! JWTs from an OIDC issuer: a local issuer serves discovery and keys; tokens are signed with a
//! test key (tests/fixtures), then checked for signature, issuer, audience, expiry and roles.

use crate::common::{send, TestDb};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Json;
use jsonwebtoken::{encode, EncodingKey, Header};
use numbat::auth::oidc::OidcVerifier;
use numbat::server::router;
use numbat::state::AppState;
use serde_json::{json, Value};

const AUDIENCE: &str = "api://numbat-provisioning";
const KEY: &str = include_str!("fixtures/oidc-test-key.pem");
const JWKS: &str = include_str!("fixtures/oidc-test-jwks.json");

/// Serves discovery and keys on a free loopback port; returns the issuer URL.
async fn issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let jwks_uri = format!("{base}/keys");
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(json!({ "jwks_uri": jwks_uri })) }),
        )
        .route(
            "/keys",
            get(|| async { Json(serde_json::from_str::<Value>(JWKS).unwrap()) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn token(claims: Value) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("numbat-test-1".into());
    encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn claims(issuer: &str, roles: &[&str]) -> Value {
    json!({ "iss": issuer, "aud": AUDIENCE, "sub": "s-1", "azp": "bss-app", "exp": now() + 600, "nbf": now() - 10, "roles": roles })
}

async fn call(
    app: &axum::Router,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(format!(
            "/provisioning{path}?api-version=2024-02-29-preview"
        ))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let (response, text) = send(app, request).await;
    (
        response.status(),
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn jwts_are_checked_and_their_roles_apply() {
    let issuer = issuer().await;
    let test = TestDb::sqlite().await.migrated().await;
    let verifier = OidcVerifier::discover(&issuer, AUDIENCE).await.unwrap();
    let app =
        router(AppState::new(test.db.clone(), std::path::Path::new("/none")).with_oidc(verifier));
    let account = json!({ "name": "contoso", "serviceDetails": { "teamsDirectRouting": { "enabled": true, "syncEnabled": false } } });

    let admin = token(claims(&issuer, &["ProvisioningAPI.Admin"]));
    let (status, body) = call(
        &app,
        &admin,
        "PUT",
        "/accounts/contoso",
        Some(account.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let core = numbat::provisioning::Provisioning::new(test.db.clone());
    let reader = numbat::provisioning::Actor::new(
        "t",
        &[numbat::provisioning::Role::Read],
        numbat::provisioning::Door::Api,
    );
    let events = core
        .audit_events(&reader, Some("account"), None, None, 5)
        .await
        .unwrap();
    assert_eq!(
        events[0].actor, "oidc:bss-app",
        "the client's app ID is who did it"
    );

    let read_only = token(claims(&issuer, &["ProvisioningAPI.Read"]));
    assert_eq!(
        call(&app, &read_only, "GET", "/accounts/contoso", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &app,
            &read_only,
            "PUT",
            "/accounts/contoso",
            Some(account.clone())
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let no_roles = token(claims(&issuer, &[]));
    assert_eq!(
        call(&app, &no_roles, "GET", "/accounts", None).await.0,
        StatusCode::FORBIDDEN
    );

    let mut expired = claims(&issuer, &["ProvisioningAPI.Admin"]);
    expired["exp"] = json!(now() - 3600);
    let mut other_audience = claims(&issuer, &["ProvisioningAPI.Admin"]);
    other_audience["aud"] = json!("api://something-else");
    let mut other_issuer = claims(&issuer, &["ProvisioningAPI.Admin"]);
    other_issuer["iss"] = json!("https://login.example.net/evil/v2.0");
    for bad in [expired, other_audience, other_issuer] {
        let (status, body) = call(&app, &token(bad.clone()), "GET", "/accounts", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}: {body}");
    }
    // A token whose payload was changed after signing.
    let mut parts: Vec<String> = admin.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    let (status, _) = call(&app, &parts.join("."), "GET", "/accounts", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_naming_made_up_keys_do_not_make_the_server_fetch_keys_again_and_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fetches = Arc::new(AtomicUsize::new(0));
    let jwks_uri = format!("{base}/keys");
    let counted = fetches.clone();
    let issuer_app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(json!({ "jwks_uri": jwks_uri })) }),
        )
        .route(
            "/keys",
            get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Json(serde_json::from_str::<Value>(JWKS).unwrap()) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, issuer_app).await.unwrap() });
    let test = TestDb::sqlite().await.migrated().await;
    let verifier = OidcVerifier::discover(&base, AUDIENCE).await.unwrap();
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "discovery fetches the keys once"
    );
    let app =
        router(AppState::new(test.db.clone(), std::path::Path::new("/none")).with_oidc(verifier));

    let forged: Vec<_> = (0..50)
        .map(|n| {
            let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
            header.kid = Some(format!("made-up-{n}-{}", "k".repeat(500)));
            encode(
                &header,
                &claims(&base, &["ProvisioningAPI.Admin"]),
                &EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap(),
            )
            .unwrap()
        })
        .collect();
    let answers = futures_util::future::join_all(
        forged
            .iter()
            .map(|token| call(&app, token, "GET", "/accounts", None)),
    )
    .await;
    for (status, body) in answers {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.len() < 300,
            "the made-up kid is not echoed whole: {message}"
        );
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "unknown kids within a minute of the last fetch cause no fetch"
    );
}
