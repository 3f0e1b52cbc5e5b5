//! Logons, logoffs and failed logons from the utmp family of files.
//!
//! `sshd`, `login(1)` and display managers append a `struct utmp` record to `/var/log/wtmp` for
//! every session start (`USER_PROCESS`) and end (`DEAD_PROCESS`), and to `/var/log/btmp` for
//! every failed authentication. These files exist on any Linux host, with or without syslog or
//! journald, so they are the dependable source for `DeviceLogonEvents`. [`LogonWatcher`]
//! follows both files by byte offset and [`logon_row`] turns each [`LogonRecord`] into a row.
//!
//! Limits:
//! - only what the login programs write is seen: sessions without a terminal are absent
//!   (`sshd` writes wtmp only when it allocates a pty, so `ssh host command`, `scp` and
//!   `sftp` leave no record; nor do cron jobs and services), and anyone able to write these
//!   files can forge or erase records;
//! - `sudo` and `su` elevation is not here: it comes from the eBPF credential-change sensor
//!   (`ProcessCredentialsChanged`);
//! - a logout record carries only the terminal line, so the user and remote host of a
//!   `Logoff` come from the matching logon seen earlier (the watcher also reads the last
//!   records of wtmp at start to know sessions opened before it);
//! - the record layout is glibc's on x86_64 (384 bytes, 32-bit `ut_tv`); times are read as
//!   unsigned 32-bit seconds, which lasts until 2106.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;

use vigil_schema::{extra, Col, Row, Table, Timestamp};

use crate::device::ip_type;

/// Size of one `struct utmp` record (glibc, x86_64).
pub const UTMP_RECORD_SIZE: usize = 384;
/// `ut_type` of a system boot record.
pub const BOOT_TIME: i16 = 2;
/// `ut_type` of a getty waiting for a login (also used by sshd for btmp records).
pub const LOGIN_PROCESS: i16 = 6;
/// `ut_type` of a user session.
pub const USER_PROCESS: i16 = 7;
/// `ut_type` of a finished session.
pub const DEAD_PROCESS: i16 = 8;

/// At most this much of a file is read per poll; the rest is read by the next polls.
const MAX_READ: u64 = (UTMP_RECORD_SIZE as u64) * 4096;
/// How much of the end of wtmp is read at start to learn the sessions already open.
const PRIME_BYTES: u64 = (UTMP_RECORD_SIZE as u64) * 4096;
/// Open sessions remembered at most (terminal lines are few; this bounds forged records).
const MAX_SESSIONS: usize = 4096;

/// One decoded `struct utmp` record. Strings are decoded lossily and end at the first NUL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UtmpRecord {
    /// `ut_type`: [`USER_PROCESS`], [`DEAD_PROCESS`], ...
    pub ut_type: i16,
    pub pid: i32,
    /// `ut_line`: the terminal, e.g. `pts/0` or `ssh:notty`.
    pub line: String,
    /// `ut_id`: the inittab id or the terminal suffix.
    pub id: String,
    pub user: String,
    /// `ut_host`: the remote host name or address, or a display for local X sessions.
    pub host: String,
    pub exit_termination: i16,
    pub exit_status: i16,
    pub session: i32,
    pub tv_sec: i32,
    pub tv_usec: i32,
    /// `ut_addr_v6` as stored: the address in network byte order, IPv4 in the first 4 bytes.
    pub addr_v6: [u8; 16],
}

impl UtmpRecord {
    /// The remote address: IPv4 when only the first word is set, IPv6 otherwise, `None` when
    /// all zero. IPv4-mapped IPv6 addresses are returned as IPv4.
    pub fn remote_ip(&self) -> Option<IpAddr> {
        let a = self.addr_v6;
        if a.iter().all(|b| *b == 0) {
            None
        } else if a[4..].iter().all(|b| *b == 0) {
            Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
        } else {
            Some(IpAddr::V6(Ipv6Addr::from(a)).to_canonical())
        }
    }

