//! Embeds the team's rule pack (`content/yara/*.yar`) into the crate: writes
//! `$OUT_DIR/team_rules.rs`, a sorted list of `(file name, source)` pairs.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dir = manifest.join("../../content/yara");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the rule pack {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yar"))
        .collect();
    files.sort();
    let mut out = String::from("/// The team's rule pack: (file name, source), sorted by name.\npub(crate) static TEAM_RULES: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().expect("file name").to_string_lossy();
        let abs = path.canonicalize().expect("canonical rule path");
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .expect("write");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("team_rules.rs");
    std::fs::write(&dest, out).expect("write team_rules.rs");
}
