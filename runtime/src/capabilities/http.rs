//! Outgoing HTTP for skills granted `network`: every request a component
//! sends through `wasi:http/outgoing-handler` is checked here against the
//! grants and the request budget before anything leaves the host, and every
//! decision is audited.
//!
//! Redirects are never followed by the host (each hop is a new request the
//! skill must send, and it is checked again). Connect and first-byte timeouts
//! are bounded by the invocation's remaining time. A granted host *name* is
//! resolved and refused if any address is not public, and the connection
//! goes to the address that was checked (see `http_client`), so DNS
//! rebinding cannot swap it afterwards.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::audit::{AuditKind, AuditRecorder, Decision};
use crate::capabilities::http_client;
use crate::capabilities::limits::LimitKind;
use crate::capabilities::network::{NetworkGrant, NetworkOverride, is_public_address};
use crate::capabilities::response_body::{LimitedBody, ScrubBody};
use crate::capabilities::secrets::{Scrubber, SecretGrant};
use crate::invocation::provenance::Provenance;
use crate::invocation::state::LimitFlag;

/// Connect and first-byte timeouts when the invocation has longer left
/// (wasi-http's own defaults are 600 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);

/// A declared secret and the value the host supplied for it (if any).
pub(crate) struct ResolvedSecret {
    pub grant: SecretGrant,
    pub value: Option<String>,
}

/// Replaces secret values in header values.
pub(crate) fn scrub_headers(headers: &mut http::HeaderMap, scrubber: &Scrubber) {
    if scrubber.is_empty() {
        return;
    }
    for value in headers.values_mut() {
        let scrubbed = scrubber.bytes(value.as_bytes());
        if scrubbed != value.as_bytes()
            && let Ok(clean) = http::HeaderValue::from_bytes(&scrubbed)
        {
            *value = clean;
        }
    }
}

/// Per-invocation outgoing-request policy.
pub(crate) struct HttpPolicy {
    pub skill: Arc<str>,
    pub grants: Arc<[NetworkGrant]>,
    pub max_requests: u32,
    /// `limits.http-response` in bytes.
    pub max_response: u64,
    pub sent: Arc<AtomicU32>,
    pub deadline: Instant,
    pub audit: AuditRecorder,
    pub limit: LimitFlag,
    pub provenance: Provenance,
    pub secrets: Arc<[ResolvedSecret]>,
    pub scrubber: Scrubber,
    pub overrides: Arc<[NetworkOverride]>,
}

