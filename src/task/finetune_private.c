/* DP-SGD for any fine-tuning run (see verto/task.h: the dp_ options): what
 * every task refuses to keep the guarantee, the DP-SGD options for the
 * run's examples and steps (the noise solved for a budget), and the line that
 * states the guarantee. The tasks differ only in what one example is. */
#include <stdio.h>

#include "task/task_internal.h"
#include "verto/dist.h"
#include "verto/privacy.h"

vt_status task_private_check(const vt_finetune_options *o) {
    if (o->dp_max_grad_norm <= 0) return VT_OK;
    if (o->zero1 && vt_dist_size() > 1)
        return vt_error(VT_ERR_INVALID_ARG, "DP-SGD with --zero1 is not available (every rank holds the whole private "
                                            "gradient)");
    if (o->balanced_class_weights)
        return vt_error(VT_ERR_INVALID_ARG, "DP-SGD with class weights is refused: the weights are counted on the private "
                                            "training labels, outside the guarantee");
    if (!o->dp_dev_public)
        return vt_error(VT_ERR_INVALID_ARG, "DP-SGD: the dev set picks the best epoch, which leaks it and is outside the "
                                            "guarantee; state that the dev set is not private data (--dp-dev-public) "
                                            "or do not train on private data with a private dev set");
    return VT_OK;
}

vt_status task_private_setup(const vt_finetune_options *o, int64_t examples, const char *unit,
                             vt_dp_get_example_fn get, vt_dp_options *dp, vt_trainer_options *to) {
    if (o->dp_max_grad_norm <= 0) return VT_OK;
    /* the logical batch: every rank's share of the sample, each run in micro-batches of batch_size */
    int64_t accum = task_grad_accum(o), logical = o->batch_size * accum * vt_dist_size();
    vt_dp_request r = {.noise_multiplier = o->dp_noise_multiplier, .max_grad_norm = o->dp_max_grad_norm,
                       .epsilon = o->dp_epsilon, .delta = o->dp_delta, .sampling = (vt_dp_sampling)o->dp_sampling,
                       .exact = o->dp_exact};
    vt_privacy_spent budget;
    vt_status st = vt_dp_plan(&r, examples, logical, accum > 1 ? o->batch_size : 0, to->steps, o->seed, unit, NULL, dp,
                              &budget);
    if (st != VT_OK) return st;
    to->dp = dp;
    to->get_example = get;
    if (o->log && vt_dist_rank() == 0) {
        char line[512];
        vt_dp_describe(dp, to->steps, &budget, line, sizeof line);
        fprintf(o->log, "%s\n", line);
    }
    return VT_OK;
}
