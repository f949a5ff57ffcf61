/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vspan's log writer: the systemd journal with structured fields when the
 * journal is there, one plain line per message on stderr otherwise.
 *
 * GLib speaks the journal's native protocol itself (a datagram to
 * /run/systemd/journal/socket), so no libsystemd is needed.
 */
#define G_LOG_DOMAIN "vspand"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vspan-log.h"

static struct {
    const char *ident;
    gboolean journal;
    gboolean debug;
} vspan_log = { "vspan", FALSE, FALSE };

gboolean
vspan_log_target_parse(const char *s, VspanLogTarget *out)
{
    static const char *const names[] = { "auto", "journal", "stderr" };

    for (guint i = 0; i < G_N_ELEMENTS(names); i++)
        if (g_strcmp0(s, names[i]) == 0) {
            *out = (VspanLogTarget)i;
            return TRUE;
        }
    return FALSE;
}

/* syslog priority and stderr prefix of a GLib level */
static void
vspan_log_level(GLogLevelFlags level, const char **priority, const char **prefix)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        *priority = "3", *prefix = "error: ";
    else if (level & G_LOG_LEVEL_WARNING)
        *priority = "4", *prefix = "warning: ";
    else if (level & G_LOG_LEVEL_DEBUG)
        *priority = "7", *prefix = "debug: ";
    else
        *priority = "6", *prefix = "";
}

static GLogWriterOutput
vspan_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
    const char *message = NULL, *priority, *prefix;
    GLogField *all;

    (void)data;
    if ((level & G_LOG_LEVEL_DEBUG) && !vspan_log.debug)
        return G_LOG_WRITER_HANDLED;

    if (vspan_log.journal) {
        /* the caller's fields plus the program's name */
        all = g_newa(GLogField, n + 1);
        memcpy(all, fields, n * sizeof(*fields));
        all[n] = (GLogField){ "SYSLOG_IDENTIFIER", vspan_log.ident, -1 };
        if (g_log_writer_journald(level, all, n + 1, NULL) == G_LOG_WRITER_HANDLED)
            return G_LOG_WRITER_HANDLED;
        /* the journal went away: fall through to stderr */
    }
    for (gsize i = 0; i < n; i++)
        if (g_str_equal(fields[i].key, "MESSAGE"))
            message = fields[i].value;
    vspan_log_level(level, &priority, &prefix);
    fprintf(stderr, "%s: %s%s\n", vspan_log.ident, prefix, message ? message : "");
    return G_LOG_WRITER_HANDLED;
}

void
vspan_log_setup(const char *ident, VspanLogTarget target, gboolean debug)
{
    vspan_log.ident = ident;
    vspan_log.debug = debug;
    vspan_log.journal = target == VSPAN_LOG_JOURNAL ||
                        (target == VSPAN_LOG_AUTO && g_log_writer_is_journald(fileno(stderr)));
    g_log_set_writer_func(vspan_log_writer, NULL, NULL);
}

void
vspan_log_event(GLogLevelFlags level, const VspanLogFields *f, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    const char *priority, *prefix;
    GLogField fields[8];
    gsize n = 0;
    va_list ap;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    fields[n++] = (GLogField){ "MESSAGE", message, -1 };
    vspan_log_level(level, &priority, &prefix);
    fields[n++] = (GLogField){ "PRIORITY", priority, -1 };
    fields[n++] = (GLogField){ "GLIB_DOMAIN", G_LOG_DOMAIN, -1 };
#define FIELD(key, member) \
    if (f && f->member) \
        fields[n++] = (GLogField){ key, f->member, -1 }
    FIELD("VSPAN_DOMAIN", domain);
    FIELD("VSPAN_MAC", mac);
    FIELD("VSPAN_TAP", tap);
    FIELD("VSPAN_APPLIANCE", appliance);
    FIELD("VSPAN_OP", op);
#undef FIELD
    g_log_structured_array(level, fields, n);
}
