/* verto auto's decisions and report: which recipes a budget allows, which
 * candidate wins (on dev only), and the report of what was tried.
 *
 * The running itself (each recipe a child process of the verto CLI, killed
 * at the budget's end) is the CLI's (src/cli/auto_*.c); this layer holds what
 * can be decided and checked without running anything:
 *   - the learning-rate/epoch grid of a fine-tuning search and the epochs
 *     that fit the time left (vt_auto_grid, vt_auto_fit_epochs);
 *   - the windows a long text needs (vt_auto_windows);
 *   - the choice: the best dev accuracy among finished candidates, dev macro
 *     F1 on a tie, then the earlier candidate (the baseline runs first, so it
 *     wins ties). Test figures are never read by it;
 *   - the report: OUT/report.json, report.md, report.html and
 *     dev-accuracy.svg (plot.h), every figure taken from the evaluation JSON
 *     the candidate's `verto eval --json` printed (kept verbatim in
 *     report.json). docs/auto.md has the details. */
#ifndef VERTO_AUTO_H
#define VERTO_AUTO_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_auto_state {
    VT_AUTO_DONE = 0, /* trained and evaluated on dev */
    VT_AUTO_SKIPPED,  /* not started: the data or the time left did not allow it (note says which) */
    VT_AUTO_STOPPED,  /* stopped at the budget's end before it had a model */
    VT_AUTO_FAILED,   /* its command failed (note holds its last error line) */
} vt_auto_state;

VT_API const char *vt_auto_state_name(vt_auto_state s);

/* One evaluation: `verto eval --json`'s object for a single-label model. */
typedef struct vt_auto_scores {
    bool present;
    double accuracy, macro_f1;
    int64_t n;
    char *json; /* the eval's JSON text (malloc'd), the source of the figures above */
} vt_auto_scores;

/* Parses eval's JSON output s[0..len) into *out (which owns a copy of the
 * text). VT_ERR_FORMAT naming `where` when it is not a JSON object with
 * finite "accuracy" and "macro_f1" and an integer "n". */
VT_API vt_status vt_auto_scores_parse(const char *s, size_t len, const char *where, vt_auto_scores *out);

typedef struct vt_auto_candidate {
    char name[48];      /* short, unique: "baseline", "finetune-lr5e-05-ep3", ... */
    char recipe[640];   /* what it is, in words */
    vt_auto_state state;
    char note[640];     /* why skipped, stopped or failed; or a remark */
    double start_s;     /* when it started, seconds since auto started */
    double seconds;     /* wall time it took (training and dev evaluation) */
    char *model_dir;    /* malloc'd; NULL when it has none */
    vt_auto_scores dev;
    vt_auto_scores test; /* only ever for the chosen candidate and the baseline, after choosing */
    int64_t n_curve;    /* dev accuracy over time: (seconds since auto started, accuracy) */
    double *curve_t, *curve_acc;
} vt_auto_candidate;

VT_API void vt_auto_candidate_free(vt_auto_candidate *c);

/* Appends a point to c's dev-accuracy curve. */
VT_API vt_status vt_auto_curve_add(vt_auto_candidate *c, double t, double acc);

/* Adds the dev_accuracy of every evaluation line of a training run's
 * metrics.jsonl (metrics_log.h) to c's curve, at offset_s + the line's
 * elapsed_s. A missing file adds nothing; a malformed one is an error. */
VT_API vt_status vt_auto_curve_from_metrics(vt_auto_candidate *c, const char *metrics_path, double offset_s);

/* The winner among c[0..n): DONE candidates with dev scores only, the best
 * dev macro F1, then the best dev accuracy, then the earliest. -1 when none
 * finished. c[i].test is never looked at. */
VT_API int vt_auto_choose(const vt_auto_candidate *c, int n);

/* Windows of max_len tokens (2 of them special) that a text of `tokens`
 * tokens needs, at most max_windows (and at least 1). */
VT_API int32_t vt_auto_windows(double tokens, int32_t max_len, int32_t max_windows);

/* The fine-tuning search: up to max_n (learning rate, epochs) pairs, the
 * most promising first. A model pretrained here from scratch is small and
 * takes larger rates than a published one (--init). Returns how many. */
VT_API int vt_auto_grid(bool from_scratch, double *lr, int64_t *epochs, int max_n);

/* The epochs (at most `planned`) whose estimated time, epoch_s each, fits in
 * left_s; 0 when not even one does (or epoch_s is not a positive number). */
VT_API int64_t vt_auto_fit_epochs(int64_t planned, double epoch_s, double left_s);

/* When the search ends with left_s seconds left: the share of them to spend
 * on more pretraining of the base, so that a fine-tuning of about
 * finetune_s seconds still fits after it (a margin of 1.25 on it, and room
 * for the pretraining run to overrun its share by 1.25 before it is
 * stopped). 0 when that leaves less than min_s seconds of pretraining. */
VT_API double vt_auto_more_pretraining_share(double left_s, double finetune_s, double min_s);

/* The epochs a candidate is planned with: `planned`, or more when the
 * training set is so small that `planned` epochs of n_train examples in
 * batches of `batch` make fewer than min_steps optimizer steps (a few dozen
 * steps leave a classifier at the majority class); at most max_epochs. */
VT_API int64_t vt_auto_epochs_for(int64_t planned, size_t n_train, int batch, int64_t min_steps, int64_t max_epochs);

/* After the grid, while time is left: the next setting around the best one
 * so far (best_lr, best_epochs) not in tried_lr/tried_epochs[0..n_tried):
 * twice the rate, half the rate, then twice the epochs (at most
 * max_epochs), in that order. Returns false when all of them were tried. */
VT_API bool vt_auto_next_setting(double best_lr, int64_t best_epochs, const double *tried_lr,
                                 const int64_t *tried_epochs, int n_tried, int64_t max_epochs, double *lr,
                                 int64_t *epochs);

typedef struct vt_auto_report {
    const char *train, *dev, *test; /* the files (test may be NULL) */
    const char *init;               /* NULL: none given */
    double budget_s, total_s;       /* the budget and the wall time used */
    const vt_auto_candidate *c;     /* (n) in the order run */
    int n;
    int chosen;                     /* index into c, or -1 */
    const char *const *notes;       /* (n_notes) lines about the run: why only the baseline, what was left out */
    int n_notes;
} vt_auto_report;

/* Writes out_dir/report.json, report.md, report.html and dev-accuracy.svg,
 * each atomically. The tables list every candidate (state, dev accuracy and
 * macro F1, seconds, note); test figures appear only for the chosen one and
 * the baseline, marked as not used for choosing. */
VT_API vt_status vt_auto_write_report(const vt_auto_report *r, const char *out_dir);

#ifdef __cplusplus
}
#endif
#endif
