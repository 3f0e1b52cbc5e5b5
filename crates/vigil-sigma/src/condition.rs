//! The `condition` language: `and`, `or`, `not`, parentheses, search identifiers, and the
//! quantifiers `1 of sel*`, `all of sel*`, `any of them`, `N of x*`.
//!
//! Precedence, loosest first: `or`, `and`, `not`. Keywords are case-insensitive. Sigma v1's
//! aggregations (`| count() > 5`, `near`) are refused with a pointer to correlation rules.

use crate::Issue;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// A search identifier.
    Ref(String),
    /// `N of pattern` (`them` is the pattern `*` without `_`-prefixed identifiers).
    Of {
        quant: Quant,
        pattern: OfTarget,
    },
}

/// How many of the matched searches must be true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    All,
    AtLeast(usize),
}

/// What a quantifier ranges over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfTarget {
    Them,
    Pattern(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
    Pipe,
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, Issue> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'(' {
            out.push((i, Tok::LParen));
            i += 1;
        } else if c == b')' {
            out.push((i, Tok::RParen));
            i += 1;
        } else if c == b'|' {
            out.push((i, Tok::Pipe));
            i += 1;
        } else if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'*' | b'-' | b'.' | b'?') {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || matches!(b[i], b'_' | b'*' | b'-' | b'.' | b'?'))
            {
                i += 1;
            }
            out.push((start, Tok::Word(s[start..i].to_string())));
        } else {
            let ch = s[i..].chars().next().unwrap_or('?');
            return Err(Issue::invalid(format!(
                "condition `{s}`: unexpected character `{ch}` at offset {i}"
            )));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(usize, Tok)>,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> Issue {
        let at = self
            .toks
            .get(self.pos)
            .map(|(o, _)| format!("at offset {o}"))
            .unwrap_or_else(|| "at the end".into());
        Issue::invalid(format!("condition `{}`: {what} {at}", self.src))
    }

    fn peek_word(&self) -> Option<String> {
        match self.toks.get(self.pos) {
            Some((_, Tok::Word(w))) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Cond, Issue> {
        let mut parts = vec![self.and()?];
        while self.peek_word().as_deref() == Some("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Cond, Issue> {
        let mut parts = vec![self.not()?];
        while self.peek_word().as_deref() == Some("and") {
            self.pos += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::And(parts)
        })
    }

    fn not(&mut self) -> Result<Cond, Issue> {
        if self.peek_word().as_deref() == Some("not") {
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, Issue> {
        match self.toks.get(self.pos).cloned() {
            None => Err(self.err("expected a search identifier")),
            Some((_, Tok::LParen)) => {
                self.pos += 1;
                let inner = self.or()?;
                match self.toks.get(self.pos) {
                    Some((_, Tok::RParen)) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(self.err("expected `)`")),
                }
            }
            Some((_, Tok::RParen)) => Err(self.err("unexpected `)`")),
            Some((_, Tok::Pipe)) => Err(self.err("unexpected `|`")),
            Some((_, Tok::Word(w))) => {
                let lw = w.to_ascii_lowercase();
                if matches!(lw.as_str(), "and" | "or") {
                    return Err(self.err(&format!("unexpected `{w}`")));
                }
                let quant = if lw == "all" {
                    Some(Quant::All)
                } else if lw == "any" {
                    Some(Quant::AtLeast(1))
                } else {
                    lw.parse::<usize>().ok().map(Quant::AtLeast)
                };
                let next_is_of = matches!(
                    self.toks.get(self.pos + 1),
                    Some((_, Tok::Word(o))) if o.eq_ignore_ascii_case("of")
                );
                if let (Some(q), true) = (quant, next_is_of) {
                    if q == Quant::AtLeast(0) {
                        return Err(self.err("`0 of` is never useful"));
                    }
                    self.pos += 2;
                    let target = match self.toks.get(self.pos) {
                        Some((_, Tok::Word(t))) => t.clone(),
                        _ => return Err(self.err("expected `them` or a pattern after `of`")),
                    };
                    self.pos += 1;
                    let pattern = if target.eq_ignore_ascii_case("them") {
                        OfTarget::Them
                    } else {
                        OfTarget::Pattern(target)
                    };
                    return Ok(Cond::Of { quant: q, pattern });
                }
                if lw == "of" || lw == "them" {
                    return Err(self.err(&format!("unexpected `{w}`")));
                }
                self.pos += 1;
                Ok(Cond::Ref(w))
            }
        }
    }
}

/// Parse one condition string.
pub fn parse(src: &str) -> Result<Cond, Issue> {
    if let Some(off) = src.find('|') {
        return Err(Issue::unsupported(format!(
            "condition `{src}`: aggregation after `|` (offset {off}) is deprecated sigma v1 syntax; use a correlation rule"
        )));
    }
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err(Issue::invalid("empty condition"));
    }
    if toks
        .iter()
        .any(|(_, t)| matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case("near")))
    {
        return Err(Issue::unsupported(format!(
            "condition `{src}`: `near` is deprecated sigma v1 syntax; use a temporal correlation rule"
        )));
    }
    let mut p = Parser { src, toks, pos: 0 };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(p.err("unexpected trailing input"));
    }
    Ok(c)
}

/// Whether `name` matches a quantifier pattern (`*` any run, `?` one character).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Cond {
        Cond::Ref(s.into())
    }

    #[test]
    fn precedence_and_parentheses() {
        assert_eq!(
            parse("a or b and not c").unwrap(),
            Cond::Or(vec![
                r("a"),
                Cond::And(vec![r("b"), Cond::Not(Box::new(r("c")))])
            ])
        );
        assert_eq!(
            parse("(a or b) and c").unwrap(),
            Cond::And(vec![Cond::Or(vec![r("a"), r("b")]), r("c")])
        );
        assert_eq!(
            parse("NOT not a").unwrap(),
            Cond::Not(Box::new(Cond::Not(Box::new(r("a")))))
        );
    }

    #[test]
    fn quantifiers() {
        assert_eq!(
            parse("1 of sel*").unwrap(),
            Cond::Of {
                quant: Quant::AtLeast(1),
                pattern: OfTarget::Pattern("sel*".into())
            }
        );
        assert_eq!(
            parse("all of them").unwrap(),
            Cond::Of {
                quant: Quant::All,
                pattern: OfTarget::Them
            }
        );
        assert_eq!(
            parse("any of filter_*").unwrap(),
            Cond::Of {
                quant: Quant::AtLeast(1),
                pattern: OfTarget::Pattern("filter_*".into())
            }
        );
        assert_eq!(
            parse("2 of x*").unwrap(),
            Cond::Of {
                quant: Quant::AtLeast(2),
                pattern: OfTarget::Pattern("x*".into())
            }
        );
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = parse("a and").unwrap_err();
        assert_eq!(
            e.message(),
            "condition `a and`: expected a search identifier at the end"
        );
        let e = parse("(a or b").unwrap_err();
        assert!(e.message().contains("expected `)`"), "{}", e.message());
        let e = parse("a b").unwrap_err();
        assert!(
            e.message()
                .contains("unexpected trailing input at offset 2"),
            "{}",
            e.message()
        );
        let e = parse("a & b").unwrap_err();
        assert!(e.message().contains("unexpected character `&`"));
        let e = parse("1 of").unwrap_err();
        assert!(e.message().contains("expected `them` or a pattern"));
        assert!(parse("").is_err());
        assert!(parse("or a").is_err());
    }

    #[test]
    fn aggregations_are_unsupported() {
        let e = parse("selection | count() by host > 5").unwrap_err();
        assert!(!e.is_invalid());
        assert!(e.message().contains("correlation rule"));
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("sel*", "selection"));
        assert!(pattern_matches("sel*", "sel"));
        assert!(!pattern_matches("sel*", "filter"));
        assert!(pattern_matches("*_img", "sel_img"));
        assert!(pattern_matches("a?c", "abc"));
    }
}
