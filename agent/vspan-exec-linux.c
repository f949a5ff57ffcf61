/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-exec"

#include <net/if.h>

#include "vspan-exec.h"
#include "vspan-link.h"
#include "vspan-tc.h"
#include "vspan-vf.h"

typedef struct {
    VspanBackend parent;
    VspanNl *nl;
    VspanClassifier classifier;     /* probed once, then remembered */
    GHashTable *created_clsact;     /* tap names where vspan added clsact */
} VspanLinuxBackend;

static int
vspan_linux_resolve(const char *dev, const char *role, GError **error)
{
    int ifindex = vspan_link_ifindex(dev);

    if (ifindex <= 0)
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND,
                    "Cannot mirror: %s '%s' does not exist%s", role, dev,
                    g_str_equal(role, "tap") ? "; the domain's interface is gone or not started"
                                             : "; check the appliance's sink");
    return ifindex;
}

static gboolean
vspan_linux_sink_ensure(VspanBackend *b, const VspanAppliance *a, const char *dev, GError **error)
{
    VspanLinuxBackend *self = (VspanLinuxBackend *)b;
    int ifindex;

    return vspan_sink_ensure(self->nl, a, dev, &ifindex, error);
}

/* Where filters go on @dev, adding clsact if it has neither clsact nor
 * ingress, and remembering that vspan added it. */
static gboolean
vspan_linux_attach(VspanLinuxBackend *self, int ifindex, const char *dev, VspanTcAttach *at,
                   GError **error)
{
    gboolean created = FALSE;

    if (!vspan_tc_attach(self->nl, ifindex, dev, at, &created, error))
        return FALSE;
    if (created)
        g_hash_table_add(self->created_clsact, g_strdup(dev));
    return TRUE;
}

static gboolean
vspan_linux_qdisc_ensure(VspanBackend *b, const char *dev, GError **error)
{
    VspanTcAttach at;
    int ifindex = vspan_linux_resolve(dev, "tap", error);

    return ifindex > 0 && vspan_linux_attach((VspanLinuxBackend *)b, ifindex, dev, &at, error);
}

static gboolean
vspan_linux_mirror_set(VspanBackend *b, const char *dev, VspanHook hook, VspanClassifier cls,
                       const char *const *sinks, GError **error)
{
    VspanLinuxBackend *self = (VspanLinuxBackend *)b;
    g_autoptr(GArray) idx = g_array_new(FALSE, FALSE, sizeof(guint32));
    VspanTcAttach at;
    int ifindex = vspan_linux_resolve(dev, "tap", error);

    if (ifindex <= 0)
        return FALSE;
    for (const char *const *s = sinks; *s; s++) {
        guint32 si;

        if (g_str_equal(*s, dev)) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_REFUSED,
                        "Cannot mirror '%s' into itself; fix the appliance's sink", dev);
            return FALSE;
        }
        si = vspan_linux_resolve(*s, "sink", error);
        if (si == 0)
            return FALSE;
        g_array_append_val(idx, si);
    }
    if (!vspan_linux_attach(self, ifindex, dev, &at, error))
        return FALSE;
    if (cls == VSPAN_CLASSIFIER_AUTO)
        cls = self->classifier;
    if (!vspan_tc_mirror_set(self->nl, ifindex, dev, &at, hook, &cls,
                             (guint32 *)idx->data, idx->len, error))
        return FALSE;
    if (self->classifier == VSPAN_CLASSIFIER_AUTO)
        self->classifier = cls;
    /* Read back: what the kernel holds is what was planned. */
    return vspan_tc_mirror_verify(self->nl, ifindex, dev, &at, hook, (guint32 *)idx->data,
                                  idx->len, error);
}

static gboolean
vspan_linux_mirror_del(VspanBackend *b, const char *dev, VspanHook hook, GError **error)
{
    VspanLinuxBackend *self = (VspanLinuxBackend *)b;
    VspanTcAttach at;
    int ifindex = vspan_link_ifindex(dev);

    if (ifindex <= 0)
        return TRUE;    /* the tap is gone, and its filters with it */
    return vspan_tc_probe(self->nl, ifindex, &at, error) &&
           vspan_tc_mirror_del(self->nl, ifindex, dev, &at, hook, error);
}

static gboolean
vspan_linux_vf_set(VspanBackend *b, const VspanOp *op, GError **error)
{
    return vspan_vf_set(((VspanLinuxBackend *)b)->nl, op->dev, op->vf, &op->vf_settings, error);
}

