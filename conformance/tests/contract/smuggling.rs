//! NET (continued): what reaches a server is exactly the request that was
//! checked. A body on a method without body semantics, CONNECT and TRACE,
//! user info in the authority, methods outside a method grant, uploads over
//! the limit and connection floods are stopped before a server sees them;
//! each case has a keep-alive loopback server that would have obeyed.

use serde_json::{Value, json};
use skill_runtime::{AuditKind, Decision, Failure, LimitKind};

use super::Host;
use super::failure;
use super::loopback::{Loopback, Seen, response};
use super::secrets::{net_package, send};

fn ok_answer(seen: &Seen) -> Vec<Vec<u8>> {
    let body = format!("ok {} ({} body bytes)", seen.path(), seen.body.len());
    vec![response("200 OK", "", body.as_bytes())]
}

fn status(result: &Value) -> Option<u64> {
    result["ok"]["status"].as_u64()
}

/// A second, complete request hidden in a body.
const HIDDEN: &str = "GET /admin/delete-everything HTTP/1.1\r\nHost: x\r\n\r\n";

/// NET-017: A GET whose body is a second HTTP request never reaches a path outside the grant on a keep-alive server that does not read GET bodies; the same bytes as a POST body arrive as a body.
#[test]
fn net_017_no_request_smuggling_in_a_get_body() {
    let host = Host::new();
    let server = Loopback::start("127.0.0.1", Box::new(ok_answer));
    let skill = host.load(&net_package(&format!("\"{}/api/\"", server.origin()), ""));
    let url = format!("{}/api/x", server.origin());
    let (outcome, results) = send(
        &skill,
        json!([
            // Framed by a declared length, and streamed (chunked) without one.
            {"method": "GET", "url": url, "headers": [["content-length", HIDDEN.len().to_string()]], "body": HIDDEN},
            {"method": "GET", "url": url, "body": HIDDEN},
            {"method": "DELETE", "url": url, "headers": [["content-length", HIDDEN.len().to_string()]], "body": HIDDEN},
            {"method": "HEAD", "url": url, "body": HIDDEN},
        ]),
        None,
    );
    let paths: Vec<String> = server.seen().iter().map(Seen::path).collect();
    assert!(
        paths.iter().all(|p| p.starts_with("/api/")),
        "a smuggled request reached the server: {paths:?} ({results:?})"
    );
    assert!(
        outcome.audit.iter().any(|e| e.kind == AuditKind::Network
            && e.decision == Decision::Deny
            && e.reason.contains("no body")),
        "{:?}",
        outcome.audit
    );
    // Positive controls: a plain GET works, and a POST carries the same bytes as its body.
    let (_, results) = send(
        &skill,
        json!([
            {"method": "GET", "url": url},
            {"method": "POST", "url": url, "headers": [["content-length", HIDDEN.len().to_string()]], "body": HIDDEN},
        ]),
        None,
    );
    assert_eq!(status(&results[0]), Some(200), "{results:?}");
    assert_eq!(
        results[1]["ok"]["body"],
        format!("ok /api/x ({} body bytes)", HIDDEN.len())
    );
    let paths: Vec<String> = server.seen().iter().map(Seen::path).collect();
    assert!(paths.iter().all(|p| p == "/api/x"), "{paths:?}");
    // Every request went on a connection of its own, closed after the answer.
    let seen = server.seen();
    let connections: std::collections::BTreeSet<usize> =
        seen.iter().map(|s| s.connection).collect();
    assert_eq!(connections.len(), seen.len(), "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.header("connection").as_deref() == Some("close"))
    );
}

/// NET-018: CONNECT and TRACE are refused before anything is sent, even under a grant; OPTIONS under the same grant goes through.
#[test]
fn net_018_connect_and_trace_are_refused() {
    let host = Host::new();
    let server = Loopback::start("127.0.0.1", Box::new(ok_answer));
    let skill = host.load(&net_package(&format!("\"{}/\"", server.origin()), ""));
    let url = format!("{}/x", server.origin());
    let (outcome, results) = send(
        &skill,
        json!([{"method": "CONNECT", "url": url}, {"method": "TRACE", "url": url}]),
        None,
    );
    assert!(
        results.iter().all(|r| r.get("err").is_some()),
        "{results:?}"
    );
    assert!(server.seen().is_empty(), "{:?}", server.seen());
    assert!(
        outcome
            .audit
            .iter()
            .any(|e| e.decision == Decision::Deny && e.reason.contains("CONNECT"))
    );
    let (_, results) = send(&skill, json!([{"method": "OPTIONS", "url": url}]), None);
    assert_eq!(status(&results[0]), Some(200), "{results:?}");
}

