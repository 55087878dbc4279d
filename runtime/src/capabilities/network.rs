//! The `network` capability: URL prefixes a skill may send HTTP requests to,
//! parsed once into scheme, host pattern, port and path prefix, and matched
//! against request URLs as types, never as strings.

use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;
use url::Url;

/// The schemes a grant may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// `http://`
    Http,
    /// `https://`
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Which hosts a grant covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPattern {
    /// Exactly this domain name (lowercase, IDNA-normalised).
    Domain(String),
    /// `*.example.com`: any subdomain of the name, never the name itself.
    Subdomains(String),
    /// An IP address named literally.
    Ip(IpAddr),
}

impl HostPattern {
    fn matches(&self, host: &url::Host<&str>) -> bool {
        match (self, host) {
            (HostPattern::Domain(want), url::Host::Domain(got)) => want == got,
            (HostPattern::Subdomains(parent), url::Host::Domain(got)) => got
                .strip_suffix(parent.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            (HostPattern::Ip(want), url::Host::Ipv4(got)) => *want == IpAddr::V4(*got),
            (HostPattern::Ip(want), url::Host::Ipv6(got)) => *want == IpAddr::V6(*got),
            _ => false,
        }
    }
}

/// One `network` entry: requests must match its scheme, host, port and path
/// prefix, all four.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetworkGrant {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The host or hosts covered.
    pub host: HostPattern,
    /// The port; the scheme's default when the grant names none.
    pub port: u16,
    /// A path prefix, `/` when the grant names none. Matched on whole segments.
    pub path_prefix: String,
    /// The methods allowed; [`Methods::Any`] for the plain string form.
    pub methods: Methods,
}

/// The HTTP methods a grant allows. `CONNECT` and `TRACE` are never
/// allowed: a tunnel or an echo of the request (secrets included) has no
/// place in a skill.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Methods {
    /// Every method but `CONNECT` and `TRACE` (the plain string form).
    #[default]
    Any,
    /// Only these (upper-case, sorted, at least one).
    Only(std::collections::BTreeSet<String>),
}

/// The methods a `methods = [...]` list may name.
pub const GRANTABLE_METHODS: [&str; 7] =
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

impl Methods {
    /// Parses a `methods` list: known methods only, at least one.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        if names.is_empty() {
            return Err("`methods` must name at least one method, e.g. [\"GET\"]; leave it out to allow every method".into());
        }
        let mut set = std::collections::BTreeSet::new();
        for name in names {
            let upper = name.to_ascii_uppercase();
            if !GRANTABLE_METHODS.contains(&upper.as_str()) {
                return Err(format!(
                    "`methods` names `{name}`, which cannot be granted; use some of {} (CONNECT and TRACE are never allowed)",
                    GRANTABLE_METHODS.join(", ")
                ));
            }
            set.insert(upper);
        }
        Ok(Methods::Only(set))
    }

    /// Whether `method` is allowed.
    pub fn allows(&self, method: &str) -> bool {
        match self {
            Methods::Any => !matches!(method, "CONNECT" | "TRACE"),
            Methods::Only(set) => set.contains(method),
        }
    }

    /// Whether every method `self` allows, `wider` allows too.
    pub fn is_within(&self, wider: &Methods) -> bool {
        match (self, wider) {
            (_, Methods::Any) => true,
            (Methods::Any, Methods::Only(_)) => false,
            (Methods::Only(mine), Methods::Only(theirs)) => mine.is_subset(theirs),
        }
    }
}

impl fmt::Display for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Methods::Any => f.write_str("any method"),
            Methods::Only(set) => {
                let names: Vec<&str> = set.iter().map(String::as_str).collect();
                f.write_str(&names.join(", "))
            }
        }
    }
}

