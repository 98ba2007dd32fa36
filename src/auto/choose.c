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

/* Whether a beats b on dev: macro F1 first (as fine-tuning picks its epoch;
 * accuracy would prefer a model that always answers the majority class of
 * an unbalanced dev set to one that reads the text), accuracy on a tie. */
static bool better_on_dev(const vt_auto_scores *a, const vt_auto_scores *b) {
    if (a->macro_f1 != b->macro_f1) return a->macro_f1 > b->macro_f1;
    return a->accuracy > b->accuracy;
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

double vt_auto_more_pretraining_share(double left_s, double finetune_s, double min_s) {
    if (!(left_s > 0) || !(finetune_s >= 0) || !isfinite(left_s) || !isfinite(finetune_s)) return 0;
    /* 1.25 x pretraining (its stop) + 1.25 x finetune_s = left_s */
    double pretrain_s = 0.8 * (left_s - 1.25 * finetune_s);
    return pretrain_s >= min_s && pretrain_s > 0 ? pretrain_s / left_s : 0;
}

int64_t vt_auto_epochs_for(int64_t planned, size_t n_train, int batch, int64_t min_steps, int64_t max_epochs) {
    if (!n_train || batch < 1) return planned;
    int64_t per_epoch = (int64_t)((n_train + (size_t)batch - 1) / (size_t)batch);
    int64_t need = (min_steps + per_epoch - 1) / per_epoch;
    if (need <= planned) return planned;
    return need < max_epochs ? need : (max_epochs > planned ? max_epochs : planned);
}

static bool tried(double lr, int64_t epochs, const double *tried_lr, const int64_t *tried_epochs, int n) {
    for (int i = 0; i < n; i++)
        if (tried_epochs[i] == epochs && fabs(tried_lr[i] - lr) <= 1e-9 * fabs(lr)) return true;
    return false;
}

bool vt_auto_next_setting(double best_lr, int64_t best_epochs, const double *tried_lr, const int64_t *tried_epochs,
                          int n_tried, int64_t max_epochs, double *lr, int64_t *epochs) {
    int64_t more = 2 * best_epochs < max_epochs ? 2 * best_epochs : max_epochs;
    const double next_lr[] = {2 * best_lr, best_lr / 2, best_lr};
    const int64_t next_epochs[] = {best_epochs, best_epochs, more};
    for (int i = 0; i < 3; i++) {
        if (tried(next_lr[i], next_epochs[i], tried_lr, tried_epochs, n_tried)) continue;
        *lr = next_lr[i];
        *epochs = next_epochs[i];
        return true;
    }
    return false;
}
