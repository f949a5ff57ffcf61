/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspand"

/* VF leases: a pool VF belongs to the domain that last started on it, with
 * a generation that grows with every lease handed out.  A stop resets a VF
 * only while the lease is still that domain's: libvirt may have handed the
 * VF to the next domain before the old one's release hook arrives. */

#include "vspan-agent-priv.h"
#include "vspan-log.h"

void
vspan_leases_filter_resets(VspanState *state, VspanPlan *plan, const VspanDomain *dom)
{
    for (guint i = 0; i < plan->ops->len;) {
        const VspanOp *op = plan->ops->pdata[i];
        g_autofree char *key = op->type == VSPAN_OP_VF_RESET ? vspan_lease_key(op->dev, op->vf) : NULL;
        const VspanLease *l = key ? g_hash_table_lookup(state->leases, key) : NULL;

        if (l && !g_str_equal(l->uuid, dom->uuid)) {
            g_message("VF %u of '%s' belongs to domain '%s' now (lease %" G_GUINT64_FORMAT "); not resetting it for '%s'",
                      op->vf, op->dev, l->name, l->generation, dom->name);
            g_ptr_array_remove_index(plan->ops, i);
            continue;
        }
        i++;
    }
}

void
vspan_leases_record(VspanState *state, const VspanPlan *plan, const VspanDomain *dom)
{
    for (guint i = 0; i < plan->vfs->len; i++) {
        const VspanPlanVf *v = plan->vfs->pdata[i];
        g_autofree char *key = NULL;
        const VspanLease *l;

        if (!v->pf || !v->pool || v->vf < 0)
            continue;
        key = vspan_lease_key(v->pf, v->vf);
        l = g_hash_table_lookup(state->leases, key);
        if (!l || !g_str_equal(l->uuid, dom->uuid))
            vspan_state_lease(state, v->pf, v->vf, dom->uuid, dom->name);
    }
}

void
vspan_leases_drop(VspanState *state, VspanHost *host, const char *uuid, const char *why)
{
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, state->leases);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const VspanLease *l = v;
        g_autoptr(GError) error = NULL;
        VspanOp op = { .type = VSPAN_OP_VF_RESET, .dev = l->pf, .vf = l->vf };

        if (!g_str_equal(l->uuid, uuid))
            continue;
        if (host) {
            vspan_vf_settings_init_default(&op.vf_settings);
            if (!host->klass->vf_reset(host, &op, &error))
                g_warning("cannot reset VF %u of '%s' (%s): %s", l->vf, l->pf, why, error->message);
            else
                vspan_log_event(G_LOG_LEVEL_INFO, &(VspanLogFields){ .op = "vf-reset" },
                                "reset VF %u of '%s' to safe defaults (%s)", l->vf, l->pf, why);
        }
        g_hash_table_iter_remove(&it);
    }
}

void
vspan_leases_observe(const VspanState *state, VspanObserved *obs)
{
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, state->leases);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const VspanLease *l = v;
        vspan_observed_add_lease(obs, l->pf, l->vf, l->uuid);
    }
}
