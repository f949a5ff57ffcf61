/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-vf"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>

#include "vspan-error.h"
#include "vspan-link.h"
#include "vspan-vf.h"

typedef struct {
    int ifindex;
    guint vf;
    gboolean found;
    VspanVfSettings *out;
} VspanVfScan;

/* What a VF attribute must hold before vspan reads it as its struct. */
static struct nla_policy vspan_vf_policy[IFLA_VF_MAX + 1] = {
    [IFLA_VF_MAC] = { .minlen = sizeof(struct ifla_vf_mac) },
    [IFLA_VF_VLAN] = { .minlen = sizeof(struct ifla_vf_vlan) },
    [IFLA_VF_VLAN_LIST] = { .type = NLA_NESTED },
    [IFLA_VF_SPOOFCHK] = { .minlen = sizeof(struct ifla_vf_spoofchk) },
    [IFLA_VF_TRUST] = { .minlen = sizeof(struct ifla_vf_trust) },
    [IFLA_VF_LINK_STATE] = { .minlen = sizeof(struct ifla_vf_link_state) },
    [IFLA_VF_RATE] = { .minlen = sizeof(struct ifla_vf_rate) },
};

static void
vspan_vf_parse_info(struct nlattr *info, VspanVfScan *scan)
{
    struct nlattr *tb[IFLA_VF_MAX + 1];
    const struct ifla_vf_mac *mac;

    if (nla_parse_nested(tb, IFLA_VF_MAX, info, vspan_vf_policy) < 0 || !tb[IFLA_VF_MAC])
        return;
    mac = nla_data(tb[IFLA_VF_MAC]);
    if (mac->vf != scan->vf)
        return;
    scan->found = TRUE;
    vspan_vf_settings_init_default(scan->out);
    g_snprintf(scan->out->mac, sizeof(scan->out->mac), "%02x:%02x:%02x:%02x:%02x:%02x",
               mac->mac[0], mac->mac[1], mac->mac[2], mac->mac[3], mac->mac[4], mac->mac[5]);
    if (tb[IFLA_VF_VLAN_LIST]) {
        struct nlattr *v;
        int rem;
        nla_for_each_nested(v, tb[IFLA_VF_VLAN_LIST], rem) {
            const struct ifla_vf_vlan_info *vi = nla_data(v);
            if (nla_len(v) < (int)sizeof(*vi))
                break;
            scan->out->vlan = vi->vlan;
            scan->out->qos = vi->qos;
            scan->out->proto = ntohs(vi->vlan_proto) == ETH_P_8021AD ? VSPAN_VLAN_PROTO_8021AD
                                                                      : VSPAN_VLAN_PROTO_8021Q;
            break;
        }
    } else if (tb[IFLA_VF_VLAN]) {
        const struct ifla_vf_vlan *vl = nla_data(tb[IFLA_VF_VLAN]);
        scan->out->vlan = vl->vlan;
        scan->out->qos = vl->qos;
    }
    if (tb[IFLA_VF_SPOOFCHK])
        scan->out->spoofchk = ((const struct ifla_vf_spoofchk *)nla_data(tb[IFLA_VF_SPOOFCHK]))->setting
                                  ? VSPAN_SWITCH_ON : VSPAN_SWITCH_OFF;
    if (tb[IFLA_VF_TRUST])
        scan->out->trust = ((const struct ifla_vf_trust *)nla_data(tb[IFLA_VF_TRUST]))->setting
                               ? VSPAN_SWITCH_ON : VSPAN_SWITCH_OFF;
    if (tb[IFLA_VF_LINK_STATE])
        scan->out->link_state = ((const struct ifla_vf_link_state *)nla_data(tb[IFLA_VF_LINK_STATE]))->link_state;
    if (tb[IFLA_VF_RATE]) {
        const struct ifla_vf_rate *r = nla_data(tb[IFLA_VF_RATE]);
        scan->out->min_tx_rate = r->min_tx_rate;
        scan->out->max_tx_rate = r->max_tx_rate;
    }
}

