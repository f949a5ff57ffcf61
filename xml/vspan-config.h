/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-enums.h"
#include "vspan-xml.h"

/* How copies reach an appliance. */
typedef struct {
    VspanSinkType type;
    char *dev;          /* tap, netdev, vxlan: the device mirrors point at */
    char mac[18];       /* interface: MAC of the appliance domain's interface */
    char *remote;       /* vxlan, gretap, erspan */
    char *local;        /* vxlan, gretap, erspan; optional */
    guint vni;          /* vxlan */
    guint dstport;      /* vxlan, default 4789 */
    guint key;          /* gretap: the GRE key (0: none); erspan: the session ID */
    gboolean has_key;   /* gretap: key= given */
    guint version;      /* erspan: 1 (type II) or 2 (type III) */
    char *dev_egress;   /* erspan version 2: the twin device (dev + "-e")
                         * that carries copies of frames to the VM, with
                         * ERSPAN III's direction bit set; NULL otherwise */
    guint snaplen;      /* copies cut to this many bytes; 0: whole */
    guint64 max_rate;   /* copies above it dropped at the sink; 0: no cap */
    gboolean max_rate_pps;      /* max_rate is packets a second, else bit/s */
    gboolean tagged;    /* the config has a <bridge-tag>: copies may carry a
                         * marker asking for one (set for every appliance) */
    char *net_side;     /* inline: the appliance's port facing the bridge
                         * (dev is vm-side=, its port facing the VMs) */
    gboolean existing_ports;    /* inline ports="existing": never created (a
                                 * container's veths); else taps vspand creates */
} VspanSink;

/* a tunnel sink: vxlan, gretap, erspan */
#define VSPAN_SINK_IS_TUNNEL(t) ((t) == VSPAN_SINK_VXLAN || (t) == VSPAN_SINK_GRETAP || (t) == VSPAN_SINK_ERSPAN)
/* a sink vspand creates and owns (inline: when its ports do not exist) */
#define VSPAN_SINK_IS_OWNED(t) ((t) == VSPAN_SINK_TAP || VSPAN_SINK_IS_TUNNEL(t) || (t) == VSPAN_SINK_INLINE)

#define VSPAN_SNAPLEN_MIN 64
#define VSPAN_SNAPLEN_MAX 65535

/* <health>: an inline appliance's canary (wave 2) */
typedef struct {
    gboolean canary;            /* canary="on" */
    guint interval_ms;          /* between two canaries, each way */
    guint fail_after;           /* canaries missed in a row: failed */
} VspanHealth;

#define VSPAN_HEALTH_DEFAULT_INTERVAL_MS 50
#define VSPAN_HEALTH_DEFAULT_FAIL_AFTER 3

typedef struct {
    char *name;
    char *domain;       /* the libvirt domain that is the appliance */
    VspanSink sink;
    gboolean inline_mode;       /* mode="inline": in the path, not copied to */
    VspanOnFailure on_failure;  /* inline */
    VspanHealth health;         /* inline */
    long line;
} VspanAppliance;

/* <mirror bridge=...>: every port of the bridge is mirrored. */
typedef struct {
    char *bridge;
    const VspanAppliance *appliance;
    VspanDirection direction;
    VspanSelect select;         /* filter=, sample= */
    char *where;                /* message prefix naming the element */
    long line;
} VspanBridgePolicy;

/* <inline bridge= appliance=>: every port of the bridge is inline. */
typedef struct {
    char *bridge;
    const VspanAppliance *appliance;
    long line;
} VspanInlinePolicy;

/* <bridge-tag>: copies of frames from the bridge's NICs carry this tag. */
typedef struct {
    char *bridge;
    guint vlan;                 /* 1-4094 */
    long line;
} VspanBridgeTag;

/* <program>: a filter program the host admin defines (wave 2). */
typedef enum {
    VSPAN_PROGRAM_OBJECT,       /* object= an eBPF object the admin built */
    VSPAN_PROGRAM_FLOW_HEAD,    /* builtin="flow-head" */
    VSPAN_PROGRAM_SOURCE_RATE,  /* builtin="source-rate" */
} VspanProgramKind;

typedef struct {
    char *name;
    VspanProgramKind kind;
    char *object;               /* OBJECT: absolute path */
    char *section;              /* OBJECT: ELF section of the program, NULL: the first */
    guint packets, bytes, flows;        /* FLOW_HEAD (0: no limit); flows: LRU size */
    guint pps, burst;           /* SOURCE_RATE */
    long line;
} VspanProgramDef;

#define VSPAN_PROGRAM_DEFAULT_FLOWS 65536

typedef struct {
    char *dev;
    VspanRangeSet *vfs;     /* the VF indexes of this PF in the pool */
} VspanPoolPf;

typedef struct {
    char *name;
    char *network;          /* libvirt <forward mode='hostdev'> network, optional */
    GPtrArray *pfs;         /* of VspanPoolPf */
    VspanRangeSet *vlans;   /* allowed VLAN IDs besides 0 (untagged); may be empty */
    VspanTrustPolicy trust;
    long line;
} VspanPool;

typedef struct {
    char *path;                     /* for messages */
    GPtrArray *appliances;          /* of VspanAppliance, config order */
    GPtrArray *bridge_policies;     /* of VspanBridgePolicy */
    GPtrArray *bridge_tags;         /* of VspanBridgeTag */
    GPtrArray *inline_policies;     /* of VspanInlinePolicy */
    GPtrArray *pools;               /* of VspanPool */
    GPtrArray *programs;            /* of VspanProgramDef */
    VspanAgentUnavailable on_agent_unavailable;
    char *metrics_textfile;         /* <metrics textfile>, optional */
    guint metrics_interval;         /* seconds */
} VspanConfig;

/* An empty config: no appliances, no pools. */
VspanConfig *vspan_config_new_empty(const char *path);
VspanConfig *vspan_config_parse(const char *buf, gsize len, const char *path, GError **error);
VspanConfig *vspan_config_load(const char *path, GError **error);
void vspan_config_free(VspanConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanConfig, vspan_config_free)

const VspanAppliance *vspan_config_find_appliance(const VspanConfig *config, const char *name);
/* The appliances whose domain is @domain_name (a domain may host several sinks). */
gboolean vspan_config_is_appliance_domain(const VspanConfig *config, const char *domain_name);
/* The appliance whose sink device is @dev, if any. */
const VspanAppliance *vspan_config_find_sink_dev(const VspanConfig *config, const char *dev);
/* The inline appliance of every port of @bridge, NULL when none. */
const VspanAppliance *vspan_config_bridge_inline(const VspanConfig *config, const char *bridge);
/* The bridge-tag VLAN of @bridge, 0 when it has none (or @bridge is NULL). */
guint vspan_config_bridge_tag(const VspanConfig *config, const char *bridge);
const VspanProgramDef *vspan_config_find_program(const VspanConfig *config, const char *name);
/* Comma-separated program names ("none"), for "known: ..." hints. */
char *vspan_config_program_names(const VspanConfig *config);
const VspanPool *vspan_config_find_pool_by_network(const VspanConfig *config, const char *network);
/* The pool holding VF @vf of PF @pf. */
const VspanPool *vspan_config_find_pool_by_vf(const VspanConfig *config, const char *pf, guint vf);
/* Comma-separated appliance names, for "known: ..." hints. */
char *vspan_config_appliance_names(const VspanConfig *config);

#define VSPAN_VXLAN_DEFAULT_PORT 4789
#define VSPAN_VF_MAX 4095
#define VSPAN_METRICS_DEFAULT_INTERVAL 15
