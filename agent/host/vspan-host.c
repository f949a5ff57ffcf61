/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-host"

/* What every host implementation shares (vspan-host.h). */

#include "vspan-host.h"
#include "vspan-select.h"

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
    g_free(c->ebpf);
    g_free(c);
}

gboolean
vspan_host_observe_tap(VspanHost *host, const char *tap, VspanObserved *obs, GError **error)
{
    /* copies() reads nothing for a tap that is gone: no lookup first */
    g_autoptr(GPtrArray) copies = host->klass->copies(host, tap, error);

    if (!copies)
        return FALSE;
    if (host->klass->inline_of) {
        char *appliance = host->klass->inline_of(host, tap);
        if (appliance)
            g_hash_table_replace(obs->inline_ports, g_strdup(tap), appliance);
    }
    /* one match-all mirror per hook, its sinks in action order; one filter
     * per rule that selects */
    for (VspanHook hook = 0; hook < VSPAN_HOOK_LAST; hook++) {
        g_autoptr(GPtrArray) sinks = g_ptr_array_new();

        for (guint c = 0; c < copies->len; c++) {
            const VspanHostCopy *copy = copies->pdata[c];
            if (copy->hook != hook)
                continue;
            if (copy->tag)
                vspan_observed_set_tag(obs, tap, hook, copy->tag);
            if (copy->handle) {
                g_autofree char *hex = copy->program ? vspan_select_to_hex(copy->program) : NULL;
                vspan_observed_add_select(obs, tap, hook, copy->handle, copy->sink, hex, copy->ebpf);
            } else {
                g_ptr_array_add(sinks, copy->sink);
            }
        }
        if (sinks->len == 0)
            continue;
        g_ptr_array_add(sinks, NULL);
        vspan_observed_add_mirror(obs, tap, hook, (const char *const *)sinks->pdata);
    }
    return TRUE;
}
