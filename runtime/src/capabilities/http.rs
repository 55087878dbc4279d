//! Outgoing HTTP for skills granted `network`: every request a component
//! sends through `wasi:http/outgoing-handler` (WASI 0.2) or
//! `wasi:http/client` (WASI 0.3, see `http_p3`) reaches this one hook and is
//! checked here against the grants and the request budget before anything
//! leaves the host, and every decision is audited.
//!
//! Four steps, each its own function: *authorise* ([`HttpPolicy::prepare`]:
//! URL, user info, method, body framing, budget, see `request_check`; then
//! the request is rewritten as checked, with its secrets, and the
//! placeholders of secrets exposed through the environment replaced where
//! their secret applies or the request refused where it does not, see
//! `placeholders`), *resolve* (a
//! granted host name must resolve only to public addresses, every address
//! checked by [`address_denial`]), *send* (to the checked addresses, on a
//! connection of its own that is closed after the response), *wrap*
//! ([`wrap`]: the response is cut at `limits.http-response` and, from a
//! secret's host, scrubbed). The sync steps are tested as tables, without a
//! store or a server.
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
use crate::capabilities::Grants;
use crate::capabilities::capability::{Capability, GrantEntry, LinkFor};
use crate::capabilities::http_client;
use crate::capabilities::limits::LimitFlag;
use crate::capabilities::limits::LimitKind;
use crate::capabilities::network::{NetworkGrant, NetworkOverride, is_public_address};
use crate::capabilities::placeholders::{self, Pair, SubstituteBody, Substitution};
use crate::capabilities::request_body::LimitedRequestBody;
use crate::capabilities::request_check::{self, Checked};
use crate::capabilities::response_body::{LimitedBody, ScrubBody};
use crate::capabilities::secrets::{Scrubber, SecretGrant};
use crate::invocation::state::InvocationState;
use crate::provenance::Provenance;

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
    /// This invocation's placeholder, for a secret exposed through the
    /// environment whose value the host supplied.
    pub placeholder: Option<String>,
}

/// Whether `url` is https, or names a loopback IP literally (local tests):
/// the only requests a secret's value is written into.
fn secret_transport(url: &url::Url) -> bool {
    url.scheme() == "https"
        || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
}

/// What one request does with the invocation's placeholders: those whose
/// secret applies to it are replaced, finding any other refuses it.
#[derive(Clone, Default)]
pub(crate) struct PlaceholderPlan {
    /// The placeholders of secrets that apply to this request.
    pub replace: Substitution,
    /// The others: secret name, placeholder, and why it may not go here.
    pub foreign: Arc<[(String, String, String)]>,
}

impl PlaceholderPlan {
    /// Whether the invocation has no placeholders at all.
    fn is_empty(&self) -> bool {
        self.replace.is_empty() && self.foreign.is_empty()
    }

    /// The first foreign placeholder in `data` (ASCII case ignored).
    fn foreign_in(&self, data: &[u8]) -> Option<&(String, String, String)> {
        self.foreign
            .iter()
            .find(|(_, text, _)| placeholders::contains_ignore_case(data, text.as_bytes()))
    }

