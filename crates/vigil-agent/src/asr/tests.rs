//! Unit tests of the rule table, the configuration checks and the rows of kernel records.

use super::*;
use crate::tamper::kernel::Actor;

#[test]
fn records_become_rows_by_mode() {
    let cfg = AsrConfig {
        server_shell: AsrMode::Warn,
        world_writable_exec: AsrMode::Block,
        ..Default::default()
    };
    let rec = |rule, killed| GuardRecord::Asr {
        boot_ns: 1,
        rule,
        actor: Actor {
            pid: 5,
            tid: 5,
            uid: 33,
            ppid: 4,
            comm: "sh".into(),
            parent_comm: "nginx".into(),
        },
        killed,
        target: 0,
        request: 0,
        path: "/bin/sh".into(),
        op: AsrOp::Exec,
        file: None,
        writer_comm: String::new(),
    };
    let (row, pid) = row(&cfg, &rec(1, false)).unwrap();
    assert_eq!(pid, Some(5));
    let extra = row.extra().unwrap().to_json();
    assert!(extra.contains(r#""Action":"Warned""#), "{extra}");
    assert_eq!(row.action_type(), "AsrServerShellAudited");
    assert!(
        !extra.contains("MdeActionType"),
        "the schema lists ASR names: {extra}"
    );
    assert_eq!(
        row.get_str(Col::InitiatingProcessParentFileName),
        Some("nginx")
    );
    let (row, _) = row_of(&cfg, &rec(0, true));
    let extra = row.extra().unwrap().to_json();
    assert_eq!(row.action_type(), "AsrUntrustedExecutableBlocked");
    assert!(extra.contains(r#""Operation":"Exec""#), "{extra}");
    assert!(row_opt(&cfg, &rec(12, true)).is_none(), "unknown rule");
    // A downloaded script read by its interpreter: killed at the call, with its writer.
    let cfg = AsrConfig {
        downloaded_exec: AsrMode::Block,
        ..Default::default()
    };
    let script = GuardRecord::Asr {
        boot_ns: 1,
        rule: 8,
        actor: Actor {
            pid: 7,
            comm: "get.sh".into(),
            ..Default::default()
        },
        killed: true,
        target: 6,
        request: 0,
        path: "get.sh".into(),
        op: AsrOp::ScriptRead,
        file: Some((8, 42)),
        writer_comm: "curl".into(),
    };
    let (row, _) = row_of(&cfg, &script);
    let extra = row.extra().unwrap().to_json();
    assert_eq!(row.action_type(), "AsrDownloadedExecutableBlocked");
    for want in [
        r#""Operation":"InterpreterRead""#,
        r#""Enforcement":"KilledAtCall""#,
        r#""WriterProcessName":"curl""#,
    ] {
        assert!(extra.contains(want), "{want} in {extra}");
    }
}

fn row_of(cfg: &AsrConfig, r: &GuardRecord) -> (Row, Option<u32>) {
    row(cfg, r).unwrap()
}

fn row_opt(cfg: &AsrConfig, r: &GuardRecord) -> Option<(Row, Option<u32>)> {
    row(cfg, r)
}

#[test]
fn names_longer_than_comm_are_refused() {
    let bad = AsrConfig {
        servers: vec!["a-very-long-server-name".into()],
        ..Default::default()
    };
    assert!(bad.validate().unwrap_err().contains("asr.servers"));
    let paths = AsrConfig {
        credential_allow: vec!["/usr/local/sbin/audit-tool".into()],
        persistence_allow: vec!["/opt/cm/bin/agent".into(), "puppet".into()],
        ..Default::default()
    };
    assert!(paths.validate().is_ok(), "program paths in the allow lists");
    let slash_name = AsrConfig {
        persistence_allow: vec!["bin/agent".into()],
        servers: Vec::new(),
        ..Default::default()
    };
    assert!(slash_name
        .validate()
        .unwrap_err()
        .contains("absolute program path"));
    let server_path = AsrConfig {
        servers: vec!["/usr/sbin/nginx".into()],
        ..Default::default()
    };
    assert!(server_path.validate().unwrap_err().contains("asr.servers"));
    assert!(!AsrConfig::default().any_kernel_rule());
    assert!(AsrConfig::default().validate().is_ok());
    let long = AsrConfig {
        preload_paths: vec![PathBuf::from(format!("/{}", "x".repeat(70)))],
        ..Default::default()
    };
    assert!(long.validate().unwrap_err().contains("asr.preload_paths"));
    let relative = AsrConfig {
        persistence_paths: vec!["etc/cron.d".into()],
        ..Default::default()
    };
    assert!(relative
        .validate()
        .unwrap_err()
        .contains("asr.persistence_paths"));
    let zero = AsrConfig {
        ransomware_threshold: 0,
        ..Default::default()
    };
    assert!(zero
        .validate()
        .unwrap_err()
        .contains("ransomware_threshold"));
}

#[test]
fn every_rule_has_a_key_a_mode_and_programs_of_rules_that_are_off_are_skipped() {
    let all_block = AsrConfig {
        world_writable_exec: AsrMode::Block,
        server_shell: AsrMode::Block,
        document_interpreter: AsrMode::Block,
        ptrace: AsrMode::Block,
        preload_write: AsrMode::Block,
        module_load: AsrMode::Block,
        credential_read: AsrMode::Block,
        persistence_write: AsrMode::Block,
        downloaded_exec: AsrMode::Block,
        ransomware: AsrMode::Block,
        ransomware_entropy: true,
        ..Default::default()
    };
    for (i, r) in RULES.iter().enumerate() {
        assert_eq!(usize::from(r.index), i, "{}", r.key);
        assert_eq!(all_block.mode(r.key), AsrMode::Block, "{}", r.key);
        assert_eq!(rule(r.key).map(|x| x.name), Some(r.name));
    }
    assert!(all_block.skipped_programs().is_empty());
    let skipped = AsrConfig::default().skipped_programs();
    for p in [
        "vg_sys_enter",
        "vg_exec",
        "vg_ptrace",
        "vg_rename",
        "vg_openat_exit",
    ] {
        assert!(skipped.contains(&p), "{p} {skipped:?}");
    }
    assert!(!skipped.contains(&"vg_openat") && !skipped.contains(&"vg_signal"));
    let ransomware = AsrConfig {
        ransomware: AsrMode::Audit,
        ..Default::default()
    };
    let skipped = ransomware.skipped_programs();
    assert!(!skipped.contains(&"vg_rename") && !skipped.contains(&"vg_openat_exit"));
    assert!(skipped.contains(&"vg_write") && skipped.contains(&"vg_pwrite64"));
    let entropy = AsrConfig {
        ransomware_entropy: true,
        ..ransomware
    };
    assert!(!entropy.skipped_programs().contains(&"vg_write"));
    assert!(all_block.any_file_rule() && !AsrConfig::default().any_file_rule());
}
