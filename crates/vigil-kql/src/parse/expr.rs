//! Scalar expressions and literals.
//!
//! Precedence, loosest first: `or`, `and`, comparisons and string/list operators
//! (`==`, `has`, `in (...)`, `between (a .. b)`, `matches regex`, ...), `+ -`, `* / %`,
//! unary `- +`, then postfix member access, indexing and calls.

use super::{Fail, PResult, Parser};
use crate::ast::{BinaryOp, Expr, ExprKind, Ident, JoinSide, ListOp, Literal, NamedExpr, UnaryOp};
use crate::lex::{timespan_unit, Tok};
use crate::span::Span;

/// What follows the left operand at comparison level.
enum CmpOp {
    Binary(BinaryOp),
    List(ListOp),
    Between { negated: bool },
}

/// The string operators that have a `!` form: (positive, negated).
fn string_op(word: &str) -> Option<(BinaryOp, BinaryOp)> {
    use BinaryOp::*;
    Some(match word {
        "has" => (Has, NotHas),
        "has_cs" => (HasCs, NotHasCs),
        "hasprefix" => (HasPrefix, NotHasPrefix),
        "hasprefix_cs" => (HasPrefixCs, NotHasPrefixCs),
        "hassuffix" => (HasSuffix, NotHasSuffix),
        "hassuffix_cs" => (HasSuffixCs, NotHasSuffixCs),
        "contains" => (Contains, NotContains),
        "contains_cs" => (ContainsCs, NotContainsCs),
        "startswith" => (StartsWith, NotStartsWith),
        "startswith_cs" => (StartsWithCs, NotStartsWithCs),
        "endswith" => (EndsWith, NotEndsWith),
        "endswith_cs" => (EndsWithCs, NotEndsWithCs),
        _ => return None,
    })
}

const PREC_OR: u8 = 1;
const PREC_AND: u8 = 2;
const PREC_CMP: u8 = 3;
const PREC_ADD: u8 = 4;
const PREC_MUL: u8 = 5;

fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.to(rhs.span);
    Expr {
        kind: ExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        span,
    }
}

