//! Operator Connect consents (ACG's Requests for Information) and Teams civic addresses: both
//! come from Microsoft through sync; an operator only updates a consent's customer relationship.

use super::names::{AccountName, TenantId};
use super::violation::Violation;
use super::Code;
use serde::{Deserialize, Serialize};

/// An enterprise's request for Operator Connect / Teams Phone Mobile service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestForInformation {
    pub id: String,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<AccountName>,
    pub product_context: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_id: Option<String>,
    pub status: ConsentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consented_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_on: Option<String>,
    #[serde(default)]
    pub consented_countries: Vec<String>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_relationship: Option<CustomerRelationship>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConsentStatus {
    Active,
    Suspended,
    Removed,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Removed => "removed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub full_name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_size: Option<String>,
}

/// Where the operator stands with the enterprise; the only part of a consent Numbat writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRelationship {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A change to a customer relationship, as a merge patch: `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelationshipChange {
    pub status: Option<String>,
    pub comment: Option<String>,
}

/// Statuses that need a reason in `comment` (the portal's "Consent declined", "Contract terminated").
const NEEDS_REASON: [&str; 2] = ["ConsentDeclined", "ContractTerminated"];

impl RelationshipChange {
    pub const COMMENT_MAX_LEN: usize = 1024;
    pub const STATUS_MAX_LEN: usize = 64;

    pub fn check(&self, current: Option<&CustomerRelationship>) -> Result<(), Violation> {
        if let Some(status) = &self.status {
            if status.is_empty()
                || status.len() > Self::STATUS_MAX_LEN
                || !status.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(Violation::new(
                    "customerRelationship.status",
                    Code::InvalidFormat,
                    "must be 1–64 letters and digits, e.g. AgreementSigned",
                ));
            }
        }
        if self
            .comment
            .as_ref()
            .is_some_and(|c| c.chars().count() > Self::COMMENT_MAX_LEN)
        {
            return Err(Violation::new(
                "customerRelationship.comment",
                Code::InvalidFormat,
                format!("must be at most {} characters", Self::COMMENT_MAX_LEN),
            ));
        }
        let status = self
            .status
            .as_deref()
            .or(current.and_then(|c| c.status.as_deref()));
        let comment = self
            .comment
            .as_deref()
            .or(current.and_then(|c| c.comment.as_deref()));
        if let Some(status) = status.filter(|s| NEEDS_REASON.contains(s)) {
            if comment.is_none_or(|c| c.trim().is_empty()) {
                return Err(Violation::new(
                    "customerRelationship.comment",
                    Code::Required,
                    format!("must give the reason when the status is {status}"),
                ));
            }
        }
        Ok(())
    }
}

/// An emergency address the enterprise keeps in Teams, with its locations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsCivicAddress {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    pub default_location_id: String,
    #[serde(
        default,
        deserialize_with = "ValidationStatus::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub validation_status: Option<ValidationStatus>,
    /// The address lines and the rest of ACG's fields, kept as they came.
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub locations: Vec<TeamsLocation>,
}

/// Whether Teams has validated a civic address, written as the swagger's enum (`validated`,
/// `notValidated`) whatever case the upstream used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ValidationStatus {
    Validated,
    NotValidated,
}

impl ValidationStatus {
    /// Any case of either name (`Validated`, `notValidated`, `not_validated`); anything else
    /// reads as unknown rather than failing the whole address.
    pub fn parse(raw: &str) -> Option<Self> {
        let folded: String = raw
            .chars()
            .filter(|c| *c != '_' && *c != '-' && *c != ' ')
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "validated" => Some(Self::Validated),
            "notvalidated" => Some(Self::NotValidated),
            _ => None,
        }
    }

    fn lenient<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Self>, D::Error> {
        let raw: Option<String> = Option::deserialize(de)?;
        Ok(raw.as_deref().and_then(Self::parse))
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Validated => "validated",
            Self::NotValidated => "not validated",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsLocation {
    pub id: String,
    pub civic_address_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elin: Option<String>,
}
