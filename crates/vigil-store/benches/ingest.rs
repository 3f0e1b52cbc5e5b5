//! Ingest and query benchmark of the telemetry store.
//!
//! 1. Ingest: two threads append synthetic DeviceProcessEvents rows (about 30 filled columns)
//!    in batches of 1,000 for `STORE_INGEST_SECS` (default 10) while a maintenance thread
//!    flushes when `maintenance_due()`; prints events/s, append latency, and the latency from
//!    the start of an append call to its rows being counted by a `SELECT count(*)` (sampled).
//! 2. Hunting: `STORE_ROWS` rows (default 5,000,000) spread over 7 days go into a fresh store,
//!    which is flushed and compacted; then a one-day `GROUP BY ActionType` is timed.
//! 3. Baseline: the same rows written as JSON lines (the agent's jsonl format) to one file.
//!
//! Run: `cargo bench -p vigil-store --bench ingest` (env `STORE_ROWS`, `STORE_INGEST_SECS`,
//! `STORE_BENCH_DIR` for where the data goes, default the system temp directory, and
//! `STORE_JSON_BASELINE=0` to skip the baseline, which needs about 1.5 KB of disk per row).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use vigil_schema::{Col, Row, Table, Timestamp};
use vigil_store::{format_batches, IngestBatch, Store, StoreOptions};

const BATCH: usize = 1000;
const DAY: i64 = 86_400_000_000_000;

/// xorshift64*: deterministic, so the JSON baseline writes exactly the store's rows.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn hex(rng: &mut Rng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rng.below(256)))
        .collect()
}

/// An executable the synthetic fleet runs.
struct Image {
    name: String,
    folder: String,
    sha1: String,
    sha256: String,
    md5: String,
    size: i64,
}

struct Fleet {
    images: Vec<Image>,
    users: Vec<&'static str>,
}

impl Fleet {
    fn new() -> Fleet {
        let mut rng = Rng(0x5eed);
        let names = [
            "bash",
            "sh",
            "python3",
            "curl",
            "wget",
            "sshd",
            "systemd",
            "cron",
            "ls",
            "cat",
            "grep",
            "awk",
            "sed",
            "tar",
            "gzip",
            "git",
            "make",
            "gcc",
            "ld",
            "node",
            "java",
            "nginx",
            "postgres",
            "dockerd",
            "containerd",
            "runc",
            "sudo",
            "su",
            "id",
            "ps",
        ];
        let images = (0..200)
            .map(|i| {
                let base = names[i % names.len()];
                let folder = [
                    "/usr/bin",
                    "/usr/sbin",
                    "/usr/local/bin",
                    "/opt/app/bin",
                    "/tmp",
                ][i % 5];
                Image {
                    name: if i < names.len() {
                        base.to_string()
                    } else {
                        format!("{base}{i}")
                    },
                    folder: folder.to_string(),
                    sha1: hex(&mut rng, 20),
                    sha256: hex(&mut rng, 32),
                    md5: hex(&mut rng, 16),
                    size: 10_000 + rng.below(20_000_000) as i64,
                }
            })
            .collect();
        Fleet {
            images,
            users: vec![
                "root", "alice", "bob", "www-data", "postgres", "deploy", "ci", "carol",
            ],
        }
    }

