/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-plan"

#include "vspan-json.h"
#include "vspan-plan.h"
#include "vspan-select.h"

/*
 * The planner is pure: it reads the domain, the host config and what the
 * agent observed, and writes down what must happen.  Nothing here touches
 * the kernel, the disk or libvirt, so every decision is testable without
 * root (tests/data/plan/).
 *
 * Why one file of ~850 lines: it is one decision -- which NICs are whose,
 * which rule applies, what policy allows -- read top to bottom in the order
 * the planner takes it, with the text and JSON printers of its result.
 * Split, each rule would need the others' private state.
 */

VSPAN_ENUM_IMPL(VspanOpType, op_type, VSPAN_OP_LAST,
                "sink-ensure", "qdisc-ensure", "mirror-set", "mirror-del",
                "select-set", "select-del", "tag-set", "tag-del", "vf-set", "vf-reset",
                "inline-set", "inline-del")

static void
vspan_op_free(VspanOp *op)
{
    if (!op)
        return;
    g_free(op->dev);
    g_strfreev(op->sinks);
    if (op->program)
        g_bytes_unref(op->program);
    g_free(op->ebpf);
    g_free(op->pci);
    g_free(op->domain_uuid);
    g_free(op);
}

static void
vspan_plan_mirror_free(VspanPlanMirror *m)
{
    if (!m)
        return;
    g_free(m->mac);
    g_free(m->tap);
    g_free(m->appliance);
    g_free(m->filter);
    g_free(m->ebpf);
    if (m->program)
        g_bytes_unref(m->program);
    g_free(m);
}

static void
vspan_plan_vf_free(VspanPlanVf *v)
{
    if (!v)
        return;
    g_free(v->mac);
    g_free(v->pci);
    g_free(v->pf);
    g_free(v->pool);
    g_free(v);
}

static void
vspan_plan_unmonitored_free(VspanPlanUnmonitored *u)
{
    g_free(u->mac);
    g_free(u->type);
    g_free(u);
}

void
vspan_plan_free(VspanPlan *plan)
{
    if (!plan)
        return;
    g_ptr_array_unref(plan->unmonitored);
    g_free(plan->domain_name);
    g_free(plan->domain_uuid);
    g_ptr_array_unref(plan->mirrors);
    g_ptr_array_unref(plan->vfs);
    g_ptr_array_unref(plan->ops);
    g_ptr_array_unref(plan->errors);
    g_ptr_array_unref(plan->warnings);
    g_free(plan);
}

gboolean
vspan_plan_refuses(const VspanPlan *plan)
{
    return plan->errors->len > 0;
}

G_GNUC_PRINTF(2, 3) static void
vspan_plan_error(VspanPlan *plan, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(plan->errors, vspan_message_vprintf(fmt, ap));
    va_end(ap);
}

G_GNUC_PRINTF(2, 3) static void
vspan_plan_warning(VspanPlan *plan, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(plan->warnings, vspan_message_vprintf(fmt, ap));
    va_end(ap);
}

static VspanOp *
vspan_plan_add_op(VspanPlan *plan, VspanOpType type, const char *dev)
{
    VspanOp *op = g_new0(VspanOp, 1);

    op->type = type;
    op->dev = g_strdup(dev);
    g_ptr_array_add(plan->ops, op);
    return op;
}

/* ---- mirrors ------------------------------------------------------------ */

/* One rule on one NIC: an (interface, appliance) pair with its merged
 * direction and its selection. */
typedef struct {
    VspanIface *iface;
    const VspanAppliance *appliance;
    guint appliance_index;
    gboolean hooks[VSPAN_HOOK_LAST];
    const VspanSelect *select;  /* borrowed from the domain or the config */
    const char *where;          /* the rule's element, for messages */
    gboolean from_policy;
    GBytes *program;            /* NULL: selects every frame */
    gboolean program_live;
} VspanMirrorTarget;

static void
vspan_mirror_target_free(VspanMirrorTarget *t)
{
    if (t->program)
        g_bytes_unref(t->program);
    g_free(t);
}

typedef struct {
    VspanPlan *plan;
    const VspanDomain *dom;
    const VspanConfig *config;
    const VspanObserved *obs;
    GPtrArray *targets;         /* of VspanMirrorTarget, insertion order */
    GHashTable *target_index;   /* "iface-ptr/appliance" -> VspanMirrorTarget */
    GHashTable *pending;        /* appliances without a sink device yet */
    GPtrArray *inline_ifaces;   /* of VspanIface: the NICs that pass an inline appliance */
    GHashTable *inline_of;      /* VspanIface -> its inline VspanAppliance */
} VspanPlanner;

static guint
vspan_appliance_index(const VspanConfig *config, const VspanAppliance *a)
{
    for (guint i = 0; i < config->appliances->len; i++)
        if (config->appliances->pdata[i] == a)
            return i;
    g_assert_not_reached();
}

static void
vspan_planner_add_target(VspanPlanner *p, VspanIface *iface, const VspanAppliance *a,
                         VspanDirection direction, const VspanSelect *sel, const char *where,
                         gboolean from_policy)
{
    g_autofree char *key = g_strdup_printf("%p/%s", (void *)iface, a->name);
    VspanMirrorTarget *t = g_hash_table_lookup(p->target_index, key);

    /* Guard: a sink device is never itself mirrored, or copies would loop. */
    if (iface->target) {
        const VspanAppliance *owner = vspan_config_find_sink_dev(p->config, iface->target);
        if (owner) {
            vspan_plan_warning(p->plan,
                               "domain '%s': tap '%s' is the sink of appliance '%s' and is not mirrored",
                               p->dom->name, iface->target, owner->name);
            return;
        }
    }
    if (t && !vspan_select_equal(t->select, sel)) {
        /* One rule per NIC and appliance: a frame is copied to an
         * appliance once, so two selections would have to be merged, and
         * that is the writer's choice, not vspan's. */
        g_autofree char *desc = vspan_iface_describe(iface);
        g_autofree char *mine = vspan_select_describe(sel);
        g_autofree char *theirs = vspan_select_describe(t->select);

        if (from_policy || t->from_policy)
            /* the host admin's <mirror bridge> holds; the tenant's rule is dropped */
            vspan_plan_warning(p->plan,
                               "%s: interface %s is already mirrored to appliance '%s' by the host's <mirror bridge='%s'> (%s); this rule (%s) is ignored",
                               from_policy ? t->where : where, desc, a->name,
                               iface->bridge ? iface->bridge : "?",
                               from_policy ? mine : theirs, from_policy ? theirs : mine);
        else
            vspan_plan_error(p->plan,
                             "%s: interface %s already has a rule for appliance '%s' (%s, %s); merge them into one filter",
                             where, desc, a->name, theirs, t->where);
        if (from_policy) {
            t->select = sel;
            t->where = where;
            t->from_policy = TRUE;
            memset(t->hooks, 0, sizeof(t->hooks));
        } else {
            return;
        }
    }
    if (!t) {
        t = g_new0(VspanMirrorTarget, 1);
        t->iface = iface;
        t->appliance = a;
        t->appliance_index = vspan_appliance_index(p->config, a);
        t->select = sel;
        t->where = where;
        t->from_policy = from_policy;
        g_ptr_array_add(p->targets, t);
        g_hash_table_insert(p->target_index, g_steal_pointer(&key), t);
    }
    if (direction != VSPAN_DIRECTION_TO_VM)
        t->hooks[vspan_iface_from_vm_hook(iface)] = TRUE;
    if (direction != VSPAN_DIRECTION_FROM_VM)
        t->hooks[vspan_iface_from_vm_hook(iface) == VSPAN_HOOK_INGRESS ? VSPAN_HOOK_EGRESS : VSPAN_HOOK_INGRESS] = TRUE;
}

