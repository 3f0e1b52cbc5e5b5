//! Required factors of a regex: literals of which every match contains at least one, found
//! anywhere in the pattern (not only at its start or end, as `regex-syntax`'s prefix and
//! suffix extraction gives). `\s-a\s+` requires `-a`; `a|b\d` requires `a` or `b`;
//! `/(\.{3,}|\s+\.)/` requires `/.` or `./` (literals spanning the parts of a concatenation,
//! and an alternation inside one taken alternative by alternative).
//!
//! Works on the case-folded HIR ([`fold_case`], see `matcher::regex_literals`); literals are
//! returned as the regex spells them and lowercased by the caller. Besides one set of which a
//! match contains a literal, [`required_sets`] gives several, all of which a match contains
//! (for item gates): one per part of a concatenation, and for an alternation the union of a
//! set of each alternative.
//!
//! What is known of each node ([`Facts`]) is computed once, bottom-up, from its children's.

use regex_syntax::hir::{Class, Hir, HirKind};

/// More strings than this are not worth tracking.
const MAX: usize = 64;
/// Classes with more members than this are not expanded.
const MAX_CLASS: usize = 16;
/// How many alternations deep a concatenation is taken alternative by alternative.
const MAX_SPLIT_DEPTH: usize = 2;
/// Alternations with more alternatives than this are not taken one by one.
const MAX_SPLIT: usize = 12;
/// Enough bytes of a start or end to be selective.
const ENOUGH: usize = 8;

type Lits = Vec<Vec<u8>>;

/// What is known of the strings a node matches.
#[derive(Debug, Clone, Default)]
struct Facts {
    /// Every string it matches, when few (the empty string included).
    exact: Option<Lits>,
    /// Literals of which every match contains one.
    req: Option<Lits>,
    /// Strings of which every non-empty match starts (ends) with one.
    front: Option<Lits>,
    back: Option<Lits>,
    /// It matches only the empty string (an assertion).
    zero: bool,
    /// It may match the empty string.
    optional: bool,
    /// An alternation's alternatives, or a concatenation's parts (under captures).
    alts: Option<Vec<Facts>>,
    parts: Option<Vec<Facts>>,
}

/// Literals of which every match of `h` contains one, if such a set is known.
pub(crate) fn required(h: &Hir) -> Option<Lits> {
    let f = facts(h);
    usable(f.req.or(f.exact))
}

/// Sets of literals of which every match of `h` contains one of each: one per part of a
/// top-level concatenation that has such a set (`find\s.*-exec` requires `find` and `-exec`),
/// those spanning its parts, and for an alternation the unions of a set of each alternative.
pub(crate) fn required_sets(h: &Hir) -> Vec<Lits> {
    sets(&facts(h))
}

fn sets(f: &Facts) -> Vec<Lits> {
    if let Some(parts) = &f.parts {
        let mut out: Vec<Lits> = parts
            .iter()
            .filter_map(|p| usable(best(p.req.clone(), p.exact.clone())))
            .collect();
        for p in parts.iter().filter(|p| p.alts.is_some()) {
            out.extend(sets(p));
        }
        out.extend(
            boundaries(parts)
                .into_iter()
                .filter_map(|b| usable(Some(b))),
        );
        out.extend(usable(f.req.clone()));
        return out;
    }
    if let Some(alts) = f.alts.as_ref().filter(|a| a.len() <= MAX_SPLIT) {
        // A match matches one alternative, and holds a literal of each of its sets: of one
        // set of each alternative, it holds a literal of their union. Each set of the first
        // alternative is joined with the closest set of each other one.
        let per: Vec<Vec<Lits>> = alts.iter().map(sets).collect();
        let Some((first, others)) = per.split_first() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for s in first {
            let mut u = s.clone();
            for sets in others {
                let Some(closest) = sets.iter().min_by_key(|c| {
                    let new = c.iter().filter(|l| !u.contains(l)).count();
                    (new, c.len())
                }) else {
                    return Vec::new();
                };
                u.extend(closest.iter().cloned());
                u = minimal(u);
            }
            out.extend(usable(Some(u)));
        }
        out.sort();
        out.dedup();
        return out;
    }
    usable(f.req.clone().or(f.exact.clone()))
        .into_iter()
        .collect()
}

