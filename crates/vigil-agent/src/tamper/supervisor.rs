//! The supervisor: with tamper protection on, `vigil-agent run` becomes a small watchdog that
//! runs the agent as its child (the same binary and arguments, `VIGIL_SUPERVISED=1`) and
//! starts it again at once when it dies, whatever killed it; the state directory is the
//! child's, so a restarted agent finds its state where it was.
//!
//! The supervisor loads only the `vg_signal` program of `guard.bpf.c`, protecting the agent
//! child: every signal sent to it by another process (the supervisor's own forwarding
//! excepted) is appended to `<state_dir>/tamper/attempts.jsonl` with the sender's pid, uid,
//! name and parent. The agent turns those lines into rows (it may be the one that was
//! killed, so it cannot record its own death).
//!
//! The supervisor stops (forwarding SIGTERM to the agent and waiting) on SIGINT or SIGTERM
//! from its parent, from pid 1 or from the kernel; from anyone else only in maintenance mode
//! (`<state_dir>/tamper/maintenance`). In maintenance mode it does not restart the agent.
//! A child that exits on its own less than 2 s after its start is restarted with a backoff
//! (up to 30 s), so a configuration error does not spin; a killed child is restarted at once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;
use vigil_schema::Timestamp;

use crate::tamper::kernel::{GuardKernel, GuardRecord};

/// The environment variable that marks the supervised child.
pub const SUPERVISED_ENV: &str = "VIGIL_SUPERVISED";

static STOP_FROM: AtomicI32 = AtomicI32::new(-1);
static STOP_SIG: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; reading si_pid is
    // async-signal-safe, and so are the atomic stores.
    let pid = unsafe { info.as_ref().map_or(0, |i| i.si_pid()) };
    STOP_FROM.store(pid, Ordering::SeqCst);
    STOP_SIG.store(sig, Ordering::SeqCst);
}

fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores into atomics.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Where the supervisor and the agent meet: `<state_dir>/tamper`.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("tamper")
}

pub fn maintenance_marker(state_dir: &Path) -> PathBuf {
    dir(state_dir).join("maintenance")
}

pub fn journal(state_dir: &Path) -> PathBuf {
    dir(state_dir).join("attempts.jsonl")
}

