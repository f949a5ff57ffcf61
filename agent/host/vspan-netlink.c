/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-netlink"

#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <netlink/attr.h>
#include <netlink/route/rtnl.h>

#include "vspan-error.h"
#include "vspan-netlink.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct VspanNl {
    struct nl_sock *sk;
    int err;                /* errno of the last NLMSG_ERROR, negative */
    gboolean done;          /* the request's ACK, error or DONE arrived */
    char ext_ack[256];
};

/* libnl's ack handling discards the TLVs behind struct nlmsgerr; read the
 * extended ACK message ourselves. */
static int
vspan_nl_error_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
    VspanNl *nl = arg;
    struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
    struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
    int ack_len = nlh->nlmsg_len - NLMSG_HDRLEN - (int)sizeof(*e);
    char *tlvs = (char *)(e + 1);

    nl->err = e->error;
    nl->done = TRUE;
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
        return NL_STOP;
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
        /* the request is echoed before the TLVs */
        int echoed = e->msg.nlmsg_len - NLMSG_HDRLEN;
        tlvs += echoed;
        ack_len -= echoed;
    }
    if (ack_len > 0 &&
        nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)tlvs, ack_len, NULL) == 0 &&
        tb[NLMSGERR_ATTR_MSG])
        g_strlcpy(nl->ext_ack, nla_get_string(tb[NLMSGERR_ATTR_MSG]), sizeof(nl->ext_ack));
    return NL_STOP;
}

/* ACK of a request, or NLMSG_DONE of a dump. */
static int
vspan_nl_done_cb(struct nl_msg *msg, void *arg)
{
    VspanNl *nl = arg;

    nl->done = TRUE;
    return NL_STOP;
}

VspanNl *
vspan_nl_open(GError **error)
{
    g_autofree VspanNl *nl = g_new0(VspanNl, 1);
    int one = 1;
    int r;

    nl->sk = nl_socket_alloc();
    if (!nl->sk) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "Cannot allocate a netlink socket");
        return NULL;
    }
    r = nl_connect(nl->sk, NETLINK_ROUTE);
    if (r < 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                    "Cannot open an rtnetlink socket: %s", nl_geterror(r));
        nl_socket_free(nl->sk);
        return NULL;
    }
    /* Best effort: kernels without extended ACK still give an errno. */
    setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    nl_socket_set_buffer_size(nl->sk, 1 << 20, 1 << 20);
    nl_socket_modify_err_cb(nl->sk, NL_CB_CUSTOM, vspan_nl_error_cb, nl);
    nl_socket_modify_cb(nl->sk, NL_CB_ACK, NL_CB_CUSTOM, vspan_nl_done_cb, nl);
    nl_socket_modify_cb(nl->sk, NL_CB_FINISH, NL_CB_CUSTOM, vspan_nl_done_cb, nl);
    return g_steal_pointer(&nl);
}

void
vspan_nl_close(VspanNl *nl)
{
    if (!nl)
        return;
    nl_socket_free(nl->sk);
    g_free(nl);
}

const char *
vspan_nl_ext_ack(VspanNl *nl)
{
    return nl->ext_ack;
}

static int
vspan_nl_finish(VspanNl *nl, int r, const char *what)
{
    if (nl->err < 0)
        r = nl->err;
    else if (r < 0) {
        g_debug("%s: libnl: %s", what, nl_geterror(r));
        r = -EIO;
    } else
        r = 0;
    g_debug("%s - %s%s%s%s", what, r == 0 ? "Success" : g_strerror(-r),
            *nl->ext_ack ? " (" : "", nl->ext_ack, *nl->ext_ack ? ")" : "");
    return r;
}

/* Send @msg and read until its ACK, error or NLMSG_DONE: a reply and its
 * ACK come in separate reads, and an ACK left unread would be taken for
 * the next request's. */
static int
vspan_nl_transact(VspanNl *nl, struct nl_msg *msg, int flags, nl_recvmsg_msg_cb_t cb,
                  void *arg, const char *what)
{
    int r;

    nl->err = 0;
    nl->done = FALSE;
    nl->ext_ack[0] = '\0';
    nlmsg_hdr(msg)->nlmsg_flags |= flags;
    r = nl_send_auto(nl->sk, msg);
    if (r >= 0) {
        if (cb)
            nl_socket_modify_cb(nl->sk, NL_CB_VALID, NL_CB_CUSTOM, cb, arg);
        while (!nl->done && (r = nl_recvmsgs_default(nl->sk)) >= 0)
            ;
        if (cb)
            nl_socket_modify_cb(nl->sk, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
    }
    return vspan_nl_finish(nl, r, what);
}

int
vspan_nl_request(VspanNl *nl, struct nl_msg *msg, const char *what)
{
    return vspan_nl_transact(nl, msg, NLM_F_ACK, NULL, NULL, what);
}

int
vspan_nl_get(VspanNl *nl, struct nl_msg *msg, nl_recvmsg_msg_cb_t cb, void *arg, const char *what)
{
    return vspan_nl_transact(nl, msg, NLM_F_ACK, cb, arg, what);
}

int
vspan_nl_dump(VspanNl *nl, struct nl_msg *msg, nl_recvmsg_msg_cb_t cb, void *arg, const char *what)
{
    return vspan_nl_transact(nl, msg, NLM_F_DUMP, cb, arg, what);
}

void
vspan_nl_set_error(VspanNl *nl, GError **error, int err, const char *fmt, ...)
{
    g_autofree char *prefix = NULL;
    va_list ap;

    va_start(ap, fmt);
    prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (nl && *nl->ext_ack)
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "%s: %s (kernel: %s)",
                    prefix, g_strerror(-err), nl->ext_ack);
    else
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "%s: %s", prefix, g_strerror(-err));
}
