/* DP-SGD steps (see verto/dp.h): sampling, the exact clipped sum (one
 * backward per example; the fast one is dp_fast.c's), the noise. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "verto/dist.h"
#include "train/dp_internal.h"
#include "verto/fileio.h"
#include "verto/rng.h"

/* Separate random streams for batch sampling and noise, so neither shifts the other. */
#define SAMPLE_STREAM 0x53414d50ULL
#define NOISE_STREAM 0x4e4f4953ULL

struct vt_dp {
    vt_dp_options o;
    int64_t n_params;
    double *sum;       /* (n_params) clipped per-example gradients summed, then noise, in double */
    int64_t *order;    /* (examples) shuffle sampling's permutation of the current epoch */
    int64_t order_epoch;
};

double vt_dp_sample_rate(const vt_dp_options *o) {
    return o->examples > 0 ? (double)o->expected_batch / (double)o->examples : 0;
}

vt_dp *vt_dp_new(const vt_dp_options *o, vt_bert *b) {
    if (!o || !b) {
        vt_error(VT_ERR_INVALID_ARG, "vt_dp_new: options and a model are needed");
        return NULL;
    }
    if (!(o->noise_multiplier >= 0) || !isfinite(o->noise_multiplier) || !(o->max_grad_norm > 0) ||
        !isfinite(o->max_grad_norm)) {
        vt_error(VT_ERR_INVALID_ARG, "DP-SGD: the noise multiplier must be >= 0 and the clipping bound > 0 (got %g and %g)",
                 o->noise_multiplier, o->max_grad_norm);
        return NULL;
    }
    if (o->expected_batch < 1 || o->examples < o->expected_batch) {
        vt_error(VT_ERR_INVALID_ARG, "DP-SGD: the expected batch (%" PRId64 ") must be within 1..%" PRId64
                 " (the training examples)", o->expected_batch, o->examples);
        return NULL;
    }
    if (o->fast_method != VT_DP_BOOKKEEPING && o->fast_method != VT_DP_TWO_PASS) {
        vt_error(VT_ERR_INVALID_ARG, "DP-SGD: unknown fast method %d", (int)o->fast_method);
        return NULL;
    }
    if (o->micro_batch < 0) {
        vt_error(VT_ERR_INVALID_ARG, "DP-SGD: the micro-batch must be >= 0 (0: none), not %" PRId64, o->micro_batch);
        return NULL;
    }
    if (o->sampling != VT_DP_POISSON && o->sampling != VT_DP_SHUFFLE) {
        vt_error(VT_ERR_INVALID_ARG, "DP-SGD: unknown sampling %d", (int)o->sampling);
        return NULL;
    }
    vt_dp *dp = calloc(1, sizeof *dp);
    if (!dp) {
        vt_error(VT_ERR_NOMEM, "DP-SGD: out of memory");
        return NULL;
    }
    dp->o = *o;
    vt_bert_params(b, &dp->n_params);
    dp->sum = malloc((size_t)(dp->n_params ? dp->n_params : 1) * sizeof *dp->sum);
    dp->order = malloc((size_t)o->examples * sizeof *dp->order);
    dp->order_epoch = -1;
    if (!dp->sum || !dp->order) {
        vt_dp_free(dp);
        vt_error(VT_ERR_NOMEM, "DP-SGD: out of memory for %" PRId64 " parameters", dp->n_params);
        return NULL;
    }
    return dp;
}

void vt_dp_free(vt_dp *dp) {
    if (!dp) return;
    free(dp->sum);
    free(dp->order);
    free(dp);
}

const vt_dp_options *vt_dp_get_options(const vt_dp *dp) { return &dp->o; }

/* Under MPI each rank takes the sampled rows r with r % ranks == rank: every
 * rank draws the whole sample from the same stream, so the ranks' shares are
 * the one-process sample partitioned (the same q over the whole set). */
