//! MISP warning lists: known-benign values (public resolvers, CDN ranges, top domains) that
//! must not become indicators.
//!
//! A list is JSON with `name`, `type` and `list` (and optionally `description` and
//! `matching_attributes`). Types, and what an indicator must be to be covered:
//! - `string`: its value equals an entry (case-insensitive; address entries compared in their
//!   canonical form).
//! - `substring`: its value contains an entry (case-insensitive).
//! - `hostname`: a domain indicator, or a URL's host, equal to an entry or a subdomain of it.
//! - `cidr`: an address (or a URL's host address) inside an entry's network, or a network
//!   wholly inside one. Entries are networks or single addresses.
//! - `regex`: an entry (Rust `regex` syntax; MISP's `/.../flags` delimiters and the `i`, `m`,
//!   `s`, `x` flags are accepted) matches its value.
//!
//! `matching_attributes` (MISP attribute types such as `ip-dst`, `domain`) restricts a list to
//! the indicator types those attributes become; a list naming only types Vigil never imports
//! covers nothing. Invariant: a list that loads has every entry checked (a bad network or
//! regex is an error naming the entry), so `covers` never fails.

use std::collections::HashSet;
use std::net::IpAddr;

use regex::Regex;
use serde_json::Value;

use super::{json, Imported, Skipped};
use crate::normalize;
use crate::{Indicator, IndicatorType, IntelError};

#[derive(Debug, Clone)]
enum Entries {
    Strings(HashSet<String>),
    Substrings(Vec<String>),
    Hostnames(HashSet<String>),
    /// (network as 128 bits with IPv4 mapped into ::ffff:0:0/96, prefix length in 128 bits).
    Networks(Vec<(u128, u8)>),
    Regexes(Vec<Regex>),
}

/// One warning list, ready to check indicators against.
#[derive(Debug, Clone)]
pub struct WarningList {
    name: String,
    description: String,
    entries: Entries,
    /// The indicator types it applies to; `None` is all.
    kinds: Option<Vec<IndicatorType>>,
}

fn kinds_of_attribute(attr: &str) -> &'static [IndicatorType] {
    use IndicatorType::*;
    match attr {
        "md5" | "filename|md5" | "malware-sample" => &[Md5],
        "sha1" | "filename|sha1" => &[Sha1],
        "sha256" | "filename|sha256" => &[Sha256],
        "ip-src" | "ip-dst" | "ip-src|port" | "ip-dst|port" => &[Ip, Cidr],
        "domain|ip" => &[Domain, Ip, Cidr],
        "domain" | "hostname" | "hostname|port" => &[Domain],
        "url" | "uri" | "link" => &[Url],
        "x509-fingerprint-sha1" => &[Cert],
        _ => &[],
    }
}

