//! The API's OpenAPI 3.1 description, served at `GET /api/openapi.json` (no token needed) and
//! built once.
//!
//! utoipa generates it from the handlers: each carries a `#[utoipa::path]` attribute (method,
//! path as routed, tag, query and path parameters, body, answers with their schemas and the
//! problem documents it can refuse with), its doc comment gives the summary (first paragraph)
//! and description, and the wire shapes are the schemas of `api/schemas.rs`. [`ApiDoc`] lists
//! the handlers; [`document`] then adds what holds for every operation, each from one place:
//! - the permission it needs, from the access guard's table ([`super::access::required`]) as
//!   `x-permission` (`any principal` when any will do; the login needs no security), so the
//!   document cannot disagree with what is enforced;
//! - the guard's refusals (401, 403, 429) on every operation behind it, and 413 on bodies;
//! - a unique `operationId` from method and path (`get_alerts_id`);
//! - `minLength: 1` on path parameters, `additionalProperties: false` on JSON bodies (unknown
//!   fields are refused, `api/body.rs`), and a body with no required field is optional;
//! - the security schemes (bearer token; session cookie with its CSRF header) and the info.
//!
//! **Invariant:** the document names every `/api/v1` route the router serves and no other
//! (`/healthz`, `/metrics` and the document itself are left out); the integration test
//! `openapi` walks the document and checks each operation is routed, that the authorization
//! matrix's routes are all described, and that a live server's answers fit the schemas.

use std::sync::OnceLock;

use axum::http::Method;
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use super::access::{required, Need, SESSION_COOKIE};
use super::schemas;

/// The handlers described, and the reusable answers.
#[derive(OpenApi)]
#[openapi(
    paths(
        super::settings::show,
        super::settings::update,
        super::access::login,
        super::access::logout,
        super::access::me,
        super::access::list_users,
        super::access::create_user,
        super::access::update_user,
        super::access::delete_user,
        super::access::list_roles,
        super::access::create_role,
        super::access::delete_role,
        super::access::list_tokens,
        super::access::create_token,
        super::access::revoke_token,
        super::access::audit,
        super::list_tokens,
        super::create_token,
        super::revoke_token,
        super::list_devices,
        super::show_device,
        super::update_device,
        super::revoke_device,
        super::events_sql,
        super::alerts::list_alerts,
        super::alerts::bulk_update,
        super::alerts::show_alert,
        super::alerts::update_alert,
        super::alerts::comment_alert,
        super::alerts::list_incidents,
        super::alerts::show_incident,
        super::alerts::update_incident,
        super::alerts::comment_incident,
        super::rules::list_rules,
        super::rules::enable_rule,
        super::rules::disable_rule,
        super::rules::list_suppressions,
        super::rules::create_suppression,
        super::rules::delete_suppression,
        super::custom::list,
        super::custom::create,
        super::custom::show,
        super::custom::remove,
        super::custom::enable,
        super::custom::disable,
        super::custom::run_now,
        super::hunt::run,
        super::hunt::list_saved,
        super::hunt::save,
        super::hunt::show_saved,
        super::hunt::delete_saved,
        super::intel::list_indicators,
        super::intel::create_indicator,
        super::intel::import_indicators,
        super::intel::export_indicators,
        super::intel::retrohunt,
        super::intel::show_indicator,
        super::intel::update_indicator,
        super::intel::delete_indicator,
        super::intel::list_feeds,
        super::intel::create_feed,
        super::intel::show_feed,
        super::intel::delete_feed,
        super::intel::refresh_feed,
        super::intel::enable_feed,
        super::intel::disable_feed,
        super::intel::list_warning_lists,
        super::intel::put_warning_list,
        super::intel::delete_warning_list,
        super::entities::file,
        super::entities::ip,
        super::entities::domain,
        super::actions::create_action,
        super::actions::list_actions,
        super::actions::show_action,
        super::actions::cancel_action,
        super::actions::approve_action,
        super::actions::undo_action,
        super::actions::download_file,
        super::actions::list_library,
        super::actions::add_library_file,
        super::actions::delete_library_file,
        super::actions::open_session,
        super::actions::show_session,
        super::actions::close_session,
        super::actions::live_command,
    ),
    components(
        schemas(schemas::Problem, schemas::SortOrder, schemas::QueryRejected),
        responses(
            schemas::BadRequest,
            schemas::Unauthorized,
            schemas::Forbidden,
            schemas::NotFound,
            schemas::Conflict,
            schemas::PayloadTooLarge,
            schemas::TooManyRequests,
            schemas::BadGateway,
            schemas::TimedOut,
            schemas::QueryRefused,
        )
    ),
    tags(
        (name = "access", description = "Login, users, roles, API tokens and the audit log"),
        (name = "devices", description = "The device inventory and enrolment tokens"),
        (name = "alerts", description = "Alerts and incidents: the queue and triage"),
        (name = "detections", description = "Sigma rules, suppressions and custom detections"),
        (name = "hunting", description = "Advanced hunting (KQL), saved queries and SQL"),
        (name = "intel", description = "Indicators, imports, feeds and MISP warning lists"),
        (name = "entities", description = "Entity pages: files, IP addresses, domains"),
        (name = "response", description = "Response actions, the action center and live response"),
        (name = "settings", description = "Server-wide settings"),
    )
)]
pub(crate) struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let generated = serde_json::to_value(ApiDoc::openapi())
            .expect("an OpenAPI document serializes to JSON");
        finish(generated)
    })
}

