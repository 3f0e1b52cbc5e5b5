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
 *    debugger: SIGKILL before the call runs in block mode.
 *
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
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int vg_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	remember_open((__u32)how.flags);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int vg_open(struct trace_event_raw_sys_enter *ctx)
{
	remember_open((__u32)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_creat")
int vg_creat(struct trace_event_raw_sys_enter *ctx)
{
	remember_open(O_CREAT_ | O_WRONLY_ | O_TRUNC_);
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

/* Record an ASR match of the current process; kill it in block mode. */
static __always_inline void asr_hit(__u32 rule, __u32 mode, const char *path, __u32 target, int req)
{
	__u32 killed = 0;
	if (mode == VG_MODE_BLOCK) {
		bpf_send_signal(SIGKILL);
		killed = 1;
	}
	struct vg_record *r = start(VG_REC_ASR);
	if (!r)
		return;
	r->rule = rule;
	r->killed = killed;
	r->target = target;
	r->sig = req;
	if (path)
		bpf_probe_read_kernel_str(r->path, sizeof(r->path), path);
	bpf_ringbuf_submit(r, 0);
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
