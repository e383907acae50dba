//! Bulk import and export of a million numbers: rows per second and the process's peak memory
//! for an import (ACG's columns, Direct Routing with a custom header on every third number) on
//! SQLite and PostgreSQL, the time an export of them all takes, and beside them the time
//! `sqlite3`'s own `.import` takes to load the same file into a bare table. Prints figures;
//! asserts nothing.
//!
//! `cargo bench --bench import` (`-- --rows N`, default 1,000,000).

use numbat::bulk::export::NumberExport;
use numbat::bulk::{import_file, FileSettings};
use numbat::domain::{Account, AccountName, AccountServices, Service};
use numbat::provisioning::import::ImportMode;
use numbat::provisioning::{Actor, Door, NumberFilter, Precondition, Provisioning, Role};
use numbat::store::Database;
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use support::{arg, on_each_database};

#[allow(dead_code)]
mod support;

const ACCOUNTS: usize = 100;

fn account_name(i: usize) -> AccountName {
    AccountName::parse(&format!("customer-{i:03}")).unwrap()
}

fn write_file(path: &Path, rows: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        out,
        "telephoneNumber,accountName,serviceDetails_teamsDirectRouting_enabled,configuration_customSipHeader"
    )
    .unwrap();
    for i in 0..rows {
        let header = if i % 3 == 0 {
            format!("cost-centre-{}", i % 50)
        } else {
            String::new()
        };
        writeln!(
            out,
            "+4420{i:08},{},true,{header}",
            account_name(i % ACCOUNTS)
        )
        .unwrap();
    }
}

/// The process's peak resident memory since the last `reset_peak_memory`, in MiB.
fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Starts the peak-memory count again from what is resident now (Linux `clear_refs` 5).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn bench(kind: &'static str, db: Database, file: &Path, rows: usize) {
    let core = Provisioning::new(db.clone());
    let actor = Actor::new("bench", &[Role::Admin], Door::Cli);
    for i in 0..ACCOUNTS {
        let account = Account {
            services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
            ..Account::named(account_name(i))
        };
        core.put_account(&actor, account, Precondition::NONE)
            .await
            .unwrap();
    }

    reset_peak_memory();
    let before = peak_memory_mib();
    let started = Instant::now();
    let summary = import_file(
        &core,
        &actor,
        "bench.csv",
        std::fs::File::open(file).unwrap(),
        FileSettings::default(),
        ImportMode::Apply,
        |_, errors| assert!(errors.is_empty(), "{errors:?}"),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    assert_eq!(summary.tally.created as usize, rows);
    println!(
        "{kind:<8} import {rows} rows: {:>6.1} s  {:>8.0} rows/s  peak memory {:.0} MiB (was {:.0} MiB before)",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64(),
        peak_memory_mib(),
        before
    );

    let started = Instant::now();
    let mut export = NumberExport::new(core.clone(), actor.clone(), NumberFilter::default());
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(file.with_extension("out")).unwrap());
    let mut bytes = 0;
    while let Some(chunk) = export.next_chunk().await.unwrap() {
        bytes += chunk.len();
        out.write_all(&chunk).unwrap();
    }
    out.flush().unwrap();
    println!(
        "{kind:<8} export {rows} rows: {:>6.1} s  ({:.0} MB of CSV)",
        started.elapsed().as_secs_f64(),
        bytes as f64 / 1e6
    );
}

fn sqlite3_import(file: &Path) {
    let folder = tempfile::tempdir().unwrap();
    let db = folder.path().join("bare.db");
    let script = format!(
        "CREATE TABLE numbers (telephoneNumber TEXT PRIMARY KEY, accountName TEXT, dr TEXT, header TEXT);\n.mode csv\n.import --skip 1 {} numbers\n",
        file.display()
    );
    let started = Instant::now();
    let run = std::process::Command::new("sqlite3")
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait()
        });
    match run {
        Ok(status) if status.success() => println!(
            "sqlite3  .import into a bare table (primary key on the number): {:>6.1} s",
            started.elapsed().as_secs_f64()
        ),
        Ok(status) => println!("sqlite3  .import failed: {status}"),
        Err(error) => println!("sqlite3  skipped: {error} (apt-get install sqlite3)"),
    }
}

#[tokio::main]
async fn main() {
    let rows = arg("--rows", 1_000_000);
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("numbers.csv");
    write_file(&file, rows);
    println!(
        "{rows} rows, {:.0} MB of CSV, {ACCOUNTS} accounts",
        std::fs::metadata(&file).unwrap().len() as f64 / 1e6
    );
    sqlite3_import(&file);
    let file = &file;
    on_each_database(|kind, db| async move { bench(kind, db, file, rows).await }).await;
}
