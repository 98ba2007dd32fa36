/* Per-example backward passes of a sequence classifier for DP-SGD's fast
 * path (vt_bert_backward_examples in verto/bert.h): each example's own loss
 * gradient from the batch's, its squared gradient norm over the trainable
 * parameters without its gradient (the blocks' example_norms.c for the dense
 * layers and LayerNorms, the embedding tables sparsely here), and the
 * gradient of a weighted sum of the examples' losses: by a second backward
 * (vt_bert_backward_examples) or, book-keeping, from what the norms'
 * backward kept (the blocks' bookkeeping.c; the embeddings' rows here). */
#include <stdlib.h>
#include <string.h>

#include "bert/bert_internal.h"

typedef struct id_row {
    int32_t id;
    int32_t row;
} id_row;

static int by_id(const void *a, const void *b) {
    const id_row *x = a, *y = b;
    return x->id != y->id ? (x->id < y->id ? -1 : 1) : (x->row > y->row) - (x->row < y->row);
}

/* |sum over rows of each id of d_row|^2 summed over the ids, the rows n of
 * ids (NULL: all id 0) except `skip`: the squared norm of one example's
 * gradient of an embedding table, only the rows it touches. order (n) and acc
 * (H) are scratch. */
static double table_sq_norm(const int32_t *ids, int32_t skip, const float *d, int64_t n, int64_t H, id_row *order,
                            double *acc) {
    int64_t m = 0;
    for (int64_t t = 0; t < n; t++)
        if (!ids || ids[t] != skip) order[m++] = (id_row){ids ? ids[t] : 0, (int32_t)t};
    qsort(order, (size_t)m, sizeof *order, by_id);
    double s = 0;
    for (int64_t k = 0; k < m;) {
        memset(acc, 0, (size_t)H * sizeof *acc);
        int64_t end = k;
        for (; end < m && order[end].id == order[k].id; end++)
            for (int64_t h = 0; h < H; h++) acc[h] += d[(int64_t)order[end].row * H + h];
        for (int64_t h = 0; h < H; h++) s += acc[h] * acc[h];
        k = end;
    }
    return s;
}

void bert_embeddings_example_norms(const vt_bert *b, const float *d_sum) {
    const vt_bert_config *c = &b->cfg;
    const vt_bert_batch *in = &b->last;
    int64_t T = in->offsets ? 0 : in->seq_len, H = c->hidden_size;
    int32_t pad = (int32_t)c->pad_token_id; /* -1 when there is none: as the backward, pad rows learn nothing */
    int32_t pos_pad = bert_family(c->family)->positions_after_padding ? pad : -1;
    const int32_t *types = c->type_vocab_size > 0 ? in->token_type_ids : NULL;
    int64_t longest = 0; /* (rows an example has at most) */
    for (int64_t i = 0; i < in->batch; i++) longest = b->ex_lengths[i] > longest ? b->ex_lengths[i] : longest;
    id_row *order = malloc((size_t)(longest ? longest : 1) * sizeof *order);
    double *acc = malloc((size_t)H * sizeof *acc);
    for (int64_t i = 0; order && acc && i < in->batch; i++) {
        int64_t n = b->ex_lengths[i], at = in->offsets ? in->offsets[i] : i * T; /* (its first row) */
        const float *d = d_sum + at * H;
        double s = table_sq_norm(in->input_ids + at, pad, d, n, H, order, acc) +
                   table_sq_norm(b->pos_ids + at, pos_pad, d, n, H, order, acc);
        if (b->g.type_emb) s += table_sq_norm(types ? types + at : NULL, -1, d, n, H, order, acc);
        b->ex_sq_norm[i] += s;
    }
    if (!order || !acc) /* (no error channel here: poison the norms so the caller refuses them) */
        for (int64_t i = 0; i < in->batch; i++) b->ex_sq_norm[i] = -1;
    free(order);
    free(acc);
}

/* Each example's rows: a packed sequence's, or up to its last real token
 * (padding after it has no gradient). */
static void live_lengths(const vt_bert_batch *in, int64_t *len) {
    for (int64_t i = 0; i < in->batch; i++) {
        if (in->offsets) {
            len[i] = in->offsets[i + 1] - in->offsets[i];
            continue;
        }
        len[i] = in->attention_mask ? 0 : in->seq_len;
        for (int64_t t = 0; in->attention_mask && t < in->seq_len; t++)
            if (in->attention_mask[i * in->seq_len + t]) len[i] = t + 1;
    }
}

/* The per-example backward: with sq_norm the norms (and with keep, what
 * book-keeping needs), otherwise the gradient of sum_i weight[i] loss_i. */
