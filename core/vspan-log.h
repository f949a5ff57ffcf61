/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Where vspand's log goes.  "auto" is the journal when stderr is already
 * connected to it (systemd sets $JOURNAL_STREAM), stderr otherwise. */
typedef enum {
    VSPAN_LOG_AUTO,
    VSPAN_LOG_JOURNAL,
    VSPAN_LOG_STDERR,
} VspanLogTarget;

gboolean vspan_log_target_parse(const char *s, VspanLogTarget *out);

/* Install vspan's GLib log writer for the whole process.  @ident names the
 * program in both sinks (SYSLOG_IDENTIFIER, "ident: " on stderr).  Debug
 * messages are written only when @debug. */
void vspan_log_setup(const char *ident, VspanLogTarget target, gboolean debug);

/* What an event is about; every non-NULL field becomes a journal field
 * (VSPAN_DOMAIN, VSPAN_MAC, VSPAN_TAP, VSPAN_APPLIANCE, VSPAN_OP). */
typedef struct {
    const char *domain;
    const char *mac;
    const char *tap;
    const char *appliance;
    const char *op;
} VspanLogFields;

void vspan_log_event(GLogLevelFlags level, const VspanLogFields *f, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
