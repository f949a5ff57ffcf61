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
