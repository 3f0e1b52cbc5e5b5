//! Rule → per-target boolean trees of compiled field tests.
//!
//! A rule is compiled once for each target (table + ActionTypes) of its log source. Fields
//! resolve through the mapping to field slots (interned Vigil field names); tests on a
//! target's constants, on fields absent from a target and on values Vigil never collects are
//! decided here (`fold`), and the tree is folded, so a target on which the rule can never
//! match is dropped.

use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use regex::RegexBuilder;

use crate::condition::{self, pattern_matches, Cond, OfTarget, Quant};
use crate::event::FieldName;
use crate::fold::{decided, fold, is_never, never_values, settle};
use crate::index::{also_of, needles_of};
use crate::mapping::{FieldDef, LogsourceMap, Resolved};
use crate::matcher::{Needle, Net, NumOp, StrPat, ValueTest};
use crate::modifiers::{self, parse_mods, sigma_string, MatchKind, Mods, Part};
use crate::parse::{Detection, FieldItem, LogSource, SValue, Search};
use crate::Issue;

/// An interned Vigil field name.
pub(crate) type Slot = u32;

/// The field names the compiled rules read, each once.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields {
    pub names: Vec<String>,
    pub keys: Vec<FieldName>,
    map: HashMap<String, Slot>,
    /// Items compiled so far (item ids are allocated here, across all rules).
    pub items: u32,
}

impl Fields {
    pub fn intern(&mut self, name: &str) -> Slot {
        if let Some(s) = self.map.get(name) {
            return *s;
        }
        let s = self.names.len() as Slot;
        self.names.push(name.to_string());
        self.keys.push(FieldName::new(name));
        self.map.insert(name.to_string(), s);
        s
    }
}

/// Where an item reads its value.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Field(Slot),
    /// The N-th argument of a command line.
    Token {
        slot: Slot,
        index: usize,
    },
    /// `ALGO=value,...`.
    Hashes(Vec<(String, Slot)>),
    /// A keyword search: any of these fields.
    Keywords(Vec<Slot>),
}

/// What an item checks.
#[derive(Debug, Clone)]
pub(crate) enum Check {
    /// Values: OR across them, or AND with `all`.
    Tests {
        tests: Vec<ValueTest>,
        all: bool,
    },
    Exists(bool),
    /// Compare with other fields of the same event.
    FieldRef {
        others: Vec<Source>,
        kind: MatchKind,
        cased: bool,
        all: bool,
    },
}

/// One compiled `field|mods: values` item.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// Unique across the rule set (see `Index::gates`).
    pub id: u32,
    pub source: Source,
    pub check: Check,
    /// `neq`: the field is present and the check fails.
    pub neq: bool,
    pub needs_lower: bool,
    /// Lowercased literals of which a matching value contains one (for the prefilter).
    pub needles: Option<Vec<Needle>>,
    /// More sets of literals of which a matching value contains one each (for item gates).
    pub also: Vec<Vec<Needle>>,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Const(bool),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// At least N of the children.
    AtLeast(usize, Vec<Node>),
    Item(Arc<Item>),
}

/// A rule compiled for one target.
#[derive(Debug, Clone)]
pub(crate) struct CompiledTarget {
    pub table: String,
    pub action_types: Vec<String>,
    /// Index of the target in its log source mapping (for correlation field lookups).
    pub target: usize,
    pub node: Node,
}

/// State shared by the compilation of all rules.
pub(crate) struct Ctx<'a> {
    pub placeholders: &'a HashMap<String, Vec<String>>,
    pub fields: &'a mut Fields,
    regexes: HashMap<(String, bool, bool, bool), ValueTest>,
}

impl<'a> Ctx<'a> {
    pub fn new(placeholders: &'a HashMap<String, Vec<String>>, fields: &'a mut Fields) -> Self {
        Ctx {
            placeholders,
            fields,
            regexes: HashMap::new(),
        }
    }

