/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "vspan-config.h"
#include "vspan-host.h"
#include "vspan-observed.h"
#include "vspan-state.h"

/* PFs up, VFs enabled where none are (start-up, reload). */
void vspan_pools_ensure(const VspanConfig *config, VspanHost *host);

/* Free VFs per pool into @obs, for the prepare check. */
void vspan_pools_observe(const VspanConfig *config, VspanHost *host, const VspanState *state,
                         VspanObserved *obs);

/* The libvirt <network> of @pool: <forward mode='hostdev'> with <pf dev>
 * when the pool uses one whole PF, else the VFs' PCI addresses read from
 * the PFs' virtfnN links under @root.  NULL (and *why) when no VF can be
 * listed. */
char *vspan_pool_network_xml(const VspanPool *pool, const char *root, char **why);
