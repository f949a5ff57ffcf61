/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vspand: the vspan agent.  One GLib main loop owns all state and every
 * kernel change; hook calls, libvirt events and netlink events are served
 * one after another.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "vspand"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "vspan-agent.h"
#include "vspan-log.h"
#include "vspan-build-config.h"
#include "vspan-libvirt.h"
#include "vspan-watch.h"
#include "vspan-proto.h"

typedef struct {
    GMainLoop *loop;
    VspanAgent *agent;
    VspanLibvirt *libvirt;
    int listen_fd;
    VspanWatch *watch;
    guint textfile_timer;
    guint textfile_soon;
    gboolean textfile_failing;
} Vspand;

/* ---- node_exporter textfile --------------------------------------------- */

/* Rewrite <metrics textfile> atomically (node_exporter must never read
 * half a file); a failure is logged when it starts and when it ends. */
static void
vspand_textfile_write(Vspand *d)
{
    const char *path = vspan_agent_config(d->agent)->metrics_textfile;
    g_autofree char *text = NULL;
    int err;

    if (!path)
        return;
    text = vspan_agent_metrics(d->agent);
    err = vspan_file_replace(path, text, strlen(text), 0644);
    if (err && !d->textfile_failing)
        g_warning("Cannot write the metrics textfile '%s': %s; fix the directory or <metrics textfile> in the config",
                  path, g_strerror(err));
    else if (!err && d->textfile_failing)
        g_message("metrics textfile '%s' is written again", path);
    d->textfile_failing = err != 0;
}

static gboolean
vspand_textfile_tick(gpointer data)
{
    vspand_textfile_write(data);
    return G_SOURCE_CONTINUE;
}

static gboolean
vspand_textfile_soon(gpointer data)
{
    Vspand *d = data;

    d->textfile_soon = 0;
    vspand_textfile_write(d);
    return G_SOURCE_REMOVE;
}

/* After a change: 250 ms later, so that a burst of VM starts costs one
 * rewrite (each reads every mirror's counters) and no hook waits for it. */
static void
vspand_textfile_schedule(Vspand *d)
{
    if (!d->textfile_soon && vspan_agent_config(d->agent)->metrics_textfile)
        d->textfile_soon = g_timeout_add(250, vspand_textfile_soon, d);
}

/* At start and after a reload: the interval may have changed. */
static void
vspand_textfile_start(Vspand *d)
{
    const VspanConfig *config = vspan_agent_config(d->agent);

    g_clear_handle_id(&d->textfile_timer, g_source_remove);
    if (!config->metrics_textfile)
        return;
    d->textfile_timer = g_timeout_add_seconds(config->metrics_interval, vspand_textfile_tick, d);
    vspand_textfile_schedule(d);
}

/* ---- control socket ----------------------------------------------------- */

static GVariant *
vspand_reply(int status, const char *message, const char *payload)
{
    return g_variant_new("(iss)", status, message ? message : "", payload ? payload : "");
}

static GVariant *
vspand_dispatch(Vspand *d, GVariant *request)
{
    const char *command;
    g_autoptr(GVariant) cmd = g_variant_get_child_value(request, 0);

    command = g_variant_get_string(cmd, NULL);
    if (g_str_equal(command, "hook")) {
        const char *phase = vspan_proto_request_arg(request, "phase");
        const char *sub = vspan_proto_request_arg(request, "sub");
        const char *xml = vspan_proto_request_arg(request, "xml");
        g_autofree char *message = NULL;
        int status;

        if (!phase || !xml)
            return vspand_reply(2, "malformed hook request: phase and xml are required", NULL);
        status = vspan_agent_hook(d->agent, phase, sub ? sub : "-", xml, &message);
        vspand_textfile_schedule(d);
        return vspand_reply(status, message, NULL);
    }
    if (g_str_equal(command, "status")) {
        g_autofree char *text = NULL;
        g_autofree char *json = vspan_agent_status(d->agent, &text);
        return vspand_reply(0, text, json);
    }
    if (g_str_equal(command, "metrics")) {
        g_autofree char *text = vspan_agent_metrics(d->agent);
        return vspand_reply(0, NULL, text);
    }
    if (g_str_equal(command, "reconcile")) {
        /* what start-up does: sinks, pool PFs, the kernel; then libvirt */
        vspan_agent_ensure_sinks(d->agent);
        vspan_agent_ensure_pools(d->agent);
        vspan_agent_repair(d->agent);
        if (d->libvirt)
            vspan_libvirt_schedule_sync(d->libvirt);
        vspand_textfile_schedule(d);
        return vspand_reply(0, "reconciled the kernel with vspan's state; a libvirt resync follows", NULL);
    }
    return vspand_reply(2, "unknown command; use hook, status, metrics or reconcile", NULL);
}

