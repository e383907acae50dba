//! The portal as a browser without JavaScript uses it: signing in, roles, the forms of every
//! workflow (posted as a browser posts them), and the refusals a person must get.

use crate::common;

use crate::common::{app_without_bundle, Browser, TestDb};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use numbat::auth::users::{self, PortalRole};

const TENANT: &str = "6d5a1c3e-0f6b-4a8e-9a43-2d0f3a1b7c55";

fn location(response: &axum::http::Response<Body>) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn pages_need_a_sign_in_and_come_back_after_it() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::new(&app);
    let (response, _) = browser.get("/numbers?q=%2B44").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in?next=/numbers%3Fq%3D%252B44");

    let (response, html) = browser.get("/sign-in?next=/numbers").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        html.contains(r#"<form method="post" action="/sign-in""#),
        "{html}"
    );
    assert!(html.contains(r#"name="next" value="/numbers""#), "{html}");

    let password = common::add_user(&test.db, "ana", &[PortalRole::ReadUser]).await;
    let (response, _) = browser
        .post(
            "/sign-in",
            &format!("name=ana&password={password}&next=/numbers"),
        )
        .await;
    assert_eq!(
        location(&response),
        "/password",
        "a one-time password is changed first"
    );
    let first_session = browser.cookie.clone().expect("a session cookie");
    let (response, _) = browser.get("/numbers").await;
    assert_eq!(
        location(&response),
        "/password",
        "nothing else opens before the change"
    );

    let (response, _) = browser
        .post(
            "/password",
            &format!("current={password}&new=short&confirm=short"),
        )
        .await;
    assert_eq!(location(&response), "/password?error=short");
    let (response, _) = browser
        .post(
            "/password",
            &format!("current={password}&new=a-long-enough-one&confirm=a-long-enough-one"),
        )
        .await;
    assert_eq!(location(&response), "/?password_changed=1");
    assert_ne!(
        browser.cookie.clone().unwrap(),
        first_session,
        "the session id is cycled"
    );

    let (response, html) = browser.get("/numbers").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        html.contains("ana"),
        "the header names who is signed in: {html}"
    );

    let mut old = Browser::new(&app);
    old.cookie = Some(first_session);
    let (response, _) = old.get("/numbers").await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the pre-sign-in id no longer works"
    );
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_gets_the_same_answer_and_no_session() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    common::add_user(&test.db, "ana", &[PortalRole::ReadUser]).await;
    for form in ["name=ana&password=wrong", "name=nobody&password=wrong"] {
        let mut browser = Browser::new(&app);
        let (response, _) = browser.post("/sign-in", form).await;
        assert_eq!(location(&response), "/sign-in?error=credentials&next=/");
        let (response, _) = browser.get("/").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let mut browser = Browser::new(&app);
    let (_, html) = browser.get("/sign-in?error=credentials").await;
    assert!(
        html.contains("That name and password do not match"),
        "{html}"
    );
}

#[tokio::test]
async fn sign_out_ends_the_session_everywhere_it_was_used() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "ana", &[PortalRole::ReadUser]).await;
    let cookie = browser.cookie.clone().unwrap();
    // A second node on the same database accepts the same session.
    let mut other_node = Browser::new(&app_without_bundle(&test.db));
    other_node.cookie = Some(cookie.clone());
    assert_eq!(other_node.get("/accounts").await.0.status(), StatusCode::OK);

    let (response, _) = browser.post("/sign-out", "").await;
    assert_eq!(location(&response), "/sign-in?signed_out=1");
    other_node.cookie = Some(cookie);
    assert_eq!(
        other_node.get("/accounts").await.0.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime_and_when_the_user_is_removed() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let state = numbat::state::AppState::new(test.db.clone(), std::path::Path::new("/nonexistent"))
        .with_session_policy(numbat::state::SessionPolicy {
            secure_cookie: true,
            idle: std::time::Duration::from_secs(3600),
            absolute: std::time::Duration::from_secs(0),
        });
    let short = numbat::server::router(state);
    let password = common::add_user(&test.db, "ana", &[PortalRole::ReadUser]).await;
    let mut browser = Browser::new(&short);
    let (response, _) = browser
        .post("/sign-in", &format!("name=ana&password={password}"))
        .await;
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Max-Age=3600"] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        browser.get("/password").await.0.status(),
        StatusCode::SEE_OTHER
    );

    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "bo", &[PortalRole::AdminUser]).await;
    let mut other = Browser::signed_in(&app, &test.db, "cy", &[PortalRole::ReadUser]).await;
    assert_eq!(other.get("/").await.0.status(), StatusCode::OK);
    assert_eq!(
        browser
            .post_error("/api/admin/users/remove", "name=cy&confirm=on")
            .await,
        None
    );
    assert_eq!(
        other.get("/").await.0.status(),
        StatusCode::SEE_OTHER,
        "a removed user is signed out"
    );
}

#[tokio::test]
async fn a_read_user_sees_everything_and_the_server_refuses_their_hand_made_posts() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut writer = Browser::signed_in(&app, &test.db, "wanda", &[PortalRole::WriteUser]).await;
    assert_eq!(
        writer
            .post_error("/api/accounts/save", "form[name]=zoomco&form[zoom]=on")
            .await,
        None
    );
    let mut reader = Browser::signed_in(&app, &test.db, "rita", &[PortalRole::ReadUser]).await;

    let (_, html) = reader.get("/accounts/zoomco").await;
    assert!(html.contains("Account zoomco"), "{html}");
    assert!(
        !html.contains("Edit account") && !html.contains("Delete account"),
        "no controls for a reader: {html}"
    );

    // Each refusal names the portal role that would allow it.
    let refusals = [
        (
            "/api/accounts/save",
            "form[name]=sneaky&form[zoom]=on",
            "the WriteUser or AdminUser role",
        ),
        (
            "/api/accounts/delete",
            "name=zoomco&confirm=on",
            "the DeleteUser or AdminUser role",
        ),
        (
            "/api/numbers/add",
            "form[account]=zoomco&form[numbers]=%2B442079460123&form[zoom]=on",
            "the WriteUser or AdminUser role",
        ),
        ("/api/admin/users/add", "name=mallory&roles[admin]=on", ""),
        (
            "/api/admin/settings/save",
            "sip_header_name=X-Evil",
            "the AdminUser role",
        ),
    ];
    for (path, form, role) in refusals {
        let error = reader
            .post_error(path, form)
            .await
            .unwrap_or_else(|| panic!("{path} accepted a reader's post"));
        assert!(
            error.contains("Your role does not allow this") && error.contains(role),
            "{path}: {error}"
        );
    }
    let (_, html) = reader.get("/accounts?q=sneaky").await;
    assert!(
        html.contains("No accounts match"),
        "nothing was created: {html}"
    );
    assert!(
        reader
            .get("/accounts/zoomco")
            .await
            .1
            .contains("Account zoomco"),
        "nothing was deleted"
    );
    assert!(common::cli_core(&test.db)
        .user("mallory")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn cross_site_form_posts_are_refused() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "ana", &[PortalRole::AdminUser]).await;
    let forged = |headers: &[(&str, &str)]| {
        let mut request = Request::post("/api/accounts/save")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "portal.test");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .body(Body::from("form[name]=forged&form[zoom]=on"))
            .unwrap()
    };
    for headers in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("origin", "http://evil.example")],
    ] {
        let (response, body) = browser.send(forged(&headers)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(body.contains("sent from another site"), "{body}");
    }
    let (_, html) = browser.get("/accounts?q=forged").await;
    assert!(html.contains("No accounts match"), "{html}");
}

