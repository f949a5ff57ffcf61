/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspand"

/* SR-IOV pools on the host: PFs brought up and VFs enabled at start-up and
 * reload; free VFs counted for the prepare check (kept off the start, stop
 * and repair paths: they are sysfs reads only prepare needs); each pool's
 * libvirt hostdev network. */

#include "vspan-pools.h"

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

char *
vspan_pool_network_xml(const VspanPool *pool, const char *root, char **why)
{
    g_autoptr(GString) xml = g_string_new(NULL);
    guint n = 0;

    g_string_append_printf(xml, "<network>\n  <name>%s</name>\n  <forward mode='hostdev' managed='yes'>\n",
                           pool->network);
    if (pool->pfs->len == 1) {
        const VspanPoolPf *ppf = pool->pfs->pdata[0];
        const VspanRange *r = &g_array_index(ppf->vfs, VspanRange, 0);
        if (ppf->vfs->len == 1 && r->lo == 0 && r->hi == VSPAN_VF_MAX) {
            g_string_append_printf(xml, "    <pf dev='%s'/>\n  </forward>\n</network>\n", ppf->dev);
            return g_string_free(g_steal_pointer(&xml), FALSE);
        }
    }
    /* a subset of VFs, or several PFs: list every VF by PCI address */
    for (guint i = 0; i < pool->pfs->len; i++) {
        const VspanPoolPf *ppf = pool->pfs->pdata[i];
        for (guint r = 0; r < ppf->vfs->len; r++) {
            const VspanRange *range = &g_array_index(ppf->vfs, VspanRange, r);
            for (guint vf = range->lo; vf <= range->hi; vf++) {
                g_autofree char *name = g_strdup_printf("virtfn%u", vf);
                g_autofree char *link = g_build_filename(root, "sys/class/net", ppf->dev, "device", name, NULL);
                g_autofree char *to = g_file_read_link(link, NULL);
                g_autofree char *addr = to ? g_path_get_basename(to) : NULL;
                VspanPciAddr pci;

                if (!to)
                    break;  /* VFs are numbered densely: no more on this PF */
                if (!vspan_pci_addr_parse(addr, &pci))
                    continue;
                g_string_append_printf(xml, "    <address type='pci' domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n",
                                       pci.domain, pci.bus, pci.slot, pci.function);
                n++;
            }
        }
    }
    if (n == 0) {
        *why = g_strdup_printf("no VF of pool '%s' is enabled; enable VFs on its PFs", pool->name);
        return NULL;
    }
    g_string_append(xml, "  </forward>\n</network>\n");
    return g_string_free(g_steal_pointer(&xml), FALSE);
}