/// NET-019: A grant `{ url = "...", methods = ["GET"] }` allows only those methods; others are denied before anything is sent, and the plain string form still allows every ordinary method.
#[test]
fn net_019_method_grants_limit_methods() {
    let host = Host::new();
    let server = Loopback::start("127.0.0.1", Box::new(ok_answer));
    let o = server.origin();
    let skill = host.load(&net_package(
        &format!("{{ url = \"{o}/ro/\", methods = [\"GET\", \"HEAD\"] }}, \"{o}/rw/\""),
        "",
    ));
    let post = |path: &str| json!({"method": "POST", "url": format!("{o}{path}"), "body": "x", "headers": [["content-length", "1"]]});
    let (outcome, results) = send(
        &skill,
        json!([post("/ro/a"), {"method": "PUT", "url": format!("{o}/ro/a")}, {"method": "GET", "url": format!("{o}/ro/a")}, post("/rw/a")]),
        None,
    );
    assert!(
        results[0].get("err").is_some() && results[1].get("err").is_some(),
        "{results:?}"
    );
    assert_eq!(status(&results[2]), Some(200), "{results:?}");
    assert_eq!(status(&results[3]), Some(200), "{results:?}");
    let got: Vec<String> = server.seen().iter().map(|s| s.line.clone()).collect();
    assert_eq!(got, vec!["GET /ro/a HTTP/1.1", "POST /rw/a HTTP/1.1"]);
    assert!(
        outcome
            .audit
            .iter()
            .any(|e| e.decision == Decision::Deny && e.reason.contains("POST")),
        "{:?}",
        outcome.audit
    );
    // A method grant that names CONNECT, or no method, does not load.
    for bad in ["[\"CONNECT\"]", "[]", "[\"FETCH\"]"] {
        let package = net_package(&format!("{{ url = \"{o}/\", methods = {bad} }}"), "");
        let err = host.load_err(&package).to_string();
        assert!(err.contains("methods"), "{bad}: {err}");
    }
}

/// NET-020: A URL with user info (`http://evil.example@127.0.0.1:PORT/`) is refused at the check and nothing is sent; the same URL without it works.
#[test]
fn net_020_userinfo_urls_are_refused() {
    let host = Host::new();
    let server = Loopback::start("127.0.0.1", Box::new(ok_answer));
    let skill = host.load(&net_package(&format!("\"{}/\"", server.origin()), ""));
    let p = server.port;
    let (outcome, results) = send(
        &skill,
        json!([
            {"method": "GET", "url": format!("http://evil.example@127.0.0.1:{p}/a")},
            {"method": "GET", "url": format!("http://user:pass@127.0.0.1:{p}/a")},
        ]),
        None,
    );
    assert!(
        results.iter().all(|r| r.get("err").is_some()),
        "{results:?}"
    );
    assert!(server.seen().is_empty(), "{:?}", server.seen());
    assert!(
        outcome
            .audit
            .iter()
            .any(|e| e.decision == Decision::Deny && e.reason.contains("user info")),
        "{:?}",
        outcome.audit
    );
    let (_, results) = send(
        &skill,
        json!([{"method": "GET", "url": format!("http://127.0.0.1:{p}/a")}]),
        None,
    );
    assert_eq!(status(&results[0]), Some(200), "{results:?}");
    assert_eq!(
        server.seen()[0].header("host"),
        Some(format!("127.0.0.1:{p}"))
    );
}

