//! Project automation: `cargo xtask <task>`.
//!
//! - `setup`: install the Debian packages that building and testing need (idempotent).
//! - `console`: build the web console (`npm ci` and `npm run build` in `console/`), which
//!   vigil-server embeds; `ci` and `up` run it before building Rust.
//! - `ci`: setup, console, then the whole test suite and the console's browser tests
//!   (`npm test` in `console/` against the vigil-server binary); `.ci/run` and the README's
//!   test command run it.
//! - `up`: setup, console, build with the `fast-release` profile and start Vigil on this host.
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
    // The console's browser tests drive Debian's Chromium (headless) with playwright-core.
    "chromium",
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
            console(&root)?;
            ci(&root)
        }
        "up" => {
            setup()?;
            console(&root)?;
            up(&root, &rest)
        }
        "console" => console(&root),
        "codegen" => codegen(&root),
        _ => bail!("unknown task {task:?}: expected one of setup, console, ci, up, codegen"),
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

/// Python packages the tests run as real peers: medallion is OASIS's TAXII 2.1 server;
/// schemathesis (`st`) generates API requests from the server's OpenAPI document.
const PYTHON_PACKAGES: &[(&str, &str)] = &[
    ("medallion", "medallion==3.0.0"),
    ("st", "schemathesis==4.32.5"),
];

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
    // Node.js and npm build the console. The machine image may bring its own (newer) Node.js;
    // Debian's are installed only when there is none (the console needs Node.js 20.19 or later).
    let has = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has("node") || !has("npm") {
        println!("setup: installing nodejs npm");
        run(root, "apt-get", &["update", "-qq"])?;
        run(
            root,
            "apt-get",
            &[
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "nodejs",
                "npm",
            ],
        )?;
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

/// Build the console into `console/dist` (embedded by vigil-server).
fn console(root: &Path) -> Result<()> {
    let dir = root.join("console");
    run(&dir, "npm", &["ci", "--no-audit", "--no-fund"])?;
    run(&dir, "npm", &["run", "build"])
}

/// The console's browser tests: the real server binary, seeded by the `console_seed` example,
/// driven in Chromium; screenshots go to `target/console-screens/`.
fn console_tests(root: &Path) -> Result<()> {
    run(
        root,
        "cargo",
        &[
            "build",
            "-p",
            "vigil-server",
            "--bin",
            "vigil-server",
            "--example",
            "console_seed",
        ],
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    println!("$ npm test (console/)");
    let status = Command::new("npm")
        .arg("test")
        .current_dir(root.join("console"))
        .env("VIGIL_SERVER_BIN", target.join("debug/vigil-server"))
        .env("VIGIL_SEED_BIN", target.join("debug/examples/console_seed"))
        .env("VIGIL_SCREENS", root.join("target/console-screens"))
        .status()
        .context("cannot start npm")?;
    if !status.success() {
        bail!("the console's browser tests failed with {status}");
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
    console_tests(root)
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
