//! What the benchmark programs share: arguments, latency summaries, and a fresh migrated
//! database on SQLite and on PostgreSQL (when `NUMBAT_BENCH_POSTGRES_URL`, default the local
//! server, answers).

use numbat::store::Database;
use std::future::Future;
use std::time::Duration;

/// `--name N` from the command line, or `default`.
pub fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// p50, p95 and p99 of `samples`, in milliseconds.
pub fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at =
        |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    format!(
        "p50 {:>8.3} ms  p95 {:>8.3} ms  p99 {:>8.3} ms  ({} runs)",
        at(0.50),
        at(0.95),
        at(0.99),
        samples.len()
    )
}

/// Runs `bench` on a fresh, migrated SQLite file, then on a fresh PostgreSQL database that is
/// dropped afterwards.
pub async fn on_each_database<F, Fut>(bench: F)
where
    F: Fn(&'static str, Database) -> Fut,
    Fut: Future<Output = ()>,
{
    // NUMBAT_BENCH_ONLY=postgres (or sqlite) runs one database; NUMBAT_BENCH_KEEP=1 leaves the
    // PostgreSQL database in place afterwards, to EXPLAIN its queries with the same data.
    let only = std::env::var("NUMBAT_BENCH_ONLY").unwrap_or_default();
    let keep = std::env::var("NUMBAT_BENCH_KEEP").is_ok_and(|v| v == "1");
    if only.is_empty() || only == "sqlite" {
        let folder = tempfile::tempdir().unwrap();
        let db = Database::connect(&format!("sqlite://{}/bench.db", folder.path().display()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        bench("sqlite", db.clone()).await;
        db.close().await;
    }
    if only == "sqlite" {
        return;
    }

    let admin_url = std::env::var("NUMBAT_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let Ok(Database::Postgres(admin)) = Database::connect(&admin_url).await else {
        println!("postgres: skipped, nothing answers at {admin_url}");
        return;
    };
    let name = format!("numbat_bench_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    let db = Database::connect(&format!("{base}/{name}")).await.unwrap();
    db.migrate().await.unwrap();
    bench("postgres", db.clone()).await;
    db.close().await;
    if keep {
        println!("postgres: kept database {name}");
        return;
    }
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}
