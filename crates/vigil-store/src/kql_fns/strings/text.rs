//! Text functions: `substring`, `split`, `indexof`, `countof`, `reverse`, `strrep`, base64 and
//! URL encodings, and hashes (`hash_sha256`, `hash_md5`, `hash_sha1`, `hash`).

use std::fmt::Write as _;

use arrow::datatypes::DataType;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use datafusion::common::exec_err;
use md5::Md5;
use serde_json::Value as Json;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::build;
use super::{Call, KqlUdf, RegexCache, RegexMemo, Sig, Ty};

const S: Ty = Ty::Str;
const I: Ty = Ty::Int;

/// The most times `strrep` repeats a string (KQL's limit).
const STRREP_MAX: i64 = 1024;

pub(super) fn functions(out: &mut Vec<KqlUdf>) {
    let one = Sig::fixed(&[S]);
    let map = |name: &'static str, f: fn(&str, &mut String) -> bool| {
        KqlUdf::new(
            name,
            one,
            DataType::Utf8,
            Box::new(move |c: &Call| {
                let s = c.str(0);
                build::strings(c.len, |i, out| Ok(f(s.get(i), out)))
            }),
        )
    };
    out.push(map("kql_reverse", |s, out| {
        out.extend(s.chars().rev());
        true
    }));
    out.push(map("kql_base64_encode", |s, out| {
        BASE64.encode_string(s, out);
        true
    }));
    out.push(map("kql_base64_decode", base64_decode));
    out.push(map("kql_url_encode", |s, out| {
        url_encode(s, out);
        true
    }));
    out.push(map("kql_url_decode", |s, out| match url_decode(s) {
        Some(d) => {
            out.push_str(&d);
            true
        }
        None => false,
    }));
    out.push(map("kql_hash_sha256", |s, out| {
        hex(&Sha256::digest(s.as_bytes()), out);
        true
    }));
    out.push(map("kql_hash_md5", |s, out| {
        hex(&Md5::digest(s.as_bytes()), out);
        true
    }));
    out.push(map("kql_hash_sha1", |s, out| {
        hex(&Sha1::digest(s.as_bytes()), out);
        true
    }));
    out.push(KqlUdf::new(
        "kql_hash",
        Sig::optional(&[S, I], 1),
        DataType::Int64,
        Box::new(|c: &Call| {
            let (s, m) = (c.str(0), c.int(1));
            let with_mod = c.count() > 1;
            Ok(build::longs(c.len, |i| {
                let h = xxh64(s.get(i).as_bytes(), 0);
                if !with_mod {
                    return Some(h as i64);
                }
                match m.get(i) {
                    Some(m) if m > 0 => Some((h % m as u64) as i64),
                    _ => None,
                }
            }))
        }),
    ));
    out.push(KqlUdf::new(
        "kql_substring",
        Sig::optional(&[S, I, I], 2),
        DataType::Utf8,
        Box::new(|c: &Call| {
            let (s, start, len) = (c.str(0), c.int(1), c.int(2));
            let with_len = c.count() > 2;
            build::strings(c.len, |i, out| {
                let Some(start) = start.get(i) else {
                    return Ok(true);
                };
                let len = if with_len { len.get(i) } else { Some(i64::MAX) };
                if let Some(len) = len {
                    out.push_str(substring(s.get(i), start, len));
                }
                Ok(true)
            })
        }),
    ));
    out.push(KqlUdf::new(
        "kql_split",
        Sig::optional(&[S, S, I], 2),
        DataType::Utf8,
        Box::new(|c: &Call| {
            let (s, d, idx) = (c.str(0), c.str(1), c.int(2));
            let with_index = c.count() > 2;
            build::strings(c.len, |i, out| {
                let (si, di) = (s.get(i), d.get(i));
                let parts: Vec<&str> = if di.is_empty() {
                    vec![si]
                } else {
                    si.split(di).collect()
                };
                let parts: Vec<&str> = if with_index {
                    let pick = idx
                        .get(i)
                        .and_then(|k| usize::try_from(k).ok())
                        .and_then(|k| parts.get(k).copied());
                    pick.into_iter().collect()
                } else {
                    parts
                };
                out.push_str(&Json::from(parts).to_string());
                Ok(true)
            })
        }),
    ));
    out.push(KqlUdf::new(
        "kql_indexof",
        Sig::fixed(&[S, S]),
        DataType::Int64,
        Box::new(|c: &Call| {
            let (s, n) = (c.str(0), c.str(1));
            Ok(build::longs(c.len, |i| {
                let si = s.get(i);
                Some(match si.find(n.get(i)) {
                    Some(pos) => char_count(&si[..pos]) as i64,
                    None => -1,
                })
            }))
        }),
    ));
    let cache = RegexCache::default();
    out.push(KqlUdf::new(
        "kql_countof",
        Sig::optional(&[S, S, S], 2),
        DataType::Int64,
        Box::new(move |c: &Call| {
            let (s, n, kind) = (c.str(0), c.str(1), c.str(2));
            let mut memo = RegexMemo::new(&cache, c.name);
            let mut out = Vec::with_capacity(c.len);
            for i in 0..c.len {
                let (si, ni) = (s.get(i), n.get(i));
                let count = match kind.get(i) {
                    "" | "normal" => count_overlapping(si, ni),
                    "regex" => memo.get(ni)?.find_iter(si).count(),
                    other => {
                        return exec_err!(
                            "{}: kind must be \"normal\" or \"regex\", got \"{other}\"",
                            c.name
                        )
                    }
                };
                out.push(count as i64);
            }
            Ok(build::longs(c.len, |i| Some(out[i])))
        }),
    ));
    out.push(KqlUdf::new(
        "kql_strrep",
        Sig::optional(&[S, I, S], 2),
        DataType::Utf8,
        Box::new(|c: &Call| {
            let (s, n, d) = (c.str(0), c.int(1), c.str(2));
            build::strings(c.len, |i, out| {
                let times = n.get(i).unwrap_or(0).min(STRREP_MAX);
                for k in 0..times {
                    if k > 0 {
                        out.push_str(d.get(i));
                    }
                    out.push_str(s.get(i));
                }
                Ok(true)
            })
        }),
    ));
}

