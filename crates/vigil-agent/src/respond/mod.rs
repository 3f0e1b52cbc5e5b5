//! Response actions on the device: the agent's [`vigil_uplink::CommandHandler`].
//!
//! The uplink hands every new command (an action of the action center, or a live-response
//! command) to [`Responder::handle`], which returns at once: the command is queued on its
//! *lane* or run on a thread of its own, and answered through the [`Reporter`] (started,
//! then succeeded with a JSON object, or failed with a message naming the problem).
//!
//! - `isolate`/`release` (`isolate.rs`, nftables), `kill` (`procs.rs`), `quarantine`/`restore`
//!   /`live.remediate` (`quarantine.rs`, with `persistence.rs`), `scan`/`live.analyze`
//!   (`scan.rs`, vigil-scan's engine), `collect` (`collect.rs`), `restrict`/`unrestrict`
//!   (`restrict.rs`, protection's exec guard), and the other `live.*` commands (`live.rs`,
//!   `files.rs`, `net.rs`); `child.rs` runs programs with a time limit, `error.rs` checks
//!   arguments again (the server checked them, but the device does not trust a message).
//!
//! **Invariant:** actions that conflict never run at once: each lane (network: isolate and
//! release; exec: restrict and unrestrict; files: quarantine, remediate and restore; scan;
//! collect) runs its actions one after the other in the order they arrived; the other
//! commands (kill and live response) each run on their own thread.
//!
//! **Invariant:** a command is reported started only when it starts: one cancelled (or whose
//! time to live passes) while it waits on its lane never starts and is not reported (the
//! server already ended it). A command delivered again while it waits is not queued twice.
//!
//! **Invariant:** isolation and the application restriction are persisted in
//! `<state_dir>/respond/` and applied again by [`Responder::start`] when the agent starts,
//! before the uplink runs, until a `release` / `unrestrict` lifts them.

mod child;
mod collect;
mod error;
mod files;
mod isolate;
mod live;
mod net;
mod persistence;
mod procs;
mod quarantine;
mod restrict;
pub(crate) mod scan;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vigil_scan::Engine;
use vigil_schema::Row;
use vigil_uplink::{Command, CommandHandler, Reporter};

pub use error::RespondError;
use error::{Args, Result};

use crate::protect::Protection;

/// Rows (scan detections) waiting for the agent loop at most.
const MAX_ROWS: usize = 10_000;
/// The default and largest `getfile` sizes (the server's limits; it sends them anyway).
const DEFAULT_GETFILE_BYTES: u64 = 512 << 20;
const MAX_UPLOAD_BYTES: u64 = 3 << 30;
/// How often the restriction's package list is checked for a dpkg change.
const PACKAGE_CHECK: Duration = Duration::from_secs(10);

/// What the responder needs to know of the agent.
#[derive(Debug, Clone)]
pub struct RespondOptions {
    pub state_dir: PathBuf,
    /// The enrolled server (`HOST:PORT`): isolation keeps the device's link to it.
    pub server: Option<String>,
    /// The device's identity, written into investigation packages.
    pub device: Value,
    /// On-demand scans use the engine real-time protection uses: the team pack, the
    /// operator's rule directories and the SHA-256 lists.
    pub antivirus: crate::av::AntivirusConfig,
}

/// What `vigil-agent status` shows of response actions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RespondStatus {
    /// The isolation in force (mode, allowed services, server addresses, since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Value>,
    /// The application restriction in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction: Option<Value>,
    /// A persisted isolation or restriction that could not be applied at start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    pub succeeded: u64,
    pub failed: u64,
    pub queued: u64,
}

/// The lane of a kind, or `None` for commands that run on their own thread.
fn lane(kind: &str) -> Option<&'static str> {
    match kind {
        "isolate" | "release" => Some("network"),
        "restrict" | "unrestrict" => Some("exec"),
        "quarantine" | "restore" | "live.remediate" => Some("files"),
        "scan" => Some("scan"),
        "collect" => Some("collect"),
        _ => None,
    }
}

struct Job {
    cmd: Command,
    reporter: Reporter,
}

