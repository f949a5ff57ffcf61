/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-config.h"
#include "vspan-host.h"
#include "vspan-netlink.h"
#include "vspan-tc.h"

/*
 * One inline appliance in the kernel: its programs (inline.bpf.o), their
 * maps, and the tags its VMs' frames carry to it.
 *
 * Each inline tap gets its own 802.1Q tag (VID 1-4093, the lowest free;
 * 4094 is the canaries')
 * for as long as it passes the appliance, so that a frame coming back is
 * delivered to exactly one VM: a broadcast flooded to two VMs comes back
 * twice, each copy under its VM's tag.
 */
typedef struct VspanInline VspanInline;

/* @id: 1-4095, unique among the loaded appliances */
VspanInline *vspan_inline_new(const VspanAppliance *a, guint id, GError **error);
void vspan_inline_free(VspanInline *in);
/* FALSE when a reloaded config renamed @a's ports (load it anew then). */
gboolean vspan_inline_same_ports(VspanInline *in, const VspanAppliance *a);

/* The appliance's ports: their programs (clsact added where missing) and
 * their ifindexes in the programs' map. */
gboolean vspan_inline_ports(VspanInline *in, VspanNl *nl, GError **error);
/* @tap (whose filters go where @at says) passes the appliance;
 * @mac: the only source MAC accepted back from it */
gboolean vspan_inline_tap_set(VspanInline *in, VspanNl *nl, const char *tap, int ifindex,
                              const VspanTcAttach *at, const char *mac, GError **error);
/* It no longer does: its filters (when @ifindex > 0) and tag go. */
gboolean vspan_inline_tap_del(VspanInline *in, VspanNl *nl, const char *tap, int ifindex,
                              const VspanTcAttach *at, GError **error);
/* The tap whose filters @filters holds (vspan_tc_dump) runs all three of
 * this instance's programs. */
gboolean vspan_inline_tap_is_mine(VspanInline *in, GPtrArray *filters);
gboolean vspan_inline_has_tap(VspanInline *in, const char *tap);

void vspan_inline_state_set(VspanInline *in, guint state);
void vspan_inline_stats(VspanInline *in, VspanInlineStats *st);
/* canary @seq into each port (each way through the appliance) */
void vspan_inline_canary(VspanInline *in, guint64 seq);
