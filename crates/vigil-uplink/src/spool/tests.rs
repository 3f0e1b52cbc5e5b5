use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::format::{self, Crc32};
use super::state::STATE_FILE;
use super::*;

/// Boot id "boot-a" (6 bytes) + a payload of `size` bytes: a record of `40 + size` bytes.
fn batch(n: u64, count: u32, size: usize) -> SpoolBatch {
    SpoolBatch {
        boot_id: "boot-a".to_owned(),
        first_seq: n * 1000,
        count,
        payload: (0..size).map(|i| (i as u64 * 31 + n) as u8).collect(),
    }
}

/// 240-byte records: four fit a 1024-byte segment.
const PAYLOAD: usize = 200;
const RECORD: u64 = 240;

fn opts(dir: &Path, segment_bytes: u64, max_bytes: u64) -> SpoolOptions {
    SpoolOptions {
        dir: dir.to_path_buf(),
        max_bytes,
        segment_bytes,
    }
}

fn small(dir: &Path) -> SpoolOptions {
    opts(dir, 1024, 1 << 20)
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("seg-"))
        .collect();
    names.sort();
    names
}

fn seg_name(first_id: u64) -> String {
    format!("seg-{first_id:020}.spool")
}

fn read_all(spool: &mut Spool) -> Vec<(SpoolId, SpoolBatch)> {
    spool.read_from(None, usize::MAX).unwrap()
}

fn ids(read: &[(SpoolId, SpoolBatch)]) -> Vec<u64> {
    read.iter().map(|(id, _)| id.get()).collect()
}

/// A kill -9: no destructor, nothing flushed beyond what the spool already synced.
fn crash(spool: Spool) {
    std::mem::forget(spool);
}

fn flip_byte(path: &Path, offset: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    b[0] ^= 0x55;
    f.write_all_at(&b, offset).unwrap();
}

#[test]
fn crc32_matches_the_standard_check_value() {
    let mut crc = Crc32::new();
    crc.update(b"1234");
    crc.update(b"56789");
    assert_eq!(crc.finish(), 0xCBF4_3926);
}

#[test]
fn record_length_is_as_documented() {
    let mut out = Vec::new();
    format::encode(&batch(1, 3, PAYLOAD), 42, &mut out);
    assert_eq!(out.len() as u64, RECORD);
    assert_eq!(format::encoded_len(&batch(1, 3, PAYLOAD)), RECORD);
    assert_eq!(&out[..4], b"VGS1");
}

#[test]
fn spool_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Spool>();
}

#[test]
fn invalid_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Spool::open(opts(dir.path(), 100, 1 << 20)).unwrap_err();
    assert!(matches!(err, SpoolError::InvalidOptions { .. }), "{err}");
    assert!(err.to_string().contains("segment_bytes is 100"), "{err}");
    let err = Spool::open(opts(dir.path(), 4096, 0)).unwrap_err();
    assert!(err.to_string().contains("max_bytes is 0"), "{err}");
}

#[test]
fn append_read_ack_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let batches: Vec<SpoolBatch> = (0..5).map(|n| batch(n, n as u32 + 1, 50)).collect();
    let mut appended = Vec::new();
    for b in &batches {
        appended.push(spool.append(b).unwrap());
    }
    assert!(appended.windows(2).all(|w| w[0] < w[1]));

    let read = read_all(&mut spool);
    assert_eq!(read.iter().map(|(id, _)| *id).collect::<Vec<_>>(), appended);
    assert_eq!(
        read.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        batches
    );

    // The sender pages through with `after` while earlier ones are in flight.
    let page = spool.read_from(Some(appended[1]), 2).unwrap();
    assert_eq!(
        page.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        &appended[2..4]
    );
    assert!(spool.read_from(Some(appended[4]), 10).unwrap().is_empty());
    assert!(spool.read_from(None, 0).unwrap().is_empty());

    spool.ack(appended[0]).unwrap();
    spool.ack(appended[1]).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), ids(&read[2..]));
    for id in &appended[2..] {
        spool.ack(*id).unwrap();
    }
    assert!(read_all(&mut spool).is_empty());
    let stats = spool.stats();
    assert_eq!(stats.pending_batches, 0);
    assert_eq!(stats.pending_events, 0);
    assert_eq!(stats.oldest_pending_age, None);
    assert!(spool.take_dropped().is_zero());
}

