//! Feed and file formats → indicators. An import is all or nothing: the first broken record
//! fails it with an error naming the record; well-formed records Vigil cannot match are
//! skipped and counted with the reason.

use crate::{Action, Indicator, IntelError, Severity};

/// The formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A STIX 2.1 bundle (or a single STIX object, or a JSON array of objects).
    Stix,
    /// A TAXII 2.1 envelope (`{"objects": [...], "more": ..}`).
    Taxii,
    /// A MISP event: feed style (`{"Event": {...}}`), API style, or a list of them.
    Misp,
    /// Vigil's CSV (see `csv`): header row, one indicator a line.
    Csv,
    /// An abuse.ch export (URLhaus, ThreatFox, MalwareBazaar, SSL blacklist CSV; Feodo JSON),
    /// recognised from its header.
    Abusech,
}

impl std::str::FromStr for Format {
    type Err = IntelError;
    fn from_str(s: &str) -> Result<Format, IntelError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "stix" => Format::Stix,
            "taxii" => Format::Taxii,
            "misp" => Format::Misp,
            "csv" => Format::Csv,
            "abusech" | "abuse.ch" => Format::Abusech,
            _ => {
                return Err(IntelError::invalid(format!(
                    "unknown format {s:?} (expected stix, taxii, misp, csv or abusech)"
                )))
            }
        })
    }
}

/// What the importer fills in where the source says nothing.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Provenance source name (`manual`, `csv`, a feed's name).
    pub source: String,
    pub action: Action,
    pub severity: Severity,
    pub generate_alert: bool,
    pub expires_ms: Option<i64>,
    /// Now, for sources that give validity as relative times or to drop expired records.
    pub now_ms: i64,
}

/// A well-formed record that produced no indicator, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub record: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub indicators: Vec<Indicator>,
    pub skipped: Vec<Skipped>,
}

/// Reads `data` as `format`.
pub fn import(format: Format, data: &[u8], opts: &ImportOptions) -> Result<Imported, IntelError> {
    let _ = (format, data, opts);
    Err(IntelError::invalid("import is not supported yet"))
}
