//! Protection through the real agent binary: IP and CIDR blocks (connect, UDP sendmsg,
//! inbound packets), removal and expiry, domain blocks from DNS answers, exec blocks by hash
//! with the verdict cache, and `BlockAndRemediate` kills.
//!
//! Each test starts its own agent with its own indicators file (`protection.indicators_file`)
//! and its own addresses (127.91.<test>.x), so tests never see each other's blocks. Clients
//! are child processes (`python3 -c`, `bash`), never the agent. Tests skip with a printed
//! reason when not root, when the kernel lacks the rung they need, or without python3.

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::harness::{is_root, s, sha256_of, temp_dir, Agent};

struct Protected {
    agent: Agent,
    file: PathBuf,
}

/// An agent enforcing the indicators file it was given (empty at first), or `None` after
/// printing why not.
fn start(name: &str, extra: &str) -> Option<Protected> {
    if !is_root() {
        println!("skipped: needs root to load the enforcement programs");
        return None;
    }
    if Command::new("python3")
        .args(["-c", "pass"])
        .status()
        .is_err()
    {
        println!("skipped: the protection tests drive clients with python3, which is missing");
        return None;
    }
    let file = temp_dir(&format!("protect-{name}")).join("indicators.json");
    write_indicators(&file, &[]);
    let cfg = format!(
        "[protection]\nindicators_file = \"{}\"\n{extra}",
        file.display()
    );
    let agent = Agent::start(&format!("protect-{name}"), &cfg);
    Some(Protected { agent, file })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn indicator(id: u64, kind: &str, value: &str, action: &str) -> Value {
    json!({"id": id, "type": kind, "value": value, "action": action, "severity": "High",
           "title": format!("test {id}"), "generate_alert": true})
}

/// Replace the indicators file at once (write, then rename), as JSON lines.
fn write_indicators(path: &Path, list: &[Value]) {
    let text: String = list.iter().map(|v| format!("{v}\n")).collect();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

impl Protected {
    fn protection(&self) -> Value {
        self.agent.status()["protection"].clone()
    }

    /// Write `list` and wait (up to 20 s) until the agent applied it and `ready` holds.
    fn enforce(&self, list: &[Value], ready: impl Fn(&Value) -> bool) -> Value {
        let before = self.protection()["indicators"]["generation"]
            .as_u64()
            .unwrap_or(0);
        write_indicators(&self.file, list);
        self.wait("the indicators to be applied", |p| {
            p["indicators"]["generation"].as_u64().unwrap_or(0) > before
                && p["indicators"]["total"].as_u64() == Some(list.len() as u64)
                && ready(p)
        })
    }

    fn wait(&self, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let p = self.protection();
            if ready(&p) {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; protection status: {p:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn rung(&self, which: &str, want: &str) -> bool {
        let p = self.wait("the protection status", |p| p.is_object());
        if p[which]["rung"] == want {
            return true;
        }
        println!(
            "skipped: {which} enforcement is {} here ({}), not {want}",
            p[which]["rung"], p[which]["detail"]
        );
        false
    }
}

/// What a client child saw.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Errno(i32),
    Timeout,
}

const CLIENT: &str = r#"
import os, socket, sys
print("pid", os.getpid(), flush=True)
mode, ip, port, bind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
try:
    if mode == "tcp":
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(2)
        if bind: s.bind((bind, 0))
        s.connect((ip, port))
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if bind: s.bind((bind, 0))
        for _ in range(int(mode[3:] or 1)):
            s.sendto(b"vigil", (ip, port))
    print("ok")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("err", e.errno)
"#;

/// Run `python3 -c CLIENT`: `tcp` connects, `udpN` sends N datagrams; returns its pid and
/// what it saw.
fn client(mode: &str, ip: &str, port: u16, bind: &str) -> (u32, Outcome) {
    let out = Command::new("python3")
        .args(["-c", CLIENT, mode, ip, &port.to_string(), bind])
        .output()
        .expect("run python3");
    parse_client(&String::from_utf8_lossy(&out.stdout))
}

fn parse_client(text: &str) -> (u32, Outcome) {
    let mut pid = 0;
    let mut outcome = None;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["pid", p] => pid = p.parse().unwrap(),
            ["ok", ..] => outcome = Some(Outcome::Ok),
            ["timeout", ..] => outcome = Some(Outcome::Timeout),
            ["err", e, ..] => outcome = Some(Outcome::Errno(e.parse().unwrap())),
            _ => {}
        }
    }
    (
        pid,
        outcome.unwrap_or_else(|| panic!("no outcome in {text:?}")),
    )
}

fn listener(ip: &str) -> (TcpListener, u16) {
    let l = TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("bind {ip}: {e}"));
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Poll (up to `secs`) until `f` holds.
fn eventually(what: &str, secs: u64, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn blocked_rows(agent: &Agent, remote_ip: &str) -> Vec<Value> {
    agent
        .rows()
        .into_iter()
        .filter(|r| {
            s(r, "ActionType") == "ExploitGuardNetworkProtectionBlocked"
                && s(r, "RemoteIP") == remote_ip
        })
        .collect()
}

#[test]
fn blocked_ip_and_cidr_refuse_connect_from_any_process_until_lifted() {
    let Some(p) = start("net", "") else { return };
    if !p.rung("network", "cgroup-bpf") {
        return;
    }
    let (blocked, neighbour, expiring) = ("127.91.1.77", "127.91.1.76", "127.91.1.80");
    let (in_cidr, out_cidr) = ("127.91.17.5", "127.91.32.5");
    let (_l1, blocked_port) = listener(blocked);
    let (_l2, neighbour_port) = listener(neighbour);
    let (_l3, expiring_port) = listener(expiring);
    let mut expires = indicator(9103, "ip", expiring, "block");
    expires["expires_ms"] = json!(now_ms() + 12_000);
    let list = vec![
        indicator(9101, "ip", blocked, "block"),
        indicator(9102, "cidr", "127.91.16.0/20", "block"),
        expires,
        indicator(9104, "ip", neighbour, "audit"), // reported by the server, never blocked
        indicator(9105, "cidr", "2001:db8:91::/64", "block"),
    ];
    p.enforce(&list, |s| s["indicators"]["blocked_networks"] == 4);
    assert_eq!(
        client("tcp", expiring, expiring_port, "").1,
        Outcome::Errno(libc::EPERM),
        "the expiring indicator must block before it expires"
    );

    // A blocked address: EPERM for a child's connect, and a row naming it and the indicator.
    let (pid, got) = client("tcp", blocked, blocked_port, "");
    assert_eq!(got, Outcome::Errno(libc::EPERM));
    let rows = p.agent.wait_for("the connect block", |r| {
        s(r, "ActionType") == "ExploitGuardNetworkProtectionBlocked"
            && s(r, "RemoteIP") == blocked
            && r["InitiatingProcessId"].as_i64() == Some(pid as i64)
    });
    let row = &rows[0];
    assert_eq!(row["RemotePort"].as_i64(), Some(blocked_port as i64));
    assert_eq!(row["AdditionalFields"]["IndicatorId"], 9101);
    assert_eq!(row["AdditionalFields"]["Direction"], "Outbound");
    assert_eq!(row["AdditionalFields"]["Hook"], "connect");
    assert!(
        s(row, "InitiatingProcessFileName").starts_with("python3"),
        "{row}"
    );
    // bash's /dev/tcp too, and UDP sends.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("exec 3<>/dev/tcp/{blocked}/{blocked_port}"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
        "{out:?}"
    );
    assert_eq!(client("udp", blocked, 9, "").1, Outcome::Errno(libc::EPERM));

    // IPv6: a blocked network (EPERM before any route is looked up; outside it the kernel
    // says there is no route), and an IPv4-mapped address through connect6.
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        assert_eq!(
            client("tcp", "2001:db8:91::5", 80, "").1,
            Outcome::Errno(libc::EPERM)
        );
        assert_ne!(
            client("tcp", "2001:db8:92::5", 80, "").1,
            Outcome::Errno(libc::EPERM)
        );
        let mapped = format!("::ffff:{blocked}");
        assert_eq!(
            client("tcp", &mapped, blocked_port, "").1,
            Outcome::Errno(libc::EPERM)
        );
    } else {
        println!("skipped the IPv6 part: IPv6 is disabled here");
    }

    // The neighbour (an audit indicator) and addresses outside the CIDR work.
    assert_eq!(client("tcp", neighbour, neighbour_port, "").1, Outcome::Ok);
    assert_eq!(
        client("tcp", in_cidr, 80, "").1,
        Outcome::Errno(libc::EPERM)
    );
    assert_eq!(
        client("tcp", out_cidr, 80, "").1,
        Outcome::Errno(libc::ECONNREFUSED)
    );

    // Expiry lifts a block without a new file.
    eventually("the expired indicator to stop blocking", 30, || {
        client("tcp", expiring, expiring_port, "").1 == Outcome::Ok
    });

    // Removing the indicator lifts its block; the CIDR stays.
    p.enforce(&list[1..2], |s| s["indicators"]["blocked_networks"] == 1);
    assert_eq!(client("tcp", blocked, blocked_port, "").1, Outcome::Ok);
    assert_eq!(
        client("tcp", in_cidr, 80, "").1,
        Outcome::Errno(libc::EPERM)
    );

    // `vigil-agent status --json` reports the rungs.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil-agent"))
        .args(["status", "--json", "--config", "/dev/null", "--state-dir"])
        .arg(&p.agent.state_dir)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["protection"]["network"]["rung"], "cgroup-bpf");
    assert!(v["protection"]["network_counters"]["connect_refused"].as_u64() >= Some(4));
    assert!(v["protection"]["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["hook"] == "cgroup/connect4" && h["attached"] == true));
}

#[test]
fn packets_from_a_blocked_address_are_dropped_and_a_flood_is_one_row_per_interval() {
    let Some(p) = start("inbound", "report_interval_ms = 1000\n") else {
        return;
    };
    if !p.rung("network", "cgroup-bpf") {
        return;
    }
    let (tcp_peer, udp_peer) = ("127.91.3.78", "127.91.3.79");
    p.enforce(
        &[
            indicator(9201, "ip", tcp_peer, "block"),
            indicator(9202, "ip", udp_peer, "block"),
        ],
        |s| s["indicators"]["blocked_networks"] == 2,
    );

    // A connection from the blocked address to a listener on 127.0.0.1 never completes.
    let (l, port) = listener("127.0.0.1");
    assert_eq!(
        client("tcp", "127.0.0.1", port, tcp_peer).1,
        Outcome::Timeout
    );
    l.set_nonblocking(true).unwrap();
    assert!(
        l.accept().is_err(),
        "nothing may be accepted from {tcp_peer}"
    );
    let rows = p.agent.wait_for("the inbound drop", |r| {
        s(r, "ActionType") == "ExploitGuardNetworkProtectionBlocked" && s(r, "RemoteIP") == tcp_peer
    });
    assert_eq!(rows[0]["AdditionalFields"]["Direction"], "Inbound");
    assert_eq!(rows[0]["AdditionalFields"]["Hook"], "ingress");
    assert_eq!(rows[0]["LocalPort"].as_i64(), Some(port as i64));
    assert_eq!(rows[0]["AdditionalFields"]["IndicatorId"], 9201);

    // 200 datagrams: none arrives; at most a few rows, which count all 200.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let uport = sock.local_addr().unwrap().port();
    assert_eq!(
        client("udp200", "127.0.0.1", uport, udp_peer).1,
        Outcome::Ok
    );
    assert!(sock.recv(&mut [0u8; 64]).is_err(), "a datagram got through");
    let total = |rows: &[Value]| -> u64 {
        rows.iter()
            .map(|r| r["AdditionalFields"]["BlockCount"].as_u64().unwrap_or(0))
            .sum()
    };
    eventually("all 200 drops to be reported", 15, || {
        total(&blocked_rows(&p.agent, udp_peer)) == 200
    });
    let rows = blocked_rows(&p.agent, udp_peer);
    assert!(
        rows.len() <= 3,
        "a flood must not be a row per packet: {}",
        rows.len()
    );
    assert!(rows
        .iter()
        .all(|r| r["AdditionalFields"]["Protocol"] == "Udp"));
    // The kernel counted every drop (status.json follows within a second).
    p.wait("201 inbound drops in the counters", |s| {
        s["network_counters"]["inbound_dropped"].as_u64() >= Some(201)
    });
}

/// A DNS answer: the address, its TTL, and a CNAME in front of it.
struct Answer {
    addr: IpAddr,
    ttl: u32,
    cname: Option<String>,
}

fn dns_name(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.split('.') {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    v
}

/// The question name of a query (uncompressed labels), lowercase, and where it ends.
fn question(q: &[u8]) -> Option<(String, usize)> {
    let mut i = 12;
    let mut labels = Vec::new();
    while *q.get(i)? != 0 {
        let n = q[i] as usize;
        labels.push(String::from_utf8_lossy(q.get(i + 1..i + 1 + n)?).to_lowercase());
        i += n + 1;
    }
    Some((labels.join("."), i + 5))
}

fn dns_reply(q: &[u8], qend: usize, a: &Answer) -> Vec<u8> {
    let count = if a.cname.is_some() { 2 } else { 1 };
    let mut r = q[0..2].to_vec();
    r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, count, 0, 0, 0, 0]);
    r.extend_from_slice(&q[12..qend]);
    let ttl = a.ttl.to_be_bytes();
    let mut owner = vec![0xc0, 12];
    if let Some(target) = &a.cname {
        let t = dns_name(target);
        let rdata_at = r.len() + 12;
        r.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1]);
        r.extend_from_slice(&ttl);
        r.extend_from_slice(&(t.len() as u16).to_be_bytes());
        r.extend_from_slice(&t);
        owner = vec![0xc0 | (rdata_at >> 8) as u8, rdata_at as u8];
    }
    r.extend_from_slice(&owner);
    let (rtype, data) = match a.addr {
        IpAddr::V4(v4) => (1u8, v4.octets().to_vec()),
        IpAddr::V6(v6) => (28u8, v6.octets().to_vec()),
    };
    r.extend_from_slice(&[0, rtype, 0, 1]);
    r.extend_from_slice(&ttl);
    r.extend_from_slice(&(data.len() as u16).to_be_bytes());
    r.extend_from_slice(&data);
    r
}

