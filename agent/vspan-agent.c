/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspand"

#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "vspan-agent.h"
#include "vspan-json.h"
#include "vspan-link.h"
#include "vspan-log.h"
#include "vspan-sysfs.h"
#include "vspan-tc.h"

struct VspanAgent {
    char *config_path;
    VspanConfig *config;
    VspanBackend *backend;
    VspanState *state;
    GHashTable *starting;           /* uuids between prepare and started */
    VspanAgentResyncFunc resync;
    gpointer resync_data;
    guint repair_idle;
    guint64 repairs;
    guint64 reconnects;
};

static VspanConfig *
vspan_agent_load_config(const char *path, GError **error)
{
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_message("%s does not exist: no appliances, no pools", path);
        return vspan_config_new_empty(path);
    }
    return vspan_config_load(path, error);
}

VspanAgent *
vspan_agent_new(const char *config_path, const char *state_dir, GError **error)
{
    g_autoptr(VspanAgent) agent = g_new0(VspanAgent, 1);
    GHashTableIter it;
    gpointer tap;

    agent->config_path = g_strdup(config_path);
    agent->starting = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    if (!(agent->config = vspan_agent_load_config(config_path, error)) ||
        !(agent->state = vspan_state_load(state_dir, error)) ||
        !(agent->backend = vspan_linux_backend_new(error)))
        return NULL;
    /* clsact qdiscs vspan added before a restart are still vspan's */
    g_hash_table_iter_init(&it, agent->state->created_clsact);
    while (g_hash_table_iter_next(&it, &tap, NULL))
        vspan_linux_backend_mark_created(agent->backend, tap);
    return g_steal_pointer(&agent);
}

void
vspan_agent_free(VspanAgent *agent)
{
    if (!agent)
        return;
    if (agent->repair_idle)
        g_source_remove(agent->repair_idle);
    g_free(agent->config_path);
    vspan_config_free(agent->config);
    vspan_backend_free(agent->backend);
    vspan_state_free(agent->state);
    g_hash_table_unref(agent->starting);
    g_free(agent);
}

void
vspan_agent_set_resync_func(VspanAgent *agent, VspanAgentResyncFunc func, gpointer data)
{
    agent->resync = func;
    agent->resync_data = data;
}

const VspanConfig *
vspan_agent_config(VspanAgent *agent)
{
    return agent->config;
}

void
vspan_agent_count_reconnect(VspanAgent *agent)
{
    agent->reconnects++;
}

void
vspan_agent_ensure_sinks(VspanAgent *agent)
{
    /* An appliance attaches to its tap sink as <target dev managed='no'>,
     * which libvirt requires to exist: create vspan's own sinks up front. */
    for (guint i = 0; i < agent->config->appliances->len; i++) {
        const VspanAppliance *a = agent->config->appliances->pdata[i];
        g_autoptr(GError) error = NULL;

        if (a->sink.type != VSPAN_SINK_TAP && a->sink.type != VSPAN_SINK_VXLAN)
            continue;
        if (!agent->backend->klass->sink_ensure(agent->backend, a, a->sink.dev, &error))
            g_warning("appliance '%s': %s", a->name, error->message);
    }
}

/* Pool PFs: up (libvirt refuses to start a domain on a VF of a PF that is
 * down) and with their VFs enabled.  sriov_numvfs is written only while it
 * is 0: changing it on a PF with VFs would destroy VFs in use. */
void
vspan_agent_ensure_pools(VspanAgent *agent)
{
    const char *root = vspan_sysfs_root();

    for (guint i = 0; i < agent->config->pools->len; i++) {
        const VspanPool *pool = agent->config->pools->pdata[i];

        for (guint j = 0; j < pool->pfs->len; j++) {
            const VspanPoolPf *ppf = pool->pfs->pdata[j];
            g_autoptr(GError) error = NULL;
            g_autofree char *total_path = g_build_filename(root, "sys/class/net", ppf->dev, "device/sriov_totalvfs", NULL);
            g_autofree char *num_path = g_build_filename(root, "sys/class/net", ppf->dev, "device/sriov_numvfs", NULL);
            g_autofree char *total_s = NULL, *want_s = NULL;
            const VspanRange *last = &g_array_index(ppf->vfs, VspanRange, ppf->vfs->len - 1);
            int ifindex = vspan_link_ifindex(ppf->dev);
            int numvfs = vspan_sysfs_numvfs(root, ppf->dev);
            guint want = last->hi + 1;

            if (ifindex <= 0) {
                g_warning("pool '%s': PF '%s' does not exist; fix <pf dev> or load its driver", pool->name, ppf->dev);
                continue;
            }
            if (!vspan_link_set_up(vspan_linux_backend_nl(agent->backend), ifindex, ppf->dev, &error))
                g_warning("pool '%s': %s", pool->name, error->message);
            if (numvfs < 0) {
                g_warning("pool '%s': '%s' is not an SR-IOV PF (no sriov_numvfs)", pool->name, ppf->dev);
                continue;
            }
            if (g_file_get_contents(total_path, &total_s, NULL, NULL))
                want = MIN(want, (guint)atoi(total_s));
            else if (ppf->vfs->len == 1 && last->lo == 0 && last->hi == VSPAN_VF_MAX)
                continue;   /* "all VFs" and no total known: nothing to aim for */
            if ((guint)numvfs >= want)
                continue;
            if (numvfs > 0) {
                g_warning("pool '%s' uses VFs up to %u of '%s' but only %d are enabled; raise sriov_numvfs while no VF is in use",
                          pool->name, want - 1, ppf->dev, numvfs);
                continue;
            }
            want_s = g_strdup_printf("%u", want);
            if (!vspan_sysfs_write(num_path, want_s, &error))
                g_warning("pool '%s': cannot enable %u VFs on '%s': %s", pool->name, want, ppf->dev, error->message);
            else
                g_message("pool '%s': enabled %u VFs on '%s'", pool->name, want, ppf->dev);
        }
    }
}

