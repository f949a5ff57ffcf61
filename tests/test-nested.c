/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs inside Debian's kernel booted under QEMU (tests/nested/run-nested):
 * a netdevsim PF with 4 VFs stands in for an SR-IOV NIC (its VFs have no
 * PCI devices, so the PCI -> PF/VF map is given as observed state), and the
 * kernel has cls_matchall, so the mirror engine's matchall path runs here.
 * `ip` is the independent witness of what the kernel holds.
 */
/* busybox sh prefers its own applets: iproute2 is called by full path. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns-util.h"
#include "vspan-agent.h"
#include "vspan-doctor.h"
#include "vspan-exec.h"
#include "vspan-link.h"
#include "vspan-tc.h"
#include "vspan-vf.h"

static char *pf;
static VspanHost *be;

static char *
vf_line(guint vf)
{
    g_autofree char *out = NULL;
    g_auto(GStrv) lines = NULL;
    g_autofree char *prefix = g_strdup_printf("vf %u ", vf);

    g_assert_cmpint(nt_sh(&out, "/sbin/ip -d link show dev %s", pf), ==, 0);
    lines = g_strsplit(out, "\n", -1);
    for (char **l = lines; *l; l++)
        if (g_str_has_prefix(g_strstrip(*l), prefix))
            return g_strdup(*l);
    g_error("no '%s' line in: %s", prefix, out);
}

static void
assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        g_error("'%s' not in '%s'", needle, hay);
}

static void
test_vf_set_all(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *line = NULL;
    VspanVfSettings s, got;

    vspan_vf_settings_init_default(&s);
    g_strlcpy(s.mac, "52:54:00:aa:00:05", sizeof(s.mac));
    s.vlan = 150;
    s.qos = 3;
    s.proto = VSPAN_VLAN_PROTO_8021AD;
    s.spoofchk = VSPAN_SWITCH_OFF;
    s.trust = VSPAN_SWITCH_ON;
    s.link_state = VSPAN_LINK_STATE_ENABLE;
    s.min_tx_rate = 100;
    s.max_tx_rate = 1000;
    g_assert_true(vspan_vf_set(vspan_linux_host_nl(be), pf, 1, &s, &error));
    g_assert_no_error(error);
    g_assert_true(vspan_vf_get(vspan_linux_host_nl(be), vspan_link_ifindex(pf), 1, &got, &error));
    g_assert_cmpmem(&got, sizeof(got), &s, sizeof(s));
    line = vf_line(1);
    g_test_message("%s", line);
    assert_contains(line, "link/ether 52:54:00:aa:00:05");
    assert_contains(line, "vlan 150, qos 3, vlan protocol 802.1ad");
    assert_contains(line, "spoof checking off");
    assert_contains(line, "link-state enable");
    assert_contains(line, "trust on");
    assert_contains(line, "max_tx_rate 1000Mbps, min_tx_rate 100Mbps");
}

static void
test_vf_reset(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *line = NULL;
    VspanVfSettings s;

    vspan_vf_settings_init_default(&s);     /* trust off, spoofchk on, auto, no VLAN, no rates */
    g_assert_true(vspan_vf_set(vspan_linux_host_nl(be), pf, 1, &s, &error));
    g_assert_no_error(error);
    line = vf_line(1);
    g_test_message("%s", line);
    g_assert_null(strstr(line, "vlan "));
    assert_contains(line, "spoof checking on");
    assert_contains(line, "link-state auto");
    assert_contains(line, "trust off");
    g_assert_null(strstr(line, "max_tx_rate"));
}

/* The whole path: domain XML + pool config + observed VF map -> plan ->
 * executor -> kernel, then stopped -> reset. */
