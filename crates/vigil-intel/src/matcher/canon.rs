//! URL canonicalisation without allocating.
//!
//! [`canonical_as_is`] recognises, in one pass, a URL that is canonical as it stands (what
//! telemetry mostly holds), which is then hashed in place. Otherwise [`canonical_url`] writes
//! into a stack buffer exactly what [`crate::normalize::url`] returns, step for step; it only
//! refuses what that function refuses. A URL whose canonical form does not fit in [`Buf`] is
//! reported as such, and the caller falls back to the allocating function.
//!
//! **Invariant:** both agree with `normalize::url` (randomized tests in `tests.rs` hold them
//! to it): what `canonical_as_is` accepts, `normalize::url` returns unchanged.

use std::fmt::{self, Write};
use std::net::IpAddr;
use std::ops::Range;

use crate::normalize;

/// Longest canonical URL canonicalised on the stack (zeroing the buffer is part of every URL
/// lookup, so it is kept small).
pub(super) const URL_BUF: usize = 1024;

/// A fixed buffer of text; writing past its end sets `overflow` and drops the rest. After a
/// URL is written, `host` is where its host is and `addr` the host's address, if it is one.
pub(super) struct Buf {
    bytes: [u8; URL_BUF],
    len: usize,
    overflow: bool,
    pub(super) host: Range<usize>,
    pub(super) addr: Option<IpAddr>,
}

impl Buf {
    #[inline]
    pub(super) fn new() -> Buf {
        Buf {
            bytes: [0; URL_BUF],
            len: 0,
            overflow: false,
            host: 0..0,
            addr: None,
        }
    }

    #[inline]
    fn put(&mut self, s: &[u8]) {
        let end = self.len + s.len();
        if end > URL_BUF {
            self.overflow = true;
            return;
        }
        self.bytes[self.len..end].copy_from_slice(s);
        self.len = end;
    }

    fn put_lower(&mut self, s: &[u8]) {
        let start = self.len;
        self.put(s);
        if !self.overflow {
            self.bytes[start..self.len].make_ascii_lowercase();
        }
    }

    /// The text written so far (UTF-8: only whole UTF-8 pieces are ever written).
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The host of the URL written.
    pub(super) fn host(&self) -> &[u8] {
        &self.bytes[self.host.clone()]
    }
}

impl Write for Buf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes());
        Ok(())
    }
}

/// What became of a URL.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Canon {
    /// The canonical text is in the buffer.
    Done,
    /// Not a URL (`normalize::url` refuses it).
    Invalid,
    /// A URL, but its canonical text is longer than the buffer.
    TooLong,
}

/// The range of the host when `raw` is already canonical in the plainest way (what telemetry
/// mostly holds: lowercase scheme and host name, `://`, no user info, a port only when not the
/// default, a path starting with `/` without `%`, `#`, white space or control characters);
/// None when it may not be, and the full canonicaliser must decide. One pass, no copy.
pub(super) fn canonical_as_is(raw: &[u8]) -> Option<Range<usize>> {
    let scheme_len = raw
        .iter()
        .position(|&b| !matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'+' | b'-' | b'.'))?;
    if scheme_len == 0 || !raw[scheme_len..].starts_with(b"://") {
        return None;
    }
    let host_start = scheme_len + 3;
    let host_len = raw[host_start..]
        .iter()
        .take_while(|&&b| NAME_BYTE[usize::from(b)])
        .count();
    let host = &raw[host_start..host_start + host_len];
    // Empty, too long, a trailing dot, or ending with a digit (an address, maybe).
    match host.last() {
        Some(b) if host.len() <= 253 && *b != b'.' && !b.is_ascii_digit() => {}
        _ => return None,
    }
    // Labels of 1 to 63 bytes.
    let mut label_start = 0;
    for (k, &b) in host.iter().enumerate() {
        if b == b'.' {
            if k == label_start || k - label_start > 63 {
                return None;
            }
            label_start = k + 1;
        }
    }
    if host.len() - label_start > 63 {
        return None;
    }
    let mut i = host_start + host_len;
    let host = host_start..i;
    if raw.get(i) == Some(&b':') {
        i += 1;
        let digits = raw[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 5 || raw[i] == b'0' {
            return None;
        }
        let port: u32 = raw[i..i + digits]
            .iter()
            .fold(0, |p, &d| p * 10 + u32::from(d - b'0'));
        let default = match &raw[..scheme_len] {
            b"http" | b"ws" => 80,
            b"https" | b"wss" => 443,
            b"ftp" => 21,
            _ => 0,
        };
        if port > 65535 || port == default {
            return None;
        }
        i += digits;
    }
    if raw.get(i) != Some(&b'/') {
        return None;
    }
    let plain = raw[i..].iter().fold(true, |ok, &b| {
        ok & (b > b' ' && b != 0x7f && b != b'%' && b != b'#')
    });
    plain.then_some(host)
}