    fn regex(
        &mut self,
        pat: &str,
        i: bool,
        m: bool,
        s: bool,
        key: &str,
    ) -> Result<ValueTest, Issue> {
        let k = (pat.to_string(), i, m, s);
        if let Some(r) = self.regexes.get(&k) {
            return Ok(r.clone());
        }
        let r = RegexBuilder::new(pat)
            .case_insensitive(i)
            .multi_line(m)
            .dot_matches_new_line(s)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| {
                let msg = e.to_string();
                let detail = msg.lines().last().unwrap_or_default().trim().to_string();
                if msg.contains("not supported") {
                    Issue::unsupported(format!(
                        "field `{key}`: regex `{pat}` uses a feature the engine does not support: {detail}"
                    ))
                } else {
                    Issue::invalid(format!("field `{key}`: bad regex `{pat}`: {detail}"))
                }
            })?;
        let literals = crate::matcher::regex_literals(pat, i, m, s);
        let t = ValueTest::Regex(Arc::new(crate::matcher::RegexTest { re: r, literals }));
        self.regexes.insert(k, t.clone());
        Ok(t)
    }
}

/// A rule compiled for every target of its log source.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    /// The targets on which the rule can match.
    pub targets: Vec<CompiledTarget>,
    /// Values the rule's own detection (not its filters) selects that are never true here,
    /// as `` `type: ADD_USER` (reason) `` (see `fold`).
    pub never: Vec<String>,
}

/// Compile a rule's detection (and the filters that apply to it) for every target.
pub(crate) fn compile_rule(
    detection: &Detection,
    filters: &[&Detection],
    ls: &LogSource,
    map: &LogsourceMap,
    ctx: &mut Ctx<'_>,
) -> Result<Compiled, Issue> {
    let mut parsed = vec![parse_detection(detection)?];
    for f in filters {
        parsed.push(parse_detection(f).map_err(|e| e.context("filter"))?);
    }
    let own = never_values(&[detection], map, ctx)?;
    let mut never = own.clone();
    for n in never_values(filters, map, ctx)? {
        if !never.contains(&n) {
            never.push(n);
        }
    }
    let mut out = Vec::new();
    let mut always_by_never = false;
    for t in 0..map.targets.len() {
        let mut parts = Vec::new();
        for (det, cond) in std::iter::once(detection)
            .chain(filters.iter().copied())
            .zip(&parsed)
        {
            parts.push(compile_detection(det, cond, t, ls, map, ctx)?);
        }
        // Markers (tests decided by never-true values) are open here, settled below.
        let open = fold(Node::And(parts));
        let node = if never.is_empty() {
            open
        } else {
            let node = fold(settle(open.clone()));
            always_by_never |=
                matches!(node, Node::Const(true)) && !matches!(open, Node::Const(true));
            node
        };
        let node = crate::order::cheap_first(node);
        if !matches!(node, Node::Const(false)) {
            let target = &map.targets[t];
            out.push(CompiledTarget {
                table: target.table.clone(),
                action_types: target.action_types.clone(),
                target: t,
                node,
            });
        }
    }
    // Never true, or true on every event only because a test was decided never true: the
    // value the rule needs is not collected.
    if out.is_empty() || always_by_never {
        return Err(match never.first() {
            Some(n) => n.issue(),
            None => Issue::unsupported(format!(
                "the rule can never match the events Vigil collects for log source {ls}"
            )),
        });
    }
    Ok(Compiled {
        targets: out,
        never: own.iter().map(|n| n.note()).collect(),
    })
}

/// Parse and check the conditions of a detection, independent of targets.
fn parse_detection(det: &Detection) -> Result<Cond, Issue> {
    let mut conds = Vec::new();
    for c in &det.conditions {
        conds.push(condition::parse(c)?);
    }
    let cond = if conds.len() == 1 {
        conds.remove(0)
    } else {
        Cond::Or(conds)
    };
    check_refs(&cond, det)?;
    for (name, s) in &det.searches {
        check_search(s).map_err(|e| e.context(format!("search `{name}`")))?;
    }
    Ok(cond)
}

fn check_search(s: &Search) -> Result<(), Issue> {
    match s {
        Search::All(items) => {
            for i in items {
                parse_mods(&i.modifiers, &i.key)?;
            }
            Ok(())
        }
        Search::Any(alts) => alts.iter().try_for_each(check_search),
    }
}