int64_t vt_dp_sample(vt_dp *dp, int64_t step, int64_t *rows) { /* dp: the shuffle's permutation, cached */
    const vt_dp_options *o = &dp->o;
    int64_t rank = vt_dist_rank(), ranks = vt_dist_size();
    vt_rng rng;
    if (o->sampling == VT_DP_POISSON) {
        double q = vt_dp_sample_rate(o);
        vt_rng_seed(&rng, vt_hash64(vt_hash64(o->seed, SAMPLE_STREAM), (uint64_t)step));
        int64_t count = 0;
        for (int64_t i = 0; i < o->examples; i++)
            if (vt_rng_uniform(&rng) < q && i % ranks == rank) rows[count++] = i;
        return count;
    }
    int64_t per_epoch = (o->examples + o->expected_batch - 1) / o->expected_batch, epoch = step / per_epoch;
    if (epoch != dp->order_epoch) {
        for (int64_t i = 0; i < o->examples; i++) dp->order[i] = i;
        vt_rng_seed(&rng, vt_hash64(vt_hash64(o->seed, SAMPLE_STREAM), (uint64_t)epoch));
        vt_rng_shuffle_i64(&rng, dp->order, o->examples);
        dp->order_epoch = epoch;
    }
    int64_t first = (step % per_epoch) * o->expected_batch;
    int64_t end = o->examples - first < o->expected_batch ? o->examples : first + o->expected_batch, count = 0;
    for (int64_t k = first + rank; k < end; k += ranks) rows[count++] = dp->order[k];
    return count;
}

/* Coordinates per noise stream: the flat gradient is cut into chunks of this
 * many, each drawn from its own stream seeded by (seed, step, chunk), so the
 * chunks are drawn in parallel and the noise does not depend on the threads. */
#define NOISE_CHUNK 16384

/* g = (sum + N(0, S^2 C^2)) / B on the trainable coordinates, 0 on the
 * others; sum is dp->sum, or g itself when the fast path left it there. */
static void add_noise(const vt_dp *dp, vt_bert *b, int64_t step, float *g, bool sum_in_g) {
    int64_t n = dp->n_params, chunks = (n + NOISE_CHUNK - 1) / NOISE_CHUNK;
    double std = dp->o.noise_multiplier * dp->o.max_grad_norm, scale = 1.0 / (double)dp->o.expected_batch;
    uint64_t stream = vt_hash64(vt_hash64(dp->o.seed, NOISE_STREAM), (uint64_t)step);
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < chunks; k++) {
        vt_rng noise;
        vt_rng_seed(&noise, vt_hash64(stream, (uint64_t)k));
        int64_t end = (k + 1) * NOISE_CHUNK < n ? (k + 1) * NOISE_CHUNK : n;
        double z[1024]; /* the chunk's normals, a block at a time (ziggurat: vt_rng_fill_normal) */
        for (int64_t at = k * NOISE_CHUNK; at < end; at += 1024) {
            int64_t m = end - at < 1024 ? end - at : 1024;
            if (std > 0) vt_rng_fill_normal(&noise, z, m);
            for (int64_t i = 0; i < m; i++) {
                double sum = sum_in_g ? (double)g[at + i] : dp->sum[at + i];
                g[at + i] = (float)((sum + (std > 0 ? std * z[i] : 0)) * scale);
            }
        }
    }
    size_t n_infos;
    const vt_param_info *infos = vt_bert_param_infos(b, &n_infos);
    for (size_t p = 0; p < n_infos; p++) /* frozen parameters get no gradient (and no noise) */
        if (!infos[p].trainable) memset(g + infos[p].offset, 0, (size_t)infos[p].numel * sizeof *g);
}

double dp_clip_factor(double max_grad_norm, double norm) { return fmin(1.0, max_grad_norm / (norm + 1e-6)); }

/* One example's gradient (in b's buffer), clipped and added to dp->sum; *clipped when it was scaled down. */
static vt_status add_example(vt_dp *dp, vt_bert *b, const vt_bert_batch *one, uint64_t seed, double *loss,
                             bool *clipped) {
    vt_bert_outputs out;
    vt_status st = vt_bert_forward(b, one, true, seed, &out);
    if (st != VT_OK) return st;
    if (!isfinite(out.loss)) return vt_error(VT_ERR_NUMERIC, "DP-SGD: an example's loss is not finite");
    if ((st = vt_bert_backward(b, false)) != VT_OK) return st;
    *loss = out.loss;
    size_t n_infos;
    const vt_param_info *infos = vt_bert_param_infos(b, &n_infos);
    const float *g = vt_bert_grads(b, NULL);
    double sumsq = 0;
    for (size_t p = 0; p < n_infos; p++)
        if (infos[p].trainable)
            for (int64_t i = infos[p].offset; i < infos[p].offset + infos[p].numel; i++) sumsq += (double)g[i] * g[i];
    double norm = sqrt(sumsq);
    if (!isfinite(norm)) return vt_error(VT_ERR_NUMERIC, "DP-SGD: an example's gradient is not finite");
    double factor = dp_clip_factor(dp->o.max_grad_norm, norm);
    *clipped = factor < 1.0;
    for (size_t p = 0; p < n_infos; p++)
        if (infos[p].trainable)
            for (int64_t i = infos[p].offset; i < infos[p].offset + infos[p].numel; i++) dp->sum[i] += factor * g[i];
    return VT_OK;
}

