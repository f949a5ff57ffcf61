/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-error.h"
#include "vspan-limits.h"

/* A copy of untrusted text fit for a one-line message: valid UTF-8, control
 * characters replaced, at most 64 characters (an ellipsis marks a cut). */
char *vspan_str_clean(const char *str);
/* the same with another length limit */
char *vspan_str_clean_max(const char *str, guint max);

/* A message (printf-style) as vspan prints it: one line, values escaped,
 * at most VSPAN_MESSAGE_MAX characters. */
char *vspan_message_vprintf(const char *fmt, va_list ap) G_GNUC_PRINTF(1, 0);

/* Read a whole file, refusing files larger than VSPAN_XML_MAX_BYTES. */
gboolean vspan_file_read(const char *path, char **contents, gsize *len, GError **error);

/* Write @data to a temporary file beside @path and rename it over @path:
 * a crash or a full disk leaves the old file or the new one, never half of
 * one.  No fsync.  Returns 0 or an errno. */
int vspan_file_replace(const char *path, const char *data, gsize len, int mode);

/* Parse "52:54:00:AB:cd:01" into canonical lower-case form (18 bytes). */
gboolean vspan_mac_parse(const char *str, char out[18]);
/* the same, as six bytes */
gboolean vspan_mac_to_bytes(const char *str, guint8 out[6]);

/* The kernel's dev_valid_name() plus libvirt's reserved tap prefixes when
 * @libvirt_target is set.  On failure *why says what is wrong. */
gboolean vspan_ifname_valid(const char *name, gboolean libvirt_target, const char **why);

/* PCI address "0000:3b:02.1" (domain:bus:slot.function), canonical form. */
typedef struct {
    guint domain;
    guint bus;
    guint slot;
    guint function;
} VspanPciAddr;

gboolean vspan_pci_addr_parse(const char *str, VspanPciAddr *addr);
char *vspan_pci_addr_format(const VspanPciAddr *addr);
gboolean vspan_pci_addr_equal(const VspanPciAddr *a, const VspanPciAddr *b);

/* Integer range sets: "100-199,300,400-410". */
typedef struct {
    guint lo;
    guint hi;
} VspanRange;

typedef GArray VspanRangeSet;   /* of VspanRange, sorted, non-overlapping */

VspanRangeSet *vspan_range_set_parse(const char *str, guint max, GError **error);
gboolean vspan_range_set_contains(const VspanRangeSet *set, guint value);
gboolean vspan_range_set_overlaps(const VspanRangeSet *a, const VspanRangeSet *b, guint *first);
guint vspan_range_set_count(const VspanRangeSet *set);
char *vspan_range_set_format(const VspanRangeSet *set);
void vspan_range_set_free(VspanRangeSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanRangeSet, vspan_range_set_free)
