//! Source positions and diagnostics.

use std::fmt;

/// A byte range `[start, end)` of the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span that covers both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The text this span covers (empty if it lies outside `src`).
    pub fn text(self, src: &str) -> &str {
        src.get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// What kind of problem a diagnostic reports; `NotSupported` is a valid query that Vigil cannot
/// run (an offline-only limitation), everything else is a mistake in the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagKind {
    Syntax,
    UnknownName,
    Type,
    NotSupported,
}

/// One problem found in a query, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub kind: DiagKind,
    pub span: Span,
    /// Lowercase, no trailing period; says what is wrong and, where known, what to do.
    pub message: String,
}

impl Diagnostic {
    pub fn error(kind: DiagKind, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            kind,
            span,
            message: message.into(),
        }
    }

    /// `line:col: message` followed by the source line and a caret underline.
    pub fn render(&self, src: &str) -> String {
        let (line, col, text) = locate(src, self.span.start as usize);
        let width = (self.span.end.saturating_sub(self.span.start) as usize)
            .clamp(1, text.len().saturating_sub(col - 1).max(1));
        format!(
            "{line}:{col}: {}\n  {text}\n  {}{}",
            self.message,
            " ".repeat(col - 1),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}..{}: {}",
            self.span.start, self.span.end, self.message
        )
    }
}

/// 1-based line and column (in characters) of byte `offset`, and that line's text.
pub fn locate(src: &str, offset: usize) -> (usize, usize, &str) {
    let offset = offset.min(src.len());
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    let line = src[..line_start].matches('\n').count() + 1;
    let col = src[line_start..offset].chars().count() + 1;
    (line, col, &src[line_start..line_end])
}
