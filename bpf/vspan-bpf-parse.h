/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the builtin programs: the IP 5-tuple of a frame as cls_bpf
 * sees it (from its Ethernet header; an 802.1Q/802.1ad tag the kernel
 * moved to metadata is not in the bytes, one still in the frame is
 * skipped).  Addresses are IPv4-mapped IPv6. */
#pragma once

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct vspan_tuple {
    __u8 src[16];
    __u8 dst[16];
    __u16 sport, dport;
    __u8 proto;
    __u8 pad[3];
};

/* 0 when the frame is IP (tuple filled), -1 otherwise */
static __always_inline int
vspan_parse(struct __sk_buff *skb, struct vspan_tuple *t)
{
    __u32 off = 12;
    __u16 type;
    __u8 l4 = 0;
    __u32 l4off = 0;

    if (bpf_skb_load_bytes(skb, off, &type, 2) < 0)
        return -1;
    if (type == bpf_htons(ETH_P_8021Q) || type == bpf_htons(ETH_P_8021AD)) {
        off += 4;
        if (bpf_skb_load_bytes(skb, off, &type, 2) < 0)
            return -1;
    }
    off += 2;
    __builtin_memset(t, 0, sizeof(*t));
    if (type == bpf_htons(ETH_P_IP)) {
        struct iphdr ip;

        if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0)
            return -1;
        t->src[10] = t->src[11] = 0xff;
        t->dst[10] = t->dst[11] = 0xff;
        __builtin_memcpy(&t->src[12], &ip.saddr, 4);
        __builtin_memcpy(&t->dst[12], &ip.daddr, 4);
        l4 = ip.protocol;
        /* a fragment after the first has no ports */
        if (ip.frag_off & bpf_htons(0x1fff))
            l4off = 0;
        else
            l4off = off + ip.ihl * 4;
    } else if (type == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr ip6;

        if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0)
            return -1;
        __builtin_memcpy(t->src, &ip6.saddr, 16);
        __builtin_memcpy(t->dst, &ip6.daddr, 16);
        l4 = ip6.nexthdr;
        l4off = off + sizeof(ip6);
    } else {
        return -1;
    }
    t->proto = l4;
    if (l4off && (l4 == IPPROTO_TCP || l4 == IPPROTO_UDP || l4 == IPPROTO_SCTP)) {
        __u16 ports[2];
        if (bpf_skb_load_bytes(skb, l4off, ports, sizeof(ports)) == 0) {
            t->sport = ports[0];
            t->dport = ports[1];
        }
    }
    return 0;
}