/* MPI: the ranks' clipped sums and step figures added up (each rank's share of the sample). */
static vt_status sum_over_ranks(vt_dp *dp, vt_dp_step_info *in) {
    if (dp->n_params > INT32_MAX) return vt_error(VT_ERR_UNSUPPORTED, "DP-SGD under MPI: over 2^31 parameters");
    vt_status st = vt_dist_allreduce_sum_f64(dp->sum, (int)dp->n_params);
    double figures[4] = {(double)in->batch, (double)in->clipped, (double)in->tokens,
                         in->batch > 0 ? in->loss * (double)in->batch : 0};
    if (st == VT_OK) st = vt_dist_allreduce_sum_f64(figures, 4);
    if (st != VT_OK) return st;
    *in = (vt_dp_step_info){.batch = (int64_t)figures[0], .clipped = (int64_t)figures[1], .tokens = (int64_t)figures[2],
                            .loss = figures[0] > 0 ? figures[3] / figures[0] : NAN, .fast = in->fast};
    return VT_OK;
}

vt_status vt_dp_gradient(vt_dp *dp, vt_bert *b, int64_t step, const int64_t *rows, int64_t count,
                         vt_dp_get_example_fn get, void *ctx, uint64_t dropout_seed, vt_dp_step_info *info) {
    if (!dp || !b || !get || (count > 0 && !rows)) return vt_error(VT_ERR_INVALID_ARG, "vt_dp_gradient: missing argument");
    int64_t n;
    float *g = vt_bert_grads(b, &n);
    if (n != dp->n_params) return vt_error(VT_ERR_INVALID_ARG, "vt_dp_gradient: the model is not the one the state was made for");
    vt_dp_step_info in = {.batch = count};
    double loss_sum = 0;
    bool fast, in_grads, ranks = vt_dist_size() > 1; /* (the ranks add up dp->sum: it must hold the sum) */
    vt_status st = dp_fast_clipped_sum(&dp->o, b, rows, count, get, ctx, dropout_seed, dp->sum, &in, &fast,
                                       ranks ? NULL : &in_grads);
    if (st != VT_OK) return st;
    if (ranks) in_grads = false;
    if (!fast) memset(dp->sum, 0, (size_t)n * sizeof *dp->sum);
    for (int64_t k = 0; k < count && !fast; k++) {
        vt_bert_batch one;
        st = get(ctx, rows[k], &one);
        if (st == VT_OK && one.batch != 1)
            st = vt_error(VT_ERR_INVALID_ARG, "DP-SGD: example %" PRId64 " came as a batch of %" PRId64 ", not 1",
                          rows[k], one.batch);
        double loss = 0;
        bool clipped = false;
        if (st == VT_OK) st = add_example(dp, b, &one, vt_hash64(dropout_seed, (uint64_t)k), &loss, &clipped);
        if (st != VT_OK) return st;
        loss_sum += loss;
        in.clipped += clipped;
        for (int64_t t = 0; t < one.seq_len; t++) in.tokens += one.attention_mask ? one.attention_mask[t] != 0 : 1;
    }
    if (!fast) in.loss = count > 0 ? loss_sum / (double)count : NAN;
    if (ranks && (st = sum_over_ranks(dp, &in)) != VT_OK) return st;
    add_noise(dp, b, step, g, in_grads); /* (the same draws on every rank, after the sum: the noise is added once) */
    if (info) *info = in;
    return VT_OK;
}

vt_status vt_dp_step(vt_dp *dp, vt_bert *b, int64_t step, vt_dp_get_example_fn get, void *ctx, uint64_t dropout_seed,
                     vt_dp_step_info *info) {
    if (!dp) return vt_error(VT_ERR_INVALID_ARG, "vt_dp_step: no state");
    int64_t *rows = malloc((size_t)dp->o.examples * sizeof *rows);
    if (!rows) return vt_error(VT_ERR_NOMEM, "DP-SGD: out of memory sampling a batch");
    int64_t count = vt_dp_sample(dp, step, rows);
    vt_status st = vt_dp_gradient(dp, b, step, rows, count, get, ctx, dropout_seed, info);
    free(rows);
    if (st == VT_OK && dp->o.on_step) {
        vt_dp_progress p = {dp->o.noise_multiplier, vt_dp_sample_rate(&dp->o), step + 1};
        dp->o.on_step(dp->o.accountant, &p);
    }
    return st;
}

