/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspand"

/* vspand's rtnetlink watch: link and tc events about the devices vspan
 * manages schedule a repair; the kernel drops every other event before it
 * reaches the socket. */

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/filter.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <glib-unix.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "vspan-error.h"
#include "vspan-tc.h"
#include "vspan-watch.h"

struct VspanWatch {
    VspanAgent *agent;          /* borrowed */
    struct nl_sock *sk;
    guint source;
    guint refilter;
};

/* The device an rtnetlink event is about: the name a link message
 * carries, or the name of a tc message's ifindex (NULL when gone, or when
 * the event is no news to vspan). */
static const char *
vspan_watch_event_dev(struct nlmsghdr *h, char name[IF_NAMESIZE])
{
    static const struct nla_policy link_policy[IFLA_MAX + 1] = {
        [IFLA_IFNAME] = { .type = NLA_STRING, .maxlen = IF_NAMESIZE },
    };
    static const struct nla_policy tc_policy[TCA_KIND + 1] = {
        [TCA_KIND] = { .type = NLA_STRING, .maxlen = 16 },
    };
    struct nlattr *tb[IFLA_MAX + 1];
    const struct tcmsg *tcm;

    switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
        if (nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, (struct nla_policy *)link_policy) < 0 ||
            !tb[IFLA_IFNAME])
            return NULL;
        nla_strlcpy(name, tb[IFLA_IFNAME], IF_NAMESIZE);
        return name;
    case RTM_NEWQDISC:
    case RTM_NEWTFILTER:
    case RTM_DELTFILTER:
    case RTM_DELCHAIN:
    case RTM_DELQDISC:
        if (!nlmsg_valid_hdr(h, sizeof(struct tcmsg)))
            return NULL;
        tcm = nlmsg_data(h);
        /* New tc objects matter when they are libvirt's <bandwidth> coming
         * back (domiftune, update-device), which vspan waits for rather than
         * race (VSPAN_QDISC_LIBVIRT): its ingress qdisc, then its police
         * filter, which vspan's mirror must precede.  vspan's own clsact
         * and filters are no news. */
        if (h->nlmsg_type == RTM_NEWQDISC &&
            (nlmsg_parse(h, sizeof(struct tcmsg), tb, TCA_KIND, (struct nla_policy *)tc_policy) < 0 ||
             !tb[TCA_KIND] || strcmp(nla_get_string(tb[TCA_KIND]), "ingress") != 0))
            return NULL;
        if (h->nlmsg_type == RTM_NEWTFILTER && vspan_tc_prio_is_vspans(TC_H_MAJ(tcm->tcm_info) >> 16))
            return NULL;
        return if_indextoname(tcm->tcm_ifindex, name);
    default:
        return NULL;
    }
}

static int
vspan_watch_cb(struct nl_msg *msg, void *data)
{
    VspanWatch *w = data;
    char name[IF_NAMESIZE];
    const char *dev = vspan_watch_event_dev(nlmsg_hdr(msg), name);

    /* a filter, qdisc or link of vspan's went away or changed: check
     * vspan's within 100 ms (coalescing bursts, including those vspan
     * itself causes); other devices' churn costs one lookup */
    if (dev && vspan_agent_watches(w->agent, dev)) {
        /* an inline appliance's port: its VMs' frames switch now, not
         * after the repair's 100 ms */
        int type = nlmsg_hdr(msg)->nlmsg_type;
        if (type == RTM_NEWLINK || type == RTM_DELLINK)
            vspan_agent_link_event(w->agent, dev);
        vspan_agent_schedule_repair(w->agent, 100);
    }
    return NL_OK;
}

static gboolean
vspan_watch_on_readable(int fd, GIOCondition cond, gpointer data)
{
    VspanWatch *w = data;
    int r;

    /* everything queued, in one wakeup: a burst of foreign link events
     * (a host starting containers) costs one dispatch, not one each */
    while ((r = nl_recvmsgs_default(w->sk)) >= 0)
        ;
    /* the socket overflowed: events were lost, so look at everything */
    if (r == -NLE_NOMEM) {
        g_message("rtnetlink events were lost (receive buffer full); checking every mirror");
        vspan_agent_schedule_repair(w->agent, 100);
    }
    return G_SOURCE_CONTINUE;
}

/*
 * Let the kernel drop the events vspan does not care about before they
 * reach the socket: a host churning containers otherwise wakes vspand for
 * every veth (~80 us each here).  The classic-BPF program keeps link and
 * tc deletions and link changes of the watched ifindexes; while a watched
 * device does not exist (a sink not created yet) it keeps every new link,
 * whose name the callback then checks.  Netlink data is in host byte order
 * while BPF loads are big-endian, hence ntohs/ntohl on the constants.
 */
/* Every event reaches the callback.  The kernel wants an int-sized
 * option value even here (optlen 0 is EINVAL) and answers ENOENT when no
 * program is attached. */
static void
vspan_watch_unfilter(VspanWatch *w)
{
    int unused = 0;

    if (setsockopt(nl_socket_get_fd(w->sk), SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) < 0 &&
        errno != ENOENT)
        g_warning("Cannot detach the rtnetlink event filter: %s", g_strerror(errno));
}

#define VSPAN_WATCH_FILTER_MAX 1900     /* two instructions each, of BPF_MAXINSNS */

