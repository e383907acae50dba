//! The inventory page: how many numbers stand in each state, the inventory's numbers filtered
//! by state, account, prefix and tag, and one form for every action on numbers listed or a range.
//! Reads and acts through the core's inventory, as the API's endpoints and `numbat inventory` do;
//! an action's outcome comes back in the page's address, so it reads the same with JavaScript
//! on and off.

use super::access::error_text;
use super::widgets::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
const PAGE: i64 = 50;

/// The most refusals the outcome names (the rest are counted).
const REFUSALS_SHOWN: usize = 10;

/// The actions' names, as the core gives them.
const ACTIONS: [&str; 8] = [
    "add",
    "remove",
    "reserve",
    "cancelReservation",
    "setQuarantine",
    "endQuarantine",
    "assign",
    "release",
];

/// What the list shows.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct InventoryQuery {
    pub state: Option<String>,
    pub account: Option<String>,
    pub prefix: Option<String>,
    pub tag: Option<String>,
    pub after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InventoryRow {
    pub number: String,
    pub state: String,
    pub account: Option<String>,
    /// When the hold ends, in words.
    pub until: String,
    /// Its tags, separated by `; `.
    pub tags: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InventoryPage {
    /// Each state's label and how many numbers are in it.
    pub counts: Vec<(String, i64)>,
    pub rows: Vec<InventoryRow>,
    pub next_after: Option<String>,
}

#[server(endpoint = "inventory/list")]
pub async fn list_inventory(
    #[server(default)] query: InventoryQuery,
) -> Result<InventoryPage, ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::{InventoryState, TelephoneNumber};
    let (state, actor) = (state()?, actor()?);
    let filter = crate::provisioning::inventory::inventory_filter(
        non_empty(query.state).as_deref(),
        non_empty(query.account).as_deref(),
        non_empty(query.prefix).as_deref(),
        non_empty(query.tag).as_deref().map(str::trim),
    )
    .map_err(refused)?;
    let after = non_empty(query.after).and_then(|a| TelephoneNumber::parse(&a).ok());
    let mut records = state
        .core
        .list_inventory(&actor, &filter, after.as_ref(), PAGE + 1)
        .await
        .map_err(refused)?;
    let more = keep_page(&mut records, PAGE);
    let counts = state
        .core
        .inventory_counts(&actor)
        .await
        .map_err(refused)?
        .into_iter()
        .map(|(s, n)| (s.label().to_owned(), n))
        .collect();
    let keys: Vec<&str> = records
        .iter()
        .map(|r| r.telephone_number.as_str())
        .collect();
    let kind = crate::provisioning::labels::LabelledKind::Number;
    let labels = state
        .core
        .labels_of(&actor, kind, &keys)
        .await
        .map_err(refused)?;
    let rows: Vec<InventoryRow> = records
        .into_iter()
        .map(|r| InventoryRow {
            tags: labels
                .get(r.telephone_number.as_str())
                .map(|l| l.labels.tags.to_text().replace(';', "; "))
                .unwrap_or_default(),
            number: r.telephone_number.to_string(),
            until: match (r.state, &r.until) {
                (InventoryState::Available, _) => String::new(),
                (_, Some(until)) => until.clone(),
                (_, None) => "indefinitely".to_owned(),
            },
            state: r.state.label().to_owned(),
            account: r.account_name.map(|a| a.as_str().to_owned()),
        })
        .collect();
    Ok(InventoryPage {
        next_after: more
            .then(|| rows.last().map(|r| r.number.clone()))
            .flatten(),
        rows,
        counts,
    })
}

/// Applies one inventory action through the core, then shows the page with its outcome.
#[server(endpoint = "inventory/act")]
#[allow(clippy::too_many_arguments)]
pub async fn act_on_inventory(
    action: String,
    #[server(default)] numbers: Option<String>,
    #[server(default)] from: Option<String>,
    #[server(default)] to: Option<String>,
    #[server(default)] account: Option<String>,
    #[server(default)] until: Option<String>,
    #[server(default)] quarantine: Option<String>,
    #[server(default)] service: Option<String>,
    #[server(default)] custom_sip_header: Option<String>,
) -> Result<(), ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::provisioning::inventory::{ActionRequest, MAX_NUMBERS};
    let (state, actor) = (state()?, actor()?);
    // One number a line (or separated by spaces or commas); more than an action takes is
    // refused by the core's count, without reading the rest.
    let listed: Vec<String> = non_empty(numbers)
        .map(|text| {
            text.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|n| !n.is_empty())
                .take(MAX_NUMBERS + 1)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let request = ActionRequest {
        action,
        telephone_numbers: (!listed.is_empty()).then_some(listed),
        from: non_empty(from),
        to: non_empty(to),
        account_name: non_empty(account),
        until: non_empty(until),
        quarantine: non_empty(quarantine),
        services: non_empty(service).map(|s| vec![s]),
        custom_sip_header: non_empty(custom_sip_header),
    };
    let (action, numbers) = request
        .parse()
        .map_err(|error| refused(at_most_lines(error)))?;
    let report = state
        .core
        .inventory_action(&actor, &action, &numbers)
        .await
        .map_err(refused)?;
    let refusals = refusal_pairs(&report, REFUSALS_SHOWN);
    let mut target = format!(
        "/inventory?acted={}&job={}&done={}&unchanged={}&refused={}",
        action.name(),
        report.job_id.unwrap_or_default(),
        report.done,
        report.unchanged,
        report.refused
    );
    if !refusals.is_empty() {
        target.push_str("&why=");
        target.push_str(&encode(&refusals.join(";")));
    }
    leptos_axum::redirect(&target);
    Ok(())
}

