//! Operator Connect's wire format, as Numbat speaks it: paths, bodies and statuses of the
//! Operator Management API (consents) and the Telephone Number Management API (orders, civic
//! addresses, capabilities).
//!
//! Microsoft publishes these APIs to operators only, so this follows the data model ACG's own
//! Provisioning API mirrors (`../shared/reference/notes/upstream.md` §1–§2): the same field
//! names for consents, civic addresses and number configuration, and asynchronous orders with a
//! result per number. Everything about the upstream's wire format lives here, so it can be
//! corrected in one place; the client and the emulator both use it.

use crate::domain::consent::{RequestForInformation, TeamsCivicAddress};
use crate::domain::number::{AssignmentStatus, TeamsNumberConfig};
use serde::{Deserialize, Serialize};

/// The consents list (Operator Management API), paged with `nextLink`.
pub const CONSENTS: &str = "/operator-management/v1/consents";
/// Numbers go up and come down as orders (Telephone Number Management API).
pub const ORDERS: &str = "/number-management/v1/orders";
/// Per-tenant resources of the Telephone Number Management API.
pub const TENANTS: &str = "/number-management/v1/tenants";
/// The header that makes a create safe to repeat: the same key returns the same order.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The consent of one tenant.
pub fn consent_path(tenant: &str) -> String {
    format!("{CONSENTS}/{tenant}")
}

pub fn order_path(id: &str) -> String {
    format!("{ORDERS}/{id}")
}

pub fn civic_addresses_path(tenant: &str) -> String {
    format!("{TENANTS}/{tenant}/civic-addresses")
}

pub fn capability_plans_path(tenant: &str) -> String {
    format!("{TENANTS}/{tenant}/capability-plans")
}

pub fn available_capabilities_path(tenant: &str) -> String {
    format!("{TENANTS}/{tenant}/available-capabilities")
}

/// A page of a list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub value: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// A consent as the Operator Management API reports it (ACG's Request for Information is the
/// same object).
pub type Consent = RequestForInformation;

/// A civic address with its locations, as the upstream reports it.
pub type CivicAddress = TeamsCivicAddress;

/// `PATCH` body of a consent: only the customer relationship is the operator's to write.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentPatch {
    pub customer_relationship: serde_json::Value,
}

/// Upload (add or update) or release numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderType {
    Upload,
    Release,
}

/// A number in an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderNumber {
    pub telephone_number: String,
    /// `OperatorConnect` or `TeamsPhoneMobile`; none for a release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_status: Option<AssignmentStatus>,
    /// Usage, capabilities, emergency address: ACG's `TeamsCommonNumberConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<TeamsNumberConfig>,
}

/// `POST` body of an order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrder {
    pub order_type: OrderType,
    pub tenant_id: String,
    pub numbers: Vec<OrderNumber>,
}

/// Where an order is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderStatus {
    Pending,
    InProgress,
    Succeeded,
    PartiallySucceeded,
    Failed,
}

impl OrderStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::PartiallySucceeded | Self::Failed
        )
    }
}

/// One number's result in an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberResult {
    pub telephone_number: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// An order as the upstream reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub order_type: OrderType,
    pub tenant_id: String,
    pub status: OrderStatus,
    #[serde(default)]
    pub numbers: Vec<NumberResult>,
}

/// `POST` body asking which capabilities numbers may have.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityQuery {
    pub telephone_numbers: Vec<String>,
}

/// The answer to a `CapabilityQuery`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailableCapabilities {
    pub available_capabilities: Vec<String>,
}

/// An error body: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
            },
        }
    }
}

/// The `numberType` of a Numbat service's wire name.
pub fn number_type(service: &str) -> Option<&'static str> {
    crate::domain::Service::from_wire_name(service)?
        .traits()
        .upstream_number_type
}
