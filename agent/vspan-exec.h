/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-plan.h"

/*
 * The executor applies a plan's operations in order through a backend: the
 * Linux one talks netlink (vspan-exec-linux.c), a recording fake serves the
 * unit tests.  Backends verify what they set by reading it back.
 */
typedef struct VspanBackend VspanBackend;

typedef struct {
    gboolean (*sink_ensure)(VspanBackend *self, const VspanAppliance *appliance, const char *dev,
                            GError **error);
    gboolean (*qdisc_ensure)(VspanBackend *self, const char *dev, GError **error);
    gboolean (*mirror_set)(VspanBackend *self, const char *dev, VspanHook hook,
                           VspanClassifier classifier, const char *const *sinks, GError **error);
    gboolean (*mirror_del)(VspanBackend *self, const char *dev, VspanHook hook, GError **error);
    gboolean (*vf_set)(VspanBackend *self, const VspanOp *op, GError **error);      /* optional */
    gboolean (*vf_reset)(VspanBackend *self, const VspanOp *op, GError **error);    /* optional */
    /* TRUE when the VF reads back as @op would set it (optional) */
    gboolean (*vf_matches)(VspanBackend *self, const VspanOp *op);
    void (*free)(VspanBackend *self);
} VspanBackendClass;

struct VspanBackend {
    const VspanBackendClass *klass;
};

void vspan_backend_free(VspanBackend *backend);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanBackend, vspan_backend_free)

/* Apply @plan.  A refused plan is an error and changes nothing; otherwise
 * operations run in order and the first failure stops the run. */
gboolean vspan_exec_apply(VspanBackend *backend, const VspanPlan *plan, GError **error);

/* ---- the Linux backend -------------------------------------------------- */

VspanBackend *vspan_linux_backend_new(GError **error);

/* What the kernel offered: MATCHALL or U32 once a filter was added. */
VspanClassifier vspan_linux_backend_classifier(VspanBackend *backend);

/* Remove both vspan filters from @dev, and the clsact qdisc if vspan added
 * it and nothing else uses it: the tap is left as it was. */
gboolean vspan_linux_backend_release(VspanBackend *backend, const char *dev, GError **error);

/* Tell the backend that vspan added the clsact on @dev earlier (restored
 * from the agent's state), so a release may remove it again. */
void vspan_linux_backend_mark_created(VspanBackend *backend, const char *dev);

/* The set of taps on which vspan added clsact (owned by the backend). */
GHashTable *vspan_linux_backend_created_set(VspanBackend *backend);

/* Add to @obs the vspan filters found on tap @dev (sinks by name). */
gboolean vspan_linux_backend_observe_tap(VspanBackend *backend, const char *dev,
                                         VspanObserved *obs, GError **error);

/* Per-action counters of the vspan filters on @dev: GPtrArray of VspanTcFilter. */
GPtrArray *vspan_linux_backend_filters(VspanBackend *backend, const char *dev, GError **error);

struct VspanNl *vspan_linux_backend_nl(VspanBackend *backend);
