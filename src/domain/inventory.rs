//! A number's place in the operator's inventory (available, reserved, assigned, quarantined),
//! ranges of numbers, and how long a released number is held back.
//!
//! No I/O; compiles for the server and for the browser. Depends on `telephone` and `violation`.

use super::{Code, TelephoneNumber, Violation};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a number stands. `Assigned` is what ACG calls a number: it belongs to an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InventoryState {
    /// In the operator's inventory, free for any account.
    Available,
    /// Held for one account until a date; not routed.
    Reserved,
    /// In an account.
    Assigned,
    /// Released by an account and held back (for a number of days or for good); it may return
    /// only to that account. Not routed.
    Quarantined,
}

impl InventoryState {
    pub const ALL: [Self; 4] = [
        Self::Available,
        Self::Reserved,
        Self::Assigned,
        Self::Quarantined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Reserved => "reserved",
            Self::Assigned => "assigned",
            Self::Quarantined => "quarantined",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// For people: "Available", "Reserved", …
    pub fn label(self) -> &'static str {
        match self {
            Self::Available => "Available",
            Self::Reserved => "Reserved",
            Self::Assigned => "Assigned",
            Self::Quarantined => "Quarantined",
        }
    }
}

impl fmt::Display for InventoryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long one quarantined number is held back: 1–365 days from its release, or until someone
/// ends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Quarantine {
    Days(u16),
    Indefinitely,
}

impl Quarantine {
    pub const MAX_DAYS: u16 = 365;

    /// `1`–`365` (days) or `indefinitely`.
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("indefinitely") {
            return Ok(Self::Indefinitely);
        }
        match raw.parse::<u16>() {
            Ok(days) if (1..=Self::MAX_DAYS).contains(&days) => Ok(Self::Days(days)),
            _ => Err(Violation::new(
                "quarantine",
                Code::OutOfRange,
                format!(
                    "must be a number of days from 1 to {}, or indefinitely",
                    Self::MAX_DAYS
                ),
            )),
        }
    }
}

impl fmt::Display for Quarantine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Days(days) => write!(f, "{days}"),
            Self::Indefinitely => f.write_str("indefinitely"),
        }
    }
}

/// The deployment's quarantine for released numbers, in days: 0 (released numbers are
/// available at once) to 365.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct QuarantineDays(u16);

impl QuarantineDays {
    pub const DEFAULT: Self = Self(30);

    pub fn new(days: u16) -> Result<Self, Violation> {
        if days > Quarantine::MAX_DAYS {
            return Err(Violation::new(
                "quarantineDays",
                Code::OutOfRange,
                format!("must be from 0 to {} days", Quarantine::MAX_DAYS),
            ));
        }
        Ok(Self(days))
    }

