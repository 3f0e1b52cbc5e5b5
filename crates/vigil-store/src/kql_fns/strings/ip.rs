//! IPv4 and IPv6: `ipv4_is_private`, `ipv4_is_in_range`, `ipv4_is_match`, `ipv4_compare`,
//! `parse_ipv4` and `ipv6_is_match`. Addresses may carry a `/prefix`; an invalid address or
//! prefix gives null.

use std::cmp::Ordering;
use std::net::Ipv6Addr;

use arrow::datatypes::DataType;

use super::build;
use super::{Call, IntArg, KqlUdf, Sig, Ty};

const S: Ty = Ty::Str;
const I: Ty = Ty::Int;

pub(super) fn functions(out: &mut Vec<KqlUdf>) {
    out.push(KqlUdf::new(
        "kql_ipv4_is_private",
        Sig::fixed(&[S]),
        DataType::Boolean,
        Box::new(|c: &Call| {
            let s = c.str(0);
            Ok(build::opt_bools(c.len, |i| {
                parse_v4(s.get(i)).map(|(a, p)| is_private(a, p.unwrap_or(32)))
            }))
        }),
    ));
    out.push(KqlUdf::new(
        "kql_ipv4_is_in_range",
        Sig::fixed(&[S, S]),
        DataType::Boolean,
        Box::new(|c: &Call| {
            let (ip, range) = (c.str(0), c.str(1));
            Ok(build::opt_bools(c.len, |i| {
                let (a, _) = parse_v4(ip.get(i))?;
                let (net, p) = parse_v4(range.get(i))?;
                let m = mask4(p.unwrap_or(32));
                Some(a & m == net & m)
            }))
        }),
    ));
    let cmp_sig = Sig::optional(&[S, S, I], 2);
    out.push(KqlUdf::new(
        "kql_ipv4_is_match",
        cmp_sig,
        DataType::Boolean,
        Box::new(|c: &Call| {
            let (a, b, p) = (c.str(0), c.str(1), prefix_arg(c));
            Ok(build::opt_bools(c.len, |i| {
                compare_v4(a.get(i), b.get(i), p(i)).map(|o| o == Ordering::Equal)
            }))
        }),
    ));
    out.push(KqlUdf::new(
        "kql_ipv4_compare",
        cmp_sig,
        DataType::Int64,
        Box::new(|c: &Call| {
            let (a, b, p) = (c.str(0), c.str(1), prefix_arg(c));
            Ok(build::longs(c.len, |i| {
                compare_v4(a.get(i), b.get(i), p(i)).map(|o| o as i64)
            }))
        }),
    ));
    out.push(KqlUdf::new(
        "kql_parse_ipv4",
        Sig::fixed(&[S]),
        DataType::Int64,
        Box::new(|c: &Call| {
            let s = c.str(0);
            Ok(build::longs(c.len, |i| {
                parse_v4(s.get(i)).map(|(a, p)| (a & mask4(p.unwrap_or(32))) as i64)
            }))
        }),
    ));
    out.push(KqlUdf::new(
        "kql_ipv6_is_match",
        cmp_sig,
        DataType::Boolean,
        Box::new(|c: &Call| {
            let (a, b, p) = (c.str(0), c.str(1), prefix_arg(c));
            Ok(build::opt_bools(c.len, |i| {
                let (x, px) = parse_v6(a.get(i))?;
                let (y, py) = parse_v6(b.get(i))?;
                let given = match p(i) {
                    Given::Absent => 128,
                    Given::Valid(v) if v <= 128 => v as u32,
                    _ => return None,
                };
                let m = mask6(px.min(py).min(given));
                Some(x & m == y & m)
            }))
        }),
    ));
}

/// The optional prefix argument of a comparison.
#[derive(Clone, Copy)]
enum Given {
    Absent,
    Valid(u8),
    Invalid,
}

fn prefix_arg(c: &Call) -> impl Fn(usize) -> Given + '_ {
    let given = c.count() > 2;
    let p: IntArg = c.int(2);
    move |i| {
        if !given {
            return Given::Absent;
        }
        match p.get(i).and_then(|v| u8::try_from(v).ok()) {
            Some(v) => Given::Valid(v),
            None => Given::Invalid,
        }
    }
}

/// An IPv4 address and its `/prefix` (0-32), if any.
fn parse_v4(s: &str) -> Option<(u32, Option<u8>)> {
    let s = s.trim();
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(parse_prefix(p, 32)?)),
        None => (s, None),
    };
    let mut out = 0u32;
    let mut parts = 0;
    for part in addr.split('.') {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u32 = part.parse().ok()?;
        if v > 255 {
            return None;
        }
        out = (out << 8) | v;
        parts += 1;
    }
    (parts == 4).then_some((out, prefix))
}

fn parse_prefix(p: &str, max: u8) -> Option<u8> {
    let p = p.trim();
    if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: u8 = p.parse().ok()?;
    (v <= max).then_some(v)
}

fn mask4(bits: u8) -> u32 {
    match bits {
        0 => 0,
        b if b >= 32 => u32::MAX,
        b => u32::MAX << (32 - b),
    }
}

fn mask6(bits: u32) -> u128 {
    match bits {
        0 => 0,
        b if b >= 128 => u128::MAX,
        b => u128::MAX << (128 - b),
    }
}

