//! `vigil alerts` and `vigil incidents`: listing, detail, and triage updates.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::client::{encode, Api};
use crate::{parse_duration, print_json, table};

#[derive(Subcommand)]
pub enum AlertsCmd {
    /// Alerts, most recent activity first.
    List {
        /// Only alerts with activity in this last period (e.g. 30m, 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// New, InProgress or Resolved.
        #[arg(long)]
        status: Option<String>,
        /// Informational, Low, Medium or High.
        #[arg(long)]
        severity: Option<String>,
        /// A DeviceId.
        #[arg(long)]
        device: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One alert with its evidence, comments and change history (JSON).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change an alert's status, classification, determination or assignee, or comment on it.
    Update {
        id: String,
        #[command(flatten)]
        change: Change,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum IncidentsCmd {
    /// Incidents, most recent activity first.
    List {
        /// Only incidents with activity in this last period (e.g. 30m, 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// New, InProgress or Resolved.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One incident with its alerts, entities, comments and history.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change an incident (resolving it resolves its alerts; classification, determination
    /// and assignee apply to its alerts too), or comment on it.
    Update {
        id: String,
        #[command(flatten)]
        change: Change,
        #[arg(long)]
        json: bool,
    },
}

/// The triage fields of `update`; at least one is required.
#[derive(Args)]
#[group(required = true, multiple = true)]
pub struct Change {
    /// New, InProgress or Resolved.
    #[arg(long)]
    status: Option<String>,
    /// TruePositive, InformationalExpectedActivity or FalsePositive.
    #[arg(long)]
    classification: Option<String>,
    /// Must fit the classification, e.g. Malware, SecurityTesting, NotMalicious, Other.
    #[arg(long)]
    determination: Option<String>,
    /// The user to assign ("" unassigns).
    #[arg(long = "assign", value_name = "USER")]
    assign: Option<String>,
    /// A comment, added in the same change.
    #[arg(long)]
    comment: Option<String>,
}

impl Change {
    fn body(&self) -> Value {
        let mut m = Map::new();
        let fields = [
            ("status", &self.status),
            ("classification", &self.classification),
            ("determination", &self.determination),
            ("assignee", &self.assign),
            ("comment", &self.comment),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        Value::Object(m)
    }
}

/// Unix ms of "now minus `since`", or 0.
fn since_ms(since: Option<&str>) -> Result<i64> {
    Ok(match since.map(parse_duration).transpose()? {
        Some(d) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            now.saturating_sub(d).as_millis() as i64
        }
        None => 0,
    })
}

/// `?since_ms=..&k=v..` with the given optional filters.
fn query(since: i64, filters: &[(&str, &Option<String>)]) -> String {
    let mut q = format!("?since_ms={since}");
    for (k, v) in filters {
        if let Some(v) = v {
            q.push_str(&format!("&{k}={}", encode(v)));
        }
    }
    q
}

/// Key/value lines for the scalar fields of an object.
fn print_fields(v: &Value, skip: &[&str]) {
    if let Some(obj) = v.as_object() {
        let width = obj.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, val) in obj.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
            println!("{k:<width$}  {}", table::cell(val));
        }
    }
}

fn print_comments(v: &Value) {
    let comments = v["Comments"].as_array().cloned().unwrap_or_default();
    if !comments.is_empty() {
        println!("\nComments:");
        for c in comments {
            println!(
                "  {} {}: {}",
                table::cell(&c["Created"]),
                table::cell(&c["Author"]),
                table::cell(&c["Comment"])
            );
        }
    }
}

pub fn alerts(api: &Api, cmd: AlertsCmd) -> Result<()> {
    match cmd {
        AlertsCmd::List {
            since,
            status,
            severity,
            device,
            json,
        } => {
            let q = query(
                since_ms(since.as_deref())?,
                &[
                    ("status", &status),
                    ("severity", &severity),
                    ("device", &device),
                ],
            );
            let v = api.get(&format!("/api/v1/alerts{q}"))?;
            if json {
                return print_json(&v);
            }
            let rows = v.as_array().cloned().unwrap_or_default();
            table::print(
                &[
                    "AlertId",
                    "Severity",
                    "Title",
                    "Category",
                    "AttackTechniques",
                    "DeviceId",
                    "LastActivity",
                    "Hits",
                    "Status",
                    "IncidentId",
                ],
                &rows,
            );
            Ok(())
        }
        // An alert nests its evidence: shown as JSON with or without `--json`.
        AlertsCmd::Show { id, json: _ } => {
            print_json(&api.get(&format!("/api/v1/alerts/{}", encode(&id)))?)
        }
        AlertsCmd::Update { id, change, json } => {
            let v = api.patch(&format!("/api/v1/alerts/{}", encode(&id)), &change.body())?;
            if json {
                return print_json(&v);
            }
            println!(
                "alert {id} updated: status {}, classification {}, determination {}, assigned to {}",
                or_dash(&v["Status"]),
                or_dash(&v["Classification"]),
                or_dash(&v["Determination"]),
                or_dash(&v["AssignedTo"]),
            );
            Ok(())
        }
    }
}

fn or_dash(v: &Value) -> String {
    match table::cell(v) {
        s if s.is_empty() => "-".into(),
        s => s,
    }
}

pub fn incidents(api: &Api, cmd: IncidentsCmd) -> Result<()> {
    match cmd {
        IncidentsCmd::List {
            since,
            status,
            json,
        } => {
            let q = query(since_ms(since.as_deref())?, &[("status", &status)]);
            let v = api.get(&format!("/api/v1/incidents{q}"))?;
            if json {
                return print_json(&v);
            }
            let rows = v.as_array().cloned().unwrap_or_default();
            table::print(
                &[
                    "IncidentId",
                    "Severity",
                    "Title",
                    "AlertCount",
                    "Devices",
                    "LastActivity",
                    "Status",
                    "AssignedTo",
                ],
                &rows,
            );
            Ok(())
        }
        IncidentsCmd::Show { id, json } => {
            let v = api.get(&format!("/api/v1/incidents/{}", encode(&id)))?;
            if json {
                return print_json(&v);
            }
            print_fields(&v, &["Alerts", "Entities", "Comments", "History"]);
            println!("\nAlerts:");
            let alerts = v["Alerts"].as_array().cloned().unwrap_or_default();
            table::print(
                &[
                    "AlertId",
                    "Severity",
                    "Title",
                    "Category",
                    "DeviceId",
                    "LastActivity",
                    "Status",
                ],
                &alerts,
            );
            let entities = v["Entities"].as_array().cloned().unwrap_or_default();
            if !entities.is_empty() {
                println!("\nEntities:");
                table::print(&["Kind", "Value"], &entities);
            }
            print_comments(&v);
            Ok(())
        }
        IncidentsCmd::Update { id, change, json } => {
            let v = api.patch(
                &format!("/api/v1/incidents/{}", encode(&id)),
                &change.body(),
            )?;
            if json {
                return print_json(&v);
            }
            println!(
                "incident {id} updated: status {}, classification {}, determination {}, assigned to {} ({} alerts)",
                or_dash(&v["Status"]),
                or_dash(&v["Classification"]),
                or_dash(&v["Determination"]),
                or_dash(&v["AssignedTo"]),
                or_dash(&v["AlertCount"]),
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: AlertsCmd,
    }

    #[test]
    fn update_needs_at_least_one_change() {
        assert!(T::try_parse_from(["t", "update", "al_1"]).is_err());
        let t = T::try_parse_from([
            "t", "update", "al_1", "--status", "Resolved", "--assign", "",
        ])
        .unwrap();
        let AlertsCmd::Update { change, .. } = t.cmd else {
            panic!()
        };
        assert_eq!(
            change.body(),
            json!({ "status": "Resolved", "assignee": "" })
        );
    }

    #[test]
    fn filters_are_encoded() {
        let q = query(5, &[("device", &Some("a b/c".into())), ("status", &None)]);
        assert_eq!(q, "?since_ms=5&device=a%20b%2Fc");
    }
}
