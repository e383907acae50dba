//! Webhook subscriptions: their rules (an https address outside the operator's own networks
//! unless the deployment allows them, the event types, a secret the receiver checks signatures
//! with), their changes with audit events, and what one delivery attempt does to a
//! subscription's place in the feed (delivered: on to the next event; failed: tried again later,
//! backing off; failing for the give-up period: parked, and the subscription paused). The HTTP
//! side is `crate::hooks`. Depends on `store::webhooks` and `feed`.

use super::feed::{Cursor, FeedEvent};
use super::{audit_event, now, Actor, Change, Permission, Provisioning, ProvisioningError};
use crate::domain::{Code, Violation, Violations};
use crate::store::audit;
use crate::store::feed::{self as feed_store, Position};
use crate::store::webhooks::{self as stored, Delivery, NewSubscription, Progress, Subscription};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;

const RESOURCE: &str = "webhookSubscription";

/// How long a rotated-out secret still signs deliveries beside the new one.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// How long the delivery log keeps an attempt.
pub const LOG_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// The longest address, and the most event types a subscription names.
pub const MAX_URL: usize = 2048;
pub const MAX_TYPES: usize = 50;

/// How a deployment retries: the first wait after a failure (doubling each time, with jitter,
/// up to an hour) and how long an event is retried before it is parked and its subscription
/// paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_wait: Duration,
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_wait: Duration::from_secs(1),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// Whether `ip` is an address on the public internet: not loopback, private, link-local,
/// carrier-grade NAT, unique local, site-local, multicast, documentation, benchmarking,
/// IETF-reserved or unspecified; an IPv6 address carrying an IPv4 one (mapped, compatible,
/// NAT64, 6to4) is judged by the IPv4 one, and Teredo is refused.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && c == 0)
                || (a == 192 && b == 88 && c == 99)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                let [a, b] = hi.to_be_bytes();
                let [c, d] = lo.to_be_bytes();
                std::net::Ipv4Addr::new(a, b, c, d)
            };
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
            if s[..6] == [0; 6] && !(v6.is_loopback() || v6.is_unspecified()) {
                return is_public(IpAddr::V4(embedded(s[6], s[7])));
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(IpAddr::V4(embedded(s[6], s[7])));
            }
            if s[0] == 0x2002 {
                return is_public(IpAddr::V4(embedded(s[1], s[2])));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x64 && s[1] == 0xff9b)
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x2001 && s[1] == 0))
        }
    }
}

