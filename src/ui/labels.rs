//! Tags and notes on a number's or an account's page: shown, and changed in one small form
//! (tags separated by `;` or `,`, a note), through the same core command as the API's
//! `PUT …/labels/…`. The form carries the labels' version, so a change someone else made
//! meanwhile is not overwritten; the page reads the same with JavaScript on and off.

use super::access::error_text;
use super::widgets::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One resource's labels as the panel shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelsView {
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub version: i64,
    pub updated_at: Option<String>,
}

/// `number` or `account`, and the key, as the core's target.
#[cfg(feature = "ssr")]
fn target(kind: &str, key: &str) -> Result<crate::provisioning::labels::Labelled, ServerFnError> {
    use crate::provisioning::labels::Labelled;
    match kind {
        "number" => crate::domain::TelephoneNumber::parse(key)
            .map(Labelled::Number)
            .map_err(|v| ServerFnError::new(format!("Number: {}", v.message))),
        "account" => crate::domain::AccountName::parse(key)
            .map(Labelled::Account)
            .map_err(|v| ServerFnError::new(format!("Account: {}", v.message))),
        _ => Err(ServerFnError::new(
            "Labels: only numbers and accounts have them",
        )),
    }
}

#[server(endpoint = "labels/load")]
pub async fn load_labels(kind: String, key: String) -> Result<LabelsView, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let record = state
        .core
        .labels(&actor, &target(&kind, &key)?)
        .await
        .map_err(refused)?;
    Ok(LabelsView {
        tags: record.labels.tags.iter().map(|t| t.to_string()).collect(),
        note: record.labels.note.map(String::from),
        version: record.version,
        updated_at: record.updated_at,
    })
}

/// Replaces the tags and note, if they are still at the version the form showed; then the
/// page again, saying so.
#[server(endpoint = "labels/save")]
pub async fn save_labels(
    kind: String,
    key: String,
    tags: String,
    note: String,
    version: i64,
) -> Result<(), ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::{Labels, Note, Tags};
    use crate::provisioning::{Precondition, ProvisioningError};
    let (state, actor) = (state()?, actor()?);
    let target = target(&kind, &key)?;
    let tags = Tags::parse_text("tags", &tags).map_err(|violations| {
        let lines: Vec<String> = violations
            .iter()
            .map(|v| format!("Tags: {}", v.message))
            .collect();
        ServerFnError::new(lines.join("\n"))
    })?;
    // A browser sends a textarea's line breaks as CR LF: counted as one, as the page shows them.
    let note = Note::parse(&note.replace("\r\n", "\n"))
        .map_err(|v| ServerFnError::new(format!("Note: {}", v.message)))?;
    let labels = Labels { tags, note };
    match state
        .core
        .set_labels(&actor, &target, labels, Precondition::if_match(version))
        .await
    {
        Ok(_) => {
            let page = match kind.as_str() {
                "number" => format!("/numbers/{}", encode(&key)),
                _ => format!("/accounts/{}", encode(&key)),
            };
            leptos_axum::redirect(&format!("{page}?labelled=1"));
            Ok(())
        }
        Err(ProvisioningError::PreconditionFailed { .. }) => Err(ServerFnError::new(
            "Someone else changed these tags or this note while you edited them. Open the page again, then redo your change.",
        )),
        Err(error) => Err(refused(error)),
    }
}

/// The tags and note of a number or an account, with a form to change them when `can_change`.
#[component]
pub fn LabelsPanel(
    /// `number` or `account`.
    kind: &'static str,
    key: String,
    can_change: bool,
    /// Whether the page was reached from a save of this form.
    saved: bool,
) -> impl IntoView {
    let save = ServerAction::<SaveLabels>::new();
    let load_key = key.clone();
    let labels = Resource::new(
        move || save.version().get(),
        move |_| load_labels(kind.to_owned(), load_key.clone()),
    );
    let tag_href = move |tag: &str| match kind {
        "number" => format!("/numbers?tag={}", encode(tag)),
        _ => format!("/accounts?tag={}", encode(tag)),
    };
    view! {
        <section class="card labels" aria-labelledby="labels-heading">
            <h2 id="labels-heading">"Tags and note"</h2>
            // Without JavaScript the save comes back as the page's address; with it, as the
            // action's value.
            {move || (saved || matches!(save.value().get(), Some(Ok(())))).then(|| view! { <Notice>"Tags and note saved."</Notice> })}
            {action_error(save)}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let key = key.clone();
                    Suspend::new(async move {
                        match labels.await {
                            Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                            Ok(view) => {
                                let shown = if view.tags.is_empty() {
                                    view! { <p class="empty">"No tags."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="tags" aria-label=format!("Tags of this {kind}")>
                                            {view.tags.iter().map(|t| {
                                                let href = tag_href(t);
                                                view! { <li><a class="tag" href=href>{t.clone()}</a></li> }
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                };
                                let note = view.note.clone().map(|n| view! { <p class="note">{n}</p> });
                                let form = can_change.then(|| {
                                    let tags_text = view.tags.join("; ");
                                    let note_text = view.note.clone().unwrap_or_default();
                                    view! {
                                        <ActionForm action=save attr:class="form">
                                            <input type="hidden" name="kind" value=kind/>
                                            <input type="hidden" name="key" value=key.clone()/>
                                            <input type="hidden" name="version" value=view.version.to_string()/>
                                            <div class="field">
                                                <label for="labels-tags">"Tags"</label>
                                                <input id="labels-tags" name="tags" value=tags_text aria-describedby="labels-tags-rule"/>
                                                <small id="labels-tags-rule" class="hint">"Separated by ; or , — up to 50 tags of up to 50 characters each."</small>
                                            </div>
                                            <div class="field">
                                                <label for="labels-note">"Note"</label>
                                                <textarea id="labels-note" name="note" rows="3" maxlength="1000">{note_text}</textarea>
                                            </div>
                                            <button type="submit">"Save tags and note"</button>
                                        </ActionForm>
                                    }
                                });
                                view! { {shown}{note}{form} }.into_any()
                            }
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}
