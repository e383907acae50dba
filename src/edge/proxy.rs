//! What the edge does to one SIP message: a stateless proxy that applies provisioning.
//!
//! It keeps no call state. Its own Via on each forwarded request remembers where the request
//! came from; its Record-Route brings the dialog's later requests back through it. Which
//! number decides is always the service-side party's: the called number of a call from the
//! operator's network, the calling number of a call toward it; in later messages, whichever of
//! From or To that party is.

use super::flood::InviteLimit;
use super::hops::{self, Choice, Health};
use super::metrics::{EdgeMetrics, Rejection};
use super::seal::Keys;
use super::sip::{self, first_of_list, param, uri_of, uri_parts, Message, Name};
use crate::domain::{CustomerDomain, Service};
use crate::routing::feed::SharedIndex;
use crate::routing::{self, Direction, RoutingIndex};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use super::addressing::{Destination, Hop, HopSpec, Origin, Outgoing, Side, Transport};

/// How the edge is set up.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    /// Where the operator-facing sockets listen.
    pub operator_listen: SocketAddr,
    /// Where the service-facing sockets listen.
    pub service_listen: SocketAddr,
    /// The operator-facing address peers reach (in Via and Record-Route toward the operator).
    pub operator_addr: SocketAddr,
    /// The service-facing address peers reach.
    pub service_addr: SocketAddr,
    /// Where each side's TLS listener listens, when there is one.
    pub operator_tls_listen: Option<SocketAddr>,
    pub service_tls_listen: Option<SocketAddr>,
    /// Where each side's TLS listener is reached (Via and Record-Route of messages that go
    /// over TLS).
    pub operator_tls_addr: Option<SocketAddr>,
    pub service_tls_addr: Option<SocketAddr>,
    /// Where calls toward the operator's network go.
    pub operator_next_hop: HopSpec,
    /// Per service (`Service::index()`), where its calls go: the first that is up.
    pub next_hops: [Vec<HopSpec>; Service::COUNT],
    /// The Direct Routing region this edge serves (`1r<region>`).
    pub region: u8,
    /// Sources allowed on each side; empty allows any (only with `allow_any_peer`).
    pub operator_peers: Vec<ipnet::IpNet>,
    pub service_peers: Vec<ipnet::IpNet>,
    /// A side without peers accepts anyone (labs); without it such a side refuses to start.
    pub allow_any_peer: bool,
    /// What signs and checks the addresses in the edge's own Via and Record-Route.
    pub keys: Keys,
    /// New INVITEs a second one source may send before it is answered 503; 0 for any.
    pub invite_rate: u32,
}

impl EdgeConfig {
    /// Why this configuration must not run, if it must not.
    pub fn refusal(&self) -> Option<String> {
        if self.allow_any_peer {
            return None;
        }
        let open: Vec<&str> = [
            ("operator", &self.operator_peers),
            ("service", &self.service_peers),
        ]
        .iter()
        .filter(|(_, peers)| peers.is_empty())
        .map(|(side, _)| *side)
        .collect();
        (!open.is_empty()).then(|| {
            format!(
                "no --{0}-peer is given, so anyone who reaches the {0} side could place calls through the edge: name the addresses that may send there (--operator-peer, --service-peer, repeat each), or give --allow-any-peer for a lab",
                open.join("-peer or --")
            )
        })
    }
}

/// What a request's Max-Forwards says.
enum MaxForwards {
    /// Counted down (or left as it came when it is not a number).
    Counted,
    /// Zero: the request goes no further.
    Reached,
    /// There is none.
    Missing,
}

/// The tag the edge puts on its own final responses; an ACK carrying it ends there.
const OWN_TAG: &str = "numbat-";
/// The edge's branches start with the magic cookie and this.
const OWN_BRANCH: &str = "z9hG4bK-nb";
/// The branches of the edge's keep-alive OPTIONS: this, the hop's position, `x`, a sequence.
const KEEPALIVE_BRANCH: &str = "z9hG4bK-nbk";
/// Requests that may start a dialog: the edge record-routes them.
const DIALOG_FORMING: [&[u8]; 3] = [b"INVITE", b"SUBSCRIBE", b"REFER"];

/// The parameters of the edge's own Via that a response brings back, read in one pass over
/// them (the first of each name counts, as [`param`] reads it).
#[derive(Default)]
struct ViaParams<'v> {
    branch: &'v [u8],
    nbs: &'v [u8],
    nbr: &'v [u8],
    nbt: &'v [u8],
    nbc: &'v [u8],
    nbm: Option<&'v [u8]>,
}

impl<'v> ViaParams<'v> {
    fn read(params: &'v [u8]) -> Self {
        let mut out = Self::default();
        let mut seen = [false; 6];
        for part in params.split(|b| *b == b';').skip(1) {
            let part = sip::trim_bytes(part);
            let (key, value) = match part.iter().position(|b| *b == b'=') {
                Some(eq) => (&part[..eq], sip::trim_bytes(&part[eq + 1..])),
                None => (part, &b""[..]),
            };
            let at = [&b"branch"[..], b"nbs", b"nbr", b"nbt", b"nbc", b"nbm"]
                .iter()
                .position(|name| key.eq_ignore_ascii_case(name));
            let Some(at) = at.filter(|at| !seen[*at]) else {
                continue;
            };
            seen[at] = true;
            match at {
                0 => out.branch = value,
                1 => out.nbs = value,
                2 => out.nbr = value,
                3 => out.nbt = value,
                4 => out.nbc = value,
                _ => out.nbm = Some(value),
            }
        }
        out
    }
}

/// Where the edge sends a request: an address, and for TCP the connection it came on, if
/// that is still the way to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Target {
    transport: Transport,
    addr: SocketAddr,
    connection: Option<u64>,
}

impl Target {
    /// As a Record-Route's `nbd` holds it: `u` or `t`, the address as [`via_addr`] writes it,
    /// and `_<id>` for a connection.
    fn encode(&self) -> Small {
        let mut out = Small::default();
        out.push(self.transport.code());
        via_addr(self.addr, &mut out);
        if let Some(id) = self.connection {
            let _ = write!(out, "_{id}");
        }
        out
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        let (&code, rest) = raw.split_first()?;
        let transport = Transport::from_code(code)?;
        let text = std::str::from_utf8(rest).ok()?;
        let (addr, connection) = match text.split_once('_') {
            Some((addr, id)) => (addr, Some(id.parse().ok()?)),
            None => (text, None),
        };
        Some(Self {
            transport,
            addr: decode_addr(addr.as_bytes())?,
            connection,
        })
    }
}

pub struct Proxy {
    pub config: EdgeConfig,
    pub index: SharedIndex,
    pub metrics: Arc<EdgeMetrics>,
    pub health: Arc<Health>,
    invites: InviteLimit,
    /// Set on SIGTERM: new calls and OPTIONS are answered 503 (so peers turn to another edge)
    /// while responses and requests inside dialogs still go through.
    draining: std::sync::atomic::AtomicBool,
    /// The edge's own `host:port` per side and transport, as its Via and Record-Route write
    /// it (written once, not per message).
    own: [[Box<str>; 3]; 2],
}

/// Changes to a message's lines; everything else is copied as it came.
#[derive(Default)]
struct Edits {
    start_line: Option<Vec<u8>>,
    /// Lines put before the first header.
    top: Vec<u8>,
    /// Per header (by position): `None` drops it, `Some` replaces the whole line.
    lines: Vec<(usize, Option<Vec<u8>>)>,
    /// Lines put after the last header.
    bottom: Vec<u8>,
}

