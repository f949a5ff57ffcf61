/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspand"

/* vspanctl status and metrics: one snapshot of appliances, mirrors with
 * their kernel counters, and leases, read once (one tc dump per tap, from
 * the parsed domain records); the status text, its JSON and the Prometheus
 * exposition are all rendered from it. */

#include "vspan-agent-priv.h"
#include "vspan-bpf-params.h"
#include "vspan-json.h"

typedef struct {
    const VspanAppliance *appliance;
    const char *dev;            /* borrowed; NULL: no sink device now */
    gboolean present, carrier;
    VspanSinkStats stats;       /* what became of the copies there */
    guint sink_mtu;             /* 0: not known */
    guint big_mtu;              /* the largest MTU among the NICs mirrored to it */
    char *big_tap;              /* that NIC's device */
    gboolean tso;               /* a tap sink with TSO: super-frames reach the appliance */
} VspanSnapAppliance;

typedef struct {
    const VspanDomain *dom;     /* borrowed from agent->records */
    char *mac, *tap, *appliance;
    VspanDirection direction;
    char *filter;               /* the rule's selection; NULL: every frame */
    guint sample;
    char *ebpf;                 /* or the <program> it runs */
    guint64 packets, bytes, drops;
} VspanSnapMirror;

/* A NIC a "mirror all" rule of its domain cannot copy. */
typedef struct {
    const VspanDomain *dom;     /* borrowed from agent->records */
    char *mac, *type;
    const char *why;
} VspanSnapUnmonitored;

typedef struct {
    GArray *appliances;         /* of VspanSnapAppliance */
    GPtrArray *unmonitored;     /* of VspanSnapUnmonitored */
    GPtrArray *mirrors;         /* of VspanSnapMirror */
    GPtrArray *leases;          /* of const VspanLease*, borrowed */
} VspanSnapshot;

static void
vspan_snap_unmonitored_free(VspanSnapUnmonitored *u)
{
    g_free(u->mac);
    g_free(u->type);
    g_free(u);
}

static void
vspan_snap_mirror_free(VspanSnapMirror *m)
{
    g_free(m->mac);
    g_free(m->tap);
    g_free(m->appliance);
    g_free(m->filter);
    g_free(m->ebpf);
    g_free(m);
}

static void
vspan_snapshot_free(VspanSnapshot *s)
{
    for (guint i = 0; i < s->appliances->len; i++)
        g_free(g_array_index(s->appliances, VspanSnapAppliance, i).big_tap);
    g_array_unref(s->appliances);
    g_ptr_array_unref(s->mirrors);
    g_ptr_array_unref(s->unmonitored);
    g_ptr_array_unref(s->leases);
    g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanSnapshot, vspan_snapshot_free)

/* Sum the counters of the copies of @tap in @dir that go to @sink. */
static void
vspan_snap_count(VspanSnapMirror *m, const GPtrArray *copies, const char *sink, const char *sink_egress)
{
    /* a tap sees the VM's frames at its ingress, a macvtap at its egress */
    const VspanIface *iface = m->mac ? vspan_domain_find_iface_by_mac(m->dom, m->mac) : NULL;
    VspanHook from_vm = iface ? vspan_iface_from_vm_hook(iface) : VSPAN_HOOK_INGRESS;

    for (guint i = 0; copies && sink && i < copies->len; i++) {
        const VspanHostCopy *c = copies->pdata[i];

        if ((m->direction == VSPAN_DIRECTION_FROM_VM && c->hook != from_vm) ||
            (m->direction == VSPAN_DIRECTION_TO_VM && c->hook == from_vm) ||
            !(g_str_equal(c->sink, sink) || (sink_egress && g_str_equal(c->sink, sink_egress))))
            continue;
        m->packets += c->packets;
        m->bytes += c->bytes;
        m->drops += c->drops;
    }
}

static gint
vspan_snap_lease_cmp(gconstpointer a, gconstpointer b)
{
    const VspanLease *x = *(const VspanLease *const *)a, *y = *(const VspanLease *const *)b;
    int c = g_strcmp0(x->pf, y->pf);

    return c ? c : (x->vf > y->vf) - (x->vf < y->vf);
}

