//! Enrichment: sensor events in, schema rows out.
//!
//! Every row gets the device identity and a ReportId; event rows get their initiating process
//! and its parent from the process table, file hashes from the hash cache, and (for network
//! rows) the DNS name last answered for the remote address. Rate limits apply per source
//! before a row is built; the process table is updated for every event regardless, so that a
//! dropped row never corrupts the process model.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_schema::extra as x;
use vigil_schema::{Col, Dynamic, Row, Table, Timestamp};

use crate::device::{ip_type, DeviceIdentity};
use crate::hashes::{HashCache, HashState, Hashes, NoHash};
use crate::limits::Limits;
use crate::proctable::{command_line, BootClock, Proc, ProcessTable};
use crate::sensors::dns::{DnsAnswer, DnsRecord};
use crate::sensors::event::*;
use crate::sensors::logon::{logon_row, LogonRecord};
use crate::users::Users;

/// Options of the enrichment stage.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub rates: Vec<(Source, u32)>,
    pub hash_cache_entries: usize,
    pub hash_max_bytes: u64,
    pub emit_forks: bool,
    /// How long a file row waits before its file is hashed, so that the writes that follow a
    /// create land in the hash.
    pub hash_settle: Duration,
}

/// IP → name, from DNS answers, kept for the answer's TTL (at least `MIN_TTL`).
#[derive(Debug, Default)]
struct DnsCache {
    names: HashMap<IpAddr, (String, Instant)>,
}

const MIN_TTL: Duration = Duration::from_secs(60);
const DNS_CACHE_MAX: usize = 65_536;

impl DnsCache {
    fn insert(&mut self, ip: IpAddr, name: &str, ttl: u32) {
        if self.names.len() >= DNS_CACHE_MAX {
            let now = Instant::now();
            self.names.retain(|_, (_, until)| *until > now);
            if self.names.len() >= DNS_CACHE_MAX {
                self.names.clear();
            }
        }
        let until = Instant::now() + MIN_TTL.max(Duration::from_secs(ttl as u64));
        self.names.insert(ip, (name.to_string(), until));
    }

    fn name(&self, ip: &IpAddr) -> Option<&str> {
        self.names
            .get(ip)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(n, _)| n.as_str())
    }
}

pub struct Pipeline {
    identity: DeviceIdentity,
    pub procs: ProcessTable,
    pub hashes: HashCache,
    users: Users,
    dns: DnsCache,
    limits: Limits,
    report_base: i64,
    seq: i64,
    emit_forks: bool,
    hash_settle: Duration,
    /// Rows waiting for a hash (file rows settle first; exec rows wait for the worker).
    held: VecDeque<Held>,
}

/// What a held row still needs hashed.
enum Target {
    Path(String),
    File(File),
    /// A row about another process (ptrace): its image is filled in on release, so that an
    /// exec racing with the event (reported a moment later) is applied first.
    Process(u32),
}

struct Held {
    /// Not before: the settle time of a file row.
    due: Instant,
    /// Not after: past it the row goes out without its hash.
    deadline: Instant,
    row: Row,
    target: Target,
}

/// Rows held back at most; beyond, the oldest go out at once.
const HELD_MAX: usize = 65_536;
/// How long a row may wait for the hashing worker.
const HASH_WAIT: Duration = Duration::from_secs(10);
/// How long a row about another process waits for that process's exec to be reported.
const PROCESS_SETTLE: Duration = Duration::from_millis(100);
/// Files up to this size are hashed on the pipeline thread; larger ones by the worker.
const INLINE_HASH_MAX: u64 = 2 * 1024 * 1024;

