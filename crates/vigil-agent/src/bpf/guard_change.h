/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The file-change part of guard.bpf.c (the ransomware rule): counting changes per process
 * and window, the package managers it exempts by their program file, and the entropy
 * samples of `ransomware_entropy`. Not a standalone header: guard.bpf.c includes it once,
 * after its common maps (`asr_params`, `comm_roles`, `protected`) and helpers (`role_of`,
 * `mode_of`, `asr_record`), which it uses.
 */
#ifndef VIGIL_GUARD_CHANGE_H
#define VIGIL_GUARD_CHANGE_H

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32); /* tgid */
	__type(value, struct vg_changes);
	__uint(max_entries, 16384);
} changes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct vg_change_key);
	__type(value, __u64); /* when it was counted */
	__uint(max_entries, 65536);
} changed_files SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct vg_pending_key);
	__type(value, struct vg_pending);
	__uint(max_entries, 16384);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct vg_sample);
	__uint(max_entries, 1);
} sample SEC(".maps");

/* log2(i) in 1/65536 for i in 0..VG_SAMPLE (0 for 0), filled from user space. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, VG_SAMPLE + 1);
} log2_fp SEC(".maps");

/* The file open as `fd` in the current process, or 0. */
static __always_inline struct file *fd_file(int fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(t, files, fdt, max_fds);
	if (!fds || (unsigned int)fd >= max)
		return 0;
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Whether `exe` is root's, not writable by group or others, in directories that are root's
 * and not group/other-writable alike, up to its filesystem's root (at most 24 levels). */
static __always_inline int exe_trusted(struct file *exe)
{
	struct inode *ino = BPF_CORE_READ(exe, f_inode);
	if (!ino || BPF_CORE_READ(ino, i_uid.val) != 0 || (BPF_CORE_READ(ino, i_mode) & 022))
		return 0;
	struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);
	for (int i = 0; i < 24; i++) {
		struct dentry *up = BPF_CORE_READ(d, d_parent);
		if (!up || up == d)
			return 1; /* the filesystem's root, checked as the previous `up` */
		struct inode *di = BPF_CORE_READ(up, d_inode);
		if (!di || BPF_CORE_READ(di, i_uid.val) != 0 || (BPF_CORE_READ(di, i_mode) & 022))
			return 0;
		d = up;
	}
	return 0;
}

/* Whether the current process is a package manager by its program file: a trusted file
 * whose name is a package manager's, or a trusted interpreter running under a package
 * manager's name (dnf, yum and unattended-upgrade are Python programs). */
static __always_inline int trusted_packager(const char *comm)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file *exe = BPF_CORE_READ(t, mm, exe_file);
	if (!exe || !exe_trusted(exe))
		return 0;
	struct vg_comm key = {};
	const unsigned char *name = BPF_CORE_READ(exe, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(key.comm, sizeof(key.comm), name) <= 1)
		return 0;
	__u32 *r = bpf_map_lookup_elem(&comm_roles, &key);
	__u32 file_role = r ? *r : 0;
	if (file_role & VG_ROLE_PACKAGER)
		return 1;
	return (file_role & VG_ROLE_INTERP) && (role_of(comm) & VG_ROLE_PACKAGER);
}

/* Count one file change of the current process (`rename`: a rename, else the rewrite of an
 * existing file: in entropy mode only a high-entropy one reaches here); past the threshold
 * within the window, one ransomware hit per window. In entropy mode a rename counts only once
 * the process made a high-entropy rewrite in its window. */
static __always_inline void count_change(int rename)
{
	__u32 mode = mode_of(VG_RULE_RANSOMWARE);
	if (mode == VG_MODE_OFF)
		return;
	char comm[VG_COMM] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	if (role_of(comm) & VG_ROLE_EXCLUDED)
		return;
	__u32 me = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&protected, &me) || trusted_packager(comm))
		return;
	__u32 k = 0;
	struct vg_params *p = bpf_map_lookup_elem(&asr_params, &k);
	if (!p || p->threshold == 0)
		return;
	int entropy = p->entropy_fp != 0;
	__u64 now = bpf_ktime_get_boot_ns();
	struct vg_changes *c = bpf_map_lookup_elem(&changes, &me);
	if (!c || now - c->start > p->window_ns) {
		if (entropy && rename)
			return; /* nothing encrypted yet in this window */
		struct vg_changes fresh = { .start = now, .count = 1, .hot = entropy };
		bpf_map_update_elem(&changes, &me, &fresh, BPF_ANY);
		return;
	}
	if (entropy && rename && c->hot == 0)
		return;
	/* Not atomic: two threads of one process may count one change once; the threshold is a
	 * heuristic. */
	__u32 n = c->count + 1;
	c->count = n;
	if (entropy && !rename)
		c->hot += 1;
	if (n <= p->threshold || c->reported)
		return;
	c->reported = 1;
	struct vg_record *r = asr_record(VG_RULE_RANSOMWARE, mode, VG_OP_MASS_CHANGE);
	if (!r)
		return;
	r->target = n;
	bpf_ringbuf_submit(r, 0);
}

