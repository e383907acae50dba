//! The SIP edge and its DNS responder against real peers: SIPp calls through the `numbat edge`
//! binary over UDP and TCP (UAC → edge → UAS), `dig` asking for the Direct Routing TXT records,
//! and a change made through the API reaching the edge within a second, in the same process and
//! as a separate process on PostgreSQL. The lab (ports, provisioning, the edge as a process) is
//! shared with `edge_abuse` and `edge_tls`.

use crate::common::{send, TestDb};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use numbat::domain::{BaseDomain, SipHeaderName};
use numbat::edge::proxy::{EdgeConfig, Hop, HopSpec, Transport};
use numbat::edge::seal::Keys;
use numbat::edge::{EdgeOptions, RunningEdge};
use numbat::provisioning::{Actor, DeploymentSettings, Door, Provisioning, Role};
use numbat::routing::feed::Overrides;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const V: &str = "api-version=2024-02-29-preview";
const BASE: &str = "dep1.example";
pub(crate) const HEADER: &str = "X-MS-Operator-Content";

/// Numbers the lab provisions.
pub(crate) const DR_WITH_HEADER: &str = "+441632960001";
const DR_WITHOUT_HEADER: &str = "+441632960002";
const FABRIKAM_DR: &str = "+441632960021";
pub(crate) const OC_WITH_HEADER: &str = "+441632960011";
const TPM_NUMBER: &str = "+447700900123";
/// Never provisioned: a fixed line, a mobile.
const UNPROVISIONED_FIXED: &str = "+442079460999";
pub(crate) const UNPROVISIONED_MOBILE: &str = "+447400123456";
const STRANGER: &str = "+441632960555";