impl Edits {
    /// The message with the edits made: one pass over its headers (the edits are sorted
    /// first), so thousands of edited headers cost no more than thousands of copied ones.
    fn apply(&mut self, msg: &Message<'_>) -> Vec<u8> {
        let raw = msg.raw;
        let mut out = Vec::with_capacity(raw.len() + self.top.len() + self.bottom.len() + 64);
        match &self.start_line {
            Some(line) => out.extend_from_slice(line),
            None => out.extend_from_slice(&raw[msg.start_at.clone()]),
        }
        out.extend_from_slice(&self.top);
        // Stable: of two edits of one header, the first made wins.
        self.lines.sort_by_key(|(at, _)| *at);
        let mut edits = self.lines.iter().peekable();
        for (i, header) in msg.headers.iter().enumerate() {
            let mut edit = None;
            while let Some((at, line)) = edits.next_if(|(at, _)| *at <= i) {
                if *at == i && edit.is_none() {
                    edit = Some(line);
                }
            }
            match edit {
                Some(Some(line)) => out.extend_from_slice(line),
                Some(None) => {}
                None => out.extend_from_slice(&raw[header.line_at.clone()]),
            }
        }
        out.extend_from_slice(&self.bottom);
        out.extend_from_slice(&raw[msg.tail_at.clone()]);
        out
    }
}

fn fnv(parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for part in parts {
        for b in *part {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// An address as a Via's sent-by or a SIP URI's hostport writes it: `ip:port`, `[ip]:port`
/// (never an IPv6 scope, which SIP has no syntax for).
struct HostPort(SocketAddr);

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.ip() {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.0.port()),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.0.port()),
        }
    }
}

/// An address as the edge's Via parameter `nbr` holds it: hex address, `-`, hex port.
fn via_addr(addr: SocketAddr, out: &mut Small) {
    match addr.ip() {
        IpAddr::V4(ip) => out.push_hex(u128::from(u32::from(ip)), 8),
        IpAddr::V6(ip) => out.push_hex(u128::from(ip), 32),
    }
    out.push(b'-');
    out.push_hex(u128::from(addr.port()), 4);
}

