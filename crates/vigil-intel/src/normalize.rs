//! One canonical text per value, so that an indicator and an event's field compare equal
//! exactly when they name the same thing: hashes in lowercase hex, addresses in their
//! standard form (IPv4-mapped IPv6 as IPv4), networks with their host bits cleared, domains
//! lowercase without the root dot, URLs with scheme and host lowercased, default port, fragment
//! and user info dropped, and unreserved characters percent-decoded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::{IndicatorType, IntelError};

/// Checks `raw` as a value of `kind` and returns its canonical text.
pub fn normalize(kind: IndicatorType, raw: &str) -> Result<String, IntelError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(IntelError::invalid(format!("empty {kind} value")));
    }
    match kind {
        IndicatorType::Sha256 => hex_digest(raw, 64, kind),
        IndicatorType::Sha1 => hex_digest(raw, 40, kind),
        IndicatorType::Md5 => hex_digest(raw, 32, kind),
        IndicatorType::Cert => {
            let cleaned: String = raw.chars().filter(|c| *c != ':' && *c != ' ').collect();
            hex_digest(&cleaned, 40, kind)
        }
        IndicatorType::Ip => ip(raw).map(|a| a.to_string()),
        IndicatorType::Cidr => cidr(raw).map(|(a, len)| format!("{a}/{len}")),
        IndicatorType::Domain => domain(raw),
        IndicatorType::Url => url(raw),
    }
}

fn hex_digest(raw: &str, len: usize, kind: IndicatorType) -> Result<String, IntelError> {
    if raw.len() != len || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(IntelError::invalid(format!(
            "{raw:?} is not a {kind} ({len} hexadecimal digits)"
        )));
    }
    Ok(raw.to_ascii_lowercase())
}

/// An address; `a.b.c.d/32` (or `/128`) is accepted as the address itself.
pub fn ip(raw: &str) -> Result<IpAddr, IntelError> {
    let (addr, len) = match raw.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (raw, None),
    };
    let addr = parse_addr(addr)
        .ok_or_else(|| IntelError::invalid(format!("{raw:?} is not an IP address")))?;
    if let Some(l) = len {
        let full = if addr.is_ipv4() { "32" } else { "128" };
        if l != full {
            return Err(IntelError::invalid(format!(
                "{raw:?} is a network, not one address (use type cidr)"
            )));
        }
    }
    Ok(addr)
}

/// Parses an address and folds IPv4-mapped IPv6 (`::ffff:1.2.3.4`) to IPv4, as the kernel
/// reports such peers either way.
pub fn parse_addr(raw: &str) -> Option<IpAddr> {
    let raw = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    let addr: IpAddr = raw.parse().ok()?;
    Some(canonical_addr(addr))
}

/// IPv4-mapped IPv6 addresses as IPv4.
pub fn canonical_addr(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// A network with its host bits cleared; a bare address is its own /32 or /128.
pub fn cidr(raw: &str) -> Result<(IpAddr, u8), IntelError> {
    let bad = || IntelError::invalid(format!("{raw:?} is not a CIDR network (address/length)"));
    let (addr, len) = match raw.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (raw, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| IntelError::invalid(format!("{raw:?} is not a CIDR network: bad address")))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len: u8 = match len {
        Some(l) => l.parse().map_err(|_| bad())?,
        None => max,
    };
    if len > max {
        return Err(IntelError::invalid(format!(
            "{raw:?} has a prefix length over {max}"
        )));
    }
    Ok(match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a) & mask32(len);
            (IpAddr::V4(Ipv4Addr::from(bits)), len)
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a) & mask128(len);
            (IpAddr::V6(Ipv6Addr::from(bits)), len)
        }
    })
}

pub(crate) fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

