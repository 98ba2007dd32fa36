/* Optimizers, schedules and clipping (verto/optim.h) against torch.optim.
 *
 * Golden data: tests/ref/gen_optim.py -> $VT_REF_DIR/optim.safetensors, ten
 * updates of seven cases (SGD, SGD momentum, Adam eps 1e-8 / 1e-7, AdamW with
 * decay exclusions, AdamW + linear warmup/decay, AdamW + clip + schedule).
 *
 * Tolerance: parameters after every update must match PyTorch within 1e-5 of
 * the tensor's largest magnitude. Both sides compute in float32, but not in
 * the same order (PyTorch's vectorised kernels use FMA and per-tensor norms,
 * verto accumulates the clipping norm in double; PyTorch's betas are doubles
 * where verto's are floats, e.g. 1 - 0.9f differs from 1 - 0.9 by 2e-7
 * relative), so a few ulps of each value differ. Because Adam's updates are
 * small next to the parameters, the accumulated update p_k - p_0 is also
 * compared, within 1e-4 of its own scale: an error of 1% in a rule would show
 * there as 1e-2. */
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "verto/error.h"
#include "verto/optim.h"

#define STEPS 10
#define CLIP_STEP 4 /* the one update whose gradient norm exceeds 1 (gen_optim.py) */
#define PARAM_TOL 1e-5
#define DELTA_TOL 1e-4

/* The reference parameters in gen_optim.py's order, plus one frozen slice
 * (not in PyTorch's optimizer) placed between them. */
static const char *const NAMES[] = {
    "embeddings.word_embeddings.weight",
    "embeddings.position_embeddings.weight", /* frozen, C side only */
    "encoder.layer.0.attention.self.query.weight",
    "encoder.layer.0.attention.self.query.bias",
    "encoder.layer.0.attention.output.LayerNorm.weight",
    "encoder.layer.0.attention.output.LayerNorm.bias",
    "encoder.layer.0.intermediate.dense.weight",
    "classifier.weight",
    "classifier.bias",
};
#define N_PARAMS (sizeof NAMES / sizeof NAMES[0])
#define FROZEN 1
#define FROZEN_NUMEL 30
static const char *const NO_DECAY[] = {"bias", "LayerNorm.weight"};

typedef struct layout {
    vt_param_info info[N_PARAMS];
    int64_t n_floats;
} layout;

static layout make_layout(const vt_st_file *f) {
    layout l = {0};
    for (size_t i = 0; i < N_PARAMS; i++) {
        int64_t numel = FROZEN_NUMEL;
        if (i != FROZEN) {
            char key[256];
            snprintf(key, sizeof key, "init/%s", NAMES[i]);
            const vt_st_tensor *t = vt_st_find(f, key);
            if (!t) fail_msg("reference tensor %s missing", key);
            numel = t->numel;
        }
        l.info[i] = (vt_param_info){.name = NAMES[i], .offset = l.n_floats, .numel = numel, .trainable = i != FROZEN};
        l.n_floats += numel;
    }
    return l;
}

/* Copies reference tensor `key` into buf at the parameter's slice. */
static void load_slice(const vt_st_file *f, const char *key, const vt_param_info *p, float *buf) {
    int64_t n;
    float *x = ref_f32(f, key, &n);
    assert_int_equal(n, p->numel);
    memcpy(buf + p->offset, x, (size_t)n * sizeof(float));
    free(x);
}

static double frozen_value(int64_t i) { return 0.25 + 0.01 * (double)i; }

static vt_optimizer_config case_config(const char *name) {
    vt_optimizer_config c;
    assert_int_equal(vt_optimizer_config_default(strncmp(name, "sgd", 3) ? "adamw" : "sgd", &c), VT_OK);
    if (!strcmp(name, "sgd")) {
        c.learning_rate = 0.1f;
    } else if (!strcmp(name, "sgd_momentum")) {
        c.learning_rate = 0.1f;
        c.momentum = 0.9f;
    } else {
        c.learning_rate = 1e-3f;
        c.epsilon = 1e-8f;
        c.beta1 = 0.9f;
        c.beta2 = 0.999f;
        if (!strncmp(name, "adam_", 5) || !strcmp(name, "adam")) {
            c.kind = VT_OPT_ADAM;
            c.weight_decay = 0.0f;
            if (!strcmp(name, "adam_eps7")) c.epsilon = 1e-7f;
        } else {
            c.kind = VT_OPT_ADAMW;
            c.weight_decay = 0.01f;
            c.no_decay = NO_DECAY;
            c.n_no_decay = 2;
            if (strstr(name, "sched")) {
                c.schedule = VT_SCHED_LINEAR_WARMUP_DECAY;
                c.warmup_steps = 3;
                c.total_steps = 10;
            }
            if (strstr(name, "clip")) c.clip_norm = 1.0f;
        }
    }
    return c;
}

