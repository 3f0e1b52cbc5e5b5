//! The matcher's tests: each lookup kind and rule on small hand-made sets, then a randomized
//! comparison with a linear-scan reference written from the rules in `matcher.rs`.

use std::cmp::Reverse;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::*;
use crate::Action;

fn ind(kind: IndicatorType, v: &str) -> Indicator {
    Indicator::new(kind, v).unwrap()
}

fn idx(hit: Option<Hit<'_>>) -> Option<u32> {
    hit.map(|h| h.index)
}

const SHA256: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const SHA1: &str = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";
const MD5: &str = "098f6bcd4621d373cade4e832627b4f6";

#[test]
fn file_hashes_by_length_in_any_case() {
    let set = IntelSet::new(vec![
        ind(IndicatorType::Sha256, SHA256),
        ind(IndicatorType::Sha1, SHA1),
        ind(IndicatorType::Md5, MD5),
    ]);
    assert_eq!(idx(set.file_hash(SHA256)), Some(0));
    assert_eq!(idx(set.file_hash(&SHA256.to_uppercase())), Some(0));
    assert_eq!(idx(set.file_hash(SHA1)), Some(1));
    assert_eq!(idx(set.file_hash(&MD5.to_uppercase())), Some(2));
    assert!(set.get(0).is_some() && set.get(3).is_none());
    // Other lengths, other values, bad digits early or late.
    assert!(set.file_hash(&SHA256[..63]).is_none());
    assert!(set.file_hash("").is_none());
    assert!(set.file_hash(&SHA256.replace('9', "8")).is_none());
    assert!(set.file_hash(&format!("{}g", &SHA256[..63])).is_none());
    assert!(set.file_hash(&format!("g{}", &SHA256[1..])).is_none());
    // A certificate thumbprint is not a file's SHA-1, and the other way round.
    assert!(set.cert(SHA1).is_none());
    let set = IntelSet::new(vec![ind(IndicatorType::Cert, SHA1)]);
    assert!(set.file_hash(SHA1).is_none());
    let colons: Vec<String> = SHA1
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect();
    assert_eq!(idx(set.cert(&colons.join(":"))), Some(0));
    assert_eq!(idx(set.cert(&colons.join(" "))), Some(0));
    assert_eq!(idx(set.cert(SHA1)), Some(0));
    assert!(set.cert(&SHA1[..38]).is_none());
    assert!(set.cert(&format!("{SHA1}00")).is_none());
}

#[test]
fn same_value_allow_wins_then_precedence_then_index() {
    let h = |a| ind(IndicatorType::Sha256, SHA256).with_action(a);
    let set = IntelSet::new(vec![h(Action::Audit), h(Action::Block), h(Action::Warn)]);
    assert_eq!(idx(set.file_hash(SHA256)), Some(1));
    let set = IntelSet::new(vec![
        h(Action::BlockAndRemediate),
        h(Action::Allow),
        h(Action::Block),
    ]);
    assert_eq!(idx(set.file_hash(SHA256)), Some(1));
    let set = IntelSet::new(vec![h(Action::Audit), h(Action::Block), h(Action::Block)]);
    assert_eq!(idx(set.file_hash(SHA256)), Some(1));
    let set = IntelSet::new(vec![h(Action::Allow), h(Action::Allow)]);
    assert_eq!(idx(set.file_hash(SHA256)), Some(0));

    // An `Ip` indicator and the /32 network are the same value.
    let set = IntelSet::new(vec![
        ind(IndicatorType::Cidr, "10.1.2.3/32").with_action(Action::Audit),
        ind(IndicatorType::Ip, "10.1.2.3").with_action(Action::Block),
    ]);
    assert_eq!(idx(set.ip_text("10.1.2.3")), Some(1));
    let set = IntelSet::new(vec![
        ind(IndicatorType::Domain, "evil.com").with_action(Action::Block),
        ind(IndicatorType::Domain, "EVIL.com.").with_action(Action::Allow),
    ]);
    assert_eq!(idx(set.domain("www.evil.com")), Some(1));
}

