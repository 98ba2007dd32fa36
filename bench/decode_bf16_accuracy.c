/* How far bf16 decode weights (vt_gpt2_set_decode_precision) move a model's
 * logits and greedy choices from fp32's: for each prompt (one per line of
 * FILE, tokenized by the model's tokenizer), fp32 greedy decoding of N
 * tokens; then bf16 steps fed the same tokens (max |logit difference| over
 * the prefill's and every step's logits, and the largest logit's size for
 * scale); then free-running bf16 greedy decoding (how many of the N tokens
 * equal fp32's before the first difference). One JSON line per prompt and a
 * summary. Not part of the tests (tests/unit/test_gpt2_decode.c checks the
 * bound on a small model).
 *
 *   build/bench/decode_bf16_accuracy --model DIR --prompts FILE [--new 64] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "verto/gpt2.h"
#include "verto/tokenizer.h"

static int32_t argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

/* Greedy decoding of ids (n) for N tokens into out (N); with feed, the
 * tokens fed are feed's. logits (N, V) receives the logits each token was
 * chosen from. */
static int decode(vt_gpt2 *m, const int32_t *ids, int32_t n, int64_t N, const int32_t *feed, int32_t *out,
                  float *logits) {
    int64_t V = vt_gpt2_get_config(m)->vocab_size;
    vt_gpt2_cache *c = vt_gpt2_cache_new(m, 1, n + N);
    if (!c || vt_gpt2_prefill(m, c, ids, n, &n, logits) != VT_OK) return -1;
    for (int64_t i = 0; i < N; i++) {
        out[i] = argmax(logits + i * V, V);
        int32_t tok = feed ? feed[i] : out[i];
        if (i + 1 < N && vt_gpt2_step(m, c, &tok, logits + (i + 1) * V) != VT_OK) return -1;
    }
    vt_gpt2_cache_free(c);
    return 0;
}

int main(int argc, char **argv) {
    static const char *const known[] = {"--model", "--prompts", "--new", NULL};
    bench_check_opts(argc, argv, known);
    const char *dir = bench_opt(argc, argv, "--model"), *path = bench_opt(argc, argv, "--prompts");
    int64_t N = bench_opt_int(argc, argv, "--new", 64, 1, 1 << 16);
    vt_gpt2 *m = dir ? vt_gpt2_load(dir) : NULL;
    vt_tokenizer *tok = m ? vt_tok_load(dir, NULL) : NULL;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!tok || !f) {
        fprintf(stderr, "error: %s\n", !dir || !path ? "--model DIR and --prompts FILE are required" : vt_last_error());
        return 1;
    }
    int64_t V = vt_gpt2_get_config(m)->vocab_size;
    float *l32 = malloc(sizeof(float) * (size_t)(N * V)), *l16 = malloc(sizeof(float) * (size_t)(N * V));
    int32_t *g32 = malloc(sizeof(int32_t) * (size_t)N), *g16 = malloc(sizeof(int32_t) * (size_t)N);
    vt_tok_encode_opts eo;
    vt_tok_encode_opts_default(&eo);
    eo.add_special_tokens = false;
    char line[8192];
    double worst = 0, scale = 0;
    int64_t agreed = 0, total = 0, prompts = 0;
    while (fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\n");
        vt_tok_encoding enc;
        vt_tok_encoding_init(&enc);
        if (len == 0 || vt_tok_encode(tok, line, len, NULL, 0, &eo, &enc) != VT_OK || enc.len < 1) {
            vt_tok_encoding_free(&enc);
            continue;
        }
        int32_t n = enc.len > 256 ? 256 : (int32_t)enc.len;
        vt_gpt2_set_decode_precision(m, VT_PRECISION_FP32);
        int rc = decode(m, enc.ids, n, N, NULL, g32, l32);
        vt_gpt2_set_decode_precision(m, VT_PRECISION_BF16);
        rc |= decode(m, enc.ids, n, N, g32, g16, l16);
        double diff = 0, top = 0;
        for (int64_t i = 0; i < N * V; i++) {
            double d = fabs((double)l16[i] - l32[i]);
            diff = d > diff ? d : diff;
            top = fabs(l32[i]) > top ? fabs(l32[i]) : top;
        }
        rc |= decode(m, enc.ids, n, N, NULL, g16, l16);
        if (rc) {
            fprintf(stderr, "error: %s\n", vt_last_error());
            return 1;
        }
        int64_t same = 0;
        while (same < N && g16[same] == g32[same]) same++;
        printf("{\"prompt_tokens\": %d, \"max_abs_logit_diff\": %.4g, \"max_abs_logit\": %.4g, "
               "\"greedy_equal_before_first_difference\": %lld, \"of\": %lld}\n",
               n, diff, top, (long long)same, (long long)N);
        worst = diff > worst ? diff : worst;
        scale = top > scale ? top : scale;
        agreed += same, total += N, prompts++;
        vt_tok_encoding_free(&enc);
    }
    printf("{\"prompts\": %lld, \"max_abs_logit_diff\": %.4g, \"max_abs_logit\": %.4g, \"greedy_tokens_equal\": %lld, "
           "\"of\": %lld}\n",
           (long long)prompts, worst, scale, (long long)agreed, (long long)total);
    fclose(f);
    return 0;
}
