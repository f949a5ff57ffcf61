/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-host"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <stdlib.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vspan-bpf.h"
#include "vspan-build-config.h"
#include "vspan-host.h"
#include "vspan-link.h"
#include "vspan-sink.h"
#include "vspan-sysfs.h"
#include "vspan-inline.h"
#include "vspan-tc.h"
#include "vspan-vf.h"

/* The host as Linux shows it: netlink for links, tc and VFs (through
 * vspan-link/-tc/-vf), sysfs under vspan_sysfs_root() for SR-IOV. */
typedef struct {
    VspanHost parent;
    VspanNl *nl;
    /* for name <-> ifindex: one ioctl each, where if_nametoindex() opens
     * and closes a socket every time (status reads every tap); created
     * with the host, so it lives in the host's network namespace */
    int ioctl_fd;
    VspanBpfPrograms *programs;         /* the host config's <program>s */
    GHashTable *shapers;                /* sink dev -> VspanBpfShaper */
    GHashTable *unshaped;               /* sinks checked to hold no shaper */
    GHashTable *taggers;                /* VLAN (0: copy_untag) -> VspanTagger */
    GHashTable *qdisc_modes;            /* tap -> VspanQdiscMode, from its last qdisc-ensure */
    GHashTable *inlines;                /* inline appliance name -> VspanInline */
    guint inline_ids;                   /* the last inline appliance's number */
} VspanLinuxHost;

/* copy-tag.bpf.o loaded for one VLAN (or its untag program) */
typedef struct {
    int fd;
    guint32 id;
} VspanTagger;

static void
vspan_tagger_free(VspanTagger *t)
{
    close(t->fd);
    g_free(t);
}

static int
vspan_linux_resolve(const char *dev, const char *role, GError **error)
{
    int ifindex = vspan_link_ifindex(dev);

    if (ifindex <= 0)
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND,
                    "Cannot mirror: %s '%s' does not exist%s", role, dev,
                    g_str_equal(role, "tap") ? "; the domain's interface is gone or not started"
                                             : "; check the appliance's sink");
    return ifindex;
}

/* The sink's shaper as its appliance asks: loaded once per parameters,
 * attached to the sink's egress (clsact added when missing), or removed. */

/* A tunnel sink carries a copy whole when the outer packet fits the path
 * to the collector: the MTU of the route to `remote` (its MTU metric, else
 * its device's), less the outer IP header (20, or 40 over IPv6) and the
 * tunnel's (VXLAN: UDP 8 + 8; GRE: 4, + 4 with a key; ERSPAN: GRE 8 + 8 or
 * 12) -- what remains is the whole inner frame, Ethernet header included.
 * Larger copies would leave as outer IP fragments (measured:
 * the kernel fragments them, DF being clear), which collectors and
 * middleboxes often drop.  0 for sinks that are not tunnels, or when no
 * route is known (nothing is cut then). */
static guint
vspan_linux_sink_fit(VspanLinuxHost *self, const VspanAppliance *a)
{
    guint mtu, outer = strchr(a->sink.remote ? a->sink.remote : "", ':') ? 40 : 20;

    switch (a->sink.type) {
    case VSPAN_SINK_VXLAN:
        outer += 8 + 8;                         /* UDP, VXLAN */
        break;
    case VSPAN_SINK_GRETAP:
        outer += 4 + (a->sink.has_key ? 4 : 0); /* GRE, its key */
        break;
    case VSPAN_SINK_ERSPAN:
        /* GRE with a sequence number, then ERSPAN type II (8) or III (12) */
        outer += 8 + (a->sink.version == 1 ? 8 : 12);
        break;
    default:
        return 0;
    }
    mtu = vspan_link_path_mtu(self->nl, a->sink.remote);
    return mtu > outer + 64 ? mtu - outer : 0;
}

