//! P3 (HTTP): a WASI 0.3 component's requests through
//! `wasi:http/client@0.3.0` pass the same network policy as WASI 0.2's: URL
//! grants and methods, special addresses, user info, CONNECT/TRACE, bodies
//! on GET, secrets only to their host and scrubbed from what comes back,
//! request and response limits, audit and provenance. Each case runs real
//! loopback servers and asserts on what they received.

use std::sync::Arc;

use serde_json::{Value, json};
use skill_runtime::{AuditKind, Decision, Failure, Invocation, LimitKind, LoadError, SecretMap};
use skill_test_artifacts::{TempPackage, skill_table};

use super::loopback::{Loopback, Seen, response};
use super::*;

const SECRET: &str = "sk_live/p3+CAN\"ARY=key";

/// The WASI 0.3 HTTP guest with `[capabilities]` text `caps` and more manifest text `extra`.
fn http03_package(caps: &str, extra: &str) -> TempPackage {
    let toml = format!("{}[capabilities]\n{caps}{extra}", skill_table("p3http"));
    TempPackage::new("p3http", skill_test_artifacts::HTTP03, &toml)
}

/// Runs the guest with `requests` (and the secret KEY = `secret`); its
/// outcome and one result per request.
fn send(skill: &Skill, requests: Value, secret: Option<&str>) -> (Outcome, Vec<Value>) {
    let mut invocation = Invocation::new("main").input(json!({ "requests": requests }));
    if let Some(secret) = secret {
        invocation = invocation.secrets(Arc::new(SecretMap::new([(
            "KEY".to_owned(),
            secret.to_owned(),
        )])));
    }
    let outcome = attempt_with(skill, invocation, None);
    let results = match &outcome.result {
        Ok(Value::Array(items)) => items.clone(),
        other => panic!("expected results, got {other:?}\n{}", outcome.stderr),
    };
    (outcome, results)
}

/// Answers every request with `hello from PATH`.
fn hello(seen: &Seen) -> Vec<Vec<u8>> {
    let body = format!("hello from {}", seen.path());
    vec![response(
        "200 OK",
        "X-Server: loopback\r\n",
        body.as_bytes(),
    )]
}

/// Echoes the Authorization header it received, in the body and in a header.
fn auth_echo(seen: &Seen) -> Vec<Vec<u8>> {
    let auth = seen.header("authorization").unwrap_or_default();
    let headers = format!("X-Echo: {auth}\r\n");
    vec![response(
        "200 OK",
        &headers,
        format!("you sent: {auth}").as_bytes(),
    )]
}

fn allowed(outcome: &Outcome, target: &str) -> bool {
    outcome.audit.iter().any(|e| {
        e.kind == AuditKind::Network && e.decision == Decision::Allow && e.target.contains(target)
    })
}

/// P3-011: A WASI 0.3 component's GET to a granted loopback origin reaches the server with the checked path and `Connection: close`, and comes back whole; the request is audited and its origin recorded in provenance.
#[test]
fn p3_011_granted_request_goes_through_the_policy() {
    let host = Host::new();
    let server = Loopback::start("127.0.0.1", Box::new(hello));
    let skill = host.load(&http03_package(
        &format!("network = [\"{}/api/\"]\n", server.origin()),
        "",
    ));
    let url = format!("{}/api/items?q=1", server.origin());
    let (outcome, results) = send(&skill, json!([{"method": "GET", "url": url}]), None);
    let ok = &results[0]["ok"];
    assert_eq!(ok["status"], 200, "{results:?}");
    assert_eq!(ok["body"], "hello from /api/items?q=1");
    assert_eq!(ok["headers"]["x-server"], "loopback");
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].line, "GET /api/items?q=1 HTTP/1.1");
    assert_eq!(seen[0].header("connection").as_deref(), Some("close"));
    assert!(allowed(&outcome, "/api/items"), "{:?}", outcome.audit);
    assert_eq!(outcome.origins, vec![server.origin()]);
}

