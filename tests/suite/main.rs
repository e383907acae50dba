//! Every integration test, in one binary: the debug build of this crate links to hundreds of
//! megabytes, so one test binary instead of one per file saves gigabytes of disk and minutes
//! of linking. Each module is one concern, as its own `//!` line says.

mod common;

mod abuse;
mod api;
mod billing;
mod bulk_portal;
mod bulk_resume;
mod cli;
mod edge;
mod edge_abuse;
mod edge_tls;
mod emergency;
mod feed;
mod fuzz;
mod fuzz_sip;
mod health;
mod import;
mod inventory;
mod labels;
mod live;
mod nodes;
mod oidc;
mod pages;
mod parsers;
mod portal;
mod provisioning;
mod sso;
mod store;
mod sync;
mod upgrade;
mod verification;
mod webhooks;
