/* Logits processing and sampling for generation against transformers'
 * processors (tests/ref/gen_sampling.py), seeded draws, stop strings.
 *
 * Tolerance for processed scores: 1e-6 absolute. The operations are the same
 * float32 ones (a multiply or divide by the penalty, a divide by the
 * temperature, -inf for removed tokens), so the scores should agree bit for
 * bit; 1e-6 only leaves room for a compiler contracting differently. The set
 * of kept tokens must be identical, except where top-p cuts through tokens of
 * equal score: there torch.sort's order among ties is unspecified, and the
 * number kept of that score must agree (the reference marks those cases). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/sampling.h"
#include "vt_test.h"

static const char *const CASES[] = {"penalty", "penalty_sampling", "temperature", "top_k", "top_k1", "top_p",
                                    "top_p_small", "top_p_ties", "all_gpt2", "all_gpt2_wide", "all_small_inf",
                                    "sample_small", "top_p_cont", "all_cont"};

typedef struct ref_case {
    float *logits, *out, *opts;
    int32_t *context, argmax, tie_cut;
    int64_t V, n_ctx;
    double chi2_limit;
} ref_case;

static ref_case load_case(const vt_st_file *f, const char *name) {
    char key[96];
    ref_case c = {0};
    int64_t n;
    snprintf(key, sizeof key, "%s.logits", name), c.logits = ref_f32(f, key, &c.V);
    snprintf(key, sizeof key, "%s.out", name), c.out = ref_f32(f, key, &n);
    assert_int_equal(n, c.V);
    snprintf(key, sizeof key, "%s.opts", name), c.opts = ref_f32(f, key, &n);
    assert_int_equal(n, 5);
    snprintf(key, sizeof key, "%s.context", name), c.context = ref_i32(f, key, &c.n_ctx);
    snprintf(key, sizeof key, "%s.argmax", name);
    int32_t *a = ref_i32(f, key, &n);
    c.argmax = a[0];
    free(a);
    snprintf(key, sizeof key, "%s.tie_cut", name), a = ref_i32(f, key, &n);
    c.tie_cut = a[0];
    free(a);
    snprintf(key, sizeof key, "%s.chi2_limit", name);
    float *l = ref_f32(f, key, &n);
    c.chi2_limit = l[0];
    free(l);
    return c;
}

static void free_case(ref_case *c) { free(c->logits), free(c->out), free(c->opts), free(c->context); }

static vt_sampling_options case_options(const ref_case *c) {
    vt_sampling_options o;
    vt_sampling_options_default(&o);
    o.do_sample = c->opts[0] != 0;
    o.temperature = c->opts[1];
    o.top_k = (int32_t)c->opts[2];
    o.top_p = c->opts[3];
    o.repetition_penalty = c->opts[4];
    return o;
}

/* The processed scores against transformers' (see the tolerance above). */
static void check_case(const char *name, const ref_case *c, const float *got) {
    int64_t kept_got = 0, kept_want = 0;
    float cut = INFINITY; /* the smallest score top-p (or top-k) kept */
    for (int64_t i = 0; i < c->V; i++) {
        kept_got += isfinite(got[i]), kept_want += isfinite(c->out[i]);
        if (isfinite(c->out[i]) && c->out[i] < cut) cut = c->out[i];
    }
    if (kept_got != kept_want) fail_msg("%s: kept %lld tokens, transformers %lld", name, (long long)kept_got, (long long)kept_want);
    double worst = 0;
    for (int64_t i = 0; i < c->V; i++) {
        bool g = isfinite(got[i]), w = isfinite(c->out[i]);
        bool at_cut = c->tie_cut && ((w && c->out[i] == cut) || (g && got[i] == cut));
        if (g != w && !at_cut) fail_msg("%s: token %lld kept %d, transformers %d", name, (long long)i, g, w);
        if (g && w) {
            double d = fabs((double)got[i] - (double)c->out[i]);
            if (d > worst) worst = d;
        }
    }
    printf("  %-16s V %6lld kept %5lld%s, worst score difference %.3g\n", name, (long long)c->V, (long long)kept_got,
           c->tie_cut ? " (cut through ties)" : "", worst);
    if (!(worst <= 1e-6)) fail_msg("%s: a kept score differs by %.3g > 1e-6", name, worst);
}

