/* Differentially private SGD steps (DP-SGD, Abadi et al. 2016).
 *
 * One step: a batch is drawn from the n private training examples (Poisson
 * sampling: each joins independently with probability q = B / n, so its size
 * varies and may be 0; or, only when asked, a fixed-size batch of a seeded
 * per-epoch shuffle, which the usual accounting does not cover). Every
 * example's gradient over all trainable parameters is clipped to L2 norm C as
 * Opacus does (scaled by min(1, C / (norm + 1e-6))), and summed: for a
 * sequence or token classifier, or masked-LM pretraining (with or without
 * next sentence; every parameter trainable), by default the fast way (one forward of the batch, one
 * backward that yields every example's norm without its gradient and keeps
 * each layer's output gradient, then each layer's clipped gradient formed
 * from the kept rows scaled by their example's factor; see `exact` and
 * `fast_method`), otherwise each example's
 * gradient alone (one forward and backward on a batch of 1); Gaussian noise
 * N(0, S^2 C^2) is added to every trainable coordinate (seeded by the run's
 * seed and the step, so a step is reproducible); the result is divided by the
 * expected batch size B and left in the model's gradient buffer for the
 * optimizer (which must not clip it again).
 *
 * Each finished step is reported to vt_dp_options.on_step (noise multiplier,
 * sample rate, steps so far); vt_dp_epsilon states the privacy spent after a
 * number of steps by the Rényi-DP accountant of verto/privacy.h (a run's
 * steps all share one noise multiplier and sample rate, so the steps taken
 * are the accountant's whole state, and --resume needs nothing more). */
#ifndef VERTO_DP_H
#define VERTO_DP_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/bert.h"
#include "verto/error.h"
#include "verto/privacy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_dp_sampling {
    VT_DP_POISSON = 0, /* each example with probability q (what the accounting assumes) */
    VT_DP_SHUFFLE = 1  /* fixed-size batches of a shuffled order: the guarantee does not hold as stated */
} vt_dp_sampling;

/* What an accountant needs after each step. */
typedef struct vt_dp_progress {
    double noise_multiplier; /* S */
    double sample_rate;      /* q = expected batch / examples */
    int64_t steps;           /* steps taken so far, this one included */
} vt_dp_progress;

/* How the fast path forms the clipped sum once the norms are known. */
typedef enum vt_dp_fast_method {
    VT_DP_BOOKKEEPING = 0, /* one backward keeps each layer's output gradient; the clipped sum is one product
                              per layer on the row-scaled gradients (Bu et al. 2023; the default) */
    VT_DP_TWO_PASS = 1     /* a second backward, of sum_i c_i loss_i (less memory) */
} vt_dp_fast_method;

typedef struct vt_dp_options {
    double noise_multiplier;  /* S >= 0 (0: clipping only, no privacy) */
    double max_grad_norm;     /* C > 0: each example's gradient norm bound */
    int64_t expected_batch;   /* B >= 1: q = B / examples; the sum is divided by B */
    int64_t examples;         /* n >= B: the private training examples, 0 .. n-1 */
    vt_dp_sampling sampling;
    double delta;             /* the delta epsilon is stated at, in (0, 1); 0: no epsilon */
    uint64_t seed;            /* sampling and noise */
    /* Called after every step (may be NULL): the accountant's seam. */
    void (*on_step)(void *accountant, const vt_dp_progress *p);
    void *accountant;
    /* false (the default): a sequence or token classifier's batch, or masked-LM
     * pretraining's, takes the fast path
     * (dp_fast.c: one forward of the whole batch, a backward that computes
     * every example's gradient norm without its gradient, and the clipped sum
     * as fast_method says); other
     * tasks, and true, compute each example's gradient alone (the reference). */
    bool exact;
    vt_dp_fast_method fast_method; /* the fast path's second half */
    /* > 0: the fast path runs a sampled batch in micro-batches of at most
     * this many examples (gradient accumulation: the sampled batch is the
     * logical one; clipping per example, noise once per step, the step counted
     * once); 0: the whole batch at once. */
    int64_t micro_batch;
    const char *example_unit; /* what one example is, for privacy.json (NULL: "one training row") */
    const char *covers;       /* which data the guarantee covers, for privacy.json (NULL: the fine-tuning
                                 training set only) */
} vt_dp_options;

/* A DP-SGD run as a user asks for it (the --dp- options). */
typedef struct vt_dp_request {
    double noise_multiplier; /* S >= 0; ignored when epsilon > 0 */
    double max_grad_norm;    /* C > 0 */
    double epsilon;          /* > 0: S is solved so the whole run spends at most this (tolerance 0.01, as Opacus'
                                get_noise_multiplier) */
    double delta;            /* in (0, 1); <= 0: 1 / n^1.1 of the n examples */
    vt_dp_sampling sampling;
    bool exact;              /* each example's gradient by its own forward and backward (vt_dp_options.exact) */
} vt_dp_request;

