/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's rules against the fake host (tests/fake-host.c), with no
 * root and no kernel: lease generations and late releases, repairs that
 * set only what drifted, appliance restarts, refused starts, a resync
 * after vspand was away, which devices the netlink watch cares about.
 * The same rules meet the real kernel in the netns, libvirt and nested
 * tiers. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "fake-host.h"
#include "vspan-bpf-params.h"
#include "vspan-agent.h"

#define WEB_UUID "11111111-1111-4111-8111-111111111111"
#define VFA_UUID "22222222-2222-4222-8222-222222222222"
#define VFB_UUID "33333333-3333-4333-8333-333333333333"
#define IDS_UUID "44444444-4444-4444-8444-444444444444"
#define WEB2_UUID "55555555-5555-4555-8555-555555555555"

static const char *config_xml =
    "<vspan>"
    "<appliance name='ids' domain='ids'><sink type='tap' dev='vspan-ids'/></appliance>"
    "<appliance name='ids-i' domain='ids-vm'><sink type='interface' mac='52:54:00:aa:00:01'/></appliance>"
    "<pool name='p' network='p-net'><pf dev='pf0' vfs='0-3'/><vlan allow='100-199'/><trust allow='any'/></pool>"
    "</vspan>";

typedef struct {
    char *dir;
    char *config;
    FakeHost *fake;
    VspanAgent *agent;
} Fixture;

static VspanAgent *
agent_start(Fixture *fx)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *state = g_build_filename(fx->dir, "state", NULL);
    VspanAgent *agent = vspan_agent_new(fx->config, state, fake_host_host(fx->fake), &error);

    g_assert_no_error(error);
    vspan_agent_ensure_sinks(agent);
    return agent;
}

static void
fx_setup(Fixture *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    fx->dir = g_dir_make_tmp("vspan-agent-XXXXXX", &error);
    g_assert_no_error(error);
    fx->config = g_build_filename(fx->dir, "vspan.xml", NULL);
    g_assert_true(g_file_set_contents(fx->config, config_xml, -1, &error));
    fx->fake = fake_host_new();
    fake_host_add_pf(fx->fake, "pf0", 4);
    fx->agent = agent_start(fx);
    g_free(fake_host_take_log(fx->fake));
}

static void
rm_rf(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        if (g_file_test(child, G_FILE_TEST_IS_DIR))
            rm_rf(child);
        else
            g_unlink(child);
    }
    g_rmdir(path);
}

static void
fx_teardown(Fixture *fx, gconstpointer data)
{
    vspan_agent_free(fx->agent);
    fake_host_free(fx->fake);
    rm_rf(fx->dir);
    g_free(fx->dir);
    g_free(fx->config);
}

