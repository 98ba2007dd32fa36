/* GPT-2: a decoder-only (causal) Transformer language model, as transformers'
 * GPT2LMHeadModel computes it, read from and written to Hugging Face
 * directories (config.json with model_type "gpt2" + model.safetensors).
 *
 *   h = dropout(wte[ids] + wpe[positions])                      (B*T, H)
 *   each of n_layer blocks (pre-LN):
 *     h = h + dropout(attn(ln_1(h)))    causal self-attention, fused c_attn
 *     h = h + dropout(mlp(ln_2(h)))     c_fc, gelu_new, c_proj
 *   logits = ln_f(h) wte^T                                      (B*T, V), lm_head tied to wte
 *
 * Parameters carry Hugging Face's GPT2LMHeadModel names without the
 * "transformer." prefix ("wte.weight", "h.0.attn.c_attn.weight", ...,
 * "ln_f.weight"), in one flat buffer (gradients in another). transformers'
 * Conv1D layers store their weight (in, out); verto holds every dense weight
 * (out, in), as the blocks' matrix products and per-sequence GEMM take it, so
 * c_attn, c_proj, c_fc and mlp.c_proj are transposed on load and save and
 * their vt_gpt2_param shape is (out, in), the file's transposed (`conv1d`).
 * The lm_head is wte itself: it is not stored (and one copy in a file is
 * accepted if it equals wte).
 *
 * Decoding: vt_gpt2_cache holds every layer's keys and values; prefill runs
 * the prompts, step appends one token per sequence. Each sequence of a batch
 * keeps its own length and its own positions 0, 1, ... (prompts are given
 * right-padded with their lengths; no left padding), so a sequence decodes
 * exactly as it would alone. */
#ifndef VERTO_GPT2_H
#define VERTO_GPT2_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/bert.h"
#include "verto/error.h"
#include "verto/kernels.h"
#include "verto/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GPT2Config's fields (the keys verto reads and writes; the summary_* keys of
 * the double-heads model are written with their defaults and otherwise ignored). */
typedef struct vt_gpt2_config {
    int64_t vocab_size, n_positions, n_embd, n_layer, n_head;
    int64_t n_inner;                 /* the MLP's width; 0: null in config.json, meaning 4 * n_embd */
    vt_activation activation;        /* activation_function: VT_ACT_GELU_TANH ("gelu_new"), VT_ACT_GELU, VT_ACT_RELU */
    float layer_norm_epsilon, resid_pdrop, embd_pdrop, attn_pdrop, initializer_range;
    int64_t bos_token_id, eos_token_id, pad_token_id; /* -1: null */
} vt_gpt2_config;

/* The MLP's width: n_inner, or 4 * n_embd when it is 0. */
VT_API int64_t vt_gpt2_inner(const vt_gpt2_config *c);
/* GPT2Config() (gpt2, 124M): vocab 50257, 1024 positions, 768 wide, 12 layers,
 * 12 heads, n_inner null, gelu_new, eps 1e-5, dropouts 0.1, bos = eos = 50256. */
VT_API void vt_gpt2_config_default(vt_gpt2_config *c);
/* Named sizes: "gpt2-tiny" L2/H128/A2 and "gpt2-mini" L4/H256/A4 with 512
 * positions, "gpt2-small" GPT-2's own L12/H768/A12 with 1024; vocab_size > 0
 * replaces the default (then bos and eos are its last id, as GPT-2's
 * <|endoftext|> is). VT_ERR_INVALID_ARG for another name. */
VT_API vt_status vt_gpt2_config_preset(vt_gpt2_config *c, const char *name, int64_t vocab_size);
/* Sizes positive, n_embd divisible by n_head, dropouts in [0, 1), token ids
 * within the vocabulary; errors name `label`. */
VT_API vt_status vt_gpt2_config_check(const vt_gpt2_config *c, const char *label);
/* config.json text with model_type "gpt2" (strict types and ranges; unknown
 * keys accepted; settings verto does not compute, such as
 * scale_attn_by_inverse_layer_idx true or tie_word_embeddings false, are
 * VT_ERR_UNSUPPORTED). Errors name `label` and the key. */
