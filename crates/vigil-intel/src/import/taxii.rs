//! TAXII 2.1 without the network: the resources a poller reads (discovery, API root,
//! collections, envelopes), the objects URL it requests, and the headers it keeps.
//!
//! A poll loop (in the server) looks like: GET [`objects_url`] with `Accept:` [`MEDIA_TYPE`]
//! and `added_after` = the last [`DATE_ADDED_LAST`] header seen; import the envelope with
//! `Format::Taxii`; while `more` is true, GET again with `next`; then remember the newest
//! `X-TAXII-Date-Added-Last`, checked with [`date_added`] and sent back exactly as received
//! (TAXII timestamps have microseconds; [`Timestamp`] keeps the text, so nothing is lost).
//! An envelope's objects are imported exactly as a STIX bundle's (see `stix`): a broken
//! object fails the import naming it, an indicator whose pattern values are all bad is
//! skipped with the value and why.
//!
//! Invariant: this module does no I/O; every parse error names the resource and property.

use serde_json::{Map, Value};

use super::json;
use crate::IntelError;

/// The media type of TAXII 2.1 requests and responses (`Accept` and `Content-Type`).
pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The media type of STIX 2.1 content in a collection.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
/// The header holding the `date_added` of the last object in an objects response.
pub const DATE_ADDED_LAST: &str = "X-TAXII-Date-Added-Last";
/// The header holding the `date_added` of the first object in an objects response.
pub const DATE_ADDED_FIRST: &str = "X-TAXII-Date-Added-First";

/// A TAXII timestamp: RFC 3339 in UTC, kept as the server wrote it (with its microseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    text: String,
    ms: i64,
}

impl Timestamp {
    pub fn parse(text: &str) -> Result<Timestamp, IntelError> {
        let t = text.trim();
        let ms = super::time::parse_ms(t)
            .filter(|_| t.len() >= 20 && t.ends_with(['Z', 'z']))
            .ok_or_else(|| {
                IntelError::invalid(format!(
                    "{t:?} is not a TAXII timestamp (RFC 3339 in UTC, e.g. 2016-11-01T03:04:05.000000Z)"
                ))
            })?;
        Ok(Timestamp {
            text: t.to_string(),
            ms,
        })
    }

    pub fn from_ms(ms: i64) -> Timestamp {
        Timestamp {
            text: super::time::format_ms(ms),
            ms,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Unix ms (any finer fraction truncated).
    pub fn unix_ms(&self) -> i64 {
        self.ms
    }
}

/// Reads the value of an `X-TAXII-Date-Added-Last` (or `-First`) header.
pub fn date_added(header_value: &str) -> Result<Timestamp, IntelError> {
    Timestamp::parse(header_value).map_err(|e| e.at(format!("header {DATE_ADDED_LAST}")))
}

/// The server's discovery resource (`GET /taxii2/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    pub default: Option<String>,
    pub api_roots: Vec<String>,
}

/// An API root's information (`GET {api-root}/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoot {
    pub title: String,
    pub description: Option<String>,
    pub versions: Vec<String>,
    pub max_content_length: u64,
}

impl ApiRoot {
    /// Whether the root speaks TAXII 2.1.
    pub fn supports_21(&self) -> bool {
        self.versions
            .iter()
            .any(|v| v.replace(' ', "").eq_ignore_ascii_case(MEDIA_TYPE))
    }
}

/// One collection (`GET {api-root}/collections/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
    pub can_read: bool,
    pub can_write: bool,
    pub media_types: Vec<String>,
}

/// An objects (or manifest) response page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    /// More pages follow: request again with `next`.
    pub more: bool,
    pub next: Option<String>,
    pub objects: Vec<Value>,
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, IntelError> {
    v.as_object().ok_or_else(|| {
        IntelError::invalid(format!(
            "expected a TAXII {what} (a JSON object), found {}",
            json::kind(v)
        ))
    })
}

pub fn parse_discovery(data: &[u8]) -> Result<Discovery, IntelError> {
    let v = json::parse(data)?;
    let o = object(&v, "discovery resource")?;
    let at = |e: IntelError| e.at("discovery");
    Ok(Discovery {
        title: json::req_str(o, "title").map_err(at)?.to_string(),
        description: json::opt_str(o, "description")
            .map_err(at)?
            .map(str::to_string),
        contact: json::opt_str(o, "contact").map_err(at)?.map(str::to_string),
        default: json::opt_str(o, "default").map_err(at)?.map(str::to_string),
        api_roots: json::str_list(o, "api_roots").map_err(at)?,
    })
}

