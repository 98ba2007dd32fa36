/* A BERT step: the forward through the embeddings, the encoder layers and
 * the heads, and the backward in reverse (see verto/bert.h). Each part's
 * forward and backward live together: embeddings.c, encoder_layer.c (on the
 * blocks of src/blocks), heads.c. */
#include <math.h>
#include <string.h>

#include "bert/bert_internal.h"

void bert_dropout_forward(const float *x, float *y, uint8_t *mask, int64_t n, float rate, uint64_t seed) {
    if (rate > 0) vt_dropout_forward(x, y, mask, n, rate, seed);
    else if (x != y) memcpy(y, x, (size_t)n * sizeof(float));
}

void bert_dropout_backward(const float *dy, const uint8_t *mask, float *dx, int64_t n, float rate) {
    if (rate > 0) {
        vt_dropout_backward(dy, mask, dx, n, rate);
        return;
    }
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i];
}

blk_ctx bert_ctx(const vt_bert *b) {
    blk_ctx c = {.precision = b->precision, .training = b->last_training || b->last.one_product, .dy16 = b->dy16,
                 .sq_norm = b->ex_sq_norm, .lengths = b->ex_lengths, .batch = b->last.batch,
                 .seq_len = b->last.seq_len, .norms_only = b->ex_sq_norm != NULL,
                 .kept = b->keeping ? b->kept : NULL};
    if (b->packed_offsets) { /* the last forward's packed batch */
        c.batch = b->packed_batch;
        c.offsets = b->packed_offsets;
    }
    return c;
}

blk_linear bert_dense(const vt_bert *b, const float *W, const float *bias, float *dW, float *db, int64_t in,
                      int64_t out) {
    const vt_bf16 *W16 = b->params16 ? b->params16 + (W - b->params) : NULL;
    if (b->input_grads_only) dW = db = NULL;
    return (blk_linear){.W = W, .b = bias, .W16 = W16, .W8 = bert_int8_find(b, W), .dW = dW, .db = db, .in = in,
                        .out = out};
}

void bert_refresh_params16(vt_bert *b) {
    if (b->precision != VT_PRECISION_BF16 || b->params16_fresh) return;
    vt_f32_to_bf16(b->params, b->params16, b->n_floats);
    b->params16_fresh = true;
}

/* What a padded and a packed batch ask of the heads alike: cls_only where
 * the model has a first-token reader, labels its task head takes. */
static vt_status check_heads(const vt_bert *b, const vt_bert_batch *in) {
    const vt_bert_config *c = &b->cfg;
    if (in->cls_only && c->arch != VT_BERT_MODEL && c->arch != VT_BERT_FOR_SEQUENCE_CLASSIFICATION)
        return vt_error(VT_ERR_INVALID_ARG, "cls_only needs a BertModel or a sequence classifier, not %s",
                        vt_bert_config_arch_name(c));
    vt_bert_problem problem;
    return bert_task_check(b, in, &problem);
}

/* A packed batch's extra rules (see vt_bert_batch.offsets); *probs the sum of
 * its squared lengths (the attention probabilities' elements per head). */
static vt_status check_packed(const vt_bert *b, const vt_bert_batch *in, int64_t *probs) {
    const vt_bert_config *c = &b->cfg;
    if (in->batch < 1 || !in->input_ids)
        return vt_error(VT_ERR_INVALID_ARG, "a packed BERT batch needs input_ids and a positive batch");
    if (in->attention_mask || in->position_ids || in->embedding_output || in->one_product || in->mlm_labels ||
        in->mlm_select || in->nsp_labels || in->start_positions || in->end_positions)
        return vt_error(VT_ERR_INVALID_ARG, "a packed batch takes token ids alone (no mask, position ids, given "
                                            "embeddings, one product, pretraining or question-answering labels)");
    if (b->w.mlm_w || b->w.nsp_w)
        return vt_error(VT_ERR_INVALID_ARG, "%s: packed batches run the task heads and the base model, not the "
                                            "pretraining heads", vt_bert_config_arch_name(c));
    if (in->offsets[0] != 0) return vt_error(VT_ERR_INVALID_ARG, "packed batch: offsets[0] is %lld, not 0",
                                             (long long)in->offsets[0]);
    *probs = 0;
    for (int64_t i = 0; i < in->batch; i++) {
        int64_t n = in->offsets[i + 1] - in->offsets[i];
        if (n < 1 || n > vt_bert_max_length(c))
            return vt_error(VT_ERR_INVALID_ARG, "packed batch: sequence %lld has %lld tokens, not 1 to the model's %d",
                            (long long)i, (long long)n, vt_bert_max_length(c));
        *probs += n * n;
    }
    return check_heads(b, in);
}