/// A refusal of a whole list, cut to its first lines: its text goes back in the page's
/// address when JavaScript is off.
#[cfg(feature = "ssr")]
fn at_most_lines(
    error: crate::provisioning::ProvisioningError,
) -> crate::provisioning::ProvisioningError {
    use crate::provisioning::ProvisioningError;
    const LINES: usize = 20;
    match error {
        ProvisioningError::Invalid(mut violations) if violations.0.len() > LINES => {
            let more = violations.0.len() - LINES;
            violations.0.truncate(LINES);
            violations.push(crate::domain::Violation::new(
                "",
                crate::domain::Code::InvalidValue,
                format!("and {more} more"),
            ));
            ProvisioningError::Invalid(violations)
        }
        other => other,
    }
}

/// "1 number", "2 numbers".
fn numbers_text(count: i64) -> String {
    counted(count, "number", "numbers")
}

/// The outcome of the last action, from the page's address.
#[component]
fn Outcome() -> impl IntoView {
    let query = use_query_map();
    let outcome = move || {
        let q = query.get();
        // Only what the action itself could have written is shown: a link someone made up
        // cannot put words of their own on the page.
        let acted = q.get("acted").filter(|a| ACTIONS.contains(&a.as_str()))?;
        // No action does more than MAX_NUMBERS (10,000) numbers.
        let count = |key: &str| {
            q.get(key)
                .and_then(|v| v.parse::<u16>().ok())
                .map_or(0, |n| i64::from(n.min(10_000)))
        };
        let (done, unchanged, refused) = (count("done"), count("unchanged"), count("refused"));
        let why = refusals_in_address(q.get("why"), REFUSALS_SHOWN);
        let more = refused - why.len() as i64;
        // Digits only, so the link can only lead to a job's page.
        let job = q
            .get("job")
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|id| *id > 0);
        Some(view! {
            <div class="notice">
                <p>{format!(
                    "{acted}: {} done, {} unchanged, {} refused.",
                    numbers_text(done),
                    numbers_text(unchanged),
                    numbers_text(refused)
                )}</p>
                {(!why.is_empty()).then(|| view! {
                    <ul class="refusals">
                        {why.into_iter().map(|line| view! { <li><code>{line}</code></li> }).collect_view()}
                        {(more > 0).then(|| view! { <li>{format!("and {} more", numbers_text(more))}</li> })}
                    </ul>
                })}
                {job.map(|id| view! {
                    <p><a href=format!("/jobs/{id}")>{format!("Job {id}")}</a>" keeps the result, with every refused number and why."</p>
                })}
            </div>
        })
    };
    // Always in the page, so a screen reader announces what appears in it.
    view! { <div role="status">{outcome}</div> }
}

