//! The tabular operators after `|`.

use crate::ast::{self, Expr, ExprKind, Literal, NamedExpr, OpParam, Operator, OperatorKind};
use crate::plan::{
    BinOp, Expansion, Field, JoinKind, Lit, Node, Rel, Scalar, SortKey, WindowFunc, WindowKind,
};
use crate::span::{DiagKind, Span};
use crate::types::Type;

use super::lift;
use super::names::{self, wildcard_match};
use super::{Checker, Piped};

/// Wrap `input` in a node whose output columns are `fields`.
fn rel(node: Node, fields: Vec<Field>) -> Rel {
    Rel { node, fields }
}

impl Checker<'_> {
    pub(super) fn operator(&mut self, piped: Piped, op: &Operator) -> Option<Piped> {
        let Piped { rel: input, order } = piped;
        let keep_order = |rel: Rel| {
            Some(Piped {
                rel,
                order: order.clone(),
            })
        };
        match &op.kind {
            OperatorKind::Where(pred)
                if lift::contains_call(pred, &|n| matches!(n, "row_number" | "prev" | "next")) =>
            {
                // A window function in the predicate: computed by an extend first.
                let names: Vec<String> = input.fields.iter().map(|f| f.name.clone()).collect();
                let hidden = "__where";
                let item = NamedExpr {
                    names: vec![ast::Ident {
                        name: hidden.into(),
                        span: pred.span,
                    }],
                    expr: pred.clone(),
                    span: pred.span,
                };
                let extended = self.extend(input, order.clone(), std::slice::from_ref(&item))?;
                let ty = extended.rel.field(hidden).map_or(Type::Null, |f| f.ty);
                let p = self.convert(Scalar::col(hidden), ty, Type::Bool, pred.span)?;
                let fields = extended.rel.fields.clone();
                let filtered = rel(
                    Node::Filter {
                        input: Box::new(extended.rel),
                        predicate: p,
                    },
                    fields,
                );
                keep_order(filtered.select(&names))
            }
            OperatorKind::Where(pred) => {
                let p = self.predicate(pred, &input)?;
                let fields = input.fields.clone();
                keep_order(rel(
                    Node::Filter {
                        input: Box::new(input),
                        predicate: p,
                    },
                    fields,
                ))
            }
            OperatorKind::Project(items) => {
                let (exprs, fields) = self.named_exprs(items, &input, &[])?;
                keep_order(rel(
                    Node::Project {
                        input: Box::new(input),
                        exprs,
                    },
                    fields,
                ))
            }
            OperatorKind::Extend(items) => self.extend(input, order, items),
            OperatorKind::ProjectAway(pats) => {
                let keep: Vec<&Field> = input
                    .fields
                    .iter()
                    .filter(|f| !pats.iter().any(|p| wildcard_match(&p.name, &f.name)))
                    .collect();
                self.check_patterns(pats, &input);
                let names: Vec<String> = keep.iter().map(|f| f.name.clone()).collect();
                keep_order(input.select(&names))
            }
            OperatorKind::ProjectKeep(pats) => {
                self.check_patterns(pats, &input);
                let names: Vec<String> = input
                    .fields
                    .iter()
                    .filter(|f| pats.iter().any(|p| wildcard_match(&p.name, &f.name)))
                    .map(|f| f.name.clone())
                    .collect();
                keep_order(input.select(&names))
            }
            OperatorKind::ProjectReorder(pats) => {
                self.check_patterns(pats, &input);
                let mut names: Vec<String> = Vec::new();
                for p in pats {
                    for f in &input.fields {
                        if wildcard_match(&p.name, &f.name) && !names.contains(&f.name) {
                            names.push(f.name.clone());
                        }
                    }
                }
                for f in &input.fields {
                    if !names.contains(&f.name) {
                        names.push(f.name.clone());
                    }
                }
                keep_order(input.select(&names))
            }
            OperatorKind::ProjectRename(pairs) => {
                let mut exprs = Vec::new();
                let mut fields = Vec::new();
                for (_, old) in pairs {
                    if input.field(&old.name).is_none() {
                        self.unknown_column(&old.name, old.span, &input);
                        return None;
                    }
                }
                for f in &input.fields {
                    let name = pairs
                        .iter()
                        .find(|(_, old)| old.name == f.name)
                        .map_or(f.name.clone(), |(new, _)| new.name.clone());
                    exprs.push(Scalar::col(&f.name));
                    fields.push(Field::new(name, f.ty));
                }
                keep_order(rel(
                    Node::Project {
                        input: Box::new(input),
                        exprs,
                    },
                    fields,
                ))
            }
            OperatorKind::Summarize {
                params: _,
                aggregates,
                by,
            } => {
                let out = self.summarize(input, aggregates, by)?;
                Some(Piped {
                    rel: out,
                    order: Vec::new(),
                })
            }
            OperatorKind::Count => Some(Piped {
                rel: rel(
                    Node::Aggregate {
                        input: Box::new(input),
                        keys: Vec::new(),
                        aggs: vec![Scalar::call("count", vec![Scalar::long(1)])],
                    },
                    vec![Field::new("Count", Type::Long)],
                ),
                order: Vec::new(),
            }),
            OperatorKind::Distinct(items) => {
                let projected = if items.len() == 1 && matches!(&items[0].expr.kind, ExprKind::Star)
                {
                    input
                } else {
                    let (exprs, fields) = self.named_exprs(items, &input, &[])?;
                    rel(
                        Node::Project {
                            input: Box::new(input),
                            exprs,
                        },
                        fields,
                    )
                };
                let fields = projected.fields.clone();
                Some(Piped {
                    rel: rel(
                        Node::Distinct {
                            input: Box::new(projected),
                        },
                        fields,
                    ),
                    order: Vec::new(),
                })
            }
            OperatorKind::Take(n) => {
                let count = self.count_arg(n)?;
                let fields = input.fields.clone();
                keep_order(rel(
                    Node::Limit {
                        input: Box::new(input),
                        count,
                    },
                    fields,
                ))
            }
            OperatorKind::Sample(n) => {
                let count = self.count_arg(n)?;
                let fields = input.fields.clone();
                let shuffled = rel(
                    Node::Sort {
                        input: Box::new(input),
                        keys: vec![SortKey {
                            expr: Scalar::call("random", vec![]),
                            descending: false,
                            nulls_first: false,
                        }],
                    },
                    fields.clone(),
                );
                Some(Piped {
                    rel: rel(
                        Node::Limit {
                            input: Box::new(shuffled),
                            count,
                        },
                        fields,
                    ),
                    order: Vec::new(),
                })
            }
            OperatorKind::Sort(keys) => {
                let keys = self.sort_keys(keys, &input)?;
                let fields = input.fields.clone();
                Some(Piped {
                    rel: rel(
                        Node::Sort {
                            input: Box::new(input),
                            keys: keys.clone(),
                        },
                        fields,
                    ),
                    order: keys,
                })
            }
            OperatorKind::Top { count, key } => {
                let count = self.count_arg(count)?;
                let keys = self.sort_keys(std::slice::from_ref(key), &input)?;
                let fields = input.fields.clone();
                let sorted = rel(
                    Node::Sort {
                        input: Box::new(input),
                        keys: keys.clone(),
                    },
                    fields.clone(),
                );
                Some(Piped {
                    rel: rel(
                        Node::Limit {
                            input: Box::new(sorted),
                            count,
                        },
                        fields,
                    ),
                    order: keys,
                })
            }
            OperatorKind::Join { params, right, on } => {
                let out = self.join(input, params, right, on, op.span, false)?;
                Some(Piped {
                    rel: out,
                    order: Vec::new(),
                })
            }
            OperatorKind::Lookup { params, right, on } => {
                let out = self.join(input, params, right, on, op.span, true)?;
                Some(Piped {
                    rel: out,
                    order: Vec::new(),
                })
            }
            OperatorKind::Union(u) => {
                let out = self.union(Some(input), u, op.span)?;
                Some(Piped {
                    rel: out,
                    order: Vec::new(),
                })
            }
            OperatorKind::MvExpand {
                params,
                columns,
                limit,
            } => {
                let out = self.mv_expand(input, params, columns, limit.as_ref())?;
                Some(Piped {
                    rel: out,
                    order: Vec::new(),
                })
            }
            OperatorKind::MvApply {
                params,
                columns,
                limit,
                body,
            } => {
                let out = self.mv_apply(input, params, columns, limit.as_ref(), body, op.span)?;
                Some(Piped {
                    rel: out,
                    order: Vec::new(),
                })
            }
            OperatorKind::Parse {
                params,
                source,
                pattern,
            } => self
                .parse_op(input, params, source, pattern, false, op.span)
                .and_then(keep_order),
            OperatorKind::ParseWhere {
                params,
                source,
                pattern,
            } => self
                .parse_op(input, params, source, pattern, true, op.span)
                .and_then(keep_order),
            OperatorKind::Serialize(items) => {
                if items.is_empty() {
                    return keep_order(input);
                }
                self.extend(input, order, items)
            }
            OperatorKind::Render { chart, .. } => {
                self.chart = Some(chart.name.clone());
                keep_order(input)
            }
            OperatorKind::As(_) => keep_order(input),
            OperatorKind::Invoke { function, args } => match self.lookup(&function.name).cloned() {
                Some(super::Binding::Function(f)) => {
                    let out = self.invoke(&f, &function.name, Some(input), args, op.span)?;
                    Some(Piped {
                        rel: out,
                        order: Vec::new(),
                    })
                }
                _ => {
                    self.error(
                        DiagKind::UnknownName,
                        function.span,
                        format!("unknown function '{}' for invoke", function.name),
                    );
                    None
                }
            },
            OperatorKind::Search(pred) => {
                let p = self.search_predicate(pred, &input)?;
                let fields = input.fields.clone();
                keep_order(rel(
                    Node::Filter {
                        input: Box::new(input),
                        predicate: p,
                    },
                    fields,
                ))
            }
            OperatorKind::GetSchema => {
                let rows = input
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        vec![
                            Scalar::string(&f.name),
                            Scalar::Lit(Lit::Int(i as i32)),
                            Scalar::string(&format!("System.{}", dotnet_type(f.ty))),
                            Scalar::string(f.ty.name()),
                        ]
                    })
                    .collect();
                Some(Piped {
                    rel: rel(
                        Node::Values { rows },
                        vec![
                            Field::new("ColumnName", Type::String),
                            Field::new("ColumnOrdinal", Type::Int),
                            Field::new("DataType", Type::String),
                            Field::new("ColumnType", Type::String),
                        ],
                    ),
                    order: Vec::new(),
                })
            }
            OperatorKind::TopNested(levels) => {
                let out = self.top_nested(input, levels, op.span)?;
                Some(Piped {
                    rel: out,
                    order: Vec::new(),
                })
            }
            OperatorKind::MakeSeries {
                params: _,
                aggregates,
                axis,
                from,
                to,
                step,
                by,
            } => {
                let out = self.make_series(
                    input,
                    aggregates,
                    axis,
                    from.as_ref(),
                    to.as_ref(),
                    step,
                    by,
                    op.span,
                )?;
                Some(Piped {
                    rel: out,
                    order: Vec::new(),
                })
            }
            OperatorKind::Evaluate {
                params,
                plugin,
                args,
            } => {
                let out = self.evaluate(input, params, plugin, args, op.span)?;
                Some(Piped {
                    rel: out,
                    order: Vec::new(),
                })
            }
            OperatorKind::Unsupported { name } => {
                self.unsupported(op.span, &format!("the '{name}' operator"));
                None
            }
        }
    }

    fn check_patterns(&mut self, pats: &[ast::Ident], input: &Rel) {
        for p in pats {
            if !p.name.contains('*') && input.field(&p.name).is_none() {
                self.unknown_column(&p.name, p.span, input);
            }
        }
    }

    pub(super) fn unknown_column(&mut self, name: &str, span: Span, input: &Rel) {
        let hint = names::did_you_mean(name, input.fields.iter().map(|f| f.name.as_str()));
        self.error(
            DiagKind::UnknownName,
            span,
            format!("unknown column '{name}'{hint}"),
        );
    }

    pub(super) fn count_arg(&mut self, e: &Expr) -> Option<u64> {
        let empty = super::empty_rel();
        let (s, _) = self.scalar(e, &empty)?;
        match s {
            Scalar::Lit(Lit::Long(n)) if n >= 0 => Some(n as u64),
            Scalar::Lit(Lit::Int(n)) if n >= 0 => Some(n as u64),
            _ => {
                self.error(
                    DiagKind::Type,
                    e.span,
                    "expected a non-negative whole number (a constant)",
                );
                None
            }
        }
    }

    /// Boolean predicate over `input`'s rows.
    pub(super) fn predicate(&mut self, e: &Expr, input: &Rel) -> Option<Scalar> {
        let (s, t) = self.scalar(e, input)?;
        self.convert(s, t, Type::Bool, e.span)
    }

    /// `Name = expr, ...`: the expressions and the fields they make. `taken` are names already
    /// present (for `extend`), so that derived names are numbered past them.
    pub(super) fn named_exprs(
        &mut self,
        items: &[NamedExpr],
        input: &Rel,
        taken: &[String],
    ) -> Option<(Vec<Scalar>, Vec<Field>)> {
        let mut exprs = Vec::new();
        let mut fields: Vec<Field> = Vec::new();
        let mut next_column = 1;
        for item in items {
            // A failed item still names its column (of unknown type), so that the operators
            // after it are checked without follow-on "unknown column" errors.
            let (s, t) = match self.scalar(&item.expr, input) {
                Some(v) => v,
                None => (Scalar::Lit(Lit::Null(Type::Null)), Type::Null),
            };
            let name = match item.names.first() {
                Some(n) => n.name.clone(),
                None => match names::derived_name(&item.expr) {
                    Some(n) => n,
                    None => loop {
                        let n = format!("Column{next_column}");
                        next_column += 1;
                        if !taken.contains(&n) && !fields.iter().any(|f| f.name == n) {
                            break n;
                        }
                    },
                },
            };
            if let Some(pos) = fields.iter().position(|f| f.name == name) {
                exprs[pos] = s;
                fields[pos].ty = t;
            } else {
                exprs.push(s);
                fields.push(Field::new(name, t));
            }
        }
        Some((exprs, fields))
    }

    fn extend(&mut self, input: Rel, order: Vec<SortKey>, items: &[NamedExpr]) -> Option<Piped> {
        // Window functions (row_number, prev, next), wherever they occur in an expression,
        // become columns of a Window node below the project.
        let mut input = input;
        let is_window = |n: &str| matches!(n, "row_number" | "prev" | "next");
        let mut lifted: Vec<(String, Expr)> = Vec::new();
        let mut rewritten: Vec<NamedExpr> = Vec::new();
        for item in items {
            let mut named = item.clone();
            if !lift::contains_call(&item.expr, &is_window) {
                rewritten.push(named);
                continue;
            }
            if named.names.is_empty() {
                let name = match &item.expr.kind {
                    ExprKind::Call { name, .. } => name.name.clone(),
                    _ => names::derived_name(&item.expr).unwrap_or_else(|| "Column1".into()),
                };
                named.names.push(ast::Ident {
                    name,
                    span: item.expr.span,
                });
            }
            named.expr = lift::lift_calls(&item.expr, &is_window, "__window", &mut lifted);
            rewritten.push(named);
        }
        let mut windows: Vec<(String, WindowFunc, Type)> = Vec::new();
        for (col, call) in &lifted {
            let ExprKind::Call { name, args } = &call.kind else {
                continue;
            };
            let (func, ty) = self.window_call(&name.name, args, &input, &order, call.span)??;
            windows.push((col.clone(), func, ty));
        }
        let hidden: Vec<String> = windows.iter().map(|(c, _, _)| c.clone()).collect();
        if !windows.is_empty() {
            let mut fields = input.fields.clone();
            fields.extend(windows.iter().map(|(c, _, t)| Field::new(c.clone(), *t)));
            input = rel(
                Node::Window {
                    input: Box::new(input),
                    funcs: windows.into_iter().map(|(_, f, _)| f).collect(),
                },
                fields,
            );
        }
        let taken: Vec<String> = input.fields.iter().map(|f| f.name.clone()).collect();
        let (exprs, new_fields) = self.named_exprs(&rewritten, &input, &taken)?;
        let mut out_exprs = Vec::new();
        let mut out_fields = Vec::new();
        for f in &input.fields {
            if hidden.contains(&f.name) {
                continue;
            }
            match new_fields.iter().position(|n| n.name == f.name) {
                Some(i) => {
                    out_exprs.push(exprs[i].clone());
                    out_fields.push(new_fields[i].clone());
                }
                None => {
                    out_exprs.push(Scalar::col(&f.name));
                    out_fields.push(f.clone());
                }
            }
        }
        for (e, f) in exprs.into_iter().zip(new_fields) {
            if !out_fields.iter().any(|o| o.name == f.name) {
                out_exprs.push(e);
                out_fields.push(f);
            }
        }
        Some(Piped {
            rel: rel(
                Node::Project {
                    input: Box::new(input),
                    exprs: out_exprs,
                },
                out_fields,
            ),
            order,
        })
    }

    /// `row_number()`, `prev(x[, n[, default]])`, `next(...)`: a window over the current order.
    fn window_call(
        &mut self,
        name: &str,
        args: &[Expr],
        input: &Rel,
        order: &[SortKey],
        span: Span,
    ) -> Option<Option<(WindowFunc, Type)>> {
        let kind = match name {
            "row_number" => {
                if !args.is_empty() {
                    self.unsupported(span, "row_number with arguments");
                    return None;
                }
                (WindowKind::RowNumber, Type::Long)
            }
            "prev" | "next" => {
                let Some(first) = args.first() else {
                    self.error(DiagKind::Type, span, format!("{name}() needs a column"));
                    return None;
                };
                let (e, t) = self.scalar(first, input)?;
                let offset = match args.get(1) {
                    Some(a) => self.count_arg(a)? as i64,
                    None => 1,
                };
                let default = match args.get(2) {
                    Some(d) => {
                        let (s, dt) = self.scalar(d, input)?;
                        // A number as a datetime default counts nanoseconds from the epoch.
                        if t == Type::DateTime && dt.is_numeric() {
                            let n = self.convert(s, dt, Type::Long, d.span)?;
                            Some(Scalar::NanosToTs(Box::new(n)))
                        } else {
                            Some(self.convert(s, dt, t, d.span)?)
                        }
                    }
                    None => None,
                };
                let k = if name == "prev" {
                    WindowKind::Lag {
                        expr: e,
                        offset,
                        default,
                    }
                } else {
                    WindowKind::Lead {
                        expr: e,
                        offset,
                        default,
                    }
                };
                (k, t)
            }
            _ => return Some(None),
        };
        Some(Some((
            WindowFunc {
                func: kind.0,
                partition: Vec::new(),
                order: order.to_vec(),
            },
            kind.1,
        )))
    }

    fn sort_keys(&mut self, keys: &[ast::SortKey], input: &Rel) -> Option<Vec<SortKey>> {
        let mut out = Vec::new();
        for k in keys {
            let (s, _) = self.scalar(&k.expr, input)?;
            out.push(SortKey {
                expr: s,
                descending: k.descending,
                // KQL: nulls last when descending, first when ascending.
                nulls_first: k.nulls_first.unwrap_or(!k.descending),
            });
        }
        Some(out)
    }

    pub(super) fn param<'p>(params: &'p [OpParam], name: &str) -> Option<&'p OpParam> {
        params.iter().find(|p| p.name.name == name)
    }

    /// The text of an option value written as a bare name or a string.
    pub(super) fn param_word(p: &OpParam) -> Option<String> {
        match &p.value.kind {
            ExprKind::Name(n) => Some(n.clone()),
            ExprKind::Literal(Literal::String(s)) => Some(s.clone()),
            _ => None,
        }
    }

    fn join(
        &mut self,
        left: Rel,
        params: &[OpParam],
        right: &Expr,
        on: &[Expr],
        span: Span,
        lookup: bool,
    ) -> Option<Rel> {
        let right = self.tabular(right)?;
        let kind_name = match Self::param(params, "kind") {
            Some(p) => match Self::param_word(p) {
                Some(k) => k,
                None => {
                    self.error(DiagKind::Syntax, p.value.span, "expected a join kind");
                    return None;
                }
            },
            None if lookup => "leftouter".to_string(),
            None => "innerunique".to_string(),
        };
        let (kind, unique) = match kind_name.as_str() {
            "innerunique" => (JoinKind::Inner, true),
            "inner" => (JoinKind::Inner, false),
            "leftouter" => (JoinKind::LeftOuter, false),
            "rightouter" => (JoinKind::RightOuter, false),
            "fullouter" | "outer" => (JoinKind::FullOuter, false),
            "leftsemi" => (JoinKind::LeftSemi, false),
            "rightsemi" => (JoinKind::RightSemi, false),
            "leftanti" | "anti" | "leftantisemi" => (JoinKind::LeftAnti, false),
            "rightanti" | "rightantisemi" => (JoinKind::RightAnti, false),
            other => {
                self.error(
                    DiagKind::Syntax,
                    span,
                    format!("unknown join kind '{other}' (innerunique, inner, leftouter, rightouter, fullouter, leftsemi, rightsemi, leftanti, rightanti)"),
                );
                return None;
            }
        };
        if lookup && !matches!(kind, JoinKind::LeftOuter | JoinKind::Inner) {
            self.error(
                DiagKind::Syntax,
                span,
                "lookup supports kind=leftouter or kind=inner",
            );
            return None;
        }
        // Join keys: `Col` (same name both sides) or `$left.A == $right.B`.
        let mut pairs: Vec<(Scalar, Scalar)> = Vec::new();
        let mut same_name_keys: Vec<String> = Vec::new();
        for cond in on {
            self.join_condition(cond, &left, &right, &mut pairs, &mut same_name_keys)?;
        }
        if pairs.is_empty() {
            self.error(DiagKind::Syntax, span, "join needs at least one 'on' key");
            return None;
        }
        let mut left = left;
        if unique {
            // innerunique: one left row per key (KQL keeps an arbitrary one).
            let keys: Vec<Scalar> = pairs.iter().map(|(l, _)| l.clone()).collect();
            left = dedupe_by(left, keys);
        }
        let mut fields: Vec<Field> = Vec::new();
        match kind {
            JoinKind::LeftSemi | JoinKind::LeftAnti => fields = left.fields.clone(),
            JoinKind::RightSemi | JoinKind::RightAnti => fields = right.fields.clone(),
            _ => {
                fields.extend(left.fields.iter().cloned());
                for f in &right.fields {
                    let mut name = f.name.clone();
                    if lookup && same_name_keys.contains(&f.name) {
                        // lookup keeps one copy of each key; dropped below.
                        name = format!("\u{0}{name}");
                    } else if fields.iter().any(|x| x.name == name) {
                        let mut i = 1;
                        while fields.iter().any(|x| x.name == format!("{}{i}", f.name)) {
                            i += 1;
                        }
                        name = format!("{}{i}", f.name);
                    }
                    fields.push(Field::new(name, f.ty));
                }
            }
        }
        let joined = rel(
            Node::Join {
                left: Box::new(left),
                right: Box::new(right),
                kind,
                on: pairs,
            },
            fields.clone(),
        );
        if fields.iter().any(|f| f.name.starts_with('\u{0}')) {
            let names: Vec<String> = fields
                .iter()
                .filter(|f| !f.name.starts_with('\u{0}'))
                .map(|f| f.name.clone())
                .collect();
            // Rename the hidden columns to something SQL accepts first.
            return Some(rename_hidden(joined).select(&names));
        }
        Some(joined)
    }

    fn join_condition(
        &mut self,
        cond: &Expr,
        left: &Rel,
        right: &Rel,
        pairs: &mut Vec<(Scalar, Scalar)>,
        same: &mut Vec<String>,
    ) -> Option<()> {
        match &cond.kind {
            ExprKind::Paren(e) => self.join_condition(e, left, right, pairs, same),
            ExprKind::Name(n) => {
                if left.field(n).is_none() {
                    self.unknown_column(n, cond.span, left);
                    return None;
                }
                if right.field(n).is_none() {
                    self.unknown_column(n, cond.span, right);
                    return None;
                }
                pairs.push((Scalar::col(n), Scalar::col(n)));
                same.push(n.clone());
                Some(())
            }
            ExprKind::Binary {
                op: ast::BinaryOp::And,
                lhs,
                rhs,
            } => {
                self.join_condition(lhs, left, right, pairs, same)?;
                self.join_condition(rhs, left, right, pairs, same)
            }
            ExprKind::Binary {
                op: ast::BinaryOp::Eq,
                lhs,
                rhs,
            } => {
                let side = |e: &Expr| -> Option<(ast::JoinSide, String)> {
                    if let ExprKind::Member { base, member } = &e.kind {
                        if let ExprKind::JoinSide(s) = base.kind {
                            return Some((s, member.name.clone()));
                        }
                    }
                    None
                };
                match (side(lhs), side(rhs)) {
                    (Some((a, an)), Some((b, bn))) if a != b => {
                        let (ln, rn, lspan, rspan) = if a == ast::JoinSide::Left {
                            (an, bn, lhs.span, rhs.span)
                        } else {
                            (bn, an, rhs.span, lhs.span)
                        };
                        let lf = left.field(&ln).cloned();
                        let rf = right.field(&rn).cloned();
                        let (Some(lf), Some(rf)) = (lf, rf) else {
                            if left.field(&ln).is_none() {
                                self.unknown_column(&ln, lspan, left);
                            }
                            if right.field(&rn).is_none() {
                                self.unknown_column(&rn, rspan, right);
                            }
                            return None;
                        };
                        let (l, r) = self.unify_pair(
                            Scalar::col(&ln),
                            lf.ty,
                            Scalar::col(&rn),
                            rf.ty,
                            cond.span,
                        )?;
                        pairs.push((l, r));
                        if ln == rn {
                            same.push(ln);
                        }
                        Some(())
                    }
                    _ => {
                        self.error(
                            DiagKind::Syntax,
                            cond.span,
                            "join condition must be a column name or $left.Column == $right.Column",
                        );
                        None
                    }
                }
            }
            _ => {
                self.error(
                    DiagKind::Syntax,
                    cond.span,
                    "join condition must be a column name or $left.Column == $right.Column",
                );
                None
            }
        }
    }

    /// Bring two join keys to one comparable type.
    fn unify_pair(
        &mut self,
        l: Scalar,
        lt: Type,
        r: Scalar,
        rt: Type,
        span: Span,
    ) -> Option<(Scalar, Scalar)> {
        if lt == rt {
            return Some((l, r));
        }
        if lt.is_numeric() && rt.is_numeric() {
            let t = Type::widen(lt, rt);
            return Some((self.convert(l, lt, t, span)?, self.convert(r, rt, t, span)?));
        }
        if lt == Type::Dynamic || rt == Type::Dynamic {
            let l = self.to_string_value(l, lt);
            let r = self.to_string_value(r, rt);
            return Some((l, r));
        }
        self.error(
            DiagKind::Type,
            span,
            format!("join keys have different types: {lt} and {rt}"),
        );
        None
    }

    pub(super) fn union(&mut self, first: Option<Rel>, u: &ast::Union, span: Span) -> Option<Rel> {
        let mut inputs: Vec<(String, Rel)> = Vec::new();
        if let Some(f) = first {
            inputs.push((String::new(), f));
        }
        for t in &u.tables {
            match &t.kind {
                ExprKind::Name(n) if n.contains('*') => {
                    let mut any = false;
                    for table in vigil_schema::Table::ALL {
                        if wildcard_match(n, table.name()) {
                            inputs.push((table.name().to_string(), self.scan(*table)));
                            any = true;
                        }
                    }
                    if !any {
                        self.error(
                            DiagKind::UnknownName,
                            t.span,
                            format!("no table matches '{n}'"),
                        );
                        return None;
                    }
                }
                ExprKind::Name(n) => {
                    let r = self.tabular(t)?;
                    inputs.push((n.clone(), r));
                }
                _ => {
                    let r = self.tabular(t)?;
                    inputs.push((String::new(), r));
                }
            }
        }
        let inner = matches!(Self::param(&u.params, "kind").and_then(Self::param_word), Some(k) if k == "inner");
        let source = Self::param(&u.params, "withsource")
            .or_else(|| Self::param(&u.params, "source"))
            .and_then(Self::param_word);
        // Output columns: by name, in order of first appearance (kind=inner: common ones).
        let mut fields: Vec<Field> = Vec::new();
        for (_, r) in &inputs {
            for f in &r.fields {
                match fields.iter_mut().find(|x| x.name == f.name) {
                    Some(x) if x.ty != f.ty => {
                        if x.ty.is_numeric() && f.ty.is_numeric() {
                            x.ty = Type::widen(x.ty, f.ty);
                        } else {
                            x.ty = Type::Dynamic;
                        }
                    }
                    Some(_) => {}
                    None => fields.push(f.clone()),
                }
            }
        }
        if inner {
            fields.retain(|f| inputs.iter().all(|(_, r)| r.field(&f.name).is_some()));
        }
        let mut rels = Vec::new();
        for (name, r) in inputs {
            let mut r = r;
            if let Some(col) = &source {
                let mut exprs: Vec<Scalar> =
                    r.fields.iter().map(|f| Scalar::col(&f.name)).collect();
                let mut fs = r.fields.clone();
                exprs.insert(0, Scalar::string(&name));
                fs.insert(0, Field::new(col.clone(), Type::String));
                r = rel(
                    Node::Project {
                        input: Box::new(r),
                        exprs,
                    },
                    fs,
                );
            }
            // Dynamic-typed union columns: convert each input's value to JSON.
            let needs: Vec<&Field> = fields
                .iter()
                .filter(|f| {
                    f.ty == Type::Dynamic && r.field(&f.name).is_some_and(|x| x.ty != Type::Dynamic)
                })
                .collect();
            if !needs.is_empty() {
                let exprs = r
                    .fields
                    .iter()
                    .map(|f| {
                        if needs.iter().any(|n| n.name == f.name) {
                            self.to_dynamic(Scalar::col(&f.name), f.ty)
                        } else {
                            Scalar::col(&f.name)
                        }
                    })
                    .collect();
                let fs = r
                    .fields
                    .iter()
                    .map(|f| {
                        if needs.iter().any(|n| n.name == f.name) {
                            Field::new(f.name.clone(), Type::Dynamic)
                        } else {
                            f.clone()
                        }
                    })
                    .collect();
                r = rel(
                    Node::Project {
                        input: Box::new(r),
                        exprs,
                    },
                    fs,
                );
            }
            rels.push(r);
        }
        if let Some(col) = source {
            fields.insert(0, Field::new(col, Type::String));
        }
        if rels.is_empty() {
            self.error(DiagKind::Syntax, span, "union needs at least one table");
            return None;
        }
        Some(rel(Node::Union { inputs: rels }, fields))
    }

    fn mv_expand(
        &mut self,
        input: Rel,
        params: &[OpParam],
        columns: &[ast::MvExpandColumn],
        limit: Option<&Expr>,
    ) -> Option<Rel> {
        let pairs = matches!(Self::param(params, "bagexpansion").and_then(Self::param_word), Some(k) if k == "array");
        let index = Self::param(params, "with_itemindex").and_then(Self::param_word);
        let limit = match limit {
            Some(l) => Some(self.count_arg(l)?),
            None => None,
        };
        // Computed expansions (`mv-expand x = split(a, ",")`) are extended first.
        let mut input = input;
        let mut expansions = Vec::new();
        // `to typeof(T)` of each expansion, applied to the elements afterwards.
        let mut conversions = Vec::new();
        for c in columns {
            let name = match (&c.name, &c.expr.kind) {
                (Some(n), _) => n.name.clone(),
                (None, ExprKind::Name(n)) => n.clone(),
                (None, _) => match names::derived_name(&c.expr).or_else(|| match &c.expr.kind {
                    // `mv-expand parse_json(Col)` expands into `Col`.
                    ExprKind::Call { args, .. } => args.first().and_then(names::derived_name),
                    _ => None,
                }) {
                    Some(n) => n,
                    None => {
                        self.error(
                            DiagKind::Syntax,
                            c.expr.span,
                            "name the expanded expression: mv-expand Name = expression",
                        );
                        return None;
                    }
                },
            };
            let needs_extend = !matches!(&c.expr.kind, ExprKind::Name(n) if *n == name);
            let (s, t) = self.scalar(&c.expr, &input)?;
            let to = match &c.to_type {
                Some(t) => self.type_name(t)?,
                None => Type::Dynamic,
            };
            if needs_extend || t != Type::Dynamic {
                let json = self.to_dynamic(s, t);
                input = with_column(input, &name, json, Type::Dynamic);
            }
            expansions.push(Expansion {
                column: name,
                pairs,
            });
            conversions.push(to);
        }
        let expansions_names: Vec<String> = expansions.iter().map(|e| e.column.clone()).collect();
        let mut fields: Vec<Field> = input
            .fields
            .iter()
            .map(|f| match expansions.iter().find(|e| e.column == f.name) {
                Some(_) => Field::new(f.name.clone(), Type::Dynamic),
                None => f.clone(),
            })
            .collect();
        if let Some(ix) = &index {
            fields.push(Field::new(ix.clone(), Type::Long));
        }
        let limit_index = limit.map(|_| index.clone().unwrap_or_else(|| "__expand_index".into()));
        if limit.is_some() && index.is_none() {
            fields.push(Field::new("__expand_index", Type::Long));
        }
        let expanded = rel(
            Node::Expand {
                input: Box::new(input),
                columns: expansions,
                index: index.clone().or(limit_index),
                limit,
            },
            fields.clone(),
        );
        let mut out = expanded;
        if limit.is_some() && index.is_none() {
            let names: Vec<String> = fields
                .iter()
                .filter(|f| f.name != "__expand_index")
                .map(|f| f.name.clone())
                .collect();
            out = out.select(&names);
        }
        for (e, to) in expansions_names.iter().zip(conversions) {
            if to != Type::Dynamic {
                let converted = self.dynamic_as(Scalar::col(e), to);
                out = with_column(out, e, converted, to);
            }
        }
        Some(out)
    }

    fn mv_apply(
        &mut self,
        input: Rel,
        params: &[OpParam],
        columns: &[ast::MvExpandColumn],
        limit: Option<&Expr>,
        body: &[Operator],
        span: Span,
    ) -> Option<Rel> {
        // Row-wise bodies (where, extend, project...) equal an mv-expand followed by the body;
        // bodies that aggregate are grouped by the input row.
        let aggregates = body.iter().any(|op| {
            matches!(
                op.kind,
                OperatorKind::Summarize { .. }
                    | OperatorKind::Count
                    | OperatorKind::Take(_)
                    | OperatorKind::Top { .. }
                    | OperatorKind::Sort(_)
                    | OperatorKind::Distinct(_)
            )
        });
        let row_wise_or_summarize = body.iter().all(|op| {
            matches!(
                op.kind,
                OperatorKind::Where(_) | OperatorKind::Extend(_) | OperatorKind::Summarize { .. }
            )
        });
        if aggregates && !row_wise_or_summarize {
            self.unsupported(
                span,
                "mv-apply with take, top, sort, count or distinct in its subquery",
            );
            return None;
        }
        let original: Vec<Field> = input.fields.clone();
        let mut input = input;
        let row_id = "__mv_apply_row";
        if aggregates {
            let mut fields = input.fields.clone();
            fields.push(Field::new(row_id, Type::Long));
            input = rel(
                Node::Window {
                    input: Box::new(input),
                    funcs: vec![WindowFunc {
                        func: WindowKind::RowNumber,
                        partition: vec![],
                        order: vec![],
                    }],
                },
                fields,
            );
        }
        let expanded = self.mv_expand(input, params, columns, limit)?;
        let expanded_names: Vec<String> = columns
            .iter()
            .filter_map(|c| {
                c.name
                    .as_ref()
                    .map(|n| n.name.clone())
                    .or_else(|| names::derived_name(&c.expr))
            })
            .collect();
        let mut piped = Piped {
            rel: expanded,
            order: Vec::new(),
        };
        for op in body {
            if aggregates {
                if let OperatorKind::Summarize {
                    params: _,
                    aggregates,
                    by,
                } = &op.kind
                {
                    // Group by the input row as well: every original column and the row id.
                    let mut by = by.clone();
                    for f in original
                        .iter()
                        .filter(|f| !expanded_names.contains(&f.name))
                    {
                        by.push(NamedExpr {
                            names: vec![],
                            expr: Expr {
                                kind: ExprKind::Name(f.name.clone()),
                                span: op.span,
                            },
                            span: op.span,
                        });
                    }
                    by.push(NamedExpr {
                        names: vec![],
                        expr: Expr {
                            kind: ExprKind::Name(row_id.into()),
                            span: op.span,
                        },
                        span: op.span,
                    });
                    let summarized = self.summarize(piped.rel, aggregates, &by)?;
                    let names: Vec<String> = summarized
                        .fields
                        .iter()
                        .filter(|f| f.name != row_id)
                        .map(|f| f.name.clone())
                        .collect();
                    piped = Piped {
                        rel: summarized.select(&names),
                        order: Vec::new(),
                    };
                    continue;
                }
            }
            piped = self.operator(piped, op)?;
        }
        if !aggregates {
            let names: Vec<String> = piped
                .rel
                .fields
                .iter()
                .filter(|f| f.name != row_id)
                .map(|f| f.name.clone())
                .collect();
            return Some(piped.rel.select(&names));
        }
        Some(piped.rel)
    }

    fn parse_op(
        &mut self,
        input: Rel,
        params: &[OpParam],
        source: &Expr,
        pattern: &[ast::ParsePart],
        filter: bool,
        span: Span,
    ) -> Option<Rel> {
        let kind = Self::param(params, "kind")
            .and_then(Self::param_word)
            .unwrap_or_else(|| "simple".into());
        let flags = Self::param(params, "flags")
            .and_then(Self::param_word)
            .unwrap_or_default();
        let (src, st) = self.scalar(source, &input)?;
        let src = self.to_string_value(src, st);
        // Build one regex from the pattern: literals escaped (or, kind=regex, as written),
        // columns as capture groups.
        let mut regex = String::new();
        if !flags.is_empty() {
            let f: String = flags
                .chars()
                .filter(|c| matches!(c, 'i' | 'm' | 's' | 'U'))
                .collect();
            if !f.is_empty() {
                regex.push_str(&format!("(?{f})"));
            }
        }
        let mut captures: Vec<(String, Type)> = Vec::new();
        let parts: Vec<&ast::ParsePart> = pattern.iter().collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            match part {
                ast::ParsePart::Literal(text) => {
                    if kind == "regex" {
                        regex.push_str(text);
                    } else {
                        regex.push_str(&escape_regex(text));
                    }
                }
                ast::ParsePart::Wildcard => regex.push_str(if last { ".*" } else { ".*?" }),
                ast::ParsePart::Column { name, ty } => {
                    let t = match ty {
                        Some(t) => self.type_name(t)?,
                        None => Type::String,
                    };
                    let next_is_literal =
                        matches!(parts.get(i + 1), Some(ast::ParsePart::Literal(_)));
                    let group = match t {
                        Type::Long | Type::Int => r"-?\d+".to_string(),
                        Type::Real => r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?".to_string(),
                        _ if last => ".*".to_string(),
                        _ if next_is_literal || kind == "regex" => ".*?".to_string(),
                        _ => ".*?".to_string(),
                    };
                    regex.push_str(&format!("({group})"));
                    captures.push((name.name.clone(), t));
                }
            }
        }
        if kind != "regex" {
            regex.insert(0, '^');
            if kind == "simple" {
                regex.push('$');
            }
        }
        if captures.is_empty() {
            self.error(
                DiagKind::Syntax,
                span,
                "parse pattern names no column to extract",
            );
            return None;
        }
        let mut out = input;
        let matched = Scalar::call("kql_matches", vec![src.clone(), Scalar::string(&regex)]);
        if filter {
            let fields = out.fields.clone();
            out = rel(
                Node::Filter {
                    input: Box::new(out),
                    predicate: matched.clone(),
                },
                fields,
            );
        }
        for (i, (name, t)) in captures.iter().enumerate() {
            let text = Scalar::call(
                "kql_extract",
                vec![
                    Scalar::string(&regex),
                    Scalar::long(i as i64 + 1),
                    src.clone(),
                ],
            );
            let value = if *t == Type::String {
                text
            } else {
                let dynamic = Scalar::call("kql_to_json", vec![text.clone()]);
                let converted = self.dynamic_as(dynamic, *t);
                Scalar::Case {
                    whens: vec![(
                        Scalar::bin(BinOp::Eq, text, Scalar::string("")),
                        Scalar::Lit(Lit::Null(*t)),
                    )],
                    otherwise: Box::new(converted),
                }
            };
            out = with_column(out, name, value, *t);
        }
        Some(out)
    }

    /// `search` as a source: every table (or those named) filtered by the predicate, unioned
    /// with a `$table` column.
    pub(super) fn search_source(&mut self, tables: &[ast::Ident], predicate: &Expr) -> Option<Rel> {
        let mut inputs = Vec::new();
        let chosen: Vec<vigil_schema::Table> = if tables.is_empty() {
            vigil_schema::Table::ALL.to_vec()
        } else {
            let mut v = Vec::new();
            for t in tables {
                match vigil_schema::Table::from_name(&t.name) {
                    Some(x) => v.push(x),
                    None => {
                        self.table_name(&t.name, t.span)?;
                    }
                }
            }
            v
        };
        for table in chosen {
            let r = self.scan(table);
            let p = self.search_predicate(predicate, &r)?;
            let mut fields = r.fields.clone();
            let filtered = rel(
                Node::Filter {
                    input: Box::new(r),
                    predicate: p,
                },
                fields.clone(),
            );
            let mut exprs: Vec<Scalar> = fields.iter().map(|f| Scalar::col(&f.name)).collect();
            exprs.insert(0, Scalar::string(table.name()));
            fields.insert(0, Field::new("$table", Type::String));
            inputs.push(rel(
                Node::Project {
                    input: Box::new(filtered),
                    exprs,
                },
                fields,
            ));
        }
        let mut fields: Vec<Field> = Vec::new();
        for r in &inputs {
            for f in &r.fields {
                if !fields.iter().any(|x| x.name == f.name) {
                    fields.push(f.clone());
                }
            }
        }
        Some(rel(Node::Union { inputs }, fields))
    }

    /// `search "text"`: a bare string matches any string column by `has`; other predicates are
    /// ordinary ones.
    fn search_predicate(&mut self, e: &Expr, input: &Rel) -> Option<Scalar> {
        if let ExprKind::Literal(Literal::String(s)) = &e.kind {
            let terms = input
                .fields
                .iter()
                .filter(|f| matches!(f.ty, Type::String | Type::Dynamic))
                .map(|f| Scalar::call("kql_has", vec![Scalar::col(&f.name), Scalar::string(s)]))
                .collect();
            return Some(Scalar::any(terms));
        }
        self.predicate(e, input)
    }
}

