/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-bpf"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "vspan-bpf-params.h"
#include "vspan-bpf.h"
#include "vspan-build-config.h"
#include "vspan-error.h"

typedef struct {
    char *name;
    char *key;          /* what the instance was built from: object hash + parameters */
    int fd;             /* -1 when it did not load */
    guint32 id;
    char *error;
} VspanBpfProgram;

struct VspanBpfPrograms {
    char *objdir;
    char *pindir;
    GHashTable *by_name;        /* name (the instance's own) -> VspanBpfProgram */
};

static void
vspan_bpf_program_free(VspanBpfProgram *p)
{
    if (p->fd >= 0)
        close(p->fd);
    g_free(p->name);
    g_free(p->key);
    g_free(p->error);
    g_free(p);
}

const char *
vspan_bpf_objdir(void)
{
    const char *env = g_getenv("VSPAN_BPF_DIR");

    return env && *env ? env : VSPAN_BPFDIR;
}

const char *
vspan_bpf_pindir(void)
{
    const char *env = g_getenv("VSPAN_BPF_PINDIR");

    return env && *env ? env : VSPAN_BPF_PINDIR;
}

/* libbpf's own chatter goes to the debug log, not to stderr */
G_GNUC_PRINTF(2, 0) static int
vspan_bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    g_autofree char *text = g_strdup_vprintf(fmt, ap);

    g_debug("libbpf: %s", g_strchomp(text));
    return 0;
}

VspanBpfPrograms *
vspan_bpf_programs_new(const char *objdir, const char *pindir)
{
    VspanBpfPrograms *p = g_new0(VspanBpfPrograms, 1);

    libbpf_set_print(vspan_bpf_print);

    p->objdir = g_strdup(objdir);
    p->pindir = g_strdup(pindir);
    p->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify)vspan_bpf_program_free);
    return p;
}

void
vspan_bpf_programs_free(VspanBpfPrograms *p)
{
    if (!p)
        return;
    g_hash_table_unref(p->by_name);
    g_free(p->objdir);
    g_free(p->pindir);
    g_free(p);
}

static char *
vspan_bpf_object_path(VspanBpfPrograms *p, const VspanProgramDef *d)
{
    switch (d->kind) {
    case VSPAN_PROGRAM_FLOW_HEAD:
        return g_build_filename(p->objdir, "flow-head.bpf.o", NULL);
    case VSPAN_PROGRAM_SOURCE_RATE:
        return g_build_filename(p->objdir, "source-rate.bpf.o", NULL);
    case VSPAN_PROGRAM_OBJECT:
    default:
        return g_strdup(d->object);
    }
}

/* The parameters as the program's .rodata holds them. */
static GBytes *
vspan_bpf_params(const VspanProgramDef *d)
{
    if (d->kind == VSPAN_PROGRAM_FLOW_HEAD) {
        struct vspan_flow_head_params fp = { .max_packets = d->packets, .max_bytes = d->bytes };
        return g_bytes_new(&fp, sizeof(fp));
    }
    if (d->kind == VSPAN_PROGRAM_SOURCE_RATE) {
        struct vspan_source_rate_params rp = { .cost_ns = 1000000000ull / d->pps };
        rp.burst_ns = rp.cost_ns * d->burst;
        return g_bytes_new(&rp, sizeof(rp));
    }
    return NULL;
}

/* The verifier's last word: the last non-empty line of its log, above
 * the statistics it ends with ("processed N insns ...", "verification
 * time ..."). */
static char *
vspan_bpf_last_line(const char *log)
{
    g_auto(GStrv) lines = g_strsplit(log, "\n", -1);

    for (int i = (int)g_strv_length(lines) - 1; i >= 0; i--) {
        g_strstrip(lines[i]);
        if (*lines[i] && !g_str_has_prefix(lines[i], "processed ") &&
            !g_str_has_prefix(lines[i], "verification time"))
            return g_strdup(lines[i]);
    }
    return NULL;
}


