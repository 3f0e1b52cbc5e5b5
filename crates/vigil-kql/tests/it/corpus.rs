//! Conformance: the Microsoft advanced-hunting queries must parse without diagnostics.

use crate::corpus;

#[test]
fn hunting_corpus_parses() {
    let queries = corpus();
    if queries.is_empty() {
        return;
    }
    let mut failures = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let (tree, diags) = vigil_kql::parse(q);
        if let Some(d) = diags.first() {
            failures.push(format!("line {}: {}", i + 1, d.render(q)));
        } else {
            let tree = tree.unwrap_or_else(|| panic!("line {}: no tree and no diagnostic", i + 1));
            // A tree without diagnostics has no error placeholders.
            let dump = format!("{tree:?}");
            assert!(
                !dump.contains("kind: Error"),
                "line {}: error node without a diagnostic",
                i + 1
            );
            if let Some(at) = dump.find("Unsupported {") {
                eprintln!("line {}: {}", i + 1, &dump[at..(at + 60).min(dump.len())]);
            }
            let exprs = tree
                .statements
                .iter()
                .filter(|s| matches!(s, vigil_kql::ast::Statement::Expr(_)))
                .count();
            if exprs > 1 {
                eprintln!("line {}: {exprs} queries separated by blank lines", i + 1);
            }
        }
    }
    let ok = queries.len() - failures.len();
    let rate = ok as f64 / queries.len() as f64 * 100.0;
    for f in &failures {
        eprintln!("{f}\n");
    }
    eprintln!(
        "parsed {ok}/{} = {rate:.1}% without diagnostics",
        queries.len()
    );
    assert!(
        queries.len() >= 373,
        "corpus truncated: {} queries",
        queries.len()
    );
    assert!(rate >= 95.0, "parse rate {rate:.1}% is below 95%");
}
