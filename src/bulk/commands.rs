//! `numbat import` and `numbat export`: files in, files out, a progress line on standard
//! error, a summary on standard output. `numbat import --resume ID` goes on with an
//! interrupted job (an import, or a portal bulk action) where its committed chunks stopped.

use super::accounts::AccountExport;
use super::columns::column_of;
use super::export::NumberExport;
use super::import::{run_import, FileSettings, ImportFailure, ImportOptions, UploadReader};
use super::{ExportArgs, ImportArgs};
use crate::domain::{AccountName, ProvisioningStatus, Service};
use crate::provisioning::bulk::Resumed;
use crate::provisioning::import::{Import, ImportMode, ImportStart};
use crate::provisioning::{Actor, Door, NumberFilter, Provisioning, Role};
use crate::provisioning::{RowError, Tally};
use crate::store::Database;
use anyhow::{bail, Context};
use std::io::{IsTerminal, Write};

/// Invalid rows printed before the rest are left to the report.
const PRINTED_ERRORS: usize = 50;

/// Runs an import, or resumes an interrupted job; returns how many rows were invalid.
pub async fn import(db: &Database, args: ImportArgs, operator: &str) -> anyhow::Result<i64> {
    let core = Provisioning::new(db.clone());
    let actor = Actor::new(operator, &[Role::Admin], Door::Cli);
    let (run, source, mode, settings, file, upload) = match args.resume {
        Some(id) => match resume(&core, &actor, id, &args).await? {
            Some(resumed) => resumed,
            None => return Ok(0),
        },
        None => {
            let Some(path) = &args.file else {
                bail!("give the CSV file to import");
            };
            let settings = file_settings(&args)?;
            let file: Box<dyn std::io::Read + Send> = Box::new(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            );
            let mode = if args.apply {
                ImportMode::Apply
            } else {
                ImportMode::DryRun
            };
            let source = path.display().to_string();
            let start = ImportStart {
                source: source.clone(),
                mode,
                total_lines: None,
                upload: None,
                settings: Some(options(&args).to_json()),
            };
            let run = core.start_import(actor.clone(), start).await?;
            (run, source, mode, settings, file, None)
        }
    };
    let mut report = match &args.report {
        Some(path) => {
            let mut writer = csv::Writer::from_path(path)
                .with_context(|| format!("cannot write the report {}", path.display()))?;
            writer.write_record(["line", "column", "code", "reason"])?;
            Some(writer)
        }
        None => None,
    };
    let terminal = std::io::stderr().is_terminal();
    // Problems printed, and the distinct rows they were on (a row may break several rules).
    let (mut printed, mut printed_rows, mut last_printed_line) = (0, 0, None);
    let mut chunks = 0u64;
    let mut report_failed = None;
    let outcome = run_import(
        run,
        std::io::BufReader::with_capacity(1 << 16, file),
        settings,
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
    // An applied upload is not kept any longer (as when the portal applies it).
    if let (ImportMode::Apply, Some(upload)) = (mode, &upload) {
        core.forget_upload(&actor, upload).await?;
    }
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

/// An interrupted job taken over, with what its run reads. `None` when it was a bulk action,
/// resumed to its end here.
async fn resume(
    core: &Provisioning,
    actor: &Actor,
    id: i64,
    args: &ImportArgs,
) -> anyhow::Result<Option<ToRun>> {
    let job = core.job(actor, id).await?;
    // An import's file and settings are checked before the job is taken over.
    let mut prepared = None;
    let resumable = matches!(job.state.as_str(), "interrupted" | "running");
    if job.kind == "import" && resumable {
        let settings = match job.settings.as_deref().map(ImportOptions::from_json) {
            Some(Some(options)) => options.file_settings().map_err(|p| {
                anyhow::anyhow!("import {id}'s stored settings do not read back: {p}")
            })?,
            Some(None) => bail!("import {id}'s stored settings do not read back"),
            None => file_settings(args)?,
        };
        let file: Box<dyn std::io::Read + Send> = match (&job.upload, &args.file) {
            (_, Some(path)) => Box::new(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ),
            (Some(upload), None) if core.upload_kept(actor, upload).await? => {
                Box::new(UploadReader::new(core.clone(), actor.clone(), upload))
            }
            (Some(_), None) => bail!(
                "import {id}'s uploaded file is no longer kept: give the same file after --resume {id}"
            ),
            (None, None) => bail!(
                "import {id} read {}: give that same file after --resume {id}",
                job.source
            ),
        };
        prepared = Some((settings, file));
    }
    match core.resume_job(actor.clone(), id).await? {
        Resumed::Import { run, job } => {
            let Some((settings, file)) = prepared else {
                // It was not resumable when looked at, and is now: let it be taken over again.
                run.fail("resumed while it was being looked at; resume it again")
                    .await?;
                bail!("import {id} changed while it was being resumed: try again");
            };
            let mode = if job.action == ImportMode::DryRun.as_str() {
                ImportMode::DryRun
            } else {
                ImportMode::Apply
            };
            eprintln!(
                "Resuming import {id} of {} after line {} ({} rows done)",
                job.source, job.last_line, job.rows_read
            );
            if let Some(upload) = &job.upload {
                core.keep_upload(actor, upload).await?;
            }
            let upload = job.upload.filter(|_| args.file.is_none());
            Ok(Some((run, job.source, mode, settings, file, upload)))
        }
        Resumed::Bulk {
            run,
            job,
            action,
            selection,
        } => {
            eprintln!(
                "Resuming bulk action {id} ({}) after {} numbers",
                job.source, job.last_line
            );
            let t = core.run_bulk(run, &action, selection).await?;
            println!(
                "Bulk action {id} ({}): {} numbers: {} changed, {} unchanged; {} refused (left as they were).",
                job.source, t.rows_read, t.created + t.changed, t.unchanged, t.invalid
            );
            Ok(None)
        }
        Resumed::Inventory { run, job } => {
            eprintln!(
                "Resuming inventory action {id} ({}) after {} numbers",
                job.source, job.last_line
            );
            core.run_inventory(run).await?;
            let t = core.job(actor, id).await?;
            println!(
                "Inventory action {id} ({}): {} numbers: {} done, {} unchanged; {} refused (left as they were).",
                job.source, t.rows_read, t.changed, t.unchanged, t.invalid
            );
            Ok(None)
        }
    }
}

/// What `resume` hands back for an import: its run, its file's name, its mode, how the file is
/// read, the file, and the upload it is when it was uploaded to the portal.
type ToRun = (
    Import,
    String,
    ImportMode,
    FileSettings,
    Box<dyn std::io::Read + Send>,
    Option<String>,
);

fn options(args: &ImportArgs) -> ImportOptions {
    ImportOptions {
        account: args.account.clone(),
        service: args.service.clone(),
        usage: args.usage.clone(),
        capabilities: Some(args.capabilities.join(",")),
    }
}

fn file_settings(args: &ImportArgs) -> anyhow::Result<FileSettings> {
    options(args).file_settings().map_err(|problem| {
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
