/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hook's decision when vspand does not answer, in a module that
 * vspan-hook loads only then: parsing XML pulls in libxml2 (and ICU) and
 * GIO, which would triple the cost of every VM start if the hook linked
 * them (docs/performance.md).
 */
#include <stdio.h>

#include "vspan-build-config.h"
#include "vspan-hook-fallback.h"
#include "vspan-plan.h"

int
vspan_hook_fallback(int phase, const char *xml, gsize len, const char *why)
{
    const char *config_path = g_getenv("VSPAN_CONFIG");
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanConfig) config = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanObserved) obs = vspan_observed_new();
    g_autoptr(VspanPlan) plan = NULL;

    if (!vspan_phase_refusable(phase))
        return 0;   /* stop, release, reconnect: never fail */
    if (!config_path || !*config_path)
        config_path = VSPAN_DEFAULT_CONFIG;
    config = g_file_test(config_path, G_FILE_TEST_EXISTS) ? vspan_config_load(config_path, &error)
                                                          : vspan_config_new_empty(config_path);
    if (config)
        dom = vspan_domain_parse(xml, len, "domain XML", &error);
    if (!dom) {
        fprintf(stderr, "vspan: %s, and the domain cannot be checked without it: %s\n", why, error->message);
        return 1;
    }
    plan = vspan_plan_build(VSPAN_PHASE_PREPARE, dom, config, obs);
    if (!plan->needs_agent)
        return 0;   /* nothing for vspan to do: start as usual */
    if (config->on_agent_unavailable == VSPAN_AGENT_UNAVAILABLE_ALLOW) {
        fprintf(stderr, "vspan: %s; domain '%s' starts unmonitored (on-agent-unavailable=\"allow\")\n",
                why, dom->name);
        return 0;
    }
    fprintf(stderr, "vspan: %s, and domain '%s' needs it; start vspand or set <hook on-agent-unavailable=\"allow\"/> in %s\n",
            why, dom->name, config_path);
    return 1;
}
