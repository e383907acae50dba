//! Bearer JWTs from an OpenID Connect issuer (Microsoft Entra ID in production): signature
//! checked against the issuer's published keys, then issuer, audience and expiry; the `roles`
//! claim carries ACG's app roles (`ProvisioningAPI.Admin`, `.Read`, `.Write`, `.Delete`).

use crate::provisioning::{Actor, Door, Role};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// Unknown key IDs trigger a refetch of the keys at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("cannot reach the OIDC issuer at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the bearer token is not a valid token from the configured issuer: {0}")]
    Invalid(String),
}

pub struct OidcVerifier {
    issuer: String,
    audience: String,
    jwks_uri: String,
    /// Where people sign in (single sign-on), from the discovery document.
    pub authorization_endpoint: Option<String>,
    /// Where codes are exchanged for tokens (single sign-on).
    pub token_endpoint: Option<String>,
    http: reqwest::Client,
    keys: RwLock<(JwkSet, Instant)>,
    /// Held while the key set is refetched, so concurrent misses make one request.
    refetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    azp: Option<String>,
    appid: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, OidcError> {
    let unreachable = |reason: String| OidcError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let response = response
        .error_for_status()
        .map_err(|e| unreachable(e.to_string()))?;
    response
        .json()
        .await
        .map_err(|e| unreachable(e.to_string()))
}

impl OidcVerifier {
    /// Reads the issuer's discovery document and keys.
    pub async fn discover(issuer: &str, audience: &str) -> Result<Self, OidcError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| OidcError::Unreachable {
                url: issuer.to_owned(),
                reason: e.to_string(),
            })?;
        let issuer = issuer.trim_end_matches('/').to_owned();
        let discovery: Discovery =
            fetch_json(&http, &format!("{issuer}/.well-known/openid-configuration")).await?;
        let keys: JwkSet = fetch_json(&http, &discovery.jwks_uri).await?;
        Ok(Self {
            issuer,
            audience: audience.to_owned(),
            jwks_uri: discovery.jwks_uri,
            authorization_endpoint: discovery.authorization_endpoint,
            token_endpoint: discovery.token_endpoint,
            http,
            keys: RwLock::new((keys, Instant::now())),
            refetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The issuer's key `kid`. An unknown `kid` refetches the key set at most once per
    /// `REFETCH_AFTER`, and concurrent requests wait for one fetch instead of each making one,
    /// so tokens naming made-up keys cannot make the server hammer the issuer.
    async fn key(&self, kid: &str) -> Result<DecodingKey, OidcError> {
        let unknown = || {
            let shown: String = kid.chars().take(64).collect();
            OidcError::Invalid(format!("no key {shown:?} at the issuer"))
        };
        let found = |set: &JwkSet| set.find(kid).map(DecodingKey::from_jwk);
        let fetched_at = {
            let keys = self.keys.read().await;
            if let Some(key) = found(&keys.0) {
                return key.map_err(|e| OidcError::Invalid(e.to_string()));
            }
            keys.1
        };
        let _one_fetch = self.refetching.lock().await;
        {
            // Another request may have fetched while this one waited.
            let keys = self.keys.read().await;
            if keys.1 != fetched_at || keys.1.elapsed() < REFETCH_AFTER {
                return found(&keys.0)
                    .ok_or_else(unknown)?
                    .map_err(|e| OidcError::Invalid(e.to_string()));
            }
        }
        let fetched = fetch_json::<JwkSet>(&self.http, &self.jwks_uri).await;
        let mut keys = self.keys.write().await;
        keys.1 = Instant::now();
        let fresh = fetched?;
        let key = found(&fresh);
        keys.0 = fresh;
        key.ok_or_else(unknown)?
            .map_err(|e| OidcError::Invalid(e.to_string()))
    }

    /// The actor a JWT stands for; its roles are the ACG app roles it carries (none is allowed,
    /// and then every operation is refused with 403).
    pub async fn verify(&self, token: &str) -> Result<Actor, OidcError> {
        let claims: Claims = self.claims(token).await?;
        let roles: Vec<Role> = claims
            .roles
            .iter()
            .filter_map(|r| r.strip_prefix("ProvisioningAPI."))
            .filter_map(Role::parse)
            .collect();
        let who = claims.azp.or(claims.appid).unwrap_or(claims.sub);
        Ok(Actor::new(format!("oidc:{who}"), &roles, Door::Api))
    }

    /// The claims of a JWT whose signature, issuer, audience and expiry check out.
    pub async fn claims<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<T, OidcError> {
        let header = decode_header(token).map_err(|e| OidcError::Invalid(e.to_string()))?;
        let kid = header
            .kid
            .ok_or_else(|| OidcError::Invalid("the token names no key (kid)".into()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer, &format!("{}/", self.issuer)]);
        validation.set_audience(&[&self.audience]);
        Ok(decode::<T>(token, &key, &validation)
            .map_err(|e| OidcError::Invalid(e.to_string()))?
            .claims)
    }
}