#[test]
fn the_most_specific_wins_whatever_the_action() {
    let set = IntelSet::new(vec![
        ind(IndicatorType::Cidr, "10.0.0.0/8").with_action(Action::Allow),
        ind(IndicatorType::Ip, "10.1.1.1").with_action(Action::Audit),
        ind(IndicatorType::Domain, "evil.com").with_action(Action::Allow),
        ind(IndicatorType::Domain, "a.evil.com").with_action(Action::Audit),
        ind(IndicatorType::Url, "http://evil.com/x").with_action(Action::Block),
    ]);
    assert_eq!(idx(set.ip_text("10.1.1.1")), Some(1));
    assert_eq!(idx(set.ip_text("10.1.1.2")), Some(0));
    assert_eq!(idx(set.domain("b.a.evil.com")), Some(3));
    assert_eq!(idx(set.domain("b.evil.com")), Some(2));
    assert_eq!(idx(set.url("http://evil.com/x")), Some(4));
    assert_eq!(idx(set.url("http://evil.com/y")), Some(2));
}

#[test]
fn nested_networks_and_the_gaps_between_them() {
    let set = IntelSet::new(vec![
        ind(IndicatorType::Cidr, "10.0.0.0/8"),
        ind(IndicatorType::Cidr, "10.20.0.0/16"),
        ind(IndicatorType::Cidr, "10.20.30.40/32"),
        ind(IndicatorType::Cidr, "192.168.0.0/24"),
        ind(IndicatorType::Cidr, "192.168.2.0/24"),
    ]);
    let at = |s: &str| idx(set.ip_text(s));
    assert_eq!(at("9.255.255.255"), None);
    assert_eq!(at("10.0.0.0"), Some(0));
    assert_eq!(at("10.19.255.255"), Some(0));
    assert_eq!(at("10.20.0.0"), Some(1));
    assert_eq!(at("10.20.30.39"), Some(1));
    assert_eq!(at("10.20.30.40"), Some(2));
    assert_eq!(at("10.20.30.41"), Some(1));
    assert_eq!(at("10.20.255.255"), Some(1));
    assert_eq!(at("10.21.0.0"), Some(0));
    assert_eq!(at("10.255.255.255"), Some(0));
    assert_eq!(at("11.0.0.0"), None);
    assert_eq!(at("192.168.0.255"), Some(3));
    assert_eq!(at("192.168.1.0"), None);
    assert_eq!(at("192.168.2.0"), Some(4));
    assert_eq!(at("192.168.3.0"), None);
    assert_eq!(at("not an address"), None);
    assert_eq!(at("10.20.30.40:80"), None);
}