impl Discovery {
    /// The API roots as absolute URLs: a root given as a path (`/api1/`) is resolved against
    /// the discovery URL's scheme and host.
    pub fn api_root_urls(&self, discovery_url: &str) -> Result<Vec<String>, IntelError> {
        let origin = origin(discovery_url)?;
        Ok(self
            .api_roots
            .iter()
            .map(|r| {
                if r.contains("://") {
                    r.clone()
                } else {
                    format!("{origin}/{}", r.trim_start_matches('/'))
                }
            })
            .collect())
    }
}

fn origin(url: &str) -> Result<&str, IntelError> {
    let bad = || IntelError::invalid(format!("{url:?} is not an absolute http(s) URL"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(bad());
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if host_end == 0 {
        return Err(bad());
    }
    Ok(&url[..scheme.len() + 3 + host_end])
}

pub fn parse_api_root(data: &[u8]) -> Result<ApiRoot, IntelError> {
    let v = json::parse(data)?;
    let o = object(&v, "API root resource")?;
    let at = |e: IntelError| e.at("api root");
    let max = match o.get("max_content_length") {
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            IntelError::invalid(format!(
                "property max_content_length must be a whole number, found {n}"
            ))
        }),
        None => Err(IntelError::invalid(
            "missing required property max_content_length",
        )),
        Some(other) => Err(IntelError::invalid(format!(
            "property max_content_length must be a number, found {}",
            json::kind(other)
        ))),
    }
    .map_err(at)?;
    Ok(ApiRoot {
        title: json::req_str(o, "title").map_err(at)?.to_string(),
        description: json::opt_str(o, "description")
            .map_err(at)?
            .map(str::to_string),
        versions: json::str_list(o, "versions").map_err(at)?,
        max_content_length: max,
    })
}

/// Reads a collections response (`{"collections": [...]}`; an empty response is `{}`).
pub fn parse_collections(data: &[u8]) -> Result<Vec<Collection>, IntelError> {
    let v = json::parse(data)?;
    let o = object(&v, "collections resource")?;
    json::list(o, "collections")?
        .iter()
        .enumerate()
        .map(|(i, c)| collection(c).map_err(|e| e.at(format!("collection {i}"))))
        .collect()
}

/// Reads one collection resource.
pub fn collection(v: &Value) -> Result<Collection, IntelError> {
    let o = object(v, "collection")?;
    let flag = |k: &str| -> Result<bool, IntelError> {
        match o.get(k) {
            Some(Value::Bool(b)) => Ok(*b),
            None => Err(IntelError::invalid(format!(
                "missing required property {k}"
            ))),
            Some(other) => Err(IntelError::invalid(format!(
                "property {k} must be true or false, found {}",
                json::kind(other)
            ))),
        }
    };
    Ok(Collection {
        id: json::req_str(o, "id")?.to_string(),
        title: json::req_str(o, "title")?.to_string(),
        description: json::opt_str(o, "description")?.map(str::to_string),
        alias: json::opt_str(o, "alias")?.map(str::to_string),
        can_read: flag("can_read")?,
        can_write: flag("can_write")?,
        media_types: json::str_list(o, "media_types")?,
    })
}

pub fn parse_envelope(data: &[u8]) -> Result<Envelope, IntelError> {
    Envelope::from_value(json::parse(data)?)
}

impl Envelope {
    pub fn from_value(v: Value) -> Result<Envelope, IntelError> {
        let Value::Object(mut o) = v else {
            return Err(IntelError::invalid(format!(
                "expected a TAXII envelope (an object with objects, more, next), found {}",
                json::kind(&v)
            )));
        };
        let at = |e: IntelError| e.at("envelope");
        let more = json::opt_bool(&o, "more").map_err(at)?.unwrap_or(false);
        let next = match o.get("next") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                return Err(at(IntelError::invalid(format!(
                    "property next must be a string, found {}",
                    json::kind(other)
                ))))
            }
        };
        let objects = match o.remove("objects") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(at(IntelError::invalid(format!(
                    "property objects must be a list, found {}",
                    json::kind(&other)
                ))))
            }
        };
        if o.get("type").and_then(Value::as_str) == Some("bundle") {
            return Err(at(IntelError::invalid(
                "this is a STIX bundle, not a TAXII envelope (use format stix)",
            )));
        }
        Ok(Envelope {
            more,
            next,
            objects,
        })
    }
}

/// An API root URL as requests need it: white space, any query or fragment dropped, and a
/// trailing slash (TAXII paths end with one).
pub fn api_root_url(url: &str) -> String {
    let u = url.trim();
    let u = u.split(['?', '#']).next().unwrap_or(u);
    if u.ends_with('/') {
        u.to_string()
    } else {
        format!("{u}/")
    }
}

