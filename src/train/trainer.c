/* The training loop shared by pretrain and finetune (see verto/trainer.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "verto/checkpoint.h"
#include "verto/dist.h"
#include "verto/fileio.h"
#include "verto/progress.h"
#include "verto/rng.h"
#include "verto/trainer.h"
#include "core/hash.h"
#include "train/optim_internal.h"
#include "train/stop_signal.h"

#define DEFAULT_BUCKET ((int64_t)1 << 22) /* floats per gradient bucket (16 MiB) */

void vt_trainer_options_default(vt_trainer_options *o) {
    memset(o, 0, sizeof *o);
    o->batch_size = 32;
    o->grad_accum = 1;
    o->lr = 1e-4f;
    o->weight_decay = 0.01f;
    o->clip_norm = 1.0f;
    o->adam_epsilon = 1e-6f;
    o->log_every = 10;
    o->keep_checkpoints = 3;
    o->save_final = true;
}

/* AdamW over floats [lo, hi) of the flat parameter buffer (all of it, or
 * this rank's shard under ZeRO-1, where clipping is done by the trainer). */
static vt_optimizer *make_optimizer_range(vt_bert *b, const vt_trainer_options *o, int64_t lo, int64_t hi,
                                          float clip_norm) {
    static const char *const NO_DECAY[] = {"bias", "LayerNorm", "layer_norm"}; /* RoBERTa's lm_head, DistilBERT */
    vt_optimizer_config cfg;
    vt_optimizer_config_default("adamw", &cfg);
    cfg.learning_rate = o->lr;
    cfg.weight_decay = o->weight_decay;
    cfg.beta1 = 0.9f;
    cfg.beta2 = 0.999f;
    cfg.epsilon = o->adam_epsilon;
    cfg.no_decay = NO_DECAY;
    cfg.n_no_decay = sizeof NO_DECAY / sizeof *NO_DECAY;
    cfg.clip_norm = clip_norm;
    cfg.schedule = VT_SCHED_LINEAR_WARMUP_DECAY;
    cfg.warmup_steps = o->warmup_steps;
    cfg.total_steps = o->steps;
    size_t n_params;
    const vt_param_info *infos = vt_bert_param_infos(b, &n_params);
    int64_t n_floats;
    vt_bert_params(b, &n_floats);
    if (lo == 0 && hi == n_floats) return vt_optimizer_new(&cfg, n_floats, infos, n_params);
    vt_param_info *part = malloc((n_params ? n_params : 1) * sizeof *part);
    if (!part) {
        vt_error(VT_ERR_NOMEM, "trainer: out of memory");
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_params; i++) {
        int64_t a = infos[i].offset > lo ? infos[i].offset : lo;
        int64_t z = infos[i].offset + infos[i].numel < hi ? infos[i].offset + infos[i].numel : hi;
        if (z > a) part[k++] = (vt_param_info){infos[i].name, a - lo, z - a, infos[i].trainable};
    }
    vt_optimizer *opt = vt_optimizer_new(&cfg, hi - lo, part, k);
    free(part);
    return opt;
}

static vt_optimizer *make_optimizer(vt_bert *b, const vt_trainer_options *o) {
    int64_t n;
    vt_bert_params(b, &n);
    return make_optimizer_range(b, o, 0, n, o->dp ? 0.0f : o->clip_norm); /* DP: clipping per example, not again */
}

typedef struct run {
    const vt_trainer_options *o;
    vt_bert *b;
    vt_optimizer *opt;      /* all parameters, or this rank's shard [shard_lo, shard_hi) under ZeRO-1 */
    FILE *metrics;          /* rank 0 only */
    FILE *log;              /* o->log on rank 0, NULL elsewhere */
    vt_progress bar;
    double best_score;
    int64_t evals_without_gain;
    /* Data parallelism: */
    int rank, world;
    bool zero;              /* ZeRO-1 */
    int64_t shard_lo, shard_hi;
    float *gshard;          /* (shard_hi - shard_lo) reduced gradients of the shard, under ZeRO-1 */
    vt_dist_reducer *reducer;
    int stop_signal;        /* the largest signal any rank received (agreed each step) */
    double comm_wait;       /* seconds waited for gradients in the current log window */
    double started;         /* vt_now() when this process began training: metrics' elapsed_s */
    vt_dp *dp;              /* differentially private steps, or NULL */
    int64_t dp_batch;       /* the last DP step's sampled batch size */
} run;

