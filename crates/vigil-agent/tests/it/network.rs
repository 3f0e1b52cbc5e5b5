//! Network telemetry: TCP connect (success, failure), accept, listen; DNS names on connections.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use crate::harness::{agent, marker, s};

#[test]
fn tcp_connect_accept_listen_on_loopback() {
    let Some(agent) = agent() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port() as i64;
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let cport = client.local_addr().unwrap().port() as i64;
    let (_server_side, _) = listener.accept().unwrap();
    let me = std::process::id() as i64;

    let listen = agent.wait_for("listen", |r| {
        s(r, "ActionType") == "ListeningConnectionCreated" && r["LocalPort"].as_i64() == Some(port)
    });
    assert_eq!(listen[0]["InitiatingProcessId"].as_i64(), Some(me));
    let conn = agent.wait_for("connect", |r| {
        s(r, "ActionType") == "ConnectionSuccess"
            && r["RemotePort"].as_i64() == Some(port)
            && r["LocalPort"].as_i64() == Some(cport)
    });
    let c = &conn[0];
    assert_eq!(s(c, "RemoteIP"), "127.0.0.1");
    assert_eq!(s(c, "LocalIP"), "127.0.0.1");
    assert_eq!(s(c, "Protocol"), "Tcp");
    assert_eq!(s(c, "RemoteIPType"), "Loopback");
    assert_eq!(c["InitiatingProcessId"].as_i64(), Some(me));
    let acc = agent.wait_for("accept", |r| {
        s(r, "ActionType") == "InboundConnectionAccepted"
            && r["LocalPort"].as_i64() == Some(port)
            && r["RemotePort"].as_i64() == Some(cport)
    });
    assert_eq!(acc[0]["InitiatingProcessId"].as_i64(), Some(me));

    // A refused connection: bind a port, close it, connect.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(TcpStream::connect(closed).is_err());
    agent.wait_for("refused", |r| {
        s(r, "ActionType") == "ConnectionFailed"
            && r["RemotePort"].as_i64() == Some(closed.port() as i64)
    });
}

/// Build a DNS response for `name` with one A record.
fn dns_response(query: &[u8], addr: Ipv4Addr) -> Vec<u8> {
    // Copy the header id and the question, set QR/RD/RA, one answer with a name pointer.
    let qend = {
        let mut i = 12;
        while query[i] != 0 {
            i += query[i] as usize + 1;
        }
        i + 5
    };
    let mut r = Vec::new();
    r.extend_from_slice(&query[0..2]);
    r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    r.extend_from_slice(&query[12..qend]);
    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    r.extend_from_slice(&addr.octets());
    r
}

fn dns_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[test]
fn dns_answer_names_the_next_connection() {
    let Some(agent) = agent() else { return };
    let name = format!("{}.test", marker("dns"));
    let server_addr: SocketAddr = "127.0.0.153:53".parse().unwrap();
    let server = match UdpSocket::bind(server_addr) {
        Ok(s) => s,
        Err(e) => {
            println!("skipped: cannot bind the local DNS responder on {server_addr}: {e}");
            return;
        }
    };
    let target = Ipv4Addr::new(127, 0, 0, 77);
    let responder = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        server
            .send_to(&dns_response(&buf[..n], target), from)
            .unwrap();
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client.send_to(&dns_query(&name), server_addr).unwrap();
    let mut buf = [0u8; 512];
    let n = client.recv(&mut buf).unwrap();
    assert!(n > 0);
    responder.join().unwrap();
    let answers = agent.wait_for("DnsQueryResponse", |r| {
        s(r, "ActionType") == "DnsQueryResponse" && s(r, "RemoteUrl") == name
    });
    assert_eq!(
        answers[0]["AdditionalFields"]["DnsQueryResult"][0]["DnsQueryResult"],
        "127.0.0.77"
    );

    let listener = TcpListener::bind((target, 0)).unwrap();
    let port = listener.local_addr().unwrap().port() as i64;
    let mut c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    drop(listener.accept().unwrap());
    let _ = c.read(&mut [0u8; 1]);
    let conn = agent.wait_for("named connection", |r| {
        s(r, "ActionType") == "ConnectionSuccess" && r["RemotePort"].as_i64() == Some(port)
    });
    assert_eq!(s(&conn[0], "RemoteUrl"), name);
    assert_eq!(s(&conn[0], "RemoteIP"), "127.0.0.77");
}
