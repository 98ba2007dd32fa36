/* The blocks a Transformer layer is made of, each with its forward and its
 * backward in one file: a dense layer with its bf16 shadow (linear.c),
 * self-attention over a fused query/key/value projection (self_attention.c),
 * a residual add with dropout on the branch followed by LayerNorm
 * (add_norm.c), and the feed-forward network (ffn.c). BERT composes them
 * (src/bert/encoder_layer.c); a decoder-only model would compose the same.
 *
 * Blocks hold no state: the model hands them their parameters (and gradient
 * slots), the activations they save for the backward, and scratch. Rows are
 * tokens; a batch of B sequences of T tokens is (B*T, width). Backward
 * functions accumulate (+=) into parameter gradients, and write input
 * gradients as each says. */
#ifndef VT_BLOCKS_H
#define VT_BLOCKS_H

#include <stdbool.h>
#include <stdint.h>

#include "verto/bert.h"
#include "verto/int8.h"
#include "verto/kernels.h"

/* What every block needs to know of the step it runs in. */
typedef struct blk_ctx {
    vt_precision precision; /* of the matrix products */
    bool training;          /* one product over the batch (training, or asked for); otherwise each
                               sequence on its own (exact) */
    vt_bf16 *dy16;          /* bf16 only: scratch for a dense layer's output gradient (its largest) */
    /* DP-SGD's per-example gradient norms (example_norms.c), when sq_norm is
     * not NULL: the batch is `batch` sequences of seq_len rows, of which
     * example i's first lengths[i] can carry a gradient (the rest are padding
     * no real token attends to); each backward adds example i's squared
     * gradient norm of every parameter it learns (dW not NULL) to sq_norm[i]. */
    double *sq_norm;        /* (batch) */
    const int64_t *lengths; /* (batch) */
    int64_t batch, seq_len;
    bool norms_only;        /* the norms alone: no weight gradients (DP's first pass) */
    /* Book-keeping (with sq_norm and norms_only): what each weight gradient
     * needs per example is kept here instead, to be formed with every
     * example's clipping factor once all norms are known (bookkeeping.c). */
    struct blk_kept *kept;
    /* (batch + 1) or NULL: a packed batch, sequences of different lengths
     * with no padding, sequence i being token rows offsets[i] ..
     * offsets[i+1] - 1; a dense layer's seq_rows BLK_PACKED says its rows
     * are those (outside training each sequence's product on its own). With
     * sq_norm and kept too (DP-SGD's per-example norms over packed rows). */
    const int64_t *offsets;
    /* (batch + 1) or NULL: rows gathered from the examples' tokens, example
     * i's being rows groups[i] .. groups[i+1] - 1 (the MLM head's masked
     * positions); with sq_norm, they decide the examples' rows over any
     * other rule (a kept record remembers them). */
    const int64_t *groups;
} blk_ctx;

/* seq_rows of a packed batch's token rows (blk_ctx.offsets). */
#define BLK_PACKED (-1)

/* ---- DP-SGD book-keeping (Bu et al. 2023): one backward, then the clipped
 * gradients formed from what it kept ---------------------------------------
 * A dense layer keeps a copy of its output gradient dy (rows, out) and
 * points at its input x (the forward's activation, alive until the next
 * forward): afterwards dW += (c (.) dy)^T x and db += colsum(c (.) dy), each
 * row scaled by its example's factor. A LayerNorm keeps each example's
 * sum_t d_out_t (.) x-hat_t and sum_t d_out_t (batch, 2 width): afterwards
 * dgamma, dbeta += sum_i c_i of them. Other kept rows (the embeddings' input
 * gradient) are the model's to use (blk_kept_push, blk_kept_at). */
typedef enum blk_kept_kind { BLK_KEPT_DENSE, BLK_KEPT_NORM, BLK_KEPT_ROWS } blk_kept_kind;

typedef struct blk_kept_rec {
    blk_kept_kind kind;
    int64_t at, rows, width; /* the kept floats: data + at, (rows, width) */
    float *dW, *db;          /* dense: gradient slots (db may be NULL); norm: dgamma, dbeta */
    const float *x;          /* dense: its input (rows, in) */
    const vt_bf16 *x16;      /* dense, bf16 only: x in bf16 */
    int64_t in;              /* dense: x's width */
    const int64_t *groups;   /* the context's groups when it was kept (blk_ctx.groups) */
} blk_kept_rec;

typedef struct blk_kept {
    float *data;             /* (cap) every record's floats, one after another */
    int64_t used, cap;
    blk_kept_rec *recs;      /* (n) in the backward's order */
    int64_t n, rec_cap;
} blk_kept;

/* Forgets the records (keeps the memory for the next step); frees all. */
void blk_kept_clear(blk_kept *k);
void blk_kept_free(blk_kept *k);
/* A new record of rows x width floats (uninitialised), its rows grouped by
 * example as `groups` says (blk_ctx.groups; NULL: the usual rules); its
 * index in *rec. */
vt_status blk_kept_push(blk_kept *k, blk_kept_kind kind, int64_t rows, int64_t width, const int64_t *groups,
                        int64_t *rec);
