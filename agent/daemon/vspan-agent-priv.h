/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The agent's insides, shared by its modules (vspan-agent.c: lifecycle and
 * the pipeline; vspan-observe.c; vspan-leases.c; vspan-report.c) and by
 * tests/test-agent.c.  Nothing else includes this. */

#include "vspan-agent.h"
#include "vspan-host.h"
#include "vspan-pools.h"
#include "vspan-state.h"

struct VspanAgent {
    char *config_path;
    VspanConfig *config;
    VspanHost *host;
    VspanState *state;
    /* uuid -> VspanDomain parsed once from state->domains' XML */
    GHashTable *records;
    GHashTable *starting;           /* uuids between prepare and started */
    /* device names whose link and tc events concern vspan; NULL: rebuild */
    GHashTable *watched;
    VspanAgentFunc watch_changed;   /* told when the watched set changes */
    gpointer watch_changed_data;
    guint repair_source;            /* the pending scheduled repair */
    VspanAgentFunc repaired;        /* told after each scheduled repair */
    gpointer repaired_data;
    guint64 repairs;                /* filters restored */
    guint64 checks;                 /* repair runs: kernel compared with the records */
    guint64 reconnects;
    GHashTable *health;             /* inline appliance name -> VspanHealthEntry */
};

/* ---- inline appliances' health (vspan-health.c) -------------------------- */

typedef struct VspanHealthEntry VspanHealthEntry;

/* Follow the config: one entry (and canary timer) per inline appliance. */
void vspan_health_sync(VspanAgent *agent);
void vspan_health_free(VspanAgent *agent);
/* Read every appliance's carrier again and write its state. */
void vspan_health_evaluate(VspanAgent *agent);
/* A link event of @dev: TRUE when it is an inline appliance's port (its
 * state is written at once). */
gboolean vspan_health_port_event(VspanAgent *agent, const char *dev);

typedef struct {
    const VspanAppliance *appliance;
    gboolean loaded;
    VspanInlineStats stats;
    const char *state;          /* through, bypass, block, not loaded */
    const char *why;
    guint64 switches;
    guint64 canaries_sent;
    gint64 seconds;             /* in this state */
} VspanHealthReport;
typedef void (*VspanHealthFunc)(const VspanHealthReport *r, gpointer data);
/* config order */
void vspan_health_foreach(VspanAgent *agent, VspanHealthFunc func, gpointer data);

/* ---- leases (vspan-leases.c): which domain holds which pool VF ---------- */

/* Drop from @plan the resets of VFs that another domain holds by now. */
void vspan_leases_filter_resets(VspanState *state, VspanPlan *plan, const VspanDomain *dom);
/* Record the leases of @plan's pool VFs; a lease the domain already holds
 * keeps its generation. */
void vspan_leases_record(VspanState *state, const VspanPlan *plan, const VspanDomain *dom);
/* Forget every lease of @uuid; with @host, reset each VF to safe defaults first. */
void vspan_leases_drop(VspanState *state, VspanHost *host, const char *uuid, const char *why);
/* Hand the leases to the planner. */
void vspan_leases_observe(const VspanState *state, VspanObserved *obs);

/* ---- observation (vspan-observe.c) ---------------------------------------- */

/* The host as the planner needs it for @dom. */
VspanObserved *vspan_agent_observe(VspanAgent *agent, const VspanDomain *dom);
/* Drop the VF sets of @plan whose VF reads back right already. */
void vspan_agent_drop_unchanged_vfs(VspanAgent *agent, VspanPlan *plan);

/* The watched set is stale: drop it and tell vspand. */
void vspan_agent_watch_changed(VspanAgent *agent);

/* ---- the sink device of an appliance now (NULL: none) ------------------- */
const char *vspan_agent_sink_dev(VspanAgent *agent, const VspanAppliance *a);