pub(crate) fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// A host name: lowercase, no trailing root dot, a leading `*.` dropped (a domain indicator
/// covers its subdomains anyway). Labels of letters, digits, `-` and `_`, at most 63 bytes, at
/// most 253 in all. Internationalised names must come as punycode (`xn--`).
pub fn domain(raw: &str) -> Result<String, IntelError> {
    let d = raw.trim_end_matches('.');
    let d = d.strip_prefix("*.").unwrap_or(d);
    if d.is_empty() {
        return Err(IntelError::invalid(format!("{raw:?} is not a domain name")));
    }
    if !d.is_ascii() {
        return Err(IntelError::invalid(format!(
            "{raw:?}: internationalised domain names must be given in punycode (xn--...)"
        )));
    }
    let d = d.to_ascii_lowercase();
    if d.len() > 253 {
        return Err(IntelError::invalid(format!(
            "{raw:?} is longer than 253 characters"
        )));
    }
    if d.parse::<IpAddr>().is_ok() {
        return Err(IntelError::invalid(format!(
            "{raw:?} is an IP address, not a domain (use type ip)"
        )));
    }
    for label in d.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(IntelError::invalid(format!(
                "{raw:?} is not a domain name (bad label {label:?})"
            )));
        }
    }
    Ok(d)
}

/// A URL in canonical form. Without a scheme, `http://` is assumed.
pub fn url(raw: &str) -> Result<String, IntelError> {
    let bad = |why: &str| IntelError::invalid(format!("{raw:?} is not a URL: {why}"));
    if raw
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(bad("it contains white space or control characters"));
    }
    let (scheme, rest) = match raw.find("://") {
        Some(i) => (raw[..i].to_ascii_lowercase(), &raw[i + 3..]),
        None => ("http".to_string(), raw),
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        return Err(bad("bad scheme"));
    }
    let rest = rest.split('#').next().unwrap_or("");
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(auth_end);
    let hostport = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
    let host = if let Some(addr) = parse_addr(host) {
        match addr {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        }
    } else {
        domain(host).map_err(|_| bad("bad host name"))?
    };
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    };
    let mut out = format!("{scheme}://{host}");
    if let Some(p) = port {
        if Some(p) != default_port {
            out.push(':');
            out.push_str(&p.to_string());
        }
    }
    if !path_query.starts_with('/') {
        out.push('/');
    }
    push_pct_normalized(&mut out, path_query);
    Ok(out)
}

pub(crate) fn split_host_port(hp: &str) -> Option<(&str, Option<u16>)> {
    if hp.is_empty() {
        return None;
    }
    if let Some(inner) = hp.strip_prefix('[') {
        let end = inner.find(']')?;
        let host = &hp[..end + 2];
        let after = &inner[end + 1..];
        return match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => Some((host, Some(p.parse().ok()?))),
            Some(_) => Some((host, None)),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match hp.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => {
            if p.is_empty() {
                Some((h, None))
            } else {
                Some((h, Some(p.parse().ok()?)))
            }
        }
        Some(_) => None,
        None => Some((hp, None)),
    }
}

/// Copies a path and query, decoding `%XX` of unreserved characters and upper-casing the hex
/// digits of the other escapes; everything else is copied in runs. Writes to a `String` or to
/// the matcher's stack buffer alike.
pub(crate) fn push_pct_normalized(out: &mut impl std::fmt::Write, s: &str) {
    let b = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hi = (b[i + 1] as char).to_digit(16);
            let lo = (b[i + 2] as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                // `%` is ASCII, so the run before it ends on a character boundary.
                let _ = out.write_str(&s[run..i]);
                let v = (hi * 16 + lo) as u8;
                if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                    let _ = out.write_char(v as char);
                } else {
                    let _ = out.write_char('%');
                    let _ = out.write_char(b[i + 1].to_ascii_uppercase() as char);
                    let _ = out.write_char(b[i + 2].to_ascii_uppercase() as char);
                }
                i += 3;
                run = i;
                continue;
            }
        }
        i += 1;
    }
    let _ = out.write_str(&s[run..]);
}