/// What the guard answers on an operation that needs `need`, besides the handler's answers.
fn guard_refusals(need: Need) -> &'static [(&'static str, &'static str)] {
    match need {
        Need::Nothing => &[],
        _ => &[
            ("401", "Unauthorized"),
            ("403", "Forbidden"),
            ("429", "TooManyRequests"),
        ],
    }
}

/// Add to the generated document what holds for every operation (see the module doc).
fn finish(mut doc: Value) -> Value {
    let schemas = doc["components"]["schemas"].clone();
    let paths = doc["paths"]
        .as_object_mut()
        .expect("the document has paths");
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Ok(m) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                continue;
            };
            describe_operation(op, &m, path, &schemas);
        }
    }
    close_request_schemas(&mut doc);
    doc["info"] = json!({
        "title": "Vigil API",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Vigil's management API. Authenticate with an API token (Authorization: Bearer) or a console session (cookie vigil_session and, on changes, X-CSRF-Token). Errors are problem documents (application/problem+json) that name what is wrong.",
        "license": { "name": env!("CARGO_PKG_LICENSE") }
    });
    doc["servers"] = json!([{ "url": "/" }]);
    doc["security"] = json!([{ "bearer": [] }, { "session": [], "csrf": [] }]);
    doc["components"]["securitySchemes"] = json!({
        "bearer": { "type": "http", "scheme": "bearer" },
        "session": { "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE },
        "csrf": { "type": "apiKey", "in": "header", "name": "X-CSRF-Token" }
    });
    doc
}

fn describe_operation(op: &mut Value, method: &Method, path: &str, schemas: &Value) {
    op["operationId"] = json!(operation_id(method, path));
    let need = required(method, path);
    match need {
        Need::Nothing => op["security"] = json!([]),
        Need::Anyone => op["x-permission"] = json!("any principal"),
        Need::Permission(p) => op["x-permission"] = json!(p),
    }
    let mut extra: Vec<(&str, &str)> = guard_refusals(need).to_vec();
    if op.get("requestBody").is_some() {
        extra.push(("413", "PayloadTooLarge"));
    }
    let responses = op["responses"]
        .as_object_mut()
        .expect("every operation has responses");
    for (status, name) in extra {
        responses
            .entry(status)
            .or_insert_with(|| json!({ "$ref": format!("#/components/responses/{name}") }));
    }
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params.iter_mut().filter(|p| p["in"] == "path") {
            p["schema"]["minLength"] = json!(1);
        }
    }
    if let Some(json_body) = op
        .get_mut("requestBody")
        .and_then(|b| b.get_mut("content"))
        .and_then(|c| c.get_mut("application/json"))
    {
        if let Some(name) = json_body["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            let schema = &schemas[name];
            let required = schema["required"].as_array().is_some_and(|r| !r.is_empty());
            op["requestBody"]["required"] = json!(required);
        }
    }
}

/// `get_alerts_id` style: unique per method and path.
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

