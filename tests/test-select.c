/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rules that select (filter=, sample=) against the real kernel, with a live
 * tcpdump as the oracle.  Each case runs in a private network namespace
 * with the two-tap bridge of the netns tier.  A fixed corpus of real
 * protocol frames (TCP 80/443/22, UDP 53/123, ICMP, IPv6 ND and TCP, ARP,
 * LLDP, 802.1Q with the tag in metadata, QinQ, priority-tagged, IP
 * fragments) crosses vnet0 in both directions while `tcpdump -i vnet0
 * 'EXPR'` runs on it; the frames at the appliance's sink must equal, frame
 * for frame and byte for byte, what tcpdump captured.  Nothing here counts
 * frames by hand: tcpdump decides which frames the expression selects.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "netns-util.h"
#include "vspan-exec.h"
#include "vspan-link.h"
#include "vspan-select.h"
#include "vspan-tc.h"

#define MAC_A "52:54:00:00:00:0a"
#define MAC_B "52:54:00:00:00:0b"

/* the filter programs of this build; the nested tier's VM puts them
 * elsewhere (its /tmp is a fresh tmpfs) and says where */
static const char *
bpf_dir(void)
{
    const char *d = g_getenv("VSPAN_TEST_BPF_DIR");
    return d ? d : VSPAN_TEST_BPF_DIR;
}

static const char *
bpf_bad(void)
{
    const char *f = g_getenv("VSPAN_TEST_BPF_BAD");
    return f ? f : VSPAN_TEST_BPF_BAD;
}

#define CONFIG_FMT \
    "<vspan>" \
    "  <appliance name='ids' domain='ids'><sink type='tap' dev='vspan-sink0'/></appliance>" \
    "  <appliance name='ids2' domain='ids2'><sink type='tap' dev='vspan-sink1'/></appliance>" \
    "  <appliance name='ivm' domain='ivm'><sink type='interface' mac='52:54:00:00:00:99'/></appliance>" \
    "  <appliance name='snap64' domain='s64'><sink type='tap' dev='vspan-s64' snaplen='64'/></appliance>" \
    "  <appliance name='snap128' domain='s128'><sink type='tap' dev='vspan-s128' snaplen='128'/></appliance>" \
    "  <appliance name='snap1514' domain='s1514'><sink type='tap' dev='vspan-s1514' snaplen='1514'/></appliance>" \
    "  <appliance name='capped' domain='capped'><sink type='tap' dev='vspan-cap' max-rate='100pps'/></appliance>" \
    "  <program name='head8' builtin='flow-head' packets='8' flows='4096'/>" \
    "  <program name='rate50' builtin='source-rate' pps='50' burst='5'/>" \
    "  <program name='bad' object='%s'/>" \
    "</vspan>"

typedef struct {
    int a, b;
    VspanHost *be;
    VspanConfig *config;
} Fx;

static void
fx_setup(Fx *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *config_xml = g_strdup_printf(CONFIG_FMT, bpf_bad());

    g_assert_true(nt_enter_netns());
    nt_bridge_two_taps(&fx->a, &fx->b, MAC_A, MAC_B);
    fx->config = vspan_config_parse(config_xml, strlen(config_xml), "vspan.xml", &error);
    g_assert_no_error(error);
    /* the builtin objects of this build; no bpffs here: nothing is pinned */
    g_setenv("VSPAN_BPF_DIR", bpf_dir(), TRUE);
    g_setenv("VSPAN_BPF_PINDIR", "/nonexistent/vspan-test", TRUE);
    fx->be = vspan_linux_host_new(&error);
    g_assert_no_error(error);
    fx->be->klass->programs_sync(fx->be, fx->config->programs);
}

static void
fx_teardown(Fx *fx, gconstpointer data)
{
    close(fx->a);
    close(fx->b);
    vspan_host_free(fx->be);
    vspan_config_free(fx->config);
}

/* Plan a domain with one NIC, @tap on @bridge, with @rules (<vspan:mirror>
 * elements) and apply it, the interface-sink appliance 'ivm' on tap
 * @ivm_port (or not running); returns the plan's first error or the
 * executor's. */
static char *
fx_apply_on(Fx *fx, const char *tap, const char *bridge, const char *rules, const char *ivm_port)
{
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>%s</name>"
        "<uuid>6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f4%c</uuid>"
        "<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>%s</vspan:domain></metadata>"
        "<devices><interface type='bridge'><mac address='" MAC_A "'/>"
        "<source bridge='%s'/><target dev='%s'/><alias name='net0'/></interface>"
        "</devices></domain>", g_str_equal(tap, "vnet0") ? "web1" : tap, tap[strlen(tap) - 1] + 1, rules, bridge, tap);
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanDomain) dom = vspan_domain_parse(xml, strlen(xml), "web1.xml", &error);
    g_autoptr(VspanObserved) obs = vspan_observed_new();
    g_autoptr(VspanPlan) plan = NULL;

    if (!dom)
        return g_strdup(error->message);
    if (ivm_port)
        g_hash_table_replace(obs->appliance_ports, g_strdup("ivm"), g_strdup(ivm_port));
    /* observed as vspand observes: what vspan holds on the tap now, and
     * which programs did not load */
    g_assert_true(vspan_host_observe_tap(fx->be, tap, obs, NULL));
    for (guint i = 0; i < fx->config->programs->len; i++) {
        const VspanProgramDef *d = fx->config->programs->pdata[i];
        const char *why = fx->be->klass->program_error(fx->be, d->name);
        if (why)
            g_hash_table_replace(obs->program_errors, g_strdup(d->name), g_strdup(why));
    }
    plan = vspan_plan_build(VSPAN_PHASE_START, dom, fx->config, obs);
    if (plan->errors->len)
        return g_strdup(plan->errors->pdata[0]);
    if (!vspan_exec_apply(fx->be, plan, &error))
        return g_strdup(error->message);
    return NULL;
}

static char *
fx_apply_port(Fx *fx, const char *rules, const char *ivm_port)
{
    return fx_apply_on(fx, "vnet0", "br0", rules, ivm_port);
}

static char *
fx_apply(Fx *fx, const char *rules)
{
    return fx_apply_port(fx, rules, NULL);
}

static void
fx_apply_ok(Fx *fx, const char *rules)
{
    g_autofree char *err = fx_apply(fx, rules);

    g_assert_cmpstr(err, ==, NULL);
}

/* ---- the corpus --------------------------------------------------------- */

typedef struct {
    GByteArray *b;
} Pkt;

static void
put(GByteArray *b, const void *d, gsize n)
{
    g_byte_array_append(b, d, n);
}

static void
put16(GByteArray *b, guint16 v)
{
    guint8 d[2] = { v >> 8, v & 0xff };
    put(b, d, 2);
}

static void
put32(GByteArray *b, guint32 v)
{
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}

static void
put_mac(GByteArray *b, gboolean to_b)
{
    static const guint8 a[6] = { 0x52, 0x54, 0, 0, 0, 0x0a }, bb[6] = { 0x52, 0x54, 0, 0, 0, 0x0b };
    put(b, to_b ? bb : a, 6);
    put(b, to_b ? a : bb, 6);
}

/* Ethernet header from one guest to the other (A->B when @from_a),
 * optional tags (TPID, VID pairs, 0-terminated), then @type. */
static GByteArray *
eth(gboolean from_a, const guint16 *tags, guint16 type)
{
    GByteArray *b = g_byte_array_new();

    put_mac(b, from_a);
    for (; tags && tags[0]; tags += 2) {
        put16(b, tags[0]);
        put16(b, tags[1]);
    }
    put16(b, type);
    return b;
}

static void
ipv4(GByteArray *b, gboolean from_a, guint8 proto, guint16 frag, guint16 payload_len)
{
    guint8 src[4] = { 10, 0, 0, from_a ? 1 : 2 }, dst[4] = { 10, 0, 0, from_a ? 2 : 1 };

    put16(b, 0x4500);
    put16(b, 20 + payload_len);
    put16(b, 0x1234);
    put16(b, frag);
    put16(b, 0x4000 | proto);   /* TTL 64 */
    put16(b, 0);
    put(b, src, 4);
    put(b, dst, 4);
}

static void
ipv6(GByteArray *b, gboolean from_a, guint8 nh, guint16 payload_len)
{
    guint8 src[16] = { 0xfe, 0x80, [15] = from_a ? 1 : 2 }, dst[16] = { 0xfe, 0x80, [15] = from_a ? 2 : 1 };

    put32(b, 0x60000000);
    put16(b, payload_len);
    put16(b, nh << 8 | 64);
    put(b, src, 16);
    put(b, dst, 16);
}

static void
l4(GByteArray *b, guint8 proto, guint16 sport, guint16 dport, const char *label)
{
    if (proto == 6) {
        put16(b, sport);
        put16(b, dport);
        put32(b, 1);
        put32(b, 0);
        put16(b, 0x5018);
        put16(b, 512);
        put32(b, 0);
    } else if (proto == 17) {
        put16(b, sport);
        put16(b, dport);
        put16(b, 8 + 24);
        put16(b, 0);
    } else {
        put16(b, 0x0800);   /* echo request */
        put32(b, 0);
        put16(b, 1);
    }
    put(b, label, strlen(label));
}