fn decode_addr(raw: &[u8]) -> Option<SocketAddr> {
    let text = std::str::from_utf8(raw).ok()?;
    let (ip, port) = text.split_once('-')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::from(u32::from_str_radix(ip, 16).ok()?.to_be_bytes()),
        32 => IpAddr::from(u128::from_str_radix(ip, 16).ok()?.to_be_bytes()),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The header's name as the message wrote it, then `: value`, as a full line.
fn line_like(msg: &Message<'_>, header: &sip::Header, value: &[u8]) -> Vec<u8> {
    let mut line = msg.raw[header.name_at.clone()].to_vec();
    line.extend_from_slice(b": ");
    line.extend_from_slice(value);
    line.extend_from_slice(b"\r\n");
    line
}

/// The reason phrase for the statuses the edge answers with.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        483 => "Too Many Hops",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// The address peers on `side` reach the edge at over `transport`: its TLS address for TLS,
/// when it has one.
fn addr_of(config: &EdgeConfig, side: Side, transport: Transport) -> SocketAddr {
    let tls = match side {
        Side::Operator => config.operator_tls_addr,
        Side::Service => config.service_tls_addr,
    };
    match (transport, tls) {
        (Transport::Tls, Some(addr)) => addr,
        _ => match side {
            Side::Operator => config.operator_addr,
            Side::Service => config.service_addr,
        },
    }
}

impl Proxy {
    pub fn new(config: EdgeConfig, index: SharedIndex) -> Self {
        // The numbering plan's metadata loads on first use: half a second (debug build) that
        // the first unprovisioned call would otherwise spend holding a UDP thread.
        let _ = routing::line_type_of("+442079460000");
        let health = Arc::new(Health::new(&config.operator_next_hop, &config.next_hops));
        let own = [Side::Operator, Side::Service].map(|side| {
            [Transport::Udp, Transport::Tcp, Transport::Tls]
                .map(|t| HostPort(addr_of(&config, side, t)).to_string().into())
        });
        Self {
            own,
            invites: InviteLimit::new(config.invite_rate),
            draining: std::sync::atomic::AtomicBool::new(false),
            config,
            index,
            metrics: Arc::default(),
            health,
        }
    }

    /// From now on, refuse what would start something new (see `draining`).
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The address peers on `side` reach the edge at over `transport`.
    fn addr_of(&self, side: Side, transport: Transport) -> SocketAddr {
        addr_of(&self.config, side, transport)
    }

    /// [`Proxy::addr_of`] as a Via's sent-by or a URI's hostport writes it.
    fn own_hostport(&self, side: Side, transport: Transport) -> &str {
        let side = match side {
            Side::Operator => 0,
            Side::Service => 1,
        };
        let transport = match transport {
            Transport::Udp => 0,
            Transport::Tcp => 1,
            Transport::Tls => 2,
        };
        &self.own[side][transport]
    }

    /// Whether `ip` may send on `side` (anyone, when no peers are configured for it).
    pub fn trusts(&self, side: Side, ip: IpAddr) -> bool {
        let peers = match side {
            Side::Operator => &self.config.operator_peers,
            Side::Service => &self.config.service_peers,
        };
        peers.is_empty() || peers.iter().any(|net| net.contains(&ip))
    }

    fn trusted(&self, origin: &Origin) -> bool {
        self.trusts(origin.side, origin.addr.ip())
    }

    /// Handles one message; returns what to send, if anything.
    pub fn handle(&self, raw: &[u8], origin: Origin) -> Option<Outgoing> {
        if !self.trusted(&origin) {
            self.metrics.untrusted(origin.side);
            tracing::debug!(peer = %origin.addr, "dropped a message from an untrusted peer");
            return None;
        }
        let msg = match Message::parse(raw) {
            Ok(msg) => msg,
            Err(error) => {
                self.metrics.unparsable();
                tracing::debug!(?error, peer = %origin.addr, "dropped a message that is not SIP");
                return None;
            }
        };
        let index = self.index.read().expect("index lock");
        if msg.is_request() {
            let out = self.request(&msg, origin, &index);
            // An ACK is never answered, whatever became of it.
            if msg.method() == b"ACK"
                && out
                    .as_ref()
                    .is_some_and(|o| o.bytes.starts_with(b"SIP/2.0 "))
            {
                return None;
            }
            out
        } else {
            self.response(&msg, origin, &index)
        }
    }

    /// The edge's own answer, counted by why.
    fn refuse(
        &self,
        msg: &Message<'_>,
        origin: Origin,
        why: Rejection,
        status: u16,
        warning: &str,
    ) -> Option<Outgoing> {
        self.metrics.rejected(why);
        Some(self.reply(msg, origin, status, warning, &[]))
    }

    fn request(&self, msg: &Message<'_>, origin: Origin, index: &RoutingIndex) -> Option<Outgoing> {
        let method = msg.method();
        let to_tag = msg.to_tag();
        if method == b"ACK" && to_tag.is_some_and(|t| t.starts_with(OWN_TAG.as_bytes())) {
            return None;
        }
        let mut edits = Edits {
            // A Via and two Record-Routes.
            top: Vec::with_capacity(384),
            ..Edits::default()
        };
        match self.max_forwards(msg, &mut edits) {
            MaxForwards::Reached => {
                return self.refuse(
                    msg,
                    origin,
                    Rejection::TooManyHops,
                    483,
                    "Max-Forwards reached zero",
                )
            }
            // RFC 3261 16.6 (3): a proxy adds one to a request that has none.
            MaxForwards::Missing => edits.bottom.extend_from_slice(b"Max-Forwards: 70\r\n"),
            MaxForwards::Counted => {}
        }
        let own_route = self.pop_own_routes(msg, &mut edits);
        let towards = origin.side.other();
        let uri = msg.request_uri()?;
        // A request inside a dialog the edge record-routed carries the edge's signed Route,
        // and goes only where that Route says. Anything else, an ACK for a failure response
        // or a request with a made-up To tag among them, is routed and screened like a new
        // call: to a configured next hop.
        let in_dialog = to_tag.is_some() && own_route.is_some();
        let target = if !in_dialog {
            // A new call (or a request outside any dialog). ACK and CANCEL belong to a
            // transaction already under way, so they go on while the edge drains.
            if method != b"ACK"
                && method != b"CANCEL"
                && self.draining.load(std::sync::atomic::Ordering::Relaxed)
            {
                self.metrics.rejected(Rejection::Draining);
                return Some(self.reply(
                    msg,
                    origin,
                    503,
                    "this edge is shutting down",
                    &[b"Retry-After: 30\r\n"],
                ));
            }
            let Some(number) = sip::uri_user(uri) else {
                if method == b"OPTIONS" {
                    return Some(self.reply(msg, origin, 200, "", &[]));
                }
                return self.refuse(
                    msg,
                    origin,
                    Rejection::NoNumber,
                    404,
                    "the Request-URI holds no telephone number",
                );
            };
            // Every request outside a dialog the edge signed counts (a made-up To tag does not
            // get one past), but ACK and CANCEL, which follow a request already counted.
            if method != b"ACK" && method != b"CANCEL" && !self.invites.allow(origin.addr.ip()) {
                self.metrics.rejected(Rejection::Flood);
                return Some(self.reply(
                    msg,
                    origin,
                    503,
                    "too many new calls from this source",
                    &[b"Retry-After: 1\r\n"],
                ));
            }
            let (list, service) = match origin.side {
                Side::Operator => {
                    let decision = self.decide(index, number, Direction::FromOperator, None);
                    if let Some(rejection) = decision.rejection {
                        return self.refuse(
                            msg,
                            origin,
                            Rejection::Provisioning,
                            rejection.status,
                            &rejection.reason,
                        );
                    }
                    let service = decision
                        .service
                        .expect("a decision without rejection has a service");
                    if let Some(host) = &decision.contact_host {
                        self.rewrite_contact(msg, host, &mut edits);
                    }
                    (service.index(), Some(service))
                }
                Side::Service => {
                    let calling = msg
                        .first_value(Name::From)
                        .and_then(|from| sip::uri_user(uri_of(from)))
                        .unwrap_or_default();
                    let label = self.direct_routing_label(index, uri);
                    let decision = self.decide(index, calling, Direction::ToOperator, label);
                    if let Some(rejection) = decision.rejection {
                        return self.refuse(
                            msg,
                            origin,
                            Rejection::Provisioning,
                            rejection.status,
                            &rejection.reason,
                        );
                    }
                    (hops::OPERATOR, None)
                }
            };
            let label = service.map_or("the operator's network", Service::label);
            match self.health.choose(list) {
                Choice::Send(hop) => {
                    if method == b"INVITE" && to_tag.is_none() {
                        self.metrics.call(service);
                    }
                    Target {
                        transport: hop.transport,
                        addr: hop.addr,
                        connection: None,
                    }
                }
                Choice::NoneConfigured => {
                    return self.refuse(
                        msg,
                        origin,
                        Rejection::NoNextHop,
                        503,
                        &format!("no next hop is configured for {label}"),
                    )
                }
                Choice::AllDown(seconds) => {
                    self.metrics.rejected(Rejection::NextHopDown);
                    let retry = format!("Retry-After: {seconds}\r\n");
                    // The caller still learns the number's custom header.
                    let mut extra = vec![retry.into_bytes()];
                    if origin.side == Side::Operator {
                        extra.extend(self.header_line(index, msg.first_value(Name::To)));
                    }
                    let extra: Vec<&[u8]> = extra.iter().map(Vec::as_slice).collect();
                    return Some(self.reply(
                        msg,
                        origin,
                        503,
                        &format!("every next hop for {label} is down"),
                        &extra,
                    ));
                }
            }
        } else {
            let route = own_route.expect("in a dialog");
            let call_id = msg.first_value(Name::CallId).unwrap_or_default();
            match self.signed_target(route, origin.side, call_id) {
                Some(target) => {
                    self.restore_contact_host(msg, uri, origin.side, &mut edits);
                    target
                }
                None => {
                    self.metrics.forged_request();
                    tracing::debug!(peer = %origin.addr, "refused an in-dialog request whose Route the edge did not sign");
                    return self.refuse(
                        msg,
                        origin,
                        Rejection::ForgedRoute,
                        403,
                        "the Route is not one this edge wrote",
                    );
                }
            }
        };
        // The service-side party's number.
        let party = match origin.side {
            Side::Operator => msg.first_value(Name::To),
            Side::Service => msg.first_value(Name::From),
        }
        .and_then(|v| sip::uri_user(uri_of(v)));
        match towards {
            Side::Operator => self.enrich(msg, origin, index, party, &mut edits),
            Side::Service if in_dialog => {
                if let Some(host) = party.and_then(|n| self.contact_host_of(index, n)) {
                    self.rewrite_contact(msg, &host, &mut edits);
                }
            }
            Side::Service => {}
        }
        self.add_via(msg, origin, towards, target.transport, &mut edits);
        if to_tag.is_none() && DIALOG_FORMING.contains(&method) {
            self.add_record_route(msg, origin, towards, &target, &mut edits);
        }
        Some(Outgoing {
            to: Destination {
                side: towards,
                transport: target.transport,
                addr: target.addr,
                connection: target.connection,
            },
            bytes: edits.apply(msg),
        })
    }

    /// The custom header line for the number in a From or To value, when it has a value.
    fn header_line(&self, index: &RoutingIndex, party: Option<&[u8]>) -> Option<Vec<u8>> {
        let name = index.settings.header_name.as_deref()?;
        let value = party
            .and_then(|v| sip::uri_user(uri_of(v)))
            .and_then(|n| index.number(n))
            .and_then(|route| route.header_value())?;
        Some(format!("{name}: {value}\r\n").into_bytes())
    }

    /// Where a request that came in on `side` through one of the edge's Record-Route entries
    /// goes, when the entry's signature holds.
    /// Where a request of dialog `call_id` that came in on `side` through one of the edge's
    /// Record-Route entries goes, when the entry's signature holds (for that side and that
    /// Call-ID: a route taken from one call is worth nothing in another).
    fn signed_target(&self, route: &[u8], side: Side, call_id: &[u8]) -> Option<Target> {
        let parts = uri_parts(route)?;
        let params = &route[parts.params_at..];
        let token = param(params, b"nbd")?;
        let mac = param(params, b"nbm")?;
        if !self
            .config
            .keys
            .verify(&[&[side.code() as u8], token, call_id], mac)
        {
            return None;
        }
        Target::decode(token)
    }

    fn response(
        &self,
        msg: &Message<'_>,
        origin: Origin,
        index: &RoutingIndex,
    ) -> Option<Outgoing> {
        let (at, header) = msg
            .headers
            .iter()
            .enumerate()
            .find(|(_, h)| h.name == sip::Name::Via)?;
        let value = msg.value(header);
        let (top, rest) = first_of_list(value);
        let params = top.get(top.iter().position(|b| *b == b';')?..)?;
        let via = ViaParams::read(params);
        let branch = via.branch;
        if let Some(probe) = branch.strip_prefix(KEEPALIVE_BRANCH.as_bytes()) {
            self.keepalive_answered(probe, via.nbm, origin);
            return None;
        }
        if !branch.starts_with(OWN_BRANCH.as_bytes()) {
            tracing::debug!(peer = %origin.addr, "dropped a response whose top Via is not the edge's");
            return None;
        }
        let side = via.nbs;
        let back_to = match side {
            b"o" => Side::Operator,
            b"s" => Side::Service,
            _ => return self.forged_response(origin),
        };
        let (nbr, nbt, nbc) = (via.nbr, via.nbt, via.nbc);
        let call_id = msg.first_value(Name::CallId).unwrap_or_default();
        let signed = via.nbm.is_some_and(|mac| {
            self.config
                .keys
                .verify(&[b"via", branch, side, nbr, nbt, nbc, call_id], mac)
        });
        if !signed {
            return self.forged_response(origin);
        }
        // The request went out the other side, so its responses come in there.
        if origin.side != back_to.other() {
            tracing::debug!(peer = %origin.addr, "dropped a response that came in on the wrong side");
            return None;
        }
        let addr = decode_addr(nbr)?;
        let transport = match nbt {
            b"" => Transport::Udp,
            [code] => Transport::from_code(*code)?,
            _ => return None,
        };
        let connection = std::str::from_utf8(nbc).ok().and_then(|c| c.parse().ok());
        let mut edits = Edits::default();
        let remaining = rest.map(|comma| {
            let after = &value[comma + 1..];
            let skip = after
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
            line_like(msg, header, &after[skip..])
        });
        edits.lines.push((at, remaining));
        match back_to {
            // A response to a request from the operator's network: To is the service side.
            Side::Operator => {
                let party = msg
                    .first_value(Name::To)
                    .and_then(|v| sip::uri_user(uri_of(v)));
                self.enrich(msg, origin, index, party, &mut edits);
            }
            Side::Service => {
                let party = msg
                    .first_value(Name::From)
                    .and_then(|v| sip::uri_user(uri_of(v)));
                if let Some(host) = party.and_then(|n| self.contact_host_of(index, n)) {
                    self.rewrite_contact(msg, &host, &mut edits);
                }
            }
        }
        Some(Outgoing {
            to: Destination {
                side: back_to,
                transport,
                addr,
                connection,
            },
            bytes: edits.apply(msg),
        })
    }

    /// An OPTIONS keep-alive to next hop `at` (by [`Health`]'s count), the `seq`th: where it
    /// goes and what it says; `None` while the hop has no address.
    pub fn keepalive(&self, at: usize, seq: u32) -> Option<Outgoing> {
        let (spec, hop, toward_operator) = self.health.hop(at)?;
        let hop = hop?;
        let side = if toward_operator {
            Side::Operator
        } else {
            Side::Service
        };
        let probe = format!("{at}x{seq}");
        let mac = self.config.keys.sign(&[b"keepalive", probe.as_bytes()]);
        let me = HostPort(self.addr_of(side, hop.transport));
        let host = match spec.ip() {
            Some(_) => HostPort(hop.addr).to_string(),
            None => format!("{}:{}", spec.host, spec.port),
        };
        let transport = hop
            .transport
            .uri_param()
            .map(|t| format!(";transport={t}"))
            .unwrap_or_default();
        let bytes = format!(
            "OPTIONS sip:{host}{transport} SIP/2.0\r\n\
             Via: SIP/2.0/{} {me};branch={KEEPALIVE_BRANCH}{probe};nbm={}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:numbat@{me}>;tag=nbk{at}\r\nTo: <sip:{host}>\r\n\
             Call-ID: nbk-{at}-{seq}@{me}\r\nCSeq: {seq} OPTIONS\r\nContent-Length: 0\r\n\r\n",
            hop.transport.via_name(),
            std::str::from_utf8(&mac).expect("hex"),
        )
        .into_bytes();
        Some(Outgoing {
            to: Destination {
                side,
                transport: hop.transport,
                addr: hop.addr,
                connection: None,
            },
            bytes,
        })
    }

    /// Any answer to a keep-alive the edge signed, from the hop it went to, means it is up.
    fn keepalive_answered(&self, probe: &[u8], mac: Option<&[u8]>, origin: Origin) {
        let signed = mac.is_some_and(|mac| self.config.keys.verify(&[b"keepalive", probe], mac));
        if !signed {
            self.metrics.forged_response();
            return;
        }
        let Some(at) = std::str::from_utf8(probe)
            .ok()
            .and_then(|p| p.split_once('x'))
            .and_then(|(at, _)| at.parse::<usize>().ok())
        else {
            return;
        };
        if self
            .health
            .hop(at)
            .and_then(|(_, hop, _)| hop)
            .is_some_and(|hop| hop.addr == origin.addr)
        {
            self.health.answered(at);
        }
    }

    fn forged_response(&self, origin: Origin) -> Option<Outgoing> {
        self.metrics.forged_response();
        tracing::debug!(peer = %origin.addr, "dropped a response whose Via the edge did not sign");
        None
    }

    fn decide(
        &self,
        index: &RoutingIndex,
        number: &str,
        direction: Direction,
        label: Option<&str>,
    ) -> routing::Decision {
        index.decide(number, direction, label, self.config.region)
    }

    /// The customer label of a Request-URI host `<label>.1r<n>.<base>`.
    fn direct_routing_label<'u>(&self, index: &RoutingIndex, uri: &'u [u8]) -> Option<&'u str> {
        let base = index.settings.base_domain.as_deref()?;
        let parts = uri_parts(uri)?;
        let host = std::str::from_utf8(&uri[parts.host]).ok()?;
        CustomerDomain::parse(host, base).map(|domain| domain.label)
    }

    /// A Direct Routing number's customer domain, for Contact headers toward Teams.
    fn contact_host_of(&self, index: &RoutingIndex, number: &str) -> Option<String> {
        let route = index.number(number)?;
        if !route.has(Service::TeamsDirectRouting) {
            return None;
        }
        routing::customer_domain(
            route.account,
            index.settings.base_domain.as_deref(),
            self.config.region,
        )
    }

    /// Strips any copy of the custom header from the service side, and adds the party's value
    /// on a message toward the operator's network.
    fn enrich(
        &self,
        msg: &Message<'_>,
        origin: Origin,
        index: &RoutingIndex,
        party: Option<&str>,
        edits: &mut Edits,
    ) {
        let Some(name) = index.settings.header_name.as_deref() else {
            return;
        };
        if origin.side == Side::Service {
            for (at, header) in msg.headers.iter().enumerate() {
                if header.name == Name::Other && msg.is_named(header, name) {
                    edits.lines.push((at, None));
                }
            }
        }
        if let Some(value) = party
            .and_then(|n| index.number(n))
            .and_then(|route| route.header_value())
        {
            let _ = write!(ByteWriter(&mut edits.bottom), "{name}: {value}\r\n");
        }
    }

    /// Checks Max-Forwards and counts it down.
    fn max_forwards(&self, msg: &Message<'_>, edits: &mut Edits) -> MaxForwards {
        let Some((at, header)) = msg
            .headers
            .iter()
            .enumerate()
            .find(|(_, h)| h.name == Name::MaxForwards)
        else {
            return MaxForwards::Missing;
        };
        let value: Option<u32> = std::str::from_utf8(msg.value(header))
            .ok()
            .and_then(|v| v.trim().parse().ok());
        match value {
            Some(0) => MaxForwards::Reached,
            Some(value) => {
                let mut left = Small::default();
                let _ = write!(left, "{}", value - 1);
                edits
                    .lines
                    .push((at, Some(line_like(msg, header, left.as_bytes()))));
                MaxForwards::Counted
            }
            // Not a number: passed on as it came, for the next hop to judge.
            None => MaxForwards::Counted,
        }
    }

    fn is_own_uri(&self, uri: &[u8]) -> bool {
        let Some(parts) = uri_parts(uri) else {
            return false;
        };
        let Some(ip) = host_ip(uri, &parts) else {
            return false;
        };
        let port = parts.port.unwrap_or(5060);
        [
            Some(self.config.operator_addr),
            Some(self.config.service_addr),
            self.config.operator_tls_addr,
            self.config.service_tls_addr,
        ]
        .iter()
        .flatten()
        .any(|own| own.ip() == ip && own.port() == port)
    }

    /// Removes the edge's own entries at the top of the Route set; returns the first of them
    /// (the one that says where the request goes), if there were any.
    fn pop_own_routes<'m>(&self, msg: &Message<'m>, edits: &mut Edits) -> Option<&'m [u8]> {
        let mut first_own = None;
        for (at, header) in msg.headers.iter().enumerate() {
            if header.name != Name::Route {
                continue;
            }
            let mut rest = msg.value(header);
            let mut dropped_any = false;
            loop {
                let (first, comma) = first_of_list(rest);
                let uri = uri_of(first);
                if !self.is_own_uri(uri) {
                    break;
                }
                first_own.get_or_insert(uri);
                dropped_any = true;
                match comma {
                    Some(c) => {
                        rest = &rest[c + 1..];
                        let skip = rest
                            .iter()
                            .take_while(|b| matches!(b, b' ' | b'\t'))
                            .count();
                        rest = &rest[skip..];
                    }
                    None => {
                        rest = b"";
                        break;
                    }
                }
            }
            if dropped_any {
                edits
                    .lines
                    .push((at, (!rest.is_empty()).then(|| line_like(msg, header, rest))));
            }
            if !rest.is_empty() {
                break;
            }
        }
        first_own
    }

    /// Puts back the host of a Request-URI the edge rewrote for Teams (its `nbh` parameter)
    /// on an in-dialog request from the service side. Only the URI changes: where the request
    /// goes is what the edge's Route says.
    fn restore_contact_host(&self, msg: &Message<'_>, uri: &[u8], from: Side, edits: &mut Edits) {
        if from != Side::Service {
            return;
        }
        let Some(parts) = uri_parts(uri) else {
            return;
        };
        let Some(original) = param(&uri[parts.params_at..], b"nbh") else {
            return;
        };
        let params = &uri[parts.host.end..];
        let needle = [b";nbh=", original].concat();
        let Some(at) = params
            .windows(needle.len())
            .position(|w| w.eq_ignore_ascii_case(&needle))
        else {
            return;
        };
        let mut line = msg.method().to_vec();
        line.push(b' ');
        line.extend_from_slice(&uri[..parts.host.start]);
        line.extend_from_slice(original);
        line.extend_from_slice(&params[..at]);
        line.extend_from_slice(&params[at + needle.len()..]);
        line.extend_from_slice(b" SIP/2.0\r\n");
        edits.start_line = Some(line);
    }

    /// Points the first Contact's host at `host`, keeping the old host in a parameter so the
    /// dialog's requests to it can be put back.
    fn rewrite_contact(&self, msg: &Message<'_>, host: &str, edits: &mut Edits) {
        let Some((at, header)) = msg
            .headers
            .iter()
            .enumerate()
            .find(|(_, h)| h.name == Name::Contact)
        else {
            return;
        };
        let value = msg.value(header);
        let (first, comma) = first_of_list(value);
        let uri = uri_of(first);
        let Some(parts) = uri_parts(uri) else {
            return;
        };
        let old_host = &uri[parts.host.clone()];
        if old_host.eq_ignore_ascii_case(host.as_bytes()) {
            return;
        }
        // Offsets within `value`.
        let uri_at = uri.as_ptr() as usize - value.as_ptr() as usize;
        let mut new = Vec::with_capacity(value.len() + host.len() + 24);
        let angle = first.contains(&b'<');
        if !angle {
            new.push(b'<');
        }
        new.extend_from_slice(&value[..uri_at + parts.host.start]);
        new.extend_from_slice(host.as_bytes());
        new.extend_from_slice(&value[uri_at + parts.host.end..uri_at + uri.len()]);
        new.extend_from_slice(b";nbh=");
        new.extend_from_slice(old_host);
        if !angle {
            new.push(b'>');
        }
        new.extend_from_slice(&value[uri_at + uri.len()..]);
        let _ = comma;
        edits.lines.push((at, Some(line_like(msg, header, &new))));
    }

    fn add_via(
        &self,
        msg: &Message<'_>,
        origin: Origin,
        towards: Side,
        transport: Transport,
        edits: &mut Edits,
    ) {
        let top_branch = msg
            .first_value(Name::Via)
            .map(|v| first_of_list(v).0)
            .and_then(|v| param(v, b"branch"))
            .unwrap_or_default();
        let method: &[u8] = if msg.method() == b"ACK" || msg.method() == b"CANCEL" {
            b"INVITE"
        } else {
            msg.method()
        };
        let call_id = msg.first_value(Name::CallId).unwrap_or_default();
        let mut branch = Small::default();
        branch.push_str(OWN_BRANCH);
        branch.push_hex(
            u128::from(fnv(&[
                top_branch,
                method,
                call_id,
                &[origin.side.code() as u8],
            ])),
            16,
        );
        let side = [origin.side.code() as u8];
        let mut nbr = Small::default();
        via_addr(origin.addr, &mut nbr);
        let code = [origin.transport.code()];
        let nbt: &[u8] = if origin.transport == Transport::Udp {
            b""
        } else {
            &code
        };
        let mut nbc = Small::default();
        if let Some(id) = origin.connection {
            let _ = write!(nbc, "{id}");
        }
        // What the response's way back depends on is signed; a response whose Via does not
        // carry this signature goes nowhere.
        let mac = self.config.keys.sign(&[
            b"via",
            branch.as_bytes(),
            &side,
            nbr.as_bytes(),
            nbt,
            nbc.as_bytes(),
            call_id,
        ]);
        let top = &mut edits.top;
        put(
            top,
            &[
                b"Via: SIP/2.0/",
                transport.via_name().as_bytes(),
                b" ",
                self.own_hostport(towards, transport).as_bytes(),
                b";branch=",
                branch.as_bytes(),
                b";nbs=",
                &side,
                b";nbr=",
                nbr.as_bytes(),
            ],
        );
        if !nbt.is_empty() {
            put(top, &[b";nbt=", nbt]);
        }
        if !nbc.as_bytes().is_empty() {
            put(top, &[b";nbc=", nbc.as_bytes()]);
        }
        put(top, &[b";nbm=", &mac, b"\r\n"]);
    }

    /// Two Record-Route entries, one per side, each signed with where a request that comes
    /// back through it goes: through the entry facing the callee, to where this request came
    /// from; through the entry facing the caller, to the next hop this request goes to.
    fn add_record_route(
        &self,
        msg: &Message<'_>,
        origin: Origin,
        towards: Side,
        target: &Target,
        edits: &mut Edits,
    ) {
        let call_id = msg.first_value(Name::CallId).unwrap_or_default();
        let from = Target {
            transport: origin.transport,
            addr: origin.addr,
            connection: origin.connection,
        };
        let top = &mut edits.top;
        for (side, back_to) in [(towards, &from), (origin.side, target)] {
            // The entry's transport is how that side reaches the edge: the one it came on, or
            // the one the edge uses to reach it.
            let transport = if side == origin.side {
                origin.transport
            } else {
                target.transport
            };
            let token = back_to.encode();
            let mac = self
                .config
                .keys
                .sign(&[&[side.code() as u8], token.as_bytes(), call_id]);
            put(
                top,
                &[
                    b"Record-Route: <sip:",
                    self.own_hostport(side, transport).as_bytes(),
                    b";lr;nbd=",
                    token.as_bytes(),
                    b";nbm=",
                    &mac,
                ],
            );
            if let Some(t) = transport.uri_param() {
                put(top, &[b";transport=", t.as_bytes()]);
            }
            top.extend_from_slice(b">\r\n");
        }
    }

    /// The edge's own final response to a request.
    fn reply(
        &self,
        msg: &Message<'_>,
        origin: Origin,
        status: u16,
        warning: &str,
        extra: &[&[u8]],
    ) -> Outgoing {
        let mut out = format!("SIP/2.0 {status} {}\r\n", reason_phrase(status)).into_bytes();
        for header in &msg.headers {
            match header.name {
                Name::Via | Name::From | Name::CallId | Name::CSeq => {
                    out.extend_from_slice(&msg.raw[header.line_at.clone()])
                }
                Name::To => {
                    out.extend_from_slice(&msg.raw[header.line_at.clone()]);
                    if msg.to_tag().is_none() {
                        // Before the line's CRLF.
                        out.truncate(out.len() - 2);
                        let tag = fnv(&[msg.first_value(Name::CallId).unwrap_or_default()]);
                        let _ = write!(ByteWriter(&mut out), ";tag={OWN_TAG}{tag:x}\r\n");
                    }
                }
                _ => {}
            }
        }
        if !warning.is_empty() {
            let clean: String = warning
                .chars()
                .filter(|c| *c != '"' && *c != '\\')
                .collect();
            let _ = write!(ByteWriter(&mut out), "Warning: 399 numbat \"{clean}\"\r\n");
        }
        for line in extra {
            out.extend_from_slice(line);
        }
        out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        Outgoing {
            to: Destination {
                side: origin.side,
                transport: origin.transport,
                addr: origin.addr,
                connection: origin.connection,
            },
            bytes: out,
        }
    }
}

