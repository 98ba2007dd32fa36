/* libFuzzer target: the safetensors reader (vt_st_open_memory). Any input
 * must be refused with a message naming the image, or accepted with tensors
 * that lie inside the input, tile its data exactly, can all be found by name
 * and (for float dtypes) converted to float32; never a crash, leak or
 * sanitizer report. Seeds: fuzz/corpus/safetensors/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/error.h"
#include "verto/safetensors.h"

#define LABEL "fuzz.safetensors"

static int check_image(const uint8_t *data, size_t size) {
    vt_clear_error();
    vt_st_file *f = vt_st_open_memory(data, size, LABEL);
    if (!f) {
        if (!strstr(vt_last_error(), LABEL)) abort(); /* every error names the file */
        return 0;
    }
    size_t n = vt_st_count(f);
    for (size_t i = 0; i < n; i++) {
        const vt_st_tensor *t = vt_st_at(f, i);
        if (!t || vt_st_find(f, t->name) != t) abort();
        const uint8_t *p = t->data;
        if (p < data || p + t->nbytes > data + size) abort();
        if (t->ndim < 0 || t->ndim > VT_ST_MAX_DIMS) abort();
        if ((uint64_t)t->numel * vt_st_dtype_size(t->dtype) != t->nbytes) abort();
        volatile uint8_t sum = 0; /* touch every byte */
        for (size_t k = 0; k < t->nbytes; k++) sum += p[k];
        if (t->dtype == VT_ST_F32 || t->dtype == VT_ST_F16 || t->dtype == VT_ST_BF16 || t->dtype == VT_ST_F64) {
            float *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
            if (!out) abort();
            if (vt_st_to_f32(t, out) != VT_OK) abort();
            free(out);
        } else {
            float dummy;
            if (vt_st_to_f32(t, &dummy) == VT_OK) abort(); /* only float dtypes convert */
        }
    }
    /* the tensors tile the data to the end of the input */
    if (n && (const uint8_t *)vt_st_at(f, n - 1)->data + vt_st_at(f, n - 1)->nbytes != data + size) abort();
    vt_st_metadata(f, "format");
    vt_st_close(f);
    return 0;
}

/* The input as it is, then (so that mutations reach the JSON checks more
 * often) with its header length folded into the input's size. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_image(data, size);
    if (size < 8) return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | data[i];
    n %= (uint64_t)(size - 8) + 1;
    uint8_t *copy = malloc(size);
    if (!copy) abort();
    memcpy(copy, data, size);
    for (int i = 0; i < 8; i++) copy[i] = (uint8_t)(n >> (8 * i));
    check_image(copy, size);
    free(copy);
    return 0;
}
