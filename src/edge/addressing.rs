//! Where the edge's messages come from and go: the two sides, the transports, next hops as
//! configured (an address or a name) and as resolved, and a message's origin and destination.
//! Depends on nothing else in the crate.

use std::net::{IpAddr, SocketAddr};

/// Which network a message came from or goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Operator,
    Service,
}

impl Side {
    pub fn other(self) -> Self {
        match self {
            Side::Operator => Side::Service,
            Side::Service => Side::Operator,
        }
    }

    pub fn code(self) -> char {
        match self {
            Side::Operator => 'o',
            Side::Service => 's',
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Side::Operator => "operator",
            Side::Service => "service",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// One letter, as the edge's own parameters write it.
    pub fn code(self) -> u8 {
        match self {
            Transport::Udp => b'u',
            Transport::Tcp => b't',
            Transport::Tls => b's',
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            b'u' => Some(Transport::Udp),
            b't' => Some(Transport::Tcp),
            b's' => Some(Transport::Tls),
            _ => None,
        }
    }

    /// As a URI's `transport` parameter names it; `None` for UDP, SIP's default.
    pub fn uri_param(self) -> Option<&'static str> {
        match self {
            Transport::Udp => None,
            Transport::Tcp => Some("tcp"),
            Transport::Tls => Some("tls"),
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }

    /// Whether messages travel over a connection (TCP, TLS).
    pub fn is_stream(self) -> bool {
        self != Transport::Udp
    }
}

/// A next hop as it is reached now: how, and at which address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl std::fmt::Display for Hop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.transport.prefix(), self.addr)
    }
}

/// A next hop as configured: `[udp:|tcp:|tls:]<host>[:<port>]`, the host an IP address or a
/// name that is resolved in the background (never on the message path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HopSpec {
    pub transport: Transport,
    /// The name or address as written (IPv6 without brackets); a TLS next hop's certificate
    /// must be for it.
    pub host: String,
    pub port: u16,
}

impl HopSpec {
    /// The address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl From<Hop> for HopSpec {
    fn from(hop: Hop) -> Self {
        Self {
            transport: hop.transport,
            host: hop.addr.ip().to_string(),
            port: hop.addr.port(),
        }
    }
}

impl std::fmt::Display for HopSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip() {
            Some(IpAddr::V6(ip)) => write!(f, "{}:[{ip}]:{}", self.transport.prefix(), self.port),
            _ => write!(f, "{}:{}:{}", self.transport.prefix(), self.host, self.port),
        }
    }
}

impl std::str::FromStr for HopSpec {
    type Err = String;
    /// `[udp:|tcp:|tls:]<host>[:<port>]`; the port is 5060, or 5061 for TLS, when left out.
    fn from_str(raw: &str) -> Result<Self, String> {
        let wrong = || format!("`{raw}` is not [udp:|tcp:|tls:]<host>[:<port>]");
        let (transport, rest) = match raw.split_once(':') {
            Some(("udp", rest)) => (Transport::Udp, rest),
            Some(("tcp", rest)) => (Transport::Tcp, rest),
            Some(("tls", rest)) => (Transport::Tls, rest),
            _ => (Transport::Udp, raw),
        };
        let default_port = if transport == Transport::Tls {
            5061
        } else {
            5060
        };
        if let Ok(addr) = rest.parse::<SocketAddr>() {
            return Ok(Self {
                transport,
                host: addr.ip().to_string(),
                port: addr.port(),
            });
        }
        if let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let ip: std::net::Ipv6Addr = inner.parse().map_err(|_| wrong())?;
            return Ok(Self {
                transport,
                host: ip.to_string(),
                port: default_port,
            });
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| wrong())?),
            None => (rest, default_port),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if host.len() > 253 || !host.split('.').all(label_ok) || port == 0 {
            return Err(wrong());
        }
        Ok(Self {
            transport,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// Where a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub side: Side,
    pub transport: Transport,
    pub addr: SocketAddr,
    /// The TCP or TLS connection it came on.
    pub connection: Option<u64>,
}

/// Where a message goes: an address, or back down a connection that is still open.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_parse_with_and_without_transport_names_and_ports() {
        let hop: HopSpec = "tcp:127.0.0.1:5080".parse().unwrap();
        assert_eq!(
            (hop.transport, hop.port, hop.ip()),
            (Transport::Tcp, 5080, Some([127, 0, 0, 1].into()))
        );
        let hop: HopSpec = "127.0.0.1:5080".parse().unwrap();
        assert_eq!(hop.transport, Transport::Udp);
        let hop: HopSpec = "tls:SIP.pstnhub.microsoft.com".parse().unwrap();
        assert_eq!(
            (hop.host.as_str(), hop.port, hop.ip()),
            ("sip.pstnhub.microsoft.com", 5061, None)
        );
        assert_eq!(hop.to_string(), "tls:sip.pstnhub.microsoft.com:5061");
        let hop: HopSpec = "tls:[2001:db8::1]:5071".parse().unwrap();
        assert_eq!(hop.to_string(), "tls:[2001:db8::1]:5071");
        for wrong in [
            "udp:",
            "tcp:bad_name:5060",
            "tls:-x.example",
            "udp:host:0",
            "udp:host:port",
            "udp:a..b",
        ] {
            assert!(wrong.parse::<HopSpec>().is_err(), "{wrong}");
        }
    }
}
