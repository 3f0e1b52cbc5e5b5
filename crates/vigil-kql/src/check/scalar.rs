//! Scalar expressions: names, literals, operators, conversions between KQL types.

use crate::ast::{BinaryOp, Expr, ExprKind, ListOp, Literal, UnaryOp};
use crate::plan::{BinOp, Lit, Node, Rel, Scalar};
use crate::span::{DiagKind, Span};
use crate::types::Type;

use super::names;
use super::time::parse_datetime;
use super::{Binding, Checker};

impl Checker<'_> {
    /// Lower a scalar expression evaluated on the rows of `input`.
    pub(super) fn scalar(&mut self, e: &Expr, input: &Rel) -> Option<(Scalar, Type)> {
        if self.depth > 200 {
            self.error(DiagKind::Syntax, e.span, "the expression nests too deeply");
            return None;
        }
        self.depth += 1;
        let out = self.scalar_inner(e, input);
        self.depth -= 1;
        out
    }

    fn scalar_inner(&mut self, e: &Expr, input: &Rel) -> Option<(Scalar, Type)> {
        match &e.kind {
            ExprKind::Literal(lit) => self.literal(lit, e.span),
            ExprKind::Paren(inner) => self.scalar(inner, input),
            ExprKind::Name(n) => self.name(n, e.span, input),
            ExprKind::JoinSide(_) => {
                self.error(
                    DiagKind::Syntax,
                    e.span,
                    "$left and $right can only be used in join conditions",
                );
                None
            }
            ExprKind::Member { base, member } => {
                let (b, t) = self.scalar(base, input)?;
                if t != Type::Dynamic {
                    self.error(
                        DiagKind::Type,
                        member.span,
                        format!("'.{}' needs a dynamic value, not {t}", member.name),
                    );
                    return None;
                }
                Some((
                    Scalar::call("kql_dyn_get", vec![b, Scalar::string(&member.name)]),
                    Type::Dynamic,
                ))
            }
            ExprKind::Index { base, index } => {
                let (b, t) = self.scalar(base, input)?;
                if t != Type::Dynamic {
                    self.error(
                        DiagKind::Type,
                        base.span,
                        format!("indexing needs a dynamic value, not {t}"),
                    );
                    return None;
                }
                let (i, it) = self.scalar(index, input)?;
                let key = match it {
                    Type::String => i,
                    Type::Long | Type::Int => self.convert(i, it, Type::Long, index.span)?,
                    _ => {
                        self.error(
                            DiagKind::Type,
                            index.span,
                            format!("an index is a string or a number, not {it}"),
                        );
                        return None;
                    }
                };
                Some((Scalar::call("kql_dyn_get", vec![b, key]), Type::Dynamic))
            }
            ExprKind::Call { name, args } => self.call(name, args, input, e.span),
            ExprKind::Unary { op, operand } => {
                let (s, t) = self.scalar(operand, input)?;
                match op {
                    UnaryOp::Not => {
                        let s = self.convert(s, t, Type::Bool, operand.span)?;
                        Some((s.negate(), Type::Bool))
                    }
                    UnaryOp::Neg | UnaryOp::Plus => {
                        let t = if t == Type::Dynamic { Type::Real } else { t };
                        if !t.is_numeric() && t != Type::Timespan && t != Type::Null {
                            self.error(
                                DiagKind::Type,
                                operand.span,
                                format!("cannot negate a {t}"),
                            );
                            return None;
                        }
                        if *op == UnaryOp::Plus {
                            return Some((s, t));
                        }
                        match s {
                            Scalar::Lit(Lit::Long(v)) => Some((Scalar::long(-v), t)),
                            Scalar::Lit(Lit::Real(v)) => Some((Scalar::Lit(Lit::Real(-v)), t)),
                            Scalar::Lit(Lit::Timespan(v)) => {
                                Some((Scalar::Lit(Lit::Timespan(-v)), t))
                            }
                            s => Some((Scalar::Neg(Box::new(s)), t)),
                        }
                    }
                }
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, e.span, input),
            ExprKind::Between {
                expr,
                lo,
                hi,
                negated,
            } => {
                let (x, xt) = self.scalar(expr, input)?;
                let (l, lt) = self.scalar(lo, input)?;
                let (mut h, mut ht) = self.scalar(hi, input)?;
                // `datetime between (start .. timespan)`: the span counts from the start.
                if lt == Type::DateTime && ht == Type::Timespan {
                    h = Scalar::NanosToTs(Box::new(Scalar::bin(
                        BinOp::Add,
                        Scalar::TsToNanos(Box::new(l.clone())),
                        h,
                    )));
                    ht = Type::DateTime;
                }
                let (x1, l) = self.comparable(x.clone(), xt, l, lt, e.span)?;
                let (x2, h) = self.comparable(x, xt, h, ht, e.span)?;
                let both = Scalar::bin(
                    BinOp::And,
                    Scalar::bin(BinOp::Ge, x1, l),
                    Scalar::bin(BinOp::Le, x2, h),
                );
                Some((if *negated { both.negate() } else { both }, Type::Bool))
            }
            ExprKind::InList { expr, op, items } => self.in_list(expr, *op, items, input),
            ExprKind::Pipe { .. }
            | ExprKind::Datatable { .. }
            | ExprKind::Range { .. }
            | ExprKind::Print { .. }
            | ExprKind::Union(_)
            | ExprKind::Search { .. } => {
                self.error(
                    DiagKind::Type,
                    e.span,
                    "a table is used where a value is expected (wrap it in toscalar(...))",
                );
                None
            }
            ExprKind::Unsupported { what } => {
                self.unsupported(e.span, &format!("'{what}'"));
                None
            }
            ExprKind::Star => {
                self.error(
                    DiagKind::Syntax,
                    e.span,
                    "'*' stands for all columns only in arg_max, take_any, distinct and '* has'",
                );
                None
            }
            // Already reported by the parser.
            ExprKind::Error => None,
        }
    }

    fn literal(&mut self, lit: &Literal, span: Span) -> Option<(Scalar, Type)> {
        Some(match lit {
            Literal::Null => (Scalar::Lit(Lit::Null(Type::Null)), Type::Null),
            Literal::Bool(b) => (Scalar::Lit(Lit::Bool(*b)), Type::Bool),
            Literal::Long(v) => (Scalar::Lit(Lit::Long(*v)), Type::Long),
            Literal::Int(v) => (Scalar::Lit(Lit::Int(*v)), Type::Int),
            Literal::Real(v) => (Scalar::Lit(Lit::Real(*v)), Type::Real),
            Literal::String(s) | Literal::Guid(s) => (Scalar::string(s), Type::String),
            Literal::Timespan(ns) => (Scalar::Lit(Lit::Timespan(*ns)), Type::Timespan),
            Literal::Datetime(text) => {
                let t = text.trim();
                if t.is_empty() || t == "null" {
                    return Some((Scalar::Lit(Lit::Null(Type::DateTime)), Type::DateTime));
                }
                match parse_datetime(t) {
                    Some(ns) => (Scalar::Lit(Lit::DateTime(ns)), Type::DateTime),
                    None => {
                        self.error(
                            DiagKind::Type,
                            span,
                            format!("'{t}' is not a datetime (write e.g. datetime(2024-01-31) or datetime(2024-01-31T10:00:00Z))"),
                        );
                        return None;
                    }
                }
            }
            Literal::Dynamic(text) => {
                let t = text.trim();
                if t.is_empty() || t == "null" {
                    return Some((Scalar::Lit(Lit::Null(Type::Dynamic)), Type::Dynamic));
                }
                match super::dynamic::parse_dynamic(t) {
                    Ok(v) => (Scalar::Lit(Lit::Dynamic(v.to_string())), Type::Dynamic),
                    Err(err) => {
                        self.error(
                            DiagKind::Type,
                            span,
                            format!("dynamic literal is not valid JSON: {err}"),
                        );
                        return None;
                    }
                }
            }
            Literal::TypedNull(name) => match Type::from_name(name) {
                Some(t) => (Scalar::Lit(Lit::Null(t)), t),
                None => {
                    self.error(DiagKind::Type, span, format!("unknown type '{name}'"));
                    return None;
                }
            },
        })
    }

    fn name(&mut self, n: &str, span: Span, input: &Rel) -> Option<(Scalar, Type)> {
        if let Some(f) = input.field(n) {
            return Some((Scalar::col(n), f.ty));
        }
        match self.lookup(n).cloned() {
            Some(Binding::Scalar(s, t)) => return Some((s, t)),
            Some(Binding::Failed { .. }) => return None,
            Some(Binding::Table(_)) => {
                self.error(
                    DiagKind::Type,
                    span,
                    format!("'{n}' is a table; use toscalar({n}) for its single value"),
                );
                return None;
            }
            Some(Binding::Function(f)) if f.params.is_empty() => {
                if let Some(crate::ast::Statement::Expr(body)) = f.body.last() {
                    if !self.is_tabular(body) {
                        let body = body.clone();
                        return self.scalar(&body, input);
                    }
                }
            }
            _ => {}
        }
        let lets: Vec<String> = self
            .scopes
            .iter()
            .flat_map(|s| {
                s.iter()
                    .filter(|(_, b)| matches!(b, Binding::Scalar(..)))
                    .map(|(k, _)| k.clone())
            })
            .collect();
        let hint = names::did_you_mean(
            n,
            input
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .chain(lets.iter().map(String::as_str)),
        );
        self.error(
            DiagKind::UnknownName,
            span,
            format!("unknown column or variable '{n}'{hint}"),
        );
        None
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
        input: &Rel,
    ) -> Option<(Scalar, Type)> {
        if matches!(lhs.kind, ExprKind::Star) {
            return self.star_op(op, rhs, span, input);
        }
        let l = self.scalar(lhs, input);
        let r = self.scalar(rhs, input);
        let ((l, lt), (r, rt)) = (l?, r?);
        use BinaryOp as B;
        match op {
            B::And | B::Or => {
                let l = self.convert(l, lt, Type::Bool, lhs.span)?;
                let r = self.convert(r, rt, Type::Bool, rhs.span)?;
                let o = if op == B::And { BinOp::And } else { BinOp::Or };
                Some((Scalar::bin(o, l, r), Type::Bool))
            }
            B::Add | B::Sub | B::Mul | B::Div | B::Mod => self.arithmetic(op, l, lt, r, rt, span),
            B::Eq | B::NotEq | B::Lt | B::Le | B::Gt | B::Ge => {
                let o = match op {
                    B::Eq => BinOp::Eq,
                    B::NotEq => BinOp::NotEq,
                    B::Lt => BinOp::Lt,
                    B::Le => BinOp::Le,
                    B::Gt => BinOp::Gt,
                    _ => BinOp::Ge,
                };
                // `x == null`: KQL's null test for non-string values.
                if matches!(r, Scalar::Lit(Lit::Null(Type::Null)))
                    && matches!(o, BinOp::Eq | BinOp::NotEq)
                {
                    let test = Scalar::IsNull(Box::new(l));
                    return Some((
                        if o == BinOp::Eq { test } else { test.negate() },
                        Type::Bool,
                    ));
                }
                if lt == Type::Dynamic
                    && rt == Type::Dynamic
                    && matches!(o, BinOp::Eq | BinOp::NotEq)
                {
                    let eq = Scalar::call("kql_json_equal", vec![l, r]);
                    return Some((if o == BinOp::Eq { eq } else { eq.negate() }, Type::Bool));
                }
                let (l, r) = self.comparable(l, lt, r, rt, span)?;
                Some((Scalar::bin(o, l, r), Type::Bool))
            }
            _ => {
                let l = self.to_string_value(l, lt);
                let r = self.to_string_value(r, rt);
                Some((string_op(op, l, r), Type::Bool))
            }
        }
    }

    /// `* has "x"` (and the other string operators): true when any string or dynamic column
    /// matches.
    fn star_op(
        &mut self,
        op: BinaryOp,
        rhs: &Expr,
        span: Span,
        input: &Rel,
    ) -> Option<(Scalar, Type)> {
        use BinaryOp as B;
        if matches!(
            op,
            B::And
                | B::Or
                | B::Add
                | B::Sub
                | B::Mul
                | B::Div
                | B::Mod
                | B::Eq
                | B::NotEq
                | B::Lt
                | B::Le
                | B::Gt
                | B::Ge
        ) {
            self.error(
                DiagKind::Syntax,
                span,
                format!("'*' cannot be used with '{}'", op.as_str()),
            );
            return None;
        }
        let (r, rt) = self.scalar(rhs, input)?;
        let r = self.to_string_value(r, rt);
        let mut parts = Vec::new();
        for f in input
            .fields
            .iter()
            .filter(|f| matches!(f.ty, Type::String | Type::Dynamic))
        {
            let col = self.to_string_value(Scalar::col(&f.name), f.ty);
            parts.push(string_op(op, col, r.clone()));
        }
        Some((Scalar::any(parts), Type::Bool))
    }

    fn arithmetic(
        &mut self,
        op: BinaryOp,
        l: Scalar,
        lt: Type,
        r: Scalar,
        rt: Type,
        span: Span,
    ) -> Option<(Scalar, Type)> {
        use BinaryOp as B;
        let o = match op {
            B::Add => BinOp::Add,
            B::Sub => BinOp::Sub,
            B::Mul => BinOp::Mul,
            B::Div => BinOp::Div,
            _ => BinOp::Mod,
        };
        let nanos = |s: Scalar| Scalar::TsToNanos(Box::new(s));
        match (lt, rt) {
            (Type::DateTime, Type::DateTime) if op == B::Sub => {
                Some((Scalar::bin(BinOp::Sub, nanos(l), nanos(r)), Type::Timespan))
            }
            (Type::DateTime, Type::Timespan) if matches!(op, B::Add | B::Sub) => Some((
                Scalar::NanosToTs(Box::new(Scalar::bin(o, nanos(l), r))),
                Type::DateTime,
            )),
            (Type::Timespan, Type::DateTime) if op == B::Add => Some((
                Scalar::NanosToTs(Box::new(Scalar::bin(o, l, nanos(r)))),
                Type::DateTime,
            )),
            (Type::Timespan, Type::Timespan) if matches!(op, B::Add | B::Sub | B::Mod) => {
                Some((Scalar::bin(o, l, r), Type::Timespan))
            }
            (Type::Timespan, Type::Timespan) if op == B::Div => {
                let l = Scalar::Cast {
                    expr: Box::new(l),
                    to: Type::Real,
                };
                Some((Scalar::bin(o, l, r), Type::Real))
            }
            (Type::Timespan, n) | (n, Type::Timespan)
                if n.is_numeric() && (op == B::Mul || (op == B::Div && lt == Type::Timespan)) =>
            {
                let e = Scalar::Cast {
                    expr: Box::new(Scalar::bin(o, l, r)),
                    to: Type::Long,
                };
                Some((e, Type::Timespan))
            }
            (a, b)
                if (a.is_numeric() || a == Type::Dynamic || a == Type::Null)
                    && (b.is_numeric() || b == Type::Dynamic || b == Type::Null) =>
            {
                let t = match Type::widen(a, b) {
                    Type::Dynamic | Type::Null => Type::Real,
                    t => t,
                };
                let l = self.convert(l, a, t, span)?;
                let r = self.convert(r, b, t, span)?;
                Some((Scalar::bin(o, l, r), t))
            }
            _ => {
                let hint = if lt == Type::String && rt == Type::String && op == B::Add {
                    " (use strcat to join strings)"
                } else {
                    ""
                };
                self.error(
                    DiagKind::Type,
                    span,
                    format!("cannot apply '{}' to {lt} and {rt}{hint}", op.as_str()),
                );
                None
            }
        }
    }

    /// Two operands brought to one type for a comparison.
    pub(super) fn comparable(
        &mut self,
        l: Scalar,
        lt: Type,
        r: Scalar,
        rt: Type,
        span: Span,
    ) -> Option<(Scalar, Scalar)> {
        // Booleans compare with numbers as 0/1, strings with numbers as the number they
        // spell (null when they spell none), as MDE's hunting queries expect.
        let as_number = |s: Scalar, t: Type, n: Type| -> (Scalar, Type) {
            match t {
                Type::Bool => (
                    Scalar::Case {
                        whens: vec![(s, Scalar::long(1))],
                        otherwise: Box::new(Scalar::long(0)),
                    },
                    Type::Long,
                ),
                Type::String => {
                    let want = if n == Type::Real {
                        Type::Real
                    } else {
                        Type::Long
                    };
                    if let Scalar::Lit(Lit::String(text)) = &s {
                        if let Ok(v) = text.trim().parse::<i64>() {
                            return (Scalar::long(v), Type::Long);
                        }
                        if let Ok(v) = text.trim().parse::<f64>() {
                            return (Scalar::Lit(Lit::Real(v)), Type::Real);
                        }
                    }
                    let func = if want == Type::Real {
                        "kql_dyn_to_double"
                    } else {
                        "kql_dyn_to_long"
                    };
                    (
                        Scalar::call(func, vec![Scalar::call("kql_to_json", vec![s])]),
                        want,
                    )
                }
                _ => (s, t),
            }
        };
        let (l, lt, r, rt) = match (lt, rt) {
            (Type::Bool | Type::String, n) if n.is_numeric() => {
                let (l, lt) = as_number(l, lt, n);
                (l, lt, r, rt)
            }
            (n, Type::Bool | Type::String) if n.is_numeric() => {
                let (r, rt) = as_number(r, rt, n);
                (l, lt, r, rt)
            }
            _ => (l, lt, r, rt),
        };
        let target = match (lt, rt) {
            (a, b) if a == b => return Some((l, r)),
            (Type::Null, t) | (t, Type::Null) => t,
            (Type::Dynamic, t) | (t, Type::Dynamic) => t,
            (a, b) if a.is_numeric() && b.is_numeric() => Type::widen(a, b),
            (Type::Guid, Type::String) | (Type::String, Type::Guid) => Type::String,
            _ => {
                self.error(
                    DiagKind::Type,
                    span,
                    format!("cannot compare {lt} with {rt}"),
                );
                return None;
            }
        };
        let l = self.convert(l, lt, target, span)?;
        let r = self.convert(r, rt, target, span)?;
        Some((l, r))
    }

    fn in_list(
        &mut self,
        expr: &Expr,
        op: ListOp,
        items: &[Expr],
        input: &Rel,
    ) -> Option<(Scalar, Type)> {
        let (x, xt) = self.scalar(expr, input)?;
        // `x in (T)`: a tabular operand (its first column).
        if let [one] = items {
            if self.is_tabular(one) {
                let rel = self.tabular(one)?;
                return self.in_table(x, xt, op, rel, one.span);
            }
        }
        let mut values: Vec<(Scalar, Type, Span)> = Vec::new();
        let mut dynamic_arrays: Vec<Scalar> = Vec::new();
        for item in items {
            let (s, t) = self.scalar(item, input)?;
            match (&s, t) {
                (Scalar::Lit(Lit::Dynamic(json)), _) => {
                    match serde_json::from_str::<serde_json::Value>(json) {
                        Ok(serde_json::Value::Array(elems)) => {
                            for v in elems {
                                if let Some((ls, lt)) = json_literal(&v) {
                                    values.push((ls, lt, item.span));
                                }
                            }
                        }
                        Ok(v) => {
                            if let Some((ls, lt)) = json_literal(&v) {
                                values.push((ls, lt, item.span));
                            }
                        }
                        Err(_) => values.push((s, t, item.span)),
                    }
                }
                (_, Type::Dynamic) => dynamic_arrays.push(s),
                _ => values.push((s, t, item.span)),
            }
        }
        let negated = matches!(op, ListOp::NotIn | ListOp::NotInCi);
        let test = match op {
            ListOp::In | ListOp::NotIn => {
                let target = if xt == Type::Dynamic {
                    Type::String
                } else {
                    xt
                };
                let x = self.convert(x.clone(), xt, target, expr.span)?;
                let mut list = Vec::new();
                for (s, t, sp) in values {
                    let s = if t == Type::String && target != Type::String {
                        self.error(
                            DiagKind::Type,
                            sp,
                            format!("a string in a list compared with a {target}"),
                        );
                        return None;
                    } else if target == Type::String {
                        self.to_string_value(s, t)
                    } else {
                        self.convert(s, t, target, sp)?
                    };
                    list.push(s);
                }
                let mut parts = Vec::new();
                if !list.is_empty() {
                    parts.push(Scalar::InList {
                        expr: Box::new(x.clone()),
                        list,
                        negated: false,
                    });
                }
                for arr in dynamic_arrays {
                    let json = self.to_dynamic(x.clone(), target);
                    parts.push(Scalar::call("kql_set_has_element", vec![arr, json]));
                }
                Scalar::any(parts)
            }
            ListOp::InCi | ListOp::NotInCi | ListOp::HasAny | ListOp::HasAll => {
                let func = match op {
                    ListOp::HasAny => "kql_has_any",
                    ListOp::HasAll => "kql_has_all",
                    _ => "kql_in_ci",
                };
                let text = self.to_string_value(x, xt);
                let mut parts = Vec::new();
                if !values.is_empty() {
                    let mut args = vec![text.clone()];
                    for (s, t, _) in values {
                        args.push(self.to_string_value(s, t));
                    }
                    parts.push(Scalar::call(func, args));
                }
                // Arrays known only when the query runs (`toscalar(... make_set(x))`).
                for arr in dynamic_arrays {
                    parts.push(Scalar::call(
                        &format!("{func}_list"),
                        vec![text.clone(), arr],
                    ));
                }
                if op == ListOp::HasAll {
                    // has_all of nothing is true.
                    parts
                        .into_iter()
                        .reduce(|a, b| Scalar::bin(BinOp::And, a, b))
                        .unwrap_or(Scalar::Lit(Lit::Bool(true)))
                } else {
                    Scalar::any(parts)
                }
            }
        };
        Some((if negated { test.negate() } else { test }, Type::Bool))
    }

    fn in_table(
        &mut self,
        x: Scalar,
        xt: Type,
        op: ListOp,
        rel: Rel,
        span: Span,
    ) -> Option<(Scalar, Type)> {
        let Some(first) = rel.fields.first().cloned() else {
            self.error(DiagKind::Type, span, "the table has no columns");
            return None;
        };
        // A dynamic first column (e.g. `summarize make_set(x)`) contributes its elements.
        let mut rel = rel;
        let mut col_ty = first.ty;
        if first.ty == Type::Dynamic {
            rel = Rel {
                node: Node::Expand {
                    input: Box::new(rel.select(std::slice::from_ref(&first.name))),
                    columns: vec![crate::plan::Expansion {
                        column: first.name.clone(),
                        pairs: false,
                    }],
                    index: None,
                    limit: None,
                },
                fields: vec![crate::plan::Field::new(first.name.clone(), Type::Dynamic)],
            };
            col_ty = Type::Dynamic;
        }
        let ci = matches!(op, ListOp::InCi | ListOp::NotInCi);
        if matches!(op, ListOp::HasAny | ListOp::HasAll) {
            self.unsupported(span, "has_any/has_all over a table");
            return None;
        }
        let target = if xt == Type::Dynamic || ci {
            Type::String
        } else {
            xt
        };
        let mut x = if target == Type::String {
            self.to_string_value(x, xt)
        } else {
            self.convert(x, xt, target, span)?
        };
        let col = if target == Type::String {
            self.to_string_value(Scalar::col(&first.name), col_ty)
        } else {
            self.convert(Scalar::col(&first.name), col_ty, target, span)?
        };
        let col = if ci {
            x = Scalar::call("lower", vec![x]);
            Scalar::call("lower", vec![col])
        } else {
            col
        };
        let projected = Rel {
            node: Node::Project {
                input: Box::new(rel),
                exprs: vec![col],
            },
            fields: vec![crate::plan::Field::new(first.name.clone(), target)],
        };
        let negated = matches!(op, ListOp::NotIn | ListOp::NotInCi);
        Some((
            Scalar::InRel {
                expr: Box::new(x),
                rel: Box::new(projected),
                negated,
            },
            Type::Bool,
        ))
    }

    /// Convert `s` of type `from` to `to`, or report why it cannot be.
    pub(super) fn convert(
        &mut self,
        s: Scalar,
        from: Type,
        to: Type,
        span: Span,
    ) -> Option<Scalar> {
        if from == to {
            return Some(s);
        }
        match (from, to) {
            (Type::Null, _) => Some(match s {
                Scalar::Lit(Lit::Null(_)) => Scalar::Lit(Lit::Null(to)),
                s => Scalar::Cast {
                    expr: Box::new(s),
                    to,
                },
            }),
            (Type::Dynamic, _) => Some(self.dynamic_as(s, to)),
            (_, Type::Dynamic) => Some(self.to_dynamic(s, from)),
            (Type::Int, Type::Long) | (Type::Int | Type::Long, Type::Real) => Some(match s {
                Scalar::Lit(Lit::Int(v)) if to == Type::Long => Scalar::long(i64::from(v)),
                Scalar::Lit(Lit::Long(v)) if to == Type::Real => Scalar::Lit(Lit::Real(v as f64)),
                s => Scalar::Cast {
                    expr: Box::new(s),
                    to,
                },
            }),
            (Type::Long, Type::Int) => Some(Scalar::Cast {
                expr: Box::new(s),
                to,
            }),
            (Type::Guid, Type::String) | (Type::String, Type::Guid) => Some(s),
            _ => {
                self.error(
                    DiagKind::Type,
                    span,
                    format!("expected a {to} here, found a {from}"),
                );
                None
            }
        }
    }

    /// The KQL string form of any value (`tostring`).
    pub(super) fn to_string_value(&self, s: Scalar, t: Type) -> Scalar {
        match t {
            Type::String | Type::Guid => s,
            Type::Null => Scalar::string(""),
            Type::Dynamic => Scalar::call("kql_dyn_to_string", vec![s]),
            Type::DateTime => Scalar::call(
                "coalesce",
                vec![
                    Scalar::call("kql_tostring_datetime", vec![s]),
                    Scalar::string(""),
                ],
            ),
            Type::Timespan => Scalar::call(
                "coalesce",
                vec![
                    Scalar::call("kql_tostring_timespan", vec![s]),
                    Scalar::string(""),
                ],
            ),
            Type::Bool | Type::Int | Type::Long | Type::Real => Scalar::call(
                "coalesce",
                vec![
                    Scalar::Cast {
                        expr: Box::new(s),
                        to: Type::String,
                    },
                    Scalar::string(""),
                ],
            ),
        }
    }

    /// A value as dynamic (JSON text).
    pub(super) fn to_dynamic(&self, s: Scalar, t: Type) -> Scalar {
        match t {
            Type::Dynamic => s,
            Type::Null => Scalar::Lit(Lit::Null(Type::Dynamic)),
            Type::Timespan => Scalar::call(
                "kql_to_json",
                vec![Scalar::call("kql_tostring_timespan", vec![s])],
            ),
            _ => Scalar::call("kql_to_json", vec![s]),
        }
    }

    /// A dynamic value converted to `t` (null when it does not convert).
    pub(super) fn dynamic_as(&self, json: Scalar, t: Type) -> Scalar {
        let func = match t {
            Type::Long => "kql_dyn_to_long",
            Type::Int => "kql_dyn_to_int",
            Type::Real => "kql_dyn_to_double",
            Type::Bool => "kql_dyn_to_bool",
            Type::DateTime => "kql_dyn_to_datetime",
            Type::Timespan => "kql_dyn_to_timespan",
            Type::String | Type::Guid => "kql_dyn_to_string",
            Type::Dynamic | Type::Null => return json,
        };
        Scalar::call(func, vec![json])
    }
}

