//! Fuzzing every parser of outside bytes through the real router (property-based, with
//! proptest): the filter language, the API's JSON bodies and headers, CSV rows, form posts and
//! redirect targets; and the DNS responder through its own UDP and TCP sockets. Each target
//! mixes structured input (what the parser expects, nested and bent) with random bytes, and
//! checks what a user would notice: no 500, no panic, an error that names a field, and a server
//! that keeps answering.
//!
//! In the test command each target runs a short seeded round (256 cases, seed 0). For a long
//! run, give it time: `NUMBAT_FUZZ_SECONDS=600 cargo test --release --test suite fuzz::
//! -- --test-threads=1 --nocapture` runs each target for ten minutes with a new seed per round
//! and prints how many cases it tried.

use crate::common::{self, app_without_bundle, send, Browser, TestDb};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use numbat::auth::users::PortalRole;
use numbat::provisioning::{Door, Role};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::time::{Duration, Instant};

const V: &str = "api-version=2024-02-29-preview";

/// Runs `check` on inputs from `strategy`: one round of 256 cases with seed 0, or rounds with
/// new seeds until `NUMBAT_FUZZ_SECONDS` have passed.
pub(crate) fn fuzz<S: Strategy>(
    name: &str,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let seconds: u64 = std::env::var("NUMBAT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut seed, mut cases) = (0u64, 0u64);
    loop {
        let config = Config {
            cases: 256,
            rng_seed: RngSeed::Fixed(seed),
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        if let Err(failure) = runner.run(&strategy, &check) {
            panic!("fuzz {name}, seed {seed}: {failure}");
        }
        cases += 256;
        seed += 1;
        if Instant::now() >= deadline {
            break;
        }
    }
    eprintln!("fuzz {name}: {cases} cases in {seed} rounds, no failure");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Random text, text from the parser's own alphabet, and bytes that are not UTF-8 at all
/// (percent-encoded so they reach the parser).
fn text_like(alphabet: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        alphabet,
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| {
            bytes
                .iter()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>()
        }),
    ]
}

/// Filters as the grammar builds them, nested at random depths, some far too deep.
fn filter_expression() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("telephoneNumber"),
        Just("accountName"),
        Just("serviceProvisioningStatus"),
        Just("configuration/customSipHeader"),
        Just("serviceDetails/teamsDirectRouting/enabled"),
        Just("lineType"),
        Just("nonsense"),
    ];
    let value = prop_oneof![
        "'[a-z+0-9' ]{0,8}'",
        Just("true".to_owned()),
        Just("null".to_owned()),
        "[a-z]{0,4}",
    ];
    let leaf = prop_oneof![
        (
            field.clone(),
            prop_oneof![Just("eq"), Just("ne"), Just("gt")],
            value
        )
            .prop_map(|(f, op, v)| format!("{f} {op} {v}")),
        (field, "[+0-9]{0,5}").prop_map(|(f, p)| format!("startswith({f},'{p}')")),
    ];
    let nested = leaf.prop_recursive(12, 64, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("({e})")),
            inner.clone().prop_map(|e| format!("not {e}")),
            (
                inner.clone(),
                inner.clone(),
                prop_oneof![Just("and"), Just("or")]
            )
                .prop_map(|(a, b, op)| format!("{a} {op} {b}")),
        ]
    });
    prop_oneof![
        4 => nested,
        1 => (0usize..20_000).prop_map(|n| "(".repeat(n)),
        1 => (0usize..5_000).prop_map(|n| format!("{}accountName eq 'a'", "not ".repeat(n))),
    ]
}

#[test]
fn fuzz_the_filter_language_through_the_api() {
    let rt = runtime();
    let (app, token, _test) = rt.block_on(async {
        let test = TestDb::sqlite().await.migrated().await;
        let token = crate::common::api_token(&test.db, "fuzz", &[Role::Read]).await;
        (app_without_bundle(&test.db), token, test)
    });
    let strategy = prop_oneof![
        filter_expression().prop_map(|f| numbat::ui::encode(&f)),
        text_like("[()a-z/ '+0-9,]{0,40}"),
    ];
    fuzz("filter", strategy, |filter| {
        let status = rt.block_on(async {
            for path in ["numbers", "accounts"] {
                // Text no HTTP client could put in a request line is not sent.
                let Ok(request) = Request::get(format!("/provisioning/{path}?{V}&filter={filter}"))
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                else {
                    return Ok(());
                };
                let (response, text) = send(&app, request).await;
                let status = response.status();
                if status != StatusCode::OK {
                    let body: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|_| TestCaseError::fail(format!("{status}: not JSON: {text}")))?;
                    prop_assert!(status == StatusCode::BAD_REQUEST, "{status}: {text}");
                    prop_assert!(
                        body["error"]["target"] == "filter"
                            || body["error"]["code"] == "InvalidQuery",
                        "{text}"
                    );
                }
            }
            Ok::<_, TestCaseError>(())
        });
        status
    });
}

