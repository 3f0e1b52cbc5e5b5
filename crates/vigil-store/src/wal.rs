//! The write-ahead log: numbered segment files of checksummed records.
//!
//! A record is a 12-byte header — magic `VGWL`, payload length, CRC-32 (IEEE) of the payload,
//! all little-endian — then the payload: a version byte, the arrival time (ns), the first
//! sequence number, the row count, the device id and boot id (each u16-length-prefixed), and
//! the rows in the protobuf batch form of [`vigil_schema::wire`].
//!
//! Segments are only appended to, at an offset the writer tracks (`pwrite`), so a failed write
//! can be cut off with `set_len` and the next record starts at a clean boundary. A reader stops
//! at the first record that is short, has a bad magic or checksum, or does not decode: that is
//! a torn tail from a crash mid-write (or damage), and the segment is truncated there, logged,
//! and replay goes on with the next segment.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_schema::{wire, Timestamp};

use crate::StoreError;

const MAGIC: [u8; 4] = *b"VGWL";
const VERSION: u8 = 1;
const HEADER: usize = 12;
/// The largest payload a record may have; a larger length in a header means damage.
pub(crate) const MAX_PAYLOAD: usize = 256 << 20;
/// Longest device or boot id accepted.
pub(crate) const MAX_ID_LEN: usize = 1024;

/// One decoded record.
#[derive(Debug)]
pub(crate) struct Record {
    pub device_id: String,
    pub boot_id: String,
    pub first_seq: u64,
    pub arrival: Timestamp,
    pub events: wire::WireEvents,
}

/// CRC-32 lookup tables for slicing-by-8: `T[0]` is the classic byte table, `T[k][b]` the CRC
/// of byte `b` followed by `k` zero bytes.
const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            k += 1;
        }
        i += 1;
    }
    t
}

static CRC: [[u32; 256]; 8] = crc_tables();

