/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-enums.h"
#include "vspan-netlink.h"
#include "vspan-plan.h"

/* Marks every mirred action vspan creates, so its filters are told apart
 * from anyone else's at the same priority (TCA_ACT_COOKIE, 16 bytes max). */
#define VSPAN_TC_COOKIE "vspan/1"

/* Where vspan's filters go on one device. */
typedef struct {
    VspanQdiscState state;              /* CLSACT, or INGRESS when libvirt's <bandwidth> is there */
    guint32 parent[VSPAN_HOOK_LAST];    /* 0: this hook cannot take a filter */
} VspanTcAttach;

typedef struct {
    guint32 ifindex;                    /* the sink */
    guint32 action;                     /* TC_ACT_PIPE, TC_ACT_UNSPEC, ... */
    gboolean cookie_ok;
    guint64 packets;
    guint64 bytes;
    guint64 drops;                      /* copies lost: drops + overlimits */
} VspanTcAction;

typedef struct {
    VspanHook hook;
    guint32 parent;
    guint32 prio;
    guint32 handle;
    char kind[16];
    gboolean ours;                      /* every action is a vspan mirred */
    GArray *actions;                    /* of VspanTcAction */
    GBytes *ops;                        /* cls_bpf classic program, else NULL */
    guint32 prog_id;                    /* cls_bpf eBPF program, else 0 */
    char name[64];                      /* cls_bpf: TCA_BPF_NAME */
} VspanTcFilter;

void vspan_tc_filter_free(VspanTcFilter *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanTcFilter, vspan_tc_filter_free)

guint32 vspan_tc_prio(VspanHook hook);
guint32 vspan_tc_select_prio(VspanHook hook);

/* vspan's priorities: inline (48894) and copy-tag (48895) up to copy-untag
 * (48901) and inline (48902), the mirror (48896/48897) and select
 * (48898/48899) ones and the shaper's between. */
static inline gboolean
vspan_tc_prio_is_vspans(guint32 prio)
{
    return prio >= VSPAN_TC_PRIO_INLINE_FIRST && prio <= VSPAN_TC_PRIO_INLINE_LAST;
}

/* Find where filters can go without changing anything. */
gboolean vspan_tc_probe(VspanNl *nl, int ifindex, VspanTcAttach *at, GError **error);

/* As probe, adding clsact (with its explicit handle, so an existing ingress
 * qdisc is never replaced) when the device has neither clsact nor ingress;
 * a plain ingress qdisc where @mode says libvirt shapes the tap's root; none
 * where libvirt owns its ingress (an error says vspan waits for it).
 * *created says whether vspan added one. */
gboolean vspan_tc_attach(VspanNl *nl, int ifindex, const char *dev, VspanQdiscMode mode, VspanTcAttach *at,
                         gboolean *created, GError **error);

/* Remove clsact when vspan created it and no filter is left on it. */
gboolean vspan_tc_detach(VspanNl *nl, int ifindex, const char *dev, GError **error);

/* Every filter at vspan's mirror, select, tag and inline priorities on
 * both hooks (ours or not). */
GPtrArray *vspan_tc_dump(VspanNl *nl, int ifindex, const VspanTcAttach *at, GError **error);
/* All filters of one hook, any priority (for tests and doctor). */
GPtrArray *vspan_tc_dump_hook(VspanNl *nl, int ifindex, guint32 parent, VspanHook hook,
                              gboolean only_vspan_prio, GError **error);

/* Make the hook's vspan filter copy every frame to @sinks (in order):
 * add it, or re-point it in place.  *cls AUTO probes matchall once and
 * falls back to u32 where the kernel lacks it (ENOENT); the choice is
 * written back.  Refuses to touch a foreign filter at vspan's priority. */
gboolean vspan_tc_mirror_set(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                             VspanHook hook, VspanClassifier *cls, const guint32 *sinks,
                             guint n_sinks, GError **error);

gboolean vspan_tc_mirror_del(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                             VspanHook hook, GError **error);

/* Read back: the hook's vspan filter exists and points at exactly @sinks. */
gboolean vspan_tc_mirror_verify(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                                VspanHook hook, const guint32 *sinks, guint n_sinks, GError **error);

/* One rule that selects: a cls_bpf filter at the hook's select priority
 * with handle @handle, copying what its program selects to @sink: classic
 * BPF @ops, or the loaded eBPF program @prog_fd (kernel id @prog_id,
 * shown as @name).  Added, or replaced in place (cls_bpf swaps the program
 * under RCU), then read back. */
typedef struct {
    GBytes *ops;
    int prog_fd;
    guint32 prog_id;
    const char *name;
} VspanTcProgram;

gboolean vspan_tc_select_set(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                             VspanHook hook, guint32 handle, guint32 sink,
                             const VspanTcProgram *prog, GError **error);
/* Remove rule @handle, or every rule of the hook when @handle is 0. */
gboolean vspan_tc_select_del(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                             VspanHook hook, guint32 handle, GError **error);

/* One of vspan's direct-action cls_bpf filters (handle 1): a sink's
 * shaper (VSPAN_TC_SHAPE_NAME at VSPAN_TC_PRIO_SHAPE on its egress), a
 * tagged hook's copy-tag (VSPAN_TC_TAG_NAME + VLAN at VSPAN_TC_PRIO_TAG)
 * and copy-untag (VSPAN_TC_UNTAG_NAME at VSPAN_TC_PRIO_UNTAG). */
typedef struct {
    const char *dev;
    VspanHook hook;
    guint32 prio;
    const char *name;           /* as found; a prefix when it ends in '-' */
    const char *what;           /* for messages: "shape the copies of sink 'x'" */
} VspanTcDa;

/* Added as @name running @prog_fd (id @prog_id), or replaced in place,
 * then read back. */
gboolean vspan_tc_da_set(VspanNl *nl, int ifindex, const VspanTcAttach *at, const VspanTcDa *da,
                         const char *name, int prog_fd, guint32 prog_id, GError **error);
/* The id of the program the direct-action filter @name (a prefix when it
 * ends in '-') at @prio of @hook runs in @filters (a dump), 0: none. */
guint32 vspan_tc_da_find_id(GPtrArray *filters, VspanHook hook, guint32 prio, const char *name);
/* The id of the program it runs, 0 when there is none. */
guint32 vspan_tc_da_id(VspanNl *nl, int ifindex, const VspanTcAttach *at, const VspanTcDa *da);
gboolean vspan_tc_da_del(VspanNl *nl, int ifindex, const VspanTcAttach *at, const VspanTcDa *da,
                         GError **error);
/* The bridge tag the copy-tag filter in @filters (a dump) gives the
 * copies of @hook, 0: none. */
guint vspan_tc_tag_of(GPtrArray *filters, VspanHook hook);
