//! Terms and case-insensitive comparison: `has` (and `_cs`, prefix and suffix forms),
//! `has_any`, `has_all`, `contains`, `startswith`, `endswith`, `=~` and `in~`.
//!
//! A term is a maximal run of alphanumeric characters (`char::is_alphanumeric`). `s has n` is
//! true when `n` occurs in `s` and, where `n` starts (ends) with an alphanumeric character, the
//! occurrence is not preceded (followed) by one. Case-insensitive forms compare the simple
//! lowercase of both sides ([`lower_char`]); ASCII rows take a byte-wise fast path.

use std::collections::HashSet;

use aho_corasick::{AhoCorasick, MatchKind};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use memchr::memmem::Finder;

use super::build;
use super::{Call, KqlUdf, Sig, StrArg, Ty};

const S: Ty = Ty::Str;

pub(super) fn functions(out: &mut Vec<KqlUdf>) {
    let two = Sig::fixed(&[S, S]);
    let has = |name: &'static str, edges: Edges, fold: bool| {
        KqlUdf::new(
            name,
            two,
            DataType::Boolean,
            Box::new(move |c: &Call| Ok(has_body(c, edges, fold))),
        )
    };
    out.push(has("kql_has", Edges::BOTH, true));
    out.push(has("kql_has_cs", Edges::BOTH, false));
    out.push(has("kql_hasprefix", Edges::START, true));
    out.push(has("kql_hasprefix_cs", Edges::START, false));
    out.push(has("kql_hassuffix", Edges::END, true));
    out.push(has("kql_hassuffix_cs", Edges::END, false));
    out.push(has("kql_contains", Edges::NONE, true));
    let any_all = Sig::variadic(&[S], S);
    out.push(KqlUdf::new(
        "kql_has_any",
        any_all,
        DataType::Boolean,
        Box::new(|c: &Call| has_any_all(c, false)),
    ));
    out.push(KqlUdf::new(
        "kql_has_all",
        any_all,
        DataType::Boolean,
        Box::new(|c: &Call| has_any_all(c, true)),
    ));
    out.push(KqlUdf::new(
        "kql_startswith",
        two,
        DataType::Boolean,
        Box::new(|c: &Call| Ok(affix_body(c, true))),
    ));
    out.push(KqlUdf::new(
        "kql_endswith",
        two,
        DataType::Boolean,
        Box::new(|c: &Call| Ok(affix_body(c, false))),
    ));
    out.push(KqlUdf::new(
        "kql_eq_ci",
        two,
        DataType::Boolean,
        Box::new(|c: &Call| {
            let (a, b) = (c.str(0), c.str(1));
            Ok(build::bools(c.len, |i| eq_ci(a.get(i), b.get(i))))
        }),
    ));
    out.push(KqlUdf::new(
        "kql_in_ci",
        any_all,
        DataType::Boolean,
        Box::new(|c: &Call| Ok(in_ci_body(c))),
    ));
    // The same with the list as a dynamic array (`has_any (toscalar(...))`).
    for (name, op) in [
        ("kql_has_any_list", ListOp::HasAny),
        ("kql_has_all_list", ListOp::HasAll),
        ("kql_in_ci_list", ListOp::InCi),
    ] {
        out.push(KqlUdf::new(
            name,
            two,
            DataType::Boolean,
            Box::new(move |c: &Call| list_body(c, op)),
        ));
    }
}

#[derive(Clone, Copy)]
enum ListOp {
    HasAny,
    HasAll,
    InCi,
}

/// The strings of a dynamic array (numbers and booleans as their text; a value that is not
/// an array is a list of itself).
fn json_strings(text: &str) -> Vec<String> {
    let one = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => items.iter().map(one).collect(),
        Ok(serde_json::Value::Null) | Err(_) if text.is_empty() => Vec::new(),
        Ok(v) => vec![one(&v)],
        Err(_) => vec![text.to_string()],
    }
}

