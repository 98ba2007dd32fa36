/* int8 precision of a BERT-family model: its dense weights' codes and
 * scales (verto/int8.h), their place among the Hugging Face parameters, and
 * how they are read from and written to a model directory.
 *
 * Quantized: every encoder layer's query, key and value (one fused (3H, H)
 * matrix here, three tensors on disk), attention output, FFN up and down; in
 * f32: the embeddings, LayerNorms, softmax, the pooler (DistilBERT's
 * pre_classifier), the MLM and NSP heads and the final classifier. The pooler
 * runs on one row per sequence, so int8 would save nothing there, and
 * quantizing it measurably added error (tests/ref/gen_int8.py's models: the
 * largest logit error against fp32 0.045 -> 0.052 for BERT, 0.011 -> 0.025 for
 * DistilBERT). On disk each quantized weight is `<name>` as I8 (out, in) and
 * `<name>_scale` as F32 (out); the f32 parameters keep the dequantized values
 * (code * scale), so anything reading parameters sees what the codes mean. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert_internal.h"

struct bert_int8 {
    int8_t *q;          /* every matrix's codes, one after another */
    float *scale;       /* (total rows) */
    int32_t *row_sum;   /* (total rows) */
    uint8_t *row_read;  /* (total rows) while loading: the row came from an I8 tensor */
    bert_int8_mat *mats;
    size_t n;
    int64_t rows;
};

/* The quantized matrices: W (out, in) each. */
static size_t list_mats(const vt_bert *b, bert_int8_mat *m) {
    const vt_bert_config *c = &b->cfg;
    int64_t H = c->hidden_size, I = c->intermediate_size;
    size_t n = 0;
#define ADD(ptr, o, i) \
    do { \
        if (m) m[n] = (bert_int8_mat){.W = (ptr), .w = {.out = (o), .in = (i)}}; \
        n++; \
    } while (0)
    for (int64_t l = 0; l < c->num_hidden_layers; l++) {
        const bert_layer_params *p = &b->w.layers[l];
        ADD(p->qkv_w, 3 * H, H);
        ADD(p->attn_out_w, H, H);
        ADD(p->inter_w, I, H);
        ADD(p->out_w, H, I);
    }
#undef ADD
    return n;
}

void bert_int8_free(bert_int8 *q) {
    if (!q) return;
    for (size_t i = 0; q->mats && i < q->n; i++) vt_int8_packed_free((vt_int8_packed *)q->mats[i].w.packed);
    free(q->q);
    free(q->scale);
    free(q->row_sum);
    free(q->row_read);
    free(q->mats);
    free(q);
}

/* The layout for b with buffers allocated (codes not yet set); NULL with vt_error set. */
static bert_int8 *alloc_int8(const vt_bert *b) {
    bert_int8 *q = calloc(1, sizeof *q);
    size_t n = list_mats(b, NULL);
    if (!q || !(q->mats = calloc(n ? n : 1, sizeof *q->mats))) goto nomem;
    q->n = list_mats(b, q->mats);
    int64_t codes = 0;
    for (size_t i = 0; i < q->n; i++) {
        codes += q->mats[i].w.out * q->mats[i].w.in;
        q->rows += q->mats[i].w.out;
    }
    if (!(q->q = malloc((size_t)codes + 1)) || !(q->scale = malloc((size_t)q->rows * sizeof(float) + 1)) ||
        !(q->row_sum = malloc((size_t)q->rows * sizeof(int32_t) + 1)) || !(q->row_read = calloc((size_t)q->rows + 1, 1)))
        goto nomem;
    int64_t at = 0, row = 0;
    for (size_t i = 0; i < q->n; i++) {
        vt_int8_weights *w = &q->mats[i].w;
        w->q = q->q + at;
        w->scale = q->scale + row;
        w->row_sum = q->row_sum + row;
        at += w->out * w->in;
        row += w->out;
    }
    return q;
nomem:
    bert_int8_free(q);
    vt_error(VT_ERR_NOMEM, "out of memory for the int8 weights");
    return NULL;
}

/* Every matrix's codes laid out for oneDNN's int8 kernel once they are all
 * set; where oneDNN refuses, that matrix keeps the per-call layout. */
static vt_status pack_all(bert_int8 *q) {
    for (size_t i = 0; i < q->n; i++) {
        vt_int8_packed *p = NULL;
        vt_status st = vt_int8_pack(&q->mats[i].w, &p);
        if (st != VT_OK && st != VT_ERR_UNSUPPORTED) return st;
        q->mats[i].w.packed = p;
    }
    return VT_OK;
}

vt_status bert_int8_quantize(vt_bert *b) {
    bert_int8 *q = alloc_int8(b);
    if (!q) return vt_last_status();
    vt_status st = VT_OK;
    for (size_t i = 0; i < q->n && st == VT_OK; i++) {
        bert_int8_mat *m = &q->mats[i];
        int64_t row = m->w.scale - q->scale;
        st = vt_int8_quantize_weights(m->W, (int8_t *)m->w.q, q->scale + row, q->row_sum + row, m->w.out, m->w.in);
    }
    if (st == VT_OK) st = pack_all(q);
    if (st != VT_OK) {
        bert_int8_free(q);
        return st;
    }
    bert_int8_free(b->int8);
    b->int8 = q;
    return VT_OK;
}

