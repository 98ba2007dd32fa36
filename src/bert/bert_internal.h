/* Internal layout of a vt_bert (see verto/bert.h). */
#ifndef VERTO_BERT_INTERNAL_H
#define VERTO_BERT_INTERNAL_H

#include "bert/family.h"
#include "blocks/blocks.h"
#include "verto/arena.h"
#include "verto/bert.h"
#include "verto/optim.h"
#include "verto/safetensors.h"

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
    float *word_emb, *pos_emb, *type_emb; /* (V, H), (P, H), (T, H); type_emb NULL without token types */
    float *emb_ln_g, *emb_ln_b;           /* (H) */
    bert_layer_params *layers;            /* (L) */
    float *pool_w, *pool_b;               /* (H, H), (H): the pooler, or the sequence classifier's dense layer
                                           * before its output (bert_pool_module); NULL where neither */
    float *mlm_w, *mlm_b, *mlm_ln_g, *mlm_ln_b, *mlm_bias; /* (H, H), (H), (H), (H), (V) */
    float *nsp_w, *nsp_b;                 /* (2, H), (2) */
    float *cls_w, *cls_b;                 /* (num_labels, H), (num_labels) */
} bert_weights;

/* Saved activations of one encoder layer for the backward, by block. With
 * cls_only (the last layer of a classifier), everything after the attention's
 * projections has B rows (position 0 of each sequence), not B*T. */
typedef struct bert_layer_acts {
    float *input;             /* (B*T, H) the layer's input: the previous layer's output */
    blk_attention_acts attn;  /* self-attention (x16 = the input in bf16) */
    blk_add_norm_acts norm1;  /* h1 = LN(input + dropout(attention)): norm1.out */
    blk_ffn_acts ffn;         /* the feed-forward network on h1 */
    blk_add_norm_acts norm2;  /* output = LN(h1 + dropout(ffn)): norm2.out, the next layer's input */
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
    struct bert_int8 *int8;       /* int8 only: the dense weights' codes and scales (int8.c) */
    bool params16_fresh;          /* params16 matches params: cleared whenever params are handed out */
    int frozen_layers;            /* embeddings + this many layers get no updates */

    /* Activations of the last forward, planned per (B, T, P masked positions). */
    vt_arena arena;
    int64_t plan_b, plan_rows, plan_probs, plan_p;
    /* The forward under way when it is packed (vt_bert_batch.offsets): its
     * offsets (B + 1) and B, for the blocks' context; NULL otherwise. */
    const int64_t *packed_offsets;
    int64_t packed_batch;
    bool planned;
    int32_t *pos_ids;             /* (B*T) the position of each token (RoBERTa's count from padding_idx + 1) */
    float *emb_sum;               /* (B*T, H) word + position + type */
    float *emb_mean, *emb_rstd;   /* (B*T) */
    float *emb_ln;                /* (B*T, H) */
    uint8_t *emb_drop;            /* (B*T, H) */
    float *emb_out;               /* (B*T, H) after dropout: layer 0's input */
    bert_layer_acts *acts;        /* (L); the last one's output is the final hidden state */
    float *branch;                /* (B*T, H) a sublayer's output before its dropout and residual */
    /* Gradients of the backward, (B*T, H) unless said: */
    float *d_hidden;              /* the residual stream's: a layer's output on entry, its input on exit */
    float *d_res;                 /* LayerNorm 2's input, then h1's (the residual plus the FFN) */
    float *d_res1;                /* LayerNorm 1's input (what the residual carries to the layer's input) */
    float *d_branch;              /* a sublayer's output before its dropout */
    float *d_ctx;                 /* the attention heads' outputs */
    float *d_qkv;                 /* (B*T, 3H) */
    float *d_inter, *d_inter_pre; /* (B*T, I) the FFN's hidden layer after and before its activation */
    float *pool_in, *pooled;      /* (B, H) first tokens; act(dense(pool_x)) (tanh; DistilBERT's classifier: ReLU) */
    float *pool_x;                /* (B, H) the dense layer's input: pool_in after RoBERTa's classifier dropout */
    uint8_t *pool_drop;           /* (B, H) that dropout's mask */
    float *d_pooled, *d_pool_pre; /* (B, H) the pooler's output, and its input to tanh */
    uint8_t *cls_drop;            /* (cls_rows, H) dropout before the classifier */
    float *cls_in;                /* (cls_rows, H) the classifier's input after dropout */
    float *logits, *d_logits;     /* (cls_rows, num_labels) */
    int64_t cls_rows;             /* B for sequence, B*T for token classification and question answering */
    float *qa_start, *qa_end;     /* (B, T) question answering: the logits split */
    float *d_qa_start, *d_qa_end; /* (B, T) their gradients */
    int32_t *qa_targets;          /* (2, B) the start and end positions clamped, ignored ones BERT_IGNORE_INDEX */
    int32_t *mlm_pos;             /* (P) flat positions b*T+t the MLM head runs at */
    int32_t *mlm_targets;         /* (P) their labels */
    int64_t *mlm_groups;          /* (B + 1) DP's per-example norms: sequence i's positions are mlm_groups[i] ..
                                     mlm_groups[i+1] - 1 of mlm_pos (padded batches: they come in row order) */
    float *mlm_in, *mlm_pre, *mlm_act, *mlm_ln; /* (P, H) */
    float *mlm_mean, *mlm_rstd;   /* (P) */
    float *d_mlm_ln, *d_mlm_act;  /* (P, H) the MLM transform's gradients after and before its LayerNorm */
    float *d_mlm_pre, *d_mlm_in;  /* (P, H) before the activation; the gathered hidden states' */
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
    bool input_grads_only;        /* vt_bert_input_gradient's backward: no weight gradients */
    double *ex_sq_norm;           /* (B) vt_bert_backward_examples' norms pass: += per example, no weight gradients */
    int64_t *ex_lengths;          /* (B) with it: each example's rows up to its last real token */
    blk_kept *kept;               /* DP book-keeping's store (bookkeeping.c), made at its first use */
    bool keeping;                 /* the backward running now fills kept */
    bool kept_ready;              /* kept holds the last forward's book-keeping backward */
    int64_t kept_emb;             /* kept's record of the embeddings' input gradient (B*T, H) */
    uint64_t last_seed;
    int64_t mlm_p;                /* positions the MLM head ran at in the last batch */
    float *saved_loss_grads;      /* the per-example passes' copy of the loss gradients, grown once, reused */
    size_t saved_cap;             /* its floats */
};