static gboolean
vspan_bpf_is_bpffs(const char *dir)
{
    struct statfs st;

    return dir && statfs(dir, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static char *
vspan_bpf_pin_path(VspanBpfPrograms *p, const char *name, const char *key)
{
    g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
    g_autofree char *base = g_strdup_printf("%s-%.16s", name, hash);

    return g_build_filename(p->pindir, base, NULL);
}

/* Remove NAME-* pins other than @keep (older parameters of @name). */
static void
vspan_bpf_unpin_others(VspanBpfPrograms *p, const char *name, const char *keep)
{
    g_autoptr(GDir) dir = p->pindir ? g_dir_open(p->pindir, 0, NULL) : NULL;
    g_autofree char *prefix = g_strdup_printf("%s-", name);
    const char *f;

    while (dir && (f = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(p->pindir, f, NULL);
        /* the suffix is 16 hex digits: a program named "a" does not own "a-b-..." */
        if (g_str_has_prefix(f, prefix) && strlen(f) == strlen(prefix) + 16 &&
            g_strcmp0(path, keep) != 0)
            unlink(path);
    }
}

/* Every program of the object, sharing its maps (vspan_bpf_object_load's
 * @section) */
#define VSPAN_BPF_ALL_PROGRAMS "*"

/* Open @path, keep the program of @section (NULL: the first;
 * VSPAN_BPF_ALL_PROGRAMS: all of them, *out_prog the first), write
 * @params into its .rodata, size map @map_name to @max_entries (when
 * given) and load it.  Returns the loaded object and its program. */
static struct bpf_object *
vspan_bpf_object_load(const char *path, const char *section, GBytes *params, const char *map_name,
                      guint max_entries, struct bpf_program **out_prog, GError **error)
{
    static char log[65536];
    LIBBPF_OPTS(bpf_object_open_opts, opts, .kernel_log_buf = log, .kernel_log_size = sizeof(log),
                .kernel_log_level = 1);
    struct bpf_object *obj;
    struct bpf_program *prog = NULL, *it;
    int r;

    log[0] = '\0';
    obj = bpf_object__open_file(path, &opts);
    if (!obj) {
        int saved = errno;
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "cannot open %s: %s", path, g_strerror(saved));
        return NULL;
    }
    bpf_object__for_each_program(it, obj) {
        if (g_strcmp0(section, VSPAN_BPF_ALL_PROGRAMS) == 0) {
            bpf_program__set_type(it, BPF_PROG_TYPE_SCHED_CLS);
            prog = prog ? prog : it;
            continue;
        }
        if (!prog && (!section || g_str_equal(bpf_program__section_name(it), section) ||
                      g_str_equal(bpf_program__name(it), section)))
            prog = it;
        else
            bpf_program__set_autoload(it, false);
    }
    if (!prog) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID, "%s has no program in section '%s'", path,
                    section ? section : "(any)");
        bpf_object__close(obj);
        return NULL;
    }
    bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
    if (params) {
        struct bpf_map *ro = bpf_object__find_map_by_name(obj, ".rodata");
        size_t size = 0;

        if (!ro || !bpf_map__initial_value(ro, &size) || size != g_bytes_get_size(params) ||
            bpf_map__set_initial_value(ro, g_bytes_get_data(params, NULL), size) < 0) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%s does not hold the parameters this vspan writes (.rodata of %zu bytes, expected %zu); reinstall vspan",
                        path, size, g_bytes_get_size(params));
            bpf_object__close(obj);
            return NULL;
        }
    }
    if (map_name && max_entries) {
        struct bpf_map *m = bpf_object__find_map_by_name(obj, map_name);
        if (m)
            bpf_map__set_max_entries(m, max_entries);
    }
    r = bpf_object__load(obj);
    if (r < 0) {
        g_autofree char *last = vspan_bpf_last_line(log);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "the kernel refused it: %s",
                    last ? last : g_strerror(-r));
        bpf_object__close(obj);
        return NULL;
    }
    *out_prog = prog;
    return obj;
}

/* A kept fd of @fd (the object that held it is closed), or -1 with @error. */
static int
vspan_bpf_keep_fd(int fd, GError **error)
{
    int kept = dup(fd);

    if (kept < 0) {
        int saved = errno;
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "cannot keep the program: %s", g_strerror(saved));
    }
    return kept;
}

/* As vspan_bpf_object_load, keeping only the program's fd (-1 on error). */
static int
vspan_bpf_load_fd(const char *path, const char *section, GBytes *params, const char *map_name,
                  guint max_entries, GError **error)
{
    struct bpf_program *prog = NULL;
    struct bpf_object *obj = vspan_bpf_object_load(path, section, params, map_name, max_entries, &prog, error);
    int fd;

    if (!obj)
        return -1;
    /* the program keeps its maps; the object can go */
    fd = vspan_bpf_keep_fd(bpf_program__fd(prog), error);
    bpf_object__close(obj);
    return fd;
}

