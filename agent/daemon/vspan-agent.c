/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspand"

/*
 * The agent's lifecycle and its one pipeline.  Every trigger -- a hook
 * phase, a libvirt resync, a repair after a netlink event -- runs
 *
 *   observe -> plan -> lease filter -> record -> apply -> log -> forget -> save
 *
 * in vspan_agent_run(), steered by the phase's policy (vspan_phase_policy:
 * may it refuse, does it change the kernel, does it forget the domain).
 * Leases, pools and reporting live in vspan-leases.c, vspan-pools.c and
 * vspan-report.c; the kernel is reached only through the VspanHost.
 */

#include <string.h>

#include "vspan-agent-priv.h"
#include "vspan-exec.h"
#include "vspan-log.h"

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
vspan_agent_new(const char *config_path, const char *state_dir, VspanHost *host, GError **error)
{
    g_autoptr(VspanAgent) agent = g_new0(VspanAgent, 1);
    GHashTableIter it;
    gpointer k, v;

    agent->host = host;
    agent->config_path = g_strdup(config_path);
    agent->starting = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    agent->records = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)vspan_domain_free);
    if (!host || !(agent->config = vspan_agent_load_config(config_path, error)) ||
        !(agent->state = vspan_state_load(state_dir, error)))
        return NULL;
    /* clsact qdiscs vspan added before a restart are still vspan's */
    g_hash_table_iter_init(&it, agent->state->created_clsact);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_hash_table_add(host->created_clsact, g_strdup(k));
    /* the stored XML is parsed (and validated) once, here */
    g_hash_table_iter_init(&it, agent->state->domains);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_autoptr(GError) e = NULL;
        VspanDomain *dom = vspan_domain_parse(v, strlen(v), "state", &e);

        if (dom)
            g_hash_table_replace(agent->records, g_strdup(k), dom);
        else
            g_warning("state: domain %s: %s", (char *)k, e->message);
    }
    return g_steal_pointer(&agent);
}

