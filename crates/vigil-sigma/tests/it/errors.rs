//! Bad input: every problem is reported with what and where, and never panics.

use vigil_sigma::Status;

use crate::support::*;

fn error(text: &str) -> String {
    let (st, why) = outcome(text);
    assert_eq!(st, Status::Error, "expected an error, got {st:?}: {why}");
    why
}

fn unsupported(text: &str) -> String {
    let (st, why) = outcome(text);
    assert_eq!(
        st,
        Status::Unsupported,
        "expected unsupported, got {st:?}: {why}"
    );
    why
}

#[test]
fn malformed_yaml() {
    let why = error("title: x\ndetection: [unclosed\n");
    assert!(why.starts_with("malformed yaml:"), "{why}");
    let why = error("- just\n- a list\n");
    assert_eq!(why, "a sigma document must be a yaml map");
    let why = error("");
    assert_eq!(why, "file holds no yaml document");
}

#[test]
fn unknown_modifier_names_search_field_and_modifier() {
    let why = error(&proc_rule(
        "r",
        "  sel:\n    CommandLine|contians: x\n  condition: sel",
    ));
    assert_eq!(
        why,
        "search `sel`: field `CommandLine|contians`: unknown modifier `contians`"
    );
}

#[test]
fn bad_regex() {
    let why = error(&proc_rule(
        "r",
        "  sel:\n    CommandLine|re: 'a(b'\n  condition: sel",
    ));
    assert!(
        why.starts_with("search `sel`: field `CommandLine|re`: bad regex `a(b`"),
        "{why}"
    );
    // Look-around is outside Sigma's regex subset and outside the engine: unsupported.
    let why = unsupported(&proc_rule(
        "r",
        "  sel:\n    CommandLine|re: 'a(?!b)'\n  condition: sel",
    ));
    assert!(why.contains("does not support"), "{why}");
}

#[test]
fn bad_cidr_and_numbers() {
    let why = error(
        "title: n\nlogsource: {product: linux, category: network_connection}\ndetection:\n  sel:\n    DestinationIp|cidr: 10.0.0.0/40\n  condition: sel\n",
    );
    assert_eq!(
        why,
        "search `sel`: field `DestinationIp|cidr`: bad cidr `10.0.0.0/40`"
    );
    let why = error(
        "title: n\nlogsource: {product: linux, category: network_connection}\ndetection:\n  sel:\n    DestinationPort|gt: many\n  condition: sel\n",
    );
    assert_eq!(
        why,
        "search `sel`: field `DestinationPort|gt`: `many` is not a number"
    );
}

#[test]
fn undefined_selection_in_condition() {
    let why = error(&proc_rule(
        "r",
        "  sel:\n    Image: /x\n  condition: sel and filter",
    ));
    assert_eq!(
        why,
        "condition references undefined search identifier `filter`"
    );
    let why = error(&proc_rule(
        "r",
        "  sel:\n    Image: /x\n  condition: 1 of filter_*",
    ));
    assert_eq!(
        why,
        "condition quantifier over `filter_*` matches no search identifier"
    );
}

#[test]
fn condition_syntax_errors() {
    let why = error(&proc_rule(
        "r",
        "  sel:\n    Image: /x\n  condition: sel and (sel or",
    ));
    assert_eq!(
        why,
        "condition `sel and (sel or`: expected a search identifier at the end"
    );
    let why = error(&proc_rule(
        "r",
        "  sel:\n    Image: /x\n  condition: sel sel",
    ));
    assert_eq!(
        why,
        "condition `sel sel`: unexpected trailing input at offset 4"
    );
    let why = error(&proc_rule(
        "r",
        "  sel:\n    Image: /x\n  condition: sel && sel",
    ));
    assert!(why.contains("unexpected character `&`"), "{why}");
    let why = error(&proc_rule("r", "  sel:\n    Image: /x\n"));
    assert_eq!(why, "`detection` has no `condition`");
}

#[test]
fn bad_modifier_combinations_and_values() {
    let why = error(&proc_rule(
        "r",
        "  sel:\n    Image|contains|endswith: x\n  condition: sel",
    ));
    assert!(why.contains("modifier `endswith` conflicts"), "{why}");
    let why = error(&proc_rule(
        "r",
        "  sel:\n    Image|exists: maybe\n  condition: sel",
    ));
    assert!(why.contains("`exists` takes one boolean"), "{why}");
    let why = error(&proc_rule(
        "r",
        "  sel:\n    Image|base64: 'a*'\n  condition: sel",
    ));
    assert!(
        why.contains("base64 cannot encode a value with wildcards"),
        "{why}"
    );
    let why = error(&proc_rule(
        "r",
        "  sel:\n    Image:\n      nested: map\n  condition: sel",
    ));
    assert!(why.contains("a value must be a scalar"), "{why}");
}

#[test]
fn unknown_fields_and_log_sources_are_unsupported_with_the_name() {
    let why = unsupported(&proc_rule(
        "r",
        "  sel:\n    EventID: 4688\n  condition: sel",
    ));
    assert_eq!(
        why,
        "search `sel`: field `EventID` is not mapped for log source linux/process_creation"
    );
    let why = unsupported("title: x\nlogsource: {product: linux, category: xyz}\ndetection:\n  sel: {a: 1}\n  condition: sel\n");
    assert_eq!(why, "log source linux/xyz is not collected by Vigil");
    let why = unsupported("title: x\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel: {Image: x}\n  condition: sel\n");
    assert!(
        why.starts_with("log source windows/process_creation is not collected by Vigil"),
        "{why}"
    );
}

#[test]
fn duplicate_ids_are_errors_on_the_second_file() {
    let r = proc_rule("same", "  sel:\n    Image: /x\n  condition: sel");
    let (_, report) = load(&[("a.yml", &r), ("b.yml", &r)]);
    assert_eq!(report.files[0].status, Status::Loaded);
    assert_eq!(report.files[1].status, Status::Error);
    assert_eq!(
        report.files[1].reason,
        "duplicate rule id `same` (first in a.yml)"
    );
}

#[test]
fn one_bad_document_of_several_is_named() {
    let text = format!(
        "{}---\ntitle: second\nlogsource: {{product: linux, category: process_creation}}\ndetection:\n  sel: {{Image|bad: x}}\n  condition: sel\n",
        proc_rule("first", "  sel:\n    Image: /x\n  condition: sel")
    );
    let why = error(&text);
    assert_eq!(
        why,
        "document 2 (second): search `sel`: field `Image|bad`: unknown modifier `bad`"
    );
}
