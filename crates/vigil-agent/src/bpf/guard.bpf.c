// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Self-defence (tamper protection) and attack surface reduction on kernels without BPF LSM:
 * tracepoints that record, and "SIGKILL from a tracepoint" (bpf_send_signal, Linux 5.3) for
 * what must not run.
 *
 *  - tracepoint/signal/signal_generate (2.6.x): a signal sent to a pid in `protected` (the
 *    agent and its supervisor) by another process is a VG_REC_SIGNAL record naming the
 *    sender (pid, uid, name, parent); the signal itself is not stopped (no LSM here);
 *  - tracepoint/syscalls/sys_enter_{openat,openat2,open,creat,execve,execveat}: the flags of
 *    each thread's latest open go to `open_flags`, so that the fanotify tamper guard (which
 *    is not told the flags) can tell an open for writing from one for reading;
 *  - tp_btf/sched_process_exec (5.5 for tp_btf): the ASR exec rules, decided when the new
 *    program is loaded and before its first instruction: a file in a world-writable
 *    directory (the parent directory's inode has S_IWOTH), a shell whose parent is a web
 *    server or database, an interpreter whose parent is a document or mail tool (names in
 *    `comm_roles`); in block mode the process gets SIGKILL;
 *  - tracepoint/syscalls/sys_enter_ptrace and sys_enter_process_vm_writev: ptrace
 *    attach/seize/poke or writing another process's memory by a process that is not a
 *    debugger: SIGKILL in block mode (the signal is pending when the call runs; the process
 *    dies on its way back to user space);
 *  - the same open tracepoints, and sys_enter_{rename,renameat,renameat2}: an open for
 *    writing or a rename whose path (as given, absolute) is one of `watch_paths` (the
 *    preload files: a file that does not exist yet cannot carry a fanotify mark) is an ASR
 *    preload_write hit; every rename counts towards the ransomware rule (`changes`, per
 *    process and window, `asr_params`);
 *  - tracepoint/syscalls/sys_exit_{openat,openat2,open,creat}: a file opened for writing
 *    by a downloader (VG_ROLE_DOWNLOADER) goes into `downloaded` (device, inode → writer),
 *    and tp_btf/sched_process_exec kills the exec of such a file (downloaded_exec); a file
 *    in `downloaded` opened for reading by a shell or interpreter (by name, or a process
 *    whose latest exec went through a `#!` line: `script_procs`, set at exec when
 *    bprm->interp is no longer bprm->filename) is killed at that open (a script run by its
 *    interpreter); an existing regular file opened for writing but not appending (the open
 *    did not create it: FMODE_CREATED) counts towards the ransomware rule, once per file
 *    and window (`changed_files`), unless the process is a package manager by its program
 *    file (trusted_packager);
 *  - tracepoint/syscalls/sys_enter_{write,pwrite64} (loaded with ransomware_entropy only):
 *    in entropy mode the rewrite above is only remembered (`pending`, by process and
 *    descriptor) and counts when the first write of VG_SAMPLE_MIN bytes or more through
 *    that descriptor has a high entropy (the first VG_SAMPLE bytes, a byte histogram and
 *    `log2_fp`, filled from user space); renames count once the process made one such
 *    rewrite in its window;
 *  - tp_btf/sys_enter (every system call; loaded only with the module_load rule on):
 *    finit_module(2) of a file whose (device, inode) is not in `module_ok` (the package
 *    manager's modules, filled from user space), and init_module(2): SIGKILL in block
 *    mode. The kernel reads the module file after the syscall tracepoint; with a fatal
 *    signal pending, that page-cache read stops at once (filemap_read checks
 *    fatal_signal_pending), so a module on a disk filesystem is not parsed. init_module's
 *    image is copied from memory without that check: there the kill comes after the call.
 *
 * The change counting of the ransomware rule and its entropy samples are in guard_change.h.
 * Processes named VG_ROLE_EXCLUDED in `comm_roles` and pids in `protected` are never matched.
 * Needs Linux 5.8+ (ring buffer) and BTF.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "guard.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SIGKILL 9
#define SIGCHLD 17
#define S_IWOTH 00002
#define O_CREAT_ 0100
#define O_WRONLY_ 01
#define O_TRUNC_ 01000
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSER 6
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206

/* Keep the record types in BTF so that the skeleton generates them for Rust. */
struct vg_record _record = {};
struct vg_open _open = {};
struct vg_comm _comm = {};
struct vg_file_id _file_id = {};
struct vg_writer _writer = {};
struct vg_watch _watch = {};
struct vg_params _params = {};
struct vg_changes _changes = {};
struct vg_change_key _change_key = {};
struct vg_pending_key _pending_key = {};
struct vg_pending _pending = {};
struct vg_sample _sample = {};

#define O_APPEND_ 02000
#define S_IFMT_ 00170000
#define S_IFREG_ 0100000
#define FMODE_CREATED_ (1 << 20) /* as sensors.bpf.c */

#define O_RDWR_ 02
#if defined(__TARGET_ARCH_x86)
#define NR_INIT_MODULE 175
#define NR_FINIT_MODULE 313
#elif defined(__TARGET_ARCH_arm64)
#define NR_INIT_MODULE 105
#define NR_FINIT_MODULE 273
#else
#define NR_INIT_MODULE -1
#define NR_FINIT_MODULE -1
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* 1 */
	__uint(max_entries, 16);
} protected SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32); /* tid */
	__type(value, struct vg_open);
	__uint(max_entries, 65536);
} open_flags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32); /* enum vg_rule */
	__type(value, __u32); /* enum vg_mode */
	__uint(max_entries, VG_RULE_MAX);
} asr_mode SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct vg_comm);
	__type(value, __u32); /* enum vg_role bits */
	__uint(max_entries, 1024);
} comm_roles SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct vg_file_id);
	__type(value, struct vg_writer);
	__uint(max_entries, 16384);
} downloaded SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct vg_file_id);
	__type(value, __u32);
	__uint(max_entries, 65536);
} module_ok SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct vg_watch);
	__uint(max_entries, VG_WATCH);
} watch_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct vg_params);
	__uint(max_entries, 1);
} asr_params SEC(".maps");

