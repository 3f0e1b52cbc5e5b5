//! Child processes that live exactly as long as the test process (shared by the test
//! binaries through `#[path]`).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Spawn `cmd` so that the kernel sends it SIGTERM when the test process ends, however it
/// ends. PR_SET_PDEATHSIG follows the spawning *thread*, so the spawn happens on a thread that
/// never ends.
pub fn spawn_tied(mut cmd: Command) -> std::io::Result<Child> {
    // SAFETY: prctl is async-signal-safe; it only asks for SIGTERM when the parent dies.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tx.send(cmd.spawn()).expect("report spawn");
        loop {
            std::thread::park();
        }
    });
    rx.recv().expect("spawner thread")
}
