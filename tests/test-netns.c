/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mirror engine against the real kernel.  Each case runs in a private
 * network namespace: a bridge br0 with two "VM" ports vnet0/vnet1 that are
 * real taps whose fds play the guests, an appliance sink that vspan creates
 * and the test reads through its own tun fd, as an appliance VM would.
 * Plans come from the real planner (domain XML + host config).  iproute2's
 * tc is used as an independent witness of kernel state.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns-util.h"
#include "vspan-exec.h"
#include "vspan-link.h"
#include "vspan-tc.h"

#define MAC_A "52:54:00:00:00:0a"
#define MAC_B "52:54:00:00:00:0b"
#define BCAST "ff:ff:ff:ff:ff:ff"

static const char *config_xml =
    "<vspan>"
    "  <appliance name='ids' domain='ids'><sink type='tap' dev='vspan-sink0'/></appliance>"
    "  <appliance name='ids2' domain='ids2'><sink type='tap' dev='vspan-sink1'/></appliance>"
    "  <appliance name='sensor' domain='sensor'><sink type='netdev' dev='eno3'/></appliance>"
    "  <appliance name='remote' domain='collector'>"
    "    <sink type='vxlan' remote='10.77.0.2' local='10.77.0.1' vni='4242'/></appliance>"
    "  <appliance name='vx64' domain='collector'>"
    "    <sink type='vxlan' remote='10.77.0.2' local='10.77.0.1' vni='64' snaplen='64'/></appliance>"
    "  <appliance name='vx128' domain='collector'>"
    "    <sink type='vxlan' remote='10.77.0.2' local='10.77.0.1' vni='128' snaplen='128'/></appliance>"
    "  <appliance name='vx1514' domain='collector'>"
    "    <sink type='vxlan' remote='10.77.0.2' local='10.77.0.1' vni='1514' snaplen='1514'/></appliance>"
    "</vspan>";

typedef struct {
    int a, b;               /* guests of vnet0 and vnet1 */
    VspanHost *be;
    VspanConfig *config;
} Fx;

static void
fx_setup(Fx *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(nt_enter_netns());
    nt_bridge_two_taps(&fx->a, &fx->b, MAC_A, MAC_B);
    fx->config = vspan_config_parse(config_xml, strlen(config_xml), "vspan.xml", &error);
    g_assert_no_error(error);
    fx->be = vspan_linux_host_new(&error);
    g_assert_no_error(error);
}

static void
fx_teardown(Fx *fx, gconstpointer data)
{
    close(fx->a);
    close(fx->b);
    vspan_host_free(fx->be);
    vspan_config_free(fx->config);
    /* The namespace and every link in it die with the next unshare/exit. */
}

/* Plan and apply the start phase for domain web1 whose interface on vnet0
 * is mirrored to @appliance in @direction; the error is returned. */
/* Plan domain web1 (its NIC on @tap) with @rules (<vspan:mirror>
 * elements) and apply it. */
static GError *
fx_apply_rules(Fx *fx, const char *tap, const char *rules)
{
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>web1</name>"
        "<uuid>6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f41</uuid>"
        "<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>%s</vspan:domain></metadata>"
        "<devices><interface type='bridge'><mac address='" MAC_A "'/>"
        "<source bridge='br0'/><target dev='%s'/><alias name='net0'/></interface>"
        "</devices></domain>", rules, tap);
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanDomain) dom = vspan_domain_parse(xml, strlen(xml), "web1.xml", &error);
    g_autoptr(VspanObserved) obs = vspan_observed_new();
    g_autoptr(VspanPlan) plan = NULL;

    g_assert_no_error(error);
    plan = vspan_plan_build(VSPAN_PHASE_START, dom, fx->config, obs);
    g_assert_cmpuint(plan->errors->len, ==, 0);
    vspan_exec_apply(fx->be, plan, &error);
    return g_steal_pointer(&error);
}

static GError *
fx_apply(Fx *fx, const char *tap, const char *appliance, const char *direction)
{
    g_autofree char *rule = g_strdup_printf("<vspan:mirror appliance='%s' direction='%s'/>", appliance, direction);

    return fx_apply_rules(fx, tap, rule);
}

static void
fx_apply_ok(Fx *fx, const char *appliance, const char *direction)
{
    g_autoptr(GError) error = fx_apply(fx, "vnet0", appliance, direction);

    g_assert_no_error(error);
}

#define open_sink nt_sink_open