/* Processes whose latest exec went through a `#!` line (or binfmt_misc): tgid → 1. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 16384);
} script_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} lost SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&lost, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline __u32 role_of(const char *comm)
{
	struct vg_comm key = {};
	__builtin_memcpy(key.comm, comm, VG_COMM);
	__u32 *r = bpf_map_lookup_elem(&comm_roles, &key);
	return r ? *r : 0;
}

static __always_inline __u32 mode_of(__u32 rule)
{
	__u32 *m = bpf_map_lookup_elem(&asr_mode, &rule);
	return m ? *m : VG_MODE_OFF;
}

static __always_inline struct vg_record *start(__u16 type)
{
	struct vg_record *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		count_lost();
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	r->ts = bpf_ktime_get_boot_ns();
	r->type = type;
	r->tgid = id >> 32;
	r->tid = (__u32)id;
	r->uid = (__u32)bpf_get_current_uid_gid();
	r->ppid = BPF_CORE_READ(t, real_parent, tgid);
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	BPF_CORE_READ_STR_INTO(&r->pcomm, t, real_parent, comm);
	return r;
}

SEC("tracepoint/signal/signal_generate")
int vg_signal(struct trace_event_raw_signal_generate *ctx)
{
	__u32 target = ctx->pid;
	/* 0 probes for existence; SIGCHLD is the kernel telling the supervisor its child ended. */
	if (ctx->sig == 0 || ctx->sig == SIGCHLD || !bpf_map_lookup_elem(&protected, &target))
		return 0;
	__u32 me = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&protected, &me))
		return 0;
	struct vg_record *r = start(VG_REC_SIGNAL);
	if (!r)
		return 0;
	r->target = target;
	r->sig = ctx->sig;
	r->result = ctx->result;
	bpf_probe_read_kernel(r->tcomm, sizeof(r->tcomm), ctx->comm);
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* Record an ASR match of the current process; kill it in block mode. */
static __always_inline struct vg_record *asr_record(__u32 rule, __u32 mode, __u32 op)
{
	__u32 killed = 0;
	if (mode == VG_MODE_BLOCK) {
		bpf_send_signal(SIGKILL);
		killed = 1;
	}
	struct vg_record *r = start(VG_REC_ASR);
	if (!r)
		return 0;
	r->rule = rule;
	r->killed = killed;
	r->result = op;
	return r;
}