static void test_against_transformers(void **state) {
    (void)state;
    vt_st_file *f = ref_open("sampling.safetensors");
    for (size_t k = 0; k < sizeof CASES / sizeof *CASES; k++) {
        ref_case c = load_case(f, CASES[k]);
        vt_sampling_options o = case_options(&c);
        vt_sampler *s = vt_sampler_new(&o, (int32_t)c.V);
        assert_non_null(s);
        float *x = malloc((size_t)c.V * sizeof *x);
        memcpy(x, c.logits, (size_t)c.V * sizeof *x);
        assert_int_equal(vt_sampler_process(s, x, c.context, c.n_ctx), VT_OK);
        check_case(CASES[k], &c, x);
        vt_sampler_free(s);

        /* greedy: the argmax of the penalised scores, as torch.argmax */
        o.do_sample = false;
        s = vt_sampler_new(&o, (int32_t)c.V);
        memcpy(x, c.logits, (size_t)c.V * sizeof *x);
        int32_t t = -1;
        assert_int_equal(vt_sampler_next(s, x, c.context, c.n_ctx, NULL, &t), VT_OK);
        if (t != c.argmax) fail_msg("%s: greedy chose %d, torch.argmax %d", CASES[k], t, c.argmax);
        vt_sampler_free(s);
        free(x);
        free_case(&c);
    }
    vt_st_close(f);
}

/* Draws from the processed distribution: the frequencies of N draws against
 * the softmax of the processed scores (verto's, which test_against_transformers
 * holds to transformers'; where top-p cuts through ties the two keep
 * different tokens of equal score), Pearson's chi-square below the
 * reference's chi2.ppf(1 - 1e-6, kept - 1); removed tokens never drawn. */
static void chi_square_case(const vt_st_file *f, const char *name) {
    enum { N = 200000 };
    ref_case c = load_case(f, name);
    vt_sampling_options o = case_options(&c);
    vt_sampler *s = vt_sampler_new(&o, (int32_t)c.V);
    float *x = malloc((size_t)c.V * sizeof *x);
    int64_t *count = calloc((size_t)c.V, sizeof *count);
    double *p = calloc((size_t)c.V, sizeof *p), z = 0, mx = -INFINITY;
    memcpy(x, c.logits, (size_t)c.V * sizeof *x);
    assert_int_equal(vt_sampler_process(s, x, c.context, c.n_ctx), VT_OK);
    for (int64_t i = 0; i < c.V; i++)
        if (x[i] > mx) mx = x[i];
    for (int64_t i = 0; i < c.V; i++) z += p[i] = exp((double)x[i] - mx);
    vt_rng rng;
    vt_sampling_rng(99, 0, &rng);
    for (int n = 0; n < N; n++) {
        memcpy(x, c.logits, (size_t)c.V * sizeof *x);
        int32_t t;
        assert_int_equal(vt_sampler_next(s, x, c.context, c.n_ctx, &rng, &t), VT_OK);
        count[t]++;
    }
    double stat = 0;
    for (int64_t i = 0; i < c.V; i++) {
        double e = N * p[i] / z;
        if (e == 0) {
            if (count[i]) fail_msg("%s: token %lld was removed but drawn %lld times", name, (long long)i, (long long)count[i]);
            continue;
        }
        stat += (count[i] - e) * (count[i] - e) / e;
    }
    printf("  %-16s chi-square %.2f over %d draws (limit %.2f)\n", name, stat, N, c.chi2_limit);
    if (!(stat <= c.chi2_limit)) fail_msg("%s: chi-square %.2f > %.2f", name, stat, c.chi2_limit);
    free(x), free(count), free(p);
    vt_sampler_free(s);
    free_case(&c);
}

static void test_draw_frequencies(void **state) {
    (void)state;
    vt_st_file *f = ref_open("sampling.safetensors");
    chi_square_case(f, "sample_small");
    chi_square_case(f, "all_small_inf");
    vt_st_close(f);
}

