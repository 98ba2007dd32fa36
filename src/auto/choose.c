/* verto auto's decisions: the winner (on dev only), the search grid, the
 * epochs that fit, the windows a long text needs. */
#include <math.h>

#include "verto/auto.h"

const char *vt_auto_state_name(vt_auto_state s) {
    switch (s) {
    case VT_AUTO_DONE: return "done";
    case VT_AUTO_SKIPPED: return "skipped";
    case VT_AUTO_STOPPED: return "stopped";
    case VT_AUTO_FAILED: return "failed";
    }
    return "?";
}

/* Whether a beats b on dev: accuracy first, macro F1 on a tie. */
static bool better_on_dev(const vt_auto_scores *a, const vt_auto_scores *b) {
    if (a->accuracy != b->accuracy) return a->accuracy > b->accuracy;
    return a->macro_f1 > b->macro_f1;
}

int vt_auto_choose(const vt_auto_candidate *c, int n) {
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (c[i].state != VT_AUTO_DONE || !c[i].dev.present) continue;
        /* strictly better only: the earlier (cheaper; the baseline first) wins ties */
        if (best < 0 || better_on_dev(&c[i].dev, &c[best].dev)) best = i;
    }
    return best;
}

int32_t vt_auto_windows(double tokens, int32_t max_len, int32_t max_windows) {
    if (max_len <= 2 || max_windows < 1 || !(tokens > max_len)) return 1;
    double w = ceil((tokens - 2) / (double)(max_len - 2));
    return w >= max_windows ? max_windows : (int32_t)w;
}

int vt_auto_grid(bool from_scratch, double *lr, int64_t *epochs, int max_n) {
    /* A published encoder fine-tunes well at 2e-5 .. 1e-4 (BERT's paper
     * searched 2e-5 .. 5e-5); a small model pretrained briefly here needs
     * larger steps (the spam demo's 2e-4). Most promising first, so a short
     * budget runs the best guess. */
    static const double PUB_LR[] = {5e-5, 1e-4, 2e-5, 5e-5};
    static const int64_t PUB_EP[] = {3, 3, 4, 5};
    static const double SCR_LR[] = {2e-4, 5e-4, 1e-4, 2e-4};
    static const int64_t SCR_EP[] = {3, 3, 4, 5};
    int n = 0;
    for (; n < max_n && n < 4; n++) {
        lr[n] = from_scratch ? SCR_LR[n] : PUB_LR[n];
        epochs[n] = from_scratch ? SCR_EP[n] : PUB_EP[n];
    }
    return n;
}

int64_t vt_auto_fit_epochs(int64_t planned, double epoch_s, double left_s) {
    if (!(epoch_s > 0) || !isfinite(epoch_s) || !(left_s > 0)) return 0;
    double fit = floor(left_s / epoch_s);
    return fit >= (double)planned ? planned : (int64_t)fit;
}
