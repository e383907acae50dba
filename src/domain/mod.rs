//! What provisioning is made of and the rules it obeys, with no I/O.
//!
//! Values are parsed, not validated: a `TelephoneNumber` or an `AccountName` exists only if it
//! is valid, so nothing downstream checks it again. Depends on nothing else of ours; compiles
//! for the server and for the browser.

pub mod account;
pub mod consent;
pub mod inventory;
pub mod labels;
pub mod names;
pub mod number;
pub mod portal;
pub mod rules;
pub mod service;
pub mod telephone;
pub mod violation;

pub use account::{
    Account, AccountServices, DirectRoutingConfig, ProvisioningStatus, SubdomainStatus,
};
pub use inventory::{InventoryState, NumberRange, Quarantine, QuarantineDays};
pub use labels::{Labels, Note, Tag, Tags};
pub use names::{
    AccountName, BaseDomain, CustomSipHeader, CustomerDomain, SipHeaderName, SubdomainLabel,
    SubdomainToken, TenantId,
};
pub use number::{AssignmentStatus, Number, NumberService, NumberServices, TeamsNumberConfig};
pub use service::{FlowThrough, Service, ServiceTraits};
pub use telephone::{LineType, TelephoneNumber};
pub use violation::{Code, Violation, Violations};
