/* BERT forward: embeddings, post-LN encoder layers, pooler and heads, and the
 * losses (whose gradients w.r.t. the logits are kept for the backward). */
#include <math.h>
#include <string.h>

#include "bert/bert_internal.h"
#include "verto/rng.h"

#define IGNORE_INDEX (-100)

void bert_dropout_forward(const float *x, float *y, uint8_t *mask, int64_t n, float rate, uint64_t seed) {
    if (rate > 0) vt_dropout_forward(x, y, mask, n, rate, seed);
    else if (x != y) memcpy(y, x, (size_t)n * sizeof(float));
}

/* emb_out (B*T, H) = dropout(LayerNorm(word[ids] + position[t] + type[types])). */
static vt_status embeddings_forward(vt_bert *b, const vt_bert_batch *in, float drop, uint64_t seed) {
    const vt_bert_config *c = &b->cfg;
    int64_t B = in->batch, T = in->seq_len, H = c->hidden_size, BT = B * T;
    vt_status st = vt_embedding_forward(in->input_ids, b->w.word_emb, b->emb_sum, BT, c->vocab_size, H);
    if (st != VT_OK) return vt_error(st, "input_ids: %s", vt_last_error());
    for (int64_t r = 0; r < BT; r++) {
        int32_t type = in->token_type_ids ? in->token_type_ids[r] : 0;
        if (type < 0 || type >= c->type_vocab_size)
            return vt_error(VT_ERR_INVALID_ARG, "token_type_ids: %d at row %lld, position %lld is outside [0, %lld)", type,
                            (long long)(r / T), (long long)(r % T), (long long)c->type_vocab_size);
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < BT; r++) {
        const float *restrict pos = b->w.pos_emb + (r % T) * H;
        const float *restrict typ = b->w.type_emb + (in->token_type_ids ? in->token_type_ids[r] : 0) * H;
        float *restrict e = b->emb_sum + r * H;
        for (int64_t h = 0; h < H; h++) e[h] += pos[h] + typ[h];
    }
    vt_layernorm_forward(b->emb_sum, b->w.emb_ln_g, b->w.emb_ln_b, b->emb_ln, b->emb_mean, b->emb_rstd, BT, H,
                         c->layer_norm_eps);
    bert_dropout_forward(b->emb_ln, b->emb_out, b->emb_drop, BT * H, drop, vt_hash64(seed, SITE_EMBEDDINGS));
    return VT_OK;
}

void bert_attention_cls_only(const vt_bert_batch *in, int64_t H, vt_attention_dims *d) {
    d->q_len = 1; /* one query per sequence, its row 0 */
    d->q_stride = in->seq_len * 3 * H;
}

void bert_attention_setup(const vt_bert *b, const vt_bert_batch *in, float attn_drop, uint64_t seed, int64_t layer,
                          vt_attention_dims *d, vt_attention_opts *o) {
    const vt_bert_config *c = &b->cfg;
    int64_t H = c->hidden_size, A = c->num_attention_heads;
    *d = (vt_attention_dims){.batch = in->batch, .q_len = in->seq_len, .kv_len = in->seq_len, .heads = A,
                             .key_dim = H / A, .value_dim = H / A, .q_stride = 3 * H, .k_stride = 3 * H,
                             .v_stride = 3 * H, .out_stride = H};
    *o = (vt_attention_opts){.scale = 1.0f / sqrtf((float)(H / A)),
                             .mask_kind = in->attention_mask ? VT_MASK_KEYS : VT_MASK_NONE,
                             .mask = in->attention_mask, .dropout_rate = attn_drop,
                             .dropout_seed = vt_hash64(seed, bert_site(layer, 0))};
}

/* One post-LN encoder layer: h1 = LN(x + drop(attn(x))), out = LN(h1 + drop(ffn(h1))).
 * cls_only (the last layer of a cls_only batch): from the attention on, only
 * position 0 of each sequence, the row the pooler reads; a->output is then (B, H). */
