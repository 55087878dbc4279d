//! SOCK: `wasi:sockets` is linked so that components whose language runtime
//! imports it load, but every raw-socket route is denied, audited with the
//! fix, and reaches nothing outside.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use skill_runtime::capabilities::sockets::SOCKETS_DENIED;

use super::*;

/// A loopback TCP listener and a UDP socket on the same port that count
/// every connection and datagram they get.
struct Watched {
    port: u16,
    connections: Arc<AtomicUsize>,
    udp: UdpSocket,
    _accept: std::thread::JoinHandle<()>,
}

impl Watched {
    fn start() -> Watched {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind listener");
        let port = listener.local_addr().expect("address").port();
        let udp = UdpSocket::bind(("127.0.0.1", port)).expect("bind udp on the same port");
        udp.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("udp timeout");
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                seen.fetch_add(1, Ordering::SeqCst);
                let mut first = [0u8; 4];
                let _ = stream.read(&mut first);
                if &first == b"stop" {
                    return;
                }
            }
        });
        Watched {
            port,
            connections,
            udp,
            _accept: accept,
        }
    }

    fn datagrams(&self) -> usize {
        let mut buf = [0u8; 64];
        let mut n = 0;
        while self.udp.recv_from(&mut buf).is_ok() {
            n += 1;
        }
        n
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = std::io::Write::write_all(&mut s, b"stop");
        }
    }
}

fn sockets_package(extra: &str) -> TempPackage {
    TempPackage::new(
        "sockets",
        skill_test_artifacts::SOCKETS,
        &format!("{}{extra}", skill_table("sockets")),
    )
}

/// SOCK-001: A program using raw TCP, UDP and DNS loads; every attempt is denied with access-denied, audited with the fix, and a real loopback listener sees nothing.
#[test]
fn sock_001_every_raw_socket_route_is_denied_and_nothing_connects() {
    let _quiet = no_load_spike();
    let (host, watched) = (Host::new(), Watched::start());
    // Positive control: the listener and the UDP socket are live and
    // counted, so zero below means the guest reached neither.
    std::net::TcpStream::connect(("127.0.0.1", watched.port)).expect("control connection");
    UdpSocket::bind("127.0.0.1:0")
        .expect("udp")
        .send_to(b"control", ("127.0.0.1", watched.port))
        .expect("control datagram");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(watched.connections.load(Ordering::SeqCst), 1);
    assert_eq!(watched.datagrams(), 1);

    // A network grant for that very port changes nothing for raw sockets.
    let grant = format!(
        "[capabilities]\nnetwork = [\"http://127.0.0.1:{}/\"]\n",
        watched.port
    );
    for extra in ["", grant.as_str()] {
        let skill = host.load(&sockets_package(extra));
        assert!(
            skill
                .denied_imports()
                .iter()
                .any(|i| i.starts_with("wasi:sockets/tcp-create-socket@0.2.")),
            "{:?}",
            skill.denied_imports()
        );
        let outcome = attempt(&skill, "main", json!({"port": watched.port}), None);
        let Ok(Value::String(printed)) = &outcome.result else {
            panic!("expected the guest's report, got {:?}", outcome.result);
        };
        for route in ["tcp-connect", "tcp-listen", "udp-send", "dns-lookup"] {
            let line = printed
                .lines()
                .find(|l| l.starts_with(&format!("{route}:")))
                .unwrap_or_else(|| panic!("no {route} line in {printed}"));
            assert!(
                !line.ends_with(": ok"),
                "{route} was allowed: {line}\n{printed}"
            );
        }
        // std reports EACCES as PermissionDenied; DNS through getaddrinfo
        // has no such error kind, but it must fail too (checked above).
        for route in ["tcp-connect", "tcp-listen", "udp-send"] {
            assert!(
                printed
                    .lines()
                    .any(|l| l.starts_with(route) && l.contains("PermissionDenied")),
                "{route} not denied as access-denied: {printed}"
            );
        }
        for target in [
            "create-tcp-socket ipv4",
            "create-udp-socket ipv4",
            "resolve-addresses localhost",
        ] {
            assert!(
                outcome.audit.iter().any(|e| e.decision == Decision::Deny
                    && e.target.contains(target)
                    && e.reason == SOCKETS_DENIED),
                "no audited denial of {target}: {:?}",
                outcome.audit
            );
        }
        assert!(SOCKETS_DENIED.contains("[capabilities].network"));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        watched.connections.load(Ordering::SeqCst),
        1,
        "the guest connected"
    );
    assert_eq!(watched.datagrams(), 0, "the guest's datagram arrived");
}

/// SOCK-002: Raw sockets stay denied for a typed component importing every wasi:sockets interface at any 0.2.x version; inspect data lists them as always denied, not granted.
#[test]
fn sock_002_sockets_imports_are_listed_as_always_denied() {
    let host = Host::new();
    for minor in [0, 9, 12] {
        let v = format!("0.2.{minor}");
        let wat = format!(
            r#"(component
                (import "wasi:sockets/network@{v}" (instance
                    (export "network" (type (sub resource)))))
                (import "wasi:sockets/udp@{v}" (instance))
                (core module $m (func (export "f") (result i32) i32.const 7))
                (core instance $i (instantiate $m))
                (func (export "seven") (result u32) (canon lift (core func $i "f")))
            )"#
        );
        let bytes = wat::parse_str(&wat).expect("valid wat");
        let package = TempPackage::new(
            "sockets",
            skill_test_artifacts::HELLO,
            &skill_table("sockets"),
        );
        std::fs::write(package.path().join("skill.wasm"), bytes).expect("write component");
        let skill = host.load(&package);
        assert_eq!(
            skill.denied_imports(),
            [
                format!("wasi:sockets/network@{v}"),
                format!("wasi:sockets/udp@{v}")
            ],
            "{v}"
        );
        assert!(skill.imports().iter().all(|i| !i.contains("sockets")));
        let outcome = attempt(&skill, "seven", json!({}), None);
        assert_eq!(outcome.result.as_ref().ok(), Some(&json!(7)), "{v}");
    }
}
