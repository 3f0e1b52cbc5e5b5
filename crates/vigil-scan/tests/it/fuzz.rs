//! Hostile bytes: random data, truncated and corrupted archives. Every scan must end with a
//! verdict, never a panic (a panic caught inside the engine shows as an "internal error").

use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

use vigil_scan::{Limits, Verdict};

use crate::common::{eicar, gzip_of, tar_of, team_engine, zip_of};

fn assert_no_internal_error(result: &vigil_scan::ScanResult) {
    if let Verdict::Error { reason } = &result.verdict {
        assert!(
            !reason.contains("internal error"),
            "{}: {reason}",
            result.target
        );
    }
}

fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let tar = tar_of(&[
        ("a.txt", b"alpha alpha alpha"),
        ("eicar.com", &eicar()),
        ("c.sh", b"#!/bin/sh\necho c\n"),
    ]);
    let tgz = gzip_of(&tar);
    let zip = zip_of(
        &[
            ("x/tar.tgz", &tgz),
            ("y.txt", &[b'y'; 3000]),
            ("z.bin", &[7u8; 100]),
        ],
        true,
    );
    vec![("s.tar", tar), ("s.tgz", tgz), ("s.zip", zip)]
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let mut scanner = team_engine().scanner();
    for round in 0..300 {
        let len = rng.random_range(0..20_000);
        let mut data = vec![0u8; len];
        rng.fill_bytes(&mut data);
        // Give some of them archive magic so that the parsers see them.
        match round % 4 {
            1 if len >= 4 => data[..4].copy_from_slice(b"PK\x03\x04"),
            2 if len >= 3 => data[..3].copy_from_slice(&[0x1f, 0x8b, 0x08]),
            3 if len >= 512 => data[257..262].copy_from_slice(b"ustar"),
            _ => {}
        }
        let result = scanner.scan_bytes(&format!("random{round}"), &data, &Limits::default());
        assert_no_internal_error(&result);
    }
}

#[test]
fn truncated_archives_never_panic() {
    let mut scanner = team_engine().scanner();
    for (name, data) in samples() {
        let step = (data.len() / 150).max(1);
        for cut in (0..data.len()).step_by(step) {
            let result = scanner.scan_bytes(name, &data[..cut], &Limits::default());
            assert_no_internal_error(&result);
        }
    }
}

#[test]
fn corrupted_archives_never_panic() {
    let mut rng = SmallRng::seed_from_u64(0xc0ffee);
    let mut scanner = team_engine().scanner();
    for (name, data) in samples() {
        for _ in 0..150 {
            let mut bad = data.clone();
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..bad.len());
                bad[at] = rng.random();
            }
            let result = scanner.scan_bytes(name, &bad, &Limits::default());
            assert_no_internal_error(&result);
        }
    }
}

#[test]
fn a_zip_declaring_more_entries_than_it_holds_is_harmless() {
    let mut zip = zip_of(&[("a", b"a")], false);
    let eocd = zip.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    // Declare 0xfffe entries in the end record.
    zip[eocd + 8..eocd + 10].copy_from_slice(&0xfffeu16.to_le_bytes());
    zip[eocd + 10..eocd + 12].copy_from_slice(&0xfffeu16.to_le_bytes());
    let result = team_engine().scan_bytes("liar.zip", &zip, &Limits::default());
    assert!(
        matches!(
            result.verdict,
            Verdict::LimitExceeded { .. } | Verdict::Clean
        ),
        "{:?}",
        result.verdict
    );
}
