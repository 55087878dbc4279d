//! What the integration tests share: reading a `skill-run` process's
//! result, and the one compile cache every `skill-run` process of a test
//! run uses.

pub mod draft4;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// The `skill-run` binary cargo built for these tests.
pub const SKILL_RUN: &str = env!("CARGO_BIN_EXE_skill-run");

/// The process's exit code (panics if a signal ended it).
pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

/// Stdout parsed as JSON; the panic shows both streams.
pub fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A path as an argument (the test folders are UTF-8).
pub fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The compile cache the `skill-run` processes of every test share
/// (`target/wasm-guests/compile-cache`, private to the user as the runtime
/// requires): each guest, the Python runner included, is compiled once
/// per checkout rather than once per process. Tests of the cache itself
/// use their own folder.
pub fn compile_cache() -> PathBuf {
    let dir = Path::new(skill_test_artifacts::WORKSPACE).join("target/wasm-guests/compile-cache");
    std::fs::create_dir_all(&dir).expect("cache folder");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("mode");
    }
    dir
}

/// Requests a [`mock_api`] saw, in order: each is the request line, then
/// its headers as `name: value` (names lower-cased).
pub type Seen = std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>;

/// A loopback HTTP/1.1 server standing in for a skill's API: it answers
/// the `n`th request (from 0) with `200` and the JSON `body(n)`, records
/// every request, and lives as long as the test process. Returns its port.
pub fn mock_api(body: impl Fn(usize) -> String + Send + 'static) -> (u16, Seen) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Seen = Default::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = Vec::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            request.push(line.trim().to_owned());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                let (name, value) = h.trim().split_once(':').unwrap_or((h.trim(), ""));
                request.push(format!("{}: {}", name.to_ascii_lowercase(), value.trim()));
            }
            log.lock().expect("log").push(request);
            let body = body(n);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

/// Copies a folder and everything under it (files and folders only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
