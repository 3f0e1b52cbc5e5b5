//! The KQL parser: tokens → [`Query`] plus every syntax diagnostic.
//!
//! A hand-written recursive-descent parser. Each failure pushes one diagnostic and unwinds
//! (with [`Fail`]) to the nearest recovery point: the next top-level `|` for a tabular
//! operator, the next `;` for a statement. So one query can report several errors, and the
//! tree keeps everything that parsed (failed parts are left out, or are [`ExprKind::Error`]).
//!
//! Submodules: `expr` (scalar expressions and literals), `source` (tabular sources and the
//! pipeline), `ops` (the operators after `|`).
//!
//! **Invariant:** no input panics the parser and nesting is bounded by [`MAX_DEPTH`].

mod expr;
mod ops;
mod source;

use crate::ast::{
    Expr, ExprKind, Function, Ident, Let, LetValue, Param, ParamType, Query, Statement, TypeName,
};
use crate::lex::{lex_from, Tok, Token};
use crate::span::{DiagKind, Diagnostic, Span};

/// Deepest nesting of expressions: each parenthesis, call, list, unary operator, function
/// body, subquery and each link of an operator chain (`a + b + c`, `a.b.c`) is one level.
/// Measured in a debug build, 128 levels take at most ~0.8 MiB of stack (a thread's default
/// is 2 MiB); real hunting queries nest fewer than 20.
pub const MAX_DEPTH: u32 = 128;

/// Parse `src` into a query and every syntax diagnostic.
///
/// The query is `None` only when nothing at all could be parsed (empty input gives an empty
/// query and no diagnostic).
pub fn parse(src: &str) -> (Option<Query>, Vec<Diagnostic>) {
    let mut p = Parser::new(src);
    let query = p.query();
    let Parser { diags, .. } = p;
    if query.statements.is_empty() && !diags.is_empty() {
        return (None, diags);
    }
    (Some(query), diags)
}

/// A parse failure whose diagnostic has already been recorded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fail;

pub(crate) type PResult<T> = Result<T, Fail>;

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
    depth: u32,
}

