/* The bias gradient: column sums. */
#include "verto/kernels.h"
#include "kernels/variant.h"

void VK_FN(vt_sum_rows)(const float *dy, // (M, N)
                 float *db,       // (N)
                 int64_t M, int64_t N) {
    /* Parallel over column blocks so that no two threads write one db[j]. */
    const int64_t blk = 64;
    int64_t nblk = (N + blk - 1) / blk;
#pragma omp parallel for schedule(static) if (M * N > 32768)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t j0 = b * blk, j1 = j0 + blk < N ? j0 + blk : N;
        float acc[64] = {0};
        for (int64_t i = 0; i < M; i++) {
            const float *restrict row = dy + i * N;
#pragma omp simd
            for (int64_t j = j0; j < j1; j++) acc[j - j0] += row[j];
        }
        for (int64_t j = j0; j < j1; j++) db[j] += acc[j - j0];
    }
}
