/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-config"

#include <errno.h>
#include <gio/gio.h>

#include "vspan-config.h"

static void
vspan_appliance_free(VspanAppliance *a)
{
    if (!a)
        return;
    g_free(a->name);
    g_free(a->domain);
    g_free(a->sink.dev);
    g_free(a->sink.dev_egress);
    g_free(a->sink.remote);
    g_free(a->sink.local);
    g_free(a->sink.net_side);
    g_free(a);
}

static void
vspan_inline_policy_free(VspanInlinePolicy *p)
{
    g_free(p->bridge);
    g_free(p);
}

static void
vspan_bridge_tag_free(VspanBridgeTag *t)
{
    g_free(t->bridge);
    g_free(t);
}

static void
vspan_bridge_policy_free(VspanBridgePolicy *p)
{
    if (!p)
        return;
    g_free(p->bridge);
    vspan_select_clear(&p->select);
    g_free(p->where);
    g_free(p);
}

static void
vspan_program_def_free(VspanProgramDef *d)
{
    if (!d)
        return;
    g_free(d->name);
    g_free(d->object);
    g_free(d->section);
    g_free(d);
}

static void
vspan_pool_pf_free(VspanPoolPf *pf)
{
    if (!pf)
        return;
    g_free(pf->dev);
    vspan_range_set_free(pf->vfs);
    g_free(pf);
}

static void
vspan_pool_free(VspanPool *pool)
{
    if (!pool)
        return;
    g_free(pool->name);
    g_free(pool->network);
    g_ptr_array_unref(pool->pfs);
    vspan_range_set_free(pool->vlans);
    g_free(pool);
}

VspanConfig *
vspan_config_new_empty(const char *path)
{
    VspanConfig *config = g_new0(VspanConfig, 1);

    config->path = g_strdup(path);
    config->appliances = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_appliance_free);
    config->bridge_policies = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_bridge_policy_free);
    config->bridge_tags = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_bridge_tag_free);
    config->inline_policies = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_inline_policy_free);
    config->pools = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_pool_free);
    config->programs = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_program_def_free);
    config->on_agent_unavailable = VSPAN_AGENT_UNAVAILABLE_REFUSE;
    config->metrics_interval = VSPAN_METRICS_DEFAULT_INTERVAL;
    return config;
}

void
vspan_config_free(VspanConfig *config)
{
    if (!config)
        return;
    g_free(config->path);
    g_free(config->metrics_textfile);
    g_ptr_array_unref(config->appliances);
    g_ptr_array_unref(config->bridge_policies);
    g_ptr_array_unref(config->bridge_tags);
    g_ptr_array_unref(config->inline_policies);
    g_ptr_array_unref(config->pools);
    g_ptr_array_unref(config->programs);
    g_free(config);
}

static const char *const sink_type_values[] = { "tap", "interface", "netdev", "vxlan", "gretap", "erspan", "inline", NULL };
static const char *const mode_values[] = { "mirror", "inline", NULL };

static int
vspan_config_mode_from_string(const char *s)
{
    return g_strv_contains(mode_values, s) ? (int)g_str_equal(s, "inline") : -1;
}
static const char *const on_failure_values[] = { "bypass", "block", NULL };
static const char *const direction_values[] = { "both", "from-vm", "to-vm", NULL };
static const char *const trust_values[] = { "never", "appliances", "any", NULL };
static const char *const unavailable_values[] = { "refuse", "allow", NULL };

/* A name the config gives (appliance, its domain, program, pool): it is
 * echoed in messages, status and metrics, so one line of printable text. */
static gboolean
vspan_config_check_name(const char *name, const char *what, const char *where, GError **error)
{
    for (const char *p = name; *p; p = g_utf8_next_char(p)) {
        if (g_unichar_iscntrl(g_utf8_get_char(p))) {
            g_autofree char *clean = vspan_str_clean(name);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: %s '%s' has a control character (a line break, a tab, ...); use printable characters",
                        where, what, clean);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
vspan_config_check_ifname(const char *dev, const char *what, gboolean libvirt_target,
                          const char *where, GError **error)
{
    const char *why = NULL;

    if (!vspan_ifname_valid(dev, libvirt_target, &why)) {
        g_autofree char *clean = vspan_str_clean(dev);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: %s '%s' %s; choose a valid interface name", where, what, clean, why);
        return FALSE;
    }
    return TRUE;
}

static gboolean
vspan_config_check_ip(const char *ip, const char *what, const char *where, GError **error)
{
    g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(ip);

    if (!addr) {
        g_autofree char *clean = vspan_str_clean(ip);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: %s '%s' is not an IPv4 or IPv6 address; write a literal address",
                    where, what, clean);
        return FALSE;
    }
    return TRUE;
}

/* "200mbit", "1g", "100000" (bit/s, k/m/g are powers of 1000) or "5000pps". */
static gboolean
vspan_config_parse_rate(const char *text, guint64 *rate, gboolean *pps)
{
    g_autofree char *s = g_ascii_strdown(text, -1);
    char *end = NULL;
    guint64 n, mult = 1;

    if (!g_ascii_isdigit(s[0]))
        return FALSE;
    n = g_ascii_strtoull(s, &end, 10);
    *pps = FALSE;
    if (g_str_equal(end, "pps")) {
        *pps = TRUE;
    } else {
        if (*end == 'k')
            mult = 1000, end++;
        else if (*end == 'm')
            mult = 1000000, end++;
        else if (*end == 'g')
            mult = 1000000000, end++;
        if (g_str_equal(end, "pps")) {
            *pps = TRUE;
            end += 3;
        } else if (g_str_equal(end, "bit")) {
            end += 3;
        }
        if (*end)
            return FALSE;
    }
    if (n == 0 || n > G_MAXUINT64 / mult)
        return FALSE;
    *rate = n * mult;
    return TRUE;
}

/* snaplen= and max-rate=: on the sinks whose device carries only copies */
static gboolean
vspan_config_parse_shape(const xmlNode *node, VspanSink *sink, const char *where, GError **error)
{
    g_autofree char *rate = vspan_xml_prop(node, "max-rate");

    if (!vspan_xml_prop_uint(node, "snaplen", VSPAN_SNAPLEN_MIN, VSPAN_SNAPLEN_MAX, &sink->snaplen, NULL,
                             where, error))
        return FALSE;
    if (rate && !vspan_config_parse_rate(rate, &sink->max_rate, &sink->max_rate_pps)) {
        g_autofree char *clean = vspan_str_clean(rate);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: max-rate '%s' is not a rate; write bit/s as 200mbit (k, m, g) or packets as 5000pps",
                    where, clean);
        return FALSE;
    }
    if (sink->max_rate_pps && sink->max_rate > G_MAXUINT32) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: max-rate of %" G_GUINT64_FORMAT " packets a second is more than any link carries; lower it",
                    where, sink->max_rate);
        return FALSE;
    }
    return TRUE;
}

