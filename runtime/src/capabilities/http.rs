//! Outgoing HTTP for skills granted `network`: every request a component
//! sends through `wasi:http/outgoing-handler` is checked here against the
//! grants and the request budget before anything leaves the host, and every
//! decision is audited.
//!
//! Four steps: *authorise* (URL, user info, method, body framing, budget:
//! see `request_check`), *resolve* (a granted host name must resolve only to
//! public addresses), *send* (to the checked address, on a connection of its
//! own that is closed after the response), *wrap* (the response is cut at
//! `limits.http-response` and, from a secret's host, scrubbed).
//!
//! Redirects are never followed by the host (each hop is a new request the
//! skill must send, and it is checked again). Connect and first-byte timeouts
//! are bounded by the invocation's remaining time. What reaches the server is
//! exactly the request that was checked: the path the parser normalised, no
//! body on a method without body semantics, `Connection: close` so no second
//! request can ride on the same connection, and at most
//! [`MAX_CONNECTIONS`] connections open at once per invocation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::audit::{AuditKind, AuditRecorder, Decision};
use crate::capabilities::http_client;
use crate::capabilities::limits::LimitKind;
use crate::capabilities::network::{NetworkGrant, NetworkOverride, is_public_address};
use crate::capabilities::request_body::LimitedRequestBody;
use crate::capabilities::request_check::{self, Checked};
use crate::capabilities::response_body::{LimitedBody, ScrubBody};
use crate::capabilities::secrets::{Scrubber, SecretGrant};
use crate::invocation::provenance::Provenance;
use crate::invocation::state::LimitFlag;

/// Connect and first-byte timeouts when the invocation has longer left
/// (wasi-http's own defaults are 600 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);

/// Outgoing connections one invocation may hold open at once. Further
/// requests wait for one to close (within the invocation's time), so a
/// skill cannot make the host hold thousands of sockets.
pub const MAX_CONNECTIONS: usize = 16;

/// A declared secret and the value the host supplied for it (if any).
pub(crate) struct ResolvedSecret {
    pub grant: SecretGrant,
    pub value: Option<String>,
}

/// The per-invocation cap on open connections; see [`MAX_CONNECTIONS`].
#[derive(Clone)]
pub(crate) struct ConnectionCap(Arc<tokio::sync::Semaphore>);

impl Default for ConnectionCap {
    fn default() -> Self {
        ConnectionCap(Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS)))
    }
}

/// Per-invocation outgoing-request policy.
pub(crate) struct HttpPolicy {
    pub skill: Arc<str>,
    pub grants: Arc<[NetworkGrant]>,
    pub max_requests: u32,
    /// `limits.http-response` in bytes.
    pub max_response: u64,
    /// `limits.http-request-body` in bytes.
    pub max_request_body: u64,
    /// Requests attempted so far, denied ones included.
    pub sent: Arc<AtomicU32>,
    pub deadline: Instant,
    pub audit: AuditRecorder,
    pub limit: LimitFlag,
    pub provenance: Provenance,
    pub secrets: Arc<[ResolvedSecret]>,
    pub scrubber: Scrubber,
    pub overrides: Arc<[NetworkOverride]>,
    pub connections: ConnectionCap,
}

/// Resolves when the response body has been fully transferred (or failed).
type BodyDone = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

/// What [`WasiHttpHooks::send_request`] returns.
type PendingResponse = Box<
    dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, BodyDone)>> + Send,
>;

fn denied(error: HttpError) -> PendingResponse {
    Box::new(async move { Err(error) })
}

