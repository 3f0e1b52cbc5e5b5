//! Scan throughput of Vigil's engine against Debian's `yara` CLI, in one run, with the same
//! rules and the same files.
//!
//! Rules: the files of `../shared/corpora/yara/signature-base` that both YARA-X and
//! `yarac` compile without error (the intersection; the bench prints what each rejected
//! and why), each file in its own namespace on both sides, the LOKI/THOR externals
//! (`filename`, `filepath`, `extension`, `filetype`, `owner`) defined as strings on both.
//! Files: generated here in a temporary directory: ELF binaries copied from /usr/bin, text,
//! scripts, random data and a few archives (a few hundred MB in all).
//! Measured: wall time of scanning every file, single-threaded and with 2 threads on each
//! side, each configuration run `VIGIL_BENCH_RUNS` times (default 2) interleaved, best kept
//! (the machine is shared); `yara`'s time has its start-up (loading the compiled rules,
//! measured on an empty directory) subtracted. `yara` runs in its default mode and in fast
//! mode (`-f`); Vigil's scanner always runs YARA-X's fast-scan mode (verdicts are the same,
//! match lists are cut short). Like for like, Vigil scans archives as plain files, as `yara`
//! does (`Limits::open_archives = false`); it is also timed opening them, which scans the
//! members as well (more bytes).
//! `VIGIL_BENCH_BREAKDOWN=1` adds single-threaded times by kind of file.
//! Run: `cargo bench -p vigil-scan --bench scan` (set VIGIL_BENCH_MB to change the data size,
//! default 300).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use vigil_scan::{Engine, Limits};

const EXTERNALS: [&str; 5] = ["filename", "filepath", "extension", "filetype", "owner"];

