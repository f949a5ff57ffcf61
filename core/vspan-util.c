/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-core"

/* Small helpers every part of vspan shares: text fit for one-line messages,
 * bounded file reads and atomic replaces, MAC, interface-name, PCI-address
 * and integer-range parsing. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vspan-util.h"

char *
vspan_str_clean_max(const char *str, guint max)
{
    g_autofree char *valid = g_utf8_make_valid(str ? str : "", -1);
    g_autoptr(GString) out = g_string_new(NULL);
    guint n = 0;

    for (const char *p = valid; *p; p = g_utf8_next_char(p), n++) {
        gunichar c = g_utf8_get_char(p);

        if (n == max) {
            g_string_append(out, "\u2026");
            break;
        }
        if (g_unichar_iscntrl(c))
            g_string_append_c(out, ' ');
        else
            g_string_append_unichar(out, c);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

char *
vspan_str_clean(const char *str)
{
    return vspan_str_clean_max(str, 64);
}

char *
vspan_message_vprintf(const char *fmt, va_list ap)
{
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);

    return vspan_str_clean_max(msg, VSPAN_MESSAGE_MAX);
}

gboolean
vspan_file_read(const char *path, char **contents, gsize *len, GError **error)
{
    g_autoptr(GString) buf = NULL;
    struct stat st;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int saved = errno;
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO,
                    "Cannot open '%s': %s", path, g_strerror(saved));
        return FALSE;
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO,
                    "Cannot read '%s': it is a directory; pass a file", path);
        return FALSE;
    }
    buf = g_string_sized_new(S_ISREG(st.st_mode) && st.st_size > 0 &&
                             st.st_size <= VSPAN_XML_MAX_BYTES ? st.st_size + 1 : 4096);
    for (;;) {
        char chunk[65536];
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO,
                        "Cannot read '%s': %s", path, g_strerror(saved));
            return FALSE;
        }
        if (n == 0)
            break;
        if (buf->len + (gsize)n > VSPAN_XML_MAX_BYTES) {
            close(fd);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "'%s' is larger than the %u-byte limit; pass a libvirt domain XML or a vspan config",
                        path, VSPAN_XML_MAX_BYTES);
            return FALSE;
        }
        g_string_append_len(buf, chunk, n);
    }
    close(fd);
    *len = buf->len;
    *contents = g_string_free(g_steal_pointer(&buf), FALSE);
    return TRUE;
}

gboolean
vspan_mac_parse(const char *str, char out[18])
{
    guint b[6];
    char tail;

    if (!str || strlen(str) != 17)
        return FALSE;
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2 ? str[i] != ':' : !g_ascii_isxdigit(str[i]))
            return FALSE;
    }
    if (sscanf(str, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
        return FALSE;
    g_snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
    return TRUE;
}

gboolean
vspan_mac_to_bytes(const char *str, guint8 out[6])
{
    char canon[18];

    if (!vspan_mac_parse(str, canon))
        return FALSE;
    for (guint i = 0; i < 6; i++)
        out[i] = (guint8)g_ascii_strtoull(canon + 3 * i, NULL, 16);
    return TRUE;
}

gboolean
vspan_ifname_valid(const char *name, gboolean libvirt_target, const char **why)
{
    static const char *const reserved[] = { "vnet", "vif", "macvtap", "macvlan", NULL };

    if (!name || !*name) {
        *why = "is empty";
        return FALSE;
    }
    if (strlen(name) > 15) {
        *why = "is longer than 15 characters";
        return FALSE;
    }
    if (g_str_equal(name, ".") || g_str_equal(name, "..")) {
        *why = "is not a valid interface name";
        return FALSE;
    }
    for (const char *p = name; *p; p++) {
        if (*p == '/' || *p == ':' || g_ascii_isspace(*p) || !g_ascii_isprint(*p)) {
            *why = "contains '/', ':', whitespace or a non-printable character";
            return FALSE;
        }
    }
    if (libvirt_target) {
        for (const char *const *r = reserved; *r; r++) {
            if (g_str_has_prefix(name, *r)) {
                *why = "starts with a prefix libvirt reserves for its own devices (vnet, vif, macvtap, macvlan)";
                return FALSE;
            }
        }
    }
    return TRUE;
}

gboolean
vspan_pci_addr_parse(const char *str, VspanPciAddr *addr)
{
    guint d, b, s, f;
    char tail;

    if (!str || sscanf(str, "%4x:%2x:%2x.%1x%c", &d, &b, &s, &f, &tail) != 4)
        return FALSE;
    if (s > 0x1f || f > 7)
        return FALSE;
    *addr = (VspanPciAddr){ d, b, s, f };
    return TRUE;
}

char *
vspan_pci_addr_format(const VspanPciAddr *addr)
{
    return g_strdup_printf("%04x:%02x:%02x.%x", addr->domain, addr->bus, addr->slot, addr->function);
}

gboolean
vspan_pci_addr_equal(const VspanPciAddr *a, const VspanPciAddr *b)
{
    return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot &&
           a->function == b->function;
}

static gint
vspan_range_cmp(gconstpointer a, gconstpointer b)
{
    const VspanRange *ra = a, *rb = b;

    return ra->lo < rb->lo ? -1 : ra->lo > rb->lo;
}

VspanRangeSet *
vspan_range_set_parse(const char *str, guint max, GError **error)
{
    g_autoptr(VspanRangeSet) set = g_array_new(FALSE, FALSE, sizeof(VspanRange));
    g_auto(GStrv) parts = NULL;

    if (!str || !*str) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                    "empty range; write ranges like '100-199,300'");
        return NULL;
    }
    parts = g_strsplit(str, ",", -1);
    for (char **p = parts; *p; p++) {
        g_auto(GStrv) ends = g_strsplit(g_strstrip(*p), "-", 3);
        guint64 lo, hi;

        if (!ends[0] || (ends[1] && ends[2]) ||
            !g_ascii_string_to_unsigned(ends[0], 10, 0, G_MAXUINT, &lo, NULL) ||
            !g_ascii_string_to_unsigned(ends[1] ? ends[1] : ends[0], 10, 0, G_MAXUINT, &hi, NULL)) {
            g_autofree char *clean = vspan_str_clean(*p);
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "'%s' is not a number or a range; write ranges like '100-199,300'", clean);
            return NULL;
        }
        if (lo > hi) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "range %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT " is reversed; write the low end first",
                        lo, hi);
            return NULL;
        }
        if (hi > max) {
            g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_INVALID,
                        "%" G_GUINT64_FORMAT " is out of range; use 0-%u", hi, max);
            return NULL;
        }
        g_array_append_val(set, ((VspanRange){ (guint)lo, (guint)hi }));
    }
    g_array_sort(set, vspan_range_cmp);
    /* merge overlapping or adjacent ranges */
    for (guint i = 1; i < set->len;) {
        VspanRange *prev = &g_array_index(set, VspanRange, i - 1);
        VspanRange *cur = &g_array_index(set, VspanRange, i);

        if (cur->lo <= prev->hi + 1) {
            prev->hi = MAX(prev->hi, cur->hi);
            g_array_remove_index(set, i);
        } else {
            i++;
        }
    }
    return g_steal_pointer(&set);
}