static __always_inline int excluded_current(void)
{
	char comm[VG_COMM] = {};
	__u32 me = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&protected, &me))
		return 1;
	bpf_get_current_comm(comm, sizeof(comm));
	return (role_of(comm) & VG_ROLE_EXCLUDED) != 0;
}

/* The watched path equal to the user string `upath`: 0 none, 1 for renames only, 2 for
 * renames and opens. */
static __always_inline int watched(const char *upath)
{
	char buf[VG_WATCH_LEN] = {};
	if (bpf_probe_read_user_str(buf, sizeof(buf), upath) <= 1)
		return 0;
	for (__u32 i = 0; i < VG_WATCH; i++) {
		__u32 k = i;
		struct vg_watch *w = bpf_map_lookup_elem(&watch_paths, &k);
		if (!w || w->path[0] == 0)
			continue;
		int same = 1;
		for (int j = 0; j < VG_WATCH_LEN; j++) {
			if (w->path[j] != buf[j]) {
				same = 0;
				break;
			}
			if (buf[j] == 0)
				break;
		}
		if (same)
			return w->opens ? 2 : 1;
	}
	return 0;
}

/* The maps and helpers of the ransomware count and its entropy samples. */
#include "guard_change.h"

/* An open(2)-family call with `flags` on the user path `upath`. */
static __always_inline void asr_open(const char *upath, __u32 flags)
{
	if (!(flags & (O_WRONLY_ | O_RDWR_ | O_CREAT_ | O_TRUNC_)))
		return;
	__u32 mode = mode_of(VG_RULE_PRELOAD_WRITE);
	if (mode == VG_MODE_OFF || watched(upath) != 2 || excluded_current())
		return;
	struct vg_record *r = asr_record(VG_RULE_PRELOAD_WRITE, mode, VG_OP_OPEN);
	if (!r)
		return;
	bpf_probe_read_user_str(r->path, sizeof(r->path), upath);
	bpf_ringbuf_submit(r, 0);
}

/* A rename(2)-family call onto the user path `upath`. */
static __always_inline void asr_rename(const char *upath)
{
	count_change(1);
	__u32 mode = mode_of(VG_RULE_PRELOAD_WRITE);
	if (mode == VG_MODE_OFF || !watched(upath) || excluded_current())
		return;
	struct vg_record *r = asr_record(VG_RULE_PRELOAD_WRITE, mode, VG_OP_RENAME);
	if (!r)
		return;
	bpf_probe_read_user_str(r->path, sizeof(r->path), upath);
	bpf_ringbuf_submit(r, 0);
}