/* Runs one golden case: ten updates, every parameter compared after each. */
static void run_case(const char *name) {
    vt_st_file *f = ref_open("optim.safetensors");
    layout l = make_layout(f);
    float *params = malloc((size_t)l.n_floats * sizeof(float));
    float *grads = malloc((size_t)l.n_floats * sizeof(float));
    float *init = malloc((size_t)l.n_floats * sizeof(float));
    assert_true(params && grads && init);
    char key[320];
    const vt_param_info *fz = &l.info[FROZEN];
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (i == FROZEN) continue;
        snprintf(key, sizeof key, "init/%s", NAMES[i]);
        load_slice(f, key, &l.info[i], params);
    }
    for (int64_t j = 0; j < fz->numel; j++) params[fz->offset + j] = (float)frozen_value(j);
    memcpy(init, params, (size_t)l.n_floats * sizeof(float));

    vt_optimizer_config cfg = case_config(name);
    vt_optimizer *o = vt_optimizer_new(&cfg, l.n_floats, l.info, N_PARAMS);
    if (!o) fail_msg("%s: vt_optimizer_new: %s", name, vt_last_error());
    snprintf(key, sizeof key, "%s/lr", name);
    float *lr = ref_f32(f, key, NULL);
    float *norms = ref_f32(f, "grad_norm", NULL);

    double worst_p = 0, worst_d = 0, worst_lr = 0, worst_norm = 0;
    for (int s = 0; s < STEPS; s++) {
        for (size_t i = 0; i < N_PARAMS; i++) {
            if (i == FROZEN) continue;
            snprintf(key, sizeof key, "grad/%d/%s", s, NAMES[i]);
            load_slice(f, key, &l.info[i], grads);
        }
        /* Large gradients on the frozen slice: counted in the norm, they
         * would change every clipped case and every grad_norm. */
        for (int64_t j = 0; j < fz->numel; j++) grads[fz->offset + j] = 100.0f;

        assert_int_equal(vt_optimizer_steps_done(o), s);
        double lr_err = fabs((double)vt_optimizer_current_lr(o) - lr[s]) / (lr[s] > 0 ? lr[s] : 1.0);
        if (lr_err > 1e-6) fail_msg("%s step %d: lr %g, PyTorch %g", name, s, (double)vt_optimizer_current_lr(o), (double)lr[s]);
        if (lr_err > worst_lr) worst_lr = lr_err;

        float norm = -1;
        vt_status st = vt_optimizer_step(o, params, grads, &norm);
        if (st != VT_OK) fail_msg("%s step %d: %s", name, s, vt_last_error());
        double norm_err = fabs((double)norm - norms[s]) / norms[s];
        if (norm_err > 1e-6) fail_msg("%s step %d: grad norm %g, PyTorch %g", name, s, (double)norm, (double)norms[s]);
        if (norm_err > worst_norm) worst_norm = norm_err;

        for (size_t i = 0; i < N_PARAMS; i++) {
            const vt_param_info *p = &l.info[i];
            if (i == FROZEN) {
                for (int64_t j = 0; j < p->numel; j++) {
                    if (params[p->offset + j] != (float)frozen_value(j)) fail_msg("%s step %d: frozen parameter changed", name, s);
                    if (grads[p->offset + j] != 100.0f) fail_msg("%s step %d: frozen gradient changed", name, s);
                }
                continue;
            }
            int64_t n;
            snprintf(key, sizeof key, "%s/step%d/%s", name, s + 1, NAMES[i]);
            float *want = ref_f32(f, key, &n);
            const float *got = params + p->offset;
            double r = rel_max_diff(got, want, n);
            if (!(r <= PARAM_TOL)) fail_msg("%s step %d %s: rel max diff %g > %g", name, s + 1, NAMES[i], r, PARAM_TOL);
            if (r > worst_p) worst_p = r;
            /* The accumulated update, relative to its own scale. */
            float *dg = malloc((size_t)n * sizeof(float)), *dw = malloc((size_t)n * sizeof(float));
            assert_true(dg && dw);
            for (int64_t j = 0; j < n; j++) {
                dg[j] = got[j] - init[p->offset + j];
                dw[j] = want[j] - init[p->offset + j];
            }
            double d = rel_max_diff(dg, dw, n);
            if (!(d <= DELTA_TOL)) fail_msg("%s step %d %s: update rel max diff %g > %g", name, s + 1, NAMES[i], d, DELTA_TOL);
            if (d > worst_d) worst_d = d;
            free(dg);
            free(dw);
            free(want);
        }
        if (cfg.clip_norm > 0 && s == CLIP_STEP) {
            /* The gradients were clipped in place to norm ~1. */
            double ss = 0;
            for (size_t i = 0; i < N_PARAMS; i++)
                if (i != FROZEN)
                    for (int64_t j = 0; j < l.info[i].numel; j++) ss += (double)grads[l.info[i].offset + j] * grads[l.info[i].offset + j];
            if (fabs(sqrt(ss) - 1.0) > 1e-5) fail_msg("%s: clipped gradient norm %g, want 1", name, sqrt(ss));
        }
    }
    assert_int_equal(vt_optimizer_steps_done(o), STEPS);
    printf("    %-18s params rel max diff %.3g (tol %.0e), updates %.3g (tol %.0e), lr %.2g, grad norm %.2g\n", name,
           worst_p, PARAM_TOL, worst_d, DELTA_TOL, worst_lr, worst_norm);
    vt_optimizer_free(o);
    free(lr);
    free(norms);
    free(params);
    free(grads);
    free(init);
    vt_st_close(f);
}

