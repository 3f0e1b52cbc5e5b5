//! Archive bombs, deep nesting, too many members, too many bytes and the deadline: each
//! ends the scan quickly with `LimitExceeded` naming its limit.

use std::io::Write;
use std::time::{Duration, Instant};

use vigil_scan::{Limit, Limits, Verdict};

use crate::common::{eicar, gzip_of, tar_of, team_engine, zip_of};

fn limit_of(result: &vigil_scan::ScanResult) -> Limit {
    match &result.verdict {
        Verdict::LimitExceeded { which, detail } => {
            assert!(!detail.is_empty());
            *which
        }
        other => panic!("expected a limit in {}, got {other:?}", result.target),
    }
}

/// 64 MiB of zeros deflated (about 64 KiB): far beyond 100:1.
fn zeros_deflated_zip() -> Vec<u8> {
    let zeros = vec![0u8; 64 << 20];
    zip_of(&[("zeros.bin", &zeros)], true)
}

#[test]
fn zip_bomb_stops_at_the_ratio() {
    let bomb = zeros_deflated_zip();
    assert!(
        bomb.len() < 1 << 20,
        "the sample is a bomb: {} bytes",
        bomb.len()
    );
    let started = Instant::now();
    let result = team_engine().scan_bytes("bomb.zip", &bomb, &Limits::default());
    assert_eq!(limit_of(&result), Limit::Ratio);
    assert!(started.elapsed() < Duration::from_secs(10));
    // Inflation stopped at the bound, not at the member's end.
    assert!(result.bytes_scanned < 16 << 20, "{}", result.bytes_scanned);
}

#[test]
fn gzip_bomb_stops_at_the_ratio() {
    let bomb = gzip_of(&vec![0u8; 32 << 20]);
    let result = team_engine().scan_bytes("bomb.gz", &bomb, &Limits::default());
    assert_eq!(limit_of(&result), Limit::Ratio);
}

#[test]
fn small_compressible_members_are_not_held_to_the_ratio() {
    let spaces = vec![b' '; 200 << 10];
    let zip = zip_of(&[("blank.txt", &spaces)], true);
    let result = team_engine().scan_bytes("blank.zip", &zip, &Limits::default());
    assert_eq!(result.verdict, Verdict::Clean);
}

#[test]
fn nesting_100_levels_stops_at_the_depth() {
    let mut inner = b"the bottom of the well".to_vec();
    for level in 0..100 {
        inner = zip_of(&[(&format!("level{level}.zip"), &inner)], false);
    }
    let started = Instant::now();
    let result = team_engine().scan_bytes("deep.zip", &inner, &Limits::default());
    assert_eq!(limit_of(&result), Limit::Depth);
    assert!(started.elapsed() < Duration::from_secs(10));
    // The file and 8 levels of members were scanned.
    assert_eq!(result.objects, 9);
}

#[test]
fn eicar_within_the_depth_is_found() {
    let mut inner = eicar();
    for level in 0..7 {
        inner = if level % 2 == 0 {
            zip_of(&[("x", &inner)], true)
        } else {
            gzip_of(&inner)
        };
    }
    let result = team_engine().scan_bytes("onion", &inner, &Limits::default());
    assert!(result.verdict.is_malicious(), "{:?}", result.verdict);
}

#[test]
fn too_many_zip_members_are_refused_before_the_directory_is_parsed() {
    let names: Vec<String> = (0..10_001).map(|i| format!("f{i}")).collect();
    let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let zip = zip_of(&members, false);
    let result = team_engine().scan_bytes("many.zip", &zip, &Limits::default());
    assert_eq!(limit_of(&result), Limit::Entries);
    assert_eq!(result.objects, 1, "no member was opened");
}

#[test]
fn too_many_tar_members_stop_at_the_bound() {
    let names: Vec<String> = (0..60).map(|i| format!("f{i}")).collect();
    let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let tar = tar_of(&members);
    let limits = Limits {
        max_entries: 50,
        ..Limits::default()
    };
    let result = team_engine().scan_bytes("many.tar", &tar, &limits);
    assert_eq!(limit_of(&result), Limit::Entries);
    assert_eq!(result.objects, 51);
}

#[test]
fn total_extracted_bytes_are_bounded_over_the_whole_scan() {
    let chunk = vec![b'a'; 512 << 10];
    let inner = zip_of(&[("b1", &chunk), ("b2", &chunk)], false);
    let outer = zip_of(&[("a1", &chunk), ("inner.zip", &inner)], false);
    let limits = Limits {
        max_total_bytes: 1 << 20,
        ..Limits::default()
    };
    let result = team_engine().scan_bytes("sum.zip", &outer, &limits);
    assert_eq!(limit_of(&result), Limit::TotalBytes);
}

#[test]
fn the_deadline_ends_a_long_scan() {
    let names: Vec<String> = (0..5_000).map(|i| format!("m{i}.txt")).collect();
    let body = vec![b'q'; 4 << 10];
    let members: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), body.as_slice()))
        .collect();
    let tar = tar_of(&members);
    let limits = Limits {
        deadline: Duration::from_millis(5),
        ..Limits::default()
    };
    let started = Instant::now();
    let result = team_engine().scan_bytes("slow.tar", &tar, &limits);
    assert_eq!(limit_of(&result), Limit::Deadline);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(result.objects < 5_001);
}

#[test]
fn a_file_over_the_size_bound_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&vec![1u8; 3 << 20]).unwrap();
    let limits = Limits {
        max_file_bytes: 1 << 20,
        ..Limits::default()
    };
    let result = team_engine().scan_file(&path, &limits);
    assert_eq!(limit_of(&result), Limit::FileSize);
}

#[test]
fn a_detection_before_a_limit_wins() {
    let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    let e = eicar();
    let mut members: Vec<(&str, &[u8])> = vec![("first.com", e.as_slice())];
    members.extend(names.iter().map(|n| (n.as_str(), &b"x"[..])));
    let tar = tar_of(&members);
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let result = team_engine().scan_bytes("t.tar", &tar, &limits);
    assert!(result.verdict.is_malicious(), "{:?}", result.verdict);
}