#[component]
pub fn InventoryPage() -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        let q = query.get();
        InventoryQuery {
            state: q.get("state"),
            account: q.get("account"),
            prefix: q.get("prefix"),
            tag: q.get("tag"),
            after: q.get("after"),
        }
    };
    let act = ServerAction::<ActOnInventory>::new();
    // Read again after every action, even one that leads back to the same address.
    let page = Resource::new(
        move || (current(), act.version().get()),
        |(query, _)| list_inventory(query),
    );
    let initial = current();
    view! {
        <Title text="Inventory"/>
        <h1>"Inventory"</h1>
        <p class="lead">"Numbers before and after they belong to an account: available, reserved for an account until a date, assigned, or quarantined after release. Assigned numbers are listed under "<a href="/numbers">"Numbers"</a>"."</p>
        <Outcome/>
        {action_error(act)}
        <Suspense fallback=|| view! { <p>"Loading the inventory…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(page) => {
                        let shown = page.rows.len();
                        view! {
                            <div class="figures">
                                {page.counts.into_iter().map(|(label, n)| {
                                    // Assigned numbers are ACG's: their list is the numbers page.
                                    let href = match label.as_str() {
                                        "Assigned" => "/numbers".to_owned(),
                                        other => format!("/inventory?state={}", other.to_lowercase()),
                                    };
                                    view! { <a class="figure" href=href><strong>{n}</strong>{label}</a> }
                                }).collect_view()}
                            </div>
                            {if page.rows.is_empty() {
                                view! { <p class="empty">"No numbers of the inventory match. Add a range below to start one."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="list">
                                        <caption class="visually-hidden">"Numbers of the inventory"</caption>
                                        <thead><tr><th scope="col">"Number"</th><th scope="col">"State"</th><th scope="col">"Account"</th><th scope="col">"Until"</th><th scope="col">"Tags"</th></tr></thead>
                                        <tbody>{page.rows.into_iter().map(|r| view! { <tr>
                                            <td>{r.number}</td>
                                            <td>{r.state}</td>
                                            <td>{r.account.unwrap_or_default()}</td>
                                            <td>{r.until}</td>
                                            <td>{r.tags}</td>
                                        </tr> }).collect_view()}</tbody>
                                    </table>
                                    <Pager path="/inventory" next_after=page.next_after shown=shown total=String::from("this filter's numbers")/>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
        <form class="filters" method="get" action="/inventory" role="search">
            <div class="field">
                <label for="inventory-state">"State"</label>
                <select id="inventory-state" name="state">
                    <option value="">"Any"</option>
                    {["available", "reserved", "quarantined"].into_iter().map(|s| {
                        let selected = initial.state.as_deref() == Some(s);
                        view! { <option value=s selected=selected>{s}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="inventory-account">"Account"</label>
                <input id="inventory-account" name="account" value=initial.account.clone().unwrap_or_default()/>
            </div>
            <div class="field">
                <label for="inventory-prefix">"Starts with"</label>
                <input id="inventory-prefix" name="prefix" inputmode="tel" value=initial.prefix.clone().unwrap_or_default()/>
            </div>
            <div class="field">
                <label for="inventory-tag">"Tag"</label>
                <input id="inventory-tag" name="tag" value=initial.tag.clone().unwrap_or_default()/>
            </div>
            <button type="submit">"Search"</button>
        </form>
        <h2>"Act on numbers"</h2>
        <ActionForm action=act attr:class="form">
            <div class="field">
                <label for="inventory-action">"Action"</label>
                <select id="inventory-action" name="action" required=true>
                    <option value="add">"Add to the inventory"</option>
                    <option value="reserve">"Reserve for an account"</option>
                    <option value="cancelReservation">"Cancel the reservation"</option>
                    <option value="assign">"Assign to an account"</option>
                    <option value="release">"Release from an account (into quarantine)"</option>
                    <option value="setQuarantine">"Change the quarantine"</option>
                    <option value="endQuarantine">"End the quarantine"</option>
                    <option value="remove">"Remove from the inventory"</option>
                </select>
            </div>
            <fieldset>
                <legend>"Numbers: a range, or a list"</legend>
                <div class="field">
                    <label for="inventory-from">"From"</label>
                    <input id="inventory-from" name="from" inputmode="tel" placeholder="+442071110000"/>
                </div>
                <div class="field">
                    <label for="inventory-to">"To"</label>
                    <input id="inventory-to" name="to" inputmode="tel" placeholder="+442071119999"/>
                </div>
                <div class="field">
                    <label for="inventory-numbers">"Or these numbers, one a line"</label>
                    <textarea id="inventory-numbers" name="numbers" rows="3"></textarea>
                </div>
                <small class="hint">"Up to 10,000 numbers an action. Each number gets its own result: one a rule refuses is left as it is."</small>
            </fieldset>
            <div class="field">
                <label for="inventory-act-account">"Account (reserve, assign, release)"</label>
                <input id="inventory-act-account" name="account"/>
            </div>
            <div class="field">
                <label for="inventory-until">"Reserved until (reserve; default 30 days)"</label>
                <input id="inventory-until" name="until" type="date"/>
            </div>
            <div class="field">
                <label for="inventory-quarantine">"Quarantine (change the quarantine): days, 1 to 365, or indefinitely"</label>
                <input id="inventory-quarantine" name="quarantine"/>
            </div>
            <div class="field">
                <label for="inventory-service">"Service (assign)"</label>
                <select id="inventory-service" name="service">
                    <option value="">"None"</option>
                    <option value="teamsDirectRouting">"Teams Direct Routing"</option>
                    <option value="zoomPhoneCloudPeering">"Zoom Phone Cloud Peering"</option>
                    <option value="azureOperatorCallProtection">"Azure Operator Call Protection"</option>
                </select>
            </div>
            <div class="field">
                <label for="inventory-header">"Custom header value (assign)"</label>
                <input id="inventory-header" name="custom_sip_header"/>
            </div>
            <button type="submit">"Apply"</button>
        </ActionForm>
    }
}
