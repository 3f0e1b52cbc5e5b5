//! Syntax errors: every error of a query at once, each with a span on the offending text and
//! a message that says what was expected and what was found.

use vigil_kql::{DiagKind, Diagnostic};

fn diags(src: &str) -> Vec<Diagnostic> {
    let (_, diags) = vigil_kql::parse(src);
    for d in &diags {
        assert_eq!(d.kind, DiagKind::Syntax, "{d}");
        assert!(!d.message.starts_with(char::is_uppercase), "lowercase: {d}");
        assert!(!d.message.ends_with('.'), "no trailing period: {d}");
    }
    diags
}

/// The (message, spanned text) pairs of `src`'s diagnostics.
fn found(src: &str) -> Vec<(String, String)> {
    diags(src)
        .iter()
        .map(|d| (d.message.clone(), d.span.text(src).to_string()))
        .collect()
}

#[test]
fn unclosed_datatable_names_the_opener() {
    assert_eq!(
        found("datatable(a: string | take 1"),
        [(
            "expected ')' to close 'datatable(' but found '|'".to_string(),
            "|".to_string()
        )]
    );
}

#[test]
fn several_operator_errors_are_all_reported() {
    let src = "T\n| where a == \n| project b = \n| take 1\n| summarize count() by\n| sort a";
    let got = found(src);
    assert_eq!(
        got,
        [
            (
                "expected an expression but found '|'".to_string(),
                "|".to_string()
            ),
            (
                "expected an expression but found '|'".to_string(),
                "|".to_string()
            ),
            (
                "expected an expression but found '|'".to_string(),
                "|".to_string()
            ),
            ("expected 'by' but found 'a'".to_string(), "a".to_string()),
        ]
    );
    // The spans point at the lines of the errors.
    let lines: Vec<usize> = diags(src)
        .iter()
        .map(|d| d.render(src).split(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 6, 6]);
}

#[test]
fn errors_in_several_statements_are_all_reported() {
    let src = "let a = ;\nlet b = f(1, ;\nT | where x in (1, 2 | take 1";
    let got = found(src);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[0],
        ("expected an expression but found ';'".into(), ";".into())
    );
    assert_eq!(
        got[1],
        ("expected an expression but found ';'".into(), ";".into())
    );
    // `2 | take 1` is a tabular item of the list: the `)` is missing at the end.
    assert_eq!(
        got[2],
        (
            "expected ')' to close 'in (' but found end of query".into(),
            "".into()
        )
    );
}

#[test]
fn the_tree_keeps_what_parsed() {
    let (tree, diags) = vigil_kql::parse("T | where a == | project b | take");
    assert_eq!(diags.len(), 2);
    let tree = tree.expect("a best-effort tree");
    let Some(vigil_kql::ast::Statement::Expr(e)) = tree.statements.first() else {
        panic!()
    };
    let vigil_kql::ast::ExprKind::Pipe { ops, .. } = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(ops.len(), 1, "only the project parsed: {ops:?}");
}

#[test]
fn errors_inside_parentheses_recover_inside() {
    // The failed where inside the join's subquery does not hide the error after the join.
    let got = found("T | join (U | where a == | take 1) on A | extend = 1");
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].1, "|");
    assert_eq!(
        got[1],
        ("expected an expression but found '='".into(), "=".into())
    );
}

#[test]
fn specific_messages() {
    let cases: &[(&str, &str, &str)] = &[
        ("T | frobnicate x", "expected a tabular operator after '|' but found 'frobnicate'", "frobnicate"),
        ("T |", "expected a tabular operator after '|' but found end of query", ""),
        ("T | where a between (1, 2)", "expected '..' between the bounds but found ','", ","),
        ("T | where f(a", "expected ')' to close 'f(' but found end of query", ""),
        ("T | where a[1", "expected ']' to close '[' but found end of query", ""),
        ("print datetime(2024", "expected ')' to close 'datetime(' but found end of query", ""),
        ("print time(abc)", "invalid timespan literal 'abc'", "abc"),
        ("print long(x)", "invalid long literal 'x'", "x"),
        ("print 'abc", "expected an expression but found an unterminated string literal", "'abc"),
        (
            "print 12xyz",
            "expected an expression but found '12xyz' ('xyz' is not a timespan unit: d, h, m, s, ms, microsecond, tick)",
            "12xyz",
        ),
        ("print #", "expected an expression but found the character '#'", "#"),
        ("T | project a b", "expected '|' or the end of the tabular expression but found 'b'", "b"),
        ("T | join U", "expected 'on' but found end of query", ""),
        ("let = 5", "expected a name after 'let' but found '='", "="),
        ("T | take 1 )", "expected ';' or end of query but found ')'", ")"),
        ("T | parse x with", "expected a parse pattern after 'with' but found end of query", ""),
        ("let f = (a: ) { 1 }", "expected a type name (string, long, int, real, bool, datetime, timespan, dynamic, guid) but found ')'", ")"),
    ];
    for (src, message, text) in cases {
        let got = found(src);
        assert_eq!(
            got.first(),
            Some(&(message.to_string(), text.to_string())),
            "{src}: {got:?}"
        );
    }
}

#[test]
fn render_shows_a_caret_under_the_error() {
    let src = "T\n| where a ==\n| take 1";
    let d = &diags(src)[0];
    assert_eq!(
        d.render(src),
        "3:1: expected an expression but found '|'\n  | take 1\n  ^"
    );
}

#[test]
fn empty_input_is_an_empty_query() {
    let (tree, diags) = vigil_kql::parse("  // only a comment\n");
    assert!(diags.is_empty());
    assert!(tree.expect("a tree").statements.is_empty());
}
