/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspanctl"

#include <locale.h>
#include <stdio.h>
#include <unistd.h>

#include "vspan-build-config.h"
#include "vspan-doctor.h"
#include "vspan-json.h"
#include "vspan-plan.h"
#include "vspan-proto.h"

/* Exit codes (vspanctl(1)). */
enum {
    VSPANCTL_EXIT_OK = 0,
    VSPANCTL_EXIT_REFUSED = 1,
    VSPANCTL_EXIT_USAGE = 2,
};

/* Errors quote XML and config values: printed as one clipped line. */
static void
vspanctl_error(const char *message)
{
    g_autofree char *clean = vspan_str_clean_max(message, VSPAN_MESSAGE_MAX);

    fprintf(stderr, "vspanctl: %s\n", clean);
}

static int
vspanctl_usage_error(GOptionContext *ctx, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static int
vspanctl_usage_error(GOptionContext *ctx, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "vspanctl: %s\n", msg);
    if (ctx)
        fprintf(stderr, "Try '%s --help'.\n", g_get_prgname());
    return VSPANCTL_EXIT_USAGE;
}

/* A missing config at the default path is an empty config (a host where the
 * admin has not written one yet); an explicit path must exist. */
static VspanConfig *
vspanctl_load_config(const char *path, GError **error)
{
    if (!path) {
        path = VSPAN_DEFAULT_CONFIG;
        if (!g_file_test(path, G_FILE_TEST_EXISTS))
            return vspan_config_new_empty(path);
    }
    return vspan_config_load(path, error);
}

static gboolean
vspanctl_read_input(const char *path, char **buf, gsize *len, GError **error)
{
    if (g_str_equal(path, "-")) {
        g_autoptr(GString) s = g_string_new(NULL);
        char chunk[65536];
        size_t n;

        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
            if (s->len + n > VSPAN_XML_MAX_BYTES) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                            "standard input is larger than the %u-byte limit; pass a libvirt domain XML",
                            VSPAN_XML_MAX_BYTES);
                return FALSE;
            }
            g_string_append_len(s, chunk, n);
        }
        *len = s->len;
        *buf = g_string_free(g_steal_pointer(&s), FALSE);
        return TRUE;
    }
    return vspan_file_read(path, buf, len, error);
}

/* The plan JSON when there is no plan (the input did not parse): every
 * documented key, empty, and the one error. */
static void
vspanctl_print_failure_json(VspanPhase phase, const char *message)
{
    static const char *const arrays[] = { "mirrors", "vfs", "unmonitored", "ops", "warnings" };
    g_autofree char *out = NULL;
    VspanJson j;

    vspan_json_init(&j);
    vspan_json_begin_object(&j, NULL);
    vspan_json_string(&j, "phase", vspan_phase_to_string(phase));
    vspan_json_null(&j, "domain");
    vspan_json_null(&j, "uuid");
    vspan_json_bool(&j, "needs_agent", FALSE);
    for (guint i = 0; i < G_N_ELEMENTS(arrays); i++) {
        vspan_json_begin_array(&j, arrays[i]);
        vspan_json_end_array(&j);
    }
    vspan_json_begin_array(&j, "errors");
    vspan_json_string(&j, NULL, message);
    vspan_json_end_array(&j);
    vspan_json_end_object(&j);
    out = vspan_json_finish(&j);
    fputs(out, stdout);
}

static int
vspanctl_plan(int argc, char **argv)
{
    g_autofree char *domain_xml = NULL, *config_path = NULL, *phase_str = NULL, *observed_path = NULL;
    gboolean json = FALSE, verbose = FALSE;
    GOptionEntry entries[] = {
        { "domain-xml", 'd', 0, G_OPTION_ARG_FILENAME, &domain_xml,
          "Live libvirt domain XML (- for standard input)", "FILE" },
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
          "Host config (default " VSPAN_DEFAULT_CONFIG ")", "FILE" },
        { "phase", 'p', 0, G_OPTION_ARG_STRING, &phase_str,
          "Hook phase: prepare, start (default), started, stopped, release, reconnect", "PHASE" },
        { "observed", 'o', 0, G_OPTION_ARG_FILENAME, &observed_path,
          "Observed host state to plan against (see vspanctl(1))", "FILE" },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
          "Also print each filter's compiled BPF program", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- show what the hook would do for a domain");
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanObserved) obs = NULL;
    g_autoptr(VspanPlan) plan = NULL;
    g_autofree char *buf = NULL, *out = NULL;
    gsize len = 0;
    int phase = VSPAN_PHASE_START;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return vspanctl_usage_error(ctx, "%s", error->message);
    if (argc > 1)
        return vspanctl_usage_error(ctx, "unexpected argument '%s'", argv[1]);
    if (!domain_xml)
        return vspanctl_usage_error(ctx, "plan needs --domain-xml FILE");
    if (phase_str) {
        phase = vspan_phase_from_string(phase_str);
        if (phase < 0)
            return vspanctl_usage_error(ctx, "unknown phase '%s'; use prepare, start, started, stopped, release, reconnect, migrate or restore",
                                        phase_str);
    }

    if (!(config = vspanctl_load_config(config_path, &error)) ||
        !vspanctl_read_input(domain_xml, &buf, &len, &error) ||
        !(dom = vspan_domain_parse(buf, len, g_str_equal(domain_xml, "-") ? "domain XML" : domain_xml, &error)) ||
        (observed_path && !(obs = vspan_observed_load(observed_path, &error)))) {
        if (json)
            vspanctl_print_failure_json(phase, error->message);
        else
            vspanctl_error(error->message);
        return VSPANCTL_EXIT_REFUSED;
    }
    if (!obs)
        obs = vspan_observed_new();

    plan = vspan_plan_build(phase, dom, config, obs);
    out = json ? vspan_plan_format_json(plan) : vspan_plan_format_text(plan);
    fputs(out, stdout);
    if (verbose && !json) {
        g_autofree char *programs = vspan_plan_format_programs(plan);
        fputs(programs, stdout);
    }
    return vspan_plan_refuses(plan) ? VSPANCTL_EXIT_REFUSED : VSPANCTL_EXIT_OK;
}

