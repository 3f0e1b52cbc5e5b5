//! `vigil rules list|enable|disable` (the server's catalogue) and `vigil suppressions`.

use anyhow::{anyhow, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{encode, Api};
use crate::{parse_duration, print_json, table};

#[derive(Subcommand)]
pub enum SuppressionsCmd {
    /// Suppression rules, newest first, with their hit counts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Suppress hits of a rule: all of them, or those whose evidence matches every --match,
    /// on every device or on the --device ones.
    Add {
        /// The rule id (see `vigil rules list`).
        #[arg(long = "rule", value_name = "ID")]
        rule: String,
        /// KEY=PATTERN, exact or with `*` for any run of characters (case-sensitive). Keys:
        /// FileName, FolderPath, ProcessCommandLine, InitiatingProcessFileName,
        /// InitiatingProcessCommandLine, SHA256, RemoteIP, RemoteUrl, AccountName. Repeatable;
        /// all must match.
        #[arg(long = "match", value_name = "KEY=PATTERN")]
        matches: Vec<String>,
        /// A DeviceId the suppression is limited to. Repeatable; none: all devices.
        #[arg(long = "device", value_name = "ID")]
        devices: Vec<String>,
        /// hide: record no alert; resolve: record it already Resolved (expected activity).
        #[arg(long, default_value = "hide")]
        action: String,
        /// Stop applying after this long, e.g. 12h, 7d (default: never).
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Why these hits are expected.
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a suppression rule.
    Remove { id: String },
}

/// `KEY=PATTERN` as a condition object.
fn condition(m: &str) -> Result<Value> {
    let (k, p) = m
        .split_once('=')
        .filter(|(k, p)| !k.trim().is_empty() && !p.is_empty())
        .ok_or_else(|| {
            anyhow!("bad --match {m:?}: expected KEY=PATTERN, e.g. FolderPath=/opt/backup/*")
        })?;
    Ok(json!({ "key": k.trim(), "pattern": p }))
}

pub fn list(api: &Api, json: bool) -> Result<()> {
    let v = api.get("/api/v1/rules")?;
    if json {
        return print_json(&v);
    }
    let rows = v.as_array().cloned().unwrap_or_default();
    table::print(
        &[
            "RuleId",
            "Severity",
            "Title",
            "AttackTechniques",
            "Enabled",
            "Source",
        ],
        &rows,
    );
    Ok(())
}

pub fn switch(api: &Api, id: &str, enable: bool) -> Result<()> {
    let verb = if enable { "enable" } else { "disable" };
    let v = api.post(&format!("/api/v1/rules/{}/{verb}", encode(id)), &json!({}))?;
    println!("rule {id} ({}) {verb}d", table::cell(&v["Title"]));
    Ok(())
}

pub fn suppressions(api: &Api, cmd: SuppressionsCmd) -> Result<()> {
    match cmd {
        SuppressionsCmd::List { json } => {
            let v = api.get("/api/v1/suppressions")?;
            if json {
                return print_json(&v);
            }
            let rows: Vec<Value> = v
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut s| {
                    let conds: Vec<String> = s["Conditions"]
                        .as_array()
                        .map(|c| {
                            c.iter()
                                .map(|c| {
                                    format!(
                                        "{}={}",
                                        table::cell(&c["Key"]),
                                        table::cell(&c["Pattern"])
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    s["Match"] = json!(conds.join(" "));
                    s
                })
                .collect();
            table::print(
                &[
                    "SuppressionId",
                    "RuleId",
                    "Match",
                    "Scope",
                    "Action",
                    "Expires",
                    "Active",
                    "Hits",
                    "LastHit",
                    "CreatedBy",
                    "Comment",
                ],
                &rows,
            );
            Ok(())
        }
        SuppressionsCmd::Add {
            rule,
            matches,
            devices,
            action,
            expires,
            comment,
            json,
        } => {
            let conditions = matches
                .iter()
                .map(|m| condition(m))
                .collect::<Result<Vec<_>>>()?;
            let ttl = expires.as_deref().map(parse_duration).transpose()?;
            if ttl.is_some_and(|d| d.as_secs() == 0) {
                anyhow::bail!("bad --expires: the duration must be positive");
            }
            let v = api.post(
                "/api/v1/suppressions",
                &json!({
                    "rule_id": rule,
                    "conditions": conditions,
                    "devices": devices,
                    "action": action,
                    "ttl_seconds": ttl.map(|d| d.as_secs()),
                    "comment": comment,
                }),
            )?;
            if json {
                return print_json(&v);
            }
            println!(
                "suppression {} created ({} hits of rule {}{})",
                table::cell(&v["SuppressionId"]),
                table::cell(&v["Action"]),
                table::cell(&v["RuleId"]),
                match v["Expires"].as_str() {
                    Some(e) => format!(", until {e}"),
                    None => String::new(),
                }
            );
            Ok(())
        }
        SuppressionsCmd::Remove { id } => {
            api.delete(&format!("/api/v1/suppressions/{}", encode(&id)))?;
            println!("suppression {id} removed");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_options_split_at_the_first_equals_sign() {
        assert_eq!(
            condition("ProcessCommandLine=a=b*").unwrap(),
            json!({ "key": "ProcessCommandLine", "pattern": "a=b*" })
        );
        assert!(condition("FileName").is_err());
        assert!(condition("=x").is_err());
        assert!(condition("FileName=").is_err());
    }
}
