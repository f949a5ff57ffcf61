/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspand"

#include <gio/gio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "vspan-libvirt.h"
#include "vspan-pools.h"
#include "vspan-sysfs.h"

struct VspanLibvirt {
    char *uri;
    VspanAgent *agent;
    virConnectPtr conn;
    int cb_ids[3];
    guint retry_source;
    guint sync_source;
    guint retry_delay_ms;
    gboolean fetching;
    gboolean again;
    gboolean close_pending;
};

static void vspan_libvirt_connect(VspanLibvirt *lv);

static void
vspan_libvirt_quiet(void *data, virErrorPtr err)
{
    /* errors are read with virGetLastErrorMessage() where they matter */
}

void
vspan_libvirt_init_events(void)
{
    virSetErrorFunc(NULL, vspan_libvirt_quiet);
    if (virEventRegisterDefaultImpl() < 0)
        g_warning("cannot register libvirt's event loop: %s", virGetLastErrorMessage());
}

/* ---- resync in a worker thread ----------------------------------------- */

/* What a resync's worker needs: its own reference to the connection and
 * each pool's network, prepared in the main loop (the config belongs to it). */
typedef struct {
    char *pool, *network;
    char *xml;                  /* to define it with; NULL when no VF can be listed */
    char *why;                  /* ... and why not */
} VspanPoolNet;

typedef struct {
    virConnectPtr conn;
    GPtrArray *nets;            /* of VspanPoolNet */
} VspanFetch;

static void
vspan_pool_net_free(VspanPoolNet *n)
{
    g_free(n->pool);
    g_free(n->network);
    g_free(n->xml);
    g_free(n->why);
    g_free(n);
}

static void
vspan_fetch_free(gpointer data)
{
    VspanFetch *f = data;

    virConnectClose(f->conn);
    g_ptr_array_unref(f->nets);
    g_free(f);
}

/* Each pool's <forward mode='hostdev'> network: defined and started when
 * absent.  In the worker, like every libvirt call: while ten domains start,
 * libvirtd answers late, and the loop must keep answering their hooks. */
static void
vspan_libvirt_ensure_networks(virConnectPtr conn, GPtrArray *nets)
{
    for (guint i = 0; i < nets->len; i++) {
        const VspanPoolNet *pn = nets->pdata[i];
        virNetworkPtr net = virNetworkLookupByName(conn, pn->network);

        if (!net) {
            if (!pn->xml) {
                g_warning("cannot define network '%s' of pool '%s': %s", pn->network, pn->pool, pn->why);
                continue;
            }
            net = virNetworkDefineXML(conn, pn->xml);
            if (!net) {
                g_warning("cannot define network '%s' of pool '%s': %s", pn->network, pn->pool,
                          virGetLastErrorMessage());
                continue;
            }
            virNetworkSetAutostart(net, 1);
            g_message("defined libvirt network '%s' for pool '%s'", pn->network, pn->pool);
        }
        if (virNetworkIsActive(net) == 0) {
            if (virNetworkCreate(net) < 0)
                g_warning("cannot start network '%s' of pool '%s': %s", pn->network, pn->pool,
                          virGetLastErrorMessage());
            else
                g_message("started libvirt network '%s'", pn->network);
        }
        virNetworkFree(net);
    }
}

static void
vspan_libvirt_fetch_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *c)
{
    VspanFetch *f = task_data;
    virConnectPtr conn = f->conn;
    virDomainPtr *doms = NULL;
    GPtrArray *xmls = g_ptr_array_new_with_free_func(g_free);
    int n;

    vspan_libvirt_ensure_networks(conn, f->nets);
    n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

    if (n < 0) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot list domains: %s",
                                virGetLastErrorMessage());
        g_ptr_array_unref(xmls);
        return;
    }
    for (int i = 0; i < n; i++) {
        char *xml = virDomainGetXMLDesc(doms[i], 0);
        if (xml) {
            g_ptr_array_add(xmls, g_strdup(xml));
            free(xml);
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    g_task_return_pointer(task, xmls, (GDestroyNotify)g_ptr_array_unref);
}

static void
vspan_libvirt_fetch_done(GObject *source, GAsyncResult *res, gpointer data)
{
    VspanLibvirt *lv = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) xmls = g_task_propagate_pointer(G_TASK(res), &error);

    lv->fetching = FALSE;
    if (!xmls)
        g_message("resync: %s", error->message);
    else
        vspan_agent_sync(lv->agent, xmls);
    if (lv->again) {
        lv->again = FALSE;
        vspan_libvirt_schedule_sync(lv);
    }
}

static gboolean
vspan_libvirt_sync_timeout(gpointer data)
{
    VspanLibvirt *lv = data;
    g_autoptr(GTask) task = NULL;

    const VspanConfig *config;
    VspanFetch *f;

    lv->sync_source = 0;
    if (!lv->conn)
        return G_SOURCE_REMOVE;
    if (lv->fetching) {
        lv->again = TRUE;
        return G_SOURCE_REMOVE;
    }
    lv->fetching = TRUE;
    f = g_new0(VspanFetch, 1);
    f->conn = lv->conn;
    virConnectRef(lv->conn);
    f->nets = g_ptr_array_new_with_free_func((GDestroyNotify)vspan_pool_net_free);
    config = vspan_agent_config(lv->agent);
    for (guint i = 0; i < config->pools->len; i++) {
        const VspanPool *pool = config->pools->pdata[i];
        VspanPoolNet *pn;

        if (!pool->network)
            continue;
        pn = g_new0(VspanPoolNet, 1);
        pn->pool = g_strdup(pool->name);
        pn->network = g_strdup(pool->network);
        pn->xml = vspan_pool_network_xml(pool, vspan_sysfs_root(), &pn->why);
        g_ptr_array_add(f->nets, pn);
    }
    task = g_task_new(NULL, NULL, vspan_libvirt_fetch_done, lv);
    g_task_set_task_data(task, f, vspan_fetch_free);
    g_task_run_in_thread(task, vspan_libvirt_fetch_thread);
    return G_SOURCE_REMOVE;
}