static int
vspan_bpf_load(VspanBpfPrograms *p, const VspanProgramDef *d, const char *path, GBytes *params,
               GError **error)
{
    return vspan_bpf_load_fd(path, d->section, params, d->kind == VSPAN_PROGRAM_FLOW_HEAD ? "vspan_flows" : NULL,
                             d->flows, error);
}

static guint32
vspan_bpf_prog_id(int fd)
{
    struct bpf_prog_info info = { 0 };
    __u32 len = sizeof(info);

    return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

/* a kept fd of map @name of @obj, -1 when it has none */
static int
vspan_bpf_keep_map(struct bpf_object *obj, const char *name)
{
    struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

    return m ? dup(bpf_map__fd(m)) : -1;
}

/* ---- sink shapers -------------------------------------------------------- */

void
vspan_bpf_shaper_free(VspanBpfShaper *sh)
{
    if (!sh)
        return;
    if (sh->prog_fd >= 0)
        close(sh->prog_fd);
    if (sh->counters_fd >= 0)
        close(sh->counters_fd);
    g_free(sh->key);
    g_free(sh);
}

/* the snaplen in force: the configured one, within what a tunnel fits */
static guint
vspan_bpf_shaper_snaplen(const VspanSink *sink, guint fit)
{
    return fit && (!sink->snaplen || sink->snaplen > fit) ? fit : sink->snaplen;
}

char *
vspan_bpf_shaper_key(const VspanSink *sink, guint fit)
{
    guint snaplen = vspan_bpf_shaper_snaplen(sink, fit);

    if (!snaplen && !sink->max_rate && !sink->tagged)
        return NULL;
    return g_strdup_printf("snaplen=%u%s rate=%" G_GUINT64_FORMAT "%s%s", snaplen, fit ? " (fit)" : "",
                           sink->max_rate, sink->max_rate_pps ? "pps" : "bit", sink->tagged ? " tags" : "");
}

VspanBpfShaper *
vspan_bpf_shaper_load(const char *objdir, const VspanSink *sink, guint fit, GError **error)
{
    g_autofree char *path = g_build_filename(objdir, "sink-shape.bpf.o", NULL);
    struct vspan_sink_shape_params sp = {
        .snaplen = vspan_bpf_shaper_snaplen(sink, fit),
        .tags = sink->tagged,
    };
    g_autoptr(GBytes) params = NULL;
    struct bpf_program *prog = NULL;
    struct bpf_object *obj;
    VspanBpfShaper *sh;

    if (sink->max_rate) {
        sp.pps = sink->max_rate_pps;
        if (sp.pps) {
            sp.cost_ns = 1000000000ull / sink->max_rate;
            /* a bucket of 10 ms, at least 2 copies */
            sp.burst_ns = MAX(10000000ull, 2 * sp.cost_ns);
        } else {
            sp.ns_per_kbyte = MAX(1ull, 8000000000ull * 1024 / sink->max_rate);
            sp.burst_ns = MAX(10000000ull, 2 * ((65536ull * sp.ns_per_kbyte) >> 10));
        }
    }
    params = g_bytes_new(&sp, sizeof(sp));
    obj = vspan_bpf_object_load(path, NULL, params, NULL, 0, &prog, error);
    if (!obj)
        return NULL;
    sh = g_new0(VspanBpfShaper, 1);
    sh->counters_fd = vspan_bpf_keep_map(obj, "vspan_counters");
    sh->prog_fd = vspan_bpf_keep_fd(bpf_program__fd(prog), error);
    bpf_object__close(obj);
    if (sh->prog_fd < 0) {
        vspan_bpf_shaper_free(sh);
        return NULL;
    }
    sh->prog_id = vspan_bpf_prog_id(sh->prog_fd);
    sh->key = vspan_bpf_shaper_key(sink, fit);
    return sh;
}

void
vspan_bpf_percpu_sum(int fd, guint n, guint64 *out)
{
    int ncpu = libbpf_num_possible_cpus();
    g_autofree guint64 *per_cpu = g_new0(guint64, MAX(ncpu, 1));

    for (guint i = 0; i < n; i++) {
        __u32 key = i;

        out[i] = 0;
        if (fd < 0 || ncpu <= 0 || bpf_map_lookup_elem(fd, &key, per_cpu) < 0)
            continue;
        for (int c = 0; c < ncpu; c++)
            out[i] += per_cpu[c];
    }
}

void
vspan_bpf_shaper_counters(const VspanBpfShaper *sh, guint64 out[VSPAN_SHAPE_COUNTERS])
{
    vspan_bpf_percpu_sum(sh->counters_fd, VSPAN_SHAPE_COUNTERS, out);
}

/* ---- inline appliances --------------------------------------------------- */

static const char *const vspan_bpf_inline_names[VSPAN_BPF_INLINE_PROGS] = {
    "from_vm_pass", "from_vm", "to_vm", "from_net_side", "from_vm_side",
};

void
vspan_bpf_inline_close(VspanBpfInline *bi)
{
    for (guint i = 0; i < VSPAN_BPF_INLINE_PROGS; i++)
        if (bi->prog_fd[i] >= 0)
            close(bi->prog_fd[i]);
    for (int *fd = &bi->app_fd; fd <= &bi->counters_fd; fd++)
        if (*fd >= 0)
            close(*fd);
}

gboolean
vspan_bpf_inline_load(const char *objdir, guint id, VspanBpfInline *bi, GError **error)
{
    struct vspan_inline_params ip = { .mark = VSPAN_INLINE_MARK, .id = id };
    g_autoptr(GBytes) params = g_bytes_new(&ip, sizeof(ip));
    g_autofree char *path = g_build_filename(objdir, "inline.bpf.o", NULL);
    struct bpf_program *first = NULL;
    struct bpf_object *obj;
    gboolean ok = TRUE;

    for (guint i = 0; i < VSPAN_BPF_INLINE_PROGS; i++)
        bi->prog_fd[i] = -1;
    bi->app_fd = bi->vids_fd = bi->ports_fd = bi->canary_fd = bi->counters_fd = -1;
    obj = vspan_bpf_object_load(path, VSPAN_BPF_ALL_PROGRAMS, params, NULL, 0, &first, error);
    if (!obj)
        return FALSE;
    for (guint i = 0; i < VSPAN_BPF_INLINE_PROGS; i++) {
        struct bpf_program *prog = bpf_object__find_program_by_name(obj, vspan_bpf_inline_names[i]);

        bi->prog_fd[i] = prog ? dup(bpf_program__fd(prog)) : -1;
        bi->prog_id[i] = bi->prog_fd[i] >= 0 ? vspan_bpf_prog_id(bi->prog_fd[i]) : 0;
        ok = ok && bi->prog_id[i];
    }
    bi->app_fd = vspan_bpf_keep_map(obj, "vspan_app");
    bi->vids_fd = vspan_bpf_keep_map(obj, "vspan_vids");
    bi->ports_fd = vspan_bpf_keep_map(obj, "vspan_ports");
    bi->canary_fd = vspan_bpf_keep_map(obj, "vspan_canary");
    bi->counters_fd = vspan_bpf_keep_map(obj, "vspan_counters");
    bpf_object__close(obj);
    if (!ok || bi->app_fd < 0 || bi->vids_fd < 0 || bi->ports_fd < 0 || bi->canary_fd < 0 ||
        bi->counters_fd < 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "%s lacks a program or map this vspan uses; reinstall vspan", path);
        vspan_bpf_inline_close(bi);
        return FALSE;
    }
    return TRUE;
}

