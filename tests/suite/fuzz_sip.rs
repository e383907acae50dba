//! Fuzzing the SIP edge's parsers (property-based, with proptest, like [`crate::fuzz`]): whole
//! messages through the proxy, the URI, Via and list readers, and the TCP framer. Messages are
//! built the way peers write them (every header the edge reads, the edge's own Via and
//! Record-Route parameters with made-up signatures, compact forms, folding, huge and bent
//! lengths), then bent byte by byte; and some are random bytes. What must hold: no panic, what
//! the edge sends is SIP it can read again, it answers a request only to its sender, forwards
//! only to a configured next hop, and never forwards a response (none here is signed).
//!
//! In the test command each target runs one seeded round; `NUMBAT_FUZZ_SECONDS=600 cargo test
//! --release --test suite fuzz_sip:: -- --test-threads=1 --nocapture` runs each for ten
//! minutes.

use crate::fuzz::fuzz;
use numbat::domain::Service;
use numbat::edge::proxy::{EdgeConfig, Hop, HopSpec, Origin, Proxy, Side, Transport};
use numbat::edge::seal::Keys;
use numbat::edge::sip::{self, Message};
use numbat::edge::tcp::{framed_length, MAX_MESSAGE};
use numbat::routing::feed::SharedIndex;
use proptest::prelude::*;
use std::net::SocketAddr;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

const HOPS: [u16; 3] = [5080, 5090, 5091];

fn proxy() -> Proxy {
    let hop = |port, transport| -> HopSpec {
        Hop {
            transport,
            addr: local(port),
        }
        .into()
    };
    let mut next_hops: [Vec<HopSpec>; 5] = Default::default();
    next_hops[Service::TeamsOperatorConnect.index()] = vec![hop(5090, Transport::Udp)];
    next_hops[Service::TeamsPhoneMobile.index()] = vec![hop(5091, Transport::Tcp)];
    let config = EdgeConfig {
        operator_listen: local(5060),
        service_listen: local(5062),
        operator_addr: local(5060),
        service_addr: local(5062),
        operator_tls_listen: None,
        service_tls_listen: None,
        operator_tls_addr: Some(local(5061)),
        service_tls_addr: Some(local(5063)),
        operator_next_hop: hop(5080, Transport::Udp),
        next_hops,
        region: 1,
        operator_peers: Vec::new(),
        service_peers: Vec::new(),
        allow_any_peer: true,
        keys: Keys::new(b"a-key-the-fuzzer-never-sees-0123456789", None).unwrap(),
        invite_rate: 0,
    };
    let proxy = Proxy::new(config, SharedIndex::default());
    {
        let mut index = proxy.index.write().unwrap();
        index.settings.header_name = Some("X-Custom".into());
        index.settings.base_domain = Some("dep1.example".into());
    }
    proxy
}

fn token() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-zA-Z0-9+.-]{0,12}",
        "[0-9a-f]{20}",
        "7f000001-[0-9a-f]{4}",
        "[us]7f000001-[0-9a-f]{4}(_[0-9]{1,3})?",
        any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ]
    .boxed()
}

fn uri() -> BoxedStrategy<String> {
    let host = prop_oneof![
        Just("127.0.0.1:5062".to_owned()),
        Just("127.0.0.1:5060".to_owned()),
        Just("127.0.0.1:5063;transport=tls".to_owned()),
        Just("[::1]:5060".to_owned()),
        Just("contoso.1r1.dep1.example".to_owned()),
        "[a-z0-9.:\\[\\]]{0,24}",
    ];
    let user = prop_oneof![
        Just("+441632960011".to_owned()),
        Just("+447700900123".to_owned()),
        "[+0-9;=a-z]{0,20}",
    ];
    let params = proptest::collection::vec(
        prop_oneof![
            token().prop_map(|t| format!(";nbd={t}")),
            token().prop_map(|t| format!(";nbm={t}")),
            token().prop_map(|t| format!(";nbh={t}")),
            Just(";lr".to_owned()),
            Just(";transport=tcp".to_owned()),
            token().prop_map(|t| format!(";{t}")),
        ],
        0..4,
    );
    (
        prop_oneof![
            Just("sip:"),
            Just("sips:"),
            Just("tel:"),
            Just(""),
            Just("SIP:")
        ],
        user,
        host,
        params,
    )
        .prop_map(|(scheme, user, host, params)| {
            format!("{scheme}{user}@{host}{}", params.concat())
        })
        .boxed()
}

