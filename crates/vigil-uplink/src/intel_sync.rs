//! The agent's copy of the server's indicators, kept on disk so that protection works offline
//! and across restarts, and the sync that keeps it current.
//!
//! **Journal.** `<dir>/indicators.log` is a sequence of records `[len u32][crc u32][kind u8]
//! [body]`: a chunk (an `IndicatorChunk` as the server sent it) or a commit (the end of one
//! sync). Loading replays the chunks of committed syncs in order (a `full` chunk starts from
//! nothing); chunks after the last commit (a sync cut short by a crash or a network cut) and a
//! torn or corrupt tail are discarded and cut off. When the journal grows past twice what a
//! snapshot would take, it is rewritten as one full snapshot (a new file, fsynced, renamed
//! over the old one).
//!
//! **Invariant:** the version and set id the agent reports are those of the last committed
//! sync; a sync that fails leaves the cache as it was before it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message;
use vigil_intel::{Indicator, IntelSet};
use vigil_proto::intel::{from_synced, to_synced};
use vigil_proto::pb::{IndicatorChunk, SyncedIndicator};

use crate::spool::format::Crc32;

const FILE: &str = "indicators.log";
const KIND_CHUNK: u8 = 1;
const KIND_COMMIT: u8 = 2;
/// The largest record read back (a chunk of 5,000 indicators is well under this).
const MAX_RECORD: u32 = 64 << 20;
/// Indicators per chunk in a rewritten snapshot.
const SNAPSHOT_CHUNK: usize = 5000;

/// The indicators the agent holds.
pub struct IndicatorCache {
    dir: PathBuf,
    file: File,
    /// Bytes of the journal up to the last commit.
    committed_len: u64,
    /// Bytes a snapshot of `map` took when last written (or an estimate).
    snapshot_len: u64,
    set_id: String,
    version: u64,
    map: HashMap<u64, Indicator>,
    /// An in-progress sync: the chunks applied to `map` but not yet committed.
    pending: bool,
}

fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 9);
    out.extend_from_slice(&((body.len() + 1) as u32).to_le_bytes());
    let mut crc = Crc32::new();
    crc.update(&[kind]);
    crc.update(body);
    out.extend_from_slice(&crc.finish().to_le_bytes());
    out.push(kind);
    out.extend_from_slice(body);
    out
}

/// Reads the next record; `None` at the end or at a torn or corrupt record.
fn read_record(r: &mut impl Read) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 8];
    r.read_exact(&mut head).ok()?;
    let len = u32::from_le_bytes(head[..4].try_into().ok()?);
    let crc = u32::from_le_bytes(head[4..].try_into().ok()?);
    if len == 0 || len > MAX_RECORD {
        return None;
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body).ok()?;
    let mut c = Crc32::new();
    c.update(&body);
    (c.finish() == crc).then(|| (body[0], body[1..].to_vec()))
}

