/* Owning and viewing tensors (see verto/tensor.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/tensor.h"

size_t vt_dtype_size(vt_dtype dtype) { return dtype == VT_I32 ? sizeof(int32_t) : sizeof(float); }

bool vt_mul_overflows_i64(int64_t a, int64_t b, int64_t *out) {
    return __builtin_mul_overflow(a, b, out);
}

bool vt_mul_overflows_size(size_t a, size_t b, size_t *out) { return __builtin_mul_overflow(a, b, out); }

int64_t vt_tensor_numel(const vt_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

static vt_status checked_numel(int ndim, const int64_t *shape, int64_t *numel) {
    if (ndim < 0 || ndim > VT_MAX_DIMS)
        return vt_error(VT_ERR_SHAPE, "tensor rank %d outside 0..%d", ndim, VT_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return vt_error(VT_ERR_SHAPE, "tensor dimension %d is negative (%lld)", i, (long long)shape[i]);
        if (vt_mul_overflows_i64(n, shape[i], &n)) return vt_error(VT_ERR_SHAPE, "tensor size overflows");
    }
    *numel = n;
    return VT_OK;
}

vt_tensor vt_tensor_view(void *data, vt_dtype dtype, int ndim, const int64_t *shape) {
    vt_tensor t = {.data = data, .dtype = dtype, .ndim = ndim, .owns_data = false};
    for (int i = 0; i < ndim && i < VT_MAX_DIMS; i++) t.shape[i] = shape[i];
    return t;
}

vt_tensor *vt_tensor_new(vt_dtype dtype, int ndim, const int64_t *shape) {
    int64_t numel = 0;
    if (checked_numel(ndim, shape, &numel) != VT_OK) return NULL;
    size_t bytes;
    if (vt_mul_overflows_size((size_t)numel, vt_dtype_size(dtype), &bytes)) {
        vt_error(VT_ERR_SHAPE, "tensor size overflows");
        return NULL;
    }
    vt_tensor *t = calloc(1, sizeof *t);
    void *data = calloc(bytes ? bytes : 1, 1);
    if (!t || !data) {
        free(t);
        free(data);
        vt_error(VT_ERR_NOMEM, "out of memory allocating a tensor of %zu bytes", bytes);
        return NULL;
    }
    *t = vt_tensor_view(data, dtype, ndim, shape);
    t->owns_data = true;
    return t;
}

vt_tensor *vt_tensor_clone(const vt_tensor *src) {
    vt_tensor *t = vt_tensor_new(src->dtype, src->ndim, src->shape);
    if (t) memcpy(t->data, src->data, (size_t)vt_tensor_numel(src) * vt_dtype_size(src->dtype));
    return t;
}

void vt_tensor_free(vt_tensor *t) {
    if (!t) return;
    if (t->owns_data) free(t->data);
    free(t);
}

char *vt_shape_str(int ndim, const int64_t *shape, char *buf, size_t buf_size) {
    size_t used = 0;
    used += (size_t)snprintf(buf, buf_size, "(");
    for (int i = 0; i < ndim && used < buf_size; i++) {
        if (shape[i] == VT_DIM_ANY)
            used += (size_t)snprintf(buf + used, buf_size - used, "%sNone", i ? ", " : "");
        else
            used += (size_t)snprintf(buf + used, buf_size - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    }
    if (used < buf_size) snprintf(buf + used, buf_size - used, ndim == 1 ? ",)" : ")");
    return buf;
}