fn of_names<'d>(pattern: &OfTarget, det: &'d Detection) -> Vec<&'d str> {
    det.searches
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| match pattern {
            OfTarget::Them => !n.starts_with('_'),
            OfTarget::Pattern(p) => pattern_matches(p, n),
        })
        .collect()
}

fn check_refs(c: &Cond, det: &Detection) -> Result<(), Issue> {
    match c {
        Cond::And(v) | Cond::Or(v) => v.iter().try_for_each(|c| check_refs(c, det)),
        Cond::Not(c) => check_refs(c, det),
        Cond::Ref(name) => {
            if det.searches.iter().any(|(n, _)| n == name) {
                Ok(())
            } else {
                Err(Issue::invalid(format!(
                    "condition references undefined search identifier `{name}`"
                )))
            }
        }
        Cond::Of { pattern, .. } => {
            if of_names(pattern, det).is_empty() {
                let what = match pattern {
                    OfTarget::Them => "them".to_string(),
                    OfTarget::Pattern(p) => p.clone(),
                };
                Err(Issue::invalid(format!(
                    "condition quantifier over `{what}` matches no search identifier"
                )))
            } else {
                Ok(())
            }
        }
    }
}

fn compile_detection(
    det: &Detection,
    cond: &Cond,
    t: usize,
    ls: &LogSource,
    map: &LogsourceMap,
    ctx: &mut Ctx<'_>,
) -> Result<Node, Issue> {
    let mut searches = HashMap::new();
    for (name, s) in &det.searches {
        let node = compile_search(s, t, ls, map, ctx)
            .map_err(|e| e.context(format!("search `{name}`")))?;
        searches.insert(name.as_str(), node);
    }
    Ok(fold(cond_node(cond, det, &searches)))
}

fn cond_node(c: &Cond, det: &Detection, s: &HashMap<&str, Node>) -> Node {
    match c {
        Cond::And(v) => Node::And(v.iter().map(|c| cond_node(c, det, s)).collect()),
        Cond::Or(v) => Node::Or(v.iter().map(|c| cond_node(c, det, s)).collect()),
        Cond::Not(c) => Node::Not(Box::new(cond_node(c, det, s))),
        Cond::Ref(n) => s.get(n.as_str()).cloned().unwrap_or(Node::Const(false)),
        Cond::Of { quant, pattern } => {
            let nodes: Vec<Node> = of_names(pattern, det)
                .into_iter()
                .filter_map(|n| s.get(n).cloned())
                .collect();
            match quant {
                Quant::All => Node::And(nodes),
                Quant::AtLeast(1) => Node::Or(nodes),
                Quant::AtLeast(n) => Node::AtLeast(*n, nodes),
            }
        }
    }
}

