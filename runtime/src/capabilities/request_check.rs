//! The *authorise* step of an outgoing request, before anything leaves the
//! host: it counts against the request budget (denied or not, so a skill
//! cannot flood the audit log with refusals), must be an absolute http(s)
//! URL without user info, under a grant that allows its method, with no
//! body on a method that has no body semantics, and within
//! `limits.http-request-body` if it declares its length.

use std::sync::atomic::Ordering;

use wasmtime_wasi_http::{Error as HttpError, WasiBody};

use crate::audit::{AuditKind, Decision};
use crate::capabilities::http::HttpPolicy;
use crate::capabilities::limits::LimitKind;

/// What the checks decided about a request that may go.
pub(crate) struct Checked {
    /// The URL as parsed (normalised); the one that is sent.
    pub url: url::Url,
    /// The body must be replaced by an empty one: the method has no body
    /// semantics and the skill declared none (it might still stream one).
    pub strip_body: bool,
}

/// Methods whose requests carry no body (RFC 9110 gives a body on them no
/// meaning, and many servers never read one, so its bytes would be taken as
/// the next request on the connection).
const NO_BODY: [&str; 3] = ["GET", "HEAD", "DELETE"];

/// Why a request may not go, or `None`: the rules as a table-testable
/// function, the same the HTTP client applies to every request before any
/// lookup or connection (`skill-run doctor` probes it too).
pub fn denial(
    skill: &str,
    grants: &[crate::capabilities::network::NetworkGrant],
    method: &str,
    url: &url::Url,
) -> Option<String> {
    if !url.username().is_empty() || url.password().is_some() {
        return Some(format!(
            "skill `{skill}` may not request {}: the URL carries user info (`…@`), which would reach the server inside Host; write the URL without it",
            url.host_str().unwrap_or_default()
        ));
    }
    if matches!(method, "CONNECT" | "TRACE") {
        return Some(format!(
            "skill `{skill}` may not send {method} requests: CONNECT (a tunnel) and TRACE (an echo of the request, secrets included) are never allowed"
        ));
    }
    let covering: Vec<_> = grants.iter().filter(|g| g.allows(url)).collect();
    if let Some(first) = covering.first() {
        if covering.iter().any(|g| g.allows_method(method)) {
            return None;
        }
        return Some(format!(
            "skill `{skill}` may not send {method} to {url}: its network grant {first} allows {}; add {method} to that grant's methods in skill.toml to allow it",
            first.methods
        ));
    }
    if super::network::hides_separators(url.path()) {
        return Some(format!(
            "skill `{skill}` may not request {url}: its path hides `.`, `/` or `\\` behind percent-encoding, which a server could decode past the granted prefix"
        ));
    }
    let origin = url.origin().ascii_serialization();
    let granted: Vec<String> = grants.iter().map(ToString::to_string).collect();
    Some(format!(
        "skill `{skill}` may not request {origin}{}: no [capabilities].network grant covers it (granted: {}); add a URL prefix such as \"{origin}/\" to skill.toml to allow it",
        url.path(),
        granted.join(", ")
    ))
}

/// Runs every check on `request`, audits a refusal, and says how the
/// request must be sent.
pub(crate) fn authorise(
    policy: &HttpPolicy,
    request: &http::Request<WasiBody>,
) -> Result<Checked, HttpError> {
    let shown = request.uri().to_string();
    let deny = |target: &str, reason: &str, error: HttpError| {
        policy
            .audit
            .record(AuditKind::Network, target, Decision::Deny, reason, None);
        Err(error)
    };
    let attempt = policy.sent.fetch_add(1, Ordering::SeqCst).saturating_add(1);
    if attempt > policy.max_requests {
        let reason = format!(
            "request {attempt} is over limits.http-requests = {} (denied requests count too); raise it in skill.toml",
            policy.max_requests
        );
        policy
            .audit
            .record(AuditKind::Limit, &shown, Decision::Deny, &reason, None);
        policy.limit.set(LimitKind::HttpRequests);
        return Err(HttpError::ConnectionLimitReached);
    }
    let Ok(url) = url::Url::parse(&shown) else {
        return deny(
            &shown,
            "not an absolute http(s) URL",
            HttpError::HttpRequestUriInvalid,
        );
    };
    let method = request.method().as_str();
    if let Some(reason) = denial(&policy.skill, &policy.grants, method, &url) {
        return deny(url.as_str(), &reason, HttpError::HttpRequestDenied);
    }
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if NO_BODY.contains(&method) && declared.is_some_and(|n| n > 0) {
        let reason = format!(
            "skill `{}` may not send a body with {method}: {method} requests carry no body (a server that does not read it would take its bytes as a second request); use POST or PUT",
            policy.skill
        );
        return deny(url.as_str(), &reason, HttpError::HttpRequestDenied);
    }
    if declared.is_some_and(|n| n > policy.max_request_body) {
        let reason = format!(
            "the request declares a {} byte body, over limits.http-request-body = {}; raise it in skill.toml",
            declared.unwrap_or_default(),
            crate::capabilities::limits::ByteSize(policy.max_request_body)
        );
        policy.limit.set(LimitKind::HttpRequestBody);
        policy.audit.record(
            AuditKind::Limit,
            url.as_str(),
            Decision::Deny,
            &reason,
            None,
        );
        return Err(HttpError::HttpRequestBodySize(Some(
            policy.max_request_body,
        )));
    }
    Ok(Checked {
        strip_body: NO_BODY.contains(&method),
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::network::NetworkGrant;

    /// The request policy as a table: (grants, method, URL, allowed?, reason contains).
    #[test]
    fn test_request_policy_table() {
        let grants: Vec<NetworkGrant> = toml::from_str::<toml::Table>(
            "g = [\"http://127.0.0.1:8080/api/\", { url = \"https://a.example/ro/\", methods = [\"GET\"] }]",
        )
        .ok()
        .and_then(|t| t.get("g").cloned())
        .and_then(|g| g.try_into().ok())
        .expect("grants");
        let table: &[(&str, &str, Option<&str>)] = &[
            ("GET", "http://127.0.0.1:8080/api/x", None),
            ("POST", "http://127.0.0.1:8080/api/x", None),
            ("OPTIONS", "http://127.0.0.1:8080/api/x", None),
            (
                "CONNECT",
                "http://127.0.0.1:8080/api/x",
                Some("never allowed"),
            ),
            (
                "TRACE",
                "http://127.0.0.1:8080/api/x",
                Some("never allowed"),
            ),
            (
                "GET",
                "http://evil.example@127.0.0.1:8080/api/x",
                Some("user info"),
            ),
            ("GET", "http://u:p@127.0.0.1:8080/api/x", Some("user info")),
            (
                "GET",
                "http://127.0.0.1:8080/apix",
                Some("no [capabilities].network grant"),
            ),
            (
                "GET",
                "http://127.0.0.1:8080/api/..%2fx",
                Some("percent-encoding"),
            ),
            (
                "GET",
                "http://127.0.0.1:8080/api/%2e%2e/x",
                Some("no [capabilities].network grant"),
            ),
            ("GET", "https://a.example/ro/x", None),
            ("HEAD", "https://a.example/ro/x", Some("allows GET")),
            ("POST", "https://a.example/ro/x", Some("add POST")),
        ];
        for (method, url, expected) in table {
            let parsed = url::Url::parse(url).expect("url");
            let got = denial("s", &grants, method, &parsed);
            match (expected, &got) {
                (None, None) => {}
                (Some(want), Some(reason)) if reason.contains(want) => {}
                _ => panic!("{method} {url}: expected {expected:?}, got {got:?}"),
            }
        }
    }
}