static vt_status layer_forward(vt_bert *b, int64_t l, const vt_bert_batch *in, float drop, float attn_drop,
                               uint64_t seed, bool cls_only) {
    const vt_bert_config *c = &b->cfg;
    const bert_layer_params *p = &b->w.layers[l];
    bert_layer_acts *a = &b->acts[l];
    int64_t H = c->hidden_size, I = c->intermediate_size, BT = in->batch * in->seq_len;
    int64_t T = in->seq_len, R = cls_only ? in->batch : BT, R_seq = cls_only ? 1 : T; /* rows kept, per sequence */
    int64_t x_step = cls_only ? T * H : H; /* the kept rows' stride in x */
    vt_status st = bert_linear_forward(b, a->input, a->input16, p->qkv_w, p->qkv_b, a->qkv, BT, T, H, 3 * H);
    if (st != VT_OK) return st;
    vt_attention_dims d;
    vt_attention_opts o;
    vt_attention_bf16 x16;
    bert_attention_setup(b, in, attn_drop, seed, l, &d, &o);
    if (cls_only) bert_attention_cls_only(in, H, &d);
    if ((o.bf16 = bert_attention_bf16(b, l, &x16))) vt_f32_to_bf16(a->qkv, a->qkv16, BT * 3 * H);
    st = vt_attention_forward(&d, &o, a->qkv, a->qkv + H, a->qkv + 2 * H, a->probs, a->attn_drop, a->ctx);
    if (st == VT_OK) st = bert_linear_forward(b, a->ctx, a->ctx16, p->attn_out_w, p->attn_out_b, b->tmp, R, R_seq, H, H);
    if (st != VT_OK) return st;
    bert_dropout_forward(b->tmp, b->tmp, a->drop1, R * H, drop, vt_hash64(seed, bert_site(l, 1)));
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) {
        const float *restrict x = a->input + r * x_step, *restrict y = b->tmp + r * H;
        float *restrict s = a->res1 + r * H;
#pragma omp simd
        for (int64_t h = 0; h < H; h++) s[h] = x[h] + y[h];
    }
    vt_layernorm_forward(a->res1, p->ln1_g, p->ln1_b, a->h1, a->ln1_mean, a->ln1_rstd, R, H, c->layer_norm_eps);
    st = bert_linear_forward(b, a->h1, a->h1_16, p->inter_w, p->inter_b, a->inter_pre, R, R_seq, H, I);
    if (st != VT_OK) return st;
    vt_activation_forward(c->hidden_act, a->inter_pre, a->inter, R, I);
    st = bert_linear_forward(b, a->inter, a->inter16, p->out_w, p->out_b, b->tmp, R, R_seq, I, H);
    if (st != VT_OK) return st;
    bert_dropout_forward(b->tmp, b->tmp, a->drop2, R * H, drop, vt_hash64(seed, bert_site(l, 2)));
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < R * H; i++) a->res2[i] = a->h1[i] + b->tmp[i];
    vt_layernorm_forward(a->res2, p->ln2_g, p->ln2_b, a->output, a->ln2_mean, a->ln2_rstd, R, H, c->layer_norm_eps);
    return VT_OK;
}

/* MLM head at the chosen positions: logits (P, V) = LN(act(x W^T + b)) E^T + bias. */
static vt_status mlm_forward(vt_bert *b, const float *hidden, int64_t P) {
    const vt_bert_config *c = &b->cfg;
    int64_t H = c->hidden_size;
    for (int64_t i = 0; i < P; i++) memcpy(b->mlm_in + i * H, hidden + (int64_t)b->mlm_pos[i] * H, (size_t)H * sizeof(float));
    vt_status st = bert_linear_forward(b, b->mlm_in, b->mlm_in16, b->w.mlm_w, b->w.mlm_b, b->mlm_pre, P, 0, H, H);
    if (st != VT_OK) return st;
    vt_activation_forward(c->hidden_act, b->mlm_pre, b->mlm_act, P, H);
    vt_layernorm_forward(b->mlm_act, b->w.mlm_ln_g, b->w.mlm_ln_b, b->mlm_ln, b->mlm_mean, b->mlm_rstd, P, H,
                         c->layer_norm_eps);
    return bert_linear_forward(b, b->mlm_ln, b->mlm_ln16, b->w.word_emb, b->w.mlm_bias, b->mlm_logits, P, 0, H,
                               c->vocab_size);
}

/* Mean cross-entropy of logits (rows, classes), times `scale` (loss and
 * gradient; 1 for a batch's own mean); an error on a bad label. */
static vt_status xent(const float *logits, const int32_t *labels, int64_t rows, int64_t classes, const float *weights,
                      float *dlogits, double scale, const char *what, double *loss, int64_t *correct,
                      int64_t *counted) {
    for (int64_t r = 0; r < rows; r++)
        if (labels[r] != IGNORE_INDEX && (labels[r] < 0 || labels[r] >= classes))
            return vt_error(VT_ERR_INVALID_ARG, "%s: label %d at row %lld is outside [0, %lld)", what, labels[r],
                            (long long)r, (long long)classes);
    vt_status st = vt_softmax_xent(logits, labels, rows, classes, weights, dlogits, (float)scale, loss, counted,
                                   correct);
    if (st != VT_OK) return st;
    *loss = *counted ? *loss * scale : 0; /* nothing to learn from in this batch */
    return VT_OK;
}

/* Counted labels (>= 0 and below classes) of labels (n), weighted when weights is given. */
static double label_weight(const int32_t *labels, int64_t n, int64_t classes, const float *weights) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        if (labels[i] >= 0 && labels[i] < classes) sum += weights ? (double)weights[labels[i]] : 1.0;
    return sum;
}

