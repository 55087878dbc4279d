//! NET: outgoing HTTP reaches only what `network` grants, checked before
//! anything leaves the host. Each case runs real loopback servers and
//! asserts on what they received.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Value, json};
use skill_runtime::{AuditKind, LimitKind};

use super::*;

/// What a test server received: the request line and its headers.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub line: String,
    pub headers: Vec<String>,
    pub body: String,
}

/// A loopback HTTP/1.1 server that records each request and answers with
/// what `respond` makes of it. Stopped and joined on drop.
pub(crate) struct Server {
    _quiet: Quiet,
    address: &'static str,
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Reads a chunked request body (what wasi-http clients send for streamed bodies).
fn read_chunked(reader: &mut impl BufRead) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        if reader.read_line(&mut size_line).unwrap_or(0) == 0 {
            break;
        }
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
            .unwrap_or(0);
        if size == 0 || body.len() + size > 1 << 20 {
            let mut end = String::new();
            let _ = reader.read_line(&mut end);
            break;
        }
        let mut chunk = vec![0u8; size + 2];
        if std::io::Read::read_exact(reader, &mut chunk).is_err() {
            break;
        }
        body.extend_from_slice(&chunk[..size]);
    }
    body
}

pub(crate) type Respond = Box<dyn Fn(&Received) -> String + Send + Sync>;

impl Server {
    fn start(response: &'static str) -> Server {
        Server::answering("127.0.0.1", Box::new(move |_| response.to_owned()))
    }

