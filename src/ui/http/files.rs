//! The portal's file doors: uploading an import (checked first, run in the background),
//! applying a checked one, downloading a run's report, and CSV exports. Plain HTTP routes
//! beside the pages, since files do not fit server functions; every one asks the core.

use super::session::SignedIn;
use crate::bulk::export::NumberExport;
use crate::bulk::import::{run_import, ImportOptions, UploadReader};
use crate::provisioning::import::ImportMode;
use crate::provisioning::Actor;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use futures_util::StreamExt;

/// The largest file an upload may be (a million rows of ACG's columns is about 60 MB).
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

/// Every so often (a third of the job lease, and hourly for uploads): marks jobs whose worker
/// died as interrupted, so they can be resumed, and removes uploads nobody applied within a day.
pub async fn look_after_jobs(core: crate::provisioning::Provisioning) {
    let mut every = tokio::time::interval(core.job_lease() / 3);
    let mut last_clean: Option<std::time::Instant> = None;
    loop {
        every.tick().await;
        match core.mark_interrupted_jobs().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                jobs = n,
                "bulk jobs interrupted (their worker stopped): they can be resumed"
            ),
            Err(error) => tracing::warn!(%error, "could not look for interrupted bulk jobs"),
        }
        if last_clean.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(3600)) {
            last_clean = Some(std::time::Instant::now());
            if let Err(error) = core.forget_old_uploads().await {
                tracing::warn!(%error, "could not remove old uploads");
            }
        }
    }
}

fn is_upload_name(upload: &str) -> bool {
    upload.len() == 32 && upload.bytes().all(|b| b.is_ascii_hexdigit())
}

fn back_to_imports(message: &str) -> Response {
    let to = format!("/imports?error={}", crate::ui::encode(message));
    super::redirect::see_other(&to)
}

/// The core's refusal as a plain answer (for downloads, which have no page to show it on).
fn refusal(status: StatusCode, error: crate::provisioning::ProvisioningError) -> Response {
    (
        status,
        crate::ui::access::server::refused(error).to_string(),
    )
        .into_response()
}

/// The signed-in person as the core's actor if the core lets them read, or the answer to give
/// instead (sign in first, or the core's refusal), for downloads. The answer is only ever
/// returned straight away, so its size does not matter.
#[allow(clippy::result_large_err)]
fn reader(user: Option<Extension<SignedIn>>, page: &str) -> Result<Actor, Response> {
    let Some(Extension(user)) = user else {
        return Err(sign_in_first(page));
    };
    let actor = user.actor();
    actor
        .permit(crate::provisioning::Permission::Read)
        .map_err(|error| refusal(StatusCode::FORBIDDEN, error))?;
    Ok(actor)
}

fn sign_in_first(next: &str) -> Response {
    Redirect::to(&format!("/sign-in?next={}", crate::ui::encode(next))).into_response()
}

/// `POST /imports`: saves the uploaded file, starts its dry run, and shows the run's page.
pub async fn upload(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    mut form: Multipart,
) -> Response {
    let Some(Extension(user)) = user else {
        return sign_in_first("/imports");
    };
    let actor = user.actor();
    if let Err(error) = actor.permit(crate::provisioning::Permission::Write) {
        return back_to_imports(&crate::ui::access::server::refused(error).to_string());
    }
    let mut options = ImportOptions::default();
    let mut saved: Option<(String, String, i64)> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => {
                return back_to_imports(&format!("The upload did not arrive whole: {error}"))
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("upload.csv").to_owned();
            match save_upload(&state, &actor, field).await {
                Ok((upload, lines)) => saved = Some((upload, file_name, lines)),
                Err(message) => return back_to_imports(&message),
            }
            continue;
        }
        let text = match field.text().await {
            Ok(text) => text,
            Err(error) => {
                if let Some((upload, _, _)) = &saved {
                    let _ = state.core.forget_upload(&actor, upload).await;
                }
                return back_to_imports(&format!("The upload did not arrive whole: {error}"));
            }
        };
        options.set(&name, text);
    }
    let Some((upload, file_name, lines)) = saved else {
        return back_to_imports("CSV file: choose a file to import");
    };
    if lines == 0 {
        let _ = state.core.forget_upload(&actor, &upload).await;
        return back_to_imports("CSV file: the file is empty");
    }
    start(
        &state,
        actor,
        &upload,
        &file_name,
        lines,
        options,
        ImportMode::DryRun,
    )
    .await
}

