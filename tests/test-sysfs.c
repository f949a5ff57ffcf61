/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SR-IOV topology from a fixture sysfs tree: PCI -> PF/VF, sriov_numvfs,
 * and the libvirt hostdev network of a pool. */
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <string.h>

#include "vspan-pools.h"
#include "vspan-sysfs.h"

static char *root;

static void
mk(const char *rel)
{
    g_autofree char *p = g_build_filename(root, rel, NULL);
    g_assert_cmpint(g_mkdir_with_parents(p, 0755), ==, 0);
}

static void
ln(const char *target, const char *rel)
{
    g_autofree char *p = g_build_filename(root, rel, NULL);
    g_assert_cmpint(symlink(target, p), ==, 0);
}

/* PF 0000:3b:00.0 (ens2f0) with VFs 0-2 at 0000:3b:02.0-2 */
static void
fixture(void)
{
    root = g_dir_make_tmp("vspan-sysfs-XXXXXX", NULL);
    mk("sys/bus/pci/devices/0000:3b:00.0/net/ens2f0");
    mk("sys/class/net/ens2f0");
    ln("../../../bus/pci/devices/0000:3b:00.0", "sys/class/net/ens2f0/device");
    {
        g_autofree char *numvfs = g_build_filename(root, "sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs", NULL);
        g_assert_true(g_file_set_contents(numvfs, "3\n", -1, NULL));
    }
    for (int i = 0; i < 3; i++) {
        g_autofree char *vf = g_strdup_printf("sys/bus/pci/devices/0000:3b:02.%d", i);
        g_autofree char *physfn = g_strdup_printf("%s/physfn", vf);
        g_autofree char *virtfn = g_strdup_printf("sys/bus/pci/devices/0000:3b:00.0/virtfn%d", i);
        g_autofree char *to = g_strdup_printf("../0000:3b:02.%d", i);
        mk(vf);
        ln("../0000:3b:00.0", physfn);
        ln(to, virtfn);
    }
}

static void
test_lookup(void)
{
    VspanPciAddr a = { 0, 0x3b, 0x02, 2 }, other = { 0, 0x00, 0x1f, 6 };
    g_autofree char *pf = NULL;
    guint vf = 99;

    g_assert_true(vspan_sysfs_vf_lookup(root, &a, &pf, &vf));
    g_assert_cmpstr(pf, ==, "ens2f0");
    g_assert_cmpuint(vf, ==, 2);
    g_assert_false(vspan_sysfs_vf_lookup(root, &other, &pf, &vf));   /* not a VF */
    g_assert_cmpint(vspan_sysfs_numvfs(root, "ens2f0"), ==, 3);
    g_assert_cmpint(vspan_sysfs_numvfs(root, "eth9"), ==, -1);
}

static VspanConfig *
config(const char *xml)
{
    g_autoptr(GError) error = NULL;
    VspanConfig *c = vspan_config_parse(xml, strlen(xml), "vspan.xml", &error);

    g_assert_no_error(error);
    return c;
}

static void
test_network_xml(void)
{
    g_autoptr(VspanConfig) whole = config("<vspan><pool name='p' network='n'><pf dev='ens2f0'/></pool></vspan>");
    g_autoptr(VspanConfig) subset = config("<vspan><pool name='p' network='n'><pf dev='ens2f0' vfs='1-7'/></pool></vspan>");
    g_autoptr(VspanConfig) none = config("<vspan><pool name='p' network='n'><pf dev='eth9' vfs='0-3'/></pool></vspan>");
    g_autofree char *x1 = NULL, *x2 = NULL, *x3 = NULL, *why = NULL;

    x1 = vspan_pool_network_xml(whole->pools->pdata[0], root, &why);
    g_assert_cmpstr(x1, ==, "<network>\n  <name>n</name>\n  <forward mode='hostdev' managed='yes'>\n"
                            "    <pf dev='ens2f0'/>\n  </forward>\n</network>\n");
    /* VFs 1-7 asked, 1-2 exist */
    x2 = vspan_pool_network_xml(subset->pools->pdata[0], root, &why);
    g_assert_cmpstr(x2, ==, "<network>\n  <name>n</name>\n  <forward mode='hostdev' managed='yes'>\n"
                            "    <address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x1'/>\n"
                            "    <address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x2'/>\n"
                            "  </forward>\n</network>\n");
    x3 = vspan_pool_network_xml(none->pools->pdata[0], root, &why);
    g_assert_null(x3);
    g_assert_cmpstr(why, ==, "no VF of pool 'p' is enabled; enable VFs on its PFs");
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    fixture();
    g_test_add_func("/sysfs/vf-lookup", test_lookup);
    g_test_add_func("/sysfs/pool-network-xml", test_network_xml);
    rc = g_test_run();
    {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", root);
        g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, NULL, NULL));
    }
    return rc;
}
