/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vspan-error.h"

G_DEFINE_QUARK(vspan-error-quark, vspan_error)
