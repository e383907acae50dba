//! The portal's shell as a browser without JavaScript receives it, through the axum router.

use crate::common;

use crate::common::{app, app_without_bundle, get, Browser, TestDb};
use axum::body::Body;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE,
    VARY,
};
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use numbat::auth::users::PortalRole;
use tower::ServiceExt;

const SECTIONS: [(&str, &str); 7] = [
    ("/accounts", "Accounts"),
    ("/numbers", "Numbers"),
    ("/inventory", "Inventory"),
    ("/imports", "Imports"),
    ("/requests-for-information", "Requests for Information"),
    ("/review", "Review"),
    ("/audit", "Audit"),
];

#[tokio::test]
async fn every_section_renders_complete_with_header_navigation_and_footer() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "reader", &[PortalRole::ReadUser]).await;
    for (path, title) in std::iter::once(("/", "Number provisioning")).chain(SECTIONS) {
        let (response, html) = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(html.starts_with("<!DOCTYPE html>"), "{path}: {html}");
        assert!(
            html.contains(&format!("<h1>{title}</h1>")),
            "{path} lacks its heading: {html}"
        );
        assert!(
            html.contains(r#"<a class="brand" href="/">"#),
            "{path}: no product name link"
        );
        for (href, label) in SECTIONS {
            let current = if href == path {
                r#" aria-current="page""#
            } else {
                ""
            };
            assert!(
                html.contains(&format!(r#"<a href="{href}"{current}>{label}</a>"#)),
                "{path}: navigation to {href} missing or wrongly marked: {html}"
            );
        }
        assert!(html.contains(&format!(
            r#"<span data-testid="version">{}</span>"#,
            numbat::VERSION
        )));
        assert!(html.contains(r#"<link rel="stylesheet" href="/style/numbat.css">"#));
    }
}

#[tokio::test]
async fn each_page_has_its_own_title() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "reader", &[PortalRole::ReadUser]).await;
    let (_, html) = browser.get("/audit").await;
    assert!(html.contains("<title>Audit · Numbat</title>"), "{html}");
    let (_, html) = browser.get("/").await;
    assert!(html.contains("<title>Numbat</title>"), "{html}");
}

#[tokio::test]
async fn an_unknown_page_is_a_404_inside_the_shell() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "reader", &[PortalRole::ReadUser]).await;
    let (response, html) = browser.get("/no-such-page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"), "{html}");
    assert!(
        html.contains(r#"<a href="/accounts">Accounts</a>"#),
        "{html}"
    );
}