/* A NIC of a pool's hostdev network: a VF, with no tap. */
static gboolean
vspan_iface_is_pool_vf(const VspanPlanner *p, const VspanIface *iface)
{
    return iface->type == VSPAN_IFACE_TYPE_NETWORK && iface->network &&
           vspan_config_find_pool_by_network(p->config, iface->network);
}

/* Why @iface has nothing vspan can copy from, NULL when it has. */
static const char *
vspan_iface_unmirrorable_why(const VspanPlanner *p, const VspanIface *iface)
{
    if (vspan_iface_is_pool_vf(p, iface) || iface->type == VSPAN_IFACE_TYPE_HOSTDEV)
        return "a VF passed through to the guest: its frames never cross a host device (mirror it on the NIC's switch, or give the VM a bridge NIC)";
    switch (iface->type) {
    case VSPAN_IFACE_TYPE_BRIDGE:
    case VSPAN_IFACE_TYPE_NETWORK:
    case VSPAN_IFACE_TYPE_ETHERNET:
    case VSPAN_IFACE_TYPE_DIRECT:
        return NULL;
    case VSPAN_IFACE_TYPE_VHOSTUSER:
        return "vhost-user frames go between QEMU and a userspace switch, never through a kernel device";
    case VSPAN_IFACE_TYPE_USER:
        return "user-mode networking (slirp) has no host device";
    default:
        return "this interface type has no host network device to mirror";
    }
}

/* A "mirror all" rule met @iface, which it cannot copy: listed once, and
 * named in a warning at prepare (one per NIC, however many rules). */
static void
vspan_planner_unmonitored(VspanPlanner *p, const VspanIface *iface, const char *why, const char *where)
{
    g_autofree char *desc = NULL;
    VspanPlanUnmonitored *u;

    for (guint i = 0; i < p->plan->unmonitored->len; i++) {
        u = p->plan->unmonitored->pdata[i];
        if (g_strcmp0(u->mac, *iface->mac ? iface->mac : NULL) == 0 &&
            g_strcmp0(u->type, iface->type_str) == 0)
            return;
    }
    u = g_new0(VspanPlanUnmonitored, 1);
    u->mac = *iface->mac ? g_strdup(iface->mac) : NULL;
    u->type = vspan_str_clean_max(iface->type_str ? iface->type_str : "?", 32);
    u->why = why;
    g_ptr_array_add(p->plan->unmonitored, u);
    if (p->plan->phase != VSPAN_PHASE_PREPARE)
        return;
    desc = vspan_iface_describe(iface);
    vspan_plan_warning(p->plan, "%s: interface %s, type '%s', is not monitored: %s", where, desc, u->type, why);
}

/* The appliance a domain's element names, or NULL with the planner's error. */
static const VspanAppliance *
vspan_planner_appliance(VspanPlanner *p, const char *name, const char *where)
{
    const VspanAppliance *a = vspan_config_find_appliance(p->config, name);

    if (!a) {
        g_autofree char *names = vspan_config_appliance_names(p->config);
        g_autofree char *clean = vspan_str_clean(name);
        vspan_plan_error(p->plan,
                         "%s: no appliance named '%s' in %s (known: %s); fix the name or ask the host admin to define it",
                         where, clean, p->config->path, names);
    }
    return a;
}

/* The interface a domain's element names by @mac ("" when not) or @alias,
 * or NULL with the planner's error. */
static VspanIface *
vspan_planner_named_iface(VspanPlanner *p, const char *mac, const char *alias, const char *where)
{
    VspanIface *iface = *mac ? vspan_domain_find_iface_by_mac(p->dom, mac)
                             : vspan_domain_find_iface_by_alias(p->dom, alias);

    if (!iface)
        vspan_plan_error(p->plan, "%s: no interface of the domain has %s '%s'; fix the %s or add the interface",
                         where, *mac ? "MAC" : "alias", *mac ? mac : alias, *mac ? "mac" : "alias");
    return iface;
}

static void
vspan_planner_collect_annotation(VspanPlanner *p)
{
    const VspanDomain *dom = p->dom;

    for (guint i = 0; i < dom->mirrors->len; i++) {
        const VspanMirrorReq *m = dom->mirrors->pdata[i];
        const VspanAppliance *a = vspan_planner_appliance(p, m->appliance, m->where);
        VspanIface *iface = NULL;

        if (!a)
            continue;
        if (g_str_equal(a->domain, dom->name)) {
            vspan_plan_error(p->plan,
                             "%s: domain '%s' is appliance '%s' itself and cannot be mirrored to it; remove this <vspan:mirror>",
                             m->where, dom->name, a->name);
            continue;
        }
        if (a->inline_mode) {
            vspan_plan_error(p->plan,
                             "%s: appliance '%s' is inline, in the path of frames rather than a receiver of copies; use <vspan:inline appliance='%s'> or mirror to another appliance",
                             m->where, a->name, a->name);
            continue;
        }
        if (!*m->mac && !m->alias) {
            guint n = 0;
            for (guint j = 0; j < dom->ifaces->len; j++) {
                VspanIface *cand = dom->ifaces->pdata[j];
                const char *why = vspan_iface_unmirrorable_why(p, cand);

                if (why) {
                    vspan_planner_unmonitored(p, cand, why, m->where);
                    continue;
                }
                vspan_planner_add_target(p, cand, a, m->direction, &m->select, m->where, FALSE);
                n++;
            }
            if (n == 0)
                vspan_plan_warning(p->plan,
                                   "%s: the domain has no interface vspan can mirror (bridge, network, ethernet or direct); nothing is copied",
                                   m->where);
            continue;
        }
        iface = vspan_planner_named_iface(p, m->mac, m->alias, m->where);
        if (!iface)
            continue;
        if (!vspan_iface_is_mirrorable(iface)) {
            g_autofree char *desc = vspan_iface_describe(iface);
            vspan_plan_error(p->plan,
                             "%s: interface %s is type '%s', which has no host device to mirror; mirror a bridge, network, ethernet or direct interface",
                             m->where, desc, iface->type_str ? iface->type_str : "?");
            continue;
        }
        vspan_planner_add_target(p, iface, a, m->direction, &m->select, m->where, FALSE);
    }
}

static void
vspan_planner_collect_policies(VspanPlanner *p)
{
    for (guint i = 0; i < p->config->bridge_policies->len; i++) {
        const VspanBridgePolicy *pol = p->config->bridge_policies->pdata[i];

        /* The appliance's own ports are never mirrored to it. */
        if (g_str_equal(pol->appliance->domain, p->dom->name))
            continue;
        for (guint j = 0; j < p->dom->ifaces->len; j++) {
            VspanIface *iface = p->dom->ifaces->pdata[j];
            if (vspan_iface_is_mirrorable(iface) && iface->bridge &&
                g_str_equal(iface->bridge, pol->bridge))
                vspan_planner_add_target(p, iface, pol->appliance, pol->direction, &pol->select,
                                         pol->where, TRUE);
        }
    }
}

static gint
vspan_target_cmp(gconstpointer a, gconstpointer b)
{
    const VspanMirrorTarget *ta = *(VspanMirrorTarget *const *)a;
    const VspanMirrorTarget *tb = *(VspanMirrorTarget *const *)b;

    if (ta->iface->line != tb->iface->line)
        return ta->iface->line < tb->iface->line ? -1 : 1;
    if (ta->iface != tb->iface)
        return ta->iface < tb->iface ? -1 : 1;
    return (int)ta->appliance_index - (int)tb->appliance_index;
}

/* The device a mirror of @a points at now, or NULL while it has none. */
static const char *
vspan_planner_sink_dev(VspanPlanner *p, const VspanAppliance *a)
{
    if (a->sink.type == VSPAN_SINK_INTERFACE)
        return g_hash_table_lookup(p->obs->appliance_ports, a->name);
    return a->sink.dev;
}

/* Compile every rule that selects; a rule whose filter does not compile
 * is refused with libpcap's words and planned no further. */
