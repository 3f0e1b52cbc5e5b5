//! The field mapping: which Vigil table, ActionTypes and columns a Sigma log source and its
//! fields become. It is data (`content/sigma/mapping-linux.yml`), described in that file.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::condition::pattern_matches;
use crate::parse::LogSource;
use crate::Issue;

/// The shipped Linux mapping, embedded at build time.
pub const LINUX_MAPPING: &str = include_str!("../../../content/sigma/mapping-linux.yml");

/// A loaded field mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    product: String,
    logsources: Vec<LogsourceMap>,
    not_collected: Vec<NotCollected>,
}

/// Why a mapping file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("field mapping: {0}")]
pub struct MappingError(String);

#[derive(Debug, Clone)]
pub(crate) struct LogsourceMap {
    pub category: Option<String>,
    pub service: Option<String>,
    pub targets: Vec<Target>,
    pub unsupported_fields: BTreeMap<String, String>,
    /// constant field → (value pattern, reason).
    pub unsupported_values: BTreeMap<String, Vec<(String, String)>>,
}

#[derive(Debug, Clone)]
struct NotCollected {
    category: Option<String>,
    service: Option<String>,
    reason: String,
}

/// One (table, ActionTypes) pair a log source is evaluated on.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub table: String,
    pub action_types: Vec<String>,
    /// Sigma field → the value every event of this target has.
    pub constants: Vec<(String, String)>,
    /// Columns that keyword searches scan.
    pub keywords: Vec<String>,
    fields: Vec<(String, FieldDef)>,
}

/// Where a Sigma field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldDef {
    /// A column, or `AdditionalFields.key`.
    Column(String),
    /// The N-th argument of a command-line column.
    Token {
        column: String,
        index: usize,
    },
    /// `ALGO=value,...` from hash columns.
    Hashes(Vec<(String, String)>),
    Unsupported(String),
}

/// How a field resolves on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    Def(FieldDef),
    /// A constant of the target.
    Constant(String),
    /// Another target of the log source knows the field; on this one it is absent.
    Absent,
}

impl Target {
    fn lookup(&self, field: &str) -> Option<FieldDef> {
        if let Some((_, d)) = self.fields.iter().find(|(k, _)| k == field) {
            return Some(d.clone());
        }
        for (k, d) in &self.fields {
            let Some(prefix) = k.strip_suffix("{N}") else {
                continue;
            };
            let Some(digits) = field.strip_prefix(prefix) else {
                continue;
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(index) = digits.parse::<usize>() else {
                continue;
            };
            if let FieldDef::Token { column, .. } = d {
                return Some(FieldDef::Token {
                    column: column.clone(),
                    index,
                });
            }
        }
        None
    }

    pub fn constant(&self, field: &str) -> Option<&str> {
        self.constants
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
    }
}

impl LogsourceMap {
    /// Resolve a Sigma field on target `t` of this log source.
    pub fn resolve(&self, t: usize, field: &str, ls: &LogSource) -> Result<Resolved, Issue> {
        let target = &self.targets[t];
        if let Some(c) = target.constant(field) {
            return Ok(Resolved::Constant(c.to_string()));
        }
        if let Some(d) = target.lookup(field) {
            if let FieldDef::Unsupported(reason) = &d {
                return Err(Issue::unsupported(format!("field `{field}`: {reason}")));
            }
            return Ok(Resolved::Def(d));
        }
        if let Some(reason) = self.unsupported_fields.get(field) {
            return Err(Issue::unsupported(format!("field `{field}`: {reason}")));
        }
        let elsewhere = self
            .targets
            .iter()
            .any(|o| o.constant(field).is_some() || o.lookup(field).is_some());
        if elsewhere {
            return Ok(Resolved::Absent);
        }
        Err(Issue::unsupported(format!(
            "field `{field}` is not mapped for log source {ls}"
        )))
    }

