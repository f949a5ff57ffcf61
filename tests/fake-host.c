/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "fake-host.h"
#include "vspan-bpf-params.h"
#include "vspan-vf.h"

typedef struct {
    int ifindex;
    gboolean carrier;
    gboolean qdisc;
    GStrv sinks[VSPAN_HOOK_LAST];       /* NULL: no vspan filter */
    guint64 packets[VSPAN_HOOK_LAST];
    GPtrArray *selects[VSPAN_HOOK_LAST];  /* of FakeSelect, rules that select */
    guint tags[VSPAN_HOOK_LAST];        /* bridge tag of each hook's copies */
    guint mtu;
    gboolean tso;
    char *inline_appliance;             /* its frames pass this inline appliance */
} FakeLink;

typedef struct {
    guint handle;
    char *sink;
    GBytes *program;
    char *ebpf;
} FakeSelect;

static void
fake_select_free(FakeSelect *s)
{
    g_free(s->sink);
    if (s->program)
        g_bytes_unref(s->program);
    g_free(s->ebpf);
    g_free(s);
}

struct FakeHost {
    VspanHost parent;
    GHashTable *links;                  /* name -> FakeLink */
    GHashTable *vfs;                    /* "pf/vf" -> VspanVfSettings */
    GHashTable *numvfs;                 /* pf -> GUINT_TO_POINTER(n + 1) */
    GString *log;
    int next_ifindex;
    int refs;                           /* the test's and the agent's */
    char *fail_mirror_on;               /* mirror_set on this device fails */
    GHashTable *inline_states;          /* inline appliance -> GUINT_TO_POINTER(state + 1) once loaded */
};

static void
fake_link_free(FakeLink *l)
{
    for (int h = 0; h < VSPAN_HOOK_LAST; h++) {
        g_strfreev(l->sinks[h]);
        if (l->selects[h])
            g_ptr_array_unref(l->selects[h]);
    }
    g_free(l->inline_appliance);
    g_free(l);
}

G_GNUC_PRINTF(2, 3) static void
fake_log(FakeHost *f, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_string_append_vprintf(f->log, fmt, ap);
    va_end(ap);
    g_string_append_c(f->log, '\n');
}

static FakeLink *
fake_link(FakeHost *f, const char *dev)
{
    return dev ? g_hash_table_lookup(f->links, dev) : NULL;
}

static gboolean
fake_need_link(FakeHost *f, const char *dev, const char *role, GError **error)
{
    if (fake_link(f, dev))
        return TRUE;
    g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND, "Cannot mirror: %s '%s' does not exist", role, dev);
    return FALSE;
}

/* ---- reads ---- */

static int
fake_ifindex(VspanHost *h, const char *dev)
{
    FakeLink *l = fake_link((FakeHost *)h, dev);
    return l ? l->ifindex : 0;
}

static guint
fake_mtu(VspanHost *h, const char *dev)
{
    FakeLink *l = fake_link((FakeHost *)h, dev);
    return l ? l->mtu : 0;
}

static gboolean
fake_tso(VspanHost *h, const char *dev)
{
    FakeLink *l = fake_link((FakeHost *)h, dev);
    return l && l->tso;
}

static gboolean
fake_carrier(VspanHost *h, const char *dev)
{
    FakeLink *l = fake_link((FakeHost *)h, dev);
    return l && l->carrier;
}

static GPtrArray *
fake_copies(VspanHost *h, const char *dev, GError **error)
{
    FakeHost *f = (FakeHost *)h;
    FakeLink *l = fake_link(f, dev);
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_host_copy_free);

    for (VspanHook hook = 0; l && hook < VSPAN_HOOK_LAST; hook++) {
        for (guint i = 0; l->sinks[hook] && l->sinks[hook][i]; i++) {
            VspanHostCopy *c = g_new0(VspanHostCopy, 1);

            c->hook = hook;
            c->tag = l->tags[hook];
            /* as the kernel shows it: a vanished sink has no name */
            c->sink = g_strdup(fake_link(f, l->sinks[hook][i]) ? l->sinks[hook][i] : "");
            c->packets = l->packets[hook];
            c->bytes = l->packets[hook] * 100;
            g_ptr_array_add(out, c);
        }
        for (guint i = 0; l->selects[hook] && i < l->selects[hook]->len; i++) {
            const FakeSelect *sel = l->selects[hook]->pdata[i];
            VspanHostCopy *c = g_new0(VspanHostCopy, 1);

            c->hook = hook;
            c->tag = l->tags[hook];
            c->sink = g_strdup(fake_link(f, sel->sink) ? sel->sink : "");
            c->handle = sel->handle;
            c->program = sel->program ? g_bytes_ref(sel->program) : NULL;
            c->ebpf = g_strdup(sel->ebpf);
            g_ptr_array_add(out, c);
        }
    }
    return out;
}

