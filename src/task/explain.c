/* Explanations of a sequence task's prediction: integrated gradients over the
 * embeddings' output and attention rollout (see verto/explain.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"
#include "verto/explain.h"

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
    for (int32_t i = 0; e->pieces && i < e->n_pieces; i++) free(e->pieces[i]);
    free(e->pieces);
    free(e->piece_ids);
    free(e->attributions);
    free(e->words);
    memset(e, 0, sizeof *e);
}

/* F, the explained output, from one row's logits (K), and (d_logits not
 * NULL) its gradient with respect to them times `weight`. */
static double explained(const vt_task *t, vt_explain_of of, int32_t target, const float *logits, double weight,
                        float *d_logits) {
    int K = t->cfg->num_labels;
    double F = logits[target];
    if (d_logits) memset(d_logits, 0, (size_t)K * sizeof *d_logits);
    if (of == VT_EXPLAIN_LOGIT || t->kind == VT_TASK_REGRESSION) {
        if (d_logits) d_logits[target] = (float)weight;
        return F;
    }
    if (t->kind == VT_TASK_MULTI_LABEL) { /* sigmoid: dF/dz = F (1 - F) */
        F = 1 / (1 + exp(-F));
        if (d_logits) d_logits[target] = (float)(weight * F * (1 - F));
        return F;
    }
    double p[VT_BERT_MAX_LABELS]; /* softmax: dp_t/dz_k = p_t (1[k = t] - p_k) */
    vt_task_probs(logits, 1, K, p);
    for (int k = 0; d_logits && k < K; k++) d_logits[k] = (float)(weight * p[target] * ((k == target) - p[k]));
    return p[target];
}

/* What the forwards of the path share: one row repeated. */
typedef struct path_batch {
    int64_t T, H, cap;               /* tokens, hidden size, rows allocated */
    int32_t *ids, *types, *positions;/* (cap, T) */
    float *emb, *d_emb;              /* (cap, T, H) */
    float *d_logits;                 /* (cap, K) */
} path_batch;

static void path_free(path_batch *p) {
    free(p->ids);
    free(p->types);
    free(p->positions);
    free(p->emb);
    free(p->d_emb);
    free(p->d_logits);
}

static vt_status path_alloc(path_batch *p, const vt_tok_encoding *row, const int32_t *positions, int64_t H,
                            int64_t cap, int K) {
    int64_t T = row->len;
    *p = (path_batch){.T = T, .H = H, .cap = cap};
    p->ids = malloc((size_t)(cap * T) * sizeof(int32_t));
    p->types = malloc((size_t)(cap * T) * sizeof(int32_t));
    p->positions = malloc((size_t)(cap * T) * sizeof(int32_t));
    p->emb = malloc((size_t)(cap * T * H) * sizeof(float));
    p->d_emb = malloc((size_t)(cap * T * H) * sizeof(float));
    p->d_logits = malloc((size_t)(cap * K) * sizeof(float));
    if (!p->ids || !p->types || !p->positions || !p->emb || !p->d_emb || !p->d_logits)
        return vt_error(VT_ERR_NOMEM, "out of memory for %lld path points of %lld tokens", (long long)cap, (long long)T);
    for (int64_t j = 0; j < cap; j++) {
        memcpy(p->ids + j * T, row->ids, (size_t)T * sizeof(int32_t));
        memcpy(p->types + j * T, row->type_ids, (size_t)T * sizeof(int32_t));
        memcpy(p->positions + j * T, positions, (size_t)T * sizeof(int32_t));
    }
    return VT_OK;
}

/* One forward of n rows of the path batch (ids or, emb given, those
 * embeddings); logits out. */
static vt_status path_forward(vt_task *t, path_batch *p, int64_t n, const int32_t *ids, bool given_emb, bool cls_only,
                              vt_bert_outputs *out) {
    vt_bert_batch batch = {.batch = n, .seq_len = p->T, .input_ids = ids ? ids : p->ids, .token_type_ids = p->types,
                           .position_ids = p->positions, .embedding_output = given_emb ? p->emb : NULL,
                           .cls_only = cls_only, .one_product = true};
    return vt_bert_forward(t->model, &batch, false, 0, out);
}

