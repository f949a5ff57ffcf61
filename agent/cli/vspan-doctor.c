/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "vspan-doctor"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <linux/filter.h>

#include "vspan-bpf.h"
#include "vspan-doctor.h"
#include "vspan-exec.h"
#include "vspan-json.h"
#include "vspan-link.h"
#include "vspan-sink.h"
#include "vspan-proto.h"
#include "vspan-sysfs.h"
#include "vspan-tc.h"
#include "vspan-vf.h"

VSPAN_ENUM_IMPL(VspanDoctorLevel, doctor_level, VSPAN_DOCTOR_LAST, "ok", "warn", "fail", "info")

typedef struct {
    VspanDoctorLevel level;
    char *check;
    char *detail;
} VspanDoctorItem;

static void
vspan_doctor_item_free(VspanDoctorItem *i)
{
    g_free(i->check);
    g_free(i->detail);
    g_free(i);
}

G_GNUC_PRINTF(4, 5) static void
add(GPtrArray *items, VspanDoctorLevel level, const char *check, const char *fmt, ...)
{
    VspanDoctorItem *i = g_new0(VspanDoctorItem, 1);
    va_list ap;

    va_start(ap, fmt);
    i->level = level;
    i->check = g_strdup(check);
    i->detail = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(items, i);
}

/* ---- kernel features, probed in a throwaway network namespace ----------- */

enum {
    PROBE_TUN, PROBE_CLSACT, PROBE_MATCHALL, PROBE_U32, PROBE_MIRRED, PROBE_VXLAN, PROBE_GRE,
    PROBE_CLS_BPF, PROBE_FLOW_HEAD, PROBE_SOURCE_RATE, PROBE_LAST
};

/* A builtin program loads (libbpf, the verifier) and attaches as a rule. */
static gboolean
vspan_doctor_probe_program(VspanNl *nl, int idx, const VspanTcAttach *at, guint32 sink,
                           const VspanProgramDef *def)
{
    g_autoptr(VspanBpfPrograms) progs = vspan_bpf_programs_new(vspan_bpf_objdir(), NULL);
    g_autoptr(GPtrArray) defs = g_ptr_array_new();
    VspanTcProgram prog = { .name = def->name };

    g_ptr_array_add(defs, (gpointer)def);
    vspan_bpf_programs_sync(progs, defs);
    prog.prog_fd = vspan_bpf_programs_fd(progs, def->name, NULL);
    prog.prog_id = vspan_bpf_programs_id(progs, def->name);
    return prog.prog_fd >= 0 &&
           vspan_tc_select_set(nl, idx, "probe0", at, VSPAN_HOOK_EGRESS, 2, sink, &prog, NULL);
}

