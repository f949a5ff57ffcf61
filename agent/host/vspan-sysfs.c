/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-sysfs"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "vspan-sysfs.h"

const char *
vspan_sysfs_root(void)
{
    const char *env = g_getenv("VSPAN_SYSFS_ROOT");

    return env && *env ? env : "/";
}

gboolean
vspan_sysfs_vf_lookup(const char *root, const VspanPciAddr *pci, char **pf, guint *vf)
{
    g_autofree char *addr = vspan_pci_addr_format(pci);
    g_autofree char *physfn = g_build_filename(root, "sys/bus/pci/devices", addr, "physfn", NULL);
    g_autofree char *target = g_file_read_link(physfn, NULL);
    g_autofree char *pf_addr = NULL, *pf_dir = NULL, *net_dir = NULL;
    g_autoptr(GDir) dir = NULL;
    const char *entry;

    if (!target)
        return FALSE;   /* not a VF */
    pf_addr = g_path_get_basename(target);
    pf_dir = g_build_filename(root, "sys/bus/pci/devices", pf_addr, NULL);
    dir = g_dir_open(pf_dir, 0, NULL);
    while (dir && (entry = g_dir_read_name(dir))) {
        g_autofree char *link = NULL, *to = NULL, *base = NULL;

        if (!g_str_has_prefix(entry, "virtfn"))
            continue;
        link = g_build_filename(pf_dir, entry, NULL);
        to = g_file_read_link(link, NULL);
        base = to ? g_path_get_basename(to) : NULL;
        if (base && g_str_equal(base, addr)) {
            g_autoptr(GDir) nets = NULL;
            const char *name;

            net_dir = g_build_filename(pf_dir, "net", NULL);
            nets = g_dir_open(net_dir, 0, NULL);
            name = nets ? g_dir_read_name(nets) : NULL;
            if (!name)
                return FALSE;   /* a PF without a netdev (driver unbound) */
            *pf = g_strdup(name);
            *vf = (guint)strtoul(entry + strlen("virtfn"), NULL, 10);
            return TRUE;
        }
    }
    return FALSE;
}

int
vspan_sysfs_numvfs(const char *root, const char *pf)
{
    g_autofree char *path = g_build_filename(root, "sys/class/net", pf, "device/sriov_numvfs", NULL);
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    return atoi(text);
}

gboolean
vspan_sysfs_write(const char *path, const char *value, GError **error)
{
    /* a sysfs attribute takes one write(): no temporary file, no rename */
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;
    int saved;

    if (fd < 0) {
        saved = errno;
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO, "Cannot open '%s': %s", path, g_strerror(saved));
        return FALSE;
    }
    n = write(fd, value, strlen(value));
    saved = errno;
    close(fd);
    if (n != (ssize_t)strlen(value)) {
        g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_IO, "Cannot write '%s' to '%s': %s", value, path,
                    n < 0 ? g_strerror(saved) : "short write");
        return FALSE;
    }
    return TRUE;
}