/// JSON values of every shape, some nested past any sensible depth.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[+0-9a-zA-Z_\\-.@ ]{0,20}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("telephoneNumber".to_owned()),
                    Just("accountName".to_owned()),
                    Just("serviceDetails".to_owned()),
                    Just("teamsDirectRouting".to_owned()),
                    Just("teamsOperatorConnect".to_owned()),
                    Just("enabled".to_owned()),
                    Just("configuration".to_owned()),
                    Just("customSipHeader".to_owned()),
                    Just("usage".to_owned()),
                    "[a-zA-Z]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A JSON body: a generated value, a deeply nested one, or raw bytes.
fn json_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => (0usize..100_000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()),
        1 => (0usize..100_000).prop_map(|n| "{\"a\":".repeat(n).into_bytes()),
        2 => proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

/// Header values as a client might bend them: ETags, dates, ids, junk.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        "W?/?\"[0-9]{0,20}\"",
        "[A-Za-z0-9 ,:\"/*-]{0,40}",
        "[\\x20-\\x7e]{0,80}",
    ]
}

#[test]
fn fuzz_the_apis_json_bodies_and_headers() {
    let rt = runtime();
    let (app, token, _test) = rt.block_on(async {
        let test = TestDb::sqlite().await.migrated().await;
        let token = crate::common::api_token(&test.db, "fuzz", &[Role::Admin]).await;
        (app_without_bundle(&test.db), token, test)
    });
    let header_names = prop_oneof![
        Just("if-match"),
        Just("if-none-match"),
        Just("if-modified-since"),
        Just("if-unmodified-since"),
        Just("repeatability-request-id"),
        Just("repeatability-first-sent"),
        Just("content-type"),
    ];
    let target = prop_oneof![
        Just(("PUT", "/accounts/contoso".to_owned())),
        Just((
            "PUT",
            "/accounts/contoso/numbers/%2B442071110000".to_owned()
        )),
        Just(("POST", "/accounts/contoso:requestNumbers".to_owned())),
        Just(("POST", "/accounts/contoso:deleteNumbers".to_owned())),
        Just(("PATCH", "/accounts/contoso".to_owned())),
        "[a-zA-Z0-9%:+/]{0,30}".prop_map(|p| ("PUT", format!("/accounts/{p}"))),
    ];
    let strategy = (
        target,
        json_body(),
        proptest::collection::vec((header_names, header_value()), 0..4),
    );
    fuzz(
        "json-and-headers",
        strategy,
        |((method, path), body, headers)| {
            rt.block_on(async {
                let mut request = Request::builder()
                    .method(method)
                    .uri(format!("/provisioning{path}?{V}"))
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json");
                for (name, value) in &headers {
                    request = request.header(*name, value.as_str());
                }
                let Ok(request) = request.body(Body::from(body.clone())) else {
                    return Ok(());
                };
                let (response, text) = send(&app, request).await;
                let status = response.status();
                prop_assert!(!status.is_server_error(), "{status}: {text}");
                if status.is_client_error()
                    && status != StatusCode::NOT_FOUND
                    && status != StatusCode::METHOD_NOT_ALLOWED
                {
                    let body: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|_| TestCaseError::fail(format!("{status}: not JSON: {text}")))?;
                    prop_assert!(body["error"]["code"].is_string(), "{text}");
                }
                Ok(())
            })
        },
    );
    let alive = rt.block_on(common::get(&app, "/healthz")).0.status();
    assert_eq!(alive, StatusCode::OK);
}

/// CSV files: ACG's columns with generated cells, broken quoting, and raw bytes.
fn csv_file() -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        "\\+44207[0-9]{7}",
        "[a-z]{1,8}",
        Just("true".to_owned()),
        Just("false".to_owned()),
        "'?[=+@\\-][A-Za-z0-9(),\"]{0,10}",
        "\"[^\"]{0,10}\"?",
        any::<String>(),
    ];
    let row = proptest::collection::vec(cell, 0..8).prop_map(|cells| cells.join(","));
    let heading = prop_oneof![
        Just("telephoneNumber,accountName,serviceDetails_teamsDirectRouting_enabled,configuration_customSipHeader".to_owned()),
        Just("telephoneNumber".to_owned()),
        Just(String::new()),
        "[a-zA-Z_,]{0,60}",
    ];
    prop_oneof![
        3 => (heading, proptest::collection::vec(row, 0..20))
            .prop_map(|(h, rows)| format!("{h}\n{}", rows.join("\n")).into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ]
}