static void
vspan_planner_compile(VspanPlanner *p)
{
    g_autoptr(GHashTable) refused = g_hash_table_new(g_direct_hash, g_direct_equal);

    for (guint i = 0; i < p->targets->len;) {
        VspanMirrorTarget *t = p->targets->pdata[i];
        g_autoptr(GError) error = NULL;

        if (vspan_select_is_all(t->select)) {
            i++;
            continue;
        }
        if (t->select->program) {
            /* an eBPF <program>: vspand loaded it (or says why not) */
            const VspanProgramDef *def = vspan_config_find_program(p->config, t->select->program);
            const char *why = g_hash_table_lookup(p->obs->program_errors, t->select->program);

            if ((!def || why) && !g_hash_table_contains(refused, t->select)) {
                g_hash_table_add(refused, (gpointer)t->select);
                if (!def) {
                    g_autofree char *names = vspan_config_program_names(p->config);
                    vspan_plan_error(p->plan,
                                     "%s: no program named '%s' in %s (known: %s); fix the name or ask the host admin to define it",
                                     t->where, t->select->program, p->config->path, names);
                } else {
                    vspan_plan_error(p->plan,
                                     "%s: program '%s' did not load: %s; rules naming it are refused until the host admin fixes it",
                                     t->where, t->select->program, why);
                }
            }
            if (!def || why) {
                g_ptr_array_remove_index(p->targets, i);
                continue;
            }
            i++;
            continue;
        }
        t->program = g_hash_table_contains(refused, t->select)
                         ? NULL : vspan_select_compile(t->select, &t->program_live, &error);
        if (!t->program && error) {
            g_autofree char *clean = vspan_str_clean(t->select->filter ? t->select->filter : "");
            g_hash_table_add(refused, (gpointer)t->select);
            vspan_plan_error(p->plan,
                             "%s: filter '%s' does not compile: %s; write it in tcpdump's syntax (see pcap-filter(7))",
                             t->where, clean, error->message);
        }
        if (!t->program) {
            /* the key stays in target_index, unused from here on */
            g_ptr_array_remove_index(p->targets, i);
            continue;
        }
        i++;
    }
}

static void
vspan_planner_mirror_list(VspanPlanner *p)
{
    for (guint i = 0; i < p->targets->len; i++) {
        const VspanMirrorTarget *t = p->targets->pdata[i];
        VspanPlanMirror *m = g_new0(VspanPlanMirror, 1);

        m->mac = g_strdup(*t->iface->mac ? t->iface->mac : NULL);
        m->tap = g_strdup(t->iface->target);
        m->appliance = g_strdup(t->appliance->name);
        m->direction = t->hooks[VSPAN_HOOK_INGRESS] && t->hooks[VSPAN_HOOK_EGRESS] ? VSPAN_DIRECTION_BOTH :
                       t->hooks[vspan_iface_from_vm_hook(t->iface)] ? VSPAN_DIRECTION_FROM_VM
                                                                   : VSPAN_DIRECTION_TO_VM;
        m->filter = g_strdup(t->select->filter);
        m->ebpf = g_strdup(t->select->program);
        m->sample = t->select->sample > 1 ? t->select->sample : 0;
        m->program = t->program ? g_bytes_ref(t->program) : NULL;
        m->program_live = t->program_live;
        g_ptr_array_add(p->plan->mirrors, m);
    }
}

/* The sink a rule of @t copies to on @iface's @hook, or NULL when it has
 * none (appliance not running, or the sink is the tap itself). */
static const char *
vspan_planner_rule_sink(VspanPlanner *p, const VspanMirrorTarget *t, const VspanIface *iface,
                        VspanHook hook, GHashTable *pending)
{
    const char *dev;

    if (t->iface != iface || !t->hooks[hook] || g_hash_table_contains(pending, t->appliance))
        return NULL;
    dev = vspan_planner_sink_dev(p, t->appliance);
    /* ERSPAN III: copies of frames to the VM leave by the twin device
     * whose headers carry the egress direction bit */
    if (dev && hook != vspan_iface_from_vm_hook(iface) && t->appliance->sink.dev_egress)
        dev = t->appliance->sink.dev_egress;
    /* Guard: never mirror a device into itself. */
    return dev && !g_str_equal(dev, iface->target) ? dev : NULL;
}

/* @iface, which a rule needs, has no tap in the XML (an offline one) */
static void
vspan_planner_no_tap(VspanPlanner *p, const VspanIface *iface, const char *what)
{
    g_autofree char *desc = vspan_iface_describe(iface);

    vspan_plan_error(p->plan,
                     "domain '%s': interface %s has no tap (<target dev>) in the live XML, so it cannot %s; pass the XML libvirt gives the start hook",
                     p->dom->name, desc, what);
}

static void
vspan_planner_ensure_qdisc(VspanPlanner *p, VspanIface *iface, GHashTable *ensured)
{
    if (!g_hash_table_contains(ensured, iface)) {
        VspanOp *op = vspan_plan_add_op(p->plan, VSPAN_OP_QDISC_ENSURE, iface->target);

        op->qdisc = iface->bandwidth & VSPAN_BANDWIDTH_OUTBOUND ? VSPAN_QDISC_LIBVIRT
                  : iface->bandwidth & VSPAN_BANDWIDTH_INBOUND ? VSPAN_QDISC_INGRESS
                  : VSPAN_QDISC_CLSACT;
        g_hash_table_add(ensured, iface);
    }
}

/* One hook of one tap: the match-all filter (every rule that selects every
 * frame, one mirred action per sink) and one cls_bpf filter per rule that
 * selects.  The qdisc is ensured (once per tap, @ensured) before the first
 * filter of a hook that holds none of vspan's yet. */