    /// Why the request may not go: a foreign placeholder in `place`.
    fn refusal(
        skill: &str,
        url: &url::Url,
        (name, _, why): &(String, String, String),
        place: &str,
    ) -> String {
        let host = url.host_str().unwrap_or_default();
        format!(
            "skill `{skill}` put the placeholder of secret {name} (its environment variable {name}) in {place} of a request to {host}, but {why}; not sent. If {name} is meant for {host}, set that secret's host (and path) in [capabilities].secrets of skill.toml"
        )
    }
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
        for secret in self.secrets.iter().filter(|s| s.grant.applies_to(url)) {
            let name = secret.grant.name.as_str();
            // A placeholder-only secret: replaced where the skill put it.
            let Some(declared) = &secret.grant.header else {
                continue;
            };
            let header = declared.name();
            let Some(value) = &secret.value else {
                let reason = format!(
                    "secret {name} is declared for {host} but the host supplied no value; sent without {header}"
                );
                note(Decision::Allow, &reason);
                continue;
            };
            if !secret_transport(url) {
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
                    let reason =
                        format!("secret {name} added as {declared} (the skill never sees it)");
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

    /// Which of the invocation's placeholders a request to `url` replaces
    /// (their secret applies to it, over https or to a loopback IP
    /// literal), and which it may not carry.
    fn placeholder_plan(&self, url: &url::Url) -> PlaceholderPlan {
        let (mut replace, mut foreign) = (Vec::new(), Vec::new());
        for s in self.secrets.iter() {
            let (Some(text), Some(value)) = (&s.placeholder, &s.value) else {
                continue;
            };
            let name = s.grant.name.as_str();
            let applies = s.grant.applies_to(url);
            if applies && secret_transport(url) {
                replace.push(Pair::new(name, text, value));
                continue;
            }
            let why = match (&s.grant.path, applies) {
                (_, true) => format!(
                    "{name} is only sent over https, and this request is {}",
                    url.scheme()
                ),
                (Some(path), false) => {
                    format!("{name} is declared for {} under {path} only", s.grant.host)
                }
                (None, false) => format!("{name} is declared for {} only", s.grant.host),
            };
            foreign.push((name.to_owned(), text.clone(), why));
        }
        PlaceholderPlan {
            replace: Substitution::new(replace),
            foreign: foreign.into(),
        }
    }

    /// Refuses a request whose method, URL or headers carry a placeholder
    /// it may not (ASCII case ignored), and replaces the others in header
    /// values. Nothing has been sent; a refusal is audited.
    fn placeholders_in_head(
        &self,
        plan: &PlaceholderPlan,
        request: &mut http::Request<WasiBody>,
        url: &url::Url,
    ) -> Result<(), HttpError> {
        let deny = |reason: &str| {
            self.audit.record(
                AuditKind::Network,
                url.as_str(),
                Decision::Deny,
                reason,
                None,
            );
            Err(HttpError::HttpRequestDenied)
        };
        let refuse =
            |found, place: &str| deny(&PlaceholderPlan::refusal(&self.skill, url, found, place));
        if let Some(found) = plan.foreign_in(request.method().as_str().as_bytes()) {
            return refuse(found, "the method");
        }
        let uri = request.uri().to_string();
        if let Some(found) = plan
            .foreign_in(url.as_str().as_bytes())
            .or_else(|| plan.foreign_in(uri.as_bytes()))
        {
            return refuse(found, "the URL");
        }
        for (name, value) in request.headers() {
            if let Some(found) = plan.foreign_in(name.as_str().as_bytes()) {
                return refuse(found, "a header name");
            }
            if let Some(found) = plan.foreign_in(value.as_bytes()) {
                return refuse(found, &format!("header {name}"));
            }
        }
        let (replaced, invalid) =
            placeholders::replace_in_headers(&plan.replace, request.headers_mut());
        if let Some(name) = invalid.first() {
            return deny(&format!(
                "skill `{}` put a secret's placeholder in header {name}, but the secret's value is not a valid header value; not sent",
                self.skill
            ));
        }
        for name in replaced {
            let reason = format!(
                "secret {name}'s placeholder replaced by its value in the request headers (the skill never sees it)"
            );
            self.audit.record(
                AuditKind::Network,
                url.as_str(),
                Decision::Allow,
                &reason,
                None,
            );
        }
        Ok(())
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

/// A request that passed the *authorise* step, written exactly as checked,
/// with everything the later steps need (owned: they run after the hook
/// returns).
pub(crate) struct Prepared {
    /// The request to send: its URI the checked target, its body limited.
    pub request: http::Request<WasiBody>,
    /// The URL the skill asked for, as parsed (audit, provenance, scrubbing).
    pub url: url::Url,
    /// Where it really goes (an override may send it elsewhere).
    pub target: url::Url,
    /// The placeholders to look for in the body, read whole before sending.
    body_plan: Option<PlaceholderPlan>,
    skill: Arc<str>,
    options: RequestOptions,
    scrubber: Scrubber,
    max_response: u64,
    limit: LimitFlag,
    audit: AuditRecorder,
    provenance: Provenance,
    connections: ConnectionCap,
}

impl HttpPolicy {
    /// Step 1, *authorise*: runs every check (see `request_check`) and
    /// writes the request exactly as it was checked: the normalised URL
    /// (never the guest's own text), no body on a method without body
    /// semantics, the secrets declared for its host, `Connection: close`,
    /// and a body cut at `limits.http-request-body`. Nothing has left the
    /// host when this returns, and a refusal is audited.
    pub(crate) fn prepare(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<Prepared, HttpError> {
        let Checked { url, strip_body } = request_check::authorise(self, &request)?;
        let mut request = request;
        let plan = self.placeholder_plan(&url);
        if !plan.is_empty() {
            self.placeholders_in_head(&plan, &mut request, &url)?;
        }
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
        let target = self.target(&url);
        // Placeholders in the path and query become their values,
        // percent-encoded (the audit keeps the URL with the placeholders).
        let sent = match plan.replace.replace_in_url(target.as_str()) {
            Some((text, names)) => {
                for name in names {
                    let reason = format!(
                        "secret {name}'s placeholder replaced by its value in the URL (the skill never sees it)"
                    );
                    self.audit.record(
                        AuditKind::Network,
                        url.as_str(),
                        Decision::Allow,
                        &reason,
                        None,
                    );
                }
                text
            }
            None => target.as_str().to_owned(),
        };
        // Send exactly the path that was checked (the parser normalised
        // `..` and encoded dot segments); never the guest's own text, and
        // never the unchecked URI when the checked one does not convert.
        let Ok(checked_uri) = http::Uri::try_from(sent.as_str()) else {
            self.audit.record(
                AuditKind::Network,
                url.as_str(),
                Decision::Deny,
                "the checked URL cannot be written as a request target; not sent",
                None,
            );
            return Err(HttpError::HttpRequestUriInvalid);
        };
        *request.uri_mut() = checked_uri;
        let (max_request_body, limit) = (self.max_request_body, self.limit.clone());
        let mut request = request.map(|body| {
            BodyExt::boxed_unsync(LimitedRequestBody::new(
                body,
                max_request_body,
                limit.clone(),
            ))
        });
        // The body: as is without placeholders; read whole before sending
        // when it might carry one it may not (so a refused request sends
        // nothing) or declares a length (to write the new one); else
        // rewritten as it streams.
        let declares_length = request.headers().contains_key(http::header::CONTENT_LENGTH);
        let body_plan = if strip_body || plan.is_empty() {
            None
        } else if plan.foreign.is_empty() && !declares_length {
            let (audit, shown) = (self.audit.clone(), url.as_str().to_owned());
            let note = Box::new(move |names: &[String]| {
                for name in names {
                    let reason = format!(
                        "secret {name}'s placeholder replaced by its value in the request body (the skill never sees it)"
                    );
                    audit.record(AuditKind::Network, &shown, Decision::Allow, &reason, None);
                }
            });
            let substitution = plan.replace.clone();
            request = request
                .map(|body| BodyExt::boxed_unsync(SubstituteBody::new(body, substitution, note)));
            None
        } else {
            Some(plan)
        };
        let scrubber = if self.scrubs(&url) {
            self.scrubber.clone()
        } else {
            Scrubber::default()
        };
        Ok(Prepared {
            request,
            body_plan,
            skill: self.skill.clone(),
            options: self.options(options),
            scrubber,
            max_response: self.max_response,
            limit: self.limit.clone(),
            audit: self.audit.clone(),
            provenance: self.provenance.clone(),
            connections: self.connections.clone(),
            url,
            target,
        })
    }
}

impl Prepared {
    /// The body read whole (within `limits.http-request-body`): refused
    /// when it carries a placeholder it may not, else the others replaced
    /// and its `Content-Length` written anew. Nothing has been sent.
    async fn settle_body(&mut self, plan: &PlaceholderPlan) -> Result<(), HttpError> {
        let empty = http_body_util::Empty::<bytes::Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let request = std::mem::replace(&mut self.request, http::Request::new(empty));
        let (mut parts, body) = request.into_parts();
        let collected = body.collect().await?;
        let mut trailers = collected.trailers().cloned();
        let data = collected.to_bytes();
        let refuse = |found, place: &str| {
            let reason = PlaceholderPlan::refusal(&self.skill, &self.url, found, place);
            self.audit.record(
                AuditKind::Network,
                self.url.as_str(),
                Decision::Deny,
                &reason,
                None,
            );
            Err(HttpError::HttpRequestDenied)
        };
        if let Some(found) = plan.foreign_in(&data) {
            return refuse(found, "the body");
        }
        for (name, value) in trailers.iter().flatten() {
            if let Some(found) = plan.foreign_in(value.as_bytes()) {
                return refuse(found, &format!("trailer {name}"));
            }
        }
        let data = match plan.replace.replace(&data) {
            Some((new, names)) => {
                for name in names {
                    let reason = format!(
                        "secret {name}'s placeholder replaced by its value in the request body (the skill never sees it)"
                    );
                    self.audit.record(
                        AuditKind::Network,
                        self.url.as_str(),
                        Decision::Allow,
                        &reason,
                        None,
                    );
                }
                bytes::Bytes::from(new)
            }
            None => data,
        };
        if let Some(t) = trailers.as_mut() {
            placeholders::replace_in_headers(&plan.replace, t);
        }
        let length = data.len();
        let body = http_body_util::Full::new(data).map_err(|never| match never {});
        let body = match trailers {
            None => {
                parts.headers.insert(
                    http::header::CONTENT_LENGTH,
                    http::HeaderValue::from(length),
                );
                body.boxed_unsync()
            }
            Some(t) => {
                parts.headers.remove(http::header::CONTENT_LENGTH);
                body.with_trailers(async move { Some(Ok(t)) })
                    .boxed_unsync()
            }
        };
        self.request = http::Request::from_parts(parts, body);
        Ok(())
    }

    /// Steps 2 to 4: resolve, send, wrap.
    async fn go(mut self) -> wasmtime_wasi_http::Result<(http::Response<WasiBody>, BodyDone)> {
        let overridden = self.target != self.url;
        // 2. Resolve.
        let addresses = resolve(&self.target, self.url.as_str(), overridden, &self.audit).await?;
        // 3. Send, holding one of the invocation's connection slots until
        // the response body is done.
        let permit = self
            .connections
            .0
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HttpError::ConnectionLimitReached)?;
        // Read after taking the slot, so at most MAX_CONNECTIONS bodies
        // are held at once.
        if let Some(plan) = self.body_plan.take() {
            self.settle_body(&plan).await?;
        }
        let shown: Vec<String> = addresses.iter().map(ToString::to_string).collect();
        self.audit.record(
            AuditKind::Network,
            self.url.as_str(),
            Decision::Allow,
            &format!(
                "covered by a network grant; connecting to {}",
                shown.join(" or ")
            ),
            None,
        );
        self.provenance
            .note_origin(&self.url.origin().ascii_serialization());
        let tls = self.target.scheme() == "https";
        let server_name = self
            .target
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        let (response, io) =
            http_client::send(self.request, &addresses, &server_name, tls, self.options).await?;
        // 4. Wrap.
        let response = wrap(
            response.map(BodyExt::boxed_unsync),
            self.max_response,
            &self.limit,
            self.scrubber,
        )?;
        let done = async move {
            let finished = io.await;
            drop(permit);
            finished
        };
        Ok((response, Box::new(done) as BodyDone))
    }
}

/// Why a host name's resolved `addresses` may not be connected to, or
/// `None`. A grant that names an IP literally reaches that IP; a grant that
/// names a host reaches it only while it resolves to public addresses, so a
/// skill cannot point a name it controls at loopback, the LAN or the cloud
/// metadata service. An override target is the host's own choice. Every
/// address is checked, since the client tries each in turn.
pub(crate) fn address_denial(
    host: &str,
    addresses: &[SocketAddr],
    overridden: bool,
) -> Option<String> {
    let special = addresses
        .iter()
        .find(|a| !overridden && !is_public_address(a.ip()))?;
    let block = super::special_addresses::special_block(special.ip()).unwrap_or("special");
    Some(format!(
        "{host} resolves to {} ({block}), a loopback, private, link-local or reserved address; such addresses are reachable only through a [capabilities].network grant that names the IP literally",
        special.ip()
    ))
}

/// Step 2, *resolve*: where to connect, the literal address, or every
/// address the name resolves to, each checked by [`address_denial`].
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
    if let Some(reason) = address_denial(&host, &addresses, overridden) {
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

/// Step 4, *wrap*: the response as the skill gets it. A declared length
/// over `max_response` is refused before any byte is read; the body is cut
/// at `max_response` (flagging the limit); from a secret's host
/// (`scrubber` not empty) secrets are replaced in headers and body, and the
/// declared length goes, since it would count the secret's bytes.
pub(crate) fn wrap(
    response: http::Response<WasiBody>,
    max_response: u64,
    limit: &LimitFlag,
    scrubber: Scrubber,
) -> Result<http::Response<WasiBody>, HttpError> {
    let (mut parts, body) = response.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_response) {
        limit.set(LimitKind::HttpResponse);
        return Err(HttpError::HttpResponseBodySize(declared));
    }
    let body = BodyExt::boxed_unsync(LimitedBody::new(body, max_response, limit.clone()));
    let body = if scrubber.is_empty() {
        body
    } else {
        scrubber.headers(&mut parts.headers);
        parts.headers.remove(http::header::CONTENT_LENGTH);
        BodyExt::boxed_unsync(ScrubBody::new(body, scrubber))
    };
    Ok(http::Response::from_parts(parts, body))
}

/// Both WASI 0.2's `outgoing-handler` and WASI 0.3's `client` hand every
/// request to this one hook, so the policy is the same for both.
impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: BodyDone,
    ) -> PendingResponse {
        match self.prepare(request, options) {
            Ok(prepared) => Box::new(prepared.go()),
            Err(error) => denied(error),
        }
    }
}

/// The `network` capability: outgoing HTTP through `wasi:http` (WASI 0.2,
/// and 0.3 on the `concurrent` engine), each request judged by
/// [`HttpPolicy`] against the granted prefixes.
pub(crate) struct Network;

impl Network {
    /// The Python runner imports `wasi:http` whatever its skill's grants,
    /// so it is linked for it too: with no grant every request is denied
    /// with the fix rather than the skill refused at load.
    fn linked(for_: &LinkFor<'_>) -> bool {
        !for_.grants.network.is_empty() || for_.script
    }
}

impl Capability for Network {
    fn key(&self) -> &'static str {
        "network"
    }

    fn answers(&self, package: &str, _interface: &str) -> bool {
        package == "wasi:http"
    }

    fn allows_imports(&self, for_: &LinkFor<'_>) -> bool {
        Network::linked(for_)
    }

    fn link(
        &self,
        linker: &mut wasmtime::component::Linker<InvocationState>,
        for_: &LinkFor<'_>,
    ) -> wasmtime::Result<()> {
        if Network::linked(for_) {
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
        }
        if !for_.grants.network.is_empty() && for_.concurrent {
            super::http_p3::add_to_linker(linker)?;
        }
        Ok(())
    }

    fn outside(&self, narrow: &Grants, wide: &Grants, out: &mut Vec<GrantEntry>) {
        out.extend(
            narrow
                .network
                .iter()
                .filter(|n| !wide.network.iter().any(|w| n.is_within(w)))
                .map(|n| GrantEntry::Network(n.clone())),
        );
    }

    fn describe(&self, grants: &Grants, lines: &mut Vec<String>) {
        lines.extend(
            grants
                .network
                .iter()
                .map(|n| format!("send HTTP requests to {n}")),
        );
    }
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;

    use super::*;
    use crate::capabilities::secrets::SecretGrant;

    fn policy(max_requests: u32) -> HttpPolicy {
        let table: toml::Table = toml::from_str(
            r#"network = ["http://127.0.0.1:8080/api/", { url = "https://a.example/ro/", methods = ["GET"] }, "http://b.example/"]
               secrets = [
                 { name = "KEY", host = "127.0.0.1", header = "Authorization", format = "Bearer {}" },
                 { name = "B", host = "b.example", header = "X-Key" },
               ]"#,
        )
        .expect("toml");
        let grants: Vec<NetworkGrant> = table["network"].clone().try_into().expect("grants");
        let secrets: Vec<SecretGrant> = table["secrets"].clone().try_into().expect("secrets");
        let secrets: Vec<ResolvedSecret> = secrets
            .into_iter()
            .map(|grant| ResolvedSecret {
                value: Some(format!("{}-value-1234", grant.name)),
                placeholder: None,
                grant,
            })
            .collect();
        HttpPolicy {
            skill: "s".into(),
            grants: grants.into(),
            max_requests,
            max_response: 100,
            max_request_body: 10,
            sent: Arc::default(),
            deadline: Instant::now() + Duration::from_secs(60),
            audit: AuditRecorder::new("s".into(), 1, None),
            limit: LimitFlag::default(),
            provenance: Provenance::default(),
            scrubber: Scrubber::new(vec!["KEY-value-1234".into(), "B-value-1234".into()]),
            secrets: secrets.into(),
            overrides: Arc::new([]),
            connections: ConnectionCap::default(),
        }
    }

    fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::Request<WasiBody> {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = http_body_util::Full::new(bytes::Bytes::from_static(b"0123456789abc"))
            .map_err(|never| match never {})
            .boxed_unsync();
        builder.body(body).expect("request")
    }

    /// One row: method, URI, headers the skill set, and what must happen.
    type Row = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
        Want,
    );