/* 64 draws of sequence `row` from seed 7 over the "all_gpt2" case. */
static void draw_sequence(const ref_case *c, vt_sampler *s, int64_t row, int32_t *out) {
    vt_rng rng;
    vt_sampling_rng(7, row, &rng);
    float *x = malloc((size_t)c->V * sizeof *x);
    for (int n = 0; n < 64; n++) {
        memcpy(x, c->logits, (size_t)c->V * sizeof *x);
        assert_int_equal(vt_sampler_next(s, x, c->context, c->n_ctx, &rng, &out[n]), VT_OK);
    }
    free(x);
}

static void test_seed_reproduces(void **state) {
    (void)state;
    vt_st_file *f = ref_open("sampling.safetensors");
    ref_case c = load_case(f, "all_gpt2_wide");
    vt_sampling_options o = case_options(&c);
    vt_sampler *s = vt_sampler_new(&o, (int32_t)c.V);
    int32_t a[64], b[64], other[64];
    draw_sequence(&c, s, 3, a);
    draw_sequence(&c, s, 3, b);
    draw_sequence(&c, s, 4, other);
    assert_memory_equal(a, b, sizeof a);
    /* over 5115 kept tokens, 64 equal draws by chance would be a broken stream */
    assert_memory_not_equal(a, other, sizeof a);
    vt_sampler_free(s);
    free_case(&c);
    vt_st_close(f);
}

static void test_bad_input(void **state) {
    (void)state;
    vt_sampling_options o;
    vt_sampling_options_default(&o);
    o.top_p = 0;
    assert_null(vt_sampler_new(&o, 10));
    assert_non_null(strstr(vt_last_error(), "top_p"));
    vt_sampling_options_default(&o);
    o.temperature = 0;
    assert_null(vt_sampler_new(&o, 10));
    assert_non_null(strstr(vt_last_error(), "temperature"));
    vt_sampling_options_default(&o);
    o.top_k = -1;
    assert_int_equal(vt_sampling_options_check(&o), VT_ERR_INVALID_ARG);
    vt_sampling_options_default(&o);
    assert_null(vt_sampler_new(&o, 0));

    o.repetition_penalty = 2;
    vt_sampler *s = vt_sampler_new(&o, 4);
    float x[4] = {1, 2, 3, 4}, saved[4];
    memcpy(saved, x, sizeof x);
    const int32_t bad[] = {1, 4};
    int32_t t;
    assert_int_equal(vt_sampler_next(s, x, bad, 2, NULL, &t), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "id 4"));
    assert_memory_equal(x, saved, sizeof x); /* untouched on error */
    x[2] = NAN;
    assert_int_equal(vt_sampler_next(s, x, NULL, 0, NULL, &t), VT_ERR_NUMERIC);
    vt_sampler_free(s);

    o.do_sample = true;
    s = vt_sampler_new(&o, 3);
    float dead[3] = {-INFINITY, -INFINITY, -INFINITY};
    vt_rng rng;
    vt_sampling_rng(1, 0, &rng);
    assert_int_equal(vt_sampler_next(s, dead, NULL, 0, &rng, &t), VT_ERR_NUMERIC);
    float ok[3] = {0, 1, 2};
    assert_int_equal(vt_sampler_next(s, ok, NULL, 0, NULL, &t), VT_ERR_INVALID_ARG); /* sampling without a generator */
    vt_sampler_free(s);
}

/* A temperature or penalty so small that scores over it overflow float: the
 * draw is the argmax (the limit as T -> 0), not an error or the last token. */
