/* What verto's oneDNN kernels share (matmul.c keeps it): the CPU engine,
 * created on first use under verto's ISA cap, and each calling thread's
 * stream and scratchpad (primitives run with user scratchpads, so threads
 * may execute the same primitive at once). */
#ifndef VT_KERNELS_ONEDNN_INTERNAL_H
#define VT_KERNELS_ONEDNN_INTERNAL_H

#include <stddef.h>

#include <oneapi/dnnl/dnnl.h>

/* The engine; NULL with vt_error set when oneDNN has none. */
dnnl_engine_t vt_onednn_engine(void);
/* This thread's stream, with *scratch its scratchpad grown to at least
 * scratch_bytes (64-byte aligned); NULL with vt_error set. */
dnnl_stream_t vt_onednn_thread_stream(size_t scratch_bytes, void **scratch);

#endif
