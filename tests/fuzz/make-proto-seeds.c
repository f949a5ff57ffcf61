/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes the seed corpus of fuzz-proto: the frames vspan-hook and vspanctl
 * really send, and replies vspand really gives (bodies, without length). */
#include <glib.h>

#include "vspan-proto.h"

static void
store(const char *dir, const char *name, GVariant *msg)
{
    g_autoptr(GBytes) frame = vspan_proto_frame(msg);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    gsize n;
    const char *p = g_bytes_get_data(frame, &n);

    if (!g_file_set_contents(path, p + 4, n - 4, NULL))
        g_error("cannot write %s", path);
}

int
main(int argc, char **argv)
{
    const char *xml = "<domain><name>web</name><devices><interface type='bridge'><mac address='52:54:00:00:00:01'/>"
                      "<target dev='vnet0'/></interface></devices></domain>";

    if (argc != 2)
        g_error("usage: make-proto-seeds DIR");
    store(argv[1], "hook-start", vspan_proto_request_new("hook", (const char *const[]){
        "phase", "start", "sub", "begin", "xml", xml, NULL }));
    store(argv[1], "hook-prepare", vspan_proto_request_new("hook", (const char *const[]){
        "phase", "prepare", "sub", "begin", "xml", xml, "name", "web", NULL }));
    store(argv[1], "status", vspan_proto_request_new("status", NULL));
    store(argv[1], "metrics", vspan_proto_request_new("metrics", NULL));
    store(argv[1], "reconcile", vspan_proto_request_new("reconcile", NULL));
    store(argv[1], "reply-ok", g_variant_new("(iss)", 0, "", "{\"appliances\":[]}"));
    store(argv[1], "reply-refused", g_variant_new("(iss)", 1, "domain 'web': refused", ""));
    return 0;
}
