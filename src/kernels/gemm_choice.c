/* Which library runs an f32 product: VT_GEMM or vt_gemm_use when set, else a
 * table measured on each kind of CPU (bench/matmul_gflops, BENCHMARKS.md).
 *
 * The table is fixed rather than calibrated at start-up: a calibration would
 * cost every process time and could pick differently from run to run (and
 * with it the last bits of every result). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels/gemm_backends.h"

static const char *const NAMES[] = {"auto", "onednn", "blis", "openblas"};

const char *vt_gemm_backend_name(vt_gemm_backend b) {
    return (unsigned)b < sizeof NAMES / sizeof *NAMES ? NAMES[b] : "unknown";
}

bool vt_gemm_backend_parse(const char *name, vt_gemm_backend *out) {
    for (size_t i = 0; name && i < sizeof NAMES / sizeof *NAMES; i++)
        if (!strcasecmp(name, NAMES[i])) {
            *out = (vt_gemm_backend)i;
            return true;
        }
    return false;
}

/* The setting: a vt_gemm_backend, or SETTING_INVALID for a bad VT_GEMM. */
#define SETTING_INVALID (-1)
static pthread_once_t g_env_once = PTHREAD_ONCE_INIT;
static _Atomic int g_setting = VT_GEMM_AUTO;

static void read_env(void) {
    const char *v = getenv("VT_GEMM");
    vt_gemm_backend b = VT_GEMM_AUTO;
    if (v && *v && !vt_gemm_backend_parse(v, &b)) {
        atomic_store(&g_setting, SETTING_INVALID);
        return;
    }
    atomic_store(&g_setting, (int)b);
}

static int setting(void) {
    pthread_once(&g_env_once, read_env);
    return atomic_load(&g_setting);
}

vt_status vt_gemm_check_env(void) {
    if (setting() != SETTING_INVALID) return VT_OK;
    return vt_error(VT_ERR_INVALID_ARG, "VT_GEMM=%s: expected onednn, blis, openblas or auto", getenv("VT_GEMM"));
}

void vt_gemm_use(vt_gemm_backend b) {
    if ((unsigned)b > VT_GEMM_OPENBLAS) return; /* not a backend: the contract says nothing changes */
    pthread_once(&g_env_once, read_env); /* so a later first read cannot undo this */
    atomic_store(&g_setting, (int)b);
}

/* AVX2, measured with bench/matmul_gflops on an AMD EPYC (2 cores, Zen 3 as
 * BLIS and OpenBLAS see it; BENCHMARKS.md's AVX2 section), in five runs on a
 * shared machine: oneDNN 2.6 is as fast as the others, or faster, on the
 * forward and input-gradient products of training and on inference's 64-row
 * single-threaded blocks (vt_matmul_seqwise; BLIS was slower there at K = 2048
 * in every run, and slowed most when other processes took the cores), but
 * reaches about half of OpenBLAS's speed on weight gradients dW = dy^T x of
 * 256 x 1024 or 1024 x 256 (BERT-mini's FFN, over K = 4096 rows: 35-41
 * against 67 GFLOPS in the last run). At 768 x 256 (its QKV) oneDNN was as
 * fast or faster, and BERT-small's 512 x 2048 was even. BLIS won no shape
 * consistently, so the table never picks it (VT_GEMM=blis still does). */
static vt_gemm_backend table_avx2(int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
    (void)K;
    int64_t small = M < N ? M : N, large = M < N ? N : M;
    if (ta && !tb && small <= 256 && large >= 1024) return VT_GEMM_OPENBLAS;
    return VT_GEMM_ONEDNN;
}

vt_gemm_backend gemm_pick(int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
    int s = setting();
    if (s == SETTING_INVALID) {
        vt_gemm_check_env();
        return VT_GEMM_AUTO;
    }
    if (s != VT_GEMM_AUTO) return (vt_gemm_backend)s;
    /* AVX-512: oneDNN everywhere (80-87% MFU in BENCHMARKS.md; the others unmeasured there) */
    return vt_isa_in_use() == VT_ISA_AVX2 ? table_avx2(M, N, K, ta, tb) : VT_GEMM_ONEDNN;
}

vt_gemm_backend vt_gemm_backend_for(int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b) {
    vt_gemm_backend b = gemm_pick(M, N, K, trans_a, trans_b);
    return b == VT_GEMM_AUTO ? VT_GEMM_ONEDNN : b;
}

const char *vt_gemm_library_info(vt_gemm_backend b) {
    static _Thread_local char onednn[48];
    switch (b) {
    case VT_GEMM_ONEDNN:
        snprintf(onednn, sizeof onednn, "%s (%s)", vt_onednn_version(), vt_onednn_isa());
        return onednn;
    case VT_GEMM_BLIS: return gemm_blis_info();
    case VT_GEMM_OPENBLAS: return gemm_openblas_info();
    default: return "";
    }
}