gboolean
vspan_agent_reload_config(VspanAgent *agent, GError **error)
{
    VspanConfig *config = vspan_agent_load_config(agent->config_path, error);

    if (!config)
        return FALSE;   /* keep running on the old one */
    vspan_config_free(agent->config);
    agent->config = config;
    g_message("reloaded %s", agent->config_path);
    vspan_agent_ensure_sinks(agent);
    vspan_agent_ensure_pools(agent);
    return TRUE;
}

static gboolean
vspan_agent_save_full(VspanAgent *agent, GError **error)
{
    GHashTable *created = vspan_linux_backend_created_set(agent->backend);
    GHashTableIter it;
    gpointer tap;

    g_hash_table_remove_all(agent->state->created_clsact);
    g_hash_table_iter_init(&it, created);
    while (g_hash_table_iter_next(&it, &tap, NULL))
        g_hash_table_add(agent->state->created_clsact, g_strdup(tap));
    return vspan_state_save(agent->state, error);
}

static void
vspan_agent_save(VspanAgent *agent)
{
    g_autoptr(GError) error = NULL;

    if (!vspan_agent_save_full(agent, &error))
        g_warning("%s", error->message);
}

static VspanObserved *
vspan_agent_observe(VspanAgent *agent, const VspanDomain *dom)
{
    VspanObserved *obs = vspan_observed_new();
    GHashTableIter it;
    gpointer k, v;

    obs->classifier = vspan_linux_backend_classifier(agent->backend);
    for (guint i = 0; i < dom->ifaces->len; i++) {
        const VspanIface *iface = dom->ifaces->pdata[i];
        g_autoptr(GError) error = NULL;

        if (iface->target && vspan_link_ifindex(iface->target) > 0 &&
            !vspan_linux_backend_observe_tap(agent->backend, iface->target, obs, &error))
            g_debug("cannot read the filters of %s: %s", iface->target, error->message);
    }
    g_hash_table_iter_init(&it, agent->state->appliance_ports);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_hash_table_replace(obs->appliance_ports, g_strdup(k), g_strdup(v));

    /* SR-IOV: the domain's PCI devices resolved through sysfs */
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
        if (pci && !vspan_observed_find_vf(obs, pci) &&
            vspan_sysfs_vf_lookup(vspan_sysfs_root(), pci, &pf, &vf))
            vspan_observed_add_vf(obs, pci, pf, vf);
    }
    g_hash_table_iter_init(&it, agent->state->leases);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const VspanLease *l = v;
        vspan_observed_add_lease(obs, l->pf, l->vf, l->uuid);
    }
    return obs;
}

/* Free VFs per pool (enabled VFs in its ranges minus leases): sysfs reads
 * only the prepare check needs, kept off the start/stop/repair paths. */
static void
vspan_agent_observe_pools(VspanAgent *agent, VspanObserved *obs)
{
    GHashTableIter it;
    gpointer v;

    for (guint i = 0; i < agent->config->pools->len; i++) {
        const VspanPool *pool = agent->config->pools->pdata[i];
        gint total = 0;
        gboolean known = TRUE;

        for (guint j = 0; j < pool->pfs->len && known; j++) {
            const VspanPoolPf *ppf = pool->pfs->pdata[j];
            int numvfs = vspan_sysfs_numvfs(vspan_sysfs_root(), ppf->dev);
            if (numvfs < 0)
                known = FALSE;
            for (int vf = 0; vf < numvfs; vf++)
                total += vspan_range_set_contains(ppf->vfs, vf);
        }
        g_hash_table_iter_init(&it, agent->state->leases);
        while (known && g_hash_table_iter_next(&it, NULL, &v)) {
            const VspanLease *l = v;
            if (vspan_config_find_pool_by_vf(agent->config, l->pf, l->vf) == pool)
                total--;
        }
        if (known)
            vspan_observed_set_pool_free(obs, pool->name, MAX(total, 0));
    }
}

/* Reset VF @vf of @pf to the safe defaults and forget its lease. */
static void
vspan_agent_reset_vf(VspanAgent *agent, const char *pf, guint vf, const char *why)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *key = vspan_lease_key(pf, vf);
    VspanOp op = { .type = VSPAN_OP_VF_RESET, .dev = (char *)pf, .vf = vf };

    vspan_vf_settings_init_default(&op.vf_settings);
    if (!agent->backend->klass->vf_reset(agent->backend, &op, &error))
        g_warning("cannot reset VF %u of '%s' (%s): %s", vf, pf, why, error->message);
    else
        vspan_log_event(G_LOG_LEVEL_INFO, &(VspanLogFields){ .op = "vf-reset" },
                        "reset VF %u of '%s' to safe defaults (%s)", vf, pf, why);
    g_hash_table_remove(agent->state->leases, key);
}

