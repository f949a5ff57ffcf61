/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-observed"

#include "vspan-observed.h"

static void
vspan_observed_mirror_free(VspanObservedMirror *m)
{
    if (!m)
        return;
    g_free(m->dev);
    g_strfreev(m->sinks);
    g_free(m);
}

static void
vspan_observed_select_free(VspanObservedSelect *o)
{
    if (!o)
        return;
    g_free(o->dev);
    g_free(o->sink);
    g_free(o->program);
    g_free(o->ebpf);
    g_free(o);
}

static void
vspan_observed_vf_free(VspanObservedVf *v)
{
    if (!v)
        return;
    g_free(v->pf);
    g_free(v);
}

static void
vspan_observed_lease_free(VspanObservedLease *l)
{
    if (!l)
        return;
    g_free(l->pf);
    g_free(l->domain_uuid);
    g_free(l);
}

VspanObserved *
vspan_observed_new(void)
{
    VspanObserved *obs = g_new0(VspanObserved, 1);

    obs->classifier = VSPAN_CLASSIFIER_AUTO;
    obs->mirrors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)vspan_observed_mirror_free);
    obs->selects = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_observed_select_free);
    obs->tags = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    obs->program_errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    obs->vfs = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_observed_vf_free);
    obs->appliance_ports = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    obs->inline_ports = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    obs->pool_free = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    obs->leases = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_observed_lease_free);
    return obs;
}

void
vspan_observed_free(VspanObserved *obs)
{
    if (!obs)
        return;
    g_hash_table_unref(obs->mirrors);
    g_ptr_array_unref(obs->selects);
    g_hash_table_unref(obs->program_errors);
    g_hash_table_unref(obs->tags);
    g_ptr_array_unref(obs->vfs);
    g_hash_table_unref(obs->appliance_ports);
    g_hash_table_unref(obs->inline_ports);
    g_hash_table_unref(obs->pool_free);
    g_ptr_array_unref(obs->leases);
    g_free(obs);
}

/* the key of the per-hook tables: "dev/hook" */
static char *
vspan_observed_key(const char *dev, VspanHook hook)
{
    return g_strdup_printf("%s/%s", dev, vspan_hook_to_string(hook));
}

void
vspan_observed_add_mirror(VspanObserved *obs, const char *dev, VspanHook hook,
                          const char *const *sinks)
{
    VspanObservedMirror *m = g_new0(VspanObservedMirror, 1);

    m->dev = g_strdup(dev);
    m->hook = hook;
    m->sinks = g_strdupv((char **)sinks);
    g_hash_table_replace(obs->mirrors,
                         vspan_observed_key(dev, hook), m);
}

const VspanObservedMirror *
vspan_observed_find_mirror(const VspanObserved *obs, const char *dev, VspanHook hook)
{
    g_autofree char *key = vspan_observed_key(dev, hook);

    return g_hash_table_lookup(obs->mirrors, key);
}

void
vspan_observed_add_select(VspanObserved *obs, const char *dev, VspanHook hook, guint handle,
                          const char *sink, const char *program_hex, const char *ebpf)
{
    VspanObservedSelect *o = g_new0(VspanObservedSelect, 1);

    o->dev = g_strdup(dev);
    o->hook = hook;
    o->handle = handle;
    o->sink = g_strdup(sink ? sink : "");
    o->program = g_strdup(program_hex);
    o->ebpf = g_strdup(ebpf);
    g_ptr_array_add(obs->selects, o);
}

GPtrArray *
vspan_observed_find_selects(const VspanObserved *obs, const char *dev)
{
    GPtrArray *out = g_ptr_array_new();

    for (guint i = 0; i < obs->selects->len; i++) {
        VspanObservedSelect *o = obs->selects->pdata[i];
        if (g_str_equal(o->dev, dev))
            g_ptr_array_add(out, o);
    }
    return out;
}

void
vspan_observed_set_tag(VspanObserved *obs, const char *dev, VspanHook hook, guint vlan)
{
    g_hash_table_replace(obs->tags, vspan_observed_key(dev, hook),
                         GUINT_TO_POINTER(vlan));
}