/* The DP-SGD options of a run of `steps` steps over `examples` examples of
 * `unit` (covers: see vt_dp_options), each step's logical batch
 * logical_batch examples (every rank's share; the expected batch is the
 * smaller of it and examples) run in micro-batches of micro_batch (0: at
 * once): delta, the noise multiplier (solved for r->epsilon), and in *spent
 * the epsilon the whole run spends. */
VT_API vt_status vt_dp_plan(const vt_dp_request *r, int64_t examples, int64_t logical_batch, int64_t micro_batch,
                            int64_t steps, uint64_t seed, const char *unit, const char *covers, vt_dp_options *dp,
                            vt_privacy_spent *spent);

/* One line stating a planned run's guarantee for a log ("DP-SGD: noise
 * multiplier ..., (epsilon E, delta D) for the whole run (privacy.json)"). */
VT_API void vt_dp_describe(const vt_dp_options *dp, int64_t steps, const vt_privacy_spent *spent, char *buf,
                           size_t size);

/* Fills one example (row of 0 .. examples-1) as a batch of 1 with its labels. */
typedef vt_status (*vt_dp_get_example_fn)(void *ctx, int64_t example, vt_bert_batch *batch);

/* What a step did. */
typedef struct vt_dp_step_info {
    int64_t batch;   /* examples drawn */
    int64_t clipped; /* of them, those whose gradient norm exceeded C */
    int64_t tokens;  /* their real tokens */
    double loss;     /* the mean of their losses (NaN for an empty batch; the fast path: the batch's loss) */
    bool fast;       /* computed by the fast path (see vt_dp_options.exact) */
} vt_dp_step_info;

typedef struct vt_dp vt_dp;

/* A DP-SGD state for model b (its buffers sized to b's parameters). NULL with
 * vt_last_error() on invalid options or no memory. */
VT_API vt_dp *vt_dp_new(const vt_dp_options *o, vt_bert *b);
VT_API void vt_dp_free(vt_dp *dp);
VT_API const vt_dp_options *vt_dp_get_options(const vt_dp *dp);
VT_API double vt_dp_sample_rate(const vt_dp_options *o);

/* The examples of step `step` (0-based) into rows (capacity o->examples);
 * returns how many. A pure function of the seed and the step. Under MPI
 * (verto/dist.h) this rank's share: of the one-process sample, the rows
 * r with r % ranks == rank. */
VT_API int64_t vt_dp_sample(vt_dp *dp, int64_t step, int64_t *rows);

/* The private gradient of the given examples into b's gradient buffer:
 * (sum of clipped per-example gradients + noise) / B over the trainable
 * parameters, 0 elsewhere. Noise is that of step `step`; dropout of example
 * k is seeded by (dropout_seed, k). Does not call on_step. Under MPI every
 * rank calls it with its share (vt_dp_sample): the clipped sums are added
 * over the ranks, then every rank adds the same noise draws (seeded), so
 * the noise enters once and every rank holds the same gradient; info is the
 * whole step's. */
VT_API vt_status vt_dp_gradient(vt_dp *dp, vt_bert *b, int64_t step, const int64_t *rows, int64_t count,
                                vt_dp_get_example_fn get, void *ctx, uint64_t dropout_seed, vt_dp_step_info *info);

/* A whole step: vt_dp_sample, then vt_dp_gradient, then on_step with
 * steps = step + 1. */
VT_API vt_status vt_dp_step(vt_dp *dp, vt_bert *b, int64_t step, vt_dp_get_example_fn get, void *ctx,
                            uint64_t dropout_seed, vt_dp_step_info *info);

/* The (epsilon, delta) spent by `steps` steps of o (o->delta > 0): the RDP
 * accountant of the sampled Gaussian mechanism, as Opacus' RDPAccountant;
 * infinite without noise. */
VT_API vt_status vt_dp_epsilon(const vt_dp_options *o, int64_t steps, vt_privacy_spent *out);

/* Writes OUT/privacy.json: the noise multiplier, sample rate, steps, clipping
 * bound, sampling, expected batch, examples, and the guarantee (epsilon,
 * delta, the best order, the accountant; epsilon null without noise or
 * delta), atomically. */
VT_API vt_status vt_dp_write_record(const char *out_dir, const vt_dp_options *o, int64_t steps);

#ifdef __cplusplus
}
#endif
#endif