static void test_golden_sgd(void **state) { run_case("sgd"); }
static void test_golden_sgd_momentum(void **state) { run_case("sgd_momentum"); }
static void test_golden_adam(void **state) { run_case("adam"); }
static void test_golden_adam_eps7(void **state) { run_case("adam_eps7"); }
static void test_golden_adamw(void **state) { run_case("adamw"); }
static void test_golden_adamw_sched(void **state) { run_case("adamw_sched"); }
static void test_golden_adamw_clip_sched(void **state) { run_case("adamw_clip_sched"); }

/* A NaN or infinite gradient on a trainable slice: VT_ERR_NUMERIC, and
 * params, grads, moments and the step counter are exactly as before. */
static void test_nonfinite_gradient_changes_nothing(void **state) {
    enum { N = 40 };
    vt_param_info info[] = {
        {.name = "w", .offset = 0, .numel = 30, .trainable = true},
        {.name = "frozen", .offset = 30, .numel = 10, .trainable = false},
    };
    vt_optimizer_config c;
    assert_int_equal(vt_optimizer_config_default("adam", &c), VT_OK);
    c.clip_norm = 1.0f;
    vt_optimizer *o = vt_optimizer_new(&c, N, info, 2);
    assert_non_null(o);
    float p[N], g[N];
    for (int i = 0; i < N; i++) p[i] = 0.1f * (float)i, g[i] = 0.05f * (float)(i % 7) - 0.1f;
    assert_int_equal(vt_optimizer_step(o, p, g, NULL), VT_OK);

    /* NaN in the frozen slice is not a gradient PyTorch would see: fine. */
    g[35] = NAN;
    assert_int_equal(vt_optimizer_step(o, p, g, NULL), VT_OK);
    assert_int_equal(vt_optimizer_steps_done(o), 2);

    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < 30; i++) g[i] = 0.01f * (float)i;
        g[7] = bad[b];
        float p0[N], g0[N], m0[N], v0[N];
        memcpy(p0, p, sizeof p);
        memcpy(g0, g, sizeof g);
        memcpy(m0, vt_optimizer_state(o, 0), sizeof m0);
        memcpy(v0, vt_optimizer_state(o, 1), sizeof v0);
        vt_clear_error();
        float norm = 0;
        assert_int_equal(vt_optimizer_step(o, p, g, &norm), VT_ERR_NUMERIC);
        assert_false(isfinite(norm));
        assert_true(strstr(vt_last_error(), "gradient norm") != NULL);
        assert_memory_equal(p, p0, sizeof p);
        assert_memory_equal(g, g0, sizeof g);
        assert_memory_equal(vt_optimizer_state(o, 0), m0, sizeof m0);
        assert_memory_equal(vt_optimizer_state(o, 1), v0, sizeof v0);
        assert_int_equal(vt_optimizer_steps_done(o), 2);
    }
    vt_optimizer_free(o);
}