static gboolean
vspan_linux_shape(VspanLinuxHost *self, const VspanAppliance *a, const char *dev, int ifindex,
                  GError **error)
{
    guint fit = vspan_linux_sink_fit(self, a);
    g_autofree char *key = vspan_bpf_shaper_key(&a->sink, fit);
    /* an ERSPAN III twin runs its sink's program: one bucket, one count */
    const char *owner = a->sink.dev_egress && g_str_equal(dev, a->sink.dev_egress) ? a->sink.dev : dev;
    VspanBpfShaper *sh = g_hash_table_lookup(self->shapers, owner);
    VspanTcAttach at;
    gboolean created = FALSE;
    g_autofree char *what = g_strdup_printf("shape the copies of sink '%s'", dev);
    const VspanTcDa da = { dev, VSPAN_HOOK_EGRESS, VSPAN_TC_PRIO_SHAPE, VSPAN_TC_SHAPE_NAME, what };

    if (!key) {
        /* sink_ensure runs on every VM start: a sink that needs no shaper
         * is looked at once (a shaper of an earlier config is removed),
         * then only again if it had one since */
        if (!g_hash_table_remove(self->shapers, owner) && g_hash_table_contains(self->unshaped, dev))
            return TRUE;
        if (vspan_tc_probe(self->nl, ifindex, &at, NULL) && at.state != VSPAN_QDISC_STATE_NONE &&
            !vspan_tc_da_del(self->nl, ifindex, &at, &da, error))
            return FALSE;
        g_hash_table_add(self->unshaped, g_strdup(dev));
        return TRUE;
    }
    g_hash_table_remove(self->unshaped, dev);
    if (!sh || !g_str_equal(sh->key, key)) {
        g_autoptr(GError) why = NULL;
        sh = vspan_bpf_shaper_load(vspan_bpf_objdir(), &a->sink, fit, &why);
        if (!sh && !a->sink.snaplen && !a->sink.max_rate) {
            /* only the tunnel's fit was wanted: copies still flow, whole
             * (larger ones as outer fragments), and the admin is told */
            g_message("appliance '%s': copies larger than the path to %s (%u bytes) are not cut to fit: %s",
                      a->name, a->sink.remote, fit, why->message);
            return TRUE;
        }
        if (!sh) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                        "Cannot shape the copies of appliance '%s' (snaplen, max-rate): %s", a->name, why->message);
            return FALSE;
        }
        g_hash_table_replace(self->shapers, g_strdup(owner), sh);
    }
    if (!vspan_tc_attach(self->nl, ifindex, dev, VSPAN_QDISC_CLSACT, &at, &created, error))
        return FALSE;
    return vspan_tc_da_set(self->nl, ifindex, &at, &da, VSPAN_TC_SHAPE_NAME, sh->prog_fd, sh->prog_id, error);
}

/* The programs of inline appliance @a: loaded at its first use; one
 * whose ports the config renamed is loaded anew (its taps are set again
 * by the next plan). */
static VspanInline *
vspan_linux_inline(VspanLinuxHost *self, const VspanAppliance *a, GError **error)
{
    VspanInline *in = g_hash_table_lookup(self->inlines, a->name);

    if (in && vspan_inline_same_ports(in, a))
        return in;
    self->inline_ids = self->inline_ids % 4095 + 1;
    in = vspan_inline_new(a, self->inline_ids, error);
    if (in)
        g_hash_table_replace(self->inlines, g_strdup(a->name), in);
    return in;
}

static gboolean
vspan_linux_inline_ports(VspanHost *b, const VspanAppliance *a, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    VspanInline *in = vspan_linux_inline(self, a, error);

    return in && vspan_inline_ports(in, self->nl, error);
}

static gboolean
vspan_linux_sink_ensure(VspanHost *b, const VspanAppliance *a, const char *dev, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    int ifindex;

    if (!vspan_sink_ensure(self->nl, a, dev, &ifindex, error))
        return FALSE;
    if (a->sink.type == VSPAN_SINK_INLINE)
        return vspan_linux_inline_ports(b, a, error);
    /* ERSPAN III's twin for copies of frames to the VM */
    if (a->sink.dev_egress && g_str_equal(dev, a->sink.dev)) {
        int twin;

        if (!vspan_sink_ensure(self->nl, a, a->sink.dev_egress, &twin, error) ||
            !vspan_linux_shape(self, a, a->sink.dev_egress, twin, error))
            return FALSE;
    }
    /* an interface sink's tap carries the appliance's own traffic too:
     * never shaped (the config refuses snaplen and max-rate there), only
     * the bridge tags of marked copies go on there */
    if (a->sink.type == VSPAN_SINK_INTERFACE && !a->sink.tagged)
        return TRUE;
    return vspan_linux_shape(self, a, dev, ifindex, error);
}


