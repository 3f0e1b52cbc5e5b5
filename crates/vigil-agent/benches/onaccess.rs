//! What on-access scanning adds to an exec whose verdict is cached (issue 7: "exec-storm
//! overhead of on-access scanning, cached p99 ≤ 20 µs added"): `/usr/bin/true` spawned and
//! waited for, in many short interleaved rounds with the on-access guard off (no fanotify
//! group at all) and on (`FAN_OPEN_EXEC_PERM` on every filesystem, the team's YARA-X pack).
//! Each "on" round starts a fresh guard and execs a few times unmeasured: the first exec
//! is scanned, the second is a cache hit, after which the guard leaves an ignore mark on the
//! program and its loader and the kernel skips their permission events until they change
//! (`av::onaccess`); the counters printed at the end say what the measured execs cost the
//! guard.
//!
//! Against noise on a small, shared machine: the rounds alternate in ABBA order (off-on,
//! on-off) so that drift (page cache, CPU frequency, other load) falls on both sides alike;
//! many short rounds rather than a few long ones; besides the pooled percentiles of each
//! side, the median over rounds of each round's own on − off difference, which one noisy
//! round cannot move (the verdict: one burst of other load lands the pooled p99 on either
//! side, a median over 40 rounds it does not); and noise floors: the same statistics of
//! the baseline against itself (even rounds against odd ones, each round against the next:
//! A/A comparisons), which say how far apart two measurements of the *same* thing land in
//! this run. A difference smaller than its floor is not a result.
//!
//! By default the bench runs under `SCHED_FIFO` (priority 10), which the guard's threads
//! and every spawned child inherit, so that other work on the machine does not preempt
//! the measured execs on either side; `SCHED=normal` measures under the ordinary
//! scheduler (a busy machine's tail then swamps the difference).
//!
//! (The time until `spawn` returns is not used: the parent's wake-up after the child's
//! execve depends on when the scheduler gives it a CPU, and with the guard's thread
//! runnable that moved by up to a millisecond while the whole exec did not.)
//!
//! Run as root: `cargo bench -p vigil-agent --bench onaccess` (env `EXECS` per round and
//! side, default 250; `ROUNDS`, default 40). PASS when the median over rounds of the
//! added p99 is at most 20 µs.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_agent::av::{
    build_engine, AntivirusConfig, AvAction, Exclusions, OnAccess, OnAccessOptions, RowQueue,
};
use vigil_agent::protect::ladder;

/// The budget issue 7 sets for the cached p99 added per exec.
const BUDGET_US: f64 = 20.0;

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