/// The agent's response-action executor.
pub struct Responder {
    inner: Arc<Inner>,
}

struct Inner {
    state_dir: PathBuf,
    /// `<state_dir>/respond`: isolation, restriction, quarantine records, scripts.
    dir: PathBuf,
    run_dir: PathBuf,
    server: Option<String>,
    device: Value,
    antivirus: crate::av::AntivirusConfig,
    protection: Arc<Protection>,
    engine: OnceLock<std::result::Result<Arc<Engine>, String>>,
    lanes: Mutex<HashMap<&'static str, Sender<Job>>>,
    /// Ids handled by this run (queued, running or done): a command is taken once.
    taken: Mutex<HashSet<String>>,
    cancelled: Mutex<HashSet<String>>,
    rows: Mutex<VecDeque<Row>>,
    start_errors: Mutex<Vec<String>>,
    /// Held while the restriction changes (the exec lane and the package watch).
    exec_change: Mutex<()>,
    stop: AtomicBool,
    succeeded: AtomicU64,
    failed: AtomicU64,
    queued: AtomicU64,
}

impl Responder {
    /// Create the responder and apply again the isolation and restriction persisted by an
    /// earlier run (failures are printed and shown in the status; they never stop the agent).
    pub fn start(opts: RespondOptions, protection: Arc<Protection>) -> Responder {
        let dir = opts.state_dir.join("respond");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("vigil-agent: respond: cannot create {}: {e}", dir.display());
        }
        let inner = Arc::new(Inner {
            run_dir: dir.join("run"),
            dir,
            state_dir: opts.state_dir,
            server: opts.server,
            device: opts.device,
            antivirus: opts.antivirus,
            protection,
            engine: OnceLock::new(),
            lanes: Mutex::default(),
            taken: Mutex::default(),
            cancelled: Mutex::default(),
            rows: Mutex::default(),
            start_errors: Mutex::default(),
            exec_change: Mutex::new(()),
            stop: AtomicBool::new(false),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            queued: AtomicU64::new(0),
        });
        // Scripts of a run cut short by the agent's death are not kept.
        let _ = std::fs::remove_dir_all(&inner.run_dir);
        let mut errors = Vec::new();
        match isolate::reapply(&inner.dir) {
            Some(Ok(iso)) => eprintln!(
                "vigil-agent: respond: isolation ({}) applied again; the server {} stays reachable",
                iso.mode, iso.server
            ),
            Some(Err(e)) => errors.push(format!("cannot apply the isolation again: {e}")),
            None => {}
        }
        match restrict::reapply(&inner.dir, &inner.protection, &inner.run_dir) {
            Some(Ok(_)) => eprintln!("vigil-agent: respond: application restriction applied again"),
            Some(Err(e)) => errors.push(format!(
                "cannot apply the application restriction again: {e}"
            )),
            None => {}
        }
        for e in &errors {
            eprintln!("vigil-agent: respond: {e}");
        }
        *lock(&inner.start_errors) = errors;
        let watch = Arc::clone(&inner);
        let _ = std::thread::Builder::new()
            .name("respond-watch".into())
            .spawn(move || watch_packages(&watch));
        Responder { inner }
    }

    /// The handler to give the uplink.
    pub fn handler(&self) -> Arc<dyn CommandHandler> {
        Arc::new(Handler(Arc::clone(&self.inner)))
    }

    /// Rows for the agent loop (scan detections), oldest first.
    pub fn take_rows(&self) -> Vec<Row> {
        lock(&self.inner.rows).drain(..).collect()
    }

    pub fn status(&self) -> RespondStatus {
        let i = &self.inner;
        RespondStatus {
            isolation: isolate::load(&i.dir).map(|iso| iso.to_json()),
            restriction: restrict::load(&i.dir)
                .map(|r| json!({ "Allow": r.allow, "Since": r.since, "ActionId": r.action_id })),
            errors: lock(&i.start_errors).clone(),
            succeeded: i.succeeded.load(Ordering::Relaxed),
            failed: i.failed.load(Ordering::Relaxed),
            queued: i.queued.load(Ordering::Relaxed),
        }
    }

    /// Start nothing more; a scan running stops early. Isolation and restriction stay (they
    /// are lifted only by their actions).
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        lock(&self.inner.lanes).clear();
    }
}