/// A JSON scalar as a literal (arrays and objects are left out).
fn json_literal(v: &serde_json::Value) -> Option<(Scalar, Type)> {
    match v {
        serde_json::Value::String(s) => Some((Scalar::string(s), Type::String)),
        serde_json::Value::Bool(b) => Some((Scalar::Lit(Lit::Bool(*b)), Type::Bool)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Some((Scalar::long(i), Type::Long)),
            None => n.as_f64().map(|f| (Scalar::Lit(Lit::Real(f)), Type::Real)),
        },
        _ => None,
    }
}

/// The string operators (`has`, `contains`, `startswith`, ...), on string operands.
fn string_op(op: BinaryOp, l: Scalar, r: Scalar) -> Scalar {
    use BinaryOp as B;
    let call = |f: &str, l: Scalar, r: Scalar| Scalar::call(f, vec![l, r]);
    let (positive, negate) = match op {
        B::Has => (call("kql_has", l, r), false),
        B::NotHas => (call("kql_has", l, r), true),
        B::HasCs => (call("kql_has_cs", l, r), false),
        B::NotHasCs => (call("kql_has_cs", l, r), true),
        B::HasPrefix => (call("kql_hasprefix", l, r), false),
        B::NotHasPrefix => (call("kql_hasprefix", l, r), true),
        B::HasPrefixCs => (call("kql_hasprefix_cs", l, r), false),
        B::NotHasPrefixCs => (call("kql_hasprefix_cs", l, r), true),
        B::HasSuffix => (call("kql_hassuffix", l, r), false),
        B::NotHasSuffix => (call("kql_hassuffix", l, r), true),
        B::HasSuffixCs => (call("kql_hassuffix_cs", l, r), false),
        B::NotHasSuffixCs => (call("kql_hassuffix_cs", l, r), true),
        B::Contains => (call("kql_contains", l, r), false),
        B::NotContains => (call("kql_contains", l, r), true),
        B::ContainsCs | B::NotContainsCs => (
            Scalar::bin(BinOp::Gt, call("strpos", l, r), Scalar::long(0)),
            op == B::NotContainsCs,
        ),
        B::StartsWith => (call("kql_startswith", l, r), false),
        B::NotStartsWith => (call("kql_startswith", l, r), true),
        B::StartsWithCs => (call("starts_with", l, r), false),
        B::NotStartsWithCs => (call("starts_with", l, r), true),
        B::EndsWith => (call("kql_endswith", l, r), false),
        B::NotEndsWith => (call("kql_endswith", l, r), true),
        B::EndsWithCs => (call("ends_with", l, r), false),
        B::NotEndsWithCs => (call("ends_with", l, r), true),
        B::EqCi => (call("kql_eq_ci", l, r), false),
        B::NotEqCi => (call("kql_eq_ci", l, r), true),
        B::MatchesRegex => (call("kql_matches", l, r), false),
        // Not string operators; `binary` handles them before this point.
        _ => (Scalar::Lit(Lit::Bool(false)), false),
    };
    if negate {
        positive.negate()
    } else {
        positive
    }
}
