//! Integration tests of the KQL front end: one binary, one module per area.

mod corpus;
mod errors;
mod exprs;
mod literals;
mod operators;
mod robustness;

use vigil_kql::ast::{Expr, ExprKind, Operator, OperatorKind, Query, Statement};

/// Parse `src`, failing the test with every rendered diagnostic if there is one.
pub fn parse_ok(src: &str) -> Query {
    let (query, diags) = vigil_kql::parse(src);
    if !diags.is_empty() {
        let rendered: Vec<String> = diags.iter().map(|d| d.render(src)).collect();
        panic!(
            "unexpected diagnostics for {src:?}:\n{}",
            rendered.join("\n")
        );
    }
    query.expect("a query without diagnostics has a tree")
}

/// The last statement's expression.
pub fn last_expr(src: &str) -> Expr {
    match parse_ok(src).statements.pop() {
        Some(Statement::Expr(e)) => e,
        other => panic!("expected an expression statement, got {other:?}"),
    }
}

/// The operators of a `T | ...` query.
pub fn ops(src: &str) -> Vec<Operator> {
    match last_expr(src).kind {
        ExprKind::Pipe { ops, .. } => ops,
        other => panic!("expected a pipe, got {other:?}"),
    }
}

/// The one operator of `T | op`.
pub fn op(src: &str) -> OperatorKind {
    let mut ops = ops(src);
    assert_eq!(ops.len(), 1, "{src}");
    ops.remove(0).kind
}

/// The predicate of `T | where <expr>`.
pub fn where_expr(expr: &str) -> Expr {
    match op(&format!("T | where {expr}")) {
        OperatorKind::Where(e) => e,
        other => panic!("expected where, got {other:?}"),
    }
}

/// The third-party hunting corpus, beside the repository.
pub const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpora/kql/microsoft-hunting-queries.jsonl"
);

/// The corpus lines (number from 1, the JSON object); empty, with the reason printed, when
/// the corpus is not beside the repository.
pub fn corpus_lines() -> Vec<(usize, serde_json::Value)> {
    let Ok(text) = std::fs::read_to_string(CORPUS) else {
        println!("skipped: corpus not found at {CORPUS}");
        return Vec::new();
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, serde_json::from_str(l).expect("corpus line is JSON")))
        .collect()
}

/// The source of the corpus queries used by several tests.
pub fn corpus() -> Vec<String> {
    corpus_lines()
        .into_iter()
        .map(|(_, v)| {
            v["query"]
                .as_str()
                .expect("corpus line has a query")
                .to_string()
        })
        .collect()
}