/// Streams the file into the database in parts of at most `PART_BYTES`, counting its lines;
/// returns the upload's name and line count. A file that does not arrive whole is not kept.
async fn save_upload(
    state: &AppState,
    actor: &Actor,
    field: axum::extract::multipart::Field<'_>,
) -> Result<(String, i64), String> {
    let core = &state.core;
    let upload = core.new_upload(actor).await.map_err(cannot_keep)?;
    match save_parts(core, actor, &upload, field).await {
        Ok(lines) => Ok((upload, lines)),
        Err(message) => {
            let _ = core.forget_upload(actor, &upload).await;
            Err(message)
        }
    }
}

fn cannot_keep(error: crate::provisioning::ProvisioningError) -> String {
    format!("The server cannot keep the upload ({error}); nothing was imported")
}

/// Writes the file's parts, then marks the upload whole; the file's line count.
async fn save_parts(
    core: &crate::provisioning::Provisioning,
    actor: &Actor,
    upload: &str,
    mut field: axum::extract::multipart::Field<'_>,
) -> Result<i64, String> {
    use crate::provisioning::uploads::PART_BYTES;
    let (mut lines, mut last, mut seq) = (0i64, b'\n', 0i64);
    let mut part: Vec<u8> = Vec::with_capacity(PART_BYTES);
    loop {
        let bytes = match field.chunk().await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break,
            Err(error) => {
                return Err(format!(
                    "The upload did not arrive whole ({error}); nothing was imported"
                ))
            }
        };
        lines += bytes.iter().filter(|&&b| b == b'\n').count() as i64;
        last = *bytes.last().unwrap_or(&last);
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let take = rest.len().min(PART_BYTES - part.len());
            part.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if part.len() == PART_BYTES {
                core.add_upload_part(actor, upload, seq, &part)
                    .await
                    .map_err(cannot_keep)?;
                seq += 1;
                part.clear();
            }
        }
    }
    if !part.is_empty() {
        core.add_upload_part(actor, upload, seq, &part)
            .await
            .map_err(cannot_keep)?;
    }
    core.complete_upload(actor, upload)
        .await
        .map_err(cannot_keep)?;
    if last != b'\n' {
        lines += 1;
    }
    Ok(lines)
}

/// Starts a run of `upload` in the background and sends the person to its page.
async fn start(
    state: &AppState,
    actor: Actor,
    upload: &str,
    file_name: &str,
    lines: i64,
    options: ImportOptions,
    mode: ImportMode,
) -> Response {
    let settings = match options.file_settings() {
        Ok(settings) => settings,
        Err(problem) => {
            if mode == ImportMode::DryRun {
                let _ = state.core.forget_upload(&actor, upload).await;
            }
            return back_to_imports(&problem.to_string());
        }
    };
    if !state
        .core
        .upload_kept(&actor, upload)
        .await
        .unwrap_or(false)
    {
        return back_to_imports("That file is no longer on the server: upload it again");
    }
    let started = state
        .core
        .start_import(
            actor.clone(),
            crate::provisioning::import::ImportStart {
                source: file_name.to_owned(),
                mode,
                total_lines: Some(lines),
                upload: Some(upload.to_owned()),
                settings: Some(options.to_json()),
            },
        )
        .await;
    let import = match started {
        Ok(import) => import,
        Err(error) => {
            if mode == ImportMode::DryRun {
                let _ = state.core.forget_upload(&actor, upload).await;
            }
            return back_to_imports(&crate::ui::access::server::refused(error).to_string());
        }
    };
    let id = import.job_id();
    run_in_background(state, actor, import, upload, settings, mode);
    Redirect::to(&format!("/imports/{id}")).into_response()
}