impl Parser<'_> {
    /// A scalar expression (no `|`). Depth is counted where expressions nest (parentheses,
    /// calls, lists, unary operators, operator chains), not here.
    pub(super) fn expr(&mut self) -> PResult<Expr> {
        self.binary_expr(PREC_OR)
    }

    /// An operand of `+`/`-` and tighter (no comparison, `and`, `or`).
    pub(super) fn add_expr(&mut self) -> PResult<Expr> {
        self.binary_expr(PREC_ADD)
    }

    /// Precedence climbing over binary operators that bind at least as tight as `min`. Each
    /// operator of a left-deep chain counts one level of depth (see [`Parser::deepen`]).
    fn binary_expr(&mut self, min: u8) -> PResult<Expr> {
        let saved = self.depth;
        let r = self.binary_chain(min);
        self.depth = saved;
        r
    }

    fn binary_chain(&mut self, min: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        loop {
            let (op, len) = match self.peek() {
                Tok::Plus => (CmpOp::Binary(BinaryOp::Add), 1),
                Tok::Minus => (CmpOp::Binary(BinaryOp::Sub), 1),
                Tok::Star => (CmpOp::Binary(BinaryOp::Mul), 1),
                Tok::Slash => (CmpOp::Binary(BinaryOp::Div), 1),
                Tok::Percent => (CmpOp::Binary(BinaryOp::Mod), 1),
                _ if self.at_kw("and") => (CmpOp::Binary(BinaryOp::And), 1),
                _ if self.at_kw("or") => (CmpOp::Binary(BinaryOp::Or), 1),
                _ => match self.cmp_op() {
                    Some(found) => found,
                    None => return Ok(lhs),
                },
            };
            let prec = match op {
                CmpOp::Binary(BinaryOp::Or) => PREC_OR,
                CmpOp::Binary(BinaryOp::And) => PREC_AND,
                CmpOp::Binary(BinaryOp::Add | BinaryOp::Sub) => PREC_ADD,
                CmpOp::Binary(BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod) => PREC_MUL,
                _ => PREC_CMP,
            };
            if prec < min {
                return Ok(lhs);
            }
            self.deepen()?;
            lhs = self.apply_op(lhs, op, len, prec)?;
        }
    }

    /// Consume the operator (`len` tokens) and parse its right side.
    fn apply_op(&mut self, lhs: Expr, op: CmpOp, len: usize, prec: u8) -> PResult<Expr> {
        let op_span = Span {
            start: self.span().start,
            end: self.token(len - 1).span.end,
        };
        for _ in 0..len {
            self.bump();
        }
        match op {
            CmpOp::Binary(op) => {
                let rhs = self.binary_expr(prec + 1)?;
                Ok(binary(op, lhs, rhs))
            }
            CmpOp::List(op) => {
                let items = self.list_items(op_span)?;
                let span = self.span_from(lhs.span.start);
                Ok(Expr {
                    kind: ExprKind::InList {
                        expr: Box::new(lhs),
                        op,
                        items,
                    },
                    span,
                })
            }
            CmpOp::Between { negated } => self.between(lhs, negated, op_span),
        }
    }

    /// After `between`: `(lo .. hi)`.
    fn between(&mut self, lhs: Expr, negated: bool, op_span: Span) -> PResult<Expr> {
        let op_text = op_span.text(self.src);
        let opener = format!("{op_text} (");
        self.expect(&Tok::LParen, &format!("'(' after '{op_text}'"))?;
        let lo = self.add_expr()?;
        self.expect(&Tok::DotDot, "'..' between the bounds")?;
        let hi = self.add_expr()?;
        self.expect_close(&Tok::RParen, &opener)?;
        let span = self.span_from(lhs.span.start);
        Ok(Expr {
            kind: ExprKind::Between {
                expr: Box::new(lhs),
                lo: Box::new(lo),
                hi: Box::new(hi),
                negated,
            },
            span,
        })
    }

    /// The comparison-level operator at the cursor and how many tokens it takes.
    fn cmp_op(&self) -> Option<(CmpOp, usize)> {
        use BinaryOp::*;
        let simple = match self.peek() {
            Tok::EqEq => Some(Eq),
            Tok::NotEq => Some(NotEq),
            Tok::Lt => Some(Lt),
            Tok::Le => Some(Le),
            Tok::Gt => Some(Gt),
            Tok::Ge => Some(Ge),
            Tok::EqTilde => Some(EqCi),
            Tok::BangTilde => Some(NotEqCi),
            _ => None,
        };
        if let Some(op) = simple {
            return Some((CmpOp::Binary(op), 1));
        }
        let (negated, k) = if self.at(&Tok::Bang) && self.adjacent(1) {
            (true, 1)
        } else {
            (false, 0)
        };
        let Tok::Ident(word) = self.peek_n(k) else {
            return None;
        };
        let tilde = self.at_n(k + 1, &Tok::Tilde) && self.adjacent(k + 1);
        let op = match (word.as_str(), negated) {
            ("in", false) if tilde => (CmpOp::List(ListOp::InCi), 2),
            ("in", true) if tilde => (CmpOp::List(ListOp::NotInCi), 3),
            ("in", false) => (CmpOp::List(ListOp::In), 1),
            ("in", true) => (CmpOp::List(ListOp::NotIn), 2),
            ("has_any", false) => (CmpOp::List(ListOp::HasAny), 1),
            ("has_all", false) => (CmpOp::List(ListOp::HasAll), 1),
            ("between", negated) => (CmpOp::Between { negated }, k + 1),
            ("notbetween", false) => (CmpOp::Between { negated: true }, 1),
            ("matches", false) if self.at_kw_n(1, "regex") => (CmpOp::Binary(MatchesRegex), 2),
            ("notcontains", false) => (CmpOp::Binary(NotContains), 1),
            ("notcontains_cs", false) => (CmpOp::Binary(NotContainsCs), 1),
            (w, negated) => {
                let (pos, neg) = string_op(w)?;
                (CmpOp::Binary(if negated { neg } else { pos }), k + 1)
            }
        };
        Some(op)
    }

    /// `(a, b, ...)` or `(T | ...)` after `in`, `has_any`, ...; a single operand without
    /// parentheses is accepted too (`x in list`).
    fn list_items(&mut self, op_span: Span) -> PResult<Vec<Expr>> {
        if !self.at(&Tok::LParen) {
            return Ok(vec![self.add_expr()?]);
        }
        self.bump();
        let items = self.nested(|p| p.expr_list(&Tok::RParen))?;
        let opener = format!("{} (", op_span.text(self.src));
        self.expect_close(&Tok::RParen, &opener)?;
        Ok(items)
    }

    /// Comma-separated expressions (each may be tabular) up to `close`, not consumed.
    pub(super) fn expr_list(&mut self, close: &Tok) -> PResult<Vec<Expr>> {
        let mut items = Vec::new();
        if self.at(close) {
            return Ok(items);
        }
        loop {
            items.push(self.pipe_expr()?);
            if !self.eat(&Tok::Comma) || self.at(close) {
                return Ok(items);
            }
        }
    }

    pub(super) fn unary(&mut self) -> PResult<Expr> {
        let op = match self.peek() {
            Tok::Minus => UnaryOp::Neg,
            Tok::Plus => UnaryOp::Plus,
            _ => return self.postfix(),
        };
        let start = self.bump().span.start;
        let operand = self.nested(|p| p.unary())?;
        Ok(signed(op, operand, self.span_from(start)))
    }

    /// A primary followed by `.member`, `.['member']`, `[index]`.
    pub(super) fn postfix(&mut self) -> PResult<Expr> {
        let saved = self.depth;
        let r = self.postfix_chain();
        self.depth = saved;
        r
    }

    fn postfix_chain(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            e = match self.peek() {
                Tok::Dot => {
                    self.deepen()?;
                    self.member(e)?
                }
                Tok::LBracket => {
                    self.deepen()?;
                    self.index(e)?
                }
                _ => return Ok(e),
            };
        }
    }

    /// `.name` or `.['name']` after `base`.
    fn member(&mut self, base: Expr) -> PResult<Expr> {
        let start = base.span.start;
        self.bump();
        let member = self.name("a member name after '.'")?;
        Ok(Expr {
            kind: ExprKind::Member {
                base: Box::new(base),
                member,
            },
            span: self.span_from(start),
        })
    }

    /// `[index]` after `base`.
    fn index(&mut self, base: Expr) -> PResult<Expr> {
        let start = base.span.start;
        self.bump();
        let index = self.expr()?;
        self.expect_close(&Tok::RBracket, "[")?;
        Ok(Expr {
            kind: ExprKind::Index {
                base: Box::new(base),
                index: Box::new(index),
            },
            span: self.span_from(start),
        })
    }

    fn literal(&self, lit: Literal, start: u32) -> Expr {
        Expr {
            kind: ExprKind::Literal(lit),
            span: self.span_from(start),
        }
    }

    // The recursive path (expr → ... → primary → paren/call → pipe_expr → expr) is kept to
    // small functions: in debug builds every local of a function takes stack space, and a
    // nesting level must stay cheap for MAX_DEPTH levels to fit in a thread's stack.
    fn primary(&mut self) -> PResult<Expr> {
        match self.peek() {
            Tok::LParen => self.paren(),
            Tok::Ident(_) => self.ident_primary(),
            _ => self.atom(),
        }
    }

    fn paren(&mut self) -> PResult<Expr> {
        let start = self.bump().span.start;
        let inner = self.nested(|p| p.pipe_expr())?;
        self.expect_close(&Tok::RParen, "(")?;
        Ok(Expr {
            kind: ExprKind::Paren(Box::new(inner)),
            span: self.span_from(start),
        })
    }

    /// Literals, `$left`/`$right`, `*`, `['name']`.
    #[inline(never)]
    fn atom(&mut self) -> PResult<Expr> {
        let start = self.span().start;
        match self.peek().clone() {
            Tok::Long(v) => {
                self.bump();
                Ok(self.literal(Literal::Long(v), start))
            }
            Tok::Real(v) => {
                self.bump();
                Ok(self.literal(Literal::Real(v), start))
            }
            Tok::Timespan(v) => {
                self.bump();
                Ok(self.literal(Literal::Timespan(v), start))
            }
            Tok::Str(s) => {
                self.bump();
                // Adjacent string literals concatenate.
                let mut value = s;
                while let Tok::Str(more) = self.peek() {
                    value.push_str(more);
                    self.bump();
                }
                Ok(self.literal(Literal::String(value), start))
            }
            Tok::Dollar(side) => {
                self.bump();
                let kind = match side.as_str() {
                    "left" => ExprKind::JoinSide(JoinSide::Left),
                    "right" => ExprKind::JoinSide(JoinSide::Right),
                    _ => ExprKind::Name(format!("${side}")),
                };
                Ok(Expr {
                    kind,
                    span: self.span_from(start),
                })
            }
            Tok::Star => {
                self.bump();
                Ok(Expr {
                    kind: ExprKind::Star,
                    span: self.span_from(start),
                })
            }
            Tok::LBracket if self.name_len(0).is_some() => {
                let name = self.name("a name")?;
                Ok(Expr {
                    kind: ExprKind::Name(name.name),
                    span: name.span,
                })
            }
            _ => Err(self.expected("an expression")),
        }
    }

    /// A name, `true`/`false`/`null`, a literal constructor (`datetime(...)`), `not(...)`
    /// or a call.
    fn ident_primary(&mut self) -> PResult<Expr> {
        if !self.at_n(1, &Tok::LParen) {
            return self.bare_name();
        }
        if let Some(e) = self.typed_literal()? {
            return Ok(e);
        }
        self.call()
    }

    #[inline(never)]
    fn bare_name(&mut self) -> PResult<Expr> {
        let t = self.bump();
        let Tok::Ident(word) = t.tok else {
            return Err(self.error(t.span, "expected a name"));
        };
        let kind = match word.as_str() {
            "true" | "True" | "TRUE" => ExprKind::Literal(Literal::Bool(true)),
            "false" | "False" | "FALSE" => ExprKind::Literal(Literal::Bool(false)),
            "null" => ExprKind::Literal(Literal::Null),
            _ => ExprKind::Name(word),
        };
        Ok(Expr { kind, span: t.span })
    }

    /// `name(args)` (the cursor is at the name); `not(x)` is the unary `not`.
    fn call(&mut self) -> PResult<Expr> {
        let t = self.bump();
        let Tok::Ident(word) = t.tok else {
            return Err(self.error(t.span, "expected a function name"));
        };
        let opener = format!("{word}(");
        self.bump(); // (
        if word == "not" {
            let operand = self.nested(|p| p.expr())?;
            self.expect_close(&Tok::RParen, &opener)?;
            let kind = ExprKind::Unary {
                op: UnaryOp::Not,
                operand: Box::new(operand),
            };
            return Ok(Expr {
                kind,
                span: self.span_from(t.span.start),
            });
        }
        let args = self.call_args(&opener)?;
        let name = Ident {
            name: word,
            span: t.span,
        };
        Ok(Expr {
            kind: ExprKind::Call { name, args },
            span: self.span_from(t.span.start),
        })
    }

    /// Arguments after `(` through `)`. An argument may be tabular or `*`; a named argument
    /// (`name = value`, some plugins) keeps only its value.
    pub(super) fn call_args(&mut self, opener: &str) -> PResult<Vec<Expr>> {
        let args = self.nested(|p| {
            let mut args = Vec::new();
            if p.at(&Tok::RParen) {
                return Ok(args);
            }
            loop {
                if let Some(len) = p.name_len(0) {
                    if p.at_n(len, &Tok::Assign) {
                        for _ in 0..=len {
                            p.bump();
                        }
                    }
                }
                args.push(p.pipe_expr()?);
                if !p.eat(&Tok::Comma) {
                    return Ok(args);
                }
            }
        })?;
        self.expect_close(&Tok::RParen, opener)?;
        Ok(args)
    }

    /// `datetime(...)`, `dynamic(...)`, `timespan(...)`, `long(...)`, `typeof(...)`, ...:
    /// `None` if `word` is not a literal constructor (the cursor is then unchanged).
    #[inline(never)]
    fn typed_literal(&mut self) -> PResult<Option<Expr>> {
        let start = self.span().start;
        let Tok::Ident(word) = self.peek().clone() else {
            return Ok(None);
        };
        let word = word.as_str();
        const KINDS: &[&str] = &[
            "datetime", "date", "dynamic", "guid", "uniqueid", "time", "timespan", "bool",
            "boolean", "long", "int", "real", "double", "decimal", "typeof",
        ];
        if !KINDS.contains(&word) {
            return Ok(None);
        }
        self.bump();
        let opener = format!("{word}(");
        let (raw, span) = self.raw_parens(&opener)?;
        let text = raw.trim();
        let bad = |p: &mut Self, what: &str| -> Fail {
            p.error(span, format!("invalid {what} literal '{text}'"))
        };
        let lit = match word {
            "datetime" | "date" => Literal::Datetime(text.to_string()),
            "dynamic" => Literal::Dynamic(text.to_string()),
            "guid" | "uniqueid" => Literal::Guid(text.to_string()),
            "typeof" => {
                if text.is_empty() || !text.chars().all(|c| c == '_' || c.is_alphanumeric()) {
                    return Err(bad(self, "typeof"));
                }
                Literal::TypedNull(text.to_string())
            }
            _ if text == "null" => Literal::TypedNull(canonical_type(word).to_string()),
            "time" | "timespan" => {
                Literal::Timespan(parse_timespan(text).ok_or_else(|| bad(self, "timespan"))?)
            }
            "bool" | "boolean" => match text {
                "true" | "True" | "TRUE" | "1" => Literal::Bool(true),
                "false" | "False" | "FALSE" | "0" => Literal::Bool(false),
                _ => return Err(bad(self, "bool")),
            },
            "long" => Literal::Long(parse_int(text).ok_or_else(|| bad(self, "long"))?),
            "int" => match parse_int(text).map(i32::try_from) {
                Some(Ok(v)) => Literal::Int(v),
                _ => return Err(bad(self, "int")),
            },
            _ => Literal::Real(parse_real(text).ok_or_else(|| bad(self, word))?),
        };
        Ok(Some(self.literal(lit, start)))
    }

    /// `Name = expr`, `(A, B) = expr` or `expr` (projection lists, aggregates, `by` keys).
    pub(super) fn named_expr(&mut self) -> PResult<NamedExpr> {
        let start = self.span().start;
        let mut names = Vec::new();
        if let Some(len) = self.name_len(0) {
            if self.at_n(len, &Tok::Assign) {
                names.push(self.name("a column name")?);
                self.bump();
            }
        } else if self.at(&Tok::LParen) {
            if let Some(count) = self.tuple_names_len() {
                self.bump();
                while names.len() < count {
                    names.push(self.name("a column name")?);
                    self.eat(&Tok::Comma);
                }
                self.expect_close(&Tok::RParen, "(")?;
                self.expect(&Tok::Assign, "'='")?;
            }
        }
        let expr = self.expr()?;
        Ok(NamedExpr {
            names,
            expr,
            span: self.span_from(start),
        })
    }

    /// `(A, B, ...) =` at the cursor: the number of names.
    fn tuple_names_len(&self) -> Option<usize> {
        let mut n = 1;
        let mut count = 0;
        loop {
            let len = self.name_len(n)?;
            count += 1;
            n += len;
            match self.peek_n(n) {
                Tok::Comma => n += 1,
                Tok::RParen => return self.at_n(n + 1, &Tok::Assign).then_some(count),
                _ => return None,
            }
        }
    }

    /// Comma-separated [`Parser::named_expr`]s.
    pub(super) fn named_list(&mut self) -> PResult<Vec<NamedExpr>> {
        let mut items = vec![self.named_expr()?];
        while self.eat(&Tok::Comma) {
            items.push(self.named_expr()?);
        }
        Ok(items)
    }
}

