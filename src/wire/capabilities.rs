//! Operator Connect's capability plans in ACG's shape, and the set served before sync has
//! fetched any. Depends on serde only.

use serde::{Deserialize, Serialize};

/// One of Operator Connect's capability plans, in ACG's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityPlan {
    pub name: String,
    #[serde(default)]
    pub offer_types: Vec<String>,
    pub usage: String,
    #[serde(default)]
    pub mandatory_capabilities: Vec<String>,
    #[serde(default)]
    pub choosable_capabilities: Vec<String>,
    pub supports_toll_free: bool,
}

/// The plans served when none are configured.
pub fn default_capability_plans() -> Vec<CapabilityPlan> {
    let plan = |name: &str, usage: &str, choosable: &[&str], toll_free: bool| CapabilityPlan {
        name: name.to_owned(),
        offer_types: vec!["Calling".to_owned()],
        usage: usage.to_owned(),
        mandatory_capabilities: vec![],
        choosable_capabilities: choosable.iter().map(|c| (*c).to_owned()).collect(),
        supports_toll_free: toll_free,
    };
    vec![
        plan(
            "calling-user",
            "CallingUserAssignment",
            &["InboundCalling", "OutboundCalling"],
            false,
        ),
        plan(
            "first-party-app",
            "FirstPartyAppAssignment",
            &["InboundCalling", "OutboundCalling"],
            true,
        ),
        plan(
            "conference",
            "ConferenceAssignment",
            &["InboundCalling"],
            true,
        ),
    ]
}
