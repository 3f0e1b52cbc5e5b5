// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Vigil's network enforcement: cgroup BPF programs attached to the cgroup v2 root, so that
 * they apply to every process of the host (cgroup programs of descendants run too: a refusal
 * by any of them refuses).
 *
 *  - cgroup/connect4, cgroup/connect6 (Linux 4.17): connect(2) to a blocked address fails
 *    with EPERM;
 *  - cgroup/sendmsg4, cgroup/sendmsg6 (4.18): so does an unconnected UDP sendmsg;
 *  - cgroup_skb/ingress, cgroup_skb/egress (4.10): packets from or to a blocked address are
 *    dropped (both directions: an inbound connection from a blocked peer never completes);
 *  - the ingress program also reads every DNS response (UDP from port 53) before it is
 *    queued on the asking socket: when its question names a blocked domain (or a subdomain),
 *    the A and AAAA addresses of the answer are added to `dns_addrs` for the record's TTL, so
 *    the application cannot connect to them even if it acts on the answer at once.
 *
 * What is blocked lives in maps the agent fills: `net4`/`net6` (LPM tries of Ip and Cidr
 * indicators; the longest prefix wins, so a non-blocking indicator inside a blocked network
 * is a VP_PASS hole), `domains` (a 64-bit FNV-1a hash of the domain read backwards, so that
 * every suffix of a name is hashed in one pass from its end) and `dns_addrs`. Every block is
 * counted; reports go to the `reports` ring buffer, at most one per (process, direction,
 * address) per interval (`rate` keeps the count of what was folded).
 *
 * `vp_lsm_probe` is not loaded with the rest (`?` section): the agent loads it alone to learn
 * whether this kernel accepts BPF LSM programs.
 *
 * Needs Linux 5.8+ (ring buffer, bounded loops) and BTF.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "protect.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

const volatile struct vp_settings settings = {};

/* Keep the record and map types in BTF so that the skeleton generates them for Rust. */
struct vp_net_block _net_block = {};
struct vp_key4 _key4 = {};
struct vp_key6 _key6 = {};
struct vp_verdict _verdict = {};
struct vp_addr_key _addr_key = {};
struct vp_dns_entry _dns_entry = {};
struct vp_rate_key _rate_key = {};
struct vp_rate _rate = {};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct vp_key4);
	__type(value, struct vp_verdict);
	__uint(max_entries, 1 << 20); /* sized by the agent before load */
	__uint(map_flags, BPF_F_NO_PREALLOC);
} net4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct vp_key6);
	__type(value, struct vp_verdict);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} net6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, unsigned long long);
	__type(value, struct vp_verdict);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} domains SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct vp_addr_key);
	__type(value, struct vp_dns_entry);
	__uint(max_entries, 65536);
} dns_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct vp_rate_key);
	__type(value, struct vp_rate);
	__uint(max_entries, 16384);
} rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} reports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, u32);
	__type(value, u64);
	__uint(max_entries, VP_CNT_MAX);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, u32);
	__type(value, struct vp_dns_scratch);
	__uint(max_entries, 1);
} dns_scratch SEC(".maps");

static __always_inline void count(u32 which, u64 n)
{
	u64 *c = bpf_map_lookup_elem(&counters, &which);
	if (c)
		*c += n;
}

/* What matched an address. */
struct hit {
	u64 indicator_id;
	u64 domain_hash;
	u8 origin;
	u8 prefixlen;
};

/* Whether `addr` (4 or 16 bytes in `a`, by `family`) is blocked; fills `h` when it is. */
static __always_inline int blocked(u32 family, const u8 *a, struct hit *h)
{
	struct vp_verdict *v;
	if (family == VP_AF_INET) {
		struct vp_key4 k = {.prefixlen = 32};
		__builtin_memcpy(k.addr, a, 4);
		v = bpf_map_lookup_elem(&net4, &k);
	} else {
		struct vp_key6 k = {.prefixlen = 128};
		__builtin_memcpy(k.addr, a, 16);
		v = bpf_map_lookup_elem(&net6, &k);
	}
	if (v) {
		if (v->verdict == VP_BLOCK) {
			h->indicator_id = v->indicator_id;
			h->prefixlen = v->prefixlen;
			h->origin = VP_ORIGIN_NETWORK;
			return 1;
		}
		if (v->verdict == VP_ALLOW)
			return 0;
	}
	struct vp_addr_key dk = {.family = family};
	__builtin_memcpy(dk.addr, a, 16);
	struct vp_dns_entry *e = bpf_map_lookup_elem(&dns_addrs, &dk);
	if (e && e->expires_ns > bpf_ktime_get_boot_ns()) {
		h->indicator_id = e->indicator_id;
		h->domain_hash = e->domain_hash;
		h->prefixlen = family == VP_AF_INET ? 32 : 128;
		h->origin = VP_ORIGIN_DOMAIN;
		return 1;
	}
	return 0;
}