static void
test_vf_plan_start_stop(void)
{
    g_autofree char *cfg = g_strdup_printf(
        "<vspan><appliance name='ids' domain='ids-vf'><sink type='tap' dev='vspan-n0'/></appliance>"
        "<pool name='p' network='pool-net'><pf dev='%s' vfs='0-3'/><vlan allow='100-199'/>"
        "<trust allow='appliances'/></pool></vspan>", pf);
    const char *xml =
        "<domain><name>ids-vf</name><uuid>0b8e7a52-5d0f-4a51-a3a4-1f6c2d3e4b50</uuid>"
        "<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>"
        "<vspan:vf mac='52:54:00:aa:01:01' vlan='120' trust='on' spoofchk='off'/></vspan:domain></metadata>"
        "<devices><interface type='hostdev' managed='yes'><mac address='52:54:00:aa:01:01'/>"
        "<source><address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x2'/></source>"
        "<alias name='hostdev0'/></interface></devices></domain>";
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanConfig) config = vspan_config_parse(cfg, strlen(cfg), "vspan.xml", &error);
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanObserved) obs = vspan_observed_new();
    g_autoptr(VspanPlan) start = NULL, stop = NULL;
    g_autofree char *l1 = NULL, *l2 = NULL;
    VspanPciAddr pci = { 0, 0x3b, 0x02, 2 };

    g_assert_no_error(error);
    dom = vspan_domain_parse(xml, strlen(xml), "ids-vf.xml", &error);
    g_assert_no_error(error);
    vspan_observed_add_vf(obs, &pci, pf, 2);   /* netdevsim VFs have no PCI device */
    start = vspan_plan_build(VSPAN_PHASE_START, dom, config, obs);
    g_assert_cmpuint(start->errors->len, ==, 0);
    g_assert_true(vspan_exec_apply(be, start, &error));
    g_assert_no_error(error);
    l1 = vf_line(2);
    g_test_message("after start: %s", l1);
    assert_contains(l1, "link/ether 52:54:00:aa:01:01");
    assert_contains(l1, "vlan 120");
    assert_contains(l1, "spoof checking off");
    assert_contains(l1, "trust on");

    stop = vspan_plan_build(VSPAN_PHASE_STOPPED, dom, config, obs);
    g_assert_true(vspan_exec_apply(be, stop, &error));
    g_assert_no_error(error);
    l2 = vf_line(2);
    g_test_message("after stopped: %s", l2);
    g_assert_null(strstr(l2, "vlan "));
    assert_contains(l2, "spoof checking on");
    assert_contains(l2, "trust off");
    assert_contains(l2, "link-state auto");
}

static void
test_vf_errors(void)
{
    g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL;
    g_autofree char *want1 = g_strdup_printf("Cannot configure VF 9 of '%s' (driver netdevsim): ", pf);
    g_autofree char *want2 = g_strdup_printf("Cannot configure VF 0 of '%s': vlan 4096 qos 0 802.1Q is not a valid VLAN setting; use VLAN 1-4095 for qos or 802.1ad", pf);
    g_autofree char *want3 = g_strdup_printf("Cannot configure VF 0 of '%s': vlan 0 qos 5 802.1Q is not a valid VLAN setting; use VLAN 1-4095 for qos or 802.1ad", pf);
    VspanVfSettings s;

    vspan_vf_settings_init_default(&s);
    g_assert_false(vspan_vf_set(vspan_linux_host_nl(be), pf, 9, &s, &e1));
    g_test_message("%s", e1->message);
    g_assert_true(g_str_has_prefix(e1->message, want1));
    s.vlan = 4096;
    g_assert_false(vspan_vf_set(vspan_linux_host_nl(be), pf, 0, &s, &e2));
    g_assert_cmpstr(e2->message, ==, want2);
    s.vlan = 0;
    s.qos = 5;
    g_assert_false(vspan_vf_set(vspan_linux_host_nl(be), pf, 0, &s, &e3));
    g_assert_cmpstr(e3->message, ==, want3);
}