static GBytes *
finish(GByteArray *b, const char *label)
{
    /* each frame unique: its label, padded to 24 bytes, at the end */
    char pad[24] = { 0 };

    g_strlcpy(pad, label, sizeof(pad));
    put(b, pad, sizeof(pad));
    while (b->len < 60)
        put(b, "\0", 1);
    return g_byte_array_free_to_bytes(b);
}

static GBytes *
ip_frame(gboolean from_a, const guint16 *tags, guint8 proto, guint16 sport, guint16 dport,
         const char *label)
{
    GByteArray *b = eth(from_a, tags, 0x0800);

    ipv4(b, from_a, proto, 0, (proto == 6 ? 20 : 8) + 24);
    l4(b, proto, sport, dport, "");
    return finish(b, label);
}

static void
corpus_side(GPtrArray *out, gboolean from_a)
{
    static const guint16 dot1q100[] = { 0x8100, 100, 0 }, dot1q42[] = { 0x8100, 42, 0 };
    static const guint16 qinq[] = { 0x88a8, 200, 0x8100, 100, 0 }, prio0[] = { 0x8100, 0x6000, 0 };
    const char *d = from_a ? "a" : "b";
    char l[24];
    GByteArray *b;

#define L(s) (g_snprintf(l, sizeof(l), "%s-%s", d, s), l)
    g_ptr_array_add(out, ip_frame(from_a, NULL, 6, 40000, 80, L("tcp80")));
    g_ptr_array_add(out, ip_frame(from_a, NULL, 6, 443, 40001, L("tcp443r")));
    g_ptr_array_add(out, ip_frame(from_a, NULL, 6, 40002, 22, L("tcp22")));
    g_ptr_array_add(out, ip_frame(from_a, NULL, 17, 40003, 53, L("udp53")));
    g_ptr_array_add(out, ip_frame(from_a, NULL, 17, 123, 123, L("udp123")));
    g_ptr_array_add(out, ip_frame(from_a, NULL, 1, 0, 0, L("icmp")));
    /* 802.1Q: the guest sends the tag in the frame, the kernel moves it to
     * skb metadata before tc sees the frame */
    g_ptr_array_add(out, ip_frame(from_a, dot1q100, 17, 40004, 53, L("v100-udp53")));
    g_ptr_array_add(out, ip_frame(from_a, dot1q100, 6, 40005, 80, L("v100-tcp80")));
    g_ptr_array_add(out, ip_frame(from_a, dot1q42, 6, 40006, 22, L("v42-tcp22")));
    /* QinQ: 802.1ad outer tag to metadata, the inner 802.1Q stays in the frame */
    g_ptr_array_add(out, ip_frame(from_a, qinq, 17, 40007, 53, L("qinq-udp53")));
    /* priority-tagged: VLAN 0, PCP 3 */
    g_ptr_array_add(out, ip_frame(from_a, prio0, 6, 40008, 80, L("prio-tcp80")));
    /* IPv4 fragments of a UDP 53 datagram: the first has the ports, the
     * second only data */
    b = eth(from_a, NULL, 0x0800);
    ipv4(b, from_a, 17, 0x2000, 8 + 24);
    l4(b, 17, 40009, 53, "");
    g_ptr_array_add(out, finish(b, L("frag1")));
    b = eth(from_a, NULL, 0x0800);
    ipv4(b, from_a, 17, 0x0004, 24);
    g_ptr_array_add(out, finish(b, L("frag2")));
    /* IPv6: TCP 443 and a neighbour solicitation (ICMPv6 135) */
    b = eth(from_a, NULL, 0x86dd);
    ipv6(b, from_a, 6, 20 + 24);
    l4(b, 6, 40010, 443, "");
    g_ptr_array_add(out, finish(b, L("v6-tcp443")));
    b = eth(from_a, NULL, 0x86dd);
    ipv6(b, from_a, 58, 24 + 24);
    put32(b, 0x87000000);       /* type 135, code 0 */
    put32(b, 0);
    put(b, (guint8[16]){ 0xfe, 0x80, [15] = 9 }, 16);
    g_ptr_array_add(out, finish(b, L("v6-ns")));
    /* ARP request, broadcast */
    b = g_byte_array_new();
    put(b, (guint8[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 6);
    put(b, (guint8[6]){ 0x52, 0x54, 0, 0, 0, from_a ? 0x0a : 0x0b }, 6);
    put16(b, 0x0806);
    put16(b, 1);
    put16(b, 0x0800);
    put16(b, 0x0604);
    put16(b, 1);
    put(b, (guint8[6]){ 0x52, 0x54, 0, 0, 0, from_a ? 0x0a : 0x0b }, 6);
    put(b, (guint8[4]){ 10, 0, 0, from_a ? 1 : 2 }, 4);
    put(b, (guint8[6]){ 0 }, 6);
    put(b, (guint8[4]){ 10, 0, 0, from_a ? 2 : 1 }, 4);
    g_ptr_array_add(out, finish(b, L("arp")));
    /* LLDP: the bridge keeps it, so only vnet0's own guest's reaches the tap */
    b = g_byte_array_new();
    put(b, (guint8[6]){ 0x01, 0x80, 0xc2, 0, 0, 0x0e }, 6);
    put(b, (guint8[6]){ 0x52, 0x54, 0, 0, 0, from_a ? 0x0a : 0x0b }, 6);
    put16(b, 0x88cc);
    g_ptr_array_add(out, finish(b, L("lldp")));
#undef L
}

/* ---- the oracle: a live tcpdump on the tap ------------------------------ */

typedef struct {
    GPid pid;
    char *path;
    int err_fd;         /* tcpdump's stderr: its closing statistics */
} Oracle;

static Oracle *
oracle_start(const char *dev, const char *expr)
{
    Oracle *o = g_new0(Oracle, 1);
    g_autoptr(GError) error = NULL;
    char *argv[] = { "tcpdump", "--immediate-mode", "-i", (char *)dev, "-p", "-U", "-n", "-s", "0", "-w", NULL, (char *)expr, NULL };
    int err_fd;
    g_autoptr(GString) said = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    int fd = g_file_open_tmp("vspan-oracle-XXXXXX.pcap", &o->path, &error);

    g_assert_no_error(error);
    close(fd);
    argv[10] = o->path;
    if (!g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                  NULL, NULL, &o->pid, NULL, NULL, &err_fd, &error))
        g_error("cannot run tcpdump: %s", error->message);
    /* ready once it says it listens (bounded: a machine that is slow
     * fails the case with tcpdump's words, never hangs it) */
    fcntl(err_fd, F_SETFL, O_NONBLOCK);
    while (!strstr(said->str, "listening on")) {
        char buf[256];
        ssize_t n = read(err_fd, buf, sizeof(buf));

        if (n > 0)
            g_string_append_len(said, buf, n);
        else if (n == 0)
            g_error("tcpdump '%s' exited: %s", expr, said->str);
        else
            g_usleep(10000);
        if (g_get_monotonic_time() > deadline)
            g_error("wait ran out after 10 s: tcpdump '%s' to listen (%s)", expr, said->str);
    }
    o->err_fd = err_fd;
    return o;
}

static guint32
u32_at(const guint8 *d)
{
    guint32 v;

    memcpy(&v, d, sizeof(v));   /* records are not aligned */
    return v;
}

static GPtrArray *
pcap_read(const char *path)
{
    g_autofree guint8 *d = NULL;
    gsize n = 0, off = 24;
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);

    g_assert_true(g_file_get_contents(path, (char **)&d, &n, NULL));
    g_assert_cmpuint(n, >=, 24);
    g_assert_cmphex(u32_at(d), ==, 0xa1b2c3d4);     /* host order, microseconds */
    g_assert_cmpuint(u32_at(d + 20), ==, 1);        /* LINKTYPE_ETHERNET */
    while (off + 16 <= n) {
        guint32 incl = u32_at(d + off + 8);
        g_assert_cmpuint(off + 16 + incl, <=, n);
        g_ptr_array_add(out, g_bytes_new(d + off + 16, incl));
        off += 16 + incl;
    }
    return out;
}

/* Whole records in the file so far (0 before tcpdump wrote its header). */
static guint
pcap_records(const char *path)
{
    g_autofree guint8 *d = NULL;
    gsize n = 0, off = 24;
    guint count = 0;

    if (!g_file_get_contents(path, (char **)&d, &n, NULL) || n < 24)
        return 0;
    while (off + 16 <= n && off + 16 + u32_at(d + off + 8) <= n) {
        off += 16 + u32_at(d + off + 8);
        count++;
    }
    return count;
}

/* Stop tcpdump (SIGINT flushes its file) and return what it captured.
 * It writes each frame as it comes (-U), but a slow machine (the nested
 * tier's emulated CPU) may still be catching up: first wait until its file
 * holds at least @expect frames (what the sink got; bounded: 10 s) and has
 * stopped growing for 300 ms. */