/// Whether `path` lies under `prefix`, matched on whole segments: `/api`
/// covers `/api` and `/api/x`, never `/apix`; `/api/` covers `/api/x`.
pub fn path_under(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path == prefix
        || (prefix.ends_with('/') && path.starts_with(prefix))
        || (!prefix.ends_with('/')
            && path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/')))
}

impl NetworkGrant {
    /// Parses `https://api.example.com/v1/`, `http://127.0.0.1:8080`,
    /// `https://*.example.com`. Refuses other schemes, user info, queries and
    /// fragments, since they cannot be matched meaningfully.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme_text, rest) = text.split_once("://").ok_or_else(|| {
            format!("network grant `{text}` needs a scheme, e.g. \"https://api.example.com/\"")
        })?;
        let scheme = match scheme_text.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => {
                return Err(format!(
                    "network grant `{text}`: scheme `{other}` is not supported; use http or https"
                ));
            }
        };
        let wildcard = rest.starts_with("*.");
        let parse_text = if wildcard {
            format!("{}://{}", scheme.as_str(), &rest[2..])
        } else {
            format!("{}://{rest}", scheme.as_str())
        };
        let url = Url::parse(&parse_text)
            .map_err(|e| format!("network grant `{text}` is not a valid URL: {e}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("network grant `{text}` must not contain user info"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "network grant `{text}` must not contain a query or fragment"
            ));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if wildcard => HostPattern::Subdomains(d.to_owned()),
            Some(url::Host::Domain(d)) => {
                if d.contains('*') {
                    return Err(format!(
                        "network grant `{text}`: `*` is only allowed as a leading `*.`"
                    ));
                }
                HostPattern::Domain(d.to_owned())
            }
            Some(url::Host::Ipv4(ip)) if !wildcard => HostPattern::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) if !wildcard => HostPattern::Ip(IpAddr::V6(ip)),
            _ => return Err(format!("network grant `{text}` has no usable host")),
        };
        Ok(NetworkGrant {
            scheme,
            host,
            port: url.port().unwrap_or(scheme.default_port()),
            path_prefix: url.path().to_owned(),
            methods: Methods::Any,
        })
    }

    /// Whether this grant allows the method `method` (upper-case).
    pub fn allows_method(&self, method: &str) -> bool {
        self.methods.allows(method)
    }

    /// Whether a request to `url` falls under this grant. A path that hides
    /// `.`, `/` or `\` behind percent-encoding never does: a server that
    /// decodes it could walk out of the granted prefix.
    pub fn allows(&self, url: &Url) -> bool {
        if hides_separators(url.path()) {
            return false;
        }
        let scheme = match url.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return false,
        };
        if scheme != self.scheme || url.port_or_known_default() != Some(self.port) {
            return false;
        }
        let Some(host) = url.host() else { return false };
        if !self.host.matches(&host) {
            return false;
        }
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        path_under(&self.path_prefix, url.path())
    }

    /// Whether this grant's host pattern covers the host name `host`.
    pub fn covers_host(&self, host: &str) -> bool {
        url::Host::parse(host).is_ok_and(|h| match &h {
            url::Host::Domain(d) => self.host.matches(&url::Host::Domain(d.as_str())),
            url::Host::Ipv4(ip) => self.host.matches(&url::Host::Ipv4(*ip)),
            url::Host::Ipv6(ip) => self.host.matches(&url::Host::Ipv6(*ip)),
        })
    }

    /// Whether both grants name the same URL prefix, whatever methods
    /// each allows.
    pub fn same_prefix(&self, other: &NetworkGrant) -> bool {
        self.scheme == other.scheme
            && self.host == other.host
            && self.port == other.port
            && self.path_prefix == other.path_prefix
    }

    /// Whether every request `self` allows is allowed by `wider`.
    pub fn is_within(&self, wider: &NetworkGrant) -> bool {
        if self.scheme != wider.scheme
            || self.port != wider.port
            || !self.methods.is_within(&wider.methods)
        {
            return false;
        }
        let host_ok = match (&self.host, &wider.host) {
            (a, b) if a == b => true,
            (HostPattern::Domain(d), b @ HostPattern::Subdomains(_)) => {
                b.matches(&url::Host::Domain(d.as_str()))
            }
            _ => false,
        };
        host_ok && path_under(&wider.path_prefix, &self.path_prefix)
    }
}

/// Whether a path contains percent-encoded `.`, `/` or `\`.
pub fn hides_separators(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    ["%2e", "%2f", "%5c"]
        .iter()
        .any(|encoded| lower.contains(encoded))
}

/// Whether `ip` is an ordinary public address: in no block of the IANA
/// special-purpose registries (see `special_addresses`). IPv4-mapped IPv6
/// addresses are judged by the IPv4 address inside.
pub fn is_public_address(ip: IpAddr) -> bool {
    super::special_addresses::special_block(ip).is_none()
}

impl fmt::Display for NetworkGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            HostPattern::Domain(d) => write!(f, "{d}")?,
            HostPattern::Subdomains(d) => write!(f, "*.{d}")?,
            HostPattern::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.path_prefix)?;
        if let Methods::Only(_) = self.methods {
            write!(f, " ({})", self.methods)?;
        }
        Ok(())
    }
}

