//! Times the DNS responder: `respond()` on a TXT query that hits and one that gets NXDOMAIN,
//! in a zone of 1,000 Direct Routing accounts, then round trips through `serve_udp` on
//! loopback with 32 queries in flight.
//!
//! `cargo bench --bench dns` runs 1,000,000 queries of each kind; `-- --queries N` changes it.
//! Prints figures; asserts nothing.

use numbat::dns::{self, SharedZone, Zone};
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::Instant;

const BASE: &str = "dep1.commsgw.example";
const ACCOUNTS: usize = 1000;

fn queries_from_args() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--queries")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// A TXT query for `name` with an OPT record (UDP size 1232), as a resolver sends it.
fn txt_query(name: &str) -> Vec<u8> {
    let mut query = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.split('.') {
        query.push(u8::try_from(label.len()).unwrap());
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 16, 0, 1]);
    query.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    query
}

fn zone() -> Zone {
    let mut zone = Zone::new(BASE, 300);
    for i in 0..ACCOUNTS {
        for region in [1, 2] {
            let token = format!("token-r{region}-{i:032}");
            zone.add_txt(&format!("customer-{i}.1r{region}.{BASE}"), &token);
        }
    }
    zone
}

fn time_respond(label: &str, zone: &Zone, queries: &[Vec<u8>], count: usize) {
    let mut bytes = 0;
    let started = Instant::now();
    for i in 0..count {
        let reply = dns::respond(zone, black_box(&queries[i % queries.len()]));
        bytes += reply.map_or(0, |reply| reply.len());
    }
    let ns = started.elapsed().as_nanos() as f64 / count as f64;
    println!("respond, {label:<9} {ns:>7.0} ns/query  ({count} queries, {bytes} bytes out)");
}

/// Round trips through the real UDP server on its own one-thread runtime.
fn time_udp(zone: Zone, queries: &[Vec<u8>], count: usize) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            tx.send(socket.local_addr().unwrap()).unwrap();
            let shared: SharedZone = Arc::new(RwLock::new(Arc::new(zone)));
            dns::serve_udp(socket, shared).await
        })
    });
    let server = rx.recv().unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(server).unwrap();
    let mut buffer = [0; 4096];
    let started = Instant::now();
    let mut sent = 0;
    while sent < 32.min(count) {
        client.send(&queries[sent % queries.len()]).unwrap();
        sent += 1;
    }
    for _ in 0..count {
        client.recv(&mut buffer).unwrap();
        if sent < count {
            client.send(&queries[sent % queries.len()]).unwrap();
            sent += 1;
        }
    }
    let ns = started.elapsed().as_nanos() as f64 / count as f64;
    println!("serve_udp, TXT hit {ns:>7.0} ns/query  ({count} queries, 32 in flight)");
}

fn main() {
    let count = queries_from_args();
    let zone = zone();
    let hits: Vec<Vec<u8>> = (0..ACCOUNTS)
        .step_by(7)
        .map(|i| txt_query(&format!("customer-{i}.1r1.{BASE}")))
        .collect();
    let misses: Vec<Vec<u8>> = (0..100)
        .map(|i| txt_query(&format!("nobody-{i}.1r2.{BASE}")))
        .collect();
    time_respond("TXT hit", &zone, &hits, count);
    time_respond("NXDOMAIN", &zone, &misses, count);
    time_udp(zone, &hits, count / 5);
}
