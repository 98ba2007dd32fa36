/* Internal layout of a vt_gpt2 (see verto/gpt2.h). */
#ifndef VERTO_GPT2_INTERNAL_H
#define VERTO_GPT2_INTERNAL_H

#include "blocks/blocks.h"
#include "verto/arena.h"
#include "verto/gpt2.h"
#include "verto/gpt2_lora.h"

/* Bounds that keep every size product far inside int64. */
#define GPT2_MAX_VOCAB (1ll << 24)
#define GPT2_MAX_WIDTH (1ll << 16)
#define GPT2_MAX_LAYERS 1024ll
#define GPT2_MAX_INNER (1ll << 20)
#define GPT2_MAX_POSITIONS (1ll << 20)
#define GPT2_IGNORE_INDEX (-100)

/* One block's parameters; dense weights (out, in). */
typedef struct gpt2_layer_params {
    float *ln1_g, *ln1_b;     /* (H) */
    float *qkv_w, *qkv_b;     /* (3H, H), (3H): attn.c_attn, query, key, value rows */
    float *proj_w, *proj_b;   /* (H, H), (H): attn.c_proj */
    float *ln2_g, *ln2_b;     /* (H) */
    float *fc_w, *fc_b;       /* (I, H), (I): mlp.c_fc */
    float *out_w, *out_b;     /* (H, I), (H): mlp.c_proj */
} gpt2_layer_params;

typedef struct gpt2_weights {
    float *wte, *wpe;          /* (V, H), (P, H); wte is also the lm_head */
    gpt2_layer_params *layers; /* (L) */
    float *lnf_g, *lnf_b;      /* (H) */
} gpt2_weights;

/* The pre-LN stack as 2L + 1 residual units (blocks' add & norm): unit 0 is
 * LN(0 + dropout(embeddings)) with ln_1 of block 0; unit 2l + 1 adds block l's
 * attention and normalises with its ln_2; unit 2l + 2 adds its MLP and
 * normalises with the next block's ln_1, or ln_f after the last. A unit's
 * `sum` is the residual stream, its `out` the next sublayer's input. */
typedef struct gpt2_layer_acts {
    blk_attention_acts attn; /* on units[2l].out */
    blk_ffn_acts ffn;        /* on units[2l + 1].out */
} gpt2_layer_acts;

/* An attached LoRA adapter (lora.c): the block's four Conv1D modules in the
 * order of VT_GPT2_LORA_* bits; slot l * 4 + k, A NULL when not targeted. */
#define GPT2_LORA_SLOTS 4
typedef struct gpt2_lora {
    vt_gpt2_lora_config cfg;
    float *params, *grads;      /* (n_floats) each: every slot's A then B */
    int64_t n_floats;
    blk_lora *slots;            /* (L * 4) */
    blk_lora_acts *acts;        /* (L * 4), planned with the model's activations */
    vt_param_info *infos;       /* (2 * targeted slots) */
    char (*names)[64];
    size_t n_infos;
    uint64_t seed;              /* of the current step's dropout masks */
    bool training;              /* whether the current step drops out the branches' inputs */
} gpt2_lora;

struct vt_gpt2 {
    vt_gpt2_config cfg;
    float *params, *grads;      /* (n_floats) each */
    int64_t n_floats;
    vt_gpt2_param *table;       /* (n_params) named views */
    bool *conv1d;               /* (n_params) stored transposed in the file */
    vt_param_info *infos;       /* (n_params) */
    size_t n_params;
    gpt2_weights w, g;          /* views into params and grads */
    vt_precision precision;
    vt_bf16 *params16;          /* (n_floats) bf16 copy (bf16, or bf16 decoding) */
    bool decode_bf16;           /* the KV-cache steps read params16 (vt_gpt2_set_decode_precision) */
    bool params16_fresh;

    /* Activations of the last forward, planned per (B, T). */
    vt_arena arena;
    int64_t plan_b, plan_t;
    bool planned;
    bool plan_logits;           /* the plan holds the whole (B*T, V) logits and d_logits */
    int64_t plan_chunk;         /* head_chunk when planned */
    int64_t head_chunk;         /* vt_gpt2_set_head_chunk's rows; 0: automatic */
    int32_t *pos_ids;           /* (B*T) */
    float *zeros;               /* (H) unit 0's residual input */
    float *emb;                 /* (B*T, H) wte + wpe, before dropout */
    blk_add_norm_acts *units;   /* (2L + 1) */
    gpt2_layer_acts *acts;      /* (L) */
    float *branch;              /* (B*T, H) a sublayer's output */
    int32_t *targets;           /* (B*T) shifted labels */
    float *logits, *d_logits;   /* (B*T, V); with plan_logits false, logits is the chunked head's
                                   (rows, V) and d_logits NULL */
    vt_bf16 *hidden16;          /* (B*T, H) ln_f's output in bf16 (bf16 only) */
    vt_bf16 *dy16;              /* bf16 scratch of the largest dense output gradient */
    float *d_out, *d_sum, *d_branch; /* (B*T, H) a unit's output's, its residual's, its branch's gradients */
    float *d_ctx, *d_qkv, *d_inter, *d_inter_pre; /* (B*T, H), (B*T, 3H), (B*T, I) x2 */

