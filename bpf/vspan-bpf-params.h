/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The read-only parameters of vspan's builtin filter programs: vspand
 * writes them into the program's .rodata before loading it, so one object
 * file serves every <program> definition without recompiling. */
#pragma once

#include <linux/types.h>

struct vspan_flow_head_params {
    __u64 max_packets;      /* 0: no packet limit */
    __u64 max_bytes;        /* 0: no byte limit */
};

struct vspan_source_rate_params {
    __u64 cost_ns;          /* one packet's cost: 1e9 / pps */
    __u64 burst_ns;         /* the bucket: burst * cost_ns */
};

/* sink-shape: on a sink's egress, every copy vspan sends there */
struct vspan_sink_shape_params {
    __u32 snaplen;          /* 0: copies keep their length */
    __u32 pps;              /* 1: the rate is in packets a second */
    __u32 tags;             /* 1: push the bridge tag of marked copies */
    __u32 pad;
    __u64 cost_ns;          /* pps: one packet's cost, 1e9 / rate */
    __u64 ns_per_kbyte;     /* bit/s: the cost of 1024 bytes, 8e9 * 1024 / rate */
    __u64 burst_ns;         /* the bucket; 0: no rate cap */
};

/* copy-tag: the marker in tc_index, and the VLAN ID it carries */
#define VSPAN_TAG_MARK 0xa000
#define VSPAN_TAG_VID 0x0fff

struct vspan_copy_tag_params {
    __u32 vlan;             /* 1-4094 */
};

/* its counters (a per-CPU array, one slot each) */
enum {
    VSPAN_SHAPE_SENT,
    VSPAN_SHAPE_TRUNCATED,
    VSPAN_SHAPE_RATE_DROPPED,
    VSPAN_SHAPE_TAGGED,         /* copies given their bridge's tag */
    VSPAN_SHAPE_TAG_FAILED,     /* copies dropped: no room for the tag */
    VSPAN_SHAPE_COUNTERS,
};

/*
 * inline: <appliance mode="inline">.  One instance per appliance; vspand
 * fills its maps.  The loop-breaker is one reserved bit of skb->mark: a
 * frame the appliance forwarded back carries it from the appliance's port
 * to the VM's tap, where it is cleared before anything else sees it.
 */
#define VSPAN_INLINE_MARK 0x00100000u
/* the canary's ethertype: IEEE 802 local experimental ethertype 1; it
 * travels under VID 4094, which no VM gets (they get 1-4093), so that an
 * appliance that forwards only tagged frames forwards it too */
#define VSPAN_INLINE_CANARY_PROTO 0x88b5
#define VSPAN_INLINE_CANARY_VID 4094

struct vspan_inline_params {
    __u32 mark;             /* VSPAN_INLINE_MARK */
    __u32 id;               /* the appliance's number, 1-4095 (VSPAN_INLINE_SEEN) */
};

/* A frame the appliance passed on its way from a VM carries this in its
 * tc_index (with the appliance's id in the low 12 bits; set through the
 * classid of a TC_ACT_OK verdict, from which the kernel writes tc_index
 * after the ingress hook) across the bridge,
 * so that it does not pass the same appliance again on its way to another
 * of its VMs: each frame is inspected once, and a learning bridge in the
 * appliance never sees a VM's MAC arrive from its net side.  copy-tag's
 * marker is 0xa000. */
#define VSPAN_INLINE_SEEN 0x5000
#define VSPAN_INLINE_SEEN_MASK 0xf000

/* what a VM's frames do now (vspan_inline_app.state) */
enum {
    VSPAN_INLINE_BYPASS = 0,    /* straight through, as without an appliance */
    VSPAN_INLINE_THROUGH = 1,   /* through the appliance */
    VSPAN_INLINE_BLOCK = 2,     /* dropped */
};

/* vspan_app[0] */
struct vspan_inline_app {
    __u32 state;
    __u32 vm_side;          /* ifindex of the appliance's port facing the VMs */
    __u32 net_side;         /* and of its port facing the bridge */
    __u32 pad;
};

/* vspan_vids[vid]: the VM whose frames carry this tag */
struct vspan_inline_vm {
    __u32 ifindex;          /* its tap; 0: the VID is free */
    __u8 mac[6];            /* the only source MAC its frames may carry */
    __u16 pad;
};

/* vspan_ports[tap ifindex]: that VM's tag */
struct vspan_inline_port {
    __u32 vid;
};

/* what a canary carries after the Ethernet header */
struct vspan_inline_canary {
    __u8 magic[8];          /* "vspan-ok" */
    __u64 seq;              /* vspand's sequence number, host order */
    __u32 dir;              /* 0: sent into the VM side, 1: into the net side */
    __u32 pad;
};

/* its counters (a per-CPU array) */
enum {
    VSPAN_INLINE_TO_APPLIANCE,      /* frames sent to the appliance */
    VSPAN_INLINE_FROM_APPLIANCE,    /* frames it sent back, delivered */
    VSPAN_INLINE_BYPASSED,          /* frames that went around it (bypass) */
    VSPAN_INLINE_BLOCKED,           /* frames dropped because it failed (block) */
    VSPAN_INLINE_UNKNOWN_TAG,       /* from it, with no tag or another VM's: dropped */
    VSPAN_INLINE_FOREIGN_MAC,       /* from it, tagged for a VM but not from its MAC: dropped */
    VSPAN_INLINE_CANARIES,          /* canaries seen coming back */
    VSPAN_INLINE_PUSH_FAILED,       /* no room for the tag: dropped */
    VSPAN_INLINE_SEEN_ONCE,         /* from one of its VMs to another: inspected once, on the way out */
    VSPAN_INLINE_COUNTERS,
};
