//! Our OpenAPI 3 document (`/openapi.json`): every operation served under `/provisioning`,
//! ACG's shapes plus what we add (the `after` cursor, `lineType`/`country` filters, 429/403
//! answers of the optional limits), and the readable reference page at `/api-docs` built from it.

use super::{API_VERSION, MOUNT};
use crate::domain::Service;
use serde_json::{json, Value};

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn param_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

fn json_body(schema: &str, media: &str) -> Value {
    json!({ "required": true, "content": { media: { "schema": schema_ref(schema) } } })
}

fn ok(description: &str, schema: &str, etag: bool) -> Value {
    let mut headers =
        json!({ "x-ms-client-request-id": { "$ref": "#/components/headers/ClientRequestId" } });
    if etag {
        headers["ETag"] = json!({ "$ref": "#/components/headers/ETag" });
    }
    json!({ "description": description, "headers": headers, "content": { "application/json": { "schema": schema_ref(schema) } } })
}

fn list_ok(schema: &str) -> Value {
    json!({
        "description": "A page of results.",
        "headers": {
            "x-ms-record-count": { "description": "Total number of matching items, with countRecords=true.", "schema": { "type": "integer", "format": "int64" } },
            "x-ms-client-request-id": { "$ref": "#/components/headers/ClientRequestId" }
        },
        "content": { "application/json": { "schema": schema_ref(schema) } }
    })
}

fn errors(codes: &[&str]) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for code in codes {
        out.insert(
            (*code).to_owned(),
            json!({ "$ref": format!("#/components/responses/Error{code}") }),
        );
    }
    out
}

fn operation(
    id: &str,
    summary: &str,
    role: &str,
    params: &[&str],
    body: Option<Value>,
    responses: Vec<(&str, Value)>,
    error_codes: &[&str],
) -> Value {
    let mut all = errors(&["400", "401", "403", "429"]);
    all.extend(errors(error_codes));
    for (code, response) in responses {
        all.insert(code.to_owned(), response);
    }
    let mut parameters: Vec<Value> = vec![param_ref("ApiVersion"), param_ref("ClientRequestId")];
    parameters.extend(params.iter().map(|p| param_ref(p)));
    let mut op = json!({
        "operationId": id,
        "summary": summary,
        "description": format!("Needs the {role} role."),
        "parameters": parameters,
        "responses": all,
    });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    op
}

const LIST: [&str; 6] = [
    "Top",
    "Skip",
    "MaxPageSize",
    "Filter",
    "CountRecords",
    "After",
];
const WRITE: [&str; 5] = [
    "IfMatch",
    "IfNoneMatch",
    "IfUnmodifiedSince",
    "RepeatabilityRequestId",
    "RepeatabilityFirstSent",
];

fn with(a: &[&'static str], b: &[&'static str]) -> Vec<&'static str> {
    a.iter().chain(b).copied().collect()
}

/// `op` under the Inventory tag (Numbat's own operations beside ACG's).
fn tagged(mut op: Value) -> Value {
    op["tags"] = json!(["Inventory"]);
    op
}

/// `op` under the Launch tag.
fn launch(mut op: Value) -> Value {
    op["tags"] = json!(["Launch"]);
    op
}

/// `op` under the Billing tag.
fn billing(mut op: Value) -> Value {
    op["tags"] = json!(["Billing"]);
    op
}

/// `op` under the Events tag.
fn events(mut op: Value) -> Value {
    op["tags"] = json!(["Events"]);
    op
}

/// `op` under the Emergency tag.
fn emergency(mut op: Value) -> Value {
    op["tags"] = json!(["Emergency"]);
    op
}

/// `op` under the Labels tag.
fn labelled(mut op: Value) -> Value {
    op["tags"] = json!(["Labels"]);
    op
}

