/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* A small streaming JSON writer: keys are NULL inside arrays. */
typedef struct {
    GString *out;
    guint depth;
    gboolean first[64];
} VspanJson;

void vspan_json_init(VspanJson *j);
char *vspan_json_finish(VspanJson *j);
void vspan_json_begin_object(VspanJson *j, const char *key);
void vspan_json_end_object(VspanJson *j);
void vspan_json_begin_array(VspanJson *j, const char *key);
void vspan_json_end_array(VspanJson *j);
void vspan_json_string(VspanJson *j, const char *key, const char *value);   /* NULL -> null */
void vspan_json_uint(VspanJson *j, const char *key, guint64 value);
void vspan_json_int(VspanJson *j, const char *key, gint64 value);
void vspan_json_bool(VspanJson *j, const char *key, gboolean value);
void vspan_json_null(VspanJson *j, const char *key);
/* Append @s to @out as a JSON string literal. */
void vspan_json_escape(GString *out, const char *s);
