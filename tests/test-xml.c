/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers and schemas: MACs, interface names, PCI addresses, range sets,
 * and the RelaxNG schemas on their own (tests/data/schema, docs/examples). */
#include <glib.h>
#include <string.h>

#include "vspan-plan.h"

static const char *datadir;
static const char *examplesdir;

static void
test_mac(void)
{
    char out[18];

    g_assert_true(vspan_mac_parse("52:54:00:AB:cd:01", out));
    g_assert_cmpstr(out, ==, "52:54:00:ab:cd:01");
    g_assert_false(vspan_mac_parse("52:54:00:ab:cd", out));
    g_assert_false(vspan_mac_parse("52:54:00:ab:cd:0g", out));
    g_assert_false(vspan_mac_parse("52-54-00-ab-cd-01", out));
    g_assert_false(vspan_mac_parse("52:54:00:ab:cd:011", out));
    g_assert_false(vspan_mac_parse(NULL, out));
}

static void
test_ifname(void)
{
    const char *why = NULL;

    g_assert_true(vspan_ifname_valid("vspan-ids-a", TRUE, &why));
    g_assert_true(vspan_ifname_valid("abcdefghijklmno", FALSE, &why));
    g_assert_false(vspan_ifname_valid("abcdefghijklmnop", FALSE, &why));
    g_assert_cmpstr(why, ==, "is longer than 15 characters");
    g_assert_false(vspan_ifname_valid("a/b", FALSE, &why));
    g_assert_false(vspan_ifname_valid("a:b", FALSE, &why));
    g_assert_false(vspan_ifname_valid("a b", FALSE, &why));
    g_assert_false(vspan_ifname_valid("..", FALSE, &why));
    g_assert_false(vspan_ifname_valid("", FALSE, &why));
    g_assert_true(vspan_ifname_valid("vnet-ids", FALSE, &why));
    g_assert_false(vspan_ifname_valid("vnet-ids", TRUE, &why));
    g_assert_false(vspan_ifname_valid("macvtap3", TRUE, &why));
}

static void
test_pci(void)
{
    VspanPciAddr a, b;
    g_autofree char *s = NULL;

    g_assert_true(vspan_pci_addr_parse("0000:3b:02.1", &a));
    s = vspan_pci_addr_format(&a);
    g_assert_cmpstr(s, ==, "0000:3b:02.1");
    g_assert_true(vspan_pci_addr_parse("0000:3B:02.1", &b));
    g_assert_true(vspan_pci_addr_equal(&a, &b));
    g_assert_false(vspan_pci_addr_parse("0000:3b:02.8", &a));
    g_assert_false(vspan_pci_addr_parse("0000:3b:20.1", &a));
    g_assert_false(vspan_pci_addr_parse("3b:02.1", &a));
    g_assert_false(vspan_pci_addr_parse("0000:3b:02.1x", &a));
}

static void
test_ranges(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanRangeSet) set = vspan_range_set_parse("300, 100-199,150-210,211", 4095, &error);
    g_autoptr(VspanRangeSet) other = NULL;
    g_autofree char *text = NULL;
    guint first = 0;

    g_assert_no_error(error);
    text = vspan_range_set_format(set);
    g_assert_cmpstr(text, ==, "100-211,300");
    g_assert_cmpuint(vspan_range_set_count(set), ==, 113);
    g_assert_true(vspan_range_set_contains(set, 100));
    g_assert_true(vspan_range_set_contains(set, 211));
    g_assert_false(vspan_range_set_contains(set, 212));
    g_assert_false(vspan_range_set_contains(set, 99));

    other = vspan_range_set_parse("212-299,300", 4095, &error);
    g_assert_true(vspan_range_set_overlaps(set, other, &first));
    g_assert_cmpuint(first, ==, 300);

    g_assert_null(vspan_range_set_parse("100-4096", 4095, &error));
    g_assert_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID);
    g_assert_cmpstr(error->message, ==, "4096 is out of range; use 0-4095");
    g_clear_error(&error);
    g_assert_null(vspan_range_set_parse("9-1", 4095, &error));
    g_assert_cmpstr(error->message, ==, "range 9-1 is reversed; write the low end first");
    g_clear_error(&error);
    g_assert_null(vspan_range_set_parse("1-2-3", 4095, &error));
    g_clear_error(&error);
    g_assert_null(vspan_range_set_parse("", 4095, &error));
}

