/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: the hook <-> agent protocol decoder, as vspand and the hook
 * use it: request and reply types, then the request's arguments. */
#include "fuzz-common.h"
#include "vspan-proto.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = { "phase", "sub", "xml", "name", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) req = NULL;
    g_autoptr(GVariant) reply = NULL;

    vspan_fuzz_init();
    req = vspan_proto_decode(data, size, VSPAN_PROTO_REQUEST_TYPE, &error);
    if (req) {
        const char *command = NULL;

        g_variant_get_child(req, 0, "&s", &command);
        g_assert_true(g_utf8_validate(command, -1, NULL));
        for (guint i = 0; keys[i]; i++) {
            const char *v = vspan_proto_request_arg(req, keys[i]);
            g_assert_true(!v || g_utf8_validate(v, -1, NULL));
        }
        /* what was decoded re-encodes to the same bytes (normal form) */
        {
            g_autoptr(GBytes) frame = vspan_proto_frame(req);
            gsize n;
            const guint8 *p = g_bytes_get_data(frame, &n);
            g_assert_cmpuint(n, ==, size + 4);
            g_assert_true(memcmp(p + 4, data, size) == 0);
        }
    } else {
        vspan_fuzz_check_message(error->message);
    }
    g_clear_error(&error);
    reply = vspan_proto_decode(data, size, VSPAN_PROTO_REPLY_TYPE, &error);
    if (reply) {
        const char *msg, *payload;
        int status;

        g_variant_get(reply, "(i&s&s)", &status, &msg, &payload);
        (void)status;
    }
    return 0;
}