/// NET-021: An upload larger than `limits.http-request-body` is cut and reported as a limit (exit 3), streamed or declared; the server never receives more than the limit; a smaller upload goes through.
#[test]
fn net_021_request_bodies_are_limited() {
    let host = Host::new();
    let server = Loopback::start("127.0.0.1", Box::new(ok_answer));
    let skill = host.load(&net_package(
        &format!("\"{}/\"", server.origin()),
        "[limits]\nhttp-request-body = \"64 KiB\"\n",
    ));
    let url = format!("{}/up", server.origin());
    let declared = (200 * 1024).to_string();
    for request in [
        json!({"method": "POST", "url": url, "body": "x".repeat(1024), "repeat": 200}),
        json!({"method": "POST", "url": url, "body": "x".repeat(1024), "repeat": 200, "headers": [["content-length", declared]]}),
    ] {
        let outcome = super::attempt_with(
            &skill,
            skill_runtime::Invocation::new("main").input(json!({"requests": [request]})),
            None,
        );
        assert!(
            matches!(
                failure(&outcome),
                Failure::Limit {
                    kind: LimitKind::HttpRequestBody,
                    ..
                }
            ),
            "{:?}",
            outcome.result
        );
        assert!(
            failure(&outcome)
                .message()
                .contains("limits.http-request-body = 64 KiB")
        );
    }
    assert!(
        server.seen().iter().all(|s| s.body.len() <= 64 * 1024),
        "the server received more than the limit"
    );
    let (_, results) = send(
        &skill,
        json!([{"method": "POST", "url": url, "body": "x".repeat(1024), "repeat": 32}]),
        None,
    );
    assert_eq!(
        results[0]["ok"]["body"], "ok /up (32768 body bytes)",
        "{results:?}"
    );
}

/// NET-022: One invocation holds at most 16 outgoing connections at once; 40 parallel requests all complete without more being open.
#[test]
fn net_022_concurrent_connections_are_capped() {
    let host = Host::new();
    let server = Loopback::start(
        "127.0.0.1",
        Box::new(|seen: &Seen| {
            std::thread::sleep(std::time::Duration::from_millis(150));
            ok_answer(seen)
        }),
    );
    let skill = host.load(&net_package(
        &format!("\"{}/\"", server.origin()),
        "[limits]\nhttp-requests = 64\ntimeout = \"30s\"\n",
    ));
    let requests: Vec<Value> = (0..40)
        .map(|i| json!({"method": "GET", "url": format!("{}/r{i}", server.origin())}))
        .collect();
    let outcome = super::attempt_with(
        &skill,
        skill_runtime::Invocation::new("main")
            .input(json!({"requests": requests, "parallel": true})),
        None,
    );
    let results = match &outcome.result {
        Ok(Value::Array(items)) => items.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        results.iter().all(|r| status(r) == Some(200)),
        "{results:?}"
    );
    assert_eq!(server.seen().len(), 40);
    assert!(
        server.peak() <= 16,
        "{} connections were open at once",
        server.peak()
    );
    assert!(
        server.peak() >= 2,
        "the requests did not run in parallel at all"
    );
}

/// NET-023: A granted host name may resolve only to ordinary public addresses: every IANA special-purpose block of both families (IPv4-compatible, 6to4, Teredo, NAT64, site-local, discard-only, IPv4-translated among them) counts as special.
#[test]
fn net_023_special_addresses_follow_the_iana_registries() {
    use skill_runtime::capabilities::network::is_public_address;
    for special in [
        "127.0.0.1",
        "10.0.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "192.0.0.9",
        "198.18.0.1",
        "::1",
        "::127.0.0.1",
        "::ffff:0:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b:1::1",
        "100::1",
        "2001::1",
        "2002:7f00:1::1",
        "fec0::1",
        "fd00::1",
        "fe80::1",
        "3fff::1",
        "ff02::1",
    ] {
        let ip = special.parse().expect("address");
        assert!(!is_public_address(ip), "{special} counted as public");
    }
    // Positive control: ordinary public addresses of both families.
    for public in [
        "1.1.1.1",
        "93.184.216.34",
        "::ffff:8.8.8.8",
        "2606:4700::1111",
        "2a00:1450::1",
    ] {
        assert!(
            is_public_address(public.parse().expect("address")),
            "{public}"
        );
    }
}