    /// The reason a constant field's value is not collected, if the mapping gives one.
    pub fn value_reason(&self, field: &str, value: &str) -> Option<&str> {
        self.unsupported_values
            .get(field)?
            .iter()
            .find(|(pat, _)| {
                pattern_matches(&pat.to_ascii_lowercase(), &value.to_ascii_lowercase())
            })
            .map(|(_, r)| r.as_str())
    }
}

// ── The file format ─────────────────────────────────────────────────────────────────────────

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    version: u32,
    product: String,
    #[serde(default)]
    common: BTreeMap<String, RawField>,
    logsources: Vec<RawLogsource>,
    #[serde(default)]
    not_collected: Vec<RawNotCollected>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogsource {
    category: Option<String>,
    service: Option<String>,
    targets: Vec<RawTarget>,
    #[serde(default)]
    unsupported_fields: BTreeMap<String, String>,
    #[serde(default)]
    unsupported_values: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    table: String,
    action_types: Vec<String>,
    #[serde(default)]
    constants: BTreeMap<String, String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    fields: BTreeMap<String, RawField>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawField {
    Column(String),
    Derived(RawDerived),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum RawDerived {
    TokenOf(String),
    Hashes(BTreeMap<String, String>),
    Unsupported(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotCollected {
    category: Option<String>,
    service: Option<String>,
    reason: String,
}

fn check_column(c: &str, what: &str) -> Result<(), MappingError> {
    let ok = !c.is_empty()
        && c.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(MappingError(format!("{what}: bad column name `{c}`")))
    }
}

fn convert_field(name: &str, raw: &RawField, what: &str) -> Result<FieldDef, MappingError> {
    let what = format!("{what}: field `{name}`");
    Ok(match raw {
        RawField::Column(c) => {
            check_column(c, &what)?;
            FieldDef::Column(c.clone())
        }
        RawField::Derived(RawDerived::TokenOf(c)) => {
            check_column(c, &what)?;
            if !name.ends_with("{N}") {
                return Err(MappingError(format!(
                    "{what}: `token_of` needs a key ending in `{{N}}`"
                )));
            }
            FieldDef::Token {
                column: c.clone(),
                index: 0,
            }
        }
        RawField::Derived(RawDerived::Hashes(m)) => {
            for c in m.values() {
                check_column(c, &what)?;
            }
            FieldDef::Hashes(m.iter().map(|(a, c)| (a.clone(), c.clone())).collect())
        }
        RawField::Derived(RawDerived::Unsupported(r)) => FieldDef::Unsupported(r.clone()),
    })
}

impl Mapping {
    /// The shipped Linux mapping.
    pub fn linux() -> Mapping {
        // The embedded file is tested; failing here would be a build defect.
        Mapping::from_yaml(LINUX_MAPPING).expect("the embedded linux mapping loads")
    }

    /// Load a mapping from YAML text.
    pub fn from_yaml(text: &str) -> Result<Mapping, MappingError> {
        let mut v: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| MappingError(format!("malformed yaml: {e}")))?;
        v.apply_merge()
            .map_err(|e| MappingError(format!("yaml merge keys: {e}")))?;
        // Merge keys may nest (`<<` inside a merged map): apply until stable.
        v.apply_merge()
            .map_err(|e| MappingError(format!("yaml merge keys: {e}")))?;
        let doc: FileDoc = serde_yaml::from_value(v).map_err(|e| MappingError(e.to_string()))?;
        if doc.version != 1 {
            return Err(MappingError(format!(
                "unsupported mapping version {}",
                doc.version
            )));
        }
        let mut common = Vec::new();
        for (k, f) in &doc.common {
            common.push((k.clone(), convert_field(k, f, "common")?));
        }
        let mut logsources = Vec::new();
        for ls in doc.logsources {
            let what = format!(
                "log source {}",
                ls.category
                    .as_deref()
                    .or(ls.service.as_deref())
                    .unwrap_or("?")
            );
            if ls.targets.is_empty() {
                return Err(MappingError(format!("{what}: no targets")));
            }
            let mut targets = Vec::new();
            for t in ls.targets {
                let what = format!("{what}: target {}", t.table);
                check_column(&t.table, &what)?;
                if t.action_types.is_empty() {
                    return Err(MappingError(format!("{what}: no action_types")));
                }
                for k in &t.keywords {
                    check_column(k, &what)?;
                }
                let mut fields = Vec::new();
                for (k, f) in &t.fields {
                    fields.push((k.clone(), convert_field(k, f, &what)?));
                }
                for (k, f) in &common {
                    if !fields.iter().any(|(n, _)| n == k) {
                        fields.push((k.clone(), f.clone()));
                    }
                }
                targets.push(Target {
                    table: t.table,
                    action_types: t.action_types,
                    constants: t.constants.into_iter().collect(),
                    keywords: t.keywords,
                    fields,
                });
            }
            logsources.push(LogsourceMap {
                category: ls.category.map(|s| s.to_ascii_lowercase()),
                service: ls.service.map(|s| s.to_ascii_lowercase()),
                targets,
                unsupported_fields: ls.unsupported_fields,
                unsupported_values: ls
                    .unsupported_values
                    .into_iter()
                    .map(|(f, m)| (f, m.into_iter().collect()))
                    .collect(),
            });
        }
        Ok(Mapping {
            product: doc.product.to_ascii_lowercase(),
            logsources,
            not_collected: doc
                .not_collected
                .into_iter()
                .map(|n| NotCollected {
                    category: n.category,
                    service: n.service,
                    reason: n.reason,
                })
                .collect(),
        })
    }

    /// The product this mapping covers (`linux`).
    pub fn product(&self) -> &str {
        &self.product
    }

    /// The tables and ActionTypes the mapping can dispatch to.
    pub fn tables(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for ls in &self.logsources {
            for t in &ls.targets {
                let entry = match out.iter_mut().find(|(n, _)| *n == t.table) {
                    Some(e) => e,
                    None => {
                        out.push((t.table.clone(), Vec::new()));
                        let last = out.len() - 1;
                        &mut out[last]
                    }
                };
                for a in &t.action_types {
                    if !entry.1.contains(a) {
                        entry.1.push(a.clone());
                    }
                }
            }
        }
        out
    }

    /// Every column name the mapping refers to, per table (for checking against the schema).
    pub fn columns(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for ls in &self.logsources {
            for t in &ls.targets {
                let mut add = |c: &str| {
                    let pair = (t.table.clone(), c.to_string());
                    if !out.contains(&pair) {
                        out.push(pair);
                    }
                };
                for k in &t.keywords {
                    add(k);
                }
                for (_, f) in &t.fields {
                    match f {
                        FieldDef::Column(c) | FieldDef::Token { column: c, .. } => add(c),
                        FieldDef::Hashes(h) => h.iter().for_each(|(_, c)| add(c)),
                        FieldDef::Unsupported(_) => {}
                    }
                }
            }
        }
        out
    }

    /// The mapping of a rule's log source, or why it is not collected.
    pub(crate) fn logsource(&self, ls: &LogSource) -> Result<&LogsourceMap, Issue> {
        if let Some(p) = &ls.product {
            if *p != self.product {
                return Err(Issue::unsupported(format!(
                    "log source {ls} is not collected by Vigil (the mapping covers product {})",
                    self.product
                )));
            }
        }
        let exact = self
            .logsources
            .iter()
            .find(|m| m.category == ls.category && m.service == ls.service);
        let by_category = || {
            self.logsources
                .iter()
                .find(|m| ls.category.is_some() && m.category == ls.category && m.service.is_none())
        };
        if let Some(m) = exact.or_else(by_category) {
            return Ok(m);
        }
        let reason = self
            .not_collected
            .iter()
            .find(|n| n.category == ls.category && n.service == ls.service)
            .map(|n| format!(": {}", n.reason))
            .unwrap_or_default();
        Err(Issue::unsupported(format!(
            "log source {ls} is not collected by Vigil{reason}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(cat: Option<&str>, svc: Option<&str>) -> LogSource {
        LogSource {
            product: Some("linux".into()),
            category: cat.map(str::to_string),
            service: svc.map(str::to_string),
        }
    }

    #[test]
    fn the_linux_mapping_loads_and_resolves() {
        let m = Mapping::linux();
        let pc = m.logsource(&ls(Some("process_creation"), None)).unwrap();
        assert_eq!(pc.targets[0].table, "DeviceProcessEvents");
        let l = ls(Some("process_creation"), None);
        assert_eq!(
            pc.resolve(0, "Image", &l).unwrap(),
            Resolved::Def(FieldDef::Column("FolderPath".into()))
        );
        assert_eq!(
            pc.resolve(0, "CurrentDirectory", &l).unwrap(),
            Resolved::Def(FieldDef::Column("AdditionalFields.cwd".into()))
        );
        assert_eq!(
            pc.resolve(0, "Computer", &l).unwrap(),
            Resolved::Def(FieldDef::Column("DeviceName".into()))
        );
        let e = pc.resolve(0, "Nope", &l).unwrap_err();
        assert_eq!(
            e.message(),
            "field `Nope` is not mapped for log source linux/process_creation"
        );
        let e = pc.resolve(0, "GrandparentImage", &l).unwrap_err();
        assert!(e.message().contains("InitiatingProcessParentFileName"));

        let al = ls(None, Some("auditd"));
        let au = m.logsource(&al).unwrap();
        assert_eq!(
            au.resolve(0, "a12", &al).unwrap(),
            Resolved::Def(FieldDef::Token {
                column: "ProcessCommandLine".into(),
                index: 12
            })
        );
        assert_eq!(
            au.resolve(0, "type", &al).unwrap(),
            Resolved::Constant("EXECVE".into())
        );
        // `exe` is known by SYSCALL targets, absent on EXECVE.
        assert_eq!(au.resolve(0, "exe", &al).unwrap(), Resolved::Absent);
        assert!(au
            .resolve(0, "key", &al)
            .unwrap_err()
            .message()
            .contains("audit rule keys"));
        assert!(au.value_reason("type", "USER_LOGIN").is_some());
        assert!(au.value_reason("type", "EXECVE").is_none());
    }

    #[test]
    fn uncollected_log_sources_say_so() {
        let m = Mapping::linux();
        let e = m.logsource(&ls(None, Some("sshd"))).unwrap_err();
        assert_eq!(
            e.message(),
            "log source linux/sshd is not collected by Vigil"
        );
        let e = m.logsource(&ls(None, None)).unwrap_err();
        assert!(e.message().contains("generic log lines"), "{}", e.message());
        let e = m
            .logsource(&LogSource {
                product: Some("windows".into()),
                category: Some("process_creation".into()),
                service: None,
            })
            .unwrap_err();
        assert!(e
            .message()
            .starts_with("log source windows/process_creation is not collected"));
    }

    #[test]
    fn the_mapping_only_names_known_tables() {
        let m = Mapping::linux();
        for (t, actions) in m.tables() {
            assert!(
                [
                    "DeviceProcessEvents",
                    "DeviceNetworkEvents",
                    "DeviceFileEvents",
                    "DeviceEvents"
                ]
                .contains(&t.as_str()),
                "{t}"
            );
            assert!(!actions.is_empty());
        }
    }

    #[test]
    fn bad_mappings_are_refused() {
        let e = Mapping::from_yaml("version: 1\nproduct: linux\nlogsources: []\nextra: 1\n")
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `extra`"), "{e}");
        let e = Mapping::from_yaml(
            "version: 1\nproduct: linux\nlogsources:\n  - category: x\n    targets:\n      - {table: T, action_types: [A], fields: {F: 'bad name'}}\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("bad column name"), "{e}");
        assert!(Mapping::from_yaml("[").is_err());
    }
}
