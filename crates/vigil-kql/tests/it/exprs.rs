//! Expressions: precedence, every binary and list operator, member access, calls.

use crate::where_expr;
use vigil_kql::ast::{BinaryOp, Expr, ExprKind, JoinSide, ListOp, Literal, UnaryOp};

/// A compact rendering of an expression tree, fully parenthesised.
fn show(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Literal(Literal::Long(v)) => v.to_string(),
        ExprKind::Literal(Literal::String(s)) => format!("{s:?}"),
        ExprKind::Literal(l) => format!("{l:?}"),
        ExprKind::Name(n) => n.clone(),
        ExprKind::Star => "*".into(),
        ExprKind::JoinSide(JoinSide::Left) => "$left".into(),
        ExprKind::JoinSide(JoinSide::Right) => "$right".into(),
        ExprKind::Member { base, member } => format!("{}.{}", show(base), member.name),
        ExprKind::Index { base, index } => format!("{}[{}]", show(base), show(index)),
        ExprKind::Call { name, args } => {
            format!(
                "{}({})",
                name.name,
                args.iter().map(show).collect::<Vec<_>>().join(", ")
            )
        }
        ExprKind::Unary { op, operand } => format!("({op:?} {})", show(operand)),
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", show(lhs), op.as_str(), show(rhs))
        }
        ExprKind::Between {
            expr,
            lo,
            hi,
            negated,
        } => {
            format!(
                "({} {}between {} .. {})",
                show(expr),
                if *negated { "!" } else { "" },
                show(lo),
                show(hi)
            )
        }
        ExprKind::InList { expr, op, items } => {
            format!(
                "({} {op:?} [{}])",
                show(expr),
                items.iter().map(show).collect::<Vec<_>>().join(", ")
            )
        }
        ExprKind::Paren(inner) => format!("[{}]", show(inner)),
        other => format!("{other:?}"),
    }
}

fn shown(src: &str) -> String {
    show(&where_expr(src))
}

#[test]
fn precedence() {
    assert_eq!(shown("a or b and c"), "(a or (b and c))");
    assert_eq!(shown("a and b or c"), "((a and b) or c)");
    assert_eq!(shown("a == 1 and b != 2"), "((a == 1) and (b != 2))");
    assert_eq!(shown("a + b * c == d"), "((a + (b * c)) == d)");
    assert_eq!(shown("a - b - c"), "((a - b) - c)");
    assert_eq!(shown("a / b % c"), "((a / b) % c)");
    assert_eq!(shown("-a * b"), "((Neg a) * b)");
    assert_eq!(
        shown("a has 'x' or b contains 'y'"),
        "((a has \"x\") or (b contains \"y\"))"
    );
    assert_eq!(shown("a + 1 in (2, 3)"), "((a + 1) In [2, 3])");
    assert_eq!(shown("(a or b) and c"), "([(a or b)] and c)");
    assert_eq!(shown("not(a or b) and c"), "((Not (a or b)) and c)");
    assert_eq!(
        shown("x between (1 + 1 .. 10) and y"),
        "((x between (1 + 1) .. 10) and y)"
    );
}

#[test]
fn every_binary_operator() {
    let ops = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Mod,
        BinaryOp::Eq,
        BinaryOp::NotEq,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::And,
        BinaryOp::Or,
        BinaryOp::EqCi,
        BinaryOp::NotEqCi,
        BinaryOp::Has,
        BinaryOp::NotHas,
        BinaryOp::HasCs,
        BinaryOp::NotHasCs,
        BinaryOp::HasPrefix,
        BinaryOp::NotHasPrefix,
        BinaryOp::HasPrefixCs,
        BinaryOp::NotHasPrefixCs,
        BinaryOp::HasSuffix,
        BinaryOp::NotHasSuffix,
        BinaryOp::HasSuffixCs,
        BinaryOp::NotHasSuffixCs,
        BinaryOp::Contains,
        BinaryOp::NotContains,
        BinaryOp::ContainsCs,
        BinaryOp::NotContainsCs,
        BinaryOp::StartsWith,
        BinaryOp::NotStartsWith,
        BinaryOp::StartsWithCs,
        BinaryOp::NotStartsWithCs,
        BinaryOp::EndsWith,
        BinaryOp::NotEndsWith,
        BinaryOp::EndsWithCs,
        BinaryOp::NotEndsWithCs,
        BinaryOp::MatchesRegex,
    ];
    for op in ops {
        let src = format!("A {} B", op.as_str());
        let e = where_expr(&src);
        let ExprKind::Binary { op: got, lhs, rhs } = &e.kind else {
            panic!("{src}: {e:?}")
        };
        assert_eq!(*got, op, "{src}");
        assert_eq!(show(lhs), "A");
        assert_eq!(show(rhs), "B");
        assert_eq!(
            (e.span.start, e.span.end as usize),
            (10, 10 + src.len()),
            "{src}"
        );
    }
    assert_eq!(shown("a <> b"), "(a != b)");
    assert_eq!(shown("a notcontains 'x'"), "(a !contains \"x\")");
}

