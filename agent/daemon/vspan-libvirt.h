/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-agent.h"

/*
 * vspand's libvirt side.  Events (lifecycle, device added/removed) and a lost
 * connection only schedule a resync; the resync lists the running domains
 * and reads their XML in a worker thread -- libvirt holds a domain's lock
 * while its hook runs, and the hook is waiting for this very main loop --
 * and hands the XML to vspan_agent_sync() in the main loop.
 */
typedef struct VspanLibvirt VspanLibvirt;

/* Call before any connection is opened (virEventRegisterDefaultImpl). */
void vspan_libvirt_init_events(void);

VspanLibvirt *vspan_libvirt_new(const char *uri, VspanAgent *agent);
void vspan_libvirt_free(VspanLibvirt *lv);
void vspan_libvirt_schedule_sync(VspanLibvirt *lv);