/* Drop the resets of VFs that another domain holds by now. */
static void
vspan_agent_filter_resets(VspanAgent *agent, VspanPlan *plan, const VspanDomain *dom)
{
    for (guint i = 0; i < plan->ops->len;) {
        const VspanOp *op = plan->ops->pdata[i];
        g_autofree char *key = op->type == VSPAN_OP_VF_RESET ? vspan_lease_key(op->dev, op->vf) : NULL;
        const VspanLease *l = key ? g_hash_table_lookup(agent->state->leases, key) : NULL;

        if (l && !g_str_equal(l->uuid, dom->uuid)) {
            g_message("VF %u of '%s' belongs to domain '%s' now (lease %" G_GUINT64_FORMAT "); not resetting it for '%s'",
                      op->vf, op->dev, l->name, l->generation, dom->name);
            g_ptr_array_remove_index(plan->ops, i);
            continue;
        }
        i++;
    }
}

/* Leases of the pool VFs of @plan (a start's or a reconnect's); a lease
 * the domain already holds keeps its generation (a resync rebuilds lost
 * leases without renumbering). */
static void
vspan_agent_record_leases(VspanAgent *agent, const VspanPlan *plan, const VspanDomain *dom)
{
    for (guint i = 0; i < plan->vfs->len; i++) {
        const VspanPlanVf *v = plan->vfs->pdata[i];
        g_autofree char *key = NULL;
        const VspanLease *l;

        if (!v->pf || !v->pool || v->vf < 0)
            continue;
        key = vspan_lease_key(v->pf, v->vf);
        l = g_hash_table_lookup(agent->state->leases, key);
        if (!l || !g_str_equal(l->uuid, dom->uuid))
            vspan_state_lease(agent->state, v->pf, v->vf, dom->uuid, dom->name);
    }
}

/* A repair or reconnect sets again only the VFs that drifted: setting one
 * makes the kernel announce the PF (RTM_NEWLINK), which schedules the next
 * repair, so an unconditional set would repeat every 100 ms. */
static void
vspan_agent_drop_unchanged_vfs(VspanAgent *agent, VspanPlan *plan)
{
    const VspanBackendClass *klass = agent->backend->klass;

    for (guint i = 0; klass->vf_matches && i < plan->ops->len;) {
        const VspanOp *op = plan->ops->pdata[i];

        if (op->type == VSPAN_OP_VF_SET && klass->vf_matches(agent->backend, op)) {
            g_ptr_array_remove_index(plan->ops, i);
            continue;
        }
        i++;
    }
}

static void
vspan_agent_drop_leases(VspanAgent *agent, const char *uuid, gboolean reset)
{
    g_autoptr(GPtrArray) mine = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, agent->state->leases);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const VspanLease *l = v;
        if (g_str_equal(l->uuid, uuid))
            g_ptr_array_add(mine, g_strdup_printf("%s/%u", l->pf, l->vf));
    }
    for (guint i = 0; i < mine->len; i++) {
        g_auto(GStrv) parts = g_strsplit(mine->pdata[i], "/", 2);
        if (reset)
            vspan_agent_reset_vf(agent, parts[0], (guint)atoi(parts[1]), "its domain is gone");
        else
            g_hash_table_remove(agent->state->leases, mine->pdata[i]);
    }
}

static void
vspan_agent_record(VspanAgent *agent, const VspanDomain *dom, const char *xml, const VspanPlan *plan)
{
    if (!*dom->uuid)
        return;
    if (plan && plan->needs_agent)
        g_hash_table_replace(agent->state->domains, g_strdup(dom->uuid), g_strdup(xml));
    else
        g_hash_table_remove(agent->state->domains, dom->uuid);
}

/* One info line per applied op, with the journal fields of what it touched. */
static void
vspan_agent_log_op(const VspanPlan *plan, const VspanDomain *dom, const VspanOp *op, const char *why)
{
    g_autofree char *text = vspan_op_format(op);
    g_autoptr(GString) appliances = g_string_new(NULL);
    VspanLogFields f = { .domain = dom->name, .op = vspan_op_type_to_string(op->type) };

    if (op->type == VSPAN_OP_QDISC_ENSURE || op->type == VSPAN_OP_MIRROR_SET || op->type == VSPAN_OP_MIRROR_DEL) {
        f.tap = op->dev;
        for (guint i = 0; i < plan->mirrors->len; i++) {
            const VspanPlanMirror *m = plan->mirrors->pdata[i];
            if (g_strcmp0(m->tap, op->dev) != 0)
                continue;
            f.mac = m->mac;
            g_string_append_printf(appliances, "%s%s", appliances->len ? "," : "", m->appliance);
        }
    } else if (op->type == VSPAN_OP_VF_SET || op->type == VSPAN_OP_VF_RESET) {
        for (guint i = 0; i < plan->vfs->len; i++) {
            const VspanPlanVf *v = plan->vfs->pdata[i];
            if (g_strcmp0(v->pci, op->pci) == 0)
                f.mac = v->mac;
        }
    }
    if (appliances->len)
        f.appliance = appliances->str;
    vspan_log_event(G_LOG_LEVEL_INFO, &f, "domain '%s' (%s): %s", dom->name, why, text);
}

