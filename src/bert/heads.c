/* The pooler and the heads, forward (with their losses, whose gradients with
 * respect to the logits are kept) and backward:
 *   pooler      pooled = act(dropout(first tokens) Wp^T + bp): the base model's pooler (tanh, no dropout), or
 *               the sequence classifier's own dense layer (RoBERTa's classifier.dense: tanh, with dropout;
 *               DistilBERT's pre_classifier: ReLU, no dropout)
 *   MLM         logits (P, V) = LN(act(x W^T + b)) E^T + bias, at P chosen positions (E: the tied word
 *               embeddings; act: hidden_act, exact GELU for RoBERTa)
 *   NSP         logits (B, 2) = pooled Wn^T + bn
 *   classifier  logits = dropout(pooled or every token) Wc^T + bc (question answering's qa_outputs too;
 *               the task losses are in task_loss.c) */
#include <math.h>
#include <string.h>

#include "bert/bert_internal.h"
#include "verto/rng.h"

static void zero(float *p, int64_t n) { memset(p, 0, (size_t)n * sizeof(float)); }

int64_t bert_mlm_positions(const vt_bert_batch *in, int32_t *pos, int32_t *targets) {
    int64_t BT = in->batch * in->seq_len, P = 0;
    for (int64_t r = 0; r < BT; r++) {
        if (in->mlm_labels ? in->mlm_labels[r] == BERT_IGNORE_INDEX : in->mlm_select && !in->mlm_select[r]) continue;
        if (pos) {
            pos[P] = (int32_t)r;
            targets[P] = in->mlm_labels ? in->mlm_labels[r] : BERT_IGNORE_INDEX;
        }
        P++;
    }
    return P;
}

/* The MLM head's transform and decoder, for forward and backward alike. */
static blk_linear mlm_transform(const vt_bert *b) {
    int64_t H = b->cfg.hidden_size;
    return bert_dense(b, b->w.mlm_w, b->w.mlm_b, b->g.mlm_w, b->g.mlm_b, H, H);
}
static blk_linear mlm_decoder(const vt_bert *b) {
    return bert_dense(b, b->w.word_emb, b->w.mlm_bias, b->g.word_emb, b->g.mlm_bias, b->cfg.hidden_size,
                      b->cfg.vocab_size);
}
/* pool_w: the pooler, or the sequence classifier's dense layer (bert_pool_module). */
static blk_linear pooler(const vt_bert *b) {
    int64_t H = b->cfg.hidden_size;
    return bert_dense(b, b->w.pool_w, b->w.pool_b, b->g.pool_w, b->g.pool_b, H, H);
}
static blk_linear nsp_head(const vt_bert *b) {
    return bert_dense(b, b->w.nsp_w, b->w.nsp_b, b->g.nsp_w, b->g.nsp_b, b->cfg.hidden_size, 2);
}
static blk_linear classifier(const vt_bert *b) {
    return bert_dense(b, b->w.cls_w, b->w.cls_b, b->g.cls_w, b->g.cls_b, b->cfg.hidden_size, b->cfg.num_labels);
}

/* The classifier reads every token (not the pooled first one). */
static bool per_token(const vt_bert_config *c) {
    return c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION || c->arch == VT_BERT_FOR_QUESTION_ANSWERING;
}

/* The classifier's dropout rate in this step: HF's classifier_dropout, else
 * the hidden one; DistilBERT's seq_classif_dropout for its sequence
 * classifier and its `dropout` for the token classifier. Question answering
 * has none before qa_outputs but DistilBERT's qa_dropout. */
static float classifier_dropout(const vt_bert *b, bool training) {
    const vt_bert_config *c = &b->cfg;
    if (!training) return 0;
    if (c->arch == VT_BERT_FOR_QUESTION_ANSWERING) return c->family == VT_FAMILY_DISTILBERT ? c->qa_dropout : 0;
    if (c->family == VT_FAMILY_DISTILBERT)
        return c->arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION ? c->seq_classif_dropout : c->hidden_dropout_prob;
    return c->classifier_dropout >= 0 ? c->classifier_dropout : c->hidden_dropout_prob;
}