VT_API vt_status vt_gpt2_config_parse(const char *json, size_t len, const char *label, vt_gpt2_config *c);
VT_API vt_status vt_gpt2_config_read(const char *path, vt_gpt2_config *c);
/* config.json as GPT2Config.save_pretrained writes it (sorted keys), atomically. */
VT_API vt_status vt_gpt2_config_write(const char *path, const vt_gpt2_config *c);
/* Whether the config.json text names model_type "gpt2" (false for anything
 * else, unparsable text included): how front ends pick the family. */
VT_API bool vt_gpt2_is_config(const char *json, size_t len);

typedef struct vt_gpt2 vt_gpt2;

/* A model with transformers' initialisation: normal(0, initializer_range)
 * for embeddings and weights, c_proj weights normal(0, initializer_range /
 * sqrt(2 n_layer)), zero biases, LayerNorm 1 and 0. NULL on a bad config or
 * out of memory (vt_last_error says). */
VT_API vt_gpt2 *vt_gpt2_new(const vt_gpt2_config *c, uint64_t seed);
VT_API void vt_gpt2_free(vt_gpt2 *m);
VT_API const vt_gpt2_config *vt_gpt2_get_config(const vt_gpt2 *m);
/* Loads DIR/config.json + DIR/model.safetensors, saved from GPT2LMHeadModel
 * ("transformer." names) or GPT2Model (no prefix); F32/F16/BF16 tensors; the
 * attention's old "attn.bias"/"attn.masked_bias" buffers are skipped. A
 * missing, unknown or mis-shaped tensor is an error naming file and tensor. */
VT_API vt_gpt2 *vt_gpt2_load(const char *dir);
/* DIR/config.json and DIR/model.safetensors as GPT2LMHeadModel.save_pretrained
 * writes them (no lm_head.weight: it is tied), atomically. */
VT_API vt_status vt_gpt2_save(const vt_gpt2 *m, const char *dir);

/* ---- parameters (the named views of vt_bert's type) ---- */

typedef vt_bert_param vt_gpt2_param;
VT_API size_t vt_gpt2_param_count(const vt_gpt2 *m);
VT_API vt_gpt2_param *vt_gpt2_param_at(vt_gpt2 *m, size_t i);
VT_API vt_gpt2_param *vt_gpt2_param_find(vt_gpt2 *m, const char *name);
/* Whether parameter i is a Conv1D weight (held transposed from the file). */
VT_API bool vt_gpt2_param_is_conv1d(const vt_gpt2 *m, size_t i);
/* The flat buffers (n floats each): every parameter once, wte serving as lm_head. */
VT_API float *vt_gpt2_params(vt_gpt2 *m, int64_t *n);
VT_API float *vt_gpt2_grads(vt_gpt2 *m, int64_t *n);
/* Slices for the optimizer under the names above. */
VT_API const vt_param_info *vt_gpt2_param_infos(const vt_gpt2 *m, size_t *n);
/* The optimizer's no_decay patterns for those names (transformers' Trainer
 * decays all but biases and LayerNorms: "bias", "ln_"); returns their count. */
VT_API size_t vt_gpt2_no_decay(const char *const **patterns);
/* sum(p.numel() for p in model.parameters()) of GPT2LMHeadModel (tied: once). */
VT_API int64_t vt_gpt2_num_parameters(const vt_gpt2 *m);
/* Prints the Keras-style table of the model's parts and parameter counts. */
VT_API void vt_gpt2_summary(const vt_gpt2 *m, FILE *out);
/* What the dense layers' and attention's matrix products run in (as
 * vt_bert_set_precision: bf16 operands, f32 accumulation; the rest f32). */
VT_API vt_status vt_gpt2_set_precision(vt_gpt2 *m, vt_precision p);
VT_API vt_precision vt_gpt2_get_precision(const vt_gpt2 *m);

