/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "vspan-util.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)


#define VSPAN_DOMAIN_NS "urn:vspan:domain:1"

/* Parse a buffer: no network, no entity expansion, no DTD loading.  @name is
 * used in messages ("vspan.xml", "domain XML"). */
xmlDoc *vspan_xml_parse(const char *buf, gsize len, const char *name, GError **error);

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


/* A rule's selection (wave 2): which frames of a NIC are copied. */
#define VSPAN_FILTER_MAX_LEN 1024       /* characters of a filter expression */
#define VSPAN_SAMPLE_MAX G_MAXINT32

typedef struct {
    char *filter;       /* libpcap expression; NULL: every frame */
    guint sample;       /* 0 or 1: every selected frame; N: 1 in N */
    char *program;      /* a <program> of the host config (eBPF), or NULL */
} VspanSelect;

void vspan_select_clear(VspanSelect *sel);
/* filter=, sample= and program= of @node */
gboolean vspan_xml_parse_select(const xmlNode *node, VspanSelect *sel, const char *where,
                                GError **error);
/* Selects every frame: the match-all path (matchall or u32) serves it. */
gboolean vspan_select_is_all(const VspanSelect *sel);
gboolean vspan_select_equal(const VspanSelect *a, const VspanSelect *b);
/* "filter 'tcp port 80', 1 in 20" for messages; "every frame" when all. */
char *vspan_select_describe(const VspanSelect *sel);
