//! The columns each service has in `numbers` and `accounts`, named `<prefix>_<what>` from the
//! service table's `column_prefix`, so no query lists the services by hand. Depends on
//! `domain` only.

use crate::domain::Service;
use sqlx::{ColumnIndex, Decode, Row, Type};

/// What a service's columns hold: `numbers` has `enabled` and, for a Teams service,
/// `detail`; `accounts` has `enabled`, `sync` and `numbers`.
const WHATS: [&str; 4] = ["enabled", "detail", "sync", "numbers"];

/// `<prefix>_<what>`: the column of `service` that holds `what` (one of `WHATS`). The names are
/// made once, so reading a row allocates none.
pub(super) fn column(service: Service, what: &str) -> &'static str {
    static NAMES: std::sync::LazyLock<Vec<Vec<String>>> = std::sync::LazyLock::new(|| {
        WHATS
            .iter()
            .map(|what| {
                Service::ALL
                    .iter()
                    .map(|s| format!("{}_{what}", s.traits().column_prefix))
                    .collect()
            })
            .collect()
    });
    let what = WHATS
        .iter()
        .position(|w| *w == what)
        .expect("a service column is one of WHATS");
    &NAMES[what][service.index()]
}

/// Every service's `what` column, in `Service::ALL` order.
pub(super) fn columns(what: &str) -> impl Iterator<Item = &'static str> + '_ {
    Service::ALL.into_iter().map(move |s| column(s, what))
}

/// Reads the `what` column of every service `has` selects; the others keep `T::default()`.
pub(super) fn read<'r, R, T>(
    row: &'r R,
    what: &str,
    has: impl Fn(Service) -> bool,
) -> Result<[T; Service::COUNT], sqlx::Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    T: Default + Decode<'r, R::Database> + Type<R::Database>,
{
    let mut out: [T; Service::COUNT] = std::array::from_fn(|_| T::default());
    for service in Service::ALL.into_iter().filter(|s| has(*s)) {
        out[service.index()] = row.try_get(column(service, what))?;
    }
    Ok(out)
}

/// Whether each service is on for a number or an account (`<prefix>_enabled`): null when
/// not mentioned.
#[derive(Default)]
pub(super) struct Enabled(pub [Option<bool>; Service::COUNT]);

impl<'r, R> sqlx::FromRow<'r, R> for Enabled
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    Option<bool>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self(read(row, "enabled", |_| true)?))
    }
}

impl Enabled {
    /// The services switched on, as the bit set the routing index keeps.
    pub(super) fn bits(&self) -> u8 {
        Service::ALL
            .into_iter()
            .filter(|s| self.0[s.index()] == Some(true))
            .fold(0, |bits, s| bits | s.bit())
    }
}