    /// Row `seq` of device `dev` at `ts`.
    fn row(&self, rng: &mut Rng, dev: u64, seq: u64, ts: i64) -> Row {
        let action = match rng.below(10) {
            0..=5 => "ProcessCreated",
            6..=8 => "ProcessTerminated",
            _ => "ProcessForked",
        };
        let mut r = Row::event(Table::DeviceProcessEvents, action, Timestamp(ts));
        let img = &self.images[rng.below(self.images.len() as u64) as usize];
        let parent = &self.images[rng.below(30) as usize];
        let user = self.users[rng.below(self.users.len() as u64) as usize];
        let pid = 1000 + rng.below(4_000_000) as i64;
        let ppid = 1 + rng.below(100_000) as i64;
        let started = ts - rng.below(1_000_000_000) as i64;
        r.put(
            Col::DeviceId,
            format!("{:040x}", dev.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        );
        r.put(Col::DeviceName, format!("host-{dev:04}.corp.example"));
        r.put(Col::FileName, img.name.as_str());
        r.put(Col::FolderPath, format!("{}/{}", img.folder, img.name));
        r.put(Col::SHA1, img.sha1.as_str());
        r.put(Col::SHA256, img.sha256.as_str());
        r.put(Col::MD5, img.md5.as_str());
        r.put(Col::FileSize, img.size);
        r.put(Col::ProcessId, pid);
        r.put(
            Col::ProcessCommandLine,
            format!(
                "{} --job {} /var/lib/app/{}.conf",
                img.name,
                rng.below(100_000),
                rng.below(500)
            ),
        );
        r.put(Col::ProcessCreationTime, Timestamp(started));
        r.put(Col::AccountDomain, "corp");
        r.put(Col::AccountName, user);
        r.put(
            Col::AccountSid,
            format!("S-1-5-21-1000-{}", user.len() * 37),
        );
        r.put(Col::LogonId, rng.below(5000) as i64);
        r.put(
            Col::ProcessTokenElevation,
            if user == "root" {
                "TokenElevationTypeFull"
            } else {
                "TokenElevationTypeDefault"
            },
        );
        r.put(Col::InitiatingProcessAccountDomain, "corp");
        r.put(Col::InitiatingProcessAccountName, user);
        r.put(Col::InitiatingProcessFileName, parent.name.as_str());
        r.put(
            Col::InitiatingProcessFolderPath,
            format!("{}/{}", parent.folder, parent.name),
        );
        r.put(Col::InitiatingProcessSHA1, parent.sha1.as_str());
        r.put(Col::InitiatingProcessSHA256, parent.sha256.as_str());
        r.put(Col::InitiatingProcessMD5, parent.md5.as_str());
        r.put(Col::InitiatingProcessFileSize, parent.size);
        r.put(Col::InitiatingProcessId, ppid);
        r.put(
            Col::InitiatingProcessCommandLine,
            format!("{} -c run-{}", parent.name, rng.below(1000)),
        );
        r.put(
            Col::InitiatingProcessCreationTime,
            Timestamp(started - 5_000_000_000),
        );
        r.put(Col::InitiatingProcessParentId, 1i64);
        r.put(Col::InitiatingProcessParentFileName, "systemd");
        r.put(
            Col::ReportId,
            ((ts / 1_000_000) << 20) + (seq & 0xFFFFF) as i64,
        );
        r.put_extra("tty", "pts/0");
        r.put_extra(
            "cgroup",
            format!("/system.slice/app-{}.service", rng.below(50)),
        );
        r
    }
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn scalar(rt: &tokio::runtime::Runtime, store: &Store, q: &str) -> i64 {
    let b: Vec<RecordBatch> = rt
        .block_on(store.sql(q))
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// Flush whenever the store says so, as the server's background task does.
fn maintenance(store: &Store, stop: &AtomicBool, flushes: &Mutex<Vec<Duration>>) {
    while !stop.load(Ordering::Relaxed) {
        if store.maintenance_due() {
            let t = Instant::now();
            store.flush().expect("flush");
            flushes.lock().unwrap().push(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("STORE_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).expect("temp dir"),
        None => tempfile::tempdir().expect("temp dir"),
    }
}

fn ingest(fleet: &Fleet, secs: u64) {
    println!("== ingest: 2 threads, batches of {BATCH}, {secs} s");
    let dir = bench_dir();
    let store = Store::open(StoreOptions::new(dir.path())).expect("open");
    let rt = runtime();
    let stop = AtomicBool::new(false);
    let flushes = Mutex::new(Vec::new());
    let rows = AtomicU64::new(0);
    let append_lat = Mutex::new(Vec::new());
    let visible_lat = Mutex::new(Vec::new());
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    std::thread::scope(|s| {
        s.spawn(|| maintenance(&store, &stop, &flushes));
        let workers: Vec<_> = (0..2u64)
            .map(|t| {
                let (store, rows, append_lat, visible_lat, rt) = (&store, &rows, &append_lat, &visible_lat, &rt);
                s.spawn(move || {
                    let mut rng = Rng(0xabc + t);
                    let dev = t;
                    let mut seq = 0u64;
                    let (mut a, mut v) = (Vec::new(), Vec::new());
                    let mut until_sample = 10u32;
                    while Instant::now() < deadline {
                        let ts0 = Timestamp::now().nanos();
                        let batch: Vec<Row> = (0..BATCH as u64)
                            .map(|i| fleet.row(&mut rng, dev, seq + i, ts0 + i as i64))
                            .collect();
                        let batch =
                            IngestBatch::from_rows(&format!("dev-{dev}"), "boot", seq, &batch);
                        let t0 = Instant::now();
                        let out = store
                            .append(batch)
                            .expect("append");
                        a.push(t0.elapsed());
                        assert_eq!(out.stored, BATCH);
                        seq += BATCH as u64;
                        until_sample -= 1;
                        if until_sample == 0 {
                            until_sample = 10;
                            // Sampled: when can a query count this batch?
                            let device = format!("{:040x}", dev.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                            let q = format!(
                                "SELECT count(*) FROM DeviceProcessEvents WHERE Timestamp >= to_timestamp_nanos({ts0}) \
                                 AND Timestamp < to_timestamp_nanos({}) AND DeviceId = '{device}'",
                                ts0 + BATCH as i64
                            );
                            while scalar(rt, store, &q) < BATCH as i64 {}
                            v.push(t0.elapsed());
                        }
                        rows.fetch_add(BATCH as u64, Ordering::Relaxed);
                    }
                    append_lat.lock().unwrap().extend(a);
                    visible_lat.lock().unwrap().extend(v);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    let wall = start.elapsed();
    let total = rows.load(Ordering::Relaxed);
    let mut a = append_lat.into_inner().unwrap();
    let mut v = visible_lat.into_inner().unwrap();
    let f = flushes.into_inner().unwrap();
    println!(
        "rows {total} in {:.1} s: {:.0} events/s (wall, row generation and sampled queries included)",
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64()
    );
    let in_append: Duration = a.iter().sum();
    println!(
        "time inside append: {:.1} s summed over both threads ({:.0} events/s if the threads did nothing else)",
        in_append.as_secs_f64(),
        total as f64 / (in_append.as_secs_f64() / 2.0)
    );
    println!(
        "append latency p50 {} p99 {} max {}",
        ms(percentile(&mut a, 0.5)),
        ms(percentile(&mut a, 0.99)),
        ms(percentile(&mut a, 1.0))
    );
    println!(
        "append start -> visible to SELECT count(*) ({} samples): p50 {} p99 {} max {}",
        v.len(),
        ms(percentile(&mut v, 0.5)),
        ms(percentile(&mut v, 0.99)),
        ms(percentile(&mut v, 1.0))
    );
    let m = store.metrics();
    println!(
        "flushes {} (mean {}), hot rows now {}, WAL {} MB, parquet {} MB",
        f.len(),
        ms(f.iter().sum::<Duration>() / f.len().max(1) as u32),
        m.hot_rows,
        m.wal_bytes / 1_000_000,
        m.table_bytes[0].1 / 1_000_000
    );
}

/// Rows of the 7-day data set, batch `k` (all threads together produce batches 0..n/BATCH).
fn week_batch(fleet: &Fleet, k: u64, n: u64, day0: i64) -> Vec<Row> {
    let mut rng = Rng(0x1234_5678 ^ k.wrapping_mul(0x9E37_79B9));
    let step = 7 * DAY / n as i64;
    (0..BATCH as u64)
        .map(|i| {
            let seq = k * BATCH as u64 + i;
            fleet.row(&mut rng, k % 50, seq, day0 + seq as i64 * step)
        })
        .collect()
}

/// Run `f(batch number)` for every batch on two threads.
fn two_threads(batches: u64, f: impl Fn(u64) + Sync) -> Duration {
    let t = Instant::now();
    std::thread::scope(|s| {
        for th in 0..2 {
            let f = &f;
            s.spawn(move || {
                let mut k = th;
                while k < batches {
                    f(k);
                    k += 2;
                }
            });
        }
    });
    t.elapsed()
}

fn hunting(fleet: &Fleet, n: u64) {
    let n = n.max(BATCH as u64) / BATCH as u64 * BATCH as u64;
    let batches = n / BATCH as u64;
    let day0 = 1_795_478_400_000_000_000; // 2026-11-24T00:00:00Z
    println!("\n== hunting: {n} rows over 7 days, one-day GROUP BY");

    let gen = two_threads(batches, |k| {
        std::hint::black_box(week_batch(fleet, k, n, day0));
    });
    println!(
        "generating the rows alone (2 threads): {:.1} s",
        gen.as_secs_f64()
    );

    let dir = bench_dir();
    let store = Store::open(StoreOptions::new(dir.path())).expect("open");
    let stop = AtomicBool::new(false);
    let flushes = Mutex::new(Vec::new());
    let t = Instant::now();
    let ingest = std::thread::scope(|s| {
        s.spawn(|| maintenance(&store, &stop, &flushes));
        let d = two_threads(batches, |k| {
            store
                // 50 devices, one agent run each, sending in order.
                .append(IngestBatch::from_rows(
                    &format!("dev-{}", k % 50),
                    "boot",
                    k / 50 * BATCH as u64,
                    &week_batch(fleet, k, n, day0),
                ))
                .expect("append");
        });
        stop.store(true, Ordering::Relaxed);
        d
    });
    let tf = Instant::now();
    store.flush().expect("flush");
    let flush = tf.elapsed();
    let tc = Instant::now();
    let report = store.compact().expect("compact");
    let compact = tc.elapsed();
    let store_wall = t.elapsed();
    let m = store.metrics();
    println!(
        "store: append {:.1} s ({:.0} events/s), final flush {:.1} s, compaction {:.1} s ({} files into {} partitions), total {:.1} s",
        ingest.as_secs_f64(),
        n as f64 / ingest.as_secs_f64(),
        flush.as_secs_f64(),
        compact.as_secs_f64(),
        report.files_merged,
        report.partitions,
        store_wall.as_secs_f64()
    );
    println!(
        "parquet: {} files, {:.1} MB ({:.0} bytes/row)",
        m.tables[0].files,
        m.tables[0].bytes as f64 / 1e6,
        m.tables[0].bytes as f64 / n as f64
    );

    let rt = runtime();
    let (lo, hi) = (day0 + 3 * DAY, day0 + 4 * DAY);
    let q = format!(
        "SELECT ActionType, count(*) AS n FROM DeviceProcessEvents \
         WHERE Timestamp >= to_timestamp_nanos({lo}) AND Timestamp < to_timestamp_nanos({hi}) \
         GROUP BY ActionType ORDER BY ActionType"
    );
    let mut times = Vec::new();
    let mut result = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        result = rt.block_on(store.sql(&q)).expect("query");
        times.push(t.elapsed());
    }
    let first = times[0];
    let counted: i64 = result
        .iter()
        .map(|b| {
            b.column(1)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .sum::<i64>()
        })
        .sum();
    println!("{}", format_batches(&result));
    println!(
        "one-day GROUP BY over {n} rows ({counted} in the day): first {}, then median {} (min {})",
        ms(first),
        ms(percentile(&mut times[1..].to_vec(), 0.5)),
        ms(percentile(&mut times[1..].to_vec(), 0.0))
    );
    drop(store);

    if env_num("STORE_JSON_BASELINE", 1) == 0 {
        return;
    }
    // Baseline: the same rows as JSON lines into one file, encoded on two threads.
    let path = dir.path().join("baseline.jsonl");
    let out = Mutex::new(BufWriter::with_capacity(
        1 << 20,
        File::create(&path).expect("create"),
    ));
    let t = Instant::now();
    two_threads(batches, |k| {
        let mut buf = String::with_capacity(BATCH * 1500);
        for r in &week_batch(fleet, k, n, day0) {
            r.write_json(&mut buf);
            buf.push('\n');
        }
        out.lock()
            .unwrap()
            .write_all(buf.as_bytes())
            .expect("write");
    });
    let file = out.into_inner().unwrap().into_inner().expect("flush");
    file.sync_all().expect("fsync");
    let json_wall = t.elapsed();
    let json_bytes = file.metadata().expect("stat").len();
    println!(
        "baseline JSON lines: {:.1} s, {:.1} MB; store/json time ratio {:.2} (without row generation: {:.2}); json/parquet size ratio {:.1}",
        json_wall.as_secs_f64(),
        json_bytes as f64 / 1e6,
        store_wall.as_secs_f64() / json_wall.as_secs_f64(),
        (store_wall.as_secs_f64() - gen.as_secs_f64()).max(0.0)
            / (json_wall.as_secs_f64() - gen.as_secs_f64()).max(1e-3),
        json_bytes as f64 / m.tables[0].bytes.max(1) as f64
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let fleet = Fleet::new();
    ingest(&fleet, env_num("STORE_INGEST_SECS", 10));
    hunting(&fleet, env_num("STORE_ROWS", 5_000_000));
}
