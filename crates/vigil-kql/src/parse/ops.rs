//! The tabular operators after each `|`.

use super::{Fail, PResult, Parser, Stop};
use crate::ast::{
    Expr, ExprKind, Ident, MakeSeriesAgg, MvExpandColumn, NamedExpr, OpParam, Operator,
    OperatorKind, ParsePart, SortKey, TopNestedLevel, TypeName,
};
use crate::lex::Tok;

/// Operators Vigil recognises but does not run: parsed as `Unsupported`, not as errors.
const UNSUPPORTED_OPERATORS: &[&str] = &[
    "fork",
    "facet",
    "reduce",
    "sample-distinct",
    "partition",
    "scan",
    "top-hitters",
    "parse-kv",
    "make-graph",
    "graph-match",
    "graph-merge",
    "graph-shortest-paths",
    "graph-to-table",
    "graph-mark-components",
    "consume",
    "execute-and-cache",
    "assert-schema",
    "macro-expand",
    "project-smart",
    "externaldata",
    "find",
];

/// Which `name=value` options an operator takes before its arguments.
#[derive(Clone, Copy)]
pub(super) enum Params {
    /// Any `name=value` (or `hint.x=value`): the operator has no named arguments of its own.
    Any,
    /// Only `hint.*` and the listed names (operators whose arguments may be `Name = expr`).
    Only(&'static [&'static str]),
}

