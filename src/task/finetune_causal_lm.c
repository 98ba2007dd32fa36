/* Causal-LM fine-tuning of a GPT-2 on prompt/completion examples, with a
 * LoRA adapter or all weights (verto/causal_lm.h): shuffled right-padded
 * batches, AdamW over the trainable buffer (the adapter's, or the model's),
 * gradient accumulation, clipping, a dev loss and perplexity per epoch in
 * metrics.jsonl, checkpoints with exact resumption, a clean stop on
 * SIGINT/SIGTERM, data parallelism under MPI, and the result written as PEFT
 * or Hugging Face files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/causal_lm.h"
#include "verto/checkpoint.h"
#include "verto/dist.h"
#include "verto/fileio.h"
#include "verto/progress.h"
#include "verto/rng.h"

#include "train/optim_internal.h"
#include "train/stop_signal.h"

#define IGNORE (-100)

void vt_clm_options_default(vt_clm_options *o) {
    *o = (vt_clm_options){.epochs = 1, .batch_size = 8, .grad_accum = 1, .lr = 2e-4f, .max_grad_norm = 1.0f,
                          .seed = 42, .precision = VT_PRECISION_FP32,
                          .lora = {.rank = 8, .alpha = 16, .dropout = 0.05f, .targets = VT_GPT2_LORA_C_ATTN},
                          .keep_checkpoints = 2};
}

/* A right-padded batch of examples order[0..n) of set: ids (n, T) padded with
 * the eos id, mask, labels -100 on prompts and padding. */
typedef struct clm_batch {
    int32_t *ids, *mask, *labels; /* (cap_rows) each */
    int64_t cap_rows;
} clm_batch;

static vt_status fill_batch(clm_batch *b, const vt_clm_set *set, const size_t *order, int64_t n, vt_gpt2_batch *in) {
    int64_t T = 1;
    for (int64_t i = 0; i < n; i++)
        if (set->ex[order[i]].len > T) T = set->ex[order[i]].len;
    if (n * T > b->cap_rows) {
        int64_t cap = n * T;
        int32_t *ids = realloc(b->ids, (size_t)cap * sizeof *ids);
        if (ids) b->ids = ids;
        int32_t *mask = realloc(b->mask, (size_t)cap * sizeof *mask);
        if (mask) b->mask = mask;
        int32_t *labels = realloc(b->labels, (size_t)cap * sizeof *labels);
        if (labels) b->labels = labels;
        if (!ids || !mask || !labels) return vt_error(VT_ERR_NOMEM, "out of memory for a batch of %lld x %lld", (long long)n, (long long)T);
        b->cap_rows = cap;
    }
    for (int64_t i = 0; i < n; i++) {
        const vt_clm_example *e = &set->ex[order[i]];
        int32_t pad = e->ids[e->len - 1];
        for (int64_t t = 0; t < T; t++) {
            bool real = t < e->len;
            b->ids[i * T + t] = real ? e->ids[t] : pad;
            b->mask[i * T + t] = real;
            b->labels[i * T + t] = real && t >= e->prompt_len ? e->ids[t] : IGNORE;
        }
    }
    *in = (vt_gpt2_batch){.batch = n, .seq_len = T, .input_ids = b->ids, .attention_mask = b->mask, .labels = b->labels};
    return VT_OK;
}

static void batch_free(clm_batch *b) {
    free(b->ids);
    free(b->mask);
    free(b->labels);
}

vt_status vt_clm_set_evaluate(vt_gpt2 *m, const vt_clm_set *set, int64_t batch_size, double *loss) {
    if (!m || !set || !loss || batch_size < 1) return vt_error(VT_ERR_INVALID_ARG, "vt_clm_set_evaluate: bad arguments");
    size_t *order = malloc((set->n + 1) * sizeof *order);
    if (!order) return vt_error(VT_ERR_NOMEM, "out of memory evaluating");
    for (size_t i = 0; i < set->n; i++) order[i] = i;
    clm_batch b = {0};
    double sum = 0;
    int64_t count = 0;
    vt_status st = VT_OK;
    for (size_t at = 0; at < set->n && st == VT_OK; at += (size_t)batch_size) {
        int64_t n = (int64_t)(set->n - at) < batch_size ? (int64_t)(set->n - at) : batch_size;
        vt_gpt2_batch in;
        vt_gpt2_outputs out;
        if ((st = fill_batch(&b, set, order + at, n, &in)) == VT_OK && (st = vt_gpt2_loss(m, &in, &out)) == VT_OK) {
            sum += out.loss * (double)out.counted;
            count += out.counted;
        }
    }
    *loss = count ? sum / (double)count : NAN;
    batch_free(&b);
    free(order);
    return st;
}

