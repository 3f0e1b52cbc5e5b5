//! Lifting calls out of expressions: aggregations inside `summarize` expressions
//! (`countif(x) * 100.0 / count()`) and window functions inside `extend` expressions
//! (`prev(DeviceId) != DeviceId`) are computed first, as hidden columns, and the expression
//! then reads those columns.

use crate::ast::{Expr, ExprKind};

/// `e` with every call whose name satisfies `is_target` replaced by a hidden column
/// `{prefix}{n}`; the lifted calls are appended to `out` as (column, call). Lifted calls are
/// not searched further.
pub(super) fn lift_calls(
    e: &Expr,
    is_target: &dyn Fn(&str) -> bool,
    prefix: &str,
    out: &mut Vec<(String, Expr)>,
) -> Expr {
    let lift =
        |x: &Expr, out: &mut Vec<(String, Expr)>| Box::new(lift_calls(x, is_target, prefix, out));
    let kind = match &e.kind {
        ExprKind::Call { name, .. } if is_target(&name.name) => {
            let col = format!("{prefix}{}", out.len());
            out.push((col.clone(), e.clone()));
            ExprKind::Name(col)
        }
        ExprKind::Call { name, args } => ExprKind::Call {
            name: name.clone(),
            args: args
                .iter()
                .map(|a| lift_calls(a, is_target, prefix, out))
                .collect(),
        },
        ExprKind::Member { base, member } => ExprKind::Member {
            base: lift(base, out),
            member: member.clone(),
        },
        ExprKind::Index { base, index } => ExprKind::Index {
            base: lift(base, out),
            index: lift(index, out),
        },
        ExprKind::Unary { op, operand } => ExprKind::Unary {
            op: *op,
            operand: lift(operand, out),
        },
        ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
            op: *op,
            lhs: lift(lhs, out),
            rhs: lift(rhs, out),
        },
        ExprKind::Between {
            expr,
            lo,
            hi,
            negated,
        } => ExprKind::Between {
            expr: lift(expr, out),
            lo: lift(lo, out),
            hi: lift(hi, out),
            negated: *negated,
        },
        ExprKind::InList { expr, op, items } => ExprKind::InList {
            expr: lift(expr, out),
            op: *op,
            items: items
                .iter()
                .map(|a| lift_calls(a, is_target, prefix, out))
                .collect(),
        },
        ExprKind::Paren(inner) => ExprKind::Paren(lift(inner, out)),
        other => other.clone(),
    };
    Expr { kind, span: e.span }
}

/// Whether `e` contains a call satisfying `is_target`.
pub(super) fn contains_call(e: &Expr, is_target: &dyn Fn(&str) -> bool) -> bool {
    let mut out = Vec::new();
    lift_calls(e, is_target, "", &mut out);
    !out.is_empty()
}