static gboolean
vspan_linux_sink_stats(VspanHost *b, const char *dev, VspanSinkStats *st)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    const VspanBpfShaper *sh = g_hash_table_lookup(self->shapers, dev);
    int ifindex = vspan_link_ifindex(dev);

    *st = (VspanSinkStats){ 0 };
    if (ifindex <= 0 || !vspan_link_tx_stats(self->nl, ifindex, &st->sent, &st->unread_dropped))
        return FALSE;
    if (sh) {
        guint64 c[VSPAN_SHAPE_COUNTERS];

        vspan_bpf_shaper_counters(sh, c);
        st->shaped = TRUE;
        st->truncated = c[VSPAN_SHAPE_TRUNCATED];
        st->rate_dropped = c[VSPAN_SHAPE_RATE_DROPPED];
    }
    return TRUE;
}

/* Where filters go on @dev, adding clsact if it has neither clsact nor
 * ingress, and remembering that vspan added it. */
static gboolean
vspan_linux_attach(VspanLinuxHost *self, int ifindex, const char *dev, VspanTcAttach *at,
                   GError **error)
{
    gboolean created = FALSE;
    /* a tap's mode is its plan's (libvirt's <bandwidth>); other devices
     * (sinks, tagged taps without a mirror) get clsact */
    VspanQdiscMode mode = GPOINTER_TO_UINT(g_hash_table_lookup(self->qdisc_modes, dev));

    if (!vspan_tc_attach(self->nl, ifindex, dev, mode, at, &created, error))
        return FALSE;
    if (created)
        g_hash_table_add(self->parent.created_clsact, g_strdup(dev));
    return TRUE;
}

static gboolean
vspan_linux_qdisc_ensure(VspanHost *b, const char *dev, VspanQdiscMode mode, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    VspanTcAttach at;
    int ifindex = vspan_linux_resolve(dev, "tap", error);

    if (mode == VSPAN_QDISC_CLSACT)
        g_hash_table_remove(self->qdisc_modes, dev);
    else
        g_hash_table_replace(self->qdisc_modes, g_strdup(dev), GUINT_TO_POINTER(mode));
    return ifindex > 0 && vspan_linux_attach(self, ifindex, dev, &at, error);
}

static gboolean
vspan_linux_mirror_set(VspanHost *b, const char *dev, VspanHook hook, VspanClassifier cls,
                       const char *const *sinks, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    g_autoptr(GArray) idx = g_array_new(FALSE, FALSE, sizeof(guint32));
    VspanTcAttach at;
    int ifindex = vspan_linux_resolve(dev, "tap", error);

    if (ifindex <= 0)
        return FALSE;
    for (const char *const *s = sinks; *s; s++) {
        guint32 si;

        if (g_str_equal(*s, dev)) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_REFUSED,
                        "Cannot mirror '%s' into itself; fix the appliance's sink", dev);
            return FALSE;
        }
        si = vspan_linux_resolve(*s, "sink", error);
        if (si == 0)
            return FALSE;
        g_array_append_val(idx, si);
    }
    if (!vspan_linux_attach(self, ifindex, dev, &at, error))
        return FALSE;
    if (cls == VSPAN_CLASSIFIER_AUTO)
        cls = self->parent.classifier;
    if (!vspan_tc_mirror_set(self->nl, ifindex, dev, &at, hook, &cls,
                             (guint32 *)idx->data, idx->len, error))
        return FALSE;
    if (self->parent.classifier == VSPAN_CLASSIFIER_AUTO)
        self->parent.classifier = cls;
    /* Read back: what the kernel holds is what was planned. */
    return vspan_tc_mirror_verify(self->nl, ifindex, dev, &at, hook, (guint32 *)idx->data,
                                  idx->len, error);
}

