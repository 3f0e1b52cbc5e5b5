/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one definition of the self-defence and ASR programs' maps and records (guard.bpf.c).
 *
 * Rust gets these types from the libbpf-cargo skeleton (guard.skel.rs), never from a
 * hand-written mirror. Every struct is laid out without implicit padding.
 */
#ifndef VIGIL_GUARD_H
#define VIGIL_GUARD_H

/* Record types on the `records` ring buffer. Never reused. */
enum vg_record_type {
	VG_REC_SIGNAL = 1, /* a signal sent to a protected process */
	VG_REC_ASR = 2,    /* an ASR rule matched */
};

/* ASR rules enforced in the kernel (index of `asr_mode`). Never reused. */
enum vg_rule {
	VG_RULE_WORLD_WRITABLE_EXEC = 0, /* exec of a file in a world-writable directory */
	VG_RULE_SERVER_SHELL = 1,        /* a web server or database spawning a shell */
	VG_RULE_DOCUMENT_INTERP = 2,     /* a document or mail tool spawning an interpreter */
	VG_RULE_PTRACE = 3,              /* ptrace attach/poke or process_vm_writev by a non-debugger */
	VG_RULE_MAX = 8,
};

/* Values of `asr_mode`. */
enum vg_mode {
	VG_MODE_OFF = 0,
	VG_MODE_AUDIT = 1,
	VG_MODE_BLOCK = 2,
};

/* Bits of `comm_roles` values: what a process name is. */
enum vg_role {
	VG_ROLE_SERVER = 1,
	VG_ROLE_SHELL = 2,
	VG_ROLE_DOCUMENT = 4,
	VG_ROLE_INTERP = 8,
	VG_ROLE_DEBUGGER = 16,
	VG_ROLE_EXCLUDED = 32, /* never matched by any ASR rule */
};

#define VG_COMM 16
#define VG_PATH 128

/* A process name as a map key. */
struct vg_comm {
	char comm[VG_COMM];
};

/* Value of `open_flags`: the last open(2)-family call of a thread. */
struct vg_open {
	unsigned long long ts;
	unsigned int flags; /* O_* as given; execve records 0 */
	unsigned int _pad;
};

/* One record. */
struct vg_record {
	unsigned long long ts;      /* bpf_ktime_get_boot_ns */
	unsigned short type;        /* enum vg_record_type */
	unsigned short rule;        /* VG_REC_ASR: enum vg_rule */
	unsigned int killed;        /* 1 when bpf_send_signal(SIGKILL) was issued */
	unsigned int tgid;          /* the acting process */
	unsigned int tid;
	unsigned int uid;
	unsigned int ppid;          /* the acting process's parent */
	unsigned int target;        /* VG_REC_SIGNAL: the pid signalled; VG_REC_ASR ptrace: the pid */
	int sig;                    /* VG_REC_SIGNAL: the signal; ptrace: the request */
	int result;                 /* VG_REC_SIGNAL: TRACE_SIGNAL_* outcome */
	unsigned int _pad;
	char comm[VG_COMM];         /* the acting process */
	char pcomm[VG_COMM];        /* its parent */
	char tcomm[VG_COMM];        /* VG_REC_SIGNAL: the target's name */
	char path[VG_PATH];         /* VG_REC_ASR exec: the file name as given to execve */
};

#endif
