/* Pretraining batches for vt_bert_batch: rows copied in (masked on the fly
 * for dynamic masking), laid out (B, T) padded to the longest row. Every
 * array is allocated once, in vt_pt_batcher_new. */
#include <stdlib.h>
#include <string.h>

#include "data/pretrain_internal.h"

struct vt_pt_batcher {
    int64_t max_batch;
    int32_t S, pad_id;
    bool with_nsp; /* batches carry nsp_labels */
    vt_pt_masker *masker;
    int64_t rows;
    /* rows at stride S */
    int32_t *r_ids, *r_types, *r_labels; /* (max_batch, S) */
    int32_t *r_len, *r_nsp;              /* (max_batch) */
    /* the laid-out batch */
    int32_t *ids, *types, *mask, *labels; /* (B, T) within (max_batch * S) */
    int32_t *nsp;                         /* (B) */
    int32_t *scratch_pos, *scratch_lab;   /* (S) for dynamic masking */
};

void vt_pt_batcher_free(vt_pt_batcher *b) {
    if (!b) return;
    free(b->r_ids), free(b->r_types), free(b->r_labels), free(b->r_len), free(b->r_nsp);
    free(b->ids), free(b->types), free(b->mask), free(b->labels), free(b->nsp);
    free(b->scratch_pos), free(b->scratch_lab);
    free(b);
}

vt_pt_batcher *vt_pt_batcher_new(int64_t max_batch, int32_t max_seq_length, int32_t pad_id, vt_pt_masker *masker) {
    if (max_batch < 1 || max_batch > ((int64_t)1 << 24) || max_seq_length < 1 ||
        max_seq_length > VT_PT_MAX_SEQ_LENGTH_LIMIT || pad_id < 0)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_batcher_new: bad batch %lld, max_seq_length %d or pad id %d",
                        (long long)max_batch, (int)max_seq_length, (int)pad_id),
               NULL;
    vt_pt_batcher *b = calloc(1, sizeof *b);
    if (!b) return vt_error(VT_ERR_NOMEM, "out of memory for a batcher"), NULL;
    b->max_batch = max_batch;
    b->S = max_seq_length;
    b->pad_id = pad_id;
    b->with_nsp = true;
    b->masker = masker;
    size_t cells = (size_t)max_batch * (size_t)max_seq_length, rows = (size_t)max_batch, S = (size_t)max_seq_length;
    b->r_ids = malloc(cells * sizeof(int32_t));
    b->r_types = malloc(cells * sizeof(int32_t));
    b->r_labels = malloc(cells * sizeof(int32_t));
    b->r_len = malloc(rows * sizeof(int32_t));
    b->r_nsp = malloc(rows * sizeof(int32_t));
    b->ids = malloc(cells * sizeof(int32_t));
    b->types = malloc(cells * sizeof(int32_t));
    b->mask = malloc(cells * sizeof(int32_t));
    b->labels = malloc(cells * sizeof(int32_t));
    b->nsp = malloc(rows * sizeof(int32_t));
    b->scratch_pos = malloc(S * sizeof(int32_t));
    b->scratch_lab = malloc(S * sizeof(int32_t));
    if (!b->r_ids || !b->r_types || !b->r_labels || !b->r_len || !b->r_nsp || !b->ids || !b->types || !b->mask ||
        !b->labels || !b->nsp || !b->scratch_pos || !b->scratch_lab) {
        vt_pt_batcher_free(b);
        return vt_error(VT_ERR_NOMEM, "out of memory for a batch of %lld x %d", (long long)max_batch,
                        (int)max_seq_length),
               NULL;
    }
    return b;
}

void vt_pt_batcher_set_nsp(vt_pt_batcher *b, bool nsp) {
    if (b) b->with_nsp = nsp;
}

void vt_pt_batcher_reset(vt_pt_batcher *b) {
    if (b) b->rows = 0;
}

int64_t vt_pt_batcher_rows(const vt_pt_batcher *b) { return b ? b->rows : 0; }

