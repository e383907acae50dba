//! `numbat oc-emulator`: a stand-in for Operator Connect with state, for development, tests and
//! benchmarks. It serves the wire format of `super::wire`: a client-credentials token endpoint,
//! consents it is seeded with, number orders that complete after a delay with a result per
//! number (refusing bad input the way the upstream would), civic addresses and capability
//! plans. Faults are injected on purpose when asked: added latency, 5xx answers (before or after
//! the request took effect), bursts of 429 with `Retry-After`, and connections dropped after the
//! request took effect. `/emulator/*` (never faulty, no token) shows its state for tests.

use super::wire::{self, ErrorBody, NewOrder, NumberResult, Order, OrderStatus, OrderType};
use crate::wire::CapabilityPlan;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the emulator is seeded with and how badly it behaves.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub client_id: String,
    pub client_secret: String,
    pub token_lifetime: Duration,
    /// How long an order takes to complete.
    pub order_delay: Duration,
    /// Added to every API request (half to all of it, at random).
    pub latency: Duration,
    /// Share of requests answered 5xx: half before doing anything, half after doing it.
    pub error_rate: f64,
    /// Share of requests whose connection is dropped after the request took effect.
    pub drop_rate: f64,
    /// Share of requests that start a burst of 429s.
    pub throttle_rate: f64,
    /// How many requests in a row a burst refuses.
    pub throttle_burst: u32,
    /// The `Retry-After` of a 429, in seconds.
    pub retry_after: u64,
    pub consents: Vec<wire::Consent>,
    pub civic_addresses: Vec<wire::CivicAddress>,
    pub capability_plans: Vec<CapabilityPlan>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        let (_, address) = crate::demo::civic_address();
        EmulatorConfig {
            client_id: "numbat".to_owned(),
            client_secret: "numbat-emulator-secret".to_owned(),
            token_lifetime: Duration::from_secs(3600),
            order_delay: Duration::from_millis(500),
            latency: Duration::ZERO,
            error_rate: 0.0,
            drop_rate: 0.0,
            throttle_rate: 0.0,
            throttle_burst: 1,
            retry_after: 1,
            consents: crate::demo::consents(),
            civic_addresses: vec![address],
            capability_plans: crate::wire::default_capability_plans(),
        }
    }
}

/// A number Operator Connect holds for a tenant.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldNumber {
    pub telephone_number: String,
    pub tenant_id: String,
    pub number_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// How many completed orders uploaded it (more than once means it was sent twice).
    pub uploads: u32,
}

/// Counters a test or benchmark reads.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub requests: u64,
    pub tokens_issued: u64,
    pub orders_created: u64,
    /// Orders asked for again under a key already used (answered with the first order).
    pub orders_repeated: u64,
    pub injected_errors: u64,
    pub injected_drops: u64,
    pub injected_throttles: u64,
}

struct PlacedOrder {
    order: NewOrder,
    placed: Instant,
    results: Option<Vec<NumberResult>>,
}

#[derive(Default)]
struct World {
    tokens: HashMap<String, Instant>,
    consents: BTreeMap<String, wire::Consent>,
    addresses: BTreeMap<String, Vec<wire::CivicAddress>>,
    orders: HashMap<String, PlacedOrder>,
    keys: HashMap<String, String>,
    numbers: BTreeMap<String, HeldNumber>,
    stats: Stats,
    burst_left: u32,
    next_order: u64,
}

#[derive(Clone)]
struct Emulator {
    config: Arc<EmulatorConfig>,
    world: Arc<Mutex<World>>,
}

