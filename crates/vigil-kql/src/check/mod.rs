//! The checker: resolves names against Vigil's schema and the query's `let`s, infers types,
//! and lowers the syntax tree into a [`Rel`]. Every problem becomes a [`Diagnostic`] with the
//! span of the offending text; checking goes on after an error so that all are reported.

mod aggregate;
mod arg_extreme;
mod dynamic;
mod evaluate;
pub use evaluate::MAX_DISCOVERED;
mod functions;
mod lift;
mod make_series;
mod names;
mod operators;
mod scalar;
pub mod time;
mod top_nested;

use std::collections::HashMap;
use std::rc::Rc;

use vigil_schema::Table;

use crate::ast::{self, Expr, ExprKind, LetValue, Statement};
use crate::plan::{BinOp, Field, Lit, Node, Rel, Scalar, SortKey};
use crate::span::{DiagKind, Diagnostic, Span};
use crate::types::Type;

/// What the checker needs from outside: the time `now()` and `ago()` are relative to, and
/// the keys discovered for data-dependent plugins.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Nanoseconds since the Unix epoch.
    pub now_ns: i64,
    /// When set, every stored table is read only from `now_ns - lookback_ns` on (MDE's
    /// 30-day default time range).
    pub lookback_ns: Option<i64>,
    /// For `evaluate bag_unpack` / `pivot`, by the operator's byte offset: the keys a
    /// discovery query found (see `evaluate.rs`).
    pub discovered: HashMap<u32, Vec<String>>,
}

/// A checked query.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub rel: Rel,
    /// The `render` operator's chart kind, passed to the client as a hint.
    pub chart: Option<String>,
    /// Queries to run before the query can be lowered: (operator offset, relation of the
    /// distinct keys). When not empty, `rel` is not the query.
    pub discover: Vec<(u32, Rel)>,
}

/// Tables of MDE's advanced hunting that Vigil does not hold (mail, identity, cloud apps):
/// a query reading them is valid KQL that Vigil cannot run.
const FOREIGN_TABLES: &[&str] = &[
    "EmailEvents",
    "EmailAttachmentInfo",
    "EmailUrlInfo",
    "EmailPostDeliveryEvents",
    "UrlClickEvents",
    "IdentityInfo",
    "IdentityLogonEvents",
    "IdentityQueryEvents",
    "IdentityDirectoryEvents",
    "CloudAppEvents",
    "AADSignInEventsBeta",
    "AADSpnSignInEventsBeta",
    "DeviceRegistryEvents",
    "DeviceTvmSoftwareInventory",
    "DeviceTvmSoftwareVulnerabilities",
    "DeviceTvmSoftwareVulnerabilitiesKB",
    "DeviceTvmSecureConfigurationAssessment",
    "DeviceTvmSecureConfigurationAssessmentKB",
    "DeviceTvmInfoGathering",
    "DeviceTvmInfoGatheringKB",
    "DeviceTvmSoftwareEvidenceBeta",
    "DeviceTvmCertificateInfo",
    "DeviceTvmBrowserExtensions",
    "DeviceTvmBrowserExtensionsKB",
    "DeviceTvmHardwareFirmware",
    "DeviceFileCertificateInfo",
    "DeviceAlertEvents",
    "BehaviorInfo",
    "BehaviorEntities",
    "ExposureGraphNodes",
    "ExposureGraphEdges",
    "SecurityAlert",
    "SecurityEvent",
    "SigninLogs",
    "AuditLogs",
    "OfficeActivity",
];

#[derive(Debug, Clone)]
enum Binding {
    Scalar(Scalar, Type),
    Table(Rel),
    Function(Rc<ast::Function>),
    /// A `let` whose value had errors.
    Failed {
        tabular: bool,
    },
}

/// The state of a pipeline while its operators are lowered.
#[derive(Debug, Clone)]
struct Piped {
    rel: Rel,
    /// The row order the last `sort`/`top`/`serialize` established (for `row_number`,
    /// `prev`, `next`).
    order: Vec<SortKey>,
}

