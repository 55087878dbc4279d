//! Which IP addresses a granted host *name* may resolve to. Every block in
//! the IANA IPv4 and IPv6 Special-Purpose Address Registries (as of 2026)
//! is special, whatever the registry says about global reachability: a
//! skill has no business at an anycast relay, a translator or a benchmark
//! network either, and a grant that names the IP literally still reaches
//! it. Multicast, the deprecated site-local block and IPv4-translated
//! addresses are added; IPv4-mapped IPv6 addresses are judged by the IPv4
//! address inside (they are the same address).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 special-purpose blocks: (network, prefix length, what it is).
pub(crate) const IPV4_SPECIAL: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "\"this network\" (RFC 791)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private use (RFC 1918)"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "shared address space, carrier-grade NAT (RFC 6598)",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback (RFC 1122)"),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "link local, cloud metadata (RFC 3927)",
    ),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private use (RFC 1918)"),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "IETF protocol assignments (RFC 6890)",
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        "documentation, TEST-NET-1 (RFC 5737)",
    ),
    (Ipv4Addr::new(192, 31, 196, 0), 24, "AS112-v4 (RFC 7535)"),
    (Ipv4Addr::new(192, 52, 193, 0), 24, "AMT (RFC 7450)"),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "deprecated 6to4 relay anycast (RFC 7526)",
    ),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private use (RFC 1918)"),
    (
        Ipv4Addr::new(192, 175, 48, 0),
        24,
        "direct delegation AS112 service (RFC 7534)",
    ),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking (RFC 2544)"),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "documentation, TEST-NET-2 (RFC 5737)",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        "documentation, TEST-NET-3 (RFC 5737)",
    ),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast (RFC 5771)"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved (RFC 1112)"),
    (
        Ipv4Addr::new(255, 255, 255, 255),
        32,
        "limited broadcast (RFC 919)",
    ),
];

const fn v6(segments: [u16; 8]) -> Ipv6Addr {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Addr::new(a, b, c, d, e, f, g, h)
}

/// IPv6 special-purpose blocks: (network, prefix length, what it is).
/// `::ffff:0:0/96` (IPv4-mapped) is handled before this table.
pub(crate) const IPV6_SPECIAL: &[(Ipv6Addr, u8, &str)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 1]), 128, "loopback (RFC 4291)"),
    (v6([0, 0, 0, 0, 0, 0, 0, 0]), 128, "unspecified (RFC 4291)"),
    (
        v6([0, 0, 0, 0, 0, 0, 0, 0]),
        96,
        "IPv4-compatible, deprecated (RFC 4291)",
    ),
    (
        v6([0, 0, 0, 0, 0xffff, 0, 0, 0]),
        96,
        "IPv4-translated (RFC 2765)",
    ),
    (
        v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]),
        96,
        "IPv4/IPv6 translation, NAT64 (RFC 6052)",
    ),
    (
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]),
        48,
        "local-use IPv4/IPv6 translation (RFC 8215)",
    ),
    (
        v6([0x100, 0, 0, 0, 0, 0, 0, 0]),
        64,
        "discard-only (RFC 6666)",
    ),
    (
        v6([0x100, 0, 0, 1, 0, 0, 0, 0]),
        64,
        "dummy IPv6 prefix (RFC 9780)",
    ),
    // Inside 2001::/23, listed first so the more specific name wins.
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 32, "Teredo (RFC 4380)"),
    (
        v6([0x2001, 0x2, 0, 0, 0, 0, 0, 0]),
        48,
        "benchmarking (RFC 5180)",
    ),
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0]),
        23,
        "IETF protocol assignments (RFC 2928)",
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]),
        32,
        "documentation (RFC 3849)",
    ),
    (v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16, "6to4 (RFC 3056)"),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]),
        20,
        "documentation (RFC 9637)",
    ),
    (
        v6([0x5f00, 0, 0, 0, 0, 0, 0, 0]),
        16,
        "segment routing SIDs (RFC 9602)",
    ),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]),
        7,
        "unique local (RFC 4193)",
    ),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]),
        10,
        "link-local unicast (RFC 4291)",
    ),
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]),
        10,
        "site-local, deprecated (RFC 3879)",
    ),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0]), 8, "multicast (RFC 4291)"),
];

