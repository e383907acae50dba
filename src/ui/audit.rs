//! The audit trail: who changed what, when, through which door, and field by field what
//! changed; filtered by kind, name or number, account, person and time; exported as CSV. The
//! `History` piece shows one account's or number's own trail on its page.

use super::access::error_text;
use super::widgets::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
const PAGE: i64 = 100;

/// What the audit list shows; every field comes from the page's query string.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct AuditQuery {
    pub kind: Option<String>,
    pub key: Option<String>,
    pub account: Option<String>,
    /// Who made the change (a user's name, a token's name, `cli:…`).
    pub actor: Option<String>,
    /// A date (`2026-11-25`) or time; changes from then on.
    pub since: Option<String>,
    /// A date or time; changes before it (a date alone includes that whole day).
    pub until: Option<String>,
    pub before: Option<i64>,
}

impl AuditQuery {
    /// The filter as a query string (without the page position), for links and exports.
    pub fn to_query_string(&self) -> String {
        query_string(&[
            ("kind", &self.kind),
            ("key", &self.key),
            ("account", &self.account),
            ("actor", &self.actor),
            ("since", &self.since),
            ("until", &self.until),
        ])
    }
}

/// One field a change touched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub door: String,
    pub action: String,
    pub resource_type: String,
    pub resource_key: String,
    pub account: Option<String>,
    pub changes: Vec<FieldDiff>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditList {
    pub rows: Vec<AuditRow>,
    pub older: Option<i64>,
}

/// The store's filter for `query`, or what is wrong with it.
#[cfg(feature = "ssr")]
pub(crate) fn audit_filter(
    query: &AuditQuery,
) -> Result<crate::provisioning::AuditFilter, ServerFnError> {
    // Stored times are UTC RFC 3339 text with milliseconds, so a bound is turned into exactly
    // that form (a date alone is its midnight; "until" a date includes that whole day).
    let time = |field: &str, text: Option<String>, until: bool| {
        let Some(text) = non_empty(text) else {
            return Ok(None);
        };
        let date_format = time::macros::format_description!("[year]-[month]-[day]");
        if let Ok(date) = time::Date::parse(&text, &date_format) {
            let day = if until { date.next_day() } else { Some(date) };
            return Ok(day.map(|d| crate::provisioning::timestamp_of(d.midnight().assume_utc())));
        }
        match time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339) {
            Ok(at) => Ok(Some(crate::provisioning::timestamp_of(at))),
            Err(_) => Err(ServerFnError::new(format!(
                "{field}: a date such as 2026-11-25, or a time such as 2026-11-25T14:00:00Z"
            ))),
        }
    };
    Ok(crate::provisioning::AuditFilter {
        resource_type: non_empty(query.kind.clone()),
        key: non_empty(query.key.clone()),
        account: non_empty(query.account.clone()),
        actor: non_empty(query.actor.clone()),
        since: time("From", query.since.clone(), false)?,
        until: time("Until", query.until.clone(), true)?,
    })
}

#[cfg(feature = "ssr")]
pub(crate) fn audit_row(event: crate::provisioning::AuditEvent) -> AuditRow {
    let changes = crate::provisioning::history::field_changes(
        event.before.as_deref(),
        event.after.as_deref(),
    )
    .into_iter()
    .map(|c| FieldDiff {
        field: c.field,
        before: c.before,
        after: c.after,
    })
    .collect();
    AuditRow {
        id: event.id.unwrap_or_default(),
        at: event.at,
        actor: event.actor,
        door: event.door,
        action: event.action,
        resource_type: event.resource_type,
        resource_key: event.resource_key,
        account: event.account,
        changes,
    }
}

#[server(endpoint = "audit")]
pub async fn audit_events(
    #[server(default)] query: AuditQuery,
) -> Result<AuditList, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let filter = audit_filter(&query)?;
    let mut events = state
        .core
        .recent_audit_events(&actor, &filter, query.before, PAGE + 1)
        .await
        .map_err(refused)?;
    let more = keep_page(&mut events, PAGE);
    let rows: Vec<AuditRow> = events.into_iter().map(audit_row).collect();
    Ok(AuditList {
        older: more.then(|| rows.last().map(|r| r.id)).flatten(),
        rows,
    })
}

/// The fields a change touched: `field: before → after`.
#[component]
fn Changes(changes: Vec<FieldDiff>) -> impl IntoView {
    let count = changes.len();
    let list = view! {
        <ul class="diff">
            {changes.into_iter().map(|c| view! {
                <li>
                    <span class="mono">{c.field}</span>": "
                    {c.before.map(|b| view! { <del>{b}</del> })}
                    " → "
                    {c.after.map(|a| view! { <ins>{a}</ins> }.into_any()).unwrap_or_else(|| view! { <em>"removed"</em> }.into_any())}
                </li>
            }).collect_view()}
        </ul>
    };
    if count > 4 {
        view! { <details><summary>{format!("{count} fields")}</summary>{list}</details> }.into_any()
    } else {
        list.into_any()
    }
}

