/* The training loop shared by pretraining and fine-tuning.
 *
 * Each optimizer step takes grad_accum micro-batches of batch_size samples
 * from the caller's data source (sample k of the run's global order is a pure
 * function of k, so a resumed run sees exactly the data an uninterrupted one
 * would), runs forward and backward with dropout seeded by the micro-batch
 * index, averages the gradients, clips them, and applies AdamW with BERT's
 * weight-decay exclusions (biases and LayerNorm) under linear warmup and
 * decay. Around that: metrics as JSON lines in OUT/metrics.jsonl, a progress
 * bar, periodic evaluation, checkpoints OUT/checkpoint-<step> (keeping the
 * last K), resume, and a clean stop on SIGINT/SIGTERM with a checkpoint.
 *
 * Under MPI (vt_dist_size() = N > 1) the same loop runs data-parallel: each
 * global micro-batch is N x batch_size samples of the global order, of which
 * rank r takes the r-th batch_size; the losses are normalised by the counts
 * of the whole global micro-batch (vt_bert_forward_ex), so the gradients,
 * summed over the ranks in buckets while the backward runs, are exactly those
 * of one process with batch N x batch_size. All ranks step identically
 * (or, with zero1, each updates its shard of the parameters and the shards
 * are all-gathered). Rank 0 alone writes metrics, checkpoints and models and
 * shows progress; checkpoints hold the full state, so a run saved with N
 * ranks resumes with any other number. Dropout is seeded per rank and
 * micro-batch, so with dropout on an N-rank run is a different (equally
 * valid) draw from a 1-rank one. Errors that one rank meets inside a step are
 * agreed on at the step's end, so every rank returns an error together. */
#ifndef VERTO_TRAINER_H
#define VERTO_TRAINER_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/bert.h"
#include "verto/dp.h"
#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_EVAL_MAX_VALUES 8

/* What an evaluation reports: named values (written to metrics.jsonl and
 * shown) and one score where higher is better (for best-model selection). */
typedef struct vt_eval_result {
    int n;
    char names[VT_EVAL_MAX_VALUES][32];
    double values[VT_EVAL_MAX_VALUES];
    double score;
} vt_eval_result;

typedef struct vt_trainer_options {
    const char *out_dir;          /* created if needed */
    int64_t steps;                /* optimizer steps in all */
    int64_t batch_size, grad_accum;
    float lr, weight_decay, clip_norm, adam_epsilon;
    int64_t warmup_steps;
    uint64_t seed;
    int64_t log_every;            /* metrics.jsonl line every N steps (>= 1) */
    int64_t eval_every;           /* evaluate every N steps (0: never, except at the end if evaluate is set) */
    int64_t save_every;           /* checkpoint every N steps (0: only on a signal) */
    int keep_checkpoints;         /* >= 1 */
    bool resume;                  /* continue from OUT's latest checkpoint (the model passed in is replaced) */
    bool save_best;               /* write the model to OUT whenever the evaluation score improves */
    int64_t early_stopping;       /* stop after this many evaluations without improvement (0: never) */
    bool save_final;              /* write the model to OUT at the end */
    int freeze_layers;            /* freeze the embeddings and this many encoder layers (0: none) */
    const char *tokenizer_dir;    /* its tokenizer files are copied into every saved model */
    const char *tokenizer_config; /* JSON object merged into their tokenizer_config.json (NULL: none) */
    const char *args_json;        /* recorded in checkpoints */
    FILE *log;                    /* progress and messages (NULL: silent) */
    /* Data parallelism (verto/dist.h), used when vt_dist_size() > 1: */
    bool zero1;                   /* shard the optimizer state over the ranks (ZeRO stage 1) */
    int64_t bucket_floats;        /* gradient bucket size in floats (0: 4M floats = 16 MiB) */

    /* Fills *batch with the samples first_sample .. first_sample + batch_size - 1
     * of the global order and sets *tokens to its real (non-padding) token count.
     * Under MPI each rank asks only for its own share of every global micro-batch. */
    vt_status (*get_batch)(void *ctx, int64_t first_sample, int64_t batch_size, vt_bert_batch *batch, int64_t *tokens);
    /* Differentially private steps (verto/dp.h; NULL: ordinary ones): each
     * step's gradient is vt_dp_step's over examples fetched one at a time by
     * get_example (not get_batch); one process, grad_accum 1, and the optimizer
     * does not clip again. metrics.jsonl gets dp_noise_multiplier,
     * dp_sample_rate, dp_steps and dp_batch_size (the
     * last step's; an empty batch logs loss 0); OUT/privacy.json is written at the end. */
    const vt_dp_options *dp;
    vt_dp_get_example_fn get_example;
    /* Optional evaluation of the current model. */
    vt_status (*evaluate)(void *ctx, vt_bert *b, vt_eval_result *result);
    void *ctx;
} vt_trainer_options;

/* Fills the defaults: lr 1e-4, weight decay 0.01, clip 1.0, epsilon 1e-6,
 * batch 32, accumulation 1, log every 10, keep 3 checkpoints, save final. */
VT_API void vt_trainer_options_default(vt_trainer_options *o);

/* Trains *model (which the trainer may replace with the checkpoint it resumes
 * from). Returns VT_OK when done or stopped by a signal (after saving a
 * checkpoint; *stopped_early is set), VT_ERR_NUMERIC naming the step if the
 * loss becomes NaN or infinite (the last good checkpoint is left as it was). */
VT_API vt_status vt_train(vt_bert **model, const vt_trainer_options *o, bool *stopped_early);

#ifdef __cplusplus
}
#endif
#endif
