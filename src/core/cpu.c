/* The CPU's instruction sets and verto's cap on them (see verto/platform.h). */
#include <stdlib.h>
#include <strings.h>

#include "verto/platform.h"

static bool parse_isa(const char *name, vt_isa *out) {
    if (!strcasecmp(name, "avx2")) *out = VT_ISA_AVX2;
    else if (!strcasecmp(name, "avx512")) *out = VT_ISA_AVX512;
    else return false;
    return true;
}

bool vt_cpu_supported(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

vt_isa vt_isa_of_cpu(void) {
    /* libgcc sets the AVX-512 bits only when the OS saves the ZMM registers */
    bool v4 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
              __builtin_cpu_supports("avx512cd");
    return v4 ? VT_ISA_AVX512 : VT_ISA_AVX2;
}

vt_status vt_isa_check_env(void) {
    const char *cap = getenv("VERTO_MAX_ISA");
    vt_isa isa;
    if (cap && *cap && !parse_isa(cap, &isa))
        return vt_error(VT_ERR_INVALID_ARG, "VERTO_MAX_ISA='%s' is not an instruction set verto knows (avx2, avx512)",
                        cap);
    return VT_OK;
}

vt_isa vt_isa_in_use(void) {
    static int decided = -1; /* every thread computes the same value, so a race only repeats the work */
    int isa = __atomic_load_n(&decided, __ATOMIC_RELAXED);
    if (isa < 0) {
        vt_isa cap = VT_ISA_AVX512;
        const char *env = getenv("VERTO_MAX_ISA");
        if (env && *env && !parse_isa(env, &cap)) cap = VT_ISA_AVX512;
        isa = (int)vt_isa_of_cpu();
        if (isa > (int)cap) isa = (int)cap;
        __atomic_store_n(&decided, isa, __ATOMIC_RELAXED);
    }
    return (vt_isa)isa;
}

const char *vt_isa_name(vt_isa isa) { return isa == VT_ISA_AVX512 ? "avx512" : "avx2"; }
