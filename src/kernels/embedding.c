/* Embedding lookup and its scatter-add gradient. */
#include <string.h>

#include "verto/kernels.h"

vt_status vt_embedding_forward(const int32_t *ids,  // (n)
                               const float *table,  // (vocab, dim)
                               float *out,          // (n, dim)
                               int64_t n, int64_t vocab, int64_t dim) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return vt_error(VT_ERR_INVALID_ARG, "embedding: id %d at position %lld is outside [0, %lld)", (int)ids[i],
                            (long long)i, (long long)vocab);
#pragma omp parallel for schedule(static) if (n * dim > 65536)
    for (int64_t i = 0; i < n; i++) memcpy(out + i * dim, table + (int64_t)ids[i] * dim, (size_t)dim * sizeof(float));
    return VT_OK;
}

void vt_embedding_backward(const int32_t *ids, const float *dout, float *dtable, int64_t n, int64_t dim) {
    vt_embedding_backward_padded(ids, -1, dout, dtable, n, dim);
}

void vt_embedding_backward_padded(const int32_t *ids,  // (n)
                                  int64_t padding_idx, // its rows skipped; -1: none
                                  const float *dout,   // (n, dim)
                                  float *dtable,       // (vocab, dim) +=
                                  int64_t n, int64_t dim) {
    /* Repeated ids would race if rows were split among threads: split the
     * columns instead, each thread walking all n rows over its own slice. */
    enum { BLK = 64 };
    int64_t nblk = (dim + BLK - 1) / BLK;
#pragma omp parallel for schedule(static) if (n * dim > 65536)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t j0 = b * BLK, w = dim - j0 < BLK ? dim - j0 : BLK;
        for (int64_t i = 0; i < n; i++) {
            if (ids[i] == padding_idx) continue;
            float *restrict dst = dtable + (int64_t)ids[i] * dim + j0;
            const float *restrict src = dout + i * dim + j0;
#pragma omp simd
            for (int64_t j = 0; j < w; j++) dst[j] += src[j];
        }
    }
}