/// A receiver's address as given: https (http too when private addresses are allowed), a host,
/// no user name or password, no fragment, no control characters, at most [`MAX_URL`] long; a
/// host written as an address must be public unless the deployment allows private ones. (A
/// name is checked again against the addresses it resolves to, at each delivery.)
pub fn parse_url(raw: &str, allow_private: bool) -> Result<reqwest::Url, Violation> {
    let bad = |why: &str| Violation::new("url", Code::InvalidValue, why.to_owned());
    if raw.is_empty() || raw.len() > MAX_URL {
        return Err(Violation::new(
            "url",
            Code::InvalidFormat,
            format!("must be 1–{MAX_URL} characters"),
        ));
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("must not hold spaces or control characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|_| bad("must be an absolute https URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(bad("must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry a user name or password"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment (#…)"));
    }
    let Some(host) = url.host_str() else {
        return Err(bad("must name a host"));
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let private = match bare.parse::<IpAddr>() {
        Ok(ip) => !is_public(ip),
        Err(_) => {
            let name = bare.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost") || !name.contains('.')
        }
    };
    if private && !allow_private {
        return Err(bad(
            "must be a public address: loopback, private and single-label hosts are refused unless the deployment allows them (--webhooks-allow-private)",
        ));
    }
    Ok(url)
}

/// The event types (`number.create`) or resource types (`number`) a subscription takes; none:
/// every event.
pub fn parse_types(raw: &[String]) -> Result<Vec<String>, Violations> {
    let mut violations = Violations::new();
    if raw.len() > MAX_TYPES {
        violations.push(Violation::new(
            "types",
            Code::BatchSize,
            format!("may name at most {MAX_TYPES} types"),
        ));
        return Err(violations);
    }
    let mut types = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        let well_formed = !t.is_empty()
            && t.len() <= 64
            && t.split('.').count() <= 2
            && t.split('.')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphabetic()));
        if well_formed {
            if !types.contains(t) {
                types.push(t.clone());
            }
        } else {
            violations.push(Violation::new(
                format!("types[{i}]"),
                Code::InvalidFormat,
                "must be a resource type (number) or an event type (number.create): letters, one dot at most, 64 characters at most",
            ));
        }
    }
    if violations.is_empty() {
        Ok(types)
    } else {
        Err(violations)
    }
}

/// Whether a subscription taking `types` (and only `account`'s events, when given) takes
/// `event`.
pub fn takes(types: &str, account: Option<&str>, event: &FeedEvent) -> bool {
    let of_type = types.is_empty()
        || types
            .split(',')
            .any(|t| t == event.kind || t == event.resource_type);
    let of_account = account.is_none_or(|a| event.account_name.as_deref() == Some(a));
    of_type && of_account
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 read back; `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (index, quad) in text.chunks(4).enumerate() {
        let last = index == text.len() / 4 - 1;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            let value = ALPHABET.iter().position(|&a| a == c)? as u32;
            n = (n << 6) | value;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// A new secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks writes them.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", base64(&bytes))
}

/// Why an attempt failed: the receiver's status when it answered (not 2xx), and the start of
/// its answer or what went wrong on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub status: Option<u16>,
    pub answer: String,
}

/// What a door asks for.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionRequest {
    pub url: String,
    #[serde(default)]
    pub types: Vec<String>,
    #[serde(default)]
    pub account_name: Option<String>,
    /// Deliver events from the feed's start instead of from now.
    #[serde(default)]
    pub from_start: bool,
}

/// A subscription as shown: never its secret, except once, when it is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub id: i64,
    pub url: String,
    pub types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// `active` or `paused`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    /// The last event delivered (or passed over as not taken).
    pub cursor: String,
    /// Failed attempts at the event it is on, and when the next one is.
    pub failures: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    /// Delivery attempts so far, by outcome.
    pub attempts: Attempts,
    /// The secret, in the answer that made the subscription only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A subscription's delivery attempts by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Attempts {
    pub delivered: i64,
    /// Failed, to be tried again.
    pub failed: i64,
    /// Given up on.
    pub parked: i64,
}

/// A subscription's figures for `/metrics`: its state, its attempts, and the events it has
/// still to go through (counted up to [`BACKLOG_CAP`]) with the time of the oldest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionFigures {
    pub id: i64,
    pub state: String,
    pub attempts: Attempts,
    pub backlog: i64,
    pub oldest_waiting_at: Option<String>,
}

/// The most waiting events a scrape counts per subscription, so a paused subscription far
/// behind does not make `/metrics` scan the feed.
pub const BACKLOG_CAP: i64 = 10_000;

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        SubscriptionView {
            id: s.id,
            url: s.url.clone(),
            types: s
                .types
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            account_name: s.account_name.clone(),
            state: s.state.clone(),
            paused_reason: s.paused_reason.clone(),
            cursor: Cursor::from_position(s.position()).to_string(),
            failures: s.failures,
            next_attempt_at: s.next_attempt_at.clone(),
            created_at: s.created_at.clone(),
            attempts: Attempts {
                delivered: s.delivered,
                failed: s.failed,
                parked: s.parked,
            },
            secret: None,
        }
    }
}

/// A subscription's audit record: what it is, never its secret.
fn audited(view: &SubscriptionView) -> String {
    // Only where it goes: a path or query may carry a receiver's own key.
    serde_json::json!({
        "url": receiver_site(&view.url), "types": view.types, "accountName": view.account_name,
        "state": view.state, "pausedReason": view.paused_reason,
    })
    .to_string()
}

/// A receiver's scheme, host and port, without its path or query (which may carry a key).
fn receiver_site(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}/…",
                u.scheme(),
                u.host_str().unwrap_or_default()
            )
        }
        Err(_) => String::new(),
    }
}

/// The wait before attempt `failures + 1`: `first` doubled per failure, at most an hour,
/// between half and all of it (jitter), so receivers coming back are not hit all at once.
pub fn backoff(first: Duration, failures: i32) -> Duration {
    let doubled = first.saturating_mul(1u32 << failures.clamp(0, 20) as u32);
    let full = doubled.min(Duration::from_secs(3600));
    full.mul_f64(0.5 + rand::random::<f64>() / 2.0)
}

impl Provisioning {
    fn subscription_change<'a>(
        action: &'a str,
        key: &'a str,
        before: Option<String>,
        after: Option<String>,
    ) -> Change<'a> {
        Change {
            action,
            resource_type: RESOURCE,
            key,
            version: None,
            before,
            after,
            account: None,
        }
    }

    /// Forgets delivery attempts older than [`LOG_KEPT`] (housekeeping, no actor: the log is
    /// a record of attempts, not provisioning); each subscription's counts stay.
    pub async fn forget_old_webhook_attempts(&self) -> Result<u64, ProvisioningError> {
        let before = super::timestamp_ago(LOG_KEPT);
        Ok(stored::forget_before(&self.db, &before).await?)
    }

    /// Every subscription's figures (no actor: figures only, for `/metrics`).
    pub async fn webhook_figures(&self) -> Result<Vec<SubscriptionFigures>, ProvisioningError> {
        let mut figures = Vec::new();
        for s in stored::list(&self.db).await? {
            let (backlog, oldest_waiting_at) =
                feed_store::backlog(&self.db, s.position(), BACKLOG_CAP).await?;
            figures.push(SubscriptionFigures {
                id: s.id,
                state: s.state.clone(),
                attempts: SubscriptionView::from(&s).attempts,
                backlog,
                oldest_waiting_at,
            });
        }
        Ok(figures)
    }

    /// Makes a subscription (Admin): its secret is in this answer only.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        request: SubscriptionRequest,
    ) -> Result<SubscriptionView, ProvisioningError> {
        let permit = actor.permit(Permission::Administer)?;
        let mut violations = Violations::new();
        let url = parse_url(request.url.trim(), self.webhooks_allow_private)
            .map_err(|v| violations.push(v))
            .ok();
        let types = parse_types(&request.types)
            .map_err(|v| violations.extend(v))
            .ok();
        let account = match request.account_name.as_deref() {
            None => None,
            Some(raw) => crate::domain::AccountName::parse(raw)
                .map_err(|v| violations.push(v.at("accountName")))
                .ok(),
        };
        let (Some(url), Some(types), true) = (url, types, violations.is_empty()) else {
            return Err(ProvisioningError::Invalid(violations));
        };
        let start = if request.from_start {
            Position::default()
        } else {
            feed_store::last(&self.db).await?
        };
        let secret = new_secret();
        let at = now();
        let types = types.join(",");
        let mut tx = self.begin(&permit).await?;
        let id = stored::insert(
            &mut tx,
            &NewSubscription {
                url: url.as_str(),
                types: &types,
                account_name: account.as_ref().map(|a| a.as_str()),
                secret: &secret,
                start,
                at: &at,
            },
        )
        .await?;
        let made = stored::get_in(&mut tx, id)
            .await?
            .expect("the subscription just made");
        let mut view = SubscriptionView::from(&made);
        let key = id.to_string();
        let change = Self::subscription_change("create", &key, None, Some(audited(&view)));
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        view.secret = Some(secret);
        Ok(view)
    }

    /// Every subscription (Admin), without secrets.
    pub async fn webhooks(
        &self,
        actor: &Actor,
    ) -> Result<Vec<SubscriptionView>, ProvisioningError> {
        actor.permit(Permission::Administer)?;
        Ok(stored::list(&self.db)
            .await?
            .iter()
            .map(SubscriptionView::from)
            .collect())
    }

    pub async fn webhook(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<SubscriptionView, ProvisioningError> {
        actor.permit(Permission::Administer)?;
        stored::get(&self.db, id)
            .await?
            .as_ref()
            .map(SubscriptionView::from)
            .ok_or_else(|| ProvisioningError::not_found("webhook", id.to_string()))
    }

    /// A subscription's newest delivery attempts first (Admin).
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        id: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, ProvisioningError> {
        self.webhook(actor, id).await?;
        Ok(stored::deliveries(&self.db, id, limit.clamp(1, 1000)).await?)
    }

    /// Deletes a subscription and its delivery log (Admin).
    pub async fn delete_webhook(&self, actor: &Actor, id: i64) -> Result<(), ProvisioningError> {
        let permit = actor.permit(Permission::Administer)?;
        let at = now();
        let mut tx = self.begin(&permit).await?;
        let Some(before) = stored::get_in(&mut tx, id).await? else {
            return Err(ProvisioningError::not_found("webhook", id.to_string()));
        };
        stored::delete(&mut tx, id).await?;
        let key = id.to_string();
        let before = audited(&SubscriptionView::from(&before));
        let change = Self::subscription_change("delete", &key, Some(before), None);
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes a paused subscription active again, or goes back in the feed to deliver again
    /// every event after `since` (an event's id, or a time: events from then on), or both
    /// (Admin). Deliveries carry each event's own id, so a receiver knows them again.
    pub async fn change_webhook(
        &self,
        actor: &Actor,
        id: i64,
        activate: bool,
        since: Option<&str>,
    ) -> Result<SubscriptionView, ProvisioningError> {
        let permit = actor.permit(Permission::Administer)?;
        let rewind_to = match since {
            None => None,
            Some(raw) => Some(match Cursor::parse(raw) {
                Ok(cursor) => cursor.position(),
                Err(_) if super::feed::looks_like_time(raw) => {
                    // Compared as stored: UTC, to the millisecond.
                    let at = time::OffsetDateTime::parse(
                        raw,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .expect("it reads as a time");
                    feed_store::before_time(&self.db, &super::timestamp_of(at)).await?
                }
                Err(_) => {
                    return Err(ProvisioningError::invalid(Violation::new(
                        "since",
                        Code::InvalidFormat,
                        "must be an event's id (0.42) or an RFC 3339 time",
                    )))
                }
            }),
        };
        let at = now();
        let mut tx = self.begin(&permit).await?;
        let Some(before) = stored::get_in(&mut tx, id).await? else {
            return Err(ProvisioningError::not_found("webhook", id.to_string()));
        };
        let state = activate.then_some(("active", None));
        stored::update(&mut tx, id, state, rewind_to, &at).await?;
        let after = stored::get_in(&mut tx, id).await?.expect("still there");
        let view = SubscriptionView::from(&after);
        let key = id.to_string();
        let change = Self::subscription_change(
            if rewind_to.is_some() {
                "replay"
            } else {
                "resume"
            },
            &key,
            Some(audited(&SubscriptionView::from(&before))),
            Some(audited(&view)),
        );
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// The subscription `id` and its event `event` (an event's id), for delivering that one
    /// event again out of turn (Admin): refused, naming `event`, when the feed has no such
    /// event or the subscription does not take it.
    pub async fn webhook_redelivery(
        &self,
        actor: &Actor,
        id: i64,
        event: &str,
    ) -> Result<(Subscription, FeedEvent), ProvisioningError> {
        actor.permit(Permission::Administer)?;
        let at = Cursor::parse(event).map_err(|v| ProvisioningError::invalid(v.at("event")))?;
        let subscription = stored::get(&self.db, id)
            .await?
            .ok_or_else(|| ProvisioningError::not_found("webhook", id.to_string()))?;
        let Some(row) = feed_store::one(&self.db, at.position()).await? else {
            return Err(ProvisioningError::invalid(Violation::new(
                "event",
                Code::InvalidValue,
                format!("the change feed has no event {event}"),
            )));
        };
        let event = FeedEvent::from(row);
        if !takes(
            &subscription.types,
            subscription.account_name.as_deref(),
            &event,
        ) {
            return Err(ProvisioningError::invalid(Violation::new(
                "event",
                Code::InvalidValue,
                format!(
                    "webhook {id} does not take {} events{}",
                    event.kind,
                    subscription
                        .account_name
                        .as_deref()
                        .map(|a| format!(" or events of accounts other than {a}"))
                        .unwrap_or_default()
                ),
            )));
        }
        Ok((subscription, event))
    }

    /// Records a redelivery of one event (`webhook_redelivery`'s) and what it did, in the
    /// delivery log and the audit trail together; the subscription's place is unchanged.
    pub async fn record_webhook_redelivery(
        &self,
        actor: &Actor,
        subscription: &Subscription,
        event: &FeedEvent,
        outcome: Result<u16, Failure>,
    ) -> Result<Delivery, ProvisioningError> {
        let permit = actor.permit(Permission::Administer)?;
        let at = now();
        let (outcome, status, answer) = match outcome {
            Ok(status) => ("delivered", Some(i32::from(status)), None),
            Err(failure) => (
                "failed",
                failure.status.map(i32::from),
                Some(failure.answer),
            ),
        };
        let mut made = delivery(event, outcome, 1, status, answer, &at);
        made.requested_by = Some(actor.principal.clone());
        made.subscription_id = subscription.id;
        let mut tx = self.begin(&permit).await?;
        let Some(logged) = stored::log_redelivery(&mut tx, subscription.id, &made).await? else {
            return Err(ProvisioningError::not_found(
                "webhook",
                subscription.id.to_string(),
            ));
        };
        made.id = logged;
        let key = subscription.id.to_string();
        let what = serde_json::json!({ "event": event.id, "eventType": event.kind, "outcome": outcome, "status": status });
        let change = Self::subscription_change("redeliver", &key, None, Some(what.to_string()));
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        Ok(made)
    }

    /// Gives a subscription a new secret (Admin), in this answer only; deliveries are signed
    /// with both the new and the old one for [`ROTATION_OVERLAP`], so a receiver can change
    /// over without losing one.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<SubscriptionView, ProvisioningError> {
        let permit = actor.permit(Permission::Administer)?;
        let at = now();
        let until = super::timestamp_of(time::OffsetDateTime::now_utc() + ROTATION_OVERLAP);
        let secret = new_secret();
        let mut tx = self.begin(&permit).await?;
        let Some(current) = stored::get_in(&mut tx, id).await? else {
            return Err(ProvisioningError::not_found("webhook", id.to_string()));
        };
        // Two secrets sign at most: the one rotated out last must have run out first.
        if let Some(until) = current.previous_until.filter(|u| u.as_str() > at.as_str()) {
            return Err(ProvisioningError::Conflict(
                Violation::new(
                    "secret",
                    Code::InvalidValue,
                    format!("the secret rotated out last still signs deliveries until {until}; rotate again after that"),
                )
                .into(),
            ));
        }
        stored::rotate(&mut tx, id, &secret, &until, &at).await?;
        let after = stored::get_in(&mut tx, id).await?.expect("still there");
        let mut view = SubscriptionView::from(&after);
        let key = id.to_string();
        let what = Some(format!(
            "{{\"secretRotated\":true,\"previousValidUntil\":\"{until}\"}}"
        ));
        let change = Self::subscription_change("rotate", &key, None, what);
        audit::record(&mut tx, &[audit_event(&permit, &at, change)]).await?;
        tx.commit().await?;
        view.secret = Some(secret);
        Ok(view)
    }

    /// Takes the subscriptions due for delivery, for `owner` (a delivering process).
    pub async fn claim_due_webhooks(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Vec<Subscription>, ProvisioningError> {
        let until = super::timestamp_of(time::OffsetDateTime::now_utc() + lease);
        // Only those with events to go through: a subscription that is caught up is not
        // written at every look.
        let end = feed_store::last(&self.db).await?;
        Ok(stored::claim_due(&self.db, owner, &now(), &until, end).await?)
    }

    /// The events after `position`, for a delivering process.
    pub async fn feed_after(
        &self,
        position: Position,
        limit: i64,
    ) -> Result<Vec<FeedEvent>, ProvisioningError> {
        Ok(feed_store::after(&self.db, position, limit)
            .await?
            .into_iter()
            .map(FeedEvent::from)
            .collect())
    }

    /// The record of `event` delivered (the receiver answered `status`) at its `attempt`, to
    /// be recorded with others by [`Provisioning::record_webhook_deliveries`].
    pub fn delivered_attempt(event: &FeedEvent, attempt: i32, status: u16) -> Delivery {
        delivery(
            event,
            "delivered",
            attempt,
            Some(i32::from(status)),
            None,
            &now(),
        )
    }

    /// Records several events delivered one after another, and the subscription's place moved
    /// on to `to` (the last of them, or an event passed over after them), in one transaction.
    /// False when the process no longer holds the subscription: nothing is recorded, and those
    /// events will be sent again (under the same ids).
    pub async fn record_webhook_deliveries(
        &self,
        subscription: &mut Subscription,
        owner: &str,
        to: Position,
        delivered: &[Delivery],
    ) -> Result<bool, ProvisioningError> {
        let progress = Progress {
            position: to,
            failures: 0,
            failing_since: None,
            next_attempt_at: None,
            paused: None,
        };
        let held = stored::record(
            &self.db,
            subscription.id,
            owner,
            subscription.version,
            delivered,
            &progress,
            &now(),
        )
        .await?;
        if held {
            subscription.cursor_xid = to.xid;
            subscription.cursor_id = to.id;
            subscription.failures = 0;
            subscription.failing_since = None;
            subscription.next_attempt_at = None;
        }
        Ok(held)
    }

    /// Records what delivering a subscription's next event (at `to`) did: delivered, or failed
    /// (then the subscription stays where it was, to try again after a wait); with no attempt,
    /// the events up to `to` were passed over as not taken. False when the process no longer
    /// holds the subscription.
    pub async fn record_webhook_attempt(
        &self,
        subscription: &mut Subscription,
        owner: &str,
        to: Position,
        attempt: Option<(&FeedEvent, Result<u16, Failure>)>,
    ) -> Result<bool, ProvisioningError> {
        let at = now();
        let mut deliveries = Vec::new();
        let mut progress = Progress {
            position: to,
            failures: 0,
            failing_since: None,
            next_attempt_at: None,
            paused: None,
        };
        let failing_since;
        let next_at;
        let paused;
        if let Some((event, outcome)) = attempt {
            let attempt_no = subscription.failures + 1;
            let (status, answer, delivered) = match outcome {
                Ok(status) => (Some(i32::from(status)), None, true),
                Err(failure) => (failure.status.map(i32::from), Some(failure.answer), false),
            };
            if delivered {
                deliveries.push(delivery(
                    event,
                    "delivered",
                    attempt_no,
                    status,
                    answer,
                    &at,
                ));
            } else {
                let since = subscription
                    .failing_since
                    .clone()
                    .unwrap_or_else(|| at.clone());
                let failing_for = time::OffsetDateTime::now_utc()
                    - time::OffsetDateTime::parse(
                        &since,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
                if failing_for >= self.webhook_retry.give_up_after {
                    deliveries.push(delivery(event, "parked", attempt_no, status, answer, &at));
                    paused = format!(
                        "event {} could not be delivered for {} hours and was parked; the subscription is paused until an administrator resumes it, starting with that event",
                        event.id,
                        self.webhook_retry.give_up_after.as_secs() / 3600
                    );
                    progress.paused = Some(&paused);
                    // It stays on the parked event: a resume tries it first.
                    progress.position = subscription.position();
                } else {
                    deliveries.push(delivery(event, "failed", attempt_no, status, answer, &at));
                    let wait = backoff(self.webhook_retry.first_wait, subscription.failures);
                    next_at = super::timestamp_of(time::OffsetDateTime::now_utc() + wait);
                    failing_since = since;
                    progress.position = subscription.position();
                    progress.failures = attempt_no;
                    progress.failing_since = Some(&failing_since);
                    progress.next_attempt_at = Some(&next_at);
                }
            }
        }
        let held = stored::record(
            &self.db,
            subscription.id,
            owner,
            subscription.version,
            &deliveries,
            &progress,
            &at,
        )
        .await?;
        if held {
            subscription.cursor_xid = progress.position.xid;
            subscription.cursor_id = progress.position.id;
            subscription.failures = progress.failures;
            subscription.failing_since = progress.failing_since.map(str::to_owned);
            subscription.next_attempt_at = progress.next_attempt_at.map(str::to_owned);
            if progress.paused.is_some() {
                subscription.state = "paused".into();
            }
        }
        Ok(held)
    }
}

fn delivery(
    event: &FeedEvent,
    outcome: &str,
    attempt: i32,
    status: Option<i32>,
    answer: Option<String>,
    at: &str,
) -> Delivery {
    Delivery {
        id: 0,
        subscription_id: 0,
        event_id: event.id.clone(),
        event_type: event.kind.clone(),
        outcome: outcome.to_owned(),
        attempt,
        status,
        answer,
        at: at.to_owned(),
        requested_by: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_reads_back_and_refuses_what_is_not() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base64_decode(&base64(bytes)).unwrap(), bytes);
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
        for bad in ["Zm8", "Zm8=Zm8=", "Z===", "Zm9v!mFy", "Zm\r\n"] {
            assert!(base64_decode(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn only_public_https_addresses_are_taken_unless_private_ones_are_allowed() {
        for good in [
            "https://hooks.example.com/numbat",
            "https://hooks.example.com:8443/a?b=c",
            "https://203.0.114.7/x",
            "https://[2a00:1450:4009:81d::200e]/",
            "https://[64:ff9b::808:808]/",
        ] {
            assert!(parse_url(good, false).is_ok(), "{good}");
        }
        for bad in [
            "http://hooks.example.com/",
            "https://127.0.0.1/",
            "https://localhost/",
            "https://api.localhost/",
            "https://intranet/",
            "https://10.1.2.3/",
            "https://192.168.0.1/",
            "https://172.16.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::127.0.0.1]/",
            "https://[64:ff9b::a00:5]/",
            "https://[64:ff9b:1::1]/",
            "https://[2002:a00:1::1]/",
            "https://[2001:0:4136:e378::1]/",
            "https://[fec0::1]/",
            "https://192.0.0.192/",
            "https://192.88.99.1/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#x",
            "https://hooks.example.com/\r\nX: y",
            "file:///etc/passwd",
            "gopher://hooks.example.com/",
            "",
            "not a url",
        ] {
            let refused = parse_url(bad, false).unwrap_err();
            assert_eq!(refused.field, "url", "{bad}");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(3000));
        assert!(parse_url(&long, false).is_err());
        assert!(parse_url("http://127.0.0.1:8080/hook", true).is_ok());
    }

    #[test]
    fn types_are_resource_or_event_types_and_match_events() {
        assert_eq!(
            parse_types(&["number".into(), "account.create".into(), "number".into()]).unwrap(),
            ["number", "account.create"]
        );
        for bad in [
            "",
            "a.b.c",
            "number.",
            "num ber",
            "number\r\n",
            &"x".repeat(65),
        ] {
            assert!(parse_types(&[bad.to_owned()]).is_err(), "{bad:?}");
        }
        assert!(parse_types(&vec!["number".to_owned(); 51]).is_err());
        let event = FeedEvent {
            id: "0.1".into(),
            kind: "number.create".into(),
            time: String::new(),
            actor: String::new(),
            door: String::new(),
            resource_type: "number".into(),
            resource_key: "+442079460001".into(),
            account_name: Some("contoso".into()),
            version: Some(1),
            data: None,
        };
        assert!(takes("", None, &event));
        assert!(takes("number", Some("contoso"), &event));
        assert!(takes("account,number.create", None, &event));
        assert!(!takes("account", None, &event));
        assert!(!takes("number", Some("fabrikam"), &event));
    }

    #[test]
    fn the_wait_doubles_with_jitter_up_to_an_hour() {
        let first = Duration::from_secs(1);
        for failures in 0..40 {
            let wait = backoff(first, failures);
            let full = first
                .saturating_mul(1u32 << failures.clamp(0, 20) as u32)
                .min(Duration::from_secs(3600));
            assert!(wait >= full / 2 && wait <= full, "{failures}: {wait:?}");
        }
    }
}
