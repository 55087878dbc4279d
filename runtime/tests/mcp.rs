//! `skill-run mcp` driven by a real MCP client from the ecosystem: the
//! official Python SDK (`mcp` on PyPI, pinned in scripts/install-mcp-client,
//! installed on first use), over stdio and Streamable HTTP. Raw JSON-RPC is
//! used only for what no real client sends or shows: malformed JSON, floods,
//! EOF in the middle of a call, forged `Host`/`Origin` headers, when each
//! answer arrives while another call spins.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use skill_test_artifacts::WORKSPACE;

use crate::support::SKILL_RUN;

/// The venv's python with the pinned SDK; installed once per machine.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = Path::new(WORKSPACE).join("target/toolchains/mcp-client");
        let status = Command::new(Path::new(WORKSPACE).join("scripts/install-mcp-client"))
            .arg(&venv)
            .status()
            .expect("running scripts/install-mcp-client");
        assert!(
            status.success(),
            "scripts/install-mcp-client failed: the MCP tests need python3 with venv and pip, and PyPI"
        );
        venv.join("bin/python")
    })
}

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py")
}

/// A folder of packages (the examples and test guests), state, a workspace
/// all temporary, and the compile cache the whole test run shares.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let setup = Setup {
            dir: tempfile::tempdir().expect("temporary folder"),
        };
        for sub in ["skills", "state", "workspace/notes", "cache"] {
            std::fs::create_dir_all(setup.dir.path().join(sub)).expect("folders");
        }
        setup
    }

    fn skills(&self) -> PathBuf {
        self.dir.path().join("skills")
    }

    fn workspace(&self) -> PathBuf {
        self.dir.path().join("workspace")
    }

    /// An example package (SKILL.md, skill.toml, component) under skills/.
    fn example(&self, name: &str, component: &str) -> PathBuf {
        let src = Path::new(WORKSPACE).join("examples").join(name);
        let dst = self.skills().join(name);
        std::fs::create_dir_all(&dst).expect("package folder");
        for file in ["SKILL.md", "skill.toml"] {
            std::fs::copy(src.join(file), dst.join(file)).expect("copy example file");
        }
        std::fs::copy(component, dst.join(format!("{name}.wasm"))).expect("copy component");
        // The WIT source, as `skill-run new` lays a package out: tool descriptions come from it.
        std::fs::create_dir_all(dst.join("wit")).expect("wit folder");
        for entry in std::fs::read_dir(src.join("wit"))
            .expect("example wit")
            .flatten()
        {
            std::fs::copy(entry.path(), dst.join("wit").join(entry.file_name())).expect("copy wit");
        }
        dst
    }

    /// A test package with its own skill.toml body (after `[skill]`).
    fn package(&self, name: &str, component: &str, rest: &str) -> PathBuf {
        let dst = self.skills().join(name);
        std::fs::create_dir_all(&dst).expect("package folder");
        std::fs::write(
            dst.join("SKILL.md"),
            format!("---\nname: {name}\ndescription: Test skill {name}.\n---\n\n# {name}\n"),
        )
        .expect("SKILL.md");
        std::fs::write(
            dst.join("skill.toml"),
            format!("{}{rest}", skill_test_artifacts::skill_table(name)),
        )
        .expect("skill.toml");
        std::fs::copy(component, dst.join("skill.wasm")).expect("copy component");
        dst
    }

    fn examples(&self) {
        self.example("hello", skill_test_artifacts::HELLO);
        self.example("notes", skill_test_artifacts::NOTES);
        self.example("moltbook", skill_test_artifacts::MOLTBOOK);
    }

    /// A skill that writes `/state/out.txt` slowly (for calls abandoned midway).
    fn slow(&self) {
        self.package(
            "slow",
            skill_test_artifacts::SLOW,
            "[capabilities]\nfiles = [{ guest = \"/state\", host = \"{state}\", access = \"read-write\" }]\n[limits]\ntimeout = \"30s\"\n",
        );
    }

    /// `skill-run mcp` arguments serving skills/ with this setup's folders.
    fn server_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "mcp".into(),
            self.skills().display().to_string(),
            "--state-dir".into(),
            self.dir.path().join("state").display().to_string(),
            "--cache-dir".into(),
            crate::support::compile_cache().display().to_string(),
            "--workspace".into(),
            self.workspace().display().to_string(),
            "--watch-interval-ms".into(),
            "100".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn stdio(&self, extra: &[&str]) -> Value {
        let mut command = vec![SKILL_RUN.to_owned()];
        command.extend(self.server_args(extra));
        json!({"transport": "stdio", "command": command, "mode": "legacy"})
    }

    /// The committed `{state}` folder of a skill.
    fn state(&self, skill: &str) -> PathBuf {
        self.dir.path().join("state").join(skill).join("current")
    }
}