/* Count a block and report it, unless this key was reported less than an interval ago. */
static __always_inline void report(u32 dir, u32 family, const u8 *remote, u16 rport,
				   const u8 *local, u16 lport, u8 proto, u32 tgid, u32 uid,
				   const struct hit *h)
{
	count(dir, 1);
	u64 now = bpf_ktime_get_boot_ns();
	struct vp_rate_key rk = {.tgid = tgid, .direction = dir, .family = family};
	__builtin_memcpy(rk.addr, remote, 16);
	u64 n = 1;
	struct vp_rate *r = bpf_map_lookup_elem(&rate, &rk);
	if (r) {
		if (now - r->last_ns < (u64)settings.report_interval_ms * 1000000ULL) {
			__sync_fetch_and_add(&r->suppressed, 1);
			r->indicator_id = h->indicator_id;
			r->domain_hash = h->domain_hash;
			r->remote_port = rport;
			r->local_port = lport;
			r->protocol = proto;
			r->origin = h->origin;
			r->prefixlen = h->prefixlen;
			count(VP_CNT_SUPPRESSED, 1);
			return;
		}
		n += r->suppressed;
		r->suppressed = 0;
		r->last_ns = now;
	} else {
		struct vp_rate nr = {.last_ns = now};
		bpf_map_update_elem(&rate, &rk, &nr, BPF_ANY);
	}
	struct vp_net_block ev = {
		.type = VP_REC_NET_BLOCK,
		.direction = dir,
		.origin = h->origin,
		.protocol = proto,
		.prefixlen = h->prefixlen,
		.family = family,
		.tgid = tgid,
		.uid = uid,
		.ts = now,
		.indicator_id = h->indicator_id,
		.domain_hash = h->domain_hash,
		.count = n,
		.remote_port = rport,
		.local_port = lport,
	};
	__builtin_memcpy(ev.remote, remote, 16);
	if (local)
		__builtin_memcpy(ev.local, local, 16);
	if (tgid)
		bpf_get_current_comm(ev.comm, sizeof(ev.comm));
	if (bpf_ringbuf_output(&reports, &ev, sizeof(ev), 0))
		count(VP_CNT_RINGBUF_FULL, 1);
}

/* ---------------------------------------------------------------- connect, sendmsg */

static __always_inline int check_addr4(struct bpf_sock_addr *ctx, u32 dir)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u32 tgid = pid_tgid >> 32;
	if (tgid == settings.agent_tgid)
		return 1;
	u8 a[16] = {};
	u32 ip = ctx->user_ip4;
	__builtin_memcpy(a, &ip, 4);
	struct hit h = {};
	if (!blocked(VP_AF_INET, a, &h))
		return 1;
	u16 port = bpf_ntohs((u16)ctx->user_port);
	u32 uid = (u32)bpf_get_current_uid_gid();
	report(dir, VP_AF_INET, a, port, 0, 0, (u8)ctx->protocol, tgid, uid, &h);
	return 0;
}

static __always_inline int check_addr6(struct bpf_sock_addr *ctx, u32 dir)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u32 tgid = pid_tgid >> 32;
	if (tgid == settings.agent_tgid)
		return 1;
	u8 a[16] = {};
	u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1], w2 = ctx->user_ip6[2],
	    w3 = ctx->user_ip6[3];
	u32 family = VP_AF_INET6;
	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff)) {
		/* IPv4-mapped: the IPv4 rules apply. */
		family = VP_AF_INET;
		__builtin_memcpy(a, &w3, 4);
	} else {
		__builtin_memcpy(a, &w0, 4);
		__builtin_memcpy(a + 4, &w1, 4);
		__builtin_memcpy(a + 8, &w2, 4);
		__builtin_memcpy(a + 12, &w3, 4);
	}
	struct hit h = {};
	if (!blocked(family, a, &h))
		return 1;
	u16 port = bpf_ntohs((u16)ctx->user_port);
	u32 uid = (u32)bpf_get_current_uid_gid();
	report(dir, family, a, port, 0, 0, (u8)ctx->protocol, tgid, uid, &h);
	return 0;
}

SEC("cgroup/connect4")
int vp_connect4(struct bpf_sock_addr *ctx) { return check_addr4(ctx, VP_DIR_CONNECT); }

SEC("cgroup/connect6")
int vp_connect6(struct bpf_sock_addr *ctx) { return check_addr6(ctx, VP_DIR_CONNECT); }

SEC("cgroup/sendmsg4")
int vp_sendmsg4(struct bpf_sock_addr *ctx) { return check_addr4(ctx, VP_DIR_SENDMSG); }