/* The batch's token rows: B*T, or a packed batch's total. */
static inline int64_t bert_token_rows(const vt_bert_batch *in) {
    return in->offsets ? in->offsets[in->batch] : in->batch * in->seq_len;
}

/* Sequence i's first token row: i*T, or a packed batch's offsets[i]. */
static inline int64_t bert_first_row(const vt_bert_batch *in, int64_t i) {
    return in->offsets ? in->offsets[i] : i * in->seq_len;
}

/* Layout of the parameters for a config (params.c). */
vt_status bert_build_params(vt_bert *b);
/* The module of pool_w/pool_b in c's family and architecture ("pooler.dense",
 * "classifier.dense", "pre_classifier"), NULL if it has none; whether that is
 * the base model's pooler (its output is vt_bert_outputs.pooled). */
const char *bert_pool_module(const vt_bert_config *c);
bool bert_pool_is_pooler(const vt_bert_config *c);
/* Reserves the activations for (B, T, P) (plan.c); bert_plan_rows for B
 * sequences of `rows` token rows in all whose attention probabilities take
 * `probs` elements per head (a packed batch: the sum of squared lengths). */
vt_status bert_plan(vt_bert *b, int64_t batch, int64_t seq_len, int64_t mlm_positions);
vt_status bert_plan_rows(vt_bert *b, int64_t batch, int64_t rows, int64_t probs, int64_t mlm_positions);

/* The step's context for the blocks (precision, training, bf16 scratch). */
blk_ctx bert_ctx(const vt_bert *b);
/* The dense layer W (out, in), bias, and their gradient slots dW, db (may be NULL). */
blk_linear bert_dense(const vt_bert *b, const float *W, const float *bias, float *dW, float *db, int64_t in,
                      int64_t out);
/* Brings params16 up to date with params (bf16 only). */
void bert_refresh_params16(vt_bert *b);

/* int8 precision (int8.c). A quantized dense weight W (out, in): */
typedef struct bert_int8_mat {
    const float *W; /* the f32 parameter it stands for */
    vt_int8_weights w;
} bert_int8_mat;
typedef struct bert_int8 bert_int8;
void bert_int8_free(bert_int8 *q);
/* b->int8 from the f32 parameters (replacing any). */
vt_status bert_int8_quantize(vt_bert *b);
/* The int8 weights of dense weight W when b runs in int8, else NULL. */
const vt_int8_weights *bert_int8_find(const vt_bert *b, const float *W);
/* Whether parameter p is (part of) a quantized weight; then its codes (out, in) and scales (out). */
bool bert_int8_param(const vt_bert *b, const vt_bert_param *p, const int8_t **codes, const float **scale);
/* Loading an int8 directory: I8 tensor t of file f (its scales "<t>_scale"
 * looked up in f) into parameter p's codes, and p's f32 values dequantized;
 * then bert_int8_finish_load checks every quantized weight came as I8 and
 * sets the model's precision to int8. Errors name the file and tensor. */