impl IndicatorCache {
    /// Open (or create) the cache in `dir`, replaying the committed syncs.
    pub fn open(dir: &Path) -> io::Result<IndicatorCache> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut cache = IndicatorCache {
            dir: dir.to_path_buf(),
            file: file.try_clone()?,
            committed_len: 0,
            snapshot_len: 0,
            set_id: String::new(),
            version: 0,
            map: HashMap::new(),
            pending: false,
        };
        let mut reader = io::BufReader::new(&mut file);
        let mut offset = 0u64;
        let mut uncommitted: Vec<IndicatorChunk> = Vec::new();
        while let Some((kind, body)) = read_record(&mut reader) {
            offset += 8 + 1 + body.len() as u64;
            match kind {
                KIND_CHUNK => match IndicatorChunk::decode(body.as_slice()) {
                    Ok(c) => uncommitted.push(c),
                    Err(_) => break,
                },
                KIND_COMMIT => {
                    for mut c in uncommitted.drain(..) {
                        // Chunks were checked before they were written; one that no longer
                        // checks (a file changed under us) is dropped, not half-applied.
                        if let Ok(up) = Self::checked(std::mem::take(&mut c.upserts)) {
                            cache.apply_to_map(c, up);
                        }
                    }
                    cache.committed_len = offset;
                }
                _ => break,
            }
        }
        drop(reader);
        // Cut off what was not committed (or is torn), so appends follow the last commit.
        cache.file.set_len(cache.committed_len)?;
        cache.file.seek(SeekFrom::End(0))?;
        cache.snapshot_len = cache.committed_len;
        Ok(cache)
    }

    pub fn set_id(&self) -> &str {
        &self.set_id
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The indicators live at `now_ms`, as a matcher.
    pub fn live_set(&self, now_ms: i64) -> IntelSet {
        IntelSet::new(
            self.map
                .values()
                .filter(|i| i.is_live(now_ms))
                .cloned()
                .collect(),
        )
    }

    /// The earliest expiry after `now_ms` (when the live set changes next).
    pub fn next_expiry(&self, now_ms: i64) -> Option<i64> {
        self.map
            .values()
            .filter_map(|i| i.expires_ms)
            .filter(|&e| e > now_ms)
            .min()
    }

    /// Checks a chunk's indicators (each is parsed and normalised once).
    fn checked(upserts: Vec<SyncedIndicator>) -> Result<Vec<Indicator>, String> {
        upserts
            .into_iter()
            .map(|s| from_synced(s).map_err(|e| e.to_string()))
            .collect()
    }

    /// Applies a checked chunk to memory only.
    fn apply_to_map(&mut self, chunk: IndicatorChunk, upserts: Vec<Indicator>) {
        if chunk.full {
            self.map.clear();
        }
        for id in chunk.removed {
            self.map.remove(&id);
        }
        self.map.reserve(upserts.len());
        for ind in upserts {
            self.map.insert(ind.id, ind);
        }
        if chunk.last {
            self.set_id = chunk.set_id;
            self.version = chunk.version;
        }
    }

    /// Apply one chunk of a sync: checked, written to the journal, applied in memory. The last
    /// chunk commits the sync (fsynced). A refused chunk changes nothing on disk; call
    /// [`IndicatorCache::abort`] to drop the sync's earlier chunks.
    pub fn apply(&mut self, mut chunk: IndicatorChunk) -> Result<(), String> {
        let bytes = record(KIND_CHUNK, &chunk.encode_to_vec());
        // Check every indicator before anything is written.
        let upserts = Self::checked(std::mem::take(&mut chunk.upserts))
            .map_err(|e| format!("the server sent a bad {e}"))?;
        let last = chunk.last;
        self.file
            .write_all(&bytes)
            .map_err(|e| format!("cannot write the indicator cache: {e}"))?;
        self.pending = true;
        self.apply_to_map(chunk, upserts);
        if last {
            self.file
                .write_all(&record(KIND_COMMIT, &[]))
                .and_then(|_| self.file.sync_data())
                .map_err(|e| format!("cannot write the indicator cache: {e}"))?;
            self.committed_len = self
                .file
                .stream_position()
                .map_err(|e| format!("cannot write the indicator cache: {e}"))?;
            self.pending = false;
            self.maybe_compact()
                .map_err(|e| format!("cannot compact the indicator cache: {e}"))?;
        }
        Ok(())
    }

    /// Drop a sync cut short: back to the last committed state.
    pub fn abort(&mut self) -> io::Result<()> {
        if self.pending {
            *self = IndicatorCache::open(&self.dir)?;
        }
        Ok(())
    }

    /// Rewrite the journal as one snapshot when it is much larger than one.
    fn maybe_compact(&mut self) -> io::Result<()> {
        let estimate = (self.map.len() as u64) * 120 + 64;
        if self.committed_len < (2 * self.snapshot_len.max(estimate)).max(1 << 20) {
            return Ok(());
        }
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let mut out = io::BufWriter::new(File::create(&tmp)?);
        let mut all: Vec<&Indicator> = self.map.values().collect();
        all.sort_by_key(|i| i.id);
        let chunks: Vec<&[&Indicator]> = all.chunks(SNAPSHOT_CHUNK).collect();
        let n = chunks.len().max(1);
        for i in 0..n {
            let c = IndicatorChunk {
                set_id: self.set_id.clone(),
                version: self.version,
                full: i == 0,
                upserts: chunks
                    .get(i)
                    .map(|c| c.iter().map(|ind| to_synced(ind)).collect())
                    .unwrap_or_default(),
                removed: Vec::new(),
                last: i == n - 1,
            };
            out.write_all(&record(KIND_CHUNK, &c.encode_to_vec()))?;
        }
        out.write_all(&record(KIND_COMMIT, &[]))?;
        let f = out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, self.dir.join(FILE))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.dir.join(FILE))?;
        self.committed_len = f.seek(SeekFrom::End(0))?;
        self.snapshot_len = self.committed_len;
        self.file = f;
        Ok(())
    }
}