/* The trainable buffer: the adapter's, or every weight of the model. */
typedef struct trainable {
    float *params, *grads;
    int64_t n;
    const vt_param_info *infos;
    size_t n_infos;
} trainable;

static trainable trainable_of(vt_gpt2 *m) {
    trainable t = {0};
    if (vt_gpt2_lora_get_config(m)) {
        t.params = vt_gpt2_lora_params(m, &t.n);
        t.grads = vt_gpt2_lora_grads(m, NULL);
        t.infos = vt_gpt2_lora_param_infos(m, &t.n_infos);
    } else {
        t.params = vt_gpt2_params(m, &t.n);
        t.grads = vt_gpt2_grads(m, NULL);
        t.infos = vt_gpt2_param_infos(m, &t.n_infos);
    }
    return t;
}

/* One metrics.jsonl line, flushed so a run can be followed while it trains. */
static vt_status log_line(FILE *f, const char *path, const char *line) {
    return fputs(line, f) >= 0 && fflush(f) == 0 ? VT_OK : vt_error(VT_ERR_IO, "writing %s failed", path);
}

static vt_status check_options(const vt_clm_set *train, const vt_clm_options *o) {
    if (!train || !o || !o->out_dir) return vt_error(VT_ERR_INVALID_ARG, "vt_clm_finetune: no data, options or output");
    if (train->n == 0) return vt_error(VT_ERR_INVALID_ARG, "the training set holds no examples");
    if (o->epochs < 1 || o->batch_size < 1 || o->grad_accum < 1)
        return vt_error(VT_ERR_INVALID_ARG, "epochs, batch size and accumulation must be positive");
    if (!(o->lr > 0) || !(o->warmup_ratio >= 0 && o->warmup_ratio <= 1) || !(o->weight_decay >= 0) || !(o->max_grad_norm >= 0))
        return vt_error(VT_ERR_INVALID_ARG, "lr must be positive, warmup ratio in [0, 1], decay and clipping >= 0");
    if (o->save_every < 0 || o->keep_checkpoints < 1)
        return vt_error(VT_ERR_INVALID_ARG, "the checkpoint interval must be >= 0 and at least 1 checkpoint kept");
    return VT_OK;
}

/* The ids must be the model's: a tokenizer with a bigger vocabulary than the config is refused early. */
static vt_status check_ids(const vt_gpt2 *m, const vt_clm_set *s, const char *what) {
    int64_t V = vt_gpt2_get_config(m)->vocab_size, P = vt_gpt2_get_config(m)->n_positions;
    for (size_t i = 0; s && i < s->n; i++) {
        if (s->ex[i].len > P)
            return vt_error(VT_ERR_INVALID_ARG, "%s example %zu: %d tokens exceed the model's %lld positions; lower "
                            "--max-seq-length", what, i + 1, s->ex[i].len, (long long)P);
        for (int32_t t = 0; t < s->ex[i].len; t++)
            if (s->ex[i].ids[t] < 0 || s->ex[i].ids[t] >= V)
                return vt_error(VT_ERR_INVALID_ARG, "%s example %zu: token id %d is outside the model's vocabulary of %lld",
                                what, i + 1, s->ex[i].ids[t], (long long)V);
    }
    return VT_OK;
}

/* What a checkpoint and the result hold: the adapter (PEFT files naming the
 * base) or the whole model. */
typedef struct result_model {
    vt_gpt2 *m;
    const char *base_dir;
} result_model;

static vt_status write_result(const void *p, const char *dir) {
    const result_model *r = p;
    return vt_gpt2_lora_get_config(r->m) ? vt_gpt2_lora_save(r->m, dir, r->base_dir) : vt_gpt2_save(r->m, dir);
}

static vt_status checkpoint(const result_model *r, const vt_clm_options *o, vt_optimizer *opt, int64_t n, int64_t step) {
    vt_status st = vt_ckpt_save_model(o->out_dir, step, write_result, r, opt, n, r->base_dir, NULL, o->args_json);
    if (st == VT_OK) st = vt_ckpt_prune(o->out_dir, o->keep_checkpoints);
    if (st == VT_OK && o->log) fprintf(o->log, "checkpoint %s/checkpoint-%lld\n", o->out_dir, (long long)step);
    return st;
}

static void shuffle(size_t *order, size_t n, vt_rng *rng) {
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)vt_rng_below(rng, i), k = order[i - 1];
        order[i - 1] = order[j];
        order[j] = k;
    }
}

