/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-link"

#include <errno.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string.h>
#include <linux/rtnetlink.h>

#include <netlink/route/link.h>
#include <gio/gio.h>

#include "vspan-error.h"
#include "vspan-link.h"

int
vspan_link_ifindex(const char *name)
{
    return name ? (int)if_nametoindex(name) : 0;
}

typedef struct {
    int ifindex;
    char kind[16];
    gboolean found;
    guint64 tx_packets, tx_dropped;
} VspanKindScan;

static int
vspan_link_kind_cb(struct nl_msg *msg, void *arg)
{
    VspanKindScan *scan = arg;
    struct nlmsghdr *hdr = nlmsg_hdr(msg);
    struct ifinfomsg *ifi = nlmsg_data(hdr);
    struct nlattr *tb[IFLA_MAX + 1];

    if (hdr->nlmsg_type != RTM_NEWLINK || ifi->ifi_index != scan->ifindex)
        return NL_OK;
    scan->found = TRUE;
    if (nlmsg_parse(hdr, sizeof(*ifi), tb, IFLA_MAX, NULL) == 0 && tb[IFLA_STATS64] &&
        nla_len(tb[IFLA_STATS64]) >= (int)sizeof(struct rtnl_link_stats64)) {
        struct rtnl_link_stats64 st;
        memcpy(&st, nla_data(tb[IFLA_STATS64]), sizeof(st));
        scan->tx_packets = st.tx_packets;
        scan->tx_dropped = st.tx_dropped;
    }
    if (nlmsg_parse(hdr, sizeof(*ifi), tb, IFLA_MAX, NULL) == 0 && tb[IFLA_LINKINFO]) {
        struct nlattr *li[IFLA_INFO_MAX + 1];
        if (nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) == 0 && li[IFLA_INFO_KIND])
            g_strlcpy(scan->kind, nla_get_string(li[IFLA_INFO_KIND]), sizeof(scan->kind));
    }
    return NL_OK;
}

gboolean
vspan_link_kind(VspanNl *nl, int ifindex, char kind[16], GError **error)
{
    g_autoptr(VspanNlMsg) msg = nlmsg_alloc_simple(RTM_GETLINK, 0);
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    VspanKindScan scan = { .ifindex = ifindex };
    int r;

    nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    r = vspan_nl_get(nl, msg, vspan_link_kind_cb, &scan, "RTM_GETLINK");
    if (r < 0 || !scan.found) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND,
                    "Cannot read link ifindex %d: %s", ifindex, r < 0 ? g_strerror(-r) : "no answer");
        return FALSE;
    }
    memcpy(kind, scan.kind, 16);
    return TRUE;
}

gboolean
vspan_link_tx_stats(VspanNl *nl, int ifindex, guint64 *tx_packets, guint64 *tx_dropped)
{
    g_autoptr(VspanNlMsg) msg = nlmsg_alloc_simple(RTM_GETLINK, 0);
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    VspanKindScan scan = { .ifindex = ifindex };

    nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    if (vspan_nl_get(nl, msg, vspan_link_kind_cb, &scan, "RTM_GETLINK (stats)") < 0 || !scan.found)
        return FALSE;
    *tx_packets = scan.tx_packets;
    *tx_dropped = scan.tx_dropped;
    return TRUE;
}

gboolean
vspan_link_set_up(VspanNl *nl, int ifindex, const char *dev, GError **error)
{
    g_autoptr(VspanNlMsg) msg = nlmsg_alloc_simple(RTM_NEWLINK, 0);
    struct ifinfomsg ifi = {
        .ifi_family = AF_UNSPEC,
        .ifi_index = ifindex,
        .ifi_flags = IFF_UP,
        .ifi_change = IFF_UP,
    };
    g_autofree char *what = g_strdup_printf("RTM_NEWLINK dev %s up", dev);
    int r;

    nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    r = vspan_nl_request(nl, msg, what);
    if (r < 0) {
        vspan_nl_set_error(nl, error, r, "Cannot set '%s' up", dev);
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    guint32 oif;
    guint32 mtu;
} VspanRouteGet;

static int
vspan_link_route_cb(struct nl_msg *msg, void *arg)
{
    VspanRouteGet *get = arg;
    struct nlmsghdr *hdr = nlmsg_hdr(msg);
    struct nlattr *tb[RTA_MAX + 1];

    if (hdr->nlmsg_type != RTM_NEWROUTE || nlmsg_parse(hdr, sizeof(struct rtmsg), tb, RTA_MAX, NULL) < 0)
        return NL_OK;
    if (tb[RTA_OIF])
        get->oif = nla_get_u32(tb[RTA_OIF]);
    if (tb[RTA_METRICS]) {
        struct nlattr *m[RTAX_MAX + 1];
        if (nla_parse_nested(m, RTAX_MAX, tb[RTA_METRICS], NULL) == 0 && m[RTAX_MTU])
            get->mtu = nla_get_u32(m[RTAX_MTU]);
    }
    return NL_OK;
}

guint
vspan_link_path_mtu(VspanNl *nl, const char *remote)
{
    g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(remote);
    g_autoptr(VspanNlMsg) msg = NULL;
    struct rtmsg rtm = { 0 };
    VspanRouteGet get = { 0 };
    char name[IF_NAMESIZE];

    if (!addr)
        return 0;
    rtm.rtm_family = g_inet_address_get_family(addr) == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET;
    rtm.rtm_dst_len = rtm.rtm_family == AF_INET6 ? 128 : 32;
    msg = nlmsg_alloc_simple(RTM_GETROUTE, 0);
    if (nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
        nla_put(msg, RTA_DST, g_inet_address_get_native_size(addr), g_inet_address_to_bytes(addr)) < 0 ||
        vspan_nl_get(nl, msg, vspan_link_route_cb, &get, "RTM_GETROUTE") < 0)
        return 0;
    if (get.mtu)
        return get.mtu;
    /* the device's MTU by ioctl, in this network namespace (sysfs shows
     * the namespace it was mounted in) */
    if (get.oif && if_indextoname(get.oif, name)) {
        struct ifreq ifr = { 0 };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int r;

        g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
        r = fd >= 0 ? ioctl(fd, SIOCGIFMTU, &ifr) : -1;
        if (fd >= 0)
            close(fd);
        if (r == 0)
            return (guint)ifr.ifr_mtu;
    }
    return 0;
}