/* The signal that stops the run: any rank's, agreed at the last step's end, under MPI. */
static int stop_signal(const run *r) { return r->world > 1 ? r->stop_signal : stop_signal_received(); }

static void metrics_line(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void metrics_line(run *r, const char *fmt, ...) {
    if (!r->metrics) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->metrics, fmt, ap);
    va_end(ap);
    fputc('\n', r->metrics);
    fflush(r->metrics);
}

static vt_status save_model(run *r, const char *dir) {
    if (r->rank != 0) return VT_OK;
    vt_status st = vt_bert_save(r->b, dir);
    if (st == VT_OK && r->o->tokenizer_dir) st = vt_bert_copy_tokenizer_files(r->o->tokenizer_dir, dir, r->o->tokenizer_config);
    return st;
}

/* A hash of the parameters' bits, to check that every rank holds the same. */
static uint64_t params_hash(vt_bert *b) {
    int64_t n;
    const float *p = vt_bert_params(b, &n);
    return vt_fnv1a64(VT_FNV64_INIT, p, (size_t)n * sizeof *p);
}

static vt_status check_ranks_agree(run *r, int64_t step) {
    if (r->world <= 1) return VT_OK;
    bool same = true;
    vt_status st = vt_dist_all_equal_u64(params_hash(r->b), &same);
    if (st == VT_OK && !same)
        st = vt_error(VT_ERR_STATE, "after step %" PRId64 " the ranks hold different parameters", step);
    return st;
}

/* The whole optimizer state on rank 0 (a temporary full-size optimizer
 * gathered from the shards) under ZeRO-1; r->opt itself otherwise. */
static vt_status full_optimizer(run *r, vt_optimizer **full) {
    *full = r->opt;
    if (!r->zero) return VT_OK;
    int64_t n;
    vt_bert_params(r->b, &n);
    *full = NULL;
    if (r->rank == 0 && !(*full = make_optimizer(r->b, r->o))) return vt_last_status();
    vt_status st = VT_OK;
    for (int which = 0; which < 2 && st == VT_OK; which++)
        st = vt_dist_gather_shards_f32(vt_optimizer_state(r->opt, which),
                                       *full ? vt_optimizer_state(*full, which) : NULL, n);
    if (*full) vt_optimizer_set_steps_done(*full, vt_optimizer_steps_done(r->opt));
    return st;
}

static vt_status checkpoint(run *r, int64_t step) {
    vt_optimizer *full = NULL;
    vt_status st = check_ranks_agree(r, step);
    if (st == VT_OK) st = full_optimizer(r, &full);
    if (st == VT_OK && r->rank == 0) {
        st = vt_ckpt_save(r->o->out_dir, step, r->b, full, r->o->tokenizer_dir, r->o->tokenizer_config, r->o->args_json);
        if (st == VT_OK) st = vt_ckpt_prune(r->o->out_dir, r->o->keep_checkpoints);
    }
    if (full != r->opt) vt_optimizer_free(full);
    return st;
}

/* Evaluates, logs, saves the best model; *stop when patience ran out. */
static vt_status evaluate(run *r, int64_t step, bool *stop) {
    vt_eval_result res = {0};
    vt_status st = r->o->evaluate(r->o->ctx, r->b, &res);
    if (st != VT_OK) return st;
    /* Every rank evaluates; rank 0's figures decide for all (so early stopping agrees). */
    if ((st = vt_dist_bcast(&res, sizeof res, 0)) != VT_OK) return st;
    char line[1024];
    int used = snprintf(line, sizeof line, "{\"step\": %" PRId64 ", \"eval\": true", step);
    for (int i = 0; i < res.n && used < (int)sizeof line; i++)
        used += snprintf(line + used, sizeof line - (size_t)used, ", \"%s\": %.6g", res.names[i], res.values[i]);
    metrics_line(r, "%s, \"elapsed_s\": %.3f}", line, vt_now() - r->started);
    if (r->log) {
        fprintf(r->log, "%s[eval] step %" PRId64, r->bar.tty ? "\r\033[K" : "", step);
        for (int i = 0; i < res.n; i++) fprintf(r->log, " - %s: %.4f", res.names[i], res.values[i]);
        fputc('\n', r->log);
        fflush(r->log); /* visible in a log file as it happens, not at exit */
    }
    if (res.score > r->best_score) {
        r->best_score = res.score;
        r->evals_without_gain = 0;
        if (r->o->save_best && (st = save_model(r, r->o->out_dir)) != VT_OK) return st;
    } else if (r->o->early_stopping > 0 && ++r->evals_without_gain >= r->o->early_stopping) {
        *stop = true;
    }
    return VT_OK;
}

