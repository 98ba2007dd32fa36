/* Explanations (see verto/explain.h): the core every task shares — a row,
 * an objective, integrated gradients over the embeddings' output, attention
 * rollout, the pieces and words described (explain_internal.h) — and the
 * sequence tasks' entry point; entities and answers are explain_tasks.c's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task/explain_internal.h"

void vt_explain_options_default(vt_explain_options *o) {
    *o = (vt_explain_options){.method = VT_EXPLAIN_INTEGRATED_GRADIENTS,
                              .rule = VT_IG_GAUSS_LEGENDRE,
                              .steps = 50,
                              .of = VT_EXPLAIN_LOGIT,
                              .target = -1,
                              .internal_batch = 16,
                              .delta_tolerance = 0.05};
}

void vt_explanation_free(vt_explanation *e) {
    free(e->target_name);
    for (int32_t i = 0; e->pieces && i < e->n_pieces; i++) free(e->pieces[i]);
    free(e->pieces);
    free(e->piece_ids);
    free(e->attributions);
    free(e->words);
    memset(e, 0, sizeof *e);
}

/* A sequence's F: the target's logit, probability (softmax), sigmoid (multi-label) or value. */
static double sequence_value(const explain_objective *ob, const float *logits, double weight, float *d) {
    const vt_task *t = ob->t;
    int K = ob->K, target = ob->target;
    double F = logits[target];
    if (d) memset(d, 0, (size_t)K * sizeof *d);
    if (ob->of == VT_EXPLAIN_LOGIT || t->kind == VT_TASK_REGRESSION) {
        if (d) d[target] = (float)weight;
        return F;
    }
    if (t->kind == VT_TASK_MULTI_LABEL) { /* sigmoid: dF/dz = F (1 - F) */
        F = 1 / (1 + exp(-F));
        if (d) d[target] = (float)(weight * F * (1 - F));
        return F;
    }
    double p[VT_BERT_MAX_LABELS]; /* softmax: dp_t/dz_k = p_t (1[k = t] - p_k) */
    vt_task_probs(logits, 1, K, p);
    for (int k = 0; d && k < K; k++) d[k] = (float)(weight * p[target] * ((k == target) - p[k]));
    return p[target];
}

/* What the forwards of the path share: one row repeated. */
typedef struct path_batch {
    int64_t T, H, cap;               /* tokens, hidden size, rows allocated */
    int32_t *ids, *types, *positions;/* (cap, T) */
    float *emb, *d_emb;              /* (cap, T, H) */
    float *d_out;                    /* (cap, row outputs) */
} path_batch;

static void path_free(path_batch *p) {
    free(p->ids);
    free(p->types);
    free(p->positions);
    free(p->emb);
    free(p->d_emb);
    free(p->d_out);
}

static vt_status path_alloc(path_batch *p, const explain_row *r, const int32_t *positions, int64_t H, int64_t cap,
                            size_t row_floats) {
    int64_t T = r->T;
    *p = (path_batch){.T = T, .H = H, .cap = cap};
    p->ids = malloc((size_t)(cap * T) * sizeof(int32_t));
    p->types = malloc((size_t)(cap * T) * sizeof(int32_t));
    p->positions = malloc((size_t)(cap * T) * sizeof(int32_t));
    p->emb = malloc((size_t)(cap * T * H) * sizeof(float));
    p->d_emb = malloc((size_t)(cap * T * H) * sizeof(float));
    p->d_out = malloc((size_t)cap * row_floats * sizeof(float));
    if (!p->ids || !p->types || !p->positions || !p->emb || !p->d_emb || !p->d_out)
        return vt_error(VT_ERR_NOMEM, "out of memory for %lld path points of %lld tokens", (long long)cap, (long long)T);
    for (int64_t j = 0; j < cap; j++) {
        memcpy(p->ids + j * T, r->ids, (size_t)T * sizeof(int32_t));
        memcpy(p->types + j * T, r->types, (size_t)T * sizeof(int32_t));
        memcpy(p->positions + j * T, positions, (size_t)T * sizeof(int32_t));
    }
    return VT_OK;
}

/* One forward of n rows of the path batch: the given ids, or (ids NULL) the
 * path's embeddings. One product over the batch: the points are ours alone. */
static vt_status path_forward(vt_task *t, path_batch *p, int64_t n, const int32_t *ids, bool cls_only,
                              vt_bert_outputs *out) {
    vt_bert_batch batch = {.batch = n, .seq_len = p->T, .input_ids = ids ? ids : p->ids, .token_type_ids = p->types,
                           .position_ids = p->positions, .embedding_output = ids ? NULL : p->emb,
                           .cls_only = cls_only, .one_product = true};
    return vt_bert_forward(t->model, &batch, false, 0, out);
}

