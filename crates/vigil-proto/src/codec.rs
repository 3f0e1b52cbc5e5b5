//! Event batches on the wire: rows encoded with `vigil_schema::wire`, compressed with zstd.

use vigil_schema::wire::{self, WireEvents};
use vigil_schema::Row;

use crate::pb::{Compression, EventBatch};

/// Bounds a server applies to one batch before decoding it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Events in one batch.
    pub max_events: u32,
    /// Decompressed payload bytes.
    pub max_raw_bytes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: 20_000,
            max_raw_bytes: 64 << 20,
        }
    }
}

/// Why a batch was refused.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("batch has no boot_id")]
    NoBootId,
    #[error("batch declares {count} events, over the limit of {max}")]
    TooManyEvents { count: u32, max: u32 },
    #[error("batch declares {size} bytes once decompressed, over the limit of {max}")]
    TooLarge { size: u32, max: u32 },
    #[error("batch sequence {first_seq} + {count} overflows")]
    SeqOverflow { first_seq: u64, count: u32 },
    #[error("unknown compression {0}")]
    Compression(i32),
    #[error("batch payload does not decompress: {0}")]
    Decompress(String),
    #[error("batch payload is {found} bytes once decompressed, not the declared {declared}")]
    SizeMismatch { declared: u32, found: usize },
    #[error("batch payload is malformed: {0}")]
    Rows(#[from] wire::WireError),
    #[error("batch declares {declared} events but carries {found}")]
    CountMismatch { declared: u32, found: usize },
}

/// Encode `rows` (numbered from `first_seq` in `boot_id`) as a zstd-compressed batch.
pub fn encode_batch(boot_id: &str, first_seq: u64, rows: &[Row], level: i32) -> EventBatch {
    let raw = wire::encode_batch(rows);
    let raw_size = raw.len() as u32;
    let (compression, payload) = match zstd::bulk::compress(&raw, level) {
        Ok(z) => (Compression::Zstd, z),
        Err(_) => (Compression::None, raw),
    };
    EventBatch {
        boot_id: boot_id.to_string(),
        first_seq,
        count: rows.len() as u32,
        compression: compression as i32,
        payload,
        raw_size,
    }
}

/// Check and decode a batch; nothing is allocated beyond `limits` before the checks pass.
pub fn decode_batch(batch: &EventBatch, limits: Limits) -> Result<Vec<Row>, BatchError> {
    Ok(split_batch(batch, limits)?.decode_rows()?)
}

/// Check a batch, decompress it and split it into its events, without decoding them (the
/// store checks each event as it decodes it into columns).
pub fn split_batch(batch: &EventBatch, limits: Limits) -> Result<WireEvents, BatchError> {
    if batch.boot_id.is_empty() {
        return Err(BatchError::NoBootId);
    }
    if batch.count > limits.max_events {
        return Err(BatchError::TooManyEvents {
            count: batch.count,
            max: limits.max_events,
        });
    }
    if batch.raw_size > limits.max_raw_bytes {
        return Err(BatchError::TooLarge {
            size: batch.raw_size,
            max: limits.max_raw_bytes,
        });
    }
    if batch.first_seq.checked_add(batch.count as u64).is_none() {
        return Err(BatchError::SeqOverflow {
            first_seq: batch.first_seq,
            count: batch.count,
        });
    }
    let raw = match Compression::try_from(batch.compression) {
        Ok(Compression::Zstd) => {
            // `decompress` refuses output beyond the capacity given, so a zip bomb stops here.
            zstd::bulk::decompress(&batch.payload, batch.raw_size as usize)
                .map_err(|e| BatchError::Decompress(e.to_string()))?
        }
        Ok(Compression::None) => batch.payload.clone(),
        Err(_) => return Err(BatchError::Compression(batch.compression)),
    };
    if raw.len() != batch.raw_size as usize {
        return Err(BatchError::SizeMismatch {
            declared: batch.raw_size,
            found: raw.len(),
        });
    }
    let events = WireEvents::split(raw, batch.count as usize)?;
    if events.len() != batch.count as usize {
        return Err(BatchError::CountMismatch {
            declared: batch.count,
            found: events.len(),
        });
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use vigil_schema::{Col, Table, Timestamp};

    use super::*;

    fn rows(n: usize) -> Vec<Row> {
        (0..n)
            .map(|i| {
                let mut r = Row::event(Table::DeviceFileEvents, "FileCreated", Timestamp(i as i64));
                r.put(Col::FolderPath, format!("/tmp/file-{i}"));
                r
            })
            .collect()
    }

    #[test]
    fn a_batch_round_trips_compressed() {
        let rows = rows(500);
        let b = encode_batch("boot", 7, &rows, 3);
        assert_eq!(b.compression, Compression::Zstd as i32);
        assert!(b.payload.len() < b.raw_size as usize / 4);
        assert_eq!(decode_batch(&b, Limits::default()).unwrap(), rows);
    }

    #[test]
    fn lies_and_bombs_are_refused() {
        let good = encode_batch("boot", 0, &rows(10), 3);
        let limits = Limits::default();

        let mut b = good.clone();
        b.count = 11;
        assert!(matches!(
            decode_batch(&b, limits),
            Err(BatchError::CountMismatch { .. })
        ));

        let mut b = good.clone();
        b.raw_size -= 1;
        assert!(matches!(
            decode_batch(&b, limits),
            Err(BatchError::Decompress(_) | BatchError::SizeMismatch { .. })
        ));

        let mut b = good.clone();
        b.raw_size = limits.max_raw_bytes + 1;
        assert!(matches!(
            decode_batch(&b, limits),
            Err(BatchError::TooLarge { .. })
        ));

        let mut b = good.clone();
        b.payload.truncate(b.payload.len() / 2);
        assert!(decode_batch(&b, limits).is_err());

        let mut b = good.clone();
        b.compression = 9;
        assert!(matches!(
            decode_batch(&b, limits),
            Err(BatchError::Compression(9))
        ));

        let mut b = good;
        b.boot_id.clear();
        assert!(matches!(
            decode_batch(&b, limits),
            Err(BatchError::NoBootId)
        ));

        // 64 MiB of zeros compresses to almost nothing; a small declared size stops it.
        let bomb = zstd::bulk::compress(&vec![0u8; 64 << 20], 3).unwrap();
        let b = EventBatch {
            boot_id: "x".into(),
            first_seq: 0,
            count: 1,
            compression: Compression::Zstd as i32,
            payload: bomb,
            raw_size: 1000,
        };
        assert!(matches!(
            decode_batch(&b, limits),
            Err(BatchError::Decompress(_))
        ));
    }
}
