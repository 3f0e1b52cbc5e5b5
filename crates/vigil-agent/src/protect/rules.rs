//! What the kernel must hold for a set of indicators, and how that differs from what it holds.
//!
//! [`Desired::build`] turns the live indicators of an [`IntelSet`] into:
//! - `nets`: IPv4/IPv6 networks for the LPM tries. Several indicators of one network resolve
//!   as the matcher does (`Allow` wins, then the strongest action, then the lower index); a
//!   blocking network is a `Block` entry; an `Allow` network is an `Allow` entry (it also
//!   overrides blocks learnt from DNS); any other non-blocking network is kept only when a
//!   shorter blocking network contains it, as a `Pass` hole (the longest prefix wins in the
//!   kernel, as the most specific indicator wins in the matcher);
//! - `domains`: blocking domains, and non-blocking ones below a blocking domain (holes), keyed
//!   by [`domain_hash`];
//! - a summary of the file-hash indicators (the exec guard looks them up in the set itself).
//!
//! [`diff`] compares two of these maps on what the kernel stores (indicator id and verdict),
//! so that applying a new set costs kernel updates only for what changed.
//!
//! **Invariant:** only live indicators (`is_live(now)`) contribute; `next_expiry_ms` says when
//! the result must be built again.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::net::IpAddr;

use vigil_intel::{Action, Indicator, IndicatorType, IntelSet};

/// FNV-1a, 64 bits, as `protect.bpf.c` computes it.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// The key of a domain in the kernel's `domains` map: FNV-1a over the name's bytes taken from
/// last to first. The kernel hashes a DNS question name from its end, so at each label start
/// it holds the hash of that suffix without a second pass.
pub fn domain_hash(domain: &str) -> u64 {
    domain.bytes().rev().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// A network with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Net {
    V4(u32, u8),
    V6(u128, u8),
}

impl Net {
    /// Parse an address (a /32 or /128) or `address/length`; IPv4-mapped IPv6 networks of at
    /// least /96 become IPv4 networks.
    pub fn parse(text: &str) -> Option<Net> {
        let (addr, len) = vigil_intel::normalize::cidr(text).ok()?;
        Some(Net::new(addr, len))
    }

    pub fn new(addr: IpAddr, len: u8) -> Net {
        match addr {
            IpAddr::V4(a) => Net::V4(u32::from(a) & mask32(len), len.min(32)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) if len >= 96 => Net::new(IpAddr::V4(v4), len - 96),
                _ => Net::V6(u128::from(a) & mask128(len), len.min(128)),
            },
        }
    }

    pub fn prefix_len(self) -> u8 {
        match self {
            Net::V4(_, l) | Net::V6(_, l) => l,
        }
    }

    /// The same family's network of `len` bits containing this one.
    fn truncate(self, len: u8) -> Net {
        match self {
            Net::V4(a, _) => Net::V4(a & mask32(len), len),
            Net::V6(a, _) => Net::V6(a & mask128(len), len),
        }
    }

    pub fn is_v4(self) -> bool {
        matches!(self, Net::V4(..))
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Net::V4(a, l) => write!(f, "{}/{l}", std::net::Ipv4Addr::from(a)),
            Net::V6(a, l) => write!(f, "{}/{l}", std::net::Ipv6Addr::from(a)),
        }
    }
}

fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

/// What a kernel entry says. The numbers are `enum vp_verdict_kind` of protect.h.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A non-blocking indicator more specific than a block.
    Pass = 1,
    /// An allow indicator (or a `never_block` network).
    Allow = 2,
    Block = 3,
}

/// One kernel entry and the indicator behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The indicator's id (0 for a `never_block` network or an indicator not yet stored).
    pub id: u64,
    pub verdict: Verdict,
    /// The indicator's position in the set (`u32::MAX` for `never_block`); for reports only.
    pub index: u32,
}

impl Entry {
    /// Whether the kernel copy must change to go from `self` to `new`.
    fn kernel_differs(&self, new: &Entry) -> bool {
        self.id != new.id || self.verdict != new.verdict
    }
}

