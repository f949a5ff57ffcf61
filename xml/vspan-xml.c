/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-xml"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>

#include "vspan-xml.h"

extern GResource *vspan_schemas_get_resource(void);

/* libxml2 reports errors through a global callback; collect the first one
 * into a string while a parse or validation runs (single-threaded callers). */
typedef struct {
    char *first;
    int line;
} VspanXmlErrors;

static void
vspan_xml_structured_error(void *data, xmlError *err)
{
    VspanXmlErrors *errs = data;
    g_autofree char *msg = NULL;

    if (errs->first || !err || !err->message)
        return;
    /* libxml2 messages may span lines ("...indicate encoding !\nBytes: ..."):
     * a message here is one line. */
    msg = vspan_str_clean_max(err->message, 300);
    errs->first = g_strdup(g_strstrip(msg));
    errs->line = err->line;
}

/* A document type declaration: libvirt never writes one, and its entity
 * declarations are the way to make a small file expand without bound
 * ("billion laughs").  The parse stops at the DOCTYPE, before any entity
 * is declared or used. */
static void
vspan_xml_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;

    *(gboolean *)ctxt->_private = TRUE;
    xmlStopParser(ctxt);
}

static void
vspan_xml_generic_error(void *data, const char *msg, ...)
{
    /* RelaxNG schema-compile chatter: errors surface through the structured
     * handler or the return value. */
}

xmlDoc *
vspan_xml_parse(const char *buf, gsize len, const char *name, GError **error)
{
    VspanXmlErrors errs = { 0 };
    xmlParserCtxtPtr ctxt;
    xmlDoc *doc;
    gboolean dtd = FALSE;

    if (len > VSPAN_XML_MAX_BYTES) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s is %" G_GSIZE_FORMAT " bytes, more than the %u-byte limit; pass a libvirt domain XML or a vspan config",
                    name, len, VSPAN_XML_MAX_BYTES);
        return NULL;
    }
    if (len == 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s is empty; it must hold an XML document", name);
        return NULL;
    }

    ctxt = xmlNewParserCtxt();
    if (!ctxt)
        g_error("out of memory");
    ctxt->_private = &dtd;
    ctxt->sax->internalSubset = vspan_xml_internal_subset;
    xmlSetStructuredErrorFunc(&errs, vspan_xml_structured_error);
    xmlSetGenericErrorFunc(NULL, vspan_xml_generic_error);
    doc = xmlCtxtReadMemory(ctxt, buf, (int)len, name, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOERROR |
                            XML_PARSE_NOCDATA);
    xmlSetStructuredErrorFunc(NULL, NULL);
    xmlSetGenericErrorFunc(NULL, NULL);
    if (dtd) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: a <!DOCTYPE> (DTD, entity declarations) is not accepted; libvirt never writes one: remove it",
                    name);
        g_clear_pointer(&doc, xmlFreeDoc);
    } else if (!doc || !ctxt->wellFormed) {
        if (errs.first)
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s:%d: malformed XML: %s; fix the document and retry",
                        name, errs.line, errs.first);
        else
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: malformed XML; fix the document and retry", name);
        g_clear_pointer(&doc, xmlFreeDoc);
    } else if (!xmlDocGetRootElement(doc)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s holds no root element; it must hold an XML document", name);
        g_clear_pointer(&doc, xmlFreeDoc);
    }
    g_free(errs.first);
    xmlFreeParserCtxt(ctxt);
    return doc;
}