#[tokio::test]
async fn an_operator_provisions_every_service_through_the_forms() {
    let _renderer = common::one_renderer_at_a_time().await;
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let app = app_without_bundle(&test.db);
        let mut admin = Browser::signed_in(&app, &test.db, "olga", &[PortalRole::AdminUser]).await;
        assert_eq!(
            admin
                .post_error(
                    "/api/admin/settings/save",
                    "sip_header_name=X-Customer-Id&base_domain=operator-voice-domains.example.net"
                )
                .await,
            None
        );

        // One account per service, as the account form posts them.
        let accounts = [
            ("oc-co", format!("form[operator_connect]=on&form[operator_connect_sync]=on&form[teams_tenant_id]={TENANT}")),
            ("dr-co", "form[direct_routing]=on&form[teams_tenant_id]=0b6a2f1c-3d4e-4f50-8a9b-1c2d3e4f5a6b&form[call_screening]=on&form[subdomain]=drco&form[region1_token]=tok-one&form[region2_token]=tok-two".to_owned()),
            ("tpm-co", "form[phone_mobile]=on&form[teams_tenant_id]=1c7b3a2d-4e5f-4061-9b0c-2d3e4f5a6b7c".to_owned()),
            ("zoom-co", "form[zoom]=on".to_owned()),
            ("aocp-co", "form[call_protection]=on".to_owned()),
        ];
        for (name, settings) in &accounts {
            let error = admin
                .post_error(
                    "/api/accounts/save",
                    &format!("form[name]={name}&{settings}"),
                )
                .await;
            assert_eq!(error, None, "{name}");
        }
        let (_, html) = admin.get("/accounts/dr-co").await;
        assert!(html.contains("drco.1r1.operator-voice-domains.example.net, drco.1r2.operator-voice-domains.example.net"), "{html}");

        // A Direct Routing subdomain too long for the 48-character customer domain.
        let error = admin
            .post_error("/api/accounts/save", "form[name]=long-co&form[direct_routing]=on&form[subdomain]=tenletters&form[region1_token]=a&form[region2_token]=b")
            .await
            .expect("refused");
        assert!(error.contains("at most 48"), "{error}");

        // Numbers with a custom header, on Direct Routing.
        let error = admin
            .post_error("/api/numbers/add", "form[account]=dr-co&form[numbers]=%2B442079460001%0D%0A%2B442079460002&form[direct_routing]=on&form[custom_header]=site-7")
            .await;
        assert_eq!(error, None);
        let (_, html) = admin.get("/numbers?account=dr-co&header=yes").await;
        assert!(
            html.contains("+442079460001") && html.contains("site-7"),
            "{html}"
        );
        assert!(html.contains("Showing 2 of 2"), "{html}");

        // The same numbers again are refused, not silently replaced.
        let error = admin
            .post_error(
                "/api/numbers/add",
                "form[account]=dr-co&form[numbers]=%2B442079460001&form[direct_routing]=on",
            )
            .await
            .expect("refused");
        assert!(error.contains("+442079460001 already exists"), "{error}");

        // Teams Phone Mobile cannot carry a custom header, whatever the form sends.
        let error = admin
            .post_error("/api/numbers/add", "form[account]=tpm-co&form[numbers]=%2B447700900123&form[phone_mobile]=on&form[usage]=CallingUserAssignment&form[capabilities]=Mobile&form[allow_tenant_address_update]=on&form[custom_header]=nope")
            .await
            .expect("refused");
        assert!(error.contains("customSipHeader"), "{error}");
        assert!(admin
            .get("/numbers?q=%2B447700900123")
            .await
            .1
            .contains("No numbers match"));

        // Other services' numbers.
        for (account, form) in [
            ("zoom-co", "form[zoom]=on&form[custom_header]=zoom-site"),
            ("aocp-co", "form[call_protection]=on"),
            ("oc-co", "form[operator_connect]=on&form[usage]=CallingUserAssignment&form[capabilities]=InboundCalling,OutboundCalling&form[allow_tenant_address_update]=on&form[custom_header]=oc-site"),
            ("tpm-co", "form[phone_mobile]=on&form[usage]=CallingUserAssignment&form[capabilities]=Mobile&form[allow_tenant_address_update]=on"),
        ] {
            let number = match account { "zoom-co" => "%2B14155550101", "aocp-co" => "%2B14155550102", "oc-co" => "%2B442079460300", _ => "%2B447700900124" };
            let error = admin.post_error("/api/numbers/add", &format!("form[account]={account}&form[numbers]={number}&{form}")).await;
            assert_eq!(error, None, "{account}");
        }

        // Edit a number: change its header; a stale version is refused.
        let (_, html) = admin.get("/numbers/%2B442079460001").await;
        assert!(
            html.contains("X-Customer-Id"),
            "the header's name is shown where it is edited: {html}"
        );
        let version = html
            .split(r#"name="form[version]" value=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let edit = |v: &str, header: &str| {
            format!("form[account]=dr-co&form[numbers]=%2B442079460001&form[version]={v}&form[direct_routing]=on&form[custom_header]={header}")
        };
        assert_eq!(
            admin
                .post_error("/api/numbers/save", &edit(&version, "site-8"))
                .await,
            None
        );
        let error = admin
            .post_error("/api/numbers/save", &edit(&version, "site-9"))
            .await
            .expect("stale");
        assert!(error.contains("Someone else changed"), "{error}");
        assert!(admin
            .get("/numbers?q=2079460001")
            .await
            .1
            .contains("site-8"));

        // A Teams Phone Mobile number's page shows the header field unavailable, with the reason.
        let (_, html) = admin.get("/numbers/%2B447700900124").await;
        assert!(
            html.contains("Unavailable: numbers with Teams Phone Mobile"),
            "{html}"
        );

        // Delete a number (confirmation needed), then an account with its numbers.
        let error = admin
            .post_error(
                "/api/numbers/delete",
                "number=%2B442079460002&account=dr-co",
            )
            .await
            .expect("unconfirmed");
        assert!(error.contains("Tick the confirmation"), "{error}");
        assert_eq!(
            admin
                .post_error(
                    "/api/numbers/delete",
                    "number=%2B442079460002&account=dr-co&confirm=on"
                )
                .await,
            None
        );
        let (_, html) = admin.get("/accounts/dr-co").await;
        assert!(html.contains("Also delete its 1 number ("), "{html}");
        let error = admin
            .post_error("/api/accounts/delete", "name=dr-co&confirm=on")
            .await
            .expect("has numbers");
        assert!(error.contains("number"), "{error}");
        assert_eq!(
            admin
                .post_error(
                    "/api/accounts/delete",
                    "name=dr-co&with_numbers=on&confirm=on"
                )
                .await,
            None
        );
        assert!(admin
            .get("/numbers?account=dr-co")
            .await
            .1
            .contains("No numbers match"));

        // Everything above is in the audit trail, by this person, through the portal.
        let (_, html) = admin.get("/audit?kind=number").await;
        assert!(html.contains("olga") && html.contains("portal"), "{html}");
        test.remove().await;
    }
}

