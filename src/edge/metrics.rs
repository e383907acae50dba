//! What the edge counts, and `/metrics` in Prometheus' text format on its own address
//! (`--metrics-listen`): calls per service, rejections by reason, forged and unsigned messages
//! dropped, messages from strangers, next-hop health and TCP connections. Counters are atomics
//! the message path bumps without a lock. Depends on [`super::addressing`] and [`super::hops`].

use super::addressing::Side;
use crate::domain::Service;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// Why the edge answered a request itself instead of forwarding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Provisioning refused the call (screening, or a number no rule routes).
    Provisioning,
    /// The Request-URI holds no telephone number.
    NoNumber,
    /// No next hop is configured for the call's service.
    NoNextHop,
    /// Every next hop of the call's service is down.
    NextHopDown,
    /// The source sent INVITEs faster than `--invite-rate`.
    Flood,
    /// Max-Forwards reached zero.
    TooManyHops,
    /// An in-dialog request whose Route the edge did not sign.
    ForgedRoute,
    /// A new call while the edge drains before it stops.
    Draining,
}

const REJECTIONS: [(Rejection, &str); 8] = [
    (Rejection::Provisioning, "provisioning"),
    (Rejection::NoNumber, "no_number"),
    (Rejection::NoNextHop, "no_next_hop"),
    (Rejection::NextHopDown, "next_hop_down"),
    (Rejection::Flood, "invite_flood"),
    (Rejection::TooManyHops, "too_many_hops"),
    (Rejection::ForgedRoute, "forged_route"),
    (Rejection::Draining, "draining"),
];

/// Why a TCP connection was closed or refused by the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpEvent {
    RefusedTotal,
    RefusedPerSource,
    ClosedIdle,
    ClosedFirstMessage,
    ClosedOversized,
    ClosedSlowWriter,
    ClosedHandshake,
}

const TCP_EVENTS: [(TcpEvent, &str, &str); 7] = [
    (TcpEvent::RefusedTotal, "refused", "total_limit"),
    (TcpEvent::RefusedPerSource, "refused", "per_source_limit"),
    (TcpEvent::ClosedIdle, "closed", "idle"),
    (TcpEvent::ClosedFirstMessage, "closed", "message_timeout"),
    (TcpEvent::ClosedOversized, "closed", "oversized_message"),
    (TcpEvent::ClosedSlowWriter, "closed", "send_queue_full"),
    (TcpEvent::ClosedHandshake, "closed", "tls_handshake_failed"),
];

#[derive(Default)]
pub struct EdgeMetrics {
    /// New calls forwarded, per service (`Service::index()`), then toward the operator.
    calls: [AtomicU64; super::hops::OPERATOR + 1],
    rejections: [AtomicU64; REJECTIONS.len()],
    forged_requests: AtomicU64,
    forged_responses: AtomicU64,
    untrusted: [AtomicU64; 2],
    unparsable: AtomicU64,
    tcp_open: [AtomicI64; 2],
    tcp_events: [AtomicU64; TCP_EVENTS.len()],
    send_failures: AtomicU64,
}

fn side_at(side: Side) -> usize {
    match side {
        Side::Operator => 0,
        Side::Service => 1,
    }
}

