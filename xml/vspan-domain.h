/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-enums.h"
#include "vspan-xml.h"

/* libvirt's <bandwidth> of an interface: which qdiscs libvirt puts on its
 * tap (and replaces on domiftune / update-device) */
typedef enum {
    VSPAN_BANDWIDTH_INBOUND = 1 << 0,   /* <inbound>: htb at the tap's root (to the VM) */
    VSPAN_BANDWIDTH_OUTBOUND = 1 << 1,  /* <outbound>: an ingress qdisc with a police filter */
} VspanBandwidth;

/* One <interface> of a live libvirt domain XML. */
typedef struct {
    VspanIfaceType type;
    char *type_str;         /* as written, for messages */
    char mac[18];           /* canonical, "" when absent */
    char *alias;            /* <alias name> */
    char *target;           /* <target dev>: the tap, once libvirt made it */
    char *bridge;           /* <source bridge> (bridge, and network at start) */
    char *network;          /* <source network> */
    char *source_dev;       /* <source dev> (direct) */
    GArray *vlan_tags;      /* of guint, from <vlan><tag id> */
    gboolean vlan_trunk;
    guint bandwidth;        /* VspanBandwidth flags */
    gboolean has_pci;
    VspanPciAddr pci;       /* hostdev interfaces: <source><address type='pci'> */
    long line;
} VspanIface;

/* A <hostdev mode='subsystem' type='pci'>. */
typedef struct {
    VspanPciAddr pci;
    char *alias;
    long line;
} VspanHostdev;

/* <vspan:mirror> */
typedef struct {
    char *appliance;
    char mac[18];           /* "" when not given */
    char *alias;
    VspanDirection direction;
    VspanSelect select;     /* filter=, sample= */
    char *where;            /* message prefix naming the element */
} VspanMirrorReq;

/* <vspan:inline>: the NIC's frames pass through an inline appliance */
typedef struct {
    char *appliance;
    char mac[18];           /* "" when not given: every NIC that can be */
    char *alias;
    char *where;
} VspanInlineReq;

/* Every field of a VF that vspan owns; no "unset": unrequested means default. */
typedef struct {
    char mac[18];               /* "" leaves the MAC as libvirt set it */
    guint vlan;
    guint qos;
    VspanVlanProto proto;
    VspanSwitch trust;
    VspanSwitch spoofchk;
    VspanLinkState link_state;
    guint min_tx_rate;          /* Mbit/s */
    guint max_tx_rate;
} VspanVfSettings;

/* trust off, spoofchk on, link auto, no VLAN, no rate limits */
void vspan_vf_settings_init_default(VspanVfSettings *s);

/* <vspan:vf>: the settings asked for (defaults where not given); has_*
 * says which attributes were written. */
typedef struct {
    char mac[18];               /* which interface (or alias) */
    char *alias;
    char *where;
    gboolean has_vlan, has_qos, has_proto;
    VspanVfSettings set;
} VspanVfReq;

typedef struct {
    grefcount ref;
    char *name;
    char *uuid;             /* "" when absent (offline XML) */
    GPtrArray *ifaces;      /* of VspanIface, document order */
    GPtrArray *hostdevs;    /* of VspanHostdev */
    gboolean annotated;     /* a <vspan:domain> element is present */
    GPtrArray *mirrors;     /* of VspanMirrorReq */
    GPtrArray *inlines;     /* of VspanInlineReq */
    GPtrArray *vfs;         /* of VspanVfReq */
    GHashTable *by_mac;     /* canonical MAC -> VspanIface (borrowed) */
    GHashTable *by_alias;   /* alias -> VspanIface (borrowed) */
} VspanDomain;

VspanDomain *vspan_domain_parse(const char *buf, gsize len, const char *name, GError **error);
/* A parsed domain is immutable and shared (the agent keeps the one a hook
 * parsed as its record): free drops one reference. */
VspanDomain *vspan_domain_ref(VspanDomain *dom);
void vspan_domain_free(VspanDomain *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanDomain, vspan_domain_free)

/* Interface lookups by canonical MAC or alias; NULL when none matches. */
VspanIface *vspan_domain_find_iface_by_mac(const VspanDomain *dom, const char *mac);
VspanIface *vspan_domain_find_iface_by_alias(const VspanDomain *dom, const char *alias);

/* Interfaces with a tap on a Linux bridge path: bridge, network (not
 * hostdev-backed), ethernet. */
gboolean vspan_iface_is_mirrorable(const VspanIface *iface);
/* The tc hook of the interface's host device that sees the frames the VM
 * sends (the other hook sees those it receives). */
VspanHook vspan_iface_from_vm_hook(const VspanIface *iface);

/* "52:54:00:00:00:01 (net0)" for messages. */
char *vspan_iface_describe(const VspanIface *iface);