SEC("cgroup/sendmsg6")
int vp_sendmsg6(struct bpf_sock_addr *ctx) { return check_addr6(ctx, VP_DIR_SENDMSG); }

/* ---------------------------------------------------------------- packets */

/* The addresses, protocol and L4 offset of a packet (data starts at the IP header). */
struct pkt {
	u32 family;
	u32 l4;
	u8 proto;
	u8 src[16];
	u8 dst[16];
	u16 sport;
	u16 dport;
};

static __always_inline int parse_ip(struct __sk_buff *skb, struct pkt *p)
{
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		u8 vihl;
		if (bpf_skb_load_bytes(skb, 0, &vihl, 1) || (vihl >> 4) != 4)
			return -1;
		u16 frag;
		if (bpf_skb_load_bytes(skb, 6, &frag, 2) ||
		    bpf_skb_load_bytes(skb, 9, &p->proto, 1) ||
		    bpf_skb_load_bytes(skb, 12, p->src, 4) || bpf_skb_load_bytes(skb, 16, p->dst, 4))
			return -1;
		p->family = VP_AF_INET;
		p->l4 = (vihl & 0xf) * 4;
		/* A non-first fragment carries no L4 header. */
		if (bpf_ntohs(frag) & 0x1fff)
			p->proto = 0;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, 6, &p->proto, 1) ||
		    bpf_skb_load_bytes(skb, 8, p->src, 16) || bpf_skb_load_bytes(skb, 24, p->dst, 16))
			return -1;
		p->family = VP_AF_INET6;
		p->l4 = 40; /* extension headers are not followed: no ports then */
	} else {
		return -1;
	}
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		u16 ports[2];
		if (!bpf_skb_load_bytes(skb, p->l4, ports, 4)) {
			p->sport = bpf_ntohs(ports[0]);
			p->dport = bpf_ntohs(ports[1]);
		}
	}
	return 0;
}

/*
 * The value of `x`, passed through memory so that the verifier no longer knows it: loops
 * whose exits leave different constants (or ranges) in a variable would otherwise be walked
 * once per exit for everything that follows, past the verifier's budget. Callers bound the
 * result again where it matters.
 */
static __always_inline u32 forget(struct vp_dns_scratch *s, u32 x)
{
	*(volatile u32 *)&s->tmp = x;
	return *(volatile u32 *)&s->tmp;
}

/*
 * Block the addresses of a DNS answer whose question names a blocked domain. A global
 * function (Linux 5.6), so that the verifier checks it once, not once per caller state.
 */