static VspanSnapshot *
vspan_snapshot_take(VspanAgent *agent)
{
    VspanSnapshot *s = g_new0(VspanSnapshot, 1);
    VspanHost *host = agent->host;
    g_autoptr(GHashTable) copies = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                                         (GDestroyNotify)g_ptr_array_unref);
    g_autoptr(VspanObserved) obs = vspan_observed_new();
    GHashTableIter it;
    gpointer v;

    s->appliances = g_array_new(FALSE, TRUE, sizeof(VspanSnapAppliance));
    s->mirrors = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_snap_mirror_free);
    s->unmonitored = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_snap_unmonitored_free);
    s->leases = g_ptr_array_new();

    for (guint i = 0; i < agent->config->appliances->len; i++) {
        VspanSnapAppliance a = { .appliance = agent->config->appliances->pdata[i] };

        a.dev = vspan_agent_sink_dev(agent, a.appliance);
        a.present = a.dev && host->klass->ifindex(host, a.dev) > 0;
        /* a tap sink has carrier while the appliance VM holds it */
        a.carrier = a.present && host->klass->carrier(host, a.dev);
        /* an interface sink's tap carries the appliance's own traffic:
         * its counters would not be the copies' */
        if (a.present && a.appliance->sink.type != VSPAN_SINK_INTERFACE)
            host->klass->sink_stats(host, a.dev, &a.stats);
        if (a.present && a.appliance->sink.dev_egress) {
            VspanSinkStats e;

            /* the twin shares its sink's program and its counters: only
             * the device's own are added */
            if (host->klass->sink_stats(host, a.appliance->sink.dev_egress, &e)) {
                a.stats.sent += e.sent;
                a.stats.unread_dropped += e.unread_dropped;
            }
        }
        g_array_append_val(s->appliances, a);
    }

    /* the mirrors each record asks for; the planner needs no kernel state
     * for that, the counters come from one read of each tap */
    g_hash_table_iter_init(&it, agent->state->appliance_ports);
    {
        gpointer k;
        while (g_hash_table_iter_next(&it, &k, &v))
            g_hash_table_replace(obs->appliance_ports, g_strdup(k), g_strdup(v));
    }
    g_hash_table_iter_init(&it, agent->records);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const VspanDomain *dom = v;
        g_autoptr(VspanPlan) plan = vspan_plan_build(VSPAN_PHASE_RECONNECT, dom, agent->config, obs);

        for (guint i = 0; i < plan->mirrors->len; i++) {
            VspanPlanMirror *pm = plan->mirrors->pdata[i];
            const VspanAppliance *a = vspan_config_find_appliance(agent->config, pm->appliance);
            VspanSnapMirror *m = g_new0(VspanSnapMirror, 1);
            GPtrArray *c = NULL;

            m->dom = dom;
            m->mac = g_steal_pointer(&pm->mac);
            m->tap = g_steal_pointer(&pm->tap);
            m->appliance = g_steal_pointer(&pm->appliance);
            m->direction = pm->direction;
            m->filter = g_steal_pointer(&pm->filter);
            m->sample = pm->sample;
            m->ebpf = g_steal_pointer(&pm->ebpf);
            if (m->tap && !(c = g_hash_table_lookup(copies, m->tap))) {
                c = host->klass->copies(host, m->tap, NULL);
                if (c)
                    g_hash_table_insert(copies, m->tap, c);
            }
            vspan_snap_count(m, c, a ? vspan_agent_sink_dev(agent, a) : NULL, a ? a->sink.dev_egress : NULL);
            g_ptr_array_add(s->mirrors, m);
        }
        for (guint i = 0; i < plan->unmonitored->len; i++) {
            VspanPlanUnmonitored *pu = plan->unmonitored->pdata[i];
            VspanSnapUnmonitored *u = g_new0(VspanSnapUnmonitored, 1);

            u->dom = dom;
            u->mac = g_steal_pointer(&pu->mac);
            u->type = g_steal_pointer(&pu->type);
            u->why = pu->why;
            g_ptr_array_add(s->unmonitored, u);
        }
    }

    /* sensor hygiene: a copy larger than the sink's MTU is dropped by a
     * veth or NIC sink, and by an appliance NIC with a smaller MTU (tunnel
     * sinks cut copies to fit instead) */
    for (guint i = 0; i < s->appliances->len; i++) {
        VspanSnapAppliance *a = &g_array_index(s->appliances, VspanSnapAppliance, i);

        if (!a->present || VSPAN_SINK_IS_TUNNEL(a->appliance->sink.type))
            continue;
        a->sink_mtu = host->klass->mtu(host, a->dev);
        /* a tap (vspan's, or the appliance's own) offloads what its guest
         * negotiated; a NIC segments on the wire */
        a->tso = a->appliance->sink.type != VSPAN_SINK_NETDEV && host->klass->tso(host, a->dev);
        for (guint k = 0; k < s->mirrors->len; k++) {
            const VspanSnapMirror *m = s->mirrors->pdata[k];
            guint mtu = m->tap && g_str_equal(m->appliance, a->appliance->name) ? host->klass->mtu(host, m->tap) : 0;

            if (mtu > a->big_mtu) {
                a->big_mtu = mtu;
                g_free(a->big_tap);
                a->big_tap = g_strdup(m->tap);
            }
        }
    }

    g_hash_table_iter_init(&it, agent->state->leases);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(s->leases, v);
    g_ptr_array_sort(s->leases, vspan_snap_lease_cmp);
    return s;
}