static char *
witness(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static char *
witness(const char *fmt, ...)
{
    g_autofree char *cmd = NULL;
    char *out = NULL;
    va_list ap;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_assert_cmpint(nt_sh(&out, "%s", cmd), ==, 0);
    return out;
}

/* ---- traffic ------------------------------------------------------------ */

typedef struct {
    GPtrArray *from_a;      /* frames vnet0's guest sends */
    GPtrArray *from_b;      /* frames vnet1's guest sends */
} Traffic;

static void
traffic_free(Traffic *t)
{
    g_ptr_array_unref(t->from_a);
    g_ptr_array_unref(t->from_b);
}

static gboolean
is_link_local(GBytes *f)
{
    const guint8 *d = g_bytes_get_data(f, NULL);
    return d[0] == 0x01 && d[1] == 0x80 && d[2] == 0xc2;    /* the bridge keeps these */
}

/* IPv4, IPv6, ARP, LLDP, 802.1Q and 9000-byte frames both ways. */
static Traffic
traffic_make(void)
{
    Traffic t = {
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref),
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref),
    };

    g_ptr_array_add(t.from_a, nt_frame(MAC_B, MAC_A, 0x0800, 0, "a-ipv4", 98));
    g_ptr_array_add(t.from_a, nt_frame(MAC_B, MAC_A, 0x86dd, 0, "a-ipv6", 118));
    g_ptr_array_add(t.from_a, nt_frame(BCAST, MAC_A, 0x0806, 0, "a-arp", 60));
    g_ptr_array_add(t.from_a, nt_frame("01:80:c2:00:00:0e", MAC_A, 0x88cc, 0, "a-lldp", 80));
    g_ptr_array_add(t.from_a, nt_frame(MAC_B, MAC_A, 0x8100, 42, "a-dot1q", 102));
    g_ptr_array_add(t.from_a, nt_frame(MAC_B, MAC_A, 0x0800, 0, "a-jumbo", 9014));
    g_ptr_array_add(t.from_b, nt_frame(MAC_A, MAC_B, 0x0800, 0, "b-ipv4", 98));
    g_ptr_array_add(t.from_b, nt_frame(MAC_A, MAC_B, 0x86dd, 0, "b-ipv6", 118));
    g_ptr_array_add(t.from_b, nt_frame(BCAST, MAC_B, 0x0806, 0, "b-arp", 60));
    g_ptr_array_add(t.from_b, nt_frame("01:80:c2:00:00:0e", MAC_B, 0x88cc, 0, "b-lldp", 80));
    g_ptr_array_add(t.from_b, nt_frame(MAC_A, MAC_B, 0x8100, 7, "b-dot1q", 102));
    g_ptr_array_add(t.from_b, nt_frame(MAC_A, MAC_B, 0x0800, 0, "b-jumbo", 9014));
    return t;
}

/* Send the traffic; check the guests got what the bridge forwards (the
 * monitored traffic is untouched) and return what reached @sink_fd. */
static GPtrArray *
traffic_run(Fx *fx, Traffic *t, int sink_fd)
{
    g_autoptr(GPtrArray) at_a = NULL, at_b = NULL;

    for (guint i = 0; i < t->from_a->len; i++)
        nt_send(fx->a, t->from_a->pdata[i]);
    for (guint i = 0; i < t->from_b->len; i++)
        nt_send(fx->b, t->from_b->pdata[i]);
    at_a = nt_collect(fx->a, 150);
    at_b = nt_collect(fx->b, 150);
    for (guint i = 0; i < t->from_a->len; i++)
        g_assert_cmpuint(nt_count(at_b, t->from_a->pdata[i]), ==, is_link_local(t->from_a->pdata[i]) ? 0 : 1);
    for (guint i = 0; i < t->from_b->len; i++)
        g_assert_cmpuint(nt_count(at_a, t->from_b->pdata[i]), ==, is_link_local(t->from_b->pdata[i]) ? 0 : 1);
    return sink_fd >= 0 ? nt_collect(sink_fd, 150) : NULL;
}

/* Every frame of @from_a (tap ingress) and/or every forwarded frame of
 * @from_b (tap egress) arrived exactly once, byte for byte, and nothing else. */
static void
assert_copies(Traffic *t, GPtrArray *got, gboolean ingress, gboolean egress)
{
    guint expected = 0;

    for (guint i = 0; i < t->from_a->len; i++) {
        guint want = ingress ? 1 : 0;
        g_assert_cmpuint(nt_count(got, t->from_a->pdata[i]), ==, want);
        expected += want;
    }
    for (guint i = 0; i < t->from_b->len; i++) {
        guint want = egress && !is_link_local(t->from_b->pdata[i]) ? 1 : 0;
        g_assert_cmpuint(nt_count(got, t->from_b->pdata[i]), ==, want);
        expected += want;
    }
    if (got->len != expected) {
        for (guint i = 0; i < got->len; i++) {
            g_autofree char *hex = NULL;
            gsize n;
            const guint8 *d = g_bytes_get_data(got->pdata[i], &n);
            hex = g_strdup_printf("%02x%02x%02x%02x%02x%02x %02x%02x%02x%02x%02x%02x %02x%02x len %zu",
                                  d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], n);
            g_test_message("sink frame %u: %s", i, hex);
        }
    }
    g_assert_cmpuint(got->len, ==, expected);
}

