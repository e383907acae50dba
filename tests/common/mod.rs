//! Test helpers: throw-away databases on SQLite and PostgreSQL, and a router to send requests to.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use numbat::server::{router, AppState};
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

pub async fn send(app: &axum::Router, request: Request<Body>) -> (Response<Body>, String) {
    let response = app.clone().oneshot(request).await.expect("router answers");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8 body");
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