guint
vspan_observed_get_tag(const VspanObserved *obs, const char *dev, VspanHook hook)
{
    g_autofree char *key = vspan_observed_key(dev, hook);

    return GPOINTER_TO_UINT(g_hash_table_lookup(obs->tags, key));
}

void
vspan_observed_add_vf(VspanObserved *obs, const VspanPciAddr *pci, const char *pf, guint vf)
{
    VspanObservedVf *v = g_new0(VspanObservedVf, 1);

    v->pci = *pci;
    v->pf = g_strdup(pf);
    v->vf = vf;
    g_ptr_array_add(obs->vfs, v);
    obs->vf_map_known = TRUE;
}

const VspanObservedVf *
vspan_observed_find_vf(const VspanObserved *obs, const VspanPciAddr *pci)
{
    for (guint i = 0; i < obs->vfs->len; i++) {
        const VspanObservedVf *v = obs->vfs->pdata[i];
        if (vspan_pci_addr_equal(&v->pci, pci))
            return v;
    }
    return NULL;
}

void
vspan_observed_set_pool_free(VspanObserved *obs, const char *pool, guint free_vfs)
{
    g_hash_table_replace(obs->pool_free, g_strdup(pool), GUINT_TO_POINTER(free_vfs + 1));
}

gboolean
vspan_observed_get_pool_free(const VspanObserved *obs, const char *pool, guint *free_vfs)
{
    gpointer v = g_hash_table_lookup(obs->pool_free, pool);

    if (!v)
        return FALSE;
    *free_vfs = GPOINTER_TO_UINT(v) - 1;
    return TRUE;
}

void
vspan_observed_add_lease(VspanObserved *obs, const char *pf, guint vf, const char *uuid)
{
    VspanObservedLease *l = g_new0(VspanObservedLease, 1);

    l->pf = g_strdup(pf);
    l->vf = vf;
    l->domain_uuid = g_strdup(uuid);
    g_ptr_array_add(obs->leases, l);
}

static const char *const classifier_values[] = { "auto", "matchall", "u32", NULL };
static const char *const hook_values[] = { "ingress", "egress", NULL };