#[tokio::test]
async fn an_admin_manages_users_and_api_tokens_and_sees_secrets_once() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut admin = Browser::signed_in(&app, &test.db, "ada", &[PortalRole::AdminUser]).await;
    assert_eq!(
        admin
            .post_error(
                "/api/admin/users/add",
                "name=newbie&roles[read]=on&roles[write]=on"
            )
            .await,
        None
    );
    let (_, html) = admin.get("/admin/users").await;
    let secret = html
        .split(r#"<code data-testid="secret">"#)
        .nth(1)
        .expect("password shown")
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(secret.len(), 20);
    assert!(
        !admin
            .get("/admin/users")
            .await
            .1
            .contains("data-testid=\"secret\""),
        "shown once only"
    );
    let mut newbie = Browser::new(&app);
    let (response, _) = newbie
        .post("/sign-in", &format!("name=newbie&password={secret}"))
        .await;
    assert_eq!(location(&response), "/password");

    assert_eq!(
        admin
            .post_error(
                "/api/admin/tokens/create",
                "name=crm&roles[read]=on&roles[write]=on"
            )
            .await,
        None
    );
    let (_, html) = admin.get("/admin/tokens").await;
    let token = html
        .split(r#"<code data-testid="secret">"#)
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let request = Request::get("/provisioning/accounts?api-version=2024-02-29-preview")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        common::send(&app, request).await.0.status(),
        StatusCode::OK,
        "the token works on the API"
    );

    let error = admin
        .post_error("/api/admin/users/remove", "name=ada&confirm=on")
        .await
        .expect("last admin");
    assert!(error.contains("last AdminUser"), "{error}");
}

