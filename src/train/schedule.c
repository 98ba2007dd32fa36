/* Learning-rate schedules, as transformers builds them for LambdaLR: the
 * update with 0-based index s uses learning_rate * f(s). */
#include "train/optim_internal.h"

/* get_linear_schedule_with_warmup:
 *   s < warmup: s / max(1, warmup)
 *   otherwise:  max(0, (total - s) / max(1, total - warmup)) */
double vt_schedule_factor_f64(const vt_optimizer_config *cfg, int64_t step) {
    if (!cfg || cfg->schedule != VT_SCHED_LINEAR_WARMUP_DECAY) return 1.0;
    if (step < 0) step = 0;
    int64_t warm = cfg->warmup_steps, total = cfg->total_steps;
    if (step < warm) return (double)step / (double)(warm > 1 ? warm : 1);
    int64_t span = total - warm;
    double f = (double)(total - step) / (double)(span > 1 ? span : 1);
    return f > 0.0 ? f : 0.0;
}

float vt_schedule_factor(const vt_optimizer_config *cfg, int64_t step) {
    return (float)vt_schedule_factor_f64(cfg, step);
}
