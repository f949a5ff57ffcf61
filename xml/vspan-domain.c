/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-domain"

#include <stdlib.h>

#include "vspan-domain.h"

static void
vspan_iface_free(VspanIface *iface)
{
    if (!iface)
        return;
    g_free(iface->type_str);
    g_free(iface->alias);
    g_free(iface->target);
    g_free(iface->bridge);
    g_free(iface->network);
    g_free(iface->source_dev);
    if (iface->vlan_tags)
        g_array_unref(iface->vlan_tags);
    g_free(iface);
}

static void
vspan_hostdev_free(VspanHostdev *hd)
{
    if (!hd)
        return;
    g_free(hd->alias);
    g_free(hd);
}

static void
vspan_inline_req_free(VspanInlineReq *r)
{
    g_free(r->appliance);
    g_free(r->alias);
    g_free(r->where);
    g_free(r);
}

static void
vspan_mirror_req_free(VspanMirrorReq *m)
{
    if (!m)
        return;
    g_free(m->appliance);
    g_free(m->alias);
    vspan_select_clear(&m->select);
    g_free(m->where);
    g_free(m);
}

static void
vspan_vf_req_free(VspanVfReq *v)
{
    if (!v)
        return;
    g_free(v->alias);
    g_free(v->where);
    g_free(v);
}

void
vspan_domain_free(VspanDomain *dom)
{
    if (!dom || !g_ref_count_dec(&dom->ref))
        return;
    g_free(dom->name);
    g_free(dom->uuid);
    g_ptr_array_unref(dom->ifaces);
    g_ptr_array_unref(dom->hostdevs);
    g_ptr_array_unref(dom->mirrors);
    g_ptr_array_unref(dom->inlines);
    g_ptr_array_unref(dom->vfs);
    g_clear_pointer(&dom->by_mac, g_hash_table_unref);
    g_clear_pointer(&dom->by_alias, g_hash_table_unref);
    g_free(dom);
}

VspanDomain *
vspan_domain_ref(VspanDomain *dom)
{
    g_ref_count_inc(&dom->ref);
    return dom;
}

static const xmlNode *
vspan_child_element(const xmlNode *node, const char *name)
{
    return node ? vspan_xml_child(node, name) : NULL;
}

/* libvirt writes PCI address parts as "0x3b". */
static gboolean
vspan_pci_addr_from_node(const xmlNode *addr, VspanPciAddr *out)
{
    static const char *const parts[] = { "domain", "bus", "slot", "function" };
    guint v[4];

    for (int i = 0; i < 4; i++) {
        g_autofree char *s = vspan_xml_prop(addr, parts[i]);
        char *end = NULL;
        unsigned long n;

        if (!s)
            return FALSE;
        n = strtoul(s, &end, 0);
        if (!end || *end || end == s || n > 0xffff)
            return FALSE;
        v[i] = (guint)n;
    }
    if (v[2] > 0x1f || v[3] > 7 || v[1] > 0xff)
        return FALSE;
    *out = (VspanPciAddr){ v[0], v[1], v[2], v[3] };
    return TRUE;
}

