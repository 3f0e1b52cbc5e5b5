// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Vigil's kernel sensors: process, file, network and security-relevant events, all from
 * tracepoints and raw tracepoints (which work wherever BTF does). Each program notes the
 * tracepoint it relies on; all need Linux 5.8+ (ring buffer) and BTF for CO-RE.
 *
 * Records are defined once in events.h. Noise is filtered here: pseudo filesystems by
 * superblock magic, the agent's own process, and up to VIGIL_PREFIX_MAX configured prefixes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AT_FDCWD -100
#define AT_REMOVEDIR 0x200
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define FMODE_CREATED (1 << 20)
#define S_IFMT 00170000
#define S_IFREG 0100000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10
#define SOCK_DGRAM 2
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define TCP_LISTEN 10
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206
#define BPF_PROG_LOAD 5

/* Settings written by the agent before load. */
const volatile struct vigil_settings settings = {};
const volatile struct vigil_prefix prefixes[VIGIL_PREFIX_MAX] = {};

/* Keep the record types in BTF so that the skeleton generates them for Rust. */
struct vigil_exec _exec = {};
struct vigil_fork _fork = {};
struct vigil_exit _exit_rec = {};
struct vigil_file _file = {};
struct vigil_net _net = {};
struct vigil_security _security = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024); /* resized by the agent before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_CNT_MAX);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

/* Path syscalls in flight, by thread id: filled on entry, sent on a successful exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, u32);
	__type(value, struct vigil_file);
} pending_file SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, u32);
	__type(value, struct vigil_security);
} pending_sec SEC(".maps");

/* Scratch space, too large for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct vigil_file);
} scratch_file SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct vigil_security);
} scratch_sec SEC(".maps");

/* Struct files already written through since they were opened (first write → FileModified). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, u64);
	__type(value, u8);
} written SEC(".maps");

/* Files whose opening for reading is reported (credential stores, private keys), filled and
 * kept current by the agent (a replaced file is a new inode). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct vigil_file_id);
	__type(value, u8);
} sensitive SEC(".maps");

/* TCP sockets in SYN_SENT, with the process that called connect. */
struct sock_owner {
	u32 tgid;
	u32 tid;
	u64 start;
	u32 uid;
	u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, struct sock_owner);
} connecting SEC(".maps");

/* UDP peers already reported per process. */
struct udp_key {
	u32 tgid;
	u16 family;
	u16 port;
	u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct udp_key);
	__type(value, u8);
} udp_seen SEC(".maps");

/*
 * Wake the agent only when a good amount is waiting; it also drains the ring on a short timer.
 * Waking it for every record costs more than the records themselves under an exec storm.
 */
#define VIGIL_WAKEUP_BYTES (256 * 1024)

static __always_inline u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > VIGIL_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
										 : BPF_RB_NO_WAKEUP;
}

static __always_inline void count(u32 which)
{
	u64 *c = bpf_map_lookup_elem(&counters, &which);
	if (c)
		__sync_fetch_and_add(c, 1);
}

static __always_inline u64 task_start(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_boottime);
}

static __always_inline void fill_header(struct vigil_header *h, u16 type, u32 size)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	u64 id = bpf_get_current_pid_tgid();
	h->type = type;
	h->flags = 0;
	h->size = size;
	h->ts = bpf_ktime_get_boot_ns();
	h->tgid = id >> 32;
	h->tid = (u32)id;
	h->start = task_start(task);
	h->uid = (u32)bpf_get_current_uid_gid();
	h->_pad = 0;
}

static __always_inline bool is_agent(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == settings.agent_tgid;
}

/* Pseudo and kernel-internal filesystems whose files are not user data. */
static __always_inline bool noisy_fs(struct dentry *dentry)
{
	unsigned long magic = BPF_CORE_READ(dentry, d_sb, s_magic);
	switch (magic) {
	case 0x9fa0:     /* proc */
	case 0x62656572: /* sysfs */
	case 0x63677270: /* cgroup2 */
	case 0x27e0eb:   /* cgroup */
	case 0x64626720: /* debugfs */
	case 0x74726163: /* tracefs */
	case 0x1cd1:     /* devpts */
	case 0x73636673: /* securityfs */
	case 0xcafe4a11: /* bpf */
	case 0x50495045: /* pipefs */
	case 0x534f434b: /* sockfs */
		return true;
	}
	return false;
}

/* Scratch state of one path walk (per CPU: programs do not migrate while they run). */
struct path_walk {
	char buf[VIGIL_PATH_MAX + VIGIL_NAME_MAX];
	struct dentry *names[VIGIL_PATH_DEPTH];
	u32 lens[VIGIL_PATH_DEPTH];
	struct dentry *dentry;
	struct mount *mnt;
	u32 n;
	u32 off;
	u32 total; /* bytes the whole path needs */
	u32 skip;  /* root-side components left out so that the tail fits */
	u32 truncated;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct path_walk);
} path_scratch SEC(".maps");

static __always_inline struct path_walk *walk_state(void)
{
	u32 zero = 0;
	return bpf_map_lookup_elem(&path_scratch, &zero);
}

