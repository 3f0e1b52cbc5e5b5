//! `vigil`: the operator CLI over the server's HTTP API, and `vigil up` (server + local agent
//! in one command). Verbs follow `../shared/cli-contract.md`; every listing takes `--json`.

mod actions;
mod alerts;
mod client;
mod detections;
mod hunt;
mod intel;
mod rules;
mod table;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use client::Api;

#[derive(Parser)]
#[command(name = "vigil", version, about = "Vigil operator CLI")]
struct Cli {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args)]
struct Conn {
    /// Server API URL (default $VIGIL_SERVER or http://127.0.0.1:8080).
    #[arg(long, global = true)]
    server: Option<String>,
    /// API token (default $VIGIL_TOKEN, else /var/lib/vigil/server/admin.token when readable).
    #[arg(long, global = true)]
    token: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Enrolment tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Enrolled devices.
    #[command(subcommand)]
    Devices(DevicesCmd),
    /// Telemetry.
    #[command(subcommand)]
    Events(EventsCmd),
    /// Detection rules (Sigma).
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Alerts raised by detection rules.
    #[command(subcommand)]
    Alerts(alerts::AlertsCmd),
    /// Incidents: alerts that share a device, user, file hash, remote IP or process tree.
    #[command(subcommand)]
    Incidents(alerts::IncidentsCmd),
    /// Suppression rules: hits of a rule that are expected, hidden or auto-resolved.
    #[command(subcommand)]
    Suppressions(rules::SuppressionsCmd),
    /// Start a server on the embedded store and an agent on this host enrolled with it.
    Up(up::UpArgs),
    /// Advanced hunting: KQL over the MDE-compatible tables.
    Hunt(hunt::HuntArgs),
    /// Custom detection rules: hunting queries on a schedule that raise alerts.
    #[command(subcommand)]
    Detections(detections::DetectionsCmd),
    /// Threat-intelligence indicators: hashes, addresses, networks, domains, URLs,
    /// certificates, and what to do when they are seen.
    #[command(subcommand)]
    Indicators(intel::IndicatorsCmd),
    /// Feeds: indicators fetched on a schedule (STIX, TAXII 2.1, MISP, CSV, abuse.ch).
    #[command(subcommand)]
    Feeds(intel::FeedsCmd),
    /// MISP warning lists: values known to be benign, left out of imports.
    #[command(subcommand)]
    Warninglists(intel::WarningListsCmd),
    /// What the fleet knows about a file hash, an IP address or a domain.
    Entity {
        #[command(subcommand)]
        cmd: intel::EntityCmd,
        #[arg(long, global = true)]
        json: bool,
    },
    /// Response actions on devices, and the action center.
    #[command(subcommand)]
    Action(actions::ActionCmd),
    /// The library of files for live response (putfile) and scripts (run).
    #[command(subcommand)]
    Library(actions::LibraryCmd),
    /// A live-response session on a device.
    Live(actions::LiveArgs),
    /// Verbs that are not built yet.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

#[derive(Subcommand)]
enum RulesCmd {
    /// Load every rule file under DIR (no server needed) and report, per file, whether it
    /// loaded, is unsupported (a log source or field Vigil does not collect) or is an error.
    Check {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The rules the server loaded, with severity, ATT&CK techniques and whether enabled.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Enable a rule on the server (persists across restarts).
    Enable { id: String },
    /// Disable a rule on the server: it raises nothing until enabled again.
    Disable { id: String },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an enrolment token; its secret is shown once.
    Create {
        #[arg(long, default_value = "")]
        label: String,
        /// Lifetime, e.g. 30m, 24h, 7d (default: no expiry).
        #[arg(long)]
        ttl: Option<String>,
        /// How many enrolments it allows (default: unlimited).
        #[arg(long)]
        max_uses: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Revoke {
        id: String,
    },
}

#[derive(Subcommand)]
enum DevicesCmd {
    List {
        #[arg(long)]
        json: bool,
    },
    /// One device with its health and last-seen time.
    Show {
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device's certificate: its next request is refused.
    Revoke { device: String },
    /// Put a device in a device group (scopes indicators); `--none` takes it out.
    Group {
        device: String,
        #[arg(required_unless_present = "none")]
        group: Option<String>,
        #[arg(long, conflicts_with = "group")]
        none: bool,
    },
}

#[derive(Subcommand)]
enum EventsCmd {
    /// SQL over the telemetry tables (MDE table and column names).
    Sql {
        sql: String,
        #[arg(long)]
        json: bool,
    },
}

/// `30m`, `24h`, `7d`, `90s` or plain seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("bad duration {s:?}: expected e.g. 30m, 24h, 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("bad duration {s:?}: the unit must be s, m, h or d"),
    };
    Ok(Duration::from_secs(secs))
}

fn api(conn: &Conn) -> Result<Api> {
    let server = conn
        .server
        .clone()
        .or_else(|| std::env::var("VIGIL_SERVER").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_string());
    let token = conn
        .token
        .clone()
        .or_else(|| std::env::var("VIGIL_TOKEN").ok())
        .or_else(|| {
            std::fs::read_to_string(PathBuf::from(up::DEFAULT_DATA_DIR).join("server/admin.token"))
                .ok()
        })
        .unwrap_or_default();
    Api::new(&server, &token)
}

pub(crate) fn print_json(v: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Up(args) => up::run(args),
        Cmd::Token(t) => {
            let api = api(&cli.conn)?;
            match t {
                TokenCmd::Create {
                    label,
                    ttl,
                    max_uses,
                    json,
                } => {
                    let ttl = ttl.as_deref().map(parse_duration).transpose()?;
                    let v = api.post(
                        "/api/v1/enrollment-tokens",
                        &json!({ "label": label, "ttl_seconds": ttl.map(|d| d.as_secs()), "max_uses": max_uses }),
                    )?;
                    if json {
                        return print_json(&v);
                    }
                    println!("token {} created", table::cell(&v["id"]));
                    println!("secret (shown once): {}", table::cell(&v["secret"]));
                    if !v["expires"].is_null() {
                        println!("expires {}", table::cell(&v["expires"]));
                    }
                    Ok(())
                }
                TokenCmd::List { json } => {
                    let v = api.get("/api/v1/enrollment-tokens")?;
                    if json {
                        return print_json(&v);
                    }
                    let rows = v.as_array().cloned().unwrap_or_default();
                    table::print(
                        &[
                            "id", "label", "created", "expires", "uses", "max_uses", "revoked",
                        ],
                        &rows,
                    );
                    Ok(())
                }
                TokenCmd::Revoke { id } => {
                    api.post(
                        &format!("/api/v1/enrollment-tokens/{id}/revoke"),
                        &json!({}),
                    )?;
                    println!("token {id} revoked");
                    Ok(())
                }
            }
        }
        Cmd::Devices(d) => {
            let api = api(&cli.conn)?;
            match d {
                DevicesCmd::List { json } => {
                    let v = api.get("/api/v1/devices")?;
                    if json {
                        return print_json(&v);
                    }
                    let rows = v.as_array().cloned().unwrap_or_default();
                    table::print(
                        &[
                            "DeviceId",
                            "DeviceName",
                            "HealthStatus",
                            "LastSeen",
                            "OSPlatform",
                            "SensorMode",
                        ],
                        &rows,
                    );
                    Ok(())
                }
                DevicesCmd::Show { device, json } => {
                    let v = api.get(&format!("/api/v1/devices/{device}"))?;
                    if json {
                        return print_json(&v);
                    }
                    if let Some(obj) = v.as_object() {
                        let width = obj.keys().map(|k| k.len()).max().unwrap_or(0);
                        for (k, val) in obj {
                            println!("{k:<width$}  {}", table::cell(val));
                        }
                    }
                    Ok(())
                }
                DevicesCmd::Group {
                    device,
                    group,
                    none: _,
                } => {
                    api.patch(
                        &format!("/api/v1/devices/{}", client::encode(&device)),
                        &json!({ "group": group }),
                    )?;
                    match group {
                        Some(g) => println!("device {device} is in group {g}"),
                        None => println!("device {device} is in no group"),
                    }
                    Ok(())
                }
                DevicesCmd::Revoke { device } => {
                    api.post(&format!("/api/v1/devices/{device}/revoke"), &json!({}))?;
                    println!("device {device} revoked: its next request will be refused");
                    Ok(())
                }
            }
        }
        Cmd::Events(EventsCmd::Sql { sql, json }) => {
            let api = api(&cli.conn)?;
            let spinner = (!json).then(|| {
                let s = indicatif::ProgressBar::new_spinner();
                s.set_message("running query");
                s.enable_steady_tick(Duration::from_millis(100));
                s
            });
            let v = api.post("/api/v1/events/sql", &json!({ "sql": sql }));
            if let Some(s) = spinner {
                s.finish_and_clear();
            }
            let v = v?;
            let rows = v["rows"].as_array().cloned().unwrap_or_default();
            if json {
                return print_json(&Value::Array(rows));
            }
            let columns: Vec<String> = v["columns"]
                .as_array()
                .map(|c| c.iter().map(table::cell).collect())
                .unwrap_or_default();
            let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
            table::print(&cols, &rows);
            Ok(())
        }
        Cmd::Rules(RulesCmd::Check { dir, json }) => rules_check(&dir, json),
        Cmd::Alerts(a) => alerts::alerts(&api(&cli.conn)?, a),
        Cmd::Incidents(i) => alerts::incidents(&api(&cli.conn)?, i),
        Cmd::Suppressions(s) => rules::suppressions(&api(&cli.conn)?, s),
        Cmd::Rules(RulesCmd::List { json }) => rules::list(&api(&cli.conn)?, json),
        Cmd::Rules(RulesCmd::Enable { id }) => rules::switch(&api(&cli.conn)?, &id, true),
        Cmd::Rules(RulesCmd::Disable { id }) => rules::switch(&api(&cli.conn)?, &id, false),
        Cmd::Hunt(args) => hunt::hunt(|| api(&cli.conn), args),
        Cmd::Detections(d) => detections::detections(&api(&cli.conn)?, d),
        Cmd::Indicators(i) => intel::indicators(&api(&cli.conn)?, i),
        Cmd::Feeds(f) => intel::feeds(&api(&cli.conn)?, f),
        Cmd::Warninglists(w) => intel::warning_lists(&api(&cli.conn)?, w),
        Cmd::Entity { cmd, json } => intel::entity(&api(&cli.conn)?, cmd, json),
        Cmd::Action(a) => actions::action(&api(&cli.conn)?, a),
        Cmd::Library(l) => actions::library(&api(&cli.conn)?, l),
        Cmd::Live(l) => actions::live(&api(&cli.conn)?, l),
        Cmd::Other(args) => {
            let verb = args.first().map(String::as_str).unwrap_or("");
            bail!("unknown command {verb:?}; see `vigil --help`")
        }
    }
}

fn rules_check(dir: &std::path::Path, json: bool) -> Result<()> {
    if !dir.is_dir() {
        bail!("{} is not a directory of rule files", dir.display());
    }
    let report = vigil_sigma::check_dir(dir, &vigil_sigma::Mapping::linux(), Default::default())
        .map_err(|e| anyhow::anyhow!("cannot read the rules under {}: {e}", dir.display()))?;
    if json {
        println!("{}", report.to_json());
        return Ok(());
    }
    let rows: Vec<Value> = report
        .files
        .iter()
        .filter(|f| f.status != vigil_sigma::Status::Loaded)
        .map(|f| json!({ "path": f.path, "status": f.status.as_str(), "reason": f.reason }))
        .collect();
    if !rows.is_empty() {
        table::print(&["path", "status", "reason"], &rows);
    }
    let t = report.totals;
    println!(
        "{} loaded, {} unsupported, {} error",
        t.loaded, t.unsupported, t.error
    );
    Ok(())
}

fn main() -> ExitCode {
    // Output piped into `head` and the like ends quietly when the reader goes away, as with
    // any Unix tool, instead of panicking on a broken pipe.
    // SAFETY: resetting a signal's disposition to the default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5w").is_err());
    }
}
