/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-sink"

/* The devices copies go to: persistent taps and tunnel devices (vxlan,
 * gretap, erspan) vspan creates and owns, or existing netdevs. */

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/if_tunnel.h>
#include <linux/rtnetlink.h>

#include <gio/gio.h>

#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>

#include "vspan-error.h"
#include "vspan-link.h"
#include "vspan-log.h"
#include "vspan-sink.h"

static gboolean
vspan_tap_create(const char *dev, GError **error)
{
    struct ifreq ifr = { 0 };
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        int saved = errno;
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot create tap '%s': cannot open /dev/net/tun: %s; load the tun module",
                    dev, g_strerror(saved));
        return FALSE;
    }
    g_strlcpy(ifr.ifr_name, dev, IFNAMSIZ);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
        int saved = errno;
        close(fd);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot create tap '%s': %s", dev, g_strerror(saved));
        return FALSE;
    }
    close(fd);
    g_debug("TUNSETIFF+TUNSETPERSIST tap %s - Success", dev);
    return TRUE;
}

static gboolean
vspan_vxlan_create(VspanNl *nl, const VspanSink *sink, const char *dev, GError **error)
{
    struct rtnl_link *link = rtnl_link_vxlan_alloc();
    struct nl_addr *remote = NULL, *local = NULL;
    struct nl_msg *raw = NULL;
    g_autoptr(VspanNlMsg) msg = NULL;
    g_autofree char *what = NULL;
    int r;

    rtnl_link_set_name(link, dev);
    rtnl_link_vxlan_set_id(link, sink->vni);
    r = nl_addr_parse(sink->remote, AF_UNSPEC, &remote);
    if (r == 0)
        r = rtnl_link_vxlan_set_group(link, remote);
    if (r == 0 && sink->local && (r = nl_addr_parse(sink->local, AF_UNSPEC, &local)) == 0)
        r = rtnl_link_vxlan_set_local(link, local);
    if (r == 0)
        r = rtnl_link_vxlan_set_port(link, sink->dstport);
    if (r == 0)
        r = rtnl_link_build_add_request(link, NLM_F_CREATE | NLM_F_EXCL, &raw);
    nl_addr_put(remote);
    nl_addr_put(local);
    rtnl_link_put(link);
    if (r < 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot build the vxlan sink '%s': %s", dev, nl_geterror(r));
        return FALSE;
    }
    msg = raw;
    what = g_strdup_printf("RTM_NEWLINK vxlan %s id %u remote %s dstport %u", dev, sink->vni,
                           sink->remote, sink->dstport);
    r = vspan_nl_request(nl, msg, what);
    if (r < 0) {
        vspan_nl_set_error(nl, error, r, "Cannot create the vxlan sink '%s' (vni %u, remote %s)",
                           dev, sink->vni, sink->remote);
        return FALSE;
    }
    return TRUE;
}

/* The kernel's link kind of each sink type vspand creates. */
static const char *
vspan_sink_kind(const VspanSink *sink)
{
    gboolean v6 = sink->remote && strchr(sink->remote, ':');

    switch (sink->type) {
    case VSPAN_SINK_TAP:
        return "tun";
    case VSPAN_SINK_VXLAN:
        return "vxlan";
    case VSPAN_SINK_GRETAP:
        return v6 ? "ip6gretap" : "gretap";
    case VSPAN_SINK_ERSPAN:
        return v6 ? "ip6erspan" : "erspan";
    default:
        return NULL;
    }
}

/* gretap, erspan (and their IPv6 kinds) over raw RTM_NEWLINK: libnl 3.7
 * knows no erspan.  ERSPAN carries its session ID in the GRE key and
 * needs sequence numbers (the kernel refuses it otherwise).  Version 2
 * (type III) has a direction bit, fixed per device: the sink's own device
 * sends copies of frames from the VM (ingress at its port, D=0), its twin
 * dev_egress those of frames to the VM (D=1). */
