/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#define VSPAN_HOOK_FALLBACK_MODULE "vspan-hook-fallback.so"
#define VSPAN_HOOK_FALLBACK_SYMBOL "vspan_hook_fallback"

/* Exit status for the hook when vspand is unavailable (@why says how). */
int vspan_hook_fallback(int phase, const char *xml, gsize len, const char *why);
typedef int (*VspanHookFallbackFunc)(int phase, const char *xml, gsize len, const char *why);
