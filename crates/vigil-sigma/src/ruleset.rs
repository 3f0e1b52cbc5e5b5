//! Loading: files → documents → compiled rules, filters and correlations → one indexed
//! [`RuleSet`], with a [`LoadReport`] saying for every file whether it loaded and why not.

use std::collections::HashMap;
use std::path::Path;

use crate::compile::{compile_rule, Compiled, CompiledTarget, Ctx, Fields, Node, Source};
use crate::correlation::{CompiledCorrelation, LeafSources};
use crate::fold::loaded_note;
use crate::index::{Index, TargetRef};
use crate::mapping::{FieldDef, LogsourceMap, Mapping, Resolved};
use crate::parse::{parse_file, CorrelationDoc, CorrelationKind, Document, FilterDoc, RuleDoc};
use crate::{Issue, Status};

/// What kind of rule an entry of the set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Detection,
    Correlation(CorrelationKind),
}

/// A loaded rule.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    /// The rule's `id` (else its `name`, else `path#document`).
    pub id: String,
    pub name: Option<String>,
    pub title: String,
    pub level: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    /// `fields`: the fields worth showing with an alert.
    pub fields: Vec<String>,
    /// The file it came from.
    pub path: String,
    pub kind: RuleKind,
}

/// A compiled target of a detection rule.
#[derive(Debug)]
pub(crate) struct TargetEntry {
    pub rule: u32,
    pub ls_target: usize,
    pub node: Node,
}

/// Compiled, indexed rules. Immutable; share it between threads, one [`crate::Evaluator`] each.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<RuleInfo>,
    pub(crate) targets: Vec<TargetEntry>,
    pub(crate) fields: Fields,
    pub(crate) index: Index,
    pub(crate) correlations: Vec<CompiledCorrelation>,
    /// Per rule: (correlation, position of the rule in its `rules`).
    pub(crate) rule_to_corr: Vec<Vec<(u32, usize)>>,
    /// Per rule: whether its matches are reported (not only fed to correlations).
    pub(crate) emit: Vec<bool>,
}

impl RuleSet {
    /// The loaded rules; [`crate::Detection::rule`] indexes this.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// One rule by index.
    pub fn rule(&self, idx: u32) -> Option<&RuleInfo> {
        self.rules.get(idx as usize)
    }

    /// The index of the rule with this id or name.
    pub fn find(&self, id: &str) -> Option<u32> {
        self.rules
            .iter()
            .position(|r| r.id == id || r.name.as_deref() == Some(id))
            .map(|i| i as u32)
    }

    /// Compiled (rule, target) pairs, and how many of them the literal prefilter guards.
    pub fn target_counts(&self) -> (usize, usize) {
        (self.targets.len(), self.index.filtered)
    }

    /// The index per (table, ActionType): how many rule targets are evaluated on every event,
    /// and which fields the prefilter scans with how many literals. For diagnostics.
    pub fn index_summary(&self) -> Vec<BucketSummary> {
        self.index
            .summary()
            .into_iter()
            .map(|(table, action_type, always, scans)| BucketSummary {
                table,
                action_type,
                always,
                scans: scans
                    .into_iter()
                    .map(|(slot, n)| (self.fields.names[slot as usize].clone(), n))
                    .collect(),
            })
            .collect()
    }

    /// Rules with at least one target that the prefilter cannot guard (evaluated on every
    /// event of their table and ActionType).
    pub fn unguarded(&self) -> Vec<&RuleInfo> {
        let mut out: Vec<u32> = self
            .targets
            .iter()
            .zip(&self.index.guarded)
            .filter(|(_, g)| !**g)
            .map(|(t, _)| t.rule)
            .collect();
        out.dedup();
        out.iter()
            .filter_map(|r| self.rules.get(*r as usize))
            .collect()
    }
}

/// How the index treats one (table, ActionType).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSummary {
    pub table: String,
    pub action_type: String,
    /// Rule targets evaluated on every event (no literal to look for).
    pub always: usize,
    /// The fields the prefilter scans, with the number of literals in each.
    pub scans: Vec<(String, usize)>,
}

