/* A causal-LM run's (B, T) id batches (see verto/pretrain_data.h:
 * vt_pt_clm_reader). */
#include <stdlib.h>
#include <string.h>

#include "verto/pretrain_data.h"

struct vt_pt_clm_reader {
    vt_pt_dataset *ds;
    uint64_t seed;
    int64_t max_batch, epoch; /* epoch: the order currently set, -1 before any */
    int32_t T;
    int32_t *ids; /* (max_batch, T) */
};

vt_pt_clm_reader *vt_pt_clm_reader_new(vt_pt_dataset *ds, uint64_t seed, int64_t max_batch) {
    if (!ds || max_batch < 1)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_clm_reader_new: a dataset and a batch size >= 1 are needed"), NULL;
    const vt_pt_info *in = vt_pt_get_info(ds);
    if (in->objective != VT_PT_CLM)
        return vt_error(VT_ERR_INVALID_ARG, "the shards were prepared for %s, not for a causal LM (clm)",
                        vt_pt_objective_name(in->objective)),
               NULL;
    if (vt_pt_size(ds) == 0) return vt_error(VT_ERR_INVALID_ARG, "the causal-LM shards hold no blocks"), NULL;
    vt_pt_clm_reader *r = calloc(1, sizeof *r);
    if (r) r->ids = malloc((size_t)max_batch * (size_t)in->max_seq_length * sizeof *r->ids);
    if (!r || !r->ids) {
        free(r);
        return vt_error(VT_ERR_NOMEM, "out of memory for causal-LM batches"), NULL;
    }
    r->ds = ds, r->seed = seed, r->max_batch = max_batch, r->epoch = -1, r->T = in->max_seq_length;
    return r;
}

void vt_pt_clm_reader_free(vt_pt_clm_reader *r) {
    if (!r) return;
    free(r->ids);
    free(r);
}

/* Sample k: position k % N of epoch k / N's shuffled order. */
static vt_status read_sample(vt_pt_clm_reader *r, int64_t k, int32_t *row) {
    int64_t n = vt_pt_size(r->ds), epoch = k / n, pos = k % n;
    vt_status st = VT_OK;
    if (epoch != r->epoch) {
        st = vt_pt_shuffle(r->ds, r->seed, epoch);
        r->epoch = st == VT_OK ? epoch : -1;
    }
    if (st == VT_OK && vt_pt_tell(r->ds) != pos) st = vt_pt_seek(r->ds, pos);
    vt_pt_instance in;
    bool end = false;
    if (st == VT_OK) st = vt_pt_next(r->ds, &in, &end);
    if (st != VT_OK) return st;
    if (end || in.n_tokens != r->T)
        return vt_error(VT_ERR_FORMAT, "causal-LM block %lld holds %d tokens, not %d", (long long)pos,
                        end ? 0 : (int)in.n_tokens, (int)r->T);
    memcpy(row, in.tokens, (size_t)r->T * sizeof *row);
    return VT_OK;
}

int64_t vt_pt_clm_block_length(const vt_pt_clm_reader *r) { return r->T; }

vt_status vt_pt_clm_batch(vt_pt_clm_reader *r, int64_t first, int64_t count, const int32_t **ids) {
    if (!r || !ids || first < 0 || count < 1 || count > r->max_batch)
        return vt_error(VT_ERR_INVALID_ARG, "causal-LM batch of %lld samples from %lld (batches hold up to %lld)",
                        (long long)count, (long long)first, r ? (long long)r->max_batch : 0LL);
    for (int64_t b = 0; b < count; b++) {
        vt_status st = read_sample(r, first + b, r->ids + b * r->T);
        if (st != VT_OK) return st;
    }
    *ids = r->ids;
    return VT_OK;
}

vt_status vt_pt_clm_rank_batch(vt_pt_clm_reader *r, int64_t index, int rank, int world, int64_t batch,
                               const int32_t **ids) {
    if (index < 0 || world < 1 || rank < 0 || rank >= world)
        return vt_error(VT_ERR_INVALID_ARG, "micro-batch %lld of rank %d among %d", (long long)index, rank, world);
    return vt_pt_clm_batch(r, (index * world + rank) * batch, batch, ids);
}