static xmlRelaxNGPtr
vspan_schema_load(const char *schema)
{
    /* Parsed once per process: vspand validates on every hook call. */
    static GHashTable *cache;
    g_autofree char *path = g_strconcat("/org/vspan/schemas/", schema, NULL);
    g_autoptr(GBytes) bytes = NULL;
    xmlRelaxNGParserCtxtPtr pctxt;
    xmlRelaxNGPtr rng;
    gsize len;
    const char *data;

    if (!cache)
        cache = g_hash_table_new(g_str_hash, g_str_equal);
    rng = g_hash_table_lookup(cache, schema);
    if (rng)
        return rng;

    bytes = g_resource_lookup_data(vspan_schemas_get_resource(), path,
                                   G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
    if (!bytes)
        g_error("schema %s is not compiled in", schema);
    data = g_bytes_get_data(bytes, &len);
    pctxt = xmlRelaxNGNewMemParserCtxt(data, (int)len);
    xmlSetGenericErrorFunc(NULL, vspan_xml_generic_error);
    rng = xmlRelaxNGParse(pctxt);
    xmlSetGenericErrorFunc(NULL, NULL);
    xmlRelaxNGFreeParserCtxt(pctxt);
    if (!rng)
        g_error("embedded schema %s does not compile", schema);
    g_hash_table_insert(cache, (gpointer)g_intern_string(schema), rng);
    return rng;
}

gboolean
vspan_xml_validate(xmlNode *root, const char *schema, const char *name, GError **error)
{
    VspanXmlErrors errs = { 0 };
    g_autoptr(xmlDoc) copy = NULL;
    xmlRelaxNGValidCtxtPtr vctxt;
    xmlDoc *doc = root->doc;
    int rc;

    if (xmlDocGetRootElement(doc) != root) {
        /* Validate only vspan's own subtree of a libvirt document. */
        copy = xmlNewDoc(BAD_CAST "1.0");
        xmlDocSetRootElement(copy, xmlDocCopyNode(root, copy, 1));
        doc = copy;
    }

    vctxt = xmlRelaxNGNewValidCtxt(vspan_schema_load(schema));
    xmlRelaxNGSetValidStructuredErrors(vctxt, vspan_xml_structured_error, &errs);
    rc = xmlRelaxNGValidateDoc(vctxt, doc);
    xmlRelaxNGFreeValidCtxt(vctxt);
    if (rc != 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s:%ld: does not match %s: %s; see vspan.xml(5)",
                    name, errs.line > 0 ? (long)errs.line : xmlGetLineNo(root), schema,
                    errs.first ? errs.first : "invalid document");
    }
    g_free(errs.first);
    return rc == 0;
}

static const char *const vspan_identifying_attrs[] = {
    "name", "bridge", "appliance", "mac", "alias", "dev", "remote", NULL,
};

char *
vspan_xml_describe(const xmlNode *node)
{
    g_autoptr(GString) s = g_string_new("<");

    if (node->ns && node->ns->prefix)
        g_string_append_printf(s, "%s:", (const char *)node->ns->prefix);
    g_string_append(s, (const char *)node->name);
    for (const char *const *a = vspan_identifying_attrs; *a; a++) {
        g_autofree char *v = vspan_xml_prop(node, *a);
        if (v) {
            g_autofree char *clean = vspan_str_clean(v);
            g_string_append_printf(s, " %s=\"%s\"", *a, clean);
            break;
        }
    }
    g_string_append_c(s, '>');
    return g_string_free(g_steal_pointer(&s), FALSE);
}

char *
vspan_xml_where(const char *name, const xmlNode *node)
{
    g_autofree char *desc = vspan_xml_describe(node);

    return g_strdup_printf("%s:%ld: %s", name, xmlGetLineNo(node), desc);
}

gboolean
vspan_xml_check_attrs(const xmlNode *node, const char *const *allowed,
                      const char *where, GError **error)
{
    for (const xmlAttr *a = node->properties; a; a = a->next) {
        if (a->ns && !(node->ns && g_str_equal(a->ns->href, node->ns->href)))
            continue;   /* foreign-namespace attributes belong to others */
        if (!g_strv_contains(allowed, (const char *)a->name)) {
            g_autofree char *clean = vspan_str_clean((const char *)a->name);
            g_autofree char *list = g_strjoinv(", ", (char **)allowed);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: unknown attribute '%s'; allowed: %s",
                        where, clean, list);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
vspan_xml_check_children(const xmlNode *node, const char *const *allowed,
                         const char *where, GError **error)
{
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE && !xmlIsBlankNode((xmlNode *)c)) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: unexpected text inside the element; remove it", where);
            return FALSE;
        }
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (c->ns != node->ns &&
            !(c->ns && node->ns && g_str_equal(c->ns->href, node->ns->href)))
            continue;
        if (!g_strv_contains(allowed, (const char *)c->name)) {
            g_autofree char *clean = vspan_str_clean((const char *)c->name);
            g_autofree char *list = g_strjoinv(", ", (char **)allowed);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: unknown element <%s> at line %ld; allowed: %s",
                        where, clean, xmlGetLineNo(c), list);
            return FALSE;
        }
    }
    return TRUE;
}

char *
vspan_xml_prop(const xmlNode *node, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(node, BAD_CAST name);
    char *ret;

    if (!v)
        return NULL;
    ret = g_strdup((const char *)v);
    xmlFree(v);
    return ret;
}

const xmlNode *
vspan_xml_child(const xmlNode *node, const char *name)
{
    for (const xmlNode *c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && g_str_equal(c->name, name))
            return c;
    return NULL;
}

char *
vspan_xml_child_prop(const xmlNode *node, const char *child, const char *name)
{
    const xmlNode *c = vspan_xml_child(node, child);

    return c ? vspan_xml_prop(c, name) : NULL;
}

