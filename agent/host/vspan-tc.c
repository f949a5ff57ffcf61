/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-tc"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/gen_stats.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>

#include <netlink/attr.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>

#include "vspan-error.h"
#include "vspan-plan.h"
#include "vspan-tc.h"

/*
 * Why one file of ~650 lines: one object family of the kernel (the clsact
 * or ingress qdisc, vspan's filters, their mirred actions), built and
 * parsed by hand in both directions; the builder and the parser must stay
 * each other's mirror image.
 *
 * Filters are built and parsed with libnl's core (nlmsg/nla) rather than
 * rtnl_cls objects: libnl 3.7 cannot put cookies on actions, rejects u32
 * without a key, defaults mirred to TC_ACT_OK and reports ingress mirred
 * with a positive return (each reproduced with libnl 3.7.0).
 *
 * Every vspan filter matches all frames (matchall, or u32 with one 0/0
 * key) and carries one mirred "egress mirror" action per sink: all but the
 * last pipe to the next, the last one is TC_ACT_UNSPEC ("continue").  A
 * filter that returns >= 0 ends classification (__tcf_classify), so with
 * "pipe" the filters behind vspan's, such as libvirt's <bandwidth> police,
 * would never run; "continue" keeps vspan invisible to them.
 */

void
vspan_tc_filter_free(VspanTcFilter *f)
{
    if (!f)
        return;
    if (f->actions)
        g_array_unref(f->actions);
    if (f->ops)
        g_bytes_unref(f->ops);
    g_free(f);
}

guint32
vspan_tc_prio(VspanHook hook)
{
    return hook == VSPAN_HOOK_INGRESS ? VSPAN_TC_PRIO_INGRESS : VSPAN_TC_PRIO_EGRESS;
}

guint32
vspan_tc_select_prio(VspanHook hook)
{
    return hook == VSPAN_HOOK_INGRESS ? VSPAN_TC_PRIO_SELECT_INGRESS : VSPAN_TC_PRIO_SELECT_EGRESS;
}

/* ---- qdiscs ------------------------------------------------------------- */

typedef struct {
    int ifindex;
    gboolean found;
    guint32 handle;
    char kind[16];
} VspanQdiscGet;

static int
vspan_tc_qdisc_cb(struct nl_msg *msg, void *arg)
{
    VspanQdiscGet *get = arg;
    struct nlmsghdr *hdr = nlmsg_hdr(msg);
    struct tcmsg *tcm = nlmsg_data(hdr);
    struct nlattr *tb[TCA_MAX + 1];

    if (hdr->nlmsg_type != RTM_NEWQDISC || tcm->tcm_ifindex != get->ifindex)
        return NL_OK;
    if (nlmsg_parse(hdr, sizeof(*tcm), tb, TCA_MAX, NULL) < 0 || !tb[TCA_KIND])
        return NL_OK;
    get->found = TRUE;
    get->handle = tcm->tcm_handle;
    g_strlcpy(get->kind, nla_get_string(tb[TCA_KIND]), sizeof(get->kind));
    return NL_OK;
}

/* The qdisc at @parent (TC_H_INGRESS: the ingress queue's, TC_H_ROOT: the
 * root) with one targeted RTM_GETQDISC: a dump would list every qdisc of
 * the host, and probing a thousand taps would be quadratic. */
static gboolean
vspan_tc_qdisc_get(VspanNl *nl, int ifindex, guint32 parent, VspanQdiscGet *get, GError **error)
{
    /* tc_get_qdisc() answers through qdisc_notify(), which unicasts the
     * answer to the asker only with NLM_F_ECHO. */
    g_autoptr(VspanNlMsg) msg = nlmsg_alloc_simple(RTM_GETQDISC, NLM_F_ECHO);
    struct tcmsg tcm = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_parent = parent };
    int r;

    *get = (VspanQdiscGet){ .ifindex = ifindex };
    nlmsg_append(msg, &tcm, sizeof(tcm), NLMSG_ALIGNTO);
    r = vspan_nl_get(nl, msg, vspan_tc_qdisc_cb, get,
                     parent == TC_H_ROOT ? "RTM_GETQDISC root" : "RTM_GETQDISC ingress");
    if (r == -ENOENT || r == -EINVAL)
        return TRUE;    /* no such qdisc */
    if (r < 0) {
        vspan_nl_set_error(nl, error, r, "Cannot read the qdiscs of ifindex %d", ifindex);
        return FALSE;
    }
    return TRUE;
}

static gboolean
vspan_tc_root_is_classful(const char *kind)
{
    static const char *const classful[] = { "htb", "hfsc", "prio", "drr", "qfq", "cbq", "ets", NULL };

    return g_strv_contains(classful, kind);
}

gboolean
vspan_tc_probe(VspanNl *nl, int ifindex, VspanTcAttach *at, GError **error)
{
    VspanQdiscGet in, root;

    *at = (VspanTcAttach){ .state = VSPAN_QDISC_STATE_NONE };
    if (!vspan_tc_qdisc_get(nl, ifindex, TC_H_INGRESS, &in, error))
        return FALSE;
    if (in.found && g_str_equal(in.kind, "clsact")) {
        at->state = VSPAN_QDISC_STATE_CLSACT;
        at->parent[VSPAN_HOOK_INGRESS] = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
        at->parent[VSPAN_HOOK_EGRESS] = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS);
    } else if (in.found && g_str_equal(in.kind, "ingress")) {
        /* libvirt's <bandwidth>: share its ingress qdisc and its classful
         * root; clsact cannot be added beside ingress. */
        at->state = VSPAN_QDISC_STATE_INGRESS;
        at->parent[VSPAN_HOOK_INGRESS] = TC_H_MAKE(TC_H_INGRESS, 0);
        if (!vspan_tc_qdisc_get(nl, ifindex, TC_H_ROOT, &root, error))
            return FALSE;
        if (root.found && vspan_tc_root_is_classful(root.kind))
            at->parent[VSPAN_HOOK_EGRESS] = root.handle;
    }
    return TRUE;
}