/// Runs an import of the kept `upload` in the background; an apply that finishes forgets the
/// file.
fn run_in_background(
    state: &AppState,
    actor: Actor,
    import: crate::provisioning::import::Import,
    upload: &str,
    settings: crate::bulk::FileSettings,
    mode: ImportMode,
) {
    let (core, upload, id) = (state.core.clone(), upload.to_owned(), import.job_id());
    tokio::spawn(async move {
        let file = UploadReader::new(core.clone(), actor.clone(), &upload);
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        match run_import(import, reader, settings, |_, _| {}).await {
            Ok(_) if mode == ImportMode::Apply => {
                if let Err(error) = core.forget_upload(&actor, &upload).await {
                    tracing::warn!(%error, import = id, "could not remove an applied upload");
                }
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, import = id, "a portal import stopped"),
        }
    });
}

/// `POST /imports/:id/apply`: applies the file a finished dry run checked.
pub async fn apply(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    Path(id): Path<i64>,
) -> Response {
    let Some(Extension(user)) = user else {
        return sign_in_first(&format!("/imports/{id}"));
    };
    let actor = user.actor();
    let job = match state.core.job(&actor, id).await {
        Ok(job) => job,
        Err(error) => {
            return back_to_imports(&crate::ui::access::server::refused(error).to_string())
        }
    };
    let upload = match job.upload.clone().filter(|u| is_upload_name(u)) {
        Some(upload)
            if state
                .core
                .upload_kept(&actor, &upload)
                .await
                .unwrap_or(false) =>
        {
            Some(upload)
        }
        _ => None,
    };
    let (true, true, Some(upload)) = (job.action == "dryRun", job.state == "finished", upload)
    else {
        return back_to_imports(&format!(
            "Import {id} cannot be applied: only a finished check whose file is still here can be; upload the file again"
        ));
    };
    match state.core.take_checked_upload(&actor, id, &upload).await {
        Ok(true) => {}
        Ok(false) => {
            return back_to_imports(&format!(
                "Import {id} is already being applied or was applied"
            ))
        }
        Err(error) => {
            return back_to_imports(&crate::ui::access::server::refused(error).to_string())
        }
    }
    let Some(options) = job.settings.as_deref().and_then(ImportOptions::from_json) else {
        return back_to_imports(&format!(
            "Import {id}'s settings cannot be read back: upload the file again"
        ));
    };
    let lines = job.total_lines.unwrap_or_default();
    start(
        &state,
        actor,
        &upload,
        &job.source,
        lines,
        options,
        ImportMode::Apply,
    )
    .await
}

