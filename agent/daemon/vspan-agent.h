/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-config.h"
#include "vspan-host.h"

/*
 * The agent's core: the single owner of vspan's state and of every kernel
 * change.  Every trigger -- a hook phase, a libvirt resync, a netlink event,
 * `vspanctl reconcile` -- ends in the same path: plan against what the
 * kernel shows now, apply, record (vspan-agent.c's vspan_agent_run).
 * Nothing here calls libvirt: vspand
 * fetches domain XML in a worker thread and hands it in.
 */
typedef struct VspanAgent VspanAgent;

/* The agent takes @host (the Linux host in vspand, a fake in the tests). */
VspanAgent *vspan_agent_new(const char *config_path, const char *state_dir, VspanHost *host,
                            GError **error);
void vspan_agent_free(VspanAgent *agent);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanAgent, vspan_agent_free)

/* One hook call: returns the exit status for the hook and one line for
 * the virsh user in *message (may be NULL). */
int vspan_agent_hook(VspanAgent *agent, const char *phase, const char *sub, const char *xml,
                     char **message);

/* libvirt's full view: the live XML of every running domain. */
void vspan_agent_sync(VspanAgent *agent, GPtrArray *xmls);

/* Re-apply what the stored XML says, against the kernel as it is now
 * (filters deleted behind vspan's back, a sink that vanished). */
void vspan_agent_repair(VspanAgent *agent);

/* Repair in @delay_ms (main loop); requests while one is pending join it. */
void vspan_agent_schedule_repair(VspanAgent *agent, guint delay_ms);

typedef void (*VspanAgentFunc)(gpointer data);
/* @func runs after each scheduled repair (vspand rewrites its textfile). */
void vspan_agent_on_repaired(VspanAgent *agent, VspanAgentFunc func, gpointer data);
/* @func runs when the set of watched devices changes. */
void vspan_agent_on_watch_changed(VspanAgent *agent, VspanAgentFunc func, gpointer data);

gboolean vspan_agent_reload_config(VspanAgent *agent, GError **error);

/* Create every tap and vxlan sink of the config (start-up, reload). */
/* The config's tap and vxlan sinks, and its filter programs. */
void vspan_agent_ensure_sinks(VspanAgent *agent);

/* Bring pool PFs up and enable their VFs where none are (start-up, reload). */
void vspan_agent_ensure_pools(VspanAgent *agent);

/* vspanctl metrics: Prometheus text exposition of the same counters. */
char *vspan_agent_metrics(VspanAgent *agent);

/* vspanctl status: returns the JSON, *text the same as a table. */
char *vspan_agent_status(VspanAgent *agent, char **text);

void vspan_agent_count_reconnect(VspanAgent *agent);

const VspanConfig *vspan_agent_config(VspanAgent *agent);

/* Whether link or tc events on @dev concern vspan: a tap of a managed
 * domain, an appliance's sink, a pool PF.  Other devices' churn is ignored. */
gboolean vspan_agent_watches(VspanAgent *agent, const char *dev);
/* A link of @dev changed or went (rtnetlink): inline appliances' ports
 * are acted on at once. */
void vspan_agent_link_event(VspanAgent *agent, const char *dev);

/* The ifindexes of the watched devices that exist now; *all_exist is FALSE
 * when one does not (yet): its appearance can only be told by its name. */
GArray *vspan_agent_watched_ifindexes(VspanAgent *agent, gboolean *all_exist);