/// `op operand`, with a minus folded into a number or timespan literal.
fn signed(op: UnaryOp, operand: Expr, span: Span) -> Expr {
    if let (UnaryOp::Neg, ExprKind::Literal(lit)) = (op, &operand.kind) {
        let folded = match *lit {
            Literal::Long(v) => Some(Literal::Long(v.wrapping_neg())),
            Literal::Real(v) => Some(Literal::Real(-v)),
            Literal::Timespan(v) => Some(Literal::Timespan(v.wrapping_neg())),
            _ => None,
        };
        if let Some(lit) = folded {
            return Expr {
                kind: ExprKind::Literal(lit),
                span,
            };
        }
    }
    Expr {
        kind: ExprKind::Unary {
            op,
            operand: Box::new(operand),
        },
        span,
    }
}

fn canonical_type(word: &str) -> &str {
    match word {
        "time" => "timespan",
        "boolean" => "bool",
        "double" => "real",
        "date" => "datetime",
        other => other,
    }
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text.strip_prefix('+').unwrap_or(text).trim_start()),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i64>().ok()?,
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

fn parse_real(text: &str) -> Option<f64> {
    match text {
        "nan" => Some(f64::NAN),
        "+inf" | "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => text
            .parse::<f64>()
            .ok()
            .or_else(|| parse_int(text).map(|v| v as f64)),
    }
}

