/* Token classification: the words of tagged data labelled, entity metrics,
 * and the entities of raw text as the pipeline shapes them (see
 * verto/task.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/par_error.h"
#include "core/strbuf.h"
#include "task/task_internal.h"

vt_status task_encode_sentences(const vt_task *t, const vt_tagged *data, vt_tok_encoding *rows) {
    vt_par_error err = {0};
    vt_tok_encode_opts o;
    vt_tok_encode_opts_default(&o);
    o.max_length = t->max_len;
#pragma omp parallel for schedule(dynamic, 16)
    for (size_t s = 0; s < data->n; s++) {
        size_t first = data->start[s], words = data->start[s + 1] - first;
        vt_status st = vt_tok_encode_words(t->tok, (const char *const *)data->token + first, data->token_len + first,
                                           words, &o, &rows[s]);
        if (st != VT_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "sentence at line %lld: %s", (long long)data->line[s], vt_last_error());
            vt_par_error_keep(&err, (int64_t)s, vt_error(st, "%s", msg));
        }
    }
    return err.status == VT_OK ? VT_OK : vt_par_error_raise(&err);
}

/* The index of the largest of x (K), the first on ties (numpy's argmax). */
static int32_t argmax(const float *x, int K) {
    int32_t best = 0;
    for (int k = 1; k < K; k++)
        if (x[k] > x[best]) best = k;
    return best;
}

vt_status task_words_from_logits(const vt_task *t, const vt_tagged *data, const vt_tok_encoding *rows,
                                 float *const *logits, int32_t *pred) {
    int K = t->cfg->num_labels;
    int32_t *token_pred = NULL;
    size_t cap = 0;
    for (size_t s = 0; s < data->n; s++) {
        const vt_tok_encoding *e = &rows[s];
        if ((size_t)e->len > cap) {
            int32_t *p = realloc(token_pred, (size_t)e->len * sizeof *p);
            if (!p) {
                free(token_pred);
                return vt_error(VT_ERR_NOMEM, "out of memory for a sentence's predictions");
            }
            token_pred = p, cap = (size_t)e->len;
        }
        for (int32_t i = 0; i < e->len; i++) token_pred[i] = argmax(logits[s] + (size_t)i * (size_t)K, K);
        size_t first = data->start[s];
        vt_ner_first_token_per_word(e->word_ids, e->len, token_pred, pred + first, data->start[s + 1] - first);
    }
    free(token_pred);
    return VT_OK;
}

vt_status vt_task_tag_words(vt_task *t, const vt_tagged *data, int32_t *pred) {
    if (t->kind != VT_TASK_TOKEN_CLASSIFICATION)
        return vt_error(VT_ERR_INVALID_ARG, "tagging words needs a token classifier, not a %s task",
                        vt_task_kind_name(t->kind));
    size_t n = data->n, K = (size_t)t->cfg->num_labels;
    vt_tok_encoding *rows = calloc(n ? n : 1, sizeof *rows);
    const vt_tok_encoding **r = malloc((n ? n : 1) * sizeof *r);
    float **logits = calloc(n ? n : 1, sizeof *logits);
    vt_status st = rows && r && logits ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for %zu sentences", n);
    if (st == VT_OK) st = task_encode_sentences(t, data, rows);
    for (size_t s = 0; st == VT_OK && s < n; s++) {
        r[s] = &rows[s];
        if (!(logits[s] = malloc(((size_t)rows[s].len * K + 1) * sizeof **logits)))
            st = vt_error(VT_ERR_NOMEM, "out of memory for sentence %zu's logits", s + 1);
    }
    if (st == VT_OK) st = vt_task_run(t, VT_OUT_TOKENS, r, n, logits);
    if (st == VT_OK) st = task_words_from_logits(t, data, rows, logits, pred);
    for (size_t s = 0; rows && s < n; s++) vt_tok_encoding_free(&rows[s]);
    for (size_t s = 0; logits && s < n; s++) free(logits[s]);
    free(rows), free(r), free(logits);
    return st;
}

vt_status task_ner_metrics(const vt_task *t, const vt_tagged *data, int32_t *pred, vt_ner_mode mode,
                           vt_tag_scheme scheme, vt_ner_metrics *m) {
    const vt_bert_config *c = t->cfg;
    const char *labels[VT_BERT_MAX_LABELS];
    int32_t outside = -1; /* a word no row read is predicted "O" */
    for (int k = 0; k < c->num_labels; k++) {
        labels[k] = c->id2label[k];
        if (!strcmp(labels[k], "O")) outside = k;
    }
    for (size_t i = 0; i < data->n_tokens; i++)
        if (pred[i] < 0) {
            if (outside < 0) return vt_error(VT_ERR_INVALID_ARG, "a word was cut off and the labels have no \"O\"");
            pred[i] = outside;
        }
    return vt_ner_metrics_compute(labels, c->num_labels, data->tag, pred, data->start, data->n, mode, scheme, m);
}