static void
vspan_watch_filter(VspanWatch *w)
{
    g_autoptr(GArray) idx = NULL;
    g_autoptr(GArray) prog = g_array_new(FALSE, TRUE, sizeof(struct sock_filter));
    gboolean all_exist;
    struct sock_fprog fprog;
    int fd = nl_socket_get_fd(w->sk);

#define INSN(code, jt, jf, k) \
    do { struct sock_filter f_ = BPF_JUMP(code, k, jt, jf); g_array_append_val(prog, f_); } while (0)
    idx = vspan_agent_watched_ifindexes(w->agent, &all_exist);
    if (idx->len > VSPAN_WATCH_FILTER_MAX) {
        /* too many for one program: every event reaches the callback */
        vspan_watch_unfilter(w);
        return;
    }
    /* 0: the type; 1-7: the seven kept types jump to 10 (the ifindex
     * test), a new link to 9 (keep) while a watched name is missing; 8: drop
     * the rest; 9: keep.  A filter deleted as the last one of its chain is
     * announced as RTM_DELCHAIN only (kernel 6.18, cls_bpf).  A new qdisc or
     * filter matters when it is libvirt's (the callback looks). */
    INSN(BPF_LD | BPF_H | BPF_ABS, 0, 0, G_STRUCT_OFFSET(struct nlmsghdr, nlmsg_type));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, all_exist ? 8 : 7, 0, ntohs(RTM_NEWLINK));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, 7, 0, ntohs(RTM_DELLINK));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, ntohs(RTM_DELQDISC));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, 5, 0, ntohs(RTM_DELTFILTER));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, ntohs(RTM_DELCHAIN));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, 3, 0, ntohs(RTM_NEWQDISC));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, ntohs(RTM_NEWTFILTER));
    INSN(BPF_RET | BPF_K, 0, 0, 0);
    INSN(BPF_RET | BPF_K, 0, 0, 0xffffffff);
    /* 8: the ifindex (ifinfomsg and tcmsg both hold it 4 bytes into the
     * body); then for each watched one: equal -> keep, else try the next */
    INSN(BPF_LD | BPF_W | BPF_ABS, 0, 0, NLMSG_HDRLEN + 4);
    for (guint i = 0; i < idx->len; i++) {
        INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, ntohl(g_array_index(idx, int, i)));
        INSN(BPF_RET | BPF_K, 0, 0, 0xffffffff);
    }
    INSN(BPF_RET | BPF_K, 0, 0, 0);
#undef INSN
    fprog.len = prog->len;
    fprog.filter = (struct sock_filter *)prog->data;
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0) {
        g_debug("cannot filter rtnetlink events (%s); every event reaches vspand", g_strerror(errno));
        vspan_watch_unfilter(w);
    }
}

static gboolean
vspan_watch_refilter_idle(gpointer data)
{
    VspanWatch *w = data;

    w->refilter = 0;
    vspan_watch_filter(w);
    return G_SOURCE_REMOVE;
}

/* The watched devices changed, or may have new ifindexes (a repair ran).
 * Rebuilding resolves every watched name (one ioctl each): a burst of VM
 * starts shares one rebuild, 200 ms after the first.  Until then the old
 * program would drop the events of a tap that was just mirrored (a filter
 * deleted in that window stayed deleted), so the program comes off at
 * once and every event meets the callback's name check meanwhile. */
static void
vspan_watch_refilter(gpointer data)
{
    VspanWatch *w = data;

    if (!w->refilter) {
        vspan_watch_unfilter(w);
        w->refilter = g_timeout_add(200, vspan_watch_refilter_idle, w);
    }
}

VspanWatch *
vspan_watch_new(VspanAgent *agent, GError **error)
{
    g_autoptr(VspanWatch) w = g_new0(VspanWatch, 1);

    w->agent = agent;
    w->sk = nl_socket_alloc();
    nl_socket_disable_seq_check(w->sk);
    nl_socket_modify_cb(w->sk, NL_CB_VALID, NL_CB_CUSTOM, vspan_watch_cb, w);
    if (nl_connect(w->sk, NETLINK_ROUTE) < 0 ||
        nl_socket_add_memberships(w->sk, RTNLGRP_LINK, RTNLGRP_TC, 0) < 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "Cannot watch rtnetlink");
        return NULL;
    }
    nl_socket_set_nonblocking(w->sk);
    nl_socket_set_buffer_size(w->sk, 4 << 20, 0);
    /* one recvmsg per event, not a peek first: 64 KiB holds any link or
     * tc notification */
    nl_socket_disable_msg_peek(w->sk);
    nl_socket_set_msg_buf_size(w->sk, 65536);
    w->source = g_unix_fd_add(nl_socket_get_fd(w->sk), G_IO_IN, vspan_watch_on_readable, w);
    vspan_agent_on_watch_changed(agent, vspan_watch_refilter, w);
    vspan_watch_refilter(w);
    return g_steal_pointer(&w);
}

void
vspan_watch_free(VspanWatch *w)
{
    if (!w)
        return;
    vspan_agent_on_watch_changed(w->agent, NULL, NULL);
    g_clear_handle_id(&w->source, g_source_remove);
    g_clear_handle_id(&w->refilter, g_source_remove);
    nl_socket_free(w->sk);
    g_free(w);
}
