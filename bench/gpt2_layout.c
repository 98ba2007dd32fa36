/* Which layout of GPT-2's Conv1D weights trains faster: verto's (out, in)
 * (transposed on load, what the blocks and vt_matmul_seqwise take) or
 * Conv1D's own (in, out). A dense layer's three training products (forward
 * y = x W^T or x W, dx, dW) at GPT-2 small's shapes over 1024 rows, the two
 * layouts interleaved, best of 9 each. Not part of the tests.
 *
 *   make build/bench/gpt2_layout && build/bench/gpt2_layout */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "verto/kernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *buf(int64_t n) {
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) exit(1);
    for (int64_t i = 0; i < n; i++) p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    return p;
}

/* The three products of one layout; `conv1d`: W is (in, out). Seconds into t[3]. */
static void step(bool conv1d, const float *x, const float *W, const float *dy, float *y, float *dx, float *dW,
                 int64_t R, int64_t O, int64_t I, double t[3]) {
    double t0 = now();
    vt_matmul(x, W, NULL, y, R, O, I, false, !conv1d, 0.0f);               /* y (R, O) */
    double t1 = now();
    vt_matmul(dy, W, NULL, dx, R, I, O, false, conv1d, 0.0f);              /* dx (R, I) */
    double t2 = now();
    if (conv1d) vt_matmul(x, dy, NULL, dW, I, O, R, true, false, 1.0f);   /* dW (I, O) += x^T dy */
    else vt_matmul(dy, x, NULL, dW, O, I, R, true, false, 1.0f);          /* dW (O, I) += dy^T x */
    t[0] = t1 - t0, t[1] = t2 - t1, t[2] = now() - t2;
}

int main(void) {
    static const int64_t shapes[][3] = {{1024, 2304, 768}, {1024, 768, 768}, {1024, 3072, 768}, {1024, 768, 3072}};
    static const char *const names[] = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"};
    double total[2] = {0, 0};
    for (int s = 0; s < 4; s++) {
        int64_t R = shapes[s][0], O = shapes[s][1], I = shapes[s][2];
        float *x = buf(R * I), *W = buf(O * I), *dy = buf(R * O), *y = buf(R * O), *dx = buf(R * I), *dW = buf(O * I);
        double best[2][3] = {{1e9, 1e9, 1e9}, {1e9, 1e9, 1e9}}, t[3];
        for (int rep = 0; rep < 9; rep++)
            for (int layout = 0; layout < 2; layout++) {
                step(layout == 1, x, W, dy, y, dx, dW, R, O, I, t);
                for (int k = 0; k < 3; k++)
                    if (t[k] < best[layout][k]) best[layout][k] = t[k];
            }
        double a = (best[0][0] + best[0][1] + best[0][2]) * 1e3, b = (best[1][0] + best[1][1] + best[1][2]) * 1e3;
        total[0] += a, total[1] += b;
        printf("%-12s rows %lld, out %lld, in %lld: (out, in) %.1f ms (fwd %.1f dx %.1f dW %.1f) | (in, out) %.1f ms "
               "(fwd %.1f dx %.1f dW %.1f)\n", names[s], (long long)R, (long long)O, (long long)I, a, best[0][0] * 1e3,
               best[0][1] * 1e3, best[0][2] * 1e3, b, best[1][0] * 1e3, best[1][1] * 1e3, best[1][2] * 1e3);
        free(x), free(W), free(dy), free(y), free(dx), free(dW);
    }
    printf("a block's four layers: (out, in) %.1f ms, (in, out) %.1f ms: (in, out) / (out, in) = %.3f\n", total[0],
           total[1], total[1] / total[0]);
    return 0;
}
