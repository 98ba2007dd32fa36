/* Numerical gradient checks of every backward kernel (verto/kernels.h), and
 * the forward semantics they rest on (attention masks, dropout masks, loss
 * values) against straightforward double-precision references.
 *
 * Method: each check defines a scalar objective, sum(w * output) with fixed
 * random weights w (or the loss itself), evaluated in double from the float
 * kernels, and compares central differences (f(x + eps) - f(x - eps)) / 2 eps
 * with the analytic gradient. The kernels compute in float32, so eps cannot be
 * tiny: with eps = 1e-2 on inputs of order 1 the truncation error is about
 * eps^2 |f'''| / 6 ~ 2e-5 and the float rounding of the objective about
 * 1e-7 * sum|w y| / (2 eps) ~ 1e-4 at most here. The default tolerance,
 * GRAD_TOL = 2e-3 of the gradient's scale (its largest magnitude, at least
 * 1e-2), is therefore loose enough for float and still far below the O(1e-1)
 * error of any wrong formula. Ops with other needs say so where they are
 * checked.
 *
 * Accumulation: gradient buffers are pre-filled with ACC_FILL and the fill is
 * subtracted afterwards, so a kernel that overwrote instead of adding (+=)
 * fails.
 *
 * Known kink: relu at 0; its sample points are kept at |x| >= 0.1 > eps. */
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "verto/kernels.h"
#include "verto/rng.h"

#define GRAD_EPS 1e-2f
#define GRAD_TOL 2e-3
#define ACC_FILL 0.25f

static void fill_uniform(vt_rng *r, float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)vt_rng_uniform(r);
}

static void fill_const(float *x, int64_t n, float v) {
    for (int64_t i = 0; i < n; i++) x[i] = v;
}

static double weighted_sum(const float *w, const float *y, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)w[i] * y[i];
    return s;
}

typedef double (*objective_fn)(void *ctx);

/* Central differences of f over x[0..n), against analytic[0..n) (already with
 * the accumulation fill removed). Prints and returns the relative error. */
static double check_grad(const char *what, objective_fn f, void *ctx, float *x, const float *analytic, int64_t n,
                         float eps, double tol) {
    double max_err = 0, scale = 1e-2;
    for (int64_t i = 0; i < n; i++) {
        float saved = x[i];
        x[i] = saved + eps;
        double fp = f(ctx);
        x[i] = saved - eps;
        double fm = f(ctx);
        x[i] = saved;
        double num = (fp - fm) / (2.0 * (double)eps);
        double err = fabs(num - analytic[i]);
        if (!(err <= max_err)) max_err = err; /* NaN propagates */
        if (fabs(analytic[i]) > scale) scale = fabs(analytic[i]);
    }
    double rel = max_err / scale;
    printf("    %-44s grad rel err %.2e (tol %.0e, n %lld)\n", what, rel, tol, (long long)n);
    if (!(rel <= tol)) fail_msg("%s: gradient relative error %g exceeds %g", what, rel, tol);
    return rel;
}

/* analytic = g - ACC_FILL (a gradient buffer that started at ACC_FILL). */
static void remove_fill(float *g, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] -= ACC_FILL;
}

/* ---- activations ------------------------------------------------------ */

typedef struct act_ctx {
    vt_activation act;
    int64_t rows, cols;
    float *x, *y, *w;
} act_ctx;

static double act_objective(void *p) {
    act_ctx *c = p;
    vt_activation_forward(c->act, c->x, c->y, c->rows, c->cols);
    return weighted_sum(c->w, c->y, c->rows * c->cols);
}

static void test_activation_grads(void **state) {
    (void)state;
    const vt_activation acts[] = {VT_ACT_LINEAR, VT_ACT_RELU,    VT_ACT_GELU,   VT_ACT_GELU_TANH,
                                  VT_ACT_TANH,   VT_ACT_SIGMOID, VT_ACT_SOFTMAX};
    vt_rng r;
    vt_rng_seed(&r, 11);
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        act_ctx c = {.act = acts[a], .rows = 3, .cols = 7};
        int64_t n = c.rows * c.cols;
        c.x = test_floats(n), c.y = test_floats(n), c.w = test_floats(n);
        float *dx = test_floats(n);
        fill_uniform(&r, c.x, n, -3, 3);
        fill_uniform(&r, c.w, n, -1, 1);
        for (int64_t i = 0; i < n; i++) /* relu's kink: stay at |x| >= 0.1 */
            if (fabsf(c.x[i]) < 0.1f) c.x[i] = c.x[i] < 0 ? -0.1f - c.x[i] : 0.1f + c.x[i];
        vt_activation_forward(c.act, c.x, c.y, c.rows, c.cols);
        fill_const(dx, n, ACC_FILL);
        vt_activation_backward(c.act, c.x, c.y, c.w, dx, c.rows, c.cols);
        remove_fill(dx, n);
        char what[64];
        snprintf(what, sizeof what, "activation %s", vt_activation_name(c.act));
        check_grad(what, act_objective, &c, c.x, dx, n, GRAD_EPS, GRAD_TOL);
        free(c.x), free(c.y), free(c.w), free(dx);
    }
}

