//! The change feed other systems pull: every change to numbers, accounts, consents, civic
//! addresses, settings and jobs, in commit order, from a cursor that survives restarts, waiting
//! a while for new changes when there are none. Each event is the audit event its change wrote in
//! the same transaction, so no change is without its event and no event without its change.
//! Depends on `store::feed`.

use super::{Actor, Permission, Provisioning, ProvisioningError};
use crate::domain::{Code, Violation};
use crate::store::feed::{self as stored, FeedRow, Position};
use serde::Serialize;
use std::time::Duration;

/// The most events one page holds, and how many when the caller names no number.
pub const MAX_PAGE: i64 = 1000;
pub const DEFAULT_PAGE: i64 = 100;

/// The longest a read waits for new events.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// The most reads of this process waiting for new events at once.
pub const MAX_WAITING: usize = 64;

/// How often a waiting read looks again for other processes' commits (its own process's wake
/// it at once).
const LOOK_AGAIN: Duration = Duration::from_millis(500);

/// A place in the feed, as text: `<transaction>.<event>`, two decimal numbers. The start of the
/// feed is `0.0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor(Position);

impl Cursor {
    /// The start: before every event.
    pub const START: Cursor = Cursor(Position { xid: 0, id: 0 });

    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let bad = || {
            Violation::new(
                "after",
                Code::InvalidFormat,
                "must be a cursor this feed gave (two numbers joined by a dot, e.g. 0.42)",
            )
        };
        if raw.len() > 41 {
            return Err(bad());
        }
        let (xid, id) = raw.split_once('.').ok_or_else(bad)?;
        let number = |part: &str| {
            if part.is_empty() || part.len() > 19 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse::<i64>().ok()
        };
        match (number(xid), number(id)) {
            (Some(xid), Some(id)) => Ok(Cursor(Position { xid, id })),
            _ => Err(bad()),
        }
    }
}

impl Cursor {
    pub fn from_position(position: Position) -> Self {
        Cursor(position)
    }

    pub fn position(self) -> Position {
        self.0
    }
}

/// Whether `raw` reads as an RFC 3339 time.
pub fn looks_like_time(raw: &str) -> bool {
    time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339).is_ok()
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0.xid, self.0.id)
    }
}

/// One change, as another system reads it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedEvent {
    /// The event's own cursor: reading after it goes on with the next event.
    pub id: String,
    /// `<resource type>.<action>`: `number.create` (assigned), `number.replace`,
    /// `number.delete` (released), `number.reserve`, `account.create`, `job.start`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub time: String,
    pub actor: String,
    pub door: String,
    pub resource_type: String,
    pub resource_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// The resource's version after the change (none after a delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The resource as the change left it (none after a delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl From<FeedRow> for FeedEvent {
    fn from(row: FeedRow) -> Self {
        FeedEvent {
            id: Cursor(Position {
                xid: row.xid,
                id: row.id,
            })
            .to_string(),
            kind: format!("{}.{}", row.resource_type, event_action(&row.action)),
            time: row.at,
            actor: row.actor,
            door: row.door,
            resource_type: row.resource_type,
            resource_key: row.resource_key,
            account_name: row.account_name,
            version: row.version,
            data: row
                .after
                .map(|json| serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json))),
        }
    }
}

/// An audit action as an event type's second part: its words joined in camel case, so
/// `sync failed` is `syncFailed` and every type is letters and one dot, as subscriptions name
/// them.
pub fn event_action(action: &str) -> String {
    let mut out = String::with_capacity(action.len());
    for (i, word) in action.split_whitespace().enumerate() {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.push(first);
            } else {
                out.extend(first.to_uppercase());
            }
            out.extend(chars);
        }
    }
    out
}

/// A page of the feed, and where the next read goes on (the given cursor when there was
/// nothing new).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedPage {
    pub value: Vec<FeedEvent>,
    pub cursor: String,
}

impl Provisioning {
    /// Up to `limit` (1–[`MAX_PAGE`]) events after `after`, in commit order; when there are
    /// none yet, waits up to `wait` (at most [`MAX_WAIT`]) for the first new ones.
    pub async fn events_after(
        &self,
        actor: &Actor,
        after: Cursor,
        limit: i64,
        wait: Duration,
    ) -> Result<FeedPage, ProvisioningError> {
        actor.permit(Permission::Read)?;
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ProvisioningError::invalid(Violation::new(
                "maxpagesize",
                Code::OutOfRange,
                format!("must be 1–{MAX_PAGE}"),
            )));
        }
        // A bounded number of reads wait at once; past that a read answers at once, so
        // waiting readers cannot take every database connection.
        static WAITING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_WAITING);
        let waiting = if wait.is_zero() {
            None
        } else {
            WAITING.try_acquire().ok()
        };
        let wait = if waiting.is_some() {
            wait
        } else {
            Duration::ZERO
        };
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        let mut commits = crate::store::commits().subscribe();
        loop {
            commits.borrow_and_update();
            let rows = stored::after(&self.db, after.0, limit).await?;
            let now = tokio::time::Instant::now();
            if !rows.is_empty() || now >= deadline {
                let cursor = rows
                    .last()
                    .map(|r| {
                        Cursor(Position {
                            xid: r.xid,
                            id: r.id,
                        })
                    })
                    .unwrap_or(after);
                return Ok(FeedPage {
                    value: rows.into_iter().map(FeedEvent::from).collect(),
                    cursor: cursor.to_string(),
                });
            }
            let pause = LOOK_AGAIN.min(deadline - now);
            let _ = tokio::time::timeout(pause, commits.changed()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_actions_become_event_types_a_subscription_can_name() {
        assert_eq!(event_action("create"), "create");
        assert_eq!(event_action("sync failed"), "syncFailed");
        assert_eq!(event_action("retry sync"), "retrySync");
        assert_eq!(event_action("signInLocked"), "signInLocked");
        for action in [
            "sync",
            "sync failed",
            "retry sync",
            "finish",
            "fail",
            "endQuarantine",
        ] {
            let kind = format!("number.{}", event_action(action));
            assert!(
                crate::provisioning::webhooks::parse_types(std::slice::from_ref(&kind)).is_ok(),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_cursor_reads_back_and_hostile_ones_are_refused_naming_after() {
        for good in ["0.0", "0.42", "9223372036854775807.1", "123.456"] {
            assert_eq!(Cursor::parse(good).unwrap().to_string(), good);
        }
        let huge = "9".repeat(10_000);
        for bad in [
            "",
            ".",
            "1",
            "1.",
            ".1",
            "-1.2",
            "1.-2",
            "+1.2",
            "1.2.3",
            "1 .2",
            "1.2\r\n",
            "9223372036854775808.1",
            "١.٢",
            huge.as_str(),
        ] {
            let refused = Cursor::parse(bad).unwrap_err();
            assert_eq!(refused.field, "after", "{bad:?}");
        }
    }
}
