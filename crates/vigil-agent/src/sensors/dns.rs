//! DNS answers seen on the wire.
//!
//! A packet socket (`AF_PACKET`, `SOCK_DGRAM`, every protocol) with the eBPF socket filter
//! `dns_filter` attached receives the UDP datagrams from port 53 that reach this host, starting
//! at the IP header. `parse_packet` checks the IPv4 or IPv6 and UDP headers and `parse_message`
//! decodes the DNS response: the first question and the A, AAAA and CNAME records of the answer
//! section. The pipeline uses the answers to name later connections (`RemoteUrl`) and to emit
//! DNS telemetry.
//!
//! Limits:
//! - only DNS over UDP port 53 is seen: DNS over TCP, DNS over TLS or HTTPS, and resolvers on
//!   other ports are invisible;
//! - IP fragments, IPv6 extension headers and truncated captures are dropped (counted as
//!   malformed); only standard queries (opcode 0) are decoded, authority and additional
//!   sections are ignored, and only class IN records are interpreted;
//! - a local stub resolver (127.0.0.53, dnsmasq, ...) makes one lookup visible twice: the
//!   upstream answer to the resolver and the relayed answer to the application;
//! - packets the host sends are skipped (`PACKET_OUTGOING`), so a DNS server running on this
//!   host is not observed answering remote clients.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// One DNS response, as seen on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsAnswer {
    /// Question name, lowercased, no trailing dot (the root is the empty string).
    pub query: String,
    /// QTYPE of the first question.
    pub query_type: u16,
    pub rcode: u8,
    /// A, AAAA and CNAME records of the answer section, in order.
    pub answers: Vec<DnsRecord>,
    /// The packet's destination (the asking socket).
    pub client: SocketAddr,
    /// The packet's source (the DNS server).
    pub server: SocketAddr,
}

/// A record of the answer section. Names follow the rules of `DnsAnswer::query`.
#[derive(Debug, Clone, PartialEq)]
pub enum DnsRecord {
    Addr {
        name: String,
        addr: IpAddr,
        ttl: u32,
    },
    Cname {
        name: String,
        target: String,
        ttl: u32,
    },
}

/// A decoded DNS response message (the UDP payload).
#[derive(Debug, Clone, PartialEq)]
pub struct DnsMessage {
    pub query: String,
    pub query_type: u16,
    pub rcode: u8,
    pub answers: Vec<DnsRecord>,
}

const DNS_PORT: u16 = 53;
const IPPROTO_UDP: u8 = 17;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
/// Compression pointers followed while reading one name.
const MAX_JUMPS: usize = 32;
/// Longest name on the wire, length octets and the root label included (RFC 1035 2.3.4).
const MAX_NAME_WIRE: usize = 255;
const DNS_HEADER: usize = 12;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parse an IPv4 or IPv6 packet (starting at the IP header) carrying UDP from port 53.
///
/// `None` when it is not a well-formed DNS response; never panics on any input.
pub fn parse_packet(packet: &[u8]) -> Option<DnsAnswer> {
    let first = *packet.first()?;
    let (src, dst, udp): (IpAddr, IpAddr, &[u8]) = match first >> 4 {
        4 => {
            let ihl = usize::from(first & 0x0f) * 4;
            let total = usize::from(be16(packet, 2)?);
            if ihl < 20 || total < ihl || total > packet.len() {
                return None;
            }
            let frag = be16(packet, 6)?;
            // More fragments, or a fragment offset: only whole datagrams are decoded.
            if frag & 0x2000 != 0 || frag & 0x1fff != 0 || *packet.get(9)? != IPPROTO_UDP {
                return None;
            }
            let s: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = packet.get(16..20)?.try_into().ok()?;
            let udp = packet.get(ihl..total)?;
            (Ipv4Addr::from(s).into(), Ipv4Addr::from(d).into(), udp)
        }
        6 => {
            let payload = usize::from(be16(packet, 4)?);
            // Extension headers (and jumbograms, which need one) are not followed.
            if *packet.get(6)? != IPPROTO_UDP {
                return None;
            }
            let s: [u8; 16] = packet.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = packet.get(24..40)?.try_into().ok()?;
            let udp = packet.get(40..40 + payload)?;
            (Ipv6Addr::from(s).into(), Ipv6Addr::from(d).into(), udp)
        }
        _ => return None,
    };
    let sport = be16(udp, 0)?;
    let dport = be16(udp, 2)?;
    let len = usize::from(be16(udp, 4)?);
    if sport != DNS_PORT || len < 8 || len > udp.len() {
        return None;
    }
    let msg = parse_message(udp.get(8..len)?)?;
    let sock = |ip: IpAddr, port: u16| match ip {
        IpAddr::V4(a) => SocketAddr::V4(SocketAddrV4::new(a, port)),
        IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, port, 0, 0)),
    };
    Some(DnsAnswer {
        query: msg.query,
        query_type: msg.query_type,
        rcode: msg.rcode,
        answers: msg.answers,
        client: sock(dst, dport),
        server: sock(src, sport),
    })
}

