/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tap-capture TAP FILE: attach to tap TAP as an appliance VM would (the tap
 * gets carrier, so mirred delivers to it), write every frame it receives
 * to FILE as pcap, until SIGTERM/SIGINT.  A test witness.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/if_tun.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    stop = 1;
}

int
main(int argc, char **argv)
{
    struct ifreq ifr = { 0 };
    struct { uint32_t magic; uint16_t vmaj, vmin; int32_t zone; uint32_t sig, snap, link; } gh =
        { 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1 };
    static unsigned char buf[65536];
    FILE *out;
    int fd;

    if (argc != 3) {
        fprintf(stderr, "usage: tap-capture TAP FILE\n");
        return 2;
    }
    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "tap-capture: cannot attach to %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    out = fopen(argv[2], "w");
    if (!out)
        return 1;
    fwrite(&gh, sizeof(gh), 1, out);
    fflush(out);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    while (!stop) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        struct timeval tv;
        struct { uint32_t sec, usec, caplen, len; } ph;
        ssize_t n;

        if (poll(&p, 1, 200) <= 0)
            continue;
        n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            continue;
        gettimeofday(&tv, NULL);
        ph.sec = tv.tv_sec;
        ph.usec = tv.tv_usec;
        ph.caplen = ph.len = n;
        fwrite(&ph, sizeof(ph), 1, out);
        fwrite(buf, 1, n, out);
        fflush(out);
    }
    fclose(out);
    return 0;
}