/// Standard base64; decoding accepts missing padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn base64_decode(s: &str, out: &mut String) -> bool {
    match BASE64.decode(s.trim()) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => {
                out.push_str(&text);
                true
            }
            Err(_) => false,
        },
        Err(_) => false,
    }
}

/// The number of characters in `s`.
fn char_count(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// `len` characters of `s` from character `start` (clamped to the string; a negative start
/// reads as 0, a negative length as 0).
fn substring(s: &str, start: i64, len: i64) -> &str {
    let start = usize::try_from(start).unwrap_or(0);
    let len = usize::try_from(len).unwrap_or(0);
    if s.is_ascii() {
        let a = start.min(s.len());
        let b = a.saturating_add(len).min(s.len());
        return &s[a..b];
    }
    let byte_at = |n: usize| s.char_indices().nth(n).map_or(s.len(), |(b, _)| b);
    let a = byte_at(start);
    let b = a + s[a..]
        .char_indices()
        .nth(len)
        .map_or(s.len() - a, |(b, _)| b);
    &s[a..b]
}

/// Occurrences of `needle` in `s`, overlapping ones included (KQL's `countof` "normal").
fn count_overlapping(s: &str, needle: &str) -> usize {
    if needle.is_empty() {
        return 0;
    }
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let (hay, mut from, mut n) = (s.as_bytes(), 0, 0);
    while let Some(p) = finder.find(&hay[from..]) {
        n += 1;
        from += p + 1;
    }
    n
}

/// `s` URL-encoded as .NET's `HttpUtility.UrlEncode` (KQL's `url_encode`) does: unreserved
/// characters kept, space as `+`, other UTF-8 bytes as lowercase `%xx`.
fn url_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'*'
            | b'('
            | b')' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02x}");
            }
        }
    }
}

