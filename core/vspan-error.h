/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#define VSPAN_ERROR (vspan_error_quark())
GQuark vspan_error_quark(void);

typedef enum {
    VSPAN_ERROR_INVALID,      /* malformed input: XML, attribute values */
    VSPAN_ERROR_REFUSED,      /* valid input that host policy does not allow */
    VSPAN_ERROR_IO,           /* reading files, sockets */
    VSPAN_ERROR_KERNEL,       /* netlink refused a request */
    VSPAN_ERROR_NOT_FOUND,    /* a device, domain or appliance is missing */
    VSPAN_ERROR_VERIFY,       /* read-back differs from what was set */
    VSPAN_ERROR_UNAVAILABLE,  /* the agent is down or timed out */
} VspanErrorCode;
