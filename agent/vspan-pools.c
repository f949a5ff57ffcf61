/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspand"

/* SR-IOV pools on the host: PFs brought up and VFs enabled at start-up and
 * reload; free VFs counted for the prepare check (kept off the start, stop
 * and repair paths: they are sysfs reads only prepare needs). */

#include "vspan-agent-priv.h"

/* Pool PFs: up (libvirt refuses to start a domain on a VF of a PF that is
 * down) and with their VFs enabled.  sriov_numvfs is written only while it
 * is 0: changing it on a PF with VFs would destroy VFs in use. */
void
vspan_pools_ensure(const VspanConfig *config, VspanHost *host)
{
    for (guint i = 0; i < config->pools->len; i++) {
        const VspanPool *pool = config->pools->pdata[i];

        for (guint j = 0; j < pool->pfs->len; j++) {
            const VspanPoolPf *ppf = pool->pfs->pdata[j];
            g_autoptr(GError) error = NULL;
            const VspanRange *last = &g_array_index(ppf->vfs, VspanRange, ppf->vfs->len - 1);
            int numvfs, total;
            guint want = last->hi + 1;

            if (host->klass->ifindex(host, ppf->dev) <= 0) {
                g_warning("pool '%s': PF '%s' does not exist; fix <pf dev> or load its driver", pool->name, ppf->dev);
                continue;
            }
            if (!host->klass->link_up(host, ppf->dev, &error)) {
                g_warning("pool '%s': %s", pool->name, error->message);
                g_clear_error(&error);
            }
            numvfs = host->klass->numvfs(host, ppf->dev);
            if (numvfs < 0) {
                g_warning("pool '%s': '%s' is not an SR-IOV PF (no sriov_numvfs)", pool->name, ppf->dev);
                continue;
            }
            total = host->klass->totalvfs(host, ppf->dev);
            if (total >= 0)
                want = MIN(want, (guint)total);
            else if (ppf->vfs->len == 1 && last->lo == 0 && last->hi == VSPAN_VF_MAX)
                continue;   /* "all VFs" and no total known: nothing to aim for */
            if ((guint)numvfs >= want)
                continue;
            if (numvfs > 0) {
                g_warning("pool '%s' uses VFs up to %u of '%s' but only %d are enabled; raise sriov_numvfs while no VF is in use",
                          pool->name, want - 1, ppf->dev, numvfs);
                continue;
            }
            if (!host->klass->numvfs_set(host, ppf->dev, want, &error))
                g_warning("pool '%s': cannot enable %u VFs on '%s': %s", pool->name, want, ppf->dev, error->message);
            else
                g_message("pool '%s': enabled %u VFs on '%s'", pool->name, want, ppf->dev);
        }
    }
}

void
vspan_pools_observe(const VspanConfig *config, VspanHost *host, const VspanState *state, VspanObserved *obs)
{
    GHashTableIter it;
    gpointer v;

    for (guint i = 0; i < config->pools->len; i++) {
        const VspanPool *pool = config->pools->pdata[i];
        gint total = 0;
        gboolean known = TRUE;

        for (guint j = 0; j < pool->pfs->len && known; j++) {
            const VspanPoolPf *ppf = pool->pfs->pdata[j];
            int numvfs = host->klass->numvfs(host, ppf->dev);
            if (numvfs < 0)
                known = FALSE;
            for (int vf = 0; vf < numvfs; vf++)
                total += vspan_range_set_contains(ppf->vfs, vf);
        }
        g_hash_table_iter_init(&it, state->leases);
        while (known && g_hash_table_iter_next(&it, NULL, &v)) {
            const VspanLease *l = v;
            if (vspan_config_find_pool_by_vf(config, l->pf, l->vf) == pool)
                total--;
        }
        if (known)
            vspan_observed_set_pool_free(obs, pool->name, MAX(total, 0));
    }
}
