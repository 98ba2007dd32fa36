/* The causal-LM pretraining loop (see verto/clm_train.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "verto/checkpoint.h"
#include "verto/clm_train.h"
#include "verto/dist.h"
#include "verto/fileio.h"
#include "verto/progress.h"
#include "verto/rng.h"
#include "verto/tokenizer.h"
#include "train/optim_internal.h"
#include "train/stop_signal.h"

#define DEFAULT_BUCKET ((int64_t)1 << 22) /* floats per gradient bucket (16 MiB) */

void vt_clm_train_options_default(vt_clm_train_options *o) {
    memset(o, 0, sizeof *o);
    o->batch_size = 8;
    o->grad_accum = 1;
    o->lr = 1e-4f;
    o->weight_decay = 0.01f;
    o->clip_norm = 1.0f;
    o->adam_epsilon = 1e-8f;
    o->log_every = 10;
    o->eval_blocks = 64;
    o->keep_checkpoints = 3;
}

typedef struct clm_run {
    const vt_clm_train_options *o;
    vt_gpt2 *m;
    vt_optimizer *opt;
    vt_dist_reducer *reducer; /* under MPI */
    int rank, world;
    FILE *metrics, *log;      /* rank 0 only */
    double started;
    int stop_signal;          /* SIGINT / SIGTERM received (under MPI: by any rank, agreed each step) */
} clm_run;

static vt_optimizer *make_optimizer(vt_gpt2 *m, const vt_clm_train_options *o) {
    vt_optimizer_config cfg;
    vt_optimizer_config_default("adamw", &cfg);
    cfg.learning_rate = o->lr;
    cfg.weight_decay = o->weight_decay;
    cfg.beta1 = 0.9f;
    cfg.beta2 = 0.999f;
    cfg.epsilon = o->adam_epsilon;
    cfg.n_no_decay = vt_gpt2_no_decay(&cfg.no_decay);
    cfg.clip_norm = o->clip_norm;
    cfg.schedule = VT_SCHED_LINEAR_WARMUP_DECAY;
    cfg.warmup_steps = o->warmup_steps;
    cfg.total_steps = o->steps;
    size_t n_params;
    const vt_param_info *infos = vt_gpt2_param_infos(m, &n_params);
    int64_t n;
    vt_gpt2_params(m, &n);
    return vt_optimizer_new(&cfg, n, infos, n_params);
}

static void metrics_line(clm_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void metrics_line(clm_run *r, const char *fmt, ...) {
    if (!r->metrics) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->metrics, fmt, ap);
    va_end(ap);
    fputc('\n', r->metrics);
    fflush(r->metrics);
}

static vt_status write_gpt2(const void *m, const char *dir) { return vt_gpt2_save(m, dir); }

static vt_status save_final(clm_run *r) {
    if (r->rank != 0) return VT_OK;
    vt_status st = vt_gpt2_save(r->m, r->o->out_dir);
    if (st == VT_OK && r->o->tokenizer_dir) st = vt_bert_copy_tokenizer_files(r->o->tokenizer_dir, r->o->out_dir, NULL);
    return st;
}

static vt_status checkpoint(clm_run *r, int64_t step) {
    if (r->rank != 0) return VT_OK;
    int64_t n;
    vt_gpt2_params(r->m, &n);
    vt_status st = vt_ckpt_save_model(r->o->out_dir, step, write_gpt2, r->m, r->opt, n, r->o->tokenizer_dir, NULL,
                                      r->o->args_json);
    return st == VT_OK ? vt_ckpt_prune(r->o->out_dir, r->o->keep_checkpoints) : st;
}