/// A `network` entry as written: `"https://…"` or `{ url = "https://…", methods = ["GET"] }`.
#[derive(Deserialize, serde::Serialize)]
#[serde(untagged)]
enum GrantText {
    Url(String),
    WithMethods(GrantTable),
}

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct GrantTable {
    url: String,
    methods: Vec<String>,
}

/// Written back in the manifest's form: the URL string when every method
/// is allowed, else `{ url, methods }`.
impl serde::Serialize for NetworkGrant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.methods {
            Methods::Any => GrantText::Url(self.to_string()),
            Methods::Only(set) => GrantText::WithMethods(GrantTable {
                url: NetworkGrant {
                    methods: Methods::Any,
                    ..self.clone()
                }
                .to_string(),
                methods: set.iter().cloned().collect(),
            }),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for NetworkGrant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = GrantText::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "a network grant is a URL prefix string, or a table { url = \"https://…/\", methods = [\"GET\"] } (no other keys)",
            )
        })?;
        match text {
            GrantText::Url(url) => NetworkGrant::parse(&url).map_err(serde::de::Error::custom),
            GrantText::WithMethods(table) => {
                let mut grant =
                    NetworkGrant::parse(&table.url).map_err(serde::de::Error::custom)?;
                grant.methods = Methods::parse(&table.methods).map_err(|e| {
                    serde::de::Error::custom(format!("network grant `{}`: {e}", table.url))
                })?;
                Ok(grant)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> NetworkGrant {
        NetworkGrant::parse(text).expect("valid grant")
    }

    fn url(text: &str) -> Url {
        Url::parse(text).expect("valid url")
    }

    #[test]
    fn test_grant_accepts_url_under_its_prefix() {
        let g = grant("https://www.moltbook.com/api/v1/");
        assert!(g.allows(&url("https://www.moltbook.com/api/v1/posts")));
        assert!(g.allows(&url("https://WWW.MOLTBOOK.COM:443/api/v1/feed?x=1")));
    }

    #[test]
    fn test_grant_does_not_accept_other_host_port_scheme_or_path() {
        let g = grant("https://www.moltbook.com/api/v1/");
        assert!(!g.allows(&url("https://moltbook.com/api/v1/posts")));
        assert!(!g.allows(&url("https://www.moltbook.com:8443/api/v1/posts")));
        assert!(!g.allows(&url("http://www.moltbook.com/api/v1/posts")));
        assert!(!g.allows(&url("https://www.moltbook.com/api/v2/posts")));
        assert!(!g.allows(&url("https://www.moltbook.com/api/v1/../../admin")));
        assert!(!g.allows(&url("https://www.moltbook.com/api/v1/%2e%2e/%2E%2E/admin")));
        assert!(!g.allows(&url("https://www.moltbook.com/api/v1/..%2fadmin")));
        assert!(!g.allows(&url("https://www.moltbook.com/api/v1/%5c..%5cadmin")));
        assert!(
            g.allows(&url("https://www.moltbook.com/api/v1/search?q=%2e%2e")),
            "queries are not paths"
        );
    }

    #[test]
    fn test_grant_path_prefix_matches_whole_segments() {
        let g = grant("https://a.example/api");
        assert!(g.allows(&url("https://a.example/api/x")));
        assert!(g.allows(&url("https://a.example/api")));
        assert!(!g.allows(&url("https://a.example/apix")));
    }

    #[test]
    fn test_grant_accepts_subdomain_wildcards_but_not_the_bare_domain() {
        let g = grant("https://*.example.com");
        assert!(g.allows(&url("https://api.example.com/")));
        assert!(g.allows(&url("https://a.b.example.com/")));
        assert!(!g.allows(&url("https://example.com/")));
        assert!(!g.allows(&url("https://evilexample.com/")));
    }

    #[test]
    fn test_grant_does_not_accept_plain_host_without_scheme_or_odd_schemes() {
        assert!(NetworkGrant::parse("example.com").is_err());
        assert!(NetworkGrant::parse("ftp://example.com").is_err());
        assert!(NetworkGrant::parse("https://user:pw@example.com").is_err());
        assert!(NetworkGrant::parse("https://ex*ample.com").is_err());
    }

    #[test]
    fn test_grant_naming_a_host_does_not_accept_its_ip_literal() {
        let g = grant("https://api.example.com/");
        assert!(!g.allows(&url("https://93.184.216.34/")));
        assert!(!g.allows(&url("https://[2606:2800:220:1::]/")));
    }

    #[test]
    fn test_grant_with_ip_literal_and_port() {
        let g = grant("http://127.0.0.1:8080/");
        assert!(g.allows(&url("http://127.0.0.1:8080/x")));
        assert!(!g.allows(&url("http://127.0.0.1:8081/x")));
        assert!(!g.allows(&url("http://localhost:8080/x")));
    }

    #[test]
    fn special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            assert!(
                !is_public_address(ip.parse().expect("ip")),
                "{ip} counted as public"
            );
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(
                is_public_address(ip.parse().expect("ip")),
                "{ip} counted as special"
            );
        }
    }

    #[test]
    fn test_method_grants_allow_only_their_methods() {
        let mut g = grant("https://a.example/");
        assert!(
            g.allows_method("POST") && !g.allows_method("CONNECT") && !g.allows_method("TRACE")
        );
        g.methods = Methods::parse(&["get".into()]).expect("valid");
        assert!(g.allows_method("GET") && !g.allows_method("POST"));
        assert_eq!(g.to_string(), "https://a.example/ (GET)");
        assert!(g.is_within(&grant("https://a.example/")));
        assert!(!grant("https://a.example/").is_within(&g));
        assert!(Methods::parse(&[]).is_err());
        assert!(Methods::parse(&["CONNECT".into()]).is_err());
    }

    #[test]
    fn test_grant_does_not_accept_urls_with_user_info() {
        let g = grant("http://127.0.0.1:8080/");
        assert!(!g.allows(&url("http://evil.example@127.0.0.1:8080/")));
        assert!(!g.allows(&url("http://u:p@127.0.0.1:8080/")));
    }

    #[test]
    fn test_path_under_matches_whole_segments() {
        assert!(path_under("/api/v1", "/api/v1"));
        assert!(path_under("/api/v1", "/api/v1/x"));
        assert!(!path_under("/api/v1", "/api/v1-internal/x"));
        assert!(!path_under("/api/v1", "/api/v1x"));
        assert!(path_under("/api/", "/api/x"));
        assert!(!path_under("/api/", "/api"));
    }

    #[test]
    fn narrower_grants_are_within_wider_ones() {
        assert!(grant("https://a.example.com/v1/").is_within(&grant("https://*.example.com/")));
        assert!(grant("https://a.example/v1/x").is_within(&grant("https://a.example/v1/")));
        assert!(!grant("https://a.example/").is_within(&grant("https://a.example/v1/")));
        assert!(!grant("http://a.example/").is_within(&grant("https://a.example/")));
    }
}