void
vspan_libvirt_schedule_sync(VspanLibvirt *lv)
{
    /* events come in bursts (a start is several): coalesce them */
    if (!lv->sync_source)
        lv->sync_source = g_timeout_add(50, vspan_libvirt_sync_timeout, lv);
}

/* ---- events ------------------------------------------------------------- */

static int
vspan_libvirt_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *data)
{
    VspanLibvirt *lv = data;

    g_debug("libvirt: domain %s lifecycle event %d/%d", virDomainGetName(dom), event, detail);
    if (event == VIR_DOMAIN_EVENT_STARTED || event == VIR_DOMAIN_EVENT_STOPPED ||
        event == VIR_DOMAIN_EVENT_RESUMED)
        vspan_libvirt_schedule_sync(lv);
    return 0;
}

static void
vspan_libvirt_device_cb(virConnectPtr conn, virDomainPtr dom, const char *alias, void *data)
{
    VspanLibvirt *lv = data;

    g_message("libvirt: device %s of domain %s changed", alias, virDomainGetName(dom));
    vspan_libvirt_schedule_sync(lv);
}

static gboolean
vspan_libvirt_retry(gpointer data)
{
    VspanLibvirt *lv = data;

    lv->retry_source = 0;
    vspan_libvirt_connect(lv);
    return G_SOURCE_REMOVE;
}

static void
vspan_libvirt_schedule_retry(VspanLibvirt *lv)
{
    if (lv->retry_source)
        return;
    lv->retry_source = g_timeout_add(lv->retry_delay_ms, vspan_libvirt_retry, lv);
    lv->retry_delay_ms = MIN(lv->retry_delay_ms * 2, 5000);
}

static void
vspan_libvirt_disconnect(VspanLibvirt *lv)
{
    if (!lv->conn)
        return;
    for (guint i = 0; i < G_N_ELEMENTS(lv->cb_ids); i++)
        if (lv->cb_ids[i] >= 0)
            virConnectDomainEventDeregisterAny(lv->conn, lv->cb_ids[i]);
    virConnectUnregisterCloseCallback(lv->conn, NULL);
    virConnectClose(lv->conn);
    lv->conn = NULL;
}

static gboolean
vspan_libvirt_close_idle(gpointer data)
{
    VspanLibvirt *lv = data;

    lv->close_pending = FALSE;
    vspan_libvirt_disconnect(lv);
    vspan_agent_count_reconnect(lv->agent);
    lv->retry_delay_ms = 1000;
    vspan_libvirt_schedule_retry(lv);
    return G_SOURCE_REMOVE;
}

static void
vspan_libvirt_close_cb(virConnectPtr conn, int reason, void *data)
{
    VspanLibvirt *lv = data;

    /* inside libvirt's own dispatch: only schedule */
    g_message("lost the connection to libvirt (reason %d); reconnecting", reason);
    if (!lv->close_pending) {
        lv->close_pending = TRUE;
        g_idle_add(vspan_libvirt_close_idle, lv);
    }
}

static void
vspan_libvirt_connect(VspanLibvirt *lv)
{
    lv->conn = virConnectOpen(lv->uri);
    if (!lv->conn) {
        g_debug("cannot connect to %s: %s", lv->uri, virGetLastErrorMessage());
        vspan_libvirt_schedule_retry(lv);
        return;
    }
    g_message("connected to %s", lv->uri);
    lv->retry_delay_ms = 1000;
    virConnectRegisterCloseCallback(lv->conn, vspan_libvirt_close_cb, lv, NULL);
    lv->cb_ids[0] = virConnectDomainEventRegisterAny(lv->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                     VIR_DOMAIN_EVENT_CALLBACK(vspan_libvirt_lifecycle_cb), lv, NULL);
    lv->cb_ids[1] = virConnectDomainEventRegisterAny(lv->conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                                                     VIR_DOMAIN_EVENT_CALLBACK(vspan_libvirt_device_cb), lv, NULL);
    lv->cb_ids[2] = virConnectDomainEventRegisterAny(lv->conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                                     VIR_DOMAIN_EVENT_CALLBACK(vspan_libvirt_device_cb), lv, NULL);
    /* events during the outage are lost: read everything again (the sync
     * also makes sure the pools' networks exist) */
    vspan_libvirt_schedule_sync(lv);
}

VspanLibvirt *
vspan_libvirt_new(const char *uri, VspanAgent *agent)
{
    VspanLibvirt *lv = g_new0(VspanLibvirt, 1);

    lv->uri = g_strdup(uri);
    lv->agent = agent;
    lv->retry_delay_ms = 1000;
    for (guint i = 0; i < G_N_ELEMENTS(lv->cb_ids); i++)
        lv->cb_ids[i] = -1;
    vspan_libvirt_connect(lv);
    return lv;
}

void
vspan_libvirt_free(VspanLibvirt *lv)
{
    if (!lv)
        return;
    if (lv->retry_source)
        g_source_remove(lv->retry_source);
    if (lv->sync_source)
        g_source_remove(lv->sync_source);
    vspan_libvirt_disconnect(lv);
    g_free(lv->uri);
    g_free(lv);
}
