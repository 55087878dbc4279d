//! Shared set-up for the Python and JavaScript hostile guests: one runtime
//! with a compile cache under `target/` (a componentize-py component takes
//! tens of seconds for Cranelift; after the first test run it loads from the
//! cache), each guest loaded once per test process, a workspace with a
//! read-only and a read-write folder, and loopback servers.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use skill_runtime::{Limits, MemoryChannels, NetworkOverride};

use super::*;

/// The origin the hostile guests' manifests grant; tests point it at a
/// loopback server with a network override.
pub const GRANTED_ORIGIN: &str = "http://allowed.test";

/// The manifest of a hostile scripted guest.
pub fn manifest(name: &str) -> String {
    format!(
        "{}[capabilities]\n\
         network = [\"{GRANTED_ORIGIN}/\"]\n\
         files = [\n  {{ guest = \"/data\", host = \"{{workspace}}/data\", access = \"read\" }},\n  \
         {{ guest = \"/work\", host = \"{{workspace}}/work\", access = \"read-write\" }},\n]\n\
         env = [\"LANG\"]\n\
         channels = [{{ name = \"out\", direction = \"send\" }}]\n\
         [limits]\nmemory = \"256 MiB\"\ntimeout = \"30s\"\noutput = \"4 MiB\"\n",
        skill_table(name)
    )
}

/// A loaded hostile guest with its workspace, shared by one language's cases.
pub struct Loaded {
    /// Keeps the runtime and its state folder alive.
    pub _host: Host,
    pub skill: Skill,
    pub workspace: tempfile::TempDir,
    /// A file outside every grant, holding the canary.
    pub outside: PathBuf,
    _package: TempPackage,
}

/// The compile cache shared by every test run (mode 0700, as the runtime requires).
fn cache_dir() -> PathBuf {
    let dir = Path::new(skill_test_artifacts::WORKSPACE).join("target/wasm-guests/compile-cache");
    std::fs::create_dir_all(&dir).expect("cache folder");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("cache folder mode");
    }
    dir
}

/// A runtime with the shared compile cache, so loading a Python or
/// JavaScript guest takes milliseconds after the first test run.
pub fn cached_host() -> Host {
    let state = tempfile::tempdir().expect("state folder");
    let runtime = Runtime::new(RuntimeConfig::new(state.path()).with_compile_cache(cache_dir()))
        .expect("runtime");
    Host { runtime, state }
}

/// Loads `component` as skill `name` once per process.
pub fn load_once(cell: &'static OnceLock<Loaded>, name: &str, component: &str) -> &'static Loaded {
    cell.get_or_init(|| {
        let host = cached_host();
        let package = TempPackage::new(name, component, &manifest(name));
        let skill = host
            .runtime
            .load(package.path())
            .unwrap_or_else(|e| panic!("loading {name}: {e}"));
        let workspace = tempfile::tempdir().expect("workspace");
        for folder in ["data", "work"] {
            std::fs::create_dir(workspace.path().join(folder)).expect("grant folder");
        }
        std::fs::write(workspace.path().join("data/readme.txt"), "granted text").expect("write");
        std::fs::write(workspace.path().join("secret.txt"), CANARY).expect("write");
        let outside = workspace.path().join("secret.txt");
        Loaded {
            _host: host,
            skill,
            workspace,
            outside,
            _package: package,
        }
    })
}

impl Loaded {
    /// Calls `command` with `input` in the workspace, with `configure`
    /// adjusting the request (limits, env, overrides, channels).
    pub fn call_with(
        &self,
        command: &str,
        input: Value,
        configure: impl FnOnce(Invocation) -> Invocation,
    ) -> Outcome {
        let request = configure(Invocation::new(command).input(input));
        attempt_with(&self.skill, request, Some(self.workspace.path()))
    }

    /// Calls `command` with `input` and nothing else.
    pub fn call(&self, command: &str, input: Value) -> Outcome {
        self.call_with(command, input, |r| r)
    }

    /// The manifest's limits with `change` applied (a host may only lower them).
    pub fn limits(&self, change: impl FnOnce(&mut Limits)) -> Limits {
        let mut limits = self.skill.manifest().limits;
        change(&mut limits);
        limits
    }
}

/// The `err` text of a typed command that failed with its own error.
pub fn skill_error(outcome: &Outcome) -> String {
    match &outcome.result {
        Err(Failure::SkillError { value, message }) => value
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or(message)
            .to_owned(),
        other => panic!(
            "expected the skill's own error, got {other:?}\nstderr: {}",
            outcome.stderr
        ),
    }
}

/// The value of a typed command that succeeded.
pub fn value(outcome: &Outcome) -> Value {
    match &outcome.result {
        Ok(v) => v.clone(),
        other => panic!(
            "expected success, got {other:?}\nstderr: {}",
            outcome.stderr
        ),
    }
}

/// A loopback HTTP server answering every request with `body`, counting
/// requests and connections.
pub struct Counting {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Counting {
    pub fn start(body: &'static str) -> Counting {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, r, s) = (connections.clone(), requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                if head.is_empty() {
                    continue;
                }
                r.lock().expect("requests").push(head);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Counting {
            port,
            connections,
            requests,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A network override sending the granted origin to this server.
    pub fn granted_override(&self) -> NetworkOverride {
        NetworkOverride::parse(GRANTED_ORIGIN, &self.url()).expect("override")
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Channels whose handler records what it got.
pub fn channels() -> Arc<MemoryChannels> {
    Arc::new(MemoryChannels::new())
}