/// Parse the DNS message itself (the UDP payload): the first question, the response code and
/// the A, AAAA and CNAME records of the answer section.
///
/// `None` unless it is a well-formed response (QR set, opcode QUERY, at least one question)
/// whose questions and answer records are all complete; a class IN A, AAAA or CNAME record
/// whose data does not match its type makes the whole message invalid.
pub fn parse_message(msg: &[u8]) -> Option<DnsMessage> {
    if msg.len() < DNS_HEADER {
        return None;
    }
    let flags = be16(msg, 2)?;
    let qdcount = be16(msg, 4)?;
    let ancount = be16(msg, 6)?;
    if flags & 0x8000 == 0 || (flags >> 11) & 0x0f != 0 || qdcount == 0 {
        return None;
    }
    let rcode = (flags & 0x0f) as u8;
    let mut pos = DNS_HEADER;
    let mut first = None;
    for _ in 0..qdcount {
        let (name, next) = read_name(msg, pos)?;
        let qtype = be16(msg, next)?;
        be16(msg, next + 2)?; // QCLASS
        first.get_or_insert((name, qtype));
        pos = next + 4;
    }
    let (query, query_type) = first?;
    let mut answers = Vec::new();
    for _ in 0..ancount {
        let (name, next) = read_name(msg, pos)?;
        let rtype = be16(msg, next)?;
        let class = be16(msg, next + 2)?;
        let mut ttl = be32(msg, next + 4)?;
        let rdlen = usize::from(be16(msg, next + 8)?);
        let start = next + 10;
        let end = start + rdlen;
        let rdata = msg.get(start..end)?;
        // RFC 2181 8: a TTL with the top bit set is treated as zero.
        if ttl > i32::MAX as u32 {
            ttl = 0;
        }
        pos = end;
        if class != CLASS_IN {
            continue;
        }
        let addr: IpAddr = match rtype {
            TYPE_A => Ipv4Addr::from(<[u8; 4]>::try_from(rdata).ok()?).into(),
            TYPE_AAAA => Ipv6Addr::from(<[u8; 16]>::try_from(rdata).ok()?).into(),
            TYPE_CNAME => {
                let (target, after) = read_name(msg, start)?;
                if after != end {
                    return None;
                }
                answers.push(DnsRecord::Cname { name, target, ttl });
                continue;
            }
            _ => continue,
        };
        answers.push(DnsRecord::Addr { name, addr, ttl });
    }
    Some(DnsMessage {
        query,
        query_type,
        rcode,
        answers,
    })
}

/// Read the (possibly compressed) name at `start`: the name in presentation form and the
/// position just after it in the record that holds it.
///
/// Pointers must point backwards, past the header; at most `MAX_JUMPS` are followed and the
/// expanded name may not exceed `MAX_NAME_WIRE` bytes, so loops end with `None`.
fn read_name(msg: &[u8], start: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut pos = start;
    let mut after = None;
    let mut jumps = 0;
    let mut wire = 0;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                wire += 1;
                if wire > MAX_NAME_WIRE {
                    return None;
                }
                return Some((out, after.unwrap_or(pos + 1)));
            }
            0x00 => {
                let len = usize::from(len);
                wire += 1 + len;
                if wire > MAX_NAME_WIRE {
                    return None;
                }
                let label = msg.get(pos + 1..pos + 1 + len)?;
                if !out.is_empty() {
                    out.push('.');
                }
                push_label(&mut out, label);
                pos += 1 + len;
            }
            0xc0 => {
                let target = usize::from(u16::from_be_bytes([len & 0x3f, *msg.get(pos + 1)?]));
                jumps += 1;
                if jumps > MAX_JUMPS || target < DNS_HEADER || target >= pos {
                    return None;
                }
                after.get_or_insert(pos + 2);
                pos = target;
            }
            // 0x40 (extended label types, RFC 6891) and 0x80 are not names we can read.
            _ => return None,
        }
    }
}