static gboolean
vspan_linux_mirror_del(VspanHost *b, const char *dev, VspanHook hook, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    VspanTcAttach at;
    int ifindex = vspan_link_ifindex(dev);

    if (ifindex <= 0)
        return TRUE;    /* the tap is gone, and its filters with it */
    return vspan_tc_probe(self->nl, ifindex, &at, error) &&
           vspan_tc_mirror_del(self->nl, ifindex, dev, &at, hook, error);
}

static gboolean
vspan_linux_select_set(VspanHost *b, const char *dev, VspanHook hook, guint handle,
                       const char *sink, GBytes *program, const char *ebpf, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    VspanTcAttach at;
    VspanTcProgram prog = { .ops = program, .name = ebpf };
    int ifindex = vspan_linux_resolve(dev, "tap", error);
    int si;

    if (ifindex <= 0)
        return FALSE;
    if (ebpf) {
        prog.prog_fd = vspan_bpf_programs_fd(self->programs, ebpf, error);
        if (prog.prog_fd < 0)
            return FALSE;
        prog.prog_id = vspan_bpf_programs_id(self->programs, ebpf);
    }
    if (g_str_equal(sink, dev)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_REFUSED,
                    "Cannot mirror '%s' into itself; fix the appliance's sink", dev);
        return FALSE;
    }
    si = vspan_linux_resolve(sink, "sink", error);
    return si > 0 && vspan_linux_attach(self, ifindex, dev, &at, error) &&
           vspan_tc_select_set(self->nl, ifindex, dev, &at, hook, handle, si, &prog, error);
}

static gboolean
vspan_linux_select_del(VspanHost *b, const char *dev, VspanHook hook, guint handle, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    VspanTcAttach at;
    int ifindex = vspan_link_ifindex(dev);

    if (ifindex <= 0)
        return TRUE;    /* the tap is gone, and its filters with it */
    return vspan_tc_probe(self->nl, ifindex, &at, error) &&
           vspan_tc_select_del(self->nl, ifindex, dev, &at, hook, handle, error);
}

/* copy_tag for @vlan, copy_untag for 0: loaded once per host */
static const VspanTagger *
vspan_linux_tagger(VspanLinuxHost *self, guint vlan, GError **error)
{
    VspanTagger *t = g_hash_table_lookup(self->taggers, GUINT_TO_POINTER(vlan));
    g_autoptr(GError) why = NULL;
    guint32 id = 0;
    int fd;

    if (t)
        return t;
    fd = vspan_bpf_tagger_load(vspan_bpf_objdir(), vlan, &id, &why);
    if (fd < 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot load the program that tags copies with their bridge's VLAN: %s", why->message);
        return NULL;
    }
    t = g_new0(VspanTagger, 1);
    t->fd = fd;
    t->id = id;
    g_hash_table_insert(self->taggers, GUINT_TO_POINTER(vlan), t);
    return t;
}

/* The copy-tag and copy-untag filters of @dev's @hook; @what must outlive them. */
static void
vspan_linux_tag_das(const char *dev, VspanHook hook, const char *what, VspanTcDa *tag, VspanTcDa *untag)
{
    *tag = (VspanTcDa){ dev, hook, VSPAN_TC_PRIO_TAG, VSPAN_TC_TAG_NAME, what };
    *untag = (VspanTcDa){ dev, hook, VSPAN_TC_PRIO_UNTAG, VSPAN_TC_UNTAG_NAME, what };
}

