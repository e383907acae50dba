//! The portal's pages: the HTML shell, the app's routes and the pieces every page shares.
//!
//! Compiled for the server (rendering) and for the browser (hydration). Every route renders
//! completely on the server (`SsrMode::Async`), so each page works without JavaScript; every
//! change goes through a server function that asks the provisioning core. Depends on
//! `domain` in both builds; on the server also on the core, `auth`, `bulk` and `state`; never
//! on `store`, `api` or `server`.

pub mod access;
mod accounts;
mod admin;
mod audit;
mod billing;
mod civic;
mod emergency;
mod home;
#[cfg(feature = "ssr")]
pub mod http;
mod imports;
mod inventory;
mod labels;
mod layout;
mod numbers;
mod onboarding;
mod review;
mod rfis;
mod sign_in;
pub mod theme;
mod verification;
mod webhooks;
mod widgets;

use access::Me;
#[cfg(feature = "ssr")]
pub(crate) use accounts::account_filter;
pub use accounts::{AccountForm, AccountQuery};
#[cfg(feature = "ssr")]
pub(crate) use audit::audit_filter;
pub use audit::AuditQuery;
#[cfg(feature = "ssr")]
pub(crate) use billing::billing_month;
pub use billing::BillingQuery;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};
#[cfg(feature = "ssr")]
pub(crate) use numbers::number_filter;
#[cfg(feature = "ssr")]
pub use numbers::numbers_from_form;
pub use numbers::{NumberForm, NumberQuery};
pub use widgets::encode;

/// The signed-in person, loaded once per page and shared through context.
pub type MeResource = Resource<Result<Option<Me>, ServerFnError>>;

/// The page's outer HTML. `with_bundle` adds the scripts that load the browser bundle; without
/// them the pages are plain server-rendered HTML and still work.
pub fn shell(options: LeptosOptions, with_bundle: bool) -> impl IntoView {
    let theme = theme::Theme::of_this_request();
    // The hydration scripts carry the nonce the Content-Security-Policy names.
    #[cfg(feature = "ssr")]
    if let Some(nonce) = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<crate::state::Nonce>().cloned())
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme.attribute()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="stylesheet" href="/style/numbat.css"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                {with_bundle.then(|| view! { <HydrationScripts options/> })}
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: header, the routed page, footer.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let me: MeResource = Resource::new(|| (), |_| access::whoami());
    provide_context(me);
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "Numbat".to_owned() } else { format!("{page} · Numbat") }
        }/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <layout::Header/>
            <main id="main">
                <Routes fallback=home::NotFound>
                    <Route path=path!("/") view=home::Home ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in") view=sign_in::SignInPage ssr=SsrMode::Async/>
                    <Route path=path!("/password") view=sign_in::PasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/accounts") view=accounts::AccountsPage ssr=SsrMode::Async/>
                    <Route path=path!("/accounts/new") view=accounts::AccountFormPage ssr=SsrMode::Async/>
                    <Route path=path!("/accounts/:name") view=accounts::AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/accounts/:name/edit") view=accounts::AccountFormPage ssr=SsrMode::Async/>
                    <Route path=path!("/accounts/:name/onboarding") view=onboarding::OnboardingPage ssr=SsrMode::Async/>
                    <Route path=path!("/numbers") view=numbers::NumbersPage ssr=SsrMode::Async/>
                    <Route path=path!("/inventory") view=inventory::InventoryPage ssr=SsrMode::Async/>
                    <Route path=path!("/numbers/new") view=numbers::NumberFormPage ssr=SsrMode::Async/>
                    <Route path=path!("/numbers/:number") view=numbers::NumberFormPage ssr=SsrMode::Async/>
                    <Route path=path!("/requests-for-information") view=rfis::RfiListPage ssr=SsrMode::Async/>
                    <Route path=path!("/requests-for-information/:tenant") view=rfis::RfiPage ssr=SsrMode::Async/>
                    <Route path=path!("/imports") view=imports::ImportsPage ssr=SsrMode::Async/>
                    <Route path=path!("/imports/:id") view=imports::ImportPage ssr=SsrMode::Async/>
                    <Route path=path!("/jobs/:id") view=imports::ImportPage ssr=SsrMode::Async/>
                    <Route path=path!("/review") view=review::ReviewPage ssr=SsrMode::Async/>
                    <Route path=path!("/billing") view=billing::BillingPage ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view=audit::AuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users") view=admin::UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/tokens") view=admin::TokensPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/settings") view=admin::SettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/webhooks") view=webhooks::WebhooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/webhooks/:id") view=webhooks::WebhookPage ssr=SsrMode::Async/>
                </Routes>
            </main>
            <layout::Footer/>
        </Router>
    }
}

/// Entry point of the browser bundle: attaches the client code to the HTML the server rendered.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Tells people's tools and our browser tests that the page is now driven by client code.
    if let Some(html) = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.document_element())
    {
        let _ = html.set_attribute("data-hydrated", "true");
    }
}