/* Dropout seed of a micro-batch: rank 0 keeps the single-process seed. */
static uint64_t dropout_seed(const run *r, int64_t index) {
    uint64_t s = vt_hash64(r->o->seed, (uint64_t)index);
    return r->rank == 0 ? s : vt_hash64(s, (uint64_t)r->rank);
}

/* One micro-batch on this rank: the batch, its loss normaliser (summed over
 * the ranks), forward and backward. Returns a collective failure at once;
 * a local one through *local (with its message in msg) so the rank can keep
 * taking part in the collectives until the step's end. */
static vt_status micro_step(run *r, int64_t step, int64_t micro, double *loss, int64_t *tokens, vt_status *local,
                            char *msg, size_t msg_size) {
    const vt_trainer_options *o = r->o;
    bool dist = r->world > 1;
    int64_t index = step * o->grad_accum + micro, n_tokens = 0;
    vt_bert_batch batch;
    vt_bert_outputs out;
    vt_bert_loss_norm norm = {0};
    vt_status st = *local;
    int64_t first = (index * r->world + r->rank) * o->batch_size; /* rank r's share of the global micro-batch */
    if (st == VT_OK) st = o->get_batch(o->ctx, first, o->batch_size, &batch, &n_tokens);
    if (dist) {
        if (st == VT_OK) vt_bert_loss_norm_of(r->b, &batch, &norm);
        double v[4] = {norm.mlm, norm.nsp, norm.task, norm.task_end};
        vt_status cst = vt_dist_allreduce_sum_f64(v, 4);
        if (cst != VT_OK) return cst;
        norm = (vt_bert_loss_norm){v[0], v[1], v[2], v[3]};
    }
    if (st == VT_OK) st = vt_bert_forward_ex(r->b, &batch, true, dropout_seed(r, index), dist ? &norm : NULL, &out);
    if (st == VT_ERR_NUMERIC || (st == VT_OK && !isfinite(out.loss)))
        st = dist ? vt_error(VT_ERR_NUMERIC, "step %" PRId64 ": the loss is %s on rank %d", step + 1,
                             st == VT_OK ? (isnan(out.loss) ? "NaN" : "infinite") : "not finite", r->rank)
                  : vt_error(VT_ERR_NUMERIC, "step %" PRId64 ": the loss is %s", step + 1,
                             st == VT_OK ? (isnan(out.loss) ? "NaN" : "infinite") : "not finite");
    bool last = micro == o->grad_accum - 1;
    if (st == VT_OK)
        st = vt_bert_backward_ex(r->b, micro > 0, dist && last ? vt_dist_reducer_ready : NULL, r->reducer);
    if (st == VT_OK) {
        *loss += out.loss;
        *tokens += n_tokens;
    } else if (*local == VT_OK) {
        if (!dist) return st;
        *local = st;
        snprintf(msg, msg_size, "%s", vt_last_error());
    }
    return VT_OK;
}

/* Global L2 norm of the reduced gradients (trainable floats; the shards' parts summed under ZeRO-1). */
static vt_status sharded_norm(run *r, float *norm) {
    size_t n_params;
    const vt_param_info *infos = vt_bert_param_infos(r->b, &n_params);
    double sumsq = 0;
    for (size_t i = 0; i < n_params; i++) {
        if (!infos[i].trainable) continue;
        int64_t a = infos[i].offset > r->shard_lo ? infos[i].offset : r->shard_lo;
        int64_t z = infos[i].offset + infos[i].numel < r->shard_hi ? infos[i].offset + infos[i].numel : r->shard_hi;
        const float *g = r->gshard - r->shard_lo;
        double acc = 0;
#pragma omp parallel for simd reduction(+ : acc) schedule(static)
        for (int64_t k = a; k < z; k++) acc += (double)g[k] * (double)g[k];
        sumsq += acc;
    }
    vt_status st = vt_dist_allreduce_sum_f64(&sumsq, 1);
    *norm = (float)sqrt(sumsq);
    return st;
}

