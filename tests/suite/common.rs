//! Test helpers: throw-away databases on SQLite and PostgreSQL, and a router to send requests to.

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use numbat::server::router;
use numbat::state::AppState;
use numbat::store::Database;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use tower::ServiceExt;

/// A database that exists for one test.
pub struct TestDb {
    pub db: Database,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Folder(#[allow(dead_code)] tempfile::TempDir),
    PostgresDatabase { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh SQLite file in its own temporary folder, not migrated.
    pub async fn sqlite() -> Self {
        let folder = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}/numbat.db", folder.path().display());
        let db = Database::connect(&url).await.expect("open SQLite");
        Self {
            db,
            url,
            cleanup: Cleanup::Folder(folder),
        }
    }

    /// A fresh PostgreSQL database, not migrated; `None` when PostgreSQL tests are skipped.
    /// Unreachable PostgreSQL fails the test when `CI=true`.
    pub async fn postgres() -> Option<Self> {
        let admin_url = postgres_admin_url()?;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "numbat_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let admin = match Database::connect(&admin_url).await {
            Ok(admin) => admin,
            Err(error) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL at {admin_url} is unreachable and CI=true requires it: {error}")
            }
            Err(error) => {
                eprintln!("PostgreSQL tests skipped: {admin_url} is unreachable: {error}");
                return None;
            }
        };
        let Database::Postgres(pool) = &admin else {
            panic!("NUMBAT_TEST_POSTGRES_URL must be a postgres:// URL")
        };
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(pool)
            .await
            .expect("create test database");
        admin.close().await;
        let url = with_database(&admin_url, &name);
        let db = Database::connect(&url).await.expect("open test database");
        Some(Self {
            db,
            url,
            cleanup: Cleanup::PostgresDatabase { admin_url, name },
        })
    }

    /// Both backends: SQLite always, PostgreSQL unless skipped.
    pub async fn every_backend() -> Vec<Self> {
        let mut all = vec![Self::sqlite().await];
        all.extend(Self::postgres().await);
        all
    }

    pub async fn migrated(self) -> Self {
        self.db.migrate().await.expect("migrate");
        self
    }

    /// Closes the pool and removes the database.
    pub async fn remove(self) {
        self.db.close().await;
        if let Cleanup::PostgresDatabase { admin_url, name } = self.cleanup {
            if let Ok(Database::Postgres(admin)) = Database::connect(&admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await;
                admin.close().await;
            }
        }
    }
}

/// `NUMBAT_TEST_POSTGRES_URL`, default the local server; `skip` turns the PostgreSQL tests off.
fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("NUMBAT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    if url == "skip" {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("NUMBAT_TEST_POSTGRES_URL=skip, but CI=true requires the PostgreSQL tests");
        }
        return None;
    }
    Some(url)
}

/// The same server URL with another database name.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// A router on `db`, with the browser bundle looked for under `site_root`.
pub fn app(db: &Database, site_root: &Path) -> axum::Router {
    router(AppState::new(db.clone(), site_root))
}

/// A router on `db` with no browser bundle.
pub fn app_without_bundle(db: &Database) -> axum::Router {
    app(db, Path::new("/nonexistent-site-root"))
}

/// Sends `request` through the router. A 500 fails the test whatever it expected: no request
/// in the test suite may make the server fail.
pub async fn send(app: &axum::Router, request: Request<Body>) -> (Response<Body>, String) {
    let what = format!("{} {}", request.method(), request.uri());
    let response = app.clone().oneshot(request).await.expect("router answers");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8 body");
    assert_ne!(
        parts.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{what} ended in a 500: {text}"
    );
    (Response::from_parts(parts, Body::empty()), text)
}

pub async fn get(app: &axum::Router, uri: &str) -> (Response<Body>, String) {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// The version of the newest migration shipped, read from the migration folder's file names.
pub fn latest_migration() -> i64 {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations folder")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.split('_').next()?.parse::<i64>().ok()
        })
        .max()
        .expect("at least one migration")
}