    /// What the policy did with one request, in words a table can hold.
    enum Want {
        /// Sent to this URI, with this Authorization / X-Key header (or none).
        Sent(&'static str, Option<&'static str>, Option<&'static str>),
        /// Refused, the audited reason containing this.
        Refused(&'static str),
    }

    /// The whole authorise step as a table, without a store or a server:
    /// grants and methods, user info, CONNECT/TRACE, bodies on GET, the
    /// request-body limit, path normalisation, and which secret goes where.
    #[test]
    fn authorise_as_a_table() {
        use Want::*;
        let table: &[Row] = &[
            (
                "GET",
                "http://127.0.0.1:8080/api/x?q=1",
                &[],
                Sent(
                    "http://127.0.0.1:8080/api/x?q=1",
                    Some("Bearer KEY-value-1234"),
                    None,
                ),
            ),
            (
                "GET",
                "http://127.0.0.1:8080/api/a/../b",
                &[("authorization", "mine")],
                Sent(
                    "http://127.0.0.1:8080/api/b",
                    Some("Bearer KEY-value-1234"),
                    None,
                ),
            ),
            (
                "GET",
                "https://a.example/ro/x",
                &[("authorization", "mine")],
                Sent("https://a.example/ro/x", Some("mine"), None),
            ),
            // A secret is sent only over https to a named host.
            (
                "GET",
                "http://b.example/x",
                &[],
                Sent("http://b.example/x", None, None),
            ),
            ("POST", "https://a.example/ro/x", &[], Refused("add POST")),
            ("HEAD", "https://a.example/ro/x", &[], Refused("allows GET")),
            (
                "GET",
                "https://a.example/rw/x",
                &[],
                Refused("no [capabilities].network grant"),
            ),
            (
                "GET",
                "http://127.0.0.1:8080/api/..%2fx",
                &[],
                Refused("percent-encoding"),
            ),
            (
                "GET",
                "http://127.0.0.2:8080/api/x",
                &[],
                Refused("no [capabilities].network grant"),
            ),
            (
                "GET",
                "http://u@127.0.0.1:8080/api/x",
                &[],
                Refused("user info"),
            ),
            (
                "CONNECT",
                "http://127.0.0.1:8080/api/x",
                &[],
                Refused("never allowed"),
            ),
            (
                "TRACE",
                "http://127.0.0.1:8080/api/x",
                &[],
                Refused("never allowed"),
            ),
            (
                "GET",
                "http://127.0.0.1:8080/api/x",
                &[("content-length", "4")],
                Refused("may not send a body with GET"),
            ),
            (
                "POST",
                "http://127.0.0.1:8080/api/x",
                &[("content-length", "11")],
                Refused("over limits.http-request-body"),
            ),
            ("GET", "/api/x", &[], Refused("not an absolute http(s) URL")),
        ];
        for (method, uri, headers, want) in table {
            let policy = policy(100);
            let got = policy.prepare(request(method, uri, headers), None);
            let events = policy.audit.take();
            let header = |p: &Prepared, name: &str| {
                p.request
                    .headers()
                    .get(name)
                    .map(|v| v.to_str().expect("ascii").to_owned())
            };
            match (want, got) {
                (Sent(sent_uri, auth, key), Ok(p)) => {
                    assert_eq!(p.request.uri().to_string(), *sent_uri, "{method} {uri}");
                    assert_eq!(
                        header(&p, "authorization").as_deref(),
                        *auth,
                        "{method} {uri}"
                    );
                    assert_eq!(header(&p, "x-key").as_deref(), *key, "{method} {uri}");
                    assert_eq!(header(&p, "connection").as_deref(), Some("close"));
                    assert!(
                        !events.iter().any(|e| e.decision == Decision::Deny
                            && !e.reason.contains("only sent over https")),
                        "{method} {uri}: {events:?}"
                    );
                }
                (Refused(reason), Err(_)) => assert!(
                    events
                        .iter()
                        .any(|e| e.decision == Decision::Deny && e.reason.contains(reason)),
                    "{method} {uri}: wanted a denial saying `{reason}`, audit {events:?}"
                ),
                (_, Ok(p)) => panic!("{method} {uri} was let through to {}", p.request.uri()),
                (_, Err(e)) => panic!("{method} {uri} was refused: {e:?} {events:?}"),
            }
        }
    }

    #[test]
    fn a_body_on_get_is_dropped_and_the_request_budget_counts_refusals() {
        let policy = policy(2);
        let prepared = policy
            .prepare(request("GET", "http://127.0.0.1:8080/api/x", &[]), None)
            .expect("allowed");
        assert!(
            prepared.request.body().is_end_stream(),
            "the GET body was kept"
        );
        assert!(
            policy
                .prepare(request("GET", "http://127.0.0.2/", &[]), None)
                .is_err()
        );
        let third = policy.prepare(request("GET", "http://127.0.0.1:8080/api/x", &[]), None);
        assert!(matches!(third, Err(HttpError::ConnectionLimitReached)));
        assert_eq!(policy.limit.get(), Some(LimitKind::HttpRequests));
    }

    /// Every resolved address is checked, not only the first.
    #[test]
    fn resolved_addresses_as_a_table() {
        let at = |ips: &[&str]| -> Vec<SocketAddr> {
            ips.iter()
                .map(|ip| SocketAddr::new(ip.parse().expect("ip"), 80))
                .collect()
        };
        let table: &[(&[&str], bool, Option<&str>)] = &[
            (&["93.184.216.34"], false, None),
            (&["2606:2800:220:1::1"], false, None),
            (&["127.0.0.1"], false, Some("resolves to 127.0.0.1")),
            (
                &["93.184.216.34", "10.0.0.7"],
                false,
                Some("resolves to 10.0.0.7"),
            ),
            (&["169.254.169.254"], false, Some("169.254.169.254")),
            (&["::1"], false, Some("::1")),
            (&["::ffff:127.0.0.1"], false, Some("::ffff:127.0.0.1")),
            (&["192.168.1.1"], false, Some("192.168.1.1")),
            // The host's own override target is its choice.
            (&["127.0.0.1"], true, None),
        ];
        for (ips, overridden, want) in table {
            let got = address_denial("a.example", &at(ips), *overridden);
            match (want, &got) {
                (None, None) => {}
                (Some(text), Some(reason)) if reason.contains(text) => {}
                _ => panic!("{ips:?} overridden={overridden}: expected {want:?}, got {got:?}"),
            }
        }
    }

    fn response(headers: &[(&str, &str)], body: &'static [u8]) -> http::Response<WasiBody> {
        let mut builder = http::Response::builder().status(200);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = http_body_util::Full::new(bytes::Bytes::from_static(body))
            .map_err(|never| match never {})
            .boxed_unsync();
        builder.body(body).expect("response")
    }

    fn collect(response: http::Response<WasiBody>) -> Result<Vec<u8>, HttpError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio")
            .block_on(async { Ok(response.into_body().collect().await?.to_bytes().to_vec()) })
    }

