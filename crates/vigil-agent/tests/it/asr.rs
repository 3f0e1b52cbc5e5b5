//! ASR rules through the real agent binary: each rule built kills in block mode and only
//! reports in audit mode. A web server spawning a shell is played by a copy of bash named
//! `nginx`; exec from a world-writable directory by a script in a 0777 directory; a ptrace
//! attach by python3 (not a debugger). The test binary's own process name is excluded, so
//! that the other tests of this binary (which ptrace from it) are never matched.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::{is_root, marker, s, temp_dir, Agent};

/// The two tests must not overlap: the block-mode agent would kill the audit test's attacks.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn start(name: &str, mode: &str) -> Option<Agent> {
    if !is_root() {
        println!("skipped: needs root to load the ASR programs");
        return None;
    }
    // The test process itself is excluded: other tests of this binary ptrace from it.
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    let cfg = format!(
        "[asr]\nworld_writable_exec = \"{mode}\"\nserver_shell = \"{mode}\"\nptrace = \"{mode}\"\nexclude_processes = [{:?}]\n",
        me.trim()
    );
    let agent = Agent::start(&format!("asr-{name}"), &cfg);
    let asr = agent.status()["asr"].clone();
    let rules: Vec<String> = asr["rules"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    if !rules
        .iter()
        .any(|r| r.contains("SIGKILL from a tracepoint"))
    {
        println!("skipped: the kernel ASR rules are not enforced here: {asr}");
        return None;
    }
    Some(agent)
}

fn asr_rows(agent: &Agent, rule: &str, action: &str) -> Vec<Value> {
    agent.wait_for(&format!("ASR {rule} {action}"), |r| {
        r["AdditionalFields"]["DetectionSource"] == "AttackSurfaceReduction"
            && r["AdditionalFields"]["RuleId"] == rule
            && r["AdditionalFields"]["Action"] == action
    })
}

/// Runs the three attacks; returns whether each one's marker was printed (it ran).
fn attacks(base: &Path) -> (bool, bool, bool) {
    // A shell spawned by a process named like a web server.
    let nginx = base.join("nginx");
    std::fs::copy("/bin/bash", &nginx).unwrap();
    let m1 = marker("server-shell");
    let out = Command::new(&nginx)
        .args(["-c", &format!("/bin/sh -c 'echo {m1}'; true")])
        .output()
        .unwrap();
    let shell_ran = String::from_utf8_lossy(&out.stdout).contains(&m1);

    // A program run from a world-writable directory (a binary: the rule looks at its
    // directory), and a script directly in /dev/shm (its name decides).
    let open = base.join("world");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = open.join("echo");
    std::fs::copy("/bin/echo", &bin).unwrap();
    let m2 = marker("ww-exec");
    let out = Command::new(&bin).arg(&m2).output();
    let bin_ran = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&m2));
    let script = Path::new("/dev/shm").join(marker("ww-script"));
    std::fs::write(&script, format!("#!/bin/sh\necho {m2}\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&script).output();
    let _ = std::fs::remove_file(&script);
    let script_ran = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&m2));
    assert_eq!(
        bin_ran, script_ran,
        "the binary and the script are treated alike"
    );
    let ww_ran = bin_ran;

    // ptrace attach by a process that is not a debugger.
    let mut victim = Command::new("sleep").arg("30").spawn().unwrap();
    let m3 = marker("ptrace");
    let code = format!(
        "import ctypes; l=ctypes.CDLL(None); l.ptrace(16, {}, 0, 0); print('{m3}')",
        victim.id()
    );
    let out = Command::new("python3")
        .args(["-c", &code])
        .stderr(Stdio::null())
        .output();
    let _ = victim.kill();
    let _ = victim.wait();
    let ptrace_ran = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&m3));
    (shell_ran, ww_ran, ptrace_ran)
}