vt_status bert_int8_load_tensor(vt_bert *b, const vt_st_file *f, const char *file, const vt_st_tensor *t,
                                vt_bert_param *p);
vt_status bert_int8_finish_load(vt_bert *b, const char *file);
/* config.json's "quantization_config" value for an int8 directory. */
const char *bert_int8_config_json(void);

/* Dropout that is an identity (a copy) when rate is 0, and its backward (+=). */
void bert_dropout_forward(const float *x, float *y, uint8_t *mask, int64_t n, float rate, uint64_t seed);
void bert_dropout_backward(const float *dy, const uint8_t *mask, float *dx, int64_t n, float rate);

/* The embeddings (embeddings.c): emb_out = dropout(LayerNorm(word + position + type));
 * the backward takes d_hidden, the gradient of emb_out. */
vt_status bert_embeddings_forward(vt_bert *b, const vt_bert_batch *in, float drop, uint64_t seed);
vt_status bert_embeddings_backward(vt_bert *b, float drop);
/* The embedding tables' per-example squared gradient norms from d_sum (B*T, H),
 * the gradient of word + position + type (example_norms.c): only the rows each
 * example touches. */
void bert_embeddings_example_norms(const vt_bert *b, const float *d_sum);
/* The tables' gradients (+=) from d_sum (B*T, H), the gradient of word + position + type. */
void bert_embeddings_tables_backward(vt_bert *b, const float *d_sum);

/* Encoder layer l (encoder_layer.c): blocks composed post-LN; cls_only for
 * the last layer of a cls_only batch. The backward turns d_hidden from the
 * gradient of the layer's output into that of its input. */
vt_status bert_layer_forward(vt_bert *b, int64_t l, const vt_bert_batch *in, float drop, float attn_drop,
                             uint64_t seed, bool cls_only);
vt_status bert_layer_backward(vt_bert *b, int64_t l, float drop, float attn_drop, bool cls_only);

/* The pooler and the heads with their losses (heads.c); the backward leaves
 * the gradient of the final hidden state in d_hidden. */
vt_status bert_heads_forward(vt_bert *b, const vt_bert_batch *in, bool training, uint64_t seed,
                             const vt_bert_loss_norm *norm, vt_bert_outputs *out);
vt_status bert_heads_backward(vt_bert *b);
/* Labels that do not count (PyTorch's ignore_index). */
#define BERT_IGNORE_INDEX (-100)

/* Mean cross-entropy of logits (rows, classes), times `scale` (loss and
 * gradient; 1 for a batch's own mean); an error naming `what` on a label
 * outside [0, classes) other than BERT_IGNORE_INDEX. correct may be NULL. */
vt_status bert_xent(const float *logits, const int32_t *labels, int64_t rows, int64_t classes, const float *weights,
                    float *dlogits, double scale, const char *what, double *loss, int64_t *correct, int64_t *counted);
/* Counted labels (>= 0 and below classes) of labels (n), weighted when weights is given. */
double bert_label_weight(const int32_t *labels, int64_t n, int64_t classes, const float *weights);
/* The factor that turns a batch's own mean into its share of the whole's:
 * local / global denominator (1 without a norm, 0 for an empty whole). */
double bert_share(const vt_bert_loss_norm *norm, double local, double global);

/* The task heads' losses (task_loss.c). bert_task_check: the batch's task
 * labels fit the architecture (and a sequence classifier's problem_type);
 * *problem is the sequence classifier's loss (VT_PROBLEM_UNSET: none).
 * bert_task_norm: norm's task and task_end for the batch. bert_task_loss:
 * from the logits, the loss, the accuracy counter, question answering's
 * start and end logits, and d_logits; records a sequence classifier's
 * problem_type at its first loss. */
vt_status bert_task_check(const vt_bert *b, const vt_bert_batch *in, vt_bert_problem *problem);
bool bert_task_has_loss(const vt_bert_batch *in);
void bert_task_norm(const vt_bert *b, const vt_bert_batch *in, vt_bert_loss_norm *out);
vt_status bert_task_loss(vt_bert *b, const vt_bert_batch *in, const vt_bert_loss_norm *norm,
                         const vt_bert_loss_norm *local, vt_bert_outputs *out);

/* The positions the MLM head runs at: the labelled ones, else the selected ones, else all;
 * pos and targets (may be NULL: count only) receive them. */
int64_t bert_mlm_positions(const vt_bert_batch *in, int32_t *pos, int32_t *targets);

/* Seeds of the dropout sites, distinct per layer and site. */
enum { SITE_EMBEDDINGS = 1, SITE_CLASSIFIER = 2, SITE_CLASSIFIER_INPUT = 3, SITE_LAYER0 = 16 };
static inline uint64_t bert_site(int64_t layer, int which) { return (uint64_t)(SITE_LAYER0 + 4 * layer + which); }

#endif