/* One differentially private step: the noisy clipped gradient (verto/dp.h), then AdamW. */
static vt_status dp_train_step(run *r, int64_t step, double *loss, int64_t *tokens, float *grad_norm) {
    vt_dp_step_info info;
    vt_status st = vt_dp_step(r->dp, r->b, step, r->o->get_example, r->o->ctx, dropout_seed(r, step), &info);
    if (st != VT_OK) return st;
    *loss = info.batch ? info.loss : 0; /* an empty batch (only noise moved the model) logs 0, dp_batch_size 0 */
    r->dp_batch = info.batch;
    *tokens = info.tokens;
    st = vt_optimizer_step(r->opt, vt_bert_params(r->b, NULL), vt_bert_grads(r->b, NULL), grad_norm);
    if (st == VT_ERR_NUMERIC) return vt_error(st, "step %" PRId64 ": the gradient is not finite", step + 1);
    return st;
}

/* One optimizer step over grad_accum micro-batches (of every rank). */
static vt_status train_step(run *r, int64_t step, double *loss, int64_t *tokens, float *grad_norm) {
    const vt_trainer_options *o = r->o;
    if (r->dp) return dp_train_step(r, step, loss, tokens, grad_norm);
    bool dist = r->world > 1;
    double total = 0;
    int64_t n_tokens = 0;
    vt_status local = VT_OK, st;
    char msg[1024] = "";
    if (dist) vt_dist_reducer_begin(r->reducer);
    for (int64_t micro = 0; micro < o->grad_accum; micro++)
        if ((st = micro_step(r, step, micro, &total, &n_tokens, &local, msg, sizeof msg)) != VT_OK) return st;
    if (dist) {
        if ((st = vt_dist_reducer_finish(r->reducer)) != VT_OK) return st;
        r->comm_wait += vt_dist_reducer_wait_seconds(r->reducer);
        double sums[2] = {total, (double)n_tokens};
        double maxes[2] = {local != VT_OK ? r->rank + 1 : 0, stop_signal_received()};
        if ((st = vt_dist_allreduce_sum_f64(sums, 2)) != VT_OK || (st = vt_dist_allreduce_max_f64(maxes, 2)) != VT_OK)
            return st;
        total = sums[0];
        n_tokens = (int64_t)sums[1];
        r->stop_signal = (int)maxes[1];
        if (local != VT_OK) return vt_error(local, "%s", msg);
        if (maxes[0] > 0)
            return vt_error(VT_ERR_STATE, "step %" PRId64 ": rank %d failed (see its message)", step + 1,
                            (int)maxes[0] - 1);
    }
    *tokens = n_tokens;
    *loss = total / (double)o->grad_accum;
    int64_t n;
    float *g = vt_bert_grads(r->b, &n), *params = vt_bert_params(r->b, NULL);
    if (r->zero) {
        g = r->gshard;
        n = r->shard_hi - r->shard_lo;
        params += r->shard_lo;
    }
    vt_grads_average(g, n, o->grad_accum);
    if (r->zero) {
        /* Clipping needs the norm over all shards; the shard optimizer does not clip. */
        if ((st = sharded_norm(r, grad_norm)) != VT_OK) return st;
        if (!isfinite(*grad_norm))
            return vt_error(VT_ERR_NUMERIC, "step %" PRId64 ": the gradient is not finite", step + 1);
        float coef = (1.0f / (*grad_norm + 1e-6f)) * o->clip_norm; /* as vt_clip_global_norm */
        if (o->clip_norm > 0 && coef < 1.0f) {
#pragma omp parallel for simd schedule(static)
            for (int64_t i = 0; i < n; i++) g[i] *= coef;
        }
        st = vt_optimizer_step(r->opt, params, g, NULL);
        int64_t n_all;
        float *all = vt_bert_params(r->b, &n_all);
        if (st == VT_OK) st = vt_dist_allgather_shards_f32(all, n_all);
        return st;
    }
    st = vt_optimizer_step(r->opt, params, g, grad_norm);
    if (st == VT_ERR_NUMERIC) return vt_error(st, "step %" PRId64 ": the gradient is not finite", step + 1);
    return st;
}

