//! Access control: the authorization matrix (every route × every role, through both an API
//! token and a console session), sessions that cannot be forged or reused after logout, CSRF
//! on console changes, the audit log of changes, rate limits, and problem+json errors.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::harness::{free_addr, Api, ServerProcess};

/// Every route of the API with the permission it needs (as the product defines it: written
/// here, not read from the server). `Anyone`: any logged-in principal.
pub(crate) const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/enrollment-tokens", "settings"),
    ("POST", "/api/v1/enrollment-tokens", "settings"),
    ("POST", "/api/v1/enrollment-tokens/et_x/revoke", "settings"),
    ("GET", "/api/v1/devices", "read"),
    ("GET", "/api/v1/devices/nodev", "read"),
    ("PATCH", "/api/v1/devices/nodev", "settings"),
    ("POST", "/api/v1/devices/nodev/revoke", "settings"),
    ("POST", "/api/v1/events/sql", "hunt"),
    ("GET", "/api/v1/auth/me", "Anyone"),
    ("GET", "/api/v1/users", "settings"),
    ("POST", "/api/v1/users", "settings"),
    ("PATCH", "/api/v1/users/nobody", "settings"),
    ("DELETE", "/api/v1/users/nobody", "settings"),
    ("GET", "/api/v1/roles", "settings"),
    ("POST", "/api/v1/roles", "settings"),
    ("DELETE", "/api/v1/roles/norole", "settings"),
    ("GET", "/api/v1/api-tokens", "settings"),
    ("POST", "/api/v1/api-tokens", "settings"),
    ("POST", "/api/v1/api-tokens/at_x/revoke", "settings"),
    ("GET", "/api/v1/audit", "settings"),
    ("POST", "/api/v1/devices/nodev/actions", "respond"),
    ("GET", "/api/v1/actions", "read"),
    ("GET", "/api/v1/actions/ac_x", "read"),
    ("POST", "/api/v1/actions/ac_x/cancel", "respond"),
    ("POST", "/api/v1/actions/ac_x/undo", "respond"),
    ("GET", "/api/v1/action-files/fl_x", "respond"),
    ("GET", "/api/v1/library", "read"),
    ("POST", "/api/v1/library", "respond"),
    ("DELETE", "/api/v1/library/nofile", "respond"),
    ("POST", "/api/v1/devices/nodev/live", "live"),
    ("GET", "/api/v1/live/lr_x", "live"),
    ("DELETE", "/api/v1/live/lr_x", "live"),
    ("POST", "/api/v1/live/lr_x/commands", "live"),
    ("GET", "/api/v1/alerts", "read"),
    ("GET", "/api/v1/alerts/al_x", "read"),
    ("PATCH", "/api/v1/alerts/al_x", "triage"),
    ("POST", "/api/v1/alerts/al_x/comments", "triage"),
    ("GET", "/api/v1/incidents", "read"),
    ("GET", "/api/v1/incidents/in_x", "read"),
    ("PATCH", "/api/v1/incidents/in_x", "triage"),
    ("POST", "/api/v1/incidents/in_x/comments", "triage"),
    ("GET", "/api/v1/custom-detections", "read"),
    ("POST", "/api/v1/custom-detections", "detections"),
    ("GET", "/api/v1/custom-detections/cd_x", "read"),
    ("DELETE", "/api/v1/custom-detections/cd_x", "detections"),
    (
        "POST",
        "/api/v1/custom-detections/cd_x/enable",
        "detections",
    ),
    (
        "POST",
        "/api/v1/custom-detections/cd_x/disable",
        "detections",
    ),
    ("POST", "/api/v1/custom-detections/cd_x/run", "detections"),
    ("GET", "/api/v1/files/aaaa", "read"),
    ("GET", "/api/v1/ips/1.2.3.4", "read"),
    ("GET", "/api/v1/domains/example.org", "read"),
    ("POST", "/api/v1/hunt", "hunt"),
    ("GET", "/api/v1/hunt/queries", "hunt"),
    ("POST", "/api/v1/hunt/queries", "hunt"),
    ("GET", "/api/v1/hunt/queries/sq_x", "hunt"),
    ("DELETE", "/api/v1/hunt/queries/sq_x", "hunt"),
    ("GET", "/api/v1/indicators", "read"),
    ("POST", "/api/v1/indicators", "intel"),
    ("POST", "/api/v1/indicators/import", "intel"),
    ("GET", "/api/v1/indicators/export", "read"),
    ("POST", "/api/v1/indicators/retrohunt", "intel"),
    ("GET", "/api/v1/indicators/999", "read"),
    ("PATCH", "/api/v1/indicators/999", "intel"),
    ("DELETE", "/api/v1/indicators/999", "intel"),
    ("GET", "/api/v1/feeds", "read"),
    ("POST", "/api/v1/feeds", "intel"),
    ("GET", "/api/v1/feeds/nofeed", "read"),
    ("DELETE", "/api/v1/feeds/nofeed", "intel"),
    ("POST", "/api/v1/feeds/nofeed/refresh", "intel"),
    ("POST", "/api/v1/feeds/nofeed/enable", "intel"),
    ("POST", "/api/v1/feeds/nofeed/disable", "intel"),
    ("GET", "/api/v1/warninglists", "read"),
    ("POST", "/api/v1/warninglists", "intel"),
    ("DELETE", "/api/v1/warninglists/nolist", "intel"),
    ("GET", "/api/v1/rules", "read"),
    ("POST", "/api/v1/rules/norule/enable", "detections"),
    ("POST", "/api/v1/rules/norule/disable", "detections"),
    ("GET", "/api/v1/suppressions", "read"),
    ("POST", "/api/v1/suppressions", "detections"),
    ("DELETE", "/api/v1/suppressions/su_x", "detections"),
];