static vt_status check_batch(const vt_bert *b, const vt_bert_batch *in) {
    const vt_bert_config *c = &b->cfg;
    if (in->offsets) return VT_OK; /* (check_packed) */
    if (in->batch < 1 || in->seq_len < 1 || !in->input_ids)
        return vt_error(VT_ERR_INVALID_ARG, "a BERT batch needs input_ids and positive batch and length");
    if (in->seq_len > vt_bert_max_length(c))
        return vt_error(VT_ERR_INVALID_ARG, "sequence length %lld exceeds the model's %d positions%s",
                        (long long)in->seq_len, vt_bert_max_length(c),
                        bert_family(c->family)->positions_after_padding
                            ? " (max_position_embeddings less pad_token_id + 1)"
                            : " (max_position_embeddings)");
    if ((in->mlm_labels || in->nsp_labels) && c->arch != VT_BERT_FOR_PRETRAINING &&
        !(c->arch == VT_BERT_FOR_MASKED_LM && !in->nsp_labels))
        return vt_error(VT_ERR_INVALID_ARG, "%s has no pretraining heads for MLM/NSP labels", vt_bert_config_arch_name(c));
    return check_heads(b, in);
}

static vt_status forward_planned(vt_bert *b, const vt_bert_batch *in, bool training, uint64_t seed,
                                 const vt_bert_loss_norm *norm, vt_bert_outputs *out);

vt_status vt_bert_forward(vt_bert *b, const vt_bert_batch *in, bool training, uint64_t seed, vt_bert_outputs *out) {
    return vt_bert_forward_ex(b, in, training, seed, NULL, out);
}

vt_status vt_bert_forward_ex(vt_bert *b, const vt_bert_batch *in, bool training, uint64_t seed,
                             const vt_bert_loss_norm *norm, vt_bert_outputs *out) {
    memset(out, 0, sizeof *out);
    out->loss = out->mlm_loss = out->nsp_loss = NAN;
    if (training && b->precision == VT_PRECISION_INT8)
        return vt_error(VT_ERR_UNSUPPORTED, "int8 models are for inference; train in fp32 or bf16 and quantize the "
                                            "result (verto quantize)");
    vt_status st = check_batch(b, in);
    if (st != VT_OK) return st;
    int64_t P = b->w.mlm_w && !in->offsets ? bert_mlm_positions(in, NULL, NULL) : 0, probs = 0;
    if (in->offsets) {
        if ((st = check_packed(b, in, &probs)) != VT_OK) return st;
        st = bert_plan_rows(b, in->batch, bert_token_rows(in), probs, 0);
    } else {
        st = bert_plan(b, in->batch, in->seq_len, P);
    }
    if (st != VT_OK) return st;
    b->mlm_p = P;
    b->packed_offsets = in->offsets; /* (kept for the backward) */
    b->packed_batch = in->batch;
    if ((st = forward_planned(b, in, training, seed, norm, out)) != VT_OK) b->packed_offsets = NULL;
    return st;
}

/* The forward once the batch is checked and its activations planned. */
static vt_status forward_planned(vt_bert *b, const vt_bert_batch *in, bool training, uint64_t seed,
                                 const vt_bert_loss_norm *norm, vt_bert_outputs *out) {
    const vt_bert_config *c = &b->cfg;
    vt_status st;
    bert_refresh_params16(b);
    int64_t L = c->num_hidden_layers;
    b->last_cls_only = in->cls_only && L > 0;
    b->last_training = training; /* (the blocks read it, and last.one_product) */
    b->last.one_product = in->one_product;
    b->last_has_loss = false;    /* (until this forward succeeds) */
    b->kept_ready = false;       /* (book-keeping's store is of the activations being replaced) */
    float drop = training ? c->hidden_dropout_prob : 0, attn_drop = training ? c->attention_probs_dropout_prob : 0;
    if ((st = bert_embeddings_forward(b, in, drop, seed)) != VT_OK) return st;
    for (int64_t l = 0; l < L; l++)
        if ((st = bert_layer_forward(b, l, in, drop, attn_drop, seed, b->last_cls_only && l == L - 1)) != VT_OK)
            return st;
    out->embedding_output = b->emb_out;
    out->position_ids = b->pos_ids;
    out->last_hidden_state = L ? b->acts[L - 1].norm2.out : b->emb_out;
    if ((st = bert_heads_forward(b, in, training, seed, norm, out)) != VT_OK) return st;
    b->last = *in;
    b->last_seed = seed;
    b->last_has_loss = !isnan(out->loss);
    if (b->last_has_loss && !isfinite(out->loss)) return vt_error(VT_ERR_NUMERIC, "BERT loss is %g", out->loss);
    return VT_OK;
}

