//! The review page's section on service verification numbers: per service, how many test
//! numbers are set against what ACG asks (six in production, three in a lab), how many have the
//! service on and are synced, each number, and a form to mark or unmark numbers. Reads and acts
//! through the core, as `GET`/`POST /provisioning/verificationNumbers` do; the outcome comes
//! back in the page's address, so it reads the same with JavaScript on and off.

use super::access::error_text;
use super::widgets::*;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// The most refusals the outcome names.
const REFUSALS_SHOWN: usize = 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarkedRow {
    pub number: String,
    pub account: Option<String>,
    /// "ready", or why it does not count.
    pub standing: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceRow {
    pub service: String,
    pub label: String,
    pub ready: usize,
    pub synced: usize,
    pub production: usize,
    pub lab: usize,
    pub numbers: Vec<MarkedRow>,
}

#[server(endpoint = "verification/list")]
pub async fn load_verification() -> Result<Vec<ServiceRow>, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let status = state
        .core
        .verification_status(&actor)
        .await
        .map_err(refused)?;
    Ok(status
        .into_iter()
        .map(|line| ServiceRow {
            service: line.service.wire_name().to_owned(),
            label: line.service.label().to_owned(),
            ready: line.ready,
            synced: line.synced,
            production: line.production_count,
            lab: line.lab_count,
            numbers: line
                .numbers
                .into_iter()
                .map(|n| MarkedRow {
                    standing: match (&n.account_name, n.service_enabled, n.provisioning_status) {
                        (None, _, _) => "in no account: it does not count".to_owned(),
                        (Some(_), false, _) => {
                            format!("{} is off: it does not count", line.service.label())
                        }
                        (Some(_), true, Some(status)) => format!("ready, sync {}", status.as_str()),
                        (Some(_), true, None) => "ready".to_owned(),
                    },
                    number: n.telephone_number.to_string(),
                    account: n.account_name,
                })
                .collect(),
        })
        .collect())
}

/// Marks or unmarks numbers through the core, then shows the review with the outcome.
#[server(endpoint = "verification/mark")]
pub async fn mark_verification_numbers(
    service: String,
    action: String,
    numbers: String,
) -> Result<(), ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::provisioning::verification::{VerificationRequest, MAX_PER_SERVICE};
    let (state, actor) = (state()?, actor()?);
    let request = VerificationRequest {
        service,
        action,
        telephone_numbers: numbers
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .filter(|n| !n.is_empty())
            .take(MAX_PER_SERVICE + 1)
            .map(str::to_owned)
            .collect(),
    };
    let (service, mark, numbers) = request.parse().map_err(refused)?;
    let report = state
        .core
        .mark_verification(&actor, service, mark, &numbers)
        .await
        .map_err(refused)?;
    let refusals = refusal_pairs(&report, REFUSALS_SHOWN);
    let mut target = format!(
        "/review?verified={}&service={}&done={}&unchanged={}&refused={}",
        if mark { "mark" } else { "unmark" },
        service.wire_name(),
        report.done,
        report.unchanged,
        report.refused
    );
    if !refusals.is_empty() {
        target.push_str("&why=");
        target.push_str(&encode(&refusals.join(";")));
    }
    leptos_axum::redirect(&format!("{target}#verification-heading"));
    Ok(())
}

/// The outcome of the last mark or unmark, from the page's address: only what the action itself
/// could have written is shown.
#[component]
fn Outcome() -> impl IntoView {
    let query = use_query_map();
    let outcome = move || {
        let q = query.get();
        let verb = match q.get("verified").as_deref() {
            Some("mark") => "Marked",
            Some("unmark") => "Unmarked",
            _ => return None,
        };
        let service = q
            .get("service")
            .and_then(|s| crate::domain::Service::from_wire_name(&s))?;
        let count = |key: &str| {
            q.get(key)
                .and_then(|v| v.parse::<u8>().ok())
                .map_or(0, |n| i64::from(n.min(20)))
        };
        let why = refusals_in_address(q.get("why"), REFUSALS_SHOWN);
        Some(view! {
            <div class="notice">
                <p>{format!(
                    "{verb} as test numbers of {}: {} done, {} unchanged, {} refused.",
                    service.label(),
                    counted(count("done"), "number", "numbers"),
                    counted(count("unchanged"), "number", "numbers"),
                    counted(count("refused"), "number", "numbers"),
                )}</p>
                {(!why.is_empty()).then(|| view! {
                    <ul>{why.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}</ul>
                })}
            </div>
        })
    };
    view! { <div role="status">{outcome}</div> }
}

/// The section: each service's test numbers, and the form (for those who may change numbers).
#[component]
pub fn VerificationSection(can_change: bool) -> impl IntoView {
    let mark = ServerAction::<MarkVerificationNumbers>::new();
    let status = Resource::new(move || mark.version().get(), |_| load_verification());
    view! {
        <section aria-labelledby="verification-heading">
            <h2 id="verification-heading">"Service verification numbers"</h2>
            <p class="hint">"Microsoft verifies each service before launch with test numbers: ACG asks for six per service in production, three in a lab. A test number counts while it is in an account with the service on."</p>
            <Outcome/>
            {action_error(mark)}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                        Ok(rows) => view! {
                            <table class="list">
                                <caption class="visually-hidden">"Test numbers per service"</caption>
                                <thead><tr><th scope="col">"Service"</th><th scope="col">"Ready"</th><th scope="col">"Synced"</th><th scope="col">"Asked for"</th><th scope="col">"Numbers"</th></tr></thead>
                                <tbody>{rows.into_iter().map(|row| view! { <tr>
                                    <th scope="row">{row.label.clone()}</th>
                                    <td>{format!("{}{}", row.ready, if row.ready >= row.production { " ✓" } else { "" })}</td>
                                    <td>{row.synced}</td>
                                    <td>{format!("{} in production, {} in a lab", row.production, row.lab)}</td>
                                    <td>{if row.numbers.is_empty() {
                                        view! { <span class="empty">"none set"</span> }.into_any()
                                    } else {
                                        view! { <ul class="plain">{row.numbers.into_iter().map(|n| {
                                            let href = format!("/numbers/{}", encode(&n.number));
                                            view! { <li><a class="mono" href=href>{n.number.clone()}</a>{format!(" — {}", n.standing)}</li> }
                                        }).collect_view()}</ul> }.into_any()
                                    }}</td>
                                </tr> }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
            {can_change.then(|| view! {
                <ActionForm action=mark attr:class="form">
                    <div class="field">
                        <label for="verification-service">"Service"</label>
                        <select id="verification-service" name="service" required=true>
                            {crate::domain::Service::ALL.into_iter().map(|s| view! { <option value=s.wire_name()>{s.label()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="verification-action">"Do"</label>
                        <select id="verification-action" name="action">
                            <option value="mark">"Mark as test numbers"</option>
                            <option value="unmark">"Unmark"</option>
                        </select>
                    </div>
                    <div class="field">
                        <label for="verification-numbers">"Numbers (up to 20, one a line)"</label>
                        <textarea id="verification-numbers" name="numbers" rows="3" required=true></textarea>
                    </div>
                    <button type="submit">"Apply to the test numbers"</button>
                </ActionForm>
            })}
        </section>
    }
}