/* A domain's live XML: a bridge NIC (tap @tap, or none) and/or a pool VF. */
static char *
domain_xml(const char *name, const char *uuid, const char *annotation, const char *mac, const char *tap,
           int vf)
{
    g_autoptr(GString) s = g_string_new(NULL);

    g_string_append_printf(s, "<domain type='qemu'><name>%s</name><uuid>%s</uuid>", name, uuid);
    if (annotation)
        g_string_append_printf(s, "<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>%s"
                                  "</vspan:domain></metadata>", annotation);
    g_string_append(s, "<devices>");
    if (tap)
        g_string_append_printf(s, "<interface type='bridge'><mac address='%s'/><source bridge='br0'/>"
                                  "<target dev='%s'/></interface>", mac, tap);
    if (vf >= 0)
        g_string_append_printf(s, "<interface type='hostdev' managed='yes'><mac address='%s'/><source>"
                                  "<address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x%x'/>"
                                  "</source><alias name='hostdev0'/></interface>", mac, vf + 1);
    g_string_append(s, "</devices></domain>");
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static int
hook(Fixture *fx, const char *phase, const char *xml, char **message)
{
    g_autofree char *msg = NULL;
    const char *sub = g_str_equal(phase, "stopped") || g_str_equal(phase, "release") ? "end" : "begin";
    int rc = vspan_agent_hook(fx->agent, phase, sub, xml, &msg);

    if (message)
        *message = g_steal_pointer(&msg);
    return rc;
}

/* what libvirt does for a start that vspan accepts */
static void
start(Fixture *fx, const char *xml)
{
    g_assert_cmpint(hook(fx, "prepare", xml, NULL), ==, 0);
    g_assert_cmpint(hook(fx, "start", xml, NULL), ==, 0);
    g_assert_cmpint(hook(fx, "started", xml, NULL), ==, 0);
}

static char *
status_json(Fixture *fx)
{
    g_autofree char *text = NULL;
    return vspan_agent_status(fx->agent, &text);
}

/* the writes since the last look */
static char *
writes(Fixture *fx)
{
    return fake_host_take_log(fx->fake);
}

static void
run_idle(void)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

/* ---- leases ------------------------------------------------------------------ */

/* A VF goes from A to B; A's release arrives after B started: B keeps its
 * settings, the lease stays B's, and B's lease has a newer generation. */
static void
test_lease_late_release(Fixture *fx, gconstpointer data)
{
    g_autofree char *a = domain_xml("vf-a", VFA_UUID, "<vspan:vf mac='52:54:00:00:00:0a' vlan='100' trust='on'/>",
                                    "52:54:00:00:00:0a", NULL, 1);
    g_autofree char *b = domain_xml("vf-b", VFB_UUID, "<vspan:vf mac='52:54:00:00:00:0b' vlan='101'/>",
                                    "52:54:00:00:00:0b", NULL, 1);
    g_autofree char *w1 = NULL, *w2 = NULL, *w3 = NULL, *j1 = NULL, *j2 = NULL, *j3 = NULL;
    const VspanVfSettings *vf = fake_host_vf(fx->fake, "pf0", 1);

    start(fx, a);
    w1 = writes(fx);
    g_assert_cmpstr(w1, ==, "vf-set pf0/1 vlan=100 trust=on spoofchk=on\n");
    j1 = status_json(fx);
    g_assert_nonnull(strstr(j1, "{\"pf\":\"pf0\",\"vf\":1,\"pool\":\"p\",\"domain\":\"vf-a\",\"uuid\":\"" VFA_UUID "\",\"generation\":1}"));

    /* libvirt hands the VF to B before A's stop hooks arrive */
    start(fx, b);
    w2 = writes(fx);
    g_assert_cmpstr(w2, ==, "vf-set pf0/1 vlan=101 trust=off spoofchk=on\n");
    j2 = status_json(fx);
    g_assert_nonnull(strstr(j2, "\"domain\":\"vf-b\",\"uuid\":\"" VFB_UUID "\",\"generation\":2}"));

    g_assert_cmpint(hook(fx, "stopped", a, NULL), ==, 0);
    g_assert_cmpint(hook(fx, "release", a, NULL), ==, 0);
    w3 = writes(fx);
    g_assert_cmpstr(w3, ==, "");
    g_assert_cmpuint(vf->vlan, ==, 101);
    j3 = status_json(fx);
    g_assert_nonnull(strstr(j3, "\"domain\":\"vf-b\",\"uuid\":\"" VFB_UUID "\",\"generation\":2}"));

    /* B's own stop resets the VF and ends the lease */
    g_assert_cmpint(hook(fx, "stopped", b, NULL), ==, 0);
    g_free(w3);
    w3 = writes(fx);
    g_assert_cmpstr(w3, ==, "vf-reset pf0/1 vlan=0 trust=off spoofchk=on\n");
    g_free(j3);
    j3 = status_json(fx);
    g_assert_nonnull(strstr(j3, "\"vf_leases\":[]"));
}

/* ---- repairs ------------------------------------------------------------------ */

static void
test_repair_only_drift(Fixture *fx, gconstpointer data)
{
    g_autofree char *web = domain_xml("web", WEB_UUID, "<vspan:mirror appliance='ids'/>", "52:54:00:00:00:01", "vnet0", -1);
    g_autofree char *vfd = domain_xml("vf-a", VFA_UUID, "<vspan:vf mac='52:54:00:00:00:0a' vlan='100' trust='on'/>",
                                      "52:54:00:00:00:0a", NULL, 2);
    g_autofree char *w = NULL, *j = NULL, *ing = NULL, *eg = NULL;

    fake_host_add_link(fx->fake, "vnet0");
    start(fx, web);
    start(fx, vfd);
    g_free(writes(fx));

    vspan_agent_repair(fx->agent);
    w = writes(fx);
    g_assert_cmpstr(w, ==, "");

    /* trust switched off behind vspan's back: only that VF is set again */
    fake_host_vf(fx->fake, "pf0", 2)->trust = VSPAN_SWITCH_OFF;
    vspan_agent_repair(fx->agent);
    g_free(w);
    w = writes(fx);
    g_assert_cmpstr(w, ==, "vf-set pf0/2 vlan=100 trust=on spoofchk=on\n");

    /* one filter deleted: only that hook is mirrored again */
    fake_host_del_filter(fx->fake, "vnet0", VSPAN_HOOK_INGRESS);
    vspan_agent_repair(fx->agent);
    g_free(w);
    w = writes(fx);
    g_assert_cmpstr(w, ==, "mirror-set vnet0 ingress vspan-ids\n");
    ing = fake_host_mirror(fx->fake, "vnet0", VSPAN_HOOK_INGRESS);
    eg = fake_host_mirror(fx->fake, "vnet0", VSPAN_HOOK_EGRESS);
    g_assert_cmpstr(ing, ==, "vspan-ids");
    g_assert_cmpstr(eg, ==, "vspan-ids");
    j = status_json(fx);
    g_assert_nonnull(strstr(j, "\"repairs\":1,"));
}

/* ---- appliances ---------------------------------------------------------------- */

static void
test_appliance_restart(Fixture *fx, gconstpointer data)
{
    g_autofree char *ids1 = domain_xml("ids-vm", IDS_UUID, NULL, "52:54:00:aa:00:01", "vnet10", -1);
    g_autofree char *ids2 = domain_xml("ids-vm", IDS_UUID, NULL, "52:54:00:aa:00:01", "vnet12", -1);
    g_autofree char *web2 = domain_xml("web2", WEB2_UUID, "<vspan:mirror appliance='ids-i'/>",
                                       "52:54:00:00:00:02", "vnet11", -1);
    g_autofree char *m1 = NULL, *m2 = NULL, *m3 = NULL;

    fake_host_add_link(fx->fake, "vnet10");
    fake_host_add_link(fx->fake, "vnet11");
    start(fx, ids1);
    start(fx, web2);
    m1 = fake_host_mirror(fx->fake, "vnet11", VSPAN_HOOK_INGRESS);
    g_assert_cmpstr(m1, ==, "vnet10");
    g_assert_true(vspan_agent_watches(fx->agent, "vnet10"));

    /* the appliance stops (its tap goes first) and starts on a new tap */
    fake_host_del_link(fx->fake, "vnet10");
    g_assert_cmpint(hook(fx, "stopped", ids1, NULL), ==, 0);
    g_assert_cmpint(hook(fx, "release", ids1, NULL), ==, 0);
    run_idle();
    g_assert_false(vspan_agent_watches(fx->agent, "vnet10"));
    fake_host_add_link(fx->fake, "vnet12");
    g_free(writes(fx));
    start(fx, ids2);
    run_idle();
    m2 = fake_host_mirror(fx->fake, "vnet11", VSPAN_HOOK_INGRESS);
    m3 = fake_host_mirror(fx->fake, "vnet11", VSPAN_HOOK_EGRESS);
    g_assert_cmpstr(m2, ==, "vnet12");
    g_assert_cmpstr(m3, ==, "vnet12");
    g_assert_true(vspan_agent_watches(fx->agent, "vnet12"));
}

/* ---- refusals -------------------------------------------------------------------- */

static void
test_refused_start_then_stop(Fixture *fx, gconstpointer data)
{
    g_autofree char *x = domain_xml("vf-bad", VFA_UUID, "<vspan:vf mac='52:54:00:00:00:0a' vlan='300'/>",
                                    "52:54:00:00:00:0a", NULL, 0);
    g_autofree char *m1 = NULL, *m2 = NULL, *w = NULL, *j = NULL;

    /* what the start hook sees: libvirt took VF 0 from the pool */
    g_assert_cmpint(hook(fx, "prepare", x, &m1), ==, 1);
    g_assert_nonnull(strstr(m1, "VLAN 300"));
    /* a start hook for it anyway (the refusal came from another hook) */
    g_assert_cmpint(hook(fx, "start", x, &m2), ==, 1);
    g_assert_cmpstr(m1, ==, m2);
    /* libvirt follows a refused start with stopped and release */
    g_assert_cmpint(hook(fx, "stopped", x, NULL), ==, 0);
    g_assert_cmpint(hook(fx, "release", x, NULL), ==, 0);
    /* the refusal set nothing; the stop hooks put the VF libvirt had
     * handed it back to safe defaults (each of them: idempotent), and no
     * lease or record of the domain exists */
    w = writes(fx);
    g_assert_cmpstr(w, ==, "vf-reset pf0/0 vlan=0 trust=off spoofchk=on\n"
                           "vf-reset pf0/0 vlan=0 trust=off spoofchk=on\n");
    j = status_json(fx);
    g_assert_nonnull(strstr(j, "\"vf_leases\":[]"));
    g_assert_nonnull(strstr(j, "\"domains\":0,"));
}

/* ---- vspand away ----------------------------------------------------------------- */

static void
test_resync_after_away(Fixture *fx, gconstpointer data)
{
    g_autofree char *web = domain_xml("web", WEB_UUID, "<vspan:mirror appliance='ids'/>", "52:54:00:00:00:01", "vnet0", -1);
    g_autofree char *vfd = domain_xml("vf-a", VFA_UUID, "<vspan:vf mac='52:54:00:00:00:0a' vlan='100' trust='on'/>",
                                      "52:54:00:00:00:0a", NULL, 3);
    g_autoptr(GPtrArray) live = g_ptr_array_new();
    g_autofree char *w = NULL, *j = NULL;

    fake_host_add_link(fx->fake, "vnet0");
    start(fx, web);
    start(fx, vfd);
    /* vspand stops; vf-a stops meanwhile (libvirt restores MAC and VLAN
     * only: trust stays on); vspand starts again and resyncs */
    vspan_agent_free(fx->agent);
    fake_host_vf(fx->fake, "pf0", 3)->vlan = 0;
    g_free(writes(fx));
    fx->agent = agent_start(fx);
    g_ptr_array_add(live, web);
    vspan_agent_sync(fx->agent, live);

    w = writes(fx);
    g_assert_cmpstr(w, ==, "vf-reset pf0/3 vlan=0 trust=off spoofchk=on\n");
    j = status_json(fx);
    g_assert_nonnull(strstr(j, "\"vf_leases\":[]"));
    g_assert_nonnull(strstr(j, "{\"domain\":\"web\",\"uuid\":\"" WEB_UUID "\",\"mac\":\"52:54:00:00:00:01\","
                               "\"tap\":\"vnet0\",\"appliance\":\"ids\",\"direction\":\"both\""));
    g_assert_nonnull(strstr(j, "\"domains\":1,"));
}

/* ---- counters and the netlink watch ---------------------------------------------- */

static void
test_status_and_watch(Fixture *fx, gconstpointer data)
{
    g_autofree char *web = domain_xml("web", WEB_UUID, "<vspan:mirror appliance='ids' direction='from-vm'/>",
                                      "52:54:00:00:00:01", "vnet0", -1);
    g_autofree char *j = NULL, *metrics = NULL;

    fake_host_add_link(fx->fake, "vnet0");
    fake_host_add_link(fx->fake, "eth9");
    start(fx, web);
    fake_host_count(fx->fake, "vnet0", VSPAN_HOOK_INGRESS, 7);
    j = status_json(fx);
    g_assert_nonnull(strstr(j, "\"direction\":\"from-vm\",\"packets\":7,\"bytes\":700,\"drops\":0}"));
    metrics = vspan_agent_metrics(fx->agent);
    g_assert_nonnull(strstr(metrics, "vspan_mirror_packets_total{domain=\"web\",mac=\"52:54:00:00:00:01\","
                                     "tap=\"vnet0\",appliance=\"ids\",direction=\"from-vm\"} 7\n"));

    /* taps of managed domains, sinks and pool PFs; nothing else */
    g_assert_true(vspan_agent_watches(fx->agent, "vnet0"));
    g_assert_true(vspan_agent_watches(fx->agent, "vspan-ids"));
    g_assert_true(vspan_agent_watches(fx->agent, "pf0"));
    g_assert_false(vspan_agent_watches(fx->agent, "eth9"));
    g_assert_cmpint(hook(fx, "stopped", web, NULL), ==, 0);
    g_assert_false(vspan_agent_watches(fx->agent, "vnet0"));
}

/* "Mirror all" on a domain with a bridge NIC and a VF: the VF is named at
 * prepare, and listed as unmonitored in status and metrics while the
 * domain runs; the bridge NIC is mirrored. */
static void
test_unmonitored(Fixture *fx, gconstpointer data)
{
    g_autofree char *web = domain_xml("web", WEB_UUID, "<vspan:mirror appliance='ids'/>", "52:54:00:00:00:01",
                                      "vnet0", 1);
    g_autofree char *msg = NULL, *text = NULL, *j = NULL, *metrics = NULL;

    fake_host_add_link(fx->fake, "vnet0");
    /* vspand logs the warning (libvirt's hook gets only refusals) */
    g_test_expect_message("vspand", G_LOG_LEVEL_MESSAGE,
                          "*interface 52:54:00:00:00:01 (hostdev0), type 'hostdev', is not monitored: a VF passed through*");
    g_assert_cmpint(hook(fx, "prepare", web, &msg), ==, 0);
    g_test_assert_expected_messages();
    g_assert_null(msg);
    g_assert_cmpint(hook(fx, "start", web, NULL), ==, 0);
    g_assert_cmpint(hook(fx, "started", web, NULL), ==, 0);
    j = vspan_agent_status(fx->agent, &text);
    g_test_message("%s", text);
    g_assert_nonnull(strstr(j, "\"unmonitored\":[{\"domain\":\"web\",\"mac\":\"52:54:00:00:00:01\",\"type\":\"hostdev\","
                               "\"why\":\"a VF passed through"));
    g_assert_nonnull(strstr(j, "\"tap\":\"vnet0\",\"appliance\":\"ids\",\"direction\":\"both\""));
    g_assert_nonnull(strstr(text, "unmonitored (asked for, cannot be mirrored):\n  web            52:54:00:00:00:01 hostdev"));
    metrics = vspan_agent_metrics(fx->agent);
    g_assert_nonnull(strstr(metrics, "vspan_unmonitored_interface{domain=\"web\",mac=\"52:54:00:00:00:01\",type=\"hostdev\"} 1\n"));
    g_assert_cmpint(hook(fx, "stopped", web, NULL), ==, 0);
    g_assert_cmpint(hook(fx, "release", web, NULL), ==, 0);
    g_clear_pointer(&j, g_free);
    g_clear_pointer(&text, g_free);
    j = vspan_agent_status(fx->agent, &text);
    g_assert_nonnull(strstr(j, "\"unmonitored\":[]"));
}

/* Sensor hygiene: a sink with a smaller MTU than a NIC mirrored to it is
 * named in status, with the fix; with the MTUs matched the line goes. */
static void
test_sink_mtu(Fixture *fx, gconstpointer data)
{
    g_autofree char *web = domain_xml("web", WEB_UUID, "<vspan:mirror appliance='ids'/>", "52:54:00:00:00:01",
                                      "vnet0", -1);
    g_autofree char *text = NULL, *j = NULL, *text2 = NULL, *j2 = NULL;

    fake_host_add_link(fx->fake, "vnet0");
    fake_host_set_mtu(fx->fake, "vnet0", 9000);
    start(fx, web);
    j = vspan_agent_status(fx->agent, &text);
    g_assert_nonnull(strstr(j, "\"sink_dev\":\"vspan-ids\",\"sink_present\":true,\"sink_carrier\":false,"
                               "\"sink_mtu\":1500,\"largest_mirrored_mtu\":9000,"));
    g_assert_nonnull(strstr(text, "  warning: vspan-ids has MTU 1500 and mirrors NIC vnet0 with MTU 9000: larger copies are "
                                  "dropped by a veth or NIC sink and by an appliance NIC with the smaller MTU; raise both to 9000 "
                                  "(ip link set vspan-ids mtu 9000; the appliance's <mtu size='9000'/>)\n"));
    fake_host_set_mtu(fx->fake, "vspan-ids", 9000);
    j2 = vspan_agent_status(fx->agent, &text2);
    g_assert_nonnull(strstr(j2, "\"sink_mtu\":9000,\"largest_mirrored_mtu\":9000,"));
    g_assert_null(strstr(text2, "warning:"));
}


/* ---- inline appliances ------------------------------------------------------ */

/* An inline NIC: its tap gets the appliance, whose state follows its ports'
 * carrier at once (a link event, not a repair); a repair changes nothing;
 * the stop gives the tag back. */
static void
test_inline(Fixture *fx, gconstpointer data)
{
    static const char *inline_config =
        "<vspan><appliance name='ips' domain='ips' mode='inline' on-failure='bypass'>"
        "<sink type='inline' vm-side='vspan-ipsa0' net-side='vspan-ipsa1'/><health canary='off'/></appliance></vspan>";
    g_autofree char *web = domain_xml("web", WEB_UUID, "<vspan:inline appliance='ips'/>", "52:54:00:00:00:01",
                                      "vnet0", -1);
    g_autofree char *w = NULL, *w2 = NULL, *w3 = NULL, *text = NULL, *j = NULL, *text2 = NULL, *j2 = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_set_contents(fx->config, inline_config, -1, &error));
    vspan_agent_free(fx->agent);
    fx->agent = agent_start(fx);
    /* the ports exist (vspand made them), the appliance not yet up */
    g_assert_cmpuint(fake_host_inline_state(fx->fake, "ips"), ==, VSPAN_INLINE_BYPASS + 1);
    fake_host_set_carrier(fx->fake, "vspan-ipsa0", TRUE);
    fake_host_set_carrier(fx->fake, "vspan-ipsa1", TRUE);
    fake_host_add_link(fx->fake, "vnet0");
    g_free(writes(fx));
    start(fx, web);
    w = writes(fx);
    g_assert_nonnull(strstr(w, "inline-set vnet0 ips 52:54:00:00:00:01\n"));
    g_assert_nonnull(strstr(w, "inline-state ips 1\n"));
    g_assert_cmpuint(fake_host_inline_state(fx->fake, "ips"), ==, VSPAN_INLINE_THROUGH + 1);

    fake_host_set_carrier(fx->fake, "vspan-ipsa1", FALSE);
    vspan_agent_link_event(fx->agent, "vspan-ipsa1");
    g_assert_cmpuint(fake_host_inline_state(fx->fake, "ips"), ==, VSPAN_INLINE_BYPASS + 1);
    j = vspan_agent_status(fx->agent, &text);
    g_assert_nonnull(strstr(text, "inline appliance ips (domain ips): bypass (a port has no carrier (the appliance is down or gone)) for 0 s, 2 switches; on failure: bypass\n"));
    g_assert_nonnull(strstr(j, "\"inline\":[{\"name\":\"ips\",\"domain\":\"ips\",\"vm_side\":\"vspan-ipsa0\",\"net_side\":\"vspan-ipsa1\",\"on_failure\":\"bypass\",\"state\":\"bypass\","));
    g_assert_nonnull(strstr(j, "\"vms\":1,"));
    fake_host_set_carrier(fx->fake, "vspan-ipsa1", TRUE);
    vspan_agent_link_event(fx->agent, "vspan-ipsa1");
    g_assert_cmpuint(fake_host_inline_state(fx->fake, "ips"), ==, VSPAN_INLINE_THROUGH + 1);
    j2 = vspan_agent_status(fx->agent, &text2);
    g_assert_nonnull(strstr(j2, "\"state\":\"through\",\"why\":\"healthy\","));
    g_assert_nonnull(strstr(j2, "\"switches\":3,"));

    /* a repair finds the tap right: nothing written */
    g_free(writes(fx));
    vspan_agent_repair(fx->agent);
    w2 = writes(fx);
    g_assert_null(strstr(w2, "inline-"));

    g_assert_cmpint(hook(fx, "stopped", web, NULL), ==, 0);
    w3 = writes(fx);
    g_assert_nonnull(strstr(w3, "inline-del vnet0\n"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* the agent logs warnings it handles (a VF it cannot reset, ...) */
    g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fx_setup, fn, fx_teardown)
    ADD("/agent/lease/late-release", test_lease_late_release);
    ADD("/agent/repair/only-drift", test_repair_only_drift);
    ADD("/agent/appliance/restart", test_appliance_restart);
    ADD("/agent/refused-start-then-stop", test_refused_start_then_stop);
    ADD("/agent/resync-after-away", test_resync_after_away);
    ADD("/agent/status-and-watch", test_status_and_watch);
    ADD("/agent/unmonitored", test_unmonitored);
    ADD("/agent/sink-mtu", test_sink_mtu);
    ADD("/agent/inline", test_inline);
    return g_test_run();
}
