/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-xml.h"

/*
 * A rule's selection compiled for the kernel: a classic BPF program (an
 * array of struct sock_filter) that cls_bpf runs on each frame of the tap
 * before the copy is made; non-zero means "copy".
 *
 * The filter is compiled by libpcap for Ethernet frames (tcpdump's syntax,
 * never a parser of vspan's own) on a live packet socket handle, as
 * tcpdump does: only then does libpcap test `vlan` against the kernel's
 * VLAN metadata (SKF_AD_VLAN_TAG*), where the tag of a frame that arrived
 * tagged is by the time tc runs.  A handle compiled without that knowledge
 * (pcap_open_dead) tests the tag in the packet bytes and misses those
 * frames.  Where no live handle can be opened (no CAP_NET_RAW: `vspanctl
 * plan` as a user) the dead handle is used and *live says so.
 *
 * Sampling is appended in BPF: every "accept" of the filter jumps to
 * `ld rand; mod #N; jeq #0`, the kernel's random ancillary load.
 */

/* The program for @sel (GBytes of struct sock_filter), from a per-process
 * cache.  On a compile error, the message is libpcap's own words.  @live
 * (may be NULL) says whether it was compiled on a live handle. */
GBytes *vspan_select_compile(const VspanSelect *sel, gboolean *live, GError **error);

guint vspan_select_insns(GBytes *prog);
/* One instruction per line, in tcpdump -d's notation. */
char *vspan_select_disasm(GBytes *prog);
/* Hex of the program, for observed files; and back (NULL when malformed). */
char *vspan_select_to_hex(GBytes *prog);
GBytes *vspan_select_from_hex(const char *hex);
