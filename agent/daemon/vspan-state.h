/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/*
 * What vspand must remember across restarts, in one keyfile written
 * atomically (write to a temporary file, rename; see vspan_file_replace):
 *  - the live XML of every domain vspan manages (so the kernel can be
 *    repaired without asking libvirt),
 *  - the taps on which vspan itself added the clsact qdisc (only those may
 *    lose it again),
 *  - the taps of running appliances' interface sinks.
 * All of it can be rebuilt from libvirt and the kernel; the file makes a
 * restart exact (no duplicate filters, no clsact left behind).
 */
/* A VF handed to a domain: reset on stop only while it is still that
 * domain's (a later domain may have it already). */
typedef struct {
    char *pf;
    guint vf;
    char *uuid;
    char *name;
    guint64 generation;             /* increases with every lease handed out */
} VspanLease;

typedef struct {
    char *path;
    guint64 generation;
    GHashTable *leases;             /* "pf/vf" -> VspanLease */
    GHashTable *domains;            /* uuid -> live domain XML */
    GHashTable *created_clsact;     /* tap name set */
    GHashTable *appliance_ports;    /* appliance name -> tap */
} VspanState;

VspanState *vspan_state_load(const char *dir, GError **error);
gboolean vspan_state_save(VspanState *state, GError **error);
void vspan_state_free(VspanState *state);

char *vspan_lease_key(const char *pf, guint vf);
/* Record that @uuid (@name) now holds VF @vf of @pf. */
const VspanLease *vspan_state_lease(VspanState *state, const char *pf, guint vf, const char *uuid,
                                    const char *name);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanState, vspan_state_free)