static void
test_mirror_matchall(void)
{
    const char *cfg = "<vspan><appliance name='s' domain='s'><sink type='netdev' dev='ms0'/></appliance></vspan>";
    const char *xml = "<domain><name>w</name><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>"
                      "<vspan:mirror appliance='s' direction='from-vm'/></vspan:domain></metadata><devices>"
                      "<interface type='bridge'><mac address='52:54:00:00:00:01'/><target dev='mv0'/></interface>"
                      "</devices></domain>";
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanConfig) config = vspan_config_parse(cfg, strlen(cfg), "vspan.xml", &error);
    g_autoptr(VspanDomain) dom = vspan_domain_parse(xml, strlen(xml), "w.xml", &error);
    g_autoptr(VspanObserved) obs = vspan_observed_new();
    g_autoptr(VspanPlan) plan = NULL;
    g_autoptr(GPtrArray) filters = NULL, got = NULL;
    g_autofree char *shown = NULL;
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
    VspanTcAttach at;
    int tx, rx;

    nt_run("/sbin/ip link add mv0 type veth peer name mv0p && /sbin/ip link add ms0 type veth peer name ms0p && "
           "for l in mv0 mv0p ms0 ms0p; do /sbin/ip link set $l up; done");
    plan = vspan_plan_build(VSPAN_PHASE_START, dom, config, obs);
    g_assert_true(vspan_exec_apply(be, plan, &error));
    g_assert_no_error(error);
    g_assert_cmpint(be->classifier, ==, VSPAN_CLASSIFIER_MATCHALL);
    g_assert_cmpint(nt_sh(&shown, "/sbin/tc filter show dev mv0 ingress"), ==, 0);
    assert_contains(shown, "matchall");
    assert_contains(shown, "Egress Mirror to device ms0");
    assert_contains(shown, "cookie 767370616e2f31");

    rx = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    sll.sll_ifindex = if_nametoindex("ms0p");
    g_assert_cmpint(bind(rx, (struct sockaddr *)&sll, sizeof(sll)), ==, 0);
    tx = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    sll.sll_ifindex = if_nametoindex("mv0p");
    g_assert_cmpint(bind(tx, (struct sockaddr *)&sll, sizeof(sll)), ==, 0);
    for (guint i = 0; i < 10; i++) {
        g_autofree char *tag = g_strdup_printf("nested-%u", i);
        g_autoptr(GBytes) f = nt_frame("52:54:00:00:00:02", "52:54:00:00:00:01", 0x88b5, 0, tag, 200);
        gsize n;
        const void *d = g_bytes_get_data(f, &n);
        g_assert_cmpint(send(tx, d, n, 0), ==, (gssize)n);
    }
    got = nt_collect(rx, 300);
    g_assert_cmpuint(got->len, ==, 10);     /* each copy once, nothing else */
    g_assert_true(vspan_tc_probe(vspan_linux_host_nl(be), vspan_link_ifindex("mv0"), &at, &error));
    filters = vspan_tc_dump(vspan_linux_host_nl(be), vspan_link_ifindex("mv0"), &at, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(filters->len, ==, 1);
    g_assert_cmpstr(((VspanTcFilter *)filters->pdata[0])->kind, ==, "matchall");
    g_assert_cmpuint(g_array_index(((VspanTcFilter *)filters->pdata[0])->actions, VspanTcAction, 0).packets, ==, 10);
    close(tx);
    close(rx);
}

/* The agent's hook path with leases: a VF handed from A to B is not reset
 * by A's late release, and is reset by B's stop.  PCI addresses map to
 * the netdevsim PF through a fixture sysfs tree. */
static void
test_agent_leases(void)
{
    g_autofree char *root = g_dir_make_tmp("vspan-sysfs-XXXXXX", NULL);
    g_autofree char *cfg_path = g_build_filename(root, "vspan.xml", NULL);
    g_autofree char *state = g_build_filename(root, "state", NULL);
    g_autofree char *cfg = g_strdup_printf(
        "<vspan><pool name='p'><pf dev='%s' vfs='0-3'/><vlan allow='100-199'/><trust allow='any'/></pool></vspan>", pf);
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanAgent) agent = NULL;
    g_autofree char *msg = NULL, *la = NULL, *lb = NULL, *late = NULL, *after = NULL, *text = NULL, *json = NULL;
