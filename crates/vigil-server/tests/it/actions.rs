//! Response actions over the real protocol, with a test handler in place of the agent's
//! executor: queued while the device is offline and run when it connects, timed out, cancelled,
//! never run twice across reconnections (the journal answers), files both ways with their
//! SHA-256 checked, live-response sessions (one per device, every command audited) and bad
//! requests refused with nothing changed.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vigil_uplink::spool::SpoolOptions;
use vigil_uplink::{Command, CommandHandler, CommandOptions, Reporter, Uplink, UplinkOptions};

use crate::harness::{wait_until, Api, Fixture};

/// Runs commands the way a test needs: `echo` returns its arguments, `live.getfile` uploads
/// the file named, `live.putfile` downloads the library file, anything else fails.
struct Handler {
    runs: AtomicUsize,
    seen: Mutex<Vec<String>>,
    cancelled: Mutex<Vec<String>>,
}

impl CommandHandler for Handler {
    fn handle(&self, cmd: Command, reporter: Reporter) {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(cmd.kind.clone());
        std::thread::spawn(move || {
            reporter.started(&cmd.id);
            let args: Value = serde_json::from_str(&cmd.args_json).unwrap();
            match cmd.kind.as_str() {
                "collect" => reporter.succeeded(&cmd.id, json!({ "Collected": true })),
                "live.getfile" => {
                    let p = Path::new(args["path"].as_str().unwrap());
                    match reporter.upload(
                        &cmd.id,
                        p,
                        "big.bin",
                        args["max_bytes"].as_u64().unwrap(),
                    ) {
                        Ok(ack) => reporter.succeeded(&cmd.id, json!({ "FileId": ack.file_id })),
                        Err(e) => reporter.failed(&cmd.id, &e),
                    }
                }
                "live.putfile" => {
                    let dest = Path::new(args["path"].as_str().unwrap());
                    match reporter.download(args["file"].as_str().unwrap(), dest, 1 << 30) {
                        Ok((size, sha)) => {
                            reporter.succeeded(&cmd.id, json!({ "Size": size, "SHA256": sha }))
                        }
                        Err(e) => reporter.failed(&cmd.id, &e),
                    }
                }
                other => reporter.failed(&cmd.id, &format!("{other} is not run by this test")),
            }
        });
    }

    fn cancel(&self, id: &str) {
        self.cancelled.lock().unwrap().push(id.to_string());
    }
}

fn handler() -> Arc<Handler> {
    Arc::new(Handler {
        runs: AtomicUsize::new(0),
        seen: Mutex::new(Vec::new()),
        cancelled: Mutex::new(Vec::new()),
    })
}

fn agent(fx: &Fixture, h: &Arc<Handler>) -> Uplink {
    let dir = fx.agent_dir();
    let mut opts = UplinkOptions::new(SpoolOptions::new(dir.join("spool")));
    opts.commands = Some(CommandOptions {
        dir: dir.join("commands"),
        handler: Arc::clone(h) as Arc<dyn CommandHandler>,
    });
    Uplink::start(fx.agent.clone(), opts).unwrap()
}

fn action(api: &Api, id: &str) -> Value {
    let (st, a) = api.get(&format!("/api/v1/actions/{id}"));
    assert_eq!(st, 200, "{a}");
    a
}

fn queue(api: &Api, device: &str, body: Value) -> Value {
    let (st, a) = api.post(&format!("/api/v1/devices/{device}/actions"), body.clone());
    assert_eq!(st, 200, "{body}: {a}");
    a
}