/// The roles under test and what each may do.
const ROLES: &[(&str, &[&str])] = &[
    (
        "administrator",
        &[
            "read",
            "triage",
            "hunt",
            "detections",
            "intel",
            "respond",
            "live",
            "settings",
        ],
    ),
    (
        "security-operator",
        &[
            "read",
            "triage",
            "hunt",
            "detections",
            "intel",
            "respond",
            "live",
        ],
    ),
    ("security-reader", &["read", "hunt"]),
    // A custom role: triage only.
    ("triager", &["read", "triage"]),
];

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A request with a bearer token, or a session cookie and (optionally) a CSRF token.
pub(crate) fn call(
    base: &str,
    method: &str,
    path: &str,
    auth: &Auth,
    body: Option<Value>,
) -> (u16, Value, String) {
    let url = format!("{base}{path}");
    let a = agent();
    let with = |r: ureq::RequestBuilder<ureq::typestate::WithoutBody>| match auth {
        Auth::Token(t) => r.header("Authorization", format!("Bearer {t}")),
        Auth::Session { cookie, csrf } => {
            let r = r.header("Cookie", format!("vigil_session={cookie}"));
            match csrf {
                Some(c) => r.header("X-CSRF-Token", c),
                None => r,
            }
        }
        Auth::Nobody => r,
    };
    let withb = |r: ureq::RequestBuilder<ureq::typestate::WithBody>| match auth {
        Auth::Token(t) => r.header("Authorization", format!("Bearer {t}")),
        Auth::Session { cookie, csrf } => {
            let r = r.header("Cookie", format!("vigil_session={cookie}"));
            match csrf {
                Some(c) => r.header("X-CSRF-Token", c),
                None => r,
            }
        }
        Auth::Nobody => r,
    };
    let b = body.unwrap_or_else(|| json!({}));
    let mut resp = match method {
        "GET" => with(a.get(&url)).call(),
        "DELETE" => with(a.delete(&url)).call(),
        "POST" => withb(a.post(&url)).send_json(&b),
        "PATCH" => withb(a.patch(&url)).send_json(&b),
        m => panic!("{m}"),
    }
    .unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let v = resp.body_mut().read_json().unwrap_or(Value::Null);
    (status, v, ctype)
}

