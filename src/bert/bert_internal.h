/* Internal layout of a vt_bert (see verto/bert.h). */
#ifndef VERTO_BERT_INTERNAL_H
#define VERTO_BERT_INTERNAL_H

#include "verto/arena.h"
#include "verto/bert.h"
#include "verto/optim.h"

/* Pointers into the flat buffers for one encoder layer. Query, key and value
 * weights are adjacent, so together they form one (3H, H) matrix, and so are
 * their biases (3H): the projection is a single matmul. */
typedef struct bert_layer_params {
    float *qkv_w, *qkv_b;         /* (3H, H), (3H) */
    float *attn_out_w, *attn_out_b; /* (H, H), (H) */
    float *ln1_g, *ln1_b;         /* (H) attention.output.LayerNorm */
    float *inter_w, *inter_b;     /* (I, H), (I) */
    float *out_w, *out_b;         /* (H, I), (H) */
    float *ln2_g, *ln2_b;         /* (H) output.LayerNorm */
} bert_layer_params;

typedef struct bert_weights {
    float *word_emb, *pos_emb, *type_emb; /* (V, H), (P, H), (T, H) */
    float *emb_ln_g, *emb_ln_b;           /* (H) */
    bert_layer_params *layers;            /* (L) */
    float *pool_w, *pool_b;               /* (H, H), (H); NULL for token classification */
    float *mlm_w, *mlm_b, *mlm_ln_g, *mlm_ln_b, *mlm_bias; /* (H, H), (H), (H), (H), (V) */
    float *nsp_w, *nsp_b;                 /* (2, H), (2) */
    float *cls_w, *cls_b;                 /* (num_labels, H), (num_labels) */
} bert_weights;

/* Saved activations of one encoder layer for the backward. */
typedef struct bert_layer_acts {
    float *input;        /* (B*T, H) the layer's input */
    vt_bf16 *input16, *ctx16, *h1_16, *inter16; /* bf16 copies of the dense layers' inputs (bf16 only) */
    vt_bf16 *qkv16;      /* (B*T, 3H) and (B, A, T, T) dropout(probs): the attention's bf16 operands */
    vt_bf16 *probs16;
    float *qkv;          /* (B*T, 3H) */
    float *probs;        /* (B, A, T, T) */
    uint8_t *attn_drop;  /* (B, A, T, T) or NULL */
    float *ctx;          /* (B*T, H) attention output before its projection */
    uint8_t *drop1;      /* (B*T, H) dropout after the attention projection */
    float *res1;         /* (B*T, H) input + dropout(attn_out): LayerNorm 1's input */
    float *ln1_mean, *ln1_rstd; /* (B*T) */
    float *h1;           /* (B*T, H) LayerNorm 1's output */
    float *inter_pre;    /* (B*T, I) before the activation */
    float *inter;        /* (B*T, I) after it */
    uint8_t *drop2;      /* (B*T, H) */
    float *res2;         /* (B*T, H) h1 + dropout(ffn_out): LayerNorm 2's input */
    float *ln2_mean, *ln2_rstd; /* (B*T) */
    float *output;       /* (B*T, H) LayerNorm 2's output: the next layer's input */
} bert_layer_acts;

struct vt_bert {
    vt_bert_config cfg;
    float *params, *grads;        /* (n_floats) each */
    int64_t n_floats;
    vt_bert_param *table;         /* (n_params) named views */
    vt_param_info *infos;         /* (n_params) for the optimizer */
    size_t n_params;
    bert_weights w, g;            /* views into params and grads */
    vt_precision precision;       /* of the dense layers' matrix products */
    vt_bf16 *params16;            /* (n_floats) bf16 copy of params (bf16 only) */
    bool params16_fresh;          /* params16 matches params: cleared whenever params are handed out */
    int frozen_layers;            /* embeddings + this many layers get no updates */