const vt_int8_weights *bert_int8_find(const vt_bert *b, const float *W) {
    if (!b->int8 || b->precision != VT_PRECISION_INT8) return NULL;
    for (size_t i = 0; i < b->int8->n; i++)
        if (b->int8->mats[i].W == W) return &b->int8->mats[i].w;
    return NULL;
}

/* Parameter p's rows within a quantized matrix: the first row's index among
 * all rows (-1 if p is not part of one). */
static int64_t param_row(const bert_int8 *q, const vt_bert_param *p) {
    if (p->ndim != 2) return -1;
    for (size_t i = 0; i < q->n; i++) {
        const bert_int8_mat *m = &q->mats[i];
        if (p->data >= m->W && p->data < m->W + m->w.out * m->w.in && p->shape[1] == m->w.in)
            return (m->w.scale - q->scale) + (p->data - m->W) / m->w.in;
    }
    return -1;
}

bool bert_int8_param(const vt_bert *b, const vt_bert_param *p, const int8_t **codes, const float **scale) {
    if (!b->int8) return false;
    int64_t row = param_row(b->int8, p);
    if (row < 0) return false;
    const bert_int8_mat *m = b->int8->mats;
    while (row >= (m->w.scale - b->int8->scale) + m->w.out) m++;
    *codes = m->w.q + (row - (m->w.scale - b->int8->scale)) * m->w.in;
    *scale = b->int8->scale + row;
    return true;
}

vt_status bert_int8_load_tensor(vt_bert *b, const vt_st_file *f, const char *file, const vt_st_tensor *t,
                                vt_bert_param *p) {
    if (!b->int8 && !(b->int8 = alloc_int8(b))) return vt_last_status();
    bert_int8 *q = b->int8;
    int64_t row = param_row(q, p);
    if (row < 0)
        return vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" is I8, but verto keeps %s in f32 (int8 are the encoder "
                        "layers' dense weights)", file, t->name, p->name);
    if (t->ndim != 2 || t->shape[0] != p->shape[0] || t->shape[1] != p->shape[1])
        return vt_error(VT_ERR_SHAPE, "%s: tensor \"%s\" has %d dimensions [%lld, %lld] but the config gives [%lld, %lld]",
                        file, t->name, t->ndim, (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0),
                        (long long)p->shape[0], (long long)p->shape[1]);
    char name[300];
    snprintf(name, sizeof name, "%s_scale", t->name);
    const vt_st_tensor *s = vt_st_find(f, name);
    if (!s)
        return vt_error(VT_ERR_FORMAT, "%s: I8 tensor \"%s\" has no scales (\"%s\", F32 [%lld])", file, t->name, name,
                        (long long)p->shape[0]);
    if (s->dtype != VT_ST_F32 || s->ndim != 1 || s->shape[0] != p->shape[0])
        return vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" must be F32 [%lld] (one scale per output channel of \"%s\")",
                        file, name, (long long)p->shape[0], t->name);
    int64_t out = p->shape[0], in = p->shape[1];
    const bert_int8_mat *m = q->mats;
    while (row >= (m->w.scale - q->scale) + m->w.out) m++;
    int8_t *codes = (int8_t *)m->w.q + (row - (m->w.scale - q->scale)) * in;
    memcpy(codes, t->data, (size_t)(out * in));
    memcpy(q->scale + row, s->data, (size_t)out * sizeof(float));
    char what[400];
    snprintf(what, sizeof what, "%s: tensor \"%s\"", file, t->name);
    vt_status st = vt_int8_check_weights(codes, q->scale + row, q->row_sum + row, out, in, what);
    if (st != VT_OK) return st;
    for (int64_t o = 0; o < out; o++)
        for (int64_t k = 0; k < in; k++) p->data[o * in + k] = q->scale[row + o] * codes[o * in + k];
    memset(q->row_read + row, 1, (size_t)out);
    return VT_OK;
}

vt_status bert_int8_finish_load(vt_bert *b, const char *file) {
    bert_int8 *q = b->int8;
    if (!q) return VT_OK;
    for (size_t i = 0; i < b->n_params; i++) {
        int64_t row = param_row(q, &b->table[i]);
        if (row >= 0 && !q->row_read[row])
            return vt_error(VT_ERR_FORMAT, "%s: the directory holds I8 weights, but \"%s\" is not one of them (an int8 "
                            "directory stores every quantized dense weight as I8 with its _scale)", file,
                            b->table[i].name);
    }
    free(q->row_read);
    q->row_read = NULL;
    vt_status st = pack_all(q);
    if (st != VT_OK) return st;
    b->precision = VT_PRECISION_INT8;
    b->planned = false;
    return VT_OK;
}

const char *bert_int8_config_json(void) {
    return "{\"quant_method\": \"verto_int8\", \"weights\": {\"dtype\": \"int8\", \"bits\": 7, \"symmetric\": true, "
           "\"granularity\": \"per_output_channel\", \"scale_suffix\": \"_scale\"}, \"activations\": {\"dtype\": "
           "\"uint8\", \"bits\": 8, \"symmetric\": false, \"granularity\": \"per_row\", \"dynamic\": true}, "
           "\"modules\": [\"attention.query\", \"attention.key\", \"attention.value\", \"attention.output\", "
           "\"intermediate\", \"output\"], \"in_float32\": [\"embeddings\", \"LayerNorm\", \"softmax\", \"pooler\", "
           "\"classifier\", \"heads\"]}";
}