static gboolean
vspan_linux_tag_set(VspanHost *b, const char *dev, VspanHook hook, guint vlan, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    g_autofree char *what = g_strdup_printf("tag the copies of '%s'", dev);
    g_autofree char *name = g_strdup_printf(VSPAN_TC_TAG_NAME "%u", vlan);
    VspanTcDa tag, untag;
    const VspanTagger *t, *u;
    VspanTcAttach at;
    int ifindex = vspan_linux_resolve(dev, "tap", error);

    vspan_linux_tag_das(dev, hook, what, &tag, &untag);
    if (ifindex <= 0 || !(t = vspan_linux_tagger(self, vlan, error)) ||
        !(u = vspan_linux_tagger(self, 0, error)) || !vspan_linux_attach(self, ifindex, dev, &at, error))
        return FALSE;
    /* the mark is cleared after vspan's filters before it is set before them */
    return vspan_tc_da_set(self->nl, ifindex, &at, &untag, VSPAN_TC_UNTAG_NAME, u->fd, u->id, error) &&
           vspan_tc_da_set(self->nl, ifindex, &at, &tag, name, t->fd, t->id, error);
}

static gboolean
vspan_linux_tag_del(VspanHost *b, const char *dev, VspanHook hook, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    g_autofree char *what = g_strdup_printf("tag the copies of '%s'", dev);
    VspanTcDa tag, untag;
    VspanTcAttach at;
    int ifindex = vspan_link_ifindex(dev);

    vspan_linux_tag_das(dev, hook, what, &tag, &untag);
    if (ifindex <= 0)
        return TRUE;    /* the tap is gone, and its filters with it */
    /* in the reverse order: no frame leaves marked */
    return vspan_tc_probe(self->nl, ifindex, &at, error) && (!at.parent[hook] ||
           (vspan_tc_da_del(self->nl, ifindex, &at, &tag, error) &&
            vspan_tc_da_del(self->nl, ifindex, &at, &untag, error)));
}

static gboolean
vspan_linux_vf_set(VspanHost *b, const VspanOp *op, GError **error)
{
    return vspan_vf_set(((VspanLinuxHost *)b)->nl, op->dev, op->vf, &op->vf_settings, error);
}

static gboolean
vspan_linux_vf_matches(VspanHost *b, const VspanOp *op)
{
    VspanVfSettings got;
    int ifindex = vspan_link_ifindex(op->dev);

    return ifindex > 0 && vspan_vf_get(((VspanLinuxHost *)b)->nl, ifindex, op->vf, &got, NULL) &&
           vspan_vf_settings_match(&op->vf_settings, &got);
}

/* One interface ioctl (@request) on @dev, @ifr filled by the kernel. */
static gboolean
vspan_linux_ifreq(VspanHost *b, const char *dev, unsigned long request, struct ifreq *ifr)
{
    if (!dev || strlen(dev) >= IFNAMSIZ)
        return FALSE;
    strcpy(ifr->ifr_name, dev);
    return ioctl(((VspanLinuxHost *)b)->ioctl_fd, request, ifr) == 0;
}

static int
vspan_linux_ifindex(VspanHost *b, const char *dev)
{
    struct ifreq ifr = { 0 };

    return vspan_linux_ifreq(b, dev, SIOCGIFINDEX, &ifr) ? ifr.ifr_ifindex : 0;
}

/* @name of @ifindex, "" when it is gone */
static void
vspan_linux_ifname(VspanLinuxHost *self, int ifindex, char name[IFNAMSIZ])
{
    struct ifreq ifr = { .ifr_ifindex = ifindex };

    name[0] = '\0';
    if (ioctl(self->ioctl_fd, SIOCGIFNAME, &ifr) == 0)
        g_strlcpy(name, ifr.ifr_name, IFNAMSIZ);
}

static guint
vspan_linux_mtu(VspanHost *b, const char *dev)
{
    struct ifreq ifr = { 0 };

    return vspan_linux_ifreq(b, dev, SIOCGIFMTU, &ifr) ? (guint)ifr.ifr_mtu : 0;
}

static gboolean
vspan_linux_tso(VspanHost *b, const char *dev)
{
    struct ethtool_value v = { .cmd = ETHTOOL_GTSO };
    struct ifreq ifr = { .ifr_data = (void *)&v };

    return vspan_linux_ifreq(b, dev, SIOCETHTOOL, &ifr) && v.data;
}

