//! Name suggestions ("did you mean") and the column names KQL derives from expressions.

use crate::ast::{Expr, ExprKind};

/// The candidate closest to `name` (case-insensitive edit distance), if it is close enough
/// to be a plausible typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = if c.to_lowercase() == lower {
            0
        } else {
            distance(&lower, &c.to_lowercase())
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let limit = (name.chars().count() / 3).max(1);
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c)
}

/// `", did you mean 'X'"` or nothing.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match closest(name, candidates) {
        Some(c) => format!(", did you mean '{c}'"),
        None => String::new(),
    }
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The name KQL gives a column computed by `expr` when the query names none; `None` when
/// KQL would number it (`Column1`, ...).
pub fn derived_name(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Name(n) => Some(n.clone()),
        ExprKind::Paren(e) => derived_name(e),
        ExprKind::Member { base, member } => {
            Some(format!("{}_{}", derived_name(base)?, member.name))
        }
        ExprKind::Index { base, index } => {
            let key = match &index.kind {
                ExprKind::Literal(crate::ast::Literal::String(s)) => s.clone(),
                ExprKind::Literal(crate::ast::Literal::Long(i)) => i.to_string(),
                _ => return None,
            };
            Some(format!("{}_{key}", derived_name(base)?))
        }
        _ => None,
    }
}

/// Whether `name` matches a `project-away`-style pattern with `*` wildcards.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == name;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_names_only() {
        let cols = ["DeviceName", "DeviceId", "FileName"];
        assert_eq!(closest("DeviceNmae", cols), Some("DeviceName"));
        assert_eq!(closest("devicename", cols), Some("DeviceName"));
        assert_eq!(closest("Completely", cols), None);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("Initiating*", "InitiatingProcessId"));
        assert!(wildcard_match("*Id", "DeviceId"));
        assert!(wildcard_match("*Process*", "InitiatingProcessId"));
        assert!(!wildcard_match("Device*", "FileName"));
        assert!(wildcard_match("FileName", "FileName"));
    }
}
