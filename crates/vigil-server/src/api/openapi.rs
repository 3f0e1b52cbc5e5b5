//! The API's OpenAPI 3.1 description, served at `GET /api/openapi.json` (no token needed).
//!
//! Every operation is one line of [`OPERATIONS`]: method, path, tag, summary, then its query
//! parameters (`?name:type ...`) and JSON body fields (`{name:type ...}`, `!` marks a required
//! field); types are `str` (the default), `int`, `num`, `bool`, `[str]`, `[int]`, `obj` and
//! `any`; `raw` instead of a body takes any bytes (imports, uploads). Lists paged by
//! `api/list.rs` name its parameters (`limit offset sort order q`). The permission an
//! operation needs comes from the access guard's table ([`super::access::required`]), so the
//! document cannot disagree with what is enforced.
//!
//! **Invariant:** the lines name every route the router serves and no other; the integration
//! test `openapi` walks the document and checks each operation is routed, and the authorization
//! matrix's routes are all described.

use std::sync::OnceLock;

use axum::http::Method;
use serde_json::{json, Map, Value};

use super::access::{required, Need};

/// One line per operation (see the module doc for the notation).
const OPERATIONS: &[&str] = &[
    // Settings.
    "GET /api/v1/settings|settings|Server-wide settings: automation level, retention",
    "PATCH /api/v1/settings|settings|Change the automation level and/or the retention|{automation_level, retention_days:int}",
    // Access control.
    "POST /api/v1/auth/login|access|Log in to the console (sets the session cookie, answers the CSRF token)|{username!, password!}",
    "POST /api/v1/auth/logout|access|End the console session",
    "GET /api/v1/auth/me|access|Who the request acts as, with its permissions",
    "GET /api/v1/users|access|Console users|?limit:int offset:int sort order q",
    "POST /api/v1/users|access|Create a console user|{name!, password!, role!, device_groups:[str]}",
    "PATCH /api/v1/users/{name}|access|Change a user's role, groups, password or disabled state|{role, device_groups:[str], password, disabled:bool}",
    "DELETE /api/v1/users/{name}|access|Delete a user and end their sessions",
    "GET /api/v1/roles|access|Roles with their permissions|?limit:int offset:int sort order q",
    "POST /api/v1/roles|access|Create a custom role|{name!, description, permissions!:[str]}",
    "DELETE /api/v1/roles/{name}|access|Delete a custom role nobody holds",
    "GET /api/v1/api-tokens|access|API tokens (never their secrets)|?limit:int offset:int sort order q",
    "POST /api/v1/api-tokens|access|Create an API token (the secret is answered once)|{name!, role!, device_groups:[str]}",
    "POST /api/v1/api-tokens/{id}/revoke|access|Revoke an API token",
    "GET /api/v1/audit|access|The audit log of changes|?actor limit:int offset:int",
    // Devices and enrolment.
    "GET /api/v1/enrollment-tokens|devices|Enrolment tokens|?limit:int offset:int sort order q",
    "POST /api/v1/enrollment-tokens|devices|Create an enrolment token|{label, ttl_seconds:int, max_uses:int}",
    "POST /api/v1/enrollment-tokens/{id}/revoke|devices|Revoke an enrolment token",
    "GET /api/v1/devices|devices|The device inventory with health, risk, exposure and tags|?tag health risk exposure group limit:int offset:int sort order q",
    "GET /api/v1/devices/{id}|devices|One device",
    "PATCH /api/v1/devices/{id}|devices|Set a device's group and/or tags|{group, tags:[str]}",
    "POST /api/v1/devices/{id}/revoke|devices|Revoke a device's certificate",
    "POST /api/v1/events/sql|hunting|Read-only SQL over the telemetry tables|{sql!}",
    // Alerts and incidents.
    "GET /api/v1/alerts|alerts|Alerts, filtered; paged and sorted when limit or offset is given|?since_ms:int until_ms:int status severity device incident source technique assignee q limit:int offset:int sort order",
    "POST /api/v1/alerts/bulk|alerts|Triage many alerts at once|{ids!:[str], status, classification, determination, assignee, comment}",
    "GET /api/v1/alerts/{id}|alerts|One alert with its evidence, comments and history",
    "PATCH /api/v1/alerts/{id}|alerts|Triage an alert|{status, classification, determination, assignee, comment}",
    "POST /api/v1/alerts/{id}/comments|alerts|Comment on an alert|{comment!}",
    "GET /api/v1/incidents|alerts|Incidents|?since_ms:int status limit:int offset:int sort order q",
    "GET /api/v1/incidents/{id}|alerts|One incident with its alerts, entities and history",
    "PATCH /api/v1/incidents/{id}|alerts|Triage an incident|{status, classification, determination, assignee, comment}",
    "POST /api/v1/incidents/{id}/comments|alerts|Comment on an incident|{comment!}",
    // Detection content.
    "GET /api/v1/rules|detections|The rule catalogue with enable switches|?limit:int offset:int sort order q",
    "POST /api/v1/rules/{id}/enable|detections|Enable a rule",
    "POST /api/v1/rules/{id}/disable|detections|Disable a rule",
    "GET /api/v1/suppressions|detections|Suppression rules|?limit:int offset:int sort order q",
    "POST /api/v1/suppressions|detections|Create a suppression rule|{rule_id!, conditions:obj, devices:[str], action, ttl_seconds:int, expires_ms:int, comment}",
    "DELETE /api/v1/suppressions/{id}|detections|Delete a suppression rule",
    "GET /api/v1/custom-detections|detections|Custom detection rules|?limit:int offset:int sort order q",
    "POST /api/v1/custom-detections|detections|Create a custom detection (a scheduled KQL query)|{name!, query!, schedule!, title!, description, severity!, category, techniques:[str], recommended_actions, actions:[str]}",
    "GET /api/v1/custom-detections/{id}|detections|One custom detection with its last runs",
    "DELETE /api/v1/custom-detections/{id}|detections|Delete a custom detection",
    "POST /api/v1/custom-detections/{id}/enable|detections|Enable a custom detection",
    "POST /api/v1/custom-detections/{id}/disable|detections|Disable a custom detection",
    "POST /api/v1/custom-detections/{id}/run|detections|Run a custom detection now",
    // Hunting.
    "POST /api/v1/hunt|hunting|Run a KQL query|{query!, max_rows:int}",
    "GET /api/v1/hunt/queries|hunting|Saved queries (own and shared)|?limit:int offset:int sort order q",
    "POST /api/v1/hunt/queries|hunting|Save a query|{name!, query!, description, shared:bool}",
    "GET /api/v1/hunt/queries/{id}|hunting|One saved query",
    "DELETE /api/v1/hunt/queries/{id}|hunting|Delete a saved query",
    // Threat intelligence.
    "GET /api/v1/indicators|intel|Indicators, filtered and paged|?type action source q live:bool limit:int offset:int",
    "POST /api/v1/indicators|intel|Add an indicator|{type!, value!, action, severity, title, description, ttl_seconds:int, expires_ms:int, device_groups:[str], generate_alert:bool}",
    "POST /api/v1/indicators/import|intel|Import indicators (STIX, TAXII envelope, MISP, CSV, abuse.ch)|?format source action severity generate_alert:bool ttl_seconds:int replace:bool|raw",
    "GET /api/v1/indicators/export|intel|Export indicators as CSV",
    "POST /api/v1/indicators/retrohunt|intel|Search stored telemetry for indicators|{ids!:[int]}",
    "GET /api/v1/indicators/{id}|intel|One indicator",
    "PATCH /api/v1/indicators/{id}|intel|Change an indicator|{action, severity, title, description, ttl_seconds:int, expires_ms:int, device_groups:[str], generate_alert:bool}",
    "DELETE /api/v1/indicators/{id}|intel|Delete an indicator",
    "GET /api/v1/feeds|intel|Indicator feeds|?limit:int offset:int sort order q",
    "POST /api/v1/feeds|intel|Add a feed (file or TAXII 2.1)|{name!, format!, url!, collection, username, secret, interval_seconds:int, action, severity, generate_alert:bool, expire_after_seconds:int, enabled:bool}",
    "GET /api/v1/feeds/{id}|intel|One feed with its last run",
    "DELETE /api/v1/feeds/{id}|intel|Delete a feed",
    "POST /api/v1/feeds/{id}/refresh|intel|Fetch a feed now",
    "POST /api/v1/feeds/{id}/enable|intel|Enable a feed",
    "POST /api/v1/feeds/{id}/disable|intel|Disable a feed",
    "GET /api/v1/warninglists|intel|MISP warning lists|?limit:int offset:int sort order q",
    "POST /api/v1/warninglists|intel|Add or replace a MISP warning list|raw",
    "DELETE /api/v1/warninglists/{id}|intel|Delete a warning list",
    "GET /api/v1/files/{hash}|entities|A file's page: prevalence, alerts, indicators|?days:int",
    "GET /api/v1/ips/{ip}|entities|An IP address's page|?days:int",
    "GET /api/v1/domains/{name}|entities|A domain's page|?days:int",
    // Response.
    "POST /api/v1/devices/{id}/actions|response|Request a response action on a device|{type!, args:obj, comment, ttl_seconds:int}",
    "GET /api/v1/actions|response|The action center|?device status type pending:bool session limit:int offset:int",
    "GET /api/v1/actions/{id}|response|One action with its timeline",
    "POST /api/v1/actions/{id}/cancel|response|Cancel an action that has not finished|{comment}",
    "POST /api/v1/actions/{id}/approve|response|Approve an action automation requested (PendingApproval)|{comment}",
    "POST /api/v1/actions/{id}/undo|response|Undo an action (release, restore, unrestrict)|{comment}",
    "GET /api/v1/action-files/{id}|response|Download a file an action collected",
    "GET /api/v1/library|response|The live-response file library|?limit:int offset:int sort order q",
    "POST /api/v1/library|response|Add a file to the library|?name description|raw",
    "DELETE /api/v1/library/{name}|response|Delete a library file",
    "POST /api/v1/devices/{id}/live|response|Open a live-response session",
    "GET /api/v1/live/{session}|response|A live-response session with its commands",
    "DELETE /api/v1/live/{session}|response|Close a live-response session",
    "POST /api/v1/live/{session}/commands|response|Run a live-response command|{command!, args:obj, wait_seconds:int}",
];

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| build(OPERATIONS).expect("the OpenAPI lines are well formed (unit-tested)"))
}