static gboolean
vspan_linux_carrier(VspanHost *b, const char *dev)
{
    /* the network namespace's own sysfs: vspan_sysfs_root() is for SR-IOV */
    g_autofree char *path = g_build_filename("/sys/class/net", dev, "carrier", NULL);
    g_autofree char *c = NULL;

    return g_file_get_contents(path, &c, NULL, NULL) && g_str_has_prefix(c, "1");
}

static GPtrArray *
vspan_linux_copies(VspanHost *b, const char *dev, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    g_autoptr(GPtrArray) filters = NULL;
    GPtrArray *out;
    VspanTcAttach at;
    guint tags[VSPAN_HOOK_LAST];
    int ifindex = vspan_linux_ifindex(b, dev);

    if (ifindex <= 0)
        return g_ptr_array_new_with_free_func((GDestroyNotify)vspan_host_copy_free);
    if (!vspan_tc_probe(self->nl, ifindex, &at, error) ||
        !(filters = vspan_tc_dump(self->nl, ifindex, &at, error)))
        return NULL;
    out = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_host_copy_free);
    for (VspanHook hook = 0; hook < VSPAN_HOOK_LAST; hook++)
        tags[hook] = vspan_tc_tag_of(filters, hook);
    for (guint i = 0; i < filters->len; i++) {
        const VspanTcFilter *f = filters->pdata[i];

        for (guint j = 0; f->ours && j < f->actions->len; j++) {
            const VspanTcAction *a = &g_array_index(f->actions, VspanTcAction, j);
            VspanHostCopy *c = g_new0(VspanHostCopy, 1);
            char name[IFNAMSIZ];

            c->hook = f->hook;
            c->tag = tags[f->hook];
            /* a sink that vanished shows as "" and makes the plan re-point */
            vspan_linux_ifname(self, a->ifindex, name);
            c->sink = g_strdup(name);
            c->packets = a->packets;
            c->bytes = a->bytes;
            c->drops = a->drops;
            if (f->prio == vspan_tc_select_prio(f->hook)) {
                c->handle = f->handle;
                c->program = f->ops ? g_bytes_ref(f->ops) : NULL;
                c->ebpf = g_strdup(vspan_bpf_programs_name_of(self->programs, f->prog_id));
            }
            g_ptr_array_add(out, c);
        }
    }
    return out;
}

static gboolean
vspan_linux_vf_lookup(VspanHost *b, const VspanPciAddr *pci, char **pf, guint *vf)
{
    return vspan_sysfs_vf_lookup(vspan_sysfs_root(), pci, pf, vf);
}

static int
vspan_linux_numvfs(VspanHost *b, const char *pf)
{
    return vspan_sysfs_numvfs(vspan_sysfs_root(), pf);
}

static int
vspan_linux_totalvfs(VspanHost *b, const char *pf)
{
    g_autofree char *path = g_build_filename(vspan_sysfs_root(), "sys/class/net", pf, "device/sriov_totalvfs", NULL);
    g_autofree char *s = NULL;

    return g_file_get_contents(path, &s, NULL, NULL) ? atoi(s) : -1;
}

static gboolean
vspan_linux_link_up(VspanHost *b, const char *dev, GError **error)
{
    return vspan_link_set_up(((VspanLinuxHost *)b)->nl, vspan_link_ifindex(dev), dev, error);
}

static gboolean
vspan_linux_numvfs_set(VspanHost *b, const char *pf, guint n, GError **error)
{
    g_autofree char *path = g_build_filename(vspan_sysfs_root(), "sys/class/net", pf, "device/sriov_numvfs", NULL);
    g_autofree char *value = g_strdup_printf("%u", n);

    return vspan_sysfs_write(path, value, error);
}

/* ---- inline appliances -------------------------------------------------- */