/// The bytes of a canonical host name: lowercase letters, digits, `-`, `_` and dots.
static NAME_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_' || c == b'.';
        b += 1;
    }
    t
};

/// Writes the canonical form of `raw` into `out` (which must be empty).
pub(super) fn canonical_url(raw: &str, out: &mut Buf) -> Canon {
    match write_url(raw, out) {
        None => Canon::Invalid,
        Some(()) if out.overflow => Canon::TooLong,
        Some(()) => Canon::Done,
    }
}

fn write_url(raw: &str, out: &mut Buf) -> Option<()> {
    // White space (space, \t, \n, \x0c, \r) and control characters; no early exit, so that
    // the loop vectorises.
    let bad = raw
        .bytes()
        .fold(false, |bad, b| bad | (b <= b' ' || b == 0x7f));
    if bad {
        return None;
    }
    let (scheme, rest) = match find_scheme_end(raw.as_bytes()) {
        Some(i) => (&raw[..i], &raw[i + 3..]),
        None => ("http", raw),
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let rest = &rest[..position(rest, |b| b == b'#').unwrap_or(rest.len())];
    let auth_end = position(rest, |b| b == b'/' || b == b'?').unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(auth_end);
    let hostport = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = normalize::split_host_port(hostport)?;

    out.put_lower(scheme.as_bytes());
    out.put(b"://");
    let host_start = out.len;
    out.addr = if may_be_addr(host) {
        normalize::parse_addr(host)
    } else {
        None
    };
    match out.addr {
        Some(IpAddr::V4(a)) => write!(out, "{a}").ok()?,
        Some(IpAddr::V6(a)) => write!(out, "[{a}]").ok()?,
        None => out.put_lower(host_name(host)?.as_bytes()),
    }
    out.host = host_start..out.len;
    let default_port = if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("ftp") {
        Some(21)
    } else {
        None
    };
    if let Some(p) = port {
        if Some(p) != default_port {
            write!(out, ":{p}").ok()?;
        }
    }
    if !path_query.starts_with('/') {
        out.put(b"/");
    }
    normalize::push_pct_normalized(out, path_query);
    Some(())
}

/// Whether `host` has the shape of an address (`[...]`, ending with a digit, or with a
/// colon), the only shapes the address parser accepts; it saves parsing names.
#[inline]
fn may_be_addr(host: &str) -> bool {
    host.starts_with('[') || host.ends_with(|c: char| c.is_ascii_digit()) || host.contains(':')
}

/// Where the first `://` starts (as `str::find("://")`, without its searcher's set-up cost).
fn find_scheme_end(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = b[from..].iter().position(|&c| c == b':') {
        let i = from + i;
        if b[i + 1..].starts_with(b"//") {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// The first byte of `s` that `pred` accepts (for ASCII delimiters).
#[inline]
fn position(s: &str, pred: impl Fn(u8) -> bool) -> Option<usize> {
    s.bytes().position(pred)
}

/// The host name as `normalize::domain` accepts it, not yet lowercased: trailing dots and a
/// leading `*.` dropped, ASCII, at most 253 bytes, not an address, labels of letters, digits,
/// `-` and `_`, each 1 to 63 bytes.
fn host_name(raw: &str) -> Option<&str> {
    let d = raw.trim_end_matches('.');
    let d = d.strip_prefix("*.").unwrap_or(d);
    if d.is_empty()
        || !d.is_ascii()
        || d.len() > 253
        || (may_be_addr(d) && d.parse::<IpAddr>().is_ok())
    {
        return None;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    d.split('.').all(label_ok).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(raw: &str) -> Option<String> {
        let mut buf = Buf::new();
        match canonical_url(raw, &mut buf) {
            Canon::Done => Some(String::from_utf8(buf.as_bytes().to_vec()).unwrap()),
            Canon::Invalid => None,
            Canon::TooLong => panic!("too long: {raw}"),
        }
    }

    #[test]
    fn same_text_as_normalize_url() {
        for raw in [
            "HTTP://Evil.COM:80/a%7eb%2fc#frag",
            "evil.com",
            "https://user:pw@evil.com:8443?q=1",
            "http://[2001:DB8::1]:8080/x",
            "http://[::ffff:1.2.3.4]/",
            "http://1.2.3.4.:80/",
            "ftp://*.Evil.com.:21/%4",
            "http://evil.com:+80/",
            "http://ev il.com/",
            "http://:80/",
            "http://evil.com:99999/",
            "://x",
            "h_t://x/",
            "http://a..b/",
            "http://[::1/",
            "http://[::1]x/",
            "wss://x.org:443/%e4%b8%ad%zz%",
            "http://bücher.de/",
            "http://x.org/bücher?%41%2F",
        ] {
            assert_eq!(canon(raw), normalize::url(raw).ok(), "{raw}");
        }
    }

    #[test]
    fn urls_taken_as_they_are_are_canonical() {
        for raw in [
            "https://www.example.com/abc/def.php?id=12345",
            "http://a-b_c.example.org:8080/",
            "ftp://x.y/%",
        ] {
            let host = canonical_as_is(raw.as_bytes());
            if raw.contains('%') {
                assert!(host.is_none());
                continue;
            }
            let host = host.unwrap_or_else(|| panic!("{raw}"));
            assert_eq!(normalize::url(raw).unwrap(), raw);
            assert_eq!(normalize::url_host(raw).as_bytes(), &raw.as_bytes()[host]);
        }
        for raw in [
            "HTTP://x.org/",
            "http://x.org",
            "http://x.org?q",
            "http://x.org:80/",
            "http://x.org:080/",
            "http://x.org:/",
            "http://x.org./",
            "http://1.2.3.4/",
            "http://u@x.org/",
            "http://x.org/#f",
            "http://X.org/",
            "x.org/",
            "http://a..b/",
            "http://.a/",
        ] {
            assert!(canonical_as_is(raw.as_bytes()).is_none(), "{raw}");
        }
        let label = |n| "a".repeat(n);
        let ok = format!("http://{}.org/", label(63));
        assert!(canonical_as_is(ok.as_bytes()).is_some());
        assert_eq!(normalize::url(&ok).unwrap(), ok);
        let long = format!("http://{}.org/", label(64));
        assert!(canonical_as_is(long.as_bytes()).is_none());
        let long = format!("http://x.{}/", label(64));
        assert!(canonical_as_is(long.as_bytes()).is_none());
        let name = vec![label(60); 5].join(".");
        assert!(canonical_as_is(format!("http://{name}/").as_bytes()).is_none());
    }

    #[test]
    fn long_urls_are_reported_not_cut() {
        let raw = format!("http://x.org/{}", "a".repeat(URL_BUF));
        let mut buf = Buf::new();
        assert_eq!(canonical_url(&raw, &mut buf), Canon::TooLong);
    }
}