/// The outcome for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub path: String,
    pub status: Status,
    /// Why it did not load. When loaded: empty, or `loaded; never true here: ...` naming the
    /// values its rules select that Vigil never collects (those tests are decided false).
    pub reason: String,
    /// Ids of the rules the file contributed.
    pub rules: Vec<String>,
}

/// The outcome of a load, per file.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub files: Vec<FileReport>,
}

/// Collects files and builds a [`RuleSet`].
pub struct Loader<'m> {
    mapping: &'m Mapping,
    placeholders: HashMap<String, Vec<String>>,
    files: Vec<(String, String)>,
}

struct Doc {
    file: usize,
    index: usize,
    doc: Document,
    outcome: Option<Issue>,
    /// Index in the rule set once loaded.
    rule: Option<u32>,
    /// Values decided never true when the rule loaded (`Compiled::never`).
    never: Vec<String>,
}

impl<'m> Loader<'m> {
    pub fn new(mapping: &'m Mapping) -> Loader<'m> {
        Loader {
            mapping,
            placeholders: HashMap::new(),
            files: Vec::new(),
        }
    }

    /// Values of the `%name%` placeholders used with the `expand` modifier.
    pub fn placeholders(mut self, p: HashMap<String, Vec<String>>) -> Self {
        self.placeholders = p;
        self
    }

    /// Add one file's text.
    pub fn add_source(&mut self, path: impl Into<String>, text: impl Into<String>) {
        self.files.push((path.into(), text.into()));
    }

    /// Add every `.yml` / `.yaml` file under `dir` (recursively, sorted by path). Returns the
    /// number of files added.
    pub fn add_dir(&mut self, dir: &Path) -> std::io::Result<usize> {
        let mut paths = Vec::new();
        walk(dir, &mut paths)?;
        paths.sort();
        let n = paths.len();
        for p in paths {
            let path = p.display().to_string();
            match std::fs::read(&p) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => self.add_source(path, text),
                    // Not UTF-8: parse as empty with a marker so the report says why.
                    Err(_) => self.add_source(path, "\u{0}not utf-8"),
                },
                Err(e) => self.add_source(path, format!("\u{0}unreadable: {e}")),
            }
        }
        Ok(n)
    }

    /// Compile everything.
    pub fn build(self) -> (RuleSet, LoadReport) {
        let mut docs: Vec<Doc> = Vec::new();
        let mut file_issues: Vec<Option<Issue>> = vec![None; self.files.len()];
        for (fi, (_, text)) in self.files.iter().enumerate() {
            if let Some(why) = text.strip_prefix('\u{0}') {
                file_issues[fi] = Some(Issue::invalid(format!("cannot read file: {why}")));
                continue;
            }
            for (di, d) in parse_file(text).into_iter().enumerate() {
                match d {
                    Ok(doc) => docs.push(Doc {
                        file: fi,
                        index: di,
                        doc,
                        outcome: None,
                        rule: None,
                        never: Vec::new(),
                    }),
                    Err(e) => {
                        if file_issues[fi].is_none() {
                            file_issues[fi] = Some(if di == 0 {
                                e
                            } else {
                                e.context(format!("document {}", di + 1))
                            });
                        }
                    }
                }
            }
        }
        let mut b = Build {
            mapping: self.mapping,
            files: &self.files,
            fields: Fields::default(),
            rules: Vec::new(),
            targets: Vec::new(),
        };
        b.check_duplicates(&mut docs);
        let names = names_of(&docs);
        b.detections(&mut docs, &names, &self.placeholders);
        let (correlations, rule_to_corr, emit) = b.correlations(&mut docs, &names);
        let refs: Vec<TargetRef<'_>> = b
            .targets
            .iter()
            .map(|(t, c)| TargetRef {
                table: &c.table,
                action_types: &c.action_types,
                node: &t.node,
            })
            .collect();
        let index = Index::build(&refs, b.fields.items);
        let report = report(&self.files, &docs, file_issues, &b.rules);
        let set = RuleSet {
            rules: b.rules,
            targets: b.targets.into_iter().map(|(t, _)| t).collect(),
            fields: b.fields,
            index,
            correlations,
            rule_to_corr,
            emit,
        };
        (set, report)
    }
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&p, out)?;
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yml") | Some("yaml")
        ) {
            out.push(p);
        }
    }
    Ok(())
}