vt_status explain_integrated(vt_task *t, const explain_row *r, const vt_explain_options *o,
                             const explain_objective *ob, vt_explanation *e) {
    int64_t T = r->T, H = t->cfg->hidden_size, TH = T * H;
    size_t row_floats = (size_t)(ob->cls_only ? 1 : T) * (size_t)ob->K;
    int64_t chunk = o->internal_batch < 1 ? 1 : o->internal_batch > o->steps ? o->steps : o->internal_batch;
    double *alphas = malloc((size_t)o->steps * sizeof(double)), *weights = malloc((size_t)o->steps * sizeof(double));
    float *emb_x = malloc((size_t)TH * sizeof(float)), *emb_b = malloc((size_t)TH * sizeof(float));
    double *integral = calloc((size_t)TH, sizeof(double)); /* the weighted gradients summed along the path */
    int32_t *base_ids = malloc((size_t)T * sizeof(int32_t)), *positions = malloc((size_t)T * sizeof(int32_t));
    path_batch p = {0};
    vt_status st = VT_OK;
    if (!alphas || !weights || !emb_x || !emb_b || !integral || !base_ids || !positions)
        st = vt_error(VT_ERR_NOMEM, "out of memory explaining %lld tokens", (long long)T);
    if (st == VT_OK) st = vt_ig_rule_points(o->rule, o->steps, alphas, weights);
    vt_bert_outputs out;
    /* The input's embeddings and positions, then the baseline's at the same positions. */
    vt_bert_batch input = {.batch = 1, .seq_len = T, .input_ids = r->ids, .token_type_ids = r->types,
                           .cls_only = ob->cls_only};
    if (st == VT_OK && (st = vt_bert_forward(t->model, &input, false, 0, &out)) == VT_OK) {
        memcpy(emb_x, out.embedding_output, (size_t)TH * sizeof(float));
        memcpy(positions, out.position_ids, (size_t)T * sizeof(int32_t));
        e->output = ob->value(ob, out.logits, 1, NULL);
    }
    if (st == VT_OK) st = path_alloc(&p, r, positions, H, chunk, row_floats);
    if (st == VT_OK) {
        for (int64_t i = 0; i < T; i++) base_ids[i] = r->special[i] ? r->ids[i] : t->special.pad;
        if ((st = path_forward(t, &p, 1, base_ids, ob->cls_only, &out)) == VT_OK) {
            memcpy(emb_b, out.embedding_output, (size_t)TH * sizeof(float));
            e->baseline_output = ob->value(ob, out.logits, 1, NULL);
        }
    }
    for (int64_t s0 = 0; st == VT_OK && s0 < o->steps; s0 += chunk) {
        int64_t n = o->steps - s0 < chunk ? o->steps - s0 : chunk;
        for (int64_t j = 0; j < n; j++) { /* baseline + alpha (input - baseline), in float as Captum */
            float a = (float)alphas[s0 + j], *dst = p.emb + j * TH;
            for (int64_t i = 0; i < TH; i++) dst[i] = emb_b[i] + a * (emb_x[i] - emb_b[i]);
        }
        if ((st = path_forward(t, &p, n, NULL, ob->cls_only, &out)) != VT_OK) break;
        for (int64_t j = 0; j < n; j++) /* the weight folded into the gradient's seed */
            ob->value(ob, out.logits + (size_t)j * row_floats, weights[s0 + j], p.d_out + (size_t)j * row_floats);
        if ((st = vt_bert_input_gradient(t->model, p.d_out, p.d_emb)) != VT_OK) break;
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < TH; i++) integral[i] += p.d_emb[j * TH + i];
    }
    double total = 0;
    for (int64_t k = 0; st == VT_OK && k < T; k++) {
        double a = 0;
        for (int64_t h = 0; h < H; h++) a += (double)(emb_x[k * H + h] - emb_b[k * H + h]) * integral[k * H + h];
        e->attributions[k] = a;
        total += a;
    }
    if (st == VT_OK) {
        double change = e->output - e->baseline_output;
        e->delta = total - change;
        e->delta_flagged = fabs(e->delta) > o->delta_tolerance * fmax(fabs(change), 1e-3);
    }
    path_free(&p);
    free(alphas);
    free(weights);
    free(emb_x);
    free(emb_b);
    free(integral);
    free(base_ids);
    free(positions);
    return st;
}

