//! SEC-004..007: secrets exposed as placeholders (`expose = "env"`). A
//! Python script reads its API key from the environment, as scripts do,
//! and gets a per-invocation placeholder; the host writes the real value
//! over it only in requests to the secret's declared host and path, and
//! refuses every request that carries it anywhere else before a byte is
//! sent. Loopback servers record what they received; the real value must
//! appear nowhere the skill can see (environment, output, results, files,
//! audit), echoes included.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use skill_runtime::{AuditKind, Decision, Invocation, Outcome, SecretMap, Skill};

use super::loopback::{Loopback, Seen, response};
use super::pyscript::{copy_tree, printed, python_host};
use super::{Host, attempt_with, escape_package};

/// The real value: characters a URL must encode, a quote, a slash.
const SECRET: &str = "sk_live/9Zq+PLACE\"HOLD=key";
/// The variable (and secret) name.
const NAME: &str = "API_KEY";
const SCRIPT: &str = "scripts/hostile.py";

/// Echoes everything it received: the request line, the headers and the
/// body, in the body and in `X-Echo` (the Authorization header).
fn echo(seen: &Seen) -> Vec<Vec<u8>> {
    let auth = seen.header("authorization").unwrap_or_default();
    let body = format!(
        "line={}\nheaders={}\nbody={}",
        seen.line,
        seen.headers.join("|"),
        String::from_utf8_lossy(&seen.body)
    );
    vec![response(
        "200 OK",
        &format!("X-Echo: {auth}\r\n"),
        body.as_bytes(),
    )]
}

/// A Python script skill granted both servers, with API_KEY exposed as a
/// placeholder for `declared`'s host under /api/.
struct Fixture {
    _host: Host,
    skill: Skill,
    _package: tempfile::TempDir,
    workspace: tempfile::TempDir,
    declared: Loopback,
    other: Loopback,
}

fn fixture() -> Fixture {
    let declared = Loopback::start("127.0.0.1", Box::new(echo));
    let other = Loopback::start("127.0.0.2", Box::new(echo));
    let package = tempfile::tempdir().expect("package");
    copy_tree(
        &Path::new(skill_test_artifacts::WORKSPACE)
            .join("conformance/script-guests/hostile-script"),
        package.path(),
    );
    let manifest = format!(
        "[skill]\nname = \"hostile-script\"\nversion = \"0.1.0\"\nruntime = \"python\"\n\
         [capabilities]\n\
         network = [\"{}/\", \"{}/\"]\n\
         files = [{{ guest = \"/work\", host = \"{{workspace}}/work\", access = \"read-write\" }}]\n\
         secrets = [{{ name = \"{NAME}\", host = \"127.0.0.1\", path = \"/api/\", expose = \"env\" }}]\n\
         [limits]\nmemory = \"256 MiB\"\ntimeout = \"30s\"\n",
        declared.origin(),
        other.origin()
    );
    std::fs::write(package.path().join("skill.toml"), manifest).expect("manifest");
    let host = python_host();
    let skill = host
        .runtime
        .load(package.path())
        .unwrap_or_else(|e| panic!("loading the script skill: {e}"));
    let workspace = tempfile::tempdir().expect("workspace");
    std::fs::create_dir(workspace.path().join("work")).expect("work folder");
    Fixture {
        _host: host,
        skill,
        _package: package,
        workspace,
        declared,
        other,
    }
}

impl Fixture {
    /// Runs the script's `secret` case with `requests` (`{key}` stands for
    /// the variable), the host holding the real value; also writes the
    /// variable to /work/key.txt.
    fn run(&self, requests: Value) -> (Outcome, Value) {
        let invocation = Invocation::new(SCRIPT)
            .args(["secret", NAME, &requests.to_string(), "/work/key.txt"])
            .secrets(Arc::new(SecretMap::new([(
                NAME.to_owned(),
                SECRET.to_owned(),
            )])));
        let outcome = attempt_with(&self.skill, invocation, Some(self.workspace.path()));
        let printed = printed(&outcome);
        (outcome, printed)
    }
}