static inline float *blk_kept_at(const blk_kept *k, int64_t rec) { return k->data + k->recs[rec].at; }
/* Every kept row scaled by its example's factor (its group, padded block,
 * packed rows or one row; a LayerNorm's rows are its examples), then each dense
 * layer's and LayerNorm's gradient added to its slots (+=). BLK_KEPT_ROWS
 * records are scaled only. */
vt_status blk_kept_apply(const blk_ctx *c, blk_kept *k, const double *factor);

/* ---- a low-rank adapter (LoRA) on a dense layer ---------------------------
 * y += scale * dropout(x) A^T B^T, as PEFT's lora.Linear computes it; always
 * f32 (the base product may run in bf16). */

typedef struct blk_lora {
    const float *A, *B; /* (r, in), (out, r) */
    float *dA, *dB;     /* their gradients (+=); NULL: not wanted */
    int64_t rank;
    float scale;        /* lora_alpha / r */
    float dropout;      /* on the branch's input; 0: none (the model gives 0 outside training) */
    uint64_t seed;
} blk_lora;

/* What the branch saves for the backward, and its scratch. */
typedef struct blk_lora_acts {
    float *xd;      /* (rows, in) dropout(x) (NULL without dropout) */
    uint8_t *mask;  /* (rows, in) its mask (NULL without dropout) */
    float *u;       /* (rows, r) scale * dropout(x) A^T */
    float *du;      /* (rows, r) scratch */
    float *dxd;     /* (rows, in) scratch (NULL without dropout) */
    int64_t rows;   /* the rows these buffers hold */
    bool dropped;   /* whether the last forward applied the dropout */
} blk_lora_acts;

/* ---- a dense layer: y (rows, out) = x (rows, in) W^T + b ------------------ */

typedef struct blk_linear {
    const float *W, *b;  /* (out, in) as Hugging Face stores it, (out) or NULL */
    const vt_bf16 *W16;  /* W in bf16 (bf16 only) */
    const vt_int8_weights *W8; /* W in int8 (int8 only; NULL: this layer stays f32) */
    float *dW, *db;      /* their gradients (+=); NULL: not wanted */
    int64_t in, out;
    const blk_lora *lora;      /* NULL: none */
    blk_lora_acts *lora_acts;  /* with lora */
} blk_linear;

/* The adapter's branch added to y (rows, out), and its backward: dA, dB +=,
 * dx (rows, in) += (dx NULL: not wanted). lora.c. */
vt_status blk_lora_forward(const blk_ctx *c, const blk_linear *l, const float *x, float *y, int64_t rows);
vt_status blk_lora_backward(const blk_ctx *c, const blk_linear *l, const float *x, const float *dy, float *dx,
                            int64_t rows);

/* The rows are sequences of seq_rows rows each (tokens, or 1 for a row per
 * sequence), or a packed batch's token rows (BLK_PACKED), or seq_rows is 0
 * when they belong to no one sequence: outside training each sequence is
 * computed on its own (vt_matmul_seqwise, vt_matmul_packed). x16
 * (rows, in) receives x in bf16 for the backward (bf16 only). */
vt_status blk_linear_forward(const blk_ctx *c, const blk_linear *l, const float *x, vt_bf16 *x16, float *y,
                             int64_t rows, int64_t seq_rows);
/* dW += dy^T x, db += column sums of dy, and dx (rows, in) = dy W + dx_beta dx
 * unless dx is NULL. */
vt_status blk_linear_backward(const blk_ctx *c, const blk_linear *l, const float *x, const vt_bf16 *x16,
                              const float *dy, float *dx, float dx_beta, int64_t rows);

/* Example i's rows of a tensor of `rows` rows, the first at *start: its
 * group (c->groups), one row when rows is the batch, its tokens in a packed
 * batch (c->offsets), else its padded block (rows / batch) up to its last
 * real token (c->lengths) rounded up to 16. */
int64_t blk_example_rows(const blk_ctx *c, int64_t i, int64_t rows, int64_t *start);
/* Example i's squared norm of dW and db (its rows: blk_example_rows), added
 * to c->sq_norm: a sequence's rows by the cheaper of the Gram ("ghost norm")
 * form and the materialised dy_i^T x_i; one row as |dy|^2 |x|^2. */
vt_status blk_linear_example_norms(const blk_ctx *c, const blk_linear *l, const float *x, const float *dy,
                                   int64_t rows);
/* The same for a LayerNorm's gamma and beta from the gradient of its output
 * d_out and its input x with the forward's mean and rstd (rows, width); with
 * c->kept, each example's two sums are kept for dgamma and dbeta. */
vt_status blk_layernorm_example_norms(const blk_ctx *c, const float *d_out, const float *x, const float *mean,
                                      const float *rstd, int64_t rows, int64_t width, float *dgamma, float *dbeta);

/* ---- residual add and LayerNorm: out = LN(x + dropout(branch)) ------------ */