fn header() -> impl Strategy<Value = String> {
    let edge_via = (token(), token(), token(), token(), token()).prop_map(|(b, s, r, t, m)| {
        format!("SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-nb{b};nbs={s};nbr={r};nbt={t};nbm={m}")
    });
    let via = prop_oneof![
        edge_via,
        Just("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1".to_owned()),
        "[ -~]{0,40}",
    ];
    let name_addr = uri().prop_map(|u| format!("<{u}>"));
    prop_oneof![
        (prop_oneof![Just("Via"), Just("v"), Just("VIA")], via)
            .prop_map(|(n, v)| format!("{n}: {v}")),
        (
            prop_oneof![Just("Route"), Just("Record-Route")],
            proptest::collection::vec(name_addr.clone(), 1..4)
        )
            .prop_map(|(n, v)| format!("{n}: {}", v.join(", "))),
        (
            prop_oneof![
                Just("From"),
                Just("f"),
                Just("To"),
                Just("t"),
                Just("Contact"),
                Just("m")
            ],
            name_addr,
            token()
        )
            .prop_map(|(n, v, tag)| format!("{n}: {v};tag={tag}")),
        token().prop_map(|t| format!("Call-ID: {t}")),
        (0u32..5, "[A-Z]{0,8}").prop_map(|(n, m)| format!("CSeq: {n} {m}")),
        prop_oneof![
            Just("0".to_owned()),
            Just("70".to_owned()),
            "[0-9a-z-]{0,12}"
        ]
        .prop_map(|v| format!("Max-Forwards: {v}")),
        prop_oneof![
            Just("0".to_owned()),
            "[0-9]{1,3}",
            "[0-9]{10,24}",
            "[ -~]{0,6}"
        ]
        .prop_map(|v| format!("Content-Length: {v}")),
        token().prop_map(|v| format!("X-Custom: {v}")),
        "[ -~]{0,30}".prop_map(|v| format!("X-Other: {v}")),
        Just(" folded continuation".to_owned()),
    ]
}

/// A SIP message as peers write it, with its headers in any order and number, then bent.
fn message() -> impl Strategy<Value = Vec<u8>> {
    let start = prop_oneof![
        (
            prop_oneof![
                prop::sample::select(vec![
                    "INVITE",
                    "ACK",
                    "BYE",
                    "CANCEL",
                    "OPTIONS",
                    "SUBSCRIBE",
                    "REFER"
                ])
                .prop_map(String::from),
                "[A-Z]{1,9}"
            ],
            uri()
        )
            .prop_map(|(m, u)| format!("{m} {u} SIP/2.0")),
        (100u16..700, "[ -~]{0,12}").prop_map(|(s, r)| format!("SIP/2.0 {s} {r}")),
        "[ -~]{0,30}",
    ];
    let built = (
        start,
        proptest::collection::vec(header(), 0..24),
        prop_oneof![Just("\r\n"), Just("\n"), Just("\r")],
        "[ -~]{0,40}",
    )
        .prop_map(|(start, headers, eol, body)| {
            let mut text = start;
            text.push_str("\r\n");
            for h in headers {
                text.push_str(&h);
                text.push_str("\r\n");
            }
            text.push_str(eol);
            text.push_str("\r\n");
            text.push_str(&body);
            text.into_bytes()
        })
        .boxed();
    let bent = (
        built.clone(),
        proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..8),
    )
        .prop_map(|(mut bytes, edits)| {
            for (at, byte, how) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let at = at % bytes.len();
                match how {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            bytes
        });
    prop_oneof![
        4 => built,
        4 => bent,
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ]
}