vt_status vt_task_evaluate_ner(vt_task *t, const vt_tagged *data, vt_ner_mode mode, vt_tag_scheme scheme,
                               vt_ner_metrics *metrics) {
    if (!data->tag) return vt_error(VT_ERR_INVALID_ARG, "evaluation needs tagged data");
    int32_t *pred = malloc((data->n_tokens ? data->n_tokens : 1) * sizeof *pred);
    if (!pred) return vt_error(VT_ERR_NOMEM, "out of memory for %zu words", data->n_tokens);
    vt_status st = vt_task_tag_words(t, data, pred);
    if (st == VT_OK) st = task_ner_metrics(t, data, pred, mode, scheme, metrics);
    free(pred);
    return st;
}

/* ---- raw text ---- */

void vt_ner_text_free(vt_ner_text *x) {
    vt_tok_encoding_free(&x->enc);
    free(x->rows), free(x->from), free(x->width), free(x->buf);
    memset(x, 0, sizeof *x);
}

/* The windows of x->enc (pre leading and post trailing specials around n
 * text tokens): one if it fits, else windows of w = max_len - pre - post
 * tokens stepping by w / 2, the last ending at the text's end. Each row is
 * the leading specials, its tokens, the trailing specials. */
static vt_status make_windows(vt_ner_text *x, int32_t max_len) {
    const vt_tok_encoding *e = &x->enc;
    int32_t pre = 0, post = 0;
    while (pre < e->len && e->seq[pre] < 0) pre++;
    while (post < e->len - pre && e->seq[e->len - 1 - post] < 0) post++;
    int32_t n = e->len - pre - post, w = max_len - pre - post;
    if (w < 1) return vt_error(VT_ERR_INVALID_ARG, "max_seq_length %d leaves no room for text", max_len);
    int32_t step = w / 2 > 0 ? w / 2 : 1, m = n <= w ? 1 : 1 + (n - w + step - 1) / step;
    size_t row_cap = 2 * (size_t)(w + pre + post); /* ids, then type ids */
    x->pre = pre;
    x->n_rows = m;
    x->rows = calloc((size_t)m, sizeof *x->rows);
    x->from = malloc((size_t)m * sizeof *x->from);
    x->width = malloc((size_t)m * sizeof *x->width);
    x->buf = malloc((size_t)m * row_cap * sizeof *x->buf);
    if (!x->rows || !x->from || !x->width || !x->buf) return vt_error(VT_ERR_NOMEM, "out of memory for %d windows", m);
    for (int32_t j = 0; j < m; j++) {
        int32_t width = n < w ? n : w, from = j * step + width > n ? n - width : j * step;
        int32_t len = pre + width + post, *ids = x->buf + (size_t)j * row_cap, *types = ids + len;
        for (int32_t i = 0; i < len; i++) {
            int32_t src = i < pre ? i : i < pre + width ? pre + from + (i - pre) : e->len - post + (i - pre - width);
            ids[i] = e->ids[src];
            types[i] = e->type_ids[src];
        }
        x->from[j] = from, x->width[j] = width;
        x->rows[j] = (vt_tok_encoding){.len = len, .ids = ids, .type_ids = types};
    }
    return VT_OK;
}

vt_status vt_task_ner_encode(const vt_task *t, const char *text, size_t len, vt_ner_text *x) {
    memset(x, 0, sizeof *x);
    if (t->kind != VT_TASK_TOKEN_CLASSIFICATION)
        return vt_error(VT_ERR_INVALID_ARG, "entities need a token classifier, not a %s task", vt_task_kind_name(t->kind));
    vt_tok_encode_opts o;
    vt_tok_encode_opts_default(&o);
    vt_status st = vt_tok_encode(t->tok, text, len, NULL, 0, &o, &x->enc);
    return st == VT_OK ? make_windows(x, t->max_len) : st;
}

