//! Telephone numbers in E.164 form, and what the numbering plan says about them.

use super::violation::Violation;
use super::Code;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A telephone number as ACG writes it: `+`, a country code that does not start with 0, then
/// digits only; at most 16 characters in all.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TelephoneNumber(String);

impl TelephoneNumber {
    pub const MAX_LEN: usize = 16;

    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let bytes = raw.as_bytes();
        let well_formed = bytes.len() >= 3
            && bytes.len() <= Self::MAX_LEN
            && bytes[0] == b'+'
            && (b'1'..=b'9').contains(&bytes[1])
            && bytes[2..].iter().all(u8::is_ascii_digit);
        if !well_formed {
            return Err(Violation::new(
                "",
                Code::InvalidFormat,
                "must be E.164: + then the country code and number, digits only, at most 16 characters (e.g. +441632960000)",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What libphonenumber's metadata says about this number: its country and kind of line.
    #[cfg(feature = "ssr")]
    pub fn classify(&self) -> NumberFacts {
        let Ok(parsed) = phonenumber::parse(None, &self.0) else {
            return NumberFacts::default();
        };
        let country = parsed.country().id().map(|id| id.as_ref().to_owned());
        let line_type = LineType::from(parsed.number_type(&phonenumber::metadata::DATABASE));
        NumberFacts {
            country,
            calling_code: Some(parsed.country().code()),
            line_type,
        }
    }
}

impl TryFrom<String> for TelephoneNumber {
    type Error = Violation;
    fn try_from(raw: String) -> Result<Self, Violation> {
        Self::parse(&raw)
    }
}

impl From<TelephoneNumber> for String {
    fn from(value: TelephoneNumber) -> String {
        value.0
    }
}

impl fmt::Display for TelephoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Facts derived from the numbering plan, stored with each number for routing defaults and filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberFacts {
    /// ISO 3166 region, e.g. `GB`; none for non-geographic or unknown numbers.
    pub country: Option<String>,
    /// The ITU country calling code, e.g. 44.
    pub calling_code: Option<u16>,
    pub line_type: LineType,
}

impl NumberFacts {
    /// A toll-free number in the North American Numbering Plan (+1 8xx).
    pub fn is_north_american_toll_free(&self) -> bool {
        self.calling_code == Some(1) && self.line_type == LineType::TollFree
    }
}

/// The kind of line a number is, as libphonenumber tells it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LineType {
    FixedLine,
    Mobile,
    /// Where the plan cannot tell fixed from mobile (e.g. the USA).
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    PersonalNumber,
    Voip,
    Pager,
    Uan,
    Voicemail,
    #[default]
    Unknown,
}

impl LineType {
    pub const ALL: [LineType; 12] = [
        Self::FixedLine,
        Self::Mobile,
        Self::FixedLineOrMobile,
        Self::TollFree,
        Self::PremiumRate,
        Self::SharedCost,
        Self::PersonalNumber,
        Self::Voip,
        Self::Pager,
        Self::Uan,
        Self::Voicemail,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FixedLine => "fixedLine",
            Self::Mobile => "mobile",
            Self::FixedLineOrMobile => "fixedLineOrMobile",
            Self::TollFree => "tollFree",
            Self::PremiumRate => "premiumRate",
            Self::SharedCost => "sharedCost",
            Self::PersonalNumber => "personalNumber",
            Self::Voip => "voip",
            Self::Pager => "pager",
            Self::Uan => "uan",
            Self::Voicemail => "voicemail",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Violation> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
                Violation::new(
                    "",
                    Code::InvalidValue,
                    format!("must be one of {}", names.join(", ")),
                )
            })
    }
}

#[cfg(feature = "ssr")]
impl From<phonenumber::Type> for LineType {
    fn from(value: phonenumber::Type) -> Self {
        use phonenumber::Type as T;
        match value {
            T::FixedLine => Self::FixedLine,
            T::Mobile => Self::Mobile,
            T::FixedLineOrMobile => Self::FixedLineOrMobile,
            T::TollFree => Self::TollFree,
            T::PremiumRate => Self::PremiumRate,
            T::SharedCost => Self::SharedCost,
            T::PersonalNumber => Self::PersonalNumber,
            T::Voip => Self::Voip,
            T::Pager => Self::Pager,
            T::Uan => Self::Uan,
            T::Voicemail => Self::Voicemail,
            _ => Self::Unknown,
        }
    }
}