/// Runs the Python client with `config` and returns the JSON it printed.
fn client(config: &Value) -> Value {
    // Through a file: a config may carry megabytes of arguments.
    let file = tempfile::NamedTempFile::new().expect("config file");
    std::fs::write(file.path(), config.to_string()).expect("write config");
    let output = Command::new(python())
        .arg(client_script())
        .arg(format!("@{}", file.path().display()))
        .output()
        .expect("running the Python MCP client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Python MCP client failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {stdout}"))
}

fn with(config: &Value, scenario: &str, extra: Value) -> Value {
    let mut config = config.clone();
    config["scenario"] = json!(scenario);
    if let (Value::Object(c), Value::Object(e)) = (&mut config, extra) {
        c.extend(e);
    }
    config
}

fn calls(config: &Value, calls: Value) -> Vec<Value> {
    let out = client(&with(config, "calls", json!({ "calls": calls })));
    out["results"].as_array().expect("results").clone()
}

fn tool<'a>(listed: &'a Value, name: &str) -> &'a Value {
    listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tool {name} in {listed}"))
}

fn text_of(result: &Value) -> String {
    result["text"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// A `skill-run mcp --http` server on a free loopback port.
struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    fn start(setup: &Setup, extra: &[&str]) -> HttpServer {
        let mut args = setup.server_args(&["--http", "127.0.0.1:0"]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(SKILL_RUN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting skill-run mcp --http");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.split("serving Streamable HTTP at ").nth(1) {
                        let url = url.trim().to_owned();
                        // Keep draining stderr so the server never blocks on it.
                        std::thread::spawn(move || for _ in rx {});
                        return HttpServer { child, url };
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("the HTTP server did not start: {}", seen.join("\n"))
                }
            }
        }
    }

    fn config(&self) -> Value {
        json!({"transport": "http", "url": self.url, "mode": "legacy"})
    }

    fn addr(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches("/mcp")
            .to_owned()
    }

    /// Sends one raw HTTP POST of an `initialize` and returns the status.
    fn raw_status(&self, headers: &[(&str, &str)]) -> u16 {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}})
        .to_string();
        let mut request = format!(
            "POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        let has_host = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host"));
        if !has_host {
            request.push_str(&format!("Host: {}\r\n", self.addr()));
        }
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let mut stream = TcpStream::connect(self.addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {response:?}"))
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw JSON-RPC session with `skill-run mcp` on stdio.
struct Raw {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Raw {
    fn start(setup: &Setup) -> Raw {
        let mut child = Command::new(SKILL_RUN)
            .args(setup.server_args(&[]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting skill-run mcp");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stderr")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut raw = Raw {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
        };
        raw.send(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}}),
        );
        let init = raw.response(0);
        assert!(init["result"]["protocolVersion"].is_string(), "{init}");
        raw.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        raw
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to server");
        stdin.flush().expect("flush");
    }

    fn send(&mut self, message: &Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.write(line.as_bytes());
    }

    fn call(&mut self, id: u64, tool: &str, arguments: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}));
    }

    /// The next message with `id` (others are skipped).
    fn response(&mut self, id: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no response {id}; stderr: {}", self.stderr()));
            let message: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                panic!("the server wrote a line that is not JSON ({e}): {line}")
            });
            if message["id"] == json!(id) {
                return message;
            }
        }
    }

    /// The next message that is an error without an id (a parse error).
    fn next_message(&mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no message; stderr: {}", self.stderr()));
        serde_json::from_str(&line).expect("JSON")
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Moltbook mock on a free loopback port, stopped when dropped.
struct Mock {
    child: Child,
    port: u16,
}

const MOLTBOOK_KEY: &str = "moltbook_test_key_4f9a2c";

impl Mock {
    fn start() -> Mock {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("python3")
            .arg(Path::new(WORKSPACE).join("scripts/moltbook-mock.py"))
            .arg(port.to_string())
            .arg(MOLTBOOK_KEY)
            .spawn()
            .expect("starting the Moltbook mock");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the Moltbook mock did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Mock { child, port }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tools_have_names_schemas_and_annotations_from_the_manifest() {
    let setup = Setup::new();
    setup.examples();
    // An instruction-only skill: offered as data, with no tools.
    let guide = setup.skills().join("guide");
    std::fs::create_dir_all(guide.join("docs")).expect("guide");
    std::fs::write(
        guide.join("SKILL.md"),
        "---\nname: guide\ndescription: How we work.\n---\n\n# Guide\n\nSee [the style](docs/style.md).\n",
    )
    .expect("SKILL.md");
    std::fs::write(guide.join("docs/style.md"), "# Style\n\nShort sentences.\n").expect("style");

    let listed = client(&with(
        &setup.stdio(&[]),
        "list",
        json!({"read": ["skill://hello/SKILL.md", "skill://guide/docs/style.md", "skill://hello/../notes/SKILL.md"],
               "prompts": ["guide"]}),
    ));
    assert_eq!(listed["protocolVersion"], "2025-11-25");
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for expected in [
        "hello__greet",
        "hello__count",
        "hello__divide",
        "notes__add",
        "notes__titles",
        "notes__get",
        "notes__search",
        "notes__import-file",
        "moltbook__feed",
        "moltbook__me",
        "moltbook__post",
        "moltbook__heartbeat",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n.starts_with("guide")), "{names:?}");

    let greet = tool(&listed, "hello__greet");
    assert_eq!(greet["inputSchema"]["type"], "object");
    assert_eq!(greet["inputSchema"]["required"], json!(["name"]));
    assert_eq!(
        greet["outputSchema"]["properties"]["result"]["type"],
        "string"
    );
    assert!(
        greet["description"]
            .as_str()
            .is_some_and(|d| d.contains("Greets")),
        "{greet}"
    );
    // The WIT doc comment, not SKILL.md, describes each command.
    assert!(
        tool(&listed, "hello__divide")["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Divides `a` by `b`; an error for division by zero.")),
        "{}",
        tool(&listed, "hello__divide")
    );
    let count = tool(&listed, "hello__count");
    assert_eq!(count["outputSchema"]["type"], "object");
    assert_eq!(count["outputSchema"]["additionalProperties"], false);

    let hints = |name: &str| {
        let a = &tool(&listed, name)["annotations"];
        (
            a["readOnlyHint"].clone(),
            a["destructiveHint"].clone(),
            a["openWorldHint"].clone(),
        )
    };
    assert_eq!(
        hints("hello__greet"),
        (json!(true), json!(false), json!(false))
    );
    assert_eq!(
        hints("notes__add"),
        (json!(false), json!(true), json!(false))
    );
    assert_eq!(
        hints("moltbook__feed"),
        (json!(false), json!(false), json!(true))
    );

    let prompts: Vec<&str> = listed["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(prompts, ["guide", "hello", "moltbook", "notes"]);
    assert!(
        listed["promptTexts"]["guide"][0]
            .as_str()
            .is_some_and(|t| t.contains("See [the style]")),
        "{listed}"
    );
    let hello_md =
        std::fs::read_to_string(setup.skills().join("hello/SKILL.md")).expect("SKILL.md");
    assert_eq!(
        listed["reads"]["skill://hello/SKILL.md"][0]["text"],
        hello_md
    );
    assert_eq!(
        listed["reads"]["skill://guide/docs/style.md"][0]["text"],
        "# Style\n\nShort sentences.\n"
    );
    assert!(
        listed["reads"]["skill://hello/../notes/SKILL.md"]["jsonrpcError"].is_object(),
        "a URI that climbs out of a skill is not served: {listed}"
    );
    assert!(
        listed["capabilities"]["extensions"]["io.modelcontextprotocol/skills"].is_object(),
        "{}",
        listed["capabilities"]
    );
}

#[test]
fn the_2026_07_28_revision_is_served_over_streamable_http() {
    let setup = Setup::new();
    setup.example("hello", skill_test_artifacts::HELLO);
    let server = HttpServer::start(&setup, &[]);
    let mut config = server.config();
    config["mode"] = json!("2026-07-28");
    let listed = client(&with(&config, "list", json!({})));
    assert_eq!(listed["protocolVersion"], "2026-07-28");
    assert!(tool(&listed, "hello__greet")["inputSchema"].is_object());
    let results = calls(
        &config,
        json!([{"tool": "hello__greet", "arguments": {"name": "Ada", "tone": "formal"}}]),
    );
    assert_eq!(
        results[0]["structuredContent"],
        json!({"result": "Good day to you, Ada."})
    );
}

#[test]
fn every_example_command_answers_and_failures_are_error_results() {
    let setup = Setup::new();
    setup.examples();
    std::fs::write(setup.workspace().join("notes/seed.md"), "seeded").expect("seed");
    let results = calls(
        &setup.stdio(&[]),
        json!([
            {"tool": "hello__greet", "arguments": {"name": "Ada", "tone": "cheerful"}},
            {"tool": "hello__count", "arguments": {"text": "one two\nthree"}},
            {"tool": "hello__divide", "arguments": {"a": 7, "b": 2}},
            {"tool": "hello__divide", "arguments": {"a": 7, "b": 0}},
            {"tool": "notes__add", "arguments": {"title": "todo", "body": "milk"}},
            {"tool": "notes__titles", "arguments": {}},
            {"tool": "notes__get", "arguments": {"title": "todo"}},
            {"tool": "notes__search", "arguments": {"query": "MILK"}},
            {"tool": "notes__import-file", "arguments": {"path": "/notes/seed.md", "title": "copy"}},
            {"tool": "hello__greet", "arguments": {"name": 5}},
            {"tool": "hello__greet", "arguments": {"name": "Ada", "extra": true}},
            {"tool": "no_such__tool", "arguments": {}}
        ]),
    );
    let ok = |i: usize| {
        assert_eq!(results[i]["isError"], false, "call {i}: {}", results[i]);
        results[i]["structuredContent"].clone()
    };
    assert_eq!(ok(0), json!({"result": "Hello, Ada! Lovely to see you!"}));
    assert_eq!(ok(1)["words"], 3);
    assert_eq!(ok(2), json!({"result": 3}));
    assert_eq!(results[3]["isError"], true);
    assert!(text_of(&results[3]).contains("divide"), "{}", results[3]);
    assert!(ok(4)["result"].as_str().is_some_and(|p| p.contains("todo")));
    assert_eq!(ok(5), json!({"result": ["seed", "todo"]}));
    assert_eq!(ok(6)["title"], "todo");
    assert!(
        ok(6)["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("milk"))
    );
    assert_eq!(ok(7)["result"][0]["title"], "todo");
    assert!(ok(8)["result"].is_string());
    // Arguments that do not match the schema: a tool error the model can act on.
    for i in [9, 10] {
        assert_eq!(results[i]["isError"], true, "{}", results[i]);
        assert!(
            text_of(&results[i]).contains("did not run"),
            "{}",
            results[i]
        );
    }
    assert!(
        results[11]["jsonrpcError"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown tool"))
    );
    // The state changed once per note written (the add and the import).
    assert_eq!(
        std::fs::read_to_string(setup.state("notes").join("notes-added")).expect("counter"),
        "2"
    );
}

#[test]
fn a_read_outside_the_grant_is_an_audited_error_that_leaks_nothing() {
    let setup = Setup::new();
    setup.examples();
    let secret = setup.dir.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-7731").expect("secret");
    std::fs::write(setup.workspace().join("notes/inside.md"), "inside text").expect("inside");
    let audit = setup.dir.path().join("audit.jsonl");
    let audit_arg = audit.display().to_string();
    let results = calls(
        &setup.stdio(&["--audit", &audit_arg]),
        json!([
            {"tool": "notes__import-file", "arguments": {"path": secret.display().to_string(), "title": "stolen"}},
            {"tool": "notes__import-file", "arguments": {"path": "/etc/passwd", "title": "passwd"}},
            {"tool": "notes__import-file", "arguments": {"path": "/notes/../../secret.txt", "title": "climb"}},
            {"tool": "notes__import-file", "arguments": {"path": "/notes/inside.md", "title": "allowed"}},
            {"tool": "notes__get", "arguments": {"title": "allowed"}}
        ]),
    );
    for result in &results[..3] {
        assert_eq!(result["isError"], true, "{result}");
        let text = result.to_string();
        assert!(
            !text.contains("TOP-SECRET") && !text.contains("root:x:0"),
            "{text}"
        );
    }
    // Climbing out of /notes is a denial, named in the result.
    assert!(
        text_of(&results[2]).contains("denied file"),
        "{}",
        results[2]
    );
    // The positive control: the same command inside the grant works.
    assert_eq!(results[3]["isError"], false, "{}", results[3]);
    assert!(
        results[4]["structuredContent"]["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("inside text")),
        "{}",
        results[4]
    );
    let events = std::fs::read_to_string(&audit).expect("audit log");
    assert!(
        events
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|e| e["decision"] == "deny"
                && e["target"]
                    .as_str()
                    .is_some_and(|t| t.contains("secret.txt"))),
        "{events}"
    );
    assert!(!events.contains("TOP-SECRET"));
    assert!(!setup.workspace().join("notes/stolen.md").exists());
    assert!(!setup.workspace().join("notes/passwd.md").exists());
}

#[test]
fn a_limit_is_an_error_result_and_the_server_keeps_serving() {
    let setup = Setup::new();
    setup.examples();
    let big = "x".repeat(1536 * 1024);
    let results = calls(
        &setup.stdio(&[]),
        json!([
            {"tool": "hello__greet", "arguments": {"name": big}},
            {"tool": "hello__greet", "arguments": {"name": "Ada"}}
        ]),
    );
    assert_eq!(results[0]["isError"], true, "{}", text_of(&results[0]));
    assert_eq!(results[0]["structuredContent"]["error"]["failure"], "limit");
    assert!(
        text_of(&results[0]).contains("output"),
        "{}",
        text_of(&results[0])
    );
    assert_eq!(
        results[1]["structuredContent"],
        json!({"result": "Hello, Ada."})
    );
}

#[test]
fn moltbook_results_are_untrusted_with_origins_and_the_key_redacted() {
    let setup = Setup::new();
    setup.example("moltbook", skill_test_artifacts::MOLTBOOK);
    let mock = Mock::start();
    let target = format!("https://www.moltbook.com=http://127.0.0.1:{}", mock.port);
    let mut config = setup.stdio(&["--network-override", &target]);
    config["env"] = json!({"MOLTBOOK_API_KEY": MOLTBOOK_KEY});
    let results = calls(
        &config,
        json!([
            {"tool": "moltbook__feed", "arguments": {}},
            {"tool": "moltbook__me", "arguments": {}}
        ]),
    );
    let feed = &results[0];
    assert_eq!(feed["isError"], false, "{feed}");
    assert_eq!(feed["meta"]["untrusted"], true);
    assert_eq!(feed["meta"]["origins"], json!(["https://www.moltbook.com"]));
    let text = text_of(feed);
    assert!(
        text.starts_with("<untrusted-data skill=\"moltbook\""),
        "{text}"
    );
    assert!(text.contains("Ignore previous instructions"), "{text}");
    assert!(!feed.to_string().contains(MOLTBOOK_KEY), "{feed}");
    assert!(feed.to_string().contains("[redacted]"), "{feed}");
    assert_eq!(results[1]["structuredContent"]["name"], "demo-agent");
}

#[test]
fn thirty_two_concurrent_calls_all_get_their_own_answer() {
    let setup = Setup::new();
    setup.example("hello", skill_test_artifacts::HELLO);
    let calls_list: Vec<Value> = (0..32)
        .map(|i| json!({"tool": "hello__greet", "arguments": {"name": format!("n{i}"), "tone": "formal"}}))
        .collect();
    for config in [setup.stdio(&[]), HttpServer::start(&setup, &[]).config()] {
        let out = client(&with(&config, "concurrent", json!({ "calls": calls_list })));
        let results = out["results"].as_array().expect("results");
        assert_eq!(results.len(), 32);
        for (i, result) in results.iter().enumerate() {
            assert_eq!(
                result["structuredContent"],
                json!({"result": format!("Good day to you, n{i}.")}),
                "{result}"
            );
        }
    }
}

#[test]
fn a_package_edited_to_grab_a_capability_under_lock_disappears() {
    let setup = Setup::new();
    setup.example("hello", skill_test_artifacts::HELLO);
    setup.example("notes", skill_test_artifacts::NOTES);
    let lock = setup.dir.path().join("skills.lock");
    for name in ["hello", "notes"] {
        let status = Command::new(SKILL_RUN)
            .args([
                "approve",
                &setup.skills().join(name).display().to_string(),
                "--lock",
            ])
            .arg(&lock)
            .stdout(Stdio::null())
            .status()
            .expect("approve");
        assert!(status.success());
    }
    let lock_arg = lock.display().to_string();
    let config = with(
        &setup.stdio(&["--lock", &lock_arg]),
        "watch",
        json!({"gone": "hello__greet", "calls": [
            {"tool": "hello__greet", "arguments": {"name": "Ada"}},
            {"tool": "notes__titles", "arguments": {}}
        ]}),
    );
    let mut child = Command::new(python())
        .arg(client_script())
        .arg(config.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("client");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("event");
    assert_eq!(line.trim(), "event: listed", "{line}");
    let manifest = setup.skills().join("hello/skill.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        text.replace(
            "[limits]",
            "[capabilities]\nnetwork = [\"https://evil.example/\"]\n\n[limits]",
        ),
    )
    .expect("edit");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("signal");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("output");
    assert!(child.wait().expect("client").success(), "{rest}");
    let out: Value = serde_json::from_str(rest.lines().last().unwrap_or_default()).expect("JSON");
    assert!(
        out["before"]
            .as_array()
            .expect("before")
            .contains(&json!("hello__greet"))
    );
    assert!(
        !out["after"]
            .as_array()
            .expect("after")
            .contains(&json!("hello__greet")),
        "{out}"
    );
    assert!(
        out["after"]
            .as_array()
            .expect("after")
            .contains(&json!("notes__titles")),
        "{out}"
    );
    assert!(
        out["notifications"]
            .to_string()
            .contains("tools/list_changed"),
        "{out}"
    );
    assert!(out["calls"][0]["jsonrpcError"].is_object(), "{out}");
    assert_eq!(out["calls"][1]["isError"], false, "{out}");
}

#[test]
fn an_http_client_that_disconnects_mid_call_leaves_state_unchanged_and_others_served() {
    let setup = Setup::new();
    setup.example("hello", skill_test_artifacts::HELLO);
    setup.slow();
    let server = HttpServer::start(&setup, &[]);
    let abandoned = client(&with(
        &server.config(),
        "abandon",
        json!({"after": 1.0, "slow": {"tool": "slow__main", "arguments":
            {"path": "/state/out.txt", "content": "chunk\n", "chunks": 40, "pause_ms": 100}}}),
    ));
    assert_eq!(abandoned["finished"], false);
    let results = calls(
        &server.config(),
        json!([{"tool": "hello__greet", "arguments": {"name": "Ada"}}]),
    );
    assert_eq!(
        results[0]["structuredContent"],
        json!({"result": "Hello, Ada."})
    );
    // Long after the abandoned call would have finished, nothing was committed.
    std::thread::sleep(Duration::from_secs(4));
    assert!(!setup.state("slow").join("out.txt").exists());
    // The positive control: the same call allowed to finish commits its file.
    let done = calls(
        &server.config(),
        json!([{"tool": "slow__main", "arguments":
            {"path": "/state/out.txt", "content": "chunk\n", "chunks": 2, "pause_ms": 1}}]),
    );
    assert_eq!(done[0]["isError"], false, "{}", done[0]);
    assert_eq!(
        std::fs::read_to_string(setup.state("slow").join("out.txt")).expect("committed"),
        "chunk\nchunk\n"
    );
}

#[test]
fn http_refuses_foreign_hosts_origins_and_missing_tokens_with_403() {
    let setup = Setup::new();
    setup.example("hello", skill_test_artifacts::HELLO);
    let token = setup.dir.path().join("token");
    std::fs::write(&token, "s3cret-token-0123456789\n").expect("token");
    let token_arg = token.display().to_string();
    let server = HttpServer::start(&setup, &["--token", &token_arg]);
    let bearer = ("Authorization", "Bearer s3cret-token-0123456789");
    assert_eq!(server.raw_status(&[]), 403, "no token");
    assert_eq!(
        server.raw_status(&[("Authorization", "Bearer wrong-token-0123456789")]),
        403
    );
    assert_eq!(
        server.raw_status(&[bearer, ("Host", "evil.example")]),
        403,
        "DNS rebinding Host"
    );
    assert_eq!(
        server.raw_status(&[bearer, ("Origin", "http://evil.example")]),
        403,
        "foreign Origin"
    );
    assert_eq!(server.raw_status(&[bearer]), 200, "the positive control");
    let mut config = server.config();
    config["headers"] = json!({"Authorization": bearer.1});
    let results = calls(
        &config,
        json!([{"tool": "hello__greet", "arguments": {"name": "Ada"}}]),
    );
    assert_eq!(
        results[0]["structuredContent"],
        json!({"result": "Hello, Ada."})
    );
}

#[test]
fn stdio_eof_mid_call_ends_the_server_cleanly_with_state_unchanged() {
    let setup = Setup::new();
    setup.slow();
    let mut raw = Raw::start(&setup);
    raw.call(
        1,
        "slow__main",
        json!({"path": "/state/out.txt", "content": "chunk\n", "chunks": 50, "pause_ms": 100}),
    );
    std::thread::sleep(Duration::from_millis(700));
    let closed = Instant::now();
    raw.close_stdin();
    let status = raw
        .wait(Duration::from_secs(10))
        .expect("the server exits after EOF");
    assert!(status.success(), "{status}; stderr: {}", raw.stderr());
    assert!(
        closed.elapsed() < Duration::from_secs(4),
        "{:?}",
        closed.elapsed()
    );
    assert!(!raw.stderr().contains("panicked"), "{}", raw.stderr());
    assert!(!setup.state("slow").join("out.txt").exists());
    // No work copy left half-written under the committed state either.
    let current = setup.state("slow");
    let entries = std::fs::read_dir(&current).map(|d| d.count()).unwrap_or(0);
    assert_eq!(entries, 0, "{}", current.display());
}

/// Spins until its timeout: `spin: func() -> u32` never returns.
const SPINNER: &str = r#"(component
  (core module $m (func (export "spin") (result i32) (loop $l (br $l)) (i32.const 0)))
  (core instance $i (instantiate $m))
  (func (export "spin") (result u32) (canon lift (core func $i "spin"))))"#;

#[test]
fn a_call_that_spins_does_not_hold_up_quick_calls_over_stdio() {
    let setup = Setup::new();
    setup.examples();
    let component = setup.dir.path().join("spinner.wasm");
    std::fs::write(&component, wat::parse_str(SPINNER).expect("wat")).expect("spinner");
    setup.package(
        "spinner",
        component.to_str().expect("UTF-8 path"),
        "[limits]\ntimeout = \"3s\"\n",
    );
    let mut raw = Raw::start(&setup);
    let greeted = |answer: &Value, name: &str| {
        assert_eq!(
            answer["result"]["structuredContent"],
            json!({"result": format!("Hello, {name}.")}),
            "{answer}"
        );
    };
    // Quick calls first: from now on the greeting runs on the thread that
    // reads the client's messages.
    for id in 1..=3 {
        raw.call(id, "hello__greet", json!({"name": "Ada"}));
        greeted(&raw.response(id), "Ada");
    }
    let spun = Instant::now();
    raw.call(10, "spinner__spin", json!({}));
    std::thread::sleep(Duration::from_millis(200));
    for id in 11..=15 {
        raw.call(id, "hello__greet", json!({"name": "Bo"}));
        greeted(&raw.response(id), "Bo");
    }
    let quick = spun.elapsed();
    assert!(
        quick < Duration::from_secs(2),
        "the greetings waited for the spinning call: {quick:?}"
    );
    // The spinner was running all along, and is stopped at its own timeout.
    let spin = raw.response(10);
    assert!(spun.elapsed() >= Duration::from_millis(2900), "{spin}");
    assert_eq!(spin["result"]["isError"], true, "{spin}");
    assert_eq!(
        spin["result"]["structuredContent"]["error"]["failure"], "limit",
        "{spin}"
    );
    // A tool that was slow once stays off the reading thread: greetings
    // sent while it spins again are still answered at once.
    let again = Instant::now();
    raw.call(20, "spinner__spin", json!({}));
    std::thread::sleep(Duration::from_millis(200));
    raw.call(21, "hello__greet", json!({"name": "Cy"}));
    greeted(&raw.response(21), "Cy");
    assert!(
        again.elapsed() < Duration::from_secs(2),
        "{:?}",
        again.elapsed()
    );
    assert_eq!(raw.response(20)["result"]["isError"], true);
}

#[test]
fn bad_input_gets_json_rpc_errors_or_error_results_never_a_panic() {
    let setup = Setup::new();
    setup.example("hello", skill_test_artifacts::HELLO);
    let mut raw = Raw::start(&setup);
    raw.write(b"{this is not json\n");
    let parse = raw.next_message();
    assert_eq!(parse["error"]["code"], -32700, "{parse}");
    raw.call(2, "no_such__tool", json!({}));
    assert_eq!(raw.response(2)["error"]["code"], -32602);
    raw.call(3, "hello__greet", json!({"name": ["not", "a", "string"]}));
    let mismatch = raw.response(3);
    assert_eq!(mismatch["result"]["isError"], true, "{mismatch}");
    raw.call(
        4,
        "hello__greet",
        json!({"name": "y".repeat(10 * 1024 * 1024)}),
    );
    let huge = raw.response(4);
    assert_eq!(huge["result"]["isError"], true);
    assert!(huge.to_string().contains("bytes"), "{huge}");
    // A flood: 3,000 calls written at once, then one more that must still work.
    let mut flood = String::new();
    for id in 100..3100 {
        flood.push_str(
            &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": "hello__greet", "arguments": {"name": "f"}}})
            .to_string(),
        );
        flood.push('\n');
    }
    raw.write(flood.as_bytes());
    // Replies come in any order: collect them by id.
    let mut answered = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    while answered.len() < 3000 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = raw.lines.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "{} of 3000 answered; stderr: {}",
                answered.len(),
                raw.stderr()
            )
        });
        let reply: Value = serde_json::from_str(&line).expect("JSON");
        assert!(
            reply["result"].is_object() || reply["error"].is_object(),
            "{reply}"
        );
        if let Some(id) = reply["id"].as_u64() {
            answered.insert(id);
        }
    }
    raw.call(5, "hello__greet", json!({"name": "after"}));
    assert_eq!(
        raw.response(5)["result"]["structuredContent"],
        json!({"result": "Hello, after."})
    );
    assert!(!raw.stderr().contains("panicked"), "{}", raw.stderr());
}

