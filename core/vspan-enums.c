/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vspan-enums.h"

VSPAN_ENUM_IMPL(VspanPhase, phase, VSPAN_PHASE_LAST,
                "prepare", "start", "started", "stopped", "release",
                "reconnect", "migrate", "restore")

const VspanPhasePolicy *
vspan_phase_policy(int phase)
{
    static const VspanPhasePolicy policies[VSPAN_PHASE_LAST] = {
        [VSPAN_PHASE_PREPARE]   = { .sub = "begin", .refusable = TRUE },
        [VSPAN_PHASE_START]     = { .sub = "begin", .refusable = TRUE, .applies = TRUE },
        [VSPAN_PHASE_STARTED]   = { .sub = "begin" },
        [VSPAN_PHASE_STOPPED]   = { .sub = "end", .applies = TRUE, .forgets = TRUE },
        [VSPAN_PHASE_RELEASE]   = { .sub = "end", .applies = TRUE, .forgets = TRUE },
        [VSPAN_PHASE_RECONNECT] = { .sub = "begin", .applies = TRUE },
        /* migrate and restore read the hook's stdout: print nothing */
    };
    static const VspanPhasePolicy nothing = { 0 };

    return phase >= 0 && phase < VSPAN_PHASE_LAST ? &policies[phase] : &nothing;
}

VSPAN_ENUM_IMPL(VspanDirection, direction, VSPAN_DIRECTION_LAST,
                "both", "from-vm", "to-vm")
VSPAN_ENUM_IMPL(VspanHook, hook, VSPAN_HOOK_LAST,
                "ingress", "egress")
VSPAN_ENUM_IMPL(VspanIfaceType, iface_type, VSPAN_IFACE_TYPE_LAST,
                "bridge", "network", "ethernet", "hostdev", "direct",
                "vhostuser", "user", "other")
VSPAN_ENUM_IMPL(VspanSinkType, sink_type, VSPAN_SINK_LAST,
                "tap", "interface", "netdev", "vxlan", "gretap", "erspan", "inline")
VSPAN_ENUM_IMPL(VspanOnFailure, on_failure, VSPAN_ON_FAILURE_LAST,
                "bypass", "block")
VSPAN_ENUM_IMPL(VspanTrustPolicy, trust_policy, VSPAN_TRUST_POLICY_LAST,
                "never", "appliances", "any")
VSPAN_ENUM_IMPL(VspanVlanProto, vlan_proto, VSPAN_VLAN_PROTO_LAST,
                "802.1Q", "802.1ad")
VSPAN_ENUM_IMPL(VspanLinkState, link_state, VSPAN_LINK_STATE_LAST,
                "auto", "enable", "disable")
VSPAN_ENUM_IMPL(VspanSwitch, switch, VSPAN_SWITCH_LAST,
                "off", "on")
VSPAN_ENUM_IMPL(VspanAgentUnavailable, agent_unavailable, VSPAN_AGENT_UNAVAILABLE_LAST,
                "refuse", "allow")
VSPAN_ENUM_IMPL(VspanClassifier, classifier, VSPAN_CLASSIFIER_LAST,
                "auto", "matchall", "u32")
VSPAN_ENUM_IMPL(VspanQdiscState, qdisc_state, VSPAN_QDISC_STATE_LAST,
                "unknown", "none", "clsact", "ingress")