void
vspan_agent_free(VspanAgent *agent)
{
    if (!agent)
        return;
    g_clear_handle_id(&agent->repair_source, g_source_remove);
    vspan_health_free(agent);
    g_free(agent->config_path);
    vspan_config_free(agent->config);
    vspan_host_free(agent->host);
    vspan_state_free(agent->state);
    g_hash_table_unref(agent->records);
    g_hash_table_unref(agent->starting);
    g_clear_pointer(&agent->watched, g_hash_table_unref);
    g_free(agent);
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

const char *
vspan_agent_sink_dev(VspanAgent *agent, const VspanAppliance *a)
{
    return a->sink.type == VSPAN_SINK_INTERFACE ? g_hash_table_lookup(agent->state->appliance_ports, a->name)
                                                : a->sink.dev;
}

void
vspan_agent_ensure_sinks(VspanAgent *agent)
{
    /* the filter programs of the config, loaded (or taken back from their
     * pins) before any rule needs them */
    agent->host->klass->programs_sync(agent->host, agent->config->programs);
    for (guint i = 0; i < agent->config->bridge_tags->len; i++) {
        const VspanBridgeTag *t = agent->config->bridge_tags->pdata[i];
        if (agent->host->klass->ifindex(agent->host, t->bridge) <= 0)
            g_warning("bridge '%s' of <bridge-tag> does not exist (yet); copies of its NICs will carry VLAN %u once it does",
                      t->bridge, t->vlan);
    }
    /* An appliance attaches to its tap sink as <target dev managed='no'>,
     * which libvirt requires to exist: create vspan's own sinks up front. */
    for (guint i = 0; i < agent->config->appliances->len; i++) {
        const VspanAppliance *a = agent->config->appliances->pdata[i];
        g_autoptr(GError) error = NULL;

        if (!VSPAN_SINK_IS_OWNED(a->sink.type))
            continue;
        if (!agent->host->klass->sink_ensure(agent->host, a, a->sink.dev, &error))
            g_warning("appliance '%s': %s", a->name, error->message);
    }
    vspan_health_sync(agent);
}

void
vspan_agent_ensure_pools(VspanAgent *agent)
{
    vspan_pools_ensure(agent->config, agent->host);
}

gboolean
vspan_agent_reload_config(VspanAgent *agent, GError **error)
{
    VspanConfig *config = vspan_agent_load_config(agent->config_path, error);

    if (!config)
        return FALSE;   /* keep running on the old one */
    vspan_config_free(agent->config);
    agent->config = config;
    vspan_agent_watch_changed(agent);
    g_message("reloaded %s", agent->config_path);
    vspan_agent_ensure_sinks(agent);
    vspan_agent_ensure_pools(agent);
    return TRUE;
}

static gboolean
vspan_agent_save_full(VspanAgent *agent, GError **error)
{
    GHashTableIter it;
    gpointer tap;

    g_hash_table_remove_all(agent->state->created_clsact);
    g_hash_table_iter_init(&it, agent->host->created_clsact);
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

/* ---- records: the domains vspan manages ----------------------------------- */

/* Keep @dom (its XML for a restart, its parsed form for everything else)
 * when it needs vspan, forget it otherwise. */
static void
vspan_agent_record(VspanAgent *agent, VspanDomain *dom, const char *xml, const VspanPlan *plan)
{
    if (!*dom->uuid)
        return;
    if (plan->needs_agent) {
        g_hash_table_replace(agent->state->domains, g_strdup(dom->uuid), g_strdup(xml));
        g_hash_table_replace(agent->records, g_strdup(dom->uuid), vspan_domain_ref(dom));
    } else {
        g_hash_table_remove(agent->state->domains, dom->uuid);
        g_hash_table_remove(agent->records, dom->uuid);
    }
    vspan_agent_watch_changed(agent);
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

/* ---- appliances, repairs ---------------------------------------------------- */

static gboolean
vspan_agent_repair_due(gpointer data)
{
    VspanAgent *agent = data;

    agent->repair_source = 0;
    vspan_agent_repair(agent);
    if (agent->repaired)
        agent->repaired(agent->repaired_data);
    return G_SOURCE_REMOVE;
}

/* The one repair scheduler: an appliance that moved (at once) and the
 * netlink watch (100 ms, coalescing bursts, including those vspan causes
 * itself) both come here; while one is pending, more requests join it. */
void
vspan_agent_schedule_repair(VspanAgent *agent, guint delay_ms)
{
    if (!agent->repair_source)
        agent->repair_source = g_timeout_add(delay_ms, vspan_agent_repair_due, agent);
}

void
vspan_agent_on_repaired(VspanAgent *agent, VspanAgentFunc func, gpointer data)
{
    agent->repaired = func;
    agent->repaired_data = data;
}

void
vspan_agent_on_watch_changed(VspanAgent *agent, VspanAgentFunc func, gpointer data)
{
    agent->watch_changed = func;
    agent->watch_changed_data = data;
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
        vspan_agent_watch_changed(agent);
        changed = TRUE;
    }
    return changed;
}

/* The domain is gone: its taps went with it; forget them and their clsact. */
static void
vspan_agent_forget(VspanAgent *agent, const char *uuid)
{
    const VspanDomain *old = g_hash_table_lookup(agent->records, uuid);

    for (guint i = 0; old && i < old->ifaces->len; i++) {
        const VspanIface *iface = old->ifaces->pdata[i];
        if (iface->target && agent->host->klass->ifindex(agent->host, iface->target) <= 0) {
            g_autoptr(GError) error = NULL;

            g_hash_table_remove(agent->host->created_clsact, iface->target);
            /* its inline tag is free again (libvirt's stopped XML no
             * longer names the tap it removed) */
            if (!agent->host->klass->inline_del(agent->host, iface->target, &error))
                g_message("%s", error->message);
        }
    }
    if (old && vspan_agent_update_appliance_ports(agent, old, FALSE))
        vspan_agent_schedule_repair(agent, 0);
    g_hash_table_remove(agent->state->domains, uuid);
    g_hash_table_remove(agent->records, uuid);
    vspan_agent_watch_changed(agent);
}

/* ---- the pipeline ------------------------------------------------------------ */

/*
 * Run @phase for @dom against the host as it is now.  @why names the
 * trigger in the log ("start", "resync", "repair", ...).  With @xml the
 * domain and its VF leases are recorded before the kernel is touched; with
 * @save_first that record is written to the state file first (write-ahead,
 * for hook calls): a vspand killed half-way leaves a record that the
 * restart completes (mirrors) or undoes (a VF of a domain that did not
 * start is reset), never a change nobody knows of.  A resync saves once at
 * its end instead.  Returns the plan, or NULL with @error when the phase
 * refused or a kernel change failed.
 */
static VspanPlan *
vspan_agent_run(VspanAgent *agent, VspanPhase phase, VspanDomain *dom, const char *xml,
                gboolean save_first, const char *why, GError **error)
{
    const VspanPhasePolicy *policy = vspan_phase_policy(phase);
    g_autoptr(VspanObserved) obs = vspan_agent_observe(agent, dom);
    g_autoptr(VspanPlan) plan = NULL;
    gboolean applied;

    if (phase == VSPAN_PHASE_PREPARE)
        vspan_pools_observe(agent->config, agent->host, agent->state, obs);
    plan = vspan_plan_build(phase, dom, agent->config, obs);
    /* a domain that is gone needs no advice */
    for (guint i = 0; !policy->forgets && i < plan->warnings->len; i++)
        g_message("%s", (char *)plan->warnings->pdata[i]);
    if (vspan_plan_refuses(plan)) {
        g_set_error_literal(error, VSPAN_ERROR, VSPAN_ERROR_REFUSED, plan->errors->pdata[0]);
        return NULL;
    }
    if (!policy->applies)
        return g_steal_pointer(&plan);

    /* leases: a stop resets only VFs still this domain's; a resync or
     * repair sets only VFs that drifted */
    if (policy->forgets)
        vspan_leases_filter_resets(agent->state, plan, dom);
    else if (phase == VSPAN_PHASE_RECONNECT)
        vspan_agent_drop_unchanged_vfs(agent, plan);

    /* record first: no record, no change */
    if (xml && !policy->forgets) {
        vspan_agent_record(agent, dom, xml, plan);
        vspan_leases_record(agent->state, plan, dom);
        if (save_first && !vspan_agent_save_full(agent, error))
            return NULL;
    }

    applied = vspan_exec_apply(agent->host, plan, error);
    /* every kernel change, once, with what and why */
    for (guint i = 0; applied && i < plan->ops->len; i++) {
        const VspanOp *op = plan->ops->pdata[i];

        if (op->type == VSPAN_OP_SINK_ENSURE)
            continue;       /* logged by vspan_sink_ensure() when it creates one */
        if (g_str_equal(why, "repair") && (op->type == VSPAN_OP_MIRROR_SET || op->type == VSPAN_OP_MIRROR_DEL))
            agent->repairs++;
        vspan_agent_log_op(plan, dom, op, why);
    }

    /* a domain that is gone is forgotten even when a reset failed */
    if (policy->forgets && *dom->uuid) {
        vspan_agent_forget(agent, dom->uuid);
        vspan_leases_drop(agent->state, NULL, dom->uuid, NULL);
    }
    if (policy->forgets || applied) {
        if (vspan_agent_update_appliance_ports(agent, dom, !policy->forgets))
            vspan_agent_schedule_repair(agent, 0);
    }
    /* a tap that passes an inline appliance now: its state is written */
    for (guint i = 0; applied && i < plan->ops->len; i++)
        if (((const VspanOp *)plan->ops->pdata[i])->type == VSPAN_OP_INLINE_SET) {
            vspan_health_evaluate(agent);
            break;
        }
    if (!applied)
        return NULL;
    return g_steal_pointer(&plan);
}

int
vspan_agent_hook(VspanAgent *agent, const char *phase_str, const char *sub, const char *xml,
                 char **message)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanPlan) plan = NULL;
    int phase = vspan_phase_from_string(phase_str);
    const VspanPhasePolicy *policy = vspan_phase_policy(phase);

    *message = NULL;
    if (!policy->sub || g_strcmp0(sub, policy->sub) != 0)
        return 0;   /* migrate, restore, the other sub-operation: nothing to do */

    dom = vspan_domain_parse(xml, strlen(xml), "domain XML", &error);
    if (!dom) {
        g_warning("%s hook: %s", phase_str, error->message);
        if (policy->refusable)
            *message = g_strdup(error->message);
        return policy->refusable ? 1 : 0;
    }
    /* between prepare and started, the domain's hooks are in charge:
     * a resync leaves it alone */
    if (phase == VSPAN_PHASE_PREPARE || phase == VSPAN_PHASE_STARTED || policy->forgets)
        g_hash_table_remove(agent->starting, dom->uuid);

    if (!policy->applies && !policy->refusable)
        return 0;   /* started: nothing that can fail */
    plan = vspan_agent_run(agent, phase, dom, xml, TRUE, phase_str, &error);
    if (plan && phase == VSPAN_PHASE_PREPARE && *dom->uuid)
        g_hash_table_add(agent->starting, g_strdup(dom->uuid));
    if (plan && policy->applies)
        vspan_agent_save(agent);
    if (plan)
        return 0;
    if (phase == VSPAN_PHASE_PREPARE)
        g_message("refused to start domain '%s': %s", dom->name, error->message);
    else
        g_message("%s of domain '%s' failed: %s", phase_str, dom->name, error->message);
    if (policy->forgets)
        vspan_agent_save(agent);
    if (!policy->refusable)
        return 0;   /* a failing reconnect hook would kill the VM */
    *message = g_strdup(error->message);
    return 1;
}

