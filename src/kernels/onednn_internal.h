/* What verto's oneDNN kernels share (matmul.c keeps it): the CPU engine,
 * created on first use under verto's ISA cap, and each calling thread's
 * stream and scratchpad (primitives run with user scratchpads, so threads
 * may execute the same primitive at once). */
#ifndef VT_KERNELS_ONEDNN_INTERNAL_H
#define VT_KERNELS_ONEDNN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

/* The engine; NULL with vt_error set when oneDNN has none. */
dnnl_engine_t vt_onednn_engine(void);
/* This thread's stream, with *scratch its scratchpad grown to at least
 * scratch_bytes (64-byte aligned); NULL with vt_error set. */
dnnl_stream_t vt_onednn_thread_stream(size_t scratch_bytes, void **scratch);

/* vt_matmul's primitive cache holds at most this many (least recently used
 * out first). A step of a BERT or GPT-2 model uses a few dozen shapes; 1,024
 * entries (~48 MB at most) keep a run's working set while bounding what the
 * distinct row counts of unpadded batches can pile up. */
#define VT_MATMUL_CACHE_MAX 1024
/* How many it holds now. */
int64_t vt_matmul_cached_primitives(void);

#endif