/// How far error recovery skips.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Up to the next `|` or `;` of the same nesting level, or a bracket closing an outer one.
    Operator,
    /// Up to the next `;` of the same level, or a bracket closing an outer one.
    Statement,
    /// Up to the next top-level `;`; stray closing brackets are skipped.
    TopStatement,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        Parser {
            src,
            toks: lex_from(src, 0),
            pos: 0,
            diags: Vec::new(),
            depth: 0,
        }
    }

    // ----- token cursor -----

    fn token(&self, n: usize) -> &Token {
        let last = self.toks.len() - 1;
        &self.toks[(self.pos + n).min(last)]
    }

    fn peek(&self) -> &Tok {
        &self.token(0).tok
    }

    fn peek_n(&self, n: usize) -> &Tok {
        &self.token(n).tok
    }

    fn span(&self) -> Span {
        self.token(0).span
    }

    /// End of the last consumed token (start of the current one at the beginning).
    fn prev_end(&self) -> u32 {
        if self.pos == 0 {
            self.span().start
        } else {
            self.toks[self.pos - 1].span.end
        }
    }

    /// Span from `start` to the end of the last consumed token.
    fn span_from(&self, start: u32) -> Span {
        Span {
            start,
            end: self.prev_end().max(start),
        }
    }

    fn bump(&mut self) -> Token {
        let t = self.token(0).clone();
        if !matches!(t.tok, Tok::Eof) {
            self.pos += 1;
        }
        t
    }

    fn at(&self, tok: &Tok) -> bool {
        self.peek() == tok
    }

    fn at_n(&self, n: usize, tok: &Tok) -> bool {
        self.peek_n(n) == tok
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.at(tok) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// The current token is the identifier `kw` (KQL keywords are case-sensitive).
    fn at_kw(&self, kw: &str) -> bool {
        self.at_kw_n(0, kw)
    }

    fn at_kw_n(&self, n: usize, kw: &str) -> bool {
        matches!(self.peek_n(n), Tok::Ident(s) if s == kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Token `n` starts exactly where token `n - 1` ends (no space or comment between).
    fn adjacent(&self, n: usize) -> bool {
        n > 0
            && self.pos + n < self.toks.len()
            && self.token(n - 1).span.end == self.token(n).span.start
    }

    /// The text of the current token.
    fn text(&self) -> &'a str {
        self.span().text(self.src)
    }

    /// A blank line lies between the previous token and the current one. Like Kusto
    /// Explorer and the advanced-hunting editor, a blank line ends a complete statement
    /// (several queries in one text); it is only consulted where the statement could not go on.
    fn blank_line_before(&self) -> bool {
        if self.pos == 0 {
            return false;
        }
        let gap = Span {
            start: self.prev_end(),
            end: self.span().start,
        }
        .text(self.src);
        let lines: Vec<&str> = gap.split('\n').collect();
        lines.len() > 2
            && lines[1..lines.len() - 1]
                .iter()
                .any(|l| l.chars().all(crate::lex::is_space))
    }

    fn at_boundary(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Pipe | Tok::Semi | Tok::RParen | Tok::RBrace | Tok::RBracket | Tok::Eof
        )
    }

    // ----- diagnostics -----

    fn error(&mut self, span: Span, message: impl Into<String>) -> Fail {
        self.diags
            .push(Diagnostic::error(DiagKind::Syntax, span, message));
        Fail
    }

    /// "expected {what} but found {current token}", at the current token.
    fn expected(&mut self, what: &str) -> Fail {
        let token = self.token(0).clone();
        let message = format!(
            "expected {what} but found {}",
            token.tok.describe(self.text())
        );
        self.error(token.span, message)
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> PResult<Span> {
        if self.at(tok) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(what))
        }
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<Span> {
        if self.at_kw(kw) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("'{kw}'")))
        }
    }

    /// Expect the `)` that closes `opener` (as written, e.g. `datatable(`).
    fn expect_close(&mut self, close: &Tok, opener: &str) -> PResult<Span> {
        let closer = match close {
            Tok::RParen => ")",
            Tok::RBracket => "]",
            _ => "}",
        };
        self.expect(close, &format!("'{closer}' to close '{opener}'"))
    }

    // ----- nesting and recovery -----

    /// Run `f` one nesting level deeper; fails with a diagnostic past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.deepen()?;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// One more level of tree depth inside a loop that builds a left-deep chain (`a + b + c`,
    /// `a.b.c`): such a chain is as deep as nested parentheses (and as costly to drop), so it
    /// counts against the same limit. The loop's caller restores the depth when the chain ends.
    fn deepen(&mut self) -> PResult<()> {
        if self.depth >= MAX_DEPTH {
            let span = self.span();
            return Err(self.error(
                span,
                format!("query nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    /// Skip tokens after a failure in something that began at token index `from`.
    fn recover(&mut self, from: usize, stop: Stop) {
        // Brackets opened since `from` and not yet closed still belong to the failed part;
        // a `;` ends it anyway unless a `{` (function body) is open.
        let (mut depth, mut braces) = (0i32, 0i32);
        let track = |tok: &Tok, depth: &mut i32, braces: &mut i32| match tok {
            Tok::LParen | Tok::LBracket => *depth += 1,
            Tok::LBrace => {
                *depth += 1;
                *braces += 1;
            }
            Tok::RParen | Tok::RBracket => *depth = (*depth - 1).max(0),
            Tok::RBrace => {
                *depth = (*depth - 1).max(0);
                *braces = (*braces - 1).max(0);
            }
            _ => {}
        };
        for t in &self.toks[from.min(self.pos)..self.pos] {
            track(&t.tok, &mut depth, &mut braces);
        }
        loop {
            match self.peek() {
                Tok::Eof => return,
                Tok::RParen | Tok::RBracket | Tok::RBrace
                    if depth == 0 && stop != Stop::TopStatement =>
                {
                    return
                }
                Tok::Pipe if depth == 0 && stop == Stop::Operator => return,
                Tok::Semi if depth == 0 || braces == 0 => return,
                tok => {
                    let tok = tok.clone();
                    track(&tok, &mut depth, &mut braces);
                }
            }
            self.bump();
        }
    }

    /// The current token is `(`: return the raw text up to its matching `)` (quotes and
    /// nested brackets respected) and continue after it. For `datetime(...)`, `dynamic(...)`,
    /// `render ... with (...)`, whose contents are not KQL tokens.
    fn raw_parens(&mut self, opener: &str) -> PResult<(String, Span)> {
        let open = self.span();
        let body_start = open.end as usize;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut end = None;
        for (i, c) in self.src[body_start..].char_indices() {
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth > 0 => depth -= 1,
                ')' => {
                    end = Some(body_start + i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            self.resync(self.src.len());
            return Err(self.expected(&format!("')' to close '{opener}'")));
        };
        self.resync(end);
        self.bump(); // the ')'
        Ok((
            self.src[body_start..end].to_string(),
            Span::new(body_start, end),
        ))
    }

    /// Continue at byte `offset` (a token boundary in the source), re-lexing if the tokens
    /// lexed so far straddle it.
    fn resync(&mut self, offset: usize) {
        let mut j = self.pos;
        while j < self.toks.len() - 1 && (self.toks[j].span.start as usize) < offset {
            j += 1;
        }
        let straddles = j > 0 && (self.toks[j - 1].span.end as usize) > offset;
        let aligned =
            self.toks[j].span.start as usize == offset || matches!(self.toks[j].tok, Tok::Eof);
        if straddles || !aligned {
            self.toks.truncate(self.pos);
            self.toks.extend(lex_from(self.src, offset));
        } else {
            self.pos = j;
        }
    }

    // ----- statements -----

    fn query(&mut self) -> Query {
        let mut statements = Vec::new();
        loop {
            while self.eat(&Tok::Semi) {}
            if self.at(&Tok::Eof) {
                break;
            }
            let start = self.pos;
            match self.statement() {
                Ok(s) => statements.push(s),
                Err(Fail) => self.recover(start, Stop::TopStatement),
            }
            if !matches!(self.peek(), Tok::Semi | Tok::Eof) && !self.blank_line_before() {
                let _ = self.expected("';' or end of query");
                let from = self.pos;
                self.recover(from, Stop::TopStatement);
            }
        }
        Query { statements }
    }

    /// Statements up to a closing `}` (a function body); recovery stops at the `}`.
    fn body_statements(&mut self) -> Vec<Statement> {
        let mut statements = Vec::new();
        loop {
            while self.eat(&Tok::Semi) {}
            if matches!(self.peek(), Tok::RBrace | Tok::Eof) {
                break;
            }
            let start = self.pos;
            match self.statement() {
                Ok(s) => statements.push(s),
                Err(Fail) => self.recover(start, Stop::Statement),
            }
            if !matches!(self.peek(), Tok::Semi | Tok::RBrace | Tok::Eof) {
                let _ = self.expected("';' or '}'");
                let from = self.pos;
                self.recover(from, Stop::Statement);
                if !matches!(self.peek(), Tok::Semi | Tok::RBrace | Tok::Eof) {
                    self.bump(); // a stray closer: skip it so that the loop advances
                }
            }
        }
        statements
    }

    fn statement(&mut self) -> PResult<Statement> {
        let start = self.span().start;
        if self.at_kw("let") {
            self.bump();
            return self.let_statement(start).map(Statement::Let);
        }
        let special = ["set", "declare", "alias", "restrict", "pattern"]
            .iter()
            .any(|kw| self.at_kw(kw));
        if special && matches!(self.peek_n(1), Tok::Ident(_) | Tok::LBracket) {
            return self.keyword_statement(start);
        }
        Ok(Statement::Expr(self.pipe_expr()?))
    }

    #[inline(never)]
    fn keyword_statement(&mut self, start: u32) -> PResult<Statement> {
        if self.at_kw("set") && matches!(self.peek_n(1), Tok::Ident(_)) {
            self.bump();
            let name = self.dotted_name()?;
            let value = if self.eat(&Tok::Assign) {
                Some(self.expr()?)
            } else {
                None
            };
            return Ok(Statement::Set {
                name,
                value,
                span: self.span_from(start),
            });
        }
        if self.at_kw("declare") && self.at_kw_n(1, "query_parameters") {
            self.bump();
            self.bump();
            self.expect(&Tok::LParen, "'(' after 'declare query_parameters'")?;
            let params = self.params("declare query_parameters(")?;
            return Ok(Statement::DeclareParams {
                params,
                span: self.span_from(start),
            });
        }
        if self.at_kw("alias") || self.at_kw("restrict") || self.at_kw("pattern") {
            let what = self.text().to_string();
            let span = self.span();
            self.recover(self.pos, Stop::Statement);
            let span = span.to(self.span_from(span.start));
            return Ok(Statement::Expr(Expr {
                kind: ExprKind::Unsupported { what },
                span,
            }));
        }
        Ok(Statement::Expr(self.pipe_expr()?))
    }

    fn let_statement(&mut self, start: u32) -> PResult<Let> {
        let name = self.name("a name after 'let'")?;
        self.expect(&Tok::Assign, "'=' after the name in 'let'")?;
        let value = if self.at_function() {
            LetValue::Function(self.function()?)
        } else {
            LetValue::Expr(self.pipe_expr()?)
        };
        Ok(Let {
            name,
            value,
            span: self.span_from(start),
        })
    }

    /// `(` `)` `{`, `(` name `:`, or `view (`: a function definition follows.
    fn at_function(&self) -> bool {
        let k = usize::from(self.at_kw("view"));
        if !self.at_n(k, &Tok::LParen) {
            return false;
        }
        if self.at_n(k + 1, &Tok::RParen) {
            return k == 1 || self.at_n(k + 2, &Tok::LBrace);
        }
        match self.name_len(k + 1) {
            Some(len) => self.at_n(k + 1 + len, &Tok::Colon),
            None => false,
        }
    }

    fn function(&mut self) -> PResult<Function> {
        let start = self.span().start;
        self.eat_kw("view");
        self.expect(&Tok::LParen, "'(' to start the parameters")?;
        let params = self.params("(")?;
        self.expect(&Tok::LBrace, "'{' to start the function body")?;
        let body = self.nested(|p| Ok(p.body_statements()))?;
        self.expect_close(&Tok::RBrace, "{")?;
        Ok(Function {
            params,
            body,
            span: self.span_from(start),
        })
    }

    /// Parameters after `(` up to and including `)`: `name: type [= default]`, `T: (*)`.
    fn params(&mut self, opener: &str) -> PResult<Vec<Param>> {
        let mut params = Vec::new();
        if self.eat(&Tok::RParen) {
            return Ok(params);
        }
        loop {
            let start = self.span().start;
            let name = self.name("a parameter name")?;
            self.expect(&Tok::Colon, "':' and a type after the parameter name")?;
            let ty = if self.eat(&Tok::LParen) {
                let mut cols = Vec::new();
                if !self.eat(&Tok::Star) {
                    cols = self.column_types()?;
                    if cols.is_empty() {
                        self.eat(&Tok::Star);
                    }
                }
                if self.at(&Tok::Comma) && self.at_n(1, &Tok::Star) {
                    self.bump();
                    self.bump();
                }
                self.expect_close(&Tok::RParen, "(")?;
                ParamType::Tabular(cols)
            } else {
                ParamType::Scalar(self.type_name()?)
            };
            let default = if self.eat(&Tok::Assign) {
                Some(self.expr()?)
            } else {
                None
            };
            params.push(Param {
                name,
                ty,
                default,
                span: self.span_from(start),
            });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect_close(&Tok::RParen, opener)?;
        Ok(params)
    }

    /// `Name: type, ...` (stops before the closing bracket, which it does not consume).
    fn column_types(&mut self) -> PResult<Vec<(Ident, TypeName)>> {
        let mut cols = Vec::new();
        while self.name_len(0).is_some() {
            let name = self.name("a column name")?;
            self.expect(&Tok::Colon, "':' and a type after the column name")?;
            let ty = self.type_name()?;
            cols.push((name, ty));
            if !(self.at(&Tok::Comma) && self.name_len(1).is_some()) {
                break;
            }
            self.bump();
        }
        Ok(cols)
    }

    fn type_name(&mut self) -> PResult<TypeName> {
        match self.peek() {
            Tok::Ident(name) => {
                let name = name.clone();
                let span = self.bump().span;
                Ok(TypeName { name, span })
            }
            _ => Err(self.expected(
                "a type name (string, long, int, real, bool, datetime, timespan, dynamic, guid)",
            )),
        }
    }

    // ----- names -----

    /// If a name starts at token `n`, how many tokens it takes: an identifier (1) or
    /// `['name']` / `["name"]` (3).
    fn name_len(&self, n: usize) -> Option<usize> {
        match self.peek_n(n) {
            Tok::Ident(_) => Some(1),
            // `$table` (the column `search` and `union` add); not `$left`/`$right`.
            Tok::Dollar(s) if s != "left" && s != "right" => Some(1),
            Tok::LBracket
                if matches!(self.peek_n(n + 1), Tok::Str(_))
                    && self.at_n(n + 2, &Tok::RBracket) =>
            {
                Some(3)
            }
            _ => None,
        }
    }

    /// An identifier or `['name']`.
    fn name(&mut self, what: &str) -> PResult<Ident> {
        let start = self.span().start;
        match self.name_len(0) {
            Some(1) => match self.bump().tok {
                Tok::Ident(name) => Ok(Ident {
                    name,
                    span: self.span_from(start),
                }),
                Tok::Dollar(name) => Ok(Ident {
                    name: format!("${name}"),
                    span: self.span_from(start),
                }),
                _ => Err(self.expected(what)),
            },
            Some(_) => {
                self.bump();
                let Tok::Str(name) = self.bump().tok else {
                    return Err(self.expected(what));
                };
                self.bump();
                Ok(Ident {
                    name,
                    span: self.span_from(start),
                })
            }
            None => Err(self.expected(what)),
        }
    }

    /// `a.b.c` (option names such as `hint.strategy`) as one identifier.
    fn dotted_name(&mut self) -> PResult<Ident> {
        let first = self.name("a name")?;
        let mut name = first.name;
        while self.at(&Tok::Dot) && matches!(self.peek_n(1), Tok::Ident(_)) {
            self.bump();
            if let Tok::Ident(part) = self.bump().tok {
                name.push('.');
                name.push_str(&part);
            }
        }
        Ok(Ident {
            name,
            span: self.span_from(first.span.start),
        })
    }

    /// A column name that may contain `*` wildcards (`Device*`, `*Id`), or `['name']`.
    fn name_pattern(&mut self, what: &str) -> PResult<Ident> {
        if self.name_len(0) == Some(3) {
            return self.name(what);
        }
        let start = self.span().start;
        let mut name = String::new();
        let mut n = 0;
        loop {
            if n > 0 && self.prev_end() != self.span().start {
                break;
            }
            match self.peek() {
                Tok::Ident(s) => name.push_str(s),
                Tok::Dollar(s) if n == 0 => {
                    name.push('$');
                    name.push_str(s);
                }
                Tok::Star => name.push('*'),
                _ => break,
            }
            self.bump();
            n += 1;
        }
        if n == 0 {
            return Err(self.expected(what));
        }
        Ok(Ident {
            name,
            span: self.span_from(start),
        })
    }

    fn error_expr(&self, start: u32) -> Expr {
        Expr {
            kind: ExprKind::Error,
            span: self.span_from(start),
        }
    }
}