/* libvirt adds its ingress qdisc, then its police filter; the kernel gives
 * that filter a priority below the lowest one present, so a vspan mirror
 * added in between would come after the police (whose "ok" ends
 * classification: no from-VM copies).  Wait for libvirt's filter first. */
static gboolean
vspan_tc_libvirt_police_present(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                                GError **error)
{
    g_autoptr(GPtrArray) all = vspan_tc_dump_hook(nl, ifindex, at->parent[VSPAN_HOOK_INGRESS], VSPAN_HOOK_INGRESS,
                                                  FALSE, error);

    if (!all)
        return FALSE;
    for (guint i = 0; i < all->len; i++)
        if (!vspan_tc_prio_is_vspans(((VspanTcFilter *)all->pdata[i])->prio))
            return TRUE;
    g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_UNAVAILABLE,
                "'%s' has libvirt's ingress qdisc but not yet its <bandwidth> police filter, which vspan's "
                "mirror must precede; vspan attaches it when the filter is there", dev);
    return FALSE;
}

gboolean
vspan_tc_attach(VspanNl *nl, int ifindex, const char *dev, VspanQdiscMode mode, VspanTcAttach *at,
                gboolean *created, GError **error)
{
    const char *kind = mode == VSPAN_QDISC_INGRESS ? "ingress" : "clsact";
    struct rtnl_qdisc *q;
    struct nl_msg *raw = NULL;
    g_autoptr(VspanNlMsg) msg = NULL;
    g_autofree char *what = NULL;
    int r;

    *created = FALSE;
    if (!vspan_tc_probe(nl, ifindex, at, error))
        return FALSE;
    if (at->state == VSPAN_QDISC_STATE_INGRESS && mode == VSPAN_QDISC_LIBVIRT)
        return vspan_tc_libvirt_police_present(nl, ifindex, dev, at, error);
    if (at->state != VSPAN_QDISC_STATE_NONE)
        return TRUE;
    if (mode == VSPAN_QDISC_LIBVIRT) {
        /* between libvirt's `tc qdisc del` and `add` (domiftune,
         * update-device): a qdisc of vspan's would make libvirt's add fail */
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_UNAVAILABLE,
                    "'%s' has no ingress qdisc yet: libvirt adds it for the interface's <bandwidth> outbound "
                    "limit, and vspan attaches its mirrors to it when it does", dev);
        return FALSE;
    }

    /* An explicit handle makes the kernel answer EEXIST instead of silently
     * replacing an ingress qdisc that appeared meanwhile (pitfall 4). */
    q = rtnl_qdisc_alloc();
    rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
    rtnl_tc_set_kind(TC_CAST(q), kind);     /* ingress: its handle and parent are clsact's */
    rtnl_tc_set_handle(TC_CAST(q), TC_H_MAKE(TC_H_CLSACT, 0));
    rtnl_tc_set_parent(TC_CAST(q), TC_H_CLSACT);
    r = rtnl_qdisc_build_add_request(q, NLM_F_CREATE | NLM_F_EXCL, &raw);
    rtnl_qdisc_put(q);
    if (r < 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot build the %s request for '%s': %s", kind, dev, nl_geterror(r));
        return FALSE;
    }
    msg = raw;
    what = g_strdup_printf("RTM_NEWQDISC %s dev %s", kind, dev);
    r = vspan_nl_request(nl, msg, what);
    if (r == -EEXIST)
        return vspan_tc_probe(nl, ifindex, at, error);
    if (r < 0) {
        vspan_nl_set_error(nl, error, r, "Cannot add the %s qdisc to '%s'", kind, dev);
        return FALSE;
    }
    *created = TRUE;
    return vspan_tc_probe(nl, ifindex, at, error);
}

/* ---- filters: parsing --------------------------------------------------- */

typedef struct {
    int ifindex;
    guint32 parent;
    VspanHook hook;
    gboolean only_vspan_prio;
    GPtrArray *out;
} VspanFilterScan;

static void
vspan_tc_parse_action(struct nlattr *act, VspanTcFilter *f)
{
    struct nlattr *tb[TCA_ACT_MAX + 1];
    struct nlattr *opt[TCA_MIRRED_MAX + 1];
    VspanTcAction a = { 0 };

    if (nla_parse_nested(tb, TCA_ACT_MAX, act, NULL) < 0 || !tb[TCA_ACT_KIND])
        return;
    if (!g_str_equal(nla_get_string(tb[TCA_ACT_KIND]), "mirred")) {
        f->ours = FALSE;
        g_array_append_val(f->actions, a);
        return;
    }
    if (tb[TCA_ACT_OPTIONS] &&
        nla_parse_nested(opt, TCA_MIRRED_MAX, tb[TCA_ACT_OPTIONS], NULL) == 0 &&
        opt[TCA_MIRRED_PARMS] && nla_len(opt[TCA_MIRRED_PARMS]) >= (int)sizeof(struct tc_mirred)) {
        const struct tc_mirred *p = nla_data(opt[TCA_MIRRED_PARMS]);
        a.ifindex = p->ifindex;
        a.action = p->action;
        if (p->eaction != TCA_EGRESS_MIRROR)
            f->ours = FALSE;
    }
    a.cookie_ok = tb[TCA_ACT_COOKIE] &&
                  nla_len(tb[TCA_ACT_COOKIE]) == (int)strlen(VSPAN_TC_COOKIE) &&
                  memcmp(nla_data(tb[TCA_ACT_COOKIE]), VSPAN_TC_COOKIE, strlen(VSPAN_TC_COOKIE)) == 0;
    if (!a.cookie_ok)
        f->ours = FALSE;
    if (tb[TCA_ACT_STATS]) {
        struct nlattr *st[TCA_STATS_MAX + 1];
        if (nla_parse_nested(st, TCA_STATS_MAX, tb[TCA_ACT_STATS], NULL) == 0) {
            if (st[TCA_STATS_BASIC]) {
                struct gnet_stats_basic b = { 0 };
                memcpy(&b, nla_data(st[TCA_STATS_BASIC]), MIN((size_t)nla_len(st[TCA_STATS_BASIC]), sizeof(b)));
                a.bytes = b.bytes;
                a.packets = b.packets;
            }
            if (st[TCA_STATS_QUEUE]) {
                struct gnet_stats_queue qs = { 0 };
                memcpy(&qs, nla_data(st[TCA_STATS_QUEUE]), MIN((size_t)nla_len(st[TCA_STATS_QUEUE]), sizeof(qs)));
                a.drops = (guint64)qs.drops + qs.overlimits;
            }
        }
    }
    g_array_append_val(f->actions, a);
}

