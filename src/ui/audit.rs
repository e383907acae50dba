//! The audit trail: who changed what, when, and through which door, newest first.

use super::access::error_text;
use super::widgets::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
const PAGE: i64 = 100;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub door: String,
    pub action: String,
    pub resource_type: String,
    pub resource_key: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditList {
    pub rows: Vec<AuditRow>,
    pub older: Option<i64>,
}

#[server(endpoint = "audit")]
pub async fn audit_events(
    kind: Option<String>,
    key: Option<String>,
    before: Option<i64>,
) -> Result<AuditList, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let (kind, key) = (non_empty(kind), non_empty(key));
    let mut events = state
        .core
        .recent_audit_events(&actor, kind.as_deref(), key.as_deref(), before, PAGE + 1)
        .await
        .map_err(refused)?;
    let more = keep_page(&mut events, PAGE);
    let rows: Vec<AuditRow> = events
        .into_iter()
        .map(|e| AuditRow {
            id: e.id.unwrap_or_default(),
            at: e.at,
            actor: e.actor,
            door: e.door,
            action: e.action,
            resource_type: e.resource_type,
            resource_key: e.resource_key,
        })
        .collect();
    Ok(AuditList {
        older: more.then(|| rows.last().map(|r| r.id)).flatten(),
        rows,
    })
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        let q = query.get();
        (
            q.get("kind"),
            q.get("key"),
            q.get("before").and_then(|b| b.parse::<i64>().ok()),
        )
    };
    let events = Resource::new(current, |(kind, key, before)| {
        audit_events(kind, key, before)
    });
    let (kind, key, _) = current();
    view! {
        <Title text="Audit"/>
        <h1>"Audit"</h1>
        <p class="lead">"Who changed what, when, and through which door (portal, API, command line, sync)."</p>
        <form class="filters" method="get" action="/audit" role="search">
            <div class="field">
                <label for="kind">"Kind"</label>
                <select id="kind" name="kind">
                    <option value="">"Any"</option>
                    {["account", "number", "requestForInformation", "settings", "portalUser", "apiToken"].into_iter().map(|k| view! {
                        <option value=k selected=kind.as_deref() == Some(k)>{k}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="key">"Name or number (exact)"</label>
                <input id="key" name="key" value=key.clone().unwrap_or_default()/>
            </div>
            <button type="submit">"Filter"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match events.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(list) if list.rows.is_empty() => view! { <p class="empty">"No changes recorded yet match."</p> }.into_any(),
                    Ok(list) => {
                        let older = list.older.map(|id| {
                            let q = query.get_untracked();
                            let mut href = format!("/audit?before={id}");
                            if let Some(k) = q.get("kind") { href.push_str(&format!("&kind={}", encode(&k))); }
                            if let Some(k) = q.get("key") { href.push_str(&format!("&key={}", encode(&k))); }
                            href
                        });
                        view! {
                            <table class="list">
                                <caption class="visually-hidden">"Audit events"</caption>
                                <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Door"</th><th scope="col">"What"</th><th scope="col">"Kind"</th><th scope="col">"Name or number"</th></tr></thead>
                                <tbody>{list.rows.into_iter().map(|r| view! { <tr>
                                    <td>{r.at}</td><td>{r.actor}</td><td>{r.door}</td><td>{r.action}</td><td>{r.resource_type}</td><td class="mono">{r.resource_key}</td>
                                </tr> }).collect_view()}</tbody>
                            </table>
                            {older.map(|href| view! { <nav class="pager" aria-label="Pages"><a href=href>"Older changes"</a></nav> })}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
