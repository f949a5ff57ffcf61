/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor against a recording fake backend: order, stop at the first
 * failure, refused plans change nothing.  The kernel side is test-netns. */
#include <glib.h>
#include <string.h>

#include "vspan-exec.h"

typedef struct {
    VspanBackend parent;
    GPtrArray *log;
    const char *fail_on;    /* dev whose mirror_set fails */
} Fake;

static gboolean
fake_sink(VspanBackend *b, const VspanAppliance *a, const char *dev, GError **error)
{
    g_ptr_array_add(((Fake *)b)->log, g_strdup_printf("sink %s %s", a->name, dev));
    return TRUE;
}

static gboolean
fake_qdisc(VspanBackend *b, const char *dev, GError **error)
{
    g_ptr_array_add(((Fake *)b)->log, g_strdup_printf("qdisc %s", dev));
    return TRUE;
}

static gboolean
fake_set(VspanBackend *b, const char *dev, VspanHook hook, VspanClassifier cls,
         const char *const *sinks, GError **error)
{
    Fake *f = (Fake *)b;
    g_autofree char *s = g_strjoinv(",", (char **)sinks);

    if (f->fail_on && g_str_equal(dev, f->fail_on)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "Cannot add the %s mirror of '%s'",
                    vspan_hook_to_string(hook), dev);
        return FALSE;
    }
    g_ptr_array_add(f->log, g_strdup_printf("set %s %s %s", dev, vspan_hook_to_string(hook), s));
    return TRUE;
}

static gboolean
fake_del(VspanBackend *b, const char *dev, VspanHook hook, GError **error)
{
    g_ptr_array_add(((Fake *)b)->log, g_strdup_printf("del %s %s", dev, vspan_hook_to_string(hook)));
    return TRUE;
}

static void
fake_free(VspanBackend *b)
{
    g_ptr_array_unref(((Fake *)b)->log);
    g_free(b);
}

static const VspanBackendClass fake_class = {
    .sink_ensure = fake_sink,
    .qdisc_ensure = fake_qdisc,
    .mirror_set = fake_set,
    .mirror_del = fake_del,
    .free = fake_free,
};

static Fake *
fake_new(void)
{
    Fake *f = g_new0(Fake, 1);

    f->parent.klass = &fake_class;
    f->log = g_ptr_array_new_with_free_func(g_free);
    return f;
}

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

static void
assert_log(Fake *f, const char *const *want)
{
    g_ptr_array_add(f->log, NULL);
    g_assert_cmpstrv((const char *const *)f->log->pdata, want);
    g_ptr_array_set_size(f->log, f->log->len - 1);
}

static void
test_order(void)
{
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanPlan) plan = plan_for("<vspan:mirror appliance='ids'/>", &config, &dom);
    Fake *f = fake_new();
    g_autoptr(VspanBackend) b = &f->parent;
    g_autoptr(GError) error = NULL;
    const char *const want[] = {
        "sink ids vspan-ids",
        "qdisc vnet0", "set vnet0 ingress vspan-ids", "set vnet0 egress vspan-ids",
        "qdisc vnet1", "set vnet1 ingress vspan-ids", "set vnet1 egress vspan-ids",
        NULL,
    };

    g_assert_true(vspan_exec_apply(b, plan, &error));
    g_assert_no_error(error);
    assert_log(f, want);
}

static void
test_stops_at_first_failure(void)
{
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanPlan) plan = plan_for("<vspan:mirror appliance='ids'/>", &config, &dom);
    Fake *f = fake_new();
    g_autoptr(VspanBackend) b = &f->parent;
    g_autoptr(GError) error = NULL;
    const char *const want[] = {
        "sink ids vspan-ids", "qdisc vnet0", NULL,
    };

    f->fail_on = "vnet0";
    g_assert_false(vspan_exec_apply(b, plan, &error));
    g_assert_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL);
    g_assert_cmpstr(error->message, ==, "Cannot add the ingress mirror of 'vnet0'");
    assert_log(f, want);
}

static void
test_refused_changes_nothing(void)
{
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanPlan) plan = plan_for("<vspan:mirror appliance='ids'/><vspan:mirror appliance='nope'/>",
                                         &config, &dom);
    Fake *f = fake_new();
    g_autoptr(VspanBackend) b = &f->parent;
    g_autoptr(GError) error = NULL;

    g_assert_false(vspan_exec_apply(b, plan, &error));
    g_assert_error(error, VSPAN_ERROR, VSPAN_ERROR_REFUSED);
    g_assert_cmpstr(error->message, ==,
                    "domain 'web1' line 1: <vspan:mirror appliance=\"nope\">: no appliance named 'nope' in vspan.xml (known: ids); fix the name or ask the host admin to define it");
    g_assert_cmpuint(f->log->len, ==, 0);
}

static void
test_vf_without_support(void)
{
    VspanPlan plan = { 0 };
    VspanOp op = { .type = VSPAN_OP_VF_SET, .dev = (char *)"ens2f0", .vf = 3 };
    Fake *f = fake_new();
    g_autoptr(VspanBackend) b = &f->parent;
    g_autoptr(GError) error = NULL;

    plan.ops = g_ptr_array_new();
    plan.errors = g_ptr_array_new();
    g_ptr_array_add(plan.ops, &op);
    g_assert_false(vspan_exec_apply(b, &plan, &error));
    g_assert_cmpstr(error->message, ==, "Cannot configure VF 3 of 'ens2f0': this backend has no SR-IOV support");
    g_ptr_array_unref(plan.ops);
    g_ptr_array_unref(plan.errors);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/exec/order", test_order);
    g_test_add_func("/exec/stops-at-first-failure", test_stops_at_first_failure);
    g_test_add_func("/exec/refused-changes-nothing", test_refused_changes_nothing);
    g_test_add_func("/exec/vf-without-support", test_vf_without_support);
    return g_test_run();
}
