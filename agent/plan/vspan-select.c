/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-select"

#include <string.h>
#include <linux/filter.h>
#include <pcap/pcap.h>

#include "vspan-error.h"
#include "vspan-select.h"

/* ---- compiling ---------------------------------------------------------- */

typedef struct {
    GBytes *prog;
    gboolean live;
} VspanCompiled;

static GMutex cache_lock;
static GHashTable *cache;       /* "sample/filter" -> VspanCompiled */

static void
vspan_compiled_free(VspanCompiled *c)
{
    g_bytes_unref(c->prog);
    g_free(c);
}

/* A live handle on "lo" (it must exist in every network namespace) knows
 * the kernel's BPF extensions; it is closed right after compiling, so it
 * never holds loopback frames. */
static pcap_t *
vspan_select_handle(gboolean *live)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create("lo", errbuf);

    if (p) {
        pcap_set_snaplen(p, 262144);
        pcap_set_buffer_size(p, 65536);
        if (pcap_activate(p) >= 0) {
            *live = TRUE;
            return p;
        }
        g_debug("no live pcap handle (%s): compiling without the kernel's VLAN extensions",
                pcap_geterr(p));
        pcap_close(p);
    }
    *live = FALSE;
    return pcap_open_dead(DLT_EN10MB, 262144);
}

/* Each accept of the filter goes to the sampler appended at its end; a
 * reject stays a reject. */
static gboolean
vspan_select_append_sample(GArray *insns, guint sample, GError **error)
{
    guint n = insns->len;
    struct sock_filter tail[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (guint32)(SKF_AD_OFF + SKF_AD_RANDOM)),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, sample),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };

    for (guint i = 0; i < n; i++) {
        struct sock_filter *in = &g_array_index(insns, struct sock_filter, i);

        if (in->code == (BPF_RET | BPF_A)) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "libpcap compiled the filter to a program that returns a computed length, which vspan cannot sample");
            return FALSE;
        }
        if (in->code == (BPF_RET | BPF_K) && in->k != 0)
            *in = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, n - i - 1);
    }
    g_array_append_vals(insns, tail, G_N_ELEMENTS(tail));
    return TRUE;
}

static VspanCompiled *
vspan_select_build(const VspanSelect *sel, GError **error)
{
    g_autoptr(GArray) insns = g_array_new(FALSE, FALSE, sizeof(struct sock_filter));
    VspanCompiled *c;
    gboolean live = FALSE;

    if (sel->filter) {
        pcap_t *p = vspan_select_handle(&live);
        struct bpf_program bp;

        if (pcap_compile(p, &bp, sel->filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID, "%s", pcap_geterr(p));
            pcap_close(p);
            return NULL;
        }
        g_array_append_vals(insns, bp.bf_insns, bp.bf_len);
        pcap_freecode(&bp);
        pcap_close(p);
    } else {
        struct sock_filter all = BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
        g_array_append_val(insns, all);
        live = TRUE;
    }
    if (sel->sample > 1 && !vspan_select_append_sample(insns, sel->sample, error))
        return NULL;
    if (insns->len > BPF_MAXINSNS) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "it compiles to %u BPF instructions, more than the kernel's %u", insns->len,
                    BPF_MAXINSNS);
        return NULL;
    }
    c = g_new0(VspanCompiled, 1);
    c->live = live;
    c->prog = g_bytes_new(insns->data, insns->len * sizeof(struct sock_filter));
    return c;
}

static GBytes *
vspan_select_compile_locked(const VspanSelect *sel, gboolean *live, GError **error)
{
    g_autofree char *key = g_strdup_printf("%u/%s", MAX(sel->sample, 1u), sel->filter ? sel->filter : "");
    VspanCompiled *c;

    if (!cache)
        cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify)vspan_compiled_free);
    c = g_hash_table_lookup(cache, key);
    if (!c) {
        /* libpcap's compiler is thread-safe since 1.8, the lock guards the cache */
        c = vspan_select_build(sel, error);
        if (!c)
            return NULL;
        /* a program compiled without a live handle is not kept: the next
         * caller may have the privilege to do better */
        if (!c->live) {
            GBytes *prog = g_bytes_ref(c->prog);
            if (live)
                *live = FALSE;
            vspan_compiled_free(c);
            return prog;
        }
        /* bounded: distinct expressions come from tenants' XML */
        if (g_hash_table_size(cache) >= 1024)
            g_hash_table_remove_all(cache);
        g_hash_table_insert(cache, g_steal_pointer(&key), c);
    }
    if (live)
        *live = c->live;
    return g_bytes_ref(c->prog);
}

GBytes *
vspan_select_compile(const VspanSelect *sel, gboolean *live, GError **error)
{
    GBytes *prog;

    g_mutex_lock(&cache_lock);
    prog = vspan_select_compile_locked(sel, live, error);
    g_mutex_unlock(&cache_lock);
    return prog;
}

/* ---- reading programs --------------------------------------------------- */

guint
vspan_select_insns(GBytes *prog)
{
    return prog ? g_bytes_get_size(prog) / sizeof(struct sock_filter) : 0;
}

char *
vspan_select_disasm(GBytes *prog)
{
    g_autoptr(GString) s = g_string_new(NULL);
    gsize size = 0;
    const struct sock_filter *in = prog ? g_bytes_get_data(prog, &size) : NULL;

    for (guint i = 0; i < size / sizeof(*in); i++) {
        /* bpf_image() takes libpcap's struct bpf_insn, laid out as sock_filter */
        struct bpf_insn b = { in[i].code, in[i].jt, in[i].jf, in[i].k };
        g_string_append_printf(s, "%s\n", bpf_image(&b, (int)i));
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

char *
vspan_select_to_hex(GBytes *prog)
{
    gsize size = 0;
    const guint8 *d = prog ? g_bytes_get_data(prog, &size) : NULL;
    GString *s = g_string_sized_new(size * 2);

    for (gsize i = 0; i < size; i++)
        g_string_append_printf(s, "%02x", d[i]);
    return g_string_free(s, FALSE);
}

GBytes *
vspan_select_from_hex(const char *hex)
{
    gsize len = strlen(hex);
    g_autofree guint8 *d = NULL;

    if (len == 0 || len % (2 * sizeof(struct sock_filter)) != 0)
        return NULL;
    d = g_malloc(len / 2);
    for (gsize i = 0; i < len / 2; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]), lo = g_ascii_xdigit_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return NULL;
        d[i] = (guint8)(hi << 4 | lo);
    }
    return g_bytes_new_take(g_steal_pointer(&d), len / 2);
}
