/* Optimizer configuration: Keras-like named defaults and the checks every
 * config passes before an optimizer is built. */
#include <math.h>
#include <string.h>

#include "train/optim_internal.h"

vt_status vt_optimizer_config_default(const char *name, vt_optimizer_config *out) {
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "vt_optimizer_config_default: no output config given");
    if (!name) return vt_error(VT_ERR_INVALID_ARG, "vt_optimizer_config_default: no optimizer name given");
    /* Fields the rule does not use stay at Adam's values, so that switching
     * `kind` afterwards gives a sensible config. */
    vt_optimizer_config c = {
        .learning_rate = 0.001f, .beta1 = 0.9f, .beta2 = 0.999f, .epsilon = 1e-7f,
        .schedule = VT_SCHED_CONSTANT,
    };
    if (!strcmp(name, "sgd")) {
        c.kind = VT_OPT_SGD;
        c.learning_rate = 0.01f;
    } else if (!strcmp(name, "adam")) {
        c.kind = VT_OPT_ADAM;
    } else if (!strcmp(name, "adamw")) {
        c.kind = VT_OPT_ADAMW;
        c.weight_decay = 0.004f;
    } else {
        return vt_error(VT_ERR_INVALID_ARG, "unknown optimizer '%s' (expected sgd, adam or adamw)", name);
    }
    *out = c;
    return VT_OK;
}

static bool finite_nonneg(float x) { return isfinite(x) && x >= 0.0f; }

vt_status vt_optim_check_config(const vt_optimizer_config *c) {
    if (!c) return vt_error(VT_ERR_INVALID_ARG, "optimizer: no config given");
    if ((unsigned)c->kind > VT_OPT_ADAMW)
        return vt_error(VT_ERR_INVALID_ARG, "optimizer: unknown kind %d", (int)c->kind);
    if (!finite_nonneg(c->learning_rate))
        return vt_error(VT_ERR_INVALID_ARG, "optimizer: learning_rate must be finite and >= 0 (got %g)",
                        (double)c->learning_rate);
    if (c->kind == VT_OPT_SGD) {
        if (!(c->momentum >= 0.0f && c->momentum < 1.0f))
            return vt_error(VT_ERR_INVALID_ARG, "optimizer sgd: momentum must be in [0, 1) (got %g)",
                            (double)c->momentum);
    } else {
        if (c->momentum != 0.0f)
            return vt_error(VT_ERR_INVALID_ARG, "optimizer adam/adamw: momentum is an sgd setting, must be 0 (got %g)",
                            (double)c->momentum);
        if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f))
            return vt_error(VT_ERR_INVALID_ARG, "optimizer: beta1 must be in [0, 1) (got %g)", (double)c->beta1);
        if (!(c->beta2 >= 0.0f && c->beta2 < 1.0f))
            return vt_error(VT_ERR_INVALID_ARG, "optimizer: beta2 must be in [0, 1) (got %g)", (double)c->beta2);
        if (!(isfinite(c->epsilon) && c->epsilon > 0.0f))
            return vt_error(VT_ERR_INVALID_ARG, "optimizer: epsilon must be finite and > 0 (got %g)",
                            (double)c->epsilon);
    }
    if (!finite_nonneg(c->weight_decay))
        return vt_error(VT_ERR_INVALID_ARG, "optimizer: weight_decay must be finite and >= 0 (got %g)",
                        (double)c->weight_decay);
    if (c->kind != VT_OPT_ADAMW && c->weight_decay != 0.0f)
        return vt_error(VT_ERR_INVALID_ARG,
                        "optimizer: weight_decay %g is only applied by adamw (decoupled); use adamw or set it to 0",
                        (double)c->weight_decay);
    if (c->n_no_decay > 0 && !c->no_decay)
        return vt_error(VT_ERR_INVALID_ARG, "optimizer: n_no_decay is %zu but no_decay is NULL", c->n_no_decay);
    for (size_t i = 0; i < c->n_no_decay; i++)
        if (!c->no_decay[i] || !c->no_decay[i][0])
            return vt_error(VT_ERR_INVALID_ARG, "optimizer: no_decay[%zu] is NULL or empty", i);
    if (!finite_nonneg(c->clip_norm))
        return vt_error(VT_ERR_INVALID_ARG, "optimizer: clip_norm must be finite and >= 0 (0: off; got %g)",
                        (double)c->clip_norm);
    switch (c->schedule) {
    case VT_SCHED_CONSTANT:
        if (c->warmup_steps != 0)
            return vt_error(VT_ERR_INVALID_ARG,
                            "optimizer: warmup_steps %lld needs the linear warmup/decay schedule (constant has none)",
                            (long long)c->warmup_steps);
        if (c->total_steps < 0)
            return vt_error(VT_ERR_INVALID_ARG, "optimizer: total_steps must be >= 0 (got %lld)",
                            (long long)c->total_steps);
        break;
    case VT_SCHED_LINEAR_WARMUP_DECAY:
        if (c->total_steps < 1)
            return vt_error(VT_ERR_INVALID_ARG, "optimizer: linear schedule needs total_steps >= 1 (got %lld)",
                            (long long)c->total_steps);
        if (c->warmup_steps < 0 || c->warmup_steps > c->total_steps)
            return vt_error(VT_ERR_INVALID_ARG, "optimizer: warmup_steps %lld must be in [0, total_steps %lld]",
                            (long long)c->warmup_steps, (long long)c->total_steps);
        break;
    default:
        return vt_error(VT_ERR_INVALID_ARG, "optimizer: unknown schedule %d", (int)c->schedule);
    }
    return VT_OK;
}
