/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>

#include "vspan-plan.h"

/* Every value has a distinct name that maps back to it; the sentinel and
 * unknown strings map to nothing. */
#define CHECK_TABLE(name, last) \
    do { \
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal); \
        for (int i = 0; i < (int)(last); i++) { \
            const char *s = vspan_##name##_to_string(i); \
            g_assert_nonnull(s); \
            g_assert_cmpint(vspan_##name##_from_string(s), ==, i); \
            g_assert_false(g_hash_table_contains(seen, s)); \
            g_hash_table_add(seen, (gpointer)s); \
        } \
        g_assert_null(vspan_##name##_to_string(last)); \
        g_assert_null(vspan_##name##_to_string(-1)); \
        g_assert_cmpint(vspan_##name##_from_string("no-such-value"), ==, -1); \
        g_assert_cmpint(vspan_##name##_from_string(NULL), ==, -1); \
        g_assert_cmpint(vspan_##name##_from_string(""), ==, -1); \
    } while (0)

static void
test_round_trip(void)
{
    CHECK_TABLE(phase, VSPAN_PHASE_LAST);
    CHECK_TABLE(direction, VSPAN_DIRECTION_LAST);
    CHECK_TABLE(hook, VSPAN_HOOK_LAST);
    CHECK_TABLE(iface_type, VSPAN_IFACE_TYPE_LAST);
    CHECK_TABLE(sink_type, VSPAN_SINK_LAST);
    CHECK_TABLE(trust_policy, VSPAN_TRUST_POLICY_LAST);
    CHECK_TABLE(vlan_proto, VSPAN_VLAN_PROTO_LAST);
    CHECK_TABLE(link_state, VSPAN_LINK_STATE_LAST);
    CHECK_TABLE(switch, VSPAN_SWITCH_LAST);
    CHECK_TABLE(agent_unavailable, VSPAN_AGENT_UNAVAILABLE_LAST);
    CHECK_TABLE(classifier, VSPAN_CLASSIFIER_LAST);
    CHECK_TABLE(qdisc_state, VSPAN_QDISC_STATE_LAST);
    CHECK_TABLE(op_type, VSPAN_OP_LAST);
}

static void
test_user_visible_names(void)
{
    /* These strings are DESIGN.md's contract: libvirt passes the phases,
     * users write the rest. */
    g_assert_cmpstr(vspan_phase_to_string(VSPAN_PHASE_PREPARE), ==, "prepare");
    g_assert_cmpstr(vspan_phase_to_string(VSPAN_PHASE_RECONNECT), ==, "reconnect");
    g_assert_cmpstr(vspan_direction_to_string(VSPAN_DIRECTION_FROM_VM), ==, "from-vm");
    g_assert_cmpstr(vspan_vlan_proto_to_string(VSPAN_VLAN_PROTO_8021AD), ==, "802.1ad");
    g_assert_cmpint(vspan_link_state_from_string("disable"), ==, VSPAN_LINK_STATE_DISABLE);
    g_assert_cmpint(vspan_trust_policy_from_string("appliances"), ==, VSPAN_TRUST_POLICY_APPLIANCES);
    /* case matters: "802.1q" is not a value */
    g_assert_cmpint(vspan_vlan_proto_from_string("802.1q"), ==, -1);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/enums/round-trip", test_round_trip);
    g_test_add_func("/enums/user-visible-names", test_user_visible_names);
    return g_test_run();
}