/// `{api_root}/collections/`.
pub fn collections_url(api_root: &str) -> String {
    format!("{}collections/", api_root_url(api_root))
}

/// `{api_root}/collections/{id}/objects/` with the poll's query: `added_after` (the last
/// `X-TAXII-Date-Added-Last` seen, sent back exactly as received; check it with
/// [`date_added`] when it is stored), `next` (of the previous page) and `limit`. Values are
/// percent-encoded.
pub fn objects_url(
    api_root: &str,
    collection_id: &str,
    added_after: Option<&str>,
    next: Option<&str>,
    limit: Option<u32>,
) -> String {
    let mut url = format!(
        "{}collections/{}/objects/",
        api_root_url(api_root),
        encode(collection_id)
    );
    let limit = limit.map(|l| l.to_string());
    let params = [
        ("added_after", added_after),
        ("next", next),
        ("limit", limit.as_deref()),
    ];
    let mut first = true;
    for (k, v) in params {
        let Some(v) = v else { continue };
        url.push(if first { '?' } else { '&' });
        first = false;
        url.push_str(k);
        url.push('=');
        url.push_str(&encode(v));
    }
    url
}

/// Percent-encodes all but RFC 3986's unreserved characters (and `,`, `:`, which TAXII
/// values such as timestamps and type lists use and which are allowed in a query).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b',' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_a_poll() {
        assert_eq!(
            api_root_url(" https://taxii.example/api1?x#y "),
            "https://taxii.example/api1/"
        );
        assert_eq!(
            collections_url("https://taxii.example/api1/"),
            "https://taxii.example/api1/collections/"
        );
        assert_eq!(
            objects_url(
                "https://taxii.example/api1",
                "91a7b528-80eb",
                Some("2016-11-01T03:04:05.000001Z"),
                Some("a b&c"),
                Some(100)
            ),
            "https://taxii.example/api1/collections/91a7b528-80eb/objects/\
             ?added_after=2016-11-01T03:04:05.000001Z&next=a%20b%26c&limit=100"
        );
        assert_eq!(
            objects_url("http://h:5000/api1/", "c/d", None, None, None),
            "http://h:5000/api1/collections/c%2Fd/objects/"
        );
        assert_eq!(
            objects_url("http://h/r/", "c", None, Some("p2"), None),
            "http://h/r/collections/c/objects/?next=p2"
        );
    }

    #[test]
    fn timestamps_keep_their_text() {
        let t = date_added("2016-11-03T12:30:59.001000Z").unwrap();
        assert_eq!(t.as_str(), "2016-11-03T12:30:59.001000Z");
        assert_eq!(t.unix_ms(), 1_478_176_259_001);
        let e = date_added("yesterday").unwrap_err();
        assert_eq!(e.record.as_deref(), Some("header X-TAXII-Date-Added-Last"));
        assert!(date_added("2016-11-03").is_err());
        assert_eq!(
            Timestamp::from_ms(1_478_176_259_001).as_str(),
            "2016-11-03T12:30:59.001Z"
        );
    }

    #[test]
    fn envelope_shapes() {
        let e =
            parse_envelope(br#"{"more": true, "next": "p2", "objects": [{"type": "indicator"}]}"#)
                .unwrap();
        assert!(e.more);
        assert_eq!(e.next.as_deref(), Some("p2"));
        assert_eq!(e.objects.len(), 1);
        assert_eq!(parse_envelope(b"{}").unwrap(), Envelope::default());
        assert!(parse_envelope(br#"{"objects": {}}"#)
            .unwrap_err()
            .message
            .contains("must be a list"));
        assert!(parse_envelope(br#"{"more": "maybe"}"#).is_err());
        assert!(parse_envelope(br#"{"type": "bundle", "objects": []}"#)
            .unwrap_err()
            .message
            .contains("use format stix"));
        assert!(parse_envelope(b"[]").is_err());
    }

    #[test]
    fn relative_api_roots_resolve_against_discovery() {
        let d =
            parse_discovery(br#"{"title": "t", "api_roots": ["/api1/", "https://other/api2/"]}"#)
                .unwrap();
        assert_eq!(
            d.api_root_urls("https://taxii.example:8443/taxii2/")
                .unwrap(),
            vec!["https://taxii.example:8443/api1/", "https://other/api2/"]
        );
        assert!(parse_discovery(br#"{"api_roots": []}"#)
            .unwrap_err()
            .message
            .contains("title"));
    }
}