    /// The record time (`ut_tv`, seconds read as unsigned).
    pub fn timestamp(&self) -> Timestamp {
        let usec = u32::try_from(self.tv_usec)
            .ok()
            .filter(|u| *u < 1_000_000)
            .unwrap_or(0);
        Timestamp::from_parts(i64::from(self.tv_sec as u32), usec * 1000)
    }
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_ne_bytes([b[at], b[at + 1]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn str_at(b: &[u8], at: usize, len: usize) -> String {
    let field = &b[at..at + len];
    let end = field.iter().position(|c| *c == 0).unwrap_or(len);
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Decode one record; `rec` is exactly [`UTMP_RECORD_SIZE`] bytes.
fn decode(rec: &[u8]) -> UtmpRecord {
    let mut addr_v6 = [0u8; 16];
    addr_v6.copy_from_slice(&rec[348..364]);
    UtmpRecord {
        ut_type: i16_at(rec, 0),
        pid: i32_at(rec, 4),
        line: str_at(rec, 8, 32),
        id: str_at(rec, 40, 4),
        user: str_at(rec, 44, 32),
        host: str_at(rec, 76, 256),
        exit_termination: i16_at(rec, 332),
        exit_status: i16_at(rec, 334),
        session: i32_at(rec, 336),
        tv_sec: i32_at(rec, 340),
        tv_usec: i32_at(rec, 344),
        addr_v6,
    }
}

/// Decode the records of a utmp, wtmp or btmp file. A truncated trailing record is skipped
/// and counted in the second value.
pub fn parse_utmp(bytes: &[u8]) -> (Vec<UtmpRecord>, usize) {
    let chunks = bytes.chunks_exact(UTMP_RECORD_SIZE);
    let malformed = usize::from(!chunks.remainder().is_empty());
    (chunks.map(decode).collect(), malformed)
}

/// What a [`LogonRecord`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonKind {
    /// A session started (wtmp `USER_PROCESS`).
    Success,
    /// An authentication failed (a btmp record).
    Failed,
    /// A session ended (wtmp `DEAD_PROCESS`).
    Logoff,
}

/// One logon, logoff or failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogonRecord {
    pub kind: LogonKind,
    /// The account name (for failures, the name that was tried).
    pub user: String,
    /// The terminal line, e.g. `pts/0` or `ssh:notty`.
    pub tty: String,
    /// The remote host as the login program wrote it; empty for local logons.
    pub remote_host: String,
    pub remote_ip: Option<IpAddr>,
    pub pid: u32,
    pub at: Timestamp,
}

impl LogonRecord {
    fn from_utmp(kind: LogonKind, r: &UtmpRecord) -> LogonRecord {
        LogonRecord {
            kind,
            user: r.user.clone(),
            tty: r.line.clone(),
            remote_host: r.host.clone(),
            remote_ip: r.remote_ip(),
            pid: u32::try_from(r.pid).unwrap_or(0),
            at: r.timestamp(),
        }
    }
}

/// A `DeviceLogonEvents` row for `rec`. `DeviceId`, `DeviceName` and the `InitiatingProcess*`
/// columns are left to the caller.
pub fn logon_row(rec: &LogonRecord) -> Row {
    let action = match rec.kind {
        LogonKind::Success => "LogonSuccess",
        LogonKind::Failed => "LogonFailed",
        LogonKind::Logoff => "Logoff",
    };
    let mut row = Row::event(Table::DeviceLogonEvents, action, rec.at);
    let host = rec.remote_host.as_str();
    let host_ip = host.parse::<IpAddr>().ok();
    let ip = rec.remote_ip.or(host_ip);
    // A host starting with ':' is a local X display, not a remote machine.
    let remote = ip.is_some() || (!host.is_empty() && !host.starts_with(':'));
    row.put(
        Col::AccountName,
        (!rec.user.is_empty()).then_some(rec.user.as_str()),
    );
    row.put(
        Col::LogonType,
        if remote { "Network" } else { "Interactive" },
    );
    let ssh = remote || rec.tty.starts_with("ssh");
    row.put(Col::Protocol, if ssh { "SSH" } else { "Local" });
    if let Some(ip) = ip {
        row.put(Col::RemoteIP, ip.to_string());
        row.put(Col::RemoteIPType, ip_type(&ip));
    }
    if remote && !host.is_empty() && host_ip.is_none() {
        row.put(Col::RemoteDeviceName, host);
    }
    row.put_extra(extra::TTY, rec.tty.as_str());
    row.put_extra("pid", rec.pid);
    row
}

/// Follows one file by byte offset, across truncation and rotation.
#[derive(Debug)]
struct Tail {
    path: PathBuf,
    file: Option<File>,
    /// Device and inode of `file`.
    ident: (u64, u64),
    /// Bytes of `file` already read; always a whole number of records.
    offset: u64,
}

fn round_down(n: u64) -> u64 {
    n - n % UTMP_RECORD_SIZE as u64
}

impl Tail {
    /// Start at the end of `path` (or at its start once it appears, if it does not exist).
    fn at_end(path: PathBuf) -> Tail {
        let mut t = Tail {
            path,
            file: None,
            ident: (0, 0),
            offset: 0,
        };
        if let Ok(f) = File::open(&t.path) {
            if let Ok(m) = f.metadata() {
                // A partial record at the end is being written now: read it once complete.
                t.offset = round_down(m.len());
                t.ident = (m.dev(), m.ino());
                t.file = Some(f);
            }
        }
        t
    }

    /// The bytes of the new complete records.
    fn read_new(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(f) = &self.file {
            let len = f.metadata()?.len();
            if len < self.offset {
                // Truncated in place: what is there now is new.
                self.offset = 0;
            }
            let more = self.read_from_file(len, &mut out)?;
            if more {
                // Finish this file before looking for a replacement.
                return Ok(out);
            }
        }
        match fs::metadata(&self.path) {
            Ok(m) if self.file.is_none() || (m.dev(), m.ino()) != self.ident => {
                // Rotated or created: read the new file from its start.
                let f = File::open(&self.path)?;
                let m = f.metadata()?;
                self.ident = (m.dev(), m.ino());
                self.offset = 0;
                let len = m.len();
                self.file = Some(f);
                self.read_from_file(len, &mut out)?;
            }
            Ok(_) => {}
            // Rotated away and not yet recreated: keep the old file.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(out)
    }

    /// Append the complete records between the offset and `len` (at most [`MAX_READ`]
    /// bytes) to `out`; true when more remain.
    fn read_from_file(&mut self, len: u64, out: &mut Vec<u8>) -> io::Result<bool> {
        let Some(f) = &self.file else {
            return Ok(false);
        };
        let avail = round_down(len.saturating_sub(self.offset));
        let n = avail.min(MAX_READ);
        if n == 0 {
            return Ok(false);
        }
        let start = out.len();
        out.resize(start + n as usize, 0);
        if let Err(e) = f.read_exact_at(&mut out[start..], self.offset) {
            out.truncate(start);
            return Err(e);
        }
        self.offset += n;
        Ok(avail > n)
    }
}

/// Where an open session came from, to complete its logout record.
#[derive(Debug, Clone)]
struct Session {
    user: String,
    host: String,
    addr_v6: [u8; 16],
}

/// Follows `/var/log/wtmp` (logons and logoffs) and `/var/log/btmp` (failed logons) and
/// reports the records appended since the last poll. History before the watcher was created
/// is not replayed.
#[derive(Debug)]
pub struct LogonWatcher {
    wtmp: Tail,
    btmp: Tail,
    /// Open sessions by terminal line.
    sessions: HashMap<String, Session>,
    errors: u64,
}

impl LogonWatcher {
    /// Watch `wtmp` and `btmp` from their current ends. Files that do not exist yet are read
    /// from their start once they appear.
    pub fn new(wtmp: PathBuf, btmp: PathBuf) -> LogonWatcher {
        let mut w = LogonWatcher {
            sessions: HashMap::new(),
            wtmp: Tail::at_end(wtmp),
            btmp: Tail::at_end(btmp),
            errors: 0,
        };
        w.prime();
        w
    }

    /// The system files, `/var/log/wtmp` and `/var/log/btmp`.
    pub fn system() -> LogonWatcher {
        LogonWatcher::new("/var/log/wtmp".into(), "/var/log/btmp".into())
    }

    /// Learn the sessions still open from the last records before the start offset.
    fn prime(&mut self) {
        let Some(f) = &self.wtmp.file else {
            return;
        };
        let end = self.wtmp.offset;
        let start = end.saturating_sub(PRIME_BYTES);
        let mut buf = vec![0u8; (end - start) as usize];
        if f.read_exact_at(&mut buf, start).is_err() {
            self.errors += 1;
            return;
        }
        for r in parse_utmp(&buf).0 {
            self.wtmp_record(&r);
        }
    }

    /// Records read errors since the watcher was created (each poll retries).
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// The records appended to both files since the last poll, wtmp's first.
    pub fn poll(&mut self) -> Vec<LogonRecord> {
        let mut out = Vec::new();
        match self.wtmp.read_new() {
            Ok(bytes) => {
                for r in parse_utmp(&bytes).0 {
                    out.extend(self.wtmp_record(&r));
                }
            }
            Err(_) => self.errors += 1,
        }
        match self.btmp.read_new() {
            Ok(bytes) => out.extend(
                parse_utmp(&bytes)
                    .0
                    .iter()
                    .filter(|r| matches!(r.ut_type, LOGIN_PROCESS | USER_PROCESS))
                    .map(|r| LogonRecord::from_utmp(LogonKind::Failed, r)),
            ),
            Err(_) => self.errors += 1,
        }
        out
    }

    /// Track sessions and turn a wtmp record into a logon or logoff, if it is one. A logout
    /// with no known session and no user (a getty restarting) is not reported.
    fn wtmp_record(&mut self, r: &UtmpRecord) -> Option<LogonRecord> {
        match r.ut_type {
            USER_PROCESS if !r.user.is_empty() => {
                if self.sessions.len() >= MAX_SESSIONS && !self.sessions.contains_key(&r.line) {
                    // Too many to be real: report the logon without tracking it.
                    return Some(LogonRecord::from_utmp(LogonKind::Success, r));
                }
                self.sessions.insert(
                    r.line.clone(),
                    Session {
                        user: r.user.clone(),
                        host: r.host.clone(),
                        addr_v6: r.addr_v6,
                    },
                );
                Some(LogonRecord::from_utmp(LogonKind::Success, r))
            }
            DEAD_PROCESS => {
                let mut r = r.clone();
                if let Some(s) = self.sessions.remove(&r.line) {
                    if r.user.is_empty() {
                        r.user = s.user;
                    }
                    if r.host.is_empty() && r.addr_v6 == [0; 16] {
                        r.host = s.host;
                        r.addr_v6 = s.addr_v6;
                    }
                } else if r.user.is_empty() {
                    return None;
                }
                Some(LogonRecord::from_utmp(LogonKind::Logoff, &r))
            }
            BOOT_TIME => {
                // Every session ended with the previous boot.
                self.sessions.clear();
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn put_str(buf: &mut [u8], at: usize, len: usize, s: &[u8]) {
        let n = s.len().min(len);
        buf[at..at + n].copy_from_slice(&s[..n]);
    }

    /// Encode a record as glibc lays it out on x86_64.
    fn encode_raw(r: &UtmpRecord, user: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; UTMP_RECORD_SIZE];
        b[0..2].copy_from_slice(&r.ut_type.to_ne_bytes());
        b[4..8].copy_from_slice(&r.pid.to_ne_bytes());
        put_str(&mut b, 8, 32, r.line.as_bytes());
        put_str(&mut b, 40, 4, r.id.as_bytes());
        put_str(&mut b, 44, 32, user);
        put_str(&mut b, 76, 256, r.host.as_bytes());
        b[332..334].copy_from_slice(&r.exit_termination.to_ne_bytes());
        b[334..336].copy_from_slice(&r.exit_status.to_ne_bytes());
        b[336..340].copy_from_slice(&r.session.to_ne_bytes());
        b[340..344].copy_from_slice(&r.tv_sec.to_ne_bytes());
        b[344..348].copy_from_slice(&r.tv_usec.to_ne_bytes());
        b[348..364].copy_from_slice(&r.addr_v6);
        b
    }

    fn encode(r: &UtmpRecord) -> Vec<u8> {
        encode_raw(r, r.user.as_bytes())
    }

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0u8; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    fn ssh_login(user: &str, line: &str, pid: i32, sec: i32) -> UtmpRecord {
        UtmpRecord {
            ut_type: USER_PROCESS,
            pid,
            line: line.into(),
            id: line.trim_start_matches("pts/").into(),
            user: user.into(),
            host: "203.0.113.7".into(),
            session: 3,
            tv_sec: sec,
            tv_usec: 250_000,
            addr_v6: v4([203, 0, 113, 7]),
            ..Default::default()
        }
    }

    fn logout(line: &str, pid: i32, sec: i32) -> UtmpRecord {
        UtmpRecord {
            ut_type: DEAD_PROCESS,
            pid,
            line: line.into(),
            tv_sec: sec,
            ..Default::default()
        }
    }

    fn failure(user: &str, sec: i32) -> UtmpRecord {
        UtmpRecord {
            ut_type: LOGIN_PROCESS,
            pid: 900,
            line: "ssh:notty".into(),
            user: user.into(),
            host: "bad.example.net".into(),
            tv_sec: sec,
            addr_v6: "2001:db8::66".parse::<Ipv6Addr>().unwrap().octets(),
            ..Default::default()
        }
    }

    #[test]
    fn records_round_trip() {
        let recs = vec![
            ssh_login("alice", "pts/0", 4242, 1_700_000_000),
            logout("pts/0", 4242, 1_700_000_100),
        ];
        let bytes: Vec<u8> = recs.iter().flat_map(encode).collect();
        let (parsed, bad) = parse_utmp(&bytes);
        assert_eq!(bad, 0);
        assert_eq!(parsed, recs);
        assert_eq!(parsed[0].remote_ip(), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(
            parsed[0].timestamp(),
            Timestamp::from_parts(1_700_000_000, 250_000_000)
        );
        assert_eq!(parsed[1].remote_ip(), None);
    }

    #[test]
    fn truncated_tail_is_counted() {
        let mut bytes = encode(&ssh_login("bob", "pts/1", 1, 1));
        bytes.extend_from_slice(&[7, 0, 0, 0, 1]);
        let (parsed, bad) = parse_utmp(&bytes);
        assert_eq!((parsed.len(), bad), (1, 1));
        assert_eq!(parse_utmp(&[1, 2, 3]), (vec![], 1));
        assert_eq!(parse_utmp(&[]), (vec![], 0));
    }

    #[test]
    fn non_utf8_and_full_width_names() {
        let r = ssh_login("", "pts/2", 1, 1);
        let raw = encode_raw(&r, b"b\xffob");
        let (parsed, _) = parse_utmp(&raw);
        assert_eq!(parsed[0].user, "b\u{fffd}ob");
        // A name filling all 32 bytes has no NUL.
        let long = "x".repeat(32);
        let (parsed, _) = parse_utmp(&encode(&ssh_login(&long, "pts/3", 1, 1)));
        assert_eq!(parsed[0].user, long);
    }

    #[test]
    fn remote_ip_forms() {
        let mut r = UtmpRecord {
            addr_v6: "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets(),
            ..Default::default()
        };
        assert_eq!(r.remote_ip(), Some("2001:db8::1".parse().unwrap()));
        r.addr_v6 = "::ffff:10.1.2.3".parse::<Ipv6Addr>().unwrap().octets();
        assert_eq!(r.remote_ip(), Some("10.1.2.3".parse().unwrap()));
        r.tv_usec = -5;
        r.tv_sec = -1;
        assert_eq!(r.timestamp(), Timestamp::from_parts(u32::MAX as i64, 0));
    }

    #[test]
    fn rows_for_logon_failure_and_logoff() {
        let rec = LogonRecord::from_utmp(LogonKind::Success, &ssh_login("alice", "pts/0", 7, 5));
        let row = logon_row(&rec);
        assert_eq!(row.action_type(), "LogonSuccess");
        assert_eq!(row.get_str(Col::AccountName), Some("alice"));
        assert_eq!(row.get_str(Col::LogonType), Some("Network"));
        assert_eq!(row.get_str(Col::Protocol), Some("SSH"));
        assert_eq!(row.get_str(Col::RemoteIP), Some("203.0.113.7"));
        assert_eq!(row.get_str(Col::RemoteIPType), Some("Public"));
        assert!(row.get(Col::RemoteDeviceName).is_null());
        assert_eq!(row.extra().unwrap().to_json(), r#"{"pid":7,"tty":"pts/0"}"#);
        assert_eq!(row.timestamp(), Timestamp::from_parts(5, 250_000_000));

        let rec = LogonRecord::from_utmp(LogonKind::Failed, &failure("admin", 9));
        let row = logon_row(&rec);
        assert_eq!(row.action_type(), "LogonFailed");
        assert_eq!(row.get_str(Col::RemoteIP), Some("2001:db8::66"));
        assert_eq!(row.get_str(Col::RemoteDeviceName), Some("bad.example.net"));

        let local = UtmpRecord {
            ut_type: USER_PROCESS,
            line: "tty1".into(),
            user: "root".into(),
            ..Default::default()
        };
        let row = logon_row(&LogonRecord::from_utmp(LogonKind::Logoff, &local));
        assert_eq!(row.action_type(), "Logoff");
        assert_eq!(row.get_str(Col::LogonType), Some("Interactive"));
        assert_eq!(row.get_str(Col::Protocol), Some("Local"));
        assert!(row.get(Col::RemoteIP).is_null());

        let x = UtmpRecord {
            host: ":0".into(),
            ..local
        };
        let row = logon_row(&LogonRecord::from_utmp(LogonKind::Success, &x));
        assert_eq!(row.get_str(Col::LogonType), Some("Interactive"));
        assert!(row.get(Col::RemoteDeviceName).is_null());
    }

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!("vigil-logon-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn append(path: &std::path::Path, recs: &[UtmpRecord]) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        for r in recs {
            f.write_all(&encode(r)).unwrap();
        }
    }

    #[test]
    fn watcher_reports_only_new_records() {
        let dir = TempDir::new("new");
        let (wtmp, btmp) = (dir.0.join("wtmp"), dir.0.join("btmp"));
        // History: alice is logged in on pts/0 before the watcher starts.
        append(&wtmp, &[ssh_login("alice", "pts/0", 10, 100)]);
        append(&btmp, &[failure("old", 50)]);
        let mut w = LogonWatcher::new(wtmp.clone(), btmp.clone());
        assert!(w.poll().is_empty());

        append(&wtmp, &[ssh_login("bob", "pts/1", 11, 200)]);
        append(&btmp, &[failure("admin", 210)]);
        let got = w.poll();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].kind, got[0].user.as_str()),
            (LogonKind::Success, "bob")
        );
        assert_eq!(
            (got[1].kind, got[1].user.as_str()),
            (LogonKind::Failed, "admin")
        );
        assert!(w.poll().is_empty());

        // Logouts carry no user: it comes from the session, even one opened before start.
        append(&wtmp, &[logout("pts/0", 10, 300), logout("pts/1", 11, 301)]);
        // A getty restarting on a line with no session is not a logoff.
        append(&wtmp, &[logout("tty3", 12, 302)]);
        let got = w.poll();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].kind, got[0].user.as_str()),
            (LogonKind::Logoff, "alice")
        );
        assert_eq!(got[0].remote_ip, Some("203.0.113.7".parse().unwrap()));
        assert_eq!(got[1].user, "bob");
        assert_eq!(got[1].at, Timestamp::from_parts(301, 0));

        // Half a record is left for the next poll.
        let rec = encode(&ssh_login("carol", "pts/2", 13, 400));
        let mut f = fs::OpenOptions::new().append(true).open(&wtmp).unwrap();
        f.write_all(&rec[..100]).unwrap();
        assert!(w.poll().is_empty());
        f.write_all(&rec[100..]).unwrap();
        let got = w.poll();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].user, "carol");
        assert_eq!(w.errors(), 0);
    }

    #[test]
    fn watcher_restarts_after_truncation_and_rotation() {
        let dir = TempDir::new("rot");
        let (wtmp, btmp) = (dir.0.join("wtmp"), dir.0.join("btmp"));
        append(
            &wtmp,
            &[ssh_login("a", "pts/0", 1, 1), ssh_login("b", "pts/1", 2, 2)],
        );
        let mut w = LogonWatcher::new(wtmp.clone(), btmp.clone());

        // Truncated in place, then one record written: it is read from the start.
        fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&wtmp)
            .unwrap();
        append(&wtmp, &[ssh_login("c", "pts/2", 3, 3)]);
        let got = w.poll();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].user, "c");

        // Rotated: a record written to the old file before the move is still read, then the
        // new file from its start.
        append(&wtmp, &[ssh_login("d", "pts/3", 4, 4)]);
        fs::rename(&wtmp, dir.0.join("wtmp.1")).unwrap();
        append(&wtmp, &[ssh_login("e", "pts/4", 5, 5)]);
        let users: Vec<String> = w.poll().into_iter().map(|r| r.user).collect();
        assert_eq!(users, ["d", "e"]);

        // btmp did not exist at start: once created it is read from its start.
        append(&btmp, &[failure("root", 6)]);
        let got = w.poll();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, LogonKind::Failed);
        assert!(w.poll().is_empty());
        assert_eq!(w.errors(), 0);
    }
}