static double ref_act(vt_activation act, double x) {
    switch (act) {
    case VT_ACT_LINEAR: return x;
    case VT_ACT_RELU: return x > 0 ? x : 0;
    case VT_ACT_GELU: return x * 0.5 * (1 + erf(x / sqrt(2.0)));
    case VT_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case VT_ACT_TANH: return tanh(x);
    case VT_ACT_SIGMOID: return 1 / (1 + exp(-x));
    default: return NAN;
    }
}

/* Forward values on a dense grid against libm in double. The kernels use
 * vectorisable float approximations (src/kernels/kmath.h) good to a few ulp:
 * tolerance 1e-6 * max(1, |y|) absolute. In place (y == x) as well. */
static void test_activation_values(void **state) {
    (void)state;
    const vt_activation acts[] = {VT_ACT_LINEAR, VT_ACT_RELU, VT_ACT_GELU, VT_ACT_GELU_TANH, VT_ACT_TANH, VT_ACT_SIGMOID};
    const int64_t n = 40001;
    float *x = test_floats(n), *y = test_floats(n);
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        for (int64_t i = 0; i < n; i++) x[i] = -20.0f + 40.0f * (float)i / (float)(n - 1);
        vt_activation_forward(acts[a], x, y, 1, n);
        double worst = 0;
        for (int64_t i = 0; i < n; i++) {
            double want = ref_act(acts[a], x[i]);
            double err = fabs(y[i] - want) / fmax(1.0, fabs(want));
            if (!(err <= worst)) worst = err;
        }
        printf("    forward %-12s max err %.2e (tol 1e-6)\n", vt_activation_name(acts[a]), worst);
        if (!(worst <= 1e-6)) fail_msg("%s forward error %g", vt_activation_name(acts[a]), worst);
        vt_activation_forward(acts[a], x, x, 1, n); /* in place */
        assert_memory_equal(x, y, (size_t)n * sizeof(float));
    }
    /* softmax: rows sum to 1, stable for large logits, matches double. */
    float big[6] = {1000, 1001, 1002, -1000, 0, 1};
    float p[6];
    vt_activation_forward(VT_ACT_SOFTMAX, big, p, 2, 3);
    double s0 = exp(-2) + exp(-1) + 1, s1 = exp(-1001) + exp(-1) + 1;
    double want[6] = {exp(-2) / s0, exp(-1) / s0, 1 / s0, exp(-1001) / s1, exp(-1) / s1, 1 / s1};
    for (int i = 0; i < 6; i++) assert_true(fabs(p[i] - want[i]) < 1e-6);
    free(x), free(y);
}

static void test_activation_names(void **state) {
    (void)state;
    const char *names[] = {"linear", "relu", "gelu", "gelu_tanh", "tanh", "sigmoid", "softmax"};
    for (int a = VT_ACT_LINEAR; a <= VT_ACT_SOFTMAX; a++) {
        vt_activation back;
        assert_string_equal(vt_activation_name((vt_activation)a), names[a]);
        assert_true(vt_activation_parse(names[a], &back));
        assert_int_equal(back, a);
    }
    vt_activation g;
    assert_true(vt_activation_parse("gelu_new", &g) && g == VT_ACT_GELU_TANH);
    assert_true(vt_activation_parse("gelu_pytorch_tanh", &g) && g == VT_ACT_GELU_TANH);
    assert_true(vt_activation_parse("gelu_fast", &g) && g == VT_ACT_GELU_TANH);
    assert_true(vt_activation_parse("identity", &g) && g == VT_ACT_LINEAR);
    assert_false(vt_activation_parse("swish", &g));
    assert_false(vt_activation_parse(NULL, &g));
}

/* ---- layer normalisation ------------------------------------------------ */

typedef struct ln_ctx {
    int64_t rows, cols;
    float *x, *gamma, *beta, *y, *mean, *rstd, *w;
} ln_ctx;

static double ln_objective(void *p) {
    ln_ctx *c = p;
    vt_layernorm_forward(c->x, c->gamma, c->beta, c->y, c->mean, c->rstd, c->rows, c->cols, 1e-5f);
    return weighted_sum(c->w, c->y, c->rows * c->cols);
}

