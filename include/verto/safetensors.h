/* The safetensors format: reader (mmap) and atomic writer.
 *
 * Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value"}}, then the data. The reader applies
 * every check of the reference implementation: N <= 100,000,000, valid UTF-8
 * JSON object, known dtypes, offsets two integers with begin <= end, tensors
 * laid contiguously from 0 and covering the data exactly to the end of the
 * file, element counts computed with overflow checks and equal to the byte
 * length; and also rejects duplicate names. Errors name the file and tensor. */
#ifndef VERTO_SAFETENSORS_H
#define VERTO_SAFETENSORS_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_ST_MAX_HEADER 100000000ull
#define VT_ST_MAX_DIMS 8

typedef enum vt_st_dtype {
    VT_ST_BOOL, VT_ST_U8, VT_ST_I8, VT_ST_I16, VT_ST_U16, VT_ST_I32, VT_ST_U32,
    VT_ST_I64, VT_ST_U64, VT_ST_F16, VT_ST_BF16, VT_ST_F32, VT_ST_F64,
} vt_st_dtype;

/* "F32", "BF16", ...; and back (false if unknown). */
VT_API const char *vt_st_dtype_name(vt_st_dtype dtype);
VT_API bool vt_st_dtype_parse(const char *name, vt_st_dtype *out);
VT_API size_t vt_st_dtype_size(vt_st_dtype dtype);

typedef struct vt_st_tensor {
    const char *name;          /* owned by the file object */
    vt_st_dtype dtype;
    int ndim;
    int64_t shape[VT_ST_MAX_DIMS];
    int64_t numel;
    const void *data;          /* inside the mapping; may be unaligned */
    size_t nbytes;
} vt_st_tensor;

typedef struct vt_st_file vt_st_file;

/* Maps and validates `path`. NULL with an error naming the file (and tensor)
 * on any violation. */
VT_API vt_st_file *vt_st_open(const char *path);

/* Validates an in-memory image (not copied; must outlive the result).
 * `label` names it in errors. Used by the fuzzer and tests. */
VT_API vt_st_file *vt_st_open_memory(const void *buf, size_t len, const char *label);

VT_API void vt_st_close(vt_st_file *f);

VT_API size_t vt_st_count(const vt_st_file *f);
/* The i-th tensor in file (data offset) order. */
VT_API const vt_st_tensor *vt_st_at(const vt_st_file *f, size_t i);
/* Lookup by exact name; NULL if absent (no error set). */
VT_API const vt_st_tensor *vt_st_find(const vt_st_file *f, const char *name);
/* A "__metadata__" value, or NULL. */
VT_API const char *vt_st_metadata(const vt_st_file *f, const char *key);

/* Converts F32, F16, BF16 or F64 data to float32 into out (numel floats).
 * Other dtypes: VT_ERR_FORMAT naming the tensor. */
VT_API vt_status vt_st_to_f32(const vt_st_tensor *t, float *out);

typedef struct vt_st_entry {
    const char *name;
    vt_st_dtype dtype;
    int ndim;
    const int64_t *shape;
    const void *data;          /* numel * dtype size bytes */
} vt_st_entry;

/* Writes tensors (in the given order) and optional metadata pairs
 * (meta_kv[2i] = key, meta_kv[2i+1] = value) to `path` atomically.
 * Names must be unique. The header is padded with spaces to a multiple of 8. */
VT_API vt_status vt_st_write(const char *path, const vt_st_entry *entries, size_t n,
                             const char *const *meta_kv, size_t n_meta);

#ifdef __cplusplus
}
#endif
#endif