void
vspan_agent_sync(VspanAgent *agent, GPtrArray *xmls)
{
    g_autoptr(GPtrArray) doms = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_domain_free);
    g_autoptr(GHashTable) live = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer uuid, v;

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
        /* records and leases are rebuilt from libvirt's XML */
        plan = vspan_agent_run(agent, VSPAN_PHASE_RECONNECT, dom, xmls->pdata[i], FALSE, "resync", &error);
        if (!plan)
            g_message("resync of domain '%s': %s", dom->name, error->message);
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
    g_ptr_array_set_size(gone, 0);
    g_hash_table_iter_init(&it, agent->state->leases);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const VspanLease *l = v;
        if (!g_hash_table_contains(live, l->uuid) && !g_hash_table_contains(agent->starting, l->uuid) &&
            !g_ptr_array_find_with_equal_func(gone, l->uuid, g_str_equal, NULL))
            g_ptr_array_add(gone, g_strdup(l->uuid));
    }
    for (guint i = 0; i < gone->len; i++)
        vspan_leases_drop(agent->state, agent->host, gone->pdata[i], "its domain is gone");
    vspan_agent_save(agent);
}

void
vspan_agent_link_event(VspanAgent *agent, const char *dev)
{
    vspan_health_port_event(agent, dev);
}

