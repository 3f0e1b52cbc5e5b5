//! KQL (Kusto Query Language) for Vigil's advanced hunting.
//!
//! The pipeline is: [`parse`] (text → [`ast::Query`] and every syntax diagnostic at once) →
//! [`check`] (names resolved against Vigil's schema and the query's `let`s, types inferred,
//! "did you mean" for unknown names) into a backend-neutral relational plan ([`plan::Rel`]) →
//! [`sql::emit`] for a backend dialect (DataFusion for the embedded store). KQL's semantics
//! are the specification: `has` is a term match, `==` on strings is case-sensitive, strings
//! are never null, `join` defaults to `innerunique`.
//!
//! This crate does no I/O and knows no storage engine; the functions that SQL lacks are named
//! here (`kql_*`) and implemented by the backend (`vigil-store`'s `kql_fns`).

pub mod ast;
mod check;
mod lex;
mod order;
mod parse;
pub mod plan;
mod prune;
pub mod span;
pub mod sql;
pub mod types;

pub use check::time::parse_datetime;
pub use check::MAX_DISCOVERED;
pub use check::{check, Checked, Options};
pub use parse::parse;
pub use span::{DiagKind, Diagnostic, Severity, Span};

/// A query compiled for a backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub sql: String,
    /// The output columns, in order.
    pub fields: Vec<plan::Field>,
    /// The `render` chart kind, if the query asks for one.
    pub chart: Option<String>,
    /// The stored tables the query reads (each once, in order of first use).
    pub tables: Vec<String>,
    /// Whether it joins, looks up or unions relations.
    pub joins: bool,
    /// Queries to run first (`evaluate bag_unpack`/`pivot`): each gives the distinct keys
    /// (first column) to put into [`Options::discovered`] under `at` before compiling again.
    /// When not empty, `sql` is empty.
    pub discover: Vec<Discovery>,
}

/// A query whose answer the compilation needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    pub at: u32,
    pub sql: String,
}

/// Parse, check and emit `src` for `dialect`; every diagnostic when it fails.
pub fn compile(
    src: &str,
    options: &Options,
    dialect: sql::Dialect,
) -> Result<Compiled, Vec<Diagnostic>> {
    let (query, mut diags) = parse(src);
    diags.retain(|d| d.severity == Severity::Error);
    let Some(query) = query.filter(|_| diags.is_empty()) else {
        return Err(diags);
    };
    let checked = check(&query, options)?;
    if !checked.discover.is_empty() {
        let discover = checked
            .discover
            .into_iter()
            .map(|(at, rel)| Discovery {
                at,
                sql: sql::emit(&order::finish(prune::prune(rel)), dialect),
            })
            .collect();
        return Ok(Compiled {
            sql: String::new(),
            fields: Vec::new(),
            chart: checked.chart,
            tables: Vec::new(),
            joins: false,
            discover,
        });
    }
    let rel = order::finish(present(prune::prune(checked.rel)));
    let (tables, joins) = rel.sources();
    Ok(Compiled {
        sql: sql::emit(&rel, dialect),
        fields: rel.fields,
        chart: checked.chart,
        tables,
        joins,
        discover: Vec::new(),
    })
}

/// The result as clients read it: a timespan column (nanoseconds inside the plan) is shown in
/// KQL's `[d.]hh:mm:ss[.fffffff]` form; the column keeps its type `timespan`.
fn present(rel: plan::Rel) -> plan::Rel {
    use plan::{Node, Rel, Scalar};
    if !rel.fields.iter().any(|f| f.ty == types::Type::Timespan) {
        return rel;
    }
    let exprs = rel
        .fields
        .iter()
        .map(|f| {
            let col = Scalar::col(&f.name);
            if f.ty == types::Type::Timespan {
                Scalar::call("kql_tostring_timespan", vec![col])
            } else {
                col
            }
        })
        .collect();
    Rel {
        fields: rel.fields.clone(),
        node: Node::Project {
            input: Box::new(rel),
            exprs,
        },
    }
}
