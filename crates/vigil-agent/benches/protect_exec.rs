//! What the exec guard adds to an exec whose verdict is cached: `/bin/true` spawned and
//! waited for, in alternating rounds with the guard armed (a blocking SHA-256 indicator that
//! matches nothing, so every exec is held for a verdict) and disarmed (no marks: the kernel
//! holds nothing). The first armed exec hashes the files; the rest are cache hits.
//!
//! Run as root: `cargo bench -p vigil-agent --bench protect_exec` (env `EXECS` per round,
//! default 1000; `ROUNDS`, default 6). Prints median and p99 per exec for both, the added
//! time, and the ratio.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_agent::protect::exec::{ExecGuard, ExecOptions, ExecPolicy};
use vigil_agent::protect::ladder;
use vigil_agent::protect::report::Reports;
use vigil_agent::protect::rules::HashSummary;
use vigil_intel::{Action, Indicator, IndicatorType, IntelSet};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run_execs(n: usize, out: &mut Vec<Duration>) {
    for _ in 0..n {
        let t = Instant::now();
        let ok = Command::new("/bin/true")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        out.push(t.elapsed());
        assert!(ok, "/bin/true failed");
    }
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: the exec guard needs root (fanotify permission events)");
        return;
    }
    let probe = ladder::probe_fanotify();
    if !probe.available {
        println!("skipped: {}", probe.detail);
        return;
    }
    let (execs, rounds) = (env("EXECS", 1000), env("ROUNDS", 6));
    let reports = Arc::new(Reports::default());
    let group = ladder::fanotify_group().expect("fanotify group");
    let guard = ExecGuard::start(
        group,
        ExecOptions {
            timeout: Duration::from_secs(3),
            max_bytes: 256 << 20,
            cache_entries: 65_536,
            workers: 2,
        },
        Arc::clone(&reports),
    )
    .expect("start the exec guard");
    let ind = Indicator::new(IndicatorType::Sha256, &"ab".repeat(32))
        .unwrap()
        .with_action(Action::Block);
    let set = Arc::new(IntelSet::new(vec![ind]));
    let armed = || ExecPolicy {
        set: Arc::clone(&set),
        hashes: HashSummary {
            sha256: 1,
            ..Default::default()
        },
    };

    // Warm up both ways (page cache, the digest cache).
    guard.set_policy(armed());
    run_execs(50, &mut Vec::new());
    guard.set_policy(ExecPolicy::default());
    run_execs(50, &mut Vec::new());

    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so drift hits both alike.
        for armed_now in [round % 2 == 0, round % 2 == 1] {
            if armed_now {
                guard.set_policy(armed());
                run_execs(execs, &mut on);
            } else {
                guard.set_policy(ExecPolicy::default());
                run_execs(execs, &mut off);
            }
        }
    }
    let c = guard.counters();
    drop(guard);
    let (off50, off99) = (pct(&mut off, 0.5), pct(&mut off, 0.99));
    let (on50, on99) = (pct(&mut on, 0.5), pct(&mut on, 0.99));
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "exec of a cached binary (/bin/true, spawn + wait), {} execs each way",
        off.len()
    );
    println!(
        "  guard off: median {:8.1} us   p99 {:8.1} us",
        us(off50),
        us(off99)
    );
    println!(
        "  guard on : median {:8.1} us   p99 {:8.1} us",
        us(on50),
        us(on99)
    );
    println!(
        "  added    : median {:8.1} us   p99 {:8.1} us   ratio on/off (median) {:.3}",
        us(on50) - us(off50),
        us(on99) - us(off99),
        on50.as_secs_f64() / off50.as_secs_f64()
    );
    println!(
        "  guard counters: {} events, {} cache hits, {} hashed, {} blocked, {} timeouts",
        c.events, c.cache_hits, c.hashed, c.blocked, c.timeouts
    );
    assert_eq!(reports.dropped(), 0);
}