/* ---- cases -------------------------------------------------------------- */

static void
test_directions(Fx *fx, gconstpointer data)
{
    static const struct {
        const char *direction;
        gboolean ingress, egress;
    } cases[] = {
        { "both", TRUE, TRUE },
        { "from-vm", TRUE, FALSE },
        { "to-vm", FALSE, TRUE },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        Traffic t = traffic_make();
        g_autoptr(GPtrArray) got = NULL;
        int sink;

        g_test_message("direction %s", cases[i].direction);
        fx_apply_ok(fx, "ids", cases[i].direction);
        sink = open_sink("vspan-sink0");
        got = traffic_run(fx, &t, sink);
        assert_copies(&t, got, cases[i].ingress, cases[i].egress);
        close(sink);
        vspan_linux_host_release(fx->be, "vnet0", &error);
        g_assert_no_error(error);
        traffic_free(&t);
    }
}

static void
test_not_mirrored(Fx *fx, gconstpointer data)
{
    Traffic t = traffic_make();
    g_autoptr(GPtrArray) got = NULL;
    int sink;

    /* The sink exists, vnet0 carries from-vm only, vnet1 nothing. */
    fx_apply_ok(fx, "ids", "from-vm");
    sink = open_sink("vspan-sink0");
    g_ptr_array_set_size(t.from_a, 0);
    got = traffic_run(fx, &t, sink);
    g_assert_cmpuint(got->len, ==, 0);
    close(sink);
    traffic_free(&t);
}

static void
test_veth_port(Fx *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) f = nt_frame(MAC_A, "52:54:00:00:00:0c", 0x0800, 0, "veth-port", 200);
    g_autoptr(GPtrArray) got = NULL, at_a = NULL;
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
    int ps, sink;
    gsize n;
    const void *d = g_bytes_get_data(f, &n);

    /* A bridge port that is a veth (its peer plays the VM). */
    nt_run("ip link add vnet5 type veth peer name vm5 && ip link set vnet5 master br0 up && ip link set vm5 up");
    error = fx_apply(fx, "vnet5", "ids", "from-vm");
    g_assert_no_error(error);
    sink = open_sink("vspan-sink0");
    ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    g_assert_cmpint(ps, >=, 0);
    sll.sll_ifindex = if_nametoindex("vm5");
    g_assert_cmpint(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), ==, 0);
    g_assert_cmpint(send(ps, d, n, 0), ==, (gssize)n);
    got = nt_collect(sink, 150);
    at_a = nt_collect(fx->a, 150);
    g_assert_cmpuint(nt_count(got, f), ==, 1);
    g_assert_cmpuint(got->len, ==, 1);
    g_assert_cmpuint(nt_count(at_a, f), ==, 1);
    close(ps);
    close(sink);
}

/* libvirt's <bandwidth> leaves an ingress qdisc, a root htb and a filter at
 * the kernel's first automatic priority; vspan must share them, leave them
 * as they were, and not stop that filter from running. */
static void
test_coexist_bandwidth(Fx *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *q0 = NULL, *f0 = NULL, *c0 = NULL, *e0 = NULL;
    g_autofree char *q1 = NULL, *f1 = NULL, *q2 = NULL, *f2 = NULL, *c2 = NULL, *e2 = NULL;
    g_autoptr(GPtrArray) got = NULL, seen = NULL;
    Traffic t = traffic_make();
    int wit, sink;

    wit = open_sink("witness0");
    nt_run("tc qdisc add dev vnet0 ingress && "
           "tc qdisc add dev vnet0 root handle 1: htb default 1 && "
           "tc class add dev vnet0 parent 1: classid 1:1 htb rate 10gbit && "
           "tc filter add dev vnet0 parent ffff: prio 49152 protocol all u32 match u32 0 0 "
           "action mirred egress mirror dev witness0");
    q0 = witness("tc qdisc show dev vnet0");
    f0 = witness("tc filter show dev vnet0 parent ffff:");
    c0 = witness("tc class show dev vnet0");
    e0 = witness("tc filter show dev vnet0 parent 1:");

    fx_apply_ok(fx, "ids", "both");
    sink = open_sink("vspan-sink0");
    q1 = witness("tc qdisc show dev vnet0");
    g_assert_cmpstr(q1, ==, q0);    /* no clsact, nothing replaced */
    f1 = witness("tc filter show dev vnet0 parent ffff: prio 49152");
    g_assert_nonnull(strstr(f1, "witness0"));

    got = traffic_run(fx, &t, sink);
    assert_copies(&t, got, TRUE, TRUE);
    /* libvirt's filter still ran on every frame from the VM. */
    seen = nt_collect(wit, 100);
    for (guint i = 0; i < t.from_a->len; i++)
        g_assert_cmpuint(nt_count(seen, t.from_a->pdata[i]), ==, 1);

    g_assert_true(vspan_linux_host_release(fx->be, "vnet0", &error));
    g_assert_no_error(error);
    q2 = witness("tc qdisc show dev vnet0");
    f2 = witness("tc filter show dev vnet0 parent ffff:");
    c2 = witness("tc class show dev vnet0");
    e2 = witness("tc filter show dev vnet0 parent 1:");
    g_assert_cmpstr(q2, ==, q0);
    g_assert_cmpstr(f2, ==, f0);
    g_assert_cmpstr(c2, ==, c0);
    g_assert_cmpstr(e2, ==, e0);
    close(sink);
    close(wit);
    traffic_free(&t);
}

