/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A host kept in memory for the agent's unit tests (tests/test-agent.c):
 * links with carrier, vspan's filters with per-sink counters, PFs with VFs
 * and their settings, PCI addresses.  Every write is recorded as one line
 * ("mirror-set vnet0 ingress vspan-ids", "vf-set pf0/1 vlan=100 trust=on",
 * ...); tests change the fake behind the agent's back to make drift. */

#include "vspan-host.h"

typedef struct FakeHost FakeHost;

/* The test holds one reference, each fake_host_host() one more: the fake
 * outlives an agent (a vspand restart keeps the kernel's state). */
FakeHost *fake_host_new(void);
void fake_host_free(FakeHost *fake);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeHost, fake_host_free)
/* the VspanHost to hand to vspan_agent_new(), which frees it */
VspanHost *fake_host_host(FakeHost *fake);

void fake_host_add_link(FakeHost *fake, const char *dev);
/* links start at MTU 1500 */
void fake_host_set_mtu(FakeHost *fake, const char *dev, guint mtu);
void fake_host_set_tso(FakeHost *fake, const char *dev, gboolean on);
void fake_host_del_link(FakeHost *fake, const char *dev);
void fake_host_set_carrier(FakeHost *fake, const char *dev, gboolean carrier);
/* a PF with @numvfs VFs, VF n at PCI address 0000:03:00.(n+1) */
void fake_host_add_pf(FakeHost *fake, const char *pf, guint numvfs);
VspanVfSettings *fake_host_vf(FakeHost *fake, const char *pf, guint vf);
/* "ingress: vspan-ids,sink2" or "" when @dev has no vspan filter on @hook */
char *fake_host_mirror(FakeHost *fake, const char *dev, VspanHook hook);
/* remove a filter behind vspan's back */
void fake_host_del_filter(FakeHost *fake, const char *dev, VspanHook hook);
/* make every mirror_set on @dev fail, as a kernel refusal would */
void fake_host_fail_mirror_on(FakeHost *fake, const char *dev);
/* count @n frames through the mirror of @dev on @hook */
void fake_host_count(FakeHost *fake, const char *dev, VspanHook hook, guint64 n);
/* an inline appliance's state + 1 (VSPAN_INLINE_*), 0 before it is loaded */
guint fake_host_inline_state(FakeHost *fake, const char *appliance);
/* the writes since the last call, one per line, and forget them */
char *fake_host_take_log(FakeHost *fake);