#[test]
fn fuzz_csv_rows_through_the_import() {
    use numbat::provisioning::{import::ImportMode, Actor, Provisioning};
    let rt = runtime();
    let (core, _test) = rt.block_on(async {
        let test = TestDb::sqlite().await.migrated().await;
        (Provisioning::new(test.db.clone()), test)
    });
    let actor = Actor::new("fuzz", &[Role::Admin], Door::Cli);
    fuzz("csv", csv_file(), |file| {
        rt.block_on(async {
            let lines = file.iter().filter(|&&b| b == b'\n').count() as i64 + 1;
            match numbat::bulk::import_file(
                &core,
                &actor,
                "fuzz.csv",
                std::io::Cursor::new(file),
                numbat::bulk::FileSettings::default(),
                ImportMode::DryRun,
                |_, _| {},
            )
            .await
            {
                Ok(summary) => {
                    let tally = summary.tally;
                    prop_assert!(tally.rows_read <= lines, "{tally:?}");
                    prop_assert_eq!(tally.created, 0, "a check creates nothing");
                }
                Err(numbat::bulk::ImportFailure::File(reason)) => {
                    prop_assert!(reason.starts_with("line "), "{reason}");
                }
                Err(other) => return Err(TestCaseError::fail(other.to_string())),
            }
            Ok(())
        })
    });
}

/// Form bodies: the fields a form sends, with generated and hostile values, and raw bytes.
fn form_body() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("action"),
        Just("scope"),
        Just("filter"),
        Just("selected"),
        Just("service"),
        Just("header"),
        Just("target_account"),
        Just("confirm"),
        Just("form[numbers]"),
        Just("form[account]"),
        Just("form[services][teamsDirectRouting]"),
        Just("name"),
        Just("password"),
        Just("next"),
        Just("roles[admin]"),
    ];
    let value = prop_oneof![
        Just("delete".to_owned()),
        Just("matching".to_owned()),
        Just("setHeader".to_owned()),
        Just("yes".to_owned()),
        "\\+44207[0-9]{7}",
        "(%0D%0A|%09|%00|%2F%2F|%5C|[a-z=&?/]){0,20}",
        text_like("[a-zA-Z0-9%+=&/\\\\]{0,40}"),
    ];
    prop_oneof![
        3 => proptest::collection::vec((name, value), 0..8).prop_map(|pairs| {
            pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
        }),
        1 => any::<String>(),
    ]
}

#[test]
fn fuzz_form_posts_and_redirect_targets() {
    let rt = runtime();
    let (app, cookie, _test, _renderer) = rt.block_on(async {
        let renderer = common::one_renderer_at_a_time().await;
        let test = TestDb::sqlite().await.migrated().await;
        let app = app_without_bundle(&test.db);
        let browser = Browser::signed_in(&app, &test.db, "fuzzer", &[PortalRole::WriteUser]).await;
        (app, std::cell::RefCell::new(browser.cookie), test, renderer)
    });
    let uri = prop_oneof![
        Just("/numbers/bulk"),
        Just("/sign-in"),
        Just("/password"),
        Just("/api/numbers/add"),
        Just("/api/numbers/save"),
        Just("/api/accounts/save"),
    ];
    fuzz("forms", (uri, form_body()), |(uri, form)| {
        rt.block_on(async {
            let mut browser = Browser::new(&app);
            browser.cookie = cookie.borrow().clone();
            let (response, text) = browser.post(uri, &form).await;
            *cookie.borrow_mut() = browser.cookie;
            let status = response.status();
            prop_assert!(
                !status.is_server_error(),
                "{uri} {form:?}: {status}: {text}"
            );
            if let Some(location) = response.headers().get("location") {
                let location = location
                    .to_str()
                    .map_err(|_| TestCaseError::fail("Location not text"))?;
                let path = location.trim_start_matches("http://portal.test");
                prop_assert!(
                    path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'),
                    "{location}"
                );
            }
            Ok(())
        })
    });
    fuzz(
        "redirect-targets",
        text_like("[/\\\\%0-9A-Fa-z.:]{0,30}"),
        |back| {
            rt.block_on(async {
                let Ok(request) =
                    Request::get(format!("/theme?set=dark&back={back}")).body(Body::empty())
                else {
                    return Ok(());
                };
                let (response, _) = send(&app, request).await;
                if response.status() == StatusCode::SEE_OTHER {
                    let location = response.headers()["location"].to_str().unwrap();
                    prop_assert!(
                        location.starts_with('/') && !location.starts_with("//"),
                        "{back} -> {location}"
                    );
                    prop_assert!(
                        !location.contains(['\\', '\t', '\r', '\n']),
                        "{back} -> {location}"
                    );
                } else {
                    prop_assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{}", back);
                }
                Ok(())
            })
        },
    );
}