#[derive(Clone)]
pub(crate) enum Auth {
    Token(String),
    Session {
        cookie: String,
        csrf: Option<String>,
    },
    Nobody,
}

fn login(base: &str, user: &str, password: &str) -> (u16, Option<(String, String)>) {
    let mut r = agent()
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(json!({ "username": user, "password": password }))
        .unwrap();
    let status = r.status().as_u16();
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let v: Value = r.body_mut().read_json().unwrap_or(Value::Null);
    if status != 200 {
        return (status, None);
    }
    let cookie = cookie.unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let secret = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("vigil_session=")
        .to_string();
    (
        status,
        Some((secret, v["csrf_token"].as_str().unwrap().to_string())),
    )
}

pub(crate) fn start(config: &str) -> (tempfile::TempDir, ServerProcess, Api) {
    let dir = tempfile::tempdir().unwrap();
    let server =
        ServerProcess::start_with_config(&dir.path().join("s"), free_addr(), free_addr(), config);
    let api = server.api();
    (dir, server, api)
}

#[test]
fn every_route_is_allowed_or_denied_for_every_role() {
    let (_dir, _server, api) = start("");
    let (st, v) = api.post(
        "/api/v1/roles",
        json!({ "name": "triager", "description": "triage only", "permissions": ["read", "triage"] }),
    );
    assert_eq!(st, 200, "{v}");
    let mut principals: Vec<(String, BTreeSet<&str>, Auth)> = Vec::new();
    for (role, perms) in ROLES {
        let (st, t) = api.post(
            "/api/v1/api-tokens",
            json!({ "name": format!("tok-{role}"), "role": role }),
        );
        assert_eq!(st, 200, "{t}");
        let token = t["Secret"].as_str().unwrap().to_string();
        let user = format!("user-{role}");
        let (st, v) = api.post(
            "/api/v1/users",
            json!({ "name": user, "password": "correct horse battery", "role": role }),
        );
        assert_eq!(st, 200, "{v}");
        let (st, s) = login(&api.base, &user, "correct horse battery");
        assert_eq!(st, 200);
        let (cookie, csrf) = s.unwrap();
        let perms: BTreeSet<&str> = perms.iter().copied().collect();
        principals.push((format!("token {role}"), perms.clone(), Auth::Token(token)));
        principals.push((
            format!("session {role}"),
            perms,
            Auth::Session {
                cookie,
                csrf: Some(csrf),
            },
        ));
    }
    let mut checked = 0;
    for (method, path, need) in ROUTES {
        for (who, perms, auth) in &principals {
            let allowed = *need == "Anyone" || perms.contains(need);
            let (st, v, _) = call(&api.base, method, path, auth, None);
            if allowed {
                assert!(st != 403 && st != 401, "{who} {method} {path}: {st} {v}");
            } else {
                assert_eq!(st, 403, "{who} {method} {path}: {v}");
                assert!(v["detail"].as_str().unwrap().contains(need), "{v}");
            }
            checked += 1;
        }
        // Nobody at all: 401 everywhere.
        let (st, _, _) = call(&api.base, method, path, &Auth::Nobody, None);
        assert_eq!(st, 401, "{method} {path} without credentials");
    }
    println!("authorization matrix: {checked} route × principal pairs checked");
}