fn usable(v: Option<Lits>) -> Option<Lits> {
    v.filter(|v| !v.is_empty() && v.len() <= MAX && v.iter().all(|l| !l.is_empty()))
}

/// Higher is more selective: long shortest literal first, then few literals.
fn score(v: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = v.iter().map(Vec::len).min().unwrap_or(0);
    (shortest.min(8), std::cmp::Reverse(v.len()))
}

fn best(a: Option<Lits>, b: Option<Lits>) -> Option<Lits> {
    match (usable(a), usable(b)) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn cross(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Lits> {
    if a.len().saturating_mul(b.len()) > MAX {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// `v`, sorted, without duplicates, if it is a usable set of starts or ends: few strings,
/// none empty.
fn nonempty(mut v: Lits) -> Option<Lits> {
    v.sort();
    v.dedup();
    (!v.is_empty() && v.len() <= MAX && v.iter().all(|s| !s.is_empty())).then_some(v)
}

/// Drop the strings that contain another of the set: a text holding one holds the other.
fn minimal(mut v: Lits) -> Lits {
    v.sort_by_key(Vec::len);
    let mut out: Lits = Vec::new();
    for s in v {
        if !out
            .iter()
            .any(|o| s.windows(o.len().max(1)).any(|w| w == &o[..]))
        {
            out.push(s);
        }
    }
    out.sort();
    out
}

/// The members of a small class, as strings.
fn members(c: &Class) -> Option<Lits> {
    match c {
        Class::Unicode(u) => {
            let n: usize = u
                .iter()
                .map(|r| (r.end() as usize) - (r.start() as usize) + 1)
                .sum();
            (n <= MAX_CLASS).then(|| {
                u.iter()
                    .flat_map(|r| r.start()..=r.end())
                    .map(|ch| ch.to_string().into_bytes())
                    .collect()
            })
        }
        Class::Bytes(b) => {
            let n: usize = b
                .iter()
                .map(|r| usize::from(r.end()) - usize::from(r.start()) + 1)
                .sum();
            (n <= MAX_CLASS).then(|| {
                b.iter()
                    .flat_map(|r| r.start()..=r.end())
                    .map(|x| vec![x])
                    .collect()
            })
        }
    }
}

fn facts(h: &Hir) -> Facts {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Facts {
            exact: Some(vec![Vec::new()]),
            zero: true,
            optional: true,
            ..Facts::default()
        },
        HirKind::Literal(l) => {
            let v = Some(vec![l.0.to_vec()]);
            Facts {
                exact: v.clone(),
                req: v.clone(),
                front: v.clone(),
                back: v,
                ..Facts::default()
            }
        }
        HirKind::Class(c) => {
            let m = members(c);
            Facts {
                exact: m.clone(),
                req: m.clone(),
                front: m.clone(),
                back: m,
                ..Facts::default()
            }
        }
        HirKind::Capture(c) => facts(&c.sub),
        HirKind::Repetition(r) => {
            let sub = facts(&r.sub);
            let exact = match (r.min, r.max) {
                (_, Some(0)) => Some(vec![Vec::new()]),
                (0, Some(1)) => sub.exact.clone().map(|mut e| {
                    e.push(Vec::new());
                    e.sort();
                    e.dedup();
                    e
                }),
                (1, Some(1)) => sub.exact.clone(),
                _ => None,
            };
            let present = r.max != Some(0);
            Facts {
                exact,
                req: if r.min == 0 {
                    None
                } else {
                    best(sub.req, sub.exact)
                },
                // A non-empty match starts and ends with a non-empty match of the part.
                front: sub.front.filter(|_| present),
                back: sub.back.filter(|_| present),
                zero: sub.zero || !present,
                optional: r.min == 0 || sub.optional,
                ..Facts::default()
            }
        }
        HirKind::Concat(children) => concat(children.iter().map(facts).collect(), 0),
        HirKind::Alternation(children) => alternation(children.iter().map(facts).collect()),
    }
}

fn alternation(alts: Vec<Facts>) -> Facts {
    let join = |get: &dyn Fn(&Facts) -> Option<Lits>, skip_zero: bool| -> Option<Lits> {
        let mut out: Lits = Vec::new();
        for a in alts.iter().filter(|a| !(skip_zero && a.zero)) {
            out.extend(get(a)?);
            if out.len() > MAX {
                return None;
            }
        }
        out.sort();
        out.dedup();
        Some(out)
    };
    let exact = join(&|a| a.exact.clone(), false);
    let req = join(&|a| best(a.req.clone(), a.exact.clone()), false);
    // The empty strings of optional alternatives are no literal: `usable` drops such a set.
    let front = join(&|a| a.front.clone(), true).and_then(nonempty);
    let back = join(&|a| a.back.clone(), true).and_then(nonempty);
    Facts {
        exact,
        req,
        front,
        back,
        zero: alts.iter().all(|a| a.zero),
        optional: alts.iter().any(|a| a.optional),
        alts: Some(alts),
        parts: None,
    }
}

/// The facts of a concatenation of parts, `depth` alternations into taking alternations
/// alternative by alternative: a concatenation with an alternation among its parts
/// (`/(a|b)/`) matches as one of the concatenations with each alternative instead (`/a/`,
/// `/b/`), and so contains a literal of one of theirs.
fn concat(parts: Vec<Facts>, depth: usize) -> Facts {
    let mut exact: Option<Lits> = Some(vec![Vec::new()]);
    let mut run: Option<Lits> = Some(vec![Vec::new()]);
    let mut req: Option<Lits> = None;
    for p in &parts {
        exact = match (&exact, &p.exact) {
            (Some(a), Some(b)) => cross(a, b),
            _ => None,
        };
        req = best(req, p.req.clone());
        // The strings of the current run of fixed-length parts: a match contains one.
        run = match (&run, &p.exact) {
            (Some(a), Some(b)) => cross(a, b).or_else(|| Some(b.clone())),
            (None, Some(b)) => Some(b.clone()),
            (_, None) => Some(vec![Vec::new()]),
        };
        req = best(req, run.clone());
    }
    for b in boundaries(&parts) {
        req = best(req, Some(b));
    }
    let split = (depth < MAX_SPLIT_DEPTH)
        .then(|| {
            parts.iter().enumerate().find_map(|(i, p)| {
                p.alts
                    .as_ref()
                    .filter(|a| a.len() <= MAX_SPLIT)
                    .map(|a| (i, a))
            })
        })
        .flatten();
    if let Some((i, alts)) = split {
        // What the other parts require holds whatever the alternative; the parts next to
        // the alternation are joined to each alternative.
        let others = parts
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .fold(None, |acc, (_, p)| {
                best(acc, best(p.req.clone(), p.exact.clone()))
            });
        let lo = (0..i).rev().find(|j| !parts[*j].zero).unwrap_or(i);
        let hi = (i + 1..parts.len()).find(|j| !parts[*j].zero).unwrap_or(i);
        let mut union: Option<Lits> = Some(Vec::new());
        for a in alts {
            let mut window = parts[lo..=hi].to_vec();
            window[i - lo] = a.clone();
            let w = concat(window, depth + 1);
            let r = best(others.clone(), best(w.req, w.exact));
            union = match (union, usable(r)) {
                (Some(mut u), Some(r)) if u.len() + r.len() <= MAX => {
                    u.extend(r);
                    Some(u)
                }
                _ => None,
            };
        }
        req = best(req, union.map(minimal));
    }
    let order: Vec<&Facts> = parts.iter().collect();
    let rev: Vec<&Facts> = parts.iter().rev().collect();
    Facts {
        req: best(req, exact.clone()),
        exact,
        front: ends_seq(&order, true),
        back: ends_seq(&rev, false),
        zero: parts.iter().all(|p| p.zero),
        optional: parts.iter().all(|p| p.optional),
        alts: None,
        parts: Some(parts),
    }
}

/// The strings every non-empty match of a sequence of parts (in the order read from its
/// `front`, or from its end) starts (ends) with: a fixed part is followed into the next (`/`
/// then `\.` starts with `/.`); a part that may match nothing gives both its own and those of
/// the parts after it.
fn ends_seq(parts: &[&Facts], front: bool) -> Option<Lits> {
    let (&c, rest) = parts.split_first()?;
    if c.zero {
        return ends_seq(rest, front);
    }
    let join = |a: &[Vec<u8>], b: &[Vec<u8>]| if front { cross(a, b) } else { cross(b, a) };
    if let Some(e) = &c.exact {
        if e.iter().all(|x| x.len() >= ENOUGH) {
            return nonempty(e.clone());
        }
        return match ends_seq(rest, front) {
            Some(tail) => join(e, &tail)
                .and_then(nonempty)
                .or_else(|| nonempty(e.clone())),
            None => nonempty(e.clone()),
        };
    }
    let mut own = if front {
        c.front.clone()
    } else {
        c.back.clone()
    }?;
    if c.optional {
        own.extend(ends_seq(rest, front)?);
        return nonempty(own);
    }
    Some(own)
}

/// For each place between two parts of a concatenation (assertions aside), the strings that
/// span it, when known: an end of the parts before joined to a start of the parts after.
fn boundaries(parts: &[Facts]) -> Vec<Lits> {
    let wide: Vec<&Facts> = parts.iter().filter(|p| !p.zero).collect();
    (1..wide.len())
        .filter_map(|i| {
            let before: Vec<&Facts> = wide[..i].iter().rev().copied().collect();
            let after = ends_seq(&wide[i..], true)?;
            cross(&ends_seq(&before, false)?, &after).map(minimal)
        })
        .collect()
}

/// Replace each class whose members all lowercase to one character by that character.
pub(crate) fn fold_case(h: &regex_syntax::hir::Hir) -> regex_syntax::hir::Hir {
    use regex_syntax::hir::{Class, Hir, HirKind, Repetition};
    match h.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            let mut lower: Option<char> = None;
            let mut n = 0u32;
            for r in c.iter() {
                for ch in r.start()..=r.end() {
                    n += 1;
                    let mut l = ch.to_lowercase();
                    let (Some(one), None) = (l.next(), l.next()) else {
                        return h.clone();
                    };
                    if n > 8 || lower.is_some_and(|x| x != one) {
                        return h.clone();
                    }
                    lower = Some(one);
                }
            }
            match lower {
                Some(ch) => Hir::literal(ch.to_string().into_bytes()),
                None => h.clone(),
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            let mut lower: Option<u8> = None;
            for r in c.iter() {
                if u32::from(r.end()) - u32::from(r.start()) > 8 {
                    return h.clone();
                }
                for b in r.start()..=r.end() {
                    let l = b.to_ascii_lowercase();
                    if lower.is_some_and(|x| x != l) {
                        return h.clone();
                    }
                    lower = Some(l);
                }
            }
            match lower {
                Some(b) => Hir::literal(vec![b]),
                None => h.clone(),
            }
        }
        HirKind::Concat(v) => Hir::concat(v.iter().map(fold_case).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(fold_case).collect()),
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(fold_case(&r.sub)),
        }),
        HirKind::Capture(c) => Hir::capture(regex_syntax::hir::Capture {
            index: c.index,
            name: c.name.clone(),
            sub: Box::new(fold_case(&c.sub)),
        }),
        _ => h.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hir(p: &str) -> Hir {
        fold_case(&regex_syntax::ParserBuilder::new().build().parse(p).unwrap())
    }

    fn strings(v: &[Vec<u8>]) -> Vec<String> {
        v.iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn literals_span_the_parts_of_a_concatenation() {
        // `\s` is too big a class to spell out; the dot next to the slash is not.
        let r = required(&hir(r"/(\.{3,}|\.{1,2}\s+|\s+\.{1,2})/")).unwrap();
        assert!(
            strings(&r)
                .iter()
                .all(|l| l.contains("/.") || l.contains("./")),
            "{:?}",
            strings(&r)
        );
        let r = required(&hir(r"(=|/)\.[^./]")).unwrap();
        assert_eq!(strings(&r), vec!["/.", "=."]);
        // Not every match holds `/.`: the start of the text is the other alternative.
        let r = required(&hir(r"(^|/)\.[^./]")).unwrap();
        assert_eq!(strings(&r), vec!["."]);
    }

    #[test]
    fn an_alternation_requires_one_set_of_each_alternative() {
        let sets = required_sets(&hir(
            r"^/(tmp|dev/shm)/(.*/)?\.[^/]+/.*\.(tar|gz)$|^/(tmp|dev/shm)/\.[^/]+\.(tar|gz)$",
        ));
        let sets: Vec<Vec<String>> = sets.iter().map(|s| strings(s)).collect();
        assert!(sets.contains(&vec!["/.".to_string()]), "{sets:?}");
        assert!(
            sets.contains(&vec![".gz".to_string(), ".tar".to_string()]),
            "{sets:?}"
        );
    }

    /// A string `h` matches, drawn at random (assertions are ignored: the caller checks the
    /// string with the regex).
    fn sample(h: &Hir, rnd: &mut impl FnMut(u64) -> u64, out: &mut Vec<u8>) {
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(l) => out.extend_from_slice(&l.0),
            HirKind::Class(Class::Unicode(c)) => {
                let r = c.ranges()[rnd(c.ranges().len() as u64) as usize];
                let span = (r.end() as u64 - r.start() as u64 + 1).min(64);
                let ch = char::from_u32(r.start() as u32 + rnd(span) as u32).unwrap_or('x');
                out.extend_from_slice(ch.to_string().as_bytes());
            }
            HirKind::Class(Class::Bytes(c)) => {
                let r = c.ranges()[rnd(c.ranges().len() as u64) as usize];
                let span = u64::from(r.end() - r.start()) + 1;
                out.push(r.start() + rnd(span) as u8);
            }
            HirKind::Capture(c) => sample(&c.sub, rnd, out),
            HirKind::Repetition(r) => {
                let max = r.max.unwrap_or(r.min + 3).min(r.min + 3);
                for _ in 0..r.min + rnd(u64::from(max - r.min) + 1) as u32 {
                    sample(&r.sub, rnd, out);
                }
            }
            HirKind::Concat(v) => v.iter().for_each(|c| sample(c, rnd, out)),
            HirKind::Alternation(v) => sample(&v[rnd(v.len() as u64) as usize], rnd, out),
        }
    }

    /// Every string a regex matches holds a literal of what [`required`] gives and of each
    /// set [`required_sets`] gives, on patterns built at random from parts that make these
    /// analyses work: literals next to classes, optional parts, repetitions, alternations
    /// inside concatenations, anchors.
    #[test]
    fn every_match_holds_the_required_literals() {
        let mut r = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: u64| {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r % n.max(1)
        };
        const PIECES: [&str; 16] = [
            "/", r"\.", "ab", "tmp", "x", r"\s", r"\d", "[0-9a-f]", "[^/]", ".", "-", "=", r"\b",
            "^", "$", "Q",
        ];
        fn pattern(rnd: &mut impl FnMut(u64) -> u64, depth: u32) -> String {
            let piece = |rnd: &mut dyn FnMut(u64) -> u64| PIECES[rnd(16) as usize].to_string();
            let mut p = String::new();
            for _ in 0..1 + rnd(4) {
                let part = if depth > 0 && rnd(3) == 0 {
                    let alts: Vec<String> =
                        (0..1 + rnd(3)).map(|_| pattern(rnd, depth - 1)).collect();
                    format!("({})", alts.join("|"))
                } else {
                    piece(rnd)
                };
                let q = ["", "", "", "?", "*", "+", "{2,3}", "{1,2}"][rnd(8) as usize];
                if part == "^" || part == "$" || part == r"\b" {
                    p.push_str(&part);
                } else {
                    p.push_str(&part);
                    p.push_str(q);
                }
            }
            p
        }
        let holds = |text: &[u8], set: &[Vec<u8>]| {
            let t = text.to_ascii_lowercase();
            set.iter().any(|l| {
                let l = l.to_ascii_lowercase();
                t.windows(l.len()).any(|w| w == &l[..])
            })
        };
        let mut checked = 0;
        for round in 0..3000 {
            let mut p = pattern(&mut rnd, 2);
            if round % 3 == 0 {
                p = format!("(?i){p}");
            }
            let Ok(re) = regex::bytes::Regex::new(&p) else {
                continue;
            };
            let h = fold_case(
                &regex_syntax::ParserBuilder::new()
                    .build()
                    .parse(&p)
                    .unwrap(),
            );
            let req = required(&h);
            let sets = required_sets(&h);
            for _ in 0..20 {
                let mut text = Vec::new();
                sample(&h, &mut rnd, &mut text);
                if !re.is_match(&text) {
                    continue;
                }
                checked += 1;
                if let Some(req) = &req {
                    assert!(holds(&text, req), "{p}: {text:?} lacks {:?}", strings(req));
                }
                for set in &sets {
                    assert!(holds(&text, set), "{p}: {text:?} lacks {:?}", strings(set));
                }
            }
        }
        assert!(checked > 10_000, "{checked} strings checked");
    }
}