    pub(crate) fn answering(address: &'static str, respond: Respond) -> Server {
        let listener = TcpListener::bind((address, 0)).expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopping) = (received.clone(), stop.clone());
        let respond = Arc::new(respond);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let (respond, seen) = (respond.clone(), seen.clone());
                // One thread per connection: a slow client never holds up the next.
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let mut headers = Vec::new();
                    let mut header = String::new();
                    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                        headers.push(header.trim().to_owned());
                        header.clear();
                    }
                    let length = headers
                        .iter()
                        .find_map(|h| {
                            h.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .and_then(|v| v.trim().parse::<usize>().ok())
                        })
                        .unwrap_or(0);
                    let chunked = headers
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case("transfer-encoding: chunked"));
                    let body = if chunked {
                        read_chunked(&mut reader)
                    } else {
                        let mut body = vec![0u8; length.min(1 << 20)];
                        let _ = std::io::Read::read_exact(&mut reader, &mut body);
                        body
                    };
                    let request = Received {
                        line: line.trim().to_owned(),
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    let response = respond(&request);
                    seen.lock().expect("lock").push(request);
                    let _ = stream.write_all(response.as_bytes());
                    // Close politely: stop writing, then drain what the client still
                    // sends, so the kernel never answers with a reset.
                    let _ = stream.flush();
                    let _ = stream.shutdown(std::net::Shutdown::Write);
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(200)));
                    let mut sink = [0u8; 1024];
                    while std::io::Read::read(&mut stream, &mut sink).is_ok_and(|n| n > 0) {}
                });
            }
        });
        Server {
            _quiet: no_load_spike(),
            address,
            port,
            received,
            stop,
            thread: Some(thread),
        }
    }

    fn ok() -> Server {
        Server::start("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    }

    fn requests(&self) -> Vec<String> {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .map(|r| r.line.clone())
            .collect()
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect((self.address, self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Asserts that every URL's attempt came back as an error.
fn assert_all_refused(urls: &[String], results: &[Value]) {
    for (url, result) in urls.iter().zip(results) {
        assert!(
            result.get("err").is_some(),
            "{url} was not refused: {result}"
        );
    }
}

fn http_package(network: &str, extra: &str) -> TempPackage {
    let toml = format!(
        "{}[capabilities]\nnetwork = [{network}]\n{extra}",
        skill_table("fetcher")
    );
    TempPackage::new("fetcher", skill_test_artifacts::HTTP, &toml)
}

fn fetch(skill: &Skill, urls: &[String]) -> (Outcome, Vec<Value>) {
    let outcome = attempt(skill, "fetch", json!({"urls": urls}), None);
    let results = match &outcome.result {
        Ok(Value::Array(items)) => items.clone(),
        other => panic!(
            "expected a list of results, got {other:?}\n{}",
            outcome.stderr
        ),
    };
    (outcome, results)
}

/// NET-001: A request under a granted URL prefix goes through, is audited, and its origin is recorded.
#[test]
fn net_001_granted_origin_and_path_work() {
    let (host, server) = (Host::new(), Server::ok());
    let grant = format!("\"http://127.0.0.1:{}/api/\"", server.port);
    let skill = host.load(&http_package(&grant, ""));
    let url = format!("http://127.0.0.1:{}/api/items?x=1", server.port);
    let (outcome, results) = fetch(&skill, std::slice::from_ref(&url));
    assert_eq!(results[0]["ok"]["status"], 200, "{results:?}");
    assert_eq!(results[0]["ok"]["body"], "hello");
    assert_eq!(
        server.requests(),
        vec!["GET /api/items?x=1 HTTP/1.1".to_owned()]
    );
    assert!(outcome.audit.iter().any(|e| e.kind == AuditKind::Network
        && e.decision == skill_runtime::Decision::Allow
        && e.target == url));
    assert_eq!(
        outcome.origins,
        vec![format!("http://127.0.0.1:{}", server.port)]
    );
}

/// NET-002: Another path, port, scheme or host name for the same IP is denied before anything is sent, and audited.
#[test]
fn net_002_everything_outside_the_prefix_is_denied() {
    let (host, server, other) = (Host::new(), Server::ok(), Server::ok());
    let grant = format!("\"http://127.0.0.1:{}/api/\"", server.port);
    let skill = host.load(&http_package(&grant, ""));
    let p = server.port;
    let urls = vec![
        format!("http://127.0.0.1:{p}/admin"),
        format!("http://127.0.0.1:{p}/api/../admin"),
        format!("http://127.0.0.1:{p}/apiary"),
        format!("http://127.0.0.1:{}/api/", other.port),
        format!("https://127.0.0.1:{p}/api/"),
        format!("http://localhost:{p}/api/"),
        format!("http://[::ffff:127.0.0.1]:{p}/api/"),
    ];
    let (outcome, results) = fetch(&skill, &urls);
    assert_all_refused(&urls, &results);
    assert!(
        server.requests().is_empty(),
        "the granted server saw {:?}",
        server.requests()
    );
    assert!(
        other.requests().is_empty(),
        "the other server saw {:?}",
        other.requests()
    );
    let denials = outcome
        .audit
        .iter()
        .filter(|e| e.kind == AuditKind::Network && e.decision == skill_runtime::Decision::Deny)
        .count();
    // `/api/../admin` arrives normalised as `/admin`, and is denied as that.
    assert_eq!(denials, urls.len(), "{:?}", outcome.audit);
    assert!(outcome.audit.iter().any(|e| {
        e.reason
            .contains("no [capabilities].network grant covers it")
    }));
}

/// NET-003: A granted host name that resolves to loopback is refused, and so is its IP literal; only a grant naming the IP reaches it.
#[test]
fn net_003_names_resolving_to_special_addresses_are_refused() {
    let (host, server) = (Host::new(), Server::ok());
    let skill = host.load(&http_package(
        &format!("\"http://localhost:{}/\"", server.port),
        "",
    ));
    let (outcome, results) = fetch(&skill, &[format!("http://localhost:{}/", server.port)]);
    assert!(results[0].get("err").is_some(), "{results:?}");
    assert!(server.requests().is_empty());
    // The IP literal of a granted name is not the name: refused too, nothing sent.
    let (_, results) = fetch(&skill, &[format!("http://127.0.0.1:{}/", server.port)]);
    assert!(results[0].get("err").is_some(), "{results:?}");
    assert!(server.requests().is_empty());
    assert!(
        outcome
            .audit
            .iter()
            .any(|e| e.decision == skill_runtime::Decision::Deny
                && e.reason.contains("names the IP literally"))
    );
}

/// NET-004: Redirects are not followed: the skill sees the 3xx, and the redirect target is never contacted.
#[test]
fn net_004_redirects_are_not_followed() {
    let (host, target) = (Host::new(), Server::ok());
    let redirect: &'static str = Box::leak(
        format!("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{}/stolen\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", target.port)
            .into_boxed_str(),
    );
    let redirector = Server::start(redirect);
    let skill = host.load(&http_package(
        &format!("\"http://127.0.0.1:{}/\"", redirector.port),
        "",
    ));
    let (_, results) = fetch(
        &skill,
        &[format!("http://127.0.0.1:{}/start", redirector.port)],
    );
    assert_eq!(results[0]["ok"]["status"], 302, "{results:?}");
    assert!(
        target.requests().is_empty(),
        "the redirect was followed: {:?}",
        target.requests()
    );
    // Following it by hand is a new request, checked like any other.
    let (_, results) = fetch(
        &skill,
        &[format!("http://127.0.0.1:{}/stolen", target.port)],
    );
    assert!(results[0].get("err").is_some());
    assert!(target.requests().is_empty());
}

/// NET-005: `limits.http-requests` caps requests per invocation; going over is a limit (exit 3).
#[test]
fn net_005_request_count_is_limited() {
    let (host, server) = (Host::new(), Server::ok());
    let skill = host.load(&http_package(
        &format!("\"http://127.0.0.1:{}/\"", server.port),
        "[limits]\nhttp-requests = 2\n",
    ));
    let url = format!("http://127.0.0.1:{}/", server.port);
    let outcome = attempt(&skill, "fetch", json!({"urls": [url, url, url, url]}), None);
    assert!(
        matches!(
            failure(&outcome),
            Failure::Limit {
                kind: LimitKind::HttpRequests,
                ..
            }
        ),
        "{:?}",
        outcome.result
    );
    // The promise is the cap: never more than `http-requests` reach a server.
    // (Whether both allowed ones complete depends on the test server's timing under load.)
    let seen = server.requests();
    assert!(
        !seen.is_empty() && seen.len() <= 2,
        "the server saw {seen:?}; outcome {:?}",
        outcome.result
    );
}

/// NET-006: Without a network grant a component that imports wasi:http does not load at all.
#[test]
fn net_006_http_without_grant_does_not_load() {
    let host = Host::new();
    let package = TempPackage::new(
        "fetcher",
        skill_test_artifacts::HTTP,
        &skill_table("fetcher"),
    );
    let err = host.load_err(&package).to_string();
    assert!(
        err.contains("wasi:http") && err.contains("[capabilities].network"),
        "{err}"
    );
}

/// NET-007: A server that accepts and never answers cannot hold the skill past `limits.timeout`.
#[test]
fn net_007_a_silent_server_is_cut_at_the_timeout() {
    let _quiet = no_load_spike();
    let host = Host::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = std::thread::spawn(move || {
        // Accept one connection and hold it open without answering.
        let held = listener.accept();
        std::thread::sleep(std::time::Duration::from_secs(3));
        drop(held);
    });
    let skill = host.load(&http_package(
        &format!("\"http://127.0.0.1:{port}/\""),
        "[limits]\ntimeout = \"500ms\"\n",
    ));
    let started = std::time::Instant::now();
    let outcome = attempt(
        &skill,
        "fetch",
        json!({"urls": [format!("http://127.0.0.1:{port}/")]}),
        None,
    );
    let elapsed = started.elapsed();
    let timed_out = matches!(
        outcome.result,
        Err(Failure::Limit {
            kind: LimitKind::Timeout,
            ..
        })
    ) || matches!(&outcome.result, Ok(Value::Array(r)) if r[0].get("err").is_some());
    assert!(timed_out, "{:?}", outcome.result);
    assert!(
        elapsed < std::time::Duration::from_secs(2),
        "took {elapsed:?}"
    );
    let _ = holder.join();
}

const SECRET: &str = "mb_live_7Qx9-CANARY-key";

/// A server that echoes the Authorization header it got, in its body and in a header.
fn echo_server(address: &'static str) -> Server {
    Server::answering(
        address,
        Box::new(|request: &Received| {
            let auth = request
                .headers
                .iter()
                .find_map(|h| {
                    h.strip_prefix("authorization: ")
                        .or_else(|| h.strip_prefix("Authorization: "))
                })
                .unwrap_or("none")
                .to_owned();
            let body = format!("you sent: {auth} (twice: {auth})");
            format!(
                "HTTP/1.1 200 OK\r\nLocation: /echo?{auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }),
    )
}

fn secret_package(port: u16, other_port: u16) -> TempPackage {
    http_package(
        &format!("\"http://127.0.0.1:{port}/\", \"http://127.0.0.2:{other_port}/\""),
        "secrets = [{ name = \"MOLTBOOK_API_KEY\", host = \"127.0.0.1\", header = \"Authorization\", format = \"Bearer {}\" }]\n",
    )
}

fn with_secret(skill: &Skill, urls: Vec<String>) -> Outcome {
    let secrets = Arc::new(skill_runtime::SecretMap::new([(
        "MOLTBOOK_API_KEY".to_owned(),
        SECRET.to_owned(),
    )]));
    attempt_with(
        skill,
        Invocation::new("fetch")
            .input(json!({ "urls": urls }))
            .secrets(secrets),
        None,
    )
}

/// NET-008: A declared secret is added to requests for its host only; another host never receives it.
#[test]
fn net_008_secret_reaches_only_its_declared_host() {
    let (host, declared, other) = (
        Host::new(),
        echo_server("127.0.0.1"),
        echo_server("127.0.0.2"),
    );
    let skill = host.load(&secret_package(declared.port, other.port));
    with_secret(
        &skill,
        vec![
            format!("http://127.0.0.1:{}/api", declared.port),
            format!("http://127.0.0.2:{}/api", other.port),
        ],
    );
    let got = declared.received();
    assert!(
        got[0]
            .headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&format!("authorization: Bearer {SECRET}"))),
        "{got:?}"
    );
    let leaked = other.received();
    assert_eq!(leaked.len(), 1, "the other host was contacted once");
    assert!(
        !format!("{leaked:?}").contains(SECRET),
        "the other host received the secret: {leaked:?}"
    );
}

/// NET-009: A server that echoes the secret back cannot get it into the component, the result, the audit log or errors.
#[test]
fn net_009_an_echoed_secret_never_reaches_the_skill_or_the_outputs() {
    let (host, declared, other) = (
        Host::new(),
        echo_server("127.0.0.1"),
        echo_server("127.0.0.2"),
    );
    let skill = host.load(&secret_package(declared.port, other.port));
    let outcome = with_secret(
        &skill,
        vec![format!("http://127.0.0.1:{}/api", declared.port)],
    );
    let everything = format!(
        "{:?} {} {} {:?}",
        outcome.result, outcome.stdout, outcome.stderr, outcome.audit
    );
    assert!(
        !everything.contains(SECRET),
        "the secret leaked: {everything}"
    );
    let body = outcome.result.as_ref().expect("fetch ran")[0]["ok"]["body"]
        .as_str()
        .expect("body")
        .to_owned();
    assert_eq!(
        body,
        "you sent: Bearer [redacted] (twice: Bearer [redacted])"
    );
    assert!(
        declared.received()[0]
            .headers
            .iter()
            .any(|h| h.contains(SECRET)),
        "the declared host did receive it"
    );
    assert!(outcome.audit.iter().any(|e| {
        e.reason
            .contains("secret MOLTBOOK_API_KEY added as Authorization")
    }));
}

/// NET-010: A skill cannot read a secret through its environment, and a manifest may not list a secret as an env name.
#[test]
fn net_010_secrets_are_not_environment_variables() {
    let host = Host::new();
    let package = escape_package(
        "network = [\"https://api.example.com/\"]\nsecrets = [{ name = \"API_KEY\", host = \"api.example.com\", header = \"Authorization\" }]\n",
    );
    let skill = host.load(&package);
    let secrets = Arc::new(skill_runtime::SecretMap::new([(
        "API_KEY".to_owned(),
        SECRET.to_owned(),
    )]));
    let outcome = attempt_with(
        &skill,
        Invocation::new("env")
            .env([("API_KEY".to_owned(), SECRET.to_owned())])
            .secrets(secrets),
        None,
    );
    assert_eq!(ok_value(&outcome), json!({}));
    let both = escape_package(
        "network = [\"https://api.example.com/\"]\nenv = [\"API_KEY\"]\nsecrets = [{ name = \"API_KEY\", host = \"api.example.com\", header = \"Authorization\" }]\n",
    );
    let err = host.load_err(&both).to_string();
    assert!(err.contains("both a secret and an env name"), "{err}");
}

/// NET-011: A secret the host did not supply is not invented: the request goes without it and the audit says so.
#[test]
fn net_011_a_missing_secret_is_reported_not_invented() {
    let (host, declared, other) = (
        Host::new(),
        echo_server("127.0.0.1"),
        echo_server("127.0.0.2"),
    );
    let skill = host.load(&secret_package(declared.port, other.port));
    let outcome = attempt(
        &skill,
        "fetch",
        json!({"urls": [format!("http://127.0.0.1:{}/api", declared.port)]}),
        None,
    );
    assert!(
        !declared.received()[0]
            .headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("authorization"))
    );
    assert!(
        outcome
            .audit
            .iter()
            .any(|e| e.reason.contains("supplied no value")),
        "{:?}",
        outcome.audit
    );
}

/// NET-012: Percent-encoded `.`, `/` or `\` cannot smuggle a path past the granted prefix; nothing is sent.
#[test]
fn net_012_encoded_separators_cannot_leave_the_prefix() {
    let (host, server) = (Host::new(), Server::ok());
    let skill = host.load(&http_package(
        &format!("\"http://127.0.0.1:{}/api/\"", server.port),
        "",
    ));
    let p = server.port;
    let urls = vec![
        format!("http://127.0.0.1:{p}/api/..%2fadmin"),
        format!("http://127.0.0.1:{p}/api/%2e%2e/admin"),
        format!("http://127.0.0.1:{p}/api/%2E%2E%2Fadmin"),
        format!("http://127.0.0.1:{p}/api/..%5cadmin"),
    ];
    let (_, results) = fetch(&skill, &urls);
    assert_all_refused(&urls, &results);
    assert!(
        server.requests().is_empty(),
        "the server saw {:?}",
        server.requests()
    );
    let (_, results) = fetch(
        &skill,
        &[format!("http://127.0.0.1:{p}/api/items?q=%2e%2e")],
    );
    assert_eq!(
        results[0]["ok"]["status"], 200,
        "a query may contain anything"
    );
    assert_eq!(
        server.requests(),
        vec!["GET /api/items?q=%2e%2e HTTP/1.1".to_owned()]
    );
}

/// NET-013: A response larger than `limits.http-response` is cut off and reported as a limit, whether its length is declared or streamed.
#[test]
fn net_013_oversized_responses_hit_the_limit() {
    let host = Host::new();
    let declared = Server::start(Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            300_000,
            "x".repeat(300_000)
        )
        .into_boxed_str(),
    ));
    let chunk = format!("{:x}\r\n{}\r\n", 50_000, "y".repeat(50_000));
    let streamed = Server::start(Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{}0\r\n\r\n",
            chunk.repeat(6)
        )
        .into_boxed_str(),
    ));
    for server in [&declared, &streamed] {
        let skill = host.load(&http_package(
            &format!("\"http://127.0.0.1:{}/\"", server.port),
            "[limits]\nhttp-response = \"100 KiB\"\n",
        ));
        let outcome = attempt(
            &skill,
            "fetch",
            json!({"urls": [format!("http://127.0.0.1:{}/", server.port)]}),
            None,
        );
        assert!(
            matches!(
                failure(&outcome),
                Failure::Limit {
                    kind: LimitKind::HttpResponse,
                    ..
                }
            ),
            "{:?}",
            outcome.result
        );
        assert!(
            failure(&outcome)
                .message()
                .contains("limits.http-response = 100 KiB")
        );
    }
}