/* Plan @phase for @dom against the kernel as it is, and apply it.  With
 * @record_xml, the domain and its VF leases are written to the state file
 * before the kernel is touched (write-ahead): a vspand killed half-way
 * leaves a record that the restart completes (mirrors) or undoes (a VF of
 * a domain that did not start is reset), never a change nobody knows of. */
static VspanPlan *
vspan_agent_apply(VspanAgent *agent, VspanPhase phase, const VspanDomain *dom, const char *why,
                  const char *record_xml, GError **error)
{
    g_autoptr(VspanObserved) obs = vspan_agent_observe(agent, dom);
    g_autoptr(VspanPlan) plan = vspan_plan_build(phase, dom, agent->config, obs);

    for (guint i = 0; i < plan->warnings->len; i++)
        g_message("%s", (char *)plan->warnings->pdata[i]);
    if (vspan_plan_refuses(plan)) {
        g_set_error_literal(error, VSPAN_ERROR, VSPAN_ERROR_REFUSED, plan->errors->pdata[0]);
        return NULL;
    }
    if (record_xml) {
        vspan_agent_record(agent, dom, record_xml, plan);
        vspan_agent_record_leases(agent, plan, dom);
        /* no record, no change: a crash must never leave a VF configured
         * (or a mirror) that no state file knows of */
        if (!vspan_agent_save_full(agent, error))
            return NULL;
    }
    if (phase == VSPAN_PHASE_RECONNECT)
        vspan_agent_drop_unchanged_vfs(agent, plan);
    if (!vspan_exec_apply(agent->backend, plan, error))
        return NULL;
    /* every kernel change, once, with what and why */
    for (guint i = 0; i < plan->ops->len; i++) {
        const VspanOp *op = plan->ops->pdata[i];

        if (op->type == VSPAN_OP_SINK_ENSURE)
            continue;       /* logged by vspan_sink_ensure() when it creates one */
        if (g_str_equal(why, "repair") && (op->type == VSPAN_OP_MIRROR_SET || op->type == VSPAN_OP_MIRROR_DEL))
            agent->repairs++;
        vspan_agent_log_op(plan, dom, op, why);
    }
    return g_steal_pointer(&plan);
}

static gboolean
vspan_agent_repair_idle(gpointer data)
{
    VspanAgent *agent = data;

    agent->repair_idle = 0;
    vspan_agent_repair(agent);
    return G_SOURCE_REMOVE;
}

static void
vspan_agent_schedule_repair(VspanAgent *agent)
{
    if (!agent->repair_idle)
        agent->repair_idle = g_idle_add(vspan_agent_repair_idle, agent);
}

/* Follow the taps of appliances with an interface sink.  Returns TRUE
 * when one moved (the monitored domains must be re-pointed). */
static gboolean
vspan_agent_update_appliance_ports(VspanAgent *agent, const VspanDomain *dom, gboolean running)
{
    gboolean changed = FALSE;

    for (guint i = 0; i < agent->config->appliances->len; i++) {
        const VspanAppliance *a = agent->config->appliances->pdata[i];
        const char *old = g_hash_table_lookup(agent->state->appliance_ports, a->name);
        const VspanIface *iface;
        const char *tap = NULL;

        if (a->sink.type != VSPAN_SINK_INTERFACE || !g_str_equal(a->domain, dom->name))
            continue;
        iface = vspan_domain_find_iface_by_mac(dom, a->sink.mac);
        if (running && iface)
            tap = iface->target;
        if (g_strcmp0(old, tap) == 0)
            continue;
        g_message("appliance '%s' sink %s is now %s", a->name, a->sink.mac, tap ? tap : "down");
        if (tap)
            g_hash_table_replace(agent->state->appliance_ports, g_strdup(a->name), g_strdup(tap));
        else
            g_hash_table_remove(agent->state->appliance_ports, a->name);
        changed = TRUE;
    }
    return changed;
}

/* The domain is gone: its taps went with it; forget them and their clsact. */
static void
vspan_agent_forget(VspanAgent *agent, const char *uuid)
{
    const char *xml = g_hash_table_lookup(agent->state->domains, uuid);
    GHashTable *created = vspan_linux_backend_created_set(agent->backend);

    if (xml) {
        g_autoptr(VspanDomain) old = vspan_domain_parse(xml, strlen(xml), "state", NULL);
        for (guint i = 0; old && i < old->ifaces->len; i++) {
            const VspanIface *iface = old->ifaces->pdata[i];
            if (iface->target && vspan_link_ifindex(iface->target) <= 0)
                g_hash_table_remove(created, iface->target);
        }
        if (old && vspan_agent_update_appliance_ports(agent, old, FALSE))
            vspan_agent_schedule_repair(agent);
    }
    g_hash_table_remove(agent->state->domains, uuid);
}