static GPtrArray *
oracle_stop(Oracle *o, guint expect)
{
    GPtrArray *got;
    int status = 0;
    int waited = 0;
    goffset last = -1;
    guint still = 0, i;

    for (i = 0; i < 100; i++) {
        struct stat st;
        goffset now = stat(o->path, &st) == 0 ? st.st_size : -1;

        still = now == last ? still + 1 : 0;
        last = now;
        if (still >= 3 && pcap_records(o->path) >= expect)
            break;
        g_usleep(100000);
    }
    if (i == 100)
        g_test_message("wait ran out after 10 s: tcpdump's file to hold %u frames and settle", expect);
    kill(o->pid, SIGINT);
    while (waitpid(o->pid, &status, WNOHANG) == 0) {
        if (++waited > 500) {       /* 5 s */
            kill(o->pid, SIGKILL);
            waitpid(o->pid, &status, 0);
            g_error("wait ran out after 5 s: tcpdump to stop");
        }
        g_usleep(10000);
    }
    g_spawn_close_pid(o->pid);
    {
        /* "N packets captured, N received by filter, N dropped by kernel" */
        char buf[512];
        ssize_t n = read(o->err_fd, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            g_strdelimit(buf, "\n", ';');
            g_test_message("tcpdump: %s", buf);
        }
        close(o->err_fd);
    }
    got = pcap_read(o->path);
    unlink(o->path);
    g_free(o->path);
    g_free(o);
    return got;
}

/* The frame's label ("a-tcp80"), for messages. */
static char *
describe(GBytes *f)
{
    gsize n;
    const guint8 *d = g_bytes_get_data(f, &n);

    for (gsize i = n - 2; i-- > 0;)
        if ((d[i] == 'a' || d[i] == 'b') && d[i + 1] == '-')
            return g_strndup((const char *)d + i, strnlen((const char *)d + i, n - i));
    return g_strdup("?");
}

/* Frame for frame: every frame the oracle saw reached the sink exactly as
 * often, byte for byte, and nothing else did. */
static void
assert_same(const char *what, GPtrArray *oracle, GPtrArray *sink)
{
    g_autoptr(GString) diff = g_string_new(NULL);

    for (guint i = 0; i < oracle->len; i++) {
        guint want = nt_count(oracle, oracle->pdata[i]), got = nt_count(sink, oracle->pdata[i]);
        if (want != got) {
            g_autofree char *l = describe(oracle->pdata[i]);
            g_string_append_printf(diff, " %s(tcpdump %u, sink %u)", l, want, got);
        }
    }
    for (guint i = 0; i < sink->len; i++)
        if (nt_count(oracle, sink->pdata[i]) == 0) {
            g_autofree char *l = describe(sink->pdata[i]);
            g_string_append_printf(diff, " %s(tcpdump 0, sink %u)", l, nt_count(sink, sink->pdata[i]));
        }
    if (diff->len)
        g_error("%s: the sink differs from a live tcpdump:%s", what, diff->str);
    g_assert_cmpuint(oracle->len, ==, sink->len);
}

/* Send the corpus both ways across vnet0 (from its guest, and to it). */
static guint
send_corpus(Fx *fx)
{
    g_autoptr(GPtrArray) from_a = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GPtrArray) from_b = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);

    corpus_side(from_a, TRUE);
    corpus_side(from_b, FALSE);
    for (guint i = 0; i < from_a->len; i++)
        nt_send(fx->a, from_a->pdata[i]);
    for (guint i = 0; i < from_b->len; i++)
        nt_send(fx->b, from_b->pdata[i]);
    nt_drain(fx->a);
    nt_drain(fx->b);
    return from_a->len + from_b->len;
}

/* ---- cases -------------------------------------------------------------- */

static const char *const expressions[] = {
    "tcp port 80",
    "udp port 53",
    "arp",
    "icmp",
    "ip6",
    "icmp6 and ip6[40] == 135",
    "vlan 100",
    "vlan and udp port 53",
    "not port 22",
    "tcp port 80 or tcp port 443 or port 53",
    "ether proto 0x88cc",
    "ip[6:2] & 0x1fff != 0 or ip[6] & 0x20 != 0",
    "vlan 0",
    "ether broadcast",
    "host 10.0.0.2 and not icmp",
    "vlan 200 and vlan 100",
};

static void
test_filter_equals_tcpdump(Fx *fx, gconstpointer data)
{
    int s = -1;

    for (guint i = 0; i < G_N_ELEMENTS(expressions); i++) {
        const char *expr = expressions[i];
        g_autofree char *rule = g_markup_printf_escaped("<vspan:mirror appliance='ids' filter='%s'/>", expr);
        g_autoptr(GPtrArray) oracle = NULL, sink = NULL;
        Oracle *o;
        guint sent;

        /* the same rule re-pointed to a new program each round: cls_bpf
         * replaces it in place */
        fx_apply_ok(fx, rule);
        if (s < 0)
            s = nt_sink_open("vspan-sink0");
        nt_drain(s);
        o = oracle_start("vnet0", expr);
        sent = send_corpus(fx);
        sink = nt_collect(s, 200);
        oracle = oracle_stop(o, sink->len);
        g_test_message("'%s': tcpdump %u, sink %u of %u frames", expr, oracle->len, sink->len, sent);
        assert_same(expr, oracle, sink);
        /* the oracle selects: neither nothing nor everything (where the
         * expression is meant to pick a part) */
        g_assert_cmpuint(oracle->len, >, 0);
        g_assert_cmpuint(oracle->len, <, sent);
    }
    close(s);
}

/* Two appliances with different filters on one NIC, a third gets all. */
static void
test_two_appliances(Fx *fx, gconstpointer data)
{
    g_autoptr(GPtrArray) o1 = NULL, o2 = NULL, s1f = NULL, s2f = NULL;
    Oracle *a, *b;
    int s1, s2;

    fx_apply_ok(fx, "<vspan:mirror appliance='ids' filter='tcp port 80 or tcp port 443'/>"
                    "<vspan:mirror appliance='ids2' filter='vlan and udp port 53'/>");
    s1 = nt_sink_open("vspan-sink0");
    s2 = nt_sink_open("vspan-sink1");
    a = oracle_start("vnet0", "tcp port 80 or tcp port 443");
    b = oracle_start("vnet0", "vlan and udp port 53");
    send_corpus(fx);
    s1f = nt_collect(s1, 200);
    s2f = nt_collect(s2, 100);
    o1 = oracle_stop(a, s1f->len);
    o2 = oracle_stop(b, s2f->len);
    assert_same("ids", o1, s1f);
    assert_same("ids2", o2, s2f);
    g_assert_cmpuint(o1->len, >, 0);
    g_assert_cmpuint(o2->len, >, 0);
    close(s1);
    close(s2);
}

/* sample="10": 1 in 10 of 20 000 frames, inside the 99.9 % binomial
 * interval (2000 +- 3.29 * sqrt(20000 * 0.1 * 0.9) = 1861..2139);
 * sample="1" copies all. */
static guint
send_many(Fx *fx, int s, guint n)
{
    guint got = 0;

    for (guint i = 0; i < n; i += 250) {
        for (guint j = i; j < i + 250 && j < n; j++) {
            g_autofree char *label = g_strdup_printf("s%u", j);
            g_autoptr(GBytes) f = ip_frame(TRUE, NULL, 17, 40000, 9, label);
            nt_send(fx->a, f);
        }
        {
            g_autoptr(GPtrArray) batch = nt_collect(s, 30);
            got += batch->len;
        }
        nt_drain(fx->b);
    }
    return got;
}

static void
test_sample(Fx *fx, gconstpointer data)
{
    int s;
    guint got;

    fx_apply_ok(fx, "<vspan:mirror appliance='ids' direction='from-vm' sample='10'/>");
    s = nt_sink_open("vspan-sink0");
    got = send_many(fx, s, 20000);
    g_test_message("sample=10: %u of 20000 copied", got);
    g_assert_cmpuint(got, >=, 1861);
    g_assert_cmpuint(got, <=, 2139);

    fx_apply_ok(fx, "<vspan:mirror appliance='ids' direction='from-vm' filter='udp' sample='1'/>");
    got = send_many(fx, s, 2000);
    g_assert_cmpuint(got, ==, 2000);
    close(s);
}

/* The kernel holds what the plan says: tc (iproute2) shows the cls_bpf
 * filter with vspan's cookie at the select priority, the copies are
 * counted per rule, and removing the rule restores the tap. */