fn to128(addr: IpAddr) -> u128 {
    match normalize::canonical_addr(addr) {
        IpAddr::V4(a) => 0xffff_0000_0000u128 | u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// A network in the 128-bit space.
fn net128(addr: IpAddr, len: u8) -> (u128, u8) {
    let len = if normalize::canonical_addr(addr).is_ipv4() {
        len + 96
    } else {
        len
    };
    (to128(addr) & normalize::mask128(len), len)
}

/// A string entry's canonical form: addresses as `normalize` writes them, the rest lowercase.
fn canonical_entry(e: &str) -> String {
    let e = e.trim();
    match normalize::parse_addr(e) {
        Some(a) => a.to_string(),
        None => e.trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// `/body/flags` → `(?flags)body`; anything else as written.
fn misp_regex(entry: &str) -> Result<String, String> {
    let Some(rest) = entry.strip_prefix('/') else {
        return Ok(entry.to_string());
    };
    let Some(end) = rest.rfind('/') else {
        return Ok(entry.to_string());
    };
    let (body, flags) = (&rest[..end], &rest[end + 1..]);
    if let Some(bad) = flags.chars().find(|f| !"imsx".contains(*f)) {
        return Err(format!("flag {bad:?} is not supported (i, m, s, x are)"));
    }
    Ok(if flags.is_empty() {
        body.to_string()
    } else {
        format!("(?{flags}){body}")
    })
}

impl WarningList {
    /// Reads a MISP warning list.
    pub fn parse(data: &[u8]) -> Result<WarningList, IntelError> {
        let v = json::parse(data)?;
        let o = v.as_object().ok_or_else(|| {
            IntelError::invalid(format!(
                "expected a MISP warning list (an object with name, type, list), found {}",
                json::kind(&v)
            ))
        })?;
        let name = json::req_str(o, "name")?.to_string();
        let at = |e: IntelError| e.at(format!("warning list {name:?}"));
        let description = json::opt_str(o, "description")
            .map_err(at)?
            .unwrap_or("")
            .to_string();
        let ty = json::opt_str(o, "type").map_err(at)?.unwrap_or("string");
        let items: Vec<String> = json::list(o, "list")
            .map_err(at)?
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(at(IntelError::invalid(format!(
                    "list entries must be strings, found {}",
                    json::kind(other)
                )))),
            })
            .collect::<Result<_, _>>()?;
        let entry_err = |i: usize, msg: String| {
            IntelError::invalid(msg).at(format!("warning list {name:?} entry {i}"))
        };
        let entries = match ty {
            "string" => Entries::Strings(items.iter().map(|e| canonical_entry(e)).collect()),
            "substring" => Entries::Substrings(
                items
                    .iter()
                    .map(|e| e.trim().to_ascii_lowercase())
                    .filter(|e| !e.is_empty())
                    .collect(),
            ),
            "hostname" => Entries::Hostnames(
                items
                    .iter()
                    .map(|e| {
                        let e = e.trim().trim_end_matches('.').to_ascii_lowercase();
                        e.trim_start_matches("*.").trim_start_matches('.').to_string()
                    })
                    .filter(|e| !e.is_empty())
                    .collect(),
            ),
            "cidr" => Entries::Networks(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        normalize::cidr(e.trim())
                            .map(|(a, l)| net128(a, l))
                            .map_err(|err| entry_err(i, err.message))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            "regex" => Entries::Regexes(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        let src = misp_regex(e).map_err(|m| entry_err(i, format!("regex {e:?}: {m}")))?;
                        Regex::new(&src).map_err(|err| entry_err(i, format!("regex {e:?} does not compile: {err}")))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(at(IntelError::invalid(format!(
                    "unknown warning list type {other:?} (expected string, substring, hostname, cidr or regex)"
                ))))
            }
        };
        let attrs = json::str_list(o, "matching_attributes").map_err(at)?;
        let kinds = if attrs.is_empty() {
            None
        } else {
            let mut k: Vec<IndicatorType> = attrs
                .iter()
                .flat_map(|a| kinds_of_attribute(a).iter().copied())
                .collect();
            k.sort();
            k.dedup();
            Some(k)
        };
        Ok(WarningList {
            name,
            description,
            entries,
            kinds,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// The list's MISP type: `string`, `substring`, `hostname`, `cidr` or `regex`.
    pub fn kind_name(&self) -> &'static str {
        match self.entries {
            Entries::Strings(_) => "string",
            Entries::Substrings(_) => "substring",
            Entries::Hostnames(_) => "hostname",
            Entries::Networks(_) => "cidr",
            Entries::Regexes(_) => "regex",
        }
    }

    /// The number of (distinct, for string and hostname lists) entries.
    pub fn len(&self) -> usize {
        match &self.entries {
            Entries::Strings(s) | Entries::Hostnames(s) => s.len(),
            Entries::Substrings(v) => v.len(),
            Entries::Networks(v) => v.len(),
            Entries::Regexes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the list says `ind` is benign.
    pub fn covers(&self, ind: &Indicator) -> bool {
        if let Some(kinds) = &self.kinds {
            if !kinds.contains(&ind.kind) {
                return false;
            }
        }
        let value = ind.value.as_str();
        match &self.entries {
            Entries::Strings(set) => set.contains(&canonical_entry(value)),
            Entries::Substrings(subs) => {
                let v = value.to_ascii_lowercase();
                subs.iter().any(|s| v.contains(s.as_str()))
            }
            Entries::Hostnames(set) => {
                let host = match ind.kind {
                    IndicatorType::Domain => value,
                    IndicatorType::Url => normalize::url_host(value),
                    _ => return false,
                };
                let mut h = host;
                loop {
                    if set.contains(h) {
                        return true;
                    }
                    match h.split_once('.') {
                        Some((_, rest)) => h = rest,
                        None => return false,
                    }
                }
            }
            Entries::Networks(nets) => {
                let (addr, len) = match ind.kind {
                    IndicatorType::Ip | IndicatorType::Cidr => match normalize::cidr(value) {
                        Ok((a, l)) => net128(a, l),
                        Err(_) => return false,
                    },
                    IndicatorType::Url => match normalize::parse_addr(normalize::url_host(value)) {
                        Some(a) => net128(a, if a.is_ipv4() { 32 } else { 128 }),
                        None => return false,
                    },
                    _ => return false,
                };
                nets.iter()
                    .any(|(net, nlen)| len >= *nlen && addr & normalize::mask128(*nlen) == *net)
            }
            Entries::Regexes(res) => res.iter().any(|r| r.is_match(value)),
        }
    }
}

/// Moves every imported indicator a list covers into `skipped`, the reason naming the list
/// (the first that covers it).
pub fn apply(lists: &[WarningList], imported: &mut Imported) {
    let mut kept = Vec::with_capacity(imported.indicators.len());
    for ind in std::mem::take(&mut imported.indicators) {
        match lists.iter().find(|l| l.covers(&ind)) {
            Some(l) => imported.skipped.push(Skipped {
                record: ind.provenance.reference.clone(),
                reason: format!(
                    "{} {} is on the warning list {:?}",
                    ind.kind, ind.value, l.name
                ),
            }),
            None => kept.push(ind),
        }
    }
    imported.indicators = kept;
}

impl Imported {
    /// See [`apply`].
    pub fn apply_warning_lists(&mut self, lists: &[WarningList]) {
        apply(lists, self)
    }
}
