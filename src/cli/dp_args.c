/* The DP-SGD options' checks (see dp_args.h). */
#include <stdio.h>
#include <string.h>

#include "cli/dp_args.h"
#include "cli/commands.h"
#include "verto/dp.h"

int cli_dp_options(vt_finetune_options *ft, const char *sampling) {
    bool budget = ft->dp_epsilon > 0, noise = ft->dp_noise_multiplier >= 0 || budget, clip = ft->dp_max_grad_norm > 0;
    if (!noise && !clip) {
        if (sampling || ft->dp_dev_public || ft->dp_delta > 0)
            return cli_fail("--dp-sampling, --dp-delta and --dp-dev-public need --dp-noise-multiplier (or --dp-epsilon) "
                            "and --dp-max-grad-norm");
        ft->dp_noise_multiplier = 0;
        return 0;
    }
    if (budget && ft->dp_noise_multiplier >= 0)
        return cli_fail("give --dp-epsilon (the noise is solved for it) or --dp-noise-multiplier, not both");
    if (!noise || !clip)
        return cli_fail("DP-SGD needs both --dp-noise-multiplier S (or --dp-epsilon E) and --dp-max-grad-norm C");
    if (budget) ft->dp_noise_multiplier = 0; /* (solved by the fine-tuning) */
    if (!sampling || !strcmp(sampling, "poisson")) ft->dp_sampling = VT_DP_POISSON;
    else if (!strcmp(sampling, "shuffle")) {
        ft->dp_sampling = VT_DP_SHUFFLE;
        fprintf(stderr, "warning: --dp-sampling shuffle: fixed-size shuffled batches; the privacy guarantee, computed for "
                        "Poisson sampling, does not hold as stated\n");
    } else return cli_fail("--dp-sampling takes poisson or shuffle, not '%s'", sampling);
    return 0;
}
