//! The indicator matcher: [`IntelSet`] answers, for one value seen in an event, the indicator
//! that wins for it, in well under a microsecond with a million indicators loaded and without
//! allocating.
//!
//! # Layout
//!
//! - File hashes (SHA-256, SHA-1, MD5) and certificate thumbprints: one [`table::FpTable`] per
//!   kind, keyed by a seeded hash of the digest's first 64 bits (read straight from the hex);
//!   a fingerprint match is confirmed against the indicator's text. About 11.5 bytes per value.
//! - Addresses and networks: [`ranges::Ranges`], sorted disjoint segments each naming its most
//!   specific prefix, per family behind a bitmap of the blocks any indicator touches (most
//!   addresses stop there) and a direct index from block to segments.
//! - Domains: a table keyed by the hash of the whole name, which also marks every proper
//!   suffix of a domain indicator as a parent. A lookup hashes the host's suffixes from the
//!   shortest (chained from the right, one label at a time) and stops at the first that is
//!   neither an indicator nor a parent; the longest indicator met wins.
//! - URLs: a table keyed by the hash of the canonical text. A probe that is canonical as it
//!   stands (the usual case) is hashed in place; others are canonicalised into a stack buffer
//!   by [`canon`], exactly as [`crate::normalize::url`] does.
//! - Address text: fast parsers for dotted-quad IPv4 and plain IPv6, the standard library's
//!   for the rest.
//!
//! # Which indicator wins
//!
//! Among indicators of the same value (same kind and canonical text; for addresses, the same
//! network, so an `Ip` indicator and the equal /32 `Cidr` are one value): `Allow`, then the
//! larger [`Action::precedence`](crate::Action::precedence), then the lower index. This is
//! settled when the set is built: each table holds one winner per value. Across
//! granularities the most specific wins, whatever the actions: an exact URL over its host, the
//! longest matching domain suffix, the longest matching prefix. IPv4-mapped IPv6 addresses are
//! their IPv4 address everywhere, so `::/0` also covers all of IPv4.
//!
//! **Invariants:** a lookup reads the set and nothing else (no allocation, except for URLs
//! whose canonical form exceeds 1 KiB); an indicator whose value does not parse as its kind
//! (impossible through [`Indicator::new`]) is kept in [`IntelSet::indicators`] but never
//! matches; device-group scoping and expiry are the caller's business.

mod canon;
mod ranges;
mod table;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::fmt;
use std::net::IpAddr;

use crate::normalize;
use crate::{Indicator, IndicatorType};
use canon::{Buf, Canon};
use ranges::{Prefix, Ranges, NONE};
use table::{FpTable, Seeds};

/// A winning indicator: its position in [`IntelSet::indicators`] and the indicator.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    pub index: u32,
    pub indicator: &'a Indicator,
}

/// The live indicators, indexed for lookups. Built once; share it behind an `Arc`.
pub struct IntelSet {
    indicators: Vec<Indicator>,
    seeds: Seeds,
    sha256: FpTable,
    sha1: FpTable,
    md5: FpTable,
    cert: FpTable,
    domains: FpTable,
    urls: FpTable,
    ranges: Ranges,
}

impl Default for IntelSet {
    fn default() -> IntelSet {
        IntelSet::new(Vec::new())
    }
}

impl fmt::Debug for IntelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntelSet")
            .field("indicators", &self.indicators.len())
            .field("index_bytes", &self.index_bytes())
            .finish_non_exhaustive()
    }
}

/// The payload of a domain-table entry that marks a proper suffix of some domain indicator.
const PARENT: u32 = u32::MAX - 1;

/// A table's entry before the table is built: hash, preference, indicator index.
type Entry = (u64, Reverse<u8>, u32);

