/* The DP-SGD options' checks (see dp_args.h). */
#include <stdio.h>
#include <string.h>

#include "cli/dp_args.h"
#include "cli/commands.h"

int cli_dp_request(vt_dp_request *r, const char *sampling, bool others_given) {
    bool budget = r->epsilon > 0, noise = r->noise_multiplier >= 0 || budget, clip = r->max_grad_norm > 0;
    if (!noise && !clip) {
        if (sampling || others_given || r->delta > 0 || r->exact)
            return cli_fail("--dp-sampling, --dp-delta, --dp-exact and --dp-dev-public need --dp-noise-multiplier (or "
                            "--dp-epsilon) and --dp-max-grad-norm");
        r->noise_multiplier = 0;
        return 0;
    }
    if (budget && r->noise_multiplier >= 0)
        return cli_fail("give --dp-epsilon (the noise is solved for it) or --dp-noise-multiplier, not both");
    if (!noise || !clip)
        return cli_fail("DP-SGD needs both --dp-noise-multiplier S (or --dp-epsilon E) and --dp-max-grad-norm C");
    if (budget) r->noise_multiplier = 0; /* (solved for the run's steps) */
    if (!sampling || !strcmp(sampling, "poisson")) r->sampling = VT_DP_POISSON;
    else if (!strcmp(sampling, "shuffle")) {
        r->sampling = VT_DP_SHUFFLE;
        fprintf(stderr, "warning: --dp-sampling shuffle: fixed-size shuffled batches; the privacy guarantee, computed for "
                        "Poisson sampling, does not hold as stated\n");
    } else return cli_fail("--dp-sampling takes poisson or shuffle, not '%s'", sampling);
    return 0;
}

int cli_dp_options(vt_finetune_options *ft, vt_dp_request *dp, const char *sampling) {
    if (cli_dp_request(dp, sampling, ft->dp_dev_public)) return 1;
    ft->dp_noise_multiplier = dp->noise_multiplier;
    ft->dp_max_grad_norm = dp->max_grad_norm;
    ft->dp_epsilon = dp->epsilon;
    ft->dp_delta = dp->delta;
    ft->dp_sampling = dp->sampling;
    ft->dp_exact = dp->exact;
    return 0;
}