#[test]
fn ipv6_and_mapped_addresses() {
    let set = IntelSet::new(vec![
        ind(IndicatorType::Ip, "::ffff:1.2.3.4"),
        ind(IndicatorType::Cidr, "2001:db8::/32"),
        ind(IndicatorType::Ip, "2001:db8::1"),
        ind(IndicatorType::Cidr, "::ffff:10.0.0.0/104"),
        ind(IndicatorType::Ip, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ]);
    let mapped = |a: Ipv4Addr| IpAddr::V6(a.to_ipv6_mapped());
    assert_eq!(idx(set.ip(Ipv4Addr::new(1, 2, 3, 4).into())), Some(0));
    assert_eq!(idx(set.ip(mapped(Ipv4Addr::new(1, 2, 3, 4)))), Some(0));
    assert_eq!(idx(set.ip_text("::FFFF:1.2.3.4")), Some(0));
    assert_eq!(idx(set.ip_text("[::ffff:1.2.3.4]")), Some(0));
    assert_eq!(idx(set.ip_text("10.9.8.7")), Some(3));
    assert_eq!(idx(set.ip(mapped(Ipv4Addr::new(10, 9, 8, 7)))), Some(3));
    assert_eq!(idx(set.ip_text("2001:db8::2")), Some(1));
    assert_eq!(idx(set.ip_text("[2001:DB8::1]")), Some(2));
    assert_eq!(idx(set.ip_text("2001:db9::1")), None);
    assert_eq!(idx(set.ip(Ipv6Addr::UNSPECIFIED.into())), None);
    assert_eq!(
        idx(set.ip_text("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
        Some(4)
    );
    assert_eq!(
        idx(set.ip_text("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")),
        None
    );
    // The compatible (not mapped) form is a different IPv6 address.
    assert_eq!(idx(set.ip_text("::1.2.3.4")), None);

    // `::/0` holds every address, mapped ones (so all of IPv4) included; IPv4 networks are
    // more specific than it.
    let set = IntelSet::new(vec![
        ind(IndicatorType::Cidr, "::/0"),
        ind(IndicatorType::Cidr, "0.0.0.0/0"),
    ]);
    assert_eq!(idx(set.ip_text("8.8.8.8")), Some(1));
    assert_eq!(idx(set.ip_text("2001::1")), Some(0));
    let set = IntelSet::new(vec![ind(IndicatorType::Cidr, "::/0")]);
    assert_eq!(idx(set.ip_text("8.8.8.8")), Some(0));
}

#[test]
fn domains_match_at_label_boundaries() {
    let set = IntelSet::new(vec![
        ind(IndicatorType::Domain, "evil.com"),
        ind(IndicatorType::Domain, "deep.sub.example.org"),
    ]);
    let at = |s: &str| idx(set.domain(s));
    assert_eq!(at("evil.com"), Some(0));
    assert_eq!(at("a.evil.com"), Some(0));
    assert_eq!(at("x.y.z.EVIL.Com."), Some(0));
    assert_eq!(at("evil.com.."), Some(0));
    assert_eq!(at("notevil.com"), None);
    assert_eq!(at("evil.com.au"), None);
    assert_eq!(at("evil.co"), None);
    assert_eq!(at("com"), None);
    assert_eq!(at("sub.example.org"), None);
    assert_eq!(at("a.deep.sub.example.org"), Some(1));
    assert_eq!(at(""), None);
    assert_eq!(at("."), None);
    // A subdomain longer than a label buffer would be, and a name with odd bytes.
    assert_eq!(at(&format!("{}.evil.com", "x".repeat(300))), Some(0));
    assert_eq!(at("bad name!.evil.com"), Some(0));
    // More labels than are probed at once.
    assert_eq!(at(&format!("{}evil.com", "l.".repeat(30))), Some(0));
    let deep = format!("{}evil.com", "l.".repeat(20));
    let set = IntelSet::new(vec![
        ind(IndicatorType::Domain, "evil.com"),
        ind(IndicatorType::Domain, &deep),
        ind(
            IndicatorType::Domain,
            &format!("{}evil.com", "l.".repeat(5)),
        ),
    ]);
    assert_eq!(idx(set.domain(&format!("x.l.{deep}"))), Some(1));
    assert_eq!(idx(set.domain(&deep[2..])), Some(2));
    assert_eq!(idx(set.domain("l.l.l.evil.com")), Some(0));
    // Addresses are not names.
    let set = IntelSet::new(vec![ind(IndicatorType::Domain, "3.4x")]);
    assert_eq!(idx(set.domain("1.2.3.4x")), Some(0));
    assert_eq!(idx(set.domain("1.2.3.4")), None);
}

#[test]
fn urls_match_exactly_then_by_host() {
    let set = IntelSet::new(vec![
        ind(IndicatorType::Url, "http://evil.com/payload?id=1"),
        ind(IndicatorType::Domain, "evil.com"),
        ind(IndicatorType::Ip, "192.0.2.7"),
        ind(IndicatorType::Ip, "2001:db8::7"),
        ind(IndicatorType::Url, "https://good.org/A~b"),
    ]);
    let at = |s: &str| idx(set.url(s));
    assert_eq!(at("http://evil.com/payload?id=1"), Some(0));
    assert_eq!(at("HTTP://user@EVIL.com:80/payload?id=1#top"), Some(0));
    assert_eq!(at("  evil.com/payload?id=1 "), Some(0));
    assert_eq!(at("http://evil.com/payload?id=2"), Some(1));
    assert_eq!(at("https://cdn.evil.com/"), Some(1));
    assert_eq!(at("http://192.0.2.7:8080/x"), Some(2));
    assert_eq!(at("http://[2001:DB8::7]/x"), Some(3));
    assert_eq!(at("http://[::ffff:192.0.2.7]/x"), Some(2));
    assert_eq!(at("https://good.org/A%7Eb"), Some(4));
    assert_eq!(at("https://good.org/a~b"), None);
    assert_eq!(at("http://good.org/A~b"), None);
    assert_eq!(at("http://ev il.com/"), None);
    assert_eq!(at("http://evil.com:99999/"), None);
    assert_eq!(at(""), None);
    // Longer than the stack buffer: canonicalised on the heap, same answer.
    let long = format!("http://evil.com/{}", "a".repeat(5000));
    assert_eq!(at(&long), Some(1));
    let set = IntelSet::new(vec![ind(IndicatorType::Url, &long)]);
    assert_eq!(
        idx(set.url(&long.replace("http://evil.com", "HTTP://Evil.COM:80"))),
        Some(0)
    );
}

#[test]
fn remote_dispatches_on_what_it_is_given() {
    let set = IntelSet::new(vec![
        ind(IndicatorType::Url, "http://evil.com/x"),
        ind(IndicatorType::Domain, "evil.com"),
        ind(IndicatorType::Ip, "192.0.2.7"),
        ind(IndicatorType::Ip, "2001:db8::7"),
    ]);
    let at = |s: &str| idx(set.remote(s));
    assert_eq!(at("http://evil.com/x"), Some(0));
    assert_eq!(at("evil.com/x"), Some(0));
    assert_eq!(at("evil.com"), Some(1));
    assert_eq!(at("WWW.Evil.com."), Some(1));
    assert_eq!(at("www.evil.com:443"), Some(1));
    assert_eq!(at("192.0.2.7"), Some(2));
    assert_eq!(at("192.0.2.7:80"), Some(2));
    assert_eq!(at("2001:db8::7"), Some(3));
    assert_eq!(at("[2001:db8::7]"), Some(3));
    assert_eq!(at("[2001:db8::7]:443"), Some(3));
    assert_eq!(at("good.org"), None);
    assert_eq!(at(""), None);
}

#[test]
fn a_set_is_shared_between_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let set = std::sync::Arc::new(IntelSet::new(vec![ind(IndicatorType::Md5, MD5)]));
    send_sync(&set);
    let other = std::sync::Arc::clone(&set);
    let found = std::thread::spawn(move || idx(other.file_hash(MD5)))
        .join()
        .unwrap();
    assert_eq!(found, Some(0));
}

#[test]
fn an_empty_set_matches_nothing() {
    for set in [IntelSet::default(), IntelSet::new(Vec::new())] {
        assert!(set.is_empty() && set.is_empty() && set.indicators().is_empty());
        assert_eq!(set.len(), 0);
        assert!(set.file_hash(SHA256).is_none());
        assert!(set.cert(SHA1).is_none());
        assert!(set.ip_text("1.2.3.4").is_none());
        assert!(set.ip_text("::1").is_none());
        assert!(set.domain("evil.com").is_none());
        assert!(set.url("http://evil.com/").is_none());
        assert!(set.remote("evil.com").is_none());
        assert!(set.get(0).is_none());
    }
}

#[test]
fn values_that_do_not_parse_never_match() {
    let mut bad = ind(IndicatorType::Sha256, SHA256);
    bad.value = format!("{}zz", &SHA256[..62]);
    let mut bad_ip = ind(IndicatorType::Ip, "1.2.3.4");
    bad_ip.value = "1.2.3.400".into();
    let set = IntelSet::new(vec![bad, bad_ip]);
    assert_eq!(set.len(), 2);
    assert!(set.file_hash(&set.indicators()[0].value.clone()).is_none());
    assert!(set.ip_text("1.2.3.4").is_none());
}

// ---- randomized comparison with a linear scan ----

/// The rules of `matcher.rs`, by brute force.
struct Reference<'a>(&'a [Indicator], Vec<Option<(u128, u8)>>);

impl Reference<'_> {
    fn new(inds: &[Indicator]) -> Reference<'_> {
        // Each address or network as (network, prefix length) with IPv4 in ::ffff:0:0/96.
        let nets = inds
            .iter()
            .map(|d| {
                if !matches!(d.kind, IndicatorType::Ip | IndicatorType::Cidr) {
                    return None;
                }
                Some(match normalize::cidr(&d.value).ok()? {
                    (IpAddr::V4(a), len) => (0xffff_0000_0000 | u128::from(u32::from(a)), len + 96),
                    (IpAddr::V6(a), len) => (u128::from(a), len),
                })
            })
            .collect();
        Reference(inds, nets)
    }

    /// The best of `(specificity, index)` candidates.
    fn best(&self, c: impl Iterator<Item = (usize, usize)>) -> Option<u32> {
        c.max_by_key(|&(spec, i)| (spec, self.0[i].action.precedence(), Reverse(i)))
            .map(|(_, i)| i as u32)
    }

    fn exact(&self, kind: IndicatorType, value: &str) -> Option<u32> {
        let c = self.0.iter().enumerate();
        self.best(
            c.filter(|(_, d)| d.kind == kind && d.value == value)
                .map(|(i, _)| (0, i)),
        )
    }

    fn file_hash(&self, hex: &str) -> Option<u32> {
        let kind = match hex.len() {
            64 => IndicatorType::Sha256,
            40 => IndicatorType::Sha1,
            32 => IndicatorType::Md5,
            _ => return None,
        };
        self.exact(kind, &hex.to_ascii_lowercase())
    }

    fn ip(&self, addr: IpAddr) -> Option<u32> {
        let a = match normalize::canonical_addr(addr) {
            IpAddr::V4(v4) => 0xffff_0000_0000u128 | u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        let c = self.1.iter().enumerate().filter_map(|(i, net)| {
            let (net, len) = (*net)?;
            (a & normalize::mask128(len) == net).then_some((usize::from(len), i))
        });
        self.best(c)
    }

    fn domain(&self, host: &str) -> Option<u32> {
        let h = host.trim_end_matches('.').to_ascii_lowercase();
        if h.is_empty() || normalize::parse_addr(&h).is_some() {
            return None;
        }
        let under =
            |v: &str| h == v || (h.ends_with(v) && h.as_bytes()[h.len() - v.len() - 1] == b'.');
        let c = self
            .0
            .iter()
            .enumerate()
            .filter(|(_, d)| d.kind == IndicatorType::Domain && under(&d.value));
        self.best(c.map(|(i, d)| (d.value.len(), i)))
    }

    fn url(&self, url: &str) -> Option<u32> {
        let c = normalize::url(url.trim_ascii()).ok()?;
        self.exact(IndicatorType::Url, &c).or_else(|| {
            let host = normalize::url_host(&c);
            match normalize::parse_addr(host) {
                Some(a) => self.ip(a),
                None => self.domain(host),
            }
        })
    }

    fn remote(&self, text: &str) -> Option<u32> {
        let t = text.trim_ascii();
        if t.contains("://") || t.contains(['/', '?', '#', '@']) {
            self.url(t)
        } else if let Some(a) = normalize::parse_addr(t) {
            self.ip(a)
        } else if t.contains(':') {
            self.url(t)
        } else {
            self.domain(t)
        }
    }
}

