/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-xml.h"

/*
 * SR-IOV topology from sysfs: PCI address -> PF netdev + VF index, via
 * /sys/bus/pci/devices/ADDR/physfn and the PF's virtfnN links.  @root is
 * "/" on a host; tests pass a fixture tree (netdevsim VFs have no PCI
 * devices).  $VSPAN_SYSFS_ROOT overrides the default for vspand.
 */
const char *vspan_sysfs_root(void);

gboolean vspan_sysfs_vf_lookup(const char *root, const VspanPciAddr *pci, char **pf, guint *vf);

/* sriov_numvfs of @pf, or -1 when it is not an SR-IOV PF. */
int vspan_sysfs_numvfs(const char *root, const char *pf);

/* Write @value to the sysfs attribute @path. */
gboolean vspan_sysfs_write(const char *path, const char *value, GError **error);