/* [CLS]'s row of prod_l (A_l + I) / 2, A_l the heads' mean attention of
 * layer l, applied from the first layer up. */
vt_status explain_rollout(vt_task *t, const explain_row *r, vt_explanation *e) {
    int64_t T = r->T, L = t->cfg->num_hidden_layers, heads = t->cfg->num_attention_heads;
    vt_bert_batch input = {.batch = 1, .seq_len = T, .input_ids = r->ids, .token_type_ids = r->types};
    vt_bert_outputs out;
    vt_status st = vt_bert_forward(t->model, &input, false, 0, &out);
    if (st != VT_OK) return st;
    double *flow = malloc((size_t)T * sizeof(double)), *next = malloc((size_t)T * sizeof(double));
    if (!flow || !next) {
        free(flow);
        free(next);
        return vt_error(VT_ERR_NOMEM, "out of memory explaining %lld tokens", (long long)T);
    }
    /* Only [CLS]'s row of the product is wanted: carry it down from the last
     * layer, row' = row (A + I) / 2 at each layer from the top. */
    for (int64_t j = 0; j < T; j++) flow[j] = j == 0;
    for (int64_t l = L - 1; l >= 0; l--) {
        const float *probs = vt_bert_attention_probs(t->model, l); /* (1, heads, T, T) */
        for (int64_t k = 0; k < T; k++) next[k] = 0.5 * flow[k];
        for (int64_t q = 0; q < T; q++) {
            if (flow[q] == 0) continue;
            for (int64_t hd = 0; hd < heads; hd++) {
                const float *a = probs + (hd * T + q) * T;
                for (int64_t k = 0; k < T; k++) next[k] += 0.5 * flow[q] * a[k] / (double)heads;
            }
        }
        memcpy(flow, next, (size_t)T * sizeof(double));
    }
    memcpy(e->attributions, flow, (size_t)T * sizeof(double));
    e->delta = NAN;
    free(flow);
    free(next);
    return VT_OK;
}

vt_status explain_alloc(vt_explanation *e, int32_t T) {
    e->n_pieces = T;
    e->piece_ids = calloc((size_t)T, sizeof(int32_t));
    e->pieces = calloc((size_t)T, sizeof(char *));
    e->attributions = calloc((size_t)T, sizeof(double));
    e->words = calloc((size_t)T, sizeof(vt_explained_word));
    e->output = e->baseline_output = e->delta = NAN;
    if (!e->piece_ids || !e->pieces || !e->attributions || !e->words)
        return vt_error(VT_ERR_NOMEM, "out of memory explaining %d tokens", T);
    return VT_OK;
}

vt_status explain_describe(const vt_task *t, const explain_row *r, vt_explanation *e) {
    const vt_wp_vocab *vocab = vt_tok_vocab(t->tok);
    for (int32_t i = 0; i < r->T; i++) {
        const char *s = vt_wp_vocab_token(vocab, r->ids[i]);
        e->piece_ids[i] = r->ids[i];
        if (!(e->pieces[i] = strdup(s ? s : ""))) return vt_error(VT_ERR_NOMEM, "out of memory");
    }
    e->n_words = 0;
    for (int32_t i = 0; i < r->T; i++) { /* a word's pieces are consecutive */
        if (r->word[i] < 0 || r->seq[i] < 0) continue;
        vt_explained_word *w = e->n_words ? &e->words[e->n_words - 1] : NULL;
        if (i > 0 && w && r->word[i] == r->word[i - 1] && r->seq[i] == r->seq[i - 1]) {
            w->end = r->char_end[i];
            w->byte_end = r->byte_end[i];
            w->attribution += e->attributions[i];
            continue;
        }
        e->words[e->n_words++] = (vt_explained_word){.segment = r->seq[i], .start = r->char_start[i],
                                                     .end = r->char_end[i], .byte_start = r->byte_start[i],
                                                     .byte_end = r->byte_end[i], .attribution = e->attributions[i]};
    }
    return VT_OK;
}

