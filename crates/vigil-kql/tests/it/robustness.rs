//! No input panics the parser or overflows its stack: truncated corpus queries, random
//! text, and very deep nesting (which must give a diagnostic instead).

use crate::corpus;

/// Parse and check the invariants that hold for every input: no panic (the test would
/// fail), spans inside the text, a tree whenever there is no diagnostic.
fn parse_any(src: &str) {
    let (tree, diags) = vigil_kql::parse(src);
    for d in &diags {
        assert!(
            d.span.start <= d.span.end && d.span.end as usize <= src.len(),
            "span {:?} outside {src:?}",
            d.span
        );
        assert!(!d.message.is_empty());
        let _ = d.render(src);
    }
    if diags.is_empty() {
        assert!(tree.is_some(), "no tree and no diagnostic for {src:?}");
    }
}

#[test]
fn every_prefix_of_corpus_queries_parses_without_panic() {
    let queries = corpus();
    for q in queries.iter().step_by(31) {
        for (i, _) in q.char_indices() {
            parse_any(&q[..i]);
        }
    }
}

#[test]
fn every_suffix_of_corpus_queries_parses_without_panic() {
    let queries = corpus();
    for q in queries.iter().skip(7).step_by(53) {
        for (i, _) in q.char_indices() {
            parse_any(&q[i..]);
        }
    }
}

/// A small deterministic generator (xorshift): no dependency, same cases every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_text_parses_without_panic() {
    const PIECES: &[&str] = &[
        "|",
        ";",
        ",",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ".",
        "..",
        "=",
        "==",
        "!",
        "~",
        "<",
        ">",
        "-",
        "*",
        "\"",
        "'",
        "@\"",
        "h'",
        "```",
        "$",
        "$left",
        "1",
        "1.5",
        "1e3",
        "0x",
        "2d",
        "let",
        "where",
        "project",
        "summarize",
        "by",
        "join",
        "on",
        "datetime(",
        "dynamic(",
        "typeof(",
        "time(",
        "between",
        "in~",
        "!has",
        "T",
        "x",
        " ",
        "\n",
        "\n\n",
        "//",
        "é",
        "\u{200B}",
        "datatable",
        "range",
        "mv-apply",
        "parse",
        "with",
        "render",
        "\\",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let len = rng.below(40);
        let src: String = (0..len)
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect::<Vec<_>>()
            .join("");
        parse_any(&src);
    }
    // Random bytes made valid UTF-8 (lossily).
    for _ in 0..2000 {
        let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        parse_any(&String::from_utf8_lossy(&bytes));
    }
}

/// A nesting deeper than the limit gives one "nested too deeply" diagnostic.
fn assert_too_deep(src: &str) {
    let (_, diags) = vigil_kql::parse(src);
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("nested too deeply")),
        "no depth diagnostic for a {}-byte nesting: {:?}",
        src.len(),
        diags.first()
    );
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_stack_overflow() {
    let n = 100_000;
    assert_too_deep(&format!("{}1{}", "(".repeat(n), ")".repeat(n)));
    assert_too_deep(&format!("print {}1", "-".repeat(n)));
    assert_too_deep(&format!("print {}1{}", "f(".repeat(n), ")".repeat(n)));
    assert_too_deep(&format!("print {}1{}", "not(".repeat(n), ")".repeat(n)));
    assert_too_deep(&format!("print x{}", "[x".repeat(n)));
    assert_too_deep(&format!("T | where x in {}", "(T | where x in ".repeat(n)));
    assert_too_deep(&"let f = () { ".repeat(n));
    assert_too_deep(&format!("print {}", "1 + ".repeat(n) + "1"));
    assert_too_deep(&format!("print {}", "x or ".repeat(n) + "x"));
    assert_too_deep(&format!("print x{}", ".a".repeat(n)));
    assert_too_deep(&format!("print x{}", "[0]".repeat(n)));
}

#[test]
fn nesting_just_under_the_limit_parses() {
    let n = 120;
    crate::parse_ok(&format!("print {}1{}", "(".repeat(n), ")".repeat(n)));
    crate::parse_ok(&format!(
        "print {}1{}",
        "tostring(".repeat(n),
        ")".repeat(n)
    ));
    crate::parse_ok(&format!("T | where {}", vec!["x == 1"; n].join(" or ")));
}
