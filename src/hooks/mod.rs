//! Webhook deliveries over HTTP: each subscription's events, signed as Standard Webhooks asks
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//! id.timestamp.body>`), sent in commit order by whichever process holds the subscription, a
//! few at a time but never two of one resource at once (so each resource's events arrive in
//! order), with the receiver's address checked against the addresses its name resolves to at
//! each round (and the round's connections pinned to one of them). Depends on the core
//! (`provisioning::webhooks`, `provisioning::feed`).

use crate::provisioning::feed::{Cursor, FeedEvent};
use crate::provisioning::webhooks::{base64, base64_decode, is_public, takes, Failure};
use crate::provisioning::{Actor, Provisioning, ProvisioningError};
use crate::store::webhooks::{Delivery, Subscription};
use hmac::{Hmac, Mac};
use std::collections::HashSet;
use std::time::Duration;

/// How long a process holds a subscription it delivers. A round starts no attempt after ROUND,
/// so its last one (5 s of lookup and ATTEMPT) ends before the lease does.
const LEASE: Duration = Duration::from_secs(30);
const ROUND: Duration = Duration::from_secs(12);
/// How long one request may take (its name's lookup has 5 seconds besides).
const ATTEMPT: Duration = Duration::from_secs(10);
/// The most of a receiver's answer kept in the delivery log.
const ANSWER_KEPT: usize = 200;

/// The `v1,<signature>` of `body` under `secret` (`whsec_<base64 key>`); `None` for a secret
/// that does not read as one.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = base64_decode(secret.strip_prefix("whsec_")?)?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!("v1,{}", base64(&mac.finalize().into_bytes())))
}

/// Every signature a delivery carries, space-separated: the current secret's, and the previous
/// one's while a rotation lets both be valid.
fn signatures(subscription: &Subscription, id: &str, timestamp: i64, body: &str) -> String {
    let now = crate::provisioning::now();
    let mut secrets = vec![subscription.secret.as_str()];
    if let (Some(previous), Some(until)) =
        (&subscription.previous_secret, &subscription.previous_until)
    {
        if until.as_str() > now.as_str() {
            secrets.push(previous);
        }
    }
    secrets
        .into_iter()
        .filter_map(|secret| signature(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A client for `url`: no redirects followed, bounded in time; unless private addresses are
/// allowed, pinned to a public address the host resolves to, and refused when any is not
/// public (so a name cannot be pointed at the operator's own network).
async fn client_for(url: &reqwest::Url, allow_private: bool) -> Result<reqwest::Client, Failure> {
    let refuse = |answer: String| Failure {
        status: None,
        answer,
    };
    let builder = || {
        // No proxy from the environment: it would resolve the name itself, past the check.
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ATTEMPT)
            .connect_timeout(Duration::from_secs(5))
    };
    if allow_private {
        // Nothing to pin: one client for every delivery, its connections kept.
        static SHARED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
        if let Some(client) = SHARED.get() {
            return Ok(client.clone());
        }
        let client = builder()
            .build()
            .map_err(|e| refuse(format!("no HTTP client: {e}")))?;
        return Ok(SHARED.get_or_init(|| client).clone());
    }
    let mut builder = builder();
    {
        let host = url.host_str().unwrap_or_default();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::lookup_host((bare, port)),
        )
        .await
        .map_err(|_| refuse(format!("{host} did not resolve within 5 seconds")))?;
        let addresses: Vec<std::net::SocketAddr> = lookup
            .map_err(|e| refuse(format!("{host} does not resolve: {e}")))?
            .collect();
        // Which address is not said: the log is no map of the operator's network.
        if addresses.iter().any(|a| !is_public(a.ip())) {
            return Err(refuse(format!(
                "{host} resolves to an address that is not public"
            )));
        }
        let first = addresses
            .first()
            .ok_or_else(|| refuse(format!("{host} has no address")))?;
        builder = builder.resolve(bare, *first);
    }
    builder
        .build()
        .map_err(|e| refuse(format!("no HTTP client: {e}")))
}

/// Where a subscription's events go: its URL, and a client whose connections are pinned to an
/// address checked when it was made.
#[derive(Clone)]
struct Receiver {
    url: reqwest::Url,
    client: reqwest::Client,
}

/// The receiver of `subscription`, resolved and checked now.
async fn receiver(subscription: &Subscription, allow_private: bool) -> Result<Receiver, Failure> {
    let url = reqwest::Url::parse(&subscription.url).map_err(|_| Failure {
        status: None,
        answer: "the subscription's URL does not read back".into(),
    })?;
    // A subscription made where private receivers were allowed (a lab, the command line's
    // --allow-private) is sent in the clear only where they still are.
    if url.scheme() != "https" && !allow_private {
        return Err(Failure {
            status: None,
            answer:
                "the receiver's address is not https, and this server allows only https receivers"
                    .into(),
        });
    }
    let client = client_for(&url, allow_private).await?;
    Ok(Receiver { url, client })
}

/// Sends one event to a subscription's receiver: its status when 2xx.
pub async fn send(
    subscription: &Subscription,
    event: &FeedEvent,
    allow_private: bool,
) -> Result<u16, Failure> {
    let to = receiver(subscription, allow_private).await?;
    send_to(&to, subscription, event).await
}

/// Sends one event to `to`: its status when 2xx.
async fn send_to(
    to: &Receiver,
    subscription: &Subscription,
    event: &FeedEvent,
) -> Result<u16, Failure> {
    let Receiver { url, client } = to.clone();
    let body = serde_json::to_string(event).expect("an event serialises");
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let signed = signatures(subscription, &event.id, timestamp, &body);
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "numbat-webhooks")
        .header("webhook-id", &event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signed)
        .body(body)
        .send()
        .await;
    let response = sent.map_err(|e| Failure {
        status: None,
        answer: format!("no answer: {e}"),
    })?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(status);
    }
    // At most a kibibyte of the answer is read, however much the receiver sends.
    let mut response = response;
    let mut kept = Vec::new();
    while kept.len() < 1024 {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = 1024 - kept.len();
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    let answer: String = String::from_utf8_lossy(&kept)
        .chars()
        .filter(|c| !c.is_control())
        .take(ANSWER_KEPT)
        .collect();
    Err(Failure {
        status: Some(status),
        answer,
    })
}

