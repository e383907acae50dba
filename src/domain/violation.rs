//! A broken rule, named by the field it concerns, and a collection of them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which rule a violation broke: a stable name, sent as ACG's error codes are (`Required`,
/// `NumberInAnotherAccount`, …). Doors decide by the variant, never by the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Code {
    AccountHasNumbers,
    AccountMismatch,
    AccountNotFound,
    BatchSize,
    CustomHeaderNotSupported,
    DomainTooLong,
    Duplicate,
    FlowThroughNotSupported,
    InvalidFormat,
    InvalidHeader,
    InvalidJson,
    InvalidValue,
    JobNotInterrupted,
    JobTakenOver,
    KeyMismatch,
    NameMismatch,
    NotResumable,
    NotUtf8,
    NumberAlreadySynced,
    NumberExists,
    NumberInAnotherAccount,
    NumberNotFound,
    OutOfRange,
    RepeatabilityRejected,
    Required,
    ServiceInUse,
    ServiceNotEnabledOnAccount,
    ServicesCannotCombine,
    SyncUnderWay,
    TenantIdLocked,
    TenantIdRequired,
    TooManyCells,
    UnsupportedFilter,
    NotInInventory,
    NumberReservedForAnotherAccount,
    NumberQuarantinedFromAnotherAccount,
    WrongInventoryState,
    TooManyTags,
    ServiceNotOnNumber,
    CivicAddressNotFound,
    LocationNotFound,
    ServiceLaunched,
}

impl Code {
    /// Every code, for lists of them (the API's documentation, tests).
    pub const ALL: [Code; 42] = [
        Code::AccountHasNumbers,
        Code::AccountMismatch,
        Code::AccountNotFound,
        Code::BatchSize,
        Code::CustomHeaderNotSupported,
        Code::DomainTooLong,
        Code::Duplicate,
        Code::FlowThroughNotSupported,
        Code::InvalidFormat,
        Code::InvalidHeader,
        Code::InvalidJson,
        Code::InvalidValue,
        Code::JobNotInterrupted,
        Code::JobTakenOver,
        Code::KeyMismatch,
        Code::NameMismatch,
        Code::NotResumable,
        Code::NotUtf8,
        Code::NumberAlreadySynced,
        Code::NumberExists,
        Code::NumberInAnotherAccount,
        Code::NumberNotFound,
        Code::OutOfRange,
        Code::RepeatabilityRejected,
        Code::Required,
        Code::ServiceInUse,
        Code::ServiceNotEnabledOnAccount,
        Code::ServicesCannotCombine,
        Code::SyncUnderWay,
        Code::TenantIdLocked,
        Code::TenantIdRequired,
        Code::TooManyCells,
        Code::UnsupportedFilter,
        Code::NotInInventory,
        Code::NumberReservedForAnotherAccount,
        Code::NumberQuarantinedFromAnotherAccount,
        Code::WrongInventoryState,
        Code::TooManyTags,
        Code::ServiceNotOnNumber,
        Code::CivicAddressNotFound,
        Code::LocationNotFound,
        Code::ServiceLaunched,
    ];

