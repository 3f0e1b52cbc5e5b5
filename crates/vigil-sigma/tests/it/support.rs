//! Helpers: build rule sets from YAML text and events from columns.

use std::collections::HashMap;

use vigil_sigma::{Detection, Evaluator, LoadReport, Loader, Mapping, OwnedEvent, RuleSet, Status};

pub fn mapping() -> &'static Mapping {
    use std::sync::OnceLock;
    static M: OnceLock<Mapping> = OnceLock::new();
    M.get_or_init(Mapping::linux)
}

/// Load files (name, text) with placeholders.
pub fn load_with(
    files: &[(&str, &str)],
    ph: HashMap<String, Vec<String>>,
) -> (RuleSet, LoadReport) {
    let mut l = Loader::new(mapping()).placeholders(ph);
    for (p, t) in files {
        l.add_source(*p, *t);
    }
    l.build()
}

pub fn load(files: &[(&str, &str)]) -> (RuleSet, LoadReport) {
    load_with(files, HashMap::new())
}

/// Load files that must all load.
pub fn ok(files: &[(&str, &str)]) -> RuleSet {
    let (set, report) = load(files);
    for f in &report.files {
        assert_eq!(f.status, Status::Loaded, "{}: {}", f.path, f.reason);
    }
    set
}

/// The (status, reason) of loading one file.
pub fn outcome(text: &str) -> (Status, String) {
    let (_, report) = load(&[("rule.yml", text)]);
    let f = &report.files[0];
    (f.status, f.reason.clone())
}

/// A process_creation rule with the given detection body (indented by 2).
pub fn proc_rule(id: &str, detection: &str) -> String {
    format!(
        "title: {id}\nid: {id}\nlogsource: {{product: linux, category: process_creation}}\ndetection:\n{detection}\nlevel: high\n"
    )
}

/// A single-rule set from a process_creation detection body.
pub fn proc_set(detection: &str) -> RuleSet {
    ok(&[("r.yml", &proc_rule("r", detection))])
}

/// A ProcessCreated event.
pub fn exec(image: &str, cmd: &str) -> OwnedEvent {
    OwnedEvent::new("DeviceProcessEvents", 0)
        .with("ActionType", "ProcessCreated")
        .with("FolderPath", image)
        .with("ProcessCommandLine", cmd)
}

/// Ids raised by each event in turn (one evaluator for all), both by the indexed and the
/// naive evaluation, which must agree.
pub fn raised(set: &RuleSet, events: &[OwnedEvent]) -> Vec<Vec<String>> {
    let mut a = Evaluator::new(set);
    let mut b = Evaluator::new(set);
    let mut out = Vec::new();
    for e in events {
        let mut da: Vec<Detection> = Vec::new();
        let mut db: Vec<Detection> = Vec::new();
        a.evaluate(e, &mut da);
        b.evaluate_naive(e, &mut db);
        assert_eq!(da, db, "indexed and naive evaluation disagree on {e:?}");
        out.push(
            da.iter()
                .map(|d| set.rule(d.rule).map(|r| r.id.clone()).unwrap_or_default())
                .collect(),
        );
    }
    out
}

/// Whether one event raises anything in a one-rule set.
pub fn hit(set: &RuleSet, e: &OwnedEvent) -> bool {
    !raised(set, std::slice::from_ref(e))[0].is_empty()
}
