/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-state"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "vspan-error.h"
#include "vspan-state.h"
#include "vspan-xml.h"

#define VSPAN_STATE_VERSION 1

static void
vspan_lease_free(VspanLease *l)
{
    if (!l)
        return;
    g_free(l->pf);
    g_free(l->uuid);
    g_free(l->name);
    g_free(l);
}

char *
vspan_lease_key(const char *pf, guint vf)
{
    return g_strdup_printf("%s/%u", pf, vf);
}

const VspanLease *
vspan_state_lease(VspanState *st, const char *pf, guint vf, const char *uuid, const char *name)
{
    VspanLease *l = g_new0(VspanLease, 1);

    l->pf = g_strdup(pf);
    l->vf = vf;
    l->uuid = g_strdup(uuid);
    l->name = g_strdup(name);
    l->generation = ++st->generation;
    g_hash_table_replace(st->leases, vspan_lease_key(pf, vf), l);
    return l;
}

/* A vspand killed between writing a new state file and renaming it over
 * the old one leaves "state.ini.XXXXXX" behind: the old file is the state,
 * the temporary one is dropped. */
static void
vspan_state_remove_temporaries(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        if (g_str_has_prefix(name, "state.ini.") && strlen(name) == strlen("state.ini.XXXXXX")) {
            g_autofree char *path = g_build_filename(dir, name, NULL);
            g_message("removed '%s', a state file vspand did not finish writing", path);
            g_unlink(path);
        }
    }
}

VspanState *
vspan_state_load(const char *dir, GError **error)
{
    g_autoptr(VspanState) st = g_new0(VspanState, 1);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) groups = NULL;
    int version;

    st->path = g_build_filename(dir, "state.ini", NULL);
    st->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    st->created_clsact = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    st->appliance_ports = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    st->leases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)vspan_lease_free);

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        int saved = errno;
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO,
                    "Cannot create the state directory '%s': %s", dir, g_strerror(saved));
        return NULL;
    }
    vspan_state_remove_temporaries(dir);
    if (!g_key_file_load_from_file(kf, st->path, G_KEY_FILE_NONE, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return g_steal_pointer(&st);
        if (local->domain == G_KEY_FILE_ERROR) {
            /* Only a power loss between write and rename can leave a torn
             * file: everything in it is rebuilt from libvirt and the kernel. */
            g_warning("state file '%s' is unreadable (%s); rebuilding from libvirt and the kernel",
                      st->path, local->message);
            return g_steal_pointer(&st);
        }
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO,
                    "Cannot read the state file '%s': %s; fix its permissions or move it away",
                    st->path, local->message);
        return NULL;
    }
    version = g_key_file_get_integer(kf, "vspan", "version", NULL);
    if (version > VSPAN_STATE_VERSION) {
        /* a downgrade: the newer file may hold what this vspand would
         * silently drop on its next save (leases among them) */
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO,
                    "The state file '%s' was written by a newer vspan (state version %d; this vspand reads "
                    "up to %d); install that vspan again, or move the file away to rebuild the state from "
                    "libvirt and the kernel",
                    st->path, version, VSPAN_STATE_VERSION);
        return NULL;
    }
    st->generation = g_key_file_get_uint64(kf, "vspan", "generation", NULL);
    groups = g_key_file_get_groups(kf, NULL);
    for (char **g = groups; *g; g++) {
        if (g_str_has_prefix(*g, "lease ")) {
            VspanLease *l = g_new0(VspanLease, 1);
            l->pf = g_key_file_get_string(kf, *g, "pf", NULL);
            l->vf = g_key_file_get_integer(kf, *g, "vf", NULL);
            l->uuid = g_key_file_get_string(kf, *g, "domain", NULL);
            l->name = g_key_file_get_string(kf, *g, "name", NULL);
            l->generation = g_key_file_get_uint64(kf, *g, "generation", NULL);
            if (l->pf && l->uuid)
                g_hash_table_replace(st->leases, vspan_lease_key(l->pf, l->vf), l);
            else
                vspan_lease_free(l);
        } else if (g_str_has_prefix(*g, "domain ")) {
            g_autofree char *xml = g_key_file_get_string(kf, *g, "xml", NULL);
            if (xml)
                g_hash_table_replace(st->domains, g_strdup(*g + 7), g_steal_pointer(&xml));
        } else if (g_str_equal(*g, "clsact")) {
            g_auto(GStrv) taps = g_key_file_get_string_list(kf, *g, "taps", NULL, NULL);
            for (char **t = taps; t && *t; t++)
                g_hash_table_add(st->created_clsact, g_strdup(*t));
        } else if (g_str_equal(*g, "appliance-ports")) {
            g_auto(GStrv) keys = g_key_file_get_keys(kf, *g, NULL, NULL);
            for (char **k = keys; k && *k; k++)
                g_hash_table_replace(st->appliance_ports, g_strdup(*k),
                                     g_key_file_get_string(kf, *g, *k, NULL));
        }
    }
    return g_steal_pointer(&st);
}

/* No fsync (vspan_file_replace()): this runs on every VM start, and the
 * content can be rebuilt. */
static gboolean
vspan_state_write_atomic(const char *path, const char *data, gsize len, GError **error)
{
    int err = vspan_file_replace(path, data, len, 0600);

    if (err)
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO,
                    "Cannot write the state file '%s': %s; the previous state is kept",
                    path, g_strerror(err));
    return err == 0;
}

gboolean
vspan_state_save(VspanState *st, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GPtrArray) taps = g_ptr_array_new();
    g_autofree char *data = NULL;
    GHashTableIter it;
    gpointer k, v;
    gsize len;

    g_key_file_set_integer(kf, "vspan", "version", VSPAN_STATE_VERSION);
    g_key_file_set_uint64(kf, "vspan", "generation", st->generation);
    g_hash_table_iter_init(&it, st->leases);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const VspanLease *l = v;
        g_autofree char *group = g_strdup_printf("lease %s", (char *)k);
        g_key_file_set_string(kf, group, "pf", l->pf);
        g_key_file_set_integer(kf, group, "vf", l->vf);
        g_key_file_set_string(kf, group, "domain", l->uuid);
        g_key_file_set_string(kf, group, "name", l->name ? l->name : "");
        g_key_file_set_uint64(kf, group, "generation", l->generation);
    }
    g_hash_table_iter_init(&it, st->domains);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_autofree char *group = g_strdup_printf("domain %s", (char *)k);
        g_key_file_set_string(kf, group, "xml", v);
    }
    g_hash_table_iter_init(&it, st->created_clsact);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(taps, k);
    g_key_file_set_string_list(kf, "clsact", "taps", (const char *const *)taps->pdata, taps->len);
    g_hash_table_iter_init(&it, st->appliance_ports);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_key_file_set_string(kf, "appliance-ports", k, v);

    data = g_key_file_to_data(kf, &len, NULL);
    return vspan_state_write_atomic(st->path, data, len, error);
}

void
vspan_state_free(VspanState *st)
{
    if (!st)
        return;
    g_free(st->path);
    g_hash_table_unref(st->domains);
    g_hash_table_unref(st->created_clsact);
    g_hash_table_unref(st->appliance_ports);
    g_hash_table_unref(st->leases);
    g_free(st);
}
