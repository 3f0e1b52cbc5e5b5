//! Decoding of kernel records into [`SensorEvent`]s.
//!
//! This is the only place that sees the `repr(C)` records of `events.h` (through the
//! skeleton's generated types). Every record is length-checked before it is read, strings are
//! cut at their bound and decoded lossily, and a record that does not fit is an error that the
//! caller counts; nothing here panics on what the kernel (or a corrupted buffer) sends.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::sensors::bpf::types;
use crate::sensors::event::*;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record of {got} bytes is shorter than the {need} its type needs")]
    Short { need: usize, got: usize },
    #[error("record type {0} is unknown")]
    UnknownType(u16),
    #[error("record says it has {said} bytes but {got} arrived")]
    SizeMismatch { said: usize, got: usize },
}

// Record type ids: the values of `enum vigil_event_type` in events.h.
const EV_EXEC: u16 = 100;
const EV_FORK: u16 = 101;
const EV_EXIT: u16 = 102;
const EV_FILE_CREATE: u16 = 200;
const EV_FILE_MODIFY: u16 = 201;
const EV_FILE_RENAME: u16 = 202;
const EV_FILE_DELETE: u16 = 203;
const EV_FILE_CHMOD: u16 = 204;
const EV_FILE_READ_SENSITIVE: u16 = 205;
const EV_TCP_CONNECT: u16 = 300;
const EV_TCP_ACCEPT: u16 = 301;
const EV_TCP_LISTEN: u16 = 302;
const EV_UDP_PEER: u16 = 303;
const EV_PTRACE: u16 = 400;
const EV_CRED_CHANGE: u16 = 401;
const EV_BPF_LOAD: u16 = 402;
const EV_MODULE_LOAD: u16 = 403;
const EV_MEMFD_CREATE: u16 = 404;
const EV_SYSCALL: u16 = 405;
const EV_CGROUP_RMDIR: u16 = 406;

// Flag bits of `enum vigil_flags`.
const F_ARGV_TRUNCATED: u16 = 1 << 0;
const F_PATH_TRUNCATED: u16 = 1 << 1;
const F_FILELESS: u16 = 1 << 2;
const F_MEMFD: u16 = 1 << 3;
const F_CWD_TRUNCATED: u16 = 1 << 4;

/// Marker for the plain-old-data record types generated from events.h.
///
/// # Safety
/// Implementors must be `repr(C)` structs of integers and integer arrays only, so that every
/// bit pattern is a valid value.
unsafe trait Plain: Default + Copy {}
// SAFETY: generated from events.h; these structs hold only integers and integer arrays.
unsafe impl Plain for types::vigil_header {}
// SAFETY: as above.
unsafe impl Plain for types::vigil_exec {}
// SAFETY: as above.
unsafe impl Plain for types::vigil_fork {}
// SAFETY: as above.
unsafe impl Plain for types::vigil_exit {}
// SAFETY: as above.
unsafe impl Plain for types::vigil_file {}
// SAFETY: as above.
unsafe impl Plain for types::vigil_net {}
// SAFETY: as above.
unsafe impl Plain for types::vigil_security {}

/// Copy up to `size_of::<T>()` bytes of `data` into a zeroed `T`, requiring at least `need`.
fn read<T: Plain>(data: &[u8], need: usize) -> Result<T, DecodeError> {
    if data.len() < need {
        return Err(DecodeError::Short {
            need,
            got: data.len(),
        });
    }
    let mut value = T::default();
    let n = data.len().min(std::mem::size_of::<T>());
    // SAFETY: `T: Plain` accepts any bytes; we copy `n <= size_of::<T>()` bytes into it from a
    // slice of at least `n` bytes, and the two regions cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(data.as_ptr(), (&mut value as *mut T).cast::<u8>(), n);
    }
    Ok(value)
}

