//! Single sign-on to the portal with OpenID Connect: the authorization code flow with PKCE,
//! `state` and `nonce` (oauth2 crate for the flow, the issuer's keys for the ID token). Roles
//! come from the ID token's `roles` claim (`ProvisioningAPI.ReadUser`, …) or, when it has
//! none, from the local user an admin linked to the person's issuer and subject.

use super::oidc::{OidcError, OidcVerifier};
use super::users::PortalRole;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

/// The token endpoint's answer carries the ID token beside the access token.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct IdTokenField {
    id_token: String,
}
impl ExtraTokenFields for IdTokenField {}

type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;
type CodeClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error(transparent)]
    Oidc(#[from] OidcError),
    #[error("the issuer's discovery document has no {0}")]
    MissingEndpoint(&'static str),
    #[error("{0} is not a usable URL: {1}")]
    BadUrl(String, String),
    #[error("the sign-in answer's state does not match the one sent (a stale or forged callback)")]
    StateMismatch,
    #[error("the ID token's nonce does not match the one sent")]
    NonceMismatch,
    #[error("exchanging the code at the issuer failed: {0}")]
    Exchange(String),
    #[error("the ID token names nobody (no preferred_username, email or sub)")]
    NoName,
}

/// What the portal keeps in the session between sending someone to the issuer and their return.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The local page to return to.
    pub next: String,
}

/// Who came back from the issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoIdentity {
    /// The issuer, as configured.
    pub issuer: String,
    /// Who the person is at the issuer, for good: Entra ID's `oid` when the token has one, else
    /// `sub`. The only claim a local user is linked by.
    pub subject: String,
    /// What to call them (`preferred_username`, else `email`, else the subject). The person
    /// may be able to change it, so it never decides who they are.
    pub display_name: String,
    pub roles: Vec<PortalRole>,
}

#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    oid: Option<String>,
    nonce: Option<String>,
    preferred_username: Option<String>,
    email: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

/// The portal's single sign-on client.
pub struct SingleSignOn {
    issuer: String,
    client: CodeClient,
    verifier: OidcVerifier,
    http: reqwest::Client,
}

impl SingleSignOn {
    /// The issuer, as configured (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

impl std::fmt::Debug for SingleSignOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleSignOn")
            .field("issuer", &self.issuer)
            .finish()
    }
}

fn url_error(what: &str) -> impl Fn(oauth2::url::ParseError) -> SsoError + '_ {
    move |e| SsoError::BadUrl(what.to_owned(), e.to_string())
}

impl SingleSignOn {
    /// Reads the issuer's discovery document; `redirect_uri` is the portal's `/sso/callback`
    /// as browsers reach it.
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> Result<Self, SsoError> {
        let verifier = OidcVerifier::discover(issuer, client_id).await?;
        let authorize = verifier
            .authorization_endpoint
            .clone()
            .ok_or(SsoError::MissingEndpoint("authorization_endpoint"))?;
        let token = verifier
            .token_endpoint
            .clone()
            .ok_or(SsoError::MissingEndpoint("token_endpoint"))?;
        let client = oauth2::Client::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(client_secret.to_owned()))
            .set_auth_uri(AuthUrl::new(authorize.clone()).map_err(url_error(&authorize))?)
            .set_token_uri(TokenUrl::new(token.clone()).map_err(url_error(&token))?)
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_owned()).map_err(url_error(redirect_uri))?,
            )
            // Microsoft Entra ID wants the client's credentials in the form body.
            .set_auth_type(oauth2::AuthType::RequestBody);
        let http = reqwest::Client::builder()
            // Following redirects from the token endpoint would open the client to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| SsoError::Exchange(e.to_string()))?;
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client,
            verifier,
            http,
        })
    }

    /// Where to send the browser, and what to remember until it comes back.
    pub fn begin(&self, next: String) -> (String, PendingSignIn) {
        let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("openid".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .add_scope(Scope::new("email".to_owned()))
            .add_extra_param("nonce", nonce.secret())
            .set_pkce_challenge(challenge)
            .url();
        let pending = PendingSignIn {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: pkce_verifier.secret().clone(),
            next,
        };
        (url.to_string(), pending)
    }

    /// Checks the callback against what was sent, exchanges the code (with the PKCE verifier)
    /// and verifies the ID token (signature, issuer, audience, expiry, nonce).
    pub async fn finish(
        &self,
        pending: &PendingSignIn,
        code: &str,
        state: &str,
    ) -> Result<SsoIdentity, SsoError> {
        if !constant_time_eq(state.as_bytes(), pending.state.as_bytes()) {
            return Err(SsoError::StateMismatch);
        }
        let answer = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| SsoError::Exchange(crate::telemetry::error_chain(&e)))?;
        let claims: IdClaims = self
            .verifier
            .claims(&answer.extra_fields().id_token)
            .await?;
        let nonce_matches = claims
            .nonce
            .as_deref()
            .is_some_and(|n| constant_time_eq(n.as_bytes(), pending.nonce.as_bytes()));
        if !nonce_matches {
            return Err(SsoError::NonceMismatch);
        }
        let subject = claims
            .oid
            .filter(|oid| !oid.is_empty())
            .unwrap_or(claims.sub);
        if subject.is_empty() {
            return Err(SsoError::NoName);
        }
        let display_name = claims
            .preferred_username
            .or(claims.email)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| subject.clone());
        Ok(SsoIdentity {
            issuer: self.issuer.clone(),
            subject,
            display_name,
            roles: claims
                .roles
                .iter()
                .filter_map(|r| PortalRole::parse(r))
                .collect(),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