static guint
count_lines(const char *s, const char *needle)
{
    guint n = 0;

    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void
test_repoint(Fx *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) before = NULL, after = NULL, got0 = NULL, got1 = NULL;
    g_autofree char *shown = NULL;
    VspanNl *nl = vspan_linux_host_nl(fx->be);
    VspanTcAttach at;
    Traffic t = traffic_make();
    int s0, s1;
    int ifindex = vspan_link_ifindex("vnet0");

    fx_apply_ok(fx, "ids", "both");
    g_assert_true(vspan_tc_probe(nl, ifindex, &at, &error));
    before = vspan_tc_dump(nl, ifindex, &at, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(before->len, ==, 2);

    fx_apply_ok(fx, "ids2", "both");
    s0 = open_sink("vspan-sink0");
    s1 = open_sink("vspan-sink1");
    after = vspan_tc_dump(nl, ifindex, &at, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(after->len, ==, 2);
    for (guint i = 0; i < 2; i++) {
        VspanTcFilter *fb = before->pdata[i], *fa = after->pdata[i];
        g_assert_cmpuint(fa->hook, ==, fb->hook);
        if (g_str_equal(fa->kind, "u32"))
            g_assert_cmphex(fa->handle, ==, fb->handle);    /* re-pointed in place */
        g_assert_cmpuint(fa->actions->len, ==, 1);
        g_assert_cmpuint(g_array_index(fa->actions, VspanTcAction, 0).ifindex, ==,
                         (guint)vspan_link_ifindex("vspan-sink1"));
    }
    /* The witness agrees: one mirred per hook, to the new sink. */
    shown = witness("tc filter show dev vnet0 ingress; tc filter show dev vnet0 egress");
    g_assert_cmpuint(count_lines(shown, "mirred"), ==, 2);
    g_assert_cmpuint(count_lines(shown, "vspan-sink1"), ==, 2);

    got1 = traffic_run(fx, &t, s1);
    assert_copies(&t, got1, TRUE, TRUE);
    got0 = nt_collect(s0, 50);
    g_assert_cmpuint(got0->len, ==, 0);
    close(s0);
    close(s1);
    traffic_free(&t);
}

static void
test_idempotent(Fx *fx, gconstpointer data)
{
    g_autofree char *once = NULL, *twice = NULL;

    fx_apply_ok(fx, "ids", "both");
    once = witness("tc qdisc show dev vnet0; tc filter show dev vnet0 ingress; tc filter show dev vnet0 egress");
    fx_apply_ok(fx, "ids", "both");
    twice = witness("tc qdisc show dev vnet0; tc filter show dev vnet0 ingress; tc filter show dev vnet0 egress");
    g_assert_cmpstr(twice, ==, once);
    g_assert_cmpuint(count_lines(twice, "mirred"), ==, 2);
    g_assert_cmpuint(count_lines(twice, "clsact"), ==, 1);
}

static void
test_removal(Fx *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *before = witness("tc qdisc show dev vnet0; tc filter show dev vnet0");
    g_autofree char *during = NULL, *after = NULL;

    fx_apply_ok(fx, "ids", "both");
    during = witness("tc qdisc show dev vnet0");
    g_assert_nonnull(strstr(during, "clsact"));
    g_assert_true(vspan_linux_host_release(fx->be, "vnet0", &error));
    g_assert_no_error(error);
    after = witness("tc qdisc show dev vnet0; tc filter show dev vnet0");
    g_assert_cmpstr(after, ==, before);
    /* and again: removal is idempotent */
    g_assert_true(vspan_linux_host_release(fx->be, "vnet0", &error));
    g_assert_no_error(error);
}

static void
test_repair(Fx *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) got = NULL;
    g_autofree char *expected = NULL;
    VspanNl *nl = vspan_linux_host_nl(fx->be);
    VspanTcAttach at;
    int ifindex = vspan_link_ifindex("vnet0");
    guint32 sink;
    int s;

    fx_apply_ok(fx, "ids", "both");
    sink = vspan_link_ifindex("vspan-sink0");
    nt_run("tc filter del dev vnet0 ingress prio %u", VSPAN_TC_PRIO_INGRESS);
    g_assert_true(vspan_tc_probe(nl, ifindex, &at, &error));
    g_assert_false(vspan_tc_mirror_verify(nl, ifindex, "vnet0", &at, VSPAN_HOOK_INGRESS, &sink, 1, &error));
    expected = g_strdup_printf("The ingress mirror of 'vnet0' is missing (expected copies to ifindex %u)", sink);
    g_assert_error(error, VSPAN_ERROR, VSPAN_ERROR_VERIFY);
    g_assert_cmpstr(error->message, ==, expected);
    g_clear_error(&error);
    g_assert_true(vspan_tc_mirror_verify(nl, ifindex, "vnet0", &at, VSPAN_HOOK_EGRESS, &sink, 1, &error));

    fx_apply_ok(fx, "ids", "both");
    g_assert_true(vspan_tc_mirror_verify(nl, ifindex, "vnet0", &at, VSPAN_HOOK_INGRESS, &sink, 1, &error));
    g_assert_no_error(error);
    s = open_sink("vspan-sink0");
    {
        Traffic t = traffic_make();
        got = traffic_run(fx, &t, s);
        assert_copies(&t, got, TRUE, TRUE);
        traffic_free(&t);
    }
    close(s);
}

static void
test_sink_gone(Fx *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) filters = NULL, at_b = NULL, at_a = NULL;
    VspanNl *nl = vspan_linux_host_nl(fx->be);
    VspanTcAttach at;
    int ifindex = vspan_link_ifindex("vnet0");

    fx_apply_ok(fx, "ids", "both");
    nt_run("ip link del vspan-sink0");
    for (guint i = 0; i < 50; i++) {
        g_autofree char *tag = g_strdup_printf("gone-%u", i);
        g_autoptr(GBytes) fa = nt_frame(MAC_B, MAC_A, 0x0800, 0, tag, 500);
        g_autoptr(GBytes) fb = nt_frame(MAC_A, MAC_B, 0x0800, 0, tag, 500);
        nt_send(fx->a, fa);
        nt_send(fx->b, fb);
    }
    /* The monitored flow is untouched: every frame still arrives. */
    at_b = nt_collect(fx->b, 150);
    at_a = nt_collect(fx->a, 150);
    g_assert_cmpuint(at_b->len, ==, 50);
    g_assert_cmpuint(at_a->len, ==, 50);
    /* and the lost copies are counted */
    g_assert_true(vspan_tc_probe(nl, ifindex, &at, &error));
    filters = vspan_tc_dump(nl, ifindex, &at, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(filters->len, ==, 2);
    for (guint i = 0; i < filters->len; i++) {
        const VspanTcFilter *f = filters->pdata[i];
        const VspanTcAction *a = &g_array_index(f->actions, VspanTcAction, 0);
        g_assert_cmpuint(a->packets, ==, 50);
        g_assert_cmpuint(a->drops, ==, 50);
        /* tc ingress runs after the Ethernet header is pulled */
        g_assert_cmpuint(a->bytes, ==, 50 * (f->hook == VSPAN_HOOK_INGRESS ? 500 - 14 : 500));
    }
}

static void
test_counters(Fx *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) filters = NULL, got = NULL;
    VspanNl *nl = vspan_linux_host_nl(fx->be);
    VspanTcAttach at;
    int ifindex = vspan_link_ifindex("vnet0");
    Traffic t = traffic_make();
    guint64 bytes_a = 0, bytes_b = 0;
    int s;

    fx_apply_ok(fx, "ids", "both");
    s = open_sink("vspan-sink0");
    got = traffic_run(fx, &t, s);
    for (guint i = 0; i < t.from_a->len; i++)
        bytes_a += g_bytes_get_size(t.from_a->pdata[i]);
    for (guint i = 0; i < t.from_b->len; i++)
        if (!is_link_local(t.from_b->pdata[i]))
            bytes_b += g_bytes_get_size(t.from_b->pdata[i]);
    g_assert_true(vspan_tc_probe(nl, ifindex, &at, &error));
    filters = vspan_tc_dump(nl, ifindex, &at, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < filters->len; i++) {
        const VspanTcFilter *f = filters->pdata[i];
        const VspanTcAction *a = &g_array_index(f->actions, VspanTcAction, 0);
        g_assert_true(f->ours);
        g_assert_cmpuint(a->drops, ==, 0);
        /* The kernel's byte counts: at ingress the Ethernet header is
         * already pulled (14 bytes less a frame); on both hooks the one
         * 802.1Q tag sits in skb metadata, not in the data (4 less). */
        if (f->hook == VSPAN_HOOK_INGRESS) {
            g_assert_cmpuint(a->packets, ==, t.from_a->len);
            g_assert_cmpuint(a->bytes, ==, bytes_a - 14 * t.from_a->len - 4);
        } else {
            g_assert_cmpuint(a->packets, ==, t.from_b->len - 1);
            g_assert_cmpuint(a->bytes, ==, bytes_b - 4);
        }
    }
    close(s);
    traffic_free(&t);
}

