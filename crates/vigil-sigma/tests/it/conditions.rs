//! Every condition form, and detection structure (maps, lists, multi-document files).

use vigil_sigma::{OwnedEvent, Status};

use crate::support::*;

const SEARCHES: &str = "  sel_a:\n    CommandLine|contains: alpha\n  sel_b:\n    CommandLine|contains: beta\n  filter_c:\n    CommandLine|contains: gamma\n  _private:\n    CommandLine|contains: delta\n";

fn with_condition(cond: &str) -> vigil_sigma::RuleSet {
    proc_set(&format!("{SEARCHES}  condition: {cond}"))
}

fn cmd(c: &str) -> OwnedEvent {
    exec("/bin/x", c)
}

#[test]
fn and_or_not_and_parentheses() {
    let s = with_condition("sel_a and sel_b");
    assert!(hit(&s, &cmd("alpha beta")));
    assert!(!hit(&s, &cmd("alpha")));
    let s = with_condition("sel_a or sel_b");
    assert!(hit(&s, &cmd("beta")));
    assert!(!hit(&s, &cmd("gamma")));
    let s = with_condition("sel_a and not filter_c");
    assert!(hit(&s, &cmd("alpha")));
    assert!(!hit(&s, &cmd("alpha gamma")));
    let s = with_condition("not sel_a");
    assert!(hit(&s, &cmd("zzz")));
    assert!(!hit(&s, &cmd("alpha")));
    // `and` binds tighter than `or`.
    let s = with_condition("sel_a or sel_b and filter_c");
    assert!(hit(&s, &cmd("alpha")));
    assert!(!hit(&s, &cmd("beta")));
    let s = with_condition("(sel_a or sel_b) and filter_c");
    assert!(!hit(&s, &cmd("alpha")));
    assert!(hit(&s, &cmd("beta gamma")));
}

#[test]
fn quantifiers_over_patterns_and_them() {
    let s = with_condition("1 of sel_*");
    assert!(hit(&s, &cmd("beta")));
    assert!(!hit(&s, &cmd("gamma")));
    let s = with_condition("any of sel_*");
    assert!(hit(&s, &cmd("alpha")));
    let s = with_condition("all of sel_*");
    assert!(hit(&s, &cmd("alpha beta")));
    assert!(!hit(&s, &cmd("alpha")));
    let s = with_condition("2 of them");
    assert!(hit(&s, &cmd("alpha gamma")));
    assert!(
        !hit(&s, &cmd("alpha delta")),
        "`them` leaves out _-prefixed identifiers"
    );
    let s = with_condition("1 of them");
    assert!(!hit(&s, &cmd("delta")));
    let s = with_condition("all of them");
    assert!(hit(&s, &cmd("alpha beta gamma")));
    assert!(!hit(&s, &cmd("alpha beta")));
    let s = with_condition("sel_a and not 1 of filter_*");
    assert!(hit(&s, &cmd("alpha")));
    assert!(!hit(&s, &cmd("alpha gamma")));
}

#[test]
fn condition_lists_are_alternatives() {
    let s = proc_set(&format!("{SEARCHES}  condition:\n    - sel_a\n    - sel_b"));
    assert!(hit(&s, &cmd("alpha")));
    assert!(hit(&s, &cmd("beta")));
    assert!(!hit(&s, &cmd("gamma")));
}

#[test]
fn maps_are_and_lists_of_maps_are_or() {
    let s = proc_set(
        "  sel:\n    Image|endswith: /curl\n    CommandLine|contains: '-o /tmp'\n  alt:\n    - Image|endswith: /wget\n    - CommandLine|contains: tftp\n  condition: sel or alt",
    );
    assert!(hit(&s, &exec("/usr/bin/curl", "curl -o /tmp/x")));
    assert!(!hit(&s, &exec("/usr/bin/curl", "curl -o /var/x")));
    assert!(!hit(&s, &exec("/usr/bin/true", "curl -o /tmp/x")));
    assert!(hit(&s, &exec("/usr/bin/wget", "wget x")));
    assert!(hit(&s, &exec("/usr/bin/x", "tftp get")));
}

#[test]
fn multi_document_global_collections() {
    let text = "action: global\nlogsource: {product: linux, category: process_creation}\ndetection:\n  condition: sel\n---\ntitle: one\nid: one\ndetection:\n  sel:\n    Image|endswith: /a\n---\ntitle: two\nid: two\ndetection:\n  sel:\n    Image|endswith: /b\n";
    let s = ok(&[("c.yml", text)]);
    assert_eq!(
        raised(&s, &[exec("/x/a", ""), exec("/x/b", "")]),
        vec![vec!["one"], vec!["two"]]
    );
}

#[test]
fn several_rules_raise_together_in_rule_order() {
    let s = ok(&[
        (
            "a.yml",
            &proc_rule(
                "a",
                "  sel:\n    CommandLine|contains: curl\n  condition: sel",
            ),
        ),
        (
            "b.yml",
            &proc_rule("b", "  sel:\n    Image|endswith: /curl\n  condition: sel"),
        ),
        (
            "c.yml",
            &proc_rule("c", "  sel:\n    CommandLine|re: 'c.rl'\n  condition: sel"),
        ),
        (
            "d.yml",
            &proc_rule(
                "d",
                "  sel:\n    CommandLine|contains: wget\n  condition: sel",
            ),
        ),
    ]);
    assert_eq!(
        raised(&s, &[exec("/usr/bin/curl", "curl x")])[0],
        vec!["a", "b", "c"]
    );
    // Other tables and ActionTypes are not dispatched to process rules.
    let file = OwnedEvent::new("DeviceFileEvents", 0)
        .with("ActionType", "FileCreated")
        .with("FolderPath", "/tmp/curl");
    assert!(raised(&s, &[file])[0].is_empty());
    let term = exec("/usr/bin/curl", "curl x").with("ActionType", "ProcessTerminated");
    assert!(raised(&s, &[term])[0].is_empty());
}

#[test]
fn unsupported_aggregations_say_what_to_use() {
    let (st, why) = outcome(&proc_rule(
        "r",
        "  sel:\n    Image: /x\n  timeframe: 5m\n  condition: sel | count() > 5",
    ));
    assert_eq!(st, Status::Unsupported);
    assert!(why.contains("use a correlation rule"), "{why}");
}
