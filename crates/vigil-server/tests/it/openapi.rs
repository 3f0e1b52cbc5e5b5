//! The OpenAPI document: served without a token, every operation it describes is routed, every
//! route of the authorization matrix is described, the answers of a live server fit the
//! schemas it names (the schemas only describe: nothing else ties them to the handlers' JSON),
//! and schemathesis (from PyPI) generating requests from it finds no server error.

use std::process::Command;

use serde_json::{json, Value};

use crate::access::{call, start, Auth, ROUTES};

/// Whether the concrete `path` is an instance of the template `tpl` (`{x}` matches a segment).
fn instance_of(path: &str, tpl: &str) -> bool {
    let (p, t): (Vec<&str>, Vec<&str>) = (path.split('/').collect(), tpl.split('/').collect());
    p.len() == t.len()
        && p.iter()
            .zip(&t)
            .all(|(a, b)| a == b || (b.starts_with('{') && b.ends_with('}')))
}

fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            ops.push((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

#[test]
fn the_document_describes_exactly_what_is_routed() {
    let (_dir, _server, api) = start("");
    let (st, doc, ctype) = call(&api.base, "GET", "/api/openapi.json", &Auth::Nobody, None);
    assert_eq!(st, 200);
    assert!(ctype.starts_with("application/json"), "{ctype}");
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    assert!(ops.len() >= 80, "{} operations", ops.len());

    // Every described operation reaches a handler (the fallback answers "no such endpoint",
    // a wrong method 405).
    let admin = Auth::Token(api.token.clone());
    for (method, tpl) in &ops {
        let path = tpl
            .split('/')
            .map(|s| if s.starts_with('{') { "zz-none" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        if path == "/api/v1/auth/logout" {
            continue; // would end nothing for a token, but keep the admin's principal intact
        }
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        let (st, v, _) = call(&api.base, method, &path, &admin, body);
        assert_ne!(st, 405, "{method} {path}: not routed for this method: {v}");
        let fallback = st == 404 && v["detail"].as_str() == Some("no such endpoint");
        assert!(!fallback, "{method} {path} is described but not routed");
        assert!(st < 500, "{method} {path}: {st} {v}");
    }

    // Every route of the authorization matrix is described, with the same permission.
    for (method, path, perm) in ROUTES {
        let found = ops
            .iter()
            .find(|(m, tpl)| m == method && instance_of(path, tpl))
            .unwrap_or_else(|| panic!("{method} {path} is routed but not described"));
        let op = &doc["paths"][&found.1][method.to_lowercase()];
        let want = if *perm == "Anyone" {
            "any principal"
        } else {
            perm
        };
        assert_eq!(op["x-permission"], want, "{method} {path}");
    }
}

#[test]
fn schemathesis_finds_no_server_error() {
    let st = Command::new("st").arg("--version").output();
    if !st.is_ok_and(|o| o.status.success()) {
        println!("SKIP: schemathesis (`st`) is not installed; `cargo xtask setup` installs it");
        return;
    }
    let (dir, _server, api) = start("[api]\nrate_per_sec = 100000.0\nrate_burst = 100000.0\n");
    let report = dir.path().join("st-junit.xml");
    let out = Command::new("st")
        .args(["run", &format!("{}/api/openapi.json", api.base)])
        .args(["--url", &api.base])
        .args(["-H", &format!("Authorization: Bearer {}", api.token)])
        .args(["--checks", "not_a_server_error"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "30", "--workers", "2", "--seed", "7"])
        // Logging out or revoking would end the fuzzer's own principal.
        .args(["--exclude-path", "/api/v1/auth/logout"])
        .args(["--exclude-path-regex", "^/api/v1/api-tokens/.*/revoke$"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&report)
        .args(["--no-color", "--generation-database", "none"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(dir.path()) // its cache (.schemathesis/) stays out of the tree
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tail: Vec<&str> = stdout.lines().rev().take(60).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    println!("{}", tail.join("\n"));
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Resolve a local `$ref` (repeatedly).
fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    while let Some(r) = v["$ref"].as_str() {
        v = doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} names nothing"));
    }
    v
}

/// The properties an object schema names (through `allOf`), and whether it names any.
fn properties<'a>(doc: &'a Value, schema: &'a Value, out: &mut Vec<&'a str>) -> bool {
    let schema = resolve(doc, schema);
    let mut named = false;
    if let Some(p) = schema["properties"].as_object() {
        out.extend(p.keys().map(String::as_str));
        named = true;
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        named |= properties(doc, part, out);
    }
    named
}

/// What in `v` does not fit `schema`: JSON types, required properties, properties the schema
/// does not name, array items; `oneOf` needs one branch to fit.
fn misfits(doc: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(branches) = schema["oneOf"].as_array() {
        let fits = branches.iter().any(|b| {
            let mut o = Vec::new();
            misfits(doc, b, v, at, &mut o);
            o.is_empty()
        });
        if !fits {
            out.push(format!("{at}: fits no branch of oneOf: {v}"));
        }
        return;
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let part = resolve(doc, part);
        // Each part's own types and required fields; unknown fields are checked below.
        let mut o = Vec::new();
        misfits(
            doc,
            &json!({ "type": part["type"], "required": part["required"] }),
            v,
            at,
            &mut o,
        );
        out.extend(o);
    }
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let fits = types.is_empty()
        || types.contains(&kind)
        || (kind == "integer" && types.contains(&"number"));
    if !fits {
        out.push(format!("{at}: a {kind}, the schema says {types:?}"));
        return;
    }
    match v {
        Value::Object(o) => {
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap();
                if !o.contains_key(r) {
                    out.push(format!("{at}: no {r}"));
                }
            }
            let mut names = Vec::new();
            if properties(doc, schema, &mut names) {
                for (k, x) in o {
                    if !names.contains(&k.as_str()) {
                        out.push(format!("{at}.{k}: not in the schema"));
                        continue;
                    }
                    let mut prop = &schema["properties"][k];
                    if prop.is_null() {
                        for part in schema["allOf"].as_array().into_iter().flatten() {
                            let p = &resolve(doc, part)["properties"][k];
                            if !p.is_null() {
                                prop = p;
                            }
                        }
                    }
                    misfits(doc, prop, x, &format!("{at}.{k}"), out);
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (i, x) in items.iter().enumerate() {
                misfits(doc, &schema["items"], x, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Call the server and check the answer against the schema the document gives for its
/// status and content type; the answer.
fn checked(
    doc: &Value,
    api: &crate::harness::Api,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (st, v, ctype) = call(
        &api.base,
        method,
        path,
        &Auth::Token(api.token.clone()),
        body,
    );
    let template = operations(doc)
        .into_iter()
        .find(|(m, tpl)| *m == method && instance_of(path.split('?').next().unwrap(), tpl))
        .unwrap_or_else(|| panic!("{method} {path}: not described"))
        .1;
    let op = &doc["paths"][&template][method.to_lowercase()];
    let answer = resolve(doc, &op["responses"][st.to_string()]);
    assert!(
        answer.is_object(),
        "{method} {path}: status {st} is not described: {v}"
    );
    let ctype = ctype.split(';').next().unwrap().trim().to_string();
    let schema = &answer["content"][&ctype]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path}: {st} {ctype} is not described"
    );
    let mut out = Vec::new();
    misfits(doc, schema, &v, "answer", &mut out);
    assert!(out.is_empty(), "{method} {path} ({st}): {out:#?}\n{v:#}");
    (st, v)
}

#[test]
fn answers_fit_the_schemas_the_document_names() {
    let (_dir, _server, api) = start("");
    let (_, doc, _) = call(&api.base, "GET", "/api/openapi.json", &Auth::Nobody, None);
    // The checker itself: a wrong type, missing fields and an unknown one are all caught.
    let mut out = Vec::new();
    let role = json!({ "$ref": "#/components/schemas/Role" });
    misfits(
        &doc,
        &role,
        &json!({ "Name": 1, "Extra": true }),
        "role",
        &mut out,
    );
    assert_eq!(out.len(), 5, "{out:#?}");
    let ok = |method: &str, path: &str, body: Option<Value>| {
        let (st, v) = checked(&doc, &api, method, path, body);
        assert_eq!(st, 200, "{method} {path}: {v}");
        v
    };
    ok("GET", "/api/v1/auth/me", None);
    ok(
        "POST",
        "/api/v1/enrollment-tokens",
        Some(json!({ "label": "lab", "max_uses": 2, "ttl_seconds": 600 })),
    );
    ok("GET", "/api/v1/enrollment-tokens", None);
    let page = ok("GET", "/api/v1/enrollment-tokens?limit=1", None);
    assert_eq!(page["total"], 1, "{page}");
    for path in [
        "/api/v1/users",
        "/api/v1/roles",
        "/api/v1/api-tokens",
        "/api/v1/settings",
    ] {
        ok("GET", path, None);
    }
    ok(
        "POST",
        "/api/v1/roles",
        Some(json!({ "name": "watcher", "permissions": ["read"] })),
    );
    let t = ok(
        "POST",
        "/api/v1/api-tokens",
        Some(json!({ "name": "t1", "role": "watcher" })),
    );
    ok(
        "POST",
        &format!(
            "/api/v1/api-tokens/{}/revoke",
            t["TokenId"].as_str().unwrap()
        ),
        None,
    );
    ok(
        "PATCH",
        "/api/v1/settings",
        Some(json!({ "retention_days": 30 })),
    );
    let ind = ok(
        "POST",
        "/api/v1/indicators",
        Some(
            json!({ "type": "domain", "value": "evil.example", "action": "block", "ttl_seconds": 3600 }),
        ),
    );
    ok(
        "GET",
        &format!("/api/v1/indicators/{}", ind["IndicatorId"]),
        None,
    );
    ok("GET", "/api/v1/indicators?limit=5", None);
    let page = ok("GET", "/api/v1/domains/evil.example", None);
    assert_eq!(
        page["Indicators"]["Matching"][0]["IndicatorValue"], "evil.example",
        "{page}"
    );
    ok("GET", "/api/v1/ips/192.0.2.7?days=7", None);
    ok(
        "POST",
        "/api/v1/hunt",
        Some(json!({ "query": "DeviceProcessEvents | take 3" })),
    );
    ok(
        "POST",
        "/api/v1/hunt/queries",
        Some(json!({ "name": "q", "query": "DeviceEvents | take 1", "shared": true })),
    );
    ok("GET", "/api/v1/hunt/queries", None);
    ok(
        "POST",
        "/api/v1/events/sql",
        Some(json!({ "sql": "SELECT 1 AS one" })),
    );
    let rules = ok("GET", "/api/v1/rules?limit=3", None);
    if let Some(id) = rules["items"][0]["RuleId"].as_str() {
        ok(
            "POST",
            "/api/v1/suppressions",
            Some(
                json!({ "rule_id": id, "action": "hide", "conditions": [{ "key": "FileName", "pattern": "lab-*" }] }),
            ),
        );
        ok("GET", "/api/v1/suppressions", None);
    }
    for path in [
        "/api/v1/devices",
        "/api/v1/alerts?limit=10",
        "/api/v1/incidents",
        "/api/v1/actions",
        "/api/v1/feeds",
        "/api/v1/library",
        "/api/v1/custom-detections",
        "/api/v1/warninglists",
    ] {
        ok("GET", path, None);
    }
    let audit = ok("GET", "/api/v1/audit?limit=50", None);
    assert!(audit["total"].as_u64().unwrap() >= 5, "{audit}");

    // Refusals: a problem document, or the hunt's diagnostics.
    let refused = |method: &str, path: &str, body: Option<Value>, want: u16| {
        let (st, v) = checked(&doc, &api, method, path, body);
        assert_eq!(st, want, "{method} {path}: {v}");
        v
    };
    refused("GET", "/api/v1/alerts/nope", None, 404);
    refused(
        "POST",
        "/api/v1/indicators",
        Some(json!({ "type": "domain" })),
        400,
    );
    let v = refused(
        "POST",
        "/api/v1/hunt",
        Some(json!({ "query": "DeviceProcessEvents | where" })),
        400,
    );
    assert!(v["diagnostics"][0]["message"].is_string(), "{v}");
    refused(
        "POST",
        "/api/v1/roles",
        Some(json!({ "name": "watcher", "permissions": ["read"] })),
        409,
    );
}
