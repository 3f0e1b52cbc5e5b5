//! Paging, sorting and text search for the lists a handler loads whole (devices, incidents,
//! rules, detections, feeds, users, ...). The alerts, indicators, actions and audit lists
//! page in the state store instead, since they grow without bound.
//!
//! Parameters: `limit` (1 to 1000) and `offset` page the list and change the answer from an
//! array to `{"items", "total", "limit", "offset"}` (an array stays an array for callers that
//! do not page); `sort` names a field of the items, `order` is `asc` (default) or `desc`
//! (severity, risk and exposure levels sort by rank, `None` < `Unknown` < `Informational` <
//! `Low` < `Medium` < `High`); `q` keeps items with a text field containing it (any case).
//!
//! **Invariant:** a parameter the list does not know is refused, naming the ones it knows.

use std::cmp::Ordering;
use std::collections::HashMap;

use axum::Json;
use serde_json::{json, Value};

use super::body::page_param;
use super::{bad, ApiError, ApiResult};

/// The parameters every paged list takes.
pub(crate) const LIST_PARAMS: &[&str] = &["limit", "offset", "sort", "order", "q"];

/// The most items one page holds.
const MAX_LIMIT: u64 = 1000;

/// How a list is paged, sorted and searched.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    limit: Option<u64>,
    offset: u64,
    sort: Option<String>,
    descending: bool,
    q: Option<String>,
}

