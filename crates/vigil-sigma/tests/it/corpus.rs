//! Conformance over the third-party Sigma corpus (`../shared/corpora/sigma/rules-linux`,
//! read-only): measured and reported as fractions with a floor, never tuned by special cases.
//!
//! Run with `--nocapture` to see every file that did not load and why.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use vigil_sigma::{check_dir, CheckReport, Mapping, Status};

fn corpus() -> Option<PathBuf> {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/sigma/rules-linux");
    p.is_dir().then_some(p)
}

fn report() -> Option<(PathBuf, CheckReport)> {
    let dir = corpus()?;
    let r = check_dir(&dir, &Mapping::linux(), HashMap::new()).expect("the corpus is readable");
    Some((dir, r))
}

/// A file whose log source Vigil collects: anything not refused for its log source.
fn collected(reason: &str) -> bool {
    !reason.starts_with("log source ")
}

#[test]
fn corpus_conformance() {
    let Some((dir, r)) = report() else {
        println!("skipped: corpus not found beside the repository (../shared/corpora/sigma)");
        return;
    };
    // Per top-level folder of the corpus.
    let mut per: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for f in &r.files {
        let rel = f
            .path
            .strip_prefix(&dir.display().to_string())
            .unwrap_or(&f.path);
        let group = rel
            .trim_start_matches('/')
            .split('/')
            .next()
            .filter(|g| !g.ends_with(".yml"))
            .unwrap_or("(top)")
            .to_string();
        let e = per.entry(group).or_default();
        match f.status {
            Status::Loaded => e[0] += 1,
            Status::Unsupported => e[1] += 1,
            Status::Error => e[2] += 1,
        }
        if f.status != Status::Loaded {
            println!("{:<11} {rel}: {}", f.status.as_str(), f.reason);
        }
    }
    let t = r.totals;
    let in_scope = r
        .files
        .iter()
        .filter(|f| f.status == Status::Loaded || collected(&f.reason))
        .count();
    let frac = t.loaded as f64 / in_scope.max(1) as f64;
    println!("\nfolder               loaded unsupported error");
    for (g, [l, u, e]) in &per {
        println!("{g:<20} {l:>6} {u:>11} {e:>5}");
    }
    println!(
        "\ncorpus: {} files: {} loaded, {} unsupported, {} error",
        r.files.len(),
        t.loaded,
        t.unsupported,
        t.error
    );
    println!(
        "log source collected by Vigil: {in_scope} files, {} loaded ({:.1} %)",
        t.loaded,
        frac * 100.0
    );
    let auditd_out = r
        .files
        .iter()
        .filter(|f| {
            f.status != Status::Loaded && collected(&f.reason) && f.path.contains("/auditd/")
        })
        .count();
    let non_auditd = in_scope
        - r.files
            .iter()
            .filter(|f| f.path.contains("/auditd/"))
            .count();
    let non_auditd_loaded = r
        .files
        .iter()
        .filter(|f| f.status == Status::Loaded && !f.path.contains("/auditd/"))
        .count();
    println!(
        "  of which auditd rules needing facts Vigil lacks: {auditd_out}; without auditd: {non_auditd_loaded}/{non_auditd} loaded"
    );
    assert_eq!(t.loaded + t.unsupported + t.error, r.files.len());
    assert!(r.files.len() >= 200, "the corpus shrank: {}", r.files.len());
    // Floors: process, file, network and DNS rules all load; auditd rules load unless they
    // need records Vigil does not collect.
    assert_eq!(t.error, 0, "corpus rules that fail to load");
    assert_eq!(non_auditd_loaded, non_auditd);
    assert!(
        frac >= 0.93,
        "loaded fraction among collected log sources: {frac}"
    );
}

#[test]
fn every_refusal_has_a_reason() {
    let Some((_, r)) = report() else {
        println!("skipped: corpus not found");
        return;
    };
    for f in &r.files {
        match f.status {
            Status::Loaded => assert!(
                f.reason.is_empty() || f.reason.starts_with("loaded; never true here: `"),
                "{}: {}",
                f.path,
                f.reason
            ),
            _ => assert!(!f.reason.trim().is_empty(), "{} has no reason", f.path),
        }
    }
}

#[test]
fn check_report_json_shape() {
    let Some((_, r)) = report() else {
        println!("skipped: corpus not found");
        return;
    };
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("valid json");
    let files = v["files"].as_array().expect("files");
    assert_eq!(files.len(), r.files.len());
    for f in files {
        let obj = f.as_object().expect("object");
        assert_eq!(obj.len(), 3);
        assert!(obj["path"].is_string() && obj["reason"].is_string());
        assert!(["loaded", "unsupported", "error"].contains(&obj["status"].as_str().unwrap_or("")));
    }
    assert_eq!(v["totals"]["loaded"], r.totals.loaded);
    assert_eq!(v["totals"]["unsupported"], r.totals.unsupported);
    assert_eq!(v["totals"]["error"], r.totals.error);
}
