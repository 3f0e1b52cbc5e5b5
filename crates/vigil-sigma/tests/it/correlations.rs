//! Correlation rules and Sigma filters across documents and files.

use vigil_sigma::{CorrelationLimits, Evaluator, OwnedEvent, Status};

use crate::support::*;

const BASE: &str = "title: recon\nid: recon-id\nname: recon\nlogsource: {product: linux, category: process_creation}\ndetection:\n  sel:\n    Image|endswith:\n      - /whoami\n      - /id\n      - /uname\n  condition: sel\n";

fn at(e: OwnedEvent, ms: i64, user: &str) -> OwnedEvent {
    let mut e = e.with("AccountName", user).with("DeviceName", "host1");
    e.set_timestamp_ms(ms);
    e
}

fn corr(body: &str) -> String {
    format!("title: c\nid: c-id\ncorrelation:\n{body}\nlevel: high\n")
}

#[test]
fn event_count_per_group_in_a_window() {
    let c = corr("  type: event_count\n  rules: [recon]\n  group-by: [User]\n  timespan: 1m\n  condition: {gte: 3}");
    let s = ok(&[("base.yml", BASE), ("c.yml", &c)]);
    let r = raised(
        &s,
        &[
            at(exec("/usr/bin/id", "id"), 0, "bob"),
            at(exec("/usr/bin/whoami", "whoami"), 1_000, "bob"),
            at(exec("/usr/bin/id", "id"), 2_000, "alice"),
            at(exec("/usr/bin/uname", "uname -a"), 3_000, "bob"),
        ],
    );
    // The base rule feeds the correlation only (generate is false by default).
    assert_eq!(
        r,
        vec![
            vec![] as Vec<String>,
            vec![],
            vec![],
            vec!["c-id".to_string()]
        ]
    );
    let mut ev = Evaluator::new(&s);
    let mut out = Vec::new();
    for (i, e) in [
        at(exec("/usr/bin/id", "id"), 0, "bob"),
        at(exec("/usr/bin/id", "id"), 10, "bob"),
        at(exec("/usr/bin/id", "id"), 20, "bob"),
    ]
    .iter()
    .enumerate()
    {
        out.clear();
        ev.evaluate(e, &mut out);
        if i == 2 {
            let hit = out[0].correlation.as_ref().expect("a correlation hit");
            assert_eq!(hit.group, "User=bob");
            assert_eq!(hit.count, 3);
        }
    }
    // Outside the window nothing fires.
    let r = raised(
        &s,
        &[
            at(exec("/usr/bin/id", "id"), 0, "bob"),
            at(exec("/usr/bin/id", "id"), 30_000, "bob"),
            at(exec("/usr/bin/id", "id"), 90_001, "bob"),
        ],
    );
    assert!(r.iter().all(Vec::is_empty), "{r:?}");
}

#[test]
fn generate_true_keeps_the_base_matches() {
    let c = corr("  type: event_count\n  rules: [recon-id]\n  group-by: [User]\n  timespan: 1m\n  condition: {gte: 2}\n  generate: true");
    let s = ok(&[("base.yml", BASE), ("c.yml", &c)]);
    let r = raised(
        &s,
        &[
            at(exec("/usr/bin/id", "id"), 0, "bob"),
            at(exec("/usr/bin/id", "id"), 1, "bob"),
        ],
    );
    assert_eq!(r, vec![vec!["recon-id"], vec!["recon-id", "c-id"]]);
}

#[test]
fn value_count_counts_distinct_values() {
    let c = corr("  type: value_count\n  rules: [recon]\n  group-by: [Computer]\n  timespan: 5m\n  condition: {field: User, gt: 2}");
    let s = ok(&[("base.yml", BASE), ("c.yml", &c)]);
    let r = raised(
        &s,
        &[
            at(exec("/usr/bin/id", "id"), 0, "a"),
            at(exec("/usr/bin/id", "id"), 1, "a"),
            at(exec("/usr/bin/id", "id"), 2, "b"),
            at(exec("/usr/bin/id", "id"), 3, "c"),
        ],
    );
    assert_eq!(r[3], vec!["c-id"]);
    assert!(r[..3].iter().all(Vec::is_empty));
}

