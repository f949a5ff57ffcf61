/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-host"

/* What every host implementation shares (vspan-host.h). */

#include "vspan-host.h"

void
vspan_host_init(VspanHost *host, const VspanHostClass *klass)
{
    host->klass = klass;
    host->classifier = VSPAN_CLASSIFIER_AUTO;
    host->created_clsact = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

void
vspan_host_finish(VspanHost *host)
{
    g_clear_pointer(&host->created_clsact, g_hash_table_unref);
}

void
vspan_host_free(VspanHost *host)
{
    if (host)
        host->klass->free(host);
}

void
vspan_host_copy_free(VspanHostCopy *c)
{
    g_free(c->sink);
    if (c->program)
        g_bytes_unref(c->program);
    g_free(c);
}
