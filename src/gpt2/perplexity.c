/* Strided sliding-window perplexity (see verto/clm_train.h: vt_clm_perplexity). */
#include <math.h>
#include <stdlib.h>

#include "verto/clm_train.h"

vt_status vt_clm_perplexity(vt_gpt2 *model, const int32_t *ids, int64_t n, int64_t max_length, int64_t stride,
                            double *nll, double *ppl, int64_t *scored) {
    if (!model || (!ids && n > 0) || n < 0 || !nll || !ppl) return vt_error(VT_ERR_INVALID_ARG, "vt_clm_perplexity: NULL argument");
    int64_t positions = vt_gpt2_get_config(model)->n_positions;
    if (max_length < 2 || max_length > positions)
        return vt_error(VT_ERR_INVALID_ARG, "max length %lld must be within 2..%lld (the model's positions)",
                        (long long)max_length, (long long)positions);
    if (stride < 1 || stride > max_length)
        return vt_error(VT_ERR_INVALID_ARG, "stride %lld must be within 1..%lld (the max length)", (long long)stride,
                        (long long)max_length);
    int32_t *labels = malloc((size_t)max_length * sizeof *labels); /* (max_length) */
    if (!labels) return vt_error(VT_ERR_NOMEM, "out of memory for perplexity");
    double nll_sum = 0;
    int64_t n_tokens = 0, prev_end = 0;
    vt_status st = VT_OK;
    for (int64_t begin = 0; begin < n && st == VT_OK; begin += stride) {
        int64_t end = begin + max_length < n ? begin + max_length : n, len = end - begin, target = end - prev_end;
        /* Only the tokens after the previous window are scored; the rest is context. */
        for (int64_t t = 0; t < len; t++) labels[t] = t < len - target ? -100 : ids[begin + t];
        vt_gpt2_batch b = {.batch = 1, .seq_len = len, .input_ids = ids + begin, .labels = labels};
        vt_gpt2_outputs out;
        st = vt_gpt2_forward(model, &b, false, 0, &out);
        /* The guide weighs each window's mean by its scored labels minus one (the shift). */
        if (st == VT_OK && target - 1 > 0) {
            nll_sum += out.loss * (double)(target - 1);
            n_tokens += target - 1;
        }
        prev_end = end;
        if (end == n) break;
    }
    free(labels);
    if (st != VT_OK) return st;
    if (n_tokens == 0) return vt_error(VT_ERR_INVALID_ARG, "the text has %lld tokens: too few to score", (long long)n);
    *nll = nll_sum / (double)n_tokens;
    *ppl = exp(*nll);
    if (scored) *scored = n_tokens;
    return VT_OK;
}
