/* The f32 GEMM libraries behind vt_matmul besides oneDNN (matmul.c), and the
 * choice among them (gemm_choice.c). Internal to src/kernels. */
#ifndef VT_KERNELS_GEMM_BACKENDS_H
#define VT_KERNELS_GEMM_BACKENDS_H

#include <stdbool.h>
#include <stdint.h>

#include "verto/error.h"
#include "verto/platform.h"

/* One plain product: C (M, N) = op(A) op(B) + beta * C, A (M, K) or (K, M) if
 * ta, B (K, N) or (N, K) if tb, all row-major and dense; M, N, K > 0. */
typedef struct gemm_args {
    const float *A, *B;
    float *C;
    int64_t M, N, K;
    bool ta, tb;
    float beta;
} gemm_args;

/* The threads a product started here may use: 1 inside an OpenMP parallel
 * region (the caller already runs one product per thread), else verto's
 * thread count (omp_get_max_threads). */
int gemm_threads(void);

/* The product on BLIS (typed expert API, the thread count per call) and on
 * OpenBLAS (cblas_sgemm; its OpenMP build follows omp_get_max_threads and
 * runs on the calling thread inside a parallel region). */
vt_status gemm_blis(const gemm_args *g);
vt_status gemm_openblas(const gemm_args *g);

/* Which library runs an f32 product of this shape: the forced one (VT_GEMM
 * or vt_gemm_use), else the measured table for the ISA in use. Depends on
 * the shape alone, never on the threads, so a block of a sequence-wise
 * product picks the same library whatever the batch. VT_GEMM_AUTO with
 * vt_error set if VT_GEMM is invalid. */
vt_gemm_backend gemm_pick(int64_t M, int64_t N, int64_t K, bool ta, bool tb);

/* "0.9.0 (zen3)" and "0.3.21 (Zen)": version and the kernels chosen here. */
const char *gemm_blis_info(void);
const char *gemm_openblas_info(void);

#endif
