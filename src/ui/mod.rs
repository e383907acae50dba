//! The portal's pages: the HTML shell, the app's routes and the pieces every page shares.
//!
//! Compiled for the server (rendering) and for the browser (hydration). Every route renders
//! completely on the server (`SsrMode::Async`), so each page works without JavaScript.

mod layout;
mod pages;
pub mod theme;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The page's outer HTML. `with_bundle` adds the scripts that load the browser bundle; without
/// them the pages are plain server-rendered HTML and still work.
pub fn shell(options: LeptosOptions, with_bundle: bool) -> impl IntoView {
    let theme = theme::Theme::of_this_request();
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
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "Numbat".to_owned() } else { format!("{page} · Numbat") }
        }/>
        <Router>
            <layout::Header/>
            <main id="main">
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Home ssr=SsrMode::Async/>
                    <Route path=path!("/accounts") view=pages::Accounts ssr=SsrMode::Async/>
                    <Route path=path!("/numbers") view=pages::Numbers ssr=SsrMode::Async/>
                    <Route
                        path=path!("/requests-for-information")
                        view=pages::RequestsForInformation
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/audit") view=pages::Audit ssr=SsrMode::Async/>
                </Routes>
            </main>
            <layout::Footer/>
        </Router>
    }
}
