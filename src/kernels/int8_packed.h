/* The int8 GEMM on weights packed by vt_int8_pack (int8_packed.c), for
 * vt_int8_linear. */
#ifndef VT_KERNELS_INT8_PACKED_H
#define VT_KERNELS_INT8_PACKED_H

#include "verto/int8.h"

/* Rows per product, and the step a last chunk's rows are rounded up to: a
 * batch of any size runs on a few compiled primitives per weight shape. */
#define VT_INT8_CHUNK 512
#define VT_INT8_TAIL_STEP 8
/* From this many rows on, the BLAS-like GEMM (which lays the weights out
 * per call) is as fast: its copy is amortised over the rows (bench/
 * int8_linear_bench on BERT-small's and BERT-base's shapes, AVX-512 VNNI, 2
 * threads: packed 0.87-1.02x it at 4,096 rows, 0.94-1.02x at 2,048,
 * 1.0-1.15x at 1,024, 1.03-3.3x from 16 to 512 rows but 0.81-1.81x at 37,
 * which the padding to 40 costs). */
#define VT_INT8_PACKED_MAX_ROWS 2048

/* acc (M, w->out) = xq (M, w->in) w->q^T, exact in int32, on w->packed.
 * xq holds M rounded up to VT_INT8_TAIL_STEP rows (those past M are read,
 * but only their own outputs depend on them); tail (VT_INT8_CHUNK, w->out)
 * is scratch for the last chunk's padded rows. */
vt_status vt_int8_gemm_packed(const uint8_t *xq, const vt_int8_weights *w, int32_t *acc, int32_t *tail, int64_t M);

#endif