static int
vspan_vf_get_cb(struct nl_msg *msg, void *arg)
{
    VspanVfScan *scan = arg;
    struct nlmsghdr *hdr = nlmsg_hdr(msg);
    struct ifinfomsg *ifi = nlmsg_data(hdr);
    struct nlattr *tb[IFLA_MAX + 1];

    if (hdr->nlmsg_type != RTM_NEWLINK || ifi->ifi_index != scan->ifindex)
        return NL_OK;
    /* pitfall 7: a link without a VF list is no SR-IOV PF */
    if (nlmsg_parse(hdr, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_VFINFO_LIST])
        return NL_OK;
    {
        struct nlattr *info;
        int rem;
        nla_for_each_nested(info, tb[IFLA_VFINFO_LIST], rem)
            vspan_vf_parse_info(info, scan);
    }
    return NL_OK;
}

gboolean
vspan_vf_get(VspanNl *nl, int pf_ifindex, guint vf, VspanVfSettings *out, GError **error)
{
    g_autoptr(VspanNlMsg) msg = nlmsg_alloc_simple(RTM_GETLINK, 0);
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = pf_ifindex };
    VspanVfScan scan = { .ifindex = pf_ifindex, .vf = vf, .out = out };
    int r;

    nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_VF);
    r = vspan_nl_get(nl, msg, vspan_vf_get_cb, &scan, "RTM_GETLINK (VFs)");
    if (r < 0) {
        vspan_nl_set_error(nl, error, r, "Cannot read the VFs of ifindex %d", pf_ifindex);
        return FALSE;
    }
    if (!scan.found) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND,
                    "ifindex %d has no VF %u; check sriov_numvfs of the PF", pf_ifindex, vf);
        return FALSE;
    }
    return TRUE;
}

char *
vspan_vf_driver(const char *pf)
{
    g_autofree char *link = g_strdup_printf("/sys/class/net/%s/device/driver", pf);
    g_autofree char *target = g_file_read_link(link, NULL);

    return target ? g_path_get_basename(target) : g_strdup("unknown driver");
}

