//! Sends the requests named in its JSON input through raw `wasi:http` calls,
//! with no client library in between, so a test controls the method, every
//! header, the body and its framing, and sees each body chunk as the host
//! delivered it.
//!
//! Input: `{"requests": [{"method": "GET", "url": "http://…", "headers":
//! [["k", "v"]], "body": "text", "repeat": 1}], "parallel": false}`. With
//! `parallel`, every request is started before any response is awaited.
//! Output: one entry per request, `{"ok": {"status", "headers", "chunks",
//! "body"}}` or `{"err": "…"}`. Also `flood` (many generated requests),
//! `summary` (counts only), `save` (the first body into a file) and `load`
//! (a file's text back).

use std::io::Read;

use serde_json::{Value, json};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, FutureIncomingResponse, IncomingResponse, Method, OutgoingBody, OutgoingRequest, Scheme,
};

/// One request in flight: its response future, and its body still to write.
struct Started {
    future: FutureIncomingResponse,
    body: Option<(OutgoingBody, Vec<u8>)>,
}

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

/// Splits `http://authority/path?q` into its parts without normalising
/// anything: the host sees exactly what the test wrote.
fn split(url: &str) -> Option<(Scheme, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    };
    let at = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(at);
    Some((scheme, authority, if path.is_empty() { "/" } else { path }))
}

fn body_bytes(spec: &Value) -> Option<Vec<u8>> {
    let text = spec["body"].as_str()?;
    let repeat = spec["repeat"].as_u64().unwrap_or(1) as usize;
    Some(text.repeat(repeat).into_bytes())
}

fn start(spec: &Value) -> Result<Started, String> {
    let url = spec["url"].as_str().unwrap_or_default();
    let (scheme, authority, path) = split(url).ok_or_else(|| format!("bad url {url}"))?;
    let mut pairs = Vec::new();
    for pair in spec["headers"].as_array().cloned().unwrap_or_default() {
        let name = pair[0].as_str().unwrap_or_default().to_owned();
        let value = pair[1].as_str().unwrap_or_default().as_bytes().to_vec();
        pairs.push((name, value));
    }
    let headers = Fields::from_list(&pairs).map_err(|e| format!("headers: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let method_name = spec["method"].as_str().unwrap_or("GET");
    request
        .set_method(&method(method_name))
        .map_err(|()| format!("method {method_name} refused"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| "scheme refused".to_owned())?;
    request
        .set_authority(Some(authority))
        .map_err(|()| format!("authority {authority} refused"))?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| format!("path {path} refused"))?;
    let body = request.body().map_err(|()| "no body".to_owned())?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    let body = match body_bytes(spec) {
        Some(bytes) => Some((body, bytes)),
        None => {
            let _ = OutgoingBody::finish(body, None);
            None
        }
    };
    Ok(Started { future, body })
}

/// Writes a request body in 4 KiB pieces; stops at the first refusal.
fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    {
        let stream = body.write().map_err(|()| "body stream".to_owned())?;
        for piece in bytes.chunks(4096) {
            stream
                .blocking_write_and_flush(piece)
                .map_err(|e| format!("writing the body: {e:?}"))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| format!("finishing the body: {e:?}"))
}

fn read(response: IncomingResponse) -> Value {
    let status = response.status();
    let headers: Vec<Value> = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| json!([k, String::from_utf8_lossy(&v)]))
        .collect();
    let Ok(body) = response.consume() else {
        return json!({"err": "no body"});
    };
    let Ok(stream) = body.stream() else {
        return json!({"err": "no body stream"});
    };
    let (mut chunks, mut bytes) = (Vec::new(), Vec::new());
    let ended = loop {
        match stream.blocking_read(1 << 16) {
            Ok(chunk) if chunk.is_empty() => continue,
            Ok(chunk) => {
                chunks.push(chunk.len());
                bytes.extend_from_slice(&chunk);
            }
            Err(wasip2::io::streams::StreamError::Closed) => break None,
            Err(e) => break Some(format!("{e:?}")),
        }
    };
    drop(stream);
    let body_text = String::from_utf8_lossy(&bytes).into_owned();
    match ended {
        None => {
            json!({"ok": {"status": status, "headers": headers, "chunks": chunks, "body": body_text}})
        }
        Some(e) => json!({"err": format!("reading the body: {e}"), "body": body_text}),
    }
}

fn finish(started: Result<Started, String>) -> Value {
    let started = match started {
        Ok(s) => s,
        Err(e) => return json!({"err": e}),
    };
    if let Some((body, bytes)) = started.body
        && let Err(e) = write_body(body, &bytes)
    {
        // The response may still say why (a limit, a refusal): report both.
        started.future.subscribe().block();
        let answer = started.future.get();
        return json!({"err": e, "answer": format!("{answer:?}")});
    }
    started.future.subscribe().block();
    match started.future.get() {
        Some(Ok(Ok(response))) => read(response),
        Some(Ok(Err(code))) => json!({"err": format!("{code:?}")}),
        other => json!({"err": format!("{other:?}")}),
    }
}

fn main() {
    let mut text = String::new();
    let _ = std::io::stdin().read_to_string(&mut text);
    let input: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if let Some(path) = input["load"].as_str() {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string());
        println!(
            "{}",
            json!({"loaded": text.as_ref().ok(), "err": text.as_ref().err()})
        );
        return;
    }
    let specs = input["requests"].as_array().cloned().unwrap_or_default();
    let mut results: Vec<Value> = if input["parallel"].as_bool() == Some(true) {
        let started: Vec<_> = specs.iter().map(start).collect();
        started.into_iter().map(finish).collect()
    } else {
        specs.iter().map(|s| finish(start(s))).collect()
    };
    // A flood: `count` GETs to `url` followed by a path of `pad` bytes, one
    // at a time, so neither the input nor the guest's memory holds them all.
    if let Some(flood) = input.get("flood") {
        let pad = "p".repeat(flood["pad"].as_u64().unwrap_or(0) as usize);
        let url = flood["url"].as_str().unwrap_or_default();
        for i in 0..flood["count"].as_u64().unwrap_or(0) {
            let spec = json!({"method": "GET", "url": format!("{url}{i}/{pad}")});
            let result = finish(start(&spec));
            results.push(if result.get("err").is_some() {
                json!({"err": true})
            } else {
                result
            });
        }
    }
    // `save`: the first response's body is written to this file.
    if let Some(path) = input["save"].as_str() {
        let body = results
            .first()
            .and_then(|r| r["ok"]["body"].as_str())
            .unwrap_or_default();
        if let Err(e) = std::fs::write(path, body) {
            println!("{}", json!({"err": format!("saving: {e}")}));
            return;
        }
    }
    if input["summary"].as_bool() == Some(true) {
        let refused = results.iter().filter(|r| r.get("err").is_some()).count();
        println!("{}", json!({"sent": results.len(), "refused": refused}));
        return;
    }
    println!("{}", Value::Array(results));
}
