/* DP-SGD for any fine-tuning run (see verto/task.h: the dp_ options): what
 * every task refuses to keep the guarantee, the DP-SGD options for the
 * run's examples and steps (the noise solved for a budget), and the line that
 * states the guarantee. The tasks differ only in what one example is. */
#include <math.h>
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
    *dp = (vt_dp_options){.noise_multiplier = o->dp_noise_multiplier, .max_grad_norm = o->dp_max_grad_norm,
                          .expected_batch = logical < examples ? logical : examples, .examples = examples,
                          .sampling = (vt_dp_sampling)o->dp_sampling, .seed = o->seed,
                          .delta = o->dp_delta > 0 ? o->dp_delta : pow((double)examples, -1.1),
                          .micro_batch = accum > 1 ? o->batch_size : 0, .example_unit = unit};
    bool ranks = vt_dist_size() > 1;
    vt_status st = VT_OK;
    if (o->dp_epsilon > 0) /* the noise that spends at most dp_epsilon over the run's steps */
        st = vt_privacy_noise_multiplier(o->dp_epsilon, dp->delta, vt_dp_sample_rate(dp), to->steps, 0.01,
                                         &dp->noise_multiplier);
    vt_privacy_spent budget = {.epsilon = NAN};
    if (st == VT_OK) st = vt_dp_epsilon(dp, to->steps, &budget);
    if (st != VT_OK) return st;
    to->dp = dp;
    to->get_example = get;
    if (o->log && vt_dist_rank() == 0)
        fprintf(o->log,
                "DP-SGD: noise multiplier %g, clipping bound %g, %s sampling at rate %.6g (expected batch %lld of %lld "
                "examples, %s each%s%s), %lld steps: (epsilon %.4g, delta %.3g) for the whole run (privacy.json)\n",
                dp->noise_multiplier, dp->max_grad_norm, dp->sampling == VT_DP_POISSON ? "Poisson" : "shuffled",
                vt_dp_sample_rate(dp), (long long)dp->expected_batch, (long long)examples, unit,
                accum > 1 ? ", run in micro-batches of --batch-size" : "", ranks ? ", shared by the ranks" : "",
                (long long)to->steps, budget.epsilon,
                dp->delta);
    return VT_OK;
}