/* Rows of global micro-batch bi that rank r takes: batch_size of every
 * batch_size x world, fewer (or none) in an epoch's last one. */
static int64_t rows_of(const vt_clm_set *train, int64_t batch_size, int world, int64_t bi, int r) {
    int64_t at = (bi * world + r) * batch_size, left = (int64_t)train->n - at;
    return left <= 0 ? 0 : left < batch_size ? left : batch_size;
}

/* Sums of the ranks' loss and tokens, and the largest stop signal. */
static vt_status combine(int world, double *loss_sum, double *tokens, int *signal) {
    double sums[2] = {*loss_sum, *tokens}, sig = stop_signal_received();
    if (world > 1) {
        vt_status st = vt_dist_allreduce_sum_f64(sums, 2);
        if (st == VT_OK) st = vt_dist_allreduce_max_f64(&sig, 1);
        if (st != VT_OK) return st;
    }
    *loss_sum = sums[0];
    *tokens = sums[1];
    *signal = (int)sig;
    return VT_OK;
}

/* Trains from update `start` (0, or a resumed checkpoint's, whose optimizer
 * state ckpt_dir holds) to the end. Every epoch's order is drawn from one
 * seeded generator and every micro-batch's dropout from its rows' place in
 * it, so starting anywhere gives the same updates as running through. Under MPI a
 * global micro-batch is batch_size rows per rank; an update's gradient is the
 * mean over the micro-batches of every rank and accumulation step that hold
 * rows (as transformers' Trainer under DDP); rank 0 writes. */
