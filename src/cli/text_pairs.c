#include "cli/text_pairs.h"

#include "verto/serve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Lays out enc[0..count) as out's (count, T) arrays, T the longest. */
static vt_status layout(cli_batch *out, const vt_tok_encoding *enc, size_t count, int32_t pad) {
    int64_t T = 1;
    for (size_t i = 0; i < count; i++)
        if (enc[i].len > T) T = enc[i].len;
    size_t cells = count * (size_t)T;
    free(out->ids);
    free(out->types);
    free(out->mask);
    out->ids = calloc(cells, sizeof *out->ids);
    out->types = calloc(cells, sizeof *out->types);
    out->mask = calloc(cells, sizeof *out->mask);
    if (!out->ids || !out->types || !out->mask) return vt_error(VT_ERR_NOMEM, "out of memory encoding a batch");
    for (size_t i = 0; i < count; i++) {
        const vt_tok_encoding *e = &enc[i];
        for (int64_t t = 0; t < T; t++) {
            size_t k = i * (size_t)T + (size_t)t;
            bool real = t < e->len;
            out->ids[k] = real ? e->ids[t] : pad;
            out->types[k] = real ? e->type_ids[t] : 0;
            out->mask[k] = real ? e->attention_mask[t] : 0;
        }
    }
    out->B = (int64_t)count;
    out->T = T;
    return VT_OK;
}

/* Grows out->enc to hold n encodings. */
static vt_status reserve(cli_batch *out, size_t n) {
    if (n <= out->cap) return VT_OK;
    vt_tok_encoding *e = realloc(out->enc, n * sizeof *e);
    if (!e) return vt_error(VT_ERR_NOMEM, "out of memory encoding a batch");
    for (size_t i = out->cap; i < n; i++) vt_tok_encoding_init(&e[i]);
    out->enc = e;
    out->cap = n;
    return VT_OK;
}

vt_status cli_pair_batch_encode(cli_batch *out, const vt_tokenizer *tok, const char *const *a, const size_t *alen,
                                const char *const *b, const size_t *blen, size_t count, int32_t max_length) {
    vt_status st = reserve(out, count);
    if (st != VT_OK) return st;
    vt_tok_encode_opts o;
    vt_tok_encode_opts_default(&o);
    o.max_length = max_length;
    st = vt_tok_encode_batch(tok, count, a, alen, b, blen, &o, out->enc);
    return st == VT_OK ? layout(out, out->enc, count, vt_tok_special_ids(tok).pad) : st;
}

vt_status cli_classify(vt_bert *model, const vt_tokenizer *tok, size_t n, const char *const *a, const size_t *alen,
                       const char *const *b, const size_t *blen, size_t batch, int32_t max_length, double *probs) {
    const vt_bert_config *c = vt_bert_get_config(model);
    size_t K = (size_t)c->num_labels, W = (size_t)vt_tok_get_options(tok)->max_windows;
    if (c->arch != VT_BERT_FOR_SEQUENCE_CLASSIFICATION || K < 2)
        return vt_error(VT_ERR_INVALID_ARG, "the model is not a sequence classifier with 2 or more labels");
    if (batch < 1) batch = 1;
    /* `batch` inputs at a time: their windows (all of them, in input order)
     * run `batch` rows per forward pass; an input's probabilities come from
     * its windows' mean logits */
    cli_batch enc = {0}, rows = {0};
    int32_t *windows = malloc(batch * sizeof *windows);
    float *logits = malloc(batch * W * K * sizeof *logits); /* (rows, K) */
    vt_status st = windows && logits ? reserve(&enc, batch * W) : vt_error(VT_ERR_NOMEM, "out of memory classifying");
    for (size_t start = 0; st == VT_OK && start < n; start += batch) {
        size_t count = n - start < batch ? n - start : batch, used = 0;
        st = vt_tok_encode_windows_batch(tok, count, a + start, alen + start, b ? b + start : NULL,
                                         b ? blen + start : NULL, max_length, (int32_t)W, enc.enc, windows, NULL);
        for (size_t i = 0; st == VT_OK && i < count; i++) /* gather the windows to the front */
            for (int32_t j = 0; j < windows[i]; j++, used++) {
                vt_tok_encoding tmp = enc.enc[used];
                enc.enc[used] = enc.enc[i * W + (size_t)j];
                enc.enc[i * W + (size_t)j] = tmp;
            }
        for (size_t r = 0; st == VT_OK && r < used; r += batch) {
            size_t m = used - r < batch ? used - r : batch;
            st = layout(&rows, enc.enc + r, m, vt_tok_special_ids(tok).pad);
            vt_bert_outputs out;
            vt_bert_batch view = cli_batch_view(&rows);
            view.cls_only = true;
            if (st == VT_OK) st = vt_bert_forward(model, &view, false, 0, &out);
            if (st == VT_OK) memcpy(logits + r * K, out.logits, m * K * sizeof *logits);
        }
        for (size_t i = 0, r = 0; st == VT_OK && i < count; r += (size_t)windows[i++])
            if (vt_serve_softmax_mean(logits + r * K, windows[i], (int)K, probs + (start + i) * K) < 0)
                st = vt_error(VT_ERR_NUMERIC, "input %zu: the logits are not finite", start + i);
    }
    cli_batch_free(&enc);
    cli_batch_free(&rows);
    free(windows);
    free(logits);
    return st;
}

vt_status cli_load_classifier(const char *dir, vt_bert **model, vt_tokenizer **tok) {
    *model = NULL;
    *tok = NULL;
    vt_bert_load_info info;
    vt_bert *m = vt_bert_load_ex(dir, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 0, 0, &info);
    if (!m) return vt_last_status();
    const vt_bert_config *c = vt_bert_get_config(m);
    vt_status st = VT_OK;
    for (int i = 0; i < info.n_new && i < VT_BERT_LOAD_NOTES && st == VT_OK; i++)
        if (strstr(info.new_params[i], "classifier"))
            st = vt_error(VT_ERR_FORMAT, "%s has no trained classifier (%s is missing): fine-tune it first", dir,
                          info.new_params[i]);
    if (st == VT_OK && c->num_labels < 2)
        st = vt_error(VT_ERR_UNSUPPORTED, "%s has num_labels %d: a classifier with 2 or more labels is needed", dir,
                      c->num_labels);
    vt_tokenizer *t = st == VT_OK ? vt_tok_load(dir, NULL) : NULL;
    if (st == VT_OK && !t) st = vt_last_status();
    if (st != VT_OK) {
        vt_bert_free(m);
        return st;
    }
    *model = m;
    *tok = t;
    return VT_OK;
}