/// P3-012: A WASI 0.3 component cannot reach an undeclared host, a path outside its grant, a name that resolves to loopback, a URL with user info, CONNECT/TRACE, a method its grant leaves out, or send a body with GET: each is refused and audited and no server receives a byte.
#[test]
fn p3_012_requests_outside_the_grants_are_refused_before_sending() {
    let host = Host::new();
    let granted = Loopback::start("127.0.0.1", Box::new(hello));
    let undeclared = Loopback::start("127.0.0.2", Box::new(hello));
    let g = granted.origin();
    let port = granted.port;
    let skill = host.load(&http03_package(
        &format!(
            "network = [\"{g}/api/\", {{ url = \"{g}/ro/\", methods = [\"GET\"] }}, \"http://localhost:{port}/\"]\n"
        ),
        "",
    ));
    let attempts = json!([
        {"method": "GET", "url": format!("{}/api/x", undeclared.origin())},
        {"method": "GET", "url": format!("{g}/apix")},
        {"method": "GET", "url": format!("{g}/api/..%2fsecret")},
        {"method": "GET", "url": format!("http://localhost:{port}/api/x")},
        {"method": "GET", "url": format!("http://evil.example@127.0.0.1:{port}/api/x")},
        {"method": "CONNECT", "url": format!("{g}/api/x")},
        {"method": "TRACE", "url": format!("{g}/api/x")},
        {"method": "POST", "url": format!("{g}/ro/x"), "body": "data"},
        {"method": "GET", "url": format!("{g}/api/x"), "headers": {"content-length": "4"}, "body": "GET2"},
    ]);
    let (outcome, results) = send(&skill, attempts.clone(), None);
    for (result, attempt) in results.iter().zip(attempts.as_array().expect("list")) {
        assert!(
            result.get("err").is_some(),
            "{attempt} was not refused: {result}"
        );
    }
    assert!(
        granted.seen().is_empty() && undeclared.seen().is_empty(),
        "a server received {:?} {:?}",
        granted.seen(),
        undeclared.seen()
    );
    for target in ["127.0.0.2", "/apix", "localhost", "127.0.0.1", "/ro/x"] {
        assert!(
            denied(&outcome, AuditKind::Network, target),
            "no audited denial for {target}: {:?}",
            outcome.audit
        );
    }
    let reasons: Vec<&str> = outcome.audit.iter().map(|e| e.reason.as_str()).collect();
    for expected in [
        "no [capabilities].network grant covers it",
        "percent-encoding",
        "localhost resolves to",
        "user info",
        "never allowed",
        "add POST",
        "may not send a body with GET",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "no denial saying `{expected}`: {reasons:?}"
        );
    }
    assert!(outcome.origins.is_empty(), "{:?}", outcome.origins);
    // Positive control: the same grants let a GET under /ro/ and a POST with
    // a body under /api/ through.
    let (_, results) = send(
        &skill,
        json!([
            {"method": "GET", "url": format!("{g}/ro/x")},
            {"method": "POST", "url": format!("{g}/api/x"), "body": "data"},
        ]),
        None,
    );
    assert_eq!(results[0]["ok"]["body"], "hello from /ro/x", "{results:?}");
    assert_eq!(results[1]["ok"]["status"], 200, "{results:?}");
    let seen = granted.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].body, b"data");
}

/// P3-013: A secret is added only to requests for its declared host, and a server that echoes it back reaches the WASI 0.3 component redacted (body and headers); another granted host never receives it.
#[test]
fn p3_013_secret_goes_only_to_its_host_and_is_scrubbed() {
    let host = Host::new();
    let declared = Loopback::start("127.0.0.1", Box::new(auth_echo));
    let author = Loopback::start("127.0.0.2", Box::new(auth_echo));
    let skill = host.load(&http03_package(
        &format!(
            "network = [\"{}/\", \"{}/\"]\nsecrets = [{{ name = \"KEY\", host = \"127.0.0.1\", header = \"Authorization\", format = \"Bearer {{}}\" }}]\n",
            declared.origin(),
            author.origin()
        ),
        "",
    ));
    let (outcome, results) = send(
        &skill,
        json!([
            {"method": "GET", "url": format!("{}/me", declared.origin())},
            {"method": "GET", "url": format!("{}/me", author.origin()),
             "headers": {"authorization": "Bearer mine"}},
        ]),
        Some(SECRET),
    );
    // The declared host received the secret in full ...
    let seen = declared.seen();
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some(format!("Bearer {SECRET}").as_str())
    );
    // ... and the skill got it back redacted, in the body and the header.
    assert_eq!(
        results[0]["ok"]["body"], "you sent: Bearer [redacted]",
        "{results:?}"
    );
    assert_eq!(results[0]["ok"]["headers"]["x-echo"], "Bearer [redacted]");
    // The author's host got only what the skill itself set.
    let other = author.seen();
    assert_eq!(
        other[0].header("authorization").as_deref(),
        Some("Bearer mine")
    );
    assert_eq!(results[1]["ok"]["body"], "you sent: Bearer mine");
    let everything = format!(
        "{results:?} {} {} {:?}",
        outcome.stdout, outcome.stderr, outcome.audit
    );
    assert!(
        !everything.contains(SECRET),
        "the secret leaked: {everything}"
    );
    assert!(
        outcome
            .audit
            .iter()
            .any(|e| e.reason.contains("secret KEY added as Authorization")),
        "{:?}",
        outcome.audit
    );
}

