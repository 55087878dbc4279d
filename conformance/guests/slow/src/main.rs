//! A slow skill for the tests: a `wasi:cli/command` whose stdin is a JSON
//! object `{"path", "content", "chunks", "pause_ms"}`. It writes `content`
//! to `path` `chunks` times, pausing between writes, then prints
//! `{"ok": bytes}`. A client that goes away mid-call finds it half done.

use std::io::{Read, Write};

use serde_json::{Value, json};

fn main() {
    let mut text = String::new();
    let _ = std::io::stdin().read_to_string(&mut text);
    let input: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let path = input["path"].as_str().unwrap_or_default();
    let content = input["content"].as_str().unwrap_or_default();
    let chunks = input["chunks"].as_u64().unwrap_or(1);
    let pause = std::time::Duration::from_millis(input["pause_ms"].as_u64().unwrap_or(0));
    let mut file = match std::fs::File::create(path) {
        Ok(file) => file,
        Err(e) => {
            println!("{}", json!({"err": e.to_string()}));
            std::process::exit(1);
        }
    };
    let mut written = 0u64;
    for _ in 0..chunks {
        if file.write_all(content.as_bytes()).is_ok() {
            written += content.len() as u64;
        }
        let _ = file.flush();
        std::thread::sleep(pause);
    }
    println!("{}", json!({"ok": written}));
}
