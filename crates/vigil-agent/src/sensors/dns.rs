// TEMPORARY placeholder until the real module lands (helper-2).
use std::net::{IpAddr, SocketAddr};
#[derive(Debug, Clone, PartialEq)]
pub struct DnsAnswer {
    pub query: String,
    pub query_type: u16,
    pub rcode: u8,
    pub answers: Vec<DnsRecord>,
    pub client: SocketAddr,
    pub server: SocketAddr,
}
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
pub struct DnsSniffer;
impl DnsSniffer {
    pub fn open(_f: std::os::fd::BorrowedFd<'_>) -> std::io::Result<DnsSniffer> {
        Ok(DnsSniffer)
    }
    pub fn recv_answers(&mut self, _t: std::time::Duration) -> std::io::Result<Vec<DnsAnswer>> {
        Ok(vec![])
    }
}