static void test_tiny_temperature(void **state) {
    (void)state;
    vt_sampling_options o;
    vt_sampling_options_default(&o);
    o.do_sample = true;
    o.temperature = 1e-40f;
    const float cases[][4] = {{1, 3, 2, -5}, {-10, -3, -7, -INFINITY}, {0.5f, 0.5f + 1e-6f, -1e30f, 0}};
    const int32_t argmax[] = {1, 1, 1};
    for (int c = 0; c < 3; c++) {
        vt_sampler *s = vt_sampler_new(&o, 4);
        for (int64_t row = 0; row < 50; row++) {
            float x[4];
            memcpy(x, cases[c], sizeof x);
            vt_rng rng;
            vt_sampling_rng(7, row, &rng);
            int32_t t = -1;
            assert_int_equal(vt_sampler_next(s, x, NULL, 0, &rng, &t), VT_OK);
            assert_int_equal(t, argmax[c]);
        }
        vt_sampler_free(s);
    }
    o.temperature = 1;
    o.repetition_penalty = 1e-40f; /* the seen token's positive score over it: FLT_MAX, not +inf */
    o.top_p = 0.5f;
    vt_sampler *s = vt_sampler_new(&o, 4);
    const int32_t seen[] = {2};
    float x[4] = {1, 3, 2, -5};
    vt_rng rng;
    vt_sampling_rng(7, 0, &rng);
    int32_t t = -1;
    assert_int_equal(vt_sampler_next(s, x, seen, 1, &rng, &t), VT_OK);
    assert_int_equal(t, 2);
    float inf[4] = {1, INFINITY, 2, 0}; /* a model's overflow: refused when sampling */
    assert_int_equal(vt_sampler_next(s, inf, NULL, 0, &rng, &t), VT_ERR_NUMERIC);
    assert_non_null(strstr(vt_last_error(), "+inf"));
    vt_sampler_free(s);
}

static void test_stop_strings(void **state) {
    (void)state;
    const char *stops[] = {"\n\n", "END", ""};
    size_t keep;
    /* a token that completes "END" and runs past it: cut from the stop string on */
    const char *t1 = "Hello wor";
    assert_false(vt_stop_find(t1, strlen(t1), 0, stops, 3, &keep));
    assert_int_equal(keep, strlen(t1));
    const char *t2 = "Hello ENDless";
    assert_true(vt_stop_find(t2, strlen(t2), 8, stops, 3, &keep)); /* "EN" was there before, "Dless" is new */
    assert_int_equal(keep, 6);
    /* an occurrence wholly inside the old text is not searched again */
    assert_false(vt_stop_find(t2, strlen(t2), strlen(t2), stops, 3, &keep));
    /* the earliest of two stop strings wins */
    const char *t3 = "a\n\nbEND";
    assert_true(vt_stop_find(t3, strlen(t3), 1, stops, 3, &keep));
    assert_int_equal(keep, 1);
    assert_false(vt_stop_find(t3, strlen(t3), 0, stops, 0, &keep));

    /* holdback: "...EN" could become "END"; "...\n" could become "\n\n" */
    assert_int_equal(vt_stop_holdback("abcEN", 5, stops, 3), 2);
    assert_int_equal(vt_stop_holdback("abc\n", 4, stops, 3), 1);
    assert_int_equal(vt_stop_holdback("abcE", 4, stops, 3), 1);
    assert_int_equal(vt_stop_holdback("abc", 3, stops, 3), 0);
    assert_int_equal(vt_stop_holdback("E", 1, stops, 3), 1);

    assert_string_equal(vt_finish_reason_name(VT_FINISH_STOP), "stop");
    assert_string_equal(vt_finish_reason_name(VT_FINISH_LENGTH), "length");
    assert_string_equal(vt_finish_reason_name(VT_FINISH_EOS), "eos");
    assert_null(vt_finish_reason_name(VT_FINISH_NONE));
    assert_int_equal(vt_finish_after(50256, 50256, true, 10, 10), VT_FINISH_EOS);
    assert_int_equal(vt_finish_after(5, 50256, true, 10, 10), VT_FINISH_STOP);
    assert_int_equal(vt_finish_after(5, 50256, false, 10, 10), VT_FINISH_LENGTH);
    assert_int_equal(vt_finish_after(5, 50256, false, 9, 10), VT_FINISH_NONE);
    assert_int_equal(vt_finish_after(0, -1, false, 1, 10), VT_FINISH_NONE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_transformers), cmocka_unit_test(test_draw_frequencies),
        cmocka_unit_test(test_seed_reproduces),      cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_stop_strings),         cmocka_unit_test(test_tiny_temperature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