/* One VXLAN packet as the collector captured it. */
typedef struct {
    guint vni;
    GBytes *inner;
    gboolean fragment;      /* an outer IP fragment */
} VxCopy;

static void
vx_copy_free(VxCopy *c)
{
    g_bytes_unref(c->inner);
    g_free(c);
}

/* A vxlan collector, 10.77.0.2 in a namespace of its own behind a veth
 * (MTU 1500) from 10.77.0.1: once it listens, @rules are applied to vnet0
 * and @frames sent from guest A; returns what reached it, decoded (outer IP
 * fragments are counted, not decoded). */
static GPtrArray *
vxlan_collect(Fx *fx, const char *rules, GPtrArray *frames, guint *frags)
{
    int ready[2], result[2];
    pid_t pid;
    char c;
    int status;
    g_autoptr(GByteArray) buf = g_byte_array_new();
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vx_copy_free);

    *frags = 0;
    g_assert_cmpint(pipe2(ready, O_CLOEXEC), ==, 0);
    g_assert_cmpint(pipe2(result, O_CLOEXEC), ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        /* the collector: its own namespace, captures on its veth end */
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
        g_autoptr(GPtrArray) got = NULL;
        int ps;

        if (unshare(CLONE_NEWNET) < 0)
            _exit(2);
        g_assert_cmpint(write(ready[1], "n", 1), ==, 1);
        for (int i = 0; i < 100 && !if_nametoindex("vxp"); i++)
            g_usleep(20000);
        nt_run("ip link set lo up && ip addr add 10.77.0.2/24 dev vxp && ip link set vxp up");
        ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
        sll.sll_ifindex = if_nametoindex("vxp");
        if (ps < 0 || bind(ps, (struct sockaddr *)&sll, sizeof(sll)) < 0)
            _exit(3);
        g_assert_cmpint(write(ready[1], "r", 1), ==, 1);
        got = nt_collect(ps, 1000);
        for (guint i = 0; i < got->len; i++) {
            gsize n;
            const guint8 *d = g_bytes_get_data(got->pdata[i], &n);
            guint32 len = n;
            if (write(result[1], &len, 4) != 4 || write(result[1], d, n) != (gssize)n)
                _exit(4);
        }
        _exit(0);
    }
    close(ready[1]);
    close(result[1]);
    g_assert_cmpint(read(ready[0], &c, 1), ==, 1);
    nt_run("ip link add vxh type veth peer name vxp netns %d && ip addr add 10.77.0.1/24 dev vxh && ip link set vxh up", pid);
    g_assert_cmpint(read(ready[0], &c, 1), ==, 1);

    {
        g_autoptr(GError) error = fx_apply_rules(fx, "vnet0", rules);
        g_assert_no_error(error);
    }
    for (guint i = 0; i < frames->len; i++)
        nt_send(fx->a, frames->pdata[i]);

    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (;;) {
        guint8 chunk[65536];
        ssize_t n = read(result[0], chunk, sizeof(chunk));
        if (n <= 0)
            break;
        g_byte_array_append(buf, chunk, n);
    }
    for (gsize off = 0; off + 4 <= buf->len;) {
        guint32 len;
        const guint8 *p;
        VxCopy *vc;

        memcpy(&len, buf->data + off, 4);
        p = buf->data + off + 4;
        off += 4 + len;
        /* Ethernet + IPv4 (no options) + UDP dport 4789 + VXLAN */
        if (len < 14 + 20 + 8 + 8 || p[12] != 0x08 || p[13] != 0x00 || p[14 + 9] != 17)
            continue;
        if ((p[14 + 6] & 0x20) || ((p[14 + 6] & 0x1f) | p[14 + 7])) {
            (*frags)++;
            continue;
        }
        if (((p[14 + 22] << 8) | p[14 + 23]) != 4789)
            continue;
        g_assert_cmphex(p[14 + 28], ==, 0x08);     /* VNI present */
        vc = g_new0(VxCopy, 1);
        vc->vni = (p[14 + 32] << 16) | (p[14 + 33] << 8) | p[14 + 34];
        vc->inner = g_bytes_new(p + 14 + 36, len - 14 - 36);
        g_ptr_array_add(out, vc);
    }
    close(ready[0]);
    close(result[0]);
    return out;
}