/* vt_optimizer_new refuses a bad config with INVALID_ARG and a message naming
 * the field. */
static void expect_rejected(const vt_optimizer_config *c, const char *field) {
    vt_param_info info = {.name = "w", .offset = 0, .numel = 4, .trainable = true};
    vt_clear_error();
    vt_optimizer *o = vt_optimizer_new(c, 4, &info, 1);
    if (o) {
        vt_optimizer_free(o);
        fail_msg("config with bad %s accepted", field);
    }
    assert_int_equal(vt_last_status(), VT_ERR_INVALID_ARG);
    if (!strstr(vt_last_error(), field)) fail_msg("message '%s' does not name %s", vt_last_error(), field);
}

static void test_bad_configs_rejected(void **state) {
    vt_optimizer_config base, c;
    assert_int_equal(vt_optimizer_config_default("adamw", &base), VT_OK);
    c = base, c.learning_rate = -0.1f, expect_rejected(&c, "learning_rate");
    c = base, c.learning_rate = NAN, expect_rejected(&c, "learning_rate");
    c = base, c.beta1 = 1.0f, expect_rejected(&c, "beta1");
    c = base, c.beta2 = 1.0f, expect_rejected(&c, "beta2");
    c = base, c.beta2 = -0.5f, expect_rejected(&c, "beta2");
    c = base, c.epsilon = 0.0f, expect_rejected(&c, "epsilon");
    c = base, c.weight_decay = -1.0f, expect_rejected(&c, "weight_decay");
    c = base, c.clip_norm = -1.0f, expect_rejected(&c, "clip_norm");
    c = base, c.momentum = 0.9f, expect_rejected(&c, "momentum");
    c = base, c.kind = VT_OPT_ADAM, expect_rejected(&c, "weight_decay"); /* adam has no decay */
    c = base, c.n_no_decay = 1, expect_rejected(&c, "no_decay");
    c = base, c.schedule = VT_SCHED_LINEAR_WARMUP_DECAY, c.warmup_steps = 11, c.total_steps = 10,
    expect_rejected(&c, "warmup_steps");
    c = base, c.schedule = VT_SCHED_LINEAR_WARMUP_DECAY, c.warmup_steps = -1, c.total_steps = 10,
    expect_rejected(&c, "warmup_steps");
    c = base, c.schedule = VT_SCHED_LINEAR_WARMUP_DECAY, c.total_steps = 0, expect_rejected(&c, "total_steps");
    c = base, c.warmup_steps = 3, expect_rejected(&c, "warmup_steps"); /* constant schedule */
    c = base, c.kind = (vt_optimizer_kind)7, expect_rejected(&c, "kind");
    c = base, c.schedule = (vt_schedule_kind)7, expect_rejected(&c, "schedule");
    assert_int_equal(vt_optimizer_config_default("sgd", &base), VT_OK);
    c = base, c.momentum = 1.0f, expect_rejected(&c, "momentum");
    c = base, c.momentum = -0.1f, expect_rejected(&c, "momentum");

    /* Slices outside the buffer or overlapping. */
    assert_int_equal(vt_optimizer_config_default("sgd", &c), VT_OK);
    vt_param_info out_of_range = {.name = "w", .offset = 2, .numel = 4, .trainable = true};
    vt_clear_error();
    assert_null(vt_optimizer_new(&c, 4, &out_of_range, 1));
    assert_true(strstr(vt_last_error(), "'w'") != NULL);
    vt_param_info overlap[] = {{.name = "a", .offset = 0, .numel = 3, .trainable = true},
                               {.name = "b", .offset = 2, .numel = 2, .trainable = true}};
    vt_clear_error();
    assert_null(vt_optimizer_new(&c, 4, overlap, 2));
    assert_true(strstr(vt_last_error(), "overlap") != NULL);
    assert_null(vt_optimizer_new(NULL, 4, NULL, 0));
    assert_int_equal(vt_last_status(), VT_ERR_INVALID_ARG);
}