static gboolean
vspand_on_client(int listen_fd, GIOCondition cond, gpointer data)
{
    Vspand *d = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) request = NULL;
    GVariant *reply;            /* floating: vspan_proto_frame() consumes it */
    g_autoptr(GBytes) frame = NULL;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    gint64 deadline;
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (fd < 0)
        return G_SOURCE_CONTINUE;
    /* root only: the socket is 0600, and the peer is checked as well */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
        g_message("refused a control connection from uid %d", (int)cred.uid);
        close(fd);
        return G_SOURCE_CONTINUE;
    }
    deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    request = vspan_proto_read(fd, VSPAN_PROTO_REQUEST_TYPE, deadline, &error);
    if (!request) {
        g_message("control request from pid %d refused: %s", (int)cred.pid, error->message);
        reply = vspand_reply(2, error->message, NULL);
    } else {
        reply = vspand_dispatch(d, request);
    }
    frame = vspan_proto_frame(reply);
    {
        gsize n;
        const void *p = g_bytes_get_data(frame, &n);
        g_clear_error(&error);
        if (!vspan_proto_write_all(fd, p, n, g_get_monotonic_time() + 2 * G_USEC_PER_SEC, &error))
            g_message("cannot answer pid %d: %s", (int)cred.pid, error->message);
    }
    close(fd);
    return G_SOURCE_CONTINUE;
}

static int
vspand_listen(const char *path, GError **error)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_autofree char *dir = g_path_get_dirname(path);
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO, "socket path '%s' is too long", path);
        return -1;
    }
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        int saved = errno;
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO, "Cannot create '%s': %s", dir, g_strerror(saved));
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    g_unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO, "Cannot listen on '%s': %s", path, g_strerror(saved));
        return -1;
    }
    return fd;
}

/* ---- main --------------------------------------------------------------- */

/* sd_notify(3)'s protocol, without libsystemd: one datagram to
 * $NOTIFY_SOCKET (a path, or '@' for the abstract namespace).  Type=notify
 * units wait for READY=1; without systemd the variable is unset and this
 * does nothing. */
static void
vspand_notify(const char *state)
{
    const char *path = g_getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    socklen_t len;
    int fd;

    if (!path || !*path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, strlen(path));
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
        g_debug("cannot notify the service manager (%s): %s", path, g_strerror(errno));
    close(fd);
}