static void
vspan_doctor_probe_child(int fd)
{
    char result[PROBE_LAST] = { 0 };
    g_autoptr(GError) error = NULL;
    VspanNl *nl;
    VspanTcAttach at;
    gboolean created;
    struct ifreq ifr = { 0 };
    int tun, idx;
    guint32 sink;
    VspanClassifier cls;

    if (unshare(CLONE_NEWNET) < 0)
        goto out;
    tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    g_strlcpy(ifr.ifr_name, "probe0", IFNAMSIZ);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (tun < 0 || ioctl(tun, TUNSETIFF, &ifr) < 0)
        goto out;
    result[PROBE_TUN] = 1;
    nl = vspan_nl_open(&error);
    if (!nl)
        goto out;
    idx = vspan_link_ifindex("probe0");
    vspan_link_set_up(nl, idx, "probe0", NULL);
    if (vspan_tc_attach(nl, idx, "probe0", VSPAN_QDISC_CLSACT, &at, &created, NULL) && at.state == VSPAN_QDISC_STATE_CLSACT)
        result[PROBE_CLSACT] = 1;
    sink = idx;
    cls = VSPAN_CLASSIFIER_MATCHALL;
    /* a mirror of the device into itself is fine for a probe: nothing flows */
    if (result[PROBE_CLSACT] &&
        vspan_tc_mirror_set(nl, idx, "probe0", &at, VSPAN_HOOK_INGRESS, &cls, &sink, 1, NULL)) {
        result[PROBE_MATCHALL] = result[PROBE_MIRRED] = 1;
        vspan_tc_mirror_del(nl, idx, "probe0", &at, VSPAN_HOOK_INGRESS, NULL);
    }
    cls = VSPAN_CLASSIFIER_U32;
    if (result[PROBE_CLSACT] &&
        vspan_tc_mirror_set(nl, idx, "probe0", &at, VSPAN_HOOK_INGRESS, &cls, &sink, 1, NULL))
        result[PROBE_U32] = result[PROBE_MIRRED] = 1;
    {
        VspanAppliance a = { .name = (char *)"probe", .domain = (char *)"probe" };
        int vx;
        a.sink.type = VSPAN_SINK_VXLAN;
        a.sink.remote = (char *)"192.0.2.1";
        a.sink.vni = 1;
        a.sink.dstport = 4789;
        result[PROBE_VXLAN] = vspan_sink_ensure(nl, &a, "probevx0", &vx, NULL);
        a.sink.type = VSPAN_SINK_ERSPAN;
        a.sink.version = 2;
        result[PROBE_GRE] = vspan_sink_ensure(nl, &a, "probeer0", &vx, NULL);
    }
    if (result[PROBE_CLSACT]) {
        /* a rule that selects: classic BPF in cls_bpf, then the builtins */
        struct sock_filter all = BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
        g_autoptr(GBytes) ops = g_bytes_new(&all, sizeof(all));
        VspanTcProgram classic = { .ops = ops };
        VspanProgramDef fh = { .name = (char *)"flow-head", .kind = VSPAN_PROGRAM_FLOW_HEAD,
                               .packets = 1, .flows = 1024 };
        VspanProgramDef sr = { .name = (char *)"source-rate", .kind = VSPAN_PROGRAM_SOURCE_RATE,
                               .pps = 1, .burst = 1 };

        result[PROBE_CLS_BPF] = vspan_tc_select_set(nl, idx, "probe0", &at, VSPAN_HOOK_EGRESS, 1, sink,
                                                    &classic, NULL);
        result[PROBE_FLOW_HEAD] = result[PROBE_CLS_BPF] && vspan_doctor_probe_program(nl, idx, &at, sink, &fh);
        result[PROBE_SOURCE_RATE] = result[PROBE_CLS_BPF] && vspan_doctor_probe_program(nl, idx, &at, sink, &sr);
    }
    vspan_nl_close(nl);
out:
    if (write(fd, result, sizeof(result)) != sizeof(result))
        _exit(1);
    _exit(0);
}

static gboolean
vspan_doctor_probe(char result[PROBE_LAST])
{
    int p[2];
    pid_t pid;
    int status;
    gboolean ok;

    if (pipe2(p, O_CLOEXEC) < 0)
        return FALSE;
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        vspan_doctor_probe_child(p[1]);
    }
    close(p[1]);
    ok = pid > 0 && read(p[0], result, PROBE_LAST) == PROBE_LAST;
    close(p[0]);
    if (pid > 0)
        waitpid(pid, &status, 0);
    return ok;
}

