/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-proto"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "vspan-build-config.h"
#include "vspan-error.h"
#include "vspan-proto.h"

const char *
vspan_proto_socket_path(void)
{
    const char *env = g_getenv("VSPAN_SOCKET");

    return env && *env ? env : VSPAN_RUNDIR "/vspand.sock";
}

GBytes *
vspan_proto_frame(GVariant *msg)
{
    g_autoptr(GVariant) owned = g_variant_ref_sink(msg);
    gsize len = g_variant_get_size(owned);
    guint8 *buf = g_malloc(4 + len);
    guint32 be = htonl((guint32)len);

    memcpy(buf, &be, 4);
    g_variant_store(owned, buf + 4);
    return g_bytes_new_take(buf, 4 + len);
}

GVariant *
vspan_proto_decode(const void *data, gsize len, const char *type, GError **error)
{
    g_autoptr(GBytes) bytes = g_bytes_new(data, len);
    g_autoptr(GVariant) v = g_variant_new_from_bytes(G_VARIANT_TYPE(type), bytes, FALSE);

    g_variant_ref_sink(v);
    if (!g_variant_is_normal_form(v)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "malformed message: not a %s value; the peer speaks another protocol", type);
        return NULL;
    }
    return g_steal_pointer(&v);
}

GVariant *
vspan_proto_request_new(const char *command, const char *const *kv)
{
    GVariantBuilder b;

    g_variant_builder_init(&b, G_VARIANT_TYPE("a{ss}"));
    for (; kv && kv[0] && kv[1]; kv += 2)
        g_variant_builder_add(&b, "{ss}", kv[0], kv[1]);
    return g_variant_new("(sa{ss})", command, &b);
}

const char *
vspan_proto_request_arg(GVariant *request, const char *key)
{
    g_autoptr(GVariant) args = g_variant_get_child_value(request, 1);
    const char *value = NULL;

    /* the strings live as long as @request does */
    if (!g_variant_lookup(args, key, "&s", &value))
        return NULL;
    return value;
}

static gboolean
vspan_proto_wait(int fd, short events, gint64 deadline, GError **error)
{
    for (;;) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        struct pollfd p = { .fd = fd, .events = events };
        int r;

        if (left <= 0) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_UNAVAILABLE, "timed out");
            return FALSE;
        }
        r = poll(&p, 1, (int)MIN(left, G_MAXINT));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO, "poll: %s", g_strerror(saved));
            return FALSE;
        }
        if (r > 0)
            return TRUE;
    }
}

gboolean
vspan_proto_write_all(int fd, const void *data, gsize len, gint64 deadline, GError **error)
{
    const guint8 *p = data;

    while (len > 0) {
        ssize_t n;

        if (!vspan_proto_wait(fd, POLLOUT, deadline, error))
            return FALSE;
        n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0) {
            int saved = errno;
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO, "send: %s", g_strerror(saved));
            return FALSE;
        }
        p += n;
        len -= n;
    }
    return TRUE;
}

static gboolean
vspan_proto_read_exact(int fd, void *data, gsize len, gint64 deadline, GError **error)
{
    guint8 *p = data;

    while (len > 0) {
        ssize_t n;

        if (!vspan_proto_wait(fd, POLLIN, deadline, error))
            return FALSE;
        n = recv(fd, p, len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : ECONNRESET;
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO, "connection closed: %s", g_strerror(saved));
            return FALSE;
        }
        p += n;
        len -= n;
    }
    return TRUE;
}

GVariant *
vspan_proto_read(int fd, const char *type, gint64 deadline, GError **error)
{
    guint32 be;
    gsize len;
    g_autofree guint8 *buf = NULL;

    if (!vspan_proto_read_exact(fd, &be, 4, deadline, error))
        return NULL;
    len = ntohl(be);
    if (len > VSPAN_PROTO_MAX_FRAME) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "message of %" G_GSIZE_FORMAT " bytes is over the %u-byte limit", len,
                    VSPAN_PROTO_MAX_FRAME);
        return NULL;
    }
    buf = g_malloc(MAX(len, 1));
    if (!vspan_proto_read_exact(fd, buf, len, deadline, error))
        return NULL;
    return vspan_proto_decode(buf, len, type, error);
}

GVariant *
vspan_proto_call(const char *path, GVariant *request, int timeout_ms, GError **error)
{
    g_autoptr(GBytes) frame = vspan_proto_frame(request);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    g_autoptr(GError) local = NULL;
    GVariant *reply;
    gsize len;
    const void *data = g_bytes_get_data(frame, &len);
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_UNAVAILABLE, "socket path '%s' is too long", path);
        return NULL;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        if (saved == ENOENT || saved == ECONNREFUSED)
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_UNAVAILABLE,
                        "vspand is not running (%s: %s)", path, g_strerror(saved));
        else
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_UNAVAILABLE,
                        "cannot reach vspand (%s: %s)%s", path, g_strerror(saved),
                        saved == EACCES ? "; its socket is root's only" : "");
        return NULL;
    }
    if (!vspan_proto_write_all(fd, data, len, deadline, &local) ||
        !(reply = vspan_proto_read(fd, VSPAN_PROTO_REPLY_TYPE, deadline, &local))) {
        close(fd);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_UNAVAILABLE,
                    "vspand did not answer within %d ms (%s: %s)", timeout_ms, path, local->message);
        return NULL;
    }
    close(fd);
    return reply;
}
