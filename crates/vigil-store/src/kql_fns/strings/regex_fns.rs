//! Regular expressions (Rust `regex` syntax, close to KQL's RE2): `matches regex`,
//! `extract`, `extract_all`, `replace_regex` and the `trim` family. A pattern is compiled
//! once per distinct value and kept in a small cache per function.

use arrow::datatypes::DataType;
use datafusion::common::Result;
use regex::Regex;
use serde_json::Value as Json;

use super::build;
use super::{Call, KqlUdf, RegexCache, RegexMemo, Sig, Ty};

const S: Ty = Ty::Str;
const I: Ty = Ty::Int;

pub(super) fn functions(out: &mut Vec<KqlUdf>) {
    out.push(with_cache(
        "kql_matches",
        Sig::fixed(&[S, S]),
        DataType::Boolean,
        |c, cache| {
            let (s, p) = (c.str(0), c.str(1));
            let mut memo = RegexMemo::new(cache, c.name);
            if let Some(pattern) = p.scalar() {
                let re = memo.get(pattern)?;
                return Ok(build::bools(c.len, |i| re.is_match(s.get(i))));
            }
            let mut out = Vec::with_capacity(c.len);
            for i in 0..c.len {
                out.push(memo.get(p.get(i))?.is_match(s.get(i)));
            }
            Ok(build::bools(c.len, |i| out[i]))
        },
    ));
    out.push(with_cache(
        "kql_extract",
        Sig::fixed(&[S, I, S]),
        DataType::Utf8,
        |c, cache| {
            let (p, g, s) = (c.str(0), c.int(1), c.str(2));
            let mut memo = RegexMemo::new(cache, c.name);
            build::strings(c.len, |i, out| {
                let re = memo.get(p.get(i))?;
                if let Some(g) = g.get(i).and_then(|g| usize::try_from(g).ok()) {
                    if let Some(m) = re.captures(s.get(i)).and_then(|caps| caps.get(g)) {
                        out.push_str(m.as_str());
                    }
                }
                Ok(true)
            })
        },
    ));
    out.push(with_cache(
        "kql_extract_all",
        Sig::fixed(&[S, S]),
        DataType::Utf8,
        |c, cache| {
            let (p, s) = (c.str(0), c.str(1));
            let mut memo = RegexMemo::new(cache, c.name);
            build::strings(c.len, |i, out| {
                let re = memo.get(p.get(i))?;
                Ok(match extract_all(&re, s.get(i)) {
                    Some(json) => {
                        out.push_str(&json);
                        true
                    }
                    None => false,
                })
            })
        },
    ));
    out.push(with_cache(
        "kql_replace_regex",
        Sig::fixed(&[S, S, S]),
        DataType::Utf8,
        |c, cache| {
            let (s, p, r) = (c.str(0), c.str(1), c.str(2));
            let mut memo = RegexMemo::new(cache, c.name);
            let mut last: Option<(&str, String)> = None;
            build::strings(c.len, |i, out| {
                let re = memo.get(p.get(i))?;
                let ri = r.get(i);
                if last.as_ref().is_none_or(|(l, _)| *l != ri) {
                    last = Some((ri, rewrite_template(ri)));
                }
                let template = last.as_ref().map(|(_, t)| t.as_str()).unwrap_or_default();
                out.push_str(&re.replace_all(s.get(i), template));
                Ok(true)
            })
        },
    ));
    for (name, start, end) in [
        ("kql_trim", true, true),
        ("kql_trim_start", true, false),
        ("kql_trim_end", false, true),
    ] {
        out.push(with_cache(
            name,
            Sig::fixed(&[S, S]),
            DataType::Utf8,
            move |c, cache| {
                let (p, s) = (c.str(0), c.str(1));
                let mut starts = RegexMemo::new(cache, c.name);
                let mut ends = RegexMemo::new(cache, c.name);
                build::strings(c.len, |i, out| {
                    let (pi, mut text) = (p.get(i), s.get(i));
                    if start {
                        let re = starts.get_derived(pi, |p| format!("^(?:{p})+"))?;
                        if let Some(m) = re.find(text) {
                            text = &text[m.end()..];
                        }
                    }
                    if end {
                        let re = ends.get_derived(pi, |p| format!("(?:{p})+$"))?;
                        if let Some(m) = re.find(text) {
                            text = &text[..m.start()];
                        }
                    }
                    out.push_str(text);
                    Ok(true)
                })
            },
        ));
    }
}

/// A function whose body gets the function's own regex cache.
fn with_cache(
    name: &'static str,
    sig: Sig,
    ret: DataType,
    body: impl Fn(&Call, &RegexCache) -> Result<arrow::array::ArrayRef> + Send + Sync + 'static,
) -> KqlUdf {
    let cache = RegexCache::default();
    KqlUdf::new(name, sig, ret, Box::new(move |c: &Call| body(c, &cache)))
}

