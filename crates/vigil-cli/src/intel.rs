//! `vigil indicators`, `vigil feeds`, `vigil warninglists` and `vigil entity`: threat
//! intelligence over the API (`/api/v1/indicators`, `/api/v1/feeds`, `/api/v1/warninglists`,
//! `/api/v1/files|ips|domains/{value}`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{encode, Api};
use crate::{parse_duration, print_json, table};

#[derive(Subcommand)]
pub enum IndicatorsCmd {
    /// Add an indicator: a file hash, an address or network, a domain (and its subdomains),
    /// a URL, or a certificate (its SHA-1 thumbprint, or --file with the certificate).
    Add {
        /// sha256, sha1, md5, ip, cidr, domain, url or cert.
        #[arg(long = "type")]
        kind: String,
        #[arg(long, required_unless_present = "file")]
        value: Option<String>,
        /// A certificate file (PEM or DER), for --type cert.
        #[arg(long, conflicts_with = "value")]
        file: Option<PathBuf>,
        /// allow, audit, warn, block or block-and-remediate.
        #[arg(long)]
        action: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// informational, low, medium (default) or high.
        #[arg(long)]
        severity: Option<String>,
        /// Lifetime, e.g. 12h, 30d (default: no expiry).
        #[arg(long)]
        expires: Option<String>,
        /// Device groups it applies to (default: every device).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Do not raise alerts when seen (blocks are still reported).
        #[arg(long)]
        no_alert: bool,
        #[arg(long)]
        json: bool,
    },
    /// Indicators, filtered and paged.
    List {
        #[arg(long = "type")]
        kind: Option<String>,
        #[arg(long)]
        action: Option<String>,
        /// Provenance source: manual, or a feed's name.
        #[arg(long)]
        source: Option<String>,
        /// Text in the value or the title.
        #[arg(long)]
        search: Option<String>,
        /// Leave out expired ones.
        #[arg(long)]
        live: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long)]
        json: bool,
    },
    Show {
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Change an indicator's action, severity, title or expiry.
    Update {
        id: u64,
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        title: Option<String>,
        /// A new lifetime from now, or `never`.
        #[arg(long)]
        expires: Option<String>,
    },
    Remove {
        id: u64,
    },
    /// Import a file: all of it or, if a record is broken, none of it.
    Import {
        file: PathBuf,
        /// stix, taxii, misp, csv or abusech.
        #[arg(long)]
        format: String,
        /// Provenance source of the indicators (default: import).
        #[arg(long)]
        source: Option<String>,
        /// Action where the file says none (default audit).
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        expires: Option<String>,
        /// Remove the source's indicators that the file no longer has.
        #[arg(long)]
        replace: bool,
        #[arg(long)]
        json: bool,
    },
    /// Every indicator as CSV (the format `import --format csv` reads).
    Export {
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Look for indicators in the stored telemetry again.
    Retrohunt {
        ids: Vec<u64>,
    },
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum FeedsCmd {
    /// Add a feed refreshed on a schedule.
    Add {
        #[arg(long)]
        name: String,
        /// stix, taxii, misp, csv or abusech.
        #[arg(long)]
        format: String,
        /// The file's URL, or the TAXII API root.
        #[arg(long)]
        url: String,
        /// TAXII: the collection's id or title.
        #[arg(long)]
        collection: Option<String>,
        #[arg(long)]
        username: Option<String>,
        /// Password or API key (read from this environment variable).
        #[arg(long)]
        secret_env: Option<String>,
        /// Refresh interval, e.g. 1h (default 1h, at least 60s).
        #[arg(long, default_value = "1h")]
        interval: String,
        #[arg(long, default_value = "audit")]
        action: String,
        #[arg(long, default_value = "medium")]
        severity: String,
        /// Indicators expire this long after the refresh that brought them.
        #[arg(long)]
        expire_after: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Show {
        feed: String,
        #[arg(long)]
        json: bool,
    },
    /// Refresh now.
    Refresh {
        feed: String,
        #[arg(long)]
        json: bool,
    },
    Enable {
        feed: String,
    },
    Disable {
        feed: String,
    },
    /// Remove a feed and its indicators.
    Remove {
        feed: String,
    },
}

#[derive(Subcommand)]
pub enum WarningListsCmd {
    /// Store a MISP warning list (JSON file); imports leave out the values it covers.
    Add {
        file: PathBuf,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Remove {
        list: String,
    },
}

#[derive(Subcommand)]
pub enum EntityCmd {
    /// A file by SHA-256, SHA-1 or MD5: prevalence, names, alerts, indicators.
    File {
        hash: String,
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// An IP address: prevalence, alerts, indicators.
    Ip {
        ip: String,
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// A domain (and its subdomains): prevalence, alerts, indicators.
    Domain {
        name: String,
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

const LIST_COLUMNS: &[&str] = &[
    "IndicatorId",
    "IndicatorType",
    "IndicatorValue",
    "Action",
    "Severity",
    "ExpirationTime",
    "Source",
    "Title",
];

fn show_object(v: &Value) {
    if let Some(obj) = v.as_object() {
        let width = obj.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, val) in obj {
            println!("{k:<width$}  {}", table::cell(val));
        }
    }
}

fn seconds(d: Option<&str>) -> Result<Option<u64>> {
    d.map(|d| parse_duration(d).map(|d| d.as_secs()))
        .transpose()
}

fn print_report(v: &Value, json: bool) -> Result<()> {
    if json {
        return print_json(v);
    }
    println!(
        "read {}, added {}, updated {}, unchanged {}, removed {}, skipped {}",
        v["read"], v["added"], v["updated"], v["unchanged"], v["removed"], v["skipped"]
    );
    for s in v["skipped_records"]
        .as_array()
        .into_iter()
        .flatten()
        .take(20)
    {
        println!(
            "  skipped {}: {}",
            table::cell(&s["record"]),
            table::cell(&s["reason"])
        );
    }
    Ok(())
}

pub fn indicators(api: &Api, cmd: IndicatorsCmd) -> Result<()> {
    match cmd {
        IndicatorsCmd::Add {
            kind,
            value,
            file,
            action,
            title,
            description,
            severity,
            expires,
            groups,
            no_alert,
            json,
        } => {
            let value = match (value, file) {
                (Some(v), _) => v,
                (None, Some(f)) => {
                    let bytes = std::fs::read(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?;
                    vigil_intel::normalize::cert_thumbprint(&bytes)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?
                }
                (None, None) => bail!("give --value or --file"),
            };
            let mut body = json!({
                "type": kind,
                "value": value,
                "action": action,
                "generate_alert": !no_alert,
                "device_groups": groups,
            });
            for (k, v) in [
                ("title", title),
                ("description", description),
                ("severity", severity),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            if let Some(s) = seconds(expires.as_deref())? {
                body["ttl_seconds"] = json!(s);
            }
            let v = api.post("/api/v1/indicators", &body)?;
            if json {
                return print_json(&v);
            }
            println!(
                "indicator {} added: {} {} → {}",
                v["IndicatorId"],
                table::cell(&v["IndicatorType"]),
                table::cell(&v["IndicatorValue"]),
                table::cell(&v["Action"])
            );
            Ok(())
        }
        IndicatorsCmd::List {
            kind,
            action,
            source,
            search,
            live,
            limit,
            offset,
            json,
        } => {
            let mut q = format!("?limit={limit}&offset={offset}");
            for (k, v) in [
                ("type", kind),
                ("action", action),
                ("source", source),
                ("q", search),
            ] {
                if let Some(v) = v {
                    q.push_str(&format!("&{k}={}", encode(&v)));
                }
            }
            if live {
                q.push_str("&live=true");
            }
            let v = api.get(&format!("/api/v1/indicators{q}"))?;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            if json {
                return print_json(&Value::Array(items));
            }
            table::print(LIST_COLUMNS, &items);
            println!("{} of {} (offset {offset})", items.len(), v["total"]);
            Ok(())
        }
        IndicatorsCmd::Show { id, json } => {
            let v = api.get(&format!("/api/v1/indicators/{id}"))?;
            if json {
                return print_json(&v);
            }
            show_object(&v);
            Ok(())
        }
        IndicatorsCmd::Update {
            id,
            action,
            severity,
            title,
            expires,
        } => {
            let mut body = json!({});
            for (k, v) in [("action", action), ("severity", severity), ("title", title)] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            match expires.as_deref() {
                Some("never") => body["ttl_seconds"] = Value::Null,
                Some(d) => body["ttl_seconds"] = json!(parse_duration(d)?.as_secs()),
                None => {}
            }
            let v = api.patch(&format!("/api/v1/indicators/{id}"), &body)?;
            show_object(&v);
            Ok(())
        }
        IndicatorsCmd::Remove { id } => {
            api.delete(&format!("/api/v1/indicators/{id}"))?;
            println!("indicator {id} removed");
            Ok(())
        }
        IndicatorsCmd::Import {
            file,
            format,
            source,
            action,
            severity,
            expires,
            replace,
            json,
        } => {
            let data =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut q = format!("?format={}", encode(&format));
            for (k, v) in [
                ("source", source),
                ("action", action),
                ("severity", severity),
            ] {
                if let Some(v) = v {
                    q.push_str(&format!("&{k}={}", encode(&v)));
                }
            }
            if let Some(s) = seconds(expires.as_deref())? {
                q.push_str(&format!("&ttl_seconds={s}"));
            }
            if replace {
                q.push_str("&replace=true");
            }
            let v = api
                .post_bytes(&format!("/api/v1/indicators/import{q}"), data)
                .with_context(|| format!("import of {} refused", file.display()))?;
            print_report(&v, json)
        }
        IndicatorsCmd::Export { output } => {
            let text = api.get_text("/api/v1/indicators/export")?;
            match output {
                Some(p) => std::fs::write(&p, text)
                    .with_context(|| format!("cannot write {}", p.display()))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        IndicatorsCmd::Retrohunt { ids } => {
            if ids.is_empty() {
                bail!("name at least one indicator id");
            }
            api.post("/api/v1/indicators/retrohunt", &json!({ "ids": ids }))?;
            println!("retro-hunt queued for {} indicator(s)", ids.len());
            Ok(())
        }
    }
}

pub fn feeds(api: &Api, cmd: FeedsCmd) -> Result<()> {
    let path = |f: &str, verb: &str| format!("/api/v1/feeds/{}{verb}", encode(f));
    match cmd {
        FeedsCmd::Add {
            name,
            format,
            url,
            collection,
            username,
            secret_env,
            interval,
            action,
            severity,
            expire_after,
            json,
        } => {
            let secret = secret_env
                .map(|e| {
                    std::env::var(&e)
                        .with_context(|| format!("environment variable {e} is not set"))
                })
                .transpose()?;
            let v = api.post(
                "/api/v1/feeds",
                &json!({
                    "name": name, "format": format, "url": url, "collection": collection,
                    "username": username, "secret": secret,
                    "interval_seconds": parse_duration(&interval)?.as_secs(),
                    "action": action, "severity": severity,
                    "expire_after_seconds": seconds(expire_after.as_deref())?,
                }),
            )?;
            if json {
                return print_json(&v);
            }
            println!(
                "feed {} added ({})",
                table::cell(&v["Name"]),
                table::cell(&v["FeedId"])
            );
            Ok(())
        }
        FeedsCmd::List { json } => {
            let v = api.get("/api/v1/feeds")?;
            if json {
                return print_json(&v);
            }
            let rows = v.as_array().cloned().unwrap_or_default();
            table::print(
                &[
                    "FeedId",
                    "Name",
                    "Format",
                    "Enabled",
                    "LastRun",
                    "LastStatus",
                    "LastCount",
                    "LastError",
                ],
                &rows,
            );
            Ok(())
        }
        FeedsCmd::Show { feed, json } => {
            let v = api.get(&path(&feed, ""))?;
            if json {
                return print_json(&v);
            }
            show_object(&v);
            Ok(())
        }
        FeedsCmd::Refresh { feed, json } => {
            let v = api.post(&path(&feed, "/refresh"), &json!({}))?;
            print_report(&v, json)
        }
        FeedsCmd::Enable { feed } => {
            api.post(&path(&feed, "/enable"), &json!({}))?;
            println!("feed {feed} enabled");
            Ok(())
        }
        FeedsCmd::Disable { feed } => {
            api.post(&path(&feed, "/disable"), &json!({}))?;
            println!("feed {feed} disabled");
            Ok(())
        }
        FeedsCmd::Remove { feed } => {
            let v = api.delete(&path(&feed, ""))?;
            println!(
                "feed {feed} removed with {} indicator(s)",
                v["indicators_removed"]
            );
            Ok(())
        }
    }
}

pub fn warning_lists(api: &Api, cmd: WarningListsCmd) -> Result<()> {
    match cmd {
        WarningListsCmd::Add { file } => {
            let data =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let v = api.post_bytes("/api/v1/warninglists", data)?;
            println!(
                "warning list {} stored ({} entries)",
                table::cell(&v["Name"]),
                v["Entries"]
            );
            Ok(())
        }
        WarningListsCmd::List { json } => {
            let v = api.get("/api/v1/warninglists")?;
            if json {
                return print_json(&v);
            }
            table::print(
                &["WarningListId", "Name", "Type", "Entries", "Created"],
                &v.as_array().cloned().unwrap_or_default(),
            );
            Ok(())
        }
        WarningListsCmd::Remove { list } => {
            api.delete(&format!("/api/v1/warninglists/{}", encode(&list)))?;
            println!("warning list {list} removed");
            Ok(())
        }
    }
}

pub fn entity(api: &Api, cmd: EntityCmd, json: bool) -> Result<()> {
    let v = match &cmd {
        EntityCmd::File { hash, days } => {
            api.get(&format!("/api/v1/files/{}?days={days}", encode(hash)))?
        }
        EntityCmd::Ip { ip, days } => {
            api.get(&format!("/api/v1/ips/{}?days={days}", encode(ip)))?
        }
        EntityCmd::Domain { name, days } => {
            api.get(&format!("/api/v1/domains/{}?days={days}", encode(name)))?
        }
    };
    if json {
        return print_json(&v);
    }
    let p = &v["Prevalence"];
    println!("{} {}", table::cell(&v["Type"]), table::cell(&v["Value"]));
    println!(
        "seen on {} device(s), {} event(s), first {} last {}",
        p["Devices"],
        p["Events"],
        table::cell(&p["FirstSeen"]),
        table::cell(&p["LastSeen"])
    );
    if let Some(names) = v["Names"].as_array().filter(|n| !n.is_empty()) {
        println!("\nnames:");
        table::print(&["FileName", "FolderPath"], names);
    }
    let deciding = &v["Indicators"]["Deciding"];
    if !deciding.is_null() {
        println!(
            "\nindicator {} ({} {}) → {}",
            deciding["IndicatorId"],
            table::cell(&deciding["IndicatorType"]),
            table::cell(&deciding["IndicatorValue"]),
            table::cell(&deciding["Action"])
        );
    }
    if let Some(alerts) = v["Alerts"].as_array().filter(|a| !a.is_empty()) {
        println!("\nalerts:");
        table::print(
            &["AlertId", "Title", "Severity", "Status", "LastActivity"],
            alerts,
        );
    }
    Ok(())
}