/* bpf_loop step: go one dentry up (crossing mounts); collect component dentries. */
static long walk_up(u64 i, void *unused)
{
	struct path_walk *w = walk_state();
	if (!w)
		return 1;
	struct dentry *dentry = w->dentry;
	struct mount *mnt = w->mnt;
	struct dentry *root = BPF_CORE_READ(mnt, mnt.mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	if (dentry == root || dentry == parent) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt || !up)
			return 1;
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		return 0;
	}
	if (w->n >= VIGIL_PATH_DEPTH) {
		w->truncated = 1;
		return 1;
	}
	u32 len = BPF_CORE_READ(dentry, d_name.len);
	w->names[w->n & (VIGIL_PATH_DEPTH - 1)] = dentry;
	w->lens[w->n & (VIGIL_PATH_DEPTH - 1)] = len;
	w->total += len + 1;
	w->n++;
	w->dentry = parent;
	return 0;
}

/* bpf_loop step: leave out the root-most component while the path is too long to keep whole. */
static long walk_skip(u64 i, void *unused)
{
	struct path_walk *w = walk_state();
	if (!w || w->total <= VIGIL_PATH_MAX - 8 || w->skip + 1 >= w->n)
		return 1;
	u32 idx = (w->n - 1 - w->skip) & (VIGIL_PATH_DEPTH - 1);
	w->total -= w->lens[idx] + 1;
	w->skip++;
	w->truncated = 1;
	return 0;
}

/* bpf_loop step: append the next component, root first (after the skipped ones). */
static long walk_write(u64 i, void *unused)
{
	struct path_walk *w = walk_state();
	if (!w)
		return 1;
	i += w->skip;
	if (i >= w->n)
		return 1;
	if (w->off >= VIGIL_PATH_MAX - 1) {
		w->truncated = 1;
		return 1;
	}
	u32 idx = (w->n - 1 - i) & (VIGIL_PATH_DEPTH - 1);
	u32 pos = w->off & (VIGIL_PATH_MAX - 1);
	w->buf[pos] = '/';
	pos = (w->off + 1) & (VIGIL_PATH_MAX - 1);
	struct dentry *d = w->names[idx];
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	long len = bpf_probe_read_kernel_str(&w->buf[pos], VIGIL_NAME_MAX, name);
	w->off += 1 + (len > 1 ? len - 1 : 0);
	return 0;
}

/*
 * Write the absolute path of `path` into `dst` (VIGIL_PATH_MAX + VIGIL_NAME_MAX bytes), walking
 * dentries up to the root and crossing mounts. Sets *truncated when the path was deeper or
 * longer than the bounds. Needs bpf_loop (Linux 5.17+).
 */
static __always_inline void read_path(const struct path *path, char *dst, bool *truncated)
{
	struct path_walk *w = walk_state();
	if (!w)
		return;
	w->dentry = BPF_CORE_READ(path, dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(path, mnt);
	w->mnt = container_of(vfsmnt, struct mount, mnt);
	w->n = 0;
	w->off = 0;
	w->total = 0;
	w->skip = 0;
	w->truncated = 0;
	bpf_loop(VIGIL_PATH_DEPTH + 16, walk_up, NULL, 0);
	if (w->n == 0) {
		w->buf[0] = '/';
		w->buf[1] = 0;
	} else {
		bpf_loop(VIGIL_PATH_DEPTH, walk_skip, NULL, 0);
		if (w->truncated) {
			/* a cut path starts with "/..." so that nobody takes it for a real one */
			w->buf[0] = '/';
			w->buf[1] = '.';
			w->buf[2] = '.';
			w->buf[3] = '.';
			w->off = 4;
		}
		bpf_loop(VIGIL_PATH_DEPTH, walk_write, NULL, 0);
	}
	if (w->truncated)
		*truncated = true;
	bpf_probe_read_kernel(dst, VIGIL_PATH_MAX + VIGIL_NAME_MAX, w->buf);
}

/* Whether `path` starts with a configured prefix. */
static __always_inline bool prefix_filtered(const char *path)
{
	for (u32 i = 0; i < VIGIL_PREFIX_MAX; i++) {
		if (i >= settings.prefix_count)
			break;
		u32 len = prefixes[i].len;
		if (len == 0 || len > VIGIL_PREFIX_LEN)
			continue;
		bool match = true;
		for (u32 j = 0; j < VIGIL_PREFIX_LEN; j++) {
			if (j >= len)
				break;
			if (path[j] != prefixes[i].prefix[j]) {
				match = false;
				break;
			}
		}
		if (match)
			return true;
	}
	return false;
}

static __always_inline struct file *fd_file(struct task_struct *task, int fd)
{
	struct file *f = NULL;
	if (fd < 0)
		return NULL;
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Send a record built outside the ring buffer; its header carries the size actually sent. */
static __always_inline void output(void *rec, u64 size)
{
	((struct vigil_header *)rec)->size = size;
	if (bpf_ringbuf_output(&events, rec, size, wakeup_flags()))
		count(VIGIL_CNT_RINGBUF_FULL);
}

/* ---------------------------------------------------------------- process */

/* raw tracepoint sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) */
SEC("raw_tp/sched_process_exec")
int handle_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	struct vigil_exec *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(VIGIL_CNT_RINGBUF_FULL);
		return 0;
	}
	fill_header(&e->hdr, VIGIL_EV_EXEC, sizeof(*e));
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	e->ppid = BPF_CORE_READ(parent, tgid);
	e->parent_start = task_start(parent);
	e->euid = BPF_CORE_READ(task, cred, euid.val);
	e->gid = BPF_CORE_READ(task, cred, gid.val);
	e->egid = BPF_CORE_READ(task, cred, egid.val);
	e->loginuid = BPF_CORE_READ(task, loginuid.val);
	e->sessionid = BPF_CORE_READ(task, sessionid);
	e->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	e->tty[0] = 0;
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if (tty)
		bpf_probe_read_kernel_str(e->tty, sizeof(e->tty), &tty->name);
	e->cgroup[0] = 0;
	const char *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, name);
	if (cg)
		bpf_probe_read_kernel_str(e->cgroup, sizeof(e->cgroup), cg);

	bool trunc = false;
	struct file *exe = BPF_CORE_READ(bprm, file);
	struct inode *inode = BPF_CORE_READ(exe, f_inode);
	e->ino = BPF_CORE_READ(inode, i_ino);
	e->nlink = BPF_CORE_READ(inode, __i_nlink);
	read_path(&exe->f_path, e->path, &trunc);
	if (trunc)
		e->hdr.flags |= VIGIL_F_PATH_TRUNCATED;
	if (e->nlink == 0) {
		e->hdr.flags |= VIGIL_F_FILELESS;
		const unsigned char *name = BPF_CORE_READ(exe, f_path.dentry, d_name.name);
		char head[6] = {};
		bpf_probe_read_kernel(head, sizeof(head), name);
		if (head[0] == 'm' && head[1] == 'e' && head[2] == 'm' && head[3] == 'f' && head[4] == 'd' && head[5] == ':') {
			e->hdr.flags |= VIGIL_F_MEMFD;
			/* A memfd's dentry has no parent to walk: name it as d_path does, "/memfd:NAME". */
			e->path[0] = '/';
			bpf_probe_read_kernel_str(&e->path[1], VIGIL_NAME_MAX, name);
		}
	}

	trunc = false;
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	read_path(&fs->pwd, e->cwd, &trunc);
	if (trunc)
		e->hdr.flags |= VIGIL_F_CWD_TRUNCATED;

	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	u64 len = end > start ? end - start : 0;
	e->argv_full = len;
	if (len > VIGIL_ARGV_MAX) {
		len = VIGIL_ARGV_MAX;
		e->hdr.flags |= VIGIL_F_ARGV_TRUNCATED;
	}
	e->argv_len = 0;
	u32 sz = len;
	if (sz > 0 && sz <= VIGIL_ARGV_MAX && bpf_probe_read_user(e->argv, sz, (void *)start) == 0)
		e->argv_len = sz;
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

