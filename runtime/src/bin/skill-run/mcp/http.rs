//! Streamable HTTP at `/mcp`: loopback unless told otherwise, `Host` and
//! `Origin` checked against allowlists (DNS rebinding), and an optional
//! bearer token. Anything else is refused with 403 before it reaches MCP.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::server::SkillServer;

/// The path MCP is served at.
pub const MCP_PATH: &str = "/mcp";

/// The largest request body: above the per-call argument cap, so a large
/// call gets a tool error that says so rather than a bare 413.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The largest token file read.
const MAX_TOKEN_BYTES: u64 = 4096;

/// Parses `--http`: `HOST:PORT`, or a bare port on 127.0.0.1.
pub fn parse_addr(text: &str) -> Result<SocketAddr> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().with_context(|| {
        format!("--http takes an address such as 127.0.0.1:8080 or a port, got `{text}`")
    })
}

/// Reads the bearer token from `--token FILE` (trimmed; at least 16 characters).
pub fn read_token(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    if !meta.is_file() || meta.len() > MAX_TOKEN_BYTES {
        bail!(
            "the token file {} must be a file of at most {MAX_TOKEN_BYTES} bytes",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    let token = text.trim().to_owned();
    if token.len() < 16 {
        bail!(
            "the token in {} is shorter than 16 characters; use a long random one, e.g. `openssl rand -hex 32 > {}`",
            path.display(),
            path.display()
        );
    }
    Ok(token)
}

/// Compares digests, so the time taken says nothing about the token.
fn token_matches(expected: &[u8; 32], header: Option<&hyper::header::HeaderValue>) -> bool {
    let Some(given) = header
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

fn refuse(status: StatusCode, message: &str) -> Response<BoxBody<Bytes, Infallible>> {
    let mut response = Response::new(Full::new(Bytes::from(message.to_owned())).boxed());
    *response.status_mut() = status;
    response
}

/// What `serve` needs besides the handler.
pub struct HttpOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The bearer token clients must present, if any.
    pub token: Option<String>,
    /// Extra `Host` values to accept (beyond loopback names).
    pub allowed_hosts: Vec<String>,
    /// Extra `Origin` values to accept (beyond loopback origins).
    pub allowed_origins: Vec<String>,
}

/// Serves `server` until `shutdown` is cancelled.
pub async fn serve(
    server: SkillServer,
    options: HttpOptions,
    shutdown: CancellationToken,
) -> Result<()> {
    if !options.addr.ip().is_loopback() && options.token.is_none() {
        bail!(
            "--http {} is not a loopback address: anyone who can reach it could run your skills; pass --token FILE too",
            options.addr
        );
    }
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("listening on {}", options.addr))?;
    let local = listener.local_addr().context("reading the bound address")?;
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !local.ip().is_unspecified() {
        hosts.push(local.ip().to_string());
    }
    hosts.extend(options.allowed_hosts.iter().cloned());
    let mut origins: Vec<String> = vec![
        "http://localhost:*".into(),
        "http://127.0.0.1:*".into(),
        "http://[::1]:*".into(),
    ];
    origins.extend(options.allowed_origins.iter().cloned());
    let config = StreamableHttpServerConfig::default()
        // Stateless: every request stands alone, so a client that goes away
        // cancels exactly its own calls.
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_max_request_body_bytes(MAX_BODY)
        .with_cancellation_token(shutdown.child_token());
    let service: StreamableHttpService<SkillServer, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
    let expected: Option<[u8; 32]> = options
        .token
        .as_ref()
        .map(|t| Sha256::digest(t.as_bytes()).into());
    eprintln!("skill-run mcp: serving Streamable HTTP at http://{local}{MCP_PATH}");

    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("skill-run mcp: accepting a connection failed: {e}");
                    continue;
                }
            },
            () = shutdown.cancelled() => return Ok(()),
        };
        let service = service.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let handle = hyper::service::service_fn(move |request: Request<Incoming>| {
                let mut service = service.clone();
                async move {
                    if request.uri().path() != MCP_PATH {
                        return Ok::<_, Infallible>(refuse(
                            StatusCode::NOT_FOUND,
                            "MCP is served at /mcp",
                        ));
                    }
                    if let Some(expected) = &expected
                        && !token_matches(
                            expected,
                            request.headers().get(hyper::header::AUTHORIZATION),
                        )
                    {
                        return Ok(refuse(
                            StatusCode::FORBIDDEN,
                            "forbidden: a valid `Authorization: Bearer` token is required",
                        ));
                    }
                    tower_service::Service::call(&mut service, request).await
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handle);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.as_mut().await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_listens_on_loopback() {
        assert_eq!(
            parse_addr("8080").expect("port"),
            SocketAddr::from(([127, 0, 0, 1], 8080))
        );
        assert!(parse_addr("localhost:80:1").is_err());
    }

    #[test]
    fn only_the_exact_bearer_token_matches() {
        let expected: [u8; 32] = Sha256::digest(b"0123456789abcdef").into();
        let header = |v: &str| hyper::header::HeaderValue::from_str(v).expect("header");
        assert!(token_matches(
            &expected,
            Some(&header("Bearer 0123456789abcdef"))
        ));
        assert!(!token_matches(
            &expected,
            Some(&header("Bearer 0123456789abcdeg"))
        ));
        assert!(!token_matches(&expected, Some(&header("0123456789abcdef"))));
        assert!(!token_matches(&expected, None));
    }
}