static int
vspan_tc_filter_cb(struct nl_msg *msg, void *arg)
{
    VspanFilterScan *scan = arg;
    struct nlmsghdr *hdr = nlmsg_hdr(msg);
    struct tcmsg *tcm = nlmsg_data(hdr);
    struct nlattr *tb[TCA_MAX + 1];
    struct nlattr *acts = NULL;
    GBytes *ops = NULL;
    guint32 prog_id = 0;
    char bpf_name[64] = "";
    g_autoptr(VspanTcFilter) f = NULL;
    const char *kind;
    guint32 prio;

    if (hdr->nlmsg_type != RTM_NEWTFILTER || tcm->tcm_ifindex != scan->ifindex ||
        tcm->tcm_parent != scan->parent)
        return NL_OK;
    prio = TC_H_MAJ(tcm->tcm_info) >> 16;
    if (scan->only_vspan_prio && prio != vspan_tc_prio(scan->hook) &&
        prio != vspan_tc_select_prio(scan->hook) && prio != VSPAN_TC_PRIO_TAG &&
        prio != VSPAN_TC_PRIO_INLINE_FIRST && prio != VSPAN_TC_PRIO_INLINE_LAST)
        return NL_OK;
    if (nlmsg_parse(hdr, sizeof(*tcm), tb, TCA_MAX, NULL) < 0 || !tb[TCA_KIND])
        return NL_OK;
    /* The dump opens every priority with a header entry (handle 0, no
     * options): the classifier instance, not a filter. */
    if (!tb[TCA_OPTIONS] && tcm->tcm_handle == 0)
        return NL_OK;
    kind = nla_get_string(tb[TCA_KIND]);

    if (tb[TCA_OPTIONS]) {
        if (g_str_equal(kind, "u32")) {
            struct nlattr *o[TCA_U32_MAX + 1];
            if (nla_parse_nested(o, TCA_U32_MAX, tb[TCA_OPTIONS], NULL) == 0)
                acts = o[TCA_U32_ACT];
            /* u32 hash-table entries (no key part in the handle) are
             * scaffolding, not filters. */
            if (TC_U32_KEY(tcm->tcm_handle) == 0)
                return NL_OK;
        } else if (g_str_equal(kind, "matchall")) {
            struct nlattr *o[TCA_MATCHALL_MAX + 1];
            if (nla_parse_nested(o, TCA_MATCHALL_MAX, tb[TCA_OPTIONS], NULL) == 0)
                acts = o[TCA_MATCHALL_ACT];
        } else if (g_str_equal(kind, "bpf")) {
            struct nlattr *o[TCA_BPF_MAX + 1];
            if (nla_parse_nested(o, TCA_BPF_MAX, tb[TCA_OPTIONS], NULL) == 0) {
                acts = o[TCA_BPF_ACT];
                if (o[TCA_BPF_OPS])
                    ops = g_bytes_new(nla_data(o[TCA_BPF_OPS]), nla_len(o[TCA_BPF_OPS]));
                if (o[TCA_BPF_ID])
                    prog_id = nla_get_u32(o[TCA_BPF_ID]);
                if (o[TCA_BPF_NAME])
                    nla_strlcpy(bpf_name, o[TCA_BPF_NAME], sizeof(bpf_name));
            }
        }
    }

    f = g_new0(VspanTcFilter, 1);
    f->hook = scan->hook;
    f->parent = tcm->tcm_parent;
    f->prio = prio;
    f->handle = tcm->tcm_handle;
    g_strlcpy(f->kind, kind, sizeof(f->kind));
    f->actions = g_array_new(FALSE, TRUE, sizeof(VspanTcAction));
    f->ops = ops;
    f->prog_id = prog_id;
    g_strlcpy(f->name, bpf_name, sizeof(f->name));
    /* the match-all priority holds u32 or matchall, the select one bpf */
    f->ours = acts != NULL &&
              (prio == vspan_tc_prio(scan->hook) ? g_str_equal(kind, "u32") || g_str_equal(kind, "matchall")
                                                 : g_str_equal(kind, "bpf") && (ops || prog_id));
    if (acts) {
        struct nlattr *a;
        int rem;
        nla_for_each_nested(a, acts, rem)
            vspan_tc_parse_action(a, f);
    }
    if (f->actions->len == 0)
        f->ours = FALSE;
    g_ptr_array_add(scan->out, g_steal_pointer(&f));
    return NL_OK;
}

GPtrArray *
vspan_tc_dump_hook(VspanNl *nl, int ifindex, guint32 parent, VspanHook hook,
                   gboolean only_vspan_prio, GError **error)
{
    g_autoptr(VspanNlMsg) msg = nlmsg_alloc_simple(RTM_GETTFILTER, 0);
    struct tcmsg tcm = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_parent = parent };
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_tc_filter_free);
    VspanFilterScan scan = { ifindex, parent, hook, only_vspan_prio, out };
    int r;

    nlmsg_append(msg, &tcm, sizeof(tcm), NLMSG_ALIGNTO);
    r = vspan_nl_dump(nl, msg, vspan_tc_filter_cb, &scan, "RTM_GETTFILTER dump");
    if (r < 0) {
        vspan_nl_set_error(nl, error, r, "Cannot list the %s filters of ifindex %d",
                           vspan_hook_to_string(hook), ifindex);
        return NULL;
    }
    return g_steal_pointer(&out);
}

