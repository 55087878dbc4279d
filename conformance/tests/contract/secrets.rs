//! SEC: a secret the host adds to requests cannot come back to the skill,
//! not whole, not encoded, not split, and not one byte at a time through
//! how the scrubber answers. Each case runs reflecting loopback servers, the
//! kind every API has (an echo endpoint, a 404 page quoting the path).

use std::sync::Arc;

use serde_json::{Value, json};
use skill_runtime::{Invocation, Outcome, SecretMap, Skill};
use skill_test_artifacts::{TempPackage, skill_table};

use super::loopback::{Loopback, Seen, chunked, response};
use super::{Host, attempt_with};

const SECRET: &str = "sk_live/7Qx9+CAN\"ARY=key";

/// A package for the raw-http guest with `network` and `secrets` entries.
pub(crate) fn net_package(network: &str, extra: &str) -> TempPackage {
    let toml = format!(
        "{}[capabilities]\nnetwork = [{network}]\n{extra}",
        skill_table("prober")
    );
    TempPackage::new("prober", skill_test_artifacts::NET, &toml)
}

/// Runs the raw-http guest with `requests`; the secret named KEY is `secret`.
pub(crate) fn send(skill: &Skill, requests: Value, secret: Option<&str>) -> (Outcome, Vec<Value>) {
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

/// The secret grant: KEY for 127.0.0.1 as `Authorization: Bearer …`.
fn secret_for(path: &str) -> String {
    format!(
        "secrets = [{{ name = \"KEY\", host = \"127.0.0.1\", {path}header = \"Authorization\", format = \"Bearer {{}}\" }}]\n"
    )
}

/// A declared host (127.0.0.1, which receives the secret) and an author's
/// host (127.0.0.2, which never does), both answering with `answer`.
fn two_servers(answer: fn(&Seen) -> Vec<Vec<u8>>) -> (Loopback, Loopback, String) {
    let declared = Loopback::start("127.0.0.1", Box::new(answer));
    let author = Loopback::start("127.0.0.2", Box::new(answer));
    let network = format!("\"{}/\", \"{}/\"", declared.origin(), author.origin());
    (declared, author, network)
}

/// A 404 page that quotes the requested path, streamed in two chunks with
/// the path at the end of the first: where a prefix-holding scrubber stalls.
fn quoting_404(seen: &Seen) -> Vec<Vec<u8>> {
    let first = format!("<p>Not found: {}", seen.path());
    chunked("404 Not Found", "", &[first.as_bytes(), b"</p>"])
}

/// What a skill can observe of a response besides the quoted candidate:
/// status, chunk sizes, headers.
fn observation(result: &Value) -> Value {
    let ok = &result["ok"];
    json!({"status": ok["status"], "chunks": ok["chunks"], "headers": ok["headers"]})
}

/// SEC-001: Sending prefixes of a secret to a reflecting server tells the skill nothing: chunking, lengths and headers are the same for a prefix and a non-prefix, on the secret's host and on any other.
#[test]
fn sec_001_no_prefix_oracle_through_the_scrubber() {
    let host = Host::new();
    let (declared, author, network) = two_servers(quoting_404);
    let skill = host.load(&net_package(&network, &secret_for("")));
    for origin in [declared.origin(), author.origin()] {
        // Candidates of equal length: the true first 8 bytes, and 3 wrong ones.
        let true_prefix = &SECRET[..7];
        let candidates = [true_prefix, "sk_lixe", "zzzzzzz", "sk_live"];
        let requests: Vec<Value> = candidates
            .iter()
            .map(|c| json!({"method": "GET", "url": format!("{origin}/q/{c}")}))
            .collect();
        let (_, results) = send(&skill, json!(requests), Some(SECRET));
        let first = observation(&results[0]);
        assert!(first["status"] == 404, "{results:?}");
        for (candidate, result) in candidates.iter().zip(&results) {
            assert_eq!(
                observation(result),
                first,
                "{origin}: candidate {candidate:?} is observable differently from the true prefix"
            );
            let body = result["ok"]["body"].as_str().unwrap_or_default();
            assert_eq!(body, format!("<p>Not found: /q/{candidate}</p>"));
        }
    }
    // Positive control: the whole secret quoted back is replaced.
    let (_, results) = send(
        &skill,
        json!([{"method": "GET", "url": format!("{}/q/{}", declared.origin(), "x")}]),
        Some("QUOTED-SECRET-1234"),
    );
    assert_eq!(results[0]["ok"]["body"], "<p>Not found: /q/x</p>");
    let (_, results) = send(
        &skill,
        json!([{"method": "GET", "url": format!("{}/q/QUOTED-SECRET-1234", declared.origin())}]),
        Some("QUOTED-SECRET-1234"),
    );
    assert_eq!(results[0]["ok"]["body"], "<p>Not found: /q/[redacted]</p>");
}

/// The Authorization value the server received, without the scheme.
fn bearer(seen: &Seen) -> String {
    seen.header("authorization")
        .unwrap_or_default()
        .trim_start_matches("Bearer ")
        .to_owned()
}

/// Echoes the Authorization header with a truthful Content-Length.
fn auth_echo(seen: &Seen) -> Vec<Vec<u8>> {
    let body = format!(
        "you sent: {}",
        seen.header("authorization").unwrap_or_default()
    );
    vec![response("200 OK", "", body.as_bytes())]
}

/// SEC-002: A reflected secret reveals nothing of its length: what the skill receives (headers, Content-Length, body) is identical for secrets of different lengths.
#[test]
fn sec_002_content_length_does_not_give_away_the_secret_length() {
    let host = Host::new();
    let (declared, _author, network) = two_servers(auth_echo);
    let skill = host.load(&net_package(&network, &secret_for("")));
    let request = json!([{"method": "GET", "url": format!("{}/me", declared.origin())}]);
    let (_, short) = send(&skill, request.clone(), Some("short-secret-1"));
    let (_, long) = send(
        &skill,
        request,
        Some("a-much-longer-secret-value-with-more-bytes-2"),
    );
    assert_eq!(short[0]["ok"]["body"], "you sent: Bearer [redacted]");
    assert_eq!(
        short[0]["ok"]["headers"], long[0]["ok"]["headers"],
        "the headers differ with the secret's length"
    );
    assert_eq!(short[0]["ok"], long[0]["ok"]);
    // Positive control: both secrets did reach the server, in full.
    let seen = declared.seen();
    assert_eq!(bearer(&seen[0]), "short-secret-1");
    assert_eq!(
        bearer(&seen[1]),
        "a-much-longer-secret-value-with-more-bytes-2"
    );
}

fn b64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let n = group.len();
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=n {
            out.push(alphabet[((v >> (18 - 6 * i)) & 63) as usize] as char);
        }
        for _ in n..3 {
            out.push('=');
        }
    }
    out
}

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every encoding of `value` the reflecting server applies.
fn encodings(value: &str) -> Vec<(&'static str, String)> {
    let json = serde_json::to_string(value).expect("json");
    vec![
        ("base64", b64(value.as_bytes(), STD)),
        (
            "base64 of the header",
            b64(format!("Bearer {value}").as_bytes(), STD),
        ),
        ("base64url", b64(value.as_bytes(), URL)),
        ("hex", hex(value)),
        ("HEX", hex(value).to_uppercase()),
        ("url", url_escape(value)),
        ("json", json[1..json.len() - 1].to_owned()),
        ("reversed", value.chars().rev().collect()),
        ("upper", value.to_uppercase()),
    ]
}