static void test_layernorm(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 12);
    ln_ctx c = {.rows = 4, .cols = 9};
    int64_t n = c.rows * c.cols;
    c.x = test_floats(n), c.y = test_floats(n), c.w = test_floats(n), c.gamma = test_floats(c.cols), c.beta = test_floats(c.cols);
    c.mean = test_floats(c.rows), c.rstd = test_floats(c.rows);
    float *dx = test_floats(n), *dg = test_floats(c.cols), *db = test_floats(c.cols);
    fill_uniform(&r, c.x, n, 1, 5); /* a mean far from 0 */
    fill_uniform(&r, c.w, n, -1, 1);
    fill_uniform(&r, c.gamma, c.cols, 0.5f, 1.5f);
    fill_uniform(&r, c.beta, c.cols, -0.5f, 0.5f);
    ln_objective(&c);
    /* forward against double */
    for (int64_t i = 0; i < c.rows; i++) {
        double m = 0, v = 0;
        for (int64_t j = 0; j < c.cols; j++) m += c.x[i * c.cols + j];
        m /= c.cols;
        for (int64_t j = 0; j < c.cols; j++) v += (c.x[i * c.cols + j] - m) * (c.x[i * c.cols + j] - m);
        v /= c.cols; /* biased, as PyTorch */
        double rs = 1 / sqrt(v + 1e-5);
        assert_true(fabs(c.mean[i] - m) < 1e-5 && fabs(c.rstd[i] - rs) < 1e-5 * rs);
        for (int64_t j = 0; j < c.cols; j++) {
            double want = (c.x[i * c.cols + j] - m) * rs * c.gamma[j] + c.beta[j];
            assert_true(fabs(c.y[i * c.cols + j] - want) < 1e-5);
        }
    }
    fill_const(dx, n, ACC_FILL), fill_const(dg, c.cols, ACC_FILL), fill_const(db, c.cols, ACC_FILL);
    vt_layernorm_backward(c.w, c.x, c.gamma, c.mean, c.rstd, dx, dg, db, c.rows, c.cols);
    remove_fill(dx, n), remove_fill(dg, c.cols), remove_fill(db, c.cols);
    check_grad("layernorm dx", ln_objective, &c, c.x, dx, n, GRAD_EPS, GRAD_TOL);
    check_grad("layernorm dgamma", ln_objective, &c, c.gamma, dg, c.cols, GRAD_EPS, GRAD_TOL);
    check_grad("layernorm dbeta", ln_objective, &c, c.beta, db, c.cols, GRAD_EPS, GRAD_TOL);

    /* parameter gradients spread over several column blocks and threads */
    const int64_t R = 300, C = 130;
    float *x = test_floats(R * C), *y = test_floats(R * C), *g = test_floats(C), *b = test_floats(C), *m = test_floats(R),
          *rs = test_floats(R), *dy = test_floats(R * C), *dgb = test_floats(C), *dbb = test_floats(C);
    fill_uniform(&r, x, R * C, -2, 2), fill_uniform(&r, dy, R * C, -1, 1), fill_uniform(&r, g, C, 0.5f, 1.5f);
    vt_layernorm_forward(x, g, b, y, m, rs, R, C, 1e-12f);
    vt_layernorm_backward(dy, x, g, m, rs, NULL, dgb, dbb, R, C);
    for (int64_t j = 0; j < C; j++) {
        double sg = 0, sb = 0;
        for (int64_t i = 0; i < R; i++) {
            sg += (double)dy[i * C + j] * (x[i * C + j] - m[i]) * rs[i];
            sb += dy[i * C + j];
        }
        assert_true(fabs(dgb[j] - sg) < 1e-4 && fabs(dbb[j] - sb) < 1e-4);
    }
    free(x), free(y), free(g), free(b), free(m), free(rs), free(dy), free(dgb), free(dbb);
    free(c.x), free(c.y), free(c.w), free(c.gamma), free(c.beta), free(c.mean), free(c.rstd);
    free(dx), free(dg), free(db);
}

/* ---- embedding ------------------------------------------------------------ */

typedef struct emb_ctx {
    const int32_t *ids;
    int64_t n, vocab, dim;
    float *table, *out, *w;
} emb_ctx;

static double emb_objective(void *p) {
    emb_ctx *c = p;
    assert_int_equal(vt_embedding_forward(c->ids, c->table, c->out, c->n, c->vocab, c->dim), VT_OK);
    return weighted_sum(c->w, c->out, c->n * c->dim);
}

static void test_embedding(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 13);
    const int32_t ids[8] = {3, 0, 3, 5, 1, 3, 0, 2}; /* repeats: the scatter must add */
    emb_ctx c = {.ids = ids, .n = 8, .vocab = 6, .dim = 5};
    c.table = test_floats(c.vocab * c.dim), c.out = test_floats(c.n * c.dim), c.w = test_floats(c.n * c.dim);
    float *dt = test_floats(c.vocab * c.dim);
    fill_uniform(&r, c.table, c.vocab * c.dim, -1, 1);
    fill_uniform(&r, c.w, c.n * c.dim, -1, 1);
    emb_objective(&c);
    for (int64_t i = 0; i < c.n; i++)
        assert_memory_equal(c.out + i * c.dim, c.table + ids[i] * c.dim, (size_t)c.dim * sizeof(float));
    fill_const(dt, c.vocab * c.dim, ACC_FILL);
    vt_embedding_backward(ids, c.w, dt, c.n, c.dim);
    remove_fill(dt, c.vocab * c.dim);
    check_grad("embedding dtable", emb_objective, &c, c.table, dt, c.vocab * c.dim, GRAD_EPS, GRAD_TOL);

    const int32_t bad[3] = {1, 6, 0}, neg[2] = {0, -1};
    vt_clear_error();
    assert_int_equal(vt_embedding_forward(bad, c.table, c.out, 3, c.vocab, c.dim), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "position 1"));
    assert_non_null(strstr(vt_last_error(), "6"));
    assert_int_equal(vt_embedding_forward(neg, c.table, c.out, 2, c.vocab, c.dim), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "-1"));
    free(c.table), free(c.out), free(c.w), free(dt);
}

