//! Numbat: provisioning for a voice gateway.
//!
//! The same library is compiled twice: with `ssr` it is the server (CLI, HTTP, database), with
//! `hydrate` it is the browser bundle that makes the server-rendered pages interactive. `ui`
//! and `domain` are shared by both; everything else is server-only.
//!
//! The modules stand in layers; each imports only from layers below it (no circles):
//!
//! 1. `domain` (what a number, an account and a service are, and every rule), `dns`, `process`
//!    (database flag, secrets, shutdown signal), `telemetry`.
//! 2. `store`: the two databases behind one set of reads and writes.
//! 3. `routing`: the call-time decision and the index the edge keeps of it.
//! 4. `provisioning`: the core. Every write goes through it: permit, rules, audit, outbox.
//! 5. `wire` (ACG's JSON shapes, for the API and the CSV columns), `auth` (JWTs, single
//!    sign-on, the sign-in throttle, the API's limits), `demo`, `edge` (the SIP edge).
//! 6. `sync` (Operator Connect) and `bulk` (CSV import and export), each with its own flags.
//! 7. `state`: what the HTTP doors share.
//! 8. The doors: `api` (ACG's Provisioning API) and `ui` (the portal's pages and its plain
//!    HTTP handlers).
//! 9. `server` (the router joining the doors) and `cli` (the commands), used by `main`.

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
pub mod hooks;
#[cfg(feature = "ssr")]
pub mod process;
#[cfg(feature = "ssr")]
pub mod provisioning;
#[cfg(feature = "ssr")]
pub mod routing;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod sync;
#[cfg(feature = "ssr")]
pub mod telemetry;
#[cfg(feature = "ssr")]
pub mod wire;

/// The version shown in the footer and reported by `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
