//! Who is calling: API tokens today (created with `numbat token create`), turned into the
//! core's `Actor`. Depends on the core and the store.

pub mod tokens;
