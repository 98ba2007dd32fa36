/* Kernels against PyTorch (tests/ref/gen_kernels.py -> kernels.safetensors):
 * activations (gelu exact and tanh, tanh, sigmoid, relu), softmax, layer_norm,
 * scaled_dot_product_attention (unmasked, key padding, full mask with
 * Tq != Tk, causal + padding), cross_entropy (ignore_index, class weights),
 * binary_cross_entropy (+ with logits) and mse_loss: outputs and gradients.
 *
 * PyTorch computed in float64 from the same float32 inputs, so the reference
 * is the exact answer rounded to float32. Tolerance: REF_TOL = 1e-5 of each
 * tensor's largest magnitude. Single float32 operations err by 6e-8; the
 * kernels' reductions (at most 37 terms here) and their exp/erf
 * approximations (a few ulp) stay well below 1e-6 relative, while any wrong
 * formula, mask or scale shows as 1e-2 or more. Losses (returned in double):
 * 1e-6 relative. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "verto/kernels.h"

#define REF_TOL 1e-5

static vt_st_file *g_ref;

static int setup(void **state) {
    (void)state;
    g_ref = ref_open("kernels.safetensors");
    return g_ref ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    vt_st_close(g_ref);
    return 0;
}

/* Reference tensor "<prefix>/<name>" as float (free it). */
static float *get(const char *prefix, const char *name, int64_t *numel) {
    char key[128];
    snprintf(key, sizeof key, "%s/%s", prefix, name);
    return ref_f32(g_ref, key, numel);
}

static double get_loss(const char *prefix) {
    float *l = get(prefix, "loss", NULL);
    const vt_st_tensor *t;
    char key[128];
    snprintf(key, sizeof key, "%s/loss", prefix);
    t = vt_st_find(g_ref, key);
    double v = l[0];
    if (t && t->dtype == VT_ST_F64) memcpy(&v, t->data, sizeof v); /* full precision */
    free(l);
    return v;
}

static float *filled(int64_t n, float v) {
    float *p = malloc((size_t)n * sizeof(float));
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = v;
    return p;
}

static void check_loss(const char *what, double got, double want) {
    double rel = fabs(got - want) / fmax(1e-12, fabs(want));
    printf("    %-40s loss %.9f want %.9f (rel %.1e, tol 1e-6)\n", what, got, want, rel);
    if (!(rel <= 1e-6)) fail_msg("%s: loss differs from PyTorch by %g relative", what, rel);
}

static void test_activations(void **state) {
    (void)state;
    const struct {
        const char *name;
        vt_activation act;
    } acts[] = {{"gelu", VT_ACT_GELU}, {"gelu_tanh", VT_ACT_GELU_TANH}, {"tanh", VT_ACT_TANH},
                {"sigmoid", VT_ACT_SIGMOID}, {"relu", VT_ACT_RELU}};
    int64_t n;
    float *x = get("act", "x", &n), *dy = get("act", "dy", NULL), *y = malloc((size_t)n * 4);
    assert_non_null(y);
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        char prefix[64], what[96];
        snprintf(prefix, sizeof prefix, "act/%s", acts[a].name);
        float *wy = get(prefix, "y", NULL), *wdx = get(prefix, "dx", NULL), *dx = filled(n, 0.0f);
        vt_activation_forward(acts[a].act, x, y, 1, n);
        vt_activation_backward(acts[a].act, x, y, dy, dx, 1, n);
        snprintf(what, sizeof what, "%s y", acts[a].name);
        assert_close_rel(what, y, wy, n, REF_TOL);
        snprintf(what, sizeof what, "%s dx", acts[a].name);
        assert_close_rel(what, dx, wdx, n, REF_TOL);
        free(wy), free(wdx), free(dx);
    }
    free(x), free(dy), free(y);
}

