/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <string.h>
#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Quiet GLib's log (a refusal is not news) but keep criticals fatal. */
static inline void
vspan_fuzz_init(void)
{
    static gboolean done;

    if (done)
        return;
    done = TRUE;
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
    g_setenv("G_MESSAGES_DEBUG", "", TRUE);
}

/* A message vspan prints is one valid UTF-8 line. */
static inline void
vspan_fuzz_check_message(const char *msg)
{
    g_assert_nonnull(msg);
    g_assert_true(*msg != '\0');
    g_assert_true(g_utf8_validate(msg, -1, NULL));
    g_assert_null(strchr(msg, '\n'));
}