gboolean
vspan_xml_prop_required(const xmlNode *node, const char *name, char **out,
                        const char *where, GError **error)
{
    char *v = vspan_xml_prop(node, name);

    if (!v || !*v) {
        g_free(v);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: missing required attribute '%s'; add it", where, name);
        return FALSE;
    }
    if (!g_utf8_validate(v, -1, NULL)) {
        g_free(v);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: attribute '%s' is not valid UTF-8; fix its value", where, name);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

gboolean
vspan_xml_prop_uint(const xmlNode *node, const char *name, guint min, guint max,
                    guint *out, gboolean *present, const char *where, GError **error)
{
    g_autofree char *v = vspan_xml_prop(node, name);
    guint64 n;

    if (present)
        *present = FALSE;
    if (!v)
        return TRUE;
    if (!g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT, &n, NULL)) {
        g_autofree char *clean = vspan_str_clean(v);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: %s '%s' is not a number; use a decimal integer from %u to %u",
                    where, name, clean, min, max);
        return FALSE;
    }
    if (n < min || n > max) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: %s %" G_GUINT64_FORMAT " is out of range; use %u-%u",
                    where, name, n, min, max);
        return FALSE;
    }
    *out = (guint)n;
    if (present)
        *present = TRUE;
    return TRUE;
}

gboolean
vspan_xml_prop_enum(const xmlNode *node, const char *name,
                    int (*from_string)(const char *), const char *const *values,
                    int *out, gboolean *present, const char *where, GError **error)
{
    g_autofree char *v = vspan_xml_prop(node, name);
    int e;

    if (present)
        *present = FALSE;
    if (!v)
        return TRUE;
    e = from_string(v);
    if (e < 0) {
        g_autofree char *clean = vspan_str_clean(v);
        g_autofree char *list = g_strjoinv(", ", (char **)values);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: %s '%s' is not valid; use one of: %s", where, name, clean, list);
        return FALSE;
    }
    *out = e;
    if (present)
        *present = TRUE;
    return TRUE;
}

/* ---- selections --------------------------------------------------------- */

void
vspan_select_clear(VspanSelect *sel)
{
    g_clear_pointer(&sel->filter, g_free);
    g_clear_pointer(&sel->program, g_free);
    sel->sample = 0;
}

gboolean
vspan_xml_parse_select(const xmlNode *node, VspanSelect *sel, const char *where, GError **error)
{
    g_autofree char *filter = vspan_xml_prop(node, "filter");

    if (filter) {
        g_autofree char *stripped = g_strstrip(g_strdup(filter));
        if (!*stripped) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: filter is empty; write a tcpdump expression or leave filter out to copy every frame",
                        where);
            return FALSE;
        }
        if (g_utf8_strlen(filter, -1) > VSPAN_FILTER_MAX_LEN) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: filter is %ld characters long, more than %d; shorten it (e.g. use net instead of many hosts)",
                        where, g_utf8_strlen(filter, -1), VSPAN_FILTER_MAX_LEN);
            return FALSE;
        }
        if (!g_utf8_validate(filter, -1, NULL) || strpbrk(filter, "\n\r\t")) {
            g_autofree char *clean = vspan_str_clean(filter);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: filter '%s' holds control characters; write it on one line", where, clean);
            return FALSE;
        }
    }
    if (!vspan_xml_prop_uint(node, "sample", 1, VSPAN_SAMPLE_MAX, &sel->sample, NULL, where, error))
        return FALSE;
    sel->program = vspan_xml_prop(node, "program");
    if (sel->program && (filter || sel->sample)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: program selects on its own; give program, or filter and sample, not both", where);
        g_clear_pointer(&sel->program, g_free);
        return FALSE;
    }
    if (sel->program && !*sel->program) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: program is empty; name a <program> of the host config", where);
        g_clear_pointer(&sel->program, g_free);
        return FALSE;
    }
    sel->filter = g_steal_pointer(&filter);
    return TRUE;
}

gboolean
vspan_select_is_all(const VspanSelect *sel)
{
    return !sel->filter && !sel->program && sel->sample <= 1;
}

gboolean
vspan_select_equal(const VspanSelect *a, const VspanSelect *b)
{
    return g_strcmp0(a->filter, b->filter) == 0 && g_strcmp0(a->program, b->program) == 0 &&
           MAX(a->sample, 1u) == MAX(b->sample, 1u);
}

char *
vspan_select_describe(const VspanSelect *sel)
{
    g_autoptr(GString) s = g_string_new(NULL);

    if (sel->program)
        g_string_append_printf(s, "program '%s'", sel->program);
    if (sel->filter)
        g_string_append_printf(s, "filter '%s'", sel->filter);
    if (sel->sample > 1)
        g_string_append_printf(s, "%s1 in %u", s->len ? ", " : "", sel->sample);
    if (s->len == 0)
        g_string_append(s, "every frame");
    return g_string_free(g_steal_pointer(&s), FALSE);
}

