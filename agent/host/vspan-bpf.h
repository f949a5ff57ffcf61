/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-bpf-params.h"
#include "vspan-config.h"

/*
 * The filter programs of the host config (<program>), loaded with libbpf:
 * vspand owns them.  One instance per <program>, shared by every rule that
 * names it (its maps too: flow-head's flow table is per program, so a flow
 * between two monitored VMs of one host is counted once).
 *
 * Pinned, not re-created: each loaded program is pinned in bpffs as
 * /sys/fs/bpf/vspan/NAME-HASH, HASH covering the object file and the
 * parameters.  A restarted vspand takes the pinned instance back, so the
 * filters keep running the same program with the same state (flow-head
 * does not start copying every flow's head again) and the planner sees
 * nothing to change.  Without bpffs at that path the program is loaded
 * anew and every filter naming it is re-pointed once (said in the log).
 *
 * A program the kernel refuses keeps its error (the verifier's last line);
 * rules naming it are refused, nothing else is affected.
 */
typedef struct VspanBpfPrograms VspanBpfPrograms;

/* @objdir holds the builtin objects (flow-head.bpf.o, source-rate.bpf.o);
 * @pindir is where programs are pinned (NULL: no pinning). */
VspanBpfPrograms *vspan_bpf_programs_new(const char *objdir, const char *pindir);
void vspan_bpf_programs_free(VspanBpfPrograms *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VspanBpfPrograms, vspan_bpf_programs_free)

/* Load what @defs defines and is not loaded yet (or changed), drop what
 * it no longer defines.  Failures are kept per program, not returned. */
void vspan_bpf_programs_sync(VspanBpfPrograms *p, GPtrArray *defs);

/* The program's fd (> 0), or -1 with its load error in @error. */
int vspan_bpf_programs_fd(VspanBpfPrograms *p, const char *name, GError **error);
/* Its kernel id, 0 when not loaded. */
guint32 vspan_bpf_programs_id(VspanBpfPrograms *p, const char *name);
/* The name of the program whose kernel id is @id, NULL when none. */
const char *vspan_bpf_programs_name_of(VspanBpfPrograms *p, guint32 id);
/* The load error of @name, NULL when it loaded (or is not defined). */
const char *vspan_bpf_programs_error(VspanBpfPrograms *p, const char *name);

/* The directory of the builtin objects: $VSPAN_BPF_DIR, else the installed one. */
const char *vspan_bpf_objdir(void);
/* Where programs are pinned: $VSPAN_BPF_PINDIR, else /sys/fs/bpf/vspan. */
const char *vspan_bpf_pindir(void);

/*
 * A sink's shaper (snaplen=, max-rate=): the sink-shape program with the
 * sink's parameters, direct-action on the sink's egress, and its counters.
 * Not pinned: a restarted vspand loads it again and re-attaches it (the
 * counters start again from 0).
 */
typedef struct {
    char *key;          /* the parameters it was loaded with */
    int prog_fd;
    guint32 prog_id;
    int counters_fd;    /* per-CPU array, VSPAN_SHAPE_* */
} VspanBpfShaper;

/* NULL when @sink wants no shaping; @fit: the largest copy a tunnel sink
 * carries whole (its MTU + the inner Ethernet header), 0 for other sinks */
char *vspan_bpf_shaper_key(const VspanSink *sink, guint fit);
VspanBpfShaper *vspan_bpf_shaper_load(const char *objdir, const VspanSink *sink, guint fit,
                                      GError **error);
void vspan_bpf_shaper_free(VspanBpfShaper *sh);
/* copy-tag.bpf.o's copy_tag for @vlan, or copy_untag when @vlan is 0:
 * its fd (kernel id in *@id), or -1 with @error. */
int vspan_bpf_tagger_load(const char *objdir, guint vlan, guint32 *id, GError **error);

/* sums over CPUs */
void vspan_bpf_shaper_counters(const VspanBpfShaper *sh, guint64 out[VSPAN_SHAPE_COUNTERS]);

/*
 * An inline appliance's programs (inline.bpf.o): one instance per
 * appliance, all five programs sharing its maps.  Not pinned: a restarted
 * vspand loads them again and re-points every filter (the old instance
 * keeps forwarding until then).
 */
enum {
    VSPAN_BPF_INLINE_FROM_VM_PASS,      /* tap ingress, first */
    VSPAN_BPF_INLINE_FROM_VM,           /* tap ingress, last */
    VSPAN_BPF_INLINE_TO_VM,             /* tap egress, first */
    VSPAN_BPF_INLINE_FROM_NET_SIDE,     /* net-side port ingress */
    VSPAN_BPF_INLINE_FROM_VM_SIDE,      /* vm-side port ingress */
    VSPAN_BPF_INLINE_PROGS,
};

typedef struct {
    int prog_fd[VSPAN_BPF_INLINE_PROGS];
    guint32 prog_id[VSPAN_BPF_INLINE_PROGS];
    int app_fd, vids_fd, ports_fd, canary_fd, counters_fd;
} VspanBpfInline;

/* @id: the appliance's number (1-4095), unique among those loaded */
gboolean vspan_bpf_inline_load(const char *objdir, guint id, VspanBpfInline *bi, GError **error);
void vspan_bpf_inline_close(VspanBpfInline *bi);
/* per-CPU array @fd's first @n slots, summed over CPUs (0 when unreadable) */
void vspan_bpf_percpu_sum(int fd, guint n, guint64 *out);
