/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/*
 * The control protocol on /run/vspan/vspand.sock, spoken by vspan-hook and
 * vspanctl: one request, one reply per connection.  A frame is a 4-byte
 * big-endian length and a serialized GVariant; decoding checks the type and
 * the normal form, so a malformed message is refused, never trusted.
 *
 *   request  (sa{ss})   command ("hook", "status", "reconcile") + arguments
 *   reply    (iss)      exit status, one line for the user, payload (JSON)
 */
#define VSPAN_PROTO_REQUEST_TYPE "(sa{ss})"
#define VSPAN_PROTO_REPLY_TYPE "(iss)"
#define VSPAN_PROTO_MAX_FRAME (20u * 1024u * 1024u)

/* The wire form of @msg: a 4-byte big-endian length, then the serialised
 * GVariant.  A floating @msg is consumed, a full reference only borrowed
 * (as g_variant_ref_sink() has it). */
GBytes *vspan_proto_frame(GVariant *msg);

/* Decode a frame body (without the length) of @type; NULL and an error
 * when it is not a normal-form value of that type. */
GVariant *vspan_proto_decode(const void *data, gsize len, const char *type, GError **error);

GVariant *vspan_proto_request_new(const char *command, const char *const *keys_values);
const char *vspan_proto_request_arg(GVariant *request, const char *key);

/* Connect to @path, send @request, wait at most @timeout_ms in all for the
 * reply.  VSPAN_ERROR_UNAVAILABLE when nobody listens or time runs out. */
GVariant *vspan_proto_call(const char *path, GVariant *request, int timeout_ms, GError **error);

/* Blocking helpers on a connected fd, bounded by @deadline (monotonic us). */
gboolean vspan_proto_write_all(int fd, const void *data, gsize len, gint64 deadline, GError **error);
GVariant *vspan_proto_read(int fd, const char *type, gint64 deadline, GError **error);

/* The socket path: $VSPAN_SOCKET or the built-in default. */
const char *vspan_proto_socket_path(void);