fn list_body(c: &Call, op: ListOp) -> Result<arrow::array::ArrayRef> {
    let (s, list) = (c.str(0), c.str(1));
    let mut buf = Vec::new();
    let mut found = Vec::new();
    let decide = |hay: &str,
                  items: &[String],
                  buf: &mut Vec<u8>,
                  found: &mut Vec<bool>|
     -> Result<bool> {
        Ok(match op {
            ListOp::InCi => items.iter().any(|v| eq_ci(hay, v)),
            // KQL: has_any of nothing is false, has_all of nothing is true.
            ListOp::HasAny | ListOp::HasAll if items.is_empty() => matches!(op, ListOp::HasAll),
            ListOp::HasAny | ListOp::HasAll => {
                let refs: Vec<&str> = items.iter().map(String::as_str).collect();
                NeedleSet::new(c.name, &refs)?.eval(hay, matches!(op, ListOp::HasAll), buf, found)
            }
        })
    };
    if let Some(text) = list.scalar() {
        let items = json_strings(text);
        match op {
            ListOp::InCi => {
                let set: HashSet<Vec<u8>> = items.iter().map(|v| fold(v).into_bytes()).collect();
                return Ok(build::bools(c.len, |i| {
                    fold_into(s.get(i), &mut buf);
                    set.contains(buf.as_slice())
                }));
            }
            _ if items.is_empty() => {
                return Ok(build::bools(c.len, |_| matches!(op, ListOp::HasAll)));
            }
            _ => {
                let refs: Vec<&str> = items.iter().map(String::as_str).collect();
                let set = NeedleSet::new(c.name, &refs)?;
                let all = matches!(op, ListOp::HasAll);
                return Ok(build::bools(c.len, |i| {
                    set.eval(s.get(i), all, &mut buf, &mut found)
                }));
            }
        }
    }
    let mut out = Vec::with_capacity(c.len);
    for i in 0..c.len {
        out.push(decide(
            s.get(i),
            &json_strings(list.get(i)),
            &mut buf,
            &mut found,
        )?);
    }
    Ok(build::bools(c.len, |i| out[i]))
}

/// Whether `c` is part of a term.
#[inline]
pub(super) fn is_term_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// The simple lowercase of `c`: the first character of its full lowercase (which differs only
/// for U+0130, whose simple lowercase is `i`).
#[inline]
pub(super) fn lower_char(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// `s` lowercased into `buf` (cleared first); the result is valid UTF-8.
#[inline]
pub(super) fn fold_into(s: &str, buf: &mut Vec<u8>) {
    buf.clear();
    if s.is_ascii() {
        buf.extend(s.bytes().map(|b| b.to_ascii_lowercase()));
    } else {
        let mut tmp = [0u8; 4];
        for c in s.chars() {
            buf.extend_from_slice(lower_char(c).encode_utf8(&mut tmp).as_bytes());
        }
    }
}

/// `s` lowercased.
pub(super) fn fold(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.chars().map(lower_char).collect()
    }
}

/// The character that ends at byte `pos` of UTF-8 `b`.
#[inline]
fn char_before(b: &[u8], pos: usize) -> Option<char> {
    let last = *b.get(pos.checked_sub(1)?)?;
    if last < 0x80 {
        return Some(last as char);
    }
    let mut start = pos - 1;
    while start > 0 && pos - start < 4 && (b[start] & 0xC0) == 0x80 {
        start -= 1;
    }
    std::str::from_utf8(&b[start..pos])
        .ok()?
        .chars()
        .next_back()
}

/// The character that starts at byte `pos` of UTF-8 `b`.
#[inline]
fn char_after(b: &[u8], pos: usize) -> Option<char> {
    let first = *b.get(pos)?;
    if first < 0x80 {
        return Some(first as char);
    }
    let end = (pos + 4).min(b.len());
    match std::str::from_utf8(&b[pos..end]) {
        Ok(s) => s.chars().next(),
        Err(e) => std::str::from_utf8(&b[pos..pos + e.valid_up_to()])
            .ok()?
            .chars()
            .next(),
    }
}