pub(crate) fn free_port() -> u16 {
    // Below Linux's ephemeral range (32768 and up): a port the OS hands out for the port 0
    // of a bind, or as the source port of an outgoing connection, could be taken by another
    // test's connection between this check and the edge's own bind (seen as an edge that
    // never answered). Ports here come from one counter per run, so no two tests get the
    // same one; each is checked free for UDP and TCP both, as the edge binds both.
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20_000;
    const LAST: u16 = 32_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let spread = (std::process::id() % 40) as u16 * 300;
    for _ in 0..(LAST - FIRST) {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST + (spread + step) % (LAST - FIRST);
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {LAST}")
}

const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

pub(crate) fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The ports of one lab: the edge's two sides and each next hop's UAS.
#[derive(Clone, Copy)]
pub(crate) struct Ports {
    pub operator: u16,
    pub service: u16,
    pub operator_hop: u16,
    pub oc: u16,
    pub dr: u16,
    pub tpm: u16,
}

impl Ports {
    pub(crate) fn new() -> Self {
        Self {
            operator: free_port(),
            service: free_port(),
            operator_hop: free_port(),
            oc: free_port(),
            dr: free_port(),
            tpm: free_port(),
        }
    }

    fn config(&self, transport: Transport) -> EdgeConfig {
        use numbat::domain::Service;
        let hop = |port| Hop {
            transport,
            addr: local(port),
        };
        let mut next_hops: [Vec<HopSpec>; 5] = Default::default();
        next_hops[Service::TeamsOperatorConnect.index()] = vec![hop(self.oc).into()];
        next_hops[Service::TeamsDirectRouting.index()] = vec![hop(self.dr).into()];
        next_hops[Service::TeamsPhoneMobile.index()] = vec![hop(self.tpm).into()];
        EdgeConfig {
            operator_listen: local(self.operator),
            service_listen: local(self.service),
            operator_addr: local(self.operator),
            service_addr: local(self.service),
            operator_next_hop: hop(self.operator_hop).into(),
            next_hops,
            region: 1,
            operator_tls_listen: None,
            service_tls_listen: None,
            operator_tls_addr: None,
            service_tls_addr: None,
            // Every SIPp and probe of the lab sends from the loopback address.
            operator_peers: vec![LOOPBACK.into()],
            service_peers: vec![LOOPBACK.into()],
            allow_any_peer: false,
            keys: Keys::new(b"the-lab-edge-key-0123456789-0123456789", None).unwrap(),
            invite_rate: 0,
        }
    }
}

fn admin() -> Actor {
    Actor::new("test", &[Role::Admin], Door::Cli)
}

/// A provisioned deployment through the API's door.
pub(crate) struct Provisioned {
    pub test: TestDb,
    app: axum::Router,
    token: String,
}

async fn api(p: &Provisioned, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(format!(
            "/provisioning{path}{}{V}",
            if path.contains('?') { '&' } else { '?' }
        ))
        .header("authorization", format!("Bearer {}", p.token))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (response, text) = send(&p.app, request).await;
    let status = response.status();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn dr_account(label: &str, screening: bool) -> Value {
    json!({ "serviceDetails": { "teamsDirectRouting": { "enabled": true, "syncEnabled": false,
        "configuration": { "callScreening": screening, "subdomain": label,
            "subdomainTokens": { "region1Token": format!("{label}-ms-r1"), "region2Token": format!("{label}-ms-r2") } } } } })
}

pub(crate) fn teams_config() -> Value {
    json!({ "usage": "CallingUserAssignment", "allowTenantAddressUpdate": true, "choosableCapabilities": ["InboundCalling", "OutboundCalling"] })
}

pub(crate) async fn provision(test: TestDb) -> Provisioned {
    let core = Provisioning::new(test.db.clone());
    core.put_settings(
        &admin(),
        DeploymentSettings {
            sip_header_name: Some(SipHeaderName::parse(HEADER).unwrap()),
            base_domain: Some(BaseDomain::parse(BASE).unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let token = crate::common::api_token(&test.db, "bss", &[Role::Admin]).await;
    let p = Provisioned {
        app: crate::common::app_without_bundle(&test.db),
        test,
        token,
    };
    let tenant = "a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a";
    let accounts = [
        ("contoso", dr_account("contoso", true)),
        ("fabrikam", dr_account("fabrikam", false)),
        (
            "oc-customer",
            json!({ "serviceDetails": { "teamsTenantId": tenant, "teamsOperatorConnect": { "enabled": true, "syncEnabled": false } } }),
        ),
        (
            "tpm-customer",
            json!({ "serviceDetails": { "teamsTenantId": tenant, "teamsPhoneMobile": { "enabled": true, "syncEnabled": false } } }),
        ),
    ];
    for (name, mut body) in accounts {
        body["name"] = json!(name);
        let (status, answer) = api(&p, "PUT", &format!("/accounts/{name}"), body).await;
        assert!(status.is_success(), "account {name}: {status} {answer}");
    }
    let numbers = [
        (
            "contoso",
            DR_WITH_HEADER,
            json!({ "teamsDirectRouting": { "enabled": true } }),
            Some("contoso-gold"),
        ),
        (
            "contoso",
            DR_WITHOUT_HEADER,
            json!({ "teamsDirectRouting": { "enabled": true } }),
            None,
        ),
        (
            "fabrikam",
            FABRIKAM_DR,
            json!({ "teamsDirectRouting": { "enabled": true } }),
            Some("fabrikam-1"),
        ),
        (
            "oc-customer",
            OC_WITH_HEADER,
            json!({ "teamsOperatorConnect": { "enabled": true, "configuration": teams_config() } }),
            Some("oc-silver"),
        ),
        (
            "tpm-customer",
            TPM_NUMBER,
            json!({ "teamsPhoneMobile": { "enabled": true, "configuration": teams_config() } }),
            None,
        ),
    ];
    for (account, number, services, header) in numbers {
        let mut body = json!({ "telephoneNumber": number, "accountName": account, "serviceDetails": services });
        if let Some(value) = header {
            body["configuration"] = json!({ "customSipHeader": value });
        }
        let (status, answer) = api(
            &p,
            "PUT",
            &format!("/accounts/{account}/numbers/{number}"),
            body,
        )
        .await;
        assert!(status.is_success(), "number {number}: {status} {answer}");
    }
    p
}

async fn start_edge(
    p: &Provisioned,
    ports: Ports,
    transport: Transport,
    dns: Option<SocketAddr>,
) -> RunningEdge {
    numbat::edge::start(
        p.test.db.clone(),
        EdgeOptions {
            proxy: ports.config(transport),
            overrides: Overrides::default(),
            poll: Duration::from_millis(100),
            dns,
            udp_threads: 2,
            udp_batch: 8,
            tcp: Default::default(),
            metrics: None,
            tls: None,
            keepalive: None,
        },
    )
    .await
    .expect("the edge starts")
}

fn sipp_available() -> bool {
    let found = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "sipp (Debian's sip-tester) is missing: scripts/setup.sh installs it"
        );
        eprintln!("SIPp tests skipped: sipp is not installed (scripts/setup.sh installs it)");
    }
    found
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// One SIPp call (or several): the UAS on `uas_port` with `uas`, then the UAC from its own
/// port to the edge's `edge_port` with `uac`, one call per CSV line. Both must exit 0.
async fn call(
    transport: Transport,
    uac: &str,
    edge_port: u16,
    uas: Option<(&str, u16)>,
    lines: &[[&str; 4]],
) -> Result<(), String> {
    let folder = tempfile::tempdir().unwrap();
    let csv = folder.path().join("calls.csv");
    let mut text = String::from("SEQUENTIAL\n");
    for line in lines {
        text.push_str(&line.join(";"));
        text.push('\n');
    }
    std::fs::write(&csv, text).unwrap();
    let t = match transport {
        Transport::Udp => "u1",
        Transport::Tcp => "t1",
        Transport::Tls => {
            unreachable!("Debian's SIPp has no TLS: the TLS test puts Kamailio in front")
        }
    };
    let calls = lines.len().to_string();
    let dir = folder.path().to_owned();
    let uac = scenario(uac);
    let uas = uas.map(|(file, port)| (scenario(file), port));
    tokio::task::spawn_blocking(move || {
        let mut server = uas.map(|(file, port)| {
            Command::new("sipp")
                .current_dir(&dir)
                .args([
                    "-sf",
                    file.to_str().unwrap(),
                    "-i",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .args([
                    "-t",
                    t,
                    "-m",
                    &calls,
                    "-nostdin",
                    "-timeout",
                    "20s",
                    "-trace_err",
                    "-trace_msg",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sipp runs")
        });
        std::thread::sleep(Duration::from_millis(300));
        let mut client = Command::new("sipp")
            .current_dir(&dir)
            .arg(format!("127.0.0.1:{edge_port}"))
            .args(["-sf", uac.to_str().unwrap(), "-inf", csv.to_str().unwrap()])
            .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-t", t])
            .args([
                "-m",
                &calls,
                "-r",
                "20",
                "-nostdin",
                "-timeout",
                "15s",
                "-trace_err",
                "-trace_msg",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp runs");
        // SIPp's own -timeout does not end a scenario stuck waiting for a message.
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            if let Some(status) = client.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = client.kill();
                let _ = client.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The UAS ends after its calls; one that never got them is stopped.
        let deadline = Instant::now() + Duration::from_secs(10);
        let server_status = server.as_mut().map(|server| loop {
            if let Some(status) = server.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = server.kill();
                let _ = server.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        });
        let ok = client.is_some_and(|c| c.success())
            && server_status.is_none_or(|s| s.is_some_and(|s| s.success()));
        if ok {
            return Ok(());
        }
        let logs = log_tails(&dir, 3000);
        Err(format!("UAC {client:?}, UAS {server_status:?}{logs}"))
    })
    .await
    .unwrap()
}

/// What one call shows: its name, UAC scenario and the edge port it calls, UAS scenario and
/// its port, and the CSV line.
type Check<'a> = (&'a str, &'a str, u16, &'a str, u16, [&'a str; 4]);

async fn calls_through_the_edge(transport: Transport) {
    if !sipp_available() {
        return;
    }
    let p = provision(TestDb::sqlite().await.migrated().await).await;
    let ports = Ports::new();
    // The real binary, its hops over `transport`.
    let t = match transport {
        Transport::Udp => "udp",
        _ => "tcp",
    };
    let hops = [
        ("--operator-next-hop", String::new(), ports.operator_hop),
        ("--next-hop", "operator-connect=".to_owned(), ports.oc),
        ("--next-hop", "teams-direct-routing=".to_owned(), ports.dr),
        ("--next-hop", "teams-phone-mobile=".to_owned(), ports.tpm),
    ]
    .map(|(flag, service, port)| (flag, format!("{service}{t}:{}", local(port))));
    let args: Vec<&str> = hops
        .iter()
        .flat_map(|(flag, hop)| [*flag, hop.as_str()])
        .collect();
    let _edge = EdgeProcess::spawn(&p.test.url, &ports, &args);
    let edge_ip = "127.0.0.1";
    let dr_host = format!("contoso.1r1.{BASE}");
    let fabrikam_host = format!("fabrikam.1r1.{BASE}");
    let caller = "+15550100000";
    let checks: Vec<Check> = vec![
        // From the operator's network: the called number's value comes back on the responses.
        (
            "OC number with a header",
            "operator_uac.xml",
            ports.operator,
            "service_uas.xml",
            ports.oc,
            [OC_WITH_HEADER, caller, "oc-silver", edge_ip],
        ),
        (
            "DR number: header back, Contact rewritten toward Teams",
            "operator_uac.xml",
            ports.operator,
            "service_uas_contact.xml",
            ports.dr,
            [DR_WITH_HEADER, caller, "contoso-gold", edge_ip],
        ),
        (
            "DR number without a value",
            "operator_uac_no_header.xml",
            ports.operator,
            "service_uas_contact.xml",
            ports.dr,
            [DR_WITHOUT_HEADER, caller, "NONE", edge_ip],
        ),
        (
            "Teams Phone Mobile number",
            "operator_uac_no_header.xml",
            ports.operator,
            "service_uas.xml",
            ports.tpm,
            [TPM_NUMBER, caller, "NONE", edge_ip],
        ),
        (
            "unprovisioned fixed line reaches Operator Connect",
            "operator_uac_no_header.xml",
            ports.operator,
            "service_uas.xml",
            ports.oc,
            [UNPROVISIONED_FIXED, caller, "NONE", edge_ip],
        ),
        (
            "unprovisioned mobile reaches Teams Phone Mobile",
            "operator_uac_no_header.xml",
            ports.operator,
            "service_uas.xml",
            ports.tpm,
            [UNPROVISIONED_MOBILE, caller, "NONE", edge_ip],
        ),
        (
            "Teams hangs up a DR call: the BYE reaches the caller's own Contact, with the header",
            "operator_uac_callee_hangs_up.xml",
            ports.operator,
            "service_uas_hangs_up.xml",
            ports.dr,
            [DR_WITH_HEADER, caller, "contoso-gold", edge_ip],
        ),
        // Toward the operator's network: the calling number's value is on the INVITE and the
        // BYE, and the forged copy is gone.
        (
            "DR caller with a header",
            "service_uac.xml",
            ports.service,
            "operator_uas.xml",
            ports.operator_hop,
            [caller, DR_WITH_HEADER, "contoso-gold", &dr_host],
        ),
        (
            "OC caller with a header",
            "service_uac.xml",
            ports.service,
            "operator_uas.xml",
            ports.operator_hop,
            [caller, OC_WITH_HEADER, "oc-silver", edge_ip],
        ),
        (
            "DR caller without a value",
            "service_uac.xml",
            ports.service,
            "operator_uas_no_header.xml",
            ports.operator_hop,
            [caller, DR_WITHOUT_HEADER, "NONE", &dr_host],
        ),
        (
            "unprovisioned caller from a service",
            "service_uac.xml",
            ports.service,
            "operator_uas_no_header.xml",
            ports.operator_hop,
            [caller, STRANGER, "NONE", edge_ip],
        ),
        (
            "TPM caller",
            "service_uac.xml",
            ports.service,
            "operator_uas_no_header.xml",
            ports.operator_hop,
            [caller, TPM_NUMBER, "NONE", edge_ip],
        ),
        // Screening off: a stranger's call through fabrikam's subdomain passes.
        (
            "stranger through an account that does not screen",
            "service_uac.xml",
            ports.service,
            "operator_uas_no_header.xml",
            ports.operator_hop,
            [caller, STRANGER, "NONE", &fabrikam_host],
        ),
    ];
    let mut failures = Vec::new();
    for (what, uac, edge_port, uas, uas_port, line) in &checks {
        if let Err(error) = call(transport, uac, *edge_port, Some((uas, *uas_port)), &[*line]).await
        {
            eprintln!("{what}: {error}");
            failures.push(format!(
                "{what}: {}",
                error.lines().next().unwrap_or_default()
            ));
        }
    }
    // Screening on: a stranger, and a number of another customer, are refused with 403.
    for line in [
        [caller, STRANGER, "NONE", dr_host.as_str()],
        [caller, FABRIKAM_DR, "NONE", dr_host.as_str()],
    ] {
        if let Err(error) = call(
            transport,
            "service_uac_refused.xml",
            ports.service,
            None,
            &[line],
        )
        .await
        {
            eprintln!("screening {}: {error}", line[1]);
            failures.push(format!(
                "screening {}: {}",
                line[1],
                error.lines().next().unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the calls went wrong:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test]
async fn calls_over_udp_get_the_header_routing_contact_and_screening_provisioning_says() {
    calls_through_the_edge(Transport::Udp).await;
}

#[tokio::test]
async fn calls_over_tcp_get_the_same() {
    calls_through_the_edge(Transport::Tcp).await;
}

/// Runs `dig` against the responder and returns its `+short` answer lines.
fn dig(server: SocketAddr, args: &[&str]) -> Vec<String> {
    let output = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args([
            "-p",
            &server.port().to_string(),
            "+short",
            "+time=2",
            "+tries=1",
        ])
        .args(args)
        .output()
        .expect("dig runs (scripts/setup.sh installs dnsutils)");
    assert!(output.status.success(), "dig {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn subdomain_status(p: &Provisioned, account: &str) -> String {
    let (_, body) = api(p, "GET", &format!("/accounts/{account}"), Value::Null).await;
    body["serviceDetails"]["teamsDirectRouting"]["configuration"]["subdomainStatus"]
        .as_str()
        .or(body["serviceDetails"]["teamsDirectRouting"]["subdomainStatus"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn wait_for_status(p: &Provisioned, account: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = subdomain_status(p, account).await;
        if status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{account}'s subdomainStatus stayed {status:?}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_gets_each_customers_txt_tokens_and_accounts_learn_their_subdomain_status() {
    let p = provision(TestDb::sqlite().await.migrated().await).await;
    // A second account asking for contoso's label: it cannot be served.
    let (status, answer) = api(&p, "PUT", "/accounts/contoso-two", {
        let mut body = dr_account("contoso", true);
        body["name"] = json!("contoso-two");
        body["serviceDetails"]["teamsDirectRouting"]["configuration"]["subdomainTokens"]
            ["region1Token"] = json!("its-own-token");
        body
    })
    .await;
    assert!(status.is_success(), "{status} {answer}");
    assert_eq!(subdomain_status(&p, "contoso").await, "notProvisioned");
    let dns = local(free_port());
    let edge = start_edge(&p, Ports::new(), Transport::Udp, Some(dns)).await;
    let dns = edge.dns.expect("the DNS responder listens");

    assert_eq!(
        dig(dns, &["TXT", &format!("contoso.1r1.{BASE}")]),
        ["\"contoso-ms-r1\""]
    );
    assert_eq!(
        dig(dns, &["TXT", &format!("CONTOSO.1r2.{BASE}")]),
        ["\"contoso-ms-r2\""]
    );
    assert_eq!(
        dig(dns, &["TXT", &format!("fabrikam.1r2.{BASE}"), "+tcp"]),
        ["\"fabrikam-ms-r2\""]
    );
    assert!(dig(dns, &["TXT", &format!("nobody.1r1.{BASE}")]).is_empty());
    let soa = dig(dns, &["SOA", BASE]);
    assert!(
        soa.len() == 1 && soa[0].starts_with(&format!("ns1.{BASE}.")),
        "{soa:?}"
    );

    wait_for_status(&p, "contoso", "provisioned").await;
    wait_for_status(&p, "fabrikam", "provisioned").await;
    wait_for_status(&p, "contoso-two", "inconsistent").await;

    // A new token is served, and checked, as soon as the account changes.
    let mut body = dr_account("fabrikam", false);
    body["name"] = json!("fabrikam");
    body["serviceDetails"]["teamsDirectRouting"]["configuration"]["subdomainTokens"]
        ["region1Token"] = json!("renewed-token");
    let (status, answer) = api(&p, "PUT", "/accounts/fabrikam", body).await;
    assert!(status.is_success(), "{status} {answer}");
    let deadline = Instant::now() + Duration::from_secs(2);
    while dig(dns, &["TXT", &format!("fabrikam.1r1.{BASE}")]) != ["\"renewed-token\""] {
        assert!(
            Instant::now() < deadline,
            "the new token was not served within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_status(&p, "fabrikam", "provisioned").await;
}

/// A call from the service side whose calling number is `number`, straight onto the edge's
/// UDP socket; returns the custom header value the operator's side received on the INVITE.
pub(crate) fn probe(
    edge_service: SocketAddr,
    operator_hop: &UdpSocket,
    number: &str,
    n: u32,
) -> Option<String> {
    let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = caller.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:+15550100000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKprobe{n}\r\n\
         From: <sip:{number}@127.0.0.1>;tag=p{n}\r\nTo: <sip:+15550100000@127.0.0.1>\r\n\
         Call-ID: probe-{n}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    caller.send_to(invite.as_bytes(), edge_service).unwrap();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let (len, _) = operator_hop
            .recv_from(&mut buf)
            .expect("the edge forwards the INVITE");
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        if !text.contains(&format!("Call-ID: probe-{n}\r\n")) {
            assert!(
                Instant::now() < deadline,
                "no forwarded INVITE for probe {n}"
            );
            continue;
        }
        return text
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{HEADER}: ")))
            .map(str::to_owned);
    }
}

/// Changes `OC_WITH_HEADER`'s value through the API and returns how long the edge took to
/// put the new value on calls.
async fn time_for_a_change_to_reach_the_edge(
    p: &Provisioned,
    edge_service: SocketAddr,
    hop: &UdpSocket,
) -> Duration {
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    assert_eq!(
        probe(edge_service, hop, OC_WITH_HEADER, next()).as_deref(),
        Some("oc-silver")
    );
    let body = json!({ "telephoneNumber": OC_WITH_HEADER, "accountName": "oc-customer",
        "serviceDetails": { "teamsOperatorConnect": { "enabled": true, "configuration": teams_config() } },
        "configuration": { "customSipHeader": "oc-platinum" } });
    let (status, answer) = api(
        p,
        "PUT",
        &format!("/accounts/oc-customer/numbers/{OC_WITH_HEADER}"),
        body,
    )
    .await;
    assert!(status.is_success(), "{status} {answer}");
    let changed = Instant::now();
    loop {
        if probe(edge_service, hop, OC_WITH_HEADER, next()).as_deref() == Some("oc-platinum") {
            return changed.elapsed();
        }
        assert!(
            changed.elapsed() < Duration::from_secs(5),
            "the edge never saw the change"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_change_reaches_the_edge_in_the_same_process_within_a_second() {
    let p = provision(TestDb::sqlite().await.migrated().await).await;
    let ports = Ports::new();
    let hop = UdpSocket::bind(local(ports.operator_hop)).unwrap();
    hop.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let _edge = start_edge(&p, ports, Transport::Udp, None).await;
    let took = time_for_a_change_to_reach_the_edge(&p, local(ports.service), &hop).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn an_api_change_reaches_a_separate_edge_process_on_postgresql_within_a_second() {
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let test = test.migrated().await;
    let url = test.url.clone();
    let p = provision(test).await;
    let ports = Ports::new();
    let hop = UdpSocket::bind(local(ports.operator_hop)).unwrap();
    hop.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut edge = Command::new(env!("CARGO_BIN_EXE_numbat"))
        .args([
            "edge",
            "--database-url",
            &url,
            "--allow-any-peer",
            "--keepalive-secs",
            "0",
        ])
        .args(["--operator-listen", &local(ports.operator).to_string()])
        .args(["--service-listen", &local(ports.service).to_string()])
        .args([
            "--operator-next-hop",
            &format!("udp:{}", local(ports.operator_hop)),
        ])
        .args([
            "--next-hop",
            &format!("operator-connect=udp:{}", local(ports.oc)),
        ])
        // Polling alone would not do it within a second: the notification must.
        .args(["--poll-ms", "5000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("numbat edge starts");
    wait_until_it_answers(local(ports.operator));
    let took = time_for_a_change_to_reach_the_edge(&p, local(ports.service), &hop).await;
    let _ = edge.kill();
    let _ = edge.wait();
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn the_lookup_endpoint_gives_the_edges_decision() {
    let p = provision(TestDb::sqlite().await.migrated().await).await;
    let get = |path: String| {
        let p = &p;
        async move { api(p, "GET", &path, Value::Null).await }
    };
    let (status, body) = get(format!(
        "/routing/{}?direction=fromOperator",
        DR_WITH_HEADER.replace('+', "%2B")
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["service"], "teamsDirectRouting");
    assert_eq!(body["accountName"], "contoso");
    assert_eq!(
        body["customSipHeader"],
        json!({ "name": HEADER, "value": "contoso-gold" })
    );
    assert_eq!(body["contactHost"], format!("contoso.1r1.{BASE}"));

    let (_, body) = get(format!(
        "/routing/{}?direction=fromOperator",
        UNPROVISIONED_MOBILE.replace('+', "%2B")
    ))
    .await;
    assert_eq!(
        (body["service"].as_str(), body["byDefaultRule"].as_bool()),
        (Some("teamsPhoneMobile"), Some(true))
    );

    let (_, body) = get(format!(
        "/routing/{}?direction=toOperator&subdomain=contoso",
        STRANGER.replace('+', "%2B")
    ))
    .await;
    assert_eq!(body["rejection"]["status"], 403, "{body}");
    // A label is a DNS name: any case finds its account.
    let (_, body) = get(format!(
        "/routing/{}?direction=toOperator&subdomain=CONTOSO",
        STRANGER.replace('+', "%2B")
    ))
    .await;
    assert_eq!(body["rejection"]["status"], 403, "{body}");
    let (_, body) = get(format!(
        "/routing/{}?direction=toOperator&subdomain=fabrikam",
        STRANGER.replace('+', "%2B")
    ))
    .await;
    assert!(body["rejection"].is_null(), "{body}");

    let (status, body) = get(format!(
        "/routing/{}?direction=sideways",
        OC_WITH_HEADER.replace('+', "%2B")
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("direction"), "{body}");
}

/// Waits until an edge answers OPTIONS at `addr` (30 s at most).
pub(crate) fn wait_until_it_answers(addr: SocketAddr) {
    let options = UdpSocket::bind("127.0.0.1:0").unwrap();
    options
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let me = options.local_addr().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ping = format!(
            "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKready\r\nFrom: <sip:t@127.0.0.1>;tag=r\r\n\
             To: <sip:127.0.0.1>\r\nCall-ID: ready\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        options.send_to(ping.as_bytes(), addr).unwrap();
        let mut buf = [0u8; 2048];
        if let Ok((len, _)) = options.recv_from(&mut buf) {
            if buf[..len].starts_with(b"SIP/2.0 200") {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "numbat edge did not answer OPTIONS within 30 s"
        );
    }
}

/// The last `chars` characters of each `.log` file in `dir` (SIPp's, a relay's), to say why a
/// call failed.
pub(crate) fn log_tails(dir: &Path, chars: usize) -> String {
    let mut logs = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".log") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let skip = text.chars().count().saturating_sub(chars);
            let tail: String = text.chars().skip(skip).collect();
            logs.push_str(&format!("\n--- {name}\n{tail}"));
        }
    }
    logs
}

const KEY: &str = "0f4c1e5a9b7d2c3e8f6a1b2c3d4e5f60";

/// `numbat edge` as a separate process, stopped when dropped.
pub(crate) struct EdgeProcess {
    child: Child,
    metrics: SocketAddr,
}

impl Drop for EdgeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EdgeProcess {
    /// An edge on `ports` whose Direct Routing next hop is `dr_hop`, both sides' peers the
    /// loopback address, with `extra` arguments.
    pub(crate) fn start(url: &str, ports: &Ports, dr_hop: &str, extra: &[&str]) -> Self {
        let operator_hop = format!("udp:{}", local(ports.operator_hop));
        let oc_hop = format!("operator-connect=udp:{}", local(ports.oc));
        let dr_hop = format!("teams-direct-routing={dr_hop}");
        let mut args = vec![
            "--operator-next-hop",
            &operator_hop,
            "--next-hop",
            &oc_hop,
            "--next-hop",
            &dr_hop,
        ];
        args.extend_from_slice(extra);
        Self::spawn(url, ports, &args)
    }

    /// An edge on `ports`' two sides, both sides' peers the loopback address, its next hops
    /// and anything else from `args`.
    pub(crate) fn spawn(url: &str, ports: &Ports, args: &[&str]) -> Self {
        let metrics = local(free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_numbat"))
            .args(["edge", "--database-url", url])
            .args(["--operator-listen", &local(ports.operator).to_string()])
            .args(["--service-listen", &local(ports.service).to_string()])
            .args([
                "--operator-peer",
                "127.0.0.1",
                "--service-peer",
                "127.0.0.1",
            ])
            .args(["--metrics-listen", &metrics.to_string()])
            // The hops here are bare sockets that expect calls only (one test turns them on).
            .args(["--keepalive-secs", "0"])
            .args(args)
            .env("NUMBAT_EDGE_KEY", KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("numbat edge starts");
        let edge = Self { child, metrics };
        wait_until_it_answers(local(ports.operator));
        edge
    }

    /// A sample's value from the edge's `/metrics` (0 when absent).
    pub(crate) fn metric(&self, sample: &str) -> f64 {
        let mut stream = TcpStream::connect(self.metrics).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's resident memory, KiB.
    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

/// A new call from the service side for `number`, sent from `caller`, with Call-ID `call`.
fn invite_from_the_service_side(caller: &UdpSocket, edge: SocketAddr, number: &str, call: &str) {
    let me = caller.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:+15550100000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call}\r\n\
         From: <sip:{number}@127.0.0.1>;tag=c-{call}\r\nTo: <sip:+15550100000@127.0.0.1>\r\n\
         Call-ID: {call}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    caller.send_to(invite.as_bytes(), edge).unwrap();
}

/// The next datagram `socket` receives, as text.
fn next_message(socket: &UdpSocket) -> String {
    let mut buf = [0u8; 4096];
    let (len, _) = socket
        .recv_from(&mut buf)
        .expect("a message within the timeout");
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// SIGTERM drains the edge: a new call and OPTIONS are answered 503 (peers turn to another
/// edge), the answer to a call already forwarded still reaches its caller, and after
/// `--drain-secs` the process exits cleanly.
#[tokio::test]
async fn on_sigterm_the_edge_refuses_new_calls_relays_calls_in_flight_then_exits() {
    let p = provision(TestDb::sqlite().await.migrated().await).await;
    let ports = Ports::new();
    let hop = UdpSocket::bind(local(ports.operator_hop)).unwrap();
    hop.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut edge = EdgeProcess::start(
        &p.test.url,
        &ports,
        &format!("udp:{}", local(ports.dr)),
        &["--drain-secs", "10"],
    );
    let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
    caller
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    invite_from_the_service_side(&caller, local(ports.service), OC_WITH_HEADER, "in-flight");
    let forwarded = next_message(&hop);
    assert!(forwarded.starts_with("INVITE "), "{forwarded}");

    let sent = Command::new("kill")
        .args(["-TERM", &edge.pid().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let draining = "numbat_edge_rejections_total{reason=\"draining\"}";
    let started = Instant::now();
    let newcomer = UdpSocket::bind("127.0.0.1:0").unwrap();
    newcomer
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let refusal = loop {
        invite_from_the_service_side(
            &newcomer,
            local(ports.service),
            OC_WITH_HEADER,
            &format!("new-{}", started.elapsed().as_micros()),
        );
        // Before the signal lands the call is forwarded; the hop drops it, the test retries.
        let mut buf = [0u8; 4096];
        if let Ok((len, _)) = newcomer.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..len]).into_owned();
            if !text.starts_with("SIP/2.0 100") {
                break text;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no refusal after SIGTERM"
        );
    };
    newcomer
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    assert!(
        refusal.starts_with("SIP/2.0 503 Service Unavailable\r\n"),
        "{refusal}"
    );
    assert!(
        refusal.contains("\r\nWarning: 399 numbat \"this edge is shutting down\"\r\n"),
        "{refusal}"
    );
    assert!(refusal.contains("\r\nRetry-After: 30\r\n"), "{refusal}");
    assert!(edge.metric(draining) >= 1.0);
    // A peer's health check is answered 503 too, so it stops sending calls here.
    let me = newcomer.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKping\r\n\
         From: <sip:ping@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ping\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    newcomer
        .send_to(options.as_bytes(), local(ports.operator))
        .unwrap();
    let pong = next_message(&newcomer);
    assert!(pong.starts_with("SIP/2.0 503 "), "{pong}");

    // The callee answers the call forwarded before the signal: the answer reaches the caller.
    let mut answer = String::from("SIP/2.0 200 OK\r\n");
    for line in forwarded.split("\r\n").skip(1) {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "cseq" => answer.push_str(&format!("{line}\r\n")),
            "to" => answer.push_str(&format!("{line};tag=callee\r\n")),
            _ => {}
        }
    }
    answer.push_str("Content-Length: 0\r\n\r\n");
    hop.send_to(answer.as_bytes(), local(ports.operator))
        .unwrap();
    let answered = loop {
        let message = next_message(&caller);
        if !message.starts_with("SIP/2.0 100") {
            break message;
        }
    };
    assert!(answered.starts_with("SIP/2.0 200 OK\r\n"), "{answered}");
    assert!(answered.contains("Call-ID: in-flight\r\n"), "{answered}");

    // Then it exits, cleanly, once the grace is over.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = edge.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the edge did not exit after draining"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(8),
        "it waited out the grace: {:?}",
        started.elapsed()
    );
}

/// A new call from the operator's network to `number`, sent from `caller`, with Call-ID `call`.
fn invite_from_the_operator_side(caller: &UdpSocket, edge: SocketAddr, number: &str, call: &str) {
    let me = caller.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:{number}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call}\r\n\
         From: <sip:+15550100000@127.0.0.1>;tag=c-{call}\r\nTo: <sip:{number}@127.0.0.1>\r\n\
         Call-ID: {call}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    caller.send_to(invite.as_bytes(), edge).unwrap();
}

/// The first answer to `caller` that is not a 100 Trying.
fn final_answer(caller: &UdpSocket) -> String {
    loop {
        let message = next_message(caller);
        if !message.starts_with("SIP/2.0 100") {
            return message;
        }
    }
}

/// Reserved and quarantined numbers are refused at call time with a `Warning` that says why,
/// whichever way the call goes; an assigned number routes as before; and a number whose
/// quarantine ends routes again once the change reaches the edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_numbers_are_refused_with_a_warning_and_assigned_ones_route_as_before() {
    const RESERVED: &str = "+442079460777";
    const QUARANTINED: &str = "+442079460778";
    let p = provision(TestDb::sqlite().await.migrated().await).await;
    let act = |body: Value| api(&p, "POST", "/inventory", body);
    let (status, answer) =
        act(json!({ "action": "add", "telephoneNumbers": [RESERVED, QUARANTINED] })).await;
    assert_eq!(
        (status, answer["done"].as_u64()),
        (StatusCode::OK, Some(2)),
        "{answer}"
    );
    let (_, answer) = act(
        json!({ "action": "reserve", "accountName": "contoso", "telephoneNumbers": [RESERVED] }),
    )
    .await;
    assert_eq!(answer["done"], 1, "{answer}");
    let path = format!("/accounts/contoso/numbers/{QUARANTINED}");
    let number = json!({ "telephoneNumber": QUARANTINED, "accountName": "contoso", "serviceDetails": { "teamsDirectRouting": { "enabled": true } } });
    assert!(api(&p, "PUT", &path, number).await.0.is_success());
    assert_eq!(
        api(&p, "DELETE", &path, Value::Null).await.0,
        StatusCode::NO_CONTENT
    );

    let ports = Ports::new();
    let hop = UdpSocket::bind(local(ports.operator_hop)).unwrap();
    hop.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let service_hop = UdpSocket::bind(local(ports.oc)).unwrap();
    service_hop
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let _edge = start_edge(&p, ports, Transport::Udp, None).await;
    let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
    caller
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();

    let refusals = [
        ("to the reserved number", true, RESERVED, "reserved"),
        ("from the reserved number", false, RESERVED, "reserved"),
        (
            "to the quarantined number",
            true,
            QUARANTINED,
            "quarantined",
        ),
        (
            "from the quarantined number",
            false,
            QUARANTINED,
            "quarantined",
        ),
    ];
    for (i, (what, from_operator, number, why)) in refusals.into_iter().enumerate() {
        let call = format!("held-{i}");
        if from_operator {
            invite_from_the_operator_side(&caller, local(ports.operator), number, &call);
        } else {
            invite_from_the_service_side(&caller, local(ports.service), number, &call);
        }
        let answer = final_answer(&caller);
        assert!(answer.starts_with("SIP/2.0 404 "), "{what}: {answer}");
        let warning = answer
            .lines()
            .find(|l| l.starts_with("Warning: 399 numbat \""))
            .unwrap_or_else(|| panic!("{what}: no Warning in {answer}"));
        assert!(
            warning.contains(number) && warning.contains(why),
            "{what}: {warning}"
        );
    }

    // An assigned number routes as before: its call reaches the operator's hop.
    invite_from_the_service_side(&caller, local(ports.service), OC_WITH_HEADER, "assigned");
    let forwarded = next_message(&hop);
    assert!(forwarded.starts_with("INVITE "), "{forwarded}");

    // The quarantine ends through the API: the number is available, and calls to it take the
    // default rule (a fixed line reaches Operator Connect) once the edge has the change.
    let (_, answer) =
        act(json!({ "action": "endQuarantine", "telephoneNumbers": [QUARANTINED] })).await;
    assert_eq!(answer["done"], 1, "{answer}");
    let started = Instant::now();
    let reached = loop {
        invite_from_the_operator_side(
            &caller,
            local(ports.operator),
            QUARANTINED,
            &format!("freed-{}", started.elapsed().as_micros()),
        );
        let mut buf = [0u8; 4096];
        if let Ok((len, _)) = service_hop.recv_from(&mut buf) {
            break String::from_utf8_lossy(&buf[..len]).into_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the edge never learnt the quarantine ended"
        );
    };
    assert!(
        reached.starts_with(&format!("INVITE sip:{QUARANTINED}@")),
        "{reached}"
    );
}
