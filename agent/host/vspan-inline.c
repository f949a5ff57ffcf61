/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-inline"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "vspan-bpf.h"
#include "vspan-bpf-params.h"
#include "vspan-error.h"
#include "vspan-inline.h"
#include "vspan-link.h"
#include "vspan-util.h"

/* a tap that passes the appliance */
typedef struct {
    guint vid;
    int ifindex;                /* when it was set (the tap may be gone since) */
} VspanInlineTap;

struct VspanInline {
    char *name;
    char *appliance_dev, *appliance_net_side;   /* its ports (vm-side, net-side) */
    char *filter_name;          /* VSPAN_TC_INLINE_NAME + name */
    VspanBpfInline bpf;
    GHashTable *taps;           /* tap -> VspanInlineTap */
    guint state;
    int packet_fd;              /* canaries go out here */
};

VspanInline *
vspan_inline_new(const VspanAppliance *a, guint id, GError **error)
{
    g_autoptr(GError) why = NULL;
    VspanInline *in = g_new0(VspanInline, 1);
    struct vspan_inline_app app = { .state = VSPAN_INLINE_BYPASS };
    __u32 zero = 0;

    if (!vspan_bpf_inline_load(vspan_bpf_objdir(), id, &in->bpf, &why)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot load the programs of inline appliance '%s': %s", a->name, why->message);
        g_free(in);
        return NULL;
    }
    in->name = g_strdup(a->name);
    in->appliance_dev = g_strdup(a->sink.dev);
    in->appliance_net_side = g_strdup(a->sink.net_side);
    in->filter_name = g_strconcat(VSPAN_TC_INLINE_NAME, a->name, NULL);
    in->taps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    in->packet_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    /* until its health is known, the appliance counts as failed */
    in->state = a->on_failure == VSPAN_ON_FAILURE_BLOCK ? VSPAN_INLINE_BLOCK : VSPAN_INLINE_BYPASS;
    app.state = in->state;
    bpf_map_update_elem(in->bpf.app_fd, &zero, &app, BPF_ANY);
    return in;
}

void
vspan_inline_free(VspanInline *in)
{
    if (!in)
        return;
    vspan_bpf_inline_close(&in->bpf);
    if (in->packet_fd >= 0)
        close(in->packet_fd);
    g_hash_table_unref(in->taps);
    g_free(in->filter_name);
    g_free(in->name);
    g_free(in->appliance_dev);
    g_free(in->appliance_net_side);
    g_free(in);
}

gboolean
vspan_inline_same_ports(VspanInline *in, const VspanAppliance *a)
{
    return g_str_equal(in->appliance_dev, a->sink.dev) && g_str_equal(in->appliance_net_side, a->sink.net_side);
}

static void
vspan_inline_app_write(VspanInline *in, int vm_side, int net_side)
{
    struct vspan_inline_app app = { 0 };
    __u32 zero = 0;

    bpf_map_lookup_elem(in->bpf.app_fd, &zero, &app);
    app.state = in->state;
    if (vm_side >= 0)
        app.vm_side = vm_side;
    if (net_side >= 0)
        app.net_side = net_side;
    bpf_map_update_elem(in->bpf.app_fd, &zero, &app, BPF_ANY);
}

/* one of the instance's direct-action filters */
static VspanTcDa
vspan_inline_da(VspanInline *in, const char *dev, VspanHook hook, guint32 prio, const char *what)
{
    return (VspanTcDa){ dev, hook, prio, VSPAN_TC_INLINE_NAME, what };
}

gboolean
vspan_inline_ports(VspanInline *in, VspanNl *nl, GError **error)
{
    int idx[2];

    for (guint k = 0; k < 2; k++) {
        const char *dev = k ? in->appliance_net_side : in->appliance_dev;
        guint prog = k ? VSPAN_BPF_INLINE_FROM_NET_SIDE : VSPAN_BPF_INLINE_FROM_VM_SIDE;
        g_autofree char *what = g_strdup_printf("pass the frames of inline appliance '%s' back from '%s'",
                                                in->name, dev);
        VspanTcDa da = vspan_inline_da(in, dev, VSPAN_HOOK_INGRESS, VSPAN_TC_PRIO_INLINE_FIRST, what);
        VspanTcAttach at;
        gboolean created;

        idx[k] = vspan_link_ifindex(dev);
        if (idx[k] <= 0) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND,
                        "Port '%s' of inline appliance '%s' does not exist; start the appliance", dev, in->name);
            return FALSE;
        }
        /* up on the host's side (a container's veth comes down) */
        if (!vspan_link_set_up(nl, idx[k], dev, error) ||
            !vspan_tc_attach(nl, idx[k], dev, VSPAN_QDISC_CLSACT, &at, &created, error) ||
            !vspan_tc_da_set(nl, idx[k], &at, &da, in->filter_name, in->bpf.prog_fd[prog], in->bpf.prog_id[prog],
                             error))
            return FALSE;
    }
    vspan_inline_app_write(in, idx[0], idx[1]);
    return TRUE;
}