static void
vspan_doctor_kernel(GPtrArray *items)
{
    char r[PROBE_LAST] = { 0 };

    if (geteuid() != 0) {
        add(items, VSPAN_DOCTOR_WARN, "kernel", "not probed: run vspanctl doctor as root to test tc and tun in a private namespace");
        return;
    }
    if (!vspan_doctor_probe(r)) {
        add(items, VSPAN_DOCTOR_WARN, "kernel", "the private-namespace probe did not run");
        return;
    }
    add(items, r[PROBE_TUN] ? VSPAN_DOCTOR_OK : VSPAN_DOCTOR_FAIL, "kernel tun",
        r[PROBE_TUN] ? "/dev/net/tun makes taps" : "/dev/net/tun cannot make taps: load the tun module");
    add(items, r[PROBE_CLSACT] ? VSPAN_DOCTOR_OK : VSPAN_DOCTOR_FAIL, "kernel clsact",
        r[PROBE_CLSACT] ? "clsact qdisc available" : "no clsact qdisc: load sch_ingress");
    add(items, r[PROBE_MIRRED] ? VSPAN_DOCTOR_OK : VSPAN_DOCTOR_FAIL, "kernel mirred",
        r[PROBE_MIRRED] ? "act_mirred available" : "no mirred action: load act_mirred");
    if (r[PROBE_MATCHALL])
        add(items, VSPAN_DOCTOR_OK, "kernel classifier", "matchall available (u32 %s)", r[PROBE_U32] ? "too" : "missing");
    else if (r[PROBE_U32])
        add(items, VSPAN_DOCTOR_OK, "kernel classifier", "matchall missing: vspan uses the u32 fallback (match u32 0 0)");
    else
        add(items, VSPAN_DOCTOR_FAIL, "kernel classifier", "neither matchall nor u32: load cls_matchall or cls_u32");
    add(items, r[PROBE_VXLAN] ? VSPAN_DOCTOR_OK : VSPAN_DOCTOR_WARN, "kernel vxlan",
        r[PROBE_VXLAN] ? "vxlan devices available (remote sinks)" : "no vxlan: vxlan sinks will not work");
    if (r[PROBE_GRE])
        add(items, VSPAN_DOCTOR_OK, "kernel gre", "gretap and erspan devices available (remote sinks)");
    else
        add(items, VSPAN_DOCTOR_WARN, "kernel gre", "no GRE: gretap and erspan sinks will not work; load ip_gre (ip6_gre for IPv6)");
    if (r[PROBE_CLS_BPF])
        add(items, VSPAN_DOCTOR_OK, "kernel cls_bpf", "cls_bpf available (rules with filter=, sample= and program=)");
    else
        add(items, VSPAN_DOCTOR_WARN, "kernel cls_bpf", "no cls_bpf: rules with filter=, sample= or program= will fail; load cls_bpf");
    {
        g_autofree char *jit = NULL;

        if (g_file_get_contents("/proc/sys/net/core/bpf_jit_enable", &jit, NULL, NULL) && jit[0] != '0')
            add(items, VSPAN_DOCTOR_OK, "kernel bpf jit", "BPF programs are JIT-compiled");
        else
            add(items, VSPAN_DOCTOR_INFO, "kernel bpf jit", "the BPF JIT is off: filters run interpreted (slower); sysctl net.core.bpf_jit_enable=1");
    }
    if (r[PROBE_CLS_BPF] && r[PROBE_FLOW_HEAD] && r[PROBE_SOURCE_RATE])
        add(items, VSPAN_DOCTOR_OK, "kernel bpf programs",
            "the builtin programs (flow-head, source-rate) load and attach from %s", vspan_bpf_objdir());
    else if (r[PROBE_CLS_BPF])
        add(items, VSPAN_DOCTOR_WARN, "kernel bpf programs",
            "the builtin programs do not load from %s (no BPF syscall, or objects missing): rules naming them will be refused; vspand's log has the kernel's words",
            vspan_bpf_objdir());
}

/* ---- IOMMU, SR-IOV ------------------------------------------------------ */

static void
vspan_doctor_iommu(GPtrArray *items, const char *root)
{
    g_autofree char *cmdline = NULL, *groups = g_build_filename(root, "sys/kernel/iommu_groups", NULL);
    g_autofree char *path = g_build_filename(root, "proc/cmdline", NULL);
    g_autoptr(GDir) dir = g_dir_open(groups, 0, NULL);
    guint n = 0;
    gboolean param;

    while (dir && g_dir_read_name(dir))
        n++;
    g_file_get_contents(path, &cmdline, NULL, NULL);
    param = cmdline && (strstr(cmdline, "intel_iommu=on") || strstr(cmdline, "amd_iommu=on") ||
                        strstr(cmdline, "iommu=pt"));
    if (n > 0)
        add(items, VSPAN_DOCTOR_OK, "iommu", "%u IOMMU groups%s", n, param ? "" : " (enabled by default)");
    else
        add(items, VSPAN_DOCTOR_WARN, "iommu",
            "no IOMMU groups: VFs cannot be given to VMs; boot with intel_iommu=on iommu=pt (or amd_iommu=on)");
}