/* ---- dropout -------------------------------------------------------------- */

typedef struct drop_ctx {
    int64_t n;
    float rate;
    uint64_t seed;
    float *x, *y, *w;
    uint8_t *mask;
} drop_ctx;

static double drop_objective(void *p) {
    drop_ctx *c = p;
    vt_dropout_forward(c->x, c->y, c->mask, c->n, c->rate, c->seed); /* same seed: fixed mask */
    return weighted_sum(c->w, c->y, c->n);
}

static void test_dropout(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 14);
    drop_ctx c = {.n = 37, .rate = 0.3f, .seed = 99};
    c.x = test_floats(c.n), c.y = test_floats(c.n), c.w = test_floats(c.n), c.mask = malloc((size_t)c.n);
    float *dx = test_floats(c.n);
    fill_uniform(&r, c.x, c.n, -2, 2), fill_uniform(&r, c.w, c.n, -1, 1);
    drop_objective(&c);
    fill_const(dx, c.n, ACC_FILL);
    vt_dropout_backward(c.w, c.mask, dx, c.n, c.rate);
    remove_fill(dx, c.n);
    check_grad("dropout dx (fixed mask)", drop_objective, &c, c.x, dx, c.n, GRAD_EPS, GRAD_TOL);

    /* mask = (hash_uniform >= rate), y = x * mask / (1 - rate), kept fraction
     * near 1 - rate, and the same at 1 and 2 threads and in place. */
    const int64_t n = 200003;
    float *x = test_floats(n), *y1 = test_floats(n), *y2 = test_floats(n);
    uint8_t *m1 = malloc((size_t)n), *m2 = malloc((size_t)n);
    fill_uniform(&r, x, n, -1, 1);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    vt_dropout_forward(x, y1, m1, n, 0.25f, 7);
    omp_set_num_threads(threads > 1 ? threads : 2);
    memcpy(y2, x, (size_t)n * sizeof(float));
    vt_dropout_forward(y2, y2, m2, n, 0.25f, 7);
    omp_set_num_threads(threads);
    assert_memory_equal(m1, m2, (size_t)n);
    assert_memory_equal(y1, y2, (size_t)n * sizeof(float));
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(m1[i], vt_hash_uniform(7, (uint64_t)i) >= 0.25f);
        assert_true(y1[i] == (m1[i] ? x[i] * (1.0f / 0.75f) : 0.0f));
        kept += m1[i];
    }
    printf("    dropout kept fraction %.4f (expect 0.75)\n", (double)kept / n);
    assert_true(fabs((double)kept / n - 0.75) < 0.01);
    vt_dropout_forward(x, y1, m1, n, 0.0f, 7); /* rate 0 keeps everything */
    assert_memory_equal(x, y1, (size_t)n * sizeof(float));
    free(x), free(y1), free(y2), free(m1), free(m2);
    free(c.x), free(c.y), free(c.w), free(c.mask), free(dx);
}

/* ---- attention ------------------------------------------------------------- */

typedef struct att_case {
    const char *name;
    int64_t B, Tq, Tk, H, kd, vd;
    bool causal;
    vt_mask_kind mask_kind;
    bool fused;  /* q, k, v side by side in one (B, T, 3 H d) buffer */
    int64_t out_pad; /* out_stride = H vd + out_pad */
    float drop;
} att_case;

typedef struct att_ctx {
    const att_case *tc;
    vt_attention_dims d;
    vt_attention_opts o;
    float *q, *k, *v;     /* views (into buf when fused) */
    float *buf;           /* fused storage or NULL */
    float *probs, *out, *w;
    uint8_t *drop_mask;
    int32_t *mask;
    int64_t out_n;        /* floats in out (with padding) */
} att_ctx;

static double att_objective(void *p) {
    att_ctx *c = p;
    assert_int_equal(vt_attention_forward(&c->d, &c->o, c->q, c->k, c->v, c->probs, c->drop_mask, c->out), VT_OK);
    return weighted_sum(c->w, c->out, c->out_n);
}

/* Masks: KEYS pads the last two keys of the last batch and, with B > 2, all
 * keys of batch 1; FULL is random with one query row fully masked. */