    /* Activations of the last forward, planned per (B, T, P masked positions). */
    vt_arena arena;
    int64_t plan_b, plan_t, plan_p;
    bool planned;
    float *emb_sum;               /* (B*T, H) word + position + type */
    float *emb_mean, *emb_rstd;   /* (B*T) */
    float *emb_ln;                /* (B*T, H) */
    uint8_t *emb_drop;            /* (B*T, H) */
    float *emb_out;               /* (B*T, H) after dropout: layer 0's input */
    bert_layer_acts *acts;        /* (L); the last one's output is the final hidden state */
    float *tmp;                   /* (B*T, H) scratch for projections before dropout */
    float *dA, *dB, *dC, *dD;     /* (B*T, H) gradient scratch */
    float *dI1, *dI2;             /* (B*T, I) */
    float *dQKV;                  /* (B*T, 3H) */
    float *pool_in, *pooled;      /* (B, H) first tokens; tanh(dense(first tokens)) */
    float *d_pool_a, *d_pool_b;   /* (B, H) */
    uint8_t *cls_drop;            /* (cls_rows, H) dropout before the classifier */
    float *cls_in;                /* (cls_rows, H) the classifier's input after dropout */
    float *logits, *d_logits;     /* (cls_rows, num_labels) */
    int64_t cls_rows;             /* B for sequence, B*T for token classification */
    int32_t *mlm_pos;             /* (P) flat positions b*T+t the MLM head runs at */
    int32_t *mlm_targets;         /* (P) their labels */
    float *mlm_in, *mlm_pre, *mlm_act, *mlm_ln; /* (P, H) */
    float *mlm_mean, *mlm_rstd;   /* (P) */
    float *mlm_da, *mlm_db;       /* (P, H) gradient scratch */
    float *mlm_logits, *d_mlm_logits; /* (P, V) */
    float *nsp_logits, *d_nsp;    /* (B, 2) */
    /* bf16 only: the heads' dense inputs and the output-gradient scratch. */
    vt_bf16 *mlm_in16, *mlm_ln16; /* (P, H) */
    vt_bf16 *pool_in16, *pooled16; /* (B, H) */
    vt_bf16 *cls_in16;            /* (cls_rows, H) */
    vt_bf16 *dy16;                /* (largest dense output) */

    /* The last forward, for the backward. */
    vt_bert_batch last;
    bool last_training, last_has_loss, last_cls_only;
    uint64_t last_seed;
    int64_t mlm_p;                /* positions the MLM head ran at in the last batch */
};

/* Layout of the parameters for a config (params.c). */
vt_status bert_build_params(vt_bert *b);
/* Reserves the activations for (B, T, P) (plan.c). */
vt_status bert_plan(vt_bert *b, int64_t batch, int64_t seq_len, int64_t mlm_positions);

/* Dropout that is an identity (a copy) when rate is 0, and its backward. */
void bert_dropout_forward(const float *x, float *y, uint8_t *mask, int64_t n, float rate, uint64_t seed);
void bert_dropout_backward(const float *dy, const uint8_t *mask, float *dx, int64_t n, float rate);
/* A dense layer (linear.c): y (rows, out) = x (rows, in) W^T + bias, W (out, in)
 * as Hugging Face stores it. x16 (rows, in) receives x in bf16 (bf16 only).
 * The rows are sequences of seq_rows rows each (the tokens, or 1 for a row per
 * sequence), or seq_rows is 0 when they belong to no one sequence (the MLM
 * head's positions): outside training each sequence's rows are computed on
 * their own (vt_matmul_seqwise), so its outputs do not depend on the batch.
 * Training (b->last_training) runs one product over all rows. */
vt_status bert_linear_forward(vt_bert *b, const float *x, vt_bf16 *x16, const float *W, const float *bias, float *y,
                              int64_t rows, int64_t seq_rows, int64_t in, int64_t out);
/* Its backward: dW (out, in) += dy^T x, db (out) += column sums of dy (each
 * skipped when NULL), and dx (rows, in) = dy W + dx_beta * dx unless dx is NULL. */
vt_status bert_linear_backward(vt_bert *b, const float *x, const vt_bf16 *x16, const float *dy, const float *W,
                               float *dW, float *db, float *dx, float dx_beta, int64_t rows, int64_t in, int64_t out);
/* The attention of layer l over a batch: dimensions and options (forward.c). */
void bert_attention_setup(const vt_bert *b, const vt_bert_batch *in, float attn_drop, uint64_t seed, int64_t layer,
                          vt_attention_dims *d, vt_attention_opts *o);
/* Narrows d to one query per sequence, its position 0 (cls_only's last layer). */
void bert_attention_cls_only(const vt_bert_batch *in, int64_t H, vt_attention_dims *d);
/* Brings params16 up to date with params (bf16 only). */
void bert_refresh_params16(vt_bert *b);
/* The attention's bf16 operands of layer l (its opts->bf16), or NULL in fp32. */
const vt_attention_bf16 *bert_attention_bf16(const vt_bert *b, int64_t l, vt_attention_bf16 *storage);

/* Seeds of the dropout sites, distinct per layer and site. */
enum { SITE_EMBEDDINGS = 1, SITE_CLASSIFIER = 2, SITE_LAYER0 = 16 };
static inline uint64_t bert_site(int64_t layer, int which) { return (uint64_t)(SITE_LAYER0 + 4 * layer + which); }

#endif