static gboolean
vspan_gre_create(VspanNl *nl, const VspanSink *sink, const char *dev, GError **error)
{
    g_autoptr(GInetAddress) remote = g_inet_address_new_from_string(sink->remote);
    g_autoptr(GInetAddress) local = sink->local ? g_inet_address_new_from_string(sink->local) : NULL;
    const char *kind = vspan_sink_kind(sink);
    gboolean v6 = g_str_has_prefix(kind, "ip6");
    gboolean erspan = sink->type == VSPAN_SINK_ERSPAN;
    g_autoptr(VspanNlMsg) msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    g_autofree char *what = g_strdup_printf("RTM_NEWLINK %s %s remote %s key %u", kind, dev, sink->remote, sink->key);
    __be16 flags = erspan ? (GRE_SEQ | GRE_KEY) : sink->has_key ? GRE_KEY : 0;
    gboolean to_vm = g_strcmp0(dev, sink->dev_egress) == 0;
    /* the twin sends the same session (o_key); the kernel tells tunnels
     * apart by their receive key, which no copy uses: another 10-bit value */
    guint32 ikey = to_vm ? sink->key ^ 0x200 : sink->key;
    struct nlattr *info, *data;
    int r = -ENOMEM;

    if (msg && nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) == 0 &&
        nla_put_string(msg, IFLA_IFNAME, dev) == 0 && (info = nla_nest_start(msg, IFLA_LINKINFO)) &&
        nla_put_string(msg, IFLA_INFO_KIND, kind) == 0 && (data = nla_nest_start(msg, IFLA_INFO_DATA)) &&
        nla_put(msg, IFLA_GRE_REMOTE, g_inet_address_get_native_size(remote),
                g_inet_address_to_bytes(remote)) == 0 &&
        (!local || nla_put(msg, IFLA_GRE_LOCAL, g_inet_address_get_native_size(local),
                           g_inet_address_to_bytes(local)) == 0) &&
        (!flags || (nla_put_u16(msg, IFLA_GRE_IFLAGS, flags) == 0 && nla_put_u16(msg, IFLA_GRE_OFLAGS, flags) == 0 &&
                    nla_put_u32(msg, IFLA_GRE_IKEY, htonl(ikey)) == 0 &&
                    nla_put_u32(msg, IFLA_GRE_OKEY, htonl(sink->key)) == 0)) &&
        (!erspan || nla_put_u8(msg, IFLA_GRE_ERSPAN_VER, sink->version) == 0) &&
        (!erspan || sink->version != 2 || nla_put_u8(msg, IFLA_GRE_ERSPAN_DIR, to_vm ? 1 : 0) == 0)) {
        nla_nest_end(msg, data);
        nla_nest_end(msg, info);
        r = vspan_nl_request(nl, msg, what);
    }
    if (r == -EOPNOTSUPP) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot create the %s sink '%s': this kernel has no %s devices; load the %s module, or use a vxlan sink",
                    vspan_sink_type_to_string(sink->type), dev, kind, v6 ? "ip6_gre" : "ip_gre");
        return FALSE;
    }
    if (r < 0) {
        vspan_nl_set_error(nl, error, r, "Cannot create the %s sink '%s' (remote %s)",
                           vspan_sink_type_to_string(sink->type), dev, sink->remote);
        return FALSE;
    }
    return TRUE;
}

static gboolean
vspan_sink_create(VspanNl *nl, const VspanSink *sink, const char *dev, GError **error)
{
    switch (sink->type) {
    case VSPAN_SINK_TAP:
    case VSPAN_SINK_INLINE:     /* one of its ports */
        return vspan_tap_create(dev, error);
    case VSPAN_SINK_VXLAN:
        return vspan_vxlan_create(nl, sink, dev, error);
    default:
        return vspan_gre_create(nl, sink, dev, error);
    }
}

/* Create @dev, a device of @a's sink that does not exist (an inline
 * appliance's port: a tap), and say so: its ifindex, or 0 with @error. */
static int
vspan_sink_make(VspanNl *nl, const VspanAppliance *a, const char *dev, GError **error)
{
    int idx;

    if (!vspan_sink_create(nl, &a->sink, dev, error))
        return 0;
    idx = vspan_link_ifindex(dev);
    if (idx <= 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Created sink '%s' of appliance '%s' but it is gone", dev, a->name);
        return 0;
    }
    vspan_log_event(G_LOG_LEVEL_INFO, &(VspanLogFields){ .tap = dev, .appliance = a->name, .op = "sink-create" },
                    "created the %s sink '%s' of appliance '%s' (it did not exist)",
                    vspan_sink_type_to_string(a->sink.type), dev, a->name);
    return idx;
}

gboolean
vspan_sink_ensure(VspanNl *nl, const VspanAppliance *a, const char *dev, int *ifindex,
                  GError **error)
{
    char kind[16] = "";
    int idx = vspan_link_ifindex(dev);

    switch (a->sink.type) {
    case VSPAN_SINK_TAP:
    case VSPAN_SINK_VXLAN:
    case VSPAN_SINK_GRETAP:
    case VSPAN_SINK_ERSPAN: {
        const char *want = vspan_sink_kind(&a->sink);

        if (idx > 0) {
            if (!vspan_link_kind(nl, idx, kind, error))
                return FALSE;
            if (!g_str_equal(kind, want)) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                            "Cannot use '%s' as the %s sink of appliance '%s': it exists and is a %s device; remove it or choose another sink dev",
                            dev, vspan_sink_type_to_string(a->sink.type), a->name, *kind ? kind : "plain");
                return FALSE;
            }
        } else if ((idx = vspan_sink_make(nl, a, dev, error)) <= 0) {
            return FALSE;
        }
        if (!vspan_link_set_up(nl, idx, dev, error))
            return FALSE;
        break;
    }
    case VSPAN_SINK_INLINE:
        /* each port: a tap vspand creates (the appliance VM's <interface
         * type='ethernet'>), or whatever device is there already (the veth
         * of an appliance container) */
        for (guint k = 0; k < 2; k++) {
            const char *port = k ? a->sink.net_side : a->sink.dev;
            int pidx = vspan_link_ifindex(port);

            if (pidx <= 0 && a->sink.existing_ports)
                continue;   /* the container is not running: the appliance is down */
            if (pidx <= 0 && (pidx = vspan_sink_make(nl, a, port, error)) <= 0)
                return FALSE;
            if (!vspan_link_set_up(nl, pidx, port, error))
                return FALSE;
            if (!k)
                idx = pidx;
        }
        break;
    case VSPAN_SINK_NETDEV:
    case VSPAN_SINK_INTERFACE:
        if (idx <= 0) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND,
                        "Sink '%s' of appliance '%s' does not exist; %s",
                        dev, a->name,
                        a->sink.type == VSPAN_SINK_NETDEV ? "create the host port or fix <sink dev> in vspan.xml"
                                                          : "start the appliance domain");
            return FALSE;
        }
        break;
    case VSPAN_SINK_LAST:
        g_assert_not_reached();
    }
    *ifindex = idx;
    return TRUE;
}