/* A vxlan sink: copies leave encapsulated with the configured VNI for a
 * collector in another namespace; a frame larger than the path (8000
 * bytes over 1500) is cut to fit, never fragmented. */
static void
test_vxlan(Fx *fx, gconstpointer data)
{
    g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GPtrArray) got = NULL;
    const gsize fit = 1500 - 20 - 8 - 8;
    guint found = 0, cut = 0, frags = 0;
    VspanSinkStats st;
    GBytes *f3;

    g_ptr_array_add(frames, nt_frame(MAC_B, MAC_A, 0x0800, 0, "vx-one", 120));
    g_ptr_array_add(frames, nt_frame(MAC_B, MAC_A, 0x86dd, 0, "vx-two", 300));
    /* larger than the path to the collector (veth MTU 1500): cut to fit */
    g_ptr_array_add(frames, f3 = nt_frame(MAC_B, MAC_A, 0x0800, 0, "vx-jumbo", 8000));
    got = vxlan_collect(fx, "<vspan:mirror appliance='remote' direction='from-vm'/>", frames, &frags);
    for (guint i = 0; i < got->len; i++) {
        const VxCopy *vc = got->pdata[i];

        g_assert_cmpuint(vc->vni, ==, 4242);
        if (g_bytes_equal(vc->inner, frames->pdata[0]) || g_bytes_equal(vc->inner, frames->pdata[1]))
            found++;
        else if (g_bytes_get_size(vc->inner) == fit &&
                 memcmp(g_bytes_get_data(vc->inner, NULL), g_bytes_get_data(f3, NULL), fit) == 0)
            cut++;
    }
    g_test_message("vxlan: %u copies at the collector, %u whole, %u cut to %zu bytes, %u outer fragments",
                   got->len, found, cut, fit, frags);
    g_assert_cmpuint(got->len, ==, 3);
    g_assert_cmpuint(found, ==, 2);
    g_assert_cmpuint(cut, ==, 1);
    g_assert_cmpuint(frags, ==, 0);
    g_assert_true(fx->be->klass->sink_stats(fx->be, "vspanvx4242", &st));
    g_assert_cmpuint(st.truncated, ==, 1);
}

