//! `vigil-agent`: run the sensors, show status, enroll (see the README and
//! `../shared/cli-contract.md` for the verbs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use vigil_agent::agent::{self, Output};
use vigil_agent::config::AgentConfig;

#[derive(Parser)]
#[command(name = "vigil-agent", version, about = "Vigil endpoint agent")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the sensors.
    Run {
        /// Configuration file (default /etc/vigil/agent.toml; missing means defaults).
        #[arg(long)]
        config: Option<PathBuf>,
        /// State directory (overrides agent.state_dir).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// `jsonl` (standard output) or `jsonl:PATH`; without it, events go to the server.
        #[arg(long)]
        output: Option<String>,
    },
    /// Enroll with a server.
    Enroll {
        #[arg(long)]
        server: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        ca_cert: PathBuf,
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Enter (or, with --end, leave) tamper protection's maintenance mode.
    Maintenance {
        /// The maintenance token (its SHA-256 is `tamper.maintenance_token_sha256`).
        #[arg(long)]
        token: String,
        #[arg(long)]
        end: bool,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Show the state of the agent: hooks, mode, counters.
    Status {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
}

/// `vigil-agent enroll`: trade the token for a device certificate.
fn enroll(
    server: &str,
    token: &str,
    ca_cert: &std::path::Path,
    dir: &std::path::Path,
) -> Result<()> {
    let ca_pem = std::fs::read_to_string(ca_cert).map_err(|e| {
        anyhow::anyhow!("cannot read the CA certificate {}: {e}", ca_cert.display())
    })?;
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create state directory {}: {e}", dir.display()))?;
    let identity = vigil_agent::device::DeviceIdentity::load_or_create(dir)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let e = rt.block_on(vigil_uplink::enroll(
        &vigil_uplink::EnrollParams {
            server,
            token,
            ca_pem: &ca_pem,
            device_id: &identity.device_id,
            device_name: &identity.device_name,
            agent_version: agent::VERSION,
        },
        dir,
    ))?;
    println!(
        "vigil-agent: enrolled with {} as device {}",
        e.server, e.device_id
    );
    Ok(())
}

fn state_dir(config: &AgentConfig, flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| config.agent.state_dir.clone())
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil-agent: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config,
            state_dir: dir,
            output,
        } => {
            let cfg = AgentConfig::load(config.as_deref())?;
            let output = match output {
                Some(o) => Output::parse(&o)?,
                None => Output::Server,
            };
            let dir = state_dir(&cfg, dir);
            // Tamper protection: this process becomes the supervisor of the agent (src/tamper).
            if cfg.tamper.enabled
                && std::env::var_os(vigil_agent::tamper::supervisor::SUPERVISED_ENV).is_none()
            {
                let code = vigil_agent::tamper::supervisor::run(&dir)?;
                std::process::exit(code);
            }
            agent::run(cfg, dir, output)
        }
        Command::Maintenance {
            token,
            end,
            config,
            state_dir: dir,
        } => {
            let cfg = AgentConfig::load(config.as_deref())?;
            let dir = state_dir(&cfg, dir);
            let reply = vigil_agent::tamper::request_maintenance(&dir, &token, !end)?;
            println!("vigil-agent: {reply}");
            Ok(())
        }
        Command::Enroll {
            server,
            token,
            ca_cert,
            state_dir: dir,
        } => {
            let cfg = AgentConfig::default();
            let dir = state_dir(&cfg, dir);
            enroll(&server, &token, &ca_cert, &dir)
        }
        Command::Status {
            json,
            config,
            state_dir: dir,
        } => {
            let cfg = AgentConfig::load(config.as_deref())?;
            let dir = state_dir(&cfg, dir);
            let enrolled = vigil_uplink::Enrollment::load(&dir)?;
            let (status, alive) = agent::read_status(&dir)?;
            if json {
                let mut v = serde_json::to_value(&status)?;
                v["running"] = serde_json::Value::Bool(alive);
                v["enrolled"] = serde_json::json!(enrolled.as_ref().map(|e| &e.server));
                v["spool"] = status.uplink.clone().unwrap_or(serde_json::Value::Null);
                if status.protection.is_none() {
                    v["protection"] = serde_json::json!({"enabled": false, "reason": "not reported by this agent"});
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let attached = status.hooks.iter().filter(|h| h.attached).count();
                println!(
                    "agent      {} (pid {}, version {})",
                    if alive { "running" } else { "not running" },
                    status.pid,
                    status.version
                );
                println!("device     {} ({})", status.device_id, status.device_name);
                match &enrolled {
                    Some(e) => println!("enrolment  enrolled with {} as {}", e.server, e.device_id),
                    None => println!("enrolment  not enrolled"),
                }
                if let Some(u) = &status.uplink {
                    println!(
                        "uplink     connected {}, {} events acknowledged, spool {} bytes / {} events pending{}",
                        u["connected"],
                        u["events_acked"],
                        u["spool_bytes"],
                        u["spool_pending_events"],
                        u["last_error"].as_str().map(|e| format!(", last error: {e}")).unwrap_or_default()
                    );
                }
                println!("mode       {}", status.mode);
                println!(
                    "hooks      {attached} of {} attached; dns {}",
                    status.hooks.len(),
                    status.dns
                );
                for h in status.hooks.iter().filter(|h| !h.attached) {
                    println!(
                        "  not attached: {} ({}): {}",
                        h.name,
                        h.hook,
                        h.error.as_deref().unwrap_or("unknown")
                    );
                }
                let c = &status.counters;
                println!(
                    "events     {} rows written, {} kernel records",
                    c.rows_written, c.kernel_records
                );
                println!(
                    "drops      ring buffer full {}, pending map full {}, malformed {}",
                    c.kernel_ring_buffer_full, c.kernel_pending_full, c.malformed_records
                );
                match &status.protection {
                    Some(p) => {
                        for line in vigil_agent::protect::status_lines(p) {
                            println!("{line}");
                        }
                    }
                    None => println!("protection not reported by this agent"),
                }
                if let Some(a) = &status.antivirus {
                    for line in vigil_agent::av::status_lines(a) {
                        println!("{line}");
                    }
                }
                if let Some(t) = &status.tamper {
                    println!(
                        "tamper     {}{}; files: {}; signals: {}",
                        if t.enabled { "on" } else { "off" },
                        if t.maintenance {
                            " (maintenance mode)"
                        } else {
                            ""
                        },
                        t.files,
                        t.signals
                    );
                }
                if let Some(a) = &status.asr {
                    for line in vigil_agent::asr::status_lines(a) {
                        println!("{line}");
                    }
                }
                if let Some(r) = &status.respond {
                    for line in vigil_agent::respond::status_lines(r) {
                        println!("{line}");
                    }
                }
            }
            Ok(())
        }
    }
}