static void test_defaults(void **state) {
    vt_optimizer_config c;
    assert_int_equal(vt_optimizer_config_default("sgd", &c), VT_OK);
    assert_int_equal(c.kind, VT_OPT_SGD);
    assert_true(c.learning_rate == 0.01f && c.momentum == 0.0f && c.weight_decay == 0.0f);
    assert_int_equal(vt_optimizer_config_default("adam", &c), VT_OK);
    assert_int_equal(c.kind, VT_OPT_ADAM);
    assert_true(c.learning_rate == 0.001f && c.beta1 == 0.9f && c.beta2 == 0.999f && c.epsilon == 1e-7f);
    assert_true(c.weight_decay == 0.0f && c.clip_norm == 0.0f && c.schedule == VT_SCHED_CONSTANT);
    assert_int_equal(vt_optimizer_config_default("adamw", &c), VT_OK);
    assert_int_equal(c.kind, VT_OPT_ADAMW);
    assert_true(c.learning_rate == 0.001f && c.beta1 == 0.9f && c.beta2 == 0.999f && c.epsilon == 1e-7f);
    assert_true(c.weight_decay == 0.004f);
    vt_optimizer *o = vt_optimizer_new(&c, 8, NULL, 0); /* whole buffer, one parameter */
    assert_non_null(o);
    vt_optimizer_free(o);
    vt_clear_error();
    assert_int_equal(vt_optimizer_config_default("rmsprop", &c), VT_ERR_INVALID_ARG);
    assert_true(strstr(vt_last_error(), "rmsprop") != NULL);
    assert_int_equal(vt_optimizer_config_default(NULL, &c), VT_ERR_INVALID_ARG);
}

