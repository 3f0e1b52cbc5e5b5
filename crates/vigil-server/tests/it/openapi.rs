//! The OpenAPI document: served without a token, every operation it describes is routed, every
//! route of the authorization matrix is described, and schemathesis (from PyPI) generating
//! requests from it finds no server error.

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
