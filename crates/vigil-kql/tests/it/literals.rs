//! Every literal kind.

use vigil_kql::ast::{ExprKind, Literal};

/// The literal of `print <src>`.
fn lit(src: &str) -> Literal {
    let e = crate::last_expr(&format!("print {src}"));
    let ExprKind::Print { mut columns } = e.kind else {
        panic!("expected print, got {:?}", e.kind)
    };
    match columns.remove(0).expr.kind {
        ExprKind::Literal(l) => l,
        other => panic!("{src}: expected a literal, got {other:?}"),
    }
}

const SEC: i64 = 1_000_000_000;

#[test]
fn numbers() {
    assert_eq!(lit("42"), Literal::Long(42));
    assert_eq!(lit("-42"), Literal::Long(-42));
    assert_eq!(lit("1.5"), Literal::Real(1.5));
    assert_eq!(lit("1e3"), Literal::Real(1000.0));
    assert_eq!(lit("2.5E-1"), Literal::Real(0.25));
    assert_eq!(lit("0x1F"), Literal::Long(31));
    assert_eq!(lit("long(7)"), Literal::Long(7));
    assert_eq!(lit("long(-7)"), Literal::Long(-7));
    assert_eq!(lit("int(5)"), Literal::Int(5));
    assert_eq!(lit("real(1.5)"), Literal::Real(1.5));
    assert_eq!(lit("double(2)"), Literal::Real(2.0));
    assert_eq!(lit("real(-inf)"), Literal::Real(f64::NEG_INFINITY));
}

#[test]
fn timespans() {
    assert_eq!(lit("1d"), Literal::Timespan(86_400 * SEC));
    assert_eq!(lit("2h"), Literal::Timespan(7_200 * SEC));
    assert_eq!(lit("30m"), Literal::Timespan(1_800 * SEC));
    assert_eq!(lit("10s"), Literal::Timespan(10 * SEC));
    assert_eq!(lit("100ms"), Literal::Timespan(100_000_000));
    assert_eq!(lit("10microsecond"), Literal::Timespan(10_000));
    assert_eq!(lit("5tick"), Literal::Timespan(500));
    assert_eq!(lit("1.5h"), Literal::Timespan(5_400 * SEC));
    assert_eq!(lit("-1d"), Literal::Timespan(-86_400 * SEC));
    assert_eq!(
        lit("time(1.02:03:04)"),
        Literal::Timespan(((26 * 60 + 3) * 60 + 4) * SEC)
    );
    assert_eq!(lit("time(00:00:01.5)"), Literal::Timespan(1_500_000_000));
    assert_eq!(lit("timespan(2h)"), Literal::Timespan(7_200 * SEC));
    assert_eq!(lit("time(2)"), Literal::Timespan(2 * 86_400 * SEC));
    assert_eq!(lit("timespan(null)"), Literal::TypedNull("timespan".into()));
}

#[test]
fn strings() {
    assert_eq!(lit(r#""a\"b\\c\n""#), Literal::String("a\"b\\c\n".into()));
    assert_eq!(lit(r"'it\'s'"), Literal::String("it's".into()));
    assert_eq!(
        lit(r#"@"C:\Windows\""#),
        Literal::String(r"C:\Windows\".into())
    );
    assert_eq!(
        lit(r#"@"say ""hi""""#),
        Literal::String(r#"say "hi""#.into())
    );
    assert_eq!(lit(r#"h"secret""#), Literal::String("secret".into()));
    assert_eq!(lit(r#"h@'C:\x'"#), Literal::String(r"C:\x".into()));
    assert_eq!(
        lit("```line1\nline2```"),
        Literal::String("line1\nline2".into())
    );
    assert_eq!(
        lit(r#""con" 'cat' @"enated""#),
        Literal::String("concatenated".into())
    );
    // Unknown escapes keep the backslash (regular expressions written without @).
    assert_eq!(lit(r#""\d+""#), Literal::String(r"\d+".into()));
}

#[test]
fn datetime_dynamic_and_typed_nulls() {
    assert_eq!(
        lit("datetime(2024-01-01)"),
        Literal::Datetime("2024-01-01".into())
    );
    assert_eq!(
        lit("datetime(2024-01-01 10:00:00)"),
        Literal::Datetime("2024-01-01 10:00:00".into())
    );
    assert_eq!(
        lit("datetime(2024-01-01T10:00:00.123Z)"),
        Literal::Datetime("2024-01-01T10:00:00.123Z".into())
    );
    assert_eq!(lit("datetime(null)"), Literal::Datetime("null".into()));
    assert_eq!(
        lit(r#"dynamic({"a": [1, "b)"], "c": null})"#),
        Literal::Dynamic(r#"{"a": [1, "b)"], "c": null}"#.into())
    );
    assert_eq!(lit("dynamic([])"), Literal::Dynamic("[]".into()));
    assert_eq!(lit("dynamic(null)"), Literal::Dynamic("null".into()));
    assert_eq!(
        lit("guid(74be27de-1e4e-49d9-b579-fe0b331d3642)"),
        Literal::Guid("74be27de-1e4e-49d9-b579-fe0b331d3642".into())
    );
    assert_eq!(lit("bool(true)"), Literal::Bool(true));
    assert_eq!(lit("false"), Literal::Bool(false));
    assert_eq!(lit("long(null)"), Literal::TypedNull("long".into()));
    assert_eq!(lit("typeof(string)"), Literal::TypedNull("string".into()));
}

#[test]
fn raw_literal_text_does_not_confuse_what_follows() {
    // The tokens after `datetime(...)` are lexed again from its closing parenthesis.
    let e = crate::where_expr(
        "Timestamp between (datetime(2024-01-01 10:00) .. datetime(2024-01-02)) and A == 'x'",
    );
    assert!(matches!(e.kind, ExprKind::Binary { .. }), "{e:?}");
}