impl Emulator {
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The emulator's routes.
pub fn router(config: EmulatorConfig) -> Router {
    let mut world = World::default();
    for consent in &config.consents {
        world
            .consents
            .insert(consent.tenant_id.as_str().to_owned(), consent.clone());
    }
    for address in &config.civic_addresses {
        let tenant = address
            .tenant_id
            .as_ref()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        world
            .addresses
            .entry(tenant)
            .or_default()
            .push(address.clone());
    }
    let emulator = Emulator {
        config: Arc::new(config),
        world: Arc::new(Mutex::new(world)),
    };
    let api = Router::new()
        .route(wire::CONSENTS, get(list_consents))
        .route(
            &wire::consent_path("{tenant}"),
            get(get_consent).patch(patch_consent),
        )
        .route(wire::ORDERS, post(place_order))
        .route(&wire::order_path("{id}"), get(get_order))
        .route(
            &wire::civic_addresses_path("{tenant}"),
            get(civic_addresses),
        )
        .route(
            &wire::capability_plans_path("{tenant}"),
            get(capability_plans),
        )
        .route(
            &wire::available_capabilities_path("{tenant}"),
            post(available_capabilities),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            emulator.clone(),
            bearer_required,
        ))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .layer(axum::middleware::from_fn_with_state(
            emulator.clone(),
            faults,
        ));
    Router::new()
        .merge(api)
        .route("/emulator/numbers", get(held_numbers))
        .route("/emulator/stats", get(stats))
        .route("/emulator/consents", post(seed_consent))
        .route("/emulator/health", get(|| async { "ok" }))
        .with_state(emulator)
}

/// Serves the emulator until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: EmulatorConfig,
) -> std::io::Result<()> {
    axum::serve(listener, router(config)).await
}

fn chance(rate: f64) -> bool {
    rate > 0.0 && rand::random::<f64>() < rate
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody::new(code, message))).into_response()
}

/// Injects the configured faults around every upstream request.
async fn faults(State(emulator): State<Emulator>, request: Request, next: Next) -> Response {
    let config = emulator.config.clone();
    if !config.latency.is_zero() {
        tokio::time::sleep(config.latency.mul_f64(0.5 + rand::random::<f64>() * 0.5)).await;
    }
    {
        let mut world = emulator.world();
        world.stats.requests += 1;
        let throttled = if world.burst_left > 0 {
            world.burst_left -= 1;
            true
        } else if chance(config.throttle_rate) {
            world.burst_left = config.throttle_burst.saturating_sub(1);
            true
        } else {
            false
        };
        if throttled {
            world.stats.injected_throttles += 1;
            drop(world);
            let mut answer = error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "request rate over the operator's quota",
            );
            answer.headers_mut().insert(
                header::RETRY_AFTER,
                config.retry_after.to_string().parse().expect("digits"),
            );
            return answer;
        }
        if chance(config.error_rate / 2.0) {
            world.stats.injected_errors += 1;
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "injected fault before the request took effect",
            );
        }
    }
    let answer = next.run(request).await;
    if chance(config.error_rate / 2.0) {
        emulator.world().stats.injected_errors += 1;
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "injected fault after the request took effect",
        );
    }
    if chance(config.drop_rate) {
        emulator.world().stats.injected_drops += 1;
        // The status line goes out, then the body fails: the connection is cut mid-answer.
        let broken = futures_util::stream::once(async {
            Err::<axum::body::Bytes, std::io::Error>(std::io::Error::other("injected drop"))
        });
        let (parts, _) = answer.into_parts();
        return Response::from_parts(parts, Body::from_stream(broken));
    }
    answer
}

