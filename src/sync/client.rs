//! A client of Operator Connect's APIs: client-credentials tokens (cached until shortly before
//! they expire), consents, number orders, civic addresses and capabilities. Every answer is
//! sorted into what a caller can act on: a result, a transient failure to try again later, or a
//! refusal that trying again will not change.

use super::wire::{self, ErrorBody};
use crate::telemetry::error_chain;
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, EndpointNotSet, EndpointSet, Scope, TokenResponse, TokenUrl};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

/// Where Operator Connect is and who Numbat is to it.
#[derive(Clone, Debug)]
pub struct OcConfig {
    /// Base URL of the Operator Management API (consents).
    pub management_url: String,
    /// Base URL of the Telephone Number Management API (orders, addresses, capabilities).
    pub numbers_url: String,
    /// The token endpoint (Entra ID's `…/<tenant>/oauth2/v2.0/token`).
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// What the token is for, e.g. `<app id>/.default`.
    pub scope: String,
    /// How long one request may take before it counts as a transient failure.
    pub request_timeout: Duration,
}

impl OcConfig {
    /// Both APIs at `base`, the token endpoint at `<base>/<tenant>/oauth2/v2.0/token` (how the
    /// emulator serves it).
    pub fn at(base: &str, tenant: &str, client_id: &str, client_secret: &str) -> Self {
        let base = base.trim_end_matches('/');
        OcConfig {
            management_url: base.to_owned(),
            numbers_url: base.to_owned(),
            token_url: format!("{base}/{tenant}/oauth2/v2.0/token"),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            scope: DEFAULT_SCOPE.to_owned(),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Operator Connect's first-party application ("Project Synergy"), as the scope of its tokens.
pub const DEFAULT_SCOPE: &str = "eb63d611-525e-4a31-abd7-0cb33f679599/.default";

/// Why a call did not give a result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Worth trying again: a timeout, a dropped connection, 5xx, 429, an expired token.
    #[error("{reason}")]
    Transient {
        reason: String,
        /// What the upstream asked for in `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The upstream refused for good (4xx): its code and message.
    #[error("{code}: {message}")]
    Refused { code: String, message: String },
    /// No such resource upstream.
    #[error("not found upstream: {0}")]
    NotFound(String),
}

impl UpstreamError {
    fn transient(reason: impl Into<String>) -> Self {
        UpstreamError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A token and when to stop using it.
struct CachedToken {
    secret: String,
    renew_at: Instant,
}

pub struct OcClient {
    config: OcConfig,
    http: reqwest::Client,
    oauth: TokenClient,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for OcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcClient")
            .field("management_url", &self.config.management_url)
            .field("numbers_url", &self.config.numbers_url)
            .field("token_url", &self.config.token_url)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

impl OcClient {
    pub fn new(config: OcConfig) -> Result<Self, String> {
        let token_url = TokenUrl::new(config.token_url.clone())
            .map_err(|e| format!("Operator Connect token URL {}: {e}", config.token_url))?;
        let oauth = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(config.client_secret.clone()))
            .set_auth_type(oauth2::AuthType::RequestBody)
            .set_token_uri(token_url);
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            // Tokens must not follow redirects (the oauth2 crate's advice); nor do API calls.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(OcClient {
            config,
            http,
            oauth,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// A bearer token, from the cache while it has more than a minute (or a tenth of its life)
    /// to run.
    async fn bearer(&self) -> Result<String, UpstreamError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.secret.clone());
        }
        let answer = self
            .oauth
            .exchange_client_credentials()
            .add_scope(Scope::new(self.config.scope.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| UpstreamError::transient(format!("token: {}", error_chain(&e))))?;
        let lifetime = answer.expires_in().unwrap_or(Duration::from_secs(300));
        let margin = (lifetime / 10).min(Duration::from_secs(60));
        let secret = answer.access_token().secret().clone();
        *cached = Some(CachedToken {
            secret: secret.clone(),
            renew_at: Instant::now() + lifetime - margin,
        });
        Ok(secret)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// Sends a request and reads a JSON answer, sorting failures.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, UpstreamError> {
        let token = self.bearer().await?;
        let answer = request
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| UpstreamError::transient(format!("{what}: {}", error_chain(&e))))?;
        let status = answer.status();
        if status.is_success() {
            let body = answer
                .bytes()
                .await
                .map_err(|e| UpstreamError::transient(format!("{what}: {}", error_chain(&e))))?;
            return serde_json::from_slice(&body)
                .map_err(|e| UpstreamError::transient(format!("{what}: unreadable answer ({e})")));
        }
        let retry_after = answer
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = answer.bytes().await.unwrap_or_default();
        let detail = serde_json::from_slice::<ErrorBody>(&body)
            .ok()
            .map(|b| b.error);
        let reason = match &detail {
            Some(d) => format!("{what}: {status} {}: {}", d.code, d.message),
            None => format!("{what}: {status}"),
        };
        match status {
            StatusCode::UNAUTHORIZED => {
                self.forget_token().await;
                Err(UpstreamError::transient(reason))
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => {
                Err(UpstreamError::Transient {
                    reason,
                    retry_after,
                })
            }
            StatusCode::NOT_FOUND => Err(UpstreamError::NotFound(reason)),
            s if s.is_server_error() => Err(UpstreamError::Transient {
                reason,
                retry_after,
            }),
            _ => Err(match detail {
                Some(d) => UpstreamError::Refused {
                    code: d.code,
                    message: d.message,
                },
                None => UpstreamError::Refused {
                    code: format!("Http{}", status.as_u16()),
                    message: reason,
                },
            }),
        }
    }

    fn management(&self, path: &str) -> String {
        format!("{}{path}", self.config.management_url.trim_end_matches('/'))
    }

    fn numbers(&self, path: &str) -> String {
        format!("{}{path}", self.config.numbers_url.trim_end_matches('/'))
    }

    /// Every consent, following `nextLink`.
    pub async fn consents(&self) -> Result<Vec<wire::Consent>, UpstreamError> {
        let mut all = Vec::new();
        let mut next = Some(self.management(wire::CONSENTS));
        while let Some(url) = next.take() {
            let page: wire::Page<wire::Consent> =
                self.call(self.http.get(&url), "list consents").await?;
            all.extend(page.value);
            next = page.next_link.map(|link| {
                if link.starts_with("http") {
                    link
                } else {
                    self.management(&link)
                }
            });
        }
        Ok(all)
    }

    pub async fn consent(&self, tenant: &str) -> Result<wire::Consent, UpstreamError> {
        let url = self.management(&wire::consent_path(tenant));
        self.call(self.http.get(url), "get consent").await
    }

    /// Updates the customer relationship of a consent.
    pub async fn update_relationship(
        &self,
        tenant: &str,
        relationship: serde_json::Value,
        idempotency_key: &str,
    ) -> Result<wire::Consent, UpstreamError> {
        let url = self.management(&wire::consent_path(tenant));
        let body = wire::ConsentPatch {
            customer_relationship: relationship,
        };
        let request = self
            .http
            .patch(url)
            .header(wire::IDEMPOTENCY_KEY, idempotency_key)
            .json(&body);
        self.call(request, "update consent").await
    }

    /// Places an order; the same `idempotency_key` gives back the same order.
    pub async fn place_order(
        &self,
        order: &wire::NewOrder,
        idempotency_key: &str,
    ) -> Result<wire::Order, UpstreamError> {
        let request = self
            .http
            .post(self.numbers(wire::ORDERS))
            .header(wire::IDEMPOTENCY_KEY, idempotency_key)
            .json(order);
        self.call(request, "place order").await
    }

    pub async fn order(&self, id: &str) -> Result<wire::Order, UpstreamError> {
        let url = self.numbers(&wire::order_path(id));
        self.call(self.http.get(url), "poll order").await
    }

    pub async fn civic_addresses(
        &self,
        tenant: &str,
    ) -> Result<Vec<wire::CivicAddress>, UpstreamError> {
        let url = self.numbers(&wire::civic_addresses_path(tenant));
        let page: wire::Page<wire::CivicAddress> = self
            .call(self.http.get(url), "list civic addresses")
            .await?;
        Ok(page.value)
    }

    pub async fn capability_plans(
        &self,
        tenant: &str,
    ) -> Result<Vec<crate::wire::CapabilityPlan>, UpstreamError> {
        let url = self.numbers(&wire::capability_plans_path(tenant));
        let page: wire::Page<crate::wire::CapabilityPlan> =
            self.call(self.http.get(url), "capability plans").await?;
        Ok(page.value)
    }

    pub async fn available_capabilities(
        &self,
        tenant: &str,
        numbers: Vec<String>,
    ) -> Result<Vec<String>, UpstreamError> {
        let url = self.numbers(&wire::available_capabilities_path(tenant));
        let body = wire::CapabilityQuery {
            telephone_numbers: numbers,
        };
        let answer: wire::AvailableCapabilities = self
            .call(self.http.post(url).json(&body), "available capabilities")
            .await?;
        Ok(answer.available_capabilities)
    }
}