void vt_bert_loss_norm_of(const vt_bert *b, const vt_bert_batch *in, vt_bert_loss_norm *out) {
    const vt_bert_config *c = &b->cfg;
    int64_t B = in->batch, BT = in->batch * in->seq_len, L = c->num_labels;
    *out = (vt_bert_loss_norm){0};
    if (b->w.mlm_w && in->mlm_labels) out->mlm = label_weight(in->mlm_labels, BT, c->vocab_size, NULL);
    if (b->w.nsp_w && in->nsp_labels) out->nsp = label_weight(in->nsp_labels, B, 2, NULL);
    if (b->w.cls_w && L == 1 && in->regression_targets) out->task = (double)B;
    else if (b->w.cls_w && in->labels)
        out->task = label_weight(in->labels, c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION ? BT : B, L, in->class_weights);
}

/* The factor that turns a batch's own mean into its share of the whole's:
 * local / global denominator (1 without a norm, 0 for an empty whole). */
static double share(const vt_bert_loss_norm *norm, double local, double global) {
    if (!norm) return 1.0;
    return global > 0 ? local / global : 0.0;
}

static vt_status check_batch(const vt_bert *b, const vt_bert_batch *in) {
    const vt_bert_config *c = &b->cfg;
    if (in->batch < 1 || in->seq_len < 1 || !in->input_ids)
        return vt_error(VT_ERR_INVALID_ARG, "a BERT batch needs input_ids and positive batch and length");
    if (in->seq_len > c->max_position_embeddings)
        return vt_error(VT_ERR_INVALID_ARG, "sequence length %lld exceeds max_position_embeddings %lld",
                        (long long)in->seq_len, (long long)c->max_position_embeddings);
    bool classifier = c->arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION || c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION;
    if (in->cls_only && c->arch != VT_BERT_MODEL && c->arch != VT_BERT_FOR_SEQUENCE_CLASSIFICATION)
        return vt_error(VT_ERR_INVALID_ARG, "cls_only needs a BertModel or a sequence classifier, not %s",
                        vt_bert_arch_name(c->arch));
    if ((in->mlm_labels || in->nsp_labels) && c->arch != VT_BERT_FOR_PRETRAINING &&
        !(c->arch == VT_BERT_FOR_MASKED_LM && !in->nsp_labels))
        return vt_error(VT_ERR_INVALID_ARG, "%s has no pretraining heads for MLM/NSP labels", vt_bert_arch_name(c->arch));
    if ((in->labels || in->regression_targets) && !classifier)
        return vt_error(VT_ERR_INVALID_ARG, "%s has no classification head for labels", vt_bert_arch_name(c->arch));
    return VT_OK;
}

/* Chooses the MLM positions: the labelled ones, else the selected ones, else all. */
static int64_t choose_mlm_positions(const vt_bert_batch *in, int32_t *pos, int32_t *targets) {
    int64_t BT = in->batch * in->seq_len, P = 0;
    for (int64_t r = 0; r < BT; r++) {
        if (in->mlm_labels ? in->mlm_labels[r] == IGNORE_INDEX : in->mlm_select && !in->mlm_select[r]) continue;
        if (pos) {
            pos[P] = (int32_t)r;
            targets[P] = in->mlm_labels ? in->mlm_labels[r] : IGNORE_INDEX;
        }
        P++;
    }
    return P;
}

