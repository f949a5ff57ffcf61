/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "vspan-error.h"
#include "vspan-limits.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)


#define VSPAN_DOMAIN_NS "urn:vspan:domain:1"

/* A copy of untrusted text fit for a one-line message: valid UTF-8, control
 * characters replaced, at most 64 characters (an ellipsis marks a cut). */
char *vspan_str_clean(const char *str);

/* Parse a buffer: no network, no entity expansion, no DTD loading.  @name is
 * used in messages ("vspan.xml", "domain XML"). */
xmlDoc *vspan_xml_parse(const char *buf, gsize len, const char *name, GError **error);

/* Read a whole file, refusing files larger than VSPAN_XML_MAX_BYTES. */
/* Write @data to a temporary file beside @path and rename it over @path:
 * a crash or a full disk leaves the old file or the new one, never half of
 * one.  No fsync.  Returns 0 or an errno. */
int vspan_file_replace(const char *path, const char *data, gsize len, int mode);
gboolean vspan_file_read(const char *path, char **contents, gsize *len, GError **error);

/* Validate @root (copied into its own document when it is not the document
 * root) against the embedded schema @schema ("vspan-domain.rng" or
 * "vspan-config.rng").  The schema is parsed once per process. */
gboolean vspan_xml_validate(xmlNode *root, const char *schema, const char *name, GError **error);

/* "<vf mac="...">": an element with its identifying attribute, for messages. */
char *vspan_xml_describe(const xmlNode *node);

/* Prefix for messages about @node: "NAME:LINE: <elem attr="...">". */
char *vspan_xml_where(const char *name, const xmlNode *node);

/* Fail on any attribute of @node not in the NULL-terminated @allowed. */
gboolean vspan_xml_check_attrs(const xmlNode *node, const char *const *allowed,
                               const char *where, GError **error);

/* Fail on any element child of @node in the namespace of @node whose name is
 * not in @allowed (foreign namespaces are left to their owners). */
gboolean vspan_xml_check_children(const xmlNode *node, const char *const *allowed,
                                  const char *where, GError **error);

char *vspan_xml_prop(const xmlNode *node, const char *name);
char *vspan_xml_child_prop(const xmlNode *node, const char *child, const char *name);
const xmlNode *vspan_xml_child(const xmlNode *node, const char *name);

gboolean vspan_xml_prop_required(const xmlNode *node, const char *name, char **out,
                                 const char *where, GError **error);
/* Returns TRUE when absent (leaving *out alone and *present FALSE). */
gboolean vspan_xml_prop_uint(const xmlNode *node, const char *name, guint min, guint max,
                             guint *out, gboolean *present, const char *where, GError **error);
gboolean vspan_xml_prop_enum(const xmlNode *node, const char *name,
                             int (*from_string)(const char *), const char *const *values,
                             int *out, gboolean *present, const char *where, GError **error);

/* Parse "52:54:00:AB:cd:01" into canonical lower-case form (18 bytes). */
gboolean vspan_mac_parse(const char *str, char out[18]);

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
