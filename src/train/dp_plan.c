/* A DP-SGD run's options from what the user asked for (see verto/dp.h:
 * vt_dp_plan), shared by fine-tuning and pretraining. */
#include <math.h>
#include <stdio.h>

#include "verto/dist.h"
#include "verto/dp.h"

vt_status vt_dp_plan(const vt_dp_request *r, int64_t examples, int64_t logical_batch, int64_t micro_batch,
                     int64_t steps, uint64_t seed, const char *unit, const char *covers, vt_dp_options *dp,
                     vt_privacy_spent *spent) {
    if (!r || !dp || !spent || examples < 1 || logical_batch < 1 || steps < 0)
        return vt_error(VT_ERR_INVALID_ARG, "vt_dp_plan: a request, examples, a batch and steps are needed");
    *dp = (vt_dp_options){.noise_multiplier = r->noise_multiplier, .max_grad_norm = r->max_grad_norm,
                          .expected_batch = logical_batch < examples ? logical_batch : examples, .examples = examples,
                          .sampling = r->sampling, .seed = seed,
                          .delta = r->delta > 0 ? r->delta : pow((double)examples, -1.1),
                          .micro_batch = micro_batch, .example_unit = unit, .covers = covers, .exact = r->exact};
    vt_status st = VT_OK;
    if (r->epsilon > 0) /* the noise that spends at most epsilon over the run's steps */
        st = vt_privacy_noise_multiplier(r->epsilon, dp->delta, vt_dp_sample_rate(dp), steps, 0.01,
                                         &dp->noise_multiplier);
    *spent = (vt_privacy_spent){.epsilon = NAN};
    if (st == VT_OK) st = vt_dp_epsilon(dp, steps, spent);
    return st;
}

void vt_dp_describe(const vt_dp_options *dp, int64_t steps, const vt_privacy_spent *spent, char *buf, size_t size) {
    snprintf(buf, size,
             "DP-SGD: noise multiplier %g, clipping bound %g, %s sampling at rate %.6g (expected batch %lld of %lld "
             "examples, %s each%s%s), %lld steps: (epsilon %.4g, delta %.3g) for the whole run (privacy.json)",
             dp->noise_multiplier, dp->max_grad_norm, dp->sampling == VT_DP_POISSON ? "Poisson" : "shuffled",
             vt_dp_sample_rate(dp), (long long)dp->expected_batch, (long long)dp->examples,
             dp->example_unit ? dp->example_unit : "one training row",
             dp->micro_batch > 0 ? ", run in micro-batches of --batch-size" : "",
             vt_dist_size() > 1 ? ", shared by the ranks" : "", (long long)steps, spent->epsilon, dp->delta);
}