vt_status vt_clm_evaluate(vt_gpt2 *model, vt_pt_clm_reader *eval, int64_t n, int64_t batch, double *loss,
                          double *perplexity) {
    if (!model || !eval || n < 1 || batch < 1)
        return vt_error(VT_ERR_INVALID_ARG, "vt_clm_evaluate: a model, held-out blocks and a batch size are needed");
    const int64_t T = vt_pt_clm_block_length(eval);
    double sum = 0;
    int64_t counted = 0;
    for (int64_t first = 0; first < n; first += batch) {
        int64_t count = n - first < batch ? n - first : batch;
        const int32_t *ids;
        vt_status st = vt_pt_clm_batch(eval, first, count, &ids);
        vt_gpt2_batch b = {.batch = count, .seq_len = T, .input_ids = ids, .labels = ids};
        vt_gpt2_outputs out;
        if (st == VT_OK) st = vt_gpt2_loss(model, &b, &out); /* no (B*T, V) logits */
        if (st != VT_OK) return st;
        sum += out.loss * (double)out.counted;
        counted += out.counted;
    }
    *loss = sum / (double)(counted ? counted : 1);
    *perplexity = exp(*loss);
    return VT_OK;
}

/* One optimizer step over grad_accum micro-batches of every rank. */
static vt_status train_step(clm_run *r, int64_t step, double *loss, int64_t *tokens, float *grad_norm) {
    const vt_clm_train_options *o = r->o;
    const int64_t T = vt_pt_clm_block_length(o->train);
    double total = 0;
    vt_status st = VT_OK;
    if (r->reducer) vt_dist_reducer_begin(r->reducer);
    for (int64_t micro = 0; micro < o->grad_accum && st == VT_OK; micro++) {
        int64_t index = step * o->grad_accum + micro;
        const int32_t *ids;
        st = vt_pt_clm_rank_batch(o->train, index, r->rank, r->world, o->batch_size, &ids);
        vt_gpt2_batch b = {.batch = o->batch_size, .seq_len = T, .input_ids = ids, .labels = ids};
        vt_gpt2_outputs out;
        /* Dropout seeded per micro-batch (and rank: rank 0 keeps the one-process draw). */
        uint64_t seed = vt_hash64(o->seed, (uint64_t)index);
        if (r->rank) seed = vt_hash64(seed, (uint64_t)r->rank);
        /* forward and backward at once: the head in chunks, no (B*T, V) logits */
        if (st == VT_OK) st = vt_gpt2_train_step(r->m, &b, seed, micro > 0, &out);
        if (st == VT_ERR_NUMERIC) st = vt_error(st, "step %" PRId64 ": the loss is not finite", step + 1);
        if (st == VT_OK) total += out.loss;
    }
    /* A failure on one rank must not leave the others waiting in the reduction: agree on it first. */
    if (r->world > 1) {
        double sums[2] = {total, st != VT_OK};
        vt_status cs = vt_dist_allreduce_sum_f64(sums, 2);
        if (cs != VT_OK) return cs;
        if (st != VT_OK) return st;
        if (sums[1] > 0) return vt_error(VT_ERR_STATE, "step %" PRId64 ": another rank failed (see its message)", step + 1);
        total = sums[0];
        if ((st = vt_dist_reducer_finish(r->reducer)) != VT_OK) return st;
        double signal = stop_signal_received();
        if ((st = vt_dist_allreduce_max_f64(&signal, 1)) != VT_OK) return st;
        r->stop_signal = (int)signal;
    } else {
        r->stop_signal = stop_signal_received();
    }
    if (st != VT_OK) return st;
    *tokens = o->batch_size * r->world * o->grad_accum * (T - 1); /* the targets scored */
    *loss = total / (double)(o->grad_accum * r->world);
    int64_t n;
    float *g = vt_gpt2_grads(r->m, &n);
    vt_grads_average(g, n, o->grad_accum * r->world);
    st = vt_optimizer_step(r->opt, vt_gpt2_params(r->m, NULL), g, grad_norm);
    if (st == VT_ERR_NUMERIC) return vt_error(st, "step %" PRId64 ": the gradient is not finite", step + 1);
    return st;
}