/// The status lines of `vigil-agent status`.
pub fn status_lines(s: &RespondStatus) -> Vec<String> {
    let mut out = Vec::new();
    match &s.isolation {
        Some(i) => out.push(format!(
            "isolation  {} since {} (only the server {} {}{})",
            i["Mode"].as_str().unwrap_or("?"),
            i["Since"].as_str().unwrap_or("?"),
            i["Server"].as_str().unwrap_or("?"),
            i["ServerAddresses"],
            match i["Allowed"].as_array().map_or(0, Vec::len) {
                0 => String::new(),
                n => format!(" and {n} allowed services"),
            }
        )),
        None => out.push("isolation  none".into()),
    }
    if let Some(r) = &s.restriction {
        out.push(format!(
            "restricted since {}: only package files, the agent and {} allowed entries may run",
            r["Since"].as_str().unwrap_or("?"),
            r["Allow"].as_array().map_or(0, Vec::len)
        ));
    }
    for e in &s.errors {
        out.push(format!("respond    {e}"));
    }
    out.push(format!(
        "actions    {} succeeded, {} failed, {} waiting",
        s.succeeded, s.failed, s.queued
    ));
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Handler(Arc<Inner>);

impl CommandHandler for Handler {
    fn handle(&self, cmd: Command, reporter: Reporter) {
        let inner = &self.0;
        if inner.stop.load(Ordering::SeqCst) || !lock(&inner.taken).insert(cmd.id.clone()) {
            // Stopping (the next run takes it) or already taken by this run.
            return;
        }
        let job = Job { cmd, reporter };
        match lane(&job.cmd.kind) {
            Some(name) => {
                inner.queued.fetch_add(1, Ordering::Relaxed);
                let mut lanes = lock(&inner.lanes);
                let tx = lanes.entry(name).or_insert_with(|| {
                    let (tx, rx) = mpsc::channel::<Job>();
                    let worker = Arc::clone(inner);
                    let spawned = std::thread::Builder::new()
                        .name(format!("respond-{name}"))
                        .spawn(move || {
                            for job in rx {
                                worker.queued.fetch_sub(1, Ordering::Relaxed);
                                worker.run(job);
                            }
                        });
                    if let Err(e) = spawned {
                        eprintln!("vigil-agent: respond: cannot start the {name} lane: {e}");
                    }
                    tx
                });
                if let Err(mpsc::SendError(job)) = tx.send(job) {
                    inner.queued.fetch_sub(1, Ordering::Relaxed);
                    job.reporter.failed(
                        &job.cmd.id,
                        "the agent could not queue this action (its worker thread is gone)",
                    );
                }
            }
            None => {
                let worker = Arc::clone(inner);
                let id = job.cmd.id.clone();
                let rep = job.reporter.clone();
                let spawned = std::thread::Builder::new()
                    .name("respond-live".into())
                    .spawn(move || worker.run(job));
                if let Err(e) = spawned {
                    rep.failed(
                        &id,
                        &format!("the agent cannot start a thread for this action: {e}"),
                    );
                }
            }
        }
    }

    fn cancel(&self, id: &str) {
        lock(&self.0.cancelled).insert(id.to_string());
    }
}

fn now_ms() -> i64 {
    vigil_schema::Timestamp::now().nanos() / 1_000_000
}

impl Inner {
    /// Start a job unless it was cancelled or expired while it waited; report its end.
    fn run(&self, job: Job) {
        let Job { cmd, reporter } = job;
        if lock(&self.cancelled).remove(&cmd.id) || self.stop.load(Ordering::SeqCst) {
            return;
        }
        if cmd.expires_ms > 0 && cmd.expires_ms < now_ms() {
            // The server ends it TimedOut; starting it now would act after the operator's
            // deadline.
            return;
        }
        reporter.started(&cmd.id);
        match self.execute(&cmd, &reporter) {
            Ok(v) => {
                self.succeeded.fetch_add(1, Ordering::Relaxed);
                reporter.succeeded(&cmd.id, v);
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                reporter.failed(&cmd.id, &format!("{}: {e}", cmd.kind));
            }
        }
    }

    fn engine(&self) -> Result<Arc<Engine>> {
        self.engine
            .get_or_init(|| {
                let (engine, errors) = crate::av::build_engine(&self.antivirus);
                for e in errors {
                    eprintln!("vigil-agent: respond: scanning engine: {e}");
                }
                if engine.rule_count() == 0 {
                    return Err("the scanning engine has no rules".to_string());
                }
                Ok(Arc::new(engine))
            })
            .clone()
            .map_err(RespondError::Failed)
    }

    fn push_rows(&self, rows: impl IntoIterator<Item = Row>) {
        let mut q = lock(&self.rows);
        for r in rows {
            if q.len() < MAX_ROWS {
                q.push_back(r);
            }
        }
    }

    fn execute(&self, cmd: &Command, rep: &Reporter) -> Result<Value> {
        let raw: Value = if cmd.args_json.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&cmd.args_json)
                .map_err(|e| RespondError::Failed(format!("the arguments are not JSON: {e}")))?
        };
        let args = Args::new(&raw)?;
        let id = cmd.id.as_str();
        match cmd.kind.as_str() {
            "isolate" => {
                let (mode, allow) = isolate::parse_args(&args)?;
                isolate::isolate(&self.dir, self.server.as_deref(), mode, allow, id)
                    .map(|iso| iso.to_json())
            }
            "release" => isolate::release(&self.dir),
            "kill" => {
                let pid = args.opt_u64("pid")?.ok_or_else(|| RespondError::Argument {
                    name: "pid",
                    reason: "is missing".into(),
                })?;
                let pid = u32::try_from(pid).map_err(|_| RespondError::Argument {
                    name: "pid",
                    reason: format!("{pid} is not a process id"),
                })?;
                procs::kill(pid, args.opt_u64("start_time_ns")?, args.flag("tree")?)
            }
            "quarantine" | "live.remediate" => {
                let path = args.path("path")?;
                // The threat is named when the engine is already loaded; a quarantine does
                // not wait for the rules to compile.
                let engine = self.engine.get().and_then(|e| e.as_ref().ok()).cloned();
                quarantine::quarantine(
                    &self.state_dir,
                    &self.dir,
                    engine.as_deref(),
                    &path,
                    args.opt_string("sha256")?,
                    id,
                )
            }
            "restore" => {
                let qid = args.string("quarantine_id")?;
                let to = args.opt_path("path")?;
                quarantine::restore(&self.state_dir, &self.dir, qid, to.as_deref())
            }
            "collect" => self.collect(id, rep),
            "scan" => {
                let kind = args.opt_string("type")?.unwrap_or("quick");
                let path = args.opt_path("path")?;
                let target = match (kind, &path) {
                    ("quick", _) => scan::Target::Quick,
                    ("full", _) => scan::Target::Full,
                    ("custom", Some(p)) => scan::Target::Custom(p),
                    ("custom", None) => {
                        return Err(RespondError::Argument {
                            name: "path",
                            reason: "is missing (a custom scan needs an absolute path)".into(),
                        })
                    }
                    (other, _) => {
                        return Err(RespondError::Argument {
                            name: "type",
                            reason: format!("must be quick, full or custom, not {other:?}"),
                        })
                    }
                };
                let engine = self.engine()?;
                let vault = self.state_dir.join("quarantine");
                let (v, found) = scan::scan(&engine, target, &vault, &self.stop)?;
                self.push_rows(found.iter().map(|f| f.row(kind)));
                Ok(v)
            }
            "restrict" => {
                let _change = lock(&self.exec_change);
                restrict::restrict(
                    &self.dir,
                    &self.protection,
                    args.strings("allow")?,
                    &self.run_dir,
                    id,
                )
            }
            "unrestrict" => {
                let _change = lock(&self.exec_change);
                restrict::unrestrict(&self.dir, &self.protection)
            }
            "live.processes" => {
                let users = crate::users::Users::new();
                let (boot, tick) = (procs::boot_wall_ns(), procs::tick_ns());
                let rows: Vec<Value> = procs::all()
                    .iter()
                    .map(|p| procs::row(p, &users, boot, tick))
                    .collect();
                Ok(json!({ "Rows": rows }))
            }
            "live.connections" => Ok(json!({ "Rows": net::connections() })),
            "live.persistence" => Ok(json!({ "Rows": persistence::rows() })),
            "live.fileinfo" => files::fileinfo(&args.path("path")?, &crate::users::Users::new()),
            "live.findfile" => {
                let root = args.opt_path("root")?.unwrap_or_else(|| PathBuf::from("/"));
                files::findfile(args.string("name")?, &root)
            }
            "live.getfile" => {
                let max = args.opt_u64("max_bytes")?.unwrap_or(DEFAULT_GETFILE_BYTES);
                if max == 0 || max > MAX_UPLOAD_BYTES {
                    return Err(RespondError::Argument {
                        name: "max_bytes",
                        reason: format!("must be 1 to {MAX_UPLOAD_BYTES}"),
                    });
                }
                live::getfile(rep, id, &args.path("path")?, max)
            }
            "live.putfile" => live::putfile(
                rep,
                args.plain_name("file")?,
                &args.path("path")?,
                args.flag("overwrite")?,
            ),
            "live.run" => {
                let secs = args.opt_u64("timeout_secs")?.unwrap_or(300);
                if secs == 0 || secs > 3600 {
                    return Err(RespondError::Argument {
                        name: "timeout_secs",
                        reason: format!("must be 1 to 3600, not {secs}"),
                    });
                }
                live::run(
                    rep,
                    &self.run_dir,
                    id,
                    args.plain_name("script")?,
                    &args.strings("args")?,
                    Duration::from_secs(secs),
                )
            }
            "live.analyze" => {
                let engine = self.engine()?;
                let (v, found) = scan::analyze(&engine, &args.path("path")?)?;
                self.push_rows(found.iter().map(|f| f.row("analyze")));
                Ok(v)
            }
            other => Err(RespondError::Failed(format!(
                "{other:?} is not an action this agent knows (agent version {})",
                crate::agent::VERSION
            ))),
        }
    }

    /// `collect`: build the package in the state directory, upload it, remove it.
    fn collect(&self, id: &str, rep: &Reporter) -> Result<Value> {
        let dir = self.dir.join("collect");
        std::fs::create_dir_all(&dir).map_err(RespondError::io("create", &dir))?;
        let out = dir.join(format!("{}.tar.gz", safe_name(id)));
        let res = (|| {
            let manifest = collect::build(&out, &self.device)?;
            let device = self.device["DeviceName"].as_str().unwrap_or("device");
            let name = format!(
                "investigation-{}-{}.tar.gz",
                safe_name(device),
                safe_name(id)
            );
            let ack = rep
                .upload(id, &out, &name, MAX_UPLOAD_BYTES)
                .map_err(|e| RespondError::Failed(format!("cannot send the package: {e}")))?;
            Ok(json!({
                "FileId": ack.file_id,
                "Name": name,
                "Size": ack.size,
                "SHA256": ack.sha256,
                "Members": manifest["Members"].as_array().map_or(0, Vec::len),
                "Errors": manifest["Errors"],
            }))
        })();
        let _ = std::fs::remove_file(&out);
        res
    }
}

fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// While a restriction is in force, rebuild its list when dpkg's database changes, so that a
/// package installed meanwhile may run.
fn watch_packages(inner: &Inner) {
    let mut seen = files::packages_changed();
    while !inner.stop.load(Ordering::SeqCst) {
        std::thread::sleep(PACKAGE_CHECK);
        let now = files::packages_changed();
        if now == seen {
            continue;
        }
        seen = now;
        // Under the lock, so that a restriction lifted meanwhile is not put back.
        let _change = lock(&inner.exec_change);
        if let Some(Err(e)) = restrict::reapply(&inner.dir, &inner.protection, &inner.run_dir) {
            eprintln!("vigil-agent: respond: cannot refresh the restriction's packages: {e}");
        }
    }
}