static int
vspan_config_ports_from_string(const char *s)
{
    return g_str_equal(s, "tap") ? 0 : g_str_equal(s, "existing") ? 1 : -1;
}

static gboolean
vspan_config_parse_sink(const xmlNode *node, VspanSink *sink, const char *appliance,
                        const char *where, GError **error)
{
    static const char *const tap_attrs[] = { "type", "dev", "snaplen", "max-rate", NULL };
    static const char *const iface_attrs[] = { "type", "mac", NULL };
    static const char *const vxlan_attrs[] = { "type", "remote", "vni", "dstport", "local", "dev",
                                               "snaplen", "max-rate", NULL };
    static const char *const gretap_attrs[] = { "type", "remote", "local", "key", "dev", "snaplen", "max-rate",
                                                NULL };
    static const char *const erspan_attrs[] = { "type", "remote", "local", "session", "version", "dev",
                                                "snaplen", "max-rate", NULL };
    static const char *const inline_attrs[] = { "type", "vm-side", "net-side", "ports", NULL };
    static const char *const ports_values[] = { "tap", "existing", NULL };
    g_autofree char *mac = NULL;
    int type = -1;
    gboolean present;

    if (!vspan_xml_prop_enum(node, "type", vspan_sink_type_from_string, sink_type_values,
                             &type, &present, where, error))
        return FALSE;
    if (!present) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: missing required attribute 'type'; use one of: tap, interface, netdev, vxlan, gretap, erspan, inline",
                    where);
        return FALSE;
    }
    sink->type = type;

    switch (sink->type) {
    case VSPAN_SINK_TAP:
    case VSPAN_SINK_NETDEV:
        if (!vspan_xml_check_attrs(node, tap_attrs, where, error) ||
            !vspan_xml_prop_required(node, "dev", &sink->dev, where, error) ||
            !vspan_config_parse_shape(node, sink, where, error))
            return FALSE;
        /* A tap sink is attached by the appliance as <target dev managed='no'>,
         * which libvirt refuses for its reserved prefixes. */
        return vspan_config_check_ifname(sink->dev, "sink dev", sink->type == VSPAN_SINK_TAP,
                                         where, error);
    case VSPAN_SINK_INTERFACE:
        if (xmlHasProp(node, (const xmlChar *)"snaplen") || xmlHasProp(node, (const xmlChar *)"max-rate")) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: snaplen and max-rate need a sink that carries only copies, and an interface sink's tap carries the appliance's own traffic too; use a tap sink",
                        where);
            return FALSE;
        }
        if (!vspan_xml_check_attrs(node, iface_attrs, where, error) ||
            !vspan_xml_prop_required(node, "mac", &mac, where, error))
            return FALSE;
        if (!vspan_mac_parse(mac, sink->mac)) {
            g_autofree char *clean = vspan_str_clean(mac);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: mac '%s' is not a MAC address; write it as 52:54:00:12:34:56",
                        where, clean);
            return FALSE;
        }
        return TRUE;
    case VSPAN_SINK_VXLAN:
    case VSPAN_SINK_GRETAP:
    case VSPAN_SINK_ERSPAN:
        if (!vspan_xml_check_attrs(node, sink->type == VSPAN_SINK_VXLAN    ? vxlan_attrs
                                         : sink->type == VSPAN_SINK_GRETAP ? gretap_attrs
                                                                           : erspan_attrs,
                                   where, error) ||
            !vspan_config_parse_shape(node, sink, where, error) ||
            !vspan_xml_prop_required(node, "remote", &sink->remote, where, error) ||
            !vspan_config_check_ip(sink->remote, "remote", where, error))
            return FALSE;
        if (sink->type == VSPAN_SINK_VXLAN) {
            if (!vspan_xml_prop_uint(node, "vni", 0, 16777215, &sink->vni, &present, where, error))
                return FALSE;
            if (!present) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: missing required attribute 'vni'; add vni=\"0-16777215\"", where);
                return FALSE;
            }
            sink->dstport = VSPAN_VXLAN_DEFAULT_PORT;
            if (!vspan_xml_prop_uint(node, "dstport", 1, 65535, &sink->dstport, NULL, where, error))
                return FALSE;
        } else if (sink->type == VSPAN_SINK_GRETAP) {
            if (!vspan_xml_prop_uint(node, "key", 0, G_MAXUINT32, &sink->key, &sink->has_key, where, error))
                return FALSE;
        } else {
            /* the session ID is ERSPAN's 10-bit field */
            if (!vspan_xml_prop_uint(node, "session", 0, 1023, &sink->key, &present, where, error))
                return FALSE;
            if (!present) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: missing required attribute 'session'; add session=\"0-1023\" (the collector filters on it)",
                            where);
                return FALSE;
            }
            sink->version = 2;
            if (!vspan_xml_prop_uint(node, "version", 1, 2, &sink->version, NULL, where, error))
                return FALSE;
        }
        sink->local = vspan_xml_prop(node, "local");
        if (sink->local) {
            g_autoptr(GInetAddress) r = g_inet_address_new_from_string(sink->remote);
            g_autoptr(GInetAddress) l = NULL;

            if (!vspan_config_check_ip(sink->local, "local", where, error))
                return FALSE;
            l = g_inet_address_new_from_string(sink->local);
            if (g_inet_address_get_family(r) != g_inet_address_get_family(l)) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: local and remote are of different address families; use two IPv4 or two IPv6 addresses",
                            where);
                return FALSE;
            }
        }
        sink->dev = vspan_xml_prop(node, "dev");
        if (!sink->dev && sink->type == VSPAN_SINK_VXLAN)
            sink->dev = g_strdup_printf("vspanvx%u", sink->vni);
        else if (!sink->dev)
            sink->dev = g_strdup_printf("%s%u", sink->type == VSPAN_SINK_GRETAP ? "vspangt" : "vspaner", sink->key);
        if (sink->type == VSPAN_SINK_ERSPAN && sink->version == 2) {
            if (strlen(sink->dev) > 13) {
                g_autofree char *clean = vspan_str_clean(sink->dev);
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: dev '%s' is too long for an ERSPAN version 2 sink, which also needs '<dev>-e' for copies of frames to the VM; use at most 13 characters",
                            where, clean);
                return FALSE;
            }
            sink->dev_egress = g_strdup_printf("%s-e", sink->dev);
        }
        return vspan_config_check_ifname(sink->dev, "sink dev", FALSE, where, error);
    case VSPAN_SINK_INLINE:
        if (!vspan_xml_check_attrs(node, inline_attrs, where, error) ||
            !vspan_xml_prop_required(node, "vm-side", &sink->dev, where, error) ||
            !vspan_xml_prop_required(node, "net-side", &sink->net_side, where, error) ||
            !vspan_config_check_ifname(sink->dev, "vm-side", TRUE, where, error) ||
            !vspan_config_check_ifname(sink->net_side, "net-side", TRUE, where, error) ||
            !vspan_xml_prop_enum(node, "ports", vspan_config_ports_from_string, ports_values, &type, NULL,
                                 where, error))
            return FALSE;
        sink->existing_ports = type == 1;
        if (g_str_equal(sink->dev, sink->net_side)) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: vm-side and net-side are both '%s'; an inline appliance needs two ports, one facing the VMs and one facing the bridge",
                        where, sink->dev);
            return FALSE;
        }
        return TRUE;
    case VSPAN_SINK_LAST:
        break;
    }
    g_assert_not_reached();
}

