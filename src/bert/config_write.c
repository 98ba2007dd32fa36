/* config.json written as transformers' save_pretrained writes it: the
 * family's model_type, class name and config keys (BertConfig's for BERT,
 * RoBERTa and XLM-RoBERTa, DistilBertConfig's for DistilBERT), sorted as
 * json.dumps(sort_keys=True, indent=2) sorts them, floats as Python's repr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/family.h"
#include "bert/hf_internal.h"
#include "verto/fileio.h"

typedef struct sbuf {
    char *data;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *s, const char *fmt, ...) {
    if (s->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->data ? s->data + s->len : NULL, s->data ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            s->failed = true;
            return;
        }
        if (s->data && s->len + (size_t)n < s->cap) {
            s->len += (size_t)n;
            return;
        }
        size_t cap = s->cap ? s->cap : 1024;
        while (cap <= s->len + (size_t)n) cap *= 2;
        char *p = realloc(s->data, cap);
        if (!p) {
            s->failed = true;
            return;
        }
        s->data = p;
        s->cap = cap;
    }
}

/* A JSON string literal (UTF-8 passed through, controls escaped). */
static void sb_string(sbuf *s, const char *str) {
    sb_printf(s, "\"");
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\') sb_printf(s, "\\%c", *p);
        else if (*p == '\n') sb_printf(s, "\\n");
        else if (*p == '\t') sb_printf(s, "\\t");
        else if (*p == '\r') sb_printf(s, "\\r");
        else if (*p < 0x20) sb_printf(s, "\\u%04x", *p);
        else sb_printf(s, "%c", *p);
    }
    sb_printf(s, "\"");
}

/* The shortest decimal that reads back as the same float (as Python's repr
 * of that number would be, for the value the user meant). */
static void sb_float(sbuf *s, float v) {
    char buf[48];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v) break;
    }
    /* Keep it a JSON float like Python's (0.0, not 0). */
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
    sb_printf(s, "%s", buf);
}

/* ---- the keys, collected and then written sorted ---- */

#define MAX_KEYS 32

typedef struct config_keys {
    const char *key[MAX_KEYS];
    sbuf value[MAX_KEYS]; /* JSON text */
    int n;
    bool failed;
} config_keys;

/* A new key; its value is written into the returned buffer. */
static sbuf *key(config_keys *k, const char *name) {
    static sbuf overflow;
    if (k->n == MAX_KEYS) {
        k->failed = true;
        overflow.failed = true;
        return &overflow;
    }
    k->key[k->n] = name;
    k->value[k->n] = (sbuf){0};
    return &k->value[k->n++];
}

static void put_int(config_keys *k, const char *name, long long v) { sb_printf(key(k, name), "%lld", v); }
static void put_float(config_keys *k, const char *name, float v) { sb_float(key(k, name), v); }
static void put_string(config_keys *k, const char *name, const char *v) { sb_string(key(k, name), v); }
static void put_raw(config_keys *k, const char *name, const char *json) { sb_printf(key(k, name), "%s", json); }

static void put_labels(config_keys *k, const vt_bert_config *c) {
    sbuf *s = key(k, "id2label");
    sb_printf(s, "{");
    for (int i = 0; i < c->num_labels; i++) {
        sb_printf(s, "%s\n    \"%d\": ", i ? "," : "", i);
        sb_string(s, c->id2label[i]);
    }
    sb_printf(s, "\n  }");
    /* label2id is id2label's inverse; with repeated names there is none (null, as transformers 5 writes). */
    bool unique = true;
    for (int i = 0; i < c->num_labels && unique; i++)
        for (int j = i + 1; j < c->num_labels && unique; j++) unique = strcmp(c->id2label[i], c->id2label[j]) != 0;
    s = key(k, "label2id");
    if (!unique) {
        sb_printf(s, "null");
        return;
    }
    sb_printf(s, "{");
    for (int i = 0; i < c->num_labels; i++) {
        sb_printf(s, "%s\n    ", i ? "," : "");
        sb_string(s, c->id2label[i]);
        sb_printf(s, ": %d", i);
    }
    sb_printf(s, "\n  }");
}

static const char *act_name(vt_activation a) {
    return a == VT_ACT_GELU_TANH ? "gelu_new" : a == VT_ACT_RELU ? "relu" : "gelu";
}