#[test]
fn list_operators_and_between() {
    assert_eq!(shown("a in ('x', 'y')"), "(a In [\"x\", \"y\"])");
    assert_eq!(shown("a !in ('x')"), "(a NotIn [\"x\"])");
    assert_eq!(shown("a in~ ('x')"), "(a InCi [\"x\"])");
    assert_eq!(shown("a !in~ ('x')"), "(a NotInCi [\"x\"])");
    assert_eq!(shown("a has_any ('x', 'y')"), "(a HasAny [\"x\", \"y\"])");
    assert_eq!(shown("a has_all (list)"), "(a HasAll [list])");
    assert_eq!(shown("a in ()"), "(a In [])");
    assert_eq!(shown("a between (1 .. 5)"), "(a between 1 .. 5)");
    assert_eq!(shown("a !between (1..5)"), "(a !between 1 .. 5)");
    // A tabular expression as the list.
    let e = where_expr("a in (T | where b > 1 | project a)");
    let ExprKind::InList {
        op: ListOp::In,
        items,
        ..
    } = e.kind
    else {
        panic!("{e:?}")
    };
    assert!(matches!(&items[0].kind, ExprKind::Pipe { ops, .. } if ops.len() == 2));
}

#[test]
fn member_index_and_calls() {
    assert_eq!(shown("a.b.c == 1"), "(a.b.c == 1)");
    assert_eq!(shown("a['b c'] == 1"), "(a[\"b c\"] == 1)");
    assert_eq!(shown("a.['b c'] == 1"), "(a.b c == 1)");
    assert_eq!(shown("a[0].b == 1"), "(a[0].b == 1)");
    assert_eq!(shown("parse_json(x).y == 1"), "(parse_json(x).y == 1)");
    assert_eq!(shown("['Column name'] == 1"), "(Column name == 1)");
    assert_eq!(shown("[\"x\"] == 1"), "(x == 1)");
    assert_eq!(shown("$table == 'T'"), "($table == \"T\")");
    assert_eq!(
        shown("count == 1 and kind == 2 and type == 3"),
        "(((count == 1) and (kind == 2)) and (type == 3))"
    );
    assert_eq!(shown("f() and g(1, 'a')"), "(f() and g(1, \"a\"))");
    assert_eq!(shown("* has 'x'"), "(* has \"x\")");
    let e = where_expr("x == toscalar(T | summarize count())");
    let ExprKind::Binary { rhs, .. } = e.kind else {
        panic!()
    };
    let ExprKind::Call { name, args } = rhs.kind else {
        panic!("{rhs:?}")
    };
    assert_eq!(name.name, "toscalar");
    assert!(matches!(&args[0].kind, ExprKind::Pipe { .. }));
}

#[test]
fn unary_and_star_arguments() {
    let e = crate::last_expr("print -x, +1, not(true)");
    let ExprKind::Print { columns } = e.kind else {
        panic!()
    };
    assert!(matches!(
        &columns[0].expr.kind,
        ExprKind::Unary {
            op: UnaryOp::Neg,
            ..
        }
    ));
    assert!(matches!(
        &columns[1].expr.kind,
        ExprKind::Unary {
            op: UnaryOp::Plus,
            ..
        }
    ));
    assert!(matches!(
        &columns[2].expr.kind,
        ExprKind::Unary {
            op: UnaryOp::Not,
            ..
        }
    ));
    let e = crate::where_expr("arg_max(Timestamp, *) == take_any(*)");
    assert_eq!(show(&e), "(arg_max(Timestamp, *) == take_any(*))");
}

#[test]
fn spans_cover_the_text() {
    let src = "T | where a.b == 'x'";
    let e = where_expr("a.b == 'x'");
    assert_eq!(e.span.text(src), "a.b == 'x'");
    let ExprKind::Binary { lhs, rhs, .. } = e.kind else {
        panic!()
    };
    assert_eq!(lhs.span.text(src), "a.b");
    assert_eq!(rhs.span.text(src), "'x'");
}
