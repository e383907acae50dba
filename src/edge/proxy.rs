//! What the edge does to one SIP message: a stateless proxy that applies provisioning.
//!
//! It keeps no call state. Its own Via on each forwarded request remembers where the request
//! came from; its Record-Route brings the dialog's later requests back through it. Which
//! number decides is always the service-side party's: the called number of a call from the
//! operator's network, the calling number of a call toward it; in later messages, whichever of
//! From or To that party is.

use super::sip::{self, first_of_list, param, uri_of, uri_parts, Message, Name};
use crate::domain::{LineType, Service, TelephoneNumber};
use crate::routing::feed::SharedIndex;
use crate::routing::{self, Arrival, Direction, RoutingIndex};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// Which network a message came from or goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Operator,
    Service,
}

impl Side {
    fn other(self) -> Self {
        match self {
            Side::Operator => Side::Service,
            Side::Service => Side::Operator,
        }
    }

    fn code(self) -> char {
        match self {
            Side::Operator => 'o',
            Side::Service => 's',
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// A next hop: where and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl std::str::FromStr for Hop {
    type Err = String;
    /// `[udp:|tcp:]<ip>:<port>`.
    fn from_str(raw: &str) -> Result<Self, String> {
        let (transport, rest) = match raw.split_once(':') {
            Some(("udp", rest)) => (Transport::Udp, rest),
            Some(("tcp", rest)) => (Transport::Tcp, rest),
            _ => (Transport::Udp, raw),
        };
        let addr = rest
            .parse()
            .map_err(|_| format!("`{raw}` is not [udp:|tcp:]<ip>:<port>"))?;
        Ok(Hop { transport, addr })
    }
}

/// Where a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub side: Side,
    pub transport: Transport,
    pub addr: SocketAddr,
    /// The TCP connection it came on.
    pub connection: Option<u64>,
}

/// Where a message goes: an address, or back down a TCP connection that is still open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Destination {
    pub side: Side,
    pub transport: Transport,
    pub addr: SocketAddr,
    pub connection: Option<u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub to: Destination,
    pub bytes: Vec<u8>,
}

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
    /// Where calls toward the operator's network go.
    pub operator_next_hop: Hop,
    /// Per service (`Service::index()`), where its calls go.
    pub next_hops: [Option<Hop>; 5],
    /// The Direct Routing region this edge serves (`1r<region>`).
    pub region: u8,
    /// Sources allowed on each side; empty allows any.
    pub operator_peers: Vec<IpAddr>,
    pub service_peers: Vec<IpAddr>,
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

