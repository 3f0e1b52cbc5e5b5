/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one definition of the enforcement programs' maps and records (protect.bpf.c).
 *
 * Rust gets these types from the libbpf-cargo skeleton (protect.skel.rs), never from a
 * hand-written mirror. Every struct is laid out without implicit padding (explicit `_pad`
 * fields), so that user space can write keys and values as plain bytes.
 */
#ifndef VIGIL_PROTECT_H
#define VIGIL_PROTECT_H

/* Record types sent on the `reports` ring buffer. Never reused. */
enum vp_record_type {
	VP_REC_NET_BLOCK = 1, /* a connection, datagram or packet refused */
};

/* Where a block happened (vp_net_block.direction, vp_rate_key.direction). */
enum vp_direction {
	VP_DIR_CONNECT = 0, /* connect(2) refused (cgroup/connect4, connect6) */
	VP_DIR_SENDMSG = 1, /* unconnected UDP sendmsg refused (cgroup/sendmsg4, sendmsg6) */
	VP_DIR_INGRESS = 2, /* packet from a blocked address dropped (cgroup_skb/ingress) */
	VP_DIR_EGRESS = 3,  /* packet to a blocked address dropped (cgroup_skb/egress) */
};

/* What a map entry says (vp_verdict.verdict). */
enum vp_verdict_kind {
	VP_PASS = 1,  /* a non-blocking indicator more specific than a block: let it through */
	VP_ALLOW = 2, /* an allow indicator: let it through, whatever a DNS-derived block says */
	VP_BLOCK = 3,
};

/* Why an address is blocked (vp_net_block.origin). */
enum vp_origin {
	VP_ORIGIN_NETWORK = 0, /* an Ip or Cidr indicator (net4 / net6) */
	VP_ORIGIN_DOMAIN = 1,  /* a DNS answer for a blocked domain (dns_addrs) */
};

/* Counters the agent reads from the `counters` per-CPU array. */
enum vp_counter {
	VP_CNT_CONNECT = 0,       /* connect(2) refused */
	VP_CNT_SENDMSG = 1,       /* sendmsg refused */
	VP_CNT_INGRESS = 2,       /* inbound packets dropped */
	VP_CNT_EGRESS = 3,        /* outbound packets dropped */
	VP_CNT_DNS_ANSWERS = 4,   /* DNS responses whose question was parsed */
	VP_CNT_DNS_BLOCKED = 5,   /* ... whose name is a blocked domain */
	VP_CNT_DNS_ADDRS = 6,     /* addresses inserted into dns_addrs */
	VP_CNT_RINGBUF_FULL = 7,  /* reports lost because the ring buffer was full */
	VP_CNT_SUPPRESSED = 8,    /* blocks folded into a later report by the rate limit */
	VP_CNT_MAX = 10,
};

/* Bounds of the in-kernel DNS parser. */
#define VP_NAME_WIRE 256      /* bytes of the question name read (a name is at most 255) */
#define VP_DNS_MAX_ANSWERS 16 /* answer records walked per response */
#define VP_DNS_MAX_LABELS 32  /* labels walked to skip one owner name (most are one pointer) */

#define VP_AF_INET 2
#define VP_AF_INET6 10

/* LPM-trie keys: prefix length in bits, then the address in network order. */
struct vp_key4 {
	unsigned int prefixlen;
	unsigned char addr[4];
};

struct vp_key6 {
	unsigned int prefixlen;
	unsigned char addr[16];
};

/* Value of net4, net6 and domains. */
struct vp_verdict {
	unsigned long long indicator_id;
	unsigned int verdict;   /* enum vp_verdict_kind */
	unsigned int prefixlen; /* net4/net6: the entry's prefix length (for the report) */
};

/* An address of either family: IPv4 in the first 4 bytes. */
struct vp_addr_key {
	unsigned int family; /* VP_AF_INET or VP_AF_INET6 */
	unsigned char addr[16];
};

/* Value of dns_addrs: an address blocked because a blocked domain resolved to it. */
struct vp_dns_entry {
	unsigned long long indicator_id;
	unsigned long long expires_ns; /* bpf_ktime_get_boot_ns() after which it no longer applies */
	unsigned long long domain_hash; /* key of the `domains` entry that matched */
	unsigned int ttl;               /* seconds applied (after floor and cap) */
	unsigned int _pad;
};

/* Rate limit of reports: one per (process, direction, address) per interval. */
struct vp_rate_key {
	unsigned int tgid; /* 0 for packets (no process context) */
	unsigned int direction;
	unsigned int family;
	unsigned char addr[16];
};

/* The last report of a rate key and what was folded since (the agent reports the tail). */
struct vp_rate {
	unsigned long long last_ns;
	unsigned long long suppressed;
	unsigned long long indicator_id;
	unsigned long long domain_hash;
	unsigned short remote_port;
	unsigned short local_port;
	unsigned char protocol;
	unsigned char origin;
	unsigned char prefixlen;
	unsigned char _pad;
};

struct vp_net_block {
	unsigned short type;      /* VP_REC_NET_BLOCK */
	unsigned char direction;  /* enum vp_direction */
	unsigned char origin;     /* enum vp_origin */
	unsigned char protocol;   /* IPPROTO_TCP 6, IPPROTO_UDP 17, ... */
	unsigned char prefixlen;  /* of the matching network entry */
	unsigned short family;    /* VP_AF_INET or VP_AF_INET6 */
	unsigned int tgid;        /* 0 for packets */
	unsigned int uid;
	unsigned long long ts;    /* bpf_ktime_get_boot_ns() */
	unsigned long long indicator_id;
	unsigned long long domain_hash; /* origin DOMAIN: the domain entry */
	unsigned long long count; /* blocks this report stands for (1 + those rate-limited) */
	unsigned short remote_port; /* host order */
	unsigned short local_port;
	unsigned int _pad;
	unsigned char remote[16];
	unsigned char local[16];
	char comm[16];
};

/* Settings the agent writes into .rodata before load. */
struct vp_settings {
	unsigned int agent_tgid;       /* never refused at connect/sendmsg */
	unsigned int dns_ttl_floor;    /* seconds */
	unsigned int dns_ttl_cap;      /* seconds */
	unsigned int report_interval_ms;
};

/* Scratch space of the DNS parser (a per-CPU array of one). */
struct vp_dns_scratch {
	unsigned char raw[VP_NAME_WIRE];
	unsigned char name[VP_NAME_WIRE];
	unsigned int tmp; /* see `forget` in protect.bpf.c */
	unsigned int _pad;
};

#endif /* VIGIL_PROTECT_H */