    /// The code as sent on the wire and kept in import reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::AccountHasNumbers => "AccountHasNumbers",
            Code::AccountMismatch => "AccountMismatch",
            Code::AccountNotFound => "AccountNotFound",
            Code::BatchSize => "BatchSize",
            Code::CustomHeaderNotSupported => "CustomHeaderNotSupported",
            Code::DomainTooLong => "DomainTooLong",
            Code::Duplicate => "Duplicate",
            Code::FlowThroughNotSupported => "FlowThroughNotSupported",
            Code::InvalidFormat => "InvalidFormat",
            Code::InvalidHeader => "InvalidHeader",
            Code::InvalidJson => "InvalidJson",
            Code::InvalidValue => "InvalidValue",
            Code::JobNotInterrupted => "JobNotInterrupted",
            Code::JobTakenOver => "JobTakenOver",
            Code::KeyMismatch => "KeyMismatch",
            Code::NameMismatch => "NameMismatch",
            Code::NotResumable => "NotResumable",
            Code::NotUtf8 => "NotUtf8",
            Code::NumberAlreadySynced => "NumberAlreadySynced",
            Code::NumberExists => "NumberExists",
            Code::NumberInAnotherAccount => "NumberInAnotherAccount",
            Code::NumberNotFound => "NumberNotFound",
            Code::OutOfRange => "OutOfRange",
            Code::RepeatabilityRejected => "RepeatabilityRejected",
            Code::Required => "Required",
            Code::ServiceInUse => "ServiceInUse",
            Code::ServiceNotEnabledOnAccount => "ServiceNotEnabledOnAccount",
            Code::ServicesCannotCombine => "ServicesCannotCombine",
            Code::SyncUnderWay => "SyncUnderWay",
            Code::TenantIdLocked => "TenantIdLocked",
            Code::TenantIdRequired => "TenantIdRequired",
            Code::TooManyCells => "TooManyCells",
            Code::UnsupportedFilter => "UnsupportedFilter",
            Code::NotInInventory => "NotInInventory",
            Code::NumberReservedForAnotherAccount => "NumberReservedForAnotherAccount",
            Code::NumberQuarantinedFromAnotherAccount => "NumberQuarantinedFromAnotherAccount",
            Code::WrongInventoryState => "WrongInventoryState",
            Code::TooManyTags => "TooManyTags",
            Code::ServiceNotOnNumber => "ServiceNotOnNumber",
            Code::CivicAddressNotFound => "CivicAddressNotFound",
            Code::LocationNotFound => "LocationNotFound",
            Code::ServiceLaunched => "ServiceLaunched",
        }
    }

    /// A clash with what is stored rather than bad input (HTTP 409).
    pub fn is_conflict(self) -> bool {
        matches!(
            self,
            Code::NumberInAnotherAccount
                | Code::AccountHasNumbers
                | Code::NumberExists
                | Code::NumberReservedForAnotherAccount
                | Code::NumberQuarantinedFromAnotherAccount
                | Code::WrongInventoryState
                | Code::ServiceNotOnNumber
                | Code::ServiceLaunched
        )
    }

    /// About something that does not exist (HTTP 404).
    pub fn is_not_found(self) -> bool {
        matches!(self, Code::NumberNotFound | Code::NotInInventory)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule: which item of a batch (its position in `numbers`), which field inside it
/// (a JSON path as the API spells it), a code from [`Code`], and a sentence that says the rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The batch item concerned, when the request carried several numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// The field, inside the item when there is one; empty for the item or request as a whole.
    pub field: String,
    pub code: Code,
    pub message: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, code: Code, message: impl Into<String>) -> Self {
        Self {
            item: None,
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// The same violation, about `field`.
    pub fn at(mut self, field: &str) -> Self {
        self.field = field.to_owned();
        self
    }

    /// The same violation, about item `index` of a batch of numbers.
    pub fn in_item(mut self, index: usize) -> Self {
        self.item = Some(index);
        self
    }

    /// The whole path, as the API's error `target` names it: `numbers[3].` + field for an item.
    pub fn path(&self) -> String {
        match (self.item, self.field.is_empty()) {
            (None, _) => self.field.clone(),
            (Some(index), true) => format!("numbers[{index}]"),
            (Some(index), false) => format!("numbers[{index}].{}", self.field),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{path}: {}", self.message)
        }
    }
}

/// Every rule a request breaks, so a person can fix them all at once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }

    pub fn extend(&mut self, other: Violations) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    /// Parses `raw` with `parse`, recording a violation on `field` when it fails.
    pub fn parse<T>(
        &mut self,
        field: &str,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, Violation>,
    ) -> Option<T> {
        match parse(raw) {
            Ok(value) => Some(value),
            Err(mut violation) => {
                violation.field = field.to_owned();
                self.push(violation);
                None
            }
        }
    }

    /// Parses `raw`, the `field` of item `index` of a batch, recording a violation there when
    /// it fails.
    pub fn parse_item<T>(
        &mut self,
        index: usize,
        field: &str,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, Violation>,
    ) -> Option<T> {
        let found = self.parse(field, raw, parse);
        if found.is_none() {
            if let Some(last) = self.0.last_mut() {
                last.item = Some(index);
            }
        }
        found
    }

    /// `Ok(value)` when nothing was broken.
    pub fn into_result<T>(self, value: T) -> Result<T, Violations> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Violation> for Violations {
    fn from(violation: Violation) -> Self {
        Self(vec![violation])
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, violation) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{violation}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_violation_names_its_item_and_field_as_the_api_path() {
        let field = Violation::new("configuration.customSipHeader", Code::InvalidValue, "bad");
        assert_eq!(field.path(), "configuration.customSipHeader");
        let in_item = field.in_item(12);
        assert_eq!(in_item.item, Some(12));
        assert_eq!(in_item.field, "configuration.customSipHeader");
        assert_eq!(in_item.path(), "numbers[12].configuration.customSipHeader");
        assert_eq!(
            in_item.to_string(),
            "numbers[12].configuration.customSipHeader: bad"
        );
        let whole = Violation::new("", Code::NumberNotFound, "gone").in_item(0);
        assert_eq!(whole.path(), "numbers[0]");
    }

    #[test]
    fn codes_are_sent_by_their_names() {
        for code in Code::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), code);
        }
        assert!(Code::NumberInAnotherAccount.is_conflict());
        assert!(Code::NumberNotFound.is_not_found() && !Code::Required.is_conflict());
    }
}
