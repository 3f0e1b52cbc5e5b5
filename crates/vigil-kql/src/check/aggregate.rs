//! `summarize`: aggregation functions, `by` keys, and `arg_max`/`arg_min` (a window ranking
//! rows within each group).

use crate::ast::{Expr, ExprKind, NamedExpr};
use crate::plan::{Field, Lit, Node, Rel, Scalar};
use crate::span::{DiagKind, Span};
use crate::types::Type;

use super::names;
use super::{lift, Checker};

/// One aggregate output column.
struct AggOut {
    name: String,
    expr: Scalar,
    ty: Type,
}

impl Checker<'_> {
    pub(super) fn summarize(
        &mut self,
        input: Rel,
        aggregates: &[NamedExpr],
        by: &[NamedExpr],
    ) -> Option<Rel> {
        // Keys.
        let mut keys = Vec::new();
        let mut fields: Vec<Field> = Vec::new();
        let mut next_column = 1;
        for b in by {
            let (s, t) = self.scalar(&b.expr, &input)?;
            let name = match b.names.first() {
                Some(n) => n.name.clone(),
                None => key_name(&b.expr).unwrap_or_else(|| {
                    let n = format!("Column{next_column}");
                    next_column += 1;
                    n
                }),
            };
            fields.push(Field::new(name, t));
            keys.push(s);
        }
        // arg_max / arg_min: rank rows per group, keep the first.
        if let Some(arg) = aggregates.iter().find(|a| is_arg_extreme(&a.expr)) {
            if aggregates.len() > 1 {
                return self.window_summarize(input, keys, fields, aggregates);
            }
            return self.arg_extreme(input, keys, fields, arg);
        }
        // Each item is an aggregation call, or an expression over aggregation calls, which are
        // computed first as hidden columns and combined by a projection afterwards.
        enum Item {
            Direct(Vec<usize>),
            Post(String, Expr),
        }
        let mut items = Vec::new();
        let mut lifted: Vec<(String, Expr)> = Vec::new();
        let mut aggs = Vec::new();
        let n_keys = fields.len();
        for a in aggregates {
            if !is_aggregate_call(&a.expr) {
                if !lift::contains_call(&a.expr, &is_aggregate) {
                    self.error(
                        DiagKind::Type,
                        a.expr.span,
                        "expected an aggregation function such as count(), dcount(x) or make_set(x)",
                    );
                    return None;
                }
                let first_lifted = lifted.len();
                let rewritten = lift::lift_calls(&a.expr, &is_aggregate, "__agg", &mut lifted);
                // Unnamed: the name of the first aggregation inside (`tostring(make_set(x))`
                // is `set_x`), as KQL does.
                let name = match a.names.first() {
                    Some(n) => n.name.clone(),
                    None => {
                        let (_, call) = &lifted[first_lifted];
                        let outs = self.aggregate(call, &input)?;
                        outs.into_iter()
                            .next()
                            .map_or_else(|| format!("Column{}", items.len() + 1), |o| o.name)
                    }
                };
                items.push(Item::Post(name, rewritten));
                continue;
            }
            let outs = self.aggregate(&a.expr, &input)?;
            if a.names.len() > 1 && a.names.len() != outs.len() {
                self.error(
                    DiagKind::Type,
                    a.span,
                    format!(
                        "{} names given for {} aggregate columns",
                        a.names.len(),
                        outs.len()
                    ),
                );
                return None;
            }
            let mut idx = Vec::new();
            for (i, out) in outs.into_iter().enumerate() {
                let name = a.names.get(i).map_or(out.name, |n| n.name.clone());
                let mut name = name;
                while fields.iter().any(|f| f.name == name) {
                    name.push('1');
                }
                idx.push(fields.len());
                fields.push(Field::new(name, out.ty));
                aggs.push(out.expr);
            }
            items.push(Item::Direct(idx));
        }
        for (col, call) in &lifted {
            let outs = self.aggregate(call, &input)?;
            if outs.len() != 1 {
                self.error(
                    DiagKind::Type,
                    call.span,
                    "an aggregation with several result columns cannot be part of an expression",
                );
                return None;
            }
            let out = outs.into_iter().next()?;
            fields.push(Field::new(col.clone(), out.ty));
            aggs.push(out.expr);
        }
        let aggregated = Rel {
            node: Node::Aggregate {
                input: Box::new(input),
                keys,
                aggs,
            },
            fields,
        };
        if lifted.is_empty() {
            return Some(aggregated);
        }
        let mut exprs: Vec<Scalar> = Vec::new();
        let mut out_fields: Vec<Field> = Vec::new();
        for f in &aggregated.fields[..n_keys] {
            exprs.push(Scalar::col(&f.name));
            out_fields.push(f.clone());
        }
        for item in items {
            match item {
                Item::Direct(idx) => {
                    for i in idx {
                        let f = aggregated.fields[i].clone();
                        exprs.push(Scalar::col(&f.name));
                        out_fields.push(f);
                    }
                }
                Item::Post(name, e) => {
                    let (s, t) = self.scalar(&e, &aggregated)?;
                    exprs.push(s);
                    out_fields.push(Field::new(name, t));
                }
            }
        }
        Some(Rel {
            node: Node::Project {
                input: Box::new(aggregated),
                exprs,
            },
            fields: out_fields,
        })
    }

    /// The aggregate columns of one `summarize` item as (default name, expression, type).
    pub(super) fn aggregate_outputs(
        &mut self,
        e: &Expr,
        input: &Rel,
    ) -> Option<Vec<(String, Scalar, Type)>> {
        Some(
            self.aggregate(e, input)?
                .into_iter()
                .map(|o| (o.name, o.expr, o.ty))
                .collect(),
        )
    }

    /// The aggregate columns of one `summarize` item.
    fn aggregate(&mut self, e: &Expr, input: &Rel) -> Option<Vec<AggOut>> {
        let ExprKind::Call { name, args } = &e.kind else {
            if let ExprKind::Paren(inner) = &e.kind {
                return self.aggregate(inner, input);
            }
            self.error(
                DiagKind::Type,
                e.span,
                "expected an aggregation function such as count(), dcount(x) or make_set(x)",
            );
            return None;
        };
        let f = name.name.as_str();
        let arity = |c: &mut Self, lo: usize, hi: usize| -> Option<()> {
            if args.len() < lo || args.len() > hi {
                let want = if lo == hi {
                    format!("{lo}")
                } else {
                    format!("{lo} to {hi}")
                };
                c.error(
                    DiagKind::Type,
                    e.span,
                    format!("{f}() takes {want} argument(s), not {}", args.len()),
                );
                return None;
            }
            Some(())
        };
        let col = |args: &[Expr], i: usize| -> String {
            args.get(i)
                .and_then(names::derived_name)
                .unwrap_or_default()
        };
        let one = |name: String, expr: Scalar, ty: Type| Some(vec![AggOut { name, expr, ty }]);
        match f {
            "count" => {
                arity(self, 0, 1)?;
                let expr = match args.first() {
                    Some(a) => {
                        let (s, _) = self.scalar(a, input)?;
                        Scalar::call("count", vec![s])
                    }
                    None => Scalar::call("count", vec![Scalar::long(1)]),
                };
                let name = match args.first() {
                    Some(_) => format!("count_{}", col(args, 0)),
                    None => "count_".into(),
                };
                one(name, expr, Type::Long)
            }
            "countif" => {
                arity(self, 1, 1)?;
                let p = self.predicate(&args[0], input)?;
                one(
                    "countif_".into(),
                    filtered("count", vec![Scalar::long(1)], p),
                    Type::Long,
                )
            }
            "dcount" | "count_distinct" => {
                arity(self, 1, 2)?;
                let (s, _) = self.scalar(&args[0], input)?;
                let expr = Scalar::Call {
                    func: "count".into(),
                    args: vec![s],
                    distinct: true,
                    filter: None,
                };
                one(format!("{f}_{}", col(args, 0)), expr, Type::Long)
            }
            "dcountif" | "count_distinctif" => {
                arity(self, 2, 3)?;
                let (s, _) = self.scalar(&args[0], input)?;
                let p = self.predicate(&args[1], input)?;
                let expr = Scalar::Call {
                    func: "count".into(),
                    args: vec![s],
                    distinct: true,
                    filter: Some(Box::new(p)),
                };
                one(format!("{f}_{}", col(args, 0)), expr, Type::Long)
            }
            "sum" | "avg" | "min" | "max" | "stdev" | "stdevp" | "variance" | "variancep" => {
                arity(self, 1, 1)?;
                let (s, t) = self.scalar(&args[0], input)?;
                let (func, ty, s) = self.simple_agg(f, s, t, args[0].span)?;
                one(
                    format!("{f}_{}", col(args, 0)),
                    Scalar::call(func, vec![s]),
                    ty,
                )
            }
            "sumif" | "avgif" | "minif" | "maxif" | "stdevif" | "varianceif" => {
                arity(self, 2, 2)?;
                let base = f.trim_end_matches("if");
                let (s, t) = self.scalar(&args[0], input)?;
                let p = self.predicate(&args[1], input)?;
                let (func, ty, s) = self.simple_agg(base, s, t, args[0].span)?;
                one(
                    format!("{f}_{}", col(args, 0)),
                    filtered(func, vec![s], p),
                    ty,
                )
            }
            "take_any" | "any" | "take_anyif" | "anyif" => {
                let conditional = f.ends_with("if");
                arity(self, 1, if conditional { 2 } else { 64 })?;
                if !conditional && args.len() == 1 && is_star(&args[0]) {
                    return Some(
                        input
                            .fields
                            .iter()
                            .map(|fl| AggOut {
                                name: fl.name.clone(),
                                expr: Scalar::call("first_value", vec![Scalar::col(&fl.name)]),
                                ty: fl.ty,
                            })
                            .collect(),
                    );
                }
                let filter = if conditional {
                    Some(self.predicate(&args[1], input)?)
                } else {
                    None
                };
                let value_args = if conditional { &args[..1] } else { &args[..] };
                let mut outs = Vec::new();
                for (i, a) in value_args.iter().enumerate() {
                    let (s, t) = self.scalar(a, input)?;
                    let name = names::derived_name(a).unwrap_or_else(|| format!("any_{i}"));
                    let expr = match &filter {
                        Some(p) => filtered("first_value", vec![s], p.clone()),
                        None => Scalar::call("first_value", vec![s]),
                    };
                    outs.push(AggOut { name, expr, ty: t });
                }
                Some(outs)
            }
            "make_set" | "make_list" | "make_set_if" | "make_list_if" | "makeset" | "makelist" => {
                let conditional = f.ends_with("_if");
                arity(self, 1, if conditional { 3 } else { 2 })?;
                let (s, t) = self.scalar(&args[0], input)?;
                let json = self.to_dynamic(s, t);
                let mut call_args = vec![json];
                if conditional {
                    call_args.push(self.predicate(&args[1], input)?);
                }
                let max_at = if conditional { 2 } else { 1 };
                if let Some(m) = args.get(max_at) {
                    let (ms, mt) = self.scalar(m, input)?;
                    call_args.push(self.convert(ms, mt, Type::Long, m.span)?);
                }
                let base = if f.contains("set") { "set" } else { "list" };
                let func = format!("kql_make_{base}{}", if conditional { "_if" } else { "" });
                one(
                    format!("{base}_{}", col(args, 0)),
                    Scalar::call(&func, call_args),
                    Type::Dynamic,
                )
            }
            "make_bag" | "make_bag_if" => {
                let conditional = f.ends_with("_if");
                arity(self, 1, if conditional { 3 } else { 2 })?;
                let (s, t) = self.scalar(&args[0], input)?;
                let json = self.to_dynamic(s, t);
                let expr = if conditional {
                    let p = self.predicate(&args[1], input)?;
                    filtered("kql_make_bag", vec![json], p)
                } else {
                    Scalar::call("kql_make_bag", vec![json])
                };
                one(format!("bag_{}", col(args, 0)), expr, Type::Dynamic)
            }
            "percentile" | "percentiles" => {
                arity(self, 2, 32)?;
                let (s, t) = self.scalar(&args[0], input)?;
                if !t.is_numeric() && t != Type::DateTime && t != Type::Timespan {
                    self.error(
                        DiagKind::Type,
                        args[0].span,
                        format!("{f}() needs a number, not {t}"),
                    );
                    return None;
                }
                let value = self.convert(s, t, Type::Real, args[0].span)?;
                let mut outs = Vec::new();
                for p in &args[1..] {
                    let pct = self.constant_number(p)?;
                    if !(0.0..=100.0).contains(&pct) {
                        self.error(DiagKind::Type, p.span, "a percentile is between 0 and 100");
                        return None;
                    }
                    let label = format!("{pct}").replace('.', "_");
                    outs.push(AggOut {
                        name: format!("percentile_{}_{label}", col(args, 0)),
                        expr: Scalar::call(
                            "approx_percentile_cont",
                            vec![value.clone(), Scalar::Lit(Lit::Real(pct / 100.0))],
                        ),
                        ty: Type::Real,
                    });
                }
                Some(outs)
            }
            "binary_all_or" | "binary_all_and" | "binary_all_xor" => {
                arity(self, 1, 1)?;
                let (s, t) = self.scalar(&args[0], input)?;
                let s = self.convert(s, t, Type::Long, args[0].span)?;
                let func = match f {
                    "binary_all_or" => "bit_or",
                    "binary_all_and" => "bit_and",
                    _ => "bit_xor",
                };
                one(
                    format!("{f}_{}", col(args, 0)),
                    Scalar::call(func, vec![s]),
                    Type::Long,
                )
            }
            _ => {
                let known = [
                    "count",
                    "countif",
                    "dcount",
                    "dcountif",
                    "sum",
                    "sumif",
                    "avg",
                    "avgif",
                    "min",
                    "minif",
                    "max",
                    "maxif",
                    "make_set",
                    "make_set_if",
                    "make_list",
                    "make_list_if",
                    "make_bag",
                    "take_any",
                    "arg_max",
                    "arg_min",
                    "percentile",
                    "percentiles",
                    "stdev",
                    "variance",
                ];
                let hint = names::did_you_mean(f, known);
                self.error(
                    DiagKind::UnknownName,
                    name.span,
                    format!("'{f}' is not an aggregation function{hint}"),
                );
                None
            }
        }
    }

    /// SQL function, result type and (converted) argument of sum/avg/min/max/stdev/variance.
    fn simple_agg(
        &mut self,
        f: &str,
        s: Scalar,
        t: Type,
        span: Span,
    ) -> Option<(&'static str, Type, Scalar)> {
        let orderable = t.is_numeric()
            || matches!(
                t,
                Type::DateTime | Type::Timespan | Type::String | Type::Bool
            );
        match f {
            "min" | "max" if orderable => Some((if f == "min" { "min" } else { "max" }, t, s)),
            "sum" if t.is_numeric() || t == Type::Timespan => {
                let ty = if t == Type::Int { Type::Long } else { t };
                Some(("sum", ty, s))
            }
            "avg" if t.is_numeric() => {
                let s = self.convert(s, t, Type::Real, span)?;
                Some(("avg", Type::Real, s))
            }
            "stdev" | "stdevp" | "variance" | "variancep" if t.is_numeric() => {
                let s = self.convert(s, t, Type::Real, span)?;
                let func = match f {
                    "stdev" => "stddev_samp",
                    "stdevp" => "stddev_pop",
                    "variance" => "var_samp",
                    _ => "var_pop",
                };
                Some((func, Type::Real, s))
            }
            "sum" | "avg" | "stdev" | "variance" | "stdevp" | "variancep" | "min" | "max"
                if t == Type::Dynamic =>
            {
                let s = self.convert(s, t, Type::Real, span)?;
                self.simple_agg(f, s, Type::Real, span)
            }
            _ => {
                self.error(
                    DiagKind::Type,
                    span,
                    format!("{f}() cannot aggregate a {t}"),
                );
                None
            }
        }
    }

    fn constant_number(&mut self, e: &Expr) -> Option<f64> {
        let empty = super::empty_rel();
        let (s, _) = self.scalar(e, &empty)?;
        match s {
            Scalar::Lit(Lit::Long(v)) => Some(v as f64),
            Scalar::Lit(Lit::Int(v)) => Some(f64::from(v)),
            Scalar::Lit(Lit::Real(v)) => Some(v),
            _ => {
                self.error(DiagKind::Type, e.span, "expected a constant number");
                None
            }
        }
    }
}