/// NET-014: A secret with a path prefix goes only to requests under that prefix on its host.
#[test]
fn net_014_secret_path_prefix_is_respected() {
    let (host, server, other) = (
        Host::new(),
        echo_server("127.0.0.1"),
        echo_server("127.0.0.2"),
    );
    let package = http_package(
        &format!(
            "\"http://127.0.0.1:{}/\", \"http://127.0.0.2:{}/\"",
            server.port, other.port
        ),
        "secrets = [{ name = \"MOLTBOOK_API_KEY\", host = \"127.0.0.1\", path = \"/api/\", header = \"Authorization\", format = \"Bearer {}\" }]\n",
    );
    let skill = host.load(&package);
    with_secret(
        &skill,
        vec![
            format!("http://127.0.0.1:{}/api/x", server.port),
            format!("http://127.0.0.1:{}/public", server.port),
        ],
    );
    let got = server.received();
    assert!(got[0].headers.iter().any(|h| h.contains(SECRET)), "{got:?}");
    assert!(
        !got[1].headers.iter().any(|h| h.contains(SECRET)),
        "the key went outside its path prefix: {got:?}"
    );
}

/// NET-015: Header names or values carrying CR, LF or NUL are refused by the host, even through raw wasi:http calls.
#[test]
fn net_015_header_smuggling_is_refused() {
    let host = Host::new();
    let skill = host.load(&http_package("\"http://127.0.0.1:9/\"", ""));
    let outcome = attempt(&skill, "smuggle", json!({"smuggle": true}), None);
    assert_eq!(
        outcome.result.expect("runs"),
        json!({"refused": 8, "of": 8})
    );
}