static gboolean
fake_vf_lookup(VspanHost *h, const VspanPciAddr *pci, char **pf, guint *vf)
{
    FakeHost *f = (FakeHost *)h;
    GHashTableIter it;
    gpointer k, v;

    /* VF n of a PF is at 0000:03:00.(n+1); the PF is found by its VFs */
    if (pci->domain != 0 || pci->bus != 3 || pci->slot != 0 || pci->function == 0)
        return FALSE;
    g_hash_table_iter_init(&it, f->numvfs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (pci->function - 1 < GPOINTER_TO_UINT(v) - 1) {
            *pf = g_strdup(k);
            *vf = pci->function - 1;
            return TRUE;
        }
    }
    return FALSE;
}

static int
fake_numvfs(VspanHost *h, const char *pf)
{
    gpointer v = g_hash_table_lookup(((FakeHost *)h)->numvfs, pf);
    return v ? (int)GPOINTER_TO_UINT(v) - 1 : -1;
}

static int
fake_totalvfs(VspanHost *h, const char *pf)
{
    return fake_numvfs(h, pf) < 0 ? -1 : 8;
}

static VspanVfSettings *
fake_vf_get(FakeHost *f, const char *pf, guint vf)
{
    g_autofree char *key = g_strdup_printf("%s/%u", pf, vf);
    return g_hash_table_lookup(f->vfs, key);
}

static gboolean
fake_vf_matches(VspanHost *h, const VspanOp *op)
{
    const VspanVfSettings *got = fake_vf_get((FakeHost *)h, op->dev, op->vf);

    return got && vspan_vf_settings_match(&op->vf_settings, got);
}

/* ---- writes ---- */

static gboolean
fake_sink_ensure(VspanHost *h, const VspanAppliance *a, const char *dev, GError **error)
{
    FakeHost *f = (FakeHost *)h;

    if (!fake_link(f, dev)) {
        fake_host_add_link(f, dev);
        fake_log(f, "sink-create %s", dev);
    }
    if (a->sink.net_side && !fake_link(f, a->sink.net_side)) {
        fake_host_add_link(f, a->sink.net_side);
        fake_log(f, "sink-create %s", a->sink.net_side);
    }
    if (a->inline_mode)
        return h->klass->inline_ports(h, a, error);
    return TRUE;
}

/* ---- inline appliances ---- */

static gboolean
fake_inline_ports(VspanHost *h, const VspanAppliance *a, GError **error)
{
    FakeHost *f = (FakeHost *)h;

    if (!g_hash_table_contains(f->inline_states, a->name))
        g_hash_table_insert(f->inline_states, g_strdup(a->name),
                            GUINT_TO_POINTER((a->on_failure == VSPAN_ON_FAILURE_BLOCK ? VSPAN_INLINE_BLOCK
                                                                                     : VSPAN_INLINE_BYPASS) + 1));
    return fake_need_link(f, a->sink.dev, "vm-side port", error) &&
           fake_need_link(f, a->sink.net_side, "net-side port", error);
}

static char *
fake_inline_of(VspanHost *h, const char *dev)
{
    FakeLink *l = fake_link((FakeHost *)h, dev);

    return l ? g_strdup(l->inline_appliance) : NULL;
}

static gboolean
fake_inline_set(VspanHost *h, const char *dev, const VspanAppliance *a, const char *mac, GError **error)
{
    FakeHost *f = (FakeHost *)h;

    if (!fake_need_link(f, dev, "tap", error))
        return FALSE;
    fake_inline_ports(h, a, NULL);
    g_free(fake_link(f, dev)->inline_appliance);
    fake_link(f, dev)->inline_appliance = g_strdup(a->name);
    fake_log(f, "inline-set %s %s %s", dev, a->name, mac);
    return TRUE;
}

static gboolean
fake_inline_del(VspanHost *h, const char *dev, GError **error)
{
    FakeHost *f = (FakeHost *)h;
    FakeLink *l = fake_link(f, dev);

    if (l)
        g_clear_pointer(&l->inline_appliance, g_free);
    fake_log(f, "inline-del %s", dev);
    return TRUE;
}

