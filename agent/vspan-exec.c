/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-exec"

#include "vspan-exec.h"

void
vspan_backend_free(VspanBackend *backend)
{
    if (backend)
        backend->klass->free(backend);
}

gboolean
vspan_exec_apply(VspanBackend *b, const VspanPlan *plan, GError **error)
{
    if (vspan_plan_refuses(plan)) {
        g_set_error_literal(error, VSPAN_ERROR, VSPAN_ERROR_REFUSED, plan->errors->pdata[0]);
        return FALSE;
    }
    for (guint i = 0; i < plan->ops->len; i++) {
        const VspanOp *op = plan->ops->pdata[i];
        gboolean ok = TRUE;

        switch (op->type) {
        case VSPAN_OP_SINK_ENSURE:
            ok = b->klass->sink_ensure(b, op->appliance, op->dev, error);
            break;
        case VSPAN_OP_QDISC_ENSURE:
            ok = b->klass->qdisc_ensure(b, op->dev, error);
            break;
        case VSPAN_OP_MIRROR_SET:
            ok = b->klass->mirror_set(b, op->dev, op->hook, op->classifier,
                                      (const char *const *)op->sinks, error);
            break;
        case VSPAN_OP_MIRROR_DEL:
            ok = b->klass->mirror_del(b, op->dev, op->hook, error);
            break;
        case VSPAN_OP_MIRROR_FORGET:
            break;  /* state only: the agent drops the domain's records */
        case VSPAN_OP_VF_SET:
        case VSPAN_OP_VF_RESET: {
            gboolean (*fn)(VspanBackend *, const VspanOp *, GError **) =
                op->type == VSPAN_OP_VF_SET ? b->klass->vf_set : b->klass->vf_reset;
            if (!fn) {
                g_set_error(error, VSPAN_ERROR, VSPAN_ERROR_KERNEL,
                            "Cannot configure VF %u of '%s': this backend has no SR-IOV support",
                            op->vf, op->dev);
                ok = FALSE;
            } else {
                ok = fn(b, op, error);
            }
            break;
        }
        case VSPAN_OP_LAST:
            g_assert_not_reached();
        }
        if (!ok)
            return FALSE;
    }
    return TRUE;
}