/// `POST /jobs/:id/resume`: resumes an interrupted job (an import or a bulk action) on this
/// node, after what its committed chunks did, and shows its page.
pub async fn resume(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    Path(id): Path<i64>,
) -> Response {
    use crate::provisioning::bulk::Resumed;
    let Some(Extension(user)) = user else {
        return sign_in_first(&format!("/jobs/{id}"));
    };
    let actor = user.actor();
    let back = |page: &str, message: &str| {
        let to = format!("{page}?error={}", crate::ui::encode(message));
        super::redirect::see_other(&to)
    };
    let refused = |error| crate::ui::access::error_text(&crate::ui::access::server::refused(error));
    let job = match state.core.job(&actor, id).await {
        Ok(job) => job,
        Err(error) => return back_to_imports(&refused(error)),
    };
    let page = if job.kind == "import" {
        format!("/imports/{id}")
    } else {
        format!("/jobs/{id}")
    };
    // An import needs its file and how to read it; both are checked before the job is taken
    // (a job that is not to be resumed at all is left to the core to refuse).
    let resumable = matches!(job.state.as_str(), "interrupted" | "running");
    let file = (job.kind == "import" && resumable).then(|| {
        let options = job.settings.as_deref().and_then(ImportOptions::from_json);
        (job.upload.clone(), options)
    });
    let settings = match &file {
        None => None,
        Some((None, _)) => {
            return back(&page, &format!(
                "Import {id} read a file on the command line: resume it there with `numbat import --resume {id} FILE`"
            ))
        }
        Some((Some(upload), options)) => {
            if !state.core.upload_kept(&actor, upload).await.unwrap_or(false) {
                return back(&page, &format!(
                    "Import {id}'s file is no longer kept: upload it again (rows already applied count as unchanged)"
                ));
            }
            match options.as_ref().map(ImportOptions::file_settings) {
                Some(Ok(settings)) => Some((upload.clone(), settings)),
                _ => {
                    return back(&page, &format!(
                        "Import {id}'s settings cannot be read back: upload the file again"
                    ))
                }
            }
        }
    };
    let resumed = match state.core.resume_job(actor.clone(), id).await {
        Ok(resumed) => resumed,
        Err(error) => return back(&page, &refused(error)),
    };
    match (resumed, settings) {
        (Resumed::Import { run, job }, Some((upload, settings))) => {
            let mode = if job.action == ImportMode::DryRun.as_str() {
                ImportMode::DryRun
            } else {
                ImportMode::Apply
            };
            let _ = state.core.keep_upload(&actor, &upload).await;
            run_in_background(&state, actor, run, &upload, settings, mode);
        }
        (
            Resumed::Bulk {
                run,
                action,
                selection,
                ..
            },
            _,
        ) => {
            let core = state.core.clone();
            tokio::spawn(async move {
                if let Err(error) = core.run_bulk(run, &action, selection).await {
                    tracing::error!(%error, job = id, "a resumed bulk action stopped");
                }
            });
        }
        (Resumed::Inventory { run, .. }, _) => {
            let core = state.core.clone();
            tokio::spawn(async move {
                if let Err(error) = core.run_inventory(run).await {
                    tracing::error!(%error, job = id, "a resumed inventory action stopped");
                }
            });
        }
        (Resumed::Import { run, .. }, None) => {
            // Not reached: an import's file was checked above, unless it finished meanwhile.
            let _ = run.fail("its file could not be read").await;
        }
    }
    super::redirect::see_other(&page)
}

