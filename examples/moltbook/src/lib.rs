//! The Moltbook skill, sandboxed: typed commands over the real API under
//! `https://www.moltbook.com/api/v1/`. No API key in here: the host adds it.
//! Nothing fetched is ever followed as instructions: it is returned as data.
// wit-bindgen's generated export shims take one argument per flattened WIT
// parameter (`post` has four optional strings): not code we write or can shape.
#![allow(clippy::too_many_arguments)]

use serde_json::{Value, json};
use wstd::http::{Body, Client, Request};

skill_sdk::skill!("moltbook");

const API: &str = "https://www.moltbook.com/api/v1";

fn error(status: u16, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
    }
}

/// Sends one request and parses the JSON answer; a non-2xx status is an error.
fn call(method: &str, path: &str, body: Option<Value>) -> Result<Value, ApiError> {
    wstd::runtime::block_on(async move {
        let url = format!("{API}{path}");
        let builder = Request::builder()
            .method(method)
            .uri(&url)
            .header("accept", "application/json");
        let request = match body {
            Some(b) => builder
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => builder.body(Body::empty()),
        }
        .map_err(|e| error(0, format!("bad request: {e}")))?;
        let response = Client::new()
            .send(request)
            .await
            .map_err(|e| error(0, format!("{e:?}")))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let text = body
            .str_contents()
            .await
            .map_err(|e| error(status, format!("reading the answer: {e}")))?
            .to_owned();
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or(text);
            return Err(error(status, message.chars().take(500).collect::<String>()));
        }
        serde_json::from_str(&text).map_err(|e| error(status, format!("not JSON: {e}")))
    })
}

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn post_of(v: &Value) -> Post {
    let optional = |key: &str| v[key].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    Post {
        id: text(v, "id"),
        title: text(v, "title"),
        content: optional("content"),
        url: optional("url"),
        author: text(v, "author"),
        submolt: text(v, "submolt"),
        upvotes: v["upvotes"].as_i64().unwrap_or(0),
        comment_count: v["comment_count"].as_i64().unwrap_or(0),
    }
}

fn posts_of(v: &Value) -> Vec<Post> {
    let list = ["posts", "results", "data"]
        .iter()
        .find_map(|k| v[*k].as_array())
        .or_else(|| v.as_array());
    list.map(|items| items.iter().map(post_of).collect())
        .unwrap_or_default()
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Ids go into paths: only letters, digits, `-` and `_`.
fn id(text: &str) -> Result<&str, ApiError> {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(text)
    } else {
        Err(error(0, format!("`{text}` is not a Moltbook id")))
    }
}

struct Moltbook;

impl Guest for Moltbook {
    fn register(name: String, description: String) -> Result<Registration, ApiError> {
        let v = call(
            "POST",
            "/agents/register",
            Some(json!({"name": name, "description": description})),
        )?;
        let agent = &v["agent"];
        Ok(Registration {
            api_key: text(agent, "api_key"),
            claim_url: text(agent, "claim_url"),
            verification_code: text(agent, "verification_code"),
        })
    }

    fn me() -> Result<Agent, ApiError> {
        let v = call("GET", "/agents/me", None)?;
        let a = if v["agent"].is_object() {
            &v["agent"]
        } else {
            &v
        };
        Ok(Agent {
            name: text(a, "name"),
            description: a["description"].as_str().map(str::to_owned),
            karma: a["karma"].as_i64().unwrap_or(0),
            claimed: a["is_claimed"]
                .as_bool()
                .or_else(|| a["claimed"].as_bool())
                .unwrap_or(false),
        })
    }

    fn feed(sort: Option<String>, limit: Option<u32>) -> Result<Vec<Post>, ApiError> {
        let q = query(&[("sort", sort), ("limit", limit.map(|l| l.to_string()))]);
        Ok(posts_of(&call("GET", &format!("/feed{q}"), None)?))
    }

    fn post(
        submolt: String,
        title: String,
        content: Option<String>,
        url: Option<String>,
    ) -> Result<Post, ApiError> {
        let v = call(
            "POST",
            "/posts",
            Some(json!({"submolt": submolt, "title": title, "content": content, "url": url})),
        )?;
        Ok(post_of(if v["post"].is_object() {
            &v["post"]
        } else {
            &v
        }))
    }

    fn comment(
        post_id: String,
        content: String,
        parent_id: Option<String>,
    ) -> Result<String, ApiError> {
        let v = call(
            "POST",
            &format!("/posts/{}/comments", id(&post_id)?),
            Some(json!({"content": content, "parent_id": parent_id})),
        )?;
        Ok(text(
            if v["comment"].is_object() {
                &v["comment"]
            } else {
                &v
            },
            "id",
        ))
    }

    fn upvote(post_id: String) -> Result<(), ApiError> {
        call("POST", &format!("/posts/{}/upvote", id(&post_id)?), None).map(|_| ())
    }

    fn search(query_text: String, limit: Option<u32>) -> Result<Vec<Post>, ApiError> {
        let q = query(&[
            ("q", Some(query_text)),
            ("limit", limit.map(|l| l.to_string())),
        ]);
        Ok(posts_of(&call("GET", &format!("/search{q}"), None)?))
    }

    fn heartbeat() -> Result<HeartbeatReport, ApiError> {
        let new_posts = posts_of(&call("GET", "/feed?sort=new&limit=10", None)?);
        let to_review = new_posts
            .iter()
            .map(|p| {
                format!(
                    "{} by {} in m/{} ({} upvotes, {} comments): {}",
                    p.title, p.author, p.submolt, p.upvotes, p.comment_count, p.id
                )
            })
            .collect();
        Ok(HeartbeatReport {
            new_posts,
            to_review,
            untrusted: true,
        })
    }
}

export!(Moltbook);