fn build(lines: &[&str]) -> Result<Value, String> {
    let mut paths = Map::new();
    for line in lines {
        let op = Operation::parse(line)?;
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method.as_str().to_ascii_lowercase()] = op.to_json();
    }
    let problem = json!({
        "description": "refused: the problem names what is wrong",
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
    });
    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Vigil's management API. Authenticate with an API token (Authorization: Bearer) or a console session (cookie vigil_session and, on changes, X-CSRF-Token).",
            "license": { "name": "Apache-2.0" }
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }, { "session": [], "csrf": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "session": { "type": "apiKey", "in": "cookie", "name": super::access::SESSION_COOKIE },
                "csrf": { "type": "apiKey", "in": "header", "name": "X-CSRF-Token" }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "properties": {
                        "type": { "type": "string" },
                        "title": { "type": "string" },
                        "status": { "type": "integer" },
                        "detail": { "type": "string" },
                        "error": { "type": "string" }
                    },
                    "required": ["status", "detail"]
                }
            },
            "responses": { "Problem": problem }
        }
    }))
}

/// One parsed line.
struct Operation<'a> {
    method: Method,
    path: &'a str,
    tag: &'a str,
    summary: &'a str,
    query: Vec<(&'a str, &'a str)>,
    body: Body<'a>,
}