static void
vspan_planner_hook_ops(VspanPlanner *p, VspanIface *iface, VspanHook hook, const GPtrArray *targets,
                       GPtrArray *selects, GHashTable *ensured)
{
    VspanPlan *plan = p->plan;
    const VspanObservedMirror *have = vspan_observed_find_mirror(p->obs, iface->target, hook);
    g_autoptr(GPtrArray) want = g_ptr_array_new();
    g_autoptr(GHashTable) handles = g_hash_table_new(g_direct_hash, g_direct_equal);
    gboolean hook_has = have != NULL;
    guint tag_have = vspan_observed_get_tag(p->obs, iface->target, hook);
    guint tag_want = 0;
    VspanOp *op;

    for (guint k = 0; k < selects->len && !hook_has; k++)
        hook_has = ((const VspanObservedSelect *)selects->pdata[k])->hook == hook;
    /* the bridge's tag goes on before the first copy is taken */
    if (vspan_config_bridge_tag(p->config, iface->bridge)) {
        for (guint j = 0; j < targets->len && !tag_want; j++)
            if (vspan_planner_rule_sink(p, targets->pdata[j], iface, hook, p->pending))
                tag_want = vspan_config_bridge_tag(p->config, iface->bridge);
    }
    if (tag_want && tag_want != tag_have) {
        if (!hook_has)
            vspan_planner_ensure_qdisc(p, iface, ensured);
        op = vspan_plan_add_op(plan, VSPAN_OP_TAG_SET, iface->target);
        op->hook = hook;
        op->vlan = tag_want;
    }
    for (guint j = 0; j < targets->len; j++) {
        const VspanMirrorTarget *t = targets->pdata[j];
        const char *dev = vspan_planner_rule_sink(p, t, iface, hook, p->pending);
        const VspanObservedSelect *found = NULL;
        guint handle = t->appliance_index + 1;
        g_autofree char *hex = NULL;

        if (!dev)
            continue;
        if (!t->program && !t->select->program) {
            if (!g_ptr_array_find_with_equal_func(want, dev, g_str_equal, NULL))
                g_ptr_array_add(want, (gpointer)dev);
            continue;
        }
        g_hash_table_add(handles, GUINT_TO_POINTER(handle));
        hex = t->program ? vspan_select_to_hex(t->program) : NULL;
        for (guint k = 0; k < selects->len && !found; k++) {
            const VspanObservedSelect *o = selects->pdata[k];
            if (o->hook == hook && o->handle == handle)
                found = o;
        }
        if (found && g_str_equal(found->sink, dev) &&
            (t->program ? g_strcmp0(found->program, hex) == 0
                        : g_strcmp0(found->ebpf, t->select->program) == 0))
            continue;   /* already right */
        if (!hook_has)
            vspan_planner_ensure_qdisc(p, iface, ensured);
        op = vspan_plan_add_op(plan, VSPAN_OP_SELECT_SET, iface->target);
        op->hook = hook;
        op->prio = hook == VSPAN_HOOK_INGRESS ? VSPAN_TC_PRIO_SELECT_INGRESS : VSPAN_TC_PRIO_SELECT_EGRESS;
        op->handle = handle;
        op->sinks = g_strdupv((char *[]){ (char *)dev, NULL });
        op->program = t->program ? g_bytes_ref(t->program) : NULL;
        op->ebpf = g_strdup(t->select->program);
    }
    /* rules that are gone, or whose appliance has no sink now */
    for (guint k = 0; k < selects->len; k++) {
        const VspanObservedSelect *o = selects->pdata[k];
        if (o->hook != hook || g_hash_table_contains(handles, GUINT_TO_POINTER(o->handle)))
            continue;
        op = vspan_plan_add_op(plan, VSPAN_OP_SELECT_DEL, iface->target);
        op->hook = hook;
        op->prio = hook == VSPAN_HOOK_INGRESS ? VSPAN_TC_PRIO_SELECT_INGRESS : VSPAN_TC_PRIO_SELECT_EGRESS;
        op->handle = o->handle;
    }

    if (tag_have && !tag_want)
        vspan_plan_add_op(plan, VSPAN_OP_TAG_DEL, iface->target)->hook = hook;

    g_ptr_array_add(want, NULL);
    if (want->len == 1) {
        if (have)
            vspan_plan_add_op(plan, VSPAN_OP_MIRROR_DEL, iface->target)->hook = hook;
        return;
    }
    if (have && g_strv_equal((const char *const *)have->sinks, (const char *const *)want->pdata))
        return;     /* already right: applying twice equals once */
    if (!hook_has)
        vspan_planner_ensure_qdisc(p, iface, ensured);
    op = vspan_plan_add_op(plan, VSPAN_OP_MIRROR_SET, iface->target);
    op->hook = hook;
    op->prio = hook == VSPAN_HOOK_INGRESS ? VSPAN_TC_PRIO_INGRESS : VSPAN_TC_PRIO_EGRESS;
    op->classifier = p->obs->classifier;
    op->sinks = g_strdupv((char **)want->pdata);
}

static void
vspan_planner_mirror_ops(VspanPlanner *p)
{
    VspanPlan *plan = p->plan;
    g_autoptr(GHashTable) ensured = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GHashTable) by_iface = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                                           (GDestroyNotify)g_ptr_array_unref);
    g_autoptr(GPtrArray) none = g_ptr_array_new();

    /* Sinks first, in config order, so filters can point at them. */
    for (guint i = 0; i < p->config->appliances->len; i++) {
        const VspanAppliance *a = p->config->appliances->pdata[i];
        const char *dev;
        VspanOp *op;
        gboolean used = FALSE;

        for (guint j = 0; j < p->targets->len && !used; j++)
            used = ((VspanMirrorTarget *)p->targets->pdata[j])->appliance == a;
        if (!used)
            continue;
        dev = vspan_planner_sink_dev(p, a);
        if (!dev) {
            vspan_plan_warning(plan,
                               "appliance '%s' (domain '%s') is not running, so its interface sink %s has no tap yet; copies start when it starts",
                               a->name, a->domain, a->sink.mac);
            g_hash_table_add(p->pending, (gpointer)a);
            continue;
        }
        op = vspan_plan_add_op(plan, VSPAN_OP_SINK_ENSURE, dev);
        op->appliance = a;
    }

    /* each interface's rules, in rule order: planning stays linear in the
     * interfaces (10,000 of them in tests/test-cli.sh) */
    for (guint j = 0; j < p->targets->len; j++) {
        VspanMirrorTarget *t = p->targets->pdata[j];
        GPtrArray *mine = g_hash_table_lookup(by_iface, t->iface);

        if (!mine)
            g_hash_table_insert(by_iface, t->iface, mine = g_ptr_array_new());
        g_ptr_array_add(mine, t);
    }
    for (guint i = 0; i < p->dom->ifaces->len; i++) {
        VspanIface *iface = p->dom->ifaces->pdata[i];
        const GPtrArray *mine = g_hash_table_lookup(by_iface, iface);
        gboolean targeted = mine != NULL;

        if (!iface->target) {
            if (targeted)
                vspan_planner_no_tap(p, iface, "be mirrored");
            continue;
        }

        {
            g_autoptr(GPtrArray) selects = vspan_observed_find_selects(p->obs, iface->target);

            for (VspanHook hook = 0; hook < VSPAN_HOOK_LAST; hook++)
                vspan_planner_hook_ops(p, iface, hook, mine ? mine : none, selects, ensured);
        }
    }
}

/* ---- inline NICs ------------------------------------------------------- */

/* Why @iface cannot pass an inline appliance, NULL when it can: the
 * programs need the tap of a Linux bridge port. */
static const char *
vspan_iface_not_inline_why(const VspanIface *iface)
{
    if (!vspan_iface_is_mirrorable(iface) || iface->type == VSPAN_IFACE_TYPE_DIRECT)
        return "an inline appliance needs a tap on a Linux bridge (a bridge, network or ethernet interface)";
    if (iface->bandwidth)
        return "libvirt's <bandwidth> replaces the tap's qdiscs, and the inline programs with them; shape on the appliance instead";
    return NULL;
}

/* @iface passes @a, as the element @where asks: refused when it cannot, or
 * when it already passes another appliance. */
static void
vspan_planner_inline_add(VspanPlanner *p, VspanIface *iface, const VspanAppliance *a, const char *where)
{
    const VspanAppliance *have = g_hash_table_lookup(p->inline_of, iface);
    const char *why = vspan_iface_not_inline_why(iface);
    g_autofree char *desc = vspan_iface_describe(iface);

    if (why) {
        vspan_plan_error(p->plan, "%s: interface %s, type '%s', cannot pass an inline appliance: %s",
                         where, desc, iface->type_str ? iface->type_str : "?", why);
        return;
    }
    if (have == a)
        return;
    if (have) {
        vspan_plan_error(p->plan,
                         "%s: interface %s already passes inline appliance '%s'; a frame passes one inline appliance, keep one",
                         where, desc, have->name);
        return;
    }
    g_hash_table_insert(p->inline_of, iface, (gpointer)a);
    g_ptr_array_add(p->inline_ifaces, iface);
}

static void
vspan_planner_collect_inline(VspanPlanner *p)
{
    const VspanDomain *dom = p->dom;

    /* <inline bridge=> first: the host admin's policy, which an annotation
     * naming another appliance for the same NIC contradicts */
    for (guint j = 0; j < dom->ifaces->len; j++) {
        VspanIface *iface = dom->ifaces->pdata[j];
        const VspanAppliance *a = vspan_config_bridge_inline(p->config, iface->bridge);

        if (a && !g_str_equal(a->domain, dom->name)) {
            g_autofree char *where = g_strdup_printf("%s <inline bridge='%s'>", p->config->path, iface->bridge);
            vspan_planner_inline_add(p, iface, a, where);
        }
    }

    for (guint i = 0; i < dom->inlines->len; i++) {
        const VspanInlineReq *r = dom->inlines->pdata[i];
        const VspanAppliance *a = vspan_planner_appliance(p, r->appliance, r->where);
        VspanIface *iface;

        if (!a)
            continue;
        if (!a->inline_mode) {
            vspan_plan_error(p->plan,
                             "%s: appliance '%s' gets copies and is not inline; use <vspan:mirror appliance='%s'>, or name an appliance with mode=\"inline\"",
                             r->where, a->name, a->name);
            continue;
        }
        if (g_str_equal(a->domain, dom->name)) {
            vspan_plan_error(p->plan,
                             "%s: domain '%s' is appliance '%s' itself and cannot be put behind it; remove this <vspan:inline>",
                             r->where, dom->name, a->name);
            continue;
        }
        if (!*r->mac && !r->alias) {
            for (guint j = 0; j < dom->ifaces->len; j++) {
                VspanIface *cand = dom->ifaces->pdata[j];
                if (!vspan_iface_not_inline_why(cand))
                    vspan_planner_inline_add(p, cand, a, r->where);
            }
            continue;
        }
        iface = vspan_planner_named_iface(p, r->mac, r->alias, r->where);
        if (iface)
            vspan_planner_inline_add(p, iface, a, r->where);
    }
}