gboolean
vspan_range_set_contains(const VspanRangeSet *set, guint value)
{
    for (guint i = 0; set && i < set->len; i++) {
        const VspanRange *r = &g_array_index(set, VspanRange, i);
        if (value >= r->lo && value <= r->hi)
            return TRUE;
    }
    return FALSE;
}

gboolean
vspan_range_set_overlaps(const VspanRangeSet *a, const VspanRangeSet *b, guint *first)
{
    for (guint i = 0; i < a->len; i++) {
        const VspanRange *ra = &g_array_index(a, VspanRange, i);
        for (guint j = 0; j < b->len; j++) {
            const VspanRange *rb = &g_array_index(b, VspanRange, j);
            if (ra->lo <= rb->hi && rb->lo <= ra->hi) {
                if (first)
                    *first = MAX(ra->lo, rb->lo);
                return TRUE;
            }
        }
    }
    return FALSE;
}

guint
vspan_range_set_count(const VspanRangeSet *set)
{
    guint n = 0;

    for (guint i = 0; set && i < set->len; i++) {
        const VspanRange *r = &g_array_index(set, VspanRange, i);
        n += r->hi - r->lo + 1;
    }
    return n;
}

char *
vspan_range_set_format(const VspanRangeSet *set)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (guint i = 0; set && i < set->len; i++) {
        const VspanRange *r = &g_array_index(set, VspanRange, i);
        if (i)
            g_string_append_c(s, ',');
        if (r->lo == r->hi)
            g_string_append_printf(s, "%u", r->lo);
        else
            g_string_append_printf(s, "%u-%u", r->lo, r->hi);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

void
vspan_range_set_free(VspanRangeSet *set)
{
    if (set)
        g_array_unref(set);
}

int
vspan_file_replace(const char *path, const char *data, gsize len, int mode)
{
    g_autofree char *tmp = g_strconcat(path, ".XXXXXX", NULL);
    int saved = 0;
    gsize done = 0;
    int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, mode);

    if (fd < 0)
        return errno;
    if (fchmod(fd, mode) < 0)
        saved = errno;
    while (!saved && done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            saved = errno;
        else
            done += n;
    }
    if (close(fd) < 0 && !saved)
        saved = errno;
    if (!saved && rename(tmp, path) < 0)
        saved = errno;
    if (saved)
        g_unlink(tmp);
    return saved;
}