static gboolean
vspan_domain_parse_iface(VspanDomain *dom, const xmlNode *node, const char *name, GError **error)
{
    VspanIface *iface = g_new0(VspanIface, 1);
    g_autofree char *mac = NULL;
    const xmlNode *source, *vlan, *bw;
    const char *why = NULL;
    int type;

    g_ptr_array_add(dom->ifaces, iface);
    iface->line = xmlGetLineNo(node);
    iface->type_str = vspan_xml_prop(node, "type");
    type = vspan_iface_type_from_string(iface->type_str);
    iface->type = type < 0 ? VSPAN_IFACE_TYPE_OTHER : type;

    mac = vspan_xml_child_prop(node, "mac", "address");
    if (mac && !vspan_mac_parse(mac, iface->mac)) {
        g_autofree char *clean = vspan_str_clean(mac);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s:%ld: <interface>: mac address '%s' is not a MAC address; write it as 52:54:00:12:34:56",
                    name, iface->line, clean);
        return FALSE;
    }
    iface->alias = vspan_xml_child_prop(node, "alias", "name");
    iface->target = vspan_xml_child_prop(node, "target", "dev");
    /* the tap's name reaches netlink and /sys/class/net/NAME paths: only a
     * name the kernel could have given a device is taken */
    if (iface->target && !vspan_ifname_valid(iface->target, FALSE, &why)) {
        g_autofree char *clean = vspan_str_clean(iface->target);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s:%ld: <interface> <target dev='%s'>: %s; pass the domain XML libvirt produced",
                    name, iface->line, clean, why);
        return FALSE;
    }

    bw = vspan_child_element(node, "bandwidth");
    if (vspan_child_element(bw, "inbound"))
        iface->bandwidth |= VSPAN_BANDWIDTH_INBOUND;
    if (vspan_child_element(bw, "outbound"))
        iface->bandwidth |= VSPAN_BANDWIDTH_OUTBOUND;
    source = vspan_child_element(node, "source");
    if (source) {
        iface->bridge = vspan_xml_prop(source, "bridge");
        iface->network = vspan_xml_prop(source, "network");
        iface->source_dev = vspan_xml_prop(source, "dev");
        if (iface->type == VSPAN_IFACE_TYPE_HOSTDEV) {
            const xmlNode *addr = vspan_child_element(source, "address");
            if (addr)
                iface->has_pci = vspan_pci_addr_from_node(addr, &iface->pci);
        }
    }

    vlan = vspan_child_element(node, "vlan");
    if (vlan) {
        g_autofree char *trunk = vspan_xml_prop(vlan, "trunk");
        iface->vlan_trunk = trunk && g_str_equal(trunk, "yes");
        iface->vlan_tags = g_array_new(FALSE, FALSE, sizeof(guint));
        for (const xmlNode *t = vlan->children; t; t = t->next) {
            g_autofree char *id = NULL;
            guint64 n;

            if (t->type != XML_ELEMENT_NODE || !g_str_equal(t->name, "tag"))
                continue;
            id = vspan_xml_prop(t, "id");
            if (!id || !g_ascii_string_to_unsigned(id, 10, 0, 4095, &n, NULL)) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s:%ld: <interface> <vlan><tag>: id must be 0-4095; fix the tag",
                            name, xmlGetLineNo(t));
                return FALSE;
            }
            g_array_append_val(iface->vlan_tags, ((guint){ (guint)n }));
        }
    }
    return TRUE;
}

/* "6f1c1c9e2c1a4c559d1e0a3c1d2e3f41", with or without dashes, in the
 * canonical 8-4-4-4-12 lower-case form; "" for ""; NULL when it is not 32
 * hex digits. */
static char *
vspan_uuid_canonical(const char *raw)
{
    char hex[33];
    guint n = 0;

    for (const char *p = raw; *p; p++) {
        if (*p == '-')
            continue;
        if (!g_ascii_isxdigit(*p) || n == 32)
            return NULL;
        hex[n++] = g_ascii_tolower(*p);
    }
    if (n == 0)
        return g_strdup("");
    if (n != 32)
        return NULL;
    hex[32] = '\0';
    return g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static void
vspan_domain_parse_hostdev(VspanDomain *dom, const xmlNode *node)
{
    g_autofree char *type = vspan_xml_prop(node, "type");
    const xmlNode *addr = vspan_child_element(vspan_child_element(node, "source"), "address");
    VspanHostdev *hd;

    if (!type || !g_str_equal(type, "pci") || !addr)
        return;
    hd = g_new0(VspanHostdev, 1);
    if (!vspan_pci_addr_from_node(addr, &hd->pci)) {
        vspan_hostdev_free(hd);
        return;
    }
    hd->alias = vspan_xml_child_prop(node, "alias", "name");
    hd->line = xmlGetLineNo(node);
    g_ptr_array_add(dom->hostdevs, hd);
}

static char *
vspan_annotation_where(const VspanDomain *dom, const xmlNode *node)
{
    g_autofree char *desc = vspan_xml_describe(node);

    return g_strdup_printf("domain '%s' line %ld: %s", dom->name, xmlGetLineNo(node), desc);
}

/* mac= or alias= (exactly one may be given; @required says whether one must). */
static gboolean
vspan_annotation_target(const xmlNode *node, char mac[18], char **alias, gboolean required,
                        const char *where, GError **error)
{
    g_autofree char *m = vspan_xml_prop(node, "mac");
    g_autofree char *a = vspan_xml_prop(node, "alias");

    if (m && a) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: give mac or alias, not both; keep the one that names the interface", where);
        return FALSE;
    }
    if (required && !m && !a) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: missing mac or alias; name the hostdev interface it applies to", where);
        return FALSE;
    }
    if (m && !vspan_mac_parse(m, mac)) {
        g_autofree char *clean = vspan_str_clean(m);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: mac '%s' is not a MAC address; write it as 52:54:00:12:34:56", where, clean);
        return FALSE;
    }
    if (a && !*a) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: alias is empty; name the interface's <alias name>", where);
        return FALSE;
    }
    *alias = g_steal_pointer(&a);
    return TRUE;
}