/// Append one label, lowercased; bytes outside `!`..=`~`, and `.` and `\`, become `\DDD`.
fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => push_escaped(out, b),
            0x21..=0x7e => out.push(char::from(b.to_ascii_lowercase())),
            _ => push_escaped(out, b),
        }
    }
}

fn push_escaped(out: &mut String, b: u8) {
    out.push('\\');
    out.push(char::from(b'0' + b / 100));
    out.push(char::from(b'0' + b / 10 % 10));
    out.push(char::from(b'0' + b % 10));
}

/// `sll_pkttype` of a packet this host sends.
const PACKET_OUTGOING: u8 = 4;
/// Room for the largest IP packet.
const RECV_BUF: usize = 65536;
/// Packets read by one `recv_answers`, so a burst does not hold the caller for long.
const MAX_BATCH: usize = 1024;
/// Receive buffer asked for (best effort: the kernel caps it at `rmem_max`).
const RCVBUF: libc::c_int = 1 << 20;

/// A packet socket receiving the DNS responses that reach this host.
///
/// `AF_PACKET`, `SOCK_DGRAM` (data starts at the IP header), every protocol, with an eBPF
/// socket filter attached that keeps only UDP from port 53. Non-blocking; `recv_answers`
/// waits with `poll`.
pub struct DnsSniffer {
    fd: OwnedFd,
    buf: Vec<u8>,
    malformed: u64,
}

fn context(what: &str) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn set_int_opt(fd: &OwnedFd, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: optval points to a c_int that lives for the call and optlen is its size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
}

impl DnsSniffer {
    /// Open the packet socket and attach `filter_prog_fd`, an eBPF program of type
    /// `BPF_PROG_TYPE_SOCKET_FILTER`, with `SO_ATTACH_BPF`. Needs `CAP_NET_RAW`.
    ///
    /// The socket is created with protocol 0, which receives nothing, and bound to
    /// `ETH_P_ALL` only once the filter is attached, so no unfiltered packet is ever queued.
    pub fn open(filter_prog_fd: BorrowedFd<'_>) -> io::Result<DnsSniffer> {
        // SAFETY: socket(2) takes no pointers; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        check(raw).map_err(context("open packet socket"))?;
        // SAFETY: `raw` is a valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        set_int_opt(&fd, libc::SO_ATTACH_BPF, filter_prog_fd.as_raw_fd())
            .map_err(context("attach dns socket filter"))?;
        // A failure only leaves the default buffer size.
        let _ = set_int_opt(&fd, libc::SO_RCVBUF, RCVBUF);

        // SAFETY: sockaddr_ll is plain old data, for which all zeroes is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        // Every protocol, on every interface (sll_ifindex 0).
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: the address points to a sockaddr_ll that lives for the call, of the given size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        check(rc).map_err(context("bind packet socket"))?;
        Ok(DnsSniffer {
            fd,
            buf: vec![0; RECV_BUF],
            malformed: 0,
        })
    }

