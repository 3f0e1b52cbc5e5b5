//! vigil-intel's integration tests: the import formats against their real shapes (the
//! third-party corpus, when present) and inline fixtures, broken inputs, and warning lists.

mod abusech;
mod broken;
mod corpus;
mod csv;
mod misp;
mod stix;
mod taxii;
mod warninglist;

use vigil_intel::import::{import, Format, ImportOptions, Imported};
use vigil_intel::IntelError;

/// "Now" for every test: 2026-03-01T00:00:00Z.
pub const NOW_MS: i64 = 1_772_323_200_000;

pub fn opts() -> ImportOptions {
    ImportOptions::new("test", NOW_MS)
}

pub fn ok(format: Format, data: &str) -> Imported {
    import(format, data.as_bytes(), &opts()).unwrap_or_else(|e| panic!("{e}\n{data}"))
}

pub fn fails(format: Format, data: &str) -> IntelError {
    match import(format, data.as_bytes(), &opts()) {
        Ok(imp) => panic!(
            "imported {} indicators, expected an error\n{data}",
            imp.indicators.len()
        ),
        Err(e) => e,
    }
}

/// (type, value) of each indicator, in order.
pub fn values(imp: &Imported) -> Vec<(String, String)> {
    imp.indicators
        .iter()
        .map(|i| (i.kind.as_str().to_string(), i.value.clone()))
        .collect()
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// (record, reason) of each skipped record, in order.
pub fn skips(imp: &Imported) -> Vec<(&str, &str)> {
    imp.skipped
        .iter()
        .map(|s| (s.record.as_str(), s.reason.as_str()))
        .collect()
}
