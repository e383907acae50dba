//! Importing numbers from a CSV file: the upload form, the runs so far, and one run's page
//! (progress while it runs, then what it did or would do, its invalid rows, the report, and
//! for a checked file the button that applies it; for a job whose worker died, the button that
//! resumes it). The file itself goes to plain HTTP routes (`server::files`): uploads and
//! downloads do not fit server functions, and resuming starts background work as they do.

use super::access::error_text;
use super::widgets::*;
use crate::domain::Service;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// Invalid rows a run's page lists; the report has them all.
#[cfg(feature = "ssr")]
const LISTED_ERRORS: usize = 200;
/// A running job without a lease (started by a version before leases) that has not moved for
/// this long is shown as stalled: most likely the server stopped under it.
#[cfg(feature = "ssr")]
const STALLED_AFTER: std::time::Duration = std::time::Duration::from_secs(120);

/// An import run as the pages show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportView {
    pub id: i64,
    /// `import` or `bulk`.
    pub kind: String,
    /// An import's `dryRun` or `apply`; a bulk action's name (`delete`, `move`, …).
    pub action: String,
    pub source: String,
    pub dry_run: bool,
    /// `running`, `finished`, `failed`, `interrupted` (its worker died: it can be resumed), or
    /// `stalled` (an old job without a lease, running but without progress for minutes).
    pub state: String,
    pub actor: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub rows_read: i64,
    pub created: i64,
    pub changed: i64,
    pub unchanged: i64,
    pub invalid: i64,
    pub last_line: i64,
    pub total_lines: Option<i64>,
    pub failure: Option<String>,
    /// A finished dry run whose file is still here: it can be applied.
    pub can_apply: bool,
    /// An interrupted job the portal can resume (a command-line import must be resumed there).
    pub can_resume: bool,
}

/// One invalid row, with the column as the file names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowProblem {
    pub line: i64,
    pub number: Option<String>,
    pub column: String,
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportDetail {
    pub run: ImportView,
    pub problems: Vec<RowProblem>,
    /// More invalid rows than listed: the report has them.
    pub more_problems: bool,
}

/// A job as the pages show it; `file_kept` says whether the file it reads is still kept.
#[cfg(feature = "ssr")]
fn import_view(job: crate::provisioning::Job, file_kept: bool) -> ImportView {
    let now = crate::provisioning::timestamp();
    let lease_ran_out = job
        .lease_until
        .as_deref()
        .is_some_and(|until| until <= now.as_str());
    let state = match job.state.as_str() {
        "running" if lease_ran_out => "interrupted".to_owned(),
        "running"
            if job.lease_until.is_none()
                && job.updated_at < crate::provisioning::timestamp_ago(STALLED_AFTER) =>
        {
            "stalled".to_owned()
        }
        _ => job.state.clone(),
    };
    let can_apply = job.action == "dryRun" && job.state == "finished" && file_kept;
    let can_resume = state == "interrupted" && (job.kind != "import" || file_kept);
    ImportView {
        id: job.id,
        kind: job.kind.clone(),
        action: job.action.clone(),
        source: job.source,
        dry_run: job.action == "dryRun",
        state,
        actor: job.actor,
        started_at: job.started_at,
        finished_at: job.finished_at,
        rows_read: job.rows_read,
        created: job.created,
        changed: job.changed,
        unchanged: job.unchanged,
        invalid: job.invalid,
        last_line: job.last_line,
        total_lines: job.total_lines,
        failure: job.failure,
        can_apply,
        can_resume,
    }
}

#[server(endpoint = "imports/list")]
pub async fn list_imports() -> Result<Vec<ImportView>, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let jobs = state.core.jobs(&actor, None, 50).await.map_err(refused)?;
    Ok(jobs.into_iter().map(|j| import_view(j, false)).collect())
}

