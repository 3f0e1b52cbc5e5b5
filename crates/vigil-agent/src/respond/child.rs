//! Child processes of response actions: programs the agent runs (`nft`, `dpkg-query`,
//! `bpftool`, `journalctl`, `systemctl`) and library scripts (`live.run`), each with a time
//! limit and bounded output.
//!
//! **Invariant:** a child runs in its own process group, and when its time is up the whole
//! group is killed (SIGKILL), so that nothing it started outlives the action. Output beyond
//! the bound is read and counted, never kept, so a chatty child can neither block on a full
//! pipe nor grow the agent's memory.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a child did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes written beyond the bound (read and dropped).
    pub stdout_dropped: u64,
    pub stderr_dropped: u64,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// A short description of a failure: exit status and the start of stderr.
    pub fn failure(&self) -> String {
        let status = if self.timed_out {
            format!("timed out after {} s", self.elapsed.as_secs())
        } else if let Some(c) = self.code {
            format!("exit code {c}")
        } else {
            format!("killed by signal {}", self.signal.unwrap_or(0))
        };
        let err = String::from_utf8_lossy(&self.stderr);
        let err = err.trim();
        if err.is_empty() {
            status
        } else {
            let cut: String = err.chars().take(400).collect();
            format!("{status}: {cut}")
        }
    }
}

/// Options of one run.
pub struct Run<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub stdin: Option<&'a [u8]>,
    pub timeout: Duration,
    /// Bytes kept of stdout and of stderr, each.
    pub max_output: usize,
    pub cwd: Option<&'a Path>,
}

/// Find a program in the usual system directories (the agent may run with a thin `PATH`).
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    [
        "/usr/sbin",
        "/sbin",
        "/usr/bin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ]
    .iter()
    .map(|d| Path::new(d).join(name))
    .find(|p| p.is_file())
}

/// Run a system program by name with a time limit; its stdout when it succeeds.
pub fn program(
    name: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let path = find_program(name).ok_or_else(|| format!("{name} is not installed"))?;
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = run(&Run {
        program: &path,
        args: &args,
        stdin,
        timeout,
        max_output: 64 << 20,
        cwd: None,
    })
    .map_err(|e| format!("cannot run {name}: {e}"))?;
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(format!("{name} {}: {}", args.join(" "), out.failure()))
    }
}

/// Run a child, capturing bounded output, killing its process group at the deadline.
pub fn run(r: &Run<'_>) -> std::io::Result<Outcome> {
    let started = Instant::now();
    let mut cmd = Command::new(r.program);
    cmd.args(r.args)
        .stdin(if r.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .env("LC_ALL", "C");
    if let Some(d) = r.cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn()?;
    let pgid = child.id() as libc::pid_t;
    if let (Some(data), Some(mut pipe)) = (r.stdin, child.stdin.take()) {
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let max = r.max_output;
    let out = child.stdout.take().map(|p| reader(p, max));
    let err = child.stderr.take().map(|p| reader(p, max));
    let deadline = started + r.timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            // SAFETY: kill(2) of the child's own process group (negative pgid).
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The group may still hold the pipes (a background grandchild): end it too, so that the
    // readers see end of file.
    // SAFETY: as above; the group id is the child's pid, which stays reserved while any
    // member lives, so no unrelated group is hit.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let (stdout, stdout_dropped) = out
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    let (stderr, stderr_dropped) = err
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    Ok(Outcome {
        code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        stdout_dropped,
        stderr_dropped,
        timed_out,
        elapsed: started.elapsed(),
    })
}

fn reader(
    mut pipe: impl Read + Send + 'static,
    max: usize,
) -> std::thread::JoinHandle<(Vec<u8>, u64)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut dropped = 0u64;
        let mut buf = [0u8; 16 << 10];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = max.saturating_sub(kept.len()).min(n);
                    kept.extend_from_slice(&buf[..room]);
                    dropped += (n - room) as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        (kept, dropped)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration, max: usize) -> Outcome {
        let args = vec!["-c".to_string(), script.to_string()];
        run(&Run {
            program: Path::new("/bin/sh"),
            args: &args,
            stdin: None,
            timeout,
            max_output: max,
            cwd: None,
        })
        .unwrap()
    }

    #[test]
    fn output_is_bounded_and_counted() {
        let o = sh(
            "head -c 100000 /dev/zero; echo oops >&2; exit 3",
            Duration::from_secs(10),
            1000,
        );
        assert_eq!(o.code, Some(3));
        assert_eq!(o.stdout.len(), 1000);
        assert_eq!(o.stdout_dropped, 99_000);
        assert_eq!(o.stderr, b"oops\n");
        assert!(!o.success());
        assert_eq!(o.failure(), "exit code 3: oops");
    }

    #[test]
    fn the_whole_group_is_killed_at_the_deadline() {
        let started = Instant::now();
        // A background grandchild holding stdout would keep the pipe open forever.
        let o = sh(
            "sleep 30 & echo started; sleep 30",
            Duration::from_millis(500),
            1000,
        );
        assert!(o.timed_out);
        assert_eq!(o.stdout, b"started\n");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(o.failure().starts_with("timed out"), "{}", o.failure());
    }

    #[test]
    fn programs_are_found_and_failures_named() {
        assert!(
            program("sh", &["-c", "echo hi"], None, Duration::from_secs(5))
                .is_ok_and(|o| o == b"hi\n")
        );
        let e = program("no-such-program-vigil", &[], None, Duration::from_secs(1)).unwrap_err();
        assert!(e.contains("not installed"), "{e}");
        let e = program("sh", &["-c", "exit 4"], None, Duration::from_secs(5)).unwrap_err();
        assert!(e.contains("exit code 4"), "{e}");
        let o = program("cat", &[], Some(b"in"), Duration::from_secs(5)).unwrap();
        assert_eq!(o, b"in");
    }
}