/* Whether this rewrite of (file, process) was counted in the current window already; marks
 * it counted otherwise. */
static __always_inline int counted_before(__u64 ino, __u32 dev, __u32 tgid)
{
	struct vg_change_key k = { .ino = ino, .dev = dev, .tgid = tgid };
	__u64 now = bpf_ktime_get_boot_ns();
	__u32 zero = 0;
	struct vg_params *p = bpf_map_lookup_elem(&asr_params, &zero);
	__u64 *seen = bpf_map_lookup_elem(&changed_files, &k);
	if (seen && p && now - *seen <= p->window_ns)
		return 1;
	bpf_map_update_elem(&changed_files, &k, &now, BPF_ANY);
	return 0;
}

/* Whether the `n` bytes sampled in `s` look encrypted or compressed: Shannon entropy with the
 * Miller-Madow correction ((k - 1) / (2 n ln 2) bits, k the distinct byte values) of at least
 * `min_fp` / 65536 bits per byte. */
static __always_inline int high_entropy(struct vg_sample *s, __u32 n, __u32 min_fp)
{
	__u32 idx = n;
	__u32 *ln = bpf_map_lookup_elem(&log2_fp, &idx);
	if (!ln || n == 0)
		return 0;
	__s64 total = (__s64)n * *ln; /* n log2 n */
	__s64 k = 0;
	for (int i = 0; i < 256; i++) {
		__u32 c = s->hist[i];
		if (c == 0)
			continue;
		k++;
		__u32 ci = c > VG_SAMPLE ? VG_SAMPLE : c;
		__u32 *lc = bpf_map_lookup_elem(&log2_fp, &ci);
		if (lc)
			total -= (__s64)c * *lc;
	}
	/* 65536 / (2 ln 2) = 47274.7 */
	total += (k - 1) * 47274;
	return total >= (__s64)n * min_fp;
}

/* A write(2) or pwrite64(2) of `len` bytes from `ubuf` to `fd`: the first write of enough
 * bytes to a file the process opened to rewrite decides whether that rewrite counts. */
static __always_inline void sample_write(int fd, const char *ubuf, __u64 len)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct vg_pending_key pk = { .tgid = id >> 32, .fd = fd };
	struct vg_pending *pv = bpf_map_lookup_elem(&pending, &pk);
	if (!pv)
		return;
	struct file *f = fd_file(fd);
	/* The descriptor may have been closed and reused for another file since. */
	if (!f || BPF_CORE_READ(f, f_inode, i_ino) != pv->ino ||
	    BPF_CORE_READ(f, f_inode, i_sb, s_dev) != pv->dev) {
		bpf_map_delete_elem(&pending, &pk);
		return;
	}
	if (len < VG_SAMPLE_MIN) {
		pv->writes += 1;
		if (pv->writes >= VG_SAMPLE_TRIES)
			bpf_map_delete_elem(&pending, &pk);
		return;
	}
	__u64 ino = pv->ino;
	__u32 dev = pv->dev;
	bpf_map_delete_elem(&pending, &pk);
	__u32 zero = 0;
	struct vg_params *p = bpf_map_lookup_elem(&asr_params, &zero);
	struct vg_sample *s = bpf_map_lookup_elem(&sample, &zero);
	if (!p || !s || p->entropy_fp == 0)
		return;
	if (bpf_probe_read_user(s->buf, VG_SAMPLE, ubuf) != 0) {
		/* Fewer than VG_SAMPLE readable bytes: take the minimum the write holds. */
		if (bpf_probe_read_user(s->buf, VG_SAMPLE_MIN, ubuf) != 0)
			return;
		len = VG_SAMPLE_MIN;
	}
	__u32 n = len > VG_SAMPLE ? VG_SAMPLE : (__u32)len;
	__builtin_memset(s->hist, 0, sizeof(s->hist));
	for (int i = 0; i < VG_SAMPLE; i++) {
		if (i >= n)
			break;
		s->hist[s->buf[i]] += 1;
	}
	if (!high_entropy(s, n, p->entropy_fp))
		return;
	if (counted_before(ino, dev, id >> 32))
		return;
	count_change(0);
}

#endif