/* Integrated gradients: attr (T) and e's outputs. */
static vt_status integrated_gradients(vt_task *t, const vt_tok_encoding *row, const vt_explain_options *o,
                                      const float *input_logits, vt_explanation *e) {
    int K = t->cfg->num_labels;
    int64_t T = row->len, H = t->cfg->hidden_size, TH = T * H;
    int64_t chunk = o->internal_batch < 1 ? 1 : o->internal_batch > o->steps ? o->steps : o->internal_batch;
    double *alphas = malloc((size_t)o->steps * sizeof(double)), *weights = malloc((size_t)o->steps * sizeof(double));
    float *emb_x = malloc((size_t)TH * sizeof(float)), *emb_b = malloc((size_t)TH * sizeof(float));
    double *integral = calloc((size_t)TH, sizeof(double)); /* sum of weighted gradients along the path */
    int32_t *base_ids = malloc((size_t)T * sizeof(int32_t)), *positions = malloc((size_t)T * sizeof(int32_t));
    path_batch p = {0};
    vt_status st = VT_OK;
    if (!alphas || !weights || !emb_x || !emb_b || !integral || !base_ids || !positions)
        st = vt_error(VT_ERR_NOMEM, "out of memory explaining %lld tokens", (long long)T);
    if (st == VT_OK) st = vt_ig_rule_points(o->rule, o->steps, alphas, weights);
    vt_bert_outputs out;
    /* The input's embeddings and positions, then the baseline's at the same positions. */
    vt_bert_batch input = {.batch = 1, .seq_len = T, .input_ids = row->ids, .token_type_ids = row->type_ids,
                           .cls_only = true};
    if (st == VT_OK && (st = vt_bert_forward(t->model, &input, false, 0, &out)) == VT_OK) {
        memcpy(emb_x, out.embedding_output, (size_t)TH * sizeof(float));
        memcpy(positions, out.position_ids, (size_t)T * sizeof(int32_t));
        e->output = explained(t, o->of, e->target, input_logits, 1, NULL);
    }
    if (st == VT_OK) st = path_alloc(&p, row, positions, H, chunk, K);
    if (st == VT_OK) {
        for (int64_t i = 0; i < T; i++) base_ids[i] = row->special_mask[i] ? row->ids[i] : t->special.pad;
        if ((st = path_forward(t, &p, 1, base_ids, false, true, &out)) == VT_OK) {
            memcpy(emb_b, out.embedding_output, (size_t)TH * sizeof(float));
            e->baseline_output = explained(t, o->of, e->target, out.logits, 1, NULL);
        }
    }
    for (int64_t s0 = 0; st == VT_OK && s0 < o->steps; s0 += chunk) {
        int64_t n = o->steps - s0 < chunk ? o->steps - s0 : chunk;
        for (int64_t j = 0; j < n; j++) { /* baseline + alpha (input - baseline), in float as Captum */
            float a = (float)alphas[s0 + j], *dst = p.emb + j * TH;
            for (int64_t i = 0; i < TH; i++) dst[i] = emb_b[i] + a * (emb_x[i] - emb_b[i]);
        }
        if ((st = path_forward(t, &p, n, NULL, true, true, &out)) != VT_OK) break;
        for (int64_t j = 0; j < n; j++) /* the weight folded into the gradient's seed */
            explained(t, o->of, e->target, out.logits + j * K, weights[s0 + j], p.d_logits + j * K);
        if ((st = vt_bert_input_gradient(t->model, p.d_logits, p.d_emb)) != VT_OK) break;
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < TH; i++) integral[i] += p.d_emb[j * TH + i];
    }
    double total = 0;
    for (int64_t r = 0; st == VT_OK && r < T; r++) {
        double a = 0;
        for (int64_t h = 0; h < H; h++) a += (double)(emb_x[r * H + h] - emb_b[r * H + h]) * integral[r * H + h];
        e->attributions[r] = a;
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

/* Attention rollout: [CLS]'s row of prod_l (A_l + I) / 2, A_l the heads' mean
 * attention of layer l, applied from the first layer up. */
static vt_status rollout(vt_task *t, const vt_tok_encoding *row, vt_explanation *e) {
    int64_t T = row->len, L = t->cfg->num_hidden_layers, heads = t->cfg->num_attention_heads;
    vt_bert_batch input = {.batch = 1, .seq_len = T, .input_ids = row->ids, .token_type_ids = row->type_ids};
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

/* The pieces' strings and the words' summed attributions (character offsets). */
static vt_status describe(const vt_task *t, const vt_text_input *in, const vt_tok_encoding *row, vt_explanation *e) {
    int32_t T = row->len;
    const vt_wp_vocab *vocab = vt_tok_vocab(t->tok);
    for (int32_t i = 0; i < T; i++) {
        const char *s = vt_wp_vocab_token(vocab, row->ids[i]);
        e->piece_ids[i] = row->ids[i];
        if (!(e->pieces[i] = strdup(s ? s : ""))) return vt_error(VT_ERR_NOMEM, "out of memory");
    }
    int32_t *offsets = malloc((size_t)T * 2 * sizeof(int32_t));
    if (!offsets) return vt_error(VT_ERR_NOMEM, "out of memory");
    memcpy(offsets, row->offsets, (size_t)T * 2 * sizeof(int32_t));
    for (int seg = 0; seg < 2; seg++) { /* each text's byte offsets to its characters */
        const char *text = seg ? in->text_b : in->text;
        size_t len = seg ? in->text_b_len : in->text_len;
        for (int32_t i = 0; text && i < T; i++)
            if (row->seq[i] == seg) vt_tok_offsets_to_chars(text, len, offsets + 2 * i, 2);
    }
    for (int32_t i = 0; i < T; i++) {
        if (row->word_ids[i] < 0) continue;
        vt_explained_word *w = e->n_words ? &e->words[e->n_words - 1] : NULL;
        if (i > 0 && w && row->word_ids[i] == row->word_ids[i - 1] && row->seq[i] == row->seq[i - 1]) {
            w->end = offsets[2 * i + 1];
            w->byte_end = row->offsets[2 * i + 1];
            w->attribution += e->attributions[i];
            continue;
        }
        e->words[e->n_words++] = (vt_explained_word){.segment = row->seq[i], .start = offsets[2 * i],
                                                     .end = offsets[2 * i + 1], .byte_start = row->offsets[2 * i],
                                                     .byte_end = row->offsets[2 * i + 1],
                                                     .attribution = e->attributions[i]};
    }
    free(offsets);
    return VT_OK;
}

static vt_status check_options(const vt_task *t, const vt_explain_options *o) {
    if (!vt_task_kind_is_sequence(t->kind))
        return vt_error(VT_ERR_INVALID_ARG, "explanations are for sequence tasks (a class, labels or a score), not %s",
                        vt_task_kind_name(t->kind));
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
    if (opt) o = *opt;
    else vt_explain_options_default(&o);
    vt_status st = check_options(t, &o);
    if (st != VT_OK) return st;
    vt_task_rows rows = {0};
    if ((st = vt_task_encode(t, VT_OUT_LOGITS, in, &rows)) != VT_OK) return st;
    if (rows.n != 1) {
        vt_task_rows_free(&rows);
        return vt_error(VT_ERR_INVALID_ARG,
                        "this model reads a long text as %d windows; explanations read one (at most %d tokens)",
                        rows.n, t->max_len);
    }
    const vt_tok_encoding *row = &rows.rows[0];
    int32_t T = row->len;
    e->n_pieces = T;
    e->piece_ids = calloc((size_t)T, sizeof(int32_t));
    e->pieces = calloc((size_t)T, sizeof(char *));
    e->attributions = calloc((size_t)T, sizeof(double));
    e->words = calloc((size_t)T, sizeof(vt_explained_word));
    if (!e->piece_ids || !e->pieces || !e->attributions || !e->words)
        st = vt_error(VT_ERR_NOMEM, "out of memory explaining %d tokens", T);
    float logits[VT_BERT_MAX_LABELS];
    float *out[1] = {logits};
    const vt_tok_encoding *run_rows[1] = {row};
    if (st == VT_OK) st = vt_task_run(t, VT_OUT_LOGITS, run_rows, 1, out);
    double scores[VT_BERT_MAX_LABELS];
    int best = st == VT_OK ? vt_task_scores(t, logits, 1, scores) : 0;
    if (st == VT_OK && best < 0) st = vt_error(VT_ERR_NUMERIC, "the model's outputs are not finite");
    if (st == VT_OK) {
        e->target = o.target >= 0 ? o.target : t->kind == VT_TASK_REGRESSION ? 0 : best;
        e->probability = scores[e->target];
        e->output = e->baseline_output = e->delta = NAN;
        st = o.method == VT_EXPLAIN_ROLLOUT ? rollout(t, row, e) : integrated_gradients(t, row, &o, logits, e);
    }
    if (st == VT_OK) st = describe(t, in, row, e);
    vt_task_rows_free(&rows);
    return st;
}