/* ---- status -------------------------------------------------------------- */

typedef struct {
    VspanAgent *agent;
    VspanJson *j;
    GString *text;
} VspanInlineOut;

/* One inline appliance: what its VMs' frames do and why, its ports, its
 * counters; a port that offloads TCP segmentation is named with the fix. */
static void
vspan_report_inline(const VspanHealthReport *r, gpointer data)
{
    VspanInlineOut *o = data;
    VspanHost *host = o->agent->host;
    const VspanAppliance *a = r->appliance;
    const guint64 *c = r->stats.counters;
    const char *ports[2] = { a->sink.dev, a->sink.net_side };

    vspan_json_begin_object(o->j, NULL);
    vspan_json_string(o->j, "name", a->name);
    vspan_json_string(o->j, "domain", a->domain);
    vspan_json_string(o->j, "vm_side", a->sink.dev);
    vspan_json_string(o->j, "net_side", a->sink.net_side);
    vspan_json_string(o->j, "on_failure", vspan_on_failure_to_string(a->on_failure));
    vspan_json_string(o->j, "state", r->state);
    vspan_json_string(o->j, "why", r->why);
    vspan_json_int(o->j, "seconds", r->seconds);
    vspan_json_uint(o->j, "switches", r->switches);
    vspan_json_uint(o->j, "vms", r->stats.vms);
    vspan_json_bool(o->j, "canary", a->health.canary);
    vspan_json_uint(o->j, "canaries_sent", r->canaries_sent);
    vspan_json_uint(o->j, "canaries_back", MIN(r->stats.canary[0], r->stats.canary[1]));
    vspan_json_uint(o->j, "to_appliance", c[VSPAN_INLINE_TO_APPLIANCE]);
    vspan_json_uint(o->j, "from_appliance", c[VSPAN_INLINE_FROM_APPLIANCE]);
    vspan_json_uint(o->j, "inspected_once", c[VSPAN_INLINE_SEEN_ONCE]);
    vspan_json_uint(o->j, "bypassed", c[VSPAN_INLINE_BYPASSED]);
    vspan_json_uint(o->j, "blocked", c[VSPAN_INLINE_BLOCKED]);
    vspan_json_uint(o->j, "dropped_unknown_tag", c[VSPAN_INLINE_UNKNOWN_TAG]);
    vspan_json_uint(o->j, "dropped_foreign_mac", c[VSPAN_INLINE_FOREIGN_MAC]);
    vspan_json_uint(o->j, "dropped_no_room", c[VSPAN_INLINE_PUSH_FAILED]);
    vspan_json_end_object(o->j);

    g_string_append_printf(o->text, "inline appliance %s (domain %s): %s (%s) for %" G_GINT64_FORMAT " s, %" G_GUINT64_FORMAT " switches; on failure: %s\n",
                           a->name, a->domain, r->state, r->why, r->seconds, r->switches,
                           vspan_on_failure_to_string(a->on_failure));
    g_string_append_printf(o->text, "  ports: vm-side %s (%s), net-side %s (%s); %u VMs", a->sink.dev,
                           host->klass->carrier(host, a->sink.dev) ? "carrier" : "no carrier", a->sink.net_side,
                           host->klass->carrier(host, a->sink.net_side) ? "carrier" : "no carrier", r->stats.vms);
    if (a->health.canary)
        g_string_append_printf(o->text, "; canaries %" G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT " back",
                               r->canaries_sent, MIN(r->stats.canary[0], r->stats.canary[1]));
    g_string_append_printf(o->text, "\n  frames: %" G_GUINT64_FORMAT " to it, %" G_GUINT64_FORMAT " back, %" G_GUINT64_FORMAT
                                    " between its VMs inspected once, %" G_GUINT64_FORMAT " bypassed, %" G_GUINT64_FORMAT
                                    " blocked; from it dropped: %" G_GUINT64_FORMAT " untagged or unknown tag, %" G_GUINT64_FORMAT " foreign MAC\n",
                           c[VSPAN_INLINE_TO_APPLIANCE], c[VSPAN_INLINE_FROM_APPLIANCE], c[VSPAN_INLINE_SEEN_ONCE],
                           c[VSPAN_INLINE_BYPASSED], c[VSPAN_INLINE_BLOCKED], c[VSPAN_INLINE_UNKNOWN_TAG],
                           c[VSPAN_INLINE_FOREIGN_MAC]);
    for (guint k = 0; k < 2; k++)
        if (host->klass->ifindex(host, ports[k]) > 0 && host->klass->tso(host, ports[k]))
            g_string_append_printf(o->text, "  warning: %s takes TCP segmentation offload (the appliance's NIC negotiated it): the VMs' large sends reach the appliance as super-frames of up to 64 KB with partial checksums, which an IPS drops as invalid unless it skips checksum validation; turn it off on the appliance's inline interfaces (a VM: <driver><guest tso4='off' tso6='off' ecn='off' ufo='off'/></driver>; a container: ethtool -K %s tso off gso off) or turn off its checksum validation\n",
                                   ports[k], ports[k]);
}