int
vspan_agent_hook(VspanAgent *agent, const char *phase_str, const char *sub, const char *xml,
                 char **message)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanPlan) plan = NULL;
    int phase = vspan_phase_from_string(phase_str);
    gboolean may_refuse = phase == VSPAN_PHASE_PREPARE || phase == VSPAN_PHASE_START;

    *message = NULL;
    switch (phase) {
    case VSPAN_PHASE_PREPARE:
    case VSPAN_PHASE_START:
    case VSPAN_PHASE_STARTED:
    case VSPAN_PHASE_RECONNECT:
        if (g_strcmp0(sub, "begin") != 0)
            return 0;
        break;
    case VSPAN_PHASE_STOPPED:
    case VSPAN_PHASE_RELEASE:
        if (g_strcmp0(sub, "end") != 0)
            return 0;
        break;
    default:
        return 0;   /* migrate, restore, attach, ...: nothing to do */
    }

    dom = vspan_domain_parse(xml, strlen(xml), "domain XML", &error);
    if (!dom) {
        g_warning("%s hook: %s", phase_str, error->message);
        if (may_refuse)
            *message = g_strdup(error->message);
        return may_refuse ? 1 : 0;
    }

    switch (phase) {
    case VSPAN_PHASE_PREPARE: {
        g_autoptr(VspanObserved) obs = vspan_agent_observe(agent, dom);

        vspan_agent_observe_pools(agent, obs);
        plan = vspan_plan_build(VSPAN_PHASE_PREPARE, dom, agent->config, obs);
        if (vspan_plan_refuses(plan)) {
            *message = g_strdup(plan->errors->pdata[0]);
            g_message("refused to start domain '%s': %s", dom->name, *message);
            return 1;
        }
        if (*dom->uuid)
            g_hash_table_add(agent->starting, g_strdup(dom->uuid));
        return 0;
    }
    case VSPAN_PHASE_START:
    case VSPAN_PHASE_RECONNECT:
        plan = vspan_agent_apply(agent, phase, dom, phase_str, xml, &error);
        if (!plan) {
            g_message("%s of domain '%s' failed: %s", phase_str, dom->name, error->message);
            if (phase == VSPAN_PHASE_START) {
                *message = g_strdup(error->message);
                return 1;
            }
            return 0;   /* a failing reconnect hook would kill the VM */
        }
        vspan_agent_record(agent, dom, xml, plan);
        vspan_agent_record_leases(agent, plan, dom);
        if (vspan_agent_update_appliance_ports(agent, dom, TRUE))
            vspan_agent_schedule_repair(agent);
        vspan_agent_save(agent);
        return 0;
    case VSPAN_PHASE_STARTED:
        g_hash_table_remove(agent->starting, dom->uuid);
        return 0;
    case VSPAN_PHASE_STOPPED:
    case VSPAN_PHASE_RELEASE: {
        g_autoptr(GError) e2 = NULL;
        g_autoptr(VspanObserved) obs = vspan_agent_observe(agent, dom);

        g_hash_table_remove(agent->starting, dom->uuid);
        plan = vspan_plan_build(phase, dom, agent->config, obs);
        vspan_agent_filter_resets(agent, plan, dom);
        if (!vspan_exec_apply(agent->backend, plan, &e2))
            g_message("%s of domain '%s': %s", phase_str, dom->name, e2->message);
        if (*dom->uuid) {
            vspan_agent_forget(agent, dom->uuid);
            vspan_agent_drop_leases(agent, dom->uuid, FALSE);
        }
        if (vspan_agent_update_appliance_ports(agent, dom, FALSE))
            vspan_agent_schedule_repair(agent);
        vspan_agent_save(agent);
        return 0;
    }
    default:
        return 0;
    }
}

void
vspan_agent_sync(VspanAgent *agent, GPtrArray *xmls)
{
    g_autoptr(GPtrArray) doms = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_domain_free);
    g_autoptr(GHashTable) live = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer uuid;

    for (guint i = 0; i < xmls->len; i++) {
        const char *xml = xmls->pdata[i];
        g_autoptr(GError) error = NULL;
        VspanDomain *dom = vspan_domain_parse(xml, strlen(xml), "domain XML", &error);

        if (!dom) {
            g_message("resync: %s", error->message);
            g_ptr_array_add(doms, NULL);
            continue;
        }
        g_ptr_array_add(doms, dom);
        g_hash_table_add(live, dom->uuid);
        /* appliances first: their taps are where the others point */
        vspan_agent_update_appliance_ports(agent, dom, TRUE);
    }
    for (guint i = 0; i < doms->len; i++) {
        VspanDomain *dom = doms->pdata[i];
        g_autoptr(GError) error = NULL;
        g_autoptr(VspanPlan) plan = NULL;

        if (!dom || g_hash_table_contains(agent->starting, dom->uuid))
            continue;   /* its hooks are in charge until it runs */
        plan = vspan_agent_apply(agent, VSPAN_PHASE_RECONNECT, dom, "resync", NULL, &error);
        if (!plan) {
            g_message("resync of domain '%s': %s", dom->name, error->message);
        } else {
            vspan_agent_record(agent, dom, xmls->pdata[i], plan);
            vspan_agent_record_leases(agent, plan, dom);   /* rebuilt from libvirt's XML */
        }
    }
    g_hash_table_iter_init(&it, agent->state->domains);
    while (g_hash_table_iter_next(&it, &uuid, NULL))
        if (!g_hash_table_contains(live, uuid) && !g_hash_table_contains(agent->starting, uuid))
            g_ptr_array_add(gone, g_strdup(uuid));
    for (guint i = 0; i < gone->len; i++) {
        g_message("domain %s is no longer running; dropping its mirror state", (char *)gone->pdata[i]);
        vspan_agent_forget(agent, gone->pdata[i]);
    }
    /* leases of domains that stopped while vspand was away */
    {
        g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func(g_free);
        gpointer v;

        g_hash_table_iter_init(&it, agent->state->leases);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            const VspanLease *l = v;
            if (!g_hash_table_contains(live, l->uuid) && !g_hash_table_contains(agent->starting, l->uuid) &&
                !g_ptr_array_find_with_equal_func(stale, l->uuid, g_str_equal, NULL))
                g_ptr_array_add(stale, g_strdup(l->uuid));
        }
        for (guint i = 0; i < stale->len; i++)
            vspan_agent_drop_leases(agent, stale->pdata[i], TRUE);
    }
    vspan_agent_save(agent);
}