    #[test]
    fn wrap_cuts_at_the_limit_and_scrubs_a_secrets_host() {
        let limit = LimitFlag::default();
        let declared = response(&[("content-length", "101")], b"");
        assert!(matches!(
            wrap(declared, 100, &limit, Scrubber::default()),
            Err(HttpError::HttpResponseBodySize(Some(101)))
        ));
        assert_eq!(limit.get(), Some(LimitKind::HttpResponse));
        let limit = LimitFlag::default();
        let streamed = wrap(
            response(&[], &[b'x'; 101]),
            100,
            &limit,
            Scrubber::default(),
        )
        .expect("headers pass");
        assert!(collect(streamed).is_err());
        assert_eq!(limit.get(), Some(LimitKind::HttpResponse));
        // From a secret's host: headers and body scrubbed, length dropped.
        let limit = LimitFlag::default();
        let scrubber = Scrubber::new(vec!["KEY-value-1234".into()]);
        let echoed = response(
            &[
                ("x-echo", "Bearer KEY-value-1234"),
                ("content-length", "22"),
            ],
            b"got KEY-value-1234 ok.",
        );
        let wrapped = wrap(echoed, 100, &limit, scrubber).expect("within limits");
        assert!(wrapped.headers().get("content-length").is_none());
        assert_eq!(wrapped.headers()["x-echo"], "Bearer [redacted]");
        assert_eq!(collect(wrapped).expect("body"), b"got [redacted] ok.");
        assert_eq!(limit.get(), None);
        // Positive control: from any other host, the response is untouched.
        let plain = wrap(
            response(&[("content-length", "5")], b"hello"),
            100,
            &limit,
            Scrubber::default(),
        )
        .expect("within limits");
        assert_eq!(plain.headers()["content-length"], "5");
        assert_eq!(collect(plain).expect("body"), b"hello");
    }