/// Everything the skill could see or leave behind, as one text.
fn everything(outcome: &Outcome, printed: &Value, workspace: &Path) -> String {
    let mut files = String::new();
    for entry in walk(workspace) {
        files.push_str(&String::from_utf8_lossy(
            &std::fs::read(&entry).unwrap_or_default(),
        ));
    }
    format!(
        "{printed} {:?} {} {} {:?} {files}",
        outcome.result, outcome.stdout, outcome.stderr, outcome.audit
    )
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The placeholder's shape: the documented prefix, the name, 32 hex digits.
fn assert_placeholder(key: &str) {
    let hex = key
        .strip_prefix(&format!("skill-run-secret-{NAME}-"))
        .unwrap_or_else(|| panic!("not a placeholder: {key}"));
    assert!(
        hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{key}"
    );
}

/// The value percent-encoded as the host writes it into a URL.
fn url_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// SEC-004: A script that reads its API key from the environment gets a placeholder, and the declared host receives the real value wherever the script put it (header, query, a body with Content-Length rewritten, a streamed body); the server's echo of it comes back redacted.
#[test]
fn sec_004_placeholder_is_replaced_only_for_the_declared_host() {
    let f = fixture();
    let api = format!("{}/api/v1", f.declared.origin());
    let (outcome, out) = f.run(json!([
        {"url": format!("{api}/me"), "headers": {"Authorization": "Bearer {key}"}},
        {"url": format!("{api}/search?q=x&api_key={{key}}")},
        {"method": "POST", "url": format!("{api}/post"), "body": "token={key}&again={key}"},
        {"method": "POST", "url": format!("{api}/stream"), "body": "streamed {key} end",
         "client": "http.client"},
    ]));
    let key = out["key"].as_str().expect("the variable is set");
    assert_placeholder(key);
    let seen = f.declared.seen();
    assert_eq!(seen.len(), 4, "{seen:?}");
    // The header.
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some(format!("Bearer {SECRET}").as_str())
    );
    // The query, percent-encoded as a script encoding the value would send it.
    assert_eq!(
        seen[1].path(),
        format!("/api/v1/search?q=x&api_key={}", url_encoded(SECRET))
    );
    // A body with a declared length: the length is the new body's.
    let body = format!("token={SECRET}&again={SECRET}");
    assert_eq!(seen[2].body, body.as_bytes());
    assert_eq!(
        seen[2].header("content-length"),
        Some(body.len().to_string())
    );
    // A body without one (http.client streams it): rewritten as it streams.
    assert_eq!(seen[3].body, format!("streamed {SECRET} end").as_bytes());
    // Positive control: nothing else of the requests was changed.
    assert!(seen.iter().all(|s| !s.line.contains("skill-run-secret-")));
    // Every echo reaches the script redacted, in the body and the header.
    let results = out["results"].as_array().expect("results");
    for (i, r) in results.iter().enumerate() {
        let ok = &r["ok"];
        assert_eq!(ok[0], 200, "request {i}: {r}");
        assert!(
            ok[1].as_str().is_some_and(|b| b.contains("[redacted]")),
            "request {i}: {r}"
        );
    }
    assert_eq!(results[0]["ok"][2]["x-echo"], "Bearer [redacted]");
    let all = everything(&outcome, &out, f.workspace.path());
    assert!(!all.contains(SECRET), "the secret leaked: {all}");
    assert!(
        !all.contains(&url_encoded(SECRET)),
        "the secret leaked: {all}"
    );
    for place in ["request headers", "URL", "request body"] {
        assert!(
            outcome.audit.iter().any(|e| e.decision == Decision::Allow
                && e.reason.contains(&format!(
                    "{NAME}'s placeholder replaced by its value in the {place}"
                ))),
            "{place}: {:#?}",
            outcome.audit
        );
    }
    assert!(f.other.seen().is_empty());
}

