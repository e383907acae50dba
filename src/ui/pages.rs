//! One component per route. The sections are placeholders until their issues land.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <Title text=""/>
        <h1>"Number provisioning"</h1>
        <p class="lead">
            "Numbat tells the voice gateway which customer owns which phone numbers, which "
            "communications service each number uses, and which custom SIP header value it carries."
        </p>
        <ul class="cards">
            {super::layout::SECTIONS
                .iter()
                .map(|(href, label)| view! { <li><a href=*href>{*label}</a></li> })
                .collect_view()}
        </ul>
    }
}

#[component]
pub fn Accounts() -> impl IntoView {
    placeholder(
        "Accounts",
        "Customer accounts and the services enabled for each.",
    )
}

#[component]
pub fn Numbers() -> impl IntoView {
    placeholder(
        "Numbers",
        "Telephone numbers, their services and custom header values.",
    )
}

#[component]
pub fn RequestsForInformation() -> impl IntoView {
    placeholder(
        "Requests for Information",
        "Operator Connect consents from Microsoft Teams tenants.",
    )
}

#[component]
pub fn Audit() -> impl IntoView {
    placeholder("Audit", "Who changed what, when, and through which door.")
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Title text="Not found"/>
        <h1>"Page not found"</h1>
        <p>"There is no page at this address. " <a href="/">"Back to the start"</a></p>
    }
}

fn placeholder(title: &'static str, purpose: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <h1>{title}</h1>
        <p class="lead">{purpose}</p>
        <p class="placeholder">"Not built yet."</p>
    }
}
