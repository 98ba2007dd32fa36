/* Global-norm gradient clipping (PyTorch's clip_grad_norm_) and the parallel
 * segment loops it is built from. */
#include <math.h>
#include <omp.h>

#include "train/optim_internal.h"

int vt_seg_threads(int64_t total) {
    if (total < VT_OPTIM_PARALLEL_MIN) return 1;
    int nt = omp_get_max_threads();
    return nt < 1 ? 1 : nt > VT_OPTIM_MAX_THREADS ? VT_OPTIM_MAX_THREADS : nt;
}

double vt_seg_sumsq(const float *g, const vt_seg *segs, size_t n_segs, int64_t total) {
    double partial[VT_OPTIM_MAX_THREADS];
    int team = 1;
#pragma omp parallel num_threads(vt_seg_threads(total))
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        if (t == 0) team = nt;
        int64_t lo, hi;
        vt_seg_part(total, t, nt, &lo, &hi);
        double acc = 0.0;
        for (size_t k = vt_seg_find(segs, n_segs, lo); k < n_segs && segs[k].start < hi; k++) {
            const vt_seg *s = &segs[k];
            int64_t a = (lo > s->start ? lo : s->start) - s->start;
            int64_t b = (hi < s->start + s->numel ? hi : s->start + s->numel) - s->start;
            const float *x = g + s->offset; // (s->numel)
#pragma omp simd reduction(+ : acc)
            for (int64_t i = a; i < b; i++) acc += (double)x[i] * (double)x[i];
        }
        partial[t] = acc;
    }
    double sum = 0.0;
    for (int t = 0; t < team; t++) sum += partial[t];
    return sum;
}

void vt_seg_scale(float *g, const vt_seg *segs, size_t n_segs, int64_t total, float sc) {
#pragma omp parallel num_threads(vt_seg_threads(total))
    {
        int64_t lo, hi;
        vt_seg_part(total, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        for (size_t k = vt_seg_find(segs, n_segs, lo); k < n_segs && segs[k].start < hi; k++) {
            const vt_seg *s = &segs[k];
            int64_t a = (lo > s->start ? lo : s->start) - s->start;
            int64_t b = (hi < s->start + s->numel ? hi : s->start + s->numel) - s->start;
            float *x = g + s->offset; // (s->numel)
#pragma omp simd
            for (int64_t i = a; i < b; i++) x[i] *= sc;
        }
    }
}

void vt_grads_average(float *g, int64_t n, int64_t parts) {
    if (parts <= 1 || n <= 0) return;
    vt_seg all = {.offset = 0, .numel = n, .start = 0};
    vt_seg_scale(g, &all, 1, n, 1.0f / (float)parts);
}

float vt_clip_coef(float norm, float max_norm) {
    /* torch evaluates `max_norm / (norm + 1e-6)` as reciprocal(...) * max_norm. */
    float coef = (1.0f / (norm + 1e-6f)) * max_norm;
    return coef < 1.0f ? coef : 1.0f;
}

float vt_clip_global_norm(float *g, int64_t n, float max_norm) {
    if (!g || n <= 0) return 0.0f;
    vt_seg all = {.offset = 0, .numel = n, .start = 0};
    float norm = (float)sqrt(vt_seg_sumsq(g, &all, 1, n));
    if (isfinite(norm) && max_norm > 0.0f) {
        float coef = vt_clip_coef(norm, max_norm);
        if (coef < 1.0f) vt_seg_scale(g, &all, 1, n, coef);
    }
    return norm;
}