/// P3-014: Request and response limits bind WASI 0.3 HTTP: a response over `limits.http-response` (declared or streamed) ends the invocation as that limit (exit 3), and a request over `limits.http-requests` never reaches the server.
#[test]
fn p3_014_http_limits_apply() {
    let host = Host::new();
    let big = Loopback::start(
        "127.0.0.1",
        Box::new(|seen: &Seen| {
            if seen.path() == "/declared" {
                vec![response("200 OK", "", &[b'x'; 300_000])]
            } else {
                let chunk: &[u8] = &[b'y'; 60_000];
                super::loopback::chunked("200 OK", "", &[chunk; 5])
            }
        }),
    );
    let skill = host.load(&http03_package(
        &format!("network = [\"{}/\"]\n", big.origin()),
        "[limits]\nhttp-response = \"100 KiB\"\nhttp-requests = 2\n",
    ));
    for path in ["/declared", "/streamed"] {
        let outcome = attempt_with(
            &skill,
            Invocation::new("main").input(json!({"requests": [
                {"method": "GET", "url": format!("{}{path}", big.origin())}
            ]})),
            None,
        );
        match failure(&outcome) {
            Failure::Limit {
                kind: LimitKind::HttpResponse,
                ..
            } => {}
            other => panic!("{path}: expected the http-response limit, got {other:?}"),
        }
        assert!(
            failure(&outcome)
                .message()
                .contains("limits.http-response = 100 KiB"),
            "{path}: {}",
            failure(&outcome).message()
        );
    }
    let small = Loopback::start("127.0.0.2", Box::new(hello));
    let skill = host.load(&http03_package(
        &format!("network = [\"{}/\"]\n", small.origin()),
        "[limits]\nhttp-requests = 2\n",
    ));
    let url = format!("{}/n", small.origin());
    let outcome = attempt_with(
        &skill,
        Invocation::new("main").input(json!({"requests": [
            {"method": "GET", "url": url}, {"method": "GET", "url": url}, {"method": "GET", "url": url}
        ]})),
        None,
    );
    match failure(&outcome) {
        Failure::Limit {
            kind: LimitKind::HttpRequests,
            ..
        } => {}
        other => panic!("expected the http-requests limit, got {other:?}"),
    }
    // Positive control: the two requests within the limit were answered.
    assert_eq!(small.seen().len(), 2, "{:?}", small.seen());
}

/// P3-015: WASI 0.3 HTTP is linked only with a `network` grant: without one the component is refused at load naming the import and the key; with one it loads.
#[test]
fn p3_015_http_needs_a_network_grant() {
    let host = Host::new();
    match host.load_err(&http03_package("", "")) {
        LoadError::NotGranted { import, key, .. } => {
            assert!(import.starts_with("wasi:http/"), "{import}");
            assert_eq!(key, "network");
        }
        other => panic!("expected a missing network grant, got {other}"),
    }
    let skill = host.load(&http03_package("network = [\"http://127.0.0.1:1/\"]\n", ""));
    assert!(
        skill
            .imports()
            .iter()
            .any(|i| i == "wasi:http/client@0.3.0"),
        "{:?}",
        skill.imports()
    );
}