static gboolean
vspan_plan_has_op(const VspanPlan *plan, VspanOpType type, const char *dev)
{
    for (guint i = 0; i < plan->ops->len; i++) {
        const VspanOp *op = plan->ops->pdata[i];
        if (op->type == type && g_strcmp0(op->dev, dev) == 0)
            return TRUE;
    }
    return FALSE;
}

/* start, reconnect: each inline NIC's tap runs its appliance's programs;
 * stopped, release: its tag is given back */
static void
vspan_planner_inline_ops(VspanPlanner *p, gboolean set)
{
    VspanPlan *plan = p->plan;

    for (guint i = 0; i < p->inline_ifaces->len; i++) {
        VspanIface *iface = p->inline_ifaces->pdata[i];
        const VspanAppliance *a = g_hash_table_lookup(p->inline_of, iface);
        const char *have = iface->target ? g_hash_table_lookup(p->obs->inline_ports, iface->target) : NULL;
        VspanOp *op;

        if (!iface->target) {
            if (set)
                vspan_planner_no_tap(p, iface, "pass an inline appliance");
            continue;
        }
        if (!set) {
            vspan_plan_add_op(plan, VSPAN_OP_INLINE_DEL, iface->target);
            continue;
        }
        /* no sink-ensure: vspand creates the appliance's taps when it
         * starts; a port that is missing now makes the appliance failed
         * (bypass or block), never the VM's start */
        if (g_strcmp0(have, a->name) == 0)
            continue;   /* already right */
        if (!vspan_plan_has_op(plan, VSPAN_OP_QDISC_ENSURE, iface->target))
            vspan_plan_add_op(plan, VSPAN_OP_QDISC_ENSURE, iface->target)->qdisc = VSPAN_QDISC_CLSACT;
        op = vspan_plan_add_op(plan, VSPAN_OP_INLINE_SET, iface->target);
        op->appliance = a;
        g_strlcpy(op->mac, iface->mac, sizeof(op->mac));
    }
    /* a tap of this domain that passes an appliance it should not */
    for (guint j = 0; set && j < p->dom->ifaces->len; j++) {
        VspanIface *iface = p->dom->ifaces->pdata[j];
        if (iface->target && !g_hash_table_contains(p->inline_of, iface) &&
            g_hash_table_contains(p->obs->inline_ports, iface->target))
            vspan_plan_add_op(plan, VSPAN_OP_INLINE_DEL, iface->target);
    }
}

/* ---- VFs ---------------------------------------------------------------- */

static gboolean
vspan_iface_wants_vf(const VspanIface *iface)
{
    return iface->type == VSPAN_IFACE_TYPE_HOSTDEV || iface->type == VSPAN_IFACE_TYPE_NETWORK;
}

/* Find the pool of an interface and, at start, its VF.  Returns FALSE when
 * the interface is not a pool VF (message left to the caller). */
static const VspanPool *
vspan_planner_vf_pool(VspanPlanner *p, const VspanIface *iface, const VspanPciAddr *pci,
                      VspanPlanVf *out, const char *where, gboolean required)
{
    const VspanObservedVf *ovf;
    const VspanPool *pool;

    if (iface && iface->type == VSPAN_IFACE_TYPE_NETWORK) {
        pool = vspan_config_find_pool_by_network(p->config, iface->network);
        if (!pool && required)
            vspan_plan_error(p->plan,
                             "%s: network '%s' is not the network of any vspan pool; use a pool's network or a hostdev VF",
                             where, iface->network ? iface->network : "?");
        return pool;
    }
    if (!pci) {
        if (required)
            vspan_plan_error(p->plan, "%s: the hostdev interface has no PCI address; pass the live domain XML", where);
        return NULL;
    }
    out->pci = vspan_pci_addr_format(pci);
    if (!p->obs->vf_map_known) {
        if (required)
            vspan_plan_warning(p->plan,
                               "%s: PCI device %s not resolved to a PF and VF offline; run on the host or pass --observed",
                               where, out->pci);
        return NULL;
    }
    ovf = vspan_observed_find_vf(p->obs, pci);
    if (!ovf) {
        if (required)
            vspan_plan_error(p->plan,
                             "%s: PCI device %s is not an SR-IOV VF of any PF on this host; give the domain a VF from a vspan pool",
                             where, out->pci);
        return NULL;
    }
    out->pf = g_strdup(ovf->pf);
    out->vf = ovf->vf;
    pool = vspan_config_find_pool_by_vf(p->config, ovf->pf, ovf->vf);
    if (!pool && required)
        vspan_plan_error(p->plan,
                         "%s: VF %u of PF '%s' (%s) is in no vspan pool; add it to a <pool> in %s",
                         where, ovf->vf, ovf->pf, out->pci, p->config->path);
    return pool;
}

