//! The state file: the ack cursor and the drop counters, replaced atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{io_error, DroppedCount, SpoolError};

/// The state file's name inside the spool directory.
pub(super) const STATE_FILE: &str = "spool.state";
/// Written in full, synced, then renamed over [`STATE_FILE`].
pub(super) const STATE_TMP: &str = "spool.state.tmp";
const VERSION: u32 = 1;

/// What the spool keeps besides the segments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct State {
    /// Every id below it was acknowledged or dropped.
    pub cursor: u64,
    /// Dropped since the last `take_dropped`.
    pub unreported: DroppedCount,
    /// Dropped since the spool directory was created.
    pub total: DroppedCount,
}

/// The file's JSON shape (the storage boundary owns its serde types).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    cursor: u64,
    unreported_events: u64,
    unreported_batches: u64,
    total_events: u64,
    total_batches: u64,
}

/// Reads the state; a missing file is a fresh spool. An unreadable one is logged and
/// replaced by the default: every spooled batch is sent again (the server deduplicates).
pub(super) fn load(dir: &Path) -> Result<State, SpoolError> {
    let path = dir.join(STATE_FILE);
    // Bounded: the file is a few hundred bytes; anything longer is not ours.
    let mut text = Vec::new();
    let read = File::open(&path).and_then(|f| f.take(64 * 1024).read_to_end(&mut text));
    match read {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => return Err(io_error("cannot read spool state", &path, e)),
    };
    match serde_json::from_slice::<StateFile>(&text) {
        Ok(f) if f.version == VERSION => Ok(State {
            cursor: f.cursor,
            unreported: DroppedCount {
                events: f.unreported_events,
                batches: f.unreported_batches,
            },
            total: DroppedCount {
                events: f.total_events,
                batches: f.total_batches,
            },
        }),
        Ok(f) => {
            tracing::warn!(
                path = %path.display(),
                version = f.version,
                "spool state has an unknown version; every spooled batch will be sent again"
            );
            Ok(State::default())
        }
        Err(e) => {
            tracing::warn!(
                path = %path.display(),
                error = %e,
                "spool state is unreadable; every spooled batch will be sent again and \
                 the unreported drop count is lost"
            );
            Ok(State::default())
        }
    }
}

/// Replaces the state file: temporary file, fsync, rename, fsync of the directory.
pub(super) fn store(dir: &Path, state: &State) -> Result<(), SpoolError> {
    let path = dir.join(STATE_FILE);
    let tmp = dir.join(STATE_TMP);
    let file = StateFile {
        version: VERSION,
        cursor: state.cursor,
        unreported_events: state.unreported.events,
        unreported_batches: state.unreported.batches,
        total_events: state.total.events,
        total_batches: state.total.batches,
    };
    let write = || -> io::Result<()> {
        let mut text = serde_json::to_vec(&file).map_err(io::Error::other)?;
        text.push(b'\n');
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io_error("cannot write spool state", &tmp, e));
    }
    fs::rename(&tmp, &path).map_err(|e| io_error("cannot rename spool state to", &path, e))?;
    sync_dir(dir)
}

/// Makes creations, renames and removals in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("cannot sync spool directory", dir, e))
}
