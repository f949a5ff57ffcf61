/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "vspan-host.h"
#include "vspan-plan.h"

/* Apply @plan's operations in order through @host.  A refused plan is an
 * error and changes nothing; otherwise the first failure stops the run. */
gboolean vspan_exec_apply(VspanHost *host, const VspanPlan *plan, GError **error);