void
vspan_agent_repair(VspanAgent *agent)
{
    g_autoptr(GPtrArray) xmls = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer xml;

    g_hash_table_iter_init(&it, agent->state->domains);
    while (g_hash_table_iter_next(&it, NULL, &xml))
        g_ptr_array_add(xmls, g_strdup(xml));
    for (guint i = 0; i < xmls->len; i++) {
        const char *x = xmls->pdata[i];
        g_autoptr(GError) error = NULL;
        g_autoptr(VspanDomain) dom = vspan_domain_parse(x, strlen(x), "state", &error);
        g_autoptr(VspanPlan) plan = NULL;

        if (!dom)
            continue;
        /* a domain whose taps are gone is stopping: its hooks and the
         * libvirt resync settle it */
        for (guint k = 0; k < dom->ifaces->len; k++) {
            const VspanIface *iface = dom->ifaces->pdata[k];
            if (iface->target && vspan_link_ifindex(iface->target) <= 0)
                g_clear_pointer(&dom, vspan_domain_free);
            if (!dom)
                break;
        }
        if (!dom)
            continue;
        plan = vspan_agent_apply(agent, VSPAN_PHASE_RECONNECT, dom, "repair", NULL, &error);
        if (!plan)
            g_message("repair of domain '%s': %s", dom->name, error->message);
    }
    vspan_agent_save(agent);
}

/* ---- status ------------------------------------------------------------- */

static void
vspan_agent_mirror_counters(VspanAgent *agent, const char *tap, VspanDirection dir,
                            const char *sink, guint64 *packets, guint64 *bytes, guint64 *drops)
{
    g_autoptr(GPtrArray) filters = vspan_linux_backend_filters(agent->backend, tap, NULL);
    guint32 sink_idx = sink ? vspan_link_ifindex(sink) : 0;

    *packets = *bytes = *drops = 0;
    for (guint i = 0; filters && i < filters->len; i++) {
        const VspanTcFilter *f = filters->pdata[i];

        if (!f->ours || (dir == VSPAN_DIRECTION_FROM_VM && f->hook != VSPAN_HOOK_INGRESS) ||
            (dir == VSPAN_DIRECTION_TO_VM && f->hook != VSPAN_HOOK_EGRESS))
            continue;
        for (guint j = 0; j < f->actions->len; j++) {
            const VspanTcAction *a = &g_array_index(f->actions, VspanTcAction, j);
            if (a->ifindex != sink_idx)
                continue;
            *packets += a->packets;
            *bytes += a->bytes;
            *drops += a->drops;
        }
    }
}

typedef struct {
    char *domain, *uuid, *mac, *tap, *appliance;
    VspanDirection direction;
    guint64 packets, bytes, drops;
} VspanStatusMirror;

static void
vspan_status_mirror_free(VspanStatusMirror *m)
{
    g_free(m->domain);
    g_free(m->uuid);
    g_free(m->mac);
    g_free(m->tap);
    g_free(m->appliance);
    g_free(m);
}

static const char *
vspan_agent_sink_dev(VspanAgent *agent, const VspanAppliance *a)
{
    return a->sink.type == VSPAN_SINK_INTERFACE ? g_hash_table_lookup(agent->state->appliance_ports, a->name)
                                                : a->sink.dev;
}

static GPtrArray *
vspan_agent_collect_mirrors(VspanAgent *agent)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_status_mirror_free);
    GHashTableIter it;
    gpointer xml;

    g_hash_table_iter_init(&it, agent->state->domains);
    while (g_hash_table_iter_next(&it, NULL, &xml)) {
        g_autoptr(VspanDomain) dom = vspan_domain_parse(xml, strlen(xml), "state", NULL);
        g_autoptr(VspanObserved) obs = NULL;
        g_autoptr(VspanPlan) plan = NULL;

        if (!dom)
            continue;
        obs = vspan_agent_observe(agent, dom);
        plan = vspan_plan_build(VSPAN_PHASE_RECONNECT, dom, agent->config, obs);
        for (guint i = 0; i < plan->mirrors->len; i++) {
            const VspanPlanMirror *pm = plan->mirrors->pdata[i];
            const VspanAppliance *a = vspan_config_find_appliance(agent->config, pm->appliance);
            VspanStatusMirror *m = g_new0(VspanStatusMirror, 1);

            m->domain = g_strdup(dom->name);
            m->uuid = g_strdup(dom->uuid);
            m->mac = g_strdup(pm->mac);
            m->tap = g_strdup(pm->tap);
            m->appliance = g_strdup(pm->appliance);
            m->direction = pm->direction;
            if (pm->tap)
                vspan_agent_mirror_counters(agent, pm->tap, pm->direction, vspan_agent_sink_dev(agent, a),
                                            &m->packets, &m->bytes, &m->drops);
            g_ptr_array_add(out, m);
        }
    }
    return out;
}