impl HttpPolicy {
    /// Why `url` may not be requested, or `None` when a grant covers it.
    fn denial(&self, url: &url::Url) -> Option<String> {
        if self.grants.iter().any(|g| g.allows(url)) {
            return None;
        }
        if super::network::hides_separators(url.path()) {
            return Some(format!(
                "skill `{}` may not request {url}: its path hides `.`, `/` or `\\` behind percent-encoding, which a server could decode past the granted prefix",
                self.skill
            ));
        }
        let origin = url.origin().ascii_serialization();
        let granted: Vec<String> = self.grants.iter().map(ToString::to_string).collect();
        Some(format!(
            "skill `{}` may not request {origin}{}: no [capabilities].network grant covers it (granted: {}); add a URL prefix such as \"{origin}/\" to skill.toml to allow it",
            self.skill,
            url.path(),
            granted.join(", ")
        ))
    }
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
    /// Adds each declared secret whose host is this request's host, in its
    /// header and format, replacing any value the skill set itself. Only over
    /// https, or to a loopback address named literally (local testing).
    fn add_secrets(&self, request: &mut http::Request<WasiBody>, url: &url::Url) {
        let Some(host) = url.host_str() else { return };
        let note = |decision, reason: &str| {
            self.audit
                .record(AuditKind::Network, url.as_str(), decision, reason, None)
        };
        let loopback_literal = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        let under_prefix = |s: &&ResolvedSecret| {
            s.grant
                .path
                .as_deref()
                .is_none_or(|p| url.path().starts_with(p))
        };
        for secret in self
            .secrets
            .iter()
            .filter(|s| s.grant.host.eq_ignore_ascii_case(host))
            .filter(under_prefix)
        {
            let name = secret.grant.name.as_str();
            let header = secret.grant.header.as_str();
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
            let formatted = secret.grant.format.replacen("{}", value, 1);
            match (
                http::HeaderName::from_bytes(header.as_bytes()),
                http::HeaderValue::from_str(&formatted),
            ) {
                (Ok(name_h), Ok(mut value_h)) => {
                    value_h.set_sensitive(true);
                    request.headers_mut().insert(name_h, value_h);
                    let reason =
                        format!("secret {name} added as {header} (the skill never sees it)");
                    note(Decision::Allow, &reason);
                }
                _ => {
                    let reason =
                        format!("secret {name} is not a valid {header} header value; not sent");
                    note(Decision::Deny, &reason);
                }
            }
        }
    }
}

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: BodyDone,
    ) -> PendingResponse {
        let shown = request.uri().to_string();
        let Ok(url) = url::Url::parse(&shown) else {
            self.audit.record(
                AuditKind::Network,
                &shown,
                Decision::Deny,
                "not an absolute http(s) URL",
                None,
            );
            return denied(HttpError::HttpRequestUriInvalid);
        };
        if let Some(reason) = self.denial(&url) {
            self.audit.record(
                AuditKind::Network,
                url.as_str(),
                Decision::Deny,
                &reason,
                None,
            );
            return denied(HttpError::HttpRequestDenied);
        }
        let sent = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        if sent > self.max_requests {
            let reason = format!(
                "request {sent} is over limits.http-requests = {}; raise it in skill.toml",
                self.max_requests
            );
            self.audit.record(
                AuditKind::Limit,
                url.as_str(),
                Decision::Deny,
                &reason,
                None,
            );
            self.limit.set(LimitKind::HttpRequests);
            return denied(HttpError::ConnectionLimitReached);
        }
        let mut request = request;
        self.add_secrets(&mut request, &url);
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let bound = |asked: Option<Duration>, ours: Duration| {
            Some(asked.unwrap_or(ours).min(ours).min(remaining))
        };
        let options = RequestOptions {
            connect_timeout: bound(options.and_then(|o| o.connect_timeout), CONNECT_TIMEOUT),
            first_byte_timeout: bound(
                options.and_then(|o| o.first_byte_timeout),
                FIRST_BYTE_TIMEOUT,
            ),
            between_bytes_timeout: bound(
                options.and_then(|o| o.between_bytes_timeout),
                FIRST_BYTE_TIMEOUT,
            ),
        };
        let (max_response, limit) = (self.max_response, self.limit.clone());
        let (audit, provenance, scrubber) = (
            self.audit.clone(),
            self.provenance.clone(),
            self.scrubber.clone(),
        );
        let origin = url.origin().ascii_serialization();
        // The host may send this origin elsewhere (tests, walkthroughs); the
        // checks above used the URL the skill asked for.
        let target = match self.overrides.iter().find_map(|o| o.redirect(&url)) {
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
        };
        let overridden = target != url;
        let url_for_connect = target;
        // A grant that names an IP literally reaches that IP; a grant that names
        // a host reaches it only while it resolves to public addresses, so a
        // skill cannot point a name it controls at loopback, the LAN or the
        // cloud metadata service.
        let named_host = match url_for_connect.host() {
            Some(url::Host::Domain(d)) => Some((
                d.to_owned(),
                url_for_connect.port_or_known_default().unwrap_or(80),
            )),
            _ => None,
        };
        let tls = url_for_connect.scheme() == "https";
        let port = url_for_connect
            .port_or_known_default()
            .unwrap_or(if tls { 443 } else { 80 });
        let literal = match url_for_connect.host() {
            Some(url::Host::Ipv4(ip)) => Some(SocketAddr::new(ip.into(), port)),
            Some(url::Host::Ipv6(ip)) => Some(SocketAddr::new(ip.into(), port)),
            _ => None,
        };
        let server_name = url_for_connect
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        Box::new(async move {
            let address = match (literal, named_host) {
                (Some(address), _) => address,
                (None, Some((host, port))) => {
                    let addresses = match tokio::net::lookup_host((host.as_str(), port)).await {
                        Ok(addresses) => addresses.collect::<Vec<_>>(),
                        Err(e) => {
                            audit.record(
                                AuditKind::Network,
                                url.as_str(),
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
                    // An override target is the host's own choice (often loopback).
                    if let Some(special) = addresses
                        .iter()
                        .find(|a| !overridden && !is_public_address(a.ip()))
                    {
                        let reason = format!(
                            "{host} resolves to {}, a loopback, private, link-local or reserved address; such addresses are reachable only through a [capabilities].network grant that names the IP literally",
                            special.ip()
                        );
                        audit.record(
                            AuditKind::Network,
                            url.as_str(),
                            Decision::Deny,
                            &reason,
                            None,
                        );
                        return Err(HttpError::DestinationIpProhibited);
                    }
                    addresses
                        .first()
                        .copied()
                        .ok_or(HttpError::DestinationNotFound)?
                }
                (None, None) => return Err(HttpError::HttpRequestUriInvalid),
            };
            audit.record(
                AuditKind::Network,
                url.as_str(),
                Decision::Allow,
                &format!("covered by a network grant; connecting to {address}"),
                None,
            );
            provenance.note_origin(&origin);
            // Send exactly the path that was checked (the parser normalised
            // `..` and encoded dot segments), to the address that was checked
            // (the name is not resolved again).
            if let Ok(checked) = http::Uri::try_from(url_for_connect.as_str()) {
                *request.uri_mut() = checked;
            }
            let (response, io) =
                http_client::send(request, address, &server_name, tls, options).await?;
            let (mut parts, body) = response.into_parts();
            // A server that echoes a secret back cannot hand it to the skill.
            scrub_headers(&mut parts.headers, &scrubber);
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
                BodyExt::boxed_unsync(ScrubBody::new(body, scrubber))
            };
            Ok((
                http::Response::from_parts(parts, body),
                Box::new(io) as BodyDone,
            ))
        })
    }
}
