/* Logits processing and token choice for generation (see verto/sampling.h):
 * repetition penalty, temperature, top-k, top-p, greedy or seeded draws. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verto/sampling.h"

/* A surviving token: its score and id; p, top-p's exp(v - max), is computed
 * once and travels with it through the partitions. */
typedef struct cand {
    float v;
    int32_t id;
    double p;
} cand;

struct vt_sampler {
    vt_sampling_options o;
    int32_t V;
    cand *c;       /* (V) candidates, reordered by the selections */
    uint8_t *seen; /* (V) repetition penalty: ids already penalised in this call */
};

void vt_sampling_options_default(vt_sampling_options *o) {
    *o = (vt_sampling_options){.do_sample = false, .temperature = 1.0f, .top_k = 0, .top_p = 1.0f,
                               .repetition_penalty = 1.0f};
}

vt_status vt_sampling_options_check(const vt_sampling_options *o) {
    if (!o) return vt_error(VT_ERR_INVALID_ARG, "sampling options are needed");
    if (!(o->temperature > 0) || isinf(o->temperature))
        return vt_error(VT_ERR_INVALID_ARG, "temperature must be a positive number, got %g", (double)o->temperature);
    if (o->top_k < 0) return vt_error(VT_ERR_INVALID_ARG, "top_k must be >= 0 (0: off), got %d", (int)o->top_k);
    if (!(o->top_p > 0 && o->top_p <= 1))
        return vt_error(VT_ERR_INVALID_ARG, "top_p must be in (0, 1], got %g", (double)o->top_p);
    if (!(o->repetition_penalty > 0) || isinf(o->repetition_penalty))
        return vt_error(VT_ERR_INVALID_ARG, "repetition_penalty must be a positive number, got %g",
                        (double)o->repetition_penalty);
    return VT_OK;
}

vt_sampler *vt_sampler_new(const vt_sampling_options *o, int32_t vocab_size) {
    if (vt_sampling_options_check(o) != VT_OK) return NULL;
    if (vocab_size < 1) return vt_error(VT_ERR_INVALID_ARG, "a sampler needs a vocabulary, got size %d", (int)vocab_size), NULL;
    vt_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->o = *o;
        s->V = vocab_size;
        s->c = malloc((size_t)vocab_size * sizeof *s->c);
        s->seen = calloc((size_t)vocab_size, 1);
    }
    if (!s || !s->c || !s->seen) {
        vt_sampler_free(s);
        return vt_error(VT_ERR_NOMEM, "out of memory for a sampler over %d tokens", (int)vocab_size), NULL;
    }
    return s;
}

void vt_sampler_free(vt_sampler *s) {
    if (!s) return;
    free(s->c), free(s->seen);
    free(s);
}

void vt_sampling_rng(uint64_t seed, int64_t row, vt_rng *out) { vt_rng_seed(out, vt_hash64(seed, (uint64_t)row)); }

/* ---- selection by partition ------------------------------------------- */

/* The ranking: higher score first; on a tie the higher id first, so that
 * the lower id is the first removed (see the header). A strict total order. */
static inline bool above(cand a, cand b) { return a.v > b.v || (a.v == b.v && a.id > b.id); }

static inline void swap(cand *c, int64_t i, int64_t j) {
    cand t = c[i];
    c[i] = c[j], c[j] = t;
}

/* Median of three of c[lo], c[mid], c[hi - 1] moved to c[lo]. */
static void pick_pivot(cand *c, int64_t lo, int64_t hi) {
    int64_t a = lo, b = lo + (hi - lo) / 2, z = hi - 1;
    if (above(c[b], c[a])) { int64_t t = a; a = b, b = t; } /* now c[a] above c[b] */
    int64_t med = above(c[z], c[a]) ? a : above(c[z], c[b]) ? z : b;
    swap(c, lo, med);
}

/* Partitions c[lo, hi) around the pivot chosen into c[lo]: those ranked
 * above it first, then the pivot; returns the pivot's position. */
static int64_t partition(cand *c, int64_t lo, int64_t hi) {
    pick_pivot(c, lo, hi);
    cand pv = c[lo];
    int64_t g = lo + 1;
    for (int64_t i = lo + 1; i < hi; i++)
        if (above(c[i], pv)) swap(c, i, g++);
    swap(c, lo, g - 1);
    return g - 1;
}

/* Reorders c[0, n) so that c[0, k) are the k highest ranked (0 < k < n). */
static void select_top(cand *c, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n;
    while (hi - lo > 1) {
        int64_t p = partition(c, lo, hi);
        if (p == k) return;
        if (p < k) lo = p + 1;
        else hi = p;
    }
}

/* Fills s->c with the finite scores of `x`; returns their number. */
static int64_t gather(vt_sampler *s, const float *x) {
    int64_t n = 0;
    for (int32_t i = 0; i < s->V; i++)
        if (x[i] > -INFINITY) s->c[n++] = (cand){x[i], i, 0};
    return n;
}

/* Top-k over the n candidates: keeps every score >= the k-th largest (ties at
 * the k-th value stay); the survivors are moved to c[0, kept). */
static int64_t top_k(vt_sampler *s, float *x, int64_t n) {
    int64_t k = s->o.top_k;
    if (k >= n) return n;
    select_top(s->c, n, k);
    float kth = s->c[0].v;
    for (int64_t i = 1; i < k; i++)
        if (s->c[i].v < kth) kth = s->c[i].v;
    int64_t kept = k;
    for (int64_t i = k; i < n; i++) {
        if (s->c[i].v >= kth) s->c[kept++] = s->c[i]; /* tied with the k-th */
        else x[s->c[i].id] = -INFINITY;
    }
    return kept;
}

