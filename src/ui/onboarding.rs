//! A Direct Routing account's onboarding page: its two customer domains with their TXT records
//! and status, and the steps its customer's Microsoft 365 admin takes, with the PowerShell as
//! selectable text (and, with JavaScript, a button that copies it). Reads through the core's
//! `direct_routing_onboarding`, as the API's endpoint does.

use super::access::error_text;
use super::widgets::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

/// A customer domain as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainView {
    pub region: u8,
    pub domain: String,
    pub txt_value: String,
}

/// A step as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    pub title: String,
    pub detail: String,
    pub done: Option<bool>,
    pub powershell: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnboardingView {
    pub account_name: String,
    pub teams_tenant_id: Option<String>,
    /// The status in words.
    pub status: String,
    pub provisioned: bool,
    pub domains: Vec<DomainView>,
    pub steps: Vec<StepView>,
}

#[server(endpoint = "accounts/onboarding")]
pub async fn load_onboarding(name: String) -> Result<OnboardingView, ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::{AccountName, SubdomainStatus};
    let (state, actor) = (state()?, actor()?);
    let name = AccountName::parse(&name)
        .map_err(|v| ServerFnError::new(format!("account name: {}", v.message)))?;
    let onboarding = state
        .core
        .direct_routing_onboarding(&actor, &name)
        .await
        .map_err(refused)?;
    let status = match onboarding.subdomain_status {
        SubdomainStatus::Provisioned => "provisioned: both TXT records answer",
        SubdomainStatus::NotProvisioned => "not provisioned: the TXT records do not answer yet",
        SubdomainStatus::Inconsistent => "inconsistent: the names answer other values",
    };
    Ok(OnboardingView {
        account_name: onboarding.account_name,
        teams_tenant_id: onboarding.teams_tenant_id,
        status: status.to_owned(),
        provisioned: onboarding.subdomain_status == SubdomainStatus::Provisioned,
        domains: onboarding
            .domains
            .into_iter()
            .map(|d| DomainView {
                region: d.region,
                domain: d.domain,
                txt_value: d.txt_value,
            })
            .collect(),
        steps: onboarding
            .steps
            .into_iter()
            .map(|s| StepView {
                title: s.title,
                detail: s.detail,
                done: s.done,
                powershell: s.powershell,
            })
            .collect(),
    })
}

#[component]
pub fn OnboardingPage() -> impl IntoView {
    let params = use_params_map();
    let onboarding = Resource::new(
        move || params.get().get("name").unwrap_or_default(),
        load_onboarding,
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading the onboarding…"</p> }>
            {move || Suspend::new(async move {
                match onboarding.await {
                    Err(error) => view! {
                        <Title text="Direct Routing onboarding"/>
                        <h1>"Direct Routing onboarding"</h1>
                        <LoadError message=error_text(&error)/>
                    }.into_any(),
                    Ok(o) => {
                        let name = o.account_name.clone();
                        let back = format!("/accounts/{}", encode(&name));
                        view! {
                            <Title text=format!("Onboarding {name}")/>
                            <div class="page-head">
                                <h1>{format!("Direct Routing onboarding for {name}")}</h1>
                                <a class="button secondary" href=back>"Back to the account"</a>
                            </div>
                            <p>"What the customer's Microsoft 365 admin does to carry calls over Direct Routing through this deployment, written for this account."</p>
                            <section aria-labelledby="domains-heading">
                                <h2 id="domains-heading">"Customer domains"</h2>
                                <p data-testid="subdomain-status">{format!("DNS status: {}", o.status)}</p>
                                <table class="list">
                                    <caption>"The TXT record of each domain, as this deployment's DNS serves it"</caption>
                                    <thead><tr><th scope="col">"Region"</th><th scope="col">"Domain (the TXT record's name)"</th><th scope="col">"TXT value"</th></tr></thead>
                                    <tbody>
                                        {o.domains.iter().map(|d| view! {
                                            <tr><td>{d.region}</td><td class="mono">{d.domain.clone()}</td><td class="mono">{d.txt_value.clone()}</td></tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                            <section aria-labelledby="steps-heading">
                                <h2 id="steps-heading">"Steps"</h2>
                                <ol class="steps">
                                    {o.steps.iter().map(|s| view! { <Step step=s.clone()/> }).collect_view()}
                                </ol>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn Step(step: StepView) -> impl IntoView {
    let state = match step.done {
        Some(true) => "done",
        Some(false) => "not yet",
        None => "in the customer's tenant",
    };
    view! {
        <li>
            <h3>{step.title.clone()}" "<span class="badge">{state}</span></h3>
            <p>{step.detail.clone()}</p>
            {step.powershell.clone().map(|code| view! { <PowerShell code=code/> })}
        </li>
    }
}

/// PowerShell to paste: selectable text; with JavaScript, also a button that copies it.
#[component]
fn PowerShell(code: String) -> impl IntoView {
    // Only the browser bundle runs effects: without JavaScript there is no button that would
    // do nothing.
    let (live, set_live) = signal(false);
    Effect::new(move |_| set_live.set(true));
    let (copied, set_copied) = signal(false);
    let text = code.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&text);
            set_copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&text, set_copied);
    };
    view! {
        <div class="code-block">
            <pre data-testid="powershell"><code>{code}</code></pre>
            <Show when=move || live.get()>
                <button type="button" class="secondary" on:click=copy.clone()>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </Show>
        </div>
    }
}
