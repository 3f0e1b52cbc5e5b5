//! Required factors of a regex: literals of which every match contains at least one, found
//! anywhere in the pattern (not only at its start or end, as `regex-syntax`'s prefix and
//! suffix extraction gives). `\s-a\s+` requires `-a`; `a|b\d` requires `a` or `b`.
//!
//! Works on the case-folded HIR (see `matcher::regex_literals`); literals are returned as
//! the regex spells them and lowercased by the caller.

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
