//! Network isolation with nftables: `isolate` and `release`.
//!
//! Isolation is one table of Vigil's own, `inet vigil_isolation`, with an input and an output
//! base chain at priority `filter - 10` (before the usual filter chains) and policy `drop`.
//! What they accept: loopback; the Vigil server's addresses on its port (resolved from the
//! enrolment when the isolation is applied; replies only when conntrack knows the flow, so a
//! connection to the server that was open before isolation stays up); IPv6 neighbour
//! discovery (without it an IPv6 link dies); DHCP (v4 and v6) client traffic, so that the
//! device keeps its address; and, in `selective` mode, each allowed
//! (protocol, port, remote network?): connections to that port on a remote host and from a
//! remote host to that local port, with their replies.
//!
//! The table is replaced in one `nft -f` transaction (created, deleted and defined again), and
//! `release` deletes it, also in one transaction: nothing else of the ruleset is read or
//! touched, so after a release the ruleset is exactly what it was.
//!
//! **Invariant:** isolation is persisted (`<state_dir>/respond/isolation.json`, written after
//! the table is in place, removed after it is gone) and applied again when the agent starts,
//! so it survives agent restarts and reboots until a release; if the server's name no longer
//! resolves then, the addresses resolved before are used.

use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::child;
use super::error::{RespondError, Result};

pub const TABLE: &str = "inet vigil_isolation";

/// One service selective isolation keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allow {
    /// `tcp` or `udp`.
    pub proto: String,
    pub port: u16,
    /// A network (`10.0.0.0/8`, `2001:db8::/32`) or any remote.
    pub remote: Option<String>,
}

/// The isolation in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// `full` or `selective`.
    pub mode: String,
    pub allow: Vec<Allow>,
    /// The enrolled server (`host:port`), its addresses and port.
    pub server: String,
    pub server_addrs: Vec<IpAddr>,
    pub server_port: u16,
    pub since: String,
    pub action_id: String,
}

impl Isolation {
    pub fn to_json(&self) -> Value {
        json!({
            "Mode": self.mode,
            "Allowed": self.allow.iter().map(|a| json!({ "Protocol": a.proto, "Port": a.port, "Remote": a.remote })).collect::<Vec<_>>(),
            "Server": self.server,
            "ServerAddresses": self.server_addrs,
            "Table": TABLE,
            "Since": self.since,
            "ActionId": self.action_id,
        })
    }
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("isolation.json")
}

/// Parse the `isolate` arguments: `mode` and `allow`.
pub fn parse_args(args: &super::error::Args<'_>) -> Result<(String, Vec<Allow>)> {
    let mode = args.opt_string("mode")?.unwrap_or("full").to_string();
    if mode != "full" && mode != "selective" {
        return Err(RespondError::Argument {
            name: "mode",
            reason: format!("must be full or selective, not {mode:?}"),
        });
    }
    let bad = |reason: String| RespondError::Argument {
        name: "allow",
        reason,
    };
    let mut allow = Vec::new();
    let list = match args.raw("allow") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => return Err(bad(format!("must be a list, not {other}"))),
    };
    for (i, a) in list.iter().enumerate() {
        let proto = a["proto"].as_str().unwrap_or("tcp").to_string();
        if proto != "tcp" && proto != "udp" {
            return Err(bad(format!(
                "[{i}].proto must be tcp or udp, not {proto:?}"
            )));
        }
        let port = a["port"]
            .as_u64()
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| bad(format!("[{i}].port must be 1 to 65535")))?
            as u16;
        let remote = match a["remote"].as_str() {
            Some(r) => Some(
                vigil_intel::normalize::cidr(r)
                    .map(|(n, l)| format!("{n}/{l}"))
                    .map_err(|e| bad(format!("[{i}].remote: {e}")))?,
            ),
            None => None,
        };
        allow.push(Allow {
            proto,
            port,
            remote,
        });
    }
    if mode == "selective" && allow.is_empty() {
        return Err(bad("selective isolation needs at least one entry".into()));
    }
    if mode == "full" && !allow.is_empty() {
        return Err(bad(
            "full isolation allows nothing but the server: use mode selective".into(),
        ));
    }
    Ok((mode, allow))
}

