//! The SIP edge as an attacker on the same network finds it, through the real binary: forged
//! in-dialog requests and forged responses reach no socket at the address they name while a
//! real dialog's requests and responses still flow; 2,000 idle TCP connections, a slow sender
//! and one connection too many; a next hop that accepts nothing costing only its own calls.

use crate::common::TestDb;
use crate::edge::{
    free_port, local, provision, EdgeProcess, Ports, DR_WITH_HEADER, HEADER, OC_WITH_HEADER,
    UNPROVISIONED_MOBILE,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

fn udp(read_timeout_ms: u64) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(read_timeout_ms)))
        .unwrap();
    socket
}

fn receive(socket: &UdpSocket) -> Option<String> {
    let mut buf = [0u8; 65_535];
    let (len, _) = socket.recv_from(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..len]).into_owned())
}

/// Every value of header `name` in a message, in order.
fn values<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
    text.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .collect()
}

/// A response to `request` from the side that received it, with its Via, Record-Route, From,
/// To (tagged), Call-ID and CSeq, and `contact`.
fn answer(request: &str, status: &str, contact: SocketAddr) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for name in ["Via", "Record-Route", "From", "Call-ID", "CSeq"] {
        for value in values(request, name) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!("To: {};tag=callee\r\n", values(request, "To")[0]));
    out.push_str(&format!(
        "Contact: <sip:callee@{contact}>\r\nContent-Length: 0\r\n\r\n"
    ));
    out
}

fn request(method: &str, uri: &str, via_from: SocketAddr, headers: &str) -> String {
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {via_from};branch=z9hG4bK{}\r\n{headers}\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        rand_branch()
    )
}