/* Fill and check the effective settings of one VF.  @req may be NULL. */
static void
vspan_planner_vf_settings(VspanPlanner *p, const VspanVfReq *req, const VspanIface *iface,
                          const VspanPool *pool, VspanPlanVf *out, const char *where)
{
    VspanVfSettings *s = &out->settings;
    gboolean has_libvirt_vlan = FALSE;
    guint libvirt_vlan = 0;

    vspan_vf_settings_init_default(s);
    if (pool)
        out->pool = g_strdup(pool->name);
    if (iface && *iface->mac)
        g_strlcpy(s->mac, iface->mac, sizeof(s->mac));

    if (iface && iface->vlan_tags && iface->vlan_tags->len > 0) {
        if (iface->vlan_trunk || iface->vlan_tags->len > 1) {
            vspan_plan_error(p->plan,
                             "%s: a VF carries one VLAN tag, but the interface's <vlan> is a trunk; keep a single <tag>",
                             where);
            return;
        }
        has_libvirt_vlan = TRUE;
        libvirt_vlan = g_array_index(iface->vlan_tags, guint, 0);
    }
    if (req) {
        if (req->has_vlan && has_libvirt_vlan && req->set.vlan != libvirt_vlan) {
            vspan_plan_error(p->plan,
                             "%s: vlan %u conflicts with the interface's <vlan><tag id='%u'/>; set the VLAN in one place",
                             req->where, req->set.vlan, libvirt_vlan);
            return;
        }
        char mac[18];

        /* the request's fields, the interface's MAC */
        g_strlcpy(mac, s->mac, sizeof(mac));
        *s = req->set;
        g_strlcpy(s->mac, mac, sizeof(s->mac));
        s->vlan = req->has_vlan ? req->set.vlan : libvirt_vlan;
        if (s->vlan == 0 && s->qos != 0) {
            vspan_plan_error(p->plan, "%s: qos %u needs a VLAN; add vlan=\"1-4095\" or drop qos",
                             where, s->qos);
            return;
        }
        if (s->vlan == 0 && req->has_proto && s->proto != VSPAN_VLAN_PROTO_8021Q) {
            vspan_plan_error(p->plan, "%s: vlan-proto 802.1ad needs a VLAN; add vlan=\"1-4095\"", where);
            return;
        }
        if (s->max_tx_rate != 0 && s->min_tx_rate > s->max_tx_rate) {
            vspan_plan_error(p->plan,
                             "%s: min-tx-rate %u is above max-tx-rate %u; lower min-tx-rate or raise max-tx-rate",
                             where, s->min_tx_rate, s->max_tx_rate);
            return;
        }
    } else {
        s->vlan = libvirt_vlan;
    }

    if (!pool) {
        /* the pool is not known (offline, no PF resolved): what no pool
         * of the config could grant is refused all the same */
        gboolean vlan_ok = s->vlan == 0, trust_ok = s->trust != VSPAN_SWITCH_ON;
        gboolean appliance = vspan_config_is_appliance_domain(p->config, p->dom->name);

        for (guint i = 0; i < p->config->pools->len; i++) {
            const VspanPool *o = p->config->pools->pdata[i];
            vlan_ok |= vspan_range_set_contains(o->vlans, s->vlan);
            trust_ok |= o->trust == VSPAN_TRUST_POLICY_ANY || (o->trust == VSPAN_TRUST_POLICY_APPLIANCES && appliance);
        }
        if (p->config->pools->len && !vlan_ok)
            vspan_plan_error(p->plan, "%s: VLAN %u is allowed in no pool of %s; use an allowed VLAN or ask the host admin",
                             where, s->vlan, p->config->path);
        if (p->config->pools->len && !trust_ok)
            vspan_plan_error(p->plan,
                             "%s: trust is permitted for domain '%s' in no pool of %s; remove trust=\"on\"",
                             where, p->dom->name, p->config->path);
        return;
    }
    if (s->vlan != 0 && !vspan_range_set_contains(pool->vlans, s->vlan)) {
        g_autofree char *allowed = vspan_range_set_format(pool->vlans);
        vspan_plan_error(p->plan,
                         "%s: VLAN %u is not allowed in pool '%s' (allowed: %s); use an allowed VLAN or ask the host admin",
                         where, s->vlan, pool->name, *allowed ? allowed : "untagged only");
    }
    if (s->trust == VSPAN_SWITCH_ON) {
        if (pool->trust == VSPAN_TRUST_POLICY_NEVER)
            vspan_plan_error(p->plan,
                             "%s: trust is not permitted in pool '%s' (trust allow=\"never\"); remove trust=\"on\"",
                             where, pool->name);
        else if (pool->trust == VSPAN_TRUST_POLICY_APPLIANCES &&
                 !vspan_config_is_appliance_domain(p->config, p->dom->name))
            vspan_plan_error(p->plan,
                             "%s: trust is not permitted for domain '%s': pool '%s' grants it only to appliance domains; remove trust=\"on\"",
                             where, p->dom->name, pool->name);
    }
}

static void
vspan_planner_vfs(VspanPlanner *p)
{
    const VspanDomain *dom = p->dom;
    g_autoptr(GHashTable) handled = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GHashTable) need = g_hash_table_new(g_direct_hash, g_direct_equal);

    for (guint i = 0; i < dom->vfs->len; i++) {
        const VspanVfReq *req = dom->vfs->pdata[i];
        VspanIface *iface = *req->mac ? vspan_domain_find_iface_by_mac(dom, req->mac)
                                      : vspan_domain_find_iface_by_alias(dom, req->alias);
        const VspanHostdev *hd = NULL;
        const VspanPool *pool;
        VspanPlanVf *out;

        if (!iface && req->alias) {
            for (guint j = 0; j < dom->hostdevs->len && !hd; j++) {
                const VspanHostdev *cand = dom->hostdevs->pdata[j];
                if (cand->alias && g_str_equal(cand->alias, req->alias))
                    hd = cand;
            }
        }
        if (!iface && !hd) {
            vspan_plan_error(p->plan,
                             "%s: no interface of the domain has %s '%s'; fix the %s or add the hostdev interface",
                             req->where, *req->mac ? "MAC" : "alias", *req->mac ? req->mac : req->alias,
                             *req->mac ? "mac" : "alias");
            continue;
        }
        if (iface && !vspan_iface_wants_vf(iface)) {
            g_autofree char *desc = vspan_iface_describe(iface);
            vspan_plan_error(p->plan,
                             "%s: interface %s is type '%s', not an SR-IOV VF; use <interface type='hostdev'> or a pool's network",
                             req->where, desc, iface->type_str ? iface->type_str : "?");
            continue;
        }
        if (iface && g_hash_table_contains(handled, iface)) {
            vspan_plan_error(p->plan, "%s: a second <vspan:vf> for the same interface; keep one",
                             req->where);
            continue;
        }
        if (iface)
            g_hash_table_add(handled, iface);

        out = g_new0(VspanPlanVf, 1);
        out->vf = -1;
        out->mac = g_strdup(iface && *iface->mac ? iface->mac : NULL);
        g_ptr_array_add(p->plan->vfs, out);
        pool = vspan_planner_vf_pool(p, iface, iface ? (iface->has_pci ? &iface->pci : NULL) : &hd->pci,
                                     out, req->where, TRUE);
        vspan_planner_vf_settings(p, req, iface, pool, out, req->where);
        if (pool && iface && iface->type == VSPAN_IFACE_TYPE_NETWORK)
            g_hash_table_insert(need, (gpointer)pool, GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(need, pool)) + 1));
    }

    /* Pool VFs the annotation does not mention still get every field set:
     * libvirt leaves trust, spoof-check, link state and rates as the last
     * VM left them. */
    for (guint i = 0; i < dom->ifaces->len; i++) {
        VspanIface *iface = dom->ifaces->pdata[i];
        g_autofree char *desc = NULL;
        g_autofree char *where = NULL;
        const VspanPool *pool;
        VspanPlanVf *out;

        if (!vspan_iface_wants_vf(iface) || g_hash_table_contains(handled, iface))
            continue;
        desc = vspan_iface_describe(iface);
        where = g_strdup_printf("domain '%s': interface %s", dom->name, desc);
        out = g_new0(VspanPlanVf, 1);
        out->vf = -1;
        pool = vspan_planner_vf_pool(p, iface, iface->has_pci ? &iface->pci : NULL, out, where, FALSE);
        if (!pool) {
            vspan_plan_vf_free(out);
            continue;
        }
        out->mac = g_strdup(*iface->mac ? iface->mac : NULL);
        g_ptr_array_add(p->plan->vfs, out);
        vspan_planner_vf_settings(p, NULL, iface, pool, out, where);
        if (iface->type == VSPAN_IFACE_TYPE_NETWORK)
            g_hash_table_insert(need, (gpointer)pool, GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(need, pool)) + 1));
    }

    if (p->plan->phase == VSPAN_PHASE_PREPARE) {
        GHashTableIter it;
        gpointer key, value;

        g_hash_table_iter_init(&it, need);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            const VspanPool *pool = key;
            guint want = GPOINTER_TO_UINT(value), have;

            if (vspan_observed_get_pool_free(p->obs, pool->name, &have) && want > have)
                vspan_plan_error(p->plan,
                                 "domain '%s': pool '%s' has %u free VF%s and the domain needs %u; stop a domain that uses the pool or add VFs to it",
                                 dom->name, pool->name, have, have == 1 ? "" : "s", want);
        }
    }
}

