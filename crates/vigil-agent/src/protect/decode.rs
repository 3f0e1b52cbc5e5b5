//! The records and map entries of `protect.h`, to and from bytes.
//!
//! This is the only place of the protection module that reads a `repr(C)` record the kernel
//! wrote (through the skeleton's generated types), and with `kernel.rs` the only one that
//! writes map keys and values. Every record is length-checked before it is read; a record
//! that does not fit is an error the caller counts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::protect::bpf::types;

/// Marker for the plain-old-data types generated from protect.h.
///
/// # Safety
/// Implementors must be `repr(C)` structs of integers and integer arrays only, without
/// implicit padding, so that every bit pattern is a valid value and every byte is initialised.
pub(crate) unsafe trait Pod: Default + Copy {}
// SAFETY: generated from protect.h; integers and integer arrays, explicit padding only.
unsafe impl Pod for types::vp_net_block {}
// SAFETY: as above.
unsafe impl Pod for types::vp_key4 {}
// SAFETY: as above.
unsafe impl Pod for types::vp_key6 {}
// SAFETY: as above.
unsafe impl Pod for types::vp_verdict {}
// SAFETY: as above.
unsafe impl Pod for types::vp_addr_key {}
// SAFETY: as above.
unsafe impl Pod for types::vp_dns_entry {}
// SAFETY: as above.
unsafe impl Pod for types::vp_rate_key {}
// SAFETY: as above.
unsafe impl Pod for types::vp_rate {}

/// The bytes of a map key or value.
pub(crate) fn as_bytes<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: `T: Pod` has no padding, so all `size_of::<T>()` bytes are initialised; the
    // slice borrows `v`.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// A `T` from the first `size_of::<T>()` bytes of `data`, or `None` when `data` is shorter.
pub(crate) fn from_bytes<T: Pod>(data: &[u8]) -> Option<T> {
    let n = std::mem::size_of::<T>();
    if data.len() < n {
        return None;
    }
    let mut v = T::default();
    // SAFETY: `v` is a valid `T` of `n` bytes, `data` holds at least `n` bytes, the two do not
    // overlap, and any bit pattern is a valid `T` (`Pod`).
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), (&mut v as *mut T).cast::<u8>(), n) };
    Some(v)
}

/// Why a ring-buffer record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("protection record of {got} bytes is shorter than the {need} it needs")]
    Short { need: usize, got: usize },
    #[error("protection record type {0} is unknown")]
    UnknownType(u16),
    #[error("protection record has address family {0}, not 2 or 10")]
    Family(u16),
}

// `enum vp_record_type`, `enum vp_direction`, `enum vp_origin` of protect.h.
const REC_NET_BLOCK: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// Where a block happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// connect(2) refused.
    Connect,
    /// An unconnected UDP send refused.
    Sendmsg,
    /// A packet from a blocked address dropped.
    Ingress,
    /// A packet to a blocked address dropped.
    Egress,
}

impl Direction {
    fn from_raw(d: u8) -> Direction {
        match d {
            0 => Direction::Connect,
            1 => Direction::Sendmsg,
            2 => Direction::Ingress,
            _ => Direction::Egress,
        }
    }

    /// MDE's words: `Inbound` for packets from the peer, else `Outbound`.
    pub fn mde(self) -> &'static str {
        match self {
            Direction::Ingress => "Inbound",
            _ => "Outbound",
        }
    }

    /// The hook that refused it.
    pub fn hook(self) -> &'static str {
        match self {
            Direction::Connect => "connect",
            Direction::Sendmsg => "sendmsg",
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// Why the address was blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An Ip or Cidr indicator; the prefix length of the matching entry.
    Network { prefix_len: u8 },
    /// A DNS answer for a blocked domain; the key of its `domains` entry.
    Domain { hash: u64 },
}

/// One block, as the kernel reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetBlock {
    /// ns since boot.
    pub ts: u64,
    pub direction: Direction,
    pub origin: Origin,
    pub protocol: u8,
    /// The process (none for packets).
    pub tgid: Option<u32>,
    pub uid: u32,
    pub comm: String,
    pub indicator_id: u64,
    /// Blocks this report stands for (1 plus those the rate limit folded into it).
    pub count: u64,
    pub remote: IpAddr,
    pub remote_port: u16,
    /// The local end, for packets.
    pub local: Option<(IpAddr, u16)>,
}

