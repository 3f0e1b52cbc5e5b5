//! The programs of `guard.bpf.c` in the kernel (tamper protection and the kernel-side ASR
//! rules): loading, attaching each program on its own, the maps, the record decoder, and the
//! thread that drains the `records` ring buffer.
//!
//! One thread ("guard-bpf") owns the skeleton and the links; it hands duplicated map
//! descriptors ([`GuardMaps`]) to the caller and polls until told to stop. The links close
//! with the thread or the process, so nothing stays attached after the agent.
//!
//! **Invariant:** this file and `protect::decode` are the only readers of a `repr(C)` guard
//! record; a record shorter than `vg_record` is counted and skipped.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, MapHandle, RingBufferBuilder};

use crate::protect::kernel::HookState;
use crate::sensors::decode::cstr;
use crate::tamper::bpf::{types, GuardSkelBuilder};

/// What the kernel reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardRecord {
    /// A signal sent to a protected process.
    Signal {
        boot_ns: u64,
        sender: Actor,
        target: u32,
        target_comm: String,
        sig: i32,
        result: i32,
    },
    /// An ASR rule matched.
    Asr {
        boot_ns: u64,
        rule: u16,
        actor: Actor,
        killed: bool,
        /// ptrace: the target pid.
        target: u32,
        /// ptrace: the request (-1 for process_vm_writev).
        request: i32,
        /// exec rules: the file name as given to execve.
        path: String,
    },
}

/// The process that acted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub ppid: u32,
    pub comm: String,
    pub parent_comm: String,
}

/// Decode one ring-buffer record.
pub fn decode(data: &[u8]) -> Option<GuardRecord> {
    if data.len() < std::mem::size_of::<types::vg_record>() {
        return None;
    }
    // SAFETY: the length is checked above; vg_record (guard.h) is integers and integer arrays
    // without implicit padding, so any bytes are a valid value; the read is unaligned-safe.
    let r: types::vg_record = unsafe { std::ptr::read_unaligned(data.as_ptr().cast()) };
    let actor = Actor {
        pid: r.tgid,
        tid: r.tid,
        uid: r.uid,
        ppid: r.ppid,
        comm: cstr(&r.comm),
        parent_comm: cstr(&r.pcomm),
    };
    match r.r#type {
        1 => Some(GuardRecord::Signal {
            boot_ns: r.ts,
            sender: actor,
            target: r.target,
            target_comm: cstr(&r.tcomm),
            sig: r.sig,
            result: r.result,
        }),
        2 => Some(GuardRecord::Asr {
            boot_ns: r.ts,
            rule: r.rule,
            actor,
            killed: r.killed != 0,
            target: r.target,
            request: r.sig,
            path: cstr(&r.path),
        }),
        _ => None,
    }
}

/// Descriptors of the guard's maps, usable from any thread.
pub struct GuardMaps {
    protected: MapHandle,
    open_flags: MapHandle,
    asr_mode: MapHandle,
    comm_roles: MapHandle,
    lost: MapHandle,
}

fn comm_key(name: &str) -> [u8; 16] {
    let mut k = [0u8; 16];
    for (d, b) in k.iter_mut().zip(name.bytes().take(15)) {
        *d = b;
    }
    k
}

impl GuardMaps {
    /// Signals to `pid` by other processes are reported.
    pub fn protect_pid(&self, pid: u32) -> Result<(), String> {
        self.protected
            .update(&pid.to_ne_bytes(), &1u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| format!("cannot protect pid {pid}: {e}"))
    }

    pub fn unprotect_pid(&self, pid: u32) {
        let _ = self.protected.delete(&pid.to_ne_bytes());
    }

    /// The flags of `tid`'s latest open(2)-family call and when it was made (boot ns).
    pub fn open_flags(&self, tid: u32) -> Option<(u64, u32)> {
        let v = self
            .open_flags
            .lookup(&tid.to_ne_bytes(), MapFlags::ANY)
            .ok()
            .flatten()?;
        if v.len() < 12 {
            return None;
        }
        let ts = u64::from_ne_bytes(v[0..8].try_into().ok()?);
        let flags = u32::from_ne_bytes(v[8..12].try_into().ok()?);
        Some((ts, flags))
    }

    /// Set the mode of a kernel ASR rule (0 off, 1 audit, 2 block).
    pub fn set_rule_mode(&self, rule: u32, mode: u32) -> Result<(), String> {
        self.asr_mode
            .update(&rule.to_ne_bytes(), &mode.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| format!("cannot set the mode of ASR rule {rule}: {e}"))
    }

