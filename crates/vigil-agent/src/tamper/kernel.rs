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
        /// exec rules: the file name as given to execve; preload: the path as given;
        /// module loads: the module file's name.
        path: String,
        /// What the process was doing (`enum vg_op` of guard.h).
        op: AsrOp,
        /// File rules: the file as (kernel `s_dev`, inode), when known.
        file: Option<(u32, u64)>,
        /// downloaded_exec: the process that wrote the file (its name).
        writer_comm: String,
    },
}

/// `enum vg_op` of guard.h.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsrOp {
    Exec,
    Open,
    Rename,
    FinitModule,
    InitModule,
    MassChange,
    ScriptRead,
    Unknown(i32),
}

impl AsrOp {
    fn from_raw(v: i32) -> AsrOp {
        match v {
            0 => AsrOp::Exec,
            1 => AsrOp::Open,
            2 => AsrOp::Rename,
            3 => AsrOp::FinitModule,
            4 => AsrOp::InitModule,
            5 => AsrOp::MassChange,
            6 => AsrOp::ScriptRead,
            other => AsrOp::Unknown(other),
        }
    }

    /// The name rows carry (`AdditionalFields.Operation`).
    pub fn as_str(self) -> &'static str {
        match self {
            AsrOp::Exec => "Exec",
            AsrOp::Open => "OpenForWrite",
            AsrOp::Rename => "RenameOnto",
            AsrOp::FinitModule => "FinitModule",
            AsrOp::InitModule => "InitModule",
            AsrOp::MassChange => "MassChange",
            AsrOp::ScriptRead => "InterpreterRead",
            AsrOp::Unknown(_) => "Unknown",
        }
    }
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
            op: AsrOp::from_raw(r.result),
            file: (r.ino != 0).then_some((r.dev, r.ino)),
            writer_comm: cstr(&r.tcomm),
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
    module_ok: MapHandle,
    watch_paths: MapHandle,
    asr_params: MapHandle,
    log2_fp: MapHandle,
    lost: MapHandle,
}

/// `VG_WATCH` and `VG_WATCH_LEN` of guard.h.
pub const WATCH_SLOTS: usize = 4;
pub const WATCH_LEN: usize = 64;
/// `VG_SAMPLE` of guard.h: the bytes of a first write sampled for entropy.
pub const SAMPLE_BYTES: u32 = 1024;

/// A `struct vg_file_id` key.
fn file_key(dev: u32, ino: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&ino.to_ne_bytes());
    k[8..12].copy_from_slice(&dev.to_ne_bytes());
    k
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

    /// Allow the module file (kernel `s_dev`, inode) for `finit_module`.
    pub fn allow_module(&self, dev: u32, ino: u64) -> Result<(), String> {
        self.module_ok
            .update(&file_key(dev, ino), &1u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| format!("cannot allow module file {dev}:{ino}: {e}"))
    }

    /// Forget a module file allowed earlier.
    pub fn forget_module(&self, dev: u32, ino: u64) {
        let _ = self.module_ok.delete(&file_key(dev, ino));
    }

    /// Set watched path `slot` (`None` clears it); `opens`: opens for writing match too,
    /// not only renames onto the path.
    pub fn set_watch(&self, slot: usize, path: Option<&str>, opens: bool) -> Result<(), String> {
        if slot >= WATCH_SLOTS {
            return Err(format!("watched path slot {slot} is past {WATCH_SLOTS}"));
        }
        let mut v = vec![0u8; WATCH_LEN + 8];
        if let Some(p) = path {
            if p.len() >= WATCH_LEN || p.contains('\0') {
                return Err(format!(
                    "watched path {p:?} must be shorter than {WATCH_LEN} bytes"
                ));
            }
            v[..p.len()].copy_from_slice(p.as_bytes());
            v[WATCH_LEN..WATCH_LEN + 4].copy_from_slice(&u32::from(opens).to_ne_bytes());
        }
        self.watch_paths
            .update(&(slot as u32).to_ne_bytes(), &v, MapFlags::ANY)
            .map_err(|e| format!("cannot set watched path {slot}: {e}"))
    }

    /// The ransomware rule's threshold: more than `threshold` changes within `window`;
    /// `entropy`: bits per byte a rewrite's first block must reach to count (`None`: every
    /// rewrite counts). With a limit, the kernel's log2 table is filled first.
    pub fn set_change_limit(
        &self,
        threshold: u32,
        window: Duration,
        entropy: Option<f64>,
    ) -> Result<(), String> {
        let entropy_fp = match entropy {
            Some(bits) => {
                self.fill_log2()?;
                ((bits * 65536.0).round() as u32).max(1)
            }
            None => 0,
        };
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(&(window.as_nanos().min(u128::from(u64::MAX)) as u64).to_ne_bytes());
        v.extend_from_slice(&threshold.to_ne_bytes());
        v.extend_from_slice(&entropy_fp.to_ne_bytes());
        self.asr_params
            .update(&0u32.to_ne_bytes(), &v, MapFlags::ANY)
            .map_err(|e| format!("cannot set the ransomware threshold: {e}"))
    }

    /// `log2_fp`: log2(i) in 1/65536 for i up to `VG_SAMPLE`.
    fn fill_log2(&self) -> Result<(), String> {
        for i in 1..=SAMPLE_BYTES {
            let v = ((i as f64).log2() * 65536.0).round() as u32;
            self.log2_fp
                .update(&i.to_ne_bytes(), &v.to_ne_bytes(), MapFlags::ANY)
                .map_err(|e| format!("cannot fill the entropy table at {i}: {e}"))?;
        }
        Ok(())
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
    /// `programs`: the names of the programs to load (all when empty); `skip`: programs
    /// not to load even so (costly hooks whose rule is off).
    pub fn start(
        programs: &'static [&'static str],
        skip: Vec<&'static str>,
        on_record: Box<dyn Fn(GuardRecord) + Send>,
    ) -> Result<GuardKernel, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let malformed = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::sync_channel(1);
        let (s, m) = (Arc::clone(&stop), Arc::clone(&malformed));
        let thread = std::thread::Builder::new()
            .name("guard-bpf".into())
            .spawn(move || run(programs, &skip, tx, on_record, &s, &m))
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
    skip: &[&str],
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
    let wanted =
        |name: &str| (programs.is_empty() || programs.contains(&name)) && !skip.contains(&name);
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        prog.set_autoload(wanted(&name));
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
        if !wanted(&name) {
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
            module_ok: MapHandle::try_from(&skel.maps.module_ok)?,
            watch_paths: MapHandle::try_from(&skel.maps.watch_paths)?,
            asr_params: MapHandle::try_from(&skel.maps.asr_params)?,
            log2_fp: MapHandle::try_from(&skel.maps.log2_fp)?,
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