async fn bearer_required(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let valid = token.is_some_and(|t| {
        emulator
            .world()
            .tokens
            .get(t)
            .is_some_and(|expires| Instant::now() < *expires)
    });
    if !valid {
        return error(
            StatusCode::UNAUTHORIZED,
            "InvalidToken",
            "a valid bearer token from the token endpoint is required",
        );
    }
    next.run(request).await
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(State(emulator): State<Emulator>, Form(form): Form<TokenForm>) -> Response {
    let config = &emulator.config;
    if form.grant_type != "client_credentials" {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "unsupported_grant_type" })),
        )
            .into_response();
    }
    if form.client_id.as_deref() != Some(config.client_id.as_str())
        || form.client_secret.as_deref() != Some(config.client_secret.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "error": "invalid_client", "error_description": "unknown client or wrong secret" })),
        )
            .into_response();
    }
    let secret: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let mut world = emulator.world();
    world
        .tokens
        .insert(secret.clone(), Instant::now() + config.token_lifetime);
    world.stats.tokens_issued += 1;
    Json(serde_json::json!({
        "access_token": secret,
        "token_type": "Bearer",
        "expires_in": config.token_lifetime.as_secs(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Paging {
    skip: Option<usize>,
}

const PAGE: usize = 50;

async fn list_consents(State(emulator): State<Emulator>, Query(paging): Query<Paging>) -> Response {
    let world = emulator.world();
    let skip = paging.skip.unwrap_or(0);
    let value: Vec<_> = world
        .consents
        .values()
        .skip(skip)
        .take(PAGE)
        .cloned()
        .collect();
    let next_link = (skip + PAGE < world.consents.len())
        .then(|| format!("{}?skip={}", wire::CONSENTS, skip + PAGE));
    Json(wire::Page { value, next_link }).into_response()
}

async fn get_consent(State(emulator): State<Emulator>, Path(tenant): Path<String>) -> Response {
    match emulator.world().consents.get(&tenant) {
        Some(consent) => Json(consent.clone()).into_response(),
        None => no_consent(&tenant),
    }
}

fn no_consent(tenant: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ConsentNotFound",
        format!("tenant {tenant} has not consented to this operator"),
    )
}

const RELATIONSHIP_STATUSES: [&str; 4] = [
    "ConsentAcknowledged",
    "AgreementSigned",
    "ConsentDeclined",
    "ContractTerminated",
];

async fn patch_consent(
    State(emulator): State<Emulator>,
    Path(tenant): Path<String>,
    Json(body): Json<wire::ConsentPatch>,
) -> Response {
    let status = body
        .customer_relationship
        .get("status")
        .and_then(|s| s.as_str())
        .map(str::to_owned);
    let comment = body
        .customer_relationship
        .get("comment")
        .and_then(|s| s.as_str())
        .map(str::to_owned);
    if let Some(status) = &status {
        if !RELATIONSHIP_STATUSES.contains(&status.as_str()) {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRelationshipStatus",
                format!(
                    "customerRelationship.status must be one of {}",
                    RELATIONSHIP_STATUSES.join(", ")
                ),
            );
        }
    }
    let mut world = emulator.world();
    let Some(consent) = world.consents.get_mut(&tenant) else {
        return no_consent(&tenant);
    };
    let relationship =
        consent
            .customer_relationship
            .get_or_insert(crate::domain::consent::CustomerRelationship {
                status: None,
                last_modified_on: None,
                comment: None,
            });
    relationship.status = status.or(relationship.status.take());
    relationship.comment = comment.or(relationship.comment.take());
    relationship.last_modified_on = Some(crate::provisioning::timestamp());
    Json(consent.clone()).into_response()
}

async fn place_order(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    Json(order): Json<NewOrder>,
) -> Response {
    let Some(key) = headers
        .get(wire::IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "IdempotencyKeyRequired",
            format!("orders need an {} header", wire::IDEMPOTENCY_KEY),
        );
    };
    if order.numbers.is_empty() || order.numbers.len() > 1_000 {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidOrderSize",
            "an order holds 1 to 1,000 numbers",
        );
    }
    let mut world = emulator.world();
    if let Some(id) = world.keys.get(&key).cloned() {
        world.stats.orders_repeated += 1;
        let answer = view(&id, &world.orders[&id], emulator.config.order_delay);
        return (StatusCode::ACCEPTED, Json(answer)).into_response();
    }
    world.next_order += 1;
    let id = format!("order-{:06}", world.next_order);
    world.keys.insert(key, id.clone());
    world.stats.orders_created += 1;
    let placed = PlacedOrder {
        order,
        placed: Instant::now(),
        results: None,
    };
    let answer = view(&id, &placed, emulator.config.order_delay);
    world.orders.insert(id, placed);
    (StatusCode::ACCEPTED, Json(answer)).into_response()
}

async fn get_order(State(emulator): State<Emulator>, Path(id): Path<String>) -> Response {
    let delay = emulator.config.order_delay;
    let mut world = emulator.world();
    let due = match world.orders.get(&id) {
        None => {
            return error(
                StatusCode::NOT_FOUND,
                "OrderNotFound",
                format!("no order {id}"),
            )
        }
        Some(placed) => placed.results.is_none() && placed.placed.elapsed() >= delay,
    };
    if due {
        let order = world.orders[&id].order.clone();
        let results = complete(&mut world, &emulator.config, &order);
        world.orders.get_mut(&id).expect("present").results = Some(results);
    }
    Json(view(&id, &world.orders[&id], delay)).into_response()
}