enum Body<'a> {
    None,
    Raw,
    Fields(Vec<(&'a str, &'a str, bool)>),
}

impl<'a> Operation<'a> {
    fn parse(line: &'a str) -> Result<Self, String> {
        let mut parts = line.split('|');
        let head = parts.next().unwrap_or_default();
        let (method, path) = head
            .split_once(' ')
            .ok_or_else(|| format!("{line:?}: expected METHOD PATH"))?;
        let method = match method {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PATCH" => Method::PATCH,
            "PUT" => Method::PUT,
            "DELETE" => Method::DELETE,
            _ => return Err(format!("{line:?}: bad method {method:?}")),
        };
        if !path.starts_with("/api/") {
            return Err(format!("{line:?}: the path must start with /api/"));
        }
        let tag = parts.next().ok_or_else(|| format!("{line:?}: no tag"))?;
        let summary = parts
            .next()
            .ok_or_else(|| format!("{line:?}: no summary"))?;
        let mut op = Operation {
            method,
            path,
            tag,
            summary,
            query: Vec::new(),
            body: Body::None,
        };
        for part in parts {
            if let Some(q) = part.strip_prefix('?') {
                for p in q.split_whitespace() {
                    let (name, ty) = p.split_once(':').unwrap_or((p, "str"));
                    schema(ty).ok_or_else(|| format!("{line:?}: unknown type {ty:?}"))?;
                    op.query.push((name, ty));
                }
            } else if part == "raw" {
                op.body = Body::Raw;
            } else if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let mut fields = Vec::new();
                for f in inner.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    let (name, ty) = f.split_once(':').unwrap_or((f, "str"));
                    let (name, req) = match name.strip_suffix('!') {
                        Some(n) => (n, true),
                        None => (name, false),
                    };
                    schema(ty).ok_or_else(|| format!("{line:?}: unknown type {ty:?}"))?;
                    fields.push((name, ty, req));
                }
                op.body = Body::Fields(fields);
            } else {
                return Err(format!("{line:?}: cannot read {part:?}"));
            }
        }
        Ok(op)
    }

    fn to_json(&self) -> Value {
        let mut params: Vec<Value> = path_params(self.path)
            .map(|name| {
                json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } })
            })
            .collect();
        params.extend(self.query.iter().map(|(name, ty)| {
            json!({ "name": name, "in": "query", "required": false, "schema": schema(ty) })
        }));
        let mut op = json!({
            "tags": [self.tag],
            "summary": self.summary,
            "operationId": operation_id(&self.method, self.path),
            "parameters": params,
            "responses": {
                "200": { "description": "done", "content": { "application/json": { "schema": {} } } },
                "400": { "$ref": "#/components/responses/Problem" },
                "401": { "$ref": "#/components/responses/Problem" },
                "403": { "$ref": "#/components/responses/Problem" },
                "404": { "$ref": "#/components/responses/Problem" },
                "409": { "$ref": "#/components/responses/Problem" },
                "413": { "$ref": "#/components/responses/Problem" },
                "429": { "$ref": "#/components/responses/Problem" }
            }
        });
        match required(&self.method, self.path) {
            Need::Nothing => op["security"] = json!([]),
            Need::Anyone => op["x-permission"] = json!("any principal"),
            Need::Permission(p) => op["x-permission"] = json!(p),
        }
        match &self.body {
            Body::None => {}
            Body::Raw => {
                op["requestBody"] = json!({
                    "required": true,
                    "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } }
                });
            }
            Body::Fields(fields) => {
                let props: Map<String, Value> = fields
                    .iter()
                    .map(|(n, ty, _)| (n.to_string(), schema(ty).unwrap_or_default()))
                    .collect();
                let req: Vec<&str> = fields.iter().filter(|f| f.2).map(|f| f.0).collect();
                op["requestBody"] = json!({
                    "required": !req.is_empty(),
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": props,
                        "required": req,
                        "additionalProperties": false
                    } } }
                });
            }
        }
        op
    }
}

fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// `get_api_v1_alerts_id` style: unique per method and path.
fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for seg in path.trim_start_matches("/api/v1/").split('/') {
        id.push('_');
        id.extend(
            seg.chars()
                .map(|c| if c == '-' { '_' } else { c })
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_'),
        );
    }
    id
}

fn schema(ty: &str) -> Option<Value> {
    Some(match ty {
        "str" => json!({ "type": "string" }),
        "int" => json!({ "type": "integer", "format": "int64" }),
        "num" => json!({ "type": "number" }),
        "bool" => json!({ "type": "boolean" }),
        "[str]" => json!({ "type": "array", "items": { "type": "string" } }),
        "[int]" => json!({ "type": "array", "items": { "type": "integer", "format": "int64" } }),
        "obj" => json!({ "type": "object" }),
        "any" => json!({}),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_parses_and_operations_are_unique() {
        let doc = build(OPERATIONS).unwrap();
        let n: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(n, OPERATIONS.len(), "a method and path is described twice");
        let login = &doc["paths"]["/api/v1/auth/login"]["post"];
        assert_eq!(login["security"], json!([]));
        assert_eq!(
            login["requestBody"]["content"]["application/json"]["schema"]["required"],
            json!(["username", "password"])
        );
        assert_eq!(
            doc["paths"]["/api/v1/indicators/{id}"]["delete"]["x-permission"],
            "intel"
        );
    }

    #[test]
    fn bad_lines_are_refused_with_the_line() {
        for bad in [
            "GET /x|t|s",
            "FETCH /api/x|t|s",
            "GET /api/x|t",
            "GET /api/x|t|s|?a:date",
            "GET /api/x|t|s|{a:thing}",
            "GET /api/x|t|s|nonsense",
        ] {
            let e = build(&[bad])
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.contains(bad), "{e}");
        }
    }
}
