//! Who is calling, beyond what the core keeps (its users and API tokens): JWTs from an OIDC
//! issuer, single sign-on to the portal, portal roles turned into the core's `Actor`, the
//! sign-in throttle, and who may call the API from where and how often. Depends on the core.

pub mod limits;
pub mod oidc;
pub mod sso;
pub mod throttle;
pub mod users;