#[server(endpoint = "imports/get")]
pub async fn get_job(id: i64) -> Result<ImportDetail, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let job = state.core.job(&actor, id).await.map_err(refused)?;
    let file_kept = match job.upload.as_deref() {
        Some(upload) => state
            .core
            .upload_kept(&actor, upload)
            .await
            .map_err(refused)?,
        None => false,
    };
    let errors = state.core.job_errors(&actor, id).await.map_err(refused)?;
    let more_problems = errors.len() > LISTED_ERRORS || job.invalid > errors.len() as i64;
    let problems = errors
        .into_iter()
        .take(LISTED_ERRORS)
        .map(|e| RowProblem {
            line: e.line,
            number: e.key,
            column: crate::bulk::column_of(&e.field),
            code: e.code,
            message: e.message,
        })
        .collect();
    Ok(ImportDetail {
        run: import_view(job, file_kept),
        problems,
        more_problems,
    })
}

impl ImportView {
    fn href(&self) -> String {
        let section = if self.kind == "import" {
            "imports"
        } else {
            "jobs"
        };
        format!("/{section}/{}", self.id)
    }

    fn title(&self) -> String {
        match self.kind.as_str() {
            "import" => format!("Import {}", self.id),
            "inventory" => format!("Inventory action {}", self.id),
            _ => format!("Bulk action {}", self.id),
        }
    }
}

fn what_it_did(run: &ImportView) -> String {
    if run.kind != "import" {
        let done = match (run.kind.as_str(), run.action.as_str()) {
            ("inventory", _) => "done",
            (_, "delete") => "deleted",
            _ => "changed",
        };
        format!(
            "{} {}: {} {done}, {} unchanged; {} refused (left as they were).",
            run.rows_read,
            if run.rows_read == 1 {
                "number"
            } else {
                "numbers"
            },
            run.changed,
            run.unchanged,
            run.invalid
        )
    } else if run.dry_run {
        format!(
            "{} rows: {} would be created, {} changed, {} unchanged; {} invalid.",
            run.rows_read, run.created, run.changed, run.unchanged, run.invalid
        )
    } else {
        format!(
            "{} rows: {} created, {} changed, {} unchanged; {} invalid rows skipped.",
            run.rows_read, run.created, run.changed, run.unchanged, run.invalid
        )
    }
}