VspanObserved *
vspan_observed_parse(const char *buf, gsize len, const char *name, GError **error)
{
    g_autoptr(VspanObserved) obs = vspan_observed_new();
    g_autoptr(xmlDoc) doc = vspan_xml_parse(buf, len, name, error);
    xmlNode *root;
    int classifier = VSPAN_CLASSIFIER_AUTO;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!g_str_equal(root->name, "observed")) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: root element is not <observed>; see vspanctl(1)", name);
        return NULL;
    }
    if (!vspan_xml_prop_enum(root, "classifier", vspan_classifier_from_string, classifier_values,
                             &classifier, NULL, name, error))
        return NULL;
    obs->classifier = classifier;
    {
        g_autofree char *vfmap = vspan_xml_prop(root, "vf-map");
        obs->vf_map_known = vfmap && g_str_equal(vfmap, "known");
    }

    for (xmlNode *c = root->children; c; c = c->next) {
        g_autofree char *where = NULL;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        where = vspan_xml_where(name, c);
        if (g_str_equal(c->name, "mirror")) {
            g_autofree char *dev = NULL, *sinks = NULL;
            g_auto(GStrv) list = NULL;
            int hook = 0;
            gboolean present;

            if (!vspan_xml_prop_required(c, "dev", &dev, where, error) ||
                !vspan_xml_prop_enum(c, "hook", vspan_hook_from_string, hook_values, &hook,
                                     &present, where, error))
                return NULL;
            sinks = vspan_xml_prop(c, "sinks");
            list = sinks && *sinks ? g_strsplit(sinks, ",", -1) : g_new0(char *, 1);
            vspan_observed_add_mirror(obs, dev, hook, (const char *const *)list);
        } else if (g_str_equal(c->name, "select")) {
            g_autofree char *dev = NULL, *sink = NULL, *program = NULL, *ebpf = NULL;
            int hook = 0;
            guint handle = 0;

            if (!vspan_xml_prop_required(c, "dev", &dev, where, error) ||
                !vspan_xml_prop_enum(c, "hook", vspan_hook_from_string, hook_values, &hook,
                                     NULL, where, error) ||
                !vspan_xml_prop_uint(c, "handle", 1, G_MAXUINT32, &handle, NULL, where, error) ||
                !vspan_xml_prop_required(c, "sink", &sink, where, error))
                return NULL;
            program = vspan_xml_prop(c, "program");
            ebpf = vspan_xml_prop(c, "ebpf");
            vspan_observed_add_select(obs, dev, hook, handle, sink, program, ebpf);
        } else if (g_str_equal(c->name, "tag")) {
            g_autofree char *dev = NULL;
            int hook = 0;
            guint vlan = 0;

            if (!vspan_xml_prop_required(c, "dev", &dev, where, error) ||
                !vspan_xml_prop_enum(c, "hook", vspan_hook_from_string, hook_values, &hook,
                                     NULL, where, error) ||
                !vspan_xml_prop_uint(c, "vlan", 1, 4094, &vlan, NULL, where, error))
                return NULL;
            vspan_observed_set_tag(obs, dev, hook, vlan);
        } else if (g_str_equal(c->name, "program-error")) {
            g_autofree char *pname = NULL, *perr = NULL;

            if (!vspan_xml_prop_required(c, "name", &pname, where, error) ||
                !vspan_xml_prop_required(c, "error", &perr, where, error))
                return NULL;
            g_hash_table_replace(obs->program_errors, g_steal_pointer(&pname), g_steal_pointer(&perr));
        } else if (g_str_equal(c->name, "vf")) {
            g_autofree char *pci = NULL, *pf = NULL;
            VspanPciAddr addr;
            guint vf = 0;

            if (!vspan_xml_prop_required(c, "pci", &pci, where, error) ||
                !vspan_xml_prop_required(c, "pf", &pf, where, error) ||
                !vspan_xml_prop_uint(c, "vf", 0, 65535, &vf, NULL, where, error))
                return NULL;
            if (!vspan_pci_addr_parse(pci, &addr)) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: pci '%s' is not a PCI address like 0000:3b:02.1", where, pci);
                return NULL;
            }
            vspan_observed_add_vf(obs, &addr, pf, vf);
        } else if (g_str_equal(c->name, "inline")) {
            g_autofree char *appliance = NULL, *dev = NULL;

            if (!vspan_xml_prop_required(c, "dev", &dev, where, error) ||
                !vspan_xml_prop_required(c, "appliance", &appliance, where, error))
                return NULL;
            g_hash_table_replace(obs->inline_ports, g_steal_pointer(&dev), g_steal_pointer(&appliance));
        } else if (g_str_equal(c->name, "appliance-port")) {
            g_autofree char *appliance = NULL, *dev = NULL;

            if (!vspan_xml_prop_required(c, "appliance", &appliance, where, error) ||
                !vspan_xml_prop_required(c, "dev", &dev, where, error))
                return NULL;
            g_hash_table_replace(obs->appliance_ports, g_steal_pointer(&appliance),
                                 g_steal_pointer(&dev));
        } else if (g_str_equal(c->name, "pool")) {
            g_autofree char *pool = NULL;
            guint free_vfs = 0;

            if (!vspan_xml_prop_required(c, "name", &pool, where, error) ||
                !vspan_xml_prop_uint(c, "free", 0, 65535, &free_vfs, NULL, where, error))
                return NULL;
            vspan_observed_set_pool_free(obs, pool, free_vfs);
        } else if (g_str_equal(c->name, "lease")) {
            g_autofree char *pf = NULL, *uuid = NULL;
            guint vf = 0;

            if (!vspan_xml_prop_required(c, "pf", &pf, where, error) ||
                !vspan_xml_prop_uint(c, "vf", 0, 65535, &vf, NULL, where, error) ||
                !vspan_xml_prop_required(c, "domain", &uuid, where, error))
                return NULL;
            vspan_observed_add_lease(obs, pf, vf, uuid);
        } else {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: unknown element; use mirror, select, tag, program-error, vf, appliance-port, pool or lease", where);
            return NULL;
        }
    }
    return g_steal_pointer(&obs);
}

VspanObserved *
vspan_observed_load(const char *path, GError **error)
{
    g_autofree char *buf = NULL;
    gsize len = 0;

    if (!vspan_file_read(path, &buf, &len, error))
        return NULL;
    return vspan_observed_parse(buf, len, path, error);
}