static int32_t *make_mask(const att_case *tc, vt_rng *r) {
    if (tc->mask_kind == VT_MASK_NONE) return NULL;
    int64_t n = tc->mask_kind == VT_MASK_KEYS ? tc->B * tc->Tk : tc->B * tc->Tq * tc->Tk;
    int32_t *m = malloc((size_t)n * sizeof(int32_t));
    assert_non_null(m);
    if (tc->mask_kind == VT_MASK_KEYS) {
        for (int64_t i = 0; i < n; i++) m[i] = 1;
        for (int64_t j = tc->Tk - 2; j < tc->Tk; j++) m[(tc->B - 1) * tc->Tk + j] = 0;
        if (tc->B > 2)
            for (int64_t j = 0; j < tc->Tk; j++) m[tc->Tk + j] = 0;
        if (tc->causal) m[(tc->B - 1) * tc->Tk] = 0; /* with causal: query 0 sees nothing */
    } else {
        for (int64_t i = 0; i < n; i++) m[i] = vt_rng_uniform(r) < 0.7;
        for (int64_t j = 0; j < tc->Tk; j++) m[(0 * tc->Tq + 1) * tc->Tk + j] = 0; /* (b 0, query 1) */
    }
    return m;
}

static void att_setup(att_ctx *c, const att_case *tc, vt_rng *r) {
    memset(c, 0, sizeof *c);
    c->tc = tc;
    int64_t B = tc->B, H = tc->H;
    c->d = (vt_attention_dims){.batch = B, .q_len = tc->Tq, .kv_len = tc->Tk, .heads = H, .key_dim = tc->kd,
                               .value_dim = tc->vd, .out_stride = H * tc->vd + tc->out_pad};
    if (tc->fused) {
        assert_true(tc->Tq == tc->Tk && tc->kd == tc->vd);
        int64_t s = 3 * H * tc->kd;
        c->buf = test_floats(B * tc->Tq * s);
        fill_uniform(r, c->buf, B * tc->Tq * s, -1, 1);
        c->q = c->buf, c->k = c->buf + H * tc->kd, c->v = c->buf + 2 * H * tc->kd;
        c->d.q_stride = c->d.k_stride = c->d.v_stride = s;
    } else {
        c->d.q_stride = H * tc->kd, c->d.k_stride = H * tc->kd, c->d.v_stride = H * tc->vd;
        c->q = test_floats(B * tc->Tq * H * tc->kd), c->k = test_floats(B * tc->Tk * H * tc->kd);
        c->v = test_floats(B * tc->Tk * H * tc->vd);
        fill_uniform(r, c->q, B * tc->Tq * H * tc->kd, -1, 1);
        fill_uniform(r, c->k, B * tc->Tk * H * tc->kd, -1, 1);
        fill_uniform(r, c->v, B * tc->Tk * H * tc->vd, -1, 1);
    }
    c->mask = make_mask(tc, r);
    c->o = (vt_attention_opts){.scale = 1.0f / sqrtf((float)tc->kd) * 1.5f, /* sharper than usual */
                               .causal = tc->causal, .mask_kind = tc->mask_kind, .mask = c->mask,
                               .dropout_rate = tc->drop, .dropout_seed = 1234};
    int64_t np = B * H * tc->Tq * tc->Tk;
    c->probs = test_floats(np);
    c->drop_mask = tc->drop > 0 ? malloc((size_t)np) : NULL;
    c->out_n = B * tc->Tq * c->d.out_stride;
    c->out = test_floats(c->out_n);
    c->w = test_floats(c->out_n);
    fill_uniform(r, c->w, c->out_n, -1, 1);
}

static void att_free(att_ctx *c) {
    if (c->buf) free(c->buf);
    else free(c->q), free(c->k), free(c->v);
    free(c->mask), free(c->probs), free(c->drop_mask), free(c->out), free(c->w);
}

/* Double-precision attention straight from the header's definition. */
static void att_reference(const att_ctx *c, double *probs, double *out) {
    const vt_attention_dims *d = &c->d;
    const att_case *tc = c->tc;
    for (int64_t b = 0; b < d->batch; b++)
        for (int64_t h = 0; h < d->heads; h++)
            for (int64_t i = 0; i < d->q_len; i++) {
                int64_t row = ((b * d->heads + h) * d->q_len + i) * d->kv_len;
                double *p = probs + row, mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < d->kv_len; j++) {
                    bool ok = !(tc->causal && j > i);
                    if (tc->mask_kind == VT_MASK_KEYS) ok = ok && c->mask[b * d->kv_len + j];
                    if (tc->mask_kind == VT_MASK_FULL) ok = ok && c->mask[(b * d->q_len + i) * d->kv_len + j];
                    double s = 0;
                    for (int64_t t = 0; t < d->key_dim; t++)
                        s += (double)c->q[(b * d->q_len + i) * d->q_stride + h * d->key_dim + t] *
                             c->k[(b * d->kv_len + j) * d->k_stride + h * d->key_dim + t];
                    p[j] = ok ? s * c->o.scale : -INFINITY;
                    if (p[j] > mx) mx = p[j];
                }
                for (int64_t j = 0; j < d->kv_len; j++) {
                    p[j] = mx == -INFINITY || p[j] == -INFINITY ? 0 : exp(p[j] - mx);
                    sum += p[j];
                }
                for (int64_t j = 0; j < d->kv_len; j++) p[j] = sum > 0 ? p[j] / sum : 0;
                for (int64_t t = 0; t < d->value_dim; t++) {
                    double o = 0;
                    for (int64_t j = 0; j < d->kv_len; j++) {
                        double pj = p[j];
                        if (tc->drop > 0)
                            pj = vt_hash_uniform(c->o.dropout_seed, (uint64_t)(row + j)) >= tc->drop
                                     ? pj / (1.0 - tc->drop)
                                     : 0;
                        pj = (float)pj;
                        o += pj * c->v[(b * d->kv_len + j) * d->v_stride + h * d->value_dim + t];
                    }
                    out[(b * d->q_len + i) * d->out_stride + h * d->value_dim + t] = o;
                }
            }
}