/* Replaces the model and optimizer with OUT's latest checkpoint; *start gets its step. */
static vt_status resume(clm_run *r, vt_gpt2 **model, int64_t *start) {
    char dir[4096];
    if (vt_ckpt_latest(r->o->out_dir, dir, sizeof dir) < 0)
        return vt_error(VT_ERR_INVALID_ARG, "--resume: %s holds no checkpoint", r->o->out_dir);
    vt_gpt2 *m = vt_gpt2_load(dir);
    if (!m) return vt_last_status();
    vt_status st = vt_gpt2_set_precision(m, vt_gpt2_get_precision(*model));
    vt_optimizer *opt = st == VT_OK ? make_optimizer(m, r->o) : NULL;
    int64_t n;
    vt_gpt2_params(m, &n);
    if (st == VT_OK && !opt) st = vt_last_status();
    if (st == VT_OK) st = vt_ckpt_load_state(dir, opt, n, start, NULL);
    if (st != VT_OK) {
        vt_optimizer_free(opt);
        vt_gpt2_free(m);
        return st;
    }
    vt_gpt2_free(*model);
    vt_optimizer_free(r->opt);
    *model = r->m = m;
    r->opt = opt;
    if (r->log) fprintf(r->log, "resuming from %s (step %" PRId64 ")\n", dir, *start);
    return VT_OK;
}

static vt_status validate(const vt_clm_train_options *o) {
    if (!o->out_dir || !o->train) return vt_error(VT_ERR_INVALID_ARG, "clm training: an output directory and training blocks are required");
    if (o->steps < 1 || o->batch_size < 1 || o->grad_accum < 1 || o->log_every < 1 || o->keep_checkpoints < 1 ||
        o->eval_every < 0 || o->save_every < 0 || (o->eval && (o->eval_size < 1 || o->eval_blocks < 1)))
        return vt_error(VT_ERR_INVALID_ARG, "clm training: steps, batch size, accumulation, log interval, checkpoints "
                                            "kept and held-out blocks must be positive");
    if (o->warmup_steps < 0 || o->warmup_steps > o->steps)
        return vt_error(VT_ERR_INVALID_ARG, "clm training: warmup steps %" PRId64 " must be within 0..%" PRId64,
                        o->warmup_steps, o->steps);
    return VT_OK;
}