fn filtered(func: &str, args: Vec<Scalar>, p: Scalar) -> Scalar {
    Scalar::Call {
        func: func.to_string(),
        args,
        distinct: false,
        filter: Some(Box::new(p)),
    }
}

pub(super) fn is_star(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Star)
}

pub(super) fn is_arg_extreme(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Call { name, .. } if matches!(name.name.as_str(), "arg_max" | "arg_min" | "argmax" | "argmin"))
}

/// The aggregation functions `summarize` knows.
const AGGREGATES: &[&str] = &[
    "count",
    "countif",
    "dcount",
    "dcountif",
    "count_distinct",
    "count_distinctif",
    "sum",
    "sumif",
    "avg",
    "avgif",
    "min",
    "max",
    "minif",
    "maxif",
    "stdev",
    "stdevif",
    "stdevp",
    "variance",
    "varianceif",
    "variancep",
    "take_any",
    "any",
    "take_anyif",
    "anyif",
    "make_set",
    "make_list",
    "make_set_if",
    "make_list_if",
    "makeset",
    "makelist",
    "make_bag",
    "make_bag_if",
    "percentile",
    "percentiles",
    "binary_all_or",
    "binary_all_and",
    "binary_all_xor",
];

fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name)
}

fn is_aggregate_call(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Call { name, .. } => is_aggregate(&name.name),
        ExprKind::Paren(inner) => is_aggregate_call(inner),
        _ => false,
    }
}

/// The name of a `by` key: a column keeps its name, `bin(Col, ...)` and similar calls take
/// the name of their first column argument.
fn key_name(e: &Expr) -> Option<String> {
    if let Some(n) = names::derived_name(e) {
        return Some(n);
    }
    match &e.kind {
        ExprKind::Call { name, args }
            if matches!(
                name.name.as_str(),
                "bin"
                    | "floor"
                    | "bin_at"
                    | "startofday"
                    | "startofweek"
                    | "startofmonth"
                    | "startofyear"
                    | "tostring"
                    | "tolower"
                    | "toupper"
            ) =>
        {
            args.first().and_then(names::derived_name)
        }
        _ => None,
    }
}