/// IPv4-mapped IPv6 addresses are shown as IPv4, as analysts expect.
fn plain_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A container id in a cgroup leaf name (`docker-<id>.scope`, `cri-containerd-<id>.scope`,
/// `libpod-<id>.scope`, or a bare 64-hex id).
pub fn container_id(cgroup: &str) -> Option<String> {
    let leaf = cgroup.trim_end_matches(".scope");
    let id = leaf.rsplit(['-', ':']).next().unwrap_or(leaf);
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}

/// The hierarchy whose cgroups are systemd's units: `name=systemd` on a hybrid (v1) host,
/// else the unified one (id 0).
fn unit_hierarchy() -> i32 {
    static ID: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *ID.get_or_init(|| {
        std::fs::read_to_string("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                let mut f = l.splitn(3, ':');
                let id = f.next()?.parse().ok()?;
                (f.next()? == "name=systemd").then_some(id)
            })
            .unwrap_or(0)
    })
}

/// `ServiceStopped` when a removed cgroup is a systemd service's (of the units' hierarchy,
/// so that a hybrid host reports each stop once); `unit` as auditd's SERVICE_STOP names it.
fn service_stopped(at: Timestamp, root: i32, path: &str) -> Option<Row> {
    let file = base_name(path);
    let unit = file.strip_suffix(".service")?;
    if root != unit_hierarchy() || unit.is_empty() {
        return None;
    }
    let mut row = Row::event(Table::DeviceEvents, "ServiceStopped", at);
    row.put_extra("unit", unit);
    row.put_extra("unit_file", file);
    row.put_extra(x::CGROUP, path);
    Some(row)
}