static void
test_witness_and_removal(Fx *fx, gconstpointer data)
{
    g_autofree char *tc = NULL, *tc_after = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) copies = NULL;
    int s;

    fx_apply_ok(fx, "<vspan:mirror appliance='ids' filter='arp'/><vspan:mirror appliance='ids2'/>");
    g_assert_cmpint(nt_sh(&tc, "/sbin/tc filter show dev vnet0 ingress"), ==, 0);
    g_assert_nonnull(strstr(tc, "pref 48898 bpf"));
    g_assert_nonnull(strstr(tc, "handle 0x1"));
    g_assert_nonnull(strstr(tc, "bytecode '4,40 0 0 12,21 0 1 2054,6 0 0 262144,6 0 0 0'"));
    g_assert_nonnull(strstr(tc, "Mirror to device vspan-sink0"));
    g_assert_nonnull(strstr(tc, "pref 48896 u32") ? "u32" : strstr(tc, "pref 48896 matchall"));

    s = nt_sink_open("vspan-sink0");
    send_corpus(fx);
    nt_drain(s);
    copies = fx->be->klass->copies(fx->be, "vnet0", &error);
    g_assert_no_error(error);
    {
        guint64 arp = 0;
        for (guint i = 0; i < copies->len; i++) {
            const VspanHostCopy *c = copies->pdata[i];
            if (c->handle == 1) {
                g_assert_cmpstr(c->sink, ==, "vspan-sink0");
                g_assert_cmpuint(vspan_select_insns(c->program), ==, 4);
                arp += c->packets;
            }
        }
        /* one ARP each way (the bridge floods B's broadcast to vnet0) */
        g_assert_cmpuint(arp, ==, 2);
    }

    /* the filtered rule goes, the match-all one stays */
    fx_apply_ok(fx, "<vspan:mirror appliance='ids2'/>");
    g_assert_cmpint(nt_sh(&tc_after, "/sbin/tc filter show dev vnet0 ingress"), ==, 0);
    g_assert_null(strstr(tc_after, "bpf"));
    g_assert_nonnull(strstr(tc_after, "vspan-sink1"));
    g_assert_true(vspan_linux_host_release(fx->be, "vnet0", &error));
    g_assert_no_error(error);
    g_clear_pointer(&tc_after, g_free);
    g_assert_cmpint(nt_sh(&tc_after, "/sbin/tc qdisc show dev vnet0 | grep -c clsact || true"), ==, 0);
    g_assert_cmpstr(tc_after, ==, "0\n");
    close(s);
}

/* An interface-sink appliance restarts on another tap: its filtered rule
 * is re-pointed in place (same cls_bpf handle), and the copies follow. */
static void
test_repoint(Fx *fx, gconstpointer data)
{
    static const char *rule = "<vspan:mirror appliance='ivm' filter='arp'/>";
    g_autofree char *tc1 = NULL, *tc2 = NULL, *err = NULL;
    g_autoptr(GPtrArray) at0 = NULL, at1 = NULL;
    int s0 = nt_sink_open("vspan-sink0"), s1 = nt_sink_open("vspan-sink1");

    err = fx_apply_port(fx, rule, "vspan-sink0");
    g_assert_null(err);
    g_assert_cmpint(nt_sh(&tc1, "/sbin/tc filter show dev vnet0 ingress"), ==, 0);
    g_assert_nonnull(strstr(tc1, "handle 0x3"));
    g_assert_nonnull(strstr(tc1, "Mirror to device vspan-sink0"));
    send_corpus(fx);
    at0 = nt_collect(s0, 150);
    g_assert_cmpuint(at0->len, ==, 2);      /* one ARP each way */
    nt_drain(s1);

    err = fx_apply_port(fx, rule, "vspan-sink1");
    g_assert_null(err);
    g_assert_cmpint(nt_sh(&tc2, "/sbin/tc filter show dev vnet0 ingress"), ==, 0);
    g_assert_nonnull(strstr(tc2, "handle 0x3"));
    g_assert_nonnull(strstr(tc2, "Mirror to device vspan-sink1"));
    g_assert_null(strstr(tc2, "vspan-sink0"));
    send_corpus(fx);
    at1 = nt_collect(s1, 150);
    g_assert_cmpuint(at1->len, ==, 2);
    {
        g_autoptr(GPtrArray) stale = nt_collect(s0, 50);
        g_assert_cmpuint(stale->len, ==, 0);   /* the old tap gets nothing */
    }
    close(s0);
    close(s1);
}

/* Bad input: one line each, and nothing changed in the kernel. */
static void
test_bad_input(Fx *fx, gconstpointer data)
{
    static const struct {
        const char *rules;
        const char *error;
    } cases[] = {
        { "<vspan:mirror appliance='ids' filter='tcp prot 80'/>",
          "domain 'web1' line 1: <vspan:mirror appliance=\"ids\">: filter 'tcp prot 80' does not compile: can't parse filter expression: syntax error; write it in tcpdump's syntax (see pcap-filter(7))" },
        { "<vspan:mirror appliance='ids' filter='port 70000'/>",
          "domain 'web1' line 1: <vspan:mirror appliance=\"ids\">: filter 'port 70000' does not compile: illegal port number 70000 > 65535; write it in tcpdump's syntax (see pcap-filter(7))" },
        { "<vspan:mirror appliance='ids' sample='0'/>",
          "domain 'web1' line 1: <vspan:mirror appliance=\"ids\">: sample 0 is out of range; use 1-2147483647" },
        { "<vspan:mirror appliance='ids' filter='arp'/><vspan:mirror appliance='ids' filter='udp'/>",
          "domain 'web1' line 1: <vspan:mirror appliance=\"ids\">: interface 52:54:00:00:00:0a (net0) already has a rule for appliance 'ids' (filter 'arp', domain 'web1' line 1: <vspan:mirror appliance=\"ids\">); merge them into one filter" },
    };
    g_autofree char *before = NULL;

    g_assert_cmpint(nt_sh(&before, "/sbin/tc qdisc show dev vnet0; /sbin/tc filter show dev vnet0 ingress"), ==, 0);
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *err = fx_apply(fx, cases[i].rules);
        g_autofree char *after = NULL;

        g_assert_cmpstr(err, ==, cases[i].error);
        g_assert_cmpint(nt_sh(&after, "/sbin/tc qdisc show dev vnet0; /sbin/tc filter show dev vnet0 ingress"), ==, 0);
        g_assert_cmpstr(after, ==, before);
    }
    {
        /* 2000 characters: refused before libpcap sees it */
        g_autoptr(GString) f = g_string_new("host 10.0.0.1");
        g_autofree char *rule = NULL, *err = NULL;
        while (f->len < 2000)
            g_string_append(f, " or host 10.0.0.1");
        rule = g_strdup_printf("<vspan:mirror appliance='ids' filter='%s'/>", f->str);
        err = fx_apply(fx, rule);
        g_assert_nonnull(err);
        g_assert_true(g_str_has_suffix(err, "characters long, more than 1024; shorten it (e.g. use net instead of many hosts)"));
    }
}


/* ---- filter programs (eBPF) ----------------------------------------------- */

/* Read every frame the sink holds now, without waiting. */
static void
sink_take(int fd, GPtrArray *into)
{
    static guint8 buf[65536];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        g_ptr_array_add(into, g_bytes_new(buf, n));
}

static guint16
frame_port(GBytes *f, gboolean dst)
{
    gsize n;
    const guint8 *d = g_bytes_get_data(f, &n);

    /* untagged IPv4, 20-byte header: ports at 34 and 36 */
    return n >= 38 && d[12] == 0x08 && d[13] == 0x00 ? (d[dst ? 36 : 34] << 8 | d[dst ? 37 : 35]) : 0;
}

/* flow-head, packets=8: 200 flows of 50 packets (25 each way) -> exactly
 * 8 copies of each flow, whichever direction they went; frames that are
 * not IP are all copied. */
static void
test_flow_head(Fx *fx, gconstpointer data)
{
    g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autofree guint *per_flow = g_new0(guint, 200);
    guint nonip = 0, wrong = 0, sink_fd;
    g_autofree char *tc = NULL;

    fx_apply_ok(fx, "<vspan:mirror appliance='ids' program='head8'/>");
    g_assert_cmpint(nt_sh(&tc, "/sbin/tc filter show dev vnet0 ingress"), ==, 0);
    g_assert_nonnull(strstr(tc, "pref 48898 bpf"));
    g_assert_nonnull(strstr(tc, "head8"));
    sink_fd = nt_sink_open("vspan-sink0");
    for (guint i = 0; i < 200; i++) {
        for (guint k = 0; k < 25; k++) {
            g_autoptr(GBytes) q = ip_frame(TRUE, NULL, 17, 20000 + i, 53, "q");
            g_autoptr(GBytes) r = ip_frame(FALSE, NULL, 17, 53, 20000 + i, "r");
            nt_send(fx->a, q);
            nt_send(fx->b, r);
        }
        if (i % 4 == 3) {
            sink_take(sink_fd, got);
            nt_drain(fx->a);
            nt_drain(fx->b);
        }
    }
    for (guint k = 0; k < 10; k++) {
        g_autoptr(GBytes) f = nt_frame("ff:ff:ff:ff:ff:ff", MAC_A, 0x88b5, 0, "non-ip", 60);
        nt_send(fx->a, f);
    }
    g_ptr_array_extend_and_steal(got, nt_collect(sink_fd, 200));
    for (guint i = 0; i < got->len; i++) {
        guint16 sp = frame_port(got->pdata[i], FALSE), dp = frame_port(got->pdata[i], TRUE);
        guint16 p = sp == 53 ? dp : sp;

        if (sp == 0 && dp == 0)
            nonip++;
        else if (p >= 20000 && p < 20200)
            per_flow[p - 20000]++;
    }
    for (guint i = 0; i < 200; i++)
        wrong += per_flow[i] != 8;
    g_test_message("flow-head: %u copies of 10000 flow packets; flows not at exactly 8: %u; non-IP %u/10",
                   got->len - nonip, wrong, nonip);
    g_assert_cmpuint(wrong, ==, 0);
    g_assert_cmpuint(nonip, ==, 10);
    close(sink_fd);
}

