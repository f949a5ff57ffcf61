/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: live domain XML and the <vspan:domain> annotation. */
#include "fuzz-common.h"
#include "vspan-domain.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VspanDomain) dom = NULL;

    vspan_fuzz_init();
    dom = vspan_domain_parse((const char *)data, size, "fuzz.xml", &error);
    /* exactly one of the two, and a message that is one line */
    g_assert_true((dom == NULL) != (error == NULL));
    if (error)
        vspan_fuzz_check_message(error->message);
    return 0;
}
