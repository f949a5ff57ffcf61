/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "netns-util.h"

gboolean
nt_enter_netns(void)
{
    if (unshare(CLONE_NEWNET) < 0) {
        g_test_message("unshare(CLONE_NEWNET): %s", g_strerror(errno));
        return FALSE;
    }
    /* No IPv6 autoconfiguration chatter on the test links: every frame
     * seen is one the test sent. */
    nt_run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    nt_run("ip link set lo up");
    return TRUE;
}

G_GNUC_PRINTF(2, 0) static int
nt_shv(char **out, const char *fmt, va_list ap)
{
    g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
    g_autofree char *sout = NULL, *serr = NULL;
    g_autoptr(GError) error = NULL;
    char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    int status = 0;

    if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &sout, &serr, &status, &error))
        g_error("cannot run %s: %s", cmd, error->message);
    if (!g_spawn_check_wait_status(status, NULL))
        g_test_message("$ %s -> status %d: %s", cmd, status, serr);
    if (out)
        *out = g_steal_pointer(&sout);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

int
nt_sh(char **out, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = nt_shv(out, fmt, ap);
    va_end(ap);
    return r;
}

void
nt_run(const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = nt_shv(NULL, fmt, ap);
    va_end(ap);
    g_assert_cmpint(r, ==, 0);
}

int
nt_tap_open(const char *name)
{
    struct ifreq ifr = { 0 };
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        g_error("TUNSETIFF %s: %s", name, g_strerror(errno));
    return fd;
}

static void
nt_mac(const char *s, guint8 out[6])
{
    guint b[6];

    g_assert_cmpint(sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]), ==, 6);
    for (int i = 0; i < 6; i++)
        out[i] = b[i];
}

GBytes *
nt_frame(const char *dst, const char *src, guint16 type, guint16 vlan, const char *tag, gsize len)
{
    g_autofree guint8 *f = g_malloc0(MAX(len, 64));
    gsize off = 12;

    nt_mac(dst, f);
    nt_mac(src, f + 6);
    if (type == 0x8100) {
        f[off++] = 0x81;
        f[off++] = 0x00;
        f[off++] = vlan >> 8;
        f[off++] = vlan & 0xff;
        type = 0x0800;
    }
    f[off++] = type >> 8;
    f[off++] = type & 0xff;
    memcpy(f + off, tag, MIN(strlen(tag), len - off));
    for (gsize i = off + strlen(tag); i < len; i++)
        f[i] = (guint8)(i * 7);
    return g_bytes_new(f, MAX(len, 60));
}

void
nt_send(int fd, GBytes *frame)
{
    gsize n;
    const guint8 *d = g_bytes_get_data(frame, &n);

    g_assert_cmpint(write(fd, d, n), ==, (gssize)n);
}

GPtrArray *
nt_collect(int fd, guint quiet_ms)
{
    GPtrArray *got = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    static guint8 buf[65536];

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&p, 1, quiet_ms) <= 0)
            break;
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        g_assert_cmpint(n, >, 0);
        g_ptr_array_add(got, g_bytes_new(buf, n));
    }
    return got;
}

guint
nt_count(GPtrArray *got, GBytes *frame)
{
    guint n = 0;

    for (guint i = 0; i < got->len; i++)
        if (g_bytes_equal(got->pdata[i], frame))
            n++;
    return n;
}

void
nt_drain(int fd)
{
    g_ptr_array_unref(nt_collect(fd, 50));
}

void
nt_bridge_pair(const char *br, const char *tap_a, const char *tap_b, int *a, int *b, const char *mac_a,
               const char *mac_b)
{
    g_autoptr(GBytes) la = nt_frame("ff:ff:ff:ff:ff:ff", mac_a, 0x88b5, 0, "learn-a", 60);
    g_autoptr(GBytes) lb = nt_frame("ff:ff:ff:ff:ff:ff", mac_b, 0x88b5, 0, "learn-b", 60);

    nt_sh(NULL, "sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 2>/dev/null");
    /* multicast off: no IGMP reports from the host side, only test frames */
    nt_run("ip link add %s type bridge mcast_snooping 0 && ip link set %s mtu 9000 multicast off up", br, br);
    *a = nt_tap_open(tap_a);
    *b = nt_tap_open(tap_b);
    nt_run("for t in %s %s; do ip link set $t mtu 9000 multicast off master %s up; done", tap_a, tap_b, br);
    /* Let the bridge learn both MACs, then start from silence. */
    nt_send(*a, la);
    nt_send(*b, lb);
    nt_drain(*a);
    nt_drain(*b);
}

void
nt_bridge_two_taps(int *a, int *b, const char *mac_a, const char *mac_b)
{
    nt_bridge_pair("br0", "vnet0", "vnet1", a, b, mac_a, mac_b);
}

int
nt_sink_open(const char *name)
{
    int fd = nt_tap_open(name);

    nt_run("ip link set %s mtu 9000 multicast off up", name);
    return fd;
}