#[test]
fn an_action_queued_offline_runs_on_reconnect_once_and_expired_ones_time_out() {
    let fx = Fixture::new("dev-act-1");
    let api = &fx.api;
    let a = queue(
        api,
        "dev-act-1",
        json!({ "type": "collect", "comment": "incident 42" }),
    );
    assert_eq!(a["Status"], "Pending");
    let short = queue(
        api,
        "dev-act-1",
        json!({ "type": "collect", "ttl_seconds": 1 }),
    );
    let cancelled = queue(api, "dev-act-1", json!({ "type": "collect" }));
    let (st, c) = api.post(
        &format!(
            "/api/v1/actions/{}/cancel",
            cancelled["ActionId"].as_str().unwrap()
        ),
        json!({ "comment": "wrong device" }),
    );
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["Status"], "Cancelled");
    std::thread::sleep(Duration::from_millis(2500));

    let h = handler();
    let up = agent(&fx, &h);
    let id = a["ActionId"].as_str().unwrap();
    wait_until("the action to succeed", 30, || {
        action(api, id)["Status"] == "Succeeded"
    });
    let done = action(api, id);
    assert_eq!(done["Result"]["Collected"], true);
    let statuses: Vec<&str> = done["Timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["Status"].as_str())
        .collect();
    assert_eq!(statuses, ["Pending", "InProgress", "Succeeded"], "{done}");
    assert_eq!(done["Timeline"][0]["Detail"], "incident 42");
    assert_eq!(done["Timeline"][1]["Actor"], "dev-act-1");
    let s = action(api, short["ActionId"].as_str().unwrap());
    assert_eq!(s["Status"], "TimedOut", "{s}");
    assert_eq!(h.runs.load(Ordering::SeqCst), 1, "only the live action ran");
    let (st, v) = api.post(&format!("/api/v1/actions/{id}/cancel"), json!({}));
    assert_eq!(st, 400, "a finished action cannot be cancelled: {v}");

    // Reconnecting (a new uplink on the same journal) runs nothing again.
    up.shutdown(Duration::from_secs(2));
    let h2 = handler();
    let up2 = agent(&fx, &h2);
    let again = queue(api, "dev-act-1", json!({ "type": "collect" }));
    let id2 = again["ActionId"].as_str().unwrap();
    wait_until("the second action", 30, || {
        action(api, id2)["Status"] == "Succeeded"
    });
    assert_eq!(h2.runs.load(Ordering::SeqCst), 1);

    // The action center lists them.
    let (_, v) = api.get("/api/v1/actions?device=dev-act-1");
    assert_eq!(v["total"], 4, "{v}");
    let (_, v) = api.get("/api/v1/actions?pending=true");
    assert_eq!(v["total"], 0, "{v}");
    up2.shutdown(Duration::from_secs(2));
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    let fx = Fixture::new("dev-act-2");
    let api = &fx.api;
    for (device, body, status, needle) in [
        ("nope", json!({ "type": "collect" }), 404, "nope"),
        (
            "dev-act-2",
            json!({ "type": "format-disk" }),
            400,
            "unknown action",
        ),
        ("dev-act-2", json!({ "type": "kill" }), 400, "pid"),
        (
            "dev-act-2",
            json!({ "type": "isolate", "args": { "mode": "selective" } }),
            400,
            "allow",
        ),
        (
            "dev-act-2",
            json!({ "type": "quarantine", "args": { "path": "/tmp/../etc/shadow" } }),
            400,
            "..",
        ),
        (
            "dev-act-2",
            json!({ "type": "live.getfile", "args": { "path": "/etc/hosts" } }),
            400,
            "session",
        ),
        (
            "dev-act-2",
            json!({ "type": "collect", "ttl_seconds": 0 }),
            400,
            "ttl_seconds",
        ),
        (
            "dev-act-2",
            json!({ "type": "collect", "why": "x" }),
            400,
            "why",
        ),
    ] {
        let (st, v) = api.post(&format!("/api/v1/devices/{device}/actions"), body.clone());
        assert_eq!(st, status, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{body}: {v}");
    }
    let (_, v) = api.get("/api/v1/actions");
    assert_eq!(v["total"], 0, "{v}");
    let (st, v) = api.post("/api/v1/actions/ac_nope/undo", json!({}));
    assert_eq!(st, 404, "{v}");

    // One live session per device; commands are checked; traversal refused.
    let (st, s) = api.post("/api/v1/devices/dev-act-2/live", json!({}));
    assert_eq!(st, 200, "{s}");
    let (st, v) = api.post("/api/v1/devices/dev-act-2/live", json!({}));
    assert_eq!(st, 409, "{v}");
    let sid = s["SessionId"].as_str().unwrap();
    for (body, needle) in [
        (
            json!({ "command": "getfile", "args": { "path": "../../etc/shadow" } }),
            "absolute",
        ),
        (
            json!({ "command": "getfile", "args": { "path": "/var/../etc/shadow" } }),
            "..",
        ),
        (
            json!({ "command": "putfile", "args": { "file": "../x", "path": "/tmp/x" } }),
            "plain name",
        ),
        (
            json!({ "command": "putfile", "args": { "file": "missing.sh", "path": "/tmp/x" } }),
            "missing.sh",
        ),
        (
            json!({ "command": "shell" }),
            "unknown live-response command",
        ),
    ] {
        let (st, v) = api.post(&format!("/api/v1/live/{sid}/commands"), body.clone());
        assert!(st == 400 || st == 404, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{body}: {v}");
    }
    let (_, v) = api.get("/api/v1/actions");
    assert_eq!(v["total"], 0, "refused commands are not queued: {v}");
    let (st, _) = api.delete(&format!("/api/v1/live/{sid}"));
    assert_eq!(st, 200);
    let (st, v) = api.post(
        &format!("/api/v1/live/{sid}/commands"),
        json!({ "command": "processes" }),
    );
    assert_eq!(st, 400, "{v}");
    let (st, _) = api.post("/api/v1/devices/dev-act-2/live", json!({}));
    assert_eq!(st, 200, "a new session once the old one is closed");
}

#[test]
fn files_move_both_ways_with_their_sha256_and_live_commands_are_audited() {
    let fx = Fixture::new("dev-act-3");
    let api = &fx.api;
    let h = handler();
    let up = agent(&fx, &h);

    // putfile: a library script reaches the device unchanged.
    let script = b"#!/bin/sh\necho collected\n".repeat(1000);
    let (st, f) = api.post_raw("/api/v1/library?name=collect.sh&description=test", &script);
    assert_eq!(st, 200, "{f}");
    let (st, v) = api.post_raw("/api/v1/library?name=collect.sh", b"x");
    assert_eq!(st, 409, "library names are unique: {v}");
    let (st, s) = api.post("/api/v1/devices/dev-act-3/live", json!({}));
    assert_eq!(st, 200, "{s}");
    let sid = s["SessionId"].as_str().unwrap();
    let dest = fx.dir.path().join("put.sh");
    let (st, a) = api.post(
        &format!("/api/v1/live/{sid}/commands"),
        json!({ "command": "putfile", "args": { "file": "collect.sh", "path": dest }, "wait_seconds": 30 }),
    );
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["Status"], "Succeeded", "{a}");
    assert_eq!(std::fs::read(&dest).unwrap(), script);
    assert_eq!(a["Result"]["SHA256"], f["SHA256"]);

    // getfile: 100 MB arrive with the same SHA-256.
    let big = fx.dir.path().join("big.bin");
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..(100 << 20) / 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.write_all(&x.to_le_bytes()).unwrap();
        }
    }
    let want = hex::encode(Sha256::digest(std::fs::read(&big).unwrap()));
    let (st, a) = api.post(
        &format!("/api/v1/live/{sid}/commands"),
        json!({ "command": "getfile", "args": { "path": big }, "wait_seconds": 120 }),
    );
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["Status"], "Succeeded", "{a}");
    let file = &a["Files"][0];
    assert_eq!(file["SHA256"], want.as_str());
    assert_eq!(file["Size"], 100 << 20);
    let mut resp = ureq::get(format!(
        "{}/api/v1/action-files/{}",
        api.base,
        file["FileId"].as_str().unwrap()
    ))
    .header("Authorization", format!("Bearer {}", api.token))
    .call()
    .unwrap();
    let body = resp
        .body_mut()
        .with_config()
        .limit(200 << 20)
        .read_to_vec()
        .unwrap();
    assert_eq!(hex::encode(Sha256::digest(&body)), want);

    // Too big for the limit asked for: refused by the agent, named.
    let (_, a) = api.post(
        &format!("/api/v1/live/{sid}/commands"),
        json!({ "command": "getfile", "args": { "path": big, "max_bytes": 1000 }, "wait_seconds": 30 }),
    );
    assert_eq!(a["Status"], "Failed", "{a}");
    assert!(
        a["Error"].as_str().unwrap().contains("over the limit"),
        "{a}"
    );

    // Every command of the session is in the audit trail.
    let (_, v) = api.get(&format!("/api/v1/live/{sid}"));
    let kinds: Vec<&str> = v["Commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["Type"].as_str())
        .collect();
    assert_eq!(kinds.len(), 3, "{v}");
    assert!(kinds.iter().all(|k| k.starts_with("live.")));
    let (_, v) = api.get(&format!("/api/v1/actions?session={sid}"));
    assert_eq!(v["total"], 3);
    up.shutdown(Duration::from_secs(2));
}
