/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sink-shape: on the egress of an appliance's sink device (tap, netdev,
 * vxlan), which carries nothing but vspan's copies, cap their rate and cut
 * them to snaplen.  A copy is a clone of the monitored frame: cutting it
 * (bpf_skb_change_tail un-shares what it changes) never touches the
 * original.  The rate is a token bucket kept in nanoseconds of credit;
 * copies over it are dropped and counted, before they cost the appliance
 * anything.  On an interface sink (the appliance's own tap, which carries
 * its own traffic too) it runs only to tag copies: no snaplen, no rate,
 * and frames without copy-tag's marker pass untouched.  Direct action: TC_ACT_OK sends the copy, TC_ACT_SHOT drops it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "vspan-bpf-params.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct bucket {
    __u64 credit_ns;
    __u64 last_ns;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct bucket);
} vspan_bucket SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, VSPAN_SHAPE_COUNTERS);
    __type(key, __u32);
    __type(value, __u64);
} vspan_counters SEC(".maps");

const volatile struct vspan_sink_shape_params params = { 0 };

static __always_inline void
count(__u32 which)
{
    __u64 *c = bpf_map_lookup_elem(&vspan_counters, &which);

    if (c)
        *c += 1;
}

SEC("tc")
int sink_shape(struct __sk_buff *skb)
{
    __u32 len, limit = params.snaplen;

    /* a copy from a tagged bridge (copy-tag.bpf.c): its tag goes on first,
     * so that snaplen counts it */
    if (params.tags && (skb->tc_index & ~VSPAN_TAG_VID) == VSPAN_TAG_MARK) {
        __u16 vid = skb->tc_index & VSPAN_TAG_VID;

        skb->tc_index = 0;
        if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), vid) < 0) {
            count(VSPAN_SHAPE_TAG_FAILED);
            return TC_ACT_SHOT;
        }
        count(VSPAN_SHAPE_TAGGED);
    }
    len = skb->len;

    /* a tag in the skb's metadata goes into the frame on the way out
     * (tun writes it into what the appliance reads, a tunnel into the
     * inner frame, a NIC onto the wire): it counts against snaplen */
    if (limit && skb->vlan_present)
        limit -= 4;
    if (limit && len > limit)
        len = limit;
    if (params.burst_ns) {
        __u32 zero = 0;
        struct bucket *b = bpf_map_lookup_elem(&vspan_bucket, &zero);
        __u64 now = bpf_ktime_get_ns(), credit, cost;

        if (!b)
            return TC_ACT_OK;
        cost = params.pps ? params.cost_ns : ((__u64)len * params.ns_per_kbyte) >> 10;
        if (b->last_ns == 0)
            credit = params.burst_ns;
        else
            credit = b->credit_ns + (now - b->last_ns);
        if (credit > params.burst_ns)
            credit = params.burst_ns;
        b->last_ns = now;
        if (credit < cost) {
            b->credit_ns = credit;
            count(VSPAN_SHAPE_RATE_DROPPED);
            return TC_ACT_SHOT;
        }
        b->credit_ns = credit - cost;
    }
    if (len < skb->len) {
        if (bpf_skb_change_tail(skb, len, 0) == 0)
            count(VSPAN_SHAPE_TRUNCATED);
    }
    if (params.snaplen || params.burst_ns)
        count(VSPAN_SHAPE_SENT);
    return TC_ACT_OK;
}