/// `input` with column `name` set to `value` (replaced in place, or appended).
pub(super) fn with_column(input: Rel, name: &str, value: Scalar, ty: Type) -> Rel {
    let mut exprs = Vec::new();
    let mut fields = Vec::new();
    let mut replaced = false;
    for f in &input.fields {
        if f.name == name {
            exprs.push(value.clone());
            fields.push(Field::new(name, ty));
            replaced = true;
        } else {
            exprs.push(Scalar::col(&f.name));
            fields.push(f.clone());
        }
    }
    if !replaced {
        exprs.push(value);
        fields.push(Field::new(name, ty));
    }
    rel(
        Node::Project {
            input: Box::new(input),
            exprs,
        },
        fields,
    )
}

/// Columns named `\0X` (hidden by a lookup) renamed `__hidden_X`, so the SQL is valid.
fn rename_hidden(mut r: Rel) -> Rel {
    for f in &mut r.fields {
        if let Some(rest) = f.name.strip_prefix('\u{0}') {
            f.name = format!("__hidden_{rest}");
        }
    }
    r
}

/// One row per distinct `keys` (the first by an arbitrary order).
pub(super) fn dedupe_by(input: Rel, keys: Vec<Scalar>) -> Rel {
    let rn = "__dedupe_rn";
    let mut fields = input.fields.clone();
    let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
    fields.push(Field::new(rn, Type::Long));
    let windowed = rel(
        Node::Window {
            input: Box::new(input),
            funcs: vec![WindowFunc {
                func: WindowKind::RowNumber,
                partition: keys,
                order: vec![],
            }],
        },
        fields.clone(),
    );
    let filtered = rel(
        Node::Filter {
            input: Box::new(windowed),
            predicate: Scalar::bin(BinOp::Eq, Scalar::col(rn), Scalar::long(1)),
        },
        fields,
    );
    filtered.select(&names)
}

fn escape_regex(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn dotnet_type(t: Type) -> &'static str {
    match t {
        Type::Bool => "SByte",
        Type::Int => "Int32",
        Type::Long => "Int64",
        Type::Real => "Double",
        Type::String => "String",
        Type::DateTime => "DateTime",
        Type::Timespan => "TimeSpan",
        Type::Dynamic => "Object",
        Type::Guid => "Guid",
        Type::Null => "Object",
    }
}