struct Checker<'o> {
    options: &'o Options,
    scopes: Vec<HashMap<String, Binding>>,
    diags: Vec<Diagnostic>,
    chart: Option<String>,
    depth: usize,
    /// Discoveries the query needs first (`evaluate.rs`).
    discoveries: Vec<(u32, Rel)>,
}

/// Check `query` and lower it; all diagnostics when it has errors.
pub fn check(query: &ast::Query, options: &Options) -> Result<Checked, Vec<Diagnostic>> {
    let mut c = Checker {
        options,
        scopes: vec![HashMap::new()],
        diags: Vec::new(),
        chart: None,
        depth: 0,
        discoveries: Vec::new(),
    };
    let rel = c.statements(&query.statements);
    // Pending discoveries come first: errors after a plugin whose columns are not known yet
    // (a column it will make) are checked again once they are.
    if !c.discoveries.is_empty() {
        return Ok(Checked {
            rel: empty_rel(),
            chart: c.chart,
            discover: c.discoveries,
        });
    }
    if !c.diags.is_empty() {
        return Err(c.diags);
    }
    match rel {
        Some(rel) => Ok(Checked {
            rel,
            chart: c.chart,
            discover: Vec::new(),
        }),
        None => Err(vec![Diagnostic::error(
            DiagKind::Syntax,
            Span::default(),
            "the query has no tabular expression to run",
        )]),
    }
}

