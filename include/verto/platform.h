/* What verto runs on: its version, the instruction set of its own kernels,
 * and how the matrix products run here.
 *
 * verto is built for any x86-64 CPU with AVX2 and FMA; its vectorised
 * kernels have an AVX2 and an AVX-512 build, and the first kernel call picks
 * the widest the CPU and the operating system support. The environment
 * variable VERTO_MAX_ISA (avx2 or avx512, any case) caps that choice, and caps
 * oneDNN's too, so one machine can run the code another would: with
 * VERTO_MAX_ISA=avx2 an AVX-512 machine runs the AVX2 kernels and bf16
 * products emulated in f32, as an AVX2-only machine does. */
#ifndef VERTO_PLATFORM_H
#define VERTO_PLATFORM_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VERTO_VERSION "0.1.0"

typedef enum vt_isa {
    VT_ISA_AVX2 = 0, /* AVX2 + FMA: the build's baseline */
    VT_ISA_AVX512,   /* AVX-512 F, BW, DQ, VL (x86-64-v4) */
} vt_isa;

/* The instruction set verto's kernels use: decided on the first call (the
 * CPU's, capped by VERTO_MAX_ISA), the same for the rest of the process. */
VT_API vt_isa vt_isa_in_use(void);

/* The widest instruction set this CPU and OS support, regardless of the cap. */
VT_API vt_isa vt_isa_of_cpu(void);

/* "avx2" or "avx512". */
VT_API const char *vt_isa_name(vt_isa isa);

/* VT_OK if VERTO_MAX_ISA is unset or names an instruction set; otherwise an
 * error naming the value (vt_isa_in_use() then ignores it). */
VT_API vt_status vt_isa_check_env(void);

/* Whether the CPU can run verto's baseline build (AVX2 and FMA). */
VT_API bool vt_cpu_supported(void);

/* Whether bf16 matrix products run on oneDNN's bf16 kernels here (true), or
 * are emulated by widening the operands to f32 (false: the same arithmetic,
 * no speed-up). Decided by building one small bf16 product. */
VT_API bool vt_bf16_native(void);

/* oneDNN's version ("2.6.3") and the ISA its kernels dispatch to here, as
 * oneDNN names it ("avx2", "avx512_core_bf16", ...). */
VT_API const char *vt_onednn_version(void);
VT_API const char *vt_onednn_isa(void);

/* ---- which library multiplies f32 matrices ------------------------------
 * vt_matmul's f32 products (and the blocks of vt_matmul_seqwise) run on one of
 * three libraries, picked per product by its shape (M, N, K, transposes) and the ISA in
 * use from a table measured on each kind of CPU (BENCHMARKS.md): on AVX2,
 * OpenBLAS for weight gradients of 256 x 1024 and longer, oneDNN for the
 * rest; on AVX-512, oneDNN. The pick never depends on the thread count or, for
 * vt_matmul_seqwise, on the batch, so results stay batch-independent. The
 * environment variable VT_GEMM (onednn, blis, openblas or auto) forces one;
 * bf16 and strided (attention) products always run on oneDNN. */
typedef enum vt_gemm_backend {
    VT_GEMM_AUTO = 0, /* the measured table */
    VT_GEMM_ONEDNN,
    VT_GEMM_BLIS,
    VT_GEMM_OPENBLAS,
} vt_gemm_backend;

/* "auto", "onednn", "blis", "openblas". */
VT_API const char *vt_gemm_backend_name(vt_gemm_backend b);
/* Parses one of those names (any case); false if unknown. */
VT_API bool vt_gemm_backend_parse(const char *name, vt_gemm_backend *out);

/* VT_OK if VT_GEMM is unset or names a backend; otherwise an error naming the
 * value (the products then fail with that error until vt_gemm_use). */
VT_API vt_status vt_gemm_check_env(void);

/* Forces a backend (VT_GEMM_AUTO: back to the table) for the rest of the
 * process, over VT_GEMM. Products already running finish on their own. A
 * value outside the enum changes nothing. */
VT_API void vt_gemm_use(vt_gemm_backend b);

/* The library an f32 product C (M, N) = op(A) op(B) (op a transpose where
 * trans_a / trans_b, vt_matmul's flags) runs on now; never VT_GEMM_AUTO, and
 * VT_GEMM_ONEDNN when VT_GEMM is invalid. */
VT_API vt_gemm_backend vt_gemm_backend_for(int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b);

/* Version and the kernels the library chose for this CPU, e.g. "2.6.3
 * (avx2)", "0.9.0 (zen3)", "0.3.21 (Zen)"; "" for VT_GEMM_AUTO. */
VT_API const char *vt_gemm_library_info(vt_gemm_backend b);

#ifdef __cplusplus
}
#endif
#endif
