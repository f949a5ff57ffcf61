/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-config.h"
#include "vspan-domain.h"
#include "vspan-enums.h"
#include "vspan-observed.h"

/*
 * vspan's tc filter priorities, one per hook (libnl/u32 share hash tables
 * between the clsact hooks, so the two must differ).  They sit below 49152,
 * the priority the kernel gives the first filter added without one (as
 * libvirt's <bandwidth> police filter is), so the copy is taken before any
 * libvirt filter classifies or polices the frame.
 */
#define VSPAN_TC_PRIO_INGRESS 0xbf00u
#define VSPAN_TC_PRIO_EGRESS 0xbf01u
/* Rules that select (filter=, sample=): one cls_bpf filter per rule, all of
 * a hook at one priority, told apart by handle (the appliance's position
 * in the config, from 1).  Each ends in "continue", so every rule's
 * program sees every frame. */
#define VSPAN_TC_PRIO_SELECT_INGRESS 0xbf02u
#define VSPAN_TC_PRIO_SELECT_EGRESS 0xbf03u
/* A sink's shaper (snaplen=, max-rate=): on the sink's egress. */
#define VSPAN_TC_PRIO_SHAPE 0xbf04u
#define VSPAN_TC_SHAPE_NAME "vspan-shape"
/* <bridge-tag>: around vspan's filters of a hook, a direct-action cls_bpf
 * filter marks the frame before them (its copies carry the mark to the
 * sink, where the tag goes on) and one clears the mark after them. */
#define VSPAN_TC_PRIO_TAG 0xbeffu
#define VSPAN_TC_PRIO_UNTAG 0xbf05u
#define VSPAN_TC_TAG_NAME "vspan-tag-"       /* + the VLAN ID */
#define VSPAN_TC_UNTAG_NAME "vspan-untag"
/* Inline NICs: on the tap, one direct-action filter before everything of
 * vspan's on each hook, and one after them on ingress; on the appliance's
 * ports, one on ingress. */
#define VSPAN_TC_PRIO_INLINE_FIRST 0xbefeu
#define VSPAN_TC_PRIO_INLINE_LAST 0xbf06u
#define VSPAN_TC_INLINE_NAME "vspan-inline-"    /* + the appliance's name */

typedef enum {
    VSPAN_OP_SINK_ENSURE,       /* create/verify the appliance's sink device */
    VSPAN_OP_QDISC_ENSURE,      /* clsact on the tap, or reuse its ingress + root */
    VSPAN_OP_MIRROR_SET,        /* add or re-point the filter of one hook */
    VSPAN_OP_MIRROR_DEL,        /* remove vspan's filter of one hook */
    VSPAN_OP_SELECT_SET,        /* add or replace one rule's cls_bpf filter */
    VSPAN_OP_SELECT_DEL,        /* remove one rule's cls_bpf filter */
    VSPAN_OP_TAG_SET,           /* copies of one hook carry the bridge's tag */
    VSPAN_OP_TAG_DEL,           /* they carry none */
    VSPAN_OP_VF_SET,            /* set every VF field, then read back */
    VSPAN_OP_VF_RESET,          /* safe defaults, if the lease is still the domain's */
    VSPAN_OP_INLINE_SET,        /* the tap's frames pass through an inline appliance */
    VSPAN_OP_INLINE_DEL,        /* they no longer do (the tap may be gone) */
    VSPAN_OP_LAST
} VspanOpType;
VSPAN_ENUM_DECL(VspanOpType, op_type);

/* QDISC_ENSURE: what vspan may add to a tap that has no ingress-side qdisc.
 * libvirt's <bandwidth> replaces its qdiscs (domiftune, update-device) with
 * `tc qdisc add`, which fails beside any ingress-side qdisc of vspan's. */
typedef enum {
    VSPAN_QDISC_CLSACT,     /* no <bandwidth>: clsact (both hooks) */
    VSPAN_QDISC_INGRESS,    /* <inbound> only: a plain ingress qdisc; to-VM
                             * filters go on libvirt's htb root */
    VSPAN_QDISC_LIBVIRT,    /* <outbound>: libvirt's ingress qdisc only; vspan
                             * adds none, it waits for libvirt's */
} VspanQdiscMode;