/// Delivers one event of a subscription again, now and out of turn, as an administrator asked
/// (`event` is the event's id): the attempt, as the delivery log keeps it. Its place in the
/// feed, and the events waiting, are left as they are.
pub async fn redeliver(
    core: &Provisioning,
    actor: &Actor,
    id: i64,
    event: &str,
) -> Result<Delivery, ProvisioningError> {
    let (subscription, event) = core.webhook_redelivery(actor, id, event).await?;
    let outcome = send(&subscription, &event, core.webhooks_allow_private()).await;
    core.record_webhook_redelivery(actor, &subscription, &event, outcome)
        .await
}

/// The longest wait before a retry that a round waits itself.
const SHORT_WAIT: Duration = Duration::from_secs(2);

/// How long until `subscription`'s next attempt is due, when one is set.
fn retry_in(subscription: &Subscription) -> Option<Duration> {
    let at = time::OffsetDateTime::parse(
        subscription.next_attempt_at.as_deref()?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?;
    let wait = at - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// The most delivered events recorded together, and the longest they wait to be recorded.
/// Recording a batch in one transaction is what lets a subscription keep up with a thousand
/// changes a second; a process killed before recording one sends its events again (same ids).
const RECORD_EVERY: usize = 50;
const RECORD_WITHIN: Duration = Duration::from_millis(50);

/// Delivered events not yet recorded, and the place they take the subscription to.
#[derive(Default)]
struct Unrecorded {
    delivered: Vec<Delivery>,
    to: Option<crate::store::feed::Position>,
    since: Option<tokio::time::Instant>,
}

impl Unrecorded {
    fn is_due(&self) -> bool {
        self.delivered.len() >= RECORD_EVERY
            || self.since.is_some_and(|at| at.elapsed() >= RECORD_WITHIN)
    }

    /// Records them; false when the subscription is no longer this process's.
    async fn record(
        &mut self,
        core: &Provisioning,
        owner: &str,
        subscription: &mut Subscription,
    ) -> Result<bool, ProvisioningError> {
        let Some(to) = self.to.take() else {
            return Ok(true);
        };
        let delivered = std::mem::take(&mut self.delivered);
        self.since = None;
        core.record_webhook_deliveries(subscription, owner, to, &delivered)
            .await
    }
}

/// The most events of one subscription sent at once, each of a different resource. A receiver
/// answering in a millisecond then takes several thousand events a second, however busy the
/// machine; each resource's events still arrive in commit order.
const IN_FLIGHT: usize = 8;

/// The next window of `events` for a subscription to `types` (and `account`): the most
/// consecutive events that hold at most `most` it takes and no resource twice among those. How
/// many events it spans.
fn window(types: &str, account: Option<&str>, most: usize, events: &[FeedEvent]) -> usize {
    let mut resources = HashSet::new();
    let mut taken = 0;
    for (spanned, event) in events.iter().enumerate() {
        if takes(types, account, event) {
            let resource = (event.resource_type.as_str(), event.resource_key.as_str());
            if taken == most || !resources.insert(resource) {
                return spanned;
            }
            taken += 1;
        }
    }
    events.len()
}

/// Delivers what `subscription` has waiting, for a round at most: every event it takes, in feed
/// order a window at a time (see [`window`]), until one fails (then it is tried again in this
/// round when its wait is short, else at its turn; those after it in its window are sent again
/// after it, under the same ids) or the feed has nothing more. Delivered events are recorded a
/// batch at a time (see [`RECORD_EVERY`]); a failure is recorded at once, after them. The
/// receiver's name is resolved and checked once a round, and again after a failure.
async fn deliver_subscription(
    core: &Provisioning,
    owner: &str,
    mut subscription: Subscription,
) -> Result<(), ProvisioningError> {
    let started = tokio::time::Instant::now();
    let mut unrecorded = Unrecorded::default();
    let mut to: Option<Result<Receiver, Failure>> = None;
    // Windows in a row without a failure (from 3 on, the whole IN_FLIGHT).
    let mut calm: u32 = 3;
    'round: while started.elapsed() < ROUND && subscription.state == "active" {
        let from = unrecorded.to.unwrap_or(subscription.position());
        let events = core.feed_after(from, 100).await?;
        if events.is_empty() {
            break;
        }
        let mut rest = &events[..];
        while !rest.is_empty() {
            // No attempt starts that could end after the lease (see ROUND).
            if started.elapsed() >= ROUND {
                break 'round;
            }
            // An event being retried goes alone, so a receiver that is down is not sent the
            // events after it again at each retry; after a failure the window grows back
            // (1, 2, 4, 8), so a receiver failing now and then is not sent most events twice.
            let most = if subscription.failures > 0 {
                1
            } else {
                IN_FLIGHT.min(1 << calm)
            };
            let spanned = window(
                &subscription.types,
                subscription.account_name.as_deref(),
                most,
                rest,
            );
            let (now, later) = rest.split_at(spanned.max(1));
            rest = later;
            let taken = |event: &&FeedEvent| {
                takes(
                    &subscription.types,
                    subscription.account_name.as_deref(),
                    event,
                )
            };
            if to.is_none() && now.iter().any(|e| taken(&e)) {
                to = Some(receiver(&subscription, core.webhooks_allow_private()).await);
            }
            let sends = now.iter().filter(taken).map(|event| {
                let to = to.clone();
                let subscription = &subscription;
                async move {
                    match to {
                        Some(Ok(to)) => send_to(&to, subscription, event).await,
                        Some(Err(failure)) => Err(failure),
                        None => unreachable!("the receiver is found before a send"),
                    }
                }
            });
            let mut outcomes = futures_util::future::join_all(sends).await.into_iter();
            for event in now {
                let at = Cursor::parse(&event.id)
                    .map(Cursor::position)
                    .unwrap_or_default();
                unrecorded
                    .since
                    .get_or_insert_with(tokio::time::Instant::now);
                if !taken(&event) {
                    // Passed over: the next record moves the subscription past it.
                    unrecorded.to = Some(at);
                    continue;
                }
                match outcomes.next().expect("an outcome for each event sent") {
                    Ok(status) => {
                        let attempt = subscription.failures + 1;
                        unrecorded
                            .delivered
                            .push(Provisioning::delivered_attempt(event, attempt, status));
                        unrecorded.to = Some(at);
                        // The next event is its first attempt.
                        subscription.failures = 0;
                        subscription.failing_since = None;
                    }
                    Err(failure) => {
                        // What came before is recorded first, so the failure is at the right
                        // place; what came after in the window is sent again after it.
                        if !unrecorded.record(core, owner, &mut subscription).await? {
                            return Ok(());
                        }
                        let held = core
                            .record_webhook_attempt(
                                &mut subscription,
                                owner,
                                at,
                                Some((event, Err(failure))),
                            )
                            .await?;
                        if !held {
                            return Ok(());
                        }
                        to = None;
                        calm = 0;
                        // A short wait is waited here, still holding the subscription, so a
                        // retry comes when it is due rather than at the next round; a long
                        // one ends it.
                        match retry_in(&subscription) {
                            Some(wait)
                                if wait <= SHORT_WAIT && started.elapsed() + wait < ROUND =>
                            {
                                tokio::time::sleep(wait).await;
                                continue 'round;
                            }
                            _ => return Ok(()),
                        }
                    }
                }
            }
            calm = (calm + 1).min(3);
            if unrecorded.is_due() && !unrecorded.record(core, owner, &mut subscription).await? {
                return Ok(());
            }
        }
    }
    unrecorded.record(core, owner, &mut subscription).await?;
    Ok(())
}

/// One round: takes every subscription due and delivers each (at once, side by side). How many
/// subscriptions it took.
pub async fn deliver_due(core: &Provisioning, owner: &str) -> Result<usize, ProvisioningError> {
    let due = core.claim_due_webhooks(owner, LEASE).await?;
    let count = due.len();
    let mut rounds = tokio::task::JoinSet::new();
    for subscription in due {
        let (core, owner) = (core.clone(), owner.to_owned());
        rounds.spawn(async move {
            let id = subscription.id;
            if let Err(error) = deliver_subscription(&core, &owner, subscription).await {
                tracing::warn!(%error, subscription = id, "a webhook round stopped");
            }
        });
    }
    while rounds.join_next().await.is_some() {}
    Ok(count)
}

/// A subscription this process is delivering, let go of when dropped.
struct UnderWay(std::sync::Arc<std::sync::Mutex<HashSet<i64>>>, i64);

impl Drop for UnderWay {
    fn drop(&mut self) {
        if let Ok(mut ids) = self.0.lock() {
            ids.remove(&self.1);
        }
    }
}

/// Delivers webhooks for as long as the process runs: looks for subscriptions due at each of
/// this process's commits, and every quarter second for other nodes' and for retries coming
/// due. Each subscription's round runs on its own task, so a slow receiver holds up only its
/// own subscription; one already under way here is not started twice (the look renews its
/// lease).
pub fn start(core: Provisioning) -> tokio::task::JoinHandle<()> {
    let owner = format!(
        "{}:{}:{:08x}",
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "numbat".into()),
        std::process::id(),
        rand::random::<u32>()
    );
    tokio::spawn(async move {
        let mut commits = crate::store::commits().subscribe();
        let under_way = std::sync::Arc::new(std::sync::Mutex::new(HashSet::new()));
        let mut last_forgot: Option<tokio::time::Instant> = None;
        loop {
            commits.borrow_and_update();
            if last_forgot.is_none_or(|at| at.elapsed() > Duration::from_secs(3600)) {
                last_forgot = Some(tokio::time::Instant::now());
                if let Err(error) = core.forget_old_webhook_attempts().await {
                    tracing::warn!(%error, "could not forget old webhook attempts");
                }
            }
            match core.claim_due_webhooks(&owner, LEASE).await {
                Ok(due) => {
                    for subscription in due {
                        let id = subscription.id;
                        if !under_way.lock().is_ok_and(|mut ids| ids.insert(id)) {
                            continue;
                        }
                        let (core, owner, under_way) =
                            (core.clone(), owner.clone(), under_way.clone());
                        tokio::spawn(async move {
                            // Let go however the round ends, a panic included.
                            let _done = UnderWay(under_way, id);
                            if let Err(error) =
                                deliver_subscription(&core, &owner, subscription).await
                            {
                                tracing::warn!(%error, subscription = id, "a webhook round stopped");
                            }
                        });
                    }
                }
                Err(error) => tracing::warn!(%error, "webhook deliveries could not run"),
            }
            let _ = tokio::time::timeout(Duration::from_millis(250), commits.changed()).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, resource_type: &str, key: &str) -> FeedEvent {
        FeedEvent {
            id: format!("0.{id}"),
            kind: format!("{resource_type}.replace"),
            time: String::new(),
            actor: "ana".into(),
            door: "api".into(),
            resource_type: resource_type.into(),
            resource_key: key.into(),
            account_name: Some("contoso".into()),
            version: Some(1),
            data: None,
        }
    }

    /// A window never holds one resource twice, holds at most `most` events the subscription
    /// takes, and spans the events it passes over.
    #[test]
    fn a_window_holds_each_resource_once_and_at_most_so_many() {
        let events = [
            event(1, "number", "+1"),
            event(2, "account", "contoso"),
            event(3, "number", "+2"),
            event(4, "number", "+1"),
            event(5, "number", "+3"),
        ];
        // +1 comes again at the fourth: the window ends before it.
        assert_eq!(window("", None, 8, &events), 3);
        // A number subscription passes over the account and still stops at +1's second event.
        assert_eq!(window("number", None, 8, &events), 3);
        // Another account's subscription takes none of them: one window spans them all.
        assert_eq!(window("", Some("fabrikam"), 8, &events), 5);
        // The same key as another type's is another resource.
        let mixed = [event(1, "account", "x"), event(2, "number", "x")];
        assert_eq!(window("", None, 8, &mixed), 2);
        // At most `most`: one while retrying.
        assert_eq!(window("", None, 1, &events), 1);
        assert_eq!(window("number", None, 2, &events), 3);
        let many: Vec<FeedEvent> = (0..20)
            .map(|i| event(i, "number", &format!("+{i}")))
            .collect();
        assert_eq!(window("", None, IN_FLIGHT, &many), IN_FLIGHT);
    }

    /// The example of the Standard Webhooks specification: this secret, id, time and body sign
    /// to this signature.
    #[test]
    fn a_signature_is_the_standard_webhooks_one() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(signature("no-prefix", "id", 1, body).is_none());
        assert!(signature("whsec_!!!", "id", 1, body).is_none());
    }
}