void
vspan_agent_repair(VspanAgent *agent)
{
    g_autoptr(GPtrArray) doms = g_ptr_array_new();
    GHashTableIter it;
    gpointer v;

    agent->checks++;
    /* borrowed: a repair records nothing, so the records stay put */
    g_hash_table_iter_init(&it, agent->records);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(doms, v);
    for (guint i = 0; i < doms->len; i++) {
        VspanDomain *dom = doms->pdata[i];
        g_autoptr(GError) error = NULL;
        g_autoptr(VspanPlan) plan = NULL;
        gboolean stopping = FALSE;

        /* a domain whose taps are gone is stopping: its hooks and the
         * libvirt resync settle it */
        for (guint k = 0; k < dom->ifaces->len && !stopping; k++) {
            const VspanIface *iface = dom->ifaces->pdata[k];
            stopping = iface->target && agent->host->klass->ifindex(agent->host, iface->target) <= 0;
        }
        if (stopping)
            continue;
        plan = vspan_agent_run(agent, VSPAN_PHASE_RECONNECT, dom, NULL, FALSE, "repair", &error);
        if (!plan)
            g_message("repair of domain '%s': %s", dom->name, error->message);
    }
    vspan_agent_save(agent);
    /* a device vspan watches may have come back with a new ifindex */
    if (agent->watch_changed)
        agent->watch_changed(agent->watch_changed_data);
}
