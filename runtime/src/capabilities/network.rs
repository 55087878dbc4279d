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
        })
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
        let path = url.path();
        let prefix = self.path_prefix.as_str();
        prefix == "/"
            || path == prefix
            || (prefix.ends_with('/') && path.starts_with(prefix))
            || (!prefix.ends_with('/') && path.starts_with(&format!("{prefix}/")))
    }

    /// Whether this grant's host pattern covers the host name `host`.
    pub fn covers_host(&self, host: &str) -> bool {
        url::Host::parse(host).is_ok_and(|h| match &h {
            url::Host::Domain(d) => self.host.matches(&url::Host::Domain(d.as_str())),
            url::Host::Ipv4(ip) => self.host.matches(&url::Host::Ipv4(*ip)),
            url::Host::Ipv6(ip) => self.host.matches(&url::Host::Ipv6(*ip)),
        })
    }

    /// Whether every request `self` allows is allowed by `wider`.
    pub fn is_within(&self, wider: &NetworkGrant) -> bool {
        if self.scheme != wider.scheme || self.port != wider.port {
            return false;
        }
        let host_ok = match (&self.host, &wider.host) {
            (a, b) if a == b => true,
            (HostPattern::Domain(d), b @ HostPattern::Subdomains(_)) => {
                b.matches(&url::Host::Domain(d.as_str()))
            }
            _ => false,
        };
        let probe = format!("{}://h{}", self.scheme.as_str(), self.path_prefix);
        host_ok
            && Url::parse(&probe).is_ok_and(|u| {
                NetworkGrant {
                    host: HostPattern::Domain("h".into()),
                    ..wider.clone()
                }
                .allows(&u)
            })
    }
}

/// Whether a path contains percent-encoded `.`, `/` or `\`.
pub fn hides_separators(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    ["%2e", "%2f", "%5c"]
        .iter()
        .any(|encoded| lower.contains(encoded))
}

/// Whether `ip` is an ordinary public address. Loopback, private, link-local
/// (cloud metadata at 169.254.169.254 among them), carrier-grade NAT,
/// unspecified, multicast, broadcast, documentation, benchmarking and
/// reserved ranges are not; IPv4-mapped and NAT64 IPv6 addresses are judged
/// by the IPv4 address inside.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            if seg[0] == 0x64 && seg[1] == 0xff9b {
                let [_, _, _, _, _, _, hi, lo] = seg;
                let v4 =
                    std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
                return is_public_address(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0x2001 && seg[1] == 0x0db8))
        }
    }
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
        f.write_str(&self.path_prefix)
    }
}

impl<'de> Deserialize<'de> for NetworkGrant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NetworkGrant::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
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
