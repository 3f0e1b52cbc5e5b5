//! The KQL parser.

use crate::ast::Query;
use crate::span::{DiagKind, Diagnostic, Span};

/// Parse `src` into a query and every syntax diagnostic.
pub fn parse(src: &str) -> (Option<Query>, Vec<Diagnostic>) {
    let _ = src;
    (
        None,
        vec![Diagnostic::error(DiagKind::NotSupported, Span::default(), "kql parser not written yet")],
    )
}
