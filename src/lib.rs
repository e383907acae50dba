//! Numbat: provisioning for a voice gateway.
//!
//! The same library is compiled twice: with `ssr` it is the server (CLI, HTTP, database), with
//! `hydrate` it is the browser bundle that makes the server-rendered pages interactive. `ui`
//! and `domain` are shared by both; everything else is server-only.

#![recursion_limit = "512"]

pub mod domain;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod bulk;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod demo;
#[cfg(feature = "ssr")]
pub mod dns;
#[cfg(feature = "ssr")]
pub mod edge;
#[cfg(feature = "ssr")]
pub mod provisioning;
#[cfg(feature = "ssr")]
pub mod routing;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod sync;
#[cfg(feature = "ssr")]
pub mod telemetry;

/// The version shown in the footer and reported by `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Entry point of the browser bundle: attaches the client code to the HTML the server rendered.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(ui::App);
    // Tells people's tools and our browser tests that the page is now driven by client code.
    if let Some(html) = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.document_element())
    {
        let _ = html.set_attribute("data-hydrated", "true");
    }
}