static void
vspan_prom_label(GString *s, const char *name, const char *value, gboolean first)
{
    g_string_append_printf(s, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            g_string_append_c(s, '\\');
        if (*p == '\n')
            g_string_append(s, "\\n");
        else
            g_string_append_c(s, *p);
    }
    g_string_append_c(s, '"');
}

char *
vspan_agent_metrics(VspanAgent *agent)
{
    g_autoptr(GPtrArray) mirrors = vspan_agent_collect_mirrors(agent);
    g_autoptr(GString) s = g_string_new(NULL);
    static const struct {
        const char *name, *help;
        gsize offset;
    } counters[] = {
        { "vspan_mirror_packets_total", "Frames seen by the mirror (copies attempted).", G_STRUCT_OFFSET(VspanStatusMirror, packets) },
        { "vspan_mirror_bytes_total", "Bytes of those frames as the kernel counts them.", G_STRUCT_OFFSET(VspanStatusMirror, bytes) },
        { "vspan_mirror_dropped_copies_total", "Copies the sink did not take (sink down or gone).", G_STRUCT_OFFSET(VspanStatusMirror, drops) },
    };
    GHashTableIter it;
    gpointer v;

    for (guint c = 0; c < G_N_ELEMENTS(counters); c++) {
        g_string_append_printf(s, "# HELP %s %s\n# TYPE %s counter\n", counters[c].name, counters[c].help, counters[c].name);
        for (guint i = 0; i < mirrors->len; i++) {
            const VspanStatusMirror *m = mirrors->pdata[i];
            g_string_append_printf(s, "%s{", counters[c].name);
            vspan_prom_label(s, "domain", m->domain, TRUE);
            vspan_prom_label(s, "mac", m->mac, FALSE);
            vspan_prom_label(s, "tap", m->tap, FALSE);
            vspan_prom_label(s, "appliance", m->appliance, FALSE);
            vspan_prom_label(s, "direction", vspan_direction_to_string(m->direction), FALSE);
            g_string_append_printf(s, "} %" G_GUINT64_FORMAT "\n", G_STRUCT_MEMBER(guint64, m, counters[c].offset));
        }
    }
    g_string_append(s, "# HELP vspan_sink_up Whether the appliance's sink exists and has carrier (1) or not (0).\n"
                       "# TYPE vspan_sink_up gauge\n");
    for (guint i = 0; i < agent->config->appliances->len; i++) {
        const VspanAppliance *a = agent->config->appliances->pdata[i];
        const char *dev = vspan_agent_sink_dev(agent, a);
        g_autofree char *path = dev ? g_strdup_printf("/sys/class/net/%s/carrier", dev) : NULL;
        g_autofree char *carrier = NULL;
        gboolean up = path && g_file_get_contents(path, &carrier, NULL, NULL) && g_str_has_prefix(carrier, "1");

        g_string_append(s, "vspan_sink_up{");
        vspan_prom_label(s, "appliance", a->name, TRUE);
        vspan_prom_label(s, "type", vspan_sink_type_to_string(a->sink.type), FALSE);
        vspan_prom_label(s, "dev", dev, FALSE);
        g_string_append_printf(s, "} %d\n", up);
    }
    g_string_append(s, "# HELP vspan_vf_lease_generation Generation of each VF lease.\n# TYPE vspan_vf_lease_generation gauge\n");
    g_hash_table_iter_init(&it, agent->state->leases);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const VspanLease *l = v;
        g_autofree char *vf = g_strdup_printf("%u", l->vf);
        g_string_append(s, "vspan_vf_lease_generation{");
        vspan_prom_label(s, "pf", l->pf, TRUE);
        vspan_prom_label(s, "vf", vf, FALSE);
        vspan_prom_label(s, "domain", l->name, FALSE);
        g_string_append_printf(s, "} %" G_GUINT64_FORMAT "\n", l->generation);
    }
    g_string_append_printf(s, "# HELP vspan_repairs_total Mirror filters vspand restored after they were changed behind its back.\n"
                              "# TYPE vspan_repairs_total counter\nvspan_repairs_total %" G_GUINT64_FORMAT "\n"
                              "# HELP vspan_libvirt_reconnects_total Times vspand lost and re-established its libvirt connection.\n"
                              "# TYPE vspan_libvirt_reconnects_total counter\nvspan_libvirt_reconnects_total %" G_GUINT64_FORMAT "\n",
                           agent->repairs, agent->reconnects);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

