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

/* <A, D> for the word table used twice, as the embeddings (A: row id_t gets
 * d_t, pad rows none) and as the MLM decoder (D: row v gets sum_p dl_p[v]
 * h_p over the sequence's masked positions p): sum_t sum_p dl_p[id_t]
 * (d_t . h_p). Sequence i's squared norm of the table's gradient A + D is
 * |A|^2 + |D|^2 + 2 <A, D>; the other two come from the table and the
 * decoder's own norms. */
static double tied_cross_term(const vt_bert *b, int64_t i, const float *d_sum, int64_t at, int64_t n, int32_t pad) {
    int64_t H = b->cfg.hidden_size, V = b->cfg.vocab_size;
    double s = 0;
    for (int64_t p = b->mlm_groups[i]; p < b->mlm_groups[i + 1]; p++) {
        const float *h = b->mlm_ln + p * H, *dl = b->d_mlm_logits + p * V;
        for (int64_t t = at; t < at + n; t++) {
            int32_t id = b->last.input_ids[t];
            if (id == pad) continue;
            double dot = 0;
            for (int64_t k = 0; k < H; k++) dot += (double)d_sum[t * H + k] * h[k];
            s += (double)dl[id] * dot;
        }
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
    bool tied = b->w.mlm_w && in->mlm_labels && b->mlm_p > 0; /* the MLM decoder's norms ran over its groups */
    for (int64_t i = 0; order && acc && i < in->batch; i++) {
        int64_t n = b->ex_lengths[i], at = in->offsets ? in->offsets[i] : i * T; /* (its first row) */
        const float *d = d_sum + at * H;
        double s = table_sq_norm(in->input_ids + at, pad, d, n, H, order, acc) +
                   table_sq_norm(b->pos_ids + at, pos_pad, d, n, H, order, acc);
        if (b->g.type_emb) s += table_sq_norm(types ? types + at : NULL, -1, d, n, H, order, acc);
        if (tied) s += 2 * tied_cross_term(b, i, d_sum, at, n, pad);
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

/* A loss gradient the per-example passes rescale and then restore: rows of
 * `width`, from the last forward's mean over the batch. */
typedef struct loss_grad {
    float *d;     /* (rows, width) in the model */
    float *saved; /* its copy (in b->saved_loss_grads) */
    int64_t rows, width;
} loss_grad;

/* Sets each example's rows of the loss gradients to those of its own loss
 * (the batch's losses are means; example i's own divides by its own share of
 * the denominator) times weight[i] (NULL: 1). A classifier's logits, or a
 * pretraining head's masked positions (the mean over its own) and next-
 * sentence row. */
static void own_losses(vt_bert *b, const double *weight, loss_grad *g, int n_grads) {
    const vt_bert_config *c = &b->cfg;
    const vt_bert_batch *in = &b->last;
    vt_bert_loss_norm whole;
    vt_bert_loss_norm_of(b, in, &whole);
    for (int k = 0; k < n_grads; k++) memcpy(g[k].saved, g[k].d, (size_t)(g[k].rows * g[k].width) * sizeof(float));
    int64_t B = in->batch, T = in->seq_len, L = c->num_labels;
    bool pretraining = c->arch == VT_BERT_FOR_PRETRAINING || c->arch == VT_BERT_FOR_MASKED_LM;
    bool tokens = c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION;
    bool per_class = in->labels && !in->regression_targets && !in->multi_labels;
    for (int64_t i = 0; i < B; i++) {
        double w = weight ? weight[i] : 1.0;
        if (pretraining) { /* g[0]: the MLM head's (P, V), g[1]: next sentence's (B, 2) */
            double own = bert_label_weight(in->mlm_labels + i * T, T, c->vocab_size, NULL);
            double k = own > 0 ? whole.mlm / own * w : 0;
            for (int64_t j = b->mlm_groups[i] * g[0].width; j < b->mlm_groups[i + 1] * g[0].width; j++)
                g[0].d[j] = (float)(g[0].saved[j] * k);
            if (n_grads > 1)
                for (int64_t j = 2 * i; j < 2 * i + 2; j++) g[1].d[j] = (float)(g[1].saved[j] * whole.nsp * w);
            continue;
        }
        int64_t at = !tokens ? i : in->offsets ? in->offsets[i] : i * T; /* its logits' rows */
        int64_t per = !tokens ? 1 : in->offsets ? in->offsets[i + 1] - at : T;
        double own = per_class ? bert_label_weight(in->labels + at, per, L, in->class_weights) : (double)L;
        double k = (own > 0 ? whole.task / own : 0) * w;
        for (int64_t j = at * L; j < (at + per) * L; j++) g[0].d[j] = (float)(g[0].saved[j] * k);
    }
}

/* Sequence i's masked positions among the MLM head's rows (b->mlm_groups):
 * they come in row order i*T + t. */
static void mlm_groups(vt_bert *b) {
    int64_t B = b->last.batch, T = b->last.seq_len;
    for (int64_t i = 0, p = 0; i <= B; i++) {
        while (p < b->mlm_p && b->mlm_pos[p] < i * T) p++;
        b->mlm_groups[i] = p;
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
    bool pretraining = c->arch == VT_BERT_FOR_PRETRAINING || c->arch == VT_BERT_FOR_MASKED_LM;
    if ((c->arch != VT_BERT_FOR_SEQUENCE_CLASSIFICATION && !tokens && !pretraining) || in->embedding_output ||
        in->position_ids || (pretraining && (in->offsets || !in->mlm_labels)))
        return vt_error(VT_ERR_INVALID_ARG, "per-example backward passes are for sequence and token classifiers "
                                            "and masked-LM pretraining (padded, with mlm_labels) over batches of "
                                            "token ids");
    int64_t B = in->batch, L = c->num_labels;
    if (keep && !b->kept && !(b->kept = calloc(1, sizeof *b->kept)))
        return vt_error(VT_ERR_NOMEM, "out of memory for DP book-keeping");
    loss_grad g[2];
    int n_grads = 1;
    if (pretraining) {
        mlm_groups(b);
        g[0] = (loss_grad){b->d_mlm_logits, NULL, b->mlm_p, c->vocab_size};
        if (b->w.nsp_w && in->nsp_labels) g[n_grads++] = (loss_grad){b->d_nsp, NULL, B, 2};
    } else {
        g[0] = (loss_grad){b->d_logits, NULL, !tokens ? B : bert_token_rows(in), L}; /* d_logits (rows, L) */
    }
    size_t need = 1; /* the copies, one after the other, in memory the model keeps (a step's is the size of the last) */
    for (int k = 0; k < n_grads; k++) need += (size_t)(g[k].rows * g[k].width);
    if (need > b->saved_cap) {
        free(b->saved_loss_grads);
        b->saved_cap = (b->saved_loss_grads = malloc(need * sizeof(float))) ? need : 0;
    }
    for (int k = 0; k < n_grads; k++)
        g[k].saved = b->saved_loss_grads ? b->saved_loss_grads + (k ? g[0].rows * g[0].width : 0) : NULL;
    int64_t *len = malloc((size_t)B * sizeof *len);
    if (!b->saved_loss_grads || !len) {
        free(len);
        return vt_error(VT_ERR_NOMEM, "out of memory for per-example backward passes");
    }
    own_losses(b, weight, g, n_grads);
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
    for (int k = 0; k < n_grads; k++) memcpy(g[k].d, g[k].saved, (size_t)(g[k].rows * g[k].width) * sizeof(float));
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
