/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-sink"

/* The devices copies go to: persistent taps and vxlan devices vspan
 * creates and owns, or existing netdevs. */

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

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

gboolean
vspan_sink_ensure(VspanNl *nl, const VspanAppliance *a, const char *dev, int *ifindex,
                  GError **error)
{
    char kind[16] = "";
    int idx = vspan_link_ifindex(dev);

    switch (a->sink.type) {
    case VSPAN_SINK_TAP:
    case VSPAN_SINK_VXLAN: {
        const char *want = a->sink.type == VSPAN_SINK_TAP ? "tun" : "vxlan";

        if (idx > 0) {
            if (!vspan_link_kind(nl, idx, kind, error))
                return FALSE;
            if (!g_str_equal(kind, want)) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                            "Cannot use '%s' as the %s sink of appliance '%s': it exists and is a %s device; remove it or choose another sink dev",
                            dev, vspan_sink_type_to_string(a->sink.type), a->name, *kind ? kind : "plain");
                return FALSE;
            }
        } else {
            if (a->sink.type == VSPAN_SINK_TAP ? !vspan_tap_create(dev, error)
                                               : !vspan_vxlan_create(nl, &a->sink, dev, error))
                return FALSE;
            idx = vspan_link_ifindex(dev);
            if (idx <= 0) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                            "Created sink '%s' of appliance '%s' but it is gone", dev, a->name);
                return FALSE;
            }
            vspan_log_event(G_LOG_LEVEL_INFO,
                            &(VspanLogFields){ .tap = dev, .appliance = a->name, .op = "sink-create" },
                            "created the %s sink '%s' of appliance '%s' (it did not exist)",
                            vspan_sink_type_to_string(a->sink.type), dev, a->name);
        }
        if (!vspan_link_set_up(nl, idx, dev, error))
            return FALSE;
        break;
    }
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
