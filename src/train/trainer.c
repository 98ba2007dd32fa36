/* The training loop shared by pretrain and finetune (see verto/trainer.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "verto/checkpoint.h"
#include "verto/fileio.h"
#include "verto/progress.h"
#include "verto/rng.h"
#include "verto/trainer.h"

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) { stop_requested = sig; }

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

static vt_optimizer *make_optimizer(vt_bert *b, const vt_trainer_options *o) {
    static const char *const NO_DECAY[] = {"bias", "LayerNorm"};
    vt_optimizer_config cfg;
    vt_optimizer_config_default("adamw", &cfg);
    cfg.learning_rate = o->lr;
    cfg.weight_decay = o->weight_decay;
    cfg.beta1 = 0.9f;
    cfg.beta2 = 0.999f;
    cfg.epsilon = o->adam_epsilon;
    cfg.no_decay = NO_DECAY;
    cfg.n_no_decay = 2;
    cfg.clip_norm = o->clip_norm;
    cfg.schedule = VT_SCHED_LINEAR_WARMUP_DECAY;
    cfg.warmup_steps = o->warmup_steps;
    cfg.total_steps = o->steps;
    size_t n_params;
    const vt_param_info *infos = vt_bert_param_infos(b, &n_params);
    int64_t n_floats;
    vt_bert_params(b, &n_floats);
    return vt_optimizer_new(&cfg, n_floats, infos, n_params);
}

typedef struct run {
    const vt_trainer_options *o;
    vt_bert *b;
    vt_optimizer *opt;
    FILE *metrics;
    vt_progress bar;
    double best_score;
    int64_t evals_without_gain;
} run;

static void metrics_line(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void metrics_line(run *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->metrics, fmt, ap);
    va_end(ap);
    fputc('\n', r->metrics);
    fflush(r->metrics);
}

static vt_status save_model(run *r, const char *dir) {
    vt_status st = vt_bert_save(r->b, dir);
    if (st == VT_OK && r->o->tokenizer_dir) st = vt_bert_copy_tokenizer_files(r->o->tokenizer_dir, dir);
    return st;
}

static vt_status checkpoint(run *r, int64_t step) {
    vt_status st = vt_ckpt_save(r->o->out_dir, step, r->b, r->opt, r->o->tokenizer_dir, r->o->args_json);
    if (st == VT_OK) st = vt_ckpt_prune(r->o->out_dir, r->o->keep_checkpoints);
    return st;
}

/* Evaluates, logs, saves the best model; *stop when patience ran out. */
static vt_status evaluate(run *r, int64_t step, bool *stop) {
    vt_eval_result res = {0};
    vt_status st = r->o->evaluate(r->o->ctx, r->b, &res);
    if (st != VT_OK) return st;
    char line[1024];
    int used = snprintf(line, sizeof line, "{\"step\": %" PRId64 ", \"eval\": true", step);
    for (int i = 0; i < res.n && used < (int)sizeof line; i++)
        used += snprintf(line + used, sizeof line - (size_t)used, ", \"%s\": %.6g", res.names[i], res.values[i]);
    metrics_line(r, "%s}", line);
    if (r->o->log) {
        fprintf(r->o->log, "%s[eval] step %" PRId64, r->bar.tty ? "\r\033[K" : "", step);
        for (int i = 0; i < res.n; i++) fprintf(r->o->log, " - %s: %.4f", res.names[i], res.values[i]);
        fputc('\n', r->o->log);
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

/* One optimizer step over grad_accum micro-batches. */
static vt_status train_step(run *r, int64_t step, double *loss, int64_t *tokens, float *grad_norm) {
    const vt_trainer_options *o = r->o;
    double total = 0;
    *tokens = 0;
    for (int64_t micro = 0; micro < o->grad_accum; micro++) {
        int64_t index = step * o->grad_accum + micro, n_tokens = 0;
        vt_bert_batch batch;
        vt_bert_outputs out;
        vt_status st = o->get_batch(o->ctx, index * o->batch_size, o->batch_size, &batch, &n_tokens);
        if (st == VT_OK) st = vt_bert_forward(r->b, &batch, true, vt_hash64(o->seed, (uint64_t)index), &out);
        if (st == VT_ERR_NUMERIC || (st == VT_OK && !isfinite(out.loss)))
            return vt_error(VT_ERR_NUMERIC, "step %" PRId64 ": the loss is %s", step + 1,
                            st == VT_OK ? (isnan(out.loss) ? "NaN" : "infinite") : "not finite");
        if (st == VT_OK) st = vt_bert_backward(r->b, micro > 0);
        if (st != VT_OK) return st;
        total += out.loss;
        *tokens += n_tokens;
    }
    int64_t n;
    float *g = vt_bert_grads(r->b, &n);
    if (o->grad_accum > 1) {
        float scale = 1.0f / (float)o->grad_accum;
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) g[i] *= scale;
    }
    *loss = total / (double)o->grad_accum;
    vt_status st = vt_optimizer_step(r->opt, vt_bert_params(r->b, NULL), g, grad_norm);
    if (st == VT_ERR_NUMERIC) return vt_error(st, "step %" PRId64 ": the gradient is not finite", step + 1);
    return st;
}

static vt_status validate(const vt_trainer_options *o) {
    if (!o->out_dir || !o->get_batch) return vt_error(VT_ERR_INVALID_ARG, "trainer: an output directory and a data source are required");
    if (o->steps < 1 || o->batch_size < 1 || o->grad_accum < 1 || o->log_every < 1 || o->keep_checkpoints < 1)
        return vt_error(VT_ERR_INVALID_ARG, "trainer: steps, batch size, accumulation, log interval and checkpoints kept must be positive");
    if (o->warmup_steps < 0 || o->warmup_steps > o->steps)
        return vt_error(VT_ERR_INVALID_ARG, "trainer: warmup steps %" PRId64 " must be within 0..%" PRId64, o->warmup_steps, o->steps);
    return VT_OK;
}

/* Replaces the model and optimizer state with OUT's latest checkpoint; *start gets its step. */
static vt_status resume(run *r, vt_bert **model, int64_t *start) {
    char dir[4096];
    int64_t step = vt_ckpt_latest(r->o->out_dir, dir, sizeof dir);
    if (step < 0) return vt_error(VT_ERR_INVALID_ARG, "--resume: %s holds no checkpoint", r->o->out_dir);
    const vt_bert_config *c = vt_bert_get_config(*model);
    vt_bert *b = vt_bert_load(dir, (int)c->arch, c->num_labels, r->o->seed);
    if (!b) return vt_last_status();
    vt_bert_free(*model);
    *model = r->b = b;
    vt_bert_freeze_layers(b, r->o->freeze_layers);
    vt_optimizer_free(r->opt);
    if (!(r->opt = make_optimizer(b, r->o))) return vt_last_status();
    int64_t n;
    vt_bert_params(b, &n);
    vt_status st = vt_ckpt_load_state(dir, r->opt, n, start, NULL);
    if (st == VT_OK && r->o->log) fprintf(r->o->log, "resuming from %s (step %" PRId64 ")\n", dir, *start);
    return st;
}

vt_status vt_train(vt_bert **model, const vt_trainer_options *o, bool *stopped_early) {
    vt_status st = validate(o);
    if (st != VT_OK) return st;
    if ((st = vt_mkdir_p(o->out_dir)) != VT_OK) return st;
    run r = {.o = o, .b = *model, .best_score = -INFINITY};
    vt_bert_freeze_layers(r.b, o->freeze_layers);
    if (!(r.opt = make_optimizer(r.b, o))) return vt_last_status();
    int64_t start = 0;
    if (o->resume && (st = resume(&r, model, &start)) != VT_OK) {
        vt_optimizer_free(r.opt);
        return st;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", o->out_dir);
    if (!(r.metrics = fopen(path, start ? "a" : "w"))) {
        vt_optimizer_free(r.opt);
        return vt_error(VT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    struct sigaction act = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&act.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &act, &old_int);
    sigaction(SIGTERM, &act, &old_term);

    vt_progress_start(&r.bar, o->log ? o->log : stderr, o->steps, NULL);
    if (!o->log) r.bar.tty = false;
    r.bar.done = start;
    bool stop = false;
    double window_start = vt_now();
    int64_t window_tokens = 0, step = start;
    for (; step < o->steps && st == VT_OK && !stop; step++) {
        double loss = NAN;
        int64_t tokens = 0;
        float grad_norm = NAN;
        float lr = vt_optimizer_current_lr(r.opt);
        if ((st = train_step(&r, step, &loss, &tokens, &grad_norm)) != VT_OK) break;
        window_tokens += tokens;
        int64_t done = step + 1;
        if (done % o->log_every == 0 || done == o->steps) {
            double now = vt_now(), rate = window_tokens / fmax(now - window_start, 1e-9);
            metrics_line(&r, "{\"step\": %" PRId64 ", \"loss\": %.6g, \"lr\": %.6g, \"grad_norm\": %.6g, \"tokens_per_sec\": %.1f}",
                         done, loss, lr, grad_norm, rate);
            vt_progress_set(&r.bar, "loss", loss);
            vt_progress_set(&r.bar, "lr", lr);
            vt_progress_set(&r.bar, "tok/s", rate);
            window_start = now;
            window_tokens = 0;
        }
        if (o->log) vt_progress_update(&r.bar, done);
        if (o->evaluate && o->eval_every > 0 && (done % o->eval_every == 0 || done == o->steps))
            st = evaluate(&r, done, &stop);
        if (st == VT_OK && ((o->save_every > 0 && done % o->save_every == 0) || stop_requested))
            st = checkpoint(&r, done);
        if (stop_requested) {
            if (o->log) fprintf(o->log, "\nstopped by signal %d after step %" PRId64 "; checkpoint saved in %s\n",
                                (int)stop_requested, done, o->out_dir);
            stop = true;
        }
    }
    if (st == VT_OK && o->log) vt_progress_finish(&r.bar);
    if (st == VT_OK && !stop_requested && o->save_final) st = save_model(&r, o->out_dir);
    if (stopped_early) *stopped_early = stop;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    fclose(r.metrics);
    vt_optimizer_free(r.opt);
    return st;
}