/* "50ms", "1s": 10 ms to 60 s */
static gboolean
vspan_config_parse_interval(const char *text, guint *ms)
{
    char *end = NULL;
    guint64 n;

    if (!g_ascii_isdigit(text[0]))
        return FALSE;
    n = g_ascii_strtoull(text, &end, 10);
    if (g_str_equal(end, "s") && n <= 60)
        n *= 1000;
    else if (!g_str_equal(end, "ms"))
        return FALSE;
    if (n < 10 || n > 60000)
        return FALSE;
    *ms = n;
    return TRUE;
}

/* <health canary= interval= fail-after=> of an inline appliance */
static gboolean
vspan_config_parse_health(const xmlNode *node, VspanHealth *h, const char *where, GError **error)
{
    static const char *const attrs[] = { "canary", "interval", "fail-after", NULL };
    static const char *const switch_values[] = { "off", "on", NULL };
    g_autofree char *interval = vspan_xml_prop(node, "interval");
    int canary = VSPAN_SWITCH_ON;

    if (!vspan_xml_check_attrs(node, attrs, where, error) ||
        !vspan_xml_prop_enum(node, "canary", vspan_switch_from_string, switch_values, &canary, NULL,
                             where, error) ||
        !vspan_xml_prop_uint(node, "fail-after", 1, 100, &h->fail_after, NULL, where, error))
        return FALSE;
    h->canary = canary == VSPAN_SWITCH_ON;
    if (interval && !vspan_config_parse_interval(interval, &h->interval_ms)) {
        g_autofree char *clean = vspan_str_clean(interval);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: interval '%s' is not a time from 10ms to 60s; write it as 50ms or 1s", where, clean);
        return FALSE;
    }
    return TRUE;
}