/// A host-side redirection of one origin to another, for tests and local
/// walkthroughs: a skill's request to `from` is checked, counted and given
/// its secrets as written, then sent to `to` (same path). Only a host sets
/// it; a skill cannot see or change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOverride {
    from: url::Origin,
    to: Url,
}

impl NetworkOverride {
    /// Parses two origins such as `https://www.moltbook.com` and `http://127.0.0.1:8080`.
    pub fn parse(from: &str, to: &str) -> Result<Self, String> {
        let origin = |text: &str| -> Result<Url, String> {
            let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
            if !matches!(url.scheme(), "http" | "https")
                || url.host().is_none()
                || url.path() != "/"
            {
                return Err(format!(
                    "`{text}` must be an http(s) origin without a path, e.g. \"http://127.0.0.1:8080\""
                ));
            }
            Ok(url)
        };
        Ok(NetworkOverride {
            from: origin(from)?.origin(),
            to: origin(to)?,
        })
    }

    /// Where `url` should really go, if this override applies to it.
    pub(crate) fn redirect(&self, url: &Url) -> Option<Url> {
        if url.origin() != self.from {
            return None;
        }
        let mut target = self.to.clone();
        target.set_path(url.path());
        target.set_query(url.query());
        Some(target)
    }
}

#[cfg(test)]
mod override_tests {
    use super::*;

    #[test]
    fn overrides_apply_to_their_origin_only() {
        let o = NetworkOverride::parse("https://www.moltbook.com", "http://127.0.0.1:8080")
            .expect("valid");
        let target = o
            .redirect(&Url::parse("https://www.moltbook.com/api/v1/feed?sort=new").expect("url"))
            .expect("applies");
        assert_eq!(
            target.as_str(),
            "http://127.0.0.1:8080/api/v1/feed?sort=new"
        );
        assert!(
            o.redirect(&Url::parse("https://moltbook.com/api/v1/feed").expect("url"))
                .is_none()
        );
        assert!(NetworkOverride::parse("https://a.example/path", "http://127.0.0.1").is_err());
    }
}