/* The keys of every family's config. */
static void put_common(config_keys *k, const vt_bert_config *c) {
    sbuf *s = key(k, "architectures");
    sb_printf(s, "[\n    ");
    sb_string(s, vt_bert_config_arch_name(c));
    sb_printf(s, "\n  ]");
    put_raw(k, "dtype", "\"float32\"");
    put_labels(k, c);
    put_float(k, "initializer_range", c->initializer_range);
    put_int(k, "max_position_embeddings", c->max_position_embeddings);
    put_string(k, "model_type", bert_family(c->family)->model_type);
    if (c->pad_token_id < 0) put_raw(k, "pad_token_id", "null");
    else put_int(k, "pad_token_id", c->pad_token_id);
    /* As transformers: null until a loss decides it (or the config says), then kept for any class. */
    const char *problem = vt_bert_problem_name(c->problem_type);
    if (problem) put_string(k, "problem_type", problem);
    else put_raw(k, "problem_type", "null");
    put_raw(k, "tie_word_embeddings", "true");
    put_int(k, "vocab_size", c->vocab_size);
}

/* BertConfig's (RobertaConfig's, XLMRobertaConfig's) own keys. */
static void put_bert(config_keys *k, const vt_bert_config *c) {
    put_float(k, "attention_probs_dropout_prob", c->attention_probs_dropout_prob);
    if (c->classifier_dropout < 0) put_raw(k, "classifier_dropout", "null");
    else put_float(k, "classifier_dropout", c->classifier_dropout);
    put_string(k, "hidden_act", act_name(c->hidden_act));
    put_float(k, "hidden_dropout_prob", c->hidden_dropout_prob);
    put_int(k, "hidden_size", c->hidden_size);
    put_int(k, "intermediate_size", c->intermediate_size);
    put_float(k, "layer_norm_eps", c->layer_norm_eps);
    put_int(k, "num_attention_heads", c->num_attention_heads);
    put_int(k, "num_hidden_layers", c->num_hidden_layers);
    put_int(k, "type_vocab_size", c->type_vocab_size);
}

/* DistilBertConfig's own keys. */
static void put_distilbert(config_keys *k, const vt_bert_config *c) {
    put_string(k, "activation", act_name(c->hidden_act));
    put_float(k, "attention_dropout", c->attention_probs_dropout_prob);
    put_int(k, "dim", c->hidden_size);
    put_float(k, "dropout", c->hidden_dropout_prob);
    put_int(k, "hidden_dim", c->intermediate_size);
    put_int(k, "n_heads", c->num_attention_heads);
    put_int(k, "n_layers", c->num_hidden_layers);
    put_float(k, "qa_dropout", c->qa_dropout);
    put_float(k, "seq_classif_dropout", c->seq_classif_dropout);
    put_raw(k, "sinusoidal_pos_embds", c->sinusoidal_pos_embds ? "true" : "false");
}

/* JSON object text of the keys in byte order (Python's sort of ASCII keys). */
static void write_sorted(config_keys *k, sbuf *out) {
    int order[MAX_KEYS];
    for (int i = 0; i < k->n; i++) order[i] = i;
    for (int i = 1; i < k->n; i++) /* insertion sort: a few dozen keys */
        for (int j = i; j > 0 && strcmp(k->key[order[j - 1]], k->key[order[j]]) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    sb_printf(out, "{");
    for (int i = 0; i < k->n; i++) {
        const sbuf *v = &k->value[order[i]];
        if (v->failed) out->failed = true;
        sb_printf(out, "%s\n  \"%s\": %.*s", i ? "," : "", k->key[order[i]], (int)v->len, v->data ? v->data : "");
    }
    sb_printf(out, "\n}\n");
}

vt_status vt_bert_config_write(const char *path, const vt_bert_config *c) { return bert_config_write_ex(path, c, NULL); }

vt_status bert_config_write_ex(const char *path, const vt_bert_config *c, const char *quantization_config) {
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_config_write: no path given");
    vt_status st = vt_bert_config_check(c, path);
    if (st != VT_OK) return st;
    config_keys k = {0};
    put_common(&k, c);
    if (c->family == VT_FAMILY_DISTILBERT) put_distilbert(&k, c);
    else put_bert(&k, c);
    if (quantization_config) put_raw(&k, "quantization_config", quantization_config);
    sbuf s = {0};
    write_sorted(&k, &s);
    for (int i = 0; i < k.n; i++) free(k.value[i].data);
    if (s.failed || k.failed) {
        free(s.data);
        return vt_error(VT_ERR_NOMEM, "%s: out of memory formatting the config", path);
    }
    st = vt_write_file_atomic(path, s.data, s.len);
    free(s.data);
    return st;
}
