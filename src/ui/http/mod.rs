//! The portal's plain HTTP handlers, beside its pages: sign-in, sign-out and the session
//! every portal request passes through; uploads, downloads and bulk actions; redirects only to
//! this site. Server-only. Depends on `state`, the core, `auth` and `bulk`; never on `api` or
//! `server`, which mounts them.

pub mod files;
pub mod redirect;
pub mod session;
