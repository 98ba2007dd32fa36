/* LoRA on GPT-2: low-rank adapters on the Conv1D layers, trained with the
 * base frozen, read and written in PEFT's format.
 *
 * A targeted layer computes y = x W^T + b + (alpha / r) dropout(x) A^T B^T
 * with A (r, in) and B (out, r), as peft's LoraModel does for a
 * GPT2LMHeadModel (fan_in_fan_out: the Conv1D base is stored (in, out); A and
 * B are plain nn.Linear weights). Targets follow PEFT's suffix matching of
 * target_modules: "c_attn", "c_fc", "c_proj" (both attn.c_proj and
 * mlp.c_proj), or the qualified "attn.c_proj" / "mlp.c_proj".
 *
 * While an adapter is attached the base is frozen: vt_gpt2_backward computes
 * no weight gradient of the dense layers, the lm_head or the embeddings (the
 * small LayerNorm gradients still land in vt_gpt2_grads and are not used);
 * the adapter's gradients are in vt_gpt2_lora_grads.
 *
 * On disk (PEFT's save_pretrained): DIR/adapter_config.json (peft_type LORA,
 * task_type CAUSAL_LM, r, lora_alpha, lora_dropout, target_modules,
 * fan_in_fan_out true, bias "none", base_model_name_or_path, ...) and
 * DIR/adapter_model.safetensors with
 * "base_model.model.transformer.h.{i}.{attn|mlp}.{module}.lora_A.weight" (r, in)
 * and "...lora_B.weight" (out, r). */
#ifndef VERTO_GPT2_LORA_H
#define VERTO_GPT2_LORA_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>

#include "verto/error.h"
#include "verto/gpt2.h"
#include "verto/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Conv1D modules of a block, as bits of vt_gpt2_lora_config.targets. */
enum {
    VT_GPT2_LORA_C_ATTN = 1,      /* attn.c_attn (3H, H) */
    VT_GPT2_LORA_ATTN_C_PROJ = 2, /* attn.c_proj (H, H) */
    VT_GPT2_LORA_C_FC = 4,        /* mlp.c_fc (I, H) */
    VT_GPT2_LORA_MLP_C_PROJ = 8,  /* mlp.c_proj (H, I) */
};

typedef struct vt_gpt2_lora_config {
    int64_t rank;     /* r >= 1 */
    float alpha;      /* lora_alpha; the branch is scaled by alpha / r */
    float dropout;    /* lora_dropout in [0, 1), on the branch's input in training */
    unsigned targets; /* VT_GPT2_LORA_* bits, at least one */
} vt_gpt2_lora_config;

/* Parses a comma-separated target_modules list ("c_attn,c_proj,c_fc") into
 * target bits with PEFT's suffix matching; VT_ERR_INVALID_ARG naming an entry
 * that matches no GPT-2 Conv1D module. */
VT_API vt_status vt_gpt2_lora_parse_targets(const char *list, unsigned *targets);

/* Attaches a fresh adapter (replacing any): A as PEFT initialises it
 * (kaiming_uniform_(a=sqrt(5)): uniform in +-1/sqrt(in)) from `seed`, B zero,
 * so the model's outputs are unchanged. */
VT_API vt_status vt_gpt2_lora_add(vt_gpt2 *m, const vt_gpt2_lora_config *c, uint64_t seed);
/* Detaches the adapter (the base is then trainable again); no-op without one. */
VT_API void vt_gpt2_lora_remove(vt_gpt2 *m);
/* The attached adapter's config, or NULL. */
VT_API const vt_gpt2_lora_config *vt_gpt2_lora_get_config(const vt_gpt2 *m);
/* The adapter's flat parameters and gradients (n floats each), in the order of
 * vt_gpt2_lora_param_infos (PEFT's names without "base_model.model."); NULL
 * without an adapter. vt_gpt2_backward(accumulate=false) zeroes the gradients. */
VT_API float *vt_gpt2_lora_params(vt_gpt2 *m, int64_t *n);
VT_API float *vt_gpt2_lora_grads(vt_gpt2 *m, int64_t *n);
VT_API const vt_param_info *vt_gpt2_lora_param_infos(const vt_gpt2 *m, size_t *n);

/* Writes the adapter in PEFT's format into DIR (created), atomically per file;
 * base_model (may be NULL: null) goes to base_model_name_or_path. */
VT_API vt_status vt_gpt2_lora_save(const vt_gpt2 *m, const char *dir, const char *base_model);
/* Reads a PEFT LoRA adapter directory onto m (replacing any adapter). The
 * config must be peft_type LORA with an integer r >= 1, a list or string of
 * target_modules that name GPT-2 Conv1D modules, bias "none" and no
 * use_rslora / use_dora / layers_to_transform; every targeted layer's A (r,
 * in) and B (out, r) must be present with those shapes and nothing else may
 * be. Errors name the file and the key or tensor; m is unchanged on error. */
VT_API vt_status vt_gpt2_lora_load(vt_gpt2 *m, const char *dir);
/* Adds the adapter into the base weights (W += alpha / r * B A, the Conv1D's
 * (in, out) transposed as PEFT's merge does) and detaches it. */
VT_API vt_status vt_gpt2_lora_merge(vt_gpt2 *m);

#ifdef __cplusplus
}
#endif

#endif
