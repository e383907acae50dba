//! The portal's file doors: uploading an import (checked first, run in the background),
//! applying a checked one, downloading a run's report, and CSV exports. Plain HTTP routes
//! beside the pages, since files do not fit server functions; every one asks the core.

use super::portal_session::SignedIn;
use super::AppState;
use crate::bulk::export::NumberExport;
use crate::bulk::import::{run_import, ImportOptions};
use crate::provisioning::import::ImportMode;
use crate::provisioning::Actor;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use futures_util::StreamExt;

/// The largest file an upload may be (a million rows of ACG's columns is about 60 MB).
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

/// Where uploaded files wait to be applied.
pub fn upload_path(state: &AppState, upload: &str) -> std::path::PathBuf {
    state.uploads.join(format!("{upload}.csv"))
}

/// Whether an upload's file is still here (a dry run's file is kept until it is applied).
pub fn upload_exists(state: &AppState, upload: &str) -> bool {
    is_upload_name(upload) && upload_path(state, upload).is_file()
}

/// Creates the upload folder if needed and makes it private to this user (uploads hold
/// customers' numbers).
pub fn prepare_upload_folder(folder: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// How long a checked file waits to be applied before it is removed.
const UPLOADS_KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes uploads older than a day, hourly: checks nobody applied.
pub async fn forget_old_uploads(folder: std::path::PathBuf) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| at.elapsed().ok())
                .is_some_and(|age| age > UPLOADS_KEPT_FOR);
            let ours = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".csv"))
                .is_some_and(is_upload_name);
            if old && ours {
                let _ = std::fs::remove_file(entry.path());
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
            match save_upload(&state, field).await {
                Ok((upload, lines)) => saved = Some((upload, file_name, lines)),
                Err(message) => return back_to_imports(&message),
            }
            continue;
        }
        let text = match field.text().await {
            Ok(text) => text,
            Err(error) => {
                if let Some((upload, _, _)) = &saved {
                    let _ = std::fs::remove_file(upload_path(&state, upload));
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
        let _ = std::fs::remove_file(upload_path(&state, &upload));
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

/// Streams the file to disk, counting its lines; returns the upload's name and line count.
async fn save_upload(
    state: &AppState,
    mut field: axum::extract::multipart::Field<'_>,
) -> Result<(String, i64), String> {
    use tokio::io::AsyncWriteExt;
    let cannot_keep = |e: std::io::Error| {
        format!("The server cannot keep the upload ({e}); nothing was imported")
    };
    prepare_upload_folder(&state.uploads).map_err(cannot_keep)?;
    let upload: String = rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = upload_path(state, &upload);
    let mut file =
        tokio::io::BufWriter::new(tokio::fs::File::create(&path).await.map_err(cannot_keep)?);
    let (mut lines, mut last) = (0i64, b'\n');
    loop {
        match field.chunk().await {
            Ok(Some(bytes)) => {
                lines += bytes.iter().filter(|&&b| b == b'\n').count() as i64;
                last = *bytes.last().unwrap_or(&last);
                if let Err(e) = file.write_all(&bytes).await {
                    let _ = tokio::fs::remove_file(&path).await;
                    return Err(cannot_keep(e));
                }
            }
            Ok(None) => break,
            Err(error) => {
                drop(file);
                let _ = tokio::fs::remove_file(&path).await;
                return Err(format!(
                    "The upload did not arrive whole ({error}); nothing was imported"
                ));
            }
        }
    }
    file.flush().await.map_err(cannot_keep)?;
    if last != b'\n' {
        lines += 1;
    }
    Ok((upload, lines))
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
                let _ = std::fs::remove_file(upload_path(state, upload));
            }
            return back_to_imports(&problem.to_string());
        }
    };
    let file = match std::fs::File::open(upload_path(state, upload)) {
        Ok(file) => file,
        Err(_) => return back_to_imports("That file is no longer on the server: upload it again"),
    };
    let started = state
        .core
        .start_import(
            actor,
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
                let _ = std::fs::remove_file(upload_path(state, upload));
            }
            return back_to_imports(&crate::ui::access::server::refused(error).to_string());
        }
    };
    let id = import.job_id();
    let path = upload_path(state, upload);
    tokio::spawn(async move {
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        match run_import(import, reader, settings, |_, _| {}).await {
            Ok(_) if mode == ImportMode::Apply => {
                let _ = std::fs::remove_file(&path);
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, import = id, "a portal import stopped"),
        }
    });
    Redirect::to(&format!("/imports/{id}")).into_response()
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
    let upload = job.upload.clone().filter(|u| upload_exists(&state, u));
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
    let action = match field("action").as_deref() {
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
    };
    let action = match action {
        Ok(action) => action,
        Err(message) => return back(message),
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