#[test]
fn asr_rules_kill_in_block_mode() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(agent) = start("block", "block") else {
        return;
    };
    let (shell, ww, ptrace) = attacks(&temp_dir("asr-block"));
    assert!(!shell, "the web server's shell must not run");
    assert!(!ww, "the world-writable program must not run");
    assert!(
        !ptrace,
        "the non-debugger must not reach its print after ptrace"
    );
    for rule in ["server_shell", "world_writable_exec", "ptrace"] {
        let rows = asr_rows(&agent, rule, "Blocked");
        assert!(!s(&rows[0], "InitiatingProcessFileName").is_empty());
    }
    let rows = asr_rows(&agent, "server_shell", "Blocked");
    assert_eq!(s(&rows[0], "InitiatingProcessParentFileName"), "nginx");
}

#[test]
fn asr_rules_only_report_in_audit_mode() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(agent) = start("audit", "audit") else {
        return;
    };
    let (shell, ww, ptrace) = attacks(&temp_dir("asr-audit"));
    assert!(
        shell && ww && ptrace,
        "audit mode lets everything run: {shell} {ww} {ptrace}"
    );
    for rule in ["server_shell", "world_writable_exec", "ptrace"] {
        asr_rows(&agent, rule, "Audited");
    }
}

// ---------------------------------------------------------------------------------------
// The file, module, download and ransomware rules. Their watched paths point at a temp
// directory (the real /etc/shadow and /etc/ld.so.preload are never opened for writing).

/// The configuration of the six rules in `mode`, with paths under `base`.
fn file_rules_config(base: &Path, mode: &str) -> String {
    // The process's name and this test thread's (the kernel rules see the thread's).
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    let thread = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    let b = base.display();
    format!(
        "[asr]\n\
         preload_write = \"{mode}\"\nmodule_load = \"{mode}\"\ncredential_read = \"{mode}\"\n\
         persistence_write = \"{mode}\"\ndownloaded_exec = \"{mode}\"\nransomware = \"{mode}\"\n\
         exclude_processes = [{:?}, {:?}]\n\
         preload_paths = [\"{b}/ld.so.preload\", \"{b}/new.preload\"]\n\
         credential_paths = [\"{b}/shadow\"]\n\
         persistence_paths = [\"{b}/cron.d\", \"{b}/profile\"]\n\
         credential_allow = [\"/usr/bin/head\"]\npersistence_allow = [\"/usr/bin/tee\"]\n\
         package_managers = [\"mv\"]\n\
         ransomware_threshold = 30\nransomware_window_secs = 10\n",
        me.trim(),
        thread.trim()
    )
}