    const PH: &str = "skill-run-secret-KEY-0123456789abcdef0123456789abcdef";
    const PB: &str = "skill-run-secret-B-0123456789abcdef0123456789abcdef";

    /// `policy` with KEY (for 127.0.0.1) exposed as the placeholder [`PH`],
    /// B (for b.example, only ever over https) as [`PB`].
    fn placeholder_policy() -> HttpPolicy {
        let mut policy = policy(100);
        policy.max_request_body = 1000;
        let secrets: Vec<ResolvedSecret> = policy
            .secrets
            .iter()
            .map(|s| ResolvedSecret {
                grant: s.grant.clone(),
                value: s.value.clone(),
                placeholder: match s.grant.name.as_str() {
                    "KEY" => Some(PH.to_owned()),
                    _ => Some(PB.to_owned()),
                },
            })
            .collect();
        policy.secrets = secrets.into();
        policy
    }

    fn with_body(
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> http::Request<WasiBody> {
        let mut request = request(method, uri, headers);
        *request.body_mut() = http_body_util::Full::new(bytes::Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync();
        request
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio")
            .block_on(f)
    }

    /// The head of a request: placeholders of a secret that applies are
    /// replaced in header values and the URL (percent-encoded); anywhere
    /// else they refuse the request, audited with the secret and the fix.
    #[test]
    fn placeholders_in_the_head_are_replaced_for_their_host_only() {
        let policy = placeholder_policy();
        let prepared = policy
            .prepare(
                request(
                    "GET",
                    &format!("http://127.0.0.1:8080/api/x?k={PH}&again={PH}"),
                    &[("x-token", &format!("t {PH}"))],
                ),
                None,
            )
            .expect("allowed");
        assert_eq!(
            prepared.request.uri().to_string(),
            "http://127.0.0.1:8080/api/x?k=KEY-value-1234&again=KEY-value-1234"
        );
        assert_eq!(prepared.request.headers()["x-token"], "t KEY-value-1234");
        // The audit keeps the URL the skill wrote.
        let events = policy.audit.take();
        assert!(events.iter().all(|e| !e.target.contains("KEY-value-1234")));
        assert!(events.iter().any(|e| {
            e.reason
                .contains("KEY's placeholder replaced by its value in the URL")
        }));
        type Refused<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);
        let refused: &[Refused] = &[
            ("GET", "http://b.example/x?k={}", &[], "in the URL"),
            ("GET", "http://b.example/{}", &[], "in the URL"),
            (
                "GET",
                "http://b.example/x",
                &[("x-a", "{}")],
                "in header x-a",
            ),
            (
                "GET",
                "http://b.example/x",
                &[("x-a", "UPPER")],
                "in header x-a",
            ),
            (
                "GET",
                "http://b.example/x",
                &[("{}", "v")],
                "in a header name",
            ),
            ("{}", "http://b.example/x", &[], "in the method"),
            // B's own host, but not over https or to a loopback literal.
            (
                "GET",
                "http://b.example/x?k=PB",
                &[],
                "B is only sent over https, and this request is http",
            ),
        ];
        for (method, uri, headers, want) in refused {
            let policy = placeholder_policy();
            let fill = |t: &str| {
                t.replace("{}", PH)
                    .replace("UPPER", &PH.to_uppercase())
                    .replace("PB", PB)
            };
            let headers: Vec<(String, String)> =
                headers.iter().map(|(n, v)| (fill(n), fill(v))).collect();
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let got = policy.prepare(request(&fill(method), &fill(uri), &headers), None);
            assert!(got.is_err(), "{method} {uri} {headers:?} went");
            let events = policy.audit.take();
            assert!(
                events
                    .iter()
                    .any(|e| e.decision == Decision::Deny && e.reason.contains(want)),
                "{method} {uri}: {events:?}"
            );
            if !want.contains("https") {
                assert!(
                    events
                        .iter()
                        .any(|e| e.reason.contains("placeholder of secret KEY")
                            && e.reason.contains("KEY is declared for 127.0.0.1 only")
                            && e.reason.contains("b.example")),
                    "{events:?}"
                );
            }
        }
    }

    /// Bodies: with a declared length, read whole, replaced, and the new
    /// length written; streamed, replaced as they stream; to another host,
    /// read whole and refused before anything is sent.
    #[test]
    fn placeholders_in_bodies_are_replaced_or_refuse_the_request() {
        let policy = placeholder_policy();
        let body = format!("a {PH} b {PH}");
        let mut prepared = policy
            .prepare(
                with_body(
                    "POST",
                    "http://127.0.0.1:8080/api/x",
                    &[("content-length", &body.len().to_string())],
                    body.clone(),
                ),
                None,
            )
            .expect("allowed");
        let plan = prepared
            .body_plan
            .take()
            .expect("read whole: it declares a length");
        run(prepared.settle_body(&plan)).expect("settled");
        let expected = "a KEY-value-1234 b KEY-value-1234";
        assert_eq!(
            prepared.request.headers()["content-length"],
            expected.len().to_string().as_str()
        );
        let sent = run(prepared.request.into_body().collect())
            .expect("body")
            .to_bytes();
        assert_eq!(sent.as_ref(), b"a KEY-value-1234 b KEY-value-1234");

        // Streamed (no declared length) when no other placeholder could be
        // in it: rewritten on the way. (With B's placeholder too, the body
        // was read whole, as B's may not go to 127.0.0.1.)
        let mut only_key = placeholder_policy();
        only_key.secrets = only_key
            .secrets
            .iter()
            .map(|s| ResolvedSecret {
                grant: s.grant.clone(),
                value: s.value.clone(),
                placeholder: s.placeholder.clone().filter(|p| p == PH),
            })
            .collect::<Vec<_>>()
            .into();
        let prepared = only_key
            .prepare(
                with_body("POST", "http://127.0.0.1:8080/api/x", &[], body.clone()),
                None,
            )
            .expect("allowed");
        assert!(prepared.body_plan.is_none());
        assert!(prepared.request.headers().get("content-length").is_none());
        let sent = run(prepared.request.into_body().collect())
            .expect("body")
            .to_bytes();
        assert_eq!(sent.as_ref(), b"a KEY-value-1234 b KEY-value-1234");

        // To another host: refused when the body is read, before sending.
        let mut prepared = policy
            .prepare(
                with_body("POST", "http://b.example/x", &[], body.clone()),
                None,
            )
            .expect("the head is clean");
        let plan = prepared.body_plan.take().expect("read whole: another host");
        assert!(matches!(
            run(prepared.settle_body(&plan)),
            Err(HttpError::HttpRequestDenied)
        ));
        let events = policy.audit.take();
        assert!(events.iter().any(|e| e.decision == Decision::Deny
            && e.reason.contains("placeholder of secret KEY (its environment variable KEY) in the body of a request to b.example")));
        // Positive control: the same request without it goes, length written.
        let mut prepared = policy
            .prepare(
                with_body("POST", "http://b.example/x", &[], "plain".into()),
                None,
            )
            .expect("allowed");
        let plan = prepared.body_plan.take().expect("read whole");
        run(prepared.settle_body(&plan)).expect("clean");
        assert_eq!(prepared.request.headers()["content-length"], "5");
        // The request-body limit still binds a body read whole.
        let mut small = placeholder_policy();
        small.max_request_body = 10;
        let mut prepared = small
            .prepare(with_body("POST", "http://b.example/x", &[], body), None)
            .expect("no declared length");
        let plan = prepared.body_plan.take().expect("read whole");
        assert!(matches!(
            run(prepared.settle_body(&plan)),
            Err(HttpError::HttpRequestBodySize(Some(10)))
        ));
        assert_eq!(small.limit.get(), Some(LimitKind::HttpRequestBody));
    }
}
