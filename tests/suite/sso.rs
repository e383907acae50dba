//! Single sign-on to the portal: a local identity provider implements the authorization code
//! flow with PKCE (checking the verifier against the challenge) and signs ID tokens with the
//! test key; the portal must check state, nonce, signature and audience, and take roles from
//! the token or from a local user.

use crate::common;

use crate::common::{Browser, TestDb};
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Json;
use jsonwebtoken::{encode, EncodingKey, Header};
use numbat::auth::sso::SingleSignOn;
use numbat::auth::users::PortalRole;
use numbat::server::router;
use numbat::state::AppState;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "numbat-portal";
const SECRET: &str = "portal-secret";
const CALLBACK: &str = "http://portal.test/sso/callback";
const KEY: &str = include_str!("fixtures/oidc-test-key.pem");
const JWKS: &str = include_str!("fixtures/oidc-test-jwks.json");

/// What the provider signs into the next ID token, and what it saw.
#[derive(Clone, Default)]
struct Provider {
    base: String,
    claims: Arc<Mutex<Value>>,
    /// code → (code_challenge, nonce)
    codes: Arc<Mutex<HashMap<String, (String, String)>>>,
}

async fn authorize(
    State(p): State<Provider>,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], CALLBACK);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let code = format!("code-{}", p.codes.lock().unwrap().len());
    p.codes.lock().unwrap().insert(
        code.clone(),
        (q["code_challenge"].clone(), q["nonce"].clone()),
    );
    Redirect::to(&format!("{CALLBACK}?code={code}&state={}", q["state"]))
}

async fn token(
    State(p): State<Provider>,
    Form(f): Form<HashMap<String, String>>,
) -> axum::response::Response {
    let refuse = |why: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant", "error_description": why })),
        )
            .into_response()
    };
    if f.get("client_secret").map(String::as_str) != Some(SECRET) {
        return refuse("bad client secret");
    }
    let Some((challenge, nonce)) = p.codes.lock().unwrap().remove(&f["code"]) else {
        return refuse("unknown code");
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let hashed = base64_url(&Sha256::digest(verifier.as_bytes()));
    if hashed != challenge {
        return refuse("PKCE verifier does not match the challenge");
    }
    let mut claims = p.claims.lock().unwrap().clone();
    claims["iss"] = json!(p.base);
    claims["aud"] = json!(claims.get("aud").cloned().unwrap_or(json!(CLIENT_ID)));
    claims["nonce"] = claims.get("nonce").cloned().unwrap_or(json!(nonce));
    claims["exp"] = json!(now() + 600);
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("numbat-test-1".into());
    let id_token = encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap(),
    )
    .unwrap();
    Json(json!({ "access_token": "at", "token_type": "Bearer", "expires_in": 600, "id_token": id_token })).into_response()
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn provider() -> Provider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = Provider {
        base: base.clone(),
        ..Provider::default()
    };
    let discovery = json!({
        "issuer": base,
        "jwks_uri": format!("{base}/keys"),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(discovery) }),
        )
        .route(
            "/keys",
            get(|| async { Json(serde_json::from_str::<Value>(JWKS).unwrap()) }),
        )
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(provider.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    provider
}