static vt_status validate(const vt_trainer_options *o) {
    if (!o->out_dir || !o->get_batch) return vt_error(VT_ERR_INVALID_ARG, "trainer: an output directory and a data source are required");
    if (o->steps < 1 || o->batch_size < 1 || o->grad_accum < 1 || o->log_every < 1 || o->keep_checkpoints < 1)
        return vt_error(VT_ERR_INVALID_ARG, "trainer: steps, batch size, accumulation, log interval and checkpoints kept must be positive");
    if (o->warmup_steps < 0 || o->warmup_steps > o->steps)
        return vt_error(VT_ERR_INVALID_ARG, "trainer: warmup steps %" PRId64 " must be within 0..%" PRId64, o->warmup_steps, o->steps);
    if (o->dp && !o->get_example) return vt_error(VT_ERR_INVALID_ARG, "trainer: DP-SGD needs a per-example data source");
    if (o->dp && o->zero1 && vt_dist_size() > 1) /* (its step reduces the gradient itself: every rank holds it all) */
        return vt_error(VT_ERR_INVALID_ARG, "trainer: DP-SGD with ZeRO-1 is not available");
    if (o->dp && o->grad_accum > 1 && o->dp->micro_batch <= 0) /* (the logical batch is the sampled one) */
        return vt_error(VT_ERR_INVALID_ARG, "trainer: DP-SGD with gradient accumulation runs the sampled batch in "
                                            "micro-batches: set the DP options' micro_batch");
    return VT_OK;
}

/* Makes r->opt: over all parameters, or over this rank's shard under ZeRO-1. */
static vt_status setup_optimizer(run *r) {
    vt_optimizer_free(r->opt);
    r->opt = NULL;
    int64_t n;
    vt_bert_params(r->b, &n);
    r->shard_lo = 0;
    r->shard_hi = n;
    if (r->zero) vt_dist_shard(n, r->rank, r->world, &r->shard_lo, &r->shard_hi);
    r->opt = r->zero ? make_optimizer_range(r->b, r->o, r->shard_lo, r->shard_hi, 0.0f) : make_optimizer(r->b, r->o);
    return r->opt ? VT_OK : vt_last_status();
}

/* Replaces the model and optimizer state with OUT's latest checkpoint; *start gets its step. */
static vt_status resume(run *r, vt_bert **model, int64_t *start) {
    char dir[4096];
    int64_t step = vt_ckpt_latest(r->o->out_dir, dir, sizeof dir);
    if (step < 0) return vt_error(VT_ERR_INVALID_ARG, "--resume: %s holds no checkpoint", r->o->out_dir);
    const vt_bert_config *c = vt_bert_get_config(*model);
    vt_bert *b = vt_bert_load(dir, (int)c->arch, c->num_labels, r->o->seed);
    if (!b) return vt_last_status();
    vt_status st = vt_bert_set_precision(b, vt_bert_get_precision(*model));
    if (st != VT_OK) {
        vt_bert_free(b);
        return st;
    }
    vt_bert_free(*model);
    *model = r->b = b;
    vt_bert_freeze_layers(b, r->o->freeze_layers);
    st = setup_optimizer(r);
    if (st != VT_OK) return st;
    int64_t n;
    vt_bert_params(b, &n);
    if (!r->zero) {
        st = vt_ckpt_load_state(dir, r->opt, n, start, NULL);
    } else { /* the checkpoint holds the whole state: keep this rank's shard of it */
        vt_optimizer *full = make_optimizer(b, r->o);
        st = full ? vt_ckpt_load_state(dir, full, n, start, NULL) : vt_last_status();
        for (int which = 0; which < 2 && st == VT_OK; which++)
            memcpy(vt_optimizer_state(r->opt, which), vt_optimizer_state(full, which) + r->shard_lo,
                   (size_t)(r->shard_hi - r->shard_lo) * sizeof(float));
        if (st == VT_OK) vt_optimizer_set_steps_done(r->opt, *start);
        vt_optimizer_free(full);
    }
    if (st == VT_OK && r->log) fprintf(r->log, "resuming from %s (step %" PRId64 ")\n", dir, *start);
    return st;
}