/// The `p` quantile (0..=1) of `v` (sorted here), in µs.
fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
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
    let (execs, rounds) = (env("EXECS", 250).max(10), env("ROUNDS", 40).max(2));
    let sched = if std::env::var("SCHED").as_deref() == Ok("normal") {
        "normal scheduler".to_string()
    } else {
        let param = libc::sched_param { sched_priority: 10 };
        // SAFETY: sets this thread's policy from a valid sched_param that lives for the
        // call; threads and children created later inherit it.
        match unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } {
            0 => "SCHED_FIFO 10 (bench, guard threads and children)".to_string(),
            _ => format!(
                "normal scheduler (SCHED_FIFO refused: {})",
                std::io::Error::last_os_error()
            ),
        }
    };
    println!("scheduling: {sched}");
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
        let g = OnAccess::start(opts.clone(), Arc::clone(&engine), None, Arc::clone(&rows))
            .expect("start on-access scanning");
        run_execs(5, &mut Vec::new()); // scan once into the new guard's cache
        g
    };

    // Warm up both ways (page cache, the engine's first scan).
    drop(start());
    run_execs(100, &mut Vec::new());
    let (mut off, mut on) = (Vec::new(), Vec::new());
    // The baseline's even and odd rounds apart, for the noise floor.
    let (mut off_even, mut off_odd) = (Vec::new(), Vec::new());
    // Per round: the on - off difference of p50 and p99.
    let (mut d50, mut d99) = (Vec::new(), Vec::new());
    // Per round: the baseline's p99 (for the A/A floor of the per-round statistic).
    let mut off99_rounds = Vec::new();
    let (mut events, mut hits, mut scanned, mut skips) = (0u64, 0u64, 0u64, 0u64);
    let t0 = Instant::now();
    for round in 0..rounds {
        let (mut r_off, mut r_on) = (Vec::new(), Vec::new());
        for on_now in [round % 2 == 1, round % 2 == 0] {
            if on_now {
                let g = start();
                let before = g.counters();
                skips += before.kernel_skips;
                run_execs(execs, &mut r_on);
                let c = g.counters();
                events += c.events - before.events;
                hits += c.cache_hits - before.cache_hits;
                scanned += c.scanned - before.scanned;
            } else {
                // The same unmeasured execs as a guard's start, so both sides begin alike.
                run_execs(5, &mut Vec::new());
                run_execs(execs, &mut r_off);
            }
        }
        d50.push(pct(&mut r_on, 0.5) - pct(&mut r_off, 0.5));
        let r_off99 = pct(&mut r_off, 0.99);
        d99.push(pct(&mut r_on, 0.99) - r_off99);
        off99_rounds.push(r_off99);
        if round % 2 == 0 {
            off_even.extend_from_slice(&r_off);
        } else {
            off_odd.extend_from_slice(&r_off);
        }
        off.extend(r_off);
        on.extend(r_on);
    }
    let (off50, off99) = (pct(&mut off, 0.5), pct(&mut off, 0.99));
    let (on50, on99) = (pct(&mut on, 0.5), pct(&mut on, 0.99));
    let (add50, add99) = (on50 - off50, on99 - off99);
    let floor50 = (pct(&mut off_even, 0.5) - pct(&mut off_odd, 0.5)).abs();
    let floor99 = (pct(&mut off_even, 0.99) - pct(&mut off_odd, 0.99)).abs();
    println!(
        "exec storm, /usr/bin/true (spawn + wait): {rounds} interleaved rounds x {execs} execs per side, {} execs each way, {:.1} s",
        off.len(),
        t0.elapsed().as_secs_f64()
    );
    println!("  guard off (no group): p50 {off50:8.1} us   p99 {off99:8.1} us");
    println!("  guard on (cached)   : p50 {on50:8.1} us   p99 {on99:8.1} us");
    println!(
        "  added, pooled       : p50 {add50:8.1} us   p99 {add99:8.1} us   ratio on/off p50 {:.3}, p99 {:.3}",
        on50 / off50,
        on99 / off99
    );
    let (med50, med99) = (median(&mut d50), median(&mut d99));
    // A/A for the per-round statistic: the baseline of each round against the next one's.
    let mut aa99: Vec<f64> = off99_rounds
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| c[0] - c[1])
        .collect();
    let aa_floor99 = median(&mut aa99).abs();
    println!(
        "  added, median of the {rounds} rounds' own differences: p50 {med50:8.1} us   p99 {med99:8.1} us"
    );
    println!(
        "  noise floor (baseline against baseline): pooled even vs odd rounds p50 {floor50:8.1} us   p99 {floor99:8.1} us; median of round pairs p99 {aa_floor99:8.1} us"
    );
    println!(
        "  measured execs with the guard on: {events} permission events, {hits} cache hits, {scanned} scanned; files the kernel skipped after their warm-up execs (ignore marks): {skips}"
    );
    println!(
        "  pooled added p99 {add99:.1} us (one burst of other load moves it; see its floor above)"
    );
    println!(
        "  {}: cached p99 added {med99:.1} us (median over rounds), budget {BUDGET_US} us{}",
        if med99 <= BUDGET_US { "PASS" } else { "FAIL" },
        if aa_floor99 > BUDGET_US {
            format!("; the noise floor of this statistic ({aa_floor99:.1} us) is above the budget: rerun on an idle machine")
        } else {
            String::new()
        }
    );
    assert_eq!(rows.dropped(), 0);
}