/// A child that resolves `name` through `server` and connects at once to the answer's last
/// address: the application racing the agent.
const RESOLVE_AND_CONNECT: &str = r#"
import os, socket, sys
print("pid", os.getpid(), flush=True)
name, server, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\x00\x00\x01\x00\x01"
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(3)
c.sendto(q, (server, 53))
ip = socket.inet_ntoa(c.recv(512)[-4:])
s = socket.socket()
s.settimeout(2)
try:
    s.connect((ip, port))
    print("ok", ip)
except OSError as e:
    print("err", e.errno, ip)
"#;

#[test]
fn blocked_domain_addresses_are_refused_before_the_application_can_use_them() {
    let Some(p) = start("dns", "dns_ttl_floor_secs = 1\n") else {
        return;
    };
    if !p.rung("network", "cgroup-bpf") {
        return;
    }
    let server_addr: SocketAddr = "127.91.2.53:53".parse().unwrap();
    let server = match UdpSocket::bind(server_addr) {
        Ok(s) => s,
        Err(e) => return println!("skipped: cannot bind the DNS responder on {server_addr}: {e}"),
    };
    let m = format!("vp{}", std::process::id());
    let evil = format!("evil-{m}.test");
    let v4 = |a: [u8; 4]| IpAddr::from(a);
    let table: Vec<(String, Answer)> = [
        (evil.clone(), v4([127, 91, 2, 10]), 300, None),
        (format!("good-{m}.test"), v4([127, 91, 2, 11]), 300, None),
        (format!("a.b.{evil}"), v4([127, 91, 2, 12]), 300, None),
        (format!("not{evil}"), v4([127, 91, 2, 13]), 300, None),
        (format!("ok.{evil}"), v4([127, 91, 2, 14]), 300, None),
        // The question is blocked: its addresses are, whatever the CNAME says.
        (
            format!("alias.{evil}"),
            v4([127, 91, 2, 15]),
            300,
            Some(format!("cdn.elsewhere-{m}.test")),
        ),
        (format!("short.{evil}"), v4([127, 91, 2, 16]), 2, None),
        // Only the CNAME target is blocked: the agent's user-space path (it races).
        (
            format!("www-{m}.test"),
            v4([127, 91, 2, 17]),
            300,
            Some(format!("x.{evil}")),
        ),
        // An AAAA answer (a documentation address: unroutable unless blocked first).
        (
            format!("v6.{evil}"),
            "2001:db8:91:2::10".parse().unwrap(),
            300,
            None,
        ),
    ]
    .into_iter()
    .map(|(n, a, ttl, cname)| {
        (
            n,
            Answer {
                addr: a,
                ttl,
                cname,
            },
        )
    })
    .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let responder = {
        let stop = Arc::clone(&stop);
        server
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stop.load(Ordering::Relaxed) {
                let Ok((n, from)) = server.recv_from(&mut buf) else {
                    continue;
                };
                let Some((name, qend)) = question(&buf[..n]) else {
                    continue;
                };
                if let Some((_, a)) = table.iter().find(|(k, _)| *k == name) {
                    let _ = server.send_to(&dns_reply(&buf[..n], qend, a), from);
                }
            }
        })
    };
    let listeners: Vec<(TcpListener, u16)> = (10..=17)
        .map(|i| listener(&format!("127.91.2.{i}")))
        .collect();
    let port = |i: usize| listeners[i - 10].1;
    p.enforce(
        &[
            indicator(9301, "domain", &evil, "block"),
            indicator(9302, "domain", &format!("ok.{evil}"), "allow"),
        ],
        |s| s["indicators"]["blocked_domains"] == 1,
    );
    let resolve = |name: &str, i: usize| -> (u32, Outcome) {
        let out = Command::new("python3")
            .args([
                "-c",
                RESOLVE_AND_CONNECT,
                name,
                "127.91.2.53",
                &port(i).to_string(),
            ])
            .output()
            .expect("run python3");
        parse_client(&String::from_utf8_lossy(&out.stdout))
    };

    // The application connects the moment it has the answer: already refused.
    let (pid, got) = resolve(&evil, 10);
    assert_eq!(got, Outcome::Errno(libc::EPERM), "{evil}");
    let rows = p.agent.wait_for("the domain block", |r| {
        s(r, "ActionType") == "ExploitGuardNetworkProtectionBlocked"
            && r["InitiatingProcessId"].as_i64() == Some(pid as i64)
    });
    assert_eq!(s(&rows[0], "RemoteIP"), "127.91.2.10");
    assert_eq!(s(&rows[0], "RemoteUrl"), evil);
    assert_eq!(rows[0]["AdditionalFields"]["IndicatorId"], 9301);
    assert_eq!(rows[0]["AdditionalFields"]["IndicatorValue"], evil.as_str());

    assert_eq!(
        resolve(&format!("a.b.{evil}"), 12).1,
        Outcome::Errno(libc::EPERM),
        "subdomain"
    );
    assert_eq!(
        resolve(&format!("alias.{evil}"), 15).1,
        Outcome::Errno(libc::EPERM),
        "cname"
    );
    assert_eq!(
        resolve(&format!("good-{m}.test"), 11).1,
        Outcome::Ok,
        "sibling"
    );
    assert_eq!(
        resolve(&format!("not{evil}"), 13).1,
        Outcome::Ok,
        "not a subdomain"
    );
    assert_eq!(
        resolve(&format!("ok.{evil}"), 14).1,
        Outcome::Ok,
        "allowed subdomain"
    );

    // AAAA records are blocked as well: here the test process asks and connects itself.
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut q = vec![0x43, 0x21, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(&dns_name(&format!("v6.{evil}")));
        q.extend_from_slice(&[0, 28, 0, 1]);
        c.send_to(&q, server_addr).unwrap();
        assert!(c.recv(&mut [0u8; 512]).unwrap() > 0);
        let v6: SocketAddr = "[2001:db8:91:2::10]:80".parse().unwrap();
        let e = std::net::TcpStream::connect_timeout(&v6, Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
    }

    // The block lasts the answer's TTL (2 s here, the floor being 1 s), then lifts.
    assert_eq!(
        resolve(&format!("short.{evil}"), 16).1,
        Outcome::Errno(libc::EPERM)
    );
    let short = format!("127.91.2.16:{}", port(16));
    eventually("the 2 s DNS block to expire", 15, || {
        std::net::TcpStream::connect_timeout(&short.parse().unwrap(), Duration::from_secs(1))
            .is_ok()
    });

    // A blocked CNAME target is caught from user space: later, but caught.
    let _ = resolve(&format!("www-{m}.test"), 17);
    let cname_target = format!("127.91.2.17:{}", port(17));
    eventually("the CNAME target's address to be blocked", 10, || {
        std::net::TcpStream::connect_timeout(&cname_target.parse().unwrap(), Duration::from_secs(1))
            .is_err()
    });
    p.wait("the DNS counters", |s| {
        s["network_counters"]["dns_answers_blocked"].as_u64() >= Some(5)
            && s["dns_user_space_blocks"].as_u64() >= Some(1)
    });

    // Removing the domain unblocks its addresses at once.
    p.enforce(&[], |s| s["indicators"]["blocked_domains"] == 0);
    let first = format!("127.91.2.10:{}", port(10));
    assert!(
        std::net::TcpStream::connect_timeout(&first.parse().unwrap(), Duration::from_secs(1))
            .is_ok()
    );
    stop.store(true, Ordering::Relaxed);
    responder.join().unwrap();
}