static gboolean
fake_inline_state_set(VspanHost *h, const char *appliance, guint state)
{
    FakeHost *f = (FakeHost *)h;
    gpointer have;

    if (!g_hash_table_lookup_extended(f->inline_states, appliance, NULL, &have))
        return FALSE;
    if (GPOINTER_TO_UINT(have) != state + 1) {
        g_hash_table_replace(f->inline_states, g_strdup(appliance), GUINT_TO_POINTER(state + 1));
        fake_log(f, "inline-state %s %u", appliance, state);
    }
    return TRUE;
}

static gboolean
fake_inline_stats(VspanHost *h, const char *appliance, VspanInlineStats *st)
{
    FakeHost *f = (FakeHost *)h;
    gpointer have;
    GHashTableIter it;
    FakeLink *l;

    if (!g_hash_table_lookup_extended(f->inline_states, appliance, NULL, &have))
        return FALSE;
    memset(st, 0, sizeof(*st));
    st->state = GPOINTER_TO_UINT(have) - 1;
    g_hash_table_iter_init(&it, f->links);
    while (g_hash_table_iter_next(&it, NULL, (gpointer *)&l))
        st->vms += g_strcmp0(l->inline_appliance, appliance) == 0;
    return TRUE;
}

static void
fake_inline_canary(VspanHost *h, const char *appliance, guint64 seq)
{
}

guint
fake_host_inline_state(FakeHost *f, const char *appliance)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(f->inline_states, appliance));
}

static gboolean
fake_qdisc_ensure(VspanHost *h, const char *dev, VspanQdiscMode mode, GError **error)
{
    FakeHost *f = (FakeHost *)h;
    FakeLink *l = fake_link(f, dev);

    if (!fake_need_link(f, dev, "tap", error))
        return FALSE;
    if (!l->qdisc) {
        l->qdisc = TRUE;
        g_hash_table_add(h->created_clsact, g_strdup(dev));
        fake_log(f, "qdisc-add %s", dev);
    }
    return TRUE;
}

static gboolean
fake_mirror_set(VspanHost *h, const char *dev, VspanHook hook, VspanClassifier cls,
                const char *const *sinks, GError **error)
{
    FakeHost *f = (FakeHost *)h;
    FakeLink *l = fake_link(f, dev);
    g_autofree char *list = g_strjoinv(",", (char **)sinks);

    if (!fake_need_link(f, dev, "tap", error))
        return FALSE;
    if (g_strcmp0(dev, f->fail_mirror_on) == 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "Cannot add the %s mirror of '%s'",
                    vspan_hook_to_string(hook), dev);
        return FALSE;
    }
    for (const char *const *s = sinks; *s; s++)
        if (!fake_need_link(f, *s, "sink", error))
            return FALSE;
    if (h->classifier == VSPAN_CLASSIFIER_AUTO)
        h->classifier = VSPAN_CLASSIFIER_U32;
    g_strfreev(l->sinks[hook]);
    l->sinks[hook] = g_strdupv((char **)sinks);
    fake_log(f, "mirror-set %s %s %s", dev, vspan_hook_to_string(hook), list);
    return TRUE;
}

static gboolean
fake_mirror_del(VspanHost *h, const char *dev, VspanHook hook, GError **error)
{
    FakeHost *f = (FakeHost *)h;
    FakeLink *l = fake_link(f, dev);

    if (l && l->sinks[hook]) {
        g_clear_pointer(&l->sinks[hook], g_strfreev);
        fake_log(f, "mirror-del %s %s", dev, vspan_hook_to_string(hook));
    }
    return TRUE;
}

static gboolean
fake_select_set(VspanHost *h, const char *dev, VspanHook hook, guint handle, const char *sink,
                GBytes *program, const char *ebpf, GError **error)
{
    FakeHost *f = (FakeHost *)h;
    FakeLink *l = fake_link(f, dev);
    FakeSelect *sel = NULL;

    if (!fake_need_link(f, dev, "tap", error) || !fake_need_link(f, sink, "sink", error))
        return FALSE;
    if (!l->selects[hook])
        l->selects[hook] = g_ptr_array_new_with_free_func((GDestroyNotify)fake_select_free);
    for (guint i = 0; i < l->selects[hook]->len && !sel; i++)
        if (((FakeSelect *)l->selects[hook]->pdata[i])->handle == handle)
            sel = l->selects[hook]->pdata[i];
    if (!sel) {
        sel = g_new0(FakeSelect, 1);
        sel->handle = handle;
        g_ptr_array_add(l->selects[hook], sel);
    }
    g_free(sel->sink);
    sel->sink = g_strdup(sink);
    if (sel->program)
        g_bytes_unref(sel->program);
    sel->program = program ? g_bytes_ref(program) : NULL;
    g_free(sel->ebpf);
    sel->ebpf = g_strdup(ebpf);
    if (ebpf)
        fake_log(f, "select-set %s %s %u %s program %s", dev, vspan_hook_to_string(hook), handle, sink, ebpf);
    else
        fake_log(f, "select-set %s %s %u %s %zu", dev, vspan_hook_to_string(hook), handle, sink,
                 g_bytes_get_size(program) / 8);
    return TRUE;
}