/// The same number through two doors: made through the Provisioning API, opened in the portal
/// and saved as the page rendered it (a browser without JavaScript pressing "Save changes"),
/// it is left exactly as it was: the same ETag for the API client, no event in its history.
#[tokio::test]
async fn a_number_made_through_any_door_and_saved_unchanged_through_any_other_keeps_its_etag() {
    use numbat::domain::Service;
    use numbat::provisioning::{Provisioning, Role};
    use serde_json::{json, Value};
    let _renderer = common::one_renderer_at_a_time().await;
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let app = app_without_bundle(&test.db);
        let mut admin = Browser::signed_in(&app, &test.db, "olga", &[PortalRole::AdminUser]).await;
        assert_eq!(
            admin
                .post_error("/api/admin/settings/save", "sip_header_name=X-Customer-Id")
                .await,
            None
        );
        let token = common::api_token(&test.db, "bss", &[Role::Admin]).await;
        let api = |method: &'static str, path: &str, body: Option<Value>| {
            let (app, token, path) = (app.clone(), token.clone(), path.to_owned());
            async move { api_call(&app, &token, method, &path, body).await }
        };
        let services = |names: &[&str]| {
            let mut details = serde_json::Map::new();
            for name in names {
                details.insert((*name).to_owned(), json!({ "enabled": true }));
            }
            Value::Object(details)
        };
        // Every service a number can have without Teams consent, alone and as combined.
        let cases: [(&str, &[&str], Option<&str>); 5] = [
            (
                "+14155550101",
                &["zoomPhoneCloudPeering"],
                Some("zoom-site"),
            ),
            ("+14155550102", &["azureOperatorCallProtection"], None),
            ("+442079460001", &["teamsDirectRouting"], Some("site-7")),
            (
                "+442079460002",
                &["teamsDirectRouting", "azureOperatorCallProtection"],
                None,
            ),
            ("+14155550103", &["zoomPhoneCloudPeering"], None),
        ];
        let mut account_services =
            services(&["zoomPhoneCloudPeering", "azureOperatorCallProtection"]);
        account_services["teamsDirectRouting"] = json!({ "enabled": true, "syncEnabled": false });
        let (status, _, body) = api(
            "PUT",
            "/accounts/every-co",
            Some(json!({ "name": "every-co", "serviceDetails": account_services })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let core = Provisioning::new(test.db.clone());
        let generated: Vec<String> = (0..1 << Service::COUNT)
            .map(|i| format!("+4477009002{i:02}"))
            .collect();
        let mut resources: Vec<(&str, &str, Value)> = cases
            .iter()
            .map(|(number, on, header)| {
                let mut resource = json!({ "telephoneNumber": number, "accountName": "every-co", "serviceDetails": services(on) });
                if let Some(header) = header {
                    resource["configuration"] = json!({ "customSipHeader": header });
                }
                (*number, "every-co", resource)
            })
            .collect();
        // Operator Connect with every setting the form edits, additional usages among them.
        let (status, _, body) = api(
            "PUT",
            "/accounts/oc-co",
            Some(json!({ "name": "oc-co", "serviceDetails": {
                "teamsTenantId": "a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a",
                "teamsOperatorConnect": { "enabled": true, "syncEnabled": false } } })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        resources.push((
            "+442079460300",
            "oc-co",
            json!({ "telephoneNumber": "+442079460300", "accountName": "oc-co",
                "serviceDetails": { "teamsOperatorConnect": { "enabled": true,
                    "assignmentStatus": "assigned",
                    "configuration": { "usage": "CallingUserAssignment",
                        "choosableCapabilities": ["InboundCalling", "OutboundCalling"],
                        "additionalUsages": ["ConferenceAssignment"],
                        "civicAddressId": "civic-1", "locationId": "loc-1",
                        "allowTenantAddressUpdate": true } } },
                "configuration": { "customSipHeader": "oc-site" } }),
        ));
        // Operator Connect switched off but configured, on a number that is otherwise Teams
        // Phone Mobile's: the form shows the box unticked, and an unchanged save keeps it so.
        let (status, _, body) = api(
            "PUT",
            "/accounts/oc-co",
            Some(json!({ "name": "oc-co", "serviceDetails": {
                "teamsTenantId": "a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a",
                "teamsOperatorConnect": { "enabled": true, "syncEnabled": false },
                "teamsPhoneMobile": { "enabled": true, "syncEnabled": false } } })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        resources.push((
            "+447700900124",
            "oc-co",
            json!({ "telephoneNumber": "+447700900124", "accountName": "oc-co",
                "serviceDetails": {
                    "teamsOperatorConnect": { "enabled": false,
                        "configuration": { "usage": "CallingUserAssignment",
                            "choosableCapabilities": ["InboundCalling"] } },
                    "teamsPhoneMobile": { "enabled": true,
                        "configuration": { "usage": "CallingUserAssignment",
                            "choosableCapabilities": ["Mobile"],
                            "allowTenantAddressUpdate": true } } } }),
        ));
        // Both Teams services on, with settings of their own: the form shows Operator
        // Connect's, and Teams Phone Mobile's must survive every save.
        resources.push((
            "+447700900125",
            "oc-co",
            json!({ "telephoneNumber": "+447700900125", "accountName": "oc-co",
                "serviceDetails": {
                    "teamsOperatorConnect": { "enabled": true,
                        "configuration": { "usage": "CallingUserAssignment",
                            "choosableCapabilities": ["InboundCalling"],
                            "civicAddressId": "civic-9" } },
                    "teamsPhoneMobile": { "enabled": true,
                        "configuration": { "usage": "CallingUserAssignment",
                            "choosableCapabilities": ["Mobile"],
                            "allowTenantAddressUpdate": true } } } }),
        ));
        // Every combination of services the rules allow on one number, from the service table,
        // each Teams service with settings and a custom header wherever all allow one.
        let mut every = serde_json::Map::new();
        every.insert(
            "teamsTenantId".into(),
            json!("a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a"),
        );
        for service in Service::ALL {
            let mut block = json!({ "enabled": true });
            if service.has_sync_switch() {
                block["syncEnabled"] = json!(false);
            }
            every.insert(service.wire_name().into(), block);
        }
        let (status, _, body) = api(
            "PUT",
            "/accounts/all-co",
            Some(json!({ "name": "all-co", "serviceDetails": every })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let combinations: Vec<Vec<Service>> = (1u32..1 << Service::COUNT)
            .map(|mask| {
                Service::ALL
                    .into_iter()
                    .filter(|s| mask & (1 << s.index()) != 0)
                    .collect::<Vec<_>>()
            })
            .filter(|set| set.iter().all(|a| set.iter().all(|b| a.combines_with(*b))))
            .collect();
        assert!(combinations.len() >= 17, "{combinations:?}");
        for (i, set) in combinations.iter().enumerate() {
            let mut details = serde_json::Map::new();
            for service in set {
                let block = match service.traits().upstream_number_type {
                    Some("TeamsPhoneMobile") => json!({ "enabled": true,
                        "configuration": { "usage": "CallingUserAssignment",
                            "choosableCapabilities": ["Mobile"],
                            "allowTenantAddressUpdate": true } }),
                    Some(_) => json!({ "enabled": true, "assignmentStatus": "unassigned",
                        "configuration": { "usage": "CallingUserAssignment",
                            "choosableCapabilities": ["InboundCalling"],
                            "civicAddressId": "civic-3" } }),
                    None => json!({ "enabled": true }),
                };
                details.insert(service.wire_name().into(), block);
            }
            let number = &generated[i];
            let mut resource = json!({ "telephoneNumber": number, "accountName": "all-co",
                "serviceDetails": details });
            if set.iter().all(|s| s.traits().custom_header) {
                resource["configuration"] = json!({ "customSipHeader": format!("combo-{i}") });
            }
            resources.push((number.as_str(), "all-co", resource));
        }
        let created: Vec<(&str, &str)> = resources.iter().map(|(n, a, _)| (*n, *a)).collect();
        for (number, account, resource) in resources {
            let path = format!("/accounts/{account}/numbers/{number}");
            let (status, _, body) = api("PUT", &path, Some(resource)).await;
            assert_eq!(status, StatusCode::CREATED, "{number}: {body}");
        }
        // Made through the API: saved unchanged through the portal, the API and a CSV row.
        unchanged_through_every_door(&app, &mut admin, &token, &core, &created, "API").await;

        // A change to the settings the form shows changes only that service's.
        let (_, page) = admin.get("/numbers/%2B447700900125").await;
        let form = common::form_as_rendered(&page, "/api/numbers/save");
        // The capabilities are boxes from the account's plans, the stored ones ticked first.
        assert!(
            form.contains("form%5Bcap000_InboundCalling%5D=on"),
            "{form}"
        );
        assert!(
            page.contains(r#"<input type="checkbox" name="form[cap001_OutboundCalling]">"#),
            "{page}"
        );
        let changed = format!("{form}&form%5Bcap001_OutboundCalling%5D=on");
        assert_eq!(admin.post_error("/api/numbers/save", &changed).await, None);
        let (_, _, body) = api("GET", "/accounts/oc-co/numbers/+447700900125", None).await;
        let saved: Value = serde_json::from_str(&body).unwrap();
        let details = &saved["serviceDetails"];
        assert_eq!(
            details["teamsOperatorConnect"]["configuration"]["choosableCapabilities"],
            json!(["InboundCalling", "OutboundCalling"]),
            "{body}"
        );
        assert_eq!(
            details["teamsPhoneMobile"]["configuration"]["choosableCapabilities"],
            json!(["Mobile"]),
            "{body}"
        );
        assert_eq!(
            details["teamsPhoneMobile"]["configuration"]["allowTenantAddressUpdate"],
            json!(true),
            "{body}"
        );

        // Made through a CSV row: the portal's export of them, removed, then imported.
        let (_, csv) = admin.get("/numbers/export.csv").await;
        for (number, account) in &created {
            let path = format!("/accounts/{account}/numbers/{number}");
            let (status, _, body) = api("DELETE", &path, None).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{number}: {body}");
        }
        let summary = import_csv(&core, &csv).await;
        assert_eq!(
            (summary.created, summary.invalid),
            (created.len() as i64, 0),
            "{summary:?}\n{csv}"
        );
        unchanged_through_every_door(&app, &mut admin, &token, &core, &created, "CSV").await;
        test.remove().await;
    }
}

/// A request to the Provisioning API with `token`: the status, the ETag and the body.
async fn api_call(
    app: &axum::Router,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, Option<String>, String) {
    let request = Request::builder()
        .method(method)
        .uri(format!(
            "/provisioning{path}?api-version=2024-02-29-preview"
        ))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let (response, text) = common::send(app, request).await;
    let etag = response
        .headers()
        .get("etag")
        .map(|e| e.to_str().unwrap().to_owned());
    (response.status(), etag, text)
}

/// `csv` imported (applied) through the CSV door, as the command line does it.
async fn import_csv(
    core: &numbat::provisioning::Provisioning,
    csv: &str,
) -> numbat::provisioning::Tally {
    use numbat::provisioning::import::ImportMode;
    numbat::bulk::import_file(
        core,
        &common::cli_admin(),
        "doors.csv",
        std::io::Cursor::new(csv.as_bytes().to_vec()),
        numbat::bulk::FileSettings::default(),
        ImportMode::Apply,
        |_, _| {},
    )
    .await
    .expect("the import runs")
    .tally
}

/// Each of `numbers` saved unchanged through the portal's form (as rendered, JavaScript off),
/// through the API (its own GET body PUT back) and through a CSV row (the portal's export of
/// it imported again) keeps its ETag, its body and its audit trail.
async fn unchanged_through_every_door(
    app: &axum::Router,
    admin: &mut Browser,
    token: &str,
    core: &numbat::provisioning::Provisioning,
    numbers: &[(&str, &str)],
    made_by: &str,
) {
    let history = |number: &str| {
        let (core, number) = (core.clone(), number.to_owned());
        async move {
            core.audit_events(
                &common::cli_admin(),
                Some("number"),
                Some(&number),
                None,
                100,
            )
            .await
            .unwrap()
            .len()
        }
    };
    let mut before = Vec::new();
    for (number, account) in numbers {
        let path = format!("/accounts/{account}/numbers/{number}");
        let (_, etag, body) = api_call(app, token, "GET", &path, None).await;
        before.push((etag, body, history(number).await));
    }
    let still = |door: &'static str| {
        let before = before.clone();
        async move {
            for ((number, account), (etag, body, events)) in numbers.iter().zip(&before) {
                let path = format!("/accounts/{account}/numbers/{number}");
                let (_, now_etag, now_body) = api_call(app, token, "GET", &path, None).await;
                let what =
                    format!("{number}, made through the {made_by}, saved through the {door}");
                assert_eq!(&now_etag, etag, "{what}: the ETag moved");
                assert_eq!(&now_body, body, "{what}");
                assert_eq!(history(number).await, *events, "{what}: an audit event");
            }
        }
    };
    for (number, _) in numbers {
        let (_, page) = admin
            .get(&format!("/numbers/{}", number.replace('+', "%2B")))
            .await;
        let form = common::form_as_rendered(&page, "/api/numbers/save");
        assert_eq!(
            admin.post_error("/api/numbers/save", &form).await,
            None,
            "{number}: {form}"
        );
    }
    still("portal").await;
    for ((number, account), (_, body, _)) in numbers.iter().zip(&before) {
        let path = format!("/accounts/{account}/numbers/{number}");
        let resource: serde_json::Value = serde_json::from_str(body).unwrap();
        let (status, _, answer) = api_call(app, token, "PUT", &path, Some(resource)).await;
        assert_eq!(status, StatusCode::OK, "{number}: {answer}");
    }
    still("API").await;
    let (_, csv) = admin.get("/numbers/export.csv").await;
    let tally = import_csv(core, &csv).await;
    assert_eq!(
        (tally.created, tally.changed, tally.invalid),
        (0, 0, 0),
        "{tally:?}\n{csv}"
    );
    assert_eq!(tally.unchanged, numbers.len() as i64, "{tally:?}\n{csv}");
    still("CSV").await;
}

/// Two admins removing each other at the same moment: one removal goes through, the other is
/// refused as the last AdminUser, and the deployment keeps exactly one (on both databases;
/// several rounds, so the two removals really meet).
#[tokio::test]
async fn two_admins_removing_each_other_at_once_leave_one_admin() {
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        let db = &test.db;
        let mut survivor: Option<String> = None;
        for round in 0..6 {
            let (a, b) = (format!("ann-{round}"), format!("bob-{round}"));
            for name in [&a, &b] {
                common::add_user(db, name, &[PortalRole::AdminUser]).await;
            }
            if let Some(old) = survivor.take() {
                common::cli_core(db)
                    .remove_user(&common::cli_admin(), &old)
                    .await
                    .unwrap();
            }
            let core = common::cli_core(db);
            let (ann, bob) = (
                users::actor(&a, &[PortalRole::AdminUser]),
                users::actor(&b, &[PortalRole::AdminUser]),
            );
            let (first, second) =
                tokio::join!(core.remove_user(&ann, &b), core.remove_user(&bob, &a));
            let refused = [&first, &second]
                .iter()
                .filter(|r| matches!(r, Err(users::UserError::LastAdmin)))
                .count();
            assert_eq!(
                (first.is_ok() as u8 + second.is_ok() as u8, refused),
                (1, 1),
                "round {round}: {first:?} {second:?}"
            );
            let admins: Vec<String> = core
                .users(&common::cli_admin())
                .await
                .unwrap()
                .into_iter()
                .filter(|u| u.roles.contains(&PortalRole::AdminUser))
                .map(|u| u.name)
                .collect();
            assert_eq!(admins.len(), 1, "round {round}: {admins:?}");
            survivor = admins.into_iter().next();
        }
        test.remove().await;
    }
}

/// A refused number or account form, JavaScript off: the page it comes back to lists every
/// error above the form and shows each one again beside the field it is about, whether the
/// portal's own reading of the form refused it or the core's rules did.
#[tokio::test]
async fn a_refused_form_shows_each_error_beside_its_field_without_javascript() {
    use numbat::domain::{Account, AccountName, AccountServices, Service};
    use numbat::provisioning::{Actor, Door, Precondition, Provisioning, Role};
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut admin = Browser::signed_in(&app, &test.db, "fay", &[PortalRole::AdminUser]).await;
    Provisioning::new(test.db.clone())
        .put_account(
            &Actor::new("t", &[Role::Admin], Door::Cli),
            Account {
                services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
                ..Account::named(AccountName::parse("contoso").unwrap())
            },
            Precondition::NONE,
        )
        .await
        .unwrap();
    let beside = |html: &str, key: &str| {
        let start = html
            .find(&format!(r#"id="error-{key}""#))
            .unwrap_or_else(|| panic!("no error slot for {key}: {html}"));
        let end = html[start..].find("</small>").unwrap() + start;
        let inner = &html[start..end];
        inner[inner.find('>').unwrap() + 1..].to_owned()
    };
    async fn refused_page(browser: &mut Browser, form: &str) -> String {
        let (response, _) = browser
            .post_from("/numbers/new", "/api/numbers/add", form)
            .await;
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.contains("__err="), "{location}");
        browser
            .get(location.trim_start_matches("http://portal.test"))
            .await
            .1
    }

    // The portal's own reading of the form.
    let html = refused_page(
        &mut admin,
        "form[account]=contoso&form[numbers]=12x&form[operator_connect]=on\
         &form[usage]=CallingUserAssignment&form[additional_usages]=Bogus",
    )
    .await;
    assert!(beside(&html, "numbers").contains("12x"), "{html}");
    assert!(
        beside(&html, "additional_usages").contains("Bogus"),
        "{html}"
    );
    assert_eq!(beside(&html, "usage").trim(), "", "no error of its own");
    assert!(
        html.contains(r#"class="notice error""#),
        "and all of them above: {html}"
    );

    // The core's rules: Zoom is not enabled on the account.
    let html = refused_page(
        &mut admin,
        "form[account]=contoso&form[numbers]=%2B442079460555&form[zoom]=on",
    )
    .await;
    assert!(beside(&html, "zoom").contains("not enabled"), "{html}");
    assert_eq!(beside(&html, "direct_routing").trim(), "");

    // The account form the same way: Operator Connect needs the customer's Teams tenant.
    let (response, _) = admin
        .post_from(
            "/accounts/new",
            "/api/accounts/save",
            "form[name]=fabrikam&form[operator_connect]=on",
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = admin
        .get(location.trim_start_matches("http://portal.test"))
        .await;
    assert!(
        beside(&html, "teams_tenant_id").contains("is required"),
        "{html}"
    );
    assert_eq!(beside(&html, "name").trim(), "", "{html}");
    test.remove().await;
}

/// The account page names each service's box (and sync box) as the service table does, which
/// is how the account form reads them back.
#[tokio::test]
async fn the_account_page_names_its_service_boxes_by_the_service_table() {
    use numbat::domain::service::FlowThrough;
    use numbat::domain::Service;
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut admin = Browser::signed_in(&app, &test.db, "gil", &[PortalRole::AdminUser]).await;
    let (_, html) = admin.get("/accounts/new").await;
    for service in Service::ALL {
        let name = service.traits().form_name;
        assert!(
            html.contains(&format!(r#"name="form[{name}]""#)),
            "{name}: {html}"
        );
        let sync = format!(r#"name="form[{name}_sync]""#);
        assert_eq!(
            html.contains(&sync),
            service.traits().flow_through == FlowThrough::WhenSyncEnabled,
            "{sync}"
        );
    }
    test.remove().await;
}

/// The inventory page without JavaScript: a range added, reserved, assigned, released and its
/// quarantine ended through the page's one form, each outcome shown back on the page; the same
/// stored result as the API's; a form missing what its action needs names the field; a reader
/// sees the inventory and is refused.
/// An inventory action whose process died before its first chunk is resumed from its job's
/// page without JavaScript: the Resume button runs it to the end.
#[tokio::test]
async fn an_interrupted_inventory_action_is_resumed_from_its_page_without_javascript() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut admin = Browser::signed_in(&app, &test.db, "ines", &[PortalRole::AdminUser]).await;
    // Its process dies before doing a number: the run is dropped, its lease runs out.
    let id = common::interrupted_inventory_add(&test.db, "+442071110000", "+442071112499").await;
    let core = numbat::provisioning::Provisioning::new(test.db.clone());
    let (_, page) = admin.get(&format!("/jobs/{id}")).await;
    assert!(
        page.contains(&format!("Inventory action {id}"))
            && page.contains(&format!(r#"action="/jobs/{id}/resume""#)),
        "an interrupted inventory action offers Resume: {page}"
    );
    let (response, _) = admin
        .post_from(&format!("/jobs/{id}"), &format!("/jobs/{id}/resume"), "")
        .await;
    assert!(response.status().is_redirection(), "{}", response.status());
    let started = std::time::Instant::now();
    loop {
        let job = core.job(&common::cli_admin(), id).await.unwrap();
        if job.state == "finished" {
            assert_eq!((job.rows_read, job.changed, job.invalid), (2_500, 2_500, 0));
            break;
        }
        assert!(started.elapsed().as_secs() < 30, "never finished: {job:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, page) = admin.get(&format!("/jobs/{id}")).await;
    assert!(
        page.contains("2500 numbers: 2500 done, 0 unchanged; 0 refused"),
        "{page}"
    );
    let counts = core.inventory_counts(&common::cli_admin()).await.unwrap();
    assert!(
        counts.contains(&(numbat::domain::InventoryState::Available, 2_500)),
        "{counts:?}"
    );
}

#[tokio::test]
async fn the_inventory_page_moves_a_range_through_its_lifecycle_without_javascript() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut admin = Browser::signed_in(&app, &test.db, "ines", &[PortalRole::AdminUser]).await;
    assert_eq!(
        admin
            .post_error("/api/accounts/save", "form[name]=rangeco&form[direct_routing]=on&form[call_screening]=on&form[subdomain]=rangeco&form[region1_token]=t-one&form[region2_token]=t-two")
            .await,
        None
    );
    let range = "from=%2B442071110000&to=%2B442071110009";
    let mut act = async |form: String, expected: &str| {
        let (response, _) = admin
            .post_from("/inventory", "/api/inventory/act", &form)
            .await;
        assert_eq!(response.status(), StatusCode::FOUND, "{form}");
        let location = location(&response);
        assert!(!location.contains("__err="), "{form}: {location}");
        let (_, html) = admin
            .get(location.trim_start_matches("http://portal.test"))
            .await;
        assert!(
            html.contains(expected),
            "{form}: no {expected:?} in the page"
        );
        html
    };
    let html = act(
        format!("action=add&{range}"),
        "add: 10 numbers done, 0 numbers unchanged, 0 numbers refused.",
    )
    .await;
    assert!(
        html.contains("+442071110009") && html.contains("<strong>10</strong>Available"),
        "the list and the counts"
    );
    act(
        format!("action=reserve&account=rangeco&{range}"),
        "reserve: 10 numbers done",
    )
    .await;
    let html = act(
        "action=assign&account=rangeco&service=teamsDirectRouting&custom_sip_header=gold&numbers=%2B442071110000%0D%0A%2B442071110001%0D%0A%2B442071119999".to_owned(),
        "assign: 2 numbers done, 0 numbers unchanged, 1 number refused.",
    )
    .await;
    assert!(
        html.contains("+442071119999 NotInInventory"),
        "the refusal is named"
    );
    act(
        "action=release&account=rangeco&numbers=%2B442071110000".to_owned(),
        "release: 1 number done",
    )
    .await;
    let html = act(
        "action=endQuarantine&numbers=%2B442071110000".to_owned(),
        "endQuarantine: 1 number done",
    )
    .await;
    assert!(
        html.contains("<strong>0</strong>Quarantined"),
        "the quarantine ended"
    );
    // Each action is a job (the fifth just now), linked from the outcome; the third's page
    // keeps its refused number and why.
    assert!(
        html.contains(r#"<a href="/jobs/5">Job 5</a>"#),
        "the job is linked"
    );
    let (_, job) = admin.get("/jobs/3").await;
    assert!(
        job.contains("Inventory action 3")
            && job
                .contains("Assign to account rangeco — 3 numbers, +442071110000 to +442071119999")
            && job.contains("3 numbers: 2 done, 0 unchanged; 1 refused")
            && job.contains("NotInInventory"),
        "the job's page: {job}"
    );

    // The same stored result the API reads.
    let core = numbat::provisioning::Provisioning::new(test.db.clone());
    let standing = |n: &str| {
        let core = core.clone();
        let n = numbat::domain::TelephoneNumber::parse(n).unwrap();
        async move { core.standing(&common::cli_admin(), &n).await.unwrap() }
    };
    assert_eq!(
        standing("+442071110000").await.state,
        numbat::domain::InventoryState::Available
    );
    let assigned = standing("+442071110001").await;
    assert_eq!(assigned.state, numbat::domain::InventoryState::Assigned);
    assert_eq!(assigned.account_name.unwrap().as_str(), "rangeco");
    let number = core
        .get_number(
            &common::cli_admin(),
            None,
            &numbat::domain::TelephoneNumber::parse("+442071110001").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(number.number.custom_sip_header.unwrap().as_str(), "gold");
    assert!(number
        .number
        .services
        .is_enabled(numbat::domain::Service::TeamsDirectRouting));
    let (_, html) = admin.get("/inventory?state=reserved").await;
    assert!(
        html.contains("+442071110002") && !html.contains("+442071110001<"),
        "filtered by state"
    );

    // Missing what the action needs: the field is named, nothing changes.
    let error = admin
        .post_error("/api/inventory/act", &format!("action=reserve&{range}"))
        .await
        .expect("refused");
    assert!(error.contains("accountName"), "{error}");
    let error = admin
        .post_error(
            "/api/inventory/act",
            "action=add&from=%2B4420711&to=%2B442071119999",
        )
        .await
        .expect("refused");
    assert!(
        error.contains("must have as many digits as from"),
        "{error}"
    );
    // A made-up link cannot put words of its own on the page.
    let (_, html) = admin
        .get("/inventory?acted=Your%20account%20is%20closed&done=1")
        .await;
    assert!(!html.contains("account is closed") && !html.contains("1 number done"));
    let (_, html) = admin
        .get("/inventory?acted=add&done=0&unchanged=0&refused=1&why=call%20%2B1555%20now%3B%2B442071110000%20NotInInventory")
        .await;
    assert!(!html.contains("call +1555") && html.contains("+442071110000 NotInInventory"));

    let mut reader = Browser::signed_in(&app, &test.db, "rui", &[PortalRole::ReadUser]).await;
    let (_, html) = reader.get("/inventory").await;
    assert!(
        html.contains("+442071110002"),
        "a reader sees the inventory"
    );
    let error = reader
        .post_error(
            "/api/inventory/act",
            "action=remove&numbers=%2B442071110002",
        )
        .await
        .expect("a reader is refused");
    assert!(error.contains("Your role does not allow this"), "{error}");
}

/// A number's and an account's tags and note through the page's own form, without JavaScript:
/// saved as rendered and edited, shown with links to the lists they filter; a stale form, bad
/// tags, a huge note and forged fields refused with the rule and nothing changed; a reader's
/// hand-made post refused.
#[tokio::test]
async fn tags_and_notes_are_saved_from_a_page_and_filter_the_lists() {
    use numbat::domain::TelephoneNumber;
    use numbat::domain::{Account, AccountName, AccountServices, Number, NumberServices, Service};
    use numbat::provisioning::labels::Labelled;
    use numbat::provisioning::Precondition;
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let core = common::cli_core(&test.db);
    let admin_actor = common::cli_admin();
    let account = Account {
        services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
        ..Account::named(AccountName::parse("tagged-co").unwrap())
    };
    core.put_account(&admin_actor, account, Precondition::NONE)
        .await
        .unwrap();
    for n in ["+442071110001", "+442071110002"] {
        let number = Number {
            telephone_number: TelephoneNumber::parse(n).unwrap(),
            account_name: AccountName::parse("tagged-co").unwrap(),
            services: NumberServices::only(Service::TeamsDirectRouting, None),
            custom_sip_header: None,
        };
        core.put_number(&admin_actor, number, Precondition::NONE)
            .await
            .unwrap();
    }
    let mut admin = Browser::signed_in(&app, &test.db, "ada", &[PortalRole::AdminUser]).await;
    let (_, page) = admin.get("/numbers/%2B442071110001").await;
    assert!(page.contains("No tags."), "{page}");
    let form = common::form_as_rendered(&page, "/api/labels/save");
    let edited = form
        .replace("tags=", "tags=vip%3B+site%3A+Leeds%2C+vip")
        .replace("note=", "note=Porting+in%0D%0Aref+42");
    assert_eq!(admin.post_error("/api/labels/save", &edited).await, None);
    let (_, page) = admin.get("/numbers/%2B442071110001?labelled=1").await;
    assert!(page.contains("Tags and note saved."), "{page}");
    assert!(
        page.contains(r#"href="/numbers?tag=site%3A%20Leeds""#),
        "{page}"
    );
    assert!(page.contains("Porting in\nref 42"), "{page}");

    // The list by tag shows the one number, with its tags.
    let (_, list) = admin.get("/numbers?tag=vip").await;
    assert!(
        list.contains("+442071110001") && !list.contains("+442071110002"),
        "{list}"
    );
    let (_, list) = admin.get("/numbers?tag=a%3Bb").await;
    assert!(list.contains("Tag: a tag may not contain"), "{list}");

    // The form as first rendered is stale now; bad and forged input is refused; nothing changes.
    // The form's fields with one of them set to `value`.
    let with = |form: &str, name: &str, value: &str| {
        let pairs = form_urlencoded::parse(form.as_bytes()).map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        });
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let fifty_one: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let fresh = {
        let (_, page) = admin.get("/numbers/%2B442071110001").await;
        common::form_as_rendered(&page, "/api/labels/save")
    };
    for (posted, expected) in [
        (
            with(&form, "tags", "other"),
            "Someone else changed these tags",
        ),
        (
            with(&fresh, "tags", "x\ny; vip"),
            "Tags: a tag may not contain",
        ),
        (
            with(&fresh, "tags", &fifty_one.join(";")),
            "at most 50 tags",
        ),
        (
            with(&fresh, "note", &"n".repeat(1001)),
            "Note: a note has at most 1000 characters",
        ),
        (with(&fresh, "kind", "evil"), "only numbers and accounts"),
        (with(&fresh, "key", "+449999999999"), "+449999999999"),
    ] {
        let error = admin.post_error("/api/labels/save", &posted).await;
        assert!(
            error.as_deref().is_some_and(|e| e.contains(expected)),
            "{posted}: {error:?}"
        );
    }
    let kept = core
        .labels(
            &admin_actor,
            &Labelled::Number(TelephoneNumber::parse("+442071110001").unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(
        (kept.version, kept.labels.tags.to_text().as_str()),
        (1, "site: Leeds;vip")
    );

    // An account's labels from its page filter the accounts list.
    let (_, page) = admin.get("/accounts/tagged-co").await;
    let form = common::form_as_rendered(&page, "/api/labels/save");
    let edited = form.replace("tags=", "tags=wholesale");
    assert_eq!(admin.post_error("/api/labels/save", &edited).await, None);
    let (_, list) = admin.get("/accounts?tag=wholesale").await;
    assert!(list.contains("tagged-co"), "{list}");
    let (_, list) = admin.get("/accounts?tag=retail").await;
    assert!(!list.contains(r#"href="/accounts/tagged-co""#), "{list}");

    // A reader sees the labels, gets no form, and a hand-made post is refused.
    let mut reader = Browser::signed_in(&app, &test.db, "rita", &[PortalRole::ReadUser]).await;
    let (_, page) = reader.get("/numbers/%2B442071110001").await;
    assert!(
        page.contains("site: Leeds") && !page.contains(r#"action="/api/labels/save""#),
        "{page}"
    );
    let error = reader
        .post_error("/api/labels/save", &with(&fresh, "tags", "mine"))
        .await;
    assert!(
        error.is_some_and(|e| e.contains("Write")),
        "a reader's post is refused"
    );
}

/// Webhooks in the portal without JavaScript: an admin makes one (a private receiver refused
/// by field unless the deployment allows it), sees its secret once, sees its deliveries, and
/// delivers one event again; a user who is not an admin is refused and changes nothing.
#[tokio::test]
async fn an_admin_makes_a_webhook_sees_its_deliveries_and_delivers_one_again_without_javascript() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let refusing = app_without_bundle(&test.db);
    let mut admin = Browser::signed_in(&refusing, &test.db, "wes", &[PortalRole::AdminUser]).await;
    let (url, got) = crate::webhooks::receiver(|_| (Some(204), std::time::Duration::ZERO)).await;
    let form = format!("url={}&types=number", common::encode(&url));
    let refused = admin
        .post_error("/api/admin/webhooks/create", &form)
        .await
        .expect("a loopback receiver is refused");
    assert!(refused.contains("url"), "{refused}");

    // A lab deployment that allows private receivers.
    let mut state = numbat::state::AppState::new(test.db.clone(), std::path::Path::new("/none"));
    state.core = state.core.clone().with_private_webhooks(true);
    admin.app = numbat::server::router(state);
    let (response, _) = admin
        .post_from("/admin/webhooks", "/api/admin/webhooks/create", &form)
        .await;
    assert_eq!(location(&response), "/admin/webhooks/1");
    let (_, page) = admin.get("/admin/webhooks/1").await;
    let secret = page
        .split("data-testid=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{page}");
    assert!(page.contains("Nothing delivered yet"), "{page}");
    let (_, again) = admin.get("/admin/webhooks/1").await;
    assert!(!again.contains(&secret), "shown once");
    let (_, list) = admin.get("/admin/webhooks").await;
    assert!(
        list.contains(r#"href="/admin/webhooks/1""#) && list.contains("number (every account)"),
        "{list}"
    );

    // A number is assigned; the deliverer sends it; the page shows the attempt.
    let core = numbat::provisioning::Provisioning::new(test.db.clone()).with_private_webhooks(true);
    common::put_direct_routing_number(&core, "contoso", "+442079460001").await;
    let started = std::time::Instant::now();
    while got.lock().unwrap().is_empty() {
        numbat::hooks::deliver_due(&core, "portal-test")
            .await
            .unwrap();
        assert!(started.elapsed().as_secs() < 20, "never delivered");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let event = got.lock().unwrap()[0].id.clone();
    let (_, page) = admin.get("/admin/webhooks/1").await;
    assert!(page.contains("1 delivered, 0 failed, 0 parked"), "{page}");
    assert!(
        page.contains(&format!("<code>{event}</code>")) && page.contains("number.create"),
        "{page}"
    );
    assert!(
        page.contains(&format!("Deliver again: event {event}")),
        "{page}"
    );

    // Delivered again from its row; a made-up event is refused by name.
    let redeliver = format!("id=1&event={event}");
    assert_eq!(
        admin
            .post_error("/api/admin/webhooks/redeliver", &redeliver)
            .await,
        None
    );
    assert_eq!(got.lock().unwrap().len(), 2);
    assert_eq!(got.lock().unwrap()[1].id, event);
    let (_, page) = admin.get("/admin/webhooks/1").await;
    assert!(page.contains("asked by wes"), "{page}");
    let refused = admin
        .post_error("/api/admin/webhooks/redeliver", "id=1&event=0.99999")
        .await
        .expect("no such event");
    assert!(refused.contains("no event 0.99999"), "{refused}");

    // Someone who is not an admin sees no webhook and makes none.
    let mut writer =
        Browser::signed_in(&admin.app, &test.db, "wanda", &[PortalRole::WriteUser]).await;
    let (_, page) = writer.get("/admin/webhooks/1").await;
    assert!(
        !page.contains("number.create") && page.contains("AdminUser"),
        "{page}"
    );
    let refused = writer
        .post_error("/api/admin/webhooks/create", &form)
        .await
        .expect("refused");
    assert!(refused.contains("AdminUser"), "{refused}");
    assert_eq!(
        core.webhooks(&common::cli_admin()).await.unwrap().len(),
        1,
        "nothing made"
    );
}