static gboolean
vspan_vf_put(struct nl_msg *msg, guint vf, const VspanVfSettings *s)
{
    struct nlattr *list = nla_nest_start(msg, IFLA_VFINFO_LIST);
    struct nlattr *info = list ? nla_nest_start(msg, IFLA_VF_INFO) : NULL;
    struct nlattr *vlans;
    struct ifla_vf_vlan_info vi = {
        .vf = vf, .vlan = s->vlan, .qos = s->qos,
        /* pitfall 6: the protocol travels in network byte order */
        .vlan_proto = htons(s->proto == VSPAN_VLAN_PROTO_8021AD ? ETH_P_8021AD : ETH_P_8021Q),
    };
    struct ifla_vf_spoofchk sp = { .vf = vf, .setting = s->spoofchk == VSPAN_SWITCH_ON };
    struct ifla_vf_trust tr = { .vf = vf, .setting = s->trust == VSPAN_SWITCH_ON };
    struct ifla_vf_link_state ls = { .vf = vf, .link_state = s->link_state };
    struct ifla_vf_rate rt = { .vf = vf, .min_tx_rate = s->min_tx_rate, .max_tx_rate = s->max_tx_rate };

    if (!info)
        return FALSE;
    if (*s->mac) {
        struct ifla_vf_mac m = { .vf = vf };
        unsigned b[6];
        if (sscanf(s->mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
            return FALSE;
        for (int i = 0; i < 6; i++)
            m.mac[i] = b[i];
        if (nla_put(msg, IFLA_VF_MAC, sizeof(m), &m) < 0)
            return FALSE;
    }
    vlans = nla_nest_start(msg, IFLA_VF_VLAN_LIST);
    if (!vlans || nla_put(msg, IFLA_VF_VLAN_INFO, sizeof(vi), &vi) < 0)
        return FALSE;
    nla_nest_end(msg, vlans);
    if (nla_put(msg, IFLA_VF_SPOOFCHK, sizeof(sp), &sp) < 0 ||
        nla_put(msg, IFLA_VF_TRUST, sizeof(tr), &tr) < 0 ||
        nla_put(msg, IFLA_VF_LINK_STATE, sizeof(ls), &ls) < 0 ||
        nla_put(msg, IFLA_VF_RATE, sizeof(rt), &rt) < 0)
        return FALSE;
    nla_nest_end(msg, info);
    nla_nest_end(msg, list);
    return TRUE;
}

/* The first field in which @got differs from @want, with both values as
 * text for the message; NULL when @got is what @want sets. */
static const char *
vspan_vf_mismatch(const VspanVfSettings *want, const VspanVfSettings *got, char **want_s, char **got_s)
{
    if (*want->mac && !g_str_equal(want->mac, got->mac)) {
        *want_s = g_strdup(want->mac);
        *got_s = g_strdup(got->mac);
        return "mac";
    }
    if (want->vlan != got->vlan || want->qos != got->qos || want->proto != got->proto) {
        *want_s = g_strdup_printf("%u/%u/%s", want->vlan, want->qos, vspan_vlan_proto_to_string(want->proto));
        *got_s = g_strdup_printf("%u/%u/%s", got->vlan, got->qos, vspan_vlan_proto_to_string(got->proto));
        return "vlan/qos/proto";
    }
    if (want->spoofchk != got->spoofchk || want->trust != got->trust) {
        gboolean sp = want->spoofchk != got->spoofchk;
        *want_s = g_strdup(vspan_switch_to_string(sp ? want->spoofchk : want->trust));
        *got_s = g_strdup(vspan_switch_to_string(sp ? got->spoofchk : got->trust));
        return sp ? "spoofchk" : "trust";
    }
    if (want->link_state != got->link_state) {
        *want_s = g_strdup(vspan_link_state_to_string(want->link_state));
        *got_s = g_strdup(vspan_link_state_to_string(got->link_state));
        return "link-state";
    }
    if (want->min_tx_rate != got->min_tx_rate || want->max_tx_rate != got->max_tx_rate) {
        *want_s = g_strdup_printf("%u-%u", want->min_tx_rate, want->max_tx_rate);
        *got_s = g_strdup_printf("%u-%u", got->min_tx_rate, got->max_tx_rate);
        return "tx rate";
    }
    return NULL;
}

gboolean
vspan_vf_settings_match(const VspanVfSettings *want, const VspanVfSettings *got)
{
    g_autofree char *w = NULL, *g = NULL;

    return vspan_vf_mismatch(want, got, &w, &g) == NULL;
}

gboolean
vspan_vf_set(VspanNl *nl, const char *pf, guint vf, const VspanVfSettings *s, GError **error)
{
    g_autoptr(VspanNlMsg) msg = nlmsg_alloc_simple(RTM_SETLINK, 0);
    int ifindex = vspan_link_ifindex(pf);
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    g_autofree char *what = NULL;
    g_autofree char *driver = NULL, *want_s = NULL, *got_s = NULL;
    const char *field;
    VspanVfSettings got;
    int r;

    if (ifindex <= 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND,
                    "Cannot configure VF %u of '%s': no such PF; check the <pf dev> of the pool", vf, pf);
        return FALSE;
    }
    /* validate before the kernel sees it, as libvirt does */
    if (s->vlan > 4095 || s->qos > 7 || (s->vlan == 0 && (s->qos || s->proto != VSPAN_VLAN_PROTO_8021Q))) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "Cannot configure VF %u of '%s': vlan %u qos %u %s is not a valid VLAN setting; use VLAN 1-4095 for qos or 802.1ad",
                    vf, pf, s->vlan, s->qos, vspan_vlan_proto_to_string(s->proto));
        return FALSE;
    }
    nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    if (!vspan_vf_put(msg, vf, s)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "Cannot configure VF %u of '%s': cannot build the request (mac '%s')", vf, pf, s->mac);
        return FALSE;
    }
    what = g_strdup_printf("RTM_SETLINK %s vf %u mac %s vlan %u qos %u proto %s spoofchk %s trust %s link %s rate %u-%u",
                           pf, vf, *s->mac ? s->mac : "-", s->vlan, s->qos, vspan_vlan_proto_to_string(s->proto),
                           vspan_switch_to_string(s->spoofchk), vspan_switch_to_string(s->trust),
                           vspan_link_state_to_string(s->link_state), s->min_tx_rate, s->max_tx_rate);
    r = vspan_nl_request(nl, msg, what);
    driver = vspan_vf_driver(pf);
    if (r < 0) {
        vspan_nl_set_error(nl, error, r, "Cannot configure VF %u of '%s' (driver %s)", vf, pf, driver);
        return FALSE;
    }
    /* read back: a driver may accept a field and ignore it */
    if (!vspan_vf_get(nl, ifindex, vf, &got, error))
        return FALSE;
    field = vspan_vf_mismatch(s, &got, &want_s, &got_s);
    if (field) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_VERIFY,
                    "VF %u of '%s' (driver %s) reads back %s %s after vspan set %s; the driver does not support it: use a NIC that does or drop the setting",
                    vf, pf, driver, field, got_s, want_s);
        return FALSE;
    }
    return TRUE;
}
