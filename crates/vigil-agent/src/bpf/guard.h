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
	VG_RULE_PRELOAD_WRITE = 4,       /* creating or renaming onto a watched preload path */
	VG_RULE_MODULE_LOAD = 5,         /* finit_module of a file no package owns, init_module */
	VG_RULE_CREDENTIAL_READ = 6,     /* user space only (fanotify) */
	VG_RULE_PERSISTENCE_WRITE = 7,   /* user space only (fanotify) */
	VG_RULE_DOWNLOADED_EXEC = 8,     /* exec of a file written by a downloader */
	VG_RULE_RANSOMWARE = 9,          /* one process renaming or rewriting many files */
	VG_RULE_MAX = 16,
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
	VG_ROLE_DOWNLOADER = 64, /* curl, wget: what they write is tracked */
	VG_ROLE_PACKAGER = 128,  /* package managers: not counted by the ransomware rule */
};

/* VG_REC_ASR `result`: what the process was doing. Never reused. */
enum vg_op {
	VG_OP_EXEC = 0,
	VG_OP_OPEN = 1,        /* open(2) family for writing */
	VG_OP_RENAME = 2,      /* rename(2) family onto the path */
	VG_OP_FINIT_MODULE = 3,
	VG_OP_INIT_MODULE = 4,
	VG_OP_MASS_CHANGE = 5, /* the ransomware count crossed its threshold */
	VG_OP_SCRIPT_READ = 6, /* a shell or interpreter opened a downloaded file for reading */
};

#define VG_WATCH 4     /* watched preload paths */
#define VG_WATCH_LEN 64

/* A file as the kernel names it: `s_dev` (major << 20 | minor) and inode number. */
struct vg_file_id {
	unsigned long long ino;
	unsigned int dev;
	unsigned int _pad;
};

/* Value of `downloaded`: who wrote the file. */
struct vg_writer {
	unsigned long long ts;
	unsigned int tgid;
	unsigned int _pad;
	char comm[16];
};

/* An entry of `watch_paths` (NUL-terminated; empty = unused). */
struct vg_watch {
	char path[VG_WATCH_LEN];
	unsigned int opens; /* 1: opens for writing match too (the file does not exist) */
	unsigned int _pad;
};

/* `asr_params[0]`: the ransomware rule's threshold. */
struct vg_params {
	unsigned long long window_ns;
	unsigned int threshold; /* files changed by one process within window_ns */
	/* 0: every rewrite counts; else a rewrite counts only when its first written block
	 * (VG_SAMPLE_MIN..VG_SAMPLE bytes) has at least this many bits of entropy per byte,
	 * in 1/65536 (Miller-Madow corrected), and a rename only once the process made such a
	 * rewrite in its window. */
	unsigned int entropy_fp;
};

#define VG_SAMPLE 1024     /* bytes of a first write sampled for entropy */
#define VG_SAMPLE_MIN 512  /* shorter writes are not sampled (too few bytes to judge) */
#define VG_SAMPLE_TRIES 4  /* writes of one open looked at before giving up */

/* Key of `pending`: a descriptor of a process on an existing file it opened to rewrite. */
struct vg_pending_key {
	unsigned int tgid;
	int fd;
};

/* Value of `pending`: that file, and how many short writes went by. */
struct vg_pending {
	unsigned long long ino;
	unsigned int dev;
	unsigned int writes;
};

/* The per-CPU scratch of an entropy sample. */
struct vg_sample {
	unsigned char buf[VG_SAMPLE];
	unsigned int hist[256];
};

/* Key of `changed_files`: a file one process rewrote (counted once per window). */
struct vg_change_key {
	unsigned long long ino;
	unsigned int dev;
	unsigned int tgid;
};

/* Value of `changes`: one process's count in its current window. */
struct vg_changes {
	unsigned long long start;
	unsigned int count;
	unsigned int reported;
	unsigned int hot; /* high-entropy rewrites in the window (entropy mode) */
	unsigned int _pad;
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
	unsigned int target;        /* VG_REC_SIGNAL: the pid signalled; VG_REC_ASR ptrace: the pid;
	                               downloaded exec: the writer; ransomware: the count */
	int sig;                    /* VG_REC_SIGNAL: the signal; ptrace: the request */
	int result;                 /* VG_REC_SIGNAL: TRACE_SIGNAL_* outcome; VG_REC_ASR: enum vg_op */
	unsigned int dev;           /* VG_REC_ASR file rules: the file (kernel s_dev), 0 if unknown */
	unsigned long long ino;
	char comm[VG_COMM];         /* the acting process */
	char pcomm[VG_COMM];        /* its parent */
	char tcomm[VG_COMM];        /* VG_REC_SIGNAL: the target's name; downloaded exec: the writer's */
	char path[VG_PATH];         /* VG_REC_ASR exec: the file name as given to execve */
};

#endif