static void
vspan_doctor_pools(GPtrArray *items, const VspanConfig *config, const char *root)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanNl) nl = vspan_nl_open(&error);

    if (config->pools->len == 0) {
        add(items, VSPAN_DOCTOR_INFO, "sr-iov", "no <pool> in %s: SR-IOV not configured", config->path);
        return;
    }
    for (guint i = 0; i < config->pools->len; i++) {
        const VspanPool *pool = config->pools->pdata[i];
        for (guint j = 0; j < pool->pfs->len; j++) {
            const VspanPoolPf *ppf = pool->pfs->pdata[j];
            g_autofree char *check = g_strdup_printf("pool %s pf %s", pool->name, ppf->dev);
            g_autofree char *tpath = g_build_filename(root, "sys/class/net", ppf->dev, "device/sriov_totalvfs", NULL);
            g_autofree char *total = NULL, *driver = vspan_vf_driver(ppf->dev);
            int ifindex = vspan_link_ifindex(ppf->dev), numvfs;
            VspanVfSettings vf0;

            if (ifindex <= 0) {
                add(items, VSPAN_DOCTOR_FAIL, check, "no such device; fix <pf dev> or load the NIC driver");
                continue;
            }
            numvfs = vspan_sysfs_numvfs(root, ppf->dev);
            if (numvfs < 0) {
                add(items, VSPAN_DOCTOR_FAIL, check, "driver %s: not an SR-IOV PF (no sriov_numvfs)", driver);
                continue;
            }
            /* PCI PFs have sriov_totalvfs; netdevsim has only sriov_numvfs */
            g_file_get_contents(tpath, &total, NULL, NULL);
            add(items, numvfs > 0 ? VSPAN_DOCTOR_OK : VSPAN_DOCTOR_WARN, check,
                "driver %s, %d of %s VFs enabled%s", driver, numvfs, total ? g_strstrip(total) : "?",
                numvfs > 0 ? "" : "; enable VFs (echo N > /sys/class/net/PF/device/sriov_numvfs)");
            if (numvfs > 0 && nl && vspan_vf_get(nl, ifindex, 0, &vf0, NULL))
                add(items, VSPAN_DOCTOR_OK, check, "VF 0 reads back: vlan %u, spoofchk %s, trust %s, link %s",
                    vf0.vlan, vspan_switch_to_string(vf0.spoofchk), vspan_switch_to_string(vf0.trust),
                    vspan_link_state_to_string(vf0.link_state));
        }
    }
}

/* ---- bridges the config names ------------------------------------------- */

/* A missing bridge is no error (bridges come and go with libvirt networks),
 * but a misspelt one would leave copies untagged without a word. */
static void
vspan_doctor_bridges(GPtrArray *items, const VspanConfig *config)
{
    for (guint i = 0; i < config->bridge_tags->len; i++) {
        const VspanBridgeTag *t = config->bridge_tags->pdata[i];
        g_autofree char *check = g_strdup_printf("bridge-tag %s", t->bridge);

        if (vspan_link_ifindex(t->bridge) > 0)
            add(items, VSPAN_DOCTOR_OK, check, "copies of frames from its NICs carry VLAN %u", t->vlan);
        else
            add(items, VSPAN_DOCTOR_WARN, check,
                "bridge '%s' does not exist (yet); its copies will carry VLAN %u once it does: fix <bridge-tag bridge> if the name is wrong",
                t->bridge, t->vlan);
    }
}

/* ---- /dev/kvm as libvirt's QEMU user sees it ------------------------------ */

/* The value of a `key = "value"` line of qemu.conf, or NULL. */
static char *
vspan_doctor_qemu_conf(const char *conf, const char *key)
{
    g_auto(GStrv) lines = conf ? g_strsplit(conf, "\n", -1) : NULL;

    for (guint i = 0; lines && lines[i]; i++) {
        const char *l = lines[i], *q;
        gsize n = strlen(key);

        while (*l == ' ' || *l == '\t')
            l++;
        if (strncmp(l, key, n) != 0)
            continue;
        l += n;
        while (*l == ' ' || *l == '\t')
            l++;
        if (*l != '=' || !(l = strchr(l, '"')) || !(q = strchr(l + 1, '"')))
            continue;
        return g_strndup(l + 1, q - l - 1);
    }
    return NULL;
}

/* Can @pw (with primary group @gid and its supplementary groups) read and
 * write a node of @st?  That is what libvirt asks (virFileAccessibleAs)
 * before it trusts its cached QEMU capabilities. */