/* ---- training forward and backward ---- */

typedef struct vt_gpt2_batch {
    int64_t batch, seq_len;        /* B, T (T <= n_positions) */
    const int32_t *input_ids;      /* (B, T), right-padded */
    const int32_t *attention_mask; /* (B, T) 1 = token, 0 = padding after the tokens; NULL: all ones */
    /* (B, T) or NULL: the targets as transformers' labels= (usually the input
     * ids, -100 at padding); position t's logits predict labels[t + 1], and
     * the loss is the mean cross-entropy over the labels that are not -100. */
    const int32_t *labels;
    /* Outside training too, one product over the whole batch instead of each
     * sequence's rows on their own (see vt_bert_batch.one_product). */
    bool one_product;
} vt_gpt2_batch;

typedef struct vt_gpt2_outputs {
    const float *logits;      /* (B*T, V), valid until the next forward, train step or loss; NULL from those two */
    const float *hidden;      /* (B*T, H) ln_f's output */
    double loss;              /* NAN without labels; 0 when every label is -100 (transformers: NaN) */
    int64_t counted;          /* the labels the loss averaged */
} vt_gpt2_outputs;

/* The forward; training applies the dropouts (seeded by `seed`). Fails on ids
 * outside the vocabulary, T beyond n_positions, or a label outside the
 * vocabulary other than -100. */
VT_API vt_status vt_gpt2_forward(vt_gpt2 *m, const vt_gpt2_batch *in, bool training, uint64_t seed,
                                 vt_gpt2_outputs *out);
/* Gradients of the last forward's loss into the gradient buffer (+= when
 * accumulate, else overwritten); wte receives both its lookup's and the
 * lm_head's. VT_ERR_STATE without a forward with labels. */
VT_API vt_status vt_gpt2_backward(vt_gpt2 *m, bool accumulate);
/* A training step's forward (dropouts seeded by `seed`) and backward in one
 * call, for training loops that need the loss but not the logits: the tied
 * lm_head and the cross-entropy run over the B*T rows in chunks, each chunk's
 * gradient taken at once, so no (B*T, V) logits are held (GPT-2 small at
 * 8 x 1024 tokens: 1.6 GB each for the logits and their gradient). The loss,
 * `counted` and the gradients (+= when accumulate, else overwritten) are
 * those of vt_gpt2_forward(training) + vt_gpt2_backward, up to float
 * rounding; out->logits is NULL. The batch must have labels. On an error
 * after the forward began (a non-finite loss: VT_ERR_NUMERIC) the gradients
 * are partial. vt_gpt2_backward does not follow it. */
VT_API vt_status vt_gpt2_train_step(vt_gpt2 *m, const vt_gpt2_batch *in, uint64_t seed, bool accumulate,
                                    vt_gpt2_outputs *out);
/* The loss of a batch with labels outside training (no dropout), with the
 * head in chunks as vt_gpt2_train_step's and no logits kept (out->logits
 * NULL): evaluation's loss and perplexity without (B*T, V) buffers. The loss
 * and `counted` are vt_gpt2_forward's up to float rounding (the head's rows
 * are one product per chunk rather than each sequence's own). */
VT_API vt_status vt_gpt2_loss(vt_gpt2 *m, const vt_gpt2_batch *in, vt_gpt2_outputs *out);
/* Rows per chunk of vt_gpt2_train_step's and vt_gpt2_loss's head (0, the default: 1024).
 * VT_ERR_INVALID_ARG when negative. */
VT_API vt_status vt_gpt2_set_head_chunk(vt_gpt2 *m, int64_t rows);

/* ---- incremental decoding ---- */

typedef struct vt_gpt2_cache vt_gpt2_cache;

/* A key/value cache for `batch` sequences of up to max_len tokens (prompt and
 * generated, max_len <= n_positions): per layer K and V of (batch, n_head,
 * max_len, head_dim). Empty until a prefill. NULL on bad sizes or no memory. */