fn rand_branch() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_in_dialog_requests_and_responses_reach_no_one_while_real_dialogs_flow() {
    let p = provision(TestDb::sqlite().await.migrated().await).await;
    let ports = Ports::new();
    let oc_hop = UdpSocket::bind(local(ports.oc)).unwrap();
    oc_hop
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let edge = EdgeProcess::start(
        &p.test.url,
        &ports,
        &format!("udp:{}", local(ports.dr)),
        &[],
    );
    // The address every forgery names: a socket that must never hear from the edge.
    let victim_port = free_port();
    let victim = UdpSocket::bind(local(victim_port)).unwrap();
    victim.set_nonblocking(true).unwrap();
    let victim_tcp = TcpListener::bind(local(victim_port)).unwrap();
    victim_tcp.set_nonblocking(true).unwrap();
    let victim_hex = format!("7f000001-{victim_port:04x}");
    let service = local(ports.service);
    let attacker = udp(2000);
    let me = attacker.local_addr().unwrap();
    let dialog = format!(
        "From: <sip:{OC_WITH_HEADER}@x>;tag=a\r\nTo: <sip:+15550100000@x>;tag=forged\r\nCall-ID: r1\r\nCSeq: 1 INVITE\r\n"
    );
    let forgeries = [
        // The attack, as it was written.
        format!("Route: <sip:{service};lr>\r\n{dialog}"),
        // The same, with a signature made up for the victim's address.
        format!("Route: <sip:{service};lr;nbd=u{victim_hex};nbm=0123456789abcdef0123>\r\n{dialog}"),
    ];
    for (n, headers) in forgeries.iter().enumerate() {
        for uri in [
            format!("sip:+15550100000@127.0.0.1:{victim_port}"),
            format!("sip:+15550100000@127.0.0.1:{victim_port};transport=tcp"),
        ] {
            attacker
                .send_to(request("INVITE", &uri, me, headers).as_bytes(), service)
                .unwrap();
            let refusal = receive(&attacker).expect("the edge answers the forgery");
            assert!(
                refusal.starts_with("SIP/2.0 403 "),
                "forgery {n}: {refusal}"
            );
        }
    }
    // Over TCP too: the answer comes back down the attacker's own connection.
    let mut tcp = TcpStream::connect(service).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let tcp_me = tcp.local_addr().unwrap();
    tcp.write_all(
        request(
            "INVITE",
            &format!("sip:+15550100000@127.0.0.1:{victim_port};transport=tcp"),
            tcp_me,
            &forgeries[0],
        )
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
        .as_bytes(),
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    let len = tcp.read(&mut buf).unwrap();
    let over_tcp = String::from_utf8_lossy(&buf[..len]);
    assert!(over_tcp.starts_with("SIP/2.0 403 "), "over TCP: {over_tcp}");
    // Forged responses whose top Via looks like the edge's, naming the victim.
    for via in [
        format!("SIP/2.0/UDP {service};branch=z9hG4bK-nb0123456789abcdef;nbs=o;nbr={victim_hex}"),
        format!("SIP/2.0/UDP {service};branch=z9hG4bK-nb0123456789abcdef;nbs=o;nbr={victim_hex};nbm=0123456789abcdef0123"),
    ] {
        let response = format!(
            "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        attacker.send_to(response.as_bytes(), service).unwrap();
    }

    // A real call from the operator's side to the Operator Connect number: the INVITE, the
    // 200 back with the number's header, then a BYE each way along the edge's routes.
    let caller = udp(3000);
    let caller_addr = caller.local_addr().unwrap();
    let invite = request(
        "INVITE",
        &format!("sip:{OC_WITH_HEADER}@127.0.0.1"),
        caller_addr,
        &format!(
            "From: <sip:+15550100000@127.0.0.1>;tag=caller\r\nTo: <sip:{OC_WITH_HEADER}@127.0.0.1>\r\n\
             Call-ID: real-1\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{caller_addr}>\r\n"
        ),
    );
    caller
        .send_to(invite.as_bytes(), local(ports.operator))
        .unwrap();
    let at_callee = receive(&oc_hop).expect("the INVITE reaches Operator Connect's hop");
    assert_eq!(values(&at_callee, "Record-Route").len(), 2, "{at_callee}");
    let ok = answer(&at_callee, "200 OK", local(ports.oc));
    oc_hop.send_to(ok.as_bytes(), service).unwrap();
    let at_caller = receive(&caller).expect("the 200 reaches the caller");
    assert!(at_caller.starts_with("SIP/2.0 200 "), "{at_caller}");
    assert_eq!(values(&at_caller, HEADER), ["oc-silver"], "{at_caller}");
    // The caller's re-INVITE along its route set (the 200's Record-Route, reversed), and its
    // 200 back from the callee.
    let mut reversed: Vec<&str> = values(&at_caller, "Record-Route");
    reversed.reverse();
    // A request of the caller's in this dialog, along that route set.
    let from_caller = |method: &str, cseq: u32| {
        request(
            method,
            &format!("sip:callee@{}", local(ports.oc)),
            caller_addr,
            &format!(
                "Route: {}\r\nFrom: <sip:+15550100000@127.0.0.1>;tag=caller\r\nTo: {}\r\nCall-ID: real-1\r\nCSeq: {cseq} {method}\r\n",
                reversed.join(", "),
                values(&at_caller, "To")[0]
            ),
        )
    };
    let reinvite = from_caller("INVITE", 2);
    caller
        .send_to(reinvite.as_bytes(), local(ports.operator))
        .unwrap();
    let reinvite_at_callee = receive(&oc_hop).expect("the re-INVITE reaches the callee");
    assert!(
        reinvite_at_callee.starts_with("INVITE sip:callee@"),
        "{reinvite_at_callee}"
    );
    let ok = answer(&reinvite_at_callee, "200 OK", local(ports.oc));
    oc_hop.send_to(ok.as_bytes(), service).unwrap();
    let ok_at_caller = receive(&caller).expect("the re-INVITE's 200 reaches the caller");
    assert!(
        ok_at_caller.starts_with("SIP/2.0 200 ") && ok_at_caller.contains("CSeq: 2 INVITE"),
        "{ok_at_caller}"
    );
    // The callee hangs up: its route set is the Record-Route in order.
    let route = values(&at_callee, "Record-Route").join(", ");
    let bye = request(
        "BYE",
        &format!("sip:caller@{caller_addr}"),
        local(ports.oc),
        &format!(
            "Route: {route}\r\nFrom: {};tag=callee\r\nTo: {}\r\nCall-ID: real-1\r\nCSeq: 1 BYE\r\n",
            values(&at_callee, "To")[0],
            values(&at_callee, "From")[0]
        ),
    );
    oc_hop.send_to(bye.as_bytes(), service).unwrap();
    let bye_at_caller = receive(&caller).expect("the callee's BYE reaches the caller");
    assert!(bye_at_caller.starts_with("BYE "), "{bye_at_caller}");
    assert_eq!(values(&bye_at_caller, HEADER), ["oc-silver"]);
    // The caller's own BYE (another dialog's turn) along the same route set.
    let bye = from_caller("BYE", 3);
    caller
        .send_to(bye.as_bytes(), local(ports.operator))
        .unwrap();
    let bye_at_callee = receive(&oc_hop).expect("the caller's BYE reaches the callee");
    assert!(
        bye_at_callee.starts_with("BYE sip:callee@"),
        "{bye_at_callee}"
    );

    // Nothing reached the victim, by UDP or TCP.
    std::thread::sleep(Duration::from_millis(300));
    let mut buf = [0u8; 2048];
    assert_eq!(
        victim.recv_from(&mut buf).map_err(|e| e.kind()).err(),
        Some(ErrorKind::WouldBlock),
        "a datagram reached the address a forgery named"
    );
    assert_eq!(
        victim_tcp.accept().map_err(|e| e.kind()).err(),
        Some(ErrorKind::WouldBlock),
        "a connection reached the address a forgery named"
    );
    assert_eq!(
        edge.metric("numbat_edge_forged_total{kind=\"request\"}"),
        5.0
    );
    assert_eq!(
        edge.metric("numbat_edge_forged_total{kind=\"response\"}"),
        2.0
    );
    assert_eq!(
        edge.metric("numbat_edge_rejections_total{reason=\"forged_route\"}"),
        5.0
    );
    assert_eq!(
        edge.metric("numbat_edge_calls_total{service=\"teamsOperatorConnect\"}"),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_tcp_connections_leave_calls_going_and_are_closed_when_idle() {
    let p = provision(TestDb::sqlite().await.migrated().await).await;
    let ports = Ports::new();
    let oc_hop = UdpSocket::bind(local(ports.oc)).unwrap();
    oc_hop
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let edge = EdgeProcess::start(
        &p.test.url,
        &ports,
        &format!("udp:{}", local(ports.dr)),
        &[
            "--tcp-idle-secs",
            "4",
            "--tcp-message-secs",
            "2",
            "--tcp-max-per-source",
            "2001",
        ],
    );
    let operator = local(ports.operator);
    let before = edge.rss_kib();
    // Each says OPTIONS once and is answered, then stays silent.
    let mut idle = Vec::with_capacity(2000);
    let mut buf = [0u8; 2048];
    for n in 0..2000 {
        let mut stream = TcpStream::connect(operator).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let me = stream.local_addr().unwrap();
        let options = format!(
            "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bKidle{n}\r\n\
             From: <sip:idle@127.0.0.1>;tag={n}\r\nTo: <sip:127.0.0.1>\r\nCall-ID: idle-{n}\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        stream.write_all(options.as_bytes()).unwrap();
        let len = stream.read(&mut buf).unwrap();
        assert!(buf[..len].starts_with(b"SIP/2.0 200 "), "connection {n}");
        idle.push(stream);
    }
    let opened = Instant::now();
    assert_eq!(
        edge.metric("numbat_edge_tcp_connections{side=\"operator\"}"),
        2000.0
    );
    let holding = edge.rss_kib();
    // A slow sender: half a message, never finished.
    let mut slow = TcpStream::connect(operator).unwrap();
    slow.write_all(b"INVITE sip:+441632960011@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKslow\r\n")
        .unwrap();
    let slow_opened = Instant::now();
    // One more than a source may hold is closed at once.
    let mut refused = TcpStream::connect(operator).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        matches!(refused.read(&mut byte), Ok(0) | Err(_)),
        "the connection past the limit stays open"
    );
    // New calls still go through while they are held.
    let caller = udp(3000);
    let invite = request(
        "INVITE",
        &format!("sip:{OC_WITH_HEADER}@127.0.0.1"),
        caller.local_addr().unwrap(),
        &format!(
            "From: <sip:+15550100000@127.0.0.1>;tag=c\r\nTo: <sip:{OC_WITH_HEADER}@127.0.0.1>\r\nCall-ID: idle-1\r\nCSeq: 1 INVITE\r\n"
        ),
    );
    caller.send_to(invite.as_bytes(), operator).unwrap();
    let at_hop = receive(&oc_hop).expect("a call goes through while 2,000 connections idle");
    assert!(at_hop.contains("Call-ID: idle-1\r\n"));
    // The slow sender goes after its 2 s, the idle ones after their 4 s.
    slow.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
    assert!(matches!(slow.read(&mut byte), Ok(0) | Err(_)));
    let slow_closed = slow_opened.elapsed();
    let deadline = Instant::now() + Duration::from_secs(10);
    while edge.metric("numbat_edge_tcp_connections{side=\"operator\"}") > 0.0 {
        assert!(
            Instant::now() < deadline,
            "idle connections were not closed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let all_closed = opened.elapsed();
    for stream in idle.iter_mut().step_by(97) {
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        assert!(matches!(stream.read(&mut byte), Ok(0) | Err(_)));
    }
    assert_eq!(
        edge.metric("numbat_edge_tcp_events_total{event=\"closed\",reason=\"idle\"}"),
        2000.0
    );
    assert_eq!(
        edge.metric("numbat_edge_tcp_events_total{event=\"closed\",reason=\"message_timeout\"}"),
        1.0
    );
    assert_eq!(
        edge.metric("numbat_edge_tcp_events_total{event=\"refused\",reason=\"per_source_limit\"}"),
        1.0
    );
    let after = edge.rss_kib();
    eprintln!(
        "edge memory: {before} KiB before, {holding} KiB holding 2,000 TCP connections ({:.1} KiB each), {after} KiB after they closed; the slow sender was closed after {:.1} s, the idle ones after {:.1} s",
        (holding.saturating_sub(before)) as f64 / 2000.0,
        slow_closed.as_secs_f64(),
        all_closed.as_secs_f64()
    );
    // Bounded: far below a thread's stack (8 MiB reserved, tens of KiB touched) per connection.
    assert!(
        holding.saturating_sub(before) < 2000 * 32,
        "{before} KiB before, {holding} KiB with 2,000 connections"
    );
}

/// A TCP listener that accepts nothing: its backlog is full, so the kernel drops further
/// connection attempts and a connect hangs until it times out.
fn black_hole() -> (socket2::Socket, Vec<TcpStream>, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.bind(&local(0).into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let filler = socket2::Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        filler.set_nonblocking(true).unwrap();
        let _ = filler.connect(&addr.into());
        fillers.push(TcpStream::from(filler));
    }
    (socket, fillers, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_hop_that_accepts_nothing_costs_only_its_own_calls() {
    let p = provision(TestDb::sqlite().await.migrated().await).await;
    let ports = Ports::new();
    let oc_hop = UdpSocket::bind(local(ports.oc)).unwrap();
    oc_hop
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let (_hole, _fillers, dead) = black_hole();
    // Teams Phone Mobile's hop is a name that never resolves (.invalid is reserved for that).
    let edge = EdgeProcess::start(
        &p.test.url,
        &ports,
        &format!("tcp:{dead}"),
        &["--next-hop", "teams-phone-mobile=udp:nowhere.invalid:5060"],
    );
    let operator = local(ports.operator);
    let caller = udp(2000);
    let me = caller.local_addr().unwrap();
    let invite = |number: &str, n: usize| {
        request(
            "INVITE",
            &format!("sip:{number}@127.0.0.1"),
            me,
            &format!(
                "From: <sip:+15550100000@127.0.0.1>;tag=c{n}\r\nTo: <sip:{number}@127.0.0.1>\r\nCall-ID: dead-{n}\r\nCSeq: 1 INVITE\r\n"
            ),
        )
    };
    // Calls go in turn to the dead Direct Routing hop, the unresolvable Teams Phone Mobile hop
    // and Operator Connect's, 4 ms apart, for 4 s: the dead hop's connection times out after
    // 2 s meanwhile.
    // The answers to the caller, read as they come (its socket's buffer holds a few hundred):
    // the last 503 for the dead hop, and how many 503s for the unresolvable one.
    caller.set_nonblocking(true).unwrap();
    let mut answers: (Option<String>, usize) = (None, 0);
    let drain = |answers: &mut (Option<String>, usize)| {
        let mut buf = [0u8; 4096];
        while let Ok((len, _)) = caller.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..len]).into_owned();
            if text.starts_with("SIP/2.0 503 ") {
                if text.contains(&format!("<sip:{UNPROVISIONED_MOBILE}@")) {
                    answers.1 += 1;
                } else {
                    answers.0 = Some(text);
                }
            }
        }
    };
    let mut inside = Vec::new();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(4) {
        caller
            .send_to(invite(DR_WITH_HEADER, n).as_bytes(), operator)
            .unwrap();
        n += 1;
        caller
            .send_to(invite(UNPROVISIONED_MOBILE, n).as_bytes(), operator)
            .unwrap();
        n += 1;
        let sent = Instant::now();
        caller
            .send_to(invite(OC_WITH_HEADER, n).as_bytes(), operator)
            .unwrap();
        let at_hop = receive(&oc_hop).expect("the Operator Connect call goes through");
        inside.push(sent.elapsed());
        assert!(
            at_hop.contains(&format!("Call-ID: dead-{n}\r\n")),
            "{at_hop}"
        );
        n += 1;
        drain(&mut answers);
        std::thread::sleep(Duration::from_millis(4));
    }
    let slowest = (0..inside.len()).max_by_key(|i| inside[*i]).unwrap_or(0);
    inside.sort();
    let at = |q: f64| inside[((inside.len() as f64 * q) as usize).min(inside.len() - 1)];
    eprintln!(
        "{} calls to a live hop beside as many to a dead one and to an unresolvable one: edge transit (sent to received, loopback) p50 {:?}, p99 {:?}, max {:?} (call {slowest})",
        inside.len(),
        at(0.5),
        at(0.99),
        inside.last().unwrap()
    );
    // Before, one such call held a UDP thread for the 2 s of its connect.
    assert!(at(0.99) < Duration::from_millis(250), "p99 {:?}", at(0.99));
    // The dead hop's callers learn it: 503 with Retry-After and the number's header.
    std::thread::sleep(Duration::from_millis(100));
    drain(&mut answers);
    let (unavailable, unresolved) = answers;
    assert!(
        unresolved > 100,
        "calls to the unresolvable hop were not answered 503 at once: {unresolved}"
    );
    let unavailable = unavailable.expect("the dead hop's calls are answered 503");
    assert!(unavailable.contains("\r\nRetry-After: "), "{unavailable}");
    assert_eq!(
        values(&unavailable, HEADER),
        ["contoso-gold"],
        "{unavailable}"
    );
    assert_eq!(
        edge.metric(&format!("numbat_edge_next_hop_up{{hop=\"tcp:{dead}\"}}")),
        0.0
    );
    assert_eq!(
        edge.metric("numbat_edge_next_hop_up{hop=\"udp:nowhere.invalid:5060\"}"),
        0.0
    );
    assert!(edge.metric("numbat_edge_rejections_total{reason=\"next_hop_down\"}") > 0.0);
}