/// The file-hash indicators of a set, as the exec guard needs to know them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashSummary {
    pub sha256: usize,
    pub sha1: usize,
    pub md5: usize,
    /// Values (lowercase hex) of `BlockAndRemediate` hash indicators.
    pub remediate: BTreeSet<String>,
}

impl HashSummary {
    /// Whether any blocking hash indicator exists (the exec guard arms only then).
    pub fn any(&self) -> bool {
        self.sha256 + self.sha1 + self.md5 > 0
    }
}

/// Everything the kernel and the exec guard must enforce for one set.
#[derive(Debug, Default)]
pub struct Desired {
    pub nets: HashMap<Net, Entry>,
    pub domains: HashMap<u64, Entry>,
    /// The domain of each `domains` key (for reports).
    pub domain_names: HashMap<u64, String>,
    pub hashes: HashSummary,
    /// The earliest `expires_ms` of a live indicator: build again then.
    pub next_expiry_ms: Option<i64>,
    /// Live indicators in the set.
    pub live: usize,
    /// Indicators not enforced: expired, or of a kind the agent does not block (URL,
    /// certificate), or non-blocking and not carving a hole in a block.
    pub ignored: usize,
    /// Domains whose hash collided with another's (the first one is kept).
    pub hash_collisions: usize,
}

/// The winner among indicators of one value: `Allow` first, then the larger precedence,
/// then the lower index.
fn better(a: (Action, u32), b: (Action, u32)) -> bool {
    let rank = |x: (Action, u32)| (x.0 == Action::Allow, x.0.precedence());
    match rank(a).cmp(&rank(b)) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => a.1 < b.1,
    }
}

fn insert_winner<K: Hash + Eq>(
    map: &mut HashMap<K, (Action, u32, u64)>,
    key: K,
    ind: &Indicator,
    index: u32,
) {
    let cand = (ind.action, index, ind.id);
    map.entry(key)
        .and_modify(|cur| {
            if better((cand.0, cand.1), (cur.0, cur.1)) {
                *cur = cand;
            }
        })
        .or_insert(cand);
}

fn verdict_of(action: Action) -> Verdict {
    if action.blocks() {
        Verdict::Block
    } else if action == Action::Allow {
        Verdict::Allow
    } else {
        Verdict::Pass
    }
}

