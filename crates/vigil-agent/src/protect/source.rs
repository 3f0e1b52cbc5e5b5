//! Indicators from a local file (`protection.indicators_file`), so that the agent enforces
//! without a server: a JSON array of indicators, or JSON lines (one indicator per line; blank
//! lines skipped), in `vigil_intel::Indicator`'s serialised form.
//!
//! **Invariant:** a file is taken whole or not at all: one bad record refuses the file, with
//! an error naming the record, and the indicators enforced before stay in force.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vigil_intel::Indicator;

/// Why an indicators file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read the indicators file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("indicators file {path}, {record}: {message}")]
    Invalid {
        path: PathBuf,
        record: String,
        message: String,
    },
}

/// Parse the text of an indicators file; `path` names it in errors. Values are normalised
/// again, so a hand-written file may use any accepted spelling.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Indicator>, SourceError> {
    parse_reader(text.as_bytes(), path)
}

/// [`parse`] from a reader, without holding the whole file in memory (JSON lines are read one
/// line at a time; an array is deserialised as it is read).
pub fn parse_reader<R: BufRead>(mut r: R, path: &Path) -> Result<Vec<Indicator>, SourceError> {
    let invalid = |record: String, message: String| SourceError::Invalid {
        path: path.to_path_buf(),
        record,
        message,
    };
    let read_err = |source| SourceError::Read {
        path: path.to_path_buf(),
        source,
    };
    let normalize = |mut ind: Indicator, record: &dyn Fn() -> String| {
        ind.value = vigil_intel::normalize::normalize(ind.kind, &ind.value)
            .map_err(|e| invalid(record(), e.to_string()))?;
        Ok::<_, SourceError>(ind)
    };
    let array = {
        let head = r.fill_buf().map_err(read_err)?;
        head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
    };
    if array {
        let list: Vec<Indicator> = serde_json::from_reader(r)
            .map_err(|e| invalid("the JSON array".into(), e.to_string()))?;
        return list
            .into_iter()
            .enumerate()
            .map(|(i, ind)| normalize(ind, &|| format!("element {}", i + 1)))
            .collect();
    }
    let mut out = Vec::new();
    let mut line = String::new();
    let mut n = 0usize;
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(read_err)? == 0 {
            return Ok(out);
        }
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        let record = || format!("line {n}");
        let ind = serde_json::from_str(&line).map_err(|e| invalid(record(), e.to_string()))?;
        out.push(normalize(ind, &record)?);
    }
}

/// Watches one file and reads it again when it changes (mtime, size, inode or device).
#[derive(Debug)]
pub struct FileWatch {
    path: PathBuf,
    seen: Option<(i64, i64, u64, u64, u64)>,
}

impl FileWatch {
    pub fn new(path: PathBuf) -> FileWatch {
        FileWatch { path, seen: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `None` when unchanged since the last call; else the indicators, or why not.
    pub fn poll(&mut self) -> Option<Result<Vec<Indicator>, SourceError>> {
        let read_err = |source| SourceError::Read {
            path: self.path.clone(),
            source,
        };
        let id = match std::fs::metadata(&self.path) {
            Ok(m) => (m.mtime(), m.mtime_nsec(), m.size(), m.ino(), m.dev()),
            Err(e) => {
                // Report a missing file once, then wait for it to appear.
                let first = self.seen != Some((0, 0, 0, 0, 0));
                self.seen = Some((0, 0, 0, 0, 0));
                return first.then(|| Err(read_err(e)));
            }
        };
        if self.seen == Some(id) {
            return None;
        }
        self.seen = Some(id);
        Some(
            std::fs::File::open(&self.path)
                .map_err(read_err)
                .and_then(|f| parse_reader(BufReader::with_capacity(1 << 20, f), &self.path)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_intel::{Action, IndicatorType};

    const ONE: &str = r#"{"id":7,"type":"ip","value":"10.0.0.1","action":"block","severity":"High","title":"c2","generate_alert":true}"#;

    #[test]
    fn arrays_and_lines() {
        let p = Path::new("/x.json");
        let list = parse(&format!("[{ONE},\n{ONE}]"), p).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].id, list[0].action), (7, Action::Block));
        let domain = ONE
            .replace("10.0.0.1", "EVIL.example.")
            .replace("\"ip\"", "\"domain\"");
        let lines = parse(&format!("{ONE}\n\n{domain}\n"), p).unwrap();
        assert_eq!(lines[1].kind, IndicatorType::Domain);
        assert_eq!(lines[1].value, "evil.example");
        assert!(parse("", p).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_record() {
        let p = Path::new("/x.json");
        let e = parse(&format!("{ONE}\n{{\"type\":\"ip\"}}\n"), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("/x.json"), "{e}");
        let e = parse(
            &format!("[{ONE}, {}]", ONE.replace("10.0.0.1", "10.0.0.300")),
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("element 2") && e.contains("10.0.0.300"), "{e}");
        let e = parse(&format!("[{ONE},\n{{\"type\":1}}]"), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the JSON array") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn watch_reports_changes_once() {
        let dir = std::env::temp_dir().join(format!("vigil-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("i.json");
        let mut w = FileWatch::new(path.clone());
        assert!(matches!(w.poll(), Some(Err(SourceError::Read { .. }))));
        assert!(w.poll().is_none());
        std::fs::write(&path, ONE).unwrap();
        assert_eq!(w.poll().unwrap().unwrap().len(), 1);
        assert!(w.poll().is_none());
        std::fs::write(&path, format!("{ONE}\n{ONE}")).unwrap();
        assert_eq!(w.poll().unwrap().unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
