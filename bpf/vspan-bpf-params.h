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