/* Makes every rank start from rank 0's parameters (and optimizer state). */
static vt_status sync_start(run *r) {
    int64_t n;
    float *p = vt_bert_params(r->b, &n);
    vt_status st = vt_dist_bcast_f32(p, n, 0);
    for (int which = 0; which < 2 && st == VT_OK && !r->zero; which++)
        if (vt_optimizer_state(r->opt, which)) st = vt_dist_bcast_f32(vt_optimizer_state(r->opt, which), n, 0);
    return st;
}

static void print_parallel(run *r) {
    const vt_trainer_options *o = r->o;
    if (!r->log || r->world <= 1) return;
    int64_t n;
    vt_bert_params(r->b, &n);
    double mb = 1.0 / (1024.0 * 1024.0);
    fprintf(r->log,
            "data parallel over %d ranks: global batch %" PRId64 " = %" PRId64 " per rank x %d ranks x %" PRId64
            " accumulated; gradients summed in buckets of %.0f MiB (%.1f MiB per step)\n",
            r->world, o->batch_size * r->world * o->grad_accum, o->batch_size, r->world, o->grad_accum,
            (double)(o->bucket_floats > 0 ? o->bucket_floats : DEFAULT_BUCKET) * 4 * mb, (double)n * 4 * mb);
    if (r->zero) {
        int64_t shard = r->shard_hi - r->shard_lo;
        fprintf(r->log,
                "ZeRO-1: each rank keeps the AdamW state of its %" PRId64 " of %" PRId64 " parameters: %.1f MiB "
                "instead of %.1f MiB (saves %.1f MiB per rank; its reduced-gradient shard takes %.1f MiB)\n",
                shard, n, (double)shard * 8 * mb, (double)n * 8 * mb, (double)(n - shard) * 8 * mb,
                (double)shard * 4 * mb);
    }
}

