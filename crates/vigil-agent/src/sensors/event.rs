//! What the sensors report, in Rust terms, before enrichment turns it into schema rows.

use std::net::SocketAddr;

/// Who did it and when, as the kernel saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    /// Event time, ns since boot (CLOCK_BOOTTIME).
    pub ts: u64,
    /// Process id (thread-group id).
    pub tgid: u32,
    /// Thread id.
    pub tid: u32,
    /// Process start, ns since boot; with `tgid` it names the process across pid reuse.
    pub start: u64,
    /// Real user id.
    pub uid: u32,
}

/// Why an executable has no path on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fileless {
    /// An anonymous memory file (`memfd_create`).
    Memfd,
    /// A file deleted after it was opened.
    Deleted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecEvent {
    pub origin: Origin,
    pub ppid: u32,
    pub parent_start: u64,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub loginuid: u32,
    pub sessionid: u32,
    pub cgroup_id: u64,
    /// Inode of the executable.
    pub ino: u64,
    pub path: String,
    pub path_truncated: bool,
    pub cwd: String,
    pub cwd_truncated: bool,
    pub argv: Vec<String>,
    pub argv_truncated: bool,
    pub comm: String,
    pub tty: Option<String>,
    /// Leaf name of the process's cgroup (v2).
    pub cgroup: String,
    pub fileless: Option<Fileless>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForkEvent {
    /// The new process (origin.tgid is the child).
    pub origin: Origin,
    pub ppid: u32,
    pub parent_start: u64,
    pub comm: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExitEvent {
    pub origin: Origin,
    /// As wait(2) reports it: `code << 8 | signal`.
    pub status: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOp {
    Created,
    Modified,
    Renamed,
    Deleted,
    /// A mode that grants execute was set.
    ModeChanged {
        mode: u32,
    },
    /// A file on the sensitive list (credential stores, private keys) opened for reading.
    SensitiveRead,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileEvent {
    pub origin: Origin,
    pub op: FileOp,
    /// The file (for renames: the new name).
    pub path: String,
    /// For renames: the old name.
    pub old_path: Option<String>,
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetKind {
    /// Outbound TCP connect and its outcome.
    Connect { ok: bool },
    /// Inbound TCP connection accepted.
    Accept,
    /// A socket started listening.
    Listen,
    /// First UDP datagram (or connect) of a process to a peer.
    UdpPeer,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetEvent {
    pub origin: Origin,
    pub kind: NetKind,
    pub udp: bool,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SecurityKind {
    Ptrace {
        request: i64,
        target: u32,
    },
    /// The effective user (or group, when `group`) id changed.
    CredChange {
        group: bool,
        old: u32,
        new: u32,
    },
    BpfLoad {
        prog_type: u32,
        name: String,
    },
    ModuleLoad {
        name: String,
    },
    MemfdCreate {
        name: String,
        flags: u64,
    },
    /// A rare syscall (personality, syslog, mknod, mknodat): its first argument, and for
    /// mknod the mode and path.
    Syscall {
        name: String,
        a0: i64,
        mode: u32,
        path: Option<String>,
    },
    /// A cgroup was removed: `root` is its hierarchy id, `path` its path in the hierarchy.
    CgroupRemoved {
        root: i32,
        path: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityEvent {
    pub origin: Origin,
    pub kind: SecurityKind,
}

/// One decoded sensor event.
#[derive(Debug, Clone, PartialEq)]
pub enum SensorEvent {
    Exec(ExecEvent),
    Fork(ForkEvent),
    Exit(ExitEvent),
    File(FileEvent),
    Net(NetEvent),
    Security(SecurityEvent),
}

impl SensorEvent {
    pub fn origin(&self) -> &Origin {
        match self {
            SensorEvent::Exec(e) => &e.origin,
            SensorEvent::Fork(e) => &e.origin,
            SensorEvent::Exit(e) => &e.origin,
            SensorEvent::File(e) => &e.origin,
            SensorEvent::Net(e) => &e.origin,
            SensorEvent::Security(e) => &e.origin,
        }
    }

    /// The sensor family, for rate limits and drop accounting.
    pub fn source(&self) -> Source {
        match self {
            SensorEvent::Exec(_) | SensorEvent::Fork(_) | SensorEvent::Exit(_) => Source::Process,
            SensorEvent::File(_) => Source::File,
            SensorEvent::Net(_) => Source::Network,
            SensorEvent::Security(_) => Source::Security,
        }
    }
}

/// Sensor families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Process,
    File,
    Network,
    Dns,
    Logon,
    Security,
}

impl Source {
    pub const ALL: [Source; 6] = [
        Source::Process,
        Source::File,
        Source::Network,
        Source::Dns,
        Source::Logon,
        Source::Security,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Source::Process => "process",
            Source::File => "file",
            Source::Network => "network",
            Source::Dns => "dns",
            Source::Logon => "logon",
            Source::Security => "security",
        }
    }
}