/* The pooler's activation, and the dropout rate on its input (RoBERTa's classifier). */
static vt_activation pool_act(const vt_bert *b) {
    return bert_pool_is_pooler(&b->cfg) ? VT_ACT_TANH : bert_family(b->cfg.family)->seq_dense_act;
}
static float pool_input_dropout(const vt_bert *b, bool training) {
    bool dropout = !bert_pool_is_pooler(&b->cfg) && bert_family(b->cfg.family)->seq_dense_input_dropout;
    return dropout ? classifier_dropout(b, training) : 0;
}

/* The MLM transform's activation. */
static vt_activation mlm_act(const vt_bert *b) {
    return bert_family(b->cfg.family)->mlm_act_is_gelu ? VT_ACT_GELU : b->cfg.hidden_act;
}

static vt_status mlm_forward(vt_bert *b, const float *hidden, int64_t P) {
    const vt_bert_config *c = &b->cfg;
    int64_t H = c->hidden_size;
    blk_ctx ctx = bert_ctx(b);
    blk_linear transform = mlm_transform(b), decoder = mlm_decoder(b);
    for (int64_t i = 0; i < P; i++) memcpy(b->mlm_in + i * H, hidden + (int64_t)b->mlm_pos[i] * H, (size_t)H * sizeof(float));
    vt_status st = blk_linear_forward(&ctx, &transform, b->mlm_in, b->mlm_in16, b->mlm_pre, P, 0);
    if (st != VT_OK) return st;
    vt_activation_forward(mlm_act(b), b->mlm_pre, b->mlm_act, P, H);
    vt_layernorm_forward(b->mlm_act, b->w.mlm_ln_g, b->w.mlm_ln_b, b->mlm_ln, b->mlm_mean, b->mlm_rstd, P, H,
                         c->layer_norm_eps);
    return blk_linear_forward(&ctx, &decoder, b->mlm_ln, b->mlm_ln16, b->mlm_logits, P, 0);
}

vt_status bert_xent(const float *logits, const int32_t *labels, int64_t rows, int64_t classes, const float *weights,
                    float *dlogits, double scale, const char *what, double *loss, int64_t *correct, int64_t *counted) {
    for (int64_t r = 0; r < rows; r++)
        if (labels[r] != BERT_IGNORE_INDEX && (labels[r] < 0 || labels[r] >= classes))
            return vt_error(VT_ERR_INVALID_ARG, "%s: label %d at row %lld is outside [0, %lld)", what, labels[r],
                            (long long)r, (long long)classes);
    vt_status st = vt_softmax_xent(logits, labels, rows, classes, weights, dlogits, (float)scale, loss, counted,
                                   correct);
    if (st != VT_OK) return st;
    *loss = *counted ? *loss * scale : 0; /* nothing to learn from in this batch */
    return VT_OK;
}

double bert_label_weight(const int32_t *labels, int64_t n, int64_t classes, const float *weights) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        if (labels[i] >= 0 && labels[i] < classes) sum += weights ? (double)weights[labels[i]] : 1.0;
    return sum;
}

void vt_bert_loss_norm_of(const vt_bert *b, const vt_bert_batch *in, vt_bert_loss_norm *out) {
    const vt_bert_config *c = &b->cfg;
    int64_t B = in->batch, BT = in->batch * in->seq_len;
    *out = (vt_bert_loss_norm){0};
    if (b->w.mlm_w && in->mlm_labels) out->mlm = bert_label_weight(in->mlm_labels, BT, c->vocab_size, NULL);
    if (b->w.nsp_w && in->nsp_labels) out->nsp = bert_label_weight(in->nsp_labels, B, 2, NULL);
    bert_task_norm(b, in, out);
}

double bert_share(const vt_bert_loss_norm *norm, double local, double global) {
    if (!norm) return 1.0;
    return global > 0 ? local / global : 0.0;
}

/* Sequence i's first token among the last layer's rows: row i with
 * cls_only (the last layer kept only those), else its first token row. */
static int64_t first_row(const vt_bert *b, const vt_bert_batch *in, int64_t i) {
    return b->last_cls_only ? i : bert_first_row(in, i);
}