/// A browser without JavaScript: keeps the portal's session cookie between requests and posts
/// forms the way a browser does (urlencoded, `Accept: text/html`, a same-origin `Referer`).
#[allow(dead_code)]
pub struct Browser {
    pub app: axum::Router,
    pub cookie: Option<String>,
}

#[allow(dead_code)]
impl Browser {
    pub fn new(app: &axum::Router) -> Self {
        Self {
            app: app.clone(),
            cookie: None,
        }
    }

    /// A browser signed in as a new user `name` with `roles`, past the first password change.
    pub async fn signed_in(
        app: &axum::Router,
        db: &Database,
        name: &str,
        roles: &[numbat::auth::users::PortalRole],
    ) -> Self {
        let one_time = add_user(db, name, roles).await;
        let mut browser = Self::new(app);
        let (response, _) = browser
            .post(
                "/sign-in",
                &format!("name={name}&password={one_time}&next=/"),
            )
            .await;
        assert_eq!(
            response.headers()["location"],
            "/password",
            "one-time password must be changed"
        );
        let (response, _) = browser
            .post(
                "/password",
                &format!(
                    "current={one_time}&new=a-long-enough-password&confirm=a-long-enough-password"
                ),
            )
            .await;
        assert_eq!(response.headers()["location"], "/?password_changed=1");
        browser
    }

    fn remember(&mut self, response: &Response<Body>) {
        for value in response.headers().get_all(axum::http::header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            if let Some(pair) = text
                .split(';')
                .next()
                .filter(|p| p.starts_with("numbat_session="))
            {
                self.cookie = if text.contains("Max-Age=0") {
                    None
                } else {
                    Some(pair.to_owned())
                };
            }
        }
    }

    pub async fn send(&mut self, mut request: Request<Body>) -> (Response<Body>, String) {
        if let Some(cookie) = &self.cookie {
            request
                .headers_mut()
                .insert(axum::http::header::COOKIE, cookie.parse().unwrap());
        }
        let (response, body) = send(&self.app, request).await;
        self.remember(&response);
        (response, body)
    }