impl Checker<'_> {
    fn error(&mut self, kind: DiagKind, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(kind, span, message));
    }

    fn unsupported(&mut self, span: Span, what: &str) {
        self.error(
            DiagKind::NotSupported,
            span,
            format!("{what} is not supported yet"),
        );
    }

    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    fn bind(&mut self, name: &str, binding: Binding) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), binding);
        }
    }

    /// `let`s then the last expression's relation.
    fn statements(&mut self, statements: &[Statement]) -> Option<Rel> {
        let mut result = None;
        for st in statements {
            match st {
                Statement::Let(l) => self.let_statement(l),
                Statement::Expr(e) => result = self.tabular(e),
                Statement::Set { .. } => {}
                Statement::DeclareParams { params, .. } => {
                    for p in params {
                        if let Some(d) = &p.default {
                            let empty = empty_rel();
                            if let Some((s, t)) = self.scalar(d, &empty) {
                                self.bind(&p.name.name, Binding::Scalar(s, t));
                            }
                        } else {
                            self.error(
                                DiagKind::NotSupported,
                                p.span,
                                format!(
                                    "query parameter '{}' has no default and Vigil cannot be given one",
                                    p.name.name
                                ),
                            );
                        }
                    }
                }
            }
        }
        result
    }

    fn let_statement(&mut self, l: &ast::Let) {
        match &l.value {
            LetValue::Function(f) => {
                self.bind(&l.name.name, Binding::Function(Rc::new(f.clone())));
            }
            LetValue::Expr(e) => {
                let tabular = self.is_tabular(e);
                let binding = if tabular {
                    self.tabular(e).map(Binding::Table)
                } else {
                    let empty = empty_rel();
                    self.scalar(e, &empty).map(|(s, t)| Binding::Scalar(s, t))
                };
                // A `let` that failed (already reported) still names something, so that its
                // uses do not add "unknown name" errors of their own.
                self.bind(&l.name.name, binding.unwrap_or(Binding::Failed { tabular }));
            }
        }
    }

    /// Whether `e` denotes a table rather than a scalar.
    fn is_tabular(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Pipe { .. }
            | ExprKind::Datatable { .. }
            | ExprKind::Range { .. }
            | ExprKind::Print { .. }
            | ExprKind::Union(_)
            | ExprKind::Search { .. } => true,
            ExprKind::Paren(inner) => self.is_tabular(inner),
            ExprKind::Name(n) => match self.lookup(n) {
                Some(Binding::Table(_)) => true,
                Some(Binding::Failed { tabular }) => *tabular,
                Some(Binding::Scalar(..)) => false,
                Some(Binding::Function(f)) => f.params.is_empty() && self.body_is_tabular(f),
                None => Table::from_name(n).is_some() || FOREIGN_TABLES.contains(&n.as_str()),
            },
            ExprKind::Call { name, .. } => match name.name.as_str() {
                "materialize" | "view" | "externaldata" => true,
                n => match self.lookup(n) {
                    Some(Binding::Function(f)) => self.body_is_tabular(f),
                    _ => false,
                },
            },
            ExprKind::Unsupported { .. } => true,
            _ => false,
        }
    }

    fn body_is_tabular(&self, f: &ast::Function) -> bool {
        match f.body.last() {
            Some(Statement::Expr(e)) => self.is_tabular(e),
            _ => false,
        }
    }

    /// Lower a tabular expression.
    fn tabular(&mut self, e: &Expr) -> Option<Rel> {
        if self.depth > 64 {
            self.error(DiagKind::Syntax, e.span, "the query nests too deeply");
            return None;
        }
        self.depth += 1;
        let out = self.tabular_inner(e);
        self.depth -= 1;
        out
    }

    fn tabular_inner(&mut self, e: &Expr) -> Option<Rel> {
        match &e.kind {
            ExprKind::Paren(inner) => self.tabular(inner),
            ExprKind::Name(n) => self.table_name(n, e.span),
            ExprKind::Pipe { source, ops } => {
                let rel = self.tabular(source)?;
                let mut piped = Piped {
                    rel,
                    order: Vec::new(),
                };
                let mut failed = false;
                for op in ops {
                    // A failed operator is skipped so that the ones after it are checked too
                    // (every error at once); the query is refused anyway.
                    match self.operator(piped.clone(), op) {
                        Some(next) => piped = next,
                        None => failed = true,
                    }
                }
                (!failed).then_some(piped.rel)
            }
            ExprKind::Call { name, args } => self.tabular_call(name, args, e.span),
            ExprKind::Datatable { columns, values } => self.datatable(columns, values, e.span),
            ExprKind::Range {
                column,
                from,
                to,
                step,
            } => self.range(column, from, to, step),
            ExprKind::Print { columns } => {
                let empty = empty_rel();
                let mut fields = Vec::new();
                let mut row = Vec::new();
                for (i, c) in columns.iter().enumerate() {
                    let (s, t) = self.scalar(&c.expr, &empty)?;
                    let name = c
                        .names
                        .first()
                        .map(|n| n.name.clone())
                        .unwrap_or_else(|| format!("print_{i}"));
                    fields.push(Field::new(name, t));
                    row.push(s);
                }
                Some(Rel {
                    node: Node::Values { rows: vec![row] },
                    fields,
                })
            }
            ExprKind::Union(u) => self.union(None, u, e.span),
            ExprKind::Search { tables, predicate } => self.search_source(tables, predicate),
            ExprKind::Unsupported { what } => {
                let message = match what.as_str() {
                    "externaldata" => "externaldata is not supported: Vigil does not fetch data from outside during a query (load it with datatable, or as indicators)".to_string(),
                    "find" => "'find' is not supported yet: use union (or search) over the tables".to_string(),
                    other => format!("'{other}' is not supported yet"),
                };
                self.error(DiagKind::NotSupported, e.span, message);
                None
            }
            _ => {
                self.error(
                    DiagKind::Type,
                    e.span,
                    "expected a tabular expression (a table, a 'let' name bound to one, or a pipeline)",
                );
                None
            }
        }
    }

    fn table_name(&mut self, n: &str, span: Span) -> Option<Rel> {
        match self.lookup(n).cloned() {
            Some(Binding::Table(rel)) => return Some(rel),
            Some(Binding::Function(f)) => return self.invoke(&f, n, None, &[], span),
            Some(Binding::Scalar(..)) => {
                self.error(
                    DiagKind::Type,
                    span,
                    format!("'{n}' is a scalar, not a table"),
                );
                return None;
            }
            Some(Binding::Failed { .. }) => return None,
            None => {}
        }
        if let Some(table) = Table::from_name(n) {
            return Some(self.scan(table));
        }
        if FOREIGN_TABLES.contains(&n) {
            self.error(
                DiagKind::NotSupported,
                span,
                format!("table '{n}' is not available in Vigil (it is not endpoint telemetry)"),
            );
            return None;
        }
        let lets: Vec<String> = self.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
        let candidates = Table::ALL
            .iter()
            .map(|t| t.name())
            .chain(lets.iter().map(String::as_str));
        let hint = names::did_you_mean(n, candidates);
        self.error(
            DiagKind::UnknownName,
            span,
            format!("unknown table '{n}'{hint}"),
        );
        None
    }

    fn tabular_call(&mut self, name: &ast::Ident, args: &[Expr], span: Span) -> Option<Rel> {
        match name.name.as_str() {
            "materialize" | "view" => match args {
                [one] => self.tabular(one),
                _ => {
                    self.error(
                        DiagKind::Type,
                        span,
                        format!("{}() takes one tabular argument", name.name),
                    );
                    None
                }
            },
            "externaldata" => {
                self.error(
                    DiagKind::NotSupported,
                    span,
                    "externaldata is not supported: Vigil does not fetch data from outside during a query",
                );
                None
            }
            n => match self.lookup(n).cloned() {
                Some(Binding::Function(f)) => self.invoke(&f, n, None, args, span),
                _ => {
                    let hint = if Table::from_name(n).is_some() {
                        String::new()
                    } else {
                        names::did_you_mean(n, Table::ALL.iter().map(|t| t.name()))
                    };
                    self.error(
                        DiagKind::UnknownName,
                        name.span,
                        format!("unknown tabular function '{n}'{hint}"),
                    );
                    None
                }
            },
        }
    }

    /// Lower the body of a user function with its parameters bound. `piped` is the input of
    /// `invoke` (bound to the first, tabular, parameter).
    fn invoke(
        &mut self,
        f: &ast::Function,
        name: &str,
        piped: Option<Rel>,
        args: &[Expr],
        span: Span,
    ) -> Option<Rel> {
        let mut scope = HashMap::new();
        let mut params = f.params.iter();
        if let Some(rel) = piped {
            match params.next() {
                Some(p) if matches!(p.ty, ast::ParamType::Tabular(_)) => {
                    scope.insert(p.name.name.clone(), Binding::Table(rel));
                }
                _ => {
                    self.error(
                        DiagKind::Type,
                        span,
                        format!("'{name}' does not take a table as its first parameter"),
                    );
                    return None;
                }
            }
        }
        let params: Vec<&ast::Param> = params.collect();
        if args.len() > params.len() {
            self.error(
                DiagKind::Type,
                span,
                format!(
                    "'{name}' takes {} argument(s) but {} were given",
                    params.len(),
                    args.len()
                ),
            );
            return None;
        }
        let empty = empty_rel();
        for (i, p) in params.iter().enumerate() {
            let binding = match (args.get(i), &p.ty) {
                (Some(a), ast::ParamType::Tabular(_)) => Binding::Table(self.tabular(a)?),
                (Some(a), ast::ParamType::Scalar(_)) => {
                    let (s, t) = self.scalar(a, &empty)?;
                    Binding::Scalar(s, t)
                }
                (None, _) => match &p.default {
                    Some(d) => {
                        let (s, t) = self.scalar(d, &empty)?;
                        Binding::Scalar(s, t)
                    }
                    None => {
                        self.error(
                            DiagKind::Type,
                            span,
                            format!("'{name}' needs a value for parameter '{}'", p.name.name),
                        );
                        return None;
                    }
                },
            };
            scope.insert(p.name.name.clone(), binding);
        }
        self.scopes.push(scope);
        let out = self.statements(&f.body);
        self.scopes.pop();
        out
    }

    fn datatable(
        &mut self,
        columns: &[(ast::Ident, ast::TypeName)],
        values: &[Expr],
        span: Span,
    ) -> Option<Rel> {
        let mut fields = Vec::new();
        for (name, ty) in columns {
            let t = self.type_name(ty)?;
            fields.push(Field::new(name.name.clone(), t));
        }
        if fields.is_empty() {
            self.error(DiagKind::Type, span, "datatable needs at least one column");
            return None;
        }
        if values.len() % fields.len() != 0 {
            self.error(
                DiagKind::Type,
                span,
                format!(
                    "datatable has {} values, not a multiple of its {} columns",
                    values.len(),
                    fields.len()
                ),
            );
            return None;
        }
        let empty = empty_rel();
        let mut rows = Vec::new();
        for chunk in values.chunks(fields.len()) {
            let mut row = Vec::new();
            for (v, f) in chunk.iter().zip(&fields) {
                let (s, t) = self.scalar(v, &empty)?;
                row.push(self.convert(s, t, f.ty, v.span)?);
            }
            rows.push(row);
        }
        Some(Rel {
            node: Node::Values { rows },
            fields,
        })
    }

    fn range(&mut self, column: &ast::Ident, from: &Expr, to: &Expr, step: &Expr) -> Option<Rel> {
        let empty = empty_rel();
        let (f, ft) = self.scalar(from, &empty)?;
        let (t, tt) = self.scalar(to, &empty)?;
        let (s, st) = self.scalar(step, &empty)?;
        let ty = match (ft, tt, st) {
            (Type::DateTime, Type::DateTime, Type::Timespan) => Type::DateTime,
            (a, b, c) if a.is_numeric() && b.is_numeric() && c.is_numeric() => {
                if a == Type::Real || b == Type::Real || c == Type::Real {
                    self.unsupported(step.span, "range over real numbers");
                    return None;
                }
                Type::Long
            }
            _ => {
                self.error(
                    DiagKind::Type,
                    from.span.to(step.span),
                    format!("range needs numbers, or datetimes with a timespan step, not {ft}, {tt}, {st}"),
                );
                return None;
            }
        };
        Some(Rel {
            node: Node::Range {
                from: f,
                to: t,
                step: s,
            },
            fields: vec![Field::new(column.name.clone(), ty)],
        })
    }

    fn type_name(&mut self, ty: &ast::TypeName) -> Option<Type> {
        match Type::from_name(&ty.name) {
            Some(t) => Some(t),
            None => {
                self.error(
                    DiagKind::Type,
                    ty.span,
                    format!("unknown type '{}'", ty.name),
                );
                None
            }
        }
    }
}

impl Checker<'_> {
    /// A stored table with every column, limited to the time range of the options.
    fn scan(&self, table: Table) -> Rel {
        let fields: Vec<Field> = table
            .columns()
            .iter()
            .map(|c| Field::new(c.name(), Type::of_column(c.ty())))
            .collect();
        let scan = Rel {
            node: Node::Scan {
                table: table.name().to_string(),
            },
            fields: fields.clone(),
        };
        match self.options.lookback_ns {
            Some(back) if fields.iter().any(|f| f.name == "Timestamp") => Rel {
                node: Node::Filter {
                    input: Box::new(scan),
                    predicate: Scalar::bin(
                        BinOp::Ge,
                        Scalar::col("Timestamp"),
                        Scalar::Lit(Lit::DateTime(self.options.now_ns.saturating_sub(back))),
                    ),
                },
                fields,
            },
            _ => scan,
        }
    }
}

/// The input of expressions evaluated outside any table (`let x = ...`, `print`).
fn empty_rel() -> Rel {
    Rel {
        node: Node::Values { rows: vec![vec![]] },
        fields: Vec::new(),
    }
}
