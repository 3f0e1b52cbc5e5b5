//! The HTTP API client: bearer token, JSON in and out, the server's error message surfaced.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

pub struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(server: &str, token: &str) -> Result<Api> {
        let base = server.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            bail!("server URL {server:?} must start with http:// or https://");
        }
        if token.trim().is_empty() {
            bail!("no API token: pass --token, set VIGIL_TOKEN, or make the server's admin.token readable");
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(300)))
            .build()
            .into();
        Ok(Api {
            base,
            token: token.trim().to_string(),
            agent,
        })
    }

    /// The status and JSON body of an answer (a body that is not JSON becomes a string).
    fn answer(
        &self,
        what: &str,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, Value)> {
        let mut resp =
            resp.map_err(|e| anyhow!("cannot reach the server at {}: {e}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .with_context(|| format!("cannot read the answer to {what}"))?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, v))
    }

    fn finish(
        &self,
        what: &str,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value> {
        let (status, v) = self.answer(what, resp)?;
        if !(200..300).contains(&status) {
            let msg = v["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            bail!("{what}: {msg} (HTTP {status})");
        }
        Ok(v)
    }

    /// POST and return the status with the body, whatever the status.
    pub fn post_status(&self, path: &str, body: &Value) -> Result<(u16, Value)> {
        let resp = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .send_json(body);
        self.answer(&format!("POST {path}"), resp)
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        let resp = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call();
        self.finish(&format!("GET {path}"), resp)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let resp = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .send_json(body);
        self.finish(&format!("POST {path}"), resp)
    }

    /// POST a file's bytes as the body.
    pub fn post_bytes(&self, path: &str, body: Vec<u8>) -> Result<Value> {
        let resp = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/octet-stream")
            .send(&body[..]);
        self.finish(&format!("POST {path}"), resp)
    }

    /// GET an answer that is text, not JSON (an export).
    pub fn get_text(&self, path: &str) -> Result<String> {
        let resp = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call();
        let what = format!("GET {path}");
        let mut resp =
            resp.map_err(|e| anyhow!("cannot reach the server at {}: {e}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .with_context(|| format!("cannot read the answer to {what}"))?;
        if !(200..300).contains(&status) {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            let msg = v["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            bail!("{what}: {msg} (HTTP {status})");
        }
        Ok(text)
    }

    /// GET a file into `dest`; returns the bytes written.
    pub fn download(&self, path: &str, dest: &std::path::Path) -> Result<u64> {
        let resp = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call();
        let what = format!("GET {path}");
        let mut resp =
            resp.map_err(|e| anyhow!("cannot reach the server at {}: {e}", self.base))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            let msg = v["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            bail!("{what}: {msg} (HTTP {status})");
        }
        let mut out = std::fs::File::create(dest)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        let n = std::io::copy(&mut resp.body_mut().as_reader(), &mut out)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        Ok(n)
    }

    pub fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        let resp = self
            .agent
            .patch(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .send_json(body);
        self.finish(&format!("PATCH {path}"), resp)
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        let resp = self
            .agent
            .delete(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call();
        self.finish(&format!("DELETE {path}"), resp)
    }
}

/// `s` for a URL path segment or query value: everything but unreserved characters
/// percent-encoded.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