static gboolean
fake_tag_set(VspanHost *h, const char *dev, VspanHook hook, guint vlan, GError **error)
{
    FakeHost *f = (FakeHost *)h;

    if (!fake_need_link(f, dev, "tap", error))
        return FALSE;
    fake_link(f, dev)->tags[hook] = vlan;
    fake_log(f, "tag-set %s %s %u", dev, vspan_hook_to_string(hook), vlan);
    return TRUE;
}

static gboolean
fake_tag_del(VspanHost *h, const char *dev, VspanHook hook, GError **error)
{
    FakeHost *f = (FakeHost *)h;
    FakeLink *l = fake_link(f, dev);

    if (l && l->tags[hook]) {
        l->tags[hook] = 0;
        fake_log(f, "tag-del %s %s", dev, vspan_hook_to_string(hook));
    }
    return TRUE;
}

static gboolean
fake_select_del(VspanHost *h, const char *dev, VspanHook hook, guint handle, GError **error)
{
    FakeHost *f = (FakeHost *)h;
    FakeLink *l = fake_link(f, dev);

    for (guint i = 0; l && l->selects[hook] && i < l->selects[hook]->len;) {
        const FakeSelect *sel = l->selects[hook]->pdata[i];
        if (handle == 0 || sel->handle == handle) {
            fake_log(f, "select-del %s %s %u", dev, vspan_hook_to_string(hook), sel->handle);
            g_ptr_array_remove_index(l->selects[hook], i);
            continue;
        }
        i++;
    }
    return TRUE;
}

static gboolean
fake_sink_stats(VspanHost *h, const char *dev, VspanSinkStats *st)
{
    *st = (VspanSinkStats){ 0 };
    return fake_link((FakeHost *)h, dev) != NULL;
}

/* the fake loads every program (no kernel verifier to refuse one); not
 * a write to the host, so not logged */
static void
fake_programs_sync(VspanHost *h, GPtrArray *defs)
{
}

static const char *
fake_program_error(VspanHost *h, const char *name)
{
    return NULL;
}

static gboolean
fake_vf_write(FakeHost *f, const VspanOp *op, const char *what, GError **error)
{
    VspanVfSettings *vf = fake_vf_get(f, op->dev, op->vf);
    char mac[18];

    if (!vf) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND, "Cannot configure VF %u of '%s': no such PF; check the <pf dev> of the pool",
                    op->vf, op->dev);
        return FALSE;
    }
    g_strlcpy(mac, vf->mac, sizeof(mac));
    *vf = op->vf_settings;
    if (!*vf->mac)
        g_strlcpy(vf->mac, mac, sizeof(vf->mac));     /* "" keeps the MAC */
    fake_log(f, "%s %s/%u vlan=%u trust=%s spoofchk=%s", what, op->dev, op->vf, vf->vlan,
             vspan_switch_to_string(vf->trust), vspan_switch_to_string(vf->spoofchk));
    return TRUE;
}

static gboolean
fake_vf_set(VspanHost *h, const VspanOp *op, GError **error)
{
    return fake_vf_write((FakeHost *)h, op, "vf-set", error);
}

static gboolean
fake_vf_reset(VspanHost *h, const VspanOp *op, GError **error)
{
    return fake_vf_write((FakeHost *)h, op, "vf-reset", error);
}

static gboolean
fake_link_up(VspanHost *h, const char *dev, GError **error)
{
    fake_log((FakeHost *)h, "link-up %s", dev);
    return TRUE;
}

static gboolean
fake_numvfs_set(VspanHost *h, const char *pf, guint n, GError **error)
{
    FakeHost *f = (FakeHost *)h;

    g_hash_table_replace(f->numvfs, g_strdup(pf), GUINT_TO_POINTER(n + 1));
    fake_log(f, "numvfs %s %u", pf, n);
    return TRUE;
}

static void
fake_free(VspanHost *h)
{
    FakeHost *f = (FakeHost *)h;

    if (--f->refs > 0)
        return;
    vspan_host_finish(h);
    g_hash_table_unref(f->links);
    g_hash_table_unref(f->vfs);
    g_hash_table_unref(f->numvfs);
    g_string_free(f->log, TRUE);
    g_free(f->fail_mirror_on);
    g_hash_table_unref(f->inline_states);
    g_free(f);
}