/// A short directory for the watched paths (the guard compares at most 63 bytes).
fn short_base(name: &str) -> std::path::PathBuf {
    let d = Path::new("/tmp").join(format!("vg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("cron.d")).unwrap();
    std::fs::create_dir_all(d.join("dl")).unwrap();
    std::fs::create_dir_all(d.join("victim")).unwrap();
    std::fs::write(d.join("ld.so.preload"), "").unwrap();
    std::fs::write(d.join("shadow"), "root:SECRET-HASH:19000::::::\n").unwrap();
    std::fs::write(d.join("profile"), "# profile\n").unwrap();
    d
}

fn start_file_rules(name: &str, base: &Path, mode: &str) -> Option<Agent> {
    if !is_root() {
        println!("skipped: needs root to load the ASR programs and fanotify marks");
        return None;
    }
    let agent = Agent::start(&format!("asr-{name}"), &file_rules_config(base, mode));
    let asr = agent.status()["asr"].clone();
    let text = asr.to_string();
    if !text.contains("fanotify FAN_OPEN_PERM denial") || text.contains("not enforced") {
        println!("skipped: the ASR file rules are not enforced here: {asr}");
        return None;
    }
    Some(agent)
}

fn python(code: &str) -> std::process::Output {
    Command::new("python3").args(["-c", code]).output().unwrap()
}

fn killed(o: &std::process::Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    o.status.signal() == Some(libc::SIGKILL)
}

/// What each attack achieved.
#[derive(Debug)]
struct Outcome {
    preload_written: bool,
    preload_rename_killed: bool,
    shadow_read: bool,
    profile_written: bool,
    cron_job_written: bool,
    module_call_killed: bool,
    download_ran: bool,
    renamed: usize,
    ransomware_killed: bool,
    rewritten: usize,
    rewrite_killed: bool,
}

fn file_attacks(base: &Path) -> Outcome {
    let b = base.display();
    // preload_write: append to an existing preload file; rename a file onto a missing one.
    let o = python(&format!("open('{b}/ld.so.preload','a').write('/x.so')"));
    let preload_written = o.status.success()
        && std::fs::read_to_string(base.join("ld.so.preload")).unwrap() == "/x.so";
    std::fs::write(base.join("evil.so.list"), "/tmp/evil.so\n").unwrap();
    let o = python(&format!(
        "import os; os.rename('{b}/evil.so.list','{b}/new.preload')"
    ));
    let preload_rename_killed = killed(&o);

    // credential_read: cat the shadow file.
    let o = Command::new("cat")
        .arg(base.join("shadow"))
        .output()
        .unwrap();
    let shadow_read = String::from_utf8_lossy(&o.stdout).contains("SECRET-HASH");

    // persistence_write: a profile line and a new cron job, by a shell.
    let _ = Command::new("sh")
        .args(["-c", &format!("echo evil >> {b}/profile")])
        .stderr(Stdio::null())
        .status();
    let profile_written = std::fs::read_to_string(base.join("profile"))
        .unwrap()
        .contains("evil");
    let _ = Command::new("sh")
        .args(["-c", &format!("echo '* * * * * root id' > {b}/cron.d/job")])
        .stderr(Stdio::null())
        .status();
    let cron_job_written = std::fs::read_to_string(base.join("cron.d/job"))
        .unwrap_or_default()
        .contains("root id");

    // module_load: finit_module(2) of a file that no package owns (not even a module).
    std::fs::write(base.join("fake.ko"), b"not an ELF module").unwrap();
    let o = python(&format!(
        "import ctypes,os; l=ctypes.CDLL(None,use_errno=True); fd=os.open('{b}/fake.ko',os.O_RDONLY); \
         r=l.syscall(313,fd,b'',0); print('finit_module', r, os.strerror(ctypes.get_errno()))"
    ));
    let module_call_killed = killed(&o);
    if !module_call_killed {
        println!(
            "finit_module by python3 returned: {}",
            String::from_utf8_lossy(&o.stdout).trim()
        );
    }

    // downloaded_exec: a "curl" (a copy of cp) writes a program, which is then run.
    std::fs::copy("/bin/cp", base.join("curl")).unwrap();
    let st = Command::new(base.join("curl"))
        .arg("/bin/echo")
        .arg(base.join("dl/tool"))
        .status()
        .unwrap();
    assert!(st.success(), "the downloader copies");
    let m = marker("downloaded");
    let o = Command::new(base.join("dl/tool")).arg(&m).output();
    let download_ran = o.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&m));
    // The same program written by another process runs whatever the mode.
    std::fs::copy("/bin/echo", base.join("dl/tool2")).unwrap();
    let o = Command::new(base.join("dl/tool2"))
        .arg(&m)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&m),
        "a program not written by a downloader runs"
    );

    // ransomware: one process renames 100 files to *.locked; another rewrites 100 existing
    // files in place. Creating 100 new files (the first loop) is not counted.
    let victim = base.join("victim");
    let o = python(&format!(
        "import os\nd='{}'\nfor i in range(100): open(f'{{d}}/f{{i}}.txt','w').write('data')\n\
         for i in range(100): os.rename(f'{{d}}/f{{i}}.txt', f'{{d}}/f{{i}}.txt.locked')",
        victim.display()
    ));
    let ransomware_killed = killed(&o);
    let renamed = std::fs::read_dir(&victim)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".locked"))
        .count();
    let inplace = base.join("inplace");
    std::fs::create_dir_all(&inplace).unwrap();
    for i in 0..100 {
        std::fs::write(inplace.join(format!("doc{i}")), "plain text").unwrap();
    }
    let o = python(&format!(
        "d='{}'\nfor i in range(100):\n  f=open(f'{{d}}/doc{{i}}','r+')\n  f.write('ENCRYPTED!')\n  f.close()",
        inplace.display()
    ));
    let rewrite_killed = killed(&o);
    let rewritten = (0..100)
        .filter(|i| {
            std::fs::read_to_string(inplace.join(format!("doc{i}")))
                .unwrap()
                .starts_with("ENCRYPTED")
        })
        .count();
    Outcome {
        preload_written,
        preload_rename_killed,
        shadow_read,
        profile_written,
        cron_job_written,
        module_call_killed,
        download_ran,
        renamed,
        ransomware_killed,
        rewritten,
        rewrite_killed,
    }
}

