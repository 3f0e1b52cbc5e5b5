//! KQL (Kusto Query Language) for Vigil's advanced hunting.
//!
//! The pipeline is: [`parse`] (text → [`ast::Query`] and every syntax diagnostic at once) →
//! check and lower against Vigil's schema (names resolved, types inferred, "did you mean" for
//! unknown names) into a backend-neutral relational plan → emit SQL for a backend dialect
//! (DataFusion for the embedded store). KQL's semantics are the specification: `has` is a
//! term match, string comparisons are case-sensitive unless the operator says otherwise,
//! `join` defaults to `innerunique`.
//!
//! This crate does no I/O and knows no storage engine; the functions that SQL lacks are named
//! here and implemented by the backend (see `vigil-store`'s KQL functions).

pub mod ast;
mod lex;
mod parse;
pub mod span;

pub use parse::parse;
pub use span::{DiagKind, Diagnostic, Severity, Span};
