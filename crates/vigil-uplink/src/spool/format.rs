//! The record format: encoding, bounded decoding and the CRC-32 that guards it.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "VGS1"
//!      4     4  body length (bytes after the 12-byte header)
//!      8     4  CRC-32 (IEEE) of bytes 0..8 followed by the body
//!     12     2  boot id length (at most MAX_BOOT_ID_LEN)
//!     14     n  boot id (UTF-8)
//!   14+n     8  first_seq
//!   22+n     4  count (events in the batch)
//!   26+n     8  appended at, Unix milliseconds (for the pending age)
//!   34+n     …  payload (the rest of the body)
//! ```
//!
//! All integers are little-endian.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::SpoolBatch;

/// `b"VGS1"` read as a little-endian u32.
pub(super) const MAGIC: u32 = u32::from_le_bytes(*b"VGS1");
/// Magic, body length, CRC.
pub(super) const HEADER_LEN: u64 = 12;
/// Boot id length, first_seq, count, appended-at: the body without boot id and payload.
const FIXED_BODY_LEN: u64 = 2 + 8 + 4 + 8;
/// The longest boot id a record may carry (a Linux boot id is a 36-byte UUID).
pub(super) const MAX_BOOT_ID_LEN: usize = 256;

/// Bytes the record for `batch` takes on disk.
pub(super) fn encoded_len(batch: &SpoolBatch) -> u64 {
    HEADER_LEN + FIXED_BODY_LEN + batch.boot_id.len() as u64 + batch.payload.len() as u64
}

/// Appends the record for `batch` to `out`. The caller has checked the boot id against
/// [`MAX_BOOT_ID_LEN`] and the record against the spool's record limit (below 4 GiB).
pub(super) fn encode(batch: &SpoolBatch, appended_ms: u64, out: &mut Vec<u8>) {
    let start = out.len();
    let body_len = encoded_len(batch) - HEADER_LEN;
    let boot_len = batch.boot_id.len().min(MAX_BOOT_ID_LEN);
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(boot_len as u16).to_le_bytes());
    out.extend_from_slice(&batch.boot_id.as_bytes()[..boot_len]);
    out.extend_from_slice(&batch.first_seq.to_le_bytes());
    out.extend_from_slice(&batch.count.to_le_bytes());
    out.extend_from_slice(&appended_ms.to_le_bytes());
    out.extend_from_slice(&batch.payload);
    let crc = checksum(&out[start..start + 8], &out[start + HEADER_LEN as usize..]);
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
}

/// What the index keeps of a record that was read back intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RecordInfo {
    /// Header and body.
    pub len: u64,
    pub count: u32,
    pub appended_ms: u64,
}

/// Reads the record at `offset` into `body` (its body only) and checks it.
///
/// `end` is where valid data may end (the file length, or the indexed segment length);
/// `max_record` is the spool's record limit. Every length read from disk is checked against
/// both before anything is allocated. The outer `Err` is an I/O failure; the inner one says
/// why the bytes are not a valid record.
pub(super) fn read_record_at(
    file: &File,
    offset: u64,
    end: u64,
    max_record: u64,
    body: &mut Vec<u8>,
) -> io::Result<Result<RecordInfo, &'static str>> {
    let avail = end.saturating_sub(offset);
    if avail < HEADER_LEN {
        return Ok(Err("header cut short"));
    }
    let mut header = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut header, offset)?;
    if le_u32(&header[0..4]) != MAGIC {
        return Ok(Err("bad magic"));
    }
    let body_len = u64::from(le_u32(&header[4..8]));
    let crc = le_u32(&header[8..12]);
    let len = HEADER_LEN + body_len;
    if body_len < FIXED_BODY_LEN {
        return Ok(Err("length too small"));
    }
    if len > max_record {
        return Ok(Err("length over the record limit"));
    }
    if len > avail {
        return Ok(Err("length past the end of the file"));
    }
    body.clear();
    body.resize(body_len as usize, 0);
    file.read_exact_at(body, offset + HEADER_LEN)?;
    if checksum(&header[..8], body) != crc {
        return Ok(Err("checksum mismatch"));
    }
    let Some(fields) = Fields::parse(body) else {
        return Ok(Err("boot id length past the end of the record"));
    };
    Ok(Ok(RecordInfo {
        len,
        count: fields.count,
        appended_ms: fields.appended_ms,
    }))
}

/// Turns a body checked by [`read_record_at`] back into a batch.
pub(super) fn decode(body: &[u8]) -> Option<SpoolBatch> {
    let f = Fields::parse(body)?;
    Some(SpoolBatch {
        boot_id: String::from_utf8_lossy(f.boot_id).into_owned(),
        first_seq: f.first_seq,
        count: f.count,
        payload: f.payload.to_vec(),
    })
}

/// The fields of a body, borrowed.
struct Fields<'a> {
    boot_id: &'a [u8],
    first_seq: u64,
    count: u32,
    appended_ms: u64,
    payload: &'a [u8],
}

impl<'a> Fields<'a> {
    fn parse(body: &'a [u8]) -> Option<Fields<'a>> {
        let boot_len = usize::from(u16::from_le_bytes(body.get(0..2)?.try_into().ok()?));
        if boot_len > MAX_BOOT_ID_LEN {
            return None;
        }
        let rest = body.get(2..)?;
        let boot_id = rest.get(..boot_len)?;
        let rest = rest.get(boot_len..)?;
        let first_seq = u64::from_le_bytes(rest.get(0..8)?.try_into().ok()?);
        let count = le_u32(rest.get(8..12)?);
        let appended_ms = u64::from_le_bytes(rest.get(12..20)?.try_into().ok()?);
        let payload = rest.get(20..)?;
        Some(Fields {
            boot_id,
            first_seq,
            count,
            appended_ms,
            payload,
        })
    }
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(b)
}

/// The CRC of a record: the first 8 header bytes, then the body.
fn checksum(header: &[u8], body: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(header);
    crc.update(body);
    crc.finish()
}

/// CRC-32/ISO-HDLC (the zlib/PNG one), reflected polynomial 0xEDB88320, one table lookup
/// per byte.
pub(crate) struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
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
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32 {
    pub(crate) fn new() -> Crc32 {
        Crc32(!0)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    pub(crate) fn finish(self) -> u32 {
        !self.0
    }
}