/// An order as reported: pending, in progress halfway, then its results.
fn view(id: &str, placed: &PlacedOrder, delay: Duration) -> Order {
    let status = match &placed.results {
        Some(results) => {
            let failed = results.iter().filter(|r| r.status == "failed").count();
            match failed {
                0 => OrderStatus::Succeeded,
                n if n == results.len() => OrderStatus::Failed,
                _ => OrderStatus::PartiallySucceeded,
            }
        }
        None if placed.placed.elapsed() >= delay / 2 => OrderStatus::InProgress,
        None => OrderStatus::Pending,
    };
    Order {
        id: id.to_owned(),
        order_type: placed.order.order_type,
        tenant_id: placed.order.tenant_id.clone(),
        status,
        numbers: placed.results.clone().unwrap_or_else(|| {
            placed
                .order
                .numbers
                .iter()
                .map(|n| NumberResult {
                    telephone_number: n.telephone_number.clone(),
                    status: "pending".to_owned(),
                    error_code: None,
                    error_message: None,
                })
                .collect()
        }),
    }
}

/// Applies an order to the held numbers, number by number.
fn complete(world: &mut World, config: &EmulatorConfig, order: &NewOrder) -> Vec<NumberResult> {
    let tenant = order.tenant_id.as_str();
    order
        .numbers
        .iter()
        .map(|number| {
            let key = number.telephone_number.as_str();
            let refusal = match order.order_type {
                OrderType::Upload => check_upload(world, config, tenant, number),
                OrderType::Release => world
                    .numbers
                    .get(key)
                    .filter(|held| held.tenant_id != tenant)
                    .map(|_| held_elsewhere(key)),
            };
            if let Some((code, message)) = refusal {
                return NumberResult {
                    telephone_number: key.to_owned(),
                    status: "failed".to_owned(),
                    error_code: Some(code.to_owned()),
                    error_message: Some(message),
                };
            }
            match order.order_type {
                OrderType::Upload => {
                    let held = world.numbers.entry(key.to_owned()).or_insert(HeldNumber {
                        telephone_number: key.to_owned(),
                        tenant_id: tenant.to_owned(),
                        number_type: String::new(),
                        usage: None,
                        uploads: 0,
                    });
                    held.number_type = number.number_type.clone().unwrap_or_default();
                    held.usage = number
                        .configuration
                        .as_ref()
                        .map(|c| c.usage.as_str().to_owned());
                    held.uploads += 1;
                }
                OrderType::Release => {
                    world.numbers.remove(key);
                }
            }
            NumberResult {
                telephone_number: key.to_owned(),
                status: "succeeded".to_owned(),
                error_code: None,
                error_message: None,
            }
        })
        .collect()
}

fn held_elsewhere(number: &str) -> (&'static str, String) {
    (
        "NumberHeldByAnotherTenant",
        format!("{number} belongs to another tenant"),
    )
}