vt_status vt_dp_epsilon(const vt_dp_options *o, int64_t steps, vt_privacy_spent *out) {
    if (!(o->delta > 0 && o->delta < 1)) return vt_error(VT_ERR_INVALID_ARG, "delta must be in (0, 1), not %g", o->delta);
    if (o->noise_multiplier <= 0 || steps <= 0) { /* no noise: no privacy; no step: none spent */
        *out = (vt_privacy_spent){.epsilon = steps > 0 ? INFINITY : 0, .best_order = NAN};
        return VT_OK;
    }
    vt_privacy_accountant *acc = vt_privacy_accountant_new();
    if (!acc) return vt_error(VT_ERR_NOMEM, "out of memory for the accountant");
    vt_status st = vt_privacy_accountant_step(acc, o->noise_multiplier, vt_dp_sample_rate(o), steps);
    if (st == VT_OK) st = vt_privacy_accountant_spent(acc, o->delta, out);
    vt_privacy_accountant_free(acc);
    return st;
}

vt_status vt_dp_write_record(const char *out_dir, const vt_dp_options *o, int64_t steps) {
    if (!out_dir || !o) return vt_error(VT_ERR_INVALID_ARG, "vt_dp_write_record: missing argument");
    vt_privacy_spent spent = {.epsilon = NAN, .best_order = NAN};
    vt_status st = o->delta > 0 ? vt_dp_epsilon(o, steps, &spent) : VT_OK;
    const char *unit = o->example_unit ? o->example_unit : "one training row";
    if (st != VT_OK) return st;
    vt_sb sb = {0};
    vt_sb_printf(&sb,
                 "{\n  \"mechanism\": \"DP-SGD (per-example clipping, Gaussian noise)\",\n"
                 "  \"noise_multiplier\": %.17g,\n  \"sample_rate\": %.17g,\n  \"steps\": %" PRId64 ",\n"
                 "  \"max_grad_norm\": %.17g,\n  \"sampling\": \"%s\",\n  \"expected_batch_size\": %" PRId64 ",\n"
                 "  \"examples\": %" PRId64 ",\n  \"unit\": ",
                 o->noise_multiplier, vt_dp_sample_rate(o), steps, o->max_grad_norm,
                 o->sampling == VT_DP_POISSON ? "poisson" : "shuffle", o->expected_batch, o->examples);
    vt_sb_json_string(&sb, unit);
    vt_sb_str(&sb, ",\n  \"covers\": ");
    vt_sb_json_string(&sb, o->covers ? o->covers
                                     : "the fine-tuning training set only (not the pretraining data, not the dev set), "
                                       "at the level of one example (the unit): k examples of one person are protected "
                                       "as a group of k, epsilon growing about k-fold");
    vt_sb_str(&sb, ",\n");
    if (isfinite(spent.epsilon)) vt_sb_printf(&sb, "  \"epsilon\": %.17g,\n", spent.epsilon);
    else vt_sb_str(&sb, "  \"epsilon\": null,\n");
    if (o->delta > 0) vt_sb_printf(&sb, "  \"delta\": %.17g,\n", o->delta);
    else vt_sb_str(&sb, "  \"delta\": null,\n");
    if (isfinite(spent.best_order)) vt_sb_printf(&sb, "  \"best_order\": %.17g,\n", spent.best_order);
    vt_sb_str(&sb, "  \"accountant\": \"rdp (the sampled Gaussian mechanism, as Opacus' RDPAccountant)\",\n");
    if (o->sampling == VT_DP_SHUFFLE)
        vt_sb_str(&sb, "  \"warning\": \"fixed-size shuffled batches: the Poisson-sampling guarantee does not hold as "
                       "stated\",\n");
    vt_sb_str(&sb, o->noise_multiplier > 0 ? "  \"note\": \"verto privacy --noise-multiplier S --sample-rate q --steps N "
                                             "--delta D recomputes epsilon from these figures\"\n}\n"
                                           : "  \"note\": \"no noise: clipping only, no privacy guarantee\"\n}\n");
    size_t len;
    char *text = vt_sb_take(&sb, &len);
    if (!text) return vt_error(VT_ERR_NOMEM, "out of memory writing privacy.json");
    char path[4200];
    snprintf(path, sizeof path, "%s/privacy.json", out_dir);
    st = vt_write_file_atomic(path, text, len);
    free(text);
    return st;
}