static void
vspan_planner_vf_ops(VspanPlanner *p, VspanOpType type)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < p->plan->vfs->len; i++) {
        const VspanPlanVf *v = p->plan->vfs->pdata[i];
        VspanOp *op;

        if (!v->pf || !v->pool)
            continue;
        op = vspan_plan_add_op(p->plan, type, v->pf);
        op->vf = v->vf;
        op->pci = g_strdup(v->pci);
        op->domain_uuid = g_strdup(p->dom->uuid);
        if (type == VSPAN_OP_VF_SET)
            op->vf_settings = v->settings;
        else
            vspan_vf_settings_init_default(&op->vf_settings);
        g_hash_table_add(seen, g_strdup_printf("%s/%u", v->pf, v->vf));
    }
    if (type != VSPAN_OP_VF_RESET || !*p->dom->uuid)
        return;
    /* Leases the XML no longer shows (a refused start, a restarted agent). */
    for (guint i = 0; i < p->obs->leases->len; i++) {
        const VspanObservedLease *l = p->obs->leases->pdata[i];
        g_autofree char *key = g_strdup_printf("%s/%u", l->pf, l->vf);
        VspanOp *op;

        if (!g_str_equal(l->domain_uuid, p->dom->uuid) || g_hash_table_contains(seen, key))
            continue;
        op = vspan_plan_add_op(p->plan, VSPAN_OP_VF_RESET, l->pf);
        op->vf = l->vf;
        op->domain_uuid = g_strdup(l->domain_uuid);
        vspan_vf_settings_init_default(&op->vf_settings);
    }
}

VspanPlan *
vspan_plan_build(VspanPhase phase, const VspanDomain *dom, const VspanConfig *config,
                 const VspanObserved *obs)
{
    VspanPlan *plan = g_new0(VspanPlan, 1);
    VspanPlanner p = {
        .plan = plan,
        .dom = dom,
        .config = config,
        .obs = obs,
        .targets = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_mirror_target_free),
        .target_index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
        .pending = g_hash_table_new(g_direct_hash, g_direct_equal),
        .inline_ifaces = g_ptr_array_new(),
        .inline_of = g_hash_table_new(g_direct_hash, g_direct_equal),
    };

    plan->phase = phase;
    plan->domain_name = g_strdup(dom->name);
    plan->domain_uuid = g_strdup(dom->uuid);
    plan->mirrors = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_plan_mirror_free);
    plan->vfs = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_plan_vf_free);
    plan->unmonitored = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_plan_unmonitored_free);
    plan->ops = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_op_free);
    plan->errors = g_ptr_array_new_with_free_func(g_free);
    plan->warnings = g_ptr_array_new_with_free_func(g_free);

    /* migrate and restore must print nothing; started does nothing that can fail. */
    if (phase == VSPAN_PHASE_MIGRATE || phase == VSPAN_PHASE_RESTORE || phase == VSPAN_PHASE_STARTED)
        goto out;

    vspan_planner_collect_annotation(&p);
    vspan_planner_collect_policies(&p);
    g_ptr_array_sort(p.targets, vspan_target_cmp);
    vspan_planner_compile(&p);
    vspan_planner_mirror_list(&p);
    vspan_planner_vfs(&p);
    vspan_planner_collect_inline(&p);
    plan->needs_agent = dom->annotated || plan->mirrors->len > 0 || plan->vfs->len > 0 ||
                        p.inline_ifaces->len > 0;

    switch (phase) {
    case VSPAN_PHASE_START:
    case VSPAN_PHASE_RECONNECT:
        vspan_planner_mirror_ops(&p);
        vspan_planner_inline_ops(&p, TRUE);
        vspan_planner_vf_ops(&p, VSPAN_OP_VF_SET);
        break;
    case VSPAN_PHASE_STOPPED:
    case VSPAN_PHASE_RELEASE:
        /* the taps went with the domain; the agent forgets its state */
        vspan_planner_inline_ops(&p, FALSE);
        vspan_planner_vf_ops(&p, VSPAN_OP_VF_RESET);
        break;
    default:
        break;
    }

    /* A refused start changes nothing; where a phase may not refuse
     * (vspan_phase_policy), errors are warnings. */
    if (plan->errors->len > 0 && vspan_phase_refusable(phase))
        g_ptr_array_set_size(plan->ops, 0);
    if (!vspan_phase_refusable(phase)) {
        for (guint i = 0; i < plan->errors->len; i++)
            g_ptr_array_add(plan->warnings, g_steal_pointer(&plan->errors->pdata[i]));
        g_ptr_array_set_size(plan->errors, 0);
    }
out:
    g_ptr_array_unref(p.targets);
    g_hash_table_unref(p.target_index);
    g_hash_table_unref(p.pending);
    g_ptr_array_unref(p.inline_ifaces);
    g_hash_table_unref(p.inline_of);
    return plan;
}

/* ---- output ------------------------------------------------------------- */

static void
vspan_vf_settings_format(GString *s, const VspanVfSettings *v)
{
    g_string_append_printf(s, " mac=%s vlan=%u qos=%u vlan-proto=%s trust=%s spoofchk=%s link-state=%s min-tx-rate=%u max-tx-rate=%u",
                           *v->mac ? v->mac : "-", v->vlan, v->qos, vspan_vlan_proto_to_string(v->proto),
                           vspan_switch_to_string(v->trust), vspan_switch_to_string(v->spoofchk),
                           vspan_link_state_to_string(v->link_state), v->min_tx_rate, v->max_tx_rate);
}