fn main() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/yara/signature-base");
    if !corpus.is_dir() {
        println!("skipped: {} is absent", corpus.display());
        return;
    }
    let total_mb: usize = std::env::var("VIGIL_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let work = tempfile::tempdir().expect("temporary directory");

    // 1. Which rule files each side compiles.
    let started = Instant::now();
    let (_, report) = Engine::builder().rule_dir(&corpus, "sb").build();
    println!(
        "== rules: {} ({} files)",
        corpus.display(),
        report.files.len()
    );
    let vigil_ok: Vec<PathBuf> = report
        .files
        .iter()
        .filter(|f| f.compiled())
        .map(|f| PathBuf::from(&f.origin))
        .collect();
    println!(
        "yara-x: {} of {} files compiled ({} rules in those), in {:.1?}",
        vigil_ok.len(),
        report.files.len(),
        report
            .files
            .iter()
            .filter(|f| f.compiled())
            .map(|f| f.rules)
            .sum::<usize>(),
        started.elapsed()
    );
    print_reasons(
        "yara-x rejected",
        report
            .failed()
            .map(|f| (f.origin.clone(), f.errors.join("\n"))),
    );

    let have_yara = Command::new("yara")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("yarac")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    let all_files: Vec<PathBuf> = report
        .files
        .iter()
        .map(|f| PathBuf::from(&f.origin))
        .collect();
    let both: Vec<PathBuf> = if have_yara {
        let (yara_ok, yara_failed) = yarac_each(&all_files, work.path());
        println!(
            "yara (Debian, {}): {} of {} files compiled",
            yara_version(),
            yara_ok.len(),
            all_files.len()
        );
        print_reasons("yara rejected", yara_failed.into_iter());
        let only_x = vigil_ok.iter().filter(|p| !yara_ok.contains(p)).count();
        let only_yara = yara_ok.iter().filter(|p| !vigil_ok.contains(p)).count();
        println!("accepted by yara-x only: {only_x} files; by yara only: {only_yara} files");
        vigil_ok
            .iter()
            .filter(|p| yara_ok.contains(p))
            .cloned()
            .collect()
    } else {
        println!("skipped the yara comparison: `yara`/`yarac` not found (apt-get install -y yara)");
        vigil_ok.clone()
    };

    // 2. The engine over the intersection.
    let mut builder = Engine::builder();
    for (i, path) in both.iter().enumerate() {
        let src = fs::read_to_string(path).expect("rule file read before");
        builder = builder.rule_source(&path.display().to_string(), &format!("sb{i}"), &src);
    }
    let started = Instant::now();
    let (engine, report) = builder.build();
    assert!(
        report.failed().next().is_none(),
        "intersection files compile alone"
    );
    println!(
        "compared with the intersection: {} files, {} rules (yara-x compile {:.1?})",
        both.len(),
        engine.rule_count(),
        started.elapsed()
    );

    // 3. The file set.
    let data_dir = work.path().join("data");
    let set = generate(&data_dir, total_mb << 20);
    println!(
        "\n== files: {} files, {:.1} MB",
        set.paths.len(),
        set.bytes as f64 / 1e6
    );
    for (kind, (n, bytes)) in &set.kinds {
        println!("  {kind:<8} {n:>6} files {:>8.1} MB", *bytes as f64 / 1e6);
    }
    for p in &set.paths {
        let _ = fs::read(p); // warm the page cache for both sides
    }

    // 4. Measure: each configuration `runs` times, interleaved, best time kept (the
    // machine is shared, so the minimum is the least disturbed run).
    let runs: usize = std::env::var("VIGIL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let flat = Limits {
        max_file_bytes: 1 << 30,
        open_archives: false,
        ..Limits::default()
    };
    let limits = Limits {
        max_file_bytes: 1 << 30,
        ..Limits::default()
    };
    let compiled = if have_yara {
        Some(yarac_all(&both, work.path()))
    } else {
        None
    };
    let empty = work.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    println!("\n== scan (best of {runs} runs each)");
    println!(
        "{:<44} {:>8} {:>8} {:>9} {:>9}",
        "", "seconds", "MB/s", "files/s", "detected"
    );
    for threads in [1usize, 2] {
        let mut best: BTreeMap<&str, (Duration, usize)> = BTreeMap::new();
        let mut keep = |name: &'static str, t: Duration, d: usize| {
            let e = best.entry(name).or_insert((t, d));
            if t < e.0 {
                *e = (t, d);
            }
        };
        for _ in 0..runs {
            if let Some(c) = &compiled {
                for (name, fast) in [("yara", false), ("yara -f", true)] {
                    let startup = run_yara(c, &empty, threads, fast).0;
                    let (t, d) = run_yara(c, &data_dir, threads, fast);
                    keep(name, t.saturating_sub(startup), d);
                }
            }
            for (name, l) in [("vigil", &flat), ("vigil+archives", &limits)] {
                let started = Instant::now();
                let results = engine.scan_files_parallel(&set.paths, threads, l);
                let t = started.elapsed();
                keep(
                    name,
                    t,
                    results.iter().filter(|r| r.verdict.is_malicious()).count(),
                );
            }
        }
        let label = |name: &str| match name {
            "yara" => format!("yara {} CLI (-p {threads})", yara_version()),
            "yara -f" => format!("yara {} CLI, fast mode (-f -p {threads})", yara_version()),
            "vigil" => format!("vigil-scan, archives not opened ({threads}t)"),
            _ => format!("vigil-scan, archives opened ({threads}t)"),
        };
        for name in ["yara", "yara -f", "vigil", "vigil+archives"] {
            if let Some((t, d)) = best.get(name) {
                row(&label(name), *t, &set, *d);
            }
        }
        if let (Some(y), Some(yf), Some(v)) =
            (best.get("yara"), best.get("yara -f"), best.get("vigil"))
        {
            println!(
                "ratio, {threads} thread(s), like for like (archives as plain files): vigil is {:.2}x yara, {:.2}x yara -f",
                y.0.as_secs_f64() / v.0.as_secs_f64(),
                yf.0.as_secs_f64() / v.0.as_secs_f64()
            );
        }
    }
    if std::env::var_os("VIGIL_BENCH_BREAKDOWN").is_some() {
        println!("\n== by kind of file, 1 thread (seconds)");
        for kind in set.kinds.keys() {
            let paths: Vec<PathBuf> = set
                .paths
                .iter()
                .filter(|p| p.parent().is_some_and(|d| d.ends_with(kind)))
                .cloned()
                .collect();
            let started = Instant::now();
            engine.scan_files_parallel(&paths, 1, &flat);
            let vigil = started.elapsed();
            let yara = compiled
                .as_ref()
                .map(|c| run_yara(c, &set.root.join(kind), 1, false).0);
            println!(
                "  {kind:<8} vigil {:>7.2}  yara {:>7.2}",
                vigil.as_secs_f64(),
                yara.map_or(f64::NAN, |y| y.as_secs_f64())
            );
        }
    }
}

fn row(name: &str, t: Duration, set: &FileSet, detected: usize) {
    let s = t.as_secs_f64().max(1e-9);
    println!(
        "{name:<44} {s:>8.2} {:>8.1} {:>9.0} {detected:>9}",
        set.bytes as f64 / 1e6 / s,
        set.paths.len() as f64 / s
    );
}