static int
vspanctl_check_config(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("[FILE] - validate the host config");
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanConfig) config = NULL;
    const char *path;

    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return vspanctl_usage_error(ctx, "%s", error->message);
    if (argc > 2)
        return vspanctl_usage_error(ctx, "check-config takes one file");
    path = argc == 2 ? argv[1] : VSPAN_DEFAULT_CONFIG;
    config = vspan_config_load(path, &error);
    if (!config) {
        vspanctl_error(error->message);
        return VSPANCTL_EXIT_REFUSED;
    }
    printf("%s: valid: %u appliance%s, %u bridge polic%s, %u pool%s\n", path,
           config->appliances->len, config->appliances->len == 1 ? "" : "s",
           config->bridge_policies->len, config->bridge_policies->len == 1 ? "y" : "ies",
           config->pools->len, config->pools->len == 1 ? "" : "s");
    return VSPANCTL_EXIT_OK;
}

static GVariant *
vspanctl_call(const char *command, GError **error)
{
    return vspan_proto_call(vspan_proto_socket_path(), vspan_proto_request_new(command, NULL),
                            10000, error);
}

static int
vspanctl_status(int argc, char **argv)
{
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- appliances, sinks and mirrors with counters");
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = NULL;
    const char *payload, *text;
    int status;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return vspanctl_usage_error(ctx, "%s", error->message);
    reply = vspanctl_call("status", &error);
    if (!reply) {
        vspanctl_error(error->message);
        return VSPANCTL_EXIT_REFUSED;
    }
    /* the agent renders both forms from the same data */
    g_variant_get(reply, "(i&s&s)", &status, &text, &payload);
    fputs(json ? payload : text, stdout);
    return status == 0 ? VSPANCTL_EXIT_OK : VSPANCTL_EXIT_REFUSED;
}

/* A command that only asks vspand and prints its answer: the one-line
 * message or the payload. */
static int
vspanctl_ask(const char *command, gboolean payload)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = vspanctl_call(command, &error);
    const char *message, *data;
    int status;

    if (!reply) {
        vspanctl_error(error->message);
        return VSPANCTL_EXIT_REFUSED;
    }
    g_variant_get(reply, "(i&s&s)", &status, &message, &data);
    if (payload)
        fputs(data, stdout);
    else
        printf("%s\n", message);
    return status == 0 ? VSPANCTL_EXIT_OK : VSPANCTL_EXIT_REFUSED;
}

static int
vspanctl_metrics(int argc, char **argv)
{
    return vspanctl_ask("metrics", TRUE);
}

static int
vspanctl_reconcile(int argc, char **argv)
{
    return vspanctl_ask("reconcile", FALSE);
}

static int
vspanctl_doctor(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Host config (default " VSPAN_DEFAULT_CONFIG ")", "FILE" },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- preflight checks of this host");
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    int rc;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return vspanctl_usage_error(ctx, "%s", error->message);
    config = vspanctl_load_config(config_path, &error);
    if (!config) {
        vspanctl_error(error->message);
        return VSPANCTL_EXIT_REFUSED;
    }
    rc = vspan_doctor_run(config, VSPAN_HOOKDIR, json, out);
    fputs(out->str, stdout);
    return rc == 0 ? VSPANCTL_EXIT_OK : VSPANCTL_EXIT_REFUSED;
}

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} VspanctlVerb;

static const VspanctlVerb verbs[] = {
    { "plan", vspanctl_plan, "show what the hook would do for a domain XML (offline)" },
    { "check-config", vspanctl_check_config, "validate the host config" },
    { "status", vspanctl_status, "appliances, sinks and mirrors with packet/byte/drop counters" },
    { "reconcile", vspanctl_reconcile, "ask vspand to repair and resync now" },
    { "metrics", vspanctl_metrics, "Prometheus text exposition of the counters" },
    { "doctor", vspanctl_doctor, "preflight: kernel features, IOMMU, SR-IOV PFs, libvirt, hook, vspand" },
};

static void
vspanctl_help(FILE *f)
{
    fprintf(f, "Usage: vspanctl COMMAND [OPTIONS]\n\nCommands:\n");
    for (guint i = 0; i < G_N_ELEMENTS(verbs); i++)
        fprintf(f, "  %-14s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(f, "\nvspanctl COMMAND --help shows a command's options.\n"
               "Exit status: 0 ok, 1 refused or invalid input, 2 usage error.\n");
}

int
main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    if (argc < 2) {
        vspanctl_help(stderr);
        return VSPANCTL_EXIT_USAGE;
    }
    if (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h") || g_str_equal(argv[1], "help")) {
        vspanctl_help(stdout);
        return VSPANCTL_EXIT_OK;
    }
    if (g_str_equal(argv[1], "--version")) {
        printf("vspanctl %s\n", VSPAN_VERSION);
        return VSPANCTL_EXIT_OK;
    }
    for (guint i = 0; i < G_N_ELEMENTS(verbs); i++) {
        if (g_str_equal(argv[1], verbs[i].name)) {
            g_autofree char *prgname = g_strdup_printf("vspanctl %s", verbs[i].name);
            g_set_prgname(prgname);
            return verbs[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "vspanctl: unknown command '%s'\n", argv[1]);
    vspanctl_help(stderr);
    return VSPANCTL_EXIT_USAGE;
}
