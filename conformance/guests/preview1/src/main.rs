//! A preview-1 core module for the tests (built for `wasm32-wasip1`, so it
//! imports only `wasi_snapshot_preview1`). Its second argument names an
//! attempt and its stdin is the JSON input, like the escape guest: attempts
//! the sandbox refuses print `{"err": ...}`, ones that succeed `{"ok": ...}`,
//! resource attacks never return. `ops` runs a fixed list of ordinary
//! filesystem, clock, random, environment and stdio operations and prints
//! every result, for comparison with a plain wasmtime run.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use std::{env, fs};

use serde_json::{Value, json};

fn arg(input: &Value, key: &str) -> String {
    input[key].as_str().unwrap_or_default().to_owned()
}

fn report<T: Into<Value>>(result: std::io::Result<T>) -> Value {
    match result {
        Ok(v) => json!({"ok": v.into()}),
        Err(e) => json!({"err": e.to_string()}),
    }
}

/// An operation's result as data: its value or the error's kind and text.
fn outcome<T: Into<Value>>(result: std::io::Result<T>) -> Value {
    match result {
        Ok(v) => json!({"ok": v.into()}),
        Err(e) => json!({"err": format!("{:?}", e.kind()), "os": e.raw_os_error()}),
    }
}

fn names(dir: &str) -> std::io::Result<Vec<String>> {
    let mut names = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// Ordinary operations inside the grants `/rw` (read-write) and `/ro`
/// (read-only, holding `keep.txt` = "original"), each recorded by name.
fn ops() -> Value {
    let mut log = serde_json::Map::new();
    let mut put = |name: &str, value: Value| {
        log.insert(name.to_owned(), value);
    };
    // Filesystem.
    put(
        "preopen rw is dir",
        outcome(fs::metadata("/rw").map(|m| m.is_dir())),
    );
    put(
        "preopen ro is dir",
        outcome(fs::metadata("/ro").map(|m| m.is_dir())),
    );
    put("read ro", outcome(fs::read_to_string("/ro/keep.txt")));
    put(
        "read missing",
        outcome(fs::read_to_string("/rw/missing.txt")),
    );
    put(
        "write new",
        outcome(fs::write("/rw/a.txt", "hello").map(|()| true)),
    );
    put("read back", outcome(fs::read_to_string("/rw/a.txt")));
    put(
        "append",
        outcome(
            fs::OpenOptions::new()
                .append(true)
                .open("/rw/a.txt")
                .and_then(|mut f| f.write_all(b", world"))
                .map(|()| true),
        ),
    );
    put("read appended", outcome(fs::read_to_string("/rw/a.txt")));
    put("size", outcome(fs::metadata("/rw/a.txt").map(|m| m.len())));
    put(
        "is file",
        outcome(fs::metadata("/rw/a.txt").map(|m| m.is_file())),
    );
    put(
        "mtime after 2020",
        outcome(
            fs::metadata("/rw/a.txt")
                .and_then(|m| m.modified())
                .map(|t| {
                    t.duration_since(UNIX_EPOCH).unwrap_or_default()
                        > Duration::from_secs(1_577_836_800)
                }),
        ),
    );
    put(
        "seek and read",
        outcome(fs::File::open("/rw/a.txt").and_then(|mut f| {
            f.seek(SeekFrom::Start(7))?;
            let mut rest = String::new();
            f.read_to_string(&mut rest)?;
            Ok(rest)
        })),
    );
    put(
        "overwrite in place",
        outcome(
            fs::OpenOptions::new()
                .write(true)
                .open("/rw/a.txt")
                .and_then(|mut f| f.write_all(b"HELLO"))
                .map(|()| true),
        ),
    );
    put("read overwritten", outcome(fs::read_to_string("/rw/a.txt")));
    put("mkdir", outcome(fs::create_dir("/rw/sub").map(|()| true)));
    put(
        "mkdir again",
        outcome(fs::create_dir("/rw/sub").map(|()| true)),
    );
    put(
        "mkdir nested",
        outcome(fs::create_dir_all("/rw/sub/x/y").map(|()| true)),
    );
    put(
        "write in sub",
        outcome(fs::write("/rw/sub/b.txt", [0u8, 1, 2, 255]).map(|()| true)),
    );
    put(
        "read bytes",
        outcome(fs::read("/rw/sub/b.txt").map(|b| json!(b))),
    );
    put("list rw", outcome(names("/rw")));
    put("list sub", outcome(names("/rw/sub")));
    put("list ro", outcome(names("/ro")));
    put(
        "rename",
        outcome(fs::rename("/rw/a.txt", "/rw/sub/c.txt").map(|()| true)),
    );
    put(
        "old name gone",
        outcome(fs::metadata("/rw/a.txt").map(|_| true)),
    );
    put("new name", outcome(fs::read_to_string("/rw/sub/c.txt")));
    put(
        "remove non-empty dir",
        outcome(fs::remove_dir("/rw/sub").map(|()| true)),
    );
    put(
        "remove file",
        outcome(fs::remove_file("/rw/sub/c.txt").map(|()| true)),
    );
    put(
        "remove missing",
        outcome(fs::remove_file("/rw/sub/c.txt").map(|()| true)),
    );
    put(
        "remove tree",
        outcome(fs::remove_dir_all("/rw/sub").map(|()| true)),
    );
    put("read a dir as file", outcome(fs::read_to_string("/rw")));
    put(
        "write ro",
        outcome(fs::write("/ro/new.txt", "x").map(|()| true)),
    );
    put("ro unchanged", outcome(fs::read_to_string("/ro/keep.txt")));
    put(
        "relative path from cwd",
        outcome(fs::read_to_string("keep.txt").map(|_| true)),
    );
    // Clocks.
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(5));
    put(
        "monotonic advances across sleep",
        json!(start.elapsed() >= Duration::from_millis(5)),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    put(
        "realtime after 2020",
        json!(now > Duration::from_secs(1_577_836_800)),
    );
    // Random: std's HashMap keys come from random_get; two draws differ.
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    let (a, b) = (RandomState::new(), RandomState::new());
    put(
        "random draws differ",
        json!(a.hash_one(1u8) != b.hash_one(1u8)),
    );
    // Environment and arguments.
    put("args", json!(env::args().collect::<Vec<_>>()));
    put("env GRANTED", json!(env::var("GRANTED").ok()));
    put("env HIDDEN", json!(env::var("HIDDEN").ok()));
    put(
        "env names",
        json!(
            env::vars()
                .map(|(k, _)| k)
                .collect::<std::collections::BTreeSet<_>>()
        ),
    );
    // Stdio.
    let mut input = String::new();
    put(
        "stdin",
        outcome(
            std::io::stdin()
                .read_to_string(&mut input)
                .map(|_| input.clone()),
        ),
    );
    put(
        "stderr write",
        outcome(std::io::stderr().write_all(b"to stderr\n").map(|()| true)),
    );
    Value::Object(log)
}

fn main() {
    let attempt = env::args().nth(1).unwrap_or_default();
    if attempt == "ops" {
        println!("{}", ops());
        return;
    }
    let mut text = String::new();
    let _ = std::io::stdin().read_to_string(&mut text);
    let input: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let result = match attempt.as_str() {
        "echo" => json!({"ok": input, "args": env::args().collect::<Vec<_>>()}),
        "read" => report(fs::read_to_string(arg(&input, "path"))),
        "write" => report(fs::write(arg(&input, "path"), arg(&input, "content")).map(|()| true)),
        "list" => report(names(&arg(&input, "path"))),
        "env" => json!({"ok": env::vars().collect::<std::collections::BTreeMap<_, _>>()}),
        "alloc" => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            for _ in 0..input["mib"].as_u64().unwrap_or(0) {
                blocks.push(vec![1u8; 1 << 20]);
            }
            json!({"ok": blocks.len()})
        }
        "spin" => loop {
            std::hint::black_box(());
        },
        "exit" => std::process::exit(input["code"].as_i64().unwrap_or(0) as i32),
        other => json!({"err": format!("unknown attempt `{other}`")}),
    };
    println!("{result}");
}