fn print_reasons(title: &str, failed: impl Iterator<Item = (String, String)>) {
    let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (origin, error) in failed {
        let first = error
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string();
        // Keep the kind of error, not the identifiers in it.
        let reason: String = first
            .split(['`', '"', '\''])
            .step_by(2)
            .collect::<Vec<_>>()
            .join("…");
        let name = Path::new(&origin)
            .file_name()
            .map_or(origin.clone(), |n| n.to_string_lossy().into_owned());
        by_reason.entry(reason).or_default().push(name);
    }
    let total: usize = by_reason.values().map(Vec::len).sum();
    println!("{title} {total} files:");
    let mut reasons: Vec<_> = by_reason.into_iter().collect();
    reasons.sort_by_key(|(_, files)| std::cmp::Reverse(files.len()));
    for (reason, files) in reasons.iter().take(12) {
        println!("  {:>3} × {reason}  (e.g. {})", files.len(), files[0]);
    }
    if reasons.len() > 12 {
        println!("  ... {} more kinds", reasons.len() - 12);
    }
}

fn yara_version() -> String {
    Command::new("yara")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn externals(cmd: &mut Command) {
    for name in EXTERNALS {
        cmd.arg("-d").arg(format!("{name}="));
    }
}

/// Compiles each file alone with `yarac` (two at a time); returns the accepted files and
/// the errors of the others.
fn yarac_each(files: &[PathBuf], work: &Path) -> (Vec<PathBuf>, Vec<(String, String)>) {
    let halves: Vec<&[PathBuf]> = files.chunks(files.len().div_ceil(2).max(1)).collect();
    let results: Vec<Vec<(PathBuf, Result<(), String>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = halves
            .iter()
            .enumerate()
            .map(|(h, part)| {
                s.spawn(move || {
                    let out = work.join(format!("probe{h}.yarc"));
                    part.iter()
                        .map(|f| {
                            let mut cmd = Command::new("yarac");
                            externals(&mut cmd);
                            let o = cmd
                                .arg(f)
                                .arg(&out)
                                .stdin(Stdio::null())
                                .output()
                                .expect("run yarac");
                            let r = if o.status.success() {
                                Ok(())
                            } else {
                                Err(String::from_utf8_lossy(&o.stderr)
                                    .replace(&f.display().to_string(), ""))
                            };
                            (f.clone(), r)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("yarac thread"))
            .collect()
    });
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (f, r) in results.into_iter().flatten() {
        match r {
            Ok(()) => ok.push(f),
            Err(e) => failed.push((f.display().to_string(), e)),
        }
    }
    (ok, failed)
}

/// Compiles the files together, each in its own namespace, into one compiled rule file.
fn yarac_all(files: &[PathBuf], work: &Path) -> PathBuf {
    let out = work.join("rules.yarc");
    let mut cmd = Command::new("yarac");
    externals(&mut cmd);
    for (i, f) in files.iter().enumerate() {
        cmd.arg(format!("sb{i}:{}", f.display()));
    }
    let started = Instant::now();
    let o = cmd.arg(&out).output().expect("run yarac");
    assert!(
        o.status.success(),
        "yarac failed on the intersection: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    println!(
        "yarac compiled the intersection in {:.1?}",
        started.elapsed()
    );
    out
}

/// Runs `yara` over `dir`; returns the wall time and the number of files with a match.
fn run_yara(compiled: &Path, dir: &Path, threads: usize, fast: bool) -> (Duration, usize) {
    let mut cmd = Command::new("yara");
    if fast {
        cmd.arg("-f");
    }
    cmd.arg("-C").arg("-r").arg("-p").arg(threads.to_string());
    externals(&mut cmd);
    cmd.arg(compiled)
        .arg(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    let started = Instant::now();
    let o = cmd.output().expect("run yara");
    let elapsed = started.elapsed();
    let mut files: Vec<&str> = Vec::new();
    let text = String::from_utf8_lossy(&o.stdout);
    for line in text.lines() {
        if let Some((_, path)) = line.split_once(' ') {
            files.push(path);
        }
    }
    files.sort_unstable();
    files.dedup();
    (elapsed, files.len())
}

struct FileSet {
    root: PathBuf,
    paths: Vec<PathBuf>,
    bytes: u64,
    kinds: BTreeMap<&'static str, (usize, u64)>,
}

impl FileSet {
    fn add(&mut self, kind: &'static str, name: String, data: &[u8]) {
        let dir = self.root.join(kind);
        fs::create_dir_all(&dir).expect("bench data directory");
        let path = dir.join(name);
        fs::write(&path, data).expect("write a bench file");
        self.bytes += data.len() as u64;
        let k = self.kinds.entry(kind).or_default();
        k.0 += 1;
        k.1 += data.len() as u64;
        self.paths.push(path);
    }
}

/// Generates about `budget` bytes: 45% ELF from /usr/bin, 20% text, 5% scripts, 20% random,
/// 10% archives.
fn generate(dir: &Path, budget: usize) -> FileSet {
    fs::create_dir_all(dir).expect("bench data directory");
    let mut set = FileSet {
        root: dir.to_path_buf(),
        paths: Vec::new(),
        bytes: 0,
        kinds: BTreeMap::new(),
    };
    let mut rng = SmallRng::seed_from_u64(7);

    let mut elves: Vec<PathBuf> = fs::read_dir("/usr/bin")
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    elves.sort();
    let mut elf_bytes = 0;
    let mut elf_samples = Vec::new();
    for p in elves {
        if elf_bytes >= budget * 45 / 100 {
            break;
        }
        let Ok(meta) = fs::symlink_metadata(&p) else {
            continue;
        };
        if !meta.is_file() || meta.len() > 64 << 20 {
            continue;
        }
        let Ok(data) = fs::read(&p) else { continue };
        if !data.starts_with(b"\x7fELF") {
            continue;
        }
        elf_bytes += data.len();
        let name = format!("elf-{}", p.file_name().unwrap().to_string_lossy());
        if elf_samples.len() < 8 && data.len() < 2 << 20 {
            elf_samples.push((name.clone(), data.clone()));
        }
        set.add("elf", name, &data);
    }

    let words = [
        "the",
        "server",
        "request",
        "user",
        "session",
        "error",
        "config",
        "value",
        "network",
        "process",
        "time",
        "data",
        "file",
        "system",
        "update",
        "status",
        "connection",
        "timeout",
        "memory",
        "service",
        "GET",
        "POST",
    ];
    let mut text_bytes = 0;
    let mut texts = Vec::new();
    let mut i = 0;
    while text_bytes < budget * 20 / 100 {
        let size = rng.random_range(2_000..2_000_000);
        let mut t = String::with_capacity(size + 100);
        while t.len() < size {
            let n: u32 = rng.random_range(0..100_000);
            t.push_str(&format!(
                "2024-05-{:02}T10:{:02}:{:02} host{} ",
                n % 28 + 1,
                n % 60,
                n % 59,
                n % 17
            ));
            for _ in 0..rng.random_range(5..15) {
                t.push_str(words[rng.random_range(0..words.len())]);
                t.push(' ');
            }
            t.push('\n');
        }
        text_bytes += t.len();
        if texts.len() < 20 {
            texts.push((format!("log{i}.txt"), t.clone().into_bytes()));
        }
        set.add("text", format!("log{i}.txt"), t.as_bytes());
        i += 1;
    }

    let mut script_bytes = 0;
    i = 0;
    while script_bytes < budget * 5 / 100 {
        let mut s = String::from(if i % 2 == 0 {
            "#!/bin/sh\nset -eu\n"
        } else {
            "#!/usr/bin/env python3\nimport os, sys\n"
        });
        for j in 0..rng.random_range(20..200) {
            if i % 2 == 0 {
                s.push_str(&format!("if [ -f /etc/app{j}.conf ]; then echo \"loading {j}\"; cp /etc/app{j}.conf /var/lib/app/; fi\n"));
            } else {
                s.push_str(&format!(
                    "def step_{j}(x):\n    return os.path.join(sys.prefix, str(x * {j}))\n"
                ));
            }
        }
        script_bytes += s.len();
        set.add("script", format!("script{i}"), s.as_bytes());
        i += 1;
    }

    let mut random_bytes = 0;
    i = 0;
    while random_bytes < budget * 20 / 100 {
        let size = rng.random_range(1_000..8_000_000);
        let mut d = vec![0u8; size];
        rng.fill_bytes(&mut d);
        random_bytes += size;
        set.add("random", format!("blob{i}.bin"), &d);
        i += 1;
    }

    let mut archive_bytes = 0;
    i = 0;
    let members: Vec<(String, Vec<u8>)> = elf_samples.into_iter().chain(texts).collect();
    while archive_bytes < budget * 10 / 100 && !members.is_empty() {
        let pick: Vec<&(String, Vec<u8>)> = (0..6)
            .map(|_| &members[rng.random_range(0..members.len())])
            .collect();
        let data = if i % 2 == 0 {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (k, (name, body)) in pick.iter().enumerate() {
                w.start_file(format!("{k}-{name}"), opts).unwrap();
                w.write_all(body).unwrap();
            }
            w.finish().unwrap().into_inner()
        } else {
            let mut b = tar::Builder::new(Vec::new());
            for (k, (name, body)) in pick.iter().enumerate() {
                let mut h = tar::Header::new_ustar();
                h.set_size(body.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, format!("{k}-{name}"), body.as_slice())
                    .unwrap();
            }
            let tar = b.into_inner().unwrap();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).unwrap();
            gz.finish().unwrap()
        };
        archive_bytes += data.len();
        let name = if i % 2 == 0 {
            format!("bundle{i}.zip")
        } else {
            format!("bundle{i}.tar.gz")
        };
        set.add("archive", name, &data);
        i += 1;
    }
    set
}