/// id or name → document index (ids first).
fn names_of(docs: &[Doc]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        if d.outcome.is_some() {
            continue;
        }
        if let Some(n) = &d.doc.meta().name {
            m.entry(n.clone()).or_insert(i);
        }
    }
    for (i, d) in docs.iter().enumerate() {
        if d.outcome.is_some() {
            continue;
        }
        if let Some(id) = &d.doc.meta().id {
            m.insert(id.clone(), i);
        }
    }
    m
}

struct Build<'a> {
    mapping: &'a Mapping,
    files: &'a [(String, String)],
    fields: Fields,
    rules: Vec<RuleInfo>,
    targets: Vec<(TargetEntry, CompiledTarget)>,
}

impl Build<'_> {
    fn check_duplicates(&self, docs: &mut [Doc]) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for i in 0..docs.len() {
            let Some(id) = docs[i].doc.meta().id.clone() else {
                continue;
            };
            if let Some(&first) = seen.get(&id) {
                let where_ = self.files[docs[first].file].0.clone();
                docs[i].outcome = Some(Issue::invalid(format!(
                    "duplicate rule id `{id}` (first in {where_})"
                )));
            } else {
                seen.insert(id, i);
            }
        }
    }

    fn info(&self, d: &Doc, kind: RuleKind) -> RuleInfo {
        let m = d.doc.meta();
        let path = self.files[d.file].0.clone();
        RuleInfo {
            id: m
                .id
                .clone()
                .or_else(|| m.name.clone())
                .unwrap_or_else(|| format!("{path}#{}", d.index + 1)),
            name: m.name.clone(),
            title: m.title.clone(),
            level: m.level.clone(),
            status: m.status.clone(),
            description: m.description.clone(),
            tags: m.tags.clone(),
            falsepositives: m.falsepositives.clone(),
            fields: m.fields.clone(),
            path,
            kind,
        }
    }

    fn detections(
        &mut self,
        docs: &mut [Doc],
        names: &HashMap<String, usize>,
        placeholders: &HashMap<String, Vec<String>>,
    ) {
        // Filters: which rules each one applies to.
        let mut filters_of: HashMap<usize, Vec<usize>> = HashMap::new();
        for (fi, d) in docs.iter_mut().enumerate() {
            let Document::Filter(f) = &d.doc else {
                continue;
            };
            if d.outcome.is_some() {
                continue;
            }
            for r in &f.rules {
                match names.get(r) {
                    Some(&ri) => filters_of.entry(ri).or_default().push(fi),
                    None => {
                        d.outcome = Some(Issue::invalid(format!(
                            "filter references unknown rule `{r}`"
                        )));
                        break;
                    }
                }
            }
        }
        // A filter applies to rules of its own log source only.
        for (&ri, fis) in filters_of.iter_mut() {
            let Document::Rule(rule) = &docs[ri].doc else {
                for &fi in fis.iter() {
                    docs[fi].outcome.get_or_insert(Issue::invalid(
                        "filter references a document that is not a detection rule",
                    ));
                }
                fis.clear();
                continue;
            };
            let ls = rule.logsource.clone();
            let title = rule.meta.title.clone();
            fis.retain(|&fi| {
                let Document::Filter(f) = &docs[fi].doc else {
                    return false;
                };
                let fl = &f.logsource;
                let fits = |a: &Option<String>, b: &Option<String>| a.is_none() || a == b;
                if fits(&fl.product, &ls.product)
                    && fits(&fl.category, &ls.category)
                    && fits(&fl.service, &ls.service)
                {
                    return true;
                }
                let why = format!(
                    "filter log source {fl} does not match log source {ls} of rule `{title}`"
                );
                docs[fi].outcome.get_or_insert(Issue::invalid(why));
                false
            });
        }
        for i in 0..docs.len() {
            if docs[i].outcome.is_some() {
                continue;
            }
            let Document::Rule(rule) = &docs[i].doc else {
                continue;
            };
            let rule = rule.clone();
            let filters: Vec<(usize, FilterDoc)> = filters_of
                .get(&i)
                .map(|v| {
                    v.iter()
                        .filter(|fi| docs[**fi].outcome.is_none())
                        .filter_map(|fi| match &docs[*fi].doc {
                            Document::Filter(f) => Some((*fi, f.clone())),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            match self.compile_with_filters(&rule, &filters, placeholders) {
                Ok((compiled, bad_filters)) => {
                    for (fi, issue) in bad_filters {
                        docs[fi].outcome.get_or_insert(issue);
                    }
                    let idx = self.rules.len() as u32;
                    self.rules.push(self.info(&docs[i], RuleKind::Detection));
                    docs[i].rule = Some(idx);
                    docs[i].never = compiled.never;
                    for t in compiled.targets {
                        self.targets.push((
                            TargetEntry {
                                rule: idx,
                                ls_target: t.target,
                                node: t.node.clone(),
                            },
                            t,
                        ));
                    }
                }
                Err(e) => docs[i].outcome = Some(e),
            }
        }
    }

    /// Compile a rule with its filters; a filter that does not compile against the rule is
    /// reported on the filter and left out (the rule then raises more, never less).
    #[allow(clippy::type_complexity)]
    fn compile_with_filters(
        &mut self,
        rule: &RuleDoc,
        filters: &[(usize, FilterDoc)],
        placeholders: &HashMap<String, Vec<String>>,
    ) -> Result<(Compiled, Vec<(usize, Issue)>), Issue> {
        let map = self.mapping.logsource(&rule.logsource)?;
        let mut ctx = Ctx::new(placeholders, &mut self.fields);
        let mut good: Vec<&FilterDoc> = Vec::new();
        let mut bad = Vec::new();
        for (fi, f) in filters {
            let r = compile_rule(
                &rule.detection,
                &[&f.detection],
                &rule.logsource,
                map,
                &mut ctx,
            );
            match r {
                Ok(_) => good.push(f),
                Err(e) => {
                    // Blame the filter only if the rule compiles without it.
                    if compile_rule(&rule.detection, &[], &rule.logsource, map, &mut ctx).is_ok() {
                        bad.push((*fi, e.context(format!("on rule `{}`", rule.meta.title))));
                    } else {
                        return Err(e);
                    }
                }
            }
        }
        let dets: Vec<&crate::parse::Detection> = good.iter().map(|f| &f.detection).collect();
        let targets = compile_rule(&rule.detection, &dets, &rule.logsource, map, &mut ctx)?;
        Ok((targets, bad))
    }

    #[allow(clippy::type_complexity)]
    fn correlations(
        &mut self,
        docs: &mut [Doc],
        names: &HashMap<String, usize>,
    ) -> (Vec<CompiledCorrelation>, Vec<Vec<(u32, usize)>>, Vec<bool>) {
        // Resolve in dependency order: repeat until no progress (cycles stay unresolved).
        let corr_docs: Vec<usize> = (0..docs.len())
            .filter(|&i| {
                matches!(docs[i].doc, Document::Correlation(_)) && docs[i].outcome.is_none()
            })
            .collect();
        let mut pending = corr_docs.clone();
        let mut compiled = Vec::new();
        let mut referenced_by: Vec<(usize, usize, bool)> = Vec::new(); // (doc, corr doc, generate)
        loop {
            let mut progress = false;
            let mut still = Vec::new();
            for &ci in &pending {
                let Document::Correlation(c) = docs[ci].doc.clone() else {
                    continue;
                };
                match self.try_correlation(&c, ci, docs, names) {
                    Step::Wait => still.push(ci),
                    Step::Fail(e) => {
                        docs[ci].outcome = Some(e);
                        progress = true;
                    }
                    Step::Done(mut cc, refs) => {
                        let idx = self.rules.len() as u32;
                        self.rules
                            .push(self.info(&docs[ci], RuleKind::Correlation(c.kind)));
                        docs[ci].rule = Some(idx);
                        cc.rule = idx;
                        for r in refs {
                            referenced_by.push((r, ci, c.generate));
                        }
                        compiled.push(cc);
                        progress = true;
                    }
                }
            }
            pending = still;
            if pending.is_empty() || !progress {
                break;
            }
        }
        for ci in pending {
            docs[ci].outcome = Some(Issue::invalid(
                "correlation references form a cycle".to_string(),
            ));
        }
        let n = self.rules.len();
        let mut rule_to_corr = vec![Vec::new(); n];
        for (k, cc) in compiled.iter().enumerate() {
            let ci = docs
                .iter()
                .position(|d| d.rule == Some(cc.rule))
                .unwrap_or_default();
            let Document::Correlation(c) = &docs[ci].doc else {
                continue;
            };
            for (pos, r) in c.rules.iter().enumerate() {
                if let Some(rule) = names.get(r).and_then(|&d| docs[d].rule) {
                    rule_to_corr[rule as usize].push((k as u32, pos));
                }
            }
        }
        // A referenced rule reports its own matches only if a referencing correlation says
        // `generate: true`.
        let mut emit = vec![true; n];
        let mut generate: HashMap<usize, bool> = HashMap::new();
        for (d, _, g) in &referenced_by {
            let e = generate.entry(*d).or_insert(false);
            *e |= *g;
        }
        for (d, g) in generate {
            if let Some(r) = docs[d].rule {
                emit[r as usize] = g;
            }
        }
        (compiled, rule_to_corr, emit)
    }

    fn try_correlation(
        &mut self,
        c: &CorrelationDoc,
        me: usize,
        docs: &[Doc],
        names: &HashMap<String, usize>,
    ) -> Step {
        let mut refs = Vec::new();
        for r in &c.rules {
            let Some(&d) = names.get(r) else {
                return Step::Fail(Issue::invalid(format!(
                    "correlation references unknown rule `{r}`"
                )));
            };
            if d == me {
                return Step::Fail(Issue::invalid("correlation references itself"));
            }
            if let Some(e) = &docs[d].outcome {
                let why = format!(
                    "references rule `{r}`, which {}: {}",
                    if e.is_invalid() {
                        "failed to load"
                    } else {
                        "is unsupported"
                    },
                    e.message()
                );
                return Step::Fail(if e.is_invalid() {
                    Issue::invalid(why)
                } else {
                    Issue::unsupported(why)
                });
            }
            if matches!(docs[d].doc, Document::Filter(_)) {
                return Step::Fail(Issue::invalid(format!(
                    "correlation references filter `{r}`"
                )));
            }
            if docs[d].rule.is_none() {
                return Step::Wait;
            }
            refs.push(d);
        }
        // Leaves: the detection rules reached through the references, with the rule named
        // directly (for aliases).
        let mut leaves: Vec<(u32, &RuleDoc, Vec<String>)> = Vec::new();
        let mut stack: Vec<(usize, Vec<String>)> = refs.iter().map(|&d| (d, vec![])).collect();
        while let Some((d, mut via)) = stack.pop() {
            let m = docs[d].doc.meta();
            via.extend(m.name.iter().cloned());
            via.extend(m.id.iter().cloned());
            match &docs[d].doc {
                Document::Rule(r) => {
                    if let Some(idx) = docs[d].rule {
                        leaves.push((idx, r, via));
                    }
                }
                Document::Correlation(inner) => {
                    for r in &inner.rules {
                        if let Some(&x) = names.get(r) {
                            stack.push((x, via.clone()));
                        }
                    }
                }
                Document::Filter(_) => {}
            }
        }
        let mut sources = HashMap::new();
        for (idx, rule, via) in &leaves {
            let Ok(map) = self.mapping.logsource(&rule.logsource) else {
                continue;
            };
            for t in 0..map.targets.len() {
                let mut group = Vec::new();
                for g in &c.group_by {
                    let field = alias_field(c, g, via).unwrap_or(g.as_str());
                    match self.source(map, t, field, rule) {
                        Ok(s) => group.push(s),
                        Err(e) => return Step::Fail(e.context(format!("group-by `{g}`"))),
                    }
                }
                let value = match &c.field {
                    Some(f) => {
                        let field = alias_field(c, f, via).unwrap_or(f.as_str());
                        match self.source(map, t, field, rule) {
                            Ok(s) => s,
                            Err(e) => return Step::Fail(e.context("condition field")),
                        }
                    }
                    None => None,
                };
                sources.insert((*idx, t), LeafSources { group, value });
            }
        }
        let bound = c
            .condition
            .iter()
            .map(|(_, b)| *b)
            .max()
            .unwrap_or(0)
            .max(0) as usize;
        let n_rules = c.rules.len();
        let condition = if c.condition.is_empty() {
            vec![(crate::parse::CmpOp::Gte, n_rules as i64)]
        } else {
            c.condition.clone()
        };
        Step::Done(
            CompiledCorrelation {
                rule: 0,
                kind: c.kind,
                timespan_ms: c.timespan_ms,
                condition,
                n_rules,
                group_names: c.group_by.clone(),
                sources,
                cap: (bound + 1).max(n_rules + 1).min(1 << 20),
            },
            refs,
        )
    }

    /// A group-by field on one target; `Ok(None)` if absent there.
    fn source(
        &mut self,
        map: &LogsourceMap,
        t: usize,
        field: &str,
        rule: &RuleDoc,
    ) -> Result<Option<Source>, Issue> {
        Ok(match map.resolve(t, field, &rule.logsource)? {
            Resolved::Def(FieldDef::Column(c)) => Some(Source::Field(self.slot(&c))),
            Resolved::Def(FieldDef::Token { column, index }) => Some(Source::Token {
                slot: self.slot(&column),
                index,
            }),
            Resolved::Def(FieldDef::Hashes(h)) => Some(Source::Hashes(
                h.iter().map(|(a, c)| (a.clone(), self.slot(c))).collect(),
            )),
            Resolved::Def(FieldDef::Unsupported(r)) => {
                return Err(Issue::unsupported(format!("field `{field}`: {r}")))
            }
            Resolved::Constant(_) | Resolved::Absent => None,
        })
    }

    fn slot(&mut self, name: &str) -> u32 {
        self.fields.intern(name)
    }
}

enum Step {
    Wait,
    Fail(Issue),
    Done(CompiledCorrelation, Vec<usize>),
}

fn alias_field<'c>(c: &'c CorrelationDoc, name: &str, via: &[String]) -> Option<&'c str> {
    let (_, per_rule) = c.aliases.iter().find(|(a, _)| a == name)?;
    per_rule
        .iter()
        .find(|(r, _)| via.iter().any(|v| v == r))
        .map(|(_, f)| f.as_str())
}

fn report(
    files: &[(String, String)],
    docs: &[Doc],
    file_issues: Vec<Option<Issue>>,
    rules: &[RuleInfo],
) -> LoadReport {
    let mut out = Vec::new();
    for (fi, (path, _)) in files.iter().enumerate() {
        let mine: Vec<&Doc> = docs.iter().filter(|d| d.file == fi).collect();
        let multi = mine.len() > 1;
        let mut worst: Option<Issue> = file_issues[fi].clone();
        for d in &mine {
            if let Some(e) = &d.outcome {
                let e = if multi {
                    e.clone()
                        .context(format!("document {} ({})", d.index + 1, d.doc.meta().title))
                } else {
                    e.clone()
                };
                worst = Some(match worst {
                    None => e,
                    Some(w) if !w.is_invalid() && e.is_invalid() => e,
                    Some(w) => w,
                });
            }
        }
        let rule_ids = mine
            .iter()
            .filter_map(|d| d.rule)
            .filter_map(|r| rules.get(r as usize))
            .map(|r| r.id.clone())
            .collect();
        let (status, reason) = match worst {
            None => (
                Status::Loaded,
                loaded_note(mine.iter().flat_map(|d| &d.never)),
            ),
            Some(e) if e.is_invalid() => (Status::Error, e.message().to_string()),
            Some(e) => (Status::Unsupported, e.message().to_string()),
        };
        out.push(FileReport {
            path: path.clone(),
            status,
            reason,
            rules: rule_ids,
        });
    }
    LoadReport { files: out }
}