static vt_status train_loop(const result_model *res, const vt_clm_set *train, const vt_clm_set *dev,
                            const vt_clm_options *o, const char *ckpt_dir, FILE *metrics, const char *metrics_path,
                            bool *stopped) {
    vt_gpt2 *m = res->m;
    trainable tr = trainable_of(m);
    const int rank = vt_dist_rank(), world = vt_dist_size();
    const bool lead = rank == 0;
    const int64_t global = o->batch_size * world;
    int64_t batches = (int64_t)((train->n + (size_t)global - 1) / (size_t)global);
    int64_t updates_per_epoch = (batches + o->grad_accum - 1) / o->grad_accum, total = updates_per_epoch * o->epochs;
    vt_optimizer_config oc;
    vt_optimizer_config_default("adamw", &oc);
    oc.learning_rate = o->lr;
    oc.weight_decay = o->weight_decay;
    oc.n_no_decay = vt_gpt2_no_decay(&oc.no_decay);
    oc.clip_norm = o->max_grad_norm;
    oc.schedule = o->constant_schedule ? VT_SCHED_CONSTANT : VT_SCHED_LINEAR_WARMUP_DECAY;
    oc.warmup_steps = (int64_t)ceil(o->warmup_ratio * (double)total);
    oc.total_steps = total;
    vt_optimizer *opt = vt_optimizer_new(&oc, tr.n, tr.infos, tr.n_infos);
    size_t *order = malloc(train->n * sizeof *order);
    clm_batch b = {0};
    vt_dist_reducer *reducer = NULL;
    vt_status st = opt && order ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for the optimizer");
    int64_t step = 0;
    if (st == VT_OK && ckpt_dir) st = vt_ckpt_load_state(ckpt_dir, opt, tr.n, &step, NULL);
    if (st == VT_OK && step > total)
        st = vt_error(VT_ERR_INVALID_ARG, "--resume: %s is at update %lld, past this run's %lld (%lld epochs of %lld)",
                      ckpt_dir, (long long)step, (long long)total, (long long)o->epochs, (long long)updates_per_epoch);
    if (st == VT_OK && world > 1) { /* every rank starts from rank 0's weights and state */
        if (!(reducer = vt_dist_reducer_new(tr.grads, tr.n, (int64_t)1 << 22, NULL))) st = vt_last_status();
        if (st == VT_OK) st = vt_dist_bcast_f32(tr.params, tr.n, 0);
        for (int which = 0; which < 2 && st == VT_OK; which++)
            if (vt_optimizer_state(opt, which)) st = vt_dist_bcast_f32(vt_optimizer_state(opt, which), tr.n, 0);
    }
    vt_rng rng;
    vt_rng_seed(&rng, o->seed ^ 0x5eed);
    stop_watch watch;
    stop_watch_begin(&watch);
    double t0 = vt_now(), tokens = 0;
    for (int64_t epoch = 1; epoch <= o->epochs && st == VT_OK; epoch++) {
        shuffle(order, train->n, &rng); /* drawn for the epochs a resumed run skips too */
        int64_t first_update = (epoch - 1) * updates_per_epoch;
        if (step >= first_update + updates_per_epoch) continue; /* done before the checkpoint */
        for (int64_t g = step - first_update; g < updates_per_epoch && st == VT_OK; g++) {
            int64_t b0 = g * o->grad_accum, b1 = b0 + o->grad_accum < batches ? b0 + o->grad_accum : batches;
            int contributing = 0; /* micro-batches of every rank with rows: the gradient's divisor */
            for (int64_t bi = b0; bi < b1; bi++)
                for (int r = 0; r < world; r++) contributing += rows_of(train, o->batch_size, world, bi, r) > 0;
            double loss_sum = 0, group_tokens = 0;
            bool fresh = true; /* no micro-batch of this rank has written the gradient yet */
            if (reducer) vt_dist_reducer_begin(reducer);
            for (int64_t bi = b0; bi < b1 && st == VT_OK; bi++) {
                int64_t n = rows_of(train, o->batch_size, world, bi, rank);
                if (!n) continue;
                vt_gpt2_batch in;
                vt_gpt2_outputs out;
                int64_t at = (bi * world + rank) * o->batch_size; /* the first row's place in the epoch's order */
                if ((st = fill_batch(&b, train, order + at, n, &in)) != VT_OK) break;
                /* forward and backward at once: the head in chunks, no (B*T, V) logits; dropout drawn by the
                 * rows' place, so the same rows get the same masks whichever rank or accumulation step runs them */
                uint64_t seed = vt_hash64(o->seed, (uint64_t)(epoch - 1) * train->n + (uint64_t)at);
                if ((st = vt_gpt2_train_step(m, &in, seed, !fresh, &out)) != VT_OK) break;
                fresh = false;
                for (int64_t r = 0; r < in.batch * in.seq_len; r++) group_tokens += in.attention_mask[r];
                loss_sum += out.loss;
            }
            if (st != VT_OK) break;
            if (fresh) memset(tr.grads, 0, (size_t)tr.n * sizeof *tr.grads); /* this rank had no rows */
            int sig = 0;
            if ((st = combine(world, &loss_sum, &group_tokens, &sig)) != VT_OK) break;
            if (reducer && (st = vt_dist_reducer_finish(reducer)) != VT_OK) break;
            /* the mean of the micro-batches' mean losses, as the Trainer divides by the accumulation */
            vt_grads_average(tr.grads, tr.n, contributing);
            float lr = vt_optimizer_current_lr(opt), norm = 0;
            if ((st = vt_optimizer_step(opt, tr.params, tr.grads, &norm)) != VT_OK) break;
            step++;
            tokens += group_tokens;
            double elapsed = vt_now() - t0, loss = loss_sum / contributing;
            if (lead) {
                char line[512];
                snprintf(line, sizeof line,
                         "{\"step\": %lld, \"epoch\": %lld, \"elapsed_s\": %.3f, \"loss\": %.6f, \"lr\": %.6g, "
                         "\"grad_norm\": %.6g, \"tokens_per_sec\": %.1f}\n",
                         (long long)step, (long long)epoch, elapsed, loss, lr, norm, elapsed > 0 ? tokens / elapsed : 0.0);
                if ((st = log_line(metrics, metrics_path, line)) != VT_OK) break;
                if (o->log) fprintf(o->log, "epoch %lld step %lld/%lld loss %.4f lr %.3g\n", (long long)epoch,
                                    (long long)step, (long long)total, loss, lr);
            }
            bool epoch_end = step == first_update + updates_per_epoch;
            if (lead && (sig || (o->save_every && step % o->save_every == 0 && !epoch_end)))
                st = checkpoint(res, o, opt, tr.n, step);
            if (st == VT_OK && sig) {
                if (lead && o->log)
                    fprintf(o->log, "stopped by signal %d after update %lld; --resume continues from %s/checkpoint-%lld\n",
                            sig, (long long)step, o->out_dir, (long long)step);
                if (stopped) *stopped = true;
                goto done;
            }
        }
        if (st != VT_OK) break;
        if (dev && dev->n) { /* every rank evaluates (none waits on rank 0's); rank 0 writes */
            double dev_loss;
            if ((st = vt_clm_set_evaluate(m, dev, o->batch_size, &dev_loss)) != VT_OK) break;
            char line[256];
            snprintf(line, sizeof line, "{\"step\": %lld, \"eval\": true, \"epoch\": %lld, \"elapsed_s\": %.3f, "
                     "\"dev_loss\": %.6f, \"dev_perplexity\": %.6f}\n", (long long)step, (long long)epoch,
                     vt_now() - t0, dev_loss, exp(dev_loss));
            if (lead && (st = log_line(metrics, metrics_path, line)) != VT_OK) break;
            if (lead && o->log)
                fprintf(o->log, "epoch %lld: dev loss %.4f perplexity %.3f\n", (long long)epoch, dev_loss, exp(dev_loss));
        }
        /* after the dev line, so a run resumed here starts the next epoch; the last epoch's result is the output */
        if (lead && epoch < o->epochs) st = checkpoint(res, o, opt, tr.n, step);
    }
done:
    stop_watch_end(&watch);
    vt_dist_reducer_free(reducer);
    batch_free(&b);
    free(order);
    vt_optimizer_free(opt);
    return st;
}