/// `s` URL-decoded (`%xx` escapes, `+` as space); `None` for a bad escape or non-UTF-8 bytes.
pub(super) fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = (*b.get(i + 1)? as char).to_digit(16)?;
                let lo = (*b.get(i + 2)? as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
}

/// XXH64 (xxHash, 64-bit) of `data`: the hash KQL's `hash()` uses, so values match it.
pub(super) fn xxh64(data: &[u8], seed: u64) -> u64 {
    const P1: u64 = 0x9E37_79B1_85EB_CA87;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const P3: u64 = 0x1656_67B1_9E37_79F9;
    const P4: u64 = 0x85EB_CA77_C2B2_AE63;
    const P5: u64 = 0x27D4_EB2F_1656_67C5;
    fn round(acc: u64, input: u64) -> u64 {
        acc.wrapping_add(input.wrapping_mul(P2))
            .rotate_left(31)
            .wrapping_mul(P1)
    }
    fn merge(acc: u64, v: u64) -> u64 {
        (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4)
    }
    let u64_at = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
    let u32_at = |b: &[u8]| u32::from_le_bytes(b[..4].try_into().unwrap_or([0; 4])) as u64;

    let mut rest = data;
    let mut h = if data.len() >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 32 {
            for (k, acc) in v.iter_mut().enumerate() {
                *acc = round(*acc, u64_at(&rest[k * 8..]));
            }
            rest = &rest[32..];
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for acc in v {
            h = merge(h, acc);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u64);
    while rest.len() >= 8 {
        h ^= round(0, u64_at(rest));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        h ^= u32_at(rest).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= (b as u64).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^= h >> 32;
    h
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, i, run, s, A};
    use super::xxh64;
    use arrow::array::AsArray;
    use A::*;

    #[test]
    fn substring_counts_characters_and_clamps() {
        let sub = |t, a, n: Option<i64>| {
            let mut args = vec![S(t), I(a)];
            args.extend(n.map(I));
            s("kql_substring", &args).unwrap()
        };
        assert_eq!(sub("123456", 1, None), "23456");
        assert_eq!(sub("123456", 2, Some(2)), "34");
        assert_eq!(sub("123456", 5, Some(10)), "6");
        assert_eq!(sub("123456", 9, Some(1)), "");
        assert_eq!(sub("123456", -3, Some(2)), "12");
        assert_eq!(sub("123456", 1, Some(-1)), "");
        assert_eq!(sub("añb€c", 1, Some(3)), "ñb€");
        assert_eq!(sub("añb€c", 3, None), "€c");
        assert_eq!(s("kql_substring", &[S("abc"), Null]).unwrap(), "");
        let a = run(
            "kql_substring",
            &[S("abcdef"), Is(vec![Some(0), Some(4), None]), I(2)],
        )
        .unwrap();
        let got: Vec<_> = a.as_string::<i32>().iter().collect();
        assert_eq!(got, [Some("ab"), Some("ef"), Some("")]);
    }

    #[test]
    fn split_gives_json_arrays() {
        let sp = |t, d| s("kql_split", &[S(t), S(d)]).unwrap();
        assert_eq!(sp("a_b_c", "_"), r#"["a","b","c"]"#);
        assert_eq!(sp("a__b", "_"), r#"["a","","b"]"#);
        assert_eq!(sp("abc", ","), r#"["abc"]"#);
        assert_eq!(sp("a\"b", ","), r#"["a\"b"]"#);
        let spi = |k| s("kql_split", &[S("a_b_c"), S("_"), I(k)]).unwrap();
        assert_eq!(spi(1), r#"["b"]"#);
        assert_eq!(spi(3), "[]");
        assert_eq!(spi(-1), "[]");
    }

    #[test]
    fn indexof_countof_reverse_strrep() {
        assert_eq!(i("kql_indexof", &[S("abcdefg"), S("cde")]), Some(2));
        assert_eq!(i("kql_indexof", &[S("ñbcde"), S("cde")]), Some(2));
        assert_eq!(i("kql_indexof", &[S("abc"), S("x")]), Some(-1));
        assert_eq!(i("kql_indexof", &[S("abc"), S("")]), Some(0));
        assert_eq!(i("kql_countof", &[S("aaa"), S("a")]), Some(3));
        assert_eq!(i("kql_countof", &[S("aaaa"), S("aa")]), Some(3));
        assert_eq!(i("kql_countof", &[S("ababa"), S("aba")]), Some(2));
        assert_eq!(
            i("kql_countof", &[S("ababa"), S("aba"), S("regex")]),
            Some(1)
        );
        assert_eq!(
            i(
                "kql_countof",
                &[S("abc1234abcd1234"), S("[0-9]+"), S("regex")]
            ),
            Some(2)
        );
        assert_eq!(i("kql_countof", &[S("abc"), S("")]), Some(0));
        let e = err("kql_countof", &[S("a"), S("a"), S("fuzzy")]);
        assert!(e.contains("kind must be"), "{e}");
        assert_eq!(s("kql_reverse", &[S("añb")]).unwrap(), "bña");
        assert_eq!(s("kql_strrep", &[S("ab"), I(3)]).unwrap(), "ababab");
        assert_eq!(
            s("kql_strrep", &[S("ab"), I(3), S(",")]).unwrap(),
            "ab,ab,ab"
        );
        assert_eq!(s("kql_strrep", &[S("ab"), I(0)]).unwrap(), "");
        assert_eq!(s("kql_strrep", &[S("a"), I(5000)]).unwrap().len(), 1024);
    }

    #[test]
    fn base64_round_trips_and_rejects_garbage() {
        assert_eq!(s("kql_base64_encode", &[S("Kusto1")]).unwrap(), "S3VzdG8x");
        assert_eq!(s("kql_base64_encode", &[S("é")]).unwrap(), "w6k=");
        assert_eq!(
            s("kql_base64_decode", &[S("S3VzdG8x")]).as_deref(),
            Some("Kusto1")
        );
        assert_eq!(s("kql_base64_decode", &[S("w6k")]).as_deref(), Some("é"));
        assert_eq!(s("kql_base64_decode", &[S("not base64!")]), None);
        // Valid base64 of bytes that are not UTF-8.
        assert_eq!(s("kql_base64_decode", &[S("/w==")]), None);
    }

    #[test]
    fn url_encoding() {
        assert_eq!(
            s("kql_url_encode", &[S("https://www.bing.com/")]).unwrap(),
            "https%3a%2f%2fwww.bing.com%2f"
        );
        assert_eq!(s("kql_url_encode", &[S("a b&é")]).unwrap(), "a+b%26%c3%a9");
        assert_eq!(
            s("kql_url_decode", &[S("https%3a%2F%2Fwww.bing.com%2f")]).as_deref(),
            Some("https://www.bing.com/")
        );
        assert_eq!(
            s("kql_url_decode", &[S("a+b%26%c3%a9")]).as_deref(),
            Some("a b&é")
        );
        assert_eq!(s("kql_url_decode", &[S("bad%zz")]), None);
        assert_eq!(s("kql_url_decode", &[S("cut%4")]), None);
        assert_eq!(s("kql_url_decode", &[S("%ff")]), None);
    }

    #[test]
    fn hashes() {
        assert_eq!(
            s("kql_hash_sha256", &[S("abc")]).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            s("kql_hash_md5", &[S("abc")]).unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            s("kql_hash_sha1", &[S("abc")]).unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        // XXH64 reference values.
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        assert_eq!(
            xxh64(b"Nobody inspects the spammish repetition", 0),
            0xFBCE_A83C_8A37_8BF1
        );
        // KQL's documented examples.
        assert_eq!(i("kql_hash", &[S("World")]), Some(1846988464401551951));
        assert_eq!(i("kql_hash", &[S("World"), I(100)]), Some(51));
        assert_eq!(i("kql_hash", &[S("World"), I(0)]), None);
    }
}
