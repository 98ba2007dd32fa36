/* safetensors dtypes: names, sizes, and conversion to float32. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/utf8.h"
#include "verto/safetensors.h"

static const struct { const char *name; size_t size; } DTYPES[] = {
    [VT_ST_BOOL] = {"BOOL", 1}, [VT_ST_U8] = {"U8", 1},   [VT_ST_I8] = {"I8", 1},
    [VT_ST_I16] = {"I16", 2},   [VT_ST_U16] = {"U16", 2}, [VT_ST_I32] = {"I32", 4},
    [VT_ST_U32] = {"U32", 4},   [VT_ST_I64] = {"I64", 8}, [VT_ST_U64] = {"U64", 8},
    [VT_ST_F16] = {"F16", 2},   [VT_ST_BF16] = {"BF16", 2}, [VT_ST_F32] = {"F32", 4},
    [VT_ST_F64] = {"F64", 8},
};
#define N_DTYPES (sizeof DTYPES / sizeof DTYPES[0])

static bool known(vt_st_dtype d) { return (unsigned)d < N_DTYPES; }

const char *vt_st_dtype_name(vt_st_dtype dtype) { return known(dtype) ? DTYPES[dtype].name : "?"; }

size_t vt_st_dtype_size(vt_st_dtype dtype) { return known(dtype) ? DTYPES[dtype].size : 0; }

bool vt_st_dtype_parse(const char *name, vt_st_dtype *out) {
    for (size_t i = 0; name && i < N_DTYPES; i++) {
        if (strcmp(name, DTYPES[i].name) == 0) {
            if (out) *out = (vt_st_dtype)i;
            return true;
        }
    }
    return false;
}

static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE binary16 to binary32, exact for every input (subnormals, ±inf, NaN
 * payloads included). */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    if (exp == 0x1F) return bits_to_f32(sign | 0x7F800000u | (mant << 13));
    if (exp != 0) return bits_to_f32(sign | ((exp + 112u) << 23) | (mant << 13));
    float mag = (float)mant * 0x1p-24f; /* subnormal or zero: exact */
    return sign ? -mag : mag;
}

/* binary64 to binary32 with round-to-nearest-even. Finite values beyond
 * FLT_MAX are rounded here (to FLT_MAX, or to ±inf from the halfway point
 * 2^128 - 2^103 up), so no conversion is ever out of range. */
static float f64_to_f32(double d) {
    if (isfinite(d) && fabs(d) > (double)FLT_MAX) {
        float mag = fabs(d) >= 0x1.ffffffp127 ? INFINITY : FLT_MAX;
        return d > 0 ? mag : -mag;
    }
    return (float)d;
}

vt_status vt_st_to_f32(const vt_st_tensor *t, float *out) {
    if (!t) return vt_error(VT_ERR_INVALID_ARG, "vt_st_to_f32: no tensor given");
    char nm[160];
    if (!out && t->numel > 0)
        return vt_error(VT_ERR_INVALID_ARG, "vt_st_to_f32: tensor '%s': no output buffer",
                        vt_utf8_printable(t->name, nm, sizeof nm));
    const unsigned char *p = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case VT_ST_F32:
        if (n) memcpy(out, p, n * sizeof(float));
        return VT_OK;
    case VT_ST_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = f16_to_f32(h);
        }
        return VT_OK;
    case VT_ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = bits_to_f32((uint32_t)h << 16);
        }
        return VT_OK;
    case VT_ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            out[i] = f64_to_f32(d);
        }
        return VT_OK;
    default:
        return vt_error(VT_ERR_FORMAT, "tensor '%s' has dtype %s, which cannot be converted to float32",
                        vt_utf8_printable(t->name, nm, sizeof nm),
                        vt_st_dtype_name(t->dtype));
    }
}