#[tokio::test]
async fn the_stylesheet_has_light_and_dark_schemes() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let (response, css) = get(&app, "/style/numbat.css").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(css.contains("@media (prefers-color-scheme: dark)"));
    assert!(css.contains(r#":root[data-theme="dark"]"#));
}

#[tokio::test]
async fn the_theme_switch_works_without_javascript() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "reader", &[PortalRole::ReadUser]).await;

    let (_, html) = browser.get("/numbers").await;
    assert!(
        html.contains(r#"<html lang="en">"#),
        "automatic by default: {html}"
    );
    assert!(
        html.contains(r#"<input type="hidden" name="set" value="light">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="hidden" name="back" value="/numbers">"#),
        "{html}"
    );

    let (response, _) = get(&app, "/theme?set=dark&back=/numbers").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/numbers");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("numbat_theme=dark;"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();

    let session = browser.cookie.clone().unwrap();
    let request = Request::get("/numbers")
        .header(COOKIE, format!("{pair}; {session}"))
        .body(Body::empty())
        .unwrap();
    let (_, html) = common::send(&app, request).await;
    assert!(
        html.contains(r#"<html lang="en" data-theme="dark">"#),
        "{html}"
    );
    assert!(html.contains("Theme: <!>dark"), "{html}");
    assert!(
        html.contains(r#"<input type="hidden" name="set" value="auto">"#),
        "{html}"
    );
}

#[tokio::test]
async fn the_theme_switch_refuses_unknown_schemes_and_foreign_redirects() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let app = app_without_bundle(&test.db);
    let (response, body) = get(&app, "/theme?set=purple&back=/").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        body.contains("set") && body.contains("auto, light, dark"),
        "{body}"
    );
    assert!(response.headers().get(SET_COOKIE).is_none());

    let (response, _) = get(&app, "/theme?set=light&back=//evil.example/").await;
    assert_eq!(response.headers()[LOCATION], "/");
}

#[tokio::test]
async fn pages_load_the_browser_bundle_only_when_it_exists() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;

    let (_, html) = get(&app_without_bundle(&test.db), "/sign-in").await;
    assert!(
        !html.contains("/pkg/numbat.js"),
        "no bundle, no script: {html}"
    );

    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    std::fs::write(
        site.path().join("pkg/numbat.js"),
        "export default function(){}",
    )
    .unwrap();
    std::fs::write(site.path().join("pkg/numbat_bg.wasm"), b"\0asm").unwrap();
    let app = app(&test.db, site.path());
    let (_, html) = get(&app, "/sign-in").await;
    assert!(
        html.contains(r#"<link rel="modulepreload" href="/pkg/numbat.js""#),
        "{html}"
    );
    assert!(html.contains("/pkg/numbat_bg.wasm"), "{html}");

    let (response, js) = get(&app, "/pkg/numbat.js").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert_eq!(js, "export default function(){}");
    assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
}

/// A bundle as `scripts/build-bundle.sh` makes it: named by its hash in `pkg/bundle`, sent
/// brotli- or gzip-compressed as built to a browser that takes it, kept for a year. A name in
/// `pkg/bundle` that is not one the build writes is never put into a page.
#[tokio::test]
async fn a_hashed_bundle_is_sent_compressed_and_cached_for_a_year() {
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let name = "numbat-0123456789abcdef";
    std::fs::write(
        pkg.join(format!("{name}.js")),
        "export default function(){}",
    )
    .unwrap();
    std::fs::write(pkg.join(format!("{name}_bg.wasm")), b"\0asm plain").unwrap();
    std::fs::write(pkg.join(format!("{name}_bg.wasm.br")), b"brotli bytes").unwrap();
    std::fs::write(pkg.join(format!("{name}_bg.wasm.gz")), b"gzip bytes").unwrap();

    // A `pkg/bundle` naming something else is ignored: no file of that name, no bundle.
    for hostile in [
        "\"><script>alert(1)</script>",
        "../../etc/passwd",
        "numbat-0123456789abcdef\r\nX: y",
        "numbat-zzzzzzzzzzzzzzzz",
    ] {
        std::fs::write(pkg.join("bundle"), hostile).unwrap();
        let (_, html) = get(&app(&test.db, site.path()), "/sign-in").await;
        assert!(
            !html.contains("/pkg/"),
            "{hostile:?} named a bundle: {html}"
        );
        assert!(
            !html.contains("alert(1)") && !html.contains("passwd"),
            "{html}"
        );
    }

    std::fs::write(pkg.join("bundle"), format!("{name}\n")).unwrap();
    let app = app(&test.db, site.path());
    let (_, html) = get(&app, "/sign-in").await;
    assert!(
        html.contains(&format!(
            r#"<link rel="modulepreload" href="/pkg/{name}.js""#
        )),
        "{html}"
    );
    assert!(html.contains(&format!("/pkg/{name}_bg.wasm")), "{html}");

    let wasm = format!("/pkg/{name}_bg.wasm");
    for (accept, encoding, body) in [
        ("br, gzip", Some("br"), "brotli bytes"),
        ("gzip", Some("gzip"), "gzip bytes"),
        ("identity", None, "\0asm plain"),
    ] {
        let response = app
            .clone()
            .oneshot(
                Request::get(&wasm)
                    .header(ACCEPT_ENCODING, accept)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{accept}");
        assert_eq!(
            response
                .headers()
                .get(CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap()),
            encoding,
            "{accept}"
        );
        assert_eq!(
            response.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(response.headers()[VARY], "accept-encoding");
        assert!(response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("wasm"));
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], body.as_bytes(), "{accept}");
    }

    // A file that is not there is a 404 that is asked again next time (a node not yet upgraded
    // is asked for a new build's name), and a path out of the folder is refused.
    std::fs::write(site.path().join("secret"), "the site root's own file").unwrap();
    for path in [
        "/pkg/numbat-ffffffffffffffff_bg.wasm",
        "/pkg/../secret",
        "/pkg/%2e%2e/secret",
        "/pkg/..%2fsecret",
    ] {
        let (response, body) = get(&app, path).await;
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
        assert!(!body.contains("own file"), "{path}: {body}");
        assert!(
            !response.headers()[CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable"),
            "{path}"
        );
    }
}

/// The onboarding page, as a browser without JavaScript gets it: both domains with their TXT
/// values, the steps, and the PowerShell as plain text with no button that would do nothing;
/// reached from the account's page. Without a base domain it says which setting is missing.
#[tokio::test]
async fn a_direct_routing_accounts_onboarding_page_gives_its_domains_and_steps() {
    use numbat::domain::{
        Account, AccountName, AccountServices, BaseDomain, DirectRoutingConfig, Service,
        SubdomainLabel, SubdomainToken,
    };
    use numbat::provisioning::{Actor, DeploymentSettings, Door, Precondition, Role};
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = common::cli_core(&test.db);
    let admin = Actor::new("setup", &[Role::Admin], Door::Cli);
    core.put_account(
        &admin,
        Account {
            services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
            direct_routing: Some(DirectRoutingConfig {
                call_screening: true,
                subdomain: SubdomainLabel::parse("contoso").unwrap(),
                region1_token: SubdomainToken::parse("MS=ms11111111").unwrap(),
                region2_token: SubdomainToken::parse("MS=ms22222222").unwrap(),
            }),
            ..Account::named(AccountName::parse("contoso").unwrap())
        },
        Precondition::NONE,
    )
    .await
    .unwrap();
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "reader", &[PortalRole::ReadUser]).await;

    let (response, html) = browser.get("/accounts/contoso/onboarding").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(html.contains("base domain is not set"), "{html}");

    core.put_settings(
        &admin,
        DeploymentSettings {
            sip_header_name: None,
            base_domain: Some(BaseDomain::parse("dep1.example").unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (_, account) = browser.get("/accounts/contoso").await;
    assert!(
        account.contains(r#"href="/accounts/contoso/onboarding""#),
        "the account page links to its onboarding"
    );
    let (response, html) = browser.get("/accounts/contoso/onboarding").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        html.contains("<h1>Direct Routing onboarding for contoso</h1>"),
        "{html}"
    );
    for text in [
        "contoso.1r1.dep1.example",
        "contoso.1r2.dep1.example",
        "MS=ms11111111",
        "MS=ms22222222",
        "DNS status: not provisioned",
        "Activate both domains",
        "-OnlinePstnGatewayList contoso.1r1.dep1.example, contoso.1r2.dep1.example",
    ] {
        assert!(html.contains(text), "{text} missing: {html}");
    }
    assert_eq!(html.matches(r#"data-testid="powershell""#).count(), 2);
    assert!(
        !html.contains(">Copy<"),
        "no copy button without JavaScript: {html}"
    );
    test.remove().await;
}

/// The number form offers what the account's tenant has: usages and capabilities from its
/// capability plans (none ticked for a new number), civic addresses and locations to choose
/// from; and a number without a Teams service gets no Teams settings filled in.
#[tokio::test]
async fn the_number_form_offers_the_accounts_plans_and_addresses() {
    use numbat::domain::{Account, AccountName, AccountServices, Number, NumberServices, Service};
    use numbat::provisioning::{Actor, Door, Precondition, Provisioning, Role};
    let _renderer = common::one_renderer_at_a_time().await;
    let test = TestDb::sqlite().await.migrated().await;
    let core = Provisioning::new(test.db.clone());
    let admin = Actor::new("admin", &[Role::Admin], Door::Cli);
    let (tenant, address) = numbat::demo::civic_address();
    core.record_civic_address(&admin, &tenant, address)
        .await
        .unwrap();
    let oc = Account {
        teams_tenant_id: Some(tenant.clone()),
        services: AccountServices::default().with(Service::TeamsOperatorConnect, true, false),
        ..Account::named(AccountName::parse("oc-co").unwrap())
    };
    core.put_account(&admin, oc, Precondition::NONE)
        .await
        .unwrap();
    let zoom = Account {
        services: AccountServices::default().with(Service::ZoomPhoneCloudPeering, true, false),
        ..Account::named(AccountName::parse("zoom-co").unwrap())
    };
    core.put_account(&admin, zoom, Precondition::NONE)
        .await
        .unwrap();
    let number = Number {
        telephone_number: numbat::domain::TelephoneNumber::parse("+14155550188").unwrap(),
        account_name: AccountName::parse("zoom-co").unwrap(),
        services: NumberServices::only(Service::ZoomPhoneCloudPeering, None),
        custom_sip_header: None,
    };
    core.put_number(&admin, number, Precondition::NONE)
        .await
        .unwrap();
    let app = app_without_bundle(&test.db);
    let mut browser = Browser::signed_in(&app, &test.db, "writer", &[PortalRole::WriteUser]).await;

    let (_, html) = browser.get("/numbers/new?account=oc-co").await;
    for text in [
        r#"<input type="checkbox" name="form[cap000_InboundCalling]">"#,
        r#"<input type="checkbox" name="form[cap001_OutboundCalling]">"#,
        r#"<label for="field-capabilities">Other capabilities</label>"#,
        r#"<option value="civic-fabrikam-hq">1, Harbour Exchange Square, London, E14 9GE, GB (Fabrikam Ltd)</option>"#,
        r#"<optgroup label="1, Harbour Exchange Square, London, E14 9GE, GB (Fabrikam Ltd)">"#,
        r#"<option value="loc-fabrikam-hq-4">Floor 4, trading (loc-fabrikam-hq-4)</option>"#,
        r#"<option value="FirstPartyAppAssignment">FirstPartyAppAssignment</option>"#,
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }

    // A Zoom number: its Teams settings are said to be for Teams numbers only, and empty.
    let (_, html) = browser.get("/numbers/%2B14155550188").await;
    assert!(
        html.contains(
            "Operator Connect and Teams Phone Mobile settings (only for numbers with one of them)"
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"name="form[capabilities]" aria-describedby="capabilities-hint error-capabilities" value="""#),
        "nothing filled in: {html}"
    );
    assert!(
        !html.contains("cap000_"),
        "an account without a tenant has no plans to offer"
    );
    test.remove().await;
}