/// SEC-005: A placeholder sent anywhere but its secret's host and path (another granted host in a header, the query, a body with or without a length, the upper-cased placeholder, the declared host outside the secret's path) is refused before a byte is sent, audited naming the secret, the host and the fix; the same requests without it go through.
#[test]
fn sec_005_placeholder_to_another_host_is_refused_and_audited() {
    let f = fixture();
    let other = f.other.origin();
    let outside = format!("{}/admin", f.declared.origin());
    let (outcome, out) = f.run(json!([
        {"url": format!("{other}/me"), "headers": {"Authorization": "Bearer {key}"}},
        {"url": format!("{other}/search?api_key={{key}}")},
        {"method": "POST", "url": format!("{other}/post"), "body": "token={key}"},
        {"method": "POST", "url": format!("{other}/stream"), "body": "streamed {key}",
         "client": "http.client"},
        {"url": format!("{other}/me"), "headers": {"X-Up": "{KEY}"}},
        {"url": format!("{outside}?k={{key}}")},
    ]));
    let key = out["key"].as_str().expect("the variable is set").to_owned();
    assert_placeholder(&key);
    let results = out["results"].as_array().expect("results");
    assert_eq!(results.len(), 6);
    for (i, r) in results.iter().enumerate() {
        let err = r["err"]
            .as_str()
            .unwrap_or_else(|| panic!("request {i} went: {r}"));
        assert!(err.contains("HttpRequestDenied"), "request {i}: {err}");
    }
    // Nothing reached the other server, not even a connection; nor the
    // declared host outside the secret's path.
    assert!(f.other.seen().is_empty(), "{:?}", f.other.seen());
    assert_eq!(f.other.peak(), 0);
    assert!(f.declared.seen().is_empty(), "{:?}", f.declared.seen());
    let denials: Vec<_> = outcome
        .audit
        .iter()
        .filter(|e| e.kind == AuditKind::Network && e.decision == Decision::Deny)
        .collect();
    assert_eq!(denials.len(), 6, "{denials:#?}");
    for (denial, place) in denials.iter().zip([
        "header authorization",
        "the URL",
        "the body",
        "the body",
        "header x-up",
        "the URL",
    ]) {
        assert!(
            denial
                .reason
                .contains(&format!("placeholder of secret {NAME}"))
                && denial
                    .reason
                    .contains(&format!("in {place} of a request to"))
                && denial
                    .reason
                    .contains("declared for 127.0.0.1 under /api/ only")
                && denial.reason.contains("set that secret's host"),
            "{place}: {}",
            denial.reason
        );
    }
    assert!(
        denials[0].reason.contains("127.0.0.2"),
        "{}",
        denials[0].reason
    );
    let all = everything(&outcome, &out, f.workspace.path());
    assert!(!all.contains(SECRET), "the secret leaked: {all}");

    // Positive control: the same requests without the placeholder go through.
    let (_, out) = f.run(json!([
        {"url": format!("{other}/me"), "headers": {"Authorization": "Bearer mine"}},
        {"method": "POST", "url": format!("{other}/post"), "body": "token=mine"},
        {"method": "POST", "url": format!("{other}/stream"), "body": "streamed mine",
         "client": "http.client"},
        {"url": format!("{outside}?k=mine")},
    ]));
    let results = out["results"].as_array().expect("results");
    assert!(results.iter().all(|r| r["ok"][0] == 200), "{results:?}");
    let seen = f.other.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some("Bearer mine")
    );
    assert_eq!(seen[1].body, b"token=mine");
    assert_eq!(seen[2].body, b"streamed mine");
    // The declared host outside the secret's path took the control only.
    assert_eq!(f.declared.seen().len(), 1);
    assert_eq!(f.declared.seen()[0].path(), "/admin?k=mine");
}