GPtrArray *
vspan_tc_dump(VspanNl *nl, int ifindex, const VspanTcAttach *at, GError **error)
{
    g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_tc_filter_free);

    for (VspanHook hook = 0; hook < VSPAN_HOOK_LAST; hook++) {
        g_autoptr(GPtrArray) part = NULL;

        if (!at->parent[hook])
            continue;
        part = vspan_tc_dump_hook(nl, ifindex, at->parent[hook], hook, TRUE, error);
        if (!part)
            return NULL;
        g_ptr_array_extend_and_steal(all, g_steal_pointer(&part));
    }
    return g_steal_pointer(&all);
}

/* The hook's filter at vspan's priority.  *foreign is set when something
 * that is not vspan's sits there. */
static VspanTcFilter *
vspan_tc_find(GPtrArray *filters, VspanHook hook, gboolean *foreign)
{
    VspanTcFilter *found = NULL;

    *foreign = FALSE;
    for (guint i = 0; i < filters->len; i++) {
        VspanTcFilter *f = filters->pdata[i];
        if (f->hook != hook || f->prio != vspan_tc_prio(hook))
            continue;
        if (!f->ours)
            *foreign = TRUE;
        else if (!found)
            found = f;
    }
    return found;
}

/* Does @f copy to exactly @sinks, in order, with vspan's control actions? */
static gboolean
vspan_tc_filter_matches(const VspanTcFilter *f, const guint32 *sinks, guint n)
{
    if (f->actions->len != n)
        return FALSE;
    for (guint i = 0; i < n; i++) {
        const VspanTcAction *a = &g_array_index(f->actions, VspanTcAction, i);
        if (a->ifindex != sinks[i] ||
            a->action != (i + 1 < n ? (guint32)TC_ACT_PIPE : (guint32)TC_ACT_UNSPEC))
            return FALSE;
    }
    return TRUE;
}

/* ---- filters: building -------------------------------------------------- */

static int
vspan_tc_put_actions(struct nl_msg *msg, int attr, const guint32 *sinks, guint n)
{
    struct nlattr *acts = nla_nest_start(msg, attr);

    if (!acts)
        return -ENOMEM;
    for (guint i = 0; i < n; i++) {
        struct tc_mirred p = {
            .action = i + 1 < n ? TC_ACT_PIPE : TC_ACT_UNSPEC,
            .eaction = TCA_EGRESS_MIRROR,
            .ifindex = sinks[i],
        };
        struct nlattr *act = nla_nest_start(msg, i + 1);
        struct nlattr *opts;

        if (!act || nla_put_string(msg, TCA_ACT_KIND, "mirred") < 0)
            return -ENOMEM;
        opts = nla_nest_start(msg, TCA_ACT_OPTIONS);
        if (!opts || nla_put(msg, TCA_MIRRED_PARMS, sizeof(p), &p) < 0)
            return -ENOMEM;
        nla_nest_end(msg, opts);
        if (nla_put(msg, TCA_ACT_COOKIE, strlen(VSPAN_TC_COOKIE), VSPAN_TC_COOKIE) < 0)
            return -ENOMEM;
        nla_nest_end(msg, act);
    }
    nla_nest_end(msg, acts);
    return 0;
}

/* A filter request on @ifindex: its tcmsg at @prio with @handle. */
static struct nl_msg *
vspan_tc_filter_msg(int type, int flags, int ifindex, guint32 parent, guint32 prio, guint32 handle)
{
    struct nl_msg *msg = nlmsg_alloc_simple(type, flags);
    struct tcmsg tcm = {
        .tcm_family = AF_UNSPEC,
        .tcm_ifindex = ifindex,
        .tcm_parent = parent,
        .tcm_handle = handle,
        .tcm_info = TC_H_MAKE(prio << 16, htons(ETH_P_ALL)),
    };

    if (msg && nlmsg_append(msg, &tcm, sizeof(tcm), NLMSG_ALIGNTO) < 0) {
        nlmsg_free(msg);
        return NULL;
    }
    return msg;
}

/* The hook has a parent to attach to, or @error says how to give it one. */
static gboolean
vspan_tc_need_parent(const VspanTcAttach *at, VspanHook hook, const char *dev, GError **error)
{
    if (at->parent[hook])
        return TRUE;
    g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                "Cannot mirror the %s of '%s': it has an ingress qdisc but no classful root qdisc to attach egress filters to; remove its <bandwidth> or give it an outbound limit too",
                hook == VSPAN_HOOK_EGRESS ? "to-vm traffic" : "from-vm traffic", dev);
    return FALSE;
}

static struct nl_msg *
vspan_tc_build_filter(int ifindex, guint32 parent, VspanHook hook, VspanClassifier cls,
                      guint32 handle, int flags, const guint32 *sinks, guint n)
{
    g_autoptr(VspanNlMsg) msg = vspan_tc_filter_msg(RTM_NEWTFILTER, flags, ifindex, parent,
                                                    vspan_tc_prio(hook), handle);
    struct nlattr *opts;

    if (!msg)
        return NULL;
    if (cls == VSPAN_CLASSIFIER_MATCHALL) {
        if (nla_put_string(msg, TCA_KIND, "matchall") < 0 ||
            !(opts = nla_nest_start(msg, TCA_OPTIONS)) ||
            vspan_tc_put_actions(msg, TCA_MATCHALL_ACT, sinks, n) < 0)
            return NULL;
    } else {
        /* One 0/0 key: libnl and the kernel refuse a selector without keys
         * (pitfall 1); TERMINAL so the actions run on the match. */
        guint32 raw[(sizeof(struct tc_u32_sel) + sizeof(struct tc_u32_key)) / sizeof(guint32)] = { 0 };
        struct tc_u32_sel *sel = (struct tc_u32_sel *)raw;

        sel->flags = TC_U32_TERMINAL;
        sel->nkeys = 1;
        if (nla_put_string(msg, TCA_KIND, "u32") < 0 ||
            !(opts = nla_nest_start(msg, TCA_OPTIONS)) ||
            nla_put(msg, TCA_U32_SEL, sizeof(raw), raw) < 0 ||
            vspan_tc_put_actions(msg, TCA_U32_ACT, sinks, n) < 0)
            return NULL;
    }
    nla_nest_end(msg, opts);
    return g_steal_pointer(&msg);
}