static void check_attention_forward(att_ctx *c) {
    const vt_attention_dims *d = &c->d;
    int64_t np = d->batch * d->heads * d->q_len * d->kv_len;
    double *rp = calloc((size_t)np, sizeof(double)), *ro = calloc((size_t)c->out_n, sizeof(double));
    assert_non_null(rp), assert_non_null(ro);
    fill_const(c->out, c->out_n, 7.0f); /* padding columns must stay 7 */
    att_reference(c, rp, ro);
    assert_int_equal(vt_attention_forward(d, &c->o, c->q, c->k, c->v, c->probs, c->drop_mask, c->out), VT_OK);
    double ep = 0, eo = 0;
    for (int64_t i = 0; i < np; i++) ep = fmax(ep, fabs(c->probs[i] - rp[i]));
    for (int64_t i = 0; i < c->out_n; i++) {
        bool pad = i % d->out_stride >= d->heads * d->value_dim;
        eo = fmax(eo, fabs(c->out[i] - (pad ? 7.0 : ro[i])));
    }
    if (c->drop_mask)
        for (int64_t i = 0; i < np; i++)
            assert_int_equal(c->drop_mask[i], vt_hash_uniform(c->o.dropout_seed, (uint64_t)i) >= c->tc->drop);
    /* All-masked rows: probs exactly 0 (the reference gives 0 there too). */
    printf("    %-44s forward: probs err %.1e, out err %.1e (tol 2e-6)\n", c->tc->name, ep, eo);
    if (!(ep <= 2e-6 && eo <= 2e-6)) fail_msg("%s: forward differs from the reference", c->tc->name);
    free(rp), free(ro);
}

static void run_attention_case(const att_case *tc, uint64_t seed) {
    vt_rng r;
    vt_rng_seed(&r, seed);
    att_ctx c;
    att_setup(&c, tc, &r);
    check_attention_forward(&c);
    att_objective(&c);
    const vt_attention_dims *d = &c.d;
    float *dout = test_floats(c.out_n);
    memcpy(dout, c.w, (size_t)c.out_n * sizeof(float));
    char what[128];
    if (tc->fused) {
        int64_t n = d->batch * d->q_len * d->q_stride;
        float *g = test_floats(n);
        fill_const(g, n, ACC_FILL);
        assert_int_equal(vt_attention_backward(d, &c.o, c.q, c.k, c.v, c.probs, c.drop_mask, dout, g,
                                               g + d->heads * d->key_dim, g + 2 * d->heads * d->key_dim),
                         VT_OK);
        remove_fill(g, n);
        snprintf(what, sizeof what, "%s d(qkv)", tc->name);
        check_grad(what, att_objective, &c, c.buf, g, n, GRAD_EPS, GRAD_TOL);
        free(g);
    } else {
        int64_t nq = d->batch * d->q_len * d->q_stride, nk = d->batch * d->kv_len * d->k_stride,
                nv = d->batch * d->kv_len * d->v_stride;
        float *gq = test_floats(nq), *gk = test_floats(nk), *gv = test_floats(nv);
        fill_const(gq, nq, ACC_FILL), fill_const(gk, nk, ACC_FILL), fill_const(gv, nv, ACC_FILL);
        assert_int_equal(vt_attention_backward(d, &c.o, c.q, c.k, c.v, c.probs, c.drop_mask, dout, gq, gk, gv), VT_OK);
        remove_fill(gq, nq), remove_fill(gk, nk), remove_fill(gv, nv);
        snprintf(what, sizeof what, "%s dq", tc->name);
        check_grad(what, att_objective, &c, c.q, gq, nq, GRAD_EPS, GRAD_TOL);
        snprintf(what, sizeof what, "%s dk", tc->name);
        check_grad(what, att_objective, &c, c.k, gk, nk, GRAD_EPS, GRAD_TOL);
        snprintf(what, sizeof what, "%s dv", tc->name);
        check_grad(what, att_objective, &c, c.v, gv, nv, GRAD_EPS, GRAD_TOL);
        free(gq), free(gk), free(gv);
    }
    free(dout);
    att_free(&c);
}

