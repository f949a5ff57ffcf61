/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * source-rate: copy at most pps packets a second per source address, with
 * a bucket of burst packets (Oko's rate limiter): one chatty source cannot
 * drown the appliance, a quiet one loses nothing.  The bucket is kept in
 * nanoseconds of credit: each packet costs 1e9/pps, the credit grows with
 * time up to burst packets' worth.  Frames that are not IP are always
 * copied.  cls_bpf, not direct-action: 0 = do not copy, -1 = copy.
 */
#include "vspan-bpf-parse.h"
#include "vspan-bpf-params.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct bucket {
    __u64 credit_ns;
    __u64 last_ns;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u8[16]);
    __type(value, struct bucket);
} vspan_sources SEC(".maps");

const volatile struct vspan_source_rate_params params = { 0 };

SEC("classifier")
int source_rate(struct __sk_buff *skb)
{
    struct vspan_tuple t;
    struct bucket *b;
    __u64 now = bpf_ktime_get_ns();
    __u64 credit;

    if (vspan_parse(skb, &t) < 0)
        return -1;
    b = bpf_map_lookup_elem(&vspan_sources, t.src);
    if (!b) {
        /* a new source starts with a full bucket, this packet paid */
        struct bucket init = { params.burst_ns - params.cost_ns, now };
        bpf_map_update_elem(&vspan_sources, t.src, &init, BPF_NOEXIST);
        return -1;
    }
    credit = b->credit_ns + (now - b->last_ns);
    if (credit > params.burst_ns)
        credit = params.burst_ns;
    b->last_ns = now;
    if (credit < params.cost_ns) {
        b->credit_ns = credit;
        return 0;
    }
    b->credit_ns = credit - params.cost_ns;
    return -1;
}
