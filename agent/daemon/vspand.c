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
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/filter.h>
#include <linux/rtnetlink.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include "vspan-agent.h"
#include "vspan-log.h"
#include "vspan-build-config.h"
#include "vspan-libvirt.h"
#include "vspan-proto.h"

typedef struct {
    GMainLoop *loop;
    VspanAgent *agent;
    VspanLibvirt *libvirt;
    int listen_fd;
    struct nl_sock *monitor;
    guint refilter;
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

/* ---- rtnetlink watch ---------------------------------------------------- */


/* The device an rtnetlink event is about: the name a link message
 * carries, or the name of a tc message's ifindex (NULL when gone). */
static const char *
vspand_event_dev(struct nlmsghdr *h, char name[IF_NAMESIZE])
{
    static const struct nla_policy link_policy[IFLA_MAX + 1] = {
        [IFLA_IFNAME] = { .type = NLA_STRING, .maxlen = IF_NAMESIZE },
    };
    struct nlattr *tb[IFLA_MAX + 1];

    switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
        if (nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, (struct nla_policy *)link_policy) < 0 ||
            !tb[IFLA_IFNAME])
            return NULL;
        nla_strlcpy(name, tb[IFLA_IFNAME], IF_NAMESIZE);
        return name;
    case RTM_DELTFILTER:
    case RTM_DELQDISC:
        if (!nlmsg_valid_hdr(h, sizeof(struct tcmsg)))
            return NULL;
        return if_indextoname(((struct tcmsg *)nlmsg_data(h))->tcm_ifindex, name);
    default:
        return NULL;
    }
}

static int
vspand_monitor_cb(struct nl_msg *msg, void *data)
{
    Vspand *d = data;
    char name[IF_NAMESIZE];
    const char *dev = vspand_event_dev(nlmsg_hdr(msg), name);

    /* a filter, qdisc or link of vspan's went away or changed: check
     * vspan's within 100 ms (coalescing bursts, including those vspan
     * itself causes); other devices' churn costs one lookup */
    if (dev && vspan_agent_watches(d->agent, dev))
        vspan_agent_schedule_repair(d->agent, 100);
    return NL_OK;
}

static gboolean
vspand_on_monitor(int fd, GIOCondition cond, gpointer data)
{
    Vspand *d = data;
    int r;

    /* everything queued, in one wakeup: a burst of foreign link events
     * (a host starting containers) costs one dispatch, not one each */
    while ((r = nl_recvmsgs_default(d->monitor)) >= 0)
        ;
    /* the socket overflowed: events were lost, so look at everything */
    if (r == -NLE_NOMEM) {
        g_message("rtnetlink events were lost (receive buffer full); checking every mirror");
        vspan_agent_schedule_repair(d->agent, 100);
    }
    return G_SOURCE_CONTINUE;
}

/*
 * Let the kernel drop the events vspan does not care about before they
 * reach the socket: a host churning containers otherwise wakes vspand for
 * every veth (~80 us each here).  The classic-BPF program keeps link and
 * tc deletions and link changes of the watched ifindexes; while a watched
 * device does not exist (a sink not created yet) it keeps every new link,
 * whose name the callback then checks.  Netlink data is in host byte order
 * while BPF loads are big-endian, hence ntohs/ntohl on the constants.
 */
#define VSPAND_FILTER_MAX_IFINDEXES 1900     /* two instructions each, of BPF_MAXINSNS */

static void
vspand_monitor_filter(Vspand *d)
{
    g_autoptr(GArray) idx = NULL;
    g_autoptr(GArray) prog = g_array_new(FALSE, TRUE, sizeof(struct sock_filter));
    gboolean all_exist;
    struct sock_fprog fprog;
    int fd = nl_socket_get_fd(d->monitor);

#define INSN(code, jt, jf, k) \
    do { struct sock_filter f_ = BPF_JUMP(code, k, jt, jf); g_array_append_val(prog, f_); } while (0)
    idx = vspan_agent_watched_ifindexes(d->agent, &all_exist);
    if (idx->len > VSPAND_FILTER_MAX_IFINDEXES) {
        /* too many for one program: every event reaches the callback */
        setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, NULL, 0);
        return;
    }
    /* 0: the type; 1-4: the four kept types jump to 7 (the ifindex test),
     * a new link to 6 (keep) while a watched name is missing; 5: drop the
     * rest; 6: keep */
    INSN(BPF_LD | BPF_H | BPF_ABS, 0, 0, G_STRUCT_OFFSET(struct nlmsghdr, nlmsg_type));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, all_exist ? 5 : 4, 0, ntohs(RTM_NEWLINK));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, ntohs(RTM_DELLINK));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, 3, 0, ntohs(RTM_DELQDISC));
    INSN(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, ntohs(RTM_DELTFILTER));
    INSN(BPF_RET | BPF_K, 0, 0, 0);
    INSN(BPF_RET | BPF_K, 0, 0, 0xffffffff);
    /* 7: the ifindex (ifinfomsg and tcmsg both hold it 4 bytes into the
     * body); then for each watched one: equal -> keep, else try the next */
    INSN(BPF_LD | BPF_W | BPF_ABS, 0, 0, NLMSG_HDRLEN + 4);
    for (guint i = 0; i < idx->len; i++) {
        INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, ntohl(g_array_index(idx, int, i)));
        INSN(BPF_RET | BPF_K, 0, 0, 0xffffffff);
    }
    INSN(BPF_RET | BPF_K, 0, 0, 0);