static gboolean
vspan_doctor_can_rw(const struct stat *st, const struct passwd *pw, gid_t gid)
{
    gid_t groups[256];
    int n = G_N_ELEMENTS(groups);

    if (pw->pw_uid == 0 || st->st_uid == pw->pw_uid)
        return (st->st_mode & (S_IRUSR | S_IWUSR)) == (S_IRUSR | S_IWUSR);
    if ((st->st_mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH))
        return TRUE;
    if ((st->st_mode & (S_IRGRP | S_IWGRP)) != (S_IRGRP | S_IWGRP))
        return FALSE;
    if (getgrouplist(pw->pw_name, gid, groups, &n) < 0)
        n = 0;
    for (int i = 0; i < n; i++)
        if (groups[i] == st->st_gid)
            return TRUE;
    return st->st_gid == gid;
}

/* "user:group" of a file, by name where the host knows them */
static char *
vspan_doctor_owner(const struct stat *st)
{
    const struct passwd *pw = getpwuid(st->st_uid);
    g_autofree char *u = pw ? g_strdup(pw->pw_name) : g_strdup_printf("%u", st->st_uid);
    const struct group *gr = getgrgid(st->st_gid);

    return gr ? g_strdup_printf("%s:%s", u, gr->gr_name) : g_strdup_printf("%s:%u", u, st->st_gid);
}

static void
vspan_doctor_kvm(GPtrArray *items, const char *root)
{
    g_autofree char *node = g_build_filename(root, "dev/kvm", NULL);
    g_autofree char *confpath = g_build_filename(root, "etc/libvirt/qemu.conf", NULL);
    g_autofree char *conf = NULL, *user = NULL, *group = NULL, *owner = NULL;
    const struct passwd *pw;
    const struct group *gr;
    struct stat st;
    gid_t gid;

    if (stat(node, &st) < 0) {
        add(items, VSPAN_DOCTOR_INFO, "kvm", "no %s: guests run under TCG (<domain type='qemu'>)", node);
        return;
    }
    g_file_get_contents(confpath, &conf, NULL, NULL);
    user = vspan_doctor_qemu_conf(conf, "user");
    group = vspan_doctor_qemu_conf(conf, "group");
    pw = getpwnam(user ? user : "libvirt-qemu");
    if (!pw) {
        add(items, VSPAN_DOCTOR_INFO, "kvm", "%s exists; libvirt's QEMU user '%s' is not on this host",
            node, user ? user : "libvirt-qemu");
        return;
    }
    gr = group ? getgrnam(group) : NULL;
    gid = gr ? gr->gr_gid : pw->pw_gid;
    owner = vspan_doctor_owner(&st);
    if (vspan_doctor_can_rw(&st, pw, gid)) {
        add(items, VSPAN_DOCTOR_OK, "kvm", "%s (%s, mode %04o) is open to libvirt's QEMU user '%s'",
            node, owner, st.st_mode & 07777, pw->pw_name);
        return;
    }
    add(items, VSPAN_DOCTOR_WARN, "kvm",
        "%s (%s, mode %04o) cannot be opened by libvirt's QEMU user '%s', so libvirt probes QEMU "
        "again on every call (virsh define and start take tens of seconds); set it as udev would: "
        "chgrp kvm %s && chmod 0660 %s",
        node, owner, st.st_mode & 07777, pw->pw_name, node, node);
}

/* ---- libvirt, hook, agent ------------------------------------------------ */

static void
vspan_doctor_quiet(void *data, virErrorPtr err)
{
}

static void
vspan_doctor_libvirt(GPtrArray *items, const char *hookdir)
{
    unsigned long version = 0;
    virConnectPtr conn;
    g_autofree char *hook = g_build_filename(hookdir, "vspan", NULL);
    g_autofree char *target = g_file_read_link(hook, NULL);

    virSetErrorFunc(NULL, vspan_doctor_quiet);
    conn = virConnectOpenReadOnly("qemu:///system");
    if (conn && virConnectGetLibVersion(conn, &version) == 0) {
        gboolean new_enough = version >= 6005000;
        add(items, new_enough ? VSPAN_DOCTOR_OK : VSPAN_DOCTOR_FAIL, "libvirt", "libvirtd %lu.%lu.%lu%s",
            version / 1000000, version / 1000 % 1000, version % 1000,
            new_enough ? "" : ": qemu.d hooks need 6.5 or later");
    } else {
        add(items, VSPAN_DOCTOR_WARN, "libvirt", "libvirtd is not reachable at qemu:///system: %s",
            virGetLastErrorMessage());
    }
    if (conn)
        virConnectClose(conn);
    if (g_file_test(hook, G_FILE_TEST_IS_EXECUTABLE))
        add(items, VSPAN_DOCTOR_OK, "hook", "%s%s%s; restart libvirtd once after installing it",
            hook, target ? " -> " : "", target ? target : "");
    else
        add(items, VSPAN_DOCTOR_FAIL, "hook", "%s is missing: install vspan (apt-get install ./vspan_*.deb, or meson install) and restart libvirtd", hook);
}