static vt_status start_run(clm_run *r, vt_gpt2 **model, int64_t *start) {
    const vt_clm_train_options *o = r->o;
    vt_status st = VT_OK;
    int64_t T = vt_pt_clm_block_length(o->train);
    if (T > vt_gpt2_get_config(r->m)->n_positions)
        return vt_error(VT_ERR_INVALID_ARG, "the blocks hold %" PRId64 " tokens, more than the model's %" PRId64
                        " positions", T, vt_gpt2_get_config(r->m)->n_positions);
    if (r->rank == 0 && (st = vt_mkdir_p(o->out_dir)) != VT_OK) return st;
    if (!(r->opt = make_optimizer(r->m, o))) return vt_last_status();
    *start = 0;
    if (o->resume && (st = resume(r, model, start)) != VT_OK) return st;
    if (r->world > 1) {
        int64_t n;
        float *g = vt_gpt2_grads(r->m, &n);
        if (!(r->reducer = vt_dist_reducer_new(g, n, DEFAULT_BUCKET, NULL))) return vt_last_status();
        /* Every rank starts from rank 0's parameters and moments. */
        st = vt_dist_bcast_f32(vt_gpt2_params(r->m, NULL), n, 0);
        for (int which = 0; which < 2 && st == VT_OK; which++)
            if (vt_optimizer_state(r->opt, which)) st = vt_dist_bcast_f32(vt_optimizer_state(r->opt, which), n, 0);
        if (st != VT_OK) return st;
    }
    if (r->rank == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/metrics.jsonl", o->out_dir);
        if (!(r->metrics = fopen(path, *start ? "a" : "w")))
            return vt_error(VT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    return VT_OK;
}

static vt_status evaluate(clm_run *r, int64_t step) {
    const vt_clm_train_options *o = r->o;
    double loss, ppl;
    int64_t n = o->eval_blocks < o->eval_size ? o->eval_blocks : o->eval_size;
    vt_status st = vt_clm_evaluate(r->m, o->eval, n, o->batch_size, &loss, &ppl);
    if (st != VT_OK) return st;
    metrics_line(r, "{\"step\": %" PRId64 ", \"eval\": true, \"eval_loss\": %.6g, \"perplexity\": %.6g, \"elapsed_s\": %.3f}",
                 step, loss, ppl, vt_now() - r->started);
    if (r->log) fprintf(r->log, "[eval] step %" PRId64 " - eval_loss: %.4f - perplexity: %.3f\n", step, loss, ppl);
    return VT_OK;
}

vt_status vt_clm_train(vt_gpt2 **model, const vt_clm_train_options *o, bool *stopped) {
    if (stopped) *stopped = false;
    vt_status st = model && *model ? validate(o) : vt_error(VT_ERR_INVALID_ARG, "vt_clm_train: no model");
    if (st != VT_OK) return st;
    clm_run r = {.o = o, .m = *model, .rank = vt_dist_rank(), .world = vt_dist_size()};
    r.log = r.rank == 0 ? o->log : NULL;
    int64_t start = 0;
    st = start_run(&r, model, &start);
    vt_progress bar;
    vt_progress_start(&bar, r.log ? r.log : stderr, o->steps, NULL);
    if (!r.log) bar.tty = false;
    bar.done = start;
    stop_watch watch;
    stop_watch_begin(&watch);
    double window_start = r.started = vt_now();
    int64_t window_tokens = 0, step = start;
    for (; st == VT_OK && step < o->steps && !r.stop_signal; step++) {
        double loss = NAN;
        int64_t tokens = 0;
        float grad_norm = NAN, lr = vt_optimizer_current_lr(r.opt);
        if ((st = train_step(&r, step, &loss, &tokens, &grad_norm)) != VT_OK) break;
        window_tokens += tokens;
        int64_t done = step + 1;
        if (done % o->log_every == 0 || done == o->steps) {
            double now = vt_now(), rate = (double)window_tokens / fmax(now - window_start, 1e-9);
            metrics_line(&r,
                         "{\"step\": %" PRId64 ", \"loss\": %.8g, \"lr\": %.6g, \"grad_norm\": %.8g, "
                         "\"tokens_per_sec\": %.1f, \"ranks\": %d, \"elapsed_s\": %.3f}",
                         done, loss, lr, grad_norm, rate, r.world, now - r.started);
            vt_progress_set(&bar, "loss", loss);
            vt_progress_set(&bar, "tok/s", rate);
            window_start = now;
            window_tokens = 0;
        }
        if (r.log) vt_progress_update(&bar, done);
        if (o->eval && ((o->eval_every > 0 && done % o->eval_every == 0) || done == o->steps)) st = evaluate(&r, done);
        if (st == VT_OK && ((o->save_every > 0 && done % o->save_every == 0) || r.stop_signal))
            st = checkpoint(&r, done);
        if (st == VT_OK && r.stop_signal && r.log)
            fprintf(r.log, "\nstopped by signal %d after step %" PRId64 "; checkpoint saved in %s\n", r.stop_signal,
                    done, o->out_dir);
    }
    stop_watch_end(&watch);
    if (stopped) *stopped = r.stop_signal != 0;
    /* a stopped run's result is its checkpoint: --resume continues it */
    if (st == VT_OK && !r.stop_signal) {
        if (r.log) vt_progress_finish(&bar);
        st = save_final(&r);
    }
    if (r.metrics) fclose(r.metrics);
    vt_optimizer_free(r.opt);
    vt_dist_reducer_free(r.reducer);
    return st;
}
