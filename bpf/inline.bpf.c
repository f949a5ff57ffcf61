/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inline: an appliance in the path of its VMs' NICs (IPS mode).
 *
 * A VM's tap (VM = vnetN) and the appliance's two ports (vm-side, net-side)
 * each get direct-action programs; vspand loads one instance per appliance
 * and fills its maps.
 *
 *   VM sends:     vnetN ingress  --push VM's tag, redirect-->  vm-side egress
 *                 (the appliance forwards it to its other port)
 *                 net-side ingress  --pop, mark, redirect-->  vnetN ingress
 *                 vnetN ingress: marked, so cleared and passed to the bridge
 *   VM receives:  vnetN egress  --push, redirect-->  net-side egress
 *                 vm-side ingress  --pop, mark, redirect-->  vnetN egress
 *                 vnetN egress: marked, so cleared and passed to the VM
 *
 * A frame from one of the appliance's VMs to another passes it once, on
 * its way out (VSPAN_INLINE_SEEN).
 *
 * On the tap, from_vm_pass runs before vspan's mirror filters and from_vm
 * after them, and to_vm before them: a mirror copies what the VM really
 * sent (its frame before the appliance saw it, once) and what it really
 * received (after the appliance, only what it let through).
 *
 * The state in vspan_app says what happens when the appliance is not
 * healthy: BYPASS sends frames on as if it were not there, BLOCK drops
 * them.  vspand flips it on carrier loss and failed canaries.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "vspan-bpf-params.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile struct vspan_inline_params params = { .mark = VSPAN_INLINE_MARK, .id = 1 };

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct vspan_inline_app);
} vspan_app SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, struct vspan_inline_vm);
} vspan_vids SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4094);
    __type(key, __u32);
    __type(value, struct vspan_inline_port);
} vspan_ports SEC(".maps");

/* the sequence number of the last canary back, per direction */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} vspan_canary SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, VSPAN_INLINE_COUNTERS);
    __type(key, __u32);
    __type(value, __u64);
} vspan_counters SEC(".maps");

static __always_inline void
count(__u32 what)
{
    __u64 *c = bpf_map_lookup_elem(&vspan_counters, &what);

    if (c)
        *c += 1;
}

static __always_inline struct vspan_inline_app *
app(void)
{
    __u32 zero = 0;

    return bpf_map_lookup_elem(&vspan_app, &zero);
}

/* A frame the appliance sent back: cleared of the mark. */
static __always_inline int
returned(struct __sk_buff *skb)
{
    if (!(skb->mark & params.mark))
        return 0;
    skb->mark &= ~params.mark;
    return 1;
}

/* A VM's frame: to the appliance under the VM's tag (into its VM side or
 * its net side), around it, or dropped, as its state says. */
static __always_inline int
to_appliance(struct __sk_buff *skb, int into_vm_side)
{
    struct vspan_inline_app *a = app();
    __u32 tap = skb->ifindex;
    struct vspan_inline_port *p;

    if (!a)
        return TC_ACT_UNSPEC;
    if (a->state == VSPAN_INLINE_BLOCK) {
        count(VSPAN_INLINE_BLOCKED);
        return TC_ACT_SHOT;
    }
    p = bpf_map_lookup_elem(&vspan_ports, &tap);
    if (a->state != VSPAN_INLINE_THROUGH || !p) {
        count(VSPAN_INLINE_BYPASSED);
        return TC_ACT_UNSPEC;
    }
    if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), p->vid) < 0) {
        count(VSPAN_INLINE_PUSH_FAILED);
        return TC_ACT_SHOT;
    }
    count(VSPAN_INLINE_TO_APPLIANCE);
    return bpf_redirect(into_vm_side ? a->vm_side : a->net_side, 0);
}

/* VM tap ingress, before vspan's mirrors: a frame the appliance passed
 * goes on to the bridge without being copied a second time. */
SEC("tc")
int from_vm_pass(struct __sk_buff *skb)
{
    if (!returned(skb))
        return TC_ACT_UNSPEC;
    /* on TC_ACT_OK the kernel sets tc_index from the classid's minor */
    skb->tc_classid = VSPAN_INLINE_SEEN | (params.id & 0x0fff);
    return TC_ACT_OK;
}

/* VM tap ingress, after vspan's mirrors: into the appliance's VM side. */
SEC("tc")
int from_vm(struct __sk_buff *skb)
{
    return to_appliance(skb, 1);
}

/* VM tap egress, before vspan's mirrors: into the appliance's net side,
 * unless the appliance has passed it already. */
SEC("tc")
int to_vm(struct __sk_buff *skb)
{
    if (returned(skb))
        return TC_ACT_UNSPEC;
    if ((skb->tc_index & VSPAN_INLINE_SEEN_MASK) == VSPAN_INLINE_SEEN) {
        __u32 by = skb->tc_index & 0x0fff;

        skb->tc_index = 0;
        if (by == params.id) {
            count(VSPAN_INLINE_SEEN_ONCE);
            return TC_ACT_UNSPEC;
        }
    }
    return to_appliance(skb, 0);
}

/* A canary coming back from the appliance: its sequence number recorded. */
static __always_inline int
canary(struct __sk_buff *skb, __u32 dir)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct vspan_inline_canary *c = data + sizeof(struct ethhdr);
    __u64 *seen;

    if ((void *)(c + 1) > end || c->dir != dir)
        return TC_ACT_SHOT;
    seen = bpf_map_lookup_elem(&vspan_canary, &dir);
    if (seen && c->seq > *seen)
        *seen = c->seq;
    count(VSPAN_INLINE_CANARIES);
    return TC_ACT_SHOT;
}

static __always_inline int
same_mac(const __u8 *a, const __u8 *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

/* A frame from the appliance's port: back to the VM its tag names. */
static __always_inline int
from_appliance(struct __sk_buff *skb, __u32 canary_dir, int to_bridge)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    struct vspan_inline_vm *vm;
    __u32 vid;

    vid = skb->vlan_tci & 0x0fff;
    if (skb->vlan_present && vid == VSPAN_INLINE_CANARY_VID &&
        skb->protocol == bpf_htons(VSPAN_INLINE_CANARY_PROTO))
        return canary(skb, canary_dir);
    vm = skb->vlan_present && skb->vlan_proto == bpf_htons(ETH_P_8021Q) ?
             bpf_map_lookup_elem(&vspan_vids, &vid) : 0;
    if (!vm || !vm->ifindex) {
        count(VSPAN_INLINE_UNKNOWN_TAG);
        return TC_ACT_SHOT;
    }
    if ((void *)(eth + 1) > end)
        return TC_ACT_SHOT;
    /* the appliance's own frames (its ND, MLD, LLDP) are not the VM's */
    if (to_bridge && !same_mac(eth->h_source, vm->mac)) {
        count(VSPAN_INLINE_FOREIGN_MAC);
        return TC_ACT_SHOT;
    }
    if (bpf_skb_vlan_pop(skb) < 0)
        return TC_ACT_SHOT;
    skb->mark |= params.mark;
    count(VSPAN_INLINE_FROM_APPLIANCE);
    return bpf_redirect(vm->ifindex, to_bridge ? BPF_F_INGRESS : 0);
}

/* The appliance's net-side port, ingress: what the VM sent, inspected. */
SEC("tc")
int from_net_side(struct __sk_buff *skb)
{
    return from_appliance(skb, 0, 1);
}

/* The appliance's VM-side port, ingress: what the VM is to receive. */
SEC("tc")
int from_vm_side(struct __sk_buff *skb)
{
    return from_appliance(skb, 1, 0);
}
