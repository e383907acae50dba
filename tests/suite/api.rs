//! The Provisioning API over the axum router: ACG's paths, shapes, status codes and headers.

use crate::common::{app_without_bundle, send, TestDb};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use numbat::provisioning::Role;
use serde_json::{json, Value};

const V: &str = "api-version=2024-02-29-preview";
const TENANT: &str = "a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a";

struct Api {
    app: axum::Router,
    token: String,
    _test: TestDb,
}

impl Api {
    async fn new() -> Self {
        Self::with_roles(&[Role::Admin]).await
    }

    async fn with_roles(roles: &[Role]) -> Self {
        let test = TestDb::sqlite().await.migrated().await;
        let token = crate::common::api_token(&test.db, "bss", roles).await;
        Self {
            app: app_without_bundle(&test.db),
            token,
            _test: test,
        }
    }

    fn core(&self) -> numbat::provisioning::Provisioning {
        numbat::provisioning::Provisioning::new(self._test.db.clone())
    }

    /// A consent and a civic address for tenant `TENANT`, as sync would record them.
    async fn seed_teams_data(&self) {
        use numbat::domain::consent::{ConsentStatus, RequestForInformation, TeamsCivicAddress};
        use numbat::provisioning::{Actor, Door};
        let sync = Actor::new("sync", &[Role::Admin], Door::Sync);
        let tenant = numbat::domain::TenantId::parse(TENANT).unwrap();
        let rfi = RequestForInformation {
            id: "214b3a0e-fb7c-481f-9f38-fcb7eab5fad3".into(),
            tenant_id: tenant.clone(),
            account_name: None,
            product_context: "teams".into(),
            operator_id: Some("75f9fed4-d8e9-4c90-bc28-523cfdb83244".into()),
            status: ConsentStatus::Active,
            consented_on: Some("2024-01-18T07:58:49.570Z".into()),
            last_modified_on: None,
            consented_countries: vec!["US".into(), "GB".into()],
            contacts: vec![],
            customer_relationship: None,
        };
        self.core().record_rfi(&sync, rfi).await.unwrap();
        let address: TeamsCivicAddress = serde_json::from_value(json!({
            "id": "ebfee340-a791-11ed-9bfa-ed8bb5c41be4",
            "tenantId": TENANT,
            "country": "US",
            "cityOrTown": "Reston",
            "defaultLocationId": "653c9fed-f8a7-4a6c-917b-b5b1ad4d45f7",
            "validationStatus": "validated",
            "locations": [{ "id": "653c9fed-f8a7-4a6c-917b-b5b1ad4d45f7", "civicAddressId": "ebfee340-a791-11ed-9bfa-ed8bb5c41be4", "isDefault": true, "description": "911" }]
        }))
        .unwrap();
        self.core()
            .record_civic_address(&sync, &tenant, address)
            .await
            .unwrap();
    }

    async fn token(&self, name: &str, roles: &[Role]) -> String {
        crate::common::api_token(&self._test.db, name, roles).await
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        self.call_as(&self.token, method, path, body, headers).await
    }

    async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/provisioning{path}{separator}{V}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let (response, text) = send(&self.app, request.body(body).unwrap()).await;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (response.status(), response.headers().clone(), value)
    }
}

fn dr_account(name: &str) -> Value {
    json!({ "name": name, "serviceDetails": { "teamsDirectRouting": { "enabled": true, "syncEnabled": false } } })
}

fn dr_number(number: &str, account: &str) -> Value {
    json!({ "telephoneNumber": number, "accountName": account, "serviceDetails": { "teamsDirectRouting": { "enabled": true } } })
}

fn oc_account(name: &str) -> Value {
    json!({
        "name": name,
        "correlationId": "c7aa0070-3956-11eb-8d59-4d9d2e7a4a8d",
        "serviceDetails": {
            "teamsTenantId": "a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a",
            "teamsOperatorConnect": { "enabled": true, "syncEnabled": true }
        }
    })
}

#[tokio::test]
async fn api_version_is_required_and_names_the_versions_served() {
    let api = Api::new().await;
    let request = Request::get("/provisioning/accounts")
        .header("authorization", format!("Bearer {}", api.token))
        .body(Body::empty())
        .unwrap();
    let (response, text) = send(&api.app, request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["x-ms-error-code"], "MissingApiVersion");
    assert!(text.contains("2024-02-29-preview"), "{text}");

    let request = Request::get("/provisioning/accounts?api-version=2023-10-01")
        .body(Body::empty())
        .unwrap();
    let (response, text) = send(&api.app, request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "UnsupportedApiVersion");
    assert_eq!(body["error"]["target"], "api-version");
}

#[tokio::test]
async fn a_missing_or_unknown_token_is_401() {
    let api = Api::new().await;
    let request = Request::get(format!("/provisioning/accounts?{V}"))
        .body(Body::empty())
        .unwrap();
    let (response, _) = send(&api.app, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, headers, body) = api.call_as("nbt_0000", "GET", "/accounts", None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["x-ms-error-code"], "Unauthorized");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not known"));
}