/// A table of audit events, newest first.
#[component]
fn AuditTable(rows: Vec<AuditRow>, caption: &'static str) -> impl IntoView {
    view! {
        <table class="list">
            <caption class="visually-hidden">{caption}</caption>
            <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Door"</th><th scope="col">"What"</th><th scope="col">"Name or number"</th><th scope="col">"Changes"</th></tr></thead>
            <tbody>{rows.into_iter().map(|r| {
                let href = match r.resource_type.as_str() {
                    "number" => Some(format!("/numbers/{}", encode(&r.resource_key))),
                    "account" => Some(format!("/accounts/{}", encode(&r.resource_key))),
                    "job" => Some(format!("/jobs/{}", encode(&r.resource_key))),
                    _ => None,
                };
                let key = r.resource_key.clone();
                view! { <tr>
                    <td>{r.at}</td><td>{r.actor}</td><td>{r.door}</td>
                    <td>{format!("{} {}", r.action, r.resource_type)}</td>
                    <td class="mono">{match href {
                        Some(href) => view! { <a href=href>{key}</a> }.into_any(),
                        None => view! { <span>{key}</span> }.into_any(),
                    }}</td>
                    <td><Changes changes=r.changes/></td>
                </tr> }
            }).collect_view()}</tbody>
        </table>
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        let q = query.get();
        AuditQuery {
            kind: q.get("kind"),
            key: q.get("key"),
            account: q.get("account"),
            actor: q.get("actor"),
            since: q.get("since"),
            until: q.get("until"),
            before: q.get("before").and_then(|b| b.parse::<i64>().ok()),
        }
    };
    let events = Resource::new(current, audit_events);
    let initial = current();
    let filter_text = initial.to_query_string();
    let export_href = with_query("/audit/export.csv", &filter_text);
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    view! {
        <Title text="Audit"/>
        <h1>"Audit"</h1>
        <p class="lead">"Who changed what, when, and through which door (portal, API, command line, sync), field by field."</p>
        <form class="filters" method="get" action="/audit" role="search">
            <div class="field">
                <label for="kind">"Kind"</label>
                <select id="kind" name="kind">
                    <option value="">"Any"</option>
                    {["account", "number", "job", "requestForInformation", "settings", "portalUser", "apiToken"].into_iter().map(|k| view! {
                        <option value=k selected=initial.kind.as_deref() == Some(k)>{k}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="key">"Name or number (exact)"</label>
                <input id="key" name="key" value=text(&initial.key)/>
            </div>
            <div class="field">
                <label for="account">"Account (and its numbers)"</label>
                <input id="account" name="account" value=text(&initial.account)/>
            </div>
            <div class="field">
                <label for="actor">"Who"</label>
                <input id="actor" name="actor" value=text(&initial.actor)/>
            </div>
            <div class="field">
                <label for="since">"From (date or time, UTC)"</label>
                <input id="since" name="since" placeholder="2026-11-25" value=text(&initial.since)/>
            </div>
            <div class="field">
                <label for="until">"Until (date or time, UTC)"</label>
                <input id="until" name="until" placeholder="2026-11-25" value=text(&initial.until)/>
            </div>
            <button type="submit">"Filter"</button>
        </form>
        <p><a class="button secondary" href=export_href download="audit.csv">"Export these changes (CSV)"</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match events.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(list) if list.rows.is_empty() => view! { <p class="empty">"No recorded change matches. Widen the filter."</p> }.into_any(),
                    Ok(list) => {
                        let older = list.older.map(|id| {
                            let filter = current().to_query_string();
                            if filter.is_empty() { format!("/audit?before={id}") } else { format!("/audit?before={id}&{filter}") }
                        });
                        view! {
                            <AuditTable rows=list.rows caption="Audit events"/>
                            {older.map(|href| view! { <nav class="pager" aria-label="Pages"><a href=href>"Older changes"</a></nav> })}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// One account's or number's own history, newest first, with a link to the whole trail.
#[component]
pub fn History(
    /// `number` with `key`, or `None` with `account` for an account and its numbers.
    kind: Option<&'static str>,
    key: Option<String>,
    account: Option<String>,
) -> impl IntoView {
    let query = AuditQuery {
        kind: kind.map(str::to_owned),
        key,
        account,
        ..AuditQuery::default()
    };
    let all_href = format!("/audit?{}", query.to_query_string());
    let events = Resource::new(move || query.clone(), audit_events);
    view! {
        <section aria-labelledby="history-heading">
            <h2 id="history-heading">"History"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let all_href = all_href.clone();
                    Suspend::new(async move {
                        match events.await {
                            Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                            Ok(list) if list.rows.is_empty() => view! { <p class="empty">"No recorded change yet."</p> }.into_any(),
                            Ok(mut list) => {
                                let more = list.rows.len() > 10 || list.older.is_some();
                                list.rows.truncate(10);
                                view! {
                                    <AuditTable rows=list.rows caption="History"/>
                                    {more.then(|| view! { <p><a href=all_href>"The whole history"</a></p> })}
                                }.into_any()
                            }
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn bounds_become_stored_utc_text_and_until_a_date_includes_that_day() {
        let query = AuditQuery {
            since: Some("2026-11-25T14:00:00+02:00".into()),
            until: Some("2026-11-25".into()),
            ..AuditQuery::default()
        };
        let filter = audit_filter(&query).unwrap();
        assert_eq!(filter.since.as_deref(), Some("2026-11-25T12:00:00.000Z"));
        assert_eq!(filter.until.as_deref(), Some("2026-11-26T00:00:00.000Z"));
        let bad = AuditQuery {
            since: Some("yesterday".into()),
            ..AuditQuery::default()
        };
        let error = audit_filter(&bad).unwrap_err().to_string();
        assert!(error.contains("From: a date such as"), "{error}");
    }
}