#define DOM_FMT \
        "<domain><name>%s</name><uuid>%s</uuid><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>" \
        "<vspan:vf mac='%s' vlan='%u' trust='%s'/></vspan:domain></metadata><devices>" \
        "<interface type='hostdev' managed='yes'><mac address='%s'/><source><address type='pci' " \
        "domain='0x0000' bus='0x3b' slot='0x02' function='0x3'/></source></interface></devices></domain>"
    g_autofree char *a = g_strdup_printf(DOM_FMT, "dom-a", "aaaaaaaa-0000-4000-8000-00000000000a", "52:54:00:0a:00:01",
                                         110, "on", "52:54:00:0a:00:01");
    g_autofree char *b = g_strdup_printf(DOM_FMT, "dom-b", "bbbbbbbb-0000-4000-8000-00000000000b", "52:54:00:0b:00:01",
                                         120, "off", "52:54:00:0b:00:01");

    nt_run("cd %s && mkdir -p sys/bus/pci/devices/0000:3b:00.0/net/%s sys/class/net/%s/device && "
           "echo 4 > sys/class/net/%s/device/sriov_numvfs && "
           "for i in 0 1 2 3; do mkdir sys/bus/pci/devices/0000:3b:02.$i && "
           "ln -s ../0000:3b:00.0 sys/bus/pci/devices/0000:3b:02.$i/physfn && "
           "ln -s ../0000:3b:02.$i sys/bus/pci/devices/0000:3b:00.0/virtfn$i; done",
           root, pf, pf, pf);
    g_setenv("VSPAN_SYSFS_ROOT", root, TRUE);
    g_assert_true(g_file_set_contents(cfg_path, cfg, -1, NULL));
    agent = vspan_agent_new(cfg_path, state, vspan_linux_host_new(NULL), &error);
    g_assert_no_error(error);

    g_assert_cmpint(vspan_agent_hook(agent, "prepare", "begin", a, &msg), ==, 0);
    g_clear_pointer(&msg, g_free);
    g_assert_cmpint(vspan_agent_hook(agent, "start", "begin", a, &msg), ==, 0);
    la = vf_line(3);
    g_test_message("A started: %s", la);
    assert_contains(la, "52:54:00:0a:00:01");
    assert_contains(la, "vlan 110");
    assert_contains(la, "trust on");

    /* libvirt returns the VF to the pool and hands it to B before A's release */
    g_clear_pointer(&msg, g_free);
    g_assert_cmpint(vspan_agent_hook(agent, "stopped", "end", a, &msg), ==, 0);
    g_clear_pointer(&msg, g_free);
    g_assert_cmpint(vspan_agent_hook(agent, "start", "begin", b, &msg), ==, 0);
    lb = vf_line(3);
    g_test_message("B started: %s", lb);
    assert_contains(lb, "vlan 120");
    assert_contains(lb, "trust off");
    json = vspan_agent_status(agent, &text);
    g_test_message("%s", text);
    assert_contains(json, "\"pf\":\"");
    assert_contains(json, "\"vf\":3,\"pool\":\"p\",\"domain\":\"dom-b\"");

    g_clear_pointer(&msg, g_free);
    g_assert_cmpint(vspan_agent_hook(agent, "release", "end", a, &msg), ==, 0);
    late = vf_line(3);
    g_test_message("after A's late release: %s", late);
    g_assert_cmpstr(late, ==, lb);      /* B's VF untouched */

    g_clear_pointer(&msg, g_free);
    g_assert_cmpint(vspan_agent_hook(agent, "stopped", "end", b, &msg), ==, 0);
    after = vf_line(3);
    g_test_message("after B stopped: %s", after);
    g_assert_null(strstr(after, "vlan "));
    assert_contains(after, "spoof checking on");
    assert_contains(after, "trust off");
    g_clear_pointer(&json, g_free);
    g_clear_pointer(&text, g_free);
    json = vspan_agent_status(agent, &text);
    assert_contains(json, "\"vf_leases\":[]");

    /* state lost: a fresh agent rebuilds B's lease from libvirt's XML, and a
     * second resync keeps its generation */
    g_clear_pointer(&msg, g_free);
    g_assert_cmpint(vspan_agent_hook(agent, "start", "begin", b, &msg), ==, 0);
    {
        g_autofree char *state2 = g_build_filename(root, "state2", NULL);
        g_autoptr(VspanAgent) fresh = vspan_agent_new(cfg_path, state2, vspan_linux_host_new(NULL), &error);
        g_autoptr(GPtrArray) xmls = g_ptr_array_new();
        g_autofree char *j1 = NULL, *t1 = NULL, *j2 = NULL, *t2 = NULL;

        g_assert_no_error(error);
        g_ptr_array_add(xmls, b);
        vspan_agent_sync(fresh, xmls);
        j1 = vspan_agent_status(fresh, &t1);
        assert_contains(j1, "\"vf\":3,\"pool\":\"p\",\"domain\":\"dom-b\",\"uuid\":\"bbbbbbbb-0000-4000-8000-00000000000b\",\"generation\":1");
        vspan_agent_sync(fresh, xmls);
        j2 = vspan_agent_status(fresh, &t2);
        assert_contains(j2, "\"generation\":1}");
    }
    g_unsetenv("VSPAN_SYSFS_ROOT");
}

/* vspand's start-up brings a pool PF up and enables its VFs where none
 * are; it never rewrites sriov_numvfs of a PF that has VFs. */