/// What the agent does with a new set (e.g. hand it to its protection).
pub type OnIndicators = Arc<dyn Fn(Arc<IntelSet>) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_intel::{Action, IndicatorType};

    fn ind(id: u64, ip: &str) -> Indicator {
        let mut i = Indicator::new(IndicatorType::Ip, ip)
            .unwrap()
            .with_action(Action::Block);
        i.id = id;
        i
    }

    fn chunk(full: bool, last: bool, version: u64, up: &[Indicator], rm: &[u64]) -> IndicatorChunk {
        IndicatorChunk {
            set_id: "s1".into(),
            version,
            full,
            upserts: up.iter().map(to_synced).collect(),
            removed: rm.to_vec(),
            last,
        }
    }

    #[test]
    fn committed_syncs_survive_a_reopen_and_a_cut_short_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = IndicatorCache::open(dir.path()).unwrap();
        assert_eq!((c.set_id(), c.version(), c.len()), ("", 0, 0));
        c.apply(chunk(true, false, 5, &[ind(1, "10.0.0.1")], &[]))
            .unwrap();
        c.apply(chunk(false, true, 5, &[ind(2, "10.0.0.2")], &[]))
            .unwrap();
        assert_eq!((c.version(), c.len()), (5, 2));
        // A delta: one removed, one added, then the agent dies before the last chunk.
        c.apply(chunk(false, false, 9, &[ind(3, "10.0.0.3")], &[1]))
            .unwrap();
        assert_eq!(c.len(), 2);
        drop(c);
        let c = IndicatorCache::open(dir.path()).unwrap();
        assert_eq!((c.set_id(), c.version(), c.len()), ("s1", 5, 2));
        assert!(c.live_set(0).ip_text("10.0.0.1").is_some());
        assert!(c.live_set(0).ip_text("10.0.0.3").is_none());
    }

    #[test]
    fn abort_restores_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = IndicatorCache::open(dir.path()).unwrap();
        c.apply(chunk(true, true, 1, &[ind(1, "10.0.0.1")], &[]))
            .unwrap();
        c.apply(chunk(true, false, 2, &[ind(2, "10.0.0.2")], &[]))
            .unwrap();
        assert_eq!(c.len(), 1);
        c.abort().unwrap();
        assert_eq!((c.version(), c.len()), (1, 1));
        assert!(c.map.contains_key(&1));
        // Garbage after the last commit (a torn write) is cut off on open.
        let path = dir.path().join(FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[7, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        drop(c);
        let mut c = IndicatorCache::open(dir.path()).unwrap();
        assert_eq!(c.len(), 1);
        c.apply(chunk(false, true, 3, &[ind(5, "10.0.0.5")], &[]))
            .unwrap();
        drop(c);
        let c = IndicatorCache::open(dir.path()).unwrap();
        assert_eq!((c.version(), c.len()), (3, 2));
    }

    #[test]
    fn a_bad_indicator_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = IndicatorCache::open(dir.path()).unwrap();
        let mut bad = chunk(true, true, 1, &[ind(1, "10.0.0.1")], &[]);
        bad.upserts[0].value = "not an address".into();
        let e = c.apply(bad).unwrap_err();
        assert!(e.contains("indicator 1"), "{e}");
        assert_eq!(std::fs::metadata(dir.path().join(FILE)).unwrap().len(), 0);
    }

    #[test]
    fn a_large_journal_is_compacted_to_one_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = IndicatorCache::open(dir.path()).unwrap();
        let many: Vec<Indicator> = (1..=3000)
            .map(|i| {
                ind(
                    i,
                    &format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
                )
            })
            .collect();
        // The same set sent in full again and again grows the journal until it is compacted.
        for v in 1..=20 {
            c.apply(chunk(true, true, v, &many, &[])).unwrap();
        }
        let size = std::fs::metadata(dir.path().join(FILE)).unwrap().len();
        assert!(size < 3 * (1 << 20), "journal not compacted: {size} bytes");
        drop(c);
        let c = IndicatorCache::open(dir.path()).unwrap();
        assert_eq!((c.version(), c.len()), (20, 3000));
    }
}