static __always_inline void remember_open(__u32 flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vg_open v = { .ts = bpf_ktime_get_boot_ns(), .flags = flags };
	bpf_map_update_elem(&open_flags, &tid, &v, BPF_ANY);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int vg_openat(struct trace_event_raw_sys_enter *ctx)
{
	remember_open((__u32)ctx->args[2]);
	asr_open((const char *)ctx->args[1], (__u32)ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int vg_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	remember_open((__u32)how.flags);
	asr_open((const char *)ctx->args[1], (__u32)how.flags);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int vg_open(struct trace_event_raw_sys_enter *ctx)
{
	remember_open((__u32)ctx->args[1]);
	asr_open((const char *)ctx->args[0], (__u32)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_creat")
int vg_creat(struct trace_event_raw_sys_enter *ctx)
{
	remember_open(O_CREAT_ | O_WRONLY_ | O_TRUNC_);
	asr_open((const char *)ctx->args[0], O_CREAT_ | O_WRONLY_ | O_TRUNC_);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int vg_execve(struct trace_event_raw_sys_enter *ctx)
{
	remember_open(0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int vg_execveat(struct trace_event_raw_sys_enter *ctx)
{
	remember_open(0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_rename")
int vg_rename(struct trace_event_raw_sys_enter *ctx)
{
	asr_rename((const char *)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int vg_renameat(struct trace_event_raw_sys_enter *ctx)
{
	asr_rename((const char *)ctx->args[3]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int vg_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	asr_rename((const char *)ctx->args[3]);
	return 0;
}

/* A read-only open that succeeded: a shell or interpreter (by name, or run through a `#!`
 * line) opening a file a downloader wrote is about to run it (downloaded_exec). */
static __always_inline void on_read_open(int fd, __u32 dl)
{
	char comm[VG_COMM] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	__u32 me = bpf_get_current_pid_tgid() >> 32;
	__u32 role = role_of(comm);
	if (role & VG_ROLE_EXCLUDED)
		return;
	if (!(role & (VG_ROLE_SHELL | VG_ROLE_INTERP)) && !bpf_map_lookup_elem(&script_procs, &me))
		return;
	struct file *f = fd_file(fd);
	if (!f)
		return;
	struct vg_file_id fid = {};
	fid.ino = BPF_CORE_READ(f, f_inode, i_ino);
	fid.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	struct vg_writer *w = bpf_map_lookup_elem(&downloaded, &fid);
	if (!w || bpf_map_lookup_elem(&protected, &me))
		return;
	struct vg_record *r = asr_record(VG_RULE_DOWNLOADED_EXEC, dl, VG_OP_SCRIPT_READ);
	if (!r)
		return;
	r->target = w->tgid;
	r->dev = fid.dev;
	r->ino = fid.ino;
	__builtin_memcpy(r->tcomm, w->comm, VG_COMM);
	const unsigned char *name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
	bpf_probe_read_kernel_str(r->path, sizeof(r->path), name);
	bpf_ringbuf_submit(r, 0);
}

/* An open that succeeded: a downloader's file is remembered with its writer; a shell or
 * interpreter reading one is a downloaded_exec hit; the rewrite of an existing regular file
 * counts towards the ransomware rule (in entropy mode, once its first block is sampled). */
static __always_inline void on_open_exit(long ret)
{
	if (ret < 0)
		return;
	__u32 dl = mode_of(VG_RULE_DOWNLOADED_EXEC);
	__u32 rw = mode_of(VG_RULE_RANSOMWARE);
	if (dl == VG_MODE_OFF && rw == VG_MODE_OFF)
		return;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct vg_open *o = bpf_map_lookup_elem(&open_flags, &tid);
	if (!o)
		return;
	__u32 flags = o->flags;
	if (!(flags & (O_WRONLY_ | O_RDWR_ | O_CREAT_ | O_TRUNC_))) {
		if (dl != VG_MODE_OFF)
			on_read_open((int)ret, dl);
		return;
	}
	struct file *f = fd_file((int)ret);
	if (!f)
		return;
	struct vg_file_id fid = {};
	fid.ino = BPF_CORE_READ(f, f_inode, i_ino);
	fid.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	char comm[VG_COMM] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	if (dl != VG_MODE_OFF && (role_of(comm) & VG_ROLE_DOWNLOADER)) {
		struct vg_writer w = { .ts = bpf_ktime_get_boot_ns(), .tgid = id >> 32 };
		__builtin_memcpy(w.comm, comm, VG_COMM);
		bpf_map_update_elem(&downloaded, &fid, &w, BPF_ANY);
	}
	if (rw == VG_MODE_OFF || (flags & O_APPEND_))
		return;
	unsigned int fmode = BPF_CORE_READ(f, f_mode);
	unsigned short imode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((imode & S_IFMT_) != S_IFREG_ || (fmode & FMODE_CREATED_))
		return;
	__u32 zero = 0;
	struct vg_params *p = bpf_map_lookup_elem(&asr_params, &zero);
	if (p && p->entropy_fp) {
		/* Decided at the first write of enough bytes through this descriptor. */
		struct vg_pending_key pk = { .tgid = id >> 32, .fd = (int)ret };
		struct vg_pending pv = { .ino = fid.ino, .dev = fid.dev };
		bpf_map_update_elem(&pending, &pk, &pv, BPF_ANY);
		return;
	}
	if (counted_before(fid.ino, fid.dev, id >> 32))
		return; /* this file already counted in this window */
	count_change(0);
}

SEC("tracepoint/syscalls/sys_enter_write")
int vg_write(struct trace_event_raw_sys_enter *ctx)
{
	sample_write((int)ctx->args[0], (const char *)ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_pwrite64")
int vg_pwrite64(struct trace_event_raw_sys_enter *ctx)
{
	sample_write((int)ctx->args[0], (const char *)ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int vg_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	on_open_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int vg_openat2_exit(struct trace_event_raw_sys_exit *ctx)
{
	on_open_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_open")
int vg_open_exit(struct trace_event_raw_sys_exit *ctx)
{
	on_open_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_creat")
int vg_creat_exit(struct trace_event_raw_sys_exit *ctx)
{
	on_open_exit(ctx->ret);
	return 0;
}

static __always_inline void asr_hit(__u32 rule, __u32 mode, const char *path, __u32 target, int req)
{
	struct vg_record *r = asr_record(rule, mode, VG_OP_EXEC);
	if (!r)
		return;
	r->target = target;
	r->sig = req;
	if (path)
		bpf_probe_read_kernel_str(r->path, sizeof(r->path), path);
	bpf_ringbuf_submit(r, 0);
}

/* Whether `name` (kernel memory) is a file directly in /tmp, /dev/shm or /var/tmp. */
static __always_inline int in_world_writable_root(const char *name)
{
	char buf[64] = {};
	if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) <= 0)
		return 0;
	int start = 0;
	if (buf[0] == '/' && buf[1] == 't' && buf[2] == 'm' && buf[3] == 'p' && buf[4] == '/')
		start = 5;
	else if (buf[0] == '/' && buf[1] == 'd' && buf[2] == 'e' && buf[3] == 'v' && buf[4] == '/' &&
		 buf[5] == 's' && buf[6] == 'h' && buf[7] == 'm' && buf[8] == '/')
		start = 9;
	else if (buf[0] == '/' && buf[1] == 'v' && buf[2] == 'a' && buf[3] == 'r' && buf[4] == '/' &&
		 buf[5] == 't' && buf[6] == 'm' && buf[7] == 'p' && buf[8] == '/')
		start = 9;
	else
		return 0;
	for (int i = 5; i < 63; i++) {
		if (i < start)
			continue;
		if (buf[i] == 0)
			return 1;
		if (buf[i] == '/')
			return 0;
	}
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vg_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (excluded_current())
		return 0;
	const char *filename = BPF_CORE_READ(bprm, filename);
	__u32 mode = mode_of(VG_RULE_WORLD_WRITABLE_EXEC);
	if (mode != VG_MODE_OFF) {
		umode_t dir_mode = BPF_CORE_READ(bprm, file, f_path.dentry, d_parent, d_inode, i_mode);
		/* A script: `file` is now its interpreter and the script's file is gone; its
		 * name as given decides (a direct child of /tmp, /dev/shm or /var/tmp). */
		if (!(dir_mode & S_IWOTH) && in_world_writable_root(filename))
			dir_mode |= S_IWOTH;
		if (dir_mode & S_IWOTH) {
			asr_hit(VG_RULE_WORLD_WRITABLE_EXEC, mode, filename, 0, 0);
			return 0;
		}
	}
	mode = mode_of(VG_RULE_DOWNLOADED_EXEC);
	if (mode != VG_MODE_OFF) {
		/* A script: `interp` no longer points at `filename`; the interpreter's read of the
		 * script is judged at its open (on_read_open). */
		__u32 me = bpf_get_current_pid_tgid() >> 32;
		if (BPF_CORE_READ(bprm, interp) != filename) {
			__u32 one = 1;
			bpf_map_update_elem(&script_procs, &me, &one, BPF_ANY);
		} else {
			bpf_map_delete_elem(&script_procs, &me);
		}
		struct vg_file_id id = {};
		id.ino = BPF_CORE_READ(bprm, file, f_inode, i_ino);
		id.dev = BPF_CORE_READ(bprm, file, f_inode, i_sb, s_dev);
		struct vg_writer *w = bpf_map_lookup_elem(&downloaded, &id);
		if (w) {
			struct vg_record *r = asr_record(VG_RULE_DOWNLOADED_EXEC, mode, VG_OP_EXEC);
			if (r) {
				r->target = w->tgid;
				r->dev = id.dev;
				r->ino = id.ino;
				__builtin_memcpy(r->tcomm, w->comm, VG_COMM);
				bpf_probe_read_kernel_str(r->path, sizeof(r->path), filename);
				bpf_ringbuf_submit(r, 0);
			}
			return 0;
		}
	}
	char comm[VG_COMM] = {};
	char pcomm[VG_COMM] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	BPF_CORE_READ_STR_INTO(&pcomm, p, real_parent, comm);
	__u32 role = role_of(comm);
	__u32 prole = role_of(pcomm);
	if (prole & VG_ROLE_EXCLUDED)
		return 0;
	mode = mode_of(VG_RULE_SERVER_SHELL);
	if (mode != VG_MODE_OFF && (role & VG_ROLE_SHELL) && (prole & VG_ROLE_SERVER)) {
		asr_hit(VG_RULE_SERVER_SHELL, mode, filename, 0, 0);
		return 0;
	}
	mode = mode_of(VG_RULE_DOCUMENT_INTERP);
	if (mode != VG_MODE_OFF && (role & (VG_ROLE_INTERP | VG_ROLE_SHELL)) &&
	    (prole & VG_ROLE_DOCUMENT)) {
		asr_hit(VG_RULE_DOCUMENT_INTERP, mode, filename, 0, 0);
	}
	return 0;
}

static __always_inline void ptrace_like(__u32 target, int req)
{
	__u32 mode = mode_of(VG_RULE_PTRACE);
	if (mode == VG_MODE_OFF || excluded_current())
		return;
	char comm[VG_COMM] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	if (role_of(comm) & VG_ROLE_DEBUGGER)
		return;
	asr_hit(VG_RULE_PTRACE, mode, 0, target, req);
}

SEC("tracepoint/syscalls/sys_enter_ptrace")
int vg_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	long req = ctx->args[0];
	if (req != PTRACE_ATTACH && req != PTRACE_SEIZE && req != PTRACE_POKETEXT &&
	    req != PTRACE_POKEDATA && req != PTRACE_POKEUSER)
		return 0;
	ptrace_like((__u32)ctx->args[1], (int)req);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_process_vm_writev")
int vg_vm_writev(struct trace_event_raw_sys_enter *ctx)
{
	__u32 target = (__u32)ctx->args[0];
	__u32 me = bpf_get_current_pid_tgid() >> 32;
	if (target == me)
		return 0;
	ptrace_like(target, -1);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_sys_enter, struct pt_regs *regs, long id)
{
	if (id != NR_FINIT_MODULE && id != NR_INIT_MODULE)
		return 0;
	__u32 mode = mode_of(VG_RULE_MODULE_LOAD);
	if (mode == VG_MODE_OFF || excluded_current())
		return 0;
	struct vg_file_id fid = {};
	struct file *f = 0;
	__u32 op = VG_OP_INIT_MODULE;
	if (id == NR_FINIT_MODULE) {
		op = VG_OP_FINIT_MODULE;
		f = fd_file((int)PT_REGS_PARM1_CORE_SYSCALL(regs));
		if (f) {
			fid.ino = BPF_CORE_READ(f, f_inode, i_ino);
			fid.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
			if (bpf_map_lookup_elem(&module_ok, &fid))
				return 0;
		}
	}
	struct vg_record *r = asr_record(VG_RULE_MODULE_LOAD, mode, op);
	if (!r)
		return 0;
	r->dev = fid.dev;
	r->ino = fid.ino;
	if (f) {
		const unsigned char *name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
		bpf_probe_read_kernel_str(r->path, sizeof(r->path), name);
	}
	bpf_ringbuf_submit(r, 0);
	return 0;
}