    pub fn parse(raw: &str) -> Result<Self, Violation> {
        raw.trim()
            .parse::<u16>()
            .map_err(|_| {
                Violation::new(
                    "quarantineDays",
                    Code::OutOfRange,
                    format!("must be from 0 to {} days", Quarantine::MAX_DAYS),
                )
            })
            .and_then(Self::new)
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for QuarantineDays {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<u16> for QuarantineDays {
    type Error = Violation;
    fn try_from(days: u16) -> Result<Self, Violation> {
        Self::new(days)
    }
}

impl From<QuarantineDays> for u16 {
    fn from(days: QuarantineDays) -> u16 {
        days.0
    }
}

/// Consecutive numbers of the same length, `from` to `to` inclusive: at most
/// [`NumberRange::MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberRange {
    first: u64,
    count: u32,
    /// Digits after the `+`.
    width: usize,
}

impl NumberRange {
    /// The most numbers one range action takes.
    pub const MAX: u32 = 10_000;

    /// The range from `from` to `to`; each must be a number, both of the same length, `to` not
    /// before `from`, at most [`NumberRange::MAX`] numbers in all. Violations name `from` or
    /// `to`.
    pub fn parse(from: &str, to: &str) -> Result<Self, Violation> {
        let first = TelephoneNumber::parse(from).map_err(|v| v.at("from"))?;
        let last = TelephoneNumber::parse(to).map_err(|v| v.at("to"))?;
        let (first, last) = (&first.as_str()[1..], &last.as_str()[1..]);
        if first.len() != last.len() {
            return Err(Violation::new(
                "to",
                Code::InvalidValue,
                format!(
                    "must have as many digits as from ({}); a range does not cross lengths",
                    first.len()
                ),
            ));
        }
        let digits = |d: &str| d.parse::<u64>().expect("at most 15 digits fit");
        let (low, high) = (digits(first), digits(last));
        if high < low {
            return Err(Violation::new(
                "to",
                Code::OutOfRange,
                "must not come before from",
            ));
        }
        let count = high - low + 1;
        if count > u64::from(Self::MAX) {
            return Err(Violation::new(
                "to",
                Code::BatchSize,
                format!(
                    "a range holds at most {} numbers; this one holds {count}",
                    Self::MAX
                ),
            ));
        }
        Ok(Self {
            first: low,
            count: count as u32,
            width: first.len(),
        })
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every number of the range, in order.
    pub fn numbers(&self) -> impl Iterator<Item = TelephoneNumber> + '_ {
        (0..u64::from(self.count)).map(move |i| {
            let text = format!("+{:0width$}", self.first + i, width = self.width);
            TelephoneNumber::parse(&text).expect("a number between two numbers of its length")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_lists_every_number_once_in_order() {
        let range = NumberRange::parse("+442071110000", "+442071119999").unwrap();
        assert_eq!(range.len(), 10_000);
        let numbers: Vec<_> = range.numbers().collect();
        assert_eq!(numbers[0].as_str(), "+442071110000");
        assert_eq!(numbers[9_999].as_str(), "+442071119999");
        assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        let one = NumberRange::parse("+15551230000", "+15551230000").unwrap();
        assert_eq!(one.numbers().count(), 1);
        let across = NumberRange::parse("+1999", "+2001").unwrap();
        let texts: Vec<String> = across.numbers().map(|n| n.to_string()).collect();
        assert_eq!(texts, ["+1999", "+2000", "+2001"]);
    }

    #[test]
    fn a_bad_range_names_the_field_and_the_rule() {
        let refused = |from: &str, to: &str| NumberRange::parse(from, to).unwrap_err();
        assert_eq!(refused("+44207111", "+4420711").path(), "to");
        assert_eq!(refused("+44207111", "+4420711").code, Code::InvalidValue);
        assert_eq!(
            refused("+442071119999", "+442071110000").code,
            Code::OutOfRange
        );
        let big = refused("+442071110000", "+442071120000");
        assert_eq!((big.path(), big.code), ("to".to_owned(), Code::BatchSize));
        assert_eq!(refused("44207", "+44207").path(), "from");
        assert_eq!(refused("+44207", "+4420\r\n").path(), "to");
        assert_eq!(
            refused("+44207", &"9".repeat(10_000)).code,
            Code::InvalidFormat
        );
    }

    #[test]
    fn quarantine_periods_are_days_from_1_to_365_or_indefinite() {
        assert_eq!(Quarantine::parse("30").unwrap(), Quarantine::Days(30));
        assert_eq!(
            Quarantine::parse("Indefinitely").unwrap(),
            Quarantine::Indefinitely
        );
        for bad in ["0", "366", "-1", "", "30 days", "1e3"] {
            assert_eq!(
                Quarantine::parse(bad).unwrap_err().code,
                Code::OutOfRange,
                "{bad}"
            );
        }
        assert_eq!(QuarantineDays::parse("0").unwrap().get(), 0);
        assert!(QuarantineDays::parse("366").is_err());
        assert_eq!(QuarantineDays::default().get(), 30);
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for state in InventoryState::ALL {
            assert_eq!(InventoryState::parse(state.as_str()), Some(state));
        }
        assert_eq!(InventoryState::parse("Available"), None);
    }
}
