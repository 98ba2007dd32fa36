/* Internals shared by the optimizer files of src/train/: config checking and
 * the segment loops (contiguous runs of trainable floats) that clipping and
 * the update rules walk in parallel. */
#ifndef VERTO_TRAIN_OPTIM_INTERNAL_H
#define VERTO_TRAIN_OPTIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/optim.h"

/* Upper bound on the threads a step uses: per-thread partial sums live in a
 * fixed array on the stack, so a step never allocates. */
#define VT_OPTIM_MAX_THREADS 256
/* Below this many floats a step runs on one thread (spawn costs more). */
#define VT_OPTIM_PARALLEL_MIN 32768

/* A run of trainable floats params[offset .. offset+numel) sharing one decay
 * flag. `start` is its position in the concatenation of all runs (the
 * "virtual" index space that threads split evenly). */
typedef struct vt_seg {
    int64_t offset, numel, start;
    bool decay;
} vt_seg;

/* g (n) multiplied by 1 / parts in parallel: a step's summed gradient made
 * the mean over its micro-batches (and ranks); nothing when parts <= 1. */
void vt_grads_average(float *g, int64_t n, int64_t parts);

/* VT_OK, or VT_ERR_INVALID_ARG with a message naming the bad field. */
vt_status vt_optim_check_config(const vt_optimizer_config *cfg);

/* The schedule factor in double precision (vt_schedule_factor rounds it). */
double vt_schedule_factor_f64(const vt_optimizer_config *cfg, int64_t step);

/* Threads to request for `total` floats of work. */
int vt_seg_threads(int64_t total);

/* Thread t of nt owns virtual indices [*lo, *hi) of [0, total). */
static inline void vt_seg_part(int64_t total, int t, int nt, int64_t *lo, int64_t *hi) {
    *lo = (int64_t)((__int128)total * t / nt);
    *hi = (int64_t)((__int128)total * (t + 1) / nt);
}

/* First segment whose virtual range ends after `v` (binary search). */
static inline size_t vt_seg_find(const vt_seg *segs, size_t n, int64_t v) {
    size_t a = 0, b = n;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (segs[mid].start + segs[mid].numel <= v) a = mid + 1;
        else b = mid;
    }
    return a;
}

/* Sum of g[i]^2 over the segments (n_segs; `total` = their summed numel),
 * accumulated in double; deterministic for a given thread count. */
double vt_seg_sumsq(const float *g, const vt_seg *segs, size_t n_segs, int64_t total);

/* g[i] *= s over the segments. */
void vt_seg_scale(float *g, const vt_seg *segs, size_t n_segs, int64_t total, float s);

/* PyTorch's clip factor: min(1, max_norm / (norm + 1e-6)) in float32. */
float vt_clip_coef(float norm, float max_norm);

#endif
