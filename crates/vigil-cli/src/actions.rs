//! `vigil action ...` (response actions and the action center), `vigil library ...` (files for
//! putfile and scripts for run) and `vigil live DEVICE` (a live-response session).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::client::{encode, Api};
use crate::{parse_duration, print_json, table};

#[derive(Args)]
pub struct Common {
    /// Why (kept in the audit trail).
    #[arg(long, default_value = "")]
    comment: String,
    /// How long the action waits for an offline device (default 7d).
    #[arg(long)]
    ttl: Option<String>,
    /// Wait up to this long for the action to end and print its result.
    #[arg(long)]
    wait: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum ActionCmd {
    /// Cut a device off the network but for the Vigil server (and, selective, named services).
    Isolate {
        device: String,
        /// Also allow these: PROTO:PORT or PROTO:PORT@CIDR (e.g. tcp:22@10.0.0.0/8).
        #[arg(long = "allow")]
        allow: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Undo isolation: the device's own firewall rules are as they were.
    Release {
        device: String,
        #[command(flatten)]
        common: Common,
    },
    /// Kill a process (and its descendants with --tree).
    Kill {
        device: String,
        #[arg(long)]
        pid: u32,
        #[arg(long)]
        tree: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Stop and quarantine a file: kill what runs it, remove persistence pointing to it.
    Quarantine {
        device: String,
        #[arg(long)]
        path: String,
        #[arg(long)]
        sha256: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Restore a quarantined file.
    Restore {
        device: String,
        #[arg(long)]
        quarantine_id: String,
        #[arg(long)]
        path: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Collect an investigation package (downloadable when done).
    Collect {
        device: String,
        #[command(flatten)]
        common: Common,
    },
    /// Run an antivirus scan.
    Scan {
        device: String,
        /// quick, full or custom (with --path).
        #[arg(long = "type", default_value = "quick")]
        kind: String,
        #[arg(long)]
        path: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Let only package-managed binaries (and --allow paths or SHA-256) run.
    Restrict {
        device: String,
        #[arg(long = "allow")]
        allow: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Lift the app restriction.
    Unrestrict {
        device: String,
        #[command(flatten)]
        common: Common,
    },
    /// The action center: pending and past actions across the fleet.
    List {
        #[arg(long)]
        pending: bool,
        #[arg(long)]
        device: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One action with its timeline and files.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a pending action.
    Cancel {
        id: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Undo a succeeded action (release, restore, lift a restriction).
    Undo {
        id: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Download a file an action brought back.
    Download {
        file_id: String,
        #[arg(long)]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum LibraryCmd {
    /// Add a file (for putfile) or a script (for run).
    Add {
        file: PathBuf,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Remove {
        name: String,
    },
}

#[derive(Args)]
pub struct LiveArgs {
    device: String,
    /// Run these commands and exit (instead of reading them from standard input).
    #[arg(long = "command", short = 'c')]
    commands: Vec<String>,
    /// Where `getfile` saves files (default: the current folder).
    #[arg(long, default_value = ".")]
    output_dir: PathBuf,
    /// How long to wait for each command.
    #[arg(long, default_value = "5m")]
    wait: String,
    #[arg(long)]
    json: bool,
}

const LIST_COLUMNS: &[&str] = &[
    "ActionId",
    "Type",
    "DeviceId",
    "Status",
    "RequestedBy",
    "Created",
    "Finished",
    "Error",
];

fn allow_entry(s: &str) -> Result<Value> {
    let (pp, remote) = match s.split_once('@') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let (proto, port) = pp
        .split_once(':')
        .with_context(|| format!("--allow {s:?}: expected PROTO:PORT[@CIDR]"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("--allow {s:?}: bad port"))?;
    Ok(json!({ "proto": proto, "port": port, "remote": remote }))
}

fn queue(api: &Api, device: &str, kind: &str, args: Value, c: &Common) -> Result<()> {
    let mut body = json!({ "type": kind, "args": args, "comment": c.comment });
    if let Some(t) = &c.ttl {
        body["ttl_seconds"] = json!(parse_duration(t)?.as_secs());
    }
    let a = api.post(
        &format!("/api/v1/devices/{}/actions", encode(device)),
        &body,
    )?;
    let id = a["ActionId"].as_str().unwrap_or("").to_string();
    let a = match &c.wait {
        Some(w) => wait(api, &id, parse_duration(w)?)?,
        None => a,
    };
    if c.json {
        return print_json(&a);
    }
    println!(
        "action {id} ({kind} on {device}): {}",
        table::cell(&a["Status"])
    );
    print_outcome(&a);
    Ok(())
}

fn print_outcome(a: &Value) {
    if !a["Error"].is_null() {
        println!("error: {}", table::cell(&a["Error"]));
    }
    if !a["Result"].is_null() {
        println!(
            "{}",
            serde_json::to_string_pretty(&a["Result"]).unwrap_or_default()
        );
    }
    for f in a["Files"].as_array().into_iter().flatten() {
        println!(
            "file {} {} ({} bytes, SHA-256 {}): vigil action download {} --output FILE",
            table::cell(&f["FileId"]),
            table::cell(&f["Name"]),
            f["Size"],
            table::cell(&f["SHA256"]),
            table::cell(&f["FileId"])
        );
    }
}

fn is_final(a: &Value) -> bool {
    matches!(
        a["Status"].as_str(),
        Some("Succeeded" | "Failed" | "Cancelled" | "TimedOut")
    )
}

/// Poll an action until it ends or `limit` passes.
fn wait(api: &Api, id: &str, limit: Duration) -> Result<Value> {
    let start = Instant::now();
    loop {
        let a = api.get(&format!("/api/v1/actions/{}", encode(id)))?;
        if is_final(&a) || start.elapsed() >= limit {
            return Ok(a);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

pub fn action(api: &Api, cmd: ActionCmd) -> Result<()> {
    match cmd {
        ActionCmd::Isolate {
            device,
            allow,
            common,
        } => {
            let allow: Vec<Value> = allow
                .iter()
                .map(|a| allow_entry(a))
                .collect::<Result<_>>()?;
            let mode = if allow.is_empty() {
                "full"
            } else {
                "selective"
            };
            queue(
                api,
                &device,
                "isolate",
                json!({ "mode": mode, "allow": allow }),
                &common,
            )
        }
        ActionCmd::Release { device, common } => queue(api, &device, "release", json!({}), &common),
        ActionCmd::Kill {
            device,
            pid,
            tree,
            common,
        } => queue(
            api,
            &device,
            "kill",
            json!({ "pid": pid, "tree": tree }),
            &common,
        ),
        ActionCmd::Quarantine {
            device,
            path,
            sha256,
            common,
        } => queue(
            api,
            &device,
            "quarantine",
            json!({ "path": path, "sha256": sha256 }),
            &common,
        ),
        ActionCmd::Restore {
            device,
            quarantine_id,
            path,
            common,
        } => queue(
            api,
            &device,
            "restore",
            json!({ "quarantine_id": quarantine_id, "path": path }),
            &common,
        ),
        ActionCmd::Collect { device, common } => queue(api, &device, "collect", json!({}), &common),
        ActionCmd::Scan {
            device,
            kind,
            path,
            common,
        } => {
            let mut args = json!({ "type": kind });
            if let Some(p) = path {
                args["path"] = json!(p);
            }
            queue(api, &device, "scan", args, &common)
        }
        ActionCmd::Restrict {
            device,
            allow,
            common,
        } => queue(api, &device, "restrict", json!({ "allow": allow }), &common),
        ActionCmd::Unrestrict { device, common } => {
            queue(api, &device, "unrestrict", json!({}), &common)
        }
        ActionCmd::List {
            pending,
            device,
            status,
            limit,
            json,
        } => {
            let mut q = format!("?limit={limit}");
            if pending {
                q.push_str("&pending=true");
            }
            for (k, v) in [("device", device), ("status", status)] {
                if let Some(v) = v {
                    q.push_str(&format!("&{k}={}", encode(&v)));
                }
            }
            let v = api.get(&format!("/api/v1/actions{q}"))?;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            if json {
                return print_json(&Value::Array(items));
            }
            table::print(LIST_COLUMNS, &items);
            Ok(())
        }
        ActionCmd::Show { id, json } => {
            let a = api.get(&format!("/api/v1/actions/{}", encode(&id)))?;
            if json {
                return print_json(&a);
            }
            println!(
                "{} {} on {}: {} (by {}, {})",
                table::cell(&a["ActionId"]),
                table::cell(&a["Type"]),
                table::cell(&a["DeviceId"]),
                table::cell(&a["Status"]),
                table::cell(&a["RequestedBy"]),
                table::cell(&a["Comment"])
            );
            table::print(
                &["Time", "Status", "Actor", "Detail"],
                a["Timeline"].as_array().map(Vec::as_slice).unwrap_or(&[]),
            );
            print_outcome(&a);
            Ok(())
        }
        ActionCmd::Cancel { id, comment } => {
            let a = api.post(
                &format!("/api/v1/actions/{}/cancel", encode(&id)),
                &json!({ "comment": comment }),
            )?;
            println!("action {id}: {}", table::cell(&a["Status"]));
            Ok(())
        }
        ActionCmd::Undo { id, comment } => {
            let a = api.post(
                &format!("/api/v1/actions/{}/undo", encode(&id)),
                &json!({ "comment": comment }),
            )?;
            println!(
                "undo of {id} queued as {} ({})",
                table::cell(&a["ActionId"]),
                table::cell(&a["Type"])
            );
            Ok(())
        }
        ActionCmd::Download { file_id, output } => {
            let n = api.download(
                &format!("/api/v1/action-files/{}", encode(&file_id)),
                &output,
            )?;
            println!("{} bytes written to {}", n, output.display());
            Ok(())
        }
    }
}

pub fn library(api: &Api, cmd: LibraryCmd) -> Result<()> {
    match cmd {
        LibraryCmd::Add {
            file,
            name,
            description,
        } => {
            let data =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = name.unwrap_or_else(|| {
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            let v = api.post_bytes(
                &format!(
                    "/api/v1/library?name={}&description={}",
                    encode(&name),
                    encode(&description)
                ),
                data,
            )?;
            println!(
                "library file {} added ({} bytes, SHA-256 {})",
                table::cell(&v["Name"]),
                v["Size"],
                table::cell(&v["SHA256"])
            );
            Ok(())
        }
        LibraryCmd::List { json } => {
            let v = api.get("/api/v1/library")?;
            if json {
                return print_json(&v);
            }
            table::print(
                &[
                    "Name",
                    "Size",
                    "SHA256",
                    "CreatedBy",
                    "Created",
                    "Description",
                ],
                v.as_array().map(Vec::as_slice).unwrap_or(&[]),
            );
            Ok(())
        }
        LibraryCmd::Remove { name } => {
            api.delete(&format!("/api/v1/library/{}", encode(&name)))?;
            println!("library file {name} removed");
            Ok(())
        }
    }
}

const LIVE_HELP: &str = "commands: processes | connections | persistence | fileinfo PATH | \
findfile NAME [ROOT] | getfile PATH [MAX_BYTES] | putfile LIBRARY_FILE PATH [overwrite] | \
run SCRIPT [ARGS...] | analyze PATH | remediate PATH | help | exit";

/// One typed line as (command, args).
fn parse_line(line: &str) -> Result<Option<(String, Value)>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&cmd, rest)) = words.split_first() else {
        return Ok(None);
    };
    let arg = |i: usize, what: &str| -> Result<String> {
        rest.get(i)
            .map(|s| s.to_string())
            .with_context(|| format!("{cmd} needs {what}"))
    };
    let args = match cmd {
        "processes" | "connections" | "persistence" => json!({}),
        "fileinfo" | "analyze" | "remediate" => json!({ "path": arg(0, "a path")? }),
        "findfile" => {
            let mut a = json!({ "name": arg(0, "a file name or glob")? });
            if let Some(r) = rest.get(1) {
                a["root"] = json!(r);
            }
            a
        }
        "getfile" => {
            let mut a = json!({ "path": arg(0, "a path")? });
            if let Some(m) = rest.get(1) {
                a["max_bytes"] = json!(m.parse::<u64>().context("MAX_BYTES must be a number")?);
            }
            a
        }
        "putfile" => json!({
            "file": arg(0, "a library file")?,
            "path": arg(1, "a destination path")?,
            "overwrite": rest.get(2) == Some(&"overwrite"),
        }),
        "run" => {
            json!({ "script": arg(0, "a library script")?, "args": &rest[1.min(rest.len())..] })
        }
        other => bail!("unknown command {other:?}; {LIVE_HELP}"),
    };
    Ok(Some((cmd.to_string(), args)))
}

pub fn live(api: &Api, args: LiveArgs) -> Result<()> {
    let wait = parse_duration(&args.wait)?.as_secs().min(300);
    let s = api.post(
        &format!("/api/v1/devices/{}/live", encode(&args.device)),
        &json!({}),
    )?;
    let session = s["SessionId"].as_str().unwrap_or("").to_string();
    if !args.json {
        eprintln!(
            "live response on {} (session {session}{}); {LIVE_HELP}",
            args.device,
            if s["DeviceConnected"] == true {
                ""
            } else {
                ", device offline: commands wait for it"
            }
        );
    }
    let result = (|| -> Result<()> {
        let interactive = args.commands.is_empty();
        let stdin = std::io::stdin();
        let mut lines = args.commands.clone().into_iter();
        let mut input = stdin.lock().lines();
        loop {
            let line = if interactive {
                eprint!("{}> ", args.device);
                let _ = std::io::stderr().flush();
                match input.next() {
                    Some(l) => l?,
                    None => return Ok(()),
                }
            } else {
                match lines.next() {
                    Some(l) => l,
                    None => return Ok(()),
                }
            };
            let line = line.trim();
            match line {
                "" => continue,
                "exit" | "quit" => return Ok(()),
                "help" => {
                    eprintln!("{LIVE_HELP}");
                    continue;
                }
                _ => {}
            }
            let (cmd, cargs) = match parse_line(line) {
                Ok(Some(x)) => x,
                Ok(None) => continue,
                Err(e) if interactive => {
                    eprintln!("error: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let a = api.post(
                &format!("/api/v1/live/{}/commands", encode(&session)),
                &json!({ "command": cmd, "args": cargs, "wait_seconds": wait }),
            );
            let a = match a {
                Ok(a) => a,
                Err(e) if interactive => {
                    eprintln!("error: {e:#}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            if args.json {
                println!("{}", serde_json::to_string(&a)?);
            } else {
                print_live(&a);
            }
            // getfile: bring the file here.
            if cmd == "getfile" && a["Status"] == "Succeeded" {
                for f in a["Files"].as_array().into_iter().flatten() {
                    let name = f["Name"].as_str().unwrap_or("file");
                    let dest = args.output_dir.join(name);
                    let n = api.download(
                        &format!("/api/v1/action-files/{}", table::cell(&f["FileId"])),
                        &dest,
                    )?;
                    if !args.json {
                        println!("saved {} ({n} bytes)", dest.display());
                    }
                }
            }
            if !interactive && a["Status"] != "Succeeded" {
                bail!(
                    "{cmd}: {} {}",
                    table::cell(&a["Status"]),
                    table::cell(&a["Error"])
                );
            }
        }
    })();
    let _ = api.delete(&format!("/api/v1/live/{}", encode(&session)));
    result
}

fn print_live(a: &Value) {
    match a["Status"].as_str() {
        Some("Succeeded") => {
            let r = &a["Result"];
            match r["Rows"].as_array() {
                Some(rows) if !rows.is_empty() => {
                    let cols: Vec<String> = rows[0]
                        .as_object()
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default();
                    let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
                    table::print(&cols, rows);
                }
                _ => println!("{}", serde_json::to_string_pretty(r).unwrap_or_default()),
            }
        }
        Some(s) => println!("{s}: {}", table::cell(&a["Error"])),
        None => println!("{a}"),
    }
}
