/* Data parallelism across processes and machines over MPI (Open MPI).
 *
 * A process started by mpirun (or any launcher that sets the MPI environment)
 * joins the job in vt_dist_init; any other process is a job of one rank and
 * never touches MPI. Built without MPI (the Makefile's MPI=0, or no mpicc),
 * this file's functions are a one-rank stub, and vt_dist_init refuses a
 * process that a launcher started as one of several.
 *
 * Every collective here waits with a deadline (vt_dist_set_timeout, default
 * VT_DIST_DEFAULT_TIMEOUT seconds): a rank that hangs makes the others return
 * VT_ERR_IO ("no answer from the other ranks within N s ...") instead of
 * waiting for ever; a rank
 * that dies is noticed by mpirun, which ends the job. MPI errors are returned
 * (MPI_ERRORS_RETURN), never fatal inside the library. Only the CLI calls
 * vt_dist_abort, after printing its error, to end the other ranks.
 *
 * Collectives must be called by every rank in the same order, from the
 * thread that called vt_dist_init, outside OpenMP parallel regions. */
#ifndef VERTO_DIST_H
#define VERTO_DIST_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_DIST_DEFAULT_TIMEOUT 300.0

/* Joins the MPI job when the process was started by a launcher (MPI_Init_thread,
 * MPI_THREAD_FUNNELED), otherwise does nothing. Idempotent. argc/argv may be
 * NULL. VT_ERR_STATE when this build has no MPI but a launcher started the
 * process as one of several ranks (each would otherwise train alone and
 * overwrite the others' output); VT_ERR_IO when MPI fails to start. */
VT_API vt_status vt_dist_init(int *argc, char ***argv);
/* Leaves the job (MPI_Finalize) if vt_dist_init joined one. Idempotent. */
VT_API void vt_dist_finalize(void);
/* Ends every rank of the job with `code` (MPI_Abort); a plain return when
 * there is no MPI job. For the CLI's error path only. */
VT_API void vt_dist_abort(int code);

/* This process's rank (0 ..size-1) and the job's size (1 without a job). */
VT_API int vt_dist_rank(void);
VT_API int vt_dist_size(void);
/* Ranks of the job on this machine (the launcher's word; 1 without a job). */
VT_API int vt_dist_local_size(void);
/* Whether this build has MPI at all. */
VT_API bool vt_dist_built_with_mpi(void);

/* Seconds a collective waits for the other ranks before failing (> 0). */
VT_API void vt_dist_set_timeout(double seconds);
VT_API double vt_dist_timeout(void);

/* ---- small collectives (blocking, with the deadline) ---- */

/* x (n) = elementwise sum over ranks / max over ranks, in place. */
VT_API vt_status vt_dist_allreduce_sum_f64(double *x, int n);
VT_API vt_status vt_dist_allreduce_max_f64(double *x, int n);
/* Whether v is the same on every rank (*same; all ranks learn the answer). */
VT_API vt_status vt_dist_all_equal_u64(uint64_t v, bool *same);
/* Copies root's bytes into every rank's buf. */
VT_API vt_status vt_dist_bcast(void *buf, size_t bytes, int root);
/* Floats: root's x (n) into everyone's x. */
VT_API vt_status vt_dist_bcast_f32(float *x, int64_t n, int root);

/* ---- sharding (ZeRO stage 1) ---- */

/* Rank r's shard [*lo, *hi) of n floats: contiguous, in rank order, starts
 * aligned to 16 floats, together covering [0, n). */
VT_API void vt_dist_shard(int64_t n, int rank, int size, int64_t *lo, int64_t *hi);
/* Everyone's x (n) gets every rank's shard of x (its vt_dist_shard range),
 * in place (all-gather). */
VT_API vt_status vt_dist_allgather_shards_f32(float *x, int64_t n);
/* Rank 0's full (n) gets every rank's shard (shard_len floats each, the
 * vt_dist_shard ranges of n); `full` is ignored on other ranks. */
VT_API vt_status vt_dist_gather_shards_f32(const float *shard, float *full, int64_t n);

/* ---- gradient reduction: buckets overlapped with the backward pass ---- */

/* Sums a flat gradient buffer over the ranks while the backward pass is
 * still producing it. The backward reports each range as it becomes final
 * (vt_dist_reducer_ready, a vt_bert_grad_ready_fn); adjacent ranges are
 * gathered into buckets of at least bucket_floats and each full bucket is
 * sent at once (a non-blocking all-reduce, or reduce-scatter in sharded
 * mode), while later layers are still computing. vt_dist_reducer_finish
 * sends whatever was never reported (frozen layers, a backward that stopped
 * early) and waits for all of it. */
typedef struct vt_dist_reducer vt_dist_reducer;

/* grads (n) is the buffer to reduce (not owned). shard == NULL: all-reduce,
 * every rank ends with the sum in grads. shard != NULL: reduce-scatter, this
 * rank's shard (vt_dist_shard range, hi - lo floats, not owned) receives the
 * sum of its part and grads is left unreduced. NULL with an error on bad
 * arguments or no memory. */
VT_API vt_dist_reducer *vt_dist_reducer_new(float *grads, int64_t n, int64_t bucket_floats, float *shard);
VT_API void vt_dist_reducer_free(vt_dist_reducer *r);
/* Starts a new reduction of the whole buffer (call before the backward). */
VT_API void vt_dist_reducer_begin(vt_dist_reducer *r);
/* grads[offset, offset + count) is final for this reduction. Matches
 * vt_bert_grad_ready_fn; errors are kept for vt_dist_reducer_finish. */
VT_API void vt_dist_reducer_ready(void *reducer, int64_t offset, int64_t count);
/* Sends the rest and waits (with the deadline) until all is reduced. */
VT_API vt_status vt_dist_reducer_finish(vt_dist_reducer *r);
/* Seconds the last finish waited for communication (not hidden behind compute). */
VT_API double vt_dist_reducer_wait_seconds(const vt_dist_reducer *r);
/* Buckets the last reduction sent before finish (overlapped) and in all. */
VT_API void vt_dist_reducer_counts(const vt_dist_reducer *r, int *overlapped, int *total);

#ifdef __cplusplus
}
#endif
#endif
