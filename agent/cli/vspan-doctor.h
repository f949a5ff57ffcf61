/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-config.h"

typedef enum {
    VSPAN_DOCTOR_OK,
    VSPAN_DOCTOR_WARN,
    VSPAN_DOCTOR_FAIL,
    VSPAN_DOCTOR_INFO,
    VSPAN_DOCTOR_LAST
} VspanDoctorLevel;
VSPAN_ENUM_DECL(VspanDoctorLevel, doctor_level);

/* Preflight: kernel tc/tun/vxlan (probed in a private netns when root),
 * IOMMU, every configured PF, libvirt, the hook, vspand.  Appends text or
 * JSON to @out; returns 1 when any check failed. */
int vspan_doctor_run(const VspanConfig *config, const char *hookdir, gboolean json, GString *out);