/// Echoes the secret (and the skill's public X-Public value) in many
/// encodings, in the body and in headers, and split across two headers.
fn encoding_echo(seen: &Seen) -> Vec<Vec<u8>> {
    let secret = bearer(seen);
    let public = seen.header("x-public").unwrap_or_default();
    let mut body = String::new();
    let mut headers = String::new();
    for (value, tag) in [(&secret, "s"), (&public, "p")] {
        for (name, encoded) in encodings(value) {
            body.push_str(&format!("{tag} {name}: {encoded}\n"));
            let header_safe: String = encoded.chars().filter(|c| *c != '"').collect();
            if header_safe == encoded {
                headers.push_str(&format!(
                    "X-{tag}-{}: {encoded}\r\n",
                    name.replace(' ', "-")
                ));
            }
        }
        let (a, b) = value.split_at(value.len() / 2);
        headers.push_str(&format!("X-{tag}-Part-1: {a}\r\nX-{tag}-Part-2: {b}\r\n"));
    }
    vec![response("200 OK", &headers, body.as_bytes())]
}

/// SEC-003: A server that hands the secret back base64-, base64url-, hex-, URL- or JSON-escaped, reversed, upper-cased or split across headers reaches the skill redacted; the same encodings of a public value pass untouched.
#[test]
fn sec_003_encoded_and_split_secrets_are_redacted() {
    let host = Host::new();
    let (declared, _author, network) = two_servers(encoding_echo);
    let skill = host.load(&net_package(&network, &secret_for("")));
    let public = "public-token/99+ok";
    let (outcome, results) = send(
        &skill,
        json!([{"method": "GET", "url": format!("{}/echo", declared.origin()),
                "headers": [["x-public", public]]}]),
        Some(SECRET),
    );
    assert!(
        bearer(&declared.seen()[0]) == SECRET,
        "the server got the secret"
    );
    let seen_by_skill = results[0].to_string();
    let received: Value = results[0]["ok"].clone();
    assert!(received["status"] == 200, "{results:?}");
    for (name, encoded) in encodings(SECRET) {
        assert!(
            !seen_by_skill.contains(&encoded),
            "the secret came back {name}-encoded: {encoded} in {seen_by_skill}"
        );
    }
    let (a, b) = SECRET.split_at(SECRET.len() / 2);
    let headers = received["headers"].as_array().cloned().unwrap_or_default();
    let value_of = |name: &str| {
        headers
            .iter()
            .find(|h| h[0] == name)
            .and_then(|h| h[1].as_str().map(str::to_owned))
    };
    assert_ne!(value_of("x-s-part-1").as_deref(), Some(a), "{headers:?}");
    assert_ne!(value_of("x-s-part-2").as_deref(), Some(b), "{headers:?}");
    assert!(
        !format!("{:?}", outcome.audit).contains(SECRET),
        "the audit log holds the secret"
    );
    // Positive control: the public value, encoded the same ways, is untouched.
    let body = received["body"].as_str().unwrap_or_default();
    for (name, encoded) in encodings(public) {
        assert!(
            body.contains(&format!("p {name}: {encoded}\n")),
            "the public value's {name} form was altered: {body}"
        );
    }
    let (pa, pb) = public.split_at(public.len() / 2);
    assert_eq!(value_of("x-p-part-1").as_deref(), Some(pa));
    assert_eq!(value_of("x-p-part-2").as_deref(), Some(pb));
}

/// NET-016: A secret's `path` prefix matches whole segments: `path = "/api/v1"` reaches `/api/v1` and `/api/v1/x`, never `/api/v1-internal/x`.
#[test]
fn net_016_secret_path_prefix_matches_whole_segments() {
    let host = Host::new();
    let (declared, _author, network) = two_servers(auth_echo);
    let skill = host.load(&net_package(&network, &secret_for("path = \"/api/v1\", ")));
    let o = declared.origin();
    send(
        &skill,
        json!([
            {"method": "GET", "url": format!("{o}/api/v1")},
            {"method": "GET", "url": format!("{o}/api/v1/x")},
            {"method": "GET", "url": format!("{o}/api/v1-internal/x")},
            {"method": "GET", "url": format!("{o}/api/v1x")},
        ]),
        Some(SECRET),
    );
    let seen = declared.seen();
    let got: Vec<(String, bool)> = seen
        .iter()
        .map(|s| (s.path(), bearer(s) == SECRET))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/api/v1".to_owned(), true),
            ("/api/v1/x".to_owned(), true),
            ("/api/v1-internal/x".to_owned(), false),
            ("/api/v1x".to_owned(), false),
        ]
    );
}