/* ---- copy-tag ------------------------------------------------------------ */

int
vspan_bpf_tagger_load(const char *objdir, guint vlan, guint32 *id, GError **error)
{
    g_autofree char *path = g_build_filename(objdir, "copy-tag.bpf.o", NULL);
    struct vspan_copy_tag_params tp = { .vlan = vlan };
    g_autoptr(GBytes) params = g_bytes_new(&tp, sizeof(tp));
    int fd = vspan_bpf_load_fd(path, vlan ? "copy_tag" : "copy_untag", params, NULL, 0, error);

    *id = fd >= 0 ? vspan_bpf_prog_id(fd) : 0;
    return fd;
}

static VspanBpfProgram *
vspan_bpf_instance(VspanBpfPrograms *p, const VspanProgramDef *d, const char *key, const char *path,
                   GBytes *params)
{
    VspanBpfProgram *prog = g_new0(VspanBpfProgram, 1);
    g_autoptr(GError) error = NULL;
    g_autofree char *pin = NULL;
    g_autofree char *parent = p->pindir ? g_path_get_dirname(p->pindir) : NULL;
    /* /sys/fs/bpf is the mount; vspan's directory is made in it */
    gboolean pinning = vspan_bpf_is_bpffs(p->pindir) ||
                       (vspan_bpf_is_bpffs(parent) && g_mkdir_with_parents(p->pindir, 0700) == 0);

    prog->name = g_strdup(d->name);
    prog->key = g_strdup(key);
    prog->fd = -1;
    if (pinning) {
        pin = vspan_bpf_pin_path(p, d->name, key);
        prog->fd = bpf_obj_get(pin);
        if (prog->fd >= 0)
            g_debug("program '%s': took the pinned instance %s back", d->name, pin);
    }
    if (prog->fd < 0) {
        prog->fd = vspan_bpf_load(p, d, path, params, &error);
        if (prog->fd < 0) {
            prog->error = g_strdup(error->message);
            /* a config problem, reported where the rules naming it are refused */
            g_message("program '%s' (%s) did not load: %s", d->name, path, error->message);
            return prog;
        }
        if (pinning && bpf_obj_pin(prog->fd, pin) < 0)
            g_message("program '%s': cannot pin it at %s (%s); a vspand restart re-creates it",
                      d->name, pin, g_strerror(errno));
        else if (!pinning && p->pindir)
            g_message("program '%s': no bpffs at %s, not pinned; a vspand restart re-creates it",
                      d->name, p->pindir ? p->pindir : "-");
    }
    if (pinning)
        vspan_bpf_unpin_others(p, d->name, pin);
    prog->id = vspan_bpf_prog_id(prog->fd);
    return prog;
}

