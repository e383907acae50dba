//! What the HTTP server counts: requests by door, method, route and status, and a latency
//! histogram per door, method and route, rendered in Prometheus' text format. Labels come
//! from the router's own route templates (never from the raw path), so a stranger who sends
//! many different paths adds no series. Depends on nothing but `std`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// The upper bounds of the latency buckets, in seconds.
pub const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Which door a request came in by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HttpDoor {
    /// The provisioning API (ACG's operations and Numbat's own).
    Api,
    /// The portal's pages, forms, server functions, uploads and downloads.
    Portal,
    /// Health checks, metrics, the API's description and static files.
    Other,
}

impl HttpDoor {
    fn label(self) -> &'static str {
        match self {
            HttpDoor::Api => "api",
            HttpDoor::Portal => "portal",
            HttpDoor::Other => "other",
        }
    }
}

/// One request's labels. `route` is the template the router matched (`/accounts/{name}`), or
/// `unmatched`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    door: HttpDoor,
    method: &'static str,
    route: String,
}

#[derive(Debug, Default)]
struct Latency {
    /// Counts per bucket (not cumulative), then the count above the last bound.
    buckets: [u64; BUCKETS.len() + 1],
    sum_seconds: f64,
}

#[derive(Debug, Default)]
struct Figures {
    requests: BTreeMap<(Series, u16), u64>,
    latency: BTreeMap<Series, Latency>,
}

/// The server's request figures. One lock, held for a few map updates per request.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    figures: Mutex<Figures>,
}

/// The methods a label may name; any other is `other`, so a made-up method adds no series.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

impl HttpMetrics {
    /// Counts one answered request.
    pub fn record(
        &self,
        door: HttpDoor,
        method: &str,
        route: Option<&str>,
        status: u16,
        took: Duration,
    ) {
        let series = Series {
            door,
            method: method_label(method),
            route: route.unwrap_or("unmatched").to_owned(),
        };
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        let mut figures = self
            .figures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *figures
            .requests
            .entry((series.clone(), status))
            .or_default() += 1;
        let latency = figures.latency.entry(series).or_default();
        latency.buckets[bucket] += 1;
        latency.sum_seconds += seconds;
    }

    /// The figures in Prometheus' text format, appended to `out`.
    pub fn render(&self, out: &mut String) {
        let figures = self
            .figures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let labels = |s: &Series| {
            format!(
                "door=\"{}\",method=\"{}\",route=\"{}\"",
                s.door.label(),
                s.method,
                escape(&s.route)
            )
        };
        out.push_str(
            "# HELP numbat_http_requests_total HTTP requests answered, by door, method, route and status.\n\
             # TYPE numbat_http_requests_total counter\n",
        );
        for ((series, status), count) in &figures.requests {
            let _ = writeln!(
                out,
                "numbat_http_requests_total{{{},status=\"{status}\"}} {count}",
                labels(series)
            );
        }
        out.push_str(
            "# HELP numbat_http_request_duration_seconds Time from a request's arrival to its answer's headers.\n\
             # TYPE numbat_http_request_duration_seconds histogram\n",
        );
        for (series, latency) in &figures.latency {
            let labels = labels(series);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(latency.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "numbat_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += latency.buckets[BUCKETS.len()];
            let _ = writeln!(
                out,
                "numbat_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}\n\
                 numbat_http_request_duration_seconds_sum{{{labels}}} {:.6}\n\
                 numbat_http_request_duration_seconds_count{{{labels}}} {cumulative}",
                latency.sum_seconds
            );
        }
    }
}

/// A label value as Prometheus reads it: backslash, quote and newline escaped.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A request's id: a random UUID (version 4), made by the server for every request, returned
/// as `x-ms-request-id` and carried by every log line the request writes. A client's own value
/// is never taken, so a log line cannot be forged through it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn random() -> Self {
        let mut bytes: [u8; 16] = rand::random();
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_request_once_in_the_first_bucket_it_fits() {
        let metrics = HttpMetrics::default();
        let route = Some("/accounts/{accountName}");
        metrics.record(HttpDoor::Api, "PUT", route, 200, Duration::from_micros(700));
        metrics.record(HttpDoor::Api, "PUT", route, 200, Duration::from_millis(30));
        metrics.record(HttpDoor::Api, "PUT", route, 400, Duration::from_secs(20));
        metrics.record(HttpDoor::Api, "BREW", None, 405, Duration::from_millis(1));
        let mut text = String::new();
        metrics.render(&mut text);
        let series = "door=\"api\",method=\"PUT\",route=\"/accounts/{accountName}\"";
        for line in [
            format!("numbat_http_requests_total{{{series},status=\"200\"}} 2"),
            format!("numbat_http_requests_total{{{series},status=\"400\"}} 1"),
            format!("numbat_http_request_duration_seconds_bucket{{{series},le=\"0.001\"}} 1"),
            format!("numbat_http_request_duration_seconds_bucket{{{series},le=\"0.025\"}} 1"),
            format!("numbat_http_request_duration_seconds_bucket{{{series},le=\"0.05\"}} 2"),
            format!("numbat_http_request_duration_seconds_bucket{{{series},le=\"10\"}} 2"),
            format!("numbat_http_request_duration_seconds_bucket{{{series},le=\"+Inf\"}} 3"),
            format!("numbat_http_request_duration_seconds_count{{{series}}} 3"),
            "numbat_http_requests_total{door=\"api\",method=\"other\",route=\"unmatched\",status=\"405\"} 1".to_owned(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn request_ids_are_version_4_uuids_and_differ() {
        let (a, b) = (RequestId::random(), RequestId::random());
        assert_ne!(a, b);
        for id in [a.0, b.0] {
            assert_eq!(id.len(), 36);
            assert_eq!(&id[14..15], "4", "{id}");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
            assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        }
    }
}