char *
vspan_op_format(const VspanOp *op)
{
    g_autoptr(GString) s = g_string_new(vspan_op_type_to_string(op->type));

    switch (op->type) {
    case VSPAN_OP_SINK_ENSURE:
        g_string_append_printf(s, " appliance=%s type=%s dev=%s", op->appliance->name,
                               vspan_sink_type_to_string(op->appliance->sink.type), op->dev);
        if (op->appliance->sink.type == VSPAN_SINK_GRETAP || op->appliance->sink.type == VSPAN_SINK_ERSPAN)
            g_string_append_printf(s, " remote=%s %s=%u local=%s", op->appliance->sink.remote,
                                   op->appliance->sink.type == VSPAN_SINK_ERSPAN ? "session" : "key",
                                   op->appliance->sink.key,
                                   op->appliance->sink.local ? op->appliance->sink.local : "-");
        if (op->appliance->sink.type == VSPAN_SINK_ERSPAN)
            g_string_append_printf(s, " version=%u", op->appliance->sink.version);
        if (op->appliance->sink.dev_egress)
            g_string_append_printf(s, " to-vm-dev=%s", op->appliance->sink.dev_egress);
        if (op->appliance->sink.type == VSPAN_SINK_VXLAN)
            g_string_append_printf(s, " remote=%s vni=%u dstport=%u local=%s",
                                   op->appliance->sink.remote, op->appliance->sink.vni,
                                   op->appliance->sink.dstport,
                                   op->appliance->sink.local ? op->appliance->sink.local : "-");
        break;
    case VSPAN_OP_QDISC_ENSURE:
        g_string_append_printf(s, " dev=%s", op->dev);
        if (op->qdisc != VSPAN_QDISC_CLSACT)    /* libvirt's <bandwidth> on the tap */
            g_string_append(s, op->qdisc == VSPAN_QDISC_LIBVIRT ? " qdisc=libvirt" : " qdisc=ingress");
        break;
    case VSPAN_OP_MIRROR_SET: {
        g_autofree char *sinks = g_strjoinv(",", op->sinks);
        g_string_append_printf(s, " dev=%s hook=%s prio=%u classifier=%s sinks=%s", op->dev,
                               vspan_hook_to_string(op->hook), op->prio,
                               vspan_classifier_to_string(op->classifier), sinks);
        break;
    }
    case VSPAN_OP_MIRROR_DEL:
        g_string_append_printf(s, " dev=%s hook=%s", op->dev, vspan_hook_to_string(op->hook));
        break;
    case VSPAN_OP_SELECT_SET:
        g_string_append_printf(s, " dev=%s hook=%s prio=%u handle=%u sink=%s", op->dev,
                               vspan_hook_to_string(op->hook), op->prio, op->handle, op->sinks[0]);
        if (op->ebpf)
            g_string_append_printf(s, " program=%s", op->ebpf);
        else
            g_string_append_printf(s, " insns=%u", vspan_select_insns(op->program));
        break;
    case VSPAN_OP_SELECT_DEL:
        g_string_append_printf(s, " dev=%s hook=%s prio=%u handle=%u", op->dev,
                               vspan_hook_to_string(op->hook), op->prio, op->handle);
        break;
    case VSPAN_OP_TAG_SET:
        g_string_append_printf(s, " dev=%s hook=%s vlan=%u", op->dev, vspan_hook_to_string(op->hook), op->vlan);
        break;
    case VSPAN_OP_TAG_DEL:
        g_string_append_printf(s, " dev=%s hook=%s", op->dev, vspan_hook_to_string(op->hook));
        break;
    case VSPAN_OP_INLINE_SET:
        g_string_append_printf(s, " dev=%s appliance=%s mac=%s on-failure=%s", op->dev, op->appliance->name,
                               *op->mac ? op->mac : "-", vspan_on_failure_to_string(op->appliance->on_failure));
        break;
    case VSPAN_OP_INLINE_DEL:
        g_string_append_printf(s, " dev=%s", op->dev);
        break;
    case VSPAN_OP_VF_SET:
    case VSPAN_OP_VF_RESET:
        g_string_append_printf(s, " pf=%s vf=%u pci=%s domain=%s", op->dev, op->vf,
                               op->pci ? op->pci : "-", *op->domain_uuid ? op->domain_uuid : "-");
        vspan_vf_settings_format(s, &op->vf_settings);
        break;
    case VSPAN_OP_LAST:
        g_assert_not_reached();
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

char *
vspan_plan_format_text(const VspanPlan *plan)
{
    g_autoptr(GString) s = g_string_new(NULL);

    g_string_append_printf(s, "phase %s domain %s\n", vspan_phase_to_string(plan->phase), plan->domain_name);
    for (guint i = 0; i < plan->mirrors->len; i++) {
        const VspanPlanMirror *m = plan->mirrors->pdata[i];
        g_string_append_printf(s, "mirror mac=%s tap=%s appliance=%s direction=%s",
                               m->mac ? m->mac : "-", m->tap ? m->tap : "-", m->appliance,
                               vspan_direction_to_string(m->direction));
        if (m->ebpf)
            g_string_append_printf(s, " program=%s", m->ebpf);
        if (m->filter)
            g_string_append_printf(s, " filter='%s'", m->filter);
        if (m->sample)
            g_string_append_printf(s, " sample=%u", m->sample);
        if (m->program)
            g_string_append_printf(s, " insns=%u%s", vspan_select_insns(m->program),
                                   m->program_live ? "" : " (compiled without a live handle: `vlan` tests the frame bytes)");
        g_string_append_c(s, '\n');
    }
    for (guint i = 0; i < plan->vfs->len; i++) {
        const VspanPlanVf *v = plan->vfs->pdata[i];
        g_autofree char *vf = v->vf >= 0 ? g_strdup_printf("%d", v->vf) : g_strdup("-");

        g_string_append_printf(s, "vf pci=%s pf=%s vf=%s pool=%s", v->pci ? v->pci : "-",
                               v->pf ? v->pf : "-", vf, v->pool ? v->pool : "-");
        vspan_vf_settings_format(s, &v->settings);
        g_string_append_c(s, '\n');
    }
    for (guint i = 0; i < plan->unmonitored->len; i++) {
        const VspanPlanUnmonitored *u = plan->unmonitored->pdata[i];
        g_string_append_printf(s, "unmonitored mac=%s type=%s\n", u->mac ? u->mac : "-", u->type);
    }
    for (guint i = 0; i < plan->ops->len; i++) {
        g_autofree char *op = vspan_op_format(plan->ops->pdata[i]);
        g_string_append_printf(s, "op %s\n", op);
    }
    for (guint i = 0; i < plan->warnings->len; i++)
        g_string_append_printf(s, "warning: %s\n", (const char *)plan->warnings->pdata[i]);
    for (guint i = 0; i < plan->errors->len; i++)
        g_string_append_printf(s, "error: %s\n", (const char *)plan->errors->pdata[i]);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

char *
vspan_plan_format_json(const VspanPlan *plan)
{
    VspanJson j;

    vspan_json_init(&j);
    vspan_json_begin_object(&j, NULL);
    vspan_json_string(&j, "phase", vspan_phase_to_string(plan->phase));
    vspan_json_string(&j, "domain", plan->domain_name);
    vspan_json_string(&j, "uuid", *plan->domain_uuid ? plan->domain_uuid : NULL);
    vspan_json_bool(&j, "needs_agent", plan->needs_agent);

    vspan_json_begin_array(&j, "mirrors");
    for (guint i = 0; i < plan->mirrors->len; i++) {
        const VspanPlanMirror *m = plan->mirrors->pdata[i];
        vspan_json_begin_object(&j, NULL);
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
        if (m->program)
            vspan_json_uint(&j, "insns", vspan_select_insns(m->program));
        vspan_json_end_object(&j);
    }
    vspan_json_end_array(&j);

    vspan_json_begin_array(&j, "vfs");
    for (guint i = 0; i < plan->vfs->len; i++) {
        const VspanPlanVf *v = plan->vfs->pdata[i];
        const VspanVfSettings *s = &v->settings;
        vspan_json_begin_object(&j, NULL);
        vspan_json_string(&j, "mac", v->mac);
        vspan_json_string(&j, "pci", v->pci);
        vspan_json_string(&j, "pf", v->pf);
        if (v->vf >= 0)
            vspan_json_int(&j, "vf", v->vf);
        else
            vspan_json_null(&j, "vf");
        vspan_json_string(&j, "pool", v->pool);
        vspan_json_uint(&j, "vlan", s->vlan);
        vspan_json_uint(&j, "qos", s->qos);
        vspan_json_string(&j, "vlan_proto", vspan_vlan_proto_to_string(s->proto));
        vspan_json_bool(&j, "trust", s->trust == VSPAN_SWITCH_ON);
        vspan_json_bool(&j, "spoofchk", s->spoofchk == VSPAN_SWITCH_ON);
        vspan_json_string(&j, "link_state", vspan_link_state_to_string(s->link_state));
        vspan_json_uint(&j, "min_tx_rate", s->min_tx_rate);
        vspan_json_uint(&j, "max_tx_rate", s->max_tx_rate);
        vspan_json_end_object(&j);
    }
    vspan_json_end_array(&j);

    vspan_json_begin_array(&j, "unmonitored");
    for (guint i = 0; i < plan->unmonitored->len; i++) {
        const VspanPlanUnmonitored *u = plan->unmonitored->pdata[i];
        vspan_json_begin_object(&j, NULL);
        vspan_json_string(&j, "mac", u->mac);
        vspan_json_string(&j, "type", u->type);
        vspan_json_string(&j, "why", u->why);
        vspan_json_end_object(&j);
    }
    vspan_json_end_array(&j);

    vspan_json_begin_array(&j, "ops");
    for (guint i = 0; i < plan->ops->len; i++) {
        g_autofree char *op = vspan_op_format(plan->ops->pdata[i]);
        vspan_json_string(&j, NULL, op);
    }
    vspan_json_end_array(&j);

    vspan_json_begin_array(&j, "warnings");
    for (guint i = 0; i < plan->warnings->len; i++)
        vspan_json_string(&j, NULL, plan->warnings->pdata[i]);
    vspan_json_end_array(&j);
    vspan_json_begin_array(&j, "errors");
    for (guint i = 0; i < plan->errors->len; i++)
        vspan_json_string(&j, NULL, plan->errors->pdata[i]);
    vspan_json_end_array(&j);
    vspan_json_end_object(&j);
    return vspan_json_finish(&j);
}

char *
vspan_plan_format_programs(const VspanPlan *plan)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (guint i = 0; i < plan->mirrors->len; i++) {
        const VspanPlanMirror *m = plan->mirrors->pdata[i];
        g_autofree char *code = NULL;

        if (!m->program)
            continue;
        code = vspan_select_disasm(m->program);
        g_string_append_printf(s, "program of mirror mac=%s appliance=%s (%u instructions):\n%s",
                               m->mac ? m->mac : "-", m->appliance, vspan_select_insns(m->program), code);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}