impl HttpPolicy {
    /// Adds each declared secret whose host is this request's host and
    /// whose path prefix covers its path, in its header and format,
    /// replacing any value the skill set itself. Only over https, or to a
    /// loopback address named literally (local testing).
    fn add_secrets(&self, request: &mut http::Request<WasiBody>, url: &url::Url) {
        let Some(host) = url.host_str() else { return };
        let note = |decision, reason: &str| {
            self.audit
                .record(AuditKind::Network, url.as_str(), decision, reason, None)
        };
        let loopback_literal = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        for secret in self.secrets.iter().filter(|s| s.grant.applies_to(url)) {
            let name = secret.grant.name.as_str();
            let header = secret.grant.header.name();
            let Some(value) = &secret.value else {
                let reason = format!(
                    "secret {name} is declared for {host} but the host supplied no value; sent without {header}"
                );
                note(Decision::Allow, &reason);
                continue;
            };
            if url.scheme() != "https" && !loopback_literal {
                let reason = format!(
                    "secret {name} is only sent over https; this request is {}",
                    url.scheme()
                );
                note(Decision::Deny, &reason);
                continue;
            }
            match http::HeaderValue::from_str(&secret.grant.format.apply(value)) {
                Ok(mut value_h) => {
                    value_h.set_sensitive(true);
                    request.headers_mut().insert(header.clone(), value_h);
                    let reason = format!(
                        "secret {name} added as {} (the skill never sees it)",
                        secret.grant.header
                    );
                    note(Decision::Allow, &reason);
                }
                Err(_) => {
                    let reason =
                        format!("secret {name} is not a valid {header} header value; not sent");
                    note(Decision::Deny, &reason);
                }
            }
        }
    }

    /// Whether responses from `url`'s host are scrubbed: a secret with a
    /// value is declared for that host. Nothing else can hold a secret (no
    /// other host is ever sent one), and scrubbing nothing else means no
    /// other host can be used to probe the scrubber.
    fn scrubs(&self, url: &url::Url) -> bool {
        url.host().is_some_and(|host| {
            self.secrets
                .iter()
                .any(|s| s.value.is_some() && s.grant.host.matches(&host))
        })
    }

    fn options(&self, options: Option<RequestOptions>) -> RequestOptions {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let bound = |asked: Option<Duration>, ours: Duration| {
            Some(asked.unwrap_or(ours).min(ours).min(remaining))
        };
        RequestOptions {
            connect_timeout: bound(options.and_then(|o| o.connect_timeout), CONNECT_TIMEOUT),
            first_byte_timeout: bound(
                options.and_then(|o| o.first_byte_timeout),
                FIRST_BYTE_TIMEOUT,
            ),
            between_bytes_timeout: bound(
                options.and_then(|o| o.between_bytes_timeout),
                FIRST_BYTE_TIMEOUT,
            ),
        }
    }

    /// The URL the request really goes to: the host may send an origin
    /// elsewhere (tests, walkthroughs); the checks used the URL the skill
    /// asked for.
    fn target(&self, url: &url::Url) -> url::Url {
        match self.overrides.iter().find_map(|o| o.redirect(url)) {
            Some(target) => {
                let reason = format!(
                    "host override: sent to {}",
                    target.origin().ascii_serialization()
                );
                self.audit.record(
                    AuditKind::Network,
                    url.as_str(),
                    Decision::Allow,
                    &reason,
                    None,
                );
                target
            }
            None => url.clone(),
        }
    }
}