typedef struct {
    VspanOpType type;
    char *dev;                  /* tap, sink device or PF */
    VspanHook hook;
    guint prio;
    VspanClassifier classifier;
    GStrv sinks;                /* MIRROR_SET: sink devices, appliance order;
                                 * SELECT_SET: the one sink */
    guint handle;               /* SELECT_*: the rule's filter handle */
    GBytes *program;            /* SELECT_SET: classic BPF (struct sock_filter[]), or */
    char *ebpf;                 /* SELECT_SET: the <program> it runs */
    guint vlan;                 /* TAG_SET: the <bridge-tag> VLAN */
    VspanQdiscMode qdisc;       /* QDISC_ENSURE */
    const VspanAppliance *appliance;    /* SINK_ENSURE, INLINE_SET; borrowed from the config */
    char mac[18];               /* INLINE_SET: the VM's MAC, the only source its frames may carry */
    char *pci;                  /* VF ops */
    guint vf;
    VspanVfSettings vf_settings;
    char *domain_uuid;          /* VF ops */
} VspanOp;

/* One interface mirrored to one appliance (DESIGN.md's plan JSON "mirrors"). */
typedef struct {
    char *mac;
    char *tap;                  /* NULL before libvirt made it (prepare) */
    char *appliance;
    VspanDirection direction;
    char *filter;               /* NULL: every frame */
    guint sample;               /* 0: every selected frame */
    char *ebpf;                 /* the <program> it runs, NULL: none */
    GBytes *program;            /* classic BPF; NULL for every frame or an eBPF rule */
    gboolean program_live;      /* compiled with the kernel's VLAN extensions */
} VspanPlanMirror;

/* One VF of the domain with the settings vspan gives it ("vfs"). */
typedef struct {
    char *mac;
    char *pci;                  /* NULL before libvirt picked the VF (prepare) */
    char *pf;                   /* NULL when the PCI address is not resolved */
    int vf;                     /* -1 when not resolved */
    char *pool;                 /* NULL when not known */
    VspanVfSettings settings;
} VspanPlanVf;

/* A NIC a "mirror all" rule cannot copy ("unmonitored"). */
typedef struct {
    char *mac;                  /* NULL when the interface has none */
    char *type;                 /* its <interface type>, as written */
    const char *why;            /* static text */
} VspanPlanUnmonitored;

typedef struct {
    VspanPhase phase;
    char *domain_name;
    char *domain_uuid;
    GPtrArray *mirrors;         /* of VspanPlanMirror */
    GPtrArray *vfs;             /* of VspanPlanVf */
    GPtrArray *unmonitored;     /* of VspanPlanUnmonitored */
    GPtrArray *ops;             /* of VspanOp, in execution order */
    GPtrArray *errors;          /* of char*: each one sentence */
    GPtrArray *warnings;        /* of char* */
    gboolean needs_agent;       /* the domain needs vspan for anything */
} VspanPlan;

VspanPlan *vspan_plan_build(VspanPhase phase, const VspanDomain *dom, const VspanConfig *config,
                            const VspanObserved *obs);
void vspan_plan_free(VspanPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanPlan, vspan_plan_free)

/* Errors refuse prepare and start; in every other phase they are warnings. */
gboolean vspan_plan_refuses(const VspanPlan *plan);

/* Stable text form (golden files, `vspanctl plan`). */
char *vspan_op_format(const VspanOp *op);
char *vspan_plan_format_text(const VspanPlan *plan);
/* The classic BPF program of each selecting rule, as tcpdump -d prints it. */
char *vspan_plan_format_programs(const VspanPlan *plan);
/* DESIGN.md's JSON: {"phase","domain","mirrors","vfs","ops","warnings","errors"}. */
char *vspan_plan_format_json(const VspanPlan *plan);