static char *
vspan_linux_inline_of(VspanHost *b, const char *dev)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    g_autoptr(GPtrArray) filters = NULL;
    GHashTableIter it;
    VspanInline *in;
    const char *name;
    VspanTcAttach at;
    int ifindex;

    /* no inline appliance loaded (most hosts): no lookup at all; else one
     * dump of the tap's two hooks, whatever the number of appliances */
    if (g_hash_table_size(self->inlines) == 0 || (ifindex = vspan_link_ifindex(dev)) <= 0 ||
        !vspan_tc_probe(self->nl, ifindex, &at, NULL) || !(filters = vspan_tc_dump(self->nl, ifindex, &at, NULL)))
        return NULL;
    g_hash_table_iter_init(&it, self->inlines);
    while (g_hash_table_iter_next(&it, (gpointer *)&name, (gpointer *)&in))
        if (vspan_inline_tap_is_mine(in, filters))
            return g_strdup(name);
    return NULL;
}

/* take @dev out of every inline appliance but @keep */
static gboolean
vspan_linux_inline_drop(VspanLinuxHost *self, const char *dev, VspanInline *keep, GError **error)
{
    int ifindex = vspan_link_ifindex(dev);
    GHashTableIter it;
    VspanInline *in;
    VspanTcAttach at = { 0 };

    if (ifindex > 0 && !vspan_tc_probe(self->nl, ifindex, &at, error))
        return FALSE;
    g_hash_table_iter_init(&it, self->inlines);
    while (g_hash_table_iter_next(&it, NULL, (gpointer *)&in))
        if (in != keep && vspan_inline_has_tap(in, dev) &&
            !vspan_inline_tap_del(in, self->nl, dev, keep ? -1 : ifindex, &at, error))
            return FALSE;
    return TRUE;
}

static gboolean
vspan_linux_inline_set(VspanHost *b, const char *dev, const VspanAppliance *a, const char *mac, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    int ifindex = vspan_linux_resolve(dev, "tap", error);
    VspanInline *in;
    VspanTcAttach at;

    g_autoptr(GError) down = NULL;

    if (ifindex <= 0 || !(in = vspan_linux_inline(self, a, error)))
        return FALSE;
    /* an appliance that is down now is failed, not an error of the VM's */
    if (!vspan_inline_ports(in, self->nl, &down))
        g_debug("%s", down->message);
    if (!vspan_linux_inline_drop(self, dev, in, error) ||
        !vspan_linux_attach(self, ifindex, dev, &at, error))
        return FALSE;
    return vspan_inline_tap_set(in, self->nl, dev, ifindex, &at, mac, error);
}

static gboolean
vspan_linux_inline_del(VspanHost *b, const char *dev, GError **error)
{
    return vspan_linux_inline_drop((VspanLinuxHost *)b, dev, NULL, error);
}

static gboolean
vspan_linux_inline_state_set(VspanHost *b, const char *appliance, guint state)
{
    VspanInline *in = g_hash_table_lookup(((VspanLinuxHost *)b)->inlines, appliance);

    if (in)
        vspan_inline_state_set(in, state);
    return in != NULL;
}

static gboolean
vspan_linux_inline_stats(VspanHost *b, const char *appliance, VspanInlineStats *st)
{
    VspanInline *in = g_hash_table_lookup(((VspanLinuxHost *)b)->inlines, appliance);

    if (in)
        vspan_inline_stats(in, st);
    return in != NULL;
}

static void
vspan_linux_inline_canary(VspanHost *b, const char *appliance, guint64 seq)
{
    VspanInline *in = g_hash_table_lookup(((VspanLinuxHost *)b)->inlines, appliance);

    if (in)
        vspan_inline_canary(in, seq);
}

static void
vspan_linux_programs_sync(VspanHost *b, GPtrArray *defs)
{
    vspan_bpf_programs_sync(((VspanLinuxHost *)b)->programs, defs);
}

static const char *
vspan_linux_program_error(VspanHost *b, const char *name)
{
    return vspan_bpf_programs_error(((VspanLinuxHost *)b)->programs, name);
}