__attribute__((noinline)) int vp_dns_answer(struct __sk_buff *skb, u32 dns)
{
	u16 hdr[6];
	if (bpf_skb_load_bytes(skb, dns, hdr, 12))
		return 0;
	u16 flags = bpf_ntohs(hdr[1]);
	u16 qdcount = bpf_ntohs(hdr[2]);
	u16 ancount = bpf_ntohs(hdr[3]);
	/* A response (QR), standard query, no error, one question, some answers. */
	if (!(flags & 0x8000) || ((flags >> 11) & 0xf) || (flags & 0xf) || qdcount != 1 ||
	    ancount == 0)
		return 0;
	u32 zero = 0;
	struct vp_dns_scratch *s = bpf_map_lookup_elem(&dns_scratch, &zero);
	if (!s)
		return 0;
	u32 qoff = dns + 12;
	if (qoff >= skb->len)
		return 0;
	u32 n = skb->len - qoff;
	if (n > VP_NAME_WIRE)
		n = VP_NAME_WIRE;
	n = forget(s, n);
	if (n < 2 || n > VP_NAME_WIRE)
		return 0;
	if (bpf_skb_load_bytes(skb, qoff, s->raw, n))
		return 0;

	/*
	 * The question name in presentation form, aligned with the wire bytes: each length
	 * octet becomes '.', so name[1..end] is "a.example.com" and a label starts after each
	 * '.'. Letters are lowercased; a '.' inside a label makes the name unmatchable.
	 */
	u32 next = 0, end = 0;
	int ok = 0;
	for (u32 i = 0; i < VP_NAME_WIRE; i++) {
		if (i >= n)
			break;
		u8 c = s->raw[i];
		if (i == next) {
			if (c == 0) {
				end = i;
				ok = 1;
				break;
			}
			if (c > 63)
				break;
			next = forget(s, i + c + 1);
			s->name[i] = '.';
		} else {
			if (c == '.')
				break;
			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			s->name[i] = c;
		}
	}
	if (!ok)
		return 0;
	end = forget(s, end);
	if (end < 2 || end >= VP_NAME_WIRE)
		return 0;
	count(VP_CNT_DNS_ANSWERS, 1);

	/* Hash the name from its end; at each label start the hash is that suffix's. The
	 * longest suffix in `domains` decides. */
	u64 hash = FNV_OFFSET, best_hash = 0, best_id = 0;
	u32 best = 0;
	for (u32 k = 1; k < VP_NAME_WIRE; k++) {
		if (k >= end)
			break;
		u32 i = (end - k) & (VP_NAME_WIRE - 1);
		hash ^= s->name[i];
		hash *= FNV_PRIME;
		if (s->name[(i - 1) & (VP_NAME_WIRE - 1)] != '.')
			continue;
		struct vp_verdict *v = bpf_map_lookup_elem(&domains, &hash);
		if (v) {
			best = v->verdict;
			best_hash = hash;
			best_id = v->indicator_id;
		}
	}
	if (best != VP_BLOCK)
		return 0;
	count(VP_CNT_DNS_BLOCKED, 1);

	u32 floor = settings.dns_ttl_floor, cap = settings.dns_ttl_cap;
	u64 now = bpf_ktime_get_boot_ns();
	u32 pos = qoff + end + 1 + 4; /* past the name, QTYPE and QCLASS */
	for (u32 a = 0; a < VP_DNS_MAX_ANSWERS; a++) {
		if (a >= ancount)
			break;
		/* Skip the owner name: labels up to a root octet or a compression pointer. */
		int named = 0;
		for (u32 j = 0; j < VP_DNS_MAX_LABELS; j++) {
			u8 b;
			if (bpf_skb_load_bytes(skb, pos, &b, 1))
				return 0;
			if (b == 0) {
				pos += 1;
				named = 1;
				break;
			}
			if ((b & 0xc0) == 0xc0) {
				pos += 2;
				named = 1;
				break;
			}
			if (b & 0xc0)
				return 0;
			pos += b + 1;
		}
		if (!named)
			return 0;
		pos = forget(s, pos);
		u8 rr[10];
		if (bpf_skb_load_bytes(skb, pos, rr, 10))
			return 0;
		pos += 10;
		u16 type = ((u16)rr[0] << 8) | rr[1];
		u16 class = ((u16)rr[2] << 8) | rr[3];
		u32 ttl = ((u32)rr[4] << 24) | ((u32)rr[5] << 16) | ((u32)rr[6] << 8) | rr[7];
		u16 rdlen = ((u16)rr[8] << 8) | rr[9];
		struct vp_addr_key k = {};
		int addr = 0;
		if (class == 1 && type == 1 && rdlen == 4) {
			k.family = VP_AF_INET;
			addr = !bpf_skb_load_bytes(skb, pos, k.addr, 4);
		} else if (class == 1 && type == 28 && rdlen == 16) {
			k.family = VP_AF_INET6;
			addr = !bpf_skb_load_bytes(skb, pos, k.addr, 16);
		}
		pos = forget(s, pos + rdlen);
		if (!addr)
			continue;
		if (ttl & 0x80000000) /* RFC 2181 8: treated as zero */
			ttl = 0;
		if (ttl < floor)
			ttl = floor;
		if (ttl > cap)
			ttl = cap;
		struct vp_dns_entry e = {
			.indicator_id = best_id,
			.expires_ns = now + (u64)ttl * 1000000000ULL,
			.domain_hash = best_hash,
			.ttl = ttl,
		};
		struct vp_dns_entry *old = bpf_map_lookup_elem(&dns_addrs, &k);
		if (old && old->expires_ns > e.expires_ns && old->domain_hash == best_hash)
			continue;
		bpf_map_update_elem(&dns_addrs, &k, &e, BPF_ANY);
		count(VP_CNT_DNS_ADDRS, 1);
	}
	return 0;
}

SEC("cgroup_skb/ingress")
int vp_ingress(struct __sk_buff *skb)
{
	struct pkt p = {};
	if (parse_ip(skb, &p))
		return 1;
	struct hit h = {};
	if (blocked(p.family, p.src, &h)) {
		report(VP_DIR_INGRESS, p.family, p.src, p.sport, p.dst, p.dport, p.proto, 0, 0, &h);
		return 0;
	}
	if (p.proto == IPPROTO_UDP && p.sport == 53)
		vp_dns_answer(skb, p.l4 + 8);
	return 1;
}

SEC("cgroup_skb/egress")
int vp_egress(struct __sk_buff *skb)
{
	struct pkt p = {};
	if (parse_ip(skb, &p))
		return 1;
	struct hit h = {};
	if (!blocked(p.family, p.dst, &h))
		return 1;
	report(VP_DIR_EGRESS, p.family, p.dst, p.dport, p.src, p.sport, p.proto, 0, 0, &h);
	return 0;
}

/* ---------------------------------------------------------------- ladder probe */

/* Loaded alone, never attached: whether the kernel accepts a BPF LSM program. */
SEC("?lsm/bprm_check_security")
int BPF_PROG(vp_lsm_probe, struct linux_binprm *bprm)
{
	return 0;
}
