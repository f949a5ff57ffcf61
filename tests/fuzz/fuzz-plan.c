/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: the planner.  The last byte picks the phase, the rest is a
 * domain XML planned against tests/data/vspan.xml, once against an empty
 * host and once against tests/fuzz/fuzz.observed.xml. */
#include "fuzz-common.h"
#include "vspan-config.h"
#include "vspan-domain.h"
#include "vspan-observed.h"
#include "vspan-plan.h"

static VspanConfig *config;
static VspanObserved *observed;

static void
plan_once(VspanPhase phase, const VspanDomain *dom, const VspanObserved *obs)
{
    g_autoptr(VspanPlan) plan = vspan_plan_build(phase, dom, config, obs);
    g_autofree char *text = NULL;

    /* a refused plan carries no ops; every error is one line */
    if (vspan_plan_refuses(plan))
        g_assert_cmpuint(plan->ops->len, ==, 0);
    for (guint i = 0; i < plan->errors->len; i++)
        vspan_fuzz_check_message(plan->errors->pdata[i]);
    text = vspan_plan_format_json(plan);
    g_assert_true(g_utf8_validate(text, -1, NULL));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanDomain) dom = NULL;
    g_autoptr(VspanObserved) empty = vspan_observed_new();
    VspanPhase phase;

    vspan_fuzz_init();
    if (!config) {
        config = vspan_config_load(VSPAN_FUZZ_DATA "/vspan.xml", &error);
        g_assert_no_error(error);
        observed = vspan_observed_load(VSPAN_FUZZ_DIR "/fuzz.observed.xml", &error);
        g_assert_no_error(error);
    }
    if (size < 1)
        return 0;
    /* the last byte, so that every seed XML still parses */
    phase = data[size - 1] % VSPAN_PHASE_LAST;
    dom = vspan_domain_parse((const char *)data, size - 1, "fuzz.xml", &error);
    if (!dom)
        return 0;
    plan_once(phase, dom, empty);
    plan_once(phase, dom, observed);
    return 0;
}