/* raw tracepoint sched_process_fork(struct task_struct *parent, struct task_struct *child) */
SEC("raw_tp/sched_process_fork")
int handle_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	u32 pid = BPF_CORE_READ(child, pid);
	u32 tgid = BPF_CORE_READ(child, tgid);
	if (pid != tgid)
		return 0; /* a new thread, not a new process */
	struct vigil_fork *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(VIGIL_CNT_RINGBUF_FULL);
		return 0;
	}
	fill_header(&e->hdr, VIGIL_EV_FORK, sizeof(*e));
	e->hdr.tgid = tgid;
	e->hdr.tid = pid;
	e->hdr.start = BPF_CORE_READ(child, start_boottime);
	e->ppid = BPF_CORE_READ(parent, tgid);
	e->parent_start = task_start(parent);
	e->_pad = 0;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &child->comm);
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

/* raw tracepoint sched_process_exit(struct task_struct *p, ...): reported once per process */
SEC("raw_tp/sched_process_exit")
int handle_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads of the process live on */
	struct vigil_exit *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(VIGIL_CNT_RINGBUF_FULL);
		return 0;
	}
	fill_header(&e->hdr, VIGIL_EV_EXIT, sizeof(*e));
	e->exit_code = BPF_CORE_READ(task, exit_code);
	e->_pad = 0;
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

/* ---------------------------------------------------------------- files */

static __always_inline struct vigil_file *file_scratch(void)
{
	u32 zero = 0;
	return bpf_map_lookup_elem(&scratch_file, &zero);
}

/* Emit an event about an open struct file (create, first write). */
static __always_inline void emit_file(struct file *f, u16 type)
{
	struct dentry *dentry = BPF_CORE_READ(f, f_path.dentry);
	if (noisy_fs(dentry)) {
		count(VIGIL_CNT_FILTERED);
		return;
	}
	struct vigil_file *e = file_scratch();
	if (!e)
		return;
	fill_header(&e->hdr, type, sizeof(*e));
	bool trunc = false;
	read_path(&f->f_path, e->path.dir, &trunc);
	if (trunc)
		e->hdr.flags |= VIGIL_F_PATH_TRUNCATED;
	if (prefix_filtered(e->path.dir)) {
		count(VIGIL_CNT_FILTERED);
		return;
	}
	e->path.arg[0] = 0;
	e->path2.dir[0] = 0;
	e->path2.arg[0] = 0;
	e->ret = 0;
	e->mode = BPF_CORE_READ(f, f_inode, i_mode);
	e->ino = BPF_CORE_READ(f, f_inode, i_ino);
	/* renames aside, the second path is not sent */
	output(e, sizeof(*e) - sizeof(e->path2));
}