static char *
vspan_tc_sinks_string(const guint32 *sinks, guint n)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (guint i = 0; i < n; i++)
        g_string_append_printf(s, "%sifindex %u", i ? ", " : "", sinks[i]);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* Delete the filter @handle at @prio, or every filter there when 0. */
static int
vspan_tc_delete(VspanNl *nl, int ifindex, guint32 parent, guint32 prio, guint32 handle,
                const char *kind, const char *dev)
{
    g_autoptr(VspanNlMsg) msg = vspan_tc_filter_msg(RTM_DELTFILTER, 0, ifindex, parent, prio, handle);
    g_autofree char *what = g_strdup_printf("RTM_DELTFILTER dev %s prio %u handle %u", dev, prio, handle);

    if (!msg)
        return -ENOMEM;
    /* a handle is only understood together with the classifier's kind */
    if (handle && nla_put_string(msg, TCA_KIND, kind) < 0)
        return -ENOMEM;
    return vspan_nl_request(nl, msg, what);
}

static int
vspan_tc_delete_prio(VspanNl *nl, int ifindex, guint32 parent, VspanHook hook, const char *dev)
{
    return vspan_tc_delete(nl, ifindex, parent, vspan_tc_prio(hook), 0, NULL, dev);
}

gboolean
vspan_tc_mirror_set(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                    VspanHook hook, VspanClassifier *cls, const guint32 *sinks,
                    guint n_sinks, GError **error)
{
    g_autoptr(GPtrArray) filters = NULL;
    g_autofree char *targets = vspan_tc_sinks_string(sinks, n_sinks);
    VspanTcFilter *have;
    gboolean foreign;
    int r;

    g_return_val_if_fail(n_sinks > 0, FALSE);
    if (!vspan_tc_need_parent(at, hook, dev, error))
        return FALSE;
    filters = vspan_tc_dump_hook(nl, ifindex, at->parent[hook], hook, TRUE, error);
    if (!filters)
        return FALSE;
    have = vspan_tc_find(filters, hook, &foreign);
    if (foreign) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot mirror '%s': a filter vspan did not create uses its reserved %s priority %u; move that filter to another priority",
                    dev, vspan_hook_to_string(hook), vspan_tc_prio(hook));
        return FALSE;
    }

    if (have && vspan_tc_filter_matches(have, sinks, n_sinks)) {
        g_debug("%s mirror of %s already copies to %s", vspan_hook_to_string(hook), dev, targets);
        return TRUE;    /* applying twice equals applying once */
    }
    if (have) {
        VspanClassifier kind = g_str_equal(have->kind, "matchall") ? VSPAN_CLASSIFIER_MATCHALL
                                                                   : VSPAN_CLASSIFIER_U32;
        g_autofree char *what = g_strdup_printf("RTM_NEWTFILTER replace dev %s %s prio %u %s -> %s",
                                                dev, vspan_hook_to_string(hook), have->prio,
                                                have->kind, targets);
        g_autoptr(VspanNlMsg) msg = NULL;

        if (kind == VSPAN_CLASSIFIER_U32) {
            /* u32 replaces a key node in place (RCU): no frame goes
             * uncopied while re-pointing.  The full handle comes from the
             * dump (pitfall 5). */
            msg = vspan_tc_build_filter(ifindex, at->parent[hook], hook, kind, have->handle,
                                        NLM_F_CREATE | NLM_F_REPLACE, sinks, n_sinks);
            r = msg ? vspan_nl_request(nl, msg, what) : -ENOMEM;
            if (r < 0) {
                vspan_nl_set_error(nl, error, r, "Cannot re-point the %s mirror of '%s' to %s",
                                   vspan_hook_to_string(hook), dev, targets);
                return FALSE;
            }
            return TRUE;
        }
        /* matchall has no in-place change: replace the filter. */
        r = vspan_tc_delete_prio(nl, ifindex, at->parent[hook], hook, dev);
        if (r < 0 && r != -ENOENT) {
            vspan_nl_set_error(nl, error, r, "Cannot remove the old %s mirror of '%s'",
                               vspan_hook_to_string(hook), dev);
            return FALSE;
        }
        *cls = VSPAN_CLASSIFIER_MATCHALL;
    }

    for (;;) {
        VspanClassifier use = *cls == VSPAN_CLASSIFIER_AUTO ? VSPAN_CLASSIFIER_MATCHALL : *cls;
        g_autoptr(VspanNlMsg) msg = vspan_tc_build_filter(ifindex, at->parent[hook], hook, use, 0,
                                                      NLM_F_CREATE | NLM_F_EXCL, sinks, n_sinks);
        g_autofree char *what = g_strdup_printf("RTM_NEWTFILTER dev %s %s prio %u %s -> %s", dev,
                                                vspan_hook_to_string(hook), vspan_tc_prio(hook),
                                                vspan_classifier_to_string(use), targets);

        r = msg ? vspan_nl_request(nl, msg, what) : -ENOMEM;
        if (r == -ENOENT && *cls == VSPAN_CLASSIFIER_AUTO) {
            /* "TC classifier not found": no cls_matchall in this kernel. */
            g_debug("matchall is not available; using u32 match u32 0 0");
            *cls = VSPAN_CLASSIFIER_U32;
            continue;
        }
        if (r < 0) {
            vspan_nl_set_error(nl, error, r, "Cannot add the %s mirror of '%s' to %s",
                               vspan_hook_to_string(hook), dev, targets);
            return FALSE;
        }
        if (*cls == VSPAN_CLASSIFIER_AUTO)
            *cls = use;
        return TRUE;
    }
}