static gboolean
vspan_config_parse_appliance(VspanConfig *config, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = { "name", "domain", "mode", "on-failure", NULL };
    static const char *const children[] = { "sink", "health", NULL };
    g_autofree char *where = vspan_xml_where(config->path, node);
    g_autoptr(GPtrArray) tmp = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_appliance_free);
    VspanAppliance *a = g_new0(VspanAppliance, 1);
    const xmlNode *sink = NULL;
    guint nsinks = 0;

    g_ptr_array_add(tmp, a);
    a->line = xmlGetLineNo(node);
    if (!vspan_xml_check_attrs(node, attrs, where, error) ||
        !vspan_xml_check_children(node, children, where, error) ||
        !vspan_xml_prop_required(node, "name", &a->name, where, error) ||
        !vspan_config_check_name(a->name, "name", where, error) ||
        !vspan_xml_prop_required(node, "domain", &a->domain, where, error) ||
        !vspan_config_check_name(a->domain, "domain", where, error))
        return FALSE;

    {
        int mode = 0, on_failure = VSPAN_ON_FAILURE_BYPASS;
        gboolean has_on_failure;

        if (!vspan_xml_prop_enum(node, "mode", vspan_config_mode_from_string, mode_values, &mode, NULL, where, error) ||
            !vspan_xml_prop_enum(node, "on-failure", vspan_on_failure_from_string, on_failure_values,
                                 &on_failure, &has_on_failure, where, error))
            return FALSE;
        a->inline_mode = mode == 1;
        a->on_failure = on_failure;
        if (has_on_failure && !a->inline_mode) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: on-failure applies to an inline appliance; add mode=\"inline\" or remove on-failure",
                        where);
            return FALSE;
        }
    }
    a->health = (VspanHealth){ TRUE, VSPAN_HEALTH_DEFAULT_INTERVAL_MS, VSPAN_HEALTH_DEFAULT_FAIL_AFTER };

    if (vspan_config_find_appliance(config, a->name)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: appliance name '%s' is used twice; give each appliance its own name",
                    where, a->name);
        return FALSE;
    }

    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && g_str_equal(c->name, "sink")) {
            sink = c;
            nsinks++;
        }
        if (c->type == XML_ELEMENT_NODE && g_str_equal(c->name, "health")) {
            g_autofree char *hwhere = vspan_xml_where(config->path, c);

            if (!a->inline_mode) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: <health> checks an inline appliance; add mode=\"inline\" to the appliance or remove <health>",
                            hwhere);
                return FALSE;
            }
            if (!vspan_config_parse_health(c, &a->health, hwhere, error))
                return FALSE;
        }
    }
    if (nsinks != 1) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: an appliance needs exactly one <sink>, found %u; keep one",
                    where, nsinks);
        return FALSE;
    }
    {
        g_autofree char *swhere = vspan_xml_where(config->path, sink);
        if (!vspan_config_parse_sink(sink, &a->sink, a->name, swhere, error))
            return FALSE;
        if (a->inline_mode && a->sink.type != VSPAN_SINK_INLINE) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: an inline appliance needs <sink type=\"inline\" vm-side=\"...\" net-side=\"...\">; change the sink",
                        swhere);
            return FALSE;
        }
        if (!a->inline_mode && a->sink.type == VSPAN_SINK_INLINE) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: an inline sink needs mode=\"inline\" on its appliance; add it", swhere);
            return FALSE;
        }
        for (guint k = 0; k < 2; k++) {
            const char *dev = k ? a->sink.net_side : a->sink.dev;
            const VspanAppliance *other = vspan_config_find_sink_dev(config, dev);
            if (other) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: sink dev '%s' is already the sink of appliance '%s'; give each appliance its own device",
                            swhere, dev, other->name);
                return FALSE;
            }
        }
    }
    g_ptr_array_add(config->appliances, g_ptr_array_steal_index(tmp, 0));
    return TRUE;
}


static gboolean
vspan_config_parse_program(VspanConfig *config, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = {
        "name", "builtin", "object", "section", "packets", "bytes", "flows", "pps", "burst", NULL,
    };
    g_autofree char *where = vspan_xml_where(config->path, node);
    g_autofree char *builtin = vspan_xml_prop(node, "builtin");
    g_autofree char *object = vspan_xml_prop(node, "object");
    VspanProgramDef *d = g_new0(VspanProgramDef, 1);
    gboolean has_packets = FALSE, has_bytes = FALSE, has_pps = FALSE, has_burst = FALSE, has_flows = FALSE;
    const char *const *allowed;
    static const char *const object_params[] = { "section", NULL };
    static const char *const flow_params[] = { "packets", "bytes", "flows", NULL };
    static const char *const rate_params[] = { "pps", "burst", NULL };

    d->line = xmlGetLineNo(node);
    g_ptr_array_add(config->programs, d);
    if (!vspan_xml_check_attrs(node, attrs, where, error) ||
        !vspan_xml_check_children(node, (const char *const[]){ NULL }, where, error) ||
        !vspan_xml_prop_required(node, "name", &d->name, where, error) ||
        !vspan_config_check_name(d->name, "name", where, error))
        return FALSE;
    for (guint i = 0; i + 1 < config->programs->len; i++) {
        const VspanProgramDef *o = config->programs->pdata[i];
        if (g_str_equal(o->name, d->name)) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: a program named '%s' is already defined at line %ld; give each <program> its own name",
                        where, d->name, o->line);
            return FALSE;
        }
    }
    if (!builtin == !object) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: give builtin (flow-head or source-rate) or object (an eBPF object file), exactly one",
                    where);
        return FALSE;
    }
    if (object) {
        if (!g_path_is_absolute(object)) {
            g_autofree char *clean = vspan_str_clean(object);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: object '%s' is not an absolute path; give the full path of the .o file", where, clean);
            return FALSE;
        }
        d->kind = VSPAN_PROGRAM_OBJECT;
        d->object = g_steal_pointer(&object);
        d->section = vspan_xml_prop(node, "section");
        allowed = object_params;
    } else if (g_str_equal(builtin, "flow-head")) {
        d->kind = VSPAN_PROGRAM_FLOW_HEAD;
        allowed = flow_params;
    } else if (g_str_equal(builtin, "source-rate")) {
        d->kind = VSPAN_PROGRAM_SOURCE_RATE;
        allowed = rate_params;
    } else {
        g_autofree char *clean = vspan_str_clean(builtin);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: builtin '%s' is not a vspan program; use flow-head or source-rate", where, clean);
        return FALSE;
    }
    /* each kind takes only its own parameters */
    for (guint i = 4; attrs[i]; i++) {
        g_autofree char *v = vspan_xml_prop(node, attrs[i]);
        if (v && !g_strv_contains(allowed, attrs[i])) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: %s does not apply to this program; it takes: %s", where, attrs[i],
                        d->kind == VSPAN_PROGRAM_OBJECT ? "section" :
                        d->kind == VSPAN_PROGRAM_FLOW_HEAD ? "packets, bytes, flows" : "pps, burst");
            return FALSE;
        }
    }
    if (!vspan_xml_prop_uint(node, "packets", 1, G_MAXINT32, &d->packets, &has_packets, where, error) ||
        !vspan_xml_prop_uint(node, "bytes", 1, G_MAXINT32, &d->bytes, &has_bytes, where, error) ||
        !vspan_xml_prop_uint(node, "flows", 16, 16777216, &d->flows, &has_flows, where, error) ||
        !vspan_xml_prop_uint(node, "pps", 1, 100000000, &d->pps, &has_pps, where, error) ||
        !vspan_xml_prop_uint(node, "burst", 1, 100000000, &d->burst, &has_burst, where, error))
        return FALSE;
    if (d->kind == VSPAN_PROGRAM_FLOW_HEAD && !has_packets && !has_bytes) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: flow-head needs packets or bytes (how much of each flow to copy)", where);
        return FALSE;
    }
    if (d->kind == VSPAN_PROGRAM_SOURCE_RATE && !has_pps) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: source-rate needs pps (packets a second per source)", where);
        return FALSE;
    }
    if (!has_flows)
        d->flows = VSPAN_PROGRAM_DEFAULT_FLOWS;
    if (!has_burst)
        d->burst = d->pps;
    return TRUE;
}

