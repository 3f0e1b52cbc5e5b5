//! `vigil detections`: custom detection rules (a hunting query on a schedule that raises
//! alerts). A rule is written as a JSON file with the fields of
//! `POST /api/v1/custom-detections`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{encode, Api};
use crate::{print_json, table};

#[derive(Subcommand)]
pub enum DetectionsCmd {
    /// Every custom detection rule with its schedule and last run.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create a rule from a JSON file: {"name", "query", "schedule": "continuous|1h|3h|12h|24h",
    /// "title", "severity", "category", "techniques": [..], "description",
    /// "recommended_actions", "actions": [..]}.
    Create {
        file: PathBuf,
    },
    /// One rule.
    Show {
        id: String,
    },
    /// Run a rule now; prints the alerts it raised.
    Run {
        id: String,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
    Delete {
        id: String,
    },
}

pub fn detections(api: &Api, cmd: DetectionsCmd) -> Result<()> {
    let path = |id: &str, verb: &str| format!("/api/v1/custom-detections/{}{verb}", encode(id));
    match cmd {
        DetectionsCmd::List { json } => {
            let v = api.get("/api/v1/custom-detections")?;
            if json {
                return print_json(&v);
            }
            let rows = v.as_array().cloned().unwrap_or_default();
            table::print(
                &[
                    "id",
                    "name",
                    "schedule",
                    "severity",
                    "enabled",
                    "last_run",
                    "last_status",
                    "last_alerts",
                ],
                &rows,
            );
            Ok(())
        }
        DetectionsCmd::Create { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let body: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let v = api.post("/api/v1/custom-detections", &body)?;
            println!(
                "created {} ({}), first run now",
                table::cell(&v["id"]),
                table::cell(&v["name"])
            );
            Ok(())
        }
        DetectionsCmd::Show { id } => print_json(&api.get(&path(&id, ""))?),
        DetectionsCmd::Run { id } => {
            let v = api.post(&path(&id, "/run"), &json!({}))?;
            match v["rule"]["last_error"].as_str() {
                Some(err) => println!("the run failed: {err}"),
                None => println!("{} alert(s) raised", table::cell(&v["alerts"])),
            }
            Ok(())
        }
        DetectionsCmd::Enable { id } => {
            api.post(&path(&id, "/enable"), &json!({}))?;
            println!("{id} enabled");
            Ok(())
        }
        DetectionsCmd::Disable { id } => {
            api.post(&path(&id, "/disable"), &json!({}))?;
            println!("{id} disabled");
            Ok(())
        }
        DetectionsCmd::Delete { id } => {
            api.delete(&path(&id, ""))?;
            println!("{id} deleted");
            Ok(())
        }
    }
}