gboolean
vspan_tc_mirror_del(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                    VspanHook hook, GError **error)
{
    g_autoptr(GPtrArray) filters = NULL;
    gboolean foreign;
    int r;

    if (!at->parent[hook])
        return TRUE;
    filters = vspan_tc_dump_hook(nl, ifindex, at->parent[hook], hook, TRUE, error);
    if (!filters)
        return FALSE;
    if (!vspan_tc_find(filters, hook, &foreign))
        return TRUE;    /* already gone: removal is idempotent */
    if (foreign) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot remove the %s mirror of '%s': a filter vspan did not create shares its priority %u; remove that filter first",
                    vspan_hook_to_string(hook), dev, vspan_tc_prio(hook));
        return FALSE;
    }
    r = vspan_tc_delete_prio(nl, ifindex, at->parent[hook], hook, dev);
    if (r < 0 && r != -ENOENT) {
        vspan_nl_set_error(nl, error, r, "Cannot remove the %s mirror of '%s'",
                           vspan_hook_to_string(hook), dev);
        return FALSE;
    }
    return TRUE;
}

gboolean
vspan_tc_mirror_verify(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                       VspanHook hook, const guint32 *sinks, guint n_sinks, GError **error)
{
    g_autoptr(GPtrArray) filters = at->parent[hook]
        ? vspan_tc_dump_hook(nl, ifindex, at->parent[hook], hook, TRUE, error) : NULL;
    g_autofree char *want = vspan_tc_sinks_string(sinks, n_sinks);
    VspanTcFilter *have;
    gboolean foreign;

    if (!filters)
        return FALSE;
    have = vspan_tc_find(filters, hook, &foreign);
    if (!have) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_VERIFY,
                    "The %s mirror of '%s' is missing (expected copies to %s)",
                    vspan_hook_to_string(hook), dev, want);
        return FALSE;
    }
    if (!vspan_tc_filter_matches(have, sinks, n_sinks)) {
        g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(guint32));
        g_autofree char *gots = NULL;
        for (guint i = 0; i < have->actions->len; i++)
            g_array_append_val(got, g_array_index(have->actions, VspanTcAction, i).ifindex);
        gots = vspan_tc_sinks_string((guint32 *)got->data, got->len);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_VERIFY,
                    "The %s mirror of '%s' copies to %s, expected %s",
                    vspan_hook_to_string(hook), dev, gots, want);
        return FALSE;
    }
    return TRUE;
}

gboolean
vspan_tc_detach(VspanNl *nl, int ifindex, const char *dev, GError **error)
{
    VspanTcAttach at;
    g_autoptr(VspanNlMsg) msg = NULL;
    g_autofree char *what = NULL;
    struct tcmsg tcm = {
        .tcm_family = AF_UNSPEC,
        .tcm_ifindex = ifindex,
        .tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0),
        .tcm_parent = TC_H_CLSACT,
    };
    int r;

    if (!vspan_tc_probe(nl, ifindex, &at, error))
        return FALSE;
    if (at.state != VSPAN_QDISC_STATE_CLSACT)
        return TRUE;
    for (VspanHook hook = 0; hook < VSPAN_HOOK_LAST; hook++) {
        g_autoptr(GPtrArray) all = vspan_tc_dump_hook(nl, ifindex, at.parent[hook], hook, FALSE, error);
        if (!all)
            return FALSE;
        if (all->len > 0)
            return TRUE;    /* someone else's filters live there: keep it */
    }
    msg = nlmsg_alloc_simple(RTM_DELQDISC, 0);
    nlmsg_append(msg, &tcm, sizeof(tcm), NLMSG_ALIGNTO);
    what = g_strdup_printf("RTM_DELQDISC clsact dev %s", dev);
    r = vspan_nl_request(nl, msg, what);
    if (r < 0 && r != -ENOENT && r != -EINVAL) {
        vspan_nl_set_error(nl, error, r, "Cannot remove the clsact qdisc of '%s'", dev);
        return FALSE;
    }
    return TRUE;
}

/* ---- rules that select (cls_bpf, classic BPF) --------------------------- */

/* The select filters of @hook in @filters: rule @handle (or NULL) and
 * whether anything foreign sits at the select priority. */
static VspanTcFilter *
vspan_tc_find_select(GPtrArray *filters, VspanHook hook, guint32 handle, gboolean *foreign)
{
    VspanTcFilter *found = NULL;

    *foreign = FALSE;
    for (guint i = 0; i < filters->len; i++) {
        VspanTcFilter *f = filters->pdata[i];
        if (f->hook != hook || f->prio != vspan_tc_select_prio(hook))
            continue;
        if (!f->ours)
            *foreign = TRUE;
        else if (f->handle == handle)
            found = f;
    }
    return found;
}

static gboolean
vspan_tc_program_matches(const VspanTcFilter *f, const VspanTcProgram *prog)
{
    return prog->ops ? f->ops && g_bytes_equal(f->ops, prog->ops) : f->prog_id == prog->prog_id;
}