static vt_status examples_backward(vt_bert *b, const double *weight, double *sq_norm, bool keep) {
    if (!b || !b->planned || !b->last_has_loss)
        return vt_error(VT_ERR_STATE, "vt_bert_backward_examples needs a forward with labels first");
    const vt_bert_config *c = &b->cfg;
    const vt_bert_batch *in = &b->last;
    bool tokens = c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION;
    if ((c->arch != VT_BERT_FOR_SEQUENCE_CLASSIFICATION && !tokens) || in->embedding_output || in->position_ids)
        return vt_error(VT_ERR_INVALID_ARG, "per-example backward passes are for sequence and token classifiers over "
                                            "batches of token ids");
    int64_t B = in->batch, L = c->num_labels;
    int64_t rows = !tokens ? B : in->offsets ? in->offsets[B] : B * in->seq_len; /* d_logits (rows, L) */
    if (keep && !b->kept && !(b->kept = calloc(1, sizeof *b->kept)))
        return vt_error(VT_ERR_NOMEM, "out of memory for DP book-keeping");
    vt_bert_loss_norm whole;
    vt_bert_loss_norm_of(b, in, &whole);
    float *saved = malloc((size_t)(rows * L) * sizeof *saved);
    int64_t *len = malloc((size_t)B * sizeof *len);
    if (!saved || !len) {
        free(saved), free(len);
        return vt_error(VT_ERR_NOMEM, "out of memory for per-example backward passes");
    }
    memcpy(saved, b->d_logits, (size_t)(rows * L) * sizeof *saved);
    /* The batch's loss is a mean; example i's own loss divides by its own share of the denominator (a token
     * classifier's: its own counted tokens, so a sentence's loss is the mean over its tokens). */
    bool per_class = in->labels && !in->regression_targets && !in->multi_labels;
    for (int64_t i = 0; i < B; i++) {
        int64_t at = !tokens ? i : in->offsets ? in->offsets[i] : i * in->seq_len; /* its logits' rows */
        int64_t per = !tokens ? 1 : in->offsets ? in->offsets[i + 1] - at : in->seq_len;
        double own = per_class ? bert_label_weight(in->labels + at, per, L, in->class_weights) : (double)L;
        double k = (own > 0 ? whole.task / own : 0) * (weight ? weight[i] : 1.0);
        for (int64_t j = at * L; j < (at + per) * L; j++) b->d_logits[j] = (float)(saved[j] * k);
    }
    if (sq_norm) {
        memset(sq_norm, 0, (size_t)B * sizeof *sq_norm);
        live_lengths(in, len);
        b->ex_sq_norm = sq_norm;
        b->ex_lengths = len;
    }
    if (keep) {
        blk_kept_clear(b->kept);
        b->kept_emb = -1;
        b->keeping = true;
    }
    /* The norms pass adds only LayerNorm gradients to the buffer (left undefined): no need to zero it first. */
    vt_status st = vt_bert_backward(b, sq_norm != NULL);
    b->ex_sq_norm = NULL;
    b->ex_lengths = NULL;
    b->keeping = false;
    b->kept_ready = keep && st == VT_OK;
    memcpy(b->d_logits, saved, (size_t)(rows * L) * sizeof *saved);
    free(saved);
    free(len);
    for (int64_t i = 0; st == VT_OK && sq_norm && i < B; i++)
        if (sq_norm[i] < 0) st = vt_error(VT_ERR_NOMEM, "out of memory for the embeddings' per-example norms");
    if (st != VT_OK) b->kept_ready = false;
    return st;
}

vt_status vt_bert_backward_examples(vt_bert *b, const double *weight, double *sq_norm) {
    return examples_backward(b, weight, sq_norm, false);
}

vt_status vt_bert_backward_bookkeeping(vt_bert *b, double *sq_norm) {
    if (!sq_norm) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_backward_bookkeeping: no norms to fill");
    return examples_backward(b, NULL, sq_norm, true);
}

vt_status vt_bert_bookkeeping_gradient(vt_bert *b, const double *weight) {
    if (!b || !weight) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_bookkeeping_gradient: missing argument");
    if (!b->kept_ready)
        return vt_error(VT_ERR_STATE, "vt_bert_bookkeeping_gradient needs vt_bert_backward_bookkeeping after the last "
                                      "forward");
    memset(b->grads, 0, (size_t)b->n_floats * sizeof(float));
    blk_ctx ctx = bert_ctx(b);
    vt_status st = blk_kept_apply(&ctx, b->kept, weight);
    if (st == VT_OK && b->kept_emb >= 0) bert_embeddings_tables_backward(b, blk_kept_at(b->kept, b->kept_emb));
    b->kept_ready = false; /* (its rows are scaled now) */
    return st;
}