vt_status vt_pt_batcher_add(vt_pt_batcher *b, const vt_pt_instance *in, vt_rng *rng) {
    if (!b || !in || !in->tokens || !in->segment_ids) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_batcher_add: NULL argument");
    if (b->rows >= b->max_batch)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_batcher_add: the batch is full (%lld rows)", (long long)b->max_batch);
    int32_t n = in->n_tokens;
    if (n < 1 || n > b->S)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_batcher_add: %d tokens, the batcher takes 1 to %d", (int)n, (int)b->S);
    size_t r = (size_t)b->rows;
    int32_t *ids = b->r_ids + r * (size_t)b->S, *types = b->r_types + r * (size_t)b->S;
    int32_t *labels = b->r_labels + r * (size_t)b->S;
    const int32_t *pos = in->positions, *lab = in->labels;
    int32_t m = in->n_masked;
    if (m > 0) {
        if (!pos || !lab) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_batcher_add: labels without positions");
        memcpy(ids, in->tokens, (size_t)n * sizeof *ids);
    } else {
        if (!b->masker || !rng)
            return vt_error(VT_ERR_INVALID_ARG,
                            "vt_pt_batcher_add: an unmasked (dynamic-masking) instance needs a masker and an rng");
        vt_status st = vt_pt_mask(b->masker, rng, in->tokens, n, ids, b->scratch_pos, b->scratch_lab, &m);
        if (st != VT_OK) return st;
        pos = b->scratch_pos, lab = b->scratch_lab;
    }
    for (int32_t t = 0; t < n; t++) {
        types[t] = in->segment_ids[t];
        labels[t] = VT_PT_IGNORE_INDEX;
    }
    for (int32_t k = 0; k < m; k++) {
        if (pos[k] < 0 || pos[k] >= n)
            return vt_error(VT_ERR_INVALID_ARG, "vt_pt_batcher_add: masked position %d outside %d tokens", (int)pos[k],
                            (int)n);
        labels[pos[k]] = lab[k];
    }
    b->r_len[r] = n;
    b->r_nsp[r] = in->is_random_next;
    b->rows++;
    return VT_OK;
}

vt_status vt_pt_batcher_finish(vt_pt_batcher *b, vt_bert_batch *out) {
    if (!b || !out) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_batcher_finish: NULL argument");
    int64_t B = b->rows;
    int32_t T = 0;
    for (int64_t r = 0; r < B; r++)
        if (b->r_len[r] > T) T = b->r_len[r];
    for (int64_t r = 0; r < B; r++) {
        size_t src = (size_t)r * (size_t)b->S, dst = (size_t)r * (size_t)T, n = (size_t)b->r_len[r];
        memcpy(b->ids + dst, b->r_ids + src, n * sizeof(int32_t));
        memcpy(b->types + dst, b->r_types + src, n * sizeof(int32_t));
        memcpy(b->labels + dst, b->r_labels + src, n * sizeof(int32_t));
        for (size_t t = 0; t < n; t++) b->mask[dst + t] = 1;
        for (size_t t = n; t < (size_t)T; t++) {
            b->ids[dst + t] = b->pad_id;
            b->types[dst + t] = 0;
            b->mask[dst + t] = 0;
            b->labels[dst + t] = VT_PT_IGNORE_INDEX;
        }
        b->nsp[r] = b->r_nsp[r];
    }
    memset(out, 0, sizeof *out);
    out->batch = B;
    out->seq_len = T;
    out->input_ids = b->ids;
    out->token_type_ids = b->types;
    out->attention_mask = b->mask;
    out->mlm_labels = b->labels;
    out->nsp_labels = b->with_nsp ? b->nsp : NULL;
    return VT_OK;
}

vt_status vt_pt_next_batch(vt_pt_dataset *ds, vt_pt_batcher *b, int64_t batch_size, vt_rng *rng, vt_bert_batch *out) {
    if (!ds || !b || !out) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_next_batch: NULL argument");
    if (batch_size < 1 || batch_size > b->max_batch)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_next_batch: batch size %lld outside [1, %lld]", (long long)batch_size,
                        (long long)b->max_batch);
    vt_pt_batcher_reset(b);
    for (int64_t i = 0; i < batch_size; i++) {
        vt_pt_instance in;
        bool end;
        vt_status st = vt_pt_next(ds, &in, &end);
        if (st != VT_OK) return st;
        if (end) break;
        if ((st = vt_pt_batcher_add(b, &in, rng)) != VT_OK) return st;
    }
    return vt_pt_batcher_finish(b, out);
}
