/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-config.h"
#include "vspan-netlink.h"

/* Make @sink of @appliance exist and be up; *ifindex is where mirrors point.
 * tap: a persistent tap vspan owns (TUNSETPERSIST), on no bridge.
 * vxlan: a vxlan device vspan owns.  netdev, interface: must exist. */
gboolean vspan_sink_ensure(VspanNl *nl, const VspanAppliance *appliance, const char *dev,
                           int *ifindex, GError **error);
