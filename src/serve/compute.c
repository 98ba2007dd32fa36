/* The numbers verto serve returns, computed as verto predict and verto embed
 * compute them (see verto/serve.h). */
#include <math.h>
#include <string.h>

#include "verto/serve.h"

/* probs (K) = softmax of the values it holds, in place. Returns the index of
 * the largest probability (the first on ties), or -1 if not finite. */
static int softmax_in_place(double *probs, int K) {
    double mx = probs[0], sum = 0;
    for (int k = 1; k < K; k++) mx = probs[k] > mx ? probs[k] : mx;
    for (int k = 0; k < K; k++) sum += probs[k] = exp(probs[k] - mx);
    for (int k = 0; k < K; k++) probs[k] /= sum;
    if (!isfinite(sum)) return -1;
    int best = 0;
    for (int k = 1; k < K; k++)
        if (probs[k] > probs[best]) best = k;
    return best;
}

int vt_serve_softmax(const float *logits, int K, double *probs) {
    for (int k = 0; k < K; k++) probs[k] = logits[k];
    return softmax_in_place(probs, K);
}

int vt_serve_softmax_mean(const float *logits, int m, int K, double *probs) {
    for (int k = 0; k < K; k++) { /* the mean logits; one window's are its own, exactly */
        probs[k] = 0;
        for (int j = 0; j < m; j++) probs[k] += logits[(size_t)j * (size_t)K + (size_t)k];
        probs[k] /= m;
    }
    return softmax_in_place(probs, K);
}

void vt_serve_pool(const float *hidden, const int32_t *mask, int64_t T, int64_t H, vt_serve_pooling pooling,
                   bool normalize, float *out) {
    if (pooling == VT_SERVE_POOL_CLS) {
        memcpy(out, hidden, (size_t)H * sizeof(float));
    } else { /* average of the real tokens, [CLS] and [SEP] included (sentence-transformers) */
        double count = 0;
        memset(out, 0, (size_t)H * sizeof(float));
        for (int64_t t = 0; t < T; t++) {
            if (!mask[t]) continue;
            count++;
            for (int64_t h = 0; h < H; h++) out[h] += hidden[t * H + h];
        }
        for (int64_t h = 0; h < H; h++) out[h] = (float)(out[h] / (count > 0 ? count : 1));
    }
    if (normalize) {
        double norm = 0;
        for (int64_t h = 0; h < H; h++) norm += (double)out[h] * out[h];
        norm = sqrt(norm);
        for (int64_t h = 0; h < H; h++) out[h] = (float)(out[h] / (norm > 1e-12 ? norm : 1e-12));
    }
}