static gboolean
vspan_config_parse_mirror(VspanConfig *config, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = { "bridge", "appliance", "direction", "filter", "sample", "program", NULL };
    static const char *const children[] = { NULL };
    g_autofree char *where = vspan_xml_where(config->path, node);
    g_autofree char *bridge = NULL;
    g_autofree char *appliance = NULL;
    const VspanAppliance *a;
    VspanBridgePolicy *p;
    VspanSelect select = { 0 };
    int direction = VSPAN_DIRECTION_BOTH;

    if (!vspan_xml_check_attrs(node, attrs, where, error) ||
        !vspan_xml_check_children(node, children, where, error) ||
        !vspan_xml_prop_required(node, "bridge", &bridge, where, error) ||
        !vspan_config_check_ifname(bridge, "bridge", FALSE, where, error) ||
        !vspan_xml_prop_required(node, "appliance", &appliance, where, error) ||
        !vspan_xml_prop_enum(node, "direction", vspan_direction_from_string, direction_values,
                             &direction, NULL, where, error) ||
        !vspan_xml_parse_select(node, &select, where, error))
        return FALSE;

    if (select.program && !vspan_config_find_program(config, select.program)) {
        g_autofree char *names = vspan_config_program_names(config);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: no program named '%s' (known: %s); define <program name=\"%s\"> or fix the name",
                    where, select.program, names, select.program);
        vspan_select_clear(&select);
        return FALSE;
    }
    a = vspan_config_find_appliance(config, appliance);
    if (!a) {
        g_autofree char *names = vspan_config_appliance_names(config);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: no appliance named '%s' (known: %s); define <appliance name=\"%s\"> or fix the name",
                    where, appliance, names, appliance);
        vspan_select_clear(&select);
        return FALSE;
    }
    if (a->inline_mode) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: appliance '%s' is inline, in the path of frames rather than a receiver of copies; use <inline bridge=\"%s\" appliance=\"%s\"> or mirror to another appliance",
                    where, a->name, bridge, a->name);
        vspan_select_clear(&select);
        return FALSE;
    }
    for (guint i = 0; i < config->bridge_policies->len; i++) {
        const VspanBridgePolicy *o = config->bridge_policies->pdata[i];
        if (g_str_equal(o->bridge, bridge) && o->appliance == a) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: bridge '%s' is already mirrored to appliance '%s' at line %ld; keep one <mirror>",
                        where, bridge, a->name, o->line);
            vspan_select_clear(&select);
            return FALSE;
        }
    }
    p = g_new0(VspanBridgePolicy, 1);
    p->select = select;
    p->where = g_steal_pointer(&where);
    p->bridge = g_steal_pointer(&bridge);
    p->appliance = a;
    p->direction = direction;
    p->line = xmlGetLineNo(node);
    g_ptr_array_add(config->bridge_policies, p);
    return TRUE;
}

guint
vspan_config_bridge_tag(const VspanConfig *config, const char *bridge)
{
    for (guint i = 0; bridge && i < config->bridge_tags->len; i++) {
        const VspanBridgeTag *t = config->bridge_tags->pdata[i];
        if (g_str_equal(t->bridge, bridge))
            return t->vlan;
    }
    return 0;
}

/* <bridge-tag bridge= vlan=>: a bridge that does not exist (yet) is no
 * error -- bridges come and go; vspand and doctor say so. */