static void test_softmax(void **state) {
    (void)state;
    int64_t n;
    float *x = get("softmax", "x", &n), *dy = get("softmax", "dy", NULL), *wy = get("softmax", "y", NULL),
          *wdx = get("softmax", "dx", NULL), *y = filled(n, 0), *dx = filled(n, 0);
    assert_int_equal(n, 5 * 11);
    vt_activation_forward(VT_ACT_SOFTMAX, x, y, 5, 11);
    vt_activation_backward(VT_ACT_SOFTMAX, x, y, dy, dx, 5, 11);
    assert_close_rel("softmax y", y, wy, n, REF_TOL);
    assert_close_rel("softmax dx", dx, wdx, n, REF_TOL);
    free(x), free(dy), free(wy), free(wdx), free(y), free(dx);
}

static void test_layernorm(void **state) {
    (void)state;
    const int64_t R = 6, C = 37;
    int64_t n;
    float *x = get("ln", "x", &n), *g = get("ln", "gamma", NULL), *b = get("ln", "beta", NULL),
          *dy = get("ln", "dy", NULL), *wy = get("ln", "y", NULL), *wdx = get("ln", "dx", NULL),
          *wdg = get("ln", "dgamma", NULL), *wdb = get("ln", "dbeta", NULL);
    assert_int_equal(n, R * C);
    float *y = filled(n, 0), *dx = filled(n, 0), *dg = filled(C, 0), *db = filled(C, 0), *mean = filled(R, 0),
          *rstd = filled(R, 0);
    vt_layernorm_forward(x, g, b, y, mean, rstd, R, C, 1e-12f);
    vt_layernorm_backward(dy, x, g, mean, rstd, dx, dg, db, R, C);
    assert_close_rel("layer_norm y", y, wy, n, REF_TOL);
    assert_close_rel("layer_norm dx", dx, wdx, n, REF_TOL);
    assert_close_rel("layer_norm dgamma", dg, wdg, C, REF_TOL);
    assert_close_rel("layer_norm dbeta", db, wdb, C, REF_TOL);
    free(x), free(g), free(b), free(dy), free(wy), free(wdx), free(wdg), free(wdb);
    free(y), free(dx), free(dg), free(db), free(mean), free(rstd);
}

static void attention_case(const char *name, int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t E, int64_t Ev,
                           vt_mask_kind mk, bool causal) {
    char prefix[64], what[96];
    snprintf(prefix, sizeof prefix, "attn_%s", name);
    int64_t nq, nk, nv, no, np;
    float *q = get(prefix, "q", &nq), *k = get(prefix, "k", &nk), *v = get(prefix, "v", &nv),
          *dout = get(prefix, "dout", &no), *wout = get(prefix, "out", NULL), *wp = get(prefix, "probs", &np),
          *wdq = get(prefix, "dq", NULL), *wdk = get(prefix, "dk", NULL), *wdv = get(prefix, "dv", NULL);
    assert_int_equal(nq, B * Tq * H * E);
    assert_int_equal(nv, B * Tk * H * Ev);
    assert_int_equal(np, B * H * Tq * Tk);
    int32_t *mask = NULL;
    if (mk != VT_MASK_NONE) {
        char key[96];
        snprintf(key, sizeof key, "%s/mask", prefix);
        mask = ref_i32(g_ref, key, NULL);
    }
    vt_attention_dims d = {.batch = B, .q_len = Tq, .kv_len = Tk, .heads = H, .key_dim = E, .value_dim = Ev,
                           .q_stride = H * E, .k_stride = H * E, .v_stride = H * Ev, .out_stride = H * Ev};
    vt_attention_opts o = {.scale = 1.0f / sqrtf((float)E), .causal = causal, .mask_kind = mk, .mask = mask};
    float *out = filled(no, 0), *probs = filled(np, 0), *dq = filled(nq, 0), *dk = filled(nk, 0), *dv = filled(nv, 0);
    assert_int_equal(vt_attention_forward(&d, &o, q, k, v, probs, NULL, out), VT_OK);
    assert_int_equal(vt_attention_backward(&d, &o, q, k, v, probs, NULL, dout, dq, dk, dv), VT_OK);
    snprintf(what, sizeof what, "%s out", prefix);
    assert_close_rel(what, out, wout, no, REF_TOL);
    snprintf(what, sizeof what, "%s probs", prefix);
    assert_close_rel(what, probs, wp, np, REF_TOL);
    snprintf(what, sizeof what, "%s dq", prefix);
    assert_close_rel(what, dq, wdq, nq, REF_TOL);
    snprintf(what, sizeof what, "%s dk", prefix);
    assert_close_rel(what, dk, wdk, nk, REF_TOL);
    snprintf(what, sizeof what, "%s dv", prefix);
    assert_close_rel(what, dv, wdv, nv, REF_TOL);
    free(q), free(k), free(v), free(dout), free(wout), free(wp), free(wdq), free(wdk), free(wdv), free(mask);
    free(out), free(probs), free(dq), free(dk), free(dv);
}

