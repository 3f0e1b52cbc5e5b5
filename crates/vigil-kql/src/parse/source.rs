//! Tabular expressions: a source (`T`, `datatable`, `range`, `print`, `union`, `search`,
//! `find`, a parenthesised query, a call) and the `| operator`s that follow it.

use super::ops::Params;
use super::{Fail, PResult, Parser, Stop};
use crate::ast::{Expr, ExprKind, Ident, Union};
use crate::lex::Tok;

/// Sources Vigil recognises but does not run.
const UNSUPPORTED_SOURCES: &[&str] = &[
    "find",
    "externaldata",
    "external_table",
    "evaluate",
    "cluster",
    "database",
];

/// Words that may start a source other than an expression.
const SOURCE_KEYWORDS: &[&str] = &[
    "datatable",
    "range",
    "print",
    "union",
    "search",
    "find",
    "externaldata",
    "external_table",
    "evaluate",
    "cluster",
    "database",
];

impl Parser<'_> {
    /// A tabular or scalar expression: a source and its `| operator`s.
    pub(super) fn pipe_expr(&mut self) -> PResult<Expr> {
        let start = self.span().start;
        let from = self.pos;
        let source = match self.source() {
            Ok(source) => source,
            Err(Fail) => self.source_failed(start, from)?,
        };
        if !self.at(&Tok::Pipe) {
            return Ok(source);
        }
        self.pipe_ops(source, start)
    }

    /// After a source that failed: go on with its operators if there are some.
    #[inline(never)]
    fn source_failed(&mut self, start: u32, from: usize) -> PResult<Expr> {
        if !self.at(&Tok::Pipe) {
            self.recover(from, Stop::Operator);
            if !self.at(&Tok::Pipe) {
                return Err(Fail);
            }
        }
        Ok(self.error_expr(start))
    }

    /// The `| operator`s after `source`.
    fn pipe_ops(&mut self, source: Expr, start: u32) -> PResult<Expr> {
        let mut ops = Vec::new();
        while self.eat(&Tok::Pipe) {
            let from = self.pos;
            match self.operator() {
                Ok(op) => ops.push(op),
                Err(Fail) => self.recover(from, Stop::Operator),
            }
            if !matches!(
                self.peek(),
                Tok::Pipe | Tok::Semi | Tok::RParen | Tok::RBrace | Tok::Eof
            ) {
                if self.blank_line_before() {
                    break;
                }
                let _ = self.expected("'|' or the end of the tabular expression");
                let from = self.pos;
                self.recover(from, Stop::Operator);
            }
        }
        Ok(Expr {
            kind: ExprKind::Pipe {
                source: Box::new(source),
                ops,
            },
            span: self.span_from(start),
        })
    }

    fn source(&mut self) -> PResult<Expr> {
        match self.peek() {
            Tok::Ident(w) if SOURCE_KEYWORDS.contains(&w.as_str()) => self.special_source(),
            _ => self.expr(),
        }
    }

    /// `datatable`, `range`, `print`, `union`, `search`, `find`, ... (or an expression that
    /// merely starts with one of those words).
    #[inline(never)]
    fn special_source(&mut self) -> PResult<Expr> {
        let start = self.span().start;
        let Tok::Ident(word) = self.peek().clone() else {
            return self.expr();
        };
        let next_is_paren = self.at_n(1, &Tok::LParen);
        let kind = match word.as_str() {
            "datatable" if next_is_paren || self.at_kw_n(1, "with") => {
                self.bump();
                self.datatable()?
            }
            "range" if self.name_len(1).is_some() && !next_is_paren => {
                self.bump();
                let column = self.name("a column name after 'range'")?;
                self.expect_kw("from")?;
                let from = self.expr()?;
                self.expect_kw("to")?;
                let to = self.expr()?;
                self.expect_kw("step")?;
                let step = self.expr()?;
                ExprKind::Range {
                    column,
                    from: Box::new(from),
                    to: Box::new(to),
                    step: Box::new(step),
                }
            }
            "print" => {
                self.bump();
                let columns = if self.at_boundary() {
                    Vec::new()
                } else {
                    self.named_list()?
                };
                ExprKind::Print { columns }
            }
            "union" => {
                self.bump();
                ExprKind::Union(self.union_body()?)
            }
            "search" => {
                self.bump();
                let (tables, predicate) = self.search_body()?;
                ExprKind::Search {
                    tables,
                    predicate: Box::new(predicate),
                }
            }
            w if UNSUPPORTED_SOURCES.contains(&w)
                && (w != "cluster" && w != "database" || next_is_paren) =>
            {
                self.bump();
                self.skip_operator_rest();
                ExprKind::Unsupported { what: word }
            }
            _ => return self.expr(),
        };
        Ok(Expr {
            kind,
            span: self.span_from(start),
        })
    }

    /// Skip to the end of the current operator (next top-level `|`, `;` or outer closer).
    pub(super) fn skip_operator_rest(&mut self) {
        let from = self.pos;
        self.recover(from, Stop::Operator);
    }

    /// After `datatable`: `[with (...)] (Col: type, ...) [ values ]`.
    fn datatable(&mut self) -> PResult<ExprKind> {
        if self.eat_kw("with") && self.at(&Tok::LParen) {
            self.raw_parens("with (")?;
        }
        self.expect(&Tok::LParen, "'(' and the column list after 'datatable'")?;
        let columns = self.column_types()?;
        self.expect_close(&Tok::RParen, "datatable(")?;
        self.expect(&Tok::LBracket, "'[' and the values of the datatable")?;
        let values = self.nested(|p| p.expr_list(&Tok::RBracket))?;
        self.eat(&Tok::Comma); // a trailing comma is allowed
        self.expect_close(&Tok::RBracket, "datatable(...) [")?;
        Ok(ExprKind::Datatable { columns, values })
    }

    /// After `union`: `[params] T1, T2*, (subquery), ...`.
    pub(super) fn union_body(&mut self) -> PResult<Union> {
        let params = self.op_params(Params::Any)?;
        let mut tables = Vec::new();
        loop {
            let start = self.span().start;
            let table = if self.at(&Tok::LParen) {
                self.postfix()?
            } else {
                let name = self.name_pattern("a table name or '(' subquery ')'")?;
                if !name.name.contains('*') && self.at(&Tok::LParen) {
                    self.bump();
                    let opener = format!("{}(", name.name);
                    let args = self.call_args(&opener)?;
                    Expr {
                        kind: ExprKind::Call { name, args },
                        span: self.span_from(start),
                    }
                } else {
                    Expr {
                        kind: ExprKind::Name(name.name),
                        span: name.span,
                    }
                }
            };
            tables.push(table);
            if !self.eat(&Tok::Comma) {
                return Ok(Union { params, tables });
            }
        }
    }

    /// After `search`: `[params] [in (T1, T2)] predicate`.
    pub(super) fn search_body(&mut self) -> PResult<(Vec<Ident>, Expr)> {
        self.op_params(Params::Any)?;
        let mut tables = Vec::new();
        if self.at_kw("in") && self.at_n(1, &Tok::LParen) {
            self.bump();
            self.bump();
            loop {
                tables.push(self.name_pattern("a table name")?);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
            self.expect_close(&Tok::RParen, "in (")?;
        }
        let predicate = self.expr()?;
        Ok((tables, predicate))
    }
}