impl IntelSet {
    /// Builds the set from live indicators (the caller drops expired ones). Values are
    /// normalised, as [`Indicator::new`] makes them.
    ///
    /// # Panics
    /// With `u32::MAX - 1` indicators or more (a [`Hit`] names its indicator by a `u32`).
    pub fn new(indicators: Vec<Indicator>) -> IntelSet {
        assert!(
            indicators.len() < PARENT as usize,
            "an intel set holds fewer than 2^32 - 2 indicators, not {}",
            indicators.len()
        );
        let seeds = Seeds::random();
        let mut digests: [Vec<Entry>; 4] = Default::default();
        let (mut domains, mut urls) = (Vec::new(), Vec::new());
        let mut prefixes = Vec::new();
        for (i, ind) in indicators.iter().enumerate() {
            let i = i as u32;
            let pref = Reverse(ind.action.precedence());
            let v = ind.value.as_bytes();
            let table = match ind.kind {
                IndicatorType::Sha256 => Some((0, 64)),
                IndicatorType::Sha1 => Some((1, 40)),
                IndicatorType::Md5 => Some((2, 32)),
                IndicatorType::Cert => Some((3, 40)),
                IndicatorType::Domain => {
                    domains.push((table::hash_domain(seeds.text, v), pref, i));
                    None
                }
                IndicatorType::Url => {
                    urls.push((table::hash_bytes::<false>(seeds.text, v), pref, i));
                    None
                }
                IndicatorType::Ip | IndicatorType::Cidr => {
                    if let Some((net, len)) = unified_prefix(ind) {
                        prefixes.push(Prefix {
                            net,
                            len,
                            precedence: pref.0,
                            index: i,
                        });
                    }
                    None
                }
            };
            if let Some((slot, len)) = table {
                let valid = v.len() == len && v.iter().all(u8::is_ascii_hexdigit);
                if let Some(prefix) = table::hex_prefix(v).filter(|_| valid) {
                    digests[slot].push((table::hash_digest(seeds.digest, prefix), pref, i));
                }
            }
        }
        let same_text = |a: u32, b: u32| {
            let (a, b) = (&indicators[a as usize].value, &indicators[b as usize].value);
            a.eq_ignore_ascii_case(b)
        };
        let same_url =
            |a: u32, b: u32| indicators[a as usize].value == indicators[b as usize].value;
        let [sha256, sha1, md5, cert] = digests.map(|d| FpTable::build(&winners(d, same_text)));
        // Domains, and a parent mark for every proper suffix of one.
        let mut domains = winners(domains, same_text);
        let mut parents: Vec<u64> = Vec::new();
        for &(_, i) in &domains {
            table::for_each_suffix(
                seeds.text,
                indicators[i as usize].value.as_bytes(),
                |h, start| {
                    if start > 0 {
                        parents.push(h);
                    }
                    true
                },
            );
        }
        parents.sort_unstable();
        parents.dedup();
        domains.extend(parents.into_iter().map(|h| (h, PARENT)));
        domains.sort_unstable();
        IntelSet {
            seeds,
            sha256,
            sha1,
            md5,
            cert,
            domains: FpTable::build(&domains),
            urls: FpTable::build(&winners(urls, same_url)),
            ranges: Ranges::build(prefixes),
            indicators,
        }
    }

    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    pub fn get(&self, index: u32) -> Option<&Indicator> {
        self.indicators.get(index as usize)
    }

    /// Bytes the index takes beyond the indicators themselves (tables and ranges).
    pub fn index_bytes(&self) -> usize {
        [
            &self.sha256,
            &self.sha1,
            &self.md5,
            &self.cert,
            &self.domains,
            &self.urls,
        ]
        .iter()
        .map(|t| t.bytes())
        .sum::<usize>()
            + self.ranges.bytes()
    }

