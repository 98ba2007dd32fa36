/* Causal-LM pretraining of a GPT-2 model on clm shards (verto/pretrain_data.h:
 * vt_pt_clm_reader), as transformers' run_clm.py + Trainer do it.
 *
 * Each optimizer step takes grad_accum micro-batches; micro-batch i of the
 * run (i = step * grad_accum + micro) is vt_pt_clm_rank_batch(train, i, rank,
 * world, batch_size), so the data depend on the step alone and a resumed run
 * sees exactly the batches an uninterrupted one would. The loss is the mean
 * shifted cross-entropy of the micro-batch; gradients are averaged over the
 * micro-batches (and, under MPI, summed over the ranks and divided by their
 * number: every block has the same T - 1 targets, so this is the gradient of
 * one process with batch world x batch_size). Then the global norm is
 * clipped and AdamW applied (no decay on biases and LayerNorms:
 * vt_gpt2_no_decay's patterns) under linear warmup and decay.
 *
 * OUT/metrics.jsonl: {"step", "loss", "lr", "grad_norm", "tokens_per_sec",
 * "elapsed_s"} every log_every steps, and {"step", "eval": true,
 * "eval_loss", "perplexity"} every eval_every steps (and at the end) when
 * held-out blocks are given: perplexity = exp(mean token loss) over the first
 * eval_blocks held-out blocks (all of them when fewer).
 * OUT/checkpoint-<step> (verto/checkpoint.h) every save_every steps, the
 * last keep_checkpoints kept; OUT itself receives the final model
 * (config.json + model.safetensors + the tokenizer files of tokenizer_dir).
 * Rank 0 alone writes. */
#ifndef VERTO_CLM_TRAIN_H
#define VERTO_CLM_TRAIN_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/error.h"
#include "verto/gpt2.h"
#include "verto/pretrain_data.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_clm_train_options {
    const char *out_dir;              /* created if needed */
    int64_t steps, batch_size, grad_accum;
    float lr, weight_decay, clip_norm, adam_epsilon; /* clip_norm 0: off */
    int64_t warmup_steps;             /* <= steps */
    uint64_t seed;                    /* dropout */
    int64_t log_every;                /* >= 1 */
    int64_t eval_every;               /* 0: only at the end (when eval is set) */
    int64_t eval_blocks;              /* held-out blocks per evaluation */
    int64_t save_every;               /* 0: no checkpoints */
    int keep_checkpoints;             /* >= 1 */
    bool resume;                      /* continue from OUT's latest checkpoint (*model is replaced) */
    const char *tokenizer_dir;        /* its tokenizer files go into every saved model (NULL: none) */
    const char *args_json;            /* recorded in checkpoints (NULL: {}) */
    FILE *log;                        /* messages and progress on rank 0 (NULL: silent) */
    vt_pt_clm_reader *train;          /* borrowed; batches of up to batch_size */
    vt_pt_clm_reader *eval;           /* borrowed, or NULL; batches of up to batch_size */
    int64_t eval_size;                /* blocks the eval reader's dataset holds */
} vt_clm_train_options;

/* lr 1e-4, weight decay 0.01, clip 1.0, epsilon 1e-8 (transformers'
 * Trainer), batch 8, accumulation 1, log every 10, 64 eval blocks, keep 3. */
VT_API void vt_clm_train_options_default(vt_clm_train_options *o);

/* Trains *model (replaced by the checkpoint it resumes from, with the same
 * precision). SIGINT or SIGTERM stops it cleanly after the current step with
 * a checkpoint (and no final model): VT_OK with *stopped set (stopped may be
 * NULL). VT_ERR_NUMERIC naming the step when the loss or gradient stops
 * being finite; other errors as the parts report them. */
VT_API vt_status vt_clm_train(vt_gpt2 **model, const vt_clm_train_options *o, bool *stopped);

/* The held-out loss and perplexity of `model` over blocks [0, n) of `eval`
 * (read in batches of `batch`): the mean shifted cross-entropy over all
 * their targets and its exp. */
VT_API vt_status vt_clm_evaluate(vt_gpt2 *model, vt_pt_clm_reader *eval, int64_t n, int64_t batch, double *loss,
                                 double *perplexity);

/* Perplexity of `ids` (n tokens) by transformers' strided sliding window
 * ("Perplexity of fixed-length models"): windows [begin, min(begin +
 * max_length, n)) for begin = 0, stride, 2 stride, ... until one reaches the
 * end; each scores only the tokens after the previous window's end (the
 * others are context, label -100), and its mean loss is weighted by (those
 * tokens - 1), as the guide's nll_sum / n_tokens does. *nll receives that
 * average, *ppl its exp, *scored (may be NULL) the weights' sum.
 * VT_ERR_INVALID_ARG when max_length is outside 2..n_positions, stride
 * outside 1..max_length, or the text leaves nothing to score. */
VT_API vt_status vt_clm_perplexity(vt_gpt2 *model, const int32_t *ids, int64_t n, int64_t max_length, int64_t stride,
                                   double *nll, double *ppl, int64_t *scored);

#ifdef __cplusplus
}
#endif
#endif
