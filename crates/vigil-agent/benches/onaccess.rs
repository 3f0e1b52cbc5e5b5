//! What on-access scanning adds to an exec whose verdict is cached: `/usr/bin/true` spawned
//! and waited for, in alternating rounds with the on-access guard off (no group, no marks)
//! and on (`FAN_OPEN_EXEC_PERM` on every filesystem, the team's YARA-X pack; the first exec
//! of each file is scanned, the rest are cache hits).
//!
//! Run as root: `cargo bench -p vigil-agent --bench onaccess` (env `EXECS` per round,
//! default 1000; `ROUNDS`, default 6). Prints p50 and p99 per exec both ways, the added
//! time, the ratio, and the guard's counters.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_agent::av::{
    build_engine, AntivirusConfig, AvAction, Exclusions, OnAccess, OnAccessOptions, RowQueue,
};
use vigil_agent::protect::ladder;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run_execs(n: usize, out: &mut Vec<Duration>) {
    for _ in 0..n {
        let t = Instant::now();
        let ok = Command::new("/usr/bin/true")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        out.push(t.elapsed());
        assert!(ok, "/usr/bin/true failed");
    }
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: on-access scanning needs root (fanotify permission events)");
        return;
    }
    let probe = ladder::probe_fanotify();
    if !probe.available {
        println!("skipped: {}", probe.detail);
        return;
    }
    let (execs, rounds) = (env("EXECS", 1000), env("ROUNDS", 6));
    let built = Instant::now();
    let (engine, errors) = build_engine(&AntivirusConfig::default());
    assert!(errors.is_empty(), "{errors:?}");
    println!(
        "engine {} with {} rules built in {:?}",
        engine.version(),
        engine.rule_count(),
        built.elapsed()
    );
    let engine = Arc::new(engine);
    let rows = Arc::new(RowQueue::default());
    let opts = OnAccessOptions {
        action: AvAction::Block,
        protected: Vec::new(),
        exec: true,
        timeout: Duration::from_secs(5),
        fail_closed: false,
        max_bytes: 64 << 20,
        cache_entries: 65_536,
        workers: 2,
        max_marked_dirs: 0,
        exclusions: Exclusions::default(),
    };
    let start = || {
        OnAccess::start(opts.clone(), Arc::clone(&engine), None, Arc::clone(&rows))
            .expect("start on-access scanning")
    };

    // Warm up both ways (page cache, the verdict cache of a guard that stays up).
    let guard = start();
    run_execs(50, &mut Vec::new());
    let mut guard = Some(guard);
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so drift hits both alike.
        for on_now in [round % 2 == 0, round % 2 == 1] {
            if on_now {
                if guard.is_none() {
                    guard = Some(start());
                    run_execs(5, &mut Vec::new()); // scan once into the new cache
                }
                run_execs(execs, &mut on);
            } else {
                guard = None;
                run_execs(execs, &mut off);
            }
        }
    }
    let g = guard.unwrap_or_else(start);
    run_execs(5, &mut Vec::new());
    let c = g.counters();
    drop(g);
    let (off50, off99) = (pct(&mut off, 0.5), pct(&mut off, 0.99));
    let (on50, on99) = (pct(&mut on, 0.5), pct(&mut on, 0.99));
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "exec storm, /usr/bin/true (spawn + wait), {} execs each way",
        off.len()
    );
    println!(
        "  guard off: p50 {:8.1} us   p99 {:8.1} us",
        us(off50),
        us(off99)
    );
    println!(
        "  guard on : p50 {:8.1} us   p99 {:8.1} us",
        us(on50),
        us(on99)
    );
    println!(
        "  added    : p50 {:8.1} us   p99 {:8.1} us   ratio on/off p50 {:.3}, p99 {:.3}",
        us(on50) - us(off50),
        us(on99) - us(off99),
        on50.as_secs_f64() / off50.as_secs_f64(),
        on99.as_secs_f64() / off99.as_secs_f64()
    );
    println!(
        "  last guard: {} events, {} cache hits, {} scanned, {} detections, {} timeouts",
        c.events, c.cache_hits, c.scanned, c.detections, c.timeouts
    );
    assert_eq!(rows.dropped(), 0);
}