/// Mark every component schema a JSON request body names as closed: the handlers refuse
/// unknown fields.
fn close_request_schemas(doc: &mut Value) {
    let mut names = Vec::new();
    for item in doc["paths"].as_object().into_iter().flat_map(Map::values) {
        for op in item.as_object().into_iter().flat_map(Map::values) {
            if let Some(name) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                names.push(name.to_string());
            }
        }
    }
    for name in names {
        doc["components"]["schemas"][&name]["additionalProperties"] = json!(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (method, path, operation) of every operation.
    fn operations(doc: &Value) -> Vec<(Method, String, &Value)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
                ops.push((m, path.clone(), op));
            }
        }
        ops
    }

    #[test]
    fn every_operation_carries_its_permission_and_the_guards_refusals() {
        let doc = document();
        let ops = operations(doc);
        assert!(ops.len() >= 85, "{} operations", ops.len());
        let mut ids: Vec<&str> = ops
            .iter()
            .map(|(_, _, op)| op["operationId"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "an operationId is used twice");
        for (method, path, op) in &ops {
            let what = format!("{method} {path}");
            assert!(op["tags"][0].is_string(), "{what}: no tag");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{what}: no summary"
            );
            assert!(
                op["responses"]["200"]["content"].is_object(),
                "{what}: no success body"
            );
            let need = required(method, path);
            match need {
                Need::Nothing => assert_eq!(op["security"], json!([]), "{what}"),
                Need::Anyone => assert_eq!(op["x-permission"], "any principal", "{what}"),
                Need::Permission(p) => assert_eq!(op["x-permission"], p, "{what}"),
            }
            for (status, _) in guard_refusals(need) {
                assert!(op["responses"][status].is_object(), "{what}: no {status}");
            }
        }
        let login = &doc["paths"]["/api/v1/auth/login"]["post"];
        assert!(login["responses"]["403"].is_null());
        assert_eq!(
            doc["paths"]["/api/v1/indicators/{id}"]["delete"]["x-permission"],
            "intel"
        );
        assert_eq!(
            doc["paths"]["/api/v1/devices/{id}/live"]["post"]["x-permission"],
            "live"
        );
    }

    /// Every `$ref` in `v`.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.push(r);
                }
                o.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut all = Vec::new();
        refs(doc, &mut all);
        assert!(all.len() > 100, "{} references", all.len());
        for r in all {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{r}: not local"));
            assert!(doc.pointer(pointer).is_some(), "{r} names nothing");
        }
    }

    #[test]
    fn path_parameters_are_the_templates_segments() {
        for (method, path, op) in operations(document()) {
            let mut want: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let params = op["parameters"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let mut got: Vec<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want, "{method} {path}");
            for p in params.iter().filter(|p| p["in"] == "path") {
                assert_eq!(p["schema"]["minLength"], 1, "{method} {path}");
                assert_eq!(p["required"], true, "{method} {path}");
            }
        }
    }

    #[test]
    fn json_bodies_are_closed_and_required_only_with_a_required_field() {
        let doc = document();
        let schema = |name: &str| &doc["components"]["schemas"][name];
        assert_eq!(
            schema("LoginRequest")["required"],
            json!(["username", "password"])
        );
        assert_eq!(schema("LoginRequest")["additionalProperties"], false);
        assert_eq!(schema("Triage")["additionalProperties"], false);
        let login = &doc["paths"]["/api/v1/auth/login"]["post"];
        assert_eq!(login["requestBody"]["required"], true);
        assert!(login["responses"]["413"].is_object());
        let triage = &doc["paths"]["/api/v1/alerts/{id}"]["patch"];
        assert_eq!(triage["requestBody"]["required"], false);
        // Answers are not closed: a field added to an answer breaks no client.
        assert!(schema("Alert")["additionalProperties"].is_null());
        // A field a handler refuses null for is not nullable; one that clears is.
        assert_eq!(schema("Triage")["properties"]["status"]["type"], "string");
        assert_eq!(
            schema("Triage")["properties"]["assignee"]["type"],
            json!(["string", "null"])
        );
        let import = &doc["paths"]["/api/v1/indicators/import"]["post"]["requestBody"];
        assert!(import["content"]["application/octet-stream"].is_object());
    }

    #[test]
    fn operation_ids_follow_the_path() {
        assert_eq!(
            operation_id(&Method::GET, "/api/v1/alerts/{id}"),
            "get_alerts_id"
        );
        assert_eq!(
            operation_id(&Method::POST, "/api/v1/enrollment-tokens/{id}/revoke"),
            "post_enrollment_tokens_id_revoke"
        );
    }
}
