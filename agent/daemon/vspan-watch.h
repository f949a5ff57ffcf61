/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-agent.h"

/* The rtnetlink watch of one agent (vspand's main loop): a filter, qdisc
 * or link of a device vspan manages that changes or goes away schedules a
 * repair within 100 ms; the socket's BPF filter follows the agent's
 * watched set. */
typedef struct VspanWatch VspanWatch;

VspanWatch *vspan_watch_new(VspanAgent *agent, GError **error);
void vspan_watch_free(VspanWatch *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanWatch, vspan_watch_free)