/* snaplen 64/128/1514 on three vxlan sinks (VNIs 64, 128, 1514), frames of
 * 60 to 9000 bytes from a 9000-MTU bridge: each collector copy is the
 * original's first min(length, snaplen, fit) bytes (1514 is above the
 * 1500-byte path's fit, 1464: the fit wins); the originals reach the other
 * guest whole. */
static void
test_vxlan_snaplen(Fx *fx, gconstpointer data)
{
    static const guint sizes[] = { 60, 64, 100, 128, 129, 1464, 1465, 1514, 4000, 9000 };
    static const struct { guint vni, limit; } sinks[] = { { 64, 64 }, { 128, 128 }, { 1514, 1500 - 36 } };
    g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GPtrArray) got = NULL, at_b = NULL;
    guint frags = 0;

    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree char *label = g_strdup_printf("vxsnap-%u", sizes[i]);
        g_ptr_array_add(frames, nt_frame(MAC_B, MAC_A, 0x0800, 0, label, sizes[i]));
    }
    got = vxlan_collect(fx, "<vspan:mirror appliance='vx64' direction='from-vm'/>"
                            "<vspan:mirror appliance='vx128' direction='from-vm'/>"
                            "<vspan:mirror appliance='vx1514' direction='from-vm'/>", frames, &frags);
    at_b = nt_collect(fx->b, 100);
    for (guint i = 0; i < frames->len; i++)
        g_assert_cmpuint(nt_count(at_b, frames->pdata[i]), ==, 1);      /* originals whole */
    g_assert_cmpuint(frags, ==, 0);
    for (guint k = 0; k < G_N_ELEMENTS(sinks); k++) {
        guint n = 0, right = 0;

        for (guint i = 0; i < got->len; i++) {
            const VxCopy *vc = got->pdata[i];

            if (vc->vni != sinks[k].vni)
                continue;
            for (guint f = 0; f < frames->len; f++) {
                gsize olen, clen;
                const guint8 *o = g_bytes_get_data(frames->pdata[f], &olen);
                const guint8 *cp = g_bytes_get_data(vc->inner, &clen);
                /* each original carries its size in its label: one match each */
                if (clen == MIN(olen, sinks[k].limit) && memcmp(cp, o, clen) == 0)
                    right++;
            }
            n++;
        }
        g_test_message("vxlan VNI %u: %u copies, %u matching an original's first min(length, %u) bytes",
                       sinks[k].vni, n, right, sinks[k].limit);
        g_assert_cmpuint(n, ==, frames->len);
        g_assert_cmpuint(right, ==, frames->len);
    }
}