vt_status explain_row_of(const vt_tok_encoding *enc, const vt_text_input *in, explain_row *r, int32_t **buf) {
    int32_t T = enc->len;
    if (!(*buf = malloc((size_t)T * 6 * sizeof(int32_t)))) return vt_error(VT_ERR_NOMEM, "out of memory");
    int32_t *chars = *buf, *cs = chars + 2 * T, *ce = cs + T, *bs = ce + T, *be = bs + T; /* chars: (T, 2) */
    memcpy(chars, enc->offsets, (size_t)T * 2 * sizeof(int32_t));
    for (int seg = 0; seg < 2; seg++) { /* each text's byte offsets to its characters */
        const char *text = seg ? in->text_b : in->text;
        size_t len = seg ? in->text_b_len : in->text_len;
        for (int32_t i = 0; text && i < T; i++)
            if (enc->seq[i] == seg) vt_tok_offsets_to_chars(text, len, chars + 2 * i, 2);
    }
    for (int32_t i = 0; i < T; i++) {
        cs[i] = chars[2 * i], ce[i] = chars[2 * i + 1];
        bs[i] = enc->offsets[2 * i], be[i] = enc->offsets[2 * i + 1];
    }
    *r = (explain_row){.T = T, .ids = enc->ids, .types = enc->type_ids, .special = enc->special_mask, .seq = enc->seq,
                       .word = enc->word_ids, .char_start = cs, .char_end = ce, .byte_start = bs, .byte_end = be};
    return VT_OK;
}

vt_status explain_options_for(const vt_task *t, const vt_explain_options *opt, vt_explain_options *o) {
    if (opt) *o = *opt;
    else vt_explain_options_default(o);
    if (!t->model)
        return vt_error(VT_ERR_INVALID_ARG, "a TF-IDF + logistic regression baseline is not explained by gradients: "
                                            "its weight per term is in its model.safetensors");
    if (o->target >= t->cfg->num_labels)
        return vt_error(VT_ERR_INVALID_ARG, "target %d is not a label id of this model (it has %d)", o->target,
                        t->cfg->num_labels);
    if (o->method == VT_EXPLAIN_INTEGRATED_GRADIENTS && (o->steps < 1 || o->steps > 100000))
        return vt_error(VT_ERR_INVALID_ARG, "steps must be in [1, 100000], not %d", o->steps);
    if (o->method != VT_EXPLAIN_INTEGRATED_GRADIENTS && o->method != VT_EXPLAIN_ROLLOUT)
        return vt_error(VT_ERR_INVALID_ARG, "unknown explanation method %d", (int)o->method);
    return VT_OK;
}

vt_status vt_task_explain(vt_task *t, const vt_text_input *in, const vt_explain_options *opt, vt_explanation *e) {
    memset(e, 0, sizeof *e);
    vt_explain_options o;
    vt_status st = explain_options_for(t, opt, &o);
    if (st != VT_OK) return st;
    if (!vt_task_kind_is_sequence(t->kind))
        return vt_error(VT_ERR_INVALID_ARG, "vt_task_explain explains sequence tasks (a class, labels or a score), not %s",
                        vt_task_kind_name(t->kind));
    vt_task_rows rows = {0};
    if ((st = vt_task_encode(t, VT_OUT_LOGITS, in, &rows)) != VT_OK) return st;
    if (rows.n != 1) {
        vt_task_rows_free(&rows);
        return vt_error(VT_ERR_INVALID_ARG,
                        "this model reads a long text as %d windows; explanations read one (at most %d tokens)",
                        rows.n, t->max_len);
    }
    const vt_tok_encoding *enc = &rows.rows[0];
    int32_t *buf = NULL;
    explain_row r;
    float logits[VT_BERT_MAX_LABELS];
    float *out[1] = {logits};
    double scores[VT_BERT_MAX_LABELS];
    if ((st = explain_alloc(e, enc->len)) == VT_OK) st = explain_row_of(enc, in, &r, &buf);
    if (st == VT_OK) st = vt_task_run(t, VT_OUT_LOGITS, &enc, 1, out);
    int best = st == VT_OK ? vt_task_scores(t, logits, 1, scores) : 0;
    if (st == VT_OK && best < 0) st = vt_error(VT_ERR_NUMERIC, "the model's outputs are not finite");
    if (st == VT_OK) {
        e->target = o.target >= 0 ? o.target : t->kind == VT_TASK_REGRESSION ? 0 : best;
        e->probability = scores[e->target];
        if (!(e->target_name = strdup(t->cfg->id2label[e->target]))) st = vt_error(VT_ERR_NOMEM, "out of memory");
    }
    explain_objective ob = {.value = sequence_value, .t = t, .of = o.of, .cls_only = true, .T = enc->len,
                            .K = t->cfg->num_labels, .target = e->target};
    if (st == VT_OK)
        st = o.method == VT_EXPLAIN_ROLLOUT ? explain_rollout(t, &r, e) : explain_integrated(t, &r, &o, &ob, e);
    if (st == VT_OK) st = explain_describe(t, &r, e);
    free(buf);
    vt_task_rows_free(&rows);
    return st;
}