vt_status vt_task_ner_groups(const vt_task *t, const char *text, size_t len, const vt_ner_text *x,
                             const float *const *logits, vt_ner_aggregation agg, vt_ner_group **groups,
                             size_t *n_groups) {
    const vt_tok_encoding *e = &x->enc;
    int K = t->cfg->num_labels;
    const char *labels[VT_BERT_MAX_LABELS];
    for (int k = 0; k < K; k++) labels[k] = t->cfg->id2label[k];
    /* each token's softmax from the window where it is farthest from an edge (specials: the first window's) */
    float *probs = malloc(((size_t)e->len * (size_t)K + 1) * sizeof *probs);
    int32_t *depth = malloc(((size_t)e->len + 1) * sizeof *depth);
    if (!probs || !depth) {
        free(probs), free(depth);
        return vt_error(VT_ERR_NOMEM, "out of memory for a text's probabilities");
    }
    for (int32_t i = 0; i < e->len; i++) depth[i] = -1;
    for (int32_t j = 0; j < x->n_rows; j++)
        for (int32_t i = 0; i < x->rows[j].len; i++) {
            int32_t k = i - x->pre, w = x->width[j];
            bool in_text = k >= 0 && k < w;
            int32_t at = in_text ? x->pre + x->from[j] + k : i < x->pre ? i : e->len - (x->rows[j].len - i);
            int32_t d = in_text ? (k < w - 1 - k ? k : w - 1 - k) : 0;
            if (d <= depth[at]) continue;
            depth[at] = d;
            const float *z = logits[j] + (size_t)i * (size_t)K;
            double mx = z[0], sum = 0;
            for (int c = 1; c < K; c++) mx = fmax(mx, z[c]);
            for (int c = 0; c < K; c++) sum += exp(z[c] - mx);
            for (int c = 0; c < K; c++) probs[(size_t)at * (size_t)K + (size_t)c] = (float)(exp(z[c] - mx) / sum);
        }
    vt_status st = vt_ner_aggregate(t->tok, text, len, e, probs, K, labels, agg, NULL, 0, groups, n_groups);
    free(probs), free(depth);
    return st;
}

vt_status vt_task_entities(vt_task *t, const vt_text_input *in, size_t n, vt_ner_aggregation agg, vt_ner_group **groups,
                           size_t *n_groups) {
    memset(groups, 0, n * sizeof *groups);
    memset(n_groups, 0, n * sizeof *n_groups);
    size_t K = (size_t)t->cfg->num_labels;
    vt_status st = VT_OK;
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        if (in[i].text_b) st = vt_error(VT_ERR_INVALID_ARG, "input %zu: token classification reads one text", i + 1);
        vt_ner_text x;
        if (st == VT_OK) st = vt_task_ner_encode(t, in[i].text, in[i].text_len, &x);
        const vt_tok_encoding **rows = st == VT_OK ? malloc((size_t)x.n_rows * sizeof *rows) : NULL;
        float **logits = st == VT_OK ? calloc((size_t)x.n_rows, sizeof *logits) : NULL;
        if (st == VT_OK && (!rows || !logits)) st = vt_error(VT_ERR_NOMEM, "out of memory for input %zu", i + 1);
        for (int32_t j = 0; st == VT_OK && j < x.n_rows; j++) {
            rows[j] = &x.rows[j];
            if (!(logits[j] = malloc((size_t)x.rows[j].len * K * sizeof **logits)))
                st = vt_error(VT_ERR_NOMEM, "out of memory for input %zu's logits", i + 1);
        }
        if (st == VT_OK) st = vt_task_run(t, VT_OUT_TOKENS, rows, (size_t)x.n_rows, logits);
        if (st == VT_OK)
            st = vt_task_ner_groups(t, in[i].text, in[i].text_len, &x, (const float *const *)logits, agg, &groups[i],
                                    &n_groups[i]);
        for (int32_t j = 0; logits && j < x.n_rows; j++) free(logits[j]);
        free(rows), free(logits);
        vt_ner_text_free(&x);
    }
    if (st != VT_OK)
        for (size_t i = 0; i < n; i++) vt_ner_groups_free(groups[i], n_groups[i]), groups[i] = NULL, n_groups[i] = 0;
    return st;
}

vt_status vt_task_entities_json(const vt_ner_group *g, size_t n, vt_ner_aggregation agg, char **out) {
    bool tokens = agg == VT_NER_AGG_NONE;
    vt_sb b = {0};
    vt_sb_str(&b, "[");
    for (size_t i = 0; i < n; i++) {
        vt_sb_str(&b, i ? ", " : "");
        vt_sb_str(&b, tokens ? "{\"entity\": " : "{\"entity_group\": ");
        vt_sb_json_string(&b, g[i].entity_group);
        vt_sb_printf(&b, ", \"score\": %.8g, ", g[i].score);
        if (tokens) vt_sb_printf(&b, "\"index\": %d, ", g[i].first);
        vt_sb_str(&b, "\"word\": ");
        vt_sb_json_string(&b, g[i].word);
        vt_sb_printf(&b, ", \"start\": %d, \"end\": %d}", g[i].start, g[i].end);
    }
    vt_sb_str(&b, "]");
    if (!(*out = vt_sb_take(&b, NULL))) return vt_error(VT_ERR_NOMEM, "out of memory for entities");
    return VT_OK;
}