#[test]
fn fuzz_sip_messages_through_the_proxy() {
    let proxy = proxy();
    let origins = [
        (Side::Operator, Transport::Udp, 5070, None),
        (Side::Service, Transport::Udp, 5090, None),
        (Side::Service, Transport::Tcp, 40000, Some(7)),
        (Side::Operator, Transport::Tls, 40001, Some(8)),
    ];
    fuzz(
        "sip messages",
        (message(), 0..origins.len()),
        |(raw, which)| {
            let (side, transport, port, connection) = origins[which];
            let origin = Origin {
                side,
                transport,
                addr: local(port),
                connection,
            };
            let is_response = raw.starts_with(b"SIP/2.0 ");
            let Some(out) = proxy.handle(&raw, origin) else {
                return Ok(());
            };
            prop_assert!(
                !is_response,
                "an unsigned response was forwarded to {:?}",
                out.to
            );
            prop_assert!(
                out.bytes.len() <= raw.len() + 4096,
                "{} bytes out of {}",
                out.bytes.len(),
                raw.len()
            );
            let sent = Message::parse(&out.bytes);
            prop_assert!(
                sent.is_ok(),
                "the edge sent what it cannot read: {:?}",
                String::from_utf8_lossy(&out.bytes)
            );
            if out.bytes.starts_with(b"SIP/2.0 ") {
                prop_assert_eq!(
                    out.to.addr,
                    origin.addr,
                    "an answer went elsewhere than the sender"
                );
                prop_assert_eq!(out.to.connection, origin.connection);
            } else {
                prop_assert!(
                    HOPS.contains(&out.to.addr.port()) && out.to.addr.ip().is_loopback(),
                    "a request went to {} ({:?}), which is no next hop",
                    out.to.addr,
                    String::from_utf8_lossy(&raw)
                );
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_the_uri_via_and_list_readers() {
    let input = prop_oneof![
        uri().prop_map(String::into_bytes),
        header().prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..128),
    ];
    fuzz("sip uri, via and lists", input, |raw| {
        if let Some(parts) = sip::uri_parts(&raw) {
            prop_assert!(parts.host.start <= parts.host.end && parts.host.end <= raw.len());
            prop_assert!(parts.params_at <= raw.len());
            if let Some(user) = parts.user {
                prop_assert!(user.start <= user.end && user.end <= raw.len());
            }
        }
        let _ = sip::uri_user(&raw);
        let inner = sip::uri_of(&raw);
        prop_assert!(inner.len() <= raw.len());
        let (first, comma) = sip::first_of_list(&raw);
        prop_assert!(first.len() <= raw.len());
        if let Some(at) = comma {
            prop_assert_eq!(raw[at], b',');
        }
        let params = sip::header_params(&raw);
        for name in [&b"branch"[..], b"nbm", b"tag", b"lr"] {
            if let Some(value) = sip::param(params, name) {
                prop_assert!(value.len() <= params.len());
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_the_tcp_framer() {
    let input = prop_oneof![
        message(),
        proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), any::<u8>()], 0..256),
    ];
    fuzz("tcp framer", input, |raw| {
        let mut scanned = 0;
        // In pieces, as a stream delivers them, then whole: the same answer.
        let mut seen = None;
        for end in (0..=raw.len()).step_by(7).chain([raw.len()]) {
            seen = framed_length(&raw[..end], &mut scanned);
            prop_assert!(scanned <= end);
            if seen.is_some() {
                break;
            }
        }
        if let Some(len) = seen {
            prop_assert!(len > MAX_MESSAGE || len <= raw.len());
        }
        Ok(())
    });
}
