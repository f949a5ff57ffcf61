/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * flow-head: copy the first max_packets packets (or max_bytes bytes) of
 * each flow, then nothing more of it -- an IDS's stream depth, in the
 * kernel.  A flow is the 5-tuple regardless of direction; frames that are
 * not IP are always copied.  The LRU table forgets the least recent flows
 * when full (a forgotten flow that comes back is copied again).
 * cls_bpf, not direct-action: 0 = do not copy, -1 = copy.
 */
#include "vspan-bpf-parse.h"
#include "vspan-bpf-params.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct flow_val {
    __u64 packets;
    __u64 bytes;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);         /* <program flows=>, set before load */
    __type(key, struct vspan_tuple);
    __type(value, struct flow_val);
} vspan_flows SEC(".maps");

const volatile struct vspan_flow_head_params params = { 0 };

/* both directions of a flow: the smaller (address, port) end first */
static __always_inline void
canonical(struct vspan_tuple *t)
{
    int swap = 0;

    for (int i = 0; i < 16; i++) {
        if (t->src[i] != t->dst[i]) {
            swap = t->src[i] > t->dst[i];
            goto decided;
        }
    }
    swap = bpf_ntohs(t->sport) > bpf_ntohs(t->dport);
decided:
    if (swap) {
        __u8 tmp[16];
        __u16 p = t->sport;

        __builtin_memcpy(tmp, t->src, 16);
        __builtin_memcpy(t->src, t->dst, 16);
        __builtin_memcpy(t->dst, tmp, 16);
        t->sport = t->dport;
        t->dport = p;
    }
}

SEC("classifier")
int flow_head(struct __sk_buff *skb)
{
    struct vspan_tuple t;
    struct flow_val *v, init = { 1, skb->len };
    __u64 before_packets, before_bytes;

    if (vspan_parse(skb, &t) < 0)
        return -1;
    canonical(&t);
    v = bpf_map_lookup_elem(&vspan_flows, &t);
    if (!v) {
        bpf_map_update_elem(&vspan_flows, &t, &init, BPF_NOEXIST);
        before_packets = 0;
        before_bytes = 0;
    } else {
        before_packets = __sync_fetch_and_add(&v->packets, 1);
        before_bytes = __sync_fetch_and_add(&v->bytes, skb->len);
    }
    if (params.max_packets && before_packets >= params.max_packets)
        return 0;
    if (params.max_bytes && before_bytes >= params.max_bytes)
        return 0;
    return -1;
}
