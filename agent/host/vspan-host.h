/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-plan.h"

/*
 * The host: every kernel and sysfs object the agent reads or changes, behind
 * one interface (NetworkManager's platform layer and its fake are the
 * model).  The Linux host (vspan-host-linux.c) speaks netlink and reads
 * sysfs; the fake host of the unit tests (tests/fake-host.c) keeps links,
 * filters and VFs in memory and records every write.  The agent gets its
 * host at construction and reaches the kernel through nothing else.
 *
 * Writes verify what they set by reading it back.
 */
typedef struct VspanHost VspanHost;

/* One mirred action of a vspan filter, as read back from the kernel. */
typedef struct {
    VspanHook hook;
    char *sink;                 /* device name; "" when that ifindex is gone */
    guint64 packets, bytes, drops;
    guint handle;               /* a rule that selects: its filter handle; 0: match-all */
    GBytes *program;            /* a rule that selects: its classic BPF program */
    char *ebpf;                 /* or the <program> it runs; NULL when none or unknown */
    guint tag;                  /* the <bridge-tag> VLAN its copies get; 0: none */
} VspanHostCopy;

void vspan_host_copy_free(VspanHostCopy *c);

/* What became of the copies at one sink. */
typedef struct {
    gboolean shaped;            /* the sink has vspan's shaper */
    guint64 sent;               /* copies the sink sent on (to the appliance, the wire, the tunnel) */
    guint64 truncated;          /* of them, cut to snaplen */
    guint64 rate_dropped;       /* dropped by max-rate */
    guint64 unread_dropped;     /* dropped by the device: the appliance was not reading */
} VspanSinkStats;

/* An inline appliance as its programs see it (VSPAN_INLINE_* from
 * vspan-bpf-params.h). */
typedef struct {
    guint state;                /* VSPAN_INLINE_THROUGH, _BYPASS, _BLOCK */
    guint vms;                  /* taps passing it */
    guint64 counters[9];        /* VSPAN_INLINE_TO_APPLIANCE ... (VSPAN_INLINE_COUNTERS) */
    guint64 canary[2];          /* the last canary back: sent into the VM side, into the net side */
} VspanInlineStats;