/* The model to train: the base with a fresh adapter, or (resuming) the base
 * with the checkpoint's adapter, or the checkpoint's whole model. */
static vt_gpt2 *load_model(const char *model_dir, const char *ckpt_dir, const vt_clm_options *o) {
    bool lora = o->lora.rank > 0;
    vt_gpt2 *m = vt_gpt2_load(ckpt_dir && !lora ? ckpt_dir : model_dir);
    vt_status st = m ? vt_gpt2_set_precision(m, o->precision) : vt_last_status();
    if (st == VT_OK && lora && !ckpt_dir) st = vt_gpt2_lora_add(m, &o->lora, o->seed);
    if (st == VT_OK && lora && ckpt_dir && (st = vt_gpt2_lora_load(m, ckpt_dir)) == VT_OK) {
        const vt_gpt2_lora_config *c = vt_gpt2_lora_get_config(m);
        if (c->rank != o->lora.rank || c->targets != o->lora.targets || c->alpha != o->lora.alpha)
            st = vt_error(VT_ERR_INVALID_ARG, "--resume: %s holds an adapter of rank %lld, alpha %g; this run asks for "
                          "rank %lld, alpha %g (and the same targets): resume with the options it was started with",
                          ckpt_dir, (long long)c->rank, (double)c->alpha, (long long)o->lora.rank, (double)o->lora.alpha);
    }
    if (st == VT_OK && !lora && ckpt_dir && vt_gpt2_lora_get_config(m))
        st = vt_error(VT_ERR_INVALID_ARG, "--resume: %s holds an adapter; this run is a full fine-tuning", ckpt_dir);
    if (st != VT_OK) {
        vt_gpt2_free(m);
        return NULL;
    }
    return m;
}

vt_status vt_clm_finetune(const char *model_dir, const vt_clm_set *train, const vt_clm_set *dev, const vt_clm_options *o,
                          bool *stopped) {
    if (stopped) *stopped = false;
    vt_status st = check_options(train, o);
    if (st != VT_OK) return st;
    char ckpt[4096], metrics[4096];
    const char *ckpt_dir = NULL;
    if (o->resume) {
        if (vt_ckpt_latest(o->out_dir, ckpt, sizeof ckpt) < 0)
            return vt_error(VT_ERR_INVALID_ARG, "--resume: %s holds no checkpoint", o->out_dir);
        ckpt_dir = ckpt;
        if (o->log) fprintf(o->log, "resuming from %s\n", ckpt_dir);
    }
    vt_gpt2 *m = load_model(model_dir, ckpt_dir, o);
    if (!m) return vt_last_status();
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", o->out_dir);
    const bool lead = vt_dist_rank() == 0; /* under MPI rank 0 writes */
    if ((st = check_ids(m, train, "training")) == VT_OK) st = check_ids(m, dev, "dev");
    if (st == VT_OK && lead) st = vt_mkdir_p(o->out_dir);
    FILE *metrics_file = NULL; /* a fresh run's log, or the resumed run's continued */
    if (st == VT_OK && lead && !(metrics_file = fopen(metrics, ckpt_dir ? "a" : "w")))
        st = vt_error(VT_ERR_IO, "cannot create %s", metrics);
    result_model res = {m, model_dir};
    bool stop = false;
    if (st == VT_OK) st = train_loop(&res, train, dev, o, ckpt_dir, metrics_file, metrics, &stop);
    if (metrics_file && fclose(metrics_file) != 0 && st == VT_OK) st = vt_error(VT_ERR_IO, "writing %s failed", metrics);
    if (st == VT_OK && !stop && lead) st = write_result(&res, o->out_dir);
    if (st == VT_OK && !stop && lead) st = vt_bert_copy_tokenizer_files(model_dir, o->out_dir, NULL);
    if (stopped) *stopped = stop;
    vt_gpt2_free(m);
    return st;
}
