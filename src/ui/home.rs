//! The start page (what there is, in numbers, and the launch checklist) and the page for
//! addresses that lead nowhere.

use super::access::error_text;
use super::widgets::{LoadError, Notice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub accounts: i64,
    pub numbers: String,
    pub pending_numbers: String,
    pub failed_numbers: String,
    pub requests_for_information: i64,
}

#[server(endpoint = "overview")]
pub async fn load_overview() -> Result<Overview, ServerFnError> {
    use super::access::server::{actor, refused, state};
    use super::widgets::count_text;
    use crate::domain::ProvisioningStatus;
    use crate::provisioning::NumberFilter;
    const CAP: i64 = 1_000_000;
    let (state, actor) = (state()?, actor()?);
    let count = |status: Option<ProvisioningStatus>| {
        let (state, actor) = (state.clone(), actor.clone());
        async move {
            let filter = NumberFilter {
                status,
                ..NumberFilter::default()
            };
            state
                .core
                .count_numbers_capped(&actor, &filter, CAP)
                .await
                .map(|n| count_text(n, CAP))
        }
    };
    Ok(Overview {
        accounts: state
            .core
            .count_accounts(&actor, &Default::default())
            .await
            .map_err(refused)?,
        numbers: count(None).await.map_err(refused)?,
        pending_numbers: count(Some(ProvisioningStatus::Pending))
            .await
            .map_err(refused)?,
        failed_numbers: count(Some(ProvisioningStatus::Failed))
            .await
            .map_err(refused)?,
        requests_for_information: state.core.count_rfis(&actor).await.map_err(refused)?,
    })
}

/// The words after a figure as people write them: `one` after exactly 1.
fn after(figure: &str, one: &'static str, many: &'static str) -> &'static str {
    if figure == "1" {
        one
    } else {
        many
    }
}

/// One line of the launch checklist as the home page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckLine {
    pub item: String,
    /// "Done", "To do", "Failing" or "Unknown".
    pub state: String,
    pub detail: String,
    pub fix: String,
}

#[server(endpoint = "checklist")]
pub async fn load_checklist() -> Result<Vec<CheckLine>, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let lines = state.core.launch_checklist(&actor).await.map_err(refused)?;
    Ok(lines
        .into_iter()
        .map(|l| CheckLine {
            item: l.item,
            state: l.state.label().to_owned(),
            detail: l.detail,
            fix: l.fix,
        })
        .collect())
}

/// What a deployment needs before its services go live, each line with its state and where
/// to fix it.
#[component]
fn Checklist() -> impl IntoView {
    let lines = Resource::new(|| (), |_| load_checklist());
    view! {
        <section aria-labelledby="checklist-heading">
            <h2 id="checklist-heading">"Launch checklist"</h2>
            <Suspense fallback=|| view! { <p>"Checking…"</p> }>
                {move || Suspend::new(async move {
                    match lines.await {
                        Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                        Ok(lines) => view! {
                            <table class="list checklist">
                                <caption class="visually-hidden">"Launch checklist"</caption>
                                <thead><tr><th scope="col">"What"</th><th scope="col">"State"</th><th scope="col">"Detail"</th></tr></thead>
                                <tbody>{lines.into_iter().map(|l| {
                                    let class = format!("badge check-{}", l.state.to_lowercase().replace(' ', "-"));
                                    view! { <tr>
                                        <th scope="row"><a href=l.fix>{l.item}</a></th>
                                        <td><span class=class>{l.state}</span></td>
                                        <td>{l.detail}</td>
                                    </tr> }
                                }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn Home() -> impl IntoView {
    let query = use_query_map();
    let overview = Resource::new(|| (), |_| load_overview());
    view! {
        <Title text=""/>
        <h1>"Number provisioning"</h1>
        {query.get_untracked().get("password_changed").map(|_| view! { <Notice>"Your password is changed."</Notice> })}
        <p class="lead">
            "Numbat tells the voice gateway which customer owns which phone numbers, which "
            "communications service each number uses, and which custom SIP header value it carries."
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(o) => view! {
                        <ul class="cards">
                            <li><a href="/accounts"><strong>{o.accounts}</strong>{after(&o.accounts.to_string(), " account", " accounts")}</a></li>
                            <li><a href="/numbers"><strong>{o.numbers.clone()}</strong>{after(&o.numbers, " number", " numbers")}</a></li>
                            <li><a href="/numbers?status=pending"><strong>{o.pending_numbers.clone()}</strong>{after(&o.pending_numbers, " number waiting to sync", " numbers waiting to sync")}</a></li>
                            <li><a href="/numbers?status=failed"><strong>{o.failed_numbers.clone()}</strong>{after(&o.failed_numbers, " number that failed to sync", " numbers that failed to sync")}</a></li>
                            <li><a href="/requests-for-information"><strong>{o.requests_for_information}</strong>{after(&o.requests_for_information.to_string(), " request for information", " requests for information")}</a></li>
                        </ul>
                        {(o.accounts == 0).then(|| view! {
                            <p class="empty">"Start by " <a href="/accounts/new">"creating an account"</a> " for a customer, then add its numbers."</p>
                        })}
                    }.into_any(),
                }
            })}
        </Suspense>
        <Checklist/>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <h1>"Page not found"</h1>
        <p>"There is no page at this address. " <a href="/">"Back to the start"</a></p>
    }
}