/* Top-p over the n candidates: a token stays while the probability of the
 * tokens ranked above it is < top_p (the ascending cumulative sum is then
 * > 1 - top_p). Found by partitioning: the kept tokens are a prefix of the
 * ranking, and each round settles the pivot and one side of it. */
static void top_p(vt_sampler *s, float *x, int64_t n) {
    cand *c = s->c;
    double z = 0;
    float mx = c[0].v;
    for (int64_t i = 1; i < n; i++)
        if (c[i].v > mx) mx = c[i].v;
    for (int64_t i = 0; i < n; i++) z += c[i].p = exp((double)c[i].v - (double)mx);
    double threshold = (double)s->o.top_p * z, before = 0; /* mass of those ranked above c[lo] */
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t piv = partition(c, lo, hi);
        double mass = 0;
        for (int64_t i = lo; i < piv; i++) mass += c[i].p;
        if (before + mass < threshold) { /* the pivot stays, and so does all above it */
            before += mass + c[piv].p;
            lo = piv + 1;
        } else {
            hi = piv; /* the pivot and all below it go */
        }
    }
    for (int64_t i = lo < 1 ? 1 : lo; i < n; i++) x[c[i].id] = -INFINITY; /* the top one always stays */
}

/* ---- the steps -------------------------------------------------------- */

static vt_status penalise(vt_sampler *s, float *x, const int32_t *context, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (context[i] < 0 || context[i] >= s->V)
            return vt_error(VT_ERR_INVALID_ARG, "token %lld of the sequence is id %d, outside the vocabulary of %d",
                            (long long)i, (int)context[i], (int)s->V);
    float pen = s->o.repetition_penalty;
    if (pen == 1.0f) return VT_OK;
    for (int64_t i = 0; i < n; i++) { /* each id once, however often it occurs */
        int32_t t = context[i];
        if (s->seen[t]) continue;
        s->seen[t] = 1;
        x[t] = x[t] < 0 ? x[t] * pen : fminf(x[t] / pen, FLT_MAX); /* a tiny penalty must not make +inf */
    }
    for (int64_t i = 0; i < n; i++) s->seen[context[i]] = 0;
    return VT_OK;
}

/* x /= T, as transformers does. When the largest score over T overflows (a
 * tiny T: 1e-40 on logits of 10), the scores are shifted by their maximum
 * first -- the softmax is unchanged, and the largest becomes 0 instead of
 * +inf, so the draw tends to the argmax as T does instead of failing. */
static void apply_temperature(float *x, int32_t V, float T) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < V; i++)
        if (x[i] > mx) mx = x[i];
    if (mx == -INFINITY) return; /* nothing left to scale */
    float shift = isfinite(mx / T) ? 0.0f : mx;
    for (int32_t i = 0; i < V; i++) x[i] = (x[i] - shift) / T;
}

vt_status vt_sampler_process(vt_sampler *s, float *x, const int32_t *context, int64_t n_context) {
    if (!s || !x || (n_context > 0 && !context) || n_context < 0)
        return vt_error(VT_ERR_INVALID_ARG, "vt_sampler_process: a sampler, logits and the sequence are needed");
    for (int32_t i = 0; i < s->V; i++)
        if (isnan(x[i]) || (s->o.do_sample && x[i] == INFINITY)) /* +inf: no distribution to draw from */
            return vt_error(VT_ERR_NUMERIC, "logit %d is %s", (int)i, isnan(x[i]) ? "NaN" : "+inf");
    vt_status st = penalise(s, x, context, n_context);
    if (st != VT_OK || !s->o.do_sample) return st;
    if (s->o.temperature != 1.0f) apply_temperature(x, s->V, s->o.temperature);
    if (s->o.top_k == 0 && s->o.top_p >= 1.0f) return VT_OK;
    int64_t n = gather(s, x);
    if (n == 0) return VT_OK;
    if (s->o.top_k > 0) n = top_k(s, x, n);
    if (s->o.top_p < 1.0f) top_p(s, x, n);
    return VT_OK;
}

vt_status vt_sampler_next(vt_sampler *s, float *x, const int32_t *context, int64_t n_context, vt_rng *rng,
                          int32_t *token) {
    vt_status st = vt_sampler_process(s, x, context, n_context);
    if (st != VT_OK) return st;
    if (!token) return vt_error(VT_ERR_INVALID_ARG, "vt_sampler_next: nowhere to put the token");
    int32_t best = 0;
    for (int32_t i = 1; i < s->V; i++) /* the first of equal maxima, as torch.argmax */
        if (x[i] > x[best]) best = i;
    if (!s->o.do_sample) {
        *token = best;
        return VT_OK;
    }
    if (!rng) return vt_error(VT_ERR_INVALID_ARG, "sampling needs a random generator");
    if (!(x[best] > -INFINITY)) return vt_error(VT_ERR_NUMERIC, "every token's score is -inf: nothing to sample");
    double z = 0, mx = (double)x[best];
    for (int32_t i = 0; i < s->V; i++)
        if (x[i] > -INFINITY) z += exp((double)x[i] - mx); /* removed tokens cost no exp */
    double u = vt_rng_uniform(rng) * z, acc = 0;
    int32_t last = best;
    for (int32_t i = 0; i < s->V; i++) {
        if (!(x[i] > -INFINITY)) continue;
        acc += exp((double)x[i] - mx);
        last = i;
        if (u < acc) break;
    }
    *token = last; /* rounding may leave u just past the sum: the last token with a chance */
    return VT_OK;
}
