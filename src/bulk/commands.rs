//! `numbat import` and `numbat export`: files in, files out, a progress line on standard
//! error, a summary on standard output.

use super::accounts::AccountExport;
use super::columns::column_of;
use super::export::NumberExport;
use super::import::{import_file, FileSettings, ImportFailure, ImportOptions};
use crate::cli::{ExportArgs, ImportArgs};
use crate::domain::{AccountName, ProvisioningStatus, Service};
use crate::provisioning::import::ImportMode;
use crate::provisioning::{Actor, Door, NumberFilter, Provisioning, Role};
use crate::store::jobs::{RowError, Tally};
use crate::store::Database;
use anyhow::{bail, Context};
use std::io::{IsTerminal, Write};

/// Invalid rows printed before the rest are left to the report.
const PRINTED_ERRORS: usize = 50;

/// Runs an import; returns how many rows were invalid.
pub async fn import(db: &Database, args: ImportArgs, operator: &str) -> anyhow::Result<i64> {
    let settings = file_settings(&args)?;
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let mut report = match &args.report {
        Some(path) => {
            let mut writer = csv::Writer::from_path(path)
                .with_context(|| format!("cannot write the report {}", path.display()))?;
            writer.write_record(["line", "column", "code", "reason"])?;
            Some(writer)
        }
        None => None,
    };
    let mode = if args.apply {
        ImportMode::Apply
    } else {
        ImportMode::DryRun
    };
    let core = Provisioning::new(db.clone());
    let actor = Actor::new(operator, &[Role::Admin], Door::Cli);
    let source = args.file.display().to_string();
    let terminal = std::io::stderr().is_terminal();
    // Problems printed, and the distinct rows they were on (a row may break several rules).
    let (mut printed, mut printed_rows, mut last_printed_line) = (0, 0, None);
    let mut chunks = 0u64;
    let mut report_failed = None;
    let outcome = import_file(
        &core,
        &actor,
        &source,
        std::io::BufReader::with_capacity(1 << 16, file),
        settings,
        mode,
        |tally, errors| {
            chunks += 1;
            for error in errors {
                if printed < PRINTED_ERRORS {
                    println!("{}", describe(error));
                    printed += 1;
                    if last_printed_line != Some(error.line) {
                        printed_rows += 1;
                        last_printed_line = Some(error.line);
                    }
                }
                if let Some(writer) = &mut report {
                    let written = writer.write_record(super::cells::neutralise_row([
                        error.line.to_string(),
                        column_of(&error.field),
                        error.code.clone(),
                        error.message.clone(),
                    ]));
                    if let Err(e) = written {
                        report_failed.get_or_insert(e.to_string());
                    }
                }
            }
            if terminal {
                eprint!("\r{}", progress(tally));
            } else if chunks.is_multiple_of(100) {
                eprintln!("{}", progress(tally));
            }
        },
    )
    .await;
    if terminal {
        eprintln!();
    }
    if let Some(writer) = &mut report {
        writer.flush().context("cannot write the report")?;
    }
    if let Some(error) = report_failed {
        bail!("cannot write the report: {error}");
    }
    let summary = match outcome {
        Ok(summary) => summary,
        Err(ImportFailure::File(reason)) => match mode {
            ImportMode::DryRun => bail!("{source}: {reason}; no number was changed"),
            ImportMode::Apply => bail!(
                "{source}: {reason}; the whole chunks of 1,000 rows before it were applied, nothing after"
            ),
        },
        Err(ImportFailure::Core(error)) => return Err(error.into()),
    };
    let t = summary.tally;
    if t.invalid as usize > printed_rows {
        let rest = t.invalid as usize - printed_rows;
        match &args.report {
            Some(path) => println!(
                "… and {rest} more invalid rows: every one is in {}",
                path.display()
            ),
            None => println!("… and {rest} more invalid rows: --report FILE lists every one"),
        }
    }
    match mode {
        ImportMode::DryRun => println!(
            "Dry run of {source} (import {}): {} rows: {} would be created, {} changed, {} unchanged; {} invalid. No number was changed: add --apply to write the valid rows.",
            summary.job_id, t.rows_read, t.created, t.changed, t.unchanged, t.invalid
        ),
        ImportMode::Apply => println!(
            "Imported {source} (import {}): {} rows: {} created, {} changed, {} unchanged; {} invalid rows skipped.",
            summary.job_id, t.rows_read, t.created, t.changed, t.unchanged, t.invalid
        ),
    }
    Ok(t.invalid)
}