/* source-rate, pps=50 burst=5: a source sending over 10x that is held to
 * the rate (+- 10 %); a quiet source beside it (one frame per 20 ms, its
 * own bucket) loses nothing.  The rate is low so that the nested tier's
 * emulated CPU still sends 10x of it. */
static void
test_source_rate(Fx *fx, gconstpointer data)
{
    g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    guint sent_loud = 0, sent_quiet = 0, from_loud = 0, from_quiet = 0;
    gint64 t0, t1;
    double expected;
    int sink_fd;

    fx_apply_ok(fx, "<vspan:mirror appliance='ids' program='rate50'/>");
    sink_fd = nt_sink_open("vspan-sink0");
    t0 = g_get_monotonic_time();
    /* ~2 s: 10 frames a millisecond from A (as fast as the taps take them,
     * over 2000 pps here), one every 20 ms from B (every 25 ms: 40 pps) */
    for (guint ms = 0; ms < 2000; ms++) {
        gint64 due = t0 + (gint64)ms * 1000;

        while (g_get_monotonic_time() < due)
            g_usleep(200);
        for (guint k = 0; k < 10; k++, sent_loud++) {
            g_autoptr(GBytes) f = ip_frame(TRUE, NULL, 17, 30000, 9, "loud");
            nt_send(fx->a, f);
        }
        if (ms % 25 == 0) {
            g_autoptr(GBytes) f = ip_frame(FALSE, NULL, 17, 30001, 9, "quiet");
            nt_send(fx->b, f);
            sent_quiet++;
        }
        if (ms % 25 == 0) {
            /* without waiting: a pause longer than the bucket (100 ms)
             * would cost the loud source its credit */
            g_autoptr(GPtrArray) guests = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
            sink_take(sink_fd, got);
            sink_take(fx->a, guests);
            sink_take(fx->b, guests);
        }
    }
    t1 = g_get_monotonic_time();
    g_ptr_array_extend_and_steal(got, nt_collect(sink_fd, 200));
    for (guint i = 0; i < got->len; i++) {
        guint16 sp = frame_port(got->pdata[i], FALSE);
        from_loud += sp == 30000;
        from_quiet += sp == 30001;
    }
    /* the bucket starts full (5) and refills at 50/s */
    expected = 5 + 50.0 * (t1 - t0) / G_USEC_PER_SEC;
    g_test_message("source-rate: loud source sent %u in %.2f s, %u copied (%.0f expected); quiet %u of %u",
                   sent_loud, (t1 - t0) / 1e6, from_loud, expected, from_quiet, sent_quiet);
    g_assert_cmpfloat(sent_loud / ((t1 - t0) / 1e6), >=, 10 * 50);
    g_assert_cmpfloat(from_loud, >=, 0.9 * expected);
    g_assert_cmpfloat(from_loud, <=, 1.1 * expected);
    g_assert_cmpuint(from_quiet, ==, sent_quiet);
    close(sink_fd);
}

/* A program the verifier refuses refuses only the rules naming it, with
 * the verifier's last line; other programs, rules and the kernel state are
 * untouched.  Unknown programs, and object= in a tenant's annotation, are
 * refused too. */
static void
test_program_errors(Fx *fx, gconstpointer data)
{
    const char *why = fx->be->klass->program_error(fx->be, "bad");
    g_autofree char *before = NULL, *after = NULL, *err = NULL, *expected = NULL;

    g_assert_nonnull(why);
    g_test_message("the verifier said: %s", why);
    g_assert_true(g_str_has_prefix(why, "the kernel refused it: "));
    g_assert_null(strchr(why, '\n'));
    g_assert_null(fx->be->klass->program_error(fx->be, "head8"));

    g_assert_cmpint(nt_sh(&before, "/sbin/tc qdisc show dev vnet0; /sbin/tc filter show dev vnet0 ingress"), ==, 0);
    err = fx_apply(fx, "<vspan:mirror appliance='ids' program='bad'/>");
    expected = g_strdup_printf("domain 'web1' line 1: <vspan:mirror appliance=\"ids\">: program 'bad' did not load: %s; rules naming it are refused until the host admin fixes it", why);
    g_assert_cmpstr(err, ==, expected);
    g_clear_pointer(&err, g_free);
    err = fx_apply(fx, "<vspan:mirror appliance='ids' program='nope'/>");
    g_assert_cmpstr(err, ==, "domain 'web1' line 1: <vspan:mirror appliance=\"ids\">: no program named 'nope' in vspan.xml (known: head8, rate50, bad); fix the name or ask the host admin to define it");
    g_clear_pointer(&err, g_free);
    err = fx_apply(fx, "<vspan:mirror appliance='ids' object='/tmp/x.o'/>");
    g_assert_cmpstr(err, ==, "domain 'web1' line 1: <vspan:mirror appliance=\"ids\">: unknown attribute 'object'; allowed: appliance, mac, alias, direction, filter, sample, program");
    g_clear_pointer(&err, g_free);
    err = fx_apply(fx, "<vspan:mirror appliance='ids' program='head8' filter='arp'/>");
    g_assert_cmpstr(err, ==, "domain 'web1' line 1: <vspan:mirror appliance=\"ids\">: program selects on its own; give program, or filter and sample, not both");
    g_assert_cmpint(nt_sh(&after, "/sbin/tc qdisc show dev vnet0; /sbin/tc filter show dev vnet0 ingress"), ==, 0);
    g_assert_cmpstr(after, ==, before);
    /* the good program still attaches */
    fx_apply_ok(fx, "<vspan:mirror appliance='ids' program='head8'/><vspan:mirror appliance='ids2' filter='arp'/>");
}

/* ---- shaping at the sink: snaplen, max-rate ------------------------------ */

/* snaplen 64/128/1514 on three tap sinks, frames of 60 to 9000 bytes: each
 * copy is min(length, snaplen) long and is the original's leading bytes;
 * the monitored frames reach the other guest whole; the sinks count what
 * they cut. */
static void
test_snaplen(Fx *fx, gconstpointer data)
{
    static const guint sizes[] = { 60, 64, 100, 128, 129, 1514, 1515, 4000, 9000 };
    static const struct { const char *dev; guint snaplen; } sinks[] = {
        { "vspan-s64", 64 }, { "vspan-s128", 128 }, { "vspan-s1514", 1514 },
    };
    g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GPtrArray) at_b = NULL;
    g_autofree char *tc = NULL;
    int fd[3];

    fx_apply_ok(fx, "<vspan:mirror appliance='snap64' direction='from-vm'/>"
                    "<vspan:mirror appliance='snap128' direction='from-vm'/>"
                    "<vspan:mirror appliance='snap1514' direction='from-vm'/>");
    g_assert_cmpint(nt_sh(&tc, "/sbin/tc filter show dev vspan-s128 egress"), ==, 0);
    g_assert_nonnull(strstr(tc, "vspan-shape"));
    g_assert_nonnull(strstr(tc, "direct-action"));
    for (guint i = 0; i < 3; i++)
        fd[i] = nt_sink_open(sinks[i].dev);
    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree char *label = g_strdup_printf("size-%u", sizes[i]);
        GBytes *f = nt_frame(MAC_B, MAC_A, 0x0800, 0, label, sizes[i]);
        nt_send(fx->a, f);
        g_ptr_array_add(sent, f);
    }
    at_b = nt_collect(fx->b, 150);
    for (guint i = 0; i < sent->len; i++)
        g_assert_cmpuint(nt_count(at_b, sent->pdata[i]), ==, 1);     /* originals intact */
    for (guint k = 0; k < 3; k++) {
        g_autoptr(GPtrArray) got = nt_collect(fd[k], 150);
        VspanSinkStats st;
        guint cut = 0;

        g_assert_cmpuint(got->len, ==, sent->len);
        for (guint i = 0; i < sent->len; i++) {
            gsize olen, clen;
            const guint8 *o = g_bytes_get_data(sent->pdata[i], &olen);
            const guint8 *c = g_bytes_get_data(got->pdata[i], &clen);

            g_assert_cmpuint(clen, ==, MIN(olen, sinks[k].snaplen));
            g_assert_cmpmem(c, clen, o, clen);
            cut += olen > sinks[k].snaplen;
        }
        g_assert_true(fx->be->klass->sink_stats(fx->be, sinks[k].dev, &st));
        g_test_message("%s: %u copies, %" G_GUINT64_FORMAT " truncated (%u longer than %u)", sinks[k].dev,
                       got->len, st.truncated, cut, sinks[k].snaplen);
        g_assert_true(st.shaped);
        g_assert_cmpuint(st.sent, ==, got->len);
        g_assert_cmpuint(st.truncated, ==, cut);
        g_assert_cmpuint(st.rate_dropped, ==, 0);
        close(fd[k]);
    }
}

/* A 64-byte stream from guest A, 12 frames a millisecond for 1 s, with the
 * sink's copies taken from @s as they come: what was sent, what reached
 * guest B, the copies, and how long it took. */
