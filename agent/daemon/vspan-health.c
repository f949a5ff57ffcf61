/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-health"

/*
 * Inline appliances: whether each one is healthy, and what its VMs'
 * frames do because of it.
 *
 * Healthy = both ports have carrier and, with <health canary="on">, the
 * canaries come back: every interval vspand sends one frame of a private
 * ethertype into each port, and the appliance's programs record the last
 * one that came out of the other.  fail-after canaries missing in a row
 * fail the appliance; the newest one back restores it.  Carrier is read
 * on every rtnetlink event of a port, so a carrier loss switches within
 * milliseconds, a hang within fail-after intervals.
 *
 * A failed appliance's VMs bypass it (on-failure="bypass") or lose their
 * traffic (on-failure="block"); every switch is logged and counted.
 */

#include "vspan-agent-priv.h"
#include "vspan-bpf-params.h"
#include "vspan-log.h"

struct VspanHealthEntry {
    VspanAgent *agent;
    char *name;
    guint timer;
    guint64 seq;            /* the last canary sent */
    gboolean carrier;
    gboolean canary_ok;
    gboolean known;         /* a state was written */
    guint state;
    const char *why;        /* static text: why it is in that state */
    guint64 switches;
    gint64 since;           /* monotonic us of the last switch */
};

static const char *
vspan_health_state_name(guint state)
{
    return state == VSPAN_INLINE_THROUGH ? "through" : state == VSPAN_INLINE_BLOCK ? "block" : "bypass";
}

static void
vspan_health_entry_free(VspanHealthEntry *e)
{
    g_clear_handle_id(&e->timer, g_source_remove);
    g_free(e->name);
    g_free(e);
}

static const VspanAppliance *
vspan_health_appliance(VspanHealthEntry *e)
{
    const VspanAppliance *a = vspan_config_find_appliance(e->agent->config, e->name);

    return a && a->inline_mode ? a : NULL;
}

/* Write what the appliance's state says its VMs' frames do. */
static void
vspan_health_apply(VspanHealthEntry *e)
{
    VspanHost *host = e->agent->host;
    const VspanAppliance *a = vspan_health_appliance(e);
    guint want;
    const char *why;

    if (!a)
        return;
    e->carrier = host->klass->carrier(host, a->sink.dev) && host->klass->carrier(host, a->sink.net_side);
    if (!e->carrier)
        why = "a port has no carrier (the appliance is down or gone)";
    else if (a->health.canary && !e->canary_ok && e->seq <= a->health.fail_after)
        why = "its first canaries are not back yet";
    else if (a->health.canary && !e->canary_ok)
        why = "its canaries do not come back (the appliance is up but does not forward)";
    else
        why = "healthy";
    want = e->carrier && (!a->health.canary || e->canary_ok) ? VSPAN_INLINE_THROUGH
         : a->on_failure == VSPAN_ON_FAILURE_BLOCK ? VSPAN_INLINE_BLOCK : VSPAN_INLINE_BYPASS;
    if (!host->klass->inline_state_set(host, a->name, want))
        return;     /* its programs are not loaded (no VM passes it yet) */
    if (e->known && want == e->state)
        return;
    if (e->known) {
        e->switches++;
        vspan_log_event(want == VSPAN_INLINE_THROUGH ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING,
                        &(VspanLogFields){ .appliance = a->name, .op = "inline-switch" },
                        "inline appliance '%s': %s -> %s: %s", a->name, vspan_health_state_name(e->state),
                        vspan_health_state_name(want), why);
    } else {
        vspan_log_event(G_LOG_LEVEL_INFO, &(VspanLogFields){ .appliance = a->name, .op = "inline-switch" },
                        "inline appliance '%s': %s: %s", a->name, vspan_health_state_name(want), why);
    }
    e->known = TRUE;
    e->state = want;
    e->why = why;
    e->since = g_get_monotonic_time();
}

