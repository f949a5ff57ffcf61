/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vspan-hook: the libvirt qemu hook (/etc/libvirt/hooks/qemu.d/vspan).
 *
 *   vspan-hook DOMAIN OPERATION SUB-OPERATION EXTRA < live domain XML
 *
 * A thin client of vspand: it forwards the call and exits as the agent
 * says, printing the agent's one line on stderr (what the virsh user reads).
 * It never calls libvirt (libvirtd is waiting for it) and never waits more
 * than VSPAN_HOOK_TIMEOUT_MS (default 5000).  When vspand is not there,
 * domains that need nothing from vspan start anyway; the others follow
 * <hook on-agent-unavailable> of the host config ($VSPAN_CONFIG).
 */
#define G_LOG_DOMAIN "vspan-hook"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlfcn.h>

#include "vspan-enums.h"
#include "vspan-hook-fallback.h"
#include "vspan-limits.h"
#include "vspan-proto.h"

static char *
read_stdin(gsize *len)
{
    g_autoptr(GString) s = g_string_new(NULL);
    char buf[65536];
    ssize_t n;

    /* read it all even when unused: libvirt writes the whole XML */
    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
        if (s->len < VSPAN_XML_MAX_BYTES + 1)
            g_string_append_len(s, buf, n);
    *len = s->len;
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* vspand is not answering: load the module that decides from the XML and
 * the config alone (it sits next to this executable). */
static int
without_agent(int phase, const char *xml, gsize len, const char *why)
{
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = self ? g_path_get_dirname(self) : g_strdup(".");
    g_autofree char *path = g_build_filename(dir, VSPAN_HOOK_FALLBACK_MODULE, NULL);
    void *module;
    VspanHookFallbackFunc fn;

    if (!vspan_phase_refusable(phase))
        return 0;
    module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    fn = module ? (VspanHookFallbackFunc)dlsym(module, VSPAN_HOOK_FALLBACK_SYMBOL) : NULL;
    if (!fn) {
        fprintf(stderr, "vspan: %s, and %s cannot be loaded (%s); reinstall vspan\n", why, path, dlerror());
        return 1;
    }
    return fn(phase, xml, len, why);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = NULL;
    g_autofree char *xml = NULL;
    const char *timeout_env = g_getenv("VSPAN_HOOK_TIMEOUT_MS");
    int timeout_ms = timeout_env ? atoi(timeout_env) : 5000;
    gsize len = 0;
    const char *message = NULL;
    int status, phase;

    if (argc < 4) {
        fprintf(stderr, "usage: %s DOMAIN OPERATION SUB-OPERATION [EXTRA] < domain XML\n", argv[0]);
        return 2;
    }
    xml = read_stdin(&len);
    phase = vspan_phase_from_string(argv[2]);
    /* migrate and restore read our stdout: print nothing, keep the XML */
    if (phase < 0 || phase == VSPAN_PHASE_MIGRATE || phase == VSPAN_PHASE_RESTORE)
        return 0;
    if (len > VSPAN_XML_MAX_BYTES) {
        fprintf(stderr, "vspan: the domain XML is larger than %u bytes\n", (unsigned)VSPAN_XML_MAX_BYTES);
        return vspan_phase_refusable(phase) ? 1 : 0;
    }
    {
        const char *const args[] = { "domain", argv[1], "phase", argv[2], "sub", argv[3], "xml", xml, NULL };
        reply = vspan_proto_call(vspan_proto_socket_path(),
                                 vspan_proto_request_new("hook", args), timeout_ms > 0 ? timeout_ms : 5000,
                                 &error);
    }
    if (!reply)
        return without_agent(phase, xml, len, error->message);
    g_variant_get(reply, "(i&s&s)", &status, &message, NULL);
    if (*message)
        fprintf(stderr, "vspan: %s\n", message);
    return vspan_phase_refusable(phase) && status != 0 ? 1 : 0;
}
