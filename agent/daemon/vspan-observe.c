/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspand"

/* What the planner gets to see of the host for one domain: vspan's filters
 * on its taps, the appliances' current taps, its VFs by PCI address, the
 * leases; which planned VF sets can be skipped because the VF already
 * reads back right; and which devices' netlink events concern vspan. */

#include "vspan-agent-priv.h"

VspanObserved *
vspan_agent_observe(VspanAgent *agent, const VspanDomain *dom)
{
    VspanHost *host = agent->host;
    VspanObserved *obs = vspan_observed_new();
    GHashTableIter it;
    gpointer k, v;

    obs->classifier = host->classifier;
    for (guint i = 0; i < dom->ifaces->len; i++) {
        const VspanIface *iface = dom->ifaces->pdata[i];
        g_autoptr(GError) error = NULL;

        if (iface->target && !vspan_host_observe_tap(host, iface->target, obs, &error))
            g_debug("cannot read the filters of %s: %s", iface->target, error->message);
    }
    g_hash_table_iter_init(&it, agent->state->appliance_ports);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_hash_table_replace(obs->appliance_ports, g_strdup(k), g_strdup(v));
    for (guint i = 0; i < agent->config->programs->len; i++) {
        const VspanProgramDef *d = agent->config->programs->pdata[i];
        const char *why = host->klass->program_error(host, d->name);
        if (why)
            g_hash_table_replace(obs->program_errors, g_strdup(d->name), g_strdup(why));
    }

    /* SR-IOV: the domain's PCI devices resolved through the host */
    obs->vf_map_known = TRUE;
    for (guint i = 0; i < dom->ifaces->len + dom->hostdevs->len; i++) {
        const VspanPciAddr *pci = NULL;
        g_autofree char *pf = NULL;
        guint vf;

        if (i < dom->ifaces->len) {
            const VspanIface *iface = dom->ifaces->pdata[i];
            if (iface->has_pci)
                pci = &iface->pci;
        } else {
            pci = &((const VspanHostdev *)dom->hostdevs->pdata[i - dom->ifaces->len])->pci;
        }
        if (pci && !vspan_observed_find_vf(obs, pci) && host->klass->vf_lookup(host, pci, &pf, &vf))
            vspan_observed_add_vf(obs, pci, pf, vf);
    }
    vspan_leases_observe(agent->state, obs);
    return obs;
}

/* A repair or reconnect sets again only the VFs that drifted: setting one
 * makes the kernel announce the PF (RTM_NEWLINK), which schedules the next
 * repair, so an unconditional set would repeat every 100 ms. */
void
vspan_agent_drop_unchanged_vfs(VspanAgent *agent, VspanPlan *plan)
{
    for (guint i = 0; i < plan->ops->len;) {
        const VspanOp *op = plan->ops->pdata[i];

        if (op->type == VSPAN_OP_VF_SET && agent->host->klass->vf_matches(agent->host, op)) {
            g_ptr_array_remove_index(plan->ops, i);
            continue;
        }
        i++;
    }
}

/* ---- what the netlink watch should wake up for -------------------------- */

static void
vspan_agent_build_watched(VspanAgent *agent)
{
    GHashTable *w = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer v;

    /* names borrowed from the records, the config and the state, all of
     * which drop this set when they change */
    g_hash_table_iter_init(&it, agent->records);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const VspanDomain *dom = v;
        for (guint i = 0; i < dom->ifaces->len; i++) {
            const VspanIface *iface = dom->ifaces->pdata[i];
            if (iface->target)
                g_hash_table_add(w, iface->target);
        }
    }
    for (guint i = 0; i < agent->config->appliances->len; i++) {
        const VspanAppliance *a = agent->config->appliances->pdata[i];
        const char *dev = vspan_agent_sink_dev(agent, a);
        if (dev)
            g_hash_table_add(w, (char *)dev);
        if (a->sink.net_side)
            g_hash_table_add(w, a->sink.net_side);
    }
    for (guint i = 0; i < agent->config->pools->len; i++) {
        const VspanPool *pool = agent->config->pools->pdata[i];
        for (guint j = 0; j < pool->pfs->len; j++)
            g_hash_table_add(w, ((VspanPoolPf *)pool->pfs->pdata[j])->dev);
    }
    agent->watched = w;
}

gboolean
vspan_agent_watches(VspanAgent *agent, const char *dev)
{
    if (!agent->watched)
        vspan_agent_build_watched(agent);
    return dev && g_hash_table_contains(agent->watched, dev);
}

void
vspan_agent_watch_changed(VspanAgent *agent)
{
    g_clear_pointer(&agent->watched, g_hash_table_unref);
    if (agent->watch_changed)
        agent->watch_changed(agent->watch_changed_data);
}

GArray *
vspan_agent_watched_ifindexes(VspanAgent *agent, gboolean *all_exist)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(int));
    GHashTableIter it;
    gpointer dev;

    if (!agent->watched)
        vspan_agent_build_watched(agent);
    *all_exist = TRUE;
    g_hash_table_iter_init(&it, agent->watched);
    while (g_hash_table_iter_next(&it, &dev, NULL)) {
        int ifindex = agent->host->klass->ifindex(agent->host, dev);

        if (ifindex > 0)
            g_array_append_val(out, ifindex);
        else
            *all_exist = FALSE;
    }
    return out;
}
