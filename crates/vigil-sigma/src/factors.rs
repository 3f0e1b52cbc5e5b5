//! Required factors of a regex: literals of which every match contains at least one, found
//! anywhere in the pattern (not only at its start or end, as `regex-syntax`'s prefix and
//! suffix extraction gives). `\s-a\s+` requires `-a`; `a|b\d` requires `a` or `b`.
//!
//! Works on the case-folded HIR ([`fold_case`], see `matcher::regex_literals`); literals are
//! returned as the regex spells them and lowercased by the caller. Besides one set of which a
//! match contains a literal, [`required_sets`] gives one per part of a concatenation, all of
//! which a match contains (for item gates).

use regex_syntax::hir::{Class, Hir, HirKind};

/// More strings than this are not worth tracking.
const MAX: usize = 64;
/// Classes with more members than this are not expanded.
const MAX_CLASS: usize = 16;

/// What a node can match: every string it matches (`exact`, when few), and literals of which
/// every match contains one (`req`).
struct Info {
    exact: Option<Vec<Vec<u8>>>,
    req: Option<Vec<Vec<u8>>>,
}

/// Literals of which every match of `h` contains one, if such a set is known.
pub(crate) fn required(h: &Hir) -> Option<Vec<Vec<u8>>> {
    let i = info(h);
    usable(i.req.or(i.exact))
}

/// Sets of literals of which every match of `h` contains one of each: one per part of a
/// top-level concatenation that has such a set (`find\s.*-exec` requires `find` and `-exec`).
pub(crate) fn required_sets(h: &Hir) -> Vec<Vec<Vec<u8>>> {
    let mut h = h;
    while let HirKind::Capture(c) = h.kind() {
        h = &c.sub;
    }
    match h.kind() {
        HirKind::Concat(children) => children
            .iter()
            .filter_map(|c| {
                let i = info(c);
                usable(best(i.req, i.exact))
            })
            .collect(),
        _ => required(h).into_iter().collect(),
    }
}

fn usable(v: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    v.filter(|v| !v.is_empty() && v.len() <= MAX && v.iter().all(|l| !l.is_empty()))
}

/// Higher is more selective: long shortest literal first, then few literals.
fn score(v: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = v.iter().map(Vec::len).min().unwrap_or(0);
    (shortest.min(8), std::cmp::Reverse(v.len()))
}

fn best(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    match (usable(a), usable(b)) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn cross(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
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

fn info(h: &Hir) -> Info {
    let none = Info {
        exact: None,
        req: None,
    };
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Info {
            exact: Some(vec![Vec::new()]),
            req: None,
        },
        HirKind::Literal(l) => {
            let v = vec![l.0.to_vec()];
            Info {
                exact: Some(v.clone()),
                req: Some(v),
            }
        }
        HirKind::Class(c) => {
            let members: Option<Vec<Vec<u8>>> = match c {
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
            };
            Info {
                exact: members.clone(),
                req: members,
            }
        }
        HirKind::Capture(c) => info(&c.sub),
        HirKind::Repetition(r) => {
            if r.min == 0 {
                return match r.max {
                    Some(0) => Info {
                        exact: Some(vec![Vec::new()]),
                        req: None,
                    },
                    _ => none,
                };
            }
            let sub = info(&r.sub);
            Info {
                exact: if r.max == Some(1) {
                    sub.exact.clone()
                } else {
                    None
                },
                req: best(sub.req, sub.exact),
            }
        }
        HirKind::Concat(children) => {
            let mut exact: Option<Vec<Vec<u8>>> = Some(vec![Vec::new()]);
            let mut run: Option<Vec<Vec<u8>>> = Some(vec![Vec::new()]);
            let mut req: Option<Vec<Vec<u8>>> = None;
            for c in children {
                let ci = info(c);
                exact = match (&exact, &ci.exact) {
                    (Some(a), Some(b)) => cross(a, b),
                    _ => None,
                };
                req = best(req, ci.req);
                // The strings of the current run of fixed-length parts: a match contains one.
                run = match (&run, &ci.exact) {
                    (Some(a), Some(b)) => cross(a, b).or_else(|| Some(b.clone())),
                    (None, Some(b)) => Some(b.clone()),
                    (_, None) => Some(vec![Vec::new()]),
                };
                req = best(req, run.clone());
            }
            Info {
                req: best(req, exact.clone()),
                exact,
            }
        }
        HirKind::Alternation(children) => {
            let infos: Vec<Info> = children.iter().map(info).collect();
            let mut exact: Option<Vec<Vec<u8>>> = Some(Vec::new());
            let mut req: Option<Vec<Vec<u8>>> = Some(Vec::new());
            for ci in infos {
                exact = match (exact, ci.exact.clone()) {
                    (Some(mut a), Some(b)) if a.len() + b.len() <= MAX => {
                        a.extend(b);
                        Some(a)
                    }
                    _ => None,
                };
                req = match (req, best(ci.req, ci.exact)) {
                    (Some(mut a), Some(b)) if a.len() + b.len() <= MAX => {
                        a.extend(b);
                        Some(a)
                    }
                    _ => None,
                };
            }
            for v in [&mut exact, &mut req].into_iter().flatten() {
                v.sort();
                v.dedup();
            }
            Info { exact, req }
        }
    }
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
