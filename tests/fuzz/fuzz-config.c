/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: the host config (/etc/vspan/vspan.xml). */
#include "fuzz-common.h"
#include "vspan-config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanConfig) config = NULL;

    vspan_fuzz_init();
    config = vspan_config_parse((const char *)data, size, "fuzz.xml", &error);
    g_assert_true((config == NULL) != (error == NULL));
    if (error)
        vspan_fuzz_check_message(error->message);
    return 0;
}