/// The server's host and port from `host:port` (IPv6 in brackets).
fn split_server(server: &str) -> Result<(String, u16)> {
    let bad = || {
        RespondError::Failed(format!(
            "the enrolled server address {server:?} is not HOST:PORT"
        ))
    };
    let (host, port) = if let Some(rest) = server.strip_prefix('[') {
        rest.split_once("]:").ok_or_else(bad)?
    } else {
        server.rsplit_once(':').ok_or_else(bad)?
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

fn resolve(host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
    let mut out: Vec<IpAddr> = (host, port).to_socket_addrs()?.map(|a| a.ip()).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

fn family(addr: &str) -> &'static str {
    if addr.contains(':') {
        "ip6"
    } else {
        "ip"
    }
}

/// The nft script that (re)defines the table.
pub fn script(iso: &Isolation) -> String {
    let mut input = vec![
        "iif \"lo\" accept".to_string(),
        "meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert, nd-redirect } accept".to_string(),
        // DHCP answers: the device keeps its address while isolated.
        "udp sport 67 udp dport 68 accept".to_string(),
        "udp sport 547 udp dport 546 accept".to_string(),
    ];
    let mut output = vec![
        "oif \"lo\" accept".to_string(),
        "meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept".to_string(),
        "udp sport 68 udp dport 67 accept".to_string(),
        "udp sport 546 udp dport 547 accept".to_string(),
    ];
    let port = iso.server_port;
    for a in &iso.server_addrs {
        let a = plain(*a);
        let f = family(&a);
        output.push(format!("{f} daddr {a} tcp dport {port} accept"));
        input.push(format!(
            "{f} saddr {a} tcp sport {port} ct state established accept"
        ));
    }
    for al in &iso.allow {
        let p = &al.proto;
        let n = al.port;
        match &al.remote {
            Some(r) => {
                let f = family(r);
                // Out to the service on remote hosts, and its replies.
                output.push(format!(
                    "{f} daddr {r} {p} dport {n} ct state new,established accept"
                ));
                input.push(format!(
                    "{f} saddr {r} {p} sport {n} ct state established accept"
                ));
                // In to the local service from remote hosts, and its replies.
                input.push(format!(
                    "{f} saddr {r} {p} dport {n} ct state new,established accept"
                ));
                output.push(format!(
                    "{f} daddr {r} {p} sport {n} ct state established accept"
                ));
            }
            None => {
                output.push(format!("{p} dport {n} ct state new,established accept"));
                input.push(format!("{p} sport {n} ct state established accept"));
                input.push(format!("{p} dport {n} ct state new,established accept"));
                output.push(format!("{p} sport {n} ct state established accept"));
            }
        }
    }
    let chain = |name: &str, hook: &str, rules: &[String]| {
        let mut s = format!(
            "  chain {name} {{\n    type filter hook {hook} priority filter - 10; policy drop;\n"
        );
        for r in rules {
            s.push_str("    ");
            s.push_str(r);
            s.push('\n');
        }
        s.push_str("  }\n");
        s
    };
    format!(
        "table {TABLE} {{}}\ndelete table {TABLE}\ntable {TABLE} {{\n{}{}}}\n",
        chain("input", "input", &input),
        chain("output", "output", &output)
    )
}

/// An IPv4-mapped IPv6 address as IPv4.
pub fn plain(a: IpAddr) -> String {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4).to_string(),
        v4 => v4.to_string(),
    }
}

fn nft(script: &str) -> Result<()> {
    child::program(
        "nft",
        &["-f", "-"],
        Some(script.as_bytes()),
        Duration::from_secs(30),
    )
    .map(|_| ())
    .map_err(|detail| RespondError::Program {
        program: "nft".into(),
        detail,
    })
}

/// Apply an isolation and persist it.
pub fn isolate(
    dir: &Path,
    server: Option<&str>,
    mode: String,
    allow: Vec<Allow>,
    action_id: &str,
) -> Result<Isolation> {
    let server = server.ok_or_else(|| {
        RespondError::Refused("isolation keeps the device's link to its Vigil server, but this agent is not enrolled with one".into())
    })?;
    let (host, port) = split_server(server)?;
    let mut addrs = resolve(&host, port).unwrap_or_default();
    if addrs.is_empty() {
        // Already isolated (DNS blocked): the addresses resolved then.
        addrs = load(dir).map(|i| i.server_addrs).unwrap_or_default();
    }
    if addrs.is_empty() {
        return Err(RespondError::Failed(format!(
            "cannot resolve the server {host}: isolating now would cut the device off its server"
        )));
    }
    let iso = Isolation {
        mode,
        allow,
        server: server.to_string(),
        server_addrs: addrs,
        server_port: port,
        since: vigil_schema::Timestamp::now().to_string(),
        action_id: action_id.to_string(),
    };
    nft(&script(&iso))?;
    if let Err(e) = save(dir, &iso) {
        let _ = nft(&release_script());
        return Err(e);
    }
    Ok(iso)
}