/// Walks the browser through `/sso/login` → provider → `/sso/callback`; returns where the
/// portal sent it at the end. `tamper` may change the callback URL first.
async fn sign_in(browser: &mut Browser, tamper: impl Fn(String) -> String) -> String {
    let (response, _) = browser.get("/sso/login?next=/numbers").await;
    assert_eq!(response.status(), axum::http::StatusCode::SEE_OTHER);
    let to_provider = response.headers()["location"].to_str().unwrap().to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = http.get(&to_provider).send().await.unwrap();
    let back = answer.headers()["location"].to_str().unwrap().to_owned();
    let back = tamper(back);
    let (response, _) = browser
        .get(back.trim_start_matches("http://portal.test"))
        .await;
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn portal(test: &TestDb, provider: &Provider) -> axum::Router {
    let sso = SingleSignOn::discover(&provider.base, CLIENT_ID, SECRET, CALLBACK)
        .await
        .unwrap();
    router(
        AppState::new(test.db.clone(), std::path::Path::new("/nonexistent"))
            .with_single_sign_on(sso),
    )
}

#[tokio::test]
async fn people_sign_in_with_the_identity_provider_and_get_the_roles_it_gives() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let provider = provider().await;
    let app = portal(&test, &provider).await;
    *provider.claims.lock().unwrap() = json!({ "sub": "s-1", "preferred_username": "ines@operator.example", "roles": ["ProvisioningAPI.ReadUser", "ProvisioningAPI.WriteUser"] });

    let mut browser = Browser::new(&app);
    let (_, html) = browser.get("/sign-in").await;
    assert!(html.contains("Sign in with single sign-on"), "{html}");
    assert_eq!(sign_in(&mut browser, |u| u).await, "/numbers");
    let (response, html) = browser.get("/numbers").await;
    assert_eq!(response.status(), axum::http::StatusCode::OK);
    assert!(
        html.contains("ines@operator.example") && html.contains("ReadUser, WriteUser"),
        "{html}"
    );
    assert!(html.contains("Add numbers"), "WriteUser may add: {html}");
    assert!(
        !html.contains(r#"href="/password""#),
        "no password to change for an SSO user"
    );
}

#[tokio::test]
async fn without_roles_only_an_admin_linked_identity_gets_a_local_users_roles() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let provider = provider().await;
    let app = portal(&test, &provider).await;
    *provider.claims.lock().unwrap() = json!({ "sub": "s-2", "email": "omar@operator.example" });

    let mut browser = Browser::new(&app);
    assert_eq!(
        sign_in(&mut browser, |u| u).await,
        "/sign-in?error=sso-roles",
        "no role anywhere: refused, and told the subject to pass on"
    );
    assert_eq!(
        browser.get("/numbers").await.0.status(),
        axum::http::StatusCode::SEE_OTHER
    );

    // A local admin whose name is the email this person can set at the identity provider: the
    // name decides nothing.
    common::add_user(&test.db, "omar@operator.example", &[PortalRole::AdminUser]).await;
    assert_eq!(
        sign_in(&mut browser, |u| u).await,
        "/sign-in?error=sso-roles",
        "a matching email links nothing"
    );
    let (_, html) = browser.get("/sign-in?error=sso-roles").await;
    assert!(
        html.contains("link the subject below") && html.contains("<code>s-2</code>"),
        "{html}"
    );
    // Shown once, from the session: a link cannot put a subject of its choosing on the page.
    let (_, html) = browser
        .get("/sign-in?error=sso-roles&subject=attacker")
        .await;
    assert!(
        !html.contains("attacker") && !html.contains("<code>s-2</code>"),
        "{html}"
    );

    // An admin links the identity by issuer and subject: now it signs in as that user.
    common::cli_core(&test.db)
        .link_user_sso(
            &common::cli_admin(),
            "omar@operator.example",
            &provider.base,
            "s-2",
        )
        .await
        .unwrap();
    assert_eq!(sign_in(&mut browser, |u| u).await, "/numbers");
    let (_, html) = browser.get("/admin/users").await;
    assert!(html.contains("Portal users"), "{html}");

    // Changing the email at the provider changes nothing; another subject with the same email
    // is still refused.
    *provider.claims.lock().unwrap() =
        json!({ "sub": "s-2", "email": "someone-else@operator.example" });
    let mut again = Browser::new(&app);
    assert_eq!(sign_in(&mut again, |u| u).await, "/numbers");
    *provider.claims.lock().unwrap() = json!({ "sub": "s-9", "email": "omar@operator.example" });
    let mut impostor = Browser::new(&app);
    assert_eq!(
        sign_in(&mut impostor, |u| u).await,
        "/sign-in?error=sso-roles"
    );
    // Entra ID's oid, when present, is the subject.
    *provider.claims.lock().unwrap() = json!({ "sub": "pairwise-x", "oid": "s-2" });
    let mut by_oid = Browser::new(&app);
    assert_eq!(sign_in(&mut by_oid, |u| u).await, "/numbers");

    let numbat::store::Database::Sqlite(pool) = &test.db else {
        unreachable!()
    };
    let linked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'linkSingleSignOn' AND resource_key = 'omar@operator.example'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(linked, 1, "the link is audited");
}

#[tokio::test]
async fn forged_callbacks_and_tokens_for_another_client_are_refused() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let provider = provider().await;
    let app = portal(&test, &provider).await;
    *provider.claims.lock().unwrap() = json!({ "sub": "s-3", "preferred_username": "eve", "roles": ["ProvisioningAPI.AdminUser"] });

    let mut browser = Browser::new(&app);
    let forged_state = |u: String| {
        let (start, _) = u.split_once("&state=").unwrap();
        format!("{start}&state=forged")
    };
    assert_eq!(
        sign_in(&mut browser, forged_state).await,
        "/sign-in?error=sso"
    );

    // A callback with no sign-in started in this browser.
    let mut stranger = Browser::new(&app);
    let (response, _) = stranger
        .get("/sso/callback?code=code-0&state=anything")
        .await;
    assert_eq!(response.headers()["location"], "/sign-in?error=sso");

    // An ID token minted for another client, or answering another sign-in's nonce.
    for claims in [
        json!({ "sub": "s-3", "preferred_username": "eve", "roles": ["ProvisioningAPI.AdminUser"], "aud": "someone-else" }),
        json!({ "sub": "s-3", "preferred_username": "eve", "roles": ["ProvisioningAPI.AdminUser"], "nonce": "replayed" }),
    ] {
        *provider.claims.lock().unwrap() = claims;
        assert_eq!(sign_in(&mut browser, |u| u).await, "/sign-in?error=sso");
        assert_eq!(
            browser.get("/numbers").await.0.status(),
            axum::http::StatusCode::SEE_OTHER
        );
    }
}