/// KQL's `extract_all` of one string: a JSON array, or `None` when nothing matches.
fn extract_all(re: &Regex, s: &str) -> Option<String> {
    let groups = re.captures_len() - 1;
    let mut items = Vec::new();
    for caps in re.captures_iter(s) {
        let text = |g: usize| Json::from(caps.get(g).map(|m| m.as_str()).unwrap_or(""));
        items.push(match groups {
            0 => text(0),
            1 => text(1),
            n => Json::Array((1..=n).map(text).collect()),
        });
    }
    if items.is_empty() {
        None
    } else {
        Some(Json::Array(items).to_string())
    }
}

/// A KQL rewrite (`\1` … `\9` name groups) as a `regex` replacement template.
fn rewrite_template(rewrite: &str) -> String {
    let mut out = String::with_capacity(rewrite.len() + 8);
    let mut chars = rewrite.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(d) if d.is_ascii_digit() => {
                    out.push_str("${");
                    out.push(*d);
                    out.push('}');
                    chars.next();
                }
                _ => out.push('\\'),
            },
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{b, bs, err, s, A};
    use A::*;

    #[test]
    fn matches_searches_anywhere() {
        assert_eq!(b("kql_matches", &[S("abc123"), S("[0-9]+")]), Some(true));
        assert_eq!(b("kql_matches", &[S("abc"), S("^[0-9]+$")]), Some(false));
        assert_eq!(b("kql_matches", &[S("ABC"), S("(?i)abc")]), Some(true));
        let got = bs(
            "kql_matches",
            &[
                Ss(vec![Some("a1"), Some("b"), None]),
                Ss(vec![Some("\\d"), Some("b"), Some("^$")]),
            ],
        );
        assert_eq!(got, [Some(true), Some(true), Some(true)]);
    }

    #[test]
    fn a_bad_regex_is_an_error_naming_it() {
        let e = err("kql_matches", &[S("x"), S("a(b")]);
        assert!(e.contains("kql_matches: invalid regex 'a(b': "), "{e}");
        assert!(!e.contains('\n'), "{e}");
        // A pattern that only parses once wrapped is still rejected.
        let e = err("kql_trim", &[S("a)(b"), S("x")]);
        assert!(e.contains("kql_trim: invalid regex 'a)(b'"), "{e}");
    }

    #[test]
    fn extract_takes_a_group() {
        let ex = |p, g, t| s("kql_extract", &[S(p), I(g), S(t)]).unwrap();
        assert_eq!(ex("x=([0-9]+)", 1, "a x=42 b"), "42");
        assert_eq!(ex("x=([0-9]+)", 0, "a x=42 b"), "x=42");
        assert_eq!(ex("x=([0-9]+)", 2, "a x=42 b"), "");
        assert_eq!(ex("x=([0-9]+)", -1, "a x=42 b"), "");
        assert_eq!(ex("x=([0-9]+)", 1, "nothing"), "");
    }

    #[test]
    fn extract_all_shapes() {
        let ea = |p, t| s("kql_extract_all", &[S(p), S(t)]);
        assert_eq!(
            ea("[0-9]+", "a1 b22 c333").as_deref(),
            Some(r#"["1","22","333"]"#)
        );
        assert_eq!(
            ea("([a-z])[0-9]+", "a1 b22").as_deref(),
            Some(r#"["a","b"]"#)
        );
        assert_eq!(
            ea("([a-z])([0-9]+)", "a1 b22").as_deref(),
            Some(r#"[["a","1"],["b","22"]]"#)
        );
        assert_eq!(ea("(x)?y", "y").as_deref(), Some(r#"[""]"#));
        assert_eq!(ea("[0-9]", "none"), None);
    }

    #[test]
    fn replace_regex_rewrites_every_match() {
        let rr = |t, p, r| s("kql_replace_regex", &[S(t), S(p), S(r)]).unwrap();
        assert_eq!(rr("a1b22", "[0-9]+", "#"), "a#b#");
        assert_eq!(rr("key=value", "(\\w+)=(\\w+)", "\\2:\\1"), "value:key");
        assert_eq!(rr("abc", "b", "$1\\"), "a$1\\c");
        assert_eq!(rr("abc", "z", "y"), "abc");
    }

    #[test]
    fn trim_removes_repeated_matches_at_the_ends() {
        let t = |f, p, x| s(f, &[S(p), S(x)]).unwrap();
        assert_eq!(t("kql_trim", "[0-9]", "12abc34"), "abc");
        assert_eq!(t("kql_trim_start", "[0-9]", "12abc34"), "abc34");
        assert_eq!(t("kql_trim_end", "[0-9]", "12abc34"), "12abc");
        assert_eq!(t("kql_trim", "--", "---a---"), "-a-");
        assert_eq!(t("kql_trim", "\\s", "  a b  "), "a b");
        assert_eq!(t("kql_trim", "x", "xxx"), "");
        assert_eq!(t("kql_trim", "a|ab", "abab"), "b");
    }
}
