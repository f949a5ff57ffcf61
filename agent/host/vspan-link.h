/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-netlink.h"

/* ifindex of @name, 0 when there is no such device. */
int vspan_link_ifindex(const char *name);

/* IFLA_INFO_KIND ("tun", "vxlan", "veth", ...) or "" for none. */
gboolean vspan_link_kind(VspanNl *nl, int ifindex, char kind[16], GError **error);

gboolean vspan_link_set_up(VspanNl *nl, int ifindex, const char *dev, GError **error);

/* The MTU of the path to @remote (an IP address): the route's MTU metric,
 * else the MTU of the device the route leaves by; 0 when there is no
 * route. */
guint vspan_link_path_mtu(VspanNl *nl, const char *remote);

/* The device's own transmit counters (IFLA_STATS64), in this network
 * namespace. */
gboolean vspan_link_tx_stats(VspanNl *nl, int ifindex, guint64 *tx_packets, guint64 *tx_dropped);
