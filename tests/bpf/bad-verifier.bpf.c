/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A filter program the kernel's verifier refuses: it reads the packet
 * without checking its length (the test of "a verifier refusal refuses
 * only the rules naming that program"). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("classifier")
int bad(struct __sk_buff *skb)
{
    return *(__u32 *)(long)skb->data;
}
