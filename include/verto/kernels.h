/* Compute kernels: the numeric heart under the layers.
 *
 * Conventions (every kernel):
 * - float32, contiguous row-major; shapes are given in the comment beside each
 *   pointer, e.g. `x (rows, cols)`.
 * - Backward kernels ACCUMULATE (+=) into every gradient they write (input and
 *   parameter gradients alike); callers zero gradients before a backward pass.
 *   This is what lets a tensor feed several consumers.
 * - Kernels allocate only what they keep per thread and grow to the largest
 *   shape seen (the GEMM's primitive cache and scratchpads, the attention's
 *   score blocks), so steady-state calls do not allocate; that can fail, and
 *   every kernel that allocates returns a vt_status. They are parallelised
 *   with OpenMP inside, and any number of threads may call them at once.
 * - Each has an AVX2 and an AVX-512 build; the one for this CPU is chosen at
 *   run time (verto/platform.h).
 * - Kernels trust their sizes; validation happens when layers are built. The
 *   one exception is data-dependent: token ids out of range in an embedding. */
#ifndef VERTO_KERNELS_H
#define VERTO_KERNELS_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- matrix multiplication (oneDNN) ---------------------------------- */

/* C (M, N) = op(A) @ op(B) + bias + beta * C, where op(A) is (M, K) and
 * op(B) is (K, N). A is stored (M, K), or (K, M) when trans_a; B is stored
 * (K, N), or (N, K) when trans_b. bias (N) may be NULL. beta is 0 (overwrite)
 * or 1 (accumulate). oneDNN primitives are created once per distinct
 * (M, N, K, trans_a, trans_b, bias?, beta) and cached; any number of
 * threads may call it at once (each brings its own oneDNN scratchpad).
 * Returns VT_OK, or an error if oneDNN refuses (the message says why). */
VT_API vt_status vt_matmul(const float *A, const float *B, const float *bias, float *C,
                           int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, float beta);

/* bfloat16: the upper half of an IEEE float (sign, 8-bit exponent, 7-bit
 * mantissa): float's range at about 3 significant digits. */
typedef uint16_t vt_bf16;

/* y (n) = x (n) rounded to the nearest bf16, ties to even; infinities stay
 * infinite and NaNs stay NaN. */