static void
vspan_linux_free(VspanHost *b)
{
    vspan_bpf_programs_free(((VspanLinuxHost *)b)->programs);
    g_hash_table_unref(((VspanLinuxHost *)b)->shapers);
    g_hash_table_unref(((VspanLinuxHost *)b)->unshaped);
    g_hash_table_unref(((VspanLinuxHost *)b)->taggers);
    g_hash_table_unref(((VspanLinuxHost *)b)->qdisc_modes);
    g_hash_table_unref(((VspanLinuxHost *)b)->inlines);
    vspan_nl_close(((VspanLinuxHost *)b)->nl);
    close(((VspanLinuxHost *)b)->ioctl_fd);
    vspan_host_finish(b);
    g_free(b);
}

static const VspanHostClass vspan_linux_host_class = {
    .ifindex = vspan_linux_ifindex,
    .carrier = vspan_linux_carrier,
    .mtu = vspan_linux_mtu,
    .tso = vspan_linux_tso,
    .copies = vspan_linux_copies,
    .vf_lookup = vspan_linux_vf_lookup,
    .numvfs = vspan_linux_numvfs,
    .totalvfs = vspan_linux_totalvfs,
    .link_up = vspan_linux_link_up,
    .numvfs_set = vspan_linux_numvfs_set,
    .sink_ensure = vspan_linux_sink_ensure,
    .qdisc_ensure = vspan_linux_qdisc_ensure,
    .mirror_set = vspan_linux_mirror_set,
    .mirror_del = vspan_linux_mirror_del,
    .select_set = vspan_linux_select_set,
    .select_del = vspan_linux_select_del,
    .tag_set = vspan_linux_tag_set,
    .tag_del = vspan_linux_tag_del,
    .programs_sync = vspan_linux_programs_sync,
    .sink_stats = vspan_linux_sink_stats,
    .program_error = vspan_linux_program_error,
    /* the plan carries the safe defaults for a reset */
    .vf_set = vspan_linux_vf_set,
    .vf_reset = vspan_linux_vf_set,
    .vf_matches = vspan_linux_vf_matches,
    .inline_ports = vspan_linux_inline_ports,
    .inline_of = vspan_linux_inline_of,
    .inline_set = vspan_linux_inline_set,
    .inline_del = vspan_linux_inline_del,
    .inline_state_set = vspan_linux_inline_state_set,
    .inline_stats = vspan_linux_inline_stats,
    .inline_canary = vspan_linux_inline_canary,
    .free = vspan_linux_free,
};

VspanHost *
vspan_linux_host_new(GError **error)
{
    VspanNl *nl = vspan_nl_open(error);
    VspanLinuxHost *self;

    if (!nl)
        return NULL;
    self = g_new0(VspanLinuxHost, 1);
    vspan_host_init(&self->parent, &vspan_linux_host_class);
    self->nl = nl;
    self->programs = vspan_bpf_programs_new(vspan_bpf_objdir(), vspan_bpf_pindir());
    self->shapers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)vspan_bpf_shaper_free);
    self->unshaped = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    self->taggers = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)vspan_tagger_free);
    self->qdisc_modes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    self->inlines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)vspan_inline_free);
    self->ioctl_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (self->ioctl_fd < 0) {
        int saved = errno;
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "Cannot open a socket for interface lookups: %s",
                    g_strerror(saved));
        vspan_host_free(&self->parent);
        return NULL;
    }
    return &self->parent;
}

VspanNl *
vspan_linux_host_nl(VspanHost *b)
{
    return ((VspanLinuxHost *)b)->nl;
}

gboolean
vspan_linux_host_release(VspanHost *b, const char *dev, GError **error)
{
    VspanLinuxHost *self = (VspanLinuxHost *)b;
    int ifindex = vspan_link_ifindex(dev);

    if (ifindex <= 0) {
        g_hash_table_remove(b->created_clsact, dev);
        return TRUE;
    }
    if (!vspan_linux_inline_drop(self, dev, NULL, error))
        return FALSE;
    for (VspanHook hook = 0; hook < VSPAN_HOOK_LAST; hook++)
        if (!vspan_linux_mirror_del(b, dev, hook, error) ||
            !vspan_linux_select_del(b, dev, hook, 0, error))
            return FALSE;
    if (g_hash_table_remove(b->created_clsact, dev))
        return vspan_tc_detach(self->nl, ifindex, dev, error);
    return TRUE;
}