#[test]
fn unknown_ids_are_refused_and_repeated_acks_are_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let id = spool.append(&batch(1, 1, 10)).unwrap();
    let err = spool.ack(SpoolId(id.get() + 1)).unwrap_err();
    assert!(matches!(err, SpoolError::UnknownId { .. }), "{err}");
    spool.ack(id).unwrap();
    spool.ack(id).unwrap();
    assert_eq!(spool.stats().pending_batches, 0);
}

#[test]
fn invalid_batches_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    spool.append(&batch(1, 1, 10)).unwrap();
    let mut long_boot = batch(2, 1, 10);
    long_boot.boot_id = "x".repeat(300);
    let err = spool
        .append_many(&[batch(3, 1, 10), long_boot])
        .unwrap_err();
    assert!(
        matches!(err, SpoolError::BootIdTooLong { len: 300, .. }),
        "{err}"
    );
    assert_eq!(ids(&read_all(&mut spool)), [1]);
}

#[test]
fn reopen_after_crash_keeps_every_unacked_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let batches: Vec<SpoolBatch> = (0..10).map(|n| batch(n, 1, PAYLOAD)).collect();
    let appended = spool.append_many(&batches).unwrap();
    // The first ack is persisted at once (nothing written yet), the next ones within 200 ms
    // are not.
    for id in &appended[..4] {
        spool.ack(*id).unwrap();
    }
    crash(spool);

    let mut spool = Spool::open(small(dir.path())).unwrap();
    let read = read_all(&mut spool);
    let got = ids(&read);
    // At least once: every unacked batch is there, intact, in order.
    for (id, b) in appended[4..].iter().zip(&batches[4..]) {
        let found = read
            .iter()
            .find(|(r, _)| r == id)
            .expect("unacked batch lost");
        assert_eq!(&found.1, b);
    }
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    // Whatever comes again was acked but not synced; the first ack was synced.
    assert!(got.iter().all(|id| *id > appended[0].get()), "{got:?}");

    // With sync_cursor (or a clean drop) nothing acked comes back.
    for id in &appended[..6] {
        spool.ack(*id).unwrap();
    }
    spool.sync_cursor().unwrap();
    crash(spool);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), ids_of(&appended[6..]));
    spool.ack(appended[6]).unwrap();
    drop(spool);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), ids_of(&appended[7..]));
    // New ids continue above the old ones.
    let next = spool.append(&batch(99, 1, 10)).unwrap();
    assert!(next > appended[9]);
}

fn ids_of(ids: &[SpoolId]) -> Vec<u64> {
    ids.iter().map(|id| id.get()).collect()
}

#[test]
fn torn_tail_is_truncated_and_every_complete_record_kept() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 64 * 1024, 1 << 20);
    let mut spool = Spool::open(o.clone()).unwrap();
    let batches: Vec<SpoolBatch> = (0..5).map(|n| batch(n, 2, PAYLOAD)).collect();
    spool.append_many(&batches).unwrap();
    crash(spool);
    let seg = dir.path().join(seg_name(1));
    assert_eq!(fs::metadata(&seg).unwrap().len(), 5 * RECORD);

    // A write cut short: the last record loses its last 3 bytes.
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(5 * RECORD - 3).unwrap();
    drop(f);
    let mut spool = Spool::open(o.clone()).unwrap();
    let read = read_all(&mut spool);
    assert_eq!(
        read.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        &batches[..4]
    );
    assert_eq!(fs::metadata(&seg).unwrap().len(), 4 * RECORD);
    assert!(
        spool.take_dropped().is_zero(),
        "a torn write was never stored"
    );
    // The spool keeps appending in the same segment.
    let id = spool.append(&batches[4]).unwrap();
    assert_eq!(id.get(), 5);
    crash(spool);

    // Garbage after the last record: zeros, random bytes, and a header with a huge length
    // (which must not be believed, let alone allocated).
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[0u8; 7]).unwrap();
    f.write_all(&[0xAB; 300]).unwrap();
    drop(f);
    let mut spool = Spool::open(o.clone()).unwrap();
    assert_eq!(read_all(&mut spool).len(), 5);
    assert_eq!(fs::metadata(&seg).unwrap().len(), 5 * RECORD);
    crash(spool);

    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(b"VGS1").unwrap();
    f.write_all(&0xFFFF_FFF0u32.to_le_bytes()).unwrap();
    f.write_all(&[1u8; 40]).unwrap();
    drop(f);
    let mut spool = Spool::open(o).unwrap();
    let read = read_all(&mut spool);
    assert_eq!(
        read.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        batches
    );
    assert!(spool.take_dropped().is_zero());
    assert_eq!(fs::metadata(&seg).unwrap().len(), 5 * RECORD);
}