const TWO: &str = "title: download\nname: download\nlogsource: {product: linux, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: /curl\n  condition: sel\n---\ntitle: chmod\nname: make_exec\nlogsource: {product: linux, category: process_creation}\ndetection:\n  sel:\n    CommandLine|contains: chmod +x\n  condition: sel\n";

#[test]
fn temporal_and_temporal_ordered() {
    let t = corr(
        "  type: temporal\n  rules: [download, make_exec]\n  group-by: [User]\n  timespan: 10s",
    );
    let s = ok(&[("two.yml", TWO), ("c.yml", &t)]);
    let r = raised(
        &s,
        &[
            at(exec("/bin/chmod", "chmod +x /tmp/a"), 0, "u"),
            at(exec("/usr/bin/curl", "curl -o /tmp/a"), 1_000, "u"),
        ],
    );
    assert_eq!(r[1], vec!["c-id"], "any order");
    let o = corr("  type: temporal_ordered\n  rules: [download, make_exec]\n  group-by: [User]\n  timespan: 10s");
    let s = ok(&[("two.yml", TWO), ("c.yml", &o)]);
    let r = raised(
        &s,
        &[
            at(exec("/bin/chmod", "chmod +x /tmp/a"), 0, "u"),
            at(exec("/usr/bin/curl", "curl -o /tmp/a"), 1_000, "u"),
        ],
    );
    assert!(r.iter().all(Vec::is_empty), "wrong order: {r:?}");
    let r = raised(
        &s,
        &[
            at(exec("/usr/bin/curl", "curl -o /tmp/a"), 0, "u"),
            at(exec("/bin/chmod", "chmod +x /tmp/a"), 1_000, "other"),
            at(exec("/bin/chmod", "chmod +x /tmp/a"), 2_000, "u"),
        ],
    );
    assert_eq!(r[2], vec!["c-id"]);
    assert!(r[1].is_empty(), "groups are separate");
}

#[test]
fn aliases_group_different_fields() {
    let text = "title: conn\nname: conn\nlogsource: {product: linux, category: network_connection}\ndetection:\n  sel:\n    DestinationPort: 4444\n  condition: sel\n---\ntitle: shell\nname: shell\nlogsource: {product: linux, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: /sh\n  condition: sel\n---\ntitle: c\nid: c-id\ncorrelation:\n  type: temporal\n  rules: [conn, shell]\n  group-by: [pid]\n  timespan: 1m\n  aliases:\n    pid:\n      conn: ProcessId\n      shell: ParentProcessId\n";
    let s = ok(&[("a.yml", text)]);
    let conn = OwnedEvent::new("DeviceNetworkEvents", 0)
        .with("ActionType", "ConnectionSuccess")
        .with("RemotePort", 4444i64)
        .with("InitiatingProcessId", 77i64);
    let mut shell = exec("/bin/sh", "sh").with("InitiatingProcessId", 77i64);
    shell.set_timestamp_ms(10);
    let mut other = exec("/bin/sh", "sh").with("InitiatingProcessId", 78i64);
    other.set_timestamp_ms(5);
    let r = raised(&s, &[conn, other, shell]);
    assert_eq!(
        r,
        vec![vec![] as Vec<String>, vec![], vec!["c-id".to_string()]]
    );
}

