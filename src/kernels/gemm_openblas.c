/* f32 products on OpenBLAS (Debian's OpenMP build: it takes its thread count
 * from omp_get_max_threads, runs on the calling thread inside a parallel
 * region, and so never runs a second pool beside verto's).
 *
 * BLIS exports cblas_sgemm too; verto links OpenBLAS first so the dynamic
 * linker binds the name to OpenBLAS, and the first call checks that it did. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

#include "kernels/gemm_backends.h"

char *openblas_get_corename(void);
char *openblas_get_config(void);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_wrong_lib[256]; /* the object cblas_sgemm resolved to, when not OpenBLAS */

static void check_binding(void) {
    Dl_info info;
    if (dladdr((void *)cblas_sgemm, &info) && info.dli_fname && !strstr(info.dli_fname, "openblas"))
        snprintf(g_wrong_lib, sizeof g_wrong_lib, "%s", info.dli_fname);
}

vt_status gemm_openblas(const gemm_args *g) {
    pthread_once(&g_once, check_binding);
    if (g_wrong_lib[0])
        return vt_error(VT_ERR_UNSUPPORTED, "cblas_sgemm resolves to %s, not OpenBLAS: link -lopenblas before -lblis",
                        g_wrong_lib);
    if (g->M > INT_MAX || g->N > INT_MAX || g->K > INT_MAX)
        return vt_error(VT_ERR_SHAPE, "OpenBLAS takes sizes up to %d, got M=%lld N=%lld K=%lld", INT_MAX,
                        (long long)g->M, (long long)g->N, (long long)g->K);
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, (blasint)g->M,
                (blasint)g->N, (blasint)g->K, 1.0f, g->A, (blasint)(g->ta ? g->M : g->K), g->B,
                (blasint)(g->tb ? g->K : g->N), g->beta, g->C, (blasint)g->N);
    return VT_OK;
}

static pthread_once_t g_info_once = PTHREAD_ONCE_INIT;
static char g_info[96];

static void make_info(void) {
    char version[32] = "?";
    sscanf(openblas_get_config(), "OpenBLAS %31s", version); /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
    snprintf(g_info, sizeof g_info, "%s (%s)", version, openblas_get_corename());
}

const char *gemm_openblas_info(void) {
    pthread_once(&g_info_once, make_info);
    return g_info;
}
