//! The Linux mapping end to end: file, network, DNS and auditd rules on Vigil events.

use vigil_sigma::{OwnedEvent, Status};

use crate::support::*;

fn rule(ls: &str, det: &str) -> String {
    format!("title: r\nid: r\nlogsource: {{product: linux, {ls}}}\ndetection:\n{det}\n")
}

fn file(action: &str, path: &str) -> OwnedEvent {
    OwnedEvent::new("DeviceFileEvents", 0)
        .with("ActionType", action)
        .with("FolderPath", path)
        .with("InitiatingProcessFolderPath", "/usr/bin/vim")
}

#[test]
fn file_categories_pick_their_action_types() {
    let det = "  sel:\n    TargetFilename|startswith: /etc/cron.d/\n  condition: sel";
    let s = ok(&[("r.yml", &rule("category: file_event", det))]);
    assert!(hit(&s, &file("FileCreated", "/etc/cron.d/evil")));
    assert!(hit(&s, &file("FileModified", "/etc/cron.d/evil")));
    assert!(!hit(&s, &file("FileDeleted", "/etc/cron.d/evil")));
    let s = ok(&[("r.yml", &rule("category: file_delete", det))]);
    assert!(hit(&s, &file("FileDeleted", "/etc/cron.d/evil")));
    assert!(!hit(&s, &file("FileCreated", "/etc/cron.d/evil")));
    let s = ok(&[(
        "r.yml",
        &rule(
            "category: file_rename",
            "  sel:\n    SourceFilename|endswith: .tmp\n    Image|endswith: /vim\n  condition: sel",
        ),
    )]);
    assert!(hit(
        &s,
        &file("FileRenamed", "/etc/passwd").with("PreviousFolderPath", "/etc/x.tmp")
    ));
}

#[test]
fn dns_queries_match_remote_url() {
    let s = ok(&[(
        "r.yml",
        &rule(
            "category: dns_query",
            "  sel:\n    QueryName|endswith: .onion\n  condition: sel",
        ),
    )]);
    let q = OwnedEvent::new("DeviceEvents", 0)
        .with("ActionType", "DnsQueryResponse")
        .with("RemoteUrl", "abc.onion");
    assert!(hit(&s, &q));
    let (st, why) = outcome(&rule(
        "category: dns_query",
        "  sel:\n    Image|endswith: /curl\n  condition: sel",
    ));
    assert_eq!(st, Status::Unsupported);
    assert!(why.contains("carry no process"), "{why}");
}

#[test]
fn auditd_execve_arguments_are_command_line_tokens() {
    let s = ok(&[(
        "r.yml",
        &rule(
            "service: auditd",
            "  sel:\n    type: EXECVE\n    a0: getcap\n    a1: '-r'\n    a2: /\n  condition: sel",
        ),
    )]);
    assert!(hit(
        &s,
        &exec("/usr/sbin/getcap", "getcap -r / 2>/dev/null")
    ));
    assert!(!hit(&s, &exec("/usr/sbin/getcap", "getcap -r /usr")));
    assert!(!hit(&s, &exec("/usr/sbin/getcap", "getcap")));
    // Quoted arguments are unquoted.
    let s = ok(&[(
        "r.yml",
        &rule(
            "service: auditd",
            "  sel:\n    type: EXECVE\n    a2: 'echo hi'\n  condition: sel",
        ),
    )]);
    assert!(hit(&s, &exec("/bin/sh", "sh -c \"echo hi\"")));
}

#[test]
fn auditd_type_selects_the_target() {
    // A PATH selection runs on file events only, an EXECVE selection on process events only.
    let s = ok(&[(
        "r.yml",
        &rule(
            "service: auditd",
            "  p:\n    type: PATH\n    name: /etc/ld.so.preload\n  e:\n    type: EXECVE\n    a0: ldconfig\n  condition: 1 of them",
        ),
    )]);
    assert!(hit(&s, &file("FileModified", "/etc/ld.so.preload")));
    assert!(hit(&s, &exec("/sbin/ldconfig", "ldconfig")));
    assert!(!hit(&s, &exec("/etc/ld.so.preload", "/etc/ld.so.preload")));
    // nametype picks the ActionType.
    let s = ok(&[(
        "r.yml",
        &rule("service: auditd", "  p:\n    type: PATH\n    nametype: CREATE\n    name|startswith: /etc/systemd/system/\n  condition: p"),
    )]);
    assert!(hit(
        &s,
        &file("FileCreated", "/etc/systemd/system/x.service")
    ));
    assert!(!hit(
        &s,
        &file("FileModified", "/etc/systemd/system/x.service")
    ));
}