/// The whole document.
pub fn document() -> Value {
    let no_content = json!({ "description": "Done.", "headers": { "x-ms-client-request-id": { "$ref": "#/components/headers/ClientRequestId" } } });
    let paths = json!({
        "/accounts": { "get": operation("Accounts_List", "List accounts", "Read", &LIST, None, vec![("200", list_ok("PagedAccountResource"))], &[]) },
        "/accounts/{accountName}": {
            "get": operation("Accounts_Get", "Get an account", "Read", &["AccountName", "IfMatch", "IfNoneMatch", "IfModifiedSince", "IfUnmodifiedSince"], None,
                vec![("200", ok("The account.", "AccountResource", true)), ("304", json!({ "description": "Not modified." }))], &["404", "412"]),
            "put": operation("Accounts_CreateOrReplace", "Create or replace an account", "Write", &with(&["AccountName"], &WRITE),
                Some(json_body("AccountResource", "application/json")),
                vec![("200", ok("Replaced.", "AccountResource", true)), ("201", ok("Created.", "AccountResource", true))], &["409", "412"]),
            "delete": operation("Accounts_Delete", "Delete an account", "Delete", &with(&["AccountName", "DeleteNumbers"], &WRITE), None,
                vec![("204", no_content.clone())], &["404", "409", "412"]),
        },
        "/accounts/{accountName}:createOrUpdateNumbers": { "post": operation("Accounts_CreateOrUpdateNumbers",
            "Create or replace up to 100 numbers, all or nothing", "Write", &["AccountName", "RepeatabilityRequestId", "RepeatabilityFirstSent"],
            Some(json_body("BatchNumbers", "application/json")), vec![("200", ok("The numbers as stored.", "BatchNumbers", false))], &["404", "409"]) },
        "/accounts/{accountName}:deleteNumbers": { "post": operation("Accounts_DeleteNumbers",
            "Delete up to 100 numbers, all or nothing", "Delete", &["AccountName", "RepeatabilityRequestId", "RepeatabilityFirstSent"],
            Some(json_body("BatchNumbersDelete", "application/json")), vec![("204", no_content.clone())], &["404"]) },
        "/accounts/{accountName}:getTeamsCapabilityPlans": { "post": operation("Accounts_GetTeamsCapabilityPlans",
            "Capability plans Operator Connect offers the account's tenant (from configuration when sync is off)", "Read", &["AccountName"], None,
            vec![("200", ok("The plans.", "TeamsCapabilityPlans", false))], &["404", "502", "503"]) },
        "/accounts/{accountName}:getTeamsAvailableCapabilities": { "post": operation("Accounts_GetTeamsAvailableCapabilities",
            "Capabilities numbers may choose, from Operator Connect (from configuration when sync is off)", "Read", &["AccountName"],
            Some(json_body("NumberIdentifiers", "application/json")), vec![("200", ok("The capabilities.", "TeamsAvailableCapabilities", false))], &["404", "502", "503"]) },
        "/accounts/{accountName}:retrySync": { "post": operation("Accounts_RetrySync",
            "Send numbers that did not sync (failed, or pending with nothing on the way) to Operator Connect again; an empty list means all of the account's (a Numbat addition)", "Write", &["AccountName"],
            Some(json_body("NumberIdentifiers", "application/json")), vec![("200", ok("How many numbers were queued again.", "SyncRetried", false))], &["404"]) },
        "/accounts/{accountName}/numbers": { "get": operation("Accounts_ListNumbers", "List an account's numbers", "Read",
            &with(&["AccountName"], &LIST), None, vec![("200", list_ok("PagedNumberResource"))], &["404"]) },
        "/accounts/{accountName}/numbers/{telephoneNumber}": {
            "get": operation("Accounts_GetNumber", "Get a number", "Read", &["AccountName", "TelephoneNumber", "IfMatch", "IfNoneMatch", "IfModifiedSince", "IfUnmodifiedSince"], None,
                vec![("200", ok("The number.", "NumberResource", true)), ("304", json!({ "description": "Not modified." }))], &["404", "412"]),
            "put": operation("Accounts_CreateOrReplaceNumber", "Create or replace a number", "Write", &with(&["AccountName", "TelephoneNumber"], &WRITE),
                Some(json_body("NumberResource", "application/json")),
                vec![("200", ok("Replaced.", "NumberResource", true)), ("201", ok("Created.", "NumberResource", true))], &["404", "409", "412"]),
            "delete": operation("Accounts_DeleteNumber", "Delete a number", "Delete", &with(&["AccountName", "TelephoneNumber"], &WRITE), None,
                vec![("204", no_content.clone())], &["404", "412"]),
        },
        "/accounts/{accountName}/directRoutingOnboarding": { "get": operation("Accounts_GetDirectRoutingOnboarding",
            "A Direct Routing account's customer domains, their TXT records and DNS status, and the steps its customer's Microsoft 365 admin takes, with PowerShell ready to paste (a Numbat addition)", "Read",
            &["AccountName"], None, vec![("200", ok("The onboarding.", "DirectRoutingOnboarding", false))], &["404", "409"]) },
        "/routing/{telephoneNumber}": { "get": operation("Routing_Get",
            "What the SIP edge does with a call to (fromOperator) or from (toOperator) a number: its service, custom header, Direct Routing Contact host, or why it is refused (a Numbat addition)", "Read",
            &["TelephoneNumber", "Direction", "Subdomain", "Region"], None, vec![("200", ok("The decision.", "RoutingDecision", false))], &[]) },
        "/accounts/{accountName}/teamsCivicAddresses": { "get": operation("Accounts_ListTeamsCivicAddresses", "List the Teams tenant's civic addresses",
            "Read", &with(&["AccountName"], &LIST), None, vec![("200", list_ok("PagedTeamsCivicAddressResource"))], &["404"]) },
        "/accounts/{accountName}/teamsCivicAddresses/{civicAddressId}": { "get": operation("Accounts_GetTeamsCivicAddress", "Get a civic address",
            "Read", &["AccountName", "CivicAddressId", "IfMatch", "IfNoneMatch", "IfModifiedSince", "IfUnmodifiedSince"], None,
            vec![("200", ok("The address.", "TeamsCivicAddressResource", true)), ("304", json!({ "description": "Not modified." }))], &["404", "412"]) },
        "/inventory": {
            "get": tagged(operation("Inventory_List",
                "The operator's inventory: numbers available, reserved for an account, or quarantined after release; assigned numbers are listed under /numbers (a Numbat addition)", "Read",
                &["InventoryState", "InventoryAccountName", "InventoryPrefix", "TagFilter", "Top", "Skip", "MaxPageSize", "After"], None, vec![("200", list_ok("PagedInventoryNumber"))], &[])),
            "post": tagged(operation("Inventory_Act",
                "Add, remove, reserve, cancel a reservation, set or end a quarantine, assign to an account or release from it: up to 10,000 numbers by list or by range, with a result per number; a number a rule refuses is left as it is (a Numbat addition)", "Write (Delete to remove or release)",
                &[], Some(json_body("InventoryAction", "application/json")), vec![("200", ok("What was done to each number.", "InventoryActionReport", false))], &["404"])),
        },
        "/inventory/{telephoneNumber}": { "get": tagged(operation("Inventory_Get",
            "Where one number stands: available, reserved, assigned or quarantined, with its account and end date (a Numbat addition)", "Read",
            &["TelephoneNumber"], None, vec![("200", ok("The number's standing.", "InventoryNumber", false))], &["404"])) },
        "/labels/numbers": {
            "get": labelled(operation("Labels_ListNumbers",
                "The numbers carrying a tag, in any state of the inventory, with their tags and note (a Numbat addition)", "Read",
                &["Tag", "Top", "Skip", "MaxPageSize", "After"], None, vec![("200", list_ok("PagedLabels"))], &[])),
            "post": labelled(operation("Labels_ChangeNumberTags",
                "Add tags to and take tags from up to 10,000 numbers, by list or by range, with a result per number; a number a rule refuses is left as it is (a Numbat addition)", "Write",
                &[], Some(json_body("TagChange", "application/json")), vec![("200", ok("What was done to each number.", "InventoryActionReport", false))], &[])),
        },
        "/labels/numbers/{telephoneNumber}": {
            "get": labelled(operation("Labels_GetNumber", "A number's tags and note, in any state of the inventory (a Numbat addition)", "Read",
                &["TelephoneNumber"], None, vec![("200", ok("The labels; the ETag is their own version.", "Labels", true))], &["404"])),
            "put": labelled(operation("Labels_SetNumber", "Replace a number's tags and note; the number itself and its ETag are left alone (a Numbat addition)", "Write",
                &["TelephoneNumber", "IfMatch", "IfNoneMatch", "IfUnmodifiedSince"], Some(json_body("LabelsIn", "application/json")),
                vec![("200", ok("The labels as stored.", "Labels", true))], &["404", "412"])),
        },
        "/labels/accounts": {
            "get": labelled(operation("Labels_ListAccounts", "The accounts carrying a tag, with their tags and note (a Numbat addition)", "Read",
                &["Tag", "Top", "Skip", "MaxPageSize", "After"], None, vec![("200", list_ok("PagedLabels"))], &[])),
        },
        "/labels/accounts/{accountName}": {
            "get": labelled(operation("Labels_GetAccount", "An account's tags and note (a Numbat addition)", "Read",
                &["AccountName"], None, vec![("200", ok("The labels; the ETag is their own version.", "Labels", true))], &["404"])),
            "put": labelled(operation("Labels_SetAccount", "Replace an account's tags and note; the account itself and its ETag are left alone (a Numbat addition)", "Write",
                &["AccountName", "IfMatch", "IfNoneMatch", "IfUnmodifiedSince"], Some(json_body("LabelsIn", "application/json")),
                vec![("200", ok("The labels as stored.", "Labels", true))], &["404", "412"])),
        },
        "/verificationNumbers": {
            "get": launch(operation("VerificationNumbers_List",
                "Every service's test numbers for Microsoft's verification (six asked in production, three in a lab), each with whether it has the service on and is synced (a Numbat addition)", "Read",
                &[], None, vec![("200", ok("Per service, its test numbers.", "VerificationNumbers", false))], &[])),
            "post": launch(operation("VerificationNumbers_Act",
                "Mark or unmark up to 20 numbers as test numbers of a service, with a result per number; marking needs the number in an account with the service on (a Numbat addition)", "Write",
                &[], Some(json_body("VerificationAction", "application/json")), vec![("200", ok("What was done to each number.", "InventoryActionReport", false))], &[])),
        },
        "/billableUsers": {
            "get": billing(operation("BillableUsers_Get",
                "A month's billable users per service and account, as ACG bills them: the most users on any day of the month, from the daily counts (a Numbat addition)", "Read",
                &["Month"], None, vec![("200", ok("The month's users.", "BillableUsers", false))], &[])),
        },
        "/events": {
            "get": events(operation("Events_List",
                "Changes in commit order, after a cursor this feed gave (none: from the start): numbers, accounts, consents, civic addresses, settings and jobs, each the audit event its change wrote in the same transaction. With the header `Prefer: wait=N` (RFC 7240, N up to 30 seconds) a read that finds nothing new waits that long for the first new change; `Preference-Applied` says the wait used. Keep the answer's `cursor` and read after it again (a Numbat addition)", "Read",
                &["FeedAfter", "FeedPageSize"], None, vec![("200", ok("Up to maxpagesize changes and the cursor to read after next.", "FeedPage", false))], &[])),
        },
        "/webhooks": {
            "get": events(operation("Webhooks_List", "Every webhook subscription, without its secret (a Numbat addition)", "Admin",
                &[], None, vec![("200", ok("The subscriptions.", "WebhookSubscriptions", false))], &[])),
            "post": events(operation("Webhooks_Create",
                "Make a webhook subscription: an https URL outside loopback and private ranges (unless the deployment allows them), the event or resource types it takes (none: all), optionally one account's events only. Deliveries are signed as Standard Webhooks asks; the secret is in this answer only (a Numbat addition)", "Admin",
                &[], Some(json_body("WebhookSubscriptionIn", "application/json")), vec![("201", ok("The subscription, with its secret.", "WebhookSubscription", false))], &[])),
        },
        "/webhooks/{webhookId}": {
            "get": events(operation("Webhooks_Get", "One webhook subscription, without its secret (a Numbat addition)", "Admin",
                &["WebhookId"], None, vec![("200", ok("The subscription.", "WebhookSubscription", false))], &["404"])),
            "delete": events(operation("Webhooks_Delete", "Delete a webhook subscription and its delivery log (a Numbat addition)", "Admin",
                &["WebhookId"], None, vec![("204", json!({ "description": "Deleted." }))], &["404"])),
        },
        "/webhooks/{webhookId}/deliveries": {
            "get": events(operation("Webhooks_Deliveries", "A subscription's newest 200 delivery attempts: event, outcome, attempt, status, the start of the answer, time (a Numbat addition)", "Admin",
                &["WebhookId"], None, vec![("200", ok("The attempts, newest first.", "WebhookDeliveries", false))], &["404"])),
        },
        "/webhooks/{webhookId}/replay": {
            "post": events(operation("Webhooks_Replay", "Deliver again every event after an event's id, or from an RFC 3339 time on; each keeps its webhook-id (a Numbat addition)", "Admin",
                &["WebhookId"], Some(json_body("WebhookReplay", "application/json")), vec![("200", ok("The subscription, at its new place.", "WebhookSubscription", false))], &["404"])),
        },
        "/webhooks/{webhookId}/redeliver": {
            "post": events(operation("Webhooks_Redeliver", "Deliver one event the subscription takes again, now and out of turn, under its own webhook-id; the subscription's place and the events waiting are left as they are (a Numbat addition)", "Admin",
                &["WebhookId"], Some(json_body("WebhookRedeliver", "application/json")), vec![("200", ok("The attempt, as the delivery log keeps it.", "WebhookDelivery", false))], &["404"])),
        },
        "/webhooks/{webhookId}/rotateSecret": {
            "post": events(operation("Webhooks_RotateSecret", "Give a subscription a new secret, in this answer only; for a day deliveries carry signatures under both the new and the old secret (a Numbat addition)", "Admin",
                &["WebhookId"], None, vec![("200", ok("The subscription, with its new secret.", "WebhookSubscription", false))], &["404"])),
        },
        "/webhooks/{webhookId}/resume": {
            "post": events(operation("Webhooks_Resume", "Make a paused subscription active again, retrying the event it is on at once (a Numbat addition)", "Admin",
                &["WebhookId"], None, vec![("200", ok("The subscription.", "WebhookSubscription", false))], &["404"])),
        },
        "/emergencyLocations/{telephoneNumber}": {
            "get": emergency(operation("EmergencyLocations_Get",
                "An Operator Connect or Teams Phone Mobile number's civic address and location, with the address as its tenant keeps it (a Numbat addition)", "Read",
                &["TelephoneNumber"], None, vec![("200", ok("The location; the ETag is the number's.", "EmergencyLocation", true))], &["404", "409"])),
            "put": emergency(operation("EmergencyLocations_Set",
                "Change an Operator Connect or Teams Phone Mobile number's civic address and location, chosen from its tenant's civic addresses; written as a change of the number (its history, its ETag, sent to Operator Connect) (a Numbat addition)", "Write",
                &["TelephoneNumber", "IfMatch", "IfNoneMatch", "IfUnmodifiedSince"], Some(json_body("EmergencyLocationIn", "application/json")),
                vec![("200", ok("The location as stored; the ETag is the number's.", "EmergencyLocation", true))], &["404", "409", "412"])),
        },
        "/numbers": { "get": operation("ListNumbers", "List numbers across accounts", "Read", &LIST, None, vec![("200", list_ok("PagedNumberResource"))], &[]) },
        "/teamsRequestsForInformation": { "get": operation("TeamsRequestsForInformation_List", "List requests for information (consents)", "Read",
            &LIST, None, vec![("200", list_ok("PagedRequestForInformationResource"))], &[]) },
        "/teamsRequestsForInformation/{tenantId}": {
            "get": operation("TeamsRequestsForInformation_GetRequestForInformation", "Get a request for information", "Read",
                &["TenantId", "IfMatch", "IfNoneMatch", "IfModifiedSince", "IfUnmodifiedSince"], None,
                vec![("200", ok("The request.", "RequestForInformationResource", true)), ("304", json!({ "description": "Not modified." }))], &["404", "412"]),
            "patch": operation("TeamsRequestsForInformation_CreateOrUpdateRequestForInformation", "Update the customer relationship (merge patch)",
                "Write", &with(&["TenantId"], &WRITE), Some(json_body("RequestForInformationResourceCreateOrUpdate", "application/merge-patch+json")),
                vec![("200", ok("Updated.", "RequestForInformationResource", true))], &["404", "412"]),
        },
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Numbat Provisioning API",
            "version": API_VERSION,
            "description": "Azure Communications Gateway's Provisioning API (2024-02-29-preview), as Numbat serves it. \
                Additions: the `after` cursor that nextLink carries, the lineType and country filters on numbers, \
                and 403/429 answers when the optional source allowlist or rate limit is configured, \
                the retrySync action, the routing lookup, the Direct Routing onboarding read, the inventory (tag Inventory), tags and notes (tag Labels), service verification numbers (tag Launch), emergency locations (tag Emergency), billable users (tag Billing), and the change feed and webhooks (tag Events). \
                Capability questions go to Operator Connect when sync is on.",
        },
        "tags": [
            { "name": "Inventory", "description": "Numbat's number inventory and its lifecycle: available, reserved, assigned, quarantined. ACG's operations are unchanged: PUT assigns, DELETE releases into quarantine." },
            { "name": "Launch", "description": "What a launch needs beside the numbers themselves: the test numbers of each service for Microsoft's verification." },
            { "name": "Billing", "description": "Billable users as ACG bills them: per month, the most users on any day, per service and account, from counts taken once a day and kept whatever changes later." },
            { "name": "Emergency", "description": "The civic address and location of an Operator Connect or Teams Phone Mobile number, chosen from its tenant's civic addresses. A change is a change of the number: its ETag, its history and its sync." },
            { "name": "Events", "description": "The change feed: every change to numbers, accounts, consents, civic addresses, settings and jobs in commit order, from a cursor that survives restarts; a read can wait for new changes. Webhook subscriptions deliver the same events, signed, in order." },
            { "name": "Labels", "description": "Numbat's tags (up to 50 per number or account, 50 characters each) and notes. They are not part of ACG's resources: writing them leaves a number's or an account's ETag alone." },
        ],
        "servers": [{ "url": MOUNT }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": components(),
    })
}