static void
vspan_doctor_agent(GPtrArray *items)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = vspan_proto_call(vspan_proto_socket_path(),
                                                 vspan_proto_request_new("status", NULL), 3000, &error);

    const char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autofree char *appliance = NULL;

    if (!reply) {
        add(items, VSPAN_DOCTOR_FAIL, "vspand", "%s; start vspand (systemctl start vspand)", error->message);
        return;
    }
    add(items, VSPAN_DOCTOR_OK, "vspand", "answering on %s", vspan_proto_socket_path());
    /* the findings vspand's status gives per appliance (sink MTU, TSO,
     * copies dropped unread) and the NICs it cannot monitor */
    g_variant_get(reply, "(i&s&s)", NULL, &text, NULL);
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "appliance ")) {
            g_free(appliance);
            appliance = g_strndup(lines[i] + 10, strcspn(lines[i] + 10, " "));
        } else if (g_str_has_prefix(lines[i], "inline appliance ")) {
            /* an inline appliance that its VMs go around (or whose VMs are
             * cut off) is a finding; "through" is fine */
            const char *state = strstr(lines[i], "): ");
            g_autofree char *check = NULL;

            g_free(appliance);
            appliance = g_strndup(lines[i] + 17, strcspn(lines[i] + 17, " "));
            check = g_strdup_printf("appliance %s", appliance);
            if (state && !g_str_has_prefix(state + 3, "through "))
                add(items, VSPAN_DOCTOR_WARN, check, "status: %s", state + 3);
        } else if (g_str_has_prefix(lines[i], "  warning: ") && appliance) {
            g_autofree char *check = g_strdup_printf("appliance %s", appliance);
            add(items, VSPAN_DOCTOR_WARN, check, "status: %s", lines[i] + 11);
        } else if (g_str_has_prefix(lines[i], "unmonitored ")) {
            while (lines[i + 1] && g_str_has_prefix(lines[i + 1], "  "))
                add(items, VSPAN_DOCTOR_WARN, "unmonitored", "status: %s", g_strstrip(lines[++i]));
        }
    }
}

int
vspan_doctor_run(const VspanConfig *config, const char *hookdir, gboolean json, GString *out)
{
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_doctor_item_free);
    const char *root = vspan_sysfs_root();
    gboolean failed = FALSE;

    vspan_doctor_kernel(items);
    vspan_doctor_iommu(items, root);
    vspan_doctor_pools(items, config, root);
    vspan_doctor_bridges(items, config);
    vspan_doctor_kvm(items, root);
    vspan_doctor_libvirt(items, hookdir);
    vspan_doctor_agent(items);

    if (json) {
        VspanJson j;
        g_autofree char *text = NULL;

        vspan_json_init(&j);
        vspan_json_begin_object(&j, NULL);
        vspan_json_begin_array(&j, "checks");
        for (guint i = 0; i < items->len; i++) {
            const VspanDoctorItem *it = items->pdata[i];
            vspan_json_begin_object(&j, NULL);
            vspan_json_string(&j, "check", it->check);
            vspan_json_string(&j, "level", vspan_doctor_level_to_string(it->level));
            vspan_json_string(&j, "detail", it->detail);
            vspan_json_end_object(&j);
        }
        vspan_json_end_array(&j);
        vspan_json_end_object(&j);
        text = vspan_json_finish(&j);
        g_string_append(out, text);
    }
    for (guint i = 0; i < items->len; i++) {
        const VspanDoctorItem *it = items->pdata[i];
        failed |= it->level == VSPAN_DOCTOR_FAIL;
        if (!json)
            g_string_append_printf(out, "%-5s %-22s %s\n", vspan_doctor_level_to_string(it->level), it->check, it->detail);
    }
    return failed ? 1 : 0;
}
