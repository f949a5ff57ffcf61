/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-domain.h"
#include "vspan-netlink.h"

/*
 * SR-IOV VF settings over rtnetlink.  Every field vspan owns is sent in one
 * RTM_SETLINK on the PF (built here, sent once: libnl 3.7's rtnl_link_change
 * resends VF attributes as a second request after EOPNOTSUPP, applying them
 * twice), then read back with RTEXT_FILTER_VF and compared.
 */

/* Read VF @vf of the PF @pf_ifindex. */
gboolean vspan_vf_get(VspanNl *nl, int pf_ifindex, guint vf, VspanVfSettings *out, GError **error);

/* Set every field of VF @vf of PF @pf (name for messages), then read back;
 * a field the driver rejected or ignored is an error naming it and the
 * driver.  An empty MAC leaves the MAC alone. */
gboolean vspan_vf_set(VspanNl *nl, const char *pf, guint vf, const VspanVfSettings *s, GError **error);

/* Whether @got (read back) is what @want sets: every field, the MAC only
 * when @want names one. */
gboolean vspan_vf_settings_match(const VspanVfSettings *want, const VspanVfSettings *got);

/* The PF's driver name, from the PF's device link in sysfs. */
char *vspan_vf_driver(const char *pf);