/// The text of `time(...)`/`timespan(...)`: `[-][d.]hh:mm[:ss[.fraction]]`, a number with a
/// unit (`1.5h`), or a plain number of days; in nanoseconds.
pub(crate) fn parse_timespan(text: &str) -> Option<i64> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.trim()),
        None => (false, text),
    };
    let ns: f64 = if t.contains(':') {
        let mut parts = t.split(':');
        let first = parts.next()?;
        let (days, hours) = match first.split_once('.') {
            Some((d, h)) => (d.parse::<u64>().ok()?, h.parse::<u64>().ok()?),
            None => (0, first.parse::<u64>().ok()?),
        };
        let minutes: u64 = parts.next()?.parse().ok()?;
        let seconds: f64 = match parts.next() {
            Some(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.') => {
                s.parse().ok()?
            }
            Some(_) => return None,
            None => 0.0,
        };
        if parts.next().is_some() || hours > 23 || minutes > 59 || seconds >= 60.0 {
            return None;
        }
        ((days * 24 + hours) * 60 + minutes) as f64 * 60e9 + seconds * 1e9
    } else {
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let value: f64 = num.parse().ok()?;
        let unit = if unit.trim().is_empty() {
            86_400_000_000_000
        } else {
            timespan_unit(unit.trim())?
        };
        value * unit as f64
    };
    if !ns.is_finite() || ns.abs() >= i64::MAX as f64 {
        return None;
    }
    let ns = ns.round() as i64;
    Some(if neg { -ns } else { ns })
}