static __always_inline int on_open_exit(long ret)
{
	if (ret < 0 || is_agent())
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *f = fd_file(task, ret);
	if (!f)
		return 0;
	u64 key = (u64)f;
	bpf_map_delete_elem(&written, &key); /* a new struct file: forget an old one at this address */
	unsigned int fmode = BPF_CORE_READ(f, f_mode);
	unsigned short imode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((imode & S_IFMT) != S_IFREG)
		return 0;
	if (!(fmode & FMODE_CREATED)) {
		if (fmode & FMODE_READ) {
			struct vigil_file_id id = {};
			id.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
			id.ino = BPF_CORE_READ(f, f_inode, i_ino);
			if (bpf_map_lookup_elem(&sensitive, &id))
				emit_file(f, VIGIL_EV_FILE_READ_SENSITIVE);
		}
		return 0;
	}
	u8 one = 1;
	bpf_map_update_elem(&written, &key, &one, BPF_ANY); /* writes to a new file are its creation */
	emit_file(f, VIGIL_EV_FILE_CREATE);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int handle_openat_exit(struct trace_event_raw_sys_exit *ctx) { return on_open_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_openat2")
int handle_openat2_exit(struct trace_event_raw_sys_exit *ctx) { return on_open_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_open")
int handle_open_exit(struct trace_event_raw_sys_exit *ctx) { return on_open_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_creat")
int handle_creat_exit(struct trace_event_raw_sys_exit *ctx) { return on_open_exit(ctx->ret); }

static __always_inline int on_write(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *f = fd_file(task, fd);
	if (!f)
		return 0;
	unsigned short imode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((imode & S_IFMT) != S_IFREG)
		return 0;
	/* A file with no name (memfd, unlinked, O_TMPFILE) has no path to report. */
	if (BPF_CORE_READ(f, f_inode, __i_nlink) == 0)
		return 0;
	u64 key = (u64)f;
	if (bpf_map_lookup_elem(&written, &key))
		return 0;
	u8 one = 1;
	bpf_map_update_elem(&written, &key, &one, BPF_ANY);
	if (is_agent())
		return 0;
	emit_file(f, VIGIL_EV_FILE_MODIFY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int handle_write(struct trace_event_raw_sys_enter *ctx) { return on_write(ctx->args[0]); }

SEC("tracepoint/syscalls/sys_enter_pwrite64")
int handle_pwrite64(struct trace_event_raw_sys_enter *ctx) { return on_write(ctx->args[0]); }

SEC("tracepoint/syscalls/sys_enter_writev")
int handle_writev(struct trace_event_raw_sys_enter *ctx) { return on_write(ctx->args[0]); }

SEC("tracepoint/syscalls/sys_enter_pwritev")
int handle_pwritev(struct trace_event_raw_sys_enter *ctx) { return on_write(ctx->args[0]); }

/*
 * Fill one vigil_path from (dirfd, user path). An absolute user path is kept as it is; a
 * relative one gets its directory resolved here, while the fd or cwd is still valid.
 * Returns true when the path is to be filtered.
 */
static __always_inline bool fill_path(struct vigil_path *p, long dfd, const char *upath, u16 *flags)
{
	p->dir[0] = 0;
	if (bpf_probe_read_user_str(p->arg, sizeof(p->arg), upath) < 0)
		p->arg[0] = 0;
	if (p->arg[0] == '/')
		return prefix_filtered(p->arg);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	bool trunc = false;
	struct dentry *dentry;
	if ((int)dfd == AT_FDCWD) { /* syscall ints arrive zero-extended */
		dentry = BPF_CORE_READ(task, fs, pwd.dentry);
		if (noisy_fs(dentry))
			return true;
		struct path pwd = BPF_CORE_READ(task, fs, pwd);
		read_path(&pwd, p->dir, &trunc);
	} else {
		struct file *f = fd_file(task, (int)dfd);
		if (!f)
			return false;
		dentry = BPF_CORE_READ(f, f_path.dentry);
		if (noisy_fs(dentry))
			return true;
		read_path(&f->f_path, p->dir, &trunc);
	}
	if (trunc)
		*flags |= VIGIL_F_PATH_TRUNCATED;
	return prefix_filtered(p->dir);
}

static __always_inline int path_enter(u16 type, long dfd, const char *path, long dfd2, const char *path2, u32 mode)
{
	if (is_agent())
		return 0;
	struct vigil_file *e = file_scratch();
	if (!e)
		return 0;
	fill_header(&e->hdr, type, sizeof(*e));
	e->ret = 0;
	e->mode = mode;
	e->ino = 0;
	if (fill_path(&e->path, dfd, path, &e->hdr.flags)) {
		count(VIGIL_CNT_FILTERED);
		return 0;
	}
	if (path2) {
		fill_path(&e->path2, dfd2, path2, &e->hdr.flags);
	} else {
		e->path2.dir[0] = 0;
		e->path2.arg[0] = 0;
	}
	u32 tid = (u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&pending_file, &tid, e, BPF_ANY))
		count(VIGIL_CNT_PENDING_FULL);
	return 0;
}

static __always_inline int path_exit(long ret)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct vigil_file *e = bpf_map_lookup_elem(&pending_file, &tid);
	if (!e)
		return 0;
	if (ret == 0) {
		e->ret = 0;
		e->hdr.ts = bpf_ktime_get_boot_ns();
		if (e->hdr.type == VIGIL_EV_FILE_RENAME)
			output(e, sizeof(*e));
		else
			output(e, sizeof(*e) - sizeof(e->path2));
	}
	bpf_map_delete_elem(&pending_file, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int handle_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & AT_REMOVEDIR)
		return 0;
	return path_enter(VIGIL_EV_FILE_DELETE, ctx->args[0], (const char *)ctx->args[1], 0, NULL, 0);
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int handle_unlink(struct trace_event_raw_sys_enter *ctx)
{
	return path_enter(VIGIL_EV_FILE_DELETE, AT_FDCWD, (const char *)ctx->args[0], 0, NULL, 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int handle_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	return path_enter(VIGIL_EV_FILE_RENAME, ctx->args[0], (const char *)ctx->args[1], ctx->args[2],
			  (const char *)ctx->args[3], 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int handle_renameat(struct trace_event_raw_sys_enter *ctx)
{
	return path_enter(VIGIL_EV_FILE_RENAME, ctx->args[0], (const char *)ctx->args[1], ctx->args[2],
			  (const char *)ctx->args[3], 0);
}

SEC("tracepoint/syscalls/sys_enter_rename")
int handle_rename(struct trace_event_raw_sys_enter *ctx)
{
	return path_enter(VIGIL_EV_FILE_RENAME, AT_FDCWD, (const char *)ctx->args[0], AT_FDCWD,
			  (const char *)ctx->args[1], 0);
}

/* chmod family: only modes that grant execute are reported. */
SEC("tracepoint/syscalls/sys_enter_fchmodat")
int handle_fchmodat(struct trace_event_raw_sys_enter *ctx)
{
	u32 mode = ctx->args[2];
	if (!(mode & 0111))
		return 0;
	return path_enter(VIGIL_EV_FILE_CHMOD, ctx->args[0], (const char *)ctx->args[1], 0, NULL, mode);
}

SEC("tracepoint/syscalls/sys_enter_fchmodat2")
int handle_fchmodat2(struct trace_event_raw_sys_enter *ctx)
{
	u32 mode = ctx->args[2];
	if (!(mode & 0111))
		return 0;
	return path_enter(VIGIL_EV_FILE_CHMOD, ctx->args[0], (const char *)ctx->args[1], 0, NULL, mode);
}

SEC("tracepoint/syscalls/sys_enter_chmod")
int handle_chmod(struct trace_event_raw_sys_enter *ctx)
{
	u32 mode = ctx->args[1];
	if (!(mode & 0111))
		return 0;
	return path_enter(VIGIL_EV_FILE_CHMOD, AT_FDCWD, (const char *)ctx->args[0], 0, NULL, mode);
}

SEC("tracepoint/syscalls/sys_enter_fchmod")
int handle_fchmod(struct trace_event_raw_sys_enter *ctx)
{
	u32 mode = ctx->args[1];
	if (!(mode & 0111) || is_agent())
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *f = fd_file(task, ctx->args[0]);
	if (!f)
		return 0;
	unsigned short old = BPF_CORE_READ(f, f_inode, i_mode);
	if ((old & 0111) == (mode & 0111) || (old & S_IFMT) != S_IFREG)
		return 0;
	struct vigil_file *e = file_scratch();
	if (!e)
		return 0;
	fill_header(&e->hdr, VIGIL_EV_FILE_CHMOD, sizeof(*e));
	bool trunc = false;
	read_path(&f->f_path, e->path.dir, &trunc);
	if (trunc)
		e->hdr.flags |= VIGIL_F_PATH_TRUNCATED;
	e->path.arg[0] = 0;
	e->path2.dir[0] = 0;
	e->path2.arg[0] = 0;
	e->ret = 0;
	e->mode = mode;
	e->ino = BPF_CORE_READ(f, f_inode, i_ino);
	u32 tid = (u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending_file, &tid, e, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_unlinkat")
int handle_unlinkat_exit(struct trace_event_raw_sys_exit *ctx) { return path_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_unlink")
int handle_unlink_exit(struct trace_event_raw_sys_exit *ctx) { return path_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_renameat2")
int handle_renameat2_exit(struct trace_event_raw_sys_exit *ctx) { return path_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_renameat")
int handle_renameat_exit(struct trace_event_raw_sys_exit *ctx) { return path_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_rename")
int handle_rename_exit(struct trace_event_raw_sys_exit *ctx) { return path_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_fchmodat")
int handle_fchmodat_exit(struct trace_event_raw_sys_exit *ctx) { return path_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_fchmodat2")
int handle_fchmodat2_exit(struct trace_event_raw_sys_exit *ctx) { return path_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_chmod")
int handle_chmod_exit(struct trace_event_raw_sys_exit *ctx) { return path_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_fchmod")
int handle_fchmod_exit(struct trace_event_raw_sys_exit *ctx) { return path_exit(ctx->ret); }

/* ---------------------------------------------------------------- network */

static __always_inline void sock_addrs(struct sock *sk, struct vigil_net *e)
{
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->local.family = family;
	e->remote.family = family;
	e->local.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->remote.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->local.addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->remote.addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((u32 *)e->local.addr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((u32 *)e->remote.addr, sk, __sk_common.skc_daddr);
	}
}

static __always_inline struct vigil_net *net_reserve(u16 type)
{
	struct vigil_net *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(VIGIL_CNT_RINGBUF_FULL);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->hdr, type, sizeof(*e));
	return e;
}

/* tracepoint sock/inet_sock_set_state (Linux 4.16+): TCP connect outcome and listen. */
SEC("tracepoint/sock/inet_sock_set_state")
int handle_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	u64 sk = (u64)ctx->skaddr;
	int old = ctx->oldstate, new = ctx->newstate;
	if (new == TCP_SYN_SENT) {
		/* connect(), in the caller's context */
		if (is_agent())
			return 0;
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		u64 id = bpf_get_current_pid_tgid();
		struct sock_owner o = { .tgid = id >> 32, .tid = (u32)id, .start = task_start(task),
					.uid = (u32)bpf_get_current_uid_gid() };
		bpf_map_update_elem(&connecting, &sk, &o, BPF_ANY);
		return 0;
	}
	if (new == TCP_LISTEN) {
		if (is_agent())
			return 0;
		struct vigil_net *e = net_reserve(VIGIL_EV_TCP_LISTEN);
		if (!e)
			return 0;
		e->protocol = IPPROTO_TCP;
		sock_addrs((struct sock *)ctx->skaddr, e);
		bpf_ringbuf_submit(e, wakeup_flags());
		return 0;
	}
	if (old != TCP_SYN_SENT || (new != TCP_ESTABLISHED && new != TCP_CLOSE))
		return 0;
	struct sock_owner *o = bpf_map_lookup_elem(&connecting, &sk);
	if (!o)
		return 0;
	struct vigil_net *e = net_reserve(VIGIL_EV_TCP_CONNECT);
	if (e) {
		/* this may run in softirq: the owner comes from the map, not from current */
		e->hdr.tgid = o->tgid;
		e->hdr.tid = o->tid;
		e->hdr.start = o->start;
		e->hdr.uid = o->uid;
		e->protocol = IPPROTO_TCP;
		e->result = new == TCP_ESTABLISHED ? 0 : -1;
		sock_addrs((struct sock *)ctx->skaddr, e);
		bpf_ringbuf_submit(e, wakeup_flags());
	}
	bpf_map_delete_elem(&connecting, &sk);
	return 0;
}

static __always_inline struct sock *fd_sock(long fd, u16 *type)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *f = fd_file(task, fd);
	if (!f)
		return NULL;
	unsigned short imode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((imode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return NULL;
	*type = BPF_CORE_READ(sock, type);
	return BPF_CORE_READ(sock, sk);
}

static __always_inline int on_accept_exit(long ret)
{
	if (ret < 0 || is_agent())
		return 0;
	u16 type = 0;
	struct sock *sk = fd_sock(ret, &type);
	if (!sk)
		return 0;
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	struct vigil_net *e = net_reserve(VIGIL_EV_TCP_ACCEPT);
	if (!e)
		return 0;
	e->protocol = BPF_CORE_READ(sk, sk_protocol);
	sock_addrs(sk, e);
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int handle_accept_exit(struct trace_event_raw_sys_exit *ctx) { return on_accept_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_accept4")
int handle_accept4_exit(struct trace_event_raw_sys_exit *ctx) { return on_accept_exit(ctx->ret); }

/* A UDP datagram (or connect) to a peer this process has not talked to before. */
static __always_inline int on_udp_peer(long fd, const void *uaddr)
{
	if (!uaddr || is_agent())
		return 0;
	u16 type = 0;
	struct sock *sk = fd_sock(fd, &type);
	if (!sk || type != SOCK_DGRAM)
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
		return 0;
	struct udp_key key = {};
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	u16 family = 0;
	bpf_probe_read_user(&family, sizeof(family), uaddr);
	if (family == AF_INET) {
		struct sockaddr_in sin = {};
		bpf_probe_read_user(&sin, sizeof(sin), uaddr);
		key.port = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(key.addr, &sin.sin_addr.s_addr, 4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 sin6 = {};
		bpf_probe_read_user(&sin6, sizeof(sin6), uaddr);
		key.port = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(key.addr, &sin6.sin6_addr.in6_u.u6_addr8, 16);
	} else {
		return 0;
	}
	key.family = family;
	if (bpf_map_lookup_elem(&udp_seen, &key))
		return 0;
	u8 one = 1;
	bpf_map_update_elem(&udp_seen, &key, &one, BPF_ANY);
	struct vigil_net *e = net_reserve(VIGIL_EV_UDP_PEER);
	if (!e)
		return 0;
	e->protocol = IPPROTO_UDP;
	sock_addrs(sk, e);
	e->remote.family = family;
	e->remote.port = key.port;
	__builtin_memcpy(e->remote.addr, key.addr, 16);
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int handle_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return on_udp_peer(ctx->args[0], (const void *)ctx->args[4]);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int handle_connect(struct trace_event_raw_sys_enter *ctx)
{
	return on_udp_peer(ctx->args[0], (const void *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int handle_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct user_msghdr msg = {};
	if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)ctx->args[1]))
		return 0;
	return on_udp_peer(ctx->args[0], msg.msg_name);
}

/* ---------------------------------------------------------------- security */

static __always_inline struct vigil_security *sec_scratch(u16 type)
{
	u32 zero = 0;
	struct vigil_security *e = bpf_map_lookup_elem(&scratch_sec, &zero);
	if (!e)
		return NULL;
	fill_header(&e->hdr, type, sizeof(*e));
	e->ret = 0;
	e->target_pid = 0;
	e->request = 0;
	e->old_id = 0;
	e->new_id = 0;
	e->name[0] = 0;
	return e;
}

static __always_inline void sec_pending(struct vigil_security *e)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&pending_sec, &tid, e, BPF_ANY))
		count(VIGIL_CNT_PENDING_FULL);
}

/* Sends the pending record of this thread when the syscall succeeded. */
static __always_inline int sec_exit(long ret)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct vigil_security *e = bpf_map_lookup_elem(&pending_sec, &tid);
	if (!e)
		return 0;
	e->ret = ret;
	bool send = ret >= 0;
	if (send && e->hdr.type == VIGIL_EV_CRED_CHANGE) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		u32 now = e->request == 1 ? BPF_CORE_READ(task, cred, egid.val) : BPF_CORE_READ(task, cred, euid.val);
		e->new_id = now;
		send = now != e->old_id;
	}
	if (send) {
		e->hdr.ts = bpf_ktime_get_boot_ns();
		output(e, sizeof(*e));
	}
	bpf_map_delete_elem(&pending_sec, &tid);
	return 0;
}

/* tracepoint syscalls/sys_enter_ptrace: attach, seize and memory writes into another process */
SEC("tracepoint/syscalls/sys_enter_ptrace")
int handle_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	long req = ctx->args[0];
	if (req != PTRACE_ATTACH && req != PTRACE_SEIZE && req != PTRACE_POKETEXT && req != PTRACE_POKEDATA)
		return 0;
	struct vigil_security *e = sec_scratch(VIGIL_EV_PTRACE);
	if (!e)
		return 0;
	e->request = req;
	e->target_pid = ctx->args[1];
	sec_pending(e);
	return 0;
}

/* set*uid / set*gid: credential changes, reported when the effective id changed */
static __always_inline int cred_enter(int gid)
{
	struct vigil_security *e = sec_scratch(VIGIL_EV_CRED_CHANGE);
	if (!e)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->request = gid;
	e->old_id = gid ? BPF_CORE_READ(task, cred, egid.val) : BPF_CORE_READ(task, cred, euid.val);
	sec_pending(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_setuid")
int handle_setuid(void *ctx) { return cred_enter(0); }
SEC("tracepoint/syscalls/sys_enter_setreuid")
int handle_setreuid(void *ctx) { return cred_enter(0); }
SEC("tracepoint/syscalls/sys_enter_setresuid")
int handle_setresuid(void *ctx) { return cred_enter(0); }
SEC("tracepoint/syscalls/sys_enter_setgid")
int handle_setgid(void *ctx) { return cred_enter(1); }
SEC("tracepoint/syscalls/sys_enter_setresgid")
int handle_setresgid(void *ctx) { return cred_enter(1); }

/* bpf(BPF_PROG_LOAD): programs loaded by other processes */
SEC("tracepoint/syscalls/sys_enter_bpf")
int handle_bpf(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[0] != BPF_PROG_LOAD || is_agent())
		return 0;
	struct vigil_security *e = sec_scratch(VIGIL_EV_BPF_LOAD);
	if (!e)
		return 0;
	const char *attr = (const char *)ctx->args[1];
	u32 prog_type = 0;
	bpf_probe_read_user(&prog_type, sizeof(prog_type), attr);
	e->request = prog_type;
	bpf_probe_read_user(e->name, 16, attr + 48); /* union bpf_attr: prog_name */
	e->name[16] = 0;
	sec_pending(e);
	return 0;
}

/* memfd_create(name, flags): the first step of fileless execution */
SEC("tracepoint/syscalls/sys_enter_memfd_create")
int handle_memfd_create(struct trace_event_raw_sys_enter *ctx)
{
	if (is_agent())
		return 0;
	struct vigil_security *e = sec_scratch(VIGIL_EV_MEMFD_CREATE);
	if (!e)
		return 0;
	bpf_probe_read_user_str(e->name, sizeof(e->name), (const char *)ctx->args[0]);
	e->request = ctx->args[1];
	sec_pending(e);
	return 0;
}

/* finit_module / init_module (absent when the kernel has no module support) */
SEC("tracepoint/syscalls/sys_enter_finit_module")
int handle_finit_module(struct trace_event_raw_sys_enter *ctx)
{
	struct vigil_security *e = sec_scratch(VIGIL_EV_MODULE_LOAD);
	if (!e)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *f = fd_file(task, ctx->args[0]);
	if (f) {
		const unsigned char *name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
		bpf_probe_read_kernel_str(e->name, sizeof(e->name), name);
	}
	sec_pending(e);
	return 0;
}

/* Rare syscalls that change how a process or the kernel behaves, reported with the syscall's
 * name and first argument (as auditd's SYSCALL records carry them). */
static __always_inline int rare_syscall(const char *name, u32 len, long a0, u32 mode, const char *path)
{
	if (is_agent())
		return 0;
	struct vigil_security *e = sec_scratch(VIGIL_EV_SYSCALL);
	if (!e)
		return 0;
	for (u32 i = 0; i < 15; i++) {
		if (i >= len)
			break;
		e->name[i] = name[i];
	}
	e->name[len < 15 ? len : 15] = 0;
	e->request = a0;
	e->old_id = mode;
	if (path)
		bpf_probe_read_user_str(&e->name[16], VIGIL_NAME_MAX - 16, path);
	sec_pending(e);
	return 0;
}

/* personality(persona): ADDR_NO_RANDOMIZE turns ASLR off for what the process runs next.
 * Queries (0xffffffff) are not changes. */
SEC("tracepoint/syscalls/sys_enter_personality")
int handle_personality(struct trace_event_raw_sys_enter *ctx)
{
	if ((u32)ctx->args[0] == 0xffffffff)
		return 0;
	return rare_syscall("personality", 11, ctx->args[0], 0, NULL);
}

/* syslog(action, ...): clearing the kernel log (4, 5) or muting the console (6, 7, 8);
 * reads are not reported. */
SEC("tracepoint/syscalls/sys_enter_syslog")
int handle_syslog(struct trace_event_raw_sys_enter *ctx)
{
	long action = ctx->args[0];
	if (action < 4 || action > 8)
		return 0;
	return rare_syscall("syslog", 6, action, 0, NULL);
}

/* mknod / mknodat: device nodes and FIFOs (named pipes back many reverse shells) */
SEC("tracepoint/syscalls/sys_enter_mknod")
int handle_mknod(struct trace_event_raw_sys_enter *ctx)
{
	return rare_syscall("mknod", 5, 0, (u32)ctx->args[1], (const char *)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_mknodat")
int handle_mknodat(struct trace_event_raw_sys_enter *ctx)
{
	return rare_syscall("mknodat", 7, ctx->args[0], (u32)ctx->args[2], (const char *)ctx->args[1]);
}

/* Executables (by inode) already reported calling sysinfo: once per program, since ordinary
 * programs call it too (glibc's qsort and sysconf do). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vigil_file_id);
	__type(value, u8);
} sysinfo_seen SEC(".maps");

/* sysinfo(): system discovery, reported the first time each executable calls it */
SEC("tracepoint/syscalls/sys_enter_sysinfo")
int handle_sysinfo(struct trace_event_raw_sys_enter *ctx)
{
	if (is_agent())
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	if (!inode)
		return 0;
	struct vigil_file_id id = {};
	id.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	id.ino = BPF_CORE_READ(inode, i_ino);
	u8 one = 1;
	if (bpf_map_update_elem(&sysinfo_seen, &id, &one, BPF_NOEXIST))
		return 0; /* seen already */
	return rare_syscall("sysinfo", 7, 0, 0, NULL);
}

/* cgroup removal: systemd removes a unit's cgroup when the unit stops (the userspace side
 * keeps the `.service` ones of one hierarchy). */
SEC("tracepoint/cgroup/cgroup_rmdir")
int handle_cgroup_rmdir(struct trace_event_raw_cgroup *ctx)
{
	struct vigil_security *e = sec_scratch(VIGIL_EV_CGROUP_RMDIR);
	if (!e)
		return 0;
	e->request = ctx->root;
	e->old_id = ctx->level;
	u32 off = ctx->__data_loc_path & 0xffff;
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), (void *)ctx + off);
	output(e, sizeof(*e));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sysinfo")
int handle_sysinfo_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_personality")
int handle_personality_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_syslog")
int handle_syslog_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_mknod")
int handle_mknod_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_mknodat")
int handle_mknodat_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_ptrace")
int handle_ptrace_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_setuid")
int handle_setuid_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_setreuid")
int handle_setreuid_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_setresuid")
int handle_setresuid_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_setgid")
int handle_setgid_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_setresgid")
int handle_setresgid_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_bpf")
int handle_bpf_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_memfd_create")
int handle_memfd_create_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_finit_module")
int handle_finit_module_exit(struct trace_event_raw_sys_exit *ctx) { return sec_exit(ctx->ret); }

/* ---------------------------------------------------------------- dns */

/*
 * Socket filter for a SOCK_DGRAM packet socket (data starts at the IP header): keeps UDP
 * datagrams from port 53, i.e. DNS responses, and drops everything else in the kernel.
 */
SEC("socket")
int dns_filter(struct __sk_buff *skb)
{
	u8 b = 0;
	u16 sport = 0;
	if (bpf_skb_load_bytes(skb, 0, &b, 1))
		return 0;
	if ((b >> 4) == 4) {
		u32 ihl = (b & 0xf) * 4;
		u8 proto = 0;
		if (ihl < 20 || bpf_skb_load_bytes(skb, 9, &proto, 1) || proto != IPPROTO_UDP)
			return 0;
		if (bpf_skb_load_bytes(skb, ihl & 0x3f, &sport, 2))
			return 0;
	} else if ((b >> 4) == 6) {
		u8 next = 0;
		if (bpf_skb_load_bytes(skb, 6, &next, 1) || next != IPPROTO_UDP)
			return 0;
		if (bpf_skb_load_bytes(skb, 40, &sport, 2))
			return 0;
	} else {
		return 0;
	}
	return bpf_ntohs(sport) == 53 ? skb->len : 0;
}