pub struct Proxy {
    pub config: EdgeConfig,
    pub index: SharedIndex,
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
    fn apply(&self, msg: &Message<'_>) -> Vec<u8> {
        let raw = msg.raw;
        let mut out = Vec::with_capacity(raw.len() + self.top.len() + self.bottom.len() + 64);
        match &self.start_line {
            Some(line) => out.extend_from_slice(line),
            None => out.extend_from_slice(&raw[msg.start_at.clone()]),
        }
        out.extend_from_slice(&self.top);
        for (i, header) in msg.headers.iter().enumerate() {
            match self.lines.iter().find(|(at, _)| *at == i) {
                Some((_, Some(line))) => out.extend_from_slice(line),
                Some((_, None)) => {}
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
struct ViaAddr(SocketAddr);

impl std::fmt::Display for ViaAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.ip() {
            IpAddr::V4(ip) => write!(f, "{:08x}-{:04x}", u32::from(ip), self.0.port()),
            IpAddr::V6(ip) => write!(f, "{:032x}-{:04x}", u128::from(ip), self.0.port()),
        }
    }
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

impl Proxy {
    pub fn new(config: EdgeConfig, index: SharedIndex) -> Self {
        Self { config, index }
    }

    fn addr_of(&self, side: Side) -> SocketAddr {
        match side {
            Side::Operator => self.config.operator_addr,
            Side::Service => self.config.service_addr,
        }
    }

    /// Whether `ip` may send on `side` (anyone, when no peers are configured for it).
    pub fn trusts(&self, side: Side, ip: IpAddr) -> bool {
        let peers = match side {
            Side::Operator => &self.config.operator_peers,
            Side::Service => &self.config.service_peers,
        };
        peers.is_empty() || peers.contains(&ip)
    }

    fn trusted(&self, origin: &Origin) -> bool {
        self.trusts(origin.side, origin.addr.ip())
    }

    /// Handles one message; returns what to send, if anything.
    pub fn handle(&self, raw: &[u8], origin: Origin) -> Option<Outgoing> {
        if !self.trusted(&origin) {
            tracing::debug!(peer = %origin.addr, "dropped a message from an untrusted peer");
            return None;
        }
        let msg = match Message::parse(raw) {
            Ok(msg) => msg,
            Err(error) => {
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

    fn request(&self, msg: &Message<'_>, origin: Origin, index: &RoutingIndex) -> Option<Outgoing> {
        let method = msg.method();
        let to_tag = msg.to_tag();
        if method == b"ACK" && to_tag.is_some_and(|t| t.starts_with(OWN_TAG.as_bytes())) {
            return None;
        }
        let mut edits = Edits {
            // A Via and two Record-Routes.
            top: Vec::with_capacity(256),
            ..Edits::default()
        };
        match self.max_forwards(msg, &mut edits) {
            MaxForwards::Reached => {
                return Some(self.reply(msg, origin, 483, "Max-Forwards reached zero"))
            }
            // RFC 3261 16.6 (3): a proxy adds one to a request that has none.
            MaxForwards::Missing => edits.bottom.extend_from_slice(b"Max-Forwards: 70\r\n"),
            MaxForwards::Counted => {}
        }
        let (routed_here, leftover_route) = self.pop_own_routes(msg, &mut edits);
        let towards = origin.side.other();
        let uri = msg.request_uri()?;
        // A request inside a dialog the edge record-routed carries its Route. Anything else,
        // an ACK for a failure response or a request with a made-up To tag among them, is
        // routed and screened like a new call.
        let in_dialog = to_tag.is_some() && routed_here;
        let target = if !in_dialog {
            // A new call (or a request outside any dialog).
            let Some(number) = sip::uri_user(uri) else {
                if method == b"OPTIONS" {
                    return Some(self.reply(msg, origin, 200, ""));
                }
                return Some(self.reply(
                    msg,
                    origin,
                    404,
                    "the Request-URI holds no telephone number",
                ));
            };
            match origin.side {
                Side::Operator => {
                    let decision = self.decide(index, number, Direction::FromOperator, None);
                    if let Some(rejection) = decision.rejection {
                        return Some(self.reply(msg, origin, rejection.status, &rejection.reason));
                    }
                    let service = decision
                        .service
                        .expect("a decision without rejection has a service");
                    let Some(hop) = self.config.next_hops[service.index()] else {
                        return Some(self.reply(
                            msg,
                            origin,
                            503,
                            &format!("no next hop is configured for {}", service.label()),
                        ));
                    };
                    if let Some(host) = &decision.contact_host {
                        self.rewrite_contact(msg, host, &mut edits);
                    }
                    hop
                }
                Side::Service => {
                    let calling = msg
                        .first_value(Name::From)
                        .and_then(|from| sip::uri_user(uri_of(from)))
                        .unwrap_or_default();
                    let label = self.direct_routing_label(index, uri);
                    let decision = self.decide(index, calling, Direction::ToOperator, label);
                    if let Some(rejection) = decision.rejection {
                        return Some(self.reply(msg, origin, rejection.status, &rejection.reason));
                    }
                    self.config.operator_next_hop
                }
            }
        } else {
            match self.in_dialog_target(msg, uri, leftover_route, origin.side, &mut edits) {
                Some(hop) => hop,
                None => {
                    return Some(self.reply(msg, origin, 404, "no route for an in-dialog request"))
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
        if method == b"INVITE" && to_tag.is_none() {
            self.add_record_route(origin, towards, target.transport, &mut edits);
        }
        Some(Outgoing {
            to: Destination {
                side: towards,
                transport: target.transport,
                addr: target.addr,
                connection: None,
            },
            bytes: edits.apply(msg),
        })
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
        if !param(params, b"branch").is_some_and(|b| b.starts_with(OWN_BRANCH.as_bytes())) {
            tracing::debug!(peer = %origin.addr, "dropped a response whose top Via is not the edge's");
            return None;
        }
        let back_to = match param(params, b"nbs") {
            Some(b"o") => Side::Operator,
            Some(b"s") => Side::Service,
            _ => return None,
        };
        // The request went out the other side, so its responses come in there.
        if origin.side != back_to.other() {
            tracing::debug!(peer = %origin.addr, "dropped a response that came in on the wrong side");
            return None;
        }
        let addr = param(params, b"nbr").and_then(decode_addr)?;
        let transport = if param(params, b"nbt") == Some(b"t") {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let connection =
            param(params, b"nbc").and_then(|c| std::str::from_utf8(c).ok()?.parse().ok());
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

    fn decide(
        &self,
        index: &RoutingIndex,
        number: &str,
        direction: Direction,
        label: Option<&str>,
    ) -> routing::Decision {
        let provisioned = index.number(number);
        let line_type = if provisioned.is_some() {
            LineType::Unknown
        } else {
            line_type_of(number)
        };
        let arrival = Arrival {
            direct_routing_label: label,
            direct_routing_account: label.and_then(|l| index.account_by_label(l)),
        };
        routing::decide(
            number,
            direction,
            provisioned,
            line_type,
            arrival,
            &index.settings,
            self.config.region,
        )
    }

    /// The customer label of a Request-URI host `<label>.1r<n>.<base>`.
    fn direct_routing_label<'u>(&self, index: &RoutingIndex, uri: &'u [u8]) -> Option<&'u str> {
        let base = index.settings.base_domain.as_deref()?;
        let parts = uri_parts(uri)?;
        let host = std::str::from_utf8(&uri[parts.host]).ok()?;
        let (label, region_domain) = host.split_once('.')?;
        let (region, rest) = region_domain.split_once('.')?;
        let region = region.as_bytes();
        let is_region = region.len() >= 3
            && region[..2].eq_ignore_ascii_case(b"1r")
            && region[2..].iter().all(|b| b.is_ascii_digit());
        (is_region && rest.eq_ignore_ascii_case(base)).then_some(label)
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
                edits.lines.push((
                    at,
                    Some(line_like(msg, header, (value - 1).to_string().as_bytes())),
                ));
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
        [self.config.operator_addr, self.config.service_addr]
            .iter()
            .any(|own| own.ip() == ip && own.port() == port)
    }

    /// Removes the edge's own entries at the top of the Route set; returns whether there were
    /// any, and the next route's URI, if one is left.
    fn pop_own_routes<'m>(&self, msg: &Message<'m>, edits: &mut Edits) -> (bool, Option<&'m [u8]>) {
        let mut popping = true;
        let mut popped = false;
        for (at, header) in msg.headers.iter().enumerate() {
            if header.name != Name::Route {
                continue;
            }
            let value = msg.value(header);
            let mut rest = value;
            let mut dropped_any = false;
            while popping {
                let (first, comma) = first_of_list(rest);
                if !self.is_own_uri(uri_of(first)) {
                    popping = false;
                    break;
                }
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
                popped = true;
                edits
                    .lines
                    .push((at, (!rest.is_empty()).then(|| line_like(msg, header, rest))));
            }
            if !rest.is_empty() {
                return (popped, Some(uri_of(first_of_list(rest).0)));
            }
        }
        (popped, None)
    }

    /// Where an in-dialog request goes: the next Route, else its Request-URI (put back as it
    /// was, when it is a Contact the edge rewrote for Teams).
    fn in_dialog_target(
        &self,
        msg: &Message<'_>,
        uri: &[u8],
        route: Option<&[u8]>,
        from: Side,
        edits: &mut Edits,
    ) -> Option<Hop> {
        let parts = uri_parts(uri)?;
        if from == Side::Service {
            if let Some(original) = param(&uri[parts.params_at..], b"nbh") {
                let mut restored = Vec::with_capacity(uri.len());
                restored.extend_from_slice(&uri[..parts.host.start]);
                restored.extend_from_slice(original);
                let params = &uri[parts.host.end..];
                let needle = [b";nbh=", original].concat();
                let at = params
                    .windows(needle.len())
                    .position(|w| w.eq_ignore_ascii_case(&needle))?;
                restored.extend_from_slice(&params[..at]);
                restored.extend_from_slice(&params[at + needle.len()..]);
                let target = hop_of(route.unwrap_or(&restored))?;
                let method = msg.method();
                let mut line = method.to_vec();
                line.push(b' ');
                line.extend_from_slice(&restored);
                line.extend_from_slice(b" SIP/2.0\r\n");
                edits.start_line = Some(line);
                return Some(target);
            }
        }
        hop_of(route.unwrap_or(uri))
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
        let branch = fnv(&[top_branch, method, call_id, &[origin.side.code() as u8]]);
        let mut top = ByteWriter(&mut edits.top);
        let _ = write!(
            top,
            "Via: SIP/2.0/{} {};branch={OWN_BRANCH}{branch:016x};nbs={};nbr={}",
            transport.via_name(),
            HostPort(self.addr_of(towards)),
            origin.side.code(),
            ViaAddr(origin.addr),
        );
        if origin.transport == Transport::Tcp {
            let _ = write!(top, ";nbt=t");
        }
        if let Some(connection) = origin.connection {
            let _ = write!(top, ";nbc={connection}");
        }
        let _ = write!(top, "\r\n");
    }

    fn add_record_route(
        &self,
        origin: Origin,
        towards: Side,
        transport: Transport,
        edits: &mut Edits,
    ) {
        let tcp = |t: Transport| {
            if t == Transport::Tcp {
                ";transport=tcp"
            } else {
                ""
            }
        };
        // The first is the one the far side (`towards`) uses; the second faces the caller.
        let _ = write!(
            ByteWriter(&mut edits.top),
            "Record-Route: <sip:{};lr;nb{}>\r\nRecord-Route: <sip:{};lr;nb{}>\r\n",
            HostPort(self.addr_of(towards)),
            tcp(transport),
            HostPort(self.addr_of(origin.side)),
            tcp(origin.transport),
        );
    }

    /// The edge's own final response to a request.
    fn reply(&self, msg: &Message<'_>, origin: Origin, status: u16, warning: &str) -> Outgoing {
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

/// The next hop a URI names: its host (an IP address) and port, over TCP when it says so.
fn hop_of(uri: &[u8]) -> Option<Hop> {
    let parts = uri_parts(uri)?;
    let host = std::str::from_utf8(&uri[parts.host.clone()]).ok()?;
    let ip = host_ip(uri, &parts);
    let transport = match param(&uri[parts.params_at..], b"transport") {
        Some(t) if t.eq_ignore_ascii_case(b"tcp") => Transport::Tcp,
        _ => Transport::Udp,
    };
    let port = parts.port.unwrap_or(5060);
    let addr = match ip {
        Some(ip) => SocketAddr::new(ip, port),
        // A name (Teams' Contacts and Record-Routes are): the system resolver, A/AAAA only.
        None => {
            use std::net::ToSocketAddrs;
            (host, port).to_socket_addrs().ok()?.next()?
        }
    };
    Some(Hop { transport, addr })
}

/// What the numbering plan says a number is, for the default rule.
fn line_type_of(number: &str) -> LineType {
    let with_plus;
    let text = if number.starts_with('+') {
        number
    } else {
        with_plus = format!("+{number}");
        &with_plus
    };
    TelephoneNumber::parse(text)
        .map(|n| n.classify().line_type)
        .unwrap_or_default()
}

/// `write!` into a byte buffer.
struct ByteWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
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
                decode_addr(ViaAddr(addr).to_string().as_bytes()),
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
        let mut next_hops = [None; 5];
        next_hops[Service::TeamsOperatorConnect.index()] = Some(hop(5090));
        let config = EdgeConfig {
            operator_listen: addr(5060),
            service_listen: addr(5062),
            operator_addr: addr(5060),
            service_addr: addr(5062),
            operator_next_hop: hop(5080),
            next_hops,
            region: 1,
            operator_peers: Vec::new(),
            service_peers: Vec::new(),
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

    #[test]
    fn hops_parse_with_and_without_transport() {
        let hop: Hop = "tcp:127.0.0.1:5080".parse().unwrap();
        assert_eq!(hop.transport, Transport::Tcp);
        let hop: Hop = "127.0.0.1:5080".parse().unwrap();
        assert_eq!(hop.transport, Transport::Udp);
        assert!("udp:nowhere".parse::<Hop>().is_err());
    }
}
