//! Who is calling: API tokens (created with `numbat token create`) and JWTs from an OIDC
//! issuer, turned into the core's `Actor`. Depends on the core and the store.

pub mod oidc;
pub mod sso;
pub mod throttle;
pub mod tokens;
pub mod users;