impl EdgeMetrics {
    pub fn call(&self, service: Option<Service>) {
        let at = service.map_or(5, Service::index);
        self.calls[at].fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected(&self, why: Rejection) {
        let at = REJECTIONS.iter().position(|(r, _)| *r == why).unwrap_or(0);
        self.rejections[at].fetch_add(1, Ordering::Relaxed);
    }

    pub fn forged_response(&self) {
        self.forged_responses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn forged_request(&self) {
        self.forged_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn untrusted(&self, side: Side) {
        self.untrusted[side_at(side)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn unparsable(&self) {
        self.unparsable.fetch_add(1, Ordering::Relaxed);
    }

    pub fn send_failed(&self) {
        self.send_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn tcp_opened(&self, side: Side) {
        self.tcp_open[side_at(side)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn tcp_closed(&self, side: Side) {
        self.tcp_open[side_at(side)].fetch_sub(1, Ordering::Relaxed);
    }

    pub fn tcp(&self, event: TcpEvent) {
        let at = TCP_EVENTS
            .iter()
            .position(|(e, ..)| *e == event)
            .unwrap_or(0);
        self.tcp_events[at].fetch_add(1, Ordering::Relaxed);
    }

    /// Open TCP connections on both sides.
    pub fn tcp_connections(&self) -> i64 {
        self.tcp_open
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum()
    }

    /// The figures in Prometheus' text format; `hops` is each next hop and whether it is up.
    pub fn render(&self, hops: &[(String, bool)]) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        };
        family(
            "numbat_edge_calls_total",
            "counter",
            "New calls forwarded, by the service they went to (operator: toward the operator's network).",
        );
        let mut lines = String::new();
        for service in Service::ALL {
            let _ = writeln!(
                lines,
                "numbat_edge_calls_total{{service=\"{}\"}} {}",
                service.wire_name(),
                self.calls[service.index()].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            lines,
            "numbat_edge_calls_total{{service=\"operator\"}} {}",
            self.calls[super::hops::OPERATOR].load(Ordering::Relaxed)
        );
        let mut text = out;
        text.push_str(&lines);
        let mut metric = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
            let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
            for (labels, value) in samples {
                let _ = writeln!(text, "{name}{labels} {value}");
            }
        };
        metric(
            "numbat_edge_rejections_total",
            "counter",
            "Requests the edge answered itself with an error, by reason.",
            REJECTIONS
                .iter()
                .zip(&self.rejections)
                .map(|((_, name), n)| {
                    (
                        format!("{{reason=\"{name}\"}}"),
                        n.load(Ordering::Relaxed).to_string(),
                    )
                })
                .collect(),
        );
        metric(
            "numbat_edge_forged_total",
            "counter",
            "Messages naming an address the edge did not sign (requests answered 403, responses dropped).",
            vec![
                (
                    "{kind=\"request\"}".into(),
                    self.forged_requests.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "{kind=\"response\"}".into(),
                    self.forged_responses.load(Ordering::Relaxed).to_string(),
                ),
            ],
        );
        metric(
            "numbat_edge_untrusted_total",
            "counter",
            "Messages dropped because their source is not a configured peer of that side.",
            sides(&self.untrusted),
        );
        metric(
            "numbat_edge_unparsable_total",
            "counter",
            "Messages dropped because they are not SIP the edge can read.",
            vec![(
                String::new(),
                self.unparsable.load(Ordering::Relaxed).to_string(),
            )],
        );
        metric(
            "numbat_edge_send_failures_total",
            "counter",
            "Messages that could not be sent (a next hop down, a send queue full).",
            vec![(
                String::new(),
                self.send_failures.load(Ordering::Relaxed).to_string(),
            )],
        );
        metric(
            "numbat_edge_tcp_connections",
            "gauge",
            "Open TCP and TLS connections, by side.",
            ["operator", "service"]
                .iter()
                .zip(&self.tcp_open)
                .map(|(side, n)| {
                    (
                        format!("{{side=\"{side}\"}}"),
                        n.load(Ordering::Relaxed).to_string(),
                    )
                })
                .collect(),
        );
        metric(
            "numbat_edge_tcp_events_total",
            "counter",
            "TCP connections the edge refused or closed, by reason.",
            TCP_EVENTS
                .iter()
                .zip(&self.tcp_events)
                .map(|((_, what, why), n)| {
                    (
                        format!("{{event=\"{what}\",reason=\"{why}\"}}"),
                        n.load(Ordering::Relaxed).to_string(),
                    )
                })
                .collect(),
        );
        metric(
            "numbat_edge_next_hop_up",
            "gauge",
            "1 when the next hop is taking calls, 0 while it is down.",
            hops.iter()
                .map(|(hop, up)| (format!("{{hop=\"{hop}\"}}"), u8::from(*up).to_string()))
                .collect(),
        );
        text
    }
}

fn sides(counters: &[AtomicU64; 2]) -> Vec<(String, String)> {
    ["operator", "service"]
        .iter()
        .zip(counters)
        .map(|(side, n)| {
            (
                format!("{{side=\"{side}\"}}"),
                n.load(Ordering::Relaxed).to_string(),
            )
        })
        .collect()
}

/// Serves `GET /metrics` on `addr` until the process ends; returns the address it bound.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<EdgeMetrics>,
    hops: Arc<super::hops::Health>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            let hops = hops.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    metrics.render(&hops.figures()),
                )
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!(%error, "the edge's metrics listener stopped");
        }
    });
    tracing::info!(addr = %bound, "edge metrics listening");
    Ok(bound)
}