impl Parser<'_> {
    /// `name=value` options (`kind=inner`, `hint.strategy=broadcast`, `withsource=T`).
    pub(super) fn op_params(&mut self, which: Params) -> PResult<Vec<OpParam>> {
        let mut params = Vec::new();
        // The option's name may be dotted: count its tokens.
        while let Tok::Ident(first) = self.peek() {
            let mut n = 1;
            while self.at_n(n, &Tok::Dot) && matches!(self.peek_n(n + 1), Tok::Ident(_)) {
                n += 2;
            }
            if !self.at_n(n, &Tok::Assign) {
                break;
            }
            let allowed = match which {
                Params::Any => true,
                Params::Only(names) => first == "hint" || names.contains(&first.as_str()),
            };
            if !allowed {
                break;
            }
            let name = self.dotted_name()?;
            self.bump(); // =
            let start = self.span().start;
            let value = match self.peek().clone() {
                Tok::Ident(word) => {
                    self.bump();
                    let kind = match word.as_str() {
                        "true" => ExprKind::Literal(crate::ast::Literal::Bool(true)),
                        "false" => ExprKind::Literal(crate::ast::Literal::Bool(false)),
                        _ => ExprKind::Name(word),
                    };
                    Expr {
                        kind,
                        span: self.span_from(start),
                    }
                }
                _ => self.unary()?,
            };
            params.push(OpParam { name, value });
        }
        Ok(params)
    }

    /// The operator name after `|`: `where`, `project-away` (hyphenated parts glued).
    fn operator_name(&mut self) -> PResult<Ident> {
        let start = self.span().start;
        let Tok::Ident(first) = self.peek().clone() else {
            return Err(self.expected("a tabular operator after '|'"));
        };
        self.bump();
        let mut name = first;
        while self.at(&Tok::Minus) && self.adjacent(1) && self.prev_end() == self.span().start {
            let Tok::Ident(part) = self.peek_n(1).clone() else {
                break;
            };
            self.bump();
            self.bump();
            name.push('-');
            name.push_str(&part);
        }
        Ok(Ident {
            name,
            span: self.span_from(start),
        })
    }

    pub(super) fn operator(&mut self) -> PResult<Operator> {
        let start = self.span().start;
        let name = self.operator_name()?;
        let kind = self.operator_kind(name)?;
        Ok(Operator {
            kind,
            span: self.span_from(start),
        })
    }

    /// The operator's arguments after its name. Each operator with more than a line of
    /// syntax has its own function so that this dispatcher's stack frame stays small (it is
    /// on the recursive path of nested subqueries).
    fn operator_kind(&mut self, name: Ident) -> PResult<OperatorKind> {
        // A table of parse functions rather than one big `match` of calls: in debug builds
        // every arm's result would take its own stack slot in this frame.
        type OpFn = for<'p> fn(&mut Parser<'p>, Ident) -> PResult<OperatorKind>;
        let parse: OpFn = match name.name.as_str() {
            "where" | "filter" => |p, _| Ok(OperatorKind::Where(p.expr()?)),
            "project" => |p, _| Ok(OperatorKind::Project(p.named_list()?)),
            "project-away" => |p, _| Ok(OperatorKind::ProjectAway(p.pattern_list()?)),
            "project-keep" => |p, _| Ok(OperatorKind::ProjectKeep(p.pattern_list()?)),
            "project-reorder" => |p, _| Ok(OperatorKind::ProjectReorder(p.pattern_list()?)),
            "project-rename" => |p, _| p.project_rename(),
            "extend" => |p, _| Ok(OperatorKind::Extend(p.named_list()?)),
            "summarize" => |p, _| p.summarize(),
            "count" => |_, _| Ok(OperatorKind::Count),
            "distinct" => |p, _| {
                p.op_params(Params::Only(&[]))?;
                Ok(OperatorKind::Distinct(p.named_list()?))
            },
            "top" => |p, _| p.top(),
            "top-nested" => |p, _| p.top_nested(),
            "take" | "limit" => |p, _| {
                p.op_params(Params::Only(&[]))?;
                Ok(OperatorKind::Take(p.expr()?))
            },
            "sort" | "order" => |p, _| p.sort(),
            "join" => |p, _| p.join(true),
            "lookup" => |p, _| p.join(false),
            "union" => |p, _| Ok(OperatorKind::Union(p.union_body()?)),
            "mv-expand" | "mvexpand" => |p, _| p.mv_expand(),
            "mv-apply" | "mvapply" => |p, _| p.mv_apply(),
            "parse" => |p, _| p.parse_op(true),
            "parse-where" => |p, _| p.parse_op(false),
            "make-series" | "makeseries" => |p, _| p.make_series(),
            "evaluate" => |p, _| p.evaluate(),
            "serialize" => |p, _| {
                Ok(OperatorKind::Serialize(if p.at_boundary() {
                    Vec::new()
                } else {
                    p.named_list()?
                }))
            },
            "render" => |p, _| p.render(),
            "invoke" => |p, _| p.invoke(),
            "as" => |p, _| {
                p.op_params(Params::Any)?;
                Ok(OperatorKind::As(p.name("a name after 'as'")?))
            },
            "search" => |p, _| Ok(OperatorKind::Search(p.search_body()?.1)),
            "getschema" => |_, _| Ok(OperatorKind::GetSchema),
            "sample" => |p, _| Ok(OperatorKind::Sample(p.expr()?)),
            other if UNSUPPORTED_OPERATORS.contains(&other) => |p, name| {
                p.skip_operator_rest();
                Ok(OperatorKind::Unsupported { name: name.name })
            },
            _ => |p, name| {
                let message = format!(
                    "expected a tabular operator after '|' but found '{}'",
                    name.name
                );
                Err(p.error(name.span, message))
            },
        };
        parse(self, name)
    }

    fn project_rename(&mut self) -> PResult<OperatorKind> {
        let mut pairs = Vec::new();
        loop {
            let new = self.name("the new column name")?;
            self.expect(&Tok::Assign, "'=' after the new column name")?;
            let old = self.name("the column to rename")?;
            pairs.push((new, old));
            if !self.eat(&Tok::Comma) {
                return Ok(OperatorKind::ProjectRename(pairs));
            }
        }
    }

    fn summarize(&mut self) -> PResult<OperatorKind> {
        let params = self.op_params(Params::Only(&[]))?;
        let aggregates = if self.at_kw("by") || self.at_boundary() {
            Vec::new()
        } else {
            self.named_list()?
        };
        let by = if self.eat_kw("by") {
            self.named_list()?
        } else {
            Vec::new()
        };
        Ok(OperatorKind::Summarize {
            params,
            aggregates,
            by,
        })
    }

    fn top(&mut self) -> PResult<OperatorKind> {
        let count = self.expr()?;
        self.expect_kw("by")?;
        Ok(OperatorKind::Top {
            count,
            key: self.sort_key()?,
        })
    }

    fn sort(&mut self) -> PResult<OperatorKind> {
        self.op_params(Params::Only(&[]))?;
        self.expect_kw("by")?;
        let mut keys = vec![self.sort_key()?];
        while self.eat(&Tok::Comma) {
            keys.push(self.sort_key()?);
        }
        Ok(OperatorKind::Sort(keys))
    }

    fn join(&mut self, is_join: bool) -> PResult<OperatorKind> {
        let params = self.op_params(Params::Any)?;
        let right = Box::new(self.right_table()?);
        self.expect_kw("on")?;
        let mut on = vec![self.expr()?];
        while self.eat(&Tok::Comma) {
            on.push(self.expr()?);
        }
        Ok(if is_join {
            OperatorKind::Join { params, right, on }
        } else {
            OperatorKind::Lookup { params, right, on }
        })
    }

    fn mv_expand(&mut self) -> PResult<OperatorKind> {
        let (params, columns, limit) = self.mv_columns()?;
        Ok(OperatorKind::MvExpand {
            params,
            columns,
            limit,
        })
    }

    fn mv_apply(&mut self) -> PResult<OperatorKind> {
        let (params, columns, limit) = self.mv_columns()?;
        self.expect_kw("on")?;
        let body = self.subquery_ops("on (")?;
        Ok(OperatorKind::MvApply {
            params,
            columns,
            limit,
            body,
        })
    }

    fn parse_op(&mut self, keep_unmatched: bool) -> PResult<OperatorKind> {
        let params = self.op_params(Params::Any)?;
        let source = self.expr()?;
        self.expect_kw("with")?;
        let pattern = self.parse_pattern()?;
        Ok(if keep_unmatched {
            OperatorKind::Parse {
                params,
                source,
                pattern,
            }
        } else {
            OperatorKind::ParseWhere {
                params,
                source,
                pattern,
            }
        })
    }

    fn evaluate(&mut self) -> PResult<OperatorKind> {
        let params = self.op_params(Params::Any)?;
        let plugin = self.name("a plugin name after 'evaluate'")?;
        let opener = format!("{}(", plugin.name);
        self.expect(&Tok::LParen, &format!("'(' after '{}'", plugin.name))?;
        let args = self.call_args(&opener)?;
        // An optional output schema: `: (Col: type, ...)`.
        if self.at(&Tok::Colon) {
            self.skip_operator_rest();
        }
        Ok(OperatorKind::Evaluate {
            params,
            plugin,
            args,
        })
    }

    fn render(&mut self) -> PResult<OperatorKind> {
        let chart = self.name("a chart kind after 'render'")?;
        let with = if self.at_kw("with") && self.at_n(1, &Tok::LParen) {
            self.bump();
            Some(self.raw_parens("with (")?.0)
        } else if self.at_boundary() {
            None
        } else {
            // Legacy `render chart kind=stacked ...`: kept as raw text.
            let from = self.span().start;
            self.skip_operator_rest();
            Some(self.span_from(from).text(self.src).to_string())
        };
        Ok(OperatorKind::Render { chart, with })
    }

    fn invoke(&mut self) -> PResult<OperatorKind> {
        let function = self.name("a function name after 'invoke'")?;
        let opener = format!("{}(", function.name);
        self.expect(&Tok::LParen, &format!("'(' after '{}'", function.name))?;
        let args = self.call_args(&opener)?;
        Ok(OperatorKind::Invoke { function, args })
    }

    /// Column names with optional wildcards, comma separated (`project-away A, B*`). Ordering
    /// words after a name (`project-reorder A asc`) are accepted and dropped.
    fn pattern_list(&mut self) -> PResult<Vec<Ident>> {
        let mut names = Vec::new();
        loop {
            names.push(self.name_pattern("a column name")?);
            for word in ["asc", "desc", "granny-asc", "granny-desc"] {
                if self.eat_kw(word) {
                    break;
                }
            }
            if !self.eat(&Tok::Comma) {
                return Ok(names);
            }
        }
    }

    /// `expr [asc|desc] [nulls first|last]`.
    fn sort_key(&mut self) -> PResult<SortKey> {
        let expr = self.expr()?;
        let descending = if self.eat_kw("asc") {
            false
        } else {
            self.eat_kw("desc");
            true
        };
        let nulls_first = if self.eat_kw("nulls") {
            if self.eat_kw("first") {
                Some(true)
            } else {
                self.expect_kw("last")?;
                Some(false)
            }
        } else {
            None
        };
        Ok(SortKey {
            expr,
            descending,
            nulls_first,
        })
    }

    /// The right side of `join`/`lookup`: `(subquery)` or a table name/call.
    fn right_table(&mut self) -> PResult<Expr> {
        if self.at(&Tok::LParen) {
            self.bump();
            let inner = self.nested(|p| p.pipe_expr())?;
            self.expect_close(&Tok::RParen, "(")?;
            return Ok(inner);
        }
        if self.name_len(0).is_none() {
            return Err(self.expected("a table name or '(' subquery ')'"));
        }
        self.postfix()
    }

    /// `top-nested [N] of Expr [with others = v] by Agg [asc|desc], top-nested ...`.
    fn top_nested(&mut self) -> PResult<OperatorKind> {
        let mut levels = Vec::new();
        loop {
            let count = if self.at_kw("of") {
                None
            } else {
                Some(self.expr()?)
            };
            self.expect_kw("of")?;
            let of = self.named_expr()?;
            let others = if self.at_kw("with") && self.at_kw_n(1, "others") {
                self.bump();
                self.bump();
                self.expect(&Tok::Assign, "'=' after 'with others'")?;
                Some(self.expr()?)
            } else {
                None
            };
            self.expect_kw("by")?;
            let by = self.named_expr()?;
            let descending = if self.eat_kw("asc") {
                false
            } else {
                self.eat_kw("desc");
                true
            };
            levels.push(TopNestedLevel {
                count,
                of,
                others,
                by,
                descending,
            });
            let again = self.at(&Tok::Comma)
                && self.at_kw_n(1, "top")
                && self.at_n(2, &Tok::Minus)
                && self.at_kw_n(3, "nested");
            if !again {
                return Ok(OperatorKind::TopNested(levels));
            }
            for _ in 0..4 {
                self.bump();
            }
        }
    }

    /// The shared part of `mv-expand` and `mv-apply`: options, columns, `limit`.
    #[allow(clippy::type_complexity)]
    fn mv_columns(&mut self) -> PResult<(Vec<OpParam>, Vec<MvExpandColumn>, Option<Expr>)> {
        let params = self.op_params(Params::Only(&[
            "bagexpansion",
            "with_itemindex",
            "kind",
            "itemindex",
        ]))?;
        let mut columns = Vec::new();
        loop {
            let named = self.named_expr()?;
            let to_type = if self.at_kw("to") && self.at_kw_n(1, "typeof") {
                self.bump();
                self.bump();
                let (raw, span) = if self.at(&Tok::LParen) {
                    self.raw_parens("typeof(")?
                } else {
                    return Err(self.expected("'(' after 'typeof'"));
                };
                Some(TypeName {
                    name: raw.trim().to_string(),
                    span,
                })
            } else {
                None
            };
            let NamedExpr {
                mut names, expr, ..
            } = named;
            let name = if names.is_empty() {
                None
            } else {
                Some(names.remove(0))
            };
            columns.push(MvExpandColumn {
                name,
                expr,
                to_type,
            });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        let limit = if self.eat_kw("limit") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok((params, columns, limit))
    }

    /// `( op | op ... )` as in `mv-apply ... on (...)`: operators without a source; the
    /// first `|` is optional.
    fn subquery_ops(&mut self, opener: &str) -> PResult<Vec<Operator>> {
        self.expect(
            &Tok::LParen,
            &format!("'(' after '{}'", opener.trim_end_matches(" (")),
        )?;
        let ops = self.nested(|p| {
            let mut ops = Vec::new();
            let mut first = true;
            while !matches!(p.peek(), Tok::RParen | Tok::Eof | Tok::Semi) {
                if !p.eat(&Tok::Pipe) && !first {
                    return Err(p.expected("'|' or ')'"));
                }
                first = false;
                let from = p.pos;
                match p.operator() {
                    Ok(op) => ops.push(op),
                    Err(Fail) => p.recover(from, Stop::Operator),
                }
            }
            Ok(ops)
        })?;
        self.expect_close(&Tok::RParen, opener)?;
        Ok(ops)
    }

    /// The pattern of `parse ... with`: string literals, `Name[:type]`, `*`.
    fn parse_pattern(&mut self) -> PResult<Vec<ParsePart>> {
        let mut parts = Vec::new();
        while !self.at_boundary() {
            match self.peek().clone() {
                Tok::Str(s) => {
                    self.bump();
                    parts.push(ParsePart::Literal(s));
                }
                Tok::Star => {
                    self.bump();
                    parts.push(ParsePart::Wildcard);
                }
                Tok::Comma => {
                    self.bump();
                }
                _ if self.name_len(0).is_some() => {
                    let name = self.name("a column name")?;
                    let ty = if self.eat(&Tok::Colon) {
                        Some(self.type_name()?)
                    } else {
                        None
                    };
                    parts.push(ParsePart::Column { name, ty });
                }
                _ => {
                    return Err(self.expected("a string, a column name or '*' in the parse pattern"))
                }
            }
        }
        if parts.is_empty() {
            return Err(self.expected("a parse pattern after 'with'"));
        }
        Ok(parts)
    }

    /// After `make-series`: `[params] [Name =] Agg [default = v], ... on Axis
    /// [from a] [to b] step s | in range(a, b, s) [by ...]`.
    fn make_series(&mut self) -> PResult<OperatorKind> {
        let params = self.op_params(Params::Only(&["kind"]))?;
        let mut aggregates = Vec::new();
        loop {
            let NamedExpr {
                mut names, expr, ..
            } = self.named_expr()?;
            let default = if self.at_kw("default") && self.at_n(1, &Tok::Assign) {
                self.bump();
                self.bump();
                Some(self.expr()?)
            } else {
                None
            };
            let name = if names.is_empty() {
                None
            } else {
                Some(names.remove(0))
            };
            aggregates.push(MakeSeriesAgg {
                name,
                expr,
                default,
            });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect_kw("on")?;
        let axis = self.add_expr()?;
        let (from, to, step);
        if self.at_kw("in") && self.at_kw_n(1, "range") && self.at_n(2, &Tok::LParen) {
            self.bump();
            self.bump();
            let open = self.bump().span;
            let mut args = self.call_args("range(")?.into_iter();
            match (args.next(), args.next(), args.next(), args.next()) {
                (Some(a), Some(b), Some(c), None) => {
                    from = Some(a);
                    to = Some(b);
                    step = c;
                }
                _ => {
                    return Err(self.error(
                        open.to(self.span_from(open.start)),
                        "expected range(start, stop, step) with three arguments",
                    ))
                }
            }
        } else {
            from = if self.eat_kw("from") {
                Some(self.expr()?)
            } else {
                None
            };
            to = if self.eat_kw("to") {
                Some(self.expr()?)
            } else {
                None
            };
            self.expect_kw("step")?;
            step = self.expr()?;
        }
        let by = if self.eat_kw("by") {
            self.named_list()?
        } else {
            Vec::new()
        };
        Ok(OperatorKind::MakeSeries {
            params,
            aggregates,
            axis,
            from,
            to,
            step,
            by,
        })
    }
}