/// `GET /imports/:id/report.csv`: every kept invalid row of a run.
pub async fn report(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    Path(id): Path<i64>,
) -> Response {
    let Some(Extension(user)) = user else {
        return sign_in_first(&format!("/imports/{id}"));
    };
    let actor = user.actor();
    let errors = match state.core.job_errors(&actor, id).await {
        Ok(errors) => errors,
        Err(error) => return refusal(StatusCode::FORBIDDEN, error),
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(["line", "column", "code", "reason"]);
    for e in &errors {
        let _ = writer.write_record(crate::bulk::cells::neutralise_row([
            e.line.to_string(),
            crate::bulk::column_of(&e.field),
            e.code.clone(),
            e.message.clone(),
        ]));
    }
    let body = writer.into_inner().unwrap_or_default();
    csv_response(&format!("import-{id}-report.csv"), Body::from(body))
}

fn csv_response(file_name: &str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /numbers/export.csv?…`: the numbers the list's filters select, streamed as CSV.
pub async fn export_numbers(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    Query(query): Query<crate::ui::NumberQuery>,
) -> Response {
    let actor = match reader(user, "/numbers") {
        Ok(actor) => actor,
        Err(answer) => return answer,
    };
    let filter = match crate::ui::number_filter(&query) {
        Ok(filter) => filter,
        Err(error) => {
            let message = crate::ui::access::error_text(&error);
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    let export = NumberExport::new(state.core.clone(), actor, filter);
    streamed_csv("numbers.csv", Export::Numbers(export))
}

/// An export being streamed: numbers or accounts, a page of CSV at a time.
enum Export {
    Numbers(NumberExport),
    Accounts(crate::bulk::accounts::AccountExport),
}

impl Export {
    async fn next_chunk(
        &mut self,
    ) -> Result<Option<Vec<u8>>, crate::provisioning::ProvisioningError> {
        match self {
            Export::Numbers(export) => export.next_chunk().await,
            Export::Accounts(export) => export.next_chunk().await,
        }
    }
}

/// A download of `export`'s pages as they are read; a failure part-way ends the download (the
/// browser reports it broken) and is logged.
fn streamed_csv(file_name: &str, export: Export) -> Response {
    let chunks = futures_util::stream::unfold(Some(export), |export| async move {
        let mut export = export?;
        match export.next_chunk().await {
            Ok(Some(bytes)) => Some((Ok(bytes), Some(export))),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(%error, "an export stopped");
                Some((Err(std::io::Error::other(error.to_string())), None))
            }
        }
    });
    // Fused: the compression layer may poll again after the end.
    csv_response(file_name, Body::from_stream(chunks.fuse()))
}

/// A bulk tag (`which` is `tag`) or untag of the tags `text` lists, separated by `;` or `,`.
fn tag_action(which: &str, text: &str) -> Result<crate::provisioning::bulk::BulkAction, String> {
    use crate::domain::Tags;
    match Tags::parse_text("tags", text) {
        Ok(tags) if tags.is_empty() => Err("Tags: enter the tags, separated by ; or ,".to_owned()),
        Ok(tags) => {
            let (add, remove) = match which {
                "tag" => (tags, Tags::default()),
                _ => (Tags::default(), tags),
            };
            let change = crate::provisioning::labels::TagChange { add, remove };
            Ok(crate::provisioning::bulk::BulkAction::Tag(change))
        }
        Err(violations) => Err(format!(
            "Tags: {}",
            violations
                .iter()
                .map(|v| v.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// `POST /numbers/bulk`: a bulk action on the ticked numbers or on every number the list's
/// filter matches; runs as a job in the background and shows the job's page.
pub async fn bulk(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    body: axum::body::Bytes,
) -> Response {
    use crate::provisioning::bulk::{BulkAction, Selection};
    let Some(Extension(user)) = user else {
        return sign_in_first("/numbers");
    };
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let filter_query = field("filter").unwrap_or_default();
    let back = |message: &str| {
        let mut to = format!("/numbers?bulk_error={}", crate::ui::encode(message));
        if !filter_query.is_empty() {
            // The search goes back re-encoded, pair by pair: what came in is not trusted as is.
            let search = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form_urlencoded::parse(filter_query.as_bytes()))
                .finish();
            // A search too long to carry back is dropped, so the message still arrives.
            if to.len() + search.len() < super::redirect::MAX_TARGET_LEN {
                to.push('&');
                to.push_str(&search);
            }
        }
        super::redirect::see_other_local(&to)
    };
    let service = || {
        field("service")
            .and_then(|s| crate::domain::Service::from_wire_name(&s))
            .ok_or("Service: choose the service to enable or disable")
    };
    let action: Result<BulkAction, String> = match field("action").as_deref() {
        Some(which @ ("tag" | "untag")) => tag_action(which, &field("tags").unwrap_or_default()),
        other => match other {
            Some("delete") => Ok(BulkAction::Delete),
            Some("enable") => service().map(BulkAction::EnableService),
            Some("disable") => service().map(BulkAction::DisableService),
            Some("setHeader") => match field("header") {
                None => Err("Custom header value: enter the value to set"),
                Some(text) => match crate::domain::CustomSipHeader::parse(&text) {
                    Ok(header) => Ok(BulkAction::SetHeader(header)),
                    Err(_) => Err("Custom header value: 1–100 characters: A–Z, a–z, 0–9, _ and -"),
                },
            },
            Some("clearHeader") => Ok(BulkAction::ClearHeader),
            Some("move") => {
                match field("target_account").map(|a| crate::domain::AccountName::parse(&a)) {
                    Some(Ok(account)) => Ok(BulkAction::MoveTo(account)),
                    _ => Err("Move to account: enter the account to move the numbers to"),
                }
            }
            _ => Err("Action: choose what to do"),
        }
        .map_err(String::from),
    };
    let action = match action {
        Ok(action) => action,
        Err(message) => return back(message.as_ref()),
    };
    let (selection, selection_text, total) = if field("scope").as_deref() == Some("matching") {
        let query: crate::ui::NumberQuery = match serde_urlencoded::from_str(&filter_query) {
            Ok(query) => query,
            Err(_) => {
                return back(
                    "Numbers: the search these numbers came from cannot be read; search again",
                )
            }
        };
        let filter = match crate::ui::number_filter(&query) {
            Ok(filter) => filter,
            Err(error) => return back(&crate::ui::access::error_text(&error)),
        };
        let total = state.core.count_numbers(&user.actor(), &filter).await.ok();
        let text = if filter_query.is_empty() {
            "every number".to_owned()
        } else {
            format!("every number matching {filter_query}")
        };
        (Selection::Matching(filter), text, total)
    } else {
        let mut numbers = Vec::new();
        for (_, text) in fields.iter().filter(|(k, _)| k == "selected") {
            match crate::domain::TelephoneNumber::parse(text) {
                Ok(number) if !numbers.contains(&number) => numbers.push(number),
                Ok(_) => {}
                Err(_) => return back(&format!("Selected numbers: {text} is not a number")),
            }
        }
        if numbers.is_empty() {
            return back(
                "Numbers: tick the numbers to change, or choose every number that matches",
            );
        }
        let text = match numbers.len() {
            1 => "1 selected number".to_owned(),
            n => format!("{n} selected numbers"),
        };
        let total = Some(numbers.len() as i64);
        (Selection::Numbers(numbers), text, total)
    };
    if action == BulkAction::Delete && field("confirm").as_deref() != Some("yes") {
        return back("Delete: tick the box that confirms the numbers will be deleted");
    }
    let run = match state
        .core
        .start_bulk(user.actor(), &action, &selection_text, total)
        .await
    {
        Ok(run) => run,
        Err(error) => return back(&crate::ui::access::server::refused(error).to_string()),
    };
    let id = run.job_id();
    let core = state.core.clone();
    tokio::spawn(async move {
        if let Err(error) = core.run_bulk(run, &action, selection).await {
            tracing::error!(%error, job = id, "a bulk action stopped");
        }
    });
    Redirect::to(&format!("/jobs/{id}")).into_response()
}

/// `GET /audit/export.csv?…`: the changes the audit page's filter selects, newest first, one
/// line per field changed, streamed.
pub async fn export_audit(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    Query(query): Query<crate::ui::AuditQuery>,
) -> Response {
    let actor = match reader(user, "/audit") {
        Ok(actor) => actor,
        Err(answer) => return answer,
    };
    let filter = match crate::ui::audit_filter(&query) {
        Ok(filter) => filter,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                crate::ui::access::error_text(&error),
            )
                .into_response()
        }
    };
    const PAGE: i64 = 1000;
    // (before this event id, heading written, done)
    let start = (None::<i64>, false, false);
    let core = state.core.clone();
    let chunks = futures_util::stream::unfold(start, move |(before, heading, done)| {
        let (core, actor, filter) = (core.clone(), actor.clone(), filter.clone());
        async move {
            if done {
                return None;
            }
            let events = match core
                .recent_audit_events(&actor, &filter, before, PAGE)
                .await
            {
                Ok(events) => events,
                Err(error) => {
                    tracing::error!(%error, "an audit export stopped");
                    let error = std::io::Error::other(error.to_string());
                    return Some((Err(error), (before, heading, true)));
                }
            };
            let mut writer = csv::Writer::from_writer(Vec::new());
            if !heading {
                let _ = writer.write_record([
                    "id", "at", "actor", "role", "door", "action", "kind", "key", "account",
                    "field", "before", "after",
                ]);
            }
            let last = events.last().and_then(|e| e.id);
            let finished = (events.len() as i64) < PAGE;
            for event in events {
                let changes = crate::provisioning::history::field_changes(
                    event.before.as_deref(),
                    event.after.as_deref(),
                );
                let head = [
                    event.id.unwrap_or_default().to_string(),
                    event.at.clone(),
                    event.actor.clone(),
                    event.role.clone(),
                    event.door.clone(),
                    event.action.clone(),
                    event.resource_type.clone(),
                    event.resource_key.clone(),
                    event.account.clone().unwrap_or_default(),
                ];
                let head = head.map(|cell| spreadsheet_safe(&cell));
                if changes.is_empty() {
                    let _ = writer.write_record(head.iter().cloned().chain([
                        "".into(),
                        "".into(),
                        "".into(),
                    ]));
                }
                for change in changes {
                    let _ = writer.write_record(head.iter().cloned().chain([
                        spreadsheet_safe(&change.field),
                        spreadsheet_safe(&change.before.unwrap_or_default()),
                        spreadsheet_safe(&change.after.unwrap_or_default()),
                    ]));
                }
            }
            let bytes = writer.into_inner().unwrap_or_default();
            Some((Ok::<_, std::io::Error>(bytes), (last, true, finished)))
        }
    });
    csv_response("audit.csv", Body::from_stream(chunks.fuse()))
}

/// `GET /accounts/export.csv?…`: the accounts the list's filters select, streamed as CSV.
pub async fn export_accounts(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    Query(query): Query<crate::ui::AccountQuery>,
) -> Response {
    let actor = match reader(user, "/accounts") {
        Ok(actor) => actor,
        Err(answer) => return answer,
    };
    let filter = match crate::ui::account_filter(&query) {
        Ok(filter) => filter,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                crate::ui::access::error_text(&error),
            )
                .into_response()
        }
    };
    let export = crate::bulk::accounts::AccountExport::new(state.core.clone(), actor, filter);
    streamed_csv("accounts.csv", Export::Accounts(export))
}

/// A cell as every export writes it (see `bulk::cells`).
fn spreadsheet_safe(cell: &str) -> String {
    crate::bulk::cells::neutralise(cell).into_owned()
}

/// `GET /billing/export.csv?month=YYYY-MM`: a month's billable users, one line per service and
/// account (its most users on any day and on the last day counted), then a line per service
/// for every account together.
pub async fn export_billing(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    Query(query): Query<crate::ui::BillingQuery>,
) -> Response {
    let actor = match reader(user, "/billing") {
        Ok(actor) => actor,
        Err(answer) => return answer,
    };
    let month = match crate::ui::billing_month(query.month.as_deref()) {
        Ok(month) => month,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let report = match state.core.billable_users(&actor, month).await {
        Ok(report) => report,
        Err(error) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::ui::access::server::refused(error).to_string(),
            )
                .into_response()
        }
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "month",
        "service",
        "account",
        "peak",
        "latest",
        "days_counted",
    ]);
    let days = report.days_counted.to_string();
    for service in &report.services {
        for account in &service.accounts {
            let _ = writer.write_record([
                report.month.clone(),
                service.service.wire_name().to_owned(),
                spreadsheet_safe(&account.account_name),
                account.peak.to_string(),
                account.latest.to_string(),
                days.clone(),
            ]);
        }
        let _ = writer.write_record([
            report.month.clone(),
            service.service.wire_name().to_owned(),
            "(all accounts)".to_owned(),
            service.peak.to_string(),
            service.latest.to_string(),
            days.clone(),
        ]);
    }
    let bytes = writer.into_inner().unwrap_or_default();
    csv_response(
        &format!("billable-users-{}.csv", report.month),
        Body::from(bytes),
    )
}