char *
vspan_agent_status(VspanAgent *agent, char **text_out)
{
    g_autoptr(VspanSnapshot) s = vspan_snapshot_take(agent);
    g_autoptr(GString) text = g_string_new(NULL);
    const char *cls = vspan_classifier_to_string(agent->host->classifier);
    guint ndomains = g_hash_table_size(agent->state->domains);
    VspanJson j;

    vspan_json_init(&j);
    vspan_json_begin_object(&j, NULL);
    vspan_json_begin_array(&j, "appliances");
    for (guint i = 0; i < s->appliances->len; i++) {
        const VspanSnapAppliance *sa = &g_array_index(s->appliances, VspanSnapAppliance, i);
        const VspanAppliance *a = sa->appliance;
        guint n = 0;

        if (a->inline_mode)
            continue;   /* below: they get no copies */
        vspan_json_begin_object(&j, NULL);
        vspan_json_string(&j, "name", a->name);
        vspan_json_string(&j, "domain", a->domain);
        vspan_json_string(&j, "sink_type", vspan_sink_type_to_string(a->sink.type));
        vspan_json_string(&j, "sink_dev", sa->dev);
        vspan_json_bool(&j, "sink_present", sa->present);
        vspan_json_bool(&j, "sink_carrier", sa->carrier);
        if (a->sink.snaplen)
            vspan_json_uint(&j, "snaplen", a->sink.snaplen);
        if (a->sink.max_rate)
            vspan_json_uint(&j, a->sink.max_rate_pps ? "max_rate_pps" : "max_rate_bps", a->sink.max_rate);
        if (sa->sink_mtu)
            vspan_json_uint(&j, "sink_mtu", sa->sink_mtu);
        if (sa->big_mtu)
            vspan_json_uint(&j, "largest_mirrored_mtu", sa->big_mtu);
        if (sa->present && !VSPAN_SINK_IS_TUNNEL(a->sink.type))
            vspan_json_bool(&j, "sink_tso", sa->tso);
        if (a->sink.type != VSPAN_SINK_INTERFACE) {
            vspan_json_uint(&j, "copies_sent", sa->stats.sent);
            vspan_json_uint(&j, "copies_truncated", sa->stats.truncated);
            vspan_json_uint(&j, "copies_rate_dropped", sa->stats.rate_dropped);
            vspan_json_uint(&j, "copies_unread_dropped", sa->stats.unread_dropped);
        }
        vspan_json_end_object(&j);

        g_string_append_printf(text, "appliance %s (domain %s): %s sink %s, %s\n", a->name, a->domain,
                               vspan_sink_type_to_string(a->sink.type), sa->dev ? sa->dev : "-",
                               !sa->present ? "missing" : sa->carrier ? "appliance attached"
                                                                      : "no appliance attached, copies are dropped");
        if (sa->present && a->sink.type != VSPAN_SINK_INTERFACE)
            g_string_append_printf(text, "  copies: %" G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT " truncated (snaplen %u), %"
                                         G_GUINT64_FORMAT " dropped by max-rate, %" G_GUINT64_FORMAT " dropped unread\n",
                                   sa->stats.sent, sa->stats.truncated, a->sink.snaplen, sa->stats.rate_dropped,
                                   sa->stats.unread_dropped);
        if (sa->sink_mtu && sa->big_mtu > sa->sink_mtu)
            g_string_append_printf(text, "  warning: %s has MTU %u and mirrors NIC %s with MTU %u: larger copies are dropped by a veth or NIC sink and by an appliance NIC with the smaller MTU; raise both to %u (ip link set %s mtu %u; the appliance's <mtu size='%u'/>)\n",
                                   sa->dev, sa->sink_mtu, sa->big_tap, sa->big_mtu, sa->big_mtu, sa->dev, sa->big_mtu,
                                   sa->big_mtu);
        if (sa->present && a->sink.type != VSPAN_SINK_INTERFACE && sa->stats.unread_dropped)
            g_string_append_printf(text, "  warning: %s dropped %" G_GUINT64_FORMAT " copies unread: the appliance is down or not reading them (its NIC down, or its capture stopped); start it, or check its capture interface\n",
                                   sa->dev, sa->stats.unread_dropped);
        if (sa->tso)
            g_string_append_printf(text, "  warning: %s takes TCP segmentation offload (the appliance's NIC negotiated it): copies of large sends arrive as super-frames of up to 64 KB, which Suricata and Zeek report as truncated packets; turn it off on the appliance's interface: <driver><guest tso4='off' tso6='off' ecn='off' ufo='off'/></driver>\n",
                                   sa->dev);
        g_string_append_printf(text, "  %-14s %-17s %-15s %-9s %12s %14s %10s\n", "DOMAIN", "MAC", "TAP",
                               "DIRECTION", "PACKETS", "BYTES", "DROPS");
        for (guint k = 0; k < s->mirrors->len; k++) {
            const VspanSnapMirror *m = s->mirrors->pdata[k];
            if (!g_str_equal(m->appliance, a->name))
                continue;
            g_string_append_printf(text, "  %-14s %-17s %-15s %-9s %12" G_GUINT64_FORMAT " %14" G_GUINT64_FORMAT " %10" G_GUINT64_FORMAT,
                                   m->dom->name, m->mac ? m->mac : "-", m->tap ? m->tap : "-",
                                   vspan_direction_to_string(m->direction), m->packets, m->bytes, m->drops);
            if (m->filter || m->sample || m->ebpf) {
                VspanSelect sel = { m->filter, m->sample, m->ebpf };
                g_autofree char *what = vspan_select_describe(&sel);
                g_string_append_printf(text, "  [%s]", what);
            }
            g_string_append_c(text, '\n');
            n++;
        }
        if (n == 0)
            g_string_append(text, "  (no mirrors)\n");
    }
    vspan_json_end_array(&j);

    vspan_json_begin_array(&j, "inline");
    vspan_health_foreach(agent, vspan_report_inline, &(VspanInlineOut){ agent, &j, text });
    vspan_json_end_array(&j);

    vspan_json_begin_array(&j, "mirrors");
    for (guint k = 0; k < s->mirrors->len; k++) {
        const VspanSnapMirror *m = s->mirrors->pdata[k];
        vspan_json_begin_object(&j, NULL);
        vspan_json_string(&j, "domain", m->dom->name);
        vspan_json_string(&j, "uuid", m->dom->uuid);
        vspan_json_string(&j, "mac", m->mac);
        vspan_json_string(&j, "tap", m->tap);
        vspan_json_string(&j, "appliance", m->appliance);
        vspan_json_string(&j, "direction", vspan_direction_to_string(m->direction));
        if (m->ebpf)
            vspan_json_string(&j, "program", m->ebpf);
        if (m->filter)
            vspan_json_string(&j, "filter", m->filter);
        if (m->sample)
            vspan_json_uint(&j, "sample", m->sample);
        vspan_json_uint(&j, "packets", m->packets);
        vspan_json_uint(&j, "bytes", m->bytes);
        vspan_json_uint(&j, "drops", m->drops);
        vspan_json_end_object(&j);
    }
    vspan_json_end_array(&j);

    /* NICs that "mirror all" could not copy: silence must not look like "ok" */
    vspan_json_begin_array(&j, "unmonitored");
    for (guint k = 0; k < s->unmonitored->len; k++) {
        const VspanSnapUnmonitored *u = s->unmonitored->pdata[k];
        vspan_json_begin_object(&j, NULL);
        vspan_json_string(&j, "domain", u->dom->name);
        vspan_json_string(&j, "mac", u->mac);
        vspan_json_string(&j, "type", u->type);
        vspan_json_string(&j, "why", u->why);
        vspan_json_end_object(&j);
        if (k == 0)
            g_string_append(text, "unmonitored (asked for, cannot be mirrored):\n");
        g_string_append_printf(text, "  %-14s %-17s %-10s %s\n", u->dom->name, u->mac ? u->mac : "-", u->type, u->why);
    }
    vspan_json_end_array(&j);

    vspan_json_begin_array(&j, "vf_leases");
    for (guint k = 0; k < s->leases->len; k++) {
        const VspanLease *l = s->leases->pdata[k];
        const VspanPool *pool = vspan_config_find_pool_by_vf(agent->config, l->pf, l->vf);

        vspan_json_begin_object(&j, NULL);
        vspan_json_string(&j, "pf", l->pf);
        vspan_json_uint(&j, "vf", l->vf);
        vspan_json_string(&j, "pool", pool ? pool->name : NULL);
        vspan_json_string(&j, "domain", l->name);
        vspan_json_string(&j, "uuid", l->uuid);
        vspan_json_uint(&j, "generation", l->generation);
        vspan_json_end_object(&j);
        if (k == 0)
            g_string_append_printf(text, "VF leases:\n  %-12s %4s %-10s %-14s %s\n", "PF", "VF", "POOL", "DOMAIN", "GENERATION");
        g_string_append_printf(text, "  %-12s %4u %-10s %-14s %" G_GUINT64_FORMAT "\n", l->pf, l->vf,
                               pool ? pool->name : "-", l->name, l->generation);
    }
    vspan_json_end_array(&j);

    vspan_json_begin_object(&j, "agent");
    vspan_json_string(&j, "classifier", cls);
    vspan_json_uint(&j, "domains", ndomains);
    vspan_json_uint(&j, "repairs", agent->repairs);
    vspan_json_uint(&j, "checks", agent->checks);
    vspan_json_uint(&j, "reconnects", agent->reconnects);
    vspan_json_end_object(&j);
    vspan_json_end_object(&j);
    g_string_append_printf(text, "agent: %u domains managed, %" G_GUINT64_FORMAT " repairs, %" G_GUINT64_FORMAT " libvirt reconnects, classifier %s\n",
                           ndomains, agent->repairs, agent->reconnects, cls);
    *text_out = g_string_free(g_steal_pointer(&text), FALSE);
    return vspan_json_finish(&j);
}