impl ListQuery {
    /// The list parameters of `q`; `own` names the list's other parameters (any other name
    /// is refused).
    pub(crate) fn parse(q: &HashMap<String, String>, own: &[&str]) -> Result<ListQuery, ApiError> {
        if let Some(k) = q
            .keys()
            .find(|k| !own.contains(&k.as_str()) && !LIST_PARAMS.contains(&k.as_str()))
        {
            let mut known: Vec<&str> = own.iter().chain(LIST_PARAMS).copied().collect();
            known.sort_unstable();
            return Err(bad(format!(
                "unknown parameter {k:?}: the parameters are {}",
                known.join(", ")
            )));
        }
        let limit = match q.get("limit") {
            None => None,
            Some(_) => match page_param(q, "limit", 0)? {
                n @ 1..=MAX_LIMIT => Some(n),
                _ => return Err(bad(format!("parameter limit must be 1 to {MAX_LIMIT}"))),
            },
        };
        let descending = match q.get("order").map(|o| o.to_ascii_lowercase()).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(bad(format!(
                    "parameter order must be asc or desc, not {:?}",
                    q["order"]
                )))
            }
        };
        Ok(ListQuery {
            limit,
            offset: page_param(q, "offset", 0)?,
            sort: q.get("sort").filter(|s| !s.is_empty()).cloned(),
            descending,
            q: q.get("q")
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty()),
        })
    }

    /// Search, sort and page `items` (JSON objects). Paged when `limit` or `offset` was given.
    pub(crate) fn answer(&self, mut items: Vec<Value>) -> ApiResult {
        if let Some(needle) = &self.q {
            items.retain(|item| contains_text(item, needle));
        }
        if let Some(key) = &self.sort {
            if let Some(first) = items.first() {
                if items.iter().all(|i| i.get(key).is_none()) {
                    let mut keys: Vec<&String> = first
                        .as_object()
                        .map(|o| o.keys().collect())
                        .unwrap_or_default();
                    keys.sort();
                    return Err(bad(format!(
                        "parameter sort must name a field of the items ({}), not {key:?}",
                        keys.iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            // A stable sort (equal keys keep the list's own order); missing values last
            // in either order.
            let missing = |v: Option<&Value>| v.is_none_or(Value::is_null);
            items.sort_by(|a, b| {
                let (x, y) = (a.get(key), b.get(key));
                match (missing(x), missing(y)) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ if self.descending => compare(x, y).reverse(),
                    _ => compare(x, y),
                }
            });
        }
        if self.limit.is_none() && self.offset == 0 {
            return Ok(Json(Value::Array(items)));
        }
        let total = items.len();
        let limit = self.limit.unwrap_or(100);
        let page: Vec<Value> = items
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(limit as usize)
            .collect();
        Ok(Json(json!({
            "items": page,
            "total": total,
            "limit": limit,
            "offset": self.offset,
        })))
    }
}

/// Whether a top-level text field of `item` contains `needle` (lowercase).
fn contains_text(item: &Value, needle: &str) -> bool {
    item.as_object().is_some_and(|o| {
        o.values().any(|v| match v {
            Value::String(s) => s.to_lowercase().contains(needle),
            Value::Array(a) => a.iter().any(|x| {
                x.as_str()
                    .is_some_and(|s| s.to_lowercase().contains(needle))
            }),
            _ => false,
        })
    })
}

/// Severity, risk and exposure levels, lowest first: two of them sort by rank, not by name.
const LEVELS: &[&str] = &["None", "Unknown", "Informational", "Low", "Medium", "High"];

fn level(s: &str) -> Option<usize> {
    LEVELS.iter().position(|l| l.eq_ignore_ascii_case(s))
}

/// Order of two present field values: numbers by value, levels by rank, other text by its
/// lowercase form, booleans false first; of different kinds, numbers and booleans before text.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let rank = |v: Option<&Value>| match v {
        None | Some(Value::Null) => 3,
        Some(Value::Number(_)) | Some(Value::Bool(_)) => 0,
        Some(Value::String(_)) => 1,
        Some(_) => 2,
    };
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => match (level(x), level(y)) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => x
                .to_lowercase()
                .cmp(&y.to_lowercase())
                .then_with(|| x.cmp(y)),
        },
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (x, y) => rank(x)
            .cmp(&rank(y))
            .then_with(|| x.map(Value::to_string).cmp(&y.map(Value::to_string))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn items() -> Vec<Value> {
        vec![
            json!({"Name": "web-2", "Seen": 30, "Group": "east"}),
            json!({"Name": "db-1", "Seen": null, "Group": "west"}),
            json!({"Name": "Web-1", "Seen": 10, "Group": "east"}),
        ]
    }

    fn names(v: &Value) -> Vec<&str> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["Name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn sorts_searches_and_pages() {
        let l = ListQuery::parse(&q(&[("sort", "Name")]), &[]).unwrap();
        assert_eq!(
            names(&l.answer(items()).unwrap().0),
            ["db-1", "Web-1", "web-2"]
        );
        let l = ListQuery::parse(&q(&[("sort", "Seen"), ("order", "desc")]), &[]).unwrap();
        // Null last either way.
        assert_eq!(
            names(&l.answer(items()).unwrap().0),
            ["web-2", "Web-1", "db-1"]
        );
        let l = ListQuery::parse(&q(&[("q", "EAST"), ("sort", "Seen")]), &[]).unwrap();
        assert_eq!(names(&l.answer(items()).unwrap().0), ["Web-1", "web-2"]);
        let l = ListQuery::parse(
            &q(&[("limit", "1"), ("offset", "1"), ("sort", "Name")]),
            &[],
        )
        .unwrap();
        let page = l.answer(items()).unwrap().0;
        assert_eq!(page["total"], 3);
        assert_eq!(names(&page["items"]), ["Web-1"]);
    }

    #[test]
    fn levels_sort_by_rank() {
        let v = ["Medium", "high", "None", "Informational", "Low"]
            .iter()
            .map(|l| json!({ "Name": l }))
            .collect();
        let l = ListQuery::parse(&q(&[("sort", "Name")]), &[]).unwrap();
        assert_eq!(
            names(&l.answer(v).unwrap().0),
            ["None", "Informational", "Low", "Medium", "high"]
        );
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        let e = ListQuery::parse(&q(&[("limti", "1")]), &["status"]).unwrap_err();
        assert!(
            e.1.contains("\"limti\"") && e.1.contains("status"),
            "{}",
            e.1
        );
        assert!(ListQuery::parse(&q(&[("limit", "0")]), &[]).is_err());
        assert!(ListQuery::parse(&q(&[("limit", "1001")]), &[]).is_err());
        assert!(ListQuery::parse(&q(&[("order", "up")]), &[]).is_err());
        let l = ListQuery::parse(&q(&[("sort", "Nope")]), &[]).unwrap();
        let e = l.answer(items()).unwrap_err();
        assert!(e.1.contains("Group, Name, Seen"), "{}", e.1);
    }
}