vt_status bert_heads_forward(vt_bert *b, const vt_bert_batch *in, bool training, uint64_t seed,
                             const vt_bert_loss_norm *norm, vt_bert_outputs *out) {
    const vt_bert_config *c = &b->cfg;
    vt_bert_loss_norm local = {0};
    if (norm) vt_bert_loss_norm_of(b, in, &local);
    int64_t B = in->batch, T = in->seq_len, H = c->hidden_size;
    const float *hidden = out->last_hidden_state;
    blk_ctx ctx = bert_ctx(b);
    vt_status st;
    if (b->w.pool_w) {
        blk_linear pool = pooler(b);
        for (int64_t i = 0; i < B; i++)
            memcpy(b->pool_in + i * H, hidden + first_row(b, in, i) * H, (size_t)H * sizeof(float));
        bert_dropout_forward(b->pool_in, b->pool_x, b->pool_drop, B * H, pool_input_dropout(b, training),
                             vt_hash64(seed, SITE_CLASSIFIER_INPUT));
        if ((st = blk_linear_forward(&ctx, &pool, b->pool_x, b->pool_in16, b->pooled, B, 1)) != VT_OK) return st;
        vt_activation_forward(pool_act(b), b->pooled, b->pooled, B, H);
        if (bert_pool_is_pooler(c)) out->pooled = b->pooled;
    }
    if (b->w.mlm_w) {
        bert_mlm_positions(in, b->mlm_pos, b->mlm_targets);
        if (b->mlm_p && (st = mlm_forward(b, hidden, b->mlm_p)) != VT_OK) return st;
        out->mlm_logits = b->mlm_logits;
        out->mlm_rows = b->mlm_p;
        if (in->mlm_labels) {
            int64_t counted;
            if ((st = bert_xent(b->mlm_logits, b->mlm_targets, b->mlm_p, c->vocab_size, NULL, b->d_mlm_logits,
                                bert_share(norm, local.mlm, norm ? norm->mlm : 0), "mlm_labels", &out->mlm_loss,
                                &out->mlm_correct, &counted)) != VT_OK)
                return st;
            out->mlm_count = counted;
        }
    }
    if (b->w.nsp_w) {
        blk_linear nsp = nsp_head(b);
        if ((st = blk_linear_forward(&ctx, &nsp, b->pooled, b->pooled16, b->nsp_logits, B, 1)) != VT_OK) return st;
        out->nsp_logits = b->nsp_logits;
        int64_t counted;
        if (in->nsp_labels && (st = bert_xent(b->nsp_logits, in->nsp_labels, B, 2, NULL, b->d_nsp,
                                              bert_share(norm, local.nsp, norm ? norm->nsp : 0), "nsp_labels",
                                              &out->nsp_loss, &out->nsp_correct, &counted)) != VT_OK)
            return st;
    }
    if (b->w.cls_w) {
        blk_linear head = classifier(b);
        const float *x = per_token(c) ? hidden : b->pooled;
        bert_dropout_forward(x, b->cls_in, b->cls_drop, b->cls_rows * H, classifier_dropout(b, training),
                             vt_hash64(seed, SITE_CLASSIFIER));
        int64_t seq_rows = !per_token(c) ? 1 : in->offsets ? BLK_PACKED : T;
        st = blk_linear_forward(&ctx, &head, b->cls_in, b->cls_in16, b->logits, b->cls_rows, seq_rows);
        if (st != VT_OK) return st;
        out->logits = b->logits;
        if ((st = bert_task_loss(b, in, norm, &local, out)) != VT_OK) return st;
    }
    if (in->mlm_labels || in->nsp_labels)
        out->loss = (in->mlm_labels ? out->mlm_loss : 0) + (in->nsp_labels ? out->nsp_loss : 0);
    return VT_OK;
}

/* The MLM head's gradient, added to d_hidden at its positions. With DP's
 * per-example norms its rows are grouped by sequence (b->mlm_groups, which
 * the per-example backward set). */
