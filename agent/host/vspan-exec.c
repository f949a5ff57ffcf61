/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "vspan-exec"

/* The executor: a plan's operations, in order, through a host. */

#include "vspan-exec.h"

gboolean
vspan_exec_apply(VspanHost *b, const VspanPlan *plan, GError **error)
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
            ok = b->klass->qdisc_ensure(b, op->dev, op->qdisc, error);
            break;
        case VSPAN_OP_MIRROR_SET:
            ok = b->klass->mirror_set(b, op->dev, op->hook, op->classifier,
                                      (const char *const *)op->sinks, error);
            break;
        case VSPAN_OP_MIRROR_DEL:
            ok = b->klass->mirror_del(b, op->dev, op->hook, error);
            break;
        case VSPAN_OP_SELECT_SET:
            ok = b->klass->select_set(b, op->dev, op->hook, op->handle, op->sinks[0], op->program,
                                      op->ebpf, error);
            break;
        case VSPAN_OP_SELECT_DEL:
            ok = b->klass->select_del(b, op->dev, op->hook, op->handle, error);
            break;
        case VSPAN_OP_TAG_SET:
            ok = b->klass->tag_set(b, op->dev, op->hook, op->vlan, error);
            break;
        case VSPAN_OP_TAG_DEL:
            ok = b->klass->tag_del(b, op->dev, op->hook, error);
            break;
        case VSPAN_OP_INLINE_SET:
            ok = b->klass->inline_set(b, op->dev, op->appliance, op->mac, error);
            break;
        case VSPAN_OP_INLINE_DEL:
            ok = b->klass->inline_del(b, op->dev, error);
            break;
        case VSPAN_OP_VF_SET:
            ok = b->klass->vf_set(b, op, error);
            break;
        case VSPAN_OP_VF_RESET:
            ok = b->klass->vf_reset(b, op, error);
            break;
        case VSPAN_OP_LAST:
            g_assert_not_reached();
        }
        if (!ok)
            return FALSE;
    }
    return TRUE;
}
