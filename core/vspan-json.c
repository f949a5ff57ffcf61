/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vspan-json.h"

void
vspan_json_init(VspanJson *j)
{
    *j = (VspanJson){ .out = g_string_new(NULL) };
    j->first[0] = TRUE;
}

char *
vspan_json_finish(VspanJson *j)
{
    g_assert(j->depth == 0);
    g_string_append_c(j->out, '\n');
    return g_string_free(g_steal_pointer(&j->out), FALSE);
}

void
vspan_json_escape(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const char *p = s; *p; p++) {
        guchar c = *p;
        switch (c) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\t': g_string_append(out, "\\t"); break;
        case '\r': g_string_append(out, "\\r"); break;
        default:
            if (c < 0x20)
                g_string_append_printf(out, "\\u%04x", c);
            else
                g_string_append_c(out, c);
        }
    }
    g_string_append_c(out, '"');
}

static void
vspan_json_key(VspanJson *j, const char *key)
{
    if (!j->first[j->depth])
        g_string_append_c(j->out, ',');
    j->first[j->depth] = FALSE;
    if (key) {
        vspan_json_escape(j->out, key);
        g_string_append_c(j->out, ':');
    }
}

void
vspan_json_begin_object(VspanJson *j, const char *key)
{
    vspan_json_key(j, key);
    g_string_append_c(j->out, '{');
    g_assert(j->depth + 1 < G_N_ELEMENTS(j->first));
    j->first[++j->depth] = TRUE;
}

void
vspan_json_end_object(VspanJson *j)
{
    g_string_append_c(j->out, '}');
    j->depth--;
}

void
vspan_json_begin_array(VspanJson *j, const char *key)
{
    vspan_json_key(j, key);
    g_string_append_c(j->out, '[');
    g_assert(j->depth + 1 < G_N_ELEMENTS(j->first));
    j->first[++j->depth] = TRUE;
}

void
vspan_json_end_array(VspanJson *j)
{
    g_string_append_c(j->out, ']');
    j->depth--;
}

void
vspan_json_string(VspanJson *j, const char *key, const char *value)
{
    vspan_json_key(j, key);
    if (value)
        vspan_json_escape(j->out, value);
    else
        g_string_append(j->out, "null");
}

void
vspan_json_uint(VspanJson *j, const char *key, guint64 value)
{
    vspan_json_key(j, key);
    g_string_append_printf(j->out, "%" G_GUINT64_FORMAT, value);
}

void
vspan_json_int(VspanJson *j, const char *key, gint64 value)
{
    vspan_json_key(j, key);
    g_string_append_printf(j->out, "%" G_GINT64_FORMAT, value);
}

void
vspan_json_bool(VspanJson *j, const char *key, gboolean value)
{
    vspan_json_key(j, key);
    g_string_append(j->out, value ? "true" : "false");
}

void
vspan_json_null(VspanJson *j, const char *key)
{
    vspan_json_key(j, key);
    g_string_append(j->out, "null");
}