#[test]
fn corrupt_crc_mid_segment_skips_the_rest_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    // Counts 1..=8; two segments of four.
    let batches: Vec<SpoolBatch> = (1..=8).map(|n| batch(n, n as u32, PAYLOAD)).collect();
    spool.append_many(&batches).unwrap();
    drop(spool);
    assert_eq!(segment_files(dir.path()), [seg_name(1), seg_name(5)]);

    // A bit flip in the payload of id 2.
    let first = dir.path().join(seg_name(1));
    flip_byte(&first, RECORD + 100);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), [1, 5, 6, 7, 8]);
    // Id 2 (count unknown: one batch, no events) and the intact ids 3 and 4 behind it.
    assert_eq!(
        spool.take_dropped(),
        DroppedCount {
            events: 3 + 4,
            batches: 3
        }
    );
    assert_eq!(spool.stats().dropped_total.batches, 3);
    // The damage is cut away so that it is not counted twice.
    assert_eq!(fs::metadata(&first).unwrap().len(), RECORD);
    drop(spool);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), [1, 5, 6, 7, 8]);
    assert!(spool.take_dropped().is_zero());
    assert_eq!(spool.stats().dropped_total.batches, 3);
}

#[test]
fn corrupt_length_mid_segment_in_the_last_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let batches: Vec<SpoolBatch> = (1..=7).map(|n| batch(n, 10, PAYLOAD)).collect();
    spool.append_many(&batches).unwrap();
    // Acknowledge everything up to 6 in the last segment (5, 6), and persist it.
    for id in 1..=6 {
        spool.ack(SpoolId(id)).unwrap();
    }
    spool.sync_cursor().unwrap();
    crash(spool);
    assert_eq!(segment_files(dir.path()), [seg_name(5)]);

    // Id 6's length becomes huge: not a torn tail, since id 7 is intact after it.
    let last = dir.path().join(seg_name(5));
    let f = OpenOptions::new().write(true).open(&last).unwrap();
    f.write_all_at(&0x7FFF_FFFFu32.to_le_bytes(), RECORD + 4)
        .unwrap();
    drop(f);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert!(read_all(&mut spool).is_empty());
    // Id 6 was acknowledged: only id 7 is lost.
    assert_eq!(
        spool.take_dropped(),
        DroppedCount {
            events: 10,
            batches: 1
        }
    );
    assert_eq!(fs::metadata(&last).unwrap().len(), RECORD);
    // New ids start at the cursor (never below it), in a new segment.
    let id = spool.append(&batch(8, 1, 10)).unwrap();
    assert_eq!(id.get(), 7);
    // Segment 5 now holds only acknowledged id 5 and is not the last one: it goes.
    assert_eq!(segment_files(dir.path()), [seg_name(7)]);
    assert_eq!(ids(&read_all(&mut spool)), [7]);
    drop(spool);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), [7]);
    assert!(spool.take_dropped().is_zero());
}

#[test]
fn bound_drops_oldest_segments_first_and_counts_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 1024, 2048);
    let mut spool = Spool::open(o.clone()).unwrap();
    // Ids 1..=20 with `count == id`, four to a segment.
    for n in 1..=20u64 {
        let id = spool.append(&batch(n, n as u32, PAYLOAD)).unwrap();
        assert_eq!(id.get(), n);
        if n <= 2 {
            // Acknowledged before the drop: not lost, not counted.
            spool.ack(id).unwrap();
        }
        assert!(spool.stats().bytes_on_disk <= 2048);
    }
    // Segments 1, 5 and 9 went, oldest first; 3..=12 were unacked.
    assert_eq!(segment_files(dir.path()), [seg_name(13), seg_name(17)]);
    assert_eq!(ids(&read_all(&mut spool)), (13..=20).collect::<Vec<_>>());
    let expected = DroppedCount {
        events: (3..=12).sum(),
        batches: 10,
    };
    assert_eq!(spool.stats().dropped_unreported, expected);
    assert_eq!(spool.stats().pending_batches, 8);
    assert_eq!(spool.stats().pending_events, (13..=20).sum::<u64>());
    // Acks of dropped batches (in flight when they went) are ignored.
    spool.ack(SpoolId(5)).unwrap();
    crash(spool);

    // The count survives a crash, and is reported once.
    let mut spool = Spool::open(o.clone()).unwrap();
    assert_eq!(spool.take_dropped(), expected);
    assert!(spool.take_dropped().is_zero());
    assert_eq!(spool.stats().dropped_total, expected);
    assert_eq!(ids(&read_all(&mut spool)), (13..=20).collect::<Vec<_>>());
    crash(spool);
    let mut spool = Spool::open(o).unwrap();
    assert!(spool.take_dropped().is_zero());
    assert_eq!(spool.stats().dropped_total, expected);
}

