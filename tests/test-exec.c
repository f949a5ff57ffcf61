/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor against the fake host: order, stop at the first failure,
 * refused plans change nothing.  The kernel side is test-netns. */
#include <glib.h>
#include <string.h>

#include "fake-host.h"
#include "vspan-exec.h"

static const char *config_xml =
    "<vspan><appliance name='ids' domain='ids'><sink type='tap' dev='vspan-ids'/></appliance></vspan>";

static VspanPlan *
plan_for(const char *mirror, VspanConfig **config, VspanDomain **dom)
{
    g_autofree char *xml = g_strdup_printf(
        "<domain><name>web1</name><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>%s"
        "</vspan:domain></metadata><devices>"
        "<interface type='bridge'><mac address='52:54:00:00:00:01'/><target dev='vnet0'/></interface>"
        "<interface type='bridge'><mac address='52:54:00:00:00:02'/><target dev='vnet1'/></interface>"
        "</devices></domain>", mirror);
    g_autoptr(VspanObserved) obs = vspan_observed_new();
    g_autoptr(GError) error = NULL;

    *config = vspan_config_parse(config_xml, strlen(config_xml), "vspan.xml", &error);
    g_assert_no_error(error);
    *dom = vspan_domain_parse(xml, strlen(xml), "web1.xml", &error);
    g_assert_no_error(error);
    return vspan_plan_build(VSPAN_PHASE_START, *dom, *config, obs);
}

/* a fake host with the domain's taps */
static FakeHost *
fake_new(void)
{
    FakeHost *f = fake_host_new();

    fake_host_add_link(f, "vnet0");
    fake_host_add_link(f, "vnet1");
    return f;
}

static void
test_order(void)
{
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanPlan) plan = plan_for("<vspan:mirror appliance='ids'/>", &config, &dom);
    g_autoptr(FakeHost) f = fake_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *log = NULL;

    g_assert_true(vspan_exec_apply(fake_host_host(f), plan, &error));
    fake_host_free(f);      /* the reference fake_host_host() took */
    g_assert_no_error(error);
    log = fake_host_take_log(f);
    g_assert_cmpstr(log, ==,
                    "sink-create vspan-ids\n"
                    "qdisc-add vnet0\nmirror-set vnet0 ingress vspan-ids\nmirror-set vnet0 egress vspan-ids\n"
                    "qdisc-add vnet1\nmirror-set vnet1 ingress vspan-ids\nmirror-set vnet1 egress vspan-ids\n");
}

static void
test_stops_at_first_failure(void)
{
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanPlan) plan = plan_for("<vspan:mirror appliance='ids'/>", &config, &dom);
    g_autoptr(FakeHost) f = fake_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *log = NULL;

    fake_host_fail_mirror_on(f, "vnet0");
    g_assert_false(vspan_exec_apply(fake_host_host(f), plan, &error));
    fake_host_free(f);
    g_assert_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL);
    g_assert_cmpstr(error->message, ==, "Cannot add the ingress mirror of 'vnet0'");
    log = fake_host_take_log(f);
    g_assert_cmpstr(log, ==, "sink-create vspan-ids\nqdisc-add vnet0\n");
}

static void
test_refused_changes_nothing(void)
{
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanPlan) plan = plan_for("<vspan:mirror appliance='ids'/><vspan:mirror appliance='nope'/>",
                                         &config, &dom);
    g_autoptr(FakeHost) f = fake_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *log = NULL;

    g_assert_false(vspan_exec_apply(fake_host_host(f), plan, &error));
    fake_host_free(f);
    g_assert_error(error, VSPAN_ERROR, VSPAN_ERROR_REFUSED);
    g_assert_cmpstr(error->message, ==,
                    "domain 'web1' line 1: <vspan:mirror appliance=\"nope\">: no appliance named 'nope' in vspan.xml (known: ids); fix the name or ask the host admin to define it");
    log = fake_host_take_log(f);
    g_assert_cmpstr(log, ==, "");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/exec/order", test_order);
    g_test_add_func("/exec/stops-at-first-failure", test_stops_at_first_failure);
    g_test_add_func("/exec/refused-changes-nothing", test_refused_changes_nothing);
    return g_test_run();
}
