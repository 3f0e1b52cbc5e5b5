//! `vigil up`: a server on the embedded store and an agent on this host enrolled with it, as
//! child processes; Ctrl-C (or SIGTERM) stops both cleanly.
//!
//! Layout under the data directory: `server/` (the server's data dir: CA, admin token, state,
//! telemetry) and `agent/` (the agent's state dir: device id, certificate, spool). A second
//! `vigil up` with the same directory reuses both: no new CA, no re-enrolment.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::client::Api;

pub const DEFAULT_DATA_DIR: &str = "/var/lib/vigil";

#[derive(clap::Args)]
pub struct UpArgs {
    /// Where the server and the agent keep their data.
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// The HTTP API address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_addr: String,
    /// The agents' gRPC address.
    #[arg(long, default_value = "127.0.0.1:7443")]
    grpc_addr: String,
    /// Start only the server (e.g. when not root, since the agent's sensors need root).
    #[arg(long)]
    no_agent: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// The sibling binary `name` (installed side by side with `vigil`).
fn sibling(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the vigil executable")?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} not found next to {} (build the workspace: cargo build --workspace)",
            name,
            exe.display()
        );
    }
    Ok(path)
}

/// Ask a child to stop with SIGINT, then wait (SIGKILL after 15 s).
fn stop(name: &str, child: &mut Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("vigil: {name} did not stop within 15 s; killing it");
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_for_server(api_url: &str, token_path: &Path, server: &mut Child) -> Result<String> {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("starting vigil-server");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let deadline = Instant::now() + Duration::from_secs(120);
    let result = loop {
        if let Ok(Some(status)) = server.try_wait() {
            break Err(anyhow::anyhow!(
                "vigil-server exited during start-up ({status}); see its messages above"
            ));
        }
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!("vigil-server did not answer within 120 s"));
        }
        if let Ok(token) = std::fs::read_to_string(token_path) {
            if let Ok(api) = Api::new(api_url, &token) {
                if api.get("/api/v1/devices").is_ok() {
                    break Ok(token.trim().to_string());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    spinner.finish_and_clear();
    result
}

pub fn run(args: UpArgs) -> Result<()> {
    let server_dir = args.data_dir.join("server");
    let agent_dir = args.data_dir.join("agent");
    std::fs::create_dir_all(&server_dir)
        .with_context(|| format!("cannot create {}", server_dir.display()))?;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let with_agent = !args.no_agent;
    if with_agent && !root {
        bail!("the agent's sensors need root: run `vigil up` as root, or pass --no-agent for the server alone");
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores into a static atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }

    let mut server = Command::new(sibling("vigil-server")?)
        .args(["run", "--data-dir"])
        .arg(&server_dir)
        .args([
            "--http-addr",
            &args.http_addr,
            "--grpc-addr",
            &args.grpc_addr,
        ])
        .spawn()
        .context("cannot start vigil-server")?;
    let api_url = format!("http://{}", args.http_addr);
    let token_path = server_dir.join("admin.token");
    let token = match wait_for_server(&api_url, &token_path, &mut server) {
        Ok(t) => t,
        Err(e) => {
            stop("vigil-server", &mut server);
            return Err(e);
        }
    };
    let api = Api::new(&api_url, &token)?;

    let mut agent = None;
    if with_agent {
        match start_agent(&api, &args, &server_dir, &agent_dir) {
            Ok(child) => agent = Some(child),
            Err(e) => {
                stop("vigil-server", &mut server);
                return Err(e);
            }
        }
    }

    println!();
    println!("Vigil is up.");
    println!(
        "  console:   not built yet; the API serves http://{}/api/v1",
        args.http_addr
    );
    println!(
        "  API:       http://{}  (token in {})",
        args.http_addr,
        token_path.display()
    );
    println!(
        "  agents:    {} (gRPC, mutual TLS; CA {})",
        args.grpc_addr,
        server_dir.join("ca.pem").display()
    );
    println!(
        "  agent:     {}",
        if agent.is_some() {
            "running on this host"
        } else {
            "not started (--no-agent)"
        }
    );
    println!("  try:       vigil devices list   |   vigil events sql \"SELECT ActionType, count(*) FROM DeviceProcessEvents GROUP BY ActionType\"");
    println!("  stop:      Ctrl-C");

    let mut failed = None;
    while !STOP.load(Ordering::SeqCst) {
        if let Ok(Some(st)) = server.try_wait() {
            failed = Some(format!("vigil-server exited ({st})"));
            break;
        }
        if let Some(a) = agent.as_mut() {
            if let Ok(Some(st)) = a.try_wait() {
                failed = Some(format!("vigil-agent exited ({st})"));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("vigil: stopping");
    if let Some(mut a) = agent {
        stop("vigil-agent", &mut a);
    }
    stop("vigil-server", &mut server);
    match failed {
        Some(f) => bail!("{f}"),
        None => Ok(()),
    }
}

fn start_agent(api: &Api, args: &UpArgs, server_dir: &Path, agent_dir: &Path) -> Result<Child> {
    let agent_bin = sibling("vigil-agent")?;
    if !agent_dir.join("uplink/enrollment.json").exists() {
        let t = api.post(
            "/api/v1/enrollment-tokens",
            &json!({ "label": "vigil up (local agent)", "ttl_seconds": 600, "max_uses": 1 }),
        )?;
        let secret = t["secret"]
            .as_str()
            .context("the server returned no token secret")?;
        let st = Command::new(&agent_bin)
            .args([
                "enroll",
                "--server",
                &args.grpc_addr,
                "--token",
                secret,
                "--ca-cert",
            ])
            .arg(server_dir.join("ca.pem"))
            .arg("--state-dir")
            .arg(agent_dir)
            .status()
            .context("cannot run vigil-agent enroll")?;
        if !st.success() {
            bail!("vigil-agent enroll failed ({st}); see its message above");
        }
    }
    // The agent reads /etc/vigil/agent.toml when it exists, else runs on defaults.
    Command::new(&agent_bin)
        .args(["run", "--state-dir"])
        .arg(agent_dir)
        .spawn()
        .context("cannot start vigil-agent")
}
