/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LD_PRELOAD shim for fault tests: SIGKILLs the process at a chosen point,
 * as a crash or `kill -9` would, with no chance to clean up.
 *
 *   VSPAN_FAULT=nlmsg:TYPE:N    before the Nth netlink message of type
 *                               TYPE (decimal, e.g. 44 = RTM_NEWTFILTER,
 *                               19 = RTM_SETLINK) is sent
 *   VSPAN_FAULT=rename:TEXT:N   before the Nth rename() whose target
 *                               contains TEXT
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
fault_hit(const char *kind, const char *what)
{
    static int count;
    const char *spec = getenv("VSPAN_FAULT");
    char k[16], arg[256];
    int n;

    if (!spec || sscanf(spec, "%15[^:]:%255[^:]:%d", k, arg, &n) != 3 || strcmp(k, kind) != 0)
        return 0;
    if (strcmp(kind, "nlmsg") == 0 ? strcmp(arg, what) != 0 : strstr(what, arg) == NULL)
        return 0;
    if (++count < n)
        return 0;
    fprintf(stderr, "fault-inject: SIGKILL before %s %s #%d\n", kind, what, n);
    kill(getpid(), SIGKILL);
    return 1;
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
    static ssize_t (*real)(int, const struct msghdr *, int);
    struct sockaddr_nl *sa = msg->msg_name;

    if (!real)
        real = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
    if (sa && msg->msg_namelen >= sizeof(*sa) && sa->nl_family == AF_NETLINK &&
        msg->msg_iovlen > 0 && msg->msg_iov[0].iov_len >= sizeof(struct nlmsghdr)) {
        const struct nlmsghdr *h = msg->msg_iov[0].iov_base;
        char type[16];

        snprintf(type, sizeof(type), "%u", h->nlmsg_type);
        fault_hit("nlmsg", type);
    }
    return real(fd, msg, flags);
}

int
rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);

    if (!real)
        real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    fault_hit("rename", to);
    return real(from, to);
}