    #[inline]
    fn hit(&self, index: u32) -> Hit<'_> {
        Hit {
            index,
            indicator: &self.indicators[index as usize],
        }
    }

    #[inline]
    fn value(&self, index: u32) -> &[u8] {
        self.indicators[index as usize].value.as_bytes()
    }

    /// SHA-256, SHA-1 or MD5 as hex in any case (the length says which); None for anything
    /// else.
    #[inline]
    pub fn file_hash(&self, hex: &str) -> Option<Hit<'_>> {
        let table = match hex.len() {
            64 => &self.sha256,
            40 => &self.sha1,
            32 => &self.md5,
            _ => return None,
        };
        self.digest(table, hex.as_bytes())
    }

    /// A certificate's SHA-1 thumbprint (hex, any case, colons or spaces allowed).
    pub fn cert(&self, thumbprint: &str) -> Option<Hit<'_>> {
        let mut buf = [0u8; 40];
        let mut n = 0;
        for &b in thumbprint.as_bytes() {
            if b == b':' || b == b' ' {
                continue;
            }
            *buf.get_mut(n)? = b;
            n += 1;
        }
        if n != 40 {
            return None;
        }
        self.digest(&self.cert, &buf)
    }

    #[inline]
    fn digest(&self, table: &FpTable, hex: &[u8]) -> Option<Hit<'_>> {
        let h = table::hash_digest(self.seeds.digest, table::hex_prefix(hex)?);
        // Only a valid hex text can equal the (valid) value: the digits past the first 16 need
        // no separate check.
        let i = table.find(h, |&i| self.value(i).eq_ignore_ascii_case(hex))?;
        Some(self.hit(i))
    }

    /// `Ip` and `Cidr` indicators: the most specific (longest prefix) wins. IPv4-mapped IPv6
    /// is IPv4.
    #[inline]
    pub fn ip(&self, addr: IpAddr) -> Option<Hit<'_>> {
        let i = match normalize::canonical_addr(addr) {
            IpAddr::V4(a) => self.ranges.v4(u32::from(a)),
            IpAddr::V6(a) => self.ranges.v6(u128::from(a)),
        };
        (i != NONE).then(|| self.hit(i))
    }

    /// The same from text (v4, v6, `[v6]`, mapped); None when it is not an address.
    pub fn ip_text(&self, text: &str) -> Option<Hit<'_>> {
        self.ip(parse_addr(text.trim_ascii())?)
    }

    /// Domain indicators cover the name and every subdomain: the longest matching suffix at a
    /// label boundary wins. Any case, trailing dots allowed; None for an address. The name is
    /// not checked further: a suffix matches when it equals an indicator's domain.
    pub fn domain(&self, host: &str) -> Option<Hit<'_>> {
        let host = trim_dots(host);
        let (first, last) = (*host.as_bytes().first()?, *host.as_bytes().last()?);
        // An IPv4 address ends with a digit; an IPv6 one has a colon.
        if (last.is_ascii_digit() || first == b'[' || host.contains(':'))
            && parse_addr(host).is_some()
        {
            return None;
        }
        self.find_domain(host.as_bytes()).map(|i| self.hit(i))
    }

    /// The longest suffix of `host` that is a domain indicator. The walk starts from the
    /// shortest suffix and stops at the first that is neither an indicator nor a parent of
    /// one (no longer suffix can match then), so a name that matches nothing costs one probe
    /// beyond its (cached) top-level domain.
    #[inline]
    fn find_domain(&self, host: &[u8]) -> Option<u32> {
        let mut best = None;
        table::for_each_suffix(self.seeds.text, host, |h, start| {
            let mut parent = false;
            for i in self.domains.candidates(h) {
                if i == PARENT {
                    // Maybe a false match of the fingerprint: it only costs one more probe.
                    parent = true;
                } else if self.value(i).eq_ignore_ascii_case(&host[start..]) {
                    best = Some(i);
                }
            }
            parent
        });
        best
    }

    /// A URL (canonicalised as [`normalize::url`] does): an exact Url indicator first, then its
    /// host as a domain or an address. None when it is not a URL.
    pub fn url(&self, url: &str) -> Option<Hit<'_>> {
        let raw = url.trim_ascii();
        if let Some(host) = canon::canonical_as_is(raw.as_bytes()) {
            return self.canonical_url(raw.as_bytes(), &raw.as_bytes()[host], None);
        }
        let mut buf = Buf::new();
        match canon::canonical_url(raw, &mut buf) {
            Canon::Done => self.canonical_url(buf.as_bytes(), buf.host(), buf.addr),
            Canon::Invalid => None,
            Canon::TooLong => {
                let canonical = normalize::url(raw).ok()?;
                let host = normalize::url_host(&canonical);
                let addr = normalize::parse_addr(host);
                self.canonical_url(canonical.as_bytes(), host.as_bytes(), addr)
            }
        }
    }

    /// `canonical`: the canonical URL; `host`: its host, lowercase, without trailing dots;
    /// `addr`: the host's address when it is one.
    #[inline]
    fn canonical_url(
        &self,
        canonical: &[u8],
        host: &[u8],
        addr: Option<IpAddr>,
    ) -> Option<Hit<'_>> {
        // The URL's slot is fetched while the host is looked up; the URL wins if it matches.
        let h = table::hash_bytes::<false>(self.seeds.text, canonical);
        self.urls.prefetch(h);
        let by_host = match addr {
            Some(addr) => self.ip(addr),
            None => self.find_domain(host).map(|i| self.hit(i)),
        };
        match self.urls.find(h, |&i| self.value(i) == canonical) {
            Some(i) => Some(self.hit(i)),
            None => by_host,
        }
    }

    /// What MDE's `RemoteUrl` column holds: a URL (with a scheme, or with a path, query,
    /// fragment, user info or port), an address (`[v6]` too), or a bare host name; each goes to
    /// its lookup.
    pub fn remote(&self, text: &str) -> Option<Hit<'_>> {
        let t = text.trim_ascii();
        // One pass, no early exit (so that it vectorises): URL delimiters, colons, and
        // whether anything but digits and dots appears.
        let (mut url, mut colon, mut other) = (false, false, false);
        for &b in t.as_bytes() {
            url |= matches!(b, b'/' | b'?' | b'#' | b'@');
            colon |= b == b':';
            other |= !(b.is_ascii_digit() || b == b'.');
        }
        if url {
            return self.url(t);
        }
        // Only digits and dots, colons or brackets can make an address.
        if !other || colon || t.starts_with('[') {
            if let Some(addr) = parse_addr(t) {
                return self.ip(addr);
            }
            if colon {
                return self.url(t);
            }
            return self.domain(t);
        }
        // A name with a letter and no colon is no address, with or without trailing dots.
        let host = trim_dots(t);
        self.find_domain(host.as_bytes()).map(|i| self.hit(i))
    }
}

