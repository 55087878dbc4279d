//! A hostile skill for the tests: `wasi:cli/command` whose first argument
//! names an attempt and whose stdin is its JSON input. Attempts that the
//! sandbox answers with an error print `{"err": "..."}`; ones that succeed
//! print `{"ok": ...}`; resource attacks never return at all.

use std::io::{Read, Write};
use std::{env, fs};

use serde_json::{Value, json};

mod disk;

fn arg(input: &Value, key: &str) -> String {
    input[key].as_str().unwrap_or_default().to_owned()
}

fn number(input: &Value, key: &str) -> u64 {
    input[key].as_u64().unwrap_or(0)
}

fn report<T: Into<Value>>(result: std::io::Result<T>) -> Value {
    match result {
        Ok(v) => json!({"ok": v.into()}),
        Err(e) => json!({"err": e.to_string()}),
    }
}

/// Recurses until the stack runs out; `black_box` keeps the optimiser from
/// turning it into a loop.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[(depth % 64) as usize])
}

fn main() {
    let attempt = env::args().nth(1).unwrap_or_default();
    let mut text = String::new();
    let _ = std::io::stdin().read_to_string(&mut text);
    let input: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let result = match attempt.as_str() {
        "echo" => json!({"ok": input, "args": env::args().collect::<Vec<_>>()}),
        "read" => report(fs::read_to_string(arg(&input, "path"))),
        "write" => report(fs::write(arg(&input, "path"), arg(&input, "content")).map(|()| true)),
        "append" => report(
            fs::OpenOptions::new()
                .append(true)
                .open(arg(&input, "path"))
                .and_then(|mut f| f.write_all(arg(&input, "content").as_bytes()))
                .map(|()| true),
        ),
        "truncate" => report(
            fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(arg(&input, "path"))
                .map(|_| true),
        ),
        "rename" => report(fs::rename(arg(&input, "from"), arg(&input, "to")).map(|()| true)),
        "hard-link" => report(fs::hard_link(arg(&input, "from"), arg(&input, "to")).map(|()| true)),
        "remove" => report(fs::remove_file(arg(&input, "path")).map(|()| true)),
        "mkdir" => report(fs::create_dir(arg(&input, "path")).map(|()| true)),
        "list" => report(fs::read_dir(arg(&input, "path")).map(|entries| {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        })),
        "open-many" => {
            let mut files = Vec::new();
            for _ in 0..number(&input, "count") {
                match fs::File::open(arg(&input, "path")) {
                    Ok(f) => files.push(f),
                    Err(e) => {
                        return println!(
                            "{}",
                            json!({"err": e.to_string(), "opened": files.len()})
                        );
                    }
                }
            }
            json!({"ok": files.len()})
        }
        "write-then-panic" => {
            let _ = fs::write(arg(&input, "path"), arg(&input, "content"));
            panic!("after writing")
        }
        "write-then-spin" => {
            let _ = fs::write(arg(&input, "path"), arg(&input, "content"));
            loop {
                std::hint::black_box(());
            }
        }
        "write-slowly" => {
            let mut file = match fs::File::create(arg(&input, "path")) {
                Ok(f) => f,
                Err(e) => return println!("{}", json!({"err": e.to_string()})),
            };
            let chunk = arg(&input, "content");
            for _ in 0..number(&input, "chunks") {
                let _ = file.write_all(chunk.as_bytes());
                let _ = file.flush();
                std::thread::sleep(std::time::Duration::from_millis(number(&input, "pause_ms")));
            }
            json!({"ok": true})
        }
        "env" => json!({"ok": env::vars().collect::<std::collections::BTreeMap<_, _>>()}),
        "cwd" => json!({"ok": env::current_dir().map(|d| d.display().to_string()).ok()}),
        "alloc" => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            for _ in 0..number(&input, "mib") {
                blocks.push(vec![1u8; 1 << 20]);
            }
            json!({"ok": blocks.len()})
        }
        "spin" => loop {
            std::hint::black_box(());
        },
        "print" => {
            let line = "x".repeat(1023) + "\n";
            let mut out = std::io::stdout().lock();
            for _ in 0..number(&input, "kib") {
                if out.write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
            return;
        }
        "stderr" => {
            let line = "e".repeat(1023) + "\n";
            for _ in 0..number(&input, "kib") {
                eprint!("{line}");
            }
            json!({"ok": true})
        }
        "recurse" => json!({"ok": recurse(0)}),
        "panic" => panic!("deliberate panic: {}", arg(&input, "why")),
        "exit" => std::process::exit(number(&input, "code") as i32),
        "send" => match skill_sdk::channels::send(&arg(&input, "channel"), &arg(&input, "message"))
        {
            Ok(()) => json!({"ok": true}),
            Err(e) => json!({"err": e.message()}),
        },
        "send-many" => {
            let message = "m".repeat(number(&input, "size") as usize);
            let mut sent = 0;
            for _ in 0..number(&input, "count") {
                if skill_sdk::channels::send(&arg(&input, "channel"), &message).is_err() {
                    break;
                }
                sent += 1;
            }
            json!({"ok": sent})
        }
        "receive" => match skill_sdk::channels::receive(&arg(&input, "channel")) {
            Ok(m) => json!({"ok": m}),
            Err(e) => json!({"err": e.message()}),
        },
        other => disk::attempt(other, &input)
            .unwrap_or_else(|| json!({"err": format!("unknown attempt `{other}`")})),
    };
    println!("{result}");
}
