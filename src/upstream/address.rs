//! Which addresses are on the public internet: what a client-supplied URL may make tollgate
//! connect to (IANA special-purpose registries, RFC 6890 and its updates).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a public unicast address: not loopback, private, shared (CGNAT),
/// link-local (cloud metadata services live there), documentation, benchmarking, multicast,
/// reserved or unspecified. IPv6 addresses that carry an IPv4 one (mapped, NAT64, 6to4) are
/// judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    match s {
        // IPv4-mapped (::ffff:a.b.c.d).
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        // Unspecified, loopback and the deprecated IPv4-compatible block (::a.b.c.d).
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        // 6to4 (2002::/16) embeds one too.
        [0x2002, hi, lo, ..] => is_public_v4(embedded_v4(hi, lo)),
        // Teredo (2001::/32) hides one; documentation (2001:db8::/32).
        [0x2001, 0, ..] | [0x2001, 0xdb8, ..] => false,
        // Discard-only (100::/64).
        [0x100, 0, 0, 0, ..] => false,
        // Unique local (fc00::/7), link-local (fe80::/10), multicast (ff00::/8).
        [first, ..] => {
            !((first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 || first >= 0xff00)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn inner_and_special_addresses_are_not_public() {
        for inner in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a00:1::",
            "2001::1",
            "2001:db8::1",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(!public(inner), "{inner}");
        }
    }

    #[test]
    fn internet_addresses_are_public() {
        for outer in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.254",
            "2606:4700:4700::1111",
            "2a00:1450:4001:82a::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(public(outer), "{outer}");
        }
    }
}