/// Whether the whole network `addr/prefix` lies in 10/8, 172.16/12 or 192.168/16.
fn is_private(addr: u32, prefix: u8) -> bool {
    const BLOCKS: [(u32, u8); 3] = [(0x0A00_0000, 8), (0xAC10_0000, 12), (0xC0A8_0000, 16)];
    BLOCKS
        .iter()
        .any(|&(net, bits)| prefix >= bits && addr & mask4(bits) == net)
}

/// `a` against `b` under the smallest of their prefixes and the given one.
fn compare_v4(a: &str, b: &str, given: Given) -> Option<Ordering> {
    let (x, px) = parse_v4(a)?;
    let (y, py) = parse_v4(b)?;
    let given = match given {
        Given::Absent => 32,
        Given::Valid(v) if v <= 32 => v,
        _ => return None,
    };
    let m = mask4(px.unwrap_or(32).min(py.unwrap_or(32)).min(given));
    Some((x & m).cmp(&(y & m)))
}

/// An IPv6 (or IPv4, as IPv4-mapped) address and its prefix (128 when absent).
fn parse_v6(s: &str) -> Option<(u128, u32)> {
    let s = s.trim();
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    if let Ok(a) = addr.parse::<Ipv6Addr>() {
        let p = match prefix {
            Some(p) => parse_prefix(p, 128)? as u32,
            None => 128,
        };
        return Some((u128::from(a), p));
    }
    let (v4, _) = parse_v4(addr)?;
    let p = match prefix {
        Some(p) => parse_prefix(p, 32)? as u32 + 96,
        None => 128,
    };
    Some((u128::from(std::net::Ipv4Addr::from(v4).to_ipv6_mapped()), p))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{b, i, A};
    use A::*;

    #[test]
    fn private_ranges() {
        let p = |ip| b("kql_ipv4_is_private", &[S(ip)]);
        assert_eq!(p("10.1.2.3"), Some(true));
        assert_eq!(p("172.16.0.1"), Some(true));
        assert_eq!(p("172.31.255.255"), Some(true));
        assert_eq!(p("172.32.0.1"), Some(false));
        assert_eq!(p("192.168.1.1/24"), Some(true));
        assert_eq!(p("192.168.1.1/8"), Some(false));
        assert_eq!(p("8.8.8.8"), Some(false));
        assert_eq!(p("256.1.1.1"), None);
        assert_eq!(p("1.2.3"), None);
        assert_eq!(p("1.2.3.4/33"), None);
        assert_eq!(p(""), None);
    }

    #[test]
    fn ranges_matches_and_comparisons() {
        let r = |ip, range| b("kql_ipv4_is_in_range", &[S(ip), S(range)]);
        assert_eq!(r("192.168.1.7", "192.168.1.0/24"), Some(true));
        assert_eq!(r("192.168.2.7", "192.168.1.0/24"), Some(false));
        assert_eq!(r("192.168.1.7", "192.168.1.7"), Some(true));
        assert_eq!(r("192.168.1.7", "0.0.0.0/0"), Some(true));
        assert_eq!(r("x", "192.168.1.0/24"), None);
        assert_eq!(
            b("kql_ipv4_is_match", &[S("192.168.1.1"), S("192.168.1.255")]),
            Some(false)
        );
        assert_eq!(
            b(
                "kql_ipv4_is_match",
                &[S("192.168.1.1/24"), S("192.168.1.255")]
            ),
            Some(true)
        );
        assert_eq!(
            b(
                "kql_ipv4_is_match",
                &[S("192.168.1.1"), S("192.168.1.255"), I(24)]
            ),
            Some(true)
        );
        assert_eq!(
            b(
                "kql_ipv4_is_match",
                &[S("192.168.1.1"), S("192.168.1.255"), I(40)]
            ),
            None
        );
        let c = |x, y| i("kql_ipv4_compare", &[S(x), S(y)]);
        assert_eq!(c("127.0.0.1", "127.0.0.1"), Some(0));
        assert_eq!(c("192.168.1.1", "192.168.1.255"), Some(-1));
        assert_eq!(c("192.168.1.255", "192.168.1.1"), Some(1));
        assert_eq!(c("192.168.1.1/24", "192.168.1.255/24"), Some(0));
        assert_eq!(
            i("kql_ipv4_compare", &[S("10.0.0.1"), S("10.0.0.9"), I(24)]),
            Some(0)
        );
        assert_eq!(i("kql_parse_ipv4", &[S("127.0.0.1")]), Some(2130706433));
        assert_eq!(
            i("kql_parse_ipv4", &[S("192.1.168.2/16")]),
            Some(3221291008)
        );
        assert_eq!(i("kql_parse_ipv4", &[S("1.2.3.x")]), None);
    }

    #[test]
    fn ipv6_match() {
        let m = |x, y| b("kql_ipv6_is_match", &[S(x), S(y)]);
        assert_eq!(m("::ffff:7f00:1", "127.0.0.1"), Some(true));
        assert_eq!(
            m("fe80::85d:e82c:9446:7994", "fe80::85d:e82c:9446:7995"),
            Some(false)
        );
        assert_eq!(
            m("fe80::85d:e82c:9446:7994/120", "fe80::85d:e82c:9446:7995"),
            Some(true)
        );
        assert_eq!(
            b("kql_ipv6_is_match", &[S("fe80::1"), S("fe80::2"), I(64)]),
            Some(true)
        );
        assert_eq!(m("nope", "::1"), None);
    }
}