/// The host of a canonical URL (as `url` writes it), for matching against domains and
/// addresses.
pub fn url_host(canonical: &str) -> &str {
    let rest = canonical.split_once("://").map_or(canonical, |(_, r)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let hp = &rest[..end];
    if hp.starts_with('[') {
        return hp.find(']').map_or(hp, |e| &hp[..=e]);
    }
    hp.rsplit_once(':').map_or(hp, |(h, _)| h)
}

/// The SHA-1 thumbprint of a certificate given as PEM (the first `CERTIFICATE` block) or DER.
pub fn cert_thumbprint(data: &[u8]) -> Result<String, IntelError> {
    let der = if let Some(start) = find(data, b"-----BEGIN CERTIFICATE-----") {
        let body = &data[start + 27..];
        let end = find(body, b"-----END CERTIFICATE-----")
            .ok_or_else(|| IntelError::invalid("PEM certificate without its END line"))?;
        let b64: Vec<u8> = body[..end]
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| IntelError::invalid(format!("PEM certificate is not valid base64: {e}")))?
    } else {
        data.to_vec()
    };
    // A DER certificate is a SEQUENCE whose long-form length covers the whole input.
    if der.len() < 4 || der[0] != 0x30 {
        return Err(IntelError::invalid(
            "not a certificate (expected PEM or DER X.509)",
        ));
    }
    Ok(hex::encode(Sha1::digest(&der)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_lowercase_hex_of_the_right_length() {
        let h = "A".repeat(64);
        assert_eq!(
            normalize(IndicatorType::Sha256, &h).unwrap(),
            "a".repeat(64)
        );
        assert!(normalize(IndicatorType::Sha256, &"a".repeat(63)).is_err());
        assert!(normalize(IndicatorType::Md5, &"g".repeat(32)).is_err());
        let thumb = "AB:".repeat(19) + "AB";
        assert_eq!(
            normalize(IndicatorType::Cert, &thumb).unwrap(),
            "ab".repeat(20)
        );
    }

    #[test]
    fn addresses_and_networks() {
        assert_eq!(
            normalize(IndicatorType::Ip, "::ffff:10.1.2.3").unwrap(),
            "10.1.2.3"
        );
        assert_eq!(
            normalize(IndicatorType::Ip, "10.1.2.3/32").unwrap(),
            "10.1.2.3"
        );
        assert!(normalize(IndicatorType::Ip, "10.1.2.0/24").is_err());
        assert!(normalize(IndicatorType::Ip, "10.1.2").is_err());
        assert_eq!(
            normalize(IndicatorType::Cidr, "10.1.2.3/8").unwrap(),
            "10.0.0.0/8"
        );
        assert_eq!(
            normalize(IndicatorType::Cidr, "2001:DB8::1/32").unwrap(),
            "2001:db8::/32"
        );
        assert_eq!(
            normalize(IndicatorType::Cidr, "0.0.0.0/0").unwrap(),
            "0.0.0.0/0"
        );
        assert!(normalize(IndicatorType::Cidr, "10.0.0.0/33").is_err());
    }

    #[test]
    fn domains() {
        assert_eq!(
            normalize(IndicatorType::Domain, "*.Evil.COM.").unwrap(),
            "evil.com"
        );
        assert!(normalize(IndicatorType::Domain, "ev il.com").is_err());
        assert!(normalize(IndicatorType::Domain, "a..b").is_err());
        assert!(normalize(IndicatorType::Domain, "1.2.3.4").is_err());
        assert!(normalize(IndicatorType::Domain, "bücher.de").is_err());
        assert!(normalize(IndicatorType::Domain, &format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn urls() {
        let n = |s| normalize(IndicatorType::Url, s).unwrap();
        assert_eq!(
            n("HTTP://Evil.COM:80/a%7eb%2fc#frag"),
            "http://evil.com/a~b%2Fc"
        );
        assert_eq!(n("evil.com"), "http://evil.com/");
        assert_eq!(
            n("https://user:pw@evil.com:8443?q=1"),
            "https://evil.com:8443/?q=1"
        );
        assert_eq!(
            n("http://[2001:DB8::1]:8080/x"),
            "http://[2001:db8::1]:8080/x"
        );
        assert_eq!(url_host(&n("http://[2001:DB8::1]:8080/x")), "[2001:db8::1]");
        assert_eq!(url_host(&n("https://a.evil.com:8443/x")), "a.evil.com");
        assert!(normalize(IndicatorType::Url, "http://ev il.com/").is_err());
        assert!(normalize(IndicatorType::Url, "http://:80/").is_err());
        assert!(normalize(IndicatorType::Url, "http://evil.com:99999/").is_err());
    }

    #[test]
    fn certificate_thumbprint_from_der_and_pem() {
        let der = [0x30u8, 0x03, 0x02, 0x01, 0x00];
        let t = cert_thumbprint(&der).unwrap();
        assert_eq!(t, hex::encode(Sha1::digest(der)));
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        );
        assert_eq!(cert_thumbprint(pem.as_bytes()).unwrap(), t);
        assert!(cert_thumbprint(b"hello").is_err());
    }
}