/// Values from small pools, so that indicators repeat, nest and collide with the probes.
struct Gen {
    rng: SmallRng,
    digests: Vec<String>,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut digests = Vec::new();
        for _ in 0..12 {
            let hex: String = (0..64)
                .map(|_| *b"0123456789abcdef".choose(&mut rng).unwrap() as char)
                .collect();
            digests.push(hex);
        }
        Gen { rng, digests }
    }

    fn case(&mut self, s: &str) -> String {
        s.chars()
            .map(|c| {
                if self.rng.random_bool(0.3) {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    }

    fn digest(&mut self, len: usize) -> String {
        let d = self.digests.choose(&mut self.rng).unwrap()[..len].to_string();
        self.case(&d)
    }

    fn v4(&mut self) -> Ipv4Addr {
        let r = &mut self.rng;
        Ipv4Addr::new(
            *[10u8, 10, 10, 192, 255, 0].choose(r).unwrap(),
            r.random_range(0..3),
            r.random_range(0..3),
            *[0u8, 1, 2, 3, 127, 128, 254, 255].choose(r).unwrap(),
        )
    }

    fn v6(&mut self) -> Ipv6Addr {
        let r = &mut self.rng;
        let hi: u128 = *[0x2001_0db8u128, 0x2001_0db9, 0xffff_ffff, 0]
            .choose(r)
            .unwrap();
        Ipv6Addr::from(
            (hi << 96) | u128::from(r.random_range(0u32..4)) << 64 | r.random_range(0..5),
        )
    }

    fn addr(&mut self) -> IpAddr {
        match self.rng.random_range(0..4) {
            0 => IpAddr::V6(self.v6()),
            1 => IpAddr::V6(self.v4().to_ipv6_mapped()),
            _ => IpAddr::V4(self.v4()),
        }
    }

    fn cidr(&mut self) -> String {
        if self.rng.random_bool(0.02) {
            return ["0.0.0.0/0", "::/0", "::ffff:10.0.0.0/100"]
                .choose(&mut self.rng)
                .unwrap()
                .to_string();
        }
        if self.rng.random_bool(0.7) {
            let len = *[4u8, 8, 16, 22, 24, 30, 31, 32]
                .choose(&mut self.rng)
                .unwrap();
            format!("{}/{len}", self.v4())
        } else {
            let len = *[16u8, 32, 64, 96, 120, 127, 128]
                .choose(&mut self.rng)
                .unwrap();
            format!("{}/{len}", self.v6())
        }
    }

    fn host(&mut self, min: usize) -> String {
        let n = self.rng.random_range(min..5);
        let labels: Vec<&str> = (0..n)
            .map(|_| {
                *["a", "b", "evil", "com", "x-y", "longlabel12"]
                    .choose(&mut self.rng)
                    .unwrap()
            })
            .collect();
        self.case(&labels.join("."))
    }

    fn url(&mut self) -> String {
        let scheme = *["http://", "https://", "HTTP://", ""]
            .choose(&mut self.rng)
            .unwrap();
        let host = match self.rng.random_range(0..8) {
            0 => self.v4().to_string(),
            1 => format!("[{}]", self.v6()),
            _ => self.host(1),
        };
        let port = *["", ":80", ":443", ":8080"].choose(&mut self.rng).unwrap();
        let path = *["", "/", "/a", "/A", "/a%7e", "/a%2f", "?q=1", "/a#f"]
            .choose(&mut self.rng)
            .unwrap();
        format!("{scheme}{host}{port}{path}")
    }

    fn indicator(&mut self) -> Indicator {
        let kind = *IndicatorType::ALL.choose(&mut self.rng).unwrap();
        let value = match kind {
            IndicatorType::Sha256 => self.digest(64),
            IndicatorType::Sha1 | IndicatorType::Cert => self.digest(40),
            IndicatorType::Md5 => self.digest(32),
            IndicatorType::Ip => self.addr().to_string(),
            IndicatorType::Cidr => self.cidr(),
            IndicatorType::Domain => self.host(1),
            IndicatorType::Url => self.url(),
        };
        let action = *[
            Action::Allow,
            Action::Audit,
            Action::Warn,
            Action::Block,
            Action::BlockAndRemediate,
        ]
        .choose(&mut self.rng)
        .unwrap();
        ind(kind, &value).with_action(action)
    }
}

#[test]
fn randomized_sets_agree_with_a_linear_scan() {
    // Hits per lookup kind, so that the comparison is known not to be all misses.
    let mut hits = [0usize; 6];
    let mut count = |k: usize, r: Option<u32>| hits[k] += usize::from(r.is_some());
    for round in 0..40u64 {
        let mut g = Gen::new(round);
        let n = g.rng.random_range(0..300);
        let inds: Vec<Indicator> = (0..n).map(|_| g.indicator()).collect();
        let set = IntelSet::new(inds.clone());
        let r = Reference::new(&inds);
        for _ in 0..1500 {
            let len = *[64usize, 40, 32, 31].choose(&mut g.rng).unwrap();
            let d = g.digest(len.max(32));
            let d = &d[..len];
            count(0, r.file_hash(d));
            assert_eq!(
                idx(set.file_hash(d)),
                r.file_hash(d),
                "round {round} hash {d}"
            );
            let cert_want = r
                .exact(IndicatorType::Cert, &d.to_ascii_lowercase())
                .filter(|_| len == 40);
            count(1, cert_want);
            assert_eq!(idx(set.cert(d)), cert_want, "round {round} cert {d}");

            let a = g.addr();
            count(2, r.ip(a));
            assert_eq!(idx(set.ip(a)), r.ip(a), "round {round} ip {a}");
            let h = g.host(0) + if g.rng.random_bool(0.1) { "." } else { "" };
            count(3, r.domain(&h));
            assert_eq!(
                idx(set.domain(&h)),
                r.domain(&h),
                "round {round} domain {h:?}"
            );
            let u = g.url();
            count(
                4,
                r.exact(
                    IndicatorType::Url,
                    &normalize::url(u.trim_ascii()).unwrap_or_default(),
                ),
            );
            assert_eq!(idx(set.url(&u)), r.url(&u), "round {round} url {u}");
            let remote = match g.rng.random_range(0..4) {
                0 => u,
                1 => h,
                2 => a.to_string(),
                _ => format!("{}:{}", g.host(1), 443),
            };
            count(5, r.remote(&remote));
            assert_eq!(
                idx(set.remote(&remote)),
                r.remote(&remote),
                "round {round} remote {remote}"
            );
        }
    }
    assert!(hits.iter().all(|&h| h > 200), "hits per kind: {hits:?}");
}

#[test]
fn urls_taken_as_they_are_are_canonical_on_random_text() {
    let mut rng = SmallRng::seed_from_u64(11);
    let schemes = [
        "http://", "https://", "ftp://", "ws://", "x+y://", "HTTP://", "", "http:/",
    ];
    let hosts = ["a", "b-c", "d_e", "ex", "1", "0", "Q", "", "*", "xn--p"];
    let tails = [
        "", "/", "/a", "/A?b=1", "?q", ":80/", ":443/", ":8080/", ":0/", ":08/", ":65536/", "/%41",
        "/é", "/#", "/ a", "@x/", ":", ".", "/x//y",
    ];
    let mut as_is = 0;
    for _ in 0..200_000 {
        let labels = rng.random_range(0..4);
        let host: Vec<&str> = (0..labels)
            .map(|_| *hosts.choose(&mut rng).unwrap())
            .collect();
        let raw = format!(
            "{}{}{}{}",
            schemes.choose(&mut rng).unwrap(),
            host.join("."),
            tails.choose(&mut rng).unwrap(),
            if rng.random_bool(0.3) {
                *tails.choose(&mut rng).unwrap()
            } else {
                ""
            },
        );
        if let Some(h) = canon::canonical_as_is(raw.as_bytes()) {
            as_is += 1;
            assert_eq!(normalize::url(&raw).as_deref(), Ok(raw.as_str()), "{raw:?}");
            assert_eq!(
                normalize::url_host(&raw).as_bytes(),
                &raw.as_bytes()[h],
                "{raw:?}"
            );
        }
    }
    assert!(as_is > 10_000, "{as_is}");
}

#[test]
fn canonical_urls_agree_with_normalize_on_random_text() {
    let mut rng = SmallRng::seed_from_u64(7);
    let pieces = [
        "http", "HTTPS", "://", ":", "/", "?", "#", "@", "[", "]", "%", "%7e", "%2F", "%4", "::1",
        "1.2.3.4", "ffff", ".", "*.", "a", "B", "evil", "com", "80", "443", "99999", "+8", " ",
        "é", "-", "_", "~",
    ];
    for _ in 0..100_000 {
        let n = rng.random_range(0..10);
        let raw: String = (0..n).map(|_| *pieces.choose(&mut rng).unwrap()).collect();
        let mut buf = Buf::new();
        let ours = match canon::canonical_url(&raw, &mut buf) {
            Canon::Done => Some(String::from_utf8(buf.as_bytes().to_vec()).unwrap()),
            Canon::Invalid => None,
            Canon::TooLong => unreachable!("short input"),
        };
        assert_eq!(ours, normalize::url(&raw).ok(), "{raw:?}");
    }
}

#[test]
fn the_ipv4_fast_path_parses_as_the_standard_library_does() {
    let mut rng = SmallRng::seed_from_u64(3);
    let pieces = [
        "0", "1", "9", "25", "255", "256", "00", "01", "099", "1234", ".", ".", "a", ":",
    ];
    for _ in 0..200_000 {
        let n = rng.random_range(1..9);
        let text: String = (0..n).map(|_| *pieces.choose(&mut rng).unwrap()).collect();
        let std = text.parse::<Ipv4Addr>().ok().map(u32::from);
        assert_eq!(parse_v4(text.as_bytes()), std, "{text:?}");
    }
    for a in [0u32, 1, 0x0a00_0001, 0xffff_ffff, 0x7f00_0001] {
        let text = Ipv4Addr::from(a).to_string();
        assert_eq!(parse_v4(text.as_bytes()), Some(a));
    }
}

#[test]
fn the_ipv6_fast_path_parses_as_the_standard_library_does() {
    let mut rng = SmallRng::seed_from_u64(5);
    let pieces = [
        "0", "1", "ab", "FFFF", "12345", "db8", "2001", ":", ":", "::", ":::", ".", "1.2.3.4", "g",
        "%1",
    ];
    let mut fast = 0;
    for _ in 0..300_000 {
        let n = rng.random_range(1..14);
        let text: String = (0..n).map(|_| *pieces.choose(&mut rng).unwrap()).collect();
        let std = text.parse::<Ipv6Addr>().ok().map(u128::from);
        if let Some(a) = parse_v6(text.as_bytes()) {
            fast += 1;
            assert_eq!(Some(a), std, "{text:?}");
        }
    }
    assert!(fast > 1000, "{fast}");
    for text in [
        "::",
        "::1",
        "1::",
        "2001:db8::ff00:42:8329",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7::",
    ] {
        let want = u128::from(text.parse::<Ipv6Addr>().unwrap());
        assert_eq!(parse_v6(text.as_bytes()), Some(want), "{text}");
    }
    for text in [
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        "1::2::3",
        ":1::",
        "1:",
        "12345::",
    ] {
        assert_eq!(parse_v6(text.as_bytes()), None, "{text}");
    }
}