const DNS_BASE: &str = "dep1.commsgw.example";
const DNS_NAME: &str = "contoso.1r1.dep1.commsgw.example";

/// What a DNS query is made of: ID, flags, name, type, class, OPT `(UDP size, version, DO)`.
type DnsQueryParts = (u16, u16, String, u16, u16, Option<(u16, u8, bool)>);

/// A DNS query byte by byte: header, one question, and the OPT record if any.
fn dns_query((id, flags, name, qtype, qclass, edns): DnsQueryParts) -> Vec<u8> {
    let mut out = Vec::new();
    for field in [id, flags, 1, 0, 0, u16::from(edns.is_some())] {
        out.extend_from_slice(&field.to_be_bytes());
    }
    for label in name.split('.').filter(|label| !label.is_empty()) {
        out.push(u8::try_from(label.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&qclass.to_be_bytes());
    if let Some((size, version, dnssec_ok)) = edns {
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&[0, version, u8::from(dnssec_ok) << 7, 0, 0, 0]);
    }
    out
}

/// DNS messages: queries as a resolver sends them, the same bent (bytes changed, cut short),
/// hostile shapes (names of many labels, records chained by compression pointers, pointers at
/// random places, counts the bytes cannot hold) and random bytes.
fn dns_message() -> impl Strategy<Value = Vec<u8>> {
    use proptest::sample::Index;
    let name = prop_oneof![
        Just(DNS_NAME.to_owned()),
        Just(DNS_BASE.to_owned()),
        "[a-zA-Z0-9*_-]{1,12}(\\.[a-zA-Z0-9-]{1,12}){0,4}\\.dep1\\.commsgw\\.example",
        "[a-z0-9.]{0,80}",
    ];
    let qtype = prop_oneof![
        Just(16u16),
        Just(6),
        Just(2),
        Just(255),
        Just(252),
        any::<u16>()
    ];
    let qclass = prop_oneof![3 => Just(1u16), 1 => any::<u16>()];
    let edns = proptest::option::of((
        any::<u16>(),
        prop_oneof![Just(0u8), any::<u8>()],
        any::<bool>(),
    ));
    let flags = prop_oneof![Just(0u16), Just(0x0100), any::<u16>()];
    let query = (any::<u16>(), flags, name, qtype, qclass, edns).prop_map(dns_query);
    let bent = (
        query.clone(),
        proptest::collection::vec((any::<Index>(), any::<u8>()), 0..8),
        proptest::option::of(any::<Index>()),
    )
        .prop_map(|(mut message, changes, cut)| {
            for (at, byte) in changes {
                let at = at.index(message.len());
                message[at] = byte;
            }
            if let Some(cut) = cut {
                message.truncate(cut.index(message.len() + 1));
            }
            message
        });
    let many_labels = (1usize..200, 0u8..64).prop_map(|(labels, len)| {
        let mut message = dns_query((7, 0, String::new(), 16, 1, None));
        let question_tail = message.split_off(12);
        for _ in 0..labels {
            message.push(len);
            message.extend(std::iter::repeat_n(b'a', usize::from(len)));
        }
        message.extend_from_slice(&question_tail[1..]);
        message
    });
    let chained = (0u16..300, 1u8..64).prop_map(|(records, label)| {
        let mut message = dns_query((8, 0, DNS_NAME.to_owned(), 16, 1, None));
        message[10..12].copy_from_slice(&records.to_be_bytes());
        let mut previous = 12u16;
        for _ in 0..records {
            let at = u16::try_from(message.len()).unwrap_or(u16::MAX) & 0x3fff;
            message.push(label);
            message.extend(std::iter::repeat_n(b'a', usize::from(label)));
            message.extend_from_slice(&(0xc000 | previous).to_be_bytes());
            message.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]);
            previous = at;
        }
        message
    });
    let pointers = proptest::collection::vec(any::<u16>(), 1..8).prop_map(|targets| {
        let mut message = dns_query((9, 0, String::new(), 16, 1, None));
        message.truncate(12);
        for target in targets {
            message.extend_from_slice(&(0xc000 | target).to_be_bytes());
        }
        message.extend_from_slice(&[0, 0, 16, 0, 1]);
        message
    });
    let counts = (query.clone(), any::<[u16; 4]>()).prop_map(|(mut message, counts)| {
        for (at, count) in counts.into_iter().enumerate() {
            message[4 + 2 * at..6 + 2 * at].copy_from_slice(&count.to_be_bytes());
        }
        message
    });
    prop_oneof![
        2 => query,
        4 => bent,
        1 => many_labels,
        1 => chained,
        1 => pointers,
        1 => counts,
        2 => proptest::collection::vec(any::<u8>(), 0..600),
    ]
}