/// A service by its wire name.
fn service_schema() -> Value {
    let names: Vec<&str> = Service::ALL.iter().map(|s| s.wire_name()).collect();
    json!({ "type": "string", "enum": names })
}

/// A tag: 1–50 characters, no control character, `;` or `,`, no space at either end.
fn tag_schema() -> Value {
    // Control characters, then the invisible ones `domain::labels::INVISIBLE` lists.
    let refused = "\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff";
    let inner = format!("[^;,{refused}]");
    let end = format!("[^;,\\s{refused}]");
    json!({ "type": "string", "minLength": 1, "maxLength": 50, "pattern": format!("^{end}({inner}*{end})?$") })
}

/// A note: up to 1,000 characters, tabs and line breaks the only control characters; null or
/// blank for none. (The server also takes CR LF as a line break; the schema leaves CR out.)
fn note_schema() -> Value {
    json!({ "type": "string", "nullable": true, "maxLength": 1000, "pattern": "^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*$" })
}

fn string(pattern: Option<&str>, min: Option<u64>, max: Option<u64>) -> Value {
    let mut s = json!({ "type": "string" });
    if let Some(p) = pattern {
        s["pattern"] = json!(p);
    }
    if let Some(m) = min {
        s["minLength"] = json!(m);
    }
    if let Some(m) = max {
        s["maxLength"] = json!(m);
    }
    s
}