/* Sets up the run; VT_OK or an error with everything set up freed by the caller. */
static vt_status start_run(run *r, vt_bert **model, int64_t *start) {
    const vt_trainer_options *o = r->o;
    vt_status st = VT_OK;
    if (r->rank == 0 && (st = vt_mkdir_p(o->out_dir)) != VT_OK) return st;
    vt_bert_freeze_layers(r->b, o->freeze_layers);
    if ((st = setup_optimizer(r)) != VT_OK) return st;
    *start = 0;
    if (o->resume && (st = resume(r, model, start)) != VT_OK) return st;
    if (o->dp && !(r->dp = vt_dp_new(o->dp, r->b))) return vt_last_status(); /* after resume: sized to the model kept */
    if (r->world > 1) {
        int64_t n;
        float *g = vt_bert_grads(r->b, &n);
        if (r->zero && !(r->gshard = malloc((size_t)(r->shard_hi - r->shard_lo + 1) * sizeof(float))))
            return vt_error(VT_ERR_NOMEM, "trainer: out of memory for the gradient shard");
        if (!(r->reducer = vt_dist_reducer_new(g, n, o->bucket_floats > 0 ? o->bucket_floats : DEFAULT_BUCKET,
                                               r->zero ? r->gshard : NULL)))
            return vt_last_status();
        if ((st = sync_start(r)) != VT_OK) return st;
    }
    if (r->rank == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/metrics.jsonl", o->out_dir);
        if (!(r->metrics = fopen(path, *start ? "a" : "w")))
            return vt_error(VT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    print_parallel(r);
    return VT_OK;
}

vt_status vt_train(vt_bert **model, const vt_trainer_options *o, bool *stopped_early) {
    vt_status st = validate(o);
    if (st != VT_OK) return st;
    run r = {.o = o, .b = *model, .best_score = -INFINITY, .rank = vt_dist_rank(), .world = vt_dist_size()};
    r.log = r.rank == 0 ? o->log : NULL;
    r.zero = o->zero1 && r.world > 1;
    int64_t start = 0;
    if ((st = start_run(&r, model, &start)) != VT_OK) {
        if (r.metrics) fclose(r.metrics);
        vt_optimizer_free(r.opt);
        vt_dist_reducer_free(r.reducer);
        free(r.gshard);
        vt_dp_free(r.dp);
        return st;
    }
    stop_watch watch;
    stop_watch_begin(&watch);

    vt_progress_start(&r.bar, r.log ? r.log : stderr, o->steps, NULL);
    if (!r.log) r.bar.tty = false;
    r.bar.done = start;
    bool stop = false;
    double window_start = r.started = vt_now();
    int64_t window_tokens = 0, window_steps = 0, step = start;
    for (; step < o->steps && st == VT_OK && !stop; step++) {
        double loss = NAN;
        int64_t tokens = 0;
        float grad_norm = NAN;
        float lr = vt_optimizer_current_lr(r.opt);
        if ((st = train_step(&r, step, &loss, &tokens, &grad_norm)) != VT_OK) break;
        window_tokens += tokens;
        window_steps++;
        int64_t done = step + 1;
        if (done % o->log_every == 0 || done == o->steps) {
            double now = vt_now(), rate = window_tokens / fmax(now - window_start, 1e-9);
            char dp[224] = "";
            if (o->dp) { /* the guarantee so far, logged with every step line */
                vt_privacy_spent spent = {.epsilon = NAN};
                if (o->dp->delta > 0 && vt_dp_epsilon(o->dp, done, &spent) != VT_OK) spent.epsilon = NAN;
                char eps[48] = "null";
                if (isfinite(spent.epsilon)) snprintf(eps, sizeof eps, "%.6g", spent.epsilon);
                snprintf(dp, sizeof dp, "\"dp_noise_multiplier\": %.6g, \"dp_sample_rate\": %.6g, \"dp_steps\": %" PRId64
                         ", \"dp_batch_size\": %" PRId64 ", \"epsilon\": %s, ", o->dp->noise_multiplier,
                         vt_dp_sample_rate(o->dp), done, r.dp_batch, eps);
            }
            if (r.world > 1)
                metrics_line(&r,
                             "{\"step\": %" PRId64 ", \"loss\": %.6g, \"lr\": %.6g, \"grad_norm\": %.6g, "
                             "\"tokens_per_sec\": %.1f, \"ranks\": %d, \"step_ms\": %.2f, \"comm_wait_ms\": %.2f, "
                             "%s\"elapsed_s\": %.3f}",
                             done, loss, lr, grad_norm, rate, r.world, 1e3 * (now - window_start) / (double)window_steps,
                             1e3 * r.comm_wait / (double)window_steps, dp, now - r.started);
            else
                metrics_line(&r,
                             "{\"step\": %" PRId64 ", \"loss\": %.6g, \"lr\": %.6g, \"grad_norm\": %.6g, "
                             "\"tokens_per_sec\": %.1f, %s\"elapsed_s\": %.3f}",
                             done, loss, lr, grad_norm, rate, dp, now - r.started);
            vt_progress_set(&r.bar, "loss", loss);
            vt_progress_set(&r.bar, "lr", lr);
            vt_progress_set(&r.bar, "tok/s", rate);
            window_start = now;
            window_tokens = window_steps = 0;
            r.comm_wait = 0;
        }
        if (r.log) vt_progress_update(&r.bar, done);
        if (o->evaluate && o->eval_every > 0 && (done % o->eval_every == 0 || done == o->steps))
            st = evaluate(&r, done, &stop);
        if (st == VT_OK && ((o->save_every > 0 && done % o->save_every == 0) || stop_signal(&r)))
            st = checkpoint(&r, done);
        if (st == VT_OK && stop_signal(&r)) {
            if (r.log) fprintf(r.log, "\nstopped by signal %d after step %" PRId64 "; checkpoint saved in %s\n",
                               stop_signal(&r), done, o->out_dir);
            stop = true;
        }
    }
    if (st == VT_OK && r.log) vt_progress_finish(&r.bar);
    if (st == VT_OK && !stop_signal(&r) && o->save_final) {
        st = check_ranks_agree(&r, step);
        if (st == VT_OK) st = save_model(&r, o->out_dir);
    }
    if (st == VT_OK && o->dp && r.rank == 0) st = vt_dp_write_record(o->out_dir, o->dp, step);
    if (stopped_early) *stopped_early = stop;
    stop_watch_end(&watch);
    if (r.metrics) fclose(r.metrics);
    vt_optimizer_free(r.opt);
    vt_dist_reducer_free(r.reducer);
    free(r.gshard);
    vt_dp_free(r.dp);
    return st;
}