/// A URI's host when it is an IP address (`[…]` around IPv6); `None` for a name.
fn host_ip(uri: &[u8], parts: &sip::UriParts) -> Option<IpAddr> {
    let host = std::str::from_utf8(&uri[parts.host.clone()]).ok()?;
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()
}

/// Appends each of `parts` to `out`, in order.
fn put(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// `write!` into a byte buffer.
struct ByteWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A few dozen bytes of text built on the stack (an address, a token, a count), so the
/// message path does not go to the allocator for them.
struct Small {
    buf: [u8; 72],
    len: usize,
}

impl Default for Small {
    fn default() -> Self {
        Self {
            buf: [0; 72],
            len: 0,
        }
    }
}

impl Small {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Adds a byte; one that does not fit is dropped (nothing the edge writes comes near).
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn push_str(&mut self, s: &str) {
        for b in s.bytes() {
            self.push(b);
        }
    }

    /// `value`'s low `digits` hex digits, lower case, leading zeros kept.
    fn push_hex(&mut self, value: u128, digits: u32) {
        for at in (0..digits).rev() {
            self.push(b"0123456789abcdef"[((value >> (4 * at)) & 0xf) as usize]);
        }
    }
}

impl std::fmt::Write for Small {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.len + s.len() > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.push_str(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_survive_the_via_parameter() {
        for addr in ["127.0.0.1:5060", "[2001:db8::7]:5071"] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(
                decode_addr(
                    {
                        let mut text = Small::default();
                        via_addr(addr, &mut text);
                        text
                    }
                    .as_bytes()
                ),
                Some(addr)
            );
        }
        let scoped: SocketAddr = "[fe80::1%2]:5060".parse().unwrap();
        assert_eq!(
            HostPort(scoped).to_string(),
            "[fe80::1]:5060",
            "SIP has no scope syntax"
        );
    }

    fn proxy() -> Proxy {
        let addr = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let hop = |port| Hop {
            transport: Transport::Udp,
            addr: addr(port),
        };
        let mut next_hops: [Vec<HopSpec>; Service::COUNT] = Default::default();
        next_hops[Service::TeamsOperatorConnect.index()] = vec![hop(5090).into()];
        let config = EdgeConfig {
            operator_listen: addr(5060),
            service_listen: addr(5062),
            operator_addr: addr(5060),
            service_addr: addr(5062),
            operator_next_hop: hop(5080).into(),
            next_hops,
            region: 1,
            operator_tls_listen: None,
            service_tls_listen: None,
            operator_tls_addr: None,
            service_tls_addr: None,
            operator_peers: Vec::new(),
            service_peers: Vec::new(),
            allow_any_peer: true,
            keys: Keys::new(b"a-key-for-the-unit-tests-0123456789", None).unwrap(),
            invite_rate: 0,
        };
        Proxy::new(config, SharedIndex::default())
    }

    /// An unprovisioned London number, which the default rule sends to Operator Connect.
    fn invite(max_forwards: &str) -> Vec<u8> {
        format!(
            "INVITE sip:+442079460000@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:+15550100000@127.0.0.1>;tag=a\r\nTo: <sip:+442079460000@127.0.0.1>\r\n\
             Call-ID: mf\r\nCSeq: 1 INVITE\r\n{max_forwards}Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn max_forwards_is_counted_down_added_when_missing_and_stops_at_zero() {
        let proxy = proxy();
        let origin = Origin {
            side: Side::Operator,
            transport: Transport::Udp,
            addr: SocketAddr::from(([127, 0, 0, 1], 5070)),
            connection: None,
        };
        let forwarded = |max_forwards: &str| {
            let out = proxy
                .handle(&invite(max_forwards), origin)
                .expect("an answer");
            (out.to.addr.port(), String::from_utf8(out.bytes).unwrap())
        };
        let (port, text) = forwarded("Max-Forwards: 5\r\n");
        assert_eq!(port, 5090, "{text}");
        assert!(text.contains("\r\nMax-Forwards: 4\r\n"), "{text}");
        let (port, text) = forwarded("");
        assert_eq!(port, 5090, "{text}");
        assert_eq!(text.matches("Max-Forwards: 70\r\n").count(), 1, "{text}");
        let (port, text) = forwarded("Max-Forwards: 0\r\n");
        assert_eq!(port, 5070, "answered to the caller: {text}");
        assert!(text.starts_with("SIP/2.0 483 "), "{text}");
    }

    impl Origin {
        fn with_ip(mut self, ip: [u8; 4]) -> Self {
            self.addr.set_ip(ip.into());
            self
        }
    }

    fn origin(side: Side, port: u16) -> Origin {
        Origin {
            side,
            transport: Transport::Udp,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            connection: None,
        }
    }

    fn text(out: &Outgoing) -> String {
        String::from_utf8(out.bytes.clone()).unwrap()
    }

    /// The lines of `text` whose header is `name`.
    fn lines<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
        text.lines()
            .filter(|l| l.len() > name.len() && l[..name.len()].eq_ignore_ascii_case(name))
            .filter(|l| l.as_bytes()[name.len()] == b':')
            .collect()
    }

    /// A dialog through the edge: the INVITE from the operator side (caller at 5070) goes to
    /// Operator Connect's hop (5090); returns its Record-Route lines as the callee sees them.
    fn record_routes(proxy: &Proxy) -> Vec<String> {
        let out = proxy
            .handle(
                &invite("Max-Forwards: 70\r\n"),
                origin(Side::Operator, 5070),
            )
            .unwrap();
        assert_eq!(out.to.addr.port(), 5090);
        lines(&text(&out), "Record-Route")
            .into_iter()
            .map(|l| l["Record-Route: ".len()..].to_owned())
            .collect()
    }

    fn in_dialog(method: &str, route: &str, uri_host: &str) -> Vec<u8> {
        format!(
            "{method} sip:+15550100000@{uri_host} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKbye\r\n\
             Route: {route}\r\nFrom: <sip:+442079460000@127.0.0.1>;tag=b\r\n\
             To: <sip:+15550100000@127.0.0.1>;tag=a\r\nCall-ID: mf\r\nCSeq: 2 {method}\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn in_dialog_requests_go_only_where_the_edges_signed_route_says() {
        let proxy = proxy();
        let routes = record_routes(&proxy);
        assert_eq!(routes.len(), 2, "{routes:?}");
        // The callee's BYE, through the entry facing it, goes back to where the INVITE came
        // from, whatever its Request-URI names.
        let bye = in_dialog("BYE", &routes.join(", "), "192.0.2.66:6666");
        let out = proxy.handle(&bye, origin(Side::Service, 5090)).unwrap();
        assert_eq!(out.to.side, Side::Operator);
        assert_eq!(
            out.to.addr,
            SocketAddr::from(([127, 0, 0, 1], 5070)),
            "{}",
            text(&out)
        );
        assert!(text(&out).starts_with("BYE sip:+15550100000@192.0.2.66:6666 "));
        assert!(
            lines(&text(&out), "Route").is_empty(),
            "the edge's own routes are gone"
        );

        // The caller's re-INVITE, through the entry facing it, goes to the hop the INVITE went to.
        let reinvite = in_dialog(
            "INVITE",
            &format!("{}, {}", routes[1], routes[0]),
            "10.9.9.9",
        );
        let out = proxy
            .handle(&reinvite, origin(Side::Operator, 5070))
            .unwrap();
        assert_eq!(
            out.to.addr,
            SocketAddr::from(([127, 0, 0, 1], 5090)),
            "{}",
            text(&out)
        );

        // An entry used on the side it does not face is refused.
        let wrong_side = in_dialog("BYE", &routes[1], "127.0.0.1:5070");
        let out = proxy
            .handle(&wrong_side, origin(Side::Service, 5090))
            .unwrap();
        assert!(text(&out).starts_with("SIP/2.0 403 "), "{}", text(&out));
    }

    #[test]
    fn a_forged_in_dialog_request_is_refused_not_relayed() {
        let proxy = proxy();
        let genuine = record_routes(&proxy)[0].clone();
        let edge = "127.0.0.1:5062";
        let forged_routes = [
            // The attack: a Route naming the edge, nothing signed.
            format!("<sip:{edge};lr>"),
            // A signature from somewhere else, or for another address.
            format!("<sip:{edge};lr;nbd=u7f000001-1a0a;nbm=0123456789abcdef0123>"),
            genuine.replace("-13ce;", "-1a0a;"),
            genuine.replace(";nbm=", ";nbm=0"),
            genuine.replace(";nbm=", ";x="),
        ];
        for route in forged_routes {
            let forged = in_dialog("INVITE", &route, "127.0.0.1:6666;transport=tcp");
            let out = proxy.handle(&forged, origin(Side::Service, 40000)).unwrap();
            assert!(
                text(&out).starts_with("SIP/2.0 403 "),
                "{route}: {}",
                text(&out)
            );
            assert_eq!(out.to.addr.port(), 40000, "answered to the sender only");
        }
        // The genuine route in another call (another Call-ID) is refused too.
        let other_call = String::from_utf8(in_dialog("BYE", &genuine, "127.0.0.1:5070"))
            .unwrap()
            .replace("Call-ID: mf", "Call-ID: other");
        let out = proxy
            .handle(other_call.as_bytes(), origin(Side::Service, 5090))
            .unwrap();
        assert!(text(&out).starts_with("SIP/2.0 403 "), "{}", text(&out));
        assert!(proxy
            .metrics
            .render(&[])
            .contains("numbat_edge_forged_total{kind=\"request\"} 6"));
        // A key rotated in keeps the dialogs signed with the old one going.
        let rotated = Proxy::new(
            EdgeConfig {
                keys: Keys::new(
                    b"the-next-key-for-unit-tests-0123456789",
                    Some(b"a-key-for-the-unit-tests-0123456789"),
                )
                .unwrap(),
                ..proxy.config.clone()
            },
            SharedIndex::default(),
        );
        let bye = in_dialog("BYE", &genuine, "127.0.0.1:5070");
        let out = rotated.handle(&bye, origin(Side::Service, 5090)).unwrap();
        assert_eq!(out.to.addr.port(), 5070, "{}", text(&out));
    }

    #[test]
    fn responses_go_back_only_through_a_via_the_edge_signed() {
        let proxy = proxy();
        let out = proxy
            .handle(
                &invite("Max-Forwards: 70\r\n"),
                origin(Side::Operator, 5070),
            )
            .unwrap();
        let via = lines(&text(&out), "Via")[0]["Via: ".len()..].to_owned();
        let response = |via: &str| {
            format!(
                "SIP/2.0 180 Ringing\r\nVia: {via}\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
                 From: <sip:+15550100000@127.0.0.1>;tag=a\r\nTo: <sip:+442079460000@127.0.0.1>;tag=b\r\n\
                 Call-ID: mf\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
            )
            .into_bytes()
        };
        let out = proxy
            .handle(
                &response(&format!("{via};received=127.0.0.1")),
                origin(Side::Service, 5090),
            )
            .expect("a genuine response is forwarded (parameters the next hop adds are fine)");
        assert_eq!(out.to.addr.port(), 5070);
        assert!(text(&out).starts_with("SIP/2.0 180 "));
        // The same Via sending the response elsewhere, or unsigned, goes nowhere.
        let elsewhere = via.replace("nbr=7f000001-13ce", "nbr=c0000242-1a0a");
        assert_ne!(elsewhere, via);
        let unsigned = via[..via.find(";nbm=").unwrap()].to_owned();
        for forged in [elsewhere, unsigned] {
            assert!(proxy
                .handle(&response(&forged), origin(Side::Service, 5090))
                .is_none());
        }
        assert!(proxy
            .metrics
            .render(&[])
            .contains("numbat_edge_forged_total{kind=\"response\"} 2"));
    }

    #[test]
    fn an_invite_flood_from_one_source_is_answered_503_with_retry_after() {
        let proxy = Proxy::new(
            EdgeConfig {
                invite_rate: 20,
                ..proxy().config
            },
            SharedIndex::default(),
        );
        let statuses: Vec<String> = (0..60)
            .map(|_| {
                let out = proxy
                    .handle(
                        &invite("Max-Forwards: 70\r\n"),
                        origin(Side::Operator, 5070),
                    )
                    .unwrap();
                text(&out)
            })
            .collect();
        let refused: Vec<&String> = statuses
            .iter()
            .filter(|t| t.starts_with("SIP/2.0 503 "))
            .collect();
        assert!(refused.len() >= 20, "{} refused", refused.len());
        assert!(
            refused[0].contains("\r\nRetry-After: 1\r\n"),
            "{}",
            refused[0]
        );
        let other = proxy
            .handle(
                &invite("Max-Forwards: 70\r\n"),
                origin(Side::Operator, 5070).with_ip([127, 0, 0, 2]),
            )
            .unwrap();
        assert_eq!(
            other.to.addr.port(),
            5090,
            "another source is not held back"
        );
    }

    #[test]
    fn a_dead_next_hop_costs_its_calls_a_503_with_retry_after_and_fails_over() {
        let proxy = proxy();
        let hop = SocketAddr::from(([127, 0, 0, 1], 5090));
        proxy
            .health
            .mark_down(hop, std::time::Duration::from_secs(30));
        let out = proxy
            .handle(
                &invite("Max-Forwards: 70\r\n"),
                origin(Side::Operator, 5070),
            )
            .unwrap();
        assert!(text(&out).starts_with("SIP/2.0 503 "), "{}", text(&out));
        assert!(
            text(&out).contains("\r\nRetry-After: 30\r\n"),
            "{}",
            text(&out)
        );
        let mut config = proxy.config.clone();
        config.next_hops[Service::TeamsOperatorConnect.index()]
            .push("tcp:127.0.0.1:5091".parse().unwrap());
        let proxy = Proxy::new(config, SharedIndex::default());
        proxy
            .health
            .mark_down(hop, std::time::Duration::from_secs(30));
        let out = proxy
            .handle(
                &invite("Max-Forwards: 70\r\n"),
                origin(Side::Operator, 5070),
            )
            .unwrap();
        assert_eq!(
            (out.to.transport, out.to.addr.port()),
            (Transport::Tcp, 5091)
        );
    }

    #[test]
    fn thousands_of_copies_of_a_header_are_all_edited_in_one_pass() {
        let proxy = proxy();
        proxy.index.write().unwrap().settings.header_name = Some("X-Custom".into());
        let mut message = String::from(
            "INVITE sip:+15550100000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKf\r\n\
             From: <sip:+442079460000@127.0.0.1>;tag=b\r\nTo: <sip:+15550100000@127.0.0.1>\r\n\
             Call-ID: many\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n",
        );
        for n in 0..2500 {
            message.push_str(&format!("X-Custom: forged-{n}\r\n"));
        }
        message.push_str("Content-Length: 0\r\n\r\n");
        assert!(message.len() < 65_535);
        let out = proxy
            .handle(message.as_bytes(), origin(Side::Service, 5090))
            .unwrap();
        assert_eq!(out.to.addr.port(), 5080, "{}", &text(&out)[..200]);
        assert!(
            lines(&text(&out), "X-Custom").is_empty(),
            "every forged copy is gone"
        );
    }

    #[test]
    fn a_next_hop_that_leaves_two_keepalives_unanswered_is_down_until_it_answers() {
        let proxy = proxy();
        let at = (0..proxy.health.len())
            .find(|at| proxy.health.hop(*at).unwrap().1.unwrap().addr.port() == 5090)
            .unwrap();
        let probe = |seq| proxy.keepalive(at, seq).expect("the hop has an address");
        let first = probe(1);
        assert_eq!(first.to.addr.port(), 5090);
        assert!(
            text(&first).starts_with("OPTIONS sip:127.0.0.1:5090 SIP/2.0\r\n"),
            "{}",
            text(&first)
        );
        let answer = |out: &Outgoing| {
            let via = lines(&text(out), "Via")[0].to_owned();
            format!(
                "SIP/2.0 200 OK\r\n{via};received=127.0.0.1\r\nFrom: <sip:numbat@x>;tag=1\r\n\
                 To: <sip:x>;tag=2\r\nCall-ID: k\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
            .into_bytes()
        };
        let down = || {
            let out = proxy
                .handle(
                    &invite("Max-Forwards: 70\r\n"),
                    origin(Side::Operator, 5070),
                )
                .unwrap();
            text(&out).starts_with("SIP/2.0 503 ")
        };
        // Unanswered twice: down.
        proxy
            .health
            .probe_due(at, 1, std::time::Duration::from_secs(60));
        assert!(!down(), "one miss is allowed");
        proxy
            .health
            .probe_due(at, 1, std::time::Duration::from_secs(60));
        assert!(down(), "two misses in a row take the hop down");
        // An answer from elsewhere, or one whose Via the edge did not sign, changes nothing.
        assert!(proxy
            .handle(&answer(&probe(3)), origin(Side::Service, 6666))
            .is_none());
        assert!(down());
        let forged = String::from_utf8(answer(&probe(3)))
            .unwrap()
            .replace(";nbm=", ";nbm=0");
        assert!(proxy
            .handle(forged.as_bytes(), origin(Side::Service, 5090))
            .is_none());
        assert!(down());
        // Its own answer brings it back.
        assert!(proxy
            .handle(&answer(&probe(3)), origin(Side::Service, 5090))
            .is_none());
        assert!(!down(), "up again once it answers");
    }

    #[test]
    fn an_open_side_refuses_to_start_and_peers_are_addresses_or_networks() {
        let open = proxy().config;
        assert!(
            open.refusal().is_none(),
            "allow_any_peer lets a lab run open"
        );
        let strict = EdgeConfig {
            allow_any_peer: false,
            operator_peers: vec!["10.0.0.1/32".parse().unwrap()],
            ..open.clone()
        };
        let refusal = strict.refusal().expect("the service side is open");
        assert!(
            refusal.contains("--service-peer") && refusal.contains("--allow-any-peer"),
            "{refusal}"
        );
        assert!(!refusal.contains("no --operator-peer"), "{refusal}");
        let closed = EdgeConfig {
            service_peers: vec!["52.112.0.0/14".parse().unwrap()],
            ..strict
        };
        assert!(closed.refusal().is_none());
        let proxy = Proxy::new(closed, SharedIndex::default());
        assert!(proxy.trusts(Side::Service, "52.114.148.7".parse().unwrap()));
        assert!(!proxy.trusts(Side::Service, "52.116.0.1".parse().unwrap()));
        assert!(!proxy.trusts(Side::Operator, "10.0.0.2".parse().unwrap()));
        let out = proxy.handle(
            &invite("Max-Forwards: 70\r\n"),
            origin(Side::Operator, 5070),
        );
        assert!(out.is_none(), "a stranger gets no answer at all");
        assert!(proxy
            .metrics
            .render(&[])
            .contains("numbat_edge_untrusted_total{side=\"operator\"} 1"));
    }
}
