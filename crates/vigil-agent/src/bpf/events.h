/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one definition of every record the kernel side sends to the agent.
 *
 * Rust gets these types from the libbpf-cargo skeleton (src/bpf/sensors.skel.rs), never from a
 * hand-written mirror. Record type ids are explicit, grouped by family, and never reused.
 * Every string is a bounded, NUL-padded byte array; userspace decodes them lossily.
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

/* Bounds. Paths and argv longer than these are cut and flagged. */
#define VIGIL_PATH_MAX 1024 /* power of two: used as a mask */
#define VIGIL_NAME_MAX 256  /* one path component */
#define VIGIL_ARGV_MAX 2048 /* power of two: used as a mask */
#define VIGIL_PATH_DEPTH 32 /* components walked up from a dentry; power of two */
#define VIGIL_COMM_LEN 16
#define VIGIL_TTY_LEN 16
#define VIGIL_CGROUP_LEN 128
#define VIGIL_PREFIX_MAX 8  /* configurable path prefixes filtered in the kernel */
#define VIGIL_PREFIX_LEN 64

/* Record types. Process family 1xx, file 2xx, network 3xx, security 4xx. */
enum vigil_event_type {
	VIGIL_EV_EXEC = 100,
	VIGIL_EV_FORK = 101,
	VIGIL_EV_EXIT = 102,

	VIGIL_EV_FILE_CREATE = 200,
	VIGIL_EV_FILE_MODIFY = 201,
	VIGIL_EV_FILE_RENAME = 202,
	VIGIL_EV_FILE_DELETE = 203,
	VIGIL_EV_FILE_CHMOD = 204,
	VIGIL_EV_FILE_READ_SENSITIVE = 205, /* a file of the `sensitive` map opened for reading */

	VIGIL_EV_TCP_CONNECT = 300,
	VIGIL_EV_TCP_ACCEPT = 301,
	VIGIL_EV_TCP_LISTEN = 302,
	VIGIL_EV_UDP_PEER = 303,

	VIGIL_EV_PTRACE = 400,
	VIGIL_EV_CRED_CHANGE = 401,
	VIGIL_EV_BPF_LOAD = 402,
	VIGIL_EV_MODULE_LOAD = 403,
	VIGIL_EV_MEMFD_CREATE = 404,
	VIGIL_EV_SYSCALL = 405, /* a rare syscall worth a record: name, first argument, mode */
	VIGIL_EV_CGROUP_RMDIR = 406, /* a cgroup removed (a systemd unit stopped): root, level, path */
};

/* Flags carried in vigil_header.flags. */
enum vigil_flags {
	VIGIL_F_ARGV_TRUNCATED = 1 << 0,
	VIGIL_F_PATH_TRUNCATED = 1 << 1,
	VIGIL_F_FILELESS = 1 << 2,  /* executable has no link on disk (nlink == 0) */
	VIGIL_F_MEMFD = 1 << 3,     /* ... and it is a memfd */
	VIGIL_F_CWD_TRUNCATED = 1 << 4,
	VIGIL_F_CREATED = 1 << 5,   /* file: this open created it */
};

/* Starts every record. */
struct vigil_header {
	unsigned short type;     /* enum vigil_event_type */
	unsigned short flags;    /* enum vigil_flags */
	unsigned int size;       /* bytes in the record, header included */
	unsigned long long ts;   /* bpf_ktime_get_boot_ns() */
	unsigned int tgid;       /* process id */
	unsigned int tid;        /* thread id */
	unsigned long long start; /* process start, ns since boot (start_boottime) */
	unsigned int uid;
	unsigned int _pad;
};

struct vigil_exec {
	struct vigil_header hdr;
	unsigned int ppid;
	unsigned int euid;
	unsigned int gid;
	unsigned int egid;
	unsigned int loginuid;
	unsigned int sessionid;
	unsigned long long parent_start;
	unsigned long long cgroup_id;
	unsigned long long ino;
	unsigned int nlink;
	unsigned int argv_len;   /* bytes of argv used, NUL-separated */
	unsigned long long argv_full; /* bytes of argv the process had */
	char comm[VIGIL_COMM_LEN];
	char tty[VIGIL_TTY_LEN];
	char cgroup[VIGIL_CGROUP_LEN]; /* leaf name of the v2 cgroup */
	char path[VIGIL_PATH_MAX + VIGIL_NAME_MAX];
	char cwd[VIGIL_PATH_MAX + VIGIL_NAME_MAX];
	char argv[VIGIL_ARGV_MAX];
};

struct vigil_fork {
	struct vigil_header hdr;
	unsigned int ppid;
	unsigned int _pad;
	unsigned long long parent_start;
	char comm[VIGIL_COMM_LEN];
};

struct vigil_exit {
	struct vigil_header hdr;
	int exit_code; /* as wait(2) reports it: status << 8 | signal */
	unsigned int _pad;
};

/*
 * A file operation. A path is either absolute in `arg`, or `dir` (resolved in the kernel
 * from the directory fd or the cwd) joined with the relative `arg`. For opens, `dir` holds the
 * full resolved path and `arg` is empty.
 */
struct vigil_path {
	char dir[VIGIL_PATH_MAX + VIGIL_NAME_MAX];
	char arg[VIGIL_PATH_MAX];
};

struct vigil_file {
	struct vigil_header hdr;
	int ret;           /* syscall result */
	unsigned int mode; /* chmod: new mode; open: inode mode */
	unsigned long long ino;
	struct vigil_path path; /* the file (for renames: the old name) */
	struct vigil_path path2; /* renames: the new name */
};

/* Key of the `sensitive` map: a file by its device (the kernel's s_dev encoding) and inode. */
struct vigil_file_id {
	unsigned int dev;
	unsigned int _pad;
	unsigned long long ino;
};

struct vigil_addr {
	unsigned short family; /* AF_INET 2, AF_INET6 10 */
	unsigned short port;   /* host byte order */
	unsigned int _pad;
	unsigned char addr[16]; /* IPv4 in the first 4 bytes */
};

struct vigil_net {
	struct vigil_header hdr;
	int result;            /* 0 ok; connect: 0 success, else failure */
	unsigned short protocol; /* IPPROTO_TCP 6, IPPROTO_UDP 17 */
	unsigned short _pad;
	struct vigil_addr local;
	struct vigil_addr remote;
};

struct vigil_security {
	struct vigil_header hdr;
	int ret;
	unsigned int target_pid; /* ptrace */
	long long request;       /* ptrace request; bpf prog type; setuid new id */
	unsigned int old_id;
	unsigned int new_id;
	char name[VIGIL_NAME_MAX]; /* memfd name, bpf program name, credential kind; syscall: its
	                              name, then (mknod) the path from byte 16 */
};

/* Counters the agent reads from the `counters` map. */
enum vigil_counter {
	VIGIL_CNT_RINGBUF_FULL = 0,   /* records lost because the ring buffer was full */
	VIGIL_CNT_FILTERED = 1,       /* records filtered in the kernel */
	VIGIL_CNT_PENDING_FULL = 2,   /* syscall pairs lost because the pending map was full */
	VIGIL_CNT_MAX = 4,
};

/* A configured path prefix filtered in the kernel. */
struct vigil_prefix {
	unsigned int len;
	char prefix[VIGIL_PREFIX_LEN];
};

/* Settings the agent writes into .rodata before load. */
struct vigil_settings {
	unsigned int agent_tgid;
	unsigned int prefix_count;
};

#endif /* VIGIL_EVENTS_H */