#[test]
fn auditd_syscall_records_map_to_the_events_that_carry_them() {
    let s = ok(&[(
        "r.yml",
        &rule("service: auditd", "  sel:\n    type: SYSCALL\n    SYSCALL: memfd_create\n    exe|endswith: /python3\n  condition: sel"),
    )]);
    let memfd = OwnedEvent::new("DeviceEvents", 0)
        .with("ActionType", "MemfdCreated")
        .with("InitiatingProcessFolderPath", "/usr/bin/python3");
    assert!(hit(&s, &memfd));
    assert!(!hit(&s, &exec("/usr/bin/python3", "python3")));
    // Without a syscall: any collected syscall of that program, exec included.
    let s = ok(&[(
        "r.yml",
        &rule(
            "service: auditd",
            "  sel:\n    type: SYSCALL\n    comm: split\n  condition: sel",
        ),
    )]);
    assert!(hit(
        &s,
        &exec("/usr/bin/split", "split -b 1M x").with("FileName", "split")
    ));
    // euid lives in AdditionalFields on exec events.
    let s = ok(&[(
        "r.yml",
        &rule(
            "service: auditd",
            "  sel:\n    type: SYSCALL\n    SYSCALL: execve\n    euid: 33\n  condition: sel",
        ),
    )]);
    let mut e = exec("/bin/sh", "sh");
    e.set_additional("euid", 33i64);
    assert!(hit(&s, &e));
}

#[test]
fn auditd_facts_vigil_lacks_are_unsupported_with_reasons() {
    let (st, why) = outcome(&rule(
        "service: auditd",
        "  sel:\n    type: SYSCALL\n    SYSCALL: umount2\n  condition: sel",
    ));
    assert_eq!(st, Status::Unsupported);
    assert!(
        why.starts_with("`SYSCALL: umount2`: no Vigil event carries this value"),
        "{why}"
    );
    let (st, why) = outcome(&rule(
        "service: auditd",
        "  sel:\n    type: USER_LOGIN\n  condition: sel",
    ));
    assert_eq!(st, Status::Unsupported);
    assert!(why.contains("user-space"), "{why}");
    let (st, why) = outcome(&rule(
        "service: auditd",
        "  sel:\n    key: susp\n  condition: sel",
    ));
    assert_eq!(st, Status::Unsupported);
    assert!(why.contains("field `key`"), "{why}");
}

/// Values of the first argument (`a0`) are looked for at the start of the command line's first
/// argument (quoted or not, after leading whitespace), even one character long: the rule is
/// behind the prefilter, and gives the naive evaluation's answers (which `hit` compares).
#[test]
fn first_argument_values_are_anchored_at_its_start() {
    let s = ok(&[(
        "r.yml",
        &rule(
            "service: auditd",
            "  sel:\n    type: EXECVE\n    a0:\n      - w\n      - id\n      - 'x y'\n  sel_re:\n    type: EXECVE\n    a0|re: '^[Ll]ast$'\n  sel_start:\n    type: EXECVE\n    a0|startswith: 'q'\n  condition: 1 of sel*",
        ),
    )]);
    assert!(s.unguarded().is_empty());
    let cases = [
        ("w", true),
        ("W -h", true),
        ("  w", true),
        ("\tw\t-h", true),
        ("\"w\"", true),
        ("\"w\" x", true),
        ("\"w x\"", false),
        ("\"x y\" z", true),
        ("x y", false),
        ("who", false),
        ("watch w", false),
        ("/usr/bin/w", false),
        ("id -u", true),
        ("idx", false),
        ("\"\\\"w\"", false),
        ("\"\\\\w\"", false),
        ("last", true),
        ("Last -n 5", true),
        ("LAST", false),
        ("lastb", false),
        ("qux", true),
        ("\"QUX\"", true),
        (" \"", false),
        ("", false),
        ("   ", false),
    ];
    for (cmd, want) in cases {
        assert_eq!(hit(&s, &exec("/usr/bin/x", cmd)), want, "{cmd:?}");
    }
}