/// The DeviceEvents row of a rare syscall: `a0` in auditd's notation (hex, no `0x`), so that
/// Sigma's auditd SYSCALL rules read it as they would from an audit log.
fn syscall_row(at: Timestamp, name: &str, a0: i64, mode: u32, path: Option<&str>) -> Row {
    let action = match name {
        "personality" => "PersonalityChanged",
        "syslog" => "KernelLogControlled",
        "sysinfo" => "SystemInfoQueried",
        _ => "SpecialFileCreated",
    };
    let mut row = Row::event(Table::DeviceEvents, action, at);
    row.put_extra("syscall", name);
    row.put_extra("a0", format!("{:x}", a0 as u64));
    if let Some(p) = path {
        row.put(Col::FileName, base_name(p));
        row.put(Col::FolderPath, p);
        let kind = match mode & 0o170000 {
            0o010000 => "fifo",
            0o020000 => "character_device",
            0o060000 => "block_device",
            0o140000 => "socket",
            _ => "regular",
        };
        row.put_extra("node_type", kind);
        row.put_extra("mode", format!("{:o}", mode & 0o7777));
    }
    row
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Pipeline {
    pub fn new(identity: DeviceIdentity, procs: ProcessTable, opts: &PipelineOptions) -> Pipeline {
        // ReportIds: the start time in ms, shifted, plus a sequence, so that restarts do not
        // reuse ids unless one run emits over a million events a millisecond apart.
        let report_base = (Timestamp::now().nanos() / 1_000_000) << 20;
        Pipeline {
            identity,
            procs,
            hashes: HashCache::new(
                opts.hash_cache_entries,
                opts.hash_max_bytes,
                INLINE_HASH_MAX,
            ),
            users: Users::new(),
            dns: DnsCache::default(),
            limits: Limits::new(&opts.rates),
            report_base,
            seq: 0,
            emit_forks: opts.emit_forks,
            hash_settle: opts.hash_settle,
            held: VecDeque::new(),
        }
    }

    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    fn clock(&self) -> BootClock {
        self.procs.clock
    }

    /// Set the device columns and the ReportId of a finished row.
    pub fn stamp(&mut self, row: &mut Row) {
        row.put(Col::DeviceId, self.identity.device_id.as_str());
        row.put(Col::DeviceName, self.identity.device_name.as_str());
        self.seq += 1;
        row.put(Col::ReportId, self.report_base + self.seq);
    }

    fn push(&mut self, mut row: Row, out: &mut Vec<Row>) {
        self.stamp(&mut row);
        out.push(row);
    }

    fn user(&self, uid: u32) -> String {
        if uid == u32::MAX {
            return String::new();
        }
        self.users.name(uid)
    }

    /// The process, with its image hashed if it was not yet.
    fn process(&mut self, pid: u32, start_ns: u64) -> Option<Arc<Proc>> {
        let users = &self.users;
        let p = self.procs.get(pid, start_ns, &|uid| users.name(uid))?;
        if p.hashes.is_some() || !p.execed {
            return Some(p);
        }
        let state = File::open(format!("/proc/{pid}/exe")).map(|f| self.hashes.hash_file(&f));
        match state {
            Ok(HashState::Ready(h)) => {
                let updated = Proc {
                    hashes: Some(h),
                    ..(*p).clone()
                };
                self.procs.exec(updated.clone());
                Some(Arc::new(updated))
            }
            _ => Some(p),
        }
    }

    /// Fill the `InitiatingProcess*` block with `p` and its parent.
    fn initiating(&mut self, row: &mut Row, p: &Proc) {
        row.put(Col::InitiatingProcessFileName, p.file_name());
        row.put(Col::InitiatingProcessFolderPath, p.path.as_str());
        row.put(Col::InitiatingProcessId, p.pid as i64);
        row.put(Col::InitiatingProcessCommandLine, p.cmdline.as_str());
        row.put(Col::InitiatingProcessCreationTime, p.created);
        if !p.user.is_empty() {
            row.put(Col::InitiatingProcessAccountName, p.user.as_str());
        }
        if p.sessionid != u32::MAX {
            row.put(Col::InitiatingProcessLogonId, p.sessionid as i64);
            row.put(Col::InitiatingProcessSessionId, p.sessionid as i64);
        }
        if let Some(h) = &p.hashes {
            row.put(Col::InitiatingProcessSHA256, h.sha256.as_str());
            row.put(Col::InitiatingProcessSHA1, h.sha1.as_str());
            row.put(Col::InitiatingProcessMD5, h.md5.as_str());
            row.put(Col::InitiatingProcessFileSize, h.size as i64);
        }
        row.put(Col::InitiatingProcessParentId, p.ppid as i64);
        if let Some(parent) = self.procs.peek(p.ppid) {
            row.put(Col::InitiatingProcessParentFileName, parent.file_name());
            row.put(Col::InitiatingProcessParentCreationTime, parent.created);
        }
    }

    /// Fill the initiating block from an event's origin.
    fn initiating_origin(&mut self, row: &mut Row, o: &Origin) {
        if let Some(p) = self.process(o.tgid, o.start) {
            self.initiating(row, &p);
        } else {
            row.put(Col::InitiatingProcessId, o.tgid as i64);
            row.put(Col::InitiatingProcessAccountName, self.user(o.uid));
        }
    }

    fn file_hashes(row: &mut Row, h: &Hashes) {
        row.put(Col::SHA256, h.sha256.as_str());
        row.put(Col::SHA1, h.sha1.as_str());
        row.put(Col::MD5, h.md5.as_str());
        row.put(Col::FileSize, h.size as i64);
    }

    /// Turn one sensor event into rows (none when it only updates the process model or when
    /// its source is over its rate).
    pub fn sensor(&mut self, ev: SensorEvent, out: &mut Vec<Row>) {
        self.users.refresh();
        let source = ev.source();
        match ev {
            SensorEvent::Fork(f) => {
                self.procs
                    .fork(f.origin.tgid, f.origin.start, f.ppid, &f.comm);
                if self.emit_forks && self.limits.allow(source) {
                    let mut row = Row::event(
                        Table::DeviceProcessEvents,
                        "ProcessForked",
                        self.clock().wall(f.origin.ts),
                    );
                    row.put(Col::ProcessId, f.origin.tgid as i64);
                    row.put(Col::ProcessCreationTime, self.clock().wall(f.origin.start));
                    if let Some(parent) = self.process(f.ppid, f.parent_start) {
                        self.initiating(&mut row, &parent);
                    }
                    self.push(row, out);
                }
            }
            SensorEvent::Exec(e) => self.exec(e, out),
            SensorEvent::Exit(e) => {
                let proc = self.procs.peek(e.origin.tgid);
                self.procs.exit(e.origin.tgid, e.origin.start);
                self.procs.expire();
                if !self.limits.allow(source) {
                    return;
                }
                let mut row = Row::event(
                    Table::DeviceProcessEvents,
                    "ProcessTerminated",
                    self.clock().wall(e.origin.ts),
                );
                row.put(Col::ProcessId, e.origin.tgid as i64);
                row.put(Col::ProcessCreationTime, self.clock().wall(e.origin.start));
                if let Some(p) = &proc {
                    row.put(Col::FileName, p.file_name());
                    row.put(Col::FolderPath, p.path.as_str());
                    row.put(Col::ProcessCommandLine, p.cmdline.as_str());
                    if !p.user.is_empty() {
                        row.put(Col::AccountName, p.user.as_str());
                    }
                    if let Some(h) = &p.hashes {
                        Self::file_hashes(&mut row, h);
                    }
                    if let Some(parent) = self.procs.peek(p.ppid) {
                        self.initiating(&mut row, &parent);
                    }
                }
                row.put_extra(x::EXIT_CODE, ((e.status >> 8) & 0xff) as i64);
                row.put_extra(x::EXIT_SIGNAL, (e.status & 0x7f) as i64);
                self.push(row, out);
            }
            SensorEvent::File(f) => {
                if self.limits.allow(source) {
                    self.file(f, out);
                }
            }
            SensorEvent::Net(n) => {
                if self.limits.allow(source) {
                    self.net(n, out);
                }
            }
            SensorEvent::Security(s) => {
                if self.limits.allow(source) {
                    self.security(s, out);
                }
            }
        }
    }

    fn exec(&mut self, e: ExecEvent, out: &mut Vec<Row>) {
        let pid = e.origin.tgid;
        // Hash the image through /proc/<pid>/exe when it is still the same inode (works for
        // memfd and deleted files), else through the path.
        // The image by its path when that is still the inode the kernel ran (the common case,
        // and cheap), else through /proc/<pid>/exe (memfd, deleted or replaced files).
        let same_inode = |f: &File| f.metadata().map(|m| m.ino() == e.ino).unwrap_or(false);
        let by_path = if e.fileless.is_none() {
            File::open(&e.path).ok().filter(same_inode)
        } else {
            None
        };
        let image = by_path.or_else(|| {
            File::open(format!("/proc/{pid}/exe"))
                .ok()
                .filter(same_inode)
        });
        let hashes = match &image {
            Some(f) => self.hashes.hash_file(f),
            None => HashState::Failed(NoHash::Unreadable),
        };
        let users = &self.users;
        let user = users.name(e.euid);
        let clock = self.clock();
        let new = Proc {
            pid,
            ppid: e.ppid,
            start_ticks: clock.ticks(e.origin.start),
            created: clock.wall(e.origin.start),
            path: e.path.clone(),
            cmdline: command_line(&e.argv),
            uid: e.origin.uid,
            euid: e.euid,
            user,
            sessionid: e.sessionid,
            hashes: match &hashes {
                HashState::Ready(h) => Some(Arc::clone(h)),
                _ => None,
            },
            execed: true,
        };
        let before = self.procs.exec(new.clone());
        if !self.limits.allow(Source::Process) {
            return;
        }
        let mut row = Row::event(
            Table::DeviceProcessEvents,
            "ProcessCreated",
            clock.wall(e.origin.ts),
        );
        row.put(Col::FileName, new.file_name());
        row.put(Col::FolderPath, new.path.as_str());
        if let HashState::Failed(NoHash::TooLarge) = hashes {
            row.put_extra("hash_skipped", "too_large");
        }
        row.put(Col::ProcessId, pid as i64);
        row.put(Col::ProcessCommandLine, new.cmdline.as_str());
        row.put(Col::ProcessCreationTime, new.created);
        row.put(Col::AccountName, new.user.as_str());
        if e.sessionid != u32::MAX {
            row.put(Col::LogonId, e.sessionid as i64);
            row.put(Col::CreatedProcessSessionId, e.sessionid as i64);
        }
        // The initiator: the image this one replaced when that came from an exec of its own
        // (a shell's `exec`), else the parent that forked this process.
        let initiator = match before {
            Some(b) if b.execed => Some(b),
            _ => self.process(e.ppid, e.parent_start),
        };
        if let Some(p) = initiator {
            self.initiating(&mut row, &p);
        } else {
            row.put(Col::InitiatingProcessId, e.ppid as i64);
        }
        row.put_extra(x::PARENT_PID, e.ppid);
        row.put_extra(x::CWD, e.cwd.as_str());
        row.put_extra(x::UID, e.origin.uid);
        row.put_extra(x::EUID, e.euid);
        row.put_extra(x::GID, e.gid);
        row.put_extra(x::EGID, e.egid);
        row.put_extra(x::LOGIN_UID, e.loginuid);
        row.put_extra(x::SESSION_ID, e.sessionid);
        if let Some(tty) = &e.tty {
            row.put_extra(x::TTY, tty.as_str());
        }
        if !e.cgroup.is_empty() {
            row.put_extra(x::CGROUP, e.cgroup.as_str());
            if let Some(id) = container_id(&e.cgroup) {
                row.put_extra(x::CONTAINER_ID, id);
            }
        }
        if let Some(kind) = e.fileless {
            row.put_extra(x::FILELESS, true);
            row.put_extra(
                x::FILELESS_KIND,
                if kind == Fileless::Memfd {
                    "memfd"
                } else {
                    "deleted"
                },
            );
        }
        if e.argv_truncated {
            row.put_extra(x::ARGV_TRUNCATED, true);
        }
        if e.path_truncated || e.cwd_truncated {
            row.put_extra(x::PATH_TRUNCATED, true);
        }
        match (hashes, image) {
            (HashState::Ready(h), _) => {
                Self::file_hashes(&mut row, &h);
                self.push(row, out);
            }
            (HashState::Pending, Some(file)) => {
                let now = Instant::now();
                self.hold(
                    Held {
                        due: now,
                        deadline: now + HASH_WAIT,
                        row,
                        target: Target::File(file),
                    },
                    out,
                );
            }
            _ => self.push(row, out),
        }
    }

    fn hold(&mut self, held: Held, out: &mut Vec<Row>) {
        self.held.push_back(held);
        if self.held.len() > HELD_MAX {
            if let Some(old) = self.held.pop_front() {
                self.push(old.row, out);
            }
        }
    }

    /// MDE's DeviceEvents row for a read of a credential store or private key.
    fn sensitive_read(&mut self, f: FileEvent, out: &mut Vec<Row>) {
        let mut row = Row::event(
            Table::DeviceEvents,
            "SensitiveFileRead",
            self.clock().wall(f.origin.ts),
        );
        row.put(Col::FileName, base_name(&f.path));
        row.put(Col::FolderPath, f.path.as_str());
        self.initiating_origin(&mut row, &f.origin);
        self.push(row, out);
    }

    fn file(&mut self, f: FileEvent, out: &mut Vec<Row>) {
        let action = match f.op {
            FileOp::Created => "FileCreated",
            FileOp::Modified => "FileModified",
            FileOp::Renamed => "FileRenamed",
            FileOp::Deleted => "FileDeleted",
            FileOp::ModeChanged { .. } => "FilePermissionsChanged",
            FileOp::SensitiveRead => return self.sensitive_read(f, out),
        };
        let mut row = Row::event(
            Table::DeviceFileEvents,
            action,
            self.clock().wall(f.origin.ts),
        );
        row.put(Col::FileName, base_name(&f.path));
        row.put(Col::FolderPath, f.path.as_str());
        if let Some(old) = &f.old_path {
            row.put(Col::PreviousFileName, base_name(old));
            row.put(Col::PreviousFolderPath, old.as_str());
        }

        if let FileOp::ModeChanged { mode } = f.op {
            row.put_extra(x::NEW_MODE, format!("{:o}", mode & 0o7777));
        }
        if f.truncated {
            row.put_extra(x::PATH_TRUNCATED, true);
        }
        self.initiating_origin(&mut row, &f.origin);
        if f.op == FileOp::Deleted {
            self.push(row, out);
            return;
        }
        let due = Instant::now() + self.hash_settle;
        self.hold(
            Held {
                due,
                deadline: due + HASH_WAIT,
                row,
                target: Target::Path(f.path),
            },
            out,
        );
    }

    /// Emit the held rows whose hash is ready (or whose wait is over); with `all`, emit every
    /// held row now, hashed or not (at shutdown).
    pub fn release_held(&mut self, out: &mut Vec<Row>, all: bool) {
        let now = Instant::now();
        for _ in 0..self.held.len() {
            let Some(mut h) = self.held.pop_front() else {
                break;
            };
            if h.due > now && !all {
                self.held.push_back(h);
                continue;
            }
            if let Target::Process(pid) = h.target {
                if let Some(t) = self.procs.peek(pid) {
                    h.row.put(Col::FileName, t.file_name());
                    h.row.put(Col::FolderPath, t.path.as_str());
                    h.row.put(Col::ProcessCommandLine, t.cmdline.as_str());
                }
                self.push(h.row, out);
                continue;
            }
            if let Target::Path(path) = &h.target {
                match File::open(path) {
                    Ok(f) => h.target = Target::File(f),
                    Err(_) => {
                        self.push(h.row, out);
                        continue;
                    }
                }
            }
            let Target::File(file) = &h.target else {
                continue;
            };
            match self.hashes.hash_file(file) {
                HashState::Ready(hashes) => Self::file_hashes(&mut h.row, &hashes),
                HashState::Pending if now < h.deadline && !all => {
                    self.held.push_back(h);
                    continue;
                }
                HashState::Pending => h.row.put_extra("hash_skipped", "timeout"),
                HashState::Failed(NoHash::TooLarge) => h.row.put_extra("hash_skipped", "too_large"),
                HashState::Failed(NoHash::Unreadable) => {}
            }
            self.push(h.row, out);
        }
    }

    fn put_addrs(&self, row: &mut Row, local: Option<SocketAddr>, remote: Option<SocketAddr>) {
        if let Some(l) = local {
            let ip = plain_ip(l.ip());
            row.put(Col::LocalIP, ip.to_string());
            row.put(Col::LocalPort, l.port() as i32);
            row.put(Col::LocalIPType, ip_type(&ip));
        }
        if let Some(r) = remote {
            let ip = plain_ip(r.ip());
            row.put(Col::RemoteIP, ip.to_string());
            row.put(Col::RemotePort, r.port() as i32);
            row.put(Col::RemoteIPType, ip_type(&ip));
            if let Some(name) = self.dns.name(&ip) {
                row.put(Col::RemoteUrl, name);
            }
        }
    }

    fn net(&mut self, n: NetEvent, out: &mut Vec<Row>) {
        let action = match n.kind {
            NetKind::Connect { ok: true } | NetKind::UdpPeer => "ConnectionSuccess",
            NetKind::Connect { ok: false } => "ConnectionFailed",
            NetKind::Accept => "InboundConnectionAccepted",
            NetKind::Listen => "ListeningConnectionCreated",
        };
        let mut row = Row::event(
            Table::DeviceNetworkEvents,
            action,
            self.clock().wall(n.origin.ts),
        );
        let remote = (n.kind != NetKind::Listen).then_some(n.remote);
        self.put_addrs(&mut row, Some(n.local), remote);
        row.put(Col::Protocol, if n.udp { "Udp" } else { "Tcp" });
        self.initiating_origin(&mut row, &n.origin);
        self.push(row, out);
    }

    fn security(&mut self, s: SecurityEvent, out: &mut Vec<Row>) {
        let at = self.clock().wall(s.origin.ts);
        if let SecurityKind::CgroupRemoved { root, path } = &s.kind {
            if let Some(mut row) = service_stopped(at, *root, path) {
                self.initiating_origin(&mut row, &s.origin);
                self.push(row, out);
            }
            return;
        }
        let mut row = match &s.kind {
            SecurityKind::Ptrace { request, target } => {
                let mut row = Row::event(Table::DeviceEvents, "ProcessPtraceAttach", at);
                row.put(Col::ProcessId, *target as i64);
                row.put_extra(x::PTRACE_REQUEST, *request);
                row.put_extra(x::TARGET_PID, *target);
                row
            }
            SecurityKind::CredChange { group, old, new } => {
                let mut row = Row::event(Table::DeviceEvents, "ProcessCredentialsChanged", at);
                row.put(Col::ProcessId, s.origin.tgid as i64);
                if !group {
                    row.put(Col::AccountName, self.user(*new));
                }
                row.put_extra("credential", if *group { "gid" } else { "uid" });
                row.put_extra("old_id", *old);
                row.put_extra("new_id", *new);
                if !group {
                    self.elevation(&s.origin, *old, *new, out);
                }
                row
            }
            SecurityKind::BpfLoad { prog_type, name } => {
                let mut row = Row::event(Table::DeviceEvents, "BpfProgramLoaded", at);
                row.put(Col::FileName, name.as_str());
                row.put_extra(x::BPF_PROG_TYPE, *prog_type);
                row
            }
            SecurityKind::ModuleLoad { name } => {
                let mut row = Row::event(Table::DeviceEvents, "DriverLoad", at);
                row.put(Col::FileName, name.as_str());
                row.put_extra(x::MODULE_NAME, name.as_str());
                row
            }
            SecurityKind::MemfdCreate { name, flags } => {
                let mut row = Row::event(Table::DeviceEvents, "MemfdCreated", at);
                row.put(Col::FileName, format!("memfd:{name}"));
                row.put_extra("memfd_flags", *flags);
                row
            }
            SecurityKind::Syscall {
                name,
                a0,
                mode,
                path,
            } => syscall_row(at, name, *a0, *mode, path.as_deref()),
            SecurityKind::CgroupRemoved { .. } => return,
        };
        self.initiating_origin(&mut row, &s.origin);
        if let SecurityKind::Ptrace { target, .. } = s.kind {
            let due = Instant::now() + PROCESS_SETTLE;
            let target = Target::Process(target);
            return self.hold(
                Held {
                    due,
                    deadline: due,
                    row,
                    target,
                },
                out,
            );
        }
        self.push(row, out);
    }

    /// `sudo`, `su` and friends switching to another user: a logon of that user, elevated.
    fn elevation(&mut self, o: &Origin, old: u32, new: u32, out: &mut Vec<Row>) {
        const ELEVATORS: &[&str] = &["sudo", "su", "doas", "pkexec", "sudo-rs", "su-rs"];
        let Some(p) = self.procs.peek(o.tgid) else {
            return;
        };
        let tool = p.file_name().to_string();
        if !ELEVATORS.contains(&tool.as_str()) || old == new || !self.limits.allow(Source::Logon) {
            return;
        }
        let mut row = Row::event(
            Table::DeviceLogonEvents,
            "LogonSuccess",
            self.clock().wall(o.ts),
        );
        row.put(Col::AccountName, self.user(new));
        row.put(Col::LogonType, "Elevation");
        row.put(Col::Protocol, tool.as_str());
        row.put(Col::IsLocalAdmin, new == 0);
        row.put_extra("from_uid", old);
        row.put_extra("from_user", self.user(o.uid));
        self.initiating(&mut row, &p);
        self.push(row, out);
    }

    /// A DNS response: remember the names, and report it.
    pub fn dns_answer(&mut self, a: &DnsAnswer, at: Timestamp, out: &mut Vec<Row>) {
        let mut results = Vec::new();
        for rec in &a.answers {
            match rec {
                DnsRecord::Addr { addr, ttl, .. } => {
                    self.dns.insert(plain_ip(*addr), &a.query, *ttl);
                    let mut r = Dynamic::object();
                    r.insert("DnsQueryType", if addr.is_ipv4() { "A" } else { "AAAA" });
                    r.insert("DnsQueryResult", addr.to_string());
                    r.insert("TTL", *ttl);
                    results.push(r);
                }
                DnsRecord::Cname { target, ttl, .. } => {
                    let mut r = Dynamic::object();
                    r.insert("DnsQueryType", "CNAME");
                    r.insert("DnsQueryResult", target.as_str());
                    r.insert("TTL", *ttl);
                    results.push(r);
                }
            }
        }
        if !self.limits.allow(Source::Dns) {
            return;
        }
        let mut row = Row::event(Table::DeviceEvents, "DnsQueryResponse", at);
        row.put(Col::RemoteUrl, a.query.as_str());
        self.put_addrs(&mut row, Some(a.client), Some(a.server));
        row.put_extra("DnsQueryString", a.query.as_str());
        row.put_extra(x::DNS_QTYPE, a.query_type as i64);
        row.put_extra("rcode", a.rcode as i64);
        row.put_extra("DnsQueryResult", Dynamic::Array(results));
        self.push(row, out);
    }

    /// A logon record from the utmp family.
    pub fn logon(&mut self, rec: &LogonRecord, out: &mut Vec<Row>) {
        if !self.limits.allow(Source::Logon) {
            return;
        }
        let mut row = logon_row(rec);
        if rec.pid != 0 {
            if let Some(p) = self.process(rec.pid, 0) {
                self.initiating(&mut row, &p);
            }
        }
        self.push(row, out);
    }

    /// A row from protection (a block, a detection): the initiating process comes from the
    /// process table when it knows `pid`; otherwise what the row holds (read from `/proc`
    /// when it happened) stays.
    pub fn protection(&mut self, mut row: Row, pid: Option<u32>, out: &mut Vec<Row>) {
        if let Some(p) = pid.and_then(|pid| self.process(pid, 0)) {
            self.initiating(&mut row, &p);
        }
        self.push(row, out);
    }

    /// A `DeviceEvents` row reporting events lost at a bound.
    pub fn dropped(&mut self, source: &str, count: u64, reason: &str, out: &mut Vec<Row>) {
        let mut row = Row::event(Table::DeviceEvents, "SensorEventsDropped", Timestamp::now());
        row.put_extra(x::SOURCE, source);
        row.put_extra(x::DROPPED, count);
        row.put_extra(x::REASON, reason);
        self.push(row, out);
    }

    /// Rows for the drops the rate limits counted since the last call.
    pub fn rate_limit_drops(&mut self, out: &mut Vec<Row>) {
        for (source, n) in self.limits.take_drops() {
            self.dropped(source.name(), n, "rate_limit", out);
        }
    }

    /// A `DeviceEvents` row describing the sensors' state.
    pub fn health(&mut self, fields: Dynamic, out: &mut Vec<Row>) {
        let mut row = Row::event(Table::DeviceEvents, "SensorHealth", Timestamp::now());
        if let Dynamic::Object(map) = fields {
            for (k, v) in map {
                row.put_extra(&k, v);
            }
        }
        self.push(row, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_from_cgroup_leaves() {
        let id = "a".repeat(64);
        assert_eq!(
            container_id(&format!("docker-{id}.scope")),
            Some(id.clone())
        );
        assert_eq!(
            container_id(&format!("cri-containerd-{id}.scope")),
            Some(id.clone())
        );
        assert_eq!(container_id(&id), Some(id));
        assert_eq!(container_id("user@0.service"), None);
        assert_eq!(container_id("session-3.scope"), None);
    }

    #[test]
    fn dns_cache_expires_and_is_bounded() {
        let mut c = DnsCache::default();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        c.insert(ip, "example.org", 0);
        assert_eq!(c.name(&ip), Some("example.org"));
        for i in 0..(DNS_CACHE_MAX as u32 + 10) {
            c.insert(IpAddr::V4(i.into()), "x", 300);
        }
        assert!(c.names.len() <= DNS_CACHE_MAX);
    }

    #[test]
    fn mapped_addresses_read_as_ipv4() {
        let ip: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(plain_ip(ip).to_string(), "127.0.0.1");
    }
}