/// Which ends of an occurrence must sit at a term boundary.
#[derive(Clone, Copy, Debug)]
pub(super) struct Edges {
    start: bool,
    end: bool,
}

impl Edges {
    pub const BOTH: Edges = Edges {
        start: true,
        end: true,
    };
    pub const START: Edges = Edges {
        start: true,
        end: false,
    };
    pub const END: Edges = Edges {
        start: false,
        end: true,
    };
    pub const NONE: Edges = Edges {
        start: false,
        end: false,
    };
}

/// A needle to look for, folded (when case-insensitive) and ready to search.
pub(super) struct TermNeedle {
    finder: Finder<'static>,
    len: usize,
    check_start: bool,
    check_end: bool,
    fold: bool,
}

impl TermNeedle {
    pub fn new(needle: &str, edges: Edges, fold_case: bool) -> TermNeedle {
        let n = if fold_case {
            fold(needle)
        } else {
            needle.to_owned()
        };
        let check_start = edges.start && n.chars().next().is_some_and(is_term_char);
        let check_end = edges.end && n.chars().next_back().is_some_and(is_term_char);
        TermNeedle {
            len: n.len(),
            finder: Finder::new(n.as_bytes()).into_owned(),
            check_start,
            check_end,
            fold: fold_case,
        }
    }

    /// Whether the needle occurs in `hay` (folded when the needle is) with its boundaries.
    #[inline]
    fn find_in(&self, hay: &[u8]) -> bool {
        if self.len == 0 {
            return true;
        }
        let mut from = 0;
        while from + self.len <= hay.len() {
            let Some(p) = self.finder.find(&hay[from..]) else {
                return false;
            };
            let pos = from + p;
            if bounded(hay, pos, self.len, self.check_start, self.check_end) {
                return true;
            }
            from = pos + 1;
        }
        false
    }

    /// Whether the needle occurs in `s`; `buf` is scratch space for folding.
    #[inline]
    pub fn is_in(&self, s: &str, buf: &mut Vec<u8>) -> bool {
        if self.fold {
            fold_into(s, buf);
            self.find_in(buf)
        } else {
            self.find_in(s.as_bytes())
        }
    }
}

/// Whether the occurrence `hay[pos..pos + len]` has the required term boundaries.
#[inline]
fn bounded(hay: &[u8], pos: usize, len: usize, start: bool, end: bool) -> bool {
    (!start || !char_before(hay, pos).is_some_and(is_term_char))
        && (!end || !char_after(hay, pos + len).is_some_and(is_term_char))
}

/// `has`, its forms and `contains` over one batch.
fn has_body(c: &Call, edges: Edges, fold_case: bool) -> arrow::array::ArrayRef {
    let (s, n) = (c.str(0), c.str(1));
    let mut buf = Vec::new();
    match n.scalar() {
        Some(n) => {
            let needle = TermNeedle::new(n, edges, fold_case);
            build::bools(c.len, |i| needle.is_in(s.get(i), &mut buf))
        }
        None => {
            let mut last: Option<(&str, TermNeedle)> = None;
            build::bools(c.len, |i| {
                let ni = n.get(i);
                if last.as_ref().is_none_or(|(l, _)| *l != ni) {
                    last = Some((ni, TermNeedle::new(ni, edges, fold_case)));
                }
                last.as_ref()
                    .is_some_and(|(_, nd)| nd.is_in(s.get(i), &mut buf))
            })
        }
    }
}

/// Scalar needles of `has_any`/`has_all`, in one automaton.
struct NeedleSet {
    ac: AhoCorasick,
    /// Per pattern: check the start and end boundary.
    edges: Vec<(bool, bool)>,
    /// Some needle was empty (it is in every string).
    empty: bool,
}