static vt_status heads_forward(vt_bert *b, const vt_bert_batch *in, bool training, uint64_t seed,
                               const vt_bert_loss_norm *norm, vt_bert_outputs *out) {
    const vt_bert_config *c = &b->cfg;
    vt_bert_loss_norm local = {0};
    if (norm) vt_bert_loss_norm_of(b, in, &local);
    int64_t B = in->batch, T = in->seq_len, H = c->hidden_size, L = c->num_labels;
    const float *hidden = out->last_hidden_state;
    vt_status st;
    if (b->w.pool_w) {
        int64_t step = b->last_cls_only ? H : T * H; /* between the sequences' rows 0 */
        for (int64_t i = 0; i < B; i++) memcpy(b->pool_in + i * H, hidden + i * step, (size_t)H * sizeof(float));
        st = bert_linear_forward(b, b->pool_in, b->pool_in16, b->w.pool_w, b->w.pool_b, b->pooled, B, 1, H, H);
        if (st != VT_OK) return st;
        vt_activation_forward(VT_ACT_TANH, b->pooled, b->pooled, B, H);
        out->pooled = b->pooled;
    }
    if (b->w.mlm_w) {
        choose_mlm_positions(in, b->mlm_pos, b->mlm_targets);
        if (b->mlm_p && (st = mlm_forward(b, hidden, b->mlm_p)) != VT_OK) return st;
        out->mlm_logits = b->mlm_logits;
        out->mlm_rows = b->mlm_p;
        if (in->mlm_labels) {
            int64_t counted;
            if ((st = xent(b->mlm_logits, b->mlm_targets, b->mlm_p, c->vocab_size, NULL, b->d_mlm_logits,
                           share(norm, local.mlm, norm ? norm->mlm : 0), "mlm_labels", &out->mlm_loss,
                           &out->mlm_correct, &counted)) != VT_OK)
                return st;
            out->mlm_count = counted;
        }
    }
    if (b->w.nsp_w) {
        st = bert_linear_forward(b, b->pooled, b->pooled16, b->w.nsp_w, b->w.nsp_b, b->nsp_logits, B, 1, H, 2);
        if (st != VT_OK) return st;
        out->nsp_logits = b->nsp_logits;
        int64_t counted;
        if (in->nsp_labels && (st = xent(b->nsp_logits, in->nsp_labels, B, 2, NULL, b->d_nsp,
                                         share(norm, local.nsp, norm ? norm->nsp : 0), "nsp_labels",
                                         &out->nsp_loss, &out->nsp_correct, &counted)) != VT_OK)
            return st;
    }
    if (b->w.cls_w) {
        const float *x = c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION ? hidden : b->pooled;
        float drop = !training ? 0 : c->classifier_dropout >= 0 ? c->classifier_dropout : c->hidden_dropout_prob;
        bert_dropout_forward(x, b->cls_in, b->cls_drop, b->cls_rows * H, drop, vt_hash64(seed, SITE_CLASSIFIER));
        st = bert_linear_forward(b, b->cls_in, b->cls_in16, b->w.cls_w, b->w.cls_b, b->logits, b->cls_rows,
                                 b->cls_rows == B ? 1 : T, H, L);
        if (st != VT_OK) return st;
        out->logits = b->logits;
        if (L == 1 && in->regression_targets) {
            double k = share(norm, local.task, norm ? norm->task : 0);
            out->loss = vt_mse(b->logits, in->regression_targets, B, b->d_logits, (float)k) * k;
        } else if (in->labels) {
            int64_t counted;
            if ((st = xent(b->logits, in->labels, b->cls_rows, L, in->class_weights, b->d_logits,
                           share(norm, local.task, norm ? norm->task : 0), "labels", &out->loss,
                           &out->correct, &counted)) != VT_OK)
                return st;
        }
    }
    if (in->mlm_labels || in->nsp_labels)
        out->loss = (in->mlm_labels ? out->mlm_loss : 0) + (in->nsp_labels ? out->nsp_loss : 0);
    return VT_OK;
}

vt_status vt_bert_forward(vt_bert *b, const vt_bert_batch *in, bool training, uint64_t seed, vt_bert_outputs *out) {
    return vt_bert_forward_ex(b, in, training, seed, NULL, out);
}

vt_status vt_bert_forward_ex(vt_bert *b, const vt_bert_batch *in, bool training, uint64_t seed,
                             const vt_bert_loss_norm *norm, vt_bert_outputs *out) {
    const vt_bert_config *c = &b->cfg;
    memset(out, 0, sizeof *out);
    out->loss = out->mlm_loss = out->nsp_loss = NAN;
    vt_status st = check_batch(b, in);
    if (st != VT_OK) return st;
    int64_t P = b->w.mlm_w ? choose_mlm_positions(in, NULL, NULL) : 0;
    if ((st = bert_plan(b, in->batch, in->seq_len, P)) != VT_OK) return st;
    b->mlm_p = P;
    bert_refresh_params16(b);
    int64_t L = c->num_hidden_layers;
    b->last_cls_only = in->cls_only && L > 0;
    b->last_training = training; /* (the dense layers read it) */
    b->last_has_loss = false;    /* (until this forward succeeds) */
    float drop = training ? c->hidden_dropout_prob : 0, attn_drop = training ? c->attention_probs_dropout_prob : 0;
    if ((st = embeddings_forward(b, in, drop, seed)) != VT_OK) return st;
    for (int64_t l = 0; l < L; l++)
        if ((st = layer_forward(b, l, in, drop, attn_drop, seed, b->last_cls_only && l == L - 1)) != VT_OK) return st;
    out->last_hidden_state = L ? b->acts[L - 1].output : b->emb_out;
    if ((st = heads_forward(b, in, training, seed, norm, out)) != VT_OK) return st;
    b->last = *in;
    b->last_training = training;
    b->last_seed = seed;
    b->last_has_loss = !isnan(out->loss);
    if (b->last_has_loss && !isfinite(out->loss)) return vt_error(VT_ERR_NUMERIC, "BERT loss is %g", out->loss);
    return VT_OK;
}