static const VspanHostClass fake_host_class = {
    .ifindex = fake_ifindex,
    .carrier = fake_carrier,
    .mtu = fake_mtu,
    .tso = fake_tso,
    .copies = fake_copies,
    .vf_lookup = fake_vf_lookup,
    .numvfs = fake_numvfs,
    .totalvfs = fake_totalvfs,
    .vf_matches = fake_vf_matches,
    .sink_ensure = fake_sink_ensure,
    .qdisc_ensure = fake_qdisc_ensure,
    .mirror_set = fake_mirror_set,
    .mirror_del = fake_mirror_del,
    .select_set = fake_select_set,
    .select_del = fake_select_del,
    .tag_set = fake_tag_set,
    .tag_del = fake_tag_del,
    .programs_sync = fake_programs_sync,
    .sink_stats = fake_sink_stats,
    .program_error = fake_program_error,
    .vf_set = fake_vf_set,
    .vf_reset = fake_vf_reset,
    .link_up = fake_link_up,
    .numvfs_set = fake_numvfs_set,
    .inline_ports = fake_inline_ports,
    .inline_of = fake_inline_of,
    .inline_set = fake_inline_set,
    .inline_del = fake_inline_del,
    .inline_state_set = fake_inline_state_set,
    .inline_stats = fake_inline_stats,
    .inline_canary = fake_inline_canary,
    .free = fake_free,
};

FakeHost *
fake_host_new(void)
{
    FakeHost *f = g_new0(FakeHost, 1);

    vspan_host_init(&f->parent, &fake_host_class);
    f->links = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)fake_link_free);
    f->vfs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    f->numvfs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    f->log = g_string_new(NULL);
    f->inline_states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    f->next_ifindex = 10;
    f->refs = 1;
    return f;
}

VspanHost *
fake_host_host(FakeHost *f)
{
    f->refs++;
    return &f->parent;
}

void
fake_host_free(FakeHost *f)
{
    fake_free(&f->parent);
}

void
fake_host_add_link(FakeHost *f, const char *dev)
{
    FakeLink *l = g_new0(FakeLink, 1);

    l->mtu = 1500;

    l->ifindex = f->next_ifindex++;
    g_hash_table_replace(f->links, g_strdup(dev), l);
}

void
fake_host_del_link(FakeHost *f, const char *dev)
{
    g_hash_table_remove(f->links, dev);
}

void
fake_host_set_carrier(FakeHost *f, const char *dev, gboolean carrier)
{
    fake_link(f, dev)->carrier = carrier;
}

void
fake_host_add_pf(FakeHost *f, const char *pf, guint numvfs)
{
    fake_host_add_link(f, pf);
    g_hash_table_replace(f->numvfs, g_strdup(pf), GUINT_TO_POINTER(numvfs + 1));
    for (guint i = 0; i < numvfs; i++) {
        VspanVfSettings *s = g_new0(VspanVfSettings, 1);

        vspan_vf_settings_init_default(s);
        g_snprintf(s->mac, sizeof(s->mac), "02:00:00:00:00:%02x", i);
        g_hash_table_replace(f->vfs, g_strdup_printf("%s/%u", pf, i), s);
    }
}

VspanVfSettings *
fake_host_vf(FakeHost *f, const char *pf, guint vf)
{
    return fake_vf_get(f, pf, vf);
}

char *
fake_host_mirror(FakeHost *f, const char *dev, VspanHook hook)
{
    FakeLink *l = fake_link(f, dev);

    return l && l->sinks[hook] ? g_strjoinv(",", l->sinks[hook]) : g_strdup("");
}

void
fake_host_del_filter(FakeHost *f, const char *dev, VspanHook hook)
{
    g_clear_pointer(&fake_link(f, dev)->sinks[hook], g_strfreev);
}

void
fake_host_fail_mirror_on(FakeHost *f, const char *dev)
{
    g_free(f->fail_mirror_on);
    f->fail_mirror_on = g_strdup(dev);
}

void
fake_host_count(FakeHost *f, const char *dev, VspanHook hook, guint64 n)
{
    fake_link(f, dev)->packets[hook] += n;
}

char *
fake_host_take_log(FakeHost *f)
{
    char *s = g_strdup(f->log->str);

    g_string_truncate(f->log, 0);
    return s;
}

void
fake_host_set_mtu(FakeHost *f, const char *dev, guint mtu)
{
    fake_link(f, dev)->mtu = mtu;
}

void
fake_host_set_tso(FakeHost *f, const char *dev, gboolean on)
{
    fake_link(f, dev)->tso = on;
}
