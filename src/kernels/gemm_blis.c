/* f32 products on BLIS (Debian's OpenMP build, the same libgomp pool as
 * verto's): the typed expert API takes any row and column strides, so a
 * transpose is a swap of strides, and a runtime object per call carries the
 * thread count, so concurrent callers never touch a global setting. */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>

#include <blis.h>

#include "kernels/gemm_backends.h"

int gemm_threads(void) { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

vt_status gemm_blis(const gemm_args *g) {
    float alpha = 1.0f, beta = g->beta;
    /* element (i, k) of op(A) is at i * rs + k * cs */
    inc_t rsa = g->ta ? 1 : g->K, csa = g->ta ? g->M : 1;
    inc_t rsb = g->tb ? 1 : g->N, csb = g->tb ? g->K : 1;
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(gemm_threads(), &rntm);
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, g->M, g->N, g->K, &alpha, (float *)g->A, rsa, csa,
                 (float *)g->B, rsb, csb, &beta, g->C, g->N, 1, NULL, &rntm);
    return VT_OK;
}

static pthread_once_t g_info_once = PTHREAD_ONCE_INIT;
static char g_info[64];

static void make_info(void) {
    snprintf(g_info, sizeof g_info, "%s (%s)", bli_info_get_version_str(), bli_arch_string(bli_arch_query_id()));
}

const char *gemm_blis_info(void) {
    pthread_once(&g_info_once, make_info);
    return g_info;
}