static void
test_agent_prepares_pfs(void)
{
    g_autofree char *root = g_dir_make_tmp("vspan-pf-XXXXXX", NULL);
    g_autofree char *cfg_path = g_build_filename(root, "vspan.xml", NULL);
    g_autofree char *state = g_build_filename(root, "state", NULL);
    g_autofree char *names = NULL, *pf2 = NULL, *cfg = NULL, *num = NULL, *num1 = NULL, *flags = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanAgent) agent = NULL;

    nt_run("echo '2 1' > /sys/bus/netdevsim/new_device");
    for (int i = 0; i < 50 && nt_sh(&names, "ls /sys/bus/netdevsim/devices/netdevsim2/net/ 2>/dev/null") != 0; i++) {
        g_clear_pointer(&names, g_free);
        g_usleep(100000);
    }
    g_assert_nonnull(names);
    pf2 = g_strdup(g_strstrip(names));
    cfg = g_strdup_printf("<vspan><pool name='a'><pf dev='%s' vfs='0-2'/></pool>"
                          "<pool name='b'><pf dev='%s' vfs='0-7'/></pool></vspan>", pf2, pf);
    g_assert_true(g_file_set_contents(cfg_path, cfg, -1, NULL));
    g_assert_cmpint(nt_sh(&flags, "cat /sys/class/net/%s/flags", pf2), ==, 0);
    g_assert_cmpint(strtol(flags, NULL, 16) & 1, ==, 0);    /* down */
    agent = vspan_agent_new(cfg_path, state, vspan_linux_host_new(NULL), &error);
    g_assert_no_error(error);
    {
        g_autofree char *want = g_strdup_printf("pool 'b' uses VFs up to 7 of '%s' but only 4 are enabled; raise sriov_numvfs while no VF is in use", pf);
        g_autofree char *enabled = g_strdup_printf("pool 'a': enabled 3 VFs on '%s'", pf2);
        g_test_expect_message("vspand", G_LOG_LEVEL_MESSAGE, enabled);
        g_test_expect_message("vspand", G_LOG_LEVEL_WARNING, want);
        vspan_agent_ensure_pools(agent);
        g_test_assert_expected_messages();
    }
    g_clear_pointer(&flags, g_free);
    g_assert_cmpint(nt_sh(&flags, "cat /sys/class/net/%s/flags", pf2), ==, 0);
    g_assert_cmpint(strtol(flags, NULL, 16) & 1, ==, 1);    /* up */
    g_assert_cmpint(nt_sh(&num, "cat /sys/class/net/%s/device/sriov_numvfs", pf2), ==, 0);
    g_assert_cmpint(atoi(num), ==, 3);                      /* VFs 0-2 enabled */
    g_assert_cmpint(nt_sh(&num1, "cat /sys/class/net/%s/device/sriov_numvfs", pf), ==, 0);
    g_assert_cmpint(atoi(num1), ==, 4);                     /* had VFs: left alone */
}

static void
test_doctor(void)
{
    g_autofree char *cfg = g_strdup_printf("<vspan><pool name='p'><pf dev='%s' vfs='0-3'/></pool></vspan>", pf);
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanConfig) config = vspan_config_parse(cfg, strlen(cfg), "vspan.xml", &error);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *want = g_strdup_printf("ok    pool p pf %s", pf);

    g_assert_no_error(error);
    vspan_doctor_run(config, "/etc/libvirt/hooks/qemu.d", FALSE, out);
    g_test_message("%s", out->str);
    assert_contains(out->str, want);
    assert_contains(out->str, "driver netdevsim, 4 of ");
    assert_contains(out->str, "VF 0 reads back: vlan 0, spoofchk");
    /* Debian's kernel has cls_matchall: the probe must say so */
    assert_contains(out->str, "ok    kernel classifier      matchall available");
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *names = NULL;

    g_test_init(&argc, &argv, NULL);
    /* no IPv6 autoconfiguration chatter: every frame seen is one a test sent */
    nt_run("echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6");
    /* a netdevsim PF with four VFs */
    nt_run("echo '1 1' > /sys/bus/netdevsim/new_device");
    for (int i = 0; i < 50 && nt_sh(&names, "ls /sys/bus/netdevsim/devices/netdevsim1/net/ 2>/dev/null") != 0; i++) {
        g_clear_pointer(&names, g_free);
        g_usleep(100000);
    }
    if (!names)
        nt_sh(&names, "ls /sys/bus/netdevsim/devices/netdevsim1/net/");
    pf = g_strdup(g_strstrip(names));
    g_assert_true(*pf && !strchr(pf, '\n'));
    nt_run("echo 4 > /sys/bus/netdevsim/devices/netdevsim1/sriov_numvfs && /sbin/ip link set %s up", pf);
    be = vspan_linux_host_new(&error);
    g_assert_no_error(error);
    g_print("# netdevsim PF %s with 4 VFs\n", pf);

    g_test_add_func("/nested/vf/set-every-field-and-read-back", test_vf_set_all);
    g_test_add_func("/nested/vf/reset-to-safe-defaults", test_vf_reset);
    g_test_add_func("/nested/vf/plan-start-and-stopped", test_vf_plan_start_stop);
    g_test_add_func("/nested/vf/errors", test_vf_errors);
    g_test_add_func("/nested/mirror/matchall", test_mirror_matchall);
    g_test_add_func("/nested/agent/leases-follow-the-vf", test_agent_leases);
    g_test_add_func("/nested/doctor", test_doctor);
    g_test_add_func("/nested/agent/prepares-pool-pfs", test_agent_prepares_pfs);
    return g_test_run();
}
