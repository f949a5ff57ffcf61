/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>

/*
 * One rtnetlink socket with extended ACKs on, so every refusal carries the
 * kernel's own words (libnl 3.7 does not ask for them).  Requests are
 * synchronous; each logs one debug line saying what was asked and how it
 * ended.
 */
typedef struct VspanNl VspanNl;

VspanNl *vspan_nl_open(GError **error);
void vspan_nl_close(VspanNl *nl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanNl, vspan_nl_close)


/* Send @msg and wait for its ACK.  Returns 0 or a negative errno; the
 * kernel's extended-ACK text, if any, is in vspan_nl_ext_ack(). */
int vspan_nl_request(VspanNl *nl, struct nl_msg *msg, const char *what);

/* Send a request whose answer is a message (RTM_GET* of one object);
 * @cb sees the answer. */
int vspan_nl_get(VspanNl *nl, struct nl_msg *msg, nl_recvmsg_msg_cb_t cb, void *arg,
                 const char *what);

/* Send a dump request and call @cb for every reply message. */
int vspan_nl_dump(VspanNl *nl, struct nl_msg *msg, nl_recvmsg_msg_cb_t cb, void *arg,
                  const char *what);

const char *vspan_nl_ext_ack(VspanNl *nl);

/* "PREFIX: strerror(-err) (kernel: EXTACK)" as a VSPAN_ERROR_KERNEL. */
void vspan_nl_set_error(VspanNl *nl, GError **error, int err, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

typedef struct nl_msg VspanNlMsg;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanNlMsg, nlmsg_free)