static const char *const direction_values[] = { "both", "from-vm", "to-vm", NULL };
static const char *const switch_values[] = { "off", "on", NULL };
static const char *const proto_values[] = { "802.1Q", "802.1ad", NULL };
static const char *const link_values[] = { "auto", "enable", "disable", NULL };

static gboolean
vspan_annotation_parse_inline(VspanDomain *dom, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = { "appliance", "mac", "alias", NULL };
    VspanInlineReq *r = g_new0(VspanInlineReq, 1);

    g_ptr_array_add(dom->inlines, r);
    r->where = vspan_annotation_where(dom, node);
    return vspan_xml_check_attrs(node, attrs, r->where, error) &&
           vspan_xml_check_children(node, (const char *const[]){ NULL }, r->where, error) &&
           vspan_xml_prop_required(node, "appliance", &r->appliance, r->where, error) &&
           vspan_annotation_target(node, r->mac, &r->alias, FALSE, r->where, error);
}

static gboolean
vspan_annotation_parse_mirror(VspanDomain *dom, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = { "appliance", "mac", "alias", "direction", "filter", "sample", "program", NULL };
    VspanMirrorReq *m = g_new0(VspanMirrorReq, 1);
    int direction = VSPAN_DIRECTION_BOTH;

    g_ptr_array_add(dom->mirrors, m);
    m->where = vspan_annotation_where(dom, node);
    if (!vspan_xml_check_attrs(node, attrs, m->where, error) ||
        !vspan_xml_check_children(node, (const char *const[]){ NULL }, m->where, error) ||
        !vspan_xml_prop_required(node, "appliance", &m->appliance, m->where, error) ||
        !vspan_annotation_target(node, m->mac, &m->alias, FALSE, m->where, error) ||
        !vspan_xml_prop_enum(node, "direction", vspan_direction_from_string, direction_values,
                             &direction, NULL, m->where, error) ||
        !vspan_xml_parse_select(node, &m->select, m->where, error))
        return FALSE;
    m->direction = direction;
    return TRUE;
}

void
vspan_vf_settings_init_default(VspanVfSettings *s)
{
    *s = (VspanVfSettings){
        .proto = VSPAN_VLAN_PROTO_8021Q,
        .trust = VSPAN_SWITCH_OFF,
        .spoofchk = VSPAN_SWITCH_ON,
        .link_state = VSPAN_LINK_STATE_AUTO,
    };
}

static gboolean
vspan_annotation_parse_vf(VspanDomain *dom, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = {
        "mac", "alias", "vlan", "qos", "vlan-proto", "trust", "spoofchk", "link-state",
        "min-tx-rate", "max-tx-rate", NULL,
    };
    VspanVfReq *v = g_new0(VspanVfReq, 1);
    int proto = VSPAN_VLAN_PROTO_8021Q, trust = VSPAN_SWITCH_OFF, spoofchk = VSPAN_SWITCH_ON;
    int link = VSPAN_LINK_STATE_AUTO;

    g_ptr_array_add(dom->vfs, v);
    v->where = vspan_annotation_where(dom, node);
    if (!vspan_xml_check_attrs(node, attrs, v->where, error) ||
        !vspan_xml_check_children(node, (const char *const[]){ NULL }, v->where, error) ||
        !vspan_annotation_target(node, v->mac, &v->alias, TRUE, v->where, error) ||
        !vspan_xml_prop_uint(node, "vlan", 0, 4095, &v->set.vlan, &v->has_vlan, v->where, error) ||
        !vspan_xml_prop_uint(node, "qos", 0, 7, &v->set.qos, &v->has_qos, v->where, error) ||
        !vspan_xml_prop_enum(node, "vlan-proto", vspan_vlan_proto_from_string, proto_values,
                             &proto, &v->has_proto, v->where, error) ||
        !vspan_xml_prop_enum(node, "trust", vspan_switch_from_string, switch_values,
                             &trust, NULL, v->where, error) ||
        !vspan_xml_prop_enum(node, "spoofchk", vspan_switch_from_string, switch_values,
                             &spoofchk, NULL, v->where, error) ||
        !vspan_xml_prop_enum(node, "link-state", vspan_link_state_from_string, link_values,
                             &link, NULL, v->where, error) ||
        !vspan_xml_prop_uint(node, "min-tx-rate", 0, G_MAXUINT32, &v->set.min_tx_rate, NULL,
                             v->where, error) ||
        !vspan_xml_prop_uint(node, "max-tx-rate", 0, G_MAXUINT32, &v->set.max_tx_rate, NULL,
                             v->where, error))
        return FALSE;
    v->set.proto = proto;
    v->set.trust = trust;
    v->set.spoofchk = spoofchk;
    v->set.link_state = link;
    return TRUE;
}

