/* Dense, contiguous, row-major tensors of up to four dimensions.
 *
 * A vt_tensor is a small value type: a data pointer plus shape. It either owns
 * its data (made by vt_tensor_new, freed by vt_tensor_free) or is a view into
 * memory owned by something else (a model's parameter buffer, an arena). */
#ifndef VERTO_TENSOR_H
#define VERTO_TENSOR_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_MAX_DIMS 4
/* Marks a dimension whose size is only known when data arrives (Keras' None). */
#define VT_DIM_ANY (-1)

typedef enum vt_dtype {
    VT_F32 = 0, /* float, the type of every activation and parameter */
    VT_I32 = 1, /* int32_t, token ids, labels and masks */
} vt_dtype;

typedef struct vt_tensor {
    void *data;                    /* numel elements of dtype, contiguous */
    vt_dtype dtype;
    int ndim;                      /* 0..VT_MAX_DIMS */
    int64_t shape[VT_MAX_DIMS];    /* sizes, outermost first */
    bool owns_data;                /* vt_tensor_free releases data */
} vt_tensor;

/* Size in bytes of one element of `dtype`. */
VT_API size_t vt_dtype_size(vt_dtype dtype);

/* Product of the shape (1 for a scalar). */
VT_API int64_t vt_tensor_numel(const vt_tensor *t);

/* A new zero-filled tensor owning its data. Fails (NULL, error set) on a
 * negative dimension, more than VT_MAX_DIMS dimensions or an oversize product. */
VT_API vt_tensor *vt_tensor_new(vt_dtype dtype, int ndim, const int64_t *shape);

/* A heap-allocated copy of `src` that owns its data; NULL on failure. */
VT_API vt_tensor *vt_tensor_clone(const vt_tensor *src);

/* Releases a tensor made by vt_tensor_new / vt_tensor_clone (NULL is a no-op). */
VT_API void vt_tensor_free(vt_tensor *t);

/* A non-owning view of `data` with the given shape (no allocation). */
VT_API vt_tensor vt_tensor_view(void *data, vt_dtype dtype, int ndim, const int64_t *shape);

/* Typed accessors; they assert nothing, the caller knows the dtype. */
static inline float *vt_f32(const vt_tensor *t) { return (float *)t->data; }
static inline int32_t *vt_i32(const vt_tensor *t) { return (int32_t *)t->data; }

/* Writes "(2, 3, 4)" into buf (None for VT_DIM_ANY); returns buf. */
VT_API char *vt_shape_str(int ndim, const int64_t *shape, char *buf, size_t buf_size);

/* Checked size arithmetic: false if a*b (or a+b) would overflow int64/size_t. */
VT_API bool vt_mul_overflows_i64(int64_t a, int64_t b, int64_t *out);
VT_API bool vt_mul_overflows_size(size_t a, size_t b, size_t *out);

#ifdef __cplusplus
}
#endif
#endif