static const att_case ATT_CASES[] = {
    {"attn unmasked h1 T5", 2, 5, 5, 1, 4, 3, false, VT_MASK_NONE, false, 0, 0},
    {"attn key-padding h2 T7", 3, 7, 7, 2, 3, 5, false, VT_MASK_KEYS, false, 0, 0},
    {"attn full-mask cross h3 Tq5 Tk7", 2, 5, 7, 3, 4, 2, false, VT_MASK_FULL, false, 3, 0},
    {"attn causal+keys h3 T7", 2, 7, 7, 3, 2, 3, true, VT_MASK_KEYS, false, 0, 0},
    {"attn causal h2 T5", 1, 5, 5, 2, 3, 3, true, VT_MASK_NONE, false, 0, 0},
    {"attn fused qkv h2 T5 keys", 2, 5, 5, 2, 3, 3, false, VT_MASK_KEYS, true, 0, 0},
    {"attn fused qkv causal h3 T7", 1, 7, 7, 3, 2, 2, true, VT_MASK_NONE, true, 0, 0},
    {"attn dropout 0.2 h2 T5 cross Tk7", 2, 5, 7, 2, 3, 4, false, VT_MASK_KEYS, false, 0, 0.2f},
    /* long rows: many 16-key blocks */
    {"attn long kv 1100 keys+dropout", 1, 3, 1100, 1, 3, 2, false, VT_MASK_KEYS, false, 0, 0.1f},
    /* more queries than a 64-query block, and key/value dims over a 64-feature chunk */
    {"attn Tq67 Tk9 kd66 vd65 full-mask", 1, 67, 9, 1, 66, 65, false, VT_MASK_FULL, false, 0, 0},
};

static void test_attention(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof ATT_CASES / sizeof ATT_CASES[0]; i++) run_attention_case(&ATT_CASES[i], 100 + i);
}

/* ---- losses ---------------------------------------------------------------- */

typedef struct xent_ctx {
    float *logits;
    const int32_t *labels;
    const float *weights;
    int64_t n, classes;
    float scale;
} xent_ctx;

static double xent_objective(void *p) {
    xent_ctx *c = p;
    double loss;
    assert_int_equal(vt_softmax_xent(c->logits, c->labels, c->n, c->classes, c->weights, NULL, 1, &loss, NULL, NULL),
                     VT_OK);
    return c->scale * loss;
}

static double xent_reference(const xent_ctx *c, int64_t *counted, int64_t *correct) {
    double num = 0, den = 0;
    *counted = *correct = 0;
    for (int64_t i = 0; i < c->n; i++) {
        if (c->labels[i] < 0) continue;
        const float *x = c->logits + i * c->classes;
        double mx = -INFINITY, s = 0;
        int64_t arg = 0;
        for (int64_t k = 0; k < c->classes; k++)
            if (x[k] > mx) mx = x[k], arg = k;
        for (int64_t k = 0; k < c->classes; k++) s += exp(x[k] - mx);
        double w = c->weights ? c->weights[c->labels[i]] : 1;
        num += w * (mx + log(s) - x[c->labels[i]]);
        den += w;
        (*counted)++;
        *correct += arg == c->labels[i];
    }
    return num / den;
}

static void test_softmax_xent(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 15);
    const int32_t labels[7] = {0, 3, -1, 4, -100, 2, 3};
    const float weights[5] = {0.5f, 1.0f, 2.0f, 1.5f, 0.8f};
    for (int wi = 0; wi < 2; wi++) {
        xent_ctx c = {.labels = labels, .weights = wi ? weights : NULL, .n = 7, .classes = 5, .scale = 0.7f};
        c.logits = test_floats(c.n * c.classes);
        fill_uniform(&r, c.logits, c.n * c.classes, -3, 3);
        c.logits[1 * 5 + 3] = 4; /* row 1 predicted right */
        float *g = test_floats(c.n * c.classes);
        fill_const(g, c.n * c.classes, 9.0f); /* losses overwrite */
        int64_t counted = -1, correct = -1, rc, rk;
        double loss;
        assert_int_equal(vt_softmax_xent(c.logits, labels, c.n, c.classes, c.weights, g, c.scale, &loss, &counted,
                                         &correct),
                         VT_OK);
        double want = xent_reference(&c, &rc, &rk);
        printf("    xent%s loss %.9f want %.9f\n", wi ? " weighted" : "", loss, want);
        assert_true(fabs(loss - want) < 1e-6 * fmax(1, fabs(want)));
        assert_int_equal(counted, 5);
        assert_int_equal(correct, rk);
        assert_true(rk >= 1);
        for (int64_t k = 0; k < c.classes; k++) assert_true(g[2 * 5 + k] == 0 && g[4 * 5 + k] == 0);
        check_grad(wi ? "softmax xent weighted dlogits" : "softmax xent dlogits", xent_objective, &c, c.logits, g,
                   c.n * c.classes, GRAD_EPS, GRAD_TOL);
        free(c.logits), free(g);
    }
    /* a label beyond the classes: NaN and an error naming it */
    float x[4] = {0, 1, 2, 3};
    const int32_t bad[2] = {1, 2};
    vt_clear_error();
    double loss = 42;
    assert_int_equal(vt_softmax_xent(x, bad, 2, 2, NULL, NULL, 1, &loss, NULL, NULL), VT_ERR_INVALID_ARG);
    assert_true(loss == 42); /* nothing written */
    assert_non_null(strstr(vt_last_error(), "row 1"));
    /* nothing counted: loss 0 and a zero gradient (not NaN) */
    const int32_t none[2] = {-100, -1};
    float gx[4] = {5, 5, 5, 5};
    int64_t counted = -1;
    assert_int_equal(vt_softmax_xent(x, none, 2, 2, NULL, gx, 1, &loss, &counted, NULL), VT_OK);
    assert_true(loss == 0.0);
    assert_int_equal(counted, 0);
    for (int i = 0; i < 4; i++) assert_true(gx[i] == 0.0f);
    /* stable for huge logits */
    float huge[3] = {1000, -1000, 0};
    const int32_t l0[1] = {1};
    double hl;
    assert_int_equal(vt_softmax_xent(huge, l0, 1, 3, NULL, NULL, 1, &hl, NULL, NULL), VT_OK);
    assert_true(fabs(hl - 2000.0) < 1e-3);
}