/// Why Operator Connect would refuse to upload `number` for `tenant`, if it would.
fn check_upload(
    world: &World,
    config: &EmulatorConfig,
    tenant: &str,
    number: &wire::OrderNumber,
) -> Option<(&'static str, String)> {
    let key = number.telephone_number.as_str();
    let Some(consent) = world.consents.get(tenant) else {
        return Some((
            "TenantNotConsented",
            format!("tenant {tenant} has not consented to this operator"),
        ));
    };
    if consent.status.as_str() != "active" {
        return Some((
            "ConsentNotActive",
            format!("tenant {tenant}'s consent is {}", consent.status.as_str()),
        ));
    }
    if world
        .numbers
        .get(key)
        .is_some_and(|h| h.tenant_id != tenant)
    {
        return Some(held_elsewhere(key));
    }
    let country = phonenumber::parse(None, key)
        .ok()
        .and_then(|p| p.country().id().map(|id| id.as_ref().to_owned()));
    match country {
        Some(country) if consent.consented_countries.contains(&country) => {}
        Some(country) => {
            return Some((
                "CountryNotConsented",
                format!(
                    "{key} is a {country} number; tenant {tenant} consented to {}",
                    consent.consented_countries.join(", ")
                ),
            ))
        }
        None => {
            return Some((
                "UnknownCountryCode",
                format!("{key} has no country Operator Connect knows"),
            ))
        }
    }
    if number.number_type.is_none() {
        return Some((
            "NumberTypeMissing",
            "numberType must be OperatorConnect or TeamsPhoneMobile".to_owned(),
        ));
    }
    let Some(configuration) = &number.configuration else {
        return Some((
            "ConfigurationMissing",
            "an upload needs usage and choosableCapabilities".to_owned(),
        ));
    };
    let usage = configuration.usage.as_str();
    let plan = config.capability_plans.iter().find(|p| p.usage == usage);
    let Some(plan) = plan else {
        return Some((
            "UsageNotInPlan",
            format!("no capability plan offers usage {usage}"),
        ));
    };
    for capability in &configuration.choosable_capabilities {
        if !plan
            .choosable_capabilities
            .iter()
            .any(|c| c == capability.as_str())
        {
            return Some((
                "CapabilityNotInPlan",
                format!("plan {} does not offer {}", plan.name, capability.as_str()),
            ));
        }
    }
    if let Some(address) = &configuration.civic_address_id {
        let known = world
            .addresses
            .get(tenant)
            .is_some_and(|list| list.iter().any(|a| &a.id == address));
        if !known {
            return Some((
                "CivicAddressNotFound",
                format!("civic address {address} is not one of tenant {tenant}'s"),
            ));
        }
    }
    None
}

async fn civic_addresses(State(emulator): State<Emulator>, Path(tenant): Path<String>) -> Response {
    let world = emulator.world();
    if !world.consents.contains_key(&tenant) {
        return no_consent(&tenant);
    }
    let value = world.addresses.get(&tenant).cloned().unwrap_or_default();
    Json(wire::Page {
        value,
        next_link: None,
    })
    .into_response()
}

async fn capability_plans(
    State(emulator): State<Emulator>,
    Path(tenant): Path<String>,
) -> Response {
    if !emulator.world().consents.contains_key(&tenant) {
        return no_consent(&tenant);
    }
    Json(wire::Page {
        value: emulator.config.capability_plans.clone(),
        next_link: None,
    })
    .into_response()
}

async fn available_capabilities(
    State(emulator): State<Emulator>,
    Path(tenant): Path<String>,
    Json(query): Json<wire::CapabilityQuery>,
) -> Response {
    if !emulator.world().consents.contains_key(&tenant) {
        return no_consent(&tenant);
    }
    let mobile = query.telephone_numbers.iter().any(|n| {
        phonenumber::parse(None, n)
            .map(|p| p.number_type(&phonenumber::metadata::DATABASE) == phonenumber::Type::Mobile)
            .unwrap_or(false)
    });
    let mut available: Vec<String> = Vec::new();
    for plan in &emulator.config.capability_plans {
        for capability in plan
            .choosable_capabilities
            .iter()
            .chain(&plan.mandatory_capabilities)
        {
            if !available.contains(capability) {
                available.push(capability.clone());
            }
        }
    }
    if mobile && !available.iter().any(|c| c == "Mobile") {
        available.push("Mobile".to_owned());
    }
    Json(wire::AvailableCapabilities {
        available_capabilities: available,
    })
    .into_response()
}

async fn held_numbers(State(emulator): State<Emulator>) -> Response {
    let value: Vec<HeldNumber> = emulator.world().numbers.values().cloned().collect();
    Json(wire::Page {
        value,
        next_link: None,
    })
    .into_response()
}

async fn stats(State(emulator): State<Emulator>) -> Response {
    Json(emulator.world().stats.clone()).into_response()
}

async fn seed_consent(
    State(emulator): State<Emulator>,
    Json(consent): Json<wire::Consent>,
) -> Response {
    emulator
        .world()
        .consents
        .insert(consent.tenant_id.as_str().to_owned(), consent.clone());
    (StatusCode::CREATED, Json(consent)).into_response()
}