#[test]
fn correlation_load_errors() {
    let (_, rep) = load(&[("c.yml", &corr("  type: event_count\n  rules: [nope]\n  group-by: [User]\n  timespan: 1m\n  condition: {gt: 1}"))]);
    assert_eq!(rep.files[0].status, Status::Error);
    assert_eq!(
        rep.files[0].reason,
        "correlation references unknown rule `nope`"
    );
    let unsup = "title: u\nname: u\nlogsource: {product: linux, service: sshd}\ndetection:\n  sel: [x]\n  condition: sel\n";
    let (_, rep) = load(&[
        ("u.yml", unsup),
        ("c.yml", &corr("  type: event_count\n  rules: [u]\n  group-by: [User]\n  timespan: 1m\n  condition: {gt: 1}")),
    ]);
    assert_eq!(rep.files[1].status, Status::Unsupported);
    assert!(
        rep.files[1]
            .reason
            .starts_with("references rule `u`, which is unsupported"),
        "{}",
        rep.files[1].reason
    );
    let (_, rep) = load(&[
        ("base.yml", BASE),
        ("c.yml", &corr("  type: event_count\n  rules: [recon]\n  group-by: [Nope]\n  timespan: 1m\n  condition: {gt: 1}")),
    ]);
    assert_eq!(rep.files[1].status, Status::Unsupported);
    assert!(
        rep.files[1].reason.contains("group-by `Nope`"),
        "{}",
        rep.files[1].reason
    );
}

#[test]
fn chained_correlations_fire_the_outer_one() {
    let inner = "title: inner\nid: inner\nname: inner\ncorrelation:\n  type: event_count\n  rules: [recon]\n  group-by: [User]\n  timespan: 1m\n  condition: {gte: 2}\n";
    let outer = corr("  type: event_count\n  rules: [inner]\n  group-by: [User]\n  timespan: 1h\n  condition: {gte: 2}");
    let s = ok(&[("base.yml", BASE), ("inner.yml", inner), ("c.yml", &outer)]);
    let evs: Vec<OwnedEvent> = (0..4)
        .map(|i| at(exec("/usr/bin/id", "id"), i, "bob"))
        .collect();
    let r = raised(&s, &evs);
    assert_eq!(
        r,
        vec![
            vec![] as Vec<String>,
            vec![],
            vec![],
            vec!["c-id".to_string()]
        ]
    );
}

#[test]
fn group_cap_is_enforced_and_counted() {
    let c = corr("  type: event_count\n  rules: [recon]\n  group-by: [User]\n  timespan: 1h\n  condition: {gte: 5}");
    let s = ok(&[("base.yml", BASE), ("c.yml", &c)]);
    let mut ev = Evaluator::with_limits(&s, CorrelationLimits { max_groups: 100 });
    let mut out = Vec::new();
    for i in 0..1_000 {
        ev.evaluate(
            &at(exec("/usr/bin/id", "id"), i, &format!("user{i}")),
            &mut out,
        );
    }
    let st = ev.correlation_stats();
    assert!(st.groups <= 100, "{st:?}");
    assert!(st.evicted >= 900, "{st:?}");
}

#[test]
fn filters_exclude_matches_of_named_rules() {
    let filter = "title: not for admins\nlogsource: {product: linux, category: process_creation}\nfilter:\n  rules: [recon-id]\n  selection:\n    User|startswith: adm_\n  condition: not selection\n";
    let s = ok(&[("base.yml", BASE), ("f.yml", filter)]);
    let r = raised(
        &s,
        &[
            at(exec("/usr/bin/id", "id"), 0, "adm_x"),
            at(exec("/usr/bin/id", "id"), 0, "bob"),
        ],
    );
    assert_eq!(r, vec![vec![] as Vec<String>, vec!["recon-id".to_string()]]);
    let bad = "title: f\nlogsource: {product: linux, category: process_creation}\nfilter:\n  rules: [nope]\n  selection: {User: x}\n  condition: not selection\n";
    let (_, rep) = load(&[("base.yml", BASE), ("f.yml", bad)]);
    assert_eq!(rep.files[1].status, Status::Error);
    assert_eq!(rep.files[1].reason, "filter references unknown rule `nope`");
    let other_ls = "title: f\nlogsource: {product: linux, category: file_event}\nfilter:\n  rules: [recon]\n  selection: {TargetFilename: x}\n  condition: not selection\n";
    let (_, rep) = load(&[("base.yml", BASE), ("f.yml", other_ls)]);
    assert_eq!(rep.files[1].status, Status::Error);
    assert!(
        rep.files[1].reason.contains("does not match log source"),
        "{}",
        rep.files[1].reason
    );
}
