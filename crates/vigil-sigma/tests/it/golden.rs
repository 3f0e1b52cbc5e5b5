//! Golden tests of the team's rules: every file under `content/rules` must load, and every
//! file under `content/tests` runs through one compiled rule set (format: `vigil_sigma::golden`).
//! Every rule must have a golden file with at least one `match` and one `no_match` case.
//! `VIGIL_CONTENT_DIR` points the test at another content tree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use vigil_sigma::golden::{self, GoldenFile};
use vigil_sigma::{Loader, Mapping, RuleSet, Status};

/// The content tree: `content/` of the repository, or `VIGIL_CONTENT_DIR` when set.
fn content() -> PathBuf {
    match std::env::var_os("VIGIL_CONTENT_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../content"),
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
}

fn load_rules(mapping: &Mapping) -> (RuleSet, usize) {
    let dir = content().join("rules");
    let mut loader = Loader::new(mapping);
    let n = if dir.is_dir() {
        loader.add_dir(&dir).expect("content/rules is readable")
    } else {
        0
    };
    let (set, report) = loader.build();
    let failed: Vec<String> = report
        .files
        .iter()
        .filter(|f| f.status != Status::Loaded)
        .map(|f| format!("  {} ({}): {}", f.path, f.status.as_str(), f.reason))
        .collect();
    assert!(
        failed.is_empty(),
        "{} rule file(s) under content/rules do not load:\n{}",
        failed.len(),
        failed.join("\n")
    );
    (set, n)
}

fn load_tests() -> Vec<GoldenFile> {
    let mut paths = Vec::new();
    yaml_files(&content().join("tests"), &mut paths);
    paths.sort();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        match golden::parse(&p.display().to_string(), &text) {
            Ok(g) => out.push(g),
            Err(e) => errors.push(e),
        }
    }
    assert!(
        errors.is_empty(),
        "malformed golden files:\n  {}",
        errors.join("\n  ")
    );
    out
}

#[test]
fn golden_tests_pass() {
    let mapping = Mapping::linux();
    let (set, n_files) = load_rules(&mapping);
    let tests = load_tests();
    let mut failures = Vec::new();
    let mut cases = 0;
    for g in &tests {
        cases += g.cases.len();
        failures.extend(golden::run(&set, g));
    }
    println!(
        "golden: {n_files} rule files ({} rules), {} golden files, {cases} cases, {} failed",
        set.rules().len(),
        tests.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} golden case(s) failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn every_rule_has_golden_cases() {
    let mapping = Mapping::linux();
    let (set, _) = load_rules(&mapping);
    let tests = load_tests();
    let mut by_rule: HashMap<u32, (usize, usize)> = HashMap::new();
    for g in &tests {
        if let Some(r) = set.find(&g.rule) {
            let e = by_rule.entry(r).or_default();
            e.0 += g.matches();
            e.1 += g.no_matches();
        }
    }
    let mut missing = Vec::new();
    for (i, r) in set.rules().iter().enumerate() {
        match by_rule.get(&(i as u32)) {
            Some((m, n)) if *m > 0 && *n > 0 => {}
            Some((m, n)) => missing.push(format!(
                "  {} ({}): {m} match and {n} no_match cases (need at least one of each)",
                r.id, r.path
            )),
            None => missing.push(format!("  {} ({}): no golden test file", r.id, r.path)),
        }
    }
    println!("golden coverage: {} rules checked", set.rules().len());
    assert!(
        missing.is_empty(),
        "{} rule(s) without golden cases:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