static void
stream_64(Fx *fx, int s, guint *sent, guint *at_b, GPtrArray *got, gint64 *us)
{
    g_autoptr(GPtrArray) guests = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    gint64 t0 = g_get_monotonic_time(), t1;

    *sent = *at_b = 0;
    for (guint ms = 0; ms < 1000; ms++) {
        gint64 due = t0 + (gint64)ms * 1000;

        while (g_get_monotonic_time() < due)
            g_usleep(100);
        for (guint k = 0; k < 12; k++, (*sent)++) {
            g_autoptr(GBytes) f = ip_frame(TRUE, NULL, 17, 31000, 9, "capped");
            nt_send(fx->a, f);
        }
        if (ms % 10 == 0) {
            sink_take(s, got);
            sink_take(fx->b, guests);
        }
    }
    t1 = g_get_monotonic_time();
    g_ptr_array_extend_and_steal(got, nt_collect(s, 150));
    g_ptr_array_extend_and_steal(guests, nt_collect(fx->b, 50));
    for (guint i = 0; i < guests->len; i++)
        *at_b += frame_port(guests->pdata[i], FALSE) == 31000;     /* the stream's own */
    *us = t1 - t0;
}

/* max-rate 100pps: a 64-byte stream at over 10x the cap -> copies within
 * 10 % of the cap (plus the bucket: 2 copies at this rate), the rest
 * dropped at the sink and counted; the monitored stream reaches the other
 * guest at the rate it reached it in an uncapped run just before (a ratio,
 * not an absolute).  The cap is low so that the nested tier's emulated CPU
 * still sends 10x of it. */
static void
test_max_rate(Fx *fx, gconstpointer data)
{
    g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GPtrArray) free_copies = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    guint sent, at_b, free_sent, free_at_b;
    VspanSinkStats st;
    gint64 us, free_us;
    double expected, pps, free_pps;
    int s, s0;

    /* the same stream mirrored to an uncapped sink first */
    fx_apply_ok(fx, "<vspan:mirror appliance='ids' direction='from-vm'/>");
    s0 = nt_sink_open("vspan-sink0");
    stream_64(fx, s0, &free_sent, &free_at_b, free_copies, &free_us);
    free_pps = free_at_b / (free_us / 1e6);
    close(s0);

    fx_apply_ok(fx, "<vspan:mirror appliance='capped' direction='from-vm'/>");
    s = nt_sink_open("vspan-cap");
    stream_64(fx, s, &sent, &at_b, got, &us);
    pps = at_b / (us / 1e6);
    expected = 100.0 * us / G_USEC_PER_SEC + 2;
    g_assert_true(fx->be->klass->sink_stats(fx->be, "vspan-cap", &st));
    g_test_message("uncapped: %u sent, %u copies, the other guest got %u (%.0f pkt/s)", free_sent, free_copies->len,
                   free_at_b, free_pps);
    g_test_message("max-rate 100pps: %u sent in %.2f s (%.0f pkt/s), %u copies (%.0f expected), %" G_GUINT64_FORMAT
                   " dropped by the cap; the other guest got %u (%.0f pkt/s, %.3f of uncapped)",
                   sent, us / 1e6, sent / (us / 1e6), got->len, expected, st.rate_dropped, at_b, pps, pps / free_pps);
    g_assert_cmpfloat(sent / (us / 1e6), >=, 10 * 100);
    g_assert_cmpfloat(got->len, >=, 0.9 * expected);
    g_assert_cmpfloat(got->len, <=, 1.1 * expected);
    g_assert_cmpuint(st.rate_dropped + got->len, ==, sent);
    g_assert_cmpuint(st.sent, ==, got->len);
    /* the monitored stream: every frame arrived, in both runs, at the rate
     * of the uncapped run within noise */
    g_assert_cmpuint(free_at_b, ==, free_sent);
    g_assert_cmpuint(at_b, ==, sent);
    g_assert_cmpfloat(pps / free_pps, >=, 0.9);
    close(s);
}

/* ---- gretap and erspan sinks ------------------------------------------------ */

static GBytes *tagged(GBytes *inner, guint16 vid);

#define TUNNEL_CONFIG \
    "<vspan>" \
    "  <appliance name='gre' domain='gre'>" \
    "    <sink type='gretap' remote='192.0.2.2' local='192.0.2.1' key='42'/></appliance>" \
    "  <appliance name='span1' domain='span1'>" \
    "    <sink type='erspan' remote='192.0.2.2' local='192.0.2.1' session='7' version='1'/></appliance>" \
    "  <appliance name='span2' domain='span2'>" \
    "    <sink type='erspan' remote='192.0.2.2' local='192.0.2.1' session='1000' version='2'/></appliance>" \
    "  <bridge-tag bridge='br0' vlan='101'/>" \
    "</vspan>"

typedef struct {
    guint16 proto;      /* GRE protocol: 0x6558 gretap, 0x88be ERSPAN II, 0x22eb ERSPAN III */
    guint32 key;        /* gretap's key */
    guint version, session;
    int dir;            /* ERSPAN III's direction bit, -1: none */
    GBytes *inner;
    gboolean fragment;
} Outer;

/* An outer IPv4/GRE packet as it left the host's veth, decoded. */
static gboolean
outer_parse(GBytes *pkt, Outer *o)
{
    gsize n, off, ihl;
    const guint8 *p = g_bytes_get_data(pkt, &n);
    guint16 flags;

    *o = (Outer){ .dir = -1 };
    if (n < 14 + 20 + 4 || p[12] != 0x08 || p[13] != 0x00 || p[14 + 9] != 47)
        return FALSE;
    ihl = (p[14] & 0x0f) * 4;
    o->fragment = (p[14 + 6] & 0x20) || ((p[14 + 6] & 0x1f) | p[14 + 7]);
    off = 14 + ihl;
    flags = p[off] << 8 | p[off + 1];
    o->proto = p[off + 2] << 8 | p[off + 3];
    off += 4;
    if (flags & 0x2000) {       /* key */
        o->key = (guint32)p[off] << 24 | p[off + 1] << 16 | p[off + 2] << 8 | p[off + 3];
        off += 4;
    }
    if (flags & 0x1000)         /* sequence number */
        off += 4;
    if ((o->proto == 0x88be || o->proto == 0x22eb) && off + 12 <= n) {
        o->version = p[off] >> 4;
        o->session = (p[off + 2] & 0x03) << 8 | p[off + 3];
        if (o->proto == 0x22eb)
            o->dir = (p[off + 11] >> 3) & 1;    /* hwid:4 dir:1 gra:2 o:1 */
        off += o->proto == 0x88be ? 8 : 12;
    }
    if (off > n)
        return FALSE;
    o->inner = g_bytes_new(p + off, n - off);
    return TRUE;
}

/* gretap (key 42), ERSPAN type II (session 7) and type III (session 1000)
 * sinks, created by vspan over netlink, toward a collector behind a
 * 1500-byte veth: every copy leaves as one outer packet carrying the
 * original frame and the session, an 8000-byte frame cut to fit (never an
 * outer fragment); type III's direction bit says whether the VM sent the
 * frame (0) or received it (1).  br0 has a <bridge-tag>: every inner frame
 * carries VLAN 101, and the cut to fit counts it.  A kernel without GRE (this project's dev host) gets one
 * line instead, and nothing is created. */