/// A NUL-terminated (or full) kernel byte string, decoded lossily.
pub fn cstr(bytes: &[i8]) -> String {
    // SAFETY: i8 and u8 have the same size and alignment, and the slice stays borrowed.
    let bytes: &[u8] =
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<u8>(), bytes.len()) };
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Join a kernel-resolved directory and a user-supplied path, then normalise `.` and `..`
/// lexically. An absolute `arg` stands alone; an empty `arg` means `dir` is the whole path.
pub fn join_path(dir: &str, arg: &str) -> String {
    let raw = if arg.starts_with('/') || dir.is_empty() {
        arg.to_string()
    } else if arg.is_empty() {
        dir.to_string()
    } else {
        format!("{}/{}", dir.trim_end_matches('/'), arg)
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn origin(h: &types::vigil_header) -> Origin {
    Origin {
        ts: h.ts,
        tgid: h.tgid,
        tid: h.tid,
        start: h.start,
        uid: h.uid,
    }
}

fn addr(a: &types::vigil_addr) -> SocketAddr {
    let ip = if a.family == 10 {
        IpAddr::V6(Ipv6Addr::from(a.addr))
    } else {
        IpAddr::V4(Ipv4Addr::new(a.addr[0], a.addr[1], a.addr[2], a.addr[3]))
    };
    SocketAddr::new(ip, a.port)
}

/// Decode one ring-buffer record.
pub fn decode(data: &[u8]) -> Result<SensorEvent, DecodeError> {
    let h: types::vigil_header = read(data, std::mem::size_of::<types::vigil_header>())?;
    let said = h.size as usize;
    if said > data.len() {
        return Err(DecodeError::SizeMismatch {
            said,
            got: data.len(),
        });
    }
    let o = origin(&h);
    Ok(match h.r#type {
        EV_EXEC => {
            let e: types::vigil_exec = read(data, std::mem::size_of::<types::vigil_exec>())?;
            let argv_len = (e.argv_len as usize).min(e.argv.len());
            let argv = cstr_list(&e.argv[..argv_len]);
            let fileless = if h.flags & F_FILELESS == 0 {
                None
            } else if h.flags & F_MEMFD != 0 {
                Some(Fileless::Memfd)
            } else {
                Some(Fileless::Deleted)
            };
            SensorEvent::Exec(ExecEvent {
                origin: o,
                ppid: e.ppid,
                parent_start: e.parent_start,
                euid: e.euid,
                gid: e.gid,
                egid: e.egid,
                loginuid: e.loginuid,
                sessionid: e.sessionid,
                cgroup_id: e.cgroup_id,
                ino: e.ino,
                path: cstr(&e.path),
                path_truncated: h.flags & F_PATH_TRUNCATED != 0,
                cwd: cstr(&e.cwd),
                cwd_truncated: h.flags & F_CWD_TRUNCATED != 0,
                argv,
                argv_truncated: h.flags & F_ARGV_TRUNCATED != 0,
                comm: cstr(&e.comm),
                tty: Some(cstr(&e.tty)).filter(|t| !t.is_empty()),
                cgroup: cstr(&e.cgroup),
                fileless,
            })
        }
        EV_FORK => {
            let e: types::vigil_fork = read(data, std::mem::size_of::<types::vigil_fork>())?;
            SensorEvent::Fork(ForkEvent {
                origin: o,
                ppid: e.ppid,
                parent_start: e.parent_start,
                comm: cstr(&e.comm),
            })
        }
        EV_EXIT => {
            let e: types::vigil_exit = read(data, std::mem::size_of::<types::vigil_exit>())?;
            SensorEvent::Exit(ExitEvent {
                origin: o,
                status: e.exit_code,
            })
        }
        EV_FILE_CREATE
        | EV_FILE_MODIFY
        | EV_FILE_RENAME
        | EV_FILE_DELETE
        | EV_FILE_CHMOD
        | EV_FILE_READ_SENSITIVE => {
            let full = std::mem::size_of::<types::vigil_file>();
            let need = if h.r#type == EV_FILE_RENAME {
                full
            } else {
                full - std::mem::size_of::<types::vigil_path>()
            };
            let e: types::vigil_file = read(data, need)?;
            let first = join_path(&cstr(&e.path.dir), &cstr(&e.path.arg));
            let (op, path, old_path) = match h.r#type {
                EV_FILE_CREATE => (FileOp::Created, first, None),
                EV_FILE_MODIFY => (FileOp::Modified, first, None),
                EV_FILE_DELETE => (FileOp::Deleted, first, None),
                EV_FILE_CHMOD => (FileOp::ModeChanged { mode: e.mode }, first, None),
                EV_FILE_READ_SENSITIVE => (FileOp::SensitiveRead, first, None),
                _ => (
                    FileOp::Renamed,
                    join_path(&cstr(&e.path2.dir), &cstr(&e.path2.arg)),
                    Some(first),
                ),
            };
            SensorEvent::File(FileEvent {
                origin: o,
                op,
                path,
                old_path,
                truncated: h.flags & F_PATH_TRUNCATED != 0,
            })
        }
        EV_TCP_CONNECT | EV_TCP_ACCEPT | EV_TCP_LISTEN | EV_UDP_PEER => {
            let e: types::vigil_net = read(data, std::mem::size_of::<types::vigil_net>())?;
            let kind = match h.r#type {
                EV_TCP_CONNECT => NetKind::Connect { ok: e.result == 0 },
                EV_TCP_ACCEPT => NetKind::Accept,
                EV_TCP_LISTEN => NetKind::Listen,
                _ => NetKind::UdpPeer,
            };
            SensorEvent::Net(NetEvent {
                origin: o,
                kind,
                udp: e.protocol == 17,
                local: addr(&e.local),
                remote: addr(&e.remote),
            })
        }
        EV_PTRACE | EV_CRED_CHANGE | EV_BPF_LOAD | EV_MODULE_LOAD | EV_MEMFD_CREATE
        | EV_SYSCALL | EV_CGROUP_RMDIR => {
            let e: types::vigil_security =
                read(data, std::mem::size_of::<types::vigil_security>())?;
            let name = cstr(&e.name);
            let kind = match h.r#type {
                EV_PTRACE => SecurityKind::Ptrace {
                    request: e.request,
                    target: e.target_pid,
                },
                EV_CRED_CHANGE => SecurityKind::CredChange {
                    group: e.request == 1,
                    old: e.old_id,
                    new: e.new_id,
                },
                EV_BPF_LOAD => SecurityKind::BpfLoad {
                    prog_type: e.request as u32,
                    name,
                },
                EV_MODULE_LOAD => SecurityKind::ModuleLoad { name },
                EV_CGROUP_RMDIR => SecurityKind::CgroupRemoved {
                    root: e.request as i32,
                    path: name,
                },
                EV_SYSCALL => SecurityKind::Syscall {
                    name: cstr(&e.name[..16]),
                    a0: e.request,
                    mode: e.old_id,
                    path: Some(cstr(&e.name[16..])).filter(|p| !p.is_empty()),
                },
                _ => SecurityKind::MemfdCreate {
                    name,
                    flags: e.request as u64,
                },
            };
            SensorEvent::Security(SecurityEvent { origin: o, kind })
        }
        other => return Err(DecodeError::UnknownType(other)),
    })
}