impl Desired {
    /// The kernel state for the live indicators of `set` at `now_ms`; `never_block` networks
    /// are `Allow` entries whatever the set says.
    pub fn build(set: &IntelSet, now_ms: i64, never_block: &[Net]) -> Desired {
        let mut d = Desired::default();
        let mut nets: HashMap<Net, (Action, u32, u64)> = HashMap::new();
        let mut domains: HashMap<&str, (Action, u32, u64)> = HashMap::new();
        for (index, ind) in set.indicators().iter().enumerate() {
            let index = index as u32;
            if !ind.is_live(now_ms) {
                d.ignored += 1;
                continue;
            }
            d.live += 1;
            if let Some(e) = ind.expires_ms {
                d.next_expiry_ms = Some(d.next_expiry_ms.map_or(e, |n| n.min(e)));
            }
            match ind.kind {
                IndicatorType::Ip | IndicatorType::Cidr => match Net::parse(&ind.value) {
                    Some(net) => insert_winner(&mut nets, net, ind, index),
                    None => d.ignored += 1,
                },
                IndicatorType::Domain => {
                    insert_winner(&mut domains, ind.value.as_str(), ind, index)
                }
                IndicatorType::Sha256 | IndicatorType::Sha1 | IndicatorType::Md5 => {
                    if !ind.action.blocks() {
                        d.ignored += 1;
                        continue;
                    }
                    match ind.kind {
                        IndicatorType::Sha256 => d.hashes.sha256 += 1,
                        IndicatorType::Sha1 => d.hashes.sha1 += 1,
                        _ => d.hashes.md5 += 1,
                    }
                    if ind.action == Action::BlockAndRemediate {
                        d.hashes.remediate.insert(ind.value.to_ascii_lowercase());
                    }
                }
                IndicatorType::Url | IndicatorType::Cert => d.ignored += 1,
            }
        }

        // Networks: blocks, allows, and holes in blocks.
        let blocked_lens = |v4: bool| -> Vec<u8> {
            let mut lens: Vec<u8> = nets
                .iter()
                .filter(|(n, w)| n.is_v4() == v4 && w.0.blocks())
                .map(|(n, _)| n.prefix_len())
                .collect();
            lens.sort_unstable();
            lens.dedup();
            lens
        };
        let (lens4, lens6) = (blocked_lens(true), blocked_lens(false));
        for (&net, &(action, index, id)) in &nets {
            let verdict = verdict_of(action);
            let keep = match verdict {
                Verdict::Block | Verdict::Allow => true,
                Verdict::Pass => {
                    let lens = if net.is_v4() { &lens4 } else { &lens6 };
                    lens.iter()
                        .take_while(|&&l| l < net.prefix_len())
                        .any(|&l| nets.get(&net.truncate(l)).is_some_and(|w| w.0.blocks()))
                }
            };
            if keep {
                d.nets.insert(net, Entry { id, verdict, index });
            } else {
                d.ignored += 1;
            }
        }
        for &net in never_block {
            d.nets.insert(
                net,
                Entry {
                    id: 0,
                    verdict: Verdict::Allow,
                    index: u32::MAX,
                },
            );
        }

        // Domains: blocks, and holes below a blocked parent.
        for (&name, &(action, index, id)) in &domains {
            let verdict = match verdict_of(action) {
                Verdict::Block => Verdict::Block,
                _ => {
                    let under_block = name
                        .match_indices('.')
                        .map(|(i, _)| &name[i + 1..])
                        .any(|parent| domains.get(parent).is_some_and(|w| w.0.blocks()));
                    if !under_block {
                        d.ignored += 1;
                        continue;
                    }
                    Verdict::Pass
                }
            };
            let key = domain_hash(name);
            if d.domain_names.contains_key(&key) {
                d.hash_collisions += 1;
                continue;
            }
            d.domains.insert(key, Entry { id, verdict, index });
            d.domain_names.insert(key, name.to_string());
        }
        d
    }

    /// Blocking entries among `nets`.
    pub fn blocked_networks(&self) -> usize {
        self.nets
            .values()
            .filter(|e| e.verdict == Verdict::Block)
            .count()
    }

    /// Blocking entries among `domains`.
    pub fn blocked_domains(&self) -> usize {
        self.domains
            .values()
            .filter(|e| e.verdict == Verdict::Block)
            .count()
    }
}

/// Kernel updates that turn one map into another.
#[derive(Debug, PartialEq, Eq)]
pub struct Diff<K> {
    /// Entries to insert or overwrite.
    pub upsert: Vec<(K, Entry)>,
    /// Keys to delete.
    pub remove: Vec<K>,
}

/// What must change in the kernel to go from `old` to `new`.
pub fn diff<K: Hash + Eq + Copy>(old: &HashMap<K, Entry>, new: &HashMap<K, Entry>) -> Diff<K> {
    let upsert = new
        .iter()
        .filter(|(k, e)| old.get(k).is_none_or(|o| o.kernel_differs(e)))
        .map(|(k, e)| (*k, *e))
        .collect();
    let remove = old
        .keys()
        .filter(|k| !new.contains_key(k))
        .copied()
        .collect();
    Diff { upsert, remove }
}

