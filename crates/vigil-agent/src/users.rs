//! User names for uids, from `/etc/passwd` (re-read when it changes).

use std::collections::HashMap;
use std::time::SystemTime;

#[derive(Debug, Default)]
pub struct Users {
    names: HashMap<u32, String>,
    loaded: Option<SystemTime>,
    checked: Option<std::time::Instant>,
}

impl Users {
    pub fn new() -> Users {
        let mut u = Users::default();
        u.refresh();
        u
    }

    /// Re-read `/etc/passwd` if it changed (checked at most once a second).
    pub fn refresh(&mut self) {
        if self.checked.is_some_and(|c| c.elapsed().as_secs() < 1) {
            return;
        }
        self.checked = Some(std::time::Instant::now());
        let mtime = std::fs::metadata("/etc/passwd")
            .and_then(|m| m.modified())
            .ok();
        if mtime.is_some() && mtime == self.loaded {
            return;
        }
        self.loaded = mtime;
        self.names = parse_passwd(&std::fs::read_to_string("/etc/passwd").unwrap_or_default());
    }

    /// The name of `uid`, or the number as text when it has none.
    pub fn name(&self, uid: u32) -> String {
        self.names
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string())
    }
}

/// `name:x:uid:...` lines; malformed lines are skipped.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let uid = f.nth(1)?.parse().ok()?;
            (!name.is_empty()).then(|| (uid, name.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwd_lines() {
        let m = super::parse_passwd("root:x:0:0:root:/root:/bin/bash\nbad line\n:x:5:\nbob:x:1000:1000::/home/bob:/bin/sh\n");
        assert_eq!(m.get(&0).map(String::as_str), Some("root"));
        assert_eq!(m.get(&1000).map(String::as_str), Some("bob"));
        assert_eq!(m.len(), 2);
    }
}