typedef struct blk_add_norm {
    const float *gamma, *beta; /* (width) */
    float *dgamma, *dbeta;     /* (width) += */
    float eps, dropout;        /* dropout 0: none */
    uint64_t seed;             /* of the dropout mask */
} blk_add_norm;

/* What the forward saves. */
typedef struct blk_add_norm_acts {
    uint8_t *drop;      /* (rows, width) the dropout mask, or NULL without dropout */
    float *sum;         /* (rows, width) x + dropout(branch): LayerNorm's input */
    float *mean, *rstd; /* (rows) */
    float *out;         /* (rows, width) */
} blk_add_norm_acts;

/* branch (rows, width) is dropped out in place; row r of x is at x + r * x_step. */
void blk_add_norm_forward(const blk_add_norm *n, const float *x, int64_t x_step, float *branch,
                          const blk_add_norm_acts *a, int64_t rows, int64_t width);
/* From d_out, the gradient of out: d_sum (rows, width) = the gradient of x
 * (what the residual carries), d_branch (rows, width) = the gradient of the
 * branch before its dropout; both overwritten. */
void blk_add_norm_backward(const blk_add_norm *n, const blk_add_norm_acts *a, const float *d_out, float *d_sum,
                           float *d_branch, int64_t rows, int64_t width);
/* The same for a pre-LN stack (GPT-2), where the sum is also the residual
 * stream the next unit adds to: d_sum holds on entry the gradient the sum
 * receives from later (the next unit's residual input) and gets the
 * LayerNorm's added; d_branch is overwritten. */
void blk_add_norm_backward_residual(const blk_add_norm *n, const blk_add_norm_acts *a, const float *d_out,
                                    float *d_sum, float *d_branch, int64_t rows, int64_t width);
/* Its gamma's and beta's per-example norms when c asks for them (before the backward: d_out is read). */
vt_status blk_add_norm_example_norms(const blk_ctx *c, const blk_add_norm *n, const blk_add_norm_acts *a,
                                     const float *d_out, int64_t rows, int64_t width);

/* ---- the feed-forward network: y = act(x W1^T + b1) W2^T + b2 -------------- */

typedef struct blk_ffn {
    blk_linear up, down; /* (I, H) and (H, I) */
    vt_activation act;
} blk_ffn;

typedef struct blk_ffn_acts {
    vt_bf16 *x16, *inter16; /* bf16 only: (rows, H), (rows, I) */
    float *inter_pre, *inter; /* (rows, I) before and after the activation */
} blk_ffn_acts;

vt_status blk_ffn_forward(const blk_ctx *c, const blk_ffn *f, const float *x, const blk_ffn_acts *a, float *y,
                          int64_t rows, int64_t seq_rows);
/* dx (rows, H) += the gradient through the network of dy (rows, H); d_inter
 * and d_inter_pre (rows, I) are scratch. */
vt_status blk_ffn_backward(const blk_ctx *c, const blk_ffn *f, const float *x, const blk_ffn_acts *a, const float *dy,
                           float *d_inter, float *d_inter_pre, float *dx, int64_t rows);

/* ---- self-attention: y = attention(x Wqkv^T + bqkv) Wo^T + bo -------------- */

typedef struct blk_attention {
    blk_linear qkv, out; /* (3H, H): query, key and value weights stacked; (H, H) */
    int64_t heads;
    float dropout;       /* on the attention probabilities */
    uint64_t seed;
    bool causal;         /* a decoder's mask */
} blk_attention;

typedef struct blk_attention_acts {
    vt_bf16 *x16, *qkv16, *probs16, *ctx16; /* bf16 only */
    float *qkv;         /* (B*T, 3H) */
    float *probs;       /* (B, heads, T_q, T) */
    uint8_t *drop;      /* (B, heads, T_q, T) or NULL without dropout */
    float *ctx;         /* (B*T_q, H) the heads' outputs before the output projection */
} blk_attention_acts;

/* The shape of a call: B sequences of T tokens, keys masked by mask (B, T)
 * (NULL: none). queries_at_first: only the first token of each sequence asks
 * (T_q = 1; a classifier's last layer, all its pooler reads), y is then (B, H).
 * In a packed batch (blk_ctx.offsets) x is (offsets[B], H), each
 * sequence attends over its own tokens, T and mask are unused, and y is
 * (offsets[B], H) or with queries_at_first (B, H). */
typedef struct blk_attention_shape {
    int64_t batch, seq_len;
    const int32_t *mask;
    bool queries_at_first;
} blk_attention_shape;

vt_status blk_attention_forward(const blk_ctx *c, const blk_attention *at, const blk_attention_shape *s,
                                const float *x, const blk_attention_acts *a, float *y);
/* dx (B*T, H) += the gradient through the attention of dy (B*T_q, H);
 * d_ctx (B*T_q, H) and d_qkv (B*T, 3H) are scratch. */
vt_status blk_attention_backward(const blk_ctx *c, const blk_attention *at, const blk_attention_shape *s,
                                 const float *x, const blk_attention_acts *a, const float *dy, float *d_ctx,
                                 float *d_qkv, float *dx);

#endif
