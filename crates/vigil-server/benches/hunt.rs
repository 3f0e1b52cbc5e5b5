//! Hunting benchmark: the KQL query over `HUNT_ROWS` (default 50 million)
//! `DeviceProcessEvents` rows spread over 30 days, against the same question written by hand
//! in SQL on the same store, in the same run.
//!
//! `cargo bench -p vigil-server --bench hunt`. The store is built once in `HUNT_DIR` (default
//! `/tmp/vigil-hunt-bench`) and reused while it holds the same number of rows; `HUNT_RUNS`
//! (default 7) timed runs of each, the median reported. Prints both times and their ratio,
//! and checks that both give the same rows.

mod common;

use std::time::{Duration, Instant};

use vigil_schema::{Col, Row, Table, Timestamp};
use vigil_server::hunt::{hunt, HuntLimits};
use vigil_store::{IngestBatch, Store, StoreOptions};

const DAY: i64 = 86_400_000_000_000;

const KQL: &str = "DeviceProcessEvents | where Timestamp > ago(1d) \
    | where ProcessCommandLine has \"curl\" \
    | summarize count() by DeviceName, bin(Timestamp, 1h)";

/// Command lines of a plausible Linux fleet; about one in 25 runs curl.
const COMMANDS: &[&str] = &[
    "/usr/bin/python3 /opt/app/worker.py --queue default",
    "bash -c 'systemctl status nginx'",
    "/usr/sbin/sshd -D -R",
    "curl -fsS https://repo.example.com/health",
    "ls -la /var/log",
    "/usr/bin/git fetch --prune origin",
    "ps aux",
    "grep -r TODO /srv/app/src",
    "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main",
    "tar czf /backup/etc.tgz /etc",
    "cron -f",
    "/usr/bin/docker ps --format {{.Names}}",
    "sh -c 'curly --version'",
    "java -Xmx2g -jar /opt/svc/app.jar",
    "/usr/bin/apt-get update -q",
    "node /srv/web/server.js",
    "vim /etc/hosts",
    "rsync -a /srv/data/ backup:/data/",
    "/bin/sh /etc/update-motd.d/50-landscape-sysinfo",
    "awk '{print $1}' /var/log/nginx/access.log",
    "openssl s_client -connect example.com:443",
    "wget -q -O- http://mirror.example.org/index",
    "sort -u /tmp/list.txt",
    "du -sh /home",
    "systemd-run --user --scope firefox",
];

fn build(store: &Store, rows: u64, now: i64) {
    let devices = 1000u64;
    let per_batch = 20_000u64;
    let started = Instant::now();
    let mut seq = vec![1u64; devices as usize];
    let mut made = 0u64;
    let mut i = 0u64;
    while made < rows {
        let device = i % devices;
        let n = per_batch.min(rows - made);
        let name = format!("host-{device:04}");
        let id = format!("dev-{device:04}");
        let batch: Vec<Row> = (0..n)
            .map(|k| {
                let g = made + k;
                // Spread over 30 days, newest at `now`.
                let ts =
                    now - ((g.wrapping_mul(2_654_435_761) % (30 * 86_400)) as i64) * 1_000_000_000;
                let mut r = Row::event(Table::DeviceProcessEvents, "ProcessCreated", Timestamp(ts));
                r.put(Col::DeviceName, name.as_str());
                r.put(Col::FileName, "bash");
                r.put(Col::ProcessId, (g % 4_000_000) as i64);
                r.put(
                    Col::ProcessCommandLine,
                    COMMANDS[(g % COMMANDS.len() as u64) as usize],
                );
                r.put(
                    Col::AccountName,
                    if g.is_multiple_of(3) { "root" } else { "app" },
                );
                r
            })
            .collect();
        let s = &mut seq[device as usize];
        store
            .append(IngestBatch::from_rows(&id, "bench-boot", *s, &batch))
            .expect("append");
        *s += n;
        made += n;
        i += 1;
        if i.is_multiple_of(250) {
            eprintln!(
                "  built {made}/{rows} rows ({:.0} rows/s)",
                made as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    store.flush().expect("flush");
    eprintln!("built {rows} rows in {:.1?}", started.elapsed());
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rows = common::env_n("HUNT_ROWS", 50_000_000);
    let runs = common::env_n("HUNT_RUNS", 7) as usize;
    let dir = std::env::var("HUNT_DIR").unwrap_or_else(|_| "/tmp/vigil-hunt-bench".into());
    let dir = std::path::PathBuf::from(dir);
    let marker = dir.join("rows");
    // The data's "now": fixed, so that a reused store answers the same.
    let now: i64 = 1_795_521_600_000_000_000;
    let rebuild = std::fs::read_to_string(&marker).ok().as_deref() != Some(&rows.to_string());
    if rebuild {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut opts = StoreOptions::new(&dir);
    opts.retention_days = 0;
    let store = Store::open(opts).expect("open store");
    if rebuild {
        build(&store, rows, now);
        std::fs::write(&marker, rows.to_string()).expect("write marker");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let limits = HuntLimits {
        lookback: None,
        ..HuntLimits::default()
    };
    let since = now - DAY;
    let hand_sql = format!(
        "SELECT \"DeviceName\", date_bin(INTERVAL '1 hour', \"Timestamp\", TIMESTAMP '1970-01-01T00:00:00Z') AS \"Timestamp\", count(*) AS count_ \
         FROM \"DeviceProcessEvents\" \
         WHERE \"Timestamp\" > arrow_cast({since}, 'Timestamp(Nanosecond, Some(\"UTC\"))') \
         AND kql_has(\"ProcessCommandLine\", 'curl') \
         GROUP BY \"DeviceName\", date_bin(INTERVAL '1 hour', \"Timestamp\", TIMESTAMP '1970-01-01T00:00:00Z')"
    );
    let mut kql_times = Vec::new();
    let mut sql_times = Vec::new();
    let mut kql_rows = 0;
    let mut sql_rows = 0;
    // One warm-up of each, then alternate so that both see the same cache state.
    for run in 0..=runs {
        let t = Instant::now();
        let r = rt
            .block_on(hunt(&store, KQL, now, &limits))
            .expect("kql runs");
        let kql = t.elapsed();
        kql_rows = r.batches.iter().map(|b| b.num_rows()).sum::<usize>();
        let t = Instant::now();
        let b = rt.block_on(store.sql(&hand_sql)).expect("sql runs");
        let sql = t.elapsed();
        sql_rows = b.iter().map(|b| b.num_rows()).sum::<usize>();
        if run > 0 {
            kql_times.push(kql);
            sql_times.push(sql);
        }
    }
    assert_eq!(kql_rows, sql_rows, "KQL and hand-written SQL disagree");
    let (k, s) = (median(kql_times), median(sql_times));
    println!("rows in store:        {rows} (30 days; the query reads the last day)");
    println!("result rows:          {kql_rows}");
    println!(
        "KQL (compile + run):  {:.1} ms median of {runs}",
        k.as_secs_f64() * 1e3
    );
    println!(
        "hand-written SQL:     {:.1} ms median of {runs}",
        s.as_secs_f64() * 1e3
    );
    println!(
        "ratio KQL / SQL:      {:.2} (target <= 1.2; KQL target <= 1000 ms)",
        k.as_secs_f64() / s.as_secs_f64()
    );
}