static void
test_tunnel_sinks(Fx *fx, gconstpointer data)
{
    static const struct { const char *appliance, *dev; guint16 proto; guint version, session, fit; } sinks[] = {
        { "gre", "vspangt42", 0x6558, 0, 0, 1500 - 20 - 8 },
        { "span1", "vspaner7", 0x88be, 1, 7, 1500 - 20 - 8 - 8 },
        { "span2", "vspaner1000", 0x22eb, 2, 1000, 1500 - 20 - 8 - 12 },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) f1_plain = ip_frame(TRUE, NULL, 17, 5000, 53, "tunnel-one");
    g_autoptr(GBytes) back_plain = ip_frame(FALSE, NULL, 17, 53, 5000, "tunnel-back");
    g_autoptr(GBytes) f1 = tagged(f1_plain, 101), back = tagged(back_plain, 101);
    g_autoptr(GBytes) big_plain = nt_frame(MAC_B, MAC_A, 0x0800, 0, "tunnel-jumbo", 8000);
    g_autoptr(GBytes) big = tagged(big_plain, 101);
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
    g_autofree char *xml = g_strdup(TUNNEL_CONFIG);
    /* ip_gre has parameters: /sys/module shows it built in or loaded */
    gboolean has_gre = g_file_test("/sys/module/ip_gre", G_FILE_TEST_IS_DIR);
    int ps;

    vspan_config_free(fx->config);
    fx->config = vspan_config_parse(xml, strlen(xml), "vspan.xml", &error);
    g_assert_no_error(error);
    if (!has_gre) {
        static const char *const want[] = {
            "Cannot create the gretap sink 'vspangt42': this kernel has no gretap devices; load the ip_gre module, or use a vxlan sink",
            "Cannot create the erspan sink 'vspaner7': this kernel has no erspan devices; load the ip_gre module, or use a vxlan sink",
        };
        for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
            g_autoptr(GError) e = NULL;
            const VspanAppliance *a = fx->config->appliances->pdata[i];

            g_assert_false(fx->be->klass->sink_ensure(fx->be, a, a->sink.dev, &e));
            g_assert_cmpstr(e->message, ==, want[i]);
            g_assert_cmpint(fx->be->klass->ifindex(fx->be, a->sink.dev), ==, 0);
        }
        g_test_message("this kernel has no GRE: each gretap/erspan sink is refused in one line, nothing created "
                       "(the nested tier's Debian kernel runs the data path)");
        return;
    }
    /* iproute2 by path: the nested VM's busybox has an "ip" of its own */
    nt_run("/sbin/ip link add vcol0 type veth peer name vcol1 && /sbin/ip addr add 192.0.2.1/24 dev vcol0 && "
           "/sbin/ip link set vcol0 up && /sbin/ip link set vcol1 up && "
           "/sbin/ip neigh replace 192.0.2.2 lladdr 02:00:00:00:00:02 dev vcol0 nud permanent");
    ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    sll.sll_ifindex = if_nametoindex("vcol0");
    g_assert_cmpint(ps, >=, 0);
    g_assert_cmpint(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), ==, 0);

    for (guint k = 0; k < G_N_ELEMENTS(sinks); k++) {
        g_autofree char *rule = g_strdup_printf("<vspan:mirror appliance='%s'/>", sinks[k].appliance);
        g_autoptr(GPtrArray) got = NULL;
        g_autofree char *link = NULL;
        guint whole = 0, cut = 0, outer = 0, frags = 0, to_vm = 0;
        VspanSinkStats st;

        g_assert_null(fx_apply(fx, rule));
        g_assert_cmpint(nt_sh(&link, "/sbin/ip -d link show %s", sinks[k].dev), ==, 0);
        g_test_message("%s", link);
        nt_drain(ps);
        nt_send(fx->a, f1_plain);
        nt_send(fx->a, big_plain);
        nt_send(fx->b, back_plain);
        got = nt_collect(ps, 300);
        for (guint i = 0; i < got->len; i++) {
            Outer o;

            if (!outer_parse(got->pdata[i], &o))
                continue;
            outer++;
            frags += o.fragment;
            g_assert_cmphex(o.proto, ==, sinks[k].proto);
            if (sinks[k].version) {
                g_assert_cmpuint(o.version, ==, sinks[k].version);
                g_assert_cmpuint(o.session, ==, sinks[k].session);
            } else {
                g_assert_cmpuint(o.key, ==, 42);
            }
            if (sinks[k].version == 2)
                g_assert_cmpint(o.dir, ==, g_bytes_equal(o.inner, back) ? 1 : 0);
            if (g_bytes_equal(o.inner, back))
                to_vm++;
            else if (g_bytes_equal(o.inner, f1))
                whole++;
            else if (g_bytes_get_size(o.inner) == sinks[k].fit &&
                     memcmp(g_bytes_get_data(o.inner, NULL), g_bytes_get_data(big, NULL), sinks[k].fit) == 0)
                cut++;
            else {
                const guint8 *d = g_bytes_get_data(o.inner, NULL);
                g_test_message("another copy: %zu bytes, type %02x%02x", g_bytes_get_size(o.inner), d[12], d[13]);
            }
            g_bytes_unref(o.inner);
        }
        g_assert_true(fx->be->klass->sink_stats(fx->be, sinks[k].dev, &st));
        g_test_message("%s: %u outer packets, %u whole, %u cut to %u, %u to the VM, %u fragments, %" G_GUINT64_FORMAT
                       " truncated", sinks[k].dev, outer, whole, cut, sinks[k].fit, to_vm, frags, st.truncated);
        /* every outer packet carried the session (asserted above); besides
         * the test's frames, the kernel's own (IPv6 DAD on a fresh tap) may
         * be among them */
        g_assert_cmpuint(outer, >=, 3);
        g_assert_cmpuint(whole, ==, 1);
        g_assert_cmpuint(to_vm, ==, 1);
        g_assert_cmpuint(cut, ==, 1);
        g_assert_cmpuint(frags, ==, 0);
        g_assert_cmpuint(st.truncated, ==, 1);
        g_assert_null(fx_apply(fx, ""));
    }
    close(ps);
}

/* ---- macvtap (<interface type='direct'>) ------------------------------------ */

/* A packet socket on @dev, for frames in and out of it. */
static int
packet_open(const char *dev)
{
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));

    sll.sll_ifindex = if_nametoindex(dev);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), ==, 0);
    return fd;
}

/* A guest on a macvtap in bridge mode over a veth whose far end is "the
 * LAN": what the guest writes to /dev/tapN leaves by the macvtap device's
 * egress, frames for it arrive at its ingress.  A from-vm rule copies the
 * guest's frames only, to-vm the LAN's only, both both; each original
 * reaches its receiver. */
static void
test_macvtap(Fx *fx, gconstpointer data)
{
    static const struct { const char *direction; guint from_vm, to_vm; } cases[] = {
        { "from-vm", 1, 0 }, { "to-vm", 0, 1 }, { "both", 1, 1 },
    };
    g_autoptr(GBytes) g = ip_frame(TRUE, NULL, 17, 6000, 53, "macvtap-guest");
    g_autoptr(GBytes) l = ip_frame(FALSE, NULL, 17, 53, 6000, "macvtap-lan");
    g_autofree char *tapdev = NULL;
    struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
    int guest, lan, s;

    if (!g_file_test("/sys/module/macvtap", G_FILE_TEST_IS_DIR)) {
        g_test_message("this kernel has no macvtap: the plan's hooks are pinned by tests/data/plan/start-direct-from-vm; "
                       "the nested tier's Debian kernel runs this data path");
        return;
    }
    nt_run("/sbin/ip link add mvl type veth peer name mvp && /sbin/ip link set mvl up && /sbin/ip link set mvp up && "
           "/sbin/ip link add link mvl name macvtap0 type macvtap mode bridge && "
           "/sbin/ip link set macvtap0 address " MAC_A " up");
    tapdev = g_strdup_printf("/dev/tap%u", if_nametoindex("macvtap0"));
    guest = open(tapdev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    g_assert_cmpint(guest, >=, 0);
    /* as a plain tap: no virtio-net header (QEMU asks for one) */
    g_assert_cmpint(ioctl(guest, TUNSETIFF, &ifr), ==, 0);
    lan = packet_open("mvp");
    s = nt_sink_open("vspan-sink0");

    for (guint k = 0; k < G_N_ELEMENTS(cases); k++) {
        g_autofree char *rule = g_strdup_printf("<vspan:mirror appliance='ids' direction='%s'/>", cases[k].direction);
        g_autofree char *xml = g_strdup_printf(
            "<domain type='qemu'><name>lan1</name><uuid>6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f51</uuid>"
            "<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>%s</vspan:domain></metadata>"
            "<devices><interface type='direct'><mac address='" MAC_A "'/><source dev='mvl' mode='bridge'/>"
            "<target dev='macvtap0'/></interface></devices></domain>", rule);
        g_autoptr(GError) error = NULL;
        g_autoptr(VspanDomain) dom = vspan_domain_parse(xml, strlen(xml), "lan1.xml", &error);
        g_autoptr(VspanObserved) obs = vspan_observed_new();
        g_autoptr(VspanPlan) plan = NULL;
        g_autoptr(GPtrArray) copies = NULL, at_lan = NULL, at_guest = NULL;

        g_assert_no_error(error);
        g_assert_true(vspan_host_observe_tap(fx->be, "macvtap0", obs, NULL));
        plan = vspan_plan_build(VSPAN_PHASE_START, dom, fx->config, obs);
        g_assert_cmpuint(plan->errors->len, ==, 0);
        g_assert_true(vspan_exec_apply(fx->be, plan, &error));
        g_assert_no_error(error);
        nt_drain(s);
        nt_drain(lan);
        nt_drain(guest);
        nt_send(guest, g);
        g_assert_cmpint(send(lan, g_bytes_get_data(l, NULL), g_bytes_get_size(l), 0), ==, (gssize)g_bytes_get_size(l));
        copies = nt_collect(s, 150);
        at_lan = nt_collect(lan, 50);
        at_guest = nt_collect(guest, 50);
        g_test_message("direction %s: %u copies; the LAN got %u frames, the guest %u", cases[k].direction,
                       copies->len, at_lan->len, at_guest->len);
        g_assert_cmpuint(nt_count(copies, g), ==, cases[k].from_vm);
        g_assert_cmpuint(nt_count(copies, l), ==, cases[k].to_vm);
        g_assert_cmpuint(nt_count(at_lan, g), ==, 1);      /* the guest's frame went out whole */
        g_assert_cmpuint(nt_count(at_guest, l), ==, 1);    /* the LAN's reached the guest */
    }
    close(guest);
    close(lan);
    close(s);
}

/* ---- <bridge-tag> ----------------------------------------------------------- */

#define TAG_CONFIG \
    "<vspan>" \
    "  <appliance name='ids' domain='ids'><sink type='tap' dev='vspan-sink0'/></appliance>" \
    "  <appliance name='snap64' domain='s64'><sink type='tap' dev='vspan-s64' snaplen='64'/></appliance>" \
    "  <appliance name='ivm' domain='ivm'><sink type='interface' mac='52:54:00:00:00:99'/></appliance>" \
    "  <bridge-tag bridge='br0' vlan='101'/>" \
    "  <bridge-tag bridge='br1' vlan='102'/>" \
    "%s</vspan>"

/* @inner with an 802.1Q tag @vid inserted after the MACs */
static GBytes *
tagged(GBytes *inner, guint16 vid)
{
    gsize n;
    const guint8 *d = g_bytes_get_data(inner, &n);
    GByteArray *b = g_byte_array_new();

    put(b, d, 12);
    put16(b, 0x8100);
    put16(b, vid);
    put(b, d + 12, n - 12);
    return g_byte_array_free_to_bytes(b);
}

static void
fx_use_config(Fx *fx, const char *extra)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = g_strdup_printf(TAG_CONFIG, extra);

    vspan_config_free(fx->config);
    fx->config = vspan_config_parse(xml, strlen(xml), "vspan.xml", &error);
    g_assert_no_error(error);
}

