//! Why a response action failed, and the checks of its arguments.
//!
//! The server checks every action's arguments before queueing it (`vigil-server`'s
//! `respond/kinds.rs`); the agent checks them again, because it acts on the device and must
//! not trust a message for the shape of a path. Messages are lowercase, without a trailing
//! period, and name what failed with what input: they are the action's error in the action
//! center.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A response action that could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    #[error("argument {name}: {reason}")]
    Argument { name: &'static str, reason: String },
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    #[error("{path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error("{path} already exists: putfile replaces a file only with overwrite true")]
    Exists { path: PathBuf },
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
    #[error("{program} failed: {detail}")]
    Program { program: String, detail: String },
    #[error("{0}")]
    Failed(String),
}

pub type Result<T> = std::result::Result<T, RespondError>;

impl RespondError {
    /// An I/O error of `op` on `path`; a missing file becomes `NotFound`.
    pub fn io<'a>(
        op: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> RespondError + 'a {
        move |source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                RespondError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                RespondError::Io {
                    op,
                    path: path.to_path_buf(),
                    source,
                }
            }
        }
    }

    fn arg(name: &'static str, reason: impl Into<String>) -> RespondError {
        RespondError::Argument {
            name,
            reason: reason.into(),
        }
    }
}

/// The action's arguments (a JSON object).
pub struct Args<'a>(&'a serde_json::Map<String, Value>);

impl<'a> Args<'a> {
    pub fn new(v: &'a Value) -> Result<Args<'a>> {
        static EMPTY: std::sync::OnceLock<serde_json::Map<String, Value>> =
            std::sync::OnceLock::new();
        match v {
            Value::Object(m) => Ok(Args(m)),
            Value::Null => Ok(Args(EMPTY.get_or_init(serde_json::Map::new))),
            other => Err(RespondError::Failed(format!(
                "the arguments must be a JSON object, not {other}"
            ))),
        }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// An absolute path without `.`/`..` segments or NUL, at most 4096 bytes.
    pub fn path(&self, name: &'static str) -> Result<PathBuf> {
        let p = self
            .get(name)
            .ok_or_else(|| RespondError::arg(name, "is missing (an absolute path)"))?;
        check_path(name, p)
    }

    pub fn opt_path(&self, name: &'static str) -> Result<Option<PathBuf>> {
        self.get(name).map(|p| check_path(name, p)).transpose()
    }

    pub fn string(&self, name: &'static str) -> Result<&'a str> {
        self.opt_string(name)?
            .ok_or_else(|| RespondError::arg(name, "is missing"))
    }

    pub fn opt_string(&self, name: &'static str) -> Result<Option<&'a str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(RespondError::arg(
                name,
                format!("must be a string, not {other}"),
            )),
        }
    }

    pub fn flag(&self, name: &'static str) -> Result<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(RespondError::arg(
                name,
                format!("must be true or false, not {other}"),
            )),
        }
    }

    pub fn opt_u64(&self, name: &'static str) -> Result<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| RespondError::arg(name, format!("must be a whole number, not {v}"))),
        }
    }

    /// A list of strings (missing: empty).
    pub fn strings(&self, name: &'static str) -> Result<Vec<String>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        RespondError::arg(name, format!("must hold strings, not {v}"))
                    })
                })
                .collect(),
            Some(other) => Err(RespondError::arg(
                name,
                format!("must be a list, not {other}"),
            )),
        }
    }

    /// The raw value (for structured arguments such as isolation's allow list).
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.get(name)
    }

    /// A plain file name (no `/`), as library files are named.
    pub fn plain_name(&self, name: &'static str) -> Result<&'a str> {
        let n = self.string(name)?;
        if n.is_empty() || n.contains('/') || n == "." || n == ".." || n.contains('\0') {
            return Err(RespondError::arg(
                name,
                format!("{n:?} must be a library file's plain name"),
            ));
        }
        Ok(n)
    }
}

fn check_path(name: &'static str, v: &Value) -> Result<PathBuf> {
    let p = v
        .as_str()
        .ok_or_else(|| RespondError::arg(name, format!("must be a path, not {v}")))?;
    if !p.starts_with('/') {
        return Err(RespondError::arg(
            name,
            format!("{p:?} must be an absolute path"),
        ));
    }
    if p.len() > 4096 || p.contains('\0') {
        return Err(RespondError::arg(name, "is not a usable path"));
    }
    if p.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err(RespondError::arg(
            name,
            format!("{p:?} must not contain '.' or '..' segments"),
        ));
    }
    Ok(PathBuf::from(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_absolute_and_without_traversal() {
        let v = json!({ "a": "/etc/hosts", "b": "etc/hosts", "c": "/var/../etc/shadow", "d": 5 });
        let a = Args::new(&v).unwrap();
        assert_eq!(a.path("a").unwrap(), PathBuf::from("/etc/hosts"));
        for (name, needle) in [
            ("b", "absolute"),
            ("c", "'..'"),
            ("d", "must be a path"),
            ("e", "missing"),
        ] {
            let e = a.path(name).unwrap_err().to_string();
            assert!(e.contains(needle), "{name}: {e}");
            assert!(e.starts_with("argument "), "{e}");
        }
        assert_eq!(a.opt_path("e").unwrap(), None);
    }

    #[test]
    fn scalars_and_lists_are_checked() {
        let v = json!({ "t": true, "n": 7, "s": ["x", "y"], "bad": [1], "name": "a/b" });
        let a = Args::new(&v).unwrap();
        assert!(a.flag("t").unwrap());
        assert!(!a.flag("missing").unwrap());
        assert!(a.flag("n").is_err());
        assert_eq!(a.opt_u64("n").unwrap(), Some(7));
        assert_eq!(a.strings("s").unwrap(), ["x", "y"]);
        assert!(a
            .strings("bad")
            .unwrap_err()
            .to_string()
            .contains("strings"));
        assert!(a
            .plain_name("name")
            .unwrap_err()
            .to_string()
            .contains("plain name"));
        assert!(Args::new(&json!([1])).is_err());
        assert!(Args::new(&Value::Null).unwrap().flag("x").is_ok());
    }
}