    /// Give a process name its roles (bits of `enum vg_role`), adding to what it has.
    pub fn add_role(&self, comm: &str, role: u32) -> Result<(), String> {
        let k = comm_key(comm);
        let old = self
            .comm_roles
            .lookup(&k, MapFlags::ANY)
            .ok()
            .flatten()
            .and_then(|v| v.get(..4)?.try_into().ok().map(u32::from_ne_bytes))
            .unwrap_or(0);
        self.comm_roles
            .update(&k, &(old | role).to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| format!("cannot set the role of {comm:?}: {e}"))
    }

    /// Records lost because the ring buffer was full.
    pub fn lost(&self) -> u64 {
        self.lost
            .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
            .ok()
            .flatten()
            .and_then(|v| v.get(..8)?.try_into().ok().map(u64::from_ne_bytes))
            .unwrap_or(0)
    }
}

/// What the guard thread reports once attachment is done.
pub struct Attached {
    pub maps: GuardMaps,
    pub hooks: Vec<HookState>,
}

/// The running guard programs.
pub struct GuardKernel {
    pub maps: Arc<GuardMaps>,
    pub hooks: Vec<HookState>,
    pub malformed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GuardKernel {
    /// Load and attach; `on_record` runs on the guard thread for every record.
    /// `programs`: the names of the programs to load (all when empty).
    pub fn start(
        programs: &'static [&'static str],
        on_record: Box<dyn Fn(GuardRecord) + Send>,
    ) -> Result<GuardKernel, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let malformed = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::sync_channel(1);
        let (s, m) = (Arc::clone(&stop), Arc::clone(&malformed));
        let thread = std::thread::Builder::new()
            .name("guard-bpf".into())
            .spawn(move || run(programs, tx, on_record, &s, &m))
            .map_err(|e| format!("cannot start the guard thread: {e}"))?;
        let attached = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| Err("the guard programs did not load within 60 s".into()))?;
        Ok(GuardKernel {
            maps: Arc::new(attached.maps),
            hooks: attached.hooks,
            malformed,
            stop,
            thread: Some(thread),
        })
    }

    /// Whether the hook of program `name` attached.
    pub fn attached(&self, name: &str) -> bool {
        self.hooks.iter().any(|h| h.name == name && h.attached)
    }
}

impl Drop for GuardKernel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    programs: &[&str],
    ready: SyncSender<Result<Attached, String>>,
    on_record: Box<dyn Fn(GuardRecord) + Send>,
    stop: &AtomicBool,
    malformed: &AtomicU64,
) {
    let mut storage = MaybeUninit::uninit();
    let mut open = match GuardSkelBuilder::default().open(&mut storage) {
        Ok(o) => o,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot open the guard object: {e}")));
            return;
        }
    };
    if !programs.is_empty() {
        for mut prog in open.open_object_mut().progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            prog.set_autoload(programs.contains(&name.as_str()));
        }
    }
    let skel = match open.load() {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(format!("the kernel refused the guard programs: {e}")));
            return;
        }
    };
    let mut hooks = Vec::new();
    let mut links = Vec::new();
    for prog in skel.object().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        if !programs.is_empty() && !programs.contains(&name.as_str()) {
            continue;
        }
        let hook = prog.section().to_string_lossy().into_owned();
        match prog.attach() {
            Ok(link) => {
                links.push(link);
                hooks.push(HookState {
                    name,
                    hook,
                    attached: true,
                    error: None,
                });
            }
            Err(e) => hooks.push(HookState {
                name,
                hook,
                attached: false,
                error: Some(e.to_string()),
            }),
        }
    }
    let handles = (|| -> Result<GuardMaps, libbpf_rs::Error> {
        Ok(GuardMaps {
            protected: MapHandle::try_from(&skel.maps.protected)?,
            open_flags: MapHandle::try_from(&skel.maps.open_flags)?,
            asr_mode: MapHandle::try_from(&skel.maps.asr_mode)?,
            comm_roles: MapHandle::try_from(&skel.maps.comm_roles)?,
            lost: MapHandle::try_from(&skel.maps.lost)?,
        })
    })();
    let maps = match handles {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot share the guard maps: {e}")));
            return;
        }
    };
    let mut builder = RingBufferBuilder::new();
    if let Err(e) = builder.add(&skel.maps.records, |data: &[u8]| {
        match decode(data) {
            Some(r) => on_record(r),
            None => {
                malformed.fetch_add(1, Ordering::Relaxed);
            }
        }
        0
    }) {
        let _ = ready.send(Err(format!("cannot read the guard ring buffer: {e}")));
        return;
    }
    let rb = match builder.build() {
        Ok(rb) => rb,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot read the guard ring buffer: {e}")));
            return;
        }
    };
    if ready.send(Ok(Attached { maps, hooks })).is_err() {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        let rc = rb.poll_raw(Duration::from_millis(50));
        if rc < 0 && rc != -libc::EINTR {
            break;
        }
    }
    let _ = rb.consume();
    drop(links);
}
