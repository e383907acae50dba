//! A tenant's civic addresses as the portal shows them and offers them as choices (the
//! account's page, the number form, the emergency location). Depends on the core's records
//! only, so every page may use it.

use serde::{Deserialize, Serialize};

/// The most civic addresses a form offers (a tenant with more is told so).
#[cfg(feature = "ssr")]
pub const SHOWN_ADDRESSES: i64 = 500;

/// A civic address with its locations, read-only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CivicView {
    pub id: String,
    pub summary: String,
    pub company: Option<String>,
    pub description: Option<String>,
    pub validated: Option<String>,
    pub locations: Vec<(String, Option<String>, Option<String>)>,
}

#[cfg(feature = "ssr")]
pub fn civic_view(record: crate::provisioning::CivicAddressRecord) -> CivicView {
    let address = record.address;
    let text = |key: &str| {
        address
            .details
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let summary = ["houseNumber", "streetName", "city", "postalCode", "country"]
        .iter()
        .filter_map(|k| text(k))
        .collect::<Vec<_>>()
        .join(", ");
    CivicView {
        id: address.id.clone(),
        summary,
        company: text("companyName"),
        description: text("description"),
        validated: address.validation_status.map(|v| v.label().to_owned()),
        locations: address
            .locations
            .iter()
            .map(|l| (l.id.clone(), l.description.clone(), l.elin.clone()))
            .collect(),
    }
}

/// An address as its choice reads: the address, then the company or description.
pub fn address_label(address: &CivicView) -> String {
    let mut label = if address.summary.is_empty() {
        address.id.clone()
    } else {
        address.summary.clone()
    };
    if let Some(extra) = address.company.as_ref().or(address.description.as_ref()) {
        label.push_str(&format!(" ({extra})"));
    }
    if address.validated.as_deref() == Some("not validated") {
        label.push_str(" — not validated");
    }
    label
}

/// A location as its choice reads: its description, then its ID.
pub fn location_label(id: &str, description: Option<&str>) -> String {
    description.map_or_else(|| id.to_owned(), |d| format!("{d} ({id})"))
}
