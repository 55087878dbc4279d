//! Sends the HTTP requests named in its JSON input through `wasi:http` and
//! reports each status and body (or the error the sandbox answered with).

use std::io::Read;

use serde_json::{Value, json};
use wstd::http::{Body, Client, Request};

async fn fetch(url: &str) -> Value {
    let request = match Request::get(url).body(Body::empty()) {
        Ok(r) => r,
        Err(e) => return json!({"err": format!("bad request: {e}")}),
    };
    match Client::new().send(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut body = response.into_body();
            match body.str_contents().await {
                Ok(text) => json!({"ok": {"status": status, "body": text, "location": location}}),
                Err(e) => json!({"err": format!("reading body: {e}")}),
            }
        }
        Err(e) => json!({"err": format!("{e:?}")}),
    }
}

/// Tries to build header sets that smuggle a second header through CR/LF
/// in a name or value, with the raw wasi:http calls (no client library in
/// between to catch it first). Reports how many the host refused.
fn smuggle() -> Value {
    use wasip2::http::types::Fields;
    let attempts: [(&str, &[u8]); 4] = [
        ("x-a", b"v\r\nInjected: yes"),
        ("x-b\r\nInjected", b"v"),
        ("x-c", b"v\nInjected: yes"),
        ("x-d", b"v\0Injected"),
    ];
    let mut refused = 0;
    for (name, value) in attempts {
        if Fields::from_list(&[(name.to_owned(), value.to_vec())]).is_err() {
            refused += 1;
        }
        if Fields::new().append(name, value).is_err() {
            refused += 1;
        }
    }
    json!({"refused": refused, "of": attempts.len() * 2})
}

#[wstd::main]
async fn main() {
    let mut text = String::new();
    let _ = std::io::stdin().read_to_string(&mut text);
    let input: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if input["smuggle"].as_bool() == Some(true) {
        println!("{}", smuggle());
        return;
    }
    let mut results = Vec::new();
    for url in input["urls"].as_array().cloned().unwrap_or_default() {
        results.push(fetch(url.as_str().unwrap_or_default()).await);
    }
    println!("{}", Value::Array(results));
}
