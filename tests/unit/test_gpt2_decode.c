/* The KV-cache steps' two product paths and their bf16 weights, on a random
 * gpt2-tiny-shaped model of an odd vocabulary (1003 ids).
 *
 * - rows: a step of 5 sequences runs the GEMM path, a step of 1 the
 *   streaming vt_matvec one; each sequence's logits agree within 1e-5 of
 *   the logits' scale (both f32 with f32 sums over <= 512 terms: ~1e-6; a
 *   wrong bias, residual or row is O(1)).
 * - bf16 decode (vt_gpt2_set_decode_precision): steps fed the fp32 run's
 *   tokens give logits within 2e-2 of the logits' scale of fp32's (weights
 *   rounded by up to 2^-9 relative, errors adding over 2 layers), and not
 *   within 1e-5 (which would mean the f32 weights were read); back at fp32
 *   the logits are fp32's again, bit for bit. The greedy agreement is printed.
 * - bad precisions are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "verto/gpt2.h"

#define VOCAB 1003
#define PROMPT 20
#define STEPS 24

static vt_gpt2 *tiny(void) {
    vt_gpt2_config c;
    assert_int_equal(vt_gpt2_config_preset(&c, "gpt2-tiny", VOCAB), VT_OK);
    vt_gpt2 *m = vt_gpt2_new(&c, 7);
    assert_non_null(m);
    return m;
}

static void prompt_ids(int32_t *ids, int64_t n, int seq) {
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 7919 + 17 + seq * 131) % VOCAB);
}

static int32_t argmax(const float *x) {
    int32_t best = 0;
    for (int32_t i = 1; i < VOCAB; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Greedy decoding of one prompt: the logits of the prefill and each step
 * (STEPS + 1, V); tokens fed, when given, replace the greedy choices. */
static void decode(vt_gpt2 *m, const int32_t *feed, int32_t *chosen, float *logits) {
    int32_t ids[PROMPT], len = PROMPT;
    prompt_ids(ids, PROMPT, 0);
    vt_gpt2_cache *c = vt_gpt2_cache_new(m, 1, PROMPT + STEPS);
    assert_non_null(c);
    assert_int_equal(vt_gpt2_prefill(m, c, ids, PROMPT, &len, logits), VT_OK);
    for (int s = 0; s < STEPS; s++) {
        chosen[s] = argmax(logits + s * VOCAB);
        int32_t tok = feed ? feed[s] : chosen[s];
        assert_int_equal(vt_gpt2_step(m, c, &tok, logits + (s + 1) * VOCAB), VT_OK);
    }
    chosen[STEPS] = argmax(logits + STEPS * VOCAB);
    vt_gpt2_cache_free(c);
}

static void test_gemm_and_matvec_rows_agree(void **state) {
    (void)state;
    vt_gpt2 *m = tiny();
    enum { B = 5 };
    int32_t ids[B * PROMPT];
    for (int b = 0; b < B; b++) prompt_ids(ids + b * PROMPT, PROMPT, b);
    vt_gpt2_cache *c = vt_gpt2_cache_new(m, B, PROMPT + 4);
    assert_non_null(c);
    float *logits = malloc(sizeof(float) * B * VOCAB), *alone = malloc(sizeof(float) * VOCAB);
    int64_t slots[B];
    int32_t toks[B];
    for (int b = 0; b < B; b++) {
        assert_int_equal(vt_gpt2_prefill_slot(m, c, b, ids + b * PROMPT, PROMPT, logits + b * VOCAB), VT_OK);
        slots[b] = b, toks[b] = argmax(logits + b * VOCAB);
    }
    assert_int_equal(vt_gpt2_step_slots(m, c, slots, B, toks, logits), VT_OK); /* 5 rows: GEMM */
    double worst = 0;
    for (int b = 0; b < B; b++) {
        /* the same step again for sequence b alone (1 row: vt_matvec), at the same position */
        vt_gpt2_cache_reset_slot(c, b);
        assert_int_equal(vt_gpt2_prefill_slot(m, c, b, ids + b * PROMPT, PROMPT, alone), VT_OK);
        assert_int_equal(vt_gpt2_step_slots(m, c, &slots[b], 1, &toks[b], alone), VT_OK);
        double e = rel_max_diff(alone, logits + b * VOCAB, VOCAB);
        worst = e > worst ? e : worst;
    }
    printf("    a step of 5 rows (GEMM) vs each row alone (vt_matvec): %.3g of the logits' scale (tol 1e-5)\n", worst);
    assert_true(worst <= 1e-5);
    free(logits), free(alone);
    vt_gpt2_cache_free(c);
    vt_gpt2_free(m);
}

static void test_bf16_decode(void **state) {
    (void)state;
    vt_gpt2 *m = tiny();
    size_t n = (size_t)(STEPS + 1) * VOCAB;
    float *f32 = malloc(n * sizeof *f32), *b16 = malloc(n * sizeof *b16), *again = malloc(n * sizeof *again);
    int32_t greedy32[STEPS + 1], greedy16[STEPS + 1], chosen[STEPS + 1];
    assert_int_equal(vt_gpt2_get_decode_precision(m), VT_PRECISION_FP32);
    decode(m, NULL, greedy32, f32);
    assert_int_equal(vt_gpt2_set_decode_precision(m, VT_PRECISION_BF16), VT_OK);
    assert_int_equal(vt_gpt2_get_decode_precision(m), VT_PRECISION_BF16);
    decode(m, greedy32, chosen, b16); /* fed fp32's tokens: the same positions compared */
    double worst = 0;
    for (int s = 0; s <= STEPS; s++) {
        double e = rel_max_diff(b16 + s * VOCAB, f32 + s * VOCAB, VOCAB);
        worst = e > worst ? e : worst;
    }
    decode(m, NULL, greedy16, b16); /* free-running, for the agreement */
    int agree = 0;
    while (agree <= STEPS && greedy16[agree] == greedy32[agree]) agree++;
    printf("    bf16 decode weights vs fp32: logits within %.3g of their scale (tol 2e-2, and > 1e-5); greedy tokens "
           "equal for the first %d of %d\n", worst, agree, STEPS + 1);
    assert_true(worst > 1e-5 && worst < 2e-2);
    assert_int_equal(vt_gpt2_set_decode_precision(m, VT_PRECISION_FP32), VT_OK);
    decode(m, NULL, chosen, again);
    assert_memory_equal(again, f32, n * sizeof *f32);
    free(f32), free(b16), free(again);
    vt_gpt2_free(m);
}

static void test_bad_precision(void **state) {
    (void)state;
    vt_gpt2 *m = tiny();
    assert_int_equal(vt_gpt2_set_decode_precision(m, VT_PRECISION_INT8), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_gpt2_set_decode_precision(m, (vt_precision)77), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_gpt2_set_decode_precision(NULL, VT_PRECISION_BF16), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_gpt2_get_decode_precision(m), VT_PRECISION_FP32);
    vt_gpt2_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_and_matvec_rows_agree),
        cmocka_unit_test(test_bf16_decode),
        cmocka_unit_test(test_bad_precision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