static gboolean
vspan_config_parse_bridge_tag(VspanConfig *config, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = { "bridge", "vlan", NULL };
    static const char *const children[] = { NULL };
    g_autofree char *where = vspan_xml_where(config->path, node);
    g_autofree char *bridge = NULL;
    g_autofree char *vlan_s = NULL;
    VspanBridgeTag *t;
    guint vlan = 0;

    if (!vspan_xml_check_attrs(node, attrs, where, error) ||
        !vspan_xml_check_children(node, children, where, error) ||
        !vspan_xml_prop_required(node, "bridge", &bridge, where, error) ||
        !vspan_config_check_ifname(bridge, "bridge", FALSE, where, error) ||
        !vspan_xml_prop_required(node, "vlan", &vlan_s, where, error))
        return FALSE;
    if (!vspan_xml_prop_uint(node, "vlan", 1, 4094, &vlan, NULL, where, error))
        return FALSE;
    for (guint i = 0; i < config->bridge_tags->len; i++) {
        const VspanBridgeTag *o = config->bridge_tags->pdata[i];
        if (g_str_equal(o->bridge, bridge)) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: bridge '%s' already has a <bridge-tag> (vlan %u) at line %ld; keep one",
                        where, bridge, o->vlan, o->line);
            return FALSE;
        }
    }
    t = g_new0(VspanBridgeTag, 1);
    t->bridge = g_steal_pointer(&bridge);
    t->vlan = vlan;
    t->line = xmlGetLineNo(node);
    g_ptr_array_add(config->bridge_tags, t);
    return TRUE;
}

/* <inline bridge= appliance=> */
static gboolean
vspan_config_parse_inline(VspanConfig *config, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = { "bridge", "appliance", NULL };
    g_autofree char *where = vspan_xml_where(config->path, node);
    g_autofree char *bridge = NULL;
    g_autofree char *name = NULL;
    const VspanAppliance *a;
    VspanInlinePolicy *ip;

    if (!vspan_xml_check_attrs(node, attrs, where, error) ||
        !vspan_xml_check_children(node, (const char *const[]){ NULL }, where, error) ||
        !vspan_xml_prop_required(node, "bridge", &bridge, where, error) ||
        !vspan_config_check_ifname(bridge, "bridge", FALSE, where, error) ||
        !vspan_xml_prop_required(node, "appliance", &name, where, error))
        return FALSE;
    a = vspan_config_find_appliance(config, name);
    if (!a) {
        g_autofree char *clean = vspan_str_clean(name);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: no appliance named '%s'; define it with mode=\"inline\" or fix the name", where, clean);
        return FALSE;
    }
    if (!a->inline_mode) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: appliance '%s' is not inline (it gets copies); name an appliance with mode=\"inline\"",
                    where, a->name);
        return FALSE;
    }
    if (vspan_config_bridge_inline(config, bridge)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: bridge '%s' already has an <inline>; a frame passes one inline appliance, keep one", where,
                    bridge);
        return FALSE;
    }
    ip = g_new0(VspanInlinePolicy, 1);
    ip->bridge = g_steal_pointer(&bridge);
    ip->appliance = a;
    ip->line = xmlGetLineNo(node);
    g_ptr_array_add(config->inline_policies, ip);
    return TRUE;
}

const VspanAppliance *
vspan_config_bridge_inline(const VspanConfig *config, const char *bridge)
{
    for (guint i = 0; bridge && i < config->inline_policies->len; i++) {
        const VspanInlinePolicy *ip = config->inline_policies->pdata[i];
        if (g_str_equal(ip->bridge, bridge))
            return ip->appliance;
    }
    return NULL;
}

