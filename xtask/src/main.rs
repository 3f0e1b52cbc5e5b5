//! Project automation: `cargo xtask <task>`.
//!
//! - `setup`: install the Debian packages that building and testing need (idempotent).
//! - `ci`: setup, then the whole test suite; `.ci/run` and the README's test command run it.
//! - `up`: setup, build with the `fast-release` profile and start Vigil on this host.
//! - `codegen`: rewrite generated files checked into the tree (`proto/vigil/events.proto`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Debian packages the build and the tests need.
const PACKAGES: &[&str] = &[
    "clang",
    "llvm",
    "libbpf-dev",
    "libelf-dev",
    "zlib1g-dev",
    "pkg-config",
    "protobuf-compiler",
    "bpftool",
    "auditd",
    "nftables",
    "iproute2",
    "dnsutils",
    // The end-to-end tests: crontab persistence and `crontab -e`, ssh to localhost.
    "cron",
    "openssh-server",
    "openssh-client",
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().cloned().unwrap_or_default();
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has a parent")?
        .to_path_buf();
    match task.as_str() {
        "setup" => setup(),
        "ci" => {
            setup()?;
            ci(&root)
        }
        "up" => {
            setup()?;
            up(&root, &rest)
        }
        "codegen" => codegen(&root),
        _ => bail!("unknown task {task:?}: expected one of setup, ci, up, codegen"),
    }
}

fn missing_packages() -> Vec<&'static str> {
    PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect()
}

/// Python packages the tests run as real peers: medallion is OASIS's TAXII 2.1 server.
const PYTHON_PACKAGES: &[(&str, &str)] = &[("medallion", "medallion==3.0.0")];

fn setup() -> Result<()> {
    let missing = missing_packages();
    let root = Path::new("/");
    if missing.is_empty() {
        println!("setup: all {} Debian packages present", PACKAGES.len());
    } else {
        println!("setup: installing {}", missing.join(" "));
        run(root, "apt-get", &["update", "-qq"])?;
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(missing.iter().copied());
        run(root, "apt-get", &args)?;
    }
    for (command, spec) in PYTHON_PACKAGES {
        let present = Command::new(command)
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success());
        if !present {
            run(root, "python3", &["-m", "pip", "install", "-q", spec])?;
        }
    }
    Ok(())
}

fn codegen(root: &Path) -> Result<()> {
    let path: PathBuf = root.join("proto/vigil/events.proto");
    std::fs::write(&path, vigil_schema::proto::events_proto())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Result<()> {
    println!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    if !status.success() {
        bail!("{program} {} failed with {status}", args.join(" "));
    }
    Ok(())
}

fn ci(root: &Path) -> Result<()> {
    run(root, "cargo", &["fmt", "--all", "--", "--check"])?;
    run(
        root,
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run(root, "cargo", &["test", "--workspace", "--no-fail-fast"])?;
    Ok(())
}

fn up(root: &Path, args: &[&str]) -> Result<()> {
    run(
        root,
        "cargo",
        &[
            "build",
            "--profile",
            "fast-release",
            "--bin",
            "vigil",
            "--bin",
            "vigil-server",
            "--bin",
            "vigil-agent",
        ],
    )?;
    let vigil = root.join("target/fast-release/vigil");
    let mut full = vec!["up"];
    full.extend_from_slice(args);
    run(root, vigil.to_str().context("utf-8 path")?, &full)
}