static void test_schedule_factors(void **state) {
    vt_optimizer_config c;
    assert_int_equal(vt_optimizer_config_default("adamw", &c), VT_OK);
    for (int64_t s = -1; s < 5; s++) assert_true(vt_schedule_factor(&c, s) == 1.0f);
    c.schedule = VT_SCHED_LINEAR_WARMUP_DECAY;
    c.warmup_steps = 3;
    c.total_steps = 10;
    const struct { int64_t step; double f; } want[] = {
        {-1, 0}, {0, 0}, {1, 1.0 / 3}, {2, 2.0 / 3}, {3, 1}, {4, 6.0 / 7}, {9, 1.0 / 7}, {10, 0}, {11, 0}, {1000, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (fabs(vt_schedule_factor(&c, want[i].step) - want[i].f) > 1e-7)
            fail_msg("factor(%lld) = %g, want %g", (long long)want[i].step, (double)vt_schedule_factor(&c, want[i].step), want[i].f);
    c.warmup_steps = 0; /* no warmup: starts at the peak */
    assert_true(vt_schedule_factor(&c, 0) == 1.0f);
    assert_true(fabsf(vt_schedule_factor(&c, 5) - 0.5f) < 1e-7f);
    c.warmup_steps = c.total_steps = 5; /* warmup only, then zero */
    assert_true(fabsf(vt_schedule_factor(&c, 4) - 0.8f) < 1e-7f);
    assert_true(vt_schedule_factor(&c, 5) == 0.0f);

    /* current_lr follows the step counter, including a restored one. */
    c.warmup_steps = 3;
    c.total_steps = 10;
    c.learning_rate = 1e-3f;
    vt_optimizer *o = vt_optimizer_new(&c, 4, NULL, 0);
    assert_non_null(o);
    assert_true(vt_optimizer_current_lr(o) == 0.0f);
    vt_optimizer_set_steps_done(o, 3);
    assert_true(fabsf(vt_optimizer_current_lr(o) - 1e-3f) < 1e-10f);
    vt_optimizer_set_steps_done(o, -4); /* ignored */
    assert_int_equal(vt_optimizer_steps_done(o), 3);
    vt_optimizer_free(o);
}

static void test_clip_global_norm(void **state) {
    float g[2] = {3, 4};
    assert_true(vt_clip_global_norm(g, 2, 10.0f) == 5.0f);
    assert_true(g[0] == 3 && g[1] == 4); /* below the limit: untouched */
    assert_true(vt_clip_global_norm(g, 2, 0.0f) == 5.0f);
    assert_true(g[0] == 3 && g[1] == 4); /* max_norm 0: only measures */
    assert_true(vt_clip_global_norm(g, 2, 1.0f) == 5.0f);
    assert_true(fabsf(g[0] - 0.6f) < 1e-6f && fabsf(g[1] - 0.8f) < 1e-6f);
    float h[3] = {1, NAN, 2};
    assert_true(isnan(vt_clip_global_norm(h, 3, 1.0f)));
    assert_true(h[0] == 1 && h[2] == 2);

    /* Large enough for the threaded path; compared with a plain double sum. */
    enum { N = 200003 };
    float *x = malloc(N * sizeof(float));
    assert_non_null(x);
    double ss = 0;
    for (int i = 0; i < N; i++) {
        x[i] = (float)sin(0.001 * i);
        ss += (double)x[i] * x[i];
    }
    float norm = vt_clip_global_norm(x, N, 2.0f);
    assert_true(fabs(norm - sqrt(ss)) <= 1e-6 * sqrt(ss));
    ss = 0;
    for (int i = 0; i < N; i++) ss += (double)x[i] * x[i];
    assert_true(fabs(sqrt(ss) - 2.0) < 1e-5);
    free(x);
}

static void test_state_buffers(void **state) {
    vt_optimizer_config c;
    assert_int_equal(vt_optimizer_config_default("sgd", &c), VT_OK);
    vt_optimizer *o = vt_optimizer_new(&c, 4, NULL, 0);
    assert_non_null(o);
    assert_null(vt_optimizer_state(o, 0));
    assert_null(vt_optimizer_state(o, 1));
    vt_optimizer_free(o);
    c.momentum = 0.5f;
    o = vt_optimizer_new(&c, 4, NULL, 0);
    assert_non_null(o);
    assert_non_null(vt_optimizer_state(o, 0));
    assert_null(vt_optimizer_state(o, 1));
    float p[4] = {1, 1, 1, 1}, g[4] = {1, 2, 3, 4};
    assert_int_equal(vt_optimizer_step(o, p, g, NULL), VT_OK);
    assert_true(vt_optimizer_state(o, 0)[3] == 4.0f); /* buf = grad at the first step */
    vt_optimizer_free(o);
    assert_int_equal(vt_optimizer_config_default("adam", &c), VT_OK);
    o = vt_optimizer_new(&c, 4, NULL, 0);
    assert_non_null(o);
    assert_non_null(vt_optimizer_state(o, 0));
    assert_non_null(vt_optimizer_state(o, 1));
    assert_null(vt_optimizer_state(o, 2));
    vt_optimizer_free(o);
}

/* SGD with clipping: grads scaled in place, update uses the clipped grads. */
static void test_sgd_clips_in_place(void **state) {
    vt_optimizer_config c;
    assert_int_equal(vt_optimizer_config_default("sgd", &c), VT_OK);
    c.learning_rate = 0.5f;
    c.clip_norm = 1.0f;
    vt_optimizer *o = vt_optimizer_new(&c, 2, NULL, 0);
    assert_non_null(o);
    float p[2] = {1, 1}, g[2] = {3, 4}, norm = 0;
    assert_int_equal(vt_optimizer_step(o, p, g, &norm), VT_OK);
    assert_true(norm == 5.0f);
    assert_true(fabsf(g[0] - 0.6f) < 1e-6f && fabsf(g[1] - 0.8f) < 1e-6f);
    assert_true(fabsf(p[0] - 0.7f) < 1e-6f && fabsf(p[1] - 0.6f) < 1e-6f);
    vt_optimizer_free(o);
}

/* A buffer large enough to be split across threads, with runs of mixed decay
 * and a frozen hole, against a plain scalar AdamW + clipping written here. */
static void test_threaded_adamw_matches_scalar(void **state) {
    enum { N = 150000, STEPS_BIG = 3 };
    vt_param_info info[] = {
        {.name = "a.weight", .offset = 0, .numel = 50001, .trainable = true},
        {.name = "a.bias", .offset = 50001, .numel = 999, .trainable = true},
        {.name = "frozen.weight", .offset = 51000, .numel = 9000, .trainable = false},
        {.name = "b.LayerNorm.weight", .offset = 60000, .numel = 7, .trainable = true},
        {.name = "b.weight", .offset = 60007, .numel = 89993, .trainable = true},
    };
    const size_t n_info = sizeof info / sizeof info[0];
    vt_optimizer_config c;
    assert_int_equal(vt_optimizer_config_default("adamw", &c), VT_OK);
    c.weight_decay = 0.1f;
    c.learning_rate = 0.01f;
    c.no_decay = NO_DECAY;
    c.n_no_decay = 2;
    c.clip_norm = 5.0f;
    float *p = malloc(N * sizeof(float)), *g = malloc(N * sizeof(float));
    float *rp = malloc(N * sizeof(float)), *rm = calloc(N, sizeof(float)), *rv = calloc(N, sizeof(float));
    assert_true(p && g && rp && rm && rv);
    for (int i = 0; i < N; i++) p[i] = rp[i] = (float)cos(0.37 * i);
    const int threads_before = omp_get_max_threads();
    omp_set_num_threads(4);
    vt_optimizer *o = vt_optimizer_new(&c, N, info, n_info);
    assert_non_null(o);
    for (int s = 0; s < STEPS_BIG; s++) {
        for (int i = 0; i < N; i++) g[i] = 0.05f * (float)sin(0.11 * i + s);
        double ss = 0;
        for (size_t k = 0; k < n_info; k++)
            if (info[k].trainable)
                for (int64_t i = info[k].offset; i < info[k].offset + info[k].numel; i++) ss += (double)g[i] * g[i];
        float norm = (float)sqrt(ss), coef = (1.0f / (norm + 1e-6f)) * c.clip_norm;
        assert_true(coef < 1.0f); /* the data clips */
        double t = s + 1, bc1 = 1 - pow(c.beta1, t), bc2s = sqrt(1 - pow(c.beta2, t));
        for (size_t k = 0; k < n_info; k++) {
            if (!info[k].trainable) continue;
            bool decay = !strstr(info[k].name, "bias") && !strstr(info[k].name, "LayerNorm.weight");
            float keep = decay ? (float)(1.0 - c.learning_rate * (double)c.weight_decay) : 1.0f;
            for (int64_t i = info[k].offset; i < info[k].offset + info[k].numel; i++) {
                float gi = g[i] * coef;
                rm[i] = rm[i] + (float)(1 - (double)c.beta1) * (gi - rm[i]);
                rv[i] = rv[i] * c.beta2 + (float)(1 - (double)c.beta2) * gi * gi;
                float denom = sqrtf(rv[i]) / (float)bc2s + c.epsilon;
                rp[i] = rp[i] * keep + (float)(-(double)c.learning_rate / bc1) * (rm[i] / denom);
            }
        }
        float got_norm;
        assert_int_equal(vt_optimizer_step(o, p, g, &got_norm), VT_OK);
        assert_true(fabsf(got_norm - norm) <= 1e-6f * norm);
    }
    omp_set_num_threads(threads_before);
    /* Same operations in the same order: equal up to the last bit of the
     * clip factor's norm (double sums in a different grouping). */
    double worst = 0;
    for (size_t k = 0; k < n_info; k++) {
        double r = rel_max_diff(p + info[k].offset, rp + info[k].offset, info[k].numel);
        if (r > worst) worst = r;
    }
    printf("    threaded AdamW vs scalar loop: rel max diff %.3g (tol 1e-6)\n", worst);
    assert_true(worst <= 1e-6);
    for (int64_t i = 51000; i < 60000; i++) assert_true(p[i] == (float)cos(0.37 * i));
    vt_optimizer_free(o);
    free(p), free(g), free(rp), free(rm), free(rv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_sgd),
        cmocka_unit_test(test_golden_sgd_momentum),
        cmocka_unit_test(test_golden_adam),
        cmocka_unit_test(test_golden_adam_eps7),
        cmocka_unit_test(test_golden_adamw),
        cmocka_unit_test(test_golden_adamw_sched),
        cmocka_unit_test(test_golden_adamw_clip_sched),
        cmocka_unit_test(test_nonfinite_gradient_changes_nothing),
        cmocka_unit_test(test_bad_configs_rejected),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_schedule_factors),
        cmocka_unit_test(test_clip_global_norm),
        cmocka_unit_test(test_state_buffers),
        cmocka_unit_test(test_sgd_clips_in_place),
        cmocka_unit_test(test_threaded_adamw_matches_scalar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