typedef struct {
    /* ---- reads ---- */
    /* > 0, or 0 when @dev does not exist */
    int (*ifindex)(VspanHost *self, const char *dev);
    gboolean (*carrier)(VspanHost *self, const char *dev);
    /* its MTU, 0 when @dev does not exist */
    guint (*mtu)(VspanHost *self, const char *dev);
    /* whether @dev takes TCP segmentation offload (on a tap: the guest's
     * virtio NIC negotiated it, so super-frames reach the guest whole) */
    gboolean (*tso)(VspanHost *self, const char *dev);
    /* vspan's mirred actions on @dev in filter and action order (GPtrArray
     * of VspanHostCopy); empty when @dev is gone, NULL on error */
    GPtrArray *(*copies)(VspanHost *self, const char *dev, GError **error);
    /* PCI address -> PF name and VF index */
    gboolean (*vf_lookup)(VspanHost *self, const VspanPciAddr *pci, char **pf, guint *vf);
    /* enabled VFs of @pf, -1 when it is no SR-IOV PF */
    int (*numvfs)(VspanHost *self, const char *pf);
    /* VFs @pf can have, -1 when not known */
    int (*totalvfs)(VspanHost *self, const char *pf);
    /* TRUE when the VF reads back as @op would set it */
    gboolean (*vf_matches)(VspanHost *self, const VspanOp *op);

    /* ---- writes ---- */
    gboolean (*sink_ensure)(VspanHost *self, const VspanAppliance *appliance, const char *dev,
                            GError **error);
    /* clsact on @dev, or its ingress + root; adds @dev to created_clsact
     * when vspan added the qdisc */
    gboolean (*qdisc_ensure)(VspanHost *self, const char *dev, VspanQdiscMode mode, GError **error);
    gboolean (*mirror_set)(VspanHost *self, const char *dev, VspanHook hook,
                           VspanClassifier classifier, const char *const *sinks, GError **error);
    gboolean (*mirror_del)(VspanHost *self, const char *dev, VspanHook hook, GError **error);
    /* one rule that selects: copy what @program (classic BPF) or the
     * <program> named @ebpf passes to @sink */
    gboolean (*select_set)(VspanHost *self, const char *dev, VspanHook hook, guint handle,
                           const char *sink, GBytes *program, const char *ebpf, GError **error);
    /* @dev's copy counters; FALSE when it does not exist */
    gboolean (*sink_stats)(VspanHost *self, const char *dev, VspanSinkStats *st);
    /* load the host config's <program>s (and drop the others) */
    void (*programs_sync)(VspanHost *self, GPtrArray *defs);
    /* why <program> @name did not load, NULL when it did */
    const char *(*program_error)(VspanHost *self, const char *name);
    /* rule @handle, or every rule of @hook when 0 */
    gboolean (*select_del)(VspanHost *self, const char *dev, VspanHook hook, guint handle,
                           GError **error);
    /* mark every copy of @dev's @hook for the bridge tag @vlan (replacing
     * another), or no more */
    gboolean (*tag_set)(VspanHost *self, const char *dev, VspanHook hook, guint vlan, GError **error);
    gboolean (*tag_del)(VspanHost *self, const char *dev, VspanHook hook, GError **error);
    /* ---- inline appliances ---- */
    /* the programs of inline appliance @a on its ports (loaded at first
     * use); FALSE when a port does not exist */
    gboolean (*inline_ports)(VspanHost *self, const VspanAppliance *a, GError **error);
    /* the inline appliance whose current programs @dev's frames pass, NULL when none */
    char *(*inline_of)(VspanHost *self, const char *dev);
    /* @dev's frames pass @appliance (whose ports sink_ensure set up) under
     * a tag of their own; @mac is the only source accepted back */
    gboolean (*inline_set)(VspanHost *self, const char *dev, const VspanAppliance *appliance,
                           const char *mac, GError **error);
    /* they do not, and the tag is free again (@dev may be gone) */
    gboolean (*inline_del)(VspanHost *self, const char *dev, GError **error);
    /* through the appliance, around it or dropped (VSPAN_INLINE_*);
     * FALSE when its programs are not loaded */
    gboolean (*inline_state_set)(VspanHost *self, const char *appliance, guint state);
    gboolean (*inline_stats)(VspanHost *self, const char *appliance, VspanInlineStats *st);
    /* send canary @seq into both ports of @appliance */
    void (*inline_canary)(VspanHost *self, const char *appliance, guint64 seq);

    gboolean (*vf_set)(VspanHost *self, const VspanOp *op, GError **error);
    gboolean (*vf_reset)(VspanHost *self, const VspanOp *op, GError **error);
    gboolean (*link_up)(VspanHost *self, const char *dev, GError **error);
    gboolean (*numvfs_set)(VspanHost *self, const char *pf, guint n, GError **error);

    void (*free)(VspanHost *self);
} VspanHostClass;

struct VspanHost {
    const VspanHostClass *klass;
    /* what the kernel offered once a filter was added: MATCHALL or U32 */
    VspanClassifier classifier;
    /* taps on which vspan added the clsact qdisc (only those may lose it) */
    GHashTable *created_clsact;
};

/* Base-struct set-up and tear-down for implementations (their free()
 * calls vspan_host_finish()). */
void vspan_host_init(VspanHost *host, const VspanHostClass *klass);
void vspan_host_finish(VspanHost *host);
void vspan_host_free(VspanHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanHost, vspan_host_free)

/* Add what vspan holds on @tap (its match-all mirrors and its rules that
 * select) to @obs; a tap that is gone adds nothing. */
gboolean vspan_host_observe_tap(VspanHost *host, const char *tap, VspanObserved *obs,
                                GError **error);

/* ---- the Linux host --------------------------------------------------- */

VspanHost *vspan_linux_host_new(GError **error);

/* Remove every vspan filter from @dev, and the clsact qdisc if vspan added
 * it and nothing else uses it: the tap is left as it was. */
gboolean vspan_linux_host_release(VspanHost *host, const char *dev, GError **error);

struct VspanNl *vspan_linux_host_nl(VspanHost *host);