VT_API void vt_f32_to_bf16(const float *x, vt_bf16 *y, int64_t n);
/* The float a bf16 stands for (exact). */
static inline float vt_bf16_to_f32(vt_bf16 v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Products of a few rows, for decoding one token at a time: y (M, N) =
 * x (M, K) W^T + bias (+ y when accumulate), W (N, K) row-major (a dense
 * layer as Hugging Face stores it), bias (N) or NULL. Made for M <= ~4, where
 * the product is bound by reading W once from memory (any M is correct; each
 * pair of rows reads W again, from cache when it fits). vt_matvec_bf16 takes W in
 * bf16 (half the bytes) and widens it to f32: products and sums are f32. A
 * row's result depends only on its x row and W, not on M or the threads. */
VT_API void vt_matvec(const float *x, const float *W, const float *bias, float *y, int64_t M, int64_t N, int64_t K,
                      bool accumulate);
VT_API void vt_matvec_bf16(const float *x, const vt_bf16 *W, const float *bias, float *y, int64_t M, int64_t N,
                           int64_t K, bool accumulate);

/* vt_matmul with A and B in bf16, products accumulated in f32 and C, bias and
 * beta as vt_matmul's. On a CPU where oneDNN has no bf16 matmul (no AVX-512,
 * or the ISA capped), verto widens the operands to f32, which is exact, and
 * multiplies those: the same products and f32 sums, at f32's speed
 * (vt_bf16_native() in verto/platform.h says which). */
VT_API vt_status vt_matmul_bf16(const vt_bf16 *A, const vt_bf16 *B, const float *bias, float *C,
                                int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, float beta);

/* A dense layer over a batch of sequences, computed so that every sequence
 * gets the same bits as it would alone: C (n_seq * seq_rows, N) = A (n_seq *
 * seq_rows, K) W^T + bias, W (N, K) as Hugging Face stores a dense weight,
 * bias (N) or NULL. Each sequence's seq_rows rows are cut into blocks of at
 * most 64 rows, sized by seq_rows alone, and every block is one product run
 * on one thread (the blocks of the batch run in parallel), so neither the
 * other sequences nor the number of threads change a sequence's result.
 * (One product over all rows lets the GEMM choose kernels and splits by the
 * total row count, and on some CPUs that changes the last bits.) */
VT_API vt_status vt_matmul_seqwise(const float *A, const float *W, const float *bias, float *C,
                                   int64_t n_seq, int64_t seq_rows, int64_t N, int64_t K);
/* The same with A and W in bf16, accumulated in f32. */
VT_API vt_status vt_matmul_seqwise_bf16(const vt_bf16 *A, const vt_bf16 *W, const float *bias, float *C,
                                        int64_t n_seq, int64_t seq_rows, int64_t N, int64_t K);

/* vt_matmul_seqwise over packed sequences of different lengths: sequence i
 * is rows offsets[i] .. offsets[i+1] - 1 of A and C (offsets (n_seq + 1),
 * offsets[0] = 0, never decreasing), cut into blocks by its own length as
 * vt_matmul_seqwise cuts a sequence of that length, so each sequence's rows
 * get the bits they get alone (n_seq 1). VT_ERR_SHAPE for decreasing offsets. */
VT_API vt_status vt_matmul_packed(const float *A, const float *W, const float *bias, float *C, int64_t n_seq,
                                  const int64_t *offsets, int64_t N, int64_t K);
VT_API vt_status vt_matmul_packed_bf16(const vt_bf16 *A, const vt_bf16 *W, const float *bias, float *C,
                                       int64_t n_seq, const int64_t *offsets, int64_t N, int64_t K);

/* Strides (in floats) of a batch of matrices: element (i, j) of matrix b is
 * at base + b * batch + i * row + j * col. */
typedef struct vt_strides {
    int64_t batch, row, col;
} vt_strides;

/* For b in [0, batch): C_b (M, N) = alpha * A_b (M, K) B_b (K, N) + beta * C_b,
 * each operand laid out by its strides (a transpose is a swap of row and col
 * strides). beta is 0 or 1. Primitives are cached like vt_matmul's. This is
 * what attention uses for its per-head products. */
VT_API vt_status vt_matmul_strided(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                                   vt_strides sa, const float *B, vt_strides sb, float beta, float *C, vt_strides sc);
/* The same with A and B in bf16 (strides in elements), accumulated in f32. */
VT_API vt_status vt_matmul_strided_bf16(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                                        const vt_bf16 *A, vt_strides sa, const vt_bf16 *B, vt_strides sb, float beta,
                                        float *C, vt_strides sc);

/* db (N) += sum over rows of dy (M, N): the bias gradient. */
VT_API void vt_sum_rows(const float *dy, float *db, int64_t M, int64_t N);

/* ---- element-wise activations ------------------------------------------ */

typedef enum vt_activation {
    VT_ACT_LINEAR = 0,
    VT_ACT_RELU,
    VT_ACT_GELU,      /* x * Phi(x), the exact erf form */
    VT_ACT_GELU_TANH, /* the tanh approximation ("gelu_new", "gelu_pytorch_tanh") */
    VT_ACT_TANH,
    VT_ACT_SIGMOID,
    VT_ACT_SOFTMAX,   /* over the last dimension (cols) */
} vt_activation;

/* Keras/HF name of an activation ("linear", "relu", "gelu", "gelu_tanh", ...). */
VT_API const char *vt_activation_name(vt_activation act);
/* Parses a name (also HF's "gelu_new", "gelu_pytorch_tanh", "gelu_fast" and
 * "identity"); false if unknown. */
VT_API bool vt_activation_parse(const char *name, vt_activation *out);

/* y (rows, cols) = act(x (rows, cols)); y may equal x (in place). */
VT_API void vt_activation_forward(vt_activation act, const float *x, float *y, int64_t rows, int64_t cols);

/* dx (rows, cols) += dy * act'(x), given the input x and the output y of the
 * forward pass (each kernel reads whichever it needs; both must be valid). */
VT_API void vt_activation_backward(vt_activation act, const float *x, const float *y, const float *dy,
                                   float *dx, int64_t rows, int64_t cols);

/* ---- layer normalisation ------------------------------------------------ */

/* y (rows, cols) = (x - mean) * rstd * gamma (cols) + beta (cols);
 * saves mean (rows) and rstd (rows) = 1 / sqrt(var + eps) for the backward. */
VT_API void vt_layernorm_forward(const float *x, const float *gamma, const float *beta, float *y,
                                 float *mean, float *rstd, int64_t rows, int64_t cols, float eps);

/* dx (rows, cols) +=, dgamma (cols) +=, dbeta (cols) +=; any of the three may
 * be NULL (not computed). */
VT_API void vt_layernorm_backward(const float *dy, const float *x, const float *gamma, const float *mean,
                                  const float *rstd, float *dx, float *dgamma, float *dbeta,
                                  int64_t rows, int64_t cols);

/* ---- embedding ----------------------------------------------------------- */

/* out (n, dim) = table (vocab, dim)[ids (n)]. Fails with VT_ERR_INVALID_ARG,
 * naming the position and id, if an id is outside [0, vocab). */
VT_API vt_status vt_embedding_forward(const int32_t *ids, const float *table, float *out,
                                      int64_t n, int64_t vocab, int64_t dim);

/* dtable (vocab, dim) += scatter of dout (n, dim) by ids (n) (ids already checked). */
VT_API void vt_embedding_backward(const int32_t *ids, const float *dout, float *dtable, int64_t n, int64_t dim);
/* The same, rows whose id is padding_idx left out (nn.Embedding's
 * padding_idx: that row gets no gradient from the lookup); -1: none. */
VT_API void vt_embedding_backward_padded(const int32_t *ids, int64_t padding_idx, const float *dout, float *dtable,
                                         int64_t n, int64_t dim);

/* ---- dropout --------------------------------------------------------------- */

/* y (n) = x * keep / (1 - rate), keep drawn from vt_hash_uniform(seed, i) >= rate,
 * recorded in mask (n) as 0/1. rate in [0, 1). y may equal x. */
VT_API void vt_dropout_forward(const float *x, float *y, uint8_t *mask, int64_t n, float rate, uint64_t seed);

/* dx (n) += dy * mask / (1 - rate). */
VT_API void vt_dropout_backward(const float *dy, const uint8_t *mask, float *dx, int64_t n, float rate);

/* ---- fused multi-head attention -------------------------------------------- */

typedef enum vt_mask_kind {
    VT_MASK_NONE = 0,
    VT_MASK_KEYS,  /* mask (batch, kv_len): 1 = attend to that key, 0 = padding */
    VT_MASK_FULL,  /* mask (batch, q_len, kv_len): 1 = query may attend to key */
} vt_mask_kind;

typedef struct vt_attention_dims {
    int64_t batch, q_len, kv_len, heads, key_dim, value_dim;
    /* Distance in floats between consecutive tokens of q, k, v, out and their
     * gradients; lets q, k, v live side by side in one fused projection. Head h
     * of token t is at base + (b * len + t) * stride + h * dim. */
    int64_t q_stride, k_stride, v_stride, out_stride;
    /* (batch + 1) or NULL. Packed sequences of different lengths, no padding:
     * sequence b is tokens offsets[b] .. offsets[b+1] - 1 of q, k, v (token t
     * at base + t * stride + h * dim), all of them its keys (kv_len unused);
     * q_len 1: only its first token asks, and its output is row b of out;
     * any other q_len: every token asks, out laid out as q. probs holds the
     * pairs' (tq, tk) blocks one after another in (b, h) order. No mask. */
    const int64_t *offsets;
} vt_attention_dims;

typedef struct vt_attention_opts {
    float scale;         /* usually 1 / sqrt(key_dim) */
    bool causal;         /* query t attends only to keys <= t (needs q_len == kv_len) */
    vt_mask_kind mask_kind;
    const int32_t *mask; /* per mask_kind, NULL for VT_MASK_NONE */
    float dropout_rate;  /* on the attention probabilities; 0 for none / inference */
    uint64_t dropout_seed;
    const struct vt_attention_bf16 *bf16; /* NULL: the products in f32 */
} vt_attention_opts;

/* bf16 operands for the attention's four kinds of matrix products (QK^T,
 * P V and their gradients), accumulated in f32; the softmax, the dropout
 * and every gradient stay f32. q, k, v: the inputs rounded to bf16, in the
 * same layout and strides; probs: (batch, heads, q_len, kv_len), written by
 * the forward with dropout(P) in bf16 and read by the backward. */
typedef struct vt_attention_bf16 {
    const vt_bf16 *q, *k, *v;
    vt_bf16 *probs;
} vt_attention_bf16;

/* For every (b, h): P = softmax(scale * Q K^T + mask) (q_len, kv_len), then
 * out = dropout(P) V. A query whose keys are all masked gets P = 0 (out = 0).
 * q (batch, q_len, heads, key_dim), k (batch, kv_len, heads, key_dim),
 * v (batch, kv_len, heads, value_dim), out (batch, q_len, heads, value_dim);
 * probs (batch, heads, q_len, kv_len) keeps P (before dropout) and
 * drop_mask (batch, heads, q_len, kv_len) the dropout mask (NULL if rate 0).
 * Fails (out of memory for its scratch, or a matrix product refused) with
 * the error set; out is then undefined. */
VT_API vt_status vt_attention_forward(const vt_attention_dims *d, const vt_attention_opts *o, const float *q,
                                      const float *k, const float *v, float *probs, uint8_t *drop_mask, float *out);

/* dq +=, dk +=, dv += (same layouts and strides as q, k, v), from dout and
 * the probs / drop_mask saved by the forward. Fails as the forward does. */
VT_API vt_status vt_attention_backward(const vt_attention_dims *d, const vt_attention_opts *o, const float *q,
                                       const float *k, const float *v, const float *probs, const uint8_t *drop_mask,
                                       const float *dout, float *dq, float *dk, float *dv);

/* ---- losses -----------------------------------------------------------------
 * Each returns the mean loss over the rows that count and, when the gradient
 * pointer is non-NULL, writes (overwrites) d_input = grad_scale * d(mean loss)/d_input. */

/* Sparse categorical cross-entropy from logits (n, classes) and labels (n):
 * *loss (may be NULL) the mean over counted rows; a label < 0 is ignored (not
 * counted). class_weights (classes) may be NULL; with weights, the mean is
 * weighted as PyTorch's CrossEntropyLoss does. *counted (may be NULL) gets the
 * number of counted rows, *correct (may be NULL) how many of them have argmax
 * == label. A label >= classes is VT_ERR_INVALID_ARG naming the row (nothing
 * written). If no row counts (or the counted rows' class weights sum to 0) the
 * loss is 0 and the gradient zero, where PyTorch would give NaN. dlogits may
 * be logits itself: the gradient then replaces the logits. */
VT_API vt_status vt_softmax_xent(const float *logits, const int32_t *labels, int64_t n, int64_t classes,
                                 const float *class_weights, float *dlogits, float grad_scale, double *loss,
                                 int64_t *counted, int64_t *correct);

/* Binary cross-entropy, targets (n) in [0, 1]. from_logits: x are logits
 * (stable log-sigmoid form); otherwise x are probabilities, clipped to
 * [1e-7, 1 - 1e-7] as Keras does. */
VT_API double vt_binary_xent(const float *x, const float *targets, int64_t n, bool from_logits,
                             float *dx, float grad_scale);

/* Mean squared error over n values. */
VT_API double vt_mse(const float *pred, const float *targets, int64_t n, float *dpred, float grad_scale);

#ifdef __cplusplus
}
#endif
#endif