static vt_status mlm_backward(vt_bert *b, const blk_ctx *batch_ctx) {
    const vt_bert_config *c = &b->cfg;
    int64_t P = b->mlm_p, H = c->hidden_size;
    blk_linear transform = mlm_transform(b), decoder = mlm_decoder(b);
    blk_ctx grouped = *batch_ctx;
    if (batch_ctx->sq_norm) grouped.groups = b->mlm_groups;
    const blk_ctx *ctx = &grouped;
    vt_status st;
    if ((st = blk_linear_backward(ctx, &decoder, b->mlm_ln, b->mlm_ln16, b->d_mlm_logits, b->d_mlm_ln, 0.0f, P)))
        return st;
    if (ctx->sq_norm && (st = blk_layernorm_example_norms(ctx, b->d_mlm_ln, b->mlm_act, b->mlm_mean, b->mlm_rstd, P,
                                                          H, b->g.mlm_ln_g, b->g.mlm_ln_b)) != VT_OK)
        return st;
    zero(b->d_mlm_act, P * H);
    vt_layernorm_backward(b->d_mlm_ln, b->mlm_act, b->w.mlm_ln_g, b->mlm_mean, b->mlm_rstd, b->d_mlm_act, b->g.mlm_ln_g,
                          b->g.mlm_ln_b, P, H);
    zero(b->d_mlm_pre, P * H);
    vt_activation_backward(mlm_act(b), b->mlm_pre, b->mlm_act, b->d_mlm_act, b->d_mlm_pre, P, H);
    if ((st = blk_linear_backward(ctx, &transform, b->mlm_in, b->mlm_in16, b->d_mlm_pre, b->d_mlm_in, 0.0f, P)))
        return st;
    for (int64_t i = 0; i < P; i++) {
        float *restrict dst = b->d_hidden + (int64_t)b->mlm_pos[i] * H;
        const float *restrict src = b->d_mlm_in + i * H;
        for (int64_t h = 0; h < H; h++) dst[h] += src[h];
    }
    return VT_OK;
}

vt_status bert_heads_backward(vt_bert *b) {
    const vt_bert_config *c = &b->cfg;
    const vt_bert_batch *in = &b->last;
    int64_t B = in->batch, H = c->hidden_size, BT = bert_token_rows(in);
    blk_ctx ctx = bert_ctx(b);
    bool pooled_grad = false;
    vt_status st;
    zero(b->d_hidden, (b->last_cls_only ? B : BT) * H); /* (B, H) rows of position 0 with cls_only */
    zero(b->d_pooled, B * H);
    if (b->w.mlm_w && in->mlm_labels && b->mlm_p && (st = mlm_backward(b, &ctx)) != VT_OK) return st;
    if (b->w.nsp_w && in->nsp_labels) {
        blk_linear nsp = nsp_head(b);
        if ((st = blk_linear_backward(&ctx, &nsp, b->pooled, b->pooled16, b->d_nsp, b->d_pooled, 1.0f, B))) return st;
        pooled_grad = true;
    }
    if (b->w.cls_w && (bert_task_has_loss(in) || b->input_grads_only)) {
        blk_linear head = classifier(b);
        float *d_cls_in = b->cls_rows == B ? b->d_pool_pre : b->d_branch; /* (cls_rows, H) scratch */
        if ((st = blk_linear_backward(&ctx, &head, b->cls_in, b->cls_in16, b->d_logits, d_cls_in, 0.0f, b->cls_rows)))
            return st;
        float rate = classifier_dropout(b, b->last_training);
        if (per_token(c)) {
            bert_dropout_backward(d_cls_in, b->cls_drop, b->d_hidden, BT * H, rate);
        } else {
            bert_dropout_backward(d_cls_in, b->cls_drop, b->d_pooled, B * H, rate);
            pooled_grad = true;
        }
    }
    if (pooled_grad) { /* pooled = act(dropout(first tokens) W^T + b) */
        blk_linear pool = pooler(b);
        zero(b->d_pool_pre, B * H);
        vt_activation_backward(pool_act(b), NULL, b->pooled, b->d_pooled, b->d_pool_pre, B, H);
        if ((st = blk_linear_backward(&ctx, &pool, b->pool_x, b->pool_in16, b->d_pool_pre, b->d_pooled, 0.0f, B)))
            return st; /* d_pooled: now the gradient of the pooler's input after its dropout */
        float rate = pool_input_dropout(b, b->last_training);
        for (int64_t i = 0; i < B; i++) /* += into the first tokens' rows */
            bert_dropout_backward(b->d_pooled + i * H, b->pool_drop + i * H, b->d_hidden + first_row(b, in, i) * H,
                                  H, rate);
    }
    return VT_OK;
}