fn compile_search(
    s: &Search,
    t: usize,
    ls: &LogSource,
    map: &LogsourceMap,
    ctx: &mut Ctx<'_>,
) -> Result<Node, Issue> {
    Ok(match s {
        Search::All(items) => Node::And(
            items
                .iter()
                .map(|i| compile_item(i, t, ls, map, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Search::Any(alts) => Node::Or(
            alts.iter()
                .map(|a| compile_search(a, t, ls, map, ctx))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A field's source on a target: `Ok(None)` = absent, `Err(constant)` = a constant value.
fn source_of(
    field: &str,
    t: usize,
    ls: &LogSource,
    map: &LogsourceMap,
    ctx: &mut Ctx<'_>,
) -> Result<Result<Option<Source>, String>, Issue> {
    Ok(match map.resolve(t, field, ls)? {
        Resolved::Constant(c) => Err(c),
        Resolved::Absent => Ok(None),
        Resolved::Def(FieldDef::Column(c)) => Ok(Some(Source::Field(ctx.fields.intern(&c)))),
        Resolved::Def(FieldDef::Token { column, index }) => Ok(Some(Source::Token {
            slot: ctx.fields.intern(&column),
            index,
        })),
        Resolved::Def(FieldDef::Hashes(h)) => Ok(Some(Source::Hashes(
            h.iter()
                .map(|(a, c)| (a.clone(), ctx.fields.intern(c)))
                .collect(),
        ))),
        Resolved::Def(FieldDef::Unsupported(r)) => {
            return Err(Issue::unsupported(format!("field `{field}`: {r}")))
        }
    })
}

fn compile_item(
    item: &FieldItem,
    t: usize,
    ls: &LogSource,
    map: &LogsourceMap,
    ctx: &mut Ctx<'_>,
) -> Result<Node, Issue> {
    let mods = parse_mods(&item.modifiers, &item.key)?;
    let key = item.key.as_str();
    let source = match &item.field {
        None => {
            let cols = &map.targets[t].keywords;
            if cols.is_empty() {
                return Err(Issue::unsupported(format!(
                    "keyword search is not mapped for log source {ls}"
                )));
            }
            Ok(Some(Source::Keywords(
                cols.iter().map(|c| ctx.fields.intern(c)).collect(),
            )))
        }
        Some(f) => source_of(f, t, ls, map, ctx)?,
    };
    // Keywords are substring searches.
    let mods = if item.field.is_none() && mods.kind == MatchKind::Equals {
        Mods {
            kind: MatchKind::Contains,
            ..mods
        }
    } else {
        mods
    };
    let mut never = false;
    let check = if let MatchKind::Exists = mods.kind {
        match item.values.as_slice() {
            [SValue::Bool(b)] => Check::Exists(*b),
            [SValue::Str(s)] if s.eq_ignore_ascii_case("true") => Check::Exists(true),
            [SValue::Str(s)] if s.eq_ignore_ascii_case("false") => Check::Exists(false),
            _ => {
                return Err(Issue::invalid(format!(
                    "field `{key}`: `exists` takes one boolean"
                )))
            }
        }
    } else if mods.fieldref {
        let mut others = Vec::new();
        for v in &item.values {
            let Some(name) = v.text() else {
                return Err(Issue::invalid(format!(
                    "field `{key}`: `fieldref` needs field names"
                )));
            };
            // A constant or absent referenced field compares with nothing.
            if let Ok(Some(s)) = source_of(&name, t, ls, map, ctx)? {
                others.push(s);
            }
        }
        Check::FieldRef {
            others,
            kind: mods.kind,
            cased: mods.cased,
            all: mods.all,
        }
    } else {
        // Where the item is decided now, values Vigil never collects are left out (never true).
        let decided_now = !matches!(source, Ok(Some(_)));
        let mut tests = Vec::new();
        for v in &item.values {
            let t = value_tests(v, &mods, key, ctx)?;
            match (&item.field, v.text()) {
                (Some(f), Some(text))
                    if decided_now && !mods.neq && is_never(f, &text, &t, map) =>
                {
                    never = true
                }
                _ => tests.extend(t),
            }
        }
        Check::Tests {
            tests,
            all: mods.all,
        }
    };
    let source = match source {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(decided(&check, mods.neq, None, never)),
        Err(c) => return Ok(decided(&check, mods.neq, Some(&c), never)),
    };
    let needles = match (&check, &source, mods.neq) {
        (Check::Tests { tests, all }, _, false) => needles_of(tests, *all, &source),
        _ => None,
    };
    let mut also = match (&check, &source, mods.neq) {
        (Check::Tests { tests, all }, Source::Field(_), false) => also_of(tests, *all),
        _ => Vec::new(),
    };
    if let Some(n) = &needles {
        // The item's own literals gate it already.
        let mut n = n.clone();
        n.sort();
        n.dedup();
        also.retain(|set| *set != n);
    }
    let check = match check {
        Check::Tests { tests, all } if !all => Check::Tests {
            tests: group_tests(tests),
            all,
        },
        other => other,
    };
    let needs_lower = match &check {
        Check::Tests { tests, .. } => tests.iter().any(ValueTest::needs_lower),
        Check::FieldRef { cased, .. } => !cased,
        Check::Exists(_) => false,
    };
    let id = ctx.fields.items;
    ctx.fields.items += 1;
    Ok(Node::Item(Arc::new(Item {
        id,
        source,
        check,
        neq: mods.neq,
        needs_lower,
        needles,
        also,
    })))
}

/// The tests of one value.
pub(crate) fn value_tests(
    v: &SValue,
    mods: &Mods,
    key: &str,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<ValueTest>, Issue> {
    if *v == SValue::Null {
        return Ok(vec![ValueTest::Null]);
    }
    let text = v.text().unwrap_or_default();
    let num = |ctx_key: &str| -> Result<f64, Issue> {
        match v {
            SValue::Int(i) => Ok(*i as f64),
            SValue::Float(f) => Ok(*f),
            _ => text.trim().parse::<f64>().map_err(|_| {
                Issue::invalid(format!("field `{ctx_key}`: `{text}` is not a number"))
            }),
        }
    };
    Ok(match mods.kind {
        MatchKind::Lt => vec![ValueTest::Num(NumOp::Lt, num(key)?)],
        MatchKind::Lte => vec![ValueTest::Num(NumOp::Lte, num(key)?)],
        MatchKind::Gt => vec![ValueTest::Num(NumOp::Gt, num(key)?)],
        MatchKind::Gte => vec![ValueTest::Num(NumOp::Gte, num(key)?)],
        MatchKind::Cidr => {
            vec![ValueTest::Cidr(Net::parse(&text).ok_or_else(|| {
                Issue::invalid(format!("field `{key}`: bad cidr `{text}`"))
            })?)]
        }
        MatchKind::Re { i, m, s } => vec![ctx.regex(&text, i, m, s, key)?],
        MatchKind::Exists => Vec::new(),
        MatchKind::Equals | MatchKind::Contains | MatchKind::StartsWith | MatchKind::EndsWith => {
            let parts = sigma_string(&text);
            let cased = mods.cased || mods.encoded();
            let mut out = Vec::new();
            for variant in modifiers::transform(parts, &mods.transforms, ctx.placeholders, key)? {
                let mut p = Vec::with_capacity(variant.len() + 2);
                if matches!(mods.kind, MatchKind::Contains | MatchKind::EndsWith) {
                    p.push(Part::Star);
                }
                p.extend(variant);
                if matches!(mods.kind, MatchKind::Contains | MatchKind::StartsWith) {
                    p.push(Part::Star);
                }
                out.push(ValueTest::Str(StrPat::new(modifiers::normalize(p), cased)));
            }
            out
        }
    })
}

/// Replace long OR lists of exact values or substrings by one set or automaton.
fn group_tests(tests: Vec<ValueTest>) -> Vec<ValueTest> {
    const GROUP: usize = 6;
    let mut out = Vec::new();
    let mut exact: [Vec<Box<[u8]>>; 2] = [Vec::new(), Vec::new()];
    let mut contains: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for t in tests {
        if let ValueTest::Str(p) = &t {
            let c = usize::from(p.cased);
            if let Some(l) = p.exact_literal() {
                exact[c].push(l.into());
                continue;
            }
            if let Some(l) = p.contains_literal() {
                contains[c].push(l.to_vec());
                continue;
            }
        }
        out.push(t);
    }
    for (c, list) in exact.into_iter().enumerate() {
        let cased = c == 1;
        if list.len() >= GROUP {
            out.push(ValueTest::ExactSet {
                set: list.into_iter().collect(),
                cased,
            });
        } else {
            out.extend(
                list.into_iter()
                    .map(|l| ValueTest::Str(StrPat::new(vec![Part::Lit(l.into_vec())], cased))),
            );
        }
    }
    for (c, list) in contains.into_iter().enumerate() {
        let cased = c == 1;
        let grouped = (list.len() >= GROUP)
            .then(|| AhoCorasick::new(&list).ok())
            .flatten();
        match grouped {
            Some(ac) => out.push(ValueTest::AnyContains {
                ac: Arc::new(ac),
                cased,
            }),
            None => out.extend(list.into_iter().map(|l| {
                ValueTest::Str(StrPat::new(
                    vec![Part::Star, Part::Lit(l), Part::Star],
                    cased,
                ))
            })),
        }
    }
    out
}