fn release_script() -> String {
    // Created first so that the delete succeeds whether or not the table exists.
    format!("table {TABLE} {{}}\ndelete table {TABLE}\n")
}

/// Remove the isolation table and forget the isolation.
pub fn release(dir: &Path) -> Result<Value> {
    let was = load(dir);
    nft(&release_script())?;
    match std::fs::remove_file(state_path(dir)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(RespondError::io("remove", &state_path(dir))(e)),
    }
    Ok(json!({
        "Released": was.is_some(),
        "WasIsolated": was.as_ref().map(Isolation::to_json),
        "Table": TABLE,
    }))
}

/// The isolation persisted, if any.
pub fn load(dir: &Path) -> Option<Isolation> {
    let text = std::fs::read_to_string(state_path(dir)).ok()?;
    serde_json::from_str(&text).ok()
}

fn save(dir: &Path, iso: &Isolation) -> Result<()> {
    let path = state_path(dir);
    let tmp = dir.join("isolation.json.tmp");
    let text = serde_json::to_vec_pretty(iso).map_err(|e| RespondError::Failed(e.to_string()))?;
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(RespondError::io("write", &path))
}

/// At agent start: apply the persisted isolation again (resolving the server anew).
pub fn reapply(dir: &Path) -> Option<Result<Isolation>> {
    let iso = load(dir)?;
    let mut now = iso.clone();
    if let Ok((host, port)) = split_server(&iso.server) {
        if let Ok(addrs) = resolve(&host, port) {
            if !addrs.is_empty() {
                now.server_addrs = addrs;
            }
        }
    }
    Some(nft(&script(&now)).and_then(|_| {
        if now != iso {
            save(dir, &now)?;
        }
        Ok(now)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn iso(mode: &str, allow: Vec<Allow>) -> Isolation {
        Isolation {
            mode: mode.into(),
            allow,
            server: "vigil.example:7443".into(),
            server_addrs: vec!["10.1.2.3".parse().unwrap(), "2001:db8::7".parse().unwrap()],
            server_port: 7443,
            since: String::new(),
            action_id: "ac_1".into(),
        }
    }

    #[test]
    fn the_script_keeps_loopback_and_the_server_only() {
        let s = script(&iso("full", Vec::new()));
        assert!(s.starts_with("table inet vigil_isolation {}\ndelete table inet vigil_isolation\n"));
        assert!(s.contains("policy drop"));
        assert!(s.contains("priority filter - 10"));
        assert!(s.contains("ip daddr 10.1.2.3 tcp dport 7443 accept"));
        assert!(s.contains("ip6 saddr 2001:db8::7 tcp sport 7443 ct state established accept"));
        assert!(!s.contains("dport 22"));
        let s = script(&iso(
            "selective",
            vec![Allow {
                proto: "tcp".into(),
                port: 22,
                remote: Some("10.0.0.0/8".into()),
            }],
        ));
        assert!(s.contains("ip saddr 10.0.0.0/8 tcp dport 22 ct state new,established accept"));
        assert!(s.contains("ip daddr 10.0.0.0/8 tcp dport 22 ct state new,established accept"));
    }

    #[test]
    fn arguments_and_server_addresses_are_checked() {
        let parse = |v: Value| parse_args(&super::super::error::Args::new(&v).unwrap());
        assert_eq!(parse(json!({})).unwrap().0, "full");
        let (m, a) =
            parse(json!({ "mode": "selective", "allow": [{ "port": 53, "proto": "udp" }] }))
                .unwrap();
        assert_eq!(
            (m.as_str(), a[0].port, a[0].remote.as_deref()),
            ("selective", 53, None)
        );
        for (v, needle) in [
            (json!({ "mode": "selective" }), "at least one"),
            (json!({ "mode": "airgap" }), "full or selective"),
            (
                json!({ "mode": "selective", "allow": [{ "port": 0 }] }),
                "1 to 65535",
            ),
            (
                json!({ "mode": "selective", "allow": [{ "port": 1, "proto": "sctp" }] }),
                "tcp or udp",
            ),
            (json!({ "allow": [{ "port": 22 }] }), "use mode selective"),
        ] {
            let e = parse(v.clone()).unwrap_err().to_string();
            assert!(e.contains(needle), "{v}: {e}");
        }
        assert_eq!(
            split_server("[::1]:7443").unwrap(),
            ("::1".to_string(), 7443)
        );
        assert_eq!(
            split_server("a.example:1").unwrap(),
            ("a.example".to_string(), 1)
        );
        assert!(split_server("a.example").is_err());
        assert_eq!(plain("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
    }
}