#undef INSN
    fprog.len = prog->len;
    fprog.filter = (struct sock_filter *)prog->data;
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0) {
        g_debug("cannot filter rtnetlink events (%s); every event reaches vspand", g_strerror(errno));
        setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, NULL, 0);
    }
}

static gboolean
vspand_refilter_idle(gpointer data)
{
    Vspand *d = data;

    d->refilter = 0;
    if (d->monitor)
        vspand_monitor_filter(d);
    return G_SOURCE_REMOVE;
}

/* The watched devices changed, or may have new ifindexes (after a repair). */
static void
vspand_refilter_schedule(Vspand *d)
{
    if (!d->refilter)
        d->refilter = g_idle_add(vspand_refilter_idle, d);
}

static void
vspand_after_repair(gpointer data)
{
    vspand_textfile_schedule(data);
    vspand_refilter_schedule(data);
}

static gboolean
vspand_monitor_open(Vspand *d, GError **error)
{
    d->monitor = nl_socket_alloc();
    nl_socket_disable_seq_check(d->monitor);
    nl_socket_modify_cb(d->monitor, NL_CB_VALID, NL_CB_CUSTOM, vspand_monitor_cb, d);
    if (nl_connect(d->monitor, NETLINK_ROUTE) < 0 ||
        nl_socket_add_memberships(d->monitor, RTNLGRP_LINK, RTNLGRP_TC, 0) < 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "Cannot watch rtnetlink");
        return FALSE;
    }
    nl_socket_set_nonblocking(d->monitor);
    nl_socket_set_buffer_size(d->monitor, 4 << 20, 0);
    /* one recvmsg per event, not a peek first: 64 KiB holds any link or
     * tc notification */
    nl_socket_disable_msg_peek(d->monitor);
    nl_socket_set_msg_buf_size(d->monitor, 65536);
    g_unix_fd_add(nl_socket_get_fd(d->monitor), G_IO_IN, vspand_on_monitor, d);
    return TRUE;
}

/* ---- main --------------------------------------------------------------- */

static gboolean
vspand_on_term(gpointer data)
{
    Vspand *d = data;

    g_message("stopping; mirrors stay in place");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean
vspand_on_hup(gpointer data)
{
    Vspand *d = data;
    g_autoptr(GError) error = NULL;

    if (!vspan_agent_reload_config(d->agent, &error)) {
        g_warning("%s; keeping the previous configuration", error->message);
        return G_SOURCE_CONTINUE;
    }
    vspand_textfile_start(d);
    if (d->libvirt)
        vspan_libvirt_schedule_sync(d->libvirt);
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
    d.loop = g_main_loop_new(NULL, FALSE);
    {
        VspanHost *host = vspan_linux_host_new(&error);
        d.agent = host ? vspan_agent_new(config, state_dir, host, &error) : NULL;
    }
    if (!d.agent) {
        fprintf(stderr, "vspand: %s\n", error->message);
        return 1;
    }
    vspan_agent_on_repaired(d.agent, vspand_after_repair, &d);
    vspan_agent_on_watch_changed(d.agent, (VspanAgentFunc)vspand_refilter_schedule, &d);
    d.listen_fd = vspand_listen(socket_path, &error);
    if (d.listen_fd < 0 || !vspand_monitor_open(&d, &error)) {
        fprintf(stderr, "vspand: %s\n", error->message);
        return 1;
    }
    if (pidfile) {
        g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
        if (!g_file_set_contents(pidfile, pid, -1, &error)) {
            fprintf(stderr, "vspand: %s\n", error->message);
            return 1;
        }
    }
    g_unix_fd_add(d.listen_fd, G_IO_IN, vspand_on_client, &d);
    g_unix_signal_add(SIGTERM, vspand_on_term, &d);
    g_unix_signal_add(SIGINT, vspand_on_term, &d);
    g_unix_signal_add(SIGHUP, vspand_on_hup, &d);

    /* the kernel first, from vspan's own records; then libvirt's view */
    vspan_agent_ensure_sinks(d.agent);
    vspan_agent_ensure_pools(d.agent);
    vspan_agent_repair(d.agent);
    vspand_refilter_schedule(&d);
    if (!g_str_equal(uri, "none"))
        d.libvirt = vspan_libvirt_new(uri, d.agent);
    vspand_textfile_start(&d);
    g_message("vspand %s listening on %s", VSPAN_VERSION, socket_path);
    g_main_loop_run(d.loop);

    g_clear_handle_id(&d.textfile_timer, g_source_remove);
    g_clear_handle_id(&d.textfile_soon, g_source_remove);

    vspan_libvirt_free(d.libvirt);
    close(d.listen_fd);
    g_unlink(socket_path);
    if (pidfile)
        g_unlink(pidfile);
    nl_socket_free(d.monitor);
    vspan_agent_free(d.agent);
    g_main_loop_unref(d.loop);
    return 0;
}
