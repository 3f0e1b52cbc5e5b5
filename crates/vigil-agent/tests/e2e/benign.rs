//! A benign administrator's and developer's workload on the monitored host must not raise a
//! high-severity alert: building a Rust crate, dpkg and apt operations (building, installing and
//! removing a package with maintainer scripts), git, ssh to localhost, and editing a crontab
//! with `crontab -e`. Lower-severity alerts are printed (they are the triage noise an analyst
//! would see).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{now_ms, serial, sh, stack, wait_until, Stack};

fn build_a_rust_crate(dir: &Path) {
    sh(&format!(
        "cd {d} && cargo new --vcs none --quiet hello && cd hello && \
         printf 'fn main() {{ println!(\"hello\"); }}\\n' > src/main.rs && \
         CARGO_TARGET_DIR={d}/target cargo build --quiet --offline && \
         {d}/target/debug/hello",
        d = dir.display()
    ));
}

fn dpkg_and_apt(dir: &Path) {
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(pkg.join("usr/share/doc/vigil-e2e-benign")).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: vigil-e2e-benign\nVersion: 1.0\nArchitecture: all\n\
         Maintainer: Vigil tests <tests@example.invalid>\nDescription: benign test package\n",
    )
    .unwrap();
    for (script, body) in [
        (
            "postinst",
            "#!/bin/sh\nset -e\nmkdir -p /var/lib/vigil-e2e-benign\n",
        ),
        (
            "postrm",
            "#!/bin/sh\nset -e\nrm -rf /var/lib/vigil-e2e-benign\n",
        ),
    ] {
        let p = pkg.join("DEBIAN").join(script);
        std::fs::write(&p, body).unwrap();
        sh(&format!("chmod 0755 {}", p.display()));
    }
    std::fs::write(
        pkg.join("usr/share/doc/vigil-e2e-benign/README"),
        "nothing to see\n",
    )
    .unwrap();
    sh(&format!(
        "cd {d} && dpkg-deb --build pkg vigil-e2e-benign.deb >/dev/null && \
         dpkg -i vigil-e2e-benign.deb >/dev/null && dpkg -s vigil-e2e-benign >/dev/null && \
         dpkg -L vigil-e2e-benign >/dev/null && dpkg -r vigil-e2e-benign >/dev/null && \
         dpkg -l >/dev/null && apt-cache policy coreutils >/dev/null && \
         apt-cache depends bash >/dev/null && apt list --installed 2>/dev/null | head -5 >/dev/null",
        d = dir.display()
    ));
}

fn git(dir: &Path) {
    sh(&format!(
        "cd {d} && git init --quiet repo && cd repo && \
         git config user.email dev@example.invalid && git config user.name Dev && \
         echo '# notes' > README.md && git add README.md && git commit --quiet -m first && \
         echo more >> README.md && git commit --quiet -am second && git log --oneline >/dev/null && \
         git status --short && git branch feature && git checkout --quiet feature && \
         cd .. && git clone --quiet repo clone && cd clone && git log -1 >/dev/null",
        d = dir.display()
    ));
}

/// A scratch home directory, removed at the end of the test.
struct Home(PathBuf);

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An sshd of our own on a free loopback port (host key and authorized key in `dir`), and
/// a key-based login as root running a few commands.
fn ssh_to_localhost(dir: &Path) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir.display();
    sh(&format!(
        "mkdir -p /run/sshd && cd {d} && \
         ssh-keygen -q -t ed25519 -N '' -f host_key && ssh-keygen -q -t ed25519 -N '' -f .ssh/id_ed25519 && \
         cp .ssh/id_ed25519.pub authorized_keys && chmod 600 authorized_keys"
    ));
    std::fs::write(
        dir.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nPidFile {d}/sshd.pid\n"
        ),
    )
    .unwrap();
    let mut sshd = std::process::Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
        .spawn()
        .expect("start sshd");
    wait_until("sshd to listen", 20, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let out = std::process::Command::new("ssh")
        .args([
            "-i",
            &format!("{d}/.ssh/id_ed25519"),
            "-p",
            &port.to_string(),
        ])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
        ])
        .args(["root@127.0.0.1", "uname -a; id; uptime; df -h / | tail -1"])
        .output()
        .expect("run ssh");
    let _ = sshd.kill();
    let _ = sshd.wait();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("uid=0"),
        "ssh to localhost failed: {}\nsshd: {}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
    );
}

/// `crontab -e` with an editor that appends a nightly backup job (for `nobody`, so that the
/// host's own crontab is untouched).
fn crontab_edit(dir: &Path) {
    let editor = dir.join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsleep 1\necho '30 2 * * * /usr/bin/find /var/tmp -mtime +7 -delete' >> \"$1\"\n",
    )
    .unwrap();
    sh(&format!("chmod 0755 {}", editor.display()));
    sh(&format!(
        "EDITOR={} VISUAL={} crontab -u nobody -e 2>/dev/null && crontab -u nobody -l | grep -q find",
        editor.display(),
        editor.display()
    ));
}

/// Wait until the store holds the row of a marker command run after the workload, then a
/// little longer for detection (which follows the store) to finish.
fn settle(s: &Stack, marker: &str) {
    sh(&format!("echo {marker} >/dev/null; /bin/true {marker}"));
    wait_until("the workload's last event to be stored", 60, || {
        s.sql_count(&format!(
            "SELECT count(*) AS n FROM DeviceProcessEvents WHERE ProcessCommandLine LIKE '%{marker}%'"
        )) > 0
    });
    std::thread::sleep(Duration::from_secs(2));
}

#[test]
fn a_benign_admin_and_developer_workload_raises_no_high_severity_alert() {
    let _g = serial();
    let Some(s) = stack() else { return };
    // The work happens where a developer's work does: in a home directory (keys in ~/.ssh),
    // not under /tmp.
    let home = Home(PathBuf::from(format!(
        "/home/vigil-e2e-{}",
        std::process::id()
    )));
    let dir = home.0.clone();
    std::fs::create_dir_all(dir.join(".ssh")).unwrap();
    let since = now_ms();
    build_a_rust_crate(&dir);
    dpkg_and_apt(&dir);
    git(&dir);
    ssh_to_localhost(&dir);
    crontab_edit(&dir);
    settle(s, &format!("vigil-e2e-benign-done-{}", std::process::id()));
    let alerts = s.alerts_since(since);
    let _ = std::process::Command::new("crontab")
        .args(["-u", "nobody", "-r"])
        .status();
    for a in &alerts {
        println!(
            "benign workload alert: {} {} {} hits={}",
            a["Severity"], a["Title"], a["AttackTechniques"], a["Hits"]
        );
    }
    let high: Vec<String> = alerts
        .iter()
        .filter(|a| a["Severity"] == "High")
        .map(|a| format!("{} {}", a["Title"], a["Evidence"]))
        .collect();
    assert!(
        high.is_empty(),
        "the benign workload raised high-severity alerts: {high:#?}"
    );
}