/* ---- metrics ------------------------------------------------------------- */

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

static void
vspan_metrics_inline_state(const VspanHealthReport *r, gpointer data)
{
    g_string_append(data, "vspan_inline_through{");
    vspan_prom_label(data, "appliance", r->appliance->name, TRUE);
    g_string_append_printf(data, "} %d\n", g_str_equal(r->state, "through"));
}

static void
vspan_metrics_inline_switches(const VspanHealthReport *r, gpointer data)
{
    g_string_append(data, "vspan_inline_switches_total{");
    vspan_prom_label(data, "appliance", r->appliance->name, TRUE);
    g_string_append_printf(data, "} %" G_GUINT64_FORMAT "\n", r->switches);
}

static void
vspan_metrics_inline_frames(const VspanHealthReport *r, gpointer data)
{
    static const struct {
        const char *what;
        guint counter;
    } kinds[] = {
        { "to_appliance", VSPAN_INLINE_TO_APPLIANCE },
        { "from_appliance", VSPAN_INLINE_FROM_APPLIANCE },
        { "inspected_once", VSPAN_INLINE_SEEN_ONCE },
        { "bypassed", VSPAN_INLINE_BYPASSED },
        { "blocked", VSPAN_INLINE_BLOCKED },
        { "dropped_unknown_tag", VSPAN_INLINE_UNKNOWN_TAG },
        { "dropped_foreign_mac", VSPAN_INLINE_FOREIGN_MAC },
        { "dropped_no_room", VSPAN_INLINE_PUSH_FAILED },
    };

    for (guint k = 0; k < G_N_ELEMENTS(kinds); k++) {
        g_string_append(data, "vspan_inline_frames_total{");
        vspan_prom_label(data, "appliance", r->appliance->name, TRUE);
        vspan_prom_label(data, "what", kinds[k].what, FALSE);
        g_string_append_printf(data, "} %" G_GUINT64_FORMAT "\n", r->stats.counters[kinds[k].counter]);
    }
}

