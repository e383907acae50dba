//! The start page (what there is, in numbers) and the page for addresses that lead nowhere.

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
                            <li><a href="/accounts"><strong>{o.accounts}</strong>" accounts"</a></li>
                            <li><a href="/numbers"><strong>{o.numbers.clone()}</strong>" numbers"</a></li>
                            <li><a href="/numbers?status=pending"><strong>{o.pending_numbers.clone()}</strong>" numbers waiting to sync"</a></li>
                            <li><a href="/numbers?status=failed"><strong>{o.failed_numbers.clone()}</strong>" numbers that failed to sync"</a></li>
                            <li><a href="/requests-for-information"><strong>{o.requests_for_information}</strong>" requests for information"</a></li>
                        </ul>
                        {(o.accounts == 0).then(|| view! {
                            <p class="empty">"Start by " <a href="/accounts/new">"creating an account"</a> " for a customer, then add its numbers."</p>
                        })}
                    }.into_any(),
                }
            })}
        </Suspense>
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