/* Two tenants' bridges with the same MACs and IPs, one appliance: every
 * copy arrives under its bridge's outer VLAN (frames from the VM and to
 * it); a frame that has a tag of its own gets the bridge's on top
 * (802.1Q in 802.1Q); snaplen counts the tag; the monitored frames reach
 * the other guest byte for byte, their own tags untouched.  Without the
 * <bridge-tag>, the copies are untagged again and the filters are gone. */
static void
test_bridge_tag(Fx *fx, gconstpointer data)
{
    static const guint16 own_tag[] = { 0x8100, 7, 0 };
    g_autoptr(GBytes) f = ip_frame(TRUE, NULL, 17, 5000, 53, "tenant");
    g_autoptr(GBytes) back = ip_frame(FALSE, NULL, 17, 53, 5000, "tenant-reply");
    g_autoptr(GBytes) own = ip_frame(TRUE, own_tag, 17, 5001, 53, "tenant-own-tag");
    g_autoptr(GBytes) f101 = tagged(f, 101), f102 = tagged(f, 102), back101 = tagged(back, 101);
    g_autoptr(GBytes) own101 = tagged(own, 101);
    g_autoptr(GPtrArray) got = NULL, at_b = NULL, at_d = NULL, snap = NULL, at_ivm = NULL;
    g_autofree char *tc = NULL;
    int c, d, s, s64, ivm;

    nt_bridge_pair("br1", "vnet2", "vnet3", &c, &d, MAC_A, MAC_B);
    fx_use_config(fx, "");
    s = nt_sink_open("vspan-sink0");
    s64 = nt_sink_open("vspan-s64");
    /* the interface-sink appliance's own tap: it gets tagged copies too */
    ivm = nt_sink_open("vnet9");
    g_assert_null(fx_apply_on(fx, "vnet0", "br0", "<vspan:mirror appliance='ids'/>"
                                                  "<vspan:mirror appliance='snap64' filter='udp port 53 and not vlan 101'/>",
                              NULL));
    g_assert_null(fx_apply_on(fx, "vnet2", "br1", "<vspan:mirror appliance='ids'/><vspan:mirror appliance='ivm'/>",
                              "vnet9"));
    /* witness: the mark is set before vspan's filters and cleared after */
    g_assert_cmpint(nt_sh(&tc, "/sbin/tc filter show dev vnet0 ingress"), ==, 0);
    g_test_message("vnet0 ingress:\n%s", tc);
    g_assert_nonnull(strstr(tc, "pref 48895 bpf"));
    g_assert_nonnull(strstr(tc, "vspan-tag-101 direct-action"));
    g_assert_nonnull(strstr(tc, "pref 48901 bpf"));
    g_assert_nonnull(strstr(tc, "vspan-untag direct-action"));
    nt_drain(s);
    nt_drain(s64);

    nt_send(fx->a, f);
    nt_send(c, f);
    nt_send(fx->a, own);
    nt_send(fx->b, back);
    got = nt_collect(s, 150);
    at_b = nt_collect(fx->b, 50);
    at_d = nt_collect(d, 50);
    snap = nt_collect(s64, 50);
    at_ivm = nt_collect(ivm, 50);
    g_test_message("ids got %u copies, snap64 %u", got->len, snap->len);
    /* every copy carries its bridge's tag: the test's frames, and whatever
     * the kernel itself sent the guests meanwhile (IPv6 DAD, router
     * solicitations on a slow machine) */
    for (guint i = 0; i < got->len; i++) {
        gsize n;
        const guint8 *p = g_bytes_get_data(got->pdata[i], &n);
        guint vid = n >= 16 ? ((p[14] << 8) | p[15]) & 0xfff : 0;

        g_test_message("copy %u: %zu bytes, type %02x%02x vlan %u", i, n, p[12], p[13], vid);
        g_assert_true(n >= 16 && p[12] == 0x81 && p[13] == 0x00);
        g_assert_true(vid == 101 || vid == 102);
    }
    g_assert_cmpuint(nt_count(got, f101), ==, 1);       /* br0's copy */
    g_assert_cmpuint(nt_count(got, f102), ==, 1);       /* br1's, the same frame */
    g_assert_cmpuint(nt_count(got, own101), ==, 1);     /* 802.1Q in 802.1Q */
    g_assert_cmpuint(nt_count(got, back101), ==, 1);    /* to the VM */
    g_assert_cmpuint(nt_count(at_ivm, f102), ==, 1);    /* an interface sink: tagged as well */
    g_assert_cmpuint(nt_count(at_ivm, f), ==, 0);
    /* the originals, untouched */
    g_assert_cmpuint(nt_count(at_b, f), ==, 1);
    g_assert_cmpuint(nt_count(at_b, own), ==, 1);
    g_assert_cmpuint(nt_count(at_d, f), ==, 1);
    /* the rule's filter saw the frames as they are, without the bridge's
     * tag ("not vlan 101" held for all three; the kernel shows a frame's
     * own tag as metadata, so "udp port 53" matches it too); snaplen 64
     * holds with the bridge's tag in it */
    {
        GBytes *want[] = { f101, own101, back101 };

        for (guint k = 0; k < G_N_ELEMENTS(want); k++) {
            const guint8 *o = g_bytes_get_data(want[k], NULL);
            guint found = 0;

            for (guint i = 0; i < snap->len; i++) {
                gsize n;
                const guint8 *p = g_bytes_get_data(snap->pdata[i], &n);
                g_assert_cmpuint(n, <=, 64);
                found += n == 64 && memcmp(p, o, 64) == 0;
            }
            g_assert_cmpuint(found, ==, 1);
        }
    }

    /* the tag goes: the copies are plain again, nothing of it is left */
    {
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = g_strdup("<vspan>"
            "  <appliance name='ids' domain='ids'><sink type='tap' dev='vspan-sink0'/></appliance>"
            "  <appliance name='snap64' domain='s64'><sink type='tap' dev='vspan-s64' snaplen='64'/></appliance>"
            "</vspan>");
        vspan_config_free(fx->config);
        fx->config = vspan_config_parse(xml, strlen(xml), "vspan.xml", &error);
        g_assert_no_error(error);
    }
    g_assert_null(fx_apply_on(fx, "vnet0", "br0", "<vspan:mirror appliance='ids'/>", NULL));
    g_clear_pointer(&tc, g_free);
    g_assert_cmpint(nt_sh(&tc, "/sbin/tc filter show dev vnet0 ingress; /sbin/tc filter show dev vnet0 egress"), ==, 0);
    g_assert_null(strstr(tc, "vspan-tag"));
    g_assert_null(strstr(tc, "vspan-untag"));
    g_clear_pointer(&got, g_ptr_array_unref);
    nt_send(fx->a, f);
    got = nt_collect(s, 150);
    g_assert_cmpuint(nt_count(got, f), ==, 1);
    g_assert_cmpuint(nt_count(got, f101), ==, 0);
    close(c);
    close(d);
    close(s);
    close(s64);
    close(ivm);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (geteuid() != 0) {
        g_print("1..0 # SKIP the netns tier needs root (CAP_NET_ADMIN, /dev/net/tun)\n");
        return 0;
    }
#define ADD(path, fn) g_test_add("/select/" path, Fx, NULL, fx_setup, fn, fx_teardown)
    ADD("filter-equals-live-tcpdump", test_filter_equals_tcpdump);
    ADD("two-appliances-two-filters", test_two_appliances);
    ADD("sample", test_sample);
    ADD("witness-and-removal", test_witness_and_removal);
    ADD("bad-input-changes-nothing", test_bad_input);
    ADD("repoint-interface-sink", test_repoint);
    ADD("sink-snaplen", test_snaplen);
    ADD("sink-max-rate", test_max_rate);
    ADD("program-flow-head", test_flow_head);
    ADD("program-source-rate", test_source_rate);
    ADD("program-errors", test_program_errors);
    ADD("bridge-tag", test_bridge_tag);
    ADD("tunnel-sinks", test_tunnel_sinks);
    ADD("macvtap", test_macvtap);
    return g_test_run();
}