static void test_attention(void **state) {
    (void)state;
    attention_case("none", 2, 5, 5, 2, 4, 4, VT_MASK_NONE, false);
    attention_case("keys", 3, 7, 7, 3, 8, 8, VT_MASK_KEYS, false);
    attention_case("full", 2, 5, 7, 2, 6, 3, VT_MASK_FULL, false);
    attention_case("causal", 2, 7, 7, 3, 4, 4, VT_MASK_KEYS, true);
}

static void test_cross_entropy(void **state) {
    (void)state;
    const int64_t n = 12, c = 7;
    int64_t numel;
    float *logits = get("xent", "logits", &numel), *w = get("xent", "weights", NULL);
    assert_int_equal(numel, n * c);
    int32_t *labels = ref_i32(g_ref, "xent/labels", NULL);
    float *g = filled(n * c, 3.0f);
    for (int wi = 0; wi < 2; wi++) {
        const char *prefix = wi ? "xent_w" : "xent";
        float *wg = get(prefix, "dlogits", NULL);
        int64_t counted;
        double loss;
        assert_int_equal(vt_softmax_xent(logits, labels, n, c, wi ? w : NULL, g, 1.0f, &loss, &counted, NULL), VT_OK);
        assert_int_equal(counted, 10); /* two rows carry ignore_index -100 */
        check_loss(wi ? "cross_entropy(weight=)" : "cross_entropy", loss, get_loss(prefix));
        assert_close_rel(wi ? "cross_entropy(weight=) dlogits" : "cross_entropy dlogits", g, wg, n * c, REF_TOL);
        free(wg);
    }
    free(logits), free(w), free(labels), free(g);
}

static void test_binary_and_mse(void **state) {
    (void)state;
    int64_t n;
    float *p = get("bce", "p", &n), *t = get("bce", "t", NULL), *wdp = get("bce", "dp", NULL), *g = filled(n, 3);
    check_loss("binary_cross_entropy", vt_binary_xent(p, t, n, false, g, 1.0f), get_loss("bce"));
    assert_close_rel("binary_cross_entropy dp", g, wdp, n, REF_TOL);
    free(p), free(t), free(wdp), free(g);

    float *x = get("bcel", "x", &n), *tl = get("bcel", "t", NULL), *wdx = get("bcel", "dx", NULL);
    g = filled(n, 3);
    check_loss("binary_cross_entropy_with_logits", vt_binary_xent(x, tl, n, true, g, 1.0f), get_loss("bcel"));
    assert_close_rel("binary_cross_entropy_with_logits dx", g, wdx, n, REF_TOL);
    free(x), free(tl), free(wdx), free(g);

    float *m = get("mse", "x", &n), *mt = get("mse", "t", NULL), *wdm = get("mse", "dx", NULL);
    g = filled(n, 3);
    check_loss("mse_loss", vt_mse(m, mt, n, g, 1.0f), get_loss("mse"));
    assert_close_rel("mse_loss dx", g, wdm, n, REF_TOL);
    free(m), free(mt), free(wdm), free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activations), cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_layernorm),   cmocka_unit_test(test_attention),
        cmocka_unit_test(test_cross_entropy), cmocka_unit_test(test_binary_and_mse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