static gboolean
vspan_config_parse_pool(VspanConfig *config, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = { "name", "network", NULL };
    static const char *const children[] = { "pf", "vlan", "trust", NULL };
    static const char *const pf_attrs[] = { "dev", "vfs", NULL };
    static const char *const vlan_attrs[] = { "allow", NULL };
    static const char *const trust_attrs[] = { "allow", NULL };
    g_autofree char *where = vspan_xml_where(config->path, node);
    g_autoptr(GPtrArray) tmp = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_pool_free);
    VspanPool *pool = g_new0(VspanPool, 1);
    guint nvlan = 0, ntrust = 0;

    g_ptr_array_add(tmp, pool);
    pool->pfs = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_pool_pf_free);
    pool->vlans = g_array_new(FALSE, FALSE, sizeof(VspanRange));
    pool->trust = VSPAN_TRUST_POLICY_APPLIANCES;
    pool->line = xmlGetLineNo(node);

    if (!vspan_xml_check_attrs(node, attrs, where, error) ||
        !vspan_xml_check_children(node, children, where, error) ||
        !vspan_xml_prop_required(node, "name", &pool->name, where, error) ||
        !vspan_config_check_name(pool->name, "name", where, error))
        return FALSE;
    pool->network = vspan_xml_prop(node, "network");

    for (guint i = 0; i < config->pools->len; i++) {
        const VspanPool *o = config->pools->pdata[i];
        if (g_str_equal(o->name, pool->name)) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: pool name '%s' is used twice; give each pool its own name",
                        where, pool->name);
            return FALSE;
        }
        if (pool->network && o->network && g_str_equal(o->network, pool->network)) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s: network '%s' already belongs to pool '%s'; give each pool its own libvirt network",
                        where, pool->network, o->name);
            return FALSE;
        }
    }

    for (const xmlNode *c = node->children; c; c = c->next) {
        g_autofree char *cwhere = NULL;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        cwhere = vspan_xml_where(config->path, c);
        if (g_str_equal(c->name, "pf")) {
            g_autoptr(GError) rerr = NULL;
            g_autofree char *vfs = NULL;
            VspanPoolPf *pf = g_new0(VspanPoolPf, 1);

            g_ptr_array_add(pool->pfs, pf);
            if (!vspan_xml_check_attrs(c, pf_attrs, cwhere, error) ||
                !vspan_xml_prop_required(c, "dev", &pf->dev, cwhere, error) ||
                !vspan_config_check_ifname(pf->dev, "PF dev", FALSE, cwhere, error))
                return FALSE;
            vfs = vspan_xml_prop(c, "vfs");
            pf->vfs = vspan_range_set_parse(vfs ? vfs : "0-4095", VSPAN_VF_MAX, &rerr);
            if (!pf->vfs) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: vfs: %s", cwhere, rerr->message);
                return FALSE;
            }
        } else if (g_str_equal(c->name, "vlan")) {
            g_autoptr(GError) rerr = NULL;
            g_autofree char *allow = NULL;

            if (++nvlan > 1) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: a pool takes one <vlan>; list all ranges in its allow attribute", cwhere);
                return FALSE;
            }
            if (!vspan_xml_check_attrs(c, vlan_attrs, cwhere, error) ||
                !vspan_xml_prop_required(c, "allow", &allow, cwhere, error))
                return FALSE;
            vspan_range_set_free(pool->vlans);
            pool->vlans = vspan_range_set_parse(allow, 4095, &rerr);
            if (!pool->vlans) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: allow: %s", cwhere, rerr->message);
                return FALSE;
            }
        } else if (g_str_equal(c->name, "trust")) {
            int trust = VSPAN_TRUST_POLICY_APPLIANCES;
            gboolean present;

            if (++ntrust > 1) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: a pool takes one <trust>; keep one", cwhere);
                return FALSE;
            }
            if (!vspan_xml_check_attrs(c, trust_attrs, cwhere, error) ||
                !vspan_xml_prop_enum(c, "allow", vspan_trust_policy_from_string, trust_values,
                                     &trust, &present, cwhere, error))
                return FALSE;
            if (!present) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: missing required attribute 'allow'; use one of: never, appliances, any",
                            cwhere);
                return FALSE;
            }
            pool->trust = trust;
        }
    }
    if (pool->pfs->len == 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: a pool needs at least one <pf dev=\"...\" vfs=\"...\"/>; add the PFs it draws from",
                    where);
        return FALSE;
    }

    /* A VF may belong to one pool only: two pools would hand it out twice. */
    for (guint i = 0; i < pool->pfs->len; i++) {
        const VspanPoolPf *pf = pool->pfs->pdata[i];
        for (guint j = 0; j < config->pools->len; j++) {
            const VspanPool *o = config->pools->pdata[j];
            for (guint k = 0; k < o->pfs->len; k++) {
                const VspanPoolPf *opf = o->pfs->pdata[k];
                guint first;
                if (g_str_equal(pf->dev, opf->dev) &&
                    vspan_range_set_overlaps(pf->vfs, opf->vfs, &first)) {
                    g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                                "%s: VF %u of PF '%s' is also in pool '%s'; pools must not overlap, split the vfs ranges",
                                where, first, pf->dev, o->name);
                    return FALSE;
                }
            }
        }
        for (guint k = 0; k < i; k++) {
            const VspanPoolPf *opf = pool->pfs->pdata[k];
            if (g_str_equal(pf->dev, opf->dev)) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: PF '%s' is listed twice; merge its vfs ranges into one <pf>",
                            where, pf->dev);
                return FALSE;
            }
        }
    }
    g_ptr_array_add(config->pools, g_ptr_array_steal_index(tmp, 0));
    return TRUE;
}

static gboolean
vspan_config_parse_hook(VspanConfig *config, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = { "on-agent-unavailable", NULL };
    g_autofree char *where = vspan_xml_where(config->path, node);
    int v = VSPAN_AGENT_UNAVAILABLE_REFUSE;

    if (!vspan_xml_check_attrs(node, attrs, where, error) ||
        !vspan_xml_prop_enum(node, "on-agent-unavailable", vspan_agent_unavailable_from_string,
                             unavailable_values, &v, NULL, where, error))
        return FALSE;
    config->on_agent_unavailable = v;
    return TRUE;
}

static gboolean
vspan_config_parse_metrics(VspanConfig *config, const xmlNode *node, GError **error)
{
    static const char *const attrs[] = { "textfile", "interval", NULL };
    g_autofree char *where = vspan_xml_where(config->path, node);
    g_autofree char *textfile = NULL;
    guint interval = VSPAN_METRICS_DEFAULT_INTERVAL;

    if (!vspan_xml_check_attrs(node, attrs, where, error) ||
        !vspan_xml_prop_required(node, "textfile", &textfile, where, error) ||
        !vspan_xml_prop_uint(node, "interval", 1, 3600, &interval, NULL, where, error))
        return FALSE;
    /* node_exporter reads *.prom from its directory; a relative path would
     * depend on vspand's working directory */
    if (!g_path_is_absolute(textfile) || !g_str_has_suffix(textfile, ".prom")) {
        g_autofree char *clean = vspan_str_clean(textfile);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: textfile '%s' is not an absolute path ending in .prom; "
                    "use a path in node_exporter's --collector.textfile.directory",
                    where, clean);
        return FALSE;
    }
    config->metrics_textfile = g_steal_pointer(&textfile);
    config->metrics_interval = interval;
    return TRUE;
}