fn progress(t: &Tally) -> String {
    format!(
        "line {}: {} rows, {} new, {} changed, {} unchanged, {} invalid",
        t.last_line, t.rows_read, t.created, t.changed, t.unchanged, t.invalid
    )
}

/// `line 7, serviceDetails_teamsPhoneMobile_enabled: ServiceNotEnabledOnAccount: …`
fn describe(error: &RowError) -> String {
    if error.field.is_empty() {
        format!("line {}: {} ({})", error.line, error.message, error.code)
    } else {
        format!(
            "line {}, column {}: {} ({})",
            error.line,
            column_of(&error.field),
            error.message,
            error.code
        )
    }
}

fn service(raw: &str, flag: &str) -> anyhow::Result<Service> {
    Service::from_wire_name(raw).with_context(|| {
        let names: Vec<_> = Service::ALL.iter().map(|s| s.wire_name()).collect();
        format!("{flag} {raw}: must be one of {}", names.join(", "))
    })
}

fn file_settings(args: &ImportArgs) -> anyhow::Result<FileSettings> {
    let options = ImportOptions {
        account: args.account.clone(),
        service: args.service.clone(),
        usage: args.usage.clone(),
        capabilities: Some(args.capabilities.join(",")),
    };
    options.file_settings().map_err(|problem| {
        let given = match problem.setting {
            "account" => args.account.clone(),
            "service" => args.service.clone(),
            "usage" => args.usage.clone(),
            _ => Some(args.capabilities.join(",")),
        };
        anyhow::anyhow!(
            "--{} {}: {}",
            problem.setting,
            given.unwrap_or_default(),
            problem.message
        )
    })
}

/// Writes the numbers `args` select as CSV.
pub async fn export(db: &Database, args: ExportArgs, operator: &str) -> anyhow::Result<()> {
    let filter = NumberFilter {
        account: args
            .account
            .as_deref()
            .map(|raw| {
                AccountName::parse(raw)
                    .map_err(|v| anyhow::anyhow!("--account {raw}: {}", v.message))
            })
            .transpose()?,
        service: args
            .service
            .as_deref()
            .map(|raw| service(raw, "--service"))
            .transpose()?,
        status: args
            .status
            .as_deref()
            .map(|raw| {
                ProvisioningStatus::parse(raw)
                    .with_context(|| format!("--status {raw}: must be pending, synced or failed"))
            })
            .transpose()?,
        prefix: args.prefix.clone(),
        ..NumberFilter::default()
    };
    let core = Provisioning::new(db.clone());
    let actor = Actor::new(operator, &[Role::Read], Door::Cli);
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if args.accounts {
        if args.account.is_some() || args.status.is_some() || args.prefix.is_some() {
            bail!("--accounts exports accounts: of the filters, only --service applies to them");
        }
        let filter = crate::provisioning::AccountFilter {
            service: filter.service,
            ..Default::default()
        };
        let mut export = AccountExport::new(core, actor, filter);
        while let Some(chunk) = export.next_chunk().await? {
            out.write_all(&chunk).context("cannot write the export")?;
        }
    } else {
        let mut export = NumberExport::new(core, actor, filter);
        while let Some(chunk) = export.next_chunk().await? {
            out.write_all(&chunk).context("cannot write the export")?;
        }
    }
    out.flush().context("cannot write the export")?;
    Ok(())
}