void
vspan_bpf_programs_sync(VspanBpfPrograms *p, GPtrArray *defs)
{
    g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer k;

    for (guint i = 0; i < defs->len; i++) {
        const VspanProgramDef *d = defs->pdata[i];
        g_autofree char *path = vspan_bpf_object_path(p, d);
        g_autoptr(GBytes) params = vspan_bpf_params(d);
        g_autofree char *content = NULL, *sum = NULL, *key = NULL;
        gsize len = 0;
        VspanBpfProgram *have = g_hash_table_lookup(p->by_name, d->name);

        g_hash_table_add(keep, d->name);
        sum = g_file_get_contents(path, &content, &len, NULL)
                  ? g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)content, len)
                  : g_strdup("missing");
        key = g_strdup_printf("%s packets=%u bytes=%u flows=%u pps=%u burst=%u section=%s", sum,
                              d->packets, d->bytes, d->flows, d->pps, d->burst,
                              d->section ? d->section : "");
        if (have && g_str_equal(have->key, key) && have->fd >= 0)
            continue;
        {
            /* keyed by the instance's own name: it goes with the instance */
            VspanBpfProgram *prog = vspan_bpf_instance(p, d, key, path, params);
            g_hash_table_replace(p->by_name, prog->name, prog);
        }
    }
    g_hash_table_iter_init(&it, p->by_name);
    while (g_hash_table_iter_next(&it, &k, NULL))
        if (!g_hash_table_contains(keep, k))
            g_hash_table_iter_remove(&it);
}

int
vspan_bpf_programs_fd(VspanBpfPrograms *p, const char *name, GError **error)
{
    VspanBpfProgram *prog = g_hash_table_lookup(p->by_name, name);

    if (!prog) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_NOT_FOUND,
                    "Cannot attach program '%s': the host config defines no such <program>", name);
        return -1;
    }
    if (prog->fd < 0) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL, "Cannot attach program '%s': %s", name, prog->error);
        return -1;
    }
    return prog->fd;
}

guint32
vspan_bpf_programs_id(VspanBpfPrograms *p, const char *name)
{
    VspanBpfProgram *prog = g_hash_table_lookup(p->by_name, name);

    return prog && prog->fd >= 0 ? prog->id : 0;
}

const char *
vspan_bpf_programs_name_of(VspanBpfPrograms *p, guint32 id)
{
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, p->by_name);
    while (id && g_hash_table_iter_next(&it, NULL, &v))
        if (((VspanBpfProgram *)v)->id == id)
            return ((VspanBpfProgram *)v)->name;
    return NULL;
}

const char *
vspan_bpf_programs_error(VspanBpfPrograms *p, const char *name)
{
    VspanBpfProgram *prog = g_hash_table_lookup(p->by_name, name);

    return prog ? prog->error : NULL;
}