VspanConfig *
vspan_config_parse(const char *buf, gsize len, const char *path, GError **error)
{
    static const char *const children[] = { "appliance", "mirror", "inline", "bridge-tag", "pool", "hook",
                                            "metrics", "program", NULL };
    g_autoptr(VspanConfig) config = vspan_config_new_empty(path);
    g_autoptr(xmlDoc) doc = NULL;
    g_autofree char *where = NULL;
    xmlNode *root;
    guint nhook = 0, nmetrics = 0;

    doc = vspan_xml_parse(buf, len, path, error);
    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (root->ns || !g_str_equal(root->name, "vspan")) {
        g_autofree char *clean = vspan_str_clean((const char *)root->name);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s: root element is <%s>, not <vspan>; this is not a vspan host config",
                    path, clean);
        return NULL;
    }
    where = vspan_xml_where(path, root);
    if (!vspan_xml_check_attrs(root, (const char *const[]){ NULL }, where, error) ||
        !vspan_xml_check_children(root, children, where, error))
        return NULL;

    /* Appliances and programs first, so <mirror> may appear anywhere in the file. */
    for (xmlNode *c = root->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && g_str_equal(c->name, "appliance") &&
            !vspan_config_parse_appliance(config, c, error))
            return NULL;
    for (xmlNode *c = root->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && g_str_equal(c->name, "program") &&
            !vspan_config_parse_program(config, c, error))
            return NULL;
    for (xmlNode *c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (g_str_equal(c->name, "mirror")) {
            if (!vspan_config_parse_mirror(config, c, error))
                return NULL;
        } else if (g_str_equal(c->name, "inline")) {
            if (!vspan_config_parse_inline(config, c, error))
                return NULL;
        } else if (g_str_equal(c->name, "bridge-tag")) {
            if (!vspan_config_parse_bridge_tag(config, c, error))
                return NULL;
        } else if (g_str_equal(c->name, "pool")) {
            if (!vspan_config_parse_pool(config, c, error))
                return NULL;
        } else if (g_str_equal(c->name, "hook")) {
            if (++nhook > 1) {
                g_autofree char *hwhere = vspan_xml_where(path, c);
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: the config takes one <hook>; keep one", hwhere);
                return NULL;
            }
            if (!vspan_config_parse_hook(config, c, error))
                return NULL;
        } else if (g_str_equal(c->name, "metrics")) {
            if (++nmetrics > 1) {
                g_autofree char *mwhere = vspan_xml_where(path, c);
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "%s: the config takes one <metrics>; keep one", mwhere);
                return NULL;
            }
            if (!vspan_config_parse_metrics(config, c, error))
                return NULL;
        }
    }

    /* The schema is the second gate: anything the checks above let through
     * that vspan.xml(5) does not describe is still refused. */
    if (!vspan_xml_validate(root, "vspan-config.rng", path, error))
        return NULL;
    /* a copy may come from any tagged bridge to any appliance */
    for (guint i = 0; config->bridge_tags->len && i < config->appliances->len; i++)
        ((VspanAppliance *)config->appliances->pdata[i])->sink.tagged = TRUE;
    return g_steal_pointer(&config);
}

VspanConfig *
vspan_config_load(const char *path, GError **error)
{
    g_autofree char *buf = NULL;
    gsize len = 0;

    if (!vspan_file_read(path, &buf, &len, error))
        return NULL;
    return vspan_config_parse(buf, len, path, error);
}

char *
vspan_config_program_names(const VspanConfig *config)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (guint i = 0; i < config->programs->len; i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "",
                               ((const VspanProgramDef *)config->programs->pdata[i])->name);
    if (s->len == 0)
        g_string_append(s, "none");
    return g_string_free(g_steal_pointer(&s), FALSE);
}

const VspanProgramDef *
vspan_config_find_program(const VspanConfig *config, const char *name)
{
    for (guint i = 0; name && i < config->programs->len; i++) {
        const VspanProgramDef *d = config->programs->pdata[i];
        if (g_str_equal(d->name, name))
            return d;
    }
    return NULL;
}

const VspanAppliance *
vspan_config_find_appliance(const VspanConfig *config, const char *name)
{
    for (guint i = 0; name && i < config->appliances->len; i++) {
        const VspanAppliance *a = config->appliances->pdata[i];
        if (g_str_equal(a->name, name))
            return a;
    }
    return NULL;
}

gboolean
vspan_config_is_appliance_domain(const VspanConfig *config, const char *domain_name)
{
    for (guint i = 0; domain_name && i < config->appliances->len; i++) {
        const VspanAppliance *a = config->appliances->pdata[i];
        if (g_str_equal(a->domain, domain_name))
            return TRUE;
    }
    return FALSE;
}

const VspanAppliance *
vspan_config_find_sink_dev(const VspanConfig *config, const char *dev)
{
    for (guint i = 0; dev && i < config->appliances->len; i++) {
        const VspanAppliance *a = config->appliances->pdata[i];
        if ((a->sink.dev && g_str_equal(a->sink.dev, dev)) ||
            (a->sink.dev_egress && g_str_equal(a->sink.dev_egress, dev)) ||
            (a->sink.net_side && g_str_equal(a->sink.net_side, dev)))
            return a;
    }
    return NULL;
}

const VspanPool *
vspan_config_find_pool_by_network(const VspanConfig *config, const char *network)
{
    for (guint i = 0; network && i < config->pools->len; i++) {
        const VspanPool *p = config->pools->pdata[i];
        if (p->network && g_str_equal(p->network, network))
            return p;
    }
    return NULL;
}

const VspanPool *
vspan_config_find_pool_by_vf(const VspanConfig *config, const char *pf, guint vf)
{
    for (guint i = 0; pf && i < config->pools->len; i++) {
        const VspanPool *p = config->pools->pdata[i];
        for (guint j = 0; j < p->pfs->len; j++) {
            const VspanPoolPf *ppf = p->pfs->pdata[j];
            if (g_str_equal(ppf->dev, pf) && vspan_range_set_contains(ppf->vfs, vf))
                return p;
        }
    }
    return NULL;
}

char *
vspan_config_appliance_names(const VspanConfig *config)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (guint i = 0; i < config->appliances->len; i++) {
        const VspanAppliance *a = config->appliances->pdata[i];
        g_string_append_printf(s, "%s%s", i ? ", " : "", a->name);
    }
    if (s->len == 0)
        g_string_append(s, "none");
    return g_string_free(g_steal_pointer(&s), FALSE);
}
