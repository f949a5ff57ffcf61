/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vspan-bench: the mirror engine's control-plane costs, measured in a
 * private network namespace against iproute2's `tc -batch` doing the same
 * work in the same run.
 *
 *   vspan-bench install N REPS    time to install mirrors on N taps and to
 *                                 re-point all N to a new sink
 *   vspan-bench apply TAP SINK    mirror TAP both ways to netdev SINK (used
 *   vspan-bench release TAP       by bench/run for the throughput runs)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "vspan-exec.h"

#define CONFIG_FMT \
    "<vspan><appliance name='ids' domain='ids'><sink type='netdev' dev='%s' %s/></appliance>" \
    "<program name='head8' builtin='flow-head' packets='8'/>%s</vspan>"

static VspanPlan *
plan_taps(const char *prefix, guint n, const char *sink, VspanConfig **config)
{
    g_autoptr(GString) xml = g_string_new("<domain><name>bench</name><metadata>"
                                          "<vspan:domain xmlns:vspan='urn:vspan:domain:1'>"
                                          "<vspan:mirror appliance='ids'/></vspan:domain></metadata><devices>");
    g_autofree char *cfg = g_strdup_printf(CONFIG_FMT, sink, "", "");
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanObserved) obs = vspan_observed_new();
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < n; i++)
        g_string_append_printf(xml, "<interface type='bridge'><mac address='52:54:00:%02x:%02x:%02x'/>"
                                    "<target dev='%s%u'/></interface>",
                               (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, prefix, i);
    g_string_append(xml, "</devices></domain>");
    *config = vspan_config_parse(cfg, strlen(cfg), "vspan.xml", &error);
    g_assert_no_error(error);
    dom = vspan_domain_parse(xml->str, xml->len, "bench.xml", &error);
    g_assert_no_error(error);
    return vspan_plan_build(VSPAN_PHASE_START, dom, *config, obs);
}

/* Plan + apply through the real executor; returns microseconds. */
static gint64
vspan_apply_taps(VspanHost *be, const char *prefix, guint n, const char *sink)
{
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(VspanPlan) plan = plan_taps(prefix, n, sink, &config);

    if (!vspan_exec_apply(be, plan, &error))
        g_error("apply: %s", error->message);
    return g_get_monotonic_time() - t0;
}

static gint64
tc_batch(const char *batch)
{
    g_autofree char *path = g_strdup("/tmp/vspan-bench-XXXXXX");
    int fd = g_mkstemp(path);
    gint64 t0;
    char *argv[] = { "tc", "-batch", path, NULL };
    int status;

    g_assert_cmpint(write(fd, batch, strlen(batch)), ==, (gssize)strlen(batch));
    close(fd);
    t0 = g_get_monotonic_time();
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, NULL));
    t0 = g_get_monotonic_time() - t0;
    unlink(path);
    g_assert_cmpint(status, ==, 0);
    return t0;
}

static void
make_tap(const char *name)
{
    struct ifreq ifr = { 0 };
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

    g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
        g_error("tap %s: %s", name, g_strerror(errno));
    close(fd);
}

static int
cmp_i64(const void *a, const void *b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return x < y ? -1 : x > y;
}

static double
median_ms(GArray *a)
{
    qsort(a->data, a->len, sizeof(gint64), cmp_i64);
    return g_array_index(a, gint64, a->len / 2) / 1000.0;
}