typedef struct vec_loss_ctx {
    float *x;
    const float *t;
    int64_t n;
    int kind; /* 0 bce logits, 1 bce probs, 2 mse */
    float scale;
} vec_loss_ctx;

static double vec_loss(vec_loss_ctx *c, float *g) {
    switch (c->kind) {
    case 0: return vt_binary_xent(c->x, c->t, c->n, true, g, c->scale);
    case 1: return vt_binary_xent(c->x, c->t, c->n, false, g, c->scale);
    default: return vt_mse(c->x, c->t, c->n, g, c->scale);
    }
}

static double vec_objective(void *p) {
    vec_loss_ctx *c = p;
    return c->scale * vec_loss(c, NULL);
}

static void test_vector_losses(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 16);
    const char *names[3] = {"bce from logits", "bce from probabilities", "mse"};
    for (int kind = 0; kind < 3; kind++) {
        vec_loss_ctx c = {.n = 9, .kind = kind, .scale = 1.3f};
        c.x = test_floats(c.n);
        float *t = test_floats(c.n), *g = test_floats(c.n);
        c.t = t;
        if (kind == 1) fill_uniform(&r, c.x, c.n, 0.05f, 0.95f);
        else fill_uniform(&r, c.x, c.n, -4, 4);
        for (int64_t i = 0; i < c.n; i++) t[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : (float)vt_rng_uniform(&r);
        fill_const(g, c.n, 9.0f);
        double loss = vec_loss(&c, g), want = 0;
        for (int64_t i = 0; i < c.n; i++) {
            double xi = c.x[i], ti = t[i];
            if (kind == 0) want += -(ti * log(1 / (1 + exp(-xi))) + (1 - ti) * log(1 - 1 / (1 + exp(-xi))));
            if (kind == 1) want += -(ti * log(xi) + (1 - ti) * log(1 - xi));
            if (kind == 2) want += (xi - ti) * (xi - ti);
        }
        want /= c.n;
        printf("    %s loss %.9f want %.9f\n", names[kind], loss, want);
        assert_true(fabs(loss - want) < 1e-6 * fmax(1, fabs(want)));
        /* probabilities: 1 / (p (1 - p)) is steep near the ends, so eps 1e-3 */
        check_grad(names[kind], vec_objective, &c, c.x, g, c.n, kind == 1 ? 1e-3f : GRAD_EPS, GRAD_TOL);
        free(c.x), free(t), free(g);
    }
    /* logits: stable far out */
    float big[2] = {60, -60}, tb[2] = {0, 0}, gb[2];
    double lb = vt_binary_xent(big, tb, 2, true, gb, 1);
    assert_true(fabs(lb - 30.0) < 1e-5);
    assert_true(fabs(gb[0] - 0.5f) < 1e-6 && fabs(gb[1]) < 1e-6);
    /* probabilities: Keras' clip to [1e-7, 1 - 1e-7], no gradient beyond */
    float p[3] = {0, 1, 1e-9f}, tp[3] = {1, 0, 1}, gp[3];
    double lp = vt_binary_xent(p, tp, 3, false, gp, 1);
    double lo = 1e-7f, hi = 1.0f - 1e-7f;
    double wp = (-log(lo) - log(1 - hi) - log(lo)) / 3;
    printf("    bce clipped loss %.9f want %.9f\n", lp, wp);
    assert_true(fabs(lp - wp) < 1e-9 * wp);
    for (int i = 0; i < 3; i++) assert_true(gp[i] == 0.0f);
    /* empty input */
    assert_true(vt_mse(NULL, NULL, 0, NULL, 1) == 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activation_grads), cmocka_unit_test(test_activation_values),
        cmocka_unit_test(test_activation_names), cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_embedding),        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_attention),        cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_vector_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