/// SEC-006: Each invocation gets a fresh placeholder (a Python script's two runs, and a wasi:cli component's environment), unguessable and never the value; each is replaced in its own invocation only.
#[test]
fn sec_006_placeholder_is_fresh_per_invocation() {
    let f = fixture();
    let me = json!([{"url": format!("{}/api/me", f.declared.origin()),
                     "headers": {"Authorization": "Bearer {key}"}}]);
    let (_, first) = f.run(me.clone());
    let (_, second) = f.run(me);
    let (a, b) = (
        first["key"].as_str().expect("set"),
        second["key"].as_str().expect("set"),
    );
    assert_placeholder(a);
    assert_placeholder(b);
    assert_ne!(a, b, "the same placeholder twice");
    let seen = f.declared.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(
            s.header("authorization").as_deref(),
            Some(format!("Bearer {SECRET}").as_str())
        );
    }
    // The first run's placeholder is worthless in the second: sent to the
    // declared host it is not replaced (nothing to replace it with).
    let stale = json!([{"url": format!("{}/api/me", f.declared.origin()),
                        "headers": {"Authorization": format!("Bearer {a}")}}]);
    let (_, third) = f.run(stale);
    assert_eq!(third["results"][0]["ok"][0], 200);
    assert_eq!(
        f.declared.seen()[2].header("authorization").as_deref(),
        Some(format!("Bearer {a}").as_str())
    );

    // A wasi:cli component (the escape guest) sees one in its environment too.
    let host = Host::new();
    let skill = host.load(&escape_package(&format!(
        "network = [\"{}/\"]\nsecrets = [{{ name = \"{NAME}\", host = \"127.0.0.1\", expose = \"env\" }}]\n",
        f.declared.origin()
    )));
    let env = || {
        let outcome = attempt_with(
            &skill,
            Invocation::new("env").secrets(Arc::new(SecretMap::new([(
                NAME.to_owned(),
                SECRET.to_owned(),
            )]))),
            None,
        );
        let value = super::ok_value(&outcome)[NAME]
            .as_str()
            .unwrap_or_else(|| panic!("{NAME} not set: {:?}", outcome.result))
            .to_owned();
        assert!(!format!("{outcome:?}").contains(SECRET));
        value
    };
    let (c, d) = (env(), env());
    assert_placeholder(&c);
    assert_ne!(c, d);
    // Positive control: without a value from the host, the variable is not set.
    let outcome = attempt_with(&skill, Invocation::new("env"), None);
    assert!(super::ok_value(&outcome).get(NAME).is_none());
}

/// SEC-007: The real value of an exposed secret is nowhere the skill reaches: not its environment, its files, its output, its results or the audit log, even when the declared host reflects it in every header and the body; the placeholder is what the script holds and writes.
#[test]
fn sec_007_the_value_is_nowhere_the_skill_reaches() {
    let f = fixture();
    let (outcome, out) = f.run(json!([
        {"method": "POST", "url": format!("{}/api/echo?k={{key}}", f.declared.origin()),
         "headers": {"Authorization": "{key}", "X-Other": "a {key} b"}, "body": "{key}"},
    ]));
    let key = out["key"].as_str().expect("set").to_owned();
    assert_placeholder(&key);
    // The environment holds the placeholder, and the file the script wrote.
    assert_eq!(out["env"][NAME], key.as_str());
    assert_eq!(
        std::fs::read_to_string(f.workspace.path().join("work/key.txt")).expect("written"),
        key
    );
    // Positive control: the server did receive the value, in all four places.
    let seen = f.declared.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization").as_deref(), Some(SECRET));
    assert_eq!(
        seen[0].header("x-other").as_deref(),
        Some(format!("a {SECRET} b").as_str())
    );
    assert_eq!(seen[0].body, SECRET.as_bytes());
    assert!(seen[0].path().contains(&url_encoded(SECRET)));
    // The echo of all of it came back redacted.
    let echoed = out["results"][0]["ok"][1].as_str().expect("echo");
    assert!(echoed.contains("[redacted]"), "{echoed}");
    let all = everything(&outcome, &out, f.workspace.path());
    for form in [SECRET.to_owned(), url_encoded(SECRET)] {
        assert!(!all.contains(&form), "the secret leaked: {all}");
    }
    // The audit names the secret and its placeholder's use, never the value.
    assert!(
        outcome.audit.iter().any(|e| e.kind == AuditKind::Env
            && e.target == NAME
            && e.reason.contains("exposed as a placeholder")),
        "{:#?}",
        outcome.audit
    );
}