/* the lowest VID no tap of the appliance holds, 0 when all 4093 are taken */
static guint
vspan_inline_free_vid(VspanInline *in)
{
    g_autoptr(GHashTable) used = g_hash_table_new(g_direct_hash, g_direct_equal);
    GHashTableIter it;
    VspanInlineTap *t;

    g_hash_table_iter_init(&it, in->taps);
    while (g_hash_table_iter_next(&it, NULL, (gpointer *)&t))
        g_hash_table_add(used, GUINT_TO_POINTER(t->vid));
    for (guint vid = 1; vid < VSPAN_INLINE_CANARY_VID; vid++)
        if (!g_hash_table_contains(used, GUINT_TO_POINTER(vid)))
            return vid;
    return 0;
}

gboolean
vspan_inline_tap_set(VspanInline *in, VspanNl *nl, const char *tap, int ifindex, const VspanTcAttach *at,
                     const char *mac, GError **error)
{
    g_autofree char *what = g_strdup_printf("put inline appliance '%s' in the path of '%s'", in->name, tap);
    VspanInlineTap *t = g_hash_table_lookup(in->taps, tap);
    guint vid = t ? t->vid : 0;
    struct vspan_inline_vm vm = { .ifindex = ifindex };
    struct vspan_inline_port port;
    __u32 key;
    const struct {
        VspanHook hook;
        guint32 prio;
        guint prog;
    } filters[] = {
        /* the one that sends frames to the appliance goes on last */
        { VSPAN_HOOK_INGRESS, VSPAN_TC_PRIO_INLINE_FIRST, VSPAN_BPF_INLINE_FROM_VM_PASS },
        { VSPAN_HOOK_EGRESS, VSPAN_TC_PRIO_INLINE_FIRST, VSPAN_BPF_INLINE_TO_VM },
        { VSPAN_HOOK_INGRESS, VSPAN_TC_PRIO_INLINE_LAST, VSPAN_BPF_INLINE_FROM_VM },
    };

    if (!vid && !(vid = vspan_inline_free_vid(in))) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_REFUSED,
                    "Cannot put '%s' behind inline appliance '%s': all 4093 of its tags are taken; spread the VMs over another inline appliance",
                    tap, in->name);
        return FALSE;
    }
    if (!vspan_mac_to_bytes(mac, vm.mac)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "Cannot put '%s' behind inline appliance '%s': its MAC '%s' is not known; give the interface a <mac address>",
                    tap, in->name, mac);
        return FALSE;
    }
    /* the maps before the filters: the first frame finds its tag */
    key = vid;
    port.vid = vid;
    if (bpf_map_update_elem(in->bpf.vids_fd, &key, &vm, BPF_ANY) < 0 ||
        bpf_map_update_elem(in->bpf.ports_fd, &(__u32){ ifindex }, &port, BPF_ANY) < 0) {
        int saved = errno;
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot put '%s' behind inline appliance '%s': its maps refused the tap (%s)", tap, in->name,
                    g_strerror(saved));
        return FALSE;
    }
    if (!t) {
        t = g_new0(VspanInlineTap, 1);
        g_hash_table_insert(in->taps, g_strdup(tap), t);
    }
    t->vid = vid;
    t->ifindex = ifindex;
    for (guint i = 0; i < G_N_ELEMENTS(filters); i++) {
        VspanTcDa da = vspan_inline_da(in, tap, filters[i].hook, filters[i].prio, what);

        if (!vspan_tc_da_set(nl, ifindex, at, &da, in->filter_name, in->bpf.prog_fd[filters[i].prog],
                             in->bpf.prog_id[filters[i].prog], error))
            return FALSE;
    }
    g_debug("'%s' passes inline appliance '%s' under VID %u", tap, in->name, vid);
    return TRUE;
}

