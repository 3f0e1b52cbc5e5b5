//! `vigil hunt "KQL"` (table, `--json`, `--csv`) and `vigil hunt check FILE.jsonl --json`.
//!
//! `check` parses each line's `query` here (no server needed for that) and runs the ones that
//! parse on the server, reporting per line `parse` ok|error and `run`
//! ok|error|unsupported|skipped, as `../shared/cli-contract.md` fixes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::client::Api;
use crate::{print_json, table};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HuntArgs {
    #[command(subcommand)]
    cmd: Option<HuntCmd>,
    /// The KQL query (MDE's advanced-hunting tables and syntax).
    query: Option<String>,
    /// Rows as JSON objects.
    #[arg(long)]
    json: bool,
    /// Rows as CSV with a header line.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// At most this many rows (the server's cap is 100,000).
    #[arg(long)]
    max_rows: Option<u64>,
}

#[derive(Subcommand)]
enum HuntCmd {
    /// For each line's `query` of a JSON-lines file, whether it parses and whether it runs.
    Check {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Save a query under a name (yours, or everyone's with --shared).
    Save {
        name: String,
        query: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        shared: bool,
    },
    /// The saved queries you can see (yours and the shared ones).
    Saved {
        #[arg(long)]
        json: bool,
    },
    /// Run a saved query.
    Run {
        id: String,
        #[arg(long)]
        json: bool,
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Delete one of your saved queries.
    Delete { id: String },
}

/// How results are printed.
#[derive(Clone, Copy)]
struct Output {
    json: bool,
    csv: bool,
}

pub fn hunt(api: impl Fn() -> Result<Api>, args: HuntArgs) -> Result<()> {
    match args.cmd {
        Some(HuntCmd::Check { file, json }) => return check(&api()?, &file, json),
        Some(HuntCmd::Save {
            name,
            query,
            description,
            shared,
        }) => {
            let body = json!({ "name": name, "query": query, "description": description, "shared": shared });
            let (status, v) = api()?.post_status("/api/v1/hunt/queries", &body)?;
            if status != 200 {
                print_diagnostics(&v);
                bail!("{} (HTTP {status})", table::cell(&v["error"]));
            }
            println!(
                "saved {} as {}",
                table::cell(&v["name"]),
                table::cell(&v["id"])
            );
            return Ok(());
        }
        Some(HuntCmd::Saved { json }) => {
            let v = api()?.get("/api/v1/hunt/queries")?;
            if json {
                return print_json(&v);
            }
            let rows = v.as_array().cloned().unwrap_or_default();
            table::print(&["id", "name", "owner", "shared", "description"], &rows);
            return Ok(());
        }
        Some(HuntCmd::Run { id, json, csv }) => {
            let api = api()?;
            let saved = api.get(&format!(
                "/api/v1/hunt/queries/{}",
                crate::client::encode(&id)
            ))?;
            let query = table::cell(&saved["query"]);
            return run_query(&api, &query, None, Output { json, csv });
        }
        Some(HuntCmd::Delete { id }) => {
            api()?.delete(&format!(
                "/api/v1/hunt/queries/{}",
                crate::client::encode(&id)
            ))?;
            println!("deleted {id}");
            return Ok(());
        }
        None => {}
    }
    let Some(query) = args.query else {
        bail!("give a KQL query: vigil hunt \"DeviceProcessEvents | take 10\"");
    };
    let out = Output {
        json: args.json,
        csv: args.csv,
    };
    run_query(&api()?, &query, args.max_rows, out)
}

/// Print the rendered diagnostics of a refused query, if the answer has them.
fn print_diagnostics(v: &Value) {
    for d in v["diagnostics"].as_array().into_iter().flatten() {
        eprintln!("error: {}", table::cell(&d["rendered"]));
    }
}

fn run_query(api: &Api, query: &str, max_rows: Option<u64>, out: Output) -> Result<()> {
    let mut body = json!({ "query": query });
    if let Some(n) = max_rows {
        body["max_rows"] = json!(n);
    }
    let args = out;
    let spinner = (!args.json && !args.csv).then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_message("running query");
        s.enable_steady_tick(Duration::from_millis(100));
        s
    });
    let answer = api.post_status("/api/v1/hunt", &body);
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let (status, v) = answer?;
    if status != 200 {
        print_diagnostics(&v);
        if let Some(diags) = v["diagnostics"].as_array() {
            bail!("the query has {} problem(s)", diags.len());
        }
        bail!("{} (HTTP {status})", table::cell(&v["error"]));
    }
    let rows = v["rows"].as_array().cloned().unwrap_or_default();
    let columns: Vec<String> = v["columns"]
        .as_array()
        .map(|c| c.iter().map(|c| table::cell(&c["name"])).collect())
        .unwrap_or_default();
    let truncated = v["truncated"].as_bool() == Some(true);
    if args.json {
        return print_json(
            &json!({ "columns": v["columns"], "rows": rows, "truncated": truncated, "chart": v["chart"] }),
        );
    }
    if args.csv {
        print!("{}", csv(&columns, &rows));
    } else {
        let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
        table::print(&cols, &rows);
        eprintln!(
            "in {} ms{}",
            table::cell(&v["elapsed_ms"]),
            if truncated {
                " (truncated: more rows matched)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// Rows as CSV (RFC 4180 quoting).
fn csv(columns: &[String], rows: &[Value]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = columns
        .iter()
        .map(|c| field(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in rows {
        let line: Vec<String> = columns.iter().map(|c| field(&table::cell(&r[c]))).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn check(api: &Api, file: &Path, as_json: bool) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut results = Vec::new();
    let (mut parsed, mut ran, mut total) = (0, 0, 0);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .with_context(|| format!("{} line {}: not JSON", file.display(), i + 1))?;
        let Some(query) = v["query"].as_str() else {
            bail!("{} line {}: no \"query\" string", file.display(), i + 1);
        };
        total += 1;
        let (_, diags) = vigil_kql::parse(query);
        if let Some(d) = diags.first() {
            results.push(json!({
                "line": i + 1, "parse": "error", "run": "skipped",
                "error": d.render(query),
            }));
            continue;
        }
        parsed += 1;
        let (status, answer) =
            api.post_status("/api/v1/hunt", &json!({ "query": query, "max_rows": 1 }))?;
        let (run, error) = match status {
            200 => {
                ran += 1;
                ("ok", None)
            }
            _ => {
                let diags = answer["diagnostics"].as_array();
                let unsupported = diags.is_some_and(|d| {
                    !d.is_empty() && d.iter().all(|d| d["kind"] == "not_supported")
                });
                let msg = diags
                    .and_then(|d| d.first())
                    .map(|d| table::cell(&d["rendered"]))
                    .unwrap_or_else(|| table::cell(&answer["error"]));
                (if unsupported { "unsupported" } else { "error" }, Some(msg))
            }
        };
        let mut r = json!({ "line": i + 1, "parse": "ok", "run": run });
        if let Some(e) = error {
            r["error"] = json!(e);
        }
        results.push(r);
    }
    let report = json!({
        "queries": results,
        "totals": { "parsed": parsed, "ran": ran, "total": total },
    });
    if as_json {
        println!("{report}");
        return Ok(());
    }
    for r in report["queries"].as_array().into_iter().flatten() {
        if r["run"] != "ok" {
            println!(
                "line {}: parse {}, run {}\n  {}",
                r["line"],
                table::cell(&r["parse"]),
                table::cell(&r["run"]),
                table::cell(&r["error"]).replace('\n', "\n  ")
            );
        }
    }
    println!("{parsed}/{total} parse, {ran}/{total} run");
    Ok(())
}