VT_API vt_gpt2_cache *vt_gpt2_cache_new(const vt_gpt2 *m, int64_t batch, int64_t max_len);
VT_API void vt_gpt2_cache_free(vt_gpt2_cache *c);
/* The tokens each sequence holds now (batch). */
VT_API const int64_t *vt_gpt2_cache_lengths(const vt_gpt2_cache *c);
/* Runs the prompts ids (batch, T), right-padded, sequence b's first
 * lengths[b] >= 1 tokens real, into an emptied cache, and writes each
 * sequence's next-token logits (batch, V): those at its last prompt token. */
VT_API vt_status vt_gpt2_prefill(vt_gpt2 *m, vt_gpt2_cache *c, const int32_t *ids, int64_t T, const int32_t *lengths,
                                 float *logits);
/* Appends tokens[b] to sequence b (at position lengths[b]) and writes the
 * logits (batch, V) that follow it. VT_ERR_INVALID_ARG when a sequence would
 * pass max_len or a token is outside the vocabulary (nothing changes then). */
VT_API vt_status vt_gpt2_step(vt_gpt2 *m, vt_gpt2_cache *c, const int32_t *tokens, float *logits);

/* The weights the steps (and the prefills' lm_head) read: VT_PRECISION_FP32,
 * the default (the model's own precision), or VT_PRECISION_BF16: a bf16 copy
 * of the parameters (2 bytes each, kept beside the f32 ones and refreshed
 * when they change), widened to f32 in registers, so a step at a few
 * sequences, which is bound by reading the weights, reads half the bytes.
 * Activations, attention and the prompts' pass through the blocks stay in the
 * model's precision. A model set to bf16 (vt_gpt2_set_precision) decodes in
 * bf16 either way. VT_ERR_INVALID_ARG for another precision, VT_ERR_NOMEM. */
VT_API vt_status vt_gpt2_set_decode_precision(vt_gpt2 *m, vt_precision p);
VT_API vt_precision vt_gpt2_get_decode_precision(const vt_gpt2 *m);

/* Continuous batching (sequences joining and leaving between steps):
 * prefill_slot runs one prompt ids (n tokens) into sequence `slot` alone,
 * replacing what it held, and writes its next-token logits (V);
 * step_slots appends tokens[r] to sequence slots[r] for the n distinct
 * sequences listed (the others keep still) and writes their logits (n, V)
 * in that order; reset_slot empties a sequence. Errors as vt_gpt2_step. */
VT_API vt_status vt_gpt2_prefill_slot(vt_gpt2 *m, vt_gpt2_cache *c, int64_t slot, const int32_t *ids, int64_t n,
                                      float *logits);
VT_API vt_status vt_gpt2_step_slots(vt_gpt2 *m, vt_gpt2_cache *c, const int64_t *slots, int64_t n,
                                    const int32_t *tokens, float *logits);
VT_API vt_status vt_gpt2_cache_reset_slot(vt_gpt2_cache *c, int64_t slot);
/* The sequences and tokens per sequence the cache was made for. */
VT_API int64_t vt_gpt2_cache_batch(const vt_gpt2_cache *c);
VT_API int64_t vt_gpt2_cache_max_len(const vt_gpt2_cache *c);

/* Greedy decoding (generate(do_sample=False)): from the right-padded prompts
 * ids (batch, T) with their lengths, appends the argmax token (the first on
 * ties) up to max_new times to each sequence; a sequence that emits eos_id
 * (-1: none) stops there. out (batch, max_new) receives the new tokens, -1
 * after a sequence stopped; n_new (batch, may be NULL) how many each got. */
VT_API vt_status vt_gpt2_greedy(vt_gpt2 *m, const int32_t *ids, int64_t batch, int64_t T, const int32_t *lengths,
                                int64_t max_new, int32_t eos_id, int32_t *out, int64_t *n_new);

#ifdef __cplusplus
}
#endif

#endif