/// Domain hashes that no longer block: the addresses learnt from them must be dropped.
pub fn unblocked_domains(old: &HashMap<u64, Entry>, new: &HashMap<u64, Entry>) -> HashSet<u64> {
    old.iter()
        .filter(|(_, e)| e.verdict == Verdict::Block)
        .filter(|(k, e)| {
            new.get(k)
                .is_none_or(|n| n.verdict != Verdict::Block || n.id != e.id)
        })
        .map(|(k, _)| *k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(kind: IndicatorType, value: &str, action: Action, id: u64) -> Indicator {
        let mut i = Indicator::new(kind, value).unwrap().with_action(action);
        i.id = id;
        i
    }

    fn build(list: Vec<Indicator>) -> Desired {
        Desired::build(&IntelSet::new(list), 1_000, &[])
    }

    fn net(s: &str) -> Net {
        Net::parse(s).unwrap()
    }

    #[test]
    fn domain_hash_is_fnv1a_of_the_reversed_name() {
        // FNV-1a of the empty input is the offset basis; of "a" a known value.
        assert_eq!(domain_hash(""), FNV_OFFSET);
        assert_eq!(domain_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(domain_hash("ab"), {
            let h = (FNV_OFFSET ^ u64::from(b'b')).wrapping_mul(FNV_PRIME);
            (h ^ u64::from(b'a')).wrapping_mul(FNV_PRIME)
        });
        assert_ne!(domain_hash("evil.com"), domain_hash("live.com"));
    }

    #[test]
    fn networks_parse_and_fold_mapped_addresses() {
        assert_eq!(net("10.1.2.3"), Net::V4(0x0a01_0203, 32));
        assert_eq!(net("10.1.2.3/8"), Net::V4(0x0a00_0000, 8));
        assert_eq!(net("::ffff:10.0.0.0/104"), Net::V4(0x0a00_0000, 8));
        assert_eq!(net("2001:db8::1/32").to_string(), "2001:db8::/32");
        assert!(Net::parse("10.0.0.0/33").is_none());
    }

    #[test]
    fn blocks_allows_and_holes() {
        use Action::*;
        let d = build(vec![
            ind(IndicatorType::Cidr, "10.0.0.0/8", Block, 1),
            ind(IndicatorType::Ip, "10.1.1.1", Audit, 2), // a hole in 10/8
            ind(IndicatorType::Ip, "192.0.2.1", Audit, 3), // nothing to carve: ignored
            ind(IndicatorType::Ip, "192.0.2.2", Allow, 4), // kept: overrides DNS blocks
            ind(IndicatorType::Ip, "2001:db8::1", BlockAndRemediate, 5),
        ]);
        let e = |s: &str| d.nets.get(&net(s)).map(|e| (e.id, e.verdict));
        assert_eq!(e("10.0.0.0/8"), Some((1, Verdict::Block)));
        assert_eq!(e("10.1.1.1"), Some((2, Verdict::Pass)));
        assert_eq!(e("192.0.2.1"), None);
        assert_eq!(e("192.0.2.2"), Some((4, Verdict::Allow)));
        assert_eq!(e("2001:db8::1"), Some((5, Verdict::Block)));
        assert_eq!(d.blocked_networks(), 2);
        assert_eq!(d.ignored, 1);
    }

    #[test]
    fn several_indicators_of_one_value_resolve_like_the_matcher() {
        use Action::*;
        let d = build(vec![
            ind(IndicatorType::Ip, "10.0.0.1", Audit, 1),
            ind(IndicatorType::Cidr, "10.0.0.1/32", Block, 2),
            ind(IndicatorType::Ip, "10.0.0.1", BlockAndRemediate, 3),
        ]);
        assert_eq!(d.nets[&net("10.0.0.1")].id, 3);
        let d = build(vec![
            ind(IndicatorType::Ip, "10.0.0.1", Block, 1),
            ind(IndicatorType::Ip, "10.0.0.1", Allow, 2),
        ]);
        assert_eq!(d.nets[&net("10.0.0.1")].verdict, Verdict::Allow);
        // Equal strength: the lower index wins.
        let d = build(vec![
            ind(IndicatorType::Ip, "10.0.0.1", Block, 7),
            ind(IndicatorType::Ip, "10.0.0.1", Block, 8),
        ]);
        assert_eq!(d.nets[&net("10.0.0.1")].id, 7);
    }

    #[test]
    fn domains_and_holes_below_them() {
        use Action::*;
        let d = build(vec![
            ind(IndicatorType::Domain, "evil.example", Block, 1),
            ind(IndicatorType::Domain, "ok.evil.example", Allow, 2),
            ind(IndicatorType::Domain, "elsewhere.example", Allow, 3),
            ind(IndicatorType::Domain, "audit.example", Audit, 4),
        ]);
        assert_eq!(d.domains.len(), 2);
        let e = d.domains[&domain_hash("evil.example")];
        assert_eq!((e.id, e.verdict), (1, Verdict::Block));
        let e = d.domains[&domain_hash("ok.evil.example")];
        assert_eq!((e.id, e.verdict), (2, Verdict::Pass));
        assert_eq!(
            d.domain_names[&domain_hash("ok.evil.example")],
            "ok.evil.example"
        );
        assert_eq!(d.blocked_domains(), 1);
    }

    #[test]
    fn expiry_and_hash_summary() {
        use Action::*;
        let mut gone = ind(IndicatorType::Ip, "10.0.0.9", Block, 1);
        gone.expires_ms = Some(500);
        let mut soon = ind(IndicatorType::Ip, "10.0.0.8", Block, 2);
        soon.expires_ms = Some(5_000);
        let sha = "a".repeat(64);
        let d = build(vec![
            gone,
            soon,
            ind(IndicatorType::Sha256, &sha, BlockAndRemediate, 3),
            ind(IndicatorType::Md5, &"b".repeat(32), Block, 4),
            ind(IndicatorType::Sha1, &"c".repeat(40), Audit, 5),
            ind(IndicatorType::Url, "http://x.example/a", Block, 6),
        ]);
        assert!(!d.nets.contains_key(&net("10.0.0.9")));
        assert!(d.nets.contains_key(&net("10.0.0.8")));
        assert_eq!(d.next_expiry_ms, Some(5_000));
        assert_eq!((d.hashes.sha256, d.hashes.sha1, d.hashes.md5), (1, 0, 1));
        assert!(d.hashes.remediate.contains(&sha));
        assert_eq!((d.live, d.ignored), (5, 3));
    }

    #[test]
    fn never_block_wins() {
        let set = IntelSet::new(vec![ind(
            IndicatorType::Cidr,
            "127.0.0.0/8",
            Action::Block,
            1,
        )]);
        let d = Desired::build(&set, 0, &[net("127.0.0.1")]);
        assert_eq!(d.nets[&net("127.0.0.1")].verdict, Verdict::Allow);
        assert_eq!(d.nets[&net("127.0.0.0/8")].verdict, Verdict::Block);
    }

    #[test]
    fn diffs_touch_only_what_changed() {
        use Action::*;
        let a = build(vec![
            ind(IndicatorType::Ip, "10.0.0.1", Block, 1),
            ind(IndicatorType::Ip, "10.0.0.2", Block, 2),
            ind(IndicatorType::Domain, "evil.example", Block, 3),
        ]);
        // Same kernel content, other positions in the set: nothing to do.
        let b = build(vec![
            ind(IndicatorType::Domain, "evil.example", Block, 3),
            ind(IndicatorType::Ip, "10.0.0.2", Block, 2),
            ind(IndicatorType::Ip, "10.0.0.1", Block, 1),
        ]);
        assert_eq!(
            diff(&a.nets, &b.nets),
            Diff {
                upsert: vec![],
                remove: vec![]
            }
        );
        let c = build(vec![
            ind(IndicatorType::Ip, "10.0.0.1", Allow, 1),
            ind(IndicatorType::Ip, "10.0.0.3", Block, 4),
        ]);
        let mut dn = diff(&a.nets, &c.nets);
        dn.upsert.sort_by_key(|(k, _)| *k);
        assert_eq!(
            dn.upsert
                .iter()
                .map(|(k, e)| (k.to_string(), e.verdict))
                .collect::<Vec<_>>(),
            vec![
                ("10.0.0.1/32".to_string(), Verdict::Allow),
                ("10.0.0.3/32".to_string(), Verdict::Block)
            ]
        );
        assert_eq!(dn.remove, vec![net("10.0.0.2")]);
        let gone = unblocked_domains(&a.domains, &c.domains);
        assert_eq!(gone, HashSet::from([domain_hash("evil.example")]));
    }
}