#[test]
fn rare_auditd_syscalls_read_their_first_argument_as_auditd_writes_it() {
    let s = ok(&[(
        "r.yml",
        &rule(
            "service: auditd",
            "  sel:\n    type: SYSCALL\n    SYSCALL: personality\n    a0: 40000\n  condition: sel",
        ),
    )]);
    let ev = |a0: &str| {
        let mut e = OwnedEvent::new("DeviceEvents", 0)
            .with("ActionType", "PersonalityChanged")
            .with("InitiatingProcessFolderPath", "/usr/bin/setarch");
        e.set_additional("syscall", "personality");
        e.set_additional("a0", a0);
        e
    };
    assert!(hit(&s, &ev("40000")));
    assert!(!hit(&s, &ev("0")));
    // mknod and mknodat (what mkfifo calls) are both SpecialFileCreated: the rule about
    // creating special files sees either.
    let s = ok(&[(
        "r.yml",
        &rule(
            "service: auditd",
            "  sel:\n    type: SYSCALL\n    SYSCALL: mknod\n  condition: sel",
        ),
    )]);
    let node = OwnedEvent::new("DeviceEvents", 0).with("ActionType", "SpecialFileCreated");
    assert!(hit(&s, &node));
}

const ADD_USER: &str = "`type: ADD_USER`: account management records are not collected by Vigil";

/// An auditd rule whose condition is `cond` over a useradd SYSCALL selection, an ADD_USER
/// selection (a record Vigil never collects) and a ptrace SYSCALL selection.
fn account_rule(cond: &str) -> String {
    rule(
        "service: auditd",
        &format!(
            "  sel_exe:\n    type: SYSCALL\n    exe|endswith: /useradd\n  sel_add:\n    type: ADD_USER\n  trace:\n    type: SYSCALL\n    SYSCALL: ptrace\n  condition: {cond}"
        ),
    )
}

fn ptrace(exe: &str) -> OwnedEvent {
    OwnedEvent::new("DeviceEvents", 0)
        .with("ActionType", "ProcessPtraceAttach")
        .with("InitiatingProcessFolderPath", exe)
}

#[test]
fn values_vigil_never_collects_are_never_true_in_one_branch() {
    let text = account_rule("1 of sel_*");
    let (st, why) = outcome(&text);
    assert_eq!(st, Status::Loaded, "{why}");
    assert_eq!(
        why,
        "loaded; never true here: `type: ADD_USER` (account management records are not collected by Vigil)"
    );
    let s = ok(&[("r.yml", &text)]);
    assert!(hit(&s, &exec("/usr/sbin/useradd", "useradd -m bob")));
    assert!(!hit(&s, &exec("/usr/bin/id", "id bob")));
    // Any collected syscall of useradd, as without the ADD_USER selection.
    assert!(hit(&s, &ptrace("/usr/sbin/useradd")));
    assert!(!hit(&s, &ptrace("/usr/bin/gdb")));
    assert!(!hit(&s, &file("FileModified", "/etc/passwd")));
    assert!(!hit(
        &s,
        &OwnedEvent::new("DeviceEvents", 0).with("ActionType", "UserAccountCreated")
    ));
    // In a list of values, the others still decide the test.
    let (st, why) = outcome(&rule(
        "service: auditd",
        "  sel:\n    type: [SYSCALL, ADD_USER]\n    exe|endswith: /useradd\n  condition: sel",
    ));
    assert_eq!(st, Status::Loaded, "{why}");
    assert!(why.contains("`type: ADD_USER`"), "{why}");
}

#[test]
fn a_rule_that_needs_a_value_vigil_never_collects_stays_unsupported() {
    for cond in [
        "sel_add",
        "sel_exe and sel_add",
        "all of sel_*",
        // Removing the only positive evidence must not match everything.
        "not sel_add",
        "trace and not sel_add or not sel_add",
    ] {
        assert_eq!(
            outcome(&account_rule(cond)),
            (Status::Unsupported, ADD_USER.to_string()),
            "{cond}"
        );
    }
    let (st, why) = outcome(&rule(
        "service: auditd",
        "  a:\n    type: USER_LOGIN\n  b:\n    type: ADD_USER\n  condition: a or b",
    ));
    assert_eq!(st, Status::Unsupported);
    assert!(
        why.starts_with("`type: USER_LOGIN`: auditd user-space"),
        "{why}"
    );
}

#[test]
fn a_never_true_test_under_not_keeps_the_rest_of_the_rule() {
    // `not` of a never-true selection is true: the rule is its other evidence.
    let s = ok(&[("r.yml", &account_rule("sel_exe and not sel_add"))]);
    assert!(hit(&s, &exec("/usr/sbin/useradd", "useradd bob")));
    assert!(!hit(&s, &exec("/usr/bin/id", "id")));
    // A branch that is true on every ptrace event by itself is the rule's own choice.
    let text = account_rule("trace or sel_add");
    assert_eq!(outcome(&text).0, Status::Loaded);
    let s = ok(&[("r.yml", &text)]);
    assert!(hit(&s, &ptrace("/usr/bin/gdb")));
    assert!(!hit(&s, &exec("/usr/sbin/useradd", "useradd bob")));
}