static struct nl_msg *
vspan_tc_build_select(int ifindex, guint32 parent, VspanHook hook, guint32 handle, guint32 sink,
                      const VspanTcProgram *prog)
{
    g_autoptr(VspanNlMsg) msg = vspan_tc_filter_msg(RTM_NEWTFILTER, NLM_F_CREATE, ifindex, parent,
                                                    vspan_tc_select_prio(hook), handle);
    struct nlattr *opts;

    if (!msg || nla_put_string(msg, TCA_KIND, "bpf") < 0 ||
        !(opts = nla_nest_start(msg, TCA_OPTIONS)))
        return NULL;
    if (prog->ops) {
        gsize size = 0;
        const void *code = g_bytes_get_data(prog->ops, &size);

        if (nla_put_u16(msg, TCA_BPF_OPS_LEN, size / sizeof(struct sock_filter)) < 0 ||
            nla_put(msg, TCA_BPF_OPS, size, code) < 0)
            return NULL;
    } else if (nla_put_u32(msg, TCA_BPF_FD, prog->prog_fd) < 0 ||
               nla_put_string(msg, TCA_BPF_NAME, prog->name) < 0) {
        return NULL;
    }
    if (vspan_tc_put_actions(msg, TCA_BPF_ACT, &sink, 1) < 0)
        return NULL;
    nla_nest_end(msg, opts);
    return g_steal_pointer(&msg);
}

static gboolean
vspan_tc_select_verify(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                       VspanHook hook, guint32 handle, guint32 sink, const VspanTcProgram *prog,
                       GError **error)
{
    g_autoptr(GPtrArray) filters = vspan_tc_dump_hook(nl, ifindex, at->parent[hook], hook, TRUE, error);
    VspanTcFilter *have;
    gboolean foreign;

    if (!filters)
        return FALSE;
    have = vspan_tc_find_select(filters, hook, handle, &foreign);
    if (!have) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_VERIFY,
                    "The %s rule %u of '%s' is missing (expected copies to ifindex %u)",
                    vspan_hook_to_string(hook), handle, dev, sink);
        return FALSE;
    }
    if (!vspan_tc_filter_matches(have, &sink, 1) || !vspan_tc_program_matches(have, prog)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_VERIFY,
                    "The %s rule %u of '%s' reads back with another program or sink than was set",
                    vspan_hook_to_string(hook), handle, dev);
        return FALSE;
    }
    return TRUE;
}

gboolean
vspan_tc_select_set(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                    VspanHook hook, guint32 handle, guint32 sink, const VspanTcProgram *prog,
                    GError **error)
{
    g_autoptr(GPtrArray) filters = NULL;
    g_autoptr(VspanNlMsg) msg = NULL;
    g_autofree char *what = NULL;
    VspanTcFilter *have;
    gboolean foreign;
    int r;

    if (!vspan_tc_need_parent(at, hook, dev, error))
        return FALSE;
    filters = vspan_tc_dump_hook(nl, ifindex, at->parent[hook], hook, TRUE, error);
    if (!filters)
        return FALSE;
    have = vspan_tc_find_select(filters, hook, handle, &foreign);
    if (foreign) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot mirror '%s': a filter vspan did not create uses its reserved %s priority %u; move that filter to another priority",
                    dev, vspan_hook_to_string(hook), vspan_tc_select_prio(hook));
        return FALSE;
    }
    if (have && vspan_tc_filter_matches(have, &sink, 1) && vspan_tc_program_matches(have, prog))
        return TRUE;    /* applying twice equals applying once */

    msg = vspan_tc_build_select(ifindex, at->parent[hook], hook, handle, sink, prog);
    what = prog->ops ? g_strdup_printf("RTM_NEWTFILTER dev %s %s prio %u bpf handle %u (%zu insns) -> ifindex %u",
                                       dev, vspan_hook_to_string(hook), vspan_tc_select_prio(hook), handle,
                                       g_bytes_get_size(prog->ops) / sizeof(struct sock_filter), sink)
                     : g_strdup_printf("RTM_NEWTFILTER dev %s %s prio %u bpf handle %u program %s (id %u) -> ifindex %u",
                                       dev, vspan_hook_to_string(hook), vspan_tc_select_prio(hook), handle,
                                       prog->name, prog->prog_id, sink);
    r = msg ? vspan_nl_request(nl, msg, what) : -ENOMEM;
    if (r < 0) {
        vspan_nl_set_error(nl, error, r, "Cannot add the %s rule %u of '%s' (cls_bpf)",
                           vspan_hook_to_string(hook), handle, dev);
        return FALSE;
    }
    return vspan_tc_select_verify(nl, ifindex, dev, at, hook, handle, sink, prog, error);
}

gboolean
vspan_tc_select_del(VspanNl *nl, int ifindex, const char *dev, const VspanTcAttach *at,
                    VspanHook hook, guint32 handle, GError **error)
{
    g_autoptr(GPtrArray) filters = NULL;
    gboolean foreign, any = FALSE;
    int r;

    if (!at->parent[hook])
        return TRUE;
    filters = vspan_tc_dump_hook(nl, ifindex, at->parent[hook], hook, TRUE, error);
    if (!filters)
        return FALSE;
    /* rule @handle, or (0) anything at the select priority */
    any = vspan_tc_find_select(filters, hook, handle, &foreign) != NULL || (!handle && foreign);
    for (guint i = 0; !handle && !any && i < filters->len; i++)
        any = ((const VspanTcFilter *)filters->pdata[i])->prio == vspan_tc_select_prio(hook);
    if (!any)
        return TRUE;    /* already gone: removal is idempotent */
    if (foreign) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot remove the %s rules of '%s': a filter vspan did not create shares their priority %u; remove that filter first",
                    vspan_hook_to_string(hook), dev, vspan_tc_select_prio(hook));
        return FALSE;
    }
    r = vspan_tc_delete(nl, ifindex, at->parent[hook], vspan_tc_select_prio(hook), handle, "bpf", dev);
    if (r < 0 && r != -ENOENT) {
        vspan_nl_set_error(nl, error, r, "Cannot remove the %s rule %u of '%s'",
                           vspan_hook_to_string(hook), handle, dev);
        return FALSE;
    }
    return TRUE;
}

/* ---- vspan's direct-action filters (cls_bpf) ----------------------------- */

