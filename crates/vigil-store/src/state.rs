//! `state.json`: the manifest of live Parquet files and the sequence ranges of every row in
//! them, replaced atomically (write `state.json.tmp`, fsync, rename, fsync the directory).
//!
//! Replacing this file is the commit point of a flush, a compaction and a retention run; see
//! the crate docs for the order of operations around it. Everything read from it is checked:
//! a file name must be a plain `f<id>.parquet` in a known table and a valid day, so a damaged or
//! hand-edited state cannot point the store outside its directory.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};
use vigil_schema::{Table, Timestamp};

use crate::dedupe::DedupeSnapshot;
use crate::partition::{day_name, parse_day};
use crate::wal::sync_dir;
use crate::StoreError;

const VERSION: u64 = 1;
pub(crate) const STATE_FILE: &str = "state.json";

/// One live Parquet file as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileRecord {
    pub table: Table,
    pub day: i64,
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
    pub min_ts: i64,
    pub max_ts: i64,
}

/// The contents of the state file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct State {
    pub next_file_id: u64,
    pub last_flush: Option<Timestamp>,
    pub files: Vec<FileRecord>,
    /// Sequence ranges of every row in `files`.
    pub ranges: DedupeSnapshot,
}

/// Whether `name` is a file name the store writes (`f` + digits + `.parquet`).
pub(crate) fn is_data_file_name(name: &str) -> bool {
    name.strip_prefix('f')
        .and_then(|s| s.strip_suffix(".parquet"))
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

fn to_json(state: &State) -> Json {
    let files: Vec<Json> = state
        .files
        .iter()
        .map(|f| {
            json!({
                "table": f.table.name(),
                "day": day_name(f.day),
                "name": f.name,
                "rows": f.rows,
                "bytes": f.bytes,
                "min_ts": f.min_ts,
                "max_ts": f.max_ts,
            })
        })
        .collect();
    let ranges: Vec<Json> = state
        .ranges
        .iter()
        .map(|(device, boot, r)| json!({"device": device, "boot": boot, "seqs": r}))
        .collect();
    json!({
        "version": VERSION,
        "next_file_id": state.next_file_id,
        "last_flush": state.last_flush.map(|t| t.nanos()),
        "files": files,
        "ranges": ranges,
    })
}

fn from_json(v: &Json) -> Result<State, String> {
    let u64_of = |v: &Json, key: &str| {
        v.get(key)
            .and_then(Json::as_u64)
            .ok_or_else(|| format!("{key} is missing or not a number"))
    };
    let i64_of = |v: &Json, key: &str| {
        v.get(key)
            .and_then(Json::as_i64)
            .ok_or_else(|| format!("{key} is missing or not a number"))
    };
    let str_of = |v: &Json, key: &'static str| {
        v.get(key)
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("{key} is missing or not a string"))
    };
    let version = u64_of(v, "version")?;
    if version != VERSION {
        return Err(format!("unknown version {version}"));
    }
    let mut state = State {
        next_file_id: u64_of(v, "next_file_id")?,
        last_flush: v.get("last_flush").and_then(Json::as_i64).map(Timestamp),
        ..State::default()
    };
    let files = v
        .get("files")
        .and_then(Json::as_array)
        .ok_or("files is missing")?;
    for f in files {
        let table_name = str_of(f, "table")?;
        let table = Table::from_name(&table_name).ok_or(format!("unknown table {table_name}"))?;
        let day_text = str_of(f, "day")?;
        let day = parse_day(&day_text).ok_or(format!("bad day {day_text}"))?;
        let name = str_of(f, "name")?;
        if !is_data_file_name(&name) {
            return Err(format!("bad file name {name:?}"));
        }
        state.files.push(FileRecord {
            table,
            day,
            name,
            rows: u64_of(f, "rows")?,
            bytes: u64_of(f, "bytes")?,
            min_ts: i64_of(f, "min_ts")?,
            max_ts: i64_of(f, "max_ts")?,
        });
    }
    let ranges = v
        .get("ranges")
        .and_then(Json::as_array)
        .ok_or("ranges is missing")?;
    for r in ranges {
        let seqs = r
            .get("seqs")
            .and_then(Json::as_array)
            .ok_or("seqs is missing")?;
        let mut list = Vec::with_capacity(seqs.len());
        for pair in seqs {
            let pair = pair.as_array().filter(|p| p.len() == 2);
            let (s, e) = pair
                .and_then(|p| Some((p[0].as_u64()?, p[1].as_u64()?)))
                .ok_or("a seq range is not a pair of numbers")?;
            list.push((s, e));
        }
        state
            .ranges
            .push((str_of(r, "device")?, str_of(r, "boot")?, list));
    }
    Ok(state)
}

/// Read the state file in `dir`, or `None` when there is none.
pub(crate) fn load(dir: &Path) -> Result<Option<State>, StoreError> {
    let path = dir.join(STATE_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("read", &path, e)),
    };
    let corrupt = |reason: String| StoreError::CorruptState {
        path: path.clone(),
        reason,
    };
    let json: Json = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    from_json(&json).map(Some).map_err(corrupt)
}

/// Replace the state file in `dir` atomically.
pub(crate) fn save(dir: &Path, state: &State) -> Result<(), StoreError> {
    let tmp: PathBuf = dir.join(format!("{STATE_FILE}.tmp"));
    let path = dir.join(STATE_FILE);
    let text = serde_json::to_vec(&to_json(state)).map_err(|e| StoreError::CorruptState {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::io("write", &tmp, e));
    }
    fs::rename(&tmp, &path).map_err(|e| StoreError::io("rename", &tmp, e))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let state = State {
            next_file_id: 7,
            last_flush: Some(Timestamp(5)),
            files: vec![FileRecord {
                table: Table::DeviceFileEvents,
                day: 20_000,
                name: "f000000000006.parquet".into(),
                rows: 10,
                bytes: 2000,
                min_ts: -3,
                max_ts: 9,
            }],
            ranges: vec![("d".into(), "b".into(), vec![(0, 10), (20, 30)])],
        };
        save(dir.path(), &state).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(state));
        assert!(!dir.path().join("state.json.tmp").exists());
    }

    #[test]
    fn a_file_name_that_leaves_the_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{"version":1,"next_file_id":1,"files":[{"table":"DeviceInfo","day":"2026-01-01",
            "name":"../../etc/passwd","rows":1,"bytes":1,"min_ts":0,"max_ts":0}],"ranges":[]}"#;
        fs::write(dir.path().join(STATE_FILE), text).unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("bad file name"), "{e}");
        assert!(is_data_file_name("f000000000001.parquet"));
        assert!(!is_data_file_name("f.parquet"));
    }
}