/// `schema` that may also be null.
fn nullable(schema: &Value) -> Value {
    let mut schema = schema.clone();
    schema["nullable"] = json!(true);
    schema
}

fn components() -> Value {
    let name = string(Some("^[A-Za-z0-9_-]+$"), Some(1), Some(100));
    let e164 = string(Some("^\\+[1-9][0-9]+$"), Some(3), Some(16));
    let guid = string(
        Some("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
        None,
        None,
    );
    let status =
        json!({ "type": "string", "enum": ["pending", "synced", "failed"], "readOnly": true });
    let errors_list = json!({ "type": "array", "readOnly": true, "items": schema_ref("Error") });
    let switch = |sync: bool| {
        let mut props = json!({ "enabled": { "type": "boolean" }, "numberCount": { "type": "integer", "format": "int64", "readOnly": true } });
        let mut required = vec!["enabled"];
        if sync {
            props["syncEnabled"] = json!({ "type": "boolean" });
            required.push("syncEnabled");
        }
        json!({ "type": "object", "required": required, "properties": props })
    };
    let teams_number = json!({
        "type": "object", "required": ["enabled"],
        "properties": {
            "enabled": { "type": "boolean" },
            "assignmentStatus": { "type": "string", "enum": ["assigned", "unassigned"] },
            "configuration": schema_ref("TeamsCommonNumberConfig"),
        }
    });
    let enabled = json!({ "type": "object", "required": ["enabled"], "properties": { "enabled": { "type": "boolean" } } });
    // Each service's block, keyed by the service table's wire names.
    let mut account_services = serde_json::Map::new();
    account_services.insert("teamsTenantId".into(), guid.clone());
    let mut number_services = serde_json::Map::new();
    for service in Service::ALL {
        let account_block = if service == Service::TeamsDirectRouting {
            schema_ref("TeamsDirectRoutingAccountDetails")
        } else {
            switch(service.has_sync_switch())
        };
        account_services.insert(service.wire_name().into(), account_block);
        let number_block = if service.traits().teams_tenant {
            teams_number.clone()
        } else {
            enabled.clone()
        };
        number_services.insert(service.wire_name().into(), number_block);
    }
    let mut service_names: Vec<serde_json::Value> =
        Service::ALL.iter().map(|s| json!(s.wire_name())).collect();
    service_names.push(serde_json::Value::Null);
    let paged = |item: &str| {
        json!({
            "type": "object", "required": ["value"],
            "properties": { "value": { "type": "array", "items": schema_ref(item) }, "nextLink": { "type": "string", "format": "uri" } }
        })
    };
    let param = |name: &str, place: &str, required: bool, schema: Value, description: &str| {
        json!({
            "name": name, "in": place, "required": required, "schema": schema, "description": description
        })
    };
    let error_response = |description: &str| {
        json!({
            "description": description,
            "headers": { "x-ms-error-code": { "description": "The error code.", "schema": { "type": "string" } } },
            "content": { "application/json": { "schema": schema_ref("ErrorResponse") } }
        })
    };
    json!({
        "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "description": "An API token from `numbat token create`, or a JWT from the configured OIDC issuer." }
        },
        "headers": {
            "ETag": { "description": "The resource's version.", "schema": { "type": "string" } },
            "ClientRequestId": { "description": "Echo of the request's x-ms-client-request-id.", "schema": { "type": "string" } },
        },
        "parameters": {
            "ApiVersion": param("api-version", "query", true, json!({ "type": "string", "enum": [API_VERSION] }), "The API version."),
            "ClientRequestId": param("x-ms-client-request-id", "header", false, json!({ "type": "string", "format": "uuid" }), "A UUID, echoed back."),
            "AccountName": param("accountName", "path", true, name.clone(), "The account's name (case-sensitive)."),
            "TelephoneNumber": param("telephoneNumber", "path", true, e164.clone(), "E.164, with + written %2B."),
            "TenantId": param("tenantId", "path", true, guid.clone(), "The Teams tenant."),
            "CivicAddressId": param("civicAddressId", "path", true, string(None, Some(1), None), "The civic address."),
            "Top": param("top", "query", false, json!({ "type": "integer", "format": "int32", "minimum": 0 }), "At most this many items in all."),
            "Skip": param("skip", "query", false, json!({ "type": "integer", "format": "int32", "minimum": 0 }), "Skip this many items first."),
            "MaxPageSize": param("maxpagesize", "query", false, json!({ "type": "integer", "format": "int32", "minimum": 1 }), "Items a page (default 200; more than 500 is cut to 500)."),
            "Filter": param("filter", "query", false, json!({ "type": "string" }),
                "eq/ne on fields, startswith(telephoneNumber,'+44'), and, or, not, parentheses; a 400 lists the fields of each list."),
            "CountRecords": param("countRecords", "query", false, json!({ "type": "boolean" }), "Adds x-ms-record-count."),
            "After": param("after", "query", false, json!({ "type": "string" }), "Numbat's cursor: start after this key (nextLink carries it)."),
            "Direction": param("direction", "query", true, json!({ "type": "string", "enum": ["fromOperator", "toOperator"] }), "fromOperator: a call from the operator's network to the number; toOperator: a call from the number toward it."),
            "Subdomain": param("subdomain", "query", false, json!({ "type": "string" }), "For a Direct Routing call from Teams: the customer label of the Request-URI host (<label>.1r<n>.<base>), which decides call screening."),
            "Region": param("region", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": 2 }), "The Direct Routing region whose domain goes in Contact (default 1)."),
            "InventoryState": param("state", "query", false, json!({ "type": "string", "enum": ["available", "reserved", "quarantined"] }), "Only numbers in this state."),
            "InventoryAccountName": param("accountName", "query", false, name.clone(), "Only numbers reserved for, or released by, this account."),
            "InventoryPrefix": param("prefix", "query", false, string(Some("^\\+[0-9]{0,15}$"), Some(1), Some(16)), "Only numbers starting with this (e.g. +4420)."),
            "WebhookId": param("webhookId", "path", true, json!({ "type": "integer", "minimum": 1 }), "The subscription."),
            "FeedAfter": param("after", "query", false, string(Some("^[0-9]{1,19}\\.[0-9]{1,19}$"), Some(3), Some(39)), "A cursor the feed gave: the answer's cursor, or an event's id."),
            "FeedPageSize": param("maxpagesize", "query", false, json!({ "type": "integer", "minimum": 1, "maximum": 1000 }), "Events a page (default 100)."),
            "Month": param("month", "query", false, json!({ "type": "string", "pattern": "^(2[0-9]{3}|[3-9][0-9]{3})-(0[1-9]|1[0-2])$" }), "The month, YYYY-MM (from 2000; none: this month, UTC)."),
            "Tag": param("tag", "query", true, tag_schema(), "The tag."),
            "TagFilter": param("tag", "query", false, tag_schema(), "Only numbers carrying this tag."),
            "DeleteNumbers": param("deleteNumbers", "query", false, json!({ "type": "boolean" }), "Delete the account's numbers with it."),
            "IfMatch": param("If-Match", "header", false, json!({ "type": "string" }), "Only if the resource is at this ETag (or * for any); an ETag this server never gave is 412."),
            "IfModifiedSince": param("If-Modified-Since", "header", false, json!({ "type": "string" }), "Reads only (ignored on writes): 304 if not changed since this date, in HTTP (RFC 9110) or ISO 8601 form."),
            "IfUnmodifiedSince": param("If-Unmodified-Since", "header", false, json!({ "type": "string" }), "412 if changed since this date, in HTTP (RFC 9110) or ISO 8601 form; on a write, the resource must exist."),
            "IfNoneMatch": param("If-None-Match", "header", false, json!({ "type": "string" }), "On writes: * creates only. On reads: 304 if at this ETag."),
            "RepeatabilityRequestId": param("Repeatability-Request-ID", "header", false, json!({ "type": "string", "maxLength": 128 }), "Retries with this ID are answered as the first request was."),
            "RepeatabilityFirstSent": param("Repeatability-First-Sent", "header", false, json!({ "type": "string" }), "When the request was first sent (HTTP date)."),
        },
        "responses": {
            "Error400": error_response("The request breaks a rule; nothing changed."),
            "Error401": error_response("No valid bearer token."),
            "Error403": error_response("The caller's role does not allow this, or its address is not allowed."),
            "Error404": error_response("No such resource."),
            "Error409": error_response("Conflicts with what is stored; nothing changed."),
            "Error412": error_response("The ETag condition does not hold; nothing changed."),
            "Error502": error_response("Operator Connect refused the question."),
            "Error503": error_response("Operator Connect did not answer; try again."),
            "Error429": error_response("Over the configured rate; see Retry-After."),
        },
        "schemas": {
            "Error": {
                "type": "object", "required": ["code", "message"],
                "properties": {
                    "code": { "type": "string" }, "message": { "type": "string" }, "target": { "type": "string" },
                    "details": { "type": "array", "items": schema_ref("Error") }
                }
            },
            "ErrorResponse": { "type": "object", "required": ["error"], "properties": { "error": schema_ref("Error") } },
            "AccountResource": {
                "type": "object", "required": ["name"],
                "properties": {
                    "name": name.clone(),
                    "correlationId": { "type": "string", "maxLength": 256 },
                    "serviceDetails": schema_ref("AccountServiceDetails"),
                    "serviceProvisioningStatus": status.clone(),
                    "serviceProvisioningErrors": errors_list.clone(),
                }
            },
            "AccountServiceDetails": {
                "type": "object",
                "properties": account_services
            },
            "TeamsDirectRoutingAccountDetails": {
                "type": "object", "required": ["enabled", "syncEnabled"],
                "properties": {
                    "enabled": { "type": "boolean" }, "syncEnabled": { "type": "boolean" },
                    "numberCount": { "type": "integer", "format": "int64", "readOnly": true },
                    "configuration": {
                        "type": "object", "required": ["subdomain", "subdomainTokens"],
                        "properties": {
                            "callScreening": { "type": "boolean" },
                            "subdomain": string(Some("^[A-Za-z0-9_-]+$"), Some(1), Some(10)),
                            "subdomainTokens": {
                                "type": "object", "required": ["region1Token", "region2Token"],
                                "properties": {
                                    "region1Token": string(Some("^[A-Za-z0-9=_-]+$"), Some(1), Some(100)),
                                    "region2Token": string(Some("^[A-Za-z0-9=_-]+$"), Some(1), Some(100)),
                                }
                            }
                        }
                    },
                    "subdomainStatus": { "type": "string", "enum": ["provisioned", "notProvisioned", "inconsistent"], "readOnly": true },
                }
            },
            "NumberResource": {
                "type": "object", "required": ["telephoneNumber", "accountName", "serviceDetails"],
                "properties": {
                    "telephoneNumber": e164.clone(),
                    "accountName": name.clone(),
                    "serviceDetails": {
                        "type": "object",
                        "properties": number_services
                    },
                    "configuration": { "type": "object", "properties": { "customSipHeader": string(Some("^[A-Za-z0-9_-]+$"), Some(1), Some(100)) } },
                    "serviceProvisioningStatus": status.clone(),
                    "serviceProvisioningErrors": errors_list.clone(),
                }
            },
            "TeamsCommonNumberConfig": {
                "type": "object", "required": ["usage", "choosableCapabilities"],
                "properties": {
                    "usage": { "type": "string", "enum": ["CallingUserAssignment", "FirstPartyAppAssignment", "ConferenceAssignment"] },
                    "choosableCapabilities": { "type": "array", "items": string(Some("^[A-Za-z0-9]+$"), Some(1), Some(64)) },
                    "additionalUsages": { "type": "array", "items": { "type": "string", "enum": ["CallingUserAssignment", "FirstPartyAppAssignment", "ConferenceAssignment"] } },
                    "civicAddressId": { "type": "string" },
                    "locationId": { "type": "string" },
                    "allowTenantAddressUpdate": { "type": "boolean" },
                    "displayedCountryCode": { "type": "string" },
                }
            },
            "BatchNumbers": { "type": "object", "required": ["numbers"], "properties": { "numbers": { "type": "array", "minItems": 1, "maxItems": 100, "items": schema_ref("NumberResource") } } },
            "NumberIdentifier": { "type": "object", "required": ["telephoneNumber"], "properties": { "telephoneNumber": e164 } },
            "BatchNumbersDelete": { "type": "object", "required": ["numbers"], "properties": { "numbers": { "type": "array", "minItems": 1, "maxItems": 100, "items": schema_ref("NumberIdentifier") } } },
            "NumberIdentifiers": { "type": "object", "required": ["numbers"], "properties": { "numbers": { "type": "array", "items": schema_ref("NumberIdentifier") } } },
            "TeamsCapabilityPlans": {
                "type": "object", "required": ["capabilityPlans"],
                "properties": { "capabilityPlans": { "type": "array", "items": {
                    "type": "object", "required": ["name", "usage", "supportsTollFree"],
                    "properties": {
                        "name": { "type": "string" }, "offerTypes": { "type": "array", "items": { "type": "string" } },
                        "usage": { "type": "string" }, "mandatoryCapabilities": { "type": "array", "items": { "type": "string" } },
                        "choosableCapabilities": { "type": "array", "items": { "type": "string" } }, "supportsTollFree": { "type": "boolean" }
                    }
                } } }
            },
            "DirectRoutingOnboarding": {
                "type": "object",
                "required": ["accountName", "subdomainStatus", "domains", "steps"],
                "properties": {
                    "accountName": { "type": "string" },
                    "teamsTenantId": { "type": "string", "nullable": true },
                    "subdomainStatus": { "type": "string", "enum": ["provisioned", "notProvisioned", "inconsistent"] },
                    "domains": { "type": "array", "minItems": 2, "maxItems": 2, "items": {
                        "type": "object",
                        "required": ["region", "domain", "txtValue"],
                        "properties": {
                            "region": { "type": "integer", "minimum": 1, "maximum": 2 },
                            "domain": { "type": "string" },
                            "txtValue": { "type": "string" },
                        },
                        "additionalProperties": false,
                    } },
                    "steps": { "type": "array", "items": {
                        "type": "object",
                        "required": ["title", "detail", "done", "powershell"],
                        "properties": {
                            "title": { "type": "string" },
                            "detail": { "type": "string" },
                            "done": { "type": "boolean", "nullable": true },
                            "powershell": { "type": "string", "nullable": true },
                        },
                        "additionalProperties": false,
                    } },
                },
                "additionalProperties": false,
            },
            "RoutingDecision": {
                "type": "object",
                "required": ["telephoneNumber", "direction", "provisioned", "byDefaultRule", "lineType"],
                "properties": {
                    "telephoneNumber": { "type": "string" },
                    "direction": { "type": "string", "enum": ["fromOperator", "toOperator"] },
                    "provisioned": { "type": "boolean" },
                    "accountName": { "type": "string", "nullable": true },
                    "service": { "type": "string", "nullable": true, "enum": service_names },
                    "byDefaultRule": { "type": "boolean" },
                    "lineType": { "type": "string" },
                    "inventoryState": { "type": "string", "enum": ["available", "reserved", "assigned", "quarantined"] },
                    "customSipHeader": { "type": "object", "nullable": true, "required": ["name", "value"], "properties": { "name": { "type": "string" }, "value": { "type": "string" } } },
                    "contactHost": { "type": "string", "nullable": true },
                    "rejection": { "type": "object", "nullable": true, "required": ["status", "reason"], "properties": { "status": { "type": "integer" }, "reason": { "type": "string" } } }
                }
            },
            "InventoryNumber": {
                "type": "object",
                "required": ["telephoneNumber", "state", "version", "updatedAt"],
                "properties": {
                    "telephoneNumber": { "type": "string" },
                    "state": { "type": "string", "enum": ["available", "reserved", "assigned", "quarantined"] },
                    "accountName": { "type": "string", "nullable": true, "description": "The account it is in, reserved for, or was released by." },
                    "until": { "type": "string", "format": "date-time", "nullable": true, "description": "When the reservation or quarantine ends; null for an indefinite quarantine." },
                    "version": { "type": "integer", "format": "int64" },
                    "updatedAt": { "type": "string", "format": "date-time" },
                },
                "additionalProperties": false,
            },
            "InventoryAction": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": { "type": "string", "enum": ["add", "remove", "reserve", "cancelReservation", "setQuarantine", "endQuarantine", "assign", "release"] },
                    "telephoneNumbers": { "type": "array", "nullable": true, "minItems": 1, "maxItems": 10000, "items": e164.clone(), "description": "The numbers; or give a range with from and to. Null is the same as absent, for every field but action." },
                    "from": nullable(&e164),
                    "to": nullable(&e164),
                    "accountName": { "type": "string", "nullable": true, "description": "reserve: the account the numbers are held for; assign: the account they go into; release: the account they leave." },
                    "services": { "type": "array", "nullable": true, "items": { "type": "string" }, "description": "assign: the services each number gets, by name (teamsDirectRouting, zoomPhoneCloudPeering, azureOperatorCallProtection); Teams numbers with settings are put one by one." },
                    "customSipHeader": { "type": "string", "nullable": true, "description": "assign: the custom header value each number carries." },
                    "until": { "type": "string", "nullable": true, "description": "reserve: a date (held through that day, UTC) or an RFC 3339 time, ending within 365 days; default 30 days." },
                    "quarantine": { "type": "string", "nullable": true, "description": "setQuarantine: 1 to 365 (days from now) or indefinitely." },
                },
                "additionalProperties": false,
            },
            "InventoryActionReport": {
                "type": "object",
                "required": ["done", "unchanged", "refused", "results"],
                "properties": {
                    "jobId": { "type": "integer", "description": "The job an inventory action ran as: its record, with every refused number, stays in the job list." },
                    "done": { "type": "integer" },
                    "unchanged": { "type": "integer" },
                    "refused": { "type": "integer" },
                    "results": { "type": "array", "items": {
                        "type": "object",
                        "required": ["telephoneNumber", "outcome"],
                        "properties": {
                            "telephoneNumber": { "type": "string" },
                            "outcome": { "type": "string", "enum": ["done", "unchanged", "refused"] },
                            "violation": {
                                "type": "object",
                                "required": ["field", "code", "message"],
                                "description": "Why a refused number was left as it was: the rule (code) and the field.",
                                "properties": { "field": { "type": "string" }, "code": { "type": "string" }, "message": { "type": "string" } },
                            },
                        },
                    } },
                },
                "additionalProperties": false,
            },
            "PagedInventoryNumber": paged("InventoryNumber"),
            "Labels": {
                "type": "object",
                "required": ["tags", "note", "version", "updatedAt"],
                "properties": {
                    "telephoneNumber": { "type": "string", "description": "A number's labels: the number." },
                    "accountName": { "type": "string", "description": "An account's labels: the account." },
                    "tags": { "type": "array", "maxItems": 50, "items": tag_schema() },
                    "note": { "type": "string", "nullable": true },
                    "version": { "type": "integer", "format": "int64", "description": "The labels' own version; 0 until first written." },
                    "updatedAt": { "type": "string", "format": "date-time", "nullable": true },
                },
                "additionalProperties": false,
            },
            "LabelsIn": {
                "type": "object",
                "required": ["tags"],
                "properties": {
                    "tags": { "type": "array", "maxItems": 50, "items": tag_schema(), "description": "Every tag; a tag given twice counts once." },
                    "note": note_schema(),
                },
                "additionalProperties": false,
            },
            "TagChange": {
                "type": "object",
                "properties": {
                    "addTags": { "type": "array", "maxItems": 50, "items": tag_schema(), "description": "Tags each number gets." },
                    "removeTags": { "type": "array", "maxItems": 50, "items": tag_schema(), "description": "Tags each number loses (a tag in both lists is lost). At least one tag in all." },
                    "telephoneNumbers": { "type": "array", "nullable": true, "minItems": 1, "maxItems": 10000, "items": e164.clone(), "description": "The numbers; or give a range with from and to." },
                    "from": nullable(&e164),
                    "to": nullable(&e164),
                },
                "additionalProperties": false,
            },
            "PagedLabels": paged("Labels"),
            "WebhookSubscriptionIn": {
                "type": "object",
                "required": ["url"],
                "properties": {
                    "url": { "type": "string", "maxLength": 2048, "description": "https, outside loopback and private ranges unless the deployment allows them." },
                    "types": { "type": "array", "maxItems": 50, "items": { "type": "string", "pattern": "^[A-Za-z]+(\\.[A-Za-z]+)?$", "maxLength": 64 } },
                    "accountName": { "type": "string" },
                    "fromStart": { "type": "boolean", "description": "Deliver from the feed's start instead of from now." },
                },
                "additionalProperties": false,
            },
            "WebhookSubscription": {
                "type": "object",
                "required": ["id", "url", "types", "state", "cursor", "failures", "createdAt", "attempts"],
                "properties": {
                    "id": { "type": "integer" },
                    "url": { "type": "string" },
                    "types": { "type": "array", "items": { "type": "string" } },
                    "accountName": { "type": "string" },
                    "state": { "type": "string", "enum": ["active", "paused"] },
                    "pausedReason": { "type": "string" },
                    "cursor": { "type": "string" },
                    "failures": { "type": "integer" },
                    "nextAttemptAt": { "type": "string" },
                    "createdAt": { "type": "string" },
                    "attempts": {
                        "type": "object",
                        "description": "Delivery attempts so far, by outcome.",
                        "required": ["delivered", "failed", "parked"],
                        "properties": {
                            "delivered": { "type": "integer" },
                            "failed": { "type": "integer" },
                            "parked": { "type": "integer" },
                        },
                        "additionalProperties": false,
                    },
                    "secret": { "type": "string", "description": "whsec_…: in the answer that made the subscription only." },
                },
                "additionalProperties": false,
            },
            "WebhookSubscriptions": {
                "type": "object",
                "required": ["value"],
                "properties": { "value": { "type": "array", "items": { "$ref": "#/components/schemas/WebhookSubscription" } } },
                "additionalProperties": false,
            },
            "WebhookDelivery": {
                "type": "object",
                "required": ["id", "eventId", "eventType", "outcome", "attempt", "at"],
                "properties": {
                    "id": { "type": "integer" },
                    "eventId": { "type": "string" },
                    "eventType": { "type": "string" },
                    "outcome": { "type": "string", "enum": ["delivered", "failed", "parked"] },
                    "attempt": { "type": "integer" },
                    "status": { "type": "integer", "nullable": true },
                    "answer": { "type": "string", "nullable": true },
                    "at": { "type": "string" },
                    "requestedBy": { "type": "string", "nullable": true, "description": "Who asked for this redelivery of one event; none for the deliverer's own attempts." },
                },
                "additionalProperties": false,
            },
            "WebhookDeliveries": {
                "type": "object",
                "required": ["value"],
                "properties": { "value": { "type": "array", "items": { "$ref": "#/components/schemas/WebhookDelivery" } } },
                "additionalProperties": false,
            },
            "WebhookRedeliver": {
                "type": "object",
                "required": ["event"],
                "properties": { "event": { "type": "string", "maxLength": 41, "description": "The event's id (0.42)." } },
                "additionalProperties": false,
            },
            "WebhookReplay": {
                "type": "object",
                "required": ["since"],
                "properties": { "since": { "type": "string", "description": "An event's id (0.42), or an RFC 3339 time." } },
                "additionalProperties": false,
            },
            "FeedPage": {
                "type": "object",
                "required": ["value", "cursor"],
                "properties": {
                    "value": { "type": "array", "items": { "$ref": "#/components/schemas/FeedEvent" } },
                    "cursor": { "type": "string", "description": "Where to read after next: the last event's id, or the cursor given when nothing was new." },
                },
                "additionalProperties": false,
            },
            "FeedEvent": {
                "type": "object",
                "required": ["id", "type", "time", "actor", "door", "resourceType", "resourceKey"],
                "properties": {
                    "id": { "type": "string", "description": "The event's cursor: reading after it goes on with the next change." },
                    "type": { "type": "string", "description": "<resourceType>.<action>: number.create (assigned), number.replace, number.delete (released), number.reserve, account.create, job.start, …" },
                    "time": { "type": "string" },
                    "actor": { "type": "string" },
                    "door": { "type": "string" },
                    "resourceType": { "type": "string", "enum": ["account", "number", "requestForInformation", "teamsCivicAddress", "settings", "job"] },
                    "resourceKey": { "type": "string" },
                    "accountName": { "type": "string" },
                    "version": { "type": "integer", "description": "The resource's version after the change; none after a delete." },
                    "data": { "description": "The resource as the change left it; none after a delete." },
                },
                "additionalProperties": false,
            },
            "BillableUsers": {
                "type": "object",
                "required": ["month", "daysCounted", "peak", "peakDay", "included", "billed", "services", "days"],
                "properties": {
                    "month": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$" },
                    "daysCounted": { "type": "integer", "minimum": 0, "maximum": 31 },
                    "peak": { "type": "integer", "format": "int64", "description": "The most users of every service together on any day of the month." },
                    "peakDay": { "type": "string", "format": "date", "nullable": true },
                    "included": { "type": "integer", "format": "int64", "description": "Users the service fee includes." },
                    "billed": { "type": "integer", "format": "int64", "description": "peak beyond included." },
                    "services": { "type": "array", "items": {
                        "type": "object",
                        "required": ["service", "rule", "peak", "peakDay", "latest", "accounts"],
                        "properties": {
                            "service": service_schema(),
                            "rule": { "type": "string", "description": "What counts as a user of this service." },
                            "peak": { "type": "integer", "format": "int64" },
                            "peakDay": { "type": "string", "format": "date", "nullable": true },
                            "latest": { "type": "integer", "format": "int64", "description": "On the last day counted." },
                            "accounts": { "type": "array", "items": {
                                "type": "object",
                                "required": ["accountName", "peak", "latest"],
                                "properties": {
                                    "accountName": { "type": "string" },
                                    "peak": { "type": "integer", "format": "int64" },
                                    "latest": { "type": "integer", "format": "int64" },
                                },
                                "additionalProperties": false,
                            } },
                        },
                        "additionalProperties": false,
                    } },
                    "days": { "type": "array", "items": {
                        "type": "object",
                        "required": ["day", "users", "total"],
                        "properties": {
                            "day": { "type": "string", "format": "date" },
                            "users": { "type": "array", "items": { "type": "integer", "format": "int64" }, "description": "Per service, in the order of the service enum." },
                            "total": { "type": "integer", "format": "int64" },
                        },
                        "additionalProperties": false,
                    } },
                },
                "additionalProperties": false,
            },
            "EmergencyLocation": {
                "type": "object",
                "required": ["telephoneNumber", "accountName", "service", "civicAddressId", "locationId", "allowTenantAddressUpdate", "version"],
                "properties": {
                    "telephoneNumber": e164.clone(),
                    "accountName": { "type": "string" },
                    "service": { "type": "string", "enum": ["teamsOperatorConnect", "teamsPhoneMobile"], "description": "The Teams service whose settings hold the location." },
                    "civicAddressId": { "type": "string", "nullable": true },
                    "locationId": { "type": "string", "nullable": true },
                    "allowTenantAddressUpdate": { "type": "boolean" },
                    "civicAddress": schema_ref("TeamsCivicAddressResource"),
                    "version": { "type": "integer", "format": "int64", "description": "The number's version (its ETag)." },
                },
                "additionalProperties": false,
            },
            "EmergencyLocationIn": {
                "type": "object",
                "properties": {
                    "civicAddressId": { "type": "string", "nullable": true, "minLength": 1, "maxLength": 100, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$", "description": "One of the tenant's civic addresses; none (with allowTenantAddressUpdate) lets the enterprise set it." },
                    "locationId": { "type": "string", "nullable": true, "minLength": 1, "maxLength": 100, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$", "description": "A location of that address." },
                    "allowTenantAddressUpdate": { "type": "boolean", "default": false },
                },
                "additionalProperties": false,
            },
            "VerificationNumbers": {
                "type": "object",
                "required": ["value"],
                "properties": { "value": { "type": "array", "items": {
                    "type": "object",
                    "required": ["service", "numbers", "ready", "synced", "productionCount", "labCount"],
                    "properties": {
                        "service": service_schema(),
                        "numbers": { "type": "array", "items": {
                            "type": "object",
                            "required": ["telephoneNumber", "accountName", "serviceEnabled", "provisioningStatus"],
                            "properties": {
                                "telephoneNumber": { "type": "string" },
                                "accountName": { "type": "string", "nullable": true, "description": "Null once it left every account." },
                                "serviceEnabled": { "type": "boolean", "description": "In an account with the service on: a test number that counts." },
                                "provisioningStatus": { "type": "string", "nullable": true, "enum": ["pending", "synced", "failed", null] },
                            },
                            "additionalProperties": false,
                        } },
                        "ready": { "type": "integer", "description": "Marked numbers with the service on." },
                        "synced": { "type": "integer", "description": "Of those, the ones synced with Operator Connect (every one, for a service that does not sync there)." },
                        "productionCount": { "type": "integer", "description": "How many ACG asks for in production." },
                        "labCount": { "type": "integer", "description": "How many ACG asks for in a lab." },
                    },
                    "additionalProperties": false,
                } } },
                "additionalProperties": false,
            },
            "VerificationAction": {
                "type": "object",
                "required": ["service", "action", "telephoneNumbers"],
                "properties": {
                    "service": service_schema(),
                    "action": { "type": "string", "enum": ["mark", "unmark"] },
                    "telephoneNumbers": { "type": "array", "minItems": 1, "maxItems": 20, "items": e164.clone() },
                },
                "additionalProperties": false,
            },
            "SyncRetried": { "type": "object", "required": ["retried"], "properties": { "retried": { "type": "integer", "format": "int64" } } },
            "TeamsAvailableCapabilities": { "type": "object", "required": ["availableCapabilities"], "properties": { "availableCapabilities": { "type": "array", "items": { "type": "string" } } } },
            "TeamsCivicAddressResource": {
                "type": "object", "required": ["id", "defaultLocationId"],
                "properties": {
                    "id": { "type": "string" }, "tenantId": { "type": "string" }, "defaultLocationId": { "type": "string" },
                    "validationStatus": { "type": "string", "enum": ["notValidated", "validated"] }, "country": { "type": "string" }, "cityOrTown": { "type": "string" },
                    "locations": { "type": "array", "items": {
                        "type": "object", "required": ["id", "civicAddressId"],
                        "properties": {
                            "id": { "type": "string" }, "civicAddressId": { "type": "string" }, "description": { "type": "string" },
                            "additionalInfo": { "type": "string" }, "isDefault": { "type": "boolean" }, "elin": { "type": "string" }
                        }
                    } }
                }
            },
            "CustomerRelationship": {
                "type": "object",
                "properties": { "status": { "type": "string" }, "lastModifiedOn": { "type": "string", "format": "date-time", "readOnly": true }, "comment": { "type": "string" } }
            },
            "RequestForInformationResource": {
                "type": "object", "required": ["id", "tenantId", "productContext", "status"],
                "properties": {
                    "id": { "type": "string" }, "tenantId": guid, "accountName": { "type": "string" },
                    "productContext": { "type": "string" }, "operatorId": { "type": "string" },
                    "status": { "type": "string", "enum": ["active", "suspended", "removed"] },
                    "consentedOn": { "type": "string" }, "lastModifiedOn": { "type": "string" },
                    "consentedCountries": { "type": "array", "items": { "type": "string" } },
                    "contacts": { "type": "array", "items": {
                        "type": "object", "required": ["fullName", "email"],
                        "properties": {
                            "fullName": { "type": "string" }, "email": { "type": "string" }, "telephoneNumber": { "type": "string" },
                            "companyName": { "type": "string" }, "companySize": { "type": "string" }
                        }
                    } },
                    "customerRelationship": schema_ref("CustomerRelationship"),
                    "serviceProvisioningStatus": status,
                    "serviceProvisioningErrors": errors_list,
                }
            },
            "RequestForInformationResourceCreateOrUpdate": { "type": "object", "properties": { "customerRelationship": schema_ref("CustomerRelationship") } },
            "PagedAccountResource": paged("AccountResource"),
            "PagedNumberResource": paged("NumberResource"),
            "PagedTeamsCivicAddressResource": paged("TeamsCivicAddressResource"),
            "PagedRequestForInformationResource": paged("RequestForInformationResource"),
        }
    })
}