/// CRC-32 (IEEE 802.3, as zlib and gzip compute it), eight bytes at a time.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let lo = c ^ u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]);
        let hi = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]);
        c = CRC[7][(lo & 0xff) as usize]
            ^ CRC[6][((lo >> 8) & 0xff) as usize]
            ^ CRC[5][((lo >> 16) & 0xff) as usize]
            ^ CRC[4][(lo >> 24) as usize]
            ^ CRC[3][(hi & 0xff) as usize]
            ^ CRC[2][((hi >> 8) & 0xff) as usize]
            ^ CRC[1][((hi >> 16) & 0xff) as usize]
            ^ CRC[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = CRC[0][((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Append one record for `count` events (length-delimited, as `wire::WireEvents::delimited`
/// gives them; sequence numbers from `first_seq`) to `out`.
pub(crate) fn encode_record(
    out: &mut Vec<u8>,
    device_id: &str,
    boot_id: &str,
    first_seq: u64,
    arrival: Timestamp,
    events: &[u8],
    count: usize,
) -> Result<(), String> {
    if device_id.len() > MAX_ID_LEN || boot_id.len() > MAX_ID_LEN {
        return Err(format!(
            "device and boot ids must be at most {MAX_ID_LEN} bytes"
        ));
    }
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER]);
    out.push(VERSION);
    out.extend_from_slice(&arrival.nanos().to_le_bytes());
    out.extend_from_slice(&first_seq.to_le_bytes());
    out.extend_from_slice(&(count as u32).to_le_bytes());
    for id in [device_id, boot_id] {
        out.extend_from_slice(&(id.len() as u16).to_le_bytes());
        out.extend_from_slice(id.as_bytes());
    }
    out.extend_from_slice(events);
    let payload_len = out.len() - start - HEADER;
    if payload_len > MAX_PAYLOAD {
        out.truncate(start);
        return Err(format!(
            "{payload_len} bytes encoded is over the limit of {MAX_PAYLOAD} per batch"
        ));
    }
    let crc = crc32(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&MAGIC);
    out[start + 4..start + 8].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if buf.len() < n {
        return Err("payload is shorter than its fields".into());
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

fn take_array<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N], String> {
    let mut a = [0u8; N];
    a.copy_from_slice(take(buf, N)?);
    Ok(a)
}

fn take_id(buf: &mut &[u8]) -> Result<String, String> {
    let len = u16::from_le_bytes(take_array(buf)?) as usize;
    String::from_utf8(take(buf, len)?.to_vec()).map_err(|_| "id is not UTF-8".to_string())
}

fn decode_payload(mut p: &[u8]) -> Result<Record, String> {
    let version = take_array::<1>(&mut p)?[0];
    if version != VERSION {
        return Err(format!("unknown record version {version}"));
    }
    let arrival = Timestamp(i64::from_le_bytes(take_array(&mut p)?));
    let first_seq = u64::from_le_bytes(take_array(&mut p)?);
    let count = u32::from_le_bytes(take_array(&mut p)?) as usize;
    let device_id = take_id(&mut p)?;
    let boot_id = take_id(&mut p)?;
    let events = wire::WireEvents::split(p.to_vec(), count).map_err(|e| e.to_string())?;
    if events.len() != count {
        return Err(format!(
            "{} events where the header says {count}",
            events.len()
        ));
    }
    if first_seq.checked_add(count as u64).is_none() {
        return Err("sequence numbers overflow".into());
    }
    Ok(Record {
        device_id,
        boot_id,
        first_seq,
        arrival,
        events,
    })
}

/// The path of segment `id`.
pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016}.wal"))
}

/// The segments in `dir`, oldest first. Files that are not segments are ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| StoreError::io("list", dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(id) = name
            .strip_suffix(".wal")
            .filter(|s| s.len() == 16)
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push((id, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// What replaying one segment found.
#[derive(Debug, Default)]
pub(crate) struct SegmentReplay {
    pub records: usize,
    /// Bytes of complete records (the segment's length after any truncation).
    pub valid_bytes: u64,
    /// Where and why a torn or corrupt tail was cut off.
    pub truncated: Option<(u64, String)>,
}

/// Read every complete record of a segment, oldest first, and hand it to `apply`. A torn or
/// corrupt record ends the segment: the file is truncated at its start.
pub(crate) fn replay_segment(
    path: &Path,
    mut apply: impl FnMut(Record) -> Result<(), StoreError>,
) -> Result<SegmentReplay, StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
    let file_len = file
        .metadata()
        .map_err(|e| StoreError::io("stat", path, e))?
        .len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut out = SegmentReplay::default();
    let mut offset = 0u64;
    let mut payload = Vec::new();
    let bad = loop {
        let mut header = [0u8; HEADER];
        match read_full(&mut reader, &mut header) {
            Ok(0) => break None,
            Ok(n) if n < HEADER => break Some(format!("{n}-byte partial header")),
            Ok(_) => {}
            Err(e) => return Err(StoreError::io("read", path, e)),
        }
        if header[..4] != MAGIC {
            break Some("bad magic".to_string());
        }
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if len > MAX_PAYLOAD || offset + (HEADER + len) as u64 > file_len {
            break Some(format!("record of {len} bytes runs past the end"));
        }
        payload.resize(len, 0);
        match read_full(&mut reader, &mut payload) {
            Ok(n) if n < len => break Some(format!("record cut at {n} of {len} bytes")),
            Ok(_) => {}
            Err(e) => return Err(StoreError::io("read", path, e)),
        }
        if crc32(&payload) != crc {
            break Some("checksum mismatch".to_string());
        }
        match decode_payload(&payload) {
            Ok(record) => apply(record)?,
            Err(reason) => break Some(format!("undecodable record: {reason}")),
        }
        out.records += 1;
        offset += (HEADER + len) as u64;
    };
    out.valid_bytes = offset;
    if let Some(reason) = bad {
        tracing::warn!(
            segment = %path.display(),
            offset,
            "write-ahead log has a torn or corrupt tail ({reason}); truncating it"
        );
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| StoreError::io("open", path, e))?;
        file.set_len(offset)
            .and_then(|()| file.sync_all())
            .map_err(|e| StoreError::io("truncate", path, e))?;
        out.truncated = Some((offset, reason));
    }
    Ok(out)
}

/// Read until `buf` is full or the end of the input; returns how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// fsync a directory, so that entries created, renamed or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("sync directory", dir, e))
}

/// The segment appends go to.
pub(crate) struct Segment {
    pub id: u64,
    pub path: PathBuf,
    pub file: Arc<File>,
    /// Bytes written (and not cut off).
    pub len: u64,
}

impl Segment {
    /// Create segment `id` in `dir` (which must not exist yet) and make its entry durable.
    pub fn create(dir: &Path, id: u64) -> Result<Segment, StoreError> {
        let path = segment_path(dir, id);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StoreError::io("create", &path, e))?;
        if let Err(e) = sync_dir(dir) {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok(Segment {
            id,
            path,
            file: Arc::new(file),
            len: 0,
        })
    }

    /// Write `bytes` at the end. On failure the segment is cut back to its previous length;
    /// `Err((error, cut))` says whether that worked (if not, the segment must not be used).
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), (StoreError, bool)> {
        match self.file.write_all_at(bytes, self.len) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let cut = self.file.set_len(self.len).is_ok();
                Err((StoreError::io("write to", &self.path, e), cut))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_schema::{Row, Table};

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        // "The quick brown fox jumps over the lazy dog", as zlib computes it (with a tail that
        // is not a multiple of eight bytes).
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        // Slicing-by-8 agrees with the bytewise definition at every length.
        let data: Vec<u8> = (0..100u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in 0..data.len() {
            let mut c = !0u32;
            for &b in &data[..n] {
                c = CRC[0][((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
            }
            assert_eq!(crc32(&data[..n]), !c, "length {n}");
        }
    }

    fn record(buf: &mut Vec<u8>, dev: &str, first_seq: u64, arrival: Timestamp, n: usize) {
        let rows: Vec<Row> = (0..n)
            .map(|i| {
                Row::event(
                    Table::DeviceProcessEvents,
                    "ProcessCreated",
                    Timestamp(i as i64),
                )
            })
            .collect();
        let events = wire::WireEvents::from_rows(&rows);
        encode_record(buf, dev, "boot", first_seq, arrival, events.bytes(), n).unwrap();
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 1).unwrap();
        let mut buf = Vec::new();
        record(&mut buf, "dev", 10, Timestamp(7), 3);
        let first_len = buf.len() as u64;
        record(&mut buf, "dev", 13, Timestamp(8), 2);
        seg.append(&buf).unwrap();
        // Cut the second record short, as a crash mid-write would.
        seg.file.set_len(seg.len - 5).unwrap();

        let mut seen = Vec::new();
        let replay = replay_segment(&seg.path, |r| {
            seen.push((r.first_seq, r.events.len(), r.arrival));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(10, 3, Timestamp(7))]);
        assert_eq!(replay.valid_bytes, first_len);
        assert!(replay.truncated.is_some());
        assert_eq!(fs::metadata(&seg.path).unwrap().len(), first_len);
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 2).unwrap();
        let mut buf = Vec::new();
        record(&mut buf, "d", 0, Timestamp(0), 1);
        let last = buf.len() - 1;
        buf[last] ^= 1;
        seg.append(&buf).unwrap();
        let replay = replay_segment(&seg.path, |_| panic!("no record is valid")).unwrap();
        assert_eq!(replay.records, 0);
        assert!(replay.truncated.unwrap().1.contains("checksum"));
    }

    #[test]
    fn segments_list_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for id in [3, 1, 2] {
            Segment::create(dir.path(), id).unwrap();
        }
        fs::write(dir.path().join("junk.txt"), b"x").unwrap();
        let ids: Vec<u64> = list_segments(dir.path())
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, vec![1, 2, 3]);
    }
}