#[test]
fn two_packages_that_would_share_a_tool_name_are_refused_at_start() {
    let setup = Setup::new();
    setup.example("hello", skill_test_artifacts::HELLO);
    let copy = setup.skills().join("hello-again");
    std::fs::create_dir_all(&copy).expect("copy");
    for file in ["SKILL.md", "skill.toml", "hello.wasm"] {
        std::fs::copy(setup.skills().join("hello").join(file), copy.join(file)).expect("copy");
    }
    let output = Command::new(SKILL_RUN)
        .args(setup.server_args(&[]))
        .stdin(Stdio::null())
        .output()
        .expect("skill-run mcp");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("also named `hello`"), "{stderr}");
}

#[test]
fn the_skills_extension_lists_each_file_with_its_sha256_and_size() {
    let setup = Setup::new();
    setup.example("hello", skill_test_artifacts::HELLO);
    let mut raw = Raw::start(&setup);
    raw.send(&json!({"jsonrpc": "2.0", "id": 7, "method": "skills/list", "params": {}}));
    let listed = raw.response(7);
    let skills = listed["result"]["skills"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(skills.len(), 1, "{listed}");
    assert_eq!(skills[0]["uri"], "skill://hello/SKILL.md");
    let text = std::fs::read(setup.skills().join("hello/SKILL.md")).expect("SKILL.md");
    let file = &skills[0]["resources"][0];
    assert_eq!(file["uri"], "skill://hello/SKILL.md", "{listed}");
    assert_eq!(file["size"], text.len() as u64, "{listed}");
    let digest = file["digest"].as_str().unwrap_or_default();
    let expected: String = {
        use std::fmt::Write as _;
        let sum = <sha2::Sha256 as sha2::Digest>::digest(&text);
        sum.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    assert!(digest.ends_with(&expected), "{digest} vs {expected}");
}