/// `host` without trailing dots.
#[inline]
fn trim_dots(host: &str) -> &str {
    let b = host.as_bytes();
    let mut end = b.len();
    while end > 0 && b[end - 1] == b'.' {
        end -= 1;
    }
    &host[..end]
}

/// [`normalize::parse_addr`], with fast paths for the usual forms: dotted-quad IPv4 and IPv6
/// of hex groups (with or without `::`). They accept only what the standard parser accepts,
/// with the same value, and leave everything else (embedded IPv4, brackets) to it.
#[inline]
fn parse_addr(text: &str) -> Option<IpAddr> {
    let b = text.as_bytes();
    if let Some(a) = parse_v4(b) {
        return Some(IpAddr::V4(a.into()));
    }
    if let Some(a) = parse_v6(b) {
        return Some(normalize::canonical_addr(IpAddr::V6(a.into())));
    }
    normalize::parse_addr(text)
}

fn parse_v4(b: &[u8]) -> Option<u32> {
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let (mut addr, mut octet, mut digits, mut dots) = (0u32, 0u32, 0u32, 0u32);
    let mut leading_zero = false;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                if leading_zero {
                    return None;
                }
                leading_zero = digits == 0 && c == b'0';
                octet = octet * 10 + u32::from(c - b'0');
                digits += 1;
                if octet > 255 {
                    return None;
                }
            }
            b'.' if digits > 0 && dots < 3 => {
                addr = addr << 8 | octet;
                (octet, digits, leading_zero) = (0, 0, false);
                dots += 1;
            }
            _ => return None,
        }
    }
    (dots == 3 && digits > 0).then_some(addr << 8 | octet)
}

/// IPv6 as up to eight groups of 1 to 4 hex digits, with at most one `::` standing for one
/// or more zero groups; None for anything else.
fn parse_v6(b: &[u8]) -> Option<u128> {
    if b.len() < 2 || b.len() > 39 {
        return None;
    }
    // Groups before the gap, then after it.
    let (mut head, mut head_n) = (0u128, 0u32);
    let (mut tail, mut tail_n) = (0u128, 0u32);
    let mut gap = false;
    let mut i = 0;
    if b.starts_with(b"::") {
        gap = true;
        i = 2;
    } else if b[0] == b':' {
        return None;
    }
    while i < b.len() {
        let start = i;
        let mut group = 0u128;
        while i < b.len() && i - start < 4 {
            let Some(d) = table::hex_value(b[i]) else {
                break;
            };
            group = group << 4 | u128::from(d);
            i += 1;
        }
        if i == start {
            return None;
        }
        if gap {
            tail = tail << 16 | group;
            tail_n += 1;
        } else {
            head = head << 16 | group;
            head_n += 1;
        }
        if head_n + tail_n > 8 {
            return None;
        }
        if i == b.len() {
            break;
        }
        if b[i] != b':' {
            return None;
        }
        i += 1;
        if b.get(i) == Some(&b':') {
            if gap {
                return None;
            }
            gap = true;
            i += 1;
        } else if i == b.len() {
            return None;
        }
    }
    match gap {
        false if head_n == 8 => Some(head),
        true if head_n + tail_n <= 7 => {
            let head = if head_n == 0 {
                0
            } else {
                head << (16 * (8 - head_n))
            };
            Some(head | tail)
        }
        _ => None,
    }
}

/// An `Ip` or `Cidr` indicator as a prefix of the 128-bit space (IPv4 in `::ffff:0:0/96`).
fn unified_prefix(ind: &Indicator) -> Option<(u128, u8)> {
    let (addr, len) = match ind.kind {
        IndicatorType::Ip => {
            let a = normalize::ip(&ind.value).ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
        _ => normalize::cidr(&ind.value).ok()?,
    };
    Some(match addr {
        IpAddr::V4(a) => (0xffff_0000_0000 | u128::from(u32::from(a)), len + 96),
        IpAddr::V6(a) => (u128::from(a), len),
    })
}

/// The winner of each value, sorted by hash: entries sorted by hash, then preference; of
/// entries with the same hash and the same value (`same`), the first stays.
fn winners(mut entries: Vec<Entry>, same: impl Fn(u32, u32) -> bool) -> Vec<(u64, u32)> {
    entries.sort_unstable();
    let mut kept: Vec<(u64, u32)> = Vec::with_capacity(entries.len());
    let mut run = 0;
    for (h, _, i) in entries {
        if kept.last().is_none_or(|k| k.0 != h) {
            run = kept.len();
        } else if kept[run..].iter().any(|k| same(k.1, i)) {
            continue;
        }
        kept.push((h, i));
    }
    kept
}
