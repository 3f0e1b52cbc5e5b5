//! Sockets for `live.connections` and the investigation package: `/proc/net/{tcp,tcp6,udp,
//! udp6}` (of the agent's network namespace), each with the process that owns it (found by the
//! socket's inode among `/proc/<pid>/fd`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::{json, Value};

const TCP_STATES: [&str; 12] = [
    "UNKNOWN",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
];

/// One socket line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub local: (IpAddr, u16),
    pub remote: (IpAddr, u16),
    pub state: u8,
    pub uid: u32,
    pub inode: u64,
}

/// An address as `/proc/net` writes it: hex of the kernel's 32-bit words in host order.
fn parse_addr(text: &str) -> Option<(IpAddr, u16)> {
    let (a, p) = text.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(a, 16).ok()?.swap_bytes(),
        )),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(&a[i * 8..i * 8 + 8], 16).ok()?;
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            let v6 = Ipv6Addr::from(bytes);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some((ip, port))
}

/// Parse a `/proc/net/{tcp,udp}[6]` file.
pub fn parse(text: &str) -> Vec<Socket> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(Socket {
                local: parse_addr(f.get(1)?)?,
                remote: parse_addr(f.get(2)?)?,
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                uid: f.get(7)?.parse().ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// Every TCP and UDP socket, as rows.
pub fn connections() -> Vec<Value> {
    let owners = super::procs::socket_owners();
    let users = crate::users::Users::new();
    let mut out = Vec::new();
    for proto in ["tcp", "tcp6", "udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/net/{proto}")).unwrap_or_default();
        for s in parse(&text) {
            let state = if proto.starts_with("tcp") {
                TCP_STATES
                    .get(s.state as usize)
                    .copied()
                    .unwrap_or("UNKNOWN")
            } else if s.remote.1 == 0 {
                "UNCONNECTED"
            } else {
                "CONNECTED"
            };
            let owner = owners.get(&s.inode);
            out.push(json!({
                "Protocol": proto,
                "LocalAddress": s.local.0.to_string(),
                "LocalPort": s.local.1,
                "RemoteAddress": s.remote.0.to_string(),
                "RemotePort": s.remote.1,
                "State": state,
                "ProcessId": owner.map(|o| o.0),
                "ProcessName": owner.map(|o| o.1.as_str()),
                "User": users.name(s.uid),
                "Inode": s.inode,
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_lines_parse() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n";
        let s = parse(tcp);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].local, ("127.0.0.1".parse().unwrap(), 8080));
        assert_eq!((s[0].state, s[0].inode), (0x0A, 12345));
        let tcp6 = "  sl header\n   0: 00000000000000000000000001000000:0016 0000000000000000FFFF00000100007F:C350 01 0:0 0:0 0 1000 0 777 1\n";
        let s = parse(tcp6);
        assert_eq!(s[0].local, ("::1".parse().unwrap(), 22));
        assert_eq!(s[0].remote, ("127.0.0.1".parse().unwrap(), 50000));
        assert_eq!(s[0].uid, 1000);
    }

    #[test]
    fn a_listener_of_this_process_is_found_with_its_owner() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let rows = connections();
        let me = rows
            .iter()
            .find(|r| r["LocalPort"] == port && r["State"] == "LISTEN")
            .expect("the listener");
        assert_eq!(me["ProcessId"], std::process::id());
    }
}