/// Append one line with a single write (O_APPEND makes it atomic against the other writer,
/// the guard thread or the main loop).
fn append(path: &Path, line: &serde_json::Value) {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    if let Ok(mut f) = f {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

/// Reap the children that were restarted before they were gone.
fn reap(dying: &mut Vec<u32>) {
    dying.retain(|&pid| {
        let mut st: libc::c_int = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        let rc = unsafe { libc::waitpid(pid as i32, &mut st, libc::WNOHANG) };
        rc == 0
    });
}

/// Run the agent under the watchdog until told to stop; returns the agent's last exit code.
pub fn run(state_dir: &Path) -> Result<i32> {
    std::fs::create_dir_all(dir(state_dir))
        .with_context(|| format!("cannot create {}", dir(state_dir).display()))?;
    install();
    let parent = std::os::unix::process::parent_id() as i32;
    let me = std::process::id();
    let child_pid = Arc::new(Mutex::new(0u32));
    let jpath = journal(state_dir);
    let watched = Arc::clone(&child_pid);
    // The pid that was just sent SIGKILL: restarted without waiting for the kernel to finish
    // tearing it down (closing its BPF links takes seconds), since it runs no more code.
    let sigkilled = Arc::new(AtomicU32::new(0));
    let seen_kill = Arc::clone(&sigkilled);
    let kernel = GuardKernel::start(
        &["vg_signal"],
        Vec::new(),
        Box::new(move |r| {
            let GuardRecord::Signal {
                sender,
                target,
                target_comm,
                sig,
                result,
                ..
            } = r
            else {
                return;
            };
            if target != *watched.lock().unwrap_or_else(|p| p.into_inner()) {
                return;
            }
            if sig == libc::SIGKILL && result == 0 {
                seen_kill.store(target, Ordering::SeqCst);
            }
            append(
                &jpath,
                &json!({
                    "at": Timestamp::now().to_string(), "kind": "signal", "signal": sig,
                    "result": result, "target_pid": target, "target_comm": target_comm,
                    "sender_pid": sender.pid, "sender_tid": sender.tid, "sender_uid": sender.uid,
                    "sender_comm": sender.comm, "sender_ppid": sender.ppid,
                    "sender_parent_comm": sender.parent_comm,
                }),
            );
        }),
    );
    let kernel = match kernel {
        Ok(k) => Some(k),
        Err(e) => {
            eprintln!("vigil-agent: supervisor: kill attempts will not be reported: {e}");
            None
        }
    };
    if let Some(k) = &kernel {
        let _ = k.maps.protect_pid(me);
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // The binary's own path (not /proc/self/exe), so the agent's process name is its own.
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let mut dying: Vec<u32> = Vec::new();
    let mut backoff = Duration::from_millis(250);
    let mut restarts = 0u64;
    loop {
        let started = Instant::now();
        let mut child = Command::new(&exe)
            .args(&args)
            .env(SUPERVISED_ENV, "1")
            .spawn()
            .context("cannot start the agent")?;
        let pid = child.id();
        *child_pid.lock().unwrap_or_else(|p| p.into_inner()) = pid;
        if let Some(k) = &kernel {
            let _ = k.maps.protect_pid(pid);
        }
        if restarts > 0 {
            eprintln!(
                "vigil-agent: supervisor: agent restarted as pid {pid} ({restarts} restarts)"
            );
        }
        let stopping = AtomicBool::new(false);
        let status = loop {
            let sig = STOP_SIG.swap(0, Ordering::SeqCst);
            if sig != 0 {
                let from = STOP_FROM.load(Ordering::SeqCst);
                let allowed = from == parent
                    || from == 0
                    || from == 1
                    || maintenance_marker(state_dir).exists();
                if allowed {
                    stopping.store(true, Ordering::SeqCst);
                    // SAFETY: kill(2) on our own child's pid.
                    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
                } else {
                    eprintln!("vigil-agent: supervisor: ignored signal {sig} from pid {from} (tamper protection)");
                }
            }
            let mut st: libc::c_int = 0;
            // SAFETY: waitpid on our own child with a valid status pointer.
            let rc = unsafe { libc::waitpid(pid as i32, &mut st, libc::WNOHANG) };
            if rc == pid as i32 {
                break Some(st);
            }
            if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                let _ = child.kill();
                break Some(0);
            }
            if !stopping.load(Ordering::SeqCst) && sigkilled.swap(0, Ordering::SeqCst) == pid {
                dying.push(pid);
                break None;
            }
            reap(&mut dying);
            std::thread::sleep(Duration::from_millis(2));
        };
        if let Some(k) = &kernel {
            k.maps.unprotect_pid(pid);
        }
        let (killed, signal, last_code) = match status {
            None => (true, libc::SIGKILL, 128 + libc::SIGKILL),
            Some(st) if libc::WIFSIGNALED(st) => {
                (true, libc::WTERMSIG(st), 128 + libc::WTERMSIG(st))
            }
            Some(st) => (false, 0, libc::WEXITSTATUS(st)),
        };
        if stopping.load(Ordering::SeqCst) {
            return Ok(last_code);
        }
        if maintenance_marker(state_dir).exists() {
            eprintln!(
                "vigil-agent: supervisor: the agent stopped in maintenance mode; not restarting"
            );
            return Ok(last_code);
        }
        restarts += 1;
        append(
            &journal(state_dir),
            &json!({
                "at": Timestamp::now().to_string(), "kind": "restart", "pid": pid,
                "exit_code": last_code, "killed_by_signal": killed.then_some(signal),
                "restarts": restarts,
            }),
        );
        if !killed && started.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(30));
        } else {
            backoff = Duration::from_millis(250);
        }
    }
}