fn in_block(address: u128, network: u128, prefix: u8, bits: u32) -> bool {
    let shift = bits - u32::from(prefix);
    if shift >= 128 {
        return true;
    }
    (address >> shift) == (network >> shift)
}

/// The special-purpose block `ip` is in, if any (its description).
pub fn special_block(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => IPV4_SPECIAL
            .iter()
            .find(|(net, prefix, _)| {
                in_block(
                    u128::from(u32::from(v4)),
                    u128::from(u32::from(*net)),
                    *prefix,
                    32,
                )
            })
            .map(|(_, _, what)| *what),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return special_block(IpAddr::V4(v4));
            }
            IPV6_SPECIAL
                .iter()
                .find(|(net, prefix, _)| in_block(u128::from(v6), u128::from(*net), *prefix, 128))
                .map(|(_, _, what)| *what)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table, as a specification: an address, and the block it is in
    /// (`None`: an ordinary public address).
    #[test]
    fn test_special_addresses_follow_the_iana_registries() {
        let table: &[(&str, Option<&str>)] = &[
            ("0.1.2.3", Some("this network")),
            ("10.1.2.3", Some("private use")),
            ("100.64.0.1", Some("carrier-grade NAT")),
            ("100.127.255.255", Some("carrier-grade NAT")),
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("169.254.169.254", Some("link local")),
            ("172.31.255.1", Some("private use")),
            ("192.0.0.9", Some("IETF protocol")),
            ("192.0.2.1", Some("TEST-NET-1")),
            ("192.31.196.1", Some("AS112")),
            ("192.52.193.1", Some("AMT")),
            ("192.88.99.1", Some("6to4 relay")),
            ("192.168.0.1", Some("private use")),
            ("192.175.48.1", Some("AS112")),
            ("198.19.0.1", Some("benchmarking")),
            ("198.51.100.7", Some("TEST-NET-2")),
            ("203.0.113.7", Some("TEST-NET-3")),
            ("224.0.0.1", Some("multicast")),
            ("240.0.0.1", Some("reserved")),
            ("255.255.255.255", Some("reserved")),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("::127.0.0.1", Some("IPv4-compatible")),
            ("::8.8.8.8", Some("IPv4-compatible")),
            ("::ffff:0:127.0.0.1", Some("IPv4-translated")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("link local")),
            ("64:ff9b::a9fe:a9fe", Some("NAT64")),
            ("64:ff9b::808:808", Some("NAT64")),
            ("64:ff9b:1::1", Some("local-use")),
            ("100::1", Some("discard-only")),
            ("100:0:0:1::1", Some("dummy")),
            ("2001::1", Some("Teredo")),
            ("2001:10::1", Some("IETF protocol")),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Some("Teredo")),
            ("2001:2::1", Some("benchmarking")),
            ("2001:db8::1", Some("documentation")),
            ("2002:7f00:1::1", Some("6to4")),
            ("2002:a9fe:a9fe::1", Some("6to4")),
            ("3fff::1", Some("documentation")),
            ("5f00::1", Some("segment routing")),
            ("fc00::1", Some("unique local")),
            ("fd12:3456::1", Some("unique local")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("feff::1", Some("site-local")),
            ("ff02::1", Some("multicast")),
            // Ordinary public addresses.
            ("1.1.1.1", None),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("100.63.255.255", None),
            ("100.128.0.1", None),
            ("172.32.0.1", None),
            ("192.0.3.1", None),
            ("198.20.0.1", None),
            ("223.255.255.255", None),
            ("::ffff:8.8.8.8", None),
            ("2001:200::1", None),
            ("2001:4860:4860::8888", None),
            ("2606:4700::1111", None),
            ("2a00:1450:4001::1", None),
        ];
        for (text, expected) in table {
            let ip: IpAddr = text.parse().expect("address");
            let got = special_block(ip);
            match (expected, got) {
                (None, None) => {}
                (Some(want), Some(got)) if got.contains(want) => {}
                _ => panic!("{text}: expected {expected:?}, classified as {got:?}"),
            }
        }
    }
}
