//! Who may call the API from where, and how often: a source-address allowlist and a per-client
//! request rate (both off unless configured). A batch is one request. Depends on nothing of
//! Numbat's; the API turns a refusal into its answer.

use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a request was refused before it was read; the API answers 403 and 429 for these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitRefusal {
    /// The source address is outside the allowlist (or unknown while one is set).
    SourceNotAllowed {
        source: Option<IpAddr>,
        allowlist: Vec<IpNet>,
    },
    /// The client used its allowance; it may try again after `retry_after_secs`.
    TooManyRequests {
        client: String,
        per_minute: u32,
        retry_after_secs: u64,
    },
}

impl std::fmt::Display for LimitRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SourceNotAllowed { source, allowlist } => write!(
                f,
                "requests from {} are not allowed; the API's allowlist holds {}",
                source.map_or("an unknown address".to_owned(), |ip| ip.to_string()),
                allowlist
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::TooManyRequests {
                client,
                per_minute,
                retry_after_secs,
            } => write!(
                f,
                "{client} may make {per_minute} requests a minute; try again in {retry_after_secs} s"
            ),
        }
    }
}

#[derive(Debug, Default)]
pub struct ApiLimits {
    /// Source ranges allowed to call; empty means any.
    pub allowed_sources: Vec<IpNet>,
    /// Requests a client may make per minute; `None` means no limit.
    pub per_minute: Option<u32>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ApiLimits {
    pub fn new(allowed_sources: Vec<IpNet>, per_minute: Option<u32>) -> Self {
        Self {
            allowed_sources,
            per_minute,
            buckets: Mutex::default(),
        }
    }

    /// Refuses a source outside the allowlist. An unknown source is refused when a list is set.
    pub fn check_source(&self, source: Option<IpAddr>) -> Result<(), LimitRefusal> {
        if self.allowed_sources.is_empty() {
            return Ok(());
        }
        match source {
            Some(ip) if self.allowed_sources.iter().any(|net| net.contains(&ip)) => Ok(()),
            _ => Err(LimitRefusal::SourceNotAllowed {
                source,
                allowlist: self.allowed_sources.clone(),
            }),
        }
    }

    /// Takes one request from `client`'s allowance, or a 429 saying when to come back.
    pub fn take(&self, client: &str) -> Result<(), LimitRefusal> {
        let Some(per_minute) = self.per_minute else {
            return Ok(());
        };
        let capacity = f64::from(per_minute.max(1));
        let refill_per_second = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        bucket.tokens = (bucket.tokens
            + now.duration_since(bucket.at).as_secs_f64() * refill_per_second)
            .min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / refill_per_second);
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Err(LimitRefusal::TooManyRequests {
            client: client.to_owned(),
            per_minute,
            retry_after_secs: seconds,
        })
    }
}
