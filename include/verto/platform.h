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

#ifdef __cplusplus
}
#endif
#endif