#[test]
fn max_bytes_smaller_than_one_batch_keeps_the_newest_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(opts(dir.path(), 1024, 100)).unwrap();
    spool.append(&batch(1, 4, PAYLOAD)).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), [1]);
    assert_eq!(spool.stats().bytes_on_disk, RECORD);
    spool.append(&batch(2, 6, PAYLOAD)).unwrap();
    let read = read_all(&mut spool);
    assert_eq!(ids(&read), [2]);
    assert_eq!(read[0].1, batch(2, 6, PAYLOAD));
    assert_eq!(segment_files(dir.path()), [seg_name(2)]);
    assert_eq!(
        spool.take_dropped(),
        DroppedCount {
            events: 4,
            batches: 1
        }
    );
}

#[test]
fn out_of_order_acks_advance_the_cursor_over_the_acked_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let batches: Vec<SpoolBatch> = (1..=5).map(|n| batch(n, 1, 20)).collect();
    let a = spool.append_many(&batches).unwrap();
    spool.ack(a[2]).unwrap();
    spool.ack(a[0]).unwrap();
    spool.ack(a[3]).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), ids_of(&[a[1], a[4]]));
    assert_eq!(spool.stats().pending_batches, 2);
    spool.sync_cursor().unwrap();
    crash(spool);

    // The durable cursor stops at the first gap (id 2): 3 and 4 may come again, 1 may not.
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let got = ids(&read_all(&mut spool));
    assert!(
        got.contains(&a[1].get()) && got.contains(&a[4].get()),
        "{got:?}"
    );
    assert!(!got.contains(&a[0].get()), "{got:?}");
    assert_eq!(got, ids_of(&a[1..]));
    spool.ack(a[4]).unwrap();
    spool.ack(a[2]).unwrap();
    spool.ack(a[3]).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), ids_of(&[a[1]]));
    spool.ack(a[1]).unwrap();
    assert!(read_all(&mut spool).is_empty());
    spool.sync_cursor().unwrap();
    crash(spool);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert!(read_all(&mut spool).is_empty());
}

#[test]
fn segments_rotate_and_fully_acked_ones_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let batches: Vec<SpoolBatch> = (1..=10).map(|n| batch(n, 1, PAYLOAD)).collect();
    let a = spool.append_many(&batches).unwrap();
    assert_eq!(ids_of(&a), (1..=10).collect::<Vec<_>>());
    assert_eq!(
        segment_files(dir.path()),
        [seg_name(1), seg_name(5), seg_name(9)]
    );
    for name in segment_files(dir.path()) {
        assert!(fs::metadata(dir.path().join(name)).unwrap().len() <= 1024);
    }
    assert_eq!(spool.stats().segments, 3);
    assert_eq!(spool.stats().bytes_on_disk, 10 * RECORD);

    // The middle segment, acked out of order, goes although the first is pending.
    for id in [8, 6, 5, 7] {
        spool.ack(SpoolId(id)).unwrap();
    }
    assert_eq!(segment_files(dir.path()), [seg_name(1), seg_name(9)]);
    assert_eq!(ids(&read_all(&mut spool)), [1, 2, 3, 4, 9, 10]);
    for id in 1..=4 {
        spool.ack(SpoolId(id)).unwrap();
    }
    assert_eq!(segment_files(dir.path()), [seg_name(9)]);

    // The last segment stays while it is written, even fully acked...
    spool.ack(SpoolId(9)).unwrap();
    spool.ack(SpoolId(10)).unwrap();
    assert_eq!(segment_files(dir.path()), [seg_name(9)]);
    spool.append_many(&batches[..2]).unwrap(); // 11, 12 fill it
    spool.ack(SpoolId(11)).unwrap();
    spool.ack(SpoolId(12)).unwrap();
    assert_eq!(segment_files(dir.path()), [seg_name(9)]);
    // ...and goes once the next one starts.
    spool.append(&batches[2]).unwrap();
    assert_eq!(segment_files(dir.path()), [seg_name(13)]);
    spool.sync_cursor().unwrap();
    drop(spool);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), [13]);
}