impl NeedleSet {
    fn new(fname: &str, needles: &[&str]) -> Result<NeedleSet> {
        let mut seen = HashSet::new();
        let mut pats = Vec::new();
        let mut empty = false;
        for n in needles {
            let f = fold(n);
            if f.is_empty() {
                empty = true;
            } else if seen.insert(f.clone()) {
                pats.push(f);
            }
        }
        let edges = pats
            .iter()
            .map(|p| {
                (
                    p.chars().next().is_some_and(is_term_char),
                    p.chars().next_back().is_some_and(is_term_char),
                )
            })
            .collect();
        let ac = match AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(&pats)
        {
            Ok(ac) => ac,
            Err(e) => return exec_err!("{fname}: cannot build the term matcher: {e}"),
        };
        Ok(NeedleSet { ac, edges, empty })
    }

    /// Whether any (`all` = false) or every needle occurs in `s`.
    fn eval(&self, s: &str, all: bool, buf: &mut Vec<u8>, found: &mut Vec<bool>) -> bool {
        let n = self.edges.len();
        if n == 0 {
            // Only empty needles.
            return self.empty;
        }
        if self.empty && !all {
            return true;
        }
        // ASCII rows are searched as they are (the automaton ignores ASCII case).
        let hay: &[u8] = if s.is_ascii() {
            s.as_bytes()
        } else {
            fold_into(s, buf);
            buf
        };
        found.clear();
        found.resize(n, false);
        let mut left = n;
        for m in self.ac.find_overlapping_iter(hay) {
            let id = m.pattern().as_usize();
            if found[id] {
                continue;
            }
            let (cs, ce) = self.edges[id];
            if bounded(hay, m.start(), m.len(), cs, ce) {
                if !all {
                    return true;
                }
                found[id] = true;
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        false
    }
}

fn has_any_all(c: &Call, all: bool) -> Result<arrow::array::ArrayRef> {
    let s = c.str(0);
    let needles: Vec<StrArg> = (1..c.count()).map(|p| c.str(p)).collect();
    let mut buf = Vec::new();
    let mut found = Vec::new();
    if let Some(scalars) = needles
        .iter()
        .map(|n| n.scalar())
        .collect::<Option<Vec<_>>>()
    {
        let set = NeedleSet::new(c.name, &scalars)?;
        return Ok(build::bools(c.len, |i| {
            set.eval(s.get(i), all, &mut buf, &mut found)
        }));
    }
    // Needles that vary by row: one search per needle.
    Ok(build::bools(c.len, |i| {
        let hay = s.get(i);
        let mut hit =
            |n: &StrArg| TermNeedle::new(n.get(i), Edges::BOTH, true).is_in(hay, &mut buf);
        if all {
            needles.iter().all(&mut hit)
        } else {
            needles.iter().any(&mut hit)
        }
    }))
}

/// `startswith` (`prefix`) or `endswith`, case-insensitive.
fn affix_body(c: &Call, prefix: bool) -> arrow::array::ArrayRef {
    let (s, p) = (c.str(0), c.str(1));
    let mut buf = Vec::new();
    let mut last: Option<(&str, String)> = None;
    build::bools(c.len, |i| {
        let (hay, pi) = (s.get(i), p.get(i));
        if hay.is_ascii() && pi.is_ascii() {
            let (h, n) = (hay.as_bytes(), pi.as_bytes());
            return h.len() >= n.len()
                && if prefix {
                    h[..n.len()].eq_ignore_ascii_case(n)
                } else {
                    h[h.len() - n.len()..].eq_ignore_ascii_case(n)
                };
        }
        if last.as_ref().is_none_or(|(l, _)| *l != pi) {
            last = Some((pi, fold(pi)));
        }
        let folded = last.as_ref().map(|(_, f)| f.as_bytes()).unwrap_or_default();
        fold_into(hay, &mut buf);
        if prefix {
            buf.starts_with(folded)
        } else {
            buf.ends_with(folded)
        }
    })
}

/// `a =~ b`.
pub(super) fn eq_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars().map(lower_char).eq(b.chars().map(lower_char))
    }
}

