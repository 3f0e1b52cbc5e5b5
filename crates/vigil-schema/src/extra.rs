//! Keys that Vigil writes into `AdditionalFields`, for Linux facts with no MDE column.
//!
//! Keeping them as constants makes them one definition for producers and for the rules and
//! queries that read them back (`AdditionalFields.argv_truncated` in KQL).

/// `bool`: the command line was cut at the sensor's argv bound.
pub const ARGV_TRUNCATED: &str = "argv_truncated";
/// `bool`: a path was cut at the sensor's path bound.
pub const PATH_TRUNCATED: &str = "path_truncated";
/// `string`: working directory of the process.
pub const CWD: &str = "cwd";
/// `long`: real, effective user and group ids.
pub const UID: &str = "uid";
pub const EUID: &str = "euid";
pub const GID: &str = "gid";
pub const EGID: &str = "egid";
/// `long`: audit login uid (`4294967295` when unset) and audit session id.
pub const LOGIN_UID: &str = "login_uid";
pub const SESSION_ID: &str = "session_id";
/// `string`: controlling terminal, e.g. `pts/0`.
pub const TTY: &str = "tty";
/// `string`: cgroup path of the process, and the container id found in it, if any.
pub const CGROUP: &str = "cgroup";
pub const CONTAINER_ID: &str = "container_id";
/// `bool`: the executable had no path on disk (memfd or deleted file).
pub const FILELESS: &str = "fileless";
/// `string`: why it was fileless: `memfd` or `deleted`.
pub const FILELESS_KIND: &str = "fileless_kind";
/// `long`: exit code and terminating signal of a process.
pub const EXIT_CODE: &str = "exit_code";
pub const EXIT_SIGNAL: &str = "exit_signal";
/// `long`: kernel thread-group id of the parent at exec.
pub const PARENT_PID: &str = "parent_pid";
/// `string`: file mode before and after a permission change, octal.
pub const OLD_MODE: &str = "old_mode";
pub const NEW_MODE: &str = "new_mode";
/// `string`: DNS query name, record type, answers.
pub const DNS_QUERY: &str = "query";
pub const DNS_QTYPE: &str = "query_type";
pub const DNS_ANSWERS: &str = "answers";
/// `string`: name of a loaded kernel module or BPF program; target of a ptrace.
pub const MODULE_NAME: &str = "module_name";
pub const BPF_PROG_TYPE: &str = "bpf_prog_type";
pub const PTRACE_REQUEST: &str = "ptrace_request";
pub const TARGET_PID: &str = "target_pid";
/// Sensor health: source, count of events dropped, and why.
pub const SOURCE: &str = "source";
pub const DROPPED: &str = "dropped";
pub const REASON: &str = "reason";