/// Where to connect: the literal address, or every address the name
/// resolves to, each checked.
async fn resolve(
    target: &url::Url,
    checked_url: &str,
    overridden: bool,
    audit: &AuditRecorder,
) -> Result<Vec<SocketAddr>, HttpError> {
    let tls = target.scheme() == "https";
    let port = target
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let host = match target.host() {
        Some(url::Host::Ipv4(ip)) => return Ok(vec![SocketAddr::new(ip.into(), port)]),
        Some(url::Host::Ipv6(ip)) => return Ok(vec![SocketAddr::new(ip.into(), port)]),
        Some(url::Host::Domain(d)) => d.to_owned(),
        None => return Err(HttpError::HttpRequestUriInvalid),
    };
    let addresses = match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(addresses) => addresses.collect::<Vec<_>>(),
        Err(e) => {
            audit.record(
                AuditKind::Network,
                checked_url,
                Decision::Allow,
                &format!("allowed, but {host} did not resolve: {e}"),
                None,
            );
            return Err(HttpError::DnsError {
                rcode: None,
                info_code: None,
            });
        }
    };
    // A grant that names an IP literally reaches that IP; a grant that names
    // a host reaches it only while it resolves to public addresses, so a
    // skill cannot point a name it controls at loopback, the LAN or the
    // cloud metadata service. An override target is the host's own choice.
    if let Some(special) = addresses
        .iter()
        .find(|a| !overridden && !is_public_address(a.ip()))
    {
        let block = super::special_addresses::special_block(special.ip()).unwrap_or("special");
        let reason = format!(
            "{host} resolves to {} ({block}), a loopback, private, link-local or reserved address; such addresses are reachable only through a [capabilities].network grant that names the IP literally",
            special.ip()
        );
        audit.record(
            AuditKind::Network,
            checked_url,
            Decision::Deny,
            &reason,
            None,
        );
        return Err(HttpError::DestinationIpProhibited);
    }
    if addresses.is_empty() {
        return Err(HttpError::DestinationNotFound);
    }
    Ok(addresses)
}

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: BodyDone,
    ) -> PendingResponse {
        // 1. Authorise.
        let checked = match request_check::authorise(self, &request) {
            Ok(checked) => checked,
            Err(error) => return denied(error),
        };
        let Checked { url, strip_body } = checked;
        let mut request = request;
        if strip_body {
            let empty = http_body_util::Empty::<bytes::Bytes>::new()
                .map_err(|never| match never {})
                .boxed_unsync();
            http_client::discard(std::mem::replace(request.body_mut(), empty));
            request.headers_mut().remove(http::header::CONTENT_LENGTH);
        }
        self.add_secrets(&mut request, &url);
        // One request per connection, closed after it: nothing the server
        // reads after this request's framing can be taken as another.
        request.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        let options = self.options(options);
        let (max_response, limit) = (self.max_response, self.limit.clone());
        let max_request_body = self.max_request_body;
        let (audit, provenance, connections) = (
            self.audit.clone(),
            self.provenance.clone(),
            self.connections.clone(),
        );
        let scrubber = if self.scrubs(&url) {
            self.scrubber.clone()
        } else {
            Scrubber::default()
        };
        let origin = url.origin().ascii_serialization();
        let target = self.target(&url);
        let overridden = target != url;
        let tls = target.scheme() == "https";
        let server_name = target
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        // Send exactly the path that was checked (the parser normalised
        // `..` and encoded dot segments); never the guest's own text.
        let checked_uri = match http::Uri::try_from(target.as_str()) {
            Ok(uri) => uri,
            Err(_) => {
                self.audit.record(
                    AuditKind::Network,
                    url.as_str(),
                    Decision::Deny,
                    "the checked URL cannot be written as a request target; not sent",
                    None,
                );
                return denied(HttpError::HttpRequestUriInvalid);
            }
        };
        *request.uri_mut() = checked_uri;
        let request = request.map(|body| {
            BodyExt::boxed_unsync(LimitedRequestBody::new(
                body,
                max_request_body,
                limit.clone(),
            ))
        });
        Box::new(async move {
            // 2. Resolve.
            let addresses = resolve(&target, url.as_str(), overridden, &audit).await?;
            // 3. Send, holding one of the invocation's connection slots
            // until the response body is done.
            let permit = connections
                .0
                .acquire_owned()
                .await
                .map_err(|_| HttpError::ConnectionLimitReached)?;
            let shown: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            audit.record(
                AuditKind::Network,
                url.as_str(),
                Decision::Allow,
                &format!(
                    "covered by a network grant; connecting to {}",
                    shown.join(" or ")
                ),
                None,
            );
            provenance.note_origin(&origin);
            let (response, io) =
                http_client::send(request, &addresses, &server_name, tls, options).await?;
            // 4. Wrap.
            let (mut parts, body) = response.into_parts();
            // A declared length over the limit is refused before any byte is read.
            let declared = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max_response) {
                limit.set(LimitKind::HttpResponse);
                return Err(HttpError::HttpResponseBodySize(declared));
            }
            let body = BodyExt::boxed_unsync(LimitedBody::new(
                BodyExt::boxed_unsync(body),
                max_response,
                limit,
            ));
            let body = if scrubber.is_empty() {
                body
            } else {
                // A server that echoes a secret back cannot hand it to the
                // skill, nor its length: the declared length would count
                // the secret's bytes, so it goes.
                scrubber.headers(&mut parts.headers);
                parts.headers.remove(http::header::CONTENT_LENGTH);
                BodyExt::boxed_unsync(ScrubBody::new(body, scrubber))
            };
            let done = async move {
                let finished = io.await;
                drop(permit);
                finished
            };
            Ok((
                http::Response::from_parts(parts, body),
                Box::new(done) as BodyDone,
            ))
        })
    }
}