/// `/imports`: the upload form and the runs so far.
#[component]
pub fn ImportsPage() -> impl IntoView {
    let query = use_query_map();
    let error = query.get_untracked().get("error");
    let runs = Resource::new(|| (), |_| list_imports());
    view! {
        <Title text="Imports"/>
        <h1>"Imports"</h1>
        <p class="lead">
            "Import numbers from a CSV file. It is checked first: nothing is written until you have seen what it would do and applied it."
        </p>
        {error.map(|message| view! { <ErrorNotice message/> })}
        <form class="card" method="post" action="/imports" enctype="multipart/form-data">
            <div class="field">
                <label for="import-file">"CSV file"</label>
                <input id="import-file" type="file" name="file" accept=".csv,text/csv" required aria-describedby="import-file-hint"/>
                <small id="import-file-hint" class="hint">
                    "ACG's columns under a heading row (telephoneNumber, accountName, serviceDetails_teamsDirectRouting_enabled, configuration_customSipHeader, …), or one number per line. An export from the numbers list is such a file."
                </small>
            </div>
            <div class="field">
                <label for="import-account">"Account (optional)"</label>
                <input id="import-account" name="account" aria-describedby="import-account-hint"/>
                <small id="import-account-hint" class="hint">"Fills empty accountName cells; needed for a file of one number per line."</small>
            </div>
            <fieldset>
                <legend>"For a file of one number per line"</legend>
                <div class="field">
                    <label for="import-service">"Service"</label>
                    <select id="import-service" name="service">
                        <option value="">"— (the file has columns)"</option>
                        {Service::ALL.into_iter().map(|s| view! { <option value=s.wire_name()>{s.label()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="import-usage">{format!("Usage ({})", Service::teams_labels())}</label>
                    <select id="import-usage" name="usage">
                        <option value="">"—"</option>
                        {crate::domain::number::Usage::ALL.into_iter().map(|u| view! { <option value=u.as_str()>{u.as_str()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="import-capabilities">"Capabilities"</label>
                    <input id="import-capabilities" name="capabilities" placeholder="InboundCalling, OutboundCalling"/>
                </div>
            </fieldset>
            <details>
                <summary>"How cells are written"</summary>
                <ul>
                    <li>"An empty cell means “not given”. Yes/no cells are " <code>"true"</code> " or " <code>"false"</code> "."</li>
                    <li>"A list (capabilities, additional usages) goes in one cell, its items separated by " <code>";"</code> ", e.g. " <code>"InboundCalling;OutboundCalling"</code> "."</li>
                    <li>"Each row is the whole number: what it does not give is not kept (as the API's PUT)."</li>
                    <li>"Rows are written in chunks of 1,000, each all or nothing; invalid rows are skipped and listed. Applying the same file again finishes an interrupted import: rows already in place count as unchanged."</li>
                </ul>
            </details>
            <button type="submit">"Check the file"</button>
        </form>
        <h2>"Imports and bulk actions so far"</h2>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match runs.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(runs) if runs.is_empty() => view! { <p class="empty">"No imports yet. Check a file above to start."</p> }.into_any(),
                    Ok(runs) => view! {
                        <table class="list">
                            <caption class="visually-hidden">"Imports"</caption>
                            <thead><tr><th scope="col">"Run"</th><th scope="col">"File"</th><th scope="col">"Kind"</th><th scope="col">"State"</th><th scope="col">"Result"</th><th scope="col">"Started"</th><th scope="col">"By"</th></tr></thead>
                            <tbody>{runs.into_iter().map(|run| view! { <tr>
                                <td><a href=run.href()>{run.title()}</a></td>
                                <td class="mono">{run.source.clone()}</td>
                                <td>{match (run.kind.as_str(), run.dry_run) { ("import", true) => "Check", ("import", false) => "Apply", ("inventory", _) => "Inventory action", _ => "Bulk action" }}</td>
                                <td><span class=format!("badge job-{}", run.state)>{run.state.clone()}</span></td>
                                <td>{what_it_did(&run)}</td>
                                <td>{run.started_at.clone()}</td>
                                <td>{run.actor.clone()}</td>
                            </tr> }).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/imports/:id`: one run.
#[component]
pub fn ImportPage() -> impl IntoView {
    let params = use_params_map();
    let error = use_query_map().get_untracked().get("error");
    let id = move || params.get().get("id").and_then(|id| id.parse::<i64>().ok());
    let detail = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_job(id).await,
            None => Err(ServerFnError::new("There is no such import.")),
        }
    });
    // With the browser bundle, a running job's page asks again every second and a half; without
    // it, the page has a link to reload it (a page that reloads itself is a trap for some readers).
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || {
                let running = detail
                    .get_untracked()
                    .is_some_and(|d| d.is_ok_and(|d| d.run.state == "running"));
                if running {
                    detail.refetch();
                }
            },
            std::time::Duration::from_millis(1500),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        {error.map(|message| view! { <ErrorNotice message/> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(error) => view! { <Title text="Import"/><LoadError message=error_text(&error)/> }.into_any(),
                    Ok(detail) => view! { <ImportRun detail/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ImportRun(detail: ImportDetail) -> impl IntoView {
    let me = use_context::<super::MeResource>();
    let run = detail.run;
    let running = run.state == "running";
    let title = run.title();
    let kind = match (run.kind.as_str(), run.dry_run) {
        ("import", true) => "Check of",
        ("import", false) => "Import of",
        _ => "",
    };
    let progress = run.total_lines.filter(|t| *t > 0).map(|total| {
        let done = run.last_line.min(total);
        view! {
            <p>
                <label for="import-progress">{format!("Line {done} of {total}")}</label>
                " "
                <progress id="import-progress" max=total value=done>{format!("{}%", done * 100 / total)}</progress>
            </p>
        }
    });
    let did = what_it_did(&run);
    let run_kind_is_import = run.kind == "import";
    let href = run.href();
    let failure = run.failure.clone().unwrap_or_default();
    let outcome = match run.state.as_str() {
        "running" => view! {
            <Notice>"Running. " {did.clone()} " " <a href=href.clone()>"Refresh to see how far it is"</a></Notice>
        }.into_any(),
        "failed" => view! {
            <div class="notice error" role="alert">
                <p>{format!("It stopped: {}", failure.clone())}</p>
                <p>{did.clone()} " Chunks already applied stay applied; fix the file and import it again."</p>
            </div>
        }.into_any(),
        "interrupted" => view! {
            <div class="notice error" role="alert">
                <p>"It was interrupted: the process running it stopped. " {did.clone()}</p>
                <p>{format!("Whole chunks are applied or not at all. Resuming goes on after line {} on any server, so nothing is applied twice.", run.last_line)}
                    {(!run.can_resume && run.kind == "import").then(|| format!(" Its file is not kept here: resume it with `numbat import --resume {} FILE`.", run.id))}</p>
            </div>
        }.into_any(),
        "stalled" => view! {
            <div class="notice error" role="alert">
                <p>"It has made no progress for two minutes: most likely the server stopped under it. " {did.clone()}</p>
                <p>"Whole chunks are applied or not at all. Import the same file again to finish: rows already in place count as unchanged."</p>
            </div>
        }.into_any(),
        _ if run.dry_run => view! {
            <Notice>{did.clone()} " No number was changed."</Notice>
        }.into_any(),
        _ => view! { <Notice>{did.clone()}</Notice> }.into_any(),
    };
    let apply = run.can_apply.then(|| {
        let valid = run.created + run.changed;
        let id = run.id;
        view! {
            <Suspense>
                {move || Suspend::new(async move {
                    let can_write = match me { Some(me) => matches!(me.await, Ok(Some(me)) if me.abilities.change), None => false };
                    can_write.then(|| view! {
                        <form method="post" action=format!("/imports/{id}/apply")>
                            <button type="submit" class="primary">{format!("Apply: write the {}", counted(valid, "new or changed row", "new and changed rows"))}</button>
                            <small class="hint">" Invalid rows are skipped."</small>
                        </form>
                    })
                })}
            </Suspense>
        }
    });
    let resume = run.can_resume.then(|| {
        let id = run.id;
        view! {
            <Suspense>
                {move || Suspend::new(async move {
                    let can_write = match me { Some(me) => matches!(me.await, Ok(Some(me)) if me.abilities.change), None => false };
                    can_write.then(|| view! {
                        <form method="post" action=format!("/jobs/{id}/resume")>
                            <button type="submit" class="primary">"Resume"</button>
                            <small class="hint">" Goes on after the last line done."</small>
                        </form>
                    })
                })}
            </Suspense>
        }
    });
    let report = format!("/imports/{}/report.csv", run.id);
    let back = if run.kind == "import" {
        ("/imports", "All imports")
    } else {
        ("/imports", "All jobs")
    };
    view! {
        <Title text=title.clone()/>
        <h1>{title}</h1>
        <p class="lead">{format!("{kind} {} by {}, started {}", run.source, run.actor, run.started_at).trim().to_owned()}
            {run.finished_at.clone().map(|at| format!(", finished {at}"))}"."</p>
        {progress}
        {outcome}
        {apply}
        {resume}
        <h2>{if run.kind == "import" { "Invalid rows" } else { "Numbers left as they were" }}</h2>
        {if detail.problems.is_empty() {
            let none = match (running, run_kind_is_import) {
                (true, _) => "None so far.",
                (false, true) => "None: every row is valid.",
                (false, false) => "None.",
            };
            view! { <p class="empty">{none}</p> }.into_any()
        } else {
            view! {
                <p><a href=report.clone() download>"Download the report (CSV) of the invalid rows"</a></p>
                <table class="list">
                    <caption class="visually-hidden">"Invalid rows"</caption>
                    <thead><tr><th scope="col">"Line"</th><th scope="col">"Number"</th><th scope="col">"Column"</th><th scope="col">"Rule"</th><th scope="col">"Why"</th></tr></thead>
                    <tbody>{detail.problems.into_iter().map(|p| view! { <tr>
                        <td>{p.line}</td><td class="mono">{p.number.unwrap_or_default()}</td><td class="mono">{p.column}</td><td class="mono">{p.code}</td><td>{p.message}</td>
                    </tr> }).collect_view()}</tbody>
                </table>
                {detail.more_problems.then(|| view! { <p>"More invalid rows than shown here: the report lists them (up to the first 10,000 problems)."</p> })}
            }.into_any()
        }}
        <p><a href=back.0>{back.1}</a> " · " <a href="/numbers">"Numbers"</a></p>
    }
}