static gboolean
vspan_linux_vf_matches(VspanBackend *b, const VspanOp *op)
{
    VspanVfSettings got;
    int ifindex = vspan_link_ifindex(op->dev);

    return ifindex > 0 && vspan_vf_get(((VspanLinuxBackend *)b)->nl, ifindex, op->vf, &got, NULL) &&
           vspan_vf_settings_match(&op->vf_settings, &got);
}

static void
vspan_linux_free(VspanBackend *b)
{
    VspanLinuxBackend *self = (VspanLinuxBackend *)b;

    vspan_nl_close(self->nl);
    g_hash_table_unref(self->created_clsact);
    g_free(self);
}

static const VspanBackendClass vspan_linux_backend_class = {
    .sink_ensure = vspan_linux_sink_ensure,
    .qdisc_ensure = vspan_linux_qdisc_ensure,
    .mirror_set = vspan_linux_mirror_set,
    .mirror_del = vspan_linux_mirror_del,
    /* the plan carries the safe defaults for a reset */
    .vf_set = vspan_linux_vf_set,
    .vf_reset = vspan_linux_vf_set,
    .vf_matches = vspan_linux_vf_matches,
    .free = vspan_linux_free,
};

VspanBackend *
vspan_linux_backend_new(GError **error)
{
    VspanNl *nl = vspan_nl_open(error);
    VspanLinuxBackend *self;

    if (!nl)
        return NULL;
    self = g_new0(VspanLinuxBackend, 1);
    self->parent.klass = &vspan_linux_backend_class;
    self->nl = nl;
    self->classifier = VSPAN_CLASSIFIER_AUTO;
    self->created_clsact = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return &self->parent;
}

VspanClassifier
vspan_linux_backend_classifier(VspanBackend *b)
{
    return ((VspanLinuxBackend *)b)->classifier;
}

VspanNl *
vspan_linux_backend_nl(VspanBackend *b)
{
    return ((VspanLinuxBackend *)b)->nl;
}

void
vspan_linux_backend_mark_created(VspanBackend *b, const char *dev)
{
    g_hash_table_add(((VspanLinuxBackend *)b)->created_clsact, g_strdup(dev));
}

gboolean
vspan_linux_backend_release(VspanBackend *b, const char *dev, GError **error)
{
    VspanLinuxBackend *self = (VspanLinuxBackend *)b;
    int ifindex = vspan_link_ifindex(dev);

    if (ifindex <= 0) {
        g_hash_table_remove(self->created_clsact, dev);
        return TRUE;
    }
    for (VspanHook hook = 0; hook < VSPAN_HOOK_LAST; hook++)
        if (!vspan_linux_mirror_del(b, dev, hook, error))
            return FALSE;
    if (g_hash_table_remove(self->created_clsact, dev))
        return vspan_tc_detach(self->nl, ifindex, dev, error);
    return TRUE;
}

GHashTable *
vspan_linux_backend_created_set(VspanBackend *b)
{
    return ((VspanLinuxBackend *)b)->created_clsact;
}

GPtrArray *
vspan_linux_backend_filters(VspanBackend *b, const char *dev, GError **error)
{
    VspanLinuxBackend *self = (VspanLinuxBackend *)b;
    VspanTcAttach at;
    int ifindex = vspan_link_ifindex(dev);

    if (ifindex <= 0)
        return g_ptr_array_new();
    if (!vspan_tc_probe(self->nl, ifindex, &at, error))
        return NULL;
    return vspan_tc_dump(self->nl, ifindex, &at, error);
}

gboolean
vspan_linux_backend_observe_tap(VspanBackend *b, const char *dev, VspanObserved *obs, GError **error)
{
    VspanLinuxBackend *self = (VspanLinuxBackend *)b;
    g_autoptr(GPtrArray) filters = vspan_linux_backend_filters(b, dev, error);

    if (!filters)
        return FALSE;
    obs->classifier = self->classifier;
    for (guint i = 0; i < filters->len; i++) {
        const VspanTcFilter *f = filters->pdata[i];
        g_autoptr(GPtrArray) sinks = g_ptr_array_new_with_free_func(g_free);

        if (!f->ours)
            continue;
        for (guint j = 0; j < f->actions->len; j++) {
            char name[IF_NAMESIZE] = "";
            guint32 idx = g_array_index(f->actions, VspanTcAction, j).ifindex;
            /* a sink that vanished shows as "" and makes the plan re-point */
            g_ptr_array_add(sinks, g_strdup(if_indextoname(idx, name) ? name : ""));
        }
        g_ptr_array_add(sinks, NULL);
        vspan_observed_add_mirror(obs, dev, f->hook, (const char *const *)sinks->pdata);
    }
    return TRUE;
}