char *
vspan_agent_metrics(VspanAgent *agent)
{
    g_autoptr(VspanSnapshot) snap = vspan_snapshot_take(agent);
    g_autoptr(GString) s = g_string_new(NULL);
    static const struct {
        const char *name, *help;
        gsize offset;
    } counters[] = {
        { "vspan_mirror_packets_total", "Frames seen by the mirror (copies attempted).", G_STRUCT_OFFSET(VspanSnapMirror, packets) },
        { "vspan_mirror_bytes_total", "Bytes of those frames as the kernel counts them.", G_STRUCT_OFFSET(VspanSnapMirror, bytes) },
        { "vspan_mirror_dropped_copies_total", "Copies the sink did not take (sink down or gone).", G_STRUCT_OFFSET(VspanSnapMirror, drops) },
    };

    for (guint c = 0; c < G_N_ELEMENTS(counters); c++) {
        g_string_append_printf(s, "# HELP %s %s\n# TYPE %s counter\n", counters[c].name, counters[c].help, counters[c].name);
        for (guint i = 0; i < snap->mirrors->len; i++) {
            const VspanSnapMirror *m = snap->mirrors->pdata[i];
            g_string_append_printf(s, "%s{", counters[c].name);
            vspan_prom_label(s, "domain", m->dom->name, TRUE);
            vspan_prom_label(s, "mac", m->mac, FALSE);
            vspan_prom_label(s, "tap", m->tap, FALSE);
            vspan_prom_label(s, "appliance", m->appliance, FALSE);
            vspan_prom_label(s, "direction", vspan_direction_to_string(m->direction), FALSE);
            g_string_append_printf(s, "} %" G_GUINT64_FORMAT "\n", G_STRUCT_MEMBER(guint64, m, counters[c].offset));
        }
    }
    g_string_append(s, "# HELP vspan_sink_up Whether the appliance's sink exists and has carrier (1) or not (0).\n"
                       "# TYPE vspan_sink_up gauge\n");
    for (guint i = 0; i < snap->appliances->len; i++) {
        const VspanSnapAppliance *a = &g_array_index(snap->appliances, VspanSnapAppliance, i);

        if (a->appliance->inline_mode)
            continue;   /* no copies: vspan_inline_* below */
        g_string_append(s, "vspan_sink_up{");
        vspan_prom_label(s, "appliance", a->appliance->name, TRUE);
        vspan_prom_label(s, "type", vspan_sink_type_to_string(a->appliance->sink.type), FALSE);
        vspan_prom_label(s, "dev", a->dev, FALSE);
        g_string_append_printf(s, "} %d\n", a->carrier);
    }
    {
        static const struct { const char *name, *help; gsize offset; } sink_counters[] = {
            { "vspan_sink_copies_sent_total", "Copies the sink sent on (to the appliance, the wire or the tunnel).", G_STRUCT_OFFSET(VspanSinkStats, sent) },
            { "vspan_sink_copies_truncated_total", "Copies cut to the sink's snaplen.", G_STRUCT_OFFSET(VspanSinkStats, truncated) },
            { "vspan_sink_copies_rate_dropped_total", "Copies dropped by the sink's max-rate.", G_STRUCT_OFFSET(VspanSinkStats, rate_dropped) },
            { "vspan_sink_copies_unread_dropped_total", "Copies the sink device dropped because the appliance was not reading.", G_STRUCT_OFFSET(VspanSinkStats, unread_dropped) },
        };
        for (guint c = 0; c < G_N_ELEMENTS(sink_counters); c++) {
            g_string_append_printf(s, "# HELP %s %s\n# TYPE %s counter\n", sink_counters[c].name,
                                   sink_counters[c].help, sink_counters[c].name);
            for (guint i = 0; i < snap->appliances->len; i++) {
                const VspanSnapAppliance *a = &g_array_index(snap->appliances, VspanSnapAppliance, i);

                if (!a->present || a->appliance->sink.type == VSPAN_SINK_INTERFACE || a->appliance->inline_mode)
                    continue;
                g_string_append_printf(s, "%s{", sink_counters[c].name);
                vspan_prom_label(s, "appliance", a->appliance->name, TRUE);
                vspan_prom_label(s, "dev", a->dev, FALSE);
                g_string_append_printf(s, "} %" G_GUINT64_FORMAT "\n",
                                       G_STRUCT_MEMBER(guint64, &a->stats, sink_counters[c].offset));
            }
        }
    }
    g_string_append(s, "# HELP vspan_inline_through Whether the inline appliance's VMs pass through it (1) or go around it or are cut off (0).\n"
                       "# TYPE vspan_inline_through gauge\n");
    vspan_health_foreach(agent, vspan_metrics_inline_state, s);
    g_string_append(s, "# HELP vspan_inline_switches_total Switches between through, bypass and block.\n"
                       "# TYPE vspan_inline_switches_total counter\n");
    vspan_health_foreach(agent, vspan_metrics_inline_switches, s);
    g_string_append(s, "# HELP vspan_inline_frames_total Frames of the inline appliance's VMs, by what became of them.\n"
                       "# TYPE vspan_inline_frames_total counter\n");
    vspan_health_foreach(agent, vspan_metrics_inline_frames, s);
    g_string_append(s, "# HELP vspan_vf_lease_generation Generation of each VF lease.\n# TYPE vspan_vf_lease_generation gauge\n");
    for (guint i = 0; i < snap->leases->len; i++) {
        const VspanLease *l = snap->leases->pdata[i];
        g_autofree char *vf = g_strdup_printf("%u", l->vf);

        g_string_append(s, "vspan_vf_lease_generation{");
        vspan_prom_label(s, "pf", l->pf, TRUE);
        vspan_prom_label(s, "vf", vf, FALSE);
        vspan_prom_label(s, "domain", l->name, FALSE);
        g_string_append_printf(s, "} %" G_GUINT64_FORMAT "\n", l->generation);
    }
    g_string_append(s, "# HELP vspan_unmonitored_interface A NIC a domain asked to have mirrored that cannot be (1 each).\n"
                       "# TYPE vspan_unmonitored_interface gauge\n");
    for (guint i = 0; i < snap->unmonitored->len; i++) {
        const VspanSnapUnmonitored *u = snap->unmonitored->pdata[i];

        g_string_append(s, "vspan_unmonitored_interface{");
        vspan_prom_label(s, "domain", u->dom->name, TRUE);
        vspan_prom_label(s, "mac", u->mac, FALSE);
        vspan_prom_label(s, "type", u->type, FALSE);
        g_string_append(s, "} 1\n");
    }
    g_string_append_printf(s, "# HELP vspan_repairs_total Mirror filters vspand restored after they were changed behind its back.\n"
                              "# TYPE vspan_repairs_total counter\nvspan_repairs_total %" G_GUINT64_FORMAT "\n"
                              "# HELP vspan_libvirt_reconnects_total Times vspand lost and re-established its libvirt connection.\n"
                              "# TYPE vspan_libvirt_reconnects_total counter\nvspan_libvirt_reconnects_total %" G_GUINT64_FORMAT "\n",
                           agent->repairs, agent->reconnects);
    return g_string_free(g_steal_pointer(&s), FALSE);
}