static gboolean
vspan_domain_parse_annotation(VspanDomain *dom, const xmlNode *metadata, const char *name,
                              GError **error)
{
    static const char *const children[] = { "mirror", "inline", "vf", NULL };
    const xmlNode *ann = NULL;

    for (const xmlNode *c = metadata->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !c->ns || !g_str_equal(c->ns->href, VSPAN_DOMAIN_NS))
            continue;   /* other tools' metadata is theirs */
        if (!g_str_equal(c->name, "domain")) {
            g_autofree char *clean = vspan_str_clean((const char *)c->name);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "domain '%s' line %ld: <%s> in namespace %s is not a vspan element; the annotation is one <vspan:domain>",
                        dom->name, xmlGetLineNo(c), clean, VSPAN_DOMAIN_NS);
            return FALSE;
        }
        if (ann) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "domain '%s' line %ld: a second <vspan:domain>; merge its elements into the first at line %ld",
                        dom->name, xmlGetLineNo(c), xmlGetLineNo(ann));
            return FALSE;
        }
        ann = c;
    }
    if (!ann)
        return TRUE;

    dom->annotated = TRUE;
    {
        g_autofree char *where = vspan_annotation_where(dom, ann);
        if (!vspan_xml_check_attrs(ann, (const char *const[]){ NULL }, where, error) ||
            !vspan_xml_check_children(ann, children, where, error))
            return FALSE;
    }
    for (const xmlNode *c = ann->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || c->ns != ann->ns)
            continue;
        if (g_str_equal(c->name, "mirror")) {
            if (!vspan_annotation_parse_mirror(dom, c, error))
                return FALSE;
        } else if (g_str_equal(c->name, "inline")) {
            if (!vspan_annotation_parse_inline(dom, c, error))
                return FALSE;
        } else if (!vspan_annotation_parse_vf(dom, c, error)) {
            return FALSE;
        }
    }
    {
        g_autofree char *aname = g_strdup_printf("domain '%s'", dom->name);
        return vspan_xml_validate((xmlNode *)ann, "vspan-domain.rng", aname, error);
    }
}

