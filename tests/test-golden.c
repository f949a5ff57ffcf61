/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Golden cases.  tests/data/plan/<phase>-<what>.xml is a live domain XML
 * (optional <case>.config.xml replaces tests/data/vspan.xml, optional
 * <case>.observed.xml is the observed host state); its text plan must equal
 * <case>.plan, or <case>.err when refused or invalid.  <case>.json, where
 * present, holds the JSON form.  tests/data/config/<case>.xml must give
 * <case>.ok or <case>.err.  VSPAN_TEST_REGENERATE=1 rewrites the expected
 * files; review the diff before committing.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "vspan-plan.h"
#include "vspan-select.h"

static const char *datadir;
static gboolean regenerate;

/* Whether filters compile on a live pcap handle here, as vspand's do (root,
 * "lo" up): the golden plans were made so, and a plan names the handle that
 * compiled its filters. */
static gboolean
live_handle_here(void)
{
    static int live = -1;

    if (live < 0) {
        VspanSelect sel = { .filter = (char *)"arp" };
        g_autoptr(GBytes) prog = NULL;
        gboolean l = FALSE;

        prog = vspan_select_compile(&sel, &l, NULL);
        live = prog && l;
    }
    return live;
}

static void
check_golden(const char *base, const char *ext, const char *other_ext, const char *actual)
{
    g_autofree char *path = g_strconcat(base, ext, NULL);
    g_autofree char *expected = NULL;
    g_autoptr(GError) error = NULL;

    if (regenerate) {
        g_autofree char *stale = other_ext ? g_strconcat(base, other_ext, NULL) : NULL;
        if (stale)
            g_unlink(stale);
        g_assert_true(g_file_set_contents(path, actual, -1, &error));
        return;
    }
    if (!g_file_get_contents(path, &expected, NULL, &error)) {
        g_test_message("missing %s; actual output:\n%s", path, actual);
        g_assert_no_error(error);
    }
    if (!g_str_equal(expected, actual))
        g_test_message("%s differs; actual output:\n%s", path, actual);
    g_assert_cmpstr(actual, ==, expected);
}

static VspanPhase
phase_of_case(const char *name)
{
    g_autofree char *prefix = g_strndup(name, strcspn(name, "-"));
    int phase = vspan_phase_from_string(prefix);

    return phase < 0 ? VSPAN_PHASE_START : phase;
}

static void
test_plan_case(gconstpointer data)
{
    const char *name = data;
    g_autofree char *base = g_build_filename(datadir, "plan", name, NULL);
    g_autofree char *xml_path = g_strconcat(base, ".xml", NULL);
    g_autofree char *config_path = g_strconcat(base, ".config.xml", NULL);
    g_autofree char *observed_path = g_strconcat(base, ".observed.xml", NULL);
    g_autofree char *json_path = g_strconcat(base, ".json", NULL);
    g_autofree char *buf = NULL, *cbuf = NULL, *out = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanObserved) obs = NULL;
    g_autoptr(VspanPlan) plan = NULL;
    gsize len = 0, clen = 0;
    g_autofree char *xml_name = g_strconcat(name, ".xml", NULL);

    if (!g_file_test(config_path, G_FILE_TEST_EXISTS)) {
        g_free(config_path);
        config_path = g_build_filename(datadir, "vspan.xml", NULL);
    }
    /* Messages name the config by its base name, as the agent names its own. */
    g_assert_true(g_file_get_contents(config_path, &cbuf, &clen, &error));
    config = vspan_config_parse(cbuf, clen, "vspan.xml", &error);
    g_assert_no_error(error);

    if (g_file_test(observed_path, G_FILE_TEST_EXISTS)) {
        obs = vspan_observed_load(observed_path, &error);
        g_assert_no_error(error);
    } else {
        obs = vspan_observed_new();
    }

    g_assert_true(g_file_get_contents(xml_path, &buf, &len, &error));
    dom = vspan_domain_parse(buf, len, xml_name, &error);
    if (!dom) {
        g_autofree char *text = g_strdup_printf("error: %s\n", error->message);
        check_golden(base, ".err", ".plan", text);
        return;
    }
    g_assert_no_error(error);
    if ((strstr(buf, "filter=") || strstr(cbuf, "filter=")) && !live_handle_here() && !regenerate) {
        /* the environment lacks it (a package build as a user, a network
         * namespace whose lo is down): say so rather than compare plans
         * that say "compiled without a live handle" */
        g_test_skip("filters compile on a live pcap handle only with CAP_NET_RAW and lo up; "
                    "the golden plans name that handle");
        return;
    }
    plan = vspan_plan_build(phase_of_case(name), dom, config, obs);
    out = vspan_plan_format_text(plan);
    if (vspan_plan_refuses(plan))
        check_golden(base, ".err", ".plan", out);
    else
        check_golden(base, ".plan", ".err", out);

    /* Every error is one line: it is what the virsh user reads. */
    for (guint i = 0; i < plan->errors->len; i++)
        g_assert_null(strchr(plan->errors->pdata[i], '\n'));

    if (g_file_test(json_path, G_FILE_TEST_EXISTS)) {
        g_autofree char *json = vspan_plan_format_json(plan);
        check_golden(base, ".json", NULL, json);
    }
}