    pub async fn get(&mut self, uri: &str) -> (Response<Body>, String) {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// Posts a urlencoded form as a browser on the portal's own page would.
    pub async fn post(&mut self, uri: &str, form: &str) -> (Response<Body>, String) {
        let request = Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("referer", "http://portal.test/from-page")
            .header("host", "portal.test")
            .header("origin", "http://portal.test")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.send(request).await
    }

    /// Posts a urlencoded form from `page` (the `Referer`), as a browser on that page would.
    pub async fn post_from(
        &mut self,
        page: &str,
        uri: &str,
        form: &str,
    ) -> (Response<Body>, String) {
        let request = Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("referer", format!("http://portal.test{page}"))
            .header("host", "portal.test")
            .header("origin", "http://portal.test")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.send(request).await
    }

    /// Posts a server function's form from the page that shows it, then follows the
    /// no-JavaScript answer back to that page: the error it shows, if any.
    pub async fn post_error(&mut self, uri: &str, form: &str) -> Option<String> {
        let field = |name: &str| {
            form.split('&')
                .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                .unwrap_or_default()
                .to_owned()
        };
        let page = match uri {
            "/api/accounts/save" => "/accounts/new".to_owned(),
            "/api/accounts/delete" => format!("/accounts/{}", field("name")),
            "/api/numbers/add" => "/numbers/new".to_owned(),
            "/api/numbers/save" => format!("/numbers/{}", field("form[numbers]")),
            "/api/numbers/delete" => format!("/numbers/{}", field("number")),
            "/api/numbers/retry-sync" => format!("/numbers/{}", field("number")),
            "/api/rfis/relationship" => format!("/requests-for-information/{}", field("tenant")),
            "/api/inventory/act" => "/inventory".to_owned(),
            "/api/labels/save" => match field("kind").as_str() {
                "account" => format!("/accounts/{}", field("key")),
                _ => format!("/numbers/{}", field("key")),
            },
            other if other.starts_with("/api/admin/users") => "/admin/users".to_owned(),
            other if other.starts_with("/api/admin/tokens") => "/admin/tokens".to_owned(),
            other if other.starts_with("/api/admin/settings") => "/admin/settings".to_owned(),
            "/api/admin/webhooks/create" => "/admin/webhooks".to_owned(),
            other if other.starts_with("/api/admin/webhooks") => {
                format!("/admin/webhooks/{}", field("id"))
            }
            other => panic!("no page is known for {other}"),
        };
        let (response, _) = self.post_from(&page, uri, form).await;
        assert_eq!(
            response.status(),
            StatusCode::FOUND,
            "{uri} answers a form with a redirect"
        );
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        if !location.contains("__err=") {
            return None;
        }
        let path = location.trim_start_matches("http://portal.test");
        let (_, html) = self.get(path).await;
        let start = html
            .find(r#"<div role="alert" class="notice error">"#)
            .expect("the page shows the error");
        let end = html[start..].find("</div>").unwrap() + start;
        Some(html[start..end].to_owned())
    }
}

/// Portal pages render through Leptos, which keeps some state per process: two tests rendering
/// pages at once, each on its own runtime, were seen to stall for good (about one run in five;
/// never one at a time, and never in the server, which has one runtime). Tests that render
/// pages hold this for their whole run.
#[allow(dead_code)]
pub async fn one_renderer_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static RENDERER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    RENDERER.lock().await
}

/// A new API token named `name` with `roles`, made as the command line would; its secret.
#[allow(dead_code)]
pub async fn api_token(db: &Database, name: &str, roles: &[numbat::provisioning::Role]) -> String {
    cli_core(db)
        .create_token(&cli_admin(), name, roles)
        .await
        .expect("token created")
}

/// The provisioning core over `db`, as the command line opens it.
#[allow(dead_code)]
pub fn cli_core(db: &Database) -> numbat::provisioning::Provisioning {
    numbat::provisioning::Provisioning::new(db.clone())
}

/// The command line's actor: an administrator at this machine.
#[allow(dead_code)]
pub fn cli_admin() -> numbat::provisioning::Actor {
    use numbat::provisioning::{Actor, Door, Role};
    Actor::new("cli:test", &[Role::Admin], Door::Cli)
}

/// A new portal user named `name` with `roles`, added as the command line would; their
/// one-time password.
#[allow(dead_code)]
pub async fn add_user(
    db: &Database,
    name: &str,
    roles: &[numbat::auth::users::PortalRole],
) -> String {
    cli_core(db)
        .add_user(&cli_admin(), name, roles)
        .await
        .expect("user added")
}

/// What a browser without JavaScript posts when a form is submitted as the page rendered it:
/// the named fields of the `<form>` whose `action` is `action`, URL-encoded, in page order.
/// Text inputs and hidden fields give their `value`, checkboxes and radios only when
/// `checked`, selects their `selected` option (or the first), textareas their text; disabled
/// fields nothing.
pub fn form_as_rendered(html: &str, action: &str) -> String {
    let start = html
        .find(&format!(r#"action="{action}""#))
        .unwrap_or_else(|| panic!("no form posts to {action}: {html}"));
    let body = &html[start..];
    let body = &body[..body.find("</form>").expect("the form ends")];
    let mut out = form_urlencoded::Serializer::new(String::new());
    let mut rest = body;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let tag_end = rest.find('>').expect("tags close");
        let tag = &rest[..tag_end];
        let kind = tag.split_whitespace().next().unwrap_or_default();
        if !matches!(kind, "input" | "select" | "textarea") {
            continue;
        }
        let Some(name) = attribute(tag, "name") else {
            continue;
        };
        if has_attribute(tag, "disabled") {
            continue;
        }
        match kind {
            "input" => {
                let kind = attribute(tag, "type").unwrap_or_else(|| "text".into());
                let value = attribute(tag, "value");
                match kind.as_str() {
                    "checkbox" | "radio" => {
                        if has_attribute(tag, "checked") {
                            out.append_pair(&name, &value.unwrap_or_else(|| "on".into()));
                        }
                    }
                    "submit" | "button" | "reset" | "file" => {}
                    _ => {
                        out.append_pair(&name, &value.unwrap_or_default());
                    }
                }
            }
            "select" => {
                let options = &rest[tag_end..rest.find("</select>").expect("selects close")];
                let mut first = None;
                let mut chosen = None;
                for option in options.split("<option").skip(1) {
                    let open = &option[..option.find('>').unwrap_or(option.len())];
                    let value = attribute(open, "value").unwrap_or_else(|| {
                        unescape(
                            option[open.len() + 1..]
                                .split('<')
                                .next()
                                .unwrap_or("")
                                .trim(),
                        )
                    });
                    first.get_or_insert(value.clone());
                    if has_attribute(open, "selected") {
                        chosen = Some(value);
                    }
                }
                if let Some(value) = chosen.or(first) {
                    out.append_pair(&name, &value);
                }
            }
            _ => {
                let text = &rest[tag_end + 1..rest.find("</textarea>").expect("textareas close")];
                out.append_pair(&name, &unescape(text));
            }
        }
    }
    out.finish()
}

/// An attribute's value in a tag's text (quoted with `"`), unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let at = tag.find(&needle)? + needle.len();
    let end = tag[at..].find('"')?;
    Some(unescape(&tag[at..at + end]))
}

/// Whether a boolean attribute (`checked`, `selected`, `disabled`) is present.
fn has_attribute(tag: &str, name: &str) -> bool {
    tag.split(|c: char| c.is_whitespace() || c == '/')
        .any(|part| part == name || part.starts_with(&format!("{name}=")))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// An inventory job adding `first` to `last` whose process died before doing a number (its run
/// dropped, its lease run out): interrupted, waiting to be resumed. Its id.
#[allow(dead_code)]
pub async fn interrupted_inventory_add(db: &Database, first: &str, last: &str) -> i64 {
    use numbat::provisioning::inventory::InventoryAction;
    let core = numbat::provisioning::Provisioning::new(db.clone())
        .with_job_lease(std::time::Duration::from_secs(1));
    let range = numbat::domain::NumberRange::parse(first, last).unwrap();
    let run = core
        .start_inventory(
            cli_admin(),
            &InventoryAction::Add,
            range.numbers().collect(),
        )
        .await
        .unwrap();
    let id = run.job_id();
    drop(run);
    let started = std::time::Instant::now();
    while core.job(&cli_admin(), id).await.unwrap().state != "interrupted" {
        core.mark_interrupted_jobs().await.unwrap();
        assert!(started.elapsed().as_secs() < 20, "never interrupted");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    id
}

/// `text` percent-encoded for a form (every byte but letters, digits and `-._~`).
#[allow(dead_code)]
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Account `account` with Direct Routing on (made if missing) and `number` assigned to it.
#[allow(dead_code)]
pub async fn put_direct_routing_number(
    core: &numbat::provisioning::Provisioning,
    account: &str,
    number: &str,
) {
    use numbat::domain::{
        Account, AccountName, AccountServices, Number, NumberServices, Service, TelephoneNumber,
    };
    use numbat::provisioning::Precondition;
    let name = AccountName::parse(account).unwrap();
    if core.get_account(&cli_admin(), &name).await.is_err() {
        let made = Account {
            services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
            ..Account::named(name.clone())
        };
        core.put_account(&cli_admin(), made, Precondition::NONE)
            .await
            .unwrap();
    }
    let number = Number {
        telephone_number: TelephoneNumber::parse(number).unwrap(),
        account_name: name,
        services: NumberServices::only(Service::TeamsDirectRouting, None),
        custom_sip_header: None,
    };
    core.put_number(&cli_admin(), number, Precondition::NONE)
        .await
        .unwrap();
}