const FILE_RULES: [&str; 6] = [
    "preload_write",
    "module_load",
    "credential_read",
    "persistence_write",
    "downloaded_exec",
    "ransomware",
];

#[test]
fn asr_file_rules_refuse_or_kill_in_block_mode_and_spare_allowed_processes() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let base = short_base("block");
    let Some(agent) = start_file_rules("files-block", &base, "block") else {
        return;
    };
    let o = file_attacks(&base);
    println!("{o:?}");
    assert!(
        !o.preload_written,
        "the preload file must not open for writing"
    );
    assert!(
        o.preload_rename_killed,
        "renaming onto the preload path kills"
    );
    assert!(!o.shadow_read, "cat must not read the credential file");
    assert!(
        !o.profile_written,
        "the shell must not append to the profile"
    );
    assert!(!o.cron_job_written, "the shell must not write a cron job");
    assert!(
        o.module_call_killed,
        "finit_module of an unpackaged file kills"
    );
    assert!(!o.download_ran, "the downloaded program must not run");
    assert!(o.ransomware_killed, "mass renaming kills the process");
    assert!(
        o.rewrite_killed,
        "mass rewriting in place kills the process"
    );
    // Creating the 100 files did not count; the kill comes at the 31st change, whose call
    // itself still runs.
    for (what, n) in [("renamed", o.renamed), ("rewritten", o.rewritten)] {
        assert!((30..=31).contains(&n), "{n} files {what} before the kill");
    }
    for rule in FILE_RULES {
        let rows = asr_rows(&agent, rule, "Blocked");
        assert!(
            s(&rows[0], "ActionType").starts_with("Asr")
                && s(&rows[0], "ActionType").ends_with("Blocked"),
            "{}",
            rows[0]
        );
    }
    let rows = asr_rows(&agent, "downloaded_exec", "Blocked");
    assert_eq!(rows[0]["AdditionalFields"]["WriterProcessName"], "curl");
    // Another agent in this test binary may hash the file after it is written and be refused
    // too; the row that counts is cat's.
    agent.wait_for("ASR credential_read Blocked for cat", |r| {
        r["AdditionalFields"]["RuleId"] == "credential_read"
            && r["AdditionalFields"]["Action"] == "Blocked"
            && s(r, "InitiatingProcessFileName") == "cat"
    });

    // A name alone does not make a program trusted: copies of cat and bash named like a
    // credential reader and a package manager, in a directory others may write (/tmp),
    // are refused.
    let b = base.display();
    std::fs::copy("/bin/cat", base.join("unix_chkpwd")).unwrap();
    let out = Command::new(base.join("unix_chkpwd"))
        .arg(base.join("shadow"))
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("SECRET-HASH"),
        "a copy named unix_chkpwd must not read the credential file"
    );
    std::fs::copy("/bin/bash", base.join("dpkg")).unwrap();
    let _ = Command::new(base.join("dpkg"))
        .args(["-c", &format!("echo copied >> {b}/profile")])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        !std::fs::read_to_string(base.join("profile"))
            .unwrap()
            .contains("copied"),
        "a copy named dpkg must not write the profile"
    );
    agent.wait_for(
        "ASR credential_read Blocked for the copied unix_chkpwd",
        |r| {
            r["AdditionalFields"]["RuleId"] == "credential_read"
                && s(r, "InitiatingProcessFileName") == "unix_chkpwd"
                && r["AdditionalFields"]["ProgramTrusted"] == false
        },
    );
    // ransomware: the system's mv, made a package manager by the configuration, moves 60
    // files uncounted; a copy of it named dpkg in /tmp is counted and killed.
    let mass_move = |mover: &Path, name: &str| {
        let from = base.join(format!("{name}-from"));
        let to = base.join(format!("{name}-to"));
        std::fs::create_dir_all(&from).unwrap();
        std::fs::create_dir_all(&to).unwrap();
        let files: Vec<_> = (0..60)
            .map(|i| {
                let p = from.join(format!("m{i}"));
                std::fs::write(&p, "x").unwrap();
                p
            })
            .collect();
        let o = Command::new(mover).args(&files).arg(&to).output().unwrap();
        (killed(&o), std::fs::read_dir(&to).unwrap().count())
    };
    assert_eq!(mass_move(Path::new("/usr/bin/mv"), "mv"), (false, 60));
    std::fs::copy("/usr/bin/mv", base.join("dpkg")).unwrap();
    let (copy_killed, moved) = mass_move(&base.join("dpkg"), "copy");
    assert!(
        copy_killed && moved < 60,
        "a copy named dpkg is counted: {moved} moved"
    );

    // Trusted programs listed by exact path (the configuration's `credential_allow` and
    // `persistence_allow`) pass: the system's own head and tee.
    let out = Command::new("/usr/bin/head")
        .arg(base.join("shadow"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("SECRET-HASH"),
        "/usr/bin/head is allowed by path"
    );
    let mut tee = Command::new("/usr/bin/tee")
        .args(["-a", &format!("{b}/profile")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut tee.stdin.take().unwrap(), b"administered\n").unwrap();
    assert!(tee.wait().unwrap().success());
    assert!(std::fs::read_to_string(base.join("profile"))
        .unwrap()
        .contains("administered"));

    // An excluded process (this test's) passes every rule and is never reported.
    std::fs::OpenOptions::new()
        .append(true)
        .open(base.join("ld.so.preload"))
        .expect("the excluded process opens the preload file for writing");
    assert!(std::fs::read_to_string(base.join("shadow")).is_ok());
    let excluded = base.join("excluded");
    std::fs::create_dir(&excluded).unwrap();
    for i in 0..60 {
        let p = excluded.join(format!("e{i}"));
        std::fs::write(&p, "x").unwrap();
        std::fs::rename(&p, excluded.join(format!("e{i}.locked"))).unwrap();
    }
    let fd = std::fs::File::open(base.join("fake.ko")).unwrap();
    // SAFETY: finit_module with a valid descriptor and an empty NUL-terminated argument.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_finit_module,
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            c"".as_ptr(),
            0,
        )
    };
    assert_eq!(
        rc, -1,
        "not a module: the kernel refuses it, and this process lives"
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    let me = std::process::id() as i64;
    assert!(
        !agent.rows().iter().any(|r| {
            r["AdditionalFields"]["DetectionSource"] == "AttackSurfaceReduction"
                && r["InitiatingProcessId"].as_i64() == Some(me)
        }),
        "the excluded process is never reported"
    );
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn asr_file_rules_only_report_in_audit_mode() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let base = short_base("audit");
    let Some(agent) = start_file_rules("files-audit", &base, "audit") else {
        return;
    };
    let o = file_attacks(&base);
    println!("{o:?}");
    assert!(o.preload_written && !o.preload_rename_killed, "{o:?}");
    assert!(
        o.shadow_read && o.profile_written && o.cron_job_written,
        "{o:?}"
    );
    assert!(!o.module_call_killed && o.download_ran, "{o:?}");
    assert!(!o.ransomware_killed && o.renamed == 100, "{o:?}");
    assert!(!o.rewrite_killed && o.rewritten == 100, "{o:?}");
    for rule in FILE_RULES {
        let rows = asr_rows(&agent, rule, "Audited");
        assert!(
            s(&rows[0], "ActionType").ends_with("Audited"),
            "{}",
            rows[0]
        );
    }
    let rows = asr_rows(&agent, "ransomware", "Audited");
    assert!(rows[0]["AdditionalFields"]["FilesChanged"].as_i64() > Some(30));
    let _ = std::fs::remove_dir_all(&base);
}