static gboolean
vspand_on_term(gpointer data)
{
    Vspand *d = data;

    g_message("stopping; mirrors stay in place");
    vspand_notify("STOPPING=1");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean
vspand_on_hup(gpointer data)
{
    Vspand *d = data;
    g_autoptr(GError) error = NULL;
    gboolean ok;

    vspand_notify("RELOADING=1");
    ok = vspan_agent_reload_config(d->agent, &error);
    if (!ok)
        g_warning("%s; keeping the previous configuration", error->message);
    else
        vspand_textfile_start(d);
    if (ok && d->libvirt)
        vspan_libvirt_schedule_sync(d->libvirt);
    vspand_notify("READY=1");
    return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
    g_autofree char *config = NULL, *state_dir = NULL, *socket_path = NULL, *uri = NULL, *pidfile = NULL;
    g_autofree char *log = NULL;
    VspanLogTarget log_target = VSPAN_LOG_AUTO;
    gboolean foreground = FALSE, debug = FALSE, version = FALSE;
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "Host config (default " VSPAN_DEFAULT_CONFIG ")", "FILE" },
        { "state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir, "State directory (default " VSPAN_STATEDIR ")", "DIR" },
        { "socket", 'S', 0, G_OPTION_ARG_FILENAME, &socket_path, "Control socket (default $VSPAN_SOCKET or " VSPAN_RUNDIR "/vspand.sock)", "PATH" },
        { "libvirt-uri", 'u', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (default qemu:///system; 'none' to run without libvirt)", "URI" },
        { "pidfile", 'p', 0, G_OPTION_ARG_FILENAME, &pidfile, "Write the PID here", "FILE" },
        { "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground, "Stay in the foreground (vspand never forks)", NULL },
        { "debug", 'd', 0, G_OPTION_ARG_NONE, &debug, "Log every netlink request", NULL },
        { "log", 'l', 0, G_OPTION_ARG_STRING, &log, "Log to the journal, stderr or auto (the journal when stderr is connected to it; default)", "TARGET" },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- the vspan agent");
    g_autoptr(GError) error = NULL;
    Vspand d = { .listen_fd = -1 };

    setlocale(LC_ALL, "");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "vspand: %s\n", error->message);
        return 2;
    }
    if (version) {
        printf("vspand %s\n", VSPAN_VERSION);
        return 0;
    }
    if (log && !vspan_log_target_parse(log, &log_target)) {
        fprintf(stderr, "vspand: unknown log target '%s'; use journal, stderr or auto\n", log);
        return 2;
    }
    vspan_log_setup("vspand", log_target, debug);
    if (!config)
        config = g_strdup(VSPAN_DEFAULT_CONFIG);
    if (!state_dir)
        state_dir = g_strdup(VSPAN_STATEDIR);
    if (!socket_path)
        socket_path = g_strdup(vspan_proto_socket_path());
    if (!uri)
        uri = g_strdup("qemu:///system");

    if (!g_str_equal(uri, "none"))
        vspan_libvirt_init_events();
    {
        VspanHost *host = vspan_linux_host_new(&error);
        d.agent = host ? vspan_agent_new(config, state_dir, host, &error) : NULL;
    }
    if (!d.agent) {
        fprintf(stderr, "vspand: %s\n", error->message);
        return 1;
    }
    vspan_agent_on_repaired(d.agent, (VspanAgentFunc)vspand_textfile_schedule, &d);
    d.listen_fd = vspand_listen(socket_path, &error);
    if (d.listen_fd < 0 || !(d.watch = vspan_watch_new(d.agent, &error)))
        goto fail;
    if (pidfile) {
        g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
        if (!g_file_set_contents(pidfile, pid, -1, &error))
            goto fail;
    }
    d.loop = g_main_loop_new(NULL, FALSE);
    g_unix_fd_add(d.listen_fd, G_IO_IN, vspand_on_client, &d);
    g_unix_signal_add(SIGTERM, vspand_on_term, &d);
    g_unix_signal_add(SIGINT, vspand_on_term, &d);
    g_unix_signal_add(SIGHUP, vspand_on_hup, &d);

    /* the kernel first, from vspan's own records; then libvirt's view */
    vspan_agent_ensure_sinks(d.agent);
    vspan_agent_ensure_pools(d.agent);
    vspan_agent_repair(d.agent);
    if (!g_str_equal(uri, "none"))
        d.libvirt = vspan_libvirt_new(uri, d.agent);
    vspand_textfile_start(&d);
    g_message("vspand %s listening on %s", VSPAN_VERSION, socket_path);
    /* ready: the socket answers and the kernel matches vspan's records.
     * libvirt's resync is not waited for: libvirtd starts after vspand. */
    {
        g_autofree char *ready = g_strdup_printf("READY=1\nMAINPID=%d", (int)getpid());
        vspand_notify(ready);
    }
    g_main_loop_run(d.loop);

    g_clear_handle_id(&d.textfile_timer, g_source_remove);
    g_clear_handle_id(&d.textfile_soon, g_source_remove);

    vspan_libvirt_free(d.libvirt);
    close(d.listen_fd);
    g_unlink(socket_path);
    if (pidfile)
        g_unlink(pidfile);
    vspan_watch_free(d.watch);
    vspan_agent_free(d.agent);
    g_main_loop_unref(d.loop);
    return 0;

fail:
    fprintf(stderr, "vspand: %s\n", error->message);
    vspan_watch_free(d.watch);
    if (d.listen_fd >= 0) {
        close(d.listen_fd);
        g_unlink(socket_path);
    }
    vspan_agent_free(d.agent);
    return 1;
}