    gpt2_lora *lora;            /* NULL: none; with one the base is frozen */

    vt_gpt2_batch last;
    bool last_training, last_has_loss;
    uint64_t last_seed;
};

/* Parameters (params.c). gpt2_alloc: a model whose parameters are not
 * initialised (the loader fills every one). */
vt_gpt2 *gpt2_alloc(const vt_gpt2_config *c);
vt_status gpt2_build_params(vt_gpt2 *m);
void gpt2_refresh_params16(vt_gpt2 *m);
/* The blocks' context for the step (precision, training, bf16 scratch). */
blk_ctx gpt2_ctx(const vt_gpt2 *m, bool one_product);
blk_linear gpt2_dense(const vt_gpt2 *m, const float *W, const float *bias, float *dW, float *db, int64_t in,
                      int64_t out);
/* Block l's attention and MLP; the 2L + 1 residual units (see above). */
blk_attention gpt2_attention(const vt_gpt2 *m, int64_t l, float drop, uint64_t seed);
blk_ffn gpt2_mlp(const vt_gpt2 *m, int64_t l);
blk_add_norm gpt2_unit(const vt_gpt2 *m, int64_t k, float drop, uint64_t seed);
/* The adapter's module slot k (0..3) of block l on a dense layer, if targeted. */
void gpt2_lora_attach(const vt_gpt2 *m, int64_t l, int k, blk_linear *d);
/* Reserves the adapter's activations for B*T rows (model.c's planning). */
void gpt2_lora_reserve(vt_gpt2 *m, int64_t rows);
void gpt2_lora_free(gpt2_lora *a);
/* Attaches an adapter with config c and parameters params (NULL: zeros), in
 * the layout of vt_gpt2_lora_param_infos. */
vt_status gpt2_lora_install(vt_gpt2 *m, const vt_gpt2_lora_config *c, const float *params);
/* adapter_config.json text (lora_io.c): errors name `path` and the key. */
vt_status gpt2_lora_parse_config(const char *text, size_t len, const char *path, vt_gpt2_lora_config *c);
/* The file's module name of slot k ("attn.c_attn", ...) and its (in, out). */
const char *gpt2_lora_module(int k);
void gpt2_lora_dims(const vt_gpt2 *m, int k, int64_t *in, int64_t *out);
/* The activations for (B, T) (model.c), with or without the whole logits. */
vt_status gpt2_plan(vt_gpt2 *m, int64_t batch, int64_t seq_len, bool with_logits);
vt_status gpt2_check_batch(const vt_gpt2 *m, const vt_gpt2_batch *in);
/* The embeddings, blocks and ln_f over the batch (hidden state: units[2L].out). */
vt_status gpt2_body_forward(vt_gpt2 *m, const vt_gpt2_batch *in, bool training, uint64_t seed);
/* From d_out, the hidden state's gradient, back through ln_f, the blocks and
 * the embeddings of the last forward (m->last). */
vt_status gpt2_body_backward(vt_gpt2 *m);
/* The tied lm_head: logits = hidden wte^T, no bias. */
blk_linear gpt2_lm_head(const vt_gpt2 *m);
/* targets (B*T) = labels shifted by one, -100 after each sequence's last position. */
void gpt2_shift_labels(vt_gpt2 *m, const vt_gpt2_batch *in);
void gpt2_zero_grads(vt_gpt2 *m);
/* The rows per chunk of the training head (train_step.c) for B*T rows. */
int64_t gpt2_head_chunk_rows(const vt_gpt2 *m, int64_t rows);

/* The forward without the lm_head, outside training (model.c): the hidden
 * state is units[2L].out, each layer's keys and values in acts[l].attn.qkv. */
vt_status gpt2_body(vt_gpt2 *m, const vt_gpt2_batch *in);

/* Config internals (config.c): parse without the final check. */
vt_status gpt2_config_parse_ex(const char *json, size_t len, const char *label, vt_gpt2_config *c);

#endif
