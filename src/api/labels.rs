//! Tags and notes (a Numbat addition, beside ACG's operations): read and replace one number's
//! or account's, tag and untag many numbers at once, and list what carries a tag.
//!
//! Translates JSON to the core's label commands; holds no rule. Depends on the core.

use super::error::ApiError;
use super::extract::{self, ApiQuery, Body, Caller, ListQuery};
use super::paging;
use crate::domain::AccountName;
use crate::domain::{Code, Labels, Note, Tag, Tags, Violation, Violations};
use crate::provisioning::inventory::ActionReport;
use crate::provisioning::labels::{Labelled, LabelledKind, StoredLabels, TagRequest};
use crate::provisioning::ProvisioningError;
use crate::state::AppState;
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// One number's or account's labels as the API writes them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelsOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    pub tags: Vec<String>,
    pub note: Option<String>,
    /// The labels' own version (0 until first written); the ETag of this resource.
    pub version: i64,
    pub updated_at: Option<String>,
}

impl LabelsOut {
    fn of(kind: LabelledKind, record: StoredLabels) -> Self {
        let (telephone_number, account_name) = match kind {
            LabelledKind::Number => (Some(record.key), None),
            LabelledKind::Account => (None, Some(record.key)),
        };
        Self {
            telephone_number,
            account_name,
            tags: record.labels.tags.iter().map(|t| t.to_string()).collect(),
            note: record.labels.note.map(String::from),
            version: record.version,
            updated_at: record.updated_at,
        }
    }
}

/// `PUT …/labels/…`: every tag and the note (`null` or blank: none).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsIn {
    pub tags: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

impl LabelsIn {
    fn parse(self) -> Result<Labels, ProvisioningError> {
        let mut violations = Violations::new();
        let tags = match Tags::parse_list("tags", &self.tags) {
            Ok(tags) => tags,
            Err(bad) => {
                violations.extend(bad);
                Tags::default()
            }
        };
        let note = self
            .note
            .as_deref()
            .and_then(|raw| violations.parse("note", raw, Note::parse))
            .flatten();
        if violations.is_empty() {
            Ok(Labels { tags, note })
        } else {
            Err(ProvisioningError::Invalid(violations))
        }
    }
}

/// `GET …/labels/numbers` and `…/labels/accounts`: the tag to list, beside the paging.
#[derive(Debug, Default, Deserialize)]
pub struct TagQuery {
    pub tag: Option<String>,
}

fn tag_of(query: TagQuery) -> Result<Tag, ApiError> {
    let Some(raw) = query.tag else {
        return Err(ProvisioningError::Invalid(
            Violation::new("tag", Code::Required, "name the tag to list").into(),
        )
        .into());
    };
    Tag::parse(&raw).map_err(|v| ProvisioningError::Invalid(v.at("tag").into()).into())
}

async fn list(
    state: AppState,
    actor: crate::provisioning::Actor,
    kind: LabelledKind,
    query: ListQuery,
    tag: TagQuery,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let tag = tag_of(tag)?;
    let after = query.after.clone();
    let core = &state.core;
    let (records, more) = paging::page_of(
        &query,
        after,
        |r: &StoredLabels| r.key.clone(),
        |after: Option<String>, limit| {
            let (core, actor, tag) = (core, &actor, &tag);
            async move {
                Ok(core
                    .tagged(actor, kind, tag, after.as_deref(), limit)
                    .await?)
            }
        },
    )
    .await?;
    let last = records.last().map(|r| r.key.clone());
    let value: Vec<LabelsOut> = records
        .into_iter()
        .map(|r| LabelsOut::of(kind, r))
        .collect();
    Ok(paging::answer(
        value,
        last.as_deref(),
        more,
        &query,
        uri,
        headers,
        None,
    ))
}

/// `GET /labels/numbers?tag=…`: the numbers (in any state) carrying a tag, with their labels.
pub async fn list_numbers(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
    ApiQuery(tag): ApiQuery<TagQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    list(
        state,
        actor,
        LabelledKind::Number,
        query,
        tag,
        &uri,
        &headers,
    )
    .await
}

/// `GET /labels/accounts?tag=…`: the accounts carrying a tag, with their labels.
pub async fn list_accounts(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
    ApiQuery(tag): ApiQuery<TagQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    list(
        state,
        actor,
        LabelledKind::Account,
        query,
        tag,
        &uri,
        &headers,
    )
    .await
}

fn answer(kind: LabelledKind, record: StoredLabels) -> Response {
    let etag = extract::etag(record.version);
    ([("etag", etag)], Json(LabelsOut::of(kind, record))).into_response()
}

fn number(raw: &str) -> Result<Labelled, ApiError> {
    Ok(Labelled::Number(extract::telephone_number(raw)?))
}

fn account(raw: &str) -> Result<Labelled, ApiError> {
    let name: AccountName = extract::account_name(raw)?;
    Ok(Labelled::Account(name))
}

pub async fn get_number(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.core.labels(&actor, &number(&raw)?).await?;
    Ok(answer(LabelledKind::Number, record))
}

pub async fn put_number(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(body): Body<LabelsIn>,
) -> Result<Response, ApiError> {
    let target = number(&raw)?;
    let condition = extract::precondition(&headers)?;
    let labels = body.parse()?;
    let record = state
        .core
        .set_labels(&actor, &target, labels, condition)
        .await?;
    Ok(answer(LabelledKind::Number, record))
}

pub async fn get_account(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.core.labels(&actor, &account(&raw)?).await?;
    Ok(answer(LabelledKind::Account, record))
}

pub async fn put_account(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(body): Body<LabelsIn>,
) -> Result<Response, ApiError> {
    let target = account(&raw)?;
    let condition = extract::precondition(&headers)?;
    let labels = body.parse()?;
    let record = state
        .core
        .set_labels(&actor, &target, labels, condition)
        .await?;
    Ok(answer(LabelledKind::Account, record))
}

/// `POST /labels/numbers`: tags added and taken away, with a result per number.
pub async fn change_tags(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Body(body): Body<TagRequest>,
) -> Result<Json<ActionReport>, ApiError> {
    let (change, numbers) = body.parse()?;
    Ok(Json(
        state.core.change_tags(&actor, &change, &numbers).await?,
    ))
}