static void
test_errors(Fx *fx, gconstpointer data)
{
    g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL;
    g_autofree char *untouched = NULL;

    /* the domain's tap is missing */
    e1 = fx_apply(fx, "vnet9", "ids", "both");
    g_assert_error(e1, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND);
    g_assert_cmpstr(e1->message, ==, "Cannot mirror: tap 'vnet9' does not exist; the domain's interface is gone or not started");

    /* the appliance's sink is missing */
    e2 = fx_apply(fx, "vnet0", "sensor", "both");
    g_assert_error(e2, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND);
    g_assert_cmpstr(e2->message, ==, "Sink 'eno3' of appliance 'sensor' does not exist; create the host port or fix <sink dev> in vspan.xml");
    untouched = witness("tc qdisc show dev vnet0");
    g_assert_null(strstr(untouched, "clsact"));     /* nothing half-applied */

    /* the kernel refuses: the vxlan VNI and port are taken */
    nt_run("ip link add vx-taken type vxlan id 4242 dstport 4789 remote 10.77.0.2 local 10.77.0.1");
    e3 = fx_apply(fx, "vnet0", "remote", "both");
    g_assert_error(e3, VSPAN_ERROR, VSPAN_ERROR_KERNEL);
    g_assert_cmpstr(e3->message, ==, "Cannot create the vxlan sink 'vspanvx4242' (vni 4242, remote 10.77.0.2): File exists (kernel: A VXLAN device with the specified VNI already exists)");

    /* a filter vspan did not create sits at its priority */
    nt_run("tc qdisc add dev vnet1 clsact && tc filter add dev vnet1 ingress prio %u protocol all u32 match u32 0 0 action mirred egress mirror dev vnet0",
           VSPAN_TC_PRIO_INGRESS);
    e4 = fx_apply(fx, "vnet1", "ids", "both");
    g_assert_error(e4, VSPAN_ERROR, VSPAN_ERROR_KERNEL);
    g_assert_cmpstr(e4->message, ==, "Cannot mirror 'vnet1': a filter vspan did not create uses its reserved ingress priority 48896; move that filter to another priority");

    /* ingress qdisc without a classful root: no place for to-vm copies */
    nt_run("tc qdisc del dev vnet1 clsact && tc qdisc add dev vnet1 ingress");
    e5 = fx_apply(fx, "vnet1", "ids", "to-vm");
    g_assert_error(e5, VSPAN_ERROR, VSPAN_ERROR_KERNEL);
    g_assert_cmpstr(e5->message, ==, "Cannot mirror the to-vm traffic of 'vnet1': it has an ingress qdisc but no classful root qdisc to attach egress filters to; remove its <bandwidth> or give it an outbound limit too");
}

static void
test_classifier_fallback(Fx *fx, gconstpointer data)
{
    g_autofree char *shown = NULL;
    VspanClassifier cls;

    fx_apply_ok(fx, "ids", "both");
    cls = fx->be->classifier;
    shown = witness("tc filter show dev vnet0 ingress");
    /* Whatever the kernel offers, the witness agrees with what vspan says
     * it used; where cls_matchall cannot be loaded it must be u32. */
    if (cls == VSPAN_CLASSIFIER_MATCHALL) {
        g_assert_nonnull(strstr(shown, "matchall"));
    } else {
        g_assert_cmpint(cls, ==, VSPAN_CLASSIFIER_U32);
        g_assert_nonnull(strstr(shown, "u32"));
        g_assert_cmpint(nt_sh(NULL, "modprobe -n cls_matchall 2>/dev/null"), !=, 0);
    }
    g_test_message("classifier in use: %s", vspan_classifier_to_string(cls));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (geteuid() != 0) {
        /* The only environment that truly lacks the capability. */
        g_print("1..0 # SKIP the netns tier needs root (CAP_NET_ADMIN, /dev/net/tun)\n");
        return 0;
    }
#define ADD(path, fn) g_test_add("/netns/" path, Fx, NULL, fx_setup, fn, fx_teardown)
    ADD("directions-all-protocols", test_directions);
    ADD("not-mirrored", test_not_mirrored);
    ADD("veth-port", test_veth_port);
    ADD("coexist-libvirt-bandwidth", test_coexist_bandwidth);
    ADD("repoint", test_repoint);
    ADD("idempotent", test_idempotent);
    ADD("removal-restores-tap", test_removal);
    ADD("repair-after-delete", test_repair);
    ADD("sink-gone-fail-open", test_sink_gone);
    ADD("counters", test_counters);
    ADD("vxlan-sink", test_vxlan);
    ADD("vxlan-snaplen", test_vxlan_snaplen);
    ADD("errors", test_errors);
    ADD("classifier", test_classifier_fallback);
    return g_test_run();
}
