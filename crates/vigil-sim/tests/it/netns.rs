//! An agent in its own network namespace streams to the server over a veth link; the link is
//! cut and restored mid-stream; every event arrives exactly once.

use std::process::Command;
use std::time::{Duration, Instant};

/// A network namespace with a veth link to the root namespace, removed on drop.
struct Link {
    ns: String,
    host_if: String,
    host_ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Link {
    fn create() -> Result<Link, String> {
        let id = std::process::id() % 200 + 20;
        let ns = format!("vigil-t{id}");
        let (a, b) = (format!("vta{id}"), format!("vtb{id}"));
        let (host_ip, ns_ip) = (format!("10.231.{id}.1"), format!("10.231.{id}.2"));
        let _ = ip(&["netns", "del", &ns]);
        let _ = ip(&["link", "del", &a]);
        ip(&["netns", "add", &ns])?;
        let link = Link {
            ns: ns.clone(),
            host_if: a.clone(),
            host_ip: host_ip.clone(),
        };
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b])?;
        ip(&["link", "set", &b, "netns", &ns])?;
        ip(&["addr", "add", &format!("{host_ip}/24"), "dev", &a])?;
        ip(&["link", "set", &a, "up"])?;
        ip(&["-n", &ns, "addr", "add", &format!("{ns_ip}/24"), "dev", &b])?;
        ip(&["-n", &ns, "link", "set", &b, "up"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        Ok(link)
    }

    fn set(&self, up: bool) {
        ip(&["link", "set", &self.host_if, if up { "up" } else { "down" }]).unwrap();
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.ns]);
    }
}

#[test]
fn cutting_and_restoring_the_link_loses_nothing() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root for network namespaces");
        return;
    }
    let link = match Link::create() {
        Ok(l) => l,
        Err(e) => {
            println!("skipped: cannot create a network namespace here: {e}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = vigil_server::ServerConfig::default();
    cfg.server.data_dir = dir.path().join("server");
    cfg.server.grpc_addr = format!("{}:0", link.host_ip).parse().unwrap();
    cfg.server.http_addr = "127.0.0.1:0".parse().unwrap();
    cfg.server.tls_names = vec![link.host_ip.clone()];
    let server = rt.block_on(vigil_server::start(cfg)).unwrap();
    let (_, token) = rt
        .block_on(server.ctx.state.create_enrollment_token(
            "netns",
            None,
            None,
            vigil_server::now_ms(),
        ))
        .unwrap();

    let total = 30_000u64;
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &link.ns,
            env!("CARGO_BIN_EXE_vigil-sim"),
            "stream",
        ])
        .args(["--server", &server.grpc_addr.to_string(), "--token", &token])
        .arg("--ca-cert")
        .arg(&server.ca_path)
        .args([
            "--agents",
            "1",
            "--prefix",
            "netns",
            "--events",
            &total.to_string(),
            "--rate",
            "3000",
        ])
        .arg("--state-dir")
        .arg(dir.path().join("agents"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Cut the link for 4 s in the middle of the 10 s stream.
    std::thread::sleep(Duration::from_secs(3));
    link.set(false);
    std::thread::sleep(Duration::from_secs(4));
    link.set(true);
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the simulated agent did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["sent"], total, "{summary}");
    assert_eq!(summary["acked"], total, "{summary}");
    assert_eq!(summary["dropped"], 0, "{summary}");

    let mut stored = 0i64;
    let mut distinct = 0i64;
    for t in [
        "DeviceProcessEvents",
        "DeviceFileEvents",
        "DeviceNetworkEvents",
        "DeviceEvents",
        "DeviceLogonEvents",
    ] {
        let batches = rt
            .block_on(server.ctx.store.sql(&format!(
                "SELECT count(*) AS n, count(DISTINCT ReportId) AS d FROM {t} WHERE DeviceId = 'netns-00000'"
            )))
            .unwrap();
        let rows = vigil_store::batches_to_json_rows(&batches);
        stored += rows[0]["n"].as_i64().unwrap();
        distinct += rows[0]["d"].as_i64().unwrap();
    }
    assert_eq!(stored as u64, total);
    assert_eq!(distinct as u64, total);
    rt.block_on(server.shutdown()).unwrap();
}
