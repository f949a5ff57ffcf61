/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-enums.h"
#include "vspan-xml.h"

/*
 * What the agent saw of the host before planning: the planner's only view of
 * the world.  vspand fills it from netlink, sysfs and libvirt; tests and
 * `vspanctl plan --observed FILE` read it from a small XML file:
 *
 *   <observed classifier="u32">
 *     <mirror dev="vnet0" hook="ingress" sinks="vspan-ids-a"/>
 *     <select dev="vnet0" hook="ingress" handle="2" sink="vspan-ids-b" program="HEX"/>
 *     <select dev="vnet0" hook="egress" handle="3" sink="eno3" ebpf="flow-head"/>
 *     <tag dev="vnet0" hook="ingress" vlan="100"/>
 *     <inline dev="vnet0" appliance="ips-a"/>
 *     <program-error name="bad" error="the kernel refused it: ..."/>
 *     <vf pci="0000:3b:02.1" pf="ens2f0" vf="1"/>
 *     <appliance-port appliance="ids-b" dev="vnet7"/>
 *     <pool name="x710" free="0"/>
 *     <lease pf="ens2f0" vf="3" domain="UUID"/>
 *   </observed>
 */

/* A vspan filter found on a tap. */
typedef struct {
    char *dev;
    VspanHook hook;
    GStrv sinks;        /* sink devices of its mirred actions, in order */
} VspanObservedMirror;

/* A vspan selective filter (cls_bpf, one rule) found on a tap. */
typedef struct {
    char *dev;
    VspanHook hook;
    guint handle;
    char *sink;         /* "" when its ifindex is gone */
    char *program;      /* hex of its classic BPF program; NULL when not known */
    char *ebpf;         /* the <program> it runs (eBPF); NULL when none or unknown */
} VspanObservedSelect;

/* sysfs: PCI address -> PF netdev + VF index. */
typedef struct {
    VspanPciAddr pci;
    char *pf;
    guint vf;
} VspanObservedVf;

typedef struct {
    char *pf;
    guint vf;
    char *domain_uuid;
} VspanObservedLease;

typedef struct {
    VspanClassifier classifier;
    GHashTable *mirrors;            /* "dev/hook" -> VspanObservedMirror */
    GPtrArray *selects;             /* of VspanObservedSelect */
    GHashTable *tags;               /* "dev/hook" -> GUINT_TO_POINTER(bridge-tag VLAN) */
    GHashTable *inline_ports;       /* tap -> the inline appliance its frames pass */
    GHashTable *program_errors;     /* <program> name -> why it did not load */
    gboolean vf_map_known;          /* FALSE: PCI addresses cannot be resolved (offline) */
    GPtrArray *vfs;                 /* of VspanObservedVf */
    GHashTable *appliance_ports;    /* appliance name -> tap of its interface sink */
    GHashTable *pool_free;          /* pool name -> GUINT_TO_POINTER(free + 1) */
    GPtrArray *leases;              /* of VspanObservedLease */
} VspanObserved;

VspanObserved *vspan_observed_new(void);
void vspan_observed_free(VspanObserved *obs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanObserved, vspan_observed_free)

VspanObserved *vspan_observed_parse(const char *buf, gsize len, const char *name, GError **error);
VspanObserved *vspan_observed_load(const char *path, GError **error);

void vspan_observed_add_mirror(VspanObserved *obs, const char *dev, VspanHook hook,
                               const char *const *sinks);
const VspanObservedMirror *vspan_observed_find_mirror(const VspanObserved *obs, const char *dev,
                                                      VspanHook hook);
void vspan_observed_add_select(VspanObserved *obs, const char *dev, VspanHook hook, guint handle,
                               const char *sink, const char *program_hex, const char *ebpf);
/* The selective filters of @dev (borrowed), in the order observed. */
GPtrArray *vspan_observed_find_selects(const VspanObserved *obs, const char *dev);
/* The bridge tag vspan's copy-tag filter gives copies of @dev's @hook. */
void vspan_observed_set_tag(VspanObserved *obs, const char *dev, VspanHook hook, guint vlan);
/* 0: none */
guint vspan_observed_get_tag(const VspanObserved *obs, const char *dev, VspanHook hook);
void vspan_observed_add_vf(VspanObserved *obs, const VspanPciAddr *pci, const char *pf, guint vf);
const VspanObservedVf *vspan_observed_find_vf(const VspanObserved *obs, const VspanPciAddr *pci);
void vspan_observed_set_pool_free(VspanObserved *obs, const char *pool, guint free_vfs);
/* Returns FALSE when the number of free VFs of @pool is not known. */
gboolean vspan_observed_get_pool_free(const VspanObserved *obs, const char *pool, guint *free_vfs);
void vspan_observed_add_lease(VspanObserved *obs, const char *pf, guint vf, const char *uuid);
