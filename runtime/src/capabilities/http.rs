//! Outgoing HTTP for skills granted `network`: every request a component
//! sends through `wasi:http/outgoing-handler` is checked here against the
//! grants and the request budget before anything leaves the host, and every
//! decision is audited.
//!
//! Redirects are never followed by the host (each hop is a new request the
//! skill must send, and it is checked again). Connect and first-byte timeouts
//! are bounded by the invocation's remaining time. A granted host *name* is
//! resolved and refused if any address is not public; the connection itself
//! resolves the name again, so DNS rebinding between the two is not yet
//! prevented (issue 4).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::audit::{AuditKind, AuditRecorder, Decision};
use crate::capabilities::limits::LimitKind;
use crate::capabilities::network::{NetworkGrant, is_public_address};
use crate::invocation::provenance::Provenance;
use crate::invocation::state::LimitFlag;

/// Connect and first-byte timeouts when the invocation has longer left
/// (wasi-http's own defaults are 600 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);

/// Per-invocation outgoing-request policy.
pub(crate) struct HttpPolicy {
    pub skill: Arc<str>,
    pub grants: Arc<[NetworkGrant]>,
    pub max_requests: u32,
    pub sent: Arc<AtomicU32>,
    pub deadline: Instant,
    pub audit: AuditRecorder,
    pub limit: LimitFlag,
    pub provenance: Provenance,
}

impl HttpPolicy {
    /// Why `url` may not be requested, or `None` when a grant covers it.
    fn denial(&self, url: &url::Url) -> Option<String> {
        if self.grants.iter().any(|g| g.allows(url)) {
            return None;
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
        let (audit, provenance) = (self.audit.clone(), self.provenance.clone());
        let origin = url.origin().ascii_serialization();
        // A grant that names an IP literally reaches that IP; a grant that names
        // a host reaches it only while it resolves to public addresses, so a
        // skill cannot point a name it controls at loopback, the LAN or the
        // cloud metadata service.
        let named_host = match url.host() {
            Some(url::Host::Domain(d)) => {
                Some((d.to_owned(), url.port_or_known_default().unwrap_or(80)))
            }
            _ => None,
        };
        Box::new(async move {
            if let Some((host, port)) = named_host {
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
                if let Some(special) = addresses.iter().find(|a| !is_public_address(a.ip())) {
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
            }
            audit.record(
                AuditKind::Network,
                url.as_str(),
                Decision::Allow,
                "covered by a network grant",
                None,
            );
            provenance.note_origin(&origin);
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as BodyDone,
            ))
        })
    }
}