static int
bench_install(guint n, guint reps)
{
    g_autoptr(GArray) v_inst = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_autoptr(GArray) v_rep = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_autoptr(GArray) t_inst = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_autoptr(GArray) t_rep = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_autoptr(GError) error = NULL;
    VspanHost *be;

    if (unshare(CLONE_NEWNET) < 0)
        g_error("unshare: %s (run as root)", g_strerror(errno));
    g_assert_true(g_spawn_command_line_sync("ip link add sink0 type veth peer name sink0p", NULL, NULL, NULL, NULL));
    g_assert_true(g_spawn_command_line_sync("ip link add sink1 type veth peer name sink1p", NULL, NULL, NULL, NULL));
    for (guint i = 0; i < n; i++) {
        g_autofree char *v = g_strdup_printf("v%u", i), *u = g_strdup_printf("u%u", i);
        make_tap(v);
        make_tap(u);
    }
    be = vspan_linux_host_new(&error);
    g_assert_no_error(error);

    for (guint r = 0; r < reps; r++) {
        g_autoptr(GString) add = g_string_new(NULL), rep = g_string_new(NULL), del = g_string_new(NULL);
        gint64 t;

        /* vspan: install, re-point, then remove (untimed) */
        t = vspan_apply_taps(be, "v", n, "sink0");
        g_array_append_val(v_inst, t);
        t = vspan_apply_taps(be, "v", n, "sink1");
        g_array_append_val(v_rep, t);
        for (guint i = 0; i < n; i++) {
            g_autofree char *v = g_strdup_printf("v%u", i);
            if (!vspan_linux_host_release(be, v, &error))
                g_error("release: %s", error->message);
        }
        /* baseline: the same filters through tc -batch */
        for (guint i = 0; i < n; i++) {
            g_string_append_printf(add, "qdisc add dev u%u clsact\n"
                                        "filter add dev u%u ingress prio 48896 protocol all u32 match u32 0 0 action mirred egress mirror dev sink0 continue\n"
                                        "filter add dev u%u egress prio 48897 protocol all u32 match u32 0 0 action mirred egress mirror dev sink0 continue\n",
                                   i, i, i);
            g_string_append_printf(rep, "filter replace dev u%u ingress prio 48896 handle 800::800 protocol all u32 match u32 0 0 action mirred egress mirror dev sink1 continue\n"
                                        "filter replace dev u%u egress prio 48897 handle 801::800 protocol all u32 match u32 0 0 action mirred egress mirror dev sink1 continue\n",
                                   i, i);
            g_string_append_printf(del, "qdisc del dev u%u clsact\n", i);
        }
        t = tc_batch(add->str);
        g_array_append_val(t_inst, t);
        t = tc_batch(rep->str);
        g_array_append_val(t_rep, t);
        tc_batch(del->str);
    }
    printf("| %u | %.2f | %.3f | %.2f | %.2f | %.2f | %.2f |\n", n,
           median_ms(v_inst), median_ms(v_inst) / n, median_ms(t_inst),
           median_ms(v_rep), median_ms(t_rep), median_ms(v_inst) / median_ms(t_inst));
    vspan_host_free(be);
    return 0;
}

/* @rule: extra attributes of the <vspan:mirror> ("filter='...'"), or "";
 * @shape: extra attributes of the sink ("snaplen='128'"), or "";
 * $VSPAN_BENCH_TAG_BRIDGE: the tap is on that bridge, which has a
 * <bridge-tag vlan='101'> */
static int
bench_apply(const char *tap, const char *sink, const char *rule, const char *shape)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanHost) be = vspan_linux_host_new(&error);
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(GString) xml = g_string_new(NULL);
    const char *tag_bridge = g_getenv("VSPAN_BENCH_TAG_BRIDGE");
    g_autofree char *tag = tag_bridge ? g_strdup_printf("<bridge-tag bridge='%s' vlan='101'/>", tag_bridge)
                                      : g_strdup("");
    g_autofree char *cfg = g_strdup_printf(CONFIG_FMT, sink, shape, tag);
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanObserved) obs = vspan_observed_new();
    g_autoptr(VspanPlan) plan = NULL;

    g_assert_no_error(error);
    g_string_printf(xml, "<domain><name>bench</name><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>"
                         "<vspan:mirror appliance='ids' %s/></vspan:domain></metadata><devices>"
                         "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='%s'/>"
                         "<target dev='%s'/></interface></devices></domain>",
                    rule, tag_bridge ? tag_bridge : "br0", tap);
    config = vspan_config_parse(cfg, strlen(cfg), "vspan.xml", &error);
    g_assert_no_error(error);
    be->klass->programs_sync(be, config->programs);
    dom = vspan_domain_parse(xml->str, xml->len, "bench.xml", &error);
    g_assert_no_error(error);
    plan = vspan_plan_build(VSPAN_PHASE_START, dom, config, obs);
    if (!vspan_exec_apply(be, plan, &error)) {
        fprintf(stderr, "vspan-bench: %s\n", error->message);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 4 && g_str_equal(argv[1], "install"))
        return bench_install(atoi(argv[2]), atoi(argv[3]));
    if (argc >= 4 && argc <= 6 && g_str_equal(argv[1], "apply"))
        return bench_apply(argv[2], argv[3], argc >= 5 ? argv[4] : "", argc == 6 ? argv[5] : "");
    if (argc == 3 && g_str_equal(argv[1], "release")) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VspanHost) be = vspan_linux_host_new(&error);
        /* bench/run added the mirror from a fresh tap: the clsact is ours */
        if (be)
            g_hash_table_add(be->created_clsact, g_strdup(argv[2]));
        if (!be || !vspan_linux_host_release(be, argv[2], &error)) {
            fprintf(stderr, "vspan-bench: %s\n", error->message);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: vspan-bench install N REPS | apply TAP SINK [RULE-ATTRS [SINK-ATTRS]] | release TAP\n");
    return 2;
}