#[test]
fn a_segment_left_behind_after_the_cursor_moved_is_removed_at_open() {
    // A crash after the cursor was persisted but before the acked segment's removal reached
    // the disk.
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let batches: Vec<SpoolBatch> = (1..=8).map(|n| batch(n, 1, PAYLOAD)).collect();
    spool.append_many(&batches).unwrap();
    let first = dir.path().join(seg_name(1));
    let saved = fs::read(&first).unwrap();
    for id in 1..=4 {
        spool.ack(SpoolId(id)).unwrap();
    }
    spool.sync_cursor().unwrap();
    crash(spool);
    fs::write(&first, saved).unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), [5, 6, 7, 8]);
    assert!(!first.exists());
    assert!(spool.take_dropped().is_zero());
}

#[test]
fn a_batch_bigger_than_a_segment_gets_one_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    spool.append(&batch(1, 1, PAYLOAD)).unwrap();
    let big = batch(2, 500, 1500);
    let id = spool.append(&big).unwrap();
    assert_eq!(id.get(), 2);
    spool.append(&batch(3, 1, PAYLOAD)).unwrap();
    assert_eq!(
        segment_files(dir.path()),
        [seg_name(1), seg_name(2), seg_name(3)]
    );
    assert_eq!(
        fs::metadata(dir.path().join(seg_name(2))).unwrap().len(),
        1540
    );
    drop(spool);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let read = read_all(&mut spool);
    assert_eq!(ids(&read), [1, 2, 3]);
    assert_eq!(read[1].1, big);

    // Over twice segment_bytes: refused, nothing written.
    let err = spool.append(&batch(4, 1, 2100)).unwrap_err();
    assert!(
        matches!(
            err,
            SpoolError::BatchTooLarge {
                size: 2140,
                max: 2048,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(segment_files(dir.path()).len(), 3);
    assert_eq!(spool.stats().pending_batches, 3);
}

#[test]
fn a_failed_append_leaves_the_spool_usable_and_loses_nothing() {
    // /dev/full fails every write with ENOSPC; it stands in for a full disk under the last
    // segment.
    let Ok(full) = OpenOptions::new().read(true).write(true).open("/dev/full") else {
        eprintln!("skipped: /dev/full is not available");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    spool
        .append_many(&[batch(1, 1, 50), batch(2, 1, 50)])
        .unwrap();
    let seg = dir.path().join(seg_name(1));
    let real = spool.segments.back_mut().unwrap().file.replace(full);

    let err = spool.append(&batch(3, 1, 50)).unwrap_err();
    match &err {
        SpoolError::Io { path, source, .. } => {
            assert_eq!(path, &seg);
            assert_eq!(source.raw_os_error(), Some(28), "ENOSPC: {source}");
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(
        err.to_string().starts_with("cannot write spool segment "),
        "{err}"
    );
    assert!(err.to_string().contains(&*seg.to_string_lossy()), "{err}");
    // The rollback's truncation went to /dev/full too and failed; the disk has room again.
    spool.segments.back_mut().unwrap().file = real;
    assert_eq!(ids(&read_all(&mut spool)), [1, 2]);
    assert_eq!(spool.stats().pending_batches, 2);
    assert_eq!(fs::metadata(&seg).unwrap().len(), 180);

    // Since the truncation failed, the next append starts a new segment rather than write
    // after bytes it could not clean up.
    let id = spool.append(&batch(3, 1, 50)).unwrap();
    assert_eq!(segment_files(dir.path()), [seg_name(1), seg_name(3)]);
    let read = read_all(&mut spool);
    assert_eq!(read.len(), 3);
    assert_eq!(read[2], (id, batch(3, 1, 50)));
    drop(spool);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let reread = read_all(&mut spool);
    assert_eq!(reread, read);
    assert!(spool.take_dropped().is_zero());
}

#[test]
fn a_record_damaged_after_open_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    spool
        .append_many(&[batch(1, 1, 50), batch(2, 7, 50), batch(3, 1, 50)])
        .unwrap();
    flip_byte(&dir.path().join(seg_name(1)), 90 + 60);
    assert_eq!(ids(&read_all(&mut spool)), [1, 3]);
    assert_eq!(
        spool.take_dropped(),
        DroppedCount {
            events: 7,
            batches: 1
        }
    );
    assert_eq!(spool.stats().pending_batches, 2);
}

#[test]
fn stats_follow_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert_eq!(spool.stats().oldest_pending_age, None);
    let a = spool
        .append_many(&[
            batch(1, 3, PAYLOAD),
            batch(2, 4, PAYLOAD),
            batch(3, 5, PAYLOAD),
        ])
        .unwrap();
    let stats = spool.stats();
    assert_eq!(stats.pending_batches, 3);
    assert_eq!(stats.pending_events, 12);
    assert_eq!(stats.segments, 1);
    assert_eq!(
        stats.bytes_on_disk,
        fs::metadata(dir.path().join(seg_name(1))).unwrap().len()
    );
    assert!(stats.oldest_pending_age.unwrap() < Duration::from_secs(60));
    spool.ack(a[1]).unwrap();
    assert_eq!(spool.stats().pending_events, 8);
    spool.ack(a[0]).unwrap();
    spool.ack(a[2]).unwrap();
    assert_eq!(spool.stats().pending_batches, 0);
    assert_eq!(spool.stats().oldest_pending_age, None);
}

#[test]
fn an_unreadable_state_file_means_everything_is_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let a = spool
        .append_many(&[batch(1, 1, 10), batch(2, 1, 10)])
        .unwrap();
    spool.ack(a[0]).unwrap();
    drop(spool);
    fs::write(dir.path().join(STATE_FILE), b"{not json").unwrap();
    fs::write(dir.path().join("notes.txt"), b"not a segment").unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    assert_eq!(ids(&read_all(&mut spool)), [1, 2]);
    assert!(dir.path().join("notes.txt").exists());
}

#[test]
fn a_failed_append_many_truncates_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let batches: Vec<SpoolBatch> = (1..=6).map(|n| batch(n, 1, PAYLOAD)).collect();
    spool.append_many(&batches[..3]).unwrap();
    let first = dir.path().join(seg_name(1));
    // Something in the way of the next segment: id 4 fills segment 1, id 5 cannot start
    // segment 5.
    let blocker = dir.path().join(seg_name(5));
    fs::create_dir(&blocker).unwrap();
    let err = spool.append_many(&batches[3..]).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot create spool segment "),
        "{err}"
    );
    assert_eq!(fs::metadata(&first).unwrap().len(), 3 * RECORD);
    assert_eq!(ids(&read_all(&mut spool)), [1, 2, 3]);
    assert_eq!(spool.stats().pending_batches, 3);

    fs::remove_dir(&blocker).unwrap();
    let a = spool.append_many(&batches[3..]).unwrap();
    assert_eq!(ids_of(&a), [4, 5, 6]);
    drop(spool);
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let read = read_all(&mut spool);
    assert_eq!(
        read.into_iter().map(|(_, b)| b).collect::<Vec<_>>(),
        batches
    );
}

#[test]
fn segments_whose_ids_overlap_are_cut_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let batches: Vec<SpoolBatch> = (1..=4).map(|n| batch(n, 10 * n as u32, PAYLOAD)).collect();
    spool.append_many(&batches).unwrap();
    crash(spool);
    // A file that claims ids from 3 on: ids 3 and 4 of segment 1 are ambiguous.
    let first = fs::read(dir.path().join(seg_name(1))).unwrap();
    fs::write(dir.path().join(seg_name(3)), &first[..RECORD as usize]).unwrap();
    // And a name no spool would write, with an id that would overflow.
    fs::write(dir.path().join(format!("seg-{}.spool", u64::MAX)), b"x").unwrap();
    let mut spool = Spool::open(small(dir.path())).unwrap();
    let read = read_all(&mut spool);
    assert_eq!(ids(&read), [1, 2, 3]);
    assert_eq!(read[2].1, batches[0]);
    assert_eq!(
        spool.take_dropped(),
        DroppedCount {
            events: 30 + 40,
            batches: 2
        }
    );
    assert_eq!(
        fs::metadata(dir.path().join(seg_name(1))).unwrap().len(),
        2 * RECORD
    );
}