#[test]
fn sessions_cannot_be_forged_or_reused_and_changes_are_audited() {
    let (_dir, _server, api) = start("[api]\nrate_per_sec = 1\nrate_burst = 40\n");
    let base = api.base.clone();
    let (st, v) = api.post(
        "/api/v1/users",
        json!({ "name": "ana", "password": "short", "role": "security-operator" }),
    );
    assert_eq!(st, 400, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("password"), "{v}");
    let (st, v) = api.post(
        "/api/v1/users",
        json!({ "name": "ana", "password": "long enough password", "role": "no-such-role" }),
    );
    assert_eq!(st, 404, "{v}");
    let (st, _) = api.post(
        "/api/v1/users",
        json!({ "name": "ana", "password": "long enough password", "role": "security-operator" }),
    );
    assert_eq!(st, 200);

    // Wrong password and unknown user: the same answer.
    let (st1, _) = login(&base, "ana", "wrong password!!");
    let (st2, _) = login(&base, "nobody", "wrong password!!");
    assert_eq!((st1, st2), (401, 401));
    let (_, s) = login(&base, "ana", "long enough password");
    let (cookie, csrf) = s.unwrap();
    let session = Auth::Session {
        cookie: cookie.clone(),
        csrf: Some(csrf.clone()),
    };
    let (st, me, ctype) = call(&base, "GET", "/api/v1/auth/me", &session, None);
    assert_eq!(st, 200);
    assert_eq!(me["Role"], "security-operator");
    assert!(ctype.starts_with("application/json"));

    // A change without the CSRF token, or with another one, is refused.
    let body = json!({ "type": "domain", "value": "csrf.example", "action": "audit" });
    for bad_csrf in [None, Some("vcs_forged".to_string())] {
        let (st, v, ctype) = call(
            &base,
            "POST",
            "/api/v1/indicators",
            &Auth::Session {
                cookie: cookie.clone(),
                csrf: bad_csrf,
            },
            Some(body.clone()),
        );
        assert_eq!(st, 403, "{v}");
        assert_eq!(ctype, "application/problem+json");
        assert_eq!(v["status"], 403);
    }
    let (st, v, _) = call(&base, "POST", "/api/v1/indicators", &session, Some(body));
    assert_eq!(st, 200, "{v}");

    // A forged cookie is nobody.
    let forged = Auth::Session {
        cookie: format!("vss_{}", "0".repeat(64)),
        csrf: Some(csrf.clone()),
    };
    assert_eq!(call(&base, "GET", "/api/v1/auth/me", &forged, None).0, 401);
    // After logout the cookie is dead.
    let (st, _, _) = call(&base, "POST", "/api/v1/auth/logout", &session, None);
    assert_eq!(st, 200);
    assert_eq!(call(&base, "GET", "/api/v1/auth/me", &session, None).0, 401);
    // Disabling a user ends their sessions.
    let (_, s) = login(&base, "ana", "long enough password");
    let (cookie, csrf) = s.unwrap();
    let (st, _) = api.patch("/api/v1/users/ana", json!({ "disabled": true }));
    assert_eq!(st, 200);
    let s = Auth::Session {
        cookie,
        csrf: Some(csrf),
    };
    assert_eq!(call(&base, "GET", "/api/v1/auth/me", &s, None).0, 401);
    assert_eq!(login(&base, "ana", "long enough password").0, 401);
    // A revoked token is nobody.
    let (_, t) = api.post(
        "/api/v1/api-tokens",
        json!({ "name": "temp", "role": "security-reader" }),
    );
    let tok = Auth::Token(t["Secret"].as_str().unwrap().to_string());
    assert_eq!(call(&base, "GET", "/api/v1/auth/me", &tok, None).0, 200);
    let (st, _) = api.post(
        &format!(
            "/api/v1/api-tokens/{}/revoke",
            t["TokenId"].as_str().unwrap()
        ),
        json!({}),
    );
    assert_eq!(st, 200);
    assert_eq!(call(&base, "GET", "/api/v1/auth/me", &tok, None).0, 401);

    // Every change is in the audit log, with who and the outcome.
    let (_, log) = api.get("/api/v1/audit?actor=ana");
    let entries = log["items"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["Path"] == "/api/v1/indicators"
            && e["Method"] == "POST"
            && e["Status"] == 200),
        "{log}"
    );
    assert!(
        entries.iter().any(|e| e["Status"] == 403),
        "refused changes are logged too: {log}"
    );

    // Rate limit: past the burst, 429.
    let (_, t) = api.post(
        "/api/v1/api-tokens",
        json!({ "name": "busy", "role": "security-reader" }),
    );
    let busy = Auth::Token(t["Secret"].as_str().unwrap().to_string());
    let statuses: Vec<u16> = (0..60)
        .map(|_| call(&base, "GET", "/api/v1/alerts", &busy, None).0)
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses[0], 200);
}