vt_status vt_bert_backward(vt_bert *b, bool accumulate) { return vt_bert_backward_ex(b, accumulate, NULL, NULL); }

vt_status vt_bert_backward_ex(vt_bert *b, bool accumulate, vt_bert_grad_ready_fn ready, void *ctx) {
    if (!b->planned || !b->last_has_loss)
        return vt_error(VT_ERR_STATE, "vt_bert_backward needs a forward with labels first");
    const vt_bert_config *c = &b->cfg;
    if (!accumulate) memset(b->grads, 0, (size_t)b->n_floats * sizeof(float));
    float drop = b->last_training ? c->hidden_dropout_prob : 0;
    float attn_drop = b->last_training ? c->attention_probs_dropout_prob : 0;
    /* The flat layout (params.c): embeddings, layer 0 .. L-1, then the heads. */
    int64_t L = c->num_hidden_layers, H = c->hidden_size;
    int64_t heads_at = (L ? b->w.layers[L - 1].ln2_b : b->w.emb_ln_b) + H - b->params;
    vt_status st = bert_heads_backward(b);
    if (st != VT_OK) return st;
    if (ready && heads_at < b->n_floats) ready(ctx, heads_at, b->n_floats - heads_at);
    for (int64_t l = L - 1; l >= 0; l--) {
        if (l < b->frozen_layers) return VT_OK; /* nothing below needs gradients */
        if ((st = bert_layer_backward(b, l, drop, attn_drop, b->last_cls_only && l == L - 1)) != VT_OK) return st;
        int64_t lo = b->w.layers[l].qkv_w - b->params, hi = l + 1 < L ? b->w.layers[l + 1].qkv_w - b->params : heads_at;
        if (ready) ready(ctx, lo, hi - lo);
    }
    if (b->frozen_layers == 0 && !b->last.embedding_output) { /* (given embeddings have no parameters below) */
        if ((st = bert_embeddings_backward(b, drop)) != VT_OK) return st;
        if (ready) ready(ctx, 0, L ? b->w.layers[0].qkv_w - b->params : heads_at);
    }
    return VT_OK;
}

vt_status vt_bert_input_gradient(vt_bert *b, const float *d_logits, float *d_embedding_output) {
    const vt_bert_config *c = &b->cfg;
    if (!b->planned || !b->last.input_ids || b->last.offsets)
        return vt_error(VT_ERR_STATE, "vt_bert_input_gradient needs a forward (not packed) first");
    if (!b->w.cls_w)
        return vt_error(VT_ERR_INVALID_ARG, "%s has no task head to take the gradient of",
                        vt_bert_config_arch_name(c));
    memcpy(b->d_logits, d_logits, (size_t)(b->cls_rows * c->num_labels) * sizeof(float));
    float drop = b->last_training ? c->hidden_dropout_prob : 0;
    float attn_drop = b->last_training ? c->attention_probs_dropout_prob : 0;
    b->input_grads_only = true;
    vt_status st = bert_heads_backward(b);
    for (int64_t l = c->num_hidden_layers - 1; st == VT_OK && l >= 0; l--)
        st = bert_layer_backward(b, l, drop, attn_drop, b->last_cls_only && l == c->num_hidden_layers - 1);
    b->input_grads_only = false;
    if (st != VT_OK) return st;
    /* d_hidden is now the gradient of layer 0's input: the embeddings' output */
    memcpy(d_embedding_output, b->d_hidden, (size_t)(b->last.batch * b->last.seq_len * c->hidden_size) * sizeof(float));
    return VT_OK;
}

const float *vt_bert_attention_probs(const vt_bert *b, int64_t layer) {
    if (!b->planned || layer < 0 || layer >= b->cfg.num_hidden_layers) return NULL;
    if ((b->last_cls_only && layer == b->cfg.num_hidden_layers - 1) || b->last.offsets) return NULL;
    return b->acts[layer].attn.probs;
}