/*
 * A sink's shaper, and the copy-tag/copy-untag pair of a tagged tap's hook:
 * each one direct-action cls_bpf filter (handle 1) at its own priority,
 * known by its TCA_BPF_NAME.  @name matches as a prefix when it ends in
 * '-' (copy-tag's name carries its VLAN).  *foreign when something else
 * sits at the priority.
 */
static gboolean
vspan_tc_da_named(const VspanTcFilter *f, const char *name)
{
    return g_str_equal(f->kind, "bpf") &&
           (g_str_has_suffix(name, "-") ? g_str_has_prefix(f->name, name) : g_str_equal(f->name, name));
}

static VspanTcFilter *
vspan_tc_find_da(GPtrArray *filters, guint32 prio, const char *name, gboolean *foreign)
{
    VspanTcFilter *found = NULL;

    *foreign = FALSE;
    for (guint i = 0; i < filters->len; i++) {
        VspanTcFilter *f = filters->pdata[i];
        if (f->prio != prio)
            continue;
        if (vspan_tc_da_named(f, name))
            found = f;
        else
            *foreign = TRUE;
    }
    return found;
}

guint32
vspan_tc_da_find_id(GPtrArray *filters, VspanHook hook, guint32 prio, const char *name)
{
    for (guint i = 0; i < filters->len; i++) {
        const VspanTcFilter *f = filters->pdata[i];
        if (f->hook == hook && f->prio == prio && vspan_tc_da_named(f, name))
            return f->prog_id;
    }
    return 0;
}

guint32
vspan_tc_da_id(VspanNl *nl, int ifindex, const VspanTcAttach *at, const VspanTcDa *da)
{
    g_autoptr(GPtrArray) filters = at->parent[da->hook] ? vspan_tc_dump_hook(nl, ifindex, at->parent[da->hook], da->hook, FALSE, NULL) : NULL;
    gboolean foreign;
    VspanTcFilter *f = filters ? vspan_tc_find_da(filters, da->prio, da->name, &foreign) : NULL;

    return f ? f->prog_id : 0;
}

gboolean
vspan_tc_da_set(VspanNl *nl, int ifindex, const VspanTcAttach *at, const VspanTcDa *da,
                const char *name, int prog_fd, guint32 prog_id, GError **error)
{
    g_autoptr(GPtrArray) filters = NULL;
    g_autoptr(VspanNlMsg) msg = NULL;
    g_autofree char *what = g_strdup_printf("RTM_NEWTFILTER dev %s %s prio %u bpf da %s (id %u)", da->dev,
                                            vspan_hook_to_string(da->hook), da->prio, name, prog_id);
    struct nlattr *opts;
    VspanTcFilter *have;
    gboolean foreign;
    int r;

    if (!at->parent[da->hook]) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot %s: its %s takes no filter (an ingress qdisc without a classful root); remove that qdisc",
                    da->what, vspan_hook_to_string(da->hook));
        return FALSE;
    }
    filters = vspan_tc_dump_hook(nl, ifindex, at->parent[da->hook], da->hook, FALSE, error);
    if (!filters)
        return FALSE;
    have = vspan_tc_find_da(filters, da->prio, da->name, &foreign);
    if (foreign) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot %s: a filter vspan did not create uses its reserved %s priority %u; move that filter to another priority",
                    da->what, vspan_hook_to_string(da->hook), da->prio);
        return FALSE;
    }
    if (have && have->prog_id == prog_id && g_str_equal(have->name, name))
        return TRUE;
    msg = vspan_tc_filter_msg(RTM_NEWTFILTER, NLM_F_CREATE, ifindex, at->parent[da->hook], da->prio, 1);
    if (!msg || nla_put_string(msg, TCA_KIND, "bpf") < 0 ||
        !(opts = nla_nest_start(msg, TCA_OPTIONS)) ||
        nla_put_u32(msg, TCA_BPF_FD, prog_fd) < 0 ||
        nla_put_string(msg, TCA_BPF_NAME, name) < 0 ||
        nla_put_u32(msg, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT) < 0)
        r = -ENOMEM;
    else {
        nla_nest_end(msg, opts);
        r = vspan_nl_request(nl, msg, what);
    }
    if (r < 0) {
        vspan_nl_set_error(nl, error, r, "Cannot %s (cls_bpf)", da->what);
        return FALSE;
    }
    if (vspan_tc_da_id(nl, ifindex, at, da) != prog_id) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_VERIFY,
                    "Cannot %s: the filter reads back with another program than was set", da->what);
        return FALSE;
    }
    return TRUE;
}

gboolean
vspan_tc_da_del(VspanNl *nl, int ifindex, const VspanTcAttach *at, const VspanTcDa *da, GError **error)
{
    int r;

    if (!vspan_tc_da_id(nl, ifindex, at, da))
        return TRUE;
    r = vspan_tc_delete(nl, ifindex, at->parent[da->hook], da->prio, 1, "bpf", da->dev);
    if (r < 0 && r != -ENOENT) {
        vspan_nl_set_error(nl, error, r, "Cannot remove the filter that would %s", da->what);
        return FALSE;
    }
    return TRUE;
}

/* The bridge tag copy-tag gives the copies of @hook, from a dump of
 * @filters, 0 when it has none. */
guint
vspan_tc_tag_of(GPtrArray *filters, VspanHook hook)
{
    g_autoptr(GPtrArray) mine = g_ptr_array_new();
    gboolean foreign;
    VspanTcFilter *f;
    guint64 vlan = 0;

    for (guint i = 0; i < filters->len; i++)
        if (((VspanTcFilter *)filters->pdata[i])->hook == hook)
            g_ptr_array_add(mine, filters->pdata[i]);
    f = vspan_tc_find_da(mine, VSPAN_TC_PRIO_TAG, VSPAN_TC_TAG_NAME, &foreign);

    if (!f || !g_ascii_string_to_unsigned(f->name + strlen(VSPAN_TC_TAG_NAME), 10, 1, 4094, &vlan, NULL))
        return 0;
    return (guint)vlan;
}