VspanDomain *
vspan_domain_parse(const char *buf, gsize len, const char *name, GError **error)
{
    g_autoptr(VspanDomain) dom = g_new0(VspanDomain, 1);
    g_autoptr(xmlDoc) doc = NULL;
    const xmlNode *root, *devices, *metadata;

    g_ref_count_init(&dom->ref);
    dom->ifaces = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_iface_free);
    dom->hostdevs = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_hostdev_free);
    dom->mirrors = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_mirror_req_free);
    dom->inlines = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_inline_req_free);
    dom->vfs = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_vf_req_free);

    doc = vspan_xml_parse(buf, len, name, error);
    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (root->ns || !g_str_equal(root->name, "domain")) {
        g_autofree char *clean = vspan_str_clean((const char *)root->name);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: root element is <%s>, not <domain>; pass a libvirt domain XML (virsh dumpxml)",
                    name, clean);
        return NULL;
    }
    {
        const xmlNode *n = vspan_xml_child(root, "name");
        xmlChar *content = n ? xmlNodeGetContent(n) : NULL;
        if (content && *content && g_utf8_validate((const char *)content, -1, NULL))
            dom->name = g_strstrip(g_strdup((const char *)content));
        xmlFree(content);
    }
    if (!dom->name || !*dom->name) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: the domain has no <name>; pass a complete libvirt domain XML", name);
        return NULL;
    }
    /* libvirt refuses a name with a line break, and so does vspan; any
     * other character libvirt takes (a tab, ...) is taken, and every
     * message quoting the name is one line (vspan_message_vprintf) */
    if (strchr(dom->name, '\n')) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: the domain <name> contains a line break, which libvirt refuses too; pass the XML libvirt produced",
                    name);
        return NULL;
    }
    {
        const xmlNode *n = vspan_xml_child(root, "uuid");
        xmlChar *content = n ? xmlNodeGetContent(n) : NULL;
        g_autofree char *raw = g_strstrip(g_strdup(content ? (const char *)content : ""));

        xmlFree(content);
        /* libvirt reads 32 hex digits with dashes anywhere (or none) and
         * writes the canonical form: vspan keeps that form */
        dom->uuid = vspan_uuid_canonical(raw);
        if (*raw && !dom->uuid) {
            dom->uuid = g_strdup(raw);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "domain '%s': <uuid> is not a UUID; pass the XML libvirt produced", dom->name);
            return NULL;
        }
    }

    devices = vspan_xml_child(root, "devices");
    for (const xmlNode *c = devices ? devices->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (g_str_equal(c->name, "interface")) {
            if (!vspan_domain_parse_iface(dom, c, name, error))
                return NULL;
        } else if (g_str_equal(c->name, "hostdev")) {
            vspan_domain_parse_hostdev(dom, c);
        }
    }

    /* Indexes for the planner's lookups (first interface wins, like libvirt's
     * own lookups by MAC). */
    dom->by_mac = g_hash_table_new(g_str_hash, g_str_equal);
    dom->by_alias = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < dom->ifaces->len; i++) {
        VspanIface *iface = dom->ifaces->pdata[i];
        if (*iface->mac && !g_hash_table_contains(dom->by_mac, iface->mac))
            g_hash_table_insert(dom->by_mac, iface->mac, iface);
        if (iface->alias && !g_hash_table_contains(dom->by_alias, iface->alias))
            g_hash_table_insert(dom->by_alias, iface->alias, iface);
    }

    metadata = vspan_xml_child(root, "metadata");
    if (metadata && !vspan_domain_parse_annotation(dom, metadata, name, error))
        return NULL;
    return g_steal_pointer(&dom);
}

VspanIface *
vspan_domain_find_iface_by_mac(const VspanDomain *dom, const char *mac)
{
    return dom->by_mac ? g_hash_table_lookup(dom->by_mac, mac) : NULL;
}

VspanIface *
vspan_domain_find_iface_by_alias(const VspanDomain *dom, const char *alias)
{
    return dom->by_alias ? g_hash_table_lookup(dom->by_alias, alias) : NULL;
}

gboolean
vspan_iface_is_mirrorable(const VspanIface *iface)
{
    return iface->type == VSPAN_IFACE_TYPE_BRIDGE ||
           iface->type == VSPAN_IFACE_TYPE_ETHERNET ||
           iface->type == VSPAN_IFACE_TYPE_NETWORK ||
           iface->type == VSPAN_IFACE_TYPE_DIRECT;
}

/* A tap's ingress is what the guest wrote to its fd.  A macvtap device is
 * the other way round: what the guest writes to /dev/tapN is transmitted
 * by the macvtap device (its egress, then the lower device), and frames
 * for the guest are received by it (its ingress, after macvlan hands
 * them over from the lower device). */
VspanHook
vspan_iface_from_vm_hook(const VspanIface *iface)
{
    return iface->type == VSPAN_IFACE_TYPE_DIRECT ? VSPAN_HOOK_EGRESS : VSPAN_HOOK_INGRESS;
}

char *
vspan_iface_describe(const VspanIface *iface)
{
    /* the alias is the guest owner's text: escaped and clipped */
    g_autofree char *alias = iface->alias ? vspan_str_clean(iface->alias) : NULL;

    if (*iface->mac && alias)
        return g_strdup_printf("%s (%s)", iface->mac, alias);
    if (*iface->mac)
        return g_strdup(iface->mac);
    if (alias)
        return g_steal_pointer(&alias);
    return g_strdup_printf("at line %ld", iface->line);
}
