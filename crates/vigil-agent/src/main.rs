//! `vigil-agent`: run the sensors, show status, enroll (see the README and
//! `../shared/cli-contract.md` for the verbs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
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
            agent::run(cfg, dir, output)
        }
        Command::Enroll { .. } => {
            bail!("enrolment is not supported yet: the Vigil server is not built (see the README); use `vigil-agent run --output jsonl`")
        }
        Command::Status {
            json,
            config,
            state_dir: dir,
        } => {
            let cfg = AgentConfig::load(config.as_deref())?;
            let dir = state_dir(&cfg, dir);
            let (status, alive) = agent::read_status(&dir)?;
            if json {
                let mut v = serde_json::to_value(&status)?;
                v["running"] = serde_json::Value::Bool(alive);
                v["enrolled"] = serde_json::Value::Bool(false);
                v["spool"] = serde_json::json!({"supported": false, "reason": "no uplink yet: events go to the jsonl output"});
                v["protection"] =
                    serde_json::json!({"supported": false, "reason": "not supported yet"});
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
                println!("enrolment  not enrolled (enrolment is not supported yet)");
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
                println!("protection not supported yet");
            }
            Ok(())
        }
    }
}
