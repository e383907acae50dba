//! A call over TLS through the edge with real SIP stacks on both ends, in the test command:
//! SIPp (built here without TLS) behind a Kamailio relay on each side (`tests/tls/`), with
//! mutual TLS on both of the edge's sides. The caller's relay connects to the edge's
//! operator-side TLS listener; the edge connects to the callee's relay presenting its own
//! certificate (the relay refuses calls whose client certificate it could not verify, as
//! Microsoft's SIP proxies do); the callee's BYE comes back over a TLS connection the relay
//! opens to the edge's service-side listener.

use crate::common::TestDb;
use crate::edge::{
    free_port, local, log_tails, provision, wait_until_it_answers, EdgeProcess, Ports,
    OC_WITH_HEADER,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tls_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls")
}

/// Whether Kamailio and SIPp are here; under CI their absence fails the test.
fn peers_available() -> bool {
    let found = ["kamailio", "sipp"].iter().all(|tool| {
        Command::new(tool)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    if !found {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "kamailio (with kamailio-tls-modules) or sipp is missing: scripts/setup.sh installs them"
        );
        eprintln!("TLS call test skipped: kamailio or sipp is not installed (scripts/setup.sh installs them)");
    }
    found
}

/// A Kamailio relay, stopped with its workers when dropped.
///
/// Kamailio 5.6, stopped with its workers signalled all at once, has been seen here to signal
/// every process it may: run as root, that took down the test, PostgreSQL and everything else.
/// So under root a relay runs as `nobody`, in a PID namespace of its own, and it is stopped by
/// SIGTERM to its main process only (the namespace's first process: when it ends, the kernel
/// ends every worker too).
struct Relay(Child);

impl Relay {
    /// Kamailio's main process: the one started, or under `unshare` its only child.
    fn main_pid(&self) -> u32 {
        let id = self.0.id();
        std::fs::read_to_string(format!("/proc/{id}/task/{id}/children"))
            .ok()
            .and_then(|children| children.split_whitespace().next()?.parse().ok())
            .unwrap_or(id)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let main = self.main_pid().to_string();
        let _ = Command::new("kill").args(["-TERM", &main]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // A SIGKILL cannot be caught, so it cannot be passed on: the namespace ends with it.
        let _ = Command::new("kill").args(["-KILL", &main]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether this process runs as root (the relays then run as `nobody`).
fn root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn relay(run: &Path, certs: &Path, cert: &str, udp: u16, tls: u16, hops: &[&str]) -> Relay {
    let log = std::fs::File::create(run.with_extension("log")).unwrap();
    let mut command = if root() {
        let mut command = Command::new("unshare");
        command.args(["--pid", "--fork", "--kill-child", "setpriv"]);
        command.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "bash",
        ]);
        command
    } else {
        Command::new("bash")
    };
    let child = command
        .arg(tls_dir().join("start-relay.sh"))
        .args(["--run-dir", run.to_str().unwrap()])
        .args(["--certs", certs.to_str().unwrap(), "--cert", cert])
        .args([
            "--udp",
            &local(udp).to_string(),
            "--tls",
            &local(tls).to_string(),
        ])
        .args(hops)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kamailio starts");
    let relay = Relay(child);
    wait_until_it_answers(local(udp));
    relay
}

/// Runs one call: the callee's SIPp with `uas`, then the caller's with `uac` toward the
/// operator relay; both must end well within 20 s.
fn call(dir: &Path, uac: &str, uas: &str, relay_udp: u16, uas_port: u16) -> Result<(), String> {
    let sipp = |scenario: &str| {
        let mut command = Command::new("sipp");
        command
            .current_dir(dir)
            .args([
                "-sf",
                tls_dir().join("sipp").join(scenario).to_str().unwrap(),
            ])
            .args(["-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "20s"])
            .args(["-trace_err", "-trace_msg", "-trace_logs"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    let mut server = sipp(uas)
        .args(["-p", &uas_port.to_string()])
        .spawn()
        .expect("sipp runs");
    std::thread::sleep(Duration::from_millis(300));
    let mut client = sipp(uac)
        .arg(local(relay_udp).to_string())
        .args(["-p", &free_port().to_string(), "-s", OC_WITH_HEADER])
        .spawn()
        .expect("sipp runs");
    let wait = |child: &mut Child| {
        let deadline = Instant::now() + Duration::from_secs(25);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let (caller, callee) = (wait(&mut client), wait(&mut server));
    if caller && callee {
        return Ok(());
    }
    let logs = log_tails(dir, 2500);
    Err(format!(
        "{uac}: caller ok {caller}, callee ok {callee}{logs}"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_crosses_the_edge_over_mutual_tls_with_real_sip_stacks_on_both_ends() {
    if !peers_available() {
        return;
    }
    let p = provision(TestDb::sqlite().await.migrated().await).await;
    let folder = tempfile::tempdir().unwrap();
    let certs = folder.path().join("certs");
    let made = Command::new("bash")
        .arg(tls_dir().join("make-certs.sh"))
        .arg(&certs)
        .status()
        .unwrap();
    assert!(made.success(), "make-certs.sh failed");
    // Readable by the relays, which run as `nobody` under root (throwaway keys of this test).
    use std::os::unix::fs::PermissionsExt;
    let open = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    open(folder.path(), 0o777);
    for entry in std::fs::read_dir(&certs).unwrap().flatten() {
        open(&entry.path(), 0o644);
    }
    open(&certs, 0o755);
    let ports = Ports::new();
    let (edge_operator_tls, edge_service_tls) = (free_port(), free_port());
    let (operator_udp, operator_tls) = (free_port(), free_port());
    let (service_udp, service_tls, uas) = (free_port(), free_port(), free_port());
    let file = |name: &str| certs.join(name).to_str().unwrap().to_owned();
    let operator_tls_listen = local(edge_operator_tls).to_string();
    let service_tls_listen = local(edge_service_tls).to_string();
    let operator_hop = format!("tls:{}", local(operator_tls));
    let oc_hop = format!("operator-connect=tls:{}", local(service_tls));
    let (cert, key, ca) = (file("edge.crt"), file("edge.key"), file("ca.crt"));
    let edge = EdgeProcess::spawn(
        &p.test.url,
        &ports,
        &[
            "--operator-tls-listen",
            &operator_tls_listen,
            "--service-tls-listen",
            &service_tls_listen,
            "--operator-next-hop",
            &operator_hop,
            "--next-hop",
            &oc_hop,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-ca",
            &ca,
            "--tls-client-auth",
            "operator",
            "--tls-client-auth",
            "service",
        ],
    );
    let edge_operator = local(edge_operator_tls).to_string();
    let edge_service = local(edge_service_tls).to_string();
    let uas_hop = local(uas).to_string();
    let _caller_relay = relay(
        &folder.path().join("operator-relay"),
        &certs,
        "operator-relay",
        operator_udp,
        operator_tls,
        &[
            "--tls-next-hop",
            &edge_operator,
            "--verify-client",
            "on",
            "--sni",
            "edge.numbat.test",
        ],
    );
    let _callee_relay = relay(
        &folder.path().join("service-relay"),
        &certs,
        "service-relay",
        service_udp,
        service_tls,
        &[
            "--udp-next-hop",
            &uas_hop,
            "--tls-next-hop",
            &edge_service,
            "--verify-client",
            "on",
            "--",
            "-A",
            "REQUIRE_VERIFIED_PEER",
        ],
    );
    let dir = folder.path().to_owned();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut failures = Vec::new();
        // The caller: INVITE, 200 with the number's header, ACK, re-INVITE, BYE.
        if let Err(error) = call(&dir, "uac.xml", "uas.xml", operator_udp, uas) {
            failures.push(error);
        }
        // The callee hangs up: its BYE comes back to the edge over a TLS connection of its own.
        if let Err(error) = call(
            &dir,
            "uac_callee_hangs_up.xml",
            "uas_hangs_up.xml",
            operator_udp,
            uas,
        ) {
            failures.push(error);
        }
        failures
    })
    .await
    .unwrap();
    let relay_logs = ["operator-relay.log", "service-relay.log"]
        .iter()
        .map(|name| std::fs::read_to_string(folder.path().join(name)).unwrap_or_default())
        .collect::<Vec<_>>();
    // Each failure carries the SIPp and relay logs (the relays log into the same folder).
    assert!(outcome.is_empty(), "{}", outcome.join("\n\n"));
    // The relays saw the edge's certificate and vouched for it.
    assert!(
        relay_logs[1].contains("edge.numbat.test"),
        "the callee's relay did not see the edge's client certificate"
    );
    assert_eq!(
        edge.metric("numbat_edge_calls_total{service=\"teamsOperatorConnect\"}"),
        2.0
    );
    assert_eq!(
        edge.metric(
            "numbat_edge_tcp_events_total{event=\"closed\",reason=\"tls_handshake_failed\"}"
        ),
        0.0
    );

    // A new certificate in place of the old, and SIGHUP: new connections get it at once.
    let presented = || {
        let output = Command::new("openssl")
            .args(["s_client", "-connect", &operator_tls_listen])
            .args([
                "-cert",
                &file("operator-relay.crt"),
                "-key",
                &file("operator-relay.key"),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(
        presented().contains("CN = edge.numbat.test"),
        "{}",
        presented()
    );
    std::fs::copy(certs.join("rogue.crt"), &cert).unwrap();
    std::fs::copy(certs.join("rogue.key"), &key).unwrap();
    let hangup = Command::new("kill")
        .args(["-HUP", &edge.pid().to_string()])
        .status()
        .unwrap();
    assert!(hangup.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !presented().contains("CN = rogue.numbat.test") {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not load the new certificate"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