static void
test_schema_fixture(gconstpointer data)
{
    const char *path = data;
    g_autofree char *buf = NULL;
    g_autofree char *base = g_path_get_basename(path);
    g_autoptr(GError) error = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    gsize len = 0;
    gboolean ok;

    g_assert_true(g_file_get_contents(path, &buf, &len, NULL));
    doc = vspan_xml_parse(buf, len, base, &error);
    g_assert_no_error(error);
    ok = vspan_xml_validate(xmlDocGetRootElement(doc),
                            g_str_has_prefix(base, "domain-") ? "vspan-domain.rng" : "vspan-config.rng",
                            base, &error);
    if (strstr(base, "-invalid")) {
        g_assert_false(ok);
        g_assert_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID);
        /* The message says where and which schema. */
        g_assert_true(g_str_has_prefix(error->message, base));
        g_assert_nonnull(strstr(error->message, ".rng"));
    } else {
        g_assert_no_error(error);
        g_assert_true(ok);
    }
}

/* Every example loads, validates, and plans without error against the
 * example host config. */
static void
test_example(gconstpointer data)
{
    const char *path = data;
    g_autofree char *config_path = g_build_filename(examplesdir, "vspan.xml", NULL);
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *buf = NULL;
    gsize len = 0;

    config = vspan_config_load(config_path, &error);
    g_assert_no_error(error);
    /* host configs (vspan*.xml): valid, and every appliance has a sink */
    if (g_str_has_prefix(strrchr(path, '/') + 1, "vspan")) {
        g_autoptr(VspanConfig) other = vspan_config_load(path, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(other->appliances->len + other->pools->len, >, 0);
        return;
    }
    g_assert_true(g_file_get_contents(path, &buf, &len, NULL));
    {
        g_autoptr(VspanDomain) dom = vspan_domain_parse(buf, len, path, &error);
        g_autoptr(VspanObserved) obs = vspan_observed_new();
        g_autoptr(VspanPlan) plan = NULL;

        g_assert_no_error(error);
        plan = vspan_plan_build(VSPAN_PHASE_PREPARE, dom, config, obs);
        if (plan->errors->len)
            g_test_message("%s: %s", path, (char *)plan->errors->pdata[0]);
        g_assert_cmpuint(plan->errors->len, ==, 0);
    }
}

static void
add_dir_tests(const char *prefix, const char *dir_path, GTestDataFunc func)
{
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    const char *entry;

    g_assert_nonnull(dir);
    while ((entry = g_dir_read_name(dir)))
        if (g_str_has_suffix(entry, ".xml"))
            g_ptr_array_add(names, (gpointer)g_intern_string(entry));
    g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
    g_assert_cmpuint(names->len, >, 0);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *test = g_strdup_printf("%s/%s", prefix, (char *)names->pdata[i]);
        char *path = g_build_filename(dir_path, names->pdata[i], NULL);
        g_test_add_data_func_full(test, path, func, g_free);
    }
}

int
main(int argc, char **argv)
{
    g_autofree char *schemadir = NULL;

    g_test_init(&argc, &argv, NULL);
    datadir = g_getenv("VSPAN_TEST_DATA");
    if (!datadir)
        datadir = VSPAN_TEST_DATA;
    examplesdir = VSPAN_EXAMPLES;
    schemadir = g_build_filename(datadir, "schema", NULL);

    g_test_add_func("/xml/mac", test_mac);
    g_test_add_func("/xml/ifname", test_ifname);
    g_test_add_func("/xml/pci", test_pci);
    g_test_add_func("/xml/ranges", test_ranges);
    add_dir_tests("/schema", schemadir, test_schema_fixture);
    add_dir_tests("/examples", examplesdir, test_example);
    return g_test_run();
}