/// P3-016: WASI 0.3 requests share the invocation's bounds: 40 parallel requests never hold more than 16 connections at once (and all complete), and a server that never answers is cut off at the deadline.
#[test]
fn p3_016_connection_cap_and_deadline_bind_requests() {
    let host = Host::new();
    let slow = Loopback::start(
        "127.0.0.1",
        Box::new(|seen: &Seen| {
            std::thread::sleep(std::time::Duration::from_millis(150));
            hello(seen)
        }),
    );
    let skill = host.load(&http03_package(
        &format!("network = [\"{}/\"]\n", slow.origin()),
        "[limits]\nhttp-requests = 64\ntimeout = \"30s\"\n",
    ));
    let requests: Vec<Value> = (0..40)
        .map(|i| json!({"method": "GET", "url": format!("{}/r{i}", slow.origin())}))
        .collect();
    let outcome = attempt_with(
        &skill,
        Invocation::new("main").input(json!({"requests": requests, "parallel": true})),
        None,
    );
    let results = match &outcome.result {
        Ok(Value::Array(items)) => items.clone(),
        other => panic!("{other:?}\n{}", outcome.stderr),
    };
    assert!(
        results.iter().all(|r| r["ok"]["status"] == 200),
        "{results:?}"
    );
    assert_eq!(slow.seen().len(), 40);
    assert!(slow.peak() <= 16, "{} connections at once", slow.peak());
    assert!(slow.peak() >= 2, "the requests did not run in parallel");
    // A server that accepts and never answers: the deadline ends the call.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let skill = host.load(&http03_package(
        &format!("network = [\"http://127.0.0.1:{port}/\"]\n"),
        "[limits]\ntimeout = \"500ms\"\n",
    ));
    let started = std::time::Instant::now();
    let outcome = attempt_with(
        &skill,
        Invocation::new("main").input(json!({"requests": [
            {"method": "GET", "url": format!("http://127.0.0.1:{port}/hang")}
        ]})),
        None,
    );
    // The request's own timeouts are bounded by the time left, so either
    // the deadline or the request's timeout (at the same instant) ends it.
    match &outcome.result {
        Err(Failure::Limit {
            kind: LimitKind::Timeout,
            ..
        }) => {}
        Ok(Value::Array(results))
            if results[0]["err"]
                .as_str()
                .is_some_and(|e| e.contains("Timeout")) => {}
        other => panic!("expected the deadline, got {other:?}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    drop(silent);
}

/// Echoes the request line, the Authorization header and the body.
fn full_echo(seen: &Seen) -> Vec<Vec<u8>> {
    let auth = seen.header("authorization").unwrap_or_default();
    let body = format!(
        "{} auth={auth} body={}",
        seen.line,
        String::from_utf8_lossy(&seen.body)
    );
    vec![response(
        "200 OK",
        &format!("X-Echo: {auth}\r\n"),
        body.as_bytes(),
    )]
}

/// P3-023: A secret exposed as a placeholder works for a WASI 0.3 component as for WASI 0.2: its environment holds the placeholder, the declared host receives the value in the header, the query and a streamed body and its echo comes back redacted, and the placeholder sent to another granted host is refused before anything reaches it.
#[test]
fn p3_023_placeholder_reaches_only_its_host() {
    let host = Host::new();
    let declared = Loopback::start("127.0.0.1", Box::new(full_echo));
    let author = Loopback::start("127.0.0.2", Box::new(full_echo));
    let skill = host.load(&http03_package(
        &format!(
            "network = [\"{}/\", \"{}/\"]\nsecrets = [{{ name = \"KEY\", host = \"127.0.0.1\", expose = \"env\" }}]\n",
            declared.origin(),
            author.origin()
        ),
        "",
    ));
    let (outcome, results) = send(
        &skill,
        json!([
            {"method": "POST", "url": format!("{}/me?k={{env:KEY}}", declared.origin()),
             "headers": {"authorization": "Bearer {env:KEY}"}, "body": "key={env:KEY}"},
            {"method": "POST", "url": format!("{}/me", author.origin()), "body": "key={env:KEY}"},
            {"method": "GET", "url": format!("{}/me", author.origin()),
             "headers": {"authorization": "Bearer {env:KEY}"}},
            {"method": "GET", "url": format!("{}/me", author.origin()),
             "headers": {"authorization": "Bearer mine"}},
        ]),
        Some(SECRET),
    );
    let seen = declared.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(seen[0].body, format!("key={SECRET}").as_bytes());
    assert_eq!(seen[0].path(), "/me?k=sk_live%2Fp3%2BCAN%22ARY%3Dkey");
    let body = results[0]["ok"]["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("auth=Bearer [redacted] body=key=[redacted]"),
        "{results:?}"
    );
    assert_eq!(results[0]["ok"]["headers"]["x-echo"], "Bearer [redacted]");
    for refused in &results[1..3] {
        assert!(
            refused["err"]
                .as_str()
                .is_some_and(|e| e.contains("HttpRequestDenied")),
            "{results:?}"
        );
    }
    // Only the request without the placeholder reached the author's host.
    let other = author.seen();
    assert_eq!(other.len(), 1, "{other:?}");
    assert_eq!(
        other[0].header("authorization").as_deref(),
        Some("Bearer mine")
    );
    assert_eq!(results[3]["ok"]["status"], 200);
    let denials = outcome
        .audit
        .iter()
        .filter(|e| e.decision == Decision::Deny && e.reason.contains("placeholder of secret KEY"))
        .count();
    assert_eq!(denials, 2, "{:#?}", outcome.audit);
    let everything = format!(
        "{results:?} {} {} {:?}",
        outcome.stdout, outcome.stderr, outcome.audit
    );
    assert!(
        !everything.contains(SECRET) && !everything.contains("sk_live%2Fp3"),
        "the secret leaked: {everything}"
    );
}