char *
vspan_agent_status(VspanAgent *agent, char **text_out)
{
    g_autoptr(GPtrArray) mirrors = vspan_agent_collect_mirrors(agent);
    g_autoptr(GString) text = g_string_new(NULL);
    VspanJson j;

    vspan_json_init(&j);
    vspan_json_begin_object(&j, NULL);
    vspan_json_begin_array(&j, "appliances");
    for (guint i = 0; i < agent->config->appliances->len; i++) {
        const VspanAppliance *a = agent->config->appliances->pdata[i];
        const char *dev = vspan_agent_sink_dev(agent, a);
        int ifindex = dev ? vspan_link_ifindex(dev) : 0;
        gboolean carrier = FALSE;
        guint n = 0;

        if (ifindex > 0) {
            g_autofree char *path = g_strdup_printf("/sys/class/net/%s/carrier", dev);
            g_autofree char *c = NULL;
            carrier = g_file_get_contents(path, &c, NULL, NULL) && g_str_has_prefix(c, "1");
        }
        vspan_json_begin_object(&j, NULL);
        vspan_json_string(&j, "name", a->name);
        vspan_json_string(&j, "domain", a->domain);
        vspan_json_string(&j, "sink_type", vspan_sink_type_to_string(a->sink.type));
        vspan_json_string(&j, "sink_dev", dev);
        vspan_json_bool(&j, "sink_present", ifindex > 0);
        /* a tap sink has carrier while the appliance VM holds it */
        vspan_json_bool(&j, "sink_carrier", carrier);
        vspan_json_end_object(&j);

        g_string_append_printf(text, "appliance %s (domain %s): %s sink %s, %s\n", a->name, a->domain,
                               vspan_sink_type_to_string(a->sink.type), dev ? dev : "-",
                               ifindex <= 0 ? "missing" : carrier ? "appliance attached"
                                                                  : "no appliance attached, copies are dropped");
        g_string_append_printf(text, "  %-14s %-17s %-15s %-9s %12s %14s %10s\n", "DOMAIN", "MAC", "TAP",
                               "DIRECTION", "PACKETS", "BYTES", "DROPS");
        for (guint k = 0; k < mirrors->len; k++) {
            const VspanStatusMirror *m = mirrors->pdata[k];
            if (!g_str_equal(m->appliance, a->name))
                continue;
            g_string_append_printf(text, "  %-14s %-17s %-15s %-9s %12" G_GUINT64_FORMAT " %14" G_GUINT64_FORMAT " %10" G_GUINT64_FORMAT "\n",
                                   m->domain, m->mac ? m->mac : "-", m->tap ? m->tap : "-",
                                   vspan_direction_to_string(m->direction), m->packets, m->bytes, m->drops);
            n++;
        }
        if (n == 0)
            g_string_append(text, "  (no mirrors)\n");
    }
    vspan_json_end_array(&j);

    vspan_json_begin_array(&j, "mirrors");
    for (guint k = 0; k < mirrors->len; k++) {
        const VspanStatusMirror *m = mirrors->pdata[k];
        vspan_json_begin_object(&j, NULL);
        vspan_json_string(&j, "domain", m->domain);
        vspan_json_string(&j, "uuid", m->uuid);
        vspan_json_string(&j, "mac", m->mac);
        vspan_json_string(&j, "tap", m->tap);
        vspan_json_string(&j, "appliance", m->appliance);
        vspan_json_string(&j, "direction", vspan_direction_to_string(m->direction));
        vspan_json_uint(&j, "packets", m->packets);
        vspan_json_uint(&j, "bytes", m->bytes);
        vspan_json_uint(&j, "drops", m->drops);
        vspan_json_end_object(&j);
    }
    vspan_json_end_array(&j);
    vspan_json_begin_array(&j, "vf_leases");
    {
        GHashTableIter it;
        gpointer v;
        guint n = 0;

        g_hash_table_iter_init(&it, agent->state->leases);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            const VspanLease *l = v;
            const VspanPool *pool = vspan_config_find_pool_by_vf(agent->config, l->pf, l->vf);

            vspan_json_begin_object(&j, NULL);
            vspan_json_string(&j, "pf", l->pf);
            vspan_json_uint(&j, "vf", l->vf);
            vspan_json_string(&j, "pool", pool ? pool->name : NULL);
            vspan_json_string(&j, "domain", l->name);
            vspan_json_string(&j, "uuid", l->uuid);
            vspan_json_uint(&j, "generation", l->generation);
            vspan_json_end_object(&j);
            if (n++ == 0)
                g_string_append_printf(text, "VF leases:\n  %-12s %4s %-10s %-14s %s\n", "PF", "VF", "POOL", "DOMAIN", "GENERATION");
            g_string_append_printf(text, "  %-12s %4u %-10s %-14s %" G_GUINT64_FORMAT "\n", l->pf, l->vf,
                                   pool ? pool->name : "-", l->name, l->generation);
        }
    }
    vspan_json_end_array(&j);
    vspan_json_begin_object(&j, "agent");
    vspan_json_string(&j, "classifier", vspan_classifier_to_string(vspan_linux_backend_classifier(agent->backend)));
    vspan_json_uint(&j, "domains", g_hash_table_size(agent->state->domains));
    vspan_json_uint(&j, "repairs", agent->repairs);
    vspan_json_uint(&j, "reconnects", agent->reconnects);
    vspan_json_end_object(&j);
    vspan_json_end_object(&j);
    g_string_append_printf(text, "agent: %u domains managed, %" G_GUINT64_FORMAT " repairs, %" G_GUINT64_FORMAT " libvirt reconnects, classifier %s\n",
                           g_hash_table_size(agent->state->domains), agent->repairs, agent->reconnects,
                           vspan_classifier_to_string(vspan_linux_backend_classifier(agent->backend)));
    *text_out = g_string_free(g_steal_pointer(&text), FALSE);
    return vspan_json_finish(&j);
}