    /// Wait up to `timeout` for packets and return the answers they carry (often none).
    ///
    /// Packets the host sends are skipped: on loopback every packet is seen twice, once
    /// outgoing and once incoming. Malformed or truncated packets are counted
    /// (`malformed`), never an error; errors are those of the socket itself.
    pub fn recv_answers(&mut self, timeout: Duration) -> io::Result<Vec<DnsAnswer>> {
        let mut out = Vec::new();
        if !self.wait(timeout)? {
            return Ok(out);
        }
        for _ in 0..MAX_BATCH {
            // SAFETY: sockaddr_ll is plain old data, for which all zeroes is a valid value.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut alen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: the buffer is valid for writes of `buf.len()` bytes; `sll` and `alen` are
            // valid out-parameters and `alen` holds the size of `sll`.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                    (&mut sll as *mut libc::sockaddr_ll).cast(),
                    &mut alen,
                )
            };
            let Ok(n) = usize::try_from(n) else {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN | libc::ENETDOWN | libc::ENOBUFS | libc::ENOMEM) => break,
                    _ => return Err(context("receive dns packet")(e)),
                }
            };
            if sll.sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            // With MSG_TRUNC, `n` is the packet's real length, which may exceed the buffer.
            match self.buf.get(..n).and_then(parse_packet) {
                Some(a) => out.push(a),
                None => self.malformed += 1,
            }
        }
        Ok(out)
    }

    /// Packets received that were not well-formed DNS responses (or were truncated).
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Wait until the socket is readable or `timeout` passes; `true` when readable.
    fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let ms = match deadline {
                // Round up, so that a short wait does not become a busy loop.
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    let ms = left.as_nanos().div_ceil(1_000_000);
                    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
                }
                None => -1,
            };
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n > 0 {
                return Ok(true);
            }
            if n == 0 {
                return Ok(false);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(context("wait for dns packets")(e));
            }
            if ms == 0 {
                return Ok(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in n.split('.').filter(|l| !l.is_empty()) {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    fn ptr(off: usize) -> Vec<u8> {
        vec![0xc0 | (off >> 8) as u8, off as u8]
    }

    /// A header with `flags`, one question and `an` answers; `rrs` are appended raw.
    fn message(flags: u16, qname: &[u8], qtype: u16, an: u16, rrs: &[u8]) -> Vec<u8> {
        let head = [0x1234, flags, 1, an, 0, 0].map(u16::to_be_bytes).concat();
        [&head, qname, &qtype.to_be_bytes(), &[0, 1], rrs].concat()
    }

    /// A response (QR, RD and RA set).
    fn response(qname: &[u8], qtype: u16, an: u16, rrs: &[u8]) -> Vec<u8> {
        message(0x8180, qname, qtype, an, rrs)
    }

    fn rr(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let (t, len) = (rtype.to_be_bytes(), (rdata.len() as u16).to_be_bytes());
        [owner, &t, &[0, 1], &ttl.to_be_bytes(), &len, rdata].concat()
    }

    fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let len = (8 + payload.len() as u16).to_be_bytes();
        [
            &sport.to_be_bytes(),
            &dport.to_be_bytes(),
            &len,
            &[0, 0],
            payload,
        ]
        .concat()
    }

    /// 10.0.0.1 to 10.0.0.2.
    fn ipv4(options: &[u8], frag: u16, udp: &[u8]) -> Vec<u8> {
        let ihl = 20 + options.len();
        let total = ((ihl + udp.len()) as u16).to_be_bytes();
        let head = [0x40 | (ihl / 4) as u8, 0, total[0], total[1], 0, 1];
        let rest = [64, IPPROTO_UDP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        [&head[..], &frag.to_be_bytes(), &rest, options, udp].concat()
    }

    /// 2001:db8::53 to 2001:db8::1.
    fn ipv6(next: u8, udp: &[u8]) -> Vec<u8> {
        let len = (udp.len() as u16).to_be_bytes();
        let (s, d) = (ip6("2001:db8::53"), ip6("2001:db8::1"));
        [&[0x60, 0, 0, 0, len[0], len[1], next, 64][..], &s, &d, udp].concat()
    }

    fn ip6(s: &str) -> [u8; 16] {
        s.parse::<Ipv6Addr>().unwrap().octets()
    }

    fn a_response() -> Vec<u8> {
        let a = rr(&ptr(12), 1, 300, &[93, 184, 216, 34]);
        response(&name("Example.COM"), 1, 1, &a)
    }

    /// www.example.com CNAME cdn.example.com ("cdn" + pointer), then cdn.example.com A, whose
    /// owner points to the CNAME's rdata; `skip` bytes of other records come first.
    fn cname_chain(skip: &[u8], an: u16) -> Vec<u8> {
        let q = name("www.example.com");
        let cname_rdata = 12 + q.len() + 4 + skip.len() + 12;
        let target = [&[3, b'c', b'd', b'n'][..], &ptr(16)].concat();
        let a = rr(&ptr(cname_rdata), 1, 20, &[192, 0, 2, 7]);
        let rrs = [skip, &rr(&ptr(12), 5, 3600, &target), &a].concat();
        response(&q, 1, an, &rrs)
    }

    fn addr(name: &str, ip: &str, ttl: u32) -> DnsRecord {
        DnsRecord::Addr {
            name: name.into(),
            addr: ip.parse().unwrap(),
            ttl,
        }
    }

    fn answers(msg: &[u8]) -> Vec<DnsRecord> {
        parse_message(msg).unwrap().answers
    }

    /// The query name of a response with no answers.
    fn query(qname: &[u8]) -> Option<String> {
        parse_message(&response(qname, 1, 0, &[])).map(|m| m.query)
    }

    fn aaaa_response() -> Vec<u8> {
        let aaaa = rr(&ptr(12), 28, 60, &ip6("2606:2800:220:1::1"));
        response(&name("example.com"), 28, 1, &aaaa)
    }

    #[test]
    fn a_answer_over_ipv4() {
        let a = parse_packet(&ipv4(&[], 0x4000, &udp(53, 40000, &a_response()))).unwrap();
        assert_eq!(
            (a.query.as_str(), a.query_type, a.rcode),
            ("example.com", 1, 0)
        );
        assert_eq!(a.answers, vec![addr("example.com", "93.184.216.34", 300)]);
        assert_eq!(a.client, "10.0.0.2:40000".parse().unwrap());
        assert_eq!(a.server, "10.0.0.1:53".parse().unwrap());
    }

    #[test]
    fn aaaa_answer_over_ipv6() {
        let msg = aaaa_response();
        let a = parse_packet(&ipv6(IPPROTO_UDP, &udp(53, 5353, &msg))).unwrap();
        assert_eq!(
            a.answers,
            vec![addr("example.com", "2606:2800:220:1::1", 60)]
        );
        assert_eq!(a.client, "[2001:db8::1]:5353".parse().unwrap());
        assert_eq!(a.server, "[2001:db8::53]:53".parse().unwrap());
        // Extension headers are not followed.
        assert!(parse_packet(&ipv6(0, &udp(53, 5353, &msg))).is_none());
    }

    #[test]
    fn cname_chain_then_a_with_compression() {
        let cname = DnsRecord::Cname {
            name: "www.example.com".into(),
            target: "cdn.example.com".into(),
            ttl: 3600,
        };
        let want = vec![cname, addr("cdn.example.com", "192.0.2.7", 20)];
        assert_eq!(answers(&cname_chain(&[], 2)), want);
        // A TXT record first is skipped by its length.
        assert_eq!(
            answers(&cname_chain(&rr(&ptr(12), 16, 5, b"\x02hi"), 3)),
            want
        );
        // A pointer to a pointer: the second owner points at the first record's owner.
        let q = name("a.example");
        let rrs = [
            rr(&ptr(12), 1, 1, &[1; 4]),
            rr(&ptr(12 + q.len() + 4), 1, 2, &[2; 4]),
        ];
        let got = answers(&response(&q, 1, 2, &rrs.concat()));
        assert_eq!(got[1], addr("a.example", "2.2.2.2", 2));
    }

    #[test]
    fn pointer_loops_and_bad_labels_rejected() {
        // "a" followed by a pointer back to its own start: an endless name.
        assert_eq!(query(&[&[1, b'a'][..], &ptr(12)].concat()), None);
        // A pointer to itself, forward, into the header, out of range.
        for p in [12, 14, 2, 0x3fff] {
            assert_eq!(query(&ptr(p)), None, "pointer {p}");
        }
        // Reserved label types.
        assert_eq!(query(&[0x41, 0]), None);
        // 255 bytes on the wire is the longest name.
        let (l63, l61) = ("x".repeat(63), "y".repeat(61));
        let ok = format!("{l63}.{l63}.{l63}.{l61}");
        assert_eq!(query(&name(&ok)), Some(ok.clone()));
        assert_eq!(query(&name(&format!("{ok}y"))), None);
    }

    #[test]
    fn labels_are_lowercased_and_escaped() {
        let q = [4, b'A', b'.', b' ', 0xff, 2, b'\\', b'Z', 0];
        assert_eq!(query(&q).unwrap(), r"a\046\032\255.\092z");
        assert_eq!(query(&[0]).unwrap(), "");
    }

    #[test]
    fn rcode_ttl_and_other_classes() {
        let mut chaos = rr(&ptr(12), 1, 1, &[9; 7]);
        chaos[5] = 3; // class CH: the rdata is not interpreted
        let rrs = [rr(&ptr(12), 1, 0x8000_0000, &[1, 2, 3, 4]), chaos].concat();
        let m = parse_message(&message(0x8183, &name("x.test"), 1, 2, &rrs)).unwrap();
        assert_eq!(m.rcode, 3);
        assert_eq!(m.answers, vec![addr("x.test", "1.2.3.4", 0)]);
    }

    #[test]
    fn mismatched_rdata_rejected() {
        let q = name("x.test");
        let bad = |rtype, rdata: &[u8]| {
            parse_message(&response(&q, rtype, 1, &rr(&ptr(12), rtype, 1, rdata)))
        };
        assert!(bad(1, &[1, 2, 3, 4, 5]).is_none());
        assert!(bad(28, &[0; 4]).is_none());
        assert!(bad(5, &[name("y.test"), vec![0]].concat()).is_none());
    }

    #[test]
    fn queries_and_other_opcodes_rejected() {
        let q = name("x.test");
        assert!(parse_message(&message(0x0100, &q, 1, 0, &[])).is_none());
        assert!(parse_message(&message(0xa800, &q, 1, 0, &[])).is_none()); // UPDATE
        let mut no_question = response(&q, 1, 0, &[]);
        no_question[5] = 0;
        assert!(parse_message(&no_question).is_none());
    }

    #[test]
    fn ip_and_udp_checks() {
        let dns = a_response();
        let good = || ipv4(&[], 0, &udp(53, 1234, &dns));
        // IPv4 options (four NOPs) are skipped; padding past the total length is ignored.
        assert!(parse_packet(&ipv4(&[1, 1, 1, 1], 0, &udp(53, 1234, &dns))).is_some());
        assert!(parse_packet(&[good(), vec![0; 6]].concat()).is_some());
        // Fragments: MF set, or an offset.
        assert!(parse_packet(&ipv4(&[], 0x2000, &udp(53, 1234, &dns))).is_none());
        assert!(parse_packet(&ipv4(&[], 0x0010, &udp(53, 1234, &dns))).is_none());
        assert!(parse_packet(&ipv4(&[], 0, &udp(5353, 53, &dns))).is_none());
        // IHL below 5, TCP, a UDP length past the end, a total length past the end.
        for (at, value) in [(0, 0x44), (9, 6), (25, 0xff), (3, 0xff)] {
            let mut p = good();
            p[at] = value;
            assert!(parse_packet(&p).is_none(), "byte {at}");
        }
        assert!(parse_packet(&[]).is_none());
    }

    #[test]
    fn every_prefix_is_rejected_without_panic() {
        let v4 = ipv4(&[1, 1, 1, 1], 0, &udp(53, 1234, &cname_chain(&[], 2)));
        let v6 = ipv6(IPPROTO_UDP, &udp(53, 1234, &aaaa_response()));
        for p in [&v4, &v6] {
            for n in 0..p.len() {
                assert!(parse_packet(&p[..n]).is_none(), "prefix {n}");
            }
            assert!(parse_packet(p).is_some());
        }
        let msg = cname_chain(&[], 2);
        for n in 0..msg.len() {
            assert!(parse_message(&msg[..n]).is_none(), "prefix {n}");
        }
    }

    #[test]
    fn fuzz_random_and_mutated_inputs() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut rng = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..10_000 {
            let mut buf: Vec<u8> = (0..rng() % 600).map(|_| rng() as u8).collect();
            let _ = parse_message(&buf);
            if let Some(b) = buf.first_mut() {
                *b = [0x45, 0x60][i % 2];
            }
            let _ = parse_packet(&buf);
        }
        // Mutations of valid packets reach the DNS parser far more often.
        let seeds = [
            ipv4(&[], 0, &udp(53, 1234, &cname_chain(&[], 2))),
            ipv6(IPPROTO_UDP, &udp(53, 1234, &aaaa_response())),
        ];
        for i in 0..10_000 {
            let mut p = seeds[i % 2].clone();
            for _ in 0..1 + rng() % 4 {
                let at = rng() as usize % p.len();
                p[at] = rng() as u8;
            }
            let _ = parse_packet(&p);
        }
    }

    /// Load `mov r0, 0xffff; exit` (accept every packet) as a socket filter with bpf(2).
    fn load_accept_all() -> io::Result<OwnedFd> {
        #[repr(C)]
        struct ProgLoadAttr {
            prog_type: u32,
            insn_cnt: u32,
            insns: u64,
            license: u64,
            log: [u64; 2], // log_level, log_size, log_buf: unused
            kern_version: u32,
            prog_flags: u32,
        }
        // struct bpf_insn: code, dst_reg:4 | src_reg:4, off (i16), imm (i32); registers are r0.
        let insn = |code: u8, imm: i32| {
            let i = imm.to_ne_bytes();
            u64::from_ne_bytes([code, 0, 0, 0, i[0], i[1], i[2], i[3]])
        };
        // BPF_ALU64 | BPF_MOV | BPF_K, then BPF_JMP | BPF_EXIT.
        let insns = [insn(0xb7, 0xffff), insn(0x95, 0)];
        let attr = ProgLoadAttr {
            prog_type: 1, // BPF_PROG_TYPE_SOCKET_FILTER
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: c"GPL".as_ptr() as u64,
            log: [0; 2],
            kern_version: 0,
            prog_flags: 0,
        };
        let size = std::mem::size_of::<ProgLoadAttr>() as libc::c_uint;
        // SAFETY: BPF_PROG_LOAD (5) reads `attr` and the instructions and license it points to,
        // all of which outlive the call; `size` is the size of `attr`.
        let fd = unsafe { libc::syscall(libc::SYS_bpf, 5 as libc::c_int, &raw const attr, size) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
    }

    #[test]
    fn sniffer_sees_loopback_response_once() {
        use std::net::UdpSocket;
        use std::os::fd::AsFd;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return println!("skipped: needs root");
        }
        let prog = match load_accept_all() {
            Ok(p) => p,
            Err(e) => return println!("skipped: cannot load a socket filter: {e}"),
        };
        let mut sniffer = DnsSniffer::open(prog.as_fd()).unwrap();
        let server = match UdpSocket::bind("127.0.0.1:53") {
            Ok(s) => s,
            Err(e) => return println!("skipped: cannot bind 127.0.0.1:53: {e}"),
        };
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let pid = std::process::id();
        let qname = format!(
            "vigil-test-{pid}-{}.example",
            client.local_addr().unwrap().port()
        );
        let msg = response(&name(&qname), 1, 1, &rr(&ptr(12), 1, 42, &[127, 1, 2, 3]));
        server.send_to(&msg, client.local_addr().unwrap()).unwrap();

        // Up to 3 s for the first copy, then 500 ms more to catch a second one.
        let (start, mut first, mut seen) = (Instant::now(), None, Vec::new());
        while start.elapsed() < Duration::from_secs(3)
            && first.is_none_or(|t: Instant| t.elapsed() < Duration::from_millis(500))
        {
            for a in sniffer.recv_answers(Duration::from_millis(100)).unwrap() {
                if a.query == qname {
                    first.get_or_insert_with(Instant::now);
                    seen.push(a);
                }
            }
        }
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].client, client.local_addr().unwrap());
        assert_eq!(seen[0].server, "127.0.0.1:53".parse().unwrap());
        assert_eq!(seen[0].answers, vec![addr(&qname, "127.1.2.3", 42)]);
        assert_eq!(client.recv(&mut [0; 512]).unwrap(), msg.len());
    }
}