/// `s in~ (v1, v2, ...)`.
fn in_ci_body(c: &Call) -> arrow::array::ArrayRef {
    let s = c.str(0);
    let values: Vec<StrArg> = (1..c.count()).map(|p| c.str(p)).collect();
    if let Some(scalars) = values
        .iter()
        .map(|v| v.scalar())
        .collect::<Option<Vec<_>>>()
    {
        let set: HashSet<Vec<u8>> = scalars.iter().map(|v| fold(v).into_bytes()).collect();
        let mut buf = Vec::new();
        return build::bools(c.len, |i| {
            fold_into(s.get(i), &mut buf);
            set.contains(buf.as_slice())
        });
    }
    build::bools(c.len, |i| {
        let si = s.get(i);
        values.iter().any(|v| eq_ci(si, v.get(i)))
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{b, bs, A};
    use A::*;

    fn has(f: &str, s: &'static str, n: &'static str) -> bool {
        b(f, &[S(s), S(n)]).unwrap()
    }

    #[test]
    fn has_needs_whole_terms() {
        assert!(has("kql_has", "a.curl|b", "curl"));
        assert!(has("kql_has", "curl", "curl"));
        assert!(has("kql_has", "/usr/bin/curl -s x", "curl"));
        assert!(!has("kql_has", "curly", "curl"));
        assert!(!has("kql_has", "xcurl", "curl"));
        // A later occurrence counts when the first is inside a longer term.
        assert!(has("kql_has", "curly curl", "curl"));
        assert!(has("kql_has", "xcurl curl", "curl"));
        assert!(has("kql_has", "anything", ""));
        assert!(has("kql_has", "", ""));
        assert!(!has("kql_has", "", "a"));
        // Needles with punctuation: boundaries only where the needle is alphanumeric.
        assert!(has("kql_has", "run curl.exe now", "curl.exe"));
        assert!(!has("kql_has", "run xcurl.exe", "curl.exe"));
        assert!(has("kql_has", "a-b", "-"));
        assert!(has("kql_has", "c:\\windows\\system32", "\\system32"));
        assert!(
            has("kql_has", "id_5", "5"),
            "underscore is not alphanumeric"
        );
    }

    #[test]
    fn has_ignores_case_and_handles_unicode() {
        assert!(has("kql_has", "Run CURL now", "curl"));
        assert!(has("kql_has", "run curl now", "CuRl"));
        assert!(!has("kql_has_cs", "Run CURL now", "curl"));
        assert!(has("kql_has_cs", "Run CURL now", "CURL"));
        assert!(has("kql_has", "Grüße AUS München", "münchen"));
        assert!(has("kql_has", "ÉCOLE x", "école"));
        // Accented letters are alphanumeric: no boundary inside "écurl".
        assert!(!has("kql_has", "écurl", "curl"));
        assert!(has("kql_has", "é curl", "curl"));
        assert!(has("kql_has", "İstanbul", "istanbul"));
        assert!(has("kql_has", "日本語 テキスト", "テキスト"));
    }

    #[test]
    fn prefix_and_suffix_check_one_boundary() {
        assert!(has("kql_hasprefix", "the curly one", "curl"));
        assert!(!has("kql_hasprefix", "xcurl", "curl"));
        assert!(has("kql_hasprefix", "a xCURLy", "XCurl"));
        assert!(!has("kql_hasprefix_cs", "a xCURLy", "XCurl"));
        assert!(has("kql_hassuffix", "xcurl", "curl"));
        assert!(!has("kql_hassuffix", "curly", "curl"));
        assert!(has("kql_hassuffix_cs", "xcurl", "curl"));
        assert!(!has("kql_hassuffix_cs", "xCurl", "curl"));
    }

    #[test]
    fn contains_is_a_substring_test() {
        assert!(has("kql_contains", "xCURLy", "curl"));
        assert!(!has("kql_contains", "xCURy", "curl"));
        assert!(has("kql_contains", "abc", ""));
    }

    #[test]
    fn arrays_and_nulls() {
        let got = bs(
            "kql_has",
            &[
                Ss(vec![Some("a curl"), None, Some("curly"), Some("X CURL")]),
                S("curl"),
            ],
        );
        assert_eq!(got, [Some(true), Some(false), Some(false), Some(true)]);
        // A null needle reads as "" (always true).
        assert_eq!(b("kql_has", &[S("x"), Null]), Some(true));
        let got = bs(
            "kql_has",
            &[
                Ss(vec![Some("a b"), Some("a b"), Some("a b")]),
                Ss(vec![Some("a"), Some("c"), None]),
            ],
        );
        assert_eq!(got, [Some(true), Some(false), Some(true)]);
    }

    #[test]
    fn has_any_and_has_all() {
        let any = |s: &'static str, ns: &[&'static str]| {
            let mut a = vec![S(s)];
            a.extend(ns.iter().map(|n| S(n)));
            (b("kql_has_any", &a).unwrap(), b("kql_has_all", &a).unwrap())
        };
        assert_eq!(any("curl -s http://x", &["wget", "CURL"]), (true, false));
        assert_eq!(any("curl wget", &["wget", "curl"]), (true, true));
        assert_eq!(any("curly wgetx", &["wget", "curl"]), (false, false));
        assert_eq!(any("xcurl curl", &["curl"]), (true, true));
        assert_eq!(any("München wget", &["MÜNCHEN", "wget"]), (true, true));
        assert_eq!(any("abc", &[""]), (true, true));
        assert_eq!(any("abc", &["", "x"]), (true, false));
        // Overlapping needles.
        assert_eq!(any("ab abc", &["abc", "ab"]), (true, true));
        // Needles from a column.
        let got = bs(
            "kql_has_any",
            &[
                Ss(vec![Some("a b"), Some("a b")]),
                Ss(vec![Some("x"), Some("b")]),
                S("y"),
            ],
        );
        assert_eq!(got, [Some(false), Some(true)]);
    }

    #[test]
    fn starts_ends_equals_and_in() {
        assert_eq!(
            b("kql_startswith", &[S("PowerShell.exe"), S("power")]),
            Some(true)
        );
        assert_eq!(
            b("kql_startswith", &[S("PowerShell.exe"), S("shell")]),
            Some(false)
        );
        assert_eq!(
            b("kql_endswith", &[S("PowerShell.EXE"), S(".exe")]),
            Some(true)
        );
        assert_eq!(b("kql_endswith", &[S("exe"), S("a.exe")]), Some(false));
        assert_eq!(b("kql_startswith", &[S("ÉCOLE"), S("éc")]), Some(true));
        assert_eq!(b("kql_endswith", &[S("x"), S("")]), Some(true));
        assert_eq!(b("kql_eq_ci", &[S("ABC"), S("abc")]), Some(true));
        assert_eq!(b("kql_eq_ci", &[S("Ärger"), S("äRGER")]), Some(true));
        assert_eq!(b("kql_eq_ci", &[S("abc"), S("abcd")]), Some(false));
        assert_eq!(b("kql_eq_ci", &[Null, S("")]), Some(true));
        assert_eq!(
            b(
                "kql_in_ci",
                &[S("CMD.exe"), S("powershell.exe"), S("cmd.EXE")]
            ),
            Some(true)
        );
        assert_eq!(b("kql_in_ci", &[S("cmd"), S("cmd.exe")]), Some(false));
        let got = bs(
            "kql_in_ci",
            &[
                Ss(vec![Some("A"), Some("b")]),
                Ss(vec![Some("a"), Some("a")]),
            ],
        );
        assert_eq!(got, [Some(true), Some(false)]);
    }
}