static gboolean
vspan_health_tick(gpointer data)
{
    VspanHealthEntry *e = data;
    VspanHost *host = e->agent->host;
    const VspanAppliance *a = vspan_health_appliance(e);
    VspanInlineStats st;

    if (!a || !host->klass->inline_stats(host, a->name, &st))
        return G_SOURCE_CONTINUE;
    if (e->seq > 0) {
        gboolean ok_before = e->canary_ok;
        guint64 back = MIN(st.canary[0], st.canary[1]);
        guint64 missing = e->seq > back ? e->seq - back : 0;

        /* the newest back: healthy again; fail-after missing: failed */
        if (missing == 0)
            e->canary_ok = TRUE;
        else if (missing >= a->health.fail_after)
            e->canary_ok = FALSE;
        if (e->canary_ok != ok_before)
            g_debug("inline appliance '%s': canaries %s (%" G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT " back)",
                    a->name, e->canary_ok ? "back" : "missing", e->seq, back);
    }
    host->klass->inline_canary(host, a->name, ++e->seq);
    vspan_health_apply(e);
    return G_SOURCE_CONTINUE;
}

void
vspan_health_sync(VspanAgent *agent)
{
    g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    VspanHealthEntry *e;
    const char *name;

    if (!agent->health)
        agent->health = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                              (GDestroyNotify)vspan_health_entry_free);
    for (guint i = 0; i < agent->config->appliances->len; i++) {
        const VspanAppliance *a = agent->config->appliances->pdata[i];

        if (!a->inline_mode)
            continue;
        g_hash_table_add(keep, a->name);
        e = g_hash_table_lookup(agent->health, a->name);
        if (!e) {
            e = g_new0(VspanHealthEntry, 1);
            e->agent = agent;
            e->name = g_strdup(a->name);
            /* with canaries: failed until the first one is back (a
             * restarted vspand never sends frames into an appliance it has
             * not seen forward); without: carrier alone */
            e->canary_ok = !a->health.canary;
            g_hash_table_insert(agent->health, e->name, e);
        }
        g_clear_handle_id(&e->timer, g_source_remove);
        if (a->health.canary)
            e->timer = g_timeout_add(a->health.interval_ms, vspan_health_tick, e);
        else
            e->canary_ok = TRUE;
        vspan_health_apply(e);
    }
    g_hash_table_iter_init(&it, agent->health);
    while (g_hash_table_iter_next(&it, (gpointer *)&name, (gpointer *)&e))
        if (!g_hash_table_contains(keep, name))
            g_hash_table_iter_remove(&it);
}

void
vspan_health_free(VspanAgent *agent)
{
    g_clear_pointer(&agent->health, g_hash_table_unref);
}

void
vspan_health_evaluate(VspanAgent *agent)
{
    GHashTableIter it;
    VspanHealthEntry *e;

    if (!agent->health)
        return;
    g_hash_table_iter_init(&it, agent->health);
    while (g_hash_table_iter_next(&it, NULL, (gpointer *)&e))
        vspan_health_apply(e);
}

gboolean
vspan_health_port_event(VspanAgent *agent, const char *dev)
{
    const VspanAppliance *a = vspan_config_find_sink_dev(agent->config, dev);
    VspanHealthEntry *e = a && a->inline_mode && agent->health ? g_hash_table_lookup(agent->health, a->name) : NULL;
    g_autoptr(GError) error = NULL;

    if (!e)
        return FALSE;
    /* first what the VMs' frames do (the port may be gone), then the
     * programs onto a port that came back */
    vspan_health_apply(e);
    if (!e->carrier && agent->host->klass->ifindex(agent->host, dev) <= 0)
        return TRUE;
    if (!agent->host->klass->inline_ports(agent->host, a, &error))
        g_debug("inline appliance '%s': %s", a->name, error->message);
    vspan_health_apply(e);
    return TRUE;
}

void
vspan_health_foreach(VspanAgent *agent, VspanHealthFunc func, gpointer data)
{
    for (guint i = 0; agent->health && i < agent->config->appliances->len; i++) {
        const VspanAppliance *a = agent->config->appliances->pdata[i];
        VspanHealthEntry *e = a->inline_mode ? g_hash_table_lookup(agent->health, a->name) : NULL;
        VspanHealthReport r = { 0 };

        if (!e)
            continue;
        r.appliance = a;
        r.loaded = agent->host->klass->inline_stats(agent->host, a->name, &r.stats);
        r.state = e->known ? vspan_health_state_name(e->state) : "not loaded";
        r.why = e->why ? e->why : "no VM passes it yet";
        r.switches = e->switches;
        r.canaries_sent = e->seq;
        r.seconds = e->known ? (g_get_monotonic_time() - e->since) / G_USEC_PER_SEC : 0;
        func(&r, data);
    }
}
