//! A WASI 0.3 component for the tests: it reads `{"requests": [...]}` on
//! stdin, sends each request (`method`, `url`, optional `headers` object and
//! `body` text) with the raw `wasi:http/client@0.3.0` calls (no client
//! library in between), and prints one result per request:
//! `{"ok": {"status", "headers", "body"}}`, or `{"err": ...}` with what the
//! host answered (the error code, or the body's trailer error after a
//! partial body, which is kept as `partial`). With `"parallel": true` all
//! requests are in flight at once. `{env:NAME}` in a URL, a header value
//! or a body stands for environment variable NAME's value.

wit_bindgen::generate!({
    path: "wit",
    world: "test:http03/guest",
    generate_all,
});

use serde_json::{Value, json};
use wasi::cli::{environment, stdin, stdout};
use wasi::http::client;
use wasi::http::types::{ErrorCode, Fields, Method, Request, Response, Scheme, Trailers};

struct GuestHttp03;

export!(GuestHttp03);

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

/// `scheme://authority/path?query`, split the way wasi:http takes it.
fn split(url: &str) -> Result<(Scheme, String, String), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("not an absolute URL: {url}"))?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok((scheme, authority.to_owned(), path.to_owned()))
}

/// `text` with each `{env:NAME}` replaced by that variable's value.
fn fill(text: &str) -> String {
    let mut out = text.to_owned();
    for (name, value) in environment::get_environment() {
        out = out.replace(&format!("{{env:{name}}}"), &value);
    }
    out
}

async fn send(spec: &Value) -> Result<Value, String> {
    let (scheme, authority, path) = split(&fill(spec["url"].as_str().unwrap_or_default()))?;
    let mut headers = Vec::new();
    if let Some(map) = spec["headers"].as_object() {
        for (name, value) in map {
            headers.push((
                name.clone(),
                fill(value.as_str().unwrap_or_default()).into_bytes(),
            ));
        }
    }
    let fields = Fields::from_list(&headers).map_err(|e| format!("headers: {e:?}"))?;
    let body = spec["body"].as_str().map(|b| fill(b).into_bytes());
    let (contents, writer) = match body {
        Some(bytes) => {
            let (tx, rx) = wit_stream::new::<u8>();
            (Some(rx), Some((tx, bytes)))
        }
        None => (None, None),
    };
    let (trailers_tx, trailers_rx) =
        wit_future::new::<Result<Option<Trailers>, ErrorCode>>(|| Ok(None));
    let (request, _sent) = Request::new(fields, contents, trailers_rx, None);
    let set = request
        .set_method(&method(spec["method"].as_str().unwrap_or("GET")))
        .and(request.set_scheme(Some(&scheme)))
        .and(request.set_authority(Some(&authority)))
        .and(request.set_path_with_query(Some(&path)));
    if set.is_err() {
        return Err(format!(
            "the request refused method, scheme, authority or path {path}"
        ));
    }
    // The host reads the body (then the trailers: none) while the request
    // is in flight.
    wit_bindgen::spawn_local(async move {
        if let Some((mut tx, bytes)) = writer {
            tx.write_all(bytes).await;
            drop(tx);
        }
        let _ = trailers_tx.write(Ok(None)).await;
    });
    let response = client::send(request).await.map_err(|e| format!("{e:?}"))?;
    let status = response.get_status_code();
    let mut shown = serde_json::Map::new();
    for (name, value) in response.get_headers().copy_all() {
        shown.insert(
            name,
            Value::String(String::from_utf8_lossy(&value).into_owned()),
        );
    }
    let (_done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| Ok(()));
    let (stream, trailers) = Response::consume_body(response, done_rx);
    let bytes = stream.collect().await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match trailers.await {
        Ok(_) => Ok(json!({"status": status, "headers": shown, "body": text})),
        Err(e) => Err(format!("{e:?} (partial: {} bytes)", bytes.len())),
    }
}

async fn read_stdin() -> String {
    let (stream, done) = stdin::read_via_stream();
    let bytes = stream.collect().await;
    let _ = done.await;
    String::from_utf8(bytes).unwrap_or_default()
}

async fn print(text: String) {
    let (mut tx, rx) = wit_stream::new::<u8>();
    let done = stdout::write_via_stream(rx);
    tx.write_all(text.into_bytes()).await;
    drop(tx);
    let _ = done.await;
}

impl exports::wasi::cli::run::Guest for GuestHttp03 {
    async fn run() -> Result<(), ()> {
        let input: Value = serde_json::from_str(&read_stdin().await).unwrap_or(Value::Null);
        let requests = input["requests"].as_array().cloned().unwrap_or_default();
        let outcome = |result: Result<Value, String>| match result {
            Ok(ok) => json!({ "ok": ok }),
            Err(err) => json!({ "err": err }),
        };
        let mut results = Vec::new();
        if input["parallel"].as_bool() == Some(true) {
            let all = futures::future::join_all(requests.iter().map(send)).await;
            results.extend(all.into_iter().map(outcome));
        } else {
            for spec in &requests {
                results.push(outcome(send(spec).await));
            }
        }
        print(format!("{}\n", Value::Array(results))).await;
        Ok(())
    }
}