// ---------------------------------------------------------------------------------------
// downloaded_exec for scripts: curl (the real one, from a file:// URL) writes a `#!/bin/sh`
// script and a Python program; running them through their `#!` line, `sh FILE` or
// `python3 FILE` is killed before a line runs in block mode and reported in audit mode.

fn start_rules(name: &str, config: &str) -> Option<Agent> {
    if !is_root() {
        println!("skipped: needs root to load the ASR programs");
        return None;
    }
    if !Path::new("/usr/bin/curl").exists() {
        println!("skipped: no /usr/bin/curl");
        return None;
    }
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    let thread = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    let cfg = format!(
        "[asr]\n{config}exclude_processes = [{:?}, {:?}]\n",
        me.trim(),
        thread.trim()
    );
    let agent = Agent::start(&format!("asr-{name}"), &cfg);
    let text = agent.status()["asr"].to_string();
    if !text.contains("SIGKILL from a tracepoint") || text.contains("not enforced") {
        println!("skipped: the kernel ASR rules are not enforced here: {text}");
        return None;
    }
    Some(agent)
}

/// Whether each way of running a downloaded script printed its marker, and whether the
/// script the user wrote ran both ways.
#[derive(Debug)]
struct ScriptOutcome {
    shebang_ran: bool,
    shebang_killed: bool,
    sh_ran: bool,
    sh_killed: bool,
    python_ran: bool,
    own_ran: bool,
}

