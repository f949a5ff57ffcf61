/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/*
 * String <-> enum tables.  Every enum has a _LAST sentinel; the string table
 * has exactly _LAST entries (checked at build time) and round-trips
 * (tests/test-enums.c).  _from_string() returns -1 for unknown strings.
 */
#define VSPAN_ENUM_DECL(Type, name) \
    const char *vspan_##name##_to_string(Type value); \
    int vspan_##name##_from_string(const char *str)

#define VSPAN_ENUM_IMPL(Type, name, last, ...) \
    static const char *const vspan_##name##_table[] = { __VA_ARGS__ }; \
    G_STATIC_ASSERT(G_N_ELEMENTS(vspan_##name##_table) == last); \
    const char *vspan_##name##_to_string(Type value) \
    { \
        if ((int)value < 0 || (int)value >= (int)(last)) \
            return NULL; \
        return vspan_##name##_table[value]; \
    } \
    int vspan_##name##_from_string(const char *str) \
    { \
        if (!str) \
            return -1; \
        for (int i = 0; i < (int)(last); i++) \
            if (g_str_equal(vspan_##name##_table[i], str)) \
                return i; \
        return -1; \
    }

typedef enum {
    VSPAN_PHASE_PREPARE,
    VSPAN_PHASE_START,
    VSPAN_PHASE_STARTED,
    VSPAN_PHASE_STOPPED,
    VSPAN_PHASE_RELEASE,
    VSPAN_PHASE_RECONNECT,
    VSPAN_PHASE_MIGRATE,
    VSPAN_PHASE_RESTORE,
    VSPAN_PHASE_LAST
} VspanPhase;
VSPAN_ENUM_DECL(VspanPhase, phase);

/* What vspan does in each libvirt hook phase: one table for the hook, its
 * vspand-down fallback, the agent and the planner.  Only prepare and start
 * may refuse: a failing reconnect kills a running VM, and libvirt ignores
 * stopped and release. */
typedef struct {
    const char *sub;            /* the sub-operation vspan acts on; NULL: none */
    gboolean refusable;         /* a failure refuses the start (exit 1) */
    gboolean applies;           /* plans and changes the kernel */
    gboolean forgets;           /* the domain is gone: drop its state and leases */
} VspanPhasePolicy;

/* The policy of @phase; an unknown phase (-1) gets "do nothing". */
const VspanPhasePolicy *vspan_phase_policy(int phase);
#define vspan_phase_refusable(phase) (vspan_phase_policy(phase)->refusable)

typedef enum {
    VSPAN_DIRECTION_BOTH,
    VSPAN_DIRECTION_FROM_VM,
    VSPAN_DIRECTION_TO_VM,
    VSPAN_DIRECTION_LAST
} VspanDirection;
VSPAN_ENUM_DECL(VspanDirection, direction);

/* tc hooks of a tap: frames from the VM enter the host on the tap's
 * ingress; frames to the VM leave the host on the tap's egress. */
typedef enum {
    VSPAN_HOOK_INGRESS,
    VSPAN_HOOK_EGRESS,
    VSPAN_HOOK_LAST
} VspanHook;
VSPAN_ENUM_DECL(VspanHook, hook);

typedef enum {
    VSPAN_IFACE_TYPE_BRIDGE,
    VSPAN_IFACE_TYPE_NETWORK,
    VSPAN_IFACE_TYPE_ETHERNET,
    VSPAN_IFACE_TYPE_HOSTDEV,
    VSPAN_IFACE_TYPE_DIRECT,
    VSPAN_IFACE_TYPE_VHOSTUSER,
    VSPAN_IFACE_TYPE_USER,
    VSPAN_IFACE_TYPE_OTHER,
    VSPAN_IFACE_TYPE_LAST
} VspanIfaceType;
VSPAN_ENUM_DECL(VspanIfaceType, iface_type);

typedef enum {
    VSPAN_SINK_TAP,
    VSPAN_SINK_INTERFACE,
    VSPAN_SINK_NETDEV,
    VSPAN_SINK_VXLAN,
    VSPAN_SINK_GRETAP,
    VSPAN_SINK_ERSPAN,
    VSPAN_SINK_INLINE,          /* mode="inline": the appliance's two ports */
    VSPAN_SINK_LAST
} VspanSinkType;
VSPAN_ENUM_DECL(VspanSinkType, sink_type);

/* <appliance mode="inline" on-failure=>: what an inline NIC's frames do
 * while its appliance is down or fails its health check */
typedef enum {
    VSPAN_ON_FAILURE_BYPASS,
    VSPAN_ON_FAILURE_BLOCK,
    VSPAN_ON_FAILURE_LAST
} VspanOnFailure;
VSPAN_ENUM_DECL(VspanOnFailure, on_failure);

typedef enum {
    VSPAN_TRUST_POLICY_NEVER,
    VSPAN_TRUST_POLICY_APPLIANCES,
    VSPAN_TRUST_POLICY_ANY,
    VSPAN_TRUST_POLICY_LAST
} VspanTrustPolicy;
VSPAN_ENUM_DECL(VspanTrustPolicy, trust_policy);

typedef enum {
    VSPAN_VLAN_PROTO_8021Q,
    VSPAN_VLAN_PROTO_8021AD,
    VSPAN_VLAN_PROTO_LAST
} VspanVlanProto;
VSPAN_ENUM_DECL(VspanVlanProto, vlan_proto);

/* Same order as the kernel's IFLA_VF_LINK_STATE_{AUTO,ENABLE,DISABLE}. */
typedef enum {
    VSPAN_LINK_STATE_AUTO,
    VSPAN_LINK_STATE_ENABLE,
    VSPAN_LINK_STATE_DISABLE,
    VSPAN_LINK_STATE_LAST
} VspanLinkState;
VSPAN_ENUM_DECL(VspanLinkState, link_state);

typedef enum {
    VSPAN_SWITCH_OFF,
    VSPAN_SWITCH_ON,
    VSPAN_SWITCH_LAST
} VspanSwitch;
VSPAN_ENUM_DECL(VspanSwitch, switch);

typedef enum {
    VSPAN_AGENT_UNAVAILABLE_REFUSE,
    VSPAN_AGENT_UNAVAILABLE_ALLOW,
    VSPAN_AGENT_UNAVAILABLE_LAST
} VspanAgentUnavailable;
VSPAN_ENUM_DECL(VspanAgentUnavailable, agent_unavailable);

typedef enum {
    VSPAN_CLASSIFIER_AUTO,      /* not known yet: the executor probes */
    VSPAN_CLASSIFIER_MATCHALL,
    VSPAN_CLASSIFIER_U32,
    VSPAN_CLASSIFIER_LAST
} VspanClassifier;
VSPAN_ENUM_DECL(VspanClassifier, classifier);

/* How a tap's qdiscs are found before vspan touches them. */
typedef enum {
    VSPAN_QDISC_STATE_UNKNOWN,
    VSPAN_QDISC_STATE_NONE,
    VSPAN_QDISC_STATE_CLSACT,
    VSPAN_QDISC_STATE_INGRESS,  /* libvirt <bandwidth>: ingress + root htb */
    VSPAN_QDISC_STATE_LAST
} VspanQdiscState;
VSPAN_ENUM_DECL(VspanQdiscState, qdisc_state);
