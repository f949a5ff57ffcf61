/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for the kernel tiers: private network namespaces, taps whose fd
 * plays the guest, raw frames, and iproute2 as an independent witness. */
#pragma once

#include <glib.h>

/* Enter a fresh network namespace (the previous one, and everything in it,
 * goes away once nothing holds it).  FALSE when not permitted. */
gboolean nt_enter_netns(void);

/* Run a shell command line (test scaffolding and witness only); returns
 * its exit status, stdout in *out when given. */
int nt_sh(char **out, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* As nt_sh, asserting exit 0. */
void nt_run(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Open (creating if needed) tap @name: the fd is the guest's side. */
int nt_tap_open(const char *name);

/* A frame: dst, src, ethertype (0x8100 adds a tag with @vlan and inner
 * type 0x0800), then a payload carrying @tag, padded to @len bytes. */
GBytes *nt_frame(const char *dst, const char *src, guint16 type, guint16 vlan,
                 const char *tag, gsize len);

void nt_send(int fd, GBytes *frame);
/* Read frames from @fd until none came for @quiet_ms. */
GPtrArray *nt_collect(int fd, guint quiet_ms);
/* Count frames in @got equal to @frame. */
guint nt_count(GPtrArray *got, GBytes *frame);
void nt_drain(int fd);

/* The two-port world of the kernel tiers: bridge br0 (MTU 9000, no
 * multicast) with taps vnet0 and vnet1 whose guests are *a and *b; the
 * bridge has learned both guests' MACs and their queues are empty. */
void nt_bridge_two_taps(int *a, int *b, const char *mac_a, const char *mac_b);
/* The same on bridge @br with taps @tap_a and @tap_b. */
void nt_bridge_pair(const char *br, const char *tap_a, const char *tap_b, int *a, int *b, const char *mac_a,
                    const char *mac_b);
/* The appliance's side of a tap sink; jumbo-capable like the VM ports. */
int nt_sink_open(const char *name);