/// Split NUL-separated argv bytes into arguments (a trailing NUL ends the list).
fn cstr_list(bytes: &[i8]) -> Vec<String> {
    // SAFETY: i8 and u8 have the same size and alignment, and the slice stays borrowed.
    let bytes: &[u8] =
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<u8>(), bytes.len()) };
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ty: u16, size: usize) -> types::vigil_header {
        types::vigil_header {
            r#type: ty,
            size: size as u32,
            tgid: 7,
            tid: 7,
            ..Default::default()
        }
    }

    fn bytes_of<T: Plain>(v: &T) -> Vec<u8> {
        // SAFETY: T is plain old data; we read exactly its size from a valid reference.
        unsafe {
            std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>())
                .to_vec()
        }
    }

    fn put(dst: &mut [i8], s: &[u8]) {
        for (d, b) in dst.iter_mut().zip(s) {
            *d = *b as i8;
        }
    }

    #[test]
    fn exec_record_round_trips_with_lossy_strings() {
        let mut e = types::vigil_exec {
            hdr: header(EV_EXEC, std::mem::size_of::<types::vigil_exec>()),
            ..Default::default()
        };
        e.hdr.flags = F_ARGV_TRUNCATED | F_FILELESS | F_MEMFD;
        put(&mut e.path, b"/memfd:x");
        put(&mut e.argv, b"ls\0-l\0caf\xff\0");
        e.argv_len = 11;
        e.ppid = 1;
        let SensorEvent::Exec(x) = decode(&bytes_of(&e)).unwrap() else {
            panic!("not exec")
        };
        assert_eq!(x.argv, vec!["ls", "-l", "caf\u{fffd}"]);
        assert!(x.argv_truncated);
        assert_eq!(x.fileless, Some(Fileless::Memfd));
        assert_eq!(x.path, "/memfd:x");
    }

    #[test]
    fn argv_len_beyond_the_buffer_is_bounded() {
        let mut e = types::vigil_exec {
            hdr: header(EV_EXEC, std::mem::size_of::<types::vigil_exec>()),
            ..Default::default()
        };
        e.argv_len = u32::MAX;
        assert!(decode(&bytes_of(&e)).is_ok());
    }

    #[test]
    fn short_corrupt_and_unknown_records_are_errors() {
        let e = types::vigil_exec {
            hdr: header(EV_EXEC, std::mem::size_of::<types::vigil_exec>()),
            ..Default::default()
        };
        let bytes = bytes_of(&e);
        for cut in [0, 1, 10, 39, 40, 100, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let unknown = header(999, 40);
        assert_eq!(
            decode(&bytes_of(&unknown)),
            Err(DecodeError::UnknownType(999))
        );
        let lying = header(EV_EXIT, 1 << 20);
        assert!(matches!(
            decode(&bytes_of(&lying)),
            Err(DecodeError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn file_records_join_relative_paths() {
        let mut f = types::vigil_file {
            hdr: header(EV_FILE_RENAME, std::mem::size_of::<types::vigil_file>()),
            ..Default::default()
        };
        put(&mut f.path.dir, b"/tmp/work");
        put(&mut f.path.arg, b"./a.txt");
        put(&mut f.path2.arg, b"/tmp/work/../b.txt");
        let SensorEvent::File(x) = decode(&bytes_of(&f)).unwrap() else {
            panic!("not file")
        };
        assert_eq!(x.old_path.as_deref(), Some("/tmp/work/a.txt"));
        assert_eq!(x.path, "/tmp/b.txt");
        assert_eq!(x.op, FileOp::Renamed);
    }

    #[test]
    fn join_path_normalises() {
        assert_eq!(join_path("/a/b", "../c"), "/a/c");
        assert_eq!(join_path("/", "x"), "/x");
        assert_eq!(join_path("/a", ""), "/a");
        assert_eq!(join_path("/a", "/../.."), "/");
    }
}