gboolean
vspan_inline_tap_del(VspanInline *in, VspanNl *nl, const char *tap, int ifindex, const VspanTcAttach *at,
                     GError **error)
{
    g_autofree char *what = g_strdup_printf("take inline appliance '%s' out of the path of '%s'", in->name, tap);
    VspanInlineTap *t = g_hash_table_lookup(in->taps, tap);
    VspanTcDa das[] = {
        vspan_inline_da(in, tap, VSPAN_HOOK_INGRESS, VSPAN_TC_PRIO_INLINE_LAST, what),
        vspan_inline_da(in, tap, VSPAN_HOOK_EGRESS, VSPAN_TC_PRIO_INLINE_FIRST, what),
        vspan_inline_da(in, tap, VSPAN_HOOK_INGRESS, VSPAN_TC_PRIO_INLINE_FIRST, what),
    };

    for (guint i = 0; ifindex > 0 && i < G_N_ELEMENTS(das); i++)
        if (!vspan_tc_da_del(nl, ifindex, at, &das[i], error))
            return FALSE;
    if (t) {
        struct vspan_inline_vm none = { 0 };
        __u32 key = t->vid;

        bpf_map_update_elem(in->bpf.vids_fd, &key, &none, BPF_ANY);
        /* by the ifindex it had: the tap may be gone */
        bpf_map_delete_elem(in->bpf.ports_fd, &(__u32){ t->ifindex });
        g_hash_table_remove(in->taps, tap);
    }
    return TRUE;
}

gboolean
vspan_inline_tap_is_mine(VspanInline *in, GPtrArray *filters)
{
    return vspan_tc_da_find_id(filters, VSPAN_HOOK_INGRESS, VSPAN_TC_PRIO_INLINE_FIRST, VSPAN_TC_INLINE_NAME) ==
               in->bpf.prog_id[VSPAN_BPF_INLINE_FROM_VM_PASS] &&
           vspan_tc_da_find_id(filters, VSPAN_HOOK_EGRESS, VSPAN_TC_PRIO_INLINE_FIRST, VSPAN_TC_INLINE_NAME) ==
               in->bpf.prog_id[VSPAN_BPF_INLINE_TO_VM] &&
           vspan_tc_da_find_id(filters, VSPAN_HOOK_INGRESS, VSPAN_TC_PRIO_INLINE_LAST, VSPAN_TC_INLINE_NAME) ==
               in->bpf.prog_id[VSPAN_BPF_INLINE_FROM_VM];
}

gboolean
vspan_inline_has_tap(VspanInline *in, const char *tap)
{
    return g_hash_table_contains(in->taps, tap);
}

void
vspan_inline_state_set(VspanInline *in, guint state)
{
    in->state = state;
    vspan_inline_app_write(in, -1, -1);
}

void
vspan_inline_stats(VspanInline *in, VspanInlineStats *st)
{
    G_STATIC_ASSERT(G_N_ELEMENTS(st->counters) == VSPAN_INLINE_COUNTERS);
    memset(st, 0, sizeof(*st));
    st->state = in->state;
    st->vms = g_hash_table_size(in->taps);
    vspan_bpf_percpu_sum(in->bpf.counters_fd, VSPAN_INLINE_COUNTERS, st->counters);
    for (__u32 dir = 0; dir < 2; dir++) {
        __u64 seq = 0;
        bpf_map_lookup_elem(in->bpf.canary_fd, &dir, &seq);
        st->canary[dir] = seq;
    }
}

void
vspan_inline_canary(VspanInline *in, guint64 seq)
{
    for (guint dir = 0; dir < 2 && in->packet_fd >= 0; dir++) {
        const char *dev = dir ? in->appliance_net_side : in->appliance_dev;
        struct {
            struct ethhdr eth;
            __be16 tci, proto;      /* 802.1Q: VID 4094, then the canary's ethertype */
            struct vspan_inline_canary c;
            guint8 pad[64 - sizeof(struct ethhdr) - 4 - sizeof(struct vspan_inline_canary)];
        } __attribute__((packed)) frame = {
            .eth = { .h_dest = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
                     /* locally administered, one per direction: the
                      * appliance's bridge learns each on its own port */
                     .h_source = { 0x02, 'v', 's', 'p', 'n', (guint8)dir },
                     .h_proto = htons(ETH_P_8021Q) },
            .tci = htons(VSPAN_INLINE_CANARY_VID),
            .proto = htons(VSPAN_INLINE_CANARY_PROTO),
            .c = { .magic = "vspan-ok", .seq = seq, .dir = dir },
        };
        struct sockaddr_ll to = {
            .sll_family = AF_PACKET,
            .sll_ifindex = vspan_link_ifindex(dev),
            .sll_halen = ETH_ALEN,
        };

        if (to.sll_ifindex <= 0)
            continue;
        memcpy(to.sll_addr, frame.eth.h_dest, ETH_ALEN);
        /* a port without carrier refuses it: the missing canary says so */
        (void)sendto(in->packet_fd, &frame, sizeof(frame), MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
    }
}