pub(crate) fn addr(family: u16, bytes: &[u8; 16]) -> Result<IpAddr, DecodeError> {
    match family {
        AF_INET => Ok(IpAddr::V4(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        AF_INET6 => Ok(IpAddr::V6(Ipv6Addr::from(*bytes))),
        f => Err(DecodeError::Family(f)),
    }
}

/// Decode one record of the `reports` ring buffer.
pub fn decode(data: &[u8]) -> Result<NetBlock, DecodeError> {
    let ty = data
        .get(..2)
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        .ok_or(DecodeError::Short {
            need: 2,
            got: data.len(),
        })?;
    if ty != REC_NET_BLOCK {
        return Err(DecodeError::UnknownType(ty));
    }
    let r: types::vp_net_block = from_bytes(data).ok_or(DecodeError::Short {
        need: std::mem::size_of::<types::vp_net_block>(),
        got: data.len(),
    })?;
    let origin = if r.origin == 1 {
        Origin::Domain {
            hash: r.domain_hash,
        }
    } else {
        Origin::Network {
            prefix_len: r.prefixlen,
        }
    };
    let comm: Vec<u8> = r
        .comm
        .iter()
        .map(|&c| c as u8)
        .take_while(|&c| c != 0)
        .collect();
    let remote = addr(r.family, &r.remote)?;
    let direction = Direction::from_raw(r.direction);
    let local = matches!(direction, Direction::Ingress | Direction::Egress)
        .then(|| addr(r.family, &r.local).map(|a| (a, r.local_port)))
        .transpose()?;
    Ok(NetBlock {
        ts: r.ts,
        direction,
        origin,
        protocol: r.protocol,
        tgid: (r.tgid != 0).then_some(r.tgid),
        uid: r.uid,
        comm: String::from_utf8_lossy(&comm).into_owned(),
        indicator_id: r.indicator_id,
        count: r.count.max(1),
        remote,
        remote_port: r.remote_port,
        local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> types::vp_net_block {
        let mut r = types::vp_net_block {
            r#type: REC_NET_BLOCK,
            direction: 2,
            origin: 1,
            protocol: 6,
            prefixlen: 32,
            family: AF_INET,
            tgid: 0,
            ts: 42,
            indicator_id: 7,
            domain_hash: 99,
            count: 3,
            remote_port: 40000,
            local_port: 22,
            ..Default::default()
        };
        r.remote[..4].copy_from_slice(&[127, 91, 0, 78]);
        r.local[..4].copy_from_slice(&[127, 0, 0, 1]);
        r
    }

    #[test]
    fn inbound_record_round_trips() {
        let r = record();
        let b = decode(as_bytes(&r)).unwrap();
        assert_eq!(b.direction, Direction::Ingress);
        assert_eq!(b.origin, Origin::Domain { hash: 99 });
        assert_eq!(b.remote, "127.91.0.78".parse::<IpAddr>().unwrap());
        assert_eq!(b.local, Some(("127.0.0.1".parse().unwrap(), 22)));
        assert_eq!((b.tgid, b.count, b.indicator_id), (None, 3, 7));
    }

    #[test]
    fn connect_record_has_a_process_and_no_local_end() {
        let mut r = record();
        r.direction = 0;
        r.origin = 0;
        r.family = AF_INET6;
        r.remote = Ipv6Addr::LOCALHOST.octets();
        r.tgid = 1234;
        r.comm[..4].copy_from_slice(&[b'c' as _, b'u' as _, b'r' as _, b'l' as _]);
        let b = decode(as_bytes(&r)).unwrap();
        assert_eq!(b.direction, Direction::Connect);
        assert_eq!(b.origin, Origin::Network { prefix_len: 32 });
        assert_eq!(b.remote, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (b.tgid, b.comm.as_str(), b.local),
            (Some(1234), "curl", None)
        );
    }

    #[test]
    fn short_unknown_and_bad_records_are_errors() {
        let r = record();
        let bytes = as_bytes(&r);
        for n in [0, 1, 2, bytes.len() - 1] {
            assert!(
                matches!(decode(&bytes[..n]), Err(DecodeError::Short { .. })),
                "{n}"
            );
        }
        let mut other = r;
        other.r#type = 9;
        assert_eq!(decode(as_bytes(&other)), Err(DecodeError::UnknownType(9)));
        let mut fam = r;
        fam.family = 7;
        assert_eq!(decode(as_bytes(&fam)), Err(DecodeError::Family(7)));
    }
}
