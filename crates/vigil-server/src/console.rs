//! The web console: the single-page app built from `console/` (`npm run build` →
//! `console/dist`), embedded with rust-embed and served at `/` for every path the API does not
//! own.
//!
//! - `GET /assets/*` (file names carry a content hash) is cached for a year, immutable; every
//!   other file must be revalidated (`no-cache`); `index.html` is never stored (`no-store`:
//!   each answer has its own nonce).
//! - A path that names no file and has no extension (`/alerts/al_…`, `/devices/…`) answers
//!   `index.html`: the app routes it in the browser. A missing file with an extension is a 404.
//! - `GET /console-schema.json`: the advanced-hunting tables, their columns and KQL types, for
//!   the editor's completion (the schema is public: MDE's), and the server's version.
//! - Anything under `/api/` that no route took stays a JSON `404 no such endpoint`, so API
//!   clients never get HTML.
//!
//! Every console answer carries a strict Content-Security-Policy (scripts, styles, data and
//! frames from this origin only; no inline script), `nosniff`, `no-referrer` and
//! `frame-ancestors 'none'`. `index.html` gets a fresh nonce per answer, written into its
//! `<meta name="csp-nonce">` (the `__CSP_NONCE__` placeholder) and allowed for styles only:
//! the editor (CodeMirror) injects its style sheet with it; scripts never get one.
//!
//! **Invariant:** the build never needs `console/dist`: when it was not built, the embedded
//! set is empty (`allow_missing`) and `/` answers a page saying so. Debug builds read the
//! files from disk at run time (rust-embed's behaviour), release builds embed them.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::api::ApiError;

#[derive(rust_embed::Embed)]
// Relative to this crate's Cargo.toml (rust-embed does not expand variables without its
// `interpolate-folder-path` feature).
#[folder = "../../console/dist"]
#[allow_missing = true]
struct Dist;

/// The policy of every console answer but `index.html`: files from this origin only, no
/// inline script or style.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; \
    object-src 'none'";

/// The placeholder in `index.html` that each answer replaces with its nonce.
const NONCE_PLACEHOLDER: &str = "__CSP_NONCE__";

/// The policy of one `index.html` answer: [`CONTENT_SECURITY_POLICY`] with `nonce` allowed
/// for `<style>` elements.
fn index_policy(nonce: &str) -> String {
    CONTENT_SECURITY_POLICY.replace(
        "style-src 'self';",
        &format!("style-src 'self' 'nonce-{nonce}';"),
    )
}

/// Where the schema for the hunting editor is served.
pub const SCHEMA_PATH: &str = "/console-schema.json";

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Vigil</title></head><body><h1>Vigil</h1><p>The web console was not built into this \
server. Run <code>cargo xtask console</code> (or <code>npm ci &amp;&amp; npm run build</code> in \
<code>console/</code>) and rebuild vigil-server. The API is at <code>/api/v1</code>.</p>\
</body></html>";

/// The router's fallback: the console for any path outside `/api/`, a JSON 404 inside it.
pub async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()).into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = ApiError(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} {path}: the console only answers GET"),
        )
        .into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if path == SCHEMA_PATH {
        let body = schema_json().to_string();
        return with_headers(body.into_bytes(), "application/json", "no-cache");
    }
    serve(path)
}

/// The file at `path`, or `index.html` for an app route.
fn serve(path: &str) -> Response {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    // `..` never reaches a file: rust-embed looks names up, it does not join paths, but
    // refuse it plainly all the same.
    if rel.split('/').any(|seg| seg == "..") {
        return plain(StatusCode::BAD_REQUEST, "bad path");
    }
    if rel == "index.html" {
        return index();
    }
    if let Some(file) = Dist::get(rel) {
        let cache = if rel.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return with_headers(file.data.into_owned(), content_type(rel), cache);
    }
    let last = rel.rsplit('/').next().unwrap_or(rel);
    if last.contains('.') && rel != "index.html" {
        return plain(StatusCode::NOT_FOUND, "no such file");
    }
    index()
}

/// `index.html` with a fresh style nonce (or the "not built" page).
fn index() -> Response {
    let Some(file) = Dist::get("index.html") else {
        return with_headers(
            NOT_BUILT.as_bytes().to_vec(),
            "text/html; charset=utf-8",
            "no-cache",
        );
    };
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let html = String::from_utf8_lossy(&file.data).replace(NONCE_PLACEHOLDER, &nonce);
    let mut r = with_headers(html.into_bytes(), "text/html; charset=utf-8", "no-store");
    if let Ok(v) = HeaderValue::from_str(&index_policy(&nonce)) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut r = with_headers(
        text.as_bytes().to_vec(),
        "text/plain; charset=utf-8",
        "no-cache",
    );
    *r.status_mut() = status;
    r
}

fn with_headers(body: Vec<u8>, content_type: &'static str, cache: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// The content type of a console file, by extension (the few kinds Vite emits).
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `{"server_version", "tables": [{"name", "columns": [{"name", "type"}]}]}`, built once.
fn schema_json() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let tables: Vec<Value> = vigil_schema::Table::ALL
            .iter()
            .map(|t| {
                json!({
                    "name": t.name(),
                    "columns": t.columns().iter().map(|c| json!({
                        "name": c.name(),
                        "type": c.ty().kql_name(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "server_version": env!("CARGO_PKG_VERSION"), "tables": tables })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(path: &str) -> Response {
        fallback(Method::GET, path.parse().unwrap()).await
    }

    #[tokio::test]
    async fn api_paths_stay_json_404s() {
        let r = get("/api/v1/nothing-here").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let r = fallback(Method::POST, "/alerts".parse().unwrap()).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn app_routes_answer_the_index_with_the_policy() {
        for path in ["/", "/alerts", "/devices/dev-1", "/files/abc"] {
            let r = get(path).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(
                r.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
            let cache = r.headers()[header::CACHE_CONTROL].to_str().unwrap();
            assert!(cache == "no-store" || cache == "no-cache", "{cache}");
            let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap();
            assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        }
        let r = get("/assets/missing-0000.js").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = get("/../Cargo.toml").await;
        assert_ne!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn the_schema_lists_tables_with_typed_columns() {
        let r = get(SCHEMA_PATH).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v = schema_json();
        let tables = v["tables"].as_array().unwrap();
        let events = tables
            .iter()
            .find(|t| t["name"] == "DeviceProcessEvents")
            .expect("DeviceProcessEvents");
        assert!(events["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "Timestamp" && c["type"] == "datetime"));
    }

    #[test]
    fn the_index_policy_allows_its_nonce_for_styles_only() {
        let p = index_policy("abc123");
        assert!(p.contains("style-src 'self' 'nonce-abc123';"), "{p}");
        assert!(p.contains("script-src 'self';"), "{p}");
        assert_eq!(p.matches("nonce-").count(), 1);
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(
            content_type("assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("assets/x.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }
}
