//! Isolation across hosts made of network namespaces: the agent's device in one namespace,
//! reaching its server (in the test's namespace) over a veth pair, and a second device (a
//! namespace with a listener) over another. Isolation must keep the server (actions and
//! heartbeats), cut the other device, survive an agent restart, and leave the ruleset exactly
//! as it was after release.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::harness::{in_netns, is_root, serial, wait_until, Stack};

const HOST_IP: &str = "10.201.0.1";
const DEV_IP: &str = "10.201.0.2";
const PEER_IP: &str = "10.203.0.2";

struct Net {
    dev: String,
    peer: String,
    host_veth: String,
    listener: Option<std::process::Child>,
}

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Net {
    fn new() -> Result<Net, String> {
        let id = std::process::id() % 100_000;
        let net = Net {
            dev: format!("vgl-dev-{id}"),
            peer: format!("vgl-peer-{id}"),
            host_veth: format!("vgh{id}"),
            listener: None,
        };
        let (dev, peer, hv) = (net.dev.as_str(), net.peer.as_str(), net.host_veth.as_str());
        let dv = format!("vgd{id}");
        let (pa, pb) = (format!("vga{id}"), format!("vgb{id}"));
        sh(&["ip", "netns", "add", dev])?;
        sh(&["ip", "netns", "add", peer])?;
        sh(&["ip", "link", "add", hv, "type", "veth", "peer", "name", &dv])?;
        sh(&["ip", "link", "set", &dv, "netns", dev])?;
        sh(&["ip", "addr", "add", &format!("{HOST_IP}/24"), "dev", hv])?;
        sh(&["ip", "link", "set", hv, "up"])?;
        let in_dev = |a: &[&str]| {
            let mut v = vec!["ip", "netns", "exec", dev];
            v.extend_from_slice(a);
            sh(&v)
        };
        in_dev(&["ip", "addr", "add", &format!("{DEV_IP}/24"), "dev", &dv])?;
        in_dev(&["ip", "link", "set", &dv, "up"])?;
        in_dev(&["ip", "link", "set", "lo", "up"])?;
        sh(&[
            "ip", "link", "add", &pa, "type", "veth", "peer", "name", &pb,
        ])?;
        sh(&["ip", "link", "set", &pa, "netns", dev])?;
        sh(&["ip", "link", "set", &pb, "netns", peer])?;
        in_dev(&["ip", "addr", "add", "10.203.0.1/24", "dev", &pa])?;
        in_dev(&["ip", "link", "set", &pa, "up"])?;
        sh(&[
            "ip",
            "netns",
            "exec",
            peer,
            "ip",
            "addr",
            "add",
            &format!("{PEER_IP}/24"),
            "dev",
            &pb,
        ])?;
        sh(&["ip", "netns", "exec", peer, "ip", "link", "set", &pb, "up"])?;
        Ok(net)
    }

    /// A TCP listener on the peer (ports 8080 and 8081) that accepts and closes.
    fn listen(&mut self) -> Result<(), String> {
        // (No `\` line continuations here: they would strip Python's indentation.)
        let code = [
            "import socket,threading",
            "def serve(p):",
            "    s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
            "    s.bind(('0.0.0.0',p)); s.listen(16)",
            "    while True:",
            "        c,_=s.accept(); c.close()",
            "threading.Thread(target=serve,args=(8081,),daemon=True).start()",
            "serve(8080)",
        ]
        .join("\n");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.peer, "python3", "-c", &code])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("python3: {e}"))?;
        self.listener = Some(child);
        wait_until("the peer's listener", 10, || self.reach(8080));
        Ok(())
    }

    /// Whether the device namespace can open a connection to the peer's `port`.
    fn reach(&self, port: u16) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.dev, "timeout", "3", "bash", "-c"])
            .arg(format!("exec 3<>/dev/tcp/{PEER_IP}/{port}"))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn ruleset(&self) -> String {
        let out = in_netns(Some(&self.dev), "nft")
            .args(["-j", "list", "ruleset"])
            .output()
            .expect("nft");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn has_table(&self) -> bool {
        in_netns(Some(&self.dev), "nft")
            .args(["list", "table", "inet", "vigil_isolation"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(mut l) = self.listener.take() {
            let _ = l.kill();
            let _ = l.wait();
        }
        let _ = sh(&["ip", "link", "del", &self.host_veth]);
        let _ = sh(&["ip", "netns", "del", &self.dev]);
        let _ = sh(&["ip", "netns", "del", &self.peer]);
    }
}

#[test]
fn isolation_keeps_the_server_cuts_other_hosts_survives_a_restart_and_release_restores_the_ruleset()
{
    let _s = serial();
    if !is_root() {
        println!("skipped: needs root (network namespaces, nftables)");
        return;
    }
    for tool in ["nft", "python3", "bash", "timeout"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map_or(true, |s| !s.success())
        {
            println!("skipped: {tool} is not installed");
            return;
        }
    }
    let mut net = match Net::new() {
        Ok(n) => n,
        Err(e) => {
            println!("skipped: cannot build the network namespaces: {e}");
            return;
        }
    };
    if let Err(e) = net.listen() {
        println!("skipped: no listener on the peer: {e}");
        return;
    }
    // A rule of someone else's, which isolation must leave alone.
    in_netns(Some(&net.dev), "nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"table ip other { chain out { type filter hook output priority 0; policy accept; tcp dport 9999 counter; }; }\n")?;
            c.wait()
        })
        .expect("nft");
    let before = net.ruleset();
    assert!(before.contains("\"other\""), "{before}");

    let st = Stack::start("netns", HOST_IP, Some(&net.dev));
    assert!(net.reach(8080));
    let r = st.ok("isolate", json!({}));
    assert_eq!(r["Mode"], "full", "{r}");
    assert_eq!(r["ServerAddresses"][0], HOST_IP, "{r}");
    assert!(!net.reach(8080), "the other host is cut off");
    // The server still reaches the device: heartbeats and actions.
    let seen = |st: &Stack| st.get("/api/v1/devices")[0]["LastSeen"].clone();
    let first = seen(&st);
    wait_until("a heartbeat through the isolation", 30, || {
        seen(&st) != first
    });
    let e = st.fails("kill", json!({ "pid": 4_000_000 }));
    assert!(e.contains("no process"), "{e}");
    wait_until("the status to show the isolation", 10, || {
        st.status()["respond"]["isolation"]["Mode"] == "full"
    });

    // An agent restart keeps the isolation (the table stays and is applied again), and the
    // new agent reconnects through it.
    st.stop_agent();
    assert!(net.has_table(), "the isolation outlives the agent process");
    st.start_agent();
    assert!(!net.reach(8080), "still isolated after the restart");
    let e = st.fails("kill", json!({ "pid": 4_000_001 }));
    assert!(e.contains("no process"), "{e}");

    // Selective: the allowed service only.
    let r = st.ok(
        "isolate",
        json!({ "mode": "selective", "allow": [{ "proto": "tcp", "port": 8080, "remote": "10.203.0.0/24" }] }),
    );
    assert_eq!(r["Mode"], "selective", "{r}");
    assert!(net.reach(8080), "the allowed service");
    assert!(!net.reach(8081), "not another port");

    let r = st.ok("release", json!({}));
    assert_eq!(r["Released"], true, "{r}");
    assert!(net.reach(8080) && net.reach(8081));
    assert!(!net.has_table());
    assert_eq!(net.ruleset(), before, "the ruleset is exactly as it was");
    let r = st.ok("release", json!({}));
    assert_eq!(r["Released"], false, "releasing twice is harmless: {r}");
    drop(st);
    std::thread::sleep(Duration::from_millis(200));
}