#[tokio::test]
async fn put_creates_then_replaces_an_account_with_etags() {
    let api = Api::new().await;
    let (status, headers, body) = api
        .call(
            "PUT",
            "/accounts/contoso",
            Some(oc_account("contoso")),
            &[(
                "x-ms-client-request-id",
                "7b1f6b8e-0000-4000-8000-000000000001",
            )],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(
        headers["x-ms-client-request-id"],
        "7b1f6b8e-0000-4000-8000-000000000001"
    );
    assert_eq!(body["name"], "contoso");
    assert_eq!(
        body["serviceDetails"]["teamsOperatorConnect"],
        json!({ "enabled": true, "syncEnabled": true, "numberCount": 0 })
    );
    assert_eq!(
        body["serviceDetails"]["teamsTenantId"],
        "a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a"
    );
    assert_eq!(body["serviceProvisioningStatus"], "pending");
    assert_eq!(body["serviceProvisioningErrors"], json!([]));

    let mut changed = oc_account("contoso");
    changed["correlationId"] = json!("crm-2");
    let (status, headers, _) = api
        .call(
            "PUT",
            "/accounts/contoso",
            Some(changed.clone()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(
        (status, headers["etag"].to_str().unwrap()),
        (StatusCode::OK, "\"2\"")
    );

    let (status, _, body) = api
        .call(
            "PUT",
            "/accounts/contoso",
            Some(changed.clone()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (status, _, _) = api
        .call(
            "PUT",
            "/accounts/contoso",
            Some(changed),
            &[("if-none-match", "*")],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);

    let (status, headers, body) = api.call("GET", "/accounts/contoso", None, &[]).await;
    assert_eq!(
        (status, headers["etag"].to_str().unwrap()),
        (StatusCode::OK, "\"2\"")
    );
    assert_eq!(body["correlationId"], "crm-2");
}

#[tokio::test]
async fn bad_bodies_are_400s_that_name_the_field() {
    let api = Api::new().await;
    let mut wrong_type = oc_account("contoso");
    wrong_type["serviceDetails"]["teamsOperatorConnect"]["enabled"] = json!("yes");
    let (status, headers, body) = api
        .call("PUT", "/accounts/contoso", Some(wrong_type), &[])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["x-ms-error-code"], "InvalidRequest");
    assert_eq!(
        body["error"]["target"], "serviceDetails.teamsOperatorConnect.enabled",
        "{body}"
    );

    let (status, _, body) = api
        .call("PUT", "/accounts/contoso", Some(oc_account("other")), &[])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["target"], "name");

    let mut no_tenant = oc_account("contoso");
    no_tenant["serviceDetails"]["teamsTenantId"] = json!("not-a-guid");
    let (_, _, body) = api
        .call("PUT", "/accounts/contoso", Some(no_tenant), &[])
        .await;
    assert_eq!(body["error"]["target"], "serviceDetails.teamsTenantId");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("GUID"),
        "{body}"
    );

    let (status, _, body) = api
        .call(
            "PUT",
            "/accounts/bad%20name",
            Some(dr_account("bad name")),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["target"], "accountName");
    let (status, _, _) = api.call("GET", "/accounts/contoso", None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was created");
}

/// `serviceDetails` is read by the service table's wire names: each service once, a key that
/// names no service ignored, and a block read only for what its service has.
#[tokio::test]
async fn service_details_name_each_service_once_and_carry_only_what_the_service_has() {
    let api = Api::new().await;
    let raw = |path: &str, text: &str| {
        Request::builder()
            .method("PUT")
            .uri(format!("/provisioning{path}?{V}"))
            .header("authorization", format!("Bearer {}", api.token))
            .header("content-type", "application/json")
            .body(Body::from(text.to_owned()))
            .unwrap()
    };
    let twice = r#"{"name":"contoso","serviceDetails":{"teamsDirectRouting":{"enabled":true},"teamsDirectRouting":{"enabled":false}}}"#;
    let (response, text) = send(&api.app, raw("/accounts/contoso", twice)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("duplicate field `teamsDirectRouting`"),
        "{text}"
    );
    let tenant_twice = format!(
        r#"{{"name":"contoso","serviceDetails":{{"teamsTenantId":"{TENANT}","teamsTenantId":"{TENANT}"}}}}"#
    );
    let (response, text) = send(&api.app, raw("/accounts/contoso", &tenant_twice)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{text}");
    let (status, _, _) = api.call("GET", "/accounts/contoso", None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was created");

    // A service nobody has heard of is ignored, as ACG ignores unknown properties.
    let unknown = r#"{"name":"contoso","serviceDetails":{"teamsDirectRouting":{"enabled":true},"faxOverIp":{"enabled":true,"deep":[[[[]]]]}}}"#;
    let (response, text) = send(&api.app, raw("/accounts/contoso", unknown)).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{text}");
    let (_, _, body) = api.call("GET", "/accounts/contoso", None, &[]).await;
    let services: Vec<&String> = body["serviceDetails"].as_object().unwrap().keys().collect();
    assert_eq!(services, ["teamsDirectRouting"], "{body}");

    // Teams settings on a service that has none are not kept.
    let number = r#"{"telephoneNumber":"+441632960123","accountName":"contoso","serviceDetails":{"teamsDirectRouting":{"enabled":true,"assignmentStatus":"assigned","configuration":{"usage":"CallingUserAssignment","choosableCapabilities":["InboundCalling"]}}}}"#;
    let (response, text) = send(
        &api.app,
        raw("/accounts/contoso/numbers/%2B441632960123", number),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED, "{text}");
    let (_, _, body) = api
        .call(
            "GET",
            "/accounts/contoso/numbers/%2B441632960123",
            None,
            &[],
        )
        .await;
    assert_eq!(
        body["serviceDetails"],
        json!({ "teamsDirectRouting": { "enabled": true } }),
        "{body}"
    );
    let twice = r#"{"telephoneNumber":"+441632960124","accountName":"contoso","serviceDetails":{"teamsDirectRouting":{"enabled":true},"teamsDirectRouting":null}}"#;
    let (response, text) = send(
        &api.app,
        raw("/accounts/contoso/numbers/%2B441632960124", twice),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{text}");
    let (status, _, _) = api
        .call(
            "GET",
            "/accounts/contoso/numbers/%2B441632960124",
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn batches_create_numbers_all_or_nothing_and_delete_them() {
    let api = Api::new().await;
    api.call("PUT", "/accounts/contoso", Some(dr_account("contoso")), &[])
        .await;
    let mut with_header = dr_number("+442079460001", "contoso");
    with_header["configuration"] = json!({ "customSipHeader": "contoso-commsgw" });
    let batch = json!({ "numbers": [with_header, dr_number("+442079460002", "contoso")] });
    let (status, _, body) = api
        .call(
            "POST",
            "/accounts/contoso:createOrUpdateNumbers",
            Some(batch),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["numbers"][0]["configuration"]["customSipHeader"],
        "contoso-commsgw"
    );
    assert_eq!(body["numbers"][1]["serviceProvisioningStatus"], "synced");

    let mut zoom = dr_number("+442079460003", "contoso");
    zoom["serviceDetails"] = json!({ "zoomPhoneCloudPeering": { "enabled": true } });
    let bad = json!({ "numbers": [dr_number("+442079460004", "contoso"), zoom, dr_number("0207946", "contoso")] });
    let (status, _, body) = api
        .call(
            "POST",
            "/accounts/contoso:createOrUpdateNumbers",
            Some(bad),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let targets: Vec<_> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["target"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        targets,
        ["numbers[2].telephoneNumber"],
        "parse errors come first, per item"
    );
    let (_, _, listed) = api
        .call("GET", "/accounts/contoso/numbers", None, &[])
        .await;
    assert_eq!(
        listed["value"].as_array().unwrap().len(),
        2,
        "nothing of the bad batch was written"
    );

    let too_many = json!({ "numbers": (0..101).map(|i| dr_number(&format!("+4420794610{i:02}"), "contoso")).collect::<Vec<_>>() });
    let (status, _, body) = api
        .call(
            "POST",
            "/accounts/contoso:createOrUpdateNumbers",
            Some(too_many),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "InvalidRequest");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1–100"),
        "{body}"
    );

    let delete = json!({ "numbers": [{ "telephoneNumber": "+442079460001" }] });
    let (status, _, _) = api
        .call("POST", "/accounts/contoso:deleteNumbers", Some(delete), &[])
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = api
        .call(
            "GET",
            "/accounts/contoso/numbers/%2B442079460001",
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn one_number_is_put_got_and_deleted_at_its_own_path() {
    let api = Api::new().await;
    api.call("PUT", "/accounts/contoso", Some(dr_account("contoso")), &[])
        .await;
    let (status, headers, body) = api
        .call(
            "PUT",
            "/accounts/contoso/numbers/%2B442079460001",
            Some(dr_number("+442079460001", "contoso")),
            &[],
        )
        .await;
    assert_eq!(
        (status, headers["etag"].to_str().unwrap()),
        (StatusCode::CREATED, "\"1\""),
        "{body}"
    );
    assert_eq!(
        body["serviceDetails"],
        json!({ "teamsDirectRouting": { "enabled": true } })
    );

    let (status, _, body) = api
        .call(
            "PUT",
            "/accounts/contoso/numbers/%2B442079460009",
            Some(dr_number("+442079460001", "contoso")),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["target"], "telephoneNumber");

    let (status, _, body) = api
        .call(
            "GET",
            "/accounts/contoso/numbers/%2B442079460001",
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["accountName"], "contoso");
    let (status, _, _) = api
        .call(
            "DELETE",
            "/accounts/contoso/numbers/%2B442079460001",
            None,
            &[("if-match", "\"9\"")],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, _) = api
        .call(
            "DELETE",
            "/accounts/contoso/numbers/%2B442079460001",
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, headers, _) = api
        .call(
            "DELETE",
            "/accounts/contoso/numbers/%2B442079460001",
            None,
            &[],
        )
        .await;
    assert_eq!(
        (status, headers["x-ms-error-code"].to_str().unwrap()),
        (StatusCode::NOT_FOUND, "NotFound")
    );
}

#[tokio::test]
async fn a_number_in_another_account_is_409() {
    let api = Api::new().await;
    api.call("PUT", "/accounts/first", Some(dr_account("first")), &[])
        .await;
    api.call("PUT", "/accounts/second", Some(dr_account("second")), &[])
        .await;
    api.call(
        "PUT",
        "/accounts/first/numbers/%2B442079460001",
        Some(dr_number("+442079460001", "first")),
        &[],
    )
    .await;
    let (status, headers, body) = api
        .call(
            "PUT",
            "/accounts/second/numbers/%2B442079460001",
            Some(dr_number("+442079460001", "second")),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(headers["x-ms-error-code"], "Conflict");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already belongs to account first"));
}

#[tokio::test]
async fn deleting_an_account_with_numbers_needs_delete_numbers() {
    let api = Api::new().await;
    api.call("PUT", "/accounts/contoso", Some(dr_account("contoso")), &[])
        .await;
    api.call(
        "PUT",
        "/accounts/contoso/numbers/%2B442079460001",
        Some(dr_number("+442079460001", "contoso")),
        &[],
    )
    .await;
    let (status, _, body) = api.call("DELETE", "/accounts/contoso", None, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("deleteNumbers=true"));
    let (status, _, _) = api
        .call("DELETE", "/accounts/contoso?deleteNumbers=true", None, &[])
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, body) = api.call("GET", "/numbers", None, &[]).await;
    assert_eq!(body["value"], json!([]));
}

#[tokio::test]
async fn lists_page_with_next_link_and_count_records() {
    let api = Api::new().await;
    for name in ["a", "b", "c", "d", "e"] {
        api.call(
            "PUT",
            &format!("/accounts/{name}"),
            Some(dr_account(name)),
            &[],
        )
        .await;
    }
    let (status, headers, body) = api
        .call(
            "GET",
            "/accounts?maxpagesize=2&countRecords=true",
            None,
            &[("host", "numbat.test")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-ms-record-count"], "5");
    let mut names: Vec<String> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    let mut next = body["nextLink"].as_str().map(str::to_owned);
    while let Some(link) = next {
        assert!(
            link.starts_with("http://numbat.test/provisioning/accounts?"),
            "{link}"
        );
        let path = link.trim_start_matches("http://numbat.test/provisioning");
        let path = path
            .replace(&format!("{V}&"), "")
            .replace(&format!("&{V}"), "");
        let (_, _, page) = api
            .call("GET", &path, None, &[("host", "numbat.test")])
            .await;
        names.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_owned()),
        );
        next = page["nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(names, ["a", "b", "c", "d", "e"]);

    let (_, _, body) = api
        .call("GET", "/accounts?top=3&skip=1&maxpagesize=2", None, &[])
        .await;
    let first: Vec<_> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(first, [json!("b"), json!("c")]);
    assert!(body["nextLink"].as_str().unwrap().contains("top=1"));

    let (status, _, body) = api
        .call("GET", "/accounts?maxpagesize=501", None, &[])
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "more than 500 is cut to 500: {body}"
    );
    assert_eq!(body["value"].as_array().unwrap().len(), 5);
    let (status, _, body) = api.call("GET", "/accounts?maxpagesize=0", None, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["target"], "maxpagesize");
}

/// What each role may do, operation by operation (ACG's documented role mapping).
#[tokio::test]
async fn every_role_against_every_operation() {
    let api = Api::new().await;
    api.call("PUT", "/accounts/contoso", Some(dr_account("contoso")), &[])
        .await;
    api.call(
        "PUT",
        "/accounts/contoso/numbers/%2B442079460001",
        Some(dr_number("+442079460001", "contoso")),
        &[],
    )
    .await;
    // (method, path, body, who may: Read, Write, Delete, Admin)
    let operations: Vec<(&str, String, Option<Value>, [bool; 4])> = vec![
        ("GET", "/accounts".into(), None, [true, false, false, true]),
        (
            "GET",
            "/accounts/contoso".into(),
            None,
            [true, false, false, true],
        ),
        (
            "PUT",
            "/accounts/contoso".into(),
            Some(dr_account("contoso")),
            [false, true, false, true],
        ),
        (
            "GET",
            "/accounts/contoso/numbers".into(),
            None,
            [true, false, false, true],
        ),
        (
            "GET",
            "/accounts/contoso/numbers/%2B442079460001".into(),
            None,
            [true, false, false, true],
        ),
        (
            "PUT",
            "/accounts/contoso/numbers/%2B442079460001".into(),
            Some(dr_number("+442079460001", "contoso")),
            [false, true, false, true],
        ),
        (
            "POST",
            "/accounts/contoso:createOrUpdateNumbers".into(),
            Some(json!({ "numbers": [dr_number("+442079460001", "contoso")] })),
            [false, true, false, true],
        ),
        ("GET", "/numbers".into(), None, [true, false, false, true]),
        ("GET", "/events".into(), None, [true, false, false, true]),
        ("GET", "/webhooks".into(), None, [false, false, false, true]),
        (
            "POST",
            "/accounts/contoso:deleteNumbers".into(),
            Some(json!({ "numbers": [{ "telephoneNumber": "+442079469999" }] })),
            [false, false, true, true],
        ),
        (
            "DELETE",
            "/accounts/contoso/numbers/%2B442079469999".into(),
            None,
            [false, false, true, true],
        ),
        (
            "DELETE",
            "/accounts/nobody".into(),
            None,
            [false, false, true, true],
        ),
    ];
    let roles = [Role::Read, Role::Write, Role::Delete, Role::Admin];
    for (i, role) in roles.iter().enumerate() {
        let token = api
            .token(&format!("only-{}", role.as_str()), &[*role])
            .await;
        for (method, path, body, allowed) in &operations {
            let (status, _, answer) = api.call_as(&token, method, path, body.clone(), &[]).await;
            let forbidden = status == StatusCode::FORBIDDEN;
            assert_eq!(
                forbidden,
                !allowed[i],
                "{} {method} {path}: {status} {answer}",
                role.as_str()
            );
        }
    }
}

#[tokio::test]
async fn requests_for_information_are_listed_read_and_patched() {
    let api = Api::new().await;
    api.seed_teams_data().await;
    let (status, headers, body) = api
        .call(
            "GET",
            "/teamsRequestsForInformation?countRecords=true",
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["x-ms-record-count"], "1");
    let rfi = &body["value"][0];
    assert_eq!(rfi["tenantId"], TENANT);
    assert_eq!(rfi["status"], "active");
    assert_eq!(rfi["consentedCountries"], json!(["US", "GB"]));
    assert!(
        rfi.get("customerRelationship").is_none(),
        "absent, not null: {rfi}"
    );

    let patch = json!({ "customerRelationship": { "status": "ConsentDeclined" } });
    let (status, _, body) = api
        .call(
            "PATCH",
            &format!("/teamsRequestsForInformation/{TENANT}"),
            Some(patch),
            &[("content-type", "application/merge-patch+json")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["target"], "customerRelationship.comment");

    let patch = json!({ "customerRelationship": { "status": "ConsentAcknowledged", "comment": "Consent accepted on 2024-01-12" } });
    let (status, headers, body) = api
        .call(
            "PATCH",
            &format!("/teamsRequestsForInformation/{TENANT}"),
            Some(patch),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["etag"], "\"2\"");
    assert_eq!(
        body["customerRelationship"]["status"],
        "ConsentAcknowledged"
    );
    assert!(body["customerRelationship"]["lastModifiedOn"].is_string());

    let (status, _, body) = api
        .call("GET", "/teamsRequestsForInformation/not-a-guid", None, &[])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["target"], "tenantId");
    let (status, _, _) = api
        .call(
            "GET",
            "/teamsRequestsForInformation/00000000-0000-4000-8000-000000000001",
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn civic_addresses_and_capabilities_are_answered_for_teams_accounts() {
    let api = Api::new().await;
    api.seed_teams_data().await;
    api.call("PUT", "/accounts/teams", Some(oc_account("teams")), &[])
        .await;
    let (status, _, body) = api
        .call("GET", "/accounts/teams/teamsCivicAddresses", None, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["cityOrTown"], "Reston");
    assert_eq!(body["value"][0]["locations"][0]["description"], "911");
    let (status, headers, body) = api
        .call(
            "GET",
            "/accounts/teams/teamsCivicAddresses/ebfee340-a791-11ed-9bfa-ed8bb5c41be4",
            None,
            &[],
        )
        .await;
    assert_eq!(
        (status, headers["etag"].to_str().unwrap()),
        (StatusCode::OK, "\"1\"")
    );
    assert_eq!(
        body["defaultLocationId"],
        "653c9fed-f8a7-4a6c-917b-b5b1ad4d45f7"
    );

    let (status, _, body) = api
        .call("POST", "/accounts/teams:getTeamsCapabilityPlans", None, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let usages: Vec<_> = body["capabilityPlans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["usage"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        usages.contains(&"CallingUserAssignment".to_owned()),
        "{body}"
    );
    let ask = json!({ "numbers": [{ "telephoneNumber": "+442079460001" }] });
    let (status, _, body) = api
        .call(
            "POST",
            "/accounts/teams:getTeamsAvailableCapabilities",
            Some(ask),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["availableCapabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("InboundCalling")));

    api.call("PUT", "/accounts/plain", Some(dr_account("plain")), &[])
        .await;
    let (status, _, body) = api
        .call("POST", "/accounts/plain:getTeamsCapabilityPlans", None, &[])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["target"], "serviceDetails.teamsTenantId");
    let (status, _, body) = api
        .call("POST", "/accounts/teams:doSomething", None, &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "UnknownAction");
}

fn q(filter: &str) -> String {
    filter
        .replace(' ', "%20")
        .replace('+', "%2B")
        .replace('\'', "%27")
        .replace('/', "%2F")
}

#[tokio::test]
async fn lists_take_an_odata_filter_and_refuse_what_they_do_not_support() {
    let api = Api::new().await;
    api.call("PUT", "/accounts/uk", Some(dr_account("uk")), &[])
        .await;
    api.call("PUT", "/accounts/us", Some(dr_account("us")), &[])
        .await;
    let mut tagged = dr_number("+442079460001", "uk");
    tagged["configuration"] = json!({ "customSipHeader": "billing-7" });
    api.call(
        "POST",
        "/accounts/uk:createOrUpdateNumbers",
        Some(json!({ "numbers": [tagged, dr_number("+442079460002", "uk")] })),
        &[],
    )
    .await;
    api.call(
        "POST",
        "/accounts/us:createOrUpdateNumbers",
        Some(json!({ "numbers": [dr_number("+12025550100", "us")] })),
        &[],
    )
    .await;

    let filter =
        q("startswith(telephoneNumber,'+1') or configuration/customSipHeader eq 'billing-7'");
    let (status, headers, body) = api
        .call(
            "GET",
            &format!("/numbers?filter={filter}&countRecords=true"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let numbers: Vec<_> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["telephoneNumber"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers, ["+12025550100", "+442079460001"]);
    assert_eq!(
        headers["x-ms-record-count"], "2",
        "the count honours the filter"
    );

    let filter = q("serviceDetails/teamsDirectRouting/enabled eq true and not name eq 'uk'");
    let (_, _, body) = api
        .call("GET", &format!("/accounts?filter={filter}"), None, &[])
        .await;
    let names: Vec<_> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, [json!("us")]);

    let (status, headers, body) = api
        .call(
            "GET",
            &format!("/numbers?filter={}", q("telephoneNumber gt '+1'")),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["x-ms-error-code"], "InvalidRequest");
    assert_eq!(body["error"]["details"][0]["code"], "UnsupportedFilter");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("startswith(telephoneNumber,'+44')"),
        "{body}"
    );
}

#[tokio::test]
async fn a_repeated_request_is_answered_as_the_first_without_doing_it_twice() {
    let api = Api::new().await;
    let now = httpdate::fmt_http_date(std::time::SystemTime::now());
    let retry = [
        (
            "repeatability-request-id",
            "5b0a5d3e-1111-4000-8000-00000000000a",
        ),
        ("repeatability-first-sent", now.as_str()),
    ];
    let (status, headers, first) = api
        .call(
            "PUT",
            "/accounts/contoso",
            Some(dr_account("contoso")),
            &retry,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["repeatability-result"], "accepted");

    let mut changed = dr_account("contoso");
    changed["correlationId"] = json!("would-change");
    let (status, headers, again) = api
        .call("PUT", "/accounts/contoso", Some(changed), &retry)
        .await;
    assert_eq!(status, StatusCode::CREATED, "the first answer again");
    assert_eq!(headers["repeatability-result"], "accepted");
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(again, first);
    let (_, headers, body) = api.call("GET", "/accounts/contoso", None, &[]).await;
    assert_eq!(headers["etag"], "\"1\"", "not done twice");
    assert!(body.get("correlationId").is_none());
    let events = api
        .core()
        .audit_events(
            &numbat::provisioning::Actor::new("t", &[Role::Admin], numbat::provisioning::Door::Api),
            Some("account"),
            None,
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);

    let batch_retry = [
        (
            "repeatability-request-id",
            "5b0a5d3e-1111-4000-8000-00000000000b",
        ),
        ("repeatability-first-sent", now.as_str()),
    ];
    let batch = json!({ "numbers": [dr_number("+442079460001", "contoso")] });
    api.call(
        "POST",
        "/accounts/contoso:createOrUpdateNumbers",
        Some(batch.clone()),
        &batch_retry,
    )
    .await;
    let (status, headers, _) = api
        .call(
            "POST",
            "/accounts/contoso:createOrUpdateNumbers",
            Some(batch),
            &batch_retry,
        )
        .await;
    assert_eq!(
        (status, headers["repeatability-result"].to_str().unwrap()),
        (StatusCode::OK, "accepted")
    );
    let (_, headers, _) = api
        .call(
            "GET",
            "/accounts/contoso/numbers/%2B442079460001",
            None,
            &[],
        )
        .await;
    assert_eq!(headers["etag"], "\"1\"");

    let (status, headers, body) = api.call("DELETE", "/accounts/contoso", None, &retry).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an ID belongs to one request"
    );
    assert_eq!(headers["repeatability-result"], "rejected");
    assert_eq!(body["error"]["target"], "Repeatability-Request-ID");

    let old = httpdate::fmt_http_date(
        std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600),
    );
    let stale = [
        (
            "repeatability-request-id",
            "5b0a5d3e-1111-4000-8000-00000000000c",
        ),
        ("repeatability-first-sent", old.as_str()),
    ];
    let (status, headers, _) = api
        .call("PUT", "/accounts/other", Some(dr_account("other")), &stale)
        .await;
    assert_eq!(
        (status, headers["repeatability-result"].to_str().unwrap()),
        (StatusCode::BAD_REQUEST, "rejected")
    );
    let (status, _, _) = api.call("GET", "/accounts/other", None, &[]).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a rejected request changes nothing"
    );

    let (_, headers, _) = api
        .call("PUT", "/accounts/plain", Some(dr_account("plain")), &[])
        .await;
    assert!(headers.get("repeatability-result").is_none());
}

#[tokio::test]
async fn a_rate_limit_answers_429_with_retry_after_and_an_allowlist_403() {
    use numbat::auth::limits::ApiLimits;
    use numbat::server::router;
    use numbat::state::AppState;
    let test = TestDb::sqlite().await.migrated().await;
    let token = crate::common::api_token(&test.db, "bss", &[Role::Admin]).await;
    let limits = ApiLimits::new(vec!["192.0.2.0/24".parse().unwrap()], Some(2));
    let app = router(
        AppState::new(test.db.clone(), std::path::Path::new("/none")).with_api_limits(limits),
    );
    let from = |ip: &str| {
        let mut request = Request::get(format!("/provisioning/accounts?{V}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
                ip.parse().unwrap(),
                40000,
            )));
        request
    };
    let (response, body) = send(&app, from("198.51.100.1")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["x-ms-error-code"], "SourceNotAllowed");
    assert!(body.contains("192.0.2.0/24"), "{body}");

    assert_eq!(
        send(&app, from("192.0.2.7")).await.0.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&app, from("192.0.2.7")).await.0.status(),
        StatusCode::OK
    );
    let (response, body) = send(&app, from("192.0.2.7")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["x-ms-error-code"], "TooManyRequests");
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=30).contains(&wait),
        "one request comes back every 30 s: {wait}"
    );
    assert!(body.contains("2 requests a minute"), "{body}");
}

#[tokio::test]
async fn a_conditional_get_answers_304_or_412() {
    let api = Api::new().await;
    api.call("PUT", "/accounts/contoso", Some(dr_account("contoso")), &[])
        .await;
    let (status, headers, body) = api
        .call(
            "GET",
            "/accounts/contoso",
            None,
            &[("if-none-match", "\"1\"")],
        )
        .await;
    assert_eq!(
        (status, headers["etag"].to_str().unwrap()),
        (StatusCode::NOT_MODIFIED, "\"1\"")
    );
    assert_eq!(body, Value::Null);
    let (status, _, _) = api
        .call(
            "GET",
            "/accounts/contoso",
            None,
            &[("if-none-match", "\"0\"")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = api
        .call("GET", "/accounts/contoso", None, &[("if-match", "\"7\"")])
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn a_repeatability_id_is_the_callers_own_and_needs_a_token() {
    let api = Api::new().await;
    let other = api.token("other", &[Role::Admin]).await;
    let now = httpdate::fmt_http_date(std::time::SystemTime::now());
    let retry = [
        ("repeatability-request-id", "shared-id"),
        ("repeatability-first-sent", now.as_str()),
    ];
    let (status, _, _) = api
        .call("PUT", "/accounts/mine", Some(dr_account("mine")), &retry)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, body) = api
        .call_as(
            &other,
            "PUT",
            "/accounts/mine",
            Some(dr_account("mine")),
            &retry,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "done for the other caller, not replayed: {body}"
    );
    let (status, _, _) = api
        .call_as(
            "",
            "PUT",
            "/accounts/mine",
            Some(dr_account("mine")),
            &retry,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "authentication comes before any replay"
    );
}

#[tokio::test]
async fn the_openapi_document_and_reference_page_describe_every_operation() {
    let api = Api::new().await;
    let (response, text) = send(
        &api.app,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["openapi"], "3.0.3");
    assert_eq!(document["servers"][0]["url"], "/provisioning");
    let operations: Vec<String> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|methods| {
            methods
                .as_object()
                .unwrap()
                .values()
                .map(|op| op["operationId"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        operations.len(),
        46,
        "ACG's 18 operations and Numbat's retrySync, routing lookup, onboarding, three of the inventory, seven of the labels, two of the verification numbers, two of the emergency locations, the billable users, the change feed and nine of the webhooks: {operations:?}"
    );
    for id in [
        "Accounts_CreateOrUpdateNumbers",
        "Routing_Get",
        "Accounts_GetDirectRoutingOnboarding",
        "Inventory_List",
        "Inventory_Get",
        "Inventory_Act",
        "Labels_ListNumbers",
        "Labels_ChangeNumberTags",
        "Labels_SetNumber",
        "Labels_SetAccount",
        "VerificationNumbers_List",
        "VerificationNumbers_Act",
        "EmergencyLocations_Get",
        "EmergencyLocations_Set",
        "BillableUsers_Get",
        "Webhooks_Redeliver",
        "ListNumbers",
        "TeamsRequestsForInformation_CreateOrUpdateRequestForInformation",
    ] {
        assert!(operations.iter().any(|o| o == id), "{id}");
    }

    let (response, html) = send(
        &api.app,
        Request::get("/api-docs").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        html.contains("/accounts/{accountName}:createOrUpdateNumbers"),
        "every path is listed"
    );
    assert!(html.contains("Needs the Delete role."));
    for code in [
        "InvalidRequest",
        "UnsupportedApiVersion",
        "Conflict",
        "PreconditionFailed",
        "TooManyRequests",
    ] {
        assert!(
            html.contains(&format!("<code>{code}</code>")),
            "error code {code} is documented"
        );
    }
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "nothing is fetched from elsewhere"
    );
}

#[tokio::test]
async fn a_client_request_id_must_be_a_uuid() {
    let api = Api::new().await;
    let (status, _, body) = api
        .call(
            "GET",
            "/accounts",
            None,
            &[("x-ms-client-request-id", "not-a-uuid")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["target"], "x-ms-client-request-id");
}

#[tokio::test]
async fn date_conditions_apply_to_reads_and_writes_in_http_and_iso_8601_forms() {
    let api = Api::new().await;
    api.call("PUT", "/accounts/contoso", Some(dr_account("contoso")), &[])
        .await;
    let later =
        httpdate::fmt_http_date(std::time::SystemTime::now() + std::time::Duration::from_secs(60));
    let earlier = httpdate::fmt_http_date(
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    let (status, _, _) = api
        .call(
            "GET",
            "/accounts/contoso",
            None,
            &[("if-modified-since", later.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = api
        .call(
            "GET",
            "/accounts/contoso",
            None,
            &[("if-modified-since", earlier.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = api
        .call(
            "GET",
            "/accounts/contoso",
            None,
            &[("if-unmodified-since", earlier.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, body) = api
        .call(
            "GET",
            "/accounts/contoso",
            None,
            &[("if-unmodified-since", "yesterday")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["target"], "If-Unmodified-Since");
    // ISO 8601, as clients generated from the swagger's `date-time` send it.
    let iso = |at: std::time::SystemTime| {
        time::OffsetDateTime::from(at)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let iso_later = iso(std::time::SystemTime::now() + std::time::Duration::from_secs(60));
    let iso_earlier = iso(std::time::SystemTime::now() - std::time::Duration::from_secs(3600));
    for (header, at, expected) in [
        ("if-modified-since", &iso_later, StatusCode::NOT_MODIFIED),
        (
            "if-unmodified-since",
            &iso_earlier,
            StatusCode::PRECONDITION_FAILED,
        ),
        ("if-unmodified-since", &iso_later, StatusCode::OK),
    ] {
        let (status, _, body) = api
            .call("GET", "/accounts/contoso", None, &[(header, at.as_str())])
            .await;
        assert_eq!(status, expected, "{header}: {at}: {body}");
    }

    // On a write, If-Unmodified-Since is a condition like If-Match.
    let mut changed = dr_account("contoso");
    changed["correlationId"] = json!("crm-9");
    for at in [&earlier, &iso_earlier] {
        let (status, _, body) = api
            .call(
                "PUT",
                "/accounts/contoso",
                Some(changed.clone()),
                &[("if-unmodified-since", at.as_str())],
            )
            .await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{at}: {body}");
    }
    let (_, headers, body) = api.call("GET", "/accounts/contoso", None, &[]).await;
    assert_eq!(
        headers["etag"], "\"1\"",
        "a refused write changed nothing: {body}"
    );
    let (status, headers, _) = api
        .call(
            "PUT",
            "/accounts/contoso",
            Some(changed.clone()),
            &[("if-unmodified-since", iso_later.as_str())],
        )
        .await;
    assert_eq!(
        (status, headers["etag"].to_str().unwrap()),
        (StatusCode::OK, "\"2\"")
    );
    // If-Modified-Since means nothing on a write (RFC 9110 13.1.3).
    let (status, _, body) = api
        .call(
            "PUT",
            "/accounts/contoso",
            Some(changed),
            &[("if-modified-since", later.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = api
        .call(
            "PUT",
            "/accounts/contoso",
            Some(dr_account("contoso")),
            &[("if-unmodified-since", "yesterday")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["target"], "If-Unmodified-Since");
    // A date that is none is refused even beside a condition that would win, and even where
    // the header means nothing (If-Modified-Since on a write).
    for (name, extra) in [
        ("If-Unmodified-Since", ("if-match", "*")),
        ("If-Modified-Since", ("if-none-match", "\"0\"")),
    ] {
        let (status, _, body) = api
            .call(
                "PUT",
                "/accounts/contoso",
                Some(dr_account("contoso")),
                &[(name, ""), extra],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert_eq!(body["error"]["target"], name);
    }
}

#[tokio::test]
async fn an_if_match_naming_an_etag_never_issued_is_412_on_every_write() {
    let api = Api::new().await;
    api.call("PUT", "/accounts/contoso", Some(dr_account("contoso")), &[])
        .await;
    api.call(
        "PUT",
        "/accounts/contoso/numbers/+441632960001",
        Some(dr_number("+441632960001", "contoso")),
        &[],
    )
    .await;
    for etag in ["\"abc\"", "W/\"x\"", "\"\"", "\"99\""] {
        for (method, path, body) in [
            ("PUT", "/accounts/contoso", Some(dr_account("contoso"))),
            (
                "PUT",
                "/accounts/contoso/numbers/+441632960001",
                Some(dr_number("+441632960001", "contoso")),
            ),
            ("DELETE", "/accounts/contoso/numbers/+441632960001", None),
            ("DELETE", "/accounts/contoso", None),
        ] {
            let (status, _, answer) = api.call(method, path, body, &[("if-match", etag)]).await;
            assert_eq!(
                status,
                StatusCode::PRECONDITION_FAILED,
                "{method} {path} If-Match {etag}: {answer}"
            );
        }
    }
    // Of a list, the first ETag this server could have given counts.
    let (status, _, answer) = api
        .call(
            "PUT",
            "/accounts/contoso",
            Some(dr_account("contoso")),
            &[("if-match", "\"abc\", \"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _, _) = api
        .call("GET", "/accounts/contoso/numbers/+441632960001", None, &[])
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the refused deletes deleted nothing"
    );
}

#[tokio::test]
async fn consents_and_civic_addresses_take_a_filter_and_answer_the_swaggers_enums() {
    use numbat::domain::consent::{ConsentStatus, RequestForInformation, TeamsCivicAddress};
    use numbat::provisioning::{Actor, Door};
    let api = Api::new().await;
    api.seed_teams_data().await;
    api.call("PUT", "/accounts/teams", Some(oc_account("teams")), &[])
        .await;
    let sync = Actor::new("sync", &[Role::Admin], Door::Sync);
    let other = "0b6a2f1c-3d4e-4f50-8a9b-1c2d3e4f5a6b";
    let tenant = numbat::domain::TenantId::parse(other).unwrap();
    let rfi = RequestForInformation {
        id: "a4c4bd44-0f7b-4bbf-86a5-2c8f4b1ac001".into(),
        tenant_id: tenant,
        account_name: None,
        product_context: "teams".into(),
        operator_id: None,
        status: ConsentStatus::Suspended,
        consented_on: None,
        last_modified_on: None,
        consented_countries: vec!["GB".into()],
        contacts: vec![],
        customer_relationship: None,
    };
    api.core().record_rfi(&sync, rfi).await.unwrap();
    // Upstream spelling, as Teams writes it: answered as the swagger's enum.
    let london: TeamsCivicAddress = serde_json::from_value(json!({
        "id": "f0c1a2b3-0000-4000-8000-000000000002",
        "tenantId": TENANT,
        "country": "GB",
        "cityOrTown": "London",
        "defaultLocationId": "f0c1a2b3-0000-4000-8000-0000000000aa",
        "validationStatus": "NotValidated",
        "locations": []
    }))
    .unwrap();
    let ours = numbat::domain::TenantId::parse(TENANT).unwrap();
    api.core()
        .record_civic_address(&sync, &ours, london)
        .await
        .unwrap();

    let list = |path: String| {
        let api = &api;
        async move {
            let (status, headers, body) = api.call("GET", &path, None, &[]).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            let count = headers
                .get("x-ms-record-count")
                .map(|c| c.to_str().unwrap().parse::<i64>().unwrap());
            (body, count)
        }
    };
    let (body, count) = list(format!(
        "/teamsRequestsForInformation?countRecords=true&filter={}",
        q("status eq 'suspended'")
    ))
    .await;
    assert_eq!(count, Some(1), "{body}");
    assert_eq!(body["value"][0]["tenantId"], other);
    for (filter, expected) in [
        (format!("tenantId eq '{TENANT}'"), 1),
        ("customerRelationship/status eq null".to_owned(), 2),
        (
            "not (status eq 'active') and startswith(tenantId,'0b6a')".to_owned(),
            1,
        ),
        ("serviceProvisioningStatus ne null".to_owned(), 2),
    ] {
        let (body, count) = list(format!(
            "/teamsRequestsForInformation?countRecords=true&filter={}",
            q(&filter)
        ))
        .await;
        assert_eq!(count, Some(expected), "{filter}: {body}");
        assert_eq!(body["value"].as_array().unwrap().len() as i64, expected);
    }

    let (body, count) = list(format!(
        "/accounts/teams/teamsCivicAddresses?countRecords=true&filter={}",
        q("validationStatus eq 'notValidated'")
    ))
    .await;
    assert_eq!(count, Some(1), "{body}");
    assert_eq!(body["value"][0]["cityOrTown"], "London");
    assert_eq!(body["value"][0]["validationStatus"], "notValidated");
    let (body, _) = list(format!(
        "/accounts/teams/teamsCivicAddresses?filter={}",
        q("country eq 'US' and startswith(cityOrTown,'Res')")
    ))
    .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["value"][0]["validationStatus"], "validated");
    // A page of one with a filter still pages through what matches.
    let (body, _) = list(format!(
        "/accounts/teams/teamsCivicAddresses?maxpagesize=1&filter={}",
        q("tenantId ne null")
    ))
    .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1, "{body}");
    assert!(body["nextLink"].is_string(), "{body}");

    for (path, filter) in [
        ("/teamsRequestsForInformation", "contacts eq 'x'"),
        ("/accounts/teams/teamsCivicAddresses", "locations eq 'x'"),
        ("/teamsRequestsForInformation", "startswith(status,'a')"),
    ] {
        let (status, _, body) = api
            .call("GET", &format!("{path}?filter={}", q(filter)), None, &[])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}: {body}");
        assert_eq!(body["error"]["details"][0]["code"], "UnsupportedFilter");
    }
}

/// Conditions together, as RFC 9110 13.2.2 weighs them: If-Match or else If-Unmodified-Since,
/// then If-None-Match; ETag lists over every header line, any ETag may match; If-Match compares
/// strongly.
#[tokio::test]
async fn write_conditions_combine_and_lists_match_any_etag() {
    let api = Api::new().await;
    let path = "/accounts/contoso";
    let later =
        httpdate::fmt_http_date(std::time::SystemTime::now() + std::time::Duration::from_secs(60));
    // If-Unmodified-Since on a resource that does not exist yet: nothing to compare, created.
    let (status, headers, body) = api
        .call(
            "PUT",
            path,
            Some(dr_account("contoso")),
            &[("if-unmodified-since", later.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["etag"], "\"1\"");
    let mut changed = dr_account("contoso");
    changed["correlationId"] = json!("crm-1");
    for (why, conditions, expected) in [
        (
            "If-None-Match: * still means create-only beside a date that holds",
            vec![
                ("if-unmodified-since", later.as_str()),
                ("if-none-match", "*"),
            ],
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            "If-None-Match: * still means create-only beside If-Match: *",
            vec![("if-match", "*"), ("if-none-match", "*")],
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            "an If-None-Match list naming the current ETag anywhere",
            vec![("if-none-match", "\"5\", \"1\"")],
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            "a weak ETag in If-Match never matches",
            vec![("if-match", "W/\"1\"")],
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            "an If-Match list naming the current ETag second",
            vec![("if-match", "\"5\", \"1\"")],
            StatusCode::OK,
        ),
    ] {
        let (status, _, body) = api
            .call("PUT", path, Some(changed.clone()), &conditions)
            .await;
        assert_eq!(status, expected, "{why}: {body}");
    }
    // The current ETag on a second If-Match line counts too.
    let (status, _, body) = api
        .call(
            "PUT",
            path,
            Some(dr_account("contoso")),
            &[("if-match", "\"9\""), ("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, headers, _) = api.call("GET", path, None, &[]).await;
    assert_eq!(headers["etag"], "\"3\"", "exactly the two writes that held");
    // Reads weigh the same conditions the same way: If-Match strongly (and then no date),
    // If-None-Match weakly.
    for (why, conditions, expected) in [
        (
            "a weak ETag in If-Match never matches a read either",
            vec![("if-match", "W/\"3\"")],
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            "If-Match naming the current ETag, beside a date long past that it overrides",
            vec![
                ("if-match", "\"3\""),
                ("if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT"),
            ],
            StatusCode::OK,
        ),
        (
            "a weak If-None-Match naming the current ETag",
            vec![("if-none-match", "W/\"3\"")],
            StatusCode::NOT_MODIFIED,
        ),
        (
            "an If-None-Match from a cache listing many ETags, the current one last",
            vec![(
                "if-none-match",
                "\"10\", \"11\", \"12\", \"13\", \"14\", \"15\", \"16\", \"17\", \"18\", \"3\"",
            )],
            StatusCode::NOT_MODIFIED,
        ),
        (
            "If-None-Match naming another ETag, beside a date that alone would say 304",
            vec![
                ("if-none-match", "\"2\""),
                ("if-modified-since", later.as_str()),
            ],
            StatusCode::OK,
        ),
    ] {
        let (status, _, body) = api.call("GET", path, None, &conditions).await;
        assert_eq!(status, expected, "{why}: {body}");
    }
}

/// The onboarding of a Direct Routing account names both customer domains with the TXT values
/// the DNS serves and the account's status, and gives the PowerShell for a voice route over
/// both; what cannot be onboarded yet is refused by a named rule, and nothing changes.
#[tokio::test]
async fn direct_routing_onboarding_names_both_domains_and_the_steps_or_the_rule_that_stops_it() {
    let api = Api::new().await;
    let path = "/accounts/contoso/directRoutingOnboarding";
    let (status, _, body) = api.call("GET", path, None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let dr = json!({ "name": "contoso", "serviceDetails": { "teamsDirectRouting": { "enabled": true,
        "configuration": { "callScreening": true, "subdomain": "contoso",
            "subdomainTokens": { "region1Token": "MS=ms11111111", "region2Token": "MS=ms22222222" } } } } });
    let (status, _, body) = api.call("PUT", "/accounts/contoso", Some(dr), &[]).await;
    assert!(status.is_success(), "{body}");
    // No base domain yet: the domains have no names.
    let (status, _, body) = api.call("GET", path, None, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["target"], "baseDomain", "{body}");

    let admin =
        numbat::provisioning::Actor::new("setup", &[Role::Admin], numbat::provisioning::Door::Cli);
    api.core()
        .put_settings(
            &admin,
            numbat::provisioning::DeploymentSettings {
                sip_header_name: None,
                base_domain: Some(numbat::domain::BaseDomain::parse("dep1.example").unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, _, body) = api.call("GET", path, None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accountName"], "contoso");
    assert_eq!(
        body["subdomainStatus"], "notProvisioned",
        "no DNS responder runs here"
    );
    assert_eq!(
        body["domains"],
        json!([
            { "region": 1, "domain": "contoso.1r1.dep1.example", "txtValue": "MS=ms11111111" },
            { "region": 2, "domain": "contoso.1r2.dep1.example", "txtValue": "MS=ms22222222" },
        ])
    );
    // The answer has exactly the fields the OpenAPI document describes, at every level.
    let (_, document) = crate::common::get(&api.app, "/openapi.json").await;
    let document: Value = serde_json::from_str(&document).unwrap();
    let schema = &document["components"]["schemas"]["DirectRoutingOnboarding"];
    let keys = |object: &Value| {
        let mut keys: Vec<String> = object.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&body), keys(&schema["properties"]));
    for (field, item) in [
        ("domains", &body["domains"][0]),
        ("steps", &body["steps"][0]),
    ] {
        assert_eq!(
            keys(item),
            keys(&schema["properties"][field]["items"]["properties"]),
            "{field}"
        );
    }
    let steps = body["steps"].as_array().unwrap();
    let dns = steps
        .iter()
        .find(|s| s["title"] == "Wait until the TXT records answer")
        .unwrap();
    assert_eq!(dns["done"], false, "{dns}");
    let route = steps
        .iter()
        .find_map(|s| {
            s["powershell"]
                .as_str()
                .filter(|p| p.contains("New-CsOnlineVoiceRoute"))
        })
        .expect("the voice route's PowerShell");
    assert!(
        route.contains("-OnlinePstnGatewayList contoso.1r1.dep1.example, contoso.1r2.dep1.example"),
        "{route}"
    );
    assert!(route.contains("\"Numbat-contoso\""), "{route}");

    // Once the DNS answers both, the step is done.
    api.core()
        .record_subdomain_status(
            &admin,
            &numbat::domain::AccountName::parse("contoso").unwrap(),
            "contoso",
            ["MS=ms11111111", "MS=ms22222222"],
            numbat::domain::SubdomainStatus::Provisioned,
        )
        .await
        .unwrap();
    let (_, _, body) = api.call("GET", path, None, &[]).await;
    assert_eq!(body["subdomainStatus"], "provisioned");
    let dns = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "Wait until the TXT records answer")
        .unwrap()
        .clone();
    assert_eq!(dns["done"], true, "{dns}");

    // An account without Direct Routing, or without its subdomain yet, has nothing to onboard:
    // a 409 that names the missing piece.
    for (name, account, target) in [
        (
            "fabrikam",
            oc_account("fabrikam"),
            "serviceDetails.teamsDirectRouting",
        ),
        (
            "northwind",
            dr_account("northwind"),
            "serviceDetails.teamsDirectRouting.configuration.subdomain",
        ),
    ] {
        let (status, _, body) = api
            .call("PUT", &format!("/accounts/{name}"), Some(account), &[])
            .await;
        assert!(status.is_success(), "{body}");
        let onboarding = format!("/accounts/{name}/directRoutingOnboarding");
        let (status, _, body) = api.call("GET", &onboarding, None, &[]).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {body}");
        assert_eq!(body["error"]["target"], target, "{name}");
    }

    // A hostile account name is refused by the name's rule, not looked up.
    let (status, _, body) = api
        .call(
            "GET",
            "/accounts/a%0D%0Ab/directRoutingOnboarding",
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// The inventory through Numbat's own endpoints (tagged Inventory in the OpenAPI document):
/// a range added and reserved with a result per number; ACG's PUT refused by the hold's rule
/// and its DELETE quarantining; the routing lookup saying why a held number is not routed;
/// hostile bodies refused by field, changing nothing.
#[tokio::test]
async fn the_inventory_acts_by_range_with_a_result_per_number_and_acgs_writes_obey_its_holds() {
    let api = Api::new().await;
    for name in ["alpha", "bravo"] {
        let (status, _, body) = api
            .call(
                "PUT",
                &format!("/accounts/{name}"),
                Some(dr_account(name)),
                &[],
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    let act = |body: Value| {
        let api = &api;
        async move { api.call("POST", "/inventory", Some(body), &[]).await }
    };
    let (status, _, body) =
        act(json!({ "action": "add", "from": "+442071110000", "to": "+442071110999" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["jobId"].as_i64(),
            body["done"].as_u64(),
            body["results"].as_array().map(Vec::len)
        ),
        (Some(1), Some(1000), Some(1000)),
        "one job, with a result per number"
    );
    assert_eq!(
        body["results"][999],
        json!({ "telephoneNumber": "+442071110999", "outcome": "done" })
    );

    let (_, _, body) = act(json!({ "action": "reserve", "accountName": "alpha",
        "telephoneNumbers": ["+442071110001", "+442071110002", "+442071119999"] }))
    .await;
    assert_eq!(
        (body["done"].as_u64(), body["refused"].as_u64()),
        (Some(2), Some(1)),
        "{body}"
    );
    assert_eq!(body["results"][2]["violation"]["code"], "NotInInventory");
    assert_eq!(body["results"][2]["violation"]["field"], "telephoneNumber");

    // ACG's PUT into bravo meets alpha's reservation: 409 naming the rule.
    let path = "/accounts/bravo/numbers/%2B442071110001";
    let (status, _, body) = api
        .call("PUT", path, Some(dr_number("+442071110001", "bravo")), &[])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.to_string().contains("NumberReservedForAnotherAccount"),
        "{body}"
    );
    let (status, _, body) = api
        .call("GET", "/inventory/%2B442071110001", None, &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["state"].as_str(), body["accountName"].as_str()),
        (Some("reserved"), Some("alpha"))
    );
    let (_, _, body) = api
        .call(
            "GET",
            "/routing/%2B442071110001?direction=fromOperator",
            None,
            &[],
        )
        .await;
    assert_eq!(body["inventoryState"], "reserved");
    assert_eq!(body["rejection"]["status"], 404);
    assert!(
        body["rejection"]["reason"]
            .as_str()
            .unwrap()
            .contains("reserved"),
        "{body}"
    );

    // Into alpha, then released: quarantined from alpha, and the lookup says so.
    let path = "/accounts/alpha/numbers/%2B442071110001";
    let (status, _, body) = api
        .call("PUT", path, Some(dr_number("+442071110001", "alpha")), &[])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, _, body) = api
        .call("GET", "/inventory/%2B442071110001", None, &[])
        .await;
    assert_eq!(body["state"], "assigned");
    let (_, _, body) = api
        .call("GET", "/inventory?state=available&maxpagesize=5", None, &[])
        .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 5);
    assert_eq!(body["value"][0]["telephoneNumber"], "+442071110000");
    assert_eq!(
        body["value"][1]["telephoneNumber"], "+442071110003",
        "reserved and assigned ones are not available"
    );
    assert!(
        body["nextLink"]
            .as_str()
            .unwrap()
            .contains("after=%2B442071110006"),
        "{body}"
    );
    let (status, _, _) = api.call("DELETE", path, None, &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, body) = api
        .call(
            "GET",
            "/inventory?state=quarantined&accountName=alpha",
            None,
            &[],
        )
        .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["value"][0]["telephoneNumber"], "+442071110001");
    let (_, _, body) = api
        .call(
            "GET",
            "/routing/%2B442071110001?direction=toOperator",
            None,
            &[],
        )
        .await;
    assert_eq!(
        (
            body["inventoryState"].as_str(),
            body["rejection"]["status"].as_u64()
        ),
        (Some("quarantined"), Some(404))
    );
    let (status, _, body) = api
        .call("GET", "/accounts/alpha/numbers/%2B442071110001", None, &[])
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "ACG's GETs show assigned numbers only: {body}"
    );
    let (_, _, body) = act(json!({ "action": "setQuarantine", "quarantine": "indefinitely", "telephoneNumbers": ["+442071110001"] })).await;
    assert_eq!(body["done"], 1, "{body}");
    let (_, _, body) = api
        .call("GET", "/inventory/%2B442071110001", None, &[])
        .await;
    assert_eq!(body["until"], Value::Null);

    // Hostile or wrong bodies: 400 naming the field and the rule, nothing changed.
    let before = api
        .call("GET", "/inventory?maxpagesize=500", None, &[])
        .await
        .2;
    let huge: Vec<String> = (0..10_001).map(|i| format!("+4420800{i:05}")).collect();
    for (body, target, code) in [
        (
            json!({ "action": "add", "telephoneNumbers": huge }),
            "telephoneNumbers",
            "BatchSize",
        ),
        (
            json!({ "action": "add", "from": "+442071110000", "to": "+442071120000" }),
            "to",
            "BatchSize",
        ),
        (
            json!({ "action": "add", "from": "+44207111", "to": "+4420711100" }),
            "to",
            "InvalidValue",
        ),
        (
            json!({ "action": "add", "telephoneNumbers": ["+44207\r\n1110000"] }),
            "telephoneNumbers[0]",
            "InvalidFormat",
        ),
        (
            json!({ "action": "add", "telephoneNumbers": ["+442071110000"], "from": "+442071110000", "to": "+442071110001" }),
            "telephoneNumbers",
            "Required",
        ),
        (
            json!({ "action": "explode", "telephoneNumbers": ["+442071110000"] }),
            "action",
            "InvalidValue",
        ),
        (
            json!({ "action": "reserve", "telephoneNumbers": ["+442071110000"] }),
            "accountName",
            "Required",
        ),
        (
            json!({ "action": "reserve", "accountName": "alpha", "until": "1999-01-01", "telephoneNumbers": ["+442071110000"] }),
            "until",
            "OutOfRange",
        ),
        (
            json!({ "action": "setQuarantine", "quarantine": "366", "telephoneNumbers": ["+442071110000"] }),
            "quarantine",
            "OutOfRange",
        ),
        (
            json!({ "action": "add", "telephoneNumbers": ["+442071110000"], "sneaky": true }),
            "",
            "InvalidJson",
        ),
        (
            json!({ "action": "assign", "accountName": "alpha", "services": ["nope"], "telephoneNumbers": ["+442071110000"] }),
            "services[0]",
            "InvalidValue",
        ),
        (
            json!({ "action": "assign", "accountName": "alpha", "customSipHeader": "a\r\nb", "telephoneNumbers": ["+442071110000"] }),
            "customSipHeader",
            "Invalid",
        ),
    ] {
        let (status, _, answer) = act(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        let text = answer.to_string();
        let names_field = target.is_empty() || text.contains(&format!("\"target\":\"{target}\""));
        assert!(text.contains(code) && names_field, "{body} -> {answer}");
    }
    let (status, _, answer) = api
        .call(
            "GET",
            "/inventory?state=assigned&prefix=%2B44%25",
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer.to_string().contains("state") && answer.to_string().contains("prefix"),
        "{answer}"
    );
    assert_eq!(
        api.call("GET", "/inventory?maxpagesize=500", None, &[])
            .await
            .2,
        before,
        "nothing changed"
    );

    // Assigned by range into alpha, as ACG's PUT would; then released by range.
    let (_, _, body) = act(
        json!({ "action": "assign", "accountName": "alpha", "services": ["teamsDirectRouting"],
        "customSipHeader": "range-gold", "from": "+442071110010", "to": "+442071110012" }),
    )
    .await;
    assert_eq!(body["done"], 3, "{body}");
    let (status, _, number) = api
        .call("GET", "/accounts/alpha/numbers/%2B442071110011", None, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{number}");
    assert_eq!(number["configuration"]["customSipHeader"], "range-gold");
    assert_eq!(
        number["serviceDetails"]["teamsDirectRouting"]["enabled"],
        true
    );
    let (_, _, body) = act(json!({ "action": "release", "accountName": "alpha", "from": "+442071110010", "to": "+442071110012" })).await;
    assert_eq!(body["done"], 3, "{body}");
    let (_, _, body) = api
        .call("GET", "/inventory/%2B442071110011", None, &[])
        .await;
    assert_eq!(body["state"], "quarantined");

    // A reader reads the inventory but may not act on it; DELETE is not served here.
    let reader = api.token("reader", &[Role::Read]).await;
    let (status, _, _) = api.call_as(&reader, "GET", "/inventory", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = api
        .call_as(
            &reader,
            "POST",
            "/inventory",
            Some(json!({ "action": "add", "telephoneNumbers": ["+15551230000"] })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = api.call("DELETE", "/inventory", None, &[]).await;
    assert_eq!(
        (status, headers.get("allow").and_then(|v| v.to_str().ok())),
        (StatusCode::METHOD_NOT_ALLOWED, Some("GET, POST"))
    );
    let (status, _, _) = api
        .call("GET", "/inventory/%2B15551230000", None, &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a number nobody knows");

    // The answers have exactly the fields the document describes, under the Inventory tag.
    let (_, document) = crate::common::get(&api.app, "/openapi.json").await;
    let document: Value = serde_json::from_str(&document).unwrap();
    let schema = |name: &str| {
        let mut keys: Vec<String> = document["components"]["schemas"][name]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    let keys = |object: &Value| {
        let mut keys: Vec<String> = object.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let (_, _, standing) = api
        .call("GET", "/inventory/%2B442071110002", None, &[])
        .await;
    assert_eq!(keys(&standing), schema("InventoryNumber"));
    assert_eq!(
        document["paths"]["/inventory"]["post"]["tags"],
        json!(["Inventory"])
    );
    assert_eq!(
        document["paths"]["/accounts/{accountName}"]["put"]["tags"],
        Value::Null,
        "ACG's operations unchanged"
    );
}

/// Tags and notes through Numbat's own endpoints: a number's labels in any state, their own
/// ETag (the number's is left alone), a bulk tag change with a result per number, the lists by
/// tag, and hostile input refused by field and rule with nothing changed.
#[tokio::test]
async fn labels_are_read_replaced_and_listed_by_tag_and_leave_acgs_number_alone() {
    let api = Api::new().await;
    let (status, _, body) = api
        .call("PUT", "/accounts/alpha", Some(dr_account("alpha")), &[])
        .await;
    assert!(status.is_success(), "{body}");
    let number = json!({ "telephoneNumber": "+442071110001", "accountName": "alpha",
        "serviceDetails": { "teamsDirectRouting": { "enabled": true } } });
    let (status, headers, body) = api
        .call(
            "PUT",
            "/accounts/alpha/numbers/%2B442071110001",
            Some(number),
            &[],
        )
        .await;
    assert!(status.is_success(), "{body}");
    let number_etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, body) = api
        .call(
            "POST",
            "/inventory",
            Some(json!({ "action": "add", "telephoneNumbers": ["+442071110002"] })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Never labelled: version 0, and an If-Match on it works.
    let (status, headers, body) = api
        .call("GET", "/labels/numbers/%2B442071110001", None, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "telephoneNumber": "+442071110001", "tags": [], "note": null, "version": 0, "updatedAt": null })
    );
    assert_eq!(headers["etag"], "\"0\"");
    let labels = json!({ "tags": ["vip", "site: Leeds", "vip"], "note": "Porting in\r\nref 42" });
    let (status, headers, body) = api
        .call(
            "PUT",
            "/labels/numbers/%2B442071110001",
            Some(labels.clone()),
            &[("if-match", "\"0\"")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tags"], json!(["site: Leeds", "vip"]));
    assert_eq!(body["note"], "Porting in\nref 42");
    assert_eq!(body["version"].as_i64(), Some(1));
    assert_eq!(headers["etag"], "\"1\"");
    // The same save again changes nothing; a stale ETag is refused.
    let (_, _, again) = api
        .call(
            "PUT",
            "/labels/numbers/%2B442071110001",
            Some(labels.clone()),
            &[],
        )
        .await;
    assert_eq!(again["version"], 1);
    let (status, _, body) = api
        .call(
            "PUT",
            "/labels/numbers/%2B442071110001",
            Some(json!({ "tags": [] })),
            &[("if-match", "\"0\"")],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    // ACG's number is as it was: same body, same ETag.
    let (_, headers, acg) = api
        .call("GET", "/accounts/alpha/numbers/%2B442071110001", None, &[])
        .await;
    assert_eq!(headers["etag"].to_str().unwrap(), number_etag);
    assert!(acg.get("tags").is_none(), "{acg}");

    // Many numbers at once, each with its result.
    let (status, _, report) = api
        .call("POST", "/labels/numbers", Some(json!({
            "addTags": ["billing"],
            "telephoneNumbers": ["+442071110001", "+442071110002", "+442071110003", "+442071110002"],
        })), &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let outcomes: Vec<(&str, &str)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap(),
                r["violation"]["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("done", ""),
            ("done", ""),
            ("refused", "NotInInventory"),
            ("refused", "Duplicate")
        ]
    );
    let (status, _, page) = api
        .call("GET", "/labels/numbers?tag=billing", None, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let listed: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["telephoneNumber"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["+442071110001", "+442071110002"]);
    let (_, _, page) = api.call("GET", "/inventory?tag=billing", None, &[]).await;
    assert_eq!(page["value"].as_array().map(Vec::len), Some(1), "{page}");
    let (_, _, page) = api
        .call(
            "GET",
            "/labels/numbers?tag=billing&maxpagesize=1",
            None,
            &[],
        )
        .await;
    assert_eq!(page["value"].as_array().map(Vec::len), Some(1), "{page}");
    assert!(
        page["nextLink"]
            .as_str()
            .unwrap()
            .contains("after=%2B442071110001"),
        "{page}"
    );

    // An account's labels, and its list by tag.
    let (status, _, body) = api
        .call(
            "PUT",
            "/labels/accounts/alpha",
            Some(json!({ "tags": ["wholesale"], "note": null })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, page) = api
        .call("GET", "/labels/accounts?tag=wholesale", None, &[])
        .await;
    assert_eq!(page["value"][0]["accountName"], "alpha", "{page}");
    let (status, _, _) = api.call("GET", "/labels/accounts/nobody", None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Hostile input: refused by field and rule, nothing changed.
    let fifty_one: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let huge = "n".repeat(1001);
    let long_tag = "x".repeat(51);
    for (body, field, code) in [
        (json!({ "tags": fifty_one }), "tags", "TooManyTags"),
        (json!({ "tags": ["a\r\nb"] }), "tags[0]", "InvalidValue"),
        (json!({ "tags": ["a;b"] }), "tags[0]", "InvalidValue"),
        (json!({ "tags": [" lead"] }), "tags[0]", "InvalidValue"),
        (json!({ "tags": [long_tag] }), "tags[0]", "InvalidValue"),
        (json!({ "tags": [], "note": huge }), "note", "InvalidValue"),
        (
            json!({ "tags": [], "note": "bell\u{7}" }),
            "note",
            "InvalidValue",
        ),
    ] {
        let (status, _, error) = api
            .call(
                "PUT",
                "/labels/numbers/%2B442071110001",
                Some(body.clone()),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        let text = error.to_string();
        assert!(
            text.contains(field) && text.contains(code),
            "{body}: {error}"
        );
    }
    let (status, _, error) = api
        .call(
            "PUT",
            "/labels/numbers/%2B442071110001",
            Some(json!({ "tags": [], "colour": "red" })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, _, error) = api.call("GET", "/labels/numbers", None, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, _, error) = api
        .call(
            "POST",
            "/labels/numbers",
            Some(json!({ "telephoneNumbers": ["+442071110001"] })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, _, error) = api
        .call(
            "POST",
            "/labels/numbers",
            Some(json!({ "addTags": ["x"], "from": "+442071110000", "to": "+442071200000" })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (_, _, after) = api
        .call("GET", "/labels/numbers/%2B442071110001", None, &[])
        .await;
    assert_eq!(
        after["tags"],
        json!(["billing", "site: Leeds", "vip"]),
        "{after}"
    );
    assert_eq!(after["version"], 2);
    // A reader may read, not write.
    let reader = crate::common::api_token(&api._test.db, "reader", &[Role::Read]).await;
    let (status, _, _) = api
        .call_as(
            &reader,
            "PUT",
            "/labels/numbers/%2B442071110001",
            Some(json!({ "tags": [] })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_emergency_location_is_chosen_from_the_tenants_addresses_and_changes_the_numbers_etag() {
    let api = Api::new().await;
    api.seed_teams_data().await;
    let address = "ebfee340-a791-11ed-9bfa-ed8bb5c41be4";
    let location = "653c9fed-f8a7-4a6c-917b-b5b1ad4d45f7";
    let (status, _, _) = api
        .call("PUT", "/accounts/contoso", Some(oc_account("contoso")), &[])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let number = json!({
        "telephoneNumber": "+14255550101", "accountName": "contoso",
        "serviceDetails": { "teamsOperatorConnect": { "enabled": true, "configuration": {
            "usage": "CallingUserAssignment", "choosableCapabilities": ["InboundCalling"],
            "allowTenantAddressUpdate": true } } }
    });
    let (status, headers, _) = api
        .call(
            "PUT",
            "/accounts/contoso/numbers/+14255550101",
            Some(number),
            &[],
        )
        .await;
    assert!(status.is_success(), "{status}");
    let first_etag = headers["etag"].to_str().unwrap().to_owned();

    let (status, headers, body) = api
        .call("GET", "/emergencyLocations/+14255550101", None, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        headers["etag"].to_str().unwrap(),
        first_etag,
        "the number's own ETag"
    );
    assert_eq!(body["service"], "teamsOperatorConnect");
    assert_eq!(body["civicAddressId"], Value::Null);
    assert_eq!(body["allowTenantAddressUpdate"], true);

    // Refused by name, and nothing changes: an address the tenant does not have, a location of
    // no such address, no address for a calling user the enterprise may not locate, hostile IDs.
    for (change, field, code) in [
        (
            json!({ "civicAddressId": "not-theirs" }),
            "civicAddressId",
            "CivicAddressNotFound",
        ),
        (
            json!({ "civicAddressId": address, "locationId": "elsewhere" }),
            "locationId",
            "LocationNotFound",
        ),
        (
            json!({ "allowTenantAddressUpdate": false }),
            "civicAddressId",
            "Required",
        ),
        (
            json!({ "locationId": location, "allowTenantAddressUpdate": true }),
            "locationId",
            "Required",
        ),
        (
            json!({ "civicAddressId": "a\r\nWarning: 1" }),
            "civicAddressId",
            "InvalidFormat",
        ),
        (
            json!({ "civicAddressId": "x".repeat(101) }),
            "civicAddressId",
            "InvalidFormat",
        ),
        (
            json!({ "civicAddressId": "" }),
            "civicAddressId",
            "InvalidFormat",
        ),
    ] {
        let (status, _, body) = api
            .call(
                "PUT",
                "/emergencyLocations/+14255550101",
                Some(change.clone()),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change}: {body}");
        let text = body.to_string();
        assert!(
            text.contains(code) && text.contains(field),
            "{change}: {body}"
        );
    }
    let (status, _, body) = api
        .call(
            "PUT",
            "/emergencyLocations/+14255550101",
            Some(json!({ "civicAddressId": address, "extra": 1 })),
            &[],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused: {body}"
    );

    // A stale ETag is refused; the current one lets the change through.
    let change = json!({ "civicAddressId": address, "locationId": location });
    let (status, _, _) = api
        .call(
            "PUT",
            "/emergencyLocations/+14255550101",
            Some(change.clone()),
            &[("if-match", "\"999\"")],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (_, headers, _) = api
        .call("GET", "/accounts/contoso/numbers/+14255550101", None, &[])
        .await;
    assert_eq!(
        headers["etag"].to_str().unwrap(),
        first_etag,
        "nothing refused changed the number"
    );
    let (status, headers, body) = api
        .call(
            "PUT",
            "/emergencyLocations/+14255550101",
            Some(change.clone()),
            &[("if-match", &first_etag)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second_etag = headers["etag"].to_str().unwrap().to_owned();
    assert_ne!(second_etag, first_etag);
    assert_eq!(body["civicAddressId"], address);
    assert_eq!(body["locationId"], location);
    assert_eq!(body["allowTenantAddressUpdate"], false);
    assert_eq!(body["civicAddress"]["cityOrTown"], "Reston");

    // ACG's own read of the number carries the change, with the same ETag.
    let (_, headers, number) = api
        .call("GET", "/accounts/contoso/numbers/+14255550101", None, &[])
        .await;
    assert_eq!(headers["etag"].to_str().unwrap(), second_etag);
    let config = &number["serviceDetails"]["teamsOperatorConnect"]["configuration"];
    assert_eq!(config["civicAddressId"], address);
    assert_eq!(config["locationId"], location);

    // The same change again changes nothing, not even the ETag.
    let (status, headers, _) = api
        .call("PUT", "/emergencyLocations/+14255550101", Some(change), &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["etag"].to_str().unwrap(), second_etag);

    // A Direct Routing number has no emergency location; an unknown number is not found.
    let (status, _, _) = api
        .call(
            "PUT",
            "/accounts/fabrikam",
            Some(dr_account("fabrikam")),
            &[],
        )
        .await;
    assert!(status.is_success());
    let (status, _, _) = api
        .call(
            "PUT",
            "/accounts/fabrikam/numbers/+14255550199",
            Some(dr_number("+14255550199", "fabrikam")),
            &[],
        )
        .await;
    assert!(status.is_success());
    let (status, _, body) = api
        .call("GET", "/emergencyLocations/+14255550199", None, &[])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("ServiceNotOnNumber"), "{body}");
    let (status, _, _) = api
        .call("GET", "/emergencyLocations/+14255550177", None, &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The change feed through the API: every change in order with the resource as it was left,
/// a cursor read after, a long poll that waits for the next change (and says the wait it
/// used), and hostile cursors and page sizes refused by name with nothing read.
#[tokio::test]
async fn the_change_feed_pages_in_commit_order_and_a_read_can_wait_for_the_next_change() {
    let api = Api::new().await;
    api.call("PUT", "/accounts/contoso", Some(dr_account("contoso")), &[])
        .await;
    api.call(
        "PUT",
        "/accounts/contoso/numbers/%2B442079460001",
        Some(dr_number("+442079460001", "contoso")),
        &[],
    )
    .await;
    api.call(
        "DELETE",
        "/accounts/contoso/numbers/%2B442079460001",
        None,
        &[],
    )
    .await;
    let (status, _, page) = api.call("GET", "/events", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let kinds: Vec<(&str, &str)> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["resourceKey"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("account.create", "contoso"),
            ("number.create", "+442079460001"),
            ("number.delete", "+442079460001"),
            ("number.release", "+442079460001")
        ]
    );
    let assigned = &page["value"][1];
    assert_eq!(assigned["accountName"], "contoso");
    assert_eq!(assigned["door"], "api");
    assert_eq!(assigned["actor"], "token:bss", "the token's name");
    assert_eq!(assigned["version"], 1);
    assert_eq!(assigned["data"]["telephoneNumber"], "+442079460001");
    assert!(
        page["value"][2].get("data").is_none(),
        "nothing after a delete"
    );
    let cursor = page["cursor"].as_str().unwrap().to_owned();
    assert_eq!(
        page["value"][3]["data"]["state"], "quarantined",
        "released into quarantine: {page}"
    );
    assert_eq!(cursor, page["value"][3]["id"].as_str().unwrap());

    // Two at a time, from the second event on.
    let first = page["value"][0]["id"].as_str().unwrap();
    let (_, _, two) = api
        .call(
            "GET",
            &format!("/events?after={first}&maxpagesize=1"),
            None,
            &[],
        )
        .await;
    assert_eq!(two["value"].as_array().unwrap().len(), 1);
    assert_eq!(two["value"][0]["type"], "number.create");

    // Nothing new: the same cursor back, after the wait asked for.
    let (status, headers, empty) = api
        .call(
            "GET",
            &format!("/events?after={cursor}"),
            None,
            &[("prefer", "wait=1")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty, json!({ "value": [], "cursor": cursor }));
    assert_eq!(headers["preference-applied"], "wait=1");

    // A read waiting at the end gets the next change as soon as it commits.
    let waiting = {
        let app = api.app.clone();
        let token = api.token.clone();
        let cursor = cursor.clone();
        tokio::spawn(async move {
            let request = Request::get(format!("/provisioning/events?after={cursor}&{V}"))
                .header("authorization", format!("Bearer {token}"))
                .header("prefer", "wait=20")
                .body(Body::empty())
                .unwrap();
            let started = std::time::Instant::now();
            let (_, text) = send(&app, request).await;
            (
                started.elapsed(),
                serde_json::from_str::<Value>(&text).unwrap(),
            )
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    api.call(
        "PUT",
        "/accounts/fabrikam",
        Some(dr_account("fabrikam")),
        &[],
    )
    .await;
    let (waited, next) = waiting.await.unwrap();
    assert_eq!(next["value"][0]["type"], "account.create");
    assert_eq!(next["value"][0]["resourceKey"], "fabrikam");
    assert!(
        waited < std::time::Duration::from_secs(20),
        "answered when the change came, not at the end of the wait"
    );

    let huge = "9".repeat(5_000);
    for bad in [
        "1",
        "1.2.3",
        "-1.0",
        "1.2%0D%0A",
        "99999999999999999999.1",
        huge.as_str(),
    ] {
        let (status, _, body) = api
            .call("GET", &format!("/events?after={bad}"), None, &[])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body.to_string().contains("after"), "{bad}: {body}");
    }
    for bad in ["0", "1001", "-5"] {
        let (status, _, body) = api
            .call("GET", &format!("/events?maxpagesize={bad}"), None, &[])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body.to_string().contains("maxpagesize"), "{bad}: {body}");
    }
}

/// Webhook subscriptions through the API (Admin only): an address inside the operator's own
/// networks, or a hostile one, is refused by name; a subscription's secret is in the answer
/// that made it only; it is read, replayed, resumed and deleted.
#[tokio::test]
async fn webhook_subscriptions_are_admin_only_public_https_and_show_their_secret_once() {
    let api = Api::new().await;
    let make = |url: &str| json!({ "url": url, "types": ["number", "account.create"] });
    for bad in [
        "http://hooks.example.com/",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/",
        "https://localhost/x",
        "https://hooks.example.com/\r\nX-Injected: 1",
    ] {
        let (status, _, body) = api.call("POST", "/webhooks", Some(make(bad)), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body.to_string().contains("url"), "{bad}: {body}");
    }
    let (status, _, body) = api
        .call(
            "POST",
            "/webhooks",
            Some(json!({ "url": "https://hooks.example.com/n", "types": ["a.b.c"] })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("types[0]"), "{body}");
    let (status, _, list) = api.call("GET", "/webhooks", None, &[]).await;
    assert_eq!(
        (status, list),
        (StatusCode::OK, json!({ "value": [] })),
        "nothing made"
    );

    let (status, _, made) = api
        .call(
            "POST",
            "/webhooks",
            Some(make("https://hooks.example.com/numbat")),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() >= 46,
        "{secret}"
    );
    let id = made["id"].as_i64().unwrap();
    assert_eq!(made["types"], json!(["number", "account.create"]));
    assert_eq!(made["state"], "active");
    let (_, _, list) = api.call("GET", "/webhooks", None, &[]).await;
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    assert!(
        list["value"][0].get("secret").is_none(),
        "never shown again"
    );
    let (status, _, one) = api.call("GET", &format!("/webhooks/{id}"), None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(one.get("secret").is_none());
    let (status, _, log) = api
        .call("GET", &format!("/webhooks/{id}/deliveries"), None, &[])
        .await;
    assert_eq!((status, log), (StatusCode::OK, json!({ "value": [] })));
    let (status, _, replayed) = api
        .call(
            "POST",
            &format!("/webhooks/{id}/replay"),
            Some(json!({ "since": "0.0" })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed["cursor"], "0.0");
    let (status, _, body) = api
        .call(
            "POST",
            &format!("/webhooks/{id}/replay"),
            Some(json!({ "since": "last tuesday" })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("since"), "{body}");
    // One event again: only an event of the feed, named by its id; nothing is logged else.
    let huge = "9".repeat(100_000);
    for bad in ["0.999999", "abc", "1.2\r\nX: y", huge.as_str()] {
        let (status, _, body) = api
            .call(
                "POST",
                &format!("/webhooks/{id}/redeliver"),
                Some(json!({ "event": bad })),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().contains("event"), "{body}");
    }
    let (status, _, body) = api
        .call(
            "POST",
            "/webhooks/999999/redeliver",
            Some(json!({ "event": "0.1" })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, _, log) = api
        .call("GET", &format!("/webhooks/{id}/deliveries"), None, &[])
        .await;
    assert_eq!(log, json!({ "value": [] }));
    let (status, _, _) = api
        .call("POST", &format!("/webhooks/{id}/resume"), None, &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, rotated) = api
        .call("POST", &format!("/webhooks/{id}/rotateSecret"), None, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    let (status, _, body) = api
        .call("POST", &format!("/webhooks/{id}/rotateSecret"), None, &[])
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "two secrets sign at most: {body}"
    );

    // Another role may not see or make them.
    let reader = api.token("reader", &[Role::Read]).await;
    let (status, _, _) = api.call_as(&reader, "GET", "/webhooks", None, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let writer = api.token("writer", &[Role::Write]).await;
    let (status, _, _) = api
        .call_as(
            &writer,
            "POST",
            "/webhooks",
            Some(make("https://hooks.example.com/x")),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _, _) = api
        .call("DELETE", &format!("/webhooks/{id}"), None, &[])
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for path in [
        format!("/webhooks/{id}"),
        "/webhooks/abc".to_owned(),
        "/webhooks/-1".to_owned(),
    ] {
        let (status, _, _) = api.call("GET", &path, None, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // The subscription's changes are in the audit trail, never its secret.
    let events = api
        .core()
        .audit_events(
            &crate::common::cli_admin(),
            Some("webhookSubscription"),
            None,
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        events.len(),
        5,
        "create, replay, resume, rotate, delete: {events:?}"
    );
    for e in &events {
        let text = format!("{e:?}");
        assert!(
            !text.contains(secret) && !text.contains(new_secret),
            "{text}"
        );
    }
}