/// `messages` framed for TCP (2-byte length prefix each), written at once.
async fn dns_tcp_send(stream: &mut tokio::net::TcpStream, messages: &[&[u8]]) {
    use tokio::io::AsyncWriteExt;
    let mut frames = Vec::new();
    for message in messages {
        let len = u16::try_from(message.len()).expect("messages here are short");
        frames.extend_from_slice(&len.to_be_bytes());
        frames.extend_from_slice(message);
    }
    stream.write_all(&frames).await.unwrap();
}

/// The reply to the message with `id` on a TCP connection, skipping replies to those before it.
async fn dns_tcp_reply(stream: &mut tokio::net::TcpStream, id: [u8; 2]) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    loop {
        let mut prefix = [0; 2];
        stream
            .read_exact(&mut prefix)
            .await
            .expect("the TCP connection stays open");
        let mut reply = vec![0; usize::from(u16::from_be_bytes(prefix))];
        stream.read_exact(&mut reply).await.expect("a whole reply");
        if reply.get(..2) == Some(&id[..]) {
            return reply;
        }
    }
}

#[test]
fn fuzz_the_dns_responder_over_udp_and_tcp() {
    use numbat::dns::{self, SharedZone, Zone};
    use std::sync::{Arc, RwLock};
    use tokio::net::{TcpListener, TcpStream, UdpSocket};

    let rt = runtime();
    let mut zone = Zone::new(DNS_BASE, 300);
    zone.add_txt(DNS_NAME, "token-one");
    let shared: SharedZone = Arc::new(RwLock::new(Arc::new(zone.clone())));
    let (server, stream, sender) = rt.block_on(async {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = udp.local_addr().unwrap();
        let tcp = TcpListener::bind(server).await.unwrap();
        tokio::spawn(dns::serve_udp(udp, Arc::clone(&shared)));
        tokio::spawn(dns::serve_tcp(tcp, Arc::clone(&shared)));
        let stream = TcpStream::connect(server).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        (server, tokio::sync::Mutex::new(stream), sender)
    });
    fuzz("dns", dns_message(), |message| {
        match dns::respond(&zone, &message) {
            Some(reply) => {
                prop_assert!(reply.len() <= 4096, "{} bytes", reply.len());
                prop_assert_eq!(&reply[..2], &message[..2], "the ID is echoed");
                prop_assert!(reply[2] & 0x80 != 0, "QR set");
            }
            None => prop_assert!(
                message.len() < 12 || message[2] & 0x80 != 0,
                "only short messages and responses go unanswered: {message:?}"
            ),
        }
        rt.block_on(async {
            // The same bytes reach the real sockets, which must keep answering.
            sender.send_to(&message, server).await.unwrap();
            let id = if message.get(..2) == Some(&[0x5a, 0x5a]) {
                0xa5a5
            } else {
                0x5a5a
            };
            let good = dns_query((id, 0, DNS_NAME.to_owned(), 16, 1, None));
            let answered = tokio::time::timeout(Duration::from_secs(5), async {
                let mut stream = stream.lock().await;
                dns_tcp_send(&mut stream, &[&message, &good]).await;
                let reply = dns_tcp_reply(&mut stream, id.to_be_bytes()).await;
                let served = dns::query_txt(server, DNS_NAME).await;
                (reply, served)
            })
            .await;
            let Ok((reply, served)) = answered else {
                return Err(TestCaseError::fail(format!(
                    "no answer within 5 s after {message:?}"
                )));
            };
            prop_assert_eq!(reply[3] & 0x0f, 0, "NOERROR over TCP");
            let served = served.map_err(|error| error.to_string());
            prop_assert_eq!(served, Ok(vec!["token-one".to_owned()]), "over UDP");
            Ok(())
        })
    });
}