fn script_attacks(base: &Path, m: &str) -> ScriptOutcome {
    let src = base.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(base.join("dl")).unwrap();
    std::fs::write(src.join("get.sh"), format!("#!/bin/sh\necho {m}\n")).unwrap();
    std::fs::write(src.join("get.py"), format!("print('{m}')\n")).unwrap();
    for f in ["get.sh", "get.py"] {
        let st = Command::new("/usr/bin/curl")
            .args(["-sS", "-o"])
            .arg(base.join("dl").join(f))
            .arg(format!("file://{}", src.join(f).display()))
            .status()
            .unwrap();
        assert!(st.success(), "curl downloads {f}");
    }
    let script = base.join("dl/get.sh");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ran = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).contains(m);
    let o = Command::new(&script).output().unwrap();
    let (shebang_ran, shebang_killed) = (ran(&o), killed(&o));
    let o = Command::new("sh").arg(&script).output().unwrap();
    let (sh_ran, sh_killed) = (ran(&o), killed(&o));
    let o = Command::new("python3")
        .arg(base.join("dl/get.py"))
        .output()
        .unwrap();
    let python_ran = ran(&o);
    // The same script written by the user with `cat >` runs both ways.
    let own = base.join("own.sh");
    let mut cat = Command::new("sh")
        .args(["-c", &format!("cat > {}", own.display())])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut cat.stdin.take().unwrap(),
        format!("#!/bin/sh\necho {m}\n").as_bytes(),
    )
    .unwrap();
    assert!(cat.wait().unwrap().success());
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
    let direct = Command::new(&own).output().unwrap();
    let through_sh = Command::new("sh").arg(&own).output().unwrap();
    ScriptOutcome {
        shebang_ran,
        shebang_killed,
        sh_ran,
        sh_killed,
        python_ran,
        own_ran: ran(&direct) && ran(&through_sh),
    }
}

