/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * copy-tag: <bridge-tag bridge= vlan=>.  Every copy of a frame from a NIC
 * on that bridge is to reach its appliance under an outer 802.1Q tag.
 *
 * The tag cannot go on at the tap: the rules' own programs (libpcap's
 * "vlan 100", "ip") would then see it, and the monitored frame would have
 * to be put back as it was.  Instead the copies are marked, the frame
 * never changed: on the tap's hook, before vspan's filters, copy_tag
 * writes the marker into the skb's tc_index (a field nothing on a Linux
 * bridge port reads; mirred's clone keeps it), and after them copy_untag
 * clears it from the original again.  On the sink's egress, sink-shape
 * pushes the tag onto every copy that carries the marker (an 802.1Q in
 * 802.1Q when the copy already has one).  Direct action: TC_ACT_UNSPEC
 * goes on to the next filter; the frame is neither dropped nor redirected.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "vspan-bpf-params.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile struct vspan_copy_tag_params params = { 0 };

SEC("tc")
int copy_tag(struct __sk_buff *skb)
{
    skb->tc_index = VSPAN_TAG_MARK | (params.vlan & VSPAN_TAG_VID);
    return TC_ACT_UNSPEC;
}

SEC("tc")
int copy_untag(struct __sk_buff *skb)
{
    if ((skb->tc_index & ~VSPAN_TAG_VID) == VSPAN_TAG_MARK)
        skb->tc_index = 0;
    return TC_ACT_UNSPEC;
}