/// A copy of `src` with `marker` appended (an ELF runs the same with trailing bytes).
fn marked_copy(src: &str, dir: &Path, name: &str, marker: &str) -> PathBuf {
    let dst = dir.join(name);
    let mut bytes = std::fs::read(src).unwrap();
    bytes.extend_from_slice(marker.as_bytes());
    std::fs::write(&dst, bytes).unwrap();
    std::fs::set_permissions(&dst, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dst
}

/// The detection rows of `path`, in the order they happened.
fn exec_rows(agent: &Agent, path: &Path) -> Vec<Value> {
    let mut rows: Vec<Value> = agent
        .rows()
        .into_iter()
        .filter(|r| {
            s(r, "ActionType") == "AntivirusDetection"
                && s(r, "FolderPath") == path.to_str().unwrap()
        })
        .collect();
    rows.sort_by(|a, b| s(a, "Timestamp").cmp(s(b, "Timestamp")));
    rows
}

#[test]
fn exec_of_a_blocked_hash_is_refused_and_served_from_the_cache_the_second_time() {
    let Some(p) = start("exec", "") else { return };
    if !p.rung("exec", "fanotify") {
        return;
    }
    let dir = temp_dir("protect-exec-files");
    let tag = format!("{}-{}", std::process::id(), now_ms());
    let bad = marked_copy("/bin/true", &dir, "bad", &format!("bad-{tag}"));
    let good = marked_copy("/bin/true", &dir, "good", &format!("ok!-{tag}"));
    let bad_sha = sha256_of(bad.to_str().unwrap());
    p.enforce(&[indicator(9401, "sha256", &bad_sha, "block")], |s| {
        s["exec_marks"]["armed"] == true && s["indicators"]["sha256"] == 1
    });

    // Refused, from a child this process spawns ...
    let err = Command::new(&bad)
        .status()
        .expect_err("the blocked file ran");
    assert!(
        matches!(err.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)),
        "{err}"
    );
    // ... and from bash.
    let out = Command::new("bash")
        .arg("-c")
        .arg("exec \"$0\"")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"));
    // The look-alike runs.
    assert!(Command::new(&good).status().unwrap().success());

    // Two rows: the first verdict came from hashing, the second from the cache.
    eventually("two detection rows", 20, || {
        exec_rows(&p.agent, &bad).len() >= 2
    });
    let rows = exec_rows(&p.agent, &bad);
    for r in &rows {
        assert_eq!(r["AdditionalFields"]["ThreatName"], "Indicator:test 9401");
        assert_eq!(r["AdditionalFields"]["Action"], "Blocked");
        assert_eq!(r["AdditionalFields"]["IndicatorId"], 9401);
        assert_eq!(s(r, "SHA256"), bad_sha);
        assert_eq!(s(r, "FileName"), "bad");
    }
    assert_eq!(rows[0]["AdditionalFields"]["VerdictSource"], "scan");
    assert_eq!(rows[1]["AdditionalFields"]["VerdictSource"], "cache");
    assert!(
        s(&rows[1], "InitiatingProcessCommandLine").contains("bash"),
        "{}",
        rows[1]
    );
    // status.json is rewritten every second: wait for it to show the hit.
    let st = p.wait("the cache hit in the status", |s| {
        s["exec_counters"]["cache_hits"].as_u64() >= Some(1)
    });
    let hits = st["exec_counters"]["cache_hits"].as_u64().unwrap();
    assert!(Command::new(&good).status().unwrap().success());
    p.wait("a cache hit for the second run of the clean file", |s| {
        s["exec_counters"]["cache_hits"].as_u64() > Some(hits)
    });

    // BlockAndRemediate kills what already runs the file.
    let victim = marked_copy("/bin/sleep", &dir, "victim", &format!("victim-{tag}"));
    let mut child = Command::new(&victim)
        .arg("60")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let victim_sha = sha256_of(victim.to_str().unwrap());
    p.enforce(
        &[
            indicator(9401, "sha256", &bad_sha, "block"),
            indicator(9402, "sha256", &victim_sha, "block-and-remediate"),
        ],
        |s| s["indicators"]["remediate"] == 1,
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the remediated process still runs");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    let rows = p.agent.wait_for("the kill report", |r| {
        s(r, "ActionType") == "AntivirusDetection" && r["AdditionalFields"]["Action"] == "Killed"
    });
    assert_eq!(rows[0]["ProcessId"].as_i64(), Some(child.id() as i64));
    assert_eq!(
        rows[0]["AdditionalFields"]["Remediation"],
        "quarantine not supported yet"
    );
}

#[test]
fn bpf_lsm_rung_is_probed() {
    if !is_root() {
        return println!("skipped: needs root to probe BPF LSM");
    }
    let probe = vigil_agent::protect::ladder::probe_lsm();
    if !probe.available {
        return println!("skipped: BPF LSM rung unavailable here: {}", probe.detail);
    }
    // Where it is available the probe loaded a program; the blocks still use the fanotify
    // and cgroup rungs (see protect::ladder), which the other tests cover.
    assert!(probe.detail.contains("loads"), "{}", probe.detail);
}