#[test]
fn asr_downloaded_scripts_are_killed_in_block_mode_and_reported_in_audit_mode() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for mode in ["block", "audit"] {
        let base = short_base(&format!("scripts-{mode}"));
        let Some(agent) = start_rules(
            &format!("scripts-{mode}"),
            &format!("downloaded_exec = \"{mode}\"\n"),
        ) else {
            return;
        };
        let m = marker("downloaded-script");
        let o = script_attacks(&base, &m);
        println!("{mode}: {o:?}");
        assert!(o.own_ran, "a script the user wrote runs ({mode}): {o:?}");
        if mode == "block" {
            assert!(!o.shebang_ran && o.shebang_killed, "{o:?}");
            assert!(!o.sh_ran && o.sh_killed, "{o:?}");
            assert!(!o.python_ran, "{o:?}");
        } else {
            assert!(o.shebang_ran && o.sh_ran && o.python_ran, "{o:?}");
        }
        let action = if mode == "block" {
            "Blocked"
        } else {
            "Audited"
        };
        let rows = agent.wait_for(&format!("three script reads {action}"), |r| {
            r["AdditionalFields"]["RuleId"] == "downloaded_exec"
                && r["AdditionalFields"]["Action"] == action
                && r["AdditionalFields"]["Operation"] == "InterpreterRead"
        });
        for name in ["get.sh", "get.py"] {
            let row = agent.wait_for(&format!("{name} {action}"), |r| {
                r["AdditionalFields"]["RuleId"] == "downloaded_exec"
                    && r["AdditionalFields"]["Action"] == action
                    && s(r, "FileName") == name
            });
            assert_eq!(row[0]["AdditionalFields"]["WriterProcessName"], "curl");
        }
        assert!(
            !rows.iter().any(|r| s(r, "FileName") == "own.sh"),
            "the user's script is never reported"
        );
        drop(agent);
        let _ = std::fs::remove_dir_all(&base);
    }
}

// ---------------------------------------------------------------------------------------
// ransomware_entropy: rewriting 100 files with random bytes is killed; rewriting them with
// text, in place or through `sed -i` (a new file renamed onto each), is not.

fn write_docs(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let line = "The quick brown fox jumps over the lazy dog; plain text in a document.\n";
    for i in 0..n {
        std::fs::write(dir.join(format!("doc{i}.txt")), line.repeat(60)).unwrap();
    }
}

#[test]
fn asr_ransomware_entropy_kills_encryption_and_spares_text_rewrites() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let base = short_base("entropy");
    let Some(agent) = start_rules(
        "entropy",
        "ransomware = \"block\"\nransomware_entropy = true\nransomware_threshold = 30\nransomware_window_secs = 10\n",
    ) else {
        return;
    };
    // Text rewritten in place, 4 KiB each (one write per file).
    let text = base.join("text");
    write_docs(&text, 100);
    let o = python(&format!(
        "d='{}'\nfor i in range(100):\n  f=open(f'{{d}}/doc{{i}}.txt','r+')\n  f.write('Edited by a build tool. '*170)\n  f.close()",
        text.display()
    ));
    assert!(
        o.status.success(),
        "a text rewrite of 100 files is not ransomware: {o:?}"
    );
    // sed -i over 100 files: 100 new files renamed onto the old ones, by one process.
    let sed = base.join("sed");
    write_docs(&sed, 100);
    let files: Vec<String> = (0..100)
        .map(|i| sed.join(format!("doc{i}.txt")).display().to_string())
        .collect();
    let st = Command::new("sed")
        .args(["-i", "s/fox/cat/"])
        .args(&files)
        .status()
        .unwrap();
    assert!(st.success(), "sed -i over 100 files is not ransomware");
    assert!(std::fs::read_to_string(&files[99]).unwrap().contains("cat"));
    // Random bytes over 100 existing files: killed after the threshold.
    let enc = base.join("enc");
    write_docs(&enc, 100);
    let o = python(&format!(
        "import os\nd='{}'\nfor i in range(100):\n  f=open(f'{{d}}/doc{{i}}.txt','r+b')\n  f.write(os.urandom(4096))\n  f.close()",
        enc.display()
    ));
    let changed = (0..100)
        .filter(|i| {
            !std::fs::read(enc.join(format!("doc{i}.txt")))
                .unwrap()
                .starts_with(b"The quick")
        })
        .count();
    println!(
        "encryptor killed: {}, files changed: {changed} of 100",
        killed(&o)
    );
    assert!(killed(&o), "the encryptor is killed: {o:?}");
    assert!(
        (30..=31).contains(&changed),
        "{changed} files changed before the kill"
    );
    let rows = asr_rows(&agent, "ransomware", "Blocked");
    assert!(rows[0]["AdditionalFields"]["FilesChanged"].as_i64() > Some(30));
    assert_eq!(rows.len(), 1, "only the encryptor is reported: {rows:?}");
    let _ = std::fs::remove_dir_all(&base);
}