static void
test_config_case(gconstpointer data)
{
    const char *name = data;
    g_autofree char *base = g_build_filename(datadir, "config", name, NULL);
    g_autofree char *path = g_strconcat(base, ".xml", NULL);
    g_autofree char *file_name = g_strconcat(name, ".xml", NULL);
    g_autofree char *buf = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanConfig) config = NULL;
    gsize len = 0;

    g_assert_true(g_file_get_contents(path, &buf, &len, &error));
    config = vspan_config_parse(buf, len, file_name, &error);
    if (!config) {
        g_autofree char *text = g_strdup_printf("error: %s\n", error->message);
        g_assert_null(strchr(error->message, '\n'));
        check_golden(base, ".err", ".ok", text);
    } else {
        g_autofree char *text = g_strdup_printf("valid: %u appliances, %u bridge policies, %u bridge tags, %u pools\n",
                                                config->appliances->len,
                                                config->bridge_policies->len, config->bridge_tags->len, config->pools->len);
        check_golden(base, ".ok", ".err", text);
    }
}

static GPtrArray *
list_cases(const char *subdir)
{
    g_autofree char *dir_path = g_build_filename(datadir, subdir, NULL);
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    GPtrArray *cases = g_ptr_array_new_with_free_func(g_free);
    const char *entry;

    g_assert_nonnull(dir);
    while ((entry = g_dir_read_name(dir))) {
        if (!g_str_has_suffix(entry, ".xml") || g_str_has_suffix(entry, ".config.xml") ||
            g_str_has_suffix(entry, ".observed.xml"))
            continue;
        g_ptr_array_add(cases, g_strndup(entry, strlen(entry) - 4));
    }
    g_ptr_array_sort(cases, (GCompareFunc)g_strcmp0);
    return cases;
}

int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) plans = NULL;
    g_autoptr(GPtrArray) configs = NULL;

    g_test_init(&argc, &argv, NULL);
    datadir = g_getenv("VSPAN_TEST_DATA");
    if (!datadir)
        datadir = VSPAN_TEST_DATA;
    regenerate = g_getenv("VSPAN_TEST_REGENERATE") != NULL;

    plans = list_cases("plan");
    configs = list_cases("config");
    /* The floor: at least 40 planner cases over every phase. */
    g_assert_cmpuint(plans->len, >=, 40);
    for (guint i = 0; i < plans->len; i++) {
        g_autofree char *path = g_strdup_printf("/golden/plan/%s", (char *)plans->pdata[i]);
        g_test_add_data_func(path, plans->pdata[i], test_plan_case);
    }
    for (guint i = 0; i < configs->len; i++) {
        g_autofree char *path = g_strdup_printf("/golden/config/%s", (char *)configs->pdata[i]);
        g_test_add_data_func(path, configs->pdata[i], test_config_case);
    }
    return g_test_run();
}
